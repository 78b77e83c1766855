"""Helpers shared by the fixture scripts (make_esm_fixtures.py, make_bert_fixtures.py)."""
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
