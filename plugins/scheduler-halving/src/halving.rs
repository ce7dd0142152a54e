//! Successive halving and Hyperband: rungs spaced by a factor `eta`, the best `1/eta` promoted.

use mlpnas_core::scheduler::best_in_trial_order;
use mlpnas_core::{Bracket, ConfigError, RungResults, Scheduler, SchedulerConfig};
use serde::{Deserialize, Serialize};

/// `[scheduler] type = "successive-halving"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessiveHalvingConfig {
    /// Epochs of the first rung.
    pub min_epochs: usize,
    /// Epochs of the last rung (a full trial); absent: `[trainer] epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<usize>,
    /// Rung spacing and promotion rate (the best `1/eta` go on); at least 2.
    #[serde(default = "default_eta")]
    pub eta: usize,
}

/// `[scheduler] type = "hyperband"`: the same settings, brackets cycled over controller epochs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperbandConfig {
    /// Epochs of the lowest rung of the most aggressive bracket.
    pub min_epochs: usize,
    /// Epochs of a full trial; absent: `[trainer] epochs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<usize>,
    /// Rung spacing and promotion rate; at least 2.
    #[serde(default = "default_eta")]
    pub eta: usize,
}

fn default_eta() -> usize {
    3
}

/// The checked `(min, max, eta)` of either config.
fn check(min: usize, max: Option<usize>, eta: usize, full: usize) -> Result<(usize, usize, usize), ConfigError> {
    if let Some(m) = max.filter(|&m| m > full) {
        return Err(ConfigError::new(
            "max_epochs",
            format!("{m} is more than a full trial's {full} epochs ([trainer] epochs, or a table's learning curves)"),
        ));
    }
    let max = max.unwrap_or(full);
    if eta < 2 {
        return Err(ConfigError::new("eta", format!("{eta} keeps every candidate; it must be at least 2")));
    }
    if min == 0 {
        return Err(ConfigError::new("min_epochs", "must be at least 1"));
    }
    if min > max {
        return Err(ConfigError::new(
            "min_epochs",
            format!("{min} is more than max_epochs ({max}; [trainer] epochs when absent)"),
        ));
    }
    Ok((min, max, eta))
}

/// Rungs `max / eta^k, ..., max / eta, max` (rounded, at least `min`, duplicates dropped),
/// `k = floor(log_eta(max / min))`, capped at `levels` rungs counted from the top.
fn rungs(min: usize, max: usize, eta: usize, levels: Option<usize>) -> Vec<usize> {
    let mut k = 0;
    while max as f64 / (eta as f64).powi(k as i32 + 1) >= min as f64 - 1e-9 {
        k += 1;
    }
    let k = levels.map_or(k, |l| l.min(k));
    let mut out: Vec<usize> =
        (0..=k).rev().map(|i| ((max as f64 / (eta as f64).powi(i as i32)).round() as usize).max(min)).collect();
    out.dedup();
    out
}

/// Keeps `floor(n / eta)`, at least one.
fn promote(results: &RungResults<'_>, eta: usize) -> Vec<usize> {
    best_in_trial_order(results.scores, (results.scores.len() / eta).max(1))
}

/// Successive halving over each controller epoch's proposals.
#[derive(Debug, Clone)]
pub struct SuccessiveHalving {
    rungs: Vec<usize>,
    eta: usize,
}

impl Scheduler for SuccessiveHalving {
    fn bracket(&self, _epoch: usize, samples_per_epoch: usize) -> Bracket {
        Bracket { candidates: samples_per_epoch, rungs: self.rungs.clone() }
    }
    fn promote(&self, results: &RungResults<'_>) -> Vec<usize> {
        promote(results, self.eta)
    }
}

#[typetag::serde(name = "successive-halving")]
impl SchedulerConfig for SuccessiveHalvingConfig {
    fn validate(&self, full_epochs: usize) -> Result<(), ConfigError> {
        check(self.min_epochs, self.max_epochs, self.eta, full_epochs).map(|_| ())
    }
    fn build(&self, full_epochs: usize) -> Result<Box<dyn Scheduler>, ConfigError> {
        let (min, max, eta) = check(self.min_epochs, self.max_epochs, self.eta, full_epochs)?;
        Ok(Box::new(SuccessiveHalving { rungs: rungs(min, max, eta, None), eta }))
    }
}

/// Hyperband: bracket `s = s_max - (epoch mod (s_max + 1))` has `ceil((s_max + 1) / (s + 1) *
/// eta^s)` candidates and the top `s + 1` rungs of successive halving.
#[derive(Debug, Clone)]
pub struct Hyperband {
    min: usize,
    max: usize,
    eta: usize,
    s_max: usize,
}

