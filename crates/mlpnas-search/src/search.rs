//! The search loop ([`Search`]) and single-architecture evaluation ([`evaluate`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, Bracket, Candidate, Controller, ControllerContext, ControllerError, EpochReport,
    LayerWeights, Objective, Proposal, RunStorage, Scheduler, SearchSpace, Summary, TokenId, TrainOutcome, TrialQueue,
    TrialRecord, WeightStore, build_controller, top_n,
};

use crate::bracket::{BracketSetup, RungTraining, run_bracket};
use crate::config::CheckedConfig;
use crate::epoch::{EpochTrials, Sinks};
use crate::error::SearchError;
use crate::observer::Observer;
use crate::prepare::Prepared;
use crate::queued::{Queued, QueuedJob};
use crate::run::Run;
use crate::training::train_guarded;

/// What a finished search returns.
#[derive(Debug)]
pub struct SearchSummary {
    /// Every trial in order (those of earlier sessions too, when resumed).
    pub records: Vec<TrialRecord>,
    /// Where the run lives (its directory).
    pub location: String,
    /// Whether it ended early because the space ran out of untried architectures.
    pub exhausted: bool,
    /// Wall time of the whole search (all sessions).
    pub wall_seconds: f64,
}

impl SearchSummary {
    /// The `n` best trials.
    pub fn top(&self, n: usize) -> Vec<&TrialRecord> {
        top_n(&self.records, n)
    }
}

/// A search being run: the components built from a run's config, and its history.
///
/// Crash safety: a trial is committed by its record in the run's storage; its store puts are
/// made durable before that record and applied to the store after its batch; at each
/// controller-epoch boundary the controller state and (for in-memory stores) a store snapshot
/// are checkpointed. A search of a run with a checkpoint restores it and replays the epoch from
/// there: the controller proposes the same batch again, committed trials are taken from the
/// storage instead of being trained, so a search killed at any instant and resumed ends with the
/// journal of an uninterrupted one.
pub struct Search {
    cfg: CheckedConfig,
    space: Box<dyn SearchSpace>,
    controller: Box<dyn Controller>,
    trainer: Box<dyn ArchitectureTrainer>,
    store: Option<Box<dyn WeightStore>>,
    storage: Box<dyn RunStorage>,
    records: Vec<TrialRecord>,
    /// Where the controller and store stand: start of this epoch, with this many trials before it.
    epoch: usize,
    trials_before: usize,
    wall_before: f64,
    notices: Vec<String>,
    /// Where other processes train the run's trials, when its storage is shared.
    queue: Option<Arc<dyn TrialQueue>>,
    /// Threads of this process that train trials of a batch.
    threads: usize,
    /// What the trials' rewards are made of (`search.metric`, resolved against the data).
    objective: Objective,
    /// While re-scoring (`search.rescore_top`): the trial each position evaluates again.
    rescoring: Option<Vec<usize>>,
    /// The multi-fidelity `[scheduler]`; `None` when every trial trains to the end in one go.
    scheduler: Option<Arc<dyn Scheduler>>,
}

