//! mlpnas-search: runs an architecture search end to end.
//!
//! * [`config`]: the search config file (`[data]`, `[space]`, `[search]`, `[controller]`,
//!   `[trainer]`, `[store]`), `--set key.path=value` overrides, one-line errors naming the file;
//! * [`run`]: [`Run`], the one owner of a run's state (config, trials, epochs, checkpoint,
//!   summary) over a [`mlpnas_core::RunStorage`], and the one replay of its weight store;
//! * [`search`]: the search loop ([`Search`]) and single-architecture evaluation ([`evaluate`]);
//! * [`rundir`]: [`RunDir`], the run directory (the embedded storage): its files, its lock, how
//!   each is written crash-safely;
//! * [`tabulate`]: `mlpnas tabulate`, every configuration of a space with several seeds, as a
//!   benchmark table;
//! * [`worker`]: training queued trials (`mlpnas worker`, and a coordinator's own threads);
//! * [`journal`]: the append-only `journal.jsonl` of a run directory, and the top-N summary.
//!
//! This crate knows the core traits only; which controller, trainer and store run is decided by
//! the config through typetag, so the binary must link every plugin (see `mlpnas-link`).

pub mod config;
pub mod error;
pub mod journal;
pub mod run;
pub mod rundir;
pub mod search;
pub mod tabulate;
pub mod worker;

pub use config::{CheckedConfig, LoopConfig, RESUMABLE_CHANGES, SearchConfig, resume_config};
pub use error::SearchError;
pub use journal::{Journal, read_journal, top_n};
pub use run::Run;
pub use rundir::RunDir;
pub use search::{Observer, Prepared, Search, SearchSummary, evaluate, prepare_data};
pub use worker::{WorkerOptions, train_claim, work};
