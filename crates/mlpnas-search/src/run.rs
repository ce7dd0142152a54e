//! The search loop and single-architecture evaluation.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, BigramKey, Controller, ControllerContext, ControllerError, DataSplit,
    EpochReport, LayerWeights, MlpSpace, Proposal, SearchSpace, TokenId, TrainOutcome, TrainerError, TrialRecord,
    TrialStatus, WeightStore,
};

use crate::config::SearchConfig;
use crate::error::SearchError;
use crate::journal::{Journal, top_n};
use crate::rundir::{CONFIG, JOURNAL, RunDir, SUMMARY, SummaryFile, atomic_write};

/// Hooks for progress display; every method has a no-op default.
pub trait Observer {
    /// The search starts with this many trials planned.
    fn start(&mut self, _planned: usize) {}
    /// A trial finished; `best` is the best so far (this one included).
    fn trial(&mut self, _record: &TrialRecord, _best: &TrialRecord) {}
    /// A notice worth showing (e.g. the space is exhausted, or a resumed search's warnings).
    fn notice(&mut self, _message: &str) {}
    /// Something the user must see even when progress is hidden (e.g. a dropped journal line).
    fn warning(&mut self, message: &str) {
        self.notice(message);
    }
}

impl Observer for () {}

/// Loaded, split and standardized data, ready for a trainer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The fixed split.
    pub split: Arc<DataSplit>,
    /// Standardization fitted on the training part, if on.
    pub standardizer: Option<mlpnas_data::Standardizer>,
}

/// Loads the config's data and splits it with the config's seed.
pub fn prepare_data(cfg: &SearchConfig) -> Result<Prepared, SearchError> {
    let data = mlpnas_data::load(&cfg.data, &cfg.base_dir)?;
    let p = mlpnas_data::prepare(&cfg.data, data, derive(cfg.seed, "split", 0))?;
    Ok(Prepared { split: Arc::new(p.split), standardizer: p.standardizer })
}

/// What a finished search returns.
#[derive(Debug)]
pub struct SearchSummary {
    /// Every trial in order (those of earlier sessions too, when resumed).
    pub records: Vec<TrialRecord>,
    /// The run directory.
    pub run_dir: PathBuf,
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

/// A search being run: the components built from a config, and its history.
///
/// Crash safety: a trial is committed by its journal line (synced); its store puts are written
/// to `pending/` before that line and applied to the store after its batch; at each
/// controller-epoch boundary the controller state and (for in-memory stores) a store snapshot
/// are checkpointed. [`Search::resume`] restores the last checkpoint and replays the epoch from
/// there: the controller proposes the same batch again, journaled trials are taken from the
/// journal and `pending/` instead of being trained, so a search killed at any instant and resumed
/// ends with the journal of an uninterrupted one.
pub struct Search {
    cfg: SearchConfig,
    space: MlpSpace,
    controller: Box<dyn Controller>,
    trainer: Box<dyn ArchitectureTrainer>,
    store: Option<Box<dyn WeightStore>>,
    journal: Journal,
    dir: RunDir,
    run_dir: PathBuf,
    records: Vec<TrialRecord>,
    /// Where the controller and store stand: start of this epoch, with this many trials before it.
    epoch: usize,
    trials_before: usize,
    wall_before: f64,
    notices: Vec<String>,
}

/// One trial's result before it is committed.
struct Done {
    record: TrialRecord,
    puts: Vec<(BigramKey, LayerWeights)>,
}

impl Search {
    /// Builds every component and creates the run directory `run_dir` with the resolved config;
    /// refuses a directory that already holds a journal.
    pub fn new(cfg: SearchConfig, data: &Prepared, run_dir: &Path) -> Result<Self, SearchError> {
        let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
        let controller = cfg.controller.build(&space, derive(cfg.seed, "controller", 0))?;
        let trainer = cfg.trainer.build(Arc::clone(&data.split))?;
        std::fs::create_dir_all(run_dir).map_err(|e| SearchError::io(run_dir, e))?;
        let journal_path = run_dir.join(JOURNAL);
        if journal_path.exists() {
            return Err(SearchError::io(
                &journal_path,
                "this run directory already holds a search; choose another --out, or continue it with --resume",
            ));
        }
        let store = match (&cfg.store, cfg.search.one_shot) {
            (Some(s), true) => Some(s.build(run_dir)?),
            _ => None,
        };
        let dir = RunDir::new(run_dir);
        dir.create_dirs()?;
        let resolved = cfg.to_toml().map_err(|e| SearchError::io(&dir.path(CONFIG), e))?;
        atomic_write(&dir.path(CONFIG), resolved.as_bytes())?;
        let journal = Journal::create(&journal_path)?;
        Ok(Self {
            cfg,
            space,
            controller,
            trainer,
            store,
            journal,
            dir,
            run_dir: run_dir.to_path_buf(),
            records: Vec::new(),
            epoch: 0,
            trials_before: 0,
            wall_before: 0.0,
            notices: Vec::new(),
        })
    }

