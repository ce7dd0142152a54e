//! The search config file and its overrides.
//!
//! A config is TOML with the sections `[data]` ([`mlpnas_data::DataConfig`]), `[search]`
//! ([`mlpnas_runs::LoopConfig`]) and one typetag section per component, chosen by `type`: `[space]` (the MLP
//! space, `"mlp"`, when it has no `type` or is absent), `[controller]`, `[trainer]`, `[store]`
//! (optional; needed for one-shot).
//! Overrides (`--set search.one_shot=false`) are applied to the TOML tree before it is
//! deserialized, so they are checked exactly like the file.
//!
//! A config is parsed into a [`SearchConfig`] (typed values: a bad data spec or backend name is a
//! parse error with its line), which may still be changed in code (the CLI's typed flags), and
//! then checked once into a [`CheckedConfig`], the only form that runs: the linfa `ParamGuard`
//! pattern. Plugins report errors relative to their own section; [`SearchConfig::check`] adds
//! the section's path.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use mlpnas_core::{
    ConfigError, ControllerConfig, Criterion, MlpSpace, MlpSpaceConfig, SchedulerConfig, SpaceConfig, StoreConfig,
    TrainerConfig,
};
use mlpnas_data::DataConfig;
use mlpnas_runs::LoopConfig;
use mlpnas_runs::settings::current_key;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::SearchError;

/// A whole search config.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Seed of every random stream (split, controller, each trial).
    #[serde(default)]
    pub seed: u64,
    /// Where the data comes from and how it is split.
    #[serde(default)]
    pub data: DataConfig,
    /// The search space (`[space]`; without `type`, the MLP space).
    #[serde(default = "default_space", deserialize_with = "space_section")]
    pub space: Box<dyn SpaceConfig>,
    /// Budget and switches.
    #[serde(default)]
    pub search: LoopConfig,
    /// What proposes architectures.
    pub controller: Box<dyn ControllerConfig>,
    /// What trains them.
    pub trainer: Box<dyn TrainerConfig>,
    /// Where shared weights live (needed when `search.one_shot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Box<dyn StoreConfig>>,
    /// How much training each candidate gets (`[scheduler]`; default `type = "full"`: all of it).
    #[serde(default = "default_scheduler")]
    pub scheduler: Box<dyn SchedulerConfig>,
    /// Directory relative data paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// What to name in errors: the config file, or `default config`.
    #[serde(skip)]
    pub origin: String,
}

fn default_scheduler() -> Box<dyn SchedulerConfig> {
    Box::new(mlpnas_core::FullConfig::default())
}

fn default_space() -> Box<dyn SpaceConfig> {
    Box::new(MlpSpaceConfig::default())
}

/// `[space]`, with `type = "mlp"` when it names none (configs written before spaces were plugins).
fn space_section<'de, D: Deserializer<'de>>(d: D) -> Result<Box<dyn SpaceConfig>, D::Error> {
    let mut t = toml::Table::deserialize(d)?;
    t.entry("type").or_insert_with(|| toml::Value::String("mlp".into()));
    toml::Value::Table(t).try_into().map_err(|e: toml::de::Error| serde::de::Error::custom(e.message().trim()))
}

/// A [`SearchConfig`] that passed [`SearchConfig::check`]: what searches, finalize and eval run.
#[derive(Debug)]
pub struct CheckedConfig(SearchConfig);

impl Deref for CheckedConfig {
    type Target = SearchConfig;
    fn deref(&self) -> &SearchConfig {
        &self.0
    }
}

impl CheckedConfig {
    /// Back to an unchecked config, to change it (it must be checked again to run).
    pub fn into_unchecked(self) -> SearchConfig {
        self.0
    }
}

impl SearchConfig {
    /// The seed the rows are split (and resampled) with: `data.split_seed`, or the run's seed.
    pub fn split_seed(&self) -> u64 {
        self.data.split_seed.unwrap_or(self.seed)
    }
}

