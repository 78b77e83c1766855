#!/usr/bin/env bash
# The demo, end to end, on a fresh Debian 12 machine (as root): installs what the
# build needs, builds genoprot, and runs the demo locally (no Slurm needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh
bash scripts/install-deps.sh
cargo build --locked -p genoprot
gp=target/debug/genoprot
$gp doctor
$gp dataset synth --out data/demo --genes 400 --seed 7
$gp dataset validate data/demo
