//! Error types of the core crate, one per concern, all `thiserror`.

use thiserror::Error;

/// A sequence or architecture that the search space rejects, or an invalid space definition.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SpaceError {
    /// Token id outside the vocabulary.
    #[error("token {id} at position {pos} is not in the vocabulary (valid ids are 1..={max})")]
    UnknownToken {
        /// Offending id.
        id: u32,
        /// Position in the sequence.
        pos: usize,
        /// Largest valid id.
        max: u32,
    },
    /// A token that is in the vocabulary but not allowed where it stands.
    #[error("invalid sequence {seq:?}: {reason}")]
    Invalid {
        /// The whole sequence.
        seq: Vec<u32>,
        /// Why it is invalid.
        reason: String,
    },
    /// An architecture string such as `64:relu,dropout,3:softmax` that does not parse.
    #[error("cannot parse architecture {text:?}: {reason}")]
    Parse {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer that this space cannot express (units or activation not in its lists).
    #[error("layer {layer} is not in this search space ({reason})")]
    NotInSpace {
        /// The layer, displayed.
        layer: String,
        /// Why.
        reason: String,
    },
}

/// A configuration value that fails validation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid config `{field}`: {reason}")]
pub struct ConfigError {
    /// Dotted path of the offending field, e.g. `trainer.epochs`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    /// Builds a config error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }

    /// The same error seen from the host that mounts the section at `section`: a plugin names
    /// `epochs`, the host reports `trainer.epochs`.
    pub fn within(mut self, section: &str) -> Self {
        self.field = if self.field.is_empty() { section.to_string() } else { format!("{section}.{}", self.field) };
        self
    }
}

/// Errors raised by controllers.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// Every architecture of the space has been tried already.
    #[error("the search space is exhausted: all {size} valid architectures have been tried")]
    Exhausted {
        /// Number of valid architectures in the space.
        size: u128,
    },
    /// Could not find an untried architecture within the attempt budget.
    #[error("could not sample an untried architecture in {attempts} attempts ({tried} tried so far)")]
    NoUntried {
        /// Attempts made.
        attempts: usize,
        /// Architectures tried so far.
        tried: usize,
    },
    /// The controller's saved state cannot be restored.
    #[error("controller state: {0}")]
    State(String),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// Errors raised by architecture trainers.
#[derive(Debug, Error)]
pub enum TrainerError {
    /// The architecture does not fit the data (input width, number of classes).
    #[error("architecture does not fit the data: {0}")]
    Mismatch(String),
    /// Initial weights handed in have the wrong shape.
    #[error("weights for layer {layer} have shape {got:?}, expected {expected:?}")]
    WeightShape {
        /// Index of the dense layer.
        layer: usize,
        /// Shape given.
        got: Vec<usize>,
        /// Shape expected.
        expected: Vec<usize>,
    },
    /// The configured backend is unavailable in this build or on this machine.
    #[error("backend: {0}")]
    Backend(String),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// Errors raised by weight stores.
#[derive(Debug, Error)]
pub enum StoreError {
    /// An I/O failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Stored data that is not what was written (truncated, corrupted, wrong shape).
    #[error("{path}: corrupted weight store: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The store is in use by another writer.
    #[error(
        "{path}: the weight store is in use by another search (one writer at a time); wait for it to end or choose another store path"
    )]
    Locked {
        /// The file.
        path: String,
    },
    /// A value that the store refuses (e.g. shape and data length disagree).
    #[error("invalid weights for {key}: {reason}")]
    Invalid {
        /// The bigram key, displayed.
        key: String,
        /// Why.
        reason: String,
    },
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// A weights buffer ([`crate::codec`]) that cannot be written or read back.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Errors of a run's storage ([`crate::storage::RunStorage`]).
#[derive(Debug, Error)]
pub enum StorageError {
    /// Another process holds the run for writing.
    #[error("{run}: this run is in use by another process ({holder}); wait for it to end, or stop it first")]
    Locked {
        /// The run (directory or name).
        run: String,
        /// Who holds it: pid, host and start time, as the holder recorded them.
        holder: String,
    },
    /// A file (or row) of the run cannot be read or written, or holds something unexpected.
    #[error("{path}: {message}")]
    Io {
        /// The file (or table and key).
        path: String,
        /// What went wrong, one line.
        message: String,
    },
}

impl StorageError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io { path: path.display().to_string(), message: e.to_string() }
    }
}
