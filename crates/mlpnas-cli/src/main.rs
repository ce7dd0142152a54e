//! `mlpnas`: the command-line interface.
//!
//! * `mlpnas search --config FILE [--data SPEC] [--label COL] [--drop COL,..] [--seed N] [--out DIR] [--set k=v ..]`
//! * `mlpnas search --resume DIR [--set search.controller_epochs=N ..]`
//! * `mlpnas search --config FILE --storage postgresql://... [--name NAME] [--threads N]` (and
//!   `--resume NAME --storage URL`): the run lives in PostgreSQL, workers anywhere train it
//! * `mlpnas tabulate --config FILE --seeds K --out DIR [--threads N] [--storage URL [--run NAME]]`
//!   (continued without --config): a benchmark table of the config's space
//! * `mlpnas worker --storage URL [--threads N] [--runs NAME,..] [--exit-when-idle SECS]`
//! * `mlpnas runs --storage URL [--json]`, `mlpnas export NAME --storage URL --out DIR`
//! * `mlpnas eval --arch "64:relu,dropout,32:elu" [--config FILE] [--data SPEC] .. [--json]`
//! * `mlpnas space [--config FILE] [--set k=v ..]`
//! * `mlpnas report DIR [--top N] [--json]` (`report NAME --storage URL`)
//! * `mlpnas finalize DIR|NAME [--storage URL] [--top K] [--epochs E] [--patience P] [--from-scratch|--from-shared] [--out DIR]`
//! * `mlpnas predict MODEL_DIR --data FILE.csv [--out preds.csv] [--proba]`
//!
//! Errors print one line (`error: FILE: problem`) and exit with status 1; usage errors exit 2.

mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use mlpnas_core::RunStorage;
use mlpnas_data::DataSpec;
use mlpnas_search::{
    CheckedConfig, Observer, RESUMABLE_CHANGES, Run, RunDir, Search, SearchConfig, evaluate, prepare_data, top_n,
};

