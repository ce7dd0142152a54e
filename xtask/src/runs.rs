//! Reading one run directory (`mlpnas search --out RUN`) and the per-run numbers of a comparison.
//!
//! A run directory is read through its one reader, `mlpnas_runs::RunDir` (the storage the search
//! wrote it with): the journal's [`TrialRecord`]s (a half-written last line is dropped with a
//! warning; any other bad line is an error naming the file and line, as for `report` and
//! `--resume`), the controller's `EpochReport`s and the `Summary` (written last).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use mlpnas_core::stats::{mean, spearman};
use mlpnas_core::{EpochReport, RunStorage, Summary, TrialRecord};
use mlpnas_runs::{JOURNAL, RunDir};
use serde::Serialize;

/// Whether `run_dir` holds a finished search (a summary that says finished).
pub fn is_finished(run_dir: &Path) -> bool {
    RunDir::new(run_dir).read_summary().ok().flatten().is_some_and(|s| s.finished)
}

/// One run directory, read.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Seed of the run.
    pub seed: u64,
    /// Trials in journal order.
    pub trials: Vec<TrialRecord>,
    /// Controller epochs (empty when `controller.jsonl` is absent).
    pub epochs: Vec<EpochReport>,
    /// The summary, when the search finished.
    pub summary: Option<Summary>,
    /// What the reader noticed (a dropped half-written line).
    pub warnings: Vec<String>,
}

impl RunData {
    /// Reads `run_dir`; `None` when it has no journal (the run never started).
    pub fn load(run_dir: &Path, seed: u64) -> Result<Option<Self>> {
        if !run_dir.join(JOURNAL).exists() {
            return Ok(None);
        }
        let dir = RunDir::new(run_dir);
        let log = dir.read_verified_trials().with_context(|| format!("{}", run_dir.display()))?;
        let epochs = dir.read_epochs().with_context(|| format!("{}", run_dir.display()))?;
        let summary = dir.read_summary().with_context(|| format!("{}", run_dir.display()))?;
        Ok(Some(Self { seed, trials: log.records, epochs, summary, warnings: log.warnings }))
    }

    /// The numbers a comparison reports for this run.
    pub fn metrics(&self) -> RunMetrics {
        let rewards: Vec<f64> = self.trials.iter().map(|t| t.reward).collect();
        let winner = best_trial(&self.trials);
        let best_reward = winner.map(|t| t.reward);
        let trial_seconds: f64 = self.trials.iter().map(|t| t.seconds).sum();
        let summary_wall = self.summary.as_ref().map(|s| s.wall_seconds);
        let wall_seconds = summary_wall.unwrap_or(trial_seconds);
        let n = self.trials.len();
        let (pred, actual): (Vec<f64>, Vec<f64>) =
            self.trials.iter().filter_map(|t| t.predicted.map(|p| (p, t.reward))).unzip();
        let transfers: Vec<f64> = self.trials.iter().map(|t| t.transfers as f64).collect();
        RunMetrics {
            seed: self.seed,
            finished: self.summary.as_ref().is_some_and(|s| s.finished),
            exhausted: self.summary.as_ref().is_some_and(|s| s.exhausted),
            trials: n,
            best_reward,
            best_architecture: winner.map(|t| t.architecture.clone()),
            trials_to_95: trials_to_gain(&rewards, 0.95),
            epoch_mean_rewards: self.epoch_mean_rewards(),
            wall_seconds,
            wall_from_summary: summary_wall.is_some(),
            archs_per_second: if wall_seconds > 0.0 { Some(n as f64 / wall_seconds) } else { None },
            transfers_per_trial: mean(&transfers),
            predictor_mae: mlpnas_core::stats::mae(&pred, &actual),
            predictor_spearman: spearman(&pred, &actual),
            predictions: pred.len(),
        }
    }

    /// Mean reward of each controller epoch: `controller.jsonl` where present, else the journal
    /// grouped by epoch.
    fn epoch_mean_rewards(&self) -> Vec<f64> {
        if !self.epochs.is_empty() {
            let mut e: Vec<&EpochReport> = self.epochs.iter().collect();
            e.sort_by_key(|r| r.epoch);
            return e.iter().map(|r| r.mean_reward).collect();
        }
        let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for t in &self.trials {
            by_epoch.entry(t.epoch).or_default().push(t.reward);
        }
        by_epoch.values().filter_map(|v| mean(v)).collect()
    }

