#!/usr/bin/env bash
# The demo, end to end, on a fresh Debian 12 machine (as root): installs what the
# build needs, builds genoprot, makes the planted-signal dataset, and runs the
# demo sweep locally (no Slurm needed): embed, probe, aggregate, report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh
bash scripts/install-deps.sh
cargo build --locked -p genoprot
gp=target/debug/genoprot
$gp doctor
$gp dataset synth --out data/demo --genes 1200 --seed 7
$gp dataset validate data/demo
$gp plan configs/demo.yaml
$gp run configs/demo.yaml
$gp plan configs/demo.yaml
echo
echo "demo done: runs/demo/report/summary.md (tables), runs/demo/report/*.svg (plots), runs/demo/results.h5"
