//! The mlpnas benchmarks (see the crate docs and BENCHMARKS.md): the 20-architecture workload
//! against PyTorch and Keras, per-step cost of a small net, workers = 1 vs 2, peak RSS against
//! the number of trials, weight-store cost per trial.
//!
//! `cargo bench -p mlpnas-bench --bench workload [-- SECTION ..]`, sections `workload`, `step`,
//! `workers`, `rss`, `store`, `distributed` (default: all; `distributed` needs a PostgreSQL
//! database in `MLPNAS_BENCH_PG_URL` and is skipped without one).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use mlpnas_backend::Backend;
use mlpnas_core::{
    Activation, Architecture, ArchitectureTrainer, BigramKey, DataSplit, HostTensor, LayerKey, LayerWeights, Objective,
    OutputKind, TrainerConfig, WeightStore,
};
use mlpnas_runs::RunDir;
use mlpnas_search::{CheckedConfig, Search, SearchConfig, prepare_data};
use trainer_burn::{BurnTrainerConfig, Gradients};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, String>;

const SECTIONS: &[&str] = &["workload", "epochs", "step", "workers", "rss", "load", "store", "distributed"];

fn main() {
    mlpnas_link::link_all();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if let [first, path] = args.as_slice()
        && first == "load-child"
    {
        match load_child(Path::new(path)) {
            Ok(()) => return,
            Err(e) => fail(&e),
        }
    }
    if let [first, n] = args.as_slice()
        && first == "rss-child"
    {
        match n.parse().map_err(|e| format!("{e}")).and_then(rss_child) {
            Ok(()) => return,
            Err(e) => fail(&e),
        }
    }
    let chosen: Vec<&str> = if args.is_empty() { SECTIONS.to_vec() } else { args.iter().map(String::as_str).collect() };
    if let Some(bad) = chosen.iter().find(|s| !SECTIONS.contains(s)) {
        fail(&format!("unknown section {bad:?} (sections: {})", SECTIONS.join(", ")));
    }
    println!("# mlpnas bench  allocator: {}  load: {}", allocator(), loadavg());
    for s in chosen {
        let r = match s {
            "workload" => workload(),
            "epochs" => epochs(),
            "step" => step(),
            "workers" => workers(),
            "rss" => rss(),
            "load" => load(),
            "distributed" => distributed(),
            _ => store(),
        };
        if let Err(e) = r {
            fail(&format!("{s}: {e}"));
        }
    }
    println!("# done  load: {}", loadavg());
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn allocator() -> &'static str {
    if cfg!(feature = "mimalloc") { "mimalloc" } else { "system (glibc)" }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn data_path() -> PathBuf {
    std::env::var_os("MLPNAS_BENCH_DATA").map_or_else(|| shared().join("data/wine-quality.csv"), PathBuf::from)
}

fn ref_dir() -> PathBuf {
    std::env::var_os("MLPNAS_REF_DIR").map_or_else(|| shared().join("bench/ref"), PathBuf::from)
}

fn standardize() -> bool {
    std::env::var("MLPNAS_BENCH_STANDARDIZE").is_ok_and(|v| v == "1")
}

/// A search config on wine-quality as the reference scripts read it; `search` holds `[search]`
/// keys, `store` is the store's type, `overrides` are `--set` style (`trainer.epochs=2`).
fn config(search: &str, store: &str, overrides: &[String]) -> Res<CheckedConfig> {
    let data = data_path();
    let data = data.canonicalize().map_err(|e| format!("{}: {e}", data.display()))?;
    let text = format!(
        r##"seed = 42
[data]
source = {source:?}
label = "quality_label"
drop = ["#0", "quality"]
valid_fraction = 0.1
standardize = {std}
[space]
units = [8, 16, 32, 64, 128, 256, 512]
activations = ["sigmoid", "tanh", "relu", "elu"]
dropout = 0.2
max_len = 3
[controller]
type = "random"
[trainer]
type = "burn"
epochs = 10
batch_size = 32
learning_rate = 0.01
[search]
{search}
[store]
type = {store:?}
"##,
        source = data.display().to_string(),
        std = standardize(),
    );
    SearchConfig::from_toml(&text, "bench.toml", Path::new("."), overrides)
        .and_then(SearchConfig::check)
        .map_err(|e| e.to_string())
}

fn split() -> Res<Arc<DataSplit>> {
    let cfg = config("", "memory", &[])?;
    Ok(prepare_data(&cfg).map_err(|e| e.to_string())?.split)
}

/// A trainer variant of `MLPNAS_BENCH_BACKENDS`: a backend name, optionally `/autodiff` or
/// `/closed-form` (the default gradient path when absent), e.g. `flex`, `flex/autodiff`.
#[derive(Debug, Clone, Copy)]
struct Variant {
    backend: Backend,
    gradients: Gradients,
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.gradients {
            Gradients::ClosedForm => write!(f, "{}", self.backend),
            Gradients::Autodiff => write!(f, "{}/autodiff", self.backend),
        }
    }
}

