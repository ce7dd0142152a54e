//! `cargo xtask compare --preset search-quality`: the search procedures of issue 33 (today's,
//! training settings in the space, cross-validation with re-scoring, both) at equal wall time on
//! the tabular kit's classification files, against scikit-learn (BENCHMARKS.md, "Search quality
//! on real data").
//!
//! The work is done by the kit's Python scripts (bench/tabular: `prepare.py` writes the data,
//! `baseline.py` the scikit-learn scores, `quality.py` runs `mlpnas` and writes the table); this
//! builds the binary, finds the kit's Python (`target/tabvenv`, from bench/tabular/requirements.txt)
//! and runs the steps that are missing. A rerun continues: `quality.py` keeps the cells it has.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::args::CompareArgs;
use super::exec::build_binary;

/// Runs the preset; `--data NAME` (repeatable) picks kit data sets, `--seeds N` runs seeds 1..=N
/// (default 2), `--out` is the kit's folder (default target/tabular).
pub(super) fn run(a: &CompareArgs, root: &Path) -> Result<()> {
    if !a.configs.is_empty() || !a.set.is_empty() || !a.tables.is_empty() || a.storage.is_some() {
        bail!("--preset search-quality runs its own procedures: it takes no CONFIG, --set, --tables or --storage");
    }
    let python = match std::env::var_os("MLPNAS_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => root.join("target/tabvenv/bin/python"),
    };
    if !python.is_file() {
        bail!(
            "--preset search-quality: {} not found; create it with `python3 -m venv target/tabvenv && \
             target/tabvenv/bin/pip install -r bench/tabular/requirements.txt` (or set MLPNAS_PYTHON)",
            python.display()
        );
    }
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("target/tabular"));
    let out = if out.is_absolute() { out } else { root.join(out) };
    let script = |name: &str| root.join("bench/tabular").join(name);
    let step = |args: &[&std::ffi::OsStr], what: &str| -> Result<()> {
        eprintln!("search-quality: {what}");
        let status =
            Command::new(&python).args(args).status().with_context(|| format!("running {}", python.display()))?;
        if !status.success() {
            bail!("search-quality: {what} failed ({status})");
        }
        Ok(())
    };
    let out_arg = out.as_os_str();
    if !out.join("manifest.json").is_file() {
        step(&[script("prepare.py").as_os_str(), "--out".as_ref(), out_arg], "writing the data sets (prepare.py)")?;
    }
    let baselines = std::fs::read_to_string(out.join("baselines.json")).unwrap_or_default();
    if !baselines.contains("\"mlp\"") {
        step(&[script("baseline.py").as_os_str(), "--out".as_ref(), out_arg], "scikit-learn baselines (baseline.py)")?;
    }
    let bin = match &a.mlpnas {
        Some(p) if p.is_file() => std::path::absolute(p)?,
        Some(p) => bail!("--mlpnas {}: no such file", p.display()),
        None => build_binary(root, a.profile)?,
    };
    let seeds: Vec<String> = (1..=a.seeds.unwrap_or(2)).map(|s| s.to_string()).collect();
    let jobs = a.jobs.to_string();
    let seeds = seeds.join(",");
    let only = a.data.join(",");
    let quality = script("quality.py");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        quality.as_os_str(),
        "--out".as_ref(),
        out_arg,
        "--bin".as_ref(),
        bin.as_os_str(),
        "--seeds".as_ref(),
        seeds.as_ref(),
        "--jobs".as_ref(),
        jobs.as_ref(),
    ];
    if !only.is_empty() {
        args.extend(["--only".as_ref(), only.as_ref() as &std::ffi::OsStr]);
    }
    step(&args, "procedures at equal wall time (quality.py)")
}
