//! Crash safety through the real binary: a search killed with SIGKILL at several points and
//! resumed ends with the same journal and per-epoch reports as an uninterrupted one (for every
//! store); Ctrl-C says how to resume; config changes on resume are refused unless safe.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlpnas_core::TrialRecord;
use support::{bin, journal, tmp, workspace};

/// 6 controller epochs x 4 trials on iris, 3 training epochs each, one-shot on.
fn search(out: &Path, store: &str, extra: &[&str]) -> Command {
    search_with("random", out, store, extra)
}

/// [`search`] with `configs/{config}.toml` (its controller).
fn search_with(config: &str, out: &Path, store: &str, extra: &[&str]) -> Command {
    search_shown(config, out, store, &[&["--quiet"], extra].concat())
}

/// [`search_with`] with its progress shown (epoch lines on stderr) unless `extra` says
/// `--quiet`.
fn search_shown(config: &str, out: &Path, store: &str, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("search");
    c.args(extra.iter().filter(|a| **a == "--quiet"));
    c.arg("--config").arg(workspace().join(format!("configs/{config}.toml")));
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
    c.args(extra.iter().filter(|a| **a != "--quiet"));
    c
}

/// Resumes on two threads (whatever the machine has: results never depend on it).
fn resume(dir: &Path) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--threads", "2", "--resume"]).arg(dir);
    c
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

/// What must match between runs (everything but wall times).
fn essence(r: &TrialRecord) -> String {
    format!(
        "{} {} {} {:?} {} {:?} {:?} {:?}",
        r.trial, r.epoch, r.architecture, r.reward, r.transfers, r.epochs, r.status, r.scores
    )
}

/// Runs `cmd`, which must fail with exit status 1; returns its stderr.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run mlpnas");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

