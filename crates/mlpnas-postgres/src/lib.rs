//! mlpnas-postgres: runs in PostgreSQL, so that workers on any number of machines train one
//! search.
//!
//! * [`PgStorage`]: a run as rows ([`mlpnas_core::RunStorage`]): its config, journal, store
//!   puts, controller epochs, checkpoint and summary, under the run's name;
//! * [`PgQueue`]: the trial queue ([`mlpnas_core::TrialQueue`]) with leases, attempts and fencing;
//! * [`PgUrl`]: a database URL, its credentials (URL, `PGPASSWORD`, `~/.pgpass`) never shown;
//! * [`list_runs`]: what `mlpnas runs` prints.
//!
//! Every statement is parameterised; a run's name is data, never SQL text. The schema is created
//! and migrated by the binary (`mlpnas_schema` holds its version; an older binary refuses a newer
//! schema). A lost connection (a restarted server) is retried with backoff for up to 120 s
//! (`MLPNAS_PG_RETRY_SECONDS`); every write is one transaction and safe to run twice.

mod db;

use std::sync::Arc;
use std::time::Duration;

use mlpnas_core::codec;
use mlpnas_core::{
    BigramKey, Checkpoint, CheckpointState, Claim, Claimant, DataSplit, EpochMetrics, EpochReport, LayerWeights,
    Measured, RunStorage, StorageError, Summary, TrainOutcome, TrialLog, TrialQueue, TrialRecord, TrialResult,
    TrialTask,
};
use postgres::Client;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use db::{Db, Failure};
pub use db::{PgUrl, mask};

/// What can go wrong with a database, one line each (the URL is shown with its password masked).
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server cannot be reached or refuses the login.
    #[error("{0}")]
    Connect(String),
    /// A statement failed.
    #[error("{0}")]
    Database(String),
    /// The schema is newer than this binary.
    #[error("{0}")]
    Schema(String),
    /// The run's lock was lost during an outage and someone else took the run.
    #[error("{0}")]
    LostLock(String),
    /// A stored value does not decode.
    #[error("{0}")]
    Corrupt(String),
}

impl From<PgError> for StorageError {
    fn from(e: PgError) -> Self {
        StorageError::Io { path: "database".into(), message: e.to_string() }
    }
}

/// A connection to a database of runs (shared by a run's storage and its queue), and the
/// process's listener for its notifications.
#[derive(Clone)]
pub struct Database(Arc<Db>, Arc<db::Waker>);

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Database {
    /// Connects, creating or migrating the schema.
    pub fn connect(url: &PgUrl) -> Result<Self, PgError> {
        Ok(Self(Arc::new(Db::connect(url, false)?), Arc::new(db::Waker::new(url))))
    }

    /// Connects for `mlpnas worker`: claims, heartbeats and results commit without waiting for
    /// the server's disk (they are not run state: a result lost in a crash is trained again;
    /// the journal is written by the coordinator's own, synchronous, connection).
    pub fn connect_worker(url: &PgUrl) -> Result<Self, PgError> {
        Ok(Self(Arc::new(Db::connect(url, true)?), Arc::new(db::Waker::new(url))))
    }

    /// The URL with its password masked.
    pub fn shown(&self) -> &str {
        self.0.shown()
    }

    /// The run named `name` (which may not exist yet).
    pub fn run(&self, name: &str) -> PgStorage {
        PgStorage { db: self.clone(), name: name.to_string(), id: None, locked: false }
    }

    /// The trial queue of every run in the database (what workers claim from).
    pub fn queue(&self) -> PgQueue {
        PgQueue { db: self.clone() }
    }
}

/// One run in the database (see the crate documentation).
#[derive(Debug)]
pub struct PgStorage {
    db: Database,
    name: String,
    /// The run's row id, once known.
    id: Option<i64>,
    locked: bool,
}

fn io(location: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Io { path: location.to_string(), message: e.to_string() }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Other(PgError::Corrupt(format!("{what}: {e}")))
}

