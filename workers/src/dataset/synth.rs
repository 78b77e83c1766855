//! `dataset synth`: a planted-signal dataset that looks like matched human
//! genes and proteins, for the demo and the tests.
//!
//! Protein families are generated (each with a fold class that sets its amino
//! acid composition, and family features: transmembrane segments, a signal
//! peptide, a nuclear localization signal, a catalytic motif, ligand-binding
//! motifs, an interface motif), members are mutated copies of the family
//! ancestor, and every protein is back-translated with a gene-specific codon
//! bias (GC3 preference) that no protein sequence can reveal. Attributes are
//! tied to these features, so which model kind should recover which attribute
//! is known (the `signal` field of each task; docs/dataset.md has the table):
//!
//! | task | kind | signal |
//! |---|---|---|
//! | membrane | binary | protein (2–4 hydrophobic TM segments) |
//! | fold_class | multiclass | protein (family composition) |
//! | disorder | regression | protein (fraction of P/E/S/Q/K) |
//! | enzyme | binary | protein (3 × HExxH motif) |
//! | localization | multiclass | protein (signal peptide / TM / NLS) |
//! | ligand_binding | multilabel | protein (ligand motifs) |
//! | expression | regression | dna (codon GC3 bias only) |
//! | essential | binary | both (C/W/H richness + codon bias) |
//! | disease | binary | both (TM segments + codon bias) |
//! | interact | pair | protein (same interface motif) |
//! | colocalize | pair | protein (same localization) |
//! | share_ligand | pair | protein (a common ligand motif) |
//!
//! Families are the gene groups, so default splits keep a family within one
//! split: probes must learn the features, not memorize families.

use super::tasks::{Label, Scope, TaskKind, TaskSpec};
use super::translate::codons_of;
use super::{Dataset, Gene, InputRecord, Manifest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Normal};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub genes: usize,
    pub seed: u64,
    /// Protein length range of family ancestors (residues).
    pub min_len: usize,
    pub max_len: usize,
    /// Positive (and as many negative) pairs per pair task, per gene.
    pub pairs_per_gene: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            genes: 400,
            seed: 7,
            min_len: 80,
            max_len: 320,
            pairs_per_gene: 2.0,
        }
    }
}

const AA: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";
/// Roughly the human proteome's background composition (percent), AA order.
const BACKGROUND: [f64; 20] = [
    7.0, 2.3, 4.7, 7.1, 3.7, 6.6, 2.6, 4.4, 5.7, 10.0, 2.1, 3.6, 6.3, 4.8, 5.7, 8.3, 5.4, 6.0, 1.2,
    2.7,
];
const FOLD_CLASSES: [&str; 4] = ["alpha", "beta", "alpha_beta", "disordered"];
/// Residues each fold class enriches.
const FOLD_ENRICH: [&[u8]; 4] = [b"ALEKMQR", b"VIYFTW", b"AVLIG", b"PESQKG"];
const LIGANDS: [&str; 4] = ["NAD", "ATP", "ZN", "HEME"];
const LIGAND_MOTIFS: [&[u8]; 4] = [b"GAGGVG", b"GPSGSGKST", b"CPHCGKSF", b"CAACHGF"];
const INTERFACE_MOTIFS: [&[u8]; 4] = [b"LKDLLSE", b"PPLPPRP", b"WSEWGPW", b"RGDSPAS"];
const LOCALIZATIONS: [&str; 4] = ["cytoplasm", "membrane", "nucleus", "secreted"];
const DISORDER: &[u8] = b"PESQK";

struct Family {
    ancestor: Vec<u8>,
    fold: usize,
    membrane: bool,
    signal_peptide: bool,
    nls: bool,
    enzyme: bool,
    ligands: Vec<usize>,
    interface: usize,
}

fn composition(fold: usize) -> Vec<f64> {
    let mut w = BACKGROUND.to_vec();
    for (i, a) in AA.iter().enumerate() {
        if FOLD_ENRICH[fold].contains(a) {
            w[i] *= 2.2;
        }
    }
    w
}

