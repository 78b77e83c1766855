#!/usr/bin/env python3
"""Creates tiny random-weight BERT-family model folders and reference
embeddings for genoprot's Rust tests (fixtures are committed; CI never runs
this). Needs torch + transformers + tokenizers (the .venv-tch of
scripts/tch-check.sh plus `pip install transformers`):
    .venv-tch/bin/python scripts/make_bert_fixtures.py

* fixtures/protbert-tiny: ProtBert-style — transformers' stock BertModel
  (post-LN, learned positions, token types), WordPiece vocab.txt of single
  residues ([PAD] [UNK] [CLS] [SEP] [MASK] ...), saved from BertForMaskedLM
  as pytorch_model.bin (`bert.` prefix, MLM head beside it).
* fixtures/cdsbert-tiny: cdsBERT-style — stock BertModel over a codon
  vocabulary, tokenizer.json (WordPiece over whitespace-separated codons),
  model.safetensors.
* fixtures/gena-tiny: GENA-LM-style pre-LN BERT (`pre_layer_norm: true`:
  pre_attention_ln / post_attention_ln per layer, encoder.last_layer_ln),
  written here from GENA-LM's published modeling_bert.py (transformers has no
  stock class); BPE tokenizer.json; model.safetensors.
* fixtures/dnabert2-tiny: DNABERT-2-style MosaicBERT — ALiBi attention bias
  (slopes of a non-power-of-two head count, as DNABERT-2's 12 heads), fused
  Wqkv, GeGLU feed-forward (gated_layers / wo), post-LN, no position table,
  padding as an additive −10,000 bias; written here from the published
  bert_layers.py; BPE tokenizer.json (fixtures/tokenizers/dna-bpe);
  pytorch_model.bin with the `bert.` prefix.

LayerNorm and bias weights are moved off their defaults. Each folder gets
reference.json: token ids, mean-pooled (real tokens) and CLS embeddings of
the last layer per sequence, run as one padded batch; one sequence is longer
than the window and is windowed as genoprot does (windows of `window` tokens,
stride = window, the last aligned to the end, window means weighted by
length, CLS averaged).
"""
import json, math, os, shutil, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import perturb, windows  # noqa: E402
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizer
from tokenizers import Tokenizer, models, pre_tokenizers, processors

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "fixtures")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def reference(forward, enc, seqs, cls, sep, pad, window):
    """forward(input_ids, attention_mask) -> last hidden state [B, L, H]."""
    pieces = []
    for i, ids in enumerate(enc):
        for a, b in windows(len(ids), window):
            pieces.append((i, [cls] + ids[a:b] + [sep]))
    L = max(len(p) for _, p in pieces)
    input_ids = torch.tensor([p + [pad] * (L - len(p)) for _, p in pieces])
    attn = torch.tensor([[1] * len(p) + [0] * (L - len(p)) for _, p in pieces])
    with torch.no_grad():
        h = forward(input_ids, attn)
    res = []
    for i, ids in enumerate(enc):
        parts = [(k, p) for k, (j, p) in enumerate(pieces) if j == i]
        means, clss, lens = [], [], []
        for k, p in parts:
            n = len(p) - 2
            means.append(h[k, 1:1 + n].mean(0))
            clss.append(h[k, 0])
            lens.append(n)
        w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
        mean = sum(wi * m for wi, m in zip(w, means))
        res.append({"sequence": seqs[i], "ids": ids, "mean": mean.tolist(),
                    "cls": (sum(clss) / len(clss)).tolist(), "windows": len(parts)})
    return res


def write_reference(d, window, res, note):
    json.dump({"window": window, "note": note, "sequences": res}, open(os.path.join(d, "reference.json"), "w"))
    print(f"wrote {d}")


