#!/usr/bin/env python3
"""Writes tests/fixtures/paralogs/: protein families with known paralogs,
for `dataset build --cluster` (MMseqs2) tests. Standard library only;
deterministic (seed 20261206).

- 12 families, 4 to 9 members each (72 genes): a random ancestor of 120 to
  260 residues (UniProt-like composition); each member is the ancestor with
  10-30% substitutions and a few 1-3 residue indels, so paralogs share
  about 55-85% identity over their whole length;
- 8 unrelated singletons;
- cds.fa: each protein back-translated with a random synonymous codon per
  residue, ending in a stop; labels.tsv: one binary task (`planted`, the
  family's parity, so the family decides it); families.tsv: the truth.
"""
import pathlib
import random

AA = "ACDEFGHIKLMNPQRSTVWY"
FREQ = [8.3, 1.4, 5.5, 6.7, 3.9, 7.1, 2.3, 5.9, 5.8, 9.7, 2.4, 4.1, 4.7, 3.9, 5.5, 6.6, 5.3, 6.9, 1.1, 2.9]
CODONS = {
    "A": ["GCT", "GCC", "GCA", "GCG"], "C": ["TGT", "TGC"], "D": ["GAT", "GAC"],
    "E": ["GAA", "GAG"], "F": ["TTT", "TTC"], "G": ["GGT", "GGC", "GGA", "GGG"],
    "H": ["CAT", "CAC"], "I": ["ATT", "ATC", "ATA"], "K": ["AAA", "AAG"],
    "L": ["TTA", "TTG", "CTT", "CTC", "CTA", "CTG"], "M": ["ATG"], "N": ["AAT", "AAC"],
    "P": ["CCT", "CCC", "CCA", "CCG"], "Q": ["CAA", "CAG"],
    "R": ["CGT", "CGC", "CGA", "CGG", "AGA", "AGG"],
    "S": ["TCT", "TCC", "TCA", "TCG", "AGT", "AGC"], "T": ["ACT", "ACC", "ACA", "ACG"],
    "V": ["GTT", "GTC", "GTA", "GTG"], "W": ["TGG"], "Y": ["TAT", "TAC"],
}

rng = random.Random(20261206)


def residue():
    return rng.choices(AA, weights=FREQ)[0]


def member(ancestor):
    rate = rng.uniform(0.10, 0.30)
    out = ["M"]
    for a in ancestor[1:]:
        r = rng.random()
        if r < 0.004:
            continue  # deletion
        out.append(residue() if rng.random() < rate else a)
        if r > 0.996:
            out.extend(residue() for _ in range(rng.randint(1, 3)))  # insertion
    return "".join(out)


genes = []  # (id, protein, family)
n = 0
for f in range(12):
    ancestor = "M" + "".join(residue() for _ in range(rng.randint(120, 260)))
    for _ in range(rng.randint(4, 9)):
        n += 1
        genes.append((f"PL{n:03d}", member(ancestor), f"fam{f + 1:02d}"))
for s in range(8):
    n += 1
    genes.append((f"PL{n:03d}", "M" + "".join(residue() for _ in range(rng.randint(120, 260))), f"single{s + 1}"))
rng.shuffle(genes)
genes.sort(key=lambda g: g[0])

out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/paralogs"
out.mkdir(parents=True, exist_ok=True)
with open(out / "proteins.fa", "w") as p, open(out / "cds.fa", "w") as c:
    for gid, prot, _ in genes:
        p.write(f">{gid}\n{prot}\n")
        c.write(f">{gid}\n" + "".join(rng.choice(CODONS[a]) for a in prot) + "TAA\n")
with open(out / "labels.tsv", "w") as l:
    l.write("gene_id\tplanted\n")
    for gid, _, fam in genes:
        l.write(f"{gid}\t{sum(map(ord, fam)) % 2}\n")
with open(out / "families.tsv", "w") as t:
    t.write("gene_id\tfamily\n")
    for gid, _, fam in genes:
        t.write(f"{gid}\t{fam}\n")
print(f"wrote {len(genes)} genes to {out}")
