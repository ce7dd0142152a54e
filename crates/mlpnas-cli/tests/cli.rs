//! End-to-end tests through the real `mlpnas` binary: searches on tiny budgets, determinism,
//! the other subcommands, and bad input (one-line error naming the file, exit 1, no panic).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use mlpnas_core::TrialRecord;
use support::{bin, fails, journal, ok, run, tmp, workspace};

/// The backend under test, when one is named (`mlpnas_backend::Backend::under_test`; `.ci/run`
/// sets `tch-cpu` for its LibTorch pass): searches and evaluations train on it.
fn test_backend() -> Option<String> {
    mlpnas_backend::Backend::under_test().map(|b| b.to_string())
}

/// `--set trainer.backend=...` for the backend under test (nothing without one).
fn backend_args() -> Vec<String> {
    test_backend().map(|b| vec!["--set".to_string(), format!("trainer.backend={b}")]).unwrap_or_default()
}

fn config() -> PathBuf {
    workspace().join("configs/random.toml")
}

/// A tiny search: `epochs` controller epochs of `samples`, 2 training epochs each.
fn tiny_search(out: &Path, data: &str, epochs: usize, samples: usize, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--config"]).arg(config()).args(["--data", data, "--out"]).arg(out);
    c.args(["--set", &format!("search.controller_epochs={epochs}")]);
    c.args(["--set", &format!("search.samples_per_epoch={samples}")]);
    c.args(["--set", "trainer.epochs=2", "--set", "space.units=[8, 16, 32]"]);
    c.args(backend_args());
    c.args(extra);
    c
}

#[test]
fn search_on_a_builtin_prints_the_top_and_journals_distinct_trials() {
    let d = tmp("builtin");
    let out = ok(&mut tiny_search(&d.join("run"), "builtin:iris", 3, 4, &[]));
    assert!(out.contains("rank"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains(":softmax")).count(), 5, "top 5 listed: {out}");
    let recs = journal(&d.join("run"));
    assert_eq!(recs.len(), 12);
    let mut archs: Vec<&str> = recs.iter().map(|r| r.architecture.as_str()).collect();
    archs.sort_unstable();
    archs.dedup();
    assert_eq!(archs.len(), 12, "architectures are distinct");
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.trial, i);
        assert_eq!(r.epoch, i / 4);
        assert!((0.0..=1.0).contains(&r.reward));
        assert_eq!(r.epochs.len(), 2);
        assert!(r.predicted.is_none());
    }
    // One-shot sharing is on: later trials reuse some layer bigrams of earlier ones.
    assert!(recs.iter().map(|r| r.transfers).sum::<usize>() > 0);
    // Iris is easy: the best of 12 is well above chance (1/3).
    assert!(recs.iter().map(|r| r.reward).fold(0.0, f64::max) > 0.6);
    assert!(d.join("run/config.toml").exists());
}

#[test]
fn same_seed_gives_identical_rewards() {
    let d = tmp("seed");
    let rewards = |name: &str, seed: &str| -> Vec<f64> {
        ok(&mut tiny_search(&d.join(name), "builtin:iris", 2, 3, &["--seed", seed, "--set", "space.max_len=4"]));
        journal(&d.join(name)).iter().map(|r| r.reward).collect()
    };
    let a = rewards("a", "7");
    let b = rewards("b", "7");
    let c = rewards("c", "8");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn wine_quality_from_shared_data() {
    let csv = workspace().join("../shared/data/wine-quality.csv");
    if !csv.exists() {
        eprintln!("skipped: {} is absent", csv.display());
        return;
    }
    let d = tmp("wine");
    let mut c = tiny_search(&d.join("run"), csv.to_str().expect("utf8"), 1, 3, &[]);
    c.args(["--label", "quality_label", "--drop", "#0,quality"]);
    ok(&mut c);
    let recs = journal(&d.join("run"));
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.architecture.ends_with("3:softmax")));
}

#[test]
fn binary_task_uses_one_sigmoid_output() {
    let d = tmp("binary");
    ok(&mut tiny_search(&d.join("run"), "builtin:breast-cancer", 1, 2, &[]));
    let recs = journal(&d.join("run"));
    assert!(recs.iter().all(|r| r.architecture.ends_with("1:sigmoid")), "{recs:?}");
    assert!(recs.iter().map(|r| r.reward).fold(0.0, f64::max) > 0.8);
}

#[test]
fn an_exhausted_space_ends_the_search_early_with_a_notice() {
    let d = tmp("exhausted");
    let mut c = bin();
    c.args(["search", "--config"]).arg(config()).args(["--data", "builtin:iris", "--out"]).arg(d.join("run"));
    c.args(["--set", "space.units=[8]", "--set", "space.activations=[\"relu\"]", "--set", "trainer.epochs=1"]);
    c.args(["--set", "search.samples_per_epoch=2"]);
    let out = run(&mut c);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("untried architecture(s) left") || err.contains("exhausted"), "{err}");
    // The space holds exactly 3 architectures: 8:relu / 8:relu,8:relu / 8:relu,dropout.
    assert_eq!(journal(&d.join("run")).len(), 3);
}

#[test]
fn rank_three_inputs_are_flattened() {
    let d = tmp("digits");
    ok(&mut tiny_search(&d.join("run"), "builtin:digits", 1, 1, &["--set", "trainer.epochs=1"]));
    assert_eq!(journal(&d.join("run")).len(), 1);
}

#[test]
fn an_existing_run_directory_is_never_overwritten() {
    let d = tmp("exists");
    ok(&mut tiny_search(&d.join("run"), "builtin:iris", 1, 1, &[]));
    let before = std::fs::read(d.join("run/journal.jsonl")).expect("journal");
    let err = fails(&mut tiny_search(&d.join("run"), "builtin:iris", 1, 1, &[]));
    assert!(err.contains("already holds a search"), "{err}");
    assert_eq!(std::fs::read(d.join("run/journal.jsonl")).expect("journal"), before);
}

#[test]
fn eval_trains_one_architecture() {
    let out = ok(bin()
        .args(["eval", "--arch", "16:relu,dropout,8:tanh", "--data", "builtin:iris", "--json"])
        .args(["--set", "trainer.epochs=3"])
        .args(backend_args()));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["architecture"], "16:relu,dropout,8:tanh,3:softmax");
    assert_eq!(v["epochs"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["params"], 4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3);
    let err = fails(bin().args(["eval", "--arch", "dropout,8:relu", "--data", "builtin:iris"]));
    assert!(err.contains("dropout cannot be the first layer"), "{err}");
}

#[test]
fn space_lists_the_vocabulary() {
    let out = ok(bin().arg("space"));
    assert!(out.contains("  29  dropout"), "{out}");
    assert!(out.contains("  15  dense 64 relu"), "{out}");
    assert!(out.contains("840 valid architectures"), "{out}");
}

#[test]
fn report_reads_a_run() {
    let d = tmp("report");
    ok(&mut tiny_search(&d.join("run"), "builtin:iris", 1, 3, &[]));
    let out = ok(bin().arg("report").arg(d.join("run")).args(["--top", "2", "--json"]));
    let v: Vec<TrialRecord> = serde_json::from_str(&out).expect("json");
    assert_eq!(v.len(), 2);
    assert!(v[0].reward >= v[1].reward);
    let err = fails(bin().arg("report").arg(&d));
    assert!(err.contains("no journal.jsonl"), "{err}");
}

