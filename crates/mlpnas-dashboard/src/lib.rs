//! `mlpnas dashboard`: a read-only web dashboard of runs.
//!
//! An HTTP server ([`serve`]) with a JSON API and a single-page UI whose assets (the page, its
//! script and style, and the vendored charting library uPlot) are compiled into the binary, so
//! that it works offline. Runs come from [`RunSource`]s (run directories: [`DirSource`]; the
//! CLI adds runs in PostgreSQL), are read through their [`mlpnas_core::RunStorage`] by one
//! refresher thread, a little at a time (only the trials added since the last read), and served
//! from memory; a page polls for what is new.
//!
//! Safe by default: it binds 127.0.0.1 unless told otherwise, answers only GET, and no part of a
//! request ever becomes a path or a query: runs are looked up by the names their source gave.

pub mod http;
pub mod state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mlpnas_core::RunStorage;
use mlpnas_runs::RunDir;

pub use state::{Best, BigramUse, Facts, Reader, RunInfo, RunView, Status, bigram_reuse};

/// What can go wrong when starting the dashboard (once it serves, failures are shown in pages).
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The address cannot be bound.
    #[error("{addr}: cannot listen ({message})")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// A source cannot be read at all.
    #[error("{0}")]
    Source(String),
    /// The server failed.
    #[error("dashboard server: {0}")]
    Serve(String),
}

/// The runs a [`RunSource`] holds: each one's name and its storage, opened for reading.
pub type FoundRuns = Vec<(String, Box<dyn RunStorage>)>;

/// Where the dashboard finds runs.
///
/// # Design
///
/// A source names its runs itself and hands each one's storage, opened for reading; the server
/// only ever looks a request up among those names, so nothing a browser sends reaches the file
/// system or a query. [`RunSource::runs`] is called again every few seconds, so runs started
/// after the dashboard appear; a name seen before keeps its first storage (the one already being
/// followed), and a run that disappears keeps its last state with the read error shown.
pub trait RunSource: Send {
    /// What it is, for the start-up line (a directory, a masked database URL).
    fn describe(&self) -> String;
    /// The runs it holds now: a name unique within the source, and the run's storage.
    fn runs(&mut self) -> Result<FoundRuns, String>;
}

/// Run directories: one run directory, or every run directory under a directory (four levels
/// deep, so that a `cargo xtask compare` output directory's `runs/DATA/CONFIG/SEED` are found too).
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
}

/// How deep [`DirSource`] looks for run directories under its root.
pub const SCAN_DEPTH: usize = 4;

impl DirSource {
    /// `root` must be a directory (a run directory or one holding some).
    pub fn new(root: &Path) -> Result<Self, DashboardError> {
        if !root.is_dir() {
            let why = if root.exists() { "not a directory" } else { "no such directory" };
            return Err(DashboardError::Source(format!("{}: {why}", root.display())));
        }
        Ok(Self { root: root.to_path_buf() })
    }

    fn scan(dir: &Path, rel: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut dirs: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        dirs.sort();
        for (name, path) in dirs {
            let id = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if is_run_dir(&path) {
                out.push((id, path));
            } else if depth > 1 {
                Self::scan(&path, &id, depth - 1, out);
            }
        }
    }
}

/// A directory holding a search's files (its config and journal).
fn is_run_dir(p: &Path) -> bool {
    p.join(mlpnas_runs::JOURNAL).is_file()
}

impl RunSource for DirSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn runs(&mut self) -> Result<FoundRuns, String> {
        if !self.root.is_dir() {
            return Err(format!("{}: no such directory", self.root.display()));
        }
        let mut found = Vec::new();
        if is_run_dir(&self.root) {
            let name = self.root.file_name().map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
            found.push((name, self.root.clone()));
        } else {
            Self::scan(&self.root, "", SCAN_DEPTH, &mut found);
        }
        Ok(found.into_iter().map(|(id, p)| (id, Box::new(RunDir::new(&p)) as Box<dyn RunStorage>)).collect())
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to bind (`127.0.0.1` by default in the CLI).
    pub host: String,
    /// Port (0: any free one).
    pub port: u16,
    /// How often a run shown in a page is read again (the others: every 4x this).
    pub interval: Duration,
    /// Connections served at once; one more is answered 503 at once and closed.
    pub max_connections: usize,
    /// A request's headers must arrive within this, and an idle kept-alive connection is closed
    /// after it (a client that sends half a header cannot hold a connection).
    pub header_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            interval: Duration::from_millis(500),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// One run: its reading side (refresher only) and what is shown of it.
#[derive(Debug)]
pub struct Entry {
    /// The dashboard's name for it.
    pub id: String,
    reader: Mutex<Reader>,
    /// What pages are served from.
    pub view: RwLock<RunView>,
}

/// The server's state: every run, and when each was last asked for.
#[derive(Debug, Default)]
pub struct Shared {
    runs: RwLock<Vec<Arc<Entry>>>,
    viewed: Mutex<HashMap<String, Instant>>,
    source_errors: RwLock<Vec<String>>,
}

impl Shared {
    /// Every run, in the order found.
    pub fn runs(&self) -> Vec<Arc<Entry>> {
        self.runs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The run named `id`, marking it as being looked at (read more often).
    pub fn run(&self, id: &str) -> Option<Arc<Entry>> {
        let e = self.runs().into_iter().find(|e| e.id == id)?;
        self.viewed.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), Instant::now());
        Some(e)
    }

