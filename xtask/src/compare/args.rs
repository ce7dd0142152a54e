//! The options of `cargo xtask compare` ([`CompareArgs`]), its ready-made experiments
//! ([`Preset`]) and their expansion into configs, data sets, tables, overrides, seeds and an
//! output directory ([`CompareArgs::expand`]), before any of it is checked by
//! [`Plan::new`](super::plan::Plan::new).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::plan::SharedOptions;
use crate::aggregate::CompareSettings;

/// Ready-made experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// A tiny budget on builtin:iris, 2 seeds: random (plus evolution / reinforce configs when present). CI runs it.
    Smoke,
    /// The seed-* configs (one-shot and predictor on/off), random and evolution, on wine-quality, 5 seeds.
    SeedAblation,
    /// configs/tables/{random,evolution,reinforce,tpe}.toml on benchmark tables (--tables, default:
    /// docs/tables/*), 100 trials, 100 seeds, with regret curves.
    Tables,
    /// Multi-fidelity schedulers on benchmark tables with learning curves (--tables, default:
    /// docs/tables/*), 100 seeds: configs/tables/{random, random-third, random-halving,
    /// random-hyperband, random-median, evolution, evolution-hyperband}.toml, each with its own
    /// budget, regret against the epochs spent.
    Schedulers,
    /// Issue 33's search procedures at equal wall time on the tabular kit's classification files
    /// against scikit-learn (bench/tabular; seeds 1..=N, default 2; --data NAME picks files).
    SearchQuality,
}

/// Cargo profile of the `mlpnas` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// `cargo build` (target/debug): reuses a test build; dependencies are optimized anyway.
    Dev,
    /// `cargo build --release` (target/release).
    Release,
}

/// Options of `cargo xtask compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Search configs (TOML) to compare; each is named by its file stem.
    #[arg(value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// A ready-made experiment; CONFIG arguments are added to its configs, other options override it.
    #[arg(long)]
    pub preset: Option<Preset>,
    /// Seeds per config: 0..N (default 5; smoke: 2).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Data set (repeatable: every config runs on each); passed to `mlpnas search --data`.
    #[arg(long = "data", value_name = "SPEC")]
    pub data: Vec<String>,
    /// Benchmark table directory (repeatable): every config runs on it with `space.path` and
    /// `trainer.path` set to it (with --preset smoke, configs/tables/<config>.toml does), and the
    /// report adds regret curves.
    #[arg(long = "tables", value_name = "DIR", num_args = 1..)]
    pub tables: Vec<PathBuf>,
    /// CSV label column, for every data set.
    #[arg(long)]
    pub label: Option<String>,
    /// CSV columns to ignore, comma-separated (`#0` = first column).
    #[arg(long)]
    pub drop: Option<String>,
    /// Config override for every run (repeatable): `--set search.controller_epochs=3`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Runs at a time.
    #[arg(long, short, default_value_t = 1)]
    pub jobs: usize,
    /// Output directory (default: runs/compare, or runs/compare-<preset>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Config every other is compared against (default: "random" if present, else the first).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Profile of the `mlpnas` binary that `cargo build -p mlpnas-cli` makes.
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
    /// Use this `mlpnas` binary instead of building one.
    #[arg(long, value_name = "PATH")]
    pub mlpnas: Option<PathBuf>,
    /// Keep every run in this PostgreSQL database (postgresql://user@host:port/db): all runs are
    /// queued at once and `mlpnas worker` processes on any machine serve the whole comparison;
    /// each finished run is exported into DIR/runs for the report.
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,
    /// With --storage: `mlpnas worker` processes to start here (0: only workers elsewhere).
    #[arg(long, default_value_t = 1, requires = "storage")]
    pub local_workers: usize,
    /// Run nothing: aggregate what DIR already holds.
    #[arg(long)]
    pub aggregate_only: bool,
    /// Bootstrap resamples of the paired differences.
    #[arg(long, default_value_t = 10_000)]
    pub resamples: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = CompareSettings::default().seed)]
    pub bootstrap_seed: u64,
}

/// The options with the preset's defaults filled in and its configs, data sets and overrides
/// placed before the command line's own; nothing checked yet but the preset's files.
#[derive(Debug, Clone)]
pub(super) struct Expanded {
    /// Config files, the preset's first.
    pub configs: Vec<PathBuf>,
    /// Data set SPECs.
    pub data: Vec<String>,
    /// Benchmark table directories.
    pub tables: Vec<PathBuf>,
    /// Where a config run on a table comes from, by name (smoke: configs/tables/NAME.toml);
    /// `None`: the config itself.
    pub table_configs: Option<PathBuf>,
    /// Options shared by every run, the preset's overrides first.
    pub shared: SharedOptions,
    /// Seeds per config.
    pub seeds: u64,
    /// Output directory.
    pub out: PathBuf,
}

