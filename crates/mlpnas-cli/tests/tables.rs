//! Benchmark tables through the real `mlpnas` binary: `mlpnas tabulate` on a tiny space (and its
//! resume after SIGKILL), searches with `[space]`/`[trainer]` type = "table" by every
//! controller on the table it made, and bad tables (one-line errors naming file and line).

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlpnas_core::TrialRecord;
use support::{bin, fails, journal, ok, rows_without_seconds, tabulate, tmp, workspace};

/// The table of every test here: 24 configurations x 2 seeds, made once.
fn tiny_table() -> &'static Path {
    static TABLE: OnceLock<PathBuf> = OnceLock::new();
    TABLE.get_or_init(|| {
        let dir = tmp("tiny").join("iris-tiny");
        let out = ok(&mut tabulate(&dir, 2));
        assert!(out.contains("24 configurations x 2 seeds = 48 rows"), "{out}");
        dir
    })
}

/// Metric per (configuration text, seed) of a table made by `tabulate`.
fn metrics(dir: &Path) -> HashMap<String, Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("table.csv")).expect("table.csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    let dims = header.iter().position(|h| h == "seed").expect("seed column");
    let mut out: HashMap<String, Vec<f64>> = HashMap::new();
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let key: Vec<String> = (0..dims).map(|i| format!("{}={}", header[i], cells[i])).collect();
        out.entry(key.join(",")).or_default().push(cells[dims + 1].parse().expect("metric"));
    }
    out
}

#[test]
fn tabulate_writes_every_configuration_with_every_seed() {
    let dir = tiny_table();
    let toml = std::fs::read_to_string(dir.join("table.toml")).expect("table.toml");
    assert!(toml.contains("name = \"iris-tiny\""), "{toml}");
    assert!(toml.contains("metric = \"val_acc\"") && toml.contains("direction = \"maximize\""), "{toml}");
    let rows = rows_without_seconds(dir);
    assert_eq!(rows[0], "layer_1,layer_2,layer_3,seed,val_acc");
    assert_eq!(rows.len(), 1 + 48);
    let m = metrics(dir);
    assert_eq!(m.len(), 24, "{:?}", m.keys());
    assert!(m.values().all(|v| v.len() == 2 && v.iter().all(|x| (0.0..=1.0).contains(x))));
    assert!(m.contains_key("layer_1=16:tanh,layer_2=dropout(0.2),layer_3=output"), "{:?}", m.keys());
    assert!(m.contains_key("layer_1=8:relu,layer_2=output,layer_3=none"), "{:?}", m.keys());
    // Learning happened: the best configuration is far above chance (1/3) on iris.
    let best = m.values().map(|v| v.iter().sum::<f64>() / 2.0).fold(0.0, f64::max);
    assert!(best > 0.6, "best mean accuracy {best}");
    // Four epochs per row in epochs.csv.
    let epochs = std::fs::read_to_string(dir.join("epochs.csv")).expect("epochs.csv");
    assert!(epochs.starts_with("layer_1,layer_2,layer_3,seed,epoch,train_loss,val_loss,val_acc\n"), "{epochs}");
    assert_eq!(epochs.lines().count(), 1 + 48 * 4);
    // A finished tabulation is not overwritten by a new one...
    let err = fails(&mut tabulate(dir, 2));
    assert!(err.contains("already holds a tabulation"), "{err}");
    // ... and nothing is left to do when continued with as many seeds.
    let again = ok(bin().args(["tabulate", "--quiet", "--seeds", "2", "--out"]).arg(dir));
    assert!(again.contains("48 rows"), "{again}");
    assert_eq!(rows_without_seconds(dir).len(), 49);
    // Fewer seeds than the table holds: the message counts what table.csv keeps (issue 37).
    let fewer = bin().args(["tabulate", "--seeds", "1", "--out"]).arg(dir).output().expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&fewer.stdout), String::from_utf8_lossy(&fewer.stderr));
    assert!(fewer.status.success(), "{stderr}");
    assert!(stdout.contains("24 configurations x 2 seeds = 48 rows"), "{stdout}");
    assert!(stderr.contains("the table already holds 48 rows (2 seed(s) begun); --seeds 1 removes none"), "{stderr}");
    assert_eq!(rows_without_seconds(dir).len(), 49);
    // --seeds 0 is refused by the parser, before any banner.
    let zero = bin().args(["tabulate", "--seeds", "0", "--out"]).arg(dir).output().expect("run");
    let stderr = String::from_utf8_lossy(&zero.stderr);
    assert_eq!(zero.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: invalid value '0' for '--seeds <SEEDS>': 0 is too small"), "{stderr}");
    assert!(!stderr.contains("tabulating"), "{stderr}");
}

