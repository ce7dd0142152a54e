//! [`ClosedFormLearner`]: an MLP's gradients in closed form, on the plain backend, with no
//! autodiff graph (`[trainer] gradients = "closed-form"`, the default).
//!
//! The forward pass keeps what the backward pass needs (each dense layer's input, each
//! activation's output, each dropout mask); the backward pass is the chain rule written out for
//! the layers a search builds:
//!
//! - loss: softmax cross-entropy `dL/dz = (softmax(z) - y) / b`; sigmoid binary cross-entropy
//!   `dL/dz = (sigmoid(z) - y) / b` (both the mean over the batch, as [`Plan::loss`]); with class
//!   weights, each row's `dL/dz` times its weight `w` (one-hot targets sum to 1 per row); a
//!   linear output (regression) `dL/dz = 2 (z - y) / b` for the squared error, `clamp(z - y,
//!   -1, 1) / b` for Huber;
//! - dense `a = f(x W + b)`: `delta = g * f'(a)`, `dW = xᵀ delta`, `db = Σ_rows delta`,
//!   `dx = delta Wᵀ` (not computed for the first layer);
//! - activations from their output `a`: sigmoid `a (1 - a)`, tanh `1 - a²`, relu `[a > 0]`,
//!   elu `min(a + 1, 1)` (= `exp(h)` for `h <= 0`, 1 above: the derivative of
//!   [`crate::model::activate`]'s `relu(h) + exp(min(h, 0)) - 1`);
//! - dropout: `g * mask` (the mask already holds `1 / keep`).
//!
//! Adam and SGD (with momentum) are Burn's formulas (`burn::optim`), written on the parameter
//! tensors with the same scalar factors, so this path and [`crate::learner::AutodiffLearner`]
//! differ by float rounding only. Biases are kept as `[1, out]` so the whole step stays in rank-2
//! tensors (`x W + b` broadcasts) and no reshape is needed on the hot path.

use burn::tensor::activation::{log_softmax, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use mlpnas_core::codec::Tensors;
use mlpnas_core::seed::SeedRng;
use mlpnas_core::{Activation, Architecture, HostTensor, LayerWeights, OutputKind};

use crate::config::BurnTrainerConfig;
use crate::learner::{ADAM_EPSILON, Learner};
use crate::model::{Plan, RegressionLoss, Step, activate, dropout_mask, host, initial_weights};
use mlpnas_core::Optimizer;

/// The optimizer state of one parameter tensor on the device ([`Update::Device`]): Adam's first
/// and second moments, or SGD's velocity alone (momentum only).
struct DeviceState {
    first: Tensor<2>,
    second: Option<Tensor<2>>,
}

/// One trainable tensor (a kernel `[in, out]` or a bias `[1, out]`) and its optimizer state.
struct Parameter {
    value: Tensor<2>,
    /// [`Update::Device`]: the optimizer state; `None` before the first step (and for plain SGD).
    state: Option<DeviceState>,
    /// [`Update::Host`]: Adam's first then second moments (`2 n` values), or SGD's velocity (`n`);
    /// empty before the first step.
    host: Vec<f32>,
}

/// Where the optimizer's update runs.
///
/// On the CPU backends a step of Adam as tensor operations is ~13 passes over each parameter
/// tensor (one per op, each allocating its result); on the large nets of the workload that was
/// ~40% of a step (BENCHMARKS.md). [`Update::Host`] runs it as one fused loop instead.
/// On a GPU (`tch-cuda:N`) the parameters stay on the device: [`Update::Device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    Device,
    Host,
}

impl Update {
    /// The update for `backend`: on the host wherever tensors live in host memory.
    pub(crate) fn for_backend(backend: mlpnas_backend::Backend) -> Self {
        match backend {
            mlpnas_backend::Backend::TchCuda(_) => Update::Device,
            _ => Update::Host,
        }
    }
}

/// What the forward pass of one step keeps for the backward pass, one entry per plan step.
enum Saved {
    /// Input of dense layer `i` and the activation's output.
    Dense { input: Tensor<2>, output: Tensor<2> },
    /// The dropout mask, `None` when nothing was dropped.
    Dropout(Option<Tensor<2>>),
    /// Input of the output layer.
    Logits { input: Tensor<2> },
}

/// Optimizer settings of the closed-form path.
#[derive(Debug, Clone, Copy)]
enum Optim {
    Adam { beta_1: f32, beta_2: f32, epsilon: f32 },
    Sgd { momentum: Option<f64> },
}

/// The factor decoupled weight decay multiplies a parameter by before a step at learning rate
/// `lr` (`crate::learner::Decayed`), `None` without decay.
fn decay_factor(weight_decay: f64, lr: f64) -> Option<f64> {
    (weight_decay > 0.0).then_some(1.0 - lr * weight_decay)
}

