//! The benchmark-table format: reading ([`Table::load`], [`Table::open`]) and writing
//! ([`render`]: the two files' contents, for the caller to write atomically).
//!
//! A table is a directory with two files:
//!
//! * `table.toml`: `name`, `metric` (the metric column's name), `direction` (`"maximize"` or
//!   `"minimize"`), and one `[[dimension]]` per searched variable with `name` and its ordered
//!   `values` (numbers or strings);
//! * `table.csv`: a header of the dimension names in the same order, then `seed`, then the metric
//!   column, optionally `seconds`; one row per evaluation of one configuration with one seed.
//!
//! The rows define which configurations exist (not necessarily a full grid). A number in a row
//! matches a dimension value by value (`1e-08` equals `1e-8`), a string by its text. Anything else
//! is refused with an error naming the file and, for the CSV, the line.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The description file of a table directory.
pub const TABLE_TOML: &str = "table.toml";
/// The results file of a table directory.
pub const TABLE_CSV: &str = "table.csv";

/// A table that cannot be read or written: the file, the line (CSV rows, 1-based), what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TableError {
    /// The file.
    pub path: PathBuf,
    /// Its line, when the problem is in one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl TableError {
    pub(crate) fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Self { path: path.to_path_buf(), line, message: message.into() }
    }
}

/// Whether larger or smaller metric values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (an accuracy): reward = metric.
    Maximize,
    /// Smaller is better (a loss): reward = -metric.
    Minimize,
}

impl Direction {
    /// The reward of a metric value: controllers always maximise.
    pub fn reward(self, metric: f64) -> f64 {
        match self {
            Direction::Maximize => metric,
            Direction::Minimize => -metric,
        }
    }
}

/// One value of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer, as written.
    Integer(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (e.g. an activation name).
    Text(String),
}

impl Value {
    fn number(&self) -> Option<f64> {
        match *self {
            Value::Integer(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            Value::Text(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(i) => write!(f, "{i}"),
            // Shortest text that reads back to the same number (`1e-8`, `0.0005`, `0.3`).
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// A searched variable and its ordered values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// Its name (a CSV column).
    pub name: String,
    /// Its values, in order.
    pub values: Vec<Value>,
}

impl Dimension {
    /// The index of the value a CSV cell holds.
    pub(crate) fn index_of(&self, cell: &str) -> Option<u32> {
        if let Some(i) = self.values.iter().position(|v| matches!(v, Value::Text(t) if t == cell)) {
            return Some(i as u32);
        }
        let x: f64 = cell.trim().parse().ok()?;
        self.values.iter().position(|v| v.number() == Some(x)).map(|i| i as u32)
    }
}

/// `table.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// The table's name.
    pub name: String,
    /// The metric column.
    pub metric: String,
    /// Whether larger or smaller metric values are better.
    pub direction: Direction,
    /// The searched variables, in order.
    #[serde(rename = "dimension")]
    pub dimensions: Vec<Dimension>,
}

impl Description {
    /// Reads and checks `table.toml` of the table in `dir` (not its rows: what shows a table's
    /// run needs its name and metric only).
    pub fn read(dir: &Path) -> Result<Description, TableError> {
        let toml_path = dir.join(TABLE_TOML);
        let text = fs::read_to_string(&toml_path)
            .map_err(|e| TableError::new(&toml_path, None, format!("cannot read: {e}")))?;
        let description: Description = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            TableError::new(&toml_path, line, e.message().trim().replace('\n', " "))
        })?;
        description.check(&toml_path)?;
        Ok(description)
    }

    /// Checks names and values; `path` is the file named in errors.
    pub fn check(&self, path: &Path) -> Result<(), TableError> {
        let err = |m: String| Err(TableError::new(path, None, m));
        if self.name.trim().is_empty() {
            return err("`name` is empty".into());
        }
        if self.metric.trim().is_empty() {
            return err("`metric` is empty".into());
        }
        if self.dimensions.is_empty() {
            return err("no [[dimension]]: a table needs at least one".into());
        }
        let reserved = ["seed", "seconds", self.metric.as_str()];
        for (i, d) in self.dimensions.iter().enumerate() {
            if d.name.trim().is_empty() || d.name.contains([',', '=']) {
                return err(format!("dimension {}: name {:?} must be non-empty, without ',' or '='", i + 1, d.name));
            }
            if reserved.contains(&d.name.as_str()) {
                return err(format!(
                    "dimension {:?}: that name is a column of its own (seed, the metric, seconds)",
                    d.name
                ));
            }
            if self.dimensions[..i].iter().any(|e| e.name == d.name) {
                return err(format!("dimension {:?} appears twice", d.name));
            }
            if d.values.is_empty() {
                return err(format!("dimension {:?} has no values", d.name));
            }
            for (j, v) in d.values.iter().enumerate() {
                if v.number().is_some_and(|x| !x.is_finite()) {
                    return err(format!("dimension {:?}: value {v} is not a finite number", d.name));
                }
                if let Value::Text(t) = v
                    && (t.is_empty() || t.contains([',', '=']))
                {
                    return err(format!("dimension {:?}: value {t:?} must be non-empty, without ',' or '='", d.name));
                }
                let same = |w: &Value| match (v.number(), w.number()) {
                    (Some(a), Some(b)) => a == b,
                    _ => v == w,
                };
                if d.values[..j].iter().any(same) {
                    return err(format!("dimension {:?}: value {v} appears twice", d.name));
                }
            }
        }
        Ok(())
    }
}

/// One evaluation of a configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The seed it was trained with.
    pub seed: i64,
    /// The metric it reached.
    pub metric: f64,
    /// Its training time, when the table has it.
    pub seconds: Option<f64>,
}

