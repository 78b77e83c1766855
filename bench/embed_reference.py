#!/usr/bin/env python3
"""Reference timings for bench/embed.sh on the same dataset: scikit-learn's
CountVectorizer (character 6-mers and 3-mers, L1-normalized like genoprot's
spectra) and h5py writing/reading the same [N, 4096] float32 matrix with the
same chunking and gzip level. Prints `REF {json}`."""
import json, sys, time, tempfile, os
import numpy as np, h5py
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

d = sys.argv[1]
ids, seqs, cur = [], [], []
for line in open(os.path.join(d, "cds.fa")):
    line = line.strip()
    if line.startswith(">"):
        ids.append(line[1:])
    else:
        seqs.append(line)

def best(f, n=2):
    b, r = float("inf"), None
    for _ in range(n):
        t = time.perf_counter(); r = f(); b = min(b, time.perf_counter() - t)
    return b, r

out = {}
for k in (6, 3):
    cv = CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=False, dtype=np.float32)
    t, X = best(lambda: normalize(cv.fit_transform(seqs), norm="l1"))
    out[f"kmer{k}-dna"] = t
t, X = best(lambda: normalize(CountVectorizer(analyzer="char", ngram_range=(6, 6), lowercase=False, dtype=np.float32).fit_transform(seqs), norm="l1"), 1)
dense = X.toarray().astype(np.float32)
# genoprot's spectrum has all 4096 columns; pad so both write the same shape.
full = np.zeros((dense.shape[0], 4096), dtype=np.float32); full[:, : dense.shape[1]] = dense
tmp = tempfile.mkdtemp()
p = os.path.join(tmp, "ref.h5")
rows = max(1, min(65536 // 4096, full.shape[0]))
def write():
    with h5py.File(p, "w") as f:
        f.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("emb", data=full, chunks=(rows, 4096), compression="gzip", compression_opts=4, maxshape=(None, 4096))
out["write"], _ = best(write)
def read():
    with h5py.File(p, "r") as f:
        return f["emb"][()]
out["read"], _ = best(read)
def subset():
    with h5py.File(p, "r") as f:
        idx = np.arange(0, full.shape[0], 7)
        return f["emb"][idx, :]
out["subset"], _ = best(subset)
print("REF " + json.dumps(out))
