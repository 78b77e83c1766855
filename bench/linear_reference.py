#!/usr/bin/env python3
"""Reference for bench/linear.sh: makes a protein-like dataset (N proteins of
human-like lengths; features: the 400 dipeptide frequencies plus the 20
amino-acid fractions, standardized on the training rows, float32 — collinear
as composition features are) with composition-driven, imbalanced binary and
8-class labels, and times scikit-learn's fits of the c grid
LogisticRegression(C, class_weight="balanced", tol=1e-6) on it.
Usage: linear_reference.py make DIR N | time DIR THREADS"""
import json, os, sys, time
import numpy as np

if sys.argv[1] == "make":
    d, n = sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(7)
    AA = "ACDEFGHIKLMNPQRSTVWY"
    freq = np.array([8.3, 1.4, 5.5, 6.8, 3.9, 7.1, 2.3, 5.9, 5.8, 9.7, 2.4, 4.1, 4.7, 3.9, 5.5, 6.6, 5.3, 6.9, 1.1, 2.9])
    freq /= freq.sum()
    feats = np.zeros((n, 420))
    for i in range(n):
        L = int(np.clip(rng.lognormal(5.6, 0.5), 30, 2000))
        s = rng.choice(20, size=L, p=rng.dirichlet(freq * 60))
        feats[i, :400] = np.bincount(s[:-1] * 20 + s[1:], minlength=400) / (L - 1)
        feats[i, 400:] = np.bincount(s, minlength=20) / L
    z = lambda v: (v - v.mean()) / v.std()
    hyd = z(feats[:, [400 + AA.index(a) for a in "AILMFVW"]].sum(1))
    chg = z(feats[:, [400 + AA.index(a) for a in "DEKR"]].sum(1))
    binary = (hyd + 0.7 * rng.normal(size=n) > 1.3).astype(int)
    scores = rng.normal(size=(n, 8)) @ np.diag([1, 1, 1, 1, 1, 1, 1, 1.0]) + np.outer(hyd, [0, 1, 0, -1, 0.5, 0, 0, 0]) + np.outer(chg, [0, 0, 1, 0, 0, -1, 0.5, 0])
    scores += np.log([0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03])
    multiclass = scores.argmax(1)
    perm = rng.permutation(n)
    tr, va, te = perm[: int(0.7 * n)], perm[int(0.7 * n): int(0.85 * n)], perm[int(0.85 * n):]
    mu, sd = feats[tr].mean(0), feats[tr].std(0)
    sd[sd < 1e-12] = 1.0
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), ((feats - mu) / sd).astype(np.float32))
    json.dump({"train": tr.tolist(), "valid": va.tolist(), "test": te.tolist(),
               "binary": binary.tolist(), "multiclass": multiclass.tolist()}, open(os.path.join(d, "data.json"), "w"))
    sys.exit(0)

d, threads = sys.argv[2], sys.argv[3]
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = threads
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
import sklearn
x = np.load(os.path.join(d, "x.npy")).astype(np.float64)
data = json.load(open(os.path.join(d, "data.json")))
tr, va, te = (np.array(data[k]) for k in ("train", "valid", "test"))
grid = [0.01, 0.1, 1.0, 10.0]
for task in ("binary", "multiclass"):
    y = np.array(data[task])
    t = time.perf_counter()
    best = (-1, None)
    for c in grid:
        m = LogisticRegression(C=c, class_weight="balanced", tol=1e-6, max_iter=100000).fit(x[tr], y[tr])
        pv = m.predict_proba(x[va])
        s = roc_auc_score(y[va], pv[:, 1]) if task == "binary" else roc_auc_score(y[va], pv, multi_class="ovr")
        if s > best[0]:
            best = (s, m, c)
    secs = time.perf_counter() - t
    pt = best[1].predict_proba(x[te])
    auc = roc_auc_score(y[te], pt[:, 1]) if task == "binary" else roc_auc_score(y[te], pt, multi_class="ovr")
    print(f"REF {task}|{secs}|{auc}|{best[2]}|scikit-learn {sklearn.__version__}")