    /// Reopens the interrupted search in `run_dir` (its config as loaded by
    /// [`crate::config::resume_config`]): loads the journal (dropping a half-written last line),
    /// the last checkpoint's controller state and store snapshot. `changed` rewrites the run's
    /// config.toml with `cfg`.
    pub fn resume(cfg: SearchConfig, data: &Prepared, run_dir: &Path, changed: bool) -> Result<Self, SearchError> {
        let dir = RunDir::new(run_dir);
        let journal_path = dir.path(JOURNAL);
        if !journal_path.exists() {
            return Err(SearchError::io(&journal_path, "no journal here: nothing to resume"));
        }
        if let Some(s) = dir.read_summary()?
            && s.finished
            && cfg.search.controller_epochs * cfg.search.samples_per_epoch <= s.trials
        {
            return Err(SearchError::io(
                &dir.path(SUMMARY),
                format!(
                    "this search already finished ({} trials); raise the budget to continue it, e.g. --set search.controller_epochs={}",
                    s.trials,
                    cfg.search.controller_epochs + 10
                ),
            ));
        }
        let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
        let mut controller = cfg.controller.build(&space, derive(cfg.seed, "controller", 0))?;
        let trainer = cfg.trainer.build(Arc::clone(&data.split))?;
        let mut store = match (&cfg.store, cfg.search.one_shot) {
            (Some(s), true) => Some(s.build(run_dir)?),
            _ => None,
        };
        dir.create_dirs()?;
        let (journal, records, notices) = Journal::resume(&journal_path)?;
        let (epoch, trials_before, wall_before) = match dir.read_checkpoint()? {
            Some((ck, state, snapshot)) => {
                controller.load_state(&state)?;
                if let (Some(s), Some(bytes)) = (store.as_mut(), snapshot) {
                    s.restore(&bytes)?;
                }
                (ck.epoch, ck.trials, ck.wall_seconds)
            }
            None => (0, 0, 0.0),
        };
        if records.len() < trials_before {
            return Err(SearchError::io(
                &journal_path,
                format!(
                    "holds {} trials but the checkpoint covers {trials_before}; the run directory is damaged",
                    records.len()
                ),
            ));
        }
        if records.iter().enumerate().any(|(i, r)| r.trial != i) {
            return Err(SearchError::io(
                &journal_path,
                "trial numbers are not consecutive; the run directory is damaged",
            ));
        }
        dir.keep_epochs_before(epoch)?;
        if changed {
            let resolved = cfg.to_toml().map_err(|e| SearchError::io(&dir.path(CONFIG), e))?;
            atomic_write(&dir.path(CONFIG), resolved.as_bytes())?;
        }
        if dir.path(SUMMARY).exists() {
            std::fs::remove_file(dir.path(SUMMARY)).map_err(|e| SearchError::io(&dir.path(SUMMARY), e))?;
        }
        Ok(Self {
            cfg,
            space,
            controller,
            trainer,
            store,
            journal,
            dir,
            run_dir: run_dir.to_path_buf(),
            records,
            epoch,
            trials_before,
            wall_before,
            notices,
        })
    }

