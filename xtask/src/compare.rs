//! `cargo xtask compare`: every config x data set x seed through the `mlpnas` binary, J at a time,
//! each into its own run directory, then the aggregation, plots and `report.md`.
//!
//! A run searches a data set (`--data SPEC`, passed to `mlpnas search --data`) or a benchmark
//! table (`--tables DIR`: `--set space.path=DIR --set trainer.path=DIR`); on tables the report
//! adds regret curves and tests ([`crate::regret`]). `--preset tables` runs configs/tables/ on
//! tables; `--preset smoke --tables DIR` runs configs/NAME.toml on iris and
//! configs/tables/NAME.toml on the tables.
//!
//! Layout of `--out DIR`: `runs/<data>/<config>/seed-<S>/` (one `mlpnas search --out` each),
//! `logs/<data>/<config>/seed-<S>.log` (its stdout and stderr), `compare.json` (the options every
//! run shares, checked on a rerun), and the outputs `report.md`, `summary.csv`, `runs.csv`,
//! `summary.json` and `*.svg`. A rerun skips runs whose `summary.json` says finished, resumes
//! runs that have a journal (`mlpnas search --resume RUN`) and starts the others.
//!
//! With `--storage URL` the runs live in PostgreSQL under `<DIR name>/<data>/<config>/seed-<S>`,
//! all queued at once (`--threads 0`: the coordinators only coordinate), trained by `mlpnas
//! worker` processes (`--local-workers` of them started here), and each finished run is exported
//! into its `runs/...` directory, so the aggregation reads the same files either way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::aggregate::{CompareSettings, ConfigRuns, DataReport, pick_baseline, write_tables};
use crate::report::{ReportContext, markdown};
use crate::runs::{RunData, best_trial, is_finished};
use crate::{plots, workspace_root};