impl CompareArgs {
    /// Expands `--preset` (its configs from `root/configs`, data sets, tables, overrides, seeds,
    /// output directory) and adds the command line's configs and `--set`s after the preset's.
    pub(super) fn expand(&self, root: &Path) -> Result<Expanded> {
        let mut configs: Vec<PathBuf> = Vec::new();
        let mut data = self.data.clone();
        let mut label = self.label.clone();
        let mut drop = self.drop.clone();
        let mut sets: Vec<String> = Vec::new();
        let mut data_only: Vec<String> = Vec::new();
        let mut seeds = 5;
        let mut tables = self.tables.clone();
        let mut table_configs: Option<PathBuf> = None;
        if let Some(p) = self.preset {
            let on_tables = matches!(p, Preset::Tables | Preset::Schedulers);
            let dir = if on_tables { root.join("configs/tables") } else { root.join("configs") };
            configs = preset_configs(p, &dir)?;
            match p {
                Preset::Tables => {
                    seeds = 100;
                    if tables.is_empty() {
                        tables = table_dirs(&root.join("docs/tables"))?;
                    }
                    sets.extend(["search.controller_epochs=10", "search.samples_per_epoch=10"].map(String::from));
                }
                Preset::Schedulers => {
                    // Each config's own budget: the point is what each spends.
                    seeds = 100;
                    if tables.is_empty() {
                        tables = table_dirs(&root.join("docs/tables"))?;
                    }
                }
                Preset::Smoke => {
                    seeds = 2;
                    if data.is_empty() {
                        data.push("builtin:iris".into());
                    }
                    table_configs = Some(root.join("configs/tables"));
                    sets.extend(["search.controller_epochs=2", "search.samples_per_epoch=3"].map(String::from));
                    data_only.push("trainer.epochs=2".to_string());
                }
                Preset::SearchQuality => bail!("--preset search-quality runs through bench/tabular, not configs"),
                Preset::SeedAblation => {
                    if data.is_empty() {
                        let wine = root.join("../shared/data/wine-quality.csv");
                        if !wine.exists() {
                            bail!("--preset seed-ablation: {} not found (pass --data)", wine.display());
                        }
                        data.push(wine.to_string_lossy().into_owned());
                        label.get_or_insert_with(|| "quality_label".into());
                        drop.get_or_insert_with(|| "#0,quality".into());
                    }
                }
            }
        }
        configs.extend(self.configs.iter().cloned());
        sets.extend(self.set.iter().cloned());
        let out = match (&self.out, self.preset) {
            (Some(o), _) => o.clone(),
            (None, Some(Preset::Smoke)) => PathBuf::from("runs/compare-smoke"),
            (None, Some(Preset::SeedAblation)) => PathBuf::from("runs/compare-seed-ablation"),
            (None, Some(Preset::Tables)) => PathBuf::from("runs/compare-tables"),
            (None, Some(Preset::Schedulers)) => PathBuf::from("runs/compare-schedulers"),
            (None, Some(Preset::SearchQuality)) => PathBuf::from("target/tabular"),
            (None, None) => PathBuf::from("runs/compare"),
        };
        Ok(Expanded {
            configs,
            data,
            tables,
            table_configs,
            shared: SharedOptions { label, drop, sets, data_sets: data_only },
            seeds: self.seeds.unwrap_or(seeds),
            out,
        })
    }
}

/// The `configs/` files a preset uses, by the names present there now.
fn preset_configs(preset: Preset, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let has = |n: &str| names.iter().any(|x| x == n);
    let mut chosen: Vec<String> = Vec::new();
    match preset {
        Preset::Smoke => {
            chosen.push("random.toml".into());
            chosen.extend(names.iter().filter(|n| n.starts_with("evolution") || n.starts_with("reinforce")).cloned());
        }
        Preset::Tables => {
            chosen.extend(["random.toml", "evolution.toml", "reinforce.toml", "tpe.toml"].map(String::from));
        }
        Preset::Schedulers => {
            chosen.extend(
                [
                    "random.toml",
                    "random-third.toml",
                    "random-halving.toml",
                    "random-hyperband.toml",
                    "random-median.toml",
                    "evolution.toml",
                    "evolution-hyperband.toml",
                ]
                .map(String::from),
            );
        }
        Preset::SearchQuality => bail!("--preset search-quality runs through bench/tabular, not configs"),
        Preset::SeedAblation => {
            let seeds: Vec<&String> = names.iter().filter(|n| n.starts_with("seed")).collect();
            if seeds.is_empty() {
                bail!("--preset seed-ablation: no configs/seed*.toml in {}", dir.display());
            }
            // The full configuration first, then its ablations.
            let (full, rest): (Vec<&String>, Vec<&String>) =
                seeds.into_iter().partition(|n| n.contains("default") || n.contains("full"));
            chosen.extend(full.into_iter().chain(rest).cloned());
            chosen.push("random.toml".into());
            if has("evolution.toml") {
                chosen.push("evolution.toml".into());
            }
        }
    }
    for n in &chosen {
        if !has(n) {
            bail!("--preset: {} is missing", dir.join(n).display());
        }
    }
    Ok(chosen.into_iter().map(|n| dir.join(n)).collect())
}