    /// Sources that could not be read at the last look, one line each.
    pub fn source_errors(&self) -> Vec<String> {
        self.source_errors.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds the runs of `sources` not seen before (names made unique across sources).
    fn discover(&self, sources: &mut [Box<dyn RunSource>]) {
        let mut errors = Vec::new();
        for (i, src) in sources.iter_mut().enumerate() {
            match src.runs() {
                Ok(found) => {
                    let mut runs = self.runs.write().unwrap_or_else(|e| e.into_inner());
                    for (name, storage) in found {
                        let id = if i == 0 { name } else { format!("{}:{name}", i + 1) };
                        if runs.iter().any(|e| e.id == id) {
                            continue;
                        }
                        let view = RunView::new(id.clone(), storage.location());
                        runs.push(Arc::new(Entry {
                            id,
                            reader: Mutex::new(Reader::new(storage)),
                            view: RwLock::new(view),
                        }));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        *self.source_errors.write().unwrap_or_else(|e| e.into_inner()) = errors;
    }

    /// One round of the refresher: runs looked at in the last 30 s every `interval`, the others
    /// every 4 `interval`s, finished ones every 20.
    fn refresh_due(&self, interval: Duration) {
        let viewed = self.viewed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for e in self.runs() {
            let status = e.view.read().unwrap_or_else(|e| e.into_inner()).info.status;
            let mut reader = e.reader.lock().unwrap_or_else(|e| e.into_inner());
            let hot = viewed.get(&e.id).is_some_and(|t| t.elapsed() < Duration::from_secs(30));
            let every = match (hot, status) {
                (true, _) => interval,
                (false, Status::Finished) => interval * 20,
                (false, _) => interval * 4,
            };
            if reader.last.is_some_and(|t| t.elapsed() < every) {
                continue;
            }
            state::refresh(&mut reader, &e.view);
        }
    }
}

/// Reads every run once, then serves until the process ends: prints nothing itself; `ready` is
/// called with the address once it listens (the CLI prints it). Blocks.
pub fn serve(
    mut sources: Vec<Box<dyn RunSource>>,
    opts: &Options,
    ready: impl FnOnce(std::net::SocketAddr, &Shared),
) -> Result<(), DashboardError> {
    let addr = format!("{}:{}", opts.host, opts.port);
    let bind_err = |e: std::io::Error| DashboardError::Bind { addr: addr.clone(), message: e.to_string() };
    let listener = std::net::TcpListener::bind(&addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let shared = Arc::new(Shared::default());
    shared.discover(&mut sources);
    shared.refresh_due(opts.interval);
    let loopback = local.ip().is_loopback().then_some(local.port());
    ready(local, &shared);
    let bg = Arc::clone(&shared);
    let interval = opts.interval;
    std::thread::Builder::new()
        .name("dashboard-refresh".into())
        .spawn(move || {
            let mut last_scan = Instant::now();
            loop {
                std::thread::sleep(interval / 2);
                if last_scan.elapsed() >= Duration::from_secs(2) {
                    bg.discover(&mut sources);
                    last_scan = Instant::now();
                }
                bg.refresh_due(interval);
            }
        })
        .map_err(|e| DashboardError::Serve(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| DashboardError::Serve(e.to_string()))?;
    // Half the files this process may open, at most: the rest are the runs' files and the
    // listener (a connection past the cap costs a file only for the instant of its 503).
    let max = open_files_limit().map_or(opts.max_connections, |n| opts.max_connections.min(n / 2)).max(1);
    let timeout = opts.header_timeout;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| DashboardError::Serve(e.to_string()))?;
        accept_loop(listener, http::router(shared, loopback), max, timeout).await;
        Ok(())
    })
}

/// Connections being told "too many connections" at once (each for a second at most).
const TURNING_AWAY: usize = 32;

/// Answers 503 ([`http::BUSY`], small enough to be written at once) and closes the connection
/// gently: its sending side first, then whatever the client sent is read until it closes (a
/// second at most), since closing with unread data would reset the connection and lose the
/// answer.
async fn turn_away(stream: tokio::net::TcpStream) {
    let _ = stream.try_write(http::BUSY);
    let Ok(std_stream) = stream.into_std() else { return };
    let _ = std_stream.shutdown(std::net::Shutdown::Write);
    let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else { return };
    let drain = async {
        let mut buf = [0u8; 1024];
        while stream.readable().await.is_ok() {
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The soft limit of open files of this process (`/proc/self/limits`; `None` where unknown).
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// Serves every connection of `listener` with `app`: at most `max` at once (one more gets a 503
/// and is closed at once, so a flood of connections cannot exhaust the process's files), each
/// closed when a request's headers take longer than `timeout` or it sits idle that long.
async fn accept_loop(listener: tokio::net::TcpListener, app: axum::Router, max: usize, timeout: Duration) {
    let open = Arc::new(AtomicUsize::new(0));
    let turning = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of files or a connection reset while queued: wait a little, go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= max {
            open.fetch_sub(1, Ordering::AcqRel);
            // A few at a time are told why; beyond that a connection is simply closed.
            if turning.fetch_add(1, Ordering::AcqRel) < TURNING_AWAY {
                let turning = Arc::clone(&turning);
                tokio::spawn(async move {
                    turn_away(stream).await;
                    turning.fetch_sub(1, Ordering::AcqRel);
                });
            } else {
                turning.fetch_sub(1, Ordering::AcqRel);
            }
            continue;
        }
        let (app, open) = (app.clone(), Arc::clone(&open));
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(timeout);
            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            open.fetch_sub(1, Ordering::AcqRel);
        });
    }
}
