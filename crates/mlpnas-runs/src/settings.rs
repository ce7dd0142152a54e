//! What a run's config says about the search loop, read the same way by everyone.
//!
//! [`LoopConfig`] is the `[search]` section (the budget and the loop's switches), the one home of
//! the loop's facts: whether a run shares weights ([`LoopConfig::shares_weights`]), how many trials
//! it plans, its batch. [`RunSettings`] reads what a stored run config (`config.toml` of a run
//! directory, or the config row of a run in a database) says, for readers that build no component
//! (the dashboard, xtask); the search reads the same `[search]` through `mlpnas-search`'s config.
//! Old setting names are mapped here, once ([`RENAMED`]).

use mlpnas_core::{Criterion, Metric, Resampling, Task};
use serde::{Deserialize, Serialize};

/// `[search]`: the budget and the loop's switches.
///
/// Read through [`LoopFields`], where `metric` may be absent: it then defaults to the task's
/// ([`Task::default_metric`]), and is written out (a stored config always names its metric).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "LoopFields")]
pub struct LoopConfig {
    /// Controller epochs (the controller is updated after each).
    pub controller_epochs: usize,
    /// Architectures proposed and trained per controller epoch.
    pub samples_per_epoch: usize,
    /// One-shot weight sharing through the `[store]`.
    pub one_shot: bool,
    /// Architectures listed in the final summary.
    pub top: usize,
    /// Architectures trained at once: the trials of a batch read the weight store as it was at
    /// the batch's start and their weights are stored in trial order after it, so results
    /// depend on `batch` but never on timing, on how many threads or workers train it, or on
    /// which machine trained what. A local search trains a batch on `batch` threads. 1 = the
    /// original, strictly sequential method. (`workers` is its old name, still accepted.)
    pub batch: usize,
    /// What the label is: `classification` (the default) or `regression` (a number).
    pub task: Task,
    /// The validation metric a trial's reward is made of: classification `accuracy` (its
    /// default, and the original MLPNAS reward), `balanced_accuracy`, `log_loss`, `auc`, `f1`;
    /// regression `rmse` (its default), `mae`, `r2`.
    pub metric: Metric,
    /// The class `f1` and a two-class `auc` score, by name (default: the class with the fewest
    /// training rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_class: Option<String>,
    /// Score each candidate by K-fold cross-validation over the search's training and
    /// validation rows (the reward is the mean over the folds); absent: on the validation rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folds: Option<usize>,
    /// Score each candidate on R stratified holdouts of those rows instead (the cheaper
    /// alternative to folds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<usize>,
    /// After the last controller epoch, train the best this many candidates again
    /// (`rescore_seeds` times each, from scratch, with their own seeds) and rank them by the mean
    /// of all their scores; 0: no re-scoring.
    #[serde(skip_serializing_if = "is_zero")]
    pub rescore_top: usize,
    /// Re-evaluations of each re-scored candidate (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescore_seeds: Option<usize>,
    /// Wall time after which no further controller epoch starts (the epoch under way finishes,
    /// then re-scoring and the summary); absent: no limit. Resuming with a larger budget
    /// continues the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget: Option<TimeBudget>,
    /// Training epochs (every trial's, each fold or repeat counted) after which no further
    /// controller epoch starts; absent: no limit. Unlike the time budget, where it stops depends
    /// on nothing but the config and the seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch_budget: Option<usize>,
    /// A multi-objective search's criteria (`["reward", "params"]`; `reward` first): each trial
    /// records its values, the run keeps the Pareto front. Empty (the default): the reward
    /// alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Criterion>,
}

/// A wall-time budget in seconds, written as a number of seconds or a duration text: `"90s"`,
/// `"30m"`, `"2h"`, `"1h30m"`. Stored configs carry the number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "BudgetText", into = "f64")]
pub struct TimeBudget(f64);

/// How a [`TimeBudget`] is written.
#[derive(Deserialize)]
#[serde(untagged)]
enum BudgetText {
    Seconds(f64),
    Text(String),
}

