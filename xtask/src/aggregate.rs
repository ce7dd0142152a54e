//! Aggregation over seeds: one summary per config, a paired comparison of each config against the
//! baseline, and the machine-readable outputs `summary.csv`, `runs.csv` and `summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use mlpnas_core::stats::mean;
use serde::Serialize;

use crate::runs::{RunData, RunMetrics};
use crate::stats::{BootstrapCi, Wilcoxon, bootstrap_mean_ci, sd, wilcoxon_signed_rank};

/// Settings of the paired comparison.
#[derive(Debug, Clone, Copy)]
pub struct CompareSettings {
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Interval coverage.
    pub level: f64,
}

impl Default for CompareSettings {
    fn default() -> Self {
        Self { resamples: 10_000, seed: 1, level: 0.95 }
    }
}

/// All runs of one config on one data set.
#[derive(Debug, Clone)]
pub struct ConfigRuns {
    /// Config name (file stem).
    pub name: String,
    /// Runs that have a journal, by seed.
    pub runs: Vec<RunData>,
    /// Seeds planned.
    pub planned: usize,
}

/// Mean, spread and range of one quantity over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`None` for one value).
    pub sd: Option<f64>,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Values.
    pub n: usize,
}

impl Spread {
    /// The spread of `xs`; `None` when empty.
    pub fn of(xs: &[f64]) -> Option<Self> {
        Some(Self {
            mean: mean(xs)?,
            sd: sd(xs),
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: xs.len(),
        })
    }
}

/// One config's numbers over its seeds.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigSummary {
    /// Config name.
    pub config: String,
    /// Seeds planned.
    pub planned: usize,
    /// Runs with a journal.
    pub runs: usize,
    /// Runs whose `summary.json` says finished.
    pub finished: usize,
    /// Trials per run.
    pub trials: Option<Spread>,
    /// Best reward per run.
    pub best_reward: Option<Spread>,
    /// Trials until a run's best so far closes 95% of the gap from its first trial to its best.
    pub trials_to_95: Option<Spread>,
    /// Mean reward per controller epoch, averaged over runs (epoch i over the runs that reached it).
    pub epoch_mean_rewards: Vec<f64>,
    /// Wall time per run.
    pub wall_seconds: Option<Spread>,
    /// Trials per second of wall time.
    pub archs_per_second: Option<Spread>,
    /// Weight transfers per trial.
    pub transfers_per_trial: Option<Spread>,
    /// Predictor MAE, over runs with predictions.
    pub predictor_mae: Option<Spread>,
    /// Predictor Spearman correlation, over runs with predictions.
    pub predictor_spearman: Option<Spread>,
    /// Per-run numbers.
    pub per_run: Vec<RunMetrics>,
}

fn spread_of<F: Fn(&RunMetrics) -> Option<f64>>(runs: &[RunMetrics], f: F) -> Option<Spread> {
    Spread::of(&runs.iter().filter_map(f).collect::<Vec<_>>())
}

/// Column-wise mean of ragged rows: entry i averages the rows that have an i-th value.
pub fn ragged_mean(rows: &[Vec<f64>]) -> Vec<f64> {
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..len).filter_map(|i| mean(&rows.iter().filter_map(|r| r.get(i).copied()).collect::<Vec<_>>())).collect()
}

impl ConfigSummary {
    /// Summarizes `c`.
    pub fn of(c: &ConfigRuns) -> Self {
        let per_run: Vec<RunMetrics> = c.runs.iter().map(RunData::metrics).collect();
        let epochs: Vec<Vec<f64>> = per_run.iter().map(|m| m.epoch_mean_rewards.clone()).collect();
        Self {
            config: c.name.clone(),
            planned: c.planned,
            runs: per_run.len(),
            finished: per_run.iter().filter(|m| m.finished).count(),
            trials: spread_of(&per_run, |m| Some(m.trials as f64)),
            best_reward: spread_of(&per_run, |m| m.best_reward),
            trials_to_95: spread_of(&per_run, |m| m.trials_to_95.map(|t| t as f64)),
            epoch_mean_rewards: ragged_mean(&epochs),
            wall_seconds: spread_of(&per_run, |m| Some(m.wall_seconds)),
            archs_per_second: spread_of(&per_run, |m| m.archs_per_second),
            transfers_per_trial: spread_of(&per_run, |m| m.transfers_per_trial),
            predictor_mae: spread_of(&per_run, |m| m.predictor_mae),
            predictor_spearman: spread_of(&per_run, |m| m.predictor_spearman),
            per_run,
        }
    }

