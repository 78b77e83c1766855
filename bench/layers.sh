#!/usr/bin/env bash
# Benchmark: `layers:` — several layers from one forward pass against one
# layer, on ESM-2 8M's shape (6 layers) and the same proteins (burn, this
# build's backend, all cores). Prints each run and the ratio; the target is
# within 10% (pooling more layers is the only extra work).
# Needs a Python with torch + transformers to make the model (not CI).
# Usage: PYTHON=/tmp/torchenv/bin/python bash bench/layers.sh [N] [LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
n=${1:-400}
layers=${2:-2,4,6}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
$py bench/esm_reference.py make "$work/model" "$work/prot.fa" "$n"
run() { GP_PASS=$1 cargo bench -q --locked -p workers --bench native -- "$work/model" "$work/prot.fa" 2>/dev/null; }
one=$(run "")
many=$(run "$layers")
echo "one layer (the last):   $(echo "$one" | grep -v '^RESULT')"
echo "layers $layers, one pass: $(echo "$many" | grep -v '^RESULT')"
s1=$(echo "$one" | sed -n 's/^RESULT {"seconds": \([0-9.e-]*\),.*/\1/p')
s3=$(echo "$many" | sed -n 's/^RESULT {"seconds": \([0-9.e-]*\),.*/\1/p')
printf 'time with layers %s / time with one layer: %.3f\n' "$layers" "$(echo "$s3 / $s1" | bc -l)"
