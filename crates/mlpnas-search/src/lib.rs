//! mlpnas-search: runs an architecture search end to end.
//!
//! * [`config`]: the search config file (`[data]`, `[space]`, `[search]`, `[controller]`,
//!   `[trainer]`, `[store]`), `--set key.path=value` overrides, one-line errors naming the file;
//! * [`run`]: [`Run`], the one owner of a run's state (config, trials, epochs, checkpoint,
//!   summary) over a [`mlpnas_core::RunStorage`], and the one replay of its weight store;
//! * [`prepare`]: the run's data as trainers get it ([`prepare_data`]);
//! * [`search`]: the search loop ([`Search`]) and single-architecture evaluation ([`evaluate`]);
//!   [`observer`]: what it tells whoever shows its progress; `epoch`: one controller epoch's
//!   trials from proposal to journal (both drivers); `schedule`: which of them may train at once
//!   without changing what any of them reads from the weight store; `bracket`: one epoch trained
//!   rung by rung under a multi-fidelity `[scheduler]`;
//! * [`training`]: the one local training of trials (threads of this process);
//! * [`queued`]: the one training through a run's queue (workers, and this process's threads);
//! * [`claim`]: training one claimed trial under a renewed lease (workers and coordinators);
//! * [`tabulate`]: `mlpnas tabulate`, every configuration of a space with several seeds, as a
//!   benchmark table;
//! * [`worker`]: `mlpnas worker`, claiming queued trials of any run.
//!
//! Module imports run one way: `search` and `tabulate` use `queued` and `training` (and
//! `epoch`, which uses `schedule`; `search` uses `bracket`, which uses `epoch`); `queued` and
//! `worker` use `claim`; `claim` uses `training`. Where a run's files live and what they mean
//! (the run directory, the journal, the loop settings) is `mlpnas-runs`'s.
//!
//! This crate knows the core traits only; which controller, trainer and store run is decided by
//! the config through typetag, so the binary must link every plugin (see `mlpnas-link`).

mod bracket;
pub mod claim;
pub mod config;
mod epoch;
pub mod error;
pub mod observer;
pub mod prepare;
pub mod queued;
pub mod replay;
pub mod resampled;
pub mod run;
mod schedule;
pub mod search;
pub mod tabulate;
pub mod training;
pub mod worker;

pub use claim::train_claim;
pub use config::{CheckedConfig, RESUMABLE_CHANGES, SearchConfig, resume_config};
pub use error::SearchError;
pub use observer::Observer;
pub use prepare::{Prepared, prepare_data};
pub use replay::{Replayed, replay};
pub use resampled::{Resampled, build_trainer};
pub use run::Run;
pub use search::{Search, SearchSummary, check_run, evaluate};
pub use worker::{WorkerOptions, work};