    fn best_by_seed(&self) -> Vec<(u64, f64)> {
        self.per_run.iter().filter_map(|m| m.best_reward.map(|b| (m.seed, b))).collect()
    }
}

/// A config against the baseline, paired by seed on the best reward.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The config.
    pub config: String,
    /// The baseline.
    pub baseline: String,
    /// Seeds both have a best reward for.
    pub seeds: Vec<u64>,
    /// `config - baseline` per seed.
    pub differences: Vec<f64>,
    /// Mean difference.
    pub mean_difference: Option<f64>,
    /// Bootstrap interval of the mean difference.
    pub ci: Option<BootstrapCi>,
    /// Seeds where the config is better.
    pub wins: usize,
    /// Seeds where it is worse.
    pub losses: usize,
    /// Seeds with equal best rewards.
    pub ties: usize,
    /// Wilcoxon signed-rank test of the differences.
    pub wilcoxon: Wilcoxon,
}

impl Comparison {
    /// Pairs `c` with `baseline` by seed.
    pub fn new(c: &ConfigSummary, baseline: &ConfigSummary, s: CompareSettings) -> Self {
        let base = baseline.best_by_seed();
        let mut seeds = Vec::new();
        let mut differences = Vec::new();
        for (seed, best) in c.best_by_seed() {
            if let Some((_, b)) = base.iter().find(|(s, _)| *s == seed) {
                seeds.push(seed);
                differences.push(best - b);
            }
        }
        Self {
            config: c.config.clone(),
            baseline: baseline.config.clone(),
            mean_difference: mean(&differences),
            ci: bootstrap_mean_ci(&differences, s.level, s.resamples, s.seed),
            wins: differences.iter().filter(|d| **d > 0.0).count(),
            losses: differences.iter().filter(|d| **d < 0.0).count(),
            ties: differences.iter().filter(|d| **d == 0.0).count(),
            wilcoxon: wilcoxon_signed_rank(&differences),
            seeds,
            differences,
        }
    }

    /// The comparison in one plain sentence.
    pub fn sentence(&self) -> String {
        let n = self.differences.len();
        let (Some(m), Some(ci)) = (self.mean_difference, self.ci) else {
            return format!("{} vs {}: no seed with results for both.", self.config, self.baseline);
        };
        let tied = if self.ties > 0 { format!(", {} tied", self.ties) } else { String::new() };
        let head = if self.wins > self.losses {
            format!("{} beats {} on {}/{n} seeds{tied}", self.config, self.baseline, self.wins)
        } else if self.wins < self.losses {
            format!("{} loses to {} on {}/{n} seeds{tied}", self.config, self.baseline, self.losses)
        } else {
            format!(
                "{} and {} are even over {n} seeds ({} wins, {} losses{tied})",
                self.config, self.baseline, self.wins, self.losses
            )
        };
        let verdict = if ci.low > 0.0 {
            "the interval excludes 0: better"
        } else if ci.high < 0.0 {
            "the interval excludes 0: worse"
        } else {
            "the interval includes 0: no clear difference"
        };
        let exact = if self.wilcoxon.exact { "exact" } else { "normal approx." };
        format!(
            "{head}, mean {:+.4}, {:.0}% bootstrap CI [{:+.4}, {:+.4}] ({verdict}); \
             Wilcoxon signed-rank p = {:.4} (two-sided, {exact}, n = {}).",
            m,
            ci.level * 100.0,
            ci.low,
            ci.high,
            self.wilcoxon.p_value,
            self.wilcoxon.n
        )
    }
}

