//! `cargo xtask`: project automation that needs no Burn (it drives the `mlpnas` binary instead).
//!
//! * `cargo xtask compare CONFIG... [--seeds N] [--data SPEC ...] [--jobs J] [--out DIR] [--set k=v ...]`
//!   runs every config x data set x seed with `mlpnas search`, resumably, and writes `DIR/report.md`
//!   (tables, paired comparison against a baseline, SVG plots), `summary.csv`, `runs.csv` and
//!   `summary.json`;
//! * `cargo xtask compare --preset smoke --profile dev` is the tiny version CI runs;
//!   `--preset seed-ablation` the one-shot / predictor ablation on wine-quality.
//!
//! Modules: [`compare`] (arguments and presets, plan, jobs, execution, runs in PostgreSQL,
//! aggregation), [`runs`] (reading a run directory through `mlpnas-runs`),
//! [`aggregate`] (per-config numbers, paired comparison, CSV / JSON), [`stats`] (bootstrap,
//! Wilcoxon), [`plots`] (SVG), [`report`] (markdown).

mod aggregate;
mod compare;
mod hypervolume;
mod plots;
mod regret;
mod report;
mod runs;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation for mlpnas.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run configs x seeds with `mlpnas search` and write a comparative report.
    Compare(Box<compare::CompareArgs>),
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map_or(here.clone(), PathBuf::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Compare(a) => compare::compare(*a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": ").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
