//! mlpnas-search: runs an architecture search end to end.
//!
//! * [`config`]: the search config file (`[data]`, `[space]`, `[search]`, `[controller]`,
//!   `[trainer]`, `[store]`), `--set key.path=value` overrides, one-line errors naming the file;
//! * [`run`]: the search loop ([`Search`]) and single-architecture evaluation ([`evaluate`]);
//! * [`journal`]: the append-only `journal.jsonl` of a run directory, and the top-N summary;
//! * [`rundir`]: the other files of a run directory (checkpoints, pending weights, per-epoch
//!   reports, summary) and how they are written crash-safely.
//!
//! This crate knows the core traits only; which controller, trainer and store run is decided by
//! the config through typetag, so the binary must link every plugin (see `mlpnas-link`).

pub mod config;
pub mod error;
pub mod journal;
pub mod run;
pub mod rundir;

pub use config::{LoopConfig, RESUMABLE_CHANGES, SearchConfig, resume_config, run_config};
pub use error::SearchError;
pub use journal::{Journal, read_journal, top_n};
pub use run::{Observer, Prepared, Search, SearchSummary, evaluate, prepare_data};
pub use rundir::{RunDir, SummaryFile};
