//! [`Run`]: the one owner of a run's state.
//!
//! A run is its config, its trials, its controller epochs, its latest checkpoint and its
//! summary, kept by a [`RunStorage`] (a run directory, [`mlpnas_runs::RunDir`]). Everything that looks
//! at a run goes through a `Run`: the search creates or continues one ([`crate::Search`]),
//! `finalize` and `report` open one for reading. How a run's weight store is rebuilt from a
//! checkpoint and the trials after it exists once, here ([`Run::weight_store`]).

use std::path::{Path, PathBuf};

use mlpnas_core::{Architecture, CheckpointState, Measurement, RunStorage, Summary, TrialRecord, WeightStore};

use crate::config::{CheckedConfig, SearchConfig, resume_config};
use crate::error::SearchError;

/// What the search loop takes over from a [`Run`]: its storage (locked), config, trials and
/// warnings.
pub(crate) type RunParts = (Box<dyn RunStorage>, CheckedConfig, Vec<TrialRecord>, Vec<String>);

/// A run and its storage (see the module documentation).
#[derive(Debug)]
pub struct Run {
    storage: Box<dyn RunStorage>,
    cfg: CheckedConfig,
    records: Vec<TrialRecord>,
    warnings: Vec<String>,
    /// Whether it was opened for writing (and holds the storage's lock).
    writer: bool,
}

impl Run {
    /// Starts a new run in `storage` with `cfg`: takes the run's lock (refused, writing nothing,
    /// while another process holds it), refuses a storage that already holds a run, and records
    /// the resolved config.
    pub fn create(mut storage: Box<dyn RunStorage>, cfg: CheckedConfig) -> Result<Self, SearchError> {
        store_fits(storage.as_ref(), &cfg)?;
        let warnings = storage.lock()?;
        let text = cfg.to_toml().map_err(|e| SearchError::ConfigFile { path: cfg.origin.clone(), message: e })?;
        storage.create(&mlpnas_runs::fingerprint::seal(&text))?;
        Ok(Self { storage, cfg, records: Vec::new(), warnings, writer: true })
    }

    /// Takes the run in `storage` for writing, to continue it: its own config with `overrides`
    /// applied (only [`crate::RESUMABLE_CHANGES`] may change; a changed config is recorded), its
    /// committed trials (a half-written last one is dropped, with a warning).
    pub fn resume(mut storage: Box<dyn RunStorage>, overrides: &[String]) -> Result<Self, SearchError> {
        if !storage.exists()? {
            return Err(SearchError::Io {
                path: storage.location(),
                message: "no journal here: nothing to resume".into(),
            });
        }
        let warnings = storage.lock()?;
        let (text, shown, base) = config_text(storage.as_ref())?;
        let (cfg, changed) = resume_config(&text, &shown, &base, overrides)?;
        store_fits(storage.as_ref(), &cfg)?;
        if changed {
            let resolved = cfg.to_toml().map_err(|e| SearchError::ConfigFile { path: shown.clone(), message: e })?;
            storage.write_config(&mlpnas_runs::fingerprint::seal(&resolved))?;
        }
        let log = storage.read_verified_trials()?;
        check_records(&cfg, &log.records, &storage.location())?;
        let mut all = warnings;
        all.extend(log.warnings);
        Ok(Self { storage, cfg, records: log.records, warnings: all, writer: true })
    }

    /// Opens the run in `storage` for reading (no lock: it may be running right now). With
    /// `backend`, every component that runs on a backend is switched to it before the config is
    /// checked, so that a run made on a backend this build or machine lacks can be read here.
    pub fn open(storage: Box<dyn RunStorage>, backend: Option<&str>) -> Result<Self, SearchError> {
        let (text, shown, base) = config_text(storage.as_ref())?;
        let mut cfg = SearchConfig::from_toml(&text, &shown, &base, &[])?;
        if let Some(b) = backend {
            cfg.set_backend(b)?;
        }
        let cfg = cfg.check()?;
        let log = storage.read_verified_trials()?;
        check_records(&cfg, &log.records, &storage.location())?;
        Ok(Self { storage, cfg, records: log.records, warnings: log.warnings, writer: false })
    }

    /// The trials of the run in `storage`, read by the one verified reader and checked against
    /// the run's space (tokens mean the journaled architecture), without checking or building
    /// anything else of the config (so a run made on a backend this build lacks reads too); with
    /// the reader's warnings, and what its space measures when it is not networks (a table's
    /// metric, for showing the trials). For readers such as `report`.
    pub fn read_checked_trials(
        storage: &dyn RunStorage,
    ) -> Result<(mlpnas_core::TrialLog, Option<Measurement>), SearchError> {
        let log = storage.read_verified_trials()?;
        let (text, shown, base) = config_text(storage)?;
        let cfg = SearchConfig::from_toml(&text, &shown, &base, &[])?;
        let measurement = check_records(&cfg, &log.records, &storage.location())?;
        Ok((log, measurement))
    }

    /// Its config.
    pub fn config(&self) -> &CheckedConfig {
        &self.cfg
    }

    /// Its config, keeping nothing else (a reader done with the storage).
    pub fn into_config(self) -> CheckedConfig {
        self.cfg
    }

    /// Its trials, in order.
    pub fn records(&self) -> &[TrialRecord] {
        &self.records
    }

    /// What was noticed while opening it (a dropped half-written trial), one line each; taken once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Where it lives, for messages.
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// Its local directory, where components keep files of their own (a disk weight store).
    pub fn local_dir(&self) -> Option<&Path> {
        self.storage.local_dir()
    }

