#!/usr/bin/env python3
"""Creates a random-weight stock BERT (transformers' BertModel) of a
ProtBert-like small shape (6 layers, 320 hidden, 8 heads, 1280 intermediate,
learned positions to 1024, residue vocab.txt) and times HF transformers on a
FASTA of proteins, mean pooling, same thread count as genoprot. Usage:
    bert_reference.py make MODEL_DIR FASTA N      # model folder + N random proteins
    bert_reference.py time MODEL_DIR FASTA THREADS [DEVICE]   # DEVICE: cpu (default) or cuda"""
import sys, os
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_timing import setup, time_encoder, write_proteins  # noqa: E402
from transformers import BertConfig, BertModel

vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("LAGVESIKRDTPNQFYMHCWXUBZO")
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=320, num_hidden_layers=6, num_attention_heads=8,
                     intermediate_size=1280, max_position_embeddings=1024, layer_norm_eps=1e-12, pad_token_id=0)
    m = BertModel(cfg, add_pooling_layer=False)
    os.makedirs(d, exist_ok=True)
    m.save_pretrained(d, safe_serialization=True)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    write_proteins(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
idx = {t: i for i, t in enumerate(vocab)}
m = BertModel.from_pretrained(d, add_pooling_layer=False).eval().to(dev)  # float32, like burn
time_encoder(m, seqs, lambda s: [2] + [idx.get(c, 1) for c in s] + [3], 0, dev, threads)
