//! Preparation: a seeded train/valid/test split (stratified by class; shuffled for a
//! regression) and an optional [`Standardizer`] fitted on the training part.

use mlpnas_core::{DataSplit, Dataset};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::Loaded;
use crate::config::DataConfig;
use crate::encode::Preprocessor;
use crate::error::DataError;
use crate::raw::ColumnInfo;

/// A data set ready for a search: split, encoded and standardized as the config asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Train / valid / (test) parts, already encoded and standardized.
    pub split: DataSplit,
    /// The encoding of a table's columns (fitted on the training rows); keep it to encode new
    /// rows. `None` for data that needs none (numbers only, no missing cell).
    pub preprocessor: Option<Preprocessor>,
    /// The scaling applied to every part after encoding (fitted on `split.train`).
    pub standardizer: Option<Standardizer>,
    /// The columns as loaded (types, missing cells, levels, what was left out).
    pub columns: Vec<ColumnInfo>,
    /// What loading left out, one line each.
    pub notes: Vec<String>,
}

/// Per-feature scaling `(x - mean) / std`, fitted on training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each flattened feature.
    pub mean: Vec<f32>,
    /// Standard deviation of each flattened feature (1 for a constant feature).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits mean and (population) standard deviation of each flattened feature of `data`.
    ///
    /// A constant feature gets std 1, so it becomes 0 everywhere.
    pub fn fit(data: &Dataset) -> Standardizer {
        let w = data.n_features();
        let n = data.n_rows();
        let mut sum = vec![0f64; w];
        let mut sum_sq = vec![0f64; w];
        if w > 0 {
            for row in data.features.chunks_exact(w) {
                for (j, &v) in row.iter().enumerate() {
                    sum[j] += f64::from(v);
                }
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| if n > 0 { s / n as f64 } else { 0.0 }).collect();
        if w > 0 {
            for row in data.features.chunks_exact(w) {
                for (j, &v) in row.iter().enumerate() {
                    let d = f64::from(v) - mean[j];
                    sum_sq[j] += d * d;
                }
            }
        }
        let std = sum_sq
            .iter()
            .map(|s| {
                let sd = if n > 0 { (s / n as f64).sqrt() } else { 0.0 };
                if sd.is_finite() && sd > 1e-12 { sd as f32 } else { 1.0 }
            })
            .collect();
        Standardizer { mean: mean.iter().map(|&m| m as f32).collect(), std }
    }

    /// Scales one flattened example in place (`row.len()` should equal `self.mean.len()`).
    pub fn apply_row(&self, row: &mut [f32]) {
        debug_assert_eq!(row.len(), self.mean.len(), "standardizer width mismatch");
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
    }

    /// Scales every example of `data` in place.
    ///
    /// `data` must have the width the standardizer was fitted on; debug builds assert it, release
    /// builds scale only the leading features of each row.
    pub fn apply(&self, data: &mut Dataset) {
        let w = data.n_features();
        debug_assert_eq!(w, self.mean.len(), "standardizer width mismatch");
        if w == 0 {
            return;
        }
        for row in data.features.chunks_exact_mut(w) {
            self.apply_row(row);
        }
    }
}

