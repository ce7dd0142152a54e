//! [`ModelCard`]: everything besides the weights that a model directory needs to predict, and
//! how the model was made (`model.json`).

use mlpnas_burn::Backend;
use mlpnas_data::Standardizer;
use serde::{Deserialize, Serialize};

/// Format tag of [`ModelCard::format`].
pub const CARD_FORMAT: &str = "mlpnas-model/1";

/// The description of an exported model (`model.json` beside the Burn record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Always [`CARD_FORMAT`].
    pub format: String,
    /// Architecture text, output layer included, e.g. `64:relu,dropout,32:elu,3:softmax`.
    pub architecture: String,
    /// Rate of the `dropout` tokens (inactive at prediction; needed to rebuild the structure).
    pub dropout: f64,
    /// Backend to load the record on.
    pub backend: Backend,
    /// Names of the (flattened) input features, in the order the model takes them.
    pub feature_names: Vec<String>,
    /// Shape of one example before flattening (e.g. `[8, 8]`).
    pub sample_shape: Vec<usize>,
    /// Class names, indexed by the model's output.
    pub class_names: Vec<String>,
    /// Label column of the training CSV, if one was named (lets `predict` report accuracy).
    pub label_column: Option<String>,
    /// Standardization applied to inputs before the model (fitted on the training rows).
    pub standardizer: Option<Standardizer>,
    /// Data the model was trained on (`builtin:NAME` or an absolute path).
    pub data_source: String,
    /// How it was trained and how well it does.
    pub metrics: FinalMetrics,
}

/// Training facts and scores of a finalized model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalMetrics {
    /// Rank among the run's trials by search reward (1 = best).
    pub rank: usize,
    /// The trial of the search it comes from.
    pub trial: usize,
    /// Its reward in the search.
    pub search_reward: f64,
    /// `scratch` or `shared` (warm start from the run's weight store).
    pub init: String,
    /// Dense layers that started from shared weights.
    pub transfers: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept (lowest validation loss).
    pub best_epoch: usize,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Validation loss of the kept weights.
    pub val_loss: f64,
    /// Validation accuracy of the kept weights.
    pub val_acc: f64,
    /// Test loss of the kept weights.
    pub test_loss: f64,
    /// Test accuracy of the kept weights.
    pub test_acc: f64,
    /// Rows in the training, validation and test parts.
    pub rows: [usize; 3],
    /// Wall time of the final training.
    pub seconds: f64,
}
