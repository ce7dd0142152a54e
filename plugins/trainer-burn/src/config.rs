//! `[trainer] type = "burn"`: training settings, validated, then built into a [`BurnTrainer`].

use std::path::Path;
use std::sync::Arc;

use mlpnas_backend::Backend;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, ClassWeight, ConfigError, DataSplit, Hyper, LayerWeights, Model, Objective,
    Optimizer, TrainerConfig, TrainerError, Training,
};
use serde::{Deserialize, Serialize};

use crate::export::BurnModel;
use crate::model::RegressionLoss;
use crate::trainer::BurnTrainer;

/// How the trainer computes gradients: both give the same gradients up to float rounding (tested
/// on every backend); they differ in speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gradients {
    /// The MLP's gradients written out (chain rule per layer) and computed with tensor operations
    /// on the plain backend: no autodiff graph, no global lock (the default; BENCHMARKS.md).
    #[default]
    ClosedForm,
    /// Burn's autodiff and `burn::optim`: the reference the closed form is tested against.
    Autodiff,
}

/// Settings of the Burn trainer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurnTrainerConfig {
    /// Backend name: `flex` (default), `ndarray`, or with the `tch` feature `tch-cpu` /
    /// `tch-cuda:N` (see [`Backend`]).
    pub backend: Backend,
    /// Passes over the training rows per architecture.
    pub epochs: usize,
    /// Rows per gradient step.
    pub batch_size: usize,
    /// `adam` or `sgd`.
    pub optimizer: Optimizer,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Keras-style decay: `lr_t = lr / (1 + decay * step)`.
    pub decay: f64,
    /// Momentum of `sgd` (0 for plain SGD).
    pub momentum: f64,
    /// Decoupled weight decay (AdamW-style, for both optimizers): every parameter is multiplied
    /// by `1 - lr * weight_decay` before each step's update (0: none).
    pub weight_decay: f64,
    /// `closed-form` (default) or `autodiff` ([`Gradients`]).
    pub gradients: Gradients,
    /// How the loss weighs each class's rows: `"none"` (default), `"balanced"`, or
    /// `{ CLASS = weight, ... }` ([`ClassWeight`]). Training and validation losses are weighted
    /// alike, so early stopping in `finalize` follows the same objective.
    pub class_weight: ClassWeight,
    /// The loss of a regression (`search.task = "regression"`): `"mse"` (default) or `"huber"`
    /// ([`RegressionLoss`]); classification always uses cross-entropy.
    pub loss: RegressionLoss,
}

impl Default for BurnTrainerConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Flex,
            epochs: 10,
            batch_size: 32,
            optimizer: Optimizer::Adam,
            learning_rate: 0.01,
            decay: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            gradients: Gradients::default(),
            class_weight: ClassWeight::None,
            loss: RegressionLoss::Mse,
        }
    }
}

impl BurnTrainerConfig {
    /// These settings with what a candidate carries in their place: its learning rate, batch
    /// size, weight decay, optimizer and epochs (its dropout rate is in its layers already).
    pub fn for_candidate(&self, training: &Training) -> Self {
        let mut cfg = self.clone();
        for h in Hyper::ALL {
            match h {
                Hyper::LearningRate => cfg.learning_rate = training.learning_rate.unwrap_or(cfg.learning_rate),
                Hyper::BatchSize => cfg.batch_size = training.batch_size.map_or(cfg.batch_size, |b| b as usize),
                Hyper::WeightDecay => cfg.weight_decay = training.weight_decay.unwrap_or(cfg.weight_decay),
                Hyper::Optimizer => cfg.optimizer = training.optimizer.unwrap_or(cfg.optimizer),
                Hyper::Dropout => {}
                Hyper::Epochs => cfg.epochs = training.epochs.map_or(cfg.epochs, |e| e as usize),
            }
        }
        cfg
    }
}

#[typetag::serde(name = "burn")]
impl TrainerConfig for BurnTrainerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.backend.check().map_err(|e| ConfigError::new("backend", e))?;
        // The settings a space may search are checked by the space's own rules (one home).
        let training = Training {
            learning_rate: Some(self.learning_rate),
            batch_size: Some(u32::try_from(self.batch_size).unwrap_or(u32::MAX)),
            weight_decay: Some(self.weight_decay),
            optimizer: Some(self.optimizer),
            dropout: None,
            epochs: Some(u32::try_from(self.epochs).unwrap_or(u32::MAX)),
        };
        training.validate()?;
        if !(self.decay.is_finite() && self.decay >= 0.0) {
            return Err(ConfigError::new("decay", format!("{} is not a non-negative number", self.decay)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(ConfigError::new("momentum", format!("{} is not in [0, 1)", self.momentum)));
        }
        if self.momentum > 0.0 && self.optimizer != Optimizer::Sgd {
            return Err(ConfigError::new(
                "momentum",
                "only applies to optimizer = \"sgd\" (a space that searches optimizers uses it for its sgd candidates when [trainer] optimizer is \"sgd\")",
            ));
        }
        self.class_weight.validate().map_err(|e| ConfigError::new("class_weight", e))?;
        Ok(())
    }

    fn build(&self, data: Arc<DataSplit>, objective: &Objective) -> Result<Box<dyn ArchitectureTrainer>, TrainerError> {
        Ok(Box::new(BurnTrainer::new(self.clone(), data, *objective)?))
    }

    fn model(&self, arch: &Architecture, weights: &[LayerWeights]) -> Result<Box<dyn Model>, TrainerError> {
        Ok(Box::new(BurnModel::new(arch, weights, self.backend)?))
    }

    fn boxed_clone(&self) -> Box<dyn TrainerConfig> {
        Box::new(self.clone())
    }

    fn backend(&self) -> Option<String> {
        Some(self.backend.to_string())
    }

    fn set_backend(&mut self, backend: &str) -> Result<(), ConfigError> {
        self.backend = Backend::parse_available(backend).map_err(|e| ConfigError::new("backend", e))?;
        Ok(())
    }

    fn added_fields(&self) -> &'static [(&'static str, &'static str)] {
        // Runs stored before closed-form gradients existed trained with Burn's autodiff; before
        // class weights, every class weighed 1; before regression, its loss did not matter;
        // before weight decay, there was none.
        &[("gradients", "\"autodiff\""), ("class_weight", "\"none\""), ("loss", "\"mse\""), ("weight_decay", "0.0")]
    }

    fn import_legacy_model(&self, arch: &Architecture, path: &Path) -> Result<Vec<LayerWeights>, TrainerError> {
        BurnModel::load(arch, path, self.backend)?.weights()
    }
}
