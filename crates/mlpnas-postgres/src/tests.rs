//! Tests of the connection against a private PostgreSQL server (initdb into a temporary
//! directory, as the `postgres` user when running as root; pg_ctl on a free loopback port):
//! each statement is prepared once per connection, a reconnect starts with none, and a
//! statement deallocated behind the connection's back is prepared again.
//!
//! Without PostgreSQL binaries they print "skipped: no PostgreSQL" and pass, unless
//! `MLPNAS_REQUIRE_POSTGRES=1` turns the skip into a failure.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::conn::Db;
use crate::error::Failure;
use crate::url::PgUrl;

/// A private server, stopped and deleted on drop.
struct Server {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Server {
    fn start(name: &str) -> Option<Self> {
        let bin = std::env::var_os("MLPNAS_PG_BINDIR").map(PathBuf::from).or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
                .collect();
            found.sort();
            found.pop()
        });
        let Some(bin) = bin else {
            assert!(
                std::env::var("MLPNAS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "MLPNAS_REQUIRE_POSTGRES=1 but no PostgreSQL binaries were found (/usr/lib/postgresql/*/bin or MLPNAS_PG_BINDIR)"
            );
            eprintln!("skipped: no PostgreSQL");
            return None;
        };
        let root = std::env::temp_dir().join(format!("mlpnas-pgconn-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("server root");
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if as_postgres {
            assert!(Command::new("chown").args(["-R", "postgres"]).arg(&root).status().expect("chown").success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let s = Self { root, bin, port, as_postgres };
        let data = s.root.join("data").display().to_string();
        s.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"]);
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", s.root.display());
        let log = s.root.join("log").display().to_string();
        s.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &opts, "-w", "start"]);
        s.run("createdb", &["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "mlpnas"]);
        Some(s)
    }

    fn tool(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.tool(tool).args(args).output().expect(tool);
        assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/mlpnas", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.root.join("data").display().to_string();
        let _ = self
            .tool("pg_ctl")
            .args(["-D", &data, "stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const ONE: &str = "SELECT $1::int8 + 1";
const MINE: &str = "SELECT count(*) FROM pg_prepared_statements";
const PID: &str = "SELECT pg_backend_pid()::int8";

/// Runs `sql` with one `bigint` parameter (or none): its `bigint` value, and how many statements
/// the connection has prepared then.
fn one(db: &Db, sql: &'static str, arg: Option<i64>) -> (i64, usize) {
    db.with(|c| {
        let row = match arg {
            Some(a) => c.query_one(sql, &[&a])?,
            None => c.query_one(sql, &[])?,
        };
        Ok((row.get(0), c.prepared_count()))
    })
    .expect("statement")
}

#[test]
fn statements_are_prepared_once_per_connection_and_afresh_after_a_reconnect() {
    let Some(server) = Server::start("cache") else { return };
    let url: PgUrl = server.url().parse().expect("url");
    let db = Db::connect(&url, false).expect("connect");

    // One statement, run five times: prepared once, on the server as on the client.
    for i in 0..5 {
        assert_eq!(one(&db, ONE, Some(i)), (i + 1, 1));
    }
    assert_eq!(one(&db, MINE, None), (2, 2), "the server holds the two statements, once each");

    // The server ends the session: the next call reconnects, and starts with no statements.
    let (pid, _) = one(&db, PID, None);
    let mut other = postgres::Client::connect(&server.url(), postgres::NoTls).expect("second client");
    other.execute("SELECT pg_terminate_backend($1::int8::int)", &[&pid]).expect("terminate");
    let gone = std::time::Instant::now();
    while other
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int8::int", &[&pid])
        .expect("activity")
        .get::<_, i64>(0)
        > 0
    {
        assert!(gone.elapsed() < std::time::Duration::from_secs(10), "the session was not ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // (A simple query, which prepares nothing, finds the session gone.)
    let kept = db
        .with(|c| {
            c.client().batch_execute("SELECT 1")?;
            Ok(c.prepared_count())
        })
        .expect("reconnect");
    assert_eq!(kept, 0, "the old connection's statements were kept");
    assert_eq!(one(&db, ONE, Some(41)), (42, 1));
    let (new_pid, _) = one(&db, PID, None);
    assert_ne!(pid, new_pid, "no reconnect");
    assert_eq!(one(&db, MINE, None), (3, 3));

    // Statements deallocated behind the connection's back are prepared again (once).
    db.with(|c| c.client().batch_execute("DEALLOCATE ALL").map_err(Failure::Pg)).expect("deallocate");
    assert_eq!(one(&db, ONE, Some(1)), (2, 1));
    assert_eq!(one(&db, MINE, None), (2, 2));
}
