#!/usr/bin/env bash
# Benchmark: the probe stage at paper scale. A synthetic dataset of GENES
# genes (default 20,000), four weight-free baselines (aac, dipeptide, kmer3,
# RSCU), a 1,280-d random projection standing in for ESM-2 650M's width
# (WIDE=0 leaves it out), a concat + stacking ensemble, every task, one seed,
# the logistic probe with c [0.01, 0.1, 1, 10]. The sweep runs three times
# from the same embeddings:
#   one       workers: 1 (one cell at a time, on every core)
#   two       workers: 2 (two cells at a time, each on its share of the cores;
#             large cells alone on every core: cost::Shape::threads)
#   solo      workers: 1 with RAYON_NUM_THREADS=cores/2 (each cell alone with
#             the threads it gets in `two`: its solo time)
# and prints wall time, cells/s, per-stage seconds and peak RSS of each, the
# throughput ratios, each cell's time in `two` over its solo time, and
# genoprot's probe time vs scikit-learn's on the same cells (the same
# training/validation rows, features and c grid; bench/scale_reference.py).
# Usage: bash bench/scale.sh     GENES=2000 for a quick look; WIDE=0 without
#   the 1,280-d model (at 20,000 genes its pair cells, 80,000 pairs x 3,840
#   columns, take minutes each: ~1 h in all on 2 cores); KEEP=1 keeps the stores
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
genes=${GENES:-20000}
wide=${WIDE:-1}
cores=$(nproc)
bash scripts/install-deps.sh >/dev/null
.venv/bin/python -c 'import sklearn' 2>/dev/null || .venv/bin/pip install -q scikit-learn
cargo build --release --locked -p genoprot -q
gp=$root/target/release/genoprot
py=$root/.venv/bin/python
work=$(mktemp -d)
# KEEP=1 keeps the stores (for bench/scale_reference.py again by hand).
if [ "${KEEP:-0}" = 1 ]; then echo "scale: stores kept in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
cd "$work"
$gp -q dataset synth --out data --genes "$genes" --seed 1
# The 1,280-d stand-in: dipeptide counts through a fixed random projection
# (a `command` model, as a site's own script would be).
cat > proj.py <<'PY'
import sys, h5py, numpy as np
inp, out = sys.argv[1], sys.argv[2]
AA = "ACDEFGHIKLMNPQRSTVWY"
ids, seqs, cur = [], [], []
for line in open(inp):
    if line.startswith(">"):
        if ids: seqs.append("".join(cur)); cur = []
        ids.append(line[1:].split()[0])
    else:
        cur.append(line.strip())
if ids: seqs.append("".join(cur))
idx = {a: i for i, a in enumerate(AA)}
x = np.zeros((len(ids), 400), dtype=np.float32)
for r, s in enumerate(seqs):
    v = [idx[c] for c in s if c in idx]
    if len(v) > 1:
        x[r] = np.bincount(np.array(v[:-1]) * 20 + np.array(v[1:]), minlength=400) / (len(v) - 1)
w = np.random.default_rng(0).normal(size=(400, 1280)).astype(np.float32)
with h5py.File(out, "w") as f:
    f.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
    f.create_dataset("emb", data=np.tanh(x @ w * 4.0))
PY
config() { # NAME WORKERS
  cat <<YAML
name: $1
dataset: data
store: runs/$1
seeds: [0]
tasks: all
models:
  - {name: aac, kind: kmer, modality: protein, k: 1}
  - {name: dipeptide, kind: kmer, modality: protein, k: 2}
  - {name: kmer3, kind: kmer, modality: dna, k: 3}
  - {name: rscu, kind: codon, rscu: true}
YAML
  [ "$wide" = 1 ] && echo "  - {name: proj1280, kind: command, modality: protein, dim: 1280, command: \"$py $work/proj.py {fasta} {out}\"}"
  cat <<YAML
ensembles:
  - {name: rscu+dipeptide, members: [rscu, dipeptide], fusion: [concat, stacking]}
probe: {kind: logreg, c: [0.01, 0.1, 1.0, 10.0]}
executor: {workers: $2}
YAML
}
# run NAME WORKERS [THREADS]: the sweep with the embeddings of `one` copied
# in (the probe stage is what is measured); prints "wall peak_rss_mb".
run() {
  config "$1" "$2" > "$1.yaml"
  if [ "$1" != one ]; then mkdir -p "runs/$1"; cp -r runs/one/embeddings "runs/$1/"; fi
  RAYON_NUM_THREADS=${3:-$cores} "$py" - "$gp" "$1.yaml" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run([sys.argv[1], "-q", "run", sys.argv[2]], check=True, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t
print(f"{wall:.1f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
}
echo "scale: $genes genes, $cores cores; running one, two, solo (a few minutes each)" >&2
read -r w1 rss1 < <(run one 1)
read -r w2 rss2 < <(run two 2)
read -r ws rsss < <(run solo 1 $(( cores / 2 > 0 ? cores / 2 : 1 )))
"$py" "$root/bench/scale_reference.py" "$work" "$cores" one two solo "$w1 $rss1" "$w2 $rss2" "$ws $rsss"
