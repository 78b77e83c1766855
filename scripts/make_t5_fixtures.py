#!/usr/bin/env python3
"""Creates tiny random-weight T5-encoder and ESM C model folders and reference
embeddings for genoprot's Rust tests (fixtures are committed; CI never runs
this). Needs torch + transformers + sentencepiece + protobuf, and the `esm`
package (EvolutionaryScale) for ESM C:
    .venv-tch/bin/pip install sentencepiece protobuf einops attrs
    .venv-tch/bin/pip install --no-deps esm    # plus the modules its import asks for
    .venv-tch/bin/python scripts/make_t5_fixtures.py

* fixtures/prott5-tiny: ProtT5-style — transformers' stock T5EncoderModel,
  ReLU feed-forward, d_kv * heads != d_model, 32 buckets up to distance 20
  (so the logarithmic buckets are used), a unigram `spiece.model` of
  `▁`-prefixed residues written with SentencePiece's own protobuf classes,
  weights in half precision as `pytorch_model.bin` (as ProtT5-XL's encoder
  ships); the reference runs the f16-rounded weights in f32.
* fixtures/prostt5-tiny: ProstT5-style — the same with `<AA2fold>` as an
  added token (`added_tokens.json`), put in front of every row.
* fixtures/ankh-tiny: Ankh-style — gated-GELU feed-forward (transformers'
  `gelu_new`), 16 buckets, tokenizer.json (saved from the T5 tokenizer).
* fixtures/ankh2-tiny: gated-SiLU feed-forward (Ankh2), tokenizer.json.
* fixtures/esmc-tiny: ESM C — the `esm` package's own ESMC model (random
  weights, LayerNorms perturbed), saved as a `.pth` state dict as
  EvolutionaryScale ships it, with the small config.json genoprot reads.

reference.json per folder: token ids (without specials), mean-pooled
embeddings over residues (no `</s>`, no prefix, no `<cls>`/`<eos>`) and,
for ESM C, the `<cls>` vector of the last layer (T5 has no CLS token), run
as one padded batch; one
sequence is longer than `window` tokens and is windowed as genoprot does.
"""
import json, os, shutil, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import perturb, spiece, windows  # noqa: E402
from transformers import T5Config, T5EncoderModel, T5Tokenizer

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "fixtures")
PROT = ["MKTAYIAKQRQ", "MSEQNNTEMTFQIQRIYTKD", "MALW",
        "MKKLLLALLAALAVSQAPKKKRKVHEAAHWGAGGVGLKDLLSEMKKLLLALLAALAVSQAPKKK", "MXACUBJ", "mkt"]
WINDOW = 16


