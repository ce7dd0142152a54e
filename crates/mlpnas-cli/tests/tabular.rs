//! Tabular data through the real binary: a raw CSV as users have it (an R `rownames` column,
//! text categories, yes/no columns, `NA` and empty cells) goes search -> finalize -> predict on
//! raw held-out rows, with a category never seen in training and empty cells, and no manual
//! preprocessing. The data is generated here (penguin-like), never a committed data set.

mod support;

use std::fmt::Write as _;
use std::path::Path;

use support::{bin, fails, ok, penguins, tmp, workspace};

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
