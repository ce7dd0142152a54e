//! Tabular data through the real binary: a raw CSV as users have it (an R `rownames` column,
//! text categories, yes/no columns, `NA` and empty cells) goes search -> finalize -> predict on
//! raw held-out rows, with a category never seen in training and empty cells, and no manual
//! preprocessing. The data is generated here (penguin-like), never a committed data set.
//!
//! Objectives: a search scored by another metric than the accuracy (`search.metric`) with
//! class weights (`trainer.class_weight`) on an imbalanced table: the banner names the reward
//! and the majority rate, the journal keeps the metric by name per epoch, report and finalize
//! show it and rank by it; bad settings are one-line errors before anything is written.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use support::{bin, fails, journal, ok, penguins, tmp, workspace};

#[test]
fn a_raw_table_goes_search_finalize_predict() {
    let d = tmp("tabular");
    let train = d.join("penguins.csv");
    std::fs::write(&train, penguins(300, 0)).expect("write");
    let run = d.join("run");
    let mut c = bin();
    c.args(["search", "--config"]).arg(workspace().join("configs/random.toml"));
    c.arg("--data").arg(&train).args(["--label", "species", "--out"]).arg(&run);
    for s in ["search.controller_epochs=2", "search.samples_per_epoch=4", "trainer.epochs=15"] {
        c.args(["--set", s]);
    }
    let out = c.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The banner: each column's type, missing cells and levels; rownames left out, said so.
    assert!(err.contains("island") && err.contains("categorical"), "{err}");
    assert!(err.contains("bill_length_mm") && err.contains("numeric"), "{err}");
    assert!(err.contains("warning: column \"rownames\" left out: ID-like"), "{err}");
    assert!(err.contains("classes: Adelie"), "{err}");

    let fin = ok(bin().args(["--quiet", "finalize"]).arg(&run).args(["--top", "1", "--epochs", "40"]));
    assert!(fin.contains("model-1"), "{fin}");
    let card = std::fs::read_to_string(run.join("final/model-1/model.json")).expect("card");
    assert!(card.contains("\"preprocessor\""), "the card holds the fitted encoding");

    // Raw held-out rows: columns in another order, an extra column, a never-seen island, empty
    // and NA cells; the label column gives the accuracy.
    let mut held = String::from("tagged,sex,body_mass_g,bill_length_mm,island,species,comment\n");
    for line in penguins(60, 1000).lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        writeln!(held, "{},{},{},{},{},{},x", f[6], f[5], f[4], f[3], f[2], f[1]).expect("write");
    }
    held.push_str("no,,5200,NA,Atlantis,Adelie,new island\n");
    held.push_str(",,3500,,Dream,Chinstrap,empty cells\n");
    let test = d.join("held-out.csv");
    std::fs::write(&test, &held).expect("write");
    let preds = d.join("preds.csv");
    let mut p = bin();
    p.arg("predict").arg(run.join("final/model-1")).arg("--data").arg(&test).arg("--out").arg(&preds);
    let out = p.output().expect("predict");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: 1 row of") && err.contains("never seen in training"), "{err}");
    let acc: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("accuracy "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("an accuracy line: {err}"));
    assert!(acc > 0.8, "a learnable table: accuracy {acc}");
    assert_eq!(std::fs::read_to_string(&preds).expect("predictions").lines().count(), 63);

    // A column the model reads is missing: one line naming it.
    std::fs::write(d.join("short.csv"), "island,sex\nDream,male\n").expect("write");
    let e = fails(bin().arg("predict").arg(run.join("final/model-1")).arg("--data").arg(d.join("short.csv")));
    assert!(e.contains("missing column") && e.contains("\"bill_length_mm\""), "{e}");
}

#[test]
fn column_types_can_be_set_and_bad_declarations_are_one_line() {
    let d = tmp("tabular-types");
    let train = d.join("t.csv");
    std::fs::write(&train, penguins(120, 0)).expect("write");
    let search = |extra: &[&str], out: &Path| {
        let mut c = bin();
        c.args(["--quiet", "search", "--config"]).arg(workspace().join("configs/random.toml"));
        c.arg("--data").arg(&train).args(["--label", "species", "--out"]).arg(out);
        c.args(["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=2"]);
        c.args(extra);
        c
    };
    // island declared numeric: its first text cell, line and column named.
    let e = fails(&mut search(&["--set", "data.columns={ island = \"numeric\" }"], &d.join("r1")));
    assert!(e.contains("line 2, column \"island\": \"Biscoe\" is not a number"), "{e}");
    assert!(!d.join("r1/journal.jsonl").exists());
    // A column the file lacks.
    let e = fails(&mut search(&["--set", "data.columns={ wingspan = \"drop\" }"], &d.join("r2")));
    assert!(e.contains("wingspan"), "{e}");
    // Dropping and retyping work: the run's inputs follow.
    ok(&mut search(&["--set", "data.columns={ tagged = \"drop\", body_mass_g = \"categorical\" }"], &d.join("r3")));
}

