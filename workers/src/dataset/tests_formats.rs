//! Dataset tests on public formats (Ensembl, UniProt, STRING, GAF), gzip,
//! the synthetic set's round trip, and splits.

use super::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/public")
        .join(name)
}

#[test]
fn public_formats_ensembl_uniprot_idmap_string_gaf_uniprot_tsv() {
    let inp = Inputs {
        cds: fixture("ensembl_cds.fa"),
        proteins: fixture("uniprot.fa"),
        id_map: Some(fixture("id_map.tsv")),
        string: Some(fixture("string_links.txt")),
        gaf: Some(fixture("sample.gaf")),
        uniprot: Some(fixture("uniprot.tsv")),
        ..Default::default()
    };
    let opts = BuildOptions {
        gaf_min_genes: 2,
        ..Default::default()
    };
    let (ds, w) = ingest(&inp, &opts).unwrap_or_else(|e| panic!("{}", e.report(50)));
    let ids: Vec<&str> = ds.genes.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ENSG00000000001",
            "ENSG00000000002",
            "ENSG00000000005",
            "ENSG00000000006"
        ]
    );
    assert_eq!(ds.genes[0].symbol, "ALPHA1");
    // ALPHA1 has two transcripts; the one that translates to the protein is kept.
    assert_eq!(ds.genes[0].cds.len(), 23 * 3);
    let rules: Vec<&str> = w.items.iter().map(|f| f.rule).collect();
    assert!(
        rules.contains(&"missing-cds") && rules.contains(&"missing-protein"),
        "{rules:?}"
    );
    // UniProt TSV: membrane (EPS5), disease (BETA2, EPS5), localization, GO MF, pairs.
    let g = |id: &str| ds.gene_index(id).unwrap();
    let tm = &ds.gene_labels["membrane"];
    assert!(tm.contains(&(g("ENSG00000000005"), Label::Binary(true))));
    assert!(tm.contains(&(g("ENSG00000000001"), Label::Binary(false))));
    let dis = &ds.gene_labels["disease"];
    assert!(dis.contains(&(g("ENSG00000000002"), Label::Binary(true))));
    let loc = ds.task("localization").unwrap();
    let l1 = &ds.gene_labels["localization"]
        .iter()
        .find(|(i, _)| *i == g("ENSG00000000001"))
        .unwrap()
        .1;
    assert_eq!(loc.format_label(l1), "cytoplasm;nucleus");
    assert_eq!(
        ds.task("go_function").unwrap().classes,
        ["GO:0003677", "GO:0005524"]
    );
    // GAF: IEA and NOT rows dropped; BETA2 has only GO:0003677 in F.
    let mf = ds.task("go_mf").unwrap();
    let b2 = &ds.gene_labels["go_mf"]
        .iter()
        .find(|(i, _)| *i == g("ENSG00000000002"))
        .unwrap()
        .1;
    assert_eq!(mf.format_label(b2), "GO:0003677");
    let a1 = &ds.gene_labels["go_mf"]
        .iter()
        .find(|(i, _)| *i == g("ENSG00000000001"))
        .unwrap()
        .1;
    assert_eq!(mf.format_label(a1), "GO:0003677");
    assert!(ds.task("go_cc").is_some());
    // STRING: ≥700 positives among known genes (ENSP ids mapped via the id map).
    let inter = &ds.pair_labels["interact"];
    let pos: Vec<(u32, u32)> = inter
        .iter()
        .filter(|(_, _, l)| *l == Label::Binary(true))
        .map(|(a, b, _)| (*a, *b))
        .collect();
    assert!(pos.contains(&(g("ENSG00000000001"), g("ENSG00000000002"))));
    assert!(pos.contains(&(g("ENSG00000000005"), g("ENSG00000000006"))));
    assert!(
        !pos.contains(&(g("ENSG00000000002"), g("ENSG00000000006"))),
        "score 300 is below 700"
    );
    assert!(
        ds.pair_labels.contains_key("colocalize") && ds.pair_labels.contains_key("share_ligand")
    );

    // Without the id map, Ensembl gene ids and UniProt accessions do not meet;
    // matching by symbol works instead.
    let mut no_map = inp.clone();
    no_map.id_map = None;
    no_map.string = None;
    assert!(ingest(&no_map, &opts).is_err());
    let (ds2, _) = ingest(
        &no_map,
        &BuildOptions {
            key: GeneKey::Symbol,
            ..opts.clone()
        },
    )
    .unwrap();
    let ids: Vec<&str> = ds2.genes.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["ALPHA1", "BETA2", "EPS5", "ZETA6"]);
    // Longest picks the transcript that does not match: a translation error.
    let e = ingest(
        &inp,
        &BuildOptions {
            cds_choice: CdsChoice::Longest,
            ..opts
        },
    )
    .unwrap_err();
    assert!(
        e.errors()
            .any(|f| f.rule == "translation" && f.id.as_deref() == Some("ENSG00000000001"))
    );
}

