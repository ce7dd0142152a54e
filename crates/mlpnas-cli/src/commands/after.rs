//! The commands for after a search: `mlpnas report`, `mlpnas finalize` and `mlpnas predict`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mlpnas_core::top_n;

use crate::args::{FinalizeArgs, PredictArgs};
use crate::output;
use crate::signals::on_finalize_interrupt;
use crate::storage::{run_name, run_storage};

pub(crate) fn report(
    dir: &Path,
    url: Option<&str>,
    top: usize,
    json: bool,
    front: bool,
    verbosity: output::Verbosity,
) -> Result<()> {
    // Read-only: no lock, so a report works while the search writes.
    let storage = run_storage(url, dir)?;
    if url.is_some() && !storage.exists()? {
        bail!("{}: no such run (mlpnas runs --storage URL lists them)", storage.location());
    }
    let (log, measurement) = mlpnas_search::Run::read_checked_trials(storage.as_ref())?;
    if verbosity == output::Verbosity::Verbose {
        match storage.read_summary()? {
            Some(s) => note!("finished: {} trials in {:.1} s", s.trials, s.wall_seconds),
            None => note!("not finished: running now, or interrupted (continue it with --resume)"),
        }
    }
    let (records, warnings) = (log.records, log.warnings);
    for w in warnings {
        note!("warning: {w}");
    }
    let pareto = mlpnas_core::pareto_front(&records);
    if front && records.iter().all(|r| r.objectives.is_empty()) {
        bail!(
            "{}: --front: this run has one objective (its config sets no search.objectives), so it has no Pareto front",
            storage.location()
        );
    }
    let best = if front { pareto.clone() } else { top_n(&records, top) };
    if json {
        // Each record as journaled; a re-scored one also gives what it is ranked by (the mean
        // of its scores) and those scores.
        let again = mlpnas_core::rescored(&records);
        let mut shown = Vec::with_capacity(best.len());
        for r in &best {
            let mut v = serde_json::to_value(r)?;
            if let (Some(scores), Some(o)) = (again.get(&r.trial), v.as_object_mut()) {
                o.insert("ranking_reward".into(), mlpnas_core::ranking_reward(r, &again).into());
                o.insert("rescores".into(), scores[1..].into());
            }
            shown.push(v);
        }
        say!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        // What the rewards should be read against, on stderr beside the table (runs made
        // before 0.5.0 have no summary).
        if let Some(data) = storage.read_data_summary()?
            && verbosity > output::Verbosity::Quiet
        {
            let rows: Vec<String> = data.rows.iter().map(usize::to_string).collect();
            note!(
                "data: {} rows (train / valid{} {}), {} features; {}",
                data.rows.iter().sum::<usize>(),
                if data.rows.len() > 2 { " / test" } else { "" },
                rows.join(" / "),
                data.features,
                data.label
            );
        }
        if front {
            say!("{}", output::front_table(&pareto));
        } else {
            say!("{}", output::table(&best, &records, measurement.as_ref()));
            if !pareto.is_empty() {
                say!("\nPareto front ({} of the trials; report --front lists only them):", pareto.len());
                say!("{}", output::front_table(&pareto));
            }
        }
        say!("{} trials", records.len());
    }
    Ok(())
}

pub(crate) fn finalize(a: FinalizeArgs, verbosity: output::Verbosity) -> Result<()> {
    let opts = mlpnas_final::FinalizeOptions {
        top: a.top,
        max_epochs: a.epochs,
        patience: a.patience,
        init: if a.from_shared { mlpnas_final::Init::Shared } else { mlpnas_final::Init::Scratch },
        test_fraction: a.test_fraction,
        out: a.out.clone(),
        backend: a.backend,
        refit: match a.refit {
            crate::args::Refit::Train => mlpnas_final::RefitOn::Train,
            crate::args::Refit::All => mlpnas_final::RefitOn::All,
        },
        front: a.front,
    };
    let quiet = verbosity == output::Verbosity::Quiet;
    let out = match (&a.out, &a.storage) {
        (Some(o), _) => o.clone(),
        (None, None) => a.dir.join("final"),
        (None, Some(_)) => PathBuf::from(format!("{}-final", run_name(&a.dir)?)),
    };
    on_finalize_interrupt(mlpnas_final::temporary_dir(&out), out.clone());
    let mut progress = |line: &str| {
        if !quiet || line.starts_with("warning") {
            note!("{line}");
        }
    };
    let board = match &a.storage {
        None => mlpnas_final::finalize(&a.dir, &opts, &mut progress)?,
        Some(url) => mlpnas_final::finalize_run(run_storage(Some(url), &a.dir)?, &out, &opts, &mut progress)?,
    };
    say!("{}", board.to_markdown());
    say!("models and leaderboard: {}", board.dir.display());
    if let Some(best) = board.entries.first() {
        let by = best.metrics.val_metric.map_or("accuracy", |m| m.name.name());
        say!(
            "predict with: mlpnas predict {} --data FILE.csv   (model-1: the best by validation {by})",
            board.dir.join(&best.model_dir).display()
        );
    }
    Ok(())
}

