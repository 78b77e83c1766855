#!/usr/bin/env python3
"""Creates tiny random-weight ESM-family models with transformers' stock
EsmModel and reference embeddings for genoprot's Rust tests (fixtures are
committed; CI never runs this). Needs torch + transformers (PyPI):
    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers safetensors
    /tmp/torchenv/bin/python scripts/make_esm_fixtures.py

* fixtures/esm2-tiny: ESM-2-style (rotary positions, token dropout, residue alphabet)
* fixtures/nt-tiny:   Nucleotide-Transformer-v1-style (learned absolute positions, 6-mer vocabulary)
* fixtures/nt3-tiny:  Nucleotide Transformer 3-mer checkpoints' vocabulary (3-mers, then single
                      bases for what is left, as EsmTokenizer splits them) on the same architecture
Each folder: config.json, model.safetensors, vocab.txt, reference.json
(token ids, mean-pooled and CLS embeddings of the last layer, per sequence,
run as one padded batch; one sequence is longer than the model's maximum and
is windowed as genoprot does: windows of max-2 tokens, stride = window,
last window aligned to the end, window means weighted by window length).
Also fixtures/glu-ffn.json: the NT-v2 gated, bias-free feed-forward block
checked against a direct PyTorch implementation.
"""
import itertools, json, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import perturb, windows  # noqa: E402
from transformers import EsmConfig, EsmModel, EsmTokenizer

torch.manual_seed(0)
root = os.path.join(os.path.dirname(__file__), "..", "fixtures")

def embed(model, tok, seqs, max_tokens):
    """Reference: padded batch for sequences that fit; windowed for longer ones."""
    res = []
    enc = [tok(s, add_special_tokens=False)["input_ids"] for s in seqs]
    cls, eos, pad = tok.cls_token_id, tok.eos_token_id, tok.pad_token_id
    # one padded batch of all (windowed) pieces
    pieces = []
    for i, ids in enumerate(enc):
        for (a, b) in windows(len(ids), max_tokens - 2):
            pieces.append((i, [cls] + ids[a:b] + [eos]))
    L = max(len(p) for _, p in pieces)
    input_ids = torch.tensor([p + [pad] * (L - len(p)) for _, p in pieces])
    attn = (input_ids != pad).long()
    with torch.no_grad():
        h = model(input_ids=input_ids, attention_mask=attn).last_hidden_state
    for i, ids in enumerate(enc):
        parts = [(k, p) for k, (j, p) in enumerate(pieces) if j == i]
        means, clss, lens = [], [], []
        for k, p in parts:
            n = len(p) - 2
            means.append(h[k, 1:1 + n].mean(0)); clss.append(h[k, 0]); lens.append(n)
        w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
        mean = sum(wi * m for wi, m in zip(w, means))
        cls_emb = sum(clss) / len(clss)
        res.append({"sequence": seqs[i], "ids": ids, "mean": mean.tolist(), "cls": cls_emb.tolist(), "windows": len(parts)})
    return res

def save(model, tok, name, seqs, max_tokens):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    # vocab.txt is already in the folder (the tokenizer was built from it)
    ref = embed(model, tok, seqs, max_tokens)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"max_tokens": max_tokens, "sequences": ref}, f)
    # reload reproduces
    again = EsmModel.from_pretrained(d)
    assert torch.allclose(torch.tensor(embed(again, tok, seqs[:1], max_tokens)[0]["mean"]), torch.tensor(ref[0]["mean"]))
    print(f"wrote {d}")

