//! Tokenizers read from a Hugging Face model folder's `vocab.txt` (one token
//! per line, id = line number), as `EsmTokenizer` does: special tokens
//! (`<cls>`, `<eos>`, `<pad>`, `<unk>`, `<mask>`, or BERT's `[CLS]`, `[SEP]`,
//! `[PAD]`, `[UNK]`, `[MASK]`) and greedy longest-match
//! splitting over the vocabulary — which gives ESM-2's one token per residue
//! and Nucleotide Transformer's 6-mers, with single-base tokens where a
//! 6-mer does not fit (an N inside it, or fewer than 6 bases left). For a
//! BERT vocabulary of single residues (ProtBert) or codons (cdsBERT) this is
//! what `BertTokenizer` gives for the space-separated sequence.

use super::ModelError;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    max_len: usize,
    /// Letters are matched as written (gLM2: amino acids upper case,
    /// nucleotides lower case); otherwise upper-cased first.
    pub keep_case: bool,
    /// Tokens are the sequence cut into pieces of this many letters (codon
    /// models: non-overlapping 3-mers; a piece not in the vocabulary, a
    /// codon with an N or a last incomplete one, is one `<unk>`); otherwise
    /// greedy longest match.
    pub fixed_width: Option<usize>,
    pub cls: Option<u32>,
    pub eos: Option<u32>,
    pub pad: u32,
    pub unk: u32,
    pub mask: Option<u32>,
}

impl Tokenizer {
    pub fn from_file(path: &Path) -> Result<Tokenizer, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::read(path, e))?;
        let tokens: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
        Self::from_tokens(&tokens).map_err(|e| ModelError::file(path, e))
    }

    pub fn from_tokens(tokens: &[String]) -> Result<Tokenizer, ModelError> {
        let t = Self::from_tokens_unchecked(tokens);
        // ESM's `<pad>` or BERT's `[PAD]` spelling.
        let get = |name: &str| {
            t.vocab
                .get(&format!("<{name}>"))
                .or_else(|| t.vocab.get(&format!("[{}]", name.to_ascii_uppercase())))
                .copied()
        };
        let pad = get("pad")
            .ok_or_else(|| ModelError::content("vocabulary has no <pad> or [PAD] token"))?;
        let unk = get("unk")
            .ok_or_else(|| ModelError::content("vocabulary has no <unk> or [UNK] token"))?;
        Ok(Tokenizer {
            cls: get("cls"),
            eos: get("eos").or_else(|| get("sep")),
            pad,
            unk,
            mask: get("mask"),
            ..t
        })
    }

    /// The vocabulary, its longest word, and no special token yet.
    fn from_tokens_unchecked(tokens: &[String]) -> Tokenizer {
        let vocab: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let max_len = vocab
            .keys()
            .filter(|t| !t.starts_with('<') && !t.starts_with('['))
            .map(|t| t.len())
            .max()
            .unwrap_or(1);
        Tokenizer {
            cls: None,
            eos: None,
            pad: 0,
            unk: 0,
            mask: None,
            max_len,
            keep_case: false,
            fixed_width: None,
            vocab,
        }
    }

    /// A vocabulary whose special tokens have other spellings (EnCodon's
    /// `<CLS>`, `<SEP>`, `<PAD>`, `<UNK>`, `<MASK>`): each named, in that
    /// order; `Err` when the pad or unk token is not in it.
    pub fn from_tokens_with(
        tokens: &[String],
        [cls, eos, pad, unk, mask]: [&str; 5],
    ) -> Result<Tokenizer, ModelError> {
        let mut t = Self::from_tokens_unchecked(tokens);
        let id = |n: &str| t.vocab.get(n).copied();
        let (c, e, p, u, m) = (id(cls), id(eos), id(pad), id(unk), id(mask));
        t.pad = p.ok_or_else(|| ModelError::content(format!("vocabulary has no {pad} token")))?;
        t.unk = u.ok_or_else(|| ModelError::content(format!("vocabulary has no {unk} token")))?;
        (t.cls, t.eos, t.mask) = (c, e, m);
        Ok(t)
    }

    /// The id of a token of the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// What the vocabulary reads ([`alphabet_of`]).
    pub fn alphabet(&self) -> Option<&'static str> {
        alphabet_of(self.vocab.keys().map(String::as_str))
    }

    /// Token ids of a sequence, without special tokens.
    pub fn encode(&self, seq: &[u8]) -> Vec<u32> {
        let s = String::from_utf8_lossy(seq);
        let s = if self.keep_case {
            s.into_owned()
        } else {
            s.to_ascii_uppercase()
        };
        let b = s.as_bytes();
        if let Some(w) = self.fixed_width {
            return b
                .chunks(w.max(1))
                .map(|c| {
                    std::str::from_utf8(c)
                        .ok()
                        .and_then(|t| self.vocab.get(t))
                        .copied()
                        .unwrap_or(self.unk)
                })
                .collect();
        }
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let mut found = None;
            for l in (1..=self.max_len.min(b.len() - i)).rev() {
                if let Some(id) = std::str::from_utf8(&b[i..i + l])
                    .ok()
                    .and_then(|t| self.vocab.get(t))
                {
                    found = Some((*id, l));
                    break;
                }
            }
            match found {
                Some((id, l)) => {
                    out.push(id);
                    i += l;
                }
                None => {
                    out.push(self.unk);
                    i += 1;
                }
            }
        }
        out
    }

    pub fn is_special(&self, id: u32) -> bool {
        Some(id) == self.cls || Some(id) == self.eos || id == self.pad || Some(id) == self.mask
    }
}

