//! The trainer extension point: builds an architecture as a model, trains it and scores it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::data::DataSplit;
use crate::error::{ConfigError, TrainerError};
use crate::tensor::LayerWeights;

/// Metrics after one training epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the validation rows.
    pub val_loss: f64,
    /// Accuracy on the validation rows.
    pub val_acc: f64,
}

/// What training one architecture produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// One entry per epoch run (fewer than configured if it diverged).
    pub epochs: Vec<EpochMetrics>,
    /// Whether a loss became NaN or infinite.
    pub diverged: bool,
    /// Trained weights of each dense layer in order (empty when diverged).
    pub weights: Vec<LayerWeights>,
}

impl TrainOutcome {
    /// Reward: the mean of the validation accuracies weighted by epoch number (1..N), as in the
    /// original MLPNAS; 0 when diverged.
    pub fn reward(&self) -> f64 {
        if self.diverged || self.epochs.is_empty() {
            return 0.0;
        }
        let (num, den) = self
            .epochs
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(n, d), (i, e)| (n + (i + 1) as f64 * e.val_acc, d + (i + 1) as f64));
        num / den
    }
    /// Validation accuracy after the last epoch (0 when diverged).
    pub fn val_acc_last(&self) -> f64 {
        if self.diverged { 0.0 } else { self.epochs.last().map_or(0.0, |e| e.val_acc) }
    }
}

/// Trains architectures on one fixed data split.
///
/// # Design
///
/// A trainer owns its data (fixed for the whole search, so shared weights never see validation
/// rows) and is stateless between calls: `train(&self, ..)` takes everything a trial needs
/// (architecture, initial weights from the store, a per-trial seed) and returns everything it
/// produced (metrics, trained weights). It never touches the weight store itself: the search
/// reads the store before and writes it after, which keeps the sharing order deterministic even
/// when several trials run at once. `Send + Sync` so one trainer serves several worker threads.
/// The same seed, architecture and initial weights give the same outcome on one backend.
pub trait ArchitectureTrainer: Send + Sync + fmt::Debug {
    /// Trains `arch`; `init[i]` (if `Some`) holds the starting weights of the i-th dense layer
    /// (already checked to fit). Initial weights for the others and dropout masks derive from `seed`.
    fn train(
        &self,
        arch: &Architecture,
        init: &[Option<LayerWeights>],
        seed: u64,
    ) -> Result<TrainOutcome, TrainerError>;
    /// Width of the flattened input.
    fn input_dim(&self) -> usize;
    /// Number of classes of the task.
    fn n_classes(&self) -> usize;
}

/// Serializable settings that build an [`ArchitectureTrainer`] (`[trainer]`, `type = "..."`).
#[typetag::serde(tag = "type")]
pub trait TrainerConfig: fmt::Debug + Send + Sync {
    /// Checks every field.
    fn validate(&self) -> Result<(), ConfigError>;
    /// Validates, then builds a trainer over `data`.
    fn build(&self, data: Arc<DataSplit>) -> Result<Box<dyn ArchitectureTrainer>, TrainerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(val_acc: f64) -> EpochMetrics {
        EpochMetrics { train_loss: 1.0, val_loss: 1.0, val_acc }
    }

    #[test]
    fn reward_weights_later_epochs_more() {
        let o = TrainOutcome { epochs: vec![m(0.0), m(0.5), m(1.0)], diverged: false, weights: vec![] };
        // (1*0 + 2*0.5 + 3*1) / 6
        assert!((o.reward() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(o.val_acc_last(), 1.0);
        let d = TrainOutcome { diverged: true, ..o };
        assert_eq!(d.reward(), 0.0);
        assert_eq!(d.val_acc_last(), 0.0);
    }
}
