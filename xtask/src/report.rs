//! `report.md`: the comparison in prose, tables and embedded SVG plots.

use std::fmt::Write as _;

use crate::aggregate::{CompareSettings, DataReport, Spread};

/// What the report says besides the numbers.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    /// The command line that produced it.
    pub command: String,
    /// Seeds run per config.
    pub seeds: Vec<u64>,
    /// Plot files per data set, in report order: (data, [(title, file name)]).
    pub plots: Vec<(String, Vec<(String, String)>)>,
    /// Runs that failed, one line each.
    pub failures: Vec<String>,
    /// Lines skipped while reading journals, and similar.
    pub warnings: Vec<String>,
    /// Regrets on the benchmark tables compared, if any.
    pub regrets: Vec<crate::regret::TableRegret>,
    /// Hypervolumes of multi-objective runs on the benchmark tables compared, if any.
    pub volumes: Vec<crate::hypervolume::TableVolume>,
}

fn pm(s: Option<Spread>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) => match s.sd {
            Some(sd) => format!("{:.digits$} ± {:.digits$}", s.mean, sd),
            None => format!("{:.digits$}", s.mean),
        },
    }
}

/// The whole report.
pub fn markdown(reports: &[DataReport], ctx: &ReportContext, s: CompareSettings) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# mlpnas comparison\n");
    let _ = writeln!(o, "`{}`\n", ctx.command);
    let seeds = match (ctx.seeds.first(), ctx.seeds.last()) {
        (Some(a), Some(b)) if a != b => format!("seeds {a}..={b}"),
        (Some(a), _) => format!("seed {a}"),
        _ => "no seeds".into(),
    };
    let _ = writeln!(
        o,
        "{} per config. Numbers are mean ± sample sd over seeds. Paired comparisons pair runs by seed \
         (same seed = same data split) on each run's best reward; the interval is a {:.0}% percentile \
         bootstrap of the mean difference ({} resamples, seed {}), the test a two-sided Wilcoxon \
         signed-rank test. Machine-readable: `summary.csv` (per config), `runs.csv` (per run), `summary.json`.\n",
        seeds,
        s.level * 100.0,
        s.resamples,
        s.seed
    );
    crate::regret::markdown(&mut o, &ctx.regrets);
    crate::hypervolume::markdown(&mut o, &ctx.volumes);
    for r in reports {
        data_section(&mut o, r, ctx);
    }
    if !ctx.failures.is_empty() {
        let _ = writeln!(o, "## Failed runs\n");
        for f in &ctx.failures {
            let _ = writeln!(o, "- {f}");
        }
        o.push('\n');
    }
    if !ctx.warnings.is_empty() {
        let _ = writeln!(o, "## Warnings\n");
        for w in &ctx.warnings {
            let _ = writeln!(o, "- {w}");
        }
        o.push('\n');
    }
    o
}

fn data_section(o: &mut String, r: &DataReport, ctx: &ReportContext) {
    let spec = r.spec.as_deref().map_or("each config's own data".to_string(), |s| format!("`{s}`"));
    let _ = writeln!(o, "## Data: {} ({spec})\n", r.data);
    let _ = writeln!(o, "### Against the baseline ({})\n", r.baseline);
    if r.comparisons.is_empty() {
        let _ = writeln!(o, "Only the baseline was run.\n");
    }
    for c in &r.comparisons {
        let _ = writeln!(o, "- {}", c.sentence());
    }
    if let Some(n) = r.comparisons.iter().map(|c| c.wilcoxon.n).filter(|n| (1..6).contains(n)).min() {
        let floor = 2.0 / f64::from(1u32 << n);
        let _ = writeln!(
            o,
            "\nWith {n} paired seeds the smallest two-sided Wilcoxon p-value possible is {floor:.4}: \
             read the interval and the win count, and add seeds before claiming significance."
        );
    }
    o.push('\n');

    let _ = writeln!(o, "### Per config\n");
    let _ = writeln!(
        o,
        "| config | runs (finished) | trials | best reward | trials to 95% of the gain | \
         wall s | archs/s | transfers/trial | predictor MAE | predictor Spearman |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|");
    for c in &r.configs {
        let _ = writeln!(
            o,
            "| {} | {}/{} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.config,
            c.runs,
            c.planned,
            c.finished,
            pm(c.trials, 0),
            pm(c.best_reward, 4),
            pm(c.trials_to_95, 1),
            pm(c.wall_seconds, 1),
            pm(c.archs_per_second, 3),
            pm(c.transfers_per_trial, 2),
            pm(c.predictor_mae, 4),
            pm(c.predictor_spearman, 3),
        );
    }
    let _ = writeln!(
        o,
        "\nColumns (mean ± sd over seeds): *best reward*, the run's best reward (for networks, the \
         epoch-weighted validation accuracy of its best trial; for a table, its metric, negated when \
         smaller is better); *trials to 95% of the gain*, the trials until the best so far closes 95% \
         of the gap between the run's first trial and its best (1: the first trial was as good as it \
         got); *archs/s*, trials per second of wall time; *transfers/trial*, layers started from \
         shared weights; *predictor* columns, where the controller predicts rewards. A test accuracy \
         needs `mlpnas finalize` on a run: the search never scores on test rows."
    );
    o.push('\n');

    let epochs = r.configs.iter().map(|c| c.epoch_mean_rewards.len()).max().unwrap_or(0);
    if epochs > 0 {
        let _ = writeln!(o, "### Mean reward per controller epoch (mean over seeds)\n");
        let shown: Vec<usize> = if epochs <= 15 {
            (0..epochs).collect()
        } else {
            let step = epochs.div_ceil(15);
            (0..epochs).step_by(step).chain(std::iter::once(epochs - 1)).collect::<Vec<_>>()
        };
        let mut shown = shown;
        shown.dedup();
        let head: Vec<String> = shown.iter().map(|e| e.to_string()).collect();
        let _ = writeln!(o, "| config | {} |", head.join(" | "));
        let _ = writeln!(o, "|---|{}", "---|".repeat(shown.len()));
        for c in &r.configs {
            let cells: Vec<String> =
                shown.iter().map(|e| c.epoch_mean_rewards.get(*e).map_or("–".into(), |v| format!("{v:.4}"))).collect();
            let _ = writeln!(o, "| {} | {} |", c.config, cells.join(" | "));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "### Winners\n");
    let _ = writeln!(o, "| config | seed | best reward | trials | architecture |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    for c in &r.configs {
        for m in &c.per_run {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {}{} | `{}` |",
                c.config,
                m.seed,
                m.best_reward.map_or("–".into(), |v| format!("{v:.4}")),
                m.trials,
                match (m.finished, m.exhausted) {
                    (false, _) => " (unfinished)",
                    (true, true) => " (space exhausted)",
                    (true, false) => "",
                },
                m.best_architecture.as_deref().unwrap_or(""),
            );
        }
    }
    o.push('\n');

    if let Some((_, plots)) = ctx.plots.iter().find(|(d, _)| *d == r.data) {
        let _ = writeln!(o, "### Plots\n");
        for (title, file) in plots {
            let _ = writeln!(o, "{title}\n\n![{title}]({file})\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_print_with_and_without_sd() {
        let s = Spread::of(&[0.5, 0.7]);
        assert_eq!(pm(s, 2), "0.60 ± 0.14");
        assert_eq!(pm(Spread::of(&[0.5]), 3), "0.500");
        assert_eq!(pm(None, 3), "–");
    }
}
