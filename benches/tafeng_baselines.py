#!/usr/bin/env python3
"""Yardsticks for TF-CHURN and TF-NBR: the issue's "usual baselines", written here in
pandas / scikit-learn / LightGBM so our `evaluate` figures have same-machine neighbours.

    python3 benches/tafeng_baselines.py data/ta_feng.csv            # both protocols
    python3 benches/tafeng_baselines.py data/ta_feng.csv --only nbr

Never a dependency of the crate or its tests (pip install pandas scikit-learn lightgbm).

TF-CHURN: RFM and inter-purchase-gap features at one training snapshot (cutoff - 28 days,
labels in the following 28 days), logistic regression and LightGBM with library defaults,
measured at the cutoff over customers with a purchase in the 90 days before it.

TF-NBR: popularity, personal top-frequency and TIFU-KNN (Hu et al., SIGIR 2020: baskets
multi-hot, weighted by a within-history decay r_b per basket and a group decay r_g over m
groups of baskets; k nearest customers by Euclidean distance; alpha * own + (1 - alpha) *
mean of the neighbours). TIFU-KNN's settings are chosen on the window ending at the
previous cutoff (cutoff - 28 days), never on the reported one.
"""
import argparse
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

DAY = pd.Timedelta(days=1)


def load(path):
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    out = pd.DataFrame({
        "t": pd.to_datetime(df.TRANSACTION_DT, format="%m/%d/%Y"),
        "c": df.CUSTOMER_ID,
        "p": df.PRODUCT_ID,
        "spend": pd.to_numeric(df.SALES_PRICE),
        "age": df.AGE_GROUP.fillna("").str.strip(),
        "pin": df.PIN_CODE.fillna("").str.strip(),
    })
    out["i"] = out.p.astype("category").cat.codes.astype(np.int64)
    return out


# ---------------------------------------------------------------------------- TF-CHURN
def churn_features(df, t):
    """RFM and gap features of every customer with a purchase before t."""
    h = df[df.t < t]
    visits = h.groupby(["c", "t"]).spend.sum().reset_index()
    g = visits.groupby("c")
    f = pd.DataFrame({
        "recency": (t - g.t.max()) / DAY,
        "tenure": (t - g.t.min()) / DAY,
        "frequency": g.size(),
        "monetary": g.spend.sum(),
        "basket_value": g.spend.mean(),
        "distinct_items": h.groupby("c").p.nunique(),
    })
    for w in (7, 14, 30, 60, 90):
        recent = visits[visits.t >= t - w * DAY].groupby("c")
        f[f"visits_{w}d"] = recent.size().reindex(f.index).fillna(0)
        f[f"spend_{w}d"] = recent.spend.sum().reindex(f.index).fillna(0)
    gaps = visits.sort_values(["c", "t"]).groupby("c").t.diff() / DAY
    gaps = pd.DataFrame({"c": visits.sort_values(["c", "t"]).c, "gap": gaps}).dropna()
    gg = gaps.groupby("c").gap
    f["gap_mean"] = gg.mean().reindex(f.index)
    f["gap_std"] = gg.std().reindex(f.index)
    f["gap_last"] = gg.last().reindex(f.index)
    f["recency_over_gap"] = f.recency / f.gap_mean
    last = h.sort_values("t").groupby("c")[["age", "pin"]].last()
    for col in ("age", "pin"):
        f[col] = last[col].reindex(f.index).astype("category")
    return f


def churn_rows(df, t, horizon):
    f = churn_features(df, t)
    f = f[f.recency <= 90]
    future = set(df[(df.t >= t) & (df.t < t + horizon * DAY)].c)
    y = (~f.index.isin(future)).astype(int)
    return f, y


