//! trainer-burn: the Burn implementation of [`mlpnas_core::ArchitectureTrainer`] (`[trainer]
//! type = "burn"`), a plugin like the controllers and stores.
//!
//! [`BurnTrainerConfig`] (`[trainer] type = "burn"`) builds a [`BurnTrainer`], which turns each
//! decoded architecture into a stack of Burn `Linear` layers with the chosen activations and
//! dropout, trains it with Adam or SGD (Keras-style learning-rate decay) on the search's fixed
//! training rows and scores it on the validation rows after every epoch. Gradients come from
//! the closed form (`closed_form.rs`, the default: no autodiff graph, fused optimizer update on
//! CPU backends) or from Burn's autodiff (`gradients = "autodiff"`, the tested reference).
//!
//! The same trainer fits a chosen architecture with early stopping
//! ([`mlpnas_core::ArchitectureTrainer::fit`], `mlpnas finalize`), scores weights on a data part,
//! and [`BurnModel`] predicts class probabilities from plain weights (`mlpnas predict`).
//!
//! Backends are chosen at run time by name (`mlpnas_backend::Backend`): `flex` and `ndarray`
//! (pure-Rust CPU) are always compiled in; `tch-cpu` and `tch-cuda:N` (LibTorch) with the cargo
//! feature `tch`. Callers never name a Burn type: they see only the core traits.

mod closed_form;
mod config;
mod continuation;
mod export;
mod learner;
mod model;
mod trainer;

pub use config::{BurnTrainerConfig, Gradients};
pub use export::BurnModel;
/// The backend names of `[trainer] backend = "..."`.
pub use mlpnas_backend::Backend;
pub use mlpnas_core::Optimizer;
pub use model::RegressionLoss;
pub use trainer::BurnTrainer;