#[test]
fn tabulate_resumes_after_sigkill() {
    let reference = tiny_table();
    let dir = tmp("killed").join("iris-tiny");
    let journal_path = dir.join("run/journal.jsonl");
    let mut child = tabulate(&dir, 2).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    let t0 = Instant::now();
    // Killed in the second seed's pass: the first pass's table is already written.
    while std::fs::read_to_string(&journal_path).map_or(0, |t| t.lines().count()) < 26 {
        assert!(t0.elapsed() < Duration::from_secs(120), "tabulate made no progress");
        assert!(child.try_wait().expect("wait").is_none(), "finished before it could be killed");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let partial = rows_without_seconds(&dir);
    assert_eq!(partial.len(), 1 + 24, "after the first pass the table holds seed 0");
    let err =
        fails(bin().args(["tabulate", "--quiet", "--seeds", "2", "--set", "trainer.epochs=3", "--out"]).arg(&dir));
    assert!(err.contains("its own config"), "{err}");
    ok(bin().args(["tabulate", "--quiet", "--seeds", "2", "--out"]).arg(&dir));
    assert_eq!(rows_without_seconds(&dir), rows_without_seconds(reference), "resumed table differs");
    let epochs = |d: &Path| std::fs::read_to_string(d.join("epochs.csv")).expect("epochs.csv");
    assert_eq!(epochs(&dir), epochs(reference));
    // More seeds later: the first two passes are kept, a third is added.
    ok(bin().args(["tabulate", "--quiet", "--seeds", "3", "--out"]).arg(&dir));
    let three = rows_without_seconds(&dir);
    assert_eq!(three.len(), 1 + 72);
    assert_eq!(three[..49], rows_without_seconds(reference)[..]);
}

/// A search on the tiny table with `controller`'s config for tables.
fn table_search(controller: &str, out: &Path, table: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.args(["search", "--quiet", "--config"]).arg(workspace().join(format!("configs/tables/{controller}.toml")));
    c.arg("--out").arg(out);
    c.args(["--set", &format!("space.path=\"{}\"", table.display())]);
    c.args(["--set", &format!("trainer.path=\"{}\"", table.display())]);
    c.args(["--set", "search.controller_epochs=3", "--set", "search.samples_per_epoch=5"]);
    c.args(extra);
    c
}

#[test]
fn every_controller_searches_a_table() {
    let table = tiny_table();
    let m = metrics(table);
    let root = tmp("search");
    for controller in ["random", "evolution", "reinforce"] {
        let out = root.join(controller);
        ok(&mut table_search(controller, &out, table, &[]));
        let j = journal(&out);
        assert_eq!(j.len(), 15, "{controller}");
        let mut seen = std::collections::HashSet::new();
        for r in &j {
            let observed =
                m.get(&r.architecture).unwrap_or_else(|| panic!("{controller}: {} not in the table", r.architecture));
            let metric = r.metric.expect("a table trial journals its metric");
            assert_eq!(r.reward, metric, "{controller}: a maximized metric is the reward");
            assert!(observed.contains(&metric), "{controller}: {metric} is not one of {observed:?}");
            assert!(r.epochs.is_empty() && r.params == 0, "{controller}: nothing is trained");
            assert!(seen.insert(r.tokens.clone()), "{controller}: {} proposed twice", r.architecture);
        }
        // Same seed, same search.
        let again = root.join(format!("{controller}-again"));
        ok(&mut table_search(controller, &again, table, &[]));
        let essence = |j: &[TrialRecord]| j.iter().map(|r| (r.tokens.clone(), r.reward)).collect::<Vec<_>>();
        assert_eq!(essence(&journal(&again)), essence(&j), "{controller}");
    }
    // noise = "mean": the reward is the mean over the configuration's seeds.
    let out = root.join("mean");
    ok(&mut table_search("random", &out, table, &["--set", "trainer.noise=\"mean\""]));
    for r in journal(&out) {
        let v = &m[&r.architecture];
        assert!((r.reward - v.iter().sum::<f64>() / v.len() as f64).abs() < 1e-12);
    }
}

/// `search.objectives = ["reward", "seconds"]` on a table (issue 35): every controller records
/// each trial's reward and the recorded training time of the observation it drew (the same row
/// as its metric); `report --front` lists exactly the trials no other dominates; `--front` on a
/// single-objective run, and `seconds` where nothing records it, are one-line errors.
#[test]
fn a_table_search_trades_the_reward_against_recorded_seconds() {
    let table = tiny_table();
    let text = std::fs::read_to_string(table.join("table.csv")).expect("table.csv");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let dims = header.iter().position(|h| *h == "seed").expect("seed column");
    assert_eq!(header.last(), Some(&"seconds"), "tabulate records seconds");
    // (configuration, metric) -> seconds of the rows with them (two seeds may tie).
    let mut rows: HashMap<(String, u64), Vec<f64>> = HashMap::new();
    for l in text.lines().skip(1) {
        let cells: Vec<&str> = l.split(',').collect();
        let key: Vec<String> = (0..dims).map(|i| format!("{}={}", header[i], cells[i])).collect();
        let metric: f64 = cells[dims + 1].parse().expect("metric");
        rows.entry((key.join(","), metric.to_bits())).or_default().push(cells[dims + 2].parse().expect("seconds"));
    }
    let root = tmp("objectives");
    let both = ["--set", "search.objectives=[\"reward\", \"seconds\"]"];
    for controller in ["random", "evolution", "tpe"] {
        let out = root.join(controller);
        ok(&mut table_search(controller, &out, table, &both));
        let j = journal(&out);
        for r in &j {
            let metric = r.metric.expect("metric");
            let seconds = &rows[&(r.architecture.clone(), metric.to_bits())];
            let names: Vec<&str> = r.objectives.iter().map(|o| o.name.name()).collect();
            assert_eq!(names, ["reward", "seconds"], "{controller}");
            assert_eq!(r.objectives[0].value, r.reward, "{controller}");
            assert!(
                seconds.contains(&r.objectives[1].value),
                "{controller}: {} not in {seconds:?}",
                r.objectives[1].value
            );
        }
        let listed = ok(bin().args(["report", "--front", "--json"]).arg(&out));
        let listed: Vec<TrialRecord> = serde_json::from_str(&listed).expect("json");
        let dominated = |r: &TrialRecord| {
            j.iter().any(|q| {
                (q.reward >= r.reward && q.objectives[1].value <= r.objectives[1].value)
                    && (q.reward > r.reward || q.objectives[1].value < r.objectives[1].value)
            })
        };
        let expected: Vec<usize> = j.iter().filter(|r| !dominated(r)).map(|r| r.trial).collect();
        assert_eq!(listed.iter().map(|r| r.trial).collect::<Vec<_>>(), expected, "{controller}");
        let shown = ok(bin().arg("report").arg(&out));
        assert!(shown.contains(&format!("Pareto front ({} of the trials", expected.len())), "{shown}");
    }
    let single = root.join("single");
    ok(&mut table_search("random", &single, table, &[]));
    let e = fails(bin().args(["report", "--front"]).arg(&single));
    assert!(e.contains("--front") && e.contains("one objective"), "{e}");
    let e = fails(&mut table_search(
        "random",
        &root.join("params"),
        table,
        &["--set", "search.objectives=[\"reward\", \"params\"]"],
    ));
    assert!(e.contains("search.objectives") && e.contains("not networks"), "{e}");
    let e = fails(
        bin()
            .args(["search", "--quiet", "--config"])
            .arg(workspace().join("configs/random.toml"))
            .args(["--data", "builtin:iris", "--set", "search.objectives=[\"reward\", \"seconds\"]", "--out"])
            .arg(root.join("wall")),
    );
    assert!(e.contains("search.objectives") && e.contains("not reproducible"), "{e}");
    assert!(!root.join("wall").join("journal.jsonl").exists(), "a refused search left a run behind");
    for (bad, needle) in
        [("[\"params\", \"reward\"]", "first criterion"), ("[\"reward\", \"size\"]", "unknown variant")]
    {
        let e = fails(&mut table_search(
            "random",
            &root.join("bad"),
            table,
            &["--set", &format!("search.objectives={bad}")],
        ));
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

/// A table search started with a relative config path (`configs/tables/random.toml`, whose
/// table path is relative to it) stores where its table is, so `report` and `--resume` find it
/// from anywhere, the run directory elsewhere.
#[test]
fn a_relative_table_path_means_the_same_from_the_run_directory() {
    let out = tmp("relative").join("run");
    let mut c = bin();
    c.current_dir(workspace()).args(["search", "--quiet", "--config", "configs/tables/random.toml", "--out"]).arg(&out);
    c.args(["--set", "search.controller_epochs=2"]);
    ok(&mut c);
    let shown = ok(bin().current_dir(std::env::temp_dir()).arg("report").arg(&out));
    assert!(shown.contains("20 trials"), "{shown}");
    ok(bin()
        .current_dir(std::env::temp_dir())
        .args(["search", "--quiet", "--set", "search.controller_epochs=3", "--resume"])
        .arg(&out));
    assert_eq!(journal(&out).len(), 30);
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join(name), text).expect("write");
}

const MINIMIZE_TOML: &str = r#"
name = "toy"
metric = "val_loss"
direction = "minimize"
[[dimension]]
name = "alpha"
values = [1e-8, 0.001]
[[dimension]]
name = "act"
values = ["relu", "tanh"]
"#;

#[test]
fn a_minimize_table_negates_rewards_and_names_configurations_by_value() {
    let root = tmp("minimize");
    let table = root.join("toy");
    write(&table, "table.toml", MINIMIZE_TOML);
    write(
        &table,
        "table.csv",
        "alpha,act,seed,val_loss\n1e-08,relu,0,0.5\n1e-08,relu,1,0.7\n0.001,tanh,0,0.25\n0.001,relu,0,2.0\n",
    );
    let out = root.join("run");
    ok(&mut table_search(
        "evolution",
        &out,
        &table,
        &["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=3"],
    ));
    let j = journal(&out);
    let mut texts: Vec<&str> = j.iter().map(|r| r.architecture.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["alpha=0.001,act=relu", "alpha=0.001,act=tanh", "alpha=1e-8,act=relu"]);
    for r in &j {
        assert_eq!(r.reward, -r.metric.expect("metric"));
    }
    let best = j.iter().max_by(|a, b| a.reward.total_cmp(&b.reward)).expect("trials");
    assert_eq!(best.architecture, "alpha=0.001,act=tanh");
    // The run is named by its table and metric (not by data it never reads), and its numbers
    // are the metric's, in their natural format (issue 37).
    let again = root.join("run-2");
    let mut c = bin();
    c.args(["search", "--config"]).arg(workspace().join("configs/tables/evolution.toml")).arg("--out").arg(&again);
    c.args(["--set", &format!("space.path=\"{}\"", table.display())]);
    c.args(["--set", &format!("trainer.path=\"{}\"", table.display())]);
    c.args(["--set", "search.controller_epochs=1", "--set", "search.samples_per_epoch=3", "--set", "search.top=2"]);
    let out = c.output().expect("run");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("mlpnas: table toy (3 configurations; metric val_loss, smaller is better) -> "),
        "{stderr}"
    );
    assert!(!stderr.contains("builtin:") && !stderr.contains("0 classes"), "{stderr}");
    assert!(stdout.starts_with("rank  trial    val_loss  configuration\n"), "{stdout}");
    assert!(stdout.contains("    0.25000  alpha=0.001,act=tanh"), "{stdout}");
    let report = ok(bin().arg("report").arg(&again));
    assert!(report.starts_with("rank  trial    val_loss  configuration\n"), "{report}");
    assert!(!report.contains("e-1"), "{report}");
}

#[test]
fn bad_tables_give_one_line_errors_naming_file_and_line() {
    let root = tmp("bad");
    let cases: [(&str, &str, &str, &str); 4] = [
        ("missing", "", "", "table.toml"),
        ("badvalue", MINIMIZE_TOML, "alpha,act,seed,val_loss\n1e-08,relu,0,0.5\n0.5,relu,0,0.1\n", "table.csv:3"),
        ("badheader", MINIMIZE_TOML, "act,alpha,seed,val_loss\n", "table.csv:1"),
        ("badmetric", MINIMIZE_TOML, "alpha,act,seed,val_loss\n1e-08,relu,0,x\n", "table.csv:2"),
    ];
    for (name, toml, csv, named) in cases {
        let table = root.join(name);
        std::fs::create_dir_all(&table).expect("dir");
        if !toml.is_empty() {
            write(&table, "table.toml", toml);
            write(&table, "table.csv", csv);
        }
        let err = fails(&mut table_search("random", &root.join(format!("{name}-run")), &table, &[]));
        assert!(err.contains(named), "{name}: {err}");
        assert!(!root.join(format!("{name}-run/journal.jsonl")).exists(), "{name}: a run was started");
    }
    // A table search needs no data, and a tabulation needs one to continue.
    let err = fails(bin().args(["tabulate", "--seeds", "1", "--out"]).arg(root.join("nothing")));
    assert!(err.contains("holds no tabulation"), "{err}");
}

/// Mean learning curve (metric after each epoch, over the seeds) per configuration text of a
/// table made by `tabulate`.
fn mean_curves(dir: &Path) -> HashMap<String, Vec<f64>> {
    let text = support::epochs_csv(dir);
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    let dims = header.iter().position(|h| h == "seed").expect("seed column");
    let metric = header.iter().position(|h| h == "val_acc").expect("val_acc column");
    let mut sums: HashMap<String, Vec<(f64, usize)>> = HashMap::new();
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let key: Vec<String> = (0..dims).map(|i| format!("{}={}", header[i], cells[i])).collect();
        let epoch: usize = cells[dims + 1].parse().expect("epoch");
        let curve = sums.entry(key.join(",")).or_default();
        if curve.len() < epoch {
            curve.resize(epoch, (0.0, 0));
        }
        curve[epoch - 1].0 += cells[metric].parse::<f64>().expect("metric");
        curve[epoch - 1].1 += 1;
    }
    sums.into_iter().map(|(k, c)| (k, c.into_iter().map(|(s, n)| s / n as f64).collect())).collect()
}