fn draw_aa(rng: &mut ChaCha8Rng, w: &[f64]) -> u8 {
    let total: f64 = w.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, wi) in w.iter().enumerate() {
        x -= wi;
        if x <= 0.0 {
            return AA[i];
        }
    }
    AA[19]
}

fn place(seq: &mut [u8], motif: &[u8], rng: &mut ChaCha8Rng, from: usize) {
    if seq.len() < from + motif.len() + 1 {
        return;
    }
    let at = rng.random_range(from..seq.len() - motif.len());
    seq[at..at + motif.len()].copy_from_slice(motif);
}

fn hydrophobic_segment(rng: &mut ChaCha8Rng) -> Vec<u8> {
    (0..20)
        .map(|_| b"LIVFAMLLIV"[rng.random_range(0..10)])
        .collect()
}

/// What a gene's labels are computed from (its family, planted features
/// and latents).
struct G {
    fam: usize,
    tm: bool,
    enzyme: bool,
    ligands: Vec<usize>,
    loc: usize,
    chw: f64,
    gc3: f64,
}

/// The protein families: fold, composition, ancestor and features.
fn families(rng: &mut ChaCha8Rng, cfg: &SynthConfig, n_fam: usize) -> Vec<Family> {
    (0..n_fam)
        .map(|_| {
            let fold = rng.random_range(0..4);
            let len = rng.random_range(cfg.min_len..=cfg.max_len.max(cfg.min_len));
            let comp = composition(fold);
            let mut ancestor: Vec<u8> = (0..len).map(|_| draw_aa(rng, &comp)).collect();
            ancestor[0] = b'M';
            Family {
                ancestor,
                fold,
                membrane: rng.random_bool(0.3),
                signal_peptide: rng.random_bool(0.2),
                nls: rng.random_bool(0.3),
                enzyme: rng.random_bool(0.35),
                ligands: (0..4).filter(|_| rng.random_bool(0.3)).collect(),
                interface: rng.random_range(0..4),
            }
        })
        .collect()
}

/// A member of a family: the ancestor with substitutions and small indels.
fn mutate(rng: &mut ChaCha8Rng, fam: &Family, comp: &[f64]) -> Vec<u8> {
    // Mutate the ancestor: substitutions and small indels.
    let rate = 0.15 + 0.2 * rng.random::<f64>();
    let mut p: Vec<u8> = Vec::with_capacity(fam.ancestor.len() + 16);
    for (k, &a) in fam.ancestor.iter().enumerate() {
        if k > 0 && rng.random_bool(0.01) {
            continue; // deletion
        }
        p.push(if k > 0 && rng.random_bool(rate) {
            draw_aa(rng, comp)
        } else {
            a
        });
        if k > 0 && rng.random_bool(0.01) {
            p.push(draw_aa(rng, comp)); // insertion
        }
    }
    p
}

/// The gene-level protein latent (C/W/H richness), planted; returns it.
fn plant_chw(rng: &mut ChaCha8Rng, p: &mut [u8], normal: &Normal<f64>) -> f64 {
    // Gene-level protein latent: cysteine/tryptophan/histidine richness.
    let chw: f64 = normal.sample(rng);
    let frac = (0.05 + 0.035 * chw).clamp(0.0, 0.16);
    for a in p.iter_mut().skip(1) {
        if rng.random_bool(frac) {
            *a = b"CWH"[rng.random_range(0..3)];
        }
    }
    chw
}

