#!/usr/bin/env python3
"""Creates a random-weight gLM2 (6 layers, 320 wide, 5 heads of 64 as in gLM2_650M, SwiGLU)
with the authors' modeling file and times it on a FASTA of proteins (`<+>` + residues, mean
pooling), same thread count as genoprot. The authors' code is loaded from a checkout of
github.com/TattaBio/gLM2 (GLM2_SRC, default /tmp/src/glm2); needs torch, transformers < 5, einops.
    glm2_reference.py make MODEL_DIR FASTA N
    glm2_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("GLM2_SRC", "/tmp/src/glm2"))
from encoder_timing import setup, time_encoder, write_proteins  # noqa: E402
from model.configuration_glm2 import gLM2Config  # noqa: E402
from model.modeling_glm2 import gLM2Model  # noqa: E402

VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K",
         "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", "a", "t", "c", "g", "<+>",
         "<->", "<mask>", "<sep>"]
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    m = gLM2Model(gLM2Config(dim=320, depth=6, heads=5, vocab_size=37, swiglu_multiple_of=64))
    m.save_pretrained(d, safe_serialization=True)
    write_proteins(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
idx = {t: i for i, t in enumerate(VOCAB)}
m = gLM2Model.from_pretrained(d).eval().to(dev)
time_encoder(m, seqs, lambda s: [idx["<+>"]] + [idx.get(c, 3) for c in s], 1, dev, threads)