/// What a vocabulary reads, when it clearly reads one thing: `dna` for
/// nucleotide k-mers (tokens of 2+ letters from ACGTN) with no amino-acid
/// letters, `protein` for a residue alphabet (L, K, W, … as single tokens).
pub fn alphabet_of<'a>(tokens: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    let words: Vec<&str> = tokens
        .filter(|t| !t.starts_with('<') && !t.starts_with('[') && !t.is_empty())
        .collect();
    let aa_only = words
        .iter()
        .filter(|t| t.len() == 1 && "DEFHIKLMPQRSVWY".contains(**t))
        .count();
    let kmers = words
        .iter()
        .filter(|t| t.len() >= 2 && t.bytes().all(|b| b"ACGTN".contains(&b)))
        .count();
    if aa_only >= 10 {
        Some("protein")
    } else if kmers >= 4 {
        Some("dna")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_longest_match() {
        let mut toks: Vec<String> = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        toks.extend(
            ["AAAAAA", "ACGTAC", "A", "C", "G", "T", "N"]
                .iter()
                .map(|s| s.to_string()),
        );
        let t = Tokenizer::from_tokens(&toks).unwrap();
        assert_eq!(t.encode(b"ACGTACAAAAAAG"), vec![6, 5, 9]);
        assert_eq!(t.encode(b"ANACGTAC"), vec![7, 11, 6]);
        assert_eq!(t.encode(b"acgtac"), vec![6]);
        assert_eq!(t.encode(b"X"), vec![0]);
        assert!(t.is_special(3) && !t.is_special(7));
    }

    #[test]
    fn bert_spelling_of_specials_and_codon_words() {
        let mut toks: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        toks.extend(["ATG", "GCT", "TAA"].iter().map(|s| s.to_string()));
        let t = Tokenizer::from_tokens(&toks).unwrap();
        assert_eq!(
            (t.pad, t.unk, t.cls, t.eos, t.mask),
            (0, 1, Some(2), Some(3), Some(4))
        );
        assert_eq!(t.encode(b"ATGGCTTAA"), vec![5, 6, 7]);
        assert_eq!(t.encode(b"ATGNNN"), vec![5, 1, 1, 1]);
        assert!(t.is_special(2) && t.is_special(3) && !t.is_special(1));
    }
}
