#!/usr/bin/env python3
"""Search procedures compared at equal wall time on the kit's classification files (issue 33).

For each data set, seed and procedure: `mlpnas search` on train.csv (the search never sees
test.csv), `mlpnas finalize`, `mlpnas predict` on test.csv; the test accuracy of the finalized
best model (model-1). Procedures:

  today  configs/random.toml (the README's first config before 0.7.0): 100 trials of random
         search over layers, scored on the validation split; finalize as is
  hp     configs/default.toml: the same with training settings in the space (learning rate,
         batch size, weight decay, dropout rate); the README's first config since 0.7.0
  cv     today's + 3-fold cross-validation and re-scoring of the best 3 (2 more scores each);
         finalize --refit all
  both   hp and cv together

`today` runs first for each (data set, seed); its search wall time is every other procedure's
`search.time_budget` for the same (data set, seed), less the estimated cost of re-scoring, so
each procedure spends about the same wall time. The walls actually spent are recorded next to
the accuracy. Results go to <out>/quality/results.jsonl (one line per cell; cells already there
are kept, so an interrupted run continues), the table to stdout and <out>/quality/table.md,
with the scikit-learn baselines of <out>/baselines.json (baseline.py).

    python3 bench/tabular/quality.py [--out target/tabular] [--bin target/release/mlpnas]
        [--seeds 1,2] [--only oj,penguins] [--jobs 1]
"""
import argparse
import concurrent.futures
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {"today": "random.toml", "hp": "default.toml", "cv": "random.toml", "both": "default.toml"}
PROCEDURES = ["today", "hp", "cv", "both"]
# The development files (wine_white, the kit's other classification file, with --only).
FILES = ["penguins", "default", "oj", "creditcard", "lending_club", "stackoverflow"]
FOLDS, RESCORE_TOP, RESCORE_SEEDS = 3, 3, 2
CV = [f"search.folds={FOLDS}", f"search.rescore_top={RESCORE_TOP}", f"search.rescore_seeds={RESCORE_SEEDS}"]
LOCK = threading.Lock()


def run(cmd):
    t0 = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    return r, time.perf_counter() - t0


def cell(a, d, seed, proc, today):
    """One search + finalize + predict; returns the result row (or one with an error)."""
    name = d["name"]
    run_dir = a.out / "quality" / f"{name}-{proc}-{seed}"
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    sets = []
    if proc in ("cv", "both"):
        sets += CV
    budget = None
    if proc != "today":
        # The same wall time as today's search: the epochs stop when the budget is spent, then
        # the re-scoring runs (estimated from today's mean trial time: K folds on 2/3 of the rows
        # where today's trial trains on 9/10).
        mean_trial = today["search_wall"] / today["trials"]
        rescore = RESCORE_TOP * RESCORE_SEEDS * FOLDS * mean_trial * (2 / 3) / 0.9 if proc in ("cv", "both") else 0.0
        budget = max(today["search_wall"] - rescore, mean_trial)
        sets += ["search.controller_epochs=1000", "search.samples_per_epoch=5", f"search.time_budget={budget:.3f}"]
    cmd = [a.bin, "--quiet", "search", "--config", REPO_ROOT / "configs" / CONFIGS[proc], "--data", a.out / name / "train.csv",
           "--label", d["label"], "--seed", seed, "--out", run_dir]
    if d["drop"]:
        cmd += ["--drop", ",".join(d["drop"])]
    for s in sets:
        cmd += ["--set", s]
    row = {"name": name, "proc": proc, "seed": seed, "budget": budget}
    r, search_s = run(cmd)
    if r.returncode != 0:
        return {**row, "error": "search: " + r.stderr.strip()[-300:]}
    summary = json.loads((run_dir / "summary.json").read_text())
    fin = [a.bin, "--quiet", "finalize", run_dir]
    if proc in ("cv", "both"):
        fin += ["--refit", "all"]
    r, finalize_s = run(fin)
    if r.returncode != 0:
        return {**row, "error": "finalize: " + r.stderr.strip()[-300:]}
    r, _ = run([a.bin, "predict", run_dir / "final" / "model-1", "--data", a.out / name / "test.csv",
                "--out", run_dir / "predictions.csv"])
    m = re.search(r"accuracy ([0-9.]+)", r.stderr)
    if r.returncode != 0 or not m:
        return {**row, "error": "predict: " + r.stderr.strip()[-300:]}
    card = run_dir / "final" / "model-1" / "model.json"
    arch = json.loads(card.read_text()).get("architecture") if card.exists() else None
    return {**row, "search_s": round(search_s, 2), "search_wall": summary["wall_seconds"],
            "trials": summary["trials"], "finalize_s": round(finalize_s, 2), "test_acc": float(m.group(1)),
            "architecture": arch}