/// Writes `text` to `name` in a fresh directory and returns its path.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn bad_config_files_give_one_line_errors() {
    let d = tmp("badcfg");
    let base = std::fs::read_to_string(config()).expect("config");
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed.toml", "seed = = 3\n".to_string(), "line 1"),
        ("unknown-type.toml", base.replace("type = \"random\"", "type = \"nope\""), "random"),
        ("unknown-field.toml", base.replace("[search]", "[search]\nbogus = 1"), "bogus"),
        ("bad-value.toml", base.replace("\nepochs = 10", "\nepochs = 0"), "trainer.epochs"),
        ("no-store.toml", base.replace("[store]\ntype = \"memory\"", ""), "needs a [store]"),
        ("batch-0.toml", base.replace("[space]", "[space]\nbatch_size = [32, 0]"), "space.batch_size"),
        ("lr-negative.toml", base.replace("[space]", "[space]\nlearning_rate = [-0.01]"), "space.learning_rate"),
        ("rates-empty.toml", base.replace("dropout = 0.2 ", "dropout = [] "), "space.dropout"),
    ];
    for (name, text, needle) in cases {
        let p = file(&d, name, &text);
        let err = fails(bin().args(["search", "--quiet", "--config"]).arg(&p).arg("--out").arg(d.join(name)));
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
    }
    let err = fails(bin().args(["search", "--config"]).arg(d.join("missing.toml")));
    assert!(err.contains("missing.toml") && err.contains("cannot read"), "{err}");
    // The unknown type lists the known ones.
    let p = file(&d, "t.toml", &base.replace("type = \"memory\"", "type = \"nope\""));
    let err = fails(bin().args(["search", "--config"]).arg(&p));
    assert!(err.contains("memory"), "{err}");
}

/// A backend this build or this machine lacks is a one-line config error naming the key and what
/// to do, before anything runs: the LibTorch backends without the `tch` feature name the feature;
/// a CUDA device LibTorch cannot find is refused (whatever LibTorch this build has).
#[test]
fn unavailable_backends_give_one_line_errors() {
    let d = tmp("backend");
    let mut cases = vec![("trainer.backend=tch-cuda:1000", "trainer.backend"), ("trainer.backend=tpu", "tpu")];
    if !cfg!(feature = "tch") {
        cases.push(("trainer.backend=tch-cpu", "--features tch"));
        cases.push(("trainer.backend=tch-cuda:0", "--features tch"));
    }
    for (set, needle) in cases {
        let mut c = bin();
        c.args(["search", "--quiet", "--config"]).arg(config()).arg("--out").arg(d.join("run"));
        let err = fails(c.args(["--set", set]));
        assert!(err.contains("random.toml") && err.contains(needle), "{set}: {err}");
        assert!(!d.join("run").exists(), "{set}: a run directory was created");
    }
    // The controller's backend is checked the same way.
    let mut c = bin();
    c.args(["search", "--quiet", "--config"]).arg(config()).arg("--out").arg(d.join("run"));
    let err = fails(c.args(["--set", "controller={type = \"reinforce\", backend = \"tch-cuda:1000\"}"]));
    assert!(err.contains("controller.backend") && err.contains("tch-cuda:1000"), "{err}");
}

/// Mixed backends: the REINFORCE controller on one backend while the architectures train on
/// another (on a GPU machine, e.g. `controller.backend = "tch-cpu"`, `trainer.backend =
/// "tch-cuda:0"`). Here: the backend under test (default `ndarray`) with `flex`, both ways round.
#[test]
fn controller_and_trainer_on_different_backends() {
    let d = tmp("mixed");
    let other = test_backend().unwrap_or_else(|| "ndarray".into());
    for (i, (controller, trainer)) in [(other.as_str(), "flex"), ("flex", other.as_str())].into_iter().enumerate() {
        let run_dir = d.join(format!("run{i}"));
        let mut c = tiny_search(&run_dir, "builtin:iris", 2, 3, &[]);
        c.args([
            "--set",
            &format!(
                "controller={{type = \"reinforce\", hidden = 16, use_predictor = true, backend = \"{controller}\"}}"
            ),
        ]);
        c.args(["--set", &format!("trainer.backend={trainer}")]);
        ok(&mut c);
        let recs = journal(&run_dir);
        assert_eq!(recs.len(), 6, "controller on {controller}, trainer on {trainer}");
        assert!(recs.iter().all(|r| r.predicted.is_some()), "the predictor ran on {controller}");
        let written = std::fs::read_to_string(run_dir.join("config.toml")).expect("config.toml");
        assert!(written.contains(&format!("backend = \"{controller}\"")), "{written}");
        assert!(written.contains(&format!("backend = \"{trainer}\"")), "{written}");
    }
}

#[test]
fn bad_data_gives_one_line_errors() {
    let d = tmp("baddata");
    let cases = [
        ("unknown-col.csv", "a,b,y\n1,2,x\n3,4,z\n", vec!["--label", "nope"], "nope"),
        (
            "text-cell.csv",
            "a,b,y\n1,2,x\n3,abc,z\n",
            vec!["--set", "data.columns={ b = \"numeric\" }"],
            "\"abc\" is not a number (the column is declared numeric in [data.columns])",
        ),
        ("empty.csv", "", vec![], "empty"),
        ("ragged.csv", "a,b,y\n1,2,x\n3,z\n", vec![], "line 3"),
    ];
    for (name, text, args, needle) in cases {
        let p = file(&d, name, text);
        let mut c = bin();
        c.args(["search", "--quiet", "--config"]).arg(config()).arg("--data").arg(&p).args(args);
        c.arg("--out").arg(d.join(format!("run-{name}")));
        let err = fails(&mut c);
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert!(!d.join(format!("run-{name}/journal.jsonl")).exists());
    }
    let err = fails(bin().args(["eval", "--arch", "8:relu", "--data", "builtin:nope"]));
    assert!(err.contains("iris"), "{err}");
}

