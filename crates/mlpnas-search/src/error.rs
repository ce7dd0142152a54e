//! [`SearchError`]: everything that can stop a search, each with a one-line message.

use mlpnas_core::{ConfigError, ControllerError, SpaceError, StorageError, StoreError, TrainerError};
use thiserror::Error;

/// Why a search (or an evaluation) could not run or finish.
#[derive(Debug, Error)]
pub enum SearchError {
    /// The config file cannot be read or parsed.
    #[error("{path}: {message}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What is wrong, one line.
        message: String,
    },
    /// A config value fails validation.
    #[error("{path}: {source}")]
    Config {
        /// The file (or `--set`).
        path: String,
        /// The failing field.
        source: ConfigError,
    },
    /// The data cannot be loaded or split.
    #[error(transparent)]
    Data(#[from] mlpnas_data::DataError),
    /// A sequence or architecture the space rejects.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The controller failed.
    #[error("controller: {0}")]
    Controller(#[from] ControllerError),
    /// The trainer failed.
    #[error("trainer: {0}")]
    Trainer(#[from] TrainerError),
    /// The weight store failed.
    #[error("weight store: {0}")]
    Store(#[from] StoreError),
    /// The run's storage refused or failed (another writer holds the run, a file cannot be
    /// read or written).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something about the run cannot be read or is inconsistent.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl SearchError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io { path: path.display().to_string(), message: e.to_string() }
    }
}
