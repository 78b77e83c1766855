#!/usr/bin/env python3
"""Creates tiny random-weight codon models with their authors' own code, and reference
embeddings for genoprot's Rust tests (fixtures are committed; CI never runs this).

* fixtures/calm-tiny: CaLM's `ProteinBertModel` with its codon `Alphabet`, `CodonSequence`
  and `BatchConverter` (github.com/oxpig/CaLM, the `calm` package), loaded from a checkout
  whose path is given (their code is not copied here). The weights are written as the
  authors publish theirs (`calm_weights.pkl`, a pickled state dict), then converted with the
  one command docs/models.md gives (CONVERT below) into model.safetensors; config.json is
  the package's ARGS in the form genoprot reads.
* fixtures/codonbert-tiny: CodonBERT (Sanofi): transformers' `BertForPreTraining`, as the
  release is, saved as pytorch_model.bin; token ids from the authors' `get_tokenizer()` and
  `mytok()` (benchmarks/utils/tokenizer.py of github.com/Sanofi-Public/CodonBERT, loaded from
  a checkout whose path is given); hidden states as their extract_embed.py takes them (one
  sequence at a time, the last layer without [CLS] and [SEP]).
* fixtures/hf-cache/hub/models--genoprot-test--{calm,codonbert,encodon}-tiny: each as the
  hub caches it.
* fixtures/encodon-tiny: EnCodon (cdsFM, github.com/goodarzilab/cdsFM): the authors'
  `EnCodon` and `EnCodonTokenizer` from a checkout, with rotary on (half of each head;
  θ = 100 rather than the default 5·10⁵, so that every rotated pair turns visibly within the
  fixture's 20 positions) beside absolute positions; hidden states of `EnCodonModule` (`model.bert`),
  one padded batch with the attention mask.

Needs torch, einops, rotary-embedding-torch, biopython, requests, safetensors (PyPI):
    /tmp/torchenv/bin/pip install torch einops rotary-embedding-torch biopython requests safetensors
    git clone https://github.com/oxpig/CaLM /tmp/src/calm
    git clone https://github.com/Sanofi-Public/CodonBERT /tmp/src/codonbert
    git clone https://github.com/goodarzilab/cdsFM /tmp/src/cdsfm
    /tmp/torchenv/bin/python scripts/make_codon_fixtures.py --calm-src /tmp/src/calm \
        --codonbert-src /tmp/src/codonbert --cdsfm-src /tmp/src/cdsfm

reference.json: per CDS, the token ids without `<cls>`/`<eos>`, the mean over the codon
tokens of the last layer (after `emb_layer_norm_after`), of layer 1 and of layer 0 (the
embeddings), and the `<cls>` vector of the last layer, run as one padded batch; CDSs longer
than `window` codons are windowed as genoprot does (fixture_common.windows).
"""
import argparse, json, os, pickle, subprocess, sys, tempfile
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import hub_cache, window_pieces, window_refs, windows  # noqa: E402

# The conversion docs/models.md gives, run in the folder of calm_weights.pkl.
CONVERT = ("import pickle, torch; from safetensors.torch import save_file; "
           "sd = pickle.load(open('calm_weights.pkl', 'rb')); "
           "save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')")

ap = argparse.ArgumentParser()
ap.add_argument("--calm-src", required=True, help="a checkout of github.com/oxpig/CaLM")
ap.add_argument("--codonbert-src", required=True, help="a checkout of github.com/Sanofi-Public/CodonBERT")
ap.add_argument("--cdsfm-src", required=True, help="a checkout of github.com/goodarzilab/cdsFM")
args = ap.parse_args()
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
sys.path.insert(0, os.path.abspath(args.calm_src))
from calm.alphabet import Alphabet  # noqa: E402
from calm.model import ProteinBertModel  # noqa: E402
from calm.pretrained import ArgDict, _ARGS  # noqa: E402
from calm.sequence import CodonSequence  # noqa: E402

torch.manual_seed(0)
CDS = ["ATGAAAACCGCGTATTAA", "ATGGCGCTGTGG",
       "ATG" + "GCTAAACCCGGGTTT" * 4 + "TAA", "ATGTGA",
       "ATGGATGAAGAGCTTCTGCTTAAA"]