#[test]
fn gzip_inputs_are_read() {
    let f = Files::new();
    let gz = |name: &str, text: &str| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
        let p = f.dir.path().join(name);
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        p
    };
    let inp = Inputs {
        cds: gz("c.fa.gz", &good_cds()),
        proteins: gz("p.fa.gz", &good_prot()),
        ..Default::default()
    };
    assert_eq!(
        ingest(&inp, &BuildOptions::default())
            .unwrap()
            .0
            .genes
            .len(),
        3
    );
}

#[test]
fn synth_round_trips_through_build_and_validate() {
    let d = tempfile::tempdir().unwrap();
    let mut ds = synth::synthesize(&synth::SynthConfig {
        genes: 120,
        seed: 3,
        ..Default::default()
    });
    let a = d.path().join("a");
    ds.write(&a, false).unwrap();
    // Same seed → same content hash; another seed → another.
    assert_eq!(
        synth::synthesize(&synth::SynthConfig {
            genes: 120,
            seed: 3,
            ..Default::default()
        })
        .content_hash(),
        ds.manifest.dataset_hash
    );
    assert_ne!(
        synth::synthesize(&synth::SynthConfig {
            genes: 120,
            seed: 4,
            ..Default::default()
        })
        .content_hash(),
        ds.manifest.dataset_hash
    );
    let v = validate_dir(&a, true).unwrap_or_else(|e| panic!("{}", e.report(20)));
    assert_eq!(v.genes, ds.genes);
    assert_eq!(v.gene_labels, ds.gene_labels);
    assert_eq!(v.pair_labels, ds.pair_labels);
    assert_eq!(v.tasks, ds.tasks);
    // Build from the synthetic folder's own files (+ groups via genes.tsv): same hash.
    let inp = Inputs {
        cds: a.join("cds.fa"),
        proteins: a.join("protein.fa"),
        labels: Some(a.join("labels.tsv")),
        pairs: Some(a.join("pairs.tsv")),
        tasks: Some(a.join("tasks.yaml")),
        genes: Some(a.join("genes.tsv")),
        ..Default::default()
    };
    let (b, w) = build(
        &inp,
        &BuildOptions {
            strict: true,
            ..Default::default()
        },
        &d.path().join("b"),
    )
    .unwrap();
    assert!(w.items.is_empty());
    assert_eq!(b.manifest.dataset_hash, ds.manifest.dataset_hash);
    // Nine gene tasks and three pair tasks, every kind present.
    assert_eq!(
        ds.tasks.iter().filter(|t| t.scope == Scope::Gene).count(),
        9
    );
    assert_eq!(
        ds.tasks.iter().filter(|t| t.scope == Scope::Pair).count(),
        3
    );
    for k in [
        TaskKind::Binary,
        TaskKind::Multiclass,
        TaskKind::Multilabel,
        TaskKind::Regression,
    ] {
        assert!(ds.tasks.iter().any(|t| t.kind == k), "{k:?}");
    }
    for t in &ds.tasks {
        assert!(t.signal.is_some(), "{} documents its signal", t.name);
    }
}

/// A synthetic dataset with its content hash set (what splits are drawn from).
fn hashed_synth(genes: usize, seed: u64) -> Dataset {
    let mut ds = synth::synthesize(&synth::SynthConfig {
        genes,
        seed,
        ..Default::default()
    });
    ds.manifest.dataset_hash = ds.content_hash();
    ds
}

#[test]
fn one_unseen_pair_splits_hold_out_exactly_one_gene_per_pair() {
    use splits::*;
    let ds = hashed_synth(400, 1);
    let pr = &ds.pair_labels["interact"];
    // One-unseen: every held-out pair has exactly one training gene (of a
    // training pair's genes) and one gene no training pair has.
    let o = split_task(
        &ds,
        "interact",
        0,
        &SplitConfig {
            pairs: PairSplitMode::OneUnseen,
            ..SplitConfig::default()
        },
    )
    .unwrap();
    let seen: std::collections::HashSet<u32> =
        o.train.iter().flat_map(|r| [pr[*r].0, pr[*r].1]).collect();
    for r in o.valid.iter().chain(&o.test) {
        let (a, b) = (seen.contains(&pr[*r].0), seen.contains(&pr[*r].1));
        assert!(a != b, "pair {r}: seen {a} {b}");
    }
    let test_genes: std::collections::HashSet<u32> = o
        .test
        .iter()
        .flat_map(|r| [pr[*r].0, pr[*r].1])
        .filter(|g| !seen.contains(g))
        .collect();
    let valid_genes: std::collections::HashSet<u32> = o
        .valid
        .iter()
        .flat_map(|r| [pr[*r].0, pr[*r].1])
        .filter(|g| !seen.contains(g))
        .collect();
    assert!(test_genes.is_disjoint(&valid_genes));
    assert_eq!(
        o.train.len() + o.valid.len() + o.test.len() + o.dropped,
        pr.len()
    );
    let n = pr.len() as f64;
    assert!(
        (o.test.len() as f64 / n - 0.13).abs() < 0.06 && o.dropped < pr.len() / 10,
        "test {} dropped {} of {}",
        o.test.len(),
        o.dropped,
        pr.len()
    );
}