    /// Trials already journaled (from an earlier session, when resumed).
    pub fn done(&self) -> usize {
        self.records.len()
    }

    /// The config it runs.
    pub fn config(&self) -> &SearchConfig {
        &self.cfg
    }

    /// Runs every controller epoch, journaling each trial; ends early (with a notice) if the space
    /// runs out of untried architectures.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<SearchSummary, SearchError> {
        let t0 = Instant::now();
        let lc = self.cfg.search.clone();
        observer.start(lc.controller_epochs * lc.samples_per_epoch);
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
        while self.epoch < lc.controller_epochs {
            let epoch = self.epoch;
            let first = self.trials_before;
            let ctx = ControllerContext { space: &self.space, tried: &tried, epoch };
            let proposals = match self.controller.propose(&ctx, lc.samples_per_epoch) {
                Ok(p) => p,
                Err(e @ ControllerError::Exhausted { .. }) if !self.records.is_empty() => {
                    observer.notice(&format!("stopping early: {e}"));
                    exhausted = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            if proposals.len() < lc.samples_per_epoch {
                observer.notice(&format!(
                    "only {} untried architecture(s) left in the space; this is the last epoch",
                    proposals.len()
                ));
                exhausted = true;
            }
            // Journaled trials of this epoch (when resuming) must be what the controller proposes.
            for (p, r) in proposals.iter().zip(&self.records[first..]) {
                if p.tokens != r.tokens {
                    return Err(SearchError::io(
                        &self.dir.path(JOURNAL),
                        format!(
                            "trial {} ({}) is not what the restored controller proposes; the run cannot be resumed exactly",
                            r.trial, r.architecture
                        ),
                    ));
                }
            }
            let indexed: Vec<(usize, Proposal)> =
                proposals.into_iter().enumerate().map(|(i, p)| (first + i, p)).collect();
            for chunk in indexed.chunks(lc.workers) {
                let dones = self.batch(epoch, chunk)?;
                for d in &dones {
                    tried.insert(d.record.tokens.clone());
                    let best = top_n(&self.records, 1)[0];
                    observer.trial(&self.records[d.record.trial], best);
                }
                // Store writes after the batch, in trial order. They are made durable at the
                // epoch's checkpoint, not here: until then `pending/` holds them for a resume.
                if let Some(s) = self.store.as_mut() {
                    for d in dones {
                        for (k, w) in d.puts {
                            s.put(k, w)?;
                        }
                    }
                }
            }
            let ctx = ControllerContext { space: &self.space, tried: &tried, epoch };
            let report = self.controller.update(&ctx, &self.records[first..])?;
            self.dir.append_epoch(&EpochReport::new(epoch, &self.records[first..], report.metrics))?;
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
            self.dir.write_checkpoint(self.epoch, self.trials_before, wall, &state, snapshot.as_deref())?;
            if exhausted {
                break;
            }
        }
        let wall_seconds = self.wall_before + t0.elapsed().as_secs_f64();
        let best = top_n(&self.records, 1).first().map(|r| (*r).clone());
        self.dir.write_summary(&SummaryFile {
            finished: true,
            trials: self.records.len(),
            exhausted,
            wall_seconds,
            best,
        })?;
        Ok(SearchSummary { records: self.records, run_dir: self.run_dir, exhausted, wall_seconds })
    }

    /// Runs one batch of trials (the journaled ones are read back instead of trained), commits
    /// the new ones in trial order and returns every trial's result with its store puts.
    fn batch(&mut self, epoch: usize, chunk: &[(usize, Proposal)]) -> Result<Vec<Done>, SearchError> {
        let (input_dim, n_classes) = (self.trainer.input_dim(), self.trainer.n_classes());
        // Plan every new trial against the store as it is now (the batch's start).
        let mut jobs = Vec::new();
        for (index, p) in chunk {
            if *index < self.records.len() {
                continue;
            }
            let arch = self.space.decode(&p.tokens, input_dim, n_classes)?;
            let keys = arch.bigram_keys();
            let mut init: Vec<Option<LayerWeights>> = Vec::with_capacity(keys.len());
            for (k, &(i, o, _)) in keys.iter().zip(&arch.dense_shapes()) {
                let w = match self.store.as_ref() {
                    Some(s) => s.get(k)?.filter(|w| w.fits(i, o)),
                    None => None,
                };
                init.push(w);
            }
            jobs.push((*index, p.clone(), arch, keys, init));
        }
        let seed = self.cfg.seed;
        let trainer: &dyn ArchitectureTrainer = self.trainer.as_ref();
        let train =
            |(index, _, arch, _, init): &(usize, Proposal, Architecture, Vec<BigramKey>, Vec<Option<LayerWeights>>)| {
                let t0 = Instant::now();
                let o = trainer.train(arch, init, derive(seed, "trial", *index as u64));
                (o, t0.elapsed().as_secs_f64())
            };
        let outcomes: Vec<(Result<TrainOutcome, TrainerError>, f64)> = if jobs.len() <= 1 {
            jobs.iter().map(train).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = jobs.iter().map(|j| s.spawn(move || train(j))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| (Err(TrainerError::Other("a worker thread panicked".into())), 0.0))
                    })
                    .collect()
            })
        };
        let mut new = jobs.into_iter().zip(outcomes);
        let mut dones = Vec::with_capacity(chunk.len());
        for (index, p) in chunk {
            if *index < self.records.len() {
                let record = self.records[*index].clone();
                let puts = if self.store.is_some() { self.dir.read_pending(*index)? } else { Vec::new() };
                dones.push(Done { record, puts });
                continue;
            }
            let Some(((_, _, arch, keys, init), (outcome, seconds))) = new.next() else {
                return Err(SearchError::Io {
                    path: self.run_dir.display().to_string(),
                    message: format!("trial {index} was not run"),
                });
            };
            let outcome = outcome?;
            let transfers = init.iter().filter(|w| w.is_some()).count();
            let puts: Vec<(BigramKey, LayerWeights)> = if self.store.is_some() && !outcome.diverged {
                keys.into_iter().zip(outcome.weights.iter().cloned()).collect()
            } else {
                Vec::new()
            };
            let record = record(*index, epoch, p.clone(), &arch, &outcome, transfers, seconds);
            if self.store.is_some() {
                self.dir.write_pending(*index, &puts)?;
            }
            self.journal.append(&record)?;
            self.records.push(record.clone());
            dones.push(Done { record, puts });
        }
        Ok(dones)
    }
}

