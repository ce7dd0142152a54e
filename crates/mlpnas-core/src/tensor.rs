//! Backend-agnostic weights: what crosses the [`crate::WeightStore`] boundary.

use serde::{Deserialize, Serialize};

use crate::arch::BigramKey;

/// A dense f32 tensor in row-major order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor, checking that `data` fills `shape`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self, String> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(format!("shape {shape:?} holds {n} values, got {}", data.len()));
        }
        Ok(Self { shape, data })
    }
    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Whether `shape` and `data` agree and every value is finite.
    pub fn is_consistent(&self) -> bool {
        self.shape.iter().product::<usize>() == self.data.len() && self.data.iter().all(|v| v.is_finite())
    }
}

/// The trained parameters of one dense layer.
///
/// The kernel has shape `[in, out]` (y = x W + b, Burn's layout; PyTorch stores the transpose),
/// the bias `[out]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerWeights {
    /// `[in, out]`.
    pub kernel: HostTensor,
    /// `[out]`.
    pub bias: HostTensor,
}

impl LayerWeights {
    /// Whether these weights fit a layer with `input` inputs and `output` outputs.
    pub fn fits(&self, input: usize, output: usize) -> bool {
        self.kernel.shape == [input, output] && self.bias.shape == [output] && self.is_consistent()
    }
    /// Whether both tensors are consistent (see [`HostTensor::is_consistent`]).
    pub fn is_consistent(&self) -> bool {
        self.kernel.is_consistent() && self.bias.is_consistent()
    }
    /// Why these weights cannot be stored under `key`, if they cannot: inconsistent (shape and
    /// data disagree, or a value is not finite) or not fitting the key's kernel and bias shapes.
    /// The rule every [`crate::WeightStore`]'s `put` applies.
    pub fn refusal(&self, key: &BigramKey) -> Option<String> {
        if !self.is_consistent() {
            let why = |t: &HostTensor, name: &str| {
                let n: usize = t.shape.iter().product();
                if n != t.data.len() {
                    Some(format!("{name} shape {:?} holds {n} values but {} were given", t.shape, t.data.len()))
                } else if t.data.iter().any(|v| !v.is_finite()) {
                    Some(format!("{name} holds a NaN or infinite value"))
                } else {
                    None
                }
            };
            return Some(
                why(&self.kernel, "kernel")
                    .or_else(|| why(&self.bias, "bias"))
                    .unwrap_or_else(|| "inconsistent weights".to_string()),
            );
        }
        let [input, output] = key.kernel_shape();
        if !self.fits(input, output) {
            return Some(format!(
                "kernel {:?} and bias {:?} do not fit the key (expected [{input}, {output}] and [{output}])",
                self.kernel.shape, self.bias.shape
            ));
        }
        None
    }
    /// Size of the values in bytes.
    pub fn byte_len(&self) -> usize {
        (self.kernel.len() + self.bias.len()) * std::mem::size_of::<f32>()
    }
}
