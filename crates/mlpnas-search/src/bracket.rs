//! One controller epoch under a multi-fidelity [`Scheduler`] (`[scheduler]`, issue 34): its
//! candidates trained rung by rung, each promoted candidate
//! continuing from where its last rung left it ([`ArchitectureTrainer::train_to`]), on this
//! process's threads or through the run's queue (PostgreSQL workers: where a candidate stands
//! travels between rungs as bytes, [`ArchitectureTrainer::save_continuation`]).
//!
//! Every candidate of the bracket reads the weight store as the bracket starts, and their puts
//! (each one's weights at the last rung it reached) are applied after the bracket in trial order:
//! the bracket is one batch. Promotions see each rung's rewards in trial order, whatever the
//! order the threads finish in, so the journal does not depend on the number of threads. Records
//! are journaled after the last rung; a trial journaled before (a run killed while committing
//! the bracket) is not trained again: its rungs' rewards are read back from its record, and must
//! be what the replayed bracket gives it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    ArchitectureTrainer, Bracket, Candidate, Continuation, LayerWeights, Objective, Rung, RungResults, RungTask,
    Scheduler, TokenId, TrainOutcome, TrainerError, TrialRecord, TrialTask, WeightStore,
};

use crate::epoch::EpochTrials;
use crate::error::SearchError;
use crate::observer::Observer;
use crate::queued::Queued;
use crate::training::train_to_guarded;

/// What a bracket ran, for the progress line: candidates at each rung (its epochs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BracketRun {
    /// `(epochs, candidates that reached the rung)`, rung by rung.
    pub(crate) reached: Vec<(usize, usize)>,
}

impl BracketRun {
    /// `bracket: 27 trials at 1 epoch, 9 at 3, 3 at 9; 24 stopped early`.
    pub(crate) fn text(&self) -> String {
        let rungs: Vec<String> = self
            .reached
            .iter()
            .enumerate()
            .map(|(i, &(e, n))| {
                let unit = if e == 1 { "epoch" } else { "epochs" };
                if i == 0 { format!("{n} trials at {e} {unit}") } else { format!("{n} at {e}") }
            })
            .collect();
        let first = self.reached.first().map_or(0, |r| r.1);
        let last = self.reached.last().map_or(0, |r| r.1);
        format!("bracket: {}; {} stopped early", rungs.join(", "), first - last)
    }
}

/// Where a candidate stands between two rungs: in this process's memory, or as the bytes a
/// worker saved ([`ArchitectureTrainer::save_continuation`]) when the run's queue trains them.
enum Held {
    Here(Continuation),
    Bytes(Vec<u8>),
}

/// Who trains a bracket's rungs.
pub(crate) enum RungTraining<'a> {
    /// This process's threads.
    Threads(usize),
    /// The run's queue: workers anywhere, and this process's threads ([`Queued`]). A promoted
    /// candidate's next rung may run on another worker than its last: where it stands travels
    /// as bytes through the queue.
    Queue(&'a Queued<'a>),
}

/// One candidate's training to its next rung.
struct Job {
    pos: usize,
    index: usize,
    tokens: Vec<TokenId>,
    candidate: Candidate,
    init: Vec<Option<LayerWeights>>,
    epochs: usize,
    from: Option<Held>,
}

/// How a job went: its outcome and where it stands, with its wall time.
type JobResult = (usize, Result<(TrainOutcome, Option<Held>), TrainerError>, f64);

/// A candidate's training so far: its latest outcome, wall time, rungs and continuation.
#[derive(Default)]
struct Progress {
    outcome: Option<TrainOutcome>,
    seconds: f64,
    rungs: Vec<Rung>,
    from: Option<Held>,
}

/// The settings a bracket runs with.
pub(crate) struct BracketSetup<'a> {
    pub(crate) trainer: &'a dyn ArchitectureTrainer,
    pub(crate) scheduler: &'a dyn Scheduler,
    pub(crate) seed: u64,
    pub(crate) objective: &'a Objective,
    pub(crate) training: RungTraining<'a>,
    /// Earlier controller epochs' trials (what the scheduler may compare with).
    pub(crate) history: &'a [TrialRecord],
    /// This epoch's trials journaled before this session, in trial order.
    pub(crate) journaled: &'a [TrialRecord],
}

