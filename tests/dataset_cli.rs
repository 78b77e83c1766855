//! `genoprot dataset ...` end to end: exit codes, messages, atomic output.

mod common;

use std::path::Path;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = common::genoprot().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn synth_validate_then_build_from_public_formats() {
    let d = tempfile::tempdir().unwrap();
    let ds = d.path().join("demo");
    let (code, out, err) = run(&[
        "dataset",
        "synth",
        "--out",
        s(&ds),
        "--genes",
        "60",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("60 genes, 12 tasks"), "{out}");
    let (code, out, err) = run(&["dataset", "validate", s(&ds), "--strict"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is valid"), "{out}");

    let fx = common::workspace_root().join("tests/fixtures/public");
    let f = |n: &str| fx.join(n).display().to_string();
    let out_dir = d.path().join("public");
    let (code, out, err) = run(&[
        "dataset",
        "build",
        "--cds",
        &f("ensembl_cds.fa"),
        "--proteins",
        &f("uniprot.fa"),
        "--id-map",
        &f("id_map.tsv"),
        "--uniprot",
        &f("uniprot.tsv"),
        "--string",
        &f("string_links.txt"),
        "--gaf",
        &f("sample.gaf"),
        "--gaf-min-genes",
        "2",
        "--out",
        s(&out_dir),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 genes"), "{out}");
    // Warnings are summarized on stderr, with file and line.
    assert!(
        err.contains("uniprot.fa:") && err.contains("warning[missing-cds] ENSG00000000004"),
        "{err}"
    );
    let (code, _, err) = run(&["dataset", "validate", s(&out_dir)]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_input_is_one_clear_error_and_damages_nothing() {
    let d = tempfile::tempdir().unwrap();
    let ds = d.path().join("ds");
    assert_eq!(
        run(&["dataset", "synth", "--out", s(&ds), "--genes", "30"]).0,
        0
    );
    let manifest = std::fs::read(ds.join("manifest.json")).unwrap();
    let cds = d.path().join("bad.fa");
    std::fs::write(&cds, ">g1\nATGAAATAA\n>g2\nATGAA\n").unwrap();
    let prot = d.path().join("p.fa");
    std::fs::write(&prot, ">g1\nMK\n>g2\nMK\n").unwrap();
    let (code, out, err) = run(&[
        "dataset",
        "build",
        "--cds",
        s(&cds),
        "--proteins",
        s(&prot),
        "--out",
        s(&ds),
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains(&format!(
            "{}:3: error[cds-length] g2: CDS length 5 is not a multiple of 3",
            cds.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("error: dataset build failed; nothing was written: 1 error"),
        "{err}"
    );
    assert_eq!(std::fs::read(ds.join("manifest.json")).unwrap(), manifest);
    let (code, _, err) = run(&["dataset", "validate", s(&d.path().join("missing"))]);
    assert_eq!(code, 1);
    assert!(err.contains("manifest.json: error[manifest]"), "{err}");
    let (code, _, err) = run(&["dataset", "synth", "--out", s(&ds), "--genes", "3"]);
    assert_eq!(code, 1);
    assert!(err.contains("at least 8 genes"), "{err}");
}