# --- ESM-2 style ---
esm_vocab = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO.-") + ["<null_1>", "<mask>"]
os.makedirs(os.path.join(root, "esm2-tiny"), exist_ok=True)
vp = os.path.join(root, "esm2-tiny", "vocab.txt")
open(vp, "w").write("\n".join(esm_vocab) + "\n")
tok = EsmTokenizer(vp)
cfg = EsmConfig(vocab_size=len(esm_vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=24, position_embedding_type="rotary", token_dropout=True, emb_layer_norm_before=False,
                layer_norm_eps=1e-5, mask_token_id=esm_vocab.index("<mask>"), pad_token_id=1, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0)
m = EsmModel(cfg, add_pooling_layer=False).eval(); perturb(m)
prot = ["MKTAYIAKQRQ", "MSEQNNTEMTFQIQRIYTKD", "MALW", "MKKLLLALLAALAVSQAPKKKRKVHEAAHWGAGGVGLKDLLSE", "MXAC"]
save(m, tok, "esm2-tiny", prot, 24 - 2)  # positions start at pad_token_id + 1

# --- Nucleotide-Transformer-v1 style: 6-mers, absolute positions ---
kmers = ["".join(p) for p in itertools.product("ATCG", repeat=6)]
nt_vocab = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + kmers + ["A", "T", "C", "G", "N"]
os.makedirs(os.path.join(root, "nt-tiny"), exist_ok=True)
vp = os.path.join(root, "nt-tiny", "vocab.txt")
open(vp, "w").write("\n".join(nt_vocab) + "\n")
tok = EsmTokenizer(vp, unk_token="<unk>", cls_token="<cls>", pad_token="<pad>", mask_token="<mask>", eos_token="<eos>")
cfg = EsmConfig(vocab_size=len(nt_vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                max_position_embeddings=20, position_embedding_type="absolute", token_dropout=False, emb_layer_norm_before=False,
                layer_norm_eps=1e-12, mask_token_id=2, pad_token_id=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
m = EsmModel(cfg, add_pooling_layer=False).eval(); perturb(m)
dna = ["ATGAAGACAGCTTACATCGCTAAGCAGCGTCAGTAA", "ATGNNAGCCTAG", "ATGGCTCTGTGGATGCGTCTGCTG", "ACGTA",
       "ATG" + "GCTAAGCAGCGTCAG" * 8 + "TAA"]
save(m, tok, "nt-tiny", dna, 20 - 2)

# --- Nucleotide Transformer 3-mer vocabulary ---
kmers3 = ["".join(p) for p in itertools.product("ATCG", repeat=3)]
nt3_vocab = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"] + kmers3 + ["A", "T", "C", "G", "N"]
os.makedirs(os.path.join(root, "nt3-tiny"), exist_ok=True)
vp = os.path.join(root, "nt3-tiny", "vocab.txt")
open(vp, "w").write("\n".join(nt3_vocab) + "\n")
tok = EsmTokenizer(vp, unk_token="<unk>", cls_token="<cls>", pad_token="<pad>", mask_token="<mask>", eos_token="<eos>")
cfg = EsmConfig(vocab_size=len(nt3_vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=24,
                max_position_embeddings=24, position_embedding_type="absolute", token_dropout=False, emb_layer_norm_before=False,
                layer_norm_eps=1e-12, mask_token_id=2, pad_token_id=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
m = EsmModel(cfg, add_pooling_layer=False).eval(); perturb(m)
save(m, tok, "nt3-tiny", dna + ["ATGAANCGT", "AC"], 24 - 2)

# --- NT-v2 gated, bias-free feed-forward (SwiGLU): checked against a direct implementation ---
h, inter = 8, 12
x = torch.randn(3, 5, h)
w_in = torch.randn(2 * inter, h) * 0.3   # PyTorch layout [out, in]
w_out = torch.randn(h, inter) * 0.3
y = torch.nn.functional.linear(x, w_in)
a, b = y.chunk(2, dim=-1)
out = torch.nn.functional.linear(torch.nn.functional.silu(a) * b, w_out)
json.dump({"x": x.tolist(), "w_in": w_in.tolist(), "w_out": w_out.tolist(), "out": out.tolist()}, open(os.path.join(root, "glu-ffn.json"), "w"))
print("wrote glu-ffn.json")
