#!/usr/bin/env python3
"""Creates tiny random-weight multimodal models with their authors' own code, and
reference embeddings for genoprot's Rust tests (fixtures are committed; CI never
runs this).

* fixtures/glm2-tiny:    gLM2 (TattaBio), `gLM2ForMaskedLM` from the authors' repository's
                         model/modeling_glm2.py, loaded from a checkout whose path is given
                         (github.com/TattaBio/gLM2; their code is not copied here).
* fixtures/lucaone-tiny: LucaOne, `LucaGPLMModel` and `LucaGPLMTokenizer` from the authors'
                         Hugging Face port, the PyPI package `lucaone` (1.1.1).
* fixtures/hf-cache/hub/models--genoprot-test--{glm2,lucaone}-tiny: both as the hub caches them.

Needs torch, transformers, einops and lucaone (PyPI):
    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch transformers safetensors einops
    /tmp/torchenv/bin/pip install --no-deps lucaone
    git clone https://github.com/TattaBio/gLM2 /tmp/src/glm2
    /tmp/torchenv/bin/python scripts/make_multimodal_fixtures.py --glm2-src /tmp/src/glm2

Each folder: config.json, model.safetensors (saved by save_pretrained, as published),
reference.json: for each input (`protein` and `dna`), per sequence, the token ids without
the row's specials, the mean over the sequence tokens and (LucaOne) the CLS vector of the
last layer, of layer 1, and of layer 0 (the embeddings), run as one padded batch; sequences
longer than `window` tokens are windowed as genoprot does (windows of `window` tokens, stride
= window, the last aligned to the end; window means weighted by window length).
"""
import argparse, json, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import hub_cache, windows  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--glm2-src", required=True, help="a checkout of github.com/TattaBio/gLM2")
args = ap.parse_args()
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
torch.manual_seed(0)

PROTEINS = ["MKTAYIAKQRQ", "MSEQNNTEMTFQIQRIYTKD", "MALW",
            "MKKLLLALLAALAVSQAPKKKRKVHEAAHWGAGGVGLKDLLSE", "MXAC"]
CDS = ["ATGAAAACCGCGTATTAA", "ATGGCGCTGTGG", "ATGNNNAAACCCGGGTTTACGTACGTACGTAGCTAGCTAGGCATGCATGA",
       "atgcgtacgttagc", "ATGUUUCCC"]


