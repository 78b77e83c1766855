#!/usr/bin/env bash
# Benchmark: 1 rank vs 2 ranks (mpirun) for embedding (20,000 genes, 6-mer DNA
# spectra) and for a probe bundle (60 cells), with the load balance.
# Usage: bash bench/mpi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >/dev/null
cargo build --release --locked -p genoprot -q
gp=$PWD/target/release/genoprot
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
$gp -q dataset synth --out data --genes 20000 --seed 1 --min-len 300 --max-len 700
for s in r1 r2; do
  printf 'name: %s\ndataset: data\nstore: runs/%s\nseeds: [0, 1, 2, 3, 4]\ntasks: [membrane, essential, expression, fold_class]\nmodels:\n  - {name: k6, kind: kmer, modality: dna, k: 6}\n  - {name: dipep, kind: kmer, modality: protein, k: 2}\n  - {name: aac, kind: kmer, modality: protein, k: 1}\nprobe: {hidden: [64], max_epochs: 30}\nexecutor: {workers: 1}\n' $s $s > $s.yaml
done
t() { local t0=$(date +%s.%N); "$@" > out.txt 2>&1; echo "$(date +%s.%N) - $t0" | bc; }
e1=$(t $gp -q worker embed --config r1.yaml --model k6)
e2=$(t mpirun --oversubscribe -np 2 $gp worker embed --config r2.yaml --model k6)
bal=$(grep -o 'tokens_per_rank=\[[0-9, ]*\]' out.txt || true)
for m in dipep aac; do $gp -q worker embed --config r1.yaml --model $m; $gp -q worker embed --config r2.yaml --model $m; done
p1=$(t $gp -q worker probe --config r1.yaml --stage probe --bundle 0 --bundle-size 60)
p2=$(t mpirun --oversubscribe -np 2 $gp -q worker probe --config r2.yaml --stage probe --bundle 0 --bundle-size 60)
ranks=$(grep -o 'rank [0-9]: [0-9]* cells run' out.txt | tr '\n' ' ')
printf '\n%-34s %8s %8s %8s  %s\n' "work (2 cores)" "1 rank" "2 ranks" "speedup" "balance"
printf '%-34s %8.2f %8.2f %7.2fx  %s\n' "embed k6 (20,000 genes, 29.9 Mbp)" "$e1" "$e2" "$(echo "$e1/$e2" | bc -l)" "$bal"
printf '%-34s %8.2f %8.2f %7.2fx  %s\n' "probe bundle (60 cells)" "$p1" "$p2" "$(echo "$p1/$p2" | bc -l)" "$ranks"
