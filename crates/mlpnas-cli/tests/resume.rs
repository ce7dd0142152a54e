//! Crash safety through the real binary: a search killed with SIGKILL at several points and
//! resumed ends with the same journal and per-epoch reports as an uninterrupted one (for every
//! store); Ctrl-C says how to resume; config changes on resume are refused unless safe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlpnas_core::TrialRecord;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mlpnas"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlpnas-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// 6 controller epochs x 4 trials on iris, 3 training epochs each, one-shot on.
fn search(out: &Path, store: &str, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/random.toml"));
    c.args(["--data", "builtin:iris", "--out"]).arg(out);
    for s in [
        "search.controller_epochs=6",
        "search.samples_per_epoch=4",
        "trainer.epochs=3",
        "space.units=[8, 16, 32]",
        &format!("store.type=\"{store}\""),
    ] {
        c.args(["--set", s]);
    }
    c.args(extra);
    c
}

fn resume(dir: &Path) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--resume"]).arg(dir);
    c
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

fn journal(dir: &Path) -> Vec<TrialRecord> {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
    text.lines().map(|l| serde_json::from_str(l).expect("record")).collect()
}

/// What must match between runs (everything but wall times).
fn essence(r: &TrialRecord) -> String {
    format!("{} {} {} {:?} {} {:?} {:?}", r.trial, r.epoch, r.architecture, r.reward, r.transfers, r.epochs, r.status)
}

fn succeed(cmd: &mut Command) {
    let out = cmd.output().expect("run mlpnas");
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts the search, SIGKILLs it once the journal holds `n` lines, resumes it (twice if the kill
/// left it unfinished) and checks it equals `reference`.
fn kill_at(dir: &Path, store: &str, extra: &[&str], n: usize, reference: &Path) {
    let mut child = search(dir, store, extra).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let journal_path = dir.join("journal.jsonl");
    let t0 = Instant::now();
    while lines(&journal_path) < n && t0.elapsed() < Duration::from_secs(120) {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let killed_at = lines(&journal_path);
    assert!(killed_at >= n.min(24), "journal had {killed_at} lines when killed, wanted {n}");
    succeed(&mut resume(dir));
    let a: Vec<String> = journal(reference).iter().map(essence).collect();
    let b: Vec<String> = journal(dir).iter().map(essence).collect();
    assert_eq!(a.len(), 24, "reference run");
    assert_eq!(b, a, "{store} store, killed after {killed_at} lines: resumed journal differs");
    let epochs = |d: &Path| std::fs::read_to_string(d.join("controller.jsonl")).expect("controller.jsonl");
    assert_eq!(epochs(dir), epochs(reference), "{store} store, killed after {killed_at} lines: epoch reports differ");
    assert!(dir.join("summary.json").exists());
    // Nothing left pending once finished.
    let pending = std::fs::read_dir(dir.join("pending")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(pending, 0, "pending weights left behind");
}

fn kill_and_resume_matches_uninterrupted(store: &str, extra: &[&str]) {
    let root = tmp(&format!("kill-{store}-{}", extra.len()));
    let reference = root.join("reference");
    succeed(&mut search(&reference, store, extra));
    // Points inside an epoch, right at epoch boundaries (4, 8, 16) and near the end.
    for n in [1, 4, 6, 8, 13, 16, 23] {
        kill_at(&root.join(format!("killed-{n}")), store, extra, n, &reference);
    }
}

#[test]
fn kill_and_resume_memory_store() {
    kill_and_resume_matches_uninterrupted("memory", &[]);
}

#[test]
fn kill_and_resume_disk_store() {
    kill_and_resume_matches_uninterrupted("disk", &[]);
}

#[test]
fn kill_and_resume_with_two_workers() {
    kill_and_resume_matches_uninterrupted("memory", &["--set", "search.workers=2"]);
}

#[test]
fn a_half_written_last_line_is_dropped_and_retrained() {
    let root = tmp("half");
    let reference = root.join("reference");
    succeed(&mut search(&reference, "memory", &[]));
    let dir = root.join("cut");
    let mut child = search(&dir, "memory", &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    while lines(&dir.join("journal.jsonl")) < 10 && child.try_wait().expect("wait").is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    // A crash in the middle of writing the next line leaves half of it.
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
    let k = text.lines().count();
    if k < 24 {
        let next = std::fs::read_to_string(reference.join("journal.jsonl")).expect("reference");
        let line = next.lines().nth(k).expect("line k");
        std::fs::write(dir.join("journal.jsonl"), format!("{text}{}", &line[..line.len() / 2])).expect("write");
        std::fs::remove_file(dir.join("summary.json")).ok();
    }
    let out = resume(&dir).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    if k < 24 {
        assert!(err.contains("incomplete") && err.contains(&format!("line {}", k + 1)), "{err}");
    }
    let a: Vec<String> = journal(&reference).iter().map(essence).collect();
    let b: Vec<String> = journal(&dir).iter().map(essence).collect();
    assert_eq!(a, b);
}

#[test]
fn ctrl_c_stops_and_says_how_to_resume() {
    let root = tmp("sigint");
    let dir = root.join("run");
    let mut c = search(&dir, "memory", &["--set", "search.controller_epochs=12"]);
    let child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let t0 = Instant::now();
    while lines(&dir.join("journal.jsonl")) < 3 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("--resume") && err.contains(&dir.display().to_string()), "{err}");
    let kept = journal(&dir);
    assert!(kept.len() >= 3 && kept.len() < 48, "{} trials kept", kept.len());
    // Shrinking the budget on resume is refused.
    let mut r = resume(&dir);
    r.args(["--set", "search.controller_epochs=3"]);
    let out = r.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("controller_epochs") && err.contains("grow"), "{err}");
    // Resuming as is finishes it, keeping what was done.
    succeed(&mut resume(&dir));
    let all = journal(&dir);
    assert_eq!(all.len(), 48);
    assert_eq!(&all[..kept.len()], &kept[..]);
}

#[test]
fn resume_refuses_unsafe_changes_and_continues_a_finished_run_with_more_epochs() {
    let root = tmp("changes");
    let dir = root.join("run");
    succeed(&mut search(&dir, "memory", &[]));
    let before = journal(&dir);
    // A finished search needs a bigger budget.
    let out = resume(&dir).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("already finished") && err.contains("controller_epochs"), "{err}");
    // Changing how trials are trained would make them incomparable.
    let mut r = resume(&dir);
    r.args(["--set", "trainer.epochs=5"]);
    let out = r.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("config.toml") && err.contains("trainer.epochs") && err.contains("refused"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Data options are refused with --resume.
    let mut r = resume(&dir);
    r.args(["--seed", "3"]);
    let out = r.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    // More controller epochs: the first 24 trials stay, 8 more follow; the result equals a run
    // made with 8 epochs from the start.
    let mut r = resume(&dir);
    r.args(["--set", "search.controller_epochs=8"]);
    succeed(&mut r);
    let after = journal(&dir);
    assert_eq!(after.len(), 32);
    assert_eq!(&after[..24], &before[..]);
    let fresh = root.join("fresh");
    succeed(&mut search(&fresh, "memory", &["--set", "search.controller_epochs=8"]));
    let a: Vec<String> = after.iter().map(essence).collect();
    let b: Vec<String> = journal(&fresh).iter().map(essence).collect();
    assert_eq!(a, b);
    let cfg = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(cfg.contains("controller_epochs = 8"), "{cfg}");
}