/// The closed-form gradient path (module docs).
pub(crate) struct ClosedFormLearner {
    plan: Plan,
    /// Kernel then bias of each dense layer, in layer order: `params[2 i]`, `params[2 i + 1]`.
    params: Vec<Parameter>,
    optim: Optim,
    /// Decoupled weight decay (`[trainer] weight_decay` or the candidate's).
    weight_decay: f64,
    /// Steps taken (Adam's bias correction).
    time: i32,
    device: Device,
    /// Where the optimizer update runs.
    pub(crate) where_: Update,
}

impl ClosedFormLearner {
    /// A learner for `plan` on the plain `device` from initial weights `init`
    /// ([`initial_weights`]: the same draws as the autodiff path).
    pub fn new(
        cfg: &BurnTrainerConfig,
        plan: Plan,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        rng: &mut SeedRng,
        device: &Device,
    ) -> Self {
        let params = initial_weights(arch, init, rng)
            .into_iter()
            .zip(arch.dense_shapes())
            .flat_map(|(w, (inp, out, _))| {
                [
                    Tensor::<2>::from_data(TensorData::new(w.kernel.data, [inp, out]), device),
                    Tensor::<2>::from_data(TensorData::new(w.bias.data, [1, out]), device),
                ]
            })
            .map(|value| Parameter { value, state: None, host: Vec::new() })
            .collect();
        let optim = match cfg.optimizer {
            Optimizer::Adam => Optim::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: ADAM_EPSILON },
            Optimizer::Sgd => Optim::Sgd { momentum: (cfg.momentum > 0.0).then_some(cfg.momentum) },
        };
        Self {
            plan,
            params,
            optim,
            weight_decay: cfg.weight_decay,
            time: 0,
            device: device.clone(),
            where_: Update::for_backend(cfg.backend),
        }
    }

    /// Writes the parameters (`NNNN.value`, in `params` order), their optimizer state
    /// (`NNNN.state`, in [`Update::Host`]'s layout: Adam's first then second moments, or SGD's
    /// velocity; absent before the first step) and the steps taken (`time`) into `into`, for a
    /// trial continued by another process ([`Self::restore`]).
    pub(crate) fn write_state(&self, into: &mut Tensors) -> Result<(), String> {
        for (i, p) in self.params.iter().enumerate() {
            into.tensors.insert(format!("{i:04}.value"), host(p.value.clone())?);
            let state = match &p.state {
                Some(DeviceState { first, second }) => {
                    let mut v = host(first.clone())?.data;
                    if let Some(second) = second {
                        v.extend(host(second.clone())?.data);
                    }
                    v
                }
                None => p.host.clone(),
            };
            if !state.is_empty() {
                into.tensors.insert(format!("{i:04}.state"), HostTensor { shape: vec![state.len()], data: state });
            }
        }
        into.metadata.insert("time".into(), self.time.to_string());
        Ok(())
    }

    /// The learner [`Self::write_state`] wrote into `saved`, for `plan` with `cfg`'s optimizer, on the
    /// plain `device` (where the state lives follows the backend, as [`Self::new`]).
    pub(crate) fn restore(
        cfg: &BurnTrainerConfig,
        plan: Plan,
        arch: &Architecture,
        saved: &mut Tensors,
        device: &Device,
    ) -> Result<Self, String> {
        let fresh = Self::new(cfg, plan, arch, &[], &mut mlpnas_core::seed::rng(0), device);
        let time: i32 = saved.meta("time").map_err(|e| e.to_string())?.parse().map_err(|e| format!("time: {e}"))?;
        let mut params = Vec::with_capacity(fresh.params.len());
        for (i, p) in fresh.params.iter().enumerate() {
            let value = saved.take(&format!("{i:04}.value")).map_err(|e| e.to_string())?;
            let dims = p.value.dims();
            if value.shape != dims {
                return Err(format!("parameter {i} is {:?}, the architecture's is {dims:?}", value.shape));
            }
            let state = saved.tensors.remove(&format!("{i:04}.state")).map(|t| t.data).unwrap_or_default();
            let n = dims[0] * dims[1];
            let expected = match fresh.optim {
                Optim::Adam { .. } => 2 * n,
                Optim::Sgd { momentum: Some(_) } => n,
                Optim::Sgd { momentum: None } => 0,
            };
            if !state.is_empty() && state.len() != expected {
                return Err(format!("parameter {i} has {} optimizer values, expected {expected}", state.len()));
            }
            let value = Tensor::<2>::from_data(TensorData::new(value.data, dims), device);
            let p = match (fresh.where_, state.is_empty()) {
                (Update::Host, _) | (Update::Device, true) => Parameter { value, state: None, host: state },
                (Update::Device, false) => {
                    let tensor = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), dims), device);
                    let (first, second) = state.split_at(n);
                    let second = (!second.is_empty()).then(|| tensor(second));
                    Parameter { value, state: Some(DeviceState { first: tensor(first), second }), host: Vec::new() }
                }
            };
            params.push(p);
        }
        if let Some(extra) = saved.tensors.keys().find(|k| k.ends_with(".value")) {
            return Err(format!("{extra} has no parameter in the architecture"));
        }
        Ok(Self { params, time, ..fresh })
    }

    fn dense(&self, i: usize, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.params[2 * i].value.clone()) + self.params[2 * i + 1].value.clone()
    }

    /// Forward pass of a training step: the logits and what the backward pass needs.
    fn forward_saving(&self, mut x: Tensor<2>, masks: &mut SeedRng) -> (Tensor<2>, Vec<Saved>) {
        let mut saved = Vec::with_capacity(self.plan.steps.len());
        for step in &self.plan.steps {
            x = match *step {
                Step::Dense(i, act) => {
                    let output = activate(self.dense(i, x.clone()), act);
                    saved.push(Saved::Dense { input: x, output: output.clone() });
                    output
                }
                Step::Dropout(rate) => {
                    let mask = dropout_mask(rate, &x, masks);
                    let out = match &mask {
                        Some(m) => x * m.clone(),
                        None => x,
                    };
                    saved.push(Saved::Dropout(mask));
                    out
                }
                Step::Logits(i) => {
                    saved.push(Saved::Logits { input: x.clone() });
                    self.dense(i, x)
                }
            };
        }
        (x, saved)
    }

    /// The batch's mean loss and `dL/dz` from the logits `z`, targets `y` and class weights
    /// `w` of the rows (`[b, 1]`, if any).
    fn loss_and_delta(&self, z: Tensor<2>, y: Tensor<2>, w: Option<Tensor<2>>) -> (Tensor<1>, Tensor<2>) {
        let rows = z.dims()[0] as f64;
        match (self.plan.output, w) {
            (OutputKind::Softmax, None) => {
                let ls = log_softmax(z, 1);
                let loss = (ls.clone() * y.clone()).sum().mul_scalar(-1.0 / rows);
                let delta = (ls.exp() - y).mul_scalar(1.0 / rows);
                (loss, delta)
            }
            (OutputKind::Softmax, Some(w)) => {
                let ls = log_softmax(z, 1);
                let loss = ((ls.clone() * y.clone()).sum_dim(1) * w.clone()).sum().mul_scalar(-1.0 / rows);
                let delta = ((ls.exp() - y) * w).mul_scalar(1.0 / rows);
                (loss, delta)
            }
            (OutputKind::Sigmoid, w) => {
                let g = sigmoid(z.clone()) - y.clone();
                let g = match &w {
                    Some(w) => g * w.clone(),
                    None => g,
                };
                (self.plan.loss(z, y, w), g.mul_scalar(1.0 / rows))
            }
            (OutputKind::Linear, w) => {
                let d = z.clone() - y.clone();
                let g = match self.plan.regression_loss {
                    RegressionLoss::Mse => d.mul_scalar(2.0),
                    RegressionLoss::Huber => d.clamp(-1.0, 1.0),
                };
                let g = match &w {
                    Some(w) => g * w.clone(),
                    None => g,
                };
                (self.plan.loss(z, y, w), g.mul_scalar(1.0 / rows))
            }
        }
    }

    /// Gradients of every parameter (same order as `params`) by back-propagating `delta`.
    fn backward(&self, saved: Vec<Saved>, delta: Tensor<2>) -> Vec<Tensor<2>> {
        let mut grads: Vec<Option<Tensor<2>>> = vec![None; self.params.len()];
        // The index of the first dense step: no input gradient is needed at or before it.
        let first_dense = self.plan.steps.iter().position(|s| !matches!(s, Step::Dropout(_))).unwrap_or(0);
        let mut g = delta;
        for (k, (step, saved)) in self.plan.steps.iter().zip(saved).enumerate().rev() {
            let (i, delta, input) = match (*step, saved) {
                (Step::Logits(i), Saved::Logits { input }) => (i, g.clone(), input),
                (Step::Dense(i, act), Saved::Dense { input, output }) => (i, derivative(g.clone(), output, act), input),
                (Step::Dropout(_), Saved::Dropout(mask)) => {
                    if let Some(m) = mask {
                        g = g * m;
                    }
                    continue;
                }
                _ => unreachable!("saved entries follow the plan's steps"),
            };
            grads[2 * i] = Some(input.transpose().matmul(delta.clone()));
            grads[2 * i + 1] = Some(delta.clone().sum_dim(0));
            if k > first_dense {
                g = delta.matmul(self.params[2 * i].value.clone().transpose());
            }
        }
        grads.into_iter().map(|g| g.expect("every dense layer is on the plan")).collect()
    }

    /// Gradients of the mean batch loss (for the tests that compare both paths).
    #[cfg(test)]
    pub(crate) fn gradients(
        &self,
        x: Tensor<2>,
        y: Tensor<2>,
        w: Option<Tensor<2>>,
        masks: &mut SeedRng,
    ) -> Vec<Tensor<2>> {
        let (z, saved) = self.forward_saving(x, masks);
        let (_, delta) = self.loss_and_delta(z, y, w);
        self.backward(saved, delta)
    }

    /// One optimizer update of every parameter with `grads`, where [`Update`] says.
    fn update(&mut self, grads: Vec<Tensor<2>>, lr: f64) -> Result<(), String> {
        self.time += 1;
        let (time, optim, device) = (self.time, self.optim, &self.device);
        let decay = decay_factor(self.weight_decay, lr);
        let params = std::mem::take(&mut self.params);
        let pairs = params.into_iter().zip(grads);
        self.params = match self.where_ {
            Update::Device => pairs.map(|(p, g)| device_update(p, g, optim, time, (lr, decay))).collect(),
            Update::Host => {
                pairs.map(|(p, g)| host_update(p, g, optim, time, (lr, decay), device)).collect::<Result<_, _>>()?
            }
        };
        Ok(())
    }
}

