//! Models as users have them: Hugging Face folders in any layout or a hub id
//! found offline in the cache, checked by `plan`/`run`/`submit` before any
//! work; `kind: hf` through the bundled transformers adapter (its contract
//! and errors here; the real transformers comparison is scripts/hf-check.sh).

mod common;

use common::gp_env;

use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    common::workspace_root().join("fixtures")
}

fn sweep(dir: &Path, model_line: &str) {
    std::fs::write(
        dir.join("c.yaml"),
        format!(
            "name: m\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane]\nmodels:\n  - {model_line}\n"
        ),
    )
    .unwrap();
}

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = gp_env(
        d.path(),
        &["-q", "dataset", "synth", "--out", "data", "--genes", "24"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    d
}

#[test]
fn model_folders_are_checked_by_plan_before_any_work() {
    let d = setup();
    let empty_cache = d.path().join("empty-cache");
    std::fs::create_dir_all(&empty_cache).unwrap();
    let env = [("HF_HUB_CACHE", empty_cache.as_path()), ("HOME", d.path())];
    // A folder without weights, and one of an architecture kind: esm does not run.
    let no_weights = d.path().join("no-weights");
    std::fs::create_dir_all(&no_weights).unwrap();
    for f in ["config.json", "vocab.txt"] {
        std::fs::copy(fixtures().join("esm2-tiny").join(f), no_weights.join(f)).unwrap();
    }
    let bert = d.path().join("bert");
    std::fs::create_dir_all(&bert).unwrap();
    std::fs::write(
        bert.join("config.json"),
        r#"{"model_type": "bert", "hidden_size": 8}"#,
    )
    .unwrap();
    let t5 = d.path().join("t5");
    std::fs::create_dir_all(&t5).unwrap();
    std::fs::write(t5.join("config.json"), r#"{"model_type": "t5"}"#).unwrap();
    let gpt = d.path().join("gpt");
    std::fs::create_dir_all(&gpt).unwrap();
    std::fs::write(gpt.join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
    for (line, want) in [
        (
            "{name: m, kind: esm, weights: models/missing}",
            "c.yaml:7:26: model m: weights ",
        ),
        (
            "{name: m, kind: esm, weights: models/missing}",
            "models--models--missing",
        ),
        (
            "{name: m, kind: esm, weights: ./nope}",
            "nope: no such folder",
        ),
        (
            "{name: m, kind: esm, weights: no-weights}",
            "no-weights: no weights: expected model.safetensors",
        ),
        (
            "{name: m, kind: esm, weights: bert}",
            "model_type \"bert\" runs natively as kind: bert, not kind: esm (set `kind: bert`)",
        ),
        (
            "{name: m, kind: bert, weights: no-weights}",
            "model_type \"esm\" runs natively as kind: esm, not kind: bert (set `kind: esm`)",
        ),
        (
            "{name: m, kind: bert, weights: t5}",
            "model_type \"t5\" runs natively as kind: t5, not kind: bert (set `kind: t5`)",
        ),
        (
            "{name: m, kind: t5, weights: t5}",
            "t5: no weights: expected model.safetensors",
        ),
        (
            "{name: m, kind: esm, weights: gpt}",
            "model_type \"gpt2\" does not run natively",
        ),
        (
            "{name: m, kind: esm, weights: gpt}",
            "`kind: hf` runs any transformers model",
        ),
        (
            "{name: m, kind: esm, weights: facebook/esm2_t6_8M_UR50D}",
            "hub model facebook/esm2_t6_8M_UR50D is not in the Hugging Face cache",
        ),
        (
            "{name: m, kind: esm, weights: facebook/esm2_t6_8M_UR50D}",
            "hf download facebook/esm2_t6_8M_UR50D",
        ),
        (
            "{name: m, kind: hf, weights: nowhere/model}",
            "not in the Hugging Face cache",
        ),
        (
            "{name: m, kind: precomputed, path: missing.h5}",
            "missing.h5: no such file",
        ),
    ] {
        sweep(d.path(), line);
        for cmd in ["plan", "run"] {
            let (code, _, err) = gp_env(d.path(), &[cmd, "c.yaml"], &env);
            assert_eq!(code, 1, "{cmd} {line}: {err}");
            assert!(err.contains(want), "{cmd} {line}: want {want:?}\n{err}");
            assert!(
                !d.path().join("runs").exists(),
                "{cmd} {line} wrote a store"
            );
        }
    }
}

#[test]
fn a_hub_id_runs_from_the_cache_and_equals_its_folder() {
    let d = setup();
    let cache = fixtures().join("hf-cache/hub");
    sweep(
        d.path(),
        "{name: hub, kind: esm, modality: protein, weights: genoprot-test/esm2-tiny}",
    );
    let (code, out, err) = gp_env(d.path(), &["plan", "c.yaml"], &[("HF_HUB_CACHE", &cache)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("embed"), "{out}");
    let (code, _, err) = gp_env(
        d.path(),
        &[
            "-q", "worker", "embed", "--config", "c.yaml", "--model", "hub",
        ],
        &[("HF_HUB_CACHE", &cache)],
    );
    assert_eq!(code, 0, "{err}");
    let hub = workers::store::Embeddings::read(&d.path().join("runs/embeddings/hub.h5")).unwrap();
    // The same model as a plain folder, saved as pytorch_model.bin.
    std::fs::write(
        d.path().join("c2.yaml"),
        format!(
            "name: m\ndataset: data\nstore: runs2\nseeds: [0]\ntasks: [membrane]\nmodels:\n  - {{name: hub, kind: esm, modality: protein, weights: {}}}\n",
            fixtures().join("layouts/esm2-tiny-bin").display()
        ),
    )
    .unwrap();
    let (code, _, err) = gp_env(
        d.path(),
        &[
            "-q", "worker", "embed", "--config", "c2.yaml", "--model", "hub",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let bin = workers::store::Embeddings::read(&d.path().join("runs2/embeddings/hub.h5")).unwrap();
    assert_eq!(hub.emb, bin.emb);
    assert_eq!(hub.meta.weights_hash, bin.meta.weights_hash);
}

#[test]
fn kind_hf_names_an_interpreter_without_torch_and_the_pip_command() {
    let d = setup();
    // A stub interpreter: python3 isolated from every site-packages, so
    // torch and transformers cannot be imported.
    let stub = d.path().join("stub-python");
    std::fs::write(&stub, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sweep(
        d.path(),
        &format!(
            "{{name: t5, kind: hf, modality: protein, weights: {}, python: {}, pooling: mean, dtype: bfloat16}}",
            fixtures().join("esm2-tiny").display(),
            stub.display()
        ),
    );
    let (code, _, err) = gp_env(d.path(), &["run", "c.yaml"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot import torch")
            && err.contains("-m pip install torch transformers h5py")
            && err.contains("embed-t5.log"),
        "{err}"
    );
    // The adapter was written where the exchange files go, from the binary.
    let adapter = std::fs::read_to_string(d.path().join("runs/tmp/genoprot_hf.py")).unwrap();
    assert!(adapter.contains("genoprot's transformers adapter"));
    // Fields of other kinds, and values the adapter does not know, are config errors.
    for (line, want) in [
        (
            "{name: h, kind: hf, weights: w, k: 3}",
            "`k` does not apply to a hf model",
        ),
        (
            "{name: h, kind: hf, weights: w, pooling: max}",
            "pooling \"max\": expected mean or cls or last",
        ),
        (
            "{name: h, kind: hf, weights: w, dtype: int8}",
            "dtype \"int8\": expected float32, bfloat16 or float16",
        ),
        (
            "{name: h, kind: esm, weights: w, pooling: last}",
            "pooling \"last\": expected mean or cls",
        ),
    ] {
        sweep(d.path(), line);
        let (code, _, err) = gp_env(d.path(), &["plan", "c.yaml"], &[]);
        assert_eq!(code, 1, "{line}");
        assert!(err.contains(want), "{line}: {err}");
    }
}

#[test]
fn the_adapters_own_unit_tests_pass() {
    let py = common::python_with_h5py();
    let out = std::process::Command::new(py)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(common::workspace_root().join("workers/python"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Ran 5 tests") && err.contains("OK"), "{err}");
}

#[test]
fn the_paper_scale_sweep_plans_and_dry_runs_with_stand_in_folders() {
    let d = setup();
    // The dataset the config names, and a hub cache holding a stand-in
    // snapshot for every hub id it names (the tiny ESM / DNABERT-2 / ProtBert
    // fixture for native models, a config.json for `kind: hf`).
    let (code, _, err) = gp_env(
        d.path(),
        &[
            "-q",
            "dataset",
            "synth",
            "--out",
            "data/geno-prot-human",
            "--genes",
            "30",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let text =
        std::fs::read_to_string(common::workspace_root().join("configs/geno-prot-human.yaml"))
            .unwrap();
    std::fs::write(d.path().join("human.yaml"), &text).unwrap();
    let cache = d.path().join("hub");
    let mut ids = 0;
    for line in text.lines().filter(|l| {
        ["kind: esm", "kind: bert", "kind: t5", "kind: hf"]
            .iter()
            .any(|k| l.contains(k))
    }) {
        let id = line
            .split("weights: ")
            .nth(1)
            .unwrap()
            .split([',', '}'])
            .next()
            .unwrap()
            .trim();
        let (org, name) = id.split_once('/').unwrap();
        let repo = cache.join(format!("models--{org}--{name}"));
        let snap = repo.join("snapshots/0123456789abcdef0123456789abcdef01234567");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(
            repo.join("refs/main"),
            "0123456789abcdef0123456789abcdef01234567",
        )
        .unwrap();
        let native = if line.contains("kind: esm") {
            Some("esm2-tiny")
        } else if line.contains("kind: bert") && line.contains("modality: dna") {
            Some("dnabert2-tiny")
        } else if line.contains("kind: bert") {
            Some("protbert-tiny")
        } else if line.contains("kind: t5") {
            Some("prott5-tiny")
        } else {
            None
        };
        if let Some(fixture) = native {
            for f in std::fs::read_dir(fixtures().join(fixture))
                .unwrap()
                .flatten()
            {
                std::fs::copy(f.path(), snap.join(f.file_name())).unwrap();
            }
        } else {
            std::fs::write(snap.join("config.json"), r#"{"model_type": "stand-in"}"#).unwrap();
        }
        ids += 1;
    }
    assert!(ids >= 8, "{ids}");
    let env = [("HF_HUB_CACHE", cache.as_path())];
    let (code, out, err) = gp_env(d.path(), &["plan", "human.yaml", "--json"], &env);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["stages"][0]["total"], 11, "{plan}");
    let (code, out, err) = gp_env(d.path(), &["submit", "human.yaml", "--dry-run"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("--account=genoprot")
            || out.contains("#SBATCH --account=genoprot")
            || out.contains("sbatch"),
        "{out}"
    );
    let script = std::fs::read_dir(d.path().join("runs/geno-prot-human/slurm"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        script.contains("#SBATCH --partition=pbatch")
            && script.contains("#SBATCH --account=genoprot"),
        "{script}"
    );
    // The Flux variant: the same sweep with `kind: flux`.
    std::fs::write(
        d.path().join("flux.yaml"),
        text.replace("  kind: slurm", "  kind: flux")
            .replace("name: geno-prot-human", "name: geno-prot-human-flux")
            .replace("runs/geno-prot-human", "runs/geno-prot-human-flux"),
    )
    .unwrap();
    let (code, out, err) = gp_env(d.path(), &["submit", "flux.yaml", "--dry-run"], &env);
    assert_eq!(code, 0, "{err}");
    for want in [
        "# flux: --bank=genoprot",
        "# flux: --queue=pbatch",
        "# flux: --time-limit=43200s",
        "# flux: --ntasks=4",
        "# flux: --gpus-per-task=1",
        "flux submit --cc=0-",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    // Without the cache the same plan fails at the first hub id, before any work.
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = gp_env(
        d.path(),
        &["plan", "human.yaml"],
        &[("HF_HUB_CACHE", empty.as_path()), ("HOME", empty.as_path())],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("human.yaml:22:") && err.contains("facebook/esm2_t33_650M_UR50D"),
        "{err}"
    );
}

#[test]
fn bert_family_folders_run_in_a_sweep_with_an_ensemble() {
    let d = setup();
    std::fs::write(
        d.path().join("c.yaml"),
        format!(
            "name: m\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane]\nmodels:\n\
             \x20 - {{name: dnabert2, kind: bert, modality: dna, weights: {}}}\n\
             \x20 - {{name: protbert, kind: bert, modality: protein, weights: {}, pooling: cls}}\n\
             ensembles:\n  - {{name: both, members: [dnabert2, protbert], fusion: [concat]}}\n\
             probe: {{kind: logreg}}\n",
            fixtures().join("dnabert2-tiny").display(),
            fixtures().join("protbert-tiny").display()
        ),
    )
    .unwrap();
    let (code, _, err) = gp_env(d.path(), &["-q", "run", "c.yaml"], &[]);
    assert_eq!(code, 0, "{err}");
    let dna =
        workers::store::Embeddings::read(&d.path().join("runs/embeddings/dnabert2.h5")).unwrap();
    let prot =
        workers::store::Embeddings::read(&d.path().join("runs/embeddings/protbert.h5")).unwrap();
    assert_eq!((dna.emb.ncols(), prot.emb.ncols()), (24, 32));
    assert_eq!(
        (dna.meta.pooling.as_str(), prot.meta.pooling.as_str()),
        ("mean", "cls")
    );
    assert!(dna.emb.iter().chain(prot.emb.iter()).all(|v| v.is_finite()));
    // Distinct genes embed distinctly (the model read its sequences).
    assert_ne!(dna.emb.row(0), dna.emb.row(1));
    let (code, out, err) = gp_env(d.path(), &["plan", "c.yaml"], &[]);
    assert_eq!(code, 0, "{err}");
    // Two members and their concat ensemble: three probe cells, all done.
    let probe: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("probe"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(probe, ["probe", "3", "3", "0", "0"], "{out}");
}

#[test]
fn t5_and_esm_c_folders_run_in_a_sweep() {
    let d = setup();
    std::fs::write(
        d.path().join("c.yaml"),
        format!(
            "name: m\ndataset: data\nstore: runs\nseeds: [0]\ntasks: [membrane]\nmodels:\n\
             \x20 - {{name: prott5, kind: t5, modality: protein, weights: {}, dtype: bfloat16}}\n\
             \x20 - {{name: esmc, kind: esmc, modality: protein, weights: {}, pooling: cls}}\n\
             probe: {{kind: logreg}}\n",
            fixtures().join("prott5-tiny").display(),
            fixtures().join("esmc-tiny").display()
        ),
    )
    .unwrap();
    let (code, _, err) = gp_env(d.path(), &["-q", "run", "c.yaml"], &[]);
    assert_eq!(code, 0, "{err}");
    let t5 = workers::store::Embeddings::read(&d.path().join("runs/embeddings/prott5.h5")).unwrap();
    let esmc = workers::store::Embeddings::read(&d.path().join("runs/embeddings/esmc.h5")).unwrap();
    assert_eq!((t5.emb.ncols(), esmc.emb.ncols()), (32, 64));
    assert!(t5.emb.iter().chain(esmc.emb.iter()).all(|v| v.is_finite()));
    assert_ne!(t5.emb.row(0), t5.emb.row(1));
    assert_ne!(esmc.emb.row(0), esmc.emb.row(1));
    // CLS pooling on a T5 model is refused before any work, naming the fix.
    std::fs::write(
        d.path().join("bad.yaml"),
        format!(
            "name: m\ndataset: data\nstore: runs2\nseeds: [0]\ntasks: [membrane]\nmodels:\n\
             \x20 - {{name: prott5, kind: t5, modality: protein, weights: {}, pooling: cls}}\n",
            fixtures().join("prott5-tiny").display()
        ),
    )
    .unwrap();
    let (code, _, err) = gp_env(d.path(), &["-q", "run", "bad.yaml"], &[]);
    assert_ne!(code, 0);
    assert!(err.contains("use `pooling: mean`"), "{err}");
}

/// Weight files are hashed once: a `plan` whose files are unchanged (same
/// path, size, mtime, inode) takes their digests from the store's or the
/// user's cache and reads no weight bytes. Shown by changing a weight file's
/// bytes in place and putting its mtime back: the cached digest (and so every
/// id) stays; touching the mtime makes the next plan read it again.
#[test]
fn a_second_plan_reads_no_weight_bytes() {
    let d = setup();
    let model = d.path().join("esm");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "vocab.txt", "model.safetensors"] {
        std::fs::copy(fixtures().join("esm2-tiny").join(f), model.join(f)).unwrap();
    }
    sweep(
        d.path(),
        "{name: esm, kind: esm, modality: protein, weights: esm}",
    );
    std::fs::create_dir_all(d.path().join("runs/journal")).unwrap();
    let user = d.path().join("user-cache.tsv");
    let ids = |env: &[(&str, &Path)]| -> Vec<String> {
        let (code, out, err) = gp_env(d.path(), &["plan", "--json", "c.yaml"], env);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = ids(&[("GENOPROT_HASH_CACHE", &user)]);
    let store_cache =
        std::fs::read_to_string(d.path().join("runs/journal/file-hashes.tsv")).unwrap();
    assert!(store_cache.contains("model.safetensors"), "{store_cache}");
    assert!(
        std::fs::read_to_string(&user)
            .unwrap()
            .contains("model.safetensors")
    );

    // Same size, same inode, same mtime, other bytes.
    let w = model.join("model.safetensors");
    let mtime = std::fs::metadata(&w).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x5a;
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&w).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(&bytes).unwrap();
        f.set_modified(mtime).unwrap();
    }
    assert_eq!(std::fs::metadata(&w).unwrap().modified().unwrap(), mtime);
    // The store's cache alone serves it (a node whose user cache is elsewhere).
    let elsewhere = d.path().join("other-user-cache.tsv");
    assert_eq!(ids(&[("GENOPROT_HASH_CACHE", &elsewhere)]), first);
    // And the user's cache alone (a new store of the same models).
    std::fs::remove_file(d.path().join("runs/journal/file-hashes.tsv")).unwrap();
    assert_eq!(ids(&[("GENOPROT_HASH_CACHE", &user)]), first);

    // A new mtime: read again, a new digest, new ids.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&w)
        .unwrap()
        .set_modified(mtime + std::time::Duration::from_secs(5))
        .unwrap();
    let after = ids(&[("GENOPROT_HASH_CACHE", &user)]);
    assert_ne!(after, first);
}

/// The multimodal and codon kinds run from a hub id in the offline cache,
/// and equal the same model read from its folder; a codon model given
/// `modality: protein` is refused by `plan` before any work.
#[test]
fn new_kinds_run_from_hub_ids_in_the_cache_and_equal_their_folders() {
    let d = setup();
    let cache = fixtures().join("hf-cache/hub");
    for (kind, model, modality) in [
        ("glm2", "glm2", "protein"),
        ("lucaone", "lucaone", "gene"),
        ("calm", "calm", "dna"),
        ("codonbert", "codonbert", "dna"),
        ("encodon", "encodon", "dna"),
        // NV-CodonFM: its safetensors file under its own name, `model.` keys.
        ("encodon", "codonfm", "dna"),
    ] {
        let mut stores = Vec::new();
        for (store, weights) in [
            ("hub", format!("genoprot-test/{model}-tiny")),
            (
                "dir",
                fixtures()
                    .join(format!("{model}-tiny"))
                    .display()
                    .to_string(),
            ),
        ] {
            std::fs::write(
                d.path().join("c.yaml"),
                format!(
                    "name: m\ndataset: data\nstore: {model}-{store}\nseeds: [0]\ntasks: [membrane]\nmodels:\n\
                     \x20 - {{name: mm, kind: {kind}, modality: {modality}, weights: {weights}}}\n"
                ),
            )
            .unwrap();
            let (code, _, err) = gp_env(
                d.path(),
                &[
                    "-q", "worker", "embed", "--config", "c.yaml", "--model", "mm",
                ],
                &[("HF_HUB_CACHE", &cache)],
            );
            assert_eq!(code, 0, "{model} {store}: {err}");
            stores.push(
                workers::store::Embeddings::read(
                    &d.path().join(format!("{model}-{store}/embeddings/mm.h5")),
                )
                .unwrap(),
            );
        }
        assert_eq!(stores[0].emb, stores[1].emb, "{model}");
        assert_eq!(stores[0].meta.weights_hash, stores[1].meta.weights_hash);
        if modality == "gene" {
            assert_eq!(
                stores[0].meta.parts,
                vec![("dna".to_string(), 32), ("protein".to_string(), 32)]
            );
        }
    }
    sweep(
        d.path(),
        &format!(
            "{{name: c, kind: calm, modality: protein, weights: {}}}",
            fixtures().join("calm-tiny").display()
        ),
    );
    let (code, _, err) = gp_env(d.path(), &["plan", "c.yaml"], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("c.yaml:7:") && err.contains("is a dna vocabulary"),
        "{err}"
    );
}

/// `layers:` makes one row per layer (`name@L<k>`) from one forward pass per
/// entry, with the vectors separate `layer: k` entries give.
#[test]
fn layers_give_the_vectors_of_separate_runs_from_one_pass() {
    let d = setup();
    let (esm, luca) = (
        fixtures().join("esm2-tiny"),
        fixtures().join("lucaone-tiny"),
    );
    let (esm, luca) = (esm.display(), luca.display());
    let head = "name: m\ndataset: data\nseeds: [0]\ntasks: [membrane]\nprobe: {kind: logreg}\n";
    std::fs::write(
        d.path().join("layers.yaml"),
        format!(
            "{head}store: layers\nmodels:\n\
             \x20 - {{name: esm, kind: esm, modality: protein, weights: {esm}, layers: [0, mid, last]}}\n\
             \x20 - {{name: luca, kind: lucaone, modality: gene, weights: {luca}, layers: all}}\n\
             ensembles:\n  - {{name: deep, members: [esm@L2, luca@L3], fusion: [concat]}}\n"
        ),
    )
    .unwrap();
    let (code, out, err) = gp_env(d.path(), &["--json", "plan", "layers.yaml"], &[]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let embed = plan["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "embed")
        .unwrap();
    assert_eq!(embed["total"], 2, "one embed job per entry: {out}");
    let (code, _, err) = gp_env(
        d.path(),
        &["run", "layers.yaml"],
        &[("RUST_LOG", Path::new("genoprot=info"))],
    );
    assert_eq!(code, 0, "{err}");
    let passes = err.matches("embeddings written").count();
    assert_eq!(passes, 2, "one pass per entry: {err}");
    // The same rows as separate entries, one layer each.
    let mut separate = format!("{head}store: separate\nmodels:\n");
    for k in [0, 1, 2] {
        separate += &format!(
            "  - {{name: esm{k}, kind: esm, modality: protein, weights: {esm}, layer: {k}}}\n"
        );
    }
    for k in [1, 2, 3] {
        separate += &format!(
            "  - {{name: luca{k}, kind: lucaone, modality: gene, weights: {luca}, layer: {k}}}\n"
        );
    }
    std::fs::write(d.path().join("separate.yaml"), separate).unwrap();
    let (code, _, err) = gp_env(d.path(), &["-q", "run", "separate.yaml"], &[]);
    assert_eq!(code, 0, "{err}");
    let read = |store: &str, m: &str| {
        workers::store::Embeddings::read(&d.path().join(format!("{store}/embeddings/{m}.h5")))
            .unwrap()
    };
    for (row, alone) in [
        ("esm@L0", "esm0"),
        ("esm@L1", "esm1"),
        ("esm@L2", "esm2"),
        ("luca@L1", "luca1"),
        ("luca@L2", "luca2"),
        ("luca@L3", "luca3"),
    ] {
        let (a, b) = (read("layers", row), read("separate", alone));
        assert_eq!(a.meta.model, row);
        let diff = (&a.emb - &b.emb).iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(diff < 1e-5, "{row} vs {alone}: max |diff| {diff}");
    }
    assert_ne!(read("layers", "esm@L0").emb, read("layers", "esm@L2").emb);
    // Each row is ranked in the results.
    let csv = std::fs::read_to_string(d.path().join("layers/results.csv")).unwrap();
    for row in ["esm@L0", "luca@L3", "deep:concat"] {
        assert!(csv.contains(row), "{row} missing from results.csv");
    }
    let summary = std::fs::read_to_string(d.path().join("layers/report/summary.md")).unwrap();
    assert!(
        summary.contains("### Score by layer") && summary.contains("| task | L1 | L2 | L3 |"),
        "{summary}"
    );
    // A word it does not know is refused at its position.
    std::fs::write(
        d.path().join("bad.yaml"),
        format!("{head}store: bad\nmodels:\n  - {{name: esm, kind: esm, modality: protein, weights: {esm}, layers: [1, deepest]}}\n"),
    )
    .unwrap();
    let (code, _, err) = gp_env(d.path(), &["plan", "bad.yaml"], &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.yaml:8:")
            && err.contains("layers: \"deepest\": expected layer numbers, mid, last or all"),
        "{err}"
    );
}
