//! [`finalize`]: retrain the top architectures of a run, score them on the test part, export them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mlpnas_core::seed::derive;
use mlpnas_core::top_n;
use mlpnas_core::{
    Architecture, ArchitectureTrainer, EarlyStopping, LayerWeights, TargetScale, TrialRecord, TrialStatus, WeightStore,
    codec,
};
use mlpnas_runs::{
    FINAL_DIR, FinalMetrics, JOURNAL, LEADERBOARD_JSON, LEADERBOARD_MD, Leaderboard, LeaderboardEntry, Refit, RunDir,
};
use mlpnas_search::{CheckedConfig, Run, SearchError, prepare_data};
use serde::{Deserialize, Serialize};

use crate::card::{CARD_FORMAT, ModelCard};
use crate::error::FinalError;
use crate::{MODEL_CARD, MODEL_WEIGHTS};

/// Where the final training of each architecture starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Fresh Glorot-uniform weights (seeded).
    Scratch,
    /// The run's shared weights for every bigram the store holds, fresh weights for the rest.
    Shared,
}

/// What the exported model is trained on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefitOn {
    /// The training rows, with early stopping on the validation rows (the default).
    #[default]
    Train,
    /// After that, the training and validation rows together, for the early-stopped model's best
    /// epoch count (the test rows stay out).
    All,
}

/// Settings of [`finalize`].
#[derive(Debug, Clone, PartialEq)]
pub struct FinalizeOptions {
    /// How many of the best architectures to retrain.
    pub top: usize,
    /// Epochs at most.
    pub max_epochs: usize,
    /// Early stopping: epochs without a lower validation loss before stopping.
    pub patience: usize,
    /// Where training starts.
    pub init: Init,
    /// Test share carved out of the training rows when the run's split has no test part.
    pub test_fraction: f64,
    /// Output directory (default `RUN_DIR/final`); must not exist yet.
    pub out: Option<PathBuf>,
    /// Backend to retrain on instead of the run's (e.g. a search on a GPU, finalized on a CPU):
    /// a backend name of the run's trainer (`flex`, `ndarray`, `tch-cpu`, `tch-cuda:N`).
    pub backend: Option<String>,
    /// What the exported model is trained on (`--refit`).
    pub refit: RefitOn,
    /// Finalize the members of the run's Pareto front (`--front`; a multi-objective run)
    /// instead of the `top` best.
    pub front: bool,
}

impl Default for FinalizeOptions {
    fn default() -> Self {
        Self {
            top: 3,
            max_epochs: 100,
            patience: 10,
            init: Init::Scratch,
            test_fraction: 0.1,
            out: None,
            backend: None,
            refit: RefitOn::Train,
            front: false,
        }
    }
}

