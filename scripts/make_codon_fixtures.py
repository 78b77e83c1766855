#!/usr/bin/env python3
"""Creates a tiny random-weight CaLM with the authors' own code, and reference
embeddings for genoprot's Rust tests (fixtures are committed; CI never runs this).

* fixtures/calm-tiny: CaLM's `ProteinBertModel` with its codon `Alphabet`, `CodonSequence`
  and `BatchConverter` (github.com/oxpig/CaLM, the `calm` package), loaded from a checkout
  whose path is given (their code is not copied here). The weights are written as the
  authors publish theirs (`calm_weights.pkl`, a pickled state dict), then converted with the
  one command docs/models.md gives (CONVERT below) into model.safetensors; config.json is
  the package's ARGS in the form genoprot reads.

Needs torch, einops, rotary-embedding-torch, biopython, requests, safetensors (PyPI):
    /tmp/torchenv/bin/pip install torch einops rotary-embedding-torch biopython requests safetensors
    git clone https://github.com/oxpig/CaLM /tmp/src/calm
    /tmp/torchenv/bin/python scripts/make_codon_fixtures.py --calm-src /tmp/src/calm

reference.json: per CDS, the token ids without `<cls>`/`<eos>`, the mean over the codon
tokens of the last layer (after `emb_layer_norm_after`), of layer 1 and of layer 0 (the
embeddings), and the `<cls>` vector of the last layer, run as one padded batch; CDSs longer
than `window` codons are windowed as genoprot does (fixture_common.windows).
"""
import argparse, json, os, pickle, subprocess, sys, tempfile
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import windows  # noqa: E402

# The conversion docs/models.md gives, run in the folder of calm_weights.pkl.
CONVERT = ("import pickle, torch; from safetensors.torch import save_file; "
           "sd = pickle.load(open('calm_weights.pkl', 'rb')); "
           "save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')")

ap = argparse.ArgumentParser()
ap.add_argument("--calm-src", required=True, help="a checkout of github.com/oxpig/CaLM")
args = ap.parse_args()
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
sys.path.insert(0, os.path.abspath(args.calm_src))
from calm.alphabet import Alphabet  # noqa: E402
from calm.model import ProteinBertModel  # noqa: E402
from calm.pretrained import ArgDict, _ARGS  # noqa: E402
from calm.sequence import CodonSequence  # noqa: E402

torch.manual_seed(0)
CDS = ["ATGAAAACCGCGTATTAA", "ATGGCGCTGTGG",
       "ATG" + "GCTAAACCCGGGTTT" * 4 + "TAA", "ATGTGA",
       "ATGGATGAAGAGCTTCTGCTTAAA"]
assert all(len(s) % 3 == 0 for s in CDS)  # the package has no token for a partial codon
WINDOW = 18
cfg = dict(_ARGS, num_layers=3, embed_dim=32, attention_heads=4, ffn_embed_dim=64, max_positions=WINDOW + 2)
alphabet = Alphabet.from_architecture("CodonModel")
model = ProteinBertModel(ArgDict(cfg), alphabet).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if "layer_norm" in n or n.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.2)

d = os.path.join(root, "calm-tiny")
os.makedirs(d, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "calm_weights.pkl"), "wb") as f:
        pickle.dump(model.state_dict(), f)
    subprocess.run([sys.executable, "-c", CONVERT], cwd=tmp, check=True)
    os.replace(os.path.join(tmp, "model.safetensors"), os.path.join(d, "model.safetensors"))
with open(os.path.join(d, "config.json"), "w") as f:
    json.dump({"model_type": "calm", "embed_dim": cfg["embed_dim"], "num_layers": cfg["num_layers"],
               "attention_heads": cfg["attention_heads"], "ffn_embed_dim": cfg["ffn_embed_dim"],
               "max_positions": cfg["max_positions"]}, f, indent=2)

# Token rows as the package makes them: CodonSequence's text, the alphabet's ids.
cls, eos, pad = alphabet.cls_idx, alphabet.eos_idx, alphabet.padding_idx
enc = [alphabet.encode(CodonSequence(s).seq)[1:-1] for s in CDS]
pieces = []
for i, ids in enumerate(enc):
    for (a, b) in windows(len(ids), WINDOW):
        pieces.append((i, [cls] + ids[a:b] + [eos]))
L = max(len(p) for _, p in pieces)
tokens = torch.tensor([p + [pad] * (L - len(p)) for _, p in pieces])
n = cfg["num_layers"]
with torch.no_grad():
    reps = model(tokens, repr_layers=[0, 1, n])["representations"]
refs = []
for i, ids in enumerate(enc):
    parts = [(k, p) for k, (j, p) in enumerate(pieces) if j == i]
    rec = {"sequence": CDS[i], "ids": ids, "windows": len(parts)}
    for name, layer in [("", n), ("_layer1", 1), ("_layer0", 0)]:
        h = reps[layer]
        means, lens = [], []
        for k, p in parts:
            m = len(p) - 2
            means.append(h[k, 1:1 + m].mean(0)); lens.append(m)
        w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
        rec[f"mean{name}"] = sum(wi * x for wi, x in zip(w, means)).tolist()
    rec["cls"] = (sum(reps[n][k, 0] for k, _ in parts) / len(parts)).tolist()
    refs.append(rec)
with open(os.path.join(d, "reference.json"), "w") as f:
    json.dump({"window": WINDOW, "layers": n, "dna": refs}, f)
print(f"wrote {d}")