fn succeed(cmd: &mut Command) {
    let out = cmd.output().expect("run mlpnas");
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts the search, SIGKILLs it once the journal holds `n` lines, resumes it (twice if the kill
/// left it unfinished) and checks it equals `reference`.
fn kill_at(dir: &Path, store: &str, extra: &[&str], n: usize, reference: &Path) {
    kill_at_with("random", dir, store, extra, n, reference);
}

fn kill_at_with(config: &str, dir: &Path, store: &str, extra: &[&str], n: usize, reference: &Path) {
    let mut child =
        search_with(config, dir, store, extra).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
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

/// `--threads` changes no journal: trials of an epoch train at once when they share no bigram
/// an earlier one writes, and are committed in order. Every controller, with shared bigrams
/// (iris's small space: most trials share one), with a disk store, and without one-shot (every
/// trial independent); the two-thread runs are also SIGKILLed and resumed on two threads.
#[test]
fn threads_change_no_journal_even_through_a_kill() {
    for (config, store, extra) in [
        ("random", "memory", &[][..]),
        ("evolution", "memory", &[][..]),
        ("seed-default", "memory", &[][..]),
        ("random", "disk", &[][..]),
        ("random", "memory", &["--set", "search.one_shot=false"][..]),
    ] {
        let root = tmp(&format!("threads-{config}-{store}-{}", extra.len()));
        let with = |threads: &'static str| [extra, &["--threads", threads]].concat();
        let reference = root.join("one");
        succeed(&mut search_with(config, &reference, store, &with("1")));
        let two = root.join("two");
        succeed(&mut search_with(config, &two, store, &with("2")));
        let essence_of = |d: &Path| journal(d).iter().map(essence).collect::<Vec<_>>();
        assert_eq!(essence_of(&two), essence_of(&reference), "{config} {store} {extra:?}: two threads");
        let epochs = |d: &Path| std::fs::read_to_string(d.join("controller.jsonl")).expect("controller.jsonl");
        assert_eq!(epochs(&two), epochs(&reference), "{config} {store} {extra:?}: epoch reports");
        if extra.is_empty() {
            let transfers: usize = journal(&reference).iter().map(|r| r.transfers).sum();
            assert!(transfers > 0, "{config}: no trial reused a bigram; the case shares none");
        }
        for n in [3, 10] {
            kill_at_with(config, &root.join(format!("killed-{n}")), store, &with("2"), n, &reference);
        }
    }
}

/// A space that searches every training setting (`--set space.*`).
const TRAINING_SPACE: [&str; 12] = [
    "--set",
    "space.learning_rate=[0.03, 0.003]",
    "--set",
    "space.batch_size=[16, 64]",
    "--set",
    "space.weight_decay=[0.0, 0.001]",
    "--set",
    "space.optimizer=[\"adam\", \"sgd\"]",
    "--set",
    "space.dropout=[0.0, 0.3]",
    "--set",
    "space.epochs=[2, 3]",
];

/// Training settings are tokens like the layers: every controller (random, evolution,
/// REINFORCE) proposes them, the trainer takes them from the candidate on both gradient paths,
/// the journal names them, and a run SIGKILLed and resumed gives the uninterrupted journal;
/// with 3-fold scoring too (each fold's weights shared under its own keys).
#[test]
fn training_settings_in_the_space_resume_exactly_after_sigkill_with_every_controller() {
    for (config, gradients, scoring) in [
        ("random", "closed-form", "search.batch=1"),
        ("evolution", "closed-form", "search.batch=1"),
        ("seed-default", "closed-form", "search.batch=1"),
        ("random", "autodiff", "search.batch=1"),
        ("evolution", "closed-form", "search.folds=3"),
    ] {
        let root = tmp(&format!("training-{config}-{gradients}-{}", scoring.len()));
        let g = format!("trainer.gradients=\"{gradients}\"");
        let extra = [&TRAINING_SPACE[..], &["--set", &g, "--set", scoring]].concat();
        let reference = root.join("reference");
        succeed(&mut search_with(config, &reference, "memory", &extra));
        let records = journal(&reference);
        let texts: std::collections::HashSet<&str> = records.iter().map(|r| r.architecture.as_str()).collect();
        for r in &records {
            let (_, training) = r.architecture.split_once('|').expect("training settings in the journal");
            let t = mlpnas_core::Training::parse(training).expect("parses");
            assert!(t.learning_rate.is_some() && t.epochs.is_some() && t.optimizer.is_some(), "{}", r.architecture);
            // The candidate's epochs were trained (none diverges on iris at these rates).
            assert_eq!(r.epochs.len(), t.epochs.expect("epochs") as usize, "{}", r.architecture);
            assert_eq!(r.scores.len(), if scoring.contains("folds") { 3 } else { 0 });
        }
        assert_eq!(texts.len(), records.len(), "{config}: a candidate proposed twice");
        let settings: std::collections::HashSet<&str> =
            texts.iter().filter_map(|t| t.split_once('|')).map(|(_, s)| s).collect();
        assert!(settings.len() > 4, "{config}: the settings hardly vary: {settings:?}");
        for n in [6, 13] {
            kill_at_with(config, &root.join(format!("killed-{n}")), "memory", &extra, n, &reference);
        }
    }
}

/// TPE (issue 35), alone and in multi-objective searches (reward against params) with TPE and
/// with evolution's NSGA-II tournament: every trial records both values, and a run SIGKILLed
/// inside and between epochs resumes to the uninterrupted journal, objectives included.
#[test]
fn tpe_and_multi_objective_searches_resume_exactly_after_sigkill() {
    let objectives = ["--set", "search.objectives=[\"reward\", \"params\"]"];
    for (config, extra) in [("tpe", &[][..]), ("tpe", &objectives[..]), ("evolution", &objectives[..])] {
        let root = tmp(&format!("tpe-mo-{config}-{}", extra.len()));
        let reference = root.join("reference");
        succeed(&mut search_with(config, &reference, "memory", extra));
        let records = journal(&reference);
        assert_eq!(records.len(), 24);
        for r in &records {
            let names: Vec<&str> = r.objectives.iter().map(|o| o.name.name()).collect();
            if extra.is_empty() {
                assert!(names.is_empty(), "a single-objective run recorded {names:?}");
            } else {
                assert_eq!(names, ["reward", "params"]);
                assert_eq!((r.objectives[0].value, r.objectives[1].value), (r.reward, r.params as f64));
            }
        }
        let texts: std::collections::HashSet<&str> = records.iter().map(|r| r.architecture.as_str()).collect();
        assert_eq!(texts.len(), records.len(), "{config}: a candidate proposed twice");
        for n in [6, 13] {
            kill_at_with(config, &root.join(format!("killed-{n}")), "memory", extra, n, &reference);
        }
        let objectives_of = |d: &Path| journal(d).iter().map(|r| r.objectives.clone()).collect::<Vec<_>>();
        assert_eq!(objectives_of(&root.join("killed-13")), objectives_of(&reference));
    }
}

/// `search.rescore_top`: after the last epoch the best candidates are trained again from
/// scratch and journaled as re-evaluations; the controller epochs' trials are those of the same
/// search without re-scoring (controllers never see them); a run SIGKILLed while re-scoring
/// resumes to the uninterrupted journal; and a re-scored run cannot grow more epochs.
#[test]
fn rescoring_follows_the_search_and_resumes_exactly_after_sigkill() {
    let root = tmp("rescore");
    let rescore = ["--set", "search.rescore_top=3", "--set", "search.rescore_seeds=2"];
    let reference = root.join("reference");
    succeed(&mut search(&reference, "memory", &rescore));
    let plain = root.join("plain");
    succeed(&mut search(&plain, "memory", &[]));
    let (with, without) = (journal(&reference), journal(&plain));
    assert_eq!(with.len(), 24 + 6);
    let essences = |v: &[TrialRecord]| v.iter().map(essence).collect::<Vec<_>>();
    assert_eq!(essences(&with[..24]), essences(&without), "re-scoring changed the search");
    let best: Vec<usize> = mlpnas_core::top_n(&without, 3).iter().map(|r| r.trial).collect();
    let of: Vec<Option<usize>> = with[24..].iter().map(|r| r.rescore_of).collect();
    let want: Vec<Option<usize>> = best.iter().flat_map(|&t| [Some(t), Some(t)]).collect();
    assert_eq!(of, want);
    for r in &with[24..] {
        let original = &with[r.rescore_of.expect("a re-evaluation")];
        assert_eq!((r.tokens.clone(), r.transfers), (original.tokens.clone(), 0), "trial {}", r.trial);
        assert_ne!(r.epochs, original.epochs, "trial {}: trained again with its own seed", r.trial);
    }
    for n in [24, 26] {
        let dir = root.join(format!("killed-{n}"));
        let mut child =
            search(&dir, "memory", &rescore).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        let t0 = Instant::now();
        while lines(&dir.join("journal.jsonl")) < n && t0.elapsed() < Duration::from_secs(120) {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        // (Iris is quick: the search may have finished before the kill.)
        if !dir.join("summary.json").exists() {
            succeed(&mut resume(&dir));
        }
        assert_eq!(essences(&journal(&dir)), essences(&with), "killed after {n} lines");
    }
    // report --json and finalize give what the run ranks by: the mean of the scores.
    let mean = |t: usize| {
        let all: Vec<f64> = with.iter().filter(|r| r.trial == t || r.rescore_of == Some(t)).map(|r| r.reward).collect();
        all.iter().sum::<f64>() / all.len() as f64
    };
    let out = bin().args(["report", "--json", "--top", "24"]).arg(&reference).output().expect("report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let shown = shown.as_array().expect("a list");
    assert_eq!(shown.len(), 24, "every trial, no re-evaluation");
    for r in shown {
        let t = r["trial"].as_u64().expect("trial") as usize;
        if best.contains(&t) {
            assert!((r["ranking_reward"].as_f64().expect("ranking_reward") - mean(t)).abs() < 1e-12, "{r}");
            assert_eq!(r["rescores"].as_array().map(Vec::len), Some(2), "{r}");
        } else {
            assert!(r.get("ranking_reward").is_none() && r.get("rescores").is_none(), "{r}");
        }
    }
    let fin =
        bin().args(["--quiet", "finalize", "--top", "24", "--epochs", "1"]).arg(&reference).output().expect("fin");
    assert!(fin.status.success(), "{}", String::from_utf8_lossy(&fin.stderr));
    // Every candidate (re-scored ones may rank anywhere: their means are often lower, which is
    // the point of re-scoring).
    let mut rescored_cards = 0;
    for k in 1..=24 {
        let card: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reference.join(format!("final/model-{k}/model.json"))).expect("model.json"),
        )
        .expect("card");
        let m = &card["metrics"];
        let t = m["trial"].as_u64().expect("trial") as usize;
        rescored_cards += usize::from(best.contains(&t));
        assert!((m["search_reward"].as_f64().expect("search_reward") - mean(t)).abs() < 1e-12, "{m}");
    }
    assert_eq!(rescored_cards, 3);
    let mut more = resume(&reference);
    more.args(["--set", "search.controller_epochs=7"]);
    let out = more.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("re-scored"), "{err}");
}

/// Successive halving (rungs at 1 and 3 epochs, eta 3: the best of each epoch's 4 candidates
/// trains on) through the binary, with one-shot sharing: each epoch's records show 4 trials at
/// 1 epoch and one continued to 3 (its metrics cover all 3 epochs); SIGKILLed inside brackets and
/// between them, and resumed on two threads, the journal (rungs included) is the uninterrupted
/// one's.
#[test]
fn successive_halving_resumes_exactly_after_sigkill() {
    let extra = ["--set", "scheduler.type=\"successive-halving\"", "--set", "scheduler.min_epochs=1"];
    let root = tmp("kill-halving");
    let reference = root.join("reference");
    succeed(&mut search(&reference, "memory", &extra));
    let j = journal(&reference);
    for e in 0..6 {
        let group: Vec<&TrialRecord> = j.iter().filter(|r| r.epoch == e).collect();
        assert_eq!(group.len(), 4);
        assert_eq!(group.iter().filter(|r| r.rungs.len() == 2).count(), 1, "epoch {e}: one goes on");
        for r in &group {
            let last = r.rungs.last().expect("rungs");
            assert_eq!(r.rungs[0].epochs, 1);
            assert_eq!((r.epochs.len(), r.reward), (last.epochs, last.reward), "trial {}", r.trial);
        }
    }
    let rungs = |d: &Path| journal(d).iter().map(|r| r.rungs.clone()).collect::<Vec<_>>();
    for n in [2, 4, 9, 23] {
        let dir = root.join(format!("killed-{n}"));
        kill_at(&dir, "memory", &extra, n, &reference);
        assert_eq!(rungs(&dir), rungs(&reference), "killed after {n} lines");
    }
}

/// What a scheduler cannot run is a one-line error naming the setting, before anything trains.
#[test]
fn bad_schedulers_are_one_line_errors() {
    let root = tmp("bad-scheduler");
    let sh = ["--set", "scheduler.type=\"successive-halving\"", "--set", "scheduler.min_epochs=1"];
    for (i, (extra, needles)) in [
        (&["--set", "search.folds=3"][..], &["scheduler.type", "search.folds"][..]),
        (&["--set", "space.epochs=[2, 3]"], &["scheduler.type", "remove `epochs`"]),
        (&["--set", "scheduler.eta=1"], &["scheduler.eta", "at least 2"]),
        (&["--set", "scheduler.min_epochs=4"], &["scheduler.min_epochs", "more than max_epochs"]),
        (&["--set", "scheduler.max_epochs=5"], &["scheduler.max_epochs", "more than a full trial's 3 epochs"]),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = root.join(format!("run-{i}"));
        let err = refused(&mut search(&dir, "memory", &[&sh[..], extra].concat()));
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!dir.join("journal.jsonl").exists(), "{extra:?}: a refused search left a run behind");
        for n in needles {
            assert!(err.contains(n), "{extra:?}: {err}");
        }
    }
    let median = ["--set", "scheduler.type=\"median\"", "--set", "scheduler.warmup=3"];
    let err = refused(&mut search(&root.join("median"), "memory", &median));
    assert!(err.contains("scheduler.warmup") && err.contains("no epoch to stop at"), "{err}");
    let err = refused(&mut search(&root.join("unknown"), "memory", &["--set", "scheduler.type=\"asha\""]));
    assert!(err.contains("scheduler") && err.contains("hyperband"), "{err}");
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
    let err = refused(&mut resume(&dir));
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

/// A time budget ends the search at an epoch boundary with its summary written (a budget far
/// below one epoch's time stops it after the first epoch); resuming with the same budget is
/// refused with the setting to raise, with a larger one the run goes on to the same journal as
/// one made without a budget; a budget that is not a duration is a one-line error. An epoch
/// budget stops at the same trial on every machine.
#[test]
fn a_time_budget_ends_the_search_and_a_larger_one_continues_it() {
    let root = tmp("budget");
    let dir = root.join("run");
    let err = refused(&mut search(&dir, "memory", &["--set", "search.time_budget=\"1ms\""]));
    assert!(err.contains("search.time_budget") && err.contains("not a duration"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    succeed(&mut search(&dir, "memory", &["--set", "search.time_budget=0.001"]));
    assert_eq!(journal(&dir).len(), 4, "one epoch of 4 trials");
    let summary = std::fs::read_to_string(dir.join("summary.json")).expect("summary");
    assert!(summary.contains("\"finished\": true") || summary.contains("\"finished\":true"), "{summary}");
    let err = refused(&mut resume(&dir));
    assert!(err.contains("already finished") && err.contains("search.time_budget="), "{err}");
    let mut r = resume(&dir);
    r.args(["--set", "search.time_budget=\"2h\""]);
    succeed(&mut r);
    let fresh = root.join("fresh");
    succeed(&mut search(&fresh, "memory", &[]));
    let a: Vec<String> = journal(&dir).iter().map(essence).collect();
    let b: Vec<String> = journal(&fresh).iter().map(essence).collect();
    assert_eq!(a, b);
    let cfg = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert!(cfg.contains("time_budget = 7200"), "{cfg}");
    // An epoch budget stops where the config says, whatever the machine: 2 epochs of 4 trials
    // of 3 training epochs spend 24; the progress line shows it.
    let epochs = root.join("epochs");
    let out = search_shown("random", &epochs, "memory", &["--set", "search.epoch_budget=24"]).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("budget 24 of 24 epochs") && err.contains("the epoch budget (24 training epochs) is spent"),
        "{err}"
    );
    let a: Vec<String> = journal(&epochs).iter().map(essence).collect();
    assert_eq!(a[..], b[..8]);
    let out = resume(&epochs).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("search.epoch_budget=48"));
}

/// One writer per run: a second `search --resume` on a run being searched is refused in one
/// line naming the holder (pid, host, start time), writes nothing, and the first search ends
/// with a journal that `report` reads.
#[test]
fn a_second_writer_is_refused_and_changes_nothing() {
    let root = tmp("two-writers");
    let dir = root.join("run");
    let mut first = search(&dir, "memory", &["--set", "search.controller_epochs=30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let journal_path = dir.join("journal.jsonl");
    let t0 = Instant::now();
    while lines(&journal_path) < 2 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = resume(&dir).output().expect("run mlpnas");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use by another process") && err.contains(&format!("pid {} on ", first.id())), "{err}");
    assert!(err.contains("since 20"), "the holder's start time: {err}");
    let status = first.wait().expect("wait");
    assert!(status.success(), "the first search was disturbed");
    assert_eq!(journal(&dir).len(), 120);
    let report = bin().args(["report", "--top", "3"]).arg(&dir).output().expect("report");
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));

    // The same against a holder that is this test process: the journal stays byte-identical.
    let mut held = mlpnas_runs::RunDir::new(&dir);
    mlpnas_core::RunStorage::lock(&mut held).expect("lock");
    let before = std::fs::read(&journal_path).expect("journal");
    let controller_before = std::fs::read(dir.join("controller.jsonl")).expect("epochs");
    let out = resume(&dir).args(["--set", "search.controller_epochs=40"]).output().expect("run mlpnas");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("pid {} on ", std::process::id())), "{err}");
    assert_eq!(std::fs::read(&journal_path).expect("journal"), before, "the refused writer wrote");
    assert_eq!(std::fs::read(dir.join("controller.jsonl")).expect("epochs"), controller_before);
    assert!(std::fs::read_to_string(dir.join("config.toml")).expect("config").contains("controller_epochs = 30"));
    // Readers need no lock.
    let report = bin().args(["report", "--json"]).arg(&dir).output().expect("report");
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    drop(held);
    succeed(resume(&dir).args(["--set", "search.controller_epochs=31"]));
    assert_eq!(journal(&dir).len(), 124);
}

