//! The run storage extension point: where a run's state lives.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::arch::BigramKey;
use crate::error::StorageError;
use crate::tensor::LayerWeights;
use crate::trial::{EpochReport, TrialRecord};

/// Where a checkpoint stands: the state at the start of controller epoch `epoch`, when `trials`
/// trials were journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The next controller epoch.
    pub epoch: usize,
    /// Trials journaled before it.
    pub trials: usize,
    /// Wall time of the search so far.
    pub wall_seconds: f64,
    /// Name of the controller's state (a file of the checkpoint, for a run directory).
    pub controller: String,
    /// Name of the store's snapshot, for stores that take one.
    pub store: Option<String>,
    /// SHA-256 of the controller state, checked on read ([`Checkpoint::verify`]); absent in
    /// checkpoints written before checksums (trusted as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_sha256: Option<String>,
    /// SHA-256 of the store snapshot, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_sha256: Option<String>,
    /// Bigrams a store that keeps its own files (no snapshot) held at the checkpoint: a resume
    /// refuses such a store holding fewer (deleted, emptied or replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_len: Option<usize>,
    /// [`WeightStore::identity`](crate::WeightStore::identity) of that store at the checkpoint:
    /// a resume refuses a store with another identity (copied from another run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
}

impl Checkpoint {
    /// This checkpoint with the checksums of the `controller` state and `store` snapshot it is
    /// written with (every storage seals what it writes).
    pub fn sealed(mut self, controller: &[u8], store: Option<&[u8]>) -> Self {
        self.controller_sha256 = Some(crate::digest::sha256_hex(controller));
        self.store_sha256 = store.map(crate::digest::sha256_hex);
        self
    }

    /// Checks the `controller` state and `store` snapshot read back against the checksums this
    /// checkpoint carries; a checkpoint without them (written before checksums) is trusted.
    /// The error says which part does not match, one line.
    pub fn verify(&self, controller: &[u8], store: Option<&[u8]>) -> Result<(), String> {
        let altered = |what: &str| {
            format!(
                "the checkpoint's {what} does not match its checksum (altered or damaged); the run cannot be resumed exactly"
            )
        };
        if self.controller_sha256.as_deref().is_some_and(|d| d != crate::digest::sha256_hex(controller)) {
            return Err(altered("controller state"));
        }
        match (self.store_sha256.as_deref(), store) {
            (Some(d), Some(bytes)) if d != crate::digest::sha256_hex(bytes) => Err(altered("store snapshot")),
            (Some(_), None) => Err("the checkpoint's store snapshot is missing".into()),
            _ => Ok(()),
        }
    }
}

/// A checkpoint with its controller state and, for in-memory stores, the store snapshot.
pub type CheckpointState = (Checkpoint, Vec<u8>, Option<Vec<u8>>);

/// The end of a finished search (`summary.json` of a run directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always true (a summary exists only for finished searches).
    pub finished: bool,
    /// Trials journaled.
    pub trials: usize,
    /// Whether the space ran out of untried architectures.
    pub exhausted: bool,
    /// Wall time of the whole search (all sessions, if resumed).
    pub wall_seconds: f64,
    /// The best trial.
    pub best: Option<TrialRecord>,
}

/// This machine's name, for saying who holds a run or trained a trial (`/proc`, `/etc/hostname`,
/// `$HOSTNAME`, in that order; `unknown host` when none says).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

/// The trials of a run as read back, with what was noticed while reading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialLog {
    /// Every readable trial, in order.
    pub records: Vec<TrialRecord>,
    /// Things dropped or repaired (a half-written last trial), one line each.
    pub warnings: Vec<String>,
}

