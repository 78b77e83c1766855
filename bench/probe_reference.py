#!/usr/bin/env python3
"""Reference for bench/probe.sh: on the same embeddings and the same splits as
genoprot's cells, fit scikit-learn LogisticRegression and MLPClassifier and
compare AUROC (and time, for the MLP) with genoprot's burn probes.
Usage: probe_reference.py DATASET LOGREG_STORE MLP_STORE MODEL"""
import csv, os, sys, time
import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

ds, lr_store, mlp_store, model = sys.argv[1:5]
labels = {}
with open(os.path.join(ds, "labels.tsv")) as f:
    r = csv.reader(f, delimiter="\t")
    header = next(r)
    for row in r:
        for name, v in zip(header[1:], row[1:]):
            if v != "":
                labels.setdefault(name, {})[row[0]] = v

with h5py.File(os.path.join(lr_store, "embeddings", f"{model}.h5")) as f:
    ids = list(f["ids"].asstr()[()])
    emb = f["emb"][()].astype(np.float64)
row_of = {g: i for i, g in enumerate(ids)}

def cells(store):
    out = []
    with open(os.path.join(store, "results.csv")) as f:
        for r in csv.DictReader(f):
            if r["model"] == model and r["kind"] == "binary":
                out.append(r)
    return out

def split(store, cell_id, task):
    with h5py.File(os.path.join(store, "cells", cell_id + ".h5")) as f:
        test = list(f["test/ids"].asstr()[()])
        valid = list(f["valid/ids"].asstr()[()])
        secs = float(f.attrs["seconds"])
        epochs = len(f["curve/epoch"])
    held = set(test) | set(valid)
    train = [g for g in labels[task] if g not in held]
    return train, valid, test, secs, epochs

def xy(genes, task, mu, sd):
    x = (emb[[row_of[g] for g in genes]] - mu) / sd
    y = np.array([int(labels[task][g]) for g in genes])
    return x, y

print(f"{'task':<12} {'seed':>4} {'burn LR':>8} {'sk LR':>8} {'|d|':>6} | {'burn MLP':>8} {'s':>6} {'ep':>4} {'sk MLP':>8} {'s':>6} {'ep':>4} {'sk/burn':>7}")
rows_lr = {(r["task"], r["seed"]): r for r in cells(lr_store)}
diffs, ratios, per_epoch = [], [], []
for r in sorted(cells(mlp_store), key=lambda r: (r["task"], r["seed"])):
    task, seed = r["task"], r["seed"]
    lr_row = rows_lr[(task, seed)]
    train, valid, test, burn_mlp_s, burn_ep = split(mlp_store, r["cell_id"], task)
    tr_idx = [row_of[g] for g in train]
    mu, sd = emb[tr_idx].mean(0), emb[tr_idx].std(0)
    sd[sd < 1e-12] = 1.0
    xtr, ytr = xy(train, task, mu, sd)
    xte, yte = xy(test, task, mu, sd)
    lr = LogisticRegression(max_iter=5000, class_weight="balanced").fit(xtr, ytr)
    sk_lr = roc_auc_score(yte, lr.predict_proba(xte)[:, 1])
    burn_lr = float(lr_row["auroc"])
    t = time.perf_counter()
    mlp = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-4, batch_size=256, learning_rate_init=1e-3,
                        max_iter=100, early_stopping=True, n_iter_no_change=10, random_state=int(seed))
    mlp.fit(xtr.astype(np.float32), ytr)  # float32 like burn (sklearn keeps the dtype)
    sk_mlp_s = time.perf_counter() - t
    sk_mlp = roc_auc_score(yte, mlp.predict_proba(xte.astype(np.float32))[:, 1])
    burn_mlp = float(r["auroc"])
    diffs.append(abs(burn_lr - sk_lr))
    ratios.append(sk_mlp_s / burn_mlp_s)
    per_epoch.append((burn_mlp_s / burn_ep, sk_mlp_s / mlp.n_iter_))
    print(f"{task:<12} {seed:>4} {burn_lr:8.3f} {sk_lr:8.3f} {abs(burn_lr-sk_lr):6.3f} | {burn_mlp:8.3f} {burn_mlp_s:6.2f} {burn_ep:4d} {sk_mlp:8.3f} {sk_mlp_s:6.2f} {mlp.n_iter_:4d} {sk_mlp_s/burn_mlp_s:7.1f}x")
print(f"\nlogistic regression: mean |AUROC burn - sklearn| = {np.mean(diffs):.4f} (max {np.max(diffs):.4f})")
print(f"MLP: sklearn time / burn time: median {np.median(ratios):.1f}x (min {np.min(ratios):.1f}x, max {np.max(ratios):.1f}x)")
b, k = np.median([p[0] for p in per_epoch]), np.median([p[1] for p in per_epoch])
print(f"MLP per epoch (burn: whole cell incl. loading and writing / epochs run; sklearn: fit / n_iter_): "
      f"burn {1e3 * b:.1f} ms, sklearn {1e3 * k:.1f} ms, ratio {k / b:.1f}x")
