//! Runs in PostgreSQL through the real binary, against a private server each test starts
//! (initdb into a temporary directory, as the `postgres` user when running as root; pg_ctl on a
//! free loopback port; stopped at the end): a coordinator and `mlpnas worker` processes give the
//! journal of a local run with the same batch size, whatever is killed or restarted meanwhile;
//! the queue's leases, attempts and fencing; one-line errors for bad URLs and credentials.
//!
//! Without PostgreSQL binaries these tests print "skipped: no PostgreSQL" and pass, unless
//! `MLPNAS_REQUIRE_POSTGRES=1` (set by `.ci/run`) turns the skip into a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlpnas_core::{
    Claimant, DataSplit, Dataset, RunStorage, RungTask, TrainOutcome, TrialQueue, TrialRecord, TrialResult, TrialTask,
};

const PASSWORD: &str = "s3cret-pw";

/// A private PostgreSQL server, stopped and deleted on drop.
struct Pg {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Server options beyond the port, socket and listen address.
    extra: String,
}
use support::{bin, epochs_csv, fails, ok, rows_without_seconds, tabulate, tmp, workspace};

fn pg_bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MLPNAS_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl Pg {
    /// Starts a server, or `None` (skipped) where PostgreSQL is not installed.
    fn start(name: &str) -> Option<Pg> {
        Self::start_with(name, false)
    }

    /// With `tls`: a self-signed certificate for 127.0.0.1 (`ROOT/server.crt`), and TCP
    /// connections accepted only over TLS (`hostssl`).
    fn start_with(name: &str, tls: bool) -> Option<Pg> {
        let Some(bin) = pg_bindir() else {
            assert!(
                std::env::var("MLPNAS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "MLPNAS_REQUIRE_POSTGRES=1 but no PostgreSQL binaries were found (/usr/lib/postgresql/*/bin or MLPNAS_PG_BINDIR)"
            );
            eprintln!("skipped: no PostgreSQL");
            return None;
        };
        let root = std::env::temp_dir().join(format!("mlpnas-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("pg root");
        std::fs::write(root.join("pw"), PASSWORD).expect("pwfile");
        let as_postgres = is_root();
        if as_postgres {
            assert!(Command::new("chown").args(["-R", "postgres"]).arg(&root).status().expect("chown").success());
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let mut pg = Pg { root, bin, port, as_postgres, extra: String::new() };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={}", pg.root.join("pw").display()),
                "--no-sync",
            ],
        );
        if tls {
            // A test CA (ROOT/ca.crt, what clients trust) and a server certificate it signed.
            let (crt, key) = (pg.root.join("server.crt"), pg.root.join("server.key"));
            let ext = pg.root.join("server.ext");
            std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").expect("ext");
            let openssl = |args: &[&str]| {
                let out = Command::new("openssl").current_dir(&pg.root).args(args).output().expect("openssl");
                assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            };
            openssl(&[
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-nodes",
                "-subj",
                "/CN=mlpnas test CA",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ]);
            openssl(&[
                "req",
                "-new",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ]);
            if pg.as_postgres {
                assert!(
                    Command::new("chown").args(["postgres"]).arg(&key).arg(&crt).status().expect("chown").success()
                );
            }
            assert!(Command::new("chmod").args(["600"]).arg(&key).status().expect("chmod").success());
            let hba = pg.root.join("data/pg_hba.conf");
            let text = std::fs::read_to_string(&hba).expect("pg_hba.conf");
            let text: String = text
                .lines()
                .map(|l| if l.starts_with("host ") { l.replacen("host ", "hostssl ", 1) } else { l.to_string() })
                .map(|l| l + "\n")
                .collect();
            std::fs::write(&hba, text).expect("pg_hba.conf");
            pg.extra = format!("-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}", crt.display(), key.display());
        }
        pg.ctl(&["start", "-w"]);
        let mut createdb = Command::new(pg.bin.join("createdb"));
        if tls {
            createdb.env("PGSSLMODE", "require");
        }
        let ok = createdb
            .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "mlpnas"])
            .env("PGPASSWORD", PASSWORD)
            .status()
            .expect("createdb");
        assert!(ok.success(), "createdb failed");
        Some(pg)
    }

    fn data(&self) -> String {
        self.root.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let out = c.args(args).output().expect(tool);
        assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ctl(&self, args: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50 {}",
            self.port,
            self.root.display(),
            self.extra
        );
        let log = self.root.join("log").display().to_string();
        let d = self.data();
        let mut all = vec!["-D", &d, "-l", &log, "-o", &opts];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    fn url(&self) -> String {
        format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}/mlpnas", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let d = self.data();
        let exe = self.bin.join("pg_ctl");
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let _ = c.args(["-D", &d, "stop", "-m", "immediate"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The search of the search tests: wine quality, 3 controller epochs x 8 trials, batch 2, 4
/// training epochs per trial (about 0.1-0.5 s each).
fn search_args(c: &mut Command) -> &mut Command {
    let csv = workspace().join("../shared/data/wine-quality.csv");
    c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/random.toml"));
    c.arg("--data").arg(csv).args(["--label", "quality_label", "--drop", "#0,quality", "--seed", "7"]);
    for s in ["search.controller_epochs=3", "search.samples_per_epoch=8", "search.batch=2", "trainer.epochs=4"] {
        c.args(["--set", s]);
    }
    c
}

/// What must match between runs: trial, architecture, reward, transfers, per-epoch metrics.
fn essence(r: &TrialRecord) -> String {
    format!("{} {} {:?} {} {:?} {:?}", r.trial, r.architecture, r.reward, r.transfers, r.epochs, r.scores)
}

/// The journal of the local run with the same config (computed once).
fn local_reference() -> &'static Vec<String> {
    static REF: OnceLock<Vec<String>> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mlpnas-dist-ref-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = search_args(&mut bin()).arg("--out").arg(&dir).output().expect("local run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
        let r: Vec<String> =
            text.lines().map(|l| essence(&serde_json::from_str::<TrialRecord>(l).expect("record"))).collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(r.len(), 24);
        r
    })
}

fn report(pg: &Pg, name: &str) -> Vec<String> {
    let out = bin().args(["report", name, "--storage", &pg.url(), "--json", "--top", "1000"]).output().expect("report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v: Vec<TrialRecord> = serde_json::from_slice(&out.stdout).expect("json");
    v.sort_by_key(|r| r.trial);
    v.iter().map(essence).collect()
}

/// Checks `got` against the local run, naming the first trial that differs.
fn same_as_local(got: &[String], what: &str) {
    let reference = local_reference();
    if let Some(i) = (0..got.len().max(reference.len())).find(|&i| got.get(i) != reference.get(i)) {
        panic!(
            "{what}: trial {i} differs from the local run:\n  got   {:?}\n  local {:?}",
            got.get(i),
            reference.get(i)
        );
    }
}

/// Whether the worker process `pid` holds a claim right now (it is training a trial).
fn holds_a_claim(pg: &Pg, pid: u32) -> bool {
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).expect("connect");
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM mlpnas_tasks WHERE state = 'running' AND worker LIKE $1",
            &[&format!("%:{pid}/%")],
        )
        .expect("query")
        .get(0);
    n > 0
}

fn trials(pg: &Pg, name: &str) -> usize {
    let db = mlpnas_postgres::open(&pg.url()).expect("db");
    let s = db.run(name);
    if !s.exists().expect("exists") {
        return 0;
    }
    s.read_trials().expect("trials").records.len()
}

fn spawn(c: &mut Command) -> Child {
    c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn")
}

fn worker(pg: &Pg, extra: &[&str]) -> Child {
    spawn(bin().args(["worker", "--quiet", "--storage", &pg.url(), "--lease", "1.5"]).args(extra))
}

fn wait_for(pg: &Pg, name: &str, n: usize, coordinator: &mut Child) {
    let t0 = Instant::now();
    while trials(pg, name) < n {
        assert!(t0.elapsed() < Duration::from_secs(180), "timed out waiting for {n} trials");
        if let Some(s) = coordinator.try_wait().expect("wait") {
            panic!("the coordinator ended early ({s}): {}", stderr(coordinator));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(c: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

fn finish(c: &mut Child) {
    let status = c.wait().expect("wait");
    assert!(status.success(), "exited with {status}: {}", stderr(c));
}

/// The journal (essences) of the search `args` builds, run locally into `dir`.
fn local_journal(args: &dyn Fn(&mut Command), dir: &Path) -> Vec<String> {
    let mut local = bin();
    args(&mut local);
    let out = local.arg("--out").arg(dir).output().expect("local");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
    text.lines().map(|l| essence(&serde_json::from_str::<TrialRecord>(l).expect("record"))).collect()
}

/// Waits until worker `w` holds a claim, then SIGKILLs it mid-trial (its claim comes back after
/// the lease).
fn kill_mid_trial(pg: &Pg, w: Child) {
    let t0 = Instant::now();
    while !holds_a_claim(pg, w.id()) {
        assert!(t0.elapsed() < Duration::from_secs(60), "the worker never held a claim");
        std::thread::sleep(Duration::from_millis(2));
    }
    stop(w);
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn workers_with_one_killed_mid_run_give_the_local_journal() {
    let Some(pg) = Pg::start("kill-worker") else { return };
    local_reference();
    let url = pg.url();
    // The coordinator only coordinates: every trial is trained by a worker process.
    let mut coord = spawn(search_args(&mut bin()).args(["--storage", &url, "--name", "r1", "--threads", "0"]));
    let a = worker(&pg, &[]);
    let b = worker(&pg, &[]);
    wait_for(&pg, "r1", 5, &mut coord);
    kill_mid_trial(&pg, a);
    let c = worker(&pg, &["--exit-when-idle", "60"]);
    finish(&mut coord);
    stop(b);
    stop(c);
    same_as_local(&report(&pg, "r1"), "workers, one killed");
    // The listing knows the run, its trials and the workers that reported.
    let out = bin().args(["runs", "--storage", &url, "--json"]).output().expect("runs");
    assert!(out.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs[0]["name"], "r1");
    assert_eq!(runs[0]["status"], "finished");
    assert_eq!(runs[0]["trials"], 24);
    assert!(runs[0]["workers"].as_i64().expect("workers") >= 2, "{runs}");
    assert_eq!(runs[0]["queued"], 0, "tasks left behind");
    // The password never shows.
    let text = bin().args(["runs", "--storage", &url]).output().expect("runs");
    let shown = String::from_utf8_lossy(&text.stdout);
    assert!(!shown.contains(PASSWORD) && shown.contains("postgres:***@"), "{shown}");
    // The dashboard shows runs in the database through the same storage.
    let d = support::dashboard::Dashboard::start(&["--storage", &url]);
    let listed = d.json("/api/runs");
    assert_eq!(listed["runs"][0]["id"], "r1", "{listed}");
    assert_eq!(listed["runs"][0]["status"], "finished");
    assert_eq!(listed["runs"][0]["trials"], 24);
    let run = d.json("/api/runs/r1");
    let shown: Vec<String> = serde_json::from_value::<Vec<TrialRecord>>(run["trials"].clone())
        .expect("trials")
        .iter()
        .map(essence)
        .collect();
    same_as_local(&shown, "the dashboard's trials of a run in PostgreSQL");
    assert_eq!(run["epochs"].as_array().expect("epochs").len(), 3);
    let tail = d.json("/api/runs/r1?from=20");
    assert_eq!(tail["trials"].as_array().expect("tail").len(), 4, "only trials from 20 on");
}

#[test]
fn a_killed_coordinator_resumes_and_workers_keep_their_claims() {
    let Some(pg) = Pg::start("kill-coord") else { return };
    local_reference();
    let url = pg.url();
    let mut coord = spawn(search_args(&mut bin()).args(["--storage", &url, "--name", "r2", "--threads", "0"]));
    let a = worker(&pg, &[]);
    let b = worker(&pg, &[]);
    wait_for(&pg, "r2", 7, &mut coord);
    let _ = coord.kill();
    let _ = coord.wait();
    // A second coordinator of a running run would be refused; this one continues it.
    let mut again = spawn(bin().args(["search", "--quiet", "--resume", "r2", "--storage", &url, "--threads", "0"]));
    finish(&mut again);
    stop(a);
    stop(b);
    same_as_local(&report(&pg, "r2"), "a resumed coordinator");
    // Finalize reads a run in the database like a run directory.
    let out = std::env::temp_dir().join(format!("mlpnas-dist-final-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let f = bin()
        .args(["finalize", "-q", "r2", "--storage", &url, "--top", "1", "--epochs", "2", "--out"])
        .arg(&out)
        .output()
        .expect("finalize");
    assert!(f.status.success(), "{}", String::from_utf8_lossy(&f.stderr));
    assert!(out.join("leaderboard.json").exists() && out.join("model-1").is_dir());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_postgres_restart_mid_search_loses_and_duplicates_nothing() {
    let Some(pg) = Pg::start("restart") else { return };
    local_reference();
    let url = pg.url();
    // The coordinator trains too (one thread), beside one worker.
    let mut coord = spawn(search_args(&mut bin()).args(["--storage", &url, "--name", "r3", "--threads", "1"]));
    let w = worker(&pg, &[]);
    wait_for(&pg, "r3", 6, &mut coord);
    pg.ctl(&["restart", "-m", "immediate", "-w"]);
    finish(&mut coord);
    stop(w);
    same_as_local(&report(&pg, "r3"), "a PostgreSQL restart");
}

#[test]
fn a_second_coordinator_is_refused_and_runs_in_a_database_need_a_memory_store() {
    let Some(pg) = Pg::start("refuse") else { return };
    let url = pg.url();
    let mut coord = spawn(search_args(&mut bin()).args(["--storage", &url, "--name", "r4", "--threads", "0"]));
    // No worker: the first batch waits in the queue (the search loop, and its Ctrl-C handler,
    // are running by then).
    let t0 = Instant::now();
    let runs = loop {
        let out = bin().args(["runs", "--json", "--storage", &url]).output().expect("runs");
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        if runs[0]["queued"].as_i64().is_some_and(|q| q > 0) {
            break runs;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "nothing was queued: {runs}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(runs[0]["status"], "running", "{runs}");
    let out = bin().args(["search", "--resume", "r4", "--storage", &url]).output().expect("second");
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("in use by another process") && e.lines().count() == 1, "{e}");
    // Ctrl-C says where the trials are and how to continue, with the password masked.
    signal(&coord, "INT");
    let status = coord.wait().expect("wait");
    let e = stderr(&mut coord);
    assert_eq!(status.code(), Some(130), "{e}");
    assert!(e.contains("mlpnas search --resume r4 --storage postgresql://postgres:***@"), "{e}");
    assert!(!e.contains(PASSWORD), "{e}");
    let out = bin().args(["runs", "--json", "--storage", &url]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    // A name already taken.
    let out = search_args(&mut bin()).args(["--storage", &url, "--name", "r4"]).output().expect("taken");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("already exists"), "{e}");
    // A disk store keeps files in a run directory.
    let out = search_args(&mut bin())
        .args(["--storage", &url, "--name", "r5", "--set", "store.type=\"disk\""])
        .output()
        .expect("disk");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("type = \"memory\""), "{e}");
    assert!(!mlpnas_postgres::open(&url).expect("db").run("r5").exists().expect("exists"), "a refused run was created");
}

/// Queued tasks of run `name` (any state).
fn tasks(pg: &Pg, name: &str) -> i64 {
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).expect("connect");
    c.query_one("SELECT count(*) FROM mlpnas_tasks WHERE run_name = $1", &[&name]).expect("query").get(0)
}

#[test]
fn a_tabulation_through_workers_gives_the_local_table_and_resumes_after_sigkill() {
    let Some(pg) = Pg::start("tabulate") else { return };
    let url = pg.url();
    let root = tmp("tabulate");
    let local = root.join("local");
    ok(&mut tabulate(&local, 2));
    let dist = root.join("iris-tiny");
    let with_storage = |c: &mut Command, threads: &str| {
        c.args(["--storage", &url, "--threads", threads]);
    };
    // The first seed pass, trained by two workers alone.
    let (a, b) = (worker(&pg, &[]), worker(&pg, &[]));
    let mut first = tabulate(&dist, 1);
    with_storage(&mut first, "0");
    ok(&mut first);
    stop(a);
    stop(b);
    assert!(!dist.join("run").exists(), "the run is in the database, not in OUT/run");
    assert_eq!(rows_without_seconds(&dist), rows_without_seconds(&local)[..25]);
    assert_eq!(trials(&pg, "tabulate-iris-tiny"), 24);
    assert_eq!(tasks(&pg, "tabulate-iris-tiny"), 0, "committed rows leave no tasks behind");
    // A second pass with no worker anywhere: the coordinator queues it and waits; SIGKILL it there.
    let resume = |threads: &str| {
        let mut c = bin();
        c.args(["tabulate", "--quiet", "--seeds", "2", "--out"]).arg(&dist);
        with_storage(&mut c, threads);
        c
    };
    let mut coord = spawn(&mut resume("0"));
    let t0 = Instant::now();
    while tasks(&pg, "tabulate-iris-tiny") < 24 {
        assert!(t0.elapsed() < Duration::from_secs(60), "the second pass was never queued");
        assert!(coord.try_wait().expect("wait").is_none(), "finished without workers: {}", stderr(&mut coord));
        std::thread::sleep(Duration::from_millis(5));
    }
    stop(coord);
    // A new tabulation under the same run name is refused; the resumed one (a worker and a
    // thread of its own) finds the queued pass and ends with the local table.
    let err = fails(tabulate(&dist, 2).args(["--storage", &url]));
    assert!(err.contains("tabulate-iris-tiny: already holds a tabulation"), "{err}");
    let w = worker(&pg, &["--exit-when-idle", "30"]);
    ok(&mut resume("1"));
    stop(w);
    assert_eq!(rows_without_seconds(&dist), rows_without_seconds(&local), "the table differs from the local one");
    assert_eq!(epochs_csv(&dist), epochs_csv(&local));
    assert_eq!(trials(&pg, "tabulate-iris-tiny"), 48);
    assert_eq!(tasks(&pg, "tabulate-iris-tiny"), 0);
    let out = bin().args(["runs", "--storage", &url, "--json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs[0]["name"], "tabulate-iris-tiny", "{runs}");
    assert_eq!(runs[0]["status"], "finished", "{runs}");
    // Continuing a tabulation that is not there says so.
    let err = fails(resume("1").args(["--run", "nope"]));
    assert!(err.contains("nope: holds no tabulation to continue"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

fn signal(c: &Child, sig: &str) {
    assert!(Command::new("kill").args([&format!("-{sig}"), &c.id().to_string()]).status().expect("kill").success());
}

#[test]
fn bad_urls_and_credentials_give_one_line_errors() {
    let Some(pg) = Pg::start("errors") else { return };
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let cases = [
        ("mysql://x@127.0.0.1/db".to_string(), "not a PostgreSQL URL"),
        (format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{closed}/mlpnas"), "cannot connect"),
        (format!("postgresql://postgres:wrong-pw@127.0.0.1:{}/mlpnas", pg.port), "password"),
        (format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}/nosuchdb", pg.port), "nosuchdb"),
        (format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{}", pg.port), "names no database"),
    ];
    for (url, want) in cases {
        let out = bin().args(["runs", "--storage", &url]).output().expect("runs");
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {e}");
        assert!(e.contains(want), "{url}: wanted {want:?} in {e}");
        assert_eq!(e.lines().count(), 1, "{url}: {e}");
        assert!(!e.contains(PASSWORD) && !e.contains("wrong-pw"), "a password was shown: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    // The password may come from PGPASSWORD instead of the URL.
    let url = format!("postgresql://postgres@127.0.0.1:{}/mlpnas", pg.port);
    let out = bin().args(["runs", "--storage", &url]).env("PGPASSWORD", PASSWORD).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A report of a run that does not exist.
    let out = bin().args(["report", "nope", "--storage", &pg.url()]).output().expect("report");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("no such run") && e.lines().count() == 1, "{e}");
    // A schema made by a newer mlpnas is refused, and left as it is.
    let mut c = postgres::Client::connect(&pg.url(), postgres::NoTls).expect("connect");
    c.execute("UPDATE mlpnas_schema SET version = 999", &[]).expect("bump");
    let out = bin().args(["runs", "--storage", &pg.url()]).output().expect("runs");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("schema version 999") && e.contains("upgrade mlpnas"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let v: i32 = c.query_one("SELECT version FROM mlpnas_schema", &[]).expect("version").get(0);
    assert_eq!(v, 999);
}

fn tiny_split() -> DataSplit {
    let part = |rows: usize| Dataset {
        features: (0..rows * 2).map(|k| k as f32 * 0.25).collect(),
        sample_shape: vec![2],
        labels: (0..rows as u32).map(|r| r % 2).collect(),
        targets: Vec::new(),
        class_names: vec!["a".into(), "b".into()],
        feature_names: vec!["x".into(), "y".into()],
    };
    DataSplit { train: part(6), valid: part(4), test: None }
}

#[test]
fn the_queue_fences_stale_attempts_and_a_trial_is_journaled_once() {
    let Some(pg) = Pg::start("queue") else { return };
    let db = mlpnas_postgres::open(&pg.url()).expect("db");
    let mut run = db.run("q");
    run.lock().expect("lock");
    run.create("seed = 1\n").expect("create");
    run.publish_data(&tiny_split()).expect("data");
    assert_eq!(db.queue().run_data("q").expect("data back"), tiny_split());
    // A second process cannot take the run.
    let other = mlpnas_postgres::open(&pg.url()).expect("db");
    let e = other.run("q").lock().expect_err("second writer");
    assert!(e.to_string().contains("in use by another process"), "{e}");

    let q = db.queue();
    let task = |trial| TrialTask { trial, tokens: vec![1, 2], seed: 42 + trial as u64, init: vec![None], rung: None };
    q.submit("q", "flex", &[task(0), task(1)]).expect("submit");
    let who = |w: &str| Claimant {
        worker: w.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        backends: vec!["flex".into()],
        runs: None,
        skip: Vec::new(),
        lease: Duration::from_millis(300),
    };
    // Only what a worker can run: another backend, another version, another run see nothing.
    assert!(q.claim(&Claimant { backends: vec!["ndarray".into()], ..who("x") }).expect("claim").is_none());
    assert!(q.claim(&Claimant { version: "0.0.0-other".into(), ..who("x") }).expect("claim").is_none());
    assert!(q.claim(&Claimant { runs: Some(vec!["other".into()]), ..who("x") }).expect("claim").is_none());
    assert!(q.claim(&Claimant { skip: vec!["q".into()], ..who("x") }).expect("claim").is_none());
    let first = q.claim(&who("a")).expect("claim").expect("a task");
    assert_eq!((first.task.trial, first.attempt, first.task.seed), (0, 1, 42));
    assert!(q.renew(&first).expect("renew"));
    let second = q.claim(&who("b")).expect("claim").expect("a task");
    assert_eq!(second.task.trial, 1);
    assert!(q.claim(&who("c")).expect("claim").is_none(), "both are held");
    // `a` goes silent: after its lease, trial 0 is claimed again as attempt 2.
    std::thread::sleep(Duration::from_millis(450));
    assert!(q.renew(&second).expect("renew"));
    let retry = q.claim(&who("c")).expect("claim").expect("expired lease");
    assert_eq!((retry.task.trial, retry.attempt), (0, 2));
    assert!(!q.renew(&first).expect("renew"), "a stale claim was renewed");
    let result = |w: &str| TrialResult {
        outcome: TrainOutcome {
            epochs: Vec::new(),
            diverged: true,
            weights: Vec::new(),
            measured: None,
            evaluations: Vec::new(),
        },
        seconds: 0.5,
        worker: w.into(),
        continuation: None,
    };
    // The zombie's result is refused; the current attempt's is taken (twice is harmless).
    assert!(!q.complete(&first, &result("a")).expect("complete"), "a stale attempt wrote its result");
    assert!(q.complete(&retry, &result("c")).expect("complete"));
    assert!(q.complete(&retry, &result("c")).expect("complete again"));
    let got = q.results("q", &[0, 1]).expect("results");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.as_ref().expect("ok").worker, "c");
    // Submitting the batch again (a resumed coordinator) keeps claims and results.
    q.submit("q", "flex", &[task(0), task(1)]).expect("resubmit");
    assert_eq!(q.results("q", &[0]).expect("results").len(), 1);
    assert!(q.renew(&second).expect("renew"), "a resubmit broke a live claim");
    // A failure travels to the coordinator as a message.
    assert!(q.fail(&second, "trainer refused").expect("fail"));
    let got = q.results("q", &[1]).expect("results");
    assert_eq!(got[0].1.as_ref().expect_err("failed"), "trainer refused");
    // A task that now asks for something else (the batch size changed on resume) is queued
    // afresh as a new attempt: the old result is gone and the old attempt can no longer write.
    q.submit("q", "flex", &[TrialTask { seed: 7, ..task(0) }]).expect("changed");
    assert!(q.results("q", &[0]).expect("results").is_empty(), "a result of the old task was kept");
    let fresh = q.claim(&who("d")).expect("claim").expect("queued afresh");
    assert_eq!((fresh.task.trial, fresh.task.seed, fresh.attempt), (0, 7, 4));
    assert!(!q.complete(&retry, &result("c")).expect("complete"), "the old attempt wrote its result");
    // A worker that cannot run a trial gives it back untrained: claimed again at once.
    assert!(q.release(&fresh).expect("release"));
    let again = q.claim(&who("e")).expect("claim").expect("released");
    assert_eq!((again.task.trial, again.attempt), (0, 5));
    assert!(!q.release(&fresh).expect("release"), "a stale claim was released");
    assert!(q.complete(&again, &result("e")).expect("complete"));

    // A rung of a multi-fidelity search travels with its epochs and where its trial stands
    // (the trainer's bytes), and its result with where the trial stands after it; the trial's
    // next rung is a new task (the first rung's result is gone), and so is a first rung
    // submitted again by a resumed coordinator over a later one.
    let rung = |epochs, from: Option<Vec<u8>>| TrialTask { rung: Some(RungTask { epochs, from }), ..task(1) };
    q.submit("q", "flex", &[rung(2, None)]).expect("rung 1");
    let r1 = q.claim(&who("f")).expect("claim").expect("rung 1 queued");
    assert_eq!(r1.task.rung, Some(RungTask { epochs: 2, from: None }));
    let stands = vec![7u8, 0, 255, 3];
    assert!(q.complete(&r1, &TrialResult { continuation: Some(stands.clone()), ..result("f") }).expect("complete"));
    let got = q.results("q", &[1]).expect("results");
    assert_eq!(got[0].1.as_ref().expect("ok").continuation.as_ref(), Some(&stands));
    q.submit("q", "flex", &[rung(2, None)]).expect("rung 1 again");
    assert_eq!(q.results("q", &[1]).expect("results").len(), 1, "the same rung submitted again lost its result");
    q.submit("q", "flex", &[rung(5, Some(stands.clone()))]).expect("rung 2");
    assert!(q.results("q", &[1]).expect("results").is_empty(), "rung 1's result was taken for rung 2");
    let r2 = q.claim(&who("g")).expect("claim").expect("rung 2 queued");
    assert_eq!(r2.task.rung, Some(RungTask { epochs: 5, from: Some(stands) }));
    assert!(!q.complete(&r1, &result("f")).expect("complete"), "rung 1's attempt wrote rung 2's result");
    q.submit("q", "flex", &[rung(2, None)]).expect("rung 1 over rung 2");
    let r1 = q.claim(&who("h")).expect("claim").expect("rung 1 queued again");
    assert_eq!(r1.task.rung, Some(RungTask { epochs: 2, from: None }));

    // The journal takes a trial once: the same record again is a retry, another is refused.
    let rec = TrialRecord {
        trial: 0,
        epoch: 0,
        tokens: vec![1, 2],
        architecture: "8:relu,2:sigmoid".into(),
        reward: 0.5,
        val_acc_last: 0.5,
        predicted: None,
        transfers: 0,
        params: 10,
        seconds: 0.1,
        status: mlpnas_core::TrialStatus::Ok,
        epochs: Vec::new(),
        metric: None,
        scores: Vec::new(),
        rescore_of: None,
        rungs: Vec::new(),
        objectives: Vec::new(),
    };
    run.append_trial(&rec, Some(&[])).expect("append");
    run.append_trial(&rec, Some(&[])).expect("the same trial again");
    let e = run.append_trial(&TrialRecord { reward: 0.9, ..rec.clone() }, None).expect_err("another result");
    assert!(e.to_string().contains("journaled already"), "{e}");
    assert_eq!(run.read_trials().expect("read").records, vec![rec]);
}

#[test]
fn tls_when_the_url_asks_for_it() {
    let Some(pg) = Pg::start_with("tls", true) else { return };
    let url = format!("{}?sslmode=require", pg.url());
    let crt = pg.root.join("ca.crt");
    // The server takes TCP connections over TLS only: a plain one is refused.
    let out = bin().args(["runs", "--storage", &pg.url()]).output().expect("runs");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.lines().count() == 1, "{e}");
    // TLS, with the server's certificate trusted through PGSSLROOTCERT: a whole search runs.
    let out = bin()
        .args(["search", "-q", "--config"])
        .arg(workspace().join("configs/random.toml"))
        .args(["--data", "builtin:iris", "--set", "search.controller_epochs=1", "--set", "trainer.epochs=1"])
        .args(["--storage", &url, "--name", "t"])
        .env("PGSSLROOTCERT", &crt)
        .output()
        .expect("search");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bin().args(["runs", "--json", "--storage", &url]).env("PGSSLROOTCERT", &crt).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs[0]["trials"], 10);
    // A certificate nobody vouches for is refused, in one line.
    let out = bin().args(["runs", "--storage", &url]).env_remove("PGSSLROOTCERT").output().expect("runs");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("certificate") && e.lines().count() == 1, "{e}");
    assert!(!e.contains(PASSWORD), "{e}");
}

/// Training settings in the space, 3-fold scoring and re-scoring: a run whose trials workers
/// train (one SIGKILLed mid-trial) gives the local journal, settings, fold scores,
/// re-evaluations and all.
#[test]
fn training_settings_and_folds_through_workers_give_the_local_journal() {
    let Some(pg) = Pg::start("training") else { return };
    let d = tmp("dist-training");
    let args = |c: &mut Command| {
        c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/evolution.toml"));
        c.args(["--data", "builtin:iris", "--seed", "5"]);
        for s in [
            "search.controller_epochs=3",
            "search.samples_per_epoch=6",
            "space.units=[8, 16, 32]",
            "space.learning_rate=[0.03, 0.003]",
            "space.batch_size=[8, 32]",
            "space.weight_decay=[0.0, 0.01]",
            "space.optimizer=[\"adam\", \"sgd\"]",
            "space.epochs=[3, 5]",
            "search.folds=3",
            "search.rescore_top=2",
            "search.rescore_seeds=2",
        ] {
            c.args(["--set", s]);
        }
    };
    let want = local_journal(&args, &d.join("local"));
    assert_eq!(want.len(), 18 + 4);
    assert!(want.iter().all(|w| w.contains("|lr=")), "{want:?}");
    let local = support::journal(&d.join("local"));
    assert!(local.iter().all(|r| r.scores.len() == 3), "every trial scored on 3 folds");
    assert!(local[18..].iter().all(|r| r.rescore_of.is_some()), "re-scored through the queue too");
    let mut coord = bin();
    args(&mut coord);
    let mut coord = spawn(coord.args(["--storage", &pg.url(), "--name", "hp", "--threads", "0"]));
    let a = worker(&pg, &[]);
    wait_for(&pg, "hp", 2, &mut coord);
    kill_mid_trial(&pg, a);
    let b = worker(&pg, &["--exit-when-idle", "30"]);
    finish(&mut coord);
    stop(b);
    let db = mlpnas_postgres::open(&pg.url()).expect("db");
    let stored = db.run("hp").read_trials().expect("trials").records;
    assert_eq!(
        stored.iter().map(essence).collect::<Vec<_>>(),
        want,
        "the run in PostgreSQL differs from the local run"
    );
}

/// Hyperband through PostgreSQL workers (issue 34): each rung is a queued task, and a promoted
/// trial continues from the bytes its last rung's worker wrote, on whichever worker claims it
/// (one is SIGKILLed mid-rung and its claim taken over). The journal, rungs included, is the
/// local run's. A run whose trainer keeps its state to itself (the autodiff path) is refused
/// with a one-line error before anything is trained.
#[test]
fn hyperband_through_workers_gives_the_local_journal() {
    let Some(pg) = Pg::start("hyperband") else { return };
    let d = tmp("dist-hyperband");
    let args = |c: &mut Command| {
        c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/hyperband.toml"));
        c.args(["--data", "builtin:iris", "--seed", "3"]);
        for s in ["search.controller_epochs=4", "trainer.epochs=9", "space.units=[8, 16, 32]"] {
            c.args(["--set", s]);
        }
    };
    let with_rungs = |r: &TrialRecord| format!("{} {:?}", essence(r), r.rungs);
    let local: Vec<String> = {
        let mut c = bin();
        args(&mut c);
        let out = c.arg("--out").arg(d.join("local")).output().expect("local");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        support::journal(&d.join("local")).iter().map(with_rungs).collect()
    };
    let records = support::journal(&d.join("local"));
    assert!(records.iter().any(|r| r.rungs.len() == 3), "a trial continued twice");
    assert!(records.iter().any(|r| r.rungs.len() == 1 && r.rungs[0].epochs == 1), "a trial stopped at 1 epoch");
    let mut coord = bin();
    args(&mut coord);
    let mut coord = spawn(coord.args(["--storage", &pg.url(), "--name", "hb", "--threads", "0"]));
    let a = worker(&pg, &[]);
    let verbose = || {
        let mut c = bin();
        c.args(["-v", "worker", "--storage", &pg.url(), "--lease", "1.5", "--exit-when-idle", "3"]);
        c
    };
    let mut b = spawn(&mut verbose());
    wait_for(&pg, "hb", 9, &mut coord);
    kill_mid_trial(&pg, a);
    let mut c = spawn(&mut verbose());
    finish(&mut coord);
    let lines = [stderr(&mut b), stderr(&mut c)].concat();
    stop(b);
    stop(c);
    // Promoted trials went on from their bytes, on workers that may not have trained them.
    assert!(lines.contains("of run hb, to 1 epoch\n") || lines.contains("of run hb, to 3 epochs"), "{lines}");
    assert!(lines.contains("of run hb, continued to 9 epochs"), "{lines}");
    let db = mlpnas_postgres::open(&pg.url()).expect("db");
    let stored: Vec<String> = db.run("hb").read_trials().expect("trials").records.iter().map(with_rungs).collect();
    assert_eq!(stored, local, "the Hyperband run through workers differs from the local run");
    let mut refused = bin();
    args(&mut refused);
    let out = refused
        .args(["--set", "trainer.gradients=\"autodiff\"", "--storage", &pg.url(), "--name", "hb-autodiff"])
        .output()
        .expect("autodiff");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.trim_end().lines().count() == 1, "{e}");
    assert!(e.contains("scheduler.type") && e.contains("closed-form"), "{e}");
}

/// TPE in a multi-objective search (reward against params) through PostgreSQL workers (issue
/// 35): the journal, objective values included, is the local run's, and `report --front` reads
/// the same front from the database.
#[test]
fn tpe_with_two_objectives_through_workers_gives_the_local_journal() {
    let Some(pg) = Pg::start("tpe") else { return };
    let d = tmp("dist-tpe");
    let args = |c: &mut Command| {
        c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/tpe.toml"));
        c.args(["--data", "builtin:iris", "--seed", "11"]);
        for s in [
            "search.controller_epochs=3",
            "search.samples_per_epoch=8",
            "search.batch=2",
            "trainer.epochs=2",
            "search.objectives=[\"reward\", \"params\"]",
        ] {
            c.args(["--set", s]);
        }
    };
    let with_objectives = |r: &TrialRecord| format!("{} {:?}", essence(r), r.objectives);
    let local: Vec<String> = {
        let mut c = bin();
        args(&mut c);
        let out = c.arg("--out").arg(d.join("local")).output().expect("local");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        support::journal(&d.join("local")).iter().map(with_objectives).collect()
    };
    assert_eq!(local.len(), 24);
    let mut coord = bin();
    args(&mut coord);
    let mut coord = spawn(coord.args(["--storage", &pg.url(), "--name", "tpe", "--threads", "0"]));
    let w = worker(&pg, &["--exit-when-idle", "30"]);
    finish(&mut coord);
    stop(w);
    let db = mlpnas_postgres::open(&pg.url()).expect("db");
    let stored: Vec<String> =
        db.run("tpe").read_trials().expect("trials").records.iter().map(with_objectives).collect();
    assert_eq!(stored, local, "the TPE run through workers differs from the local run");
    let front = |args: &[&str]| {
        let out = bin().args(["report", "--front", "--json"]).args(args).output().expect("report");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Vec<TrialRecord> = serde_json::from_slice(&out.stdout).expect("json");
        v.iter().map(|r| r.trial).collect::<Vec<_>>()
    };
    let local_dir = d.join("local");
    assert_eq!(front(&["tpe", "--storage", &pg.url()]), front(&[local_dir.to_str().expect("utf-8")]));
}

/// A table with categories and missing cells: the coordinator publishes the encoded data once,
/// workers never refit, and the journal is the local run's.
#[test]
fn a_table_with_categories_in_postgres_gives_the_local_journal() {
    let Some(pg) = Pg::start("tabular") else { return };
    let d = tmp("dist-tabular");
    let csv = d.join("penguins.csv");
    std::fs::write(&csv, support::penguins(200, 0)).expect("write");
    let args = |c: &mut Command| {
        c.args(["search", "--quiet", "--config"]).arg(workspace().join("configs/random.toml"));
        c.arg("--data").arg(&csv).args(["--label", "species"]);
        for s in ["search.controller_epochs=2", "search.samples_per_epoch=4", "trainer.epochs=3"] {
            c.args(["--set", s]);
        }
    };
    let want = local_journal(&args, &d.join("local"));
    let mut coord = bin();
    args(&mut coord);
    let mut coord = spawn(coord.args(["--storage", &pg.url(), "--name", "tab", "--threads", "0"]));
    let w = worker(&pg, &["--exit-when-idle", "30"]);
    finish(&mut coord);
    stop(w);
    assert_eq!(report(&pg, "tab"), want, "the run in PostgreSQL differs from the local run");
    // Its data summary is stored with it (a schema-2 column), as in the run directory.
    let said = |args: &[&str]| {
        let out = bin().arg("report").args(args).output().expect("report");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).lines().find(|l| l.starts_with("data: ")).map(str::to_string)
    };
    let in_pg = said(&["tab", "--storage", &pg.url()]).expect("a data line for the run in PostgreSQL");
    let local = said(&[d.join("local").to_str().expect("utf-8")]).expect("a data line for the run directory");
    assert_eq!(in_pg, local);
    assert!(in_pg.contains("classes: ") && in_pg.contains("(majority rate 0."), "{in_pg}");
}
