//! FASTA records to genes: the identifier resolver (`--id-map`: gene ids,
//! transcripts, accessions, symbols, aliases), each record's gene key, and
//! the sequence checks (alphabet, length, frame) `ingest` runs per file,
//! and label rows resolved to genes.

use super::build_options::{BuildOptions, GeneKey};
use super::fasta::{FastaRecord, parse_header};
use super::findings::Findings;
use super::sources::{LabelRow, PairRow, read_tsv};
use super::tasks::{Label, TaskSpec};
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
        // Ids become HDF5 strings, TSV cells and file names in reports: a
        // control character (NUL, a tab, an escape) would end or split them.
        if let Some(c) = id.chars().find(|c| c.is_control()) {
            f.error(
                "id-character",
                path,
                r.line,
                Some(&id.escape_debug().to_string()),
                format!(
                    "the id holds the control character {:?}; ids are printable text",
                    c
                ),
            );
            ok[i] = false;
            continue;
        }
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

/// A gene task's labels on known genes (sorted, one per gene); unknown
/// genes are reported (the first three, or all with `--strict`).
pub(super) fn resolve_gene_rows(
    task: &TaskSpec,
    rows: Vec<LabelRow>,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<u32>,
    strict: bool,
    f: &mut Findings,
) -> Vec<(u32, Label)> {
    let mut out: Vec<(u32, Label)> = Vec::with_capacity(rows.len());
    let mut unknown = 0usize;
    for r in rows {
        match lookup(&r.gene).or_else(|| r.alt.as_deref().and_then(lookup)) {
            Some(i) => out.push((i, r.label)),
            None => {
                unknown += 1;
                if unknown <= 3 || strict {
                    f.warn(
                        "unknown-gene",
                        file,
                        r.line,
                        Some(&r.gene),
                        format!(
                            "task {}: gene not in the sequences; label dropped",
                            task.name
                        ),
                    );
                }
            }
        }
    }
    if unknown > 3 && !strict {
        f.warn_rows(
            "unknown-gene",
            file,
            None,
            format!(
                "task {}: {} labels in all name genes not in the sequences; dropped",
                task.name, unknown
            ),
            unknown as u64 - 3,
        );
    }
    out.sort_by_key(|(i, _)| *i);
    out.dedup_by_key(|(i, _)| *i);
    out
}

/// A pair task's labels on known genes (one per unordered pair); unknown
/// genes and repeated pairs are reported.
pub(super) fn resolve_pairs(
    task: &TaskSpec,
    rows: Vec<PairRow>,
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<u32>,
    f: &mut Findings,
) -> Vec<(u32, u32, Label)> {
    let mut seen: HashMap<(u32, u32), (Label, u64)> = HashMap::new();
    let mut unknown = 0usize;
    let mut dup = 0usize;
    for r in rows {
        let (Some(a), Some(b)) = (lookup(&r.a), lookup(&r.b)) else {
            unknown += 1;
            if unknown <= 3 || f.strict {
                let which = if lookup(&r.a).is_none() { &r.a } else { &r.b };
                f.warn(
                    "unknown-gene",
                    file,
                    r.line,
                    Some(which),
                    format!(
                        "task {}: pair names a gene not in the sequences; pair dropped",
                        task.name
                    ),
                );
            }
            continue;
        };
        if a == b {
            f.warn(
                "self-pair",
                file,
                r.line,
                Some(&r.a),
                format!(
                    "task {}: a gene paired with itself; pair dropped",
                    task.name
                ),
            );
            continue;
        }
        let k = (a.min(b), a.max(b));
        match seen.get(&k) {
            Some((l, line)) if *l == r.label => {
                dup += 1;
                if dup <= 3 || f.strict {
                    f.warn(
                        "duplicate-pair",
                        file,
                        r.line,
                        Some(&format!("{}-{}", r.a, r.b)),
                        format!("task {}: same pair as line {line}; kept once", task.name),
                    );
                }
            }
            Some((_, line)) => f.error(
                "conflicting-pair",
                file,
                r.line,
                Some(&format!("{}-{}", r.a, r.b)),
                format!(
                    "task {}: label differs from the same pair at line {line}",
                    task.name
                ),
            ),
            None => {
                seen.insert(k, (r.label, r.line));
            }
        }
    }
    if unknown > 3 && !f.strict {
        f.warn_rows(
            "unknown-gene",
            file,
            None,
            format!(
                "task {}: {unknown} pairs in all name genes not in the sequences; dropped",
                task.name
            ),
            unknown as u64 - 3,
        );
    }
    if dup > 3 && !f.strict {
        f.warn_rows(
            "duplicate-pair",
            file,
            None,
            format!("task {}: {dup} duplicate pairs in all", task.name),
            dup as u64 - 3,
        );
    }
    let mut out: Vec<(u32, u32, Label)> =
        seen.into_iter().map(|((a, b), (l, _))| (a, b, l)).collect();
    out.sort_by_key(|(a, b, _)| (*a, *b));
    out
}
