#!/usr/bin/env bash
# Benchmark: burn vs HF transformers on a stock BERT (6 x 320, ProtBert-style vocabulary); see bench/native.sh
# (PYTHON, FEATURES=tch, DEVICE=cuda). Usage: PYTHON=... bash bench/bert.sh [N]
exec bash "$(dirname "$0")/native.sh" bert "$@"