/// `finalize --refit all`: each model is trained again on the training and validation rows (the
/// card counts them: never the test rows) for its early-stopped best epoch count, from the same
/// start; validation numbers stay those of the early-stopped model, test numbers are the refit
/// model's. A classification whose space searches training settings, and a regression (whose
/// target scale is then that of the refit rows).
#[test]
fn refit_all_trains_on_training_and_validation_rows_only() {
    let d = tmp("refit");
    for (name, data, total) in [
        (
            "iris",
            &[
                "--data",
                "builtin:iris",
                "--set",
                "space.learning_rate=[0.03, 0.01]",
                "--set",
                "space.batch_size=[8, 16]",
            ][..],
            150,
        ),
        ("diabetes", &["--data", "builtin:diabetes", "--task", "regression"][..], 442),
    ] {
        let run_dir = d.join(name);
        let mut c = bin();
        c.args(["search", "-q", "--config"]).arg(config()).args(data).arg("--out").arg(&run_dir);
        for s in
            ["search.controller_epochs=2", "search.samples_per_epoch=3", "trainer.epochs=3", "data.test_fraction=0.2"]
        {
            c.args(["--set", s]);
        }
        ok(&mut c);
        let finalize = |out: &str, extra: &[&str]| {
            let mut c = bin();
            c.args(["finalize", "-q", "--top", "2", "--epochs", "15", "--patience", "3"]).args(extra);
            ok(c.arg(&run_dir).arg("--out").arg(d.join(format!("{name}-{out}"))));
            let text = std::fs::read_to_string(d.join(format!("{name}-{out}/leaderboard.json"))).expect("leaderboard");
            let board: mlpnas_final::Leaderboard = serde_json::from_str(&text).expect("json");
            let mut entries = board.entries;
            entries.sort_by_key(|e| e.metrics.trial);
            entries
        };
        let all = finalize("all", &["--refit", "all"]);
        let train = finalize("train", &[]);
        for (a, t) in all.iter().zip(&train) {
            let [tr, va, te] = a.metrics.rows;
            assert_eq!(tr + va + te, total, "{name}");
            let r = a.metrics.refit.as_ref().expect("the card records the refit");
            assert_eq!((r.parts.as_str(), r.rows), ("train+valid", tr + va), "{name}: refit rows");
            assert_eq!(r.epochs, a.metrics.best_epoch, "{name}: the early-stopped epoch count");
            assert!(t.metrics.refit.is_none());
            // The same early-stopped model, then another exported one.
            assert_eq!(a.metrics.val_loss, t.metrics.val_loss, "{name}");
            assert_ne!(a.metrics.test_loss, t.metrics.test_loss, "{name}: the refit changed nothing");
            let card: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(d.join(format!("{name}-all/{}/model.json", a.model_dir))).expect("card"),
            )
            .expect("json");
            assert_eq!(card["metrics"]["refit"]["rows"], tr + va);
        }
        let md = std::fs::read_to_string(d.join(format!("{name}-all/leaderboard.md"))).expect("markdown");
        assert!(md.contains("trained again on the train+valid rows"), "{md}");
    }
}

#[test]
fn search_finalize_predict() {
    // The model is also loaded in this process (its trainer plugin through typetag).
    mlpnas_link::link_all();
    let d = tmp("final");
    let cfg = d.join("iris.toml");
    std::fs::write(
        &cfg,
        "seed = 5\n[data]\nsource = \"builtin:iris\"\nvalid_fraction = 0.2\n[space]\nunits = [8, 16]\nmax_len = 3\n\
         [search]\ncontroller_epochs = 2\nsamples_per_epoch = 3\n[controller]\ntype = \"random\"\n\
         [trainer]\ntype = \"burn\"\nepochs = 3\n[store]\ntype = \"memory\"\n",
    )
    .expect("config");
    let run_dir = d.join("run");
    ok(bin().args(["search", "-q", "--config"]).arg(&cfg).arg("--out").arg(&run_dir).args(backend_args()));
    let out = ok(bin().args(["finalize", "-q", "--top", "2", "--epochs", "30", "--patience", "5"]).arg(&run_dir));
    assert!(out.contains("| 1 |") && out.contains("| 2 |"), "{out}");
    let model = run_dir.join("final/model-1");
    assert!(model.join("model.safetensors").is_file() && model.join("model.json").is_file());

    // New rows in a CSV with the feature columns in another order and an extra column.
    let predictor = mlpnas_final::Predictor::load(&model).expect("load in process");
    let names = predictor.card().feature_names.clone();
    let mut csv = format!("note,{}\n", names.iter().rev().cloned().collect::<Vec<_>>().join(","));
    let mut raw = Vec::new();
    for i in 0..6 {
        let row: Vec<f32> = (0..names.len()).map(|j| 0.5 + 0.37 * (i * names.len() + j) as f32).collect();
        csv.push_str(&format!("r{i},{}\n", row.iter().rev().map(f32::to_string).collect::<Vec<_>>().join(",")));
        raw.extend(row);
    }
    let new = d.join("new.csv");
    std::fs::write(&new, csv).expect("csv");
    let first = ok(bin().args(["predict", "--proba", "--data"]).arg(&new).arg(&model));
    let second = ok(bin().args(["predict", "--proba", "--data"]).arg(&new).arg(&model));
    assert_eq!(first, second);
    // The new process predicts exactly what the model in this process predicts.
    let expected = predictor.predict_raw(&raw, 6).expect("predict");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 7, "{first}");
    let classes = &predictor.card().class_names;
    assert_eq!(
        lines[0],
        format!("prediction,{}", classes.iter().map(|c| format!("p_{c}")).collect::<Vec<_>>().join(","))
    );
    for (i, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], classes[expected.classes[i]]);
        let probs: Vec<String> = expected.proba[i * 3..(i + 1) * 3].iter().map(f32::to_string).collect();
        assert_eq!(cells[1..], probs[..], "row {i}");
    }

    // On another backend (`--backend`): the same classes, probabilities equal up to rounding.
    let trained_on = test_backend().unwrap_or_else(|| "flex".into());
    assert_eq!(predictor.card().trainer.backend(), Some(trained_on.clone()));
    let other = if trained_on == "flex" { "ndarray" } else { "flex" };
    let there = ok(bin().args(["predict", "--proba", "--backend", other, "--data"]).arg(&new).arg(&model));
    for (i, (a, b)) in first.lines().zip(there.lines()).enumerate().skip(1) {
        let (a, b): (Vec<&str>, Vec<&str>) = (a.split(',').collect(), b.split(',').collect());
        assert_eq!(a[0], b[0], "row {i}: {trained_on} vs {other}");
        for (x, y) in a[1..].iter().zip(&b[1..]) {
            let (x, y): (f32, f32) = (x.parse().expect("p"), y.parse().expect("p"));
            assert!((x - y).abs() < 1e-5, "row {i}: {x} on {trained_on}, {y} on {other}");
        }
    }
    if !cfg!(feature = "tch") {
        let e = fails(bin().args(["predict", "--backend", "tch-cpu", "--data", "builtin:iris"]).arg(&model));
        assert!(e.contains("--features tch"), "{e}");
    }
    // Finalized on another backend than the search's: the card says which.
    let elsewhere = d.join("final-elsewhere");
    ok(bin()
        .args(["finalize", "-q", "--top", "1", "--epochs", "3", "--backend", other, "--out"])
        .arg(&elsewhere)
        .arg(&run_dir));
    let card = std::fs::read_to_string(elsewhere.join("model-1/model.json")).expect("card");
    assert!(card.contains(&format!("\"backend\": \"{other}\"")), "{card}");

    // A run or model made on a backend this build or machine lacks (a GPU run brought to a CPU
    // machine): finalize and predict say so in one line and name `--backend`, which works.
    let unavailable = "tch-cuda:1000";
    let gpu_run = d.join("gpu-run");
    std::fs::create_dir_all(&gpu_run).expect("dir");
    for f in ["journal.jsonl", "summary.json", "controller.jsonl"] {
        std::fs::copy(run_dir.join(f), gpu_run.join(f)).expect("copy");
    }
    let text = std::fs::read_to_string(run_dir.join("config.toml")).expect("config");
    let text = text.replace("[trainer]\n", &format!("[trainer]\nbackend = \"{unavailable}\"\n"));
    let text = text.replace(&format!("backend = \"{trained_on}\"\n"), "");
    // Made there with this config: sealed with its own fingerprint.
    let text = mlpnas_runs::fingerprint::seal(&text);
    std::fs::write(gpu_run.join("config.toml"), &text).expect("config");
    assert!(text.contains(unavailable), "{text}");
    let e = fails(bin().args(["finalize", "-q"]).arg(&gpu_run));
    assert!(e.contains("trainer.backend") && e.contains("--backend flex"), "{e}");
    ok(bin().args(["finalize", "-q", "--top", "1", "--epochs", "2", "--backend", other]).arg(&gpu_run));
    let card = std::fs::read_to_string(gpu_run.join("final/model-1/model.json")).expect("card");
    assert!(card.contains(&format!("\"backend\": \"{other}\"")), "{card}");
    let gpu_model = d.join("gpu-model");
    std::fs::create_dir_all(&gpu_model).expect("dir");
    std::fs::copy(model.join("model.safetensors"), gpu_model.join("model.safetensors")).expect("copy");
    let card = std::fs::read_to_string(model.join("model.json")).expect("card");
    let card = card.replace(&format!("\"backend\": \"{trained_on}\""), &format!("\"backend\": \"{unavailable}\""));
    std::fs::write(gpu_model.join("model.json"), card).expect("card");
    let e = fails(bin().args(["predict", "--data"]).arg(&new).arg(&gpu_model));
    assert!(e.contains("model.json") && e.contains(unavailable) && e.contains("--backend flex"), "{e}");
    let moved = ok(bin().args(["predict", "--proba", "--backend", other, "--data"]).arg(&new).arg(&gpu_model));
    assert_eq!(moved, there);

    // A built-in set with its labels: predictions to a file, accuracy on stderr.
    let preds = d.join("preds.csv");
    let o = run(bin().args(["predict", "--data", "builtin:iris", "--out"]).arg(&preds).arg(&model));
    assert!(o.status.success());
    assert_eq!(std::fs::read_to_string(&preds).expect("preds").lines().count(), 151);
    assert!(String::from_utf8_lossy(&o.stderr).contains("accuracy"), "{}", String::from_utf8_lossy(&o.stderr));

    // Bad input: one line naming the file.
    let partial = d.join("partial.csv");
    std::fs::write(&partial, format!("{}\n1\n", names[0])).expect("csv");
    let e = fails(bin().args(["predict", "--data"]).arg(&partial).arg(&model));
    assert!(e.contains("partial.csv") && e.contains("missing feature column"), "{e}");
    let e = fails(bin().args(["predict", "--data", "builtin:iris"]).arg(&run_dir));
    assert!(e.contains("model.json"), "{e}");
    let e = fails(bin().args(["finalize", "-q"]).arg(&run_dir));
    assert!(e.contains("already exists"), "{e}");
    let e = fails(bin().args(["finalize", "-q", "--from-shared", "--out"]).arg(d.join("f2")).arg(&run_dir));
    assert!(e.contains("--from-scratch"), "{e}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn seed_config_runs_on_a_builtin_set_with_predictions() {
    // configs/seed-default.toml names a CSV label and dropped columns; `--data` replaces them.
    let d = tmp("seed-builtin");
    let run_dir = d.join("run");
    ok(bin()
        .args(["search", "-q", "--config"])
        .arg(workspace().join("configs/seed-default.toml"))
        .args(["--data", "builtin:iris", "--set", "search.controller_epochs=2", "--set", "search.samples_per_epoch=3"])
        .args(["--set", "trainer.epochs=2", "--out"])
        .arg(&run_dir));
    let records = journal(&run_dir);
    assert_eq!(records.len(), 6);
    assert!(records.iter().all(|r| r.predicted.is_some_and(|p| (0.0..=1.0).contains(&p))), "{records:?}");
    let cfg = std::fs::read_to_string(run_dir.join("config.toml")).expect("config");
    assert!(!cfg.contains("quality_label"), "{cfg}");
    std::fs::remove_dir_all(&d).ok();
}