/// Adam's bias corrections at step `time` (burn::optim::AdaptiveMomentum): the factor of the first
/// moment and `sqrt(1 - beta_2^t)`, which scales epsilon.
fn adam_factors(beta_1: f32, beta_2: f32, time: i32) -> (f32, f32) {
    let bias_correction2_sqrt = (1.0 - beta_2.powi(time)).sqrt();
    (bias_correction2_sqrt / (1.0 - beta_1.powi(time)), bias_correction2_sqrt)
}

/// The update as tensor operations on the device (burn::optim's formulas, op for op).
fn device_update(
    mut p: Parameter,
    g: Tensor<2>,
    optim: Optim,
    time: i32,
    (lr, decay): (f64, Option<f64>),
) -> Parameter {
    let value = match decay {
        Some(f) => p.value.mul_scalar(f),
        None => p.value,
    };
    p.value = match optim {
        Optim::Adam { beta_1, beta_2, epsilon } => {
            // burn::optim::AdaptiveMomentum::transform, then `tensor - grad * lr`.
            let (first, second) = match p.state.take() {
                Some(DeviceState { first, second: Some(second) }) => (
                    first.mul_scalar(beta_1).add(g.clone().mul_scalar(1.0 - beta_1)),
                    second.mul_scalar(beta_2).add(g.square().mul_scalar(1.0 - beta_2)),
                ),
                _ => (g.clone().mul_scalar(1.0 - beta_1), g.square().mul_scalar(1.0 - beta_2)),
            };
            let (combined, bias_correction2_sqrt) = adam_factors(beta_1, beta_2, time);
            let step = first
                .clone()
                .mul_scalar(combined)
                .div(second.clone().sqrt().add_scalar(epsilon * bias_correction2_sqrt));
            p.state = Some(DeviceState { first, second: Some(second) });
            value - step.mul_scalar(lr)
        }
        Optim::Sgd { momentum: None } => value - g.mul_scalar(lr),
        Optim::Sgd { momentum: Some(mu) } => {
            // burn::optim::momentum::Momentum::transform with dampening 0.
            let velocity = match p.state.take() {
                Some(DeviceState { first: v, second: None }) => g.add(v.mul_scalar(mu)),
                _ => g,
            };
            let step = velocity.clone().mul_scalar(lr);
            p.state = Some(DeviceState { first: velocity, second: None });
            value - step
        }
    };
    p
}

