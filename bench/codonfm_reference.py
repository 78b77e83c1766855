#!/usr/bin/env python3
"""Creates a random-weight NV-CodonFM Encodon (6 layers, 320 wide, 5 heads of 64, rotary over
whole heads) with NVIDIA's own modeling and tokenizer files, from a checkout of
github.com/NVIDIA-Digital-Bio/CodonFM (CODONFM_SRC, default /tmp/src/codonfm), saved as their
inference loader reads it (one .safetensors of the Lightning state dict, config.json beside
it), and times it on a FASTA of coding sequences (<CLS> codons <SEP>, padded to a multiple of 8
as their attention asserts, mean pooling), same thread count as genoprot. Their attention calls
xformers' memory_efficient_attention, which has no CPU kernel: on a CPU it is routed to
xformers' own reference implementation, as scripts/make_codonfm_fixture.py explains (on a GPU
their call runs as written). Needs torch, einops, safetensors, and transformers 4.54.1 +
xformers (see that script).
    codonfm_reference.py make MODEL_DIR FASTA N
    codonfm_reference.py time MODEL_DIR FASTA THREADS [DEVICE]"""
import json, os, sys
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_timing import setup, time_encoder, write_cds  # noqa: E402

sys.path.insert(0, os.environ.get("CODONFM_SRC", "/tmp/src/codonfm"))
device = sys.argv[5] if sys.argv[1] == "time" and len(sys.argv) > 5 else "cpu"
import xformers.ops  # noqa: E402
if not device.startswith("cuda"):
    from xformers.attn_bias_utils import ref_attention_bmhk  # noqa: E402

    def reference_attention(query, key, value, op=None, attn_bias=None, p=0.0):
        return ref_attention_bmhk(query, key, value, attn_bias).to(query.dtype)

    xformers.ops.memory_efficient_attention = reference_attention
import transformers.utils.import_utils as _iu  # noqa: E402
_iu._kernels_available = False
from safetensors.torch import load_file, save_file  # noqa: E402
from src.models.components.encodon import EnCodon  # noqa: E402
from src.models.components.encodon_config import EnCodonConfig  # noqa: E402
from src.tokenizer import Tokenizer  # noqa: E402

tok = Tokenizer()
if sys.argv[1] == "make":
    d, fasta, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    torch.manual_seed(0)
    hp = dict(vocab_size=69, hidden_size=320, num_hidden_layers=6, num_attention_heads=5,
              intermediate_size=1280, hidden_act="gelu", hidden_dropout_prob=0.0,
              attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12, pad_token_id=tok.pad_token_id,
              position_embedding_type="rotary", rotary_theta=1e4, max_position_embeddings=2048)
    m = EnCodon(EnCodonConfig(**{k: v for k, v in hp.items() if k in EnCodonConfig().to_dict()}))
    os.makedirs(d, exist_ok=True)
    save_file({f"model.{k}": v.contiguous() for k, v in m.state_dict().items()},
              os.path.join(d, "encodon.safetensors"))
    json.dump(hp, open(os.path.join(d, "config.json"), "w"))
    write_cds(fasta, n)
    sys.exit(0)

d, fasta, threads = sys.argv[2], sys.argv[3], int(sys.argv[4])
dev, seqs = setup(fasta, threads, device)
hp = json.load(open(os.path.join(d, "config.json")))
m = EnCodon(EnCodonConfig(**{k: v for k, v in hp.items() if k in EnCodonConfig().to_dict()}))
m.load_state_dict({k[len("model."):]: v for k, v in load_file(os.path.join(d, "encodon.safetensors")).items()})
m = m.eval().to(dev)


class Padded8:
    """Their forward, its rows padded to a multiple of 8 (their MHA asserts it), the LM head skipped."""

    def __call__(self, input_ids, attention_mask):
        pad = (-input_ids.shape[1]) % 8
        ids = torch.nn.functional.pad(input_ids, (0, pad), value=tok.pad_token_id)
        mask = torch.nn.functional.pad(attention_mask, (0, pad))
        return m.extract_embeddings(ids, mask)


def encode(s):
    return [tok.cls_token_id] + tok.encode(s) + [tok.sep_token_id]


time_encoder(Padded8(), seqs, encode, tok.pad_token_id, dev, threads)
