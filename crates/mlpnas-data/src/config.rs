//! [`DataConfig`]: the `[data]` section of a config file.

use std::collections::BTreeMap;

use mlpnas_core::ConfigError;
use serde::{Deserialize, Serialize};

use crate::raw::ColumnType;
use crate::spec::DataSpec;

/// Where the data comes from and how it is split and scaled (the `[data]` section of a config).
///
/// ```toml
/// [data]
/// source = "wine.csv"          # or "builtin:iris", or "x.npy:y.npy"
/// label = "quality"            # CSV only; default: the last column
/// drop = ["#0", "id"]          # CSV only; by name, "" or "#N" (0-based position)
/// valid_fraction = 0.1
/// test_fraction = 0.0
/// standardize = true
/// na_values = ["NA", "N/A", "NaN", "null", "?"]   # besides the empty cell
/// min_level_count = 3          # rarer categories become "(other)"
/// max_levels = 64              # at most this many one-hot inputs per categorical column
/// auto_drop = true             # leave out constant and ID-like columns (with a warning)
///
/// [data.columns]               # override inferred types: "numeric", "categorical", "drop"
/// zip_code = "categorical"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The data spec: `builtin:NAME`, `path/to/file.csv` or `x.npy:y.npy` (see [`DataSpec`]).
    pub source: DataSpec,
    /// Label column of a CSV file, by name or `#N` position; `None` means the last column.
    pub label: Option<String>,
    /// CSV columns to ignore, by name or `#N` position (an unnamed column is also `""`).
    pub drop: Vec<String>,
    /// Share of each class held out to score architectures, in `(0, 1)`.
    pub valid_fraction: f64,
    /// Share of each class never seen by the search, in `[0, 1)`; `0` means no test part.
    pub test_fraction: f64,
    /// Seed of the split into training, validation and test rows; absent: the run's `seed`
    /// (as every run before this setting), so searches with other seeds can share one split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Scale every feature to mean 0 and standard deviation 1, fitted on the training part.
    pub standardize: bool,
    /// How CSV columns are taken, by name: `numeric`, `categorical` or `drop` (others inferred).
    pub columns: BTreeMap<String, ColumnType>,
    /// Cell spellings read as missing besides the empty cell (ASCII case ignored).
    pub na_values: Vec<String>,
    /// Categories seen in fewer training rows than this share the input `(other)`.
    pub min_level_count: usize,
    /// One-hot inputs per categorical column at most (the most frequent levels; the rest are
    /// `(other)`).
    pub max_levels: usize,
    /// Leave out constant and ID-like columns (an unnamed or `rownames` column of distinct
    /// integers; a categorical column with more distinct values than half the rows), with a
    /// warning naming them. Runs made before this setting read as `false`.
    pub auto_drop: bool,
}

/// Fields added to `[data]` since runs were first stored, with the values that reproduce what
/// such a run did (a stored config without them reads them so). Such a run's data had no text
/// or missing cell (it could not load otherwise), so only `auto_drop` changes what it reads;
/// the others are the defaults, listed so that the stored config compares equal.
pub const ADDED_FIELDS: &[(&str, &str)] = &[
    ("auto_drop", "false"),
    ("columns", "{}"),
    ("na_values", r#"["NA", "N/A", "NaN", "null", "?"]"#),
    ("min_level_count", "3"),
    ("max_levels", "64"),
];

/// The default missing-cell spellings (besides the empty cell).
pub fn default_na_values() -> Vec<String> {
    ["NA", "N/A", "NaN", "null", "?"].iter().map(|s| s.to_string()).collect()
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            source: DataSpec::default(),
            label: None,
            drop: Vec::new(),
            valid_fraction: 0.1,
            test_fraction: 0.0,
            split_seed: None,
            standardize: true,
            columns: BTreeMap::new(),
            na_values: default_na_values(),
            min_level_count: 3,
            max_levels: 64,
            auto_drop: true,
        }
    }
}

impl DataConfig {
    /// Checks the fractions (`source` is a [`DataSpec`], well-formed by construction).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let v = self.valid_fraction;
        if !(v.is_finite() && v > 0.0 && v < 1.0) {
            return Err(ConfigError::new(
                "data.valid_fraction",
                format!("must be greater than 0 and less than 1, got {v}"),
            ));
        }
        let t = self.test_fraction;
        if !(t.is_finite() && (0.0..1.0).contains(&t)) {
            return Err(ConfigError::new("data.test_fraction", format!("must be at least 0 and less than 1, got {t}")));
        }
        if self.min_level_count == 0 {
            return Err(ConfigError::new("data.min_level_count", "must be at least 1"));
        }
        if self.max_levels == 0 {
            return Err(ConfigError::new("data.max_levels", "must be at least 1"));
        }
        if v + t >= 1.0 {
            return Err(ConfigError::new(
                "data.test_fraction",
                format!(
                    "valid_fraction + test_fraction must be less than 1 (some rows must be left \
                     to train on), got {v} + {t} = {}",
                    v + t
                ),
            ));
        }
        Ok(())
    }
}
