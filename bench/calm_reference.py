#!/usr/bin/env python3
"""Creates a random-weight CaLM (6 layers, 320 wide, 5 heads of 64 as in CaLM's 768 / 12) with
the authors' `calm` package, loaded from a checkout of github.com/oxpig/CaLM (CALM_SRC, default
/tmp/src/calm), and times it on a FASTA of coding sequences (`<cls>` codons `<eos>`, mean
pooling), same thread count as genoprot. genoprot reads the weights converted as docs/models.md
says. Needs torch, einops, rotary-embedding-torch, biopython, requests, safetensors.
    calm_reference.py make MODEL_DIR FASTA N
    calm_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import json, os, pickle, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("CALM_SRC", "/tmp/src/calm"))
from encoder_timing import setup, time_encoder, write_cds  # noqa: E402
from calm.alphabet import Alphabet  # noqa: E402
from calm.model import ProteinBertModel  # noqa: E402
from calm.pretrained import ArgDict, _ARGS  # noqa: E402
from calm.sequence import CodonSequence  # noqa: E402

ARGS = dict(_ARGS, num_layers=6, embed_dim=320, attention_heads=5, ffn_embed_dim=1280)
alphabet = Alphabet.from_architecture("CodonModel")
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    m = ProteinBertModel(ArgDict(ARGS), alphabet)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "calm_weights.pkl"), "wb") as f:
        pickle.dump(m.state_dict(), f)
    # The conversion docs/models.md gives, run in the weights' folder.
    import subprocess
    subprocess.run([sys.executable, "-c", "import pickle, torch; from safetensors.torch import save_file; "
                    "sd = pickle.load(open('calm_weights.pkl', 'rb')); "
                    "save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')"], cwd=d, check=True)
    json.dump({"model_type": "calm", "embed_dim": 320, "num_layers": 6, "attention_heads": 5,
               "ffn_embed_dim": 1280}, open(os.path.join(d, "config.json"), "w"))
    write_cds(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
base = ProteinBertModel(ArgDict(ARGS), alphabet)
base.load_state_dict(pickle.load(open(os.path.join(d, "calm_weights.pkl"), "rb")))
base = base.eval().to(dev)


class LastLayer(torch.nn.Module):
    """The package's forward (it takes tokens only; padding is its padding index)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        out = self.m(input_ids, repr_layers=[6])["representations"][6]
        return type("Out", (), {"last_hidden_state": out})


time_encoder(LastLayer(base), seqs, lambda s: alphabet.encode(CodonSequence(s).seq), alphabet.padding_idx,
             dev, threads)
