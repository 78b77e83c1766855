//! FASTA records to genes: the identifier resolver (`--id-map`: gene ids,
//! transcripts, accessions, symbols, aliases), each record's gene key, and
//! the sequence checks (alphabet, length, frame) `ingest` runs per file.

use super::build_options::{BuildOptions, GeneKey};
use super::fasta::{FastaRecord, parse_header};
use super::findings::Findings;
use super::sources::read_tsv;
use std::collections::HashMap;
use std::path::Path;

const PROTEIN_ALPHABET: &[u8] = b"ACDEFGHIKLMNPQRSTVWYX";

/// Resolves any identifier a user may write (gene id, transcript, accession,
/// symbol, alias) to a gene key.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    alias: HashMap<String, String>,
}

impl Resolver {
    pub(super) fn from_id_map(path: &Path, f: &mut Findings) -> Resolver {
        let mut r = Resolver::default();
        let Some(t) = read_tsv(path, f) else { return r };
        let Some(gcol) = t.col("gene_id") else {
            f.error("tsv-header", path, 1, None, "id map needs a `gene_id` column (plus any of transcript_id, uniprot, symbol, alias)");
            return r;
        };
        for row in &t.rows {
            let gene = row.cells[gcol].trim();
            if gene.is_empty() {
                f.error("tsv-value", path, row.line, None, "empty gene_id");
                continue;
            }
            for (i, cell) in row.cells.iter().enumerate() {
                for v in cell
                    .split([';', ','])
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                {
                    let v = super::fasta::strip_version(v).to_string();
                    if i != gcol || v != gene {
                        r.alias.entry(v).or_insert_with(|| gene.to_string());
                    }
                }
            }
            r.alias
                .entry(gene.to_string())
                .or_insert_with(|| gene.to_string());
        }
        r
    }

    pub(super) fn resolve<'a>(&'a self, s: &'a str) -> &'a str {
        self.alias.get(s).map(String::as_str).unwrap_or(s)
    }
}

/// A FASTA record with the gene it belongs to.
pub(super) struct Candidate {
    pub(super) rec: FastaRecord,
    pub(super) key: String,
    pub(super) symbol: Option<String>,
    pub(super) canonical: bool,
}

pub(super) fn record_key(
    rec: &FastaRecord,
    opts: &BuildOptions,
    res: &Resolver,
    has_map: bool,
) -> (String, Option<String>, bool) {
    let h = parse_header(&rec.header);
    let symbol = h.symbol.clone();
    let canonical = h.tags.iter().any(|t| t == "Ensembl_canonical");
    if opts.key == GeneKey::Symbol {
        return (
            symbol.clone().unwrap_or_else(|| h.primary.clone()),
            symbol,
            canonical,
        );
    }
    if has_map {
        for c in [
            h.transcript.as_deref(),
            h.accession.as_deref(),
            Some(h.primary.as_str()),
            h.gene.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(g) = res.alias.get(c) {
                return (g.clone(), symbol, canonical);
            }
        }
    }
    (h.gene.clone().unwrap_or(h.primary), symbol, canonical)
}

pub(super) fn check_seqs(
    recs: &[FastaRecord],
    path: &Path,
    dna: bool,
    f: &mut Findings,
) -> Vec<bool> {
    let mut ok = vec![true; recs.len()];
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        let id = r.first_word();
        if let Some(prev) = seen.insert(id, r.line) {
            f.error(
                "duplicate-id",
                path,
                r.line,
                Some(id),
                format!("id also at line {prev}"),
            );
            ok[i] = false;
            continue;
        }
        let seq: &[u8] = if dna {
            &r.seq
        } else {
            r.seq.strip_suffix(b"*").unwrap_or(&r.seq)
        };
        if seq.is_empty() {
            f.error("empty-sequence", path, r.line, Some(id), "empty sequence");
            ok[i] = false;
            continue;
        }
        if dna {
            if let Some(p) = seq
                .iter()
                .position(|b| !matches!(b, b'A' | b'C' | b'G' | b'T' | b'N'))
            {
                f.error(
                    "cds-alphabet",
                    path,
                    r.line,
                    Some(id),
                    format!(
                        "illegal base {:?} at position {} (CDS must be A, C, G, T or N)",
                        seq[p] as char,
                        p + 1
                    ),
                );
                ok[i] = false;
            } else if !seq.len().is_multiple_of(3) {
                f.error(
                    "cds-length",
                    path,
                    r.line,
                    Some(id),
                    format!("CDS length {} is not a multiple of 3", seq.len()),
                );
                ok[i] = false;
            }
        } else if let Some(p) = seq.iter().position(|b| !PROTEIN_ALPHABET.contains(b)) {
            f.error(
                "protein-alphabet",
                path,
                r.line,
                Some(id),
                format!(
                    "illegal residue {:?} at position {} (allowed: 20 amino acids and X; hint: write U/O/B/Z/J as X)",
                    seq[p] as char,
                    p + 1
                ),
            );
            ok[i] = false;
        }
    }
    ok
}