def folder(name):
    d = os.path.join(root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def rare_as_x(s):
    return "".join("X" if c in "UZOB" else c for c in s.upper())


def reference(forward, enc, prefix, eos, pad, window, first=True):
    """forward(input_ids, attention_mask) -> last hidden state [B, L, H]; rows are
    [prefix] + ids + [eos] per window; the mean skips prefix and eos."""
    pieces = []
    for i, ids in enumerate(enc):
        for a, b in windows(len(ids), window):
            pieces.append((i, prefix + ids[a:b] + eos, b - a))
    L = max(len(p) for _, p, _ in pieces)
    input_ids = torch.tensor([p + [pad] * (L - len(p)) for _, p, _ in pieces])
    attn = torch.tensor([[1] * len(p) + [0] * (L - len(p)) for _, p, _ in pieces])
    with torch.no_grad():
        h = forward(input_ids, attn)
    res = []
    for i, ids in enumerate(enc):
        parts = [(k, n) for k, (j, _, n) in enumerate(pieces) if j == i]
        s = len(prefix)
        mean = sum(n * h[k, s:s + n].mean(0) for k, n in parts) / sum(n for _, n in parts)
        r = {"ids": ids, "mean": mean.tolist(), "windows": len(parts)}
        if first:
            r["cls"] = (sum(h[k, 0] for k, _ in parts) / len(parts)).tolist()
        res.append(r)
    return res


def write_reference(d, res, note):
    for r, s in zip(res, PROT):
        r["sequence"] = s
    json.dump({"window": WINDOW, "note": note, "sequences": res}, open(os.path.join(d, "reference.json"), "w"))
    print(f"wrote {d}")


def t5_fixture(name, proj, buckets, distance, tokenizer_json, half, prefix=None):
    d = folder(name)
    n_pieces = spiece(os.path.join(d, "spiece.model"))
    json.dump({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "extra_ids": 100,
               "tokenizer_class": "T5Tokenizer"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    # transformers converts spiece.model (SentencePiece's protobuf) itself.
    tok = T5Tokenizer.from_pretrained(d)
    assert len(tok) == n_pieces + 100, len(tok)
    if prefix:
        tok.add_special_tokens({"additional_special_tokens": [prefix]})
        assert tok.convert_tokens_to_ids(prefix) == n_pieces + 100, tok.convert_tokens_to_ids(prefix)
        json.dump({prefix: n_pieces + 100}, open(os.path.join(d, "added_tokens.json"), "w"))
    cfg = T5Config(vocab_size=n_pieces + 100 + (1 if prefix else 0), d_model=32, d_kv=12, d_ff=48,
                   num_layers=2, num_heads=4, relative_attention_num_buckets=buckets,
                   relative_attention_max_distance=distance, feed_forward_proj=proj,
                   dropout_rate=0.0, layer_norm_epsilon=1e-6, is_encoder_decoder=False, use_cache=False)
    m = T5EncoderModel(cfg).eval()
    perturb(m)
    m.config.save_pretrained(d)
    if half:
        m = m.half()
        torch.save(m.state_dict(), os.path.join(d, "pytorch_model.bin"))
        m = m.float()
    else:
        m.save_pretrained(d, safe_serialization=True)
    if tokenizer_json:
        tok.save_pretrained(d)
        os.remove(os.path.join(d, "spiece.model"))
        assert os.path.isfile(os.path.join(d, "tokenizer.json"))
    texts = [" ".join(rare_as_x(s)) for s in PROT]
    enc = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    pre = [tok.convert_tokens_to_ids(prefix)] if prefix else []
    for t, e in zip(texts, enc):
        full = tok((prefix + " " if prefix else "") + t)["input_ids"]
        assert full == pre + e + [tok.eos_token_id], (full, e)
    res = reference(lambda i, a: m(input_ids=i, attention_mask=a).last_hidden_state, enc, pre,
                    [tok.eos_token_id], tok.pad_token_id, WINDOW, first=False)
    write_reference(d, res, f"transformers T5EncoderModel ({proj}); residues space-separated, U/Z/O/B as X, "
                            f"</s> appended{', ' + prefix + ' in front' if prefix else ''}")


t5_fixture("prott5-tiny", "relu", 32, 20, tokenizer_json=False, half=True)
t5_fixture("prostt5-tiny", "relu", 32, 20, tokenizer_json=False, half=False, prefix="<AA2fold>")
t5_fixture("ankh-tiny", "gated-gelu", 16, 24, tokenizer_json=True, half=False)
t5_fixture("ankh2-tiny", "gated-silu", 16, 24, tokenizer_json=True, half=False)

# --- ESM C, from the esm package's own model code ---
from esm.models.esmc import ESMC  # noqa: E402
from esm.tokenization import EsmSequenceTokenizer  # noqa: E402

d = folder("esmc-tiny")
etok = EsmSequenceTokenizer()
model = ESMC(d_model=64, n_heads=4, n_layers=2, tokenizer=etok, use_flash_attn=False).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if "ln" in n or "norm" in n or n.endswith(".0.weight") or n.endswith(".0.bias"):
            p.add_(torch.randn_like(p) * 0.2)
torch.save(model.state_dict(), os.path.join(d, "esmc_tiny_v0.pth"))
json.dump({"model_type": "esmc", "d_model": 64, "n_heads": 4, "n_layers": 2}, open(os.path.join(d, "config.json"), "w"), indent=2)
enc = [etok(s.upper())["input_ids"][1:-1] for s in PROT]
res = reference(lambda i, a: model(sequence_tokens=i).embeddings, enc, [etok.cls_token_id], [etok.eos_token_id],
                etok.pad_token_id, WINDOW)
write_reference(d, res, "esm package ESMC (use_flash_attn=False); <cls> + residues + <eos>")
