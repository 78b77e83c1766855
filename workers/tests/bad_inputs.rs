//! Malformed inputs to the readers and loaders: each is one clear error that
//! names the file (and the line or record where there is one), never a panic.
//! Hand-made cases for the messages, then a fuzz-style pass of generated
//! inputs (truncations, byte flips, random UTF-8, inserted lines).

#[path = "../../tests/common/fuzz.rs"]
mod fuzz;

use fuzz::mutate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use workers::dataset::fasta::read_fasta_into;
use workers::dataset::sources::{read_gaf, read_labels_tsv, read_pairs_tsv, read_task_spec};
use workers::dataset::{Findings, validate_dir};
use workers::embed::Modality;
use workers::embed::precomputed::PrecomputedEmbedder;

fn fasta_errors(p: &Path) -> Vec<String> {
    let mut f = Findings::new(false);
    read_fasta_into(p, &mut f);
    f.errors().map(|e| e.to_string()).collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn fasta_problems_say_what_is_wrong_and_where() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("x.fa");
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b">g1\n",
            "x.fa: line 1: the file holds only the header of g1 and no sequence",
        ),
        (
            b">g1\nMKV\n>g2\n",
            "x.fa: line 3: record g2 has no sequence",
        ),
        (
            b"MKV\n>g1\nMKV\n",
            "line 1: expected a '>' header line, found \"MKV\"",
        ),
        (
            b">g1\nMKV\n> \nMKV\n",
            "x.fa:3: error[fasta]: a '>' header with no id",
        ),
    ];
    for (bytes, want) in cases {
        std::fs::write(&p, bytes).unwrap();
        let e = fasta_errors(&p).join("\n");
        assert!(
            e.contains(want),
            "{:?}: want {want:?}, got {e:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // A gzip cut short: named as such, with the byte offset.
    let mut body = String::new();
    for i in 0..400 {
        body.push_str(&format!(">g{i}\nMKVLAAGIVGLLLAAQPAMA{i}\n").replace(char::is_numeric, "K"));
    }
    let whole = gz(body.as_bytes());
    let cut = &whole[..whole.len() / 2];
    let pz = d.path().join("x.fa.gz");
    std::fs::write(&pz, cut).unwrap();
    let e = fasta_errors(&pz).join("\n");
    assert!(
        e.contains(&format!(
            "x.fa.gz: truncated gzip: the compressed stream ends at byte {} of the file",
            cut.len()
        )),
        "{e}"
    );
}

#[test]
fn label_rules_are_one_documented_rule() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("labels.tsv");
    // `gene` is accepted for `gene_id`; yes/no/true/false in any case are binary.
    std::fs::write(&p, "gene\ttm\ng1\tyes\ng2\tNo\ng3\tTRUE\ng4\t0\n").unwrap();
    let mut f = Findings::new(false);
    let l = read_labels_tsv(&p, None, &[], &mut f).unwrap();
    assert!(!f.has_errors(), "{}", f.report(10));
    assert_eq!(l.gene[0].0.kind, workers::dataset::TaskKind::Binary);
    std::fs::write(&p, "gene_id\ttm\ng1\t1\ng2\tmaybe\n").unwrap();
    let spec = vec![workers::dataset::TaskSpec {
        name: "tm".into(),
        scope: workers::dataset::Scope::Gene,
        kind: workers::dataset::TaskKind::Binary,
        category: String::new(),
        classes: vec![],
        description: String::new(),
        signal: None,
    }];
    let mut f = Findings::new(false);
    read_labels_tsv(&p, Some(&spec), &[], &mut f);
    assert!(
        f.report(10)
            .contains("labels.tsv:3: error[label-value] g2: column tm: \"maybe\" is not a binary label (expected 1/0, true/false or yes/no)"),
        "{}",
        f.report(10)
    );
    std::fs::write(&p, "name\ttm\ng1\t1\n").unwrap();
    let mut f = Findings::new(false);
    read_labels_tsv(&p, None, &[], &mut f);
    assert!(
        f.report(10).contains(
            "no gene id column: the header needs `gene_id` (or `gene`/`id`); it has name, tm"
        ),
        "{}",
        f.report(10)
    );
    // An accession-like column is not made a 60-class task.
    let mut t = String::from("gene_id\taccession\ttm\n");
    for i in 0..60 {
        t.push_str(&format!("g{i}\tP{i:05}\t{}\n", i % 2));
    }
    std::fs::write(&p, t).unwrap();
    let mut f = Findings::new(false);
    let l = read_labels_tsv(&p, None, &[], &mut f).unwrap();
    let names: Vec<&str> = l.gene.iter().map(|(t, _)| t.name.as_str()).collect();
    assert_eq!(names, ["tm"]);
    assert!(f.report(10).contains("warning[skipped-column] accession: column not made a task: 60 distinct values in 60 labelled rows looks like an identifier"), "{}", f.report(10));
}

#[test]
fn gaf_terms_must_be_go_ids() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.gaf");
    std::fs::write(
        &p,
        "!gaf-version: 2.2\nUniProtKB\tP1\tA\t\tGO:XYZ\tPMID:1\tIDA\t\tF\t\t\tprotein\ttaxon:9606\t20200101\tUniProt\t\t\n",
    )
    .unwrap();
    let mut f = Findings::new(false);
    read_gaf(&p, &[], 1, &mut f);
    assert!(
        f.report(10).contains(
            "a.gaf:2: error[gaf-row] P1: \"GO:XYZ\" is not a GO id (GO: and seven digits"
        ),
        "{}",
        f.report(10)
    );
}

