//! `mlpnas tabulate`: trains every configuration of a config's space with several seeds and
//! writes the results as a benchmark table (`mlpnas_data::table`), plus the per-epoch
//! validation accuracy of every row.
//!
//! A tabulation is a run like a search ([`Run`]: one owner, its lock, its journal), kept in
//! `OUT/run/`: row `i` of the plan is configuration `i % N` (the space's sequences in
//! depth-first order, [`mlpnas_core::sampling::enumerate`]) with seed `i / N`, trained from
//! scratch (no weight sharing) with the trial seed of index `i`, and journaled as trial `i`.
//! Rows are seed-major, so every seed's pass over the space is a complete table: after each
//! pass (and at the end) `OUT/table.toml`, `OUT/table.csv` and `OUT/epochs.csv` are rewritten
//! atomically from the journal. A killed tabulation resumes from its journal
//! ([`Run::resume`]) and ends with the table of an uninterrupted one; raising `--seeds` later
//! continues it.
//!
//! A tabulation whose run is in a shared storage (PostgreSQL) trains its rows through the run's
//! queue ([`Queued`]), like a search: `mlpnas worker` processes anywhere train them, and so do
//! `threads` threads of this process; the table does not depend on who trained what.
//!
//! The table has one dimension per sequence position (`layer_1`, ...; `token_1`, ... for a
//! space that is not the MLP space), whose values are the token texts seen there and `none`
//! past a sequence's end, the metric `val_acc` (validation accuracy after the last epoch,
//! maximised; 0 when training diverged) and each row's training `seconds`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mlpnas_core::{Candidate, LayerWeights, Proposal, SearchSpace, Summary, TokenId, TrialRecord};
use mlpnas_data::table::{Description, Dimension, Direction, Row, TABLE_CSV, TABLE_TOML, Value, render};

use crate::error::SearchError;
use crate::observer::Observer;
use crate::prepare::Prepared;
use crate::queued::{Queued, QueuedJob};
use crate::run::Run;
use crate::training::{Trained, record, train_on_threads};

/// The run directory of a tabulation, inside its output directory.
pub const RUN_DIR: &str = "run";
pub use mlpnas_data::table_curves::EPOCHS_CSV;
/// The value of a position past a sequence's end.
pub const NONE: &str = "none";
/// Largest plan accepted (configurations x seeds).
pub const MAX_ROWS: usize = 1_000_000;
/// Rows a tabulation through a queue keeps queued at once (within a seed pass): enough to keep
/// many workers busy, few enough that the journal and the progress display follow closely.
pub const QUEUED_ROWS: usize = 256;

/// What a finished tabulation returns.
#[derive(Debug)]
pub struct Tabulated {
    /// Configurations of the space.
    pub configurations: usize,
    /// Seeds per configuration in the table: `--seeds`, or more when an earlier tabulation
    /// of the run had more (a table never loses rows).
    pub seeds: usize,
    /// Rows in the table (configurations x seeds).
    pub rows: usize,
    /// Wall time of this session.
    pub seconds: f64,
    /// The table directory.
    pub out: PathBuf,
}

