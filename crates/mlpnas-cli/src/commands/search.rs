//! `mlpnas search` (new or `--resume`d, in a run directory or a PostgreSQL storage) and `mlpnas
//! tabulate`, and the progress display as the search's observer.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use mlpnas_search::{Observer, RESUMABLE_CHANGES, Run, Search, check_run, prepare_data};

use crate::args::{SearchArgs, TabulateArgs};
use crate::config::load_config;
use crate::output;
use crate::signals::on_interrupt;
use crate::storage::{dir_name, new_run_dir, run_storage};

pub(crate) fn search(a: SearchArgs, verbosity: output::Verbosity) -> Result<()> {
    // A resumed run is taken (locked) before anything else: a second writer is refused at once.
    // A new run is created only once its config and data are good, so that a mistake leaves no
    // run directory behind.
    let (run, data, run_dir) = match (&a.resume, &a.config) {
        (Some(dir), _) => {
            let d = &a.data;
            if d.data.is_some() || d.label.is_some() || d.task.is_some() || d.drop.is_some() || d.seed.is_some() {
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
                let journal = d.join(mlpnas_runs::JOURNAL);
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
            check_run(&cfg, &data, storage.queue().is_some())?;
            (Run::create(storage, cfg)?, data, run_dir)
        }
        (None, None) => bail!("give --config FILE or --resume DIR"),
    };
    let cfg = run.config();
    let top = cfg.search.top;
    // A benchmark table's run is named by its table and metric, not by data it never reads.
    let measurement = cfg.space.build().ok().and_then(|s| s.measurement().map(|m| (m, s.size())));
    if let Some((m, size)) = &measurement
        && verbosity > output::Verbosity::Quiet
    {
        note!(
            "mlpnas: {} ({size} configurations; metric {}, {} is better) -> {}",
            m.source,
            m.metric,
            if m.minimize { "smaller" } else { "larger" },
            run.location()
        );
    } else if verbosity > output::Verbosity::Quiet {
        let label = match data.split.train.n_classes() {
            0 => "a number to predict".to_string(),
            n => format!("{n} classes"),
        };
        note!(
            "mlpnas: {} ({} train / {} valid rows, {} features, {label}) -> {}",
            cfg.data.source,
            data.split.train.n_rows(),
            data.split.valid.n_rows(),
            data.split.train.n_features(),
            run.location()
        );
        note!("{}", output::data_table(&data));
        if data.objective.reported() {
            let m = data.objective.metric;
            let positive = match m {
                mlpnas_core::Metric::F1 | mlpnas_core::Metric::Auc if data.split.train.n_classes() == 2 => {
                    let name = &data.split.train.class_names[data.objective.positive as usize];
                    format!(" (positive class {name})")
                }
                _ => String::new(),
            };
            note!(
                "reward: validation {m}{positive}{}, epoch-weighted",
                if m.minimize() { ", negated (smaller is better)" } else { "" }
            );
        }
    }
    for n in &data.notes {
        note!("warning: {n}");
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
    let budgets = &search.config().search;
    let mut progress =
        output::Progress::new(verbosity).with_budgets(budgets.time_budget.map(|b| b.seconds()), budgets.epoch_budget);
    let summary = search.run(&mut progress)?;
    progress.finish();
    let best = summary.top(top);
    say!("{}", output::table(&best, &summary.records, measurement.as_ref().map(|(m, _)| m)));
    if a.storage.is_some() {
        say!("{} trials in {:.1} s; {location}", summary.records.len(), summary.wall_seconds);
    } else {
        say!(
            "{} trials in {:.1} s; journal: {}",
            summary.records.len(),
            summary.wall_seconds,
            Path::new(&summary.location).join("journal.jsonl").display()
        );
    }
    Ok(())
}

pub(crate) fn tabulate(mut a: TabulateArgs, verbosity: output::Verbosity) -> Result<()> {
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
            if d.data.is_some()
                || d.label.is_some()
                || d.task.is_some()
                || d.drop.is_some()
                || d.seed.is_some()
                || !d.set.is_empty()
            {
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
        note!(
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
    say!(
        "{} configurations x {} seeds = {} rows in {:.1} s; table: {}",
        done.configurations,
        done.seeds,
        done.rows,
        done.seconds,
        done.out.display()
    );
    Ok(())
}

/// The table's name: --name, or the table directory's name.
pub(crate) fn table_name(a: &TabulateArgs) -> String {
    a.name.clone().unwrap_or_else(|| dir_name(&a.out))
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
        output::Progress::epoch(self, report.epoch, trials, report.trials, best, seconds);
    }
    fn spent(&mut self, seconds: f64, epochs: usize) {
        output::Progress::spent(self, seconds, epochs);
    }
    fn notice(&mut self, message: &str) {
        self.println(message);
    }
    fn warning(&mut self, message: &str) {
        self.warn(message);
    }
}
