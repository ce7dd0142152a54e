//! `finalize` on real tiny searches (built-in iris, Burn trainer): files and leaderboard, the
//! test part, warm starts from the memory and the disk store, and refusals that protect data.

use std::path::{Path, PathBuf};

use mlpnas_final::{FinalizeOptions, Init, Predictor, finalize};
use mlpnas_runs::RunDir;
use mlpnas_search::{Run, Search, SearchConfig, prepare_data};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlpnas-final-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Runs a 6-trial random search on iris into a fresh run directory.
fn search(name: &str, test_fraction: f64, store: &str) -> PathBuf {
    mlpnas_link::link_all();
    let text = format!(
        r#"
seed = 3
[data]
source = "builtin:iris"
valid_fraction = 0.2
test_fraction = {test_fraction}
[space]
units = [8, 16]
max_len = 3
[search]
controller_epochs = 2
samples_per_epoch = 3
one_shot = true
[controller]
type = "random"
[trainer]
type = "burn"
epochs = 3
[store]
type = "{store}"
"#
    );
    let cfg =
        SearchConfig::from_toml(&text, "test", Path::new("."), &[]).and_then(SearchConfig::check).expect("config");
    let data = prepare_data(&cfg).expect("data");
    let dir = tmp(name);
    let run = Run::create(Box::new(RunDir::new(&dir)), cfg).expect("run");
    Search::new(run, &data).expect("search").run(&mut ()).expect("run");
    dir
}

fn opts(top: usize, init: Init) -> FinalizeOptions {
    FinalizeOptions { top, max_epochs: 40, patience: 5, init, test_fraction: 0.1, out: None, backend: None }
}

#[test]
fn exports_models_and_a_leaderboard() {
    let run = search("export", 0.0, "memory");
    let mut lines = Vec::new();
    let board = finalize(&run, &opts(2, Init::Scratch), &mut |l| lines.push(l.to_string())).expect("finalize");
    let out = run.join("final");
    assert_eq!(board.dir, out);
    assert!(board.test_carved_from_train);
    assert_eq!(board.entries.len(), 2);
    for f in ["leaderboard.json", "leaderboard.md"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("leaderboard.md")).expect("md");
    let json: mlpnas_final::Leaderboard =
        serde_json::from_str(&std::fs::read_to_string(out.join("leaderboard.json")).expect("json")).expect("parse");
    assert_eq!(json.entries, board.entries);
    let mut ranks: Vec<usize> = board.entries.iter().map(|e| e.metrics.rank).collect();
    ranks.sort_unstable();
    assert_eq!(ranks, [1, 2]);
    for w in board.entries.windows(2) {
        assert!(w[0].metrics.val_acc >= w[1].metrics.val_acc, "sorted by validation accuracy");
    }
    for e in &board.entries {
        assert!(md.contains(&e.architecture));
        let m = &e.metrics;
        // iris: 150 rows, 30 validation rows (20%), 15 test rows (10%) carved out of training.
        assert_eq!(m.rows, [105, 30, 15]);
        assert!(m.epochs_run >= m.best_epoch && m.best_epoch >= 1);
        assert!(m.epochs_run <= 40);
        // The card says which is the limit and which was run (issue 37).
        assert_eq!((m.max_epochs, m.patience), (Some(40), Some(5)));
        assert_eq!(m.init, "scratch");
        assert_eq!(m.transfers, 0);
        assert!((0.0..=1.0).contains(&m.test_acc));
        assert!(m.val_acc > 0.6, "{e:?}");
        let dir = out.join(&e.model_dir);
        let p = Predictor::load(&dir).expect("load");
        assert_eq!(p.card().architecture, e.architecture);
        assert_eq!(p.card().metrics, *m);
        assert!(p.card().standardizer.is_some());
        let preds = p.predict_source(&"builtin:iris".parse().expect("source"), Path::new(".")).expect("predict");
        assert_eq!(preds.classes.len(), 150);
        let acc = preds.score(&p.card().class_names).and_then(|s| s.accuracy).expect("labels known");
        assert!(acc > 0.6, "{acc}");
    }
    assert!(lines.iter().any(|l| l.contains("carved out")), "{lines:?}");
    // No temporary directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&run)
        .expect("run dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Finalizing again never overwrites: the first leaderboard stays as it was.
    let e = finalize(&run, &opts(1, Init::Scratch), &mut |_| {}).expect_err("exists");
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(std::fs::read_to_string(out.join("leaderboard.md")).expect("md"), md);
    // Another --out works, and is deterministic for the run's seed.
    let mut o = opts(2, Init::Scratch);
    o.out = Some(run.join("again"));
    let again = finalize(&run, &o, &mut |_| {}).expect("again");
    let strip = |b: &mlpnas_final::Leaderboard| -> Vec<(String, f64, f64, usize)> {
        b.entries
            .iter()
            .map(|e| (e.architecture.clone(), e.metrics.val_acc, e.metrics.test_acc, e.metrics.epochs_run))
            .collect()
    };
    assert_eq!(strip(&again), strip(&board));
    std::fs::remove_dir_all(&run).ok();
}

#[test]
fn from_shared_needs_a_test_part_and_starts_from_the_store() {
    let run = search("shared-refused", 0.0, "memory");
    let e = finalize(&run, &opts(1, Init::Shared), &mut |_| {}).expect_err("leak");
    assert!(e.to_string().contains("--from-scratch"), "{e}");
    assert!(!run.join("final").exists());
    std::fs::remove_dir_all(&run).ok();

    for store in ["memory", "disk"] {
        let run = search(&format!("shared-{store}"), 0.1, store);
        let board = finalize(&run, &opts(2, Init::Shared), &mut |_| {}).expect("finalize");
        assert!(!board.test_carved_from_train);
        for e in &board.entries {
            let dense = e.architecture.split(',').filter(|l| *l != "dropout").count();
            // Every layer of an architecture the search trained has its bigram in the store.
            assert_eq!(e.metrics.transfers, dense, "{store}: {e:?}");
            assert_eq!(e.metrics.init, "shared");
            assert_eq!(e.metrics.rows, [105, 30, 15]);
        }
        std::fs::remove_dir_all(&run).ok();
    }
}

#[test]
fn bad_requests_are_clear_errors() {
    let missing = tmp("missing");
    let e = finalize(&missing, &opts(1, Init::Scratch), &mut |_| {}).expect_err("no run");
    assert!(e.to_string().contains("journal.jsonl"), "{e}");
    let run = search("bad", 0.0, "memory");
    let mut o = opts(1, Init::Scratch);
    o.patience = 0;
    assert!(finalize(&run, &o, &mut |_| {}).is_err());
    let e = Predictor::load(&run).expect_err("not a model dir");
    assert!(e.to_string().contains("model.json"), "{e}");
    std::fs::remove_dir_all(&run).ok();
}
