//! The run directory's files besides the journal: checkpoints, pending trial weights, the
//! per-epoch report and the final summary, all written so that a crash at any instant leaves
//! either the old or the new version of each file (write to a temporary, sync, rename, sync the
//! directory).
//!
//! Layout of a run directory:
//!
//! * `config.toml`: the resolved config;
//! * `journal.jsonl`: one trial per line (see [`crate::journal`]), the commit point of a trial;
//! * `pending/trial-NNNNNN.json`: the weights a trial puts into the store, written before its
//!   journal line and deleted once a checkpoint covers the trial;
//! * `checkpoint/latest.json` + `checkpoint/epoch-NNNN.controller` (+ `.store`): the state at the
//!   start of a controller epoch (controller state, in-memory store snapshot);
//! * `controller.jsonl`: one [`EpochReport`] per finished controller epoch;
//! * `summary.json`: written last, when the search finished.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use mlpnas_core::{BigramKey, EpochReport, LayerWeights, TrialRecord};
use serde::{Deserialize, Serialize};

use crate::error::SearchError;

/// The journal's file name.
pub const JOURNAL: &str = "journal.jsonl";
/// The resolved config's file name.
pub const CONFIG: &str = "config.toml";
/// The per-epoch report's file name.
pub const EPOCHS: &str = "controller.jsonl";
/// The final summary's file name.
pub const SUMMARY: &str = "summary.json";
const CHECKPOINT_DIR: &str = "checkpoint";
const PENDING_DIR: &str = "pending";
const LATEST: &str = "latest.json";

/// Writes `bytes` to `path` atomically and durably: a crash leaves the old or the new content.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), SearchError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(|e| SearchError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| SearchError::io(&tmp, e))?;
    f.sync_all().map_err(|e| SearchError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| SearchError::io(path, e))?;
    sync_dir(dir)
}

/// Syncs a directory so that renames and creations in it are durable.
fn sync_dir(dir: &Path) -> Result<(), SearchError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| SearchError::io(dir, e))
}

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
    /// File (in `checkpoint/`) holding the controller's state.
    pub controller: String,
    /// File holding the store's snapshot, for stores that take one.
    pub store: Option<String>,
}

/// A checkpoint with its controller state and, for in-memory stores, the store snapshot.
pub type CheckpointState = (Checkpoint, Vec<u8>, Option<Vec<u8>>);

