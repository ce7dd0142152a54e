//! Hypervolume on benchmark tables: how much of the objective space a multi-objective run's
//! Pareto front covers (`search.objectives`), the one number that compares two fronts.
//!
//! A run's front is its trials that no other of its trials dominates ([`mlpnas_core::pareto_front`],
//! on the values the trials observed). Each member is then valued as the regret is: by the
//! table's *means* over seeds (the configuration's mean reward, its mean recorded `seconds`), so
//! the noise that put it on the front does not count. The reference point is the worst mean of
//! each criterion over all of the table's configurations, and the volume is divided by the box
//! between that and the best means, so it lies in [0, 1] and 1 is unreachable unless one
//! configuration is best in every criterion. Per config: the final hypervolume per seed, its
//! median, and a paired two-sided Wilcoxon signed-rank test against the baseline's, by seed.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use mlpnas_core::Criterion;
use mlpnas_core::pareto::hypervolume;
use mlpnas_data::table::Table;

use crate::aggregate::ConfigRuns;
use crate::regret::RegretTest;
use crate::stats::{quantile, wilcoxon_signed_rank};

/// One run's result: (seed, final normalized hypervolume, front size).
pub type RunVolume = (u64, f64, usize);

/// The hypervolumes of every config's runs on one table.
#[derive(Debug, Clone)]
pub struct TableVolume {
    /// The table's name.
    pub table: String,
    /// The criteria, in `search.objectives` order.
    pub criteria: Vec<Criterion>,
    /// The baseline config.
    pub baseline: String,
    /// Per config: (name, per run (seed, final normalized hypervolume, front size)).
    pub configs: Vec<(String, Vec<RunVolume>)>,
    /// Every other config against the baseline (`lower` counts seeds with a *larger* volume).
    pub tests: Vec<RegretTest>,
}

/// The hypervolumes of `configs`' runs on the table in `dir`; `None` when no run is
/// multi-objective.
pub fn for_table(name: &str, dir: &Path, configs: &[ConfigRuns], baseline: &str) -> Result<Option<TableVolume>> {
    let Some(criteria) = configs
        .iter()
        .flat_map(|c| &c.runs)
        .flat_map(|r| &r.trials)
        .find(|t| !t.objectives.is_empty())
        .map(|t| t.objectives.iter().map(|o| o.name).collect::<Vec<Criterion>>())
    else {
        return Ok(None);
    };
    let table = Table::load(dir).with_context(|| format!("hypervolume on {name}"))?;
    let direction = table.description.direction;
    // Each configuration's mean value of each criterion, oriented (larger is better).
    let mut means: HashMap<String, Vec<f64>> = HashMap::new();
    for c in table.configs() {
        let obs = table.observations(c).unwrap_or_default();
        let n = obs.len() as f64;
        let mut v = Vec::with_capacity(criteria.len());
        for k in &criteria {
            v.push(match k {
                Criterion::Reward => table.mean(c).map_or(f64::NAN, |m| direction.reward(m)),
                Criterion::Seconds => -obs.iter().map(|o| o.seconds.unwrap_or(f64::NAN)).sum::<f64>() / n,
                Criterion::Params => bail!("{name}: a table's configurations have no parameter count"),
            });
        }
        means.insert(table.text(c), v);
    }
    let worst: Vec<f64> =
        (0..criteria.len()).map(|k| means.values().map(|v| v[k]).fold(f64::INFINITY, f64::min)).collect();
    let best: Vec<f64> =
        (0..criteria.len()).map(|k| means.values().map(|v| v[k]).fold(f64::NEG_INFINITY, f64::max)).collect();
    if worst.iter().chain(&best).any(|x| !x.is_finite()) {
        bail!("{name}: a criterion has no finite value for every configuration (a table without seconds?)");
    }
    let box_volume: f64 = best.iter().zip(&worst).map(|(b, w)| b - w).product();
    let mut out = Vec::new();
    for c in configs {
        let mut runs = Vec::new();
        for run in &c.runs {
            let front = mlpnas_core::pareto_front(&run.trials);
            let mut points = Vec::with_capacity(front.len());
            for t in &front {
                let Some(v) = means.get(&t.architecture) else {
                    bail!(
                        "{name}: {} seed {}: {:?} is not a configuration of the table",
                        c.name,
                        run.seed,
                        t.architecture
                    );
                };
                points.push(v.clone());
            }
            if !front.is_empty() {
                let hv = if box_volume > 0.0 { hypervolume(&points, &worst) / box_volume } else { 0.0 };
                runs.push((run.seed, hv, front.len()));
            }
        }
        out.push((c.name.clone(), runs));
    }
    let base: HashMap<u64, f64> =
        out.iter().find(|c| c.0 == baseline).map(|c| c.1.iter().map(|r| (r.0, r.1)).collect()).unwrap_or_default();
    let tests = out
        .iter()
        .filter(|c| c.0 != baseline)
        .map(|(n, runs)| {
            let mut diffs: Vec<(u64, f64)> = runs.iter().filter_map(|r| Some((r.0, r.1 - base.get(&r.0)?))).collect();
            diffs.sort_by_key(|d| d.0);
            let d: Vec<f64> = diffs.iter().map(|d| d.1).collect();
            RegretTest {
                name: n.clone(),
                pairs: d.len(),
                lower: d.iter().filter(|x| **x > 0.0).count(),
                higher: d.iter().filter(|x| **x < 0.0).count(),
                wilcoxon: wilcoxon_signed_rank(&d),
            }
        })
        .collect();
    Ok(Some(TableVolume { table: name.to_string(), criteria, baseline: baseline.to_string(), configs: out, tests }))
}

