//! [`FinalError`]: why finalize or predict failed, one line naming the file and the problem.

use mlpnas_core::{SpaceError, StoreError, TrainerError};
use mlpnas_search::SearchError;
use thiserror::Error;

/// An error of [`crate::finalize`] or [`crate::Predictor`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FinalError {
    /// Reading the run directory, its config or its data failed.
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Loading data to predict failed.
    #[error(transparent)]
    Data(#[from] mlpnas_data::DataError),
    /// An architecture could not be parsed.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// Training, scoring or (de)serializing a model failed.
    #[error("trainer: {0}")]
    Trainer(#[from] TrainerError),
    /// The run's weight store failed.
    #[error("weight store: {0}")]
    Store(#[from] StoreError),
    /// A file cannot be read or written, or holds something unexpected.
    #[error("{path}: {message}")]
    File {
        /// The file or directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A request that cannot be honoured (e.g. `--from-shared` without a store).
    #[error("{0}")]
    Invalid(String),
}

impl FinalError {
    /// A problem with `path`.
    pub fn file(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::File { path: path.display().to_string(), message: message.to_string() }
    }
}
