#!/usr/bin/env bash
# Benchmark: burn vs HF transformers on a ProtT5-shaped T5 encoder (6 x 320, d_kv 40, ReLU, spiece.model); see
# bench/native.sh (PYTHON, FEATURES=tch, DEVICE=cuda). Usage: PYTHON=... bash bench/t5.sh [N]
exec bash "$(dirname "$0")/native.sh" t5 "$@"
