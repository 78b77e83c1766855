#!/usr/bin/env bash
# Benchmark: k-mer embedding throughput and embedding-store write/read
# throughput on 20,000 genes (~30 Mbp), against scikit-learn's CountVectorizer
# and h5py on the same data in the same run. Prints both tables and the ratios.
# Usage: bash bench/embed.sh [GENES]
set -euo pipefail
cd "$(dirname "$0")/.."
genes=${1:-20000}
bash scripts/install-deps.sh >/dev/null
.venv/bin/python -c 'import sklearn' 2>/dev/null || .venv/bin/pip install -q scikit-learn
cargo build --release --locked -p genoprot -q
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
target/release/genoprot -q dataset synth --out "$work/ds" --genes "$genes" --seed 1 --min-len 300 --max-len 700
ours=$(cargo bench -q --locked -p workers --bench embed -- "$work/ds" 2>/dev/null)
echo "$ours" | grep -v '^RESULT'
ref=$(.venv/bin/python bench/embed_reference.py "$work/ds" | grep '^REF')
python3 - "$(echo "$ours" | grep '^RESULT' | sed 's/^RESULT //')" "${ref#REF }" <<'PY'
import json, sys
o, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"\n{'vs reference (same data, same run)':<34} {'genoprot s':>10} {'ref s':>8} {'speed-up':>9}")
for k, name in [("kmer6-dna", "6-mer spectrum vs CountVectorizer"), ("kmer3-dna", "3-mer spectrum vs CountVectorizer"),
                ("write", "store write vs h5py"), ("read", "store read vs h5py"), ("subset", "subset read vs h5py fancy idx")]:
    print(f"{name:<34} {o[k]:>10.3f} {r[k]:>8.3f} {r[k]/o[k]:>8.1f}x")
PY
