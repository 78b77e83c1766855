#!/usr/bin/env python3
"""Saves the tiny ESM-2-style fixture (fixtures/esm2-tiny) in every layout a
Hugging Face folder comes in, with transformers' own save_pretrained, for the
weights-layer tests (fixtures are committed; CI never runs this):

* fixtures/layouts/esm2-tiny-bin:          pytorch_model.bin (zip checkpoint)
* fixtures/layouts/esm2-tiny-sharded-bin:  pytorch_model.bin.index.json + shards
* fixtures/layouts/esm2-tiny-sharded-st:   model.safetensors.index.json + shards
* fixtures/hf-cache/hub/models--genoprot-test--esm2-tiny: a hub cache as
  huggingface_hub lays it out (blobs/<sha256>, snapshots/<commit>/ with
  relative symlinks into blobs/, refs/main), so `weights: genoprot-test/esm2-tiny`
  resolves offline with HF_HUB_CACHE=fixtures/hf-cache/hub.

Needs torch + transformers (PyPI), e.g. the venv scripts/tch-check.sh makes:
    .venv-tch/bin/pip install transformers && .venv-tch/bin/python scripts/make_hf_layouts.py
"""
import hashlib, json, os, shutil
import torch
from transformers import EsmModel

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
src = os.path.join(root, "esm2-tiny")
model = EsmModel.from_pretrained(src)

def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d

def with_vocab(d):
    for f in ("vocab.txt",):
        shutil.copy(os.path.join(src, f), d)

state = {k: v.contiguous() for k, v in model.state_dict().items()}

def save_bin(d, shards):
    """pytorch_model.bin as transformers 4 wrote it (torch.save zip
    checkpoints), whole or in `shards` files with the index JSON."""
    model.config.save_pretrained(d)
    keys = list(state)
    if shards == 1:
        torch.save(state, os.path.join(d, "pytorch_model.bin"))
        return
    weight_map, total = {}, 0
    for s in range(shards):
        part = {k: state[k] for k in keys[s::shards]}
        f = f"pytorch_model-{s + 1:05d}-of-{shards:05d}.bin"
        torch.save(part, os.path.join(d, f))
        for k, v in part.items():
            weight_map[k] = f
            total += v.numel() * v.element_size()
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fh, indent=2)

def check(d):
    files = sorted(os.listdir(d))
    loaded = {}
    for f in files:
        if f.endswith(".bin"):
            loaded.update(torch.load(os.path.join(d, f), weights_only=True))
    if loaded:
        for k, v in state.items():
            assert torch.equal(loaded[k], v), k
    else:
        again = EsmModel.from_pretrained(d)
        for (a, x), (b, y) in zip(state.items(), again.state_dict().items()):
            assert a == b and torch.equal(x, y), a
    print(f"wrote {d}: {files}")

for name, shards in [("esm2-tiny-bin", 1), ("esm2-tiny-sharded-bin", 3)]:
    d = fresh(os.path.join(root, "layouts", name))
    save_bin(d, shards)
    with_vocab(d)
    check(d)
d = fresh(os.path.join(root, "layouts", "esm2-tiny-sharded-st"))
model.save_pretrained(d, max_shard_size="30KB")
with_vocab(d)
check(d)

# The hub cache layout.
repo = fresh(os.path.join(root, "hf-cache", "hub", "models--genoprot-test--esm2-tiny"))
commit = hashlib.sha1(b"genoprot-test/esm2-tiny fixture").hexdigest()
snap = os.path.join(repo, "snapshots", commit)
os.makedirs(os.path.join(repo, "blobs"))
os.makedirs(snap)
os.makedirs(os.path.join(repo, "refs"))
for f in ("config.json", "model.safetensors", "vocab.txt"):
    data = open(os.path.join(src, f), "rb").read()
    blob = hashlib.sha256(data).hexdigest()
    open(os.path.join(repo, "blobs", blob), "wb").write(data)
    os.symlink(os.path.join("..", "..", "blobs", blob), os.path.join(snap, f))
open(os.path.join(repo, "refs", "main"), "w").write(commit)
print(f"wrote {repo} (snapshot {commit})")
