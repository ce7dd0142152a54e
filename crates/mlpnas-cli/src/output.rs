//! What the CLI prints: the progress bar, the top-N table, token names, time stamps.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlpnas_core::{Token, TrialRecord};

/// A progress bar with the best reward so far (hidden with `--quiet` or when not a terminal).
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
    pub fn begin(&mut self, planned: usize) {
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
            _ if !self.quiet => eprintln!("{msg}"),
            _ => {}
        }
    }
    /// Printed even with `--quiet`.
    pub fn warn(&self, msg: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(format!("warning: {msg}")),
            _ => eprintln!("warning: {msg}"),
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
    let [y, m, d, h, mi, s] = mlpnas_search::rundir::utc_parts();
    format!("{y:04}{m:02}{d:02}-{h:02}{mi:02}{s:02}")
}