/// The update as one fused loop over host memory: the same formulas, element by element in the
/// same f32 operation order as [`device_update`]. The parameter's
/// buffer is taken from its tensor and handed back (no copy on flex, whose tensors own their
/// buffer; a copy each way on the other CPU backends); the moments never leave the host.
fn host_update(
    mut p: Parameter,
    g: Tensor<2>,
    optim: Optim,
    time: i32,
    (lr, decay): (f64, Option<f64>),
    device: &Device,
) -> Result<Parameter, String> {
    let mut data = p.value.into_data().try_cast_as::<f32>().map_err(|e| format!("parameter values: {e:?}"))?;
    let grad = g.into_data().try_cast_as::<f32>().map_err(|e| format!("gradient values: {e:?}"))?;
    let gs = grad.as_slice::<f32>().map_err(|e| format!("gradient values: {e:?}"))?;
    let ps = data.as_mut_slice::<f32>().map_err(|e| format!("parameter values: {e:?}"))?;
    if let Some(f) = decay {
        // As `Tensor::mul_scalar` with an f64 factor: the factor rounded to f32 once.
        let f = f as f32;
        ps.iter_mut().for_each(|w| *w *= f);
    }
    let lr = lr as f32;
    match optim {
        Optim::Adam { beta_1, beta_2, epsilon } => {
            if p.host.is_empty() {
                p.host = vec![0.0; 2 * ps.len()];
            }
            let (first, second) = p.host.split_at_mut(ps.len());
            let (combined, bias_correction2_sqrt) = adam_factors(beta_1, beta_2, time);
            let eps = epsilon * bias_correction2_sqrt;
            let (c1, c2) = (1.0 - beta_1, 1.0 - beta_2);
            // Two branch-free loops (the first step has no earlier moments) so that both vectorize.
            // The moments are flushed to zero below f32's normal range (`flush`).
            if time == 1 {
                for (((w, &g), m), v) in ps.iter_mut().zip(gs).zip(first).zip(second) {
                    *m = flush(g * c1);
                    *v = flush(g * g * c2);
                    *w -= (*m * combined) / (v.sqrt() + eps) * lr;
                }
            } else {
                for (((w, &g), m), v) in ps.iter_mut().zip(gs).zip(first).zip(second) {
                    *m = flush(*m * beta_1 + g * c1);
                    *v = flush(*v * beta_2 + g * g * c2);
                    *w -= (*m * combined) / (v.sqrt() + eps) * lr;
                }
            }
        }
        Optim::Sgd { momentum: None } => ps.iter_mut().zip(gs).for_each(|(w, &g)| *w -= g * lr),
        Optim::Sgd { momentum: Some(mu) } => {
            let mu = mu as f32;
            if p.host.is_empty() {
                p.host = gs.to_vec();
            } else {
                p.host.iter_mut().zip(gs).for_each(|(v, &g)| *v = flush(g + *v * mu));
            }
            ps.iter_mut().zip(&p.host).for_each(|(w, &v)| *w -= v * lr);
        }
    }
    p.value = Tensor::<2>::from_data(data, device);
    Ok(p)
}

