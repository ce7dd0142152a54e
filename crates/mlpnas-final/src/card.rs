//! [`ModelCard`]: everything besides the weights that a model directory needs to predict, and
//! how the model was made (`model.json`).

use mlpnas_core::TrainerConfig;
use mlpnas_data::{Preprocessor, Standardizer};
use mlpnas_runs::FinalMetrics;
use serde::{Deserialize, Serialize};

/// Format tag of [`ModelCard::format`].
pub const CARD_FORMAT: &str = "mlpnas-model/2";
/// Format tag of the cards of earlier releases: `backend` instead of `trainer`, weights in a
/// Burn record (`model.bpk`); still read.
pub const LEGACY_CARD_FORMAT: &str = "mlpnas-model/1";

/// The description of an exported model (`model.json` beside the weights, `model.safetensors`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Always [`CARD_FORMAT`].
    pub format: String,
    /// Architecture text, output layer included, e.g. `64:relu,dropout,32:elu,3:softmax`.
    pub architecture: String,
    /// Rate of the `dropout` tokens (inactive at prediction; needed to rebuild the structure).
    pub dropout: f64,
    /// The trainer settings it was trained with: its `type` names the plugin that rebuilds the
    /// model for prediction, its `backend` (if any) where it runs.
    pub trainer: Box<dyn TrainerConfig>,
    /// Names of the (flattened) input features, in the order the model takes them.
    pub feature_names: Vec<String>,
    /// Shape of one example before flattening (e.g. `[8, 8]`).
    pub sample_shape: Vec<usize>,
    /// Class names, indexed by the model's output.
    pub class_names: Vec<String>,
    /// Label column of the training data (lets `predict` report accuracy on labelled rows).
    pub label_column: Option<String>,
    /// The encoding of a table's columns into the inputs (fitted on the training rows), applied
    /// before the standardizer; absent for numeric data (and in cards of earlier releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessor: Option<Preprocessor>,
    /// Standardization applied to inputs before the model (fitted on the training rows).
    pub standardizer: Option<Standardizer>,
    /// Data the model was trained on (`builtin:NAME` or an absolute path).
    pub data_source: String,
    /// How it was trained and how well it does.
    pub metrics: FinalMetrics,
    /// The positive class of the run's `search.metric` (f1, two-class auc), when the metric is
    /// not the accuracy (absent in earlier releases' cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_class: Option<String>,
    /// A regression's target standardization during training (mean and standard deviation of
    /// the training targets): for the record only, as the exported weights have it folded into
    /// their output layer and predict in the label's units. Absent for classification (no
    /// `class_names` then either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scale: Option<mlpnas_core::TargetScale>,
}

impl Clone for ModelCard {
    fn clone(&self) -> Self {
        Self {
            format: self.format.clone(),
            architecture: self.architecture.clone(),
            dropout: self.dropout,
            trainer: self.trainer.boxed_clone(),
            feature_names: self.feature_names.clone(),
            sample_shape: self.sample_shape.clone(),
            class_names: self.class_names.clone(),
            label_column: self.label_column.clone(),
            preprocessor: self.preprocessor.clone(),
            standardizer: self.standardizer.clone(),
            data_source: self.data_source.clone(),
            metrics: self.metrics.clone(),
            positive_class: self.positive_class.clone(),
            target_scale: self.target_scale,
        }
    }
}

impl ModelCard {
    /// The run's objective, when it is another metric than the accuracy (the metric the
    /// leaderboard ranked by, and its positive class), so `predict` scores labelled rows by it.
    pub fn objective(&self) -> Option<mlpnas_core::Objective> {
        let metric = self.metrics.val_metric?.name;
        let positive = self.positive_class.as_ref().and_then(|p| self.class_names.iter().position(|c| c == p));
        Some(mlpnas_core::Objective { metric, positive: positive.unwrap_or(0) as u32, target_std: 0.0 })
    }

    /// Parses a card, current or of an earlier release (whose `backend` becomes the settings of
    /// the Burn trainer, the only one then).
    pub fn parse(text: &str) -> Result<(Self, bool), String> {
        let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not a model card: {e}"))?;
        let format = v.get("format").and_then(|f| f.as_str()).unwrap_or_default().to_string();
        let legacy = format == LEGACY_CARD_FORMAT;
        if legacy && let Some(obj) = v.as_object_mut() {
            let backend = obj.remove("backend").unwrap_or_else(|| serde_json::Value::String("flex".into()));
            obj.insert("trainer".into(), serde_json::json!({ "type": "burn", "backend": backend }));
            obj.insert("format".into(), serde_json::Value::String(CARD_FORMAT.into()));
        } else if format != CARD_FORMAT {
            return Err(format!("format {format:?} is not {CARD_FORMAT:?}"));
        }
        let card: ModelCard = serde_json::from_value(v).map_err(|e| format!("not a model card: {e}"))?;
        Ok((card, legacy))
    }
}
