//! [`Preprocessor`]: the fitted preprocessing of a table's columns, types -> impute -> encode
//! (standardizing follows, [`crate::Standardizer`]). Fitted once on the training rows of a
//! [`RawTable`]; applied to every part of the split, and to raw rows at prediction.
//!
//! A numeric column becomes its value, a missing cell the training median, plus a
//! missing-indicator input when the column had missing cells in training. A categorical column
//! becomes one input per level (one-hot): the levels seen in at least `min_level_count`
//! training rows, at most `max_levels` of them (the most frequent; ties by name), in name order;
//! then `(other)` for the rest and for levels never seen in training, and `(missing)` when the
//! column had missing cells in training. The encoder depends on the training rows as a set, not
//! on their order.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::raw::{RawKind, RawTable};

/// Name suffix of a missing-indicator input, and the level of missing categorical cells.
pub const MISSING: &str = "(missing)";
/// The level of rare and unseen categories.
pub const OTHER: &str = "(other)";

/// One input column of the fitted preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Column {
    /// A number; a missing cell becomes `median`, flagged by an extra input when `indicator`.
    Numeric {
        /// Column name in the data.
        name: String,
        /// Training median (0 when training had no value).
        median: f32,
        /// Whether a missing-indicator input follows.
        indicator: bool,
    },
    /// A category, one-hot over `levels`, then `(other)`, then `(missing)` when `missing`.
    Categorical {
        /// Column name in the data.
        name: String,
        /// Levels with an input of their own, in name order.
        levels: Vec<String>,
        /// Whether missing cells have an input of their own (training had some).
        missing: bool,
    },
}

impl Column {
    /// The column's name in the data.
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } | Column::Categorical { name, .. } => name,
        }
    }

    /// Inputs it becomes.
    pub fn width(&self) -> usize {
        match self {
            Column::Numeric { indicator, .. } => 1 + usize::from(*indicator),
            Column::Categorical { levels, missing, .. } => levels.len() + 1 + usize::from(*missing),
        }
    }
}

/// The fitted preprocessing of a table: what its columns become as model inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// Input columns, in input order.
    pub columns: Vec<Column>,
    /// Cell spellings read as missing (compared ignoring ASCII case; the empty cell always is).
    pub na_values: Vec<String>,
}

/// A cell as prediction reads it: a number, a category, or missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// A numeric column's value.
    Number(f32),
    /// A categorical column's text.
    Text(&'a str),
    /// Missing.
    Missing,
}

impl Preprocessor {
    /// Fits on the rows `train` (row indices) of `table`, with levels seen in fewer than
    /// `min_level_count` rows and beyond the `max_levels` most frequent grouped as `(other)`.
    pub fn fit(table: &RawTable, train: &[usize], min_level_count: usize, max_levels: usize) -> Preprocessor {
        let columns = table
            .columns
            .iter()
            .map(|c| match &c.kind {
                RawKind::Numeric { values } => {
                    let mut seen: Vec<f32> = train.iter().map(|&i| values[i]).filter(|v| !v.is_nan()).collect();
                    let indicator = seen.len() < train.len();
                    seen.sort_by(f32::total_cmp);
                    let median = match seen.len() {
                        0 => 0.0,
                        n if n % 2 == 1 => seen[n / 2],
                        n => ((f64::from(seen[n / 2 - 1]) + f64::from(seen[n / 2])) / 2.0) as f32,
                    };
                    Column::Numeric { name: c.name.clone(), median, indicator }
                }
                RawKind::Categorical { codes, dictionary } => {
                    let mut counts = vec![0usize; dictionary.len()];
                    let mut missing = false;
                    for &i in train {
                        match codes[i] {
                            Some(code) => counts[code as usize] += 1,
                            None => missing = true,
                        }
                    }
                    let mut kept: Vec<usize> =
                        (0..dictionary.len()).filter(|&k| counts[k] > 0 && counts[k] >= min_level_count).collect();
                    if kept.len() > max_levels {
                        // The most frequent; ties by name (the dictionary is in name order).
                        kept.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
                        kept.truncate(max_levels);
                        kept.sort_unstable();
                    }
                    let levels = kept.iter().map(|&k| dictionary[k].clone()).collect();
                    Column::Categorical { name: c.name.clone(), levels, missing }
                }
            })
            .collect();
        Preprocessor { columns, na_values: table.na_values.clone() }
    }