impl Scheduler for Hyperband {
    fn bracket(&self, epoch: usize, _samples_per_epoch: usize) -> Bracket {
        let s = self.s_max - epoch % (self.s_max + 1);
        let n = ((self.s_max + 1) as f64 / (s + 1) as f64 * (self.eta as f64).powi(s as i32)).ceil() as usize;
        Bracket { candidates: n, rungs: rungs(self.min, self.max, self.eta, Some(s)) }
    }
    fn promote(&self, results: &RungResults<'_>) -> Vec<usize> {
        promote(results, self.eta)
    }
}

#[typetag::serde(name = "hyperband")]
impl SchedulerConfig for HyperbandConfig {
    fn validate(&self, full_epochs: usize) -> Result<(), ConfigError> {
        check(self.min_epochs, self.max_epochs, self.eta, full_epochs).map(|_| ())
    }
    fn build(&self, full_epochs: usize) -> Result<Box<dyn Scheduler>, ConfigError> {
        let (min, max, eta) = check(self.min_epochs, self.max_epochs, self.eta, full_epochs)?;
        let s_max = rungs(min, max, eta, None).len() - 1;
        Ok(Box::new(Hyperband { min, max, eta, s_max }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(min: usize, max: usize, eta: usize) -> Box<dyn Scheduler> {
        SuccessiveHalvingConfig { min_epochs: min, max_epochs: Some(max), eta }.build(30).expect("valid")
    }

    #[test]
    fn rungs_are_spaced_by_eta_down_from_the_full_trial() {
        assert_eq!(sh(1, 27, 3).bracket(0, 27).rungs, vec![1, 3, 9, 27]);
        assert_eq!(sh(1, 10, 3).bracket(0, 9).rungs, vec![1, 3, 10]);
        assert_eq!(sh(2, 10, 2).bracket(5, 8).rungs, vec![3, 5, 10]);
        assert_eq!(sh(10, 10, 3).bracket(0, 4).rungs, vec![10], "one rung: a full search");
        assert_eq!(sh(1, 27, 3).bracket(7, 12).candidates, 12);
    }

    #[test]
    fn the_best_third_is_promoted_at_every_rung() {
        let s = sh(1, 27, 3);
        let b = s.bracket(0, 9);
        let scores: Vec<(usize, f64)> =
            (0..9).map(|t| (t + 20, [0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.5][t])).collect();
        let r = RungResults { bracket: &b, rung: 0, scores: &scores, history: &[] };
        assert_eq!(s.promote(&r), vec![21, 23, 25]);
        let two = [(21, 0.5), (23, 0.6)];
        assert_eq!(s.promote(&RungResults { scores: &two, ..r }), vec![23], "at least one goes on");
    }

    #[test]
    fn hyperband_cycles_its_brackets() {
        let h = HyperbandConfig { min_epochs: 1, max_epochs: Some(27), eta: 3 }.build(30).expect("valid");
        let plan: Vec<(usize, Vec<usize>)> =
            (0..5).map(|e| h.bracket(e, 10)).map(|b| (b.candidates, b.rungs)).collect();
        assert_eq!(
            plan,
            vec![
                (27, vec![1, 3, 9, 27]),
                (12, vec![3, 9, 27]),
                (6, vec![9, 27]),
                (4, vec![27]),
                (27, vec![1, 3, 9, 27])
            ]
        );
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let bad = |min, max, eta| SuccessiveHalvingConfig { min_epochs: min, max_epochs: max, eta }.validate(10);
        assert_eq!(bad(1, None, 1).expect_err("eta").field, "eta");
        assert_eq!(bad(0, None, 3).expect_err("min").field, "min_epochs");
        assert_eq!(bad(11, None, 3).expect_err("min > trainer epochs").field, "min_epochs");
        assert_eq!(bad(5, Some(4), 3).expect_err("min > max").field, "min_epochs");
        assert!(bad(1, None, 3).is_ok());
        assert_eq!(bad(1, Some(11), 3).expect_err("max > trainer epochs").field, "max_epochs");
        let t: Box<dyn SchedulerConfig> =
            toml::from_str("type = \"hyperband\"\nmin_epochs = 1\nmax_epochs = 9\n").expect("config");
        assert!(t.build(10).is_ok());
        assert!(toml::from_str::<Box<dyn SchedulerConfig>>("type = \"hyperband\"\nmin = 1\n").is_err());
    }
}
