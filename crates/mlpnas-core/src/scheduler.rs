//! [`Scheduler`]: how much training each candidate of a controller epoch gets (multi-fidelity:
//! successive halving, Hyperband, median pruning), chosen by `[scheduler] type = "..."`.
//! The default, [`FullConfig`] (`type = "full"`), trains every candidate to the end.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ConfigError, TrialRecord};

/// One controller epoch's plan: the controller proposes `candidates`; all train to `rungs[0]`
/// epochs, and after each rung [`Scheduler::promote`] names those that train on to the next.
/// Rung epochs are cumulative and strictly increasing; the last is the full fidelity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bracket {
    /// Proposals asked of the controller for this epoch.
    pub candidates: usize,
    /// Training epochs at each rung, cumulative, strictly increasing, at least one.
    pub rungs: Vec<usize>,
}

/// What [`Scheduler::promote`] decides on: one rung's results.
#[derive(Debug, Clone, Copy)]
pub struct RungResults<'a> {
    /// The bracket being run.
    pub bracket: &'a Bracket,
    /// Which rung just finished (index into `bracket.rungs`).
    pub rung: usize,
    /// `(trial, reward after this rung's epochs)` of the candidates that reached the rung, in
    /// trial order.
    pub scores: &'a [(usize, f64)],
    /// Earlier controller epochs' trials, with the reward after each rung they reached
    /// ([`TrialRecord::rungs`]): what a rule comparing with the past reads.
    pub history: &'a [TrialRecord],
}

/// Decides how many epochs each candidate trains.
///
/// # Design
///
/// A scheduler is a pure rule over the controller epoch's index, the config and rewards: it
/// keeps no state, so a resumed or distributed search asks it again and gets the same answer,
/// and results depend on the seed, config and `search.batch` only (never on timing or on which
/// worker trained what). Its unit of fidelity is the training epoch. The search, not the
/// scheduler, trains: a promoted candidate continues from its own weights and optimizer state
/// at the rung where it stopped, so its final weights equal a trial trained that long in one
/// go, and its cost is the rung's extra epochs only. A rung's decision sees only results that
/// are complete when the rung ends (the rung's own, in trial order, and earlier epochs'
/// trials), so it cannot depend on the order in which threads or workers finish. The reward a
/// rule compares is the trial reward of a run of that length (epoch-weighted), so rungs of
/// different lengths are never compared with each other.
pub trait Scheduler: Send + Sync + fmt::Debug {
    /// The plan of controller epoch `epoch` (0-based) of a search with `samples_per_epoch`.
    fn bracket(&self, epoch: usize, samples_per_epoch: usize) -> Bracket;
    /// The trials (of `results.scores`) that train on to the next rung, in trial order; only
    /// asked for rungs before the last.
    fn promote(&self, results: &RungResults<'_>) -> Vec<usize>;
}

/// Serializable settings that build a [`Scheduler`] (`[scheduler]` in a config).
#[typetag::serde(tag = "type")]
pub trait SchedulerConfig: fmt::Debug + Send + Sync {
    /// Checks every field against the trainer's epochs of a full trial (`[trainer] epochs`).
    fn validate(&self, full_epochs: usize) -> Result<(), ConfigError>;
    /// The scheduler, for a trainer whose full trial is `full_epochs`; validates first (the one
    /// way to a scheduler).
    fn build(&self, full_epochs: usize) -> Result<Box<dyn Scheduler>, ConfigError>;
    /// Whether every candidate trains to the end in one go (no rungs): the search then trains
    /// as without a scheduler, and the trainer need not stop and continue trials.
    fn full_trials_only(&self) -> bool {
        false
    }
}

/// `[scheduler] type = "full"` (the default): every candidate trains `[trainer] epochs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullConfig {}

/// One rung at the full fidelity for every proposal ([`FullConfig`]).
#[derive(Debug)]
struct Full {
    epochs: usize,
}

impl Scheduler for Full {
    fn bracket(&self, _epoch: usize, samples_per_epoch: usize) -> Bracket {
        Bracket { candidates: samples_per_epoch, rungs: vec![self.epochs] }
    }
    fn promote(&self, results: &RungResults<'_>) -> Vec<usize> {
        results.scores.iter().map(|&(t, _)| t).collect()
    }
}

#[typetag::serde(name = "full")]
impl SchedulerConfig for FullConfig {
    fn validate(&self, _full_epochs: usize) -> Result<(), ConfigError> {
        Ok(())
    }
    fn build(&self, full_epochs: usize) -> Result<Box<dyn Scheduler>, ConfigError> {
        Ok(Box::new(Full { epochs: full_epochs.max(1) }))
    }
    fn full_trials_only(&self) -> bool {
        true
    }
}

/// The `keep` best of `scores` (highest reward first, NaN last; ties: the earlier trial),
/// returned in trial order: the promotion rule of successive halving.
pub fn best_in_trial_order(scores: &[(usize, f64)], keep: usize) -> Vec<usize> {
    let mut ranked: Vec<(usize, f64)> =
        scores.iter().map(|&(t, r)| (t, if r.is_nan() { f64::NEG_INFINITY } else { r })).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept: Vec<usize> = ranked.into_iter().take(keep).map(|(t, _)| t).collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_are_kept_in_trial_order_and_ties_go_to_the_earlier_trial() {
        let s = [(10, 0.5), (11, 0.9), (12, 0.7), (13, 0.9), (14, f64::NAN)];
        assert_eq!(best_in_trial_order(&s, 2), vec![11, 13]);
        assert_eq!(best_in_trial_order(&s, 3), vec![11, 12, 13]);
        assert_eq!(best_in_trial_order(&[(3, 0.2), (1, 0.2)], 1), vec![1]);
        assert!(best_in_trial_order(&s, 0).is_empty());
        assert_eq!(best_in_trial_order(&s, 9).len(), 5);
    }
}