/// An imbalanced two-class table (1 "bad" row in 10), with a text column: `bad` rows have a
/// larger `x` and are more often `kind = b`.
fn loans(rows: usize) -> String {
    let mut s = String::from("x,y,kind,status\n");
    for r in 0..rows {
        let bad = r % 10 == 3;
        let jitter = ((r * 7919) % 1000) as f64 / 1000.0 - 0.5;
        let x = if bad { 1.2 } else { 0.0 } + 1.6 * jitter;
        let y = ((r * 104_729) % 1000) as f64 / 1000.0;
        let kind = if (bad && r % 3 != 0) || (!bad && r % 5 == 0) { "b" } else { "a" };
        writeln!(s, "{x:.4},{y:.4},{kind},{}", if bad { "bad" } else { "good" }).expect("write");
    }
    s
}

fn search(data: &Path, out: &Path, sets: &[&str]) -> std::process::Command {
    let mut c = bin();
    c.args(["search", "--config"]).arg(workspace().join("configs/random.toml"));
    c.arg("--data").arg(data).args(["--label", "status", "--out"]).arg(out);
    for s in ["search.controller_epochs=2", "search.samples_per_epoch=3", "trainer.epochs=4"].iter().chain(sets) {
        c.args(["--set", s]);
    }
    c
}

fn data(name: &str) -> (PathBuf, PathBuf) {
    let d = tmp(name);
    let csv = d.join("loans.csv");
    std::fs::write(&csv, loans(600)).expect("write");
    (d, csv)
}

#[test]
fn a_search_by_balanced_accuracy_with_class_weights_names_its_metric_everywhere() {
    let (d, csv) = data("objective-bacc");
    let run = d.join("run");
    let out = search(&csv, &run, &["search.metric=\"balanced_accuracy\"", "trainer.class_weight=\"balanced\""])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("classes: bad 60, good 540 (majority rate 0.9000)"), "{err}");
    assert!(err.contains("reward: validation balanced_accuracy, epoch-weighted"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("val_balanced_accuracy"), "the top table names the metric: {stdout}");
    // The journal: every epoch carries the metric by name; the reward is made of it.
    let trials = journal(&run);
    assert_eq!(trials.len(), 6);
    for t in &trials {
        let values: Vec<f64> = t
            .epochs
            .iter()
            .map(|e| {
                let m = e.metric.expect("the metric in every epoch");
                assert_eq!(m.name.name(), "balanced_accuracy");
                m.value
            })
            .collect();
        let weighted: f64 = values.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum::<f64>() / 10.0;
        assert!((t.reward - weighted).abs() < 1e-12, "trial {}: reward {} vs {weighted}", t.trial, t.reward);
    }
    let text = std::fs::read_to_string(run.join("journal.jsonl")).expect("journal");
    assert!(text.contains("\"metric\":{\"name\":\"balanced_accuracy\",\"value\":"), "{text}");
    let config = std::fs::read_to_string(run.join("config.toml")).expect("config");
    assert!(config.contains("metric = \"balanced_accuracy\"") && config.contains("class_weight = \"balanced\""));
    // report names it too, and finalize ranks by it and reports it on the test rows.
    let out = bin().arg("report").arg(&run).output().expect("report");
    assert!(String::from_utf8_lossy(&out.stdout).contains("val_balanced_accuracy"), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("; classes: bad 60, good 540 (majority rate 0.9000)"), "report shows the imbalance: {said}");
    let fin = ok(bin().args(["--quiet", "finalize"]).arg(&run).args(["--top", "2", "--epochs", "6"]));
    assert!(fin.contains("| val balanced_accuracy | test balanced_accuracy |"), "{fin}");
    assert!(fin.contains("(model-1: the best by validation balanced_accuracy)"), "{fin}");
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("final/leaderboard.json")).expect("board"))
            .expect("json");
    let entries = board["entries"].as_array().expect("entries");
    let val = |i: usize| entries[i]["metrics"]["val_metric"]["value"].as_f64().expect("val metric");
    assert!(val(0) >= val(1), "model-1 is the best by the metric: {board}");
    assert_eq!(entries[0]["metrics"]["test_metric"]["name"], "balanced_accuracy");
    // Every model directory has its ONNX form; export-onnx writes the same bytes again, and a
    // directory that is not a model is a one-line error.
    let onnx = run.join("final/model-1/model.onnx");
    let bytes = std::fs::read(&onnx).expect("finalize wrote model.onnx");
    std::fs::remove_file(&onnx).expect("rm");
    let out = bin().arg("export-onnx").arg(run.join("final/model-1")).output().expect("export-onnx");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("input \"features\"") && said.contains("2 class probabilities"), "{said}");
    assert_eq!(std::fs::read(&onnx).expect("written again"), bytes);
    let e = fails(bin().arg("export-onnx").arg(&d));
    assert!(e.contains("model.json"), "{e}");
    // predict scores labelled rows by the same metric.
    std::fs::write(d.join("new.csv"), loans(200)).expect("write");
    let out = bin().arg("predict").arg(run.join("final/model-1")).arg("--data").arg(d.join("new.csv")).output();
    let out = out.expect("predict");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let bacc: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("balanced_accuracy "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a balanced_accuracy line: {err}"));
    assert!(
        (0.0..=1.0).contains(&bacc) && err.contains("on the same rows (the metric the model was chosen by)"),
        "{err}"
    );
}

