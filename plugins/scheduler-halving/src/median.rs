//! Median pruning: after `warmup` epochs, a candidate stops at the first epoch where its reward
//! is below the median of earlier controller epochs' trials at that epoch.

use mlpnas_core::{Bracket, ConfigError, RungResults, Scheduler, SchedulerConfig};
use serde::{Deserialize, Serialize};

/// `[scheduler] type = "median"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedianConfig {
    /// Epochs every candidate trains before it can be stopped.
    pub warmup: usize,
    /// Epochs of a full trial; absent: `[trainer] epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<usize>,
}

/// The median rule: rungs at `warmup`, `warmup + 1`, ..., `max_epochs`.
#[derive(Debug, Clone)]
pub struct Median {
    rungs: Vec<usize>,
}

/// The median of `v` (the mean of the middle two for an even count); `None` when empty.
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

impl Scheduler for Median {
    fn bracket(&self, _epoch: usize, samples_per_epoch: usize) -> Bracket {
        Bracket { candidates: samples_per_epoch, rungs: self.rungs.clone() }
    }
    fn promote(&self, results: &RungResults<'_>) -> Vec<usize> {
        let e = results.bracket.rungs[results.rung];
        // Earlier trials that reached `e` epochs (none yet: everyone goes on).
        let past: Vec<f64> =
            results.history.iter().filter_map(|r| r.rungs.iter().find(|g| g.epochs == e).map(|g| g.reward)).collect();
        match median(past) {
            None => results.scores.iter().map(|&(t, _)| t).collect(),
            Some(m) => results.scores.iter().filter(|&&(_, r)| r >= m).map(|&(t, _)| t).collect(),
        }
    }
}

#[typetag::serde(name = "median")]
impl SchedulerConfig for MedianConfig {
    fn validate(&self, full_epochs: usize) -> Result<(), ConfigError> {
        let max = self.max_epochs.unwrap_or(full_epochs);
        if max > full_epochs {
            return Err(ConfigError::new(
                "max_epochs",
                format!(
                    "{max} is more than a full trial's {full_epochs} epochs ([trainer] epochs, or a table's learning curves)"
                ),
            ));
        }
        if self.warmup == 0 {
            return Err(ConfigError::new("warmup", "must be at least 1 (an untrained net has no reward to compare)"));
        }
        if self.warmup >= max {
            return Err(ConfigError::new(
                "warmup",
                format!(
                    "{} leaves no epoch to stop at; it must be below max_epochs ({max}; [trainer] epochs when absent)",
                    self.warmup
                ),
            ));
        }
        Ok(())
    }
    fn build(&self, full_epochs: usize) -> Result<Box<dyn Scheduler>, ConfigError> {
        self.validate(full_epochs)?;
        Ok(Box::new(Median { rungs: (self.warmup..=self.max_epochs.unwrap_or(full_epochs)).collect() }))
    }
}

#[cfg(test)]
mod tests {
    use mlpnas_core::{Rung, TrialRecord, TrialStatus};

    use super::*;

    fn record() -> TrialRecord {
        TrialRecord {
            trial: 0,
            epoch: 0,
            tokens: Vec::new(),
            architecture: String::new(),
            reward: 0.0,
            val_acc_last: 0.0,
            predicted: None,
            transfers: 0,
            params: 0,
            seconds: 0.0,
            status: TrialStatus::Ok,
            epochs: Vec::new(),
            metric: None,
            scores: Vec::new(),
            rescore_of: None,
            rungs: Vec::new(),
            objectives: Vec::new(),
        }
    }

    #[test]
    fn a_candidate_below_the_median_of_earlier_trials_stops() {
        let m = MedianConfig { warmup: 2, max_epochs: None }.build(5).expect("valid");
        let b = m.bracket(3, 4);
        assert_eq!((b.candidates, b.rungs.clone()), (4, vec![2, 3, 4, 5]));
        let history: Vec<TrialRecord> = [vec![0.1, 0.5, 0.6], vec![0.2, 0.7, 0.8], vec![0.3, 0.4], vec![0.1]]
            .iter()
            .map(|curve| TrialRecord {
                rungs: curve.iter().enumerate().map(|(i, &reward)| Rung { epochs: i + 1, reward }).collect(),
                objectives: Vec::new(),
                ..record()
            })
            .collect();
        let scores = [(40, 0.45), (41, 0.5), (42, 0.9), (43, 0.3)];
        // After 2 epochs the earlier trials scored 0.5, 0.7, 0.4: median 0.5 (ties go on).
        let r = RungResults { bracket: &b, rung: 0, scores: &scores, history: &history };
        assert_eq!(m.promote(&r), vec![41, 42]);
        // After 3 epochs: 0.6 and 0.8, median 0.7.
        let r3 = RungResults { rung: 1, ..r };
        assert_eq!(m.promote(&r3), vec![42]);
        // After 4 epochs no earlier trial trained that long: everyone goes on.
        assert_eq!(m.promote(&RungResults { rung: 2, ..r }), vec![40, 41, 42, 43]);
    }

    #[test]
    fn warmup_must_leave_an_epoch_to_stop_at() {
        assert_eq!(MedianConfig { warmup: 10, max_epochs: None }.validate(10).expect_err("warmup").field, "warmup");
        assert_eq!(MedianConfig { warmup: 0, max_epochs: None }.validate(10).expect_err("zero").field, "warmup");
        assert!(MedianConfig { warmup: 3, max_epochs: Some(20) }.validate(30).is_ok());
        assert_eq!(MedianConfig { warmup: 3, max_epochs: Some(20) }.validate(10).expect_err("max").field, "max_epochs");
    }
}