/// Trains the plan of `run` (a run opened for writing, with its store unused) for `seeds` seeds
/// on `threads` threads of this process (and on workers, when the run's storage has a queue;
/// only there may `threads` be 0), writing the table into `out` (see the module
/// documentation). `name` is the table's name.
pub fn tabulate(
    run: Run,
    data: &Prepared,
    seeds: usize,
    threads: usize,
    out: &Path,
    name: &str,
    observer: &mut dyn Observer,
) -> Result<Tabulated, SearchError> {
    let t0 = Instant::now();
    let (mut storage, cfg, mut records, notices) = run.into_parts()?;
    let location = storage.location();
    let damaged = |message: String| SearchError::Io { path: location.clone(), message };
    if seeds == 0 {
        return Err(damaged("--seeds must be at least 1".into()));
    }
    let space = cfg.space.build().map_err(|source| SearchError::Config { path: "space".into(), source })?;
    let trainer = crate::resampled::build_trainer(&cfg, Arc::clone(&data.split), &data.objective)?;
    trainer.check_space(space.as_ref())?;
    let configs = mlpnas_core::sampling::enumerate(space.as_ref());
    let n = configs.len();
    let total = n.checked_mul(seeds).filter(|&t| t <= MAX_ROWS).ok_or_else(|| {
        damaged(format!("{n} configurations x {seeds} seeds is more than {MAX_ROWS} rows; make the space smaller"))
    })?;
    for (i, r) in records.iter().enumerate() {
        if r.trial != i || r.tokens != configs[i % n] {
            return Err(damaged(format!(
                "trial {} ({}) is not row {i} of this space's plan; the run was made with another space",
                r.trial, r.architecture
            )));
        }
    }
    let (description, indices) = describe(space.as_ref(), &configs, name)?;
    for m in notices {
        observer.warning(&m);
    }
    // A table never loses rows: fewer --seeds than it holds keeps them all (and completes a
    // seed pass a kill interrupted).
    if records.len() > total {
        observer.notice(&format!(
            "the table already holds {} rows ({} seed(s) begun); --seeds {seeds} removes none",
            records.len(),
            records.len().div_ceil(n)
        ));
    }
    let total = total.max(records.len().div_ceil(n) * n);
    observer.start(total);
    if !records.is_empty() && records.len() < total {
        observer.notice(&format!("resuming after {} journaled rows", records.len()));
    }
    let queue = storage.queue();
    if queue.is_none() && threads == 0 {
        return Err(damaged("a local tabulation needs at least one training thread".into()));
    }
    storage.clear_summary()?;
    if queue.is_some() {
        storage.publish_data(&data.split)?;
    }
    let queued =
        queue.as_deref().map(|q| Queued::new(q, storage.as_ref(), &cfg, trainer.as_ref(), space.as_ref(), threads));
    let batch = if queued.is_some() { QUEUED_ROWS.max(threads) } else { threads };
    let (input_dim, n_classes) = (trainer.input_dim(), trainer.n_classes());
    let mut best = 0;
    while records.len() < total {
        let first = records.len();
        // A batch never crosses a seed pass, so each pass's table is written as soon as it ends.
        let end = (first + batch).min(total).min((first / n + 1) * n);
        let mut jobs = Vec::with_capacity(end - first);
        for i in first..end {
            let tokens = configs[i % n].clone();
            jobs.push((i, space.candidate(&tokens, input_dim, n_classes)?, tokens));
        }
        let trained: Vec<Trained> = match &queued {
            Some(queued) => {
                let work: Vec<QueuedJob<'_>> = jobs.iter().map(|(i, _, tokens)| (*i, &tokens[..], &[][..])).collect();
                queued.train(&work, observer)?
            }
            None => {
                let work: Vec<(usize, &Candidate, &[Option<LayerWeights>])> =
                    jobs.iter().map(|(i, candidate, _)| (*i, candidate, &[][..])).collect();
                train_on_threads(trainer.as_ref(), cfg.seed, &work, threads)
            }
        };
        for ((i, candidate, tokens), (outcome, seconds)) in jobs.into_iter().zip(trained) {
            let outcome = outcome?;
            let proposal = Proposal { tokens, predicted: None };
            let rec = record(i, i / n, proposal, &candidate, (&outcome, seconds), 0, &data.objective);
            storage.append_trial(&rec, None)?;
            records.push(rec);
            if metric(&records[i]) > metric(&records[best]) {
                best = i;
            }
            observer.trial(&records[i], &records[best]);
        }
        if let Some(queued) = &queued {
            queued.retire(&(first..end).collect::<Vec<_>>())?;
        }
        if records.len() % n == 0 {
            write_table(out, &description, &indices, &records)?;
        }
    }
    if !total.is_multiple_of(n) || records.is_empty() {
        write_table(out, &description, &indices, &records)?;
    }
    storage.write_summary(&Summary {
        finished: true,
        trials: records.len(),
        exhausted: false,
        wall_seconds: t0.elapsed().as_secs_f64(),
        best: records.get(best).cloned(),
    })?;
    Ok(Tabulated {
        configurations: n,
        seeds: total / n,
        rows: total,
        seconds: t0.elapsed().as_secs_f64(),
        out: out.to_path_buf(),
    })
}

