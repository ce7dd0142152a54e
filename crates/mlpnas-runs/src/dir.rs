//! [`RunDir`]: the run directory, the embedded [`RunStorage`]. Every file is written so that a
//! crash at any instant leaves either the old or the new version of it (write to a temporary,
//! sync, rename, sync the directory), or, for the append-only files, at most a half-written last
//! line that readers drop.
//!
//! Layout of a run directory:
//!
//! * `lock`: held (an OS file lock) by the one process writing the run; it holds that process's
//!   pid, host and start time, which a refused second writer shows;
//! * `config.toml`: the resolved config;
//! * `journal.jsonl`: one trial per line (see [`crate::journal`]), the commit point of a trial;
//! * `pending/trial-NNNNNN.safetensors`: the weights a trial puts into the store (the one weights
//!   format, [`mlpnas_core::codec`]), written before its journal line and deleted once a
//!   checkpoint covers the trial (`.json` files of earlier releases are still read);
//! * `checkpoint/latest.json` + `checkpoint/epoch-NNNN.controller` (+ `.store`): the state at the
//!   start of a controller epoch (controller state, in-memory store snapshot);
//! * `controller.jsonl`: one [`EpochReport`] per finished controller epoch;
//! * `summary.json`: written last, when the search finished.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use mlpnas_core::codec;
use mlpnas_core::{
    BigramKey, Checkpoint, CheckpointState, DataSummary, EpochReport, LayerWeights, RunStorage, StorageError, Summary,
    TrialLog, TrialRecord,
};

use crate::journal::{Journal, scan, scan_from};

/// The journal's file name.
pub const JOURNAL: &str = "journal.jsonl";
/// The resolved config's file name.
pub const CONFIG: &str = "config.toml";
/// The per-epoch report's file name.
pub const EPOCHS: &str = "controller.jsonl";
/// The final summary's file name.
pub const SUMMARY: &str = "summary.json";
/// What the run's data holds (`mlpnas_core::DataSummary`), written when a search starts.
pub const DATA: &str = "data.json";
/// The lock file's name.
pub const LOCK: &str = "lock";
const CHECKPOINT_DIR: &str = "checkpoint";
const PENDING_DIR: &str = "pending";
const LATEST: &str = "latest.json";

/// Writes `bytes` to `path` atomically and durably: a crash leaves the old or the new content.
/// The temporary file is `.NAME.tmp` beside it (one writer per run: the lock), so one left by a
/// crash is simply overwritten next time; on failure it is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Syncs a directory so that renames and creations in it are durable.
fn sync_dir(dir: &Path) -> Result<(), std::io::Error> {
    File::open(dir).and_then(|d| d.sync_all())
}

fn io(path: &Path, e: impl std::fmt::Display) -> StorageError {
    StorageError::io(path, e)
}

/// A run directory (see the module documentation for its files).
#[derive(Debug)]
pub struct RunDir {
    root: PathBuf,
    /// The lock file, held while this value lives (after [`RunStorage::lock`]).
    lock: Option<File>,
    /// The journal, open for appending (after [`RunStorage::lock`] or [`RunStorage::create`]).
    journal: Option<Journal>,
}

impl RunDir {
    /// The run directory `root`, opened for reading (nothing is created or locked).
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf(), lock: None, journal: None }
    }

    /// A file of the run directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn need_lock(&self) -> Result<(), StorageError> {
        if self.lock.is_none() {
            return Err(StorageError::Io {
                path: self.root.display().to_string(),
                message: "opened for reading only (internal error: write without the run's lock)".into(),
            });
        }
        Ok(())
    }

    fn pending_path(&self, trial: usize) -> PathBuf {
        self.root.join(PENDING_DIR).join(format!("trial-{trial:06}.safetensors"))
    }

    /// The JSON file of an earlier release.
    fn legacy_pending_path(&self, trial: usize) -> PathBuf {
        self.root.join(PENDING_DIR).join(format!("trial-{trial:06}.json"))
    }

    /// Deletes pending files of trials before `trials` (a checkpoint covers them).
    fn prune_pending(&self, trials: usize) -> Result<(), StorageError> {
        let dir = self.root.join(PENDING_DIR);
        let entries = std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let n = name
                .strip_prefix("trial-")
                .and_then(|s| s.strip_suffix(".safetensors").or_else(|| s.strip_suffix(".json")))
                .and_then(|s| s.parse().ok());
            if n.is_some_and(|n: usize| n < trials) {
                std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
            }
        }
        Ok(())
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.root.join(name);
        atomic_write(&path, bytes).map_err(|e| io(&path, e))
    }
}

