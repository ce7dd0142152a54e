//! The table search space (`[space] type = "table"`, `path = DIR`): one token per dimension.
//!
//! Dimension `d`'s value `v` is token `offset(d) + v + 1`, where `offset(d)` counts the values of
//! the dimensions before it: every (dimension, value) has its own id, so a controller that embeds
//! tokens (REINFORCE) tells `batch_size=16` from `n_units=16`. A sequence is valid when it has
//! one token per dimension, in order, and names a configuration present in the table;
//! [`SearchSpace::allowed_next`] allows only prefixes of such configurations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlpnas_core::{Candidate, ConfigError, Measurement, SearchSpace, SpaceConfig, SpaceError, TokenId};
use serde::{Deserialize, Serialize};

use mlpnas_data::table::{Direction, Table};

/// Settings of the table space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpaceConfig {
    /// The table directory (relative to the config file's directory).
    pub path: PathBuf,
}

#[typetag::serde(name = "table")]
impl SpaceConfig for TableSpaceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::new("path", "is empty; name a table directory (table.toml + table.csv)"));
        }
        // Loaded (once: `Table::open` caches it) while the config is checked, so that a bad
        // table is reported before a run is created.
        Table::open(&self.path).map_err(|e| ConfigError::new("path", e.to_string()))?;
        Ok(())
    }
    fn build(&self) -> Result<Box<dyn SearchSpace>, ConfigError> {
        self.validate()?;
        let table = Table::open(&self.path).map_err(|e| ConfigError::new("path", e.to_string()))?;
        Ok(Box::new(TableSpace::new(table)))
    }
    fn rebase(&mut self, base: &Path) {
        if self.path.is_relative() && !self.path.as_os_str().is_empty() {
            self.path = base.join(&self.path);
        }
    }
    fn boxed_clone(&self) -> Box<dyn SpaceConfig> {
        Box::new(self.clone())
    }
}

/// The configurations of a table as token sequences.
#[derive(Debug, Clone)]
pub struct TableSpace {
    table: Arc<Table>,
    /// First token id of each dimension (its value 0), and one past the last id.
    offsets: Vec<u32>,
}

impl TableSpace {
    /// The space over `table`'s configurations.
    pub fn new(table: Arc<Table>) -> Self {
        let mut offsets = vec![1];
        for d in &table.description.dimensions {
            let last = *offsets.last().unwrap_or(&1);
            offsets.push(last + d.values.len() as u32);
        }
        Self { table, offsets }
    }

    /// Its table.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    /// The token of value `v` of dimension `d`.
    pub fn token_of(&self, d: usize, v: u32) -> TokenId {
        self.offsets[d] + v
    }

    /// The (dimension, value index) of a token id.
    pub fn dimension_of(&self, id: TokenId) -> Option<(usize, u32)> {
        let d = self.offsets.partition_point(|&o| o <= id).checked_sub(1)?;
        (d < self.table.description.dimensions.len()).then(|| (d, id - self.offsets[d]))
    }

    /// The value indices of a prefix, `None` when a token is not its position's dimension.
    pub fn values_of(&self, prefix: &[TokenId]) -> Option<Vec<u32>> {
        prefix
            .iter()
            .enumerate()
            .map(|(pos, &id)| self.dimension_of(id).filter(|&(d, _)| d == pos).map(|(_, v)| v))
            .collect()
    }
}

