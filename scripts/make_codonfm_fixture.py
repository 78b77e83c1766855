#!/usr/bin/env python3
"""Creates a tiny random-weight NV-CodonFM Encodon with NVIDIA's own code, and reference
embeddings for genoprot's Rust tests (fixtures/codonfm-tiny is committed; CI never runs this).

The model is the authors' `EnCodon` (src/models/components/encodon.py with its layer, MHA,
codon embedding and rotary files) and the input ids come from their `Tokenizer`
(src/tokenizer) and `process_item` (src/data/preprocess/codon_sequence.py), all loaded from a
checkout of github.com/NVIDIA-Digital-Bio/CodonFM (or a fork of it) whose path is given; their
code is not copied here.

Their attention calls `xformers.ops.memory_efficient_attention`, which has no CPU kernel in any
xformers release (every operator it dispatches to is CUDA-only). The call is routed to
xformers' own reference implementation of that operator, `xformers.attn_bias_utils.
ref_attention_bmhk` (softmax(q·kᵀ/√d + bias)·v, the definition xformers tests its kernels
against), from the same installed xformers package. Nothing else of theirs is changed.

The folder is written as their inference loader reads it (`EncodonInference.configure_model`):
a `.safetensors` file holding the Lightning module's state dict (`model.` prefix) and, beside
it, `config.json` with `EncodonPL`'s hyper-parameters. θ = 100 rather than 10⁴, so every
rotated pair turns visibly within the fixture's 20 positions.

Needs torch, einops, safetensors, numpy, and the transformers their requirements.txt pins
(4.54.1, with tokenizers 0.21) and xformers (PyPI), the last two beside an existing torch env:
    /tmp/torchenv/bin/pip install --no-deps --target /tmp/codonfm-deps transformers==4.54.1 \
        tokenizers==0.21.4 xformers==0.0.33.post1
    PYTHONPATH=/tmp/codonfm-deps /tmp/torchenv/bin/python scripts/make_codonfm_fixture.py \
        --codonfm-src /tmp/src/codonfm

reference.json: per CDS, the token ids without <CLS>/<SEP>, the mean over the codon tokens of
the last layer, of layer 1 and of layer 0 (the embeddings, after `post_ln`), and the <CLS>
vector of the last layer (the authors' `extract_embeddings` pooling), from one padded batch
(padded to a multiple of 8, as their attention asserts); CDSs longer than `window` codons are
windowed as genoprot does (fixture_common.window_pieces).
"""
import argparse, json, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import hub_cache, window_pieces, window_refs  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--codonfm-src", required=True,
                help="a checkout of github.com/NVIDIA-Digital-Bio/CodonFM (the `src` package)")
args = ap.parse_args()
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
sys.path.insert(0, os.path.abspath(args.codonfm_src))

import xformers.ops  # noqa: E402
from xformers.attn_bias_utils import ref_attention_bmhk  # noqa: E402


def reference_attention(query, key, value, op=None, attn_bias=None, p=0.0):
    assert p == 0.0
    return ref_attention_bmhk(query, key, value, attn_bias).to(query.dtype)


xformers.ops.memory_efficient_attention = reference_attention

# Their pinned transformers (4.54.1, requirements.txt: their layer imports
# `apply_chunking_to_forward` from `transformers.modeling_utils`, gone in later releases)
# imports the `kernels` package whenever one is installed; a newer one cannot be imported with
# it, and no kernel is used here.
import transformers.utils.import_utils as _iu  # noqa: E402
_iu._kernels_available = False

from safetensors.torch import save_file  # noqa: E402
from src.data.preprocess.codon_sequence import process_item  # noqa: E402
from src.models.components.encodon import EnCodon  # noqa: E402
from src.models.components.encodon_config import EnCodonConfig  # noqa: E402
from src.tokenizer import Tokenizer  # noqa: E402

torch.manual_seed(0)
CDS = ["ATGAAAACCGCGTATTAA", "ATGGCGCTGTGG",
       "ATG" + "GCTAAACCCGGGTTT" * 4 + "TAA", "ATGTGA",
       "ATGGATGAAGAGCTTCTGCTTAAA",
       "ATGNNNAAAGCNTTT"]  # an N inside a codon: one <UNK> per letter, as the tokenizer's regex gives
WINDOW = 18
tok = Tokenizer()
# EncodonPL's hyper-parameters (the fields its config.json holds), as the authors' loader
# passes them on: construct_pretrained_config keeps EnCodonConfig's fields.
hparams = dict(vocab_size=69, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
               intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
               attention_probs_dropout_prob=0.0, initializer_range=0.02, layer_norm_eps=1e-12,
               pad_token_id=tok.pad_token_id, position_embedding_type="rotary", classifier_dropout=0.1,
               rotary_theta=100.0, ignore_index=-100, loss_type="regression", lora=False,
               finetune_strategy="full", use_downstream_head=False,
               max_position_embeddings=WINDOW + 2)
cfg = EnCodonConfig(**{k: v for k, v in hparams.items() if k in EnCodonConfig().to_dict()})
model = EnCodon(cfg).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if "layer_norm" in n or "post_ln" in n or n.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.2)

d = os.path.join(root, "codonfm-tiny")
os.makedirs(d, exist_ok=True)
# The Lightning module's state dict: EncodonPL holds the EnCodon as `model`.
save_file({f"model.{k}": v.contiguous() for k, v in model.state_dict().items()},
          os.path.join(d, "encodon_tiny.safetensors"))
with open(os.path.join(d, "config.json"), "w") as f:
    json.dump(hparams, f, indent=2)

# Token ids as their data pipeline makes them: process_item gives <CLS> + codons + <SEP>,
# then <PAD>, with the attention mask over the first part.
enc = []
for s in CDS:
    item = process_item(s, len(s) + 2, tok)
    row = item["input_ids"][item["attention_mask"] == 1].tolist()
    assert row[0] == tok.cls_token_id and row[-1] == tok.sep_token_id
    enc.append(row[1:-1])
pieces = window_pieces(enc, WINDOW, tok.cls_token_id, tok.sep_token_id)
L = max(len(p) for _, p in pieces)
L = (L + 7) // 8 * 8  # their MHA asserts a key length divisible by 8
ids_t = torch.tensor([p + [tok.pad_token_id] * (L - len(p)) for _, p in pieces])
mask = torch.tensor([[1] * len(p) + [0] * (L - len(p)) for _, p in pieces])
with torch.no_grad():
    out = model(input_ids=ids_t, attention_mask=mask, return_hidden_states=True,
                extract_embeddings_only=True)
    hs = [model.embeddings(ids_t)] + list(out.all_hidden_states)
refs = window_refs(CDS, enc, pieces, hs[-1], hs[1], hs[0])
with open(os.path.join(d, "reference.json"), "w") as f:
    json.dump({"window": WINDOW, "layers": 3, "dna": refs}, f)
print(f"wrote {d}")
hub_cache(root, "codonfm-tiny", d, ["config.json", "encodon_tiny.safetensors"])
