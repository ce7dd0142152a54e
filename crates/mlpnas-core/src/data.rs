//! The in-memory data set handed to trainers: features already numeric, labels already encoded
//! (classification) or target values (regression); [`TargetScale`], the one standardization
//! of a regression target; and [`DataSummary`], what a run's data holds, as readers that load no
//! data show it.
//!
//! Loading, label encoding, splitting and standardization live in `mlpnas-data`; this is only the
//! shape every trainer agrees on.

use std::fmt;

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
    /// The rows of `parts` one after the other (e.g. training then validation rows, for a model
    /// refit on both); they must describe the same columns and classes.
    pub fn concat(parts: &[&Dataset]) -> Result<Dataset, String> {
        let (first, rest) = parts.split_first().ok_or("nothing to concatenate")?;
        let mut out = (*first).clone();
        for p in rest {
            if p.sample_shape != out.sample_shape
                || p.feature_names != out.feature_names
                || p.class_names != out.class_names
                || p.is_regression() != out.is_regression()
            {
                return Err("the parts differ in their columns or classes".into());
            }
            out.features.extend_from_slice(&p.features);
            out.labels.extend_from_slice(&p.labels);
            out.targets.extend_from_slice(&p.targets);
        }
        Ok(out)
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

/// How a search scores each candidate: on its split's validation rows (a holdout, the
/// default), or on resampled splits of its training and validation rows together: K
/// stratified folds (`search.folds`) or R stratified holdouts (`search.repeats`). The reward is
/// the mean over the resampled splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// The split's validation rows.
    Holdout,
    /// K-fold cross-validation: every row is scored once.
    Folds(usize),
    /// Repeated holdouts with different rows.
    Repeats(usize),
}

impl Resampling {
    /// Trainings per candidate (1 for a holdout).
    pub fn evaluations(self) -> usize {
        match self {
            Resampling::Holdout => 1,
            Resampling::Folds(k) => k,
            Resampling::Repeats(r) => r,
        }
    }
}

impl fmt::Display for Resampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resampling::Holdout => f.write_str("the validation rows"),
            Resampling::Folds(k) => write!(f, "{k} folds"),
            Resampling::Repeats(r) => write!(f, "{r} repeated holdouts"),
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

/// What a run's data holds (rows per part, features, the label's classes and their counts or a
/// regression target's mean and spread): recorded in the run's storage when a search starts
/// ([`crate::RunStorage::write_data_summary`]), so `report` and the dashboard show what a reward
/// should be read against (the majority rate, or the RMSE of predicting the mean) without
/// loading the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Rows of the training and validation parts, then the test part's when it has one.
    pub rows: Vec<usize>,
    /// Width of one (flattened) example.
    pub features: usize,
    /// The label over every part.
    pub label: LabelSummary,
}

/// A label over every part of a split: its classes and their rows, or a target's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabelSummary {
    /// Classification: each class with its rows.
    Classes {
        /// Class names, in label order.
        names: Vec<String>,
        /// Rows of each class.
        counts: Vec<usize>,
    },
    /// Regression: the target's mean and (population) standard deviation.
    Target {
        /// Mean.
        mean: f64,
        /// Standard deviation: the RMSE of always predicting the mean.
        std: f64,
    },
}

impl DataSummary {
    /// The summary of `split`.
    pub fn of(split: &DataSplit) -> Self {
        let parts: Vec<&Dataset> =
            [Some(&split.train), Some(&split.valid), split.test.as_ref()].into_iter().flatten().collect();
        let label = if split.train.is_regression() {
            let values: Vec<f64> = parts.iter().flat_map(|p| p.targets.iter().map(|&v| f64::from(v))).collect();
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            LabelSummary::Target { mean, std }
        } else {
            let mut counts = vec![0usize; split.train.n_classes()];
            for &l in parts.iter().flat_map(|p| p.labels.iter()) {
                if let Some(c) = counts.get_mut(l as usize) {
                    *c += 1;
                }
            }
            LabelSummary::Classes { names: split.train.class_names.clone(), counts }
        };
        Self { rows: parts.iter().map(|p| p.n_rows()).collect(), features: split.train.n_features(), label }
    }
}

impl LabelSummary {
    /// The share of the commonest class (the accuracy of always answering it); `None` for a
    /// regression.
    pub fn majority_rate(&self) -> Option<f64> {
        match self {
            LabelSummary::Classes { counts, .. } => {
                let total: usize = counts.iter().sum();
                Some(counts.iter().copied().max().unwrap_or(0) as f64 / total.max(1) as f64)
            }
            LabelSummary::Target { .. } => None,
        }
    }
}

impl std::fmt::Display for LabelSummary {
    /// `classes: bad 60, good 540 (majority rate 0.9000)`, or `target: mean 22.53, standard
    /// deviation 9.1880 (predicting the mean scores rmse 9.1880)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelSummary::Classes { names, counts } => {
                let shown: Vec<String> = names.iter().zip(counts).map(|(n, c)| format!("{n} {c}")).collect();
                write!(f, "classes: {} (majority rate {:.4})", shown.join(", "), self.majority_rate().unwrap_or(0.0))
            }
            LabelSummary::Target { mean, std } => write!(
                f,
                "target: mean {mean:.4}, standard deviation {std:.4} (predicting the mean scores rmse {std:.4})"
            ),
        }
    }
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
        let constant = Dataset { targets: vec![5.0; 3], ..train.clone() };
        assert!(constant.check().expect_err("refused").contains("5 in every row"));
        // Its summary: the target's mean and spread over every part.
        let split = DataSplit { train: train.clone(), valid: train.select(&[0]), test: None };
        let summary = DataSummary::of(&split);
        assert_eq!((summary.rows.clone(), summary.features), (vec![3, 1], 1));
        let LabelSummary::Target { mean, std } = summary.label else { panic!("a target") };
        assert_eq!(mean, 17.5);
        assert!((std - (68.75f64).sqrt()).abs() < 1e-9);
        assert_eq!(summary.label.majority_rate(), None);
    }

    #[test]
    fn a_class_summary_counts_every_part() {
        let d = Dataset {
            features: vec![0.0; 5],
            sample_shape: vec![1],
            labels: vec![0, 1, 1, 1, 0],
            targets: Vec::new(),
            class_names: vec!["a".into(), "b".into()],
            feature_names: vec!["x".into()],
        };
        let split = DataSplit { train: d.select(&[0, 1, 2]), valid: d.select(&[3]), test: Some(d.select(&[4])) };
        let s = DataSummary::of(&split);
        assert_eq!(s.rows, vec![3, 1, 1]);
        assert_eq!(s.label.to_string(), "classes: a 2, b 3 (majority rate 0.6000)");
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(serde_json::from_str::<DataSummary>(&json).expect("back"), s);
    }
}
