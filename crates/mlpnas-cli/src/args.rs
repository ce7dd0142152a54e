//! The command line: every clap type (the `Cli`, its subcommands and their options). The doc
//! comments here are the help texts of `mlpnas --help`, the man page and the completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mlpnas_data::DataSpec;

use crate::numbers;

/// Neural architecture search for multilayer perceptrons.
#[derive(Debug, Parser)]
#[command(name = "mlpnas", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Errors and warnings only on stderr (every command).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// More on stderr: a line per trial in a search without a terminal (every command).
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
        #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
        top: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List the Pareto front of a multi-objective run (search.objectives) instead of the
        /// best trials.
        #[arg(long)]
        front: bool,
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
    /// Write MODEL_DIR/model.onnx for a model directory (finalize writes it too; this is for
    /// directories of earlier releases). Input: the card's features after encoding, output: the
    /// class probabilities.
    #[command(name = "export-onnx")]
    ExportOnnx {
        /// Model directory written by `finalize` (e.g. runs/x/final/model-1).
        model: PathBuf,
    },
    /// Print a shell completion script: `mlpnas completions bash > ~/.local/share/bash-completion/completions/mlpnas`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --out write one page per command (mlpnas.1,
    /// mlpnas-search.1, ...): `mlpnas man --out ~/.local/share/man/man1`.
    Man {
        /// Directory to write every page into (created if missing), instead of printing mlpnas.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct FinalizeArgs {
    /// Run directory of a search (or the run's name with --storage).
    pub(crate) dir: PathBuf,
    /// The PostgreSQL database holding the run (its data is loaded again from the run's data
    /// source, which must be readable here).
    #[arg(long, value_name = "URL")]
    pub(crate) storage: Option<String>,
    /// How many of the best architectures to retrain.
    #[arg(long, default_value_t = 3, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
    pub(crate) top: usize,
    /// Epochs at most.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
    pub(crate) epochs: usize,
    /// Stop after this many epochs without a lower validation loss (the best epoch's weights are kept).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
    pub(crate) patience: usize,
    /// Start from fresh weights (the default).
    #[arg(long, conflicts_with = "from_shared")]
    pub(crate) from_scratch: bool,
    /// Start from the run's shared weights where its store holds them.
    #[arg(long)]
    pub(crate) from_shared: bool,
    /// Test share taken out of the training rows when the run's split has no test part.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true, value_parser = numbers::fraction)]
    pub(crate) test_fraction: f64,
    /// Output directory (default: DIR/final, or NAME-final with --storage); must not exist.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Retrain on this backend instead of the run's `trainer.backend` (flex, ndarray, and with
    /// the `tch` feature tch-cpu, tch-cuda:N).
    #[arg(long)]
    pub(crate) backend: Option<String>,
    /// What the exported models are trained on: `train` (the training rows, early stopping on
    /// the validation rows) or `all` (then again on training and validation rows, for the best
    /// epoch count found; the test rows stay out).
    #[arg(long, value_enum, default_value_t = Refit::Train)]
    pub(crate) refit: Refit,
    /// Retrain every member of the run's Pareto front (a run with search.objectives) instead of
    /// the --top best.
    #[arg(long, conflicts_with = "top")]
    pub(crate) front: bool,
}

/// `finalize --refit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Refit {
    /// The training rows, with early stopping on the validation rows.
    Train,
    /// The training and validation rows, for the early-stopped model's best epoch count.
    All,
}

#[derive(Debug, Args)]
pub(crate) struct DashboardArgs {
    /// Run directories, or directories holding run directories (searched four levels deep;
    /// runs started later appear too). Default: `runs` when no --storage is given.
    pub(crate) dirs: Vec<PathBuf>,
    /// Also every run in this PostgreSQL database: postgresql://user@host:port/database.
    #[arg(long, value_name = "URL")]
    pub(crate) storage: Option<String>,
    /// Address to listen on; anything but a loopback address exposes your runs to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080, allow_negative_numbers = true, value_parser = numbers::port)]
    pub(crate) port: u16,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The database: postgresql://user@host:port/database (password from the URL, PGPASSWORD
    /// or ~/.pgpass).
    #[arg(long, value_name = "URL")]
    pub(crate) storage: String,
    /// Trials trained at once by this worker.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
    pub(crate) threads: usize,
    /// Only trials of these runs (comma-separated names; default: every run).
    #[arg(long, value_delimiter = ',', value_name = "NAME,..")]
    pub(crate) runs: Option<Vec<String>>,
    /// Exit after this many seconds without a trial to train (default: run until stopped).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = numbers::seconds::<false>)]
    pub(crate) exit_when_idle: Option<f64>,
    /// Seconds a claimed trial stays this worker's without a heartbeat (renewed every third of
    /// it); after that another worker trains it again.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, allow_negative_numbers = true, value_parser = numbers::lease)]
    pub(crate) lease: f64,
}

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// Model directory written by `finalize` (e.g. runs/x/final/model-1).
    pub(crate) model: PathBuf,
    /// Rows to predict: a CSV file with a header (columns matched by name), `builtin:NAME`,
    /// `X.npy:Y.npy` (labels for an accuracy), or `X.npy` alone (features by position).
    #[arg(long)]
    pub(crate) data: mlpnas_data::PredictSource,
    /// Write the predictions to this CSV file instead of standard output.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Add one probability column per class.
    #[arg(long)]
    pub(crate) proba: bool,
    /// Predict on this backend instead of the one the model was trained on (flex, ndarray, and
    /// with the `tch` feature tch-cpu, tch-cuda:N).
    #[arg(long)]
    pub(crate) backend: Option<String>,
}

