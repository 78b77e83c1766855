#!/usr/bin/env python3
"""Creates a random-weight model of ESM-2 8M's shape (6 layers, 320 hidden,
20 heads, 1280 intermediate, rotary) and times HF transformers on a FASTA of
proteins, mean pooling, same thread count as genoprot. Usage:
    esm_reference.py make MODEL_DIR FASTA N      # model folder + N random proteins
    esm_reference.py time MODEL_DIR FASTA THREADS [DEVICE]   # DEVICE: cpu (default) or cuda"""
import sys, os
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_timing import setup, time_encoder, write_proteins  # noqa: E402
from transformers import EsmConfig, EsmModel

vocab = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO.-") + ["<null_1>", "<mask>"]
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    cfg = EsmConfig(vocab_size=33, hidden_size=320, num_hidden_layers=6, num_attention_heads=20, intermediate_size=1280,
                    max_position_embeddings=1026, position_embedding_type="rotary", token_dropout=True, emb_layer_norm_before=False,
                    layer_norm_eps=1e-5, mask_token_id=32, pad_token_id=1)
    m = EsmModel(cfg, add_pooling_layer=False)
    os.makedirs(d, exist_ok=True)
    m.save_pretrained(d, safe_serialization=True)
    open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
    write_proteins(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
idx = {t: i for i, t in enumerate(vocab)}
m = EsmModel.from_pretrained(d).eval().to(dev)  # float32, like burn
time_encoder(m, seqs, lambda s: [0] + [idx.get(c, 3) for c in s] + [2], 1, dev, threads)