def churn(df, cutoff, horizon):
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr = churn_rows(df, cutoff - horizon * DAY, horizon)
    xte, yte = churn_rows(df, cutoff, horizon)
    attrs = ["age", "pin"]
    for col in attrs:  # one category list for both tables
        cats = pd.api.types.union_categoricals([xtr[col], xte[col]]).categories
        xtr[col] = xtr[col].cat.set_categories(cats)
        xte[col] = xte[col].cat.set_categories(cats)
    num_tr, num_te = xtr.drop(columns=attrs), xte.drop(columns=attrs)
    print(f"TF-CHURN  train rows {len(xtr)} (base rate {ytr.mean():.3f}), "
          f"eval rows {len(xte)} (base rate {yte.mean():.3f})")
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    lr.fit(num_tr.fillna(-1), ytr)
    gbm = LGBMClassifier(random_state=0, verbose=-1).fit(num_tr, ytr)
    gbm_attrs = LGBMClassifier(random_state=0, verbose=-1).fit(xtr, ytr)
    print(f"{'model':<32}{'auc':>8}{'logloss':>9}{'brier':>8}")
    for name, p in [
        ("logistic regression", lr.predict_proba(num_te.fillna(-1))[:, 1]),
        ("lightgbm (defaults)", gbm.predict_proba(num_te)[:, 1]),
        ("lightgbm + age group, pin code", gbm_attrs.predict_proba(xte)[:, 1]),
        ("recency only", xte.recency.to_numpy()),
    ]:
        auc = roc_auc_score(yte, p)
        if name == "recency only":
            print(f"{name:<32}{auc:8.4f}{'':>9}{'':>8}")
        else:
            print(f"{name:<32}{auc:8.4f}{log_loss(yte, p):9.4f}{brier_score_loss(yte, p):8.4f}")


# ---------------------------------------------------------------------------- TF-NBR
class Window:
    """Baskets before `cutoff` and the truth in the following `horizon` days."""

    def __init__(self, df, cutoff, horizon):
        h = df[df.t < cutoff]
        fut = df[(df.t >= cutoff) & (df.t < cutoff + horizon * DAY)]
        self.customers = {c: k for k, c in enumerate(h.c.unique())}
        self.n_items = int(df.i.max()) + 1
        truth = fut[fut.c.isin(self.customers)].groupby("c").i.apply(set)
        self.eval_rows = np.array([self.customers[c] for c in truth.index])
        self.truth = list(truth.values)
        b = h.drop_duplicates(["c", "t", "i"]).sort_values(["c", "t"])
        self.baskets = [[] for _ in self.customers]
        for (c, _), g in b.groupby(["c", "t"], sort=True):
            self.baskets[self.customers[c]].append(g.i.to_numpy())
        self.popular = h.groupby("i").c.nunique().sort_values(ascending=False, kind="stable")
        counts = b.groupby(["c", "i"]).size().reset_index(name="n")
        self.counts = sp.csr_matrix(
            (counts.n.to_numpy(float), (counts.c.map(self.customers), counts.i)),
            shape=(len(self.customers), self.n_items))

    def metrics(self, rank_row):
        """Mean recall@10, NDCG@10, recall@20 of `rank_row(row) -> top-20 items`."""
        r10, nd, r20 = [], [], []
        disc = 1 / np.log2(np.arange(2, 12))
        for row, truth in zip(self.eval_rows, self.truth):
            top = rank_row(row)[:20]
            hit = np.array([i in truth for i in top], dtype=float)
            hit = np.pad(hit, (0, 20 - len(hit)))
            r10.append(hit[:10].sum() / len(truth))
            r20.append(hit.sum() / len(truth))
            nd.append((hit[:10] * disc).sum() / disc[: min(10, len(truth))].sum())
        return np.mean(r10), np.mean(nd), np.mean(r20)


def fill_with_popular(scores, popular, k=20):
    own = np.flatnonzero(scores > 0)
    own = own[np.lexsort((own, -scores[own]))][:k]
    if len(own) >= k:
        return own
    seen = set(own.tolist())
    extra = [i for i in popular[: k + len(own)] if i not in seen]
    return np.concatenate([own, np.array(extra[: k - len(own)], dtype=own.dtype)])