/// Runs `bracket` over `trials` (built as one batch), reading initial weights from `store`, and
/// hands every trained trial to `trials` ([`EpochTrials::finish`]) with its rungs, ready to be
/// committed.
pub(crate) fn run_bracket(
    setup: &BracketSetup<'_>,
    bracket: &Bracket,
    trials: &mut EpochTrials<'_>,
    store: Option<&dyn WeightStore>,
    observer: &mut dyn Observer,
) -> Result<BracketRun, SearchError> {
    let n = trials.len();
    let mut inits: Vec<Vec<Option<LayerWeights>>> = vec![Vec::new(); n];
    while let Some((pos, init)) = trials.start_next(store)? {
        inits[pos] = init;
    }
    let journaled = setup.journaled.len().min(n);
    let mut progress: Vec<Progress> = (0..n).map(|_| Progress::default()).collect();
    let mut alive: Vec<usize> = (0..n).collect();
    let mut reached = Vec::with_capacity(bracket.rungs.len());
    // Rungs each candidate reached.
    let mut count = vec![0usize; n];
    for (k, &epochs) in bracket.rungs.iter().enumerate() {
        reached.push((epochs, alive.len()));
        alive.iter().for_each(|&pos| count[pos] += 1);
        let jobs: Vec<Job> = alive
            .iter()
            .filter(|&&pos| pos >= journaled)
            .map(|&pos| Job {
                pos,
                index: trials.trial(pos).0,
                tokens: trials.trial(pos).1.to_vec(),
                candidate: trials.candidate(pos).clone(),
                init: if k == 0 { inits[pos].clone() } else { Vec::new() },
                epochs,
                from: progress[pos].from.take(),
            })
            .collect();
        let results = match &setup.training {
            RungTraining::Threads(threads) => train_rung(setup.trainer, setup.seed, jobs, *threads),
            RungTraining::Queue(queued) => queue_rung(setup.trainer, queued, jobs, observer)?,
        };
        for (pos, result, seconds) in results {
            let (outcome, from) = result?;
            let p = &mut progress[pos];
            p.rungs.push(Rung { epochs, reward: outcome.reward(setup.objective) });
            p.seconds += seconds;
            p.from = from;
            p.outcome = Some(outcome);
        }
        let mut scores = Vec::with_capacity(alive.len());
        for &pos in &alive {
            let index = trials.trial(pos).0;
            let reward = if pos < journaled {
                let rung = setup.journaled[pos].rungs.get(k).filter(|r| r.epochs == epochs);
                rung.map(|r| r.reward).ok_or_else(|| not_replayed(index))?
            } else {
                let lost =
                    || SearchError::Io { path: "training".into(), message: "the training threads ended early".into() };
                progress[pos].rungs.get(k).ok_or_else(lost)?.reward
            };
            scores.push((index, reward));
        }
        if k + 1 == bracket.rungs.len() {
            break;
        }
        let keep: BTreeSet<usize> = setup
            .scheduler
            .promote(&RungResults { bracket, rung: k, scores: &scores, history: setup.history })
            .into_iter()
            .collect();
        // A candidate that cannot go on (it diverged) stops whatever its reward.
        alive.retain(|&pos| keep.contains(&trials.trial(pos).0) && (pos < journaled || progress[pos].from.is_some()));
        if alive.is_empty() {
            break;
        }
    }
    // A journaled trial must have stopped where the bracket stops it.
    for (pos, r) in setup.journaled.iter().enumerate().take(journaled) {
        if r.rungs.len() != count[pos] {
            return Err(not_replayed(trials.trial(pos).0));
        }
    }
    for (pos, p) in progress.into_iter().enumerate().skip(journaled) {
        let outcome = p.outcome.ok_or_else(|| not_replayed(trials.trial(pos).0))?;
        trials.finish(pos, (Ok(outcome), p.seconds), std::mem::take(&mut inits[pos]));
        trials.set_rungs(pos, p.rungs);
    }
    Ok(BracketRun { reached })
}

fn not_replayed(index: usize) -> SearchError {
    SearchError::Io {
        path: "journal".into(),
        message: format!(
            "trial {index}'s rungs are not what this run's bracket gives it; the run cannot be resumed exactly"
        ),
    }
}

/// Trains one rung's `jobs` on up to `threads` threads; results in job order.
fn train_rung(trainer: &dyn ArchitectureTrainer, seed: u64, jobs: Vec<Job>, threads: usize) -> Vec<JobResult> {
    let n = jobs.len();
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<Job>>());
    let done: Mutex<Vec<JobResult>> = Mutex::new(Vec::with_capacity(n));
    let work = || {
        while let Some(job) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
            let pos = job.pos;
            let t0 = Instant::now();
            let seed = derive(seed, "trial", job.index as u64);
            let result = here(trainer, job.from).and_then(|from| {
                let (outcome, next) = train_to_guarded(trainer, &job.candidate, &job.init, seed, job.epochs, from)?;
                Ok((outcome, next.map(Held::Here)))
            });
            if let Ok(mut d) = done.lock() {
                d.push((pos, result, t0.elapsed().as_secs_f64()));
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(work);
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|d| d.0);
    done
}

/// A continuation in this process's memory.
fn here(trainer: &dyn ArchitectureTrainer, held: Option<Held>) -> Result<Option<Continuation>, TrainerError> {
    match held {
        None => Ok(None),
        Some(Held::Here(c)) => Ok(Some(c)),
        Some(Held::Bytes(b)) => trainer.load_continuation(&b).map(Some),
    }
}

/// Trains one rung's `jobs` through the run's queue (workers anywhere, this process's threads
/// too); results in job order. Each task carries the rung's epochs and the bytes of where the
/// candidate's previous rung left it.
fn queue_rung(
    trainer: &dyn ArchitectureTrainer,
    queued: &Queued<'_>,
    jobs: Vec<Job>,
    observer: &mut dyn Observer,
) -> Result<Vec<JobResult>, SearchError> {
    let mut positions = Vec::with_capacity(jobs.len());
    let mut tasks = Vec::with_capacity(jobs.len());
    for job in jobs {
        let from = match job.from {
            None => None,
            Some(Held::Bytes(b)) => Some(b),
            Some(Held::Here(c)) => Some(trainer.save_continuation(&c)?),
        };
        positions.push(job.pos);
        tasks.push(TrialTask {
            trial: job.index,
            tokens: job.tokens,
            seed: queued.trial_seed(job.index),
            init: job.init,
            rung: Some(RungTask { epochs: job.epochs, from }),
        });
    }
    let results = queued.train_tasks(tasks, observer)?;
    Ok(positions
        .into_iter()
        .zip(results)
        .map(|(pos, r)| match r {
            Ok(r) => (pos, Ok((r.outcome, r.continuation.map(Held::Bytes))), r.seconds),
            Err(e) => (pos, Err(e), 0.0),
        })
        .collect())
}
