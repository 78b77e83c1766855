#!/usr/bin/env bash
# Benchmark: burn (kind: encodon on NVIDIA's layout) vs NVIDIA's NV-CodonFM code
# (bench/codonfm_reference.py) on the same random-weight model, coding sequences and threads;
# see bench/native.sh. Usage: PYTHON=... [CODONFM_SRC=...] bash bench/codonfm.sh [N]
exec bash "$(dirname "$0")/native.sh" codonfm "$@"
