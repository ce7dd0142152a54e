//! The aggregation step of `cargo xtask compare`: reads the run directories of a [`Plan`], config
//! by config, and writes the tables ([`crate::aggregate`]), the plots ([`crate::plots`]), regret
//! curves on tables ([`crate::regret`]) and `report.md` ([`crate::report`]).

use std::path::Path;

use anyhow::{Context, Result};

use super::plan::{ConfigEntry, Plan, Source};
use crate::aggregate::{CompareSettings, ConfigRuns, DataReport, pick_baseline, write_tables};
use crate::plots;
use crate::report::{ReportContext, markdown};
use crate::runs::RunData;

/// Reads the runs of one data set, config by config.
fn collect(plan: &Plan, data: &str, warnings: &mut Vec<String>) -> Result<Vec<ConfigRuns>> {
    let mut out = Vec::new();
    for ConfigEntry { name, .. } in &plan.configs {
        let mut runs = Vec::new();
        for &seed in &plan.seeds {
            if let Some(r) = RunData::load(&plan.run_dir(data, name, seed), seed)? {
                warnings.extend(r.warnings.iter().cloned());
                runs.push(r);
            }
        }
        out.push(ConfigRuns { name: name.clone(), runs, planned: plan.seeds.len() });
    }
    Ok(out)
}

/// Aggregates what `plan.out` holds: tables, plots, `report.md`. Returns the comparison sentences.
pub fn aggregate(
    plan: &Plan,
    baseline: Option<&str>,
    s: CompareSettings,
    ctx: &mut ReportContext,
) -> Result<Vec<String>> {
    let names: Vec<String> = plan.configs.iter().map(|c| c.name.clone()).collect();
    let baseline = pick_baseline(&names, baseline)?;
    std::fs::create_dir_all(&plan.out).with_context(|| format!("{}", plan.out.display()))?;
    let mut reports = Vec::new();
    for (data, source) in &plan.data {
        let configs = collect(plan, data, &mut ctx.warnings)?;
        let mut files = Vec::new();
        let mut plot = |title: &str, stem: &str, f: &dyn Fn(&Path) -> Result<bool>| -> Result<()> {
            let file = format!("{stem}-{data}.svg");
            if f(&plan.out.join(&file))? {
                files.push((title.to_string(), file));
            }
            Ok(())
        };
        plot("Best reward so far against trial", "best-so-far", &|p| plots::best_so_far(p, &configs).map(|()| true))?;
        plot("Reward distribution", "rewards", &|p| plots::reward_distribution(p, &configs).map(|()| true))?;
        plot("Predicted against actual reward", "predicted", &|p| plots::predicted_vs_actual(p, &configs))?;
        plot("Time per trial", "time-per-trial", &|p| plots::time_per_trial(p, &configs).map(|()| true))?;
        ctx.plots.push((data.clone(), files));
        if let Source::Table(dir) = source {
            let r = crate::regret::for_table(data, dir, &configs, &baseline)?;
            let file = format!("regret-{data}.svg");
            plots::regret(&plan.out.join(&file), data, &r)?;
            if let Some((_, f)) = ctx.plots.last_mut() {
                f.insert(0, ("Regret against trial".to_string(), file));
            }
            ctx.regrets.push(r);
            if let Some(v) = crate::hypervolume::for_table(data, dir, &configs, &baseline)? {
                ctx.volumes.push(v);
            }
        }
        reports.push(DataReport::new(data, source.describe().as_deref(), &configs, &baseline, s));
    }
    write_tables(&plan.out, &reports, s)?;
    if !ctx.regrets.is_empty() {
        let csv = plan.out.join("regret.csv");
        std::fs::write(&csv, crate::regret::csv(&ctx.regrets)).with_context(|| format!("{}", csv.display()))?;
    }
    let md = plan.out.join("report.md");
    std::fs::write(&md, markdown(&reports, ctx, s)).with_context(|| format!("{}", md.display()))?;
    let multi = reports.len() > 1;
    Ok(reports
        .iter()
        .flat_map(|r| {
            r.comparisons
                .iter()
                .map(move |c| if multi { format!("[{}] {}", r.data, c.sentence()) } else { c.sentence() })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::args::tests::args;
    use crate::runs::tests::{tmp, write_run};

    #[test]
    fn aggregate_only_writes_the_report_from_synthetic_runs() {
        let d = tmp("aggregate");
        let cfg = d.join("configs");
        std::fs::create_dir_all(&cfg).expect("dir");
        for n in ["random.toml", "better.toml"] {
            std::fs::write(cfg.join(n), "").expect("write");
        }
        let mut a = args(&[&cfg.join("better.toml"), &cfg.join("random.toml")]);
        a.out = Some(d.join("out"));
        let plan = Plan::new(&a, &d).expect("plan");
        for seed in 0..3u64 {
            let s = seed as f64 * 0.01;
            write_run(&plan.run_dir("default", "random", seed), &[0.5 + s, 0.6 + s, 0.55], Some(1.0));
            // Seed 2 of "better" crashed after two trials: unfinished, still counted.
            let better = if seed == 2 { vec![0.6 + s, 0.7 + s] } else { vec![0.6 + s, 0.7 + s, 0.65] };
            write_run(&plan.run_dir("default", "better", seed), &better, (seed != 2).then_some(1.5));
        }
        let mut ctx = ReportContext::default();
        let sentences = aggregate(&plan, None, CompareSettings::default(), &mut ctx).expect("aggregate");
        assert_eq!(sentences.len(), 1);
        assert!(sentences[0].starts_with("better beats random on 3/3 seeds, mean +0.1000"), "{}", sentences[0]);
        let report = std::fs::read_to_string(d.join("out/report.md")).expect("report");
        assert!(report.contains("| better | 3/3 (2) |"), "{report}");
        assert!(report.contains("(unfinished)"));
        assert!(report.contains("![Best reward so far against trial](best-so-far-default.svg)"));
        assert!(!report.contains("predicted-default.svg"), "no predictor, no plot");
        for f in ["summary.csv", "runs.csv", "summary.json", "best-so-far-default.svg", "rewards-default.svg"] {
            assert!(d.join("out").join(f).exists(), "{f}");
        }
    }
}