    /// Its summary, if it finished.
    pub fn summary(&self) -> Result<Option<Summary>, SearchError> {
        Ok(self.storage.read_summary()?)
    }

    /// Its latest checkpoint, if any.
    pub fn checkpoint(&self) -> Result<Option<CheckpointState>, SearchError> {
        Ok(self.storage.read_checkpoint()?)
    }

    /// Whether the run shares weights through a store.
    pub fn shares_weights(&self) -> bool {
        self.cfg.shared_store().is_some()
    }

    /// The run's weight store as it stood after trial `upto - 1` was committed: built from the
    /// config, restored from `checkpoint`'s snapshot (an in-memory store) or reopened (a disk
    /// store), then given the puts of the trials journaled after the checkpoint and before
    /// `upto`, in order. `None` when the run shares no weights.
    ///
    /// The one replay of store state: a resumed search calls it with `upto` = the checkpoint's
    /// trials (its loop replays the rest batch by batch), finalize with every trial.
    pub fn weight_store(
        &self,
        checkpoint: Option<&CheckpointState>,
        upto: usize,
    ) -> Result<Option<Box<dyn WeightStore>>, SearchError> {
        let Some(store_cfg) = self.cfg.shared_store() else {
            return Ok(None);
        };
        let dir = self.store_dir()?;
        let mut store = store_cfg.build(&dir)?;
        let after = match checkpoint {
            Some((ck, _, snapshot)) => {
                if let Some(bytes) = snapshot {
                    store.restore(bytes)?;
                }
                // A store with files of its own must hold at least what it held then, and be
                // the same store.
                if let Some(n) = ck.store_len
                    && store.len() < n
                {
                    return Err(SearchError::Io {
                        path: self.storage.location(),
                        message: format!(
                            "the run's weight store holds {} bigrams, fewer than the {n} its checkpoint recorded: it was deleted, emptied or replaced, so the run cannot be resumed exactly",
                            store.len()
                        ),
                    });
                }
                if let Some(id) = &ck.store_id
                    && store.identity().as_ref() != Some(id)
                {
                    return Err(SearchError::Io {
                        path: self.storage.location(),
                        message: "the run's weight store is not the one its checkpoint recorded (deleted, replaced or copied from another run), so the run cannot be resumed exactly".into(),
                    });
                }
                ck.trials
            }
            None => 0,
        };
        for trial in after..upto {
            for (key, w) in self.storage.read_puts(trial)? {
                store.put(key, w)?;
            }
        }
        Ok(Some(store))
    }

    /// Where a store keeps its files (none for a store that keeps none, in a storage without a
    /// directory).
    pub(crate) fn store_dir(&self) -> Result<PathBuf, SearchError> {
        store_fits(self.storage.as_ref(), &self.cfg)?;
        Ok(self.storage.local_dir().map(Path::to_path_buf).unwrap_or_default())
    }

    /// The parts the search loop writes through (only a run opened for writing has them).
    pub(crate) fn into_parts(self) -> Result<RunParts, SearchError> {
        if !self.writer {
            return Err(SearchError::Io {
                path: self.storage.location(),
                message: "opened for reading only; a search needs Run::create or Run::resume".into(),
            });
        }
        Ok((self.storage, self.cfg, self.records, self.warnings))
    }
}

/// Checks that each record's architecture text is what its tokens mean in the run's space (an
/// edited or foreign journal line is damage: its reward would be credited to another
/// architecture).
fn check_records(
    cfg: &SearchConfig,
    records: &[TrialRecord],
    location: &str,
) -> Result<Option<Measurement>, SearchError> {
    let space =
        cfg.space.build().map_err(|e| SearchError::Config { path: cfg.origin.clone(), source: e.within("space") })?;
    for r in records {
        // The number of classes is the record's own (its output layer); a table point has none.
        let n_classes = Architecture::parse_journaled(&r.architecture, 0).map_or(0, |a| a.n_classes());
        let meant = space.candidate(&r.tokens, 0, n_classes).map(|c| c.text());
        if meant.as_deref().ok() != Some(r.architecture.as_str()) {
            let meant = meant.unwrap_or_else(|e| format!("invalid: {e}"));
            return Err(SearchError::Io {
                path: location.to_string(),
                message: format!(
                    "the run is damaged: trial {} says {:?}, but its tokens {:?} mean {meant:?} in this run's space",
                    r.trial, r.architecture, r.tokens
                ),
            });
        }
    }
    Ok(space.measurement())
}

/// Refuses a store that keeps files of its own in a storage without a local directory.
fn store_fits(storage: &dyn RunStorage, cfg: &CheckedConfig) -> Result<(), SearchError> {
    match cfg.shared_store() {
        Some(s) if s.needs_files() && storage.local_dir().is_none() => Err(SearchError::Io {
            path: storage.location(),
            message: "this [store] keeps files in a run directory, which a run in a database has not; use [store] type = \"memory\" (its snapshots are kept in the database)".into(),
        }),
        _ => Ok(()),
    }
}

/// The run's config text, the name to show in errors and the directory relative paths resolve
/// against.
fn config_text(storage: &dyn RunStorage) -> Result<(String, String, PathBuf), SearchError> {
    let text = storage.read_config()?;
    let (shown, base) = match storage.local_dir() {
        Some(d) => (d.join(mlpnas_runs::CONFIG).display().to_string(), d.to_path_buf()),
        None => (format!("{} (config)", storage.location()), PathBuf::new()),
    };
    let text = mlpnas_runs::fingerprint::unseal(&text)
        .map_err(|message| SearchError::ConfigFile { path: shown.clone(), message })?;
    let text = crate::config::stored_with_added_fields(text, &shown, &base)?;
    Ok((text, shown, base))
}