/// A loaded table: its description and every configuration with its observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `table.toml`.
    pub description: Description,
    /// Every configuration (value index per dimension), sorted, distinct.
    configs: Vec<Vec<u32>>,
    /// The observations of `configs[i]`, by seed.
    observations: Vec<Vec<Observation>>,
}

/// A loaded table's directory, the modification time of its `table.csv`, and the table.
type LoadedEntry = (PathBuf, Option<SystemTime>, Arc<Table>);

/// Tables loaded by this process, so that checking a config, its space and its trainer load a
/// directory once (kept for the process's life: a process reads a handful of tables).
static LOADED: Mutex<Vec<LoadedEntry>> = Mutex::new(Vec::new());

impl Table {
    /// The table in `dir`, shared with whoever loaded the same directory (unchanged since) in
    /// this process.
    pub fn open(dir: &Path) -> Result<Arc<Table>, TableError> {
        let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let stamp = fs::metadata(key.join(TABLE_CSV)).and_then(|m| m.modified()).ok();
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, t)) = loaded.iter().find(|(p, s, _)| *p == key && *s == stamp) {
            return Ok(Arc::clone(t));
        }
        let t = Arc::new(Table::load(dir)?);
        // A changed table replaces the one read before.
        loaded.retain(|(p, _, _)| *p != key);
        loaded.push((key, stamp, Arc::clone(&t)));
        Ok(t)
    }

    /// Reads and checks the table in `dir`.
    pub fn load(dir: &Path) -> Result<Table, TableError> {
        if !dir.is_dir() {
            return Err(TableError::new(dir, None, "not a table directory (it should hold table.toml and table.csv)"));
        }
        let description = Description::read(dir)?;
        let csv_path = dir.join(TABLE_CSV);
        let file =
            fs::File::open(&csv_path).map_err(|e| TableError::new(&csv_path, None, format!("cannot read: {e}")))?;
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(std::io::BufReader::new(file));
        let dims = &description.dimensions;
        let n = dims.len();
        let mut record = csv::StringRecord::new();
        let read = |reader: &mut csv::Reader<_>, record: &mut csv::StringRecord| {
            reader.read_record(record).map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                TableError::new(&csv_path, line, format!("not CSV: {e}"))
            })
        };
        if !read(&mut reader, &mut record)? {
            return Err(TableError::new(&csv_path, Some(1), "empty file: a header is needed"));
        }
        let mut expected: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
        expected.push("seed");
        expected.push(&description.metric);
        let header: Vec<&str> = record.iter().map(str::trim).collect();
        let with_seconds = header.len() == n + 3 && header[n + 2] == "seconds";
        if header[..header.len().min(n + 2)] != expected[..] || !(header.len() == n + 2 || with_seconds) {
            return Err(TableError::new(
                &csv_path,
                Some(1),
                format!(
                    "header is `{}`; expected `{}` (then optionally `seconds`), in table.toml's order",
                    // Escaped: a quoted cell may hold a line break, and an error is one line.
                    header.join(",").escape_debug(),
                    expected.join(",")
                ),
            ));
        }
        let width = header.len();
        let mut by_config: HashMap<Vec<u32>, Vec<(Observation, usize)>> = HashMap::new();
        let mut line = 1;
        while read(&mut reader, &mut record)? {
            line = record.position().map_or(line + 1, |p| p.line() as usize);
            let err = |m: String| TableError::new(&csv_path, Some(line), m);
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            if record.len() != width {
                return Err(err(format!("{} fields; the header has {width}", record.len())));
            }
            let mut key = Vec::with_capacity(n);
            for (d, cell) in dims.iter().zip(record.iter()) {
                key.push(
                    d.index_of(cell)
                        .ok_or_else(|| err(format!("{}: {cell:?} is not one of its values in table.toml", d.name)))?,
                );
            }
            let seed: i64 =
                record[n].trim().parse().map_err(|_| err(format!("seed: {:?} is not an integer", &record[n])))?;
            let number = |i: usize, what: &str| -> Result<f64, TableError> {
                match record[i].trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(err(format!("{what}: {:?} is not a finite number", &record[i]))),
                }
            };
            let metric = number(n + 1, &description.metric)?;
            let seconds = if with_seconds { Some(number(n + 2, "seconds")?) } else { None };
            let obs = by_config.entry(key).or_default();
            if let Some((_, first)) = obs.iter().find(|(o, _)| o.seed == seed) {
                return Err(err(format!("this configuration with seed {seed} is already on line {first}")));
            }
            obs.push((Observation { seed, metric, seconds }, line));
        }
        if by_config.is_empty() {
            return Err(TableError::new(&csv_path, None, "no rows: a table needs at least one evaluation"));
        }
        let mut pairs: Vec<(Vec<u32>, Vec<Observation>)> = by_config
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|(o, _)| o.seed);
                (k, v.into_iter().map(|(o, _)| o).collect())
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let (configs, observations) = pairs.into_iter().unzip();
        Ok(Table { description, configs, observations })
    }

    /// Number of configurations.
    pub fn len(&self) -> usize {
        self.configs.len()
    }

    /// Whether it has no configuration (a loaded table always has one).
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// Every configuration, sorted.
    pub fn configs(&self) -> &[Vec<u32>] {
        &self.configs
    }

    /// Whether its rows record each evaluation's training time (the optional `seconds` column,
    /// then on every row).
    pub fn has_seconds(&self) -> bool {
        self.observations.first().and_then(|o| o.first()).is_some_and(|o| o.seconds.is_some())
    }

    /// The observations of `config` (value index per dimension), `None` when it is not in the table.
    pub fn observations(&self, config: &[u32]) -> Option<&[Observation]> {
        let i = self.configs.binary_search_by(|c| c.as_slice().cmp(config)).ok()?;
        Some(&self.observations[i])
    }

    /// The range of configurations that start with `prefix`.
    pub fn range(&self, prefix: &[u32]) -> std::ops::Range<usize> {
        let lo = self.configs.partition_point(|c| c[..prefix.len()] < *prefix);
        let hi = lo + self.configs[lo..].partition_point(|c| c[..prefix.len()] == *prefix);
        lo..hi
    }

    /// The values the next dimension takes among the configurations that start with `prefix`.
    pub fn next_values(&self, prefix: &[u32]) -> Vec<u32> {
        let pos = prefix.len();
        let mut out = Vec::new();
        if pos >= self.description.dimensions.len() {
            return out;
        }
        let r = self.range(prefix);
        let mut i = r.start;
        while i < r.end {
            let v = self.configs[i][pos];
            out.push(v);
            // Skip to the first configuration with a larger value at `pos`.
            i += self.configs[i..r.end].partition_point(|c| c[pos] <= v);
        }
        out
    }

    /// The text of a configuration: `name=value` pairs joined by `,` in dimension order.
    pub fn text(&self, config: &[u32]) -> String {
        let dims = &self.description.dimensions;
        config
            .iter()
            .zip(dims)
            .map(|(&v, d)| format!("{}={}", d.name, d.values[v as usize]))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The mean metric over a configuration's observations.
    pub fn mean(&self, config: &[u32]) -> Option<f64> {
        let obs = self.observations(config)?;
        Some(obs.iter().map(|o| o.metric).sum::<f64>() / obs.len() as f64)
    }
}

