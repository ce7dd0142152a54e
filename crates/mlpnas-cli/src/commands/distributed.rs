//! The commands of a PostgreSQL storage: `mlpnas worker`, `mlpnas runs` and `mlpnas export`.

use std::path::Path;

use anyhow::{Result, bail};
use mlpnas_core::RunStorage;
use mlpnas_runs::RunDir;

use crate::args::WorkerArgs;
use crate::output;
use crate::storage::run_storage;

pub(crate) fn worker(a: WorkerArgs, verbosity: output::Verbosity) -> Result<()> {
    // --threads, --lease and --exit-when-idle were checked by their parsers (numbers.rs).
    let idle = a.exit_when_idle.map(std::time::Duration::from_secs_f64);
    let db = mlpnas_postgres::open_worker(&a.storage)?;
    let mut backends: Vec<String> = mlpnas_backend::Backend::compiled().iter().map(ToString::to_string).collect();
    if mlpnas_backend::Backend::HAS_LIBTORCH {
        backends.extend(
            (0..16).map(|i| format!("tch-cuda:{i}")).filter(|b| mlpnas_backend::Backend::parse_available(b).is_ok()),
        );
    }
    // Trials of a trainer without a backend (a benchmark table's lookups).
    backends.push(mlpnas_search::claim::ANY_BACKEND.to_string());
    let opts = mlpnas_search::WorkerOptions {
        threads: a.threads,
        runs: a.runs.clone(),
        exit_when_idle: idle,
        lease: std::time::Duration::from_secs_f64(a.lease),
        backends: backends.clone(),
    };
    if verbosity > output::Verbosity::Quiet {
        note!(
            "mlpnas worker: {} thread(s) on {} ({}), runs: {}",
            a.threads,
            db.shown(),
            backends.join(", "),
            a.runs.as_ref().map_or("all".into(), |r| r.join(", "))
        );
    }
    let queue = db.queue();
    let verbose = verbosity == output::Verbosity::Verbose;
    let n = mlpnas_search::work(&queue, &opts, &|line: &str| {
        if verbose || line.contains("refused") || line.contains("skipping") {
            note!("{line}");
        }
    })?;
    if verbosity > output::Verbosity::Quiet {
        note!("mlpnas worker: idle, exiting after {n} trial(s)");
    }
    Ok(())
}

pub(crate) fn export(name: &str, url: &str, out: &Path, verbosity: output::Verbosity) -> Result<()> {
    let from = run_storage(Some(url), Path::new(name))?;
    if !from.exists()? {
        bail!("{}: no such run (mlpnas runs --storage URL lists them)", from.location());
    }
    // Written through the run directory's own storage, like a search writes it.
    let mut to = RunDir::new(out);
    if to.exists()? {
        bail!("{}: already holds a run; choose another --out", out.display());
    }
    to.lock()?;
    to.create(&from.read_config()?)?;
    let log = from.read_verified_trials()?;
    for r in &log.records {
        to.append_trial(r, None)?;
    }
    for e in from.read_epochs()? {
        to.append_epoch(&e)?;
    }
    if let Some(s) = from.read_summary()? {
        to.write_summary(&s)?;
    }
    if verbosity > output::Verbosity::Quiet {
        note!("{} trials of {} -> {}", log.records.len(), from.location(), out.display());
    }
    Ok(())
}

pub(crate) fn runs(url: &str, json: bool) -> Result<()> {
    let db = mlpnas_postgres::open(url)?;
    let list = mlpnas_postgres::list_runs(&db)?;
    if json {
        say!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    say!("{:<32} {:<11} {:>6} {:>7} {:>7}  best architecture", "run", "status", "trials", "best", "workers");
    for r in &list {
        say!(
            "{:<32} {:<11} {:>6} {:>7} {:>7}  {}",
            r.name,
            r.status,
            r.trials,
            r.best.map_or("-".into(), |b| format!("{b:.4}")),
            r.workers,
            r.best_architecture.as_deref().unwrap_or("-")
        );
    }
    say!("{} run(s) in {}", list.len(), db.shown());
    Ok(())
}