/// A row's metric: the validation accuracy after its last epoch.
fn metric(r: &TrialRecord) -> f64 {
    r.val_acc_last
}

/// The table's description: one dimension per position, the token texts seen there in token
/// order, then [`NONE`] if some sequence ends before it; and each configuration's value indices.
fn describe(
    space: &dyn SearchSpace,
    configs: &[Vec<TokenId>],
    name: &str,
) -> Result<(Description, Vec<Vec<u32>>), SearchError> {
    let prefix = if space.as_mlp().is_some() { "layer" } else { "token" };
    let width = configs.iter().map(Vec::len).max().unwrap_or(0);
    let mut dimensions = Vec::with_capacity(width);
    let mut indices: Vec<Vec<u32>> = vec![Vec::with_capacity(width); configs.len()];
    for pos in 0..width {
        let mut ids: Vec<TokenId> = configs.iter().filter_map(|c| c.get(pos).copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut values: Vec<Value> =
            ids.iter().map(|&id| Value::Text(space.token_text(id).unwrap_or_else(|| id.to_string()))).collect();
        let none = values.len() as u32;
        if configs.iter().any(|c| c.len() <= pos) {
            values.push(Value::Text(NONE.into()));
        }
        for (c, ix) in configs.iter().zip(&mut indices) {
            ix.push(c.get(pos).map_or(none, |id| ids.binary_search(id).unwrap_or_default() as u32));
        }
        dimensions.push(Dimension { name: format!("{prefix}_{}", pos + 1), values });
    }
    let description =
        Description { name: name.to_string(), metric: "val_acc".into(), direction: Direction::Maximize, dimensions };
    description.check(Path::new(TABLE_TOML)).map_err(table_error)?;
    Ok((description, indices))
}

fn table_error(e: mlpnas_data::table::TableError) -> SearchError {
    SearchError::Io { path: TABLE_TOML.into(), message: e.to_string() }
}

/// Rewrites the table files from every row so far.
fn write_table(
    out: &Path,
    description: &Description,
    indices: &[Vec<u32>],
    records: &[TrialRecord],
) -> Result<(), SearchError> {
    let n = indices.len();
    let mut rows = Vec::with_capacity(records.len());
    let mut epochs = String::new();
    let header: Vec<&str> = description.dimensions.iter().map(|d| d.name.as_str()).collect();
    let _ = writeln!(epochs, "{},seed,epoch,train_loss,val_loss,val_acc", header.join(","));
    for r in records {
        let config = indices[r.trial % n].clone();
        let seed = (r.trial / n) as i64;
        rows.push(Row { config: config.clone(), seed, metric: metric(r), seconds: Some(r.seconds) });
        let cells: Vec<String> =
            config.iter().zip(&description.dimensions).map(|(&v, d)| d.values[v as usize].to_string()).collect();
        for (e, m) in r.epochs.iter().enumerate() {
            let _ = writeln!(
                epochs,
                "{},{seed},{},{:?},{:?},{:?}",
                cells.join(","),
                e + 1,
                m.train_loss,
                m.val_loss,
                m.val_acc
            );
        }
    }
    let (toml_text, csv_text) = render(description, &rows).map_err(table_error)?;
    std::fs::create_dir_all(out)
        .map_err(|e| SearchError::Io { path: out.display().to_string(), message: format!("cannot create: {e}") })?;
    for (file, text) in [(TABLE_TOML, toml_text), (TABLE_CSV, csv_text), (EPOCHS_CSV, epochs)] {
        let path = out.join(file);
        mlpnas_runs::atomic_write(&path, text.as_bytes())
            .map_err(|e| SearchError::Io { path: path.display().to_string(), message: format!("cannot write: {e}") })?;
    }
    Ok(())
}
