"""Helpers shared by the fixture scripts (make_esm_fixtures.py, make_bert_fixtures.py,
make_t5_fixtures.py, make_codon_fixtures.py, make_codonfm_fixture.py) and bench/t5_reference.py."""
import torch


def perturb(model):
    """LayerNorm and bias weights moved off their defaults, so mishandling them shows."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if any(k in n for k in ("LayerNorm", "layer_norm", "layernorm", "_ln")) or n.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.2)


def windows(n, w):
    """genoprot's windows of a row of n tokens: w tokens each, stride w, the last aligned to the end."""
    if n <= w:
        return [(0, n)]
    out, s = [], 0
    while True:
        if s + w >= n:
            out.append((n - w, n))
            break
        out.append((s, s + w))
        s += w
    return out


def window_pieces(enc, w, first, last):
    """Every sequence's token ids (no specials) cut into genoprot's windows of w tokens, each
    between `first` and `last`: (sequence index, row) in order."""
    return [(i, [first] + ids[a:b] + [last]) for i, ids in enumerate(enc) for (a, b) in windows(len(ids), w)]


def window_refs(seqs, enc, pieces, last, layer1, layer0):
    """reference.json's records: per sequence its ids, its window count, the mean over its
    windows (weighted by their token counts) of each window's inner-token mean of the last
    layer, of layer 1 and of layer 0 ([rows, L, d] hidden states of the `pieces` batch), and
    the mean <CLS> vector (row position 0) of the last layer."""
    refs = []
    for i, ids in enumerate(enc):
        parts = [(k, p) for k, (j, p) in enumerate(pieces) if j == i]
        rec = {"sequence": seqs[i], "ids": ids, "windows": len(parts)}
        for name, h in [("", last), ("_layer1", layer1), ("_layer0", layer0)]:
            means, lens = [], []
            for k, p in parts:
                m = len(p) - 2
                means.append(h[k, 1:1 + m].mean(0)); lens.append(m)
            w = torch.tensor(lens, dtype=torch.float32) / sum(lens)
            rec[f"mean{name}"] = sum(wi * x for wi, x in zip(w, means)).tolist()
        rec["cls"] = (sum(last[k, 0] for k, _ in parts) / len(parts)).tolist()
        refs.append(rec)
    return refs


def spiece(path, residues="ALGVSREDTIPKFQNYMHWCXBOUZ"):
    """A ProtT5-like unigram model: <pad> </s> <unk>, then ▁-prefixed residues, a bare ▁."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2
    m = sp_pb2.ModelProto()
    S = sp_pb2.ModelProto.SentencePiece
    for text, ty in [("<pad>", S.CONTROL), ("</s>", S.CONTROL), ("<unk>", S.UNKNOWN)]:
        p = m.pieces.add()
        p.piece, p.score, p.type = text, 0.0, ty
    for i, r in enumerate(residues):
        p = m.pieces.add()
        p.piece, p.score, p.type = "\u2581" + r, -1.0 - 0.1 * i, S.NORMAL
    p = m.pieces.add()
    p.piece, p.score, p.type = "\u2581", -30.0, S.NORMAL
    m.trainer_spec.model_type = sp_pb2.TrainerSpec.UNIGRAM
    m.trainer_spec.unk_id, m.trainer_spec.eos_id, m.trainer_spec.pad_id, m.trainer_spec.bos_id = 2, 1, 0, -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = True
    open(path, "wb").write(m.SerializeToString())
    return len(m.pieces)


def hub_cache(root, name, folder, files):
    """`folder` as huggingface_hub caches `genoprot-test/<name>` under root/hf-cache/hub
    (blobs/<sha256>, a snapshot of relative symlinks, refs/main), so the hub id resolves
    offline with HF_HUB_CACHE=fixtures/hf-cache/hub."""
    import hashlib, os, shutil
    repo = os.path.join(root, "hf-cache", "hub", f"models--genoprot-test--{name}")
    shutil.rmtree(repo, ignore_errors=True)
    commit = hashlib.sha1(f"genoprot-test/{name} fixture".encode()).hexdigest()
    snap = os.path.join(repo, "snapshots", commit)
    for sub in ("blobs", snap, "refs"):
        os.makedirs(os.path.join(repo, sub), exist_ok=True)
    for f in files:
        data = open(os.path.join(folder, f), "rb").read()
        blob = hashlib.sha256(data).hexdigest()
        open(os.path.join(repo, "blobs", blob), "wb").write(data)
        os.symlink(os.path.join("..", "..", "blobs", blob), os.path.join(snap, f))
    open(os.path.join(repo, "refs", "main"), "w").write(commit)
    print(f"wrote {repo}")