/// Data that is not a CSV file, or too small to give every class a training and a validation
/// row: one line naming the file and the problem, no run directory.
#[test]
fn binary_files_and_classes_without_rows_are_refused() {
    let d = tmp("bad-data");
    let binary = d.join("photo.csv");
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8));
    std::fs::write(&binary, bytes).expect("write");
    let out = d.join("run-binary");
    let e =
        fails(bin().args(["search", "-q", "--config"]).arg(config()).arg("--data").arg(&binary).arg("--out").arg(&out));
    assert!(e.contains("photo.csv") && e.contains("not a text CSV file"), "{e}");
    assert!(e.len() < 200, "{e}");
    assert!(!out.exists(), "a refused search left a run directory");
    let two = d.join("two.csv");
    std::fs::write(&two, "x,label\n1.0,yes\n2.0,no\n").expect("write");
    let out = d.join("run-two");
    let e =
        fails(bin().args(["search", "-q", "--config"]).arg(config()).arg("--data").arg(&two).arg("--out").arg(&out));
    assert!(e.contains("two.csv") && e.contains("every class needs at least"), "{e}");
    assert!(!out.exists(), "a refused search left a run directory");
    let e = fails(bin().args(["eval", "--arch", "8:relu", "--data"]).arg(&two));
    assert!(e.contains("every class needs at least"), "{e}");
}

