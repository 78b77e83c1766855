#!/usr/bin/env python3
"""Creates a random-weight T5 encoder (transformers' T5EncoderModel) of a
ProtT5-like small shape (6 layers, d_model 320, 8 heads of d_kv 40, d_ff 1280,
ReLU, 32 relative-position buckets up to 128) with a ProtT5-style
`spiece.model`, and times HF transformers on a FASTA of proteins (residues
then `</s>`), mean pooling, same thread count as genoprot. Needs
sentencepiece + protobuf for the spiece.model. Usage:
    t5_reference.py make MODEL_DIR FASTA N      # model folder + N random proteins
    t5_reference.py time MODEL_DIR FASTA THREADS [DEVICE]   # DEVICE: cpu (default) or cuda"""
import sys, os
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from encoder_timing import setup, time_encoder, write_proteins  # noqa: E402
from fixture_common import spiece  # noqa: E402
from transformers import T5Config, T5EncoderModel

residues = "ALGVSREDTIPKFQNYMHWCXBOUZ"
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    os.makedirs(d, exist_ok=True)
    pieces = spiece(os.path.join(d, "spiece.model"), residues)
    cfg = T5Config(vocab_size=pieces + 100, d_model=320, d_kv=40, d_ff=1280, num_layers=6, num_heads=8,
                   feed_forward_proj="relu", is_encoder_decoder=False, use_cache=False)
    T5EncoderModel(cfg).save_pretrained(d, safe_serialization=True)
    write_proteins(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
idx = {c: 3 + i for i, c in enumerate(residues)}
m = T5EncoderModel.from_pretrained(d).eval().to(dev)  # float32, like burn
time_encoder(m, seqs, lambda s: [idx.get("X" if c in "UZOB" else c, 2) for c in s] + [1], 0, dev, threads)