/// `x`, or zero where `x` is subnormal (nonzero and below `f32::MIN_POSITIVE` in magnitude).
///
/// Optimizer state decays geometrically where a gradient is zero (a dead ReLU unit's weights:
/// Adam's first moment by 0.9 a step), and within a few epochs most of a large net's moments
/// would be subnormal; Intel cores take a microcode assist on every arithmetic operation with a
/// subnormal operand or result, which made epochs 5x slower there (BENCHMARKS.md, "Performance
/// III"). Flushing the state is the cure chosen over the processor's flush-to-zero mode (MXCSR),
/// which Rust may only change with undefined behaviour: this is safe code, the same on every
/// architecture and backend, and a state this small moves no weight (its update is below the
/// weight's last bit), so trained numbers are those of before. A compare and a blend: the loops
/// stay vectorized.
#[inline(always)]
pub(crate) fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// `g * f'(a)` for the activation `act` whose output is `a`.
fn derivative(g: Tensor<2>, a: Tensor<2>, act: Activation) -> Tensor<2> {
    match act {
        Activation::Relu => g.mask_fill(a.lower_equal_elem(0.0), 0.0),
        Activation::Sigmoid => g * (a.clone() - a.square()),
        Activation::Tanh => g * a.square().neg().add_scalar(1.0),
        Activation::Elu => g * a.add_scalar(1.0).clamp_max(1.0),
    }
}

impl Learner for ClosedFormLearner {
    fn train_device(&self) -> Device {
        self.device.clone()
    }

    fn step(
        &mut self,
        x: Tensor<2>,
        y: Tensor<2>,
        w: Option<Tensor<2>>,
        masks: &mut SeedRng,
        lr: f64,
    ) -> Result<Tensor<1>, String> {
        let (z, saved) = self.forward_saving(x, masks);
        let (loss, delta) = self.loss_and_delta(z, y, w);
        let grads = self.backward(saved, delta);
        self.update(grads, lr)?;
        Ok(loss)
    }

    fn logits(&self, mut x: Tensor<2>) -> Tensor<2> {
        for step in &self.plan.steps {
            x = match *step {
                Step::Dense(i, act) => activate(self.dense(i, x), act),
                Step::Dropout(_) => x,
                Step::Logits(i) => self.dense(i, x),
            };
        }
        x
    }

    fn weights(&self) -> Result<Vec<LayerWeights>, String> {
        self.params
            .chunks(2)
            .map(|pair| {
                let kernel = host(pair[0].value.clone())?;
                let bias = host(pair[1].value.clone())?;
                Ok(LayerWeights { kernel, bias: HostTensor { shape: vec![bias.data.len()], data: bias.data } })
            })
            .collect()
    }

    fn save(&self, into: &mut Tensors) -> Result<(), String> {
        self.write_state(into)
    }
}

