#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs what the
# tests need, starts the local single-node Slurm, builds Flux once (tests start their own
# instances), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh
bash scripts/install-deps.sh
bash scripts/slurm-up.sh
bash scripts/flux-up.sh    # flux-core from ../shared/vendor into /opt/flux (tests/flux_sweep.rs)
# OpenMPI refuses to run as root unless told; sbatch's --export=ALL carries these into jobs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo test --workspace --locked "$@"
