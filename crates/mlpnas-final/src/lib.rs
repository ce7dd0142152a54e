//! mlpnas-final: what comes after a search.
//!
//! * [`finalize`]: retrains the best architectures of a finished (or interrupted) run directory
//!   on the training part, from scratch or warm-started from the run's shared weights, with early
//!   stopping on the validation loss; scores each on a test part the search never scored on; and
//!   exports each as a model directory ([`MODEL_RECORD`] = a Burn record of the weights,
//!   [`MODEL_CARD`] = its [`ModelCard`]: architecture, preprocessing, metrics) plus a leaderboard
//!   (`leaderboard.md`, `leaderboard.json`);
//! * [`Predictor`]: loads a model directory and predicts labels and class probabilities for new
//!   rows, matching feature columns by name and applying the saved standardization.
//!
//! Final training and export use the Burn trainer (`[trainer] type = "burn"`), the only trainer
//! that exists; a run made with another trainer is refused with a clear error.
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
mod predict;

pub use card::{FinalMetrics, ModelCard};
pub use error::FinalError;
pub use finalize::{FinalizeOptions, Init, Leaderboard, LeaderboardEntry, finalize};
/// Backend names (`flex`, `ndarray`, `tch-cpu`, `tch-cuda:N`), for the `backend` overrides.
pub use mlpnas_burn::Backend;
pub use predict::{Predictions, Predictor};

/// File name of the Burn record in a model directory.
pub const MODEL_RECORD: &str = "model.bpk";
/// File name of the model card in a model directory.
pub const MODEL_CARD: &str = "model.json";
