//! The in-memory data set handed to trainers: features already numeric, labels already encoded.
//!
//! Loading, label encoding, splitting and standardization live in `mlpnas-data`; this is only the
//! shape every trainer agrees on.

use serde::{Deserialize, Serialize};

/// Examples with numeric features and class labels `0..n_classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// `n_rows * sample_shape.product()` values, row-major.
    pub features: Vec<f32>,
    /// Shape of one example (e.g. `[11]`, or `[8, 8]` for images; trainers flatten it).
    pub sample_shape: Vec<usize>,
    /// One label per row, each `< class_names.len()`.
    pub labels: Vec<u32>,
    /// Name of each class, indexed by label.
    pub class_names: Vec<String>,
    /// Name of each (flattened) feature.
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// Number of examples.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }
    /// Width of one flattened example.
    pub fn n_features(&self) -> usize {
        self.sample_shape.iter().product()
    }
    /// Number of classes.
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
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
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