def folder(name):
    d = os.path.join(root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


PROT = ["MKTAYIAKQRQ", "MSEQNNTEMTFQIQRIYTKD", "MALW", "MKKLLLALLAALAVSQAPKKKRKVHEAAHWGAGGVGLKDLLSE", "MXACUB"]
CDS = ["ATGAAGACAGCTTACATCGCTAAGCAGCGTCAGTAA", "ATGGCTCTGTGGATGCGTCTGCTGTAG", "ATGAAATAA",
       "ATG" + "GCTAAGCAGCGTCAGCCCGGGTTTACC" * 6 + "TGA", "ATGNNAGCCTAG"]

# --- ProtBert style: stock BertModel, vocab.txt, pytorch_model.bin from BertForMaskedLM ---
d = folder("protbert-tiny")
vocab = SPECIALS + list("LAGVESIKRDTPNQFYMHCWXUBZO")
open(os.path.join(d, "vocab.txt"), "w").write("\n".join(vocab) + "\n")
tok = BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=False)
cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=48, max_position_embeddings=16, type_vocab_size=2, layer_norm_eps=1e-12,
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0)
mlm = BertForMaskedLM(cfg).eval()
perturb(mlm)
mlm.config.save_pretrained(d)
# transformers 5 saves safetensors only: write the .bin as older releases did
# (a torch zip checkpoint of the whole BertForMaskedLM state dict).
torch.save(mlm.state_dict(), os.path.join(d, "pytorch_model.bin"))
json.dump({"do_lower_case": False, "tokenizer_class": "BertTokenizer"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
bert = mlm.bert
enc = [tok(" ".join(s), add_special_tokens=False)["input_ids"] for s in PROT]
res = reference(lambda i, a: bert(input_ids=i, attention_mask=a).last_hidden_state, enc, PROT,
                tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, 16 - 2)
write_reference(d, 14, res, "transformers BertModel (from BertForMaskedLM), residues space-separated")

# --- cdsBERT style: codon words, tokenizer.json ---
d = folder("cdsbert-tiny")
codons = ["".join((a, b, c)) for a in "TCAG" for b in "TCAG" for c in "TCAG"]
vocab = SPECIALS + codons
wp = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
wp.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
wp.add_special_tokens(SPECIALS)
wp.save(os.path.join(d, "tokenizer.json"))
json.dump({"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"},
          open(os.path.join(d, "special_tokens_map.json"), "w"), indent=2)
cfg = BertConfig(vocab_size=len(vocab), hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                 intermediate_size=40, max_position_embeddings=12, layer_norm_eps=1e-12,
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0)
m = BertModel(cfg, add_pooling_layer=False).eval()
perturb(m)
m.save_pretrained(d, safe_serialization=True)
codon_text = lambda s: " ".join(s[i:i + 3] for i in range(0, len(s), 3))
enc = [wp.encode(codon_text(s), add_special_tokens=False).ids for s in CDS]
res = reference(lambda i, a: m(input_ids=i, attention_mask=a).last_hidden_state, enc, CDS, 2, 3, 0, 12 - 2)
write_reference(d, 10, res, "transformers BertModel; CDS split into space-separated codons")


# --- GENA-LM style pre-LN BERT, and DNABERT-2 style MosaicBERT: references written here ---
class Ref(nn.Module):
    """GENA-LM's pre-LN BERT (mosaic=False) or MosaicBERT (mosaic=True), inference only."""

    def __init__(self, vocab, h, layers, heads, inter, maxpos, mosaic, eps=1e-12):
        super().__init__()
        self.h, self.heads, self.inter, self.mosaic, self.eps = h, heads, inter, mosaic, eps
        e = nn.Module()
        e.word_embeddings = nn.Embedding(vocab, h)
        e.token_type_embeddings = nn.Embedding(2, h)
        if not mosaic:
            e.position_embeddings = nn.Embedding(maxpos, h)
        e.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.embeddings = e
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList()
        for _ in range(layers):
            l = nn.Module()
            l.attention = nn.Module()
            l.attention.self = nn.Module()
            l.attention.output = nn.Module()
            l.attention.output.dense = nn.Linear(h, h)
            if mosaic:
                l.attention.self.Wqkv = nn.Linear(h, 3 * h)
                l.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
                l.mlp = nn.Module()
                l.mlp.gated_layers = nn.Linear(h, 2 * inter, bias=False)
                l.mlp.wo = nn.Linear(inter, h)
                l.mlp.layernorm = nn.LayerNorm(h, eps=eps)
            else:
                l.attention.self.query = nn.Linear(h, h)
                l.attention.self.key = nn.Linear(h, h)
                l.attention.self.value = nn.Linear(h, h)
                l.pre_attention_ln = nn.LayerNorm(h, eps=eps)
                l.post_attention_ln = nn.LayerNorm(h, eps=eps)
                l.intermediate = nn.Module()
                l.intermediate.dense = nn.Linear(h, inter)
                l.output = nn.Module()
                l.output.dense = nn.Linear(inter, h)
            self.encoder.layer.append(l)
        if not mosaic:
            self.encoder.last_layer_ln = nn.LayerNorm(h, eps=eps)

    def slopes(self):
        def pow2(n):
            start = 2 ** (-2 ** -(math.log2(n) - 3))
            return [start * start ** i for i in range(n)]

        def get(n):
            if math.log2(n).is_integer():
                return pow2(n)
            c = 2 ** math.floor(math.log2(n))
            return pow2(c) + get(2 * c)[0::2][:n - c]

        return torch.tensor(get(self.heads))

    def attend(self, q, k, v, bias):
        B, L, _ = q.shape
        hd = self.h // self.heads
        sp = lambda t: t.view(B, L, self.heads, hd).permute(0, 2, 1, 3)
        s = sp(q) @ sp(k).transpose(-1, -2) / math.sqrt(hd) + bias
        return (s.softmax(-1) @ sp(v)).permute(0, 2, 1, 3).reshape(B, L, self.h)

    def forward(self, ids, mask):
        B, L = ids.shape
        e = self.embeddings
        x = e.word_embeddings(ids) + e.token_type_embeddings(torch.zeros_like(ids))
        if not self.mosaic:
            x = x + e.position_embeddings(torch.arange(L))[None]
        x = e.LayerNorm(x)
        pad = (1.0 - mask[:, None, None, :].float()) * -10000.0
        if self.mosaic:
            rel = (torch.arange(L)[None, :] - torch.arange(L)[:, None]).abs()
            bias = pad + (self.slopes()[:, None, None] * -rel)[None]
        else:
            bias = pad
        for l in self.encoder.layer:
            if self.mosaic:
                q, k, v = l.attention.self.Wqkv(x).split(self.h, dim=-1)
                a = l.attention.output.LayerNorm(l.attention.output.dense(self.attend(q, k, v, bias)) + x)
                g = l.mlp.gated_layers(a)
                y = nn.functional.gelu(g[..., :self.inter]) * g[..., self.inter:]
                x = l.mlp.layernorm(l.mlp.wo(y) + a)
            else:
                n = l.pre_attention_ln(x)
                s = l.attention.self
                a = x + l.attention.output.dense(self.attend(s.query(n), s.key(n), s.value(n), bias))
                x = a + l.output.dense(nn.functional.gelu(l.intermediate.dense(l.post_attention_ln(a))))
        return self.encoder.last_layer_ln(x) if not self.mosaic else x


bpe_dir = os.path.join(root, "tokenizers", "dna-bpe")
bpe = Tokenizer.from_file(os.path.join(bpe_dir, "tokenizer.json"))
bpe_vocab = bpe.get_vocab_size()
bid = bpe.token_to_id


def save_ref_model(d, model, config, prefix, bin_format):
    from safetensors.torch import save_file
    for f in ["tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(bpe_dir, f), os.path.join(d, f))
    sd = {prefix + k: v.contiguous() for k, v in model.state_dict().items()}
    if bin_format:
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    else:
        save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    json.dump(config, open(os.path.join(d, "config.json"), "w"), indent=2)


d = folder("gena-tiny")
m = Ref(bpe_vocab, 32, 2, 4, 56, 24, mosaic=False).eval()
perturb(m)
save_ref_model(d, m, {"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": bpe_vocab,
                      "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 56,
                      "max_position_embeddings": 24, "type_vocab_size": 2, "hidden_act": "gelu",
                      "layer_norm_eps": 1e-12, "position_embedding_type": "absolute", "pre_layer_norm": True,
                      "pad_token_id": bid("[PAD]"),
                      "auto_map": {"AutoModel": "modeling_bert.BertModel"}}, "", bin_format=False)
enc = [bpe.encode(s, add_special_tokens=False).ids for s in CDS]
res = reference(m, enc, CDS, bid("[CLS]"), bid("[SEP]"), bid("[PAD]"), 24 - 2)
write_reference(d, 22, res, "pre-LN BERT written from GENA-LM's modeling_bert.py")

d = folder("dnabert2-tiny")
m = Ref(bpe_vocab, 24, 2, 6, 40, 0, mosaic=True).eval()
perturb(m)
save_ref_model(d, m, {"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": bpe_vocab,
                      "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 6, "intermediate_size": 40,
                      "max_position_embeddings": 512, "alibi_starting_size": 512, "type_vocab_size": 2,
                      "hidden_act": "gelu", "layer_norm_eps": 1e-12, "position_embedding_type": "absolute",
                      "pad_token_id": bid("[PAD]"),
                      "auto_map": {"AutoConfig": "configuration_bert.BertConfig",
                                   "AutoModel": "bert_layers.BertModel",
                                   "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM"}}, "bert.", bin_format=True)
# ALiBi has no position limit: genoprot windows at the configured `window` (the test sets 12).
res = reference(m, enc, CDS, bid("[CLS]"), bid("[SEP]"), bid("[PAD]"), 12)
write_reference(d, 12, res, "MosaicBERT written from DNABERT-2's bert_layers.py; window 12 tokens")
