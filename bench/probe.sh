#!/usr/bin/env bash
# Benchmark: genoprot's burn probes vs scikit-learn on the same embeddings and
# splits (2,000 synthetic genes, 400-d dipeptide spectra, 3 binary tasks x 3
# seeds): logistic-regression AUROC agreement (the c grid [0.01, 0.1, 1, 10]
# solved to convergence, vs LogisticRegression(C chosen, class_weight=
# "balanced", tol=1e-6)), MLP time at comparable AUROC.
# Usage: bash bench/probe.sh [GENES]
#   MLP_LR, MLP_BATCH, MLP_PATIENCE, MLP_MIN_DELTA  the MLP's settings on both
#                 sides (defaults: genoprot's, 1e-3, 256, 10, 1e-4)
#   FEATURES=tch  burn's LibTorch backend (CPU), built against the torch 2.9.0
#                 of .venv-tch (scripts/tch-check.sh makes it); default: flex.
set -euo pipefail
cd "$(dirname "$0")/.."
genes=${1:-2000}
features=${FEATURES:-}
# The MLP's settings, the same for genoprot and for scikit-learn.
export MLP_LR=${MLP_LR:-1.0e-3} MLP_BATCH=${MLP_BATCH:-256} MLP_PATIENCE=${MLP_PATIENCE:-10} MLP_MIN_DELTA=${MLP_MIN_DELTA:-1.0e-4}
bash scripts/install-deps.sh >/dev/null
.venv/bin/python -c 'import sklearn' 2>/dev/null || .venv/bin/pip install -q scikit-learn
if [ "$features" = tch ]; then
  export LIBTORCH_USE_PYTORCH=1 PATH="$PWD/.venv-tch/bin:$PATH"
  export LD_LIBRARY_PATH="$(.venv-tch/bin/python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
cargo build --release --locked -p genoprot -q --features "$features"
gp=$PWD/target/release/genoprot
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
$gp -q dataset synth --out data --genes "$genes" --seed 1
for kind in logreg mlp; do
  # logreg: scikit-learn's LogisticRegression problem for each c of the grid,
  # solved by L-BFGS to tol 1e-6; mlp: the MLP_* settings.
  if [ $kind = logreg ]; then probe="{kind: logreg, c: [0.01, 0.1, 1.0, 10.0], tol: 1.0e-6}"
  else probe="{kind: mlp, hidden: [256], dropout: 0.0, lr: $MLP_LR, weight_decay: 1.0e-4, batch: $MLP_BATCH, max_epochs: 100, patience: $MLP_PATIENCE, min_delta: $MLP_MIN_DELTA}"; fi
  cat > $kind.yaml <<YAML
name: bench-$kind
dataset: data
store: runs/$kind
seeds: [0, 1, 2]
tasks: [membrane, essential, enzyme]
splits: {by_group: false}
models:
  - {name: dipep, kind: kmer, modality: protein, k: 2}
probe: $probe
executor: {workers: 1}
YAML
  $gp -q run $kind.yaml >/dev/null
done
"$OLDPWD/.venv/bin/python" "$OLDPWD/bench/probe_reference.py" data runs/logreg runs/mlp dipep