impl Search {
    /// Builds every component of `run` (a run opened for writing: [`Run::create`] or
    /// [`Run::resume`]) over `data`. A run with a checkpoint continues from it: the controller
    /// state and the weight store are restored, and the trials committed since are replayed
    /// rather than trained again. A finished run is refused unless its budget was raised.
    pub fn new(run: Run, data: &Prepared) -> Result<Self, SearchError> {
        let checkpoint = run.checkpoint()?;
        let summary = run.summary()?;
        // The store as of the checkpoint; the trials committed since are replayed by the loop,
        // batch by batch, as they were applied the first time.
        let store = run.weight_store(checkpoint.as_ref(), checkpoint.as_ref().map_or(0, |c| c.0.trials))?;
        let (mut storage, cfg, records, notices) = run.into_parts()?;
        // Re-scoring follows the last epoch: a run that finished it cannot grow (one killed while
        // re-scoring finishes it, [`Search::run`]).
        if summary.as_ref().is_some_and(|s| s.finished) && records.iter().any(|r| r.rescore_of.is_some()) {
            return Err(SearchError::Io {
                path: storage.location(),
                message: "this run re-scored its best candidates after its last epoch; it cannot continue with more \
                          epochs (start a new run)"
                    .into(),
            });
        }
        let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
        let mut controller =
            build_controller(cfg.controller.as_ref(), space.as_ref(), derive(cfg.seed, "controller", 0))?;
        let trainer = crate::resampled::build_trainer(&cfg, Arc::clone(&data.split), &data.objective)?;
        trainer.check_space(space.as_ref())?;
        let scheduler = build_scheduler(&cfg, trainer.as_ref(), storage.queue().is_some())?;
        if let Some(s) = summary
            && s.finished
        {
            let spent = epochs_spent(&records);
            let raise = if planned(&cfg, scheduler.as_deref()) <= s.trials {
                Some(format!("search.controller_epochs={}", cfg.search.controller_epochs + 10))
            } else if let Some(b) = cfg.search.epoch_budget.filter(|&b| b <= spent) {
                Some(format!("search.epoch_budget={}", b * 2))
            } else {
                cfg.search
                    .time_budget
                    .filter(|b| b.seconds() <= s.wall_seconds)
                    .map(|b| format!("search.time_budget={}", (b.seconds() * 2.0).ceil()))
            };
            if let Some(raise) = raise {
                return Err(SearchError::Io {
                    path: storage.location(),
                    message: format!(
                        "this search already finished ({} trials); raise the budget to continue it, e.g. --set {raise}",
                        s.trials,
                    ),
                });
            }
        }
        let (epoch, trials_before, wall_before) = match checkpoint {
            Some((ck, state, _)) => {
                controller.load_state(&state)?;
                (ck.epoch, ck.trials, ck.wall_seconds)
            }
            None => (0, 0, 0.0),
        };
        // The trials were verified when the run was read (RunStorage::read_verified_trials):
        // consecutive, and at least as many as the checkpoint covers.
        storage.keep_epochs_before(epoch)?;
        storage.clear_summary()?;
        // What report and the dashboard show beside the rewards (a table run loads no data).
        if cfg.trainer.needs_data() {
            storage.write_data_summary(&mlpnas_core::DataSummary::of(&data.split))?;
        }
        let queue = storage.queue();
        if queue.is_some() {
            storage.publish_data(&data.split)?;
        }
        // A local run trains on every core ([`Search::set_threads`]); a run with a queue keeps
        // `search.batch` trials in it at once.
        let threads = match queue {
            Some(_) => cfg.search.batch,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(Self {
            cfg,
            space,
            controller,
            trainer,
            store,
            storage,
            records,
            epoch,
            trials_before,
            wall_before,
            notices,
            queue,
            threads,
            objective: data.objective,
            rescoring: None,
            scheduler,
        })
    }

    /// Trains on `threads` threads of this process (default: the machine's cores; with a queue,
    /// `search.batch`). Only a run whose storage has a queue may train on none (workers train
    /// everything); results never depend on it.
    pub fn set_threads(&mut self, threads: usize) -> Result<(), SearchError> {
        if self.queue.is_none() && threads == 0 {
            return Err(SearchError::Io {
                path: self.storage.location(),
                message: "a local run needs at least one training thread".into(),
            });
        }
        self.threads = threads;
        Ok(())
    }

    /// Trials already journaled (from an earlier session, when resumed).
    pub fn done(&self) -> usize {
        self.records.len()
    }

    /// The config it runs.
    pub fn config(&self) -> &CheckedConfig {
        &self.cfg
    }

    /// Runs every controller epoch, journaling each trial; ends early (with a notice) if the space
    /// runs out of untried architectures.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<SearchSummary, SearchError> {
        let t0 = Instant::now();
        let lc = self.cfg.search.clone();
        observer.start(planned(&self.cfg, self.scheduler.as_deref()) + lc.rescore_top * lc.rescore_seeds());
        for n in std::mem::take(&mut self.notices) {
            observer.warning(&n);
        }
        if !self.records.is_empty() {
            observer.notice(&format!("resuming after {} journaled trials", self.records.len()));
            let mut best = 0;
            for (i, r) in self.records.iter().enumerate() {
                if r.reward > self.records[best].reward {
                    best = i;
                }
                observer.trial(r, &self.records[best]);
            }
        }
        let mut exhausted = false;
        let mut tried: HashSet<Vec<TokenId>> =
            self.records[..self.trials_before].iter().map(|r| r.tokens.clone()).collect();
        // A run killed while re-scoring goes straight back to it: its epochs are over.
        let rescoring_started = self.records[self.trials_before..].iter().any(|r| r.rescore_of.is_some());
        if rescoring_started && self.epoch < lc.controller_epochs {
            observer.notice("re-scoring had started: it is finished, and no further epoch runs");
        }
        while self.epoch < lc.controller_epochs && !rescoring_started {
            if let Some(budget) = lc.time_budget
                && self.wall_before + t0.elapsed().as_secs_f64() >= budget.seconds()
            {
                observer.notice(&format!(
                    "stopping after {} trials: the time budget ({} s) is spent",
                    self.records.len(),
                    budget.seconds()
                ));
                break;
            }
            if let Some(budget) = lc.epoch_budget
                && epochs_spent(&self.records) >= budget
            {
                observer.notice(&format!(
                    "stopping after {} trials: the epoch budget ({budget} training epochs) is spent",
                    self.records.len()
                ));
                break;
            }
            let epoch = self.epoch;
            let first = self.trials_before;
            let bracket = self.scheduler.as_ref().map(|s| s.bracket(epoch, lc.samples_per_epoch));
            let wanted = bracket.as_ref().map_or(lc.samples_per_epoch, |b| b.candidates);
            let ctx = ControllerContext { space: self.space.as_ref(), tried: &tried, epoch };
            let proposals = match self.controller.propose(&ctx, wanted) {
                Ok(p) => p,
                Err(e @ ControllerError::Exhausted { .. }) if !self.records.is_empty() => {
                    observer.notice(&format!("stopping early: {e}"));
                    exhausted = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            if proposals.len() < wanted {
                observer.notice(&format!(
                    "only {} untried architecture(s) left in the space; this is the last epoch",
                    proposals.len()
                ));
                exhausted = true;
            }
            // Journaled trials of this epoch (when resuming) must be what the controller proposes.
            for (p, r) in proposals.iter().zip(&self.records[first..]) {
                if p.tokens != r.tokens {
                    return Err(SearchError::Io {
                        path: self.storage.location(),
                        message: format!(
                            "trial {} ({}) is not what the restored controller proposes; the run cannot be resumed exactly",
                            r.trial, r.architecture
                        ),
                    });
                }
            }
            let indexed: Vec<(usize, Proposal)> =
                proposals.into_iter().enumerate().map(|(i, p)| (first + i, p)).collect();
            match (self.queue.clone(), bracket) {
                (_, Some(bracket)) => self.epoch_bracketed(epoch, &indexed, &bracket, &mut tried, observer)?,
                (None, None) => self.epoch_locally(epoch, &indexed, &mut tried, observer)?,
                (Some(queue), None) => self.epoch_queued(queue.as_ref(), epoch, &indexed, &mut tried, observer)?,
            }
            let ctx = ControllerContext { space: self.space.as_ref(), tried: &tried, epoch };
            let report = self.controller.update(&ctx, &self.records[first..])?;
            let epoch_report = EpochReport::new(epoch, &self.records[first..], report.metrics);
            self.storage.append_epoch(&epoch_report)?;
            self.epoch += 1;
            self.trials_before = self.records.len();
            let state = self.controller.save_state()?;
            // A persistent store must hold every put before the checkpoint prunes `pending/`.
            if let Some(s) = self.store.as_mut() {
                s.flush()?;
            }
            let snapshot = match self.store.as_ref() {
                Some(s) => s.snapshot()?,
                None => None,
            };
            let wall = self.wall_before + t0.elapsed().as_secs_f64();
            let ck = mlpnas_core::Checkpoint {
                version: 1,
                epoch: self.epoch,
                trials: self.trials_before,
                wall_seconds: wall,
                controller: String::new(),
                store: None,
                controller_sha256: None,
                store_sha256: None,
                store_len: self.store.as_ref().filter(|_| snapshot.is_none()).map(|s| s.len()),
                store_id: self.store.as_ref().filter(|_| snapshot.is_none()).and_then(|s| s.identity()),
            };
            self.storage.write_checkpoint(&ck, &state, snapshot.as_deref())?;
            observer.spent(wall, epochs_spent(&self.records));
            if let Some(best) = top_n(&self.records, 1).first() {
                observer.epoch(&epoch_report, self.records.len(), best, t0.elapsed().as_secs_f64());
            }
            if exhausted {
                break;
            }
        }
        self.rescore(&mut tried, observer)?;
        let wall_seconds = self.wall_before + t0.elapsed().as_secs_f64();
        let best = top_n(&self.records, 1).first().map(|r| (*r).clone());
        self.storage.write_summary(&Summary {
            finished: true,
            trials: self.records.len(),
            exhausted,
            wall_seconds,
            best,
        })?;
        Ok(SearchSummary { records: self.records, location: self.storage.location(), exhausted, wall_seconds })
    }

    /// After the last controller epoch (`search.rescore_top`): the best candidates of the
    /// controller epochs trained again, `search.rescore_seeds` times each, from scratch (no
    /// shared weights) with their own trial seeds, journaled as re-evaluations after the last
    /// epoch's trials (a resumed run continues them). Controllers never see them; the top list
    /// ranks by the mean of every score ([`mlpnas_core::top_n`]).
    fn rescore(&mut self, tried: &mut HashSet<Vec<TokenId>>, observer: &mut dyn Observer) -> Result<(), SearchError> {
        let lc = self.cfg.search.clone();
        if lc.rescore_top == 0 {
            return Ok(());
        }
        let first = self.trials_before;
        let best: Vec<(usize, Vec<TokenId>)> = top_n(&self.records[..first], lc.rescore_top)
            .iter()
            .filter(|r| r.status == mlpnas_core::TrialStatus::Ok)
            .map(|r| (r.trial, r.tokens.clone()))
            .collect();
        let mut indexed: Vec<(usize, Proposal)> = Vec::new();
        let mut of = Vec::new();
        for (trial, tokens) in &best {
            for _ in 0..lc.rescore_seeds() {
                indexed.push((first + indexed.len(), Proposal { tokens: tokens.clone(), predicted: None }));
                of.push(*trial);
            }
        }
        // Re-evaluations journaled before (a resumed run) must be these.
        for ((_, p), (r, &o)) in indexed.iter().zip(self.records[first..].iter().zip(&of)) {
            if r.rescore_of != Some(o) || r.tokens != p.tokens {
                return Err(SearchError::Io {
                    path: self.storage.location(),
                    message: format!(
                        "trial {} is not the re-evaluation this run makes there; it cannot be resumed",
                        r.trial
                    ),
                });
            }
        }
        if indexed.is_empty() || self.records.len() >= first + indexed.len() {
            return Ok(());
        }
        observer.notice(&format!(
            "re-scoring the best {} candidate{} {} times each",
            best.len(),
            if best.len() == 1 { "" } else { "s" },
            lc.rescore_seeds()
        ));
        self.rescoring = Some(of);
        let epoch = self.epoch;
        let result = match self.queue.clone() {
            None => self.epoch_locally(epoch, &indexed, tried, observer),
            Some(queue) => self.epoch_queued(queue.as_ref(), epoch, &indexed, tried, observer),
        };
        self.rescoring = None;
        result
    }

    /// The commit targets of an epoch (everything but the trainer, which training borrows), in
    /// batches of `search.batch`, or of `batch` when given (a bracket is one batch).
    fn epoch_trials<'a>(
        &self,
        epoch: usize,
        indexed: &'a [(usize, Proposal)],
        batch: Option<usize>,
    ) -> Result<EpochTrials<'a>, SearchError> {
        // Past the last controller epoch: the re-evaluations of `search.rescore_top`.
        if let Some(of) = self.rescoring.clone() {
            return EpochTrials::new(
                epoch,
                indexed,
                self.space.as_ref(),
                (self.trainer.input_dim(), self.trainer.n_classes(), 1),
                self.records.len(),
                self.cfg.search.batch,
                None,
            )
            .map(|t| t.rewarded_by(self.objective, &self.cfg.search.objectives).rescoring(of));
        }
        EpochTrials::new(
            epoch,
            indexed,
            self.space.as_ref(),
            (self.trainer.input_dim(), self.trainer.n_classes(), self.cfg.search.resampling().evaluations()),
            self.records.len(),
            batch.unwrap_or(self.cfg.search.batch),
            self.store.as_deref(),
        )
        .map(|t| t.rewarded_by(self.objective, &self.cfg.search.objectives))
    }

