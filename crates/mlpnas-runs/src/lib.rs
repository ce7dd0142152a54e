//! mlpnas-runs: what a stored run is, for everyone who writes or reads one.
//!
//! * [`dir`]: [`RunDir`], the run directory, the embedded [`mlpnas_core::RunStorage`] (its files,
//!   its lock, how each is written crash-safely); `mlpnas-postgres` is the other storage, beside
//!   this crate;
//! * [`fingerprint`]: a run's config carries its SHA-256, checked on every read;
//! * [`journal`]: the append-only `journal.jsonl` of a run directory, its one reader;
//! * [`settings`]: what a run's config says about the loop ([`LoopConfig`], the `[search]`
//!   section: whether it shares weights, its batch, its budget) and [`RunSettings`], the same
//!   read from a stored config by readers that build no component;
//! * [`leaderboard`]: what `finalize` leaves in a run directory ([`Leaderboard`]).
//!
//! The search (`mlpnas-search`), finalize (`mlpnas-final`), the dashboard and xtask all read a
//! run's files through this crate. It depends on `mlpnas-core` alone: no framework, no data-set
//! crate, no plugin.

pub mod dir;
pub mod fingerprint;
pub mod journal;
pub mod leaderboard;
pub mod settings;

pub use dir::{CONFIG, EPOCHS, JOURNAL, LOCK, RunDir, SUMMARY, atomic_write, utc_now, utc_parts};
pub use journal::{Journal, read_journal};
pub use leaderboard::{
    FINAL_DIR, FinalMetrics, LEADERBOARD_JSON, LEADERBOARD_MD, Leaderboard, LeaderboardEntry, Refit,
};
pub use settings::{LoopConfig, RunSettings};
