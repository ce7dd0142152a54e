//! Running a comparison: building the `mlpnas` binary ([`build_binary`]), then every run that is
//! not finished yet as an `mlpnas` subprocess, J at a time ([`run_all`]), each appending its
//! command line, stdout, stderr and exit status to its log, with a progress line per run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::args::Profile;
use super::job::Job;
use super::plan::{Plan, SharedOptions};
use super::storage::{Stored, export};
use crate::runs::{RunData, best_trial, is_finished};

/// How one run ended.
struct Outcome {
    job: Job,
    seconds: f64,
    /// `Err(one line)` when the binary failed.
    result: std::result::Result<(), String>,
}

fn run_one(bin: &Path, job: Job, shared: &SharedOptions) -> Outcome {
    let start = Instant::now();
    let args = job.args(shared);
    let result = (|| -> std::result::Result<(), String> {
        if let Some(p) = job.log.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let finished_there = job.stored.as_ref().is_some_and(|s| s.2.as_deref() == Some("finished"));
        let out = if finished_there {
            // Finished in the database but not exported yet: only the export is left.
            Command::new(bin).arg("--version").output()
        } else {
            Command::new(bin).args(&args).output()
        }
        .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut log = format!("$ {} {}\n", bin.display(), args.join(" "));
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&stderr);
        log.push_str(&format!("exit: {}\n\n", out.status));
        let mut old = std::fs::read_to_string(&job.log).unwrap_or_default();
        old.push_str(&log);
        std::fs::write(&job.log, old).map_err(|e| format!("{}: {e}", job.log.display()))?;
        if out.status.success() {
            if let Some((name, url, _)) = &job.stored {
                export(bin, name, url, &job.run_dir)?;
            }
            return Ok(());
        }
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("no message")
            .to_string();
        Err(format!("{line} ({}; log: {})", out.status, job.log.display()))
    })();
    Outcome { job, seconds: start.elapsed().as_secs_f64(), result }
}

fn bar(done: usize, total: usize) -> String {
    let width = 20;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    format!("{}{}", "#".repeat(filled), "-".repeat(width - filled))
}

/// The target directory cargo builds into: `CARGO_TARGET_DIR` (relative to the current directory)
/// or `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => std::path::absolute(PathBuf::from(&d)).unwrap_or_else(|_| PathBuf::from(d)),
        None => root.join("target"),
    }
}

/// Builds `mlpnas` with `cargo build -p mlpnas-cli` in `profile`; returns its path.
pub(super) fn build_binary(root: &Path, profile: Profile) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "mlpnas-cli", "--manifest-path"]).arg(root.join("Cargo.toml"));
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    let name = if profile == Profile::Release { "release" } else { "dev" };
    eprintln!("compare: building mlpnas ({name} profile)");
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p mlpnas-cli failed ({status})");
    }
    let dir = if profile == Profile::Release { "release" } else { "debug" };
    let bin = target_dir(root).join(dir).join(format!("mlpnas{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!("{}: not found after cargo build", bin.display());
    }
    Ok(bin)
}

/// Runs what is not finished yet; returns one line per failed run.
pub(super) fn run_all(plan: &Plan, bin: &Path, jobs_at_once: usize, storage: Option<&Stored>) -> Vec<String> {
    let mut all = plan.jobs();
    let jobs_at_once = match storage {
        Some(st) => st.place(plan, &mut all, jobs_at_once),
        None => jobs_at_once,
    };
    let total = all.len();
    let (done, todo): (Vec<Job>, Vec<Job>) = all.into_iter().partition(|j| is_finished(&j.run_dir));
    let resumes = todo.iter().filter(|j| j.started()).count();
    eprintln!(
        "compare: {total} runs ({} configs x {} data x {} seeds): {} finished earlier, {} to resume, {} to start; \
         {} at a time -> {}",
        plan.configs.len(),
        plan.data.len(),
        plan.seeds.len(),
        done.len(),
        resumes,
        todo.len() - resumes,
        jobs_at_once,
        plan.out.display()
    );
    let mut finished = done.len();
    let queue = Mutex::new(todo.into_iter().rev().collect::<Vec<_>>());
    let (tx, rx) = mpsc::channel::<Outcome>();
    let mut failures = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..jobs_at_once.max(1) {
            let tx = tx.clone();
            let queue = &queue;
            s.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(job) = next else { break };
                    if tx.send(run_one(bin, job, &plan.shared)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for o in rx {
            finished += 1;
            let head = format!("[{finished:>w$}/{total}] {}", bar(finished, total), w = total.to_string().len());
            match o.result {
                Ok(()) => {
                    let best = RunData::load(&o.job.run_dir, o.job.seed).ok().flatten();
                    let detail = best.as_ref().and_then(|r| best_trial(&r.trials).map(|b| (b.reward, r.trials.len())));
                    let detail = detail.map_or("no journal".into(), |(b, n)| format!("best {b:.4} in {n} trials"));
                    eprintln!("{head} ok    {}: {detail} ({:.1} s)", o.job.title(), o.seconds);
                }
                Err(e) => {
                    eprintln!("{head} FAIL  {}: {e}", o.job.title());
                    failures.push(format!("{}: {e}", o.job.title()));
                }
            }
        }
    });
    failures
}