/// Checks a run's trials as read back: trial `i` is the `i`-th record (none missing, none
/// twice), and there are at least `covered` of them (the trials its latest checkpoint covers).
/// The message says what is wrong, one line.
pub fn verify_trials(records: &[TrialRecord], covered: usize) -> Result<(), String> {
    for (i, r) in records.iter().enumerate() {
        if r.trial != i {
            return Err(if r.trial < i {
                format!("the run is damaged: trial {} is journaled twice (again as record {})", r.trial, i + 1)
            } else {
                format!(
                    "the run is damaged: trial {i} is missing from the journal (the next record is trial {})",
                    r.trial
                )
            });
        }
    }
    if records.len() < covered {
        return Err(format!(
            "the run is damaged: its journal holds {} trials but its checkpoint covers {covered}",
            records.len()
        ));
    }
    Ok(())
}

/// Where one run's state lives: its config, its trial journal with each trial's store puts, the
/// controller epochs, the latest checkpoint and the summary.
///
/// # Design
///
/// One run has one owner. Opening a storage for reading is free and never blocks (`report`, a
/// dashboard, `finalize` read while a search writes, and tolerate a trial being written right
/// then); writing needs [`RunStorage::lock`] first, which takes the run for the life of the
/// value and refuses a second writer with [`StorageError::Locked`] naming the holder, before
/// anything is written. Every write method of an unlocked storage fails.
///
/// The trial is the unit of durability: [`RunStorage::append_trial`] makes the trial's store
/// puts durable *before* its record, and the record is the commit point (a crash between the two
/// leaves puts of an uncommitted trial, which are overwritten when it is trained again). A
/// checkpoint covers every trial before it, so a storage may drop the puts of those trials when
/// one is written. The search loop (`mlpnas-search`'s `Run`) is the only writer and holds the
/// replay logic; a storage only keeps and returns what it was given, in order.
///
/// The run directory (`mlpnas-search`'s `RunDir`) implements it with files; a database can
/// implement it with rows (as Optuna's RDB and journal storages implement one interface).
pub trait RunStorage: Send + fmt::Debug {
    /// Where the run lives, for messages (a directory, or a database URL and run name).
    fn location(&self) -> String;
    /// A local directory where components may keep files of their own (a disk weight store);
    /// `None` for storages without one.
    fn local_dir(&self) -> Option<&Path>;
    /// Whether the storage holds a run (a journal, even an empty one).
    fn exists(&self) -> Result<bool, StorageError>;
    /// Takes the run for writing for the life of this value: refuses, with
    /// [`StorageError::Locked`] and without writing anything, when another process holds it.
    /// Repairs what a crash of the previous writer left (a half-written last trial is dropped)
    /// and returns what it repaired, one line each.
    fn lock(&mut self) -> Result<Vec<String>, StorageError>;
    /// Starts a new run: fails if the storage already holds one. Needs the lock.
    fn create(&mut self, config: &str) -> Result<(), StorageError>;
    /// The run's resolved config (TOML).
    fn read_config(&self) -> Result<String, StorageError>;
    /// Replaces the run's config (a resume that raised the budget). Needs the lock.
    fn write_config(&mut self, config: &str) -> Result<(), StorageError>;
    /// Every committed trial in order (and, when not locked, a last one being written if whole).
    fn read_trials(&self) -> Result<TrialLog, StorageError>;
    /// Commits one trial: its store `puts` (when the run shares weights) durably, then its
    /// record. Needs the lock.
    fn append_trial(
        &mut self,
        record: &TrialRecord,
        puts: Option<&[(BigramKey, LayerWeights)]>,
    ) -> Result<(), StorageError>;
    /// The store puts of committed `trial`, if no checkpoint has covered it yet.
    fn read_puts(&self, trial: usize) -> Result<Vec<(BigramKey, LayerWeights)>, StorageError>;
    /// Appends the report of a finished controller epoch. Needs the lock.
    fn append_epoch(&mut self, report: &EpochReport) -> Result<(), StorageError>;
    /// The reports of finished controller epochs.
    fn read_epochs(&self) -> Result<Vec<EpochReport>, StorageError>;
    /// Drops the reports of epochs `epoch` and later (they are written again when the epoch is
    /// replayed after a crash). Needs the lock.
    fn keep_epochs_before(&mut self, epoch: usize) -> Result<(), StorageError>;
    /// Makes `checkpoint` (with the controller's state and, for in-memory stores, the store's
    /// snapshot) the latest one; the puts of the trials it covers may be dropped. Needs the lock.
    fn write_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
        controller: &[u8],
        store: Option<&[u8]>,
    ) -> Result<(), StorageError>;
    /// The latest checkpoint, if any.
    fn read_checkpoint(&self) -> Result<Option<CheckpointState>, StorageError>;
    /// The latest checkpoint's description alone (no controller state, no store snapshot);
    /// storages that keep it apart override this to read less.
    fn checkpoint_meta(&self) -> Result<Option<Checkpoint>, StorageError> {
        Ok(self.read_checkpoint()?.map(|(c, _, _)| c))
    }
    /// Every committed trial, verified ([`verify_trials`]): numbered 0, 1, 2, ... with no gap and
    /// no repeat, and at least as many as the latest checkpoint covers. The one way a run's trials
    /// are read: resume, report, finalize, the dashboard and xtask all come here, so damage is
    /// one error everywhere, never a short or doubled list.
    fn read_verified_trials(&self) -> Result<TrialLog, StorageError> {
        // The checkpoint first: trials only grow after it (read in the other order, a checkpoint
        // written in between could cover trials not read yet).
        let covered = self.checkpoint_meta()?.map_or(0, |c| c.trials);
        let log = self.read_trials()?;
        verify_trials(&log.records, covered).map_err(|message| StorageError::Io { path: self.location(), message })?;
        Ok(log)
    }
    /// Marks the run finished. Needs the lock.
    fn write_summary(&mut self, summary: &Summary) -> Result<(), StorageError>;
    /// The summary, if the run finished.
    fn read_summary(&self) -> Result<Option<Summary>, StorageError>;
    /// Marks a finished run unfinished again (it is being continued). Needs the lock.
    fn clear_summary(&mut self) -> Result<(), StorageError>;
    /// Records what the run's data holds (the search writes it when it starts, so a resume
    /// replaces it with the same), for readers that load no data (`report`, the dashboard).
    fn write_data_summary(&mut self, summary: &crate::data::DataSummary) -> Result<(), StorageError>;
    /// The recorded data summary; `None` for a run that has none (made before summaries, or a
    /// benchmark-table run, which loads no data).
    fn read_data_summary(&self) -> Result<Option<crate::data::DataSummary>, StorageError>;
    /// The committed trials from index `from` on, reading only what is new where the storage
    /// can (a dashboard follows a running search this way). `mark` is what the previous call
    /// returned for this run and the same `from`, or 0; the second value is the mark for the
    /// next call. A record being written right now is left for a later call. If the run was
    /// cut back meanwhile (a resume dropped a half-written trial) the records may start before
    /// `from`: a caller keeps its trials up to the first returned one's index.
    ///
    /// The default reads every trial and keeps those from `from` on.
    fn read_trials_since(&self, from: usize, mark: u64) -> Result<(TrialLog, u64), StorageError> {
        let _ = mark;
        let mut log = self.read_trials()?;
        log.records.retain(|r| r.trial >= from);
        Ok((log, 0))
    }
    /// Who is writing the run right now (the holder of [`RunStorage::lock`], in its own words),
    /// found without taking the lock; `None` when nobody is, or the storage cannot tell (the
    /// default).
    fn writer(&self) -> Result<Option<String>, StorageError> {
        Ok(None)
    }
    /// The run's name in its storage (what `--resume`, `report` and workers call it).
    fn run_name(&self) -> String {
        self.location()
    }
    /// Where other processes can train this run's trials, for storages shared between machines;
    /// `None` (the default) trains every trial in this process.
    fn queue(&self) -> Option<std::sync::Arc<dyn crate::queue::TrialQueue>> {
        None
    }
    /// Publishes the run's prepared data so that workers can read it ([`Self::queue`]'s
    /// [`crate::queue::TrialQueue::run_data`]); nothing to do (the default) for storages without a
    /// queue. Needs the lock.
    fn publish_data(&mut self, data: &crate::data::DataSplit) -> Result<(), StorageError> {
        let _ = data;
        Ok(())
    }
}
