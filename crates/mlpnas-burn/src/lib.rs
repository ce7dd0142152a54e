//! mlpnas-burn: the Burn implementation of [`mlpnas_core::ArchitectureTrainer`].
//!
//! [`BurnTrainerConfig`] (`[trainer] type = "burn"`) builds a [`BurnTrainer`], which turns each
//! decoded architecture into a stack of Burn `Linear` layers with the chosen activations and
//! dropout, trains it with Adam or SGD (Keras-style learning-rate decay) on the search's fixed
//! training rows and scores it on the validation rows after every epoch.
//!
//! [`BurnTrainer::train_final`] retrains a chosen architecture with early stopping, and
//! [`BurnModel`] saves it as a Burn record, loads it back and predicts class probabilities
//! (`mlpnas finalize` and `mlpnas predict`).
//!
//! Backends are chosen at run time by name ([`Backend`]): `flex` and `ndarray` (pure-Rust CPU)
//! are always compiled in; `tch-cpu` and `tch-cuda:N` (LibTorch) with the cargo feature `tch`.
//! Callers never name a Burn type: they see only the core traits.

mod backend;
mod config;
mod export;
mod model;
mod trainer;

pub use backend::Backend;
pub use config::{BurnTrainerConfig, OptimizerKind};
pub use export::BurnModel;
pub use trainer::{BurnTrainer, FinalOutcome};
