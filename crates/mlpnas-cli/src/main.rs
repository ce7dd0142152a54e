//! `mlpnas`: the command-line interface.
//!
//! * `mlpnas search --config FILE [--data SPEC] [--label COL] [--drop COL,..] [--seed N] [--out DIR] [--set k=v ..]`
//! * `mlpnas search --resume DIR [--set search.controller_epochs=N ..]`
//! * `mlpnas search --config FILE --storage postgresql://... [--name NAME] [--threads N]` (and
//!   `--resume NAME --storage URL`): the run lives in PostgreSQL, workers anywhere train it
//! * `mlpnas tabulate --config FILE --seeds K --out DIR [--threads N] [--storage URL [--run NAME]]`
//!   (continued without --config): a benchmark table of the config's space
//! * `mlpnas worker --storage URL [--threads N] [--runs NAME,..] [--exit-when-idle SECS]`
//! * `mlpnas runs --storage URL [--json]`, `mlpnas export NAME --storage URL --out DIR`
//! * `mlpnas eval --arch "64:relu,dropout,32:elu" [--config FILE] [--data SPEC] .. [--json]`
//! * `mlpnas eval --run DIR --trial N [--storage URL] [--json]`: a journal's trial trained again
//! * `mlpnas space [--config FILE] [--set k=v ..]`
//! * `mlpnas report DIR [--top N] [--json]` (`report NAME --storage URL`)
//! * `mlpnas finalize DIR|NAME [--storage URL] [--top K] [--epochs E] [--patience P] [--from-scratch|--from-shared] [--out DIR]`
//! * `mlpnas predict MODEL_DIR --data FILE.csv [--out preds.csv] [--proba]`
//!
//! Errors print one line (`error: FILE: problem`) and exit with status 1; usage errors exit 2.

// First: its `say!` / `note!` macros are used by every module below.
#[macro_use]
mod output;
mod args;
mod commands;
mod config;
mod numbers;
mod signals;
mod storage;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::args::{Cli, Command};
use crate::commands::{after, dashboard, distributed, docs, eval, search};

/// mimalloc instead of glibc's malloc: Burn's per-step buffers made glibc churn mmap/munmap
/// (BENCHMARKS.md, "allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A panic is a bug; still, print one line rather than a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        // The reader of our output went away (`mlpnas report ... | head -1`) while something
        // outside our `say!`/`note!` printed: nothing is wrong, stop quietly as Unix tools do.
        if msg.contains("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        note!("error: internal error{loc}: {}", msg.replace('\n', " "));
    }));
    mlpnas_link::link_all();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the message already holds.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg.replace('\n', " ")
}

fn run(cli: Cli) -> Result<()> {
    let v = match (cli.quiet, cli.verbose) {
        (true, _) => output::Verbosity::Quiet,
        (_, true) => output::Verbosity::Verbose,
        _ => output::Verbosity::Normal,
    };
    match cli.command {
        Command::Search(a) => search::search(a, v),
        Command::Eval(a) => eval::eval(a, v),
        Command::Tabulate(a) => search::tabulate(a, v),
        Command::Space { config, set } => eval::space(config.as_deref(), &set),
        Command::Report { dir, storage, top, json, front } => {
            after::report(&dir, storage.as_deref(), top, json, front, v)
        }
        Command::Finalize(a) => after::finalize(a, v),
        Command::Worker(a) => distributed::worker(a, v),
        Command::Runs { storage, json } => distributed::runs(&storage, json),
        Command::Export { name, storage, out } => distributed::export(&name, &storage, &out, v),
        Command::Predict(a) => after::predict(a, v),
        Command::ExportOnnx { model } => after::export_onnx(&model, v),
        Command::Dashboard(a) => dashboard::dashboard(a),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(out.as_deref()),
    }
}