/// The run directory's checkpoint, pending-weights and report files.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The files of run directory `root` (nothing is created yet).
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    /// A file of the run directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates the sub-directories.
    pub fn create_dirs(&self) -> Result<(), SearchError> {
        for d in [CHECKPOINT_DIR, PENDING_DIR] {
            let p = self.root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| SearchError::io(&p, e))?;
        }
        Ok(())
    }

    fn pending_path(&self, trial: usize) -> PathBuf {
        self.root.join(PENDING_DIR).join(format!("trial-{trial:06}.json"))
    }

    /// Records the puts of `trial` durably (before its journal line is written).
    pub fn write_pending(&self, trial: usize, puts: &[(BigramKey, LayerWeights)]) -> Result<(), SearchError> {
        let path = self.pending_path(trial);
        let bytes = serde_json::to_vec(puts).map_err(|e| SearchError::io(&path, e))?;
        atomic_write(&path, &bytes)
    }

    /// The puts of a journaled `trial` not yet covered by a checkpoint.
    pub fn read_pending(&self, trial: usize) -> Result<Vec<(BigramKey, LayerWeights)>, SearchError> {
        let path = self.pending_path(trial);
        let bytes = std::fs::read(&path).map_err(|e| {
            SearchError::io(&path, format!("cannot read the weights of journaled trial {trial} ({e}); cannot resume"))
        })?;
        serde_json::from_slice(&bytes).map_err(|e| SearchError::io(&path, format!("corrupt: {e}")))
    }

    /// Deletes pending files of trials before `trials` (a checkpoint covers them).
    fn prune_pending(&self, trials: usize) -> Result<(), SearchError> {
        let dir = self.root.join(PENDING_DIR);
        let entries = std::fs::read_dir(&dir).map_err(|e| SearchError::io(&dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("trial-").and_then(|s| s.strip_suffix(".json")).and_then(|s| s.parse().ok());
            if n.is_some_and(|n: usize| n < trials) {
                std::fs::remove_file(entry.path()).map_err(|e| SearchError::io(&entry.path(), e))?;
            }
        }
        Ok(())
    }

    /// Writes the state at the start of `epoch` and makes it the latest checkpoint, then drops
    /// what it supersedes (older checkpoint files, pending weights it covers).
    pub fn write_checkpoint(
        &self,
        epoch: usize,
        trials: usize,
        wall_seconds: f64,
        controller: &[u8],
        store: Option<&[u8]>,
    ) -> Result<(), SearchError> {
        let dir = self.root.join(CHECKPOINT_DIR);
        let cname = format!("epoch-{epoch:04}.controller");
        atomic_write(&dir.join(&cname), controller)?;
        let sname = match store {
            Some(bytes) => {
                let n = format!("epoch-{epoch:04}.store");
                atomic_write(&dir.join(&n), bytes)?;
                Some(n)
            }
            None => None,
        };
        let ck = Checkpoint { version: 1, epoch, trials, wall_seconds, controller: cname, store: sname };
        let meta = serde_json::to_vec_pretty(&ck).map_err(|e| SearchError::io(&dir.join(LATEST), e))?;
        atomic_write(&dir.join(LATEST), &meta)?;
        // Superseded files.
        let keep = [ck.controller.as_str(), ck.store.as_deref().unwrap_or(""), LATEST];
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("epoch-") && !keep.contains(&name.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.prune_pending(trials)
    }

    /// The latest checkpoint, if any, with its controller state and store snapshot.
    pub fn read_checkpoint(&self) -> Result<Option<CheckpointState>, SearchError> {
        let dir = self.root.join(CHECKPOINT_DIR);
        let latest = dir.join(LATEST);
        if !latest.exists() {
            return Ok(None);
        }
        let text = std::fs::read(&latest).map_err(|e| SearchError::io(&latest, e))?;
        let ck: Checkpoint =
            serde_json::from_slice(&text).map_err(|e| SearchError::io(&latest, format!("corrupt: {e}")))?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| SearchError::io(&p, e))
        };
        let controller = read(&ck.controller)?;
        let store = ck.store.as_deref().map(read).transpose()?;
        Ok(Some((ck, controller, store)))
    }

    /// Appends one epoch report to `controller.jsonl` (synced).
    pub fn append_epoch(&self, report: &EpochReport) -> Result<(), SearchError> {
        let path = self.root.join(EPOCHS);
        let mut line = serde_json::to_string(report).map_err(|e| SearchError::io(&path, e))?;
        line.push('\n');
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| SearchError::io(&path, e))?;
        f.write_all(line.as_bytes()).map_err(|e| SearchError::io(&path, e))?;
        f.sync_data().map_err(|e| SearchError::io(&path, e))
    }

    /// Epoch reports of epochs before `epoch` (later ones, written after the last checkpoint, are
    /// rewritten when the epoch is replayed); rewrites the file when it held more.
    pub fn keep_epochs_before(&self, epoch: usize) -> Result<(), SearchError> {
        let path = self.root.join(EPOCHS);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: Vec<&str> =
            text.lines().filter(|l| serde_json::from_str::<EpochReport>(l).is_ok_and(|r| r.epoch < epoch)).collect();
        let mut out = kept.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        if out != text { atomic_write(&path, out.as_bytes()) } else { Ok(()) }
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &SummaryFile) -> Result<(), SearchError> {
        let path = self.root.join(SUMMARY);
        let bytes = serde_json::to_vec_pretty(summary).map_err(|e| SearchError::io(&path, e))?;
        atomic_write(&path, &bytes)
    }

    /// Reads `summary.json` if the search finished.
    pub fn read_summary(&self) -> Result<Option<SummaryFile>, SearchError> {
        let path = self.root.join(SUMMARY);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| SearchError::io(&path, e))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| SearchError::io(&path, format!("corrupt: {e}")))
    }
}

/// `summary.json`: written when a search has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryFile {
    /// Always true (the file exists only for finished searches).
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
