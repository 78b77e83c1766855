#!/usr/bin/env bash
# Benchmark: burn vs HF transformers on ESM-2 8M's shape; see bench/native.sh
# (PYTHON, FEATURES=tch, DEVICE=cuda). Usage: PYTHON=... bash bench/esm.sh [N]
exec bash "$(dirname "$0")/native.sh" esm "$@"
