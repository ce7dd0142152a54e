//! The search loop and single-architecture evaluation.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, Controller, ControllerContext, ControllerError, DataSplit, LayerWeights,
    MlpSpace, Proposal, SearchSpace, TokenId, TrainOutcome, TrialRecord, TrialStatus, WeightStore,
};

use crate::config::SearchConfig;
use crate::error::SearchError;
use crate::journal::{Journal, top_n};

/// Hooks for progress display; every method has a no-op default.
pub trait Observer {
    /// The search starts with this many trials planned.
    fn start(&mut self, _planned: usize) {}
    /// A trial finished; `best` is the best so far (this one included).
    fn trial(&mut self, _record: &TrialRecord, _best: &TrialRecord) {}
    /// A notice worth showing (e.g. the space is exhausted).
    fn notice(&mut self, _message: &str) {}
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
    /// Every trial in order.
    pub records: Vec<TrialRecord>,
    /// The run directory.
    pub run_dir: PathBuf,
    /// Whether it ended early because the space ran out of untried architectures.
    pub exhausted: bool,
}

impl SearchSummary {
    /// The `n` best trials.
    pub fn top(&self, n: usize) -> Vec<&TrialRecord> {
        top_n(&self.records, n)
    }
}

/// A search being run: the components built from a config, and its history.
pub struct Search {
    cfg: SearchConfig,
    space: MlpSpace,
    controller: Box<dyn Controller>,
    trainer: Box<dyn ArchitectureTrainer>,
    store: Option<Box<dyn WeightStore>>,
    journal: Journal,
    run_dir: PathBuf,
    tried: HashSet<Vec<TokenId>>,
    records: Vec<TrialRecord>,
}

impl Search {
    /// Builds every component and creates the run directory `run_dir` with the resolved config;
    /// refuses a directory that already holds a journal.
    pub fn new(cfg: SearchConfig, data: &Prepared, run_dir: &Path) -> Result<Self, SearchError> {
        let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
        let controller = cfg.controller.build(&space, derive(cfg.seed, "controller", 0))?;
        let trainer = cfg.trainer.build(Arc::clone(&data.split))?;
        std::fs::create_dir_all(run_dir).map_err(|e| SearchError::io(run_dir, e))?;
        let journal_path = run_dir.join("journal.jsonl");
        if journal_path.exists() {
            return Err(SearchError::io(
                &journal_path,
                "this run directory already holds a search; choose another --out",
            ));
        }
        let store = match (&cfg.store, cfg.search.one_shot) {
            (Some(s), true) => Some(s.build(run_dir)?),
            _ => None,
        };
        let resolved = cfg.to_toml().map_err(|e| SearchError::io(&run_dir.join("config.toml"), e))?;
        let cfg_path = run_dir.join("config.toml");
        std::fs::write(&cfg_path, resolved).map_err(|e| SearchError::io(&cfg_path, e))?;
        let journal = Journal::create(&journal_path)?;
        Ok(Self {
            cfg,
            space,
            controller,
            trainer,
            store,
            journal,
            run_dir: run_dir.to_path_buf(),
            tried: HashSet::new(),
            records: Vec::new(),
        })
    }

    /// Runs every controller epoch, journaling each trial; ends early (with a notice) if the space
    /// runs out of untried architectures.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<SearchSummary, SearchError> {
        let lc = self.cfg.search.clone();
        observer.start(lc.controller_epochs * lc.samples_per_epoch);
        let mut exhausted = false;
        for epoch in 0..lc.controller_epochs {
            let ctx = ControllerContext { space: &self.space, tried: &self.tried, epoch };
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
            let first = self.records.len();
            for p in proposals {
                let rec = self.trial(epoch, p)?;
                self.journal.append(&rec)?;
                self.tried.insert(rec.tokens.clone());
                self.records.push(rec);
                let best = top_n(&self.records, 1)[0];
                observer.trial(&self.records[self.records.len() - 1], best);
            }
            let ctx = ControllerContext { space: &self.space, tried: &self.tried, epoch };
            self.controller.update(&ctx, &self.records[first..])?;
            if exhausted {
                break;
            }
        }
        if let Some(s) = self.store.as_mut() {
            s.flush()?;
        }
        Ok(SearchSummary { records: self.records, run_dir: self.run_dir, exhausted })
    }

    /// Trains one proposal with shared weights in, and its weights back out.
    fn trial(&mut self, epoch: usize, p: Proposal) -> Result<TrialRecord, SearchError> {
        let index = self.records.len();
        let split_dims = (self.trainer.input_dim(), self.trainer.n_classes());
        let arch = self.space.decode(&p.tokens, split_dims.0, split_dims.1)?;
        let keys = arch.bigram_keys();
        let shapes = arch.dense_shapes();
        let mut init: Vec<Option<LayerWeights>> = Vec::with_capacity(keys.len());
        for (k, &(i, o, _)) in keys.iter().zip(&shapes) {
            let w = match self.store.as_ref() {
                Some(s) => s.get(k)?.filter(|w| w.fits(i, o)),
                None => None,
            };
            init.push(w);
        }
        let transfers = init.iter().filter(|w| w.is_some()).count();
        let t0 = Instant::now();
        let outcome = self.trainer.train(&arch, &init, derive(self.cfg.seed, "trial", index as u64))?;
        let seconds = t0.elapsed().as_secs_f64();
        if let Some(s) = self.store.as_mut()
            && !outcome.diverged
        {
            for (k, w) in keys.into_iter().zip(outcome.weights.iter().cloned()) {
                s.put(k, w)?;
            }
        }
        Ok(record(index, epoch, p, &arch, &outcome, transfers, seconds))
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
