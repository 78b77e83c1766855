#!/usr/bin/env bash
# Benchmark: burn vs the authors' code (bench/lucaone_reference.py) on the same random-weight
# model, proteins and threads; see bench/native.sh. Usage: PYTHON=... bash bench/lucaone.sh [N]
exec bash "$(dirname "$0")/native.sh" lucaone "$@"
