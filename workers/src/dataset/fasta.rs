//! FASTA input (plain or gzip) through needletail, with header parsers for the
//! formats users download: plain ids, Ensembl CDS and UniProt.

use super::findings::Findings;
use std::io::Read;
use std::path::Path;

/// One FASTA record with the line its header is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastaRecord {
    /// The whole header line without `>`.
    pub header: String,
    /// Sequence, uppercased, without whitespace.
    pub seq: Vec<u8>,
    /// 1-based line of the header.
    pub line: u64,
}

impl FastaRecord {
    /// The first word of the header.
    pub fn first_word(&self) -> &str {
        self.header.split_whitespace().next().unwrap_or("")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FastaError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid FASTA file: {msg}")]
    Parse { path: String, msg: String },
}

/// Says precisely what is wrong with a FASTA file the parser refused (or
/// that held a record without sequence): a truncated gzip stream (with the
/// byte offset), a file that does not start with a header, a header-only
/// file, an empty record (its id and line). `None` when none of these.
pub fn diagnose(path: &Path) -> Option<String> {
    // Not a regular file: already said by the read, and opening a FIFO here
    // would block.
    crate::files::check_regular(path).ok()?;
    let mut magic = [0u8; 2];
    let gz = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b];
    let mut text = Vec::new();
    let read = open_maybe_gz(path).and_then(|mut r| r.read_to_end(&mut text));
    if let Err(e) = read {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if let Some(at) = gz.then(|| gzip_end(path)).flatten().filter(|at| *at < size) {
            return Some(format!(
                "the gzip data ends at byte {at} and {} more bytes follow that are not gzip \
                 (something was appended to the file; `gzip -t` checks it)",
                size - at
            ));
        }
        return Some(if gz && e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!(
                "truncated gzip: the compressed stream ends at byte {size} of the file before its end \
                 ({} bytes decompressed); the file is incomplete (download or copy it again; `gzip -t` checks it)",
                text.len()
            )
        } else if gz {
            format!("corrupt gzip data ({e}); the file is damaged (`gzip -t` checks it)")
        } else {
            format!("cannot read: {e}")
        });
    }
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let first = lines
        .iter()
        .position(|l| !l.iter().all(u8::is_ascii_whitespace));
    let Some(first) = first else {
        return Some("the file is empty: no FASTA records".into());
    };
    if lines[first].first() != Some(&b'>') {
        let shown: String =
            String::from_utf8_lossy(&lines[first][..lines[first].len().min(40)]).into();
        return Some(format!(
            "line {}: expected a '>' header line, found {shown:?} (a FASTA file starts with `>id`, \
             then sequence lines)",
            first + 1
        ));
    }
    let mut records = 0;
    let mut i = first;
    while i < lines.len() {
        if lines[i].first() == Some(&b'>') {
            records += 1;
            let id: String = String::from_utf8_lossy(&lines[i][1..])
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            if id.is_empty() {
                return Some(format!("line {}: a '>' header with no id", i + 1));
            }
            let mut j = i + 1;
            let mut residues = 0usize;
            while j < lines.len() && lines[j].first() != Some(&b'>') {
                residues += lines[j].iter().filter(|b| !b.is_ascii_whitespace()).count();
                j += 1;
            }
            if residues == 0 {
                return Some(if records == 1 && j >= lines.len() {
                    format!(
                        "line {}: the file holds only the header of {id} and no sequence",
                        i + 1
                    )
                } else {
                    format!("line {}: record {id} has no sequence", i + 1)
                });
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// Where the gzip members at the start of a file end, when what follows them
/// is not another gzip member (junk appended to a whole gzip file); `None`
/// when a member itself is cut short or damaged.
fn gzip_end(path: &Path) -> Option<u64> {
    use std::io::{BufRead, Seek};
    let mut r = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    loop {
        let mut member = flate2::bufread::GzDecoder::new(&mut r);
        std::io::copy(&mut member, &mut std::io::sink()).ok()?;
        let rest = r.fill_buf().ok()?;
        if rest.is_empty() {
            return None;
        }
        if !rest.starts_with(&[0x1f, 0x8b]) {
            return r.stream_position().ok();
        }
    }
}

/// Opens a regular file once, transparently decompressing gzip (by magic
/// bytes, not by name).
pub fn open_maybe_gz(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    use std::io::BufRead;
    crate::files::check_regular(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "{e} (hint: give a stream as `-` to read it from standard input, \
                 e.g. `zcat x.fa.gz | genoprot dataset build --cds - ...`, or save it to a file first)"
            ),
        )
    })?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let gz = r.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    // Lines (and FASTA records) are capped: a file of zeros or a binary
    // file is an error at the cap, not a read into all memory.
    if gz {
        let z = flate2::read::MultiGzDecoder::new(r);
        // A gzip's first byte decides after decompression: ask the stream.
        let mut z = std::io::BufReader::with_capacity(1 << 20, z);
        let records = z.fill_buf()?.starts_with(b">").then_some(b'>');
        Ok(Box::new(crate::files::Capped::new(z, records)))
    } else {
        let records = r.fill_buf()?.starts_with(b">").then_some(b'>');
        Ok(Box::new(crate::files::Capped::new(r, records)))
    }
}