impl SearchConfig {
    /// Reads `path`, applies `overrides` (`key.path=value`) and deserializes (not yet checked).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, SearchError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SearchError::ConfigFile { path: shown.clone(), message: format!("cannot read: {e}") })?;
        // Absolute, so that the paths it resolves (a table's directory, a CSV file) are stored
        // absolute in the run's config and mean the same from the run directory, or any other.
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
        Self::from_toml(&text, &shown, &base, overrides)
    }

    /// Parses config `text` (named `name` in errors), applies `overrides` and deserializes (not
    /// yet checked); relative data paths resolve against `base_dir`.
    pub fn from_toml(text: &str, name: &str, base_dir: &Path, overrides: &[String]) -> Result<Self, SearchError> {
        let file_err = |message: String| SearchError::ConfigFile { path: name.to_string(), message };
        let mut cfg: SearchConfig = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| file_err(toml_message(&e, text)))?
        } else {
            // Syntax errors keep their line numbers; errors that appear only once the overrides
            // are applied are reported against the overrides.
            let mut table: toml::Table = toml::from_str(text).map_err(|e| file_err(toml_message(&e, text)))?;
            rename_old_keys(&mut table);
            // A section whose `type` changes starts from the new type's defaults: the old type's
            // fields mean nothing to it (`--set controller.type=evolution` on a random-search
            // config). The section's other overrides still apply.
            for o in overrides {
                if let Some((key, raw)) = o.split_once('=')
                    && let Some(section) = key.trim().strip_suffix(".type")
                    && !section.contains('.')
                {
                    let new = raw.trim().trim_matches('"');
                    let old = table.get(section).and_then(|t| t.get("type")).and_then(toml::Value::as_str);
                    if old.is_some_and(|old| old != new) {
                        table.insert(section.to_string(), toml::Value::Table(toml::Table::new()));
                    }
                }
            }
            for o in overrides {
                apply_override(&mut table, o).map_err(|m| file_err(format!("--set {o}: {m}")))?;
            }
            table.try_into().map_err(|e: toml::de::Error| {
                let msg = e.message().trim().replace('\n', " ");
                file_err(match culprit(text, overrides) {
                    Some(o) => format!("--set {o}: {msg}"),
                    None => format!("with --set {}: {msg}", overrides.join(", --set ")),
                })
            })?
        };
        cfg.space.rebase(base_dir);
        cfg.trainer.rebase(base_dir);
        cfg.base_dir = base_dir.to_path_buf();
        cfg.origin = name.to_string();
        Ok(cfg)
    }

    /// Checks every section once: the only way to a [`CheckedConfig`].
    pub fn check(self) -> Result<CheckedConfig, SearchError> {
        match self.validate() {
            Ok(()) => Ok(CheckedConfig(self)),
            Err(source) => Err(SearchError::Config { path: self.origin.clone(), source }),
        }
    }

    /// Switches every component that runs on a backend (the trainer; a REINFORCE controller) to
    /// `backend`, e.g. to finalize on a CPU a run made on a GPU.
    pub fn set_backend(&mut self, backend: &str) -> Result<(), SearchError> {
        let err = |source: ConfigError| SearchError::Config { path: self.origin.clone(), source };
        if self.trainer.backend().is_some() {
            self.trainer.set_backend(backend).map_err(|e| err(e.within("trainer")))?;
        }
        if self.controller.backend().is_some() {
            self.controller.set_backend(backend).map_err(|e| err(e.within("controller")))?;
        }
        Ok(())
    }

    /// The store trials share weights through: the `[store]` when the run shares weights
    /// ([`LoopConfig::shares_weights`]), else none.
    pub fn shared_store(&self) -> Option<&dyn StoreConfig> {
        self.store.as_deref().filter(|_| self.search.shares_weights(self.store.is_some()))
    }

    /// The MLP space, for what only networks have (architectures given as text, finalize);
    /// a config with another space is refused with why.
    pub fn mlp_space(&self) -> Result<MlpSpace, SearchError> {
        let err = |m: String| SearchError::Config { path: self.origin.clone(), source: ConfigError::new("space", m) };
        let space = self
            .space
            .build()
            .map_err(|e| SearchError::Config { path: self.origin.clone(), source: e.within("space") })?;
        match space.as_mlp() {
            Some(m) => Ok(m.clone()),
            None => Err(err(
                "this is not an MLP space: its candidates are not networks (only `search` and `report` run on it)"
                    .into(),
            )),
        }
    }

    /// `search.objectives`: absent, or at least two distinct criteria with the reward first;
    /// `params` only where candidates are networks. (Whether a trainer records `seconds` is
    /// known once it is built: [`crate::check_run`].)
    fn check_objectives(&self) -> Result<(), ConfigError> {
        let o = &self.search.objectives;
        let err = |m: String| Err(ConfigError::new("search.objectives", m));
        if o.is_empty() {
            return Ok(());
        }
        if o.len() < 2 {
            return err("list at least two criteria, \"reward\" first (leave it out to search the reward alone)".into());
        }
        if o[0] != Criterion::Reward {
            return err(format!(
                "the first criterion must be \"reward\", not {:?} (rankings, the top list and REINFORCE use it)",
                o[0].name()
            ));
        }
        if let Some((i, c)) = o.iter().enumerate().find(|(i, c)| o[..*i].contains(c)) {
            return err(format!(
                "{:?} is listed twice (positions {} and {})",
                c.name(),
                o.iter().position(|x| x == c).unwrap_or(0) + 1,
                i + 1
            ));
        }
        if o.contains(&Criterion::Params) && !self.space.networks() {
            return err(
                "\"params\" counts a network's parameters, and this space's candidates are not networks (a benchmark table may record \"seconds\")".into(),
            );
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.data.validate()?;
        self.space.validate().map_err(|e| e.within("space"))?;
        if self.search.controller_epochs == 0 {
            return Err(ConfigError::new("search.controller_epochs", "must be at least 1"));
        }
        if self.search.samples_per_epoch == 0 {
            return Err(ConfigError::new("search.samples_per_epoch", "must be at least 1"));
        }
        if self.search.batch == 0 {
            return Err(ConfigError::new("search.batch", "must be at least 1"));
        }
        for (field, value, what) in
            [("search.folds", self.search.folds, "folds"), ("search.repeats", self.search.repeats, "repeated holdouts")]
        {
            if let Some(n) = value
                && !(2..=100).contains(&n)
            {
                return Err(ConfigError::new(
                    field,
                    format!("{n} is not a number of {what} in 2..=100 (leave it out to score on the validation rows)"),
                ));
            }
        }
        if self.search.rescore_seeds == Some(0) || self.search.rescore_seeds.is_some_and(|s| s > 100) {
            return Err(ConfigError::new("search.rescore_seeds", "must be in 1..=100"));
        }
        if self.search.rescore_top > 0 && !self.trainer.needs_data() {
            return Err(ConfigError::new(
                "search.rescore_top",
                "re-scoring needs a trainer that trains on data (a benchmark table is looked up, not trained)",
            ));
        }
        if self.search.epoch_budget == Some(0) {
            return Err(ConfigError::new("search.epoch_budget", "must be at least 1 (leave it out for no limit)"));
        }
        if self.search.epoch_budget.is_some() && !self.trainer.needs_data() && self.scheduler.full_trials_only() {
            return Err(ConfigError::new(
                "search.epoch_budget",
                "a benchmark table is looked up, not trained: without a [scheduler] its trials spend no epochs (use search.controller_epochs)",
            ));
        }
        self.check_objectives()?;
        if self.search.folds.is_some() && self.search.repeats.is_some() {
            return Err(ConfigError::new("search.repeats", "give search.folds or search.repeats, not both"));
        }
        if self.search.resampling() != mlpnas_core::Resampling::Holdout && !self.trainer.needs_data() {
            return Err(ConfigError::new(
                "search.folds",
                "resampling needs a trainer that trains on data (a benchmark table is looked up, not trained)",
            ));
        }
        self.search.metric.check_task(self.search.task).map_err(|e| ConfigError::new("search.metric", e))?;
        self.check_fits()?;
        if self.search.one_shot && !self.space.networks() {
            return Err(ConfigError::new(
                "search.one_shot",
                "this space's candidates are not networks, so there are no layers to share; set search.one_shot = false",
            ));
        }
        if self.search.one_shot && self.store.is_none() {
            return Err(ConfigError::new(
                "search.one_shot",
                "one-shot weight sharing needs a [store] section (e.g. type = \"memory\")",
            ));
        }
        self.controller.validate().map_err(|e| e.within("controller"))?;
        self.trainer.validate().map_err(|e| e.within("trainer"))?;
        // The trainer's full epochs are known once it is built ([`crate::Search::new`] checks
        // against them); everything else is checked here.
        self.scheduler.validate(usize::MAX).map_err(|e| e.within("scheduler"))?;
        if !self.scheduler.full_trials_only() {
            if self.search.resampling() != mlpnas_core::Resampling::Holdout {
                return Err(ConfigError::new(
                    "scheduler.type",
                    "a multi-fidelity scheduler trains each candidate on one split; it cannot be combined with search.folds or search.repeats yet",
                ));
            }
            let searches_epochs = self.space.build().ok().is_some_and(|s| {
                s.as_mlp().is_some_and(|m| m.dimensions().iter().any(|(h, _)| *h == mlpnas_core::Hyper::Epochs))
            });
            if searches_epochs {
                return Err(ConfigError::new(
                    "scheduler.type",
                    "the scheduler decides how many epochs each candidate trains; remove `epochs` from the [space]",
                ));
            }
        }
        if let Some(s) = &self.store {
            s.validate().map_err(|e| e.within("store"))?;
        }
        Ok(())
    }

    /// Refuses, before anything is allocated, what this machine cannot hold: the largest network
    /// of an MLP space (its hidden layers, trained with Adam) and the proposals and records of one
    /// controller epoch and of the whole search (about 1 KiB a trial). The trainer's batch size
    /// needs no check: a batch never holds more than the training rows, which are in memory.
    fn check_fits(&self) -> Result<(), ConfigError> {
        use mlpnas_core::memory::{check_fits, training_bytes};
        if let Ok(space) = self.space.build()
            && let Some(mlp) = space.as_mlp()
        {
            let c = mlp.config();
            let widest = c.units.iter().copied().max().unwrap_or(0) as u64;
            let hidden = c.max_len.saturating_sub(1) as u64;
            // Hidden-to-hidden kernels and biases: the floor of what the widest, deepest net needs.
            let params = hidden
                .saturating_sub(1)
                .saturating_mul(widest.saturating_mul(widest))
                .saturating_add(hidden.saturating_mul(widest));
            check_fits(
                training_bytes(params),
                &format!("the largest network of this space ({hidden} hidden layers of {widest} units)"),
            )
            .map_err(|m| ConfigError::new("space.units", m))?;
        }
        let n = self.search.samples_per_epoch as u64;
        check_fits(n.saturating_mul(1024), &format!("a controller epoch of {n} trials"))
            .map_err(|m| ConfigError::new("search.samples_per_epoch", m))?;
        // Every finished trial's record stays in memory for the leaderboard and the controller.
        let total = n.saturating_mul(self.search.controller_epochs as u64);
        check_fits(total.saturating_mul(1024), &format!("a search of {total} trials (its records)"))
            .map_err(|m| ConfigError::new("search.controller_epochs", m))
    }

    /// The config as TOML, data paths made absolute (written to the run directory).
    pub fn to_toml(&self) -> Result<String, String> {
        let mut data = self.data.clone();
        data.source = data.source.absolute(&self.base_dir);
        let mut table = toml::Table::try_from(self).map_err(|e| e.to_string())?;
        table.insert("data".into(), toml::Value::try_from(&data).map_err(|e| e.to_string())?);
        toml::to_string_pretty(&table).map_err(|e| e.to_string())
    }
}

