//! mlpnas-final: what comes after a search.
//!
//! * [`finalize`]: retrains the best architectures of a finished (or interrupted) run directory
//!   on the training part, from scratch or warm-started from the run's shared weights, with early
//!   stopping on the validation loss; scores each on a test part the search never scored on; and
//!   exports each as a model directory ([`MODEL_WEIGHTS`] = the weights in the one weights format,
//!   [`MODEL_CARD`] = its [`ModelCard`]: architecture, trainer, preprocessing, metrics) plus a leaderboard
//!   (`leaderboard.md`, `leaderboard.json`), and [`MODEL_ONNX`], the same model as ONNX
//!   ([`onnx`]);
//! * [`Predictor`]: loads a model directory and predicts labels and class probabilities for new
//!   rows, matching feature columns by name and applying the saved standardization.
//!
//! Final training, scoring and prediction go through the trainer plugin the run was made with,
//! through the core traits only ([`mlpnas_core::ArchitectureTrainer`], [`mlpnas_core::Model`]):
//! this crate names no framework type.
//!
//! # The test part
//!
//! If the run's `[data]` had a `test_fraction`, its test part is used as is. Otherwise finalize
//! re-splits the data with the run's seed and `test_fraction` (default 0.1): the validation rows
//! stay exactly those the search scored on, and the test rows are taken out of the search's
//! training rows. No architecture was selected on them, and a model retrained from scratch never
//! sees them; but the run's shared weights were trained on them, so `--from-shared` is refused
//! for such a run (it would leak them into the test score).

mod card;
mod error;
mod finalize;
pub mod onnx;
mod predict;

pub use card::{CARD_FORMAT, LEGACY_CARD_FORMAT, ModelCard};
pub use error::FinalError;
pub use finalize::{FinalizeOptions, Init, RefitOn, finalize, finalize_run, temporary_dir};
/// What finalize leaves in a run directory is `mlpnas-runs`'s (the dashboard reads it too).
pub use mlpnas_runs::{FinalMetrics, Leaderboard, LeaderboardEntry, Refit};
pub use predict::{LabelScore, Predictions, Predictor};

/// File name of the weights in a model directory (safetensors, [`mlpnas_core::codec`]).
pub const MODEL_WEIGHTS: &str = "model.safetensors";
/// File name of the model as ONNX in a model directory ([`onnx`]).
pub const MODEL_ONNX: &str = "model.onnx";
/// File name of the weights in model directories of earlier releases (a Burn record).
pub const LEGACY_MODEL_RECORD: &str = "model.bpk";
/// File name of the model card in a model directory.
pub const MODEL_CARD: &str = "model.json";