    /// Trains one controller epoch's trials (`indexed`; the journaled ones are read back) through
    /// the run's queue, in waves: every trial that may start ([`EpochTrials::start_next`]) is
    /// submitted at once, so workers train a batch-1 run in parallel too; results are committed
    /// in trial order and their tasks retired.
    fn epoch_queued(
        &mut self,
        queue: &dyn TrialQueue,
        epoch: usize,
        indexed: &[(usize, Proposal)],
        tried: &mut HashSet<Vec<TokenId>>,
        observer: &mut dyn Observer,
    ) -> Result<(), SearchError> {
        let mut trials = self.epoch_trials(epoch, indexed, None)?;
        let run = self.storage.run_name();
        loop {
            let sinks = Sinks {
                storage: self.storage.as_mut(),
                records: &mut self.records,
                store: self.store.as_mut(),
                tried: &mut *tried,
                observer: &mut *observer,
            };
            let committed = trials.commit_ready(sinks)?;
            if !committed.is_empty() {
                queue.retire(&run, &committed)?;
            }
            if trials.done() {
                return Ok(());
            }
            let mut wave = Vec::new();
            let store = self.store.as_deref();
            while let Some(started) = trials.start_next(store)? {
                wave.push(started);
            }
            if wave.is_empty() {
                return Err(SearchError::Io {
                    path: self.storage.location(),
                    message: "no trial of the epoch can start (a bug: please report it)".into(),
                });
            }
            let jobs: Vec<QueuedJob<'_>> = wave
                .iter()
                .map(|(pos, init)| {
                    let (index, tokens) = trials.trial(*pos);
                    (index, tokens, &init[..])
                })
                .collect();
            let queued = Queued::new(
                queue,
                self.storage.as_ref(),
                &self.cfg,
                self.trainer.as_ref(),
                self.space.as_ref(),
                self.threads,
            );
            let outcomes = queued.train(&jobs, observer)?;
            for ((pos, init), trained) in wave.into_iter().zip(outcomes) {
                trials.finish(pos, trained, init);
            }
        }
    }

