//! An architecture as a Burn model: a `Vec<Linear>` (the only trainable part) plus a plan of
//! activations and dropout applied between the layers.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, relu, sigmoid, softmax, tanh};
use burn::tensor::{Device, Int, Tensor, TensorData};
use mlpnas_core::seed::SeedRng;
use mlpnas_core::{Activation, Architecture, HostTensor, Layer, LayerWeights, OutputKind};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The loss of a regression (one linear output unit, on the standardized target).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegressionLoss {
    /// Mean squared error (the default).
    #[default]
    Mse,
    /// Huber loss with delta 1 (squared within one standard deviation of the target, linear
    /// beyond): less pulled by outliers.
    Huber,
}

/// One step of the forward pass.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Dense layer `index` followed by an activation.
    Dense(usize, Activation),
    /// Dropout with this drop probability (training only).
    Dropout(f64),
    /// Dense layer `index` producing the logits.
    Logits(usize),
}

/// The forward plan of an architecture.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    pub output: OutputKind,
    /// The loss of a linear output (a regression).
    pub regression_loss: RegressionLoss,
}

impl Plan {
    pub fn new(arch: &Architecture) -> Self {
        let mut steps = Vec::with_capacity(arch.layers.len());
        let mut dense = 0;
        let mut output = OutputKind::Softmax;
        for l in &arch.layers {
            match *l {
                Layer::Dense { activation, .. } => {
                    steps.push(Step::Dense(dense, activation));
                    dense += 1;
                }
                Layer::Dropout { rate } => steps.push(Step::Dropout(rate)),
                Layer::Output { output: kind, .. } => {
                    steps.push(Step::Logits(dense));
                    output = kind;
                    dense += 1;
                }
            }
        }
        Self { steps, output, regression_loss: RegressionLoss::Mse }
    }

    /// The same plan with `loss` for a linear output.
    pub fn with_regression_loss(mut self, loss: RegressionLoss) -> Self {
        self.regression_loss = loss;
        self
    }

    /// Logits of `x` (`[batch, in]`). Dropout is applied only when `masks` is given: its masks
    /// are drawn from that per-trial RNG on the host, not from Burn's global backend RNG, so
    /// trials running at the same time in other threads cannot change each other's masks.
    pub fn forward(&self, layers: &[Linear], mut x: Tensor<2>, mut masks: Option<&mut SeedRng>) -> Tensor<2> {
        for step in &self.steps {
            x = match *step {
                Step::Dense(i, act) => activate(layers[i].forward(x), act),
                Step::Dropout(rate) => match masks.as_deref_mut().and_then(|rng| dropout_mask(rate, &x, rng)) {
                    Some(mask) => x * mask,
                    None => x,
                },
                Step::Logits(i) => layers[i].forward(x),
            };
        }
        x
    }

    /// Mean loss of `logits` against `targets` (one-hot `[b, classes]` for softmax, `[b, 1]` 0/1
    /// for sigmoid, `[b, 1]` standardized values for linear): categorical or binary
    /// cross-entropy, computed stably from logits, or the squared error (Huber: `q (|d| - q/2)`
    /// with `q = min(|d|, 1)`, which is `d²/2` within 1 and `|d| - 1/2` beyond); with
    /// `weights` (`[b, 1]`, each row's class weight) the mean of the weighted row losses (Keras'
    /// `class_weight`: divided by the rows, not by the weights).
    pub fn loss(&self, logits: Tensor<2>, targets: Tensor<2>, weights: Option<Tensor<2>>) -> Tensor<1> {
        match (self.output, weights) {
            (OutputKind::Softmax, None) => (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg(),
            (OutputKind::Softmax, Some(w)) => ((log_softmax(logits, 1) * targets).sum_dim(1) * w).mean().neg(),
            (OutputKind::Sigmoid, w) => {
                // max(z, 0) - z*y + log(1 + exp(-|z|))
                let z = logits;
                let rows = relu(z.clone()) - z.clone() * targets + z.abs().neg().exp().log1p();
                match w {
                    None => rows.mean(),
                    Some(w) => (rows * w).mean(),
                }
            }
            (OutputKind::Linear, w) => {
                let d = logits - targets;
                let rows = match self.regression_loss {
                    RegressionLoss::Mse => d.square(),
                    RegressionLoss::Huber => {
                        let a = d.abs();
                        let q = a.clone().clamp_max(1.0);
                        q.clone() * (a - q.mul_scalar(0.5))
                    }
                };
                match w {
                    None => rows.mean(),
                    Some(w) => (rows * w).mean(),
                }
            }
        }
    }

    /// Class probabilities of `logits`, copied to the host: `[b, classes]` row-major; a one-unit
    /// sigmoid output gives `[1 - p, p]` per row; a linear output its values as they are.
    pub fn probabilities(&self, logits: Tensor<2>) -> Result<Vec<f32>, String> {
        let probs = match self.output {
            OutputKind::Linear => logits,
            OutputKind::Softmax => softmax(logits, 1),
            OutputKind::Sigmoid => {
                let p = sigmoid(logits);
                Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1)
            }
        };
        probs.into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))
    }

    /// Number of rows whose predicted class equals `labels` (`[b]`); 0 for a linear output,
    /// which predicts no class.
    pub fn correct(&self, logits: Tensor<2>, labels: Tensor<1, Int>) -> i64 {
        let [b, _] = logits.dims();
        let pred: Tensor<1, Int> = match self.output {
            OutputKind::Linear => return 0,
            OutputKind::Softmax => logits.argmax(1).reshape([b]),
            OutputKind::Sigmoid => logits.greater_elem(0.0).int().reshape([b]),
        };
        pred.equal(labels).int().sum().into_scalar::<i64>()
    }
}

