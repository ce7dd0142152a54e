//! mlpnas-data: turns a data spec into a [`Dataset`] and a [`Dataset`] into a seeded,
//! stratified, optionally standardized [`DataSplit`](mlpnas_core::DataSplit).
//!
//! # Data specs
//!
//! The `source` of a [`DataConfig`] (and the CLI's `--data`) is one of:
//!
//! * `builtin:NAME` — a data set compiled into the binary, one of [`builtin_names`]: `iris`,
//!   `winequality-red`, `digits` (8x8 images, `sample_shape` `[8, 8]`), `breast-cancer`
//!   (cargo feature `builtin`, on by default);
//! * `PATH.csv` — a CSV file (`,`, `;` or tab separated, detected from the header line; `.tsv`
//!   is always tab) with a **header row**. The label is the last column unless
//!   [`DataConfig::label`] names another; [`DataConfig::drop`] lists columns to ignore; every
//!   other column must be numeric. Label values that are all numbers give classes in numeric
//!   order, otherwise in lexicographic order; class names are the original strings.
//!   Columns are referred to by header name, or by `#N`, their 0-based position, which is how an
//!   unnamed column (e.g. a pandas index written as an empty first header) is named; `""` also
//!   names an unnamed column;
//! * `X.npy:Y.npy` — a feature array (numeric, shape `[N, ...]`, rank 2 or more;
//!   `sample_shape` is `shape[1..]`) and a label array (shape `[N]` or `[N, 1]`; integers, whole
//!   floats, bools or strings; classes sorted as for CSV). The pair is split on the `:` that
//!   ends the first `.npy` path.
//!
//! Relative paths are resolved against the `base_dir` given to [`load`] (the config file's
//! directory, or the current directory for `--data`).
//!
//! # API
//!
//! * [`load`]`(cfg, base_dir) -> Dataset`: parse the spec ([`DataSpec`]), load and check;
//! * [`prepare`]`(cfg, data, seed) -> Prepared`: stratified train / valid / (test) split by
//!   [`DataConfig::valid_fraction`] and [`DataConfig::test_fraction`], deterministic for a seed,
//!   then a [`Standardizer`] fitted on the train part and applied to every part when
//!   [`DataConfig::standardize`];
//! * [`DataError`]: every failure, as a one-line message naming the file (or builtin) and the
//!   problem. Nothing here panics on bad input.

mod builtin;
mod config;
mod csv_load;
mod encode;
mod error;
mod file;
mod labels;
mod npy;
mod prepare;
mod raw;
mod resample;
mod spec;
pub mod table;
pub mod table_curves;

use std::path::Path;

use mlpnas_core::{Dataset, Task};

pub use builtin::builtin_names;
pub use config::{ADDED_FIELDS, DataConfig, default_na_values};
pub use encode::{Cell, Column, MISSING, OTHER, Preprocessor};
pub use error::DataError;
pub use prepare::{Prepared, Standardizer, prepare};
pub use raw::{ColumnInfo, ColumnType, RawColumn, RawKind, RawTable};
pub use resample::{RowSplit, resample, resample_rows};

/// A loaded data set before it is split.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The rows: labels and class names always; the features too unless `table` holds them.
    pub data: Dataset,
    /// A CSV file's columns when they need fitting (categories or missing cells): then `data`
    /// has no features and [`prepare`] fits a [`Preprocessor`] on the training rows.
    pub table: Option<RawTable>,
    /// A CSV file's columns as the search banner shows them (types, missing, levels, left out).
    pub columns: Vec<ColumnInfo>,
    /// What was left out, one line each (columns, rows without a label).
    pub notes: Vec<String>,
}

impl Loaded {
    /// Data that needs nothing fitted (built-in, NPY).
    pub fn plain(data: Dataset) -> Self {
        Loaded { data, table: None, columns: Vec::new(), notes: Vec::new() }
    }
}
pub use spec::DataSpec;

/// Loads the data set that `cfg.source` names, resolving relative paths against `base_dir`.
///
/// `cfg.label`, `cfg.drop` and `[data.columns]` apply to CSV files only; setting them for another
/// source is an error. Plain features have passed [`Dataset::check`].
///
/// `task` decides what the label is: classes (label encoding; a label that looks continuous is
/// refused, naming `--task regression`) or a number (every label cell must be one).
pub fn load(cfg: &DataConfig, base_dir: &Path, task: Task) -> Result<Loaded, DataError> {
    let spec = cfg.source.resolve(base_dir);
    if !matches!(spec, DataSpec::Csv(_)) {
        let origin = spec.to_string();
        if let Some(label) = &cfg.label {
            return Err(DataError::invalid(
                origin,
                format!("a label column (\"{label}\") can only be chosen for a CSV file"),
            ));
        }
        if !cfg.drop.is_empty() {
            return Err(DataError::invalid(origin, "columns can only be dropped from a CSV file"));
        }
        if !cfg.columns.is_empty() {
            return Err(DataError::invalid(origin, "[data.columns] applies to a CSV file only"));
        }
    }
    match &spec {
        DataSpec::Builtin(name) => builtin::for_task(builtin::load_builtin(name)?, task, name).map(Loaded::plain),
        DataSpec::Csv(path) => csv_load::load_csv(path, cfg, task),
        DataSpec::Npy { x, y } => npy::load_npy(x, y, task).map(Loaded::plain),
    }
}

#[cfg(test)]
mod tests;