/// mimalloc instead of glibc's malloc: Burn's per-step buffers made glibc churn mmap/munmap
/// (BENCHMARKS.md, "allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Neural architecture search for multilayer perceptrons.
#[derive(Debug, Parser)]
#[command(name = "mlpnas", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Errors and warnings only on stderr (every command).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More on stderr: a line per trial in a search without a terminal (every command).
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an architecture search and print the best architectures.
    Search(SearchArgs),
    /// Train one architecture and print its metrics.
    Eval(EvalArgs),
    /// Train every configuration of a config's space with several seeds and write a benchmark
    /// table (table.toml, table.csv, epochs.csv); continues a killed or shorter tabulation.
    Tabulate(TabulateArgs),
    /// Print the vocabulary of the search space.
    Space {
        /// Config whose [space] section to use (default space otherwise).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override any config value: `--set space.max_len=4` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Print the best trials of a run directory (or of a run in --storage).
    Report {
        /// Run directory (holding journal.jsonl), or the run's name with --storage.
        dir: PathBuf,
        /// The PostgreSQL database holding the run: postgresql://user@host:port/database.
        #[arg(long, value_name = "URL")]
        storage: Option<String>,
        /// How many to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Retrain the best architectures of a run with early stopping, test and export them.
    Finalize(FinalizeArgs),
    /// Train queued trials of runs in a PostgreSQL storage (run it on any number of machines).
    Worker(WorkerArgs),
    /// Copy a run in a PostgreSQL storage into a run directory (config, journal, controller
    /// epochs, summary) for tools that read files; the copy is for reading, not resuming.
    Export {
        /// The run's name.
        name: String,
        /// The database: postgresql://user@host:port/database.
        #[arg(long, value_name = "URL")]
        storage: String,
        /// The run directory to write; must not hold a run.
        #[arg(long)]
        out: PathBuf,
    },
    /// List the runs in a PostgreSQL storage: name, status, trials, best, workers seen.
    Runs {
        /// The database: postgresql://user@host:port/database.
        #[arg(long, value_name = "URL")]
        storage: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve a live, read-only web dashboard of runs: run directories (or directories holding
    /// them) and/or the runs of a PostgreSQL storage.
    Dashboard(DashboardArgs),
    /// Predict labels (and probabilities) with a model exported by `finalize`.
    Predict(PredictArgs),
    /// Print a shell completion script: `mlpnas completions bash > ~/.local/share/bash-completion/completions/mlpnas`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `mlpnas man > ~/.local/share/man/man1/mlpnas.1`.
    Man,
}

#[derive(Debug, Args)]
struct FinalizeArgs {
    /// Run directory of a search (or the run's name with --storage).
    dir: PathBuf,
    /// The PostgreSQL database holding the run (its data is loaded again from the run's data
    /// source, which must be readable here).
    #[arg(long, value_name = "URL")]
    storage: Option<String>,
    /// How many of the best architectures to retrain.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Epochs at most.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Stop after this many epochs without a lower validation loss (the best epoch's weights are kept).
    #[arg(long, default_value_t = 10)]
    patience: usize,
    /// Start from fresh weights (the default).
    #[arg(long, conflicts_with = "from_shared")]
    from_scratch: bool,
    /// Start from the run's shared weights where its store holds them.
    #[arg(long)]
    from_shared: bool,
    /// Test share taken out of the training rows when the run's split has no test part.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Output directory (default: DIR/final, or NAME-final with --storage); must not exist.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Retrain on this backend instead of the run's `trainer.backend` (flex, ndarray, and with
    /// the `tch` feature tch-cpu, tch-cuda:N).
    #[arg(long)]
    backend: Option<String>,
}

#[derive(Debug, Args)]
struct DashboardArgs {
    /// Run directories, or directories holding run directories (searched four levels deep;
    /// runs started later appear too). Default: `runs` when no --storage is given.
    dirs: Vec<PathBuf>,
    /// Also every run in this PostgreSQL database: postgresql://user@host:port/database.
    #[arg(long, value_name = "URL")]
    storage: Option<String>,
    /// Address to listen on; anything but a loopback address exposes your runs to the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// The database: postgresql://user@host:port/database (password from the URL, PGPASSWORD
    /// or ~/.pgpass).
    #[arg(long, value_name = "URL")]
    storage: String,
    /// Trials trained at once by this worker.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Only trials of these runs (comma-separated names; default: every run).
    #[arg(long, value_delimiter = ',', value_name = "NAME,..")]
    runs: Option<Vec<String>>,
    /// Exit after this many seconds without a trial to train (default: run until stopped).
    #[arg(long, value_name = "SECS")]
    exit_when_idle: Option<f64>,
    /// Seconds a claimed trial stays this worker's without a heartbeat (renewed every third of
    /// it); after that another worker trains it again.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    lease: f64,
}

#[derive(Debug, Args)]
struct PredictArgs {
    /// Model directory written by `finalize` (e.g. runs/x/final/model-1).
    model: PathBuf,
    /// Rows to predict: a CSV file with a header (columns matched by name), `builtin:NAME`,
    /// `X.npy:Y.npy` (labels for an accuracy), or `X.npy` alone (features by position).
    #[arg(long)]
    data: mlpnas_data::PredictSource,
    /// Write the predictions to this CSV file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Add one probability column per class.
    #[arg(long)]
    proba: bool,
    /// Predict on this backend instead of the one the model was trained on (flex, ndarray, and
    /// with the `tch` feature tch-cpu, tch-cuda:N).
    #[arg(long)]
    backend: Option<String>,
}

/// Options shared by `search` and `eval` that override the config.
#[derive(Debug, Args)]
struct DataArgs {
    /// Data: `builtin:NAME` (iris, winequality-red, digits, breast-cancer), `FILE.csv`, or `X.npy:Y.npy`.
    #[arg(long)]
    data: Option<DataSpec>,
    /// Label column of a CSV (default: the last column).
    #[arg(long)]
    label: Option<String>,
    /// CSV columns to ignore, comma-separated (`#0` names the first column by position).
    #[arg(long, value_delimiter = ',')]
    drop: Option<Vec<String>>,
    /// Seed of every random stream.
    #[arg(long)]
    seed: Option<u64>,
    /// Override any config value: `--set search.controller_epochs=3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// Search config (TOML), e.g. configs/random.toml.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue the interrupted (or finished, with a larger budget) search in this run directory
    /// (or, with --storage, the run of this name).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Run directory (default: runs/<config name>-<UTC time>-s<seed>, with -2, -3, ... when taken).
    #[arg(long, conflicts_with = "storage")]
    out: Option<PathBuf>,
    /// Keep the run in this PostgreSQL database instead of a run directory, so that `mlpnas
    /// worker` processes on any machine train its trials: postgresql://user@host:port/database.
    #[arg(long, value_name = "URL")]
    storage: Option<String>,
    /// The run's name in --storage (default: <config name>-<UTC time>-s<seed>).
    #[arg(long, requires = "storage", conflicts_with = "resume")]
    name: Option<String>,
    /// Trials this process trains at once, for a run in --storage (default: search.batch; 0:
    /// only workers train). Results do not depend on it.
    #[arg(long, requires = "storage")]
    threads: Option<usize>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
struct TabulateArgs {
    /// Config (TOML) whose data, space and trainer to tabulate (one-shot sharing is turned off);
    /// omit it to continue the tabulation in --out.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seeds per configuration (raise it later to add seeds to a finished table).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// Table directory: the table files, and the tabulation's run directory (`run/`).
    #[arg(long)]
    out: PathBuf,
    /// Configurations this process trains at once (default: search.batch; with --storage, 0:
    /// only workers train). The table does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// The table's name (default: the --out directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Keep the tabulation's run in this PostgreSQL database instead of OUT/run, so that `mlpnas
    /// worker` processes on any machine train its rows; the table is still written to --out.
    #[arg(long, value_name = "URL")]
    storage: Option<String>,
    /// The run's name in --storage (default: tabulate-<the --out directory's name>).
    #[arg(long, value_name = "NAME", requires = "storage")]
    run: Option<String>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// Architecture, e.g. `64:relu,dropout,32:elu` (the output layer is added).
    #[arg(long)]
    arch: String,
    /// Config for the trainer and data settings (defaults otherwise).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// The config used when `eval` or `space` get none.
const DEFAULT_CONFIG: &str = r#"
[controller]
type = "random"
[trainer]
type = "burn"
[store]
type = "memory"
"#;

fn main() -> ExitCode {
    // A panic is a bug; still, print one line rather than a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        // The reader of our output went away (`mlpnas report ... | head -1`): nothing is wrong,
        // stop quietly as Unix tools do (std's print macros panic on EPIPE).
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: internal error{loc}: {}", msg.replace('\n', " "));
    }));
    mlpnas_link::link_all();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the message already holds.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg.replace('\n', " ")
}

fn run(cli: Cli) -> Result<()> {
    let v = match (cli.quiet, cli.verbose) {
        (true, _) => output::Verbosity::Quiet,
        (_, true) => output::Verbosity::Verbose,
        _ => output::Verbosity::Normal,
    };
    match cli.command {
        Command::Search(a) => search(a, v),
        Command::Eval(a) => eval(a),
        Command::Tabulate(a) => tabulate(a, v),
        Command::Space { config, set } => space(config.as_deref(), &set),
        Command::Report { dir, storage, top, json } => report(&dir, storage.as_deref(), top, json, v),
        Command::Finalize(a) => finalize(a, v),
        Command::Worker(a) => worker(a, v),
        Command::Runs { storage, json } => runs(&storage, json),
        Command::Export { name, storage, out } => export(&name, &storage, &out, v),
        Command::Predict(a) => predict(a, v),
        Command::Dashboard(a) => dashboard(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "mlpnas", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).context("writing the man page")?;
            Ok(())
        }
    }
}

/// Loads `path` (or the default config) with `--set` applied, sets the typed command-line
/// options on it, and checks it once.
fn load_config(path: Option<&Path>, d: &DataArgs) -> Result<CheckedConfig> {
    let mut cfg = match path {
        Some(p) => SearchConfig::load(p, &d.set)?,
        None => SearchConfig::from_toml(DEFAULT_CONFIG, "default config", Path::new(""), &d.set)?,
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

fn search(a: SearchArgs, verbosity: output::Verbosity) -> Result<()> {
    // A resumed run is taken (locked) before anything else: a second writer is refused at once.
    // A new run is created only once its config and data are good, so that a mistake leaves no
    // run directory behind.
    let (run, data, run_dir) = match (&a.resume, &a.config) {
        (Some(dir), _) => {
            let d = &a.data;
            if d.data.is_some() || d.label.is_some() || d.drop.is_some() || d.seed.is_some() {
                bail!(
                    "--resume continues {} with its own config; only --set {} may change",
                    dir.display(),
                    RESUMABLE_CHANGES.join("=.., ")
                );
            }
            let storage = run_storage(a.storage.as_deref(), dir)?;
            let run = Run::resume(storage, &d.set)?;
            let data = prepare_data(run.config())?;
            (run, data, dir.clone())
        }
        (None, Some(config)) => {
            let cfg = load_config(Some(config), &a.data)?;
            if let Some(d) = &a.out {
                let journal = d.join(mlpnas_search::rundir::JOURNAL);
                if journal.exists() {
                    bail!(
                        "{}: this run directory already holds a search; choose another --out, or continue it with --resume",
                        journal.display()
                    );
                }
            }
            let data = prepare_data(&cfg)?;
            let stem = config.file_stem().map_or("search".into(), |s| s.to_string_lossy().into_owned());
            let default_name = format!("{stem}-{}-s{}", output::utc_stamp(), cfg.seed);
            let run_dir = match (&a.out, &a.storage, &a.name) {
                (Some(d), _, _) => d.clone(),
                (None, Some(_), Some(n)) => PathBuf::from(n),
                (None, Some(_), None) => PathBuf::from(default_name),
                (None, None, _) => new_run_dir(&default_name)?,
            };
            let storage = run_storage(a.storage.as_deref(), &run_dir)?;
            (Run::create(storage, cfg)?, data, run_dir)
        }
        (None, None) => bail!("give --config FILE or --resume DIR"),
    };
    let cfg = run.config();
    let top = cfg.search.top;
    if verbosity > output::Verbosity::Quiet {
        eprintln!(
            "mlpnas: {} ({} train / {} valid rows, {} features, {} classes) -> {}",
            cfg.data.source,
            data.split.train.n_rows(),
            data.split.valid.n_rows(),
            data.split.train.n_features(),
            data.split.train.n_classes(),
            run.location()
        );
    }
    let location = run.location();
    let mut search = Search::new(run, &data)?;
    if let Some(t) = a.threads {
        search.set_threads(t)?;
    }
    let resume_hint = match &a.storage {
        Some(url) => format!("{} --storage {}", run_dir.display(), mlpnas_postgres::mask(url)),
        None => run_dir.display().to_string(),
    };
    on_interrupt(&location, &format!("mlpnas search --resume {resume_hint}"));
    let mut progress = output::Progress::new(verbosity);
    let summary = search.run(&mut progress)?;
    progress.finish();
    let best = summary.top(top);
    println!("{}", output::table(&best));
    if a.storage.is_some() {
        println!("{} trials in {:.1} s; {location}", summary.records.len(), summary.wall_seconds);
    } else {
        println!(
            "{} trials in {:.1} s; journal: {}",
            summary.records.len(),
            summary.wall_seconds,
            Path::new(&summary.location).join("journal.jsonl").display()
        );
    }
    Ok(())
}

fn tabulate(mut a: TabulateArgs, verbosity: output::Verbosity) -> Result<()> {
    use mlpnas_search::tabulate::{RUN_DIR, tabulate};
    // The run: OUT/run, or a run in --storage (named by --run, by default after OUT).
    let (storage, run_name, resume_hint) = match &a.storage {
        None => {
            let dir = a.out.join(RUN_DIR);
            let hint = format!("mlpnas tabulate --out {} --seeds {}", a.out.display(), a.seeds);
            (run_storage(None, &dir)?, dir.display().to_string(), hint)
        }
        Some(url) => {
            let name = a.run.clone().unwrap_or_else(|| format!("tabulate-{}", dir_name(&a.out)));
            let hint = format!(
                "mlpnas tabulate --out {} --seeds {} --storage {} --run {name}",
                a.out.display(),
                a.seeds,
                mlpnas_postgres::mask(url)
            );
            (run_storage(Some(url), Path::new(&name))?, name, hint)
        }
    };
    let existing = storage.exists()?;
    let (run, name) = match (&a.config, existing) {
        (Some(_), true) => bail!(
            "{run_name}: already holds a tabulation; continue it without --config ({resume_hint}), or choose another --out{}",
            if a.storage.is_some() { " or --run" } else { "" }
        ),
        (None, false) => bail!("{run_name}: holds no tabulation to continue; give --config FILE"),
        (None, true) => {
            let d = &a.data;
            if d.data.is_some() || d.label.is_some() || d.drop.is_some() || d.seed.is_some() || !d.set.is_empty() {
                bail!("{run_name}: a tabulation continues with its own config; only --seeds and --threads may change");
            }
            let run = Run::resume(storage, &[])?;
            (run, table_name(&a))
        }
        (Some(config), false) => {
            // Every configuration is trained from scratch: no weight sharing.
            a.data.set.push("search.one_shot=false".into());
            let cfg = load_config(Some(config), &a.data)?;
            // Bad data is reported before anything is written.
            prepare_data(&cfg)?;
            (Run::create(storage, cfg)?, table_name(&a))
        }
    };
    let data = prepare_data(run.config())?;
    let threads = a.threads.unwrap_or(run.config().search.batch);
    if verbosity > output::Verbosity::Quiet {
        eprintln!(
            "mlpnas: tabulating {} ({} train / {} valid rows) with {} seed(s) on {threads} thread(s){} -> {}",
            run.config().data.source,
            data.split.train.n_rows(),
            data.split.valid.n_rows(),
            a.seeds,
            if a.storage.is_some() { " and workers" } else { "" },
            a.out.display()
        );
    }
    on_interrupt(&run.location(), &resume_hint);
    let mut progress = output::Progress::new(verbosity);
    let done = tabulate(run, &data, a.seeds, threads, &a.out, &name, &mut progress)?;
    progress.finish();
    println!(
        "{} configurations x {} seeds = {} rows in {:.1} s; table: {}",
        done.configurations,
        done.rows / done.configurations.max(1),
        done.rows,
        done.seconds,
        done.out.display()
    );
    Ok(())
}

/// The last component of `dir` (made absolute first: `.` has a name too).
fn dir_name(dir: &Path) -> String {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name().map_or("table".into(), |s| s.to_string_lossy().into_owned())
}

/// The table's name: --name, or the table directory's name.
fn table_name(a: &TabulateArgs) -> String {
    a.name.clone().unwrap_or_else(|| dir_name(&a.out))
}

/// The run's storage: the run directory `dir`, or the run named `dir` in the PostgreSQL
/// database at `url`.
fn run_storage(url: Option<&str>, dir: &Path) -> Result<Box<dyn RunStorage>> {
    match url {
        None => Ok(Box::new(RunDir::new(dir))),
        Some(url) => {
            let name = run_name(dir)?;
            Ok(Box::new(mlpnas_postgres::open(url)?.run(&name)))
        }
    }
}

/// A run name given where a directory could be (`--resume NAME`, `report NAME`).
fn run_name(given: &Path) -> Result<String> {
    let name = given.to_string_lossy().into_owned();
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 200 {
        bail!("{name:?}: not a run name (1 to 200 printable characters)");
    }
    Ok(name)
}

fn worker(a: WorkerArgs, verbosity: output::Verbosity) -> Result<()> {
    if a.threads == 0 {
        bail!("--threads: a worker needs at least one thread");
    }
    if !(a.lease.is_finite() && a.lease >= 0.3) {
        bail!("--lease: {} is not a lease (seconds, at least 0.3)", a.lease);
    }
    let idle = match a.exit_when_idle {
        Some(s) if !(s.is_finite() && s >= 0.0) => bail!("--exit-when-idle: {s} is not a number of seconds"),
        s => s.map(std::time::Duration::from_secs_f64),
    };
    let db = mlpnas_postgres::open_worker(&a.storage)?;
    let mut backends: Vec<String> = mlpnas_backend::Backend::compiled().iter().map(ToString::to_string).collect();
    if mlpnas_backend::Backend::HAS_LIBTORCH {
        backends.extend(
            (0..16).map(|i| format!("tch-cuda:{i}")).filter(|b| mlpnas_backend::Backend::parse_available(b).is_ok()),
        );
    }
    // Trials of a trainer without a backend (a benchmark table's lookups).
    backends.push(mlpnas_search::worker::ANY_BACKEND.to_string());
    let opts = mlpnas_search::WorkerOptions {
        threads: a.threads,
        runs: a.runs.clone(),
        exit_when_idle: idle,
        lease: std::time::Duration::from_secs_f64(a.lease),
        backends: backends.clone(),
    };
    if verbosity > output::Verbosity::Quiet {
        eprintln!(
            "mlpnas worker: {} thread(s) on {} ({}), runs: {}",
            a.threads,
            db.shown(),
            backends.join(", "),
            a.runs.as_ref().map_or("all".into(), |r| r.join(", "))
        );
    }
    let queue = db.queue();
    let verbose = verbosity == output::Verbosity::Verbose;
    let n = mlpnas_search::work(&queue, &opts, &|line: &str| {
        if verbose || line.contains("refused") || line.contains("skipping") {
            eprintln!("{line}");
        }
    })?;
    if verbosity > output::Verbosity::Quiet {
        eprintln!("mlpnas worker: idle, exiting after {n} trial(s)");
    }
    Ok(())
}

fn export(name: &str, url: &str, out: &Path, verbosity: output::Verbosity) -> Result<()> {
    let from = run_storage(Some(url), Path::new(name))?;
    if !from.exists()? {
        bail!("{}: no such run (mlpnas runs --storage URL lists them)", from.location());
    }
    // Written through the run directory's own storage, like a search writes it.
    let mut to = RunDir::new(out);
    if to.exists()? {
        bail!("{}: already holds a run; choose another --out", out.display());
    }
    to.lock()?;
    to.create(&from.read_config()?)?;
    let log = from.read_trials()?;
    for r in &log.records {
        to.append_trial(r, None)?;
    }
    for e in from.read_epochs()? {
        to.append_epoch(&e)?;
    }
    if let Some(s) = from.read_summary()? {
        to.write_summary(&s)?;
    }
    if verbosity > output::Verbosity::Quiet {
        eprintln!("{} trials of {} -> {}", log.records.len(), from.location(), out.display());
    }
    Ok(())
}

fn runs(url: &str, json: bool) -> Result<()> {
    let db = mlpnas_postgres::open(url)?;
    let list = mlpnas_postgres::list_runs(&db)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!("{:<32} {:<11} {:>6} {:>7} {:>7}  best architecture", "run", "status", "trials", "best", "workers");
    for r in &list {
        println!(
            "{:<32} {:<11} {:>6} {:>7} {:>7}  {}",
            r.name,
            r.status,
            r.trials,
            r.best.map_or("-".into(), |b| format!("{b:.4}")),
            r.workers,
            r.best_architecture.as_deref().unwrap_or("-")
        );
    }
    println!("{} run(s) in {}", list.len(), db.shown());
    Ok(())
}

fn dashboard(a: DashboardArgs) -> Result<()> {
    let mut dirs = a.dirs;
    if dirs.is_empty() && a.storage.is_none() {
        dirs.push(PathBuf::from("runs"));
    }
    let mut sources: Vec<Box<dyn mlpnas_dashboard::RunSource>> = Vec::new();
    for d in &dirs {
        sources.push(Box::new(mlpnas_dashboard::DirSource::new(d)?));
    }
    if let Some(url) = &a.storage {
        sources.push(Box::new(PgSource(mlpnas_postgres::open(url)?)));
    }
    let shown: Vec<String> = sources.iter().map(|s| s.describe()).collect();
    let opts = mlpnas_dashboard::Options { host: a.host, port: a.port, ..Default::default() };
    mlpnas_dashboard::serve(sources, &opts, |addr, shared| {
        let host = if addr.ip().is_unspecified() { "localhost".to_string() } else { addr.ip().to_string() };
        let host = if addr.is_ipv6() && !addr.ip().is_unspecified() { format!("[{host}]") } else { host };
        println!("dashboard: http://{host}:{}/", addr.port());
        println!("{} run(s) from {}; read-only; Ctrl-C stops it", shared.runs().len(), shown.join(", "));
        for e in shared.source_errors() {
            eprintln!("warning: {e}");
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })?;
    Ok(())
}

/// The runs of a PostgreSQL storage, for the dashboard.
struct PgSource(mlpnas_postgres::Database);

impl mlpnas_dashboard::RunSource for PgSource {
    fn describe(&self) -> String {
        self.0.shown().to_string()
    }

    fn runs(&mut self) -> Result<mlpnas_dashboard::FoundRuns, String> {
        let list = mlpnas_postgres::list_runs(&self.0).map_err(|e| e.to_string())?;
        Ok(list.into_iter().map(|r| (r.name.clone(), Box::new(self.0.run(&r.name)) as Box<dyn RunStorage>)).collect())
    }
}

/// A new directory `runs/NAME`, or `runs/NAME-2`, `-3`, ... when taken: created atomically, so
/// that searches started in the same second (a seed loop, parallel jobs) never share one.
fn new_run_dir(name: &str) -> Result<PathBuf> {
    let root = PathBuf::from("runs");
    std::fs::create_dir_all(&root).with_context(|| root.display().to_string())?;
    for n in 1..10_000 {
        let dir = if n == 1 { root.join(name) } else { root.join(format!("{name}-{n}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!("{}: cannot create the run directory: {e}", dir.display()),
        }
    }
    bail!("{}: no free run directory name left for {name}", root.display())
}

/// Ctrl-C (or SIGTERM) ends the search at once: the trial in flight is abandoned, every finished
/// trial is already durable in the run directory, and the message says how to continue. Exiting
/// from any point is safe by design (the same as a crash; see `Search`).
#[cfg(unix)]
fn on_interrupt(kept: &str, resume: &str) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let (kept, resume) = (kept.to_string(), resume.to_string());
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    eprintln!(
                        "\ninterrupted: the trial in flight is abandoned, finished trials are kept in {kept}; continue with: {resume}"
                    );
                    std::process::exit(128 + sig);
                }
            });
        }
        Err(e) => eprintln!("warning: cannot catch Ctrl-C ({e}); an interrupted search can still be resumed"),
    }
}

