#!/usr/bin/env bash
# Benchmark: burn vs the authors' code (bench/glm2_reference.py) on the same random-weight
# model, proteins and threads; see bench/native.sh. Usage: PYTHON=... bash bench/glm2.sh [N]
exec bash "$(dirname "$0")/native.sh" glm2 "$@"
