//! The native multimodal and codon encoders against their authors' code on
//! committed tiny fixtures: gLM2 against TattaBio's `modeling_glm2.py` and
//! LucaOne against the `lucaone` package (scripts/make_multimodal_fixtures.py),
//! CaLM against the `calm` package, CodonBERT against transformers' BERT
//! with Sanofi's tokenizer code, EnCodon against cdsFM's modeling file
//! (scripts/make_codon_fixtures.py), NV-CodonFM's Encodon against NVIDIA's
//! (scripts/make_codonfm_fixture.py). Every
//! input the model takes (protein, CDS), token ids equal, mean (and CLS) of
//! the last layer, of layer 1 and of the embeddings within 1e-4, padded
//! sub-batches and windowed long sequences; `modality: gene` is the CDS's
//! vector then the protein's; and a single-modality model refuses `gene`.

use std::path::{Path, PathBuf};
use workers::embed::{Embedder, Modality, SeqInput, embed_all};
use workers::models::native::{Molecule, NativeEmbedder, NativeOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// This build's CPU device, or `GENOPROT_TEST_DEVICE` (`cuda`, `cuda:N`).
fn device() -> burn::tensor::Device {
    match std::env::var("GENOPROT_TEST_DEVICE") {
        Ok(s) => workers::device::resolve(s.parse().unwrap()).unwrap().1,
        Err(_) => workers::device::cpu(),
    }
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn reference(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture(name).join("reference.json")).unwrap()).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

fn load(
    name: &str,
    modality: Modality,
    pooling: &str,
    layer: Option<i64>,
    budget: usize,
) -> NativeEmbedder {
    let r = reference(name);
    // CodonBERT's folder is a BERT folder and EnCodon's config names no
    // model_type: their kinds are named, as in a config.
    use workers::embed::kinds::ModelKind;
    let kind = match name {
        "codonbert-tiny" => Some(ModelKind::Codonbert),
        "encodon-tiny" | "codonfm-tiny" => Some(ModelKind::Encodon),
        _ => None,
    };
    NativeEmbedder::load(
        name,
        kind,
        modality,
        &device(),
        &fixture(name),
        &NativeOptions::mean()
            .pooling(pooling)
            .layer(layer)
            .max_tokens(Some(budget))
            .window(r["window"].as_u64().map(|w| w as usize)),
    )
    .unwrap()
}

fn inputs<'a>(texts: &'a [String], ids: &'a [String], modality: Modality) -> Vec<SeqInput<'a>> {
    texts
        .iter()
        .zip(ids)
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
        .collect()
}

fn check(name: &str) {
    let r = reference(name);
    let n_layers = r["layers"].as_i64().unwrap();
    for (modality, molecule, key) in [
        (Modality::Protein, Molecule::Protein, "protein"),
        (Modality::Dna, Molecule::Dna, "dna"),
    ] {
        // A codon model's reference has CDSs only.
        let Some(seqs) = r[key].as_array() else {
            continue;
        };
        let texts: Vec<String> = seqs
            .iter()
            .map(|s| s["sequence"].as_str().unwrap().into())
            .collect();
        let ids: Vec<String> = (0..texts.len()).map(|i| format!("s{i}")).collect();
        let batch = inputs(&texts, &ids, modality);
        let e = load(name, modality, "mean", None, 40);
        for (s, t) in seqs.iter().zip(&texts) {
            let want: Vec<u32> = s["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let got = e
                .model
                .tokenizer
                .encode(&e.model.native().input(t.as_bytes(), molecule));
            assert_eq!(got, want, "{name} {key}: tokens of {t}");
        }
        let poolings: Vec<&str> = ["mean", "cls"]
            .into_iter()
            .filter(|p| *p == "mean" || seqs[0].get("cls").is_some())
            .collect();
        for pooling in poolings {
            // layer None = last; n = last too; 1 and 0 (the embeddings).
            for (layer, suffix) in [
                (None, ""),
                (Some(n_layers), ""),
                (Some(1), "_layer1"),
                (Some(0), "_layer0"),
            ] {
                if pooling == "cls" && !suffix.is_empty() {
                    continue;
                }
                let field = if pooling == "cls" {
                    "cls".to_string()
                } else {
                    format!("mean{suffix}")
                };
                for budget in [40usize, 100_000] {
                    let e = load(name, modality, pooling, layer, budget);
                    let out = embed_all(&e, &batch, &mut |_| {}).unwrap();
                    assert_eq!(out.ncols(), e.dim());
                    for (i, s) in seqs.iter().enumerate() {
                        let d = max_diff(&floats(&s[&field]), &out.row(i).to_vec());
                        assert!(
                            d < 1e-4,
                            "{name} {key} {field} layer {layer:?} budget {budget}: sequence {i} \
                             ({} windows) max |diff| = {d}",
                            s["windows"]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn glm2_matches_the_authors_modeling_file_on_proteins_and_cds() {
    check("glm2-tiny");
}

#[test]
fn lucaone_matches_the_lucaone_package_on_proteins_and_cds() {
    check("lucaone-tiny");
}

#[test]
fn calm_with_interleaved_rotary_matches_the_calm_package() {
    check("calm-tiny");
}

#[test]
fn codonbert_matches_bert_with_the_authors_codon_tokenizer() {
    check("codonbert-tiny");
}

#[test]
fn encodon_with_sandwich_norms_and_half_rotary_matches_the_cdsfm_code() {
    check("encodon-tiny");
}

/// NV-CodonFM's Encodon (`kind: encodon` on NVIDIA's layout): rotary over
/// whole heads, no position table, against NVIDIA's own modeling code
/// (scripts/make_codonfm_fixture.py).
#[test]
fn nv_codonfm_encodon_matches_nvidias_code() {
    check("codonfm-tiny");
}

/// `modality: gene`: one vector per gene, the CDS's part then the protein's.
fn gene_is_dna_then_protein(name: &str) {
    let r = reference(name);
    let (dna, prot) = (
        r["dna"].as_array().unwrap(),
        r["protein"].as_array().unwrap(),
    );
    let ids: Vec<String> = (0..dna.len()).map(|i| format!("g{i}")).collect();
    let batch: Vec<SeqInput<'_>> = (0..dna.len())
        .map(|i| SeqInput {
            id: &ids[i],
            dna: dna[i]["sequence"].as_str().unwrap().as_bytes(),
            protein: prot[i]["sequence"].as_str().unwrap().as_bytes(),
        })
        .collect();
    let e = load(name, Modality::Gene, "mean", None, 40);
    let h = e.model.encoder.hidden;
    assert_eq!(e.dim(), 2 * h);
    let out = embed_all(&e, &batch, &mut |_| {}).unwrap();
    for i in 0..batch.len() {
        let row = out.row(i).to_vec();
        assert!(
            max_diff(&row[..h], &floats(&dna[i]["mean"])) < 1e-4,
            "{name} gene {i}: CDS part"
        );
        assert!(
            max_diff(&row[h..], &floats(&prot[i]["mean"])) < 1e-4,
            "{name} gene {i}: protein part"
        );
    }
}

#[test]
fn glm2_gene_input_stores_the_cds_part_then_the_protein_part() {
    gene_is_dna_then_protein("glm2-tiny");
}

#[test]
fn lucaone_gene_input_stores_the_cds_part_then_the_protein_part() {
    gene_is_dna_then_protein("lucaone-tiny");
}

#[test]
fn a_single_modality_model_refuses_the_gene_input() {
    let err = NativeEmbedder::load(
        "esm2",
        None,
        Modality::Gene,
        &device(),
        &fixture("esm2-tiny"),
        &NativeOptions::mean(),
    )
    .err()
    .expect("gene refused")
    .to_string();
    assert!(
        err.contains("modality: gene needs a multimodal model") && err.contains("glm2, lucaone"),
        "{err}"
    );
}
