#!/usr/bin/env bash
# Benchmark: burn vs the authors' code (bench/encodon_reference.py) on the same random-weight
# model, coding sequences and threads; see bench/native.sh. Usage: PYTHON=... bash bench/encodon.sh [N]
exec bash "$(dirname "$0")/native.sh" encodon "$@"