impl PgStorage {
    fn err(&self) -> impl Fn(PgError) -> StorageError + '_ {
        move |e| match e {
            PgError::Corrupt(m) => io(&self.location(), m),
            other => StorageError::Io { path: format!("run {}", self.name), message: other.to_string() },
        }
    }

    fn id(&self) -> Result<i64, StorageError> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        self.lookup()?.ok_or_else(|| io(&self.location(), "no such run"))
    }

    fn lookup(&self) -> Result<Option<i64>, StorageError> {
        let name = self.name.clone();
        self.db
            .0
            .with(|c| Ok(c.query_opt("SELECT id FROM mlpnas_runs WHERE name = $1", &[&name])?.map(|r| r.get(0))))
            .map_err(self.err())
    }

    fn need_lock(&self) -> Result<i64, StorageError> {
        if !self.locked {
            return Err(io(&self.location(), "not locked for writing"));
        }
        self.id()
    }
}

impl RunStorage for PgStorage {
    fn location(&self) -> String {
        format!("run {} at {}", self.name, self.db.shown())
    }
    fn local_dir(&self) -> Option<&std::path::Path> {
        None
    }
    fn run_name(&self) -> String {
        self.name.clone()
    }
    fn exists(&self) -> Result<bool, StorageError> {
        Ok(self.lookup()?.is_some())
    }
    fn lock(&mut self) -> Result<Vec<String>, StorageError> {
        if self.locked {
            return Ok(Vec::new());
        }
        if !self.db.0.lock_run(&self.name).map_err(self.err())? {
            let name = self.name.clone();
            let holder: Option<String> = self
                .db
                .0
                .with(|c| {
                    Ok(c.query_opt("SELECT holder FROM mlpnas_runs WHERE name = $1", &[&name])?
                        .and_then(|r| r.get::<_, Option<String>>(0)))
                })
                .map_err(self.err())?;
            return Err(StorageError::Locked {
                run: self.location(),
                holder: holder.unwrap_or_else(|| "a coordinator of this run".into()),
            });
        }
        self.locked = true;
        self.id = self.lookup()?;
        if let Some(id) = self.id {
            let holder = holder();
            self.db
                .0
                .with(|c| Ok(c.execute("UPDATE mlpnas_runs SET holder = $2 WHERE id = $1", &[&id, &holder])?))
                .map_err(self.err())?;
        }
        Ok(Vec::new())
    }
    fn create(&mut self, config: &str) -> Result<(), StorageError> {
        if !self.locked {
            return Err(io(&self.location(), "not locked for writing"));
        }
        let (name, config, holder) = (self.name.clone(), config.to_string(), holder());
        let version = env!("CARGO_PKG_VERSION").to_string();
        let id: Option<i64> = self
            .db
            .0
            .with(|c| {
                Ok(c.query_opt(
                    "INSERT INTO mlpnas_runs (name, config, version, holder) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name, &config, &version, &holder],
                )?
                .map(|r| r.get(0)))
            })
            .map_err(self.err())?;
        match id {
            Some(id) => {
                self.id = Some(id);
                Ok(())
            }
            None => Err(io(
                &self.location(),
                "a run of this name already exists; choose another --name, or continue it with --resume",
            )),
        }
    }
    fn read_config(&self) -> Result<String, StorageError> {
        let name = self.name.clone();
        let c: Option<String> = self
            .db
            .0
            .with(|c| Ok(c.query_opt("SELECT config FROM mlpnas_runs WHERE name = $1", &[&name])?.map(|r| r.get(0))))
            .map_err(self.err())?;
        c.ok_or_else(|| io(&self.location(), "no such run"))
    }
    fn write_config(&mut self, config: &str) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let config = config.to_string();
        self.db
            .0
            .with(|c| Ok(c.execute("UPDATE mlpnas_runs SET config = $2 WHERE id = $1", &[&id, &config])?))
            .map_err(self.err())?;
        Ok(())
    }
    fn read_trials(&self) -> Result<TrialLog, StorageError> {
        self.read_trials_since(0, 0).map(|(log, _)| log)
    }
    /// Rows from trial `from` on: the database reads only those (no mark needed).
    fn read_trials_since(&self, from: usize, _mark: u64) -> Result<(TrialLog, u64), StorageError> {
        let id = self.id()?;
        let from = from as i32;
        let records = self
            .db
            .0
            .with(|c| {
                c.query(
                    "SELECT record FROM mlpnas_trials WHERE run = $1 AND trial >= $2 ORDER BY trial",
                    &[&id, &from],
                )?
                .into_iter()
                .map(|r| {
                    let text: String = r.get(0);
                    serde_json::from_str::<TrialRecord>(&text).map_err(|e| corrupt("a journaled trial", e))
                })
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(self.err())?;
        Ok((TrialLog { records, warnings: Vec::new() }, 0))
    }
    fn writer(&self) -> Result<Option<String>, StorageError> {
        let name = self.name.clone();
        self.db
            .0
            .with(|c| {
                Ok(c.query_opt(
                    "SELECT coalesce(r.holder, 'a coordinator of this run') FROM mlpnas_runs r WHERE r.name = $2 \
                     AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                         AND l.classid = $1::int::oid AND l.objid = hashtext(r.name)::oid AND l.objsubid = 2)",
                    &[&db::LOCK_SPACE, &name],
                )?
                .map(|r| r.get(0)))
            })
            .map_err(self.err())
    }
    fn append_trial(
        &mut self,
        record: &TrialRecord,
        puts: Option<&[(BigramKey, LayerWeights)]>,
    ) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let text = serde_json::to_string(record).map_err(|e| io(&self.location(), e))?;
        let body = match puts {
            Some(p) => Some(codec::encode_puts(p.iter().map(|(k, w)| (k, w))).map_err(|e| io(&self.location(), e))?),
            None => None,
        };
        let trial = record.trial as i32;
        let reward = record.reward;
        let location = self.location();
        self.db
            .0
            .with(|c| {
                // One statement (one transaction): the puts, then the record. The primary key
                // makes a trial appear at most once; a retry after a lost commit finds its own line.
                let inserted: i64 = c
                    .query_one(
                        "WITH p AS ( \
                             INSERT INTO mlpnas_puts (run, trial, body) SELECT $1, $2, $3 WHERE $3::bytea IS NOT NULL \
                             ON CONFLICT (run, trial) DO UPDATE SET body = EXCLUDED.body RETURNING 1), \
                         t AS ( \
                             INSERT INTO mlpnas_trials (run, trial, reward, record) VALUES ($1, $2, $4, $5) \
                             ON CONFLICT (run, trial) DO NOTHING RETURNING 1) \
                         SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM p)",
                        &[&id, &trial, &body, &reward, &text],
                    )?
                    .get(0);
                if inserted == 0 {
                    let old: String = c
                        .query_one("SELECT record FROM mlpnas_trials WHERE run = $1 AND trial = $2", &[&id, &trial])?
                        .get(0);
                    if old != text {
                        return Err(Failure::Other(PgError::Corrupt(format!(
                            "{location}: trial {trial} is journaled already, with another result"
                        ))));
                    }
                }
                Ok(())
            })
            .map_err(self.err())
    }
    fn read_puts(&self, trial: usize) -> Result<Vec<(BigramKey, LayerWeights)>, StorageError> {
        let id = self.id()?;
        let t = trial as i32;
        let body: Option<Vec<u8>> = self
            .db
            .0
            .with(|c| {
                Ok(c.query_opt("SELECT body FROM mlpnas_puts WHERE run = $1 AND trial = $2", &[&id, &t])?
                    .map(|r| r.get(0)))
            })
            .map_err(self.err())?;
        match body {
            Some(b) => {
                codec::decode_puts(&b).map_err(|e| io(&format!("{} (puts of trial {trial})", self.location()), e))
            }
            None => Err(io(&self.location(), format!("the store puts of trial {trial} are missing"))),
        }
    }
    fn append_epoch(&mut self, report: &EpochReport) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let text = serde_json::to_string(report).map_err(|e| io(&self.location(), e))?;
        let epoch = report.epoch as i32;
        self.db
            .0
            .with(|c| {
                Ok(c.execute(
                    "INSERT INTO mlpnas_epochs (run, epoch, report) VALUES ($1, $2, $3) \
                     ON CONFLICT (run, epoch) DO UPDATE SET report = EXCLUDED.report",
                    &[&id, &epoch, &text],
                )?)
            })
            .map_err(self.err())?;
        Ok(())
    }
    fn read_epochs(&self) -> Result<Vec<EpochReport>, StorageError> {
        let id = self.id()?;
        self.db
            .0
            .with(|c| {
                c.query("SELECT report FROM mlpnas_epochs WHERE run = $1 ORDER BY epoch", &[&id])?
                    .into_iter()
                    .map(|r| {
                        serde_json::from_str::<EpochReport>(&r.get::<_, String>(0))
                            .map_err(|e| corrupt("a controller epoch", e))
                    })
                    .collect()
            })
            .map_err(self.err())
    }
    fn keep_epochs_before(&mut self, epoch: usize) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let e = epoch as i32;
        self.db
            .0
            .with(|c| Ok(c.execute("DELETE FROM mlpnas_epochs WHERE run = $1 AND epoch >= $2", &[&id, &e])?))
            .map_err(self.err())?;
        Ok(())
    }
    fn write_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
        controller: &[u8],
        store: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let meta = serde_json::to_string(checkpoint).map_err(|e| io(&self.location(), e))?;
        let covered = checkpoint.trials as i32;
        self.db
            .0
            .with(|c| {
                let mut tx = c.transaction()?;
                tx.execute(
                    "INSERT INTO mlpnas_checkpoints (run, meta, controller, store) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run) DO UPDATE SET meta = EXCLUDED.meta, controller = EXCLUDED.controller, \
                     store = EXCLUDED.store",
                    &[&id, &meta, &controller, &store],
                )?;
                tx.execute("DELETE FROM mlpnas_puts WHERE run = $1 AND trial < $2", &[&id, &covered])?;
                Ok(tx.commit()?)
            })
            .map_err(self.err())
    }
    fn read_checkpoint(&self) -> Result<Option<CheckpointState>, StorageError> {
        let id = self.id()?;
        self.db
            .0
            .with(|c| {
                let Some(r) =
                    c.query_opt("SELECT meta, controller, store FROM mlpnas_checkpoints WHERE run = $1", &[&id])?
                else {
                    return Ok(None);
                };
                let ck: Checkpoint =
                    serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| corrupt("the checkpoint", e))?;
                Ok(Some((ck, r.get(1), r.get(2))))
            })
            .map_err(self.err())
    }
    fn write_summary(&mut self, summary: &Summary) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let text = serde_json::to_string(summary).map_err(|e| io(&self.location(), e))?;
        self.db
            .0
            .with(|c| Ok(c.execute("UPDATE mlpnas_runs SET summary = $2 WHERE id = $1", &[&id, &text])?))
            .map_err(self.err())?;
        Ok(())
    }
    fn read_summary(&self) -> Result<Option<Summary>, StorageError> {
        let id = self.id()?;
        self.db
            .0
            .with(|c| {
                let text: Option<String> = c.query_one("SELECT summary FROM mlpnas_runs WHERE id = $1", &[&id])?.get(0);
                text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("the summary", e))).transpose()
            })
            .map_err(self.err())
    }
    fn clear_summary(&mut self) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        self.db
            .0
            .with(|c| Ok(c.execute("UPDATE mlpnas_runs SET summary = NULL WHERE id = $1", &[&id])?))
            .map_err(self.err())?;
        Ok(())
    }
    fn queue(&self) -> Option<Arc<dyn TrialQueue>> {
        Some(Arc::new(self.db.queue()))
    }
    fn publish_data(&mut self, data: &DataSplit) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let bytes = codec::encode_split(data).map_err(|e| io(&self.location(), e))?;
        let hash: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        self.db
            .0
            .with(|c| {
                let mut tx = c.transaction()?;
                tx.execute(
                    "INSERT INTO mlpnas_data (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                    &[&hash, &bytes],
                )?;
                tx.execute("UPDATE mlpnas_runs SET data_hash = $2 WHERE id = $1", &[&id, &hash])?;
                Ok(tx.commit()?)
            })
            .map_err(self.err())
    }
}

