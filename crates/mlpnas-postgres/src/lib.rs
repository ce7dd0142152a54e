//! mlpnas-postgres: runs in PostgreSQL, so that workers on any number of machines train one
//! search.
//!
//! * [`PgStorage`]: a run as rows ([`mlpnas_core::RunStorage`]): its config, journal, store
//!   puts, controller epochs, checkpoint and summary, under the run's name;
//! * [`PgQueue`]: the trial queue ([`mlpnas_core::TrialQueue`]) with leases, attempts and fencing;
//! * [`PgUrl`]: a database URL, its credentials (URL, `PGPASSWORD`, `~/.pgpass`) never shown;
//! * [`list_runs`]: what `mlpnas runs` prints.
//!
//! Every statement is parameterised; a run's name is data, never SQL text. Each statement is
//! prepared once per connection and reused (one round trip per call after the first). The schema
//! is created and migrated by the binary (`mlpnas_schema` holds its version; an older binary
//! refuses a newer schema). A lost connection (a restarted server) is retried with backoff for
//! up to 120 s (`MLPNAS_PG_RETRY_SECONDS`); every write is one transaction and safe to run twice.
//!
//! Modules: `error` ([`PgError`]), `url` ([`PgUrl`]), `conn` (the connection: reconnection,
//! prepared statements, one-line errors), `migrations` (the schema), `notify` (LISTEN/NOTIFY
//! wake-ups), `database` ([`Database`], [`open`]), `storage` ([`PgStorage`]), `queue`
//! ([`PgQueue`]), `listing` ([`list_runs`]).

mod conn;
mod database;
mod error;
mod listing;
mod migrations;
mod notify;
mod queue;
mod storage;
#[cfg(test)]
mod tests;
mod url;

pub use database::{Database, open, open_worker};
pub use error::PgError;
pub use listing::{RunInfo, list_runs};
pub use queue::PgQueue;
pub use storage::PgStorage;
pub use url::{PgUrl, mask};
