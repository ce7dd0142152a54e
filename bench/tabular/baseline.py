#!/usr/bin/env python3
"""Reference scores from scikit-learn on the data written by prepare.py.

For each data set in <out>/manifest.json: fit on train.csv, score on test.csv.
  classification: HistGradientBoostingClassifier, LogisticRegression, RandomForestClassifier
                  and MLPClassifier (scikit-learn's defaults) -> test accuracy, and balanced
                  accuracy with and without class_weight="balanced" (gradient boosting, logistic)
  regression:     HistGradientBoostingRegressor, Ridge, RandomForestRegressor, MLPRegressor
                  -> test RMSE
The ID column (`rownames`) and the manifest's `drop` columns are not features.
Text columns are categorical: native categories for the gradient boosting
(categorical_features="from_dtype"), one-hot for the linear models, the forest
and the MLP; numeric columns get median imputation and standardisation for them.
Prints a markdown table and writes <out>/baselines.json.

Usage (from the repository root):
    target/tabvenv/bin/python bench/tabular/baseline.py [--out target/tabular]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, mean_squared_error
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 42
MAX_NATIVE_CATEGORIES = 255  # HistGradientBoosting's limit for native categorical features


def resolve(columns, names):
    """Map mlpnas-style column names ("#N" = N-th column by position) to real names."""
    return [columns[int(n[1:])] if n.startswith("#") and n[1:].isdigit() else n for n in names]


def split_xy(df, entry):
    drop = set(resolve(list(df.columns), entry["drop"]))
    if entry["id_column"]:
        drop.add(entry["id_column"])
    features = [c for c in df.columns if c != entry["label"] and c not in drop]
    return df[features], df[entry["label"]]


def linear_preprocessor(num, cat):
    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])


def as_categories(x_train, x_test, cat):
    """Text columns -> pandas categoricals with the train categories (unseen test values -> missing)."""
    x_train, x_test = x_train.copy(), x_test.copy()
    native = []
    for c in cat:
        dtype = pd.CategoricalDtype(sorted(x_train[c].dropna().unique()))
        if len(dtype.categories) <= MAX_NATIVE_CATEGORIES:
            x_train[c] = x_train[c].astype(dtype)
            x_test[c] = x_test[c].astype(dtype)
            native.append(c)
        else:  # too many levels for native support: ordinal codes as numbers
            x_train[c] = x_train[c].astype(dtype).cat.codes.replace(-1, np.nan)
            x_test[c] = x_test[c].astype(dtype).cat.codes.replace(-1, np.nan)
    return x_train, x_test


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/tabular", help="folder written by prepare.py, relative to the repository root unless absolute")
    args = ap.parse_args()
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO_ROOT / out
    manifest = json.loads((out / "manifest.json").read_text())

    results = []
    for entry in manifest["datasets"]:
        d = out / entry["name"]
        # Default NA handling: empty cells (and "NA") are missing.
        x_train, y_train = split_xy(pd.read_csv(d / "train.csv"), entry)
        x_test, y_test = split_xy(pd.read_csv(d / "test.csv"), entry)
        cat = [c for c in x_train.columns if not pd.api.types.is_numeric_dtype(x_train[c])]
        num = [c for c in x_train.columns if c not in cat]
        hx_train, hx_test = as_categories(x_train, x_test, cat)
        classification = entry["task"] == "classification"

        if classification:
            models = {
                "hgb": HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED),
                "linear": make_pipeline(linear_preprocessor(num, cat),
                                        LogisticRegression(max_iter=2000, random_state=SEED)),
                # The same, each class weighted by n / (classes * n_class): for balanced accuracy.
                "hgb_balanced": HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=SEED,
                                                               class_weight="balanced"),
                "linear_balanced": make_pipeline(linear_preprocessor(num, cat),
                                                 LogisticRegression(max_iter=2000, random_state=SEED,
                                                                    class_weight="balanced")),
                "forest": make_pipeline(linear_preprocessor(num, cat), RandomForestClassifier(random_state=SEED)),
                "mlp": make_pipeline(linear_preprocessor(num, cat), MLPClassifier(random_state=SEED)),
            }
        else:
            models = {
                "hgb": HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=SEED),
                "linear": make_pipeline(linear_preprocessor(num, cat), Ridge(random_state=SEED)),
                "forest": make_pipeline(linear_preprocessor(num, cat), RandomForestRegressor(random_state=SEED)),
                "mlp": make_pipeline(linear_preprocessor(num, cat), MLPRegressor(random_state=SEED)),
            }

        row = {"name": entry["name"], "task": entry["task"],
               "metric": "accuracy" if classification else "rmse",
               "n_train": len(x_train), "n_test": len(x_test)}
        if classification:  # the floor: always predict the most frequent train class
            row["majority"] = float(np.mean(y_test == y_train.value_counts().idxmax()))
        else:  # the floor: always predict the train mean
            row["mean"] = float(np.sqrt(mean_squared_error(y_test, np.full(len(y_test), y_train.mean()))))
        for key, model in models.items():
            t0 = time.perf_counter()
            if key.startswith("hgb"):
                model.fit(hx_train, y_train)
                pred = model.predict(hx_test)
            else:
                model.fit(x_train, y_train)
                pred = model.predict(x_test)
            row[f"{key}_seconds"] = round(time.perf_counter() - t0, 3)
            if classification:
                row[key] = float(accuracy_score(y_test, pred))
                if key in ("forest", "mlp"):
                    continue
                row[f"{key}_balanced_accuracy"] = float(balanced_accuracy_score(y_test, pred))
            else:
                row[key] = float(np.sqrt(mean_squared_error(y_test, pred)))
        results.append(row)

    print("| data set | task | train | test | metric | floor | HistGradientBoosting | Logistic / Ridge "
          "| RandomForest | MLP |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        floor = r.get("majority", r.get("mean"))
        print(f"| {r['name']} | {r['task']} | {r['n_train']} | {r['n_test']} | {r['metric']} "
              f"| {floor:.4f} | {r['hgb']:.4f} | {r['linear']:.4f} | {r['forest']:.4f} | {r['mlp']:.4f} |")
    print("\nfloor: majority-class accuracy (classification) or RMSE of predicting the train mean (regression).")
    print("\n| data set | balanced accuracy: HistGB | HistGB class_weight=balanced | Logistic | Logistic balanced |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        if r["task"] == "classification":
            print(f"| {r['name']} | {r['hgb_balanced_accuracy']:.4f} | {r['hgb_balanced_balanced_accuracy']:.4f} "
                  f"| {r['linear_balanced_accuracy']:.4f} | {r['linear_balanced_balanced_accuracy']:.4f} |")
    print("(an always-majority model scores 0.5)")

    report = {"seed": SEED, "sklearn": sklearn.__version__, "pandas": pd.__version__, "results": results}
    (out / "baselines.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out / 'baselines.json'}")


if __name__ == "__main__":
    main()
