//! The search config as the command line gives it: a config file (or the default config) with
//! `--set` and the typed data options applied.

use std::path::Path;

use anyhow::{Context, Result};
use mlpnas_search::{CheckedConfig, SearchConfig};

use crate::args::DataArgs;

/// The config used when `eval` or `space` get none.
pub(crate) const DEFAULT_CONFIG: &str = r#"
[controller]
type = "random"
[trainer]
type = "burn"
[store]
type = "memory"
"#;

/// Loads `path` (or the default config) with `--set` applied, sets the typed command-line
/// options on it, and checks it once.
pub(crate) fn load_config(path: Option<&Path>, d: &DataArgs) -> Result<CheckedConfig> {
    // `--task` is `search.task`, set before the config is read, so that a metric the config
    // leaves out takes the task's default.
    let mut set = d.set.clone();
    if let Some(task) = &d.task {
        set.insert(0, format!("search.task=\"{task}\""));
    }
    let mut cfg = match path {
        Some(p) => SearchConfig::load(p, &set)?,
        None => SearchConfig::from_toml(DEFAULT_CONFIG, "default config", Path::new(""), &set)?,
    };
    // Paths given on the command line are relative to the current directory. The config's
    // label and dropped columns describe the config's data, not this one: they are reset unless
    // given again (`--data builtin:iris` on a config made for a CSV file just works).
    if let Some(spec) = &d.data {
        cfg.data.source = spec.absolute(&std::env::current_dir().context("current directory")?);
        cfg.data.label = None;
        cfg.data.drop.clear();
    }
    if let Some(l) = &d.label {
        cfg.data.label = Some(l.clone());
    }
    if let Some(cols) = &d.drop {
        cfg.data.drop = cols.clone();
    }
    if let Some(s) = d.seed {
        cfg.seed = s;
    }
    Ok(cfg.check()?)
}
