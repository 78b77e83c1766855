#!/usr/bin/env python3
"""Refits one logistic-regression cell of a genoprot store with scikit-learn,
from nothing but the cell's stored training split and the model's embedding
store, and prints the stored and the refit test AUROC.

    python scripts/refit_cell.py STORE CELL_ID

Binary tasks, gene or pair scope, a single model (not an ensemble), the
logistic probe with `class_weight="balanced"` (genoprot's default; pass
--unweighted for `probe.class_weights: false`). What genoprot does, in
scikit-learn's words (docs/store-schema.md, "Refitting a cell"):
- gene tasks: StandardScaler fitted on the training genes;
- pair tasks: StandardScaler fitted on the genes of training pairs, pair
  features [a+b, a*b, |a-b|] of the standardized genes, standardized again
  on the training pairs (every k-th when there are over 20,000);
- LogisticRegression(C=probe_c) fitted on the training rows.
"""
import sys

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

store, cell = sys.argv[1], sys.argv[2]
weighting = None if "--unweighted" in sys.argv else "balanced"
with h5py.File(f"{store}/cells/{cell}.h5", "r") as f:
    if "train" not in f:
        sys.exit(f"{store}/cells/{cell}.h5 has no training split: it was written before genoprot kept "
                 "one; remove it and `genoprot run` again to recompute it")
    model, scope = f.attrs["model"], f.attrs["scope"]
    C = float(f.attrs["probe_c"])
    train_ids = f["train/ids"].asstr()[()]
    y_train = f["train/labels"][:, 0]
    test_ids = f["test/ids"].asstr()[()]
    y_test = f["test/labels"][:, 0]
    stored = float(f["metrics"].attrs["auroc"])
with h5py.File(f"{store}/embeddings/{model}.h5", "r") as f:
    emb = dict(zip(f["ids"].asstr()[()], f["emb"][()].astype(np.float64)))

if scope == "gene":
    x_train = np.stack([emb[g] for g in train_ids])
    x_test = np.stack([emb[g] for g in test_ids])
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
else:
    pairs_train = [tuple(p.split("|")) for p in train_ids]
    pairs_test = [tuple(p.split("|")) for p in test_ids]
    genes = sorted({g for p in pairs_train for g in p})
    genes_scaler = StandardScaler().fit(np.stack([emb[g] for g in genes]))
    z = {g: genes_scaler.transform(v[None])[0] for g, v in emb.items()}

    def features(pairs):
        return np.stack([np.concatenate([z[a] + z[b], z[a] * z[b], np.abs(z[a] - z[b])]) for a, b in pairs])

    x_train, x_test = features(pairs_train), features(pairs_test)
    step = max(len(pairs_train) // 20000, 1)
    pair_scaler = StandardScaler().fit(x_train[::step])
    x_train, x_test = pair_scaler.transform(x_train), pair_scaler.transform(x_test)

probe = LogisticRegression(C=C, class_weight=weighting, tol=1e-10, max_iter=100000)
probe.fit(x_train, y_train)
refit = roc_auc_score(y_test, probe.predict_proba(x_test)[:, 1])
print(f"{cell} {scope} stored_auroc {stored:.6f} refit_auroc {refit:.6f} diff {abs(refit - stored):.2e}")
