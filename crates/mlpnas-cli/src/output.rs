//! What the CLI prints: the progress bar, the top-N table, token names, time stamps, and the
//! two macros every line goes through: [`say!`] (stdout) and [`note!`] (stderr).
//!
//! Neither fails: a reader that went away (`mlpnas search ... -v 2>&1 >/dev/null | head -1`, a
//! closed terminal) loses the line and the command goes on, so a search still finishes with its
//! journal whole, and a command whose output nobody reads any more ends with status 0.

/// `println!` that drops the line when stdout is gone (a closed pipe) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that drops the line when stderr is gone (a closed pipe) instead of panicking.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlpnas_core::{Token, TrialRecord};

/// How much a command says on stderr: `-q` (errors and warnings only), normal, `-v` (a line per
/// trial).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `--quiet`.
    Quiet,
    /// The default.
    Normal,
    /// `--verbose`.
    Verbose,
}

/// A progress bar with the best reward so far on a terminal; without one (a log file, CI,
/// nohup) one line per finished controller epoch instead, or per trial with `-v`.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    verbose: bool,
    planned: usize,
}

impl Progress {
    pub fn new(verbosity: Verbosity) -> Self {
        Self { bar: None, quiet: verbosity == Verbosity::Quiet, verbose: verbosity == Verbosity::Verbose, planned: 0 }
    }
    /// Whether the bar is drawn (stderr is a terminal and not quiet).
    fn drawn(&self) -> bool {
        self.bar.as_ref().is_some_and(|b| !b.is_hidden())
    }
    /// A controller epoch ended: one line when no bar is drawn.
    pub fn epoch(&self, epoch: usize, trials: usize, best: &TrialRecord, seconds: f64) {
        if !self.quiet && !self.drawn() {
            note!(
                "epoch {}: {trials}/{} trials, best {:.4} {}, {seconds:.1} s",
                epoch + 1,
                self.planned,
                best.reward,
                best.architecture
            );
        }
    }
    pub fn begin(&mut self, planned: usize) {
        self.planned = planned;
        if self.quiet {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(planned as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        self.bar = Some(bar);
    }
    pub fn step(&mut self, r: &TrialRecord, best: &TrialRecord) {
        if self.verbose && !self.drawn() {
            note!(
                "trial {}: {:.4} {} ({:.2} s); best {:.4} {}",
                r.trial,
                r.reward,
                r.architecture,
                r.seconds,
                best.reward,
                best.architecture
            );
        }
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "best {:.4} {}  last {:.4} {}",
                best.reward, best.architecture, r.reward, r.architecture
            ));
            bar.inc(1);
        }
    }
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(msg),
            _ if !self.quiet => note!("{msg}"),
            _ => {}
        }
    }
    /// Printed even with `--quiet`.
    pub fn warn(&self, msg: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(format!("warning: {msg}")),
            _ => note!("warning: {msg}"),
        }
    }
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The top-N table.
pub fn table(records: &[&TrialRecord]) -> String {
    // Trials measured in a benchmark table have a raw metric and no trained network.
    if records.iter().any(|r| r.metric.is_some()) {
        let mut s = format!("{:>4}  {:>5}  {:>11}  {:>11}  configuration\n", "rank", "trial", "reward", "metric");
        for (i, r) in records.iter().enumerate() {
            let metric = r.metric.map_or("-".to_string(), |m| format!("{m:.5e}"));
            s.push_str(&format!(
                "{:>4}  {:>5}  {:>11.5e}  {:>11}  {}\n",
                i + 1,
                r.trial,
                r.reward,
                metric,
                r.architecture
            ));
        }
        s.pop();
        return s;
    }
    let mut s = format!(
        "{:>4}  {:>5}  {:>7}  {:>7}  {:>7}  {:>9}  {:>7}  architecture\n",
        "rank", "trial", "reward", "val_acc", "params", "transfers", "seconds"
    );
    for (i, r) in records.iter().enumerate() {
        s.push_str(&format!(
            "{:>4}  {:>5}  {:>7.4}  {:>7.4}  {:>7}  {:>9}  {:>7.2}  {}{}\n",
            i + 1,
            r.trial,
            r.reward,
            r.val_acc_last,
            r.params,
            r.transfers,
            r.seconds,
            r.architecture,
            if r.status == mlpnas_core::TrialStatus::Diverged { " (diverged)" } else { "" }
        ));
    }
    s.pop();
    s
}

/// A token as text.
pub fn token_text(t: Token, dropout: f64) -> String {
    match t {
        Token::Hidden { units, activation } => format!("dense {units} {activation}"),
        Token::Dropout => format!("dropout {dropout}"),
        Token::Output => "output (softmax over the classes, or 1 sigmoid unit for 2 classes)".into(),
    }
}

/// Current UTC time as `YYYYMMDD-HHMMSS` (for default run directory names).
pub fn utc_stamp() -> String {
    let [y, m, d, h, mi, s] = mlpnas_runs::utc_parts();
    format!("{y:04}{m:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// The data banner of a search on a table: each column with its type, missing cells and levels
/// (or why it was left out), then the class counts over every row with the majority rate.
pub(crate) fn data_table(data: &mlpnas_search::Prepared) -> String {
    let width = data.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
    let mut out = format!("  {:<width$}  {:<12}  {:>7}  {:>6}\n", "column", "type", "missing", "levels");
    for c in &data.columns {
        let levels = c.levels.map_or_else(|| "-".to_string(), |l| l.to_string());
        let (kind, why) = c.kind.split_once(": ").unwrap_or((&c.kind, ""));
        let line = format!("  {:<width$}  {:<12}  {:>7}  {:>6}  {why}", c.name, kind, c.missing, levels);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let split = &data.split;
    let mut counts = vec![0usize; split.train.n_classes()];
    let parts = [Some(&split.train), Some(&split.valid), split.test.as_ref()];
    for part in parts.into_iter().flatten() {
        for &l in &part.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
    }
    let total: usize = counts.iter().sum();
    let shown: Vec<String> = split.train.class_names.iter().zip(&counts).map(|(n, c)| format!("{n} {c}")).collect();
    let majority = counts.iter().copied().max().unwrap_or(0) as f64 / total.max(1) as f64;
    out.push_str(&format!("  classes: {} (majority rate {majority:.4})", shown.join(", ")));
    out
}