#[test]
fn log_loss_is_a_reward_to_maximise_negated() {
    let (d, csv) = data("objective-logloss");
    let run = d.join("run");
    ok(search(&csv, &run, &["search.metric=\"log_loss\""]).arg("--quiet"));
    for t in journal(&run) {
        let last = t.epochs.last().and_then(|e| e.metric).expect("metric");
        assert!(last.value > 0.0 && t.reward < 0.0, "trial {}: log loss {} reward {}", t.trial, last.value, t.reward);
    }
}

#[test]
fn bad_objectives_are_one_line_errors_before_anything_is_written() {
    let (d, csv) = data("objective-bad");
    let cases: [(&[&str], &str); 5] = [
        (&["search.metric=\"precision\""], "search.metric"),
        (
            &["trainer.class_weight={ ugly = 2.0 }"],
            "trainer: class_weight: no class \"ugly\" in the data (its classes: bad, good)",
        ),
        (&["trainer.class_weight={ bad = 0.0 }"], "the weight of class \"bad\" is 0; weights must be positive"),
        (&["trainer.class_weight=\"heavy\""], "\"heavy\" is not \"none\", \"balanced\""),
        (&["search.positive_class=\"meh\"", "search.metric=\"f1\""], "`search.positive_class`: no class \"meh\""),
    ];
    for (i, (sets, want)) in cases.iter().enumerate() {
        let run = d.join(format!("run-{i}"));
        let e = fails(&mut search(&csv, &run, sets));
        assert!(e.contains(want), "{sets:?}: {e}");
        assert!(!run.exists(), "{sets:?}: the run directory was created");
    }
    // f1 scores one class against another: not for more classes (the config's own data).
    let run = d.join("run-iris");
    let mut c = bin();
    c.args(["search", "--config"]).arg(workspace().join("configs/random.toml"));
    c.args(["--set", "search.metric=\"f1\"", "--out"]).arg(&run);
    let e = fails(&mut c);
    assert!(e.contains("`search.metric`: f1 scores one positive class against the other, and this data has"), "{e}");
    assert!(e.contains("classes; use balanced_accuracy or auc"), "{e}");
    assert!(!run.exists());
    // With a positive class given, the metric is still what is wrong.
    c.args(["--set", "search.positive_class=\"setosa\""]);
    let e = fails(&mut c);
    assert!(e.contains("`search.metric`: f1 scores one positive class against the other"), "{e}");
    assert!(!run.exists());
}

/// A regression table: a price from a size, a text district and a sometimes-missing age.
fn houses(rows: usize, offset: usize) -> String {
    let mut s = String::from("size,district,age,price\n");
    for r in offset..offset + rows {
        let size = 40.0 + ((r * 7919) % 1000) as f64 / 10.0;
        let district = ["north", "south", "east"][r % 3];
        let premium = [30.0, 0.0, 12.0][r % 3];
        let age = (r * 104_729) % 50;
        let price = 50.0 + 2.5 * size + premium - 0.4 * age as f64;
        let age = if r % 11 == 0 { String::new() } else { age.to_string() };
        writeln!(s, "{size:.1},{district},{age},{price:.2}").expect("write");
    }
    s
}

