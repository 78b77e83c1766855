//! Every validation rule with a malformed input and its exact finding; the
//! public formats on hand-written samples; splits.
//!
//! Length: one test per validation rule, sharing the sample inputs above
//! them; splitting by rule group would copy those fixtures.

use super::*;
use std::path::Path;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn put(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn inputs(
        &self,
        cds: &str,
        prot: &str,
        labels: Option<&str>,
        pairs: Option<&str>,
        tasks: Option<&str>,
    ) -> Inputs {
        Inputs {
            cds: self.put("cds.fa", cds),
            proteins: self.put("prot.fa", prot),
            labels: labels.map(|t| self.put("labels.tsv", t)),
            pairs: pairs.map(|t| self.put("pairs.tsv", t)),
            tasks: tasks.map(|t| self.put("tasks.yaml", t)),
            ..Default::default()
        }
    }
    /// Findings as text with the temp folder removed from paths.
    fn show(&self, f: &Findings) -> Vec<String> {
        let prefix = format!("{}/", self.dir.path().display());
        f.items
            .iter()
            .map(|x| x.to_string().replace(&prefix, ""))
            .collect()
    }
}

// MKTAYIAKQRQ / MSEQNNTEM / MALWMRLL, one codon each.
const G1: &str = "ATGAAGACAGCTTACATCGCTAAGCAGCGTCAGTAA";
const P1: &str = "MKTAYIAKQRQ";
const G2: &str = "ATGTCCGAACAGAACAACACAGAAATGTAA";
const P2: &str = "MSEQNNTEM";
const G3: &str = "ATGGCTCTGTGGATGCGTCTGCTGTAG";
const P3: &str = "MALWMRLL";

fn good_cds() -> String {
    format!(">g1\n{G1}\n>g2\n{G2}\n>g3\n{G3}\n")
}
fn good_prot() -> String {
    format!(">g1\n{P1}\n>g2\n{P2}\n>g3\n{P3}\n")
}

fn errors_of(f: &Files, inp: &Inputs, strict: bool) -> Vec<String> {
    let opts = BuildOptions {
        strict,
        ..Default::default()
    };
    match ingest(inp, &opts) {
        Ok((_, w)) => f.show(&w),
        Err(e) => f.show(&e),
    }
}

#[test]
fn a_clean_input_builds_without_findings() {
    let f = Files::new();
    let inp = f.inputs(
        &good_cds(),
        &good_prot(),
        Some("gene_id\tloc\tscore\ng1\tnucleus\t0.5\ng2\tcytoplasm\t\n"),
        Some("task\tgene_a\tgene_b\tlabel\nppi\tg1\tg2\t1\nppi\tg2\tg3\t0\n"),
        None,
    );
    let (ds, w) = ingest(&inp, &BuildOptions::default()).unwrap();
    assert!(w.items.is_empty(), "{:?}", f.show(&w));
    assert_eq!(ds.genes.len(), 3);
    assert_eq!(ds.task("loc").unwrap().kind, TaskKind::Multiclass);
    assert_eq!(ds.task("score").unwrap().kind, TaskKind::Regression);
    assert_eq!(ds.task("ppi").unwrap().scope, Scope::Pair);
    assert_eq!(ds.gene_labels["score"].len(), 1);
    assert_eq!(ds.pair_labels["ppi"].len(), 2);
    assert_eq!(ds.genes[0].protein, P1.as_bytes());
    assert_eq!(ds.manifest.inputs.len(), 4);
}

#[test]
fn rule_cds_alphabet() {
    let f = Files::new();
    let inp = f.inputs(
        &format!(">g1\nATGAXG\n>g2\n{G2}\n>g3\n{G3}\n"),
        &good_prot(),
        None,
        None,
        None,
    );
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "cds.fa:1: error[cds-alphabet] g1: illegal base 'X' at position 5 (CDS must be A, C, G, T or N)",
            "prot.fa:1: warning[missing-cds] g1: protein without a CDS: gene left out (hint: check ids, or give --id-map)"
        ]
    );
}

#[test]
fn rule_cds_length() {
    let f = Files::new();
    let inp = f.inputs(
        &format!(">g1\n{G1}A\n>g2\n{G2}\n>g3\n{G3}\n"),
        &good_prot(),
        None,
        None,
        None,
    );
    assert_eq!(
        errors_of(&f, &inp, false)[0],
        "cds.fa:1: error[cds-length] g1: CDS length 37 is not a multiple of 3"
    );
}

