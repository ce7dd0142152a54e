//! The journal record of one trained architecture (a line of `journal.jsonl`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::criterion::Scored;
use crate::space::TokenId;
use crate::trainer::EpochMetrics;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Trained to the end.
    Ok,
    /// The loss became NaN or infinite; the reward is 0.
    Diverged,
}

impl TrialStatus {
    /// Whether a trial that ended so puts its trained weights into the weight store (a diverged
    /// one does not).
    pub fn stores_weights(self) -> bool {
        self == TrialStatus::Ok
    }
}

/// The batches of a controller epoch of `n` trials trained `batch` at a time, as index ranges
/// within the epoch: the trials of a batch read the weight store as it was at the batch's start,
/// and their weights are stored in trial order after it. The search loop runs them so; readers
/// that replay a run's store (the dashboard) follow the same ranges.
pub fn batches(n: usize, batch: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let batch = batch.max(1);
    (0..n.div_ceil(batch)).map(move |b| b * batch..((b + 1) * batch).min(n))
}

/// One finished trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0-based index over the whole search.
    pub trial: usize,
    /// Controller epoch it belongs to.
    pub epoch: usize,
    /// The sequence.
    pub tokens: Vec<TokenId>,
    /// Its text form, e.g. `64:relu,dropout,32:elu,3:softmax`.
    pub architecture: String,
    /// Epoch-weighted mean validation accuracy (weights 1..N); 0 when diverged. For a measured
    /// candidate (a table row): the metric, negated when it is to be minimised.
    pub reward: f64,
    /// Validation accuracy after the last epoch.
    pub val_acc_last: f64,
    /// The controller's predicted accuracy, if it has a predictor.
    pub predicted: Option<f64>,
    /// Dense layers that started from shared weights.
    pub transfers: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Wall time of training and scoring.
    pub seconds: f64,
    /// How it ended.
    pub status: TrialStatus,
    /// Per-epoch metrics.
    pub epochs: Vec<EpochMetrics>,
    /// The raw metric of a measured candidate (a table's column, e.g. `val_loss`; the reward
    /// is `-metric` for a metric to minimise); absent for trained networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<f64>,
    /// The reward on each resampled split (`search.folds`, `search.repeats`), in order: the
    /// reward is their mean; absent without resampling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<f64>,
    /// A re-evaluation of this earlier trial's candidate after the search (`search.rescore_top`):
    /// trained again from scratch with its own seed; controllers never see it, and the top
    /// list ranks the candidate by the mean of its reward and its re-evaluations'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore_of: Option<usize>,
    /// Under a multi-fidelity `[scheduler]`: the rungs it reached, in order, each with its
    /// cumulative epochs and the reward after them (the last is `reward`); a trial stopped early
    /// has fewer than its bracket. Absent for a trial trained to the end in one go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<Rung>,
    /// A multi-objective search's values of `search.objectives`, in that order, as measured
    /// ([`crate::pareto`]); absent for a single-objective run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Scored>,
}

/// One rung a trial reached ([`TrialRecord::rungs`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// Training epochs so far (cumulative).
    pub epochs: usize,
    /// The reward of a trial of that length.
    pub reward: f64,
}

impl TrialRecord {
    /// Its objective values turned so that larger is better, in `search.objectives` order;
    /// empty for a single-objective run.
    pub fn oriented(&self) -> Vec<f64> {
        self.objectives.iter().map(|s| s.name.oriented(s.value)).collect()
    }

    /// Training epochs it cost (`search.epoch_budget`): its last rung's, else those it ran (a
    /// measured table point without rungs: none), once per resampled split it was scored on.
    pub fn epochs_spent(&self) -> usize {
        let per_split = self.rungs.last().map_or(self.epochs.len(), |r| r.epochs);
        per_split * self.scores.len().max(1)
    }

    /// The standard deviation of its [`TrialRecord::scores`] (sample, n - 1), when there are two
    /// or more.
    pub fn score_sd(&self) -> Option<f64> {
        crate::stats::sd(&self.scores)
    }
}

/// The rewards of every re-scored trial (`search.rescore_top`): its own reward, then those of
/// its re-evaluations in journal order, by trial.
pub fn rescored(records: &[TrialRecord]) -> BTreeMap<usize, Vec<f64>> {
    // By trial number: `records` may be a selection (the successful trials, say).
    let reward: BTreeMap<usize, f64> = records.iter().map(|r| (r.trial, r.reward)).collect();
    let mut out: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for r in records {
        if let Some(of) = r.rescore_of
            && let Some(&original) = reward.get(&of)
        {
            out.entry(of).or_insert_with(|| vec![original]).push(r.reward);
        }
    }
    out
}

/// What a trial is ranked by: the mean of its rewards in `rescored` when it was re-scored, its
/// reward otherwise.
pub fn ranking_reward(r: &TrialRecord, rescored: &BTreeMap<usize, Vec<f64>>) -> f64 {
    rescored.get(&r.trial).and_then(|v| crate::stats::mean(v)).unwrap_or(r.reward)
}