/// Who holds a run: pid, host and start time.
fn holder() -> String {
    format!("pid {} on {}", std::process::id(), mlpnas_core::host_name())
}

/// The trial queue of a database (see [`TrialQueue`]).
#[derive(Debug, Clone)]
pub struct PgQueue {
    db: Database,
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
}

fn qerr(e: PgError) -> StorageError {
    StorageError::Io { path: "trial queue".into(), message: e.to_string() }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl TrialQueue for PgQueue {
    fn submit(&self, run: &str, backend: &str, tasks: &[TrialTask]) -> Result<(), StorageError> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        let (mut trials, mut tokens, mut seeds, mut inits) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for t in tasks {
            trials.push(t.trial as i32);
            tokens.push(serde_json::to_string(&t.tokens).map_err(|e| io("trial queue", e))?);
            seeds.push(t.seed as i64);
            inits.push(codec::encode_init(&t.init).map_err(|e| io("trial queue", e))?);
        }
        let (run, backend) = (run.to_string(), backend.to_string());
        // One statement: the batch's tasks, and a wake-up for idle workers. A task queued
        // before (a resumed coordinator) keeps its claim and result, unless what it asks for
        // changed (the batch size changed on resume): then it is queued afresh, as a new
        // attempt, so that no result of the old task is taken for the new one.
        self.db
            .0
            .with(|c| {
                c.execute(
                    "WITH r AS (SELECT id FROM mlpnas_runs WHERE name = $1), \
                     ins AS ( \
                         INSERT INTO mlpnas_tasks AS t (run, run_name, trial, backend, version, tokens, seed, init) \
                         SELECT r.id, $1, x.trial, $2, $3, x.tokens, x.seed, x.init \
                         FROM r, unnest($4::int[], $5::text[], $6::bigint[], $7::bytea[]) AS x(trial, tokens, seed, init) \
                         ON CONFLICT (run, trial) DO UPDATE SET backend = EXCLUDED.backend, version = EXCLUDED.version, \
                             tokens = EXCLUDED.tokens, seed = EXCLUDED.seed, init = EXCLUDED.init, state = 'queued', \
                             attempt = t.attempt + 1, worker = NULL, lease_until = NULL, result = NULL, weights = NULL, \
                             seconds = NULL \
                         WHERE (t.backend, t.version, t.tokens, t.seed, t.init) \
                             IS DISTINCT FROM (EXCLUDED.backend, EXCLUDED.version, EXCLUDED.tokens, EXCLUDED.seed, EXCLUDED.init) \
                         RETURNING 1), \
                     woke AS (SELECT pg_notify($8, 'tasks')) \
                     SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM woke), (SELECT count(*) FROM r)",
                    &[&run, &backend, &version, &trials, &tokens, &seeds, &inits, &db::CHANNEL],
                )?;
                Ok(())
            })
            .map_err(qerr)
    }

    #[allow(clippy::type_complexity)]
    fn results(&self, run: &str, trials: &[usize]) -> Result<Vec<(usize, Result<TrialResult, String>)>, StorageError> {
        let run = run.to_string();
        let wanted: Vec<i32> = trials.iter().map(|&t| t as i32).collect();
        self.db
            .0
            .with(|c| {
                let rows = c.query(
                    "SELECT trial, state, result, weights, seconds, worker FROM mlpnas_tasks \
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
                        Some(b) => codec::decode_layers(&b)
                            .map_err(|e| corrupt(&format!("the weights of trial {trial}"), e))?,
                        None => Vec::new(),
                    };
                    let result = TrialResult {
                        outcome: TrainOutcome { epochs: o.epochs, diverged: o.diverged, weights, measured: o.measured },
                        seconds: r.get::<_, Option<f64>>(4).unwrap_or(0.0),
                        worker: r.get::<_, Option<String>>(5).unwrap_or_default(),
                    };
                    out.push((trial as usize, Ok(result)));
                }
                Ok(out)
            })
            .map_err(qerr)
    }

    fn retire(&self, run: &str, trials: &[usize]) -> Result<(), StorageError> {
        let run = run.to_string();
        let t: Vec<i32> = trials.iter().map(|&t| t as i32).collect();
        self.db
            .0
            .with(|c| Ok(c.execute("DELETE FROM mlpnas_tasks WHERE run_name = $1 AND trial = ANY($2)", &[&run, &t])?))
            .map_err(qerr)?;
        Ok(())
    }

    fn claim(&self, who: &Claimant) -> Result<Option<Claim>, StorageError> {
        let lease = secs(who.lease);
        let runs: Option<Vec<String>> = who.runs.clone();
        let (worker, version, backends) = (who.worker.clone(), who.version.clone(), who.backends.clone());
        let skip = who.skip.clone();
        // One table, one statement: the inner SELECT skips rows other claimers hold, the UPDATE
        // takes the first it finds and bumps its attempt (the fencing token).
        let row = self
            .db
            .0
            .with(|c| {
                Ok(c.query_opt(
                    "UPDATE mlpnas_tasks SET state = 'running', attempt = attempt + 1, worker = $1, \
                         lease_until = clock_timestamp() + make_interval(secs => $2) \
                     WHERE (run, trial) = ( \
                         SELECT run, trial FROM mlpnas_tasks \
                         WHERE (state = 'queued' OR (state = 'running' AND lease_until < clock_timestamp())) \
                           AND version = $3 AND backend = ANY($4) \
                           AND ($5::text[] IS NULL OR run_name = ANY($5)) AND run_name <> ALL($6) \
                         ORDER BY run, trial LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING run_name, trial, attempt, tokens, seed, init",
                    &[&worker, &lease, &version, &backends, &runs, &skip],
                )?)
            })
            .map_err(qerr)?;
        let Some(r) = row else { return Ok(None) };
        let run: String = r.get(0);
        let trial: i32 = r.get(1);
        let attempt: i32 = r.get(2);
        let tokens = serde_json::from_str(&r.get::<_, String>(3))
            .map_err(|e| io("trial queue", format!("trial {trial} of run {run}: tokens: {e}")))?;
        let seed: i64 = r.get(4);
        let init = codec::decode_init(&r.get::<_, Vec<u8>>(5))
            .map_err(|e| io("trial queue", format!("trial {trial} of run {run}: initial weights: {e}")))?;
        Ok(Some(Claim {
            run,
            attempt: attempt as u32,
            task: TrialTask { trial: trial as usize, tokens, seed: seed as u64, init },
            lease: who.lease,
        }))
    }

    fn renew(&self, claim: &Claim) -> Result<bool, StorageError> {
        let (run, trial, attempt) = (claim.run.clone(), claim.task.trial as i32, claim.attempt as i32);
        let lease = secs(claim.lease);
        self.db
            .0
            .with(|c| {
                Ok(c.execute(
                    "UPDATE mlpnas_tasks SET lease_until = clock_timestamp() + make_interval(secs => $4) \
                     WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running'",
                    &[&run, &trial, &attempt, &lease],
                )? == 1)
            })
            .map_err(qerr)
    }

    fn complete(&self, claim: &Claim, result: &TrialResult) -> Result<bool, StorageError> {
        let o = StoredOutcome {
            epochs: result.outcome.epochs.clone(),
            diverged: result.outcome.diverged,
            error: None,
            measured: result.outcome.measured,
        };
        let text = serde_json::to_string(&o).map_err(|e| io("trial queue", e))?;
        let weights = if result.outcome.weights.is_empty() {
            None
        } else {
            Some(codec::encode_layers(&result.outcome.weights, &[]).map_err(|e| io("trial queue", e))?)
        };
        let (run, trial, attempt) = (claim.run.clone(), claim.task.trial as i32, claim.attempt as i32);
        let (seconds, worker) = (result.seconds, result.worker.clone());
        self.db
            .0
            .with(|c| {
                // Fencing: only the trial's current attempt writes (again, if this is a retry of
                // its own lost commit: the same result). One statement, so one transaction.
                let row = c.query_one(
                    "WITH done AS ( \
                         UPDATE mlpnas_tasks SET state = 'done', result = $4, weights = $5, seconds = $6, \
                             worker = $7, lease_until = NULL \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state IN ('running', 'done') \
                         RETURNING run), \
                     seen AS ( \
                         INSERT INTO mlpnas_run_workers (run, worker, trials) SELECT run, $7, 1 FROM done \
                         ON CONFLICT (run, worker) DO UPDATE SET trials = mlpnas_run_workers.trials + 1, \
                             last_seen = now() \
                         RETURNING 1), \
                     woke AS (SELECT pg_notify($8, 'result') FROM done) \
                     SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM seen), (SELECT count(*) FROM woke)",
                    &[&run, &trial, &attempt, &text, &weights, &seconds, &worker, &db::CHANNEL],
                )?;
                Ok(row.get::<_, i64>(0) == 1)
            })
            .map_err(qerr)
    }

    fn release(&self, claim: &Claim) -> Result<bool, StorageError> {
        let (run, trial, attempt) = (claim.run.clone(), claim.task.trial as i32, claim.attempt as i32);
        self.db
            .0
            .with(|c| {
                let row = c.query_one(
                    "WITH back AS ( \
                         UPDATE mlpnas_tasks SET state = 'queued', worker = NULL, lease_until = NULL \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running' RETURNING 1), \
                     woke AS (SELECT pg_notify($4, 'tasks') FROM back) \
                     SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM woke)",
                    &[&run, &trial, &attempt, &db::CHANNEL],
                )?;
                Ok(row.get::<_, i64>(0) == 1)
            })
            .map_err(qerr)
    }

    fn fail(&self, claim: &Claim, message: &str) -> Result<bool, StorageError> {
        let o = StoredOutcome { epochs: Vec::new(), diverged: false, error: Some(message.to_string()), measured: None };
        let text = serde_json::to_string(&o).map_err(|e| io("trial queue", e))?;
        let (run, trial, attempt) = (claim.run.clone(), claim.task.trial as i32, claim.attempt as i32);
        self.db
            .0
            .with(|c| {
                let row = c.query_one(
                    "WITH failed AS ( \
                         UPDATE mlpnas_tasks SET state = 'failed', result = $4, lease_until = NULL \
                         WHERE run_name = $1 AND trial = $2 AND attempt = $3 AND state = 'running' RETURNING 1), \
                     woke AS (SELECT pg_notify($5, 'result') FROM failed) \
                     SELECT (SELECT count(*) FROM failed), (SELECT count(*) FROM woke)",
                    &[&run, &trial, &attempt, &text, &db::CHANNEL],
                )?;
                Ok(row.get::<_, i64>(0) == 1)
            })
            .map_err(qerr)
    }

    fn run_config(&self, run: &str) -> Result<String, StorageError> {
        let run = run.to_string();
        let c: Option<String> = self
            .db
            .0
            .with(|c| Ok(c.query_opt("SELECT config FROM mlpnas_runs WHERE name = $1", &[&run])?.map(|r| r.get(0))))
            .map_err(qerr)?;
        c.ok_or_else(|| io("trial queue", format!("run {run} does not exist")))
    }

    fn changes(&self) -> u64 {
        self.db.1.changes()
    }

    fn wait_for_change(&self, seen: u64, timeout: Duration) {
        self.db.1.wait(seen, timeout);
    }

    fn run_data(&self, run: &str) -> Result<DataSplit, StorageError> {
        let name = run.to_string();
        let bytes: Option<Vec<u8>> = self
            .db
            .0
            .with(|c| {
                Ok(c.query_opt(
                    "SELECT d.bytes FROM mlpnas_runs r JOIN mlpnas_data d ON d.hash = r.data_hash WHERE r.name = $1",
                    &[&name],
                )?
                .map(|r| r.get(0)))
            })
            .map_err(qerr)?;
        let bytes = bytes.ok_or_else(|| io("trial queue", format!("run {run} has no published data")))?;
        codec::decode_split(&bytes).map_err(|e| io("trial queue", format!("the data of run {run}: {e}")))
    }
}

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
    db.0.with(|c: &mut Client| {
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
            &[&db::LOCK_SPACE],
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

/// Where `--storage` points: parsed once at the edge.
pub fn open(url: &str) -> Result<Database, PgError> {
    let url: PgUrl = url.parse().map_err(PgError::Connect)?;
    Database::connect(&url)
}

/// [`open`] for a worker ([`Database::connect_worker`]).
pub fn open_worker(url: &str) -> Result<Database, PgError> {
    let url: PgUrl = url.parse().map_err(PgError::Connect)?;
    Database::connect_worker(&url)
}
