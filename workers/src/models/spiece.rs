//! SentencePiece `spiece.model` files (ProtT5, ProstT5, Ankh), read without
//! the SentencePiece library: the file is a protobuf `ModelProto` whose
//! pieces (text, score, type), model type and normalizer flags are all a
//! unigram tokenizer needs. Encoding is SentencePiece's: spaces become `▁`,
//! a `▁` is put in front (`add_dummy_prefix`), runs of whitespace collapse
//! (`remove_extra_whitespaces`), and the Viterbi path of highest total
//! score over the normal and user-defined pieces is taken, a character no
//! piece covers being `<unk>` (consecutive ones merged into one, as
//! SentencePiece does). Only unigram models are read; BPE, word and char
//! models are refused with a hint to use the folder's `tokenizer.json`.
//!
//! Like transformers' `T5Tokenizer`, the 100 sentinel tokens
//! `<extra_id_0..99>` take the ids after the pieces (`extra_ids` in
//! `tokenizer_config.json`, default 100), then the tokens of
//! `added_tokens.json` / `added_tokens_decoder` (ProstT5's `<AA2fold>`).

use super::ModelError;
use std::collections::HashMap;
use std::path::Path;

/// A piece's type (`SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Other,
}

/// A unigram SentencePiece model.
#[derive(Debug, Clone)]
pub struct SpModel {
    /// Matchable pieces (normal and user-defined) → (id, score).
    pieces: HashMap<String, (u32, f32)>,
    /// Every piece and added token → id.
    ids: HashMap<String, u32>,
    /// Longest matchable piece, in chars.
    max_chars: usize,
    unk: u32,
    unk_score: f32,
    dummy_prefix: bool,
    collapse_spaces: bool,
    /// How many ids there are (pieces, sentinels and added tokens).
    pub size: usize,
    /// Control pieces and added tokens.
    specials: Vec<u32>,
}

/// A protobuf reader over one message's bytes: (field number, value).
struct Wire<'a> {
    b: &'a [u8],
    at: usize,
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
    Fixed64,
}

impl<'a> Wire<'a> {
    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .b
                .get(self.at)
                .ok_or_else(|| ModelError::content("truncated varint"))?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ModelError::content("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end =
            end.ok_or_else(|| ModelError::content("field runs past the end of the message"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, ModelError> {
        if self.at >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let v = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = self.varint()? as usize;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let s = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            }
            t => {
                return Err(ModelError::content(format!(
                    "unsupported protobuf wire type {t}"
                )));
            }
        };
        Ok(Some((key >> 3, v)))
    }
}

fn fields(b: &[u8]) -> impl Iterator<Item = Result<(u64, Value<'_>), ModelError>> {
    let mut w = Wire { b, at: 0 };
    std::iter::from_fn(move || w.next_field().transpose())
}

const SPACE: char = '\u{2581}';

impl SpModel {
    /// Reads `dir/spiece.model` and the added tokens beside it.
    pub fn from_dir(dir: &Path) -> Result<SpModel, ModelError> {
        let p = dir.join("spiece.model");
        let bytes = std::fs::read(&p).map_err(|e| ModelError::read(&p, e))?;
        let mut m = Self::parse(&bytes).map_err(|e| ModelError::file(&p, e))?;
        m.add_tokens(dir)?;
        Ok(m)
    }

