#!/usr/bin/env python3
"""`kind: hf` end to end against transformers itself (run by scripts/hf-check.sh).

Builds three tiny random-weight models with transformers' stock classes and
character-level tokenizers (the `tokenizers` library): a BERT encoder, a T5
encoder (relative positions, `</s>` appended, no CLS) and a causal LM (GPT-2),
saves each as a model folder, runs genoprot's embed stage on a synthetic
dataset with `kind: hf` for each (the adapter in the site's Python), and
compares every embedding with a direct transformers call on one sequence at a
time (no padding, no batching; windows of the model's maximum for long
sequences) computed here. Exits non-zero when any differs by more than 1e-5.

    python scripts/hf_check.py GENOPROT_BINARY WORKDIR
"""
import json, os, subprocess, sys
import h5py
import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel,
                          PreTrainedTokenizerFast, T5Config, T5EncoderModel)

genoprot, work = sys.argv[1], os.path.abspath(sys.argv[2])
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
AA = "ACDEFGHIKLMNPQRSTVWYX"


def char_tokenizer(specials, template):
    vocab = {t: i for i, t in enumerate(specials + list(AA))}
    t = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]" if "[UNK]" in vocab else "<unk>"))
    t.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    if template:
        single, special = template
        t.post_processor = processors.TemplateProcessing(
            single=single, special_tokens=[(s, vocab[s]) for s in special])
    return t, vocab


def perturb(model):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n.lower() or n.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.2)


def save(name, model, tok, fast_kwargs):
    d = os.path.join(work, name)
    model.save_pretrained(d)
    PreTrainedTokenizerFast(tokenizer_object=tok, **fast_kwargs).save_pretrained(d)
    return d


# BERT: [CLS] x [SEP], learned positions, max 40 positions → windows.
t, v = char_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                      ("[CLS] $A [SEP]", ["[CLS]", "[SEP]"]))
bert = BertModel(BertConfig(vocab_size=len(v), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=40, pad_token_id=0), add_pooling_layer=False)
perturb(bert)
bert_dir = save("bert", bert.eval(), t, dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                              sep_token="[SEP]", mask_token="[MASK]", model_max_length=40))

# T5 encoder: x </s>, relative position buckets, gated GELU.
t, v = char_tokenizer(["<pad>", "</s>", "<unk>"], ("$A </s>", ["</s>"]))
t5 = T5EncoderModel(T5Config(vocab_size=len(v), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                             relative_attention_num_buckets=8, feed_forward_proj="gated-gelu",
                             pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
perturb(t5)
t5_dir = save("t5", t5.eval(), t, dict(unk_token="<unk>", pad_token="<pad>", eos_token="</s>"))

# Causal LM: no specials; `last` pooling takes the last real token.
t, v = char_tokenizer(["<pad>", "<unk>"], None)
gpt = GPT2LMHeadModel(GPT2Config(vocab_size=len(v), n_embd=32, n_layer=2, n_head=4, n_positions=512,
                                 pad_token_id=0, bos_token_id=0, eos_token_id=0))
perturb(gpt)
gpt_dir = save("gpt", gpt.eval(), t, dict(unk_token="<unk>", pad_token="<pad>", padding_side="right"))


def windows(n, w):
    if n <= w:
        return [(0, n)]
    out, s = [], 0
    while s + w < n:
        out.append((s, s + w)); s += w
    return out + [(n - w, n)]


def reference(model, vocab, seq, kind, pooling, limit):
    """One sequence at a time, no padding: the direct transformers call."""
    ids = [vocab[c] for c in seq]
    parts = []
    for a, b in windows(len(ids), limit or len(ids)):
        piece = ids[a:b]
        if kind == "bert":
            full, real = [vocab["[CLS]"]] + piece + [vocab["[SEP]"]], slice(1, 1 + len(piece))
        elif kind == "t5":
            full, real = piece + [vocab["</s>"]], slice(0, len(piece))
        else:
            full, real = piece, slice(0, len(piece))
        with torch.no_grad():
            out = model(input_ids=torch.tensor([full]), output_hidden_states=True)
        h = (out.last_hidden_state if kind != "gpt" else out.hidden_states[-1])[0].numpy()
        parts.append((h[real].mean(0) if pooling == "mean" else h[real][-1], len(piece)))
    if pooling == "mean":
        total = sum(n for _, n in parts)
        return sum(v * (n / total) for v, n in parts)
    return parts[-1][0]


def run(args, **kw):
    r = subprocess.run(args, cwd=work, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r


run([genoprot, "-q", "dataset", "synth", "--out", "data", "--genes", "40", "--min-len", "40", "--max-len", "90"])
models = [("bert", bert_dir, "mean"), ("t5", t5_dir, "mean"), ("gpt", gpt_dir, "last")]
lines = "\n".join(
    f"  - {{name: {n}, kind: hf, modality: protein, weights: {d}, python: {sys.executable}, pooling: {p}, max_tokens: 300}}"
    for n, d, p in models)
open(os.path.join(work, "c.yaml"), "w").write(
    f"name: hf-check\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane]\nmodels:\n{lines}\n")
run([genoprot, "plan", "c.yaml"])
seqs = {}
name = None
for line in open(os.path.join(work, "data", "protein.fa")):
    line = line.strip()
    if line.startswith(">"):
        name = line[1:]
    elif line:
        seqs[name] = seqs.get(name, "") + line
worst = 0.0
report = {}
for n, d, pooling in models:
    run([genoprot, "-q", "worker", "embed", "--config", "c.yaml", "--model", n])
    with h5py.File(os.path.join(work, "runs", "embeddings", f"{n}.h5")) as f:
        ids = [x.decode() if isinstance(x, bytes) else x for x in f["ids"][:]]
        emb = f["emb"][:]
    model = {"bert": bert, "t5": t5, "gpt": gpt}[n]
    vocab = json.load(open(os.path.join(d, "tokenizer.json")))["model"]["vocab"]
    limit = 40 - 2 if n == "bert" else None
    longest = max(len(s) for s in seqs.values())
    diff = 0.0
    for i, gid in enumerate(ids):
        ref = reference(model, vocab, seqs[gid], n, pooling, limit)
        diff = max(diff, float(np.abs(emb[i] - ref).max()))
    report[n] = {"genes": len(ids), "dim": int(emb.shape[1]), "max_abs_diff": diff,
                 "windowed": bool(limit and longest > limit)}
    worst = max(worst, diff)
print(json.dumps(report, indent=2))
if worst > 1e-5:
    sys.exit(f"hf-check: FAILED, max |diff| {worst:.2e} > 1e-5")
print(f"hf-check: passed, max |diff| {worst:.2e} <= 1e-5 for BERT (windowed), T5 encoder, causal LM")