/// Splits `total` among classes in proportion to `quotas` (largest remainder), never giving a
/// class more than its `cap`.
fn allocate(quotas: &[f64], caps: &[usize], total: usize) -> Vec<usize> {
    let mut out: Vec<usize> = quotas.iter().zip(caps).map(|(&q, &c)| (q.floor() as usize).min(c)).collect();
    let mut left = total.saturating_sub(out.iter().sum());
    // Largest fractional part first; ties by larger quota, then class index.
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (quotas[a] - quotas[a].floor(), quotas[b] - quotas[b].floor());
        fb.total_cmp(&fa).then(quotas[b].total_cmp(&quotas[a])).then(a.cmp(&b))
    });
    while left > 0 {
        let mut gave = false;
        for &c in &order {
            if left > 0 && out[c] < caps[c] {
                out[c] += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    out
}

/// Rows of a part to draw: `round(n * fraction)`, at least 1 when `fraction > 0`.
fn part_size(n: usize, fraction: f64) -> usize {
    if fraction <= 0.0 { 0 } else { ((n as f64 * fraction).round() as usize).max(1) }
}

/// Per-class counts for one held-out part, preferring to leave every class at least one
/// training row.
fn allocate_part(avail: &[usize], fraction: f64, total: usize) -> Vec<usize> {
    let quotas: Vec<f64> = avail.iter().map(|&n| n as f64 * fraction).collect();
    let soft_caps: Vec<usize> = avail.iter().map(|&n| n.saturating_sub(1)).collect();
    let first = allocate(&quotas, &soft_caps, total);
    if first.iter().sum::<usize>() >= total {
        return first;
    }
    allocate(&quotas, avail, total)
}

/// Validates `cfg`, checks the data, then splits it into train / valid / (test) parts,
/// stratified by class and shuffled with `seed`; a table's [`Preprocessor`] is fitted on the
/// train part and encodes every part; then every part is standardized with statistics of the
/// train part when `cfg.standardize`.
///
/// Each held-out part gets `round(rows * fraction)` rows (at least one), shared among classes in
/// proportion to their sizes; the same data and seed always give the same split.
pub fn prepare(cfg: &DataConfig, loaded: Loaded, seed: u64) -> Result<Prepared, DataError> {
    cfg.validate()?;
    let origin = cfg.source.to_string();
    let origin = origin.as_str();
    let Loaded { data, table, columns, notes } = loaded;
    match &table {
        None => data.check().map_err(|reason| DataError::invalid(origin, reason))?,
        Some(_) if data.is_regression() => {
            if data.targets.iter().all(|&v| v == data.targets[0]) {
                return Err(DataError::invalid(
                    origin,
                    format!("the target is {} in every row; there is nothing to predict", data.targets[0]),
                ));
            }
        }
        Some(_) => {
            if data.n_classes() < 2 {
                return Err(DataError::invalid(
                    origin,
                    format!("the label has {} distinct value(s); at least 2 are needed", data.n_classes()),
                ));
            }
        }
    }
    let (train, valid, test) = split_rows(cfg, &data, seed, origin)?;
    let mut split = match &table {
        None => DataSplit {
            train: data.select(&train),
            valid: data.select(&valid),
            test: if cfg.test_fraction > 0.0 { Some(data.select(&test)) } else { None },
        },
        Some(t) => {
            let pre = Preprocessor::fit(t, &train, cfg.min_level_count, cfg.max_levels);
            let names = pre.feature_names();
            let part = |rows: &[usize]| Dataset {
                features: pre.transform_table(t, rows),
                sample_shape: vec![pre.width()],
                labels: if data.is_regression() { Vec::new() } else { rows.iter().map(|&i| data.labels[i]).collect() },
                targets: if data.is_regression() {
                    rows.iter().map(|&i| data.targets[i]).collect()
                } else {
                    Vec::new()
                },
                class_names: data.class_names.clone(),
                feature_names: names.clone(),
            };
            let split = DataSplit {
                train: part(&train),
                valid: part(&valid),
                test: if cfg.test_fraction > 0.0 { Some(part(&test)) } else { None },
            };
            split.train.check().map_err(|reason| DataError::invalid(origin, reason))?;
            return Ok(finish(cfg, split, Some(pre), columns, notes));
        }
    };
    let standardizer = standardize(cfg, &mut split);
    Ok(Prepared { split, preprocessor: None, standardizer, columns, notes })
}

/// A split that is encoded, standardized as `cfg` says.
fn finish(
    cfg: &DataConfig,
    mut split: DataSplit,
    preprocessor: Option<Preprocessor>,
    columns: Vec<ColumnInfo>,
    notes: Vec<String>,
) -> Prepared {
    let standardizer = standardize(cfg, &mut split);
    Prepared { split, preprocessor, standardizer, columns, notes }
}

/// Fits a [`Standardizer`] on the train part and applies it to every part, when `cfg` asks.
fn standardize(cfg: &DataConfig, split: &mut DataSplit) -> Option<Standardizer> {
    cfg.standardize.then(|| {
        let s = Standardizer::fit(&split.train);
        s.apply(&mut split.train);
        s.apply(&mut split.valid);
        if let Some(t) = split.test.as_mut() {
            s.apply(t);
        }
        s
    })
}

/// Row indices of the train, valid and test parts.
type Parts = (Vec<usize>, Vec<usize>, Vec<usize>);

/// The rows of the train, valid and test parts (stratified, shuffled with `seed`).
/// The row indices of each class, in row order (a regression's rows are one stratum): what
/// every split and resampling is stratified by.
pub(crate) fn strata(data: &Dataset) -> Vec<Vec<usize>> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.n_classes().max(1)];
    if data.is_regression() {
        by_class[0] = (0..data.n_rows()).collect();
    }
    for (i, &l) in data.labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    by_class
}