/// Default run directories never collide: a seed loop started within one second gets one
/// directory per run (named with the seed, and a suffix when taken).
#[test]
fn default_run_names_never_collide() {
    let d = tmp("names");
    for seed in ["1", "2", "3", "3"] {
        ok(bin()
            .current_dir(&d)
            .args(["search", "-q", "--config"])
            .arg(config())
            .args(["--data", "builtin:iris", "--seed", seed])
            .args(["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=2"])
            .args(["--set", "trainer.epochs=1", "--set", "space.units=[8]"]));
    }
    let mut names: Vec<String> = std::fs::read_dir(d.join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    for (name, seed) in names.iter().zip(["s1", "s2", "s3", "s3"]) {
        assert!(name.starts_with("random-") && name.contains(seed), "{name}");
        assert!(d.join("runs").join(name).join("journal.jsonl").exists(), "{name}");
    }
}

/// `report | head -1`: the reader leaves early; mlpnas exits 0 without a word.
#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    let d = tmp("pipe");
    let run_dir = d.join("run");
    // 250 trials: `--top 250` prints ~100 KB, more than a pipe holds (64 KiB), so mlpnas is still
    // writing when the reader goes away.
    ok(&mut tiny_search(&run_dir, "builtin:iris", 25, 10, &[]));
    let mut child = bin()
        .args(["report", "--json", "--top", "250"])
        .arg(&run_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 1];
    child.stdout.as_mut().expect("stdout").read_exact(&mut first).expect("a first byte");
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.as_mut().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

/// `eval` says what data it trained on (here the default, with no --data).
#[test]
fn eval_names_its_data() {
    let out = ok(bin().args(["eval", "--arch", "8:relu", "--set", "trainer.epochs=1"]));
    assert!(out.lines().any(|l| l.starts_with("data") && l.contains("builtin:iris")), "{out}");
}

/// `--set` with an unquoted list says how to quote it; `space` takes `--set` like the others.
#[test]
fn set_values_that_are_not_toml_say_how_to_quote_them() {
    let e = fails(bin().args(["space", "--set", "space.activations=[relu,tanh]"]));
    assert!(e.contains(r#"space.activations=["relu","tanh"]"#), "{e}");
    let out = ok(bin().args(["space", "--set", "space.activations=[\"relu\"]", "--set", "space.units=[8]"]));
    assert!(out.contains("8:relu") || out.contains("8 relu"), "{out}");
    assert!(!out.contains("tanh"), "{out}");
}

/// With stderr not a terminal (a log file), a search prints one line per controller epoch, and
/// one per trial with `-v`.
#[test]
fn logs_get_a_line_per_epoch_or_per_trial() {
    let d = tmp("logs");
    let mut c = bin();
    c.args(["search", "--config"]).arg(config()).args(["--data", "builtin:iris", "--out"]).arg(d.join("b"));
    c.args(["--set", "search.controller_epochs=3", "--set", "search.samples_per_epoch=4", "--set", "trainer.epochs=1"]);
    let o = run(&mut c);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let epochs: Vec<&str> = err.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 3, "{err}");
    assert!(epochs[2].starts_with("epoch 3: 12/12 trials, best "), "{err}");
    let mut c = bin();
    c.args(["search", "-v", "--config"]).arg(config()).args(["--data", "builtin:iris", "--out"]).arg(d.join("c"));
    c.args(["--set", "search.controller_epochs=2", "--set", "search.samples_per_epoch=3", "--set", "trainer.epochs=1"]);
    let o = run(&mut c);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().filter(|l| l.starts_with("trial ")).count(), 6, "{err}");
    // -q: nothing but the result on stdout.
    let mut c = bin();
    c.args(["search", "-q", "--config"]).arg(config()).args(["--data", "builtin:iris", "--out"]).arg(d.join("e"));
    c.args(["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=2", "--set", "trainer.epochs=1"]);
    let o = run(&mut c);
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `--set controller.type=...` switches the controller: the section starts from the new type's
/// defaults (the old type's fields would be unknown to it); other `--set`s of it still apply.
#[test]
fn switching_a_section_type_starts_from_its_defaults() {
    let d = tmp("switch");
    let out = d.join("run");
    ok(bin()
        .args(["search", "-q", "--config"])
        .arg(config())
        .args(["--data", "builtin:iris", "--out"])
        .arg(&out)
        .args(["--set", "controller.type=evolution", "--set", "controller.population=6"])
        .args([
            "--set",
            "search.controller_epochs=1",
            "--set",
            "search.samples_per_epoch=3",
            "--set",
            "trainer.epochs=1",
        ]));
    let text = std::fs::read_to_string(out.join("config.toml")).expect("config");
    assert!(text.contains("type = \"evolution\"") && text.contains("population = 6"), "{text}");
    assert!(!text.contains("allow_repeats"), "{text}");
}

/// A model of a CSV with the default (last) label column reports accuracy on a labelled CSV;
/// labels it has never seen are reported and left out of the accuracy; `--out` into a missing
/// directory names that file.
#[test]
fn predict_accuracy_uses_known_labels_only() {
    let d = tmp("accuracy");
    let mut csv = String::from("a,b,kind\n");
    for i in 0..120 {
        let c = i % 2;
        csv.push_str(&format!(
            "{},{},{}\n",
            c as f32 * 4.0 + (i % 7) as f32 * 0.1,
            1.0 - c as f32 * 3.0,
            ["yes", "no"][c]
        ));
    }
    let train = d.join("train.csv");
    std::fs::write(&train, &csv).expect("csv");
    let run_dir = d.join("run");
    ok(&mut tiny_search(&run_dir, train.to_str().expect("utf-8"), 1, 3, &[]));
    ok(bin().args(["finalize", "-q", "--top", "1", "--epochs", "5"]).arg(&run_dir));
    let model = run_dir.join("final/model-1");
    let card = std::fs::read_to_string(model.join("model.json")).expect("card");
    assert!(card.contains("\"label_column\": \"kind\""), "{card}");
    let o = run(bin().args(["predict", "--data"]).arg(&train).arg(&model));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success() && err.contains("accuracy ") && err.contains("on 120 labelled rows"), "{err}");
    // Labels the model never saw: reported, and the accuracy is over the known ones only.
    let other = d.join("other.csv");
    std::fs::write(&other, csv.replacen(",yes\n", ",maybe\n", 10)).expect("csv");
    let o = run(bin().args(["predict", "--data"]).arg(&other).arg(&model));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("10 of 120 labelled rows have labels the model has never seen (maybe"), "{err}");
    assert!(err.contains("on the 110 rows whose labels the model knows"), "{err}");
    let none = d.join("none.csv");
    std::fs::write(&none, csv.replace(",yes\n", ",x\n").replace(",no\n", ",y\n")).expect("csv");
    let o = run(bin().args(["predict", "--data"]).arg(&none).arg(&model));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("no accuracy") && !err.contains("accuracy 0.0000"), "{err}");
    // --out into a directory that does not exist names the file asked for.
    let e = fails(bin().args(["predict", "--data"]).arg(&train).arg("--out").arg(d.join("nodir/p.csv")).arg(&model));
    assert!(e.contains("nodir/p.csv: cannot write") && !e.contains(".tmp"), "{e}");
}

/// `finalize --front` retrains exactly the members of a multi-objective run's Pareto front (each
/// with its place in the search's ranking); on a single-objective run it is a one-line error
/// that leaves no output directory.
#[test]
fn finalize_front_retrains_the_pareto_front() {
    let d = tmp("final-front");
    let run_dir = d.join("run");
    ok(&mut tiny_search(&run_dir, "builtin:iris", 2, 6, &["--set", "search.objectives=[\"reward\", \"params\"]"]));
    let records = journal(&run_dir);
    let mut front: Vec<usize> = mlpnas_core::pareto_front(&records).iter().map(|r| r.trial).collect();
    assert!(!front.is_empty() && front.len() < records.len(), "{front:?}");
    ok(bin().args(["finalize", "-q", "--front", "--epochs", "2"]).arg(&run_dir));
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("final/leaderboard.json")).expect("board"))
            .expect("json");
    let mut trained: Vec<usize> = board["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["metrics"]["trial"].as_u64().expect("trial") as usize)
        .collect();
    trained.sort_unstable();
    front.sort_unstable();
    assert_eq!(trained, front);
    let single = d.join("single");
    ok(&mut tiny_search(&single, "builtin:iris", 1, 4, &[]));
    let e = fails(bin().args(["finalize", "-q", "--front"]).arg(&single));
    assert!(e.contains("--front") && e.contains("one objective"), "{e}");
    assert!(!single.join("final").exists(), "a refused finalize left its directory");
    // --front and --top are exclusive: a usage error, as every such conflict.
    let out = run(bin().args(["finalize", "-q", "--front", "--top", "2"]).arg(&run_dir));
    assert_eq!(out.status.code(), Some(2), "--front and --top are exclusive");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

/// finalize names models by validation order (`model-1` is the leaderboard's first), and Ctrl-C
/// removes its temporary directory and says so.
#[test]
fn finalize_numbers_models_by_validation_and_cleans_up_when_interrupted() {
    let d = tmp("final-order");
    let run_dir = d.join("run");
    ok(&mut tiny_search(&run_dir, "builtin:iris", 2, 4, &[]));
    ok(bin().args(["finalize", "-q", "--top", "4", "--epochs", "4"]).arg(&run_dir));
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("final/leaderboard.json")).expect("board"))
            .expect("json");
    let entries = board["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    let mut last = f64::INFINITY;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["model_dir"], format!("model-{}", i + 1));
        let acc = e["metrics"]["val_acc"].as_f64().expect("val_acc");
        assert!(acc <= last, "validation order");
        last = acc;
        let card = std::fs::read_to_string(run_dir.join(format!("final/model-{}/model.json", i + 1))).expect("card");
        assert!(card.contains(&format!("\"rank\": {}", e["metrics"]["rank"])), "the card keeps the search rank");
    }

    let out = d.join("final-interrupted");
    let child = bin()
        .args(["finalize", "--top", "4", "--epochs", "100000", "--patience", "100000", "--out"])
        .arg(&out)
        .arg(&run_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let tmp_dir = d.join(format!(".final-interrupted.tmp-{}", child.id()));
    let t0 = std::time::Instant::now();
    while !tmp_dir.exists() && t0.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(tmp_dir.exists(), "finalize never started writing");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: finalize stopped, nothing was written to"), "{err}");
    assert!(!tmp_dir.exists(), "the temporary directory was left behind");
    assert!(!out.exists());
}