/// Retrains the `opts.top` best trials of `run_dir` and writes the models and the leaderboard
/// into `opts.out` (default `run_dir/final`), which must not exist: everything is written to a
/// temporary sibling first and renamed at the end, so an interrupted finalize leaves nothing
/// half-written behind. `progress` receives one line per step.
pub fn finalize(
    run_dir: &Path,
    opts: &FinalizeOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Leaderboard, FinalError> {
    check_options(opts)?;
    let out = opts.out.clone().unwrap_or_else(|| run_dir.join(FINAL_DIR));
    if out.exists() {
        return Err(FinalError::file(&out, "already exists; remove it or choose another --out"));
    }
    if !run_dir.join(JOURNAL).exists() {
        return Err(FinalError::file(run_dir, "no journal.jsonl here; is it a run directory?"));
    }
    finalize_run(Box::new(RunDir::new(run_dir)), &out, opts, progress)
}

fn check_options(opts: &FinalizeOptions) -> Result<(), FinalError> {
    if opts.top == 0 || opts.max_epochs == 0 || opts.patience == 0 {
        return Err(FinalError::Invalid("--top, --epochs and --patience must be at least 1".into()));
    }
    if !(opts.test_fraction > 0.0 && opts.test_fraction < 1.0) {
        return Err(FinalError::Invalid(format!("--test-fraction must be in (0, 1), got {}", opts.test_fraction)));
    }
    Ok(())
}

/// [`finalize`] of the run in `storage` (a run directory or a run in a database), writing to
/// `out`. The run's data is loaded again from its config's source, so it must be readable here.
pub fn finalize_run(
    storage: Box<dyn mlpnas_core::RunStorage>,
    out: &Path,
    opts: &FinalizeOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Leaderboard, FinalError> {
    check_options(opts)?;
    let out = out.to_path_buf();
    if out.exists() {
        return Err(FinalError::file(&out, "already exists; remove it or choose another --out"));
    }
    let shown = storage.location();
    if !storage.exists().map_err(SearchError::from)? {
        return Err(FinalError::Invalid(format!("{shown}: no such run")));
    }
    // With --backend, the run's backends are replaced before validation: a search made on a
    // backend this build or machine lacks (tch-cuda:0, say) can be finalized here.
    let mut run = Run::open(storage, opts.backend.as_deref()).map_err(|e| match e {
        SearchError::Config { ref source, .. } if source.field.ends_with("backend") => {
            FinalError::Invalid(format!("{e}; `--backend flex` finalizes on another backend"))
        }
        e => e.into(),
    })?;
    for w in run.take_warnings() {
        progress(&format!("warning: {w}"));
    }
    let records = run.records().to_vec();
    if opts.front && records.iter().all(|r| r.objectives.is_empty()) {
        return Err(FinalError::Invalid(format!(
            "{shown}: --front: this run has one objective (its config sets no search.objectives), so it has no Pareto front; use --top"
        )));
    }
    let ok = records.iter().filter(|r| r.status == TrialStatus::Ok && r.rescore_of.is_none()).count();
    if ok == 0 {
        return Err(FinalError::Invalid(format!("{shown}: holds no successfully trained architecture")));
    }
    let carved = run.config().data.test_fraction == 0.0;
    if carved && opts.init == Init::Shared {
        return Err(FinalError::Invalid(format!(
            "{}: the run's split has no test part, so its shared weights were trained on every non-validation row; \
             --from-shared would leak them into the test score (use --from-scratch, or search with data.test_fraction > 0)",
            shown
        )));
    }
    let store = match opts.init {
        Init::Shared if run.config().search.resampling() != mlpnas_core::Resampling::Holdout => {
            return Err(FinalError::Invalid(format!(
                "{shown}: the search scored its candidates on {}, so every shared weight was trained on some of the \
                 validation rows the final training stops on; use --from-scratch",
                run.config().search.resampling()
            )));
        }
        Init::Shared => {
            if !run.shares_weights() {
                return Err(FinalError::Invalid(format!(
                    "{}: the search shared no weights (one_shot off or no [store]); use --from-scratch",
                    shown
                )));
            }
            run.weight_store(run.checkpoint()?.as_ref(), records.len())?
        }
        Init::Scratch => None,
    };
    let cfg = if carved {
        let mut c = run.into_config().into_unchecked();
        c.data.test_fraction = opts.test_fraction;
        c.check()?
    } else {
        run.into_config()
    };
    let data = prepare_data(&cfg)?;
    let test = match data.split.test.as_ref() {
        Some(t) => t.clone(),
        None => return Err(FinalError::Invalid("the split has no test part".into())),
    };
    let split = Arc::clone(&data.split);
    progress(&format!(
        "data: {} train / {} valid / {} test rows{}",
        split.train.n_rows(),
        split.valid.n_rows(),
        test.n_rows(),
        if carved { " (test rows carved out of the search's training rows)" } else { "" }
    ));
    let trainer = cfg.trainer.build(Arc::clone(&split), &data.objective)?;
    // `--refit all`: a second trainer over the training and validation rows together (its
    // "validation" part is never read for a decision: the epoch count comes from the first fit).
    let (refit, refit_scale) = match opts.refit {
        RefitOn::Train => (None, None),
        RefitOn::All => {
            let all = mlpnas_core::Dataset::concat(&[&split.train, &split.valid]).map_err(FinalError::Invalid)?;
            let scale = TargetScale::of(&all);
            let rows = all.n_rows();
            let both = mlpnas_core::DataSplit { train: all, valid: split.valid.clone(), test: None };
            (Some((cfg.trainer.build(Arc::new(both), &data.objective)?, rows)), scale)
        }
    };
    // Recorded always (the default is the last column): `predict` reports accuracy on labelled rows.
    let label_column = mlpnas_data::label_column(&cfg.data, &cfg.base_dir)?;
    let job = Job {
        cfg: &cfg,
        trainer: trainer.as_ref(),
        refit: refit.as_ref().map(|(t, rows)| (t.as_ref(), *rows)),
        refit_scale,
        store: store.as_deref(),
        test: &test,
        data: &data,
        label_column: label_column.as_deref(),
    };

    let tmp = temporary_dir(&out);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| FinalError::file(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| FinalError::file(&tmp, e))?;
    let result = job.train_all(&records, opts, &tmp, progress);
    let mut board = match result {
        Ok(entries) => Leaderboard {
            run_dir: shown.clone(),
            data_source: cfg.data.source.to_string(),
            test_carved_from_train: carved,
            entries,
            dir: out.clone(),
        },
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // Ordered by validation, never by test: choosing the winner on the test rows would bias the
    // very estimate they exist to give.
    // The run's metric where it has one other than the accuracy.
    let validation = |m: &FinalMetrics| m.val_metric.map_or(m.val_acc, |v| v.reward());
    board.entries.sort_by(|a, b| {
        (validation(&b.metrics).total_cmp(&validation(&a.metrics)))
            .then(a.metrics.val_loss.total_cmp(&b.metrics.val_loss))
            .then(a.metrics.rank.cmp(&b.metrics.rank))
    });
    // Model directories are named by that order: `model-1` is the best by validation (the card
    // keeps the search rank). Two passes, so that no name is taken while renaming.
    for (i, e) in board.entries.iter().enumerate() {
        let (from, to) = (tmp.join(&e.model_dir), tmp.join(format!(".renaming-{i}")));
        std::fs::rename(&from, &to).map_err(|err| FinalError::file(&from, err))?;
    }
    for (i, e) in board.entries.iter_mut().enumerate() {
        e.model_dir = format!("model-{}", i + 1);
        let (from, to) = (tmp.join(format!(".renaming-{i}")), tmp.join(&e.model_dir));
        std::fs::rename(&from, &to).map_err(|err| FinalError::file(&from, err))?;
    }
    let json = serde_json::to_string_pretty(&board).map_err(|e| FinalError::file(&tmp, e))?;
    write(&tmp.join(LEADERBOARD_JSON), json.as_bytes())?;
    write(&tmp.join(LEADERBOARD_MD), board.to_markdown().as_bytes())?;
    std::fs::rename(&tmp, &out).map_err(|e| FinalError::file(&out, e))?;
    Ok(board)
}

/// Where [`finalize`] writes before renaming to `out` (a hidden sibling of `out`, named with
/// the process id): a caller that stops a finalize (Ctrl-C) removes it.
pub fn temporary_dir(out: &Path) -> PathBuf {
    out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name().map_or(FINAL_DIR.into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FinalError> {
    std::fs::write(path, bytes).map_err(|e| FinalError::file(path, e))
}

/// What every final training of one finalize shares.
struct Job<'a> {
    cfg: &'a CheckedConfig,
    trainer: &'a dyn ArchitectureTrainer,
    /// The trainer over training plus validation rows (`--refit all`), and their number.
    refit: Option<(&'a dyn ArchitectureTrainer, usize)>,
    /// A regression target's standardization over those rows (the refit models' scale).
    refit_scale: Option<TargetScale>,
    store: Option<&'a dyn WeightStore>,
    test: &'a mlpnas_core::Dataset,
    data: &'a mlpnas_search::Prepared,
    label_column: Option<&'a str>,
}

impl Job<'_> {
    /// Trains, scores and exports each of the top trials into `dir`.
    fn train_all(
        &self,
        records: &[TrialRecord],
        opts: &FinalizeOptions,
        dir: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<LeaderboardEntry>, FinalError> {
        let Self { cfg, trainer, refit, refit_scale, store, test, data, label_column } = *self;
        let split = &data.split;
        let dropout = cfg.mlp_space()?.dropout_rate();
        // Ranked as the search ranks (re-scored candidates by the mean of their scores); the
        // successfully trained ones.
        let ok: Vec<&TrialRecord> =
            top_n(records, usize::MAX).into_iter().filter(|r| r.status == TrialStatus::Ok).collect();
        // What the search ranked each by: a re-scored candidate's mean over its scores.
        let again = mlpnas_core::rescored(records);
        let best: Vec<&TrialRecord> = if opts.front {
            // The front's members, in the order the search ranks them.
            let front: Vec<usize> = mlpnas_core::pareto_front(records).iter().map(|r| r.trial).collect();
            ok.iter().copied().filter(|r| front.contains(&r.trial)).collect()
        } else {
            ok.iter().copied().take(opts.top).collect()
        };
        if !opts.front && best.len() < opts.top {
            progress(&format!(
                "warning: --top {}: the run has {} successfully trained architecture{}; finalizing {}",
                opts.top,
                ok.len(),
                if ok.len() == 1 { "" } else { "s" },
                if ok.len() == 1 { "it".to_string() } else { format!("all {}", ok.len()) }
            ));
        }
        let mut entries = Vec::with_capacity(best.len());
        for rec in &best {
            // Its place in the search's ranking (a front's members are not its first ones).
            let rank = ok.iter().position(|r| r.trial == rec.trial).map_or(0, |p| p + 1);
            let arch =
                Architecture::parse(&rec.architecture, split.train.n_features(), split.train.n_classes(), dropout)?;
            let mut init: Vec<Option<LayerWeights>> = vec![None; arch.dense_shapes().len()];
            if let Some(s) = store {
                for (slot, (key, &(inp, out, _))) in
                    init.iter_mut().zip(arch.bigram_keys().iter().zip(arch.dense_shapes().iter()))
                {
                    *slot = s.get(key)?.filter(|w| w.fits(inp, out));
                }
            }
            let transfers = init.iter().filter(|w| w.is_some()).count();
            let search_reward = mlpnas_core::ranking_reward(rec, &again);
            progress(&format!("[{rank}/{}] {} (search reward {search_reward:.4}) ...", best.len(), rec.architecture));
            let t0 = Instant::now();
            let fin = trainer.fit(
                &arch,
                &init,
                derive(cfg.seed, "final", rank as u64),
                EarlyStopping { max_epochs: opts.max_epochs, patience: opts.patience },
            )?;
            let seconds = t0.elapsed().as_secs_f64();
            let Some(kept) = fin.best().copied() else {
                progress(&format!(
                    "[{rank}/{}] {}: diverged in the first epoch, skipped",
                    best.len(),
                    rec.architecture
                ));
                continue;
            };
            // `--refit all`: the same start, trained on training and validation rows for the
            // best epoch count; the refit model is the one scored on the test rows and exported.
            let (weights, scorer, refitted) = match refit {
                None => (fin.weights.clone(), trainer, None),
                Some((r, rows)) => {
                    let t1 = Instant::now();
                    let mut fixed = arch.clone();
                    fixed.training.epochs = Some(u32::try_from(fin.best_epoch.max(1)).unwrap_or(u32::MAX));
                    // The fit's seed: the same initial weights.
                    let out = r.train(&fixed, &init, derive(cfg.seed, "final", rank as u64))?;
                    if out.diverged || out.weights.is_empty() {
                        progress(&format!(
                            "[{rank}/{}] {}: the refit on training and validation rows diverged, skipped",
                            best.len(),
                            rec.architecture
                        ));
                        continue;
                    }
                    let facts = Refit {
                        parts: "train+valid".into(),
                        rows,
                        epochs: out.epochs.len(),
                        seconds: t1.elapsed().as_secs_f64(),
                    };
                    (out.weights, r, Some(facts))
                }
            };
            let scored = scorer.score(&arch, &weights, test)?;
            let (test_loss, test_acc) = (scored.loss, scored.accuracy);
            let metrics = FinalMetrics {
                rank,
                trial: rec.trial,
                search_reward,
                init: if store.is_some() { "shared" } else { "scratch" }.into(),
                transfers,
                epochs_run: fin.epochs.len(),
                max_epochs: Some(opts.max_epochs),
                patience: Some(opts.patience),
                best_epoch: fin.best_epoch,
                stopped_early: fin.stopped_early,
                val_loss: kept.val_loss,
                val_acc: kept.val_acc,
                test_loss,
                test_acc,
                val_metric: kept.metric,
                test_metric: kept.metric.map(|_| scored.metric),
                rows: [split.train.n_rows(), split.valid.n_rows(), test.n_rows()],
                refit: refitted,
                seconds,
            };
            // Renamed by validation order once every model is trained.
            let name = format!("model-{rank}");
            let model_dir = dir.join(&name);
            std::fs::create_dir_all(&model_dir).map_err(|e| FinalError::file(&model_dir, e))?;
            // A regression's model predicts in the label's units: the target's standardization
            // is folded into its output layer, so predict and ONNX need nothing more.
            let target_scale = match &metrics.refit {
                Some(_) => refit_scale,
                None => TargetScale::of(&split.train),
            };
            let mut exported = weights;
            if let Some(scale) = target_scale {
                scale.fold(&mut exported);
            }
            // The model must rebuild from what is written: the trainer checks the weights now.
            cfg.trainer.model(&arch, &exported)?;
            let weights_path = model_dir.join(MODEL_WEIGHTS);
            let bytes = codec::encode_layers(&exported, &[("architecture", arch.to_string())])
                .map_err(|e| FinalError::file(&weights_path, e))?;
            write(&weights_path, &bytes)?;
            let card = ModelCard {
                format: CARD_FORMAT.into(),
                architecture: arch.to_string(),
                dropout,
                trainer: cfg.trainer.boxed_clone(),
                feature_names: split.train.feature_names.clone(),
                sample_shape: split.train.sample_shape.clone(),
                class_names: split.train.class_names.clone(),
                label_column: label_column.map(str::to_string),
                preprocessor: data.preprocessor.clone(),
                standardizer: data.standardizer.clone(),
                data_source: cfg.data.source.to_string(),
                metrics: metrics.clone(),
                positive_class: data
                    .objective
                    .reported()
                    .then(|| split.train.class_names.get(data.objective.positive as usize).cloned())
                    .flatten(),
                target_scale,
            };
            let json = serde_json::to_string_pretty(&card).map_err(|e| FinalError::file(&model_dir, e))?;
            write(&model_dir.join(MODEL_CARD), json.as_bytes())?;
            let onnx = crate::onnx::encode(&arch, &exported, data.standardizer.as_ref());
            write(&model_dir.join(crate::MODEL_ONNX), &onnx)?;
            let by_metric = match (metrics.val_metric, metrics.test_metric) {
                (Some(v), Some(t)) => format!(", val {} {:.4}, test {} {:.4}", v.name, v.value, t.name, t.value),
                _ => String::new(),
            };
            let accuracy = match target_scale {
                Some(_) => String::new(),
                None => format!(", val acc {:.4}, test acc {:.4}", metrics.val_acc, metrics.test_acc),
            };
            let refit_note = metrics.refit.as_ref().map_or(String::new(), |r| {
                format!(
                    ", refit on {} {} rows for {} epochs ({:.1} s; test scores its model)",
                    r.rows, r.parts, r.epochs, r.seconds
                )
            });
            progress(&format!(
                "[{rank}/{}] {}: {} epochs (best {}{}){accuracy}{by_metric}, {seconds:.1} s{refit_note}",
                best.len(),
                rec.architecture,
                metrics.epochs_run,
                metrics.best_epoch,
                if metrics.stopped_early { ", stopped early" } else { "" },
            ));
            entries.push(LeaderboardEntry { architecture: arch.to_string(), model_dir: name, metrics });
        }
        if entries.is_empty() {
            return Err(FinalError::Invalid("every final training diverged; nothing to export".into()));
        }
        Ok(entries)
    }
}
