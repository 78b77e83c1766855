#!/usr/bin/env python3
"""Reference for bench/probe.sh: on the same embeddings and the same splits as
genoprot's cells, fit scikit-learn LogisticRegression and MLPClassifier and
compare AUROC (and time, for the MLP) with genoprot's burn probes.
The MLP is timed twice: under genoprot's own training rule (same optimizer
settings, same validation split and early stopping), and with scikit-learn's
built-in early stopping.
Usage: probe_reference.py DATASET LOGREG_STORE MLP_STORE MODEL
(MLP_LR, MLP_BATCH, MLP_PATIENCE, MLP_MIN_DELTA: as given to bench/probe.sh)"""
import csv, os, sys, time
import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from scipy.stats import rankdata
from sklearn.neural_network import MLPClassifier

ds, lr_store, mlp_store, model = sys.argv[1:5]
# The MLP settings of bench/probe.sh's genoprot config (same on both sides).
LR = float(os.environ.get("MLP_LR", "1e-3"))
BATCH = int(os.environ.get("MLP_BATCH", "256"))
PATIENCE = int(os.environ.get("MLP_PATIENCE", "10"))
MIN_DELTA = float(os.environ.get("MLP_MIN_DELTA", "1e-4"))
MAX_EPOCHS, ALPHA = 100, 1e-4
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

def auroc(y, s):
    """Rank-based AUROC with ties (Mann-Whitney), as cheap as genoprot's."""
    r = rankdata(s)
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return (r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)

def pos_weights(y):
    # genoprot's class_weights: positives weighted n_neg / n_pos (clamped like it).
    w = np.clip((y == 0).sum() / max((y == 1).sum(), 1), 0.05, 100.0)
    return np.where(y == 1, w, 1.0).astype(np.float32)

def mlp(seed):
    return MLPClassifier(hidden_layer_sizes=(256,), alpha=ALPHA, batch_size=BATCH,
                         learning_rate_init=LR, random_state=int(seed))

def sk_same_rule(xtr, ytr, xva, yva, xte, seed):
    """scikit-learn's MLP (Adam, same lr/batch/L2) under genoprot's rule: one
    partial_fit epoch at a time, validation AUROC on the cell's validation
    split, stop after PATIENCE epochs without a MIN_DELTA gain, best epoch kept."""
    m = mlp(seed)
    sw = pos_weights(ytr)
    best, best_w, since, ep = -np.inf, None, 0, 0
    for ep in range(1, MAX_EPOCHS + 1):
        m.partial_fit(xtr, ytr, sample_weight=sw, classes=np.array([0, 1]))
        s = auroc(yva, m.predict_proba(xva)[:, 1])
        if s > best + max(MIN_DELTA, 1e-12):
            best, since = s, 0
            best_w = ([c.copy() for c in m.coefs_], [b.copy() for b in m.intercepts_])
        else:
            since += 1
            if since >= PATIENCE:
                break
    m.coefs_, m.intercepts_ = best_w
    return m.predict_proba(xte)[:, 1], ep

def sk_own_rule(xtr, ytr, xte, seed):
    """scikit-learn's own early stopping: accuracy on 10% of the training rows."""
    m = mlp(seed).set_params(max_iter=MAX_EPOCHS, early_stopping=True, n_iter_no_change=PATIENCE)
    m.fit(xtr, ytr, sample_weight=pos_weights(ytr))
    return m.predict_proba(xte)[:, 1], m.n_iter_

print(f"MLP: hidden 256, lr {LR}, batch {BATCH}, L2/weight decay {ALPHA}, patience {PATIENCE}, "
      f"min_delta {MIN_DELTA}, <= {MAX_EPOCHS} epochs; positives weighted n_neg/n_pos on both sides")
print(f"{'':<17}| {'logistic regr. AUROC':<21}| {'genoprot MLP':<19}| {'sklearn, same rule':<27}| {'sklearn, own early stop':<26}")
print(f"{'task':<12} {'seed':>4} | {'gp':>6} {'sk':>6} {'|d|':>6} | {'AUROC':>6} {'s':>6} {'ep':>4} | "
      f"{'AUROC':>6} {'s':>6} {'ep':>4} {'ratio':>6} | {'AUROC':>6} {'s':>6} {'ep':>4} {'ratio':>6}")
