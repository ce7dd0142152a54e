//! The in-memory data set handed to trainers: features already numeric, labels already encoded
//! (classification) or target values (regression), and [`TargetScale`], the one standardization
//! of a regression target.
//!
//! Loading, label encoding, splitting and standardization live in `mlpnas-data`; this is only the
//! shape every trainer agrees on.

use serde::{Deserialize, Serialize};

/// Examples with numeric features and class labels `0..n_classes` (classification), or a target
/// value per row (regression: no class names, "0 classes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// `n_rows * sample_shape.product()` values, row-major.
    pub features: Vec<f32>,
    /// Shape of one example (e.g. `[11]`, or `[8, 8]` for images; trainers flatten it).
    pub sample_shape: Vec<usize>,
    /// One label per row, each `< class_names.len()` (classification; empty for a regression).
    pub labels: Vec<u32>,
    /// One target value per row, in the label's units (regression; empty for classification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<f32>,
    /// Name of each class, indexed by label (empty for a regression).
    pub class_names: Vec<String>,
    /// Name of each (flattened) feature.
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// Number of examples.
    pub fn n_rows(&self) -> usize {
        if self.is_regression() { self.targets.len() } else { self.labels.len() }
    }
    /// Whether its label is a number to predict (it has target values and no classes).
    pub fn is_regression(&self) -> bool {
        self.class_names.is_empty() && !self.targets.is_empty()
    }
    /// Width of one flattened example.
    pub fn n_features(&self) -> usize {
        self.sample_shape.iter().product()
    }
    /// Number of classes (0 for a regression).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }
    /// Checks internal consistency; the message says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.n_rows() == 0 {
            return Err("the data set has no rows".into());
        }
        if self.n_features() == 0 {
            return Err("the data set has no feature columns".into());
        }
        if self.features.len() != self.n_rows() * self.n_features() {
            return Err(format!(
                "{} feature values for {} rows of {} features",
                self.features.len(),
                self.n_rows(),
                self.n_features()
            ));
        }
        if self.is_regression() {
            if !self.labels.is_empty() {
                return Err("a regression target has no class labels".into());
            }
            if !self.targets.iter().all(|v| v.is_finite()) {
                return Err("a target value is not finite (NaN or infinite)".into());
            }
            if self.targets.iter().all(|&v| v == self.targets[0]) {
                return Err(format!("the target is {} in every row; there is nothing to predict", self.targets[0]));
            }
            if !self.features.iter().all(|v| v.is_finite()) {
                return Err("a feature value is not finite (NaN or infinite)".into());
            }
            return Ok(());
        }
        if self.n_classes() < 2 {
            return Err(format!("the label has {} distinct value(s); at least 2 are needed", self.n_classes()));
        }
        if let Some(l) = self.labels.iter().find(|&&l| l as usize >= self.n_classes()) {
            return Err(format!("label {l} is out of range for {} classes", self.n_classes()));
        }
        if !self.features.iter().all(|v| v.is_finite()) {
            return Err("a feature value is not finite (NaN or infinite)".into());
        }
        Ok(())
    }
    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let w = self.n_features();
        let mut features = Vec::with_capacity(idx.len() * w);
        for &i in idx {
            features.extend_from_slice(&self.features[i * w..(i + 1) * w]);
        }
        Dataset {
            features,
            sample_shape: self.sample_shape.clone(),
            labels: if self.labels.is_empty() { Vec::new() } else { idx.iter().map(|&i| self.labels[i]).collect() },
            targets: if self.targets.is_empty() { Vec::new() } else { idx.iter().map(|&i| self.targets[i]).collect() },
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
        }
    }
}

/// A fixed split of one data set: trainers fit on `train` and score on `valid`; `test` is never
/// seen by the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSplit {
    /// Rows to train on.
    pub train: Dataset,
    /// Held-out rows that score each architecture.
    pub valid: Dataset,
    /// Rows the search never sees (may be empty).
    pub test: Option<Dataset>,
}

/// The standardization of a regression target: trainers fit on `(y - mean) / std` of the
/// training rows and report every number (metrics, predictions) back in the label's units;
/// an exported model has it folded into its output layer ([`TargetScale::fold`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training targets.
    pub mean: f64,
    /// Their (population) standard deviation; 1 when it is not positive.
    pub std: f64,
}

impl TargetScale {
    /// The scale of `train`'s targets; `None` for classification.
    pub fn of(train: &Dataset) -> Option<Self> {
        if !train.is_regression() {
            return None;
        }
        let n = train.targets.len() as f64;
        let mean = train.targets.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = train.targets.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let std = var.sqrt();
        Some(Self { mean, std: if std.is_finite() && std > 1e-12 { std } else { 1.0 } })
    }

    /// `y` standardized.
    pub fn scale(&self, y: f32) -> f32 {
        ((f64::from(y) - self.mean) / self.std) as f32
    }

    /// A standardized output back in the label's units.
    pub fn unscale(&self, z: f32) -> f32 {
        (f64::from(z) * self.std + self.mean) as f32
    }

    /// `weights` (a network whose last layer outputs the standardized target) changed so that
    /// the last layer outputs the target in the label's units: its kernel times `std`, its bias
    /// times `std` plus `mean`. What an exported model stores, so that every runtime of it
    /// (predict, ONNX) needs nothing more.
    pub fn fold(&self, weights: &mut [crate::LayerWeights]) {
        if let Some(last) = weights.last_mut() {
            for k in &mut last.kernel.data {
                *k = (f64::from(*k) * self.std) as f32;
            }
            for b in &mut last.bias.data {
                *b = self.unscale(*b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HostTensor, LayerWeights};

    #[test]
    fn a_folded_output_layer_predicts_in_the_label_units() {
        let train = Dataset {
            features: vec![0.0, 1.0, 2.0],
            sample_shape: vec![1],
            labels: Vec::new(),
            targets: vec![10.0, 20.0, 30.0],
            class_names: Vec::new(),
            feature_names: vec!["x".into()],
        };
        assert!(train.is_regression() && train.check().is_ok());
        let s = TargetScale::of(&train).expect("a regression");
        assert_eq!(s.mean, 20.0);
        assert!((s.unscale(s.scale(30.0)) - 30.0).abs() < 1e-5);
        // One linear unit z = 2x - 1 on the standardized scale.
        let mut w = vec![LayerWeights {
            kernel: HostTensor { shape: vec![1, 1], data: vec![2.0] },
            bias: HostTensor { shape: vec![1], data: vec![-1.0] },
        }];
        s.fold(&mut w);
        for x in [0.0f32, 1.5, -3.0] {
            let folded = w[0].kernel.data[0] * x + w[0].bias.data[0];
            assert!((folded - s.unscale(2.0 * x - 1.0)).abs() < 1e-4, "{folded}");
        }
        let constant = Dataset { targets: vec![5.0; 3], ..train };
        assert!(constant.check().expect_err("refused").contains("5 in every row"));
    }
}
