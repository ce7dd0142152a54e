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
use mlpnas_core::{Measurement, Token, TrialRecord};

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
    /// Whether the run-time estimate was made (once, at the first controller epoch seen).
    estimated: bool,
    /// `search.time_budget` (seconds) and `search.epoch_budget`, shown with what is spent.
    time_budget: Option<f64>,
    epoch_budget: Option<usize>,
    /// The run's spending as of the last epoch: wall seconds, training epochs.
    spent: (f64, usize),
}

/// A budget whose estimated remaining time exceeds this many seconds (a day) is announced.
const LONG_SECONDS: f64 = 86_400.0;

/// The warning for a budget that takes more than a day at `per_trial` seconds a trial with
/// `left` of `planned` trials to go, if it does.
pub fn budget_warning(per_trial: f64, left: usize, planned: usize) -> Option<String> {
    let estimate = per_trial * left as f64;
    (estimate > LONG_SECONDS).then(|| {
        format!(
            "at this epoch's pace ({per_trial:.2} s a trial) the {left} trials left take {}; is the budget \
             (search.controller_epochs x search.samples_per_epoch = {planned} trials) what you meant?",
            human_duration(estimate)
        )
    })
}

impl Progress {
    pub fn new(verbosity: Verbosity) -> Self {
        Self {
            bar: None,
            quiet: verbosity == Verbosity::Quiet,
            verbose: verbosity == Verbosity::Verbose,
            planned: 0,
            estimated: false,
            time_budget: None,
            epoch_budget: None,
            spent: (0.0, 0),
        }
    }
    /// A search with these budgets: its epoch lines show what is spent of them, and the
    /// planned trials are an upper bound (no warning about how long they would take).
    pub fn with_budgets(mut self, time: Option<f64>, epochs: Option<usize>) -> Self {
        self.time_budget = time;
        self.epoch_budget = epochs;
        self
    }
    /// What the run has spent as of the last epoch.
    pub fn spent(&mut self, seconds: f64, epochs: usize) {
        self.spent = (seconds, epochs);
    }
    /// `; budget 12 of 60 s, 400 of 1000 epochs` for the budgets set.
    fn budget_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.time_budget {
            parts.push(format!("{:.0} of {t:.0} s", self.spent.0));
        }
        if let Some(e) = self.epoch_budget {
            parts.push(format!("{} of {e} epochs", self.spent.1));
        }
        if parts.is_empty() { String::new() } else { format!("; budget {}", parts.join(", ")) }
    }
    /// Whether the bar is drawn (stderr is a terminal and not quiet).
    fn drawn(&self) -> bool {
        self.bar.as_ref().is_some_and(|b| !b.is_hidden())
    }
    /// A controller epoch of `epoch_trials` trials ended after `seconds`, `trials` trials done
    /// in all: one line when no bar is drawn. After the first epoch this process saw, a budget
    /// that would take more than a day at that pace is announced (a typo such as
    /// `search.controller_epochs=100000000000` otherwise runs silently for ever).
    pub fn epoch(&mut self, epoch: usize, trials: usize, epoch_trials: usize, best: &TrialRecord, seconds: f64) {
        let budgeted = self.time_budget.is_some() || self.epoch_budget.is_some();
        if !self.estimated && epoch_trials > 0 && !budgeted {
            self.estimated = true;
            let left = self.planned.saturating_sub(trials);
            if let Some(w) = budget_warning(seconds / epoch_trials as f64, left, self.planned) {
                self.warn(&w);
            }
        }
        if !self.quiet && !self.drawn() {
            note!(
                "epoch {}: {trials}/{} trials, best {:.4} {}, {seconds:.1} s{}",
                epoch + 1,
                self.planned,
                best.reward,
                best.architecture,
                self.budget_text()
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

/// A long duration in words: `about 3.5 days`, `about 12 years`, `about 3.2e4 years`.
pub fn human_duration(seconds: f64) -> String {
    let days = seconds / 86_400.0;
    let years = days / 365.25;
    if days < 2.0 {
        format!("about {:.1} hours", seconds / 3600.0)
    } else if years < 2.0 {
        format!("about {days:.1} days")
    } else if years < 1e4 {
        format!("about {years:.0} years")
    } else {
        format!("about {years:.1e} years")
    }
}

/// A metric value in its natural format: plain decimals with five significant digits where that
/// reads well (`0.68125`, `12.034`, `0.010900`), scientific beyond (`2.2800e-5`).
pub fn natural(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() {
        return format!("{x}");
    }
    if (1e-3..1e6).contains(&a) {
        let decimals = (4 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.4e}")
    }
}

/// The top-N table (`records`, of the run's `all`); the trials of a space that measures (a
/// benchmark table, `measurement`) show its metric by name instead of a network's columns. A
/// re-scored candidate shows the mean of all its rewards, which it is ranked by.
pub fn table(records: &[&TrialRecord], all: &[TrialRecord], measurement: Option<&Measurement>) -> String {
    // Trials measured in a benchmark table have a raw metric and no trained network.
    if measurement.is_some() || records.iter().any(|r| r.metric.is_some()) {
        let name = measurement.map_or("metric", |m| m.metric.as_str());
        let width = name.chars().count().max(10);
        let mut s = format!("{:>4}  {:>5}  {name:>width$}  configuration\n", "rank", "trial");
        for (i, r) in records.iter().enumerate() {
            let metric = r.metric.map_or("-".to_string(), natural);
            s.push_str(&format!("{:>4}  {:>5}  {metric:>width$}  {}\n", i + 1, r.trial, r.architecture));
        }
        s.pop();
        return s;
    }
    // A run scored by another metric than the accuracy (the journal names it per epoch) shows
    // its last-epoch value beside the accuracy; a regression's has no accuracy to show.
    let metric = records.iter().find_map(|r| r.epochs.last().and_then(|e| e.metric).map(|m| m.name));
    let regression = metric.is_some_and(|m| m.task() == mlpnas_core::Task::Regression);
    let head = metric.map_or(String::new(), |m| format!("  {:>7}", format!("val_{m}")));
    let acc_head = if regression { String::new() } else { format!("  {:>7}", "val_acc") };
    // Candidates scored on resampled splits or re-scored: the spread of their scores beside the
    // mean.
    let again = mlpnas_core::trial::rescored(all);
    let sd_of = |r: &TrialRecord| match again.get(&r.trial) {
        Some(v) => mlpnas_core::stats::sd(v),
        None => r.score_sd(),
    };
    let spread = records.iter().any(|r| sd_of(r).is_some());
    let sd_head = if spread { format!("  {:>7}", "± sd") } else { String::new() };
    let mut s = format!(
        "{:>4}  {:>5}  {:>7}{sd_head}{acc_head}{head}  {:>7}  {:>9}  {:>7}  architecture\n",
        "rank", "trial", "reward", "params", "transfers", "seconds"
    );
    for (i, r) in records.iter().enumerate() {
        let value = match metric {
            Some(m) => {
                let v = r.epochs.last().and_then(|e| e.metric).map_or("-".to_string(), |v| format!("{:.4}", v.value));
                format!("  {v:>w$}", w = m.name().len() + 4)
            }
            None => String::new(),
        };
        let acc = if regression { String::new() } else { format!("  {:>7.4}", r.val_acc_last) };
        let sd = match (spread, sd_of(r)) {
            (false, _) => String::new(),
            (true, Some(sd)) => format!("  {:>7}", format!("±{sd:.4}")),
            (true, None) => format!("  {:>7}", "-"),
        };
        s.push_str(&format!(
            "{:>4}  {:>5}  {:>7.4}{sd}{acc}{value}  {:>7}  {:>9}  {:>7.2}  {}{}\n",
            i + 1,
            r.trial,
            mlpnas_core::trial::ranking_reward(r, &again),
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

/// The Pareto front of a multi-objective run (`front`, in trial order): each trial's value of
/// every criterion of `search.objectives`, best reward first.
pub fn front_table(front: &[&TrialRecord]) -> String {
    let names: Vec<&str> = front.first().map_or(Vec::new(), |r| r.objectives.iter().map(|o| o.name.name()).collect());
    let mut members = front.to_vec();
    members.sort_by(|a, b| b.reward.total_cmp(&a.reward).then(a.trial.cmp(&b.trial)));
    let mut s = format!("{:>5}", "trial");
    for n in &names {
        s.push_str(&format!("  {n:>10}"));
    }
    s.push_str("  architecture\n");
    for r in members {
        s.push_str(&format!("{:>5}", r.trial));
        for o in &r.objectives {
            // A parameter count is a whole number.
            let v = if o.name == mlpnas_core::Criterion::Params { format!("{}", o.value) } else { natural(o.value) };
            s.push_str(&format!("  {v:>10}"));
        }
        s.push_str(&format!("  {}\n", r.architecture));
    }
    s.pop();
    s
}

/// A token as text.
pub fn token_text(t: Token, dropout: f64) -> String {
    match t {
        Token::Hidden { units, activation } => format!("dense {units} {activation}"),
        Token::Dropout => format!("dropout {dropout}"),
        Token::Output => {
            "output (softmax over the classes, 1 sigmoid unit for 2 classes, or 1 linear unit for a regression)".into()
        }
        Token::Training { dim, value } => format!("training: {} = {value} ({}=)", dim.field(), dim.key()),
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
    let mut out = String::new();
    if !data.columns.is_empty() {
        let width = data.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
        out.push_str(&format!("  {:<width$}  {:<12}  {:>7}  {:>6}\n", "column", "type", "missing", "levels"));
        for c in &data.columns {
            let levels = c.levels.map_or_else(|| "-".to_string(), |l| l.to_string());
            let (kind, why) = c.kind.split_once(": ").unwrap_or((&c.kind, ""));
            let line = format!("  {:<width$}  {:<12}  {:>7}  {:>6}  {why}", c.name, kind, c.missing, levels);
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out.push_str(&label_summary(&data.split));
    out
}

/// What a reward should be read against: the class counts and the majority-class rate over
/// every part (the accuracy of always answering the commonest class), or a regression target's
/// mean and standard deviation (the RMSE of always answering the mean).
pub(crate) fn label_summary(split: &mlpnas_core::DataSplit) -> String {
    format!("  {}", mlpnas_core::DataSummary::of(split).label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_beyond_a_day_is_announced_in_words() {
        // The typo: 10 trials an epoch, 1e11 epochs, 0.05 s a trial.
        let w = budget_warning(0.05, 1_000_000_000_000 - 10, 1_000_000_000_000).expect("announced");
        assert!(
            w.starts_with("at this epoch's pace (0.05 s a trial) the 999999999990 trials left take about 1584 years"),
            "{w}"
        );
        assert!(w.contains("= 1000000000000 trials) what you meant?"), "{w}");
        assert_eq!(budget_warning(0.05, 1000, 1010), None, "a minute is no news");
        assert_eq!(budget_warning(1.0, 86_400, 86_410), None, "a day exactly is not announced");
        assert!(budget_warning(1.0, 3 * 86_400, 3 * 86_400).expect("three days").contains("about 3.0 days"));
        assert_eq!(human_duration(7200.0), "about 2.0 hours");
        assert_eq!(human_duration(400.0 * 365.25 * 86_400.0), "about 400 years");
    }

    #[test]
    fn metrics_read_in_their_natural_format() {
        assert_eq!(natural(0.68125), "0.68125");
        assert_eq!(natural(-0.0109), "-0.010900");
        assert_eq!(natural(12.0346), "12.035");
        assert_eq!(natural(123456.0), "123456");
        assert_eq!(natural(2.28e-5), "2.2800e-5");
        assert_eq!(natural(0.0), "0");
    }
}
