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
    search_on(name, test_fraction, store, "builtin:iris", "flex")
}

/// Runs a 6-trial random search on `source` with the Burn trainer on `backend`.
fn search_on(name: &str, test_fraction: f64, store: &str, source: &str, backend: &str) -> PathBuf {
    mlpnas_link::link_all();
    // The one built-in regression.
    let task = if source == "builtin:diabetes" { "regression" } else { "classification" };
    let text = format!(
        r#"
seed = 3
[data]
source = "{source}"
valid_fraction = 0.2
test_fraction = {test_fraction}
[space]
units = [8, 16]
max_len = 3
[search]
task = "{task}"
controller_epochs = 2
samples_per_epoch = 3
one_shot = true
[controller]
type = "random"
[trainer]
type = "burn"
backend = "{backend}"
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
    FinalizeOptions {
        top,
        max_epochs: 40,
        patience: 5,
        init,
        test_fraction: 0.1,
        out: None,
        backend: None,
        ..Default::default()
    }
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
        let acc = preds.score(&p.card().class_names, None).and_then(|s| s.accuracy).expect("labels known");
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

/// A two-class table with a text column, for a sigmoid output.
fn two_class_csv(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let mut s = String::from("a,b,kind,label\n");
    for r in 0..120u32 {
        let y = r % 3 == 0;
        let a = f64::from(r % 17) / 4.0 + if y { 2.0 } else { 0.0 };
        let b = f64::from((r * 7) % 13) - 6.0;
        let kind = ["x", "y", "z"][(r % 3) as usize];
        s.push_str(&format!("{a},{b},{kind},{}\n", if y { "yes" } else { "no" }));
    }
    let path = dir.join("two.csv");
    std::fs::write(&path, s).expect("write");
    path
}

/// `model.onnx` run by a pure-Rust ONNX runtime (tract) gives `predict`'s probabilities within
/// 1e-5, for a softmax and a sigmoid output, on every backend's model; `export-onnx`
/// (`Predictor::write_onnx`) writes the same bytes again.
#[test]
fn model_onnx_runs_as_predict_does_on_every_backend() {
    use tract_onnx::prelude::*;
    let csv = two_class_csv(&tmp("onnx-data"));
    for backend in mlpnas_backend::Backend::for_suites() {
        for (name, source) in [
            ("iris", "builtin:iris".to_string()),
            ("two", csv.display().to_string()),
            ("diabetes", "builtin:diabetes".to_string()),
        ] {
            let run = search_on(&format!("onnx-{name}-{backend}"), 0.0, "memory", &source, &backend.to_string());
            let board = finalize(&run, &opts(1, Init::Scratch), &mut |_| {}).expect("finalize");
            let dir = run.join("final").join(&board.entries[0].model_dir);
            let p = Predictor::load(&dir).expect("load");
            let width = p.card().feature_names.len();
            let s = p.card().standardizer.clone().expect("standardized");
            // Rows spread over each feature's training range (mean +- 2 sd).
            let rows = 64;
            let x: Vec<f32> = (0..rows * width)
                .map(|k| {
                    let f = k % width;
                    let u = ((k * 7919) % 1000) as f32 / 500.0 - 1.0;
                    s.mean[f] + 2.0 * u * s.std[f]
                })
                .collect();
            let want = p.predict_raw(&x, rows).expect("predict").proba;
            let classes = want.len() / rows;
            assert_eq!(
                classes,
                [("iris", 3), ("two", 2), ("diabetes", 1)].iter().find(|c| c.0 == name).expect("case").1
            );
            let model = tract_onnx::onnx()
                .model_for_path(dir.join("model.onnx"))
                .and_then(|m| m.with_input_fact(0, f32::fact([rows, width]).into()))
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
                .unwrap_or_else(|e| panic!("{backend} {name}: tract cannot load model.onnx: {e:?}"));
            let input: Tensor = tract_ndarray::Array2::from_shape_vec((rows, width), x).expect("shape").into();
            let out = model.run(tvec!(input.into())).expect("run");
            let got: Vec<f32> = out[0].to_array_view::<f32>().expect("f32").iter().copied().collect();
            assert_eq!(got.len(), want.len(), "{backend} {name}");
            // Within 1e-5 of the value (a regression predicts in the label's units: ~150 here).
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / w.abs().max(1.0)).fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-5,
                "{backend} {name}: ONNX and predict differ by {worst}: {:?} vs {:?}",
                &got[..6],
                &want[..6]
            );
            let bytes = std::fs::read(dir.join("model.onnx")).expect("onnx");
            std::fs::remove_file(dir.join("model.onnx")).expect("rm");
            p.write_onnx().expect("export");
            assert_eq!(std::fs::read(dir.join("model.onnx")).expect("again"), bytes, "{backend} {name}");
        }
    }
}
