#!/usr/bin/env python3
"""Tokenizer fixtures for the tokenizer-parity tests (committed; CI never
runs this). Trains two tokenizer.json files with the `tokenizers` library,
as the models that ship them do, and records the Python library's token ids
on a test corpus:

* fixtures/tokenizers/dna-bpe: DNABERT-2 style — BPE trained on DNA (vocab
  512), [CLS] … [SEP] post-processing, specials [PAD] [UNK] [CLS] [SEP] [MASK];
  corpus: 1,000 CDS (ATG … stop, 30–600 nt), some with N, some lowercase, one
  of 12,000 nt.
* fixtures/tokenizers/protein-wordpiece: ProtBert style — WordPiece over
  single residues, whitespace pre-tokenizer (residues space-separated),
  [CLS] … [SEP]; corpus: proteins with X/U/B/Z/O, one of 5,000 residues.

Each folder: tokenizer.json, special_tokens_map.json, tokenizer_config.json,
reference.json ({"corpus": [...], "ids": [[...]], "ids_with_specials": [[...]]}).
    .venv-tch/bin/python scripts/make_tokenizer_fixtures.py
"""
import json, os, random
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizers")
rng = random.Random(17)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write(name, tok, corpus, spaced):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    json.dump({"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
               "mask_token": "[MASK]"}, open(os.path.join(d, "special_tokens_map.json"), "w"), indent=2)
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, "do_lower_case": False},
              open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    texts = [" ".join(s) if spaced else s for s in corpus]
    ref = {
        "spaced": spaced,
        "corpus": corpus,
        "ids": [tok.encode(t, add_special_tokens=False).ids for t in texts],
        "ids_with_specials": [tok.encode(t).ids for t in texts],
    }
    json.dump(ref, open(os.path.join(d, "reference.json"), "w"), separators=(",", ":"))
    print(f"wrote {d}: {len(corpus)} sequences, {sum(map(len, ref['ids']))} tokens")


def cds(n_codons):
    codons = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"]
    stops = {"TAA", "TAG", "TGA"}
    body = [rng.choice([c for c in codons if c not in stops]) for _ in range(n_codons)]
    return "ATG" + "".join(body) + rng.choice(sorted(stops))


# DNABERT-2 style BPE.
train = [cds(rng.randint(50, 400)) for _ in range(400)]
bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
bpe.pre_tokenizer = pre_tokenizers.Whitespace()
bpe.train_from_iterator(train, trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIALS, show_progress=False))
bpe.post_processor = processors.TemplateProcessing(
    single="[CLS] $A [SEP]", special_tokens=[(s, bpe.token_to_id(s)) for s in ("[CLS]", "[SEP]")])
corpus = []
for i in range(1000):
    s = cds(rng.randint(8, 198))
    if i % 10 == 1:
        p = rng.randrange(len(s) - 5)
        s = s[:p] + "NNNNN" + s[p + 5:]
    if i % 10 == 2:
        s = s.lower()
    if i % 10 == 3:
        p = rng.randrange(len(s))
        s = s[:p] + s[p:].lower()
    corpus.append(s)
corpus.append(cds(3999))
write("dna-bpe", bpe, corpus, spaced=False)

# ProtBert style WordPiece over residues.
AA = "LAGVESIKRDTPNQFYMHCWXUBZO"
vocab = {t: i for i, t in enumerate(SPECIALS + list(AA))}
wp = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
wp.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
wp.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
corpus = []
for i in range(300):
    s = "M" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rng.randint(10, 400)))
    if i % 7 == 1:
        s = s[:5] + "X" + s[6:]
    if i % 7 == 2:
        s = s[:3] + "U" + s[4:8] + "BZ" + s[10:] + "O"
    if i % 7 == 3:
        s = s[:4] + s[4:].lower()
    corpus.append(s)
corpus.append("M" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(4999)))
write("protein-wordpiece", wp, corpus, spaced=True)
