"""Helpers shared by the fixture scripts (make_esm_fixtures.py, make_bert_fixtures.py,
make_t5_fixtures.py) and bench/t5_reference.py."""
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