pub(crate) fn export_onnx(model: &std::path::Path, verbosity: output::Verbosity) -> Result<()> {
    let predictor = mlpnas_final::Predictor::load_on(model, None)?;
    let path = predictor.write_onnx()?;
    if verbosity > output::Verbosity::Quiet {
        let output = match predictor.model().n_classes() {
            0 => format!("\"{}\": the predicted value", mlpnas_final::onnx::PREDICTION),
            n => format!("\"{}\": {n} class probabilities", mlpnas_final::onnx::OUTPUT),
        };
        note!(
            "{} (input \"{}\": {} features as model.json's feature_names; output {output})",
            path.display(),
            mlpnas_final::onnx::INPUT,
            predictor.card().feature_names.len(),
        );
    }
    Ok(())
}

pub(crate) fn predict(a: PredictArgs, verbosity: output::Verbosity) -> Result<()> {
    let quiet = verbosity == output::Verbosity::Quiet;
    let predictor = mlpnas_final::Predictor::load_on(&a.model, a.backend.as_deref())?;
    let cwd = std::env::current_dir().context("current directory")?;
    let p = predictor.predict_source(&a.data, &cwd)?;
    for n in &p.notes {
        note!("warning: {n}");
    }
    let names = &predictor.card().class_names;
    let mut out = String::new();
    out.push_str("prediction");
    if a.proba {
        for n in names {
            out.push(',');
            out.push_str(&csv_field(&format!("p_{n}")));
        }
    }
    out.push('\n');
    if p.n_classes == 0 {
        // A regression: one number a row, in the label's units (--proba adds nothing).
        for v in &p.proba {
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    for (i, &c) in p.classes.iter().enumerate() {
        out.push_str(&csv_field(&names[c]));
        if a.proba {
            for v in &p.proba[i * p.n_classes..(i + 1) * p.n_classes] {
                out.push(',');
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    match &a.out {
        Some(path) => {
            // Written whole or not at all; an error names the file asked for, not the temporary.
            mlpnas_runs::atomic_write(path, out.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: cannot write the predictions: {e}", path.display()))?;
            if !quiet {
                note!("{} predictions -> {}", p.rows, path.display());
            }
        }
        None => {
            use std::io::Write as _;
            let _ = write!(std::io::stdout(), "{out}");
        }
    }
    if let Some(score) = p.score(names, predictor.card().objective()) {
        if p.n_classes == 0 {
            if score.unknown_rows > 0 {
                note!(
                    "warning: {} of {} labelled rows have labels that are not numbers (such as {:?}); they are not scored",
                    score.unknown_rows,
                    p.rows,
                    score.unknown_labels.first().map_or("", String::as_str)
                );
            }
            if let Some(m) = score.metric
                && !quiet
            {
                note!(
                    "{} {:.4} on {} labelled rows (the metric the model was chosen by)",
                    m.name,
                    m.value,
                    score.known_rows
                );
            }
            return Ok(());
        }
        if score.unknown_rows > 0 {
            let shown: Vec<&str> = score.unknown_labels.iter().take(10).map(String::as_str).collect();
            let more = score.unknown_labels.len().saturating_sub(shown.len());
            note!(
                "warning: {} of {} labelled rows have labels the model has never seen ({}{}; its classes: {})",
                score.unknown_rows,
                p.rows,
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() },
                names.join(", ")
            );
        }
        match score.accuracy {
            _ if quiet => {}
            Some(acc) if score.unknown_rows == 0 => {
                note!("accuracy {acc:.4} on {} labelled rows", score.known_rows)
            }
            Some(acc) => {
                note!("accuracy {acc:.4} on the {} rows whose labels the model knows", score.known_rows)
            }
            None => note!("no accuracy: no row has a label the model knows"),
        }
        if let Some(m) = score.metric
            && !quiet
        {
            note!("{} {:.4} on the same rows (the metric the model was chosen by)", m.name, m.value);
        }
    }
    Ok(())
}

/// A CSV field, quoted when needed.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
