#!/usr/bin/env python3
"""Creates a random-weight EnCodon (6 layers, 320 wide, 5 heads of 64, rotary on half of each
head, absolute positions) with the authors' cdsFM modeling and tokenizer files, from a checkout
of github.com/goodarzilab/cdsFM (CDSFM_SRC, default /tmp/src/cdsfm), and times it on a FASTA of
coding sequences (<CLS> codons <SEP>, mean pooling), same thread count as genoprot. Their
plain-attention path is read as scripts/make_codon_fixtures.py explains (the einsum fix-ups).
Needs torch, transformers < 5, einops.
    encodon_reference.py make MODEL_DIR FASTA N
    encodon_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import importlib, os, sys, types
import einops
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_timing import setup, time_encoder, write_cds  # noqa: E402

for name in ("xformers", "xformers.ops"):
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["xformers"].ops = sys.modules["xformers.ops"]
src = os.path.join(os.environ.get("CDSFM_SRC", "/tmp/src/cdsfm"), "cdsfm")
for pkg, path in (("cdsfm", src), ("cdsfm.encodon", os.path.join(src, "encodon"))):
    mod = types.ModuleType(pkg)
    mod.__path__ = [path]
    sys.modules[pkg] = mod
cfg_mod = importlib.import_module("cdsfm.encodon.configuration_encodon")
modeling = importlib.import_module("cdsfm.encodon.modeling_encodon")
tok_mod = importlib.import_module("cdsfm.encodon.tokenization_encodon")


def einsum_either(*a):
    if isinstance(a[0], str):
        return torch.einsum(*a)
    if a[-1] == "b h q k, b v h d -> b q h d":
        a = a[:-1] + ("b h q k, b k h d -> b q h d",)
    return einops.einsum(*a)


modeling.einsum = einsum_either
tok = tok_mod.EnCodonTokenizer(seq_type="dna")
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    cfg = cfg_mod.EnCodonConfig(vocab_size=69, hidden_size=320, num_hidden_layers=6, num_attention_heads=5,
                                intermediate_size=1280, max_position_embeddings=2048, use_rotary_emb=True,
                                use_flash_attn=False, pad_token_id=tok.pad_token_id, pooler_activation="tanh")
    modeling.EnCodon(cfg).save_pretrained(d, safe_serialization=False)
    write_cds(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, sys.argv[5] if len(sys.argv) > 5 else "cpu")
m = modeling.EnCodon.from_pretrained(d).bert.eval().to(dev)
time_encoder(m, seqs, lambda s: tok(s)["input_ids"], tok.pad_token_id, dev, threads)
