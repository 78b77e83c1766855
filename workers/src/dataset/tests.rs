//! Every validation rule with a malformed input and its exact finding; the
//! public formats on hand-written samples and splits are in
//! `tests_formats.rs`, which shares the sample inputs below.

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
fn rule_ids_are_printable() {
    let f = Files::new();
    let inp = f.inputs(
        &format!("{}>g\u{0}9\n{G1}\n", good_cds()),
        &good_prot(),
        None,
        None,
        None,
    );
    let e = errors_of(&f, &inp, false);
    assert_eq!(
        e[0],
        "cds.fa:7: error[id-character] g\\09: the id holds the control character '\\0'; ids are printable text"
    );
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

#[path = "tests_formats.rs"]
mod formats;