    /// Trains one controller epoch's trials (`indexed`; the journaled ones are read back) rung by
    /// rung under the run's scheduler ([`crate::bracket`]), on this process's threads or through
    /// the run's queue, then commits them in trial order.
    fn epoch_bracketed(
        &mut self,
        epoch: usize,
        indexed: &[(usize, Proposal)],
        bracket: &Bracket,
        tried: &mut HashSet<Vec<TokenId>>,
        observer: &mut dyn Observer,
    ) -> Result<(), SearchError> {
        let mut trials = self.epoch_trials(epoch, indexed, Some(indexed.len()))?;
        let Some(scheduler) = self.scheduler.clone() else { return Ok(()) };
        let first = indexed.first().map_or(self.records.len(), |(i, _)| *i).min(self.records.len());
        let queue = self.queue.clone();
        let queued = queue.as_deref().map(|q| {
            Queued::new(q, self.storage.as_ref(), &self.cfg, self.trainer.as_ref(), self.space.as_ref(), self.threads)
        });
        let setup = BracketSetup {
            trainer: self.trainer.as_ref(),
            scheduler: scheduler.as_ref(),
            seed: self.cfg.seed,
            objective: &self.objective,
            training: match &queued {
                Some(q) => RungTraining::Queue(q),
                None => RungTraining::Threads(self.threads.max(1)),
            },
            history: &self.records[..first],
            journaled: &self.records[first..],
        };
        let ran = run_bracket(&setup, bracket, &mut trials, self.store.as_deref(), observer)?;
        let sinks = Sinks {
            storage: self.storage.as_mut(),
            records: &mut self.records,
            store: self.store.as_mut(),
            tried: &mut *tried,
            observer: &mut *observer,
        };
        let committed = trials.commit_ready(sinks)?;
        if let Some(queued) = &queued {
            queued.retire(&committed)?;
        }
        if !trials.done() {
            return Err(SearchError::Io {
                path: self.storage.location(),
                message: "a trial of the bracket was not trained (a bug: please report it)".into(),
            });
        }
        observer.notice(&ran.text());
        Ok(())
    }