/// Settings that may change when a search is resumed: the budget can grow, the summary and the
/// parallelism can change. Everything else would make the finished trials incomparable.
pub const RESUMABLE_CHANGES: &[&str] =
    &["search.controller_epochs", "search.top", "search.batch", "search.time_budget", "search.epoch_budget"];

/// Renames old keys in a config tree ([`mlpnas_runs::settings::rename_old_keys`]), gives a
/// `[space]` without `type` its implicit `type = "mlp"`, and a config without `[scheduler]`
/// (every run before 0.8.0) the default's, `type = "full"`.
fn rename_old_keys(table: &mut toml::Table) {
    if let Some(toml::Value::Table(space)) = table.get_mut("space") {
        space.entry("type").or_insert_with(|| toml::Value::String("mlp".into()));
    }
    table.entry("scheduler").or_insert_with(|| {
        toml::Value::Table(toml::Table::from_iter([("type".to_string(), toml::Value::String("full".into()))]))
    });
    mlpnas_runs::settings::rename_old_keys(table);
}

/// The resolved config `text` of a run (named `shown` in errors, relative paths against
/// `base_dir`) with `overrides` applied, for resuming; refuses changes other than
/// [`RESUMABLE_CHANGES`]. Returns the checked config and whether it changed.
pub fn resume_config(
    text: &str,
    shown: &str,
    base_dir: &Path,
    overrides: &[String],
) -> Result<(CheckedConfig, bool), SearchError> {
    let cfg = SearchConfig::from_toml(text, shown, base_dir, overrides)?.check()?;
    let file_err = |message: String| SearchError::ConfigFile { path: shown.to_string(), message };
    let mut saved: toml::Table = toml::from_str(text).map_err(|e| file_err(toml_message(&e, text)))?;
    rename_old_keys(&mut saved);
    let now: toml::Table = toml::from_str(&cfg.to_toml().map_err(&file_err)?).map_err(|e| file_err(e.to_string()))?;
    let mut changed = Vec::new();
    diff_tables(&saved, &now, "", &mut changed);
    let refused: Vec<&String> = changed.iter().filter(|k| !RESUMABLE_CHANGES.contains(&k.as_str())).collect();
    if !refused.is_empty() {
        let list: Vec<&str> = refused.iter().map(|s| s.as_str()).collect();
        return Err(file_err(format!(
            "resuming with a changed config is refused (changed: {}); only {} may change",
            list.join(", "),
            RESUMABLE_CHANGES.join(", ")
        )));
    }
    if let (Some(a), Some(b)) = (
        saved.get("search").and_then(|s| s.get("controller_epochs")).and_then(toml::Value::as_integer),
        now.get("search").and_then(|s| s.get("controller_epochs")).and_then(toml::Value::as_integer),
    ) && b < a
    {
        return Err(file_err(format!("search.controller_epochs can grow on resume, not shrink ({a} -> {b})")));
    }
    Ok((cfg, !changed.is_empty()))
}

