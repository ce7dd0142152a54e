//! `--storage URL`: the runs of a comparison kept in PostgreSQL ([`Stored`]) under
//! `<DIR name>/<data>/<config>/seed-<S>`, all queued at once and trained by `mlpnas worker`
//! processes (`--local-workers` of them started here, [`run_stored`]); each finished run is
//! exported into its run directory ([`export`]) so that the aggregation reads the same files
//! either way.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::exec::run_all;
use super::job::Job;
use super::plan::Plan;

/// The runs of a comparison kept in a database.
pub(super) struct Stored {
    url: String,
    /// Names and statuses of the runs the database holds already (resumed, not started again).
    existing: Vec<(String, String)>,
}

impl Stored {
    /// Asks `mlpnas runs` which runs exist (and so checks the URL before anything starts).
    fn new(bin: &Path, url: &str) -> Result<Self> {
        let out = Command::new(bin).args(["runs", "--json", "--storage", url]).output().context("mlpnas runs")?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("error: "));
        }
        let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).context("mlpnas runs --json")?;
        let existing = runs
            .iter()
            .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["status"].as_str()?.to_string())))
            .collect();
        Ok(Self { url: url.to_string(), existing })
    }

    /// A run's name: the output directory's name, data, config and seed.
    fn name(&self, plan: &Plan, j: &Job) -> String {
        let prefix = plan.out.file_name().map_or("compare".into(), |n| n.to_string_lossy().into_owned());
        format!("{prefix}/{}/{}/seed-{}", j.data, j.config, j.seed)
    }

    /// Gives each job its name, the URL and its status in the database; returns how many run at
    /// once for `--jobs jobs_at_once`.
    pub(super) fn place(&self, plan: &Plan, jobs: &mut [Job], jobs_at_once: usize) -> usize {
        for j in jobs.iter_mut() {
            let name = self.name(plan, j);
            let status = self.existing.iter().find(|(n, _)| *n == name).map(|(_, s)| s.clone());
            j.stored = Some((name, self.url.clone(), status));
        }
        // Every run is queued at once (up to 32, or --jobs if more: each coordinator holds
        // a database connection), so the workers serve the whole comparison.
        jobs.len().min(jobs_at_once.max(32))
    }
}

/// Runs what is not finished yet in the database at `url`, with `local_workers` `mlpnas worker`
/// processes started here for the time; returns one line per failed run.
pub(super) fn run_stored(
    plan: &Plan,
    bin: &Path,
    url: &str,
    jobs_at_once: usize,
    local_workers: usize,
) -> Result<Vec<String>> {
    let stored = Stored::new(bin, url)?;
    let workers = (0..local_workers)
        .map(|_| {
            Command::new(bin)
                .args(["worker", "--quiet", "--storage", url])
                .stdout(std::process::Stdio::null())
                .spawn()
                .context("starting mlpnas worker")
        })
        .collect::<Result<Vec<_>>>()?;
    let failures = run_all(plan, bin, jobs_at_once, Some(&stored));
    for mut w in workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    Ok(failures)
}

/// Exports the finished run `name` from `url` into `run_dir` (replacing what is there);
/// `Err(one line)` when that fails.
pub(super) fn export(bin: &Path, name: &str, url: &str, run_dir: &Path) -> std::result::Result<(), String> {
    let _ = std::fs::remove_dir_all(run_dir);
    let e = Command::new(bin)
        .args(["export", "--quiet", name, "--storage", url, "--out"])
        .arg(run_dir)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !e.status.success() {
        return Err(format!("export: {}", String::from_utf8_lossy(&e.stderr).trim()));
    }
    Ok(())
}
