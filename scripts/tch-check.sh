#!/usr/bin/env bash
# Builds genoprot with the `tch` feature (burn's LibTorch backend) against the
# libtorch inside the PyTorch wheel from PyPI, and runs the ESM fixture tests,
# the probe tests, the device tests and the sweep tests on LibTorch's CPU
# device: proof that the GPU build compiles and is correct on a machine
# without a GPU.
#
#   bash scripts/tch-check.sh            # LibTorch CPU
#   bash scripts/tch-check.sh --cuda     # also on the GPU (GENOPROT_TEST_DEVICE=cuda)
#
# The PyTorch version must be the one tch 0.22 (burn-tch 0.22.1) was written
# for: torch-sys refuses any other (TORCH_VERSION in its build.rs). Measured
# from scratch (new venv, new target dir) on a 2-core machine: 16 min in all —
# venv 75 s (7 GB: the wheel pulls the CUDA 12.8 libraries), genoprot build
# 516 s, test builds and runs 377 s. Not in .ci/run (90-minute budget, 7 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
torch_version=2.9.0
venv=${GENOPROT_TCH_VENV:-$here/.venv-tch}
cuda=0
[ "${1:-}" = "--cuda" ] && cuda=1

bash scripts/ensure-toolchain.sh
bash scripts/install-deps.sh

if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
  echo "tch-check: creating $venv with torch==$torch_version (PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$torch_version" numpy
fi

# torch-sys asks this Python where libtorch is and which C++ ABI it uses.
export PATH="$venv/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
torch_lib=$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
# The workers test binaries load libtorch*.so from here at run time (genoprot
# itself has the folder in its RUNPATH, orchestrator/build.rs; doctor below runs
# without this variable to prove it).
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "tch-check: libtorch from $torch_lib"

t0=$SECONDS
cargo build -p genoprot --features tch
echo "tch-check: genoprot --features tch built in $((SECONDS - t0)) s"
env -u LD_LIBRARY_PATH "${CARGO_TARGET_DIR:-target}/debug/genoprot" doctor

t1=$SECONDS
cargo test -p workers --features tch --lib device
cargo test -p workers --features tch --test native_fixtures --test authors_fixtures -- --nocapture
cargo test -p workers --features tch --test planted_signal
# The binary end to end on LibTorch: a sweep (cells record `LibTorch(Cpu)`),
# doctor, and `device: cuda:0` refused where no GPU is usable.
cargo test -p genoprot --features tch --test cli --test sweep
if ((cuda)); then
  GENOPROT_TEST_DEVICE=cuda cargo test -p workers --features tch --test native_fixtures --test authors_fixtures -- --nocapture
fi
echo "tch-check: tests on LibTorch passed in $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