#[cfg(not(unix))]
fn on_interrupt(_kept: &str, _resume: &str) {}

/// Ctrl-C (or SIGTERM) during finalize: the models trained so far live only in its temporary
/// directory, which is removed; the message says that nothing was written to `out`.
#[cfg(unix)]
fn on_finalize_interrupt(tmp: PathBuf, out: PathBuf) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = std::fs::remove_dir_all(&tmp);
                eprintln!(
                    "\ninterrupted: finalize stopped, nothing was written to {}; run it again to finalize",
                    out.display()
                );
                std::process::exit(128 + sig);
            }
        });
    }
}

#[cfg(not(unix))]
fn on_finalize_interrupt(_tmp: PathBuf, _out: PathBuf) {}

fn eval(a: EvalArgs) -> Result<()> {
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
        println!("{v}");
    } else {
        println!("data          {source}");
        println!("architecture  {arch}");
        println!("parameters    {}", arch.param_count());
        println!("epoch  train_loss  val_loss  val_acc");
        for (i, e) in outcome.epochs.iter().enumerate() {
            println!("{:>5}  {:>10.4}  {:>8.4}  {:>7.4}", i + 1, e.train_loss, e.val_loss, e.val_acc);
        }
        if outcome.diverged {
            println!("diverged (loss became NaN or infinite)");
        }
        println!(
            "reward {:.4} (epoch-weighted val accuracy), last val accuracy {:.4}, {seconds:.2} s",
            outcome.reward(),
            outcome.val_acc_last()
        );
    }
    Ok(())
}

