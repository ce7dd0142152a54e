//! `mlpnas eval` and `mlpnas space`: one architecture trained outside any run (or a run's trial
//! trained again to check its journal), and the search space listed.

use std::path::Path;

use anyhow::{Result, bail};
use mlpnas_search::{Run, SearchConfig, evaluate, prepare_data, replay};

use crate::args::EvalArgs;
use crate::config::{DEFAULT_CONFIG, load_config};
use crate::output;
use crate::storage::run_storage;

pub(crate) fn eval(a: EvalArgs, verbosity: output::Verbosity) -> Result<()> {
    let (Some(text), None) = (&a.arch, &a.run) else {
        return replay_trial(&a, verbosity);
    };
    let cfg = load_config(a.config.as_deref(), &a.data)?;
    let data = prepare_data(&cfg)?;
    // What it trained on is part of the result (without --data: the config's source, or the
    // default `builtin:iris`).
    let label = match data.split.train.n_classes() {
        0 => "a number to predict".to_string(),
        n => format!("{n} classes"),
    };
    let source = format!(
        "{} ({} train / {} valid rows, {} features, {label})",
        cfg.data.source,
        data.split.train.n_rows(),
        data.split.valid.n_rows(),
        data.split.train.n_features(),
    );
    let (arch, outcome, seconds) = evaluate(&cfg, &data, text)?;
    let objective = &data.objective;
    let metric = objective.metric;
    if a.json {
        let v = serde_json::json!({
            "architecture": arch.to_string(),
            "data": cfg.data.source.to_string(),
            "params": arch.param_count(),
            "metric": metric.name(),
            "reward": outcome.reward(objective),
            "val_acc_last": outcome.val_acc_last(),
            "diverged": outcome.diverged,
            "seconds": seconds,
            "epochs": outcome.epochs,
        });
        say!("{v}");
    } else {
        say!("data          {source}");
        say!("architecture  {arch}");
        say!("parameters    {}", arch.param_count());
        // A regression has no accuracy; its losses are on the standardized target.
        let regression = metric.task() == mlpnas_core::Task::Regression;
        let extra = if data.objective.reported() { format!("  {metric}") } else { String::new() };
        say!("epoch  train_loss  val_loss{}{extra}", if regression { "" } else { "  val_acc" });
        for (i, e) in outcome.epochs.iter().enumerate() {
            let m = e.metric.map_or(String::new(), |m| format!("  {:>w$.4}", m.value, w = metric.name().len()));
            let acc = if regression { String::new() } else { format!("  {:>7.4}", e.val_acc) };
            say!("{:>5}  {:>10.4}  {:>8.4}{acc}{m}", i + 1, e.train_loss, e.val_loss);
        }
        if outcome.diverged {
            say!("diverged (loss became NaN or infinite)");
        }
        let what = match metric {
            mlpnas_core::Metric::Accuracy => "val accuracy".to_string(),
            m if m.minimize() => format!("val {m}, negated"),
            m => format!("val {m}"),
        };
        let last = match metric.task() {
            mlpnas_core::Task::Regression => String::new(),
            mlpnas_core::Task::Classification => format!(", last val accuracy {:.4}", outcome.val_acc_last()),
        };
        say!("reward {:.4} (epoch-weighted {what}){last}, {seconds:.2} s", outcome.reward(objective));
    }
    Ok(())
}

/// `eval --run DIR --trial N`: the journal's trial trained again, both results side by side.
fn replay_trial(a: &EvalArgs, verbosity: output::Verbosity) -> Result<()> {
    let (Some(dir), Some(trial)) = (&a.run, a.trial) else { bail!("give --arch, or --run DIR --trial N") };
    let run = Run::open(run_storage(a.storage.as_deref(), dir)?, None)?;
    let data = prepare_data(run.config())?;
    let shown = run.location();
    let mut progress = output::Progress::new(verbosity);
    let r = replay(run, &data, trial, &std::env::temp_dir(), &mut progress)?;
    progress.finish();
    let (j, t) = (&r.journaled, &r.replayed);
    if a.json {
        let v = serde_json::json!({
            "run": shown,
            "trial": trial,
            "architecture": j.architecture,
            "journal": {"reward": j.reward, "val_acc_last": j.val_acc_last, "transfers": j.transfers},
            "replayed": {"reward": t.reward, "val_acc_last": t.val_acc_last, "transfers": t.transfers, "seconds": t.seconds},
            "trials_trained": r.trained,
            "matches": r.matches(),
        });
        say!("{v}");
    } else {
        say!("run           {shown}");
        say!("trial         {trial}: {}", j.architecture);
        say!(
            "how           {}",
            if r.trained == 1 {
                "trained alone from fresh weights, as the search did".to_string()
            } else {
                format!(
                    "the search run again to the end of its controller epoch ({} trials), for the weights it started from",
                    r.trained
                )
            }
        );
        say!("              reward     val_acc  transfers");
        say!("journal       {:<9.6}  {:<7.4}  {}", j.reward, j.val_acc_last, j.transfers);
        say!("again         {:<9.6}  {:<7.4}  {}", t.reward, t.val_acc_last, t.transfers);
    }
    if !r.matches() {
        bail!(
            "{shown}: trial {trial} trained again gives reward {} where the journal says {} (was the data file changed?)",
            t.reward,
            j.reward
        );
    }
    if !a.json {
        say!("identical: every epoch's loss and accuracy match the journal bit for bit");
    }
    Ok(())
}

pub(crate) fn space(config: Option<&Path>, set: &[String]) -> Result<()> {
    let cfg = match config {
        Some(p) => SearchConfig::load(p, set)?,
        None => SearchConfig::from_toml(DEFAULT_CONFIG, "default config", Path::new(""), set)?,
    }
    .check()?;
    let space = cfg.space.build().map_err(|e| anyhow::anyhow!("{}: {}", cfg.origin, e.within("space")))?;
    say!("{:>4}  token", "id");
    for id in 1..space.vocab_size() as u32 {
        let text = match space.as_mlp() {
            Some(m) => m.token(id).map(|t| output::token_text(t, m.dropout_rate())),
            None => space.token_text(id),
        };
        if let Some(text) = text {
            say!("{id:>4}  {text}");
        }
    }
    match space.as_mlp() {
        Some(m) if !m.dimensions().is_empty() => say!(
            "max length {} layer tokens (output layer included), then {} training setting{}; {} valid candidates",
            m.config().max_len,
            m.dimensions().len(),
            if m.dimensions().len() == 1 { "" } else { "s" },
            space.size()
        ),
        Some(_) => {
            say!("max length {} (output layer included); {} valid architectures", space.max_len(), space.size())
        }
        None => say!("{} dimensions; {} configurations", space.max_len(), space.size()),
    }
    Ok(())
}
