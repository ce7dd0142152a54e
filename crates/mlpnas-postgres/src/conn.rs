//! The connection: [`Db`] holds one connection to the database ([`Conn`]: the client and the
//! statements prepared on it) and runs every database call through [`Db::with`]: connect, or
//! reconnect with backoff after the server went away (taking the run's advisory lock again),
//! run the call, and turn a failure into one line. A statement is prepared once per connection
//! and reused; a new connection starts with none.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};

use crate::error::Failure;
use crate::error::PgError;
use crate::migrations::{LOCK_SPACE, migrate};
use crate::url::PgUrl;

/// One live connection and the statements prepared on it, by their SQL text (always a literal:
/// values travel as parameters, never as SQL). The first use of a statement on a connection
/// prepares it (one round trip: parse and describe); every later use only binds and executes
/// it (one round trip). The statements die with the connection: a reconnect starts a new
/// `Conn`, with none.
pub(crate) struct Conn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Conn {
    fn new(client: Client) -> Self {
        Self { client, prepared: HashMap::new() }
    }

    /// The statement `sql`, prepared on this connection on its first use.
    pub(crate) fn prepare(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    /// Runs `sql` (prepared once), all its rows.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.query(&s, params)
    }

    /// Runs `sql` (prepared once), at most one row.
    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.query_opt(&s, params)
    }

    /// Runs `sql` (prepared once), exactly one row.
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.query_one(&s, params)
    }

    /// Runs `sql` (prepared once), the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.prepare(sql)?;
        self.client.execute(&s, params)
    }

    /// Begins a transaction; prepare its statements first ([`Conn::prepare`]) and run them on it.
    pub(crate) fn transaction(&mut self) -> Result<Transaction<'_>, postgres::Error> {
        self.client.transaction()
    }

    /// The client itself, for what runs once per connection (the migrations).
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// How many statements this connection has prepared.
    #[cfg(test)]
    pub(crate) fn prepared_count(&self) -> usize {
        self.prepared.len()
    }
}

/// One connection, reconnected with backoff when the server goes away.
pub(crate) struct Db {
    url: PgUrl,
    slot: Mutex<Slot>,
    /// How long to keep reconnecting before giving up.
    retry: Duration,
    /// Commits without waiting for the WAL flush (`synchronous_commit = off`): for workers, whose
    /// writes (claims, heartbeats, results) are not run state. A result lost in a server crash
    /// is trained again; the journal, written by the coordinator, is always flushed.
    async_commit: bool,
}

struct Slot {
    conn: Option<Conn>,
    /// Whether a connection ever succeeded (the first failure of a fresh process is reported at
    /// once: a bad URL, refused connection or wrong password is not a restart).
    connected_once: bool,
    /// The run whose advisory lock this connection holds (taken again after a reconnect).
    locked: Option<String>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.url)
    }
}