/// Reads every record of a FASTA file (plain or gzip).
pub fn read_fasta(path: &Path) -> Result<Vec<FastaRecord>, FastaError> {
    let p = path.display().to_string();
    let reader = open_maybe_gz(path).map_err(|source| FastaError::Io {
        path: p.clone(),
        source,
    })?;
    let mut out = Vec::new();
    let mut rdr = match needletail::parse_fastx_reader(reader) {
        Ok(r) => r,
        Err(e) if e.kind == needletail::errors::ParseErrorKind::EmptyFile => return Ok(out),
        Err(e) => {
            return Err(FastaError::Parse {
                path: p,
                msg: e.to_string(),
            });
        }
    };
    while let Some(rec) = rdr.next() {
        let rec = rec.map_err(|e| FastaError::Parse {
            path: p.clone(),
            msg: e.to_string(),
        })?;
        if rec.format() != needletail::parser::Format::Fasta {
            return Err(FastaError::Parse {
                path: p,
                msg: "this is FASTQ, not FASTA".into(),
            });
        }
        let seq: Vec<u8> = rec
            .seq()
            .iter()
            .filter(|b| !b.is_ascii_whitespace())
            .map(|b| b.to_ascii_uppercase())
            .collect();
        out.push(FastaRecord {
            header: String::from_utf8_lossy(rec.id()).trim_end().to_string(),
            seq,
            line: rec.start_line_number(),
        });
    }
    Ok(out)
}

/// Identifiers found in a header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderIds {
    /// The record's own id (first word; UniProt: the accession; Ensembl: transcript).
    pub primary: String,
    pub gene: Option<String>,
    pub symbol: Option<String>,
    pub transcript: Option<String>,
    pub accession: Option<String>,
    /// Ensembl `transcript_biotype:`; UniProt: reviewed (sp) or not (tr).
    pub tags: Vec<String>,
}

/// Strips an Ensembl version suffix: `ENSG00000139618.17` → `ENSG00000139618`.
pub fn strip_version(id: &str) -> &str {
    match id.rsplit_once('.') {
        Some((base, v)) if base.starts_with("ENS") && v.chars().all(|c| c.is_ascii_digit()) => base,
        _ => id,
    }
}

/// Parses Ensembl, UniProt or plain headers.
///
/// Ensembl CDS: `ENST00000380152.8 cds chromosome:GRCh38:13:... gene:ENSG00000139618.17
/// gene_biotype:protein_coding transcript_biotype:protein_coding gene_symbol:BRCA2 description:...`
///
/// UniProt: `sp|P51587|BRCA2_HUMAN Breast cancer type 2 susceptibility protein OS=Homo sapiens OX=9606 GN=BRCA2 PE=1 SV=4`
pub fn parse_header(header: &str) -> HeaderIds {
    let first = header.split_whitespace().next().unwrap_or("");
    let mut h = HeaderIds {
        primary: first.to_string(),
        ..Default::default()
    };
    let parts: Vec<&str> = first.split('|').collect();
    if parts.len() >= 3 && (parts[0] == "sp" || parts[0] == "tr") {
        h.primary = parts[1].to_string();
        h.accession = Some(parts[1].to_string());
        h.tags.push(if parts[0] == "sp" {
            "reviewed".into()
        } else {
            "unreviewed".into()
        });
        if let Some(gn) = header
            .split_whitespace()
            .find_map(|w| w.strip_prefix("GN="))
        {
            h.symbol = Some(gn.to_string());
        }
        return h;
    }
    for w in header.split_whitespace().skip(1) {
        if let Some(v) = w.strip_prefix("gene:") {
            h.gene = Some(strip_version(v).to_string());
        } else if let Some(v) = w.strip_prefix("gene_symbol:") {
            h.symbol = Some(v.to_string());
        } else if let Some(v) = w.strip_prefix("transcript:") {
            h.transcript = Some(strip_version(v).to_string());
        } else if let Some(v) = w.strip_prefix("transcript_biotype:") {
            h.tags.push(format!("transcript_biotype:{v}"));
        } else if w == "Ensembl_canonical" || w.starts_with("tag:Ensembl_canonical") {
            h.tags.push("Ensembl_canonical".into());
        }
    }
    if first.starts_with("ENST") {
        h.transcript = Some(strip_version(first).to_string());
    }
    h
}

