#!/usr/bin/env python3
"""GBDT-SPEED: propensity's GBDT against LightGBM and XGBoost-hist, side by side.

Protocol (see the gbdt issue): make_classification(n_samples=1_000_000, n_features=50,
n_informative=20, n_redundant=10, flip_y=0.05, class_sep=0.8, random_state=7); first 800k
rows train, last 200k test, written as CSV; binary objective, 63 leaves, learning rate 0.1,
300 rounds, 255 bins, min_data_in_leaf 20, no bagging, 2 threads. For every side: binning
time, training time (CSV parsing and binning excluded), test AUC, time to predict the 200k
test rows; medians over --repeats runs. Run through benches/gbdt_speed.sh, which installs
the Python packages; the data lives outside git (default /work/data/gbdt).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROUNDS = 300
LEAVES = 63
THREADS = 2


def make_data(data_dir):
    """Writes train.csv / test.csv once; later runs reuse them."""
    train_csv = os.path.join(data_dir, "train.csv")
    test_csv = os.path.join(data_dir, "test.csv")
    if os.path.exists(train_csv) and os.path.exists(test_csv):
        return train_csv, test_csv
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    os.makedirs(data_dir, exist_ok=True)
    x, y = make_classification(
        n_samples=1_000_000, n_features=50, n_informative=20, n_redundant=10,
        flip_y=0.05, class_sep=0.8, random_state=7)
    cols = [f"f{i}" for i in range(50)]
    for path, sl in ((train_csv, slice(0, 800_000)), (test_csv, slice(800_000, None))):
        df = pd.DataFrame(x[sl].astype(np.float64), columns=cols)
        df["label"] = y[sl]
        # 9 significant digits keep every value distinct while keeping the file ~half size.
        df.to_csv(path + ".tmp", index=False, float_format="%.9g")
        os.replace(path + ".tmp", path)
    return train_csv, test_csv


def load(train_csv, test_csv):
    import pandas as pd
    t0 = time.perf_counter()
    tr = pd.read_csv(train_csv)
    te = pd.read_csv(test_csv)
    parse = time.perf_counter() - t0
    ytr = tr.pop("label").to_numpy()
    yte = te.pop("label").to_numpy()
    return tr.to_numpy(), ytr, te.to_numpy(), yte, parse


def run_ours(binary, train_csv, test_csv, yte, work):
    from sklearn.metrics import roc_auc_score
    model = os.path.join(work, "ours.gbdt")
    preds = os.path.join(work, "ours_preds.csv")
    cmd = [binary, "gbdt", "train", "--train", train_csv, "--label", "label",
           "--objective", "binary", "--num-leaves", str(LEAVES), "--learning-rate", "0.1",
           "--num-iterations", str(ROUNDS), "--max-bin", "255", "--min-data-in-leaf", "20",
           "--threads", str(THREADS), "--seed", "1", "--out", model]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    t = timings(out.stdout + out.stderr)
    cmd = [binary, "gbdt", "predict", "--model", model, "--data", test_csv,
           "--threads", str(THREADS), "--out", preds]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    p = timings(out.stdout + out.stderr)
    import pandas as pd
    pred = pd.read_csv(preds)["prediction"].to_numpy()
    return {"parse_s": t["csv_parse_s"], "binning_s": t["binning_s"],
            "train_s": t["training_s"], "predict_s": p["predict_s"],
            "predict_parse_s": p["csv_parse_s"], "auc": roc_auc_score(yte, pred)}


def timings(text):
    """`timing name=seconds ...` lines printed by propensity-train."""
    found = {}
    for line in text.splitlines():
        if "timing" in line:
            for k, v in re.findall(r"(\w+)=([0-9.]+)", line):
                found[k] = float(v)
    return found


def run_lightgbm(xtr, ytr, xte, yte):
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    params = {"objective": "binary", "num_leaves": LEAVES, "learning_rate": 0.1,
              "max_bin": 255, "min_data_in_leaf": 20, "num_threads": THREADS,
              "verbose": -1, "seed": 1}
    t0 = time.perf_counter()
    ds = lgb.Dataset(xtr, ytr, params={"max_bin": 255, "verbose": -1}).construct()
    binning = time.perf_counter() - t0
    t0 = time.perf_counter()
    booster = lgb.train(params, ds, num_boost_round=ROUNDS)
    train = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = booster.predict(xte, num_threads=THREADS)
    predict = time.perf_counter() - t0
    return {"binning_s": binning, "train_s": train, "predict_s": predict,
            "auc": roc_auc_score(yte, pred)}


def run_xgboost(xtr, ytr, xte, yte):
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score
    params = {"objective": "binary:logistic", "tree_method": "hist", "grow_policy": "lossguide",
              "max_leaves": LEAVES, "max_depth": 0, "eta": 0.1, "max_bin": 255,
              "nthread": THREADS, "seed": 1}
    t0 = time.perf_counter()
    dtrain = xgb.QuantileDMatrix(xtr, ytr, max_bin=255, nthread=THREADS)
    binning = time.perf_counter() - t0
    t0 = time.perf_counter()
    booster = xgb.train(params, dtrain, num_boost_round=ROUNDS)
    train = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = booster.inplace_predict(xte)
    predict = time.perf_counter() - t0
    return {"binning_s": binning, "train_s": train, "predict_s": predict,
            "auc": roc_auc_score(yte, pred)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="/work/data/gbdt")
    ap.add_argument("--bin", default="target/release/propensity-train")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sides", default="ours,lightgbm,xgboost")
    ap.add_argument("--make-data-only", action="store_true")
    args = ap.parse_args()
    train_csv, test_csv = make_data(args.data_dir)
    if args.make_data_only:
        return
    sides = args.sides.split(",")
    xtr, ytr, xte, yte, parse = load(train_csv, test_csv)
    print(f"pandas read_csv of train+test: {parse:.2f} s (not counted for LightGBM/XGBoost)")
    results = {s: [] for s in sides}
    for rep in range(args.repeats):
        for side in sides:
            if side == "ours":
                r = run_ours(args.bin, train_csv, test_csv, yte, args.data_dir)
            elif side == "lightgbm":
                r = run_lightgbm(xtr, ytr, xte, yte)
            elif side == "xgboost":
                r = run_xgboost(xtr, ytr, xte, yte)
            else:
                sys.exit(f"unknown side {side}")
            print(f"run {rep + 1} {side}: " + " ".join(f"{k}={v:.4f}" for k, v in r.items()), flush=True)
            results[side].append(r)
    print(f"\nmedians of {args.repeats} runs, {THREADS} threads, {ROUNDS} rounds, {LEAVES} leaves")
    print(f"{'side':10} {'binning s':>10} {'train s':>9} {'predict s':>10} {'test AUC':>9}")
    summary = {}
    for side, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        summary[side] = {"median": med, "runs": runs}
        print(f"{side:10} {med['binning_s']:10.2f} {med['train_s']:9.2f} {med['predict_s']:10.3f} {med['auc']:9.5f}")
    with open(os.path.join(args.data_dir, "gbdt_speed_results.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