fn split_rows(cfg: &DataConfig, data: &Dataset, seed: u64, origin: &str) -> Result<Parts, DataError> {
    let n = data.n_rows();
    let mut by_class = strata(data);
    let mut rng = mlpnas_core::seed::rng(seed);
    for rows in &mut by_class {
        rows.shuffle(&mut rng);
    }
    let sizes: Vec<usize> = by_class.iter().map(Vec::len).collect();

    let n_valid = part_size(n, cfg.valid_fraction);
    let n_test = part_size(n, cfg.test_fraction);
    if n_valid + n_test >= n {
        return Err(DataError::invalid(
            origin,
            format!(
                "{n} rows are too few for valid_fraction {} and test_fraction {}: {n_valid} valid + {n_test} test rows leave none to train on",
                cfg.valid_fraction, cfg.test_fraction
            ),
        ));
    }
    let valid_per_class = allocate_part(&sizes, cfg.valid_fraction, n_valid);
    let after_valid: Vec<usize> = sizes.iter().zip(&valid_per_class).map(|(s, v)| s - v).collect();
    let test_quota_fraction = cfg.test_fraction / (1.0 - cfg.valid_fraction);
    let test_per_class = allocate_part(&after_valid, test_quota_fraction, n_test);

    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (c, rows) in by_class.iter().enumerate() {
        let (v, t) = (valid_per_class[c], test_per_class[c]);
        valid.extend_from_slice(&rows[..v]);
        test.extend_from_slice(&rows[v..v + t]);
        train.extend_from_slice(&rows[v + t..]);
    }
    for (part, name, want) in [(&valid, "valid", n_valid), (&test, "test", n_test)] {
        if part.len() != want {
            return Err(DataError::invalid(origin, format!("{n} rows are too few to hold out {want} {name} rows")));
        }
    }
    if train.is_empty() {
        return Err(DataError::invalid(origin, format!("{n} rows leave none to train on")));
    }
    // Every class must be learned and scored: a class without a training row cannot be
    // predicted, and one without a validation row makes the reward blind to it.
    let per_class_needed = ((1.0 / cfg.valid_fraction).ceil() as usize).max(2) + usize::from(cfg.test_fraction > 0.0);
    for (c, &size) in sizes.iter().enumerate() {
        let (v, t) = (valid_per_class[c], test_per_class[c]);
        let missing = if size - v - t == 0 {
            Some("training")
        } else if v == 0 {
            Some("validation")
        } else {
            None
        };
        if let Some(part) = missing {
            if data.is_regression() {
                return Err(DataError::invalid(origin, format!("{n} rows leave no {part} row")));
            }
            let name = data.class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
            return Err(DataError::invalid(
                origin,
                format!(
                    "class \"{name}\" has {size} row{} and the split (valid_fraction {}) leaves it no {part} row; \
                     every class needs at least {per_class_needed} rows (or merge rare classes into others)",
                    if size == 1 { "" } else { "s" },
                    cfg.valid_fraction
                ),
            ));
        }
    }
    // Mix classes within each part (the stratified order groups them).
    train.shuffle(&mut rng);
    valid.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Ok((train, valid, test))
}
