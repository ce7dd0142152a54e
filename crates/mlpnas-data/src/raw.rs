//! [`RawTable`]: a CSV file's input columns as read, before anything is fitted: each column
//! numeric or categorical (inferred from its cells, or set in `[data.columns]`), missing cells
//! kept as missing, categories as codes into the column's sorted distinct values. What
//! [`crate::Preprocessor`] is fitted on and applied to; [`ColumnInfo`] describes it for people.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How a column is taken (`[data.columns]` in a config: `NAME = "numeric"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Numbers (every present cell must be one).
    Numeric,
    /// Categories (text, or codes the user knows to be categories).
    Categorical,
    /// Left out.
    Drop,
}

/// One input column's cells, by row.
#[derive(Debug, Clone, PartialEq)]
pub enum RawKind {
    /// Values, `NaN` where the cell is missing.
    Numeric {
        /// One per row.
        values: Vec<f32>,
    },
    /// Codes into `dictionary` (the column's distinct values, sorted), `None` where missing.
    Categorical {
        /// One per row.
        codes: Vec<Option<u32>>,
        /// Distinct values in byte order.
        dictionary: Vec<String>,
    },
}

/// One input column.
#[derive(Debug, Clone, PartialEq)]
pub struct RawColumn {
    /// Its name (or `#N` when unnamed).
    pub name: String,
    /// Its cells.
    pub kind: RawKind,
    /// Missing cells.
    pub missing: usize,
}

/// The input columns of a table, the rows whose label is present.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTable {
    /// Input columns, in file order.
    pub columns: Vec<RawColumn>,
    /// Cell spellings read as missing.
    pub na_values: Vec<String>,
}

/// A column as the search banner shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// `numeric`, `categorical`, or why it was left out (`left out: ID-like ...`).
    pub kind: String,
    /// Missing cells (rows with a label).
    pub missing: usize,
    /// Distinct values of a categorical column.
    pub levels: Option<usize>,
}

impl RawTable {
    /// Rows.
    pub fn rows(&self) -> usize {
        match self.columns.first().map(|c| &c.kind) {
            Some(RawKind::Numeric { values }) => values.len(),
            Some(RawKind::Categorical { codes, .. }) => codes.len(),
            None => 0,
        }
    }

    /// Whether every column is numeric with no missing cell (such a table needs no fitting: its
    /// rows are the features as they are).
    pub fn is_plain(&self) -> bool {
        self.columns.iter().all(|c| c.missing == 0 && matches!(c.kind, RawKind::Numeric { .. }))
    }

    /// Its columns as the banner shows them.
    pub fn info(&self) -> Vec<ColumnInfo> {
        self.columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                kind: match c.kind {
                    RawKind::Numeric { .. } => "numeric".into(),
                    RawKind::Categorical { .. } => "categorical".into(),
                },
                missing: c.missing,
                levels: match &c.kind {
                    RawKind::Categorical { dictionary, .. } => Some(dictionary.len()),
                    RawKind::Numeric { .. } => None,
                },
            })
            .collect()
    }
}

/// Builds a categorical column cell by cell: each distinct value stored once, codes remapped
/// to the sorted distinct values at the end.
#[derive(Debug, Default)]
pub(crate) struct CategoricalBuilder {
    ids: HashMap<String, u32>,
    values: Vec<String>,
    codes: Vec<Option<u32>>,
}

impl CategoricalBuilder {
    /// Adds the next row's cell (`None`: missing).
    pub(crate) fn push(&mut self, cell: Option<&str>) {
        let code = cell.map(|c| match self.ids.get(c) {
            Some(&id) => id,
            None => {
                let id = self.values.len() as u32;
                self.ids.insert(c.to_string(), id);
                self.values.push(c.to_string());
                id
            }
        });
        self.codes.push(code);
    }

    /// The column.
    pub(crate) fn finish(self) -> RawKind {
        let mut order: Vec<u32> = (0..self.values.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.values[a as usize].cmp(&self.values[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let codes = self.codes.iter().map(|c| c.map(|id| rank[id as usize])).collect();
        let mut values = self.values;
        let dictionary = order.iter().map(|&id| std::mem::take(&mut values[id as usize])).collect();
        RawKind::Categorical { codes, dictionary }
    }
}
