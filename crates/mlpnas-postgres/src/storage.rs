//! [`PgStorage`]: one run as rows ([`RunStorage`]): its config, journal, store puts, controller
//! epochs, checkpoint and summary, under the run's name. Every call goes through
//! [`PgStorage::call`] (the shared connection, reconnected with backoff; statements prepared
//! once per connection); every write is one statement or one transaction, safe to run twice.

use std::sync::Arc;

use mlpnas_core::codec;
use mlpnas_core::{
    BigramKey, Checkpoint, CheckpointState, DataSplit, DataSummary, EpochReport, LayerWeights, RunStorage,
    StorageError, Summary, TrialLog, TrialQueue, TrialRecord,
};

use crate::conn::Conn;
use crate::database::Database;
use crate::error::Failure;
use crate::error::PgError;
use crate::error::{corrupt, io};
use crate::migrations::LOCK_SPACE;

/// One run in the database (see the crate documentation).
#[derive(Debug)]
pub struct PgStorage {
    db: Database,
    name: String,
    /// The run's row id, once known.
    id: Option<i64>,
    locked: bool,
}

impl Database {
    /// The run named `name` (which may not exist yet).
    pub fn run(&self, name: &str) -> PgStorage {
        PgStorage::new(self.clone(), name)
    }
}

impl PgStorage {
    /// The run named `name` in `db` (which may not exist yet).
    pub(crate) fn new(db: Database, name: &str) -> Self {
        Self { db, name: name.to_string(), id: None, locked: false }
    }

    /// Runs `f` on the database's connection ([`Database::with`]), a failure as one line about
    /// this run.
    fn call<T>(&self, f: impl FnMut(&mut Conn) -> Result<T, Failure>) -> Result<T, StorageError> {
        self.db.with(f).map_err(|e| self.err(e))
    }