/// Options shared by `search` and `eval` that override the config.
#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Data: `builtin:NAME` (iris, winequality-red, digits, breast-cancer, diabetes), `FILE.csv`, or `X.npy:Y.npy`.
    #[arg(long)]
    pub(crate) data: Option<DataSpec>,
    /// Label column of a CSV (default: the last column).
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// What the label is: classes (`classification`, the default) or a number to predict
    /// (`regression`: one linear output, metric rmse unless search.metric says mae or r2).
    /// Sets search.task.
    #[arg(long, value_parser = ["classification", "regression"])]
    pub(crate) task: Option<String>,
    /// CSV columns to ignore, comma-separated (`#0` names the first column by position).
    #[arg(long, value_delimiter = ',')]
    pub(crate) drop: Option<Vec<String>>,
    /// Seed of every random stream.
    #[arg(long, allow_negative_numbers = true, value_parser = numbers::seed)]
    pub(crate) seed: Option<u64>,
    /// Override any config value: `--set search.controller_epochs=3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Search config (TOML), e.g. configs/random.toml.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    pub(crate) config: Option<PathBuf>,
    /// Continue the interrupted (or finished, with a larger budget) search in this run directory
    /// (or, with --storage, the run of this name).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub(crate) resume: Option<PathBuf>,
    /// Run directory (default: runs/<config name>-<UTC time>-s<seed>, with -2, -3, ... when taken).
    #[arg(long, conflicts_with = "storage")]
    pub(crate) out: Option<PathBuf>,
    /// Keep the run in this PostgreSQL database instead of a run directory, so that `mlpnas
    /// worker` processes on any machine train its trials: postgresql://user@host:port/database.
    #[arg(long, value_name = "URL")]
    pub(crate) storage: Option<String>,
    /// The run's name in --storage (default: <config name>-<UTC time>-s<seed>).
    #[arg(long, requires = "storage", conflicts_with = "resume")]
    pub(crate) name: Option<String>,
    /// Trials this process trains at once (default: the machine's cores; for a run in --storage,
    /// search.batch, and 0: only workers train). Results do not depend on it: a trial starts when
    /// the weights it reads are final, and trials are journaled in order.
    #[arg(long, allow_negative_numbers = true, value_parser = numbers::at_least::<0>)]
    pub(crate) threads: Option<usize>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TabulateArgs {
    /// Config (TOML) whose data, space and trainer to tabulate (one-shot sharing is turned off);
    /// omit it to continue the tabulation in --out.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Seeds per configuration (raise it later to add seeds to a finished table).
    #[arg(long, default_value_t = 3, allow_negative_numbers = true, value_parser = numbers::at_least::<1>)]
    pub(crate) seeds: usize,
    /// Table directory: the table files, and the tabulation's run directory (`run/`).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Configurations this process trains at once (default: search.batch; with --storage, 0:
    /// only workers train). The table does not depend on it.
    #[arg(long, allow_negative_numbers = true, value_parser = numbers::at_least::<0>)]
    pub(crate) threads: Option<usize>,
    /// The table's name (default: the --out directory's name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Keep the tabulation's run in this PostgreSQL database instead of OUT/run, so that `mlpnas
    /// worker` processes on any machine train its rows; the table is still written to --out.
    #[arg(long, value_name = "URL")]
    pub(crate) storage: Option<String>,
    /// The run's name in --storage (default: tabulate-<the --out directory's name>).
    #[arg(long, value_name = "NAME", requires = "storage")]
    pub(crate) run: Option<String>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Architecture, e.g. `64:relu,dropout,32:elu` (the output layer is added).
    #[arg(long, required_unless_present = "run")]
    pub(crate) arch: Option<String>,
    /// Config for the trainer and data settings (defaults otherwise).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Train trial --trial of this run directory (or, with --storage, the run of this name)
    /// again exactly as its search did (same split, seed and starting weights) and check that
    /// the journal's reward is reproduced; fails when it is not.
    #[arg(long, value_name = "DIR", requires = "trial", conflicts_with_all = ["arch", "config", "data", "label", "task", "drop", "seed", "set"])]
    pub(crate) run: Option<PathBuf>,
    /// The trial of --run to train again (its number in the journal and `report`).
    #[arg(long, requires = "run", allow_negative_numbers = true, value_parser = numbers::at_least::<0>)]
    pub(crate) trial: Option<usize>,
    /// The PostgreSQL database holding the --run: postgresql://user@host:port/database.
    #[arg(long, value_name = "URL", requires = "run")]
    pub(crate) storage: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) data: DataArgs,
}