    /// Parses a `ModelProto`.
    pub fn parse(bytes: &[u8]) -> Result<SpModel, ModelError> {
        let mut list: Vec<(String, f32, PieceType)> = Vec::new();
        let mut model_type = 1; // UNIGRAM, the proto default
        let (mut dummy_prefix, mut collapse_spaces) = (true, true);
        for f in fields(bytes) {
            match f? {
                (1, Value::Bytes(piece)) => {
                    let (mut text, mut score, mut ty) = (String::new(), 0f32, 1u64);
                    for g in fields(piece) {
                        match g? {
                            (1, Value::Bytes(s)) => {
                                text = String::from_utf8(s.to_vec())
                                    .map_err(|_| ModelError::content("a piece is not UTF-8"))?
                            }
                            (2, Value::Fixed32(v)) => score = f32::from_bits(v),
                            (3, Value::Varint(v)) => ty = v,
                            _ => {}
                        }
                    }
                    let ty = match ty {
                        1 => PieceType::Normal,
                        2 => PieceType::Unknown,
                        3 => PieceType::Control,
                        4 => PieceType::UserDefined,
                        _ => PieceType::Other,
                    };
                    list.push((text, score, ty));
                }
                (2, Value::Bytes(trainer)) => {
                    for g in fields(trainer) {
                        if let (3, Value::Varint(v)) = g? {
                            model_type = v;
                        }
                    }
                }
                (3, Value::Bytes(normalizer)) => {
                    for g in fields(normalizer) {
                        match g? {
                            (3, Value::Varint(v)) => dummy_prefix = v != 0,
                            (4, Value::Varint(v)) => collapse_spaces = v != 0,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if model_type != 1 {
            let name = match model_type {
                2 => "BPE",
                3 => "word",
                4 => "char",
                _ => "unknown",
            };
            return Err(ModelError::content(format!(
                "a SentencePiece {name} model: only unigram models (ProtT5, ProstT5, Ankh) are \
                 read natively (hint: save the tokenizer as tokenizer.json with \
                 `AutoTokenizer.from_pretrained(dir).save_pretrained(dir)`)"
            )));
        }
        if list.is_empty() {
            return Err(ModelError::content("no pieces: not a SentencePiece model"));
        }
        let unk = list
            .iter()
            .position(|p| p.2 == PieceType::Unknown)
            .ok_or_else(|| ModelError::content("no <unk> piece"))? as u32;
        let mut pieces = HashMap::new();
        let mut ids = HashMap::new();
        let mut specials = Vec::new();
        let mut min_score = f32::INFINITY;
        for (i, (text, score, ty)) in list.iter().enumerate() {
            ids.entry(text.clone()).or_insert(i as u32);
            match ty {
                PieceType::Normal | PieceType::UserDefined => {
                    pieces.entry(text.clone()).or_insert((i as u32, *score));
                    min_score = min_score.min(*score);
                }
                PieceType::Control => specials.push(i as u32),
                _ => {}
            }
        }
        Ok(SpModel {
            max_chars: pieces.keys().map(|k| k.chars().count()).max().unwrap_or(1),
            pieces,
            ids,
            unk,
            // SentencePiece's unknown penalty.
            unk_score: min_score - 10.0,
            dummy_prefix,
            collapse_spaces,
            size: list.len(),
            specials,
        })
    }

    /// T5's sentinels, then the folder's added tokens.
    fn add_tokens(&mut self, dir: &Path) -> Result<(), ModelError> {
        let read = |f: &str| -> Result<Option<serde_json::Value>, ModelError> {
            let p = dir.join(f);
            match std::fs::read(&p) {
                Ok(b) => serde_json::from_slice(&b)
                    .map(Some)
                    .map_err(|e| ModelError::file(&p, e)),
                Err(_) => Ok(None),
            }
        };
        let config = read("tokenizer_config.json")?;
        let extra = config
            .as_ref()
            .and_then(|c| c.get("extra_ids"))
            .and_then(|v| v.as_u64())
            .unwrap_or(100) as usize;
        for k in 0..extra {
            // T5Tokenizer numbers them from the end: <extra_id_0> is the last id.
            let id = (self.size + extra - 1 - k) as u32;
            self.ids.insert(format!("<extra_id_{k}>"), id);
            self.specials.push(id);
        }
        self.size += extra;
        let mut added: Vec<(String, u32)> = Vec::new();
        if let Some(serde_json::Value::Object(m)) = read("added_tokens.json")? {
            added.extend(
                m.iter()
                    .filter_map(|(t, v)| Some((t.clone(), v.as_u64()? as u32))),
            );
        }
        if let Some(serde_json::Value::Object(m)) =
            config.as_ref().and_then(|c| c.get("added_tokens_decoder"))
        {
            added.extend(m.iter().filter_map(|(id, v)| {
                Some((v.get("content")?.as_str()?.to_string(), id.parse().ok()?))
            }));
        }
        for (t, id) in added {
            self.ids.entry(t).or_insert(id);
            self.specials.push(id);
            self.size = self.size.max(id as usize + 1);
        }
        Ok(())
    }

    /// The id of a piece or added token.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    pub fn unk(&self) -> u32 {
        self.unk
    }

    /// Control pieces, sentinels and added tokens.
    pub fn is_special(&self, id: u32) -> bool {
        self.specials.contains(&id)
    }

    /// Every piece's text (for telling what the vocabulary reads), `▁` removed.
    pub fn words(&self) -> Vec<String> {
        self.pieces
            .keys()
            .map(|k| k.trim_start_matches(SPACE).to_string())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// The ids of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut norm = String::with_capacity(text.len() + 3);
        if self.dummy_prefix {
            norm.push(SPACE);
        }
        let body = if self.collapse_spaces {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            text.to_string()
        };
        norm.extend(body.chars().map(|c| if c == ' ' { SPACE } else { c }));
        let chars: Vec<char> = norm.chars().collect();
        let n = chars.len();
        // best[i]: (score, start, id) of the best path ending at char i.
        let mut best: Vec<(f32, usize, u32)> = vec![(f32::NEG_INFINITY, 0, 0); n + 1];
        best[0].0 = 0.0;
        let mut buf = String::new();
        for start in 0..n {
            let base = best[start].0;
            if base == f32::NEG_INFINITY {
                continue;
            }
            let mut matched = false;
            buf.clear();
            for end in start + 1..=(start + self.max_chars).min(n) {
                buf.push(chars[end - 1]);
                if let Some((id, score)) = self.pieces.get(&buf) {
                    matched |= end == start + 1;
                    let s = base + score;
                    if s > best[end].0 {
                        best[end] = (s, start, *id);
                    }
                }
            }
            if !matched {
                let s = base + self.unk_score;
                if s > best[start + 1].0 {
                    best[start + 1] = (s, start, self.unk);
                }
            }
        }
        let mut out = Vec::new();
        let mut at = n;
        while at > 0 {
            let (_, start, id) = best[at];
            if !(id == self.unk && out.last() == Some(&self.unk)) {
                out.push(id);
            }
            at = start;
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ModelProto` of (piece, score, type) entries.
    fn proto(pieces: &[(&str, f32, u64)], model_type: u64) -> Vec<u8> {
        fn varint(mut v: u64, out: &mut Vec<u8>) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
        }
        let mut out = Vec::new();
        for (t, s, ty) in pieces {
            let mut m = vec![0x0a];
            varint(t.len() as u64, &mut m);
            m.extend(t.as_bytes());
            m.push(0x15);
            m.extend(s.to_le_bytes());
            m.push(0x18);
            varint(*ty, &mut m);
            out.push(0x0a);
            varint(m.len() as u64, &mut out);
            out.extend(m);
        }
        out.extend([0x12, 0x02, 0x18, model_type as u8]);
        out
    }

    #[test]
    fn viterbi_over_residue_pieces() {
        let p = proto(
            &[
                ("<pad>", 0.0, 3),
                ("</s>", 0.0, 3),
                ("<unk>", 0.0, 2),
                ("\u{2581}A", -1.0, 1),
                ("\u{2581}K", -2.0, 1),
                ("\u{2581}", -3.0, 1),
                ("M", -4.0, 1),
                ("\u{2581}MK", -8.0, 1),
            ],
            1,
        );
        let m = SpModel::parse(&p).unwrap();
        assert_eq!((m.unk(), m.size), (2, 8));
        // "▁A▁K": two residue pieces.
        assert_eq!(m.encode("A K"), vec![3, 4]);
        // "▁MK": ▁MK (−8) beats ▁ + M + unknown K; "▁M▁K": ▁ + M + ▁K.
        assert_eq!(m.encode("MK"), vec![7]);
        assert_eq!(m.encode("M K"), vec![5, 6, 4]);
        assert_eq!(m.encode("M"), vec![5, 6]);
        // Unknown characters are one <unk> per run.
        assert_eq!(m.encode("A ZZ"), vec![3, 5, 2]);
        assert!(m.is_special(0) && m.is_special(1) && !m.is_special(3));
    }

    #[test]
    fn bpe_models_are_refused_with_a_hint() {
        let p = proto(&[("<unk>", 0.0, 2), ("a", -1.0, 1)], 2);
        let e = SpModel::parse(&p).unwrap_err().to_string();
        assert!(e.contains("BPE") && e.contains("tokenizer.json"), "{e}");
        assert!(SpModel::parse(b"\x0a\x05ab").is_err());
    }
}