#[cfg(test)]
mod tests {
    //! The closed form against Burn's autodiff, the reference: gradients of random nets of every
    //! activation, with and without dropout, every output kind (softmax, sigmoid, linear with
    //! the squared error and Huber), on every backend of the build;
    //! and the optimizer updates against `burn::optim` fed the same gradients.

    use burn::optim::GradientsParams;
    use mlpnas_backend::Backend;
    use mlpnas_core::seed::rng;
    use rand::Rng;

    use super::*;
    use crate::learner::{AutodiffLearner, optimizer};
    use crate::model::build_layers;

    const ACTIVATIONS: [&str; 4] = ["relu", "sigmoid", "tanh", "elu"];

    /// A random architecture text (1 to 3 dense layers of 1 to 24 units, any activation, dropout
    /// after any of them) and its number of classes (2: sigmoid output, 3 to 5: softmax, 0: a
    /// regression's linear output).
    fn random_net(r: &mut SeedRng) -> (String, usize) {
        let mut parts = Vec::new();
        for _ in 0..r.random_range(1..=3) {
            parts.push(format!("{}:{}", r.random_range(1..=24), ACTIVATIONS[r.random_range(0..4)]));
            if r.random_bool(0.4) {
                parts.push("dropout".to_string());
            }
        }
        let classes = r.random_range(1..=5);
        (parts.join(","), if classes == 1 { 0 } else { classes })
    }

    /// Random features `[rows, inputs]` (scale 2) and targets for `classes` classes.
    fn batch(r: &mut SeedRng, rows: usize, inputs: usize, classes: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let x: Vec<f32> = (0..rows * inputs).map(|_| r.random_range(-2.0f32..2.0)).collect();
        let (width, y) = if classes == 0 {
            (1, (0..rows).map(|_| r.random_range(-3.0f32..3.0)).collect::<Vec<_>>())
        } else if classes == 2 {
            (1, (0..rows).map(|_| f32::from(u8::from(r.random_bool(0.5)))).collect::<Vec<_>>())
        } else {
            let mut y = vec![0.0f32; rows * classes];
            for row in 0..rows {
                y[row * classes + r.random_range(0..classes)] = 1.0;
            }
            (classes, y)
        };
        (
            Tensor::<2>::from_data(TensorData::new(x, [rows, inputs]), device),
            Tensor::<2>::from_data(TensorData::new(y, [rows, width]), device),
        )
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 values")
    }