/// Ready-made experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// A tiny budget on builtin:iris, 2 seeds: random (plus evolution / reinforce configs when present). CI runs it.
    Smoke,
    /// The seed-* configs (one-shot and predictor on/off), random and evolution, on wine-quality, 5 seeds.
    SeedAblation,
    /// configs/tables/{random,evolution,reinforce}.toml on benchmark tables (--tables, default:
    /// docs/tables/*), 100 trials, 100 seeds, with regret curves.
    Tables,
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
    fn args(&self) -> Vec<String> {
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
    fn describe(&self) -> Option<String> {
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
            chosen.extend(["random.toml", "evolution.toml", "reinforce.toml"].map(String::from));
        }
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

impl Plan {
    /// Resolves `a`: preset, defaults, names; checks that the configs exist and names are unique.
    pub fn new(a: &CompareArgs, root: &Path) -> Result<Self> {
        let mut configs: Vec<PathBuf> = Vec::new();
        let mut data = a.data.clone();
        let mut label = a.label.clone();
        let mut drop = a.drop.clone();
        let mut sets: Vec<String> = Vec::new();
        let mut data_only: Vec<String> = Vec::new();
        let mut seeds = 5;
        let mut tables = a.tables.clone();
        // Where a config run on a table comes from, by name (smoke: configs/tables/NAME.toml).
        let mut table_configs: Option<PathBuf> = None;
        if let Some(p) = a.preset {
            let dir = if p == Preset::Tables { root.join("configs/tables") } else { root.join("configs") };
            configs = preset_configs(p, &dir)?;
            match p {
                Preset::Tables => {
                    seeds = 100;
                    if tables.is_empty() {
                        tables = table_dirs(&root.join("docs/tables"))?;
                    }
                    sets.extend(["search.controller_epochs=10", "search.samples_per_epoch=10"].map(String::from));
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
        configs.extend(a.configs.iter().cloned());
        sets.extend(a.set.iter().cloned());
        if configs.is_empty() {
            bail!("no config: name CONFIG files or a --preset");
        }
        let mut named: Vec<ConfigEntry> = Vec::new();
        for c in configs {
            if !c.is_file() {
                bail!("{}: no such config file", c.display());
            }
            let name = config_name(&c);
            if named.iter().any(|e| e.name == name) {
                bail!("{}: another config is also named {name:?} (configs are named by file stem)", c.display());
            }
            let abs = std::path::absolute(&c).with_context(|| format!("{}", c.display()))?;
            let table_path = match &table_configs {
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
        let named_sources = data
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
        let seeds = a.seeds.unwrap_or(seeds);
        if seeds == 0 {
            bail!("--seeds must be at least 1");
        }
        let out = match (&a.out, a.preset) {
            (Some(o), _) => o.clone(),
            (None, Some(Preset::Smoke)) => PathBuf::from("runs/compare-smoke"),
            (None, Some(Preset::SeedAblation)) => PathBuf::from("runs/compare-seed-ablation"),
            (None, Some(Preset::Tables)) => PathBuf::from("runs/compare-tables"),
            (None, None) => PathBuf::from("runs/compare"),
        };
        Ok(Self {
            configs: named,
            data: data_sets,
            seeds: (0..seeds).collect(),
            shared: SharedOptions { label, drop, sets, data_sets: data_only },
            out,
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
    fn jobs(&self) -> Vec<Job> {
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

/// One `mlpnas search`.
#[derive(Debug, Clone)]
struct Job {
    data: String,
    source: Source,
    config: String,
    config_path: PathBuf,
    seed: u64,
    run_dir: PathBuf,
    log: PathBuf,
    /// The run's name in `--storage`, the URL, and the run's status there (`None`: not there).
    stored: Option<(String, String, Option<String>)>,
}

impl Job {
    fn title(&self) -> String {
        format!("{} seed {} on {}", self.config, self.seed, self.data)
    }

    /// Arguments of `mlpnas`: a resume when a journal exists, a fresh search otherwise.
    fn args(&self, shared: &SharedOptions) -> Vec<String> {
        // Where the run lives: a run directory, or a name in a database (then this process only
        // coordinates: the workers train).
        let (exists, flag, target, mut tail): (bool, &str, String, Vec<String>) = match &self.stored {
            Some((name, url, status)) => (
                status.is_some(),
                "--name",
                name.clone(),
                vec!["--storage".into(), url.clone(), "--threads".into(), "0".into()],
            ),
            None => (
                self.run_dir.join("journal.jsonl").exists(),
                "--out",
                self.run_dir.to_string_lossy().into_owned(),
                Vec::new(),
            ),
        };
        tail.push("--quiet".into());
        if exists {
            return ["search".into(), "--resume".into(), target].into_iter().chain(tail).collect();
        }
        let mut a: Vec<String> = vec![
            "search".into(),
            "--config".into(),
            self.config_path.to_string_lossy().into_owned(),
            "--seed".into(),
            self.seed.to_string(),
            flag.into(),
            target,
        ];
        a.extend(tail);
        self.shared_args(shared, &mut a);
        a
    }

    fn shared_args(&self, shared: &SharedOptions, a: &mut Vec<String>) {
        a.extend(self.source.args());
        let on_table = matches!(self.source, Source::Table(_));
        if let (false, Some(l)) = (on_table, &shared.label) {
            a.extend(["--label".into(), l.clone()]);
        }
        if let (false, Some(d)) = (on_table, &shared.drop) {
            a.extend(["--drop".into(), d.clone()]);
        }
        let only_data = if on_table { &[][..] } else { &shared.data_sets[..] };
        for s in shared.sets.iter().chain(only_data) {
            a.extend(["--set".into(), s.clone()]);
        }
    }
}

/// How one run ended.
struct Outcome {
    job: Job,
    seconds: f64,
    /// `Err(one line)` when the binary failed.
    result: std::result::Result<(), String>,
}

fn run_one(bin: &Path, job: Job, shared: &SharedOptions) -> Outcome {
    let start = Instant::now();
    let args = job.args(shared);
    let result = (|| -> std::result::Result<(), String> {
        if let Some(p) = job.log.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let finished_there = job.stored.as_ref().is_some_and(|s| s.2.as_deref() == Some("finished"));
        let out = if finished_there {
            // Finished in the database but not exported yet: only the export is left.
            Command::new(bin).arg("--version").output()
        } else {
            Command::new(bin).args(&args).output()
        }
        .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut log = format!("$ {} {}\n", bin.display(), args.join(" "));
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&stderr);
        log.push_str(&format!("exit: {}\n\n", out.status));
        let mut old = std::fs::read_to_string(&job.log).unwrap_or_default();
        old.push_str(&log);
        std::fs::write(&job.log, old).map_err(|e| format!("{}: {e}", job.log.display()))?;
        if out.status.success() {
            if let Some((name, url, _)) = &job.stored {
                let _ = std::fs::remove_dir_all(&job.run_dir);
                let e = Command::new(bin)
                    .args(["export", "--quiet", name, "--storage", url, "--out"])
                    .arg(&job.run_dir)
                    .output()
                    .map_err(|e| format!("{}: {e}", bin.display()))?;
                if !e.status.success() {
                    return Err(format!("export: {}", String::from_utf8_lossy(&e.stderr).trim()));
                }
            }
            return Ok(());
        }
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error"))
            .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("no message")
            .to_string();
        Err(format!("{line} ({}; log: {})", out.status, job.log.display()))
    })();
    Outcome { job, seconds: start.elapsed().as_secs_f64(), result }
}

fn bar(done: usize, total: usize) -> String {
    let width = 20;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    format!("{}{}", "#".repeat(filled), "-".repeat(width - filled))
}

/// The target directory cargo builds into: `CARGO_TARGET_DIR` (relative to the current directory)
/// or `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => std::path::absolute(PathBuf::from(&d)).unwrap_or_else(|_| PathBuf::from(d)),
        None => root.join("target"),
    }
}

/// Builds `mlpnas` with `cargo build -p mlpnas-cli` in `profile`; returns its path.
fn build_binary(root: &Path, profile: Profile) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "mlpnas-cli", "--manifest-path"]).arg(root.join("Cargo.toml"));
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    let name = if profile == Profile::Release { "release" } else { "dev" };
    eprintln!("compare: building mlpnas ({name} profile)");
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p mlpnas-cli failed ({status})");
    }
    let dir = if profile == Profile::Release { "release" } else { "debug" };
    let bin = target_dir(root).join(dir).join(format!("mlpnas{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!("{}: not found after cargo build", bin.display());
    }
    Ok(bin)
}

/// Refuses a DIR whose earlier runs used other shared options; records them otherwise.
fn check_shared(out: &Path, shared: &SharedOptions) -> Result<()> {
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

/// The runs of a comparison kept in a database.
struct Stored {
    url: String,
    /// Names and statuses of the runs the database holds already (resumed, not started again).
    existing: Vec<(String, String)>,
}

impl Stored {
    /// Asks `mlpnas runs` which runs exist (and so checks the URL before anything starts).
    fn new(bin: &Path, url: &str) -> Result<Self> {
        let out = Command::new(bin).args(["runs", "--json", "--storage", url]).output().context("mlpnas runs")?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("error: "));
        }
        let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).context("mlpnas runs --json")?;
        let existing = runs
            .iter()
            .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["status"].as_str()?.to_string())))
            .collect();
        Ok(Self { url: url.to_string(), existing })
    }

    /// A run's name: the output directory's name, data, config and seed.
    fn name(&self, plan: &Plan, j: &Job) -> String {
        let prefix = plan.out.file_name().map_or("compare".into(), |n| n.to_string_lossy().into_owned());
        format!("{prefix}/{}/{}/seed-{}", j.data, j.config, j.seed)
    }
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

/// Runs what is not finished yet; returns one line per failed run.
fn run_all(plan: &Plan, bin: &Path, jobs_at_once: usize, storage: Option<&Stored>) -> Vec<String> {
    let mut all = plan.jobs();
    let jobs_at_once = match storage {
        Some(st) => {
            for j in &mut all {
                let name = st.name(plan, j);
                let status = st.existing.iter().find(|(n, _)| *n == name).map(|(_, s)| s.clone());
                j.stored = Some((name, st.url.clone(), status));
            }
            // Every run is queued at once (up to 32, or --jobs if more: each coordinator holds
            // a database connection), so the workers serve the whole comparison.
            all.len().min(jobs_at_once.max(32))
        }
        None => jobs_at_once,
    };
    let total = all.len();
    let (done, todo): (Vec<Job>, Vec<Job>) = all.into_iter().partition(|j| is_finished(&j.run_dir));
    let resumes = todo
        .iter()
        .filter(|j| j.stored.as_ref().map_or(j.run_dir.join("journal.jsonl").exists(), |s| s.2.is_some()))
        .count();
    eprintln!(
        "compare: {total} runs ({} configs x {} data x {} seeds): {} finished earlier, {} to resume, {} to start; \
         {} at a time -> {}",
        plan.configs.len(),
        plan.data.len(),
        plan.seeds.len(),
        done.len(),
        resumes,
        todo.len() - resumes,
        jobs_at_once,
        plan.out.display()
    );
    let mut finished = done.len();
    let queue = Mutex::new(todo.into_iter().rev().collect::<Vec<_>>());
    let (tx, rx) = mpsc::channel::<Outcome>();
    let mut failures = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..jobs_at_once.max(1) {
            let tx = tx.clone();
            let queue = &queue;
            s.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(job) = next else { break };
                    if tx.send(run_one(bin, job, &plan.shared)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for o in rx {
            finished += 1;
            let head = format!("[{finished:>w$}/{total}] {}", bar(finished, total), w = total.to_string().len());
            match o.result {
                Ok(()) => {
                    let best = RunData::load(&o.job.run_dir, o.job.seed).ok().flatten();
                    let detail = best.as_ref().and_then(|r| best_trial(&r.trials).map(|b| (b.reward, r.trials.len())));
                    let detail = detail.map_or("no journal".into(), |(b, n)| format!("best {b:.4} in {n} trials"));
                    eprintln!("{head} ok    {}: {detail} ({:.1} s)", o.job.title(), o.seconds);
                }
                Err(e) => {
                    eprintln!("{head} FAIL  {}: {e}", o.job.title());
                    failures.push(format!("{}: {e}", o.job.title()));
                }
            }
        }
    });
    failures
}

/// Reads the runs of one data set, config by config.
fn collect(plan: &Plan, data: &str, warnings: &mut Vec<String>) -> Result<Vec<ConfigRuns>> {
    let mut out = Vec::new();
    for ConfigEntry { name, .. } in &plan.configs {
        let mut runs = Vec::new();
        for &seed in &plan.seeds {
            if let Some(r) = RunData::load(&plan.run_dir(data, name, seed), seed)? {
                warnings.extend(r.warnings.iter().cloned());
                runs.push(r);
            }
        }
        out.push(ConfigRuns { name: name.clone(), runs, planned: plan.seeds.len() });
    }
    Ok(out)
}

/// Aggregates what `plan.out` holds: tables, plots, `report.md`. Returns the comparison sentences.
pub fn aggregate(
    plan: &Plan,
    baseline: Option<&str>,
    s: CompareSettings,
    ctx: &mut ReportContext,
) -> Result<Vec<String>> {
    let names: Vec<String> = plan.configs.iter().map(|c| c.name.clone()).collect();
    let baseline = pick_baseline(&names, baseline)?;
    std::fs::create_dir_all(&plan.out).with_context(|| format!("{}", plan.out.display()))?;
    let mut reports = Vec::new();
    for (data, source) in &plan.data {
        let configs = collect(plan, data, &mut ctx.warnings)?;
        let mut files = Vec::new();
        let mut plot = |title: &str, stem: &str, f: &dyn Fn(&Path) -> Result<bool>| -> Result<()> {
            let file = format!("{stem}-{data}.svg");
            if f(&plan.out.join(&file))? {
                files.push((title.to_string(), file));
            }
            Ok(())
        };
        plot("Best reward so far against trial", "best-so-far", &|p| plots::best_so_far(p, &configs).map(|()| true))?;
        plot("Reward distribution", "rewards", &|p| plots::reward_distribution(p, &configs).map(|()| true))?;
        plot("Predicted against actual reward", "predicted", &|p| plots::predicted_vs_actual(p, &configs))?;
        plot("Time per trial", "time-per-trial", &|p| plots::time_per_trial(p, &configs).map(|()| true))?;
        ctx.plots.push((data.clone(), files));
        if let Source::Table(dir) = source {
            let r = crate::regret::for_table(data, dir, &configs, &baseline)?;
            let file = format!("regret-{data}.svg");
            plots::regret(&plan.out.join(&file), data, &r)?;
            if let Some((_, f)) = ctx.plots.last_mut() {
                f.insert(0, ("Regret against trial".to_string(), file));
            }
            ctx.regrets.push(r);
        }
        reports.push(DataReport::new(data, source.describe().as_deref(), &configs, &baseline, s));
    }
    write_tables(&plan.out, &reports, s)?;
    if !ctx.regrets.is_empty() {
        let csv = plan.out.join("regret.csv");
        std::fs::write(&csv, crate::regret::csv(&ctx.regrets)).with_context(|| format!("{}", csv.display()))?;
    }
    let md = plan.out.join("report.md");
    std::fs::write(&md, markdown(&reports, ctx, s)).with_context(|| format!("{}", md.display()))?;
    let multi = reports.len() > 1;
    Ok(reports
        .iter()
        .flat_map(|r| {
            r.comparisons
                .iter()
                .map(move |c| if multi { format!("[{}] {}", r.data, c.sentence()) } else { c.sentence() })
        })
        .collect())
}

/// `cargo xtask compare`.
pub fn compare(a: CompareArgs) -> Result<()> {
    let root = workspace_root();
    let plan = Plan::new(&a, &root)?;
    let settings = CompareSettings { resamples: a.resamples, seed: a.bootstrap_seed, ..CompareSettings::default() };
    let mut ctx = ReportContext {
        command: std::iter::once("cargo xtask".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        seeds: plan.seeds.clone(),
        ..ReportContext::default()
    };
    if !a.aggregate_only {
        check_shared(&plan.out, &plan.shared)?;
        let bin = match &a.mlpnas {
            Some(p) if p.is_file() => std::path::absolute(p)?,
            Some(p) => bail!("--mlpnas {}: no such file", p.display()),
            None => build_binary(&root, a.profile)?,
        };
        ctx.failures = match &a.storage {
            None => run_all(&plan, &bin, a.jobs, None),
            Some(url) => {
                let stored = Stored::new(&bin, url)?;
                let workers = (0..a.local_workers)
                    .map(|_| {
                        Command::new(&bin)
                            .args(["worker", "--quiet", "--storage", url])
                            .stdout(std::process::Stdio::null())
                            .spawn()
                            .context("starting mlpnas worker")
                    })
                    .collect::<Result<Vec<_>>>()?;
                let failures = run_all(&plan, &bin, a.jobs, Some(&stored));
                for mut w in workers {
                    let _ = w.kill();
                    let _ = w.wait();
                }
                failures
            }
        };
    }
    let sentences = aggregate(&plan, a.baseline.as_deref(), settings, &mut ctx)?;
    for w in &ctx.warnings {
        eprintln!("warning: {w}");
    }
    for s in &sentences {
        println!("{s}");
    }
    println!("report: {}", plan.out.join("report.md").display());
    if !ctx.failures.is_empty() {
        bail!("{} of {} runs failed (listed in the report)", ctx.failures.len(), plan.jobs().len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tests::{tmp, write_run};

    #[test]
    fn data_names() {
        assert_eq!(data_name("builtin:iris"), "iris");
        assert_eq!(data_name("../shared/data/wine-quality.csv"), "wine-quality");
        assert_eq!(data_name("x.npy:y.npy"), "x");
        assert_eq!(data_name("a b.csv"), "a-b");
    }

    fn args(configs: &[&Path]) -> CompareArgs {
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
        let err = Plan::new(&args(&[&cfg.join("random.toml"), &cfg.join("random.toml")]), &d).expect_err("dup");
        assert!(err.to_string().contains("also named \"random\""), "{err}");
        let err = Plan::new(&args(&[&cfg.join("nope.toml")]), &d).expect_err("missing");
        assert!(err.to_string().contains("no such config file"), "{err}");
    }

    #[test]
    fn the_tables_preset_runs_table_configs_on_every_table() {
        let d = tmp("tables-preset");
        let cfg = d.join("configs/tables");
        std::fs::create_dir_all(&cfg).expect("dir");
        for n in ["random.toml", "evolution.toml", "reinforce.toml"] {
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
        assert_eq!(names, ["random", "evolution", "reinforce"]);
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

    #[test]
    fn resume_or_start_and_the_arguments_passed() {
        let d = tmp("job-args");
        let job = Job {
            data: "iris".into(),
            source: Source::Data("builtin:iris".into()),
            config: "random".into(),
            config_path: d.join("random.toml"),
            seed: 2,
            run_dir: d.join("run"),
            log: d.join("log"),
            stored: None,
        };
        let shared = SharedOptions {
            label: Some("y".into()),
            drop: Some("#0,q".into()),
            sets: vec!["a.b=1".into()],
            data_sets: vec!["trainer.epochs=2".into()],
        };
        let a = job.args(&shared).join(" ");
        assert!(a.starts_with("search --config "), "{a}");
        assert!(a.contains("--seed 2 --out ") && a.contains("--quiet --data builtin:iris"), "{a}");
        assert!(a.ends_with("--label y --drop #0,q --set a.b=1 --set trainer.epochs=2"), "{a}");
        // On a table: its paths instead of --data, and no data-only options.
        let on_table = Job { source: Source::Table(d.join("t")), run_dir: d.join("t-run"), ..job.clone() };
        let t = on_table.args(&shared).join(" ");
        let path = format!("{:?}", d.join("t").to_string_lossy());
        assert!(t.contains(&format!("--set space.path={path} --set trainer.path={path}")), "{t}");
        assert!(t.ends_with("--set a.b=1") && !t.contains("--data") && !t.contains("--label"), "{t}");
        write_run(&job.run_dir, &[0.5], None);
        assert_eq!(job.args(&shared), ["search", "--resume", &job.run_dir.to_string_lossy(), "--quiet"]);
        // In a database: started with a name, or resumed by it, coordinating only.
        let url = "postgresql://u@h/db".to_string();
        let fresh = Job { stored: Some(("c/iris/random/seed-2".into(), url.clone(), None)), ..job.clone() };
        let a = fresh.args(&shared).join(" ");
        assert!(a.contains("--name c/iris/random/seed-2 --storage postgresql://u@h/db --threads 0"), "{a}");
        assert!(!a.contains("--out") && a.ends_with("--set trainer.epochs=2"), "{a}");
        let again = Job { stored: Some(("c/iris/random/seed-2".into(), url, Some("interrupted".into()))), ..job };
        assert_eq!(
            again.args(&shared).join(" "),
            "search --resume c/iris/random/seed-2 --storage postgresql://u@h/db --threads 0 --quiet"
        );
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

    #[test]
    fn aggregate_only_writes_the_report_from_synthetic_runs() {
        let d = tmp("aggregate");
        let cfg = d.join("configs");
        std::fs::create_dir_all(&cfg).expect("dir");
        for n in ["random.toml", "better.toml"] {
            std::fs::write(cfg.join(n), "").expect("write");
        }
        let mut a = args(&[&cfg.join("better.toml"), &cfg.join("random.toml")]);
        a.out = Some(d.join("out"));
        let plan = Plan::new(&a, &d).expect("plan");
        for seed in 0..3u64 {
            let s = seed as f64 * 0.01;
            write_run(&plan.run_dir("default", "random", seed), &[0.5 + s, 0.6 + s, 0.55], Some(1.0));
            // Seed 2 of "better" crashed after two trials: unfinished, still counted.
            let better = if seed == 2 { vec![0.6 + s, 0.7 + s] } else { vec![0.6 + s, 0.7 + s, 0.65] };
            write_run(&plan.run_dir("default", "better", seed), &better, (seed != 2).then_some(1.5));
        }
        let mut ctx = ReportContext::default();
        let sentences = aggregate(&plan, None, CompareSettings::default(), &mut ctx).expect("aggregate");
        assert_eq!(sentences.len(), 1);
        assert!(sentences[0].starts_with("better beats random on 3/3 seeds, mean +0.1000"), "{}", sentences[0]);
        let report = std::fs::read_to_string(d.join("out/report.md")).expect("report");
        assert!(report.contains("| better | 3/3 (2) |"), "{report}");
        assert!(report.contains("(unfinished)"));
        assert!(report.contains("![Best reward so far against trial](best-so-far-default.svg)"));
        assert!(!report.contains("predicted-default.svg"), "no predictor, no plot");
        for f in ["summary.csv", "runs.csv", "summary.json", "best-so-far-default.svg", "rewards-default.svg"] {
            assert!(d.join("out").join(f).exists(), "{f}");
        }
    }
}
