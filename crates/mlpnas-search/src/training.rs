//! Training trials on threads of this process: [`train_on_threads`] (the one local training of
//! trials: a search's batch, a tabulation's rows), [`train_candidate`] (a network or a table
//! point) and [`record`] (what the journal keeps of a trained trial).

use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    ArchitectureTrainer, Candidate, Continuation, LayerWeights, Objective, Proposal, TrainOutcome, TrainerError,
    TrialRecord, TrialStatus,
};

/// How training one job went, with its wall time.
pub(crate) type Trained = (Result<TrainOutcome, TrainerError>, f64);

/// Trains (index, candidate, initial weights) jobs with the trial seed of each index, `threads`
/// at a time on threads of this process, in order: the one local training of trials (a search's
/// batch, a tabulation's rows).
pub(crate) fn train_on_threads(
    trainer: &dyn ArchitectureTrainer,
    seed: u64,
    jobs: &[(usize, &Candidate, &[Option<LayerWeights>])],
    threads: usize,
) -> Vec<Trained> {
    let train = |&(index, candidate, init): &(usize, &Candidate, &[Option<LayerWeights>])| {
        train_timed(trainer, seed, index, candidate, init)
    };
    if jobs.len() <= 1 || threads <= 1 {
        return jobs.iter().map(train).collect();
    }
    let mut out = Vec::with_capacity(jobs.len());
    for group in jobs.chunks(threads) {
        std::thread::scope(|s| {
            let handles: Vec<_> = group.iter().map(|j| s.spawn(move || train(j))).collect();
            out.extend(handles.into_iter().map(|h| {
                h.join().unwrap_or_else(|_| (Err(TrainerError::Other("a worker thread panicked".into())), 0.0))
            }));
        });
    }
    out
}

/// Trains trial `index` (its seed derived from the search's `seed`), timed.
pub(crate) fn train_timed(
    trainer: &dyn ArchitectureTrainer,
    seed: u64,
    index: usize,
    candidate: &Candidate,
    init: &[Option<LayerWeights>],
) -> Trained {
    let t0 = Instant::now();
    let o = train_candidate(trainer, candidate, init, derive(seed, "trial", index as u64));
    (o, t0.elapsed().as_secs_f64())
}

/// [`train_timed`] on a thread of a pool: a panic in the trainer becomes the trial's error
/// instead of ending the thread (and leaving the search waiting for its result).
pub(crate) fn train_guarded(
    trainer: &dyn ArchitectureTrainer,
    seed: u64,
    index: usize,
    candidate: &Candidate,
    init: &[Option<LayerWeights>],
) -> Trained {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train_timed(trainer, seed, index, candidate, init)))
        .unwrap_or_else(|_| (Err(TrainerError::Other("a training thread panicked".into())), 0.0))
}

/// Trains or measures `candidate` to `epochs` epochs in all, from the start or from where an
/// earlier rung left it ([`ArchitectureTrainer::train_to`]); a panic in the trainer becomes the
/// trial's error. The one training of a rung, on this process's threads and on workers.
pub(crate) fn train_to_guarded(
    trainer: &dyn ArchitectureTrainer,
    candidate: &Candidate,
    init: &[Option<LayerWeights>],
    seed: u64,
    epochs: usize,
    from: Option<Continuation>,
) -> Result<(TrainOutcome, Option<Continuation>), TrainerError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| trainer.train_to(candidate, init, seed, epochs, from)))
        .unwrap_or_else(|_| Err(TrainerError::Other("a training thread panicked".into())))
}

/// Trains a network candidate, or measures a point of a table space.
pub(crate) fn train_candidate(
    trainer: &dyn ArchitectureTrainer,
    candidate: &Candidate,
    init: &[Option<LayerWeights>],
    seed: u64,
) -> Result<TrainOutcome, TrainerError> {
    match candidate {
        Candidate::Network(arch) => trainer.train(arch, init, seed),
        Candidate::Point { values, .. } => trainer.measure(values, seed),
    }
}

/// The journal record of trial `trial` of controller epoch `epoch`: proposal `p` trained (or
/// measured) as `candidate` in `seconds` with outcome `o`, rewarded by `objective`.
pub(crate) fn record(
    trial: usize,
    epoch: usize,
    p: Proposal,
    candidate: &Candidate,
    (o, seconds): (&TrainOutcome, f64),
    transfers: usize,
    objective: &Objective,
) -> TrialRecord {
    TrialRecord {
        trial,
        epoch,
        architecture: candidate.text(),
        tokens: p.tokens,
        reward: o.reward(objective),
        val_acc_last: o.val_acc_last(),
        predicted: p.predicted,
        transfers,
        params: candidate.params(),
        seconds,
        status: if o.diverged { TrialStatus::Diverged } else { TrialStatus::Ok },
        epochs: o.epochs.clone(),
        metric: o.measured.map(|m| m.metric),
        scores: o.scores(objective),
        rescore_of: None,
        rungs: Vec::new(),
        objectives: Vec::new(),
    }
}