/// The family's features, each occasionally lost in a member, planted as
/// segments and motifs; returns (tm, enzyme, ligands, localization).
fn plant_features(
    rng: &mut ChaCha8Rng,
    p: &mut [u8],
    fam: &Family,
    comp: &[f64],
) -> (bool, bool, Vec<usize>, usize) {
    // Family features, each occasionally lost in a member.
    let keep = |rng: &mut ChaCha8Rng, flag: bool| flag && rng.random_bool(0.92);
    let tm = keep(rng, fam.membrane);
    let sp = keep(rng, fam.signal_peptide);
    let nls = keep(rng, fam.nls);
    let enzyme = keep(rng, fam.enzyme);
    let ligands: Vec<usize> = fam
        .ligands
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.92))
        .collect();
    if tm {
        for _ in 0..rng.random_range(2..=4) {
            let seg = hydrophobic_segment(rng);
            place(p, &seg, rng, 30);
        }
    }
    // Motifs come in a few copies (repeated domains), so that both
    // composition baselines and sequence models can pick them up.
    if enzyme {
        for _ in 0..3 {
            let m = [b'H', b'E', draw_aa(rng, comp), draw_aa(rng, comp), b'H'];
            place(p, &m, rng, 25);
        }
    }
    for &l in &ligands {
        for _ in 0..2 {
            place(p, LIGAND_MOTIFS[l], rng, 25);
        }
    }
    for _ in 0..3 {
        place(p, INTERFACE_MOTIFS[fam.interface], rng, 25);
    }
    if nls {
        for _ in 0..2 {
            place(p, b"PKKKRKV", rng, 25);
        }
    }
    if sp && p.len() > 24 {
        let mut s = b"MKKLLLALLAALAVSQA".to_vec();
        s.truncate(p.len() - 1);
        p[..s.len()].copy_from_slice(&s);
    }
    p[0] = b'M';
    let loc = if sp {
        3
    } else if tm {
        1
    } else if nls {
        2
    } else {
        0
    };

    (tm, enzyme, ligands, loc)
}

/// The CDS: the protein back-translated with a gene-specific GC3
/// preference, then a stop codon; returns it and the preference.
fn back_translate(rng: &mut ChaCha8Rng, p: &[u8], beta: &Beta<f64>) -> (Vec<u8>, f64) {
    // Back-translate with a gene-specific GC3 preference.
    let gc3: f64 = beta.sample(rng);
    let p_gc3 = 0.2 + 0.6 * gc3;
    let mut cds = Vec::with_capacity(p.len() * 3 + 3);
    for &a in p {
        let all = codons_of(a);
        let (gc, at): (Vec<&[u8; 3]>, Vec<&[u8; 3]>) =
            all.iter().partition(|c| matches!(c[2], b'G' | b'C'));
        let pool = if gc.is_empty() {
            &at
        } else if at.is_empty() || rng.random_bool(p_gc3) {
            &gc
        } else {
            &at
        };
        cds.extend_from_slice(pool[rng.random_range(0..pool.len())]);
    }
    let stops = codons_of(b'*');
    cds.extend_from_slice(&stops[rng.random_range(0..stops.len())]);

    (cds, gc3)
}

/// The twelve tasks and what carries each one's signal.
fn task_specs() -> Vec<TaskSpec> {
    let task =
        |name: &str, kind: TaskKind, cat: &str, classes: &[&str], signal: &str, d: &str| TaskSpec {
            name: name.into(),
            scope: Scope::Gene,
            kind,
            category: cat.into(),
            classes: classes.iter().map(|s| s.to_string()).collect(),
            description: d.into(),
            signal: Some(signal.into()),
        };
    let pair_task = |name: &str, d: &str| TaskSpec {
        name: name.into(),
        scope: Scope::Pair,
        kind: TaskKind::Binary,
        category: "interaction".into(),
        classes: vec![],
        description: d.into(),
        signal: Some("protein".into()),
    };
    vec![
        task(
            "membrane",
            TaskKind::Binary,
            "structural",
            &[],
            "protein",
            "has transmembrane segments",
        ),
        task(
            "fold_class",
            TaskKind::Multiclass,
            "structural",
            &FOLD_CLASSES,
            "protein",
            "family fold class (sets composition)",
        ),
        task(
            "disorder",
            TaskKind::Regression,
            "structural",
            &[],
            "protein",
            "fraction of disorder-promoting residues P/E/S/Q/K",
        ),
        task(
            "enzyme",
            TaskKind::Binary,
            "functional",
            &[],
            "protein",
            "carries the HExxH catalytic motif",
        ),
        task(
            "localization",
            TaskKind::Multiclass,
            "functional",
            &LOCALIZATIONS,
            "protein",
            "signal peptide → secreted, TM → membrane, NLS → nucleus, else cytoplasm",
        ),
        task(
            "ligand_binding",
            TaskKind::Multilabel,
            "functional",
            &LIGANDS,
            "protein",
            "ligand-binding motifs present",
        ),
        task(
            "expression",
            TaskKind::Regression,
            "functional",
            &[],
            "dna",
            "set by the gene's codon GC3 bias only (invisible in the protein)",
        ),
        task(
            "essential",
            TaskKind::Binary,
            "biomedical",
            &[],
            "both",
            "C/W/H richness (protein) plus codon GC3 bias (DNA)",
        ),
        task(
            "disease",
            TaskKind::Binary,
            "biomedical",
            &[],
            "both",
            "transmembrane segments (protein) plus codon GC3 bias (DNA)",
        ),
        pair_task("interact", "same interface motif family"),
        pair_task("colocalize", "same localization class"),
        pair_task("share_ligand", "bind a common ligand"),
    ]
}

