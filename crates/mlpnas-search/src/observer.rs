//! [`Observer`]: what a search or a tabulation tells whoever shows its progress.

use mlpnas_core::{EpochReport, TrialRecord};

/// Hooks for progress display; every method has a no-op default.
pub trait Observer {
    /// The search starts with this many trials planned.
    fn start(&mut self, _planned: usize) {}
    /// A trial finished; `best` is the best so far (this one included).
    fn trial(&mut self, _record: &TrialRecord, _best: &TrialRecord) {}
    /// A controller epoch finished: its report, the trials so far, the best so far, and the
    /// wall time of this session.
    fn epoch(&mut self, _report: &EpochReport, _trials: usize, _best: &TrialRecord, _seconds: f64) {}
    /// What the run has spent of its budgets as of the epoch that just ended (called before
    /// [`Observer::epoch`]): wall seconds over every session, training epochs over every trial.
    fn spent(&mut self, _seconds: f64, _epochs: usize) {}
    /// A notice worth showing (e.g. the space is exhausted, or a resumed search's warnings).
    fn notice(&mut self, _message: &str) {}
    /// Something the user must see even when progress is hidden (e.g. a dropped journal line).
    fn warning(&mut self, message: &str) {
        self.notice(message);
    }
}

impl Observer for () {}
