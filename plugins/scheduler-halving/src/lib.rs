//! scheduler-halving: multi-fidelity [`Scheduler`](mlpnas_core::Scheduler)s of mlpnas, chosen by
//! `[scheduler] type`:
//!
//! - `"successive-halving"` ([`SuccessiveHalving`]): every controller epoch is one bracket of
//!   `search.samples_per_epoch` candidates trained to `min_epochs`, the best `1/eta` of each
//!   rung trained on (rungs `max_epochs / eta^k`, ..., `max_epochs / eta`, `max_epochs`);
//! - `"hyperband"` ([`Hyperband`]): controller epochs cycle through Hyperband's brackets, from
//!   many candidates at `min_epochs` to few at `max_epochs` (Li et al. 2018);
//! - `"median"` ([`Median`]): each epoch after `warmup` is a rung; a candidate stops when its
//!   reward there is below the median of earlier controller epochs' trials at the same epoch
//!   (Optuna's MedianPruner, Google Vizier's median stopping rule).
//!
//! Each is a pure rule ([`mlpnas_core::scheduler`]'s design): no state, no clock.

pub mod halving;
pub mod median;

pub use halving::{Hyperband, HyperbandConfig, SuccessiveHalving, SuccessiveHalvingConfig};
pub use median::{Median, MedianConfig};