/// The variants to run (`MLPNAS_BENCH_BACKENDS`, default `flex,flex/autodiff,ndarray`).
fn variants() -> Res<Vec<Variant>> {
    env_or("MLPNAS_BENCH_BACKENDS", "flex,flex/autodiff,ndarray")
        .split(',')
        .map(|v| {
            let (backend, gradients) = v.trim().split_once('/').unwrap_or((v.trim(), "closed-form"));
            let gradients = match gradients {
                "closed-form" => Gradients::ClosedForm,
                "autodiff" => Gradients::Autodiff,
                other => return Err(format!("MLPNAS_BENCH_BACKENDS: {other:?} is not closed-form or autodiff")),
            };
            Ok(Variant { backend: backend.parse()?, gradients })
        })
        .collect()
}

fn trainer(v: Variant, split: &Arc<DataSplit>) -> Res<Box<dyn ArchitectureTrainer>> {
    let cfg = BurnTrainerConfig { backend: v.backend, gradients: v.gradients, ..BurnTrainerConfig::default() };
    cfg.build(Arc::clone(split), &Objective::default()).map_err(|e| e.to_string())
}

/// `archs.json` entries as architecture text (`"64:relu,dropout,32:elu"`).
fn reference_archs() -> Res<Vec<String>> {
    let path = ref_dir().join("archs.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = || format!("{}: unexpected layout", path.display());
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|arch| {
            let layers = arch.as_array().ok_or_else(bad)?;
            let parts = layers
                .iter()
                .map(|l| match l {
                    serde_json::Value::String(s) if s == "dropout" => Ok("dropout".to_string()),
                    serde_json::Value::Array(a) => {
                        match (a.first().and_then(|u| u.as_u64()), a.get(1).and_then(|s| s.as_str())) {
                            (Some(u), Some(act)) => Ok(format!("{u}:{act}")),
                            _ => Err(bad()),
                        }
                    }
                    _ => Err(bad()),
                })
                .collect::<Res<Vec<_>>>()?;
            Ok(parts.join(","))
        })
        .collect()
}

/// One implementation's run of the workload.
struct Run {
    name: String,
    seconds: Vec<f64>,
    accs: Vec<f64>,
    total: f64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.seconds.len() as f64 / self.total
    }
    fn mean_acc(&self) -> f64 {
        self.accs.iter().sum::<f64>() / self.accs.len().max(1) as f64
    }
}

fn burn_run(backend: Variant, split: &Arc<DataSplit>, archs: &[String]) -> Res<Run> {
    let t = trainer(backend, split)?;
    // Untimed warm-up, as the reference scripts do.
    let warm = Architecture::parse("8:relu", t.input_dim(), t.n_classes(), 0.2).map_err(|e| e.to_string())?;
    t.train(&warm, &[], 0).map_err(|e| e.to_string())?;
    let repeat: usize = env_or("MLPNAS_BENCH_REPEAT", "1").parse().map_err(|e| format!("MLPNAS_BENCH_REPEAT: {e}"))?;
    let mut best: Option<Run> = None;
    for _ in 0..repeat.max(1) {
        let mut run = Run { name: format!("mlpnas {backend}"), seconds: Vec::new(), accs: Vec::new(), total: 0.0 };
        let all = Instant::now();
        for (i, text) in archs.iter().enumerate() {
            let t0 = Instant::now();
            let a = Architecture::parse(text, t.input_dim(), t.n_classes(), 0.2).map_err(|e| e.to_string())?;
            let o = t.train(&a, &[], i as u64).map_err(|e| e.to_string())?;
            run.seconds.push(t0.elapsed().as_secs_f64());
            run.accs.push(o.reward(&Objective::default()));
        }
        run.total = all.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|b| run.total < b.total) {
            best = Some(run);
        }
    }
    best.ok_or_else(|| "no run".into())
}

/// Runs a reference script (`torch_mlpnas.py` / `keras_mlpnas.py`) with one thread.
fn reference_run(name: &str, python: &str, script: &str) -> Res<Run> {
    let mut cmd = Command::new(python);
    cmd.current_dir(ref_dir()).arg(script).args(["--threads", "1"]);
    if standardize() {
        cmd.arg("--standardize");
    }
    let out = cmd.output().map_err(|e| format!("{python}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(format!("{script} failed ({}): {}", out.status, tail.join(" | ")));
    }
    let mut run = Run { name: name.to_string(), seconds: Vec::new(), accs: Vec::new(), total: 0.0 };
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["summary"].as_bool() == Some(true) {
            run.total = v["total_seconds"].as_f64().unwrap_or(f64::NAN);
        } else if let (Some(s), Some(a)) = (v["seconds"].as_f64(), v["val_acc_weighted"].as_f64()) {
            run.seconds.push(s);
            run.accs.push(a);
        }
    }
    if run.seconds.is_empty() {
        return Err(format!("{script} printed no result"));
    }
    Ok(run)
}