/// Everything about one data set.
#[derive(Debug, Clone, Serialize)]
pub struct DataReport {
    /// Short name of the data set (run directory component).
    pub data: String,
    /// The SPEC passed to `mlpnas`, if any.
    pub spec: Option<String>,
    /// The baseline config.
    pub baseline: String,
    /// Per config, in command-line order.
    pub configs: Vec<ConfigSummary>,
    /// Each non-baseline config against the baseline.
    pub comparisons: Vec<Comparison>,
}

impl DataReport {
    /// Summaries and comparisons of `configs`; `baseline` must be one of their names.
    pub fn new(data: &str, spec: Option<&str>, configs: &[ConfigRuns], baseline: &str, s: CompareSettings) -> Self {
        let summaries: Vec<ConfigSummary> = configs.iter().map(ConfigSummary::of).collect();
        let comparisons = match summaries.iter().find(|c| c.config == baseline) {
            Some(b) => summaries.iter().filter(|c| c.config != baseline).map(|c| Comparison::new(c, b, s)).collect(),
            None => Vec::new(),
        };
        Self {
            data: data.to_string(),
            spec: spec.map(str::to_string),
            baseline: baseline.to_string(),
            configs: summaries,
            comparisons,
        }
    }
}

/// The baseline: `requested` if given, else the config named "random", else the first.
pub fn pick_baseline(names: &[String], requested: Option<&str>) -> Result<String> {
    match requested {
        Some(r) if names.iter().any(|n| n == r) => Ok(r.to_string()),
        Some(r) => anyhow::bail!("--baseline {r}: no such config (configs: {})", names.join(", ")),
        None if names.iter().any(|n| n == "random") => Ok("random".into()),
        None => names.first().cloned().context("no config to compare"),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `summary.csv`: one row per data set and config.
pub fn summary_csv(reports: &[DataReport]) -> String {
    let mut out = String::from(
        "data,config,planned,runs,finished,trials_mean,best_reward_mean,best_reward_sd,best_reward_min,\
         best_reward_max,trials_to_95_mean,trials_to_95_sd,\
         wall_seconds_mean,archs_per_second_mean,transfers_per_trial_mean,predictor_mae_mean,\
         predictor_spearman_mean,epoch_mean_rewards,baseline,diff_mean,ci_low,ci_high,wins,losses,ties,wilcoxon_p\n",
    );
    for r in reports {
        for c in &r.configs {
            let cmp = r.comparisons.iter().find(|x| x.config == c.config);
            let m = |s: &Option<Spread>| opt(s.map(|s| s.mean));
            let epochs: Vec<String> = c.epoch_mean_rewards.iter().map(|v| format!("{v}")).collect();
            let fields = [
                csv_field(&r.data),
                csv_field(&c.config),
                c.planned.to_string(),
                c.runs.to_string(),
                c.finished.to_string(),
                m(&c.trials),
                m(&c.best_reward),
                opt(c.best_reward.and_then(|s| s.sd)),
                opt(c.best_reward.map(|s| s.min)),
                opt(c.best_reward.map(|s| s.max)),
                m(&c.trials_to_95),
                opt(c.trials_to_95.and_then(|s| s.sd)),
                m(&c.wall_seconds),
                m(&c.archs_per_second),
                m(&c.transfers_per_trial),
                m(&c.predictor_mae),
                m(&c.predictor_spearman),
                epochs.join(";"),
                csv_field(&r.baseline),
                opt(cmp.and_then(|x| x.mean_difference)),
                opt(cmp.and_then(|x| x.ci.map(|c| c.low))),
                opt(cmp.and_then(|x| x.ci.map(|c| c.high))),
                cmp.map_or(String::new(), |x| x.wins.to_string()),
                cmp.map_or(String::new(), |x| x.losses.to_string()),
                cmp.map_or(String::new(), |x| x.ties.to_string()),
                opt(cmp.map(|x| x.wilcoxon.p_value)),
            ];
            let _ = writeln!(out, "{}", fields.join(","));
        }
    }
    out
}

/// `runs.csv`: one row per run.
pub fn runs_csv(reports: &[DataReport]) -> String {
    let mut out = String::from(
        "data,config,seed,finished,trials,best_reward,best_architecture,trials_to_95,wall_seconds,\
         archs_per_second,transfers_per_trial,predictor_mae,predictor_spearman\n",
    );
    for r in reports {
        for c in &r.configs {
            for m in &c.per_run {
                let fields = [
                    csv_field(&r.data),
                    csv_field(&c.config),
                    m.seed.to_string(),
                    m.finished.to_string(),
                    m.trials.to_string(),
                    opt(m.best_reward),
                    csv_field(m.best_architecture.as_deref().unwrap_or("")),
                    m.trials_to_95.map_or(String::new(), |t| t.to_string()),
                    format!("{}", m.wall_seconds),
                    opt(m.archs_per_second),
                    opt(m.transfers_per_trial),
                    opt(m.predictor_mae),
                    opt(m.predictor_spearman),
                ];
                let _ = writeln!(out, "{}", fields.join(","));
            }
        }
    }
    out
}

/// Writes `summary.csv`, `runs.csv` and `summary.json` into `dir`.
pub fn write_tables(dir: &Path, reports: &[DataReport], s: CompareSettings) -> Result<()> {
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("{}", p.display()))
    };
    write("summary.csv", summary_csv(reports))?;
    write("runs.csv", runs_csv(reports))?;
    let json = serde_json::json!({
        "bootstrap": {"resamples": s.resamples, "seed": s.seed, "level": s.level},
        "data_sets": reports,
    });
    write("summary.json", serde_json::to_string_pretty(&json)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tests::{tmp, write_run};

    /// Two configs x 5 seeds with known best rewards; the candidate is baseline + 0.1, except seed 4 (-0.05).
    fn fixture(name: &str) -> (std::path::PathBuf, Vec<ConfigRuns>) {
        let d = tmp(name);
        let base_best = [0.5, 0.6, 0.7, 0.8, 0.9];
        let diffs = [0.1, 0.1, 0.1, 0.1, -0.05];
        let mut configs = Vec::new();
        for (cfg, offsets) in [("random", [0.0; 5]), ("reinforce", diffs)] {
            let mut runs = Vec::new();
            for seed in 0..5u64 {
                let best = base_best[seed as usize] + offsets[seed as usize];
                // Best reached at trial 3 of 4; 95% of the gain from the first trial there too.
                let rewards = [best * 0.5, best * 0.9, best, best * 0.8];
                let dir = d.join(cfg).join(format!("seed-{seed}"));
                write_run(&dir, &rewards, Some(2.0));
                runs.push(RunData::load(&dir, seed).expect("readable").expect("journal"));
            }
            configs.push(ConfigRuns { name: cfg.into(), runs, planned: 5 });
        }
        (d, configs)
    }

    #[test]
    fn per_config_numbers() {
        let (_, configs) = fixture("per-config");
        let s = ConfigSummary::of(&configs[0]);
        let b = s.best_reward.expect("runs");
        assert!((b.mean - 0.7).abs() < 1e-12);
        assert!((b.sd.unwrap_or(0.0) - 0.025f64.sqrt()).abs() < 1e-12); // sd of 0.5..0.9 step 0.1
        assert_eq!((b.min, b.max, b.n), (0.5, 0.9, 5));
        assert_eq!(s.trials_to_95.map(|t| t.mean), Some(3.0));
        assert_eq!(s.finished, 5);
        assert_eq!(s.archs_per_second.map(|a| a.mean), Some(2.0));
        // transfers i % 3 over 4 trials: 0,1,2,0
        assert_eq!(s.transfers_per_trial.map(|t| t.mean), Some(0.75));
        assert_eq!(s.epoch_mean_rewards.len(), 2);
        assert!((s.epoch_mean_rewards[0] - 0.7 * 0.7).abs() < 1e-12); // mean of (0.5 + 0.9) / 2 * best
    }

    #[test]
    fn paired_comparison_against_the_baseline() {
        let (_, configs) = fixture("paired");
        let r = DataReport::new("iris", Some("builtin:iris"), &configs, "random", CompareSettings::default());
        assert_eq!(r.comparisons.len(), 1);
        let c = &r.comparisons[0];
        assert_eq!(c.seeds, vec![0, 1, 2, 3, 4]);
        assert_eq!((c.wins, c.losses, c.ties), (4, 1, 0));
        let m = c.mean_difference.expect("pairs");
        assert!((m - 0.07).abs() < 1e-12);
        let ci = c.ci.expect("pairs");
        assert!(ci.low <= m && m <= ci.high);
        assert!(ci.low >= -0.05 - 1e-12 && ci.high <= 0.1 + 1e-12);
        // |d| = .1 x4 (rank 3.5 each), .05 (rank 1): W+ = 14 of 15; 2 of 32 sign patterns at least as extreme each way.
        assert_eq!(c.wilcoxon.w_plus, 14.0);
        assert!((c.wilcoxon.p_value - 0.125).abs() < 1e-12, "{}", c.wilcoxon.p_value);
        let again = DataReport::new("iris", None, &configs, "random", CompareSettings::default());
        assert_eq!(again.comparisons[0].ci, c.ci);
        let mut even = c.clone();
        (even.wins, even.losses, even.ties) = (2, 2, 1);
        assert!(
            even.sentence().starts_with("reinforce and random are even over 5 seeds (2 wins, 2 losses, 1 tied), mean")
        );
        let text = c.sentence();
        assert!(text.starts_with("reinforce beats random on 4/5 seeds, mean +0.0700, 95% bootstrap CI ["), "{text}");
        assert!(text.contains("Wilcoxon signed-rank p = 0.1250 (two-sided, exact, n = 5)."), "{text}");
    }

    #[test]
    fn csv_and_json_contents() {
        let (d, configs) = fixture("tables");
        let r = DataReport::new("iris", Some("builtin:iris"), &configs, "random", CompareSettings::default());
        let settings = CompareSettings::default();
        write_tables(&d, std::slice::from_ref(&r), settings).expect("write");
        let csv = std::fs::read_to_string(d.join("summary.csv")).expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        let header: Vec<&str> = lines[0].split(',').collect();
        let row: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(header.len(), row.len());
        let col = |name: &str| row[header.iter().position(|h| *h == name).expect("column")];
        assert_eq!(col("config"), "reinforce");
        assert!((col("best_reward_mean").parse::<f64>().expect("number") - 0.77).abs() < 1e-12);
        assert_eq!(col("wins"), "4");
        assert_eq!(col("wilcoxon_p"), "0.125");
        assert!(!header.contains(&"test_acc_mean"), "a column nothing measures is not written");
        let base_row: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(base_row[header.iter().position(|h| *h == "diff_mean").expect("column")], "");
        let runs = std::fs::read_to_string(d.join("runs.csv")).expect("runs.csv");
        assert_eq!(runs.lines().count(), 11);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).expect("json")).expect("valid");
        assert_eq!(json["bootstrap"]["resamples"], 10_000);
        let set = &json["data_sets"][0];
        assert_eq!(set["baseline"], "random");
        assert_eq!(set["configs"][1]["per_run"].as_array().map(Vec::len), Some(5));
        assert_eq!(set["comparisons"][0]["wins"], 4);
        let low = set["comparisons"][0]["ci"]["low"].as_f64().expect("low");
        assert_eq!(Some(low), r.comparisons[0].ci.map(|c| c.low));
    }

    #[test]
    fn baseline_choice() {
        let names: Vec<String> = ["reinforce", "random"].map(String::from).to_vec();
        assert_eq!(pick_baseline(&names, None).expect("ok"), "random");
        assert_eq!(pick_baseline(&names, Some("reinforce")).expect("ok"), "reinforce");
        assert_eq!(pick_baseline(&names[..1], None).expect("ok"), "reinforce");
        let err = pick_baseline(&names, Some("nope")).expect_err("unknown");
        assert!(err.to_string().contains("no such config"), "{err}");
    }

    #[test]
    fn ragged_means() {
        assert_eq!(ragged_mean(&[vec![1.0, 2.0, 3.0], vec![3.0]]), vec![2.0, 2.0, 3.0]);
        assert!(ragged_mean(&[]).is_empty());
    }
}