/// Records that failed to parse are reported, not dropped silently.
pub fn read_fasta_into(path: &Path, findings: &mut Findings) -> Vec<FastaRecord> {
    match read_fasta(path) {
        Ok(v) => {
            if v.is_empty() {
                findings.error("empty-file", path, 0, None, "no FASTA records");
            }
            for r in v.iter().filter(|r| r.first_word().is_empty()) {
                findings.error("fasta", path, r.line, None, "a '>' header with no id");
            }
            v
        }
        Err(e) => {
            let msg = match (&e, diagnose(path)) {
                (FastaError::Parse { path, .. }, Some(why)) => format!("{path}: {why}"),
                _ => e.to_string(),
            };
            findings.error("fasta", path, 0, None, msg);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_after_a_whole_gzip_is_named_as_such_not_as_truncation() {
        use std::io::Write;
        let d = tempfile::tempdir().unwrap();
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b">a\nACGT\n").unwrap();
        let whole = z.finish().unwrap();
        for (junk, name) in [(&b"xyz"[..], "short"), (&[0u8; 64][..], "long")] {
            let p = d.path().join(format!("{name}.fa.gz"));
            let mut bytes = whole.clone();
            bytes.extend_from_slice(junk);
            std::fs::write(&p, &bytes).unwrap();
            let why = diagnose(&p).unwrap_or_default();
            assert!(
                why.contains(&format!("ends at byte {}", whole.len()))
                    && why.contains(&format!("{} more bytes follow", junk.len())),
                "{name}: {why}"
            );
        }
        // Cut short: still a truncation.
        let p = d.path().join("cut.fa.gz");
        std::fs::write(&p, &whole[..whole.len() - 4]).unwrap();
        assert!(diagnose(&p).unwrap_or_default().contains("truncated gzip"));
    }

    #[test]
    fn ensembl_and_uniprot_headers() {
        let e = parse_header(
            "ENST00000380152.8 cds chromosome:GRCh38:13:32315508:32400268:1 gene:ENSG00000139618.17 gene_biotype:protein_coding transcript_biotype:protein_coding gene_symbol:BRCA2 description:BRCA2 DNA repair",
        );
        assert_eq!(e.transcript.as_deref(), Some("ENST00000380152"));
        assert_eq!(e.gene.as_deref(), Some("ENSG00000139618"));
        assert_eq!(e.symbol.as_deref(), Some("BRCA2"));
        let u = parse_header(
            "sp|P51587|BRCA2_HUMAN Breast cancer type 2 susceptibility protein OS=Homo sapiens OX=9606 GN=BRCA2 PE=1 SV=4",
        );
        assert_eq!(u.primary, "P51587");
        assert_eq!(u.symbol.as_deref(), Some("BRCA2"));
        assert_eq!(u.tags, ["reviewed"]);
        let p = parse_header("g1 some description");
        assert_eq!(p.primary, "g1");
        assert_eq!(strip_version("ENSG1.2"), "ENSG1");
        assert_eq!(strip_version("P12345.2"), "P12345.2");
    }

    #[test]
    fn reads_plain_and_gzip_with_lines() {
        let d = tempfile::tempdir().unwrap();
        let text = b">a desc\nacgt\nAC\n\n>b\nMK\n";
        let p = d.path().join("x.fa");
        std::fs::write(&p, text).unwrap();
        let gz = d.path().join("x.fa.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, text).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for path in [&p, &gz] {
            let r = read_fasta(path).unwrap();
            assert_eq!(r.len(), 2);
            assert_eq!(r[0].seq, b"ACGTAC");
            assert_eq!(r[0].first_word(), "a");
            assert_eq!(r[1].line, 5);
        }
        std::fs::write(&p, b"not fasta\n").unwrap();
        assert!(read_fasta(&p).unwrap_err().to_string().contains("x.fa"));
    }
}