fn workload() -> Res<()> {
    let mut archs = reference_archs()?;
    // `MLPNAS_BENCH_ONLY=TEXT`: only the architectures whose text contains TEXT (for profiling);
    // the references still run all 20.
    if let Ok(only) = std::env::var("MLPNAS_BENCH_ONLY") {
        archs.retain(|a| a.contains(&only));
    }
    let split = split()?;
    println!(
        "\n## workload: {} architectures, wine-quality ({} train / {} validation rows, standardize = {}), \
         Adam lr 0.01, batch 32, 10 epochs, one thread",
        archs.len(),
        split.train.n_rows(),
        split.valid.n_rows(),
        standardize()
    );
    let mut runs = Vec::new();
    for backend in variants()? {
        println!("# running mlpnas {backend} (load {})", loadavg());
        runs.push(burn_run(backend, &split, &archs)?);
    }
    for (name, var, script) in
        [("PyTorch", "MLPNAS_REF_TORCH_PY", "torch_mlpnas.py"), ("Keras", "MLPNAS_REF_TF_PY", "keras_mlpnas.py")]
    {
        match std::env::var(var) {
            Ok(py) => {
                println!("# running {name} (load {})", loadavg());
                match reference_run(name, &py, script) {
                    Ok(r) => runs.push(r),
                    Err(e) => println!("# {name}: not run: {e}"),
                }
            }
            Err(_) => println!("# {name}: not run ({var} is not set: the interpreter of its venv)"),
        }
    }
    let mut head = format!("| {:<40} |", "architecture");
    let mut rule = format!("|{}|", "-".repeat(42));
    for r in &runs {
        head.push_str(&format!(" {:>15} |", r.name));
        rule.push_str(&format!("{}:|", "-".repeat(16)));
    }
    println!("\nseconds per architecture\n{head}\n{rule}");
    for (i, a) in archs.iter().enumerate() {
        let mut line = format!("| {a:<40} |");
        for r in &runs {
            line.push_str(&r.seconds.get(i).map_or_else(|| format!(" {:>15} |", "-"), |s| format!(" {s:>15.3} |")));
        }
        println!("{line}");
    }
    let first = &runs[0];
    println!(
        "\n| {:<16} | {:>9} | {:>10} | {:>13} | {:>18} | {:>18} |",
        "",
        "total s",
        "archs/s",
        "mean val acc",
        format!("speed vs {}", first.name),
        format!("{} x faster", first.name)
    );
    println!("|{}|---------:|-----------:|--------------:|-------------------:|-------------------:|", "-".repeat(18));
    for r in &runs {
        println!(
            "| {:<16} | {:>9.2} | {:>10.3} | {:>13.4} | {:>17.2}x | {:>17.2}x |",
            r.name,
            r.total,
            r.per_second(),
            r.mean_acc(),
            r.per_second() / first.per_second(),
            first.per_second() / r.per_second()
        );
    }
    Ok(())
}