/// Shell completions and the man page come from the real command line definition.
#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(bin().args(["completions", shell]));
        assert!(out.contains("mlpnas") && out.contains("finalize") && out.contains("resume"), "{shell}: {out}");
    }
    let e = run(bin().args(["completions", "tcsh"]));
    assert_eq!(e.status.code(), Some(2), "an unknown shell is a usage error");
    let man = ok(bin().arg("man"));
    assert!(man.starts_with(".ie") || man.contains(".TH mlpnas"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("search") && man.contains("predict"), "the man page lists the subcommands");
    // Every page mlpnas(1) refers to exists, with the options of its command (issue 37).
    let dir = tmp("man").join("man1");
    let said = ok(bin().args(["man", "--out"]).arg(&dir));
    // References read `mlpnas\-search(1)` in roff.
    let mut refs: Vec<String> = man
        .split("mlpnas\\-")
        .skip(1)
        .filter_map(|t| {
            // Names with a hyphen (`export\-onnx`) continue past it.
            let raw: String = t.chars().take_while(|c| c.is_ascii_lowercase() || *c == '\\' || *c == '-').collect();
            let name = raw.replace("\\-", "-");
            t[raw.len()..].starts_with("(1)").then(|| format!("mlpnas-{name}.1"))
        })
        .collect();
    refs.sort();
    refs.dedup();
    assert!(refs.len() >= 12, "{refs:?}");
    for page in &refs {
        assert!(dir.join(page).is_file(), "{page} referred to but not written: {said}");
    }
    let search = std::fs::read_to_string(dir.join("mlpnas-search.1")).expect("search page");
    assert!(search.contains("resume") && search.contains("threads"), "{search}");
    let finalize = std::fs::read_to_string(dir.join("mlpnas-finalize.1")).expect("finalize page");
    assert!(finalize.contains("patience") && finalize.contains("test\\-fraction"), "{finalize}");
    assert!(said.contains(&format!("{} man pages in", refs.len() + 1)), "{said}");
}

