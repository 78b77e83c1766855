//! The native encoders against their references on the committed tiny
//! fixtures: ESM-2 and Nucleotide Transformer against transformers' EsmModel
//! (scripts/make_esm_fixtures.py); ProtBert- and cdsBERT-style BERT against
//! transformers' BertModel, GENA-LM's pre-LN BERT and DNABERT-2's MosaicBERT
//! against PyTorch references of their published code
//! (scripts/make_bert_fixtures.py). Token ids equal, mean and CLS embeddings
//! within 1e-4, padding-heavy batches and a windowed long sequence.

use std::path::{Path, PathBuf};
use workers::embed::{Embedder, Modality, SeqInput, embed_all};
use workers::models::encoder::{Activation, gated_feed_forward};
use workers::models::native::{Family, NativeEmbedder, NativeOptions, rare_residues_as_x};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// The device under test: this build's CPU device (flex, or LibTorch's CPU
/// with `--features tch`), or `GENOPROT_TEST_DEVICE` (`cuda`, `cuda:N`).
fn device() -> burn::tensor::Device {
    match std::env::var("GENOPROT_TEST_DEVICE") {
        Ok(s) => workers::device::resolve(s.parse().unwrap()).unwrap().1,
        Err(_) => workers::device::cpu(),
    }
}

#[test]
fn runs_on_this_builds_backend() {
    let d = format!("{:?}", device().as_dispatch());
    let want = if std::env::var("GENOPROT_TEST_DEVICE").is_ok_and(|s| s.starts_with("cuda")) {
        "LibTorch(Cuda("
    } else if cfg!(feature = "tch") {
        "LibTorch(Cpu"
    } else {
        "Flex("
    };
    assert!(d.starts_with(want), "{d}");
    eprintln!("native fixture tests run on {d}");
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn check(name: &str, modality: Modality) {
    let dir = fixture(name);
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    let seqs = r["sequences"].as_array().unwrap();
    // The reference's window (BERT-family fixtures record it; ESM's is the model's).
    let window = r["window"].as_u64().map(|w| w as usize);
    let texts: Vec<String> = seqs
        .iter()
        .map(|s| s["sequence"].as_str().unwrap().to_string())
        .collect();
    let ids: Vec<String> = (0..texts.len()).map(|i| format!("s{i}")).collect();
    let inputs: Vec<SeqInput<'_>> = texts
        .iter()
        .zip(&ids)
        .map(|(t, id)| match modality {
            Modality::Protein => SeqInput {
                id,
                dna: b"",
                protein: t.as_bytes(),
            },
            _ => SeqInput {
                id,
                dna: t.as_bytes(),
                protein: b"",
            },
        })
        .collect();
    // T5 has no CLS token: its references hold means only.
    for pooling in ["mean", "cls"]
        .into_iter()
        .filter(|p| seqs[0].get(*p).is_some())
    {
        // A small token budget forces several padded sub-batches.
        for budget in [40usize, 100_000] {
            let e = NativeEmbedder::load(
                name,
                None,
                modality,
                &device(),
                &dir,
                &NativeOptions::mean()
                    .pooling(pooling)
                    .max_tokens(Some(budget))
                    .window(window),
            )
            .unwrap();
            if pooling == "mean" && budget == 40 {
                for (s, t) in seqs.iter().zip(&texts) {
                    let want: Vec<u32> = s["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap() as u32)
                        .collect();
                    let text = if e.model.family == Family::T5 {
                        rare_residues_as_x(t.as_bytes())
                    } else {
                        t.as_bytes().to_vec()
                    };
                    assert_eq!(
                        e.model.tokenizer.encode(&text),
                        want,
                        "{name}: tokens of {t}"
                    );
                }
            }
            let mut last = None;
            let out = embed_all(&e, &inputs, &mut |p| last = Some(p)).unwrap();
            assert_eq!(out.ncols(), e.dim());
            // Progress counts the tokens run through the model: every
            // window of the reference's ids with its special tokens.
            let (win, tok) = (e.window(), &e.model.tokenizer);
            let specials = usize::from(tok.cls().is_some()) + usize::from(tok.eos().is_some());
            let want_tokens: usize = seqs
                .iter()
                .map(|s| {
                    let n = s["ids"].as_array().unwrap().len();
                    workers::batching::windows(n, win, e.stride.unwrap_or(win))
                        .iter()
                        .map(|r| r.len() + specials)
                        .sum::<usize>()
                })
                .sum();
            let last = last.unwrap();
            assert_eq!(last.sequences, inputs.len());
            assert_eq!(last.tokens, Some(want_tokens), "{name}");
            for (i, s) in seqs.iter().enumerate() {
                let want = floats(&s[pooling]);
                let got = out.row(i).to_vec();
                let diff = want
                    .iter()
                    .zip(&got)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    diff < 1e-4,
                    "{name} {pooling} budget {budget}: sequence {i} ({} windows) max |diff| = {diff}",
                    s["windows"]
                );
            }
            // The same bits on one thread (one batch at a time) and on
            // three (batches side by side): results do not depend on the
            // cores a run got.
            let bits = |a: &ndarray::Array2<f32>| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let again = pool.install(|| embed_all(&e, &inputs, &mut |_| {}).unwrap());
                assert!(
                    bits(&again) == bits(&out),
                    "{name} {pooling} budget {budget}: {threads} threads changed bits"
                );
            }
        }
    }
}

