#!/usr/bin/env python3
"""Runs mlpnas on every data set of the kit's manifest: search (a config of configs/, default
budget; `--task regression` for a regression) on train.csv, finalize, predict test.csv, and
prints the test accuracy (classification) or test RMSE (regression) next to baselines.json's.
Raw CSVs only: no preprocessing outside mlpnas.

    python3 bench/tabular/run_mlpnas.py [--out target/tabular] [--config configs/evolution.toml]
        [--bin target/release/mlpnas]
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="target/tabular")
    ap.add_argument("--config", default="configs/evolution.toml")
    ap.add_argument("--bin", default="target/release/mlpnas")
    ap.add_argument("--only", default=None, help="a data set name")
    a = ap.parse_args()
    out = Path(a.out)
    manifest = json.loads((out / "manifest.json").read_text())
    base_file = out / "baselines.json"
    results = json.loads(base_file.read_text())["results"] if base_file.exists() else []
    baselines = {r["name"]: r for r in results}
    rows = []
    for d in manifest["datasets"]:
        if a.only and d["name"] != a.only:
            continue
        name = d["name"]
        run = out / name / "run"
        subprocess.run(["rm", "-rf", str(run)], check=True)
        search = [a.bin, "--quiet", "search", "--config", a.config, "--data", str(out / name / "train.csv"),
                  "--label", d["label"], "--out", str(run)]
        if d["drop"]:
            search += ["--drop", ",".join(d["drop"])]
        regression = d["task"] == "regression"
        if regression:
            search += ["--task", "regression"]
        t0 = time.time()
        r = subprocess.run(search, capture_output=True, text=True)
        if r.returncode != 0:
            rows.append((name, f"search failed: {r.stderr.strip()[-200:]}", None, None))
            continue
        t_search = time.time() - t0
        r = subprocess.run([a.bin, "--quiet", "finalize", str(run), "--top", "3"], capture_output=True, text=True)
        if r.returncode != 0:
            rows.append((name, f"finalize failed: {r.stderr.strip()[-200:]}", None, None))
            continue
        r = subprocess.run([a.bin, "predict", str(run / "final" / "model-1"), "--data", str(out / name / "test.csv"),
                            "--out", str(out / name / "predictions.csv")], capture_output=True, text=True)
        m = re.search(r"^rmse ([0-9.]+)" if regression else r"accuracy ([0-9.]+)", r.stderr, re.M)
        acc = float(m.group(1)) if m else None
        b = baselines.get(name, {})
        rows.append((name, acc, t_search, b))
        print(name, acc, f"{t_search:.1f} s", r.stderr.strip().splitlines()[:2], file=sys.stderr)
    print("| data set | mlpnas test acc (rmse) | search s | HistGB | LogisticRegression (Ridge) | majority (mean) |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, acc, t, b in rows:
        if t is None:
            print(f"| {name} | {acc} | | | | |")
            continue
        g = lambda *k: next((b[x] for x in k if x in b), None)
        fmt = lambda v: f"{v:.4f}" if isinstance(v, (int, float)) else str(v)
        print(f"| {name} | {fmt(acc)} | {t:.1f} | {fmt(g('hgb'))} | {fmt(g('linear'))} | {fmt(g('majority', 'mean'))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
