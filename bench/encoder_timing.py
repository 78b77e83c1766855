"""The transformers side of bench/native.sh, shared by esm_reference.py and
bert_reference.py: times a model on sequences in input order and sorted by
length (batch 8, mean pooling, embeddings copied off the device) and prints
one line per order plus a `REF name|seconds` line."""
import random, time
import torch


def write_proteins(fasta, n):
    """n random proteins of human-proteome-like lengths (median ~270), seed 1."""
    rng = random.Random(1)
    with open(fasta, "w") as f:
        for i in range(n):
            L = int(min(1000, max(30, rng.lognormvariate(5.6, 0.5))))
            f.write(f">p{i}\n" + "".join(rng.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(L)) + "\n")


def write_cds(fasta, n):
    """n random coding sequences of the same codon counts as write_proteins' lengths
    (ATG, random sense codons, a stop), seed 1."""
    rng = random.Random(1)
    stops = {"TAA", "TAG", "TGA"}
    sense = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in stops]
    with open(fasta, "w") as f:
        for i in range(n):
            L = int(min(1000, max(30, rng.lognormvariate(5.6, 0.5))))
            f.write(f">c{i}\n" + "ATG" + "".join(rng.choice(sense) for _ in range(L - 2)) + "TAA\n")


def setup(fasta, threads, device):
    """The device and thread count, and the sequences of the FASTA."""
    torch.set_num_threads(threads)
    seqs = [l.strip() for l in open(fasta) if not l.startswith(">")]
    return torch.device(device), seqs


def time_encoder(m, seqs, encode, pad, dev, threads):
    """encode(seq) -> token ids with specials; pad: the padding id."""
    tokens = sum(len(s) + 2 for s in seqs)

    def run(order, batch):
        with torch.inference_mode():
            for k in range(0, len(order), batch):
                chunk = [encode(seqs[i]) for i in order[k:k + batch]]
                L = max(len(t) for t in chunk)
                ids = torch.full((len(chunk), L), pad)
                for r, t in enumerate(chunk):
                    ids[r, :len(t)] = torch.tensor(t)
                ids = ids.to(dev)
                h = m(input_ids=ids, attention_mask=(ids != pad).long()).last_hidden_state
                _ = h.mean(1).cpu()  # the embeddings leave the device, as genoprot's do

    run(list(range(4)), 4)
    for name, order in [("input order, batch 8", list(range(len(seqs)))),
                        ("sorted by length, batch 8", sorted(range(len(seqs)), key=lambda i: len(seqs[i])))]:
        t = time.perf_counter()
        run(order, 8)
        s = time.perf_counter() - t
        where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{threads} threads"
        print(f"transformers {torch.__version__} ({where}, {name}): {tokens} tokens in {s:.2f} s = {tokens / s:.0f} tokens/s")
        print(f"REF {name}|{s}")