/// A stored run config `text` with the fields its components added since it was written, at the
/// values the run was made with ([`mlpnas_core::TrainerConfig::added_fields`]); unchanged when it
/// lacks none. Every reader of a stored config goes through this (`Run::resume`, `Run::open`).
pub(crate) fn stored_with_added_fields(text: &str, shown: &str, base_dir: &Path) -> Result<String, SearchError> {
    let probe = SearchConfig::from_toml(text, shown, base_dir, &[])?;
    let file_err = |message: String| SearchError::ConfigFile { path: shown.to_string(), message };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| file_err(toml_message(&e, text)))?;
    let mut changed = false;
    for (section, added) in [
        ("trainer", probe.trainer.added_fields()),
        ("controller", probe.controller.added_fields()),
        ("data", mlpnas_data::ADDED_FIELDS),
        ("search", mlpnas_runs::settings::ADDED_FIELDS),
    ] {
        let Some(toml::Value::Table(fields)) = table.get_mut(section) else { continue };
        for (path, value) in added {
            // A dotted path names a field of a sub-table the stored config has.
            let (tables, key) = path.rsplit_once('.').map_or((None, *path), |(t, k)| (Some(t), k));
            let Some(fields) = sub_table(fields, tables) else { continue };
            if !fields.contains_key(key) {
                let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .ok_or_else(|| file_err(format!("{section}.{path}: the added value {value} is not TOML")))?;
                fields.insert(key.to_string(), value);
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(text.to_string());
    }
    toml::to_string(&table).map_err(|e| file_err(e.to_string()))
}

/// The sub-table of `table` at dotted path `path` (`table` itself for `None`), if it has one.
fn sub_table<'t>(mut table: &'t mut toml::Table, path: Option<&str>) -> Option<&'t mut toml::Table> {
    for part in path.into_iter().flat_map(|p| p.split('.')) {
        table = table.get_mut(part)?.as_table_mut()?;
    }
    Some(table)
}