/// One row to write: a configuration (value index per dimension), its seed, metric and seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Value index per dimension.
    pub config: Vec<u32>,
    /// The seed.
    pub seed: i64,
    /// The metric.
    pub metric: f64,
    /// Training time.
    pub seconds: Option<f64>,
}

/// The contents of `table.toml` and `table.csv` for `rows` (`seconds` is written when every row
/// has it); the caller writes them (atomically: `mlpnas tabulate` through the run directory's
/// atomic write).
pub fn render(description: &Description, rows: &[Row]) -> Result<(String, String), TableError> {
    description.check(Path::new(TABLE_TOML))?;
    let toml_text =
        toml::to_string(description).map_err(|e| TableError::new(Path::new(TABLE_TOML), None, e.to_string()))?;
    let with_seconds = rows.iter().all(|r| r.seconds.is_some()) && !rows.is_empty();
    let mut csv_text = String::new();
    let mut header: Vec<String> = description.dimensions.iter().map(|d| d.name.clone()).collect();
    header.push("seed".into());
    header.push(description.metric.clone());
    if with_seconds {
        header.push("seconds".into());
    }
    let _ = writeln!(csv_text, "{}", header.join(","));
    for r in rows {
        if r.config.len() != description.dimensions.len()
            || r.config.iter().zip(&description.dimensions).any(|(&v, d)| v as usize >= d.values.len())
        {
            return Err(TableError::new(
                Path::new(TABLE_CSV),
                None,
                format!("row {:?} does not fit the dimensions", r.config),
            ));
        }
        let mut cells: Vec<String> =
            r.config.iter().zip(&description.dimensions).map(|(&v, d)| d.values[v as usize].to_string()).collect();
        cells.push(r.seed.to_string());
        cells.push(format!("{:?}", r.metric));
        if let (true, Some(s)) = (with_seconds, r.seconds) {
            cells.push(format!("{s:?}"));
        }
        let _ = writeln!(csv_text, "{}", cells.join(","));
    }
    Ok((toml_text, csv_text))
}

