//! [`PgError`], what can go wrong with a database, and the crate's helpers that turn a failure
//! into a one-line [`StorageError`].

use mlpnas_core::StorageError;

/// What can go wrong with a database, one line each (the URL is shown with its password masked).
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server cannot be reached or refuses the login.
    #[error("{0}")]
    Connect(String),
    /// A statement failed.
    #[error("{0}")]
    Database(String),
    /// The schema is newer than this binary.
    #[error("{0}")]
    Schema(String),
    /// The run's lock was lost during an outage and someone else took the run.
    #[error("{0}")]
    LostLock(String),
    /// A stored value does not decode.
    #[error("{0}")]
    Corrupt(String),
}

impl From<PgError> for StorageError {
    fn from(e: PgError) -> Self {
        StorageError::Io { path: "database".into(), message: e.to_string() }
    }
}

/// A [`StorageError`] about `location` (a run, or the trial queue).
pub(crate) fn io(location: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Io { path: location.to_string(), message: e.to_string() }
}

/// A stored value (`what`) that does not decode: never retried.
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Other(PgError::Corrupt(format!("{what}: {e}")))
}

/// What a database call inside [`crate::conn::Db::with`] can fail with.
pub(crate) enum Failure {
    /// The database refused or the connection broke.
    Pg(postgres::Error),
    /// Something else (a stored value that does not decode), never retried.
    Other(PgError),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Pg(e)
    }
}