impl Db {
    /// Connects to `url`, creating or migrating the schema: one-line errors for a bad URL, a
    /// refused connection, wrong credentials, a missing database, a newer schema.
    pub(crate) fn connect(url: &PgUrl, async_commit: bool) -> Result<Self, PgError> {
        let retry = std::env::var("MLPNAS_PG_RETRY_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(Duration::from_secs(120), Duration::from_secs_f64);
        let db = Self {
            url: url.clone(),
            slot: Mutex::new(Slot { conn: None, connected_once: false, locked: None }),
            retry,
            async_commit,
        };
        let shown = db.url.shown().to_string();
        db.with(|c| migrate(c.client(), &shown))?;
        Ok(db)
    }

    /// The URL, password masked.
    pub(crate) fn shown(&self) -> &str {
        self.url.shown()
    }

    /// Runs `f` on the connection; on a lost connection, reconnects with backoff (taking the
    /// run's lock again if this connection held it) and runs `f` again, for up to the retry
    /// window. `f` must be safe to run twice (each write is one transaction, and idempotent).
    /// A prepared statement the server no longer knows (a pooler's `DISCARD ALL`, a column
    /// type changed by a newer mlpnas) is prepared afresh and `f` run again, once.
    pub(crate) fn with<T>(&self, mut f: impl FnMut(&mut Conn) -> Result<T, Failure>) -> Result<T, PgError> {
        let mut slot = self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut prepared_afresh = false;
        loop {
            if slot.conn.is_none() {
                match self.url.connect() {
                    Ok(c) => {
                        let mut conn = Conn::new(c);
                        if self.async_commit {
                            conn.client.batch_execute("SET synchronous_commit = off").map_err(|e| self.err(&e))?;
                        }
                        if let Some(name) = slot.locked.clone()
                            && !try_lock(&mut conn, &name).map_err(|e| self.err(&e))?
                        {
                            slot.locked = None;
                            return Err(PgError::LostLock(format!(
                                "run {name} at {}: the run's lock was lost while the database was away and another process holds it now",
                                self.url.shown()
                            )));
                        }
                        slot.conn = Some(conn);
                        slot.connected_once = true;
                    }
                    Err(e) if slot.connected_once && start.elapsed() < self.retry => {
                        let _ = e;
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(2));
                        continue;
                    }
                    Err(e) => return Err(self.connect_err(&e)),
                }
            }
            let Some(conn) = slot.conn.as_mut() else { continue };
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(Failure::Pg(e)) if !prepared_afresh && is_stale_statement(&e) => {
                    conn.prepared.clear();
                    prepared_afresh = true;
                }
                Err(Failure::Pg(e)) if is_connection_loss(&e) && start.elapsed() < self.retry => {
                    slot.conn = None;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(Failure::Pg(e)) => {
                    if is_connection_loss(&e) {
                        slot.conn = None;
                    }
                    return Err(self.err(&e));
                }
                Err(Failure::Other(e)) => return Err(e),
            }
        }
    }

    /// Takes the advisory lock of run `name` on this connection (held until the process ends,
    /// taken again after a reconnect); `false` when another session holds it.
    pub(crate) fn lock_run(&self, name: &str) -> Result<bool, PgError> {
        let got = self.with(|c| try_lock(c, name).map_err(Failure::Pg))?;
        if got {
            self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).locked = Some(name.to_string());
        }
        Ok(got)
    }

    fn err(&self, e: &postgres::Error) -> PgError {
        PgError::Database(format!("{}: {}", self.url.shown(), one_line(e)))
    }

    fn connect_err(&self, e: &postgres::Error) -> PgError {
        let shown = self.url.shown();
        let text = one_line(e);
        let hint = match e.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                " (wrong user or password: give it in the URL, PGPASSWORD or ~/.pgpass)"
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => " (create it first: createdb NAME)",
            _ if text.contains("refused") => " (is PostgreSQL running there?)",
            _ => "",
        };
        PgError::Connect(format!("{shown}: cannot connect: {text}{hint}"))
    }
}

fn try_lock(c: &mut Conn, name: &str) -> Result<bool, postgres::Error> {
    c.query_one("SELECT pg_try_advisory_lock($1, hashtext($2))", &[&LOCK_SPACE, &name]).map(|r| r.get(0))
}

/// Whether `e` means the connection is gone (the server restarted or shut down), as opposed to
/// a statement the server refused.
fn is_connection_loss(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        }
        // No SQLSTATE: an I/O error on the socket.
        None => e.as_db_error().is_none(),
    }
}

/// Whether `e` means a statement prepared earlier on this connection is gone or out of date:
/// deallocated behind our back, or planned for a column type that has changed since.
fn is_stale_statement(e: &postgres::Error) -> bool {
    match e.code() {
        Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME => true,
        Some(c) if *c == SqlState::FEATURE_NOT_SUPPORTED => {
            e.as_db_error().is_some_and(|d| d.message().contains("cached plan must not change result type"))
        }
        _ => false,
    }
}

/// A postgres error as one line: the server's message (and detail) or the client's.
fn one_line(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                src = inner.source();
            }
            s
        }
    };
    text.replace('\n', " ")
}
