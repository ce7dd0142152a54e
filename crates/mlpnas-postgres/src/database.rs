//! [`Database`]: the handle a process opens ([`open`], [`open_worker`]): one connection shared
//! by a run's storage and its queue, and the process's listener for notifications. What is
//! reached through it is built where it lives (`Database::run` in `storage`, `Database::queue`
//! in `queue`), so this module names neither.

use std::sync::Arc;

use crate::conn::{Conn, Db};
use crate::error::Failure;
use crate::error::PgError;
use crate::notify::Waker;
use crate::url::PgUrl;

/// A connection to a database of runs (shared by a run's storage and its queue), and the
/// process's listener for its notifications.
#[derive(Clone)]
pub struct Database {
    db: Arc<Db>,
    waker: Arc<Waker>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.db.fmt(f)
    }
}

impl Database {
    /// Connects, creating or migrating the schema.
    pub fn connect(url: &PgUrl) -> Result<Self, PgError> {
        Ok(Self { db: Arc::new(Db::connect(url, false)?), waker: Arc::new(Waker::new(url)) })
    }

    /// Connects for `mlpnas worker`: claims, heartbeats and results commit without waiting for
    /// the server's disk (they are not run state: a result lost in a crash is trained again;
    /// the journal is written by the coordinator's own, synchronous, connection).
    pub fn connect_worker(url: &PgUrl) -> Result<Self, PgError> {
        Ok(Self { db: Arc::new(Db::connect(url, true)?), waker: Arc::new(Waker::new(url)) })
    }

    /// The URL with its password masked.
    pub fn shown(&self) -> &str {
        self.db.shown()
    }

    /// Runs `f` on the connection ([`Db::with`]: reconnecting with backoff, statements
    /// prepared once per connection, failures as one line).
    pub(crate) fn with<T>(&self, f: impl FnMut(&mut Conn) -> Result<T, Failure>) -> Result<T, PgError> {
        self.db.with(f)
    }

    /// Takes run `name`'s advisory lock ([`Db::lock_run`]).
    pub(crate) fn lock_run(&self, name: &str) -> Result<bool, PgError> {
        self.db.lock_run(name)
    }

    /// The listener for notifications.
    pub(crate) fn waker(&self) -> &Arc<Waker> {
        &self.waker
    }
}

/// Where `--storage` points: parsed once at the edge.
pub fn open(url: &str) -> Result<Database, PgError> {
    let url: PgUrl = url.parse().map_err(PgError::Connect)?;
    Database::connect(&url)
}

/// [`open`] for a worker ([`Database::connect_worker`]).
pub fn open_worker(url: &str) -> Result<Database, PgError> {
    let url: PgUrl = url.parse().map_err(PgError::Connect)?;
    Database::connect_worker(&url)
}