#[test]
fn splits_are_deterministic_stratified_grouped_and_gene_disjoint() {
    use splits::*;
    let ds = hashed_synth(400, 1);
    let cfg = SplitConfig::default();
    let s1 = split_task(&ds, "membrane", 0, &cfg).unwrap();
    assert_eq!(
        s1,
        split_task(&ds, "membrane", 0, &cfg).unwrap(),
        "deterministic"
    );
    assert_ne!(
        s1,
        split_task(&ds, "membrane", 1, &cfg).unwrap(),
        "seed matters"
    );
    let rows = &ds.gene_labels["membrane"];
    assert_eq!(s1.train.len() + s1.valid.len() + s1.test.len(), rows.len());
    let frac = |v: &Vec<usize>| v.len() as f64 / rows.len() as f64;
    assert!((frac(&s1.train) - 0.7).abs() < 0.08, "{}", frac(&s1.train));
    assert!((frac(&s1.test) - 0.15).abs() < 0.08, "{}", frac(&s1.test));
    // Families never straddle splits.
    let fam = |r: &usize| ds.genes[rows[*r].0 as usize].group.clone();
    let tr: std::collections::HashSet<String> = s1.train.iter().map(fam).collect();
    assert!(s1.test.iter().all(|r| !tr.contains(&fam(r))));
    // Stratified without groups: positive rate within a few points in each split.
    let flat = SplitConfig {
        by_group: false,
        ..SplitConfig::default()
    };
    let s = split_task(&ds, "membrane", 0, &flat).unwrap();
    let pos = |v: &Vec<usize>| {
        v.iter()
            .filter(|r| rows[**r].1 == Label::Binary(true))
            .count() as f64
            / v.len() as f64
    };
    assert!(
        (pos(&s.train) - pos(&s.test)).abs() < 0.03,
        "{} vs {}",
        pos(&s.train),
        pos(&s.test)
    );
    for t in ["fold_class", "disorder", "ligand_binding"] {
        let s = split_task(&ds, t, 2, &flat).unwrap();
        assert!(!s.test.is_empty() && !s.valid.is_empty(), "{t}");
    }
    // Pairs: zero test genes in training pairs.
    let p = split_task(&ds, "interact", 0, &cfg).unwrap();
    let pr = &ds.pair_labels["interact"];
    let train_genes: std::collections::HashSet<u32> =
        p.train.iter().flat_map(|r| [pr[*r].0, pr[*r].1]).collect();
    let leaked = p
        .test
        .iter()
        .flat_map(|r| [pr[*r].0, pr[*r].1])
        .filter(|g| train_genes.contains(g))
        .count();
    assert_eq!(leaked, 0);
    assert!(
        p.test.len() > 20 && p.train.len() > 5 * p.test.len() / 2,
        "{} {}",
        p.train.len(),
        p.test.len()
    );
    assert_eq!(
        p.train.len() + p.valid.len() + p.test.len() + p.dropped,
        pr.len()
    );
    // Random pair splits keep every pair.
    let r = split_task(
        &ds,
        "interact",
        0,
        &SplitConfig {
            pairs: PairSplitMode::Random,
            ..SplitConfig::default()
        },
    )
    .unwrap();
    assert_eq!(r.dropped, 0);
    assert!(split_task(&ds, "nope", 0, &cfg).is_err());
    // Few large groups: every split still gets one.
    let small = hashed_synth(80, 4);
    for seed in 0..10 {
        let s = split_task(&small, "membrane", seed, &cfg).unwrap();
        assert!(
            !s.train.is_empty() && !s.valid.is_empty() && !s.test.is_empty(),
            "seed {seed}: {s:?}"
        );
    }
    assert!(
        split_task(
            &ds,
            "membrane",
            0,
            &SplitConfig {
                fractions: [0.0, 0.5, 0.5],
                ..SplitConfig::default()
            }
        )
        .is_err()
    );
}