#[test]
fn rule_translation_mismatch_names_the_position() {
    let f = Files::new();
    let inp = f.inputs(
        &good_cds(),
        &format!(">g1\nMKTAYIGKQRQ\n>g2\n{P2}\n>g3\n{P3}\n"),
        None,
        None,
        None,
    );
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "cds.fa:1: error[translation] g1: CDS does not translate to the protein: residue 7 is G but codon GCT encodes A"
        ]
    );
}

#[test]
fn rule_internal_stop_and_length() {
    let f = Files::new();
    let inp = f.inputs(
        &format!(">g1\nATGTAAGCT\n>g2\n{G2}\n>g3\n{G3}\n"),
        &format!(">g1\nMKA\n>g2\n{P2}\n>g3\n{P3}AA\n"),
        None,
        None,
        None,
    );
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "cds.fa:1: error[translation] g1: internal stop codon at codon 2",
            "cds.fa:5: error[translation] g3: CDS translates to 8 residues but the protein has 10"
        ]
    );
}

#[test]
fn rule_duplicate_ids_and_empty_sequences() {
    let f = Files::new();
    let inp = f.inputs(
        &format!("{}>g1\n{G1}\n>g4\n\n", good_cds()),
        &good_prot(),
        None,
        None,
        None,
    );
    let e = errors_of(&f, &inp, false);
    assert_eq!(e[0], "cds.fa:7: error[duplicate-id] g1: id also at line 1");
    assert_eq!(e[1], "cds.fa:9: error[empty-sequence] g4: empty sequence");
}

#[test]
fn rule_protein_alphabet() {
    let f = Files::new();
    let inp = f.inputs(
        &good_cds(),
        &format!(">g1\nMKTAYIAKQRU\n>g2\n{P2}\n>g3\n{P3}\n"),
        None,
        None,
        None,
    );
    assert_eq!(
        errors_of(&f, &inp, false)[0],
        "prot.fa:1: error[protein-alphabet] g1: illegal residue 'U' at position 11 (allowed: 20 amino acids and X; hint: write U/O/B/Z/J as X)"
    );
}

#[test]
fn rule_missing_modality_is_a_warning_and_strict_makes_it_an_error() {
    let f = Files::new();
    let inp = f.inputs(
        &format!("{}>g9\nATGTAA\n", good_cds()),
        &good_prot(),
        None,
        None,
        None,
    );
    let w = errors_of(&f, &inp, false);
    assert_eq!(
        w,
        [
            "cds.fa:7: warning[missing-protein] g9: CDS without a protein: gene left out (hint: check ids, or give --id-map)"
        ]
    );
    assert!(ingest(&inp, &BuildOptions::default()).is_ok());
    let e = ingest(
        &inp,
        &BuildOptions {
            strict: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.has_errors());
    assert!(f.show(&e)[0].starts_with("cds.fa:7: error[missing-protein] g9"));
}

#[test]
fn rule_label_rows() {
    let f = Files::new();
    let labels = "gene_id\ttm\tloc\ng1\t1\tnucleus\ng2\t0\ng1\t0\tnucleus\ngX\t1\tcytoplasm\ng3\t2\tnucleus\n";
    let inp = f.inputs(&good_cds(), &good_prot(), Some(labels), None, Some("- {name: tm, scope: gene, kind: binary}\n- {name: loc, scope: gene, kind: multiclass, classes: [nucleus, cytoplasm]}\n"));
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "labels.tsv:3: error[tsv-columns] g2: 2 columns, the header has 3 (hint: columns are separated by tabs)",
            "labels.tsv:4: error[duplicate-label-row] g1: gene already labelled at line 2",
            "labels.tsv:6: error[label-value] g3: column tm: \"2\" is not a binary label (expected 1/0, true/false or yes/no)",
            "labels.tsv:5: warning[unknown-gene] gX: task tm: gene not in the sequences; label dropped",
            "labels.tsv:5: warning[unknown-gene] gX: task loc: gene not in the sequences; label dropped",
        ]
    );
}

