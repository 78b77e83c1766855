#!/usr/bin/env bash
# Benchmark: build and validate a human-proteome-scale dataset (20,000 genes,
# ~30 Mbp CDS). Prints a table of wall time and peak memory per step.
# Usage: bash bench/dataset.sh [GENES]   (release build; not part of the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
genes=${1:-20000}
cargo build --release --locked -p genoprot -q
gp=target/release/genoprot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { python3 bench/run_step.py "$@"; }

read -r t_synth m_synth < <(step $gp -q dataset synth --out "$work/src" --genes "$genes" --seed 1 --min-len 300 --max-len 700)
src="$work/src"
mbp=$(python3 -c "import json;print(round(json.load(open('$src/manifest.json'))['counts']['cds_bp']/1e6,1))")
read -r t_build m_build < <(step $gp -q dataset build --cds "$src/cds.fa" --proteins "$src/protein.fa" \
  --labels "$src/labels.tsv" --pairs "$src/pairs.tsv" --tasks "$src/tasks.yaml" --out "$work/built")
read -r t_val m_val < <(step $gp -q dataset validate "$work/built")
gzip -k -1 "$src/cds.fa" "$src/protein.fa"
read -r t_gz m_gz < <(step $gp -q dataset build --cds "$src/cds.fa.gz" --proteins "$src/protein.fa.gz" \
  --labels "$src/labels.tsv" --pairs "$src/pairs.tsv" --tasks "$src/tasks.yaml" --out "$work/built-gz")

printf '\n%-28s %8s %10s %12s\n' "step ($genes genes, $mbp Mbp)" "wall s" "peak MiB" "Mbp/s"
for row in "synth:$t_synth:$m_synth" "build (plain FASTA):$t_build:$m_build" "build (gzip FASTA):$t_gz:$m_gz" "validate:$t_val:$m_val"; do
  IFS=: read -r name t m <<<"$row"
  printf '%-28s %8s %10s %12.1f\n' "$name" "$t" "$m" "$(python3 -c "print($mbp/max($t,1e-9))")"
done