#[test]
fn esm2_style_rotary_model_matches_transformers() {
    check("esm2-tiny", Modality::Protein);
}

#[test]
fn nucleotide_transformer_style_model_matches_transformers() {
    check("nt-tiny", Modality::Dna);
}

#[test]
fn nucleotide_transformer_3mer_vocabulary_matches_transformers() {
    check("nt3-tiny", Modality::Dna);
}

#[test]
fn protbert_style_bert_matches_transformers() {
    check("protbert-tiny", Modality::Protein);
}

#[test]
fn cdsbert_style_codon_bert_matches_transformers() {
    check("cdsbert-tiny", Modality::Dna);
}

#[test]
fn gena_lm_style_pre_ln_bert_matches_its_reference() {
    check("gena-tiny", Modality::Dna);
}

#[test]
fn dnabert2_style_mosaic_bert_matches_its_reference() {
    check("dnabert2-tiny", Modality::Dna);
}

#[test]
fn prott5_style_t5_encoder_with_half_precision_weights_matches_transformers() {
    check("prott5-tiny", Modality::Protein);
}

#[test]
fn prostt5_style_t5_encoder_with_its_prefix_matches_transformers() {
    check("prostt5-tiny", Modality::Protein);
}

#[test]
fn ankh_style_gated_gelu_t5_encoder_matches_transformers() {
    check("ankh-tiny", Modality::Protein);
}

#[test]
fn ankh2_style_gated_silu_t5_encoder_matches_transformers() {
    check("ankh2-tiny", Modality::Protein);
}

#[test]
fn esm_c_matches_the_esm_package() {
    check("esmc-tiny", Modality::Protein);
}

