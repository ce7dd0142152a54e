//! The criteria of a multi-objective search (`search.objectives`): [`Criterion`] and a trial's
//! value of one, [`Scored`] (what [`crate::TrialRecord::objectives`] holds). What is computed
//! from them (dominance, the front, hypervolume) is [`crate::pareto`]'s.

use serde::{Deserialize, Serialize};

/// One objective of a multi-objective search (`search.objectives = ["reward", "params"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// The run's reward (its metric on the validation rows): maximised.
    Reward,
    /// The network's trainable parameters ([`crate::Candidate::params`]): minimised.
    Params,
    /// A benchmark table's recorded training time of the configuration (its `seconds` column,
    /// the observation the trial drew): minimised. Not a search's own wall time, which is not
    /// reproducible.
    Seconds,
}

impl Criterion {
    /// Every criterion, as `search.objectives` names them.
    pub const ALL: [Criterion; 3] = [Criterion::Reward, Criterion::Params, Criterion::Seconds];

    /// Its name in config and records.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Reward => "reward",
            Criterion::Params => "params",
            Criterion::Seconds => "seconds",
        }
    }

    /// Whether larger values are better.
    pub fn maximize(self) -> bool {
        self == Criterion::Reward
    }

    /// `value` turned so that larger is better.
    pub fn oriented(self, value: f64) -> f64 {
        if self.maximize() { value } else { -value }
    }
}

/// A trial's value of one criterion ([`crate::TrialRecord::objectives`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Which criterion.
    pub name: Criterion,
    /// Its value as measured (a reward, a parameter count, seconds).
    pub value: f64,
}
