//! [`Db`]: one connection to the database, its URL and credentials, the schema's migrations, and
//! reconnection with backoff (a restarted server loses nothing: every write is a transaction that
//! is retried whole, and each is idempotent).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::PgError;

/// The schema's migrations, in order: migration `i` brings the schema to version `i + 1`.
/// Never edit one that has shipped; add the next.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE mlpnas_runs (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    config text NOT NULL,
    version text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    holder text,
    data_hash text,
    summary text
);
CREATE TABLE mlpnas_data (
    hash text PRIMARY KEY,
    bytes bytea NOT NULL
);
CREATE TABLE mlpnas_trials (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    trial integer NOT NULL,
    reward double precision NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (run, trial)
);
CREATE TABLE mlpnas_puts (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    trial integer NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (run, trial)
);
CREATE TABLE mlpnas_epochs (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    epoch integer NOT NULL,
    report text NOT NULL,
    PRIMARY KEY (run, epoch)
);
CREATE TABLE mlpnas_checkpoints (
    run bigint PRIMARY KEY REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    meta text NOT NULL,
    controller bytea NOT NULL,
    store bytea
);
CREATE TABLE mlpnas_tasks (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    run_name text NOT NULL,
    trial integer NOT NULL,
    backend text NOT NULL,
    version text NOT NULL,
    tokens text NOT NULL,
    seed bigint NOT NULL,
    init bytea NOT NULL,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempt integer NOT NULL DEFAULT 0,
    worker text,
    lease_until timestamptz,
    result text,
    weights bytea,
    seconds double precision,
    PRIMARY KEY (run, trial)
);
CREATE INDEX mlpnas_tasks_open ON mlpnas_tasks (state, lease_until) WHERE state IN ('queued', 'running');
CREATE TABLE mlpnas_run_workers (
    run bigint NOT NULL REFERENCES mlpnas_runs (id) ON DELETE CASCADE,
    worker text NOT NULL,
    trials bigint NOT NULL DEFAULT 0,
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, worker)
);
"#];

/// First key of every advisory lock mlpnas takes (the second is the hash of what is locked).
pub(crate) const LOCK_SPACE: i32 = 0x6d6c_706e; // "mlpn"

/// A database URL, parsed once, with the password (from the URL, `PGPASSWORD` or `~/.pgpass`)
/// kept out of everything shown.
#[derive(Clone)]
pub struct PgUrl {
    config: Config,
    shown: String,
    /// TLS (rustls) when the URL says `sslmode=require`; plain TCP or a Unix socket otherwise.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgUrl {
    /// Connects once.
    fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }
}

/// The TLS settings of `sslmode=require`: the server's certificate must chain to Mozilla's roots
/// or to the certificates in `PGSSLROOTCERT` (a PEM file, as libpq reads it), and name the host.
fn tls_config() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = std::env::var_os("PGSSLROOTCERT").filter(|p| !p.is_empty()) {
        let shown = PathBuf::from(&path).display().to_string();
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("PGSSLROOTCERT {shown}: no certificate in it"));
        }
        for c in certs {
            roots.add(c).map_err(|e| format!("PGSSLROOTCERT {shown}: {e}"))?;
        }
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::str::FromStr for PgUrl {
    type Err = String;
    /// Parses `postgresql://user[:password]@host[:port]/db[?sslmode=...]` (or `postgres://`).
    fn from_str(url: &str) -> Result<Self, String> {
        let shown = mask(url);
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(format!("{shown}: not a PostgreSQL URL (expected postgresql://user@host:port/database)"));
        }
        let mut config: Config = url.parse().map_err(|e| format!("{shown}: not a valid PostgreSQL URL: {e}"))?;
        if config.get_dbname().is_none() {
            return Err(format!("{shown}: the URL names no database (postgresql://user@host:port/DATABASE)"));
        }
        if config.get_password().is_none() {
            if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                config.password(p.to_string_lossy().as_bytes());
            } else if let Some(p) = pgpass(&config) {
                config.password(p.as_bytes());
            }
        }
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("mlpnas");
        let tls = if config.get_ssl_mode() == postgres::config::SslMode::Require {
            Some(tls_config().map_err(|e| format!("{shown}: {e}"))?)
        } else {
            None
        };
        Ok(Self { config, shown, tls })
    }
}

/// `url` with its password replaced by `***`.
pub fn mask(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let auth = auth.map(|a| match a.split_once(':') {
        Some((user, _)) => format!("{user}:***@"),
        None => format!("{a}@"),
    });
    let mut shown = format!("{scheme}://{}{host}", auth.unwrap_or_default());
    if let Some(i) = shown.find("password=") {
        let end = shown[i..].find('&').map_or(shown.len(), |e| i + e);
        shown.replace_range(i..end, "password=***");
    }
    shown
}

/// The password for `config` in `~/.pgpass` (or `PGPASSFILE`), if any: lines
/// `host:port:database:user:password`, `*` matching anything, the first match wins.
fn pgpass(config: &Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = config.get_dbname().unwrap_or_default().to_string();
    let user = config.get_user().unwrap_or_default().to_string();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let f: Vec<&str> = line.splitn(5, ':').collect();
        if f.len() == 5 && [&host, &port, &db, &user].iter().zip(&f).all(|(want, got)| *got == "*" || got == want) {
            return Some(f[4].to_string());
        }
    }
    None
}

/// One connection, reconnected with backoff when the server goes away.
pub(crate) struct Db {
    url: PgUrl,
    client: Mutex<Slot>,
    /// How long to keep reconnecting before giving up.
    retry: Duration,
    /// Commits without waiting for the WAL flush (`synchronous_commit = off`): for workers, whose
    /// writes (claims, heartbeats, results) are not run state. A result lost in a server crash
    /// is trained again; the journal, written by the coordinator, is always flushed.
    async_commit: bool,
}