/// The first override after which the config no longer deserializes (the one to name in the
/// error), if one alone is to blame.
fn culprit<'a>(text: &str, overrides: &'a [String]) -> Option<&'a str> {
    let mut table: toml::Table = toml::from_str(text).ok()?;
    rename_old_keys(&mut table);
    if table.clone().try_into::<SearchConfig>().is_err() {
        return None;
    }
    for o in overrides {
        apply_override(&mut table, o).ok()?;
        if table.clone().try_into::<SearchConfig>().is_err() {
            return Some(o);
        }
    }
    None
}

/// Dotted paths whose values differ between `a` and `b`.
fn diff_tables(a: &toml::Table, b: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match (a.get(k), b.get(k)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => diff_tables(x, y, &path, out),
            (x, y) if x != y => out.push(path),
            _ => {}
        }
    }
}

/// A TOML error as one line: `line N: message`.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

/// Applies `key.path=value` to `table`; the value is parsed as TOML (number, bool, array, quoted
/// string) and taken as a plain string otherwise.
pub fn apply_override(table: &mut toml::Table, text: &str) -> Result<(), String> {
    let (key, raw) = text.split_once('=').ok_or("expected key.path=value")?;
    let key = key.trim();
    if key.is_empty() {
        return Err("empty key".into());
    }
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        // An array or table that is not TOML is a quoting mistake, not a string.
        Err(_) if raw.starts_with('[') && raw.ends_with(']') => {
            let items: Vec<String> =
                raw[1..raw.len() - 1].split(',').map(|i| format!("\"{}\"", i.trim().trim_matches('"'))).collect();
            return Err(format!(
                "{raw} is not a TOML value: quote the strings in it, e.g. --set '{key}=[{}]'",
                items.join(",")
            ));
        }
        Err(e) if raw.starts_with('{') => {
            return Err(format!("{raw} is not a TOML value: {}", e.message().trim().replace('\n', " ")));
        }
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let key = current_key(key);
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().ok_or("empty key")?;
    let mut cur = table;
    for p in path {
        let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| format!("`{p}` is not a section"))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run stored before `data.auto_drop` existed keeps every column it trained on; a new
    /// config gets the default.
    #[test]
    fn stored_runs_read_auto_drop_as_before_it_existed() {
        mlpnas_link::link_all();
        let old = "seed = 1\n[data]\nsource = \"builtin:iris\"\n[trainer]\ntype = \"burn\"\n[controller]\ntype = \"random\"\n[search]\none_shot = false\n";
        let text = stored_with_added_fields(old, "config.toml", Path::new("/")).expect("reads");
        let cfg = SearchConfig::from_toml(&text, "config.toml", Path::new("/"), &[]).expect("parses");
        assert!(!cfg.data.auto_drop, "{text}");
        let new = SearchConfig::from_toml(old, "config.toml", Path::new("/"), &[]).expect("parses");
        assert!(new.data.auto_drop);
    }

    /// A field added to a sub-table (`[controller.mutation] training`) is added by its dotted
    /// path to a stored config that has the sub-table, and the config compares equal on resume.
    #[test]
    fn added_fields_of_sub_tables_are_added_by_path() {
        mlpnas_link::link_all();
        let old = "seed = 1\n[data]\nsource = \"builtin:iris\"\n[trainer]\ntype = \"burn\"\n[controller]\n\
                   type = \"evolution\"\n[controller.mutation]\nunits = 1.0\nactivation = 1.0\ninsert = 1.0\n\
                   remove = 1.0\ndropout = 0.5\n[search]\none_shot = false\n";
        let text = stored_with_added_fields(old, "config.toml", Path::new("/")).expect("reads");
        let table: toml::Table = toml::from_str(&text).expect("toml");
        assert_eq!(table["controller"]["mutation"]["training"].as_float(), Some(0.0), "{text}");
        assert_eq!(table["trainer"]["weight_decay"].as_float(), Some(0.0), "{text}");
        // A stored config without the sub-table gets nothing there.
        let bare = old.replace(
            "[controller.mutation]\nunits = 1.0\nactivation = 1.0\ninsert = 1.0\nremove = 1.0\ndropout = 0.5\n",
            "",
        );
        let text = stored_with_added_fields(&bare, "config.toml", Path::new("/")).expect("reads");
        let table: toml::Table = toml::from_str(&text).expect("toml");
        assert!(table["controller"].get("mutation").is_none(), "{text}");
    }

    #[test]
    fn overrides_parse_values_and_make_sections() {
        let mut t: toml::Table = toml::from_str("[search]\ntop = 5\n").expect("toml");
        apply_override(&mut t, "search.top=3").expect("ok");
        apply_override(&mut t, "trainer.backend=ndarray").expect("ok");
        apply_override(&mut t, "space.units=[8, 16]").expect("ok");
        apply_override(&mut t, "search.one_shot=false").expect("ok");
        assert_eq!(t["search"]["top"].as_integer(), Some(3));
        assert_eq!(t["search"]["one_shot"].as_bool(), Some(false));
        assert_eq!(t["trainer"]["backend"].as_str(), Some("ndarray"));
        assert_eq!(t["space"]["units"].as_array().map(Vec::len), Some(2));
        assert!(apply_override(&mut t, "search.top.x=1").is_err());
        let e = apply_override(&mut t, "space.activations=[relu,tanh]").expect_err("not TOML");
        assert!(e.contains("is not a TOML value"), "{e}");
        assert!(e.contains(r#"--set 'space.activations=["relu","tanh"]'"#), "{e}");
        assert!(apply_override(&mut t, "novalue").is_err());
    }

    #[test]
    fn the_resolved_config_has_absolute_data_paths() {
        let text = "[data]\nsource = \"x.npy:y.npy\"\n[controller]\ntype = \"random\"\n[trainer]\ntype = \"burn\"\n";
        // No plugin is linked into this unit test: only the data section is looked at.
        let table: toml::Table = toml::from_str(text).expect("toml");
        let data: mlpnas_data::DataConfig = table["data"].clone().try_into().expect("data");
        assert_eq!(data.source.absolute(Path::new("/data/cfg")).to_string(), "/data/cfg/x.npy:/data/cfg/y.npy");
        assert_eq!(data.source.absolute(Path::new("/elsewhere")).to_string(), "/elsewhere/x.npy:/elsewhere/y.npy");
    }
}
