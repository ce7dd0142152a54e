//! `mlpnas eval` and `mlpnas space`: one architecture trained, and the search space listed,
//! outside any run.

use std::path::Path;

use anyhow::Result;
use mlpnas_search::{SearchConfig, evaluate, prepare_data};

use crate::args::EvalArgs;
use crate::config::{DEFAULT_CONFIG, load_config};
use crate::output;

pub(crate) fn eval(a: EvalArgs) -> Result<()> {
    let cfg = load_config(a.config.as_deref(), &a.data)?;
    let data = prepare_data(&cfg)?;
    // What it trained on is part of the result (without --data: the config's source, or the
    // default `builtin:iris`).
    let source = format!(
        "{} ({} train / {} valid rows, {} features, {} classes)",
        cfg.data.source,
        data.split.train.n_rows(),
        data.split.valid.n_rows(),
        data.split.train.n_features(),
        data.split.train.n_classes()
    );
    let (arch, outcome, seconds) = evaluate(&cfg, &data, &a.arch)?;
    if a.json {
        let v = serde_json::json!({
            "architecture": arch.to_string(),
            "data": cfg.data.source.to_string(),
            "params": arch.param_count(),
            "reward": outcome.reward(),
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
        say!("epoch  train_loss  val_loss  val_acc");
        for (i, e) in outcome.epochs.iter().enumerate() {
            say!("{:>5}  {:>10.4}  {:>8.4}  {:>7.4}", i + 1, e.train_loss, e.val_loss, e.val_acc);
        }
        if outcome.diverged {
            say!("diverged (loss became NaN or infinite)");
        }
        say!(
            "reward {:.4} (epoch-weighted val accuracy), last val accuracy {:.4}, {seconds:.2} s",
            outcome.reward(),
            outcome.val_acc_last()
        );
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
        Some(_) => {
            say!("max length {} (output layer included); {} valid architectures", space.max_len(), space.size())
        }
        None => say!("{} dimensions; {} configurations", space.max_len(), space.size()),
    }
    Ok(())
}