    /// Best reward after each trial (1..=n).
    pub fn best_so_far(&self) -> Vec<f64> {
        best_so_far(&self.trials.iter().map(|t| t.reward).collect::<Vec<_>>())
    }
}

/// The run's best trial as the search ranks it ([`mlpnas_core::top_n`]): the highest reward,
/// the earliest on ties; under a multi-fidelity scheduler, among the longest-trained trials.
pub fn best_trial(trials: &[TrialRecord]) -> Option<&TrialRecord> {
    mlpnas_core::top_n(trials, 1).into_iter().next()
}

/// Running maximum of `rewards`.
pub fn best_so_far(rewards: &[f64]) -> Vec<f64> {
    let mut best = f64::NEG_INFINITY;
    rewards
        .iter()
        .map(|r| {
            best = best.max(*r);
            best
        })
        .collect()
}

/// Trials until the best reward so far closes `fraction` of the gap between the first trial's
/// reward and the run's best (1 when the first trial is the best). A fraction of the best itself
/// says nothing where rewards are accuracies close together (95% of 0.58 is reached by any
/// trial): the gain is what a search adds over its first guess.
pub fn trials_to_gain(rewards: &[f64], fraction: f64) -> Option<usize> {
    let best = rewards.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let first = *rewards.first()?;
    if !best.is_finite() || !first.is_finite() {
        return None;
    }
    let target = first + fraction * (best - first);
    rewards.iter().position(|r| *r >= target).map(|i| i + 1)
}

