//! Tokenizer parity: `tokenizer.json` files trained by the Python `tokenizers`
//! library (scripts/make_tokenizer_fixtures.py) give the same token ids here,
//! with and without special tokens: a DNABERT-2-style BPE on 1,001 CDS (with
//! N, lowercase, one of 12,000 nt) and a ProtBert-style WordPiece on 301
//! proteins (X/U/B/Z/O, space-separated residues, one of 5,000).

use std::path::{Path, PathBuf};
use workers::models::hf_tokenizer::{FolderTokenizer, JsonTokenizer};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/tokenizers")
        .join(name)
}

fn parity(name: &str) -> (JsonTokenizer, usize) {
    let d = dir(name);
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("reference.json")).unwrap()).unwrap();
    let t = JsonTokenizer::from_dir(&d).unwrap();
    let spaced = r["spaced"].as_bool().unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let corpus = r["corpus"].as_array().unwrap();
    for (i, s) in corpus.iter().enumerate() {
        let s = s.as_str().unwrap();
        let text = if spaced {
            s.chars().map(String::from).collect::<Vec<_>>().join(" ")
        } else {
            s.to_string()
        };
        assert_eq!(
            t.encode_text(&text, false).unwrap(),
            ids(&r["ids"][i]),
            "{name} #{i}: {s}"
        );
        assert_eq!(
            t.encode_text(&text, true).unwrap(),
            ids(&r["ids_with_specials"][i]),
            "{name} #{i} with specials"
        );
    }
    (t, corpus.len())
}

#[test]
fn dnabert2_style_bpe_matches_the_python_library() {
    let (t, n) = parity("dna-bpe");
    assert!(n >= 1000);
    assert!(!t.spaced);
    assert!(t.cls.is_some() && t.eos.is_some());
    // The folder tokenizer reads it as a DNA vocabulary.
    let f = FolderTokenizer::open(&dir("dna-bpe")).unwrap();
    assert_eq!(f.alphabet(), Some("dna"));
    assert_eq!(f.encode(b"atgaaa"), t.encode_text("ATGAAA", false).unwrap());
}

#[test]
fn protbert_style_wordpiece_matches_the_python_library() {
    let (t, _) = parity("protein-wordpiece");
    // Residues are words: the folder tokenizer spaces sequences itself.
    assert!(t.spaced);
    let f = FolderTokenizer::open(&dir("protein-wordpiece")).unwrap();
    assert_eq!(f.alphabet(), Some("protein"));
    assert_eq!(f.encode(b"MKV"), t.encode_text("M K V", false).unwrap());
    assert!(f.is_special(f.cls().unwrap()) && f.is_special(f.pad()));
}

#[test]
fn folders_without_a_tokenizer_are_named() {
    let d = tempfile::tempdir().unwrap();
    let e = FolderTokenizer::open(d.path()).err().unwrap().to_string();
    assert!(
        e.contains("no tokenizer: expected vocab.txt, tokenizer.json or spiece.model"),
        "{e}"
    );
    std::fs::write(d.path().join("tokenizer.json"), "{not json").unwrap();
    let e = FolderTokenizer::open(d.path()).err().unwrap().to_string();
    assert!(e.contains("tokenizer.json") && e.contains("hint"), "{e}");
}