struct Slot {
    client: Option<Client>,
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
            client: Mutex::new(Slot { client: None, connected_once: false, locked: None }),
            retry,
            async_commit,
        };
        let shown = db.url.shown.clone();
        db.with(|c| migrate(c, &shown))?;
        Ok(db)
    }

    /// The URL, password masked.
    pub(crate) fn shown(&self) -> &str {
        &self.url.shown
    }

    /// Runs `f` on the connection; on a lost connection, reconnects with backoff (taking the
    /// run's lock again if this connection held it) and runs `f` again, for up to the retry
    /// window. `f` must be safe to run twice (each write is one transaction, and idempotent).
    pub(crate) fn with<T>(&self, mut f: impl FnMut(&mut Client) -> Result<T, Failure>) -> Result<T, PgError> {
        let mut slot = self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            if slot.client.is_none() {
                match self.url.connect() {
                    Ok(mut c) => {
                        if self.async_commit {
                            c.batch_execute("SET synchronous_commit = off").map_err(|e| self.err(&e))?;
                        }
                        if let Some(name) = slot.locked.clone()
                            && !try_lock(&mut c, &name).map_err(|e| self.err(&e))?
                        {
                            slot.locked = None;
                            return Err(PgError::LostLock(format!(
                                "run {name} at {}: the run's lock was lost while the database was away and another process holds it now",
                                self.url.shown
                            )));
                        }
                        slot.client = Some(c);
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
            let Some(client) = slot.client.as_mut() else { continue };
            match f(client) {
                Ok(v) => return Ok(v),
                Err(Failure::Pg(e)) if is_connection_loss(&e) && start.elapsed() < self.retry => {
                    slot.client = None;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(Failure::Pg(e)) => {
                    if is_connection_loss(&e) {
                        slot.client = None;
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
            self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner).locked = Some(name.to_string());
        }
        Ok(got)
    }

    fn err(&self, e: &postgres::Error) -> PgError {
        PgError::Database(format!("{}: {}", self.url.shown, one_line(e)))
    }

    fn connect_err(&self, e: &postgres::Error) -> PgError {
        let shown = &self.url.shown;
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

/// What a database call inside [`Db::with`] can fail with.
pub(crate) enum Failure {
    /// The database refused or the connection broke.
    Pg(postgres::Error),
    /// Something else (a stored value that does not decode), never retried.
    Other(PgError),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

fn try_lock(c: &mut Client, name: &str) -> Result<bool, postgres::Error> {
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

/// A postgres error as one line: the server's message (and detail) or the client's.
pub(crate) fn one_line(e: &postgres::Error) -> String {
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

/// Creates the schema or brings it up to date, in one transaction under an advisory lock (two
/// processes starting at once migrate once); refuses a schema newer than this binary knows.
fn migrate(c: &mut Client, shown: &str) -> Result<(), Failure> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_SPACE])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS mlpnas_schema (version integer NOT NULL)")?;
    let version: Option<i32> = tx.query_opt("SELECT version FROM mlpnas_schema", &[])?.map(|r| r.get(0));
    let version = version.unwrap_or(0);
    let known = MIGRATIONS.len() as i32;
    if version > known {
        return Err(Failure::Other(PgError::Schema(format!(
            "{shown}: the database holds mlpnas schema version {version}, newer than this mlpnas knows ({known}); upgrade mlpnas"
        ))));
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.batch_execute(m)?;
    }
    if version == 0 {
        tx.execute("INSERT INTO mlpnas_schema (version) VALUES ($1)", &[&known])?;
    } else if version < known {
        tx.execute("UPDATE mlpnas_schema SET version = $1", &[&known])?;
    }
    Ok(tx.commit()?)
}

/// Wakes waiting workers and coordinators when tasks or results appear: one connection per
/// process LISTENs on [`CHANNEL`] (writers `pg_notify` it in the same transaction as their
/// write), and every notification bumps a counter that waiters block on. A lost connection is
/// reconnected with backoff; meanwhile waits simply time out (callers poll then).
pub(crate) struct Waker {
    url: PgUrl,
    state: Mutex<(u64, bool)>,
    changed: std::sync::Condvar,
}

/// The notification channel of mlpnas.
pub(crate) const CHANNEL: &str = "mlpnas";

impl Waker {
    pub(crate) fn new(url: &PgUrl) -> Self {
        Self { url: url.clone(), state: Mutex::new((0, false)), changed: std::sync::Condvar::new() }
    }

    /// The counter, starting the listener on first use.
    pub(crate) fn changes(self: &std::sync::Arc<Self>) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !st.1 {
            st.1 = true;
            let me = std::sync::Arc::clone(self);
            std::thread::spawn(move || me.listen());
        }
        st.0
    }

    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = self.changed.wait_timeout_while(st, timeout, |st| st.0 == seen);
    }

    fn bump(&self) {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.0 += 1;
        self.changed.notify_all();
    }

    /// The listener thread: forever (it ends with the process).
    fn listen(&self) {
        let mut pause = Duration::from_millis(100);
        loop {
            let Ok(mut c) = self.url.connect() else {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            };
            if c.batch_execute(&format!("LISTEN {CHANNEL}")).is_err() {
                continue;
            }
            pause = Duration::from_millis(100);
            // Anything may have happened while not listening.
            self.bump();
            loop {
                use postgres::fallible_iterator::FallibleIterator;
                let next = c.notifications().timeout_iter(Duration::from_secs(1)).next();
                match next {
                    Ok(Some(_)) => self.bump(),
                    Ok(None) if c.is_closed() => break,
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
        }
    }
}