#[test]
fn t5_and_esm_c_folders_are_recognised_and_have_no_position_limit() {
    for (name, family, variant) in [
        ("prott5-tiny", Family::T5, "T5 encoder"),
        ("ankh-tiny", Family::T5, "T5 encoder"),
        ("esmc-tiny", Family::Esmc, "ESM C"),
    ] {
        let m = workers::models::native::NativeModel::load(&fixture(name), &device()).unwrap();
        assert_eq!((m.family, m.variant), (family, variant), "{name}");
        assert_eq!(m.window(), None, "{name}");
    }
    // ProtT5 without ProstT5's prefix has nothing in front of the residues.
    let e = NativeEmbedder::load(
        "p",
        Some(Family::T5),
        Modality::Protein,
        &device(),
        &fixture("prott5-tiny"),
        &NativeOptions::mean().pooling("cls"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("pooling: cls") && e.contains("use `pooling: mean`"),
        "{e}"
    );
    let err = NativeEmbedder::load(
        "e",
        Some(Family::Esm),
        Modality::Protein,
        &device(),
        &fixture("esmc-tiny"),
        &NativeOptions::mean(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("hint: set `kind: esmc`"), "{err}");
}

#[test]
fn each_bert_variant_is_recognised_from_the_folder() {
    for (name, variant, window) in [
        ("protbert-tiny", "BERT (post-LN)", Some(14)),
        ("cdsbert-tiny", "BERT (post-LN)", Some(10)),
        ("gena-tiny", "BERT (pre-LN, GENA-LM)", Some(22)),
        (
            "dnabert2-tiny",
            "MosaicBERT (DNABERT-2: ALiBi, GeGLU)",
            None,
        ),
    ] {
        let m = workers::models::native::NativeModel::load(&fixture(name), &device()).unwrap();
        assert_eq!(m.family, workers::models::native::Family::Bert, "{name}");
        assert_eq!(m.variant, variant, "{name}");
        assert_eq!(m.window(), window, "{name}");
    }
    // ALiBi has no position limit: a long CDS is windowed by the token budget
    // only (or a configured window).
    let e = NativeEmbedder::load(
        "d",
        None,
        Modality::Dna,
        &device(),
        &fixture("dnabert2-tiny"),
        &NativeOptions::mean().max_tokens(Some(4096)),
    )
    .unwrap();
    assert_eq!(e.window(), 4094);
    // The entry's kind must be the folder's family.
    let err = NativeEmbedder::load(
        "d",
        Some(workers::models::native::Family::Esm),
        Modality::Dna,
        &device(),
        &fixture("dnabert2-tiny"),
        &NativeOptions::mean(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("holds a bert model (MosaicBERT (DNABERT-2: ALiBi, GeGLU)), but the entry says kind: esm (hint: set `kind: bert`)"),
        "{err}"
    );
}

#[test]
fn gated_feed_forward_matches_pytorch() {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("glu-ffn.json")).unwrap()).unwrap();
    let flat = |v: &serde_json::Value| -> Vec<f32> {
        fn go(v: &serde_json::Value, out: &mut Vec<f32>) {
            match v {
                serde_json::Value::Array(a) => a.iter().for_each(|x| go(x, out)),
                x => out.push(x.as_f64().unwrap() as f32),
            }
        }
        let mut out = Vec::new();
        go(v, &mut out);
        out
    };
    let (x, w_in, w_out, want) = (
        flat(&r["x"]),
        flat(&r["w_in"]),
        flat(&r["w_out"]),
        flat(&r["out"]),
    );
    let got = gated_feed_forward(x, [3, 5, 8], w_in, w_out, 12, Activation::Silu);
    let diff = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-4, "max |diff| = {diff}");
}

/// The error of loading the folder `dir` (mean pooling, layer `layer`).
fn load_err(dir: &Path, layer: Option<i64>) -> String {
    NativeEmbedder::load(
        "x",
        None,
        Modality::Protein,
        &device(),
        dir,
        &NativeOptions::mean().layer(layer),
    )
    .err()
    .expect("loading should fail")
    .to_string()
}

