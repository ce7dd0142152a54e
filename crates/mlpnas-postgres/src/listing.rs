//! [`list_runs`]: every run in the database, one [`RunInfo`] each (what `mlpnas runs` prints).

use mlpnas_core::TrialRecord;
use serde::Serialize;

use crate::database::Database;
use crate::error::PgError;
use crate::error::corrupt;
use crate::migrations::LOCK_SPACE;

/// One line of `mlpnas runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The run's name.
    pub name: String,
    /// `finished`, `running` (a coordinator holds it) or `interrupted`.
    pub status: String,
    /// Trials journaled.
    pub trials: i64,
    /// Best reward so far.
    pub best: Option<f64>,
    /// Its best architecture.
    pub best_architecture: Option<String>,
    /// Distinct workers that reported results for it.
    pub workers: i64,
    /// Trials waiting in the queue or being trained.
    pub queued: i64,
    /// When it was created (UTC, RFC 3339).
    pub created: String,
}

/// Every run in the database, oldest first.
pub fn list_runs(db: &Database) -> Result<Vec<RunInfo>, PgError> {
    db.with(|c| {
        let rows = c.query(
            "SELECT r.name, r.summary IS NOT NULL, \
                 EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                     AND l.classid = $1::int::oid AND l.objid = hashtext(r.name)::oid AND l.objsubid = 2), \
                 (SELECT count(*) FROM mlpnas_trials t WHERE t.run = r.id), \
                 (SELECT t.record FROM mlpnas_trials t WHERE t.run = r.id ORDER BY t.reward DESC, t.trial LIMIT 1), \
                 (SELECT count(*) FROM mlpnas_run_workers w WHERE w.run = r.id), \
                 (SELECT count(*) FROM mlpnas_tasks k WHERE k.run = r.id AND k.state IN ('queued', 'running')), \
                 to_char(r.created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM mlpnas_runs r ORDER BY r.created, r.id",
            &[&LOCK_SPACE],
        )?;
        rows.into_iter()
            .map(|r| {
                let best: Option<TrialRecord> = r
                    .get::<_, Option<String>>(4)
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .map_err(|e| corrupt("a journaled trial", e))?;
                let (finished, held): (bool, bool) = (r.get(1), r.get(2));
                Ok(RunInfo {
                    name: r.get(0),
                    status: if held {
                        "running"
                    } else if finished {
                        "finished"
                    } else {
                        "interrupted"
                    }
                    .into(),
                    trials: r.get(3),
                    best: best.as_ref().map(|b| b.reward),
                    best_architecture: best.map(|b| b.architecture),
                    workers: r.get(5),
                    queued: r.get(6),
                    created: r.get(7),
                })
            })
            .collect()
    })
}