/// A run directory written by the previous release (0.1.0: JSON pending weights, the binary
/// memory-store snapshot of then, `StdRng` streams), interrupted after 6 of 12 trials, resumes to
/// exactly the journal that release wrote without interruption.
#[test]
fn a_run_directory_of_the_previous_release_resumes_exactly() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tmp("previous-release").join("run");
    std::fs::create_dir_all(dir.join("checkpoint")).expect("dir");
    std::fs::create_dir_all(dir.join("pending")).expect("dir");
    for entry in walk(&fixtures.join("run-0.1.0")) {
        let rel = entry.strip_prefix(fixtures.join("run-0.1.0")).expect("inside");
        std::fs::copy(&entry, dir.join(rel)).expect("copy");
    }
    assert!(dir.join("pending/trial-000004.json").exists(), "the fixture holds JSON pending weights");
    succeed(&mut resume(&dir));
    let expected: Vec<String> =
        journal_text(&fixtures.join("run-0.1.0.expected-journal.jsonl")).iter().map(essence).collect();
    let got: Vec<String> = journal(&dir).iter().map(essence).collect();
    assert_eq!(expected.len(), 12);
    assert_eq!(got, expected, "the resumed journal differs from the previous release's uninterrupted one");
}

fn journal_text(path: &Path) -> Vec<TrialRecord> {
    let text = std::fs::read_to_string(path).expect("journal");
    text.lines().map(|l| serde_json::from_str(l).expect("record")).collect()
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// The store puts a resume replays (`pending/`) carry a checksum of their tensors: a value
/// altered in one is refused in one line, and the run resumes once the file is put back.
#[test]
fn an_altered_pending_weights_file_is_refused_on_resume() {
    let dir = tmp("altered-pending");
    let mut child =
        search(&dir, "memory", &["--set", "search.samples_per_epoch=40", "--set", "search.controller_epochs=1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
    let journal_path = dir.join("journal.jsonl");
    let t0 = Instant::now();
    while lines(&journal_path) < 5
        && t0.elapsed() < Duration::from_secs(120)
        && child.try_wait().expect("wait").is_none()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    let pending: Vec<PathBuf> = std::fs::read_dir(dir.join("pending"))
        .expect("pending/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    assert!(!pending.is_empty(), "killed mid-epoch, after {} trials: pending weights expected", lines(&journal_path));
    let path = &pending[0];
    let good = std::fs::read(path).expect("read");
    let mut bad = good.clone();
    let at = bad.len() - 2; // inside the last tensor's values
    bad[at] ^= 0x10;
    std::fs::write(path, &bad).expect("alter");
    let out = resume(&dir).output().expect("resume");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.trim().lines().count() == 1 && err.contains("checksum"), "{err}");
    std::fs::write(path, &good).expect("put back");
    succeed(&mut resume(&dir));
    assert_eq!(journal(&dir).len(), 40);
}