/// Per-gene labels of every gene task.
fn gene_labels(
    rng: &mut ChaCha8Rng,
    genes: &[Gene],
    meta: &[G],
    families: &[Family],
    normal: &Normal<f64>,
) -> BTreeMap<String, Vec<(u32, Label)>> {
    let mut gene_labels: BTreeMap<String, Vec<(u32, Label)>> = BTreeMap::new();
    let mut put = |t: &str, v: Vec<(u32, Label)>| {
        gene_labels.insert(t.to_string(), v);
    };
    let idx = |i: usize| i as u32;
    put(
        "membrane",
        meta.iter()
            .enumerate()
            .map(|(i, m)| (idx(i), Label::Binary(m.tm)))
            .collect(),
    );
    put(
        "fold_class",
        meta.iter()
            .enumerate()
            .map(|(i, m)| (idx(i), Label::Class(families[m.fam].fold as u32)))
            .collect(),
    );
    let mut dis = Vec::new();
    for (i, g) in genes.iter().enumerate() {
        let f = g.protein.iter().filter(|a| DISORDER.contains(a)).count() as f64
            / g.protein.len() as f64;
        dis.push((idx(i), Label::Value((f + 0.01 * normal.sample(rng)) as f32)));
    }
    put("disorder", dis);
    put(
        "enzyme",
        meta.iter()
            .enumerate()
            .map(|(i, m)| (idx(i), Label::Binary(m.enzyme)))
            .collect(),
    );
    put(
        "localization",
        meta.iter()
            .enumerate()
            .map(|(i, m)| (idx(i), Label::Class(m.loc as u32)))
            .collect(),
    );
    put(
        "ligand_binding",
        meta.iter()
            .enumerate()
            .filter(|(_, m)| !m.ligands.is_empty())
            .map(|(i, m)| {
                let mut v: Vec<u32> = m.ligands.iter().map(|l| *l as u32).collect();
                v.sort_unstable();
                (idx(i), Label::Multi(v))
            })
            .collect(),
    );
    let z = |gc3: f64| (gc3 - 0.5) / 0.2236; // Beta(2,2) sd
    let mut expr = Vec::new();
    let mut ess = Vec::new();
    let mut disease = Vec::new();
    for (i, m) in meta.iter().enumerate() {
        expr.push((
            idx(i),
            Label::Value((2.0 * z(m.gc3) + 0.4 * normal.sample(rng)) as f32),
        ));
        let e = 1.2 * m.chw + 1.2 * z(m.gc3) + 0.5 * normal.sample(rng);
        ess.push((idx(i), Label::Binary(e > 0.0)));
        let d = 2.0 * (m.tm as u8 as f64 - 0.3) + 1.2 * z(m.gc3) + 0.5 * normal.sample(rng);
        disease.push((idx(i), Label::Binary(d > 0.3)));
    }
    put("expression", expr);
    put("essential", ess);
    put("disease", disease);

    gene_labels
}

