//! Regret on benchmark tables: how far a run's pick is from the table's best configuration.
//!
//! A run's pick after `t` trials is its highest-reward configuration among the first `t` (the
//! first one on ties): what a user would take from it. Under a multi-fidelity scheduler, among
//! those that trained the most epochs (as `mlpnas_core::top_n` ranks). Each run's cost is
//! counted in training epochs too: a trial's last rung, or the table's full curve length for a
//! trial looked up at full fidelity. Its regret is the table's best mean reward
//! over seeds minus the pick's mean reward over seeds, in the metric's units (for a `minimize`
//! table: the pick's mean metric minus the best mean metric), so 0 is the optimum and the noise of
//! the single observation that made the pick look good does not count. Per config: the regret
//! curve (median and quartiles over seeds, per trial), the final regret per seed, and a paired
//! two-sided Wilcoxon signed-rank test of the final regrets against the baseline's, by seed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use mlpnas_data::table::Table;
use mlpnas_data::table_curves::Curves;

use crate::aggregate::ConfigRuns;
use crate::stats::{Wilcoxon, quantile, wilcoxon_signed_rank};

/// The regrets of one config on one table.
#[derive(Debug, Clone)]
pub struct ConfigRegret {
    /// The config's name.
    pub name: String,
    /// Per run: (seed, regret after each trial).
    pub curves: Vec<(u64, Vec<f64>)>,
    /// Per run: (seed, training epochs spent by the end).
    pub epochs: Vec<(u64, usize)>,
}

impl ConfigRegret {
    /// The final regret of each run, by seed.
    pub fn finals(&self) -> HashMap<u64, f64> {
        self.curves.iter().filter_map(|(s, c)| Some((*s, *c.last()?))).collect()
    }

    /// The median of the epochs the runs spent.
    pub fn median_epochs(&self) -> Option<f64> {
        let e: Vec<f64> = self.epochs.iter().map(|&(_, e)| e as f64).collect();
        quantile(&e, 0.5)
    }

    /// The median of the final regrets.
    pub fn median_final(&self) -> Option<f64> {
        let f: Vec<f64> = self.finals().into_values().collect();
        quantile(&f, 0.5)
    }

    /// (median, first quartile, third quartile) per trial, over the runs that reached it.
    pub fn quartiles(&self) -> Vec<(f64, f64, f64)> {
        let len = self.curves.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        (0..len)
            .filter_map(|i| {
                let v: Vec<f64> = self.curves.iter().filter_map(|(_, c)| c.get(i).copied()).collect();
                Some((quantile(&v, 0.5)?, quantile(&v, 0.25)?, quantile(&v, 0.75)?))
            })
            .collect()
    }
}

/// A config against the baseline on one table.
#[derive(Debug, Clone)]
pub struct RegretTest {
    /// The config.
    pub name: String,
    /// Paired seeds.
    pub pairs: usize,
    /// Seeds where its final regret is lower than the baseline's.
    pub lower: usize,
    /// Seeds where it is higher.
    pub higher: usize,
    /// The test of (config - baseline) final regrets.
    pub wilcoxon: Wilcoxon,
}

/// Regrets of every config on one table.
#[derive(Debug, Clone)]
pub struct TableRegret {
    /// The table's name in the comparison.
    pub table: String,
    /// Its metric and direction, for the report.
    pub metric: String,
    /// Whether the metric is minimised.
    pub minimize: bool,
    /// The best mean metric over seeds in the table.
    pub best_metric: f64,
    /// Configurations in the table.
    pub configurations: usize,
    /// The baseline's name.
    pub baseline: String,
    /// Per config, in the comparison's order.
    pub configs: Vec<ConfigRegret>,
    /// Every other config against the baseline.
    pub tests: Vec<RegretTest>,
}

