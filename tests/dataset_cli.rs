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

/// `dataset build --cluster` on committed proteins with known paralogs
/// (tests/fixtures/paralogs, `scripts/make_paralog_fixture.py`: 12 families
/// of 4–9 paralogs at about 55–85% identity, 8 singletons) with the real
/// `mmseqs`: every family is one cluster, no cluster mixes families, the
/// manifest records the settings, and every split of every seed keeps each
/// family on one side. Without `--cluster` the same genes are split one by
/// one (families straddle splits) and the build warns once.
#[test]
fn cluster_builds_keep_each_paralog_family_in_one_split() {
    use std::collections::{BTreeMap, BTreeSet};
    use workers::dataset::{Dataset, splits};
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/paralogs");
    let d = tempfile::tempdir().unwrap();
    let build = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "dataset".to_string(),
            "build".into(),
            "--cds".into(),
            fx.join("cds.fa").display().to_string(),
            "--proteins".into(),
            fx.join("proteins.fa").display().to_string(),
            "--labels".into(),
            fx.join("labels.tsv").display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let family: BTreeMap<String, String> = std::fs::read_to_string(fx.join("families.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (g, f) = l.split_once('\t').unwrap();
            (g.to_string(), f.to_string())
        })
        .collect();
    // Each family's splits (0 train, 1 valid, 2 test) over 4 seeds: how
    // many families have genes in more than one split.
    let straddling = |dir: &Path| {
        let ds = Dataset::load(dir).unwrap();
        let mut n = 0;
        for seed in 0..4 {
            let s = splits::split_task(&ds, "planted", seed, &Default::default()).unwrap();
            let rows = &ds.gene_labels["planted"];
            let mut sides: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
            for (k, part) in [&s.train, &s.valid, &s.test].iter().enumerate() {
                for r in part.iter() {
                    let g = &ds.genes[rows[*r].0 as usize].id;
                    sides.entry(family[g].as_str()).or_default().insert(k);
                }
            }
            n += sides.values().filter(|v| v.len() > 1).count();
        }
        n
    };

    let clustered = d.path().join("clustered");
    let (code, _, err) = build(&clustered, &["--cluster"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no gene groups"), "{err}");
    let genes = std::fs::read_to_string(clustered.join("genes.tsv")).unwrap();
    let mut clusters_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut families_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in genes.lines().skip(1) {
        let c: Vec<&str> = l.split('\t').collect();
        let f = family[c[0]].as_str();
        clusters_of.entry(f).or_default().insert(c[2]);
        families_of.entry(c[2]).or_default().insert(f);
    }
    assert_eq!(clusters_of.len(), 20);
    assert!(
        clusters_of.values().all(|c| c.len() == 1),
        "{clusters_of:?}"
    );
    assert!(
        families_of.values().all(|f| f.len() == 1),
        "{families_of:?}"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(clustered.join("manifest.json")).unwrap()).unwrap();
    let g = &m["grouping"];
    assert_eq!(
        (
            g["source"].as_str(),
            g["min_seq_id"].as_f64(),
            g["coverage"].as_f64(),
            g["groups"].as_u64()
        ),
        (Some("mmseqs2"), Some(0.3), Some(0.8), Some(20)),
        "{m}"
    );
    assert!(g["tool_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(straddling(&clustered), 0);

    // Without --cluster: one warning; families straddle splits.
    let plain = d.path().join("plain");
    let (code, _, err) = build(&plain, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("no gene groups").count(), 1, "{err}");
    assert!(straddling(&plain) > 10);

    // Settings are checked; without MMseqs2 the error says how to get it,
    // and nothing is written.
    let (code, _, err) = build(
        &d.path().join("bad"),
        &["--cluster", "--cluster-identity", "0"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("--cluster-identity 0 must be in (0, 1]"),
        "{err}"
    );
    let none = d.path().join("none");
    let out = common::genoprot()
        .args(["dataset", "build", "--cds"])
        .arg(fx.join("cds.fa"))
        .arg("--proteins")
        .arg(fx.join("proteins.fa"))
        .arg("--out")
        .arg(&none)
        .arg("--cluster")
        .env("PATH", d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains("apt-get install mmseqs2") && err.contains("--mmseqs"),
        "{err}"
    );
    assert!(!none.exists());
}
