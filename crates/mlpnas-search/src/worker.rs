//! `mlpnas worker` ([`work`]): claims queued trials of any run and trains them ([`train_claim`],
//! shared with the coordinator's own training threads).
//!
//! A worker knows nothing of the search: it claims a trial from a [`TrialQueue`], builds the
//! trial's run (config and prepared data, as the coordinator published them; cached per run),
//! trains it while a heartbeat renews the claim's lease, and reports the outcome. The queue
//! fences results by attempt, so a worker that lost its lease (paused, partitioned) cannot write
//! over a newer attempt.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlpnas_core::{ArchitectureTrainer, Claimant, SearchSpace, TrialQueue};

use crate::claim::{IDLE_POLL, process_name, train_claim};
use crate::config::{SearchConfig, stored_with_added_fields};
use crate::error::SearchError;

/// What `mlpnas worker` does.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Training threads (each claims and trains one trial at a time).
    pub threads: usize,
    /// Only trials of these runs (all when `None`).
    pub runs: Option<Vec<String>>,
    /// Exit after this long without work (never when `None`).
    pub exit_when_idle: Option<Duration>,
    /// The lease of each claim.
    pub lease: Duration,
    /// Backends this build and machine train on.
    pub backends: Vec<String>,
}

/// A run as a worker needs it.
struct RunContext {
    trainer: Box<dyn ArchitectureTrainer>,
    space: Box<dyn SearchSpace>,
}

/// Claims and trains trials until idle for `exit_when_idle` (forever without it); `log` gets a
/// line per trial and per refused result. Returns the number of trials whose results were
/// accepted.
pub fn work(queue: &dyn TrialQueue, opts: &WorkerOptions, log: &(dyn Fn(&str) + Sync)) -> Result<usize, SearchError> {
    let name = process_name();
    let contexts: Mutex<HashMap<String, Arc<RunContext>>> = Mutex::new(HashMap::new());
    let start = Instant::now();
    let last_work = AtomicU64::new(0);
    let accepted = AtomicUsize::new(0);
    let thread = |t: usize| -> Result<(), SearchError> {
        let mut who = Claimant {
            worker: format!("{name}/{t}"),
            version: env!("CARGO_PKG_VERSION").to_string(),
            backends: opts.backends.clone(),
            runs: opts.runs.clone(),
            skip: Vec::new(),
            lease: opts.lease,
        };
        // Woken by the queue when tasks appear; the timeout is only the fallback (a lease that
        // expired, a queue that cannot notify).
        let mut pause = Duration::from_millis(2);
        loop {
            let seen = queue.changes();
            let Some(claim) = queue.claim(&who)? else {
                let idle = start.elapsed().saturating_sub(Duration::from_millis(last_work.load(Ordering::Relaxed)));
                if opts.exit_when_idle.is_some_and(|limit| idle >= limit) {
                    return Ok(());
                }
                queue.wait_for_change(seen, pause);
                pause = (pause * 2).min(IDLE_POLL);
                continue;
            };
            pause = Duration::from_millis(2);
            let ctx = {
                let mut cache = contexts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match cache.get(&claim.run) {
                    Some(c) => Ok(Arc::clone(c)),
                    None => run_context(queue, &claim.run).map(|c| {
                        let c = Arc::new(c);
                        cache.insert(claim.run.clone(), Arc::clone(&c));
                        c
                    }),
                }
            };
            let ctx = match ctx {
                Ok(ctx) => ctx,
                Err(e) => {
                    // This worker cannot run it (a backend the machine lacks, an unreadable
                    // config): the trial goes back at once to workers that can, and this one
                    // leaves the run alone from now on. Not the trial's fault: no failure.
                    queue.release(&claim)?;
                    who.skip.push(claim.run.clone());
                    log(&format!("{}: skipping run {} (it does not build here: {e})", who.worker, claim.run));
                    continue;
                }
            };
            let ok = train_claim(queue, &claim, ctx.trainer.as_ref(), ctx.space.as_ref(), &who.worker)?;
            last_work.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
            if ok {
                accepted.fetch_add(1, Ordering::Relaxed);
                // A rung of a multi-fidelity search says how far, and whether it continued.
                let rung = match &claim.task.rung {
                    None => String::new(),
                    Some(r) => {
                        let how = if r.from.is_some() { "continued to" } else { "to" };
                        format!(", {how} {} epoch{}", r.epochs, if r.epochs == 1 { "" } else { "s" })
                    }
                };
                log(&format!("{}: trained trial {} of run {}{rung}", who.worker, claim.task.trial, claim.run));
            } else {
                log(&format!(
                    "{}: the result of trial {} of run {} (attempt {}) was refused: a newer attempt holds it",
                    who.worker, claim.task.trial, claim.run, claim.attempt
                ));
            }
        }
    };
    let results: Vec<Result<(), SearchError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..opts.threads.max(1)).map(|t| s.spawn(move || thread(t))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(SearchError::Io { path: "worker".into(), message: "a training thread panicked".into() })
                })
            })
            .collect()
    });
    for r in results {
        r?;
    }
    Ok(accepted.load(Ordering::Relaxed))
}

/// Builds the trainer and space of run `run` from what its coordinator published.
fn run_context(queue: &dyn TrialQueue, run: &str) -> Result<RunContext, SearchError> {
    let shown = format!("run {run} (config)");
    let sealed = queue.run_config(run)?;
    let text = mlpnas_runs::fingerprint::unseal(&sealed)
        .map_err(|message| SearchError::ConfigFile { path: shown.clone(), message })?;
    let text = stored_with_added_fields(text, &shown, Path::new(""))?;
    let cfg = SearchConfig::from_toml(&text, &shown, Path::new(""), &[])?.check()?;
    // A trainer without data (a benchmark table, read from its path on this machine) needs none.
    let split = if cfg.trainer.needs_data() {
        Arc::new(queue.run_data(run)?)
    } else {
        crate::prepare::prepare_data(&cfg)?.split
    };
    let objective = crate::prepare::objective(&cfg, &split)?;
    let trainer = crate::resampled::build_trainer(&cfg, split, &objective)?;
    let space = cfg.space.build().map_err(|source| SearchError::Config { path: shown.clone(), source })?;
    Ok(RunContext { trainer, space })
}
