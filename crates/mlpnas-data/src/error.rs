//! [`DataError`]: every way loading or preparing data can fail, each a one-line message that
//! names the file (or built-in data set) and the problem.

use mlpnas_core::ConfigError;
use thiserror::Error;

/// An error while loading or preparing a data set.
///
/// Every message is a single line that starts with the file name (or `builtin:NAME`, or the data
/// spec) and says what is wrong, so a CLI can print it as-is.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// The `[data]` config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data spec string cannot be understood.
    #[error("data spec \"{spec}\": {reason}")]
    Spec {
        /// The spec as written.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file cannot be opened or read.
    #[error("{file}: {error}")]
    Io {
        /// The file.
        file: String,
        /// The underlying error.
        #[source]
        error: std::io::Error,
    },
    /// A built-in data set name that this build does not know.
    #[error("builtin:{name}: unknown built-in data set (known: {known})")]
    UnknownBuiltin {
        /// The requested name.
        name: String,
        /// The known names, comma-separated (empty when the `builtin` feature is off).
        known: String,
    },
    /// A column named in the config (label or drop) that the CSV header does not have.
    #[error("{file}: unknown {role} column \"{name}\" (columns: {columns})")]
    UnknownColumn {
        /// The file.
        file: String,
        /// `label` or `drop`.
        role: &'static str,
        /// The name as given.
        name: String,
        /// The header's columns, comma-separated (long lists are shortened).
        columns: String,
    },
    /// A feature cell that is not a (finite) number.
    #[error("{file}: line {line}, column \"{column}\": {problem} (use --drop {hint} to ignore the column)")]
    NotNumeric {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// The column name.
        column: String,
        /// What is wrong with the cell, e.g. `"abc" is not a number` or `the cell is empty`.
        problem: String,
        /// How to refer to the column in `--drop`.
        hint: String,
    },
    /// A CSV row with the wrong number of fields.
    #[error("{file}: line {line} has {found} fields but the header has {expected}")]
    Ragged {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Fields on that line.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// Any other problem with the content of a file or built-in data set.
    #[error("{origin}: {reason}")]
    Invalid {
        /// The file, `builtin:NAME` or the data spec.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

impl DataError {
    /// A content problem of `origin` (file, builtin or spec).
    pub(crate) fn invalid(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { origin: origin.into(), reason: reason.into() }
    }

    /// An I/O problem with `file`.
    pub(crate) fn io(file: impl Into<String>, error: std::io::Error) -> Self {
        Self::Io { file: file.into(), error }
    }
}
