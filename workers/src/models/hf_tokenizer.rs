//! Tokenizers from a Hugging Face model folder: `tokenizer.json` (BPE as in
//! DNABERT-2, WordPiece as in ProtBert, Unigram, WordLevel) through the
//! `tokenizers` crate, ESM's `vocab.txt` ([`super::tokenizer::Tokenizer`]),
//! or a SentencePiece `spiece.model` ([`super::spiece::SpModel`]; residues
//! space-separated, as ProtT5 and Ankh are fed).
//! Special tokens come from `special_tokens_map.json`, then
//! `tokenizer_config.json`, then the usual names. Token ids equal the Python
//! `tokenizers` library's (tested on committed corpora,
//! scripts/make_tokenizer_fixtures.py).

use super::ModelError;
use super::spiece::SpModel;
use super::tokenizer::Tokenizer;
use std::path::Path;

/// ProstT5's prefix for amino-acid input.
const PROSTT5_PREFIX: &str = "<AA2fold>";

/// A `tokenizer.json` tokenizer with the folder's special tokens.
pub struct JsonTokenizer {
    inner: tokenizers::Tokenizer,
    pub cls: Option<u32>,
    pub eos: Option<u32>,
    pub pad: u32,
    specials: Vec<u32>,
    /// The vocabulary reads residues one word each (ProtBert, ProtT5):
    /// sequences are space-separated before encoding.
    pub spaced: bool,
    /// The vocabulary reads codons one word each (cdsBERT-style): coding
    /// sequences are split into codons, space-separated, before encoding.
    pub codons: bool,
}

/// A special token's text from `special_tokens_map.json` or
/// `tokenizer_config.json` (a string, or an object with `content`).
fn special(dir: &Path, key: &str) -> Option<String> {
    ["special_tokens_map.json", "tokenizer_config.json"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .find_map(|v| match v.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
            _ => None,
        })
}

impl JsonTokenizer {
    /// Reads `dir/tokenizer.json` and the special-token files beside it.
    pub fn from_dir(dir: &Path) -> Result<JsonTokenizer, ModelError> {
        let p = dir.join("tokenizer.json");
        let inner = tokenizers::Tokenizer::from_file(&p).map_err(|e| {
            ModelError::file(
                &p,
                format!(
                    "{e} (hint: a tokenizer.json saved by the `tokenizers` library or `save_pretrained`)"
                ),
            )
        })?;
        let id = |keys: &[&str], names: &[&str]| -> Option<u32> {
            keys.iter()
                .filter_map(|k| special(dir, k))
                .chain(names.iter().map(|n| n.to_string()))
                .find_map(|t| inner.token_to_id(&t))
        };
        // ProstT5's `<AA2fold>` prefix stands where a CLS token would.
        let cls = id(
            &["cls_token", "bos_token"],
            &["[CLS]", "<cls>", "<s>", PROSTT5_PREFIX],
        );
        let eos = id(&["sep_token", "eos_token"], &["[SEP]", "<eos>", "</s>"]);
        let pad = id(&["pad_token"], &["[PAD]", "<pad>"]).ok_or_else(|| {
            ModelError::file(
                &p,
                "no pad token (set pad_token in special_tokens_map.json)",
            )
        })?;
        let unk = id(&["unk_token"], &["[UNK]", "<unk>"]);
        // Added special tokens, and the folder's named special tokens (a
        // vocabulary may hold them as ordinary entries).
        let mut specials: Vec<u32> = inner
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| *id)
            .collect();
        for key in [
            "pad_token",
            "unk_token",
            "cls_token",
            "sep_token",
            "mask_token",
            "bos_token",
            "eos_token",
        ] {
            if let Some(i) = special(dir, key).and_then(|t| inner.token_to_id(&t)) {
                specials.push(i);
            }
        }
        specials.extend([cls, eos].into_iter().flatten());
        // An unknown residue is still a residue: pooled like transformers' special-tokens mask does.
        specials.retain(|s| Some(*s) != unk);
        let mut t = JsonTokenizer {
            inner,
            cls,
            eos,
            pad,
            specials,
            spaced: false,
            codons: false,
        };
        if let Some(unk) = unk {
            let probe = "ACDEFGHIKLMNPQRSTVWY";
            let plain = t.encode_text(probe, false)?;
            let spaced = t.encode_text(
                &probe
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" "),
                false,
            )?;
            t.spaced = plain.contains(&unk) && !spaced.contains(&unk);
            let codon_words = t
                .words()
                .iter()
                .filter(|w| w.len() == 3 && w.bytes().all(|b| b"ACGT".contains(&b)))
                .count();
            let joined = t.encode_text("ATGGCTAAGTAA", false)?;
            t.codons = codon_words >= 61 && joined.contains(&unk);
        }
        Ok(t)
    }

    /// The ids of `text` as the Python library gives them.
    pub fn encode_text(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<Vec<u32>, ModelError> {
        self.inner
            .encode(text, add_special_tokens)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| ModelError::content(format!("tokenizer: {e}")))
    }

    /// A sequence's ids without special tokens (space-separated first for
    /// per-residue vocabularies).
    pub fn encode(&self, seq: &[u8]) -> Vec<u32> {
        let s = String::from_utf8_lossy(seq).to_ascii_uppercase();
        let text = if self.codons {
            s.as_bytes()
                .chunks(3)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        } else if self.spaced {
            s.chars().map(String::from).collect::<Vec<_>>().join(" ")
        } else {
            s
        };
        self.encode_text(&text, false).unwrap_or_default()
    }

    pub fn is_special(&self, id: u32) -> bool {
        self.specials.contains(&id) || id == self.pad
    }

    /// The vocabulary's tokens (without added special tokens).
    pub fn words(&self) -> Vec<String> {
        self.inner.get_vocab(false).into_keys().collect()
    }
}

