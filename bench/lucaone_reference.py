#!/usr/bin/env python3
"""Creates a random-weight LucaOne (6 layers, 320 wide, 5 heads of 64 as in LucaOne's 2560 / 40)
with the authors' Hugging Face port (the `lucaone` package) and times it on a FASTA of proteins
(`[CLS] … [SEP]`, token type 1, mean pooling), same thread count as genoprot. Needs torch,
transformers < 5 and `pip install --no-deps lucaone`.
    lucaone_reference.py make MODEL_DIR FASTA N
    lucaone_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_timing import setup, time_encoder, write_proteins  # noqa: E402
from lucaone import LucaGPLMConfig, LucaGPLMModel, LucaGPLMTokenizer  # noqa: E402

if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    m = LucaGPLMModel(LucaGPLMConfig(vocab_size=39, hidden_size=320, num_hidden_layers=6,
                                     num_attention_heads=5, max_position_embeddings=4096))
    m.save_pretrained(d, safe_serialization=True)
    write_proteins(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
tok = LucaGPLMTokenizer()
base = LucaGPLMModel.from_pretrained(d).eval().to(dev)


class Protein(torch.nn.Module):
    """The model with every token typed as protein (1), as the tokenizer types seq_type="prot"."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask,
                      token_type_ids=torch.ones_like(input_ids))


time_encoder(Protein(base), seqs, lambda s: tok.encode(s, seq_type="prot"), tok.padding_idx, dev, threads)
