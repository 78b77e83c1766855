#!/usr/bin/env python3
"""Creates a random-weight CodonBERT (transformers' BertForPreTraining, 6 layers, 320 wide,
5 heads, as the release is laid out) and times it with the authors' tokenizer code
(benchmarks/utils/tokenizer.py of a checkout of github.com/Sanofi-Public/CodonBERT:
CODONBERT_SRC, default /tmp/src/codonbert) on a FASTA of coding sequences ([CLS] codons [SEP],
mean pooling), same thread count as genoprot. Needs torch, transformers, tokenizers.
    codonbert_reference.py make MODEL_DIR FASTA N
    codonbert_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.environ.get("CODONBERT_SRC", "/tmp/src/codonbert"), "benchmarks"))
from encoder_timing import setup, time_encoder, write_cds  # noqa: E402
from utils.tokenizer import get_tokenizer, mytok  # noqa: E402
from transformers import BertConfig, BertForPreTraining  # noqa: E402

if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    m = BertForPreTraining(BertConfig(vocab_size=69, hidden_size=320, num_hidden_layers=6, num_attention_heads=5,
                                      intermediate_size=1280, max_position_embeddings=1024))
    m.save_pretrained(d, safe_serialization=False)
    write_cds(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
tok = get_tokenizer()
m = BertForPreTraining.from_pretrained(d).bert.eval().to(dev)
time_encoder(m, seqs, lambda s: tok.encode(" ".join(mytok(s, 3, 3))).ids, tok.token_to_id("[PAD]"), dev, threads)