    /// Trains one controller epoch's trials (`indexed`; the journaled ones are read back) on this
    /// process's threads: a trial starts as soon as the store holds what it would read in order
    /// ([`EpochTrials::start_next`]), and results are committed in trial order.
    fn epoch_locally(
        &mut self,
        epoch: usize,
        indexed: &[(usize, Proposal)],
        tried: &mut HashSet<Vec<TokenId>>,
        observer: &mut dyn Observer,
    ) -> Result<(), SearchError> {
        let mut trials = self.epoch_trials(epoch, indexed, None)?;
        let threads = self.threads.max(1).min(trials.to_train());
        let (seed, location) = (self.cfg.seed, self.storage.location());
        let trainer = self.trainer.as_ref();
        let lost = || SearchError::Io { path: location.clone(), message: "the training threads ended early".into() };
        let (job_tx, job_rx) = mpsc::channel::<(usize, usize, Candidate, Vec<Option<LayerWeights>>)>();
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::scope(|scope| -> Result<(), SearchError> {
            // Owned here: however this closure ends, the job channel closes and the threads end.
            let job_tx = job_tx;
            for _ in 0..threads {
                let (job_rx, done_tx) = (&job_rx, done_tx.clone());
                scope.spawn(move || {
                    while let Ok(Ok((pos, index, candidate, init))) = job_rx.lock().map(|rx| rx.recv()) {
                        let trained = train_guarded(trainer, seed, index, &candidate, &init);
                        if done_tx.send((pos, trained, init)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            let mut running = 0;
            loop {
                let sinks = Sinks {
                    storage: self.storage.as_mut(),
                    records: &mut self.records,
                    store: self.store.as_mut(),
                    tried: &mut *tried,
                    observer: &mut *observer,
                };
                trials.commit_ready(sinks)?;
                if trials.done() {
                    return Ok(());
                }
                while running < threads {
                    let store = self.store.as_deref();
                    let Some((pos, init)) = trials.start_next(store)? else { break };
                    let (index, _) = trials.trial(pos);
                    job_tx.send((pos, index, trials.candidate(pos).clone(), init)).map_err(|_| lost())?;
                    running += 1;
                }
                let (pos, trained, init) = done_rx.recv().map_err(|_| lost())?;
                running -= 1;
                trials.finish(pos, trained, init);
            }
        })
    }
}

/// Training epochs the trials of `records` spent (`search.epoch_budget`):
/// [`TrialRecord::epochs_spent`] summed.
pub fn epochs_spent(records: &[TrialRecord]) -> usize {
    records.iter().map(TrialRecord::epochs_spent).sum()
}

/// Trials the run plans: `search.samples_per_epoch` per controller epoch, or what the scheduler's
/// brackets ask for.
fn planned(cfg: &CheckedConfig, scheduler: Option<&dyn Scheduler>) -> usize {
    let lc = &cfg.search;
    match scheduler {
        None => lc.planned(),
        Some(s) => (0..lc.controller_epochs).map(|e| s.bracket(e, lc.samples_per_epoch).candidates).sum(),
    }
}

/// Checks, before a run is created, what only the built trainer can tell of the config: the
/// `[scheduler]`'s epochs against a full trial's and (`queued`: a run in PostgreSQL) whether the
/// trainer's continuations can travel to workers; whether it records the `seconds` a
/// `search.objectives` asks for. A refusal leaves nothing behind.
pub fn check_run(cfg: &CheckedConfig, data: &Prepared, queued: bool) -> Result<(), SearchError> {
    let seconds = cfg.search.objectives.contains(&mlpnas_core::Criterion::Seconds);
    if cfg.scheduler.full_trials_only() && !seconds {
        return Ok(());
    }
    let trainer = crate::resampled::build_trainer(cfg, Arc::clone(&data.split), &data.objective)?;
    build_scheduler(cfg, trainer.as_ref(), queued)?;
    if seconds {
        trainer.records_seconds().map_err(|e| SearchError::Config {
            path: cfg.origin.clone(),
            source: mlpnas_core::ConfigError::new("search.objectives", format!("\"seconds\": {e}")),
        })?;
    }
    Ok(())
}

/// The run's multi-fidelity scheduler, built for the trainer's full epochs; `None` for `type =
/// "full"`. A trainer that cannot train in rungs, and a run trained through a queue, are refused.
fn build_scheduler(
    cfg: &CheckedConfig,
    trainer: &dyn ArchitectureTrainer,
    queued: bool,
) -> Result<Option<Arc<dyn Scheduler>>, SearchError> {
    if cfg.scheduler.full_trials_only() {
        return Ok(None);
    }
    let err = |message: String| SearchError::Config {
        path: cfg.origin.clone(),
        source: mlpnas_core::ConfigError::new("scheduler.type", message),
    };
    let full = trainer.fidelity().map_err(|e| err(format!("the trainer cannot train in rungs: {e}")))?;
    if queued {
        // A promoted trial may continue on another worker than its last rung's.
        trainer.continuations_travel().map_err(|e| err(format!("workers cannot train this run's rungs: {e}")))?;
    }
    let scheduler = cfg
        .scheduler
        .build(full)
        .map_err(|e| SearchError::Config { path: cfg.origin.clone(), source: e.within("scheduler") })?;
    Ok(Some(Arc::from(scheduler)))
}

/// Trains one architecture given as text (`64:relu,dropout,32:elu`) with the config's data and
/// trainer, without a weight store; returns the parsed architecture and its outcome.
pub fn evaluate(
    cfg: &CheckedConfig,
    data: &Prepared,
    text: &str,
) -> Result<(Architecture, TrainOutcome, f64), SearchError> {
    let trainer = crate::resampled::build_trainer(cfg, Arc::clone(&data.split), &data.objective)?;
    let arch = Architecture::parse(text, trainer.input_dim(), trainer.n_classes(), cfg.mlp_space()?.dropout_rate())?;
    let params = arch.param_count() as u64;
    mlpnas_core::memory::check_fits(
        mlpnas_core::memory::training_bytes(params),
        &format!("{text} ({params} parameters)"),
    )
    .map_err(|m| SearchError::Io { path: "--arch".into(), message: m })?;
    let t0 = Instant::now();
    let outcome = trainer.train(&arch, &[], derive(cfg.seed, "trial", 0))?;
    Ok((arch, outcome, t0.elapsed().as_secs_f64()))
}
