//! The trial queue extension point: trials of a batch waiting for workers on any machine.
//!
//! A run whose storage is shared (a database) can have its trials trained by other processes.
//! The search loop still decides everything (proposals, the store state a trial starts from, its
//! seed, the order results are committed in); a queue only carries a [`TrialTask`] to whichever
//! worker claims it and a [`TrialResult`] back.

use std::fmt;
use std::time::Duration;

use crate::error::StorageError;
use crate::space::TokenId;
use crate::tensor::LayerWeights;
use crate::trainer::TrainOutcome;

/// Everything a worker needs to train one trial, besides the run's config and data.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialTask {
    /// 0-based trial index over the whole search.
    pub trial: usize,
    /// The sequence, decoded by the worker with the run's space.
    pub tokens: Vec<TokenId>,
    /// The trial's random stream (`derive(seed, "trial", trial)`).
    pub seed: u64,
    /// Initial weights of each dense layer, from the weight store at the batch's start.
    pub init: Vec<Option<LayerWeights>>,
    /// A rung of a multi-fidelity search (`[scheduler]`): train to this many epochs in all
    /// ([`crate::ArchitectureTrainer::train_to`]) instead of a whole trial.
    pub rung: Option<RungTask>,
}

/// A queued trial's rung: how far to train it, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RungTask {
    /// Epochs in all, counted from the trial's first.
    pub epochs: usize,
    /// Where its previous rung left it ([`crate::ArchitectureTrainer::save_continuation`]'s
    /// bytes); `None` at its first rung (then `init` holds its initial weights).
    pub from: Option<Vec<u8>>,
}

/// What training one trial produced, as reported by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResult {
    /// The trainer's outcome (metrics and trained weights).
    pub outcome: TrainOutcome,
    /// Wall time of training and scoring.
    pub seconds: f64,
    /// Who trained it (for the `runs` listing and messages).
    pub worker: String,
    /// A rung's task ([`TrialTask::rung`]): where the trial stands now, for its next rung
    /// ([`crate::ArchitectureTrainer::save_continuation`]'s bytes); `None` when it cannot go on.
    pub continuation: Option<Vec<u8>>,
}

/// Who asks for work, and what it can run.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimant {
    /// A name unique to this worker process (host, pid, thread).
    pub worker: String,
    /// The binary's version: a worker claims only trials of runs made by the same version.
    pub version: String,
    /// Backends this build and machine can train on (`flex`, `ndarray`, `tch-cpu`, ...).
    pub backends: Vec<String>,
    /// Only trials of these runs (all runs when `None`).
    pub runs: Option<Vec<String>>,
    /// Never trials of these runs (runs this worker found it cannot build).
    pub skip: Vec<String>,
    /// How long a claim holds without a renewal ([`TrialQueue::renew`]).
    pub lease: Duration,
}

/// A trial taken by a worker: valid while its lease is renewed and no newer attempt exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The run it belongs to.
    pub run: String,
    /// Which attempt this is (1 for the first claim; each reclaim after an expired lease adds 1).
    pub attempt: u32,
    /// The trial.
    pub task: TrialTask,
    /// The lease it was taken with.
    pub lease: Duration,
}

/// Trials waiting for workers, with leases and fencing.
///
/// # Design
///
/// The queue is where a coordinator and any number of workers meet; it holds no search logic.
/// The coordinator [`submit`](TrialQueue::submit)s a batch (idempotently: a resumed coordinator
/// submits the same batch again and finds the claims and results of the first one), trains
/// some of it itself through the same [`claim`](TrialQueue::claim) as every worker, and collects
/// [`results`](TrialQueue::results) until the batch is complete; it commits them to the run in
/// trial order, so results never depend on who trained what, or when.
///
/// A claim is a lease: a worker that stops renewing it (killed, partitioned) loses the trial
/// when the lease expires and the next claim takes it as a new attempt. Every claim carries its
/// attempt number and [`complete`](TrialQueue::complete) accepts only the current attempt of a
/// trial still running, so a worker that was presumed dead can never write a result twice or
/// over a newer one. Trials are deterministic, so any attempt's result is the result.
pub trait TrialQueue: Send + Sync + fmt::Debug {
    /// Queues `tasks` of run `run` for training by `backend`; trials already queued (or done)
    /// are kept as they are.
    fn submit(&self, run: &str, backend: &str, tasks: &[TrialTask]) -> Result<(), StorageError>;
    /// The results of those of `trials` that are done, in any order; `Err` holds the message of
    /// a trial its worker could not train ([`TrialQueue::fail`]).
    #[allow(clippy::type_complexity)]
    fn results(&self, run: &str, trials: &[usize]) -> Result<Vec<(usize, Result<TrialResult, String>)>, StorageError>;
    /// Drops the tasks of `trials` (committed to the run, so no longer needed).
    fn retire(&self, run: &str, trials: &[usize]) -> Result<(), StorageError>;
    /// Takes one queued trial (or one whose lease expired) that `who` can run; `None` when
    /// there is none.
    fn claim(&self, who: &Claimant) -> Result<Option<Claim>, StorageError>;
    /// Extends the lease of `claim`; `false` when the claim was lost (the lease expired and
    /// another attempt took the trial, or it is done).
    fn renew(&self, claim: &Claim) -> Result<bool, StorageError>;
    /// Reports the result of `claim`; `false` (and nothing written) when the claim is no longer
    /// the trial's current attempt.
    fn complete(&self, claim: &Claim, result: &TrialResult) -> Result<bool, StorageError>;
    /// Gives `claim`'s trial back untrained (this worker cannot run it, e.g. its run does not
    /// build here): it is queued again at once for another worker. `false` when the claim is no
    /// longer current.
    fn release(&self, claim: &Claim) -> Result<bool, StorageError>;
    /// Reports that the trainer refused `claim`'s trial with `message` (the coordinator stops
    /// the search with it); `false` when the claim is no longer current.
    fn fail(&self, claim: &Claim, message: &str) -> Result<bool, StorageError>;
    /// The resolved config (TOML) of run `run`.
    fn run_config(&self, run: &str) -> Result<String, StorageError>;
    /// The prepared data of run `run` (as the coordinator split and standardized it).
    fn run_data(&self, run: &str) -> Result<crate::DataSplit, StorageError>;
    /// A counter that grows whenever tasks or results may have appeared, for
    /// [`TrialQueue::wait_for_change`]; read it *before* looking, so that nothing that happens
    /// after the look is missed. The default (a queue that cannot tell) is always 0.
    fn changes(&self) -> u64 {
        0
    }
    /// Blocks until [`TrialQueue::changes`] has passed `seen` or `timeout` elapsed, whichever is
    /// first (the default just sleeps: polling). Callers look again either way.
    fn wait_for_change(&self, seen: u64, timeout: Duration) {
        let _ = seen;
        std::thread::sleep(timeout);
    }
}