/// The table directories (holding a table.toml) inside `dir`, by name.
fn table_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("--preset tables: {} (or name tables with --tables DIR)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("table.toml").is_file())
        .collect();
    out.sort();
    if out.is_empty() {
        bail!("--preset tables: no table in {}; name tables with --tables DIR", dir.display());
    }
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::compare::plan::{Plan, Source};
    use crate::runs::tests::tmp;

    /// Options naming `configs`, 3 seeds, nothing run (`--aggregate-only`).
    pub(in crate::compare) fn args(configs: &[&Path]) -> CompareArgs {
        CompareArgs {
            configs: configs.iter().map(|p| p.to_path_buf()).collect(),
            preset: None,
            seeds: Some(3),
            data: vec![],
            tables: vec![],
            label: None,
            drop: None,
            set: vec![],
            jobs: 1,
            out: None,
            baseline: None,
            profile: Profile::Release,
            mlpnas: None,
            aggregate_only: true,
            storage: None,
            local_workers: 1,
            resamples: 1000,
            bootstrap_seed: 1,
        }
    }

    #[test]
    fn presets_follow_the_configs_present() {
        let d = tmp("presets");
        let cfg = d.join("configs");
        std::fs::create_dir_all(&cfg).expect("dir");
        for n in ["random.toml", "seed-no-oneshot.toml", "seed-default.toml", "seed-neither.toml", "reinforce.toml"] {
            std::fs::write(cfg.join(n), "").expect("write");
        }
        let mut a = args(&[]);
        a.preset = Some(Preset::Smoke);
        a.seeds = None;
        let p = Plan::new(&a, &d).expect("smoke");
        let names: Vec<&str> = p.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["random", "reinforce"]);
        assert_eq!(p.seeds, [0, 1]);
        assert_eq!(p.data, [("iris".to_string(), Source::Data("builtin:iris".to_string()))]);
        assert_eq!(p.configs[0].table_path, p.configs[0].path, "no tables: no table configs needed");
        assert!(p.shared.data_sets.contains(&"trainer.epochs=2".to_string()));
        a.preset = Some(Preset::SeedAblation);
        a.data = vec!["builtin:iris".into()];
        let p = Plan::new(&a, &d).expect("ablation");
        let names: Vec<&str> = p.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["seed-default", "seed-neither", "seed-no-oneshot", "random"]);
        assert_eq!(p.seeds.len(), 5);
    }

    #[test]
    fn the_tables_preset_runs_table_configs_on_every_table() {
        let d = tmp("tables-preset");
        let cfg = d.join("configs/tables");
        std::fs::create_dir_all(&cfg).expect("dir");
        for n in ["random.toml", "evolution.toml", "reinforce.toml", "tpe.toml"] {
            std::fs::write(cfg.join(n), "").expect("write");
            std::fs::write(d.join("configs").join(n), "").expect("write");
        }
        let mut a = args(&[]);
        a.preset = Some(Preset::Tables);
        a.seeds = None;
        let err = Plan::new(&a, &d).expect_err("no docs/tables");
        assert!(err.to_string().contains("--tables DIR"), "{err}");
        for t in ["b", "a"] {
            let t = d.join("docs/tables").join(t);
            std::fs::create_dir_all(&t).expect("dir");
            std::fs::write(t.join("table.toml"), "").expect("write");
        }
        std::fs::create_dir_all(d.join("docs/tables/not-a-table")).expect("dir");
        let p = Plan::new(&a, &d).expect("tables");
        let names: Vec<&str> = p.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["random", "evolution", "reinforce", "tpe"]);
        assert_eq!(p.configs[1].table_path, cfg.join("evolution.toml"));
        assert_eq!(p.seeds.len(), 100);
        let tables: Vec<&str> = p.data.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(tables, ["a", "b"]);
        assert!(matches!(&p.data[0].1, Source::Table(t) if t.ends_with("docs/tables/a")));
        // Smoke with a table: iris runs configs/NAME.toml, the table configs/tables/NAME.toml.
        a.preset = Some(Preset::Smoke);
        a.tables = vec![d.join("docs/tables/a")];
        let p = Plan::new(&a, &d).expect("smoke with a table");
        assert_eq!(p.data.len(), 2);
        let random = &p.configs[0];
        assert_eq!(
            (random.path.clone(), random.table_path.clone()),
            (d.join("configs/random.toml"), cfg.join("random.toml"))
        );
        a.tables = vec![d.join("docs/tables/not-a-table")];
        let err = Plan::new(&a, &d).expect_err("not a table");
        assert!(err.to_string().contains("no table.toml"), "{err}");
    }
}
