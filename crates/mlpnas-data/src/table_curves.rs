//! A benchmark table's learning curves: `epochs.csv` beside `table.csv` (written by `mlpnas
//! tabulate`), the table's metric after each training epoch of each observation, so that a
//! multi-fidelity search can look a configuration up after `e` epochs (issue 34).
//!
//! `epochs.csv`: a header of the dimension names (table.toml's order), `seed`, `epoch`, then
//! metric columns, among them the table's own metric; one row per observation and epoch, epochs
//! 1, 2, ... of an observation with none missing. Every observation of `table.csv` needs its
//! curve. Anything else is refused with an error naming the file and line.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::table::{Table, TableError};

/// The learning curves file of a table directory.
pub const EPOCHS_CSV: &str = "epochs.csv";

/// One row of `epochs.csv`: its epoch, metric value and line.
type Point = (usize, f64, usize);

/// The metric after each epoch of every observation of a [`Table`], in the table's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    /// `by_config[i][j]`: the curve of `table.configs()[i]`'s `j`-th observation (by seed).
    by_config: Vec<Vec<Vec<f64>>>,
}

impl Curves {
    /// Reads `dir/epochs.csv` for `table` (loaded from the same directory).
    pub fn load(dir: &Path, table: &Table) -> Result<Curves, TableError> {
        let path = dir.join(EPOCHS_CSV);
        let file = fs::File::open(&path).map_err(|e| {
            TableError::new(
                &path,
                None,
                format!("cannot read ({e}); a fidelity lookup needs the table's learning curves"),
            )
        })?;
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(std::io::BufReader::new(file));
        let dims = &table.description.dimensions;
        let n = dims.len();
        let mut record = csv::StringRecord::new();
        let mut read = |record: &mut csv::StringRecord| {
            reader
                .read_record(record)
                .map_err(|e| TableError::new(&path, e.position().map(|p| p.line() as usize), format!("not CSV: {e}")))
        };
        if !read(&mut record)? {
            return Err(TableError::new(&path, Some(1), "empty file: a header is needed"));
        }
        let header: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        let metric = &table.description.metric;
        let names_ok = header.len() > n + 2
            && header[..n].iter().zip(dims).all(|(h, d)| *h == d.name)
            && header[n] == "seed"
            && header[n + 1] == "epoch";
        let column = header.iter().skip(n + 2).position(|h| h == metric).map(|i| i + n + 2);
        let Some(column) = column.filter(|_| names_ok) else {
            return Err(TableError::new(
                &path,
                Some(1),
                format!(
                    "header is `{}`; expected the dimensions in table.toml's order, `seed`, `epoch`, then metric \
                     columns with the table's metric `{metric}`",
                    header.join(",").escape_debug()
                ),
            ));
        };
        let mut points: HashMap<(Vec<u32>, i64), Vec<Point>> = HashMap::new();
        let mut line = 1;
        while read(&mut record)? {
            line = record.position().map_or(line + 1, |p| p.line() as usize);
            let err = |m: String| TableError::new(&path, Some(line), m);
            if record.len() != header.len() {
                return Err(err(format!("{} fields; the header has {}", record.len(), header.len())));
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
            let epoch: usize = record[n + 1]
                .trim()
                .parse()
                .ok()
                .filter(|&e| e >= 1)
                .ok_or_else(|| err(format!("epoch: {:?} is not a positive integer", &record[n + 1])))?;
            let value = record[column]
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(format!("{metric}: {:?} is not a finite number", &record[column])))?;
            points.entry((key, seed)).or_default().push((epoch, value, line));
        }
        let mut by_config = Vec::with_capacity(table.len());
        for config in table.configs() {
            let mut curves = Vec::new();
            for o in table.observations(config).unwrap_or_default() {
                let text = || format!("{} seed {}", table.text(config), o.seed);
                let mut p = points.remove(&(config.clone(), o.seed)).ok_or_else(|| {
                    TableError::new(&path, None, format!("no epochs for {}, which table.csv has", text()))
                })?;
                p.sort_by_key(|&(e, _, _)| e);
                if let Some(&(e, _, l)) = p.iter().enumerate().find(|&(i, &(e, _, _))| e != i + 1).map(|(_, x)| x) {
                    return Err(TableError::new(
                        &path,
                        Some(l),
                        format!("{}: epoch {e} out of sequence (its epochs must be 1, 2, ... once each)", text()),
                    ));
                }
                curves.push(p.into_iter().map(|(_, v, _)| v).collect());
            }
            by_config.push(curves);
        }
        if let Some(((config, seed), p)) = points.into_iter().next() {
            return Err(TableError::new(
                &path,
                p.first().map(|&(_, _, l)| l),
                format!("{} seed {seed} is not an observation of table.csv", table.text(&config)),
            ));
        }
        Ok(Curves { by_config })
    }

    /// Epochs every observation's curve has (the shortest curve's length): a full trial's
    /// fidelity.
    pub fn epochs(&self) -> usize {
        self.by_config.iter().flatten().map(Vec::len).min().unwrap_or(0)
    }

    /// The curve of `config`'s `index`-th observation (as [`Table::observations`] lists them).
    pub fn curve(&self, table: &Table, config: &[u32], index: usize) -> Option<&[f64]> {
        let i = table.configs().binary_search_by(|c| c.as_slice().cmp(config)).ok()?;
        self.by_config[i].get(index).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs_table(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tables").join(name)
    }

    /// The seed space's tables: every observation has 10 epochs, and its last epoch's metric is
    /// table.csv's (the metric after the last epoch).
    #[test]
    fn the_committed_tables_curves_end_at_their_metric() {
        for name in ["winequality-red", "wine-quality"] {
            let dir = docs_table(name);
            let table = Table::load(&dir).expect("table");
            let curves = Curves::load(&dir, &table).expect("curves");
            for config in table.configs() {
                for (j, o) in table.observations(config).expect("observations").iter().enumerate() {
                    let c = curves.curve(&table, config, j).expect("curve");
                    assert_eq!(c.len(), 10, "{}", table.text(config));
                    assert_eq!(c[9], o.metric, "{} seed {}", table.text(config), o.seed);
                }
            }
        }
    }

    #[test]
    fn bad_curves_are_refused_naming_the_file_and_line() {
        let src = docs_table("winequality-red");
        let table = Table::load(&src).expect("table");
        let text = fs::read_to_string(src.join(EPOCHS_CSV)).expect("epochs.csv");
        let dir = std::env::temp_dir().join(format!("mlpnas-curves-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let bad = |t: &str| {
            fs::write(dir.join(EPOCHS_CSV), t).expect("write");
            Curves::load(&dir, &table).expect_err("refused").to_string()
        };
        let lines: Vec<&str> = text.lines().collect();
        // A missing epoch of one observation.
        let mut gap = lines.clone();
        gap.remove(3);
        let e = bad(&gap.join("\n"));
        assert!(e.contains("epochs.csv:") && e.contains("out of sequence"), "{e}");
        // The table's metric column absent.
        let e = bad(&text.replace("val_acc", "accuracy"));
        assert!(e.contains("epochs.csv:1") && e.contains("`val_acc`"), "{e}");
        // An observation table.csv lacks.
        let e = bad(&format!("{text}8:sigmoid,8:sigmoid,output,9,1,0.5,0.5,0.5\n"));
        assert!(e.contains("seed 9 is not an observation"), "{e}");
        // No file.
        let _ = fs::remove_file(dir.join(EPOCHS_CSV));
        assert!(Curves::load(&dir, &table).expect_err("absent").to_string().contains("learning curves"));
    }
}