impl TimeBudget {
    /// The budget in seconds.
    pub fn seconds(self) -> f64 {
        self.0
    }

    /// Reads `"90"`, `"90s"`, `"30m"`, `"2h"`, `"1h30m"` (units s, m, h; at least one part).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("{text:?} is not a duration (seconds, or text such as \"90s\", \"30m\", \"2h\", \"1h30m\")");
        let t = text.trim();
        if let Ok(n) = t.parse::<f64>() {
            return Self::from_seconds(n);
        }
        let (mut total, mut number) = (0.0, String::new());
        let mut parts = 0;
        for c in t.chars() {
            match c {
                '0'..='9' | '.' => number.push(c),
                's' | 'm' | 'h' => {
                    let n: f64 = number.parse().map_err(|_| bad())?;
                    total += n * match c {
                        's' => 1.0,
                        'm' => 60.0,
                        _ => 3600.0,
                    };
                    number.clear();
                    parts += 1;
                }
                _ => return Err(bad()),
            }
        }
        if parts == 0 || !number.is_empty() {
            return Err(bad());
        }
        Self::from_seconds(total)
    }

    /// A budget of `n` seconds: positive and finite.
    pub fn from_seconds(n: f64) -> Result<Self, String> {
        if n.is_finite() && n > 0.0 {
            Ok(Self(n))
        } else {
            Err(format!("{n} is not a time budget (a positive number of seconds)"))
        }
    }
}

impl TryFrom<BudgetText> for TimeBudget {
    type Error = String;
    fn try_from(t: BudgetText) -> Result<Self, String> {
        match t {
            BudgetText::Seconds(n) => Self::from_seconds(n),
            BudgetText::Text(s) => Self::parse(&s),
        }
    }
}

impl From<TimeBudget> for f64 {
    fn from(b: TimeBudget) -> f64 {
        b.0
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `[search]` as written: [`LoopConfig`] with an optional metric.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LoopFields {
    controller_epochs: usize,
    samples_per_epoch: usize,
    one_shot: bool,
    top: usize,
    #[serde(alias = "workers")]
    batch: usize,
    task: Task,
    metric: Option<Metric>,
    positive_class: Option<String>,
    folds: Option<usize>,
    repeats: Option<usize>,
    rescore_top: usize,
    rescore_seeds: Option<usize>,
    time_budget: Option<TimeBudget>,
    epoch_budget: Option<usize>,
    objectives: Vec<Criterion>,
}

impl Default for LoopFields {
    fn default() -> Self {
        let d = LoopConfig::default();
        Self {
            controller_epochs: d.controller_epochs,
            samples_per_epoch: d.samples_per_epoch,
            one_shot: d.one_shot,
            top: d.top,
            batch: d.batch,
            task: d.task,
            metric: None,
            positive_class: d.positive_class,
            folds: None,
            repeats: None,
            rescore_top: 0,
            rescore_seeds: None,
            time_budget: None,
            epoch_budget: None,
            objectives: Vec::new(),
        }
    }
}

impl From<LoopFields> for LoopConfig {
    fn from(f: LoopFields) -> Self {
        Self {
            controller_epochs: f.controller_epochs,
            samples_per_epoch: f.samples_per_epoch,
            one_shot: f.one_shot,
            top: f.top,
            batch: f.batch,
            task: f.task,
            metric: f.metric.unwrap_or(f.task.default_metric()),
            positive_class: f.positive_class,
            folds: f.folds,
            repeats: f.repeats,
            rescore_top: f.rescore_top,
            rescore_seeds: f.rescore_seeds,
            time_budget: f.time_budget,
            epoch_budget: f.epoch_budget,
            objectives: f.objectives,
        }
    }
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            controller_epochs: 10,
            samples_per_epoch: 10,
            one_shot: true,
            top: 5,
            batch: 1,
            task: Task::Classification,
            metric: Metric::Accuracy,
            positive_class: None,
            folds: None,
            repeats: None,
            rescore_top: 0,
            rescore_seeds: None,
            time_budget: None,
            epoch_budget: None,
            objectives: Vec::new(),
        }
    }
}