def tifu_vectors(w, m, rb, rg):
    rows, cols, vals = [], [], []
    for u, baskets in enumerate(w.baskets):
        n = len(baskets)
        if n < m:
            groups, real = [[j] for j in range(n)], n
        else:
            base = n // m
            extra = int(round((n / m - base) * m))
            groups, at = [], 0
            for g in range(m):
                size = base + (g >= m - extra)
                groups.append(list(range(at, at + size)))
                at += size
            real = m
        acc = {}
        for gi, group in enumerate(groups):
            wg = rg ** (m - 1 - gi)
            for j in group:
                wb = rb ** (n - 1 - j) * wg
                for item in baskets[j]:
                    acc[item] = acc.get(item, 0.0) + wb
        for item, v in acc.items():
            rows.append(u)
            cols.append(item)
            vals.append(v / real)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(w.baskets), w.n_items))


def tifu_metrics(w, m, rb, rg, k, alpha):
    x = tifu_vectors(w, m, rb, rg)
    sq = np.asarray(x.multiply(x).sum(1)).ravel()
    xt = x.T.tocsr()
    popular = w.popular.index.to_numpy()
    tops = {}
    for s in range(0, len(w.eval_rows), 500):
        rows = w.eval_rows[s:s + 500]
        d = sq[rows, None] + sq[None, :] - 2 * (x[rows] @ xt).toarray()
        d[np.arange(len(rows)), rows] = np.inf
        nb = np.argpartition(d, k, axis=1)[:, :k]
        for r, row in enumerate(rows):
            score = alpha * x[row].toarray().ravel()
            score += (1 - alpha) * np.asarray(x[nb[r]].sum(0)).ravel() / k
            tops[row] = fill_with_popular(score, popular)
    return w.metrics(lambda row: tops[row])


TIFU_GRID = [  # (m groups, r_b, r_g, k, alpha); the first is the paper's Ta-Feng setting
    (7, 0.9, 0.7, 300, 0.9), (3, 0.9, 0.7, 300, 0.9), (7, 1.0, 0.6, 300, 0.9),
    (7, 0.9, 0.7, 300, 0.7), (7, 0.9, 0.7, 100, 0.9), (7, 0.9, 0.7, 300, 1.0),
]


def nbr(df, cutoff, horizon):
    tune = Window(df, cutoff - horizon * DAY, horizon)
    print(f"TF-NBR tuning window (cutoff {(cutoff - horizon * DAY).date()}), "
          f"{len(tune.eval_rows)} customers")
    best = None
    for setting in TIFU_GRID:
        started = time.time()
        r = tifu_metrics(tune, *setting)
        print(f"  TIFU-KNN m={setting[0]} r_b={setting[1]} r_g={setting[2]} "
              f"k={setting[3]} alpha={setting[4]}: "
              f"{r[0]:.4f} / {r[1]:.4f} / {r[2]:.4f} ({time.time() - started:.0f} s)")
        if best is None or r[0] > best[0][0]:
            best = (r, setting)
    w = Window(df, cutoff, horizon)
    popular = w.popular.index.to_numpy()
    print(f"TF-NBR reported window (cutoff {cutoff.date()}), {len(w.eval_rows)} customers")
    print(f"{'method':<48}{'recall@10':>10}{'ndcg@10':>9}{'recall@20':>10}")
    results = [
        ("popularity", w.metrics(lambda row: popular[:20])),
        ("top-frequency (own counts, then popular)",
         w.metrics(lambda row: fill_with_popular(w.counts[row].toarray().ravel(), popular))),
        (f"TIFU-KNN {best[1]} (chosen on tuning)", tifu_metrics(w, *best[1])),
    ]
    for name, r in results:
        print(f"{name:<48}{r[0]:10.4f}{r[1]:9.4f}{r[2]:10.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", help="Ta-Feng CSV (training/fetch-dataset.sh tafeng DIR)")
    ap.add_argument("--cutoff", default="2001-02-01")
    ap.add_argument("--horizon-days", type=int, default=28)
    ap.add_argument("--only", choices=["churn", "nbr"])
    args = ap.parse_args()
    df = load(args.events)
    cutoff = pd.Timestamp(args.cutoff)
    if args.only in (None, "churn"):
        churn(df, cutoff, args.horizon_days)
    if args.only in (None, "nbr"):
        nbr(df, cutoff, args.horizon_days)


if __name__ == "__main__":
    main()