#[test]
fn rule_unknown_task_and_bad_spec() {
    let f = Files::new();
    let inp = f.inputs(
        &good_cds(),
        &good_prot(),
        Some("gene_id\ttm\tfoo\ng1\t1\t1\n"),
        None,
        Some("- {name: tm, scope: gene, kind: binary}\n"),
    );
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "labels.tsv:1: error[unknown-task] foo: task not in the task spec (known: tm); add it to tasks.yaml, or pass --ignore-columns foo if it is not a task"
        ]
    );
    let ignoring = BuildOptions {
        ignore_columns: vec!["foo".into()],
        ..Default::default()
    };
    let (ds, _) = ingest(&inp, &ignoring).unwrap();
    assert_eq!(ds.tasks.len(), 1);
    let inp = f.inputs(
        &good_cds(),
        &good_prot(),
        None,
        None,
        Some("- {name: tm, scope: gene, kind: binery}\n"),
    );
    let e = errors_of(&f, &inp, false);
    assert!(e[0].starts_with("tasks.yaml:1: error[task-spec]"), "{e:?}");
    assert!(e[0].contains("binery"), "{e:?}");
}

#[test]
fn rule_pairs() {
    let f = Files::new();
    let pairs = "task\tgene_a\tgene_b\tlabel\nppi\tg1\tg2\t1\nppi\tg2\tg1\t1\nppi\tg1\tg1\t1\nppi\tg2\tg3\t0\nppi\tg3\tg2\t1\nppi\tg1\tgZ\t0\n";
    let inp = f.inputs(&good_cds(), &good_prot(), None, Some(pairs), None);
    assert_eq!(
        errors_of(&f, &inp, false),
        [
            "pairs.tsv:3: warning[duplicate-pair] g2-g1: task ppi: same pair as line 2; kept once",
            "pairs.tsv:4: warning[self-pair] g1: task ppi: a gene paired with itself; pair dropped",
            "pairs.tsv:6: error[conflicting-pair] g3-g2: task ppi: label differs from the same pair at line 5",
            "pairs.tsv:7: warning[unknown-gene] gZ: task ppi: pair names a gene not in the sequences; pair dropped",
        ]
    );
}

#[test]
fn rule_no_genes_and_bad_fasta() {
    let f = Files::new();
    let inp = f.inputs(">a\nATG\n", ">b\nM\n", None, None, None);
    let e = errors_of(&f, &inp, false);
    assert_eq!(
        e.last().unwrap(),
        "cds.fa: error[no-genes]: no gene has both a CDS and a protein (hint: do the ids match? try --id-map or --key symbol)"
    );
    let inp = f.inputs("hello\n", &good_prot(), None, None, None);
    let e = errors_of(&f, &inp, false);
    assert!(
        e[0].starts_with("cds.fa: error[fasta]") && e[0].contains("'>' header"),
        "{e:?}"
    );
}

#[test]
fn build_failure_leaves_existing_output_untouched_and_validate_detects_edits() {
    let f = Files::new();
    let out = f.dir.path().join("ds");
    let inp = f.inputs(
        &good_cds(),
        &good_prot(),
        Some("gene_id\ttm\ng1\t1\ng2\t0\ng3\t1\n"),
        None,
        None,
    );
    let (ds, _) = build(&inp, &BuildOptions::default(), &out).unwrap();
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let bad = f.inputs(
        &format!(">g1\nATGAXG\n>g2\n{G2}\n"),
        &good_prot(),
        None,
        None,
        None,
    );
    assert!(build(&bad, &BuildOptions::default(), &out).is_err());
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    let back = validate_dir(&out, false).unwrap();
    assert_eq!(back.genes, ds.genes);
    assert_eq!(back.manifest.dataset_hash, ds.manifest.dataset_hash);
    // Only the dataset folder is left beside it: no temp folders.
    let names: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".ds")), "{names:?}");
    // Editing a file after the build is caught.
    let lt = out.join("labels.tsv");
    std::fs::write(
        &lt,
        std::fs::read_to_string(&lt)
            .unwrap()
            .replace("g1\t1", "g1\t0"),
    )
    .unwrap();
    let e = validate_dir(&out, false).unwrap_err();
    assert!(
        f.show(&e)[0].starts_with("ds/manifest.json: error[manifest-hash]"),
        "{:?}",
        f.show(&e)
    );
    let e = validate_dir(&f.dir.path().join("nope"), false).unwrap_err();
    assert!(
        f.show(&e)[0].contains("is nope a dataset folder"),
        "{:?}",
        f.show(&e)
    );
}

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

#[test]
fn splits_are_deterministic_stratified_grouped_and_gene_disjoint() {
    use splits::*;
    let mut ds = synth::synthesize(&synth::SynthConfig {
        genes: 400,
        seed: 1,
        ..Default::default()
    });
    ds.manifest.dataset_hash = ds.content_hash();
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
    let mut small = synth::synthesize(&synth::SynthConfig {
        genes: 80,
        seed: 4,
        ..Default::default()
    });
    small.manifest.dataset_hash = small.content_hash();
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