def perturb_norms(model):
    """Norm weights and biases moved off their defaults, so mishandling them shows."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n or n.endswith("bias") or "embed_type" in n:
                p.add_(torch.randn_like(p) * 0.2)


def reference(run, encode, cls, eos, pad, seqs, window, layers):
    """Pooled vectors of each layer in `layers` (None = last) for `seqs`, one padded batch."""
    enc = [encode(s) for s in seqs]
    pieces = []
    for i, ids in enumerate(enc):
        for (a, b) in windows(len(ids), window):
            pieces.append((i, cls + ids[a:b] + eos))
    L = max(len(p) for _, p in pieces)
    input_ids = torch.tensor([p + [pad] * (L - len(p)) for _, p in pieces])
    attn = (input_ids != pad).long()
    with torch.no_grad():
        states = run(input_ids, attn)
    out = []
    for i, ids in enumerate(enc):
        parts = [(k, p) for k, (j, p) in enumerate(pieces) if j == i]
        rec = {"sequence": seqs[i], "ids": ids, "windows": len(parts)}
        for name, layer in layers.items():
            h = states[layer]
            means, clss, lens = [], [], []
            for k, p in parts:
                n = len(p) - len(cls) - len(eos)
                means.append(h[k, len(cls):len(cls) + n].mean(0)); clss.append(h[k, 0]); lens.append(n)
            w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
            rec[f"mean{name}"] = sum(wi * m for wi, m in zip(w, means)).tolist()
            if cls and name == "":
                rec["cls"] = (sum(clss) / len(clss)).tolist()
        out.append(rec)
    return out


def write(d, refs):
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(refs, f)
    print(f"wrote {d}")


# --- gLM2: the authors' modeling file, from their checkout ---
sys.path.insert(0, os.path.abspath(args.glm2_src))
from model.configuration_glm2 import gLM2Config  # noqa: E402
from model.modeling_glm2 import gLM2ForMaskedLM  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from tokenizers.models import BPE  # noqa: E402

# The hub's glm_tokenizer.py (tattabio/gLM2_650M): a BPE without merges over this vocabulary.
GLM2_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P",
              "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", "a", "t", "c", "g",
              "<+>", "<->", "<mask>", "<sep>"]
glm_tok = Tokenizer(BPE({t: i for i, t in enumerate(GLM2_VOCAB)}, merges=[], unk_token="<unk>"))
glm_tok.add_special_tokens(["<cls>", "<pad>", "<mask>", "<eos>", "<sep>", "<+>", "<->"])
cfg = gLM2Config(dim=32, depth=3, heads=4, vocab_size=len(GLM2_VOCAB), swiglu_multiple_of=16, norm_eps=1e-5)
m = gLM2ForMaskedLM(cfg).eval(); perturb_norms(m)
d = os.path.join(root, "glm2-tiny"); os.makedirs(d, exist_ok=True)
m.save_pretrained(d, safe_serialization=True)


def glm2_run(ids, attn):
    out = m.glm2(ids, attention_mask=attn, output_hidden_states=True)
    # hidden_states: each block's output (no embeddings entry); last = last block (no final norm).
    hs = out.hidden_states
    return {None: out.last_hidden_state, 1: hs[0], 0: m.glm2.tok_embeddings(ids)}


strand = [GLM2_VOCAB.index("<+>")]
glm2_refs = {"window": 30, "layers": 3}
for modality, seqs, case in [("protein", PROTEINS, str.upper), ("dna", CDS, str.lower)]:
    glm2_refs[modality] = reference(glm2_run, lambda s: glm_tok.encode(case(s)).ids, strand, [], 1,
                                    seqs, 30, {"": None, "_layer1": 1, "_layer0": 0})
write(d, glm2_refs)
hub_cache(root, "glm2-tiny", d, ["config.json", "model.safetensors"])

# --- LucaOne: the authors' Hugging Face port (PyPI `lucaone`) ---
import lucaone  # noqa: E402
from lucaone import LucaGPLMConfig, LucaGPLMModel, LucaGPLMTokenizer  # noqa: E402

ltok = LucaGPLMTokenizer()
lcfg = LucaGPLMConfig(vocab_size=39, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                      ffn_dim=128, max_position_embeddings=24, no_position_embeddings=True,
                      no_token_type_embeddings=False, use_embed_layer_norm=False, use_last_layer_norm=True)
lm = LucaGPLMModel(lcfg).eval(); perturb_norms(lm)
d = os.path.join(root, "lucaone-tiny"); os.makedirs(d, exist_ok=True)
lm.save_pretrained(d, safe_serialization=True)
luca_refs = {"window": 22, "layers": 3, "lucaone": lucaone.__version__ if hasattr(lucaone, "__version__") else "1.1.1"}
for modality, seq_type, seqs in [("protein", "prot", PROTEINS), ("dna", "gene", CDS)]:
    type_id = 0 if seq_type == "gene" else 1

    def luca_run(ids, attn, type_id=type_id):
        types = torch.full_like(ids, type_id)
        out = lm(input_ids=ids, attention_mask=attn, token_type_ids=types, output_hidden_states=True)
        hs = out.hidden_states  # embeddings, then each block's input; the last is normed
        return {None: out.last_hidden_state, 1: hs[1], 0: hs[0]}

    luca_refs[modality] = reference(
        luca_run,
        lambda s, t=seq_type: ltok(s, seq_type=t, add_special_tokens=False)["input_ids"],
        [ltok.cls_idx], [ltok.eos_idx], ltok.padding_idx, seqs, 22,
        {"": None, "_layer1": 1, "_layer0": 0})
    # the tokenizer's own row (with specials) and token types, as the port gives them
    row = ltok(seqs[0], seq_type=seq_type)
    assert row["input_ids"][0] == ltok.cls_idx and row["input_ids"][-1] == ltok.eos_idx
    assert set(row["token_type_ids"]) == {type_id}
write(d, luca_refs)
hub_cache(root, "lucaone-tiny", d, ["config.json", "model.safetensors"])