/// The tokenizer of a model folder: ESM's `vocab.txt` when present, else
/// `tokenizer.json`, else `spiece.model`.
pub enum FolderTokenizer {
    Vocab(Tokenizer),
    Json(Box<JsonTokenizer>),
    Spiece(Box<SpModel>),
}

impl FolderTokenizer {
    pub fn open(dir: &Path) -> Result<FolderTokenizer, ModelError> {
        let vocab = dir.join("vocab.txt");
        if vocab.is_file() {
            return Tokenizer::from_file(&vocab).map(FolderTokenizer::Vocab);
        }
        if dir.join("tokenizer.json").is_file() {
            return JsonTokenizer::from_dir(dir).map(|t| FolderTokenizer::Json(Box::new(t)));
        }
        if dir.join("spiece.model").is_file() {
            return SpModel::from_dir(dir).map(|t| FolderTokenizer::Spiece(Box::new(t)));
        }
        Err(ModelError::file(
            dir,
            "no tokenizer: expected vocab.txt, tokenizer.json or spiece.model",
        ))
    }

    pub fn encode(&self, seq: &[u8]) -> Vec<u32> {
        match self {
            FolderTokenizer::Vocab(t) => t.encode(seq),
            FolderTokenizer::Json(t) => t.encode(seq),
            FolderTokenizer::Spiece(t) => {
                let s = String::from_utf8_lossy(seq).to_ascii_uppercase();
                t.encode(&s.chars().map(String::from).collect::<Vec<_>>().join(" "))
            }
        }
    }

    pub fn cls(&self) -> Option<u32> {
        match self {
            FolderTokenizer::Vocab(t) => t.cls,
            FolderTokenizer::Json(t) => t.cls,
            FolderTokenizer::Spiece(t) => t.id(PROSTT5_PREFIX),
        }
    }

    pub fn eos(&self) -> Option<u32> {
        match self {
            FolderTokenizer::Vocab(t) => t.eos,
            FolderTokenizer::Json(t) => t.eos,
            FolderTokenizer::Spiece(t) => t.id("</s>"),
        }
    }

    pub fn pad(&self) -> u32 {
        match self {
            FolderTokenizer::Vocab(t) => t.pad,
            FolderTokenizer::Json(t) => t.pad,
            FolderTokenizer::Spiece(t) => t.id("<pad>").unwrap_or(0),
        }
    }

    pub fn is_special(&self, id: u32) -> bool {
        match self {
            FolderTokenizer::Vocab(t) => t.is_special(id),
            FolderTokenizer::Json(t) => t.is_special(id),
            FolderTokenizer::Spiece(t) => {
                t.is_special(id) || Some(id) == t.id("</s>") || Some(id) == t.id("<pad>")
            }
        }
    }

    /// What the vocabulary reads (`dna`, `protein`), when clear.
    pub fn alphabet(&self) -> Option<&'static str> {
        match self {
            FolderTokenizer::Vocab(t) => t.alphabet(),
            FolderTokenizer::Json(t) => {
                super::tokenizer::alphabet_of(t.words().iter().map(String::as_str))
            }
            FolderTokenizer::Spiece(t) => {
                super::tokenizer::alphabet_of(t.words().iter().map(String::as_str))
            }
        }
    }
}
