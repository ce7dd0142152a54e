//! [`Queued`]: training through a run's [`TrialQueue`], the one distributed training of trials
//! (a search's batch, a tabulation's rows): tasks are submitted, trained by workers anywhere and
//! by threads of this process, and their results collected in trial order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlpnas_core::seed::derive;
use mlpnas_core::{
    ArchitectureTrainer, Claimant, LayerWeights, RunStorage, SearchSpace, TokenId, TrainerError, TrialQueue,
    TrialResult, TrialTask,
};

use crate::claim::{ANY_BACKEND, DEFAULT_LEASE, process_name, train_claim};
use crate::config::CheckedConfig;
use crate::error::SearchError;
use crate::observer::Observer;
use crate::training::Trained;

/// A trial for the queue: index, tokens, initial weights.
pub(crate) type QueuedJob<'a> = (usize, &'a [TokenId], &'a [Option<LayerWeights>]);

/// Training through a run's [`TrialQueue`]: the one distributed training of trials (a search's
/// batch, a tabulation's rows), as [`train_on_threads`] is the one local training.
pub(crate) struct Queued<'a> {
    queue: &'a dyn TrialQueue,
    run: String,
    backend: String,
    seed: u64,
    trainer: &'a dyn ArchitectureTrainer,
    space: &'a dyn SearchSpace,
    threads: usize,
}

impl<'a> Queued<'a> {
    /// Training of the run in `storage` (whose queue `queue` is), with `threads` of this
    /// process training too.
    pub(crate) fn new(
        queue: &'a dyn TrialQueue,
        storage: &dyn RunStorage,
        cfg: &CheckedConfig,
        trainer: &'a dyn ArchitectureTrainer,
        space: &'a dyn SearchSpace,
        threads: usize,
    ) -> Self {
        Queued {
            queue,
            run: storage.run_name(),
            backend: cfg.trainer.backend().unwrap_or_else(|| ANY_BACKEND.into()),
            seed: cfg.seed,
            trainer,
            space,
            threads,
        }
    }

    /// Puts the (trial index, tokens, initial weights) `jobs` into the queue, each with the trial
    /// seed of its index, and collects their results in order, training some of them on this
    /// process's threads meanwhile (workers elsewhere train the rest). Submitting is idempotent,
    /// so a resumed coordinator finds the claims and results of the batch it was running.
    pub(crate) fn train(
        &self,
        jobs: &[QueuedJob<'_>],
        observer: &mut dyn Observer,
    ) -> Result<Vec<Trained>, SearchError> {
        let tasks: Vec<TrialTask> = jobs
            .iter()
            .map(|&(index, tokens, init)| TrialTask {
                trial: index,
                tokens: tokens.to_vec(),
                seed: self.trial_seed(index),
                init: init.to_vec(),
                rung: None,
            })
            .collect();
        Ok(self
            .train_tasks(tasks, observer)?
            .into_iter()
            .map(|r| match r {
                Ok(r) => (Ok(r.outcome), r.seconds),
                Err(e) => (Err(e), 0.0),
            })
            .collect())
    }

    /// The seed of trial `index` (`derive(seed, "trial", index)`), as every trial of the run.
    pub(crate) fn trial_seed(&self, index: usize) -> u64 {
        derive(self.seed, "trial", index as u64)
    }

    /// Puts `tasks` into the queue and collects their results in order, training some of them
    /// on this process's threads meanwhile (workers elsewhere train the rest). Submitting is
    /// idempotent, so a resumed coordinator finds the claims and results of the tasks it was
    /// running; a task that asks for something else than before (another rung) is queued anew.
    pub(crate) fn train_tasks(
        &self,
        tasks: Vec<TrialTask>,
        observer: &mut dyn Observer,
    ) -> Result<Vec<Result<TrialResult, TrainerError>>, SearchError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let (q, run, backend) = (self.queue, &self.run, &self.backend);
        q.submit(run, backend, &tasks)?;
        let wanted: Vec<usize> = tasks.iter().map(|t| t.trial).collect();
        let who = Claimant {
            worker: format!("{}/coordinator", process_name()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            backends: vec![backend.clone()],
            runs: Some(vec![run.clone()]),
            skip: Vec::new(),
            lease: DEFAULT_LEASE,
        };
        let done = AtomicBool::new(false);
        let (trainer, space) = (self.trainer, self.space);
        let collected = std::thread::scope(|s| {
            for t in 0..self.threads.min(wanted.len()) {
                let who = Claimant { worker: format!("{}-{t}", who.worker), ..who.clone() };
                let done = &done;
                s.spawn(move || {
                    let mut pause = Duration::from_millis(1);
                    while !done.load(Ordering::Relaxed) {
                        let seen = q.changes();
                        match q.claim(&who) {
                            Ok(Some(c)) => {
                                // A failure is reported through the queue; a lost claim is
                                // trained by whoever holds it now.
                                let _ = train_claim(q, &c, trainer, space, &who.worker);
                                pause = Duration::from_millis(1);
                            }
                            Ok(None) | Err(_) => {
                                q.wait_for_change(seen, pause);
                                pause = (pause * 2).min(Duration::from_millis(100));
                            }
                        }
                    }
                });
            }
            let r = collect(q, run, &wanted, self.threads, observer);
            done.store(true, Ordering::Relaxed);
            r
        });
        let mut collected = collected?;
        Ok(wanted
            .iter()
            .map(|t| match collected.remove(t) {
                Some(Ok(r)) => Ok(r),
                Some(Err(m)) => Err(TrainerError::Other(format!("trial {t}: {m}"))),
                None => Err(TrainerError::Other(format!("trial {t} has no result"))),
            })
            .collect())
    }

    /// Drops the queue's tasks of `trials` once they are committed.
    pub(crate) fn retire(&self, trials: &[usize]) -> Result<(), SearchError> {
        Ok(self.queue.retire(&self.run, trials)?)
    }
}

/// Polls `q` until every trial of `wanted` has a result.
fn collect(
    q: &dyn TrialQueue,
    run: &str,
    wanted: &[usize],
    threads: usize,
    observer: &mut dyn Observer,
) -> Result<HashMap<usize, Result<TrialResult, String>>, SearchError> {
    let mut got: HashMap<usize, Result<TrialResult, String>> = HashMap::new();
    let mut pause = Duration::from_millis(1);
    let start = Instant::now();
    let mut told = false;
    loop {
        let missing: Vec<usize> = wanted.iter().copied().filter(|t| !got.contains_key(t)).collect();
        if missing.is_empty() {
            return Ok(got);
        }
        let before = got.len();
        let seen = q.changes();
        got.extend(q.results(run, &missing)?);
        if got.len() > before {
            pause = Duration::from_millis(1);
            continue;
        }
        if !told && threads == 0 && start.elapsed() > Duration::from_secs(5) {
            observer.notice(&format!(
                "waiting for workers: {} trial(s) queued (start one with: mlpnas worker --storage URL)",
                missing.len()
            ));
            told = true;
        }
        // Woken by the queue when a result arrives; the timeout is the fallback.
        q.wait_for_change(seen, pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
