//! Training one claimed trial: [`train_claim`] (the heartbeat renews the claim's lease while it
//! trains, the outcome goes back to the queue fenced by the claim's attempt), shared by
//! `mlpnas worker` ([`crate::worker`]) and a coordinator's own threads ([`crate::queued`]), and
//! the names and times every claimant uses.

use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use mlpnas_core::{
    ArchitectureTrainer, Candidate, Claim, RungTask, SearchSpace, TrainOutcome, TrainerError, TrialQueue, TrialResult,
    TrialTask,
};

use crate::error::SearchError;
use crate::training::{train_candidate, train_to_guarded};

/// How long a claim holds without a heartbeat, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The backend a queued trial asks for when its trainer runs on none (a benchmark table's):
/// every worker can take it.
pub const ANY_BACKEND: &str = "any";

/// The longest an idle worker waits before looking again without being woken.
pub const IDLE_POLL: Duration = Duration::from_millis(500);

/// This process's name for claims: `host:pid`.
pub fn process_name() -> String {
    format!("{}:{}", mlpnas_core::host_name(), std::process::id())
}

/// Trains the trial of `claim` with `trainer` (its run's) while renewing the lease every third
/// of it, then reports the outcome (or the trainer's error) to `queue`. Returns whether the
/// queue accepted it (`false`: the claim was lost to a newer attempt meanwhile).
pub fn train_claim(
    queue: &dyn TrialQueue,
    claim: &Claim,
    trainer: &dyn ArchitectureTrainer,
    space: &dyn SearchSpace,
    worker: &str,
) -> Result<bool, SearchError> {
    let (stop, beat) = channel::<()>();
    let every = (claim.lease / 3).max(Duration::from_millis(50));
    let (outcome, seconds) = std::thread::scope(|s| {
        s.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = beat.recv_timeout(every) {
                // A failed renewal is not fatal here: the result is fenced by attempt anyway.
                if !matches!(queue.renew(claim), Ok(true)) {
                    break;
                }
            }
        });
        let t0 = Instant::now();
        let task = &claim.task;
        let outcome = space
            .candidate(&task.tokens, trainer.input_dim(), trainer.n_classes())
            .map_err(|e| e.to_string())
            .and_then(|c| {
                match &task.rung {
                    None => train_candidate(trainer, &c, &task.init, task.seed).map(|o| (o, None)),
                    Some(rung) => train_rung(trainer, &c, task, rung),
                }
                .map_err(|e| e.to_string())
            });
        let seconds = t0.elapsed().as_secs_f64();
        drop(stop);
        (outcome, seconds)
    });
    Ok(match outcome {
        Ok((outcome, continuation)) => {
            queue.complete(claim, &TrialResult { outcome, seconds, worker: worker.to_string(), continuation })?
        }
        Err(message) => queue.fail(claim, &message)?,
    })
}

/// Trains a queued rung of a multi-fidelity search: from the bytes of where its previous rung
/// left it (or from the start), to the rung's epochs; returns the outcome and the bytes of
/// where it stands now (`None` when it cannot go on).
fn train_rung(
    trainer: &dyn ArchitectureTrainer,
    candidate: &Candidate,
    task: &TrialTask,
    rung: &RungTask,
) -> Result<(TrainOutcome, Option<Vec<u8>>), TrainerError> {
    let from = rung.from.as_deref().map(|b| trainer.load_continuation(b)).transpose()?;
    let (outcome, next) = train_to_guarded(trainer, candidate, &task.init, task.seed, rung.epochs, from)?;
    let next = next.map(|n| trainer.save_continuation(&n)).transpose()?;
    Ok((outcome, next))
}
