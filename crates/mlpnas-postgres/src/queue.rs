//! [`PgQueue`]: the trial queue of a database ([`TrialQueue`]): tasks submitted by
//! coordinators, claimed by workers with a lease, fenced by their attempt number, completed or
//! failed, and woken by `pg_notify` in the same statement as the write. Every call goes through
//! [`PgQueue::call`]; every write is one statement (one transaction), safe to run twice.

use std::time::Duration;

use mlpnas_core::codec;
use mlpnas_core::{
    Claim, Claimant, DataSplit, EpochMetrics, Measured, RungTask, StorageError, TrainOutcome, TrialQueue, TrialResult,
    TrialTask,
};
use serde::{Deserialize, Serialize};

use crate::conn::Conn;
use crate::database::Database;
use crate::error::Failure;
use crate::error::{corrupt, io};
use crate::notify::CHANNEL;

/// The trial queue of a database (see [`TrialQueue`]).
#[derive(Debug, Clone)]
pub struct PgQueue {
    db: Database,
}

impl Database {
    /// The trial queue of every run in the database (what workers claim from).
    pub fn queue(&self) -> PgQueue {
        PgQueue::new(self.clone())
    }
}

impl PgQueue {
    /// The queue of `db`.
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }

    /// Runs `f` on the database's connection ([`Database::with`]), a failure as one line about
    /// the trial queue.
    fn call<T>(&self, f: impl FnMut(&mut Conn) -> Result<T, Failure>) -> Result<T, StorageError> {
        self.db.with(f).map_err(|e| io("trial queue", e))
    }
}

