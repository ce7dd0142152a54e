//! The trial journal: `journal.jsonl`, one [`TrialRecord`] per line, append-only.
//!
//! Each line is written whole and synced to disk before the next trial starts, so a crash loses
//! at most the trial in flight; a half-written last line (from a crash mid-write) is detected on
//! reading and dropped with a warning.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mlpnas_core::TrialRecord;

use mlpnas_core::StorageError;

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates a new journal; fails if `path` exists (a run directory is never overwritten).
    pub fn create(path: &Path) -> Result<Self, StorageError> {
        let file = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| StorageError::io(path, e))?;
        Ok(Self { path: path.to_path_buf(), file })
    }

    /// Reopens the journal of an interrupted search for appending: returns it with the warnings
    /// of the repair; a half-written last line is cut off the file (it is the trial that was in
    /// flight, which will be trained again).
    pub fn reopen(path: &Path) -> Result<(Self, Vec<String>), StorageError> {
        let (mut records, mut warnings, valid_len) = scan(path)?;
        if let Some(last) = records.last()
            && records.len() > complete_lines(path, valid_len)?
        {
            warnings.push(format!(
                "{}: trial {} has no line end (interrupted write); dropped",
                path.display(),
                last.trial
            ));
            records.pop();
        }
        let file = OpenOptions::new().write(true).open(path).map_err(|e| StorageError::io(path, e))?;
        let len = file.metadata().map_err(|e| StorageError::io(path, e))?.len();
        if len != valid_len {
            file.set_len(valid_len).map_err(|e| StorageError::io(path, e))?;
            file.sync_all().map_err(|e| StorageError::io(path, e))?;
        }
        let file = OpenOptions::new().append(true).open(path).map_err(|e| StorageError::io(path, e))?;
        Ok((Self { path: path.to_path_buf(), file }, warnings))
    }

    /// Appends one record as a line and syncs it to disk.
    pub fn append(&mut self, record: &TrialRecord) -> Result<(), StorageError> {
        let mut line = serde_json::to_string(record).map_err(|e| StorageError::io(&self.path, e))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| StorageError::io(&self.path, e))?;
        self.file.sync_data().map_err(|e| StorageError::io(&self.path, e))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of a journal. A last line without its newline that does not parse is a
/// crash's half-written line: it is dropped and reported in the returned warnings. Any other bad
/// line is an error naming the file and line.
pub fn read_journal(path: &Path) -> Result<(Vec<TrialRecord>, Vec<String>), StorageError> {
    scan(path).map(|(r, w, _)| (r, w))
}

/// Records on the first `valid_len` bytes (complete lines).
fn complete_lines(path: &Path, valid_len: u64) -> Result<usize, StorageError> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path, e))?;
    let head = &bytes[..(valid_len as usize).min(bytes.len())];
    Ok(head.split(|&b| b == b'\n').filter(|l| l.iter().any(|b| !b.is_ascii_whitespace())).count())
}

/// [`read_journal`] plus the length in bytes of the complete lines.
pub(crate) fn scan(path: &Path) -> Result<(Vec<TrialRecord>, Vec<String>, u64), StorageError> {
    let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut buf = String::new();
    let mut line_no = 0;
    let mut valid_len = 0u64;
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(|e| StorageError::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.ends_with('\n');
        let text = buf.trim();
        if text.is_empty() {
            if complete {
                valid_len += n as u64;
            }
            continue;
        }
        match serde_json::from_str::<TrialRecord>(text) {
            Ok(r) if complete => {
                records.push(r);
                valid_len += n as u64;
            }
            // A whole record without its newline: shown by readers, but not committed (resume
            // cuts it and trains that trial again).
            Ok(r) => records.push(r),
            Err(_) if !complete => {
                warnings.push(format!("{}: line {line_no} is incomplete (interrupted write); dropped", path.display()));
            }
            Err(e) => {
                return Err(StorageError::Io {
                    path: path.display().to_string(),
                    message: format!("line {line_no}: {e}"),
                });
            }
        }
    }
    Ok((records, warnings, valid_len))
}