impl SearchSpace for TableSpace {
    fn vocab_size(&self) -> usize {
        *self.offsets.last().unwrap_or(&1) as usize
    }
    fn max_len(&self) -> usize {
        self.table.description.dimensions.len()
    }
    fn allowed_next(&self, prefix: &[TokenId]) -> Vec<TokenId> {
        let Some(values) = self.values_of(prefix) else { return Vec::new() };
        let d = prefix.len();
        self.table.next_values(&values).into_iter().map(|v| self.token_of(d, v)).collect()
    }
    fn completions(&self, prefix: &[TokenId]) -> u128 {
        match self.values_of(prefix) {
            Some(values) if prefix.len() <= self.max_len() => self.table.range(&values).len() as u128,
            _ => 0,
        }
    }
    fn is_complete(&self, prefix: &[TokenId]) -> bool {
        prefix.len() == self.max_len()
    }
    fn token_text(&self, id: TokenId) -> Option<String> {
        let (d, v) = self.dimension_of(id)?;
        let dim = &self.table.description.dimensions[d];
        Some(format!("{}={}", dim.name, dim.values[v as usize]))
    }
    fn candidate(&self, seq: &[TokenId], _input_dim: usize, _n_classes: usize) -> Result<Candidate, SpaceError> {
        self.validate(seq)?;
        let values = self.values_of(seq).unwrap_or_default();
        Ok(Candidate::Point { text: self.table.text(&values), values })
    }
    fn measurement(&self) -> Option<Measurement> {
        let d = &self.table.description;
        Some(Measurement {
            source: format!("table {}", d.name),
            metric: d.metric.clone(),
            minimize: d.direction == Direction::Minimize,
        })
    }
    fn why_not_allowed(&self, seq: &[TokenId], pos: usize) -> String {
        let dims = &self.table.description.dimensions;
        match self.dimension_of(seq[pos]) {
            Some((d, _)) if d != pos => match dims.get(pos) {
                Some(want) => format!("position {pos} is dimension {:?}, not {:?}", want.name, dims[d].name),
                None => format!("the table has {} dimensions", dims.len()),
            },
            _ => format!(
                "no configuration of the table starts with {}",
                seq[..=pos].iter().filter_map(|&t| self.token_text(t)).collect::<Vec<_>>().join(",")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpnas_core::sampling::enumerate;
    use mlpnas_data::table::{Description, Dimension, Direction, Row, Value, write_plain};

    /// A 3 x 2 x 2 grid with two configurations missing.
    fn toy() -> TableSpace {
        let dir = std::env::temp_dir().join(format!("mlpnas-table-space-{}", std::process::id()));
        let description = Description {
            name: "toy".into(),
            metric: "acc".into(),
            direction: Direction::Maximize,
            dimensions: vec![
                Dimension { name: "a".into(), values: vec![Value::Integer(1), Value::Integer(2), Value::Integer(3)] },
                Dimension { name: "b".into(), values: vec![Value::Text("x".into()), Value::Text("y".into())] },
                Dimension { name: "c".into(), values: vec![Value::Float(0.5), Value::Float(1e-8)] },
            ],
        };
        let mut rows = Vec::new();
        for a in 0..3 {
            for b in 0..2 {
                for c in 0..2 {
                    if (a, b) == (2, 1) || (a, b, c) == (0, 0, 1) {
                        continue;
                    }
                    rows.push(Row { config: vec![a, b, c], seed: 0, metric: f64::from(a + b + c), seconds: None });
                }
            }
        }
        write_plain(&dir, &description, &rows).expect("write");
        TableSpace::new(Table::open(&dir).expect("load"))
    }

    #[test]
    fn sequences_are_exactly_the_rows_configurations() {
        let s = toy();
        assert_eq!(s.vocab_size(), 1 + 3 + 2 + 2);
        assert_eq!(s.max_len(), 3);
        assert_eq!(s.size(), 12 - 2 - 1);
        let all = enumerate(&s);
        assert_eq!(all.len(), 9);
        for seq in &all {
            s.validate(seq).expect("valid");
            let c = s.candidate(seq, 0, 0).expect("candidate");
            let Candidate::Point { values, text } = c else { panic!("a point") };
            assert!(s.table().observations(&values).is_some(), "{text}");
        }
        // Dimension a = 3 has only b = x.
        assert_eq!(s.allowed_next(&[s.token_of(0, 2)]), vec![s.token_of(1, 0)]);
        assert_eq!(s.token_text(s.token_of(2, 1)).as_deref(), Some("c=1e-8"));
        let e = s.validate(&[s.token_of(0, 2), s.token_of(1, 1), s.token_of(2, 0)]).expect_err("missing").to_string();
        assert!(e.contains("no configuration of the table starts with a=3,b=y"), "{e}");
        let e = s.validate(&[s.token_of(1, 0), s.token_of(0, 0), s.token_of(2, 0)]).expect_err("order").to_string();
        assert!(e.contains("position 0 is dimension \"a\""), "{e}");
        let e = s.validate(&[s.token_of(0, 1), s.token_of(1, 0)]).expect_err("short").to_string();
        assert!(e.contains("incomplete"), "{e}");
        assert!(s.validate(&[99, 1, 1]).is_err());
    }
}
