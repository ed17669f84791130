#!/usr/bin/env python3
"""Yardstick for CD-NEXT: the issue's "LightGBM on RFM features", written here so our
`evaluate` figures have a same-machine neighbour.

    python3 benches/cdnow_baselines.py data/CDNOW_master.txt

Never a dependency of the crate or its tests (pip install pandas scikit-learn lightgbm).

Protocol as `propensity-train evaluate --split customers`: features from purchases before
the cutoff, labels = distinct purchase days in [cutoff, cutoff + H); customers split 50/50
by the CRC-32 of their id (even trains, odd is measured), the same halves as ours (the
measured half's actual total is printed to check). LightGBM with library defaults: binary
for "any purchase" (AUC), Poisson for the number of purchase days (MAE, RMSE, total).
"""
import argparse
import zlib

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


def features(df, t):
    days = df[df.t < t].groupby(["c", "t"]).a.sum().reset_index()
    g = days.groupby("c")
    f = pd.DataFrame({
        "recency": (t - g.t.max()) / DAY,
        "tenure": (t - g.t.min()) / DAY,
        "frequency": g.size(),
        "monetary": g.a.sum(),
        "order_value": g.a.mean(),
    })
    for w in (30, 90, 180):
        recent = days[days.t >= t - w * DAY].groupby("c")
        f[f"orders_{w}d"] = recent.size().reindex(f.index).fillna(0)
        f[f"spend_{w}d"] = recent.a.sum().reindex(f.index).fillna(0)
    ordered = days.sort_values(["c", "t"])
    gaps = pd.DataFrame({"c": ordered.c, "gap": ordered.groupby("c").t.diff() / DAY}).dropna()
    f["gap_mean"] = gaps.groupby("c").gap.mean().reindex(f.index)
    f["gap_last"] = gaps.groupby("c").gap.last().reindex(f.index)
    return f


def main():
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", help="CDNOW_master.txt (training/fetch-dataset.sh cdnow DIR)")
    ap.add_argument("--cutoff", default="1997-10-01")
    ap.add_argument("--horizon-days", type=int, default=273)
    args = ap.parse_args()
    df = pd.read_csv(args.events, sep=r"\s+", header=0, names=["c", "d", "q", "a"],
                     dtype={"c": str, "d": str})
    df["t"] = pd.to_datetime(df.d, format="%Y%m%d")
    cutoff = pd.Timestamp(args.cutoff)
    x = features(df, cutoff)
    fut = df[(df.t >= cutoff) & (df.t < cutoff + args.horizon_days * DAY)]
    y = fut.drop_duplicates(["c", "t"]).groupby("c").size().reindex(x.index).fillna(0)
    train = np.array([zlib.crc32(c.encode()) % 2 == 0 for c in x.index])
    xtr, ytr, xte, yte = x[train], y[train], x[~train], y[~train].to_numpy()
    print(f"CD-NEXT train {len(xtr)} customers, measured {len(xte)} "
          f"(actual purchase days {yte.sum():.0f})")
    p_any = LGBMClassifier(random_state=0, verbose=-1).fit(xtr, ytr > 0).predict_proba(xte)[:, 1]
    count = LGBMRegressor(objective="poisson", random_state=0, verbose=-1).fit(xtr, ytr)
    pred = count.predict(xte)
    err = pred - yte
    print(f"LightGBM binary:  AUC {roc_auc_score(yte > 0, p_any):.4f}")
    print(f"LightGBM Poisson: AUC {roc_auc_score(yte > 0, pred):.4f}, "
          f"MAE {np.abs(err).mean():.4f}, RMSE {np.sqrt((err ** 2).mean()):.4f}, "
          f"total {pred.sum():.0f} ({pred.sum() / yte.sum() - 1:+.1%})")
    print(f"recency only:     AUC {roc_auc_score(yte > 0, -xte.recency):.4f}")


if __name__ == "__main__":
    main()