rows_lr = {(r["task"], r["seed"]): r for r in cells(lr_store)}
diffs, same, own = [], [], []
for r in sorted(cells(mlp_store), key=lambda r: (r["task"], r["seed"])):
    task, seed = r["task"], r["seed"]
    lr_row = rows_lr[(task, seed)]
    train, valid, test, burn_s, burn_ep = split(mlp_store, r["cell_id"], task)
    tr_idx = [row_of[g] for g in train]
    mu, sd = emb[tr_idx].mean(0), emb[tr_idx].std(0)
    sd[sd < 1e-12] = 1.0
    xtr, ytr = xy(train, task, mu, sd)
    xva, yva = xy(valid, task, mu, sd)
    xte, yte = xy(test, task, mu, sd)
    with h5py.File(os.path.join(lr_store, "cells", lr_row["cell_id"] + ".h5")) as f:
        c_chosen = float(f.attrs["probe_c"])
    lr = LogisticRegression(C=c_chosen, max_iter=100000, tol=1e-6, class_weight="balanced").fit(xtr, ytr)
    sk_lr = roc_auc_score(yte, lr.predict_proba(xte)[:, 1])
    burn_lr = float(lr_row["auroc"])
    diffs.append(abs(burn_lr - sk_lr))
    # float32 like burn (scikit-learn keeps the input dtype).
    xtr, xva, xte = (a.astype(np.float32) for a in (xtr, xva, xte))
    t = time.perf_counter()
    p_same, ep_same = sk_same_rule(xtr, ytr, xva, yva, xte, seed)
    s_same = time.perf_counter() - t
    t = time.perf_counter()
    p_own, ep_own = sk_own_rule(xtr, ytr, xte, seed)
    s_own = time.perf_counter() - t
    burn_au = float(r["auroc"])
    a_same, a_own = roc_auc_score(yte, p_same), roc_auc_score(yte, p_own)
    same.append((burn_au, a_same, burn_s, s_same, burn_ep, ep_same))
    own.append((burn_au, a_own, burn_s, s_own, burn_ep, ep_own))
    print(f"{task:<12} {seed:>4} | {burn_lr:6.3f} {sk_lr:6.3f} {abs(burn_lr-sk_lr):6.3f} | "
          f"{burn_au:6.3f} {burn_s:6.2f} {burn_ep:4d} | {a_same:6.3f} {s_same:6.2f} {ep_same:4d} {s_same/burn_s:5.1f}x | "
          f"{a_own:6.3f} {s_own:6.2f} {ep_own:4d} {s_own/burn_s:5.1f}x")

print(f"\nlogistic regression (genoprot's L-BFGS vs sklearn at the chosen C): mean |AUROC genoprot - sklearn| = {np.mean(diffs):.4f} (max {np.max(diffs):.4f})")
for name, rows in [("same rule", same), ("own early stopping", own)]:
    a = np.array(rows)
    ratio = a[:, 3] / a[:, 2]
    per_ep = (a[:, 3] / a[:, 5]) / (a[:, 2] / a[:, 4])
    print(f"MLP vs sklearn ({name}): time ratio sklearn/burn median {np.median(ratio):.1f}x "
          f"(min {ratio.min():.1f}x, max {ratio.max():.1f}x), total {a[:, 3].sum() / a[:, 2].sum():.1f}x; "
          f"per epoch median {np.median(per_ep):.1f}x; epochs burn {int(a[:, 4].sum())} sklearn {int(a[:, 5].sum())}; "
          f"AUROC burn - sklearn mean {np.mean(a[:, 0] - a[:, 1]):+.4f} (min {np.min(a[:, 0] - a[:, 1]):+.4f})")
print("burn time: the whole cell (embedding read, standardization, training, predictions, cell store write);"
      " sklearn: training and prediction only")