fn record(
    trial: usize,
    epoch: usize,
    p: Proposal,
    arch: &Architecture,
    o: &TrainOutcome,
    transfers: usize,
    seconds: f64,
) -> TrialRecord {
    TrialRecord {
        trial,
        epoch,
        architecture: arch.to_string(),
        tokens: p.tokens,
        reward: o.reward(),
        val_acc_last: o.val_acc_last(),
        predicted: p.predicted,
        transfers,
        params: arch.param_count(),
        seconds,
        status: if o.diverged { TrialStatus::Diverged } else { TrialStatus::Ok },
        epochs: o.epochs.clone(),
    }
}

/// Trains one architecture given as text (`64:relu,dropout,32:elu`) with the config's data and
/// trainer, without a weight store; returns the parsed architecture and its outcome.
pub fn evaluate(
    cfg: &SearchConfig,
    data: &Prepared,
    text: &str,
) -> Result<(Architecture, TrainOutcome, f64), SearchError> {
    let trainer = cfg.trainer.build(Arc::clone(&data.split))?;
    let arch = Architecture::parse(text, trainer.input_dim(), trainer.n_classes(), cfg.space.dropout)?;
    let t0 = Instant::now();
    let outcome = trainer.train(&arch, &[], derive(cfg.seed, "trial", 0))?;
    Ok((arch, outcome, t0.elapsed().as_secs_f64()))
}