/// Whether a process holds the OS lock on `path` (the run's writer), asked without taking it:
/// taking it, even shared and for an instant, could refuse a search starting right then. Linux
/// lists every flock in `/proc/locks` by device and inode; elsewhere the holder line's pid is
/// looked up when it names this host.
fn lock_is_held(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    if let (Ok(meta), Ok(locks)) = (std::fs::metadata(path), std::fs::read_to_string("/proc/locks")) {
        use std::os::unix::fs::MetadataExt;
        let dev = meta.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
        // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; "1: -> FLOCK ..." is a waiter.
        return locks.lines().any(|l| !l.contains("->") && l.split_whitespace().nth(5) == Some(id.as_str()));
    }
    let holder = std::fs::read_to_string(path).unwrap_or_default();
    let mut words = holder.split_whitespace();
    match (words.next(), words.next().and_then(|p| p.parse::<u32>().ok()), words.nth(1)) {
        (Some("pid"), Some(pid), Some(host)) if host.trim_end_matches(',') == mlpnas_core::host_name() => {
            Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

/// Who holds a lock: one line written into the lock file by its holder.
fn holder_line() -> String {
    format!("pid {} on {}, since {}", std::process::id(), mlpnas_core::host_name(), utc_now())
}

/// The current UTC time as `[year, month, day, hour, minute, second]`.
pub fn utc_parts() -> [i64; 6] {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, (secs % 86_400) as i64);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [y, m, d, rem / 3600, rem % 3600 / 60, rem % 60]
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let [y, m, d, h, mi, s] = utc_parts();
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

impl RunStorage for RunDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn local_dir(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn exists(&self) -> Result<bool, StorageError> {
        Ok(self.root.join(JOURNAL).exists())
    }

    fn lock(&mut self) -> Result<Vec<String>, StorageError> {
        if self.lock.is_some() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&self.root).map_err(|e| io(&self.root, e))?;
        let path = self.root.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StorageError::Locked {
                    run: self.location(),
                    holder: if holder.is_empty() { "holder unknown".into() } else { holder.to_string() },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(&path, format!("cannot lock: {e}"))),
        }
        let line = format!("{}\n", holder_line());
        (|| {
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })()
        .map_err(|e| io(&path, e))?;
        self.lock = Some(file);
        let journal = self.root.join(JOURNAL);
        let mut warnings = Vec::new();
        if journal.exists() {
            for d in [CHECKPOINT_DIR, PENDING_DIR] {
                let p = self.root.join(d);
                std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
            }
            let (j, w) = Journal::reopen(&journal)?;
            self.journal = Some(j);
            warnings = w;
        }
        Ok(warnings)
    }

    fn create(&mut self, config: &str) -> Result<(), StorageError> {
        self.need_lock()?;
        let journal = self.root.join(JOURNAL);
        if journal.exists() {
            return Err(io(
                &journal,
                "this run directory already holds a search; choose another --out, or continue it with --resume",
            ));
        }
        for d in [CHECKPOINT_DIR, PENDING_DIR] {
            let p = self.root.join(d);
            std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
        }
        self.write(CONFIG, config.as_bytes())?;
        self.journal = Some(Journal::create(&journal)?);
        Ok(())
    }

    fn read_config(&self) -> Result<String, StorageError> {
        let path = self.root.join(CONFIG);
        std::fs::read_to_string(&path)
            .map_err(|e| io(&path, format!("cannot read ({e}); is {} a run directory?", self.root.display())))
    }

    fn write_config(&mut self, config: &str) -> Result<(), StorageError> {
        self.need_lock()?;
        self.write(CONFIG, config.as_bytes())
    }

    fn read_trials(&self) -> Result<TrialLog, StorageError> {
        let path = self.root.join(JOURNAL);
        if !path.exists() {
            return Err(io(&self.root, "no journal.jsonl here; is it a run directory?"));
        }
        let (records, warnings, _) = scan(&path)?;
        Ok(TrialLog { records, warnings })
    }

    fn read_trials_since(&self, from: usize, mark: u64) -> Result<(TrialLog, u64), StorageError> {
        let path = self.root.join(JOURNAL);
        if !path.exists() {
            return Err(io(&self.root, "no journal.jsonl here; is it a run directory?"));
        }
        // A mark that no longer falls on a line start (the journal was cut back and written
        // again) reads as a bad line: read the journal again from the start.
        let (mut records, next, restarted) = match scan_from(&path, mark) {
            Err(_) if mark > 0 => scan_from(&path, 0).map(|(r, n, _)| (r, n, true))?,
            other => other?,
        };
        if !restarted {
            records.retain(|r| r.trial >= from);
        }
        Ok((TrialLog { records, warnings: Vec::new() }, next))
    }

    fn writer(&self) -> Result<Option<String>, StorageError> {
        let path = self.root.join(LOCK);
        if !path.exists() || !lock_is_held(&path) {
            return Ok(None);
        }
        let holder = std::fs::read_to_string(&path).unwrap_or_default().trim().to_string();
        Ok(Some(if holder.is_empty() { "holder unknown".into() } else { holder }))
    }

    fn append_trial(
        &mut self,
        record: &TrialRecord,
        puts: Option<&[(BigramKey, LayerWeights)]>,
    ) -> Result<(), StorageError> {
        self.need_lock()?;
        if let Some(puts) = puts {
            let path = self.pending_path(record.trial);
            let bytes = codec::encode_puts(puts.iter().map(|(k, w)| (k, w))).map_err(|e| io(&path, e))?;
            atomic_write(&path, &bytes).map_err(|e| io(&path, e))?;
        }
        match self.journal.as_mut() {
            Some(j) => j.append(record),
            None => Err(io(&self.root.join(JOURNAL), "not open for appending")),
        }
    }

    fn read_puts(&self, trial: usize) -> Result<Vec<(BigramKey, LayerWeights)>, StorageError> {
        let path = self.pending_path(trial);
        match std::fs::read(&path) {
            Ok(bytes) => codec::decode_puts(&bytes).map_err(|e| io(&path, format!("corrupt: {e}"))),
            Err(e) => {
                // Run directories of earlier releases wrote JSON.
                let legacy = self.legacy_pending_path(trial);
                match std::fs::read(&legacy) {
                    Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io(&legacy, format!("corrupt: {e}"))),
                    Err(_) => Err(io(
                        &path,
                        format!("cannot read the weights of journaled trial {trial} ({e}); cannot resume"),
                    )),
                }
            }
        }
    }

    fn append_epoch(&mut self, report: &EpochReport) -> Result<(), StorageError> {
        self.need_lock()?;
        let path = self.root.join(EPOCHS);
        let mut line = serde_json::to_string(report).map_err(|e| io(&path, e))?;
        line.push('\n');
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        f.write_all(line.as_bytes()).map_err(|e| io(&path, e))?;
        f.sync_data().map_err(|e| io(&path, e))
    }

    fn read_epochs(&self) -> Result<Vec<EpochReport>, StorageError> {
        let path = self.root.join(EPOCHS);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Vec::new());
        };
        // A half-written last line (a crash, or a writer right now) is skipped.
        Ok(text.lines().filter_map(|l| serde_json::from_str::<EpochReport>(l).ok()).collect())
    }

    fn keep_epochs_before(&mut self, epoch: usize) -> Result<(), StorageError> {
        self.need_lock()?;
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
        if out != text { self.write(EPOCHS, out.as_bytes()) } else { Ok(()) }
    }

    fn write_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
        controller: &[u8],
        store: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        self.need_lock()?;
        let dir = self.root.join(CHECKPOINT_DIR);
        let epoch = checkpoint.epoch;
        let cname = format!("epoch-{epoch:04}.controller");
        let put = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            atomic_write(&p, bytes).map_err(|e| io(&p, e))
        };
        put(&cname, controller)?;
        let sname = match store {
            Some(bytes) => {
                let n = format!("epoch-{epoch:04}.store");
                put(&n, bytes)?;
                Some(n)
            }
            None => None,
        };
        let ck =
            Checkpoint { version: 1, controller: cname, store: sname, ..checkpoint.clone() }.sealed(controller, store);
        let meta = serde_json::to_vec_pretty(&ck).map_err(|e| io(&dir.join(LATEST), e))?;
        put(LATEST, &meta)?;
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
        self.prune_pending(ck.trials)
    }

    fn checkpoint_meta(&self) -> Result<Option<Checkpoint>, StorageError> {
        let latest = self.root.join(CHECKPOINT_DIR).join(LATEST);
        if !latest.exists() {
            return Ok(None);
        }
        let text = std::fs::read(&latest).map_err(|e| io(&latest, e))?;
        serde_json::from_slice(&text).map(Some).map_err(|e| io(&latest, format!("corrupt: {e}")))
    }

    fn read_checkpoint(&self) -> Result<Option<CheckpointState>, StorageError> {
        let dir = self.root.join(CHECKPOINT_DIR);
        let Some(ck) = self.checkpoint_meta()? else {
            return Ok(None);
        };
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| io(&p, e))
        };
        let controller = read(&ck.controller)?;
        let store = ck.store.as_deref().map(read).transpose()?;
        ck.verify(&controller, store.as_deref()).map_err(|m| io(&dir, m))?;
        Ok(Some((ck, controller, store)))
    }

    fn write_summary(&mut self, summary: &Summary) -> Result<(), StorageError> {
        self.need_lock()?;
        let bytes = serde_json::to_vec_pretty(summary).map_err(|e| io(&self.root.join(SUMMARY), e))?;
        self.write(SUMMARY, &bytes)
    }

    fn read_summary(&self) -> Result<Option<Summary>, StorageError> {
        let path = self.root.join(SUMMARY);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| io(&path, format!("corrupt: {e}")))
    }

    fn clear_summary(&mut self) -> Result<(), StorageError> {
        self.need_lock()?;
        let path = self.root.join(SUMMARY);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }

    fn write_data_summary(&mut self, summary: &DataSummary) -> Result<(), StorageError> {
        self.need_lock()?;
        let bytes = serde_json::to_vec_pretty(summary).map_err(|e| io(&self.root.join(DATA), e))?;
        self.write(DATA, &bytes)
    }

    fn read_data_summary(&self) -> Result<Option<DataSummary>, StorageError> {
        let path = self.root.join(DATA);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| io(&path, format!("corrupt: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mlpnas-rundir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn the_writer_is_seen_without_taking_the_lock() {
        let d = tmp("writer");
        let mut w = RunDir::new(&d);
        w.lock().expect("lock");
        w.create("seed = 1\n").expect("create");
        let reader = RunDir::new(&d);
        let holder = reader.writer().expect("writer").expect("held");
        assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
        // Asking took nothing: the holder still holds it, and a second writer is still refused.
        assert!(matches!(RunDir::new(&d).lock(), Err(StorageError::Locked { .. })));
        drop(w);
        assert_eq!(reader.writer().expect("writer"), None, "the lock went with its holder");
        // Incremental reads through the storage: new trials only, a mark to go on from.
        let (log, mark) = reader.read_trials_since(0, 0).expect("read");
        assert!(log.records.is_empty() && mark == 0);
    }

    #[test]
    fn a_second_writer_is_refused_and_named_and_writes_nothing() {
        let d = tmp("lock");
        let mut first = RunDir::new(&d);
        first.lock().expect("lock");
        first.create("seed = 1\n").expect("create");
        let before = std::fs::read(d.join(CONFIG)).expect("config");
        let mut second = RunDir::new(&d);
        let e = second.lock().expect_err("second writer");
        let text = e.to_string();
        assert!(matches!(e, StorageError::Locked { .. }), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("since "), "{text}");
        assert!(second.write_config("x").is_err(), "an unlocked storage writes nothing");
        assert_eq!(std::fs::read(d.join(CONFIG)).expect("config"), before);
        // Reading needs no lock.
        assert_eq!(second.read_config().expect("read"), "seed = 1\n");
        drop(first);
        assert!(second.lock().is_ok(), "the lock goes with its holder");
    }

    #[test]
    fn utc_now_is_a_timestamp() {
        let t = utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