/// A trial's outcome as stored in `mlpnas_tasks.result` (weights beside it, in the codec).
#[derive(Serialize, Deserialize)]
struct StoredOutcome {
    epochs: Vec<EpochMetrics>,
    diverged: bool,
    #[serde(default)]
    error: Option<String>,
    /// A table trainer's measured reward and metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    measured: Option<Measured>,
    /// Each resampled evaluation's epochs (`search.folds`, `search.repeats`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    evaluations: Vec<Vec<EpochMetrics>>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl TrialQueue for PgQueue {
    fn submit(&self, run: &str, backend: &str, tasks: &[TrialTask]) -> Result<(), StorageError> {
        let version = env!("CARGO_PKG_VERSION");
        let (mut trials, mut tokens, mut seeds, mut inits) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut epochs, mut froms) = (Vec::new(), Vec::new());
        for t in tasks {
            trials.push(t.trial as i32);
            tokens.push(serde_json::to_string(&t.tokens).map_err(|e| io("trial queue", e))?);
            seeds.push(t.seed as i64);
            inits.push(codec::encode_init(&t.init).map_err(|e| io("trial queue", e))?);
            epochs.push(t.rung.as_ref().map(|r| r.epochs as i32));
            froms.push(t.rung.as_ref().and_then(|r| r.from.clone()));
        }
        // One statement: the batch's tasks, and a wake-up for idle workers. A task queued
        // before (a resumed coordinator) keeps its claim and result, unless what it asks for
        // changed (the batch size changed on resume, or it is the trial's next rung): then it is
        // queued afresh, as a new attempt, so that no result of the old task is taken for the
        // new one.
        self.call(|c| {
            c.execute(
                "WITH r AS (SELECT id FROM mlpnas_runs WHERE name = $1), \
                 ins AS ( \
                     INSERT INTO mlpnas_tasks AS t \
                         (run, run_name, trial, backend, version, tokens, seed, init, epochs, continuation) \
                     SELECT r.id, $1, x.trial, $2, $3, x.tokens, x.seed, x.init, x.epochs, x.continuation \
                     FROM r, unnest($4::int[], $5::text[], $6::bigint[], $7::bytea[], $9::int[], $10::bytea[]) \
                         AS x(trial, tokens, seed, init, epochs, continuation) \
                     ON CONFLICT (run, trial) DO UPDATE SET backend = EXCLUDED.backend, version = EXCLUDED.version, \
                         tokens = EXCLUDED.tokens, seed = EXCLUDED.seed, init = EXCLUDED.init, \
                         epochs = EXCLUDED.epochs, continuation = EXCLUDED.continuation, state = 'queued', \
                         attempt = t.attempt + 1, worker = NULL, lease_until = NULL, result = NULL, weights = NULL, \
                         seconds = NULL, continued = NULL \
                     WHERE (t.backend, t.version, t.tokens, t.seed, t.init, t.epochs, t.continuation) \
                         IS DISTINCT FROM (EXCLUDED.backend, EXCLUDED.version, EXCLUDED.tokens, EXCLUDED.seed, \
                             EXCLUDED.init, EXCLUDED.epochs, EXCLUDED.continuation) \
                     RETURNING 1), \
                 woke AS (SELECT pg_notify($8, 'tasks')) \
                 SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM woke), (SELECT count(*) FROM r)",
                &[&run, &backend, &version, &trials, &tokens, &seeds, &inits, &CHANNEL, &epochs, &froms],
            )?;
            Ok(())
        })
    }

    #[allow(clippy::type_complexity)]
    fn results(&self, run: &str, trials: &[usize]) -> Result<Vec<(usize, Result<TrialResult, String>)>, StorageError> {
        let wanted: Vec<i32> = trials.iter().map(|&t| t as i32).collect();
        self.call(|c| {
            let rows = c.query(
                "SELECT trial, state, result, weights, seconds, worker, continued FROM mlpnas_tasks \
                     WHERE run_name = $1 AND trial = ANY($2) AND state IN ('done', 'failed')",
                &[&run, &wanted],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let trial: i32 = r.get(0);
                let state: String = r.get(1);
                let text: Option<String> = r.get(2);
                let o: StoredOutcome = serde_json::from_str(text.as_deref().unwrap_or("null"))
                    .map_err(|e| corrupt(&format!("the result of trial {trial}"), e))?;
                if state == "failed" {
                    out.push((trial as usize, Err(o.error.unwrap_or_else(|| "failed".into()))));
                    continue;
                }
                let weights = match r.get::<_, Option<Vec<u8>>>(3) {
                    Some(b) => {
                        codec::decode_layers(&b).map_err(|e| corrupt(&format!("the weights of trial {trial}"), e))?
                    }
                    None => Vec::new(),
                };
                let result = TrialResult {
                    outcome: TrainOutcome {
                        epochs: o.epochs,
                        diverged: o.diverged,
                        weights,
                        measured: o.measured,
                        evaluations: o.evaluations,
                    },
                    seconds: r.get::<_, Option<f64>>(4).unwrap_or(0.0),
                    worker: r.get::<_, Option<String>>(5).unwrap_or_default(),
                    continuation: r.get(6),
                };
                out.push((trial as usize, Ok(result)));
            }
            Ok(out)
        })
    }

    fn retire(&self, run: &str, trials: &[usize]) -> Result<(), StorageError> {
        let t: Vec<i32> = trials.iter().map(|&t| t as i32).collect();
        self.call(|c| Ok(c.execute("DELETE FROM mlpnas_tasks WHERE run_name = $1 AND trial = ANY($2)", &[&run, &t])?))?;
        Ok(())
    }

    fn claim(&self, who: &Claimant) -> Result<Option<Claim>, StorageError> {
        let lease = secs(who.lease);
        // One table, one statement: the inner SELECT skips rows other claimers hold, the UPDATE
        // takes the first it finds and bumps its attempt (the fencing token).
        let row = self.call(|c| {
            Ok(c.query_opt(
                "UPDATE mlpnas_tasks SET state = 'running', attempt = attempt + 1, worker = $1, \
                         lease_until = clock_timestamp() + make_interval(secs => $2) \
                     WHERE (run, trial) = ( \
                         SELECT run, trial FROM mlpnas_tasks \
                         WHERE (state = 'queued' OR (state = 'running' AND lease_until < clock_timestamp())) \
                           AND version = $3 AND backend = ANY($4) \
                           AND ($5::text[] IS NULL OR run_name = ANY($5)) AND run_name <> ALL($6) \
                         ORDER BY run, trial LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING run_name, trial, attempt, tokens, seed, init, epochs, continuation",
                &[&who.worker, &lease, &who.version, &who.backends, &who.runs, &who.skip],
            )?)
        })?;
        let Some(r) = row else { return Ok(None) };
        let run: String = r.get(0);
        let trial: i32 = r.get(1);
        let attempt: i32 = r.get(2);
        let tokens = serde_json::from_str(&r.get::<_, String>(3))
            .map_err(|e| io("trial queue", format!("trial {trial} of run {run}: tokens: {e}")))?;
        let seed: i64 = r.get(4);
        let init = codec::decode_init(&r.get::<_, Vec<u8>>(5))
            .map_err(|e| io("trial queue", format!("trial {trial} of run {run}: initial weights: {e}")))?;
        let rung = r.get::<_, Option<i32>>(6).map(|epochs| RungTask { epochs: epochs as usize, from: r.get(7) });
        Ok(Some(Claim {
            run,
            attempt: attempt as u32,
            task: TrialTask { trial: trial as usize, tokens, seed: seed as u64, init, rung },
            lease: who.lease,
        }))
    }

    fn renew(&self, claim: &Claim) -> Result<bool, StorageError> {
        let (run, trial, attempt) = (&claim.run, claim.task.trial as i32, claim.attempt as i32);
        let lease = secs(claim.lease);
        self.call(|c| {
            Ok(c.execute(
                "UPDATE mlpnas_tasks SET lease_until = clock_timestamp() + make_interval(secs => $4) \
                     WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running'",
                &[&run, &trial, &attempt, &lease],
            )? == 1)
        })
    }

    fn complete(&self, claim: &Claim, result: &TrialResult) -> Result<bool, StorageError> {
        let o = StoredOutcome {
            epochs: result.outcome.epochs.clone(),
            diverged: result.outcome.diverged,
            error: None,
            measured: result.outcome.measured,
            evaluations: result.outcome.evaluations.clone(),
        };
        let text = serde_json::to_string(&o).map_err(|e| io("trial queue", e))?;
        let weights = if result.outcome.weights.is_empty() {
            None
        } else {
            Some(codec::encode_layers(&result.outcome.weights, &[]).map_err(|e| io("trial queue", e))?)
        };
        let (run, trial, attempt) = (&claim.run, claim.task.trial as i32, claim.attempt as i32);
        let (seconds, worker) = (result.seconds, &result.worker);
        self.call(|c| {
            // Fencing: only the trial's current attempt writes (again, if this is a retry of
            // its own lost commit: the same result). One statement, so one transaction.
            let row = c.query_one(
                "WITH done AS ( \
                         UPDATE mlpnas_tasks SET state = 'done', result = $4, weights = $5, seconds = $6, \
                             worker = $7, lease_until = NULL, continued = $9 \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state IN ('running', 'done') \
                         RETURNING run), \
                     seen AS ( \
                         INSERT INTO mlpnas_run_workers (run, worker, trials) SELECT run, $7, 1 FROM done \
                         ON CONFLICT (run, worker) DO UPDATE SET trials = mlpnas_run_workers.trials + 1, \
                             last_seen = now() \
                         RETURNING 1), \
                     woke AS (SELECT pg_notify($8, 'result') FROM done) \
                     SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM seen), (SELECT count(*) FROM woke)",
                &[&run, &trial, &attempt, &text, &weights, &seconds, &worker, &CHANNEL, &result.continuation],
            )?;
            Ok(row.get::<_, i64>(0) == 1)
        })
    }

    fn release(&self, claim: &Claim) -> Result<bool, StorageError> {
        let (run, trial, attempt) = (&claim.run, claim.task.trial as i32, claim.attempt as i32);
        self.call(|c| {
            let row = c.query_one(
                "WITH back AS ( \
                         UPDATE mlpnas_tasks SET state = 'queued', worker = NULL, lease_until = NULL \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running' RETURNING 1), \
                     woke AS (SELECT pg_notify($4, 'tasks') FROM back) \
                     SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM woke)",
                &[&run, &trial, &attempt, &CHANNEL],
            )?;
            Ok(row.get::<_, i64>(0) == 1)
        })
    }

    fn fail(&self, claim: &Claim, message: &str) -> Result<bool, StorageError> {
        let o = StoredOutcome {
            epochs: Vec::new(),
            diverged: false,
            error: Some(message.to_string()),
            measured: None,
            evaluations: Vec::new(),
        };
        let text = serde_json::to_string(&o).map_err(|e| io("trial queue", e))?;
        let (run, trial, attempt) = (&claim.run, claim.task.trial as i32, claim.attempt as i32);
        self.call(|c| {
            let row = c.query_one(
                "WITH failed AS ( \
                         UPDATE mlpnas_tasks SET state = 'failed', result = $4, lease_until = NULL \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running' RETURNING 1), \
                     woke AS (SELECT pg_notify($5, 'result') FROM failed) \
                     SELECT (SELECT count(*) FROM failed), (SELECT count(*) FROM woke)",
                &[&run, &trial, &attempt, &text, &CHANNEL],
            )?;
            Ok(row.get::<_, i64>(0) == 1)
        })
    }

    fn run_config(&self, run: &str) -> Result<String, StorageError> {
        let c: Option<String> = self
            .call(|c| Ok(c.query_opt("SELECT config FROM mlpnas_runs WHERE name = $1", &[&run])?.map(|r| r.get(0))))?;
        c.ok_or_else(|| io("trial queue", format!("run {run} does not exist")))
    }

    fn changes(&self) -> u64 {
        self.db.waker().changes()
    }

    fn wait_for_change(&self, seen: u64, timeout: Duration) {
        self.db.waker().wait(seen, timeout);
    }

    fn run_data(&self, run: &str) -> Result<DataSplit, StorageError> {
        let bytes: Option<Vec<u8>> = self.call(|c| {
            Ok(c.query_opt(
                "SELECT d.bytes FROM mlpnas_runs r JOIN mlpnas_data d ON d.hash = r.data_hash WHERE r.name = $1",
                &[&run],
            )?
            .map(|r| r.get(0)))
        })?;
        let bytes = bytes.ok_or_else(|| io("trial queue", format!("run {run} has no published data")))?;
        codec::decode_split(&bytes).map_err(|e| io("trial queue", format!("the data of run {run}: {e}")))
    }
}
