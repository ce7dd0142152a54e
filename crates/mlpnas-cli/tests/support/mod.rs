//! Shared by the end-to-end tests of the `mlpnas` binary (each test file says `mod support;`):
//! the binary, fresh directories, running a command that must succeed or fail by the error
//! contract (one line, exit 1, no panic, no backtrace), journals, the tiny benchmark table, and
//! the dashboard client ([`dashboard`]).
#![allow(dead_code)]

pub mod dashboard;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mlpnas_core::TrialRecord;

/// The `mlpnas` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mlpnas"))
}

/// The workspace root (configs/, and ../shared beside it).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh empty directory for one test, named after the test binary, this process and `name`.
pub fn tmp(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    let suite = exe.as_deref().and_then(Path::file_stem).map_or("e2e".into(), |s| s.to_string_lossy().into_owned());
    let suite = suite.split('-').next().unwrap_or("e2e").to_string();
    let d = std::env::temp_dir().join(format!("mlpnas-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// Runs `cmd` to its end; a panic in its output fails the test.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run mlpnas");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "panic: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; returns its stderr after checking the error contract.
pub fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected exit 1, stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "error must be one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    err
}

/// The trials of the run directory `dir`.
pub fn journal(dir: &Path) -> Vec<TrialRecord> {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
    text.lines().map(|l| serde_json::from_str(l).expect("record")).collect()
}

/// `mlpnas tabulate` of a tiny space on iris into `out`: 4 hidden tokens, max_len 3 = 24
/// configurations, 4 training epochs each.
pub fn tabulate(out: &Path, seeds: usize) -> Command {
    let mut c = bin();
    c.args(["tabulate", "--quiet", "--config"]).arg(workspace().join("configs/random.toml"));
    c.args(["--data", "builtin:iris", "--seeds", &seeds.to_string(), "--out"]).arg(out);
    c.args(["--set", "space.units=[8, 16]", "--set", "space.activations=[\"relu\", \"tanh\"]"]);
    c.args(["--set", "trainer.epochs=4"]);
    c
}

/// `table.csv` of the table in `dir` without its `seconds` column (wall times differ between
/// runs).
pub fn rows_without_seconds(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("table.csv")).expect("table.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let keep = header.iter().position(|h| *h == "seconds").expect("a seconds column");
    assert_eq!(header[keep - 2..keep], ["seed", "val_acc"]);
    text.lines().map(|l| l.split(',').take(keep).collect::<Vec<_>>().join(",")).collect()
}

/// `epochs.csv` of the table in `dir`.
pub fn epochs_csv(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("epochs.csv")).expect("epochs.csv")
}

/// Penguin-like CSV rows (generated, never a committed data set): species decided by island and
/// body mass (learnable), with `NA` and empty cells, an R `rownames` index, a yes/no column.
/// `first` numbers the rows.
#[allow(dead_code)] // not every test binary uses it
pub fn penguins(rows: usize, first: usize) -> String {
    use std::fmt::Write as _;
    let mut t = String::from("rownames,species,island,bill_length_mm,body_mass_g,sex,tagged\n");
    for i in first..first + rows {
        let island = ["Biscoe", "Dream", "Torgersen"][i % 3];
        let heavy = (i / 3) % 2 == 0;
        let species = match (island, heavy) {
            ("Biscoe", true) => "Gentoo",
            ("Dream", false) => "Chinstrap",
            _ => "Adelie",
        };
        let mass = if heavy { 5000 + (i * 37) % 700 } else { 3300 + (i * 53) % 600 };
        let bill = if i % 11 == 0 { "NA".to_string() } else { format!("{:.1}", 35.0 + (i % 17) as f64) };
        let sex = match i % 7 {
            0 => "",
            k if k % 2 == 0 => "female",
            _ => "male",
        };
        let tagged = if i % 4 == 0 { "yes" } else { "no" };
        let _ = writeln!(t, "{},{species},{island},{bill},{mass},{sex},{tagged}", i + 1);
    }
    t
}