    /// `got` equals `want` within `rel` of `want`'s largest magnitude (plus a floor for all-zero
    /// gradients, e.g. dead ReLUs).
    fn assert_close(got: &[f32], want: &[f32], rel: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= rel * scale, "{what}[{k}]: closed form {g}, autodiff {w} (scale {scale})");
        }
    }

    /// Autodiff's gradients of `layers` (kernel, bias as `[1, out]`, per layer).
    fn autodiff_gradients(
        plan: &Plan,
        layers: &[burn::nn::Linear],
        x: Tensor<2>,
        y: Tensor<2>,
        w: Option<Tensor<2>>,
        masks: &mut SeedRng,
    ) -> (Vec<Tensor<2>>, GradientsParams) {
        let loss = plan.loss(plan.forward(layers, x, Some(masks)), y, w);
        let grads = loss.backward();
        let mut out = Vec::new();
        for l in layers {
            out.push(l.weight.val().grad(&grads).expect("kernel gradient"));
            let b = l.bias.as_ref().expect("bias").val().grad(&grads).expect("bias gradient");
            let n = b.dims()[0];
            out.push(b.reshape([1, n]));
        }
        (out, GradientsParams::from_grads(grads, &layers.to_vec()))
    }

    /// Glorot kernels and random (non-zero) biases. With zero biases, a row whose inputs dropout
    /// zeroes entirely reaches ELU and the sigmoid loss at exactly 0, where autodiff takes a
    /// one-sided derivative of the kinked formulas (`relu`, `clamp_max`, `abs`: 0 at 0) while the
    /// functions themselves are smooth there (ELU' = 1, BCE' = sigmoid(0) - y): the closed form
    /// gives the true derivative. Away from such exact zeros the two must agree.
    fn random_weights(arch: &Architecture, r: &mut SeedRng) -> Vec<Option<LayerWeights>> {
        arch.dense_shapes()
            .iter()
            .map(|&(inp, out, _)| {
                let mut w = crate::model::glorot(inp, out, r);
                w.bias.data = (0..out).map(|_| r.random_range(-0.5f32..0.5)).collect();
                Some(w)
            })
            .collect()
    }

    #[test]
    fn gradients_equal_autodiff_on_random_nets_on_every_backend() {
        for backend in Backend::for_suites() {
            let plain = backend.device().expect("device");
            let ad = plain.clone().autodiff();
            let mut r = rng(7);
            for case in 0..40 {
                let (text, classes) = random_net(&mut r);
                let inputs = r.random_range(1..=12);
                let arch = Architecture::parse(&text, inputs, classes, 0.3).expect("architecture");
                let loss = if case % 4 < 2 { RegressionLoss::Mse } else { RegressionLoss::Huber };
                let plan = Plan::new(&arch).with_regression_loss(loss);
                let cfg = BurnTrainerConfig { backend, loss, ..BurnTrainerConfig::default() };
                let init = random_weights(&arch, &mut r);
                let closed = ClosedFormLearner::new(&cfg, plan.clone(), &arch, &init, &mut rng(case), &plain);
                let layers = build_layers(&arch, &init, &mut rng(case), &ad);
                let rows = r.random_range(1..=40);
                let (x, y) = batch(&mut r, rows, inputs, classes, &plain);
                let mask_seed = r.random::<u64>();
                // Every other case weighs its rows (class weights: one positive weight a row).
                let w = (case % 2 == 1).then(|| {
                    let w: Vec<f32> = (0..rows).map(|_| r.random_range(0.2f32..5.0)).collect();
                    Tensor::<2>::from_data(TensorData::new(w, [rows, 1]), &plain)
                });
                let want = autodiff_gradients(
                    &plan,
                    &layers,
                    x.clone().autodiff(),
                    y.clone().autodiff(),
                    w.clone().map(Tensor::autodiff),
                    &mut rng(mask_seed),
                )
                .0;
                let got = closed.gradients(x, y, w, &mut rng(mask_seed));
                assert_eq!(got.len(), want.len());
                for (k, (g, w)) in got.into_iter().zip(want).enumerate() {
                    assert_eq!(g.dims(), w.dims(), "{backend} {text}: shape of gradient {k}");
                    assert_close(
                        &values(g),
                        &values(w),
                        1e-5,
                        &format!("{backend} {text} ({classes} classes) grad {k}"),
                    );
                }
            }
        }
    }

    #[test]
    fn optimizer_steps_equal_burn_optim_given_the_same_gradients() {
        let settings = [
            ("adam", BurnTrainerConfig::default()),
            ("sgd", BurnTrainerConfig { optimizer: Optimizer::Sgd, learning_rate: 0.1, ..Default::default() }),
            (
                "sgd+momentum",
                BurnTrainerConfig {
                    optimizer: Optimizer::Sgd,
                    learning_rate: 0.05,
                    momentum: 0.9,
                    ..Default::default()
                },
            ),
            ("adamw", BurnTrainerConfig { weight_decay: 0.5, ..Default::default() }),
            (
                "sgd+momentum+decay",
                BurnTrainerConfig {
                    optimizer: Optimizer::Sgd,
                    learning_rate: 0.05,
                    momentum: 0.9,
                    weight_decay: 0.3,
                    ..Default::default()
                },
            ),
        ];
        for (backend, where_) in
            Backend::for_suites().into_iter().flat_map(|b| [(b, Update::Host), (b, Update::Device)])
        {
            let plain = backend.device().expect("device");
            for (name, cfg) in &settings {
                let cfg = BurnTrainerConfig { backend, ..cfg.clone() };
                let arch = Architecture::parse("6:tanh,dropout,4:relu", 3, 3, 0.3).expect("architecture");
                let plan = Plan::new(&arch);
                let mut closed = ClosedFormLearner::new(&cfg, plan.clone(), &arch, &[], &mut rng(1), &plain);
                closed.where_ = where_;
                let mut reference = AutodiffLearner::new(&cfg, plan.clone(), &arch, &[], &mut rng(1), &plain);
                // AdamW is checked against Burn's own (the autodiff path wraps Adam instead).
                let mut optim = match *name {
                    "adamw" => burn::optim::AdamWConfig::new()
                        .with_epsilon(crate::learner::ADAM_EPSILON)
                        .with_weight_decay(cfg.weight_decay as f32)
                        .init(),
                    _ => optimizer(&cfg),
                };
                let mut r = rng(2);
                for step in 0..4 {
                    let (x, y) = batch(&mut r, 16, 3, 3, &plain);
                    let lr = cfg.learning_rate / (1.0 + 0.1 * step as f64);
                    let (grads, params) =
                        autodiff_gradients(&plan, &reference.model, x.autodiff(), y.autodiff(), None, &mut rng(step));
                    closed.update(grads, lr).expect("update");
                    let model = std::mem::take(&mut reference.model);
                    reference.model = optim.step(lr, model, params);
                    let want = reference.weights().expect("weights");
                    let got = closed.weights().expect("weights");
                    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                        let what = format!("{backend} {where_:?} {name} step {step} layer {k}");
                        assert_close(&g.kernel.data, &w.kernel.data, 1e-6, &format!("{what} kernel"));
                        assert_close(&g.bias.data, &w.bias.data, 1e-6, &format!("{what} bias"));
                    }
                }
            }
        }
    }

    /// Moments of weights whose gradient stays zero (a dead unit's) decay towards zero; neither
    /// path may keep them subnormal, which stalls Intel cores (`flush`). The unflushed Adam of
    /// `burn::optim`, fed the same, does hold subnormals: the case reaches the range.
    #[test]
    fn optimizer_state_never_holds_subnormal_values() {
        let subnormal = |v: &[f32]| v.iter().filter(|x| x.is_subnormal()).count();
        for backend in Backend::for_suites() {
            let plain = backend.device().expect("device");
            for (name, cfg) in [
                ("adam", BurnTrainerConfig { backend, ..Default::default() }),
                (
                    "sgd+momentum",
                    BurnTrainerConfig {
                        backend,
                        optimizer: mlpnas_core::Optimizer::Sgd,
                        momentum: 0.9,
                        ..Default::default()
                    },
                ),
            ] {
                let arch = Architecture::parse("6:relu,4:relu", 3, 3, 0.0).expect("architecture");
                let mut closed = ClosedFormLearner::new(&cfg, Plan::new(&arch), &arch, &[], &mut rng(1), &plain);
                closed.where_ = Update::Host;
                let shapes: Vec<[usize; 2]> = closed.params.iter().map(|p| p.value.dims()).collect();
                let mut r = rng(3);
                let mut seen_tiny = false;
                for step in 0..1200 {
                    // Normal gradients first, then none: the moments decay through f32's normal range.
                    let grads = shapes
                        .iter()
                        .map(|&[a, b]| {
                            let v: Vec<f32> = (0..a * b)
                                .map(|_| if step < 3 { r.random_range(-1e-3f32..1e-3) } else { 0.0 })
                                .collect();
                            Tensor::<2>::from_data(TensorData::new(v, [a, b]), &plain)
                        })
                        .collect();
                    closed.update(grads, 1e-3).expect("update");
                    for p in &closed.params {
                        assert_eq!(subnormal(&p.host), 0, "{backend} {name} step {step}: subnormal optimizer state");
                        assert_eq!(subnormal(&values(p.value.clone())), 0, "{backend} {name} step {step}: weights");
                        seen_tiny |= p.host.iter().any(|&m| m != 0.0 && m.abs() < 1e-30);
                    }
                }
                assert!(seen_tiny, "{backend} {name}: the moments reached the edge of the normal range");
                // Flushed, not merely kept normal: the first moments (all of SGD's velocity) are 0.
                for p in &closed.params {
                    let first = if name == "adam" { &p.host[..p.host.len() / 2] } else { &p.host[..] };
                    assert!(first.iter().all(|&m| m == 0.0), "{backend} {name}: a decayed moment is not 0");
                }
            }

            // Burn's Adam (the autodiff path) with and without the flush, from first moments just
            // above the subnormal range and zero gradients.
            use burn::optim::{AdamConfig, AdamState, AdaptiveMomentumState, Optimizer};
            let adam = AdamConfig::new().with_epsilon(crate::learner::ADAM_EPSILON).build();
            let flushed = crate::learner::Flushed(adam.clone());
            let n = 64;
            let start = |v: f32| Tensor::<1>::from_data(TensorData::new(vec![v; n], [n]), &plain);
            let fresh = || Some(AdamState::new(AdaptiveMomentumState::new(5, start(1e-36), start(1e-8))));
            let (mut plain_state, mut flushed_state) = (fresh(), fresh());
            let (mut w1, mut w2) = (start(0.5), start(0.5));
            let read = |t: &Tensor<1>| t.clone().into_data().try_to_vec::<f32>().expect("values");
            let (mut plain_subnormal, mut flushed_subnormal) = (0, 0);
            for _ in 0..80 {
                let zero = Tensor::<1>::zeros([n], &plain);
                (w1, plain_state) = adam.step(1e-3, w1, zero.clone(), plain_state);
                (w2, flushed_state) = flushed.step(1e-3, w2, zero, flushed_state);
                plain_subnormal += subnormal(&read(&plain_state.as_ref().expect("state").momentum.moment_1));
                flushed_subnormal += subnormal(&read(&flushed_state.as_ref().expect("state").momentum.moment_1));
            }
            // Unflushed, the moments stay subnormal from about step 42 on; flushed, for at most
            // the 8 steps between two flushes, and none is left at the end.
            assert!(plain_subnormal >= 30 * n, "{backend}: the case never reached the subnormal range");
            assert!(flushed_subnormal <= 8 * n, "{backend}: {flushed_subnormal} subnormal moments over the steps");
            let m = read(&flushed_state.as_ref().expect("state").momentum.moment_1);
            assert!(m.iter().all(|&v| v == 0.0), "{backend}: flushed Adam keeps decayed moments");
            assert_eq!(read(&w1), read(&w2), "{backend}: flushing moved the weights");
        }
    }
}