/// Successive halving on a table with known learning curves (noise = "mean": a trial after `e`
/// epochs scores its configuration's mean curve there): in every controller epoch all 8
/// candidates reach the first rung (1 epoch), and exactly the best half of each rung (ties: the
/// earlier trial) go on to 2, then 4 epochs; each record shows its rungs with those rewards, its
/// reward is its last rung's, and the epochs spent are its last rung's.
#[test]
fn successive_halving_promotes_exactly_the_best_of_each_rung() {
    let table = tiny_table();
    let curves = mean_curves(table);
    let out = tmp("halving").join("run");
    let sh = [
        "--set",
        "trainer.noise=\"mean\"",
        "--set",
        "search.samples_per_epoch=8",
        "--set",
        "search.controller_epochs=2",
        "--set",
        "scheduler.type=\"successive-halving\"",
        "--set",
        "scheduler.min_epochs=1",
        "--set",
        "scheduler.eta=2",
    ];
    ok(&mut table_search("random", &out, table, &sh));
    let j = journal(&out);
    assert_eq!(j.len(), 16);
    for epoch in 0..2 {
        let group: Vec<&TrialRecord> = j.iter().filter(|r| r.epoch == epoch).collect();
        assert_eq!(group.len(), 8);
        let mut alive: Vec<&TrialRecord> = group.clone();
        for (k, e) in [1usize, 2, 4].into_iter().enumerate() {
            for r in &alive {
                let expected = curves[&r.architecture][e - 1];
                let rung = r.rungs.get(k).unwrap_or_else(|| panic!("trial {} lacks rung {k}", r.trial));
                assert_eq!((rung.epochs, rung.reward), (e, expected), "trial {} rung {k}", r.trial);
            }
            // The best half by this rung's reward, ties to the earlier trial.
            let mut ranked = alive.clone();
            ranked.sort_by(|a, b| b.rungs[k].reward.total_cmp(&a.rungs[k].reward).then(a.trial.cmp(&b.trial)));
            let keep: Vec<usize> = ranked.iter().take(alive.len() / 2).map(|r| r.trial).collect();
            let went_on: Vec<usize> = alive.iter().filter(|r| r.rungs.len() > k + 1).map(|r| r.trial).collect();
            if k < 2 {
                let mut keep = keep;
                keep.sort_unstable();
                assert_eq!(went_on, keep, "epoch {epoch}, rung {k}");
            } else {
                assert!(went_on.is_empty());
            }
            alive.retain(|r| r.rungs.len() > k + 1);
        }
        for r in &group {
            let last = r.rungs.last().expect("rungs");
            assert_eq!(r.reward, last.reward, "trial {}: the reward is the last rung's", r.trial);
            assert_eq!(r.epochs_spent(), last.epochs);
        }
        let spent: usize = group.iter().map(|r| r.epochs_spent()).sum();
        // Promoted trials continue: 8 trials train 1 epoch, 4 one more, 2 two more.
        assert_eq!(spent, 8 + 4 + 2 * 2, "epoch {epoch}: 8 at 1, 4 at 2, 2 at 4 epochs");
    }
    // Same seed, same journal.
    let again = tmp("halving").join("again");
    ok(&mut table_search("random", &again, table, &sh));
    let essence = |j: &[TrialRecord]| j.iter().map(|r| (r.tokens.clone(), r.rungs.clone())).collect::<Vec<_>>();
    assert_eq!(essence(&journal(&again)), essence(&j));
}