fn space(config: Option<&Path>, set: &[String]) -> Result<()> {
    let cfg = match config {
        Some(p) => SearchConfig::load(p, set)?,
        None => SearchConfig::from_toml(DEFAULT_CONFIG, "default config", Path::new(""), set)?,
    }
    .check()?;
    let space = cfg.space.build().map_err(|e| anyhow::anyhow!("{}: {}", cfg.origin, e.within("space")))?;
    println!("{:>4}  token", "id");
    for id in 1..space.vocab_size() as u32 {
        let text = match space.as_mlp() {
            Some(m) => m.token(id).map(|t| output::token_text(t, m.dropout_rate())),
            None => space.token_text(id),
        };
        if let Some(text) = text {
            println!("{id:>4}  {text}");
        }
    }
    match space.as_mlp() {
        Some(_) => {
            println!("max length {} (output layer included); {} valid architectures", space.max_len(), space.size())
        }
        None => println!("{} dimensions; {} configurations", space.max_len(), space.size()),
    }
    Ok(())
}

fn report(dir: &Path, url: Option<&str>, top: usize, json: bool, verbosity: output::Verbosity) -> Result<()> {
    // Read-only: no lock, so a report works while the search writes.
    let storage = run_storage(url, dir)?;
    if url.is_some() && !storage.exists()? {
        bail!("{}: no such run (mlpnas runs --storage URL lists them)", storage.location());
    }
    let log = storage.read_trials()?;
    if verbosity == output::Verbosity::Verbose {
        match storage.read_summary()? {
            Some(s) => eprintln!("finished: {} trials in {:.1} s", s.trials, s.wall_seconds),
            None => eprintln!("not finished: running now, or interrupted (continue it with --resume)"),
        }
    }
    let (records, warnings) = (log.records, log.warnings);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let best = top_n(&records, top);
    if json {
        println!("{}", serde_json::to_string_pretty(&best)?);
    } else {
        println!("{}", output::table(&best));
        println!("{} trials", records.len());
    }
    Ok(())
}

