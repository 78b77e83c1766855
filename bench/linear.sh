#!/usr/bin/env bash
# Benchmark: genoprot's logistic-regression probe vs scikit-learn on the same
# standardized features, splits and threads: the whole c grid [0.01, 0.1, 1,
# 10] of one cell (genoprot: L-BFGS, warm-started along the grid; scikit-learn:
# LogisticRegression(C, class_weight="balanced", tol=1e-6) per value), chosen
# on validation, binary and 8-class, on N protein-like rows with 420
# collinear composition features (bench/linear_reference.py).
# Usage: bash bench/linear.sh [N]     (default 3000; needs numpy + scikit-learn in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
threads=$(nproc)
bash scripts/install-deps.sh >/dev/null
.venv/bin/python -c 'import sklearn' 2>/dev/null || .venv/bin/pip install -q scikit-learn
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
.venv/bin/python bench/linear_reference.py make "$work" "$n"
ours=$(cargo bench -q --locked -p workers --bench linear -- "$work" 2>/dev/null | grep '^RESULT')
ref=$(.venv/bin/python bench/linear_reference.py time "$work" "$threads" | grep '^REF')
printf '%s rows, 420 features, %s threads, grid C = [0.01, 0.1, 1, 10], tol 1e-6\n' "$n" "$threads"
printf '%-11s | %-28s | %-28s | %s\n' task "genoprot (s, test AUROC, C)" "scikit-learn (s, test AUROC, C)" "speed-up"
for task in binary multiclass; do
  IFS='|' read -r _ s1 a1 c1 _ <<<"$(echo "$ours" | grep "^RESULT $task|")"
  IFS='|' read -r _ s2 a2 c2 _ <<<"$(echo "$ref" | grep "^REF $task|")"
  printf '%-11s | %7.2f  %.4f  %-8s | %7.2f  %.4f  %-8s | %.2fx\n' "$task" "$s1" "$a1" "$c1" "$s2" "$a2" "$c2" "$(echo "$s2 / $s1" | bc -l)"
done
