//! Resampled evaluation splits of a search's rows ([`resample`]): K stratified folds
//! (`search.folds`) or R stratified holdouts (`search.repeats`) over the training and validation
//! rows of the search's split together (never its test rows), seeded from the split seed.
//!
//! The rows keep the preprocessing fitted on the split's training part (imputation, levels,
//! standardization): unsupervised statistics of rows that some folds validate on, which
//! scikit-learn's pipelines would refit per fold; the labels of a fold's validation rows never
//! reach its training.

use mlpnas_core::seed::{derive, rng};
use mlpnas_core::{DataSplit, Dataset, Resampling};
use rand::seq::SliceRandom;

/// The rows one resampled evaluation trains on and scores on, as indices into the search's rows
/// (training then validation rows).
pub type RowSplit = (Vec<usize>, Vec<usize>);

/// The row indices (into the search's rows: training then validation rows) each evaluation
/// trains on and scores on, in evaluation order. With folds, every row is scored by exactly
/// one evaluation.
pub fn resample_rows(rows: &Dataset, how: Resampling, valid_fraction: f64, seed: u64) -> Result<Vec<RowSplit>, String> {
    let n = rows.n_rows();
    let mut strata = crate::prepare::strata(rows);
    let smallest = |need: usize| -> Result<(), String> {
        for (c, s) in strata.iter().enumerate() {
            if s.len() < need {
                let which = match rows.class_names.get(c) {
                    Some(name) => format!("class {name:?} has {} of the search's rows", s.len()),
                    None => format!("the search has {} rows", s.len()),
                };
                return Err(format!("{which}: too few for {how} (at least {need})"));
            }
        }
        Ok(())
    };
    match how {
        Resampling::Holdout => Err("a holdout is the search's own split; nothing to resample".into()),
        Resampling::Folds(k) => {
            smallest(k)?;
            let mut r = rng(derive(seed, "folds", 0));
            let mut fold_of = vec![0usize; n];
            // Each class's rows dealt round-robin after a shuffle, continuing where the previous
            // class stopped: folds differ in size by one row at most.
            let mut next = 0;
            for s in &mut strata {
                s.shuffle(&mut r);
                for &i in s.iter() {
                    fold_of[i] = next % k;
                    next += 1;
                }
            }
            Ok((0..k)
                .map(|f| {
                    let (valid, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] == f);
                    (train, valid)
                })
                .collect())
        }
        Resampling::Repeats(times) => {
            smallest(2)?;
            Ok((0..times)
                .map(|t| {
                    let mut r = rng(derive(seed, "repeat", t as u64));
                    let mut is_valid = vec![false; n];
                    for s in &strata {
                        let mut s = s.clone();
                        s.shuffle(&mut r);
                        // At least one validation and one training row of every class.
                        let v = ((s.len() as f64 * valid_fraction).round() as usize).clamp(1, s.len() - 1);
                        for &i in &s[..v] {
                            is_valid[i] = true;
                        }
                    }
                    let (valid, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| is_valid[i]);
                    (train, valid)
                })
                .collect())
        }
    }
}

/// The evaluation splits of `split`'s training and validation rows ([`resample_rows`]); none of
/// them has a test part.
pub fn resample(split: &DataSplit, how: Resampling, valid_fraction: f64, seed: u64) -> Result<Vec<DataSplit>, String> {
    let rows = Dataset::concat(&[&split.train, &split.valid])?;
    Ok(resample_rows(&rows, how, valid_fraction, seed)?
        .into_iter()
        .map(|(train, valid)| DataSplit { train: rows.select(&train), valid: rows.select(&valid), test: None })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(classes: &[usize]) -> Dataset {
        let labels: Vec<u32> = classes.iter().enumerate().flat_map(|(c, &n)| vec![c as u32; n]).collect();
        Dataset {
            features: (0..labels.len()).map(|i| i as f32).collect(),
            sample_shape: vec![1],
            targets: Vec::new(),
            class_names: (0..classes.len()).map(|c| format!("c{c}")).collect(),
            feature_names: vec!["x".into()],
            labels,
        }
    }

    #[test]
    fn folds_score_every_row_exactly_once_and_keep_classes_apart() {
        let d = data(&[23, 9, 5]);
        for k in [2, 3, 5] {
            let parts = resample_rows(&d, Resampling::Folds(k), 0.2, 7).expect("folds");
            assert_eq!(parts.len(), k);
            let mut scored = vec![0; d.n_rows()];
            for (train, valid) in &parts {
                assert_eq!(train.len() + valid.len(), d.n_rows());
                assert!(train.iter().all(|i| !valid.contains(i)), "a fold trains on a row it scores");
                for &i in valid {
                    scored[i] += 1;
                }
                // Every class in every fold's validation part (each has >= k rows).
                for c in 0..3 {
                    assert!(valid.iter().any(|&i| d.labels[i] == c), "k {k}: class {c} missing");
                }
            }
            assert!(scored.iter().all(|&s| s == 1), "k {k}: {scored:?}");
            let sizes: Vec<usize> = parts.iter().map(|p| p.1.len()).collect();
            assert!(sizes.iter().max().expect("sizes") - sizes.iter().min().expect("sizes") <= 1, "{sizes:?}");
        }
        assert_eq!(resample_rows(&d, Resampling::Folds(3), 0.2, 7), resample_rows(&d, Resampling::Folds(3), 0.2, 7));
        assert_ne!(resample_rows(&d, Resampling::Folds(3), 0.2, 7), resample_rows(&d, Resampling::Folds(3), 0.2, 8));
        let e = resample_rows(&d, Resampling::Folds(6), 0.2, 7).expect_err("5 rows of c2");
        assert!(e.contains("\"c2\" has 5") && e.contains("6 folds"), "{e}");
    }

    #[test]
    fn repeats_hold_out_a_share_of_each_class_each_time() {
        let d = data(&[40, 10]);
        let parts = resample_rows(&d, Resampling::Repeats(4), 0.25, 1).expect("repeats");
        assert_eq!(parts.len(), 4);
        for (train, valid) in &parts {
            assert_eq!(valid.len(), 10 + 3);
            assert_eq!(train.len() + valid.len(), 50);
        }
        assert_ne!(parts[0].1, parts[1].1, "each repeat draws its own rows");
    }
}