/// Per-run numbers of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMetrics {
    /// Seed.
    pub seed: u64,
    /// `summary.json` says finished.
    pub finished: bool,
    /// The search space ran out before the budget did.
    pub exhausted: bool,
    /// Trials in the journal.
    pub trials: usize,
    /// Best reward.
    pub best_reward: Option<f64>,
    /// Architecture of the winner.
    pub best_architecture: Option<String>,
    /// Trials until the best so far closes 95% of the gap between the first trial's reward and
    /// the run's best ([`trials_to_gain`]).
    pub trials_to_95: Option<usize>,
    /// Mean reward of each controller epoch.
    pub epoch_mean_rewards: Vec<f64>,
    /// Wall time of the search (`summary.json`, else the sum of trial times).
    pub wall_seconds: f64,
    /// Whether `wall_seconds` came from `summary.json`.
    pub wall_from_summary: bool,
    /// Trials per second of wall time.
    pub archs_per_second: Option<f64>,
    /// Mean weight transfers per trial.
    pub transfers_per_trial: Option<f64>,
    /// Mean absolute error of predictions, where the controller predicts.
    pub predictor_mae: Option<f64>,
    /// Spearman correlation of predictions and rewards.
    pub predictor_spearman: Option<f64>,
    /// Trials with a prediction.
    pub predictions: usize,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh empty directory under the system temp dir.
    pub(crate) fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        d
    }

    /// A journal line as `mlpnas search` writes it (every field).
    pub(crate) fn line(trial: usize, epoch: usize, reward: f64, predicted: Option<f64>, transfers: usize) -> String {
        serde_json::json!({
            "trial": trial, "epoch": epoch, "tokens": [12, 30], "architecture": format!("a{trial}"),
            "reward": reward, "val_acc_last": reward, "predicted": predicted, "transfers": transfers,
            "params": 100, "seconds": 0.5, "status": "ok", "epochs": [],
        })
        .to_string()
    }

    /// Writes a run directory: a journal of `rewards` (2 trials per epoch) and, if `wall` is given,
    /// a finished `summary.json`.
    pub(crate) fn write_run(dir: &Path, rewards: &[f64], wall: Option<f64>) {
        std::fs::create_dir_all(dir).expect("run dir");
        let lines: Vec<String> = rewards.iter().enumerate().map(|(i, r)| line(i, i / 2, *r, None, i % 3)).collect();
        std::fs::write(dir.join("journal.jsonl"), lines.join("\n") + "\n").expect("journal");
        if let Some(w) = wall {
            let s = serde_json::json!({"finished": true, "trials": rewards.len(), "exhausted": false,
                "wall_seconds": w, "best": null});
            std::fs::write(dir.join("summary.json"), s.to_string()).expect("summary");
        }
    }

    #[test]
    fn trials_to_95_and_best_so_far() {
        // Gain 0.5 -> 1.0: 95% of it is 0.975, first reached by the fifth trial (0.96 is not).
        assert_eq!(trials_to_gain(&[0.5, 0.7, 0.96, 0.8, 1.0], 0.95), Some(5));
        // Accuracies close together: 95% of the best (0.551) would be trial 1; the gain says 3.
        assert_eq!(trials_to_gain(&[0.55, 0.56, 0.58, 0.57], 0.95), Some(3));
        assert_eq!(trials_to_gain(&[1.0, 0.2], 0.95), Some(1));
        assert_eq!(trials_to_gain(&[0.0, 0.0], 0.95), Some(1));
        assert_eq!(trials_to_gain(&[], 0.95), None);
        assert_eq!(best_so_far(&[0.2, 0.1, 0.5, 0.4]), vec![0.2, 0.2, 0.5, 0.5]);
    }

    #[test]
    fn reads_a_run_with_a_half_written_line_and_unknown_fields() {
        let d = tmp("half");
        let mut text = [
            line(0, 0, 0.5, Some(0.4), 0),
            line(1, 0, 0.8, Some(0.9), 1),
            // An unknown future field.
            line(2, 1, 0.9, Some(0.7), 2).replace("\"seconds\":0.5", "\"seconds\":1.5,\"new_field\":[1]"),
            line(3, 1, 0.6, Some(0.5), 1),
        ]
        .join("\n");
        text.push_str("\n{\"trial\":4,\"epoch\":2,\"rew");
        std::fs::write(d.join("journal.jsonl"), text).expect("write");
        let run = RunData::load(&d, 3).expect("readable").expect("has a journal");
        assert_eq!(run.trials.len(), 4);
        assert_eq!(run.warnings.len(), 1, "the half-written line is dropped with a warning: {:?}", run.warnings);
        let m = run.metrics();
        assert_eq!(m.seed, 3);
        assert!(!m.finished);
        assert_eq!(m.best_reward, Some(0.9));
        assert_eq!(m.best_architecture.as_deref(), Some("a2"));
        assert_eq!(m.trials_to_95, Some(3)); // 0.5 + 0.95 x (0.9 - 0.5) = 0.88, first reached by 0.9
        assert_eq!(m.epoch_mean_rewards, vec![0.65, 0.75]);
        assert_eq!(m.wall_seconds, 3.0); // no summary: 0.5 + 0.5 + 1.5 + 0.5
        assert!(!m.wall_from_summary);
        assert_eq!(m.transfers_per_trial, Some(1.0));
        assert_eq!(m.predictions, 4);
        let mae = m.predictor_mae.unwrap_or(f64::NAN);
        assert!((mae - 0.125).abs() < 1e-12, "{mae}"); // |.1|,|.1|,|.2|,|.1|
        assert!(m.predictor_spearman.is_some());
    }

    #[test]
    fn a_bad_middle_line_is_an_error_naming_it() {
        let d = tmp("bad-middle");
        let text = [line(0, 0, 0.5, None, 0), "not json".into(), line(1, 0, 0.6, None, 0)].join("\n");
        std::fs::write(d.join("journal.jsonl"), text).expect("write");
        let e = format!("{:#}", RunData::load(&d, 0).expect_err("a damaged journal"));
        assert!(e.contains("journal.jsonl") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn summary_and_controller_reports_take_precedence() {
        let d = tmp("summary");
        write_run(&d, &[0.2, 0.4, 0.6, 0.8], Some(2.0));
        let reports = [(0, 0.25), (1, 0.75)].map(|(e, m)| {
            serde_json::json!({"epoch": e, "trials": 2, "mean_reward": m, "best_reward": m, "predictor_mae": null,
                "predictor_spearman": null, "metrics": {"entropy": 1.0}})
            .to_string()
        });
        std::fs::write(d.join("controller.jsonl"), reports.join("\n")).expect("controller");
        assert!(is_finished(&d));
        let m = RunData::load(&d, 0).expect("readable").expect("journal").metrics();
        assert!(m.finished && m.wall_from_summary);
        assert_eq!(m.epoch_mean_rewards, vec![0.25, 0.75]);
        assert_eq!(m.archs_per_second, Some(2.0));
        assert_eq!(m.predictor_mae, None);
        assert!(RunData::load(&d.join("absent"), 0).expect("no error").is_none());
        assert!(!is_finished(&d.join("absent")));
    }
}