assert all(len(s) % 3 == 0 for s in CDS)  # the package has no token for a partial codon
WINDOW = 18
cfg = dict(_ARGS, num_layers=3, embed_dim=32, attention_heads=4, ffn_embed_dim=64, max_positions=WINDOW + 2)
alphabet = Alphabet.from_architecture("CodonModel")
model = ProteinBertModel(ArgDict(cfg), alphabet).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if "layer_norm" in n or n.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.2)

d = os.path.join(root, "calm-tiny")
os.makedirs(d, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "calm_weights.pkl"), "wb") as f:
        pickle.dump(model.state_dict(), f)
    subprocess.run([sys.executable, "-c", CONVERT], cwd=tmp, check=True)
    os.replace(os.path.join(tmp, "model.safetensors"), os.path.join(d, "model.safetensors"))
with open(os.path.join(d, "config.json"), "w") as f:
    json.dump({"model_type": "calm", "embed_dim": cfg["embed_dim"], "num_layers": cfg["num_layers"],
               "attention_heads": cfg["attention_heads"], "ffn_embed_dim": cfg["ffn_embed_dim"],
               "max_positions": cfg["max_positions"]}, f, indent=2)

# Token rows as the package makes them: CodonSequence's text, the alphabet's ids.
cls, eos, pad = alphabet.cls_idx, alphabet.eos_idx, alphabet.padding_idx
enc = [alphabet.encode(CodonSequence(s).seq)[1:-1] for s in CDS]
pieces = window_pieces(enc, WINDOW, cls, eos)
L = max(len(p) for _, p in pieces)
tokens = torch.tensor([p + [pad] * (L - len(p)) for _, p in pieces])
n = cfg["num_layers"]
with torch.no_grad():
    reps = model(tokens, repr_layers=[0, 1, n])["representations"]
refs = window_refs(CDS, enc, pieces, reps[n], reps[1], reps[0])
with open(os.path.join(d, "reference.json"), "w") as f:
    json.dump({"window": WINDOW, "layers": n, "dna": refs}, f)
print(f"wrote {d}")
hub_cache(root, "calm-tiny", d, ["config.json", "model.safetensors"])

# --- CodonBERT: BertForPreTraining with the authors' tokenizer code ---
sys.path.insert(0, os.path.join(os.path.abspath(args.codonbert_src), "benchmarks"))
from utils.tokenizer import get_tokenizer, mytok  # noqa: E402
from transformers import BertConfig, BertForPreTraining  # noqa: E402

tok = get_tokenizer()
bcfg = BertConfig(vocab_size=69, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=WINDOW + 2, type_vocab_size=2,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
bert = BertForPreTraining(bcfg).eval()
with torch.no_grad():
    for n_, p in bert.named_parameters():
        if "LayerNorm" in n_ or n_.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.2)
d = os.path.join(root, "codonbert-tiny")
os.makedirs(d, exist_ok=True)
bert.save_pretrained(d, safe_serialization=False)
refs = []
for s_ in CDS:
    ids = tok.encode(" ".join(mytok(s_, 3, 3))).ids[1:-1]  # without [CLS] and [SEP]
    rec = {"sequence": s_, "ids": ids}
    wins = windows(len(ids), WINDOW)
    rec["windows"] = len(wins)
    for name, layer in [("", -1), ("_layer1", 1), ("_layer0", 0)]:
        means, lens, clss = [], [], []
        for (a, b) in wins:
            row = torch.tensor([[tok.token_to_id("[CLS]")] + ids[a:b] + [tok.token_to_id("[SEP]")]])
            with torch.no_grad():
                hs = bert(row, output_hidden_states=True).hidden_states
            h = hs[layer][0]
            means.append(h[1:-1].mean(0)); lens.append(b - a); clss.append(h[0])
        w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
        rec[f"mean{name}"] = sum(wi * x for wi, x in zip(w, means)).tolist()
        if name == "":
            rec["cls"] = (sum(clss) / len(clss)).tolist()
    refs.append(rec)
with open(os.path.join(d, "reference.json"), "w") as f:
    json.dump({"window": WINDOW, "layers": 3, "dna": refs}, f)
print(f"wrote {d}")
hub_cache(root, "codonbert-tiny", d, ["config.json", "pytorch_model.bin"])