/// Writes a table directory with plain writes (tests and tools; see [`render`]).
pub fn write_plain(dir: &Path, description: &Description, rows: &[Row]) -> Result<(), TableError> {
    let (t, c) = render(description, rows)?;
    fs::create_dir_all(dir).map_err(|e| TableError::new(dir, None, format!("cannot create: {e}")))?;
    for (name, text) in [(TABLE_TOML, t), (TABLE_CSV, c)] {
        fs::write(dir.join(name), text)
            .map_err(|e| TableError::new(&dir.join(name), None, format!("cannot write: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mlpnas-data-table-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("tmp dir");
        d
    }

    const TOML: &str = r#"
name = "toy"
metric = "val_loss"
direction = "minimize"

[[dimension]]
name = "alpha"
values = [1e-8, 0.001]

[[dimension]]
name = "act"
values = ["relu", "tanh", "elu"]
"#;

    fn write_files(dir: &Path, csv: &str) {
        fs::write(dir.join(TABLE_TOML), TOML).expect("toml");
        fs::write(dir.join(TABLE_CSV), csv).expect("csv");
    }

    #[test]
    fn numbers_match_by_value_and_rows_define_the_configurations() {
        let d = tmp("ok");
        write_files(&d, "alpha,act,seed,val_loss\n1e-08,relu,0,0.5\n1E-8,relu,1,0.7\n0.001,tanh,0,0.2\n");
        let t = Table::load(&d).expect("loads");
        assert_eq!(t.len(), 2);
        assert_eq!(t.configs(), &[vec![0, 0], vec![1, 1]]);
        assert_eq!(t.observations(&[0, 0]).map(<[_]>::len), Some(2));
        assert_eq!(t.mean(&[0, 0]), Some(0.6));
        assert_eq!(t.observations(&[0, 1]), None);
        assert_eq!(t.next_values(&[]), vec![0, 1]);
        assert_eq!(t.next_values(&[1]), vec![1]);
        assert_eq!(t.text(&[0, 0]), "alpha=1e-8,act=relu");
        // What `write` writes, `load` reads back the same.
        let rows: Vec<Row> = t
            .configs()
            .iter()
            .flat_map(|c| {
                t.observations(c).unwrap_or_default().iter().map(|o| Row {
                    config: c.clone(),
                    seed: o.seed,
                    metric: o.metric,
                    seconds: None,
                })
            })
            .collect();
        let e = tmp("written");
        write_plain(&e, &t.description, &rows).expect("write");
        assert_eq!(Table::load(&e).expect("reads back"), t);
    }

    #[test]
    fn bad_tables_name_the_file_and_line() {
        let cases = [
            ("alpha,act,seed\n", "table.csv:1: header"),
            ("alpha,act,seed,val_loss\n1e-8,relu,0,0.5\n0.5,relu,0,0.1\n", "table.csv:3: alpha: \"0.5\" is not one of"),
            ("alpha,act,seed,val_loss\n1e-8,sigmoid,0,0.5\n", "table.csv:2: act"),
            ("alpha,act,seed,val_loss\n1e-8,relu,x,0.5\n", "table.csv:2: seed"),
            ("alpha,act,seed,val_loss\n1e-8,relu,0,nan\n", "table.csv:2: val_loss"),
            ("alpha,act,seed,val_loss\n1e-8,relu,0,0.5,9\n", "table.csv:2: 5 fields"),
            (
                "alpha,act,seed,val_loss\n1e-8,relu,0,0.5\n1e-8,relu,0,0.4\n",
                "table.csv:3: this configuration with seed 0 is already on line 2",
            ),
            ("alpha,act,seed,val_loss\n", "no rows"),
            ("", "empty file"),
        ];
        for (i, (csv, needle)) in cases.iter().enumerate() {
            let d = tmp(&format!("bad{i}"));
            write_files(&d, csv);
            let e = Table::load(&d).expect_err(csv).to_string();
            assert!(e.contains(needle), "{csv:?}: {e}");
        }
        let d = tmp("badtoml");
        fs::write(d.join(TABLE_TOML), "name = \"x\"\nmetric = \"m\"\ndirection = \"up\"\n").expect("toml");
        let e = Table::load(&d).expect_err("bad direction").to_string();
        assert!(e.contains("table.toml:3") && e.contains("direction") || e.contains("up"), "{e}");
        fs::write(
            d.join(TABLE_TOML),
            "name = \"x\"\nmetric = \"m\"\ndirection = \"maximize\"\n[[dimension]]\nname = \"a\"\nvalues = [1, 1.0]\n",
        )
        .expect("toml");
        let e = Table::load(&d).expect_err("duplicate value").to_string();
        assert!(e.contains("table.toml") && e.contains("appears twice"), "{e}");
        let e = Table::load(&d.join("nope")).expect_err("missing").to_string();
        assert!(e.contains("not a table directory"), "{e}");
    }
}