fn finalize(a: FinalizeArgs, verbosity: output::Verbosity) -> Result<()> {
    let opts = mlpnas_final::FinalizeOptions {
        top: a.top,
        max_epochs: a.epochs,
        patience: a.patience,
        init: if a.from_shared { mlpnas_final::Init::Shared } else { mlpnas_final::Init::Scratch },
        test_fraction: a.test_fraction,
        out: a.out.clone(),
        backend: a.backend,
    };
    let quiet = verbosity == output::Verbosity::Quiet;
    let out = match (&a.out, &a.storage) {
        (Some(o), _) => o.clone(),
        (None, None) => a.dir.join("final"),
        (None, Some(_)) => PathBuf::from(format!("{}-final", run_name(&a.dir)?)),
    };
    on_finalize_interrupt(mlpnas_final::temporary_dir(&out), out.clone());
    let mut progress = |line: &str| {
        if !quiet || line.starts_with("warning") {
            eprintln!("{line}");
        }
    };
    let board = match &a.storage {
        None => mlpnas_final::finalize(&a.dir, &opts, &mut progress)?,
        Some(url) => mlpnas_final::finalize_run(run_storage(Some(url), &a.dir)?, &out, &opts, &mut progress)?,
    };
    println!("{}", board.to_markdown());
    println!("models and leaderboard: {}", board.dir.display());
    if let Some(best) = board.entries.first() {
        println!(
            "predict with: mlpnas predict {} --data FILE.csv   (model-1: the best by validation accuracy)",
            board.dir.join(&best.model_dir).display()
        );
    }
    Ok(())
}