/// Fields added to `[search]` after runs were first stored, with the value (TOML text) a run
/// stored before each existed was made with (see `mlpnas_core::TrainerConfig::added_fields`).
pub const ADDED_FIELDS: &[(&str, &str)] = &[("metric", "\"accuracy\""), ("task", "\"classification\"")];

impl LoopConfig {
    /// Whether trials share weights: one-shot sharing on, and a `[store]` to share through
    /// (`has_store`). Every part of mlpnas asks this here.
    pub fn shares_weights(&self, has_store: bool) -> bool {
        self.one_shot && has_store
    }

    /// How each candidate is scored (`folds`, `repeats`, or the validation rows); a config
    /// naming both is refused at check, before this is asked.
    pub fn resampling(&self) -> Resampling {
        match (self.folds, self.repeats) {
            (Some(k), _) => Resampling::Folds(k),
            (None, Some(r)) => Resampling::Repeats(r),
            (None, None) => Resampling::Holdout,
        }
    }

    /// Re-evaluations of each re-scored candidate.
    pub fn rescore_seeds(&self) -> usize {
        self.rescore_seeds.unwrap_or(3)
    }

    /// Whether the search may end before its planned trials on a time or epoch budget.
    pub fn budgeted(&self) -> bool {
        self.time_budget.is_some() || self.epoch_budget.is_some()
    }

    /// Trials the budget plans (`controller_epochs` x `samples_per_epoch`).
    pub fn planned(&self) -> usize {
        self.controller_epochs.saturating_mul(self.samples_per_epoch)
    }
}

/// Settings that were renamed, still read under their old name: (old dotted key, current key).
/// `search.workers` is `search.batch` (the deserializer also takes `workers` within `[search]`).
pub const RENAMED: &[(&str, &str)] = &[("search.workers", "search.batch")];

/// The current name of the dotted key `key` (`search.workers` -> `search.batch`).
pub fn current_key(key: &str) -> &str {
    RENAMED.iter().find(|(old, _)| *old == key).map_or(key, |(_, new)| new)
}

/// Renames old keys of a config tree to their current names; when both are given, the old one
/// goes.
pub fn rename_old_keys(table: &mut toml::Table) {
    for (old, new) in RENAMED {
        let (Some((section, old_key)), Some((_, new_key))) = (old.split_once('.'), new.split_once('.')) else {
            continue;
        };
        if let Some(toml::Value::Table(t)) = table.get_mut(section)
            && let Some(v) = t.remove(old_key)
        {
            t.entry(new_key).or_insert(v);
        }
    }
}

/// What a stored run config says, read without building any component (no plugin needs to be
/// linked): its seed, data source, controller type, loop settings and whether it has a store.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// The seed of every random stream (absent: 0 when the search reads it).
    pub seed: Option<i64>,
    /// `data.source`.
    pub data_source: Option<String>,
    /// `controller.type`.
    pub controller: Option<String>,
    /// `[search]`.
    pub search: LoopConfig,
    /// Whether it has a `[store]` section.
    pub has_store: bool,
    /// The table directory of a benchmark-table run (`[space] type = "table"`, its `path`).
    pub table: Option<String>,
    /// `scheduler.type` when it is a multi-fidelity one (absent or `"full"`: `None`).
    pub scheduler: Option<String>,
}