/// The records on the complete lines from byte `offset` on, and the offset after the last of
/// them (where the next call starts). A line still being written (no newline yet) is left for
/// the next call. A journal shorter than `offset` was cut back (a resume dropped a half-written
/// line): it is read again from the start. A bad complete line is an error naming the file and
/// the byte where the line starts. The flag says whether it was read from the start again.
pub(crate) fn scan_from(path: &Path, offset: u64) -> Result<(Vec<TrialRecord>, u64, bool), StorageError> {
    let mut file = File::open(path).map_err(|e| StorageError::io(path, e))?;
    let len = file.metadata().map_err(|e| StorageError::io(path, e))?.len();
    let start = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(start)).map_err(|e| StorageError::io(path, e))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.read_to_end(&mut bytes).map_err(|e| StorageError::io(path, e))?;
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    let mut at = start;
    for line in bytes[..whole].split_inclusive(|&b| b == b'\n') {
        let text = line.trim_ascii();
        if !text.is_empty() {
            let record = serde_json::from_slice::<TrialRecord>(text).map_err(|e| StorageError::Io {
                path: path.display().to_string(),
                message: format!("the line at byte {at}: {e}"),
            })?;
            records.push(record);
        }
        at += line.len() as u64;
    }
    Ok((records, start + whole as u64, start < offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlpnas_core::TrialStatus;

    fn rec(trial: usize, reward: f64) -> TrialRecord {
        TrialRecord {
            trial,
            epoch: 0,
            tokens: vec![1, 30],
            architecture: "8:sigmoid,3:softmax".into(),
            reward,
            val_acc_last: reward,
            predicted: None,
            transfers: 0,
            params: 10,
            seconds: 0.1,
            status: TrialStatus::Ok,
            epochs: vec![],
            metric: None,
            scores: Vec::new(),
            rescore_of: None,
            rungs: Vec::new(),
            objectives: Vec::new(),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mlpnas-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("tmp dir");
        d.join("journal.jsonl")
    }

    #[test]
    fn append_read_and_refuse_overwrite() {
        let p = tmp("rw");
        let mut j = Journal::create(&p).expect("create");
        j.append(&rec(0, 0.5)).expect("append");
        j.append(&rec(1, 0.7)).expect("append");
        let (r, w) = read_journal(&p).expect("read");
        assert_eq!(r, vec![rec(0, 0.5), rec(1, 0.7)]);
        assert!(w.is_empty());
        assert!(Journal::create(&p).is_err(), "an existing journal is never overwritten");
    }

    #[test]
    fn half_written_last_line_is_dropped_with_a_warning() {
        let p = tmp("half");
        let mut j = Journal::create(&p).expect("create");
        j.append(&rec(0, 0.5)).expect("append");
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(b"{\"trial\":1,\"epo").expect("write");
        let (r, w) = read_journal(&p).expect("read");
        assert_eq!(r.len(), 1);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("line 2"), "{w:?}");
    }

    #[test]
    fn reading_on_from_a_mark_takes_only_new_whole_lines() {
        let p = tmp("since");
        let mut j = Journal::create(&p).expect("create");
        j.append(&rec(0, 0.5)).expect("append");
        let (r, mark, again) = scan_from(&p, 0).expect("read");
        assert_eq!((r, again), (vec![rec(0, 0.5)], false));
        // A line being written is left for later; the mark stays before it.
        let mut f = OpenOptions::new().append(true).open(&p).expect("open");
        let line = serde_json::to_string(&rec(1, 0.7)).expect("json");
        f.write_all(&line.as_bytes()[..10]).expect("write");
        let (r, mark2, _) = scan_from(&p, mark).expect("read");
        assert!(r.is_empty());
        assert_eq!(mark2, mark);
        f.write_all(&line.as_bytes()[10..]).expect("write");
        f.write_all(b"\n").expect("write");
        let (r, mark3, _) = scan_from(&p, mark2).expect("read");
        assert_eq!(r, vec![rec(1, 0.7)]);
        assert_eq!(mark3, std::fs::metadata(&p).expect("len").len());
        // A journal cut back below the mark is read again from the start.
        std::fs::write(&p, format!("{}\n", serde_json::to_string(&rec(0, 0.5)).expect("json"))).expect("cut");
        let (r, _, again) = scan_from(&p, mark3).expect("read");
        assert_eq!((r, again), (vec![rec(0, 0.5)], true));
        // A bad whole line names the file and where it starts.
        std::fs::write(&p, "{\"trial\": oops\n").expect("write");
        let e = scan_from(&p, 0).expect_err("bad").to_string();
        assert!(e.contains("journal.jsonl") && e.contains("byte 0"), "{e}");
    }

    #[test]
    fn a_bad_complete_line_is_an_error() {
        let p = tmp("bad");
        std::fs::write(&p, "not json\n").expect("write");
        let e = read_journal(&p).expect_err("bad").to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
