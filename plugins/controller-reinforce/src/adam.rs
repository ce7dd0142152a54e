//! Adam on host-side parameters, as Keras 2 implements it (with its `decay` and `clipnorm`), so
//! that the optimizer's whole state is two plain vectors per parameter and a step counter that
//! round-trip through `save_state`.

use crate::policy::HostParam;

/// Adam's first-moment decay.
const BETA1: f64 = 0.9;
/// Adam's second-moment decay.
const BETA2: f64 = 0.999;
/// Keras' default epsilon.
const EPSILON: f64 = 1e-7;

/// Adam's state: moments per parameter tensor and the number of steps taken.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Adam {
    /// Steps taken (Keras' `iterations`).
    pub step: u64,
    /// First moments, one vector per parameter tensor.
    pub m: Vec<Vec<f32>>,
    /// Second moments, one vector per parameter tensor.
    pub v: Vec<Vec<f32>>,
}

/// The hyperparameters of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AdamSettings {
    /// Initial learning rate.
    pub learning_rate: f64,
    /// `lr_t = learning_rate / (1 + decay * step)`.
    pub decay: f64,
    /// Per-tensor gradient norm limit (0 = none).
    pub clip_norm: f64,
}

impl AdamSettings {
    /// The decayed learning rate at `step`.
    pub fn rate_at(&self, step: u64) -> f64 {
        self.learning_rate / (1.0 + self.decay * step as f64)
    }
}

impl Adam {
    /// Zero moments for `params`.
    pub fn new(params: &[HostParam]) -> Self {
        let zeros = || params.iter().map(|p| vec![0.0f32; p.data.len()]).collect();
        Self { step: 0, m: zeros(), v: zeros() }
    }

    /// One step: clips each gradient tensor to `clip_norm`, then updates the moments and the
    /// parameters (bias-corrected rate, as Keras). Parameters without a gradient are left alone,
    /// moments included. Returns the largest gradient norm before clipping.
    pub fn step(&mut self, s: &AdamSettings, params: &mut [HostParam], grads: &[Option<Vec<f32>>]) -> f64 {
        let t = self.step + 1;
        let lr = s.rate_at(self.step);
        let lr_t = lr * (1.0 - BETA2.powf(t as f64)).sqrt() / (1.0 - BETA1.powf(t as f64));
        let mut max_norm = 0.0f64;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let Some(g) = g else { continue };
            let norm = g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
            max_norm = max_norm.max(norm);
            let scale = if s.clip_norm > 0.0 && norm > s.clip_norm { s.clip_norm / norm } else { 1.0 };
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for (i, w) in p.data.iter_mut().enumerate() {
                let gi = f64::from(g[i]) * scale;
                let mi = BETA1 * f64::from(m[i]) + (1.0 - BETA1) * gi;
                let vi = BETA2 * f64::from(v[i]) + (1.0 - BETA2) * gi * gi;
                m[i] = mi as f32;
                v[i] = vi as f32;
                *w = (f64::from(*w) - lr_t * mi / (vi.sqrt() + EPSILON)) as f32;
            }
        }
        self.step = t;
        max_norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam minimizes a quadratic; the first step moves each coordinate by about the learning
    /// rate; clipping caps a tensor's gradient norm; no gradient, no change.
    #[test]
    fn steps_like_keras_adam() {
        let s = AdamSettings { learning_rate: 0.1, decay: 0.0, clip_norm: 0.0 };
        let mut p =
            vec![HostParam { shape: [1, 2], data: vec![3.0, -2.0] }, HostParam { shape: [1, 1], data: vec![5.0] }];
        let mut a = Adam::new(&p);
        let g = |p: &[HostParam]| vec![Some(p[0].data.iter().map(|x| 2.0 * x).collect::<Vec<f32>>()), None];
        let grads = g(&p);
        a.step(&s, &mut p, &grads);
        assert!((p[0].data[0] - 2.9).abs() < 1e-5 && (p[0].data[1] + 1.9).abs() < 1e-5, "{p:?}");
        for _ in 0..500 {
            let grads = g(&p);
            a.step(&s, &mut p, &grads);
        }
        assert!(p[0].data.iter().all(|x| x.abs() < 0.05), "{p:?}");
        assert_eq!(p[1].data, vec![5.0]);
        assert_eq!(a.m[1], vec![0.0]);
        assert_eq!(a.step, 501);

        let clipped = AdamSettings { clip_norm: 1.0, ..s };
        let mut q = vec![HostParam { shape: [1, 2], data: vec![0.0, 0.0] }];
        let mut b = Adam::new(&q);
        assert_eq!(b.step(&clipped, &mut q, &[Some(vec![30.0, 40.0])]), 50.0);
        // m = 0.1 * g * (1 / 50): (0.06, 0.08).
        assert!((b.m[0][0] - 0.06).abs() < 1e-6 && (b.m[0][1] - 0.08).abs() < 1e-6, "{:?}", b.m);
        assert!((AdamSettings { decay: 0.1, ..s }.rate_at(10) - 0.05).abs() < 1e-12);
    }
}
