//! The journal record of one trained architecture (a line of `journal.jsonl`).

use serde::{Deserialize, Serialize};

use crate::space::TokenId;
use crate::trainer::EpochMetrics;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Trained to the end.
    Ok,
    /// The loss became NaN or infinite; the reward is 0.
    Diverged,
}

/// One finished trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0-based index over the whole search.
    pub trial: usize,
    /// Controller epoch it belongs to.
    pub epoch: usize,
    /// The sequence.
    pub tokens: Vec<TokenId>,
    /// Its text form, e.g. `64:relu,dropout,32:elu,3:softmax`.
    pub architecture: String,
    /// Epoch-weighted mean validation accuracy (weights 1..N); 0 when diverged.
    pub reward: f64,
    /// Validation accuracy after the last epoch.
    pub val_acc_last: f64,
    /// The controller's predicted accuracy, if it has a predictor.
    pub predicted: Option<f64>,
    /// Dense layers that started from shared weights.
    pub transfers: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Wall time of training and scoring.
    pub seconds: f64,
    /// How it ended.
    pub status: TrialStatus,
    /// Per-epoch metrics.
    pub epochs: Vec<EpochMetrics>,
}