/// The report's hypervolume section.
pub fn markdown(o: &mut String, tables: &[TableVolume]) {
    let Some(first) = tables.first() else { return };
    let names: Vec<&str> = first.criteria.iter().map(|c| c.name()).collect();
    let _ = writeln!(o, "## Hypervolume on benchmark tables ({})\n", names.join(" against "));
    let _ = writeln!(
        o,
        "Hypervolume of each run's Pareto front after its last trial, its members valued by the table's \
         mean over seeds; reference point: the worst mean of each criterion over the table's \
         configurations, normalized by the box up to the best means (so in [0, 1], larger is better). \
         Median over seeds [first, third quartile], front size in parentheses (median). The test pairs \
         runs by seed against {} (two-sided Wilcoxon signed-rank); **bold**: larger median and p < 0.01.\n",
        first.baseline
    );
    let configs: Vec<&str> = first.configs.iter().map(|c| c.0.as_str()).collect();
    let _ = writeln!(o, "| table | {} |", configs.join(" | "));
    let _ = writeln!(o, "|---|{}", "---|".repeat(configs.len()));
    for t in tables {
        let median = |runs: &[RunVolume]| quantile(&runs.iter().map(|r| r.1).collect::<Vec<_>>(), 0.5);
        let base = t.configs.iter().find(|c| c.0 == t.baseline).and_then(|c| median(&c.1));
        let cells: Vec<String> = t
            .configs
            .iter()
            .map(|(n, runs)| {
                let v: Vec<f64> = runs.iter().map(|r| r.1).collect();
                let sizes: Vec<f64> = runs.iter().map(|r| r.2 as f64).collect();
                let q = |p| quantile(&v, p).map_or("-".into(), |x| format!("{x:.4}"));
                let text = format!(
                    "{} [{}, {}] ({})",
                    q(0.5),
                    q(0.25),
                    q(0.75),
                    quantile(&sizes, 0.5).map_or("-".into(), |x| format!("{x:.0}"))
                );
                let test = t.tests.iter().find(|x| &x.name == n);
                let better =
                    matches!((median(runs), base, test), (Some(m), Some(b), Some(x)) if m > b && x.wilcoxon.p_value < 0.01);
                if better { format!("**{text}**") } else { text }
            })
            .collect();
        let _ = writeln!(o, "| {} | {} |", t.table, cells.join(" | "));
    }
    o.push('\n');
    for t in tables {
        for x in &t.tests {
            let _ = writeln!(
                o,
                "- {}: {} has a larger hypervolume than {} on {}/{} seeds (smaller on {}), p = {:.2e}",
                t.table, x.name, t.baseline, x.lower, x.pairs, x.higher, x.wilcoxon.p_value
            );
        }
    }
    o.push('\n');
}