/// The regrets of `configs`' runs on the table in `dir`.
pub fn for_table(name: &str, dir: &Path, configs: &[ConfigRuns], baseline: &str) -> Result<TableRegret> {
    let table = Table::load(dir).with_context(|| format!("regret on {name}"))?;
    let direction = table.description.direction;
    let mut mean_reward: HashMap<String, f64> = HashMap::new();
    for c in table.configs() {
        if let Some(m) = table.mean(c) {
            mean_reward.insert(table.text(c), direction.reward(m));
        }
    }
    let best = mean_reward.values().copied().fold(f64::NEG_INFINITY, f64::max);
    // A full-fidelity lookup costs the learning curves' length (0 for a table without curves).
    let full = Curves::load(dir, &table).map_or(0, |c| c.epochs());
    let mut out = Vec::new();
    for c in configs {
        let mut curves = Vec::new();
        let mut epochs = Vec::new();
        for run in &c.runs {
            let mut curve = Vec::with_capacity(run.trials.len());
            // (epochs trained, reward, mean reward) of the pick.
            let mut pick: Option<(usize, f64, f64)> = None;
            let mut spent = 0;
            for t in &run.trials {
                let Some(&m) = mean_reward.get(&t.architecture) else {
                    bail!(
                        "{name}: {} seed {}: {:?} is not a configuration of the table",
                        c.name,
                        run.seed,
                        t.architecture
                    );
                };
                let fidelity = t.rungs.last().map_or(0, |g| g.epochs);
                spent += t.rungs.last().map_or(full, |g| g.epochs);
                if pick.is_none_or(|(f, r, _)| (fidelity, t.reward) > (f, r)) {
                    pick = Some((fidelity, t.reward, m));
                }
                curve.push(best - pick.map_or(m, |p| p.2));
            }
            if !curve.is_empty() {
                curves.push((run.seed, curve));
                epochs.push((run.seed, spent));
            }
        }
        out.push(ConfigRegret { name: c.name.clone(), curves, epochs });
    }
    let base = out.iter().find(|c| c.name == baseline).map(ConfigRegret::finals).unwrap_or_default();
    let tests = out
        .iter()
        .filter(|c| c.name != baseline)
        .map(|c| {
            let finals = c.finals();
            let mut diffs: Vec<(u64, f64)> = finals.iter().filter_map(|(s, r)| Some((*s, r - base.get(s)?))).collect();
            diffs.sort_by_key(|d| d.0);
            let d: Vec<f64> = diffs.iter().map(|d| d.1).collect();
            RegretTest {
                name: c.name.clone(),
                pairs: d.len(),
                lower: d.iter().filter(|x| **x < 0.0).count(),
                higher: d.iter().filter(|x| **x > 0.0).count(),
                wilcoxon: wilcoxon_signed_rank(&d),
            }
        })
        .collect();
    Ok(TableRegret {
        table: name.to_string(),
        metric: table.description.metric.clone(),
        minimize: direction == mlpnas_data::table::Direction::Minimize,
        best_metric: direction.reward(best),
        configurations: table.len(),
        baseline: baseline.to_string(),
        configs: out,
        tests,
    })
}

/// `regret.csv`: table, config, trial, median, q25, q75 (the regret curves).
pub fn csv(tables: &[TableRegret]) -> String {
    let mut o = String::from("table,config,trial,median,q25,q75\n");
    for t in tables {
        for c in &t.configs {
            for (i, (m, lo, hi)) in c.quartiles().iter().enumerate() {
                let _ = writeln!(o, "{},{},{},{m:?},{lo:?},{hi:?}", t.table, c.name, i + 1);
            }
        }
    }
    o
}

fn g(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.3e}"))
}

