#!/usr/bin/env python3
"""genoprot's transformers adapter (`kind: hf`): embeds the sequences of a
FASTA file with any Hugging Face model and writes the command contract's
HDF5 (`ids`, `emb` float32 [N, D]). genoprot ships this file inside its
binary, writes it to the store and runs it with the site's interpreter:

    python genoprot_hf.py --weights DIR --in seqs.fa --out emb.h5 \
        [--device cpu|cuda|cuda:N|auto] [--pooling mean|cls|last] [--layer -1] \
        [--dtype float32|bfloat16|float16] [--max-tokens 4096] [--window N] \
        [--trust-remote-code]

* Models: T5-family configs load `T5EncoderModel` (the encoder only);
  configs whose architectures are causal LMs (`...ForCausalLM`,
  `...LMHeadModel`) load `AutoModelForCausalLM`; everything else `AutoModel`.
  Custom code (DNABERT-2, NT-v2, HyenaDNA, Caduceus, Evo) needs
  `--trust-remote-code`.
* Tokens: each sequence is tokenized without special tokens; a tokenizer
  that cannot read a plain residue string but reads it space-separated
  (ProtT5, ProtBert) gets it spaced. Sequences longer than the model's
  maximum (or `--window`) are cut into windows of that many tokens, stride =
  window, the last window aligned to the end, as genoprot's native models
  do; each window gets the tokenizer's special tokens.
* Pooling over real tokens only (no special tokens, no padding): `mean`
  (windows weighted by their token counts), `cls` (the first token, averaged
  over windows), `last` (the last real token of the last window; for causal
  models).
* Batches: windows sorted by length, packed up to `--max-tokens` tokens.
* Output rows follow the FASTA order; values are float32 whatever `--dtype`.

Exit codes: 0 done; 2 bad arguments or input; 3 the interpreter lacks torch,
transformers or h5py (the message names it and the pip command).
"""
import argparse
import sys


def die(msg, code=2):
    sys.stderr.write(f"genoprot_hf: {msg}\n")
    sys.exit(code)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="genoprot_hf.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--in", dest="fasta", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--modality", choices=["dna", "protein", "gene"], default="protein")
    p.add_argument("--pooling", choices=["mean", "cls", "last"], default="mean")
    p.add_argument("--layer", type=int, default=-1)
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--trust-remote-code", action="store_true")
    a = p.parse_args(argv)
    if a.max_tokens < 2:
        die("--max-tokens must be >= 2")
    if a.window is not None and a.window < 1:
        die("--window must be >= 1")
    return a


def read_fasta(path):
    """[(id, sequence)] in file order."""
    out, cur, seq = [], None, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if cur is not None:
                    out.append((cur, "".join(seq)))
                cur, seq = line[1:].split()[0] if line[1:].split() else "", []
            elif line:
                seq.append(line)
    if cur is not None:
        out.append((cur, "".join(seq)))
    return out


def windows(n, w):
    """Token ranges of windows of `w` tokens over `n`: stride = w, the last
    window aligned to the end (genoprot's native rule)."""
    if n <= w:
        return [(0, n)]
    out, s = [], 0
    while True:
        if s + w >= n:
            out.append((n - w, n))
            return out
        out.append((s, s + w))
        s += w


def token_batches(lengths, max_tokens):
    """Indices grouped longest first so that each batch's padded size
    (rows × longest row) stays within `max_tokens` (a longer row is alone)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur, longest = [], [], 0
    for i in order:
        l = lengths[i]
        if cur and max(longest, l) * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, l)
    if cur:
        batches.append(cur)
    return batches


def combine(parts, pooling):
    """One vector per sequence from its windows' (vector, real-token count)."""
    if pooling == "mean":
        total = sum(n for _, n in parts)
        return sum(v * (n / total) for v, n in parts)
    if pooling == "cls":
        return sum(v for v, _ in parts) / len(parts)
    return parts[-1][0]


