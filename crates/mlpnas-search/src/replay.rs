//! [`replay`]: trains a journaled trial again exactly as its search did (same split, trial seed
//! and starting weights) and returns both records, so that `mlpnas eval --run DIR --trial N` can
//! check that the journal's reward is reproducible.
//!
//! A trial that started from fresh weights (no layer transferred from the weight store) is
//! trained alone. A one-shot trial started from weights that later trials overwrote in the
//! store, and the store keeps only the latest weights of a bigram: its starting point exists
//! only by training the run again, so the search is run again from its first trial to the end of
//! the trial's controller epoch, in a temporary run directory (removed afterwards). Searches are
//! deterministic (the same config gives the same journal), so that run's trial is the trial.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlpnas_core::{Proposal, TrialRecord};
use mlpnas_runs::RunDir;

use crate::error::SearchError;
use crate::observer::Observer;
use crate::prepare::Prepared;
use crate::run::Run;
use crate::search::Search;
use crate::training::{record, train_timed};

/// A trial as journaled and as trained again.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The journal's record.
    pub journaled: TrialRecord,
    /// The record of the same trial trained again.
    pub replayed: TrialRecord,
    /// Trials trained to get there (1, or the whole search up to the trial's epoch's end).
    pub trained: usize,
}

impl Replayed {
    /// Whether the replay gave the journal's numbers: reward, last validation accuracy and every
    /// epoch's metrics, bit for bit (wall times aside).
    pub fn matches(&self) -> bool {
        let (a, b) = (&self.journaled, &self.replayed);
        a.reward.to_bits() == b.reward.to_bits()
            && a.val_acc_last.to_bits() == b.val_acc_last.to_bits()
            && a.epochs == b.epochs
            && a.architecture == b.architecture
            && a.transfers == b.transfers
    }
}

/// Trains trial `trial` of `run` (opened for reading) again on `data` (prepared from the run's
/// config). `observer` follows the search run again, when there is one; `scratch` is where its
/// temporary run directory goes (e.g. the system's temporary directory).
pub fn replay(
    run: Run,
    data: &Prepared,
    trial: usize,
    scratch: &Path,
    observer: &mut dyn Observer,
) -> Result<Replayed, SearchError> {
    let location = run.location();
    let Some(journaled) = run.records().get(trial).cloned() else {
        return Err(SearchError::Io {
            path: location,
            message: format!(
                "has no trial {trial} (its trials are 0..={})",
                run.records().len().checked_sub(1).map_or("none".into(), |l| l.to_string())
            ),
        });
    };
    let cfg = run.into_config();
    if journaled.transfers == 0 {
        let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
        let trainer = crate::resampled::build_trainer(&cfg, Arc::clone(&data.split), &data.objective)?;
        let candidate = space.candidate(&journaled.tokens, trainer.input_dim(), trainer.n_classes())?;
        let (outcome, seconds) = train_timed(trainer.as_ref(), cfg.seed, trial, &candidate, &[]);
        let proposal = Proposal { tokens: journaled.tokens.clone(), predicted: journaled.predicted };
        let replayed = record(trial, journaled.epoch, proposal, &candidate, (&outcome?, seconds), 0, &data.objective);
        return Ok(Replayed { journaled, replayed, trained: 1 });
    }
    // The search again, up to the end of the trial's controller epoch.
    let mut again = cfg.into_unchecked();
    again.search.controller_epochs = journaled.epoch + 1;
    let again = again.check()?;
    let dir = scratch_dir(scratch, trial);
    let _ = std::fs::remove_dir_all(&dir);
    let result = Run::create(Box::new(RunDir::new(&dir)), again)
        .and_then(|run| Search::new(run, data))
        .and_then(|search| search.run(observer));
    let _ = std::fs::remove_dir_all(&dir);
    let records = result?.records;
    let trained = records.len();
    let replayed = records.into_iter().nth(trial).ok_or_else(|| SearchError::Io {
        path: location,
        message: format!("the search run again ended before trial {trial} ({trained} trials)"),
    })?;
    Ok(Replayed { journaled, replayed, trained })
}

/// A fresh temporary run directory for the replay of `trial`.
fn scratch_dir(scratch: &Path, trial: usize) -> PathBuf {
    scratch.join(format!("mlpnas-replay-{}-{trial}", std::process::id()))
}