/// The label column of the data `cfg` names, for a CSV file: `cfg.label`, or the last column's
/// name when it is not set. `None` for built-in and NPY data, whose labels need no column name.
pub fn label_column(cfg: &DataConfig, base_dir: &Path) -> Result<Option<String>, DataError> {
    match cfg.source.resolve(base_dir) {
        DataSpec::Csv(path) => csv_load::label_name(&path, cfg.label.as_deref()).map(Some),
        _ => Ok(None),
    }
}

/// Feature values read for prediction by [`load_features`].
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// `rows * names.len()` values, row-major, in the order of the requested names.
    pub values: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// The label of each row, as written, when the source has the label column.
    pub labels: Option<Vec<String>>,
    /// What reading noticed, one line each (categories never seen in training).
    pub notes: Vec<String>,
}

/// Reads the feature columns `names` (by name, in that order) from `source` for prediction:
/// a CSV file (other columns are ignored; `label`, if given and present, is returned too) or a
/// `builtin:NAME` data set. A missing column is an error naming the file and the column.
pub fn load_features(
    source: &DataSpec,
    base_dir: &Path,
    names: &[String],
    label: Option<&str>,
) -> Result<Features, DataError> {
    match source.resolve(base_dir) {
        DataSpec::Csv(path) => csv_load::load_named_columns(&path, names, label),
        DataSpec::Builtin(name) => {
            let data = builtin::load_builtin(&name)?;
            let origin = format!("builtin:{name}");
            let mut cols = Vec::with_capacity(names.len());
            for n in names {
                match data.feature_names.iter().position(|f| f == n) {
                    Some(j) => cols.push(j),
                    None => {
                        return Err(DataError::invalid(
                            origin,
                            format!("has no feature column \"{n}\" (the model was trained on other data)"),
                        ));
                    }
                }
            }
            let w = data.n_features();
            let mut values = Vec::with_capacity(data.n_rows() * cols.len());
            for row in data.features.chunks_exact(w) {
                values.extend(cols.iter().map(|&j| row[j]));
            }
            let labels = if data.is_regression() {
                data.targets.iter().map(f32::to_string).collect()
            } else {
                data.labels.iter().map(|&l| data.class_names[l as usize].clone()).collect()
            };
            Ok(Features { values, rows: data.n_rows(), labels: Some(labels), notes: Vec::new() })
        }
        DataSpec::Npy { x, y } => npy_features(&x, Some(&y), names),
    }
}

/// What `predict` reads: any data spec a search takes (`file.csv`, `builtin:NAME`,
/// `x.npy:y.npy`, labels giving an accuracy), or a feature array alone (`x.npy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredictSource {
    /// A data spec.
    Data(DataSpec),
    /// Features only, shape `[N, ...]`.
    NpyFeatures(std::path::PathBuf),
}

impl std::str::FromStr for PredictSource {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s.parse::<DataSpec>() {
            Ok(spec) => Ok(Self::Data(spec)),
            Err(_) if s.trim().to_ascii_lowercase().ends_with(".npy") && !s.contains(".npy:") => {
                Ok(Self::NpyFeatures(s.trim().into()))
            }
            Err(e) => Err(e),
        }
    }
}

impl std::fmt::Display for PredictSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Data(d) => d.fmt(f),
            Self::NpyFeatures(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Reads the rows to predict from `source` (see [`load_features`] for data specs); a feature
/// array alone must have as many values per row as the model has features.
pub fn load_prediction_rows(
    source: &PredictSource,
    base_dir: &Path,
    names: &[String],
    label: Option<&str>,
) -> Result<Features, DataError> {
    match source {
        PredictSource::Data(spec) => load_features(spec, base_dir, names, label),
        PredictSource::NpyFeatures(x) => {
            let x = if x.is_absolute() { x.clone() } else { base_dir.join(x) };
            npy_features(&x, None, names)
        }
    }
}

/// Reads the rows to predict from `source`, a CSV file with the columns `pre` was fitted on (by
/// name, any order; other columns ignored; empty and `na_values` cells are missing), encoded by
/// `pre` (not yet standardized). A missing column is an error naming it; categories never seen
/// in training go to `(other)`, counted in one note.
pub fn load_table_rows(
    source: &PredictSource,
    base_dir: &Path,
    pre: &Preprocessor,
    label: Option<&str>,
) -> Result<Features, DataError> {
    match source {
        PredictSource::Data(spec) => match spec.resolve(base_dir) {
            DataSpec::Csv(path) => csv_load::load_table_rows(&path, pre, label),
            other => Err(DataError::invalid(
                other.to_string(),
                "this model was trained on a table (a CSV file): give one with its columns",
            )),
        },
        PredictSource::NpyFeatures(x) => Err(DataError::invalid(
            x.display().to_string(),
            "this model was trained on a table (a CSV file): give one with its columns",
        )),
    }
}

/// Features of an NPY array (matched by position: its flattened width must be the model's), and
/// the labels of `y` when given.
fn npy_features(x: &Path, y: Option<&Path>, names: &[String]) -> Result<Features, DataError> {
    let x_file = x.display().to_string();
    let (values, shape) = npy::read_features(x)?;
    let width: usize = shape[1..].iter().product();
    if width != names.len() {
        return Err(DataError::invalid(
            x_file,
            format!(
                "rows of shape {:?} hold {width} values; the model takes {} features ({})",
                &shape[1..],
                names.len(),
                names.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let labels = y.map(|y| npy::read_labels(y, shape[0], &x_file)).transpose()?;
    Ok(Features { values, rows: shape[0], labels, notes: Vec::new() })
}