#[test]
fn bad_model_folders_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let e = load_err(d.path(), None);
    assert!(
        e.contains("config.json") && e.contains("Hugging Face model folder"),
        "{e}"
    );
    for f in ["config.json", "vocab.txt", "model.safetensors"] {
        std::fs::copy(fixture("esm2-tiny").join(f), d.path().join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(d.path().join("config.json")).unwrap();
    std::fs::write(
        d.path().join("config.json"),
        cfg.replace("\"rotary\"", "\"alibi\""),
    )
    .unwrap();
    let e = load_err(d.path(), None);
    assert!(
        e.contains("position_embedding_type \"alibi\" is not supported"),
        "{e}"
    );
    std::fs::write(
        d.path().join("config.json"),
        cfg.replace("\"hidden_size\": 32", "\"hidden_size\": 40"),
    )
    .unwrap();
    let e = load_err(d.path(), None);
    assert!(e.contains("has shape") && e.contains("expected"), "{e}");
    std::fs::write(d.path().join("config.json"), &cfg).unwrap();
    let e = load_err(d.path(), Some(7));
    assert!(e.contains("layer 7: the model has 2 layers"), "{e}");
}

#[test]
fn folder_values_that_cannot_work_are_refused_naming_the_field_or_tensor() {
    let d = tempfile::tempdir().unwrap();
    for f in ["config.json", "vocab.txt", "model.safetensors"] {
        std::fs::copy(fixture("esm2-tiny").join(f), d.path().join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(d.path().join("config.json")).unwrap();
    for (from, to, want) in [
        (
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 0",
            "num_hidden_layers = 0: must be >= 1",
        ),
        (
            "\"num_attention_heads\": 4",
            "\"num_attention_heads\": 0",
            "num_attention_heads = 0",
        ),
        (
            "\"max_position_embeddings\": 24",
            "\"max_position_embeddings\": 4",
            "max_position_embeddings = 4 leaves no room for a residue (needs >= pad_token_id + 4 = 5)",
        ),
        (
            "\"pad_token_id\": 1",
            "\"pad_token_id\": 40",
            "pad_token_id = 40 is outside the vocabulary (vocab_size = 33)",
        ),
        (
            "\"layer_norm_eps\": 1e-05",
            "\"layer_norm_eps\": 0.0",
            "layer_norm_eps = 0: must be > 0",
        ),
    ] {
        std::fs::write(d.path().join("config.json"), cfg.replace(from, to)).unwrap();
        let e = load_err(d.path(), None);
        assert!(
            e.contains("config.json") && e.contains(want),
            "want {want:?}: {e}"
        );
    }
    std::fs::write(d.path().join("config.json"), &cfg).unwrap();
    // A NaN inside a weight tensor: named, with where.
    let path = d.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let (name, at) = {
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let name = "encoder.layer.1.attention.self.query.weight";
        let name = st
            .names()
            .into_iter()
            .find(|n| n.ends_with(name))
            .unwrap()
            .to_string();
        let t = st.tensor(&name).unwrap();
        (name, t.data().as_ptr() as usize - bytes.as_ptr() as usize)
    };
    bytes[at + 8..at + 12].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let e = load_err(d.path(), None);
    assert!(
        e.contains(&format!(
            "tensor {name} holds a non-finite value (NaN) at flat index 2"
        )),
        "{e}"
    );
    // A protein vocabulary for a DNA model, and a DNA vocabulary for a protein model.
    let e = NativeEmbedder::load(
        "x",
        None,
        Modality::Dna,
        &device(),
        &fixture("esm2-tiny"),
        &NativeOptions::mean(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("esm2-tiny: the tokenizer's vocabulary is a protein vocabulary, but the model is configured with modality: dna"),
        "{e}"
    );
    let e = load_err(&fixture("nt-tiny"), None);
    assert!(e.contains("is a dna vocabulary"), "{e}");
}

/// The esm2-tiny reference: sequences and transformers' mean embeddings.
fn reference() -> (Vec<String>, Vec<Vec<f32>>) {
    let r: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("esm2-tiny").join("reference.json")).unwrap(),
    )
    .unwrap();
    let seqs = r["sequences"].as_array().unwrap();
    (
        seqs.iter()
            .map(|s| s["sequence"].as_str().unwrap().to_string())
            .collect(),
        seqs.iter().map(|s| floats(&s["mean"])).collect(),
    )
}

/// Mean embeddings of the reference sequences from the folder `dir`, and the
/// weights hash.
fn embed_folder(dir: &Path) -> (ndarray::Array2<f32>, String) {
    let (seqs, _) = reference();
    let e = NativeEmbedder::load(
        "x",
        None,
        Modality::Protein,
        &device(),
        dir,
        &NativeOptions::mean(),
    )
    .unwrap();
    let inputs: Vec<SeqInput<'_>> = seqs
        .iter()
        .map(|s| SeqInput {
            id: "g",
            dna: b"",
            protein: s.as_bytes(),
        })
        .collect();
    (
        embed_all(&e, &inputs, &mut |_| {}).unwrap(),
        e.weights_hash(),
    )
}

#[test]
fn every_hugging_face_layout_embeds_bit_identically() {
    let (base, hash) = embed_folder(&fixture("esm2-tiny"));
    let (_, want) = reference();
    let diff = base
        .iter()
        .zip(want.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-4, "vs transformers: {diff}");
    let root = fixture("layouts");
    let snapshot = workers::models::hub::resolve_in(
        Path::new("genoprot-test/esm2-tiny"),
        &root,
        &[fixture("hf-cache/hub")],
    )
    .unwrap();
    for dir in [
        root.join("esm2-tiny-bin"),
        root.join("esm2-tiny-sharded-bin"),
        root.join("esm2-tiny-sharded-st"),
        snapshot,
    ] {
        let (e, h) = embed_folder(&dir);
        assert_eq!(e, base, "{} embeds differently", dir.display());
        assert_eq!(h, hash, "{} hashes differently", dir.display());
        let w = workers::models::weights::Weights::open(&dir).unwrap();
        assert!(w.contains("embeddings.word_embeddings.weight"));
    }
    assert_eq!(
        workers::models::weights::Weights::open(&root.join("esm2-tiny-sharded-bin"))
            .unwrap()
            .format(),
        "sharded pytorch_model.bin"
    );
}

/// The half-precision forward pass (what `dtype: bfloat16 | float16` runs on
/// GPUs) stays close to the f32 reference: weights, inputs and position
/// biases are cast, the output comes back as f32. Run here on the CPU
/// backend, where the embedder itself keeps f32.
#[test]
fn half_precision_forward_passes_stay_close_to_f32() {
    for (name, dtype) in [
        ("prott5-tiny", burn::tensor::FloatDType::BF16),
        ("esmc-tiny", burn::tensor::FloatDType::F16),
        ("dnabert2-tiny", burn::tensor::FloatDType::BF16),
    ] {
        let dir = fixture(name);
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
        let window = r["window"].as_u64().map(|w| w as usize);
        let modality = if name.starts_with("dnabert") {
            Modality::Dna
        } else {
            Modality::Protein
        };
        let opts = NativeOptions {
            dtype: Some("bfloat16".into()),
            ..NativeOptions::mean().window(window)
        };
        let mut e = NativeEmbedder::load(name, None, modality, &device(), &dir, &opts).unwrap();
        assert!(e.model.encoder.dtype.is_none(), "the CPU runs float32");
        e.model.encoder.set_dtype(dtype);
        let seqs = r["sequences"].as_array().unwrap();
        let texts: Vec<String> = seqs
            .iter()
            .map(|s| s["sequence"].as_str().unwrap().to_string())
            .collect();
        let inputs: Vec<SeqInput<'_>> = texts
            .iter()
            .map(|t| SeqInput {
                id: "x",
                dna: t.as_bytes(),
                protein: t.as_bytes(),
            })
            .collect();
        let out = embed_all(&e, &inputs, &mut |_| {}).unwrap();
        let mut worst = 0f32;
        for (i, s) in seqs.iter().enumerate() {
            for (a, b) in floats(&s["mean"]).iter().zip(out.row(i)) {
                worst = worst.max((a - b).abs());
            }
        }
        assert!(worst < 0.08, "{name} {dtype:?}: max |diff| = {worst}");
        assert!(worst > 0.0, "{name}: the cast changed nothing");
        eprintln!("{name} {dtype:?}: max |diff| vs f32 reference {worst}");
    }
}
