#!/usr/bin/env bash
# `kind: hf` against transformers itself: tiny random BERT (windowed), T5
# encoder and causal LM, embedded by genoprot's adapter and compared with a
# direct transformers call per sequence (max |diff| <= 1e-5). Not in CI: it
# needs torch (the same venv as scripts/tch-check.sh, plus transformers, h5py
# and tokenizers). First run ~2 min (venv), then ~15 s after the build.
#   bash scripts/hf-check.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv=${GENOPROT_TCH_VENV:-$here/.venv-tch}

bash scripts/ensure-toolchain.sh
bash scripts/install-deps.sh
if ! "$venv/bin/python" -c "import torch, transformers, h5py, tokenizers" 2>/dev/null; then
  echo "hf-check: installing torch, transformers, h5py, tokenizers into $venv (PyPI)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==2.9.0" numpy transformers h5py tokenizers
fi
cargo build --locked -p genoprot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/hf_check.py "$here/target/debug/genoprot" "$work"
