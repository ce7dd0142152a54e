//! The resolved experiment ([`Plan`]): which configs run on which data sets or tables with which
//! seeds, the directory of each run and of its log, the runs that exist ([`Plan::jobs`]), and the
//! options every run shares, recorded in `compare.json` so that a rerun into the same directory
//! resumes with the same settings ([`check_shared`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::args::CompareArgs;
use super::job::Job;

/// What a run searches: its config's own data, a data set, or a benchmark table.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The config's `[data]`.
    Config,
    /// `mlpnas search --data SPEC`.
    Data(String),
    /// A benchmark table directory: `--set space.path=DIR --set trainer.path=DIR`.
    Table(PathBuf),
}

impl Source {
    /// Arguments of `mlpnas search` that select it.
    pub(super) fn args(&self) -> Vec<String> {
        match self {
            Source::Config => Vec::new(),
            Source::Data(spec) => vec!["--data".into(), spec.clone()],
            Source::Table(dir) => {
                // A TOML string: the path with its backslashes and quotes escaped.
                let quoted = format!("{:?}", dir.to_string_lossy());
                ["space", "trainer"].iter().flat_map(|s| ["--set".into(), format!("{s}.path={quoted}")]).collect()
            }
        }
    }

    /// How the report names it.
    pub(super) fn describe(&self) -> Option<String> {
        match self {
            Source::Config => None,
            Source::Data(spec) => Some(spec.clone()),
            Source::Table(dir) => Some(format!("table {}", dir.display())),
        }
    }
}

/// A config of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    /// Its name (file stem).
    pub name: String,
    /// The file run on data sets.
    pub path: PathBuf,
    /// The file run on tables (the same file, except in the smoke preset: configs/tables/NAME.toml).
    pub table_path: PathBuf,
}

/// The resolved experiment.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Each config.
    pub configs: Vec<ConfigEntry>,
    /// (name, source) of each data set or table; one `("default", Source::Config)` when none is given.
    pub data: Vec<(String, Source)>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Options shared by every run.
    pub shared: SharedOptions,
    /// Output directory.
    pub out: PathBuf,
}

/// The options every run gets; stored in `compare.json` so that a rerun does not mix settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedOptions {
    /// `--label`.
    pub label: Option<String>,
    /// `--drop`.
    pub drop: Option<String>,
    /// `--set` overrides, in order.
    pub sets: Vec<String>,
    /// Overrides for runs on data sets only, not on tables (the smoke preset's `trainer.epochs`,
    /// which a table trainer has not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_sets: Vec<String>,
}

/// A short file-name-safe name of a data SPEC: `builtin:iris` -> `iris`, `../x/wine.csv` -> `wine`.
pub fn data_name(spec: &str) -> String {
    let base = spec.strip_prefix("builtin:").unwrap_or(spec);
    let first = base.split(':').next().unwrap_or(base);
    let stem = Path::new(first).file_stem().map_or(first.to_string(), |s| s.to_string_lossy().into_owned());
    let clean: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if clean.is_empty() { "data".into() } else { clean }
}

fn config_name(path: &Path) -> String {
    path.file_stem().map_or("config".into(), |s| s.to_string_lossy().into_owned())
}

impl Plan {
    /// Resolves `a`: preset, defaults, names; checks that the configs exist and names are unique.
    pub fn new(a: &CompareArgs, root: &Path) -> Result<Self> {
        let expanded = a.expand(root)?;
        if expanded.configs.is_empty() {
            bail!("no config: name CONFIG files or a --preset");
        }
        let tables = &expanded.tables;
        let mut named: Vec<ConfigEntry> = Vec::new();
        for c in expanded.configs {
            if !c.is_file() {
                bail!("{}: no such config file", c.display());
            }
            let name = config_name(&c);
            if named.iter().any(|e| e.name == name) {
                bail!("{}: another config is also named {name:?} (configs are named by file stem)", c.display());
            }
            let abs = std::path::absolute(&c).with_context(|| format!("{}", c.display()))?;
            let table_path = match &expanded.table_configs {
                Some(dir) if !tables.is_empty() => {
                    let t = dir.join(format!("{name}.toml"));
                    if !t.is_file() {
                        bail!("{}: no such config file (the table version of {name})", t.display());
                    }
                    std::path::absolute(&t).with_context(|| format!("{}", t.display()))?
                }
                _ => abs.clone(),
            };
            named.push(ConfigEntry { name, path: abs, table_path });
        }
        let mut data_sets: Vec<(String, Source)> = Vec::new();
        let named_sources = expanded
            .data
            .into_iter()
            .map(|spec| (data_name(&spec), Source::Data(spec)))
            .chain(tables.iter().map(|t| (data_name(&t.to_string_lossy()), Source::Table(t.clone()))));
        for (name, source) in named_sources {
            if let Source::Table(t) = &source
                && !t.join("table.toml").is_file()
            {
                bail!("--tables {}: no table.toml there", t.display());
            }
            if data_sets.iter().any(|(n, _)| *n == name) {
                bail!("{}: another data set or table is also named {name:?}", source.describe().unwrap_or_default());
            }
            let source = match source {
                Source::Table(t) => Source::Table(std::path::absolute(&t).with_context(|| format!("{}", t.display()))?),
                s => s,
            };
            data_sets.push((name, source));
        }
        if data_sets.is_empty() {
            data_sets.push(("default".into(), Source::Config));
        }
        if expanded.seeds == 0 {
            bail!("--seeds must be at least 1");
        }
        Ok(Self {
            configs: named,
            data: data_sets,
            seeds: (0..expanded.seeds).collect(),
            shared: expanded.shared,
            out: expanded.out,
        })
    }

