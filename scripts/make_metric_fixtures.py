#!/usr/bin/env python3
"""Writes tests/fixtures/metrics.json: random cases with the metric values
scikit-learn/scipy compute for them, for genoprot's metric unit tests.
Run once with a venv that has scikit-learn and scipy:
    .venv/bin/python scripts/make_metric_fixtures.py"""
import json, os
import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import (accuracy_score, average_precision_score, f1_score, matthews_corrcoef,
                             r2_score, roc_auc_score)

rng = np.random.default_rng(20261125)
cases = []
for i in range(12):
    n = int(rng.integers(10, 200))
    y = rng.random(n) < rng.uniform(0.1, 0.6)
    if y.all() or not y.any():
        y[0] = not y[0]
    # quantized scores so ties occur
    s = np.round(rng.random(n) * (1 + y * rng.uniform(0, 2)), int(rng.integers(1, 3)))
    p = s > np.median(s)
    cases.append({"kind": "binary", "y": y.astype(int).tolist(), "score": s.tolist(), "pred": p.astype(int).tolist(),
                  "auroc": roc_auc_score(y, s), "auprc": average_precision_score(y, s),
                  "f1": f1_score(y, p, zero_division=0), "mcc": matthews_corrcoef(y, p), "accuracy": accuracy_score(y, p)})
for i in range(6):
    n, k = int(rng.integers(20, 150)), int(rng.integers(3, 6))
    y = rng.integers(0, k, n)
    p = np.where(rng.random(n) < 0.5, y, rng.integers(0, k, n))
    cases.append({"kind": "multiclass", "k": k, "y": y.tolist(), "pred": p.tolist(),
                  "f1_macro": f1_score(y, p, average="macro", zero_division=0), "mcc": matthews_corrcoef(y, p),
                  "accuracy": accuracy_score(y, p)})
for i in range(6):
    n = int(rng.integers(10, 150))
    y = rng.normal(size=n)
    p = np.round(y * rng.uniform(0.2, 1.0) + rng.normal(size=n), 1)
    cases.append({"kind": "regression", "y": y.tolist(), "pred": p.tolist(),
                  "spearman": spearmanr(y, p).correlation, "r2": r2_score(y, p)})
out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics.json")
with open(out, "w") as f:
    json.dump(cases, f)
print(f"wrote {len(cases)} cases to {out}")