#[test]
fn a_regression_goes_search_finalize_predict_in_the_label_units() {
    let d = tmp("regression");
    let csv = d.join("houses.csv");
    std::fs::write(&csv, houses(400, 0)).expect("write");
    let run = d.join("run");
    let mut c = bin();
    c.args(["search", "--config"]).arg(workspace().join("configs/random.toml"));
    c.arg("--data").arg(&csv).args(["--task", "regression", "--out"]).arg(&run);
    for s in ["search.controller_epochs=2", "search.samples_per_epoch=3", "trainer.epochs=8"] {
        c.args(["--set", s]);
    }
    let out = c.output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("a number to predict"), "{err}");
    assert!(err.contains("target: mean ") && err.contains("(predicting the mean scores rmse "), "{err}");
    assert!(err.contains("reward: validation rmse, negated (smaller is better), epoch-weighted"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("val_rmse") && stdout.contains(",1:linear"), "{stdout}");
    let config = std::fs::read_to_string(run.join("config.toml")).expect("config");
    assert!(config.contains("task = \"regression\"") && config.contains("metric = \"rmse\""), "{config}");
    // Every epoch carries the RMSE in the label's units; the reward is its negated weighted mean.
    for t in journal(&run) {
        assert!(t.architecture.ends_with(",1:linear"), "{}", t.architecture);
        let values: Vec<f64> = t.epochs.iter().map(|e| e.metric.expect("rmse").value).collect();
        let n = values.len() as f64;
        let weighted = values.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum::<f64>() / (n * (n + 1.0) / 2.0);
        assert!((t.reward + weighted).abs() < 1e-9, "trial {}: reward {} vs -{weighted}", t.trial, t.reward);
    }
    // report shows what the RMSE should be read against: the target's spread.
    let out = bin().arg("report").arg(&run).output().expect("report");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("val_rmse"), "{said}");
    assert!(said.contains("data: 400 rows (train / valid 360 / 40), 7 features; target: mean "), "{said}");
    assert!(said.contains("(predicting the mean scores rmse "), "{said}");
    let fin = ok(bin().args(["--quiet", "finalize"]).arg(&run).args(["--top", "2", "--epochs", "40"]));
    assert!(fin.contains("| val rmse | test rmse |"), "{fin}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("final/model-1/model.json")).expect("card"))
            .expect("json");
    assert_eq!(card["class_names"], serde_json::json!([]));
    assert!(card["target_scale"]["std"].as_f64().expect("target scale") > 10.0, "{card}");
    assert!(run.join("final/model-1/model.onnx").exists());
    // predict: one number a row, in the label's units, and the RMSE on labelled rows.
    let new = d.join("new.csv");
    std::fs::write(&new, houses(100, 1000)).expect("write");
    let out = bin().arg("predict").arg(run.join("final/model-1")).arg("--data").arg(&new).output().expect("predict");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let predicted: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap_or_else(|_| panic!("a number: {l:?}")))
        .collect();
    assert_eq!(predicted.len(), 100);
    let prices: Vec<f64> = houses(100, 1000)
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().expect("price").parse().expect("number"))
        .collect();
    let mean = prices.iter().sum::<f64>() / 100.0;
    let spread = (prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / 100.0).sqrt();
    let rmse = (predicted.iter().zip(&prices).map(|(p, t)| (p - t).powi(2)).sum::<f64>() / 100.0).sqrt();
    assert!(rmse < 0.5 * spread, "rmse {rmse} against a spread of {spread}: nothing learned");
    let said: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("rmse "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("an rmse line: {err}"));
    assert!((said - rmse).abs() < 1e-3 * rmse.max(1.0), "predict says rmse {said}, the rows give {rmse}");
    assert!(err.contains("on 100 labelled rows (the metric the model was chosen by)"), "{err}");
}

#[test]
fn bad_regressions_are_one_line_errors_before_anything_is_written() {
    let d = tmp("regression-bad");
    let csv = d.join("houses.csv");
    std::fs::write(&csv, houses(100, 0)).expect("write");
    let (_, loans) = data("regression-bad-loans");
    let cases: [(&Path, &[&str], &str); 5] = [
        (&csv, &[], "the label looks continuous"),
        (
            &csv,
            &["--task", "regression", "--set", "search.metric=\"auc\""],
            "auc is a classification metric and this search is a regression (search.task); use rmse, mae, r2",
        ),
        (
            &csv,
            &["--task", "regression", "--set", "trainer.class_weight=\"balanced\""],
            "class_weight: weighs classes, and a regression has none",
        ),
        (
            &loans,
            &["--task", "regression", "--label", "status"],
            "\"good\" is not a number, and a regression (search.task) predicts a number",
        ),
        (&csv, &["--task", "regression", "--set", "search.positive_class=\"a\""], "a regression has no positive class"),
    ];
    for (i, (data, args, want)) in cases.iter().enumerate() {
        let run = d.join(format!("run-{i}"));
        let mut c = bin();
        c.args(["search", "--config"]).arg(workspace().join("configs/random.toml"));
        c.arg("--data").arg(data).args(*args).arg("--out").arg(&run);
        let e = fails(&mut c);
        assert!(e.contains(want), "{args:?}: {e}");
        if i == 0 {
            assert!(e.contains("use --task regression"), "{e}");
        }
        assert!(!run.exists(), "{args:?}: the run directory was created");
    }
}