    /// Run directory of one run.
    pub fn run_dir(&self, data: &str, config: &str, seed: u64) -> PathBuf {
        self.out.join("runs").join(data).join(config).join(format!("seed-{seed}"))
    }

    fn log_path(&self, data: &str, config: &str, seed: u64) -> PathBuf {
        self.out.join("logs").join(data).join(config).join(format!("seed-{seed}.log"))
    }

    /// Every run, in data, config, seed order.
    pub(super) fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (d, source) in &self.data {
            for c in &self.configs {
                let path = if matches!(source, Source::Table(_)) { &c.table_path } else { &c.path };
                for &seed in &self.seeds {
                    jobs.push(Job {
                        data: d.clone(),
                        source: source.clone(),
                        config: c.name.clone(),
                        config_path: path.clone(),
                        seed,
                        run_dir: self.run_dir(d, &c.name, seed),
                        log: self.log_path(d, &c.name, seed),
                        stored: None,
                    });
                }
            }
        }
        jobs
    }
}

/// Refuses a DIR whose earlier runs used other shared options; records them otherwise.
pub(super) fn check_shared(out: &Path, shared: &SharedOptions) -> Result<()> {
    let path = out.join("compare.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let old: SharedOptions =
            serde_json::from_str(&text).with_context(|| format!("{}: not a compare.json", path.display()))?;
        if old != *shared {
            bail!(
                "{}: earlier runs here used {} but now {}; choose another --out",
                path.display(),
                serde_json::to_string(&old)?,
                serde_json::to_string(shared)?
            );
        }
        return Ok(());
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}", out.display()))?;
    std::fs::write(&path, serde_json::to_string_pretty(shared)? + "\n").with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::args::tests::args;
    use crate::runs::tests::tmp;

    #[test]
    fn data_names() {
        assert_eq!(data_name("builtin:iris"), "iris");
        assert_eq!(data_name("../shared/data/wine-quality.csv"), "wine-quality");
        assert_eq!(data_name("x.npy:y.npy"), "x");
        assert_eq!(data_name("a b.csv"), "a-b");
    }

    #[test]
    fn configs_must_exist_and_have_distinct_names() {
        let d = tmp("config-names");
        let cfg = d.join("configs");
        std::fs::create_dir_all(&cfg).expect("dir");
        std::fs::write(cfg.join("random.toml"), "").expect("write");
        let err = Plan::new(&args(&[&cfg.join("random.toml"), &cfg.join("random.toml")]), &d).expect_err("dup");
        assert!(err.to_string().contains("also named \"random\""), "{err}");
        let err = Plan::new(&args(&[&cfg.join("nope.toml")]), &d).expect_err("missing");
        assert!(err.to_string().contains("no such config file"), "{err}");
    }

    #[test]
    fn shared_options_are_checked_on_a_rerun() {
        let d = tmp("shared");
        let s = SharedOptions { label: None, drop: None, sets: vec!["trainer.epochs=2".into()], data_sets: vec![] };
        check_shared(&d, &s).expect("first");
        check_shared(&d, &s).expect("same again");
        let other = SharedOptions { sets: vec![], ..s };
        let err = check_shared(&d, &other).expect_err("different");
        assert!(err.to_string().contains("choose another --out"), "{err}");
    }
}