def group(a, d, seed, done):
    """Every procedure of one (data set, seed), today first; appends each row to the results."""
    rows = {}
    for proc in a.procedures:
        key = (d["name"], proc, seed)
        if key in done:
            rows[proc] = done[key]
            continue
        if proc != "today" and "today" not in rows:
            rows["today"] = cell(a, d, seed, "today", None)
            record(a, rows["today"])
        if proc in rows:
            continue
        if proc != "today" and "error" in rows["today"]:
            continue
        rows[proc] = cell(a, d, seed, proc, rows.get("today"))
        record(a, rows[proc])
    return rows


def record(a, row):
    with LOCK:
        with open(a.out / "quality" / "results.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        shown = row.get("error") or f"acc {row['test_acc']:.4f}, search {row['search_s']:.1f} s, {row['trials']} trials"
        print(f"{row['name']} {row['proc']} seed {row['seed']}: {shown}", file=sys.stderr, flush=True)


def table(a, manifest):
    rows = [json.loads(l) for l in (a.out / "quality" / "results.jsonl").read_text().splitlines() if l.strip()]
    latest = {}
    for r in rows:
        latest[(r["name"], r["proc"], r["seed"])] = r
    base_file = a.out / "baselines.json"
    base = {r["name"]: r for r in json.loads(base_file.read_text())["results"]} if base_file.exists() else {}
    lines = ["| data set | " + " | ".join(PROCEDURES) + " | MLPClassifier | LogisticRegression | RandomForest "
             "| HistGradientBoosting | best of four |", "|---|" + "--:|" * (len(PROCEDURES) + 5)]
    walls = ["| data set | " + " | ".join(f"{p} search s (trials)" for p in PROCEDURES) + " |",
             "|---|" + "--:|" * len(PROCEDURES)]
    for d in manifest["datasets"]:
        if d["name"] not in a.only:
            continue
        accs, ws = [], []
        for p in PROCEDURES:
            got = [r for (n, q, _), r in latest.items() if n == d["name"] and q == p and "test_acc" in r]
            accs.append(f"{statistics.mean(r['test_acc'] for r in got):.4f}" if got else "")
            ws.append(f"{statistics.mean(r['search_s'] for r in got):.1f} ({statistics.mean(r['trials'] for r in got):.0f})"
                      if got else "")
        b = base.get(d["name"], {})
        four = [b.get(k) for k in ("mlp", "linear", "forest", "hgb")]
        best = max((v for v in four if v is not None), default=None)
        fmt = lambda v: "" if v is None else f"{v:.4f}"
        lines.append(f"| {d['name']} | " + " | ".join(accs) + " | " + " | ".join(fmt(v) for v in four)
                     + f" | {fmt(best)} |")
        walls.append(f"| {d['name']} | " + " | ".join(ws) + " |")
    seeds = sorted({r["seed"] for r in latest.values()})
    text = (f"Test accuracy, mean over seeds {', '.join(map(str, seeds))} (mlpnas); scikit-learn seed 42.\n\n"
            + "\n".join(lines) + "\n\nSearch wall seconds (mean) and trials:\n\n" + "\n".join(walls) + "\n")
    (a.out / "quality" / "table.md").write_text(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/tabular")
    ap.add_argument("--bin", default="target/release/mlpnas")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--only", default=None, help="data set names, comma-separated")
    ap.add_argument("--procedures", default=",".join(PROCEDURES))
    ap.add_argument("--jobs", type=int, default=1, help="(data set, seed) groups run at once")
    ap.add_argument("--table", action="store_true", help="only print the table of the results so far")
    a = ap.parse_args()
    a.out = Path(a.out) if Path(a.out).is_absolute() else REPO_ROOT / a.out
    a.bin = Path(a.bin) if Path(a.bin).is_absolute() else REPO_ROOT / a.bin
    a.only = a.only.split(",") if a.only else FILES
    a.procedures = a.procedures.split(",")
    manifest = json.loads((a.out / "manifest.json").read_text())
    (a.out / "quality").mkdir(parents=True, exist_ok=True)
    if not a.table:
        results = a.out / "quality" / "results.jsonl"
        done = {}
        if results.exists():
            for l in results.read_text().splitlines():
                r = json.loads(l)
                if "test_acc" in r:
                    done[(r["name"], r["proc"], r["seed"])] = r
        seeds = [int(s) for s in a.seeds.split(",")]
        groups = [(d, s) for s in seeds for d in manifest["datasets"]
                  if d["task"] == "classification" and d["name"] in a.only]
        # The largest files first, so that the jobs end together.
        groups.sort(key=lambda g: -(a.out / g[0]["name"] / "train.csv").stat().st_size)
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            list(ex.map(lambda g: group(a, g[0], g[1], done), groups))
    table(a, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