    fn err(&self, e: PgError) -> StorageError {
        match e {
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
        self.call(|c| Ok(c.query_opt("SELECT id FROM mlpnas_runs WHERE name = $1", &[&self.name])?.map(|r| r.get(0))))
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
        let t0 = std::time::Instant::now();
        while !self.db.lock_run(&self.name).map_err(|e| self.err(e))? {
            let holder: Option<String> = self.call(|c| {
                Ok(c.query_opt("SELECT holder FROM mlpnas_runs WHERE name = $1", &[&self.name])?
                    .and_then(|r| r.get::<_, Option<String>>(0)))
            })?;
            // A holder that died on this host (SIGKILL) still holds the lock until its server
            // session notices the closed socket: wait for that rather than refuse.
            if holder.as_deref().is_some_and(died_here) && t0.elapsed() < DEAD_HOLDER_GRACE {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            return Err(StorageError::Locked {
                run: self.location(),
                holder: holder.unwrap_or_else(|| "a coordinator of this run".into()),
            });
        }
        self.locked = true;
        self.id = self.lookup()?;
        if let Some(id) = self.id {
            let holder = holder();
            self.call(|c| Ok(c.execute("UPDATE mlpnas_runs SET holder = $2 WHERE id = $1", &[&id, &holder])?))?;
        }
        Ok(Vec::new())
    }
    fn create(&mut self, config: &str) -> Result<(), StorageError> {
        if !self.locked {
            return Err(io(&self.location(), "not locked for writing"));
        }
        let holder = holder();
        let version = env!("CARGO_PKG_VERSION");
        let id: Option<i64> = self.call(|c| {
            Ok(c.query_opt(
                "INSERT INTO mlpnas_runs (name, config, version, holder) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&self.name, &config, &version, &holder],
            )?
            .map(|r| r.get(0)))
        })?;
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
        let c: Option<String> = self.call(|c| {
            Ok(c.query_opt("SELECT config FROM mlpnas_runs WHERE name = $1", &[&self.name])?.map(|r| r.get(0)))
        })?;
        c.ok_or_else(|| io(&self.location(), "no such run"))
    }
    fn write_config(&mut self, config: &str) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        self.call(|c| Ok(c.execute("UPDATE mlpnas_runs SET config = $2 WHERE id = $1", &[&id, &config])?))?;
        Ok(())
    }
    fn read_trials(&self) -> Result<TrialLog, StorageError> {
        self.read_trials_since(0, 0).map(|(log, _)| log)
    }
    /// Rows from trial `from` on: the database reads only those (no mark needed).
    fn read_trials_since(&self, from: usize, _mark: u64) -> Result<(TrialLog, u64), StorageError> {
        let id = self.id()?;
        let from = from as i32;
        let records = self.call(|c| {
            c.query("SELECT record FROM mlpnas_trials WHERE run = $1 AND trial >= $2 ORDER BY trial", &[&id, &from])?
                .into_iter()
                .map(|r| {
                    let text: String = r.get(0);
                    serde_json::from_str::<TrialRecord>(&text).map_err(|e| corrupt("a journaled trial", e))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok((TrialLog { records, warnings: Vec::new() }, 0))
    }
    fn writer(&self) -> Result<Option<String>, StorageError> {
        self.call(|c| {
            Ok(c.query_opt(
                "SELECT coalesce(r.holder, 'a coordinator of this run') FROM mlpnas_runs r WHERE r.name = $2 \
                 AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
                     AND l.classid = $1::int::oid AND l.objid = hashtext(r.name)::oid AND l.objsubid = 2)",
                &[&LOCK_SPACE, &self.name],
            )?
            .map(|r| r.get(0)))
        })
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
        self.call(|c| {
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
    }
    fn read_puts(&self, trial: usize) -> Result<Vec<(BigramKey, LayerWeights)>, StorageError> {
        let id = self.id()?;
        let t = trial as i32;
        let body: Option<Vec<u8>> = self.call(|c| {
            Ok(c.query_opt("SELECT body FROM mlpnas_puts WHERE run = $1 AND trial = $2", &[&id, &t])?.map(|r| r.get(0)))
        })?;
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
        self.call(|c| {
            Ok(c.execute(
                "INSERT INTO mlpnas_epochs (run, epoch, report) VALUES ($1, $2, $3) \
                 ON CONFLICT (run, epoch) DO UPDATE SET report = EXCLUDED.report",
                &[&id, &epoch, &text],
            )?)
        })?;
        Ok(())
    }
    fn read_epochs(&self) -> Result<Vec<EpochReport>, StorageError> {
        let id = self.id()?;
        self.call(|c| {
            c.query("SELECT report FROM mlpnas_epochs WHERE run = $1 ORDER BY epoch", &[&id])?
                .into_iter()
                .map(|r| {
                    serde_json::from_str::<EpochReport>(&r.get::<_, String>(0))
                        .map_err(|e| corrupt("a controller epoch", e))
                })
                .collect()
        })
    }
    fn keep_epochs_before(&mut self, epoch: usize) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let e = epoch as i32;
        self.call(|c| Ok(c.execute("DELETE FROM mlpnas_epochs WHERE run = $1 AND epoch >= $2", &[&id, &e])?))?;
        Ok(())
    }
    fn write_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
        controller: &[u8],
        store: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let sealed = checkpoint.clone().sealed(controller, store);
        let meta = serde_json::to_string(&sealed).map_err(|e| io(&self.location(), e))?;
        let covered = checkpoint.trials as i32;
        self.call(|c| {
            let put = c.prepare(
                "INSERT INTO mlpnas_checkpoints (run, meta, controller, store) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run) DO UPDATE SET meta = EXCLUDED.meta, controller = EXCLUDED.controller, \
                 store = EXCLUDED.store",
            )?;
            let prune = c.prepare("DELETE FROM mlpnas_puts WHERE run = $1 AND trial < $2")?;
            let mut tx = c.transaction()?;
            tx.execute(&put, &[&id, &meta, &controller, &store])?;
            tx.execute(&prune, &[&id, &covered])?;
            Ok(tx.commit()?)
        })
    }
    fn checkpoint_meta(&self) -> Result<Option<Checkpoint>, StorageError> {
        // The description alone: every verified read of the trials asks for it (the dashboard
        // twice a second), and the controller state and store snapshot may be megabytes.
        let id = self.id()?;
        self.call(|c| {
            let Some(r) = c.query_opt("SELECT meta FROM mlpnas_checkpoints WHERE run = $1", &[&id])? else {
                return Ok(None);
            };
            let ck: Checkpoint =
                serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| corrupt("the checkpoint", e))?;
            Ok(Some(ck))
        })
    }
    fn read_checkpoint(&self) -> Result<Option<CheckpointState>, StorageError> {
        let id = self.id()?;
        self.call(|c| {
            let Some(r) =
                c.query_opt("SELECT meta, controller, store FROM mlpnas_checkpoints WHERE run = $1", &[&id])?
            else {
                return Ok(None);
            };
            let ck: Checkpoint =
                serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| corrupt("the checkpoint", e))?;
            let (controller, store): (Vec<u8>, Option<Vec<u8>>) = (r.get(1), r.get(2));
            ck.verify(&controller, store.as_deref()).map_err(|m| corrupt("the checkpoint", m))?;
            Ok(Some((ck, controller, store)))
        })
    }
    fn write_summary(&mut self, summary: &Summary) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let text = serde_json::to_string(summary).map_err(|e| io(&self.location(), e))?;
        self.call(|c| Ok(c.execute("UPDATE mlpnas_runs SET summary = $2 WHERE id = $1", &[&id, &text])?))?;
        Ok(())
    }
    fn read_summary(&self) -> Result<Option<Summary>, StorageError> {
        let id = self.id()?;
        self.call(|c| {
            let text: Option<String> = c.query_one("SELECT summary FROM mlpnas_runs WHERE id = $1", &[&id])?.get(0);
            text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("the summary", e))).transpose()
        })
    }
    fn clear_summary(&mut self) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        self.call(|c| Ok(c.execute("UPDATE mlpnas_runs SET summary = NULL WHERE id = $1", &[&id])?))?;
        Ok(())
    }
    fn write_data_summary(&mut self, summary: &DataSummary) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let text = serde_json::to_string(summary).map_err(|e| io(&self.location(), e))?;
        self.call(|c| Ok(c.execute("UPDATE mlpnas_runs SET data_summary = $2 WHERE id = $1", &[&id, &text])?))?;
        Ok(())
    }
    fn read_data_summary(&self) -> Result<Option<DataSummary>, StorageError> {
        let id = self.id()?;
        self.call(|c| {
            let text: Option<String> =
                c.query_one("SELECT data_summary FROM mlpnas_runs WHERE id = $1", &[&id])?.get(0);
            text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("the data summary", e))).transpose()
        })
    }
    fn queue(&self) -> Option<Arc<dyn TrialQueue>> {
        Some(Arc::new(self.db.queue()))
    }
    fn publish_data(&mut self, data: &DataSplit) -> Result<(), StorageError> {
        let id = self.need_lock()?;
        let bytes = codec::encode_split(data).map_err(|e| io(&self.location(), e))?;
        let hash = mlpnas_core::digest::sha256_hex(&bytes);
        self.call(|c| {
            let put =
                c.prepare("INSERT INTO mlpnas_data (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING")?;
            let point = c.prepare("UPDATE mlpnas_runs SET data_hash = $2 WHERE id = $1")?;
            let mut tx = c.transaction()?;
            tx.execute(&put, &[&hash, &bytes])?;
            tx.execute(&point, &[&id, &hash])?;
            Ok(tx.commit()?)
        })
    }
}

/// Who holds a run: pid and host.
fn holder() -> String {
    format!("pid {} on {}", std::process::id(), mlpnas_core::host_name())
}

/// How long [`PgStorage::lock`] waits for the server to end the session of a holder that died
/// on this host (it notices the closed socket within moments; a busy server may take longer).
const DEAD_HOLDER_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether `holder` (as [`holder`] writes it) names a process of this host that no longer runs.
/// `false` whenever that cannot be told (another host, no `/proc`, an unreadable holder).
fn died_here(holder: &str) -> bool {
    let Some((pid, host)) = holder.strip_prefix("pid ").and_then(|r| r.split_once(" on ")) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    host == mlpnas_core::host_name()
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_process_of_this_host_counts_as_died_here() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let host = mlpnas_core::host_name();
        assert!(died_here(&format!("pid {dead} on {host}")));
        assert!(!died_here(&holder()), "this process runs");
        assert!(!died_here(&format!("pid {dead} on another-{host}")), "another host cannot be told");
        assert!(!died_here("a coordinator of this run"));
        assert!(!died_here(&format!("pid x on {host}")));
    }
}