/// The report's regret section: median final regret per table and config, and the tests.
pub fn markdown(o: &mut String, tables: &[TableRegret]) {
    let Some(first) = tables.first() else { return };
    let _ = writeln!(o, "## Regret on benchmark tables\n");
    let _ = writeln!(
        o,
        "Regret after the last trial: the table's best mean metric over seeds minus the mean over seeds \
         of the run's pick (its highest-reward configuration), in the metric's units; median over seeds \
         [first, third quartile]. The test pairs runs by seed against {} (two-sided Wilcoxon \
         signed-rank on final regrets); **bold**: lower median and p < 0.01. Curves: `regret-*.svg`, \
         `regret.csv`.\n",
        first.baseline
    );
    let names: Vec<&str> = first.configs.iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(o, "| table | configurations | best mean metric | {} |", names.join(" | "));
    let _ = writeln!(o, "|---|---|---|{}", "---|".repeat(names.len()));
    for t in tables {
        let base = t.configs.iter().find(|c| c.name == t.baseline).and_then(ConfigRegret::median_final);
        let cells: Vec<String> = t
            .configs
            .iter()
            .map(|c| {
                let f: Vec<f64> = c.finals().into_values().collect();
                let text = format!("{} [{}, {}]", g(quantile(&f, 0.5)), g(quantile(&f, 0.25)), g(quantile(&f, 0.75)));
                let test = t.tests.iter().find(|x| x.name == c.name);
                let better = matches!((c.median_final(), base, test), (Some(m), Some(b), Some(x)) if m < b && x.wilcoxon.p_value < 0.01);
                if better { format!("**{text}**") } else { text }
            })
            .collect();
        let dir = if t.minimize { "min" } else { "max" };
        let _ = writeln!(
            o,
            "| {} | {} | {} {:.5} | {} |",
            t.table,
            t.configurations,
            dir,
            t.best_metric,
            cells.join(" | ")
        );
    }
    o.push('\n');
    for t in tables {
        let spent: Vec<String> = t
            .configs
            .iter()
            .map(|c| format!("{} {}", c.name, c.median_epochs().map_or("-".into(), |e| format!("{e:.0}"))))
            .collect();
        let _ = writeln!(o, "- {}: training epochs spent (median over seeds): {}", t.table, spent.join(", "));
    }
    for t in tables {
        for x in &t.tests {
            let _ = writeln!(
                o,
                "- {}: {} has a lower final regret than {} on {}/{} seeds (higher on {}), p = {:.2e}",
                t.table, x.name, t.baseline, x.lower, x.pairs, x.higher, x.wilcoxon.p_value
            );
        }
    }
    o.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunData;
    use mlpnas_core::{TrialRecord, TrialStatus};

    fn trial(i: usize, architecture: &str, reward: f64) -> TrialRecord {
        TrialRecord {
            trial: i,
            epoch: 0,
            tokens: Vec::new(),
            architecture: architecture.into(),
            reward,
            val_acc_last: reward,
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

    fn run(seed: u64, trials: Vec<TrialRecord>) -> RunData {
        RunData { seed, trials, epochs: Vec::new(), summary: None, warnings: Vec::new() }
    }

    #[test]
    fn the_pick_is_the_best_observation_and_its_regret_uses_means() {
        let d = crate::runs::tests::tmp("regret-table");
        std::fs::write(
            d.join("table.toml"),
            "name = \"t\"\nmetric = \"loss\"\ndirection = \"minimize\"\n[[dimension]]\nname = \"x\"\nvalues = [1, 2, 3]\n",
        )
        .expect("toml");
        // Means: x=1 -> 1.0, x=2 -> 2.0, x=3 -> 0.5 (the best).
        std::fs::write(d.join("table.csv"), "x,seed,loss\n1,0,0.5\n1,1,1.5\n2,0,2.0\n3,0,0.5\n").expect("csv");
        // Lucky seed: x=1 observed at 0.5 (reward -0.5) beats x=2 (-2.0); then x=3 is found.
        let lucky = run(0, vec![trial(0, "x=2", -2.0), trial(1, "x=1", -0.5), trial(2, "x=3", -0.5)]);
        let other = run(1, vec![trial(0, "x=3", -0.5), trial(1, "x=2", -2.0), trial(2, "x=1", -1.5)]);
        let configs = vec![
            ConfigRuns { name: "random".into(), runs: vec![lucky.clone()], planned: 1 },
            ConfigRuns { name: "other".into(), runs: vec![other], planned: 1 },
        ];
        let r = for_table("t", &d, &configs, "random").expect("regret");
        assert_eq!(r.best_metric, 0.5);
        // Ties keep the first pick: x=3 at -0.5 does not replace x=1 at -0.5.
        assert_eq!(r.configs[0].curves, [(0, vec![1.5, 0.5, 0.5])]);
        assert_eq!(r.configs[1].curves, [(1, vec![0.0, 0.0, 0.0])]);
        assert!(r.tests[0].pairs == 0, "seeds 0 and 1 do not pair");
        let bad =
            vec![ConfigRuns { name: "random".into(), runs: vec![run(0, vec![trial(0, "x=9", 0.0)])], planned: 1 }];
        let err = for_table("t", &d, &bad, "random").expect_err("unknown configuration");
        assert!(err.to_string().contains("not a configuration"), "{err}");
        // Under a scheduler the pick trained the most epochs: x=1 looked better after 1 epoch,
        // x=2 trained 3 (its regret is worse, but it is what the run would hand over).
        let rung = |e| mlpnas_core::Rung { epochs: e, reward: 0.0 };
        let staged = run(
            2,
            vec![
                TrialRecord { rungs: vec![rung(1)], ..trial(0, "x=1", -0.4) },
                TrialRecord { rungs: vec![rung(1), rung(3)], ..trial(1, "x=2", -2.0) },
            ],
        );
        let s = for_table("t", &d, &[ConfigRuns { name: "hb".into(), runs: vec![staged], planned: 1 }], "hb")
            .expect("regret");
        assert_eq!(s.configs[0].curves, [(2, vec![0.5, 1.5])]);
        assert_eq!(s.configs[0].epochs, [(2, 4)], "1 + 3 epochs (a table without curves costs nothing more)");
        let mut md = String::new();
        markdown(&mut md, &[r]);
        assert!(
            md.contains("| t | 3 | min 0.50000 | 5.000e-1 [5.000e-1, 5.000e-1] | 0.000e0 [0.000e0, 0.000e0] |"),
            "{md}"
        );
    }
}