/// Seconds of each epoch of the workload's largest net: trained for 1, 2, ... 10 epochs (same
/// seed, so each run repeats the shorter one), epoch `e` costing `t(e) - t(e - 1)`; then 10, 50
/// and 100 epochs on flex, as `finalize --epochs 100` trains (`MLPNAS_BENCH_LONG=0` skips it).
/// Epochs must cost the same: optimizer state decaying into subnormal numbers made the later ones
/// ~5x slower on Intel cores ("Performance III").
fn epochs() -> Res<()> {
    const NET: &str = "1024:relu,512:relu,256:relu";
    let split = split()?;
    // t(e) is the fastest of MLPNAS_BENCH_REPEAT runs: on a shared VM one slow run (another
    // tenant) would otherwise show as a slow epoch, or a negative one after it.
    let repeat: usize = env_or("MLPNAS_BENCH_REPEAT", "1").parse().map_err(|e| format!("MLPNAS_BENCH_REPEAT: {e}"))?;
    println!("\n## epochs: {NET}, seconds per epoch (t(e) - t(e-1), each t the fastest of {repeat}), one thread");
    let timed = |v: Variant, epochs: usize| -> Res<f64> {
        let cfg = BurnTrainerConfig { backend: v.backend, gradients: v.gradients, epochs, ..Default::default() };
        let t = cfg.build(Arc::clone(&split), &Objective::default()).map_err(|e| e.to_string())?;
        let a = Architecture::parse(NET, t.input_dim(), t.n_classes(), 0.2).map_err(|e| e.to_string())?;
        let mut best = f64::INFINITY;
        for _ in 0..repeat.max(1) {
            let t0 = Instant::now();
            t.train(&a, &[], 0).map_err(|e| e.to_string())?;
            best = best.min(t0.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    println!(
        "| variant | {} | epoch 10 / epoch 2 |",
        (1..=10).map(|e| format!("e{e}")).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}---:|", "---:|".repeat(10));
    for v in variants()? {
        timed(v, 1)?; // warm-up
        let mut prev = 0.0;
        let mut per = Vec::new();
        for e in 1..=10 {
            let t = timed(v, e)?;
            per.push(t - prev);
            prev = t;
        }
        let cells: Vec<String> = per.iter().map(|s| format!("{s:.3}")).collect();
        println!("| mlpnas {v} | {} | {:.2}x |", cells.join(" | "), per[9] / per[1]);
    }
    if env_or("MLPNAS_BENCH_LONG", "1") != "0" {
        let v = variants()?.into_iter().next().ok_or("no variant")?;
        let (t10, t50, t100) = (timed(v, 10)?, timed(v, 50)?, timed(v, 100)?);
        println!(
            "\n{v}, 100 epochs: {t100:.1} s; seconds per epoch over epochs 1-10 {:.3}, 11-50 {:.3}, 51-100 {:.3}",
            t10 / 10.0,
            (t50 - t10) / 40.0,
            (t100 - t50) / 50.0
        );
    }
    Ok(())
}

fn step() -> Res<()> {
    let split = split()?;
    let steps_per_epoch = split.train.n_rows().div_ceil(32);
    println!(
        "\n## step: 11-8-3 (8:relu), {} steps per epoch, 10 epochs, validation included; best of 5",
        steps_per_epoch
    );
    for backend in variants()? {
        let t = trainer(backend, &split)?;
        let a = Architecture::parse("8:relu", t.input_dim(), t.n_classes(), 0.2).map_err(|e| e.to_string())?;
        let mut best = f64::INFINITY;
        for s in 0..5 {
            let t0 = Instant::now();
            t.train(&a, &[], s).map_err(|e| e.to_string())?;
            best = best.min(t0.elapsed().as_secs_f64());
        }
        println!(
            "{:>16}: {:.3} s per trial, {:.1} us per step",
            backend.to_string(),
            best,
            best * 1e6 / (10 * steps_per_epoch) as f64,
        );
    }
    Ok(())
}

/// One search of `trials` trials (10 per controller epoch) in a fresh run directory: wall
/// seconds, trials, mean reward, and each trial's training seconds.
/// One `trials`-trial search (batches of `workers`, on `threads` threads when given, else the
/// machine's cores): its wall time and trials.
fn search(
    trials: usize,
    workers: usize,
    threads: Option<usize>,
    overrides: &[String],
) -> Res<(f64, Vec<mlpnas_core::TrialRecord>)> {
    let cfg = config(
        &format!("controller_epochs = {}\nsamples_per_epoch = 10\nworkers = {workers}", trials.div_ceil(10)),
        "memory",
        overrides,
    )?;
    let data = prepare_data(&cfg).map_err(|e| e.to_string())?;
    let dir = std::env::temp_dir().join(format!("mlpnas-bench-{}-{trials}-{workers}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = Instant::now();
    let summary = mlpnas_search::Run::create(Box::new(RunDir::new(&dir)), cfg)
        .and_then(|run| Search::new(run, &data))
        .and_then(|mut s| {
            if let Some(t) = threads {
                s.set_threads(t)?;
            }
            s.run(&mut ())
        })
        .map_err(|e| e.to_string())?;
    let wall = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((wall, summary.records))
}

/// The journal without wall times: what must not depend on the number of threads.
fn without_seconds(records: &[mlpnas_core::TrialRecord]) -> Vec<mlpnas_core::TrialRecord> {
    records.iter().map(|r| mlpnas_core::TrialRecord { seconds: 0.0, ..r.clone() }).collect()
}

/// How long `records` (trained one at a time, batch 1, epochs of `per_epoch`) would take on
/// `threads` threads if only training took time, under the search's start rule: a trial starts
/// when no earlier unfinished-and-uncommitted trial of its epoch writes a bigram it reads.
/// Also the share of trials that share a bigram with an earlier trial of their epoch.
fn threads_bound(records: &[mlpnas_core::TrialRecord], per_epoch: usize, threads: usize) -> (f64, f64) {
    let keys: Vec<Vec<mlpnas_core::BigramKey>> = records
        .iter()
        .map(|r| Architecture::parse_journaled(&r.architecture, 11).map(|a| a.bigram_keys()).unwrap_or_default())
        .collect();
    let (mut total, mut sharing) = (0.0, 0);
    for (e, epoch) in records.chunks(per_epoch).enumerate() {
        let base = e * per_epoch;
        let n = epoch.len();
        let k = |i: usize| &keys[base + i];
        sharing += (0..n).filter(|&i| (0..i).any(|j| k(j).iter().any(|x| k(i).contains(x)))).count();
        // Event simulation: free threads start the first ready trial; commits in order.
        let (mut clock, mut started, mut finished) = (0.0f64, vec![false; n], vec![f64::INFINITY; n]);
        let mut running: Vec<(f64, usize)> = Vec::new();
        let mut committed = 0;
        while committed < n {
            while running.len() < threads {
                let ready =
                    (0..n).find(|&i| !started[i] && (committed..i).all(|j| !k(j).iter().any(|x| k(i).contains(x))));
                let Some(i) = ready else { break };
                started[i] = true;
                running.push((clock + epoch[i].seconds, i));
            }
            let (at, pos) = running
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.0.total_cmp(&b.1.0))
                .map(|(p, &(t, _))| (t, p))
                .expect("something runs");
            clock = at;
            let (_, i) = running.swap_remove(pos);
            finished[i] = at;
            while committed < n && finished[committed] <= clock {
                committed += 1;
            }
        }
        total += clock;
    }
    (records.iter().map(|r| r.seconds).sum::<f64>() / total, sharing as f64 / records.len().max(1) as f64)
}

fn workers() -> Res<()> {
    println!(
        "\n## workers: one 100-trial search (seed 42, memory store, one-shot, batch 1), --threads 1 vs 2, \
         per controller"
    );
    println!(
        "| controller | threads | seconds | speed-up | journal as threads = 1 | bound | trials sharing a bigram | load before |"
    );
    println!("|---|--:|--:|--:|---|--:|--:|---|");
    for controller in ["random", "evolution", "reinforce"] {
        let over = [format!("controller.type={controller}")];
        let load = loadavg();
        let (wall1, one) = search(100, 1, Some(1), &over)?;
        let (bound, sharing) = threads_bound(&one, 10, 2);
        println!("| {controller} | 1 | {wall1:.1} | 1.00x | - | - | {:.0}% | {load} |", 100.0 * sharing);
        let load = loadavg();
        let (wall2, two) = search(100, 1, Some(2), &over)?;
        let same = if without_seconds(&one) == without_seconds(&two) { "identical" } else { "DIFFERENT" };
        println!("| {controller} | 2 | {wall2:.1} | {:.2}x | {same} | {bound:.2}x | | {load} |", wall1 / wall2);
    }
    Ok(())
}

fn vm_hwm_kib() -> Res<u64> {
    let s = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}

fn rss_child(trials: usize) -> Res<()> {
    // Two epochs per trial: memory growth with trials does not depend on training length.
    let (wall, records) = search(trials, 1, Some(1), &["trainer.epochs=2".to_string()])?;
    println!("{} {wall:.2} {}", records.len(), vm_hwm_kib()?);
    Ok(())
}

fn rss() -> Res<()> {
    println!(
        "\n## rss: peak RSS (VmHWM) of a whole process running one search (workers = 1, memory store, \
         2 epochs per trial)"
    );
    println!("| trials | seconds | VmHWM MiB |");
    println!("|-------:|--------:|----------:|");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    for trials in [50, 100, 200] {
        let out = Command::new(&exe).args(["rss-child", &trials.to_string()]).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<&str> = text.split_whitespace().collect();
        let kib: f64 = v.get(2).and_then(|k| k.parse().ok()).ok_or_else(|| format!("child said {text:?}"))?;
        println!("| {} | {} | {:.1} |", v[0], v[1], kib / 1024.0);
    }
    Ok(())
}

/// Rows of the `load` section's table (`MLPNAS_BENCH_LOAD_ROWS`, default 1,000,000).
fn load_rows() -> Res<usize> {
    env_or("MLPNAS_BENCH_LOAD_ROWS", "1000000").parse().map_err(|e| format!("MLPNAS_BENCH_LOAD_ROWS: {e}"))
}

/// Writes a table of `rows` rows and 30 columns: 20 numeric (1% missing), 10 text columns of
/// 2 to 10,000 levels (1% missing), and a 3-class label.
fn write_table(path: &Path, rows: usize) -> Res<()> {
    use std::io::Write as _;
    const LEVELS: [usize; 10] = [2, 3, 5, 8, 12, 20, 50, 100, 1000, 10000];
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut header: Vec<String> = (0..20).map(|j| format!("x{j}")).collect();
    header.extend((0..10).map(|j| format!("t{j}")));
    header.push("label".into());
    let io = |e: std::io::Error| e.to_string();
    writeln!(w, "{}", header.join(",")).map_err(io)?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut line = String::new();
    for _ in 0..rows {
        line.clear();
        for _ in 0..20 {
            let r = next();
            if r % 100 == 0 {
                line.push_str("NA,");
            } else {
                line.push_str(&format!("{:.3},", (r >> 11) as f64 / (1u64 << 53) as f64 * 100.0 - 50.0));
            }
        }
        for levels in LEVELS {
            let r = next();
            if r % 100 == 0 {
                line.push(',');
            } else {
                line.push_str(&format!("level{},", (r >> 20) as usize % levels));
            }
        }
        line.push_str(["a", "b", "c"][(next() % 3) as usize]);
        writeln!(w, "{line}").map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Loads and prepares (types, split, encoding, standardizing) the table at `path`, printing
/// the seconds of each and the peak RSS.
fn load_child(path: &Path) -> Res<()> {
    let cfg = mlpnas_data::DataConfig {
        source: path.to_str().ok_or("path")?.parse().map_err(|e: mlpnas_data::DataError| e.to_string())?,
        ..Default::default()
    };
    let t0 = Instant::now();
    let loaded =
        mlpnas_data::load(&cfg, Path::new("."), mlpnas_core::Task::Classification).map_err(|e| e.to_string())?;
    let t_load = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let p = mlpnas_data::prepare(&cfg, loaded, 1).map_err(|e| e.to_string())?;
    let t_prepare = t1.elapsed().as_secs_f64();
    let rows = p.split.train.n_rows() + p.split.valid.n_rows();
    let width = p.split.train.n_features();
    println!("{rows} {width} {t_load:.2} {t_prepare:.2} {}", vm_hwm_kib()?);
    Ok(())
}

/// Loading and encoding a large table: seconds and peak memory against the encoded size.
fn load() -> Res<()> {
    let rows = load_rows()?;
    let path = std::env::temp_dir().join(format!("mlpnas-bench-table-{rows}.csv"));
    if !path.exists() {
        write_table(&path, rows)?;
    }
    let bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    println!(
        "\n## load: a {rows}-row CSV ({:.0} MiB), 20 numeric columns and 10 text columns of 2 to 10,000 levels, 1% \
         missing cells; load (types, dictionaries) then prepare (split, fit, one-hot, standardize)",
        bytes as f64 / 1048576.0
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out =
        Command::new(&exe).args(["load-child", path.to_str().ok_or("path")?]).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let [n, width, t_load, t_prepare, kib] = v[..] else { return Err(format!("child said {text:?}")) };
    let encoded = n * width * 4.0 / 1048576.0;
    println!("| rows | inputs after encoding | load s | prepare s | encoded MiB | peak RSS MiB | peak / encoded |");
    println!("|--:|--:|--:|--:|--:|--:|--:|");
    println!(
        "| {n} | {width} | {t_load:.2} | {t_prepare:.2} | {encoded:.0} | {:.0} | {:.2}x |",
        kib / 1024.0,
        kib / 1024.0 / encoded
    );
    Ok(())
}

fn dense(units: u32, a: Activation) -> LayerKey {
    LayerKey::Dense { units, activation: a }
}

fn weights(key: &BigramKey) -> LayerWeights {
    let [i, o] = key.kernel_shape();
    LayerWeights {
        kernel: HostTensor { shape: vec![i, o], data: vec![0.5; i * o] },
        bias: HostTensor { shape: vec![o], data: vec![0.0; o] },
    }
}

/// Fills `store` up to `n` distinct bigrams (small kernels, at most 25 x 25).
fn fill(store: &mut dyn WeightStore, n: usize) -> Res<()> {
    let acts = [Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::Elu];
    let mut k = 0;
    'all: for a in 1..=25u32 {
        for pa in acts {
            for b in 1..=25u32 {
                for ca in acts {
                    if k == n {
                        break 'all;
                    }
                    let key = BigramKey { fold: 0, prev: dense(a, pa), cur: dense(b, ca) };
                    store.put(key, weights(&key)).map_err(|e| e.to_string())?;
                    k += 1;
                }
            }
        }
    }
    store.flush().map_err(|e| e.to_string())
}

fn store() -> Res<()> {
    // A typical trial: 11 -> 64 relu -> 32 elu -> 3 softmax: three gets, three puts; and, as the
    // search does at each controller-epoch boundary, one flush per `TRIALS_PER_EPOCH` trials.
    const TRIALS_PER_EPOCH: u32 = 10;
    let keys = [
        BigramKey { fold: 0, prev: LayerKey::Input(11), cur: dense(64, Activation::Relu) },
        BigramKey { fold: 0, prev: dense(64, Activation::Relu), cur: dense(32, Activation::Elu) },
        BigramKey {
            fold: 0,
            prev: dense(32, Activation::Elu),
            cur: LayerKey::Output { units: 3, output: OutputKind::Softmax },
        },
    ];
    let trial_seconds = {
        let split = split()?;
        let t = trainer(Variant { backend: Backend::default(), gradients: Gradients::default() }, &split)?;
        let a = Architecture::parse("64:relu,32:elu", t.input_dim(), t.n_classes(), 0.2).map_err(|e| e.to_string())?;
        t.train(&a, &[], 0).map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        t.train(&a, &[], 1).map_err(|e| e.to_string())?;
        t0.elapsed().as_secs_f64()
    };
    println!(
        "\n## store: get + put of a 3-layer trial (11-64-32-3), one flush per {TRIALS_PER_EPOCH} trials \
         (one controller epoch of the default configs), mean of 200 trials; one trial of that net \
         trains in {trial_seconds:.3} s ({} backend)",
        Backend::default()
    );
    println!("| store | bigrams stored | us per trial | share of the trial |");
    println!("|-------|---------------:|-------------:|-------------------:|");
    for kind in ["memory", "disk"] {
        for n in [100, 1_000, 10_000] {
            let dir = std::env::temp_dir().join(format!("mlpnas-bench-store-{}-{kind}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let cfg = config("", kind, &[])?;
            let sc = cfg.store.as_ref().ok_or("no [store]")?;
            let mut s = sc.build(&dir).map_err(|e| e.to_string())?;
            fill(s.as_mut(), n)?;
            let reps = 200;
            let t0 = Instant::now();
            for rep in 0..reps {
                let got: Vec<_> = keys.iter().map(|k| s.get(k).map_err(|e| e.to_string())).collect::<Res<Vec<_>>>()?;
                for (k, g) in keys.iter().zip(got) {
                    s.put(*k, g.unwrap_or_else(|| weights(k))).map_err(|e| e.to_string())?;
                }
                if (rep + 1) % TRIALS_PER_EPOCH == 0 {
                    s.flush().map_err(|e| e.to_string())?;
                }
            }
            let per = t0.elapsed().as_secs_f64() / f64::from(reps);
            println!("| {kind} | {n} | {:.1} | {:.4}% |", per * 1e6, 100.0 * per / trial_seconds);
            drop(s);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(())
}

/// A 100-trial search with its run in PostgreSQL: a coordinator that only coordinates and two
/// workers (each its own connection), against the local run with two threads (batch 2 both);
/// then the storage's own cost per trial, timed call by call.
fn distributed() -> Res<()> {
    let Ok(url) = std::env::var("MLPNAS_BENCH_PG_URL") else {
        println!("\n## distributed: skipped (set MLPNAS_BENCH_PG_URL=postgresql://user@host:port/db)");
        return Ok(());
    };
    let db = mlpnas_postgres::open(&url).map_err(|e| e.to_string())?;
    println!(
        "\n## distributed: one 100-trial random search (seed 42, memory store, one-shot, batch 2), {}",
        db.shown()
    );
    println!("| how | seconds | archs/s | mean reward |");
    println!("|-----|--------:|--------:|------------:|");
    let (wall, records) = search(100, 2, Some(2), &[])?;
    let (n, mean) = (records.len(), records.iter().map(|r| r.reward).sum::<f64>() / records.len().max(1) as f64);
    println!("| local, 2 threads | {wall:.1} | {:.2} | {mean:.4} |", n as f64 / wall);
    let cfg = config("controller_epochs = 10\nsamples_per_epoch = 10\nbatch = 2", "memory", &[])?;
    let data = prepare_data(&cfg).map_err(|e| e.to_string())?;
    let name = format!("bench-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let t0 = Instant::now();
    let summary = std::thread::scope(|s| {
        for _ in 0..2 {
            let (url, stop) = (url.clone(), &stop);
            s.spawn(move || {
                let Ok(db) = mlpnas_postgres::open_worker(&url) else { return };
                let q = db.queue();
                let opts = mlpnas_search::WorkerOptions {
                    threads: 1,
                    runs: None,
                    exit_when_idle: Some(std::time::Duration::from_millis(500)),
                    lease: std::time::Duration::from_secs(30),
                    backends: vec!["flex".into(), "ndarray".into()],
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = mlpnas_search::work(&q, &opts, &|_| {});
                }
            });
        }
        let r = mlpnas_search::Run::create(Box::new(db.run(&name)), cfg)
            .and_then(|run| Search::new(run, &data))
            .and_then(|mut s| {
                s.set_threads(0)?;
                s.run(&mut ())
            })
            .map_err(|e| e.to_string());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    })?;
    let wall = t0.elapsed().as_secs_f64();
    let n = summary.records.len();
    let mean = summary.records.iter().map(|r| r.reward).sum::<f64>() / n.max(1) as f64;
    println!("| PostgreSQL, coordinator + 2 workers | {wall:.1} | {:.2} | {mean:.4} |", n as f64 / wall);
    storage_cost(&db)
}

/// The database calls one trial makes, timed: submit, claim, one heartbeat, complete (with
/// the trained weights), the coordinator's result read, its commit (journal row + store puts)
/// and the retire; weights of a 11-64-128-7 net, the size of a typical trial.
fn storage_cost(db: &mlpnas_postgres::Database) -> Res<()> {
    use mlpnas_core::{Claimant, RunStorage, TrainOutcome, TrialQueue, TrialResult, TrialTask};
    let e = |e: mlpnas_core::StorageError| e.to_string();
    let name = format!("bench-cost-{}", std::process::id());
    let mut run = db.run(&name);
    run.lock().map_err(e)?;
    run.create("seed = 1\n").map_err(e)?;
    // The coordinator's calls on its connection, the worker's on a worker connection.
    let q = db.queue();
    let wdb = mlpnas_postgres::open_worker(&std::env::var("MLPNAS_BENCH_PG_URL").map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let wq = wdb.queue();
    let layer = |i: usize, o: usize| LayerWeights {
        kernel: HostTensor { shape: vec![i, o], data: vec![0.01; i * o] },
        bias: HostTensor { shape: vec![o], data: vec![0.0; o] },
    };
    let weights = vec![layer(11, 64), layer(64, 128), layer(128, 7)];
    let keys: Vec<BigramKey> = (0..3)
        .map(|i| BigramKey { fold: 0, prev: dense(8 << i, Activation::Relu), cur: dense(16 << i, Activation::Tanh) })
        .collect();
    let bytes: usize = weights.iter().map(|w| 4 * (w.kernel.data.len() + w.bias.data.len())).sum();
    let who = Claimant {
        worker: "bench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        backends: vec!["flex".into()],
        runs: Some(vec![name.clone()]),
        skip: Vec::new(),
        lease: std::time::Duration::from_secs(30),
    };
    let mut per_trial = Vec::new();
    let mut parts: Vec<Vec<f64>> = vec![Vec::new(); 7];
    for trial in 0..100 {
        let mut t = Instant::now();
        let lap = |i: usize, t: &mut Instant, parts: &mut [Vec<f64>]| {
            parts[i].push(t.elapsed().as_secs_f64() * 1e3);
            *t = Instant::now();
        };
        let start = Instant::now();
        let init = vec![Some(weights[0].clone()), None, Some(weights[2].clone())];
        q.submit(&name, "flex", &[TrialTask { trial, tokens: vec![1, 2, 3], seed: trial as u64, init, rung: None }])
            .map_err(e)?;
        lap(0, &mut t, &mut parts);
        let claim = wq.claim(&who).map_err(e)?.ok_or("nothing to claim")?;
        lap(1, &mut t, &mut parts);
        wq.renew(&claim).map_err(e)?;
        lap(2, &mut t, &mut parts);
        let outcome = TrainOutcome {
            epochs: Vec::new(),
            diverged: false,
            weights: weights.clone(),
            measured: None,
            evaluations: Vec::new(),
        };
        wq.complete(&claim, &TrialResult { outcome, seconds: 0.5, worker: "bench".into(), continuation: None })
            .map_err(e)?;
        lap(3, &mut t, &mut parts);
        let got = q.results(&name, &[trial]).map_err(e)?;
        if got.len() != 1 {
            return Err("no result".into());
        }
        lap(4, &mut t, &mut parts);
        let record = mlpnas_core::TrialRecord {
            trial,
            epoch: 0,
            tokens: vec![1, 2, 3],
            architecture: "64:relu,128:tanh,7:softmax".into(),
            reward: 0.5,
            val_acc_last: 0.5,
            predicted: None,
            transfers: 2,
            params: 10_000,
            seconds: 0.5,
            status: mlpnas_core::TrialStatus::Ok,
            epochs: Vec::new(),
            metric: None,
            scores: Vec::new(),
            rescore_of: None,
            rungs: Vec::new(),
            objectives: Vec::new(),
        };
        let puts: Vec<(BigramKey, LayerWeights)> = keys.iter().cloned().zip(weights.iter().cloned()).collect();
        run.append_trial(&record, Some(&puts)).map_err(e)?;
        lap(5, &mut t, &mut parts);
        q.retire(&name, &[trial]).map_err(e)?;
        lap(6, &mut t, &mut parts);
        per_trial.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "storage cost per trial ({} KB of weights a trial, 100 trials, median ms; each call once per trial, as at \
         batch 1: at batch B, submit, results and retire are made once per B trials):",
        bytes / 1024
    );
    let names = ["submit", "claim", "heartbeat", "complete", "results", "commit (journal + puts)", "retire"];
    println!("| call | median ms |");
    println!("|------|----------:|");
    for (n, v) in names.iter().zip(parts.iter_mut()) {
        println!("| {n} | {:.2} |", median(v));
    }
    println!("| **all, one trial** | **{:.2}** |", median(&mut per_trial));
    Ok(())
}
