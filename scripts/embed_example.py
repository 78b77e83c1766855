#!/usr/bin/env python3
"""Example program for genoprot's `command` embedder contract (docs/embedders.md).

genoprot runs, e.g.:
    python scripts/embed_example.py --in {fasta} --out {out} --device {device} --batch-size {batch_size}

It must read the FASTA (header = gene id), write an HDF5 file with `ids`
(strings) and `emb` (float32/float64 [N, D], any row order), exit 0 on success
and non-zero (with a message on stderr) on failure. A real site script would
load a Hugging Face model here (e.g. DNABERT-2) and run it on `--device`; this
one computes hashed 3-mer counts so it needs only numpy and h5py.
"""
import argparse
import sys

import h5py
import numpy as np


def read_fasta(path):
    ids, seqs, cur = [], [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if ids:
                    seqs.append("".join(cur))
                ids.append(line[1:].split()[0])
                cur = []
            elif line:
                cur.append(line)
    if ids:
        seqs.append("".join(cur))
    return ids, seqs


def embed(seq, dim):
    v = np.zeros(dim, dtype=np.float64)
    for i in range(len(seq) - 2):
        h = 0
        for c in seq[i : i + 3]:
            h = (h * 131 + ord(c)) % 1_000_003
        v[h % dim] += 1.0
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--in", dest="inp", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--dim", type=int, default=32)
    a = p.parse_args()
    if a.device not in ("cpu",) and not a.device.startswith("cuda"):
        print(f"unknown device {a.device!r}", file=sys.stderr)
        return 2
    ids, seqs = read_fasta(a.inp)
    print(f"embedding {len(ids)} sequences on {a.device}", file=sys.stderr)
    emb = np.stack([embed(s, a.dim) for s in seqs]) if ids else np.zeros((0, a.dim))
    # Reverse the row order: genoprot must not depend on it.
    with h5py.File(a.out, "w") as f:
        f.create_dataset("ids", data=np.array(ids[::-1], dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("emb", data=emb[::-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