impl RunSettings {
    /// Reads them from a run's config text (TOML).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| format!("config.toml: {}", e.message().trim()))?;
        rename_old_keys(&mut table);
        let get = |section: &str, key: &str| table.get(section).and_then(|s| s.get(key)).cloned();
        let string = |section: &str, key: &str| get(section, key).and_then(|v| v.as_str().map(String::from));
        let search = match table.get("search") {
            Some(v) => v
                .clone()
                .try_into::<LoopConfig>()
                .map_err(|e| format!("config.toml: [search]: {}", e.message().trim()))?,
            None => LoopConfig::default(),
        };
        Ok(Self {
            seed: table.get("seed").and_then(toml::Value::as_integer),
            data_source: string("data", "source"),
            controller: string("controller", "type"),
            search,
            has_store: table.contains_key("store"),
            table: (string("space", "type").as_deref() == Some("table")).then(|| string("space", "path")).flatten(),
            scheduler: string("scheduler", "type").filter(|t| t != "full"),
        })
    }

    /// Whether its trials share weights ([`LoopConfig::shares_weights`]).
    pub fn shares_weights(&self) -> bool {
        self.search.shares_weights(self.has_store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_are_read_as_the_current_ones() {
        assert_eq!(current_key("search.workers"), "search.batch");
        assert_eq!(current_key("search.top"), "search.top");
        let mut t: toml::Table = toml::from_str("[search]\nworkers = 3\n").expect("toml");
        rename_old_keys(&mut t);
        assert_eq!(t["search"]["batch"].as_integer(), Some(3));
        let mut both: toml::Table = toml::from_str("[search]\nworkers = 3\nbatch = 2\n").expect("toml");
        rename_old_keys(&mut both);
        assert_eq!((both["search"]["batch"].as_integer(), both["search"].get("workers")), (Some(2), None));
        let s = RunSettings::from_toml("[search]\nworkers = 4\n").expect("settings");
        assert_eq!(s.search.batch, 4);
    }

    #[test]
    fn settings_of_a_stored_config() {
        let text = "seed = 7\n[data]\nsource = \"/x/wine.csv\"\n[controller]\ntype = \"random\"\n[search]\ncontroller_epochs = 3\nsamples_per_epoch = 8\n[store]\ntype = \"memory\"\n";
        let s = RunSettings::from_toml(text).expect("settings");
        assert_eq!(
            (s.seed, s.controller.as_deref(), s.data_source.as_deref()),
            (Some(7), Some("random"), Some("/x/wine.csv"))
        );
        assert_eq!((s.search.planned(), s.search.batch, s.shares_weights()), (24, 1, true));
        let off =
            RunSettings::from_toml(&text.replace("[search]\n", "[search]\none_shot = false\n")).expect("settings");
        assert!(!off.shares_weights());
        let no_store = RunSettings::from_toml(&text.replace("[store]\ntype = \"memory\"\n", "")).expect("settings");
        assert!(!no_store.shares_weights());
        assert!(RunSettings::from_toml("seed = [").is_err());
        assert!(RunSettings::from_toml("[search]\nbatch = \"x\"\n").is_err());
    }

    #[test]
    fn time_budgets_read_as_seconds_or_durations() {
        for (text, seconds) in
            [("90", 90.0), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1h30m", 5400.0), ("1.5m", 90.0)]
        {
            assert_eq!(TimeBudget::parse(text).map(TimeBudget::seconds), Ok(seconds), "{text}");
        }
        for bad in ["", "soon", "1ms", "m", "30x", "-5", "0", "0s", "5m3", "inf"] {
            let e = TimeBudget::parse(bad).expect_err(bad);
            assert!(e.contains("duration") || e.contains("time budget"), "{bad}: {e}");
        }
        // In a config: a number or a text; stored as seconds.
        let s = RunSettings::from_toml("[search]\ntime_budget = \"2m\"\n").expect("settings");
        assert_eq!(s.search.time_budget.map(TimeBudget::seconds), Some(120.0));
        let stored = toml::to_string(&s.search).expect("toml");
        assert!(stored.contains("time_budget = 120.0"), "{stored}");
        let n = RunSettings::from_toml("[search]\ntime_budget = 45\nepoch_budget = 300\n").expect("settings");
        assert_eq!((n.search.time_budget.map(TimeBudget::seconds), n.search.epoch_budget), (Some(45.0), Some(300)));
        assert!(n.search.budgeted() && !LoopConfig::default().budgeted());
        assert!(RunSettings::from_toml("[search]\ntime_budget = -1\n").is_err());
    }
}