/// Pair labels: positives by each pair task's criterion, as many
/// negatives, all sampled.
fn pair_labels(
    rng: &mut ChaCha8Rng,
    meta: &[G],
    families: &[Family],
    n: usize,
    n_pairs: usize,
) -> BTreeMap<String, Vec<(u32, u32, Label)>> {
    let mut pair_labels: BTreeMap<String, Vec<(u32, u32, Label)>> = BTreeMap::new();
    type Criterion<'a> = Box<dyn Fn(&G, &G) -> bool + 'a>;
    let criteria: [(&str, Criterion); 3] = [
        (
            "interact",
            Box::new(|a: &G, b: &G| families[a.fam].interface == families[b.fam].interface),
        ),
        ("colocalize", Box::new(|a: &G, b: &G| a.loc == b.loc)),
        (
            "share_ligand",
            Box::new(|a: &G, b: &G| a.ligands.iter().any(|l| b.ligands.contains(l))),
        ),
    ];
    for (name, crit) in criteria.iter() {
        let mut seen = HashSet::new();
        let (mut pos, mut neg) = (0usize, 0usize);
        let mut v = Vec::new();
        let mut tries = 0usize;
        while (pos < n_pairs || neg < n_pairs) && tries < n_pairs * 200 {
            tries += 1;
            let a = rng.random_range(0..n);
            let b = rng.random_range(0..n);
            if a == b {
                continue;
            }
            let k = (a.min(b) as u32, a.max(b) as u32);
            if seen.contains(&k) {
                continue;
            }
            let y = crit(&meta[a], &meta[b]);
            if (y && pos >= n_pairs) || (!y && neg >= n_pairs) {
                continue;
            }
            seen.insert(k);
            if y {
                pos += 1
            } else {
                neg += 1
            }
            v.push((k.0, k.1, Label::Binary(y)));
        }
        v.sort_by_key(|(a, b, _)| (*a, *b));
        pair_labels.insert(name.to_string(), v);
    }

    pair_labels
}

/// Generates the dataset in memory. Random draws come in one order —
/// families, then each gene (mutations, latent, features, codons), then
/// labels, then pairs — so a seed gives the same dataset byte for byte.
pub fn synthesize(cfg: &SynthConfig) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let n = cfg.genes.max(8);
    let n_fam = (n / 12).max(6);
    let families = families(&mut rng, cfg, n_fam);
    let beta = Beta::new(2.0, 2.0).unwrap();
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut genes = Vec::with_capacity(n);
    let mut meta = Vec::with_capacity(n);
    for i in 0..n {
        let fam_i = i % n_fam;
        let fam = &families[fam_i];
        let comp = composition(fam.fold);
        let mut p = mutate(&mut rng, fam, &comp);
        let chw = plant_chw(&mut rng, &mut p, &normal);
        let (tm, enzyme, ligands, loc) = plant_features(&mut rng, &mut p, fam, &comp);
        let (cds, gc3) = back_translate(&mut rng, &p, &beta);
        genes.push(Gene {
            id: format!("GP{:05}", i + 1),
            symbol: format!("SYN{}", i + 1),
            group: format!("fam{:03}", fam_i + 1),
            cds,
            protein: p,
        });
        meta.push(G {
            fam: fam_i,
            tm,
            enzyme,
            ligands,
            loc,
            chw,
            gc3,
        });
    }
    let tasks = task_specs();
    let gene_labels = gene_labels(&mut rng, &genes, &meta, &families, &normal);
    let n_pairs = ((n as f64) * cfg.pairs_per_gene) as usize;
    let pair_labels = pair_labels(&mut rng, &meta, &families, n, n_pairs);
    let grouping = Some(super::cluster::Grouping::counted("synth", &genes));
    Dataset {
        genes,
        tasks,
        gene_labels,
        pair_labels,
        manifest: Manifest {
            inputs: vec![InputRecord {
                role: "synth".into(),
                path: format!(
                    "genes={} seed={} len={}..{} pairs_per_gene={}",
                    n, cfg.seed, cfg.min_len, cfg.max_len, cfg.pairs_per_gene
                ),
                sha256: String::new(),
                bytes: 0,
            }],
            grouping,
            ..Default::default()
        },
    }
}