    /// Inputs per row.
    pub fn width(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// Names of the inputs: `name`, `name (missing)`, `name=level`, `name=(other)`,
    /// `name=(missing)`.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.width());
        for c in &self.columns {
            match c {
                Column::Numeric { name, indicator, .. } => {
                    out.push(name.clone());
                    if *indicator {
                        out.push(format!("{name} {MISSING}"));
                    }
                }
                Column::Categorical { name, levels, missing } => {
                    out.extend(levels.iter().map(|l| format!("{name}={l}")));
                    out.push(format!("{name}={OTHER}"));
                    if *missing {
                        out.push(format!("{name}={MISSING}"));
                    }
                }
            }
        }
        out
    }

    /// Whether `cell` spells a missing value.
    pub fn is_missing(&self, cell: &str) -> bool {
        is_missing(&self.na_values, cell)
    }

    /// The inputs of rows `rows` of `table` (whose columns are this preprocessor's, in order),
    /// row-major.
    pub fn transform_table(&self, table: &RawTable, rows: &[usize]) -> Vec<f32> {
        let lookups: Vec<Option<Vec<Option<usize>>>> = self
            .columns
            .iter()
            .zip(&table.columns)
            .map(|(c, raw)| match (c, &raw.kind) {
                (Column::Categorical { levels, .. }, RawKind::Categorical { dictionary, .. }) => {
                    let at: HashMap<&str, usize> = levels.iter().enumerate().map(|(k, l)| (l.as_str(), k)).collect();
                    Some(dictionary.iter().map(|d| at.get(d.as_str()).copied()).collect())
                }
                _ => None,
            })
            .collect();
        let width = self.width();
        let mut out = vec![0f32; rows.len() * width];
        for (row, &i) in out.chunks_exact_mut(width.max(1)).zip(rows) {
            let mut at = 0;
            for ((c, raw), lookup) in self.columns.iter().zip(&table.columns).zip(&lookups) {
                let cell = match &raw.kind {
                    RawKind::Numeric { values } if !values[i].is_nan() => Cell::Number(values[i]),
                    RawKind::Categorical { codes, .. } if codes[i].is_some() => Cell::Text(""),
                    _ => Cell::Missing,
                };
                let level = match (&raw.kind, lookup) {
                    (RawKind::Categorical { codes, .. }, Some(l)) => codes[i].map(|k| l[k as usize]),
                    _ => None,
                };
                at += encode_cell(c, cell, level.flatten(), &mut row[at..]);
            }
        }
        out
    }

    /// The inputs of one row of cells, one per column in order (prediction). Returns whether a
    /// category was never seen in training (it went to `(other)`).
    pub fn transform_row(&self, cells: &[Cell<'_>], out: &mut [f32]) -> bool {
        let mut at = 0;
        let mut unseen = false;
        for (c, &cell) in self.columns.iter().zip(cells) {
            let level = match (c, cell) {
                (Column::Categorical { levels, .. }, Cell::Text(t)) => {
                    let found = levels.binary_search_by(|l| l.as_str().cmp(t)).ok();
                    unseen |= found.is_none();
                    found
                }
                _ => None,
            };
            at += encode_cell(c, cell, level, &mut out[at..]);
        }
        unseen
    }
}

/// Writes column `c`'s inputs for `cell` (a categorical one at `level`, `None`: other) into the
/// start of `out` (zeroed); returns how many it wrote.
fn encode_cell(c: &Column, cell: Cell<'_>, level: Option<usize>, out: &mut [f32]) -> usize {
    match c {
        Column::Numeric { median, indicator, .. } => {
            match cell {
                Cell::Number(v) => out[0] = v,
                _ => {
                    out[0] = *median;
                    if *indicator {
                        out[1] = 1.0;
                    }
                }
            }
            c.width()
        }
        Column::Categorical { levels, missing, .. } => {
            let slot = match cell {
                Cell::Missing if *missing => levels.len() + 1,
                Cell::Missing => levels.len(),
                _ => level.unwrap_or(levels.len()),
            };
            out[slot] = 1.0;
            c.width()
        }
    }
}

/// Whether `cell` is one of the `na_values` spellings (ASCII case ignored) or empty.
pub(crate) fn is_missing(na_values: &[String], cell: &str) -> bool {
    cell.is_empty() || na_values.iter().any(|n| n.eq_ignore_ascii_case(cell))
}
