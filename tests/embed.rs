//! The embedding stage end to end through `genoprot worker embed`: every
//! embedder on the synthetic dataset, shards + merge = one shot, killed
//! writers, bad external-command output, precomputed imports, h5py reading.

mod common;

use ndarray::Array2;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use workers::store::Embeddings;

struct Sweep {
    dir: tempfile::TempDir,
}

impl Sweep {
    /// A synthetic dataset of `genes` genes and a config with `models` (YAML list items).
    fn new(genes: usize, models: &[&str]) -> Sweep {
        let dir = tempfile::tempdir().unwrap();
        let out = common::genoprot()
            .current_dir(dir.path())
            .args([
                "-q",
                "dataset",
                "synth",
                "--out",
                "data",
                "--genes",
                &genes.to_string(),
                "--seed",
                "11",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Sweep { dir };
        s.config(models);
        s
    }
    fn config(&self, models: &[&str]) {
        let mut y = String::from("name: t\ndataset: data\nstore: runs\nmodels:\n");
        for m in models {
            y.push_str(&format!("  - {m}\n"));
        }
        std::fs::write(self.dir.path().join("c.yaml"), y).unwrap();
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn worker(&self, args: &[&str]) -> (bool, String, String) {
        let out = common::run_with_timeout(
            {
                let mut c = common::genoprot();
                c.current_dir(self.dir.path()).args(["worker"]).args(args);
                c
            },
            Duration::from_secs(120),
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    fn embed(&self, model: &str) -> (bool, String, String) {
        self.worker(&["embed", "--config", "c.yaml", "--model", model])
    }
    fn store(&self, model: &str) -> Embeddings {
        Embeddings::read(&self.path(&format!("runs/embeddings/{model}.h5"))).unwrap()
    }
}

fn python() -> String {
    common::python_with_h5py().display().to_string()
}

fn example_script() -> String {
    common::workspace_root()
        .join("scripts/embed_example.py")
        .display()
        .to_string()
}

#[test]
fn every_embedder_on_the_synthetic_dataset() {
    let cmd = format!(
        "{{name: ext, kind: command, modality: protein, dim: 32, command: \"{} {} --in {{fasta}} --out {{out}} --device {{device}} --batch-size {{batch_size}}\"}}",
        python(),
        example_script()
    );
    let s = Sweep::new(
        80,
        &[
            "{name: k4, kind: kmer, modality: dna, k: 4}",
            "{name: aac, kind: kmer, modality: protein, k: 1}",
            "{name: dipep, kind: kmer, modality: protein, k: 2}",
            "{name: codon, kind: codon}",
            "{name: rscu, kind: codon, rscu: true}",
            &cmd,
        ],
    );
    let genes: Vec<String> = std::fs::read_to_string(s.path("data/genes.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    for (m, d) in [
        ("k4", 256),
        ("aac", 20),
        ("dipep", 400),
        ("codon", 64),
        ("rscu", 64),
        ("ext", 32),
    ] {
        let (ok, out, err) = s.embed(m);
        assert!(ok, "{m}: {err}");
        assert!(out.contains(&format!("{m}: embedded 80 genes")), "{out}");
        let e = s.store(m);
        assert_eq!(e.ids, genes, "{m}: rows in dataset order");
        assert_eq!(e.emb.ncols(), d, "{m}");
        assert!(e.emb.iter().all(|x| x.is_finite()));
        assert_eq!(e.meta.model, m);
        assert!(!e.meta.config_hash.is_empty());
        // Frequencies sum to one (baselines) / unit norm (example script).
        for r in e.emb.rows() {
            let s: f32 = if m == "ext" {
                r.dot(&r)
            } else if m == "rscu" {
                1.0
            } else {
                r.sum()
            };
            assert!((s - 1.0).abs() < 1e-4, "{m}: {s}");
        }
        // Idempotent: a second run skips.
        let (ok, out, _) = s.embed(m);
        assert!(ok && out.contains("up to date"), "{m}: {out}");
    }
    assert_eq!(s.store("ext").meta.modality, "protein");
    // The command's stderr went to its log.
    let log = std::fs::read_to_string(s.path("runs/logs/embed-ext.log")).unwrap();
    assert!(log.contains("embedding 80 sequences on cpu"), "{log}");
    // Changing a model's settings makes its store stale; others stay.
    s.config(&[
        "{name: k4, kind: kmer, modality: dna, k: 3}",
        "{name: aac, kind: kmer, modality: protein, k: 1}",
    ]);
    let (_, out, _) = s.embed("k4");
    assert!(out.contains("embedded 80 genes"), "{out}");
    assert_eq!(s.store("k4").emb.ncols(), 64);
    let (_, out, _) = s.embed("aac");
    assert!(out.contains("up to date"), "{out}");
}

#[test]
fn shards_then_merge_equal_the_one_shot_store() {
    let s = Sweep::new(90, &["{name: k5, kind: kmer, modality: dna, k: 5}"]);
    assert!(s.embed("k5").0);
    let one = s.store("k5");
    std::fs::remove_file(s.path("runs/embeddings/k5.h5")).unwrap();
    for i in 0..3 {
        let (ok, _, err) = s.worker(&[
            "embed",
            "--config",
            "c.yaml",
            "--model",
            "k5",
            "--shard",
            &format!("{i}/3"),
        ]);
        assert!(ok, "{err}");
    }
    // Shards are balanced by tokens.
    let mut tokens = Vec::new();
    for i in 0..3 {
        let p = s.path(&format!("runs/embeddings/k5.shard-{i:04}-of-0003.h5"));
        let part = Embeddings::read(&p).unwrap();
        assert!(!part.ids.is_empty());
        tokens.push(part.ids.len());
    }
    let (ok, out, err) = s.worker(&[
        "merge-embeddings",
        "--config",
        "c.yaml",
        "--model",
        "k5",
        "--shards",
        "3",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("merged 3 shards"), "{out}");
    let merged = s.store("k5");
    assert_eq!(merged.ids, one.ids);
    assert_eq!(merged.emb, one.emb, "bit for bit");
    assert_eq!(merged.meta.config_hash, one.meta.config_hash);
    assert!(
        !s.path("runs/embeddings/k5.shard-0000-of-0003.h5").exists(),
        "shards removed after the merge"
    );
    // A merge with a shard missing is refused.
    let (ok, _, err) = s.worker(&[
        "merge-embeddings",
        "--config",
        "c.yaml",
        "--model",
        "k5",
        "--shards",
        "2",
    ]);
    assert!(ok, "an up-to-date store needs no merge: {err}");
    std::fs::remove_file(s.path("runs/embeddings/k5.h5")).unwrap();
    let (ok, _, err) = s.worker(&[
        "merge-embeddings",
        "--config",
        "c.yaml",
        "--model",
        "k5",
        "--shards",
        "2",
    ]);
    assert!(
        !ok && err.contains("shard") && err.contains("is missing"),
        "{err}"
    );
    let bad = s.worker(&[
        "embed", "--config", "c.yaml", "--model", "k5", "--shard", "3/3",
    ]);
    assert!(!bad.0 && bad.2.contains("need 0 <= i < n"), "{}", bad.2);
}

fn bad_command(script: &str) -> String {
    let s = Sweep::new(20, &[]);
    std::fs::write(s.path("bad.py"), script).unwrap();
    s.config(&[&format!("{{name: bad, kind: command, modality: dna, dim: 4, timeout_s: 3, command: \"{} bad.py {{fasta}} {{out}}\"}}", python())]);
    let (ok, out, err) = s.embed("bad");
    assert!(!ok, "{out}");
    assert!(!s.path("runs/embeddings/bad.h5").exists());
    err
}

const WRITE: &str = "import sys,h5py,numpy as np
ids=[l[1:].strip() for l in open(sys.argv[1]) if l.startswith(\">\")]
";

#[test]
fn bad_command_output_is_one_clear_error() {
    let e = bad_command("import sys; print(\"CUDA out of memory\", file=sys.stderr); sys.exit(3)");
    assert!(
        e.contains("external command failed")
            && e.contains("exit status: 3")
            && e.contains("CUDA out of memory")
            && e.contains("embed-bad.log"),
        "{e}"
    );
    let e = bad_command("pass");
    assert!(e.contains("wrote no output file"), "{e}");
    let e = bad_command(&format!(
        "{WRITE}f=h5py.File(sys.argv[2],\"w\"); f[\"ids\"]=np.array(ids[1:],dtype=object).astype(h5py.string_dtype()); f[\"emb\"]=np.zeros((len(ids)-1,4))"
    ));
    assert!(e.contains("ids missing from the output"), "{e}");
    let e = bad_command(&format!(
        "{WRITE}ids=ids+[\"zz\"]; f=h5py.File(sys.argv[2],\"w\"); f[\"ids\"]=np.array(ids,dtype=object).astype(h5py.string_dtype()); f[\"emb\"]=np.zeros((len(ids),4))"
    ));
    assert!(
        e.contains("ids not in the input") && e.contains("zz"),
        "{e}"
    );
    let e = bad_command(&format!(
        "{WRITE}f=h5py.File(sys.argv[2],\"w\"); f[\"ids\"]=np.array(ids,dtype=object).astype(h5py.string_dtype()); f[\"emb\"]=np.zeros((len(ids),5))"
    ));
    assert!(
        e.contains("dimension 5 but the config declares dim: 4"),
        "{e}"
    );
    let e = bad_command(&format!(
        "{WRITE}a=np.zeros((len(ids),4)); a[2,1]=np.nan; f=h5py.File(sys.argv[2],\"w\"); f[\"ids\"]=np.array(ids,dtype=object).astype(h5py.string_dtype()); f[\"emb\"]=a"
    ));
    assert!(
        e.contains("non-finite value for id") && e.contains("column 1"),
        "{e}"
    );
    let e = bad_command("import time; time.sleep(60)");
    assert!(
        e.contains("timed out after 3s") && e.contains("timeout_s"),
        "{e}"
    );
}

#[test]
fn precomputed_hdf5_and_npy_are_imported() {
    let s = Sweep::new(30, &["{name: aac, kind: kmer, modality: protein, k: 1}"]);
    assert!(s.embed("aac").0);
    let aac = s.store("aac");
    // Write the same embeddings in other layouts with h5py/numpy: other dataset names, shuffled rows; NPY + ids.
    let py = format!(
        "import h5py, numpy as np
f = h5py.File('{store}', 'r'); ids = f['ids'].asstr()[()]; e = f['emb'][()]
o = np.arange(len(ids))[::-1]
g = h5py.File('{dir}/other.h5', 'w'); g['genes'] = np.array(ids[o], dtype=object).astype(h5py.string_dtype()); g['vectors'] = e[o].astype('float64')
np.save('{dir}/emb.npy', e); open('{dir}/ids.txt', 'w').write('\\n'.join(ids) + '\\n')
np.save('{dir}/short.npy', e[:10]); open('{dir}/short.txt', 'w').write('\\n'.join(ids[:10]) + '\\n')",
        store = s.path("runs/embeddings/aac.h5").display(),
        dir = s.dir.path().display()
    );
    let out = Command::new(python()).args(["-c", &py]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.config(&[
        "{name: pre-h5, kind: precomputed, modality: protein, path: other.h5, ids_dataset: genes, emb_dataset: vectors}",
        "{name: pre-npy, kind: precomputed, modality: protein, path: emb.npy, ids_file: ids.txt}",
        "{name: short, kind: precomputed, modality: protein, path: short.npy, ids_file: short.txt}",
        "{name: noids, kind: precomputed, path: emb.npy}",
    ]);
    for m in ["pre-h5", "pre-npy"] {
        let (ok, _, err) = s.embed(m);
        assert!(ok, "{m}: {err}");
        let e = s.store(m);
        assert_eq!(e.ids, aac.ids);
        assert_eq!(e.emb, aac.emb, "{m}");
        assert_eq!(
            e.meta.weights_hash.len(),
            64,
            "precomputed stores record the file hash"
        );
    }
    let (ok, _, err) = s.embed("short");
    assert!(
        !ok && err.contains("20 of 30 genes have no precomputed embedding"),
        "{err}"
    );
    let (ok, _, err) = s.embed("noids");
    assert!(!ok && err.contains("needs `ids_file`"), "{err}");
}

#[test]
fn a_killed_writer_leaves_no_store_that_reads_as_complete() {
    let s = Sweep::new(
        20,
        &[&format!(
            "{{name: slow, kind: command, modality: dna, command: \"sleep 30; {} {} --in {{fasta}} --out {{out}}\"}}",
            python(),
            example_script()
        )],
    );
    let mut child = common::genoprot()
        .current_dir(s.dir.path())
        .args([
            "-q", "worker", "embed", "--config", "c.yaml", "--model", "slow",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let dir = s.path("runs/embeddings");
    let complete: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| Embeddings::read(p).is_ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(complete.is_empty(), "{complete:?}");
    assert!(!dir.join("slow.h5").exists());
    // Leftover temp files (if any) are cleared when the store is next written.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".slow.h5.abc123.tmp"), b"half a file").unwrap();
    s.config(&["{name: slow, kind: kmer, modality: dna, k: 2}"]);
    assert!(s.embed("slow").0);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The store and its digest.
    assert_eq!(names, ["slow.h5", "slow.h5.sha256"]);
}

#[test]
fn h5py_reads_a_worker_store_as_documented() {
    let s = Sweep::new(25, &["{name: k2, kind: kmer, modality: dna, k: 2}"]);
    assert!(s.embed("k2").0);
    let e = s.store("k2");
    // Exactly the snippet of docs/store-schema.md.
    let py = "import h5py, sys, json
with h5py.File(sys.argv[1]) as f:
    ids = f['ids'].asstr()[()]
    emb = f['emb'][()]
    a = dict(f.attrs)
    print(json.dumps({'ids': list(ids), 'shape': list(emb.shape), 'dtype': str(emb.dtype), 'row0': emb[0].tolist(),
                      'attrs': sorted(a), 'model': a['model'], 'dim': int(a['dim']), 'modality': a['modality']}))";
    let out = Command::new(python())
        .args(["-c", py])
        .arg(s.path("runs/embeddings/k2.h5"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ids"], serde_json::json!(e.ids));
    assert_eq!(v["shape"], serde_json::json!([25, 16]));
    assert_eq!(v["dtype"], "float32");
    let row0: Vec<f32> = serde_json::from_value(v["row0"].clone()).unwrap();
    assert_eq!(
        Array2::from_shape_vec((1, 16), row0).unwrap().row(0),
        e.emb.row(0)
    );
    assert_eq!(
        v["attrs"],
        serde_json::json!([
            "config_hash",
            "created",
            "dim",
            "format_version",
            "modality",
            "model",
            "pooling",
            "tool_version",
            "weights_hash"
        ])
    );
    assert_eq!(
        (
            v["model"].as_str(),
            v["dim"].as_i64(),
            v["modality"].as_str()
        ),
        (Some("k2"), Some(16), Some("dna"))
    );
}

/// The codon models run from their folders as users have them: CaLM's
/// converted weights with its small config.json (`modality` left to the
/// kind: dna), CodonBERT's BERT folder without a tokenizer file under
/// `kind: codonbert`; the same folder under `kind: bert` is refused before
/// any work with the kind to use.
#[test]
fn codon_model_folders_embed_and_codonbert_needs_its_kind() {
    let f = common::workspace_root().join("fixtures");
    let calm = format!(
        "{{name: calm, kind: calm, weights: {}}}",
        f.join("calm-tiny").display()
    );
    let cb = format!(
        "{{name: cb, kind: codonbert, modality: dna, weights: {}}}",
        f.join("codonbert-tiny").display()
    );
    let s = Sweep::new(30, &[&calm, &cb]);
    for (m, dim) in [("calm", 32), ("cb", 32)] {
        let (ok, _, err) = s.embed(m);
        assert!(ok, "{m}: {err}");
        let e = s.store(m);
        assert_eq!(
            (e.emb.nrows(), e.emb.ncols(), e.meta.modality.as_str()),
            (30, dim, "dna")
        );
        assert!(e.emb.iter().all(|v| v.is_finite()));
        assert_ne!(e.emb.row(0), e.emb.row(1));
    }
    let as_bert = format!(
        "{{name: cb, kind: bert, modality: dna, weights: {}}}",
        f.join("codonbert-tiny").display()
    );
    s.config(&[&as_bert]);
    let out = common::genoprot()
        .current_dir(s.dir.path())
        .args(["plan", "c.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("c.yaml:") && err.contains("no tokenizer") && err.contains("kind: codonbert"),
        "{err}"
    );
}
