#!/usr/bin/env python3
"""CI: the numbers in a `cargo xtask compare` summary.json match the run journals they came from."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
summary = json.loads((out / "summary.json").read_text())
checked = 0
for ds in summary["data_sets"]:
    for cfg in ds["configs"]:
        for run in cfg["per_run"]:
            d = out / "runs" / ds["data"] / cfg["config"] / f"seed-{run['seed']}"
            recs = [json.loads(l) for l in (d / "journal.jsonl").read_text().splitlines() if l.strip()]
            assert run["trials"] == len(recs), (d, run["trials"], len(recs))
            best = max(r["reward"] for r in recs)
            assert abs(run["best_reward"] - best) < 1e-12, (d, run["best_reward"], best)
            checked += 1
        rewards = [r["best_reward"] for r in cfg["per_run"]]
        assert abs(cfg["best_reward"]["mean"] - sum(rewards) / len(rewards)) < 1e-12, cfg["config"]
for svg in out.glob("*.svg"):
    assert svg.read_text().lstrip().startswith("<svg"), svg
assert checked > 0, "no run in summary.json"
print(f"summary.json matches the journals of {checked} runs")
