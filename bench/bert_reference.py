#!/usr/bin/env python3
"""Creates a random-weight stock BERT (transformers' BertModel) of a
ProtBert-like small shape (6 layers, 320 hidden, 8 heads, 1280 intermediate,
learned positions to 1024, residue vocab.txt) and times HF transformers on a
FASTA of proteins, mean pooling, same thread count as genoprot. Usage:
    bert_reference.py make MODEL_DIR FASTA N      # model folder + N random proteins
    bert_reference.py time MODEL_DIR FASTA THREADS [DEVICE]   # DEVICE: cpu (default) or cuda"""
import sys, time, random, os
import torch
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
    rng = random.Random(1)
    with open(fasta, "w") as f:
        for i in range(n):
            L = int(min(1000, max(30, rng.lognormvariate(5.6, 0.5))))  # human-proteome-like lengths (median ~270)
            f.write(f">p{i}\n" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(L)) + "\n")
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev = torch.device(sys.argv[5] if len(sys.argv) > 5 else "cpu")
torch.set_num_threads(threads)
seqs = [l.strip() for l in open(fasta) if not l.startswith(">")]
idx = {t: i for i, t in enumerate(vocab)}
m = BertModel.from_pretrained(d, add_pooling_layer=False).eval().to(dev)  # float32, like burn
tokens = sum(len(s) + 2 for s in seqs)


def run(order, batch):
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            chunk = [seqs[i] for i in order[k:k + batch]]
            L = max(len(s) for s in chunk) + 2
            ids = torch.full((len(chunk), L), 0)
            for r, s in enumerate(chunk):
                t = [2] + [idx.get(c, 1) for c in s] + [3]
                ids[r, :len(t)] = torch.tensor(t)
            ids = ids.to(dev)
            h = m(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state
            _ = h.mean(1).cpu()  # the embeddings leave the device, as genoprot's do


run(list(range(4)), 4)
for name, order in [("input order, batch 8", list(range(len(seqs)))),
                    ("sorted by length, batch 8", sorted(range(len(seqs)), key=lambda i: len(seqs[i])))]:
    t = time.perf_counter(); run(order, 8); s = time.perf_counter() - t
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{threads} threads"
    print(f"transformers {torch.__version__} ({where}, {name}): {tokens} tokens in {s:.2f} s = {tokens / s:.0f} tokens/s")
    print(f"REF {name}|{s}")