# --- EnCodon (cdsFM): the authors' modeling and tokenizer files from a checkout ---
# Their modeling file imports xformers at the top but calls it only on the
# flash-attention path (flash_attn absent: plain attention), and the package's
# __init__ pulls in DeCodon's dependencies (scanpy, datasets): the three files
# are imported as modules of an empty `cdsfm.encodon` package, with an empty
# `xformers.ops` for the unused import.
import importlib, types  # noqa: E402
for name in ("xformers", "xformers.ops"):
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["xformers"].ops = sys.modules["xformers.ops"]
src = os.path.join(os.path.abspath(args.cdsfm_src), "cdsfm")
for pkg, path in (("cdsfm", src), ("cdsfm.encodon", os.path.join(src, "encodon"))):
    mod = types.ModuleType(pkg)
    mod.__path__ = [path]
    sys.modules[pkg] = mod
EnCodonConfig = importlib.import_module("cdsfm.encodon.configuration_encodon").EnCodonConfig
modeling_encodon = importlib.import_module("cdsfm.encodon.modeling_encodon")
EnCodon = modeling_encodon.EnCodon
# Their plain-attention path (taken when flash_attn is absent; they trained and ran with
# flash_attn, which CPUs lack) cannot run as written: the file imports `einsum` from einops and
# then from torch, so the name is torch's while that path calls it einops-style (tensors first,
# pattern last); and its probabilities-times-values pattern names the key axis `k` in one operand
# and `v` in the other, which sums each over separately. Each call goes to the einsum its
# arguments are for, and that pattern is read as the attention flash_attn computes
# (softmax(QKᵀ/√d)·V over the same key axis).
import einops  # noqa: E402
ATTN_V = "b h q k, b v h d -> b q h d"


def einsum_either(*a):
    if isinstance(a[0], str):
        return torch.einsum(*a)
    if a[-1] == ATTN_V:
        a = a[:-1] + ("b h q k, b k h d -> b q h d",)
    return einops.einsum(*a)


modeling_encodon.einsum = einsum_either
EnCodonTokenizer = importlib.import_module("cdsfm.encodon.tokenization_encodon").EnCodonTokenizer

etok = EnCodonTokenizer(seq_type="dna")
ecfg = EnCodonConfig(vocab_size=69, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=WINDOW + 2, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, use_rotary_emb=True, rotary_theta=100.0,
                     position_embedding_type="absolute", use_flash_attn=False, pad_token_id=etok.pad_token_id,
                     pooler_activation="tanh")  # the released configs carry it; the pooler is not read
enc_model = EnCodon(ecfg).eval()
with torch.no_grad():
    for n_, p in enc_model.named_parameters():
        if "layer_norm" in n_ or "LayerNorm" in n_ or n_.endswith("bias"):
            p.add_(torch.randn_like(p) * 0.2)
d = os.path.join(root, "encodon-tiny")
os.makedirs(d, exist_ok=True)
enc_model.save_pretrained(d, safe_serialization=False)  # its LM head shares a bias: safetensors refuses it
ECDS = CDS + ["ATGNNNAAAGCNTTT"]  # an N inside a codon: one <UNK> per letter, as the tokenizer's regex gives
rows = [etok(s_)["input_ids"] for s_ in ECDS]
assert all(r[0] == etok.cls_token_id and r[-1] == etok.sep_token_id for r in rows)
enc = [r[1:-1] for r in rows]
pieces = window_pieces(enc, WINDOW, etok.cls_token_id, etok.sep_token_id)
L = max(len(p) for _, p in pieces)
ids_t = torch.tensor([p + [etok.pad_token_id] * (L - len(p)) for _, p in pieces])
with torch.no_grad():
    hs = enc_model.bert(input_ids=ids_t, attention_mask=(ids_t != etok.pad_token_id).long(),
                        output_hidden_states=True).hidden_states
refs = window_refs(ECDS, enc, pieces, hs[-1], hs[1], hs[0])
with open(os.path.join(d, "reference.json"), "w") as f:
    json.dump({"window": WINDOW, "layers": 3, "dna": refs}, f)
print(f"wrote {d}")
hub_cache(root, "encodon-tiny", d, ["config.json", "pytorch_model.bin"])