fn predict(a: PredictArgs, verbosity: output::Verbosity) -> Result<()> {
    let quiet = verbosity == output::Verbosity::Quiet;
    let predictor = mlpnas_final::Predictor::load_on(&a.model, a.backend.as_deref())?;
    let cwd = std::env::current_dir().context("current directory")?;
    let p = predictor.predict_source(&a.data, &cwd)?;
    let names = &predictor.card().class_names;
    let mut out = String::new();
    out.push_str("prediction");
    if a.proba {
        for n in names {
            out.push(',');
            out.push_str(&csv_field(&format!("p_{n}")));
        }
    }
    out.push('\n');
    for (i, &c) in p.classes.iter().enumerate() {
        out.push_str(&csv_field(&names[c]));
        if a.proba {
            for v in &p.proba[i * p.n_classes..(i + 1) * p.n_classes] {
                out.push(',');
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    match &a.out {
        Some(path) => {
            // Written whole or not at all; an error names the file asked for, not the temporary.
            mlpnas_search::rundir::atomic_write(path, out.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: cannot write the predictions: {e}", path.display()))?;
            if !quiet {
                eprintln!("{} predictions -> {}", p.classes.len(), path.display());
            }
        }
        None => print!("{out}"),
    }
    if let Some(score) = p.score(names) {
        if score.unknown_rows > 0 {
            let shown: Vec<&str> = score.unknown_labels.iter().take(10).map(String::as_str).collect();
            let more = score.unknown_labels.len().saturating_sub(shown.len());
            eprintln!(
                "warning: {} of {} labelled rows have labels the model has never seen ({}{}; its classes: {})",
                score.unknown_rows,
                p.classes.len(),
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() },
                names.join(", ")
            );
        }
        match score.accuracy {
            _ if quiet => {}
            Some(acc) if score.unknown_rows == 0 => {
                eprintln!("accuracy {acc:.4} on {} labelled rows", score.known_rows)
            }
            Some(acc) => {
                eprintln!("accuracy {acc:.4} on the {} rows whose labels the model knows", score.known_rows)
            }
            None => eprintln!("no accuracy: no row has a label the model knows"),
        }
    }
    Ok(())
}

/// A CSV field, quoted when needed.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Progress display implements the search's observer.
impl Observer for output::Progress {
    fn start(&mut self, planned: usize) {
        self.begin(planned);
    }
    fn trial(&mut self, record: &mlpnas_core::TrialRecord, best: &mlpnas_core::TrialRecord) {
        self.step(record, best);
    }
    fn epoch(
        &mut self,
        report: &mlpnas_core::EpochReport,
        trials: usize,
        best: &mlpnas_core::TrialRecord,
        seconds: f64,
    ) {
        output::Progress::epoch(self, report.epoch, trials, best, seconds);
    }
    fn notice(&mut self, message: &str) {
        self.println(message);
    }
    fn warning(&mut self, message: &str) {
        self.warn(message);
    }
}