/// The `n` best trials by [`ranking_reward`] (ties: earlier trial first); re-evaluations are
/// not candidates of their own. Under a multi-fidelity scheduler, trials that trained longer
/// rank first (a reward after fewer epochs is not comparable): by their last rung's epochs, then
/// by reward.
pub fn top_n(records: &[TrialRecord], n: usize) -> Vec<&TrialRecord> {
    let again = rescored(records);
    let fidelity = |r: &TrialRecord| r.rungs.last().map_or(0, |g| g.epochs);
    let mut v: Vec<(&TrialRecord, f64)> =
        records.iter().filter(|r| r.rescore_of.is_none()).map(|r| (r, ranking_reward(r, &again))).collect();
    v.sort_by(|a, b| fidelity(b.0).cmp(&fidelity(a.0)).then(b.1.total_cmp(&a.1)).then(a.0.trial.cmp(&b.0.trial)));
    v.truncate(n);
    v.into_iter().map(|(r, _)| r).collect()
}

/// One controller epoch's summary (a line of `controller.jsonl` in the run directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Controller epoch (0-based).
    pub epoch: usize,
    /// Trials trained in it.
    pub trials: usize,
    /// Mean reward of those trials.
    pub mean_reward: f64,
    /// Best reward among them.
    pub best_reward: f64,
    /// Mean absolute error of the controller's predictions against the rewards, if it predicts.
    pub predictor_mae: Option<f64>,
    /// Spearman's rank correlation of predictions and rewards (needs two trials and some spread).
    pub predictor_spearman: Option<f64>,
    /// What the controller reported after its update (e.g. `entropy`).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl EpochReport {
    /// The summary of `trials` (one epoch's, in order) plus the controller's `metrics`.
    pub fn new(epoch: usize, trials: &[TrialRecord], metrics: BTreeMap<String, f64>) -> Self {
        let rewards: Vec<f64> = trials.iter().map(|t| t.reward).collect();
        let pairs: Vec<(f64, f64)> = trials.iter().filter_map(|t| t.predicted.map(|p| (p, t.reward))).collect();
        let (pred, actual): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        Self {
            epoch,
            trials: trials.len(),
            mean_reward: crate::stats::mean(&rewards).unwrap_or(0.0),
            best_reward: if rewards.is_empty() {
                0.0
            } else {
                rewards.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            },
            predictor_mae: crate::stats::mae(&pred, &actual),
            predictor_spearman: crate::stats::spearman(&pred, &actual),
            metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(trial: usize, reward: f64) -> TrialRecord {
        TrialRecord {
            trial,
            epoch: 0,
            tokens: vec![1, 30],
            architecture: "8:sigmoid,3:softmax".into(),
            reward,
            val_acc_last: reward,
            predicted: None,
            transfers: 0,
            params: 10,
            seconds: 0.1,
            status: TrialStatus::Ok,
            epochs: vec![],
            metric: None,
            scores: vec![],
            rescore_of: None,
            rungs: Vec::new(),
            objectives: Vec::new(),
        }
    }

    #[test]
    fn batches_cover_an_epoch_in_order() {
        let b: Vec<_> = batches(5, 2).collect();
        assert_eq!(b, [0..2, 2..4, 4..5]);
        assert_eq!(batches(3, 0).count(), 3, "a batch of 0 is read as 1");
        assert_eq!(batches(0, 4).count(), 0);
    }

    #[test]
    fn top_n_orders_by_reward_then_trial() {
        let rs = vec![rec(0, 0.5), rec(1, 0.9), rec(2, 0.9), rec(3, 0.1)];
        let t: Vec<usize> = top_n(&rs, 3).iter().map(|r| r.trial).collect();
        assert_eq!(t, [1, 2, 0]);
    }

    #[test]
    fn trials_that_trained_longer_rank_first() {
        let at = |trial, reward, epochs: &[usize]| TrialRecord {
            rungs: epochs.iter().map(|&e| Rung { epochs: e, reward }).collect(),
            objectives: Vec::new(),
            ..rec(trial, reward)
        };
        // Trial 0 looked best after 1 epoch but stopped; 2 and 3 trained all 9.
        let rs = vec![at(0, 0.95, &[1]), at(1, 0.7, &[1, 3]), at(2, 0.8, &[1, 3, 9]), at(3, 0.85, &[1, 3, 9])];
        let t: Vec<usize> = top_n(&rs, 4).iter().map(|r| r.trial).collect();
        assert_eq!(t, [3, 2, 1, 0]);
        assert_eq!(rs[1].epochs_spent(), 3);
    }

    #[test]
    fn re_scored_trials_rank_by_their_mean_and_re_evaluations_are_no_candidates() {
        let again = |trial, of, reward| TrialRecord { rescore_of: Some(of), ..rec(trial, reward) };
        // Trial 1 was lucky: re-scored, its mean (0.9 + 0.6 + 0.6) / 3 = 0.7 falls below 2's 0.8.
        let rs = vec![rec(0, 0.5), rec(1, 0.9), rec(2, 0.85), again(3, 1, 0.6), again(4, 2, 0.75), again(5, 1, 0.6)];
        let t: Vec<usize> = top_n(&rs, 10).iter().map(|r| r.trial).collect();
        assert_eq!(t, [2, 1, 0]);
        let r = rescored(&rs);
        assert_eq!(r[&1], [0.9, 0.6, 0.6]);
        assert!((ranking_reward(&rs[2], &r) - 0.8).abs() < 1e-12);
        assert_eq!(ranking_reward(&rs[0], &r), 0.5);
        // A selection (trial 0 left out) ranks the same.
        let t: Vec<usize> = top_n(&rs[1..], 10).iter().map(|r| r.trial).collect();
        assert_eq!(t, [2, 1]);
    }
}
