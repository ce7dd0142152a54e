//! `mlpnas dashboard` through the real binary, on runs made by real searches: the JSON API
//! against the run files, a running search followed live, broken and vanishing runs shown as
//! messages, requests outside what it serves refused, and a real browser (headless Chromium via
//! chromedriver) loading the run page and following more of the search without a reload.
//!
//! The browser test prints "skipped: no chromedriver" and passes where Chromium is not
//! installed, unless `MLPNAS_REQUIRE_CHROMIUM=1` (set by `.ci/run`) turns the skip into a failure.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::dashboard::{Dashboard, request};
use support::{bin, tmp, workspace};

/// A quick search on iris: 2 controller epochs x 6 trials, 3 training epochs each.
fn iris_search(out: &Path, seed: u64) {
    let st = bin()
        .args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/random.toml"))
        .args(["--data", "builtin:iris", "--seed", &seed.to_string()])
        .args([
            "--set",
            "search.controller_epochs=2",
            "--set",
            "search.samples_per_epoch=6",
            "--set",
            "trainer.epochs=3",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("search");
    assert!(st.success(), "search into {}", out.display());
}

/// A search on iris under Hyperband (min 1 epoch, eta 3, trainer.epochs 3): a bracket of 3
/// trials from 1 epoch (one goes on to 3), then 2 trials at 3 epochs.
fn iris_hyperband(out: &Path) {
    let st = bin()
        .args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/random.toml"))
        .args(["--data", "builtin:iris", "--set", "search.controller_epochs=2", "--set", "trainer.epochs=3"])
        .args(["--set", "scheduler.type=\"hyperband\"", "--set", "scheduler.min_epochs=1", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("search");
    assert!(st.success(), "search into {}", out.display());
}

/// A search of a hand-made benchmark table (3 configurations of a minimized metric) into `out`.
fn table_search(out: &Path) {
    let table = out.with_extension("table");
    std::fs::create_dir_all(&table).expect("table dir");
    std::fs::write(
        table.join("table.toml"),
        "name = \"toy\"\nmetric = \"val_loss\"\ndirection = \"minimize\"\n[[dimension]]\nname = \"alpha\"\nvalues = [1e-8, 0.001]\n\
         [[dimension]]\nname = \"act\"\nvalues = [\"relu\", \"tanh\"]\n",
    )
    .expect("table.toml");
    std::fs::write(
        table.join("table.csv"),
        "alpha,act,seed,val_loss\n1e-08,relu,0,0.5\n0.001,tanh,0,0.25\n0.001,relu,0,2.0\n",
    )
    .expect("table.csv");
    let st = bin()
        .args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/tables/random.toml"))
        .args(["--set", &format!("space.path=\"{}\"", table.display())])
        .args(["--set", &format!("trainer.path=\"{}\"", table.display())])
        .args(["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=3"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("table search");
    assert!(st.success(), "table search into {}", out.display());
}

/// A slower search on wine quality (REINFORCE with its predictor), in the background.
fn wine_search(out: &Path, epochs: usize, per_epoch: usize) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/seed-default.toml"))
        .args(["--set", &format!("search.controller_epochs={epochs}")])
        .args(["--set", &format!("search.samples_per_epoch={per_epoch}"), "--set", "trainer.epochs=3"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn complete_lines(path: &Path) -> usize {
    std::fs::read(path).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0)
}

fn run_info<'a>(runs: &'a Value, id: &str) -> &'a Value {
    runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no run {id}: {runs}"))
}

/// Polls `f` every 50 ms until it holds; panics after `limit` saying `what`.
fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

#[test]
fn the_api_serves_runs_made_by_real_searches_and_nothing_else() {
    let root = tmp("api");
    iris_search(&root.join("cmp/seed-1"), 1);
    iris_search(&root.join("cmp/seed-2"), 2);
    std::fs::create_dir_all(root.join("not-a-run/deeper")).expect("dir");
    let mut d = Dashboard::start(&[&root]);

    let runs = d.json("/api/runs");
    assert_eq!(runs["runs"].as_array().expect("runs").len(), 2, "{runs}");
    let (a, b) = (run_info(&runs, "cmp/seed-1"), run_info(&runs, "cmp/seed-2"));
    for (info, dir) in [(a, "cmp/seed-1"), (b, "cmp/seed-2")] {
        assert_eq!(info["status"], "finished");
        assert_eq!(info["trials"], 12);
        assert_eq!(info["facts"]["planned"], 12);
        assert_eq!(info["facts"]["controller"], "random");
        assert!(info["error"].is_null(), "{info}");
        // The best is what `report` says.
        let out = bin().args(["report", "--json", "--top", "1"]).arg(root.join(dir)).output().expect("report");
        let top: Value = serde_json::from_slice(&out.stdout).expect("report json");
        assert_eq!(info["best"]["trial"], top[0]["trial"]);
        assert_eq!(info["best"]["reward"], top[0]["reward"]);
        assert_eq!(info["best"]["architecture"], top[0]["architecture"]);
    }
    assert_eq!(a["facts"]["group"], b["facts"]["group"], "runs that differ by the seed form one group");

    // A run's page: exactly the journal and the controller epochs.
    let dir = root.join("cmp/seed-1");
    let run = d.json("/api/runs/cmp%2Fseed-1");
    assert_eq!(run["from"], 0);
    assert_eq!(run["trials"].as_array().expect("trials"), &lines(&dir.join("journal.jsonl")));
    assert_eq!(run["epochs"].as_array().expect("epochs"), &lines(&dir.join("controller.jsonl")));
    assert!(run["leaderboard"].is_null());
    // The store's bigrams replayed from the journal account for every transfer it records.
    let reused: u64 =
        run["bigrams"].as_array().expect("bigrams").iter().map(|b| b["reused"].as_u64().expect("n")).sum();
    let transfers: u64 = run["trials"].as_array().expect("t").iter().map(|t| t["transfers"].as_u64().expect("n")).sum();
    assert_eq!(reused, transfers);
    assert!(transfers > 0, "iris with one-shot sharing reuses some bigrams");
    // Only what is new: from a count on, and nothing when the version has not moved.
    let tail = d.json("/api/runs/cmp%2Fseed-1?from=10");
    assert_eq!(tail["from"], 10);
    assert_eq!(tail["trials"].as_array().expect("t").len(), 2);
    assert_eq!(tail["trials"][0], run["trials"][10]);
    let same = d.json(&format!("/api/runs/cmp%2Fseed-1?from=12&version={}", run["info"]["version"]));
    assert_eq!(same["unchanged"], true);
    assert!(same.get("trials").is_none());
    let one = d.json("/api/runs/cmp%2Fseed-1/trials/3");
    assert_eq!(one["trial"], run["trials"][3]);

    // The page and its assets come from inside the binary.
    let (status, html) = d.get("/");
    assert_eq!(status, 200);
    assert!(html.contains("/vendor/uPlot.iife.min.js") && html.contains("/app.js"));
    let (status, js) = d.get("/vendor/uPlot.iife.min.js");
    assert!(status == 200 && js.contains("uPlot"), "{status}");

    // Nothing else: unknown runs and trials, paths that try to leave, other methods and hosts.
    assert_eq!(d.get("/api/runs/nope").0, 404);
    assert_eq!(d.get("/api/runs/cmp%2Fseed-1/trials/12").0, 404);
    assert_eq!(d.get("/api/runs/not-a-run").0, 404);
    for path in [
        "/../../etc/passwd",
        "/..%2F..%2Fetc%2Fpasswd",
        "/api/runs/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/runs/..%2Fcmp%2Fseed-1",
        "/vendor/../../../../etc/passwd",
        "/vendor/..%2F..%2FCargo.toml",
        "//etc/passwd",
        "/app.js/../../etc/passwd",
        "/etc/passwd",
    ] {
        let (status, body) = d.get(path);
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!body.contains("root:") && !body.contains("[package]"), "{path}: {body}");
    }
    assert_eq!(request(d.addr, "POST", "/api/runs", "127.0.0.1").0, 405);
    assert_eq!(request(d.addr, "DELETE", "/api/runs/cmp%2Fseed-1", "127.0.0.1").0, 405);
    assert_eq!(request(d.addr, "GET", "/api/runs", "attacker.example:80").0, 403);
    assert_eq!(request(d.addr, "GET", "/api/runs", "localhost").0, 200);
    // DNS rebinding: names that resolve to 127.0.0.1 are not this dashboard's names.
    let port = d.addr.port();
    for host in [format!("127.evil.com:{port}"), "127.0.0.1.nip.io".into(), format!("localhost.evil.com:{port}")] {
        let (status, body) = request(d.addr, "GET", "/api/runs", &host);
        assert_eq!(status, 403, "{host}: {body}");
        assert!(!body.contains("cmp"), "{host}: {body}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(request(d.addr, "GET", "/api/runs", &host).0, 200, "{host}");
    }

    // finalize's leaderboard appears on the run's page.
    let st = bin()
        .args(["--quiet", "finalize", "--top", "1", "--epochs", "3"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .expect("finalize");
    assert!(st.success());
    wait_until(Duration::from_secs(10), "the leaderboard shown", || {
        d.json("/api/runs/cmp%2Fseed-1")["info"]["finalized"] == true
    });
    let run = d.json("/api/runs/cmp%2Fseed-1");
    assert_eq!(run["leaderboard"]["entries"].as_array().expect("entries").len(), 1);

    // A run started after the dashboard appears by itself.
    iris_search(&root.join("later"), 3);
    wait_until(Duration::from_secs(10), "a new run listed", || {
        d.json("/api/runs")["runs"].as_array().is_some_and(|r| r.iter().any(|r| r["id"] == "later"))
    });
    assert!(d.alive());
}

#[test]
fn a_running_search_is_followed_live_and_broken_runs_show_as_messages() {
    let root = tmp("live");
    // Broken runs, made from a real one before the dashboard starts.
    iris_search(&root.join("good"), 1);
    let journal = std::fs::read_to_string(root.join("good/journal.jsonl")).expect("journal");
    let rows: Vec<&str> = journal.lines().collect();
    for name in ["corrupt", "half"] {
        let d = root.join(name);
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::copy(root.join("good/config.toml"), d.join("config.toml")).expect("config");
    }
    std::fs::write(root.join("corrupt/journal.jsonl"), format!("{}\n{{\"trial\": oops\n{}\n", rows[0], rows[1]))
        .expect("corrupt journal");
    let half = &rows[2][..rows[2].len() / 2];
    std::fs::write(root.join("half/journal.jsonl"), format!("{}\n{}\n{half}", rows[0], rows[1])).expect("half");

    let live = root.join("live");
    let mut search = wine_search(&live, 4, 8).spawn().expect("search");
    wait_until(Duration::from_secs(60), "the search started", || live.join("journal.jsonl").exists());
    let mut d = Dashboard::start(&[&root]);

    // The corrupt journal is a message naming the file; the half-written line is simply not
    // there yet, and appears once its writer finishes it.
    let corrupt = d.json("/api/runs/corrupt");
    let err = corrupt["info"]["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("journal.jsonl") && err.contains("byte"), "{corrupt}");
    let h = d.json("/api/runs/half");
    assert!(h["info"]["error"].is_null(), "{h}");
    assert_eq!(h["trials"].as_array().expect("t").len(), 2);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(root.join("half/journal.jsonl")).expect("open");
        writeln!(f, "{}", &rows[2][rows[2].len() / 2..]).expect("finish the line");
    }
    wait_until(Duration::from_secs(5), "the finished line read", || d.json("/api/runs/half")["info"]["trials"] == 3);

    // Live: the API never lags the journal by more than 2 s, and says "running" meanwhile.
    let (mut worst, mut seen_running, mut samples) = (Duration::ZERO, false, 0);
    loop {
        let done = search.try_wait().expect("wait").is_some();
        let n = complete_lines(&live.join("journal.jsonl"));
        let lag = wait_until(Duration::from_secs(5), "the API catching up with the journal", || {
            let info = &d.json("/api/runs/live")["info"];
            seen_running |= info["status"] == "running";
            info["trials"].as_u64().unwrap_or(0) >= n as u64
        });
        worst = worst.max(lag);
        samples += 1;
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(search.wait().expect("search").success());
    assert!(seen_running, "never shown as running");
    assert!(worst < Duration::from_secs(2), "the API lagged the journal by {worst:?}");
    eprintln!("live: {samples} samples, worst lag {worst:?}");
    wait_until(Duration::from_secs(5), "finished", || d.json("/api/runs/live")["info"]["status"] == "finished");
    assert_eq!(d.json("/api/runs/live")["trials"].as_array().expect("t").len(), 32);

    // A search killed mid-run is "interrupted".
    let killed = root.join("killed");
    // Long enough (320 trials planned) to be found and seen running before it is killed.
    let mut k = wine_search(&killed, 40, 8).spawn().expect("search");
    wait_until(Duration::from_secs(60), "trials of the run to kill", || {
        complete_lines(&killed.join("journal.jsonl")) >= 2
    });
    // Found by the dashboard's next look for new runs (every 2 s), then seen running.
    wait_until(Duration::from_secs(10), "shown running", || {
        let (code, body) = d.get("/api/runs/killed");
        code == 200 && serde_json::from_str::<Value>(&body).is_ok_and(|v| v["info"]["status"] == "running")
    });
    k.kill().expect("SIGKILL");
    k.wait().expect("wait");
    wait_until(Duration::from_secs(5), "shown interrupted", || {
        d.json("/api/runs/killed")["info"]["status"] == "interrupted"
    });

    // A run that disappears keeps its last state, with the reason, and nothing else breaks.
    std::fs::remove_dir_all(root.join("good")).expect("rm");
    wait_until(Duration::from_secs(5), "the vanished run's message", || {
        !d.json("/api/runs/good")["info"]["error"].is_null()
    });
    let gone = d.json("/api/runs/good");
    assert_eq!(gone["trials"].as_array().expect("t").len(), 12, "what was read stays");
    assert_eq!(d.json("/api/runs")["runs"].as_array().expect("runs").len(), 5);
    assert!(d.alive(), "the server survived all of it");
}

#[test]
fn bad_arguments_give_one_line_errors() {
    let out = bin().args(["dashboard", "/nonexistent/runs"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/runs: no such directory"), "{err}");

    let root = tmp("bind");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = bin().arg("dashboard").arg(&root).args(["--port", &port]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}: cannot listen")) && err.trim().lines().count() == 1, "{err}");
}

// ---------------------------------------------------------------- a real browser

/// chromedriver on a free port, killed on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn start_driver() -> Option<(Driver, PathBuf)> {
    let (Some(driver), Some(browser)) = (find("chromedriver"), find("chromium").or_else(|| find("chromium-browser")))
    else {
        assert!(
            std::env::var("MLPNAS_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "MLPNAS_REQUIRE_CHROMIUM=1 but chromium and chromedriver are not on PATH (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: no chromedriver");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let d = Driver(child, port);
    wait_until(Duration::from_secs(20), "chromedriver listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some((d, browser))
}

async fn eval(c: &fantoccini::Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Evaluates `script` every 100 ms until it returns `want`; the time it took.
async fn until(c: &fantoccini::Client, script: &str, want: Value, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = eval(c, script).await;
        if got == want {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "{script}: {got} after {limit:?}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const POINTS: &str = "return window.mlpnas.charts.reward ? window.mlpnas.charts.reward.data[0].length : -1";
const ROWS: &str = "return document.querySelectorAll('#trials tbody tr').length";

#[test]
fn chromium_shows_the_run_page_and_follows_more_of_the_search_without_a_reload() {
    let Some((driver, browser)) = start_driver() else { return };
    let root = tmp("browser");
    let run = root.join("wine");
    // 2 controller epochs x 6 trials, then resumed to 16 epochs while the page is open.
    assert!(wine_search(&run, 2, 6).status().expect("search").success());
    // Two runs that differ only by the seed: one group on the compare page.
    iris_search(&root.join("iris-1"), 1);
    iris_search(&root.join("iris-2"), 2);
    // iris-1 finalized (its leaderboard on its page); a benchmark-table run one level down (its
    // id holds a "/").
    let st = bin().args(["finalize", "-q", "--top", "2", "--epochs", "3"]).arg(root.join("iris-1")).status();
    assert!(st.expect("finalize").success());
    table_search(&root.join("tables").join("toy"));
    iris_hyperband(&root.join("iris-hb"));
    // A multi-objective run: reward against parameters.
    let st = bin()
        .args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/random.toml"))
        .args(["--data", "builtin:iris", "--set", "search.controller_epochs=2", "--set", "trainer.epochs=2"])
        .args(["--set", "search.objectives=[\"reward\", \"params\"]", "--out"])
        .arg(root.join("iris-mo"))
        .stdout(Stdio::null())
        .status();
    assert!(st.expect("search").success());
    // A regression, finalized: its metric replaces the accuracy everywhere.
    let diabetes = root.join("diabetes");
    let st = bin()
        .args(["search", "--quiet", "--config"])
        .arg(workspace().join("configs/random.toml"))
        .args(["--data", "builtin:diabetes", "--task", "regression", "--set", "search.controller_epochs=1"])
        .args(["--set", "search.samples_per_epoch=4", "--set", "trainer.epochs=3", "--out"])
        .arg(&diabetes)
        .stdout(Stdio::null())
        .status();
    assert!(st.expect("regression search").success());
    let st = bin().args(["finalize", "-q", "--top", "2", "--epochs", "3"]).arg(&diabetes).status();
    assert!(st.expect("finalize").success());
    let d = Dashboard::start(&[&root]);
    let profile = root.join("chromium-profile");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let caps: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,2000", format!("--user-data-dir={}", profile.display())]
        }
    }))
    .expect("caps");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.1))
            .await
            .expect("WebDriver session");
        let long = Duration::from_secs(30);

        // The runs page lists the runs, says which are finalized, names a table run by its table.
        c.goto(&d.url()).await.expect("runs page");
        until(&c, "return document.querySelectorAll('#runs tbody tr').length", 7.into(), long).await;
        let finalized = "return [...document.querySelectorAll('#runs tbody tr')].map((r) => r.cells[1].innerText.split('\\n')[0] + '=' + r.querySelector('.finalized').textContent).sort().join(' ')";
        assert_eq!(eval(&c, finalized).await, "diabetes=yes iris-1=yes iris-2=– iris-hb=– iris-mo=– tables/toy=– wine=–");
        assert_eq!(eval(&c, "return document.body.innerText.includes('table toy')").await, true);

        // The run page: as many chart points and table rows as the journal has trials.
        c.goto(&format!("{}#/run/wine", d.url())).await.expect("run page");
        until(&c, POINTS, 12.into(), long).await;
        until(&c, ROWS, 12.into(), long).await;
        assert_eq!(eval(&c, "return window.mlpnas.charts.epochs.data[1].length").await, 12);
        let predicted = lines(&run.join("journal.jsonl")).iter().filter(|t| !t["predicted"].is_null()).count();
        assert_eq!(eval(&c, "return window.mlpnas.charts.predicted.data[1].length").await, predicted);
        assert_eq!(eval(&c, "return window.mlpnas.charts['stat:entropy'].data[0].length").await, 2);
        assert_eq!(eval(&c, "return document.querySelectorAll('#bigrams tbody tr').length > 0").await, true);
        // "reward" is explained; legends hold no "--" placeholders while the cursor is away.
        let help = eval(&c, "return document.getElementById('reward-help').textContent").await;
        assert!(help.as_str().is_some_and(|h| h.contains("later epochs count more")), "{help}");
        assert_eq!(eval(&c, "return [...document.querySelectorAll('.u-legend')].some((l) => l.innerText.includes('--'))").await, false);
        // Filtering and sorting the table.
        eval(&c, "const f = document.getElementById('trial-filter'); f.value = 'softmax'; f.dispatchEvent(new Event('input')); return 0").await;
        assert_eq!(eval(&c, ROWS).await, 12, "every wine architecture ends in softmax");
        eval(&c, "const f = document.getElementById('trial-filter'); f.value = 'no-such-layer'; f.dispatchEvent(new Event('input')); return 0").await;
        assert_eq!(eval(&c, ROWS).await, 0);
        eval(&c, "const f = document.getElementById('trial-filter'); f.value = ''; f.dispatchEvent(new Event('input')); document.querySelectorAll('#trials th')[3].click(); return 0").await;
        let first = eval(&c, "return document.querySelector('#trials tbody tr td:nth-child(4)').textContent").await;
        let best = lines(&run.join("journal.jsonl")).iter().map(|t| t["reward"].as_f64().expect("r")).fold(0.0, f64::max);
        assert_eq!(first, format!("{best:.4}"), "sorted by reward, best first");
        let png = c.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
        std::fs::write(shots.join("run.png"), &png).expect("write screenshot");

        // More of the search, with the page open (84 more trials, several seconds: long enough
        // that the page, polling every second, sees it running): it follows without a reload.
        eval(&c, "window.__sameDocument = 1; return 0").await;
        let mut more = bin();
        more.args(["search", "--quiet", "--resume"]).arg(&run).args(["--set", "search.controller_epochs=16"]);
        let mut more = more.stdout(Stdio::null()).spawn().expect("resume");
        until(&c, "return document.querySelector('.badge').textContent", "running".into(), long).await;
        let mid = format!("const n = {}; return n > 12 && n < 96", POINTS.trim_start_matches("return "));
        until(&c, &mid, true.into(), long).await;
        let during = eval(&c, POINTS).await;
        assert!(more.wait().expect("resume").success());
        let t = until(&c, POINTS, 96.into(), Duration::from_secs(10)).await;
        assert_eq!(complete_lines(&run.join("journal.jsonl")), 96);
        until(&c, ROWS, 96.into(), Duration::from_secs(2)).await;
        until(&c, "return document.querySelector('.badge').textContent", "finished".into(), Duration::from_secs(5)).await;
        assert_eq!(eval(&c, "return window.__sameDocument").await, 1, "the page was reloaded");
        // The raised budget (the resumed run's config) is read again too.
        until(&c, "return document.body.innerText.includes('96 / 96')", true.into(), Duration::from_secs(5)).await;
        eprintln!("the page showed {during} trials while the search ran, and the 96th {t:?} after it ended");
        assert!(t < Duration::from_millis(2500), "the page lagged the journal by {t:?}");
        std::fs::write(shots.join("run-resumed.png"), c.screenshot().await.expect("screenshot")).expect("write");

        // A trial's page: its per-epoch curves.
        c.goto(&format!("{}#/run/wine/trial/0", d.url())).await.expect("trial page");
        until(&c, "return window.mlpnas.charts.loss ? window.mlpnas.charts.loss.data[0].length : -1", 3.into(), long).await;
        // The compare page: one line for one run, as long as its trials.
        c.goto(&format!("{}#/compare/wine", d.url())).await.expect("compare page");
        until(&c, "return window.mlpnas.charts.compare ? window.mlpnas.charts.compare.data[1].length : -1", 96.into(), long).await;
        // Two seeds of one config: their median with a band between the lowest and the highest.
        c.goto(&format!("{}#/compare/iris-1,iris-2", d.url())).await.expect("compare page");
        until(&c, "return window.mlpnas.page && window.mlpnas.page.kind === 'compare' ? window.mlpnas.page.groups : -1", 1.into(), long).await;
        assert_eq!(eval(&c, "return window.mlpnas.charts.compare.data.length").await, 4, "x, median, highest, lowest");
        assert_eq!(eval(&c, "return window.mlpnas.charts.compare.data[1].length").await, 12);
        assert_eq!(eval(&c, "return document.querySelectorAll('#compare tbody tr').length").await, 2);
        std::fs::write(shots.join("compare.png"), c.screenshot().await.expect("screenshot")).expect("write");

        // A finalized run: the leaderboard's ranking column first, the weight store below it.
        c.goto(&format!("{}#/run/iris-1", d.url())).await.expect("finalized run page");
        until(&c, "return document.querySelectorAll('#leaderboard tbody tr').length", 2.into(), long).await;
        let heads = eval(&c, "return [...document.querySelectorAll('#leaderboard th')].slice(0, 4).map((h) => h.textContent).join(',')").await;
        assert_eq!(heads, "architecture,model,val acc,test acc");
        // What the rewards are read against: the class counts and the majority rate.
        let label = eval(&c, "return document.getElementById('run-label').textContent").await;
        assert_eq!(label, "classes: setosa 50, versicolor 50, virginica 50 (majority rate 0.3333)");
        let order = "return document.getElementById('leaderboard').compareDocumentPosition(document.getElementById('bigrams')) === Node.DOCUMENT_POSITION_FOLLOWING";
        assert_eq!(eval(&c, order).await, true, "the weight store below the final models");
        // A regression: val rmse instead of val acc, in the trials and the leaderboard; the
        // trial page charts it.
        c.goto(&format!("{}#/run/diabetes", d.url())).await.expect("regression run page");
        until(&c, "return document.querySelectorAll('#leaderboard tbody tr').length", 2.into(), long).await;
        until(&c, ROWS, 4.into(), long).await;
        let heads = eval(&c, "return [...document.querySelectorAll('#trials th')].map((h) => h.textContent).join(',')").await;
        assert_eq!(heads.as_str().map(|h| (h.contains("val rmse"), h.contains("val acc"))), Some((true, false)), "{heads}");
        let heads = eval(&c, "return [...document.querySelectorAll('#leaderboard th')].map((h) => h.textContent).join(',')").await;
        assert!(heads.as_str().is_some_and(|h| h.starts_with("architecture,model,val rmse,test rmse") && !h.contains("acc")), "{heads}");
        assert_eq!(eval(&c, "return document.getElementById('run-metric').textContent").await, "rmse (smaller is better; reward = −metric)");
        let label = eval(&c, "return document.getElementById('run-label').textContent").await;
        assert!(label.as_str().is_some_and(|l| l.starts_with("target: mean ") && l.contains("predicting the mean scores rmse")), "{label}");
        c.goto(&format!("{}#/run/diabetes/trial/0", d.url())).await.expect("regression trial page");
        until(&c, "return window.mlpnas.charts.accuracy ? window.mlpnas.charts.accuracy.data[1].length : -1", 3.into(), long).await;
        assert_eq!(eval(&c, "return document.body.innerText.includes('Validation rmse per epoch')").await, true);
        // A table run, its id typed by hand with its "/": the metric replaces accuracy and size.
        c.goto(&format!("{}#/run/tables/toy", d.url())).await.expect("table run page");
        until(&c, ROWS, 3.into(), long).await;
        let heads = eval(&c, "return [...document.querySelectorAll('#trials th')].map((h) => h.textContent).join(',')").await;
        assert_eq!(heads, "trial,epoch,configuration,reward,val_loss,predicted,seconds,status");
        assert_eq!(eval(&c, "return document.body.innerText.includes('smaller is better')").await, true);
        c.goto(&format!("{}#/compare/tables/toy,iris-2", d.url())).await.expect("compare typed by hand");
        until(&c, "return document.querySelectorAll('#compare tbody tr').length", 2.into(), long).await;
        assert_eq!(eval(&c, "return document.querySelectorAll('.error').length").await, 0);
        // A run under Hyperband: its scheduler, each trial's rungs and those that stopped early
        // (the trials of the first bracket that did not go on), filtered by "stopped".
        c.goto(&format!("{}#/run/iris-hb", d.url())).await.expect("scheduled run page");
        until(&c, ROWS, 5.into(), long).await;
        assert_eq!(eval(&c, "return document.getElementById('run-scheduler').textContent").await, "hyperband");
        let hb = lines(&root.join("iris-hb/journal.jsonl"));
        let stopped = hb.iter().filter(|t| t["rungs"].as_array().is_some_and(|r| r.len() == 1 && r[0]["epochs"] == 1)).count();
        assert_eq!(stopped, 2, "3 trials from 1 epoch, the best of them on to 3");
        assert_eq!(
            eval(&c, "return document.getElementById('trial-count').textContent").await,
            format!("5 of 5 trials ({stopped} stopped early)")
        );
        let rungs = eval(&c, "return [...document.querySelectorAll('#trials tbody tr')].map((r) => r.cells[r.cells.length - 3].textContent).join(';')").await;
        let expected: Vec<String> = hb
            .iter()
            .map(|t| {
                let e: Vec<String> = t["rungs"].as_array().expect("rungs").iter().map(|r| r["epochs"].to_string()).collect();
                if e.last().is_some_and(|l| l == "1") { format!("{} stopped", e.join(" → ")) } else { e.join(" → ") }
            })
            .collect();
        assert_eq!(rungs, expected.join(";"), "the rungs column, in trial order");
        eval(&c, "const f = document.getElementById('trial-filter'); f.value = 'stopped'; f.dispatchEvent(new Event('input')); return 0").await;
        assert_eq!(eval(&c, ROWS).await, stopped);
        std::fs::write(shots.join("hyperband.png"), c.screenshot().await.expect("screenshot")).expect("write");
        assert_eq!(eval(&c, "return document.getElementById('pareto-card').style.display").await, "none");
        // The multi-objective run: reward against params, its Pareto front highlighted, the
        // front's size as every reader computes it.
        let mo: Vec<mlpnas_core::TrialRecord> = lines(&root.join("iris-mo/journal.jsonl"))
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("record"))
            .collect();
        let front = mlpnas_core::pareto_front(&mo).len();
        assert!(front >= 1 && front < mo.len(), "{front} of {}", mo.len());
        c.goto(&format!("{}#/run/iris-mo", d.url())).await.expect("multi-objective run page");
        until(&c, ROWS, (mo.len() as u64).into(), long).await;
        assert_eq!(eval(&c, "return document.getElementById('pareto-card').style.display").await, "");
        let summary = eval(&c, "return document.getElementById('pareto-summary').textContent").await;
        assert!(
            summary.as_str().is_some_and(|t| t.starts_with(&format!("Pareto front: {front} of {} trials (reward against params", mo.len()))),
            "{summary}"
        );
        let drawn = "return window.mlpnas.charts.pareto ? window.mlpnas.charts.pareto.data[2].filter((v) => v !== null).length : -1";
        assert_eq!(eval(&c, drawn).await, front);
        assert_eq!(eval(&c, "return window.mlpnas.charts.pareto.data[1].length").await, mo.len());
        std::fs::write(shots.join("pareto.png"), c.screenshot().await.expect("screenshot")).expect("write");
        c.goto(&format!("{}#/run/iris-hb/trial/3", d.url())).await.expect("a trial at full fidelity");
        until(&c, "return document.getElementById('trial-rungs') ? document.getElementById('trial-rungs').textContent : ''", format!("3: {:.4}", hb[3]["reward"].as_f64().expect("reward")).into(), long).await;
        c.close().await.expect("close");
    });
    eprintln!("screenshots in {}", shots.display());
}

/// `mlpnas dashboard ARGS --port 0` under a shell's `ulimit -n FILES`.
fn dashboard_with_file_limit(files: usize, args: &[&str]) -> Dashboard {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("ulimit -n {files} && exec \"$0\" \"$@\"")).arg(bin().get_program());
    cmd.arg("dashboard").args(args).args(["--port", "0"]);
    Dashboard::start_command(cmd)
}

#[test]
fn a_flood_of_half_open_connections_is_turned_away_and_timed_out() {
    use std::io::{Read, Write};
    let dir = tmp("flood");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.display().to_string();
    // 256 files: at most 128 connections are served at once, one more gets a 503 at once.
    let mut d = dashboard_with_file_limit(256, &[&path]);
    let addr = d.addr;
    let mut held = Vec::new();
    for _ in 0..600 {
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else { continue };
        // Half a header, never finished.
        let _ = s.write_all(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        held.push(s);
    }
    assert!(held.len() >= 500, "only {} connections opened", held.len());
    // Those turned away are told so and closed within a second.
    std::thread::sleep(Duration::from_millis(1500));
    // The server is at its cap: a new client is told so at once, in one line of JSON.
    let (status, body) = request(addr, "GET", "/api/runs", "127.0.0.1");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many connections"), "{body}");
    assert!(d.alive(), "the dashboard survived the flood");
    // Headers that never finish are cut off (10 s): the dashboard answers again, flood or not.
    let took = wait_until(Duration::from_secs(30), "the half-open connections to be closed", || {
        request(addr, "GET", "/api/runs", "127.0.0.1").0 == 200
    });
    assert!(took >= Duration::from_secs(5), "answered after {took:?}, before the header timeout");
    // The held connections were closed by the server (read: EOF), not answered.
    let mut closed = 0;
    for s in held.iter_mut().take(50) {
        s.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
        let mut buf = [0u8; 64];
        if matches!(s.read(&mut buf), Ok(0)) || buf.starts_with(b"HTTP/1.1 503") {
            closed += 1;
        }
    }
    assert_eq!(closed, 50, "every half-open connection was closed or turned away");
    drop(held);
    // An idle kept-alive connection is closed too.
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let t0 = Instant::now();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"), "answered first");
    assert!(t0.elapsed() < Duration::from_secs(25), "an idle connection stays open: {:?}", t0.elapsed());
}

#[test]
fn a_dashboard_open_to_the_network_says_so_and_prints_its_address() {
    let dir = tmp("open-host");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.display().to_string();
    let d = dashboard_with_file_limit(1024, &[&path, "--host", "0.0.0.0"]);
    assert!(d.addr.ip().is_unspecified(), "prints the address it listens on: {}", d.addr);
    // The warning follows the address line at once; give it a moment to be written.
    std::thread::sleep(Duration::from_millis(500));
    let text = d.stop();
    assert!(
        text.contains("warning: the dashboard listens on 0.0.0.0:") && text.contains("without authentication"),
        "{text}"
    );
}