/// An NPY array of `f32` (`descr` `<f4`) or `i64` (`<i8`) values.
fn npy(descr: &str, shape: &[usize], data: Vec<u8>) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// A model trained on NPY data predicts NPY data: `x.npy` alone, or `x.npy:y.npy` with an
/// accuracy; an array of another width is refused in one line.
#[test]
fn npy_models_predict_npy_data() {
    let d = tmp("npy-predict");
    let rows = 80;
    let x: Vec<f32> =
        (0..rows).flat_map(|i| [(i % 2) as f32 * 3.0 + (i % 5) as f32 * 0.1, 1.0, -((i % 2) as f32)]).collect();
    let y: Vec<i64> = (0..rows).map(|i| (i % 2) as i64).collect();
    std::fs::write(d.join("x.npy"), npy("<f4", &[rows, 3], x.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .expect("x");
    std::fs::write(d.join("y.npy"), npy("<i8", &[rows], y.iter().flat_map(|v| v.to_le_bytes()).collect())).expect("y");
    let spec = format!("{}:{}", d.join("x.npy").display(), d.join("y.npy").display());
    let run_dir = d.join("run");
    ok(&mut tiny_search(&run_dir, &spec, 1, 3, &[]));
    ok(bin().args(["finalize", "-q", "--top", "1", "--epochs", "5"]).arg(&run_dir));
    let model = run_dir.join("final/model-1");
    let alone = ok(bin().args(["predict", "--data"]).arg(d.join("x.npy")).arg(&model));
    assert_eq!(alone.lines().count(), rows + 1, "{alone}");
    let o = run(bin().args(["predict", "--data", &spec]).arg(&model));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success() && err.contains(&format!("on {rows} labelled rows")), "{err}");
    let wide: Vec<f32> = vec![0.5; rows * 4];
    std::fs::write(d.join("wide.npy"), npy("<f4", &[rows, 4], wide.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .expect("wide");
    let e = fails(bin().args(["predict", "--data"]).arg(d.join("wide.npy")).arg(&model));
    assert!(e.contains("wide.npy") && e.contains("the model takes 3 features"), "{e}");
}

/// `-q` and `-v` work on every command, before or after it.
#[test]
fn quiet_and_verbose_on_every_command() {
    let d = tmp("verbosity");
    let run_dir = d.join("run");
    ok(&mut tiny_search(&run_dir, "builtin:iris", 1, 3, &[]));
    let o = run(bin().args(["-v", "report"]).arg(&run_dir));
    assert!(String::from_utf8_lossy(&o.stderr).contains("finished: 3 trials"), "{o:?}");
    ok(bin().args(["finalize", "--top", "1", "--epochs", "2", "-q"]).arg(&run_dir));
    let model = run_dir.join("final/model-1");
    let o = run(bin().args(["predict", "-q", "--data", "builtin:iris", "--out"]).arg(d.join("p.csv")).arg(&model));
    assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    for cmd in [&["space", "-q"][..], &["eval", "--arch", "8:relu", "--set", "trainer.epochs=1", "-v"]] {
        ok(bin().args(cmd));
    }
    let e = run(bin().args(["report", "-q", "-v"]).arg(&run_dir));
    assert_eq!(e.status.code(), Some(2), "-q and -v conflict");
}

/// A `--set` that breaks the config is named alone.
#[test]
fn the_failing_set_is_named() {
    let e = fails(bin().args(["search", "--config"]).arg(config()).args([
        "--set",
        "search.top=3",
        "--set",
        "search.workers=y",
    ]));
    assert!(e.contains("--set search.workers=y: invalid type") && !e.contains("search.top"), "{e}");
}

/// `mlpnas search ... -v 2>&1 >/dev/null | head -1`: the reader of the progress lines goes away
/// after the first; the search still finishes, whole, with status 0. Likewise when its stdout is
/// closed before it prints anything.
#[test]
fn a_search_outlives_the_readers_of_its_output() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let out = tmp("closed-stderr");
    let mut child = bin()
        .args(["search", "-v", "--config"])
        .arg(config())
        .args(["--data", "builtin:iris", "--out"])
        .arg(&out)
        .args(["--set", "search.controller_epochs=3", "--set", "search.samples_per_epoch=4"])
        .args(["--set", "trainer.epochs=2", "--set", "space.units=[8, 16, 32]"])
        .args(backend_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let mut first = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut first).expect("a first line");
    // The reader is gone (dropped above): every later line hits a closed pipe.
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?} after {first:?}");
    assert_eq!(journal(&out).len(), 12, "every trial journaled");
    assert!(out.join("summary.json").exists(), "the search finished");

    let out = tmp("closed-stdout");
    let mut child = tiny_search(&out, "builtin:iris", 2, 4, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert_eq!(journal(&out).len(), 8);
    assert!(out.join("summary.json").exists());
}

/// A damaged journal is one error for every reader, never a short or doubled list: a duplicated
/// line, an emptied journal behind a checkpoint, a line whose architecture its tokens do not mean.
#[test]
fn damaged_journals_are_refused_by_report_and_resume() {
    let out = tmp("damaged");
    ok(&mut tiny_search(&out, "builtin:iris", 3, 4, &[]));
    let path = out.join("journal.jsonl");
    let whole = std::fs::read_to_string(&path).expect("journal");
    let lines: Vec<&str> = whole.lines().collect();
    assert_eq!(lines.len(), 12);
    let report = |dir: &Path| {
        let mut c = bin();
        c.arg("report").arg(dir);
        c
    };
    ok(&mut report(&out));

    // Trial 5 twice.
    let mut doubled = lines.clone();
    doubled.insert(6, lines[5]);
    std::fs::write(&path, doubled.join("\n") + "\n").expect("write");
    let e = fails(&mut report(&out));
    assert!(e.contains("journal") || e.contains(&out.display().to_string()), "{e}");
    assert!(e.contains("trial 5 is journaled twice"), "{e}");

    // Trial 5 gone.
    let mut gap = lines.clone();
    gap.remove(5);
    std::fs::write(&path, gap.join("\n") + "\n").expect("write");
    assert!(fails(&mut report(&out)).contains("trial 5 is missing"));

    // Emptied, while the checkpoint covers 12 trials.
    std::fs::write(&path, "").expect("write");
    let e = fails(&mut report(&out));
    assert!(e.contains("holds 0 trials but its checkpoint covers 12"), "{e}");
    let e = fails(bin().args(["search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=4"]));
    assert!(e.contains("checkpoint covers 12"), "{e}");

    // A line whose architecture was edited: its tokens mean another network.
    let mut r: TrialRecord = serde_json::from_str(lines[2]).expect("record");
    let other = if r.architecture.starts_with("8:") { "16:" } else { "8:" };
    r.architecture = format!("{other}{}", r.architecture.split_once(':').map_or("", |(_, rest)| rest));
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[2] = serde_json::to_string(&r).expect("json");
    std::fs::write(&path, edited.join("\n") + "\n").expect("write");
    let e = fails(bin().args(["search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=4"]));
    assert!(e.contains("trial 2 says") && e.contains("its tokens"), "{e}");
    let e = fails(&mut report(&out));
    assert!(e.contains("trial 2 says") && e.contains("its tokens"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).expect("journal"), edited.join("\n") + "\n", "nothing rewritten");

    // Whole again: it reads and resumes.
    std::fs::write(&path, &whole).expect("write");
    ok(bin().args(["--quiet", "search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=4"]));
    assert_eq!(journal(&out).len(), 16);
}

/// A run's config carries its fingerprint: an edited config.toml is refused by resume and
/// finalize, naming the file and how to start a new run from it; the run itself is untouched.
#[test]
fn an_edited_run_config_is_refused() {
    let out = tmp("edited-config");
    ok(&mut tiny_search(&out, "builtin:iris", 2, 4, &[]));
    let path = out.join("config.toml");
    let sealed = std::fs::read_to_string(&path).expect("config");
    assert!(sealed.starts_with("# mlpnas-fingerprint: sha256:"), "{sealed}");
    let seed_line = sealed.lines().find(|l| l.starts_with("seed = ")).expect("a seed line").to_string();
    std::fs::write(&path, sealed.replace(&seed_line, "seed = 43")).expect("edit");
    let before = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    let e = fails(bin().args(["search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=3"]));
    assert!(
        e.contains("config.toml") && e.contains("fingerprint does not match") && e.contains("mlpnas search --config"),
        "{e}"
    );
    let e = fails(bin().args(["finalize", "--top", "1", "--epochs", "1"]).arg(&out));
    assert!(e.contains("fingerprint does not match"), "{e}");
    assert_eq!(std::fs::read_to_string(out.join("journal.jsonl")).expect("journal"), before, "nothing written");
    // Put back, it resumes; a changed budget is sealed again.
    std::fs::write(&path, &sealed).expect("restore");
    ok(bin().args(["--quiet", "search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=3"]));
    assert_eq!(journal(&out).len(), 12);
    let resealed = std::fs::read_to_string(&path).expect("config");
    assert!(resealed.starts_with("# mlpnas-fingerprint: sha256:") && resealed != sealed, "{resealed}");
}

/// What a resume reads carries a checksum: an altered controller state or store snapshot in the
/// checkpoint is refused in one line, and the run is left as it was.
#[test]
fn altered_checkpoint_files_are_refused_on_resume() {
    let out = tmp("altered-checkpoint");
    ok(&mut tiny_search(&out, "builtin:iris", 2, 4, &[]));
    let ck = out.join("checkpoint");
    let file = |ext: &str| {
        std::fs::read_dir(&ck)
            .expect("checkpoint dir")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .unwrap_or_else(|| panic!("a .{ext} file"))
    };
    for (ext, what) in [("controller", "controller state"), ("store", "store snapshot")] {
        let path = file(ext);
        let good = std::fs::read(&path).expect("read");
        let mut bad = good.clone();
        let at = bad.len() - 3;
        bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(&path, &bad).expect("alter");
        let e = fails(
            bin().args(["--quiet", "search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=3"]),
        );
        assert!(e.contains(what) && e.contains("checksum"), "{ext}: {e}");
        assert_eq!(journal(&out).len(), 8, "nothing trained");
        std::fs::write(&path, &good).expect("restore");
    }
    ok(bin().args(["--quiet", "search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=3"]));
    assert_eq!(journal(&out).len(), 12);
}

/// Sizes the machine cannot hold are one-line config errors before anything is allocated or
/// written (they used to abort the process), and special files are refused before reading.
#[test]
fn sizes_beyond_the_machine_and_special_files_are_refused_up_front() {
    let out = tmp("too-big").join("run");
    for (set, key) in [
        ("space.units=[65536]", "space.units"),
        ("space.units=[100000000]", "space.units"),
        ("search.samples_per_epoch=100000000", "search.samples_per_epoch"),
        ("search.controller_epochs=100000000000", "search.controller_epochs"),
    ] {
        let e = fails(bin().args(["search", "--config"]).arg(config()).arg("--out").arg(&out).args(["--set", set]));
        assert!(e.contains(key) && e.contains("of memory, more than the"), "{set}: {e}");
        assert!(!out.exists(), "{set}: nothing written");
    }
    let e = fails(bin().args(["eval", "--arch", "1000000000:relu", "--data", "builtin:iris"]));
    assert!(e.contains("1000000000:relu") && e.contains("of memory"), "{e}");
    let e =
        fails(bin().args(["search", "--config"]).arg(config()).arg("--out").arg(&out).args(["--data", "/dev/zero"]));
    assert!(e.contains("/dev/zero: not a regular file"), "{e}");
    assert!(!out.exists());
}

/// A disk weight store that was deleted, emptied or copied from another run is refused on
/// resume (it would hand other weights to later trials than the run's own).
#[test]
fn a_missing_emptied_or_foreign_disk_store_is_refused_on_resume() {
    let out = tmp("disk-store").join("run");
    let mut c = tiny_search(&out, "builtin:iris", 2, 4, &[]);
    c.args(["--set", "store.type=disk"]);
    ok(&mut c);
    let store = std::fs::read_dir(&out)
        .expect("run dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "redb"))
        .expect("the disk store's file");
    let kept = std::fs::read(&store).expect("store");
    let resume = || {
        let mut c = bin();
        c.args(["--quiet", "search", "--resume"]).arg(&out).args(["--set", "search.controller_epochs=3"]);
        c
    };
    std::fs::remove_file(&store).expect("delete");
    let e = fails(&mut resume());
    assert!(e.contains("weight store holds 0 bigrams") && e.contains("deleted, emptied or replaced"), "{e}");
    assert_eq!(journal(&out).len(), 8, "nothing trained");
    // The store of another run of the same config, one epoch longer (so it holds no fewer bigrams).
    let other = tmp("disk-store-other").join("run");
    let mut c = tiny_search(&other, "builtin:iris", 3, 4, &[]);
    c.args(["--set", "store.type=disk"]);
    ok(&mut c);
    std::fs::copy(other.join(store.file_name().expect("name")), &store).expect("copy the other run's store");
    let e = fails(&mut resume());
    assert!(e.contains("not the one its checkpoint recorded") && e.contains("copied from another run"), "{e}");
    assert_eq!(journal(&out).len(), 8, "nothing trained");
    std::fs::write(&store, &kept).expect("put back");
    ok(&mut resume());
    assert_eq!(journal(&out).len(), 12);
}

/// Issue 37's second afternoon: negative numbers get the valid range (not clap's `-- -1` tip),
/// a doubled section name and "1e300 is not finite" are gone, and a clamp is announced.
#[test]
fn numbers_out_of_range_name_the_range_and_clamps_are_announced() {
    let usage = |args: &[&str]| {
        let out = run(bin().args(args));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("tip:") && !err.contains("unexpected argument"), "{args:?}: {err}");
        err
    };
    let err = usage(&["report", "some-dir", "--top", "-1"]);
    assert!(
        err.contains("invalid value '-1' for '--top <TOP>': -1 is too small: expected a whole number of at least 1"),
        "{err}"
    );
    let err = usage(&["finalize", "some-dir", "--test-fraction", "-0.1"]);
    assert!(err.contains("-0.1 is not between 0 and 1 (both excluded)"), "{err}");
    let err = usage(&["search", "--config", "x.toml", "--seed", "-1"]);
    assert!(err.contains("a seed is a whole number from 0 to 18446744073709551615"), "{err}");
    let err = usage(&["worker", "--storage", "postgresql://x@127.0.0.1:1/db", "--lease", "-3"]);
    assert!(err.contains("-3 is not a lease (seconds, at least 0.3)"), "{err}");

    // The field of a section is named once.
    let err = fails(bin().args(["space", "--set", "space.max_len=100"]));
    assert!(err.contains("invalid config `space.max_len`: 100 is not in 2..=16"), "{err}");
    // A finite number too large for f32 is called that.
    let d = tmp("ranges");
    let csv = file(&d, "big.csv", "a,b,label\n1,1e300,x\n2,3,y\n");
    let err = fails(bin().args(["eval", "--arch", "8:relu", "--data"]).arg(&csv));
    assert!(err.contains(r#""1e300" is beyond the range of f32 (about ±3.4e38)"#), "{err}");

    // finalize --top beyond the run's trials says how many it finalizes.
    ok(&mut tiny_search(&d.join("run"), "builtin:iris", 1, 2, &[]));
    let out = run(bin().args(["finalize", "--top", "1000", "--epochs", "2"]).arg(d.join("run")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: --top 1000: the run has 2 successfully trained architectures; finalizing all 2"),
        "{err}"
    );
}

/// `--version` names the newest release of CHANGELOG.md, so stored-run claims refer to it.
#[test]
fn the_version_is_the_changelogs_newest_release() {
    let version = ok(bin().arg("--version"));
    let changelog = std::fs::read_to_string(workspace().join("CHANGELOG.md")).expect("CHANGELOG.md");
    let newest = changelog.lines().find_map(|l| l.strip_prefix("## ")).expect("a release heading");
    let release = newest.split_whitespace().next().expect("a version");
    assert_eq!(version.trim(), format!("mlpnas {release}"), "{newest}");
}

/// `eval --run DIR --trial N` trains a journal's trial again exactly: one that started fresh
/// alone, a one-shot one that started from shared weights by running the search again; each
/// reproduces the journal's reward bit for bit (issue 37).
#[test]
fn eval_run_trial_reproduces_the_journal() {
    let d = tmp("replay");
    let run_dir = d.join("run");
    // 3 epochs of 4 trials on a space of few bigrams: later trials start from shared weights.
    ok(&mut tiny_search(&run_dir, "builtin:iris", 3, 4, &["--set", "space.activations=[\"relu\", \"tanh\"]"]));
    let records = journal(&run_dir);
    let fresh = records.iter().find(|r| r.transfers == 0).expect("a trial from fresh weights");
    let shared = records.iter().rev().find(|r| r.transfers > 0).expect("a one-shot trial with transfers");
    for (r, how) in [(fresh, "trained alone from fresh weights"), (shared, "the search run again")] {
        let out = ok(bin().args(["eval", "-q", "--run"]).arg(&run_dir).args(["--trial", &r.trial.to_string()]));
        assert!(out.contains(how), "{out}");
        assert!(out.contains(&format!("journal       {:<9.6}", r.reward)), "{out}");
        assert!(out.contains(&format!("again         {:<9.6}", r.reward)), "{out}");
        assert!(out.contains("identical"), "{out}");
    }
    let json =
        ok(bin().args(["eval", "-q", "--json", "--run"]).arg(&run_dir).args(["--trial", &shared.trial.to_string()]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["matches"], true, "{json}");
    assert_eq!(v["replayed"]["reward"].as_f64(), Some(shared.reward), "{json}");
    assert!(v["trials_trained"].as_u64().expect("count") as usize > shared.trial, "{json}");
    // Nothing is left in the temporary directory, and the run is unchanged.
    assert_eq!(journal(&run_dir), records);
    let err = fails(bin().args(["eval", "--run"]).arg(&run_dir).args(["--trial", "12"]));
    assert!(err.contains("has no trial 12 (its trials are 0..=11)"), "{err}");
    let out = run(bin().args(["eval", "--run"]).arg(&run_dir).args(["--trial", "1", "--arch", "8:relu"]));
    assert_eq!(out.status.code(), Some(2), "--run and --arch are exclusive");
}