/// Hyperband cycles its brackets over controller epochs: 4 candidates from 1 epoch, 3 from 2,
/// 3 at the full 4 (min 1, max 4, eta 2); bad scheduler settings are one-line errors.
#[test]
fn hyperband_cycles_brackets_and_bad_schedulers_are_refused() {
    let table = tiny_table();
    let root = tmp("hyperband");
    let hb = ["--set", "scheduler.type=\"hyperband\"", "--set", "scheduler.min_epochs=1", "--set", "scheduler.eta=2"];
    ok(&mut table_search("random", &root.join("run"), table, &hb));
    let j = journal(&root.join("run"));
    let sizes: Vec<usize> = (0..3).map(|e| j.iter().filter(|r| r.epoch == e).count()).collect();
    assert_eq!(sizes, [4, 3, 3]);
    let first: Vec<usize> =
        (0..3).map(|e| j.iter().find(|r| r.epoch == e).and_then(|r| r.rungs.first()).map_or(0, |g| g.epochs)).collect();
    assert_eq!(first, [1, 2, 4]);
    for (i, (set, needle)) in [
        ("scheduler.eta=1", "scheduler.eta"),
        ("scheduler.min_epochs=9", "scheduler.min_epochs"),
        ("scheduler.max_epochs=9", "scheduler.max_epochs"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = root.join(format!("bad{i}"));
        let err = fails(&mut table_search("random", &out, table, &[&hb[..], &["--set", set]].concat()));
        assert!(err.contains(needle), "{set}: {err}");
    }
    // A table without learning curves cannot be searched in rungs.
    let bare = root.join("bare");
    std::fs::create_dir_all(&bare).expect("dir");
    for f in ["table.toml", "table.csv"] {
        std::fs::copy(table.join(f), bare.join(f)).expect("copy");
    }
    let err = fails(&mut table_search("random", &root.join("bare-run"), &bare, &hb));
    assert!(err.contains("scheduler") && err.contains("epochs.csv"), "{err}");
}
