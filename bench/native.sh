#!/usr/bin/env bash
# Benchmark: a native burn encoder vs HF transformers on the same random-weight
# model and the same proteins, same thread count:
#   esm   ESM-2 8M's shape (bench/esm_reference.py; bench/esm.sh)
#   bert  a stock BERT, 6 x 320, ProtBert-style vocabulary (bench/bert_reference.py; bench/bert.sh)
#   t5    a ProtT5-shaped T5 encoder, 6 x 320 (bench/t5_reference.py; bench/t5.sh)
#   glm2  gLM2, 6 x 320, the authors' modeling file (bench/glm2_reference.py; GLM2_SRC)
#   lucaone  LucaOne, 6 x 320, the lucaone package (bench/lucaone_reference.py)
#   calm, codonbert, encodon  codon models, 6 x 320, on coding sequences (the authors'
#                  code from checkouts: CALM_SRC, CODONBERT_SRC, CDSFM_SRC)
#   codonfm  NV-CodonFM's Encodon (kind: encodon), 6 x 320, NVIDIA's code (CODONFM_SRC;
#                  needs their pinned transformers and xformers, bench/codonfm_reference.py)
# Needs a Python with torch + transformers (not CI): PYTHON=/path/to/python.
# Usage: PYTHON=/tmp/torchenv/bin/python bash bench/native.sh esm|bert|t5|glm2|lucaone|calm|codonbert|encodon|codonfm [N]
#   FEATURES=tch   burn's LibTorch backend, built against PYTHON's torch (must
#                  be 2.9.0, e.g. the .venv-tch of scripts/tch-check.sh plus
#                  `pip install transformers`); default: flex.
#   DEVICE=cuda    both sides on the GPU (needs FEATURES=tch).
#   LONG=N         esm: the length of the one long protein timed after the
#                  set (default 35000, titin's; LONG= skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
family=${1:?usage: bench/native.sh esm|bert|t5|glm2|lucaone|calm|codonbert|encodon|codonfm [N]}
n=${2:-200}
threads=$(nproc)
features=${FEATURES:-}
device=${DEVICE:-cpu}
if [ "$features" = tch ]; then
  export LIBTORCH_USE_PYTORCH=1 PATH="$(dirname "$py"):$PATH"
  torch_lib=$($py -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
$py "bench/${family}_reference.py" make "$work/model" "$work/prot.fa" "$n"
# ESM: also one titin-length protein (35,000 residues, windowed), with the
# process's peak memory; LONG=N changes the length, LONG= skips it.
long=${LONG-35000}; [ "$family" = esm ] || long=${LONG:-}
# Codon models read DNA, under the kind the entry would name.
case $family in
  calm|codonbert|encodon) export GP_MODALITY=dna GP_KIND=$family ;;
  codonfm) export GP_MODALITY=dna GP_KIND=encodon ;;
esac
ours=$(GP_LONG=$long GP_DEVICE=$device cargo bench -q --locked -p workers --features "$features" --bench native -- "$work/model" "$work/prot.fa" 2>/dev/null)
echo "$ours" | grep -v '^RESULT'
ref=$($py "bench/${family}_reference.py" time "$work/model" "$work/prot.fa" "$threads" "$device")
echo "$ref" | grep -v '^REF'
secs=$(echo "$ours" | sed -n 's/^RESULT {"seconds": \([0-9.e-]*\),.*/\1/p')
echo "$ref" | grep '^REF' | while IFS='|' read -r name s; do
  printf 'burn vs transformers (%s): %.2fx\n' "${name#REF }" "$(echo "$s / $secs" | bc -l)"
done