def special_template(tok, text):
    """The special tokens the tokenizer puts before and after a sequence
    (`[CLS]` … `[SEP]`, `<cls>` … `<eos>`, … `</s>`, none), read off one
    encoding with and one without them (works across transformers versions)."""
    bare = tok(text, add_special_tokens=False)["input_ids"]
    full = tok(text)["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i:i + len(bare)] == bare:
            return full[:i], full[i + len(bare):]
    die("cannot tell the tokenizer's special tokens from the sequence's")


def need(module):
    try:
        return __import__(module)
    except ImportError:
        die(
            f"{sys.executable} cannot import {module}: kind: hf needs torch, transformers and h5py "
            f"in the interpreter given as `python:`; install them with "
            f"`{sys.executable} -m pip install torch transformers h5py`",
            code=3,
        )


def main(argv):
    a = parse_args(argv)
    seqs = read_fasta(a.fasta)
    torch = need("torch")
    transformers = need("transformers")
    h5py = need("h5py")
    import numpy as np

    trc = a.trust_remote_code
    config = transformers.AutoConfig.from_pretrained(a.weights, trust_remote_code=trc)
    archs = getattr(config, "architectures", None) or []
    dtype = getattr(torch, a.dtype)
    def load(cls, **kw):
        # transformers >= 4.56 takes `dtype`; older releases `torch_dtype`.
        try:
            return cls.from_pretrained(a.weights, dtype=dtype, **kw)
        except TypeError:
            return cls.from_pretrained(a.weights, torch_dtype=dtype, **kw)

    if getattr(config, "model_type", "") in ("t5", "mt5", "umt5"):
        model, kind = load(transformers.T5EncoderModel), "encoder"
    elif any(x.endswith("ForCausalLM") or x.endswith("LMHeadModel") for x in archs):
        model, kind = load(transformers.AutoModelForCausalLM, trust_remote_code=trc), "causal"
    else:
        model, kind = load(transformers.AutoModel, trust_remote_code=trc), "encoder"
    tok = transformers.AutoTokenizer.from_pretrained(a.weights, trust_remote_code=trc)
    dev = a.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(dev).eval()

    # Plain or space-separated residues, whichever the tokenizer reads.
    probe = "ACDEFGHIKLMNPQRSTVWY" if a.modality == "protein" else "ACGTACGTAC"
    unk = tok.unk_token_id
    plain = tok(probe, add_special_tokens=False)["input_ids"]
    spaced = unk is not None and unk in plain and unk not in tok(" ".join(probe), add_special_tokens=False)["input_ids"]

    prefix, suffix = special_template(tok, " ".join(probe) if spaced else probe)
    n_special = len(prefix) + len(suffix)
    limits = [x for x in (getattr(tok, "model_max_length", None), getattr(config, "max_position_embeddings", None)) if isinstance(x, int) and 0 < x < 1_000_000]
    if getattr(config, "model_type", "") in ("esm", "roberta", "xlm-roberta", "camembert") and getattr(config, "max_position_embeddings", None):
        # Positions start after pad_token_id in these models.
        limits.append(config.max_position_embeddings - (config.pad_token_id or 0) - 1)
    win = a.window or (min(limits) - n_special if limits else None)
    if win is not None and win < 1:
        die(f"the model's maximum length leaves no room for tokens (window {win})")

    pieces = []  # (sequence index, input ids with specials, real-token mask)
    for i, (_, s) in enumerate(seqs):
        text = " ".join(s) if spaced else s
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if not ids:
            die(f"sequence {seqs[i][0]} gives no tokens")
        for lo, hi in windows(len(ids), win or len(ids)):
            part = ids[lo:hi]
            full = prefix + part + suffix
            pieces.append((i, full, [0] * len(prefix) + [1] * len(part) + [0] * len(suffix)))

    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    left = getattr(tok, "padding_side", "right") == "left"
    outs = {}
    with torch.no_grad():
        for batch in token_batches([len(p[1]) for p in pieces], a.max_tokens):
            L = max(len(pieces[k][1]) for k in batch)
            ids, att = [], []
            for k in batch:
                f = pieces[k][1]
                padn = L - len(f)
                ids.append(([pad] * padn + f) if left else (f + [pad] * padn))
                att.append(([0] * padn + [1] * len(f)) if left else ([1] * len(f) + [0] * padn))
            ids_t = torch.tensor(ids, device=dev)
            att_t = torch.tensor(att, device=dev)
            out = model(input_ids=ids_t, attention_mask=att_t, output_hidden_states=True)
            if a.layer == -1 and kind == "encoder" and getattr(out, "last_hidden_state", None) is not None:
                hs = out.last_hidden_state
            else:
                hs = out.hidden_states[a.layer]
            hs = hs.float().cpu().numpy()
            for r, k in enumerate(batch):
                f, real = pieces[k][1], pieces[k][2]
                off = (L - len(f)) if left else 0
                rows = [off + j for j, m in enumerate(real) if m]
                if not rows:
                    die("a window has no real tokens")
                if a.pooling == "mean":
                    v = hs[r, rows].mean(0)
                elif a.pooling == "cls":
                    v = hs[r, off]
                else:
                    v = hs[r, rows[-1]]
                outs[k] = (v, len(rows))
    emb = np.zeros((len(seqs), hs.shape[-1] if pieces else 0), dtype=np.float32)
    by_seq = {}
    for k, (i, _, _) in enumerate(pieces):
        by_seq.setdefault(i, []).append(outs[k])
    for i, parts in by_seq.items():
        emb[i] = combine(parts, a.pooling)
    with h5py.File(a.out, "w") as f:
        f.create_dataset("ids", data=[s[0] for s in seqs], dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("emb", data=emb)


if __name__ == "__main__":
    main(sys.argv[1:])
