#!/usr/bin/env bash
# Benchmark: burn vs the authors' code (bench/codonbert_reference.py) on the same random-weight
# model, coding sequences and threads; see bench/native.sh. Usage: PYTHON=... bash bench/codonbert.sh [N]
exec bash "$(dirname "$0")/native.sh" codonbert "$@"