#[test]
fn precomputed_files_without_columns_or_cut_short_are_named() {
    let d = tempfile::tempdir().unwrap();
    let ids = d.path().join("ids.txt");
    std::fs::write(&ids, "g1\ng2\ng3\n").unwrap();
    let empty = d.path().join("empty.npy");
    ndarray_npy::write_npy(&empty, &ndarray::Array2::<f32>::zeros((3, 0))).unwrap();
    let e = PrecomputedEmbedder::load("p", Modality::Protein, &empty, "ids", "emb", Some(&ids))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("empty.npy") && e.contains("0 columns (shape [3, 0])"),
        "{e}"
    );
    let full = d.path().join("full.npy");
    ndarray_npy::write_npy(&full, &ndarray::Array2::<f32>::ones((3, 64))).unwrap();
    let bytes = std::fs::read(&full).unwrap();
    let cut = d.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let e = PrecomputedEmbedder::load("p", Modality::Protein, &cut, "ids", "emb", Some(&ids))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("cut.npy") && e.contains("truncated: the file ends at byte"),
        "{e}"
    );
}

/// A small valid dataset folder (written by `synth`).
fn dataset() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ds");
    let mut ds = workers::dataset::synth::synthesize(&workers::dataset::synth::SynthConfig {
        genes: 24,
        ..Default::default()
    });
    ds.write(&dir, false).unwrap();
    (d, dir)
}

#[test]
fn fuzzed_dataset_files_are_findings_naming_the_file_never_panics() {
    let (_d, good) = dataset();
    let original_hash = validate_dir(&good, false).unwrap().content_hash();
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut tried = 0;
    for file in [
        "cds.fa",
        "protein.fa",
        "labels.tsv",
        "pairs.tsv",
        "tasks.yaml",
        "genes.tsv",
    ] {
        let original = std::fs::read(good.join(file)).unwrap();
        for _ in 0..30 {
            let bad = mutate(&mut rng, &original);
            if bad == original {
                continue;
            }
            let w = tempfile::tempdir().unwrap();
            let dir = w.path().join("ds");
            std::fs::create_dir_all(&dir).unwrap();
            for f in std::fs::read_dir(&good).unwrap().flatten() {
                std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
            }
            std::fs::write(dir.join(file), &bad).unwrap();
            tried += 1;
            // Each reader alone, then the whole folder.
            let p = dir.join(file);
            let r = std::panic::catch_unwind(|| {
                let mut f = Findings::new(false);
                match file {
                    "cds.fa" | "protein.fa" => {
                        read_fasta_into(&p, &mut f);
                    }
                    "labels.tsv" => {
                        read_labels_tsv(&p, None, &[], &mut f);
                    }
                    "pairs.tsv" => {
                        read_pairs_tsv(&p, None, &mut f);
                    }
                    "tasks.yaml" => {
                        read_task_spec(&p, &mut f);
                    }
                    _ => {}
                }
                f
            });
            let f = r.unwrap_or_else(|_| {
                panic!(
                    "{file} reader panicked on {:?}",
                    String::from_utf8_lossy(&bad)
                )
            });
            for e in f.errors() {
                assert!(e.file.ends_with(file), "{e} does not name {file}");
            }
            // The whole folder: it fails validation naming files, or (a
            // mutation that changes no content, such as CRLF line ends) it
            // validates to exactly the original content.
            let v = std::panic::catch_unwind(|| validate_dir(&dir, false));
            match v.unwrap_or_else(|_| panic!("validate panicked on a mutated {file}")) {
                Ok(ds) => assert_eq!(
                    ds.content_hash(),
                    original_hash,
                    "a mutated {file} validated to other content: {:?}",
                    String::from_utf8_lossy(&bad)
                ),
                Err(f) => {
                    assert!(f.has_errors());
                    for e in f.errors() {
                        assert!(
                            e.file.starts_with(&dir) && e.file != dir,
                            "{e}: does not name a file"
                        );
                    }
                }
            }
        }
    }
    assert!(tried >= 150, "{tried}");
}

#[test]
fn fuzzed_model_folders_are_errors_naming_the_file_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/esm2-tiny");
    let device = burn::tensor::Device::default();
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let mut tried = 0;
    for file in ["config.json", "vocab.txt", "model.safetensors"] {
        let original = std::fs::read(root.join(file)).unwrap();
        for _ in 0..25 {
            let bad = if file == "model.safetensors" {
                // Cut or flip inside the header (the data is checked by shapes and finiteness).
                let mut b = original.clone();
                if rng.random_bool(0.5) {
                    b.truncate(rng.random_range(0..b.len()));
                } else {
                    let i = rng.random_range(0..200.min(b.len()));
                    b[i] ^= 1 << rng.random_range(0..8);
                }
                b
            } else {
                mutate(&mut rng, &original)
            };
            let w = tempfile::tempdir().unwrap();
            for f in ["config.json", "vocab.txt", "model.safetensors"] {
                std::fs::copy(root.join(f), w.path().join(f)).unwrap();
            }
            std::fs::write(w.path().join(file), &bad).unwrap();
            tried += 1;
            let r = std::panic::catch_unwind(|| {
                workers::models::native::NativeEmbedder::load(
                    "m",
                    None,
                    Modality::Protein,
                    &device,
                    w.path(),
                    &workers::models::native::NativeOptions::mean(),
                )
                .err()
                .map(|e| e.to_string())
            });
            let err = r.unwrap_or_else(|_| panic!("loading panicked on a mutated {file}"));
            // Some mutations keep the folder loadable (a flipped byte in a
            // value that stays valid); any error must name a file.
            if let Some(e) = err {
                assert!(
                    e.contains(&w.path().display().to_string()) || e.contains("tensor "),
                    "{file}: {e}"
                );
            }
        }
    }
    assert!(tried >= 75);
}
