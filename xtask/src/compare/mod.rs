//! `cargo xtask compare`: every config x data set x seed through the `mlpnas` binary, J at a time,
//! each into its own run directory, then the aggregation, plots and `report.md`.
//!
//! A run searches a data set (`--data SPEC`, passed to `mlpnas search --data`) or a benchmark
//! table (`--tables DIR`: `--set space.path=DIR --set trainer.path=DIR`); on tables the report
//! adds regret curves and tests ([`crate::regret`]). `--preset tables` runs configs/tables/ on
//! tables; `--preset smoke --tables DIR` runs configs/NAME.toml on iris and
//! configs/tables/NAME.toml on the tables.
//!
//! Layout of `--out DIR`: `runs/<data>/<config>/seed-<S>/` (one `mlpnas search --out` each),
//! `logs/<data>/<config>/seed-<S>.log` (its stdout and stderr), `compare.json` (the options every
//! run shares, checked on a rerun), and the outputs `report.md`, `summary.csv`, `runs.csv`,
//! `summary.json` and `*.svg`. A rerun skips runs whose `summary.json` says finished, resumes
//! runs that have a journal (`mlpnas search --resume RUN`) and starts the others.
//!
//! With `--storage URL` the runs live in PostgreSQL under `<DIR name>/<data>/<config>/seed-<S>`,
//! all queued at once (`--threads 0`: the coordinators only coordinate), trained by `mlpnas
//! worker` processes (`--local-workers` of them started here), and each finished run is exported
//! into its `runs/...` directory, so the aggregation reads the same files either way.
//!
//! One concern per file: [`args`] (the options, presets and their expansion), [`plan`] (the
//! resolved experiment: configs, data sets, seeds, directories, `compare.json`), [`job`] (one run
//! and the `mlpnas` arguments that start or resume it), [`exec`] (building the binary, running
//! the jobs J at a time, logs, progress), [`storage`] (`--storage URL`: runs in PostgreSQL, local
//! workers, export), [`quality`] (`--preset search-quality`, through the tabular kit's scripts) and [`aggregation`] (tables, plots and `report.md` from the run directories).

mod aggregation;
mod args;
mod exec;
mod job;
mod plan;
mod quality;
mod storage;

use anyhow::{Result, bail};

use crate::aggregate::CompareSettings;
use crate::report::ReportContext;
use crate::workspace_root;

pub use args::CompareArgs;

use aggregation::aggregate;
use exec::{build_binary, run_all};
use plan::{Plan, check_shared};

/// `cargo xtask compare`.
pub fn compare(a: CompareArgs) -> Result<()> {
    let root = workspace_root();
    if a.preset == Some(args::Preset::SearchQuality) {
        return quality::run(&a, &root);
    }
    let plan = Plan::new(&a, &root)?;
    let settings = CompareSettings { resamples: a.resamples, seed: a.bootstrap_seed, ..CompareSettings::default() };
    let mut ctx = ReportContext {
        command: std::iter::once("cargo xtask".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        seeds: plan.seeds.clone(),
        ..ReportContext::default()
    };
    if !a.aggregate_only {
        check_shared(&plan.out, &plan.shared)?;
        let bin = match &a.mlpnas {
            Some(p) if p.is_file() => std::path::absolute(p)?,
            Some(p) => bail!("--mlpnas {}: no such file", p.display()),
            None => build_binary(&root, a.profile)?,
        };
        ctx.failures = match &a.storage {
            None => run_all(&plan, &bin, a.jobs, None),
            Some(url) => storage::run_stored(&plan, &bin, url, a.jobs, a.local_workers)?,
        };
    }
    let sentences = aggregate(&plan, a.baseline.as_deref(), settings, &mut ctx)?;
    for w in &ctx.warnings {
        eprintln!("warning: {w}");
    }
    for s in &sentences {
        println!("{s}");
    }
    println!("report: {}", plan.out.join("report.md").display());
    if !ctx.failures.is_empty() {
        bail!("{} of {} runs failed (listed in the report)", ctx.failures.len(), plan.jobs().len());
    }
    Ok(())
}