/// `act` applied to the pre-activations `h`.
pub(crate) fn activate(h: Tensor<2>, act: Activation) -> Tensor<2> {
    match act {
        Activation::Sigmoid => sigmoid(h),
        Activation::Tanh => tanh(h),
        Activation::Relu => relu(h),
        // Not Burn's `elu`: it takes exp(x) of positive inputs too, which overflows for x > 88
        // and turns the masked-out gradient into inf * 0 = NaN (seen as spurious divergence on
        // unstandardized data). Same values, safe gradient.
        Activation::Elu => {
            let neg = h.clone().clamp_max(0.0);
            relu(h) + neg.exp().sub_scalar(1.0)
        }
    }
}

/// The inverted-dropout mask for `x` (`0` or `1 / keep` per element), drawn from the trial's
/// mask stream on the host; `None` when `rate` drops nothing. Both training paths draw masks
/// here, in the same order, so they see the same masks.
pub(crate) fn dropout_mask(rate: f64, x: &Tensor<2>, rng: &mut SeedRng) -> Option<Tensor<2>> {
    if rate <= 0.0 {
        return None;
    }
    let keep = 1.0 - rate;
    let scale = (1.0 / keep) as f32;
    let [b, w] = x.dims();
    let mask: Vec<f32> = (0..b * w).map(|_| if rng.random::<f64>() < keep { scale } else { 0.0 }).collect();
    Some(Tensor::<2>::from_data(TensorData::new(mask, [b, w]), &x.device()))
}

/// A host tensor on `device` (as a trainable parameter when `device` is an autodiff device).
fn param<const D: usize>(t: &HostTensor, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::<D>::from_data(TensorData::new(t.data.clone(), shape), device))
}

/// The initial weights of `arch`'s dense layers: `init[i]` where given, else Glorot-uniform
/// kernels and zero biases drawn from `rng` (Keras' defaults, and reproducible per trial).
pub(crate) fn initial_weights(
    arch: &Architecture,
    init: &[Option<LayerWeights>],
    rng: &mut SeedRng,
) -> Vec<LayerWeights> {
    arch.dense_shapes()
        .iter()
        .enumerate()
        .map(|(i, &(inp, out, _))| match init.get(i) {
            Some(Some(w)) => w.clone(),
            _ => glorot(inp, out, rng),
        })
        .collect()
}

/// Builds the dense layers of `arch` on `device` from [`initial_weights`].
pub(crate) fn build_layers(
    arch: &Architecture,
    init: &[Option<LayerWeights>],
    rng: &mut SeedRng,
    device: &Device,
) -> Vec<Linear> {
    initial_weights(arch, init, rng)
        .iter()
        .zip(arch.dense_shapes())
        .map(|(w, (inp, out, _))| Linear {
            weight: param(&w.kernel, [inp, out], device),
            bias: Some(param(&w.bias, [out], device)),
        })
        .collect()
}

/// Glorot-uniform kernel `[inp, out]`, zero bias.
pub(crate) fn glorot(inp: usize, out: usize, rng: &mut SeedRng) -> LayerWeights {
    let limit = (6.0 / (inp + out) as f64).sqrt() as f32;
    let data = (0..inp * out).map(|_| rng.random_range(-limit..=limit)).collect();
    LayerWeights {
        kernel: HostTensor { shape: vec![inp, out], data },
        bias: HostTensor { shape: vec![out], data: vec![0.0; out] },
    }
}

/// Copies a tensor back to the host.
pub(crate) fn host<const D: usize>(t: Tensor<D>) -> Result<HostTensor, String> {
    let shape = t.dims().to_vec();
    let data = t.into_data().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(HostTensor { shape, data })
}

/// Copies a layer's parameters back to the host.
pub(crate) fn export(layer: &Linear) -> Result<LayerWeights, String> {
    let kernel = host(layer.weight.val())?;
    let bias = match &layer.bias {
        Some(b) => host(b.val())?,
        None => HostTensor { shape: vec![kernel.shape[1]], data: vec![0.0; kernel.shape[1]] },
    };
    Ok(LayerWeights { kernel, bias })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first initial weights of trial seed 0 are pinned (Glorot-uniform from the trial's
    /// ChaCha12 stream, `mlpnas_core::seed`): if this fails, every initial weight of every run
    /// changed, and runs made before can no longer resume exactly.
    #[test]
    fn pinned_seed_0_initial_weights() {
        let w = glorot(11, 8, &mut mlpnas_core::seed::rng(0));
        let first: Vec<f32> = w.kernel.data[..4].to_vec();
        assert_eq!(first, PINNED, "the first initial weights of seed 0 changed");
        assert!(w.bias.data.iter().all(|&b| b == 0.0));
    }

    const PINNED: [f32; 4] = [0.338_810_86, 0.259_748_94, 0.062_139_213, 0.307_342_65];
}
