//! The standard genetic code, and the CDS ↔ protein pairing check.

/// Index of a base in TCAG order, or `None` for anything else.
fn base(b: u8) -> Option<usize> {
    match b {
        b'T' | b'U' => Some(0),
        b'C' => Some(1),
        b'A' => Some(2),
        b'G' => Some(3),
        _ => None,
    }
}

/// NCBI translation table 1, codons in TCAG order.
const TABLE1: &[u8; 64] = b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG";

/// Translates one codon; `X` when it holds a base other than ACGT (e.g. N).
pub fn translate_codon(c: &[u8]) -> u8 {
    match (base(c[0]), base(c[1]), base(c[2])) {
        (Some(a), Some(b), Some(d)) => TABLE1[a * 16 + b * 4 + d],
        _ => b'X',
    }
}

/// Translates a CDS (length multiple of 3) codon by codon; stops appear as `*`.
pub fn translate(cds: &[u8]) -> Vec<u8> {
    cds.chunks_exact(3).map(translate_codon).collect()
}

/// Every codon of an amino acid (standard code), in TCAG order; `*` for stops.
pub fn codons_of(aa: u8) -> Vec<[u8; 3]> {
    const B: [u8; 4] = [b'T', b'C', b'A', b'G'];
    let mut v = Vec::new();
    for (i, &t) in TABLE1.iter().enumerate() {
        if t == aa {
            v.push([B[i / 16], B[(i / 4) % 4], B[i % 4]]);
        }
    }
    v
}

/// Why a CDS does not encode its protein.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingError {
    /// Internal stop codon at 1-based codon position.
    InternalStop { codon: usize },
    /// Residue `pos` (1-based) differs.
    Mismatch {
        pos: usize,
        codon: String,
        translated: u8,
        protein: u8,
    },
    /// Lengths differ after removing a terminal stop.
    Length { translated: usize, protein: usize },
}

impl std::fmt::Display for PairingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairingError::InternalStop { codon } => {
                write!(f, "internal stop codon at codon {codon}")
            }
            PairingError::Mismatch {
                pos,
                codon,
                translated,
                protein,
            } => write!(
                f,
                "CDS does not translate to the protein: residue {pos} is {} but codon {codon} encodes {}",
                *protein as char, *translated as char
            ),
            PairingError::Length {
                translated,
                protein,
            } => write!(
                f,
                "CDS translates to {translated} residues but the protein has {protein}"
            ),
        }
    }
}

/// Checks that `cds` (uppercase, length multiple of 3) encodes `protein` under
/// the standard code. A terminal stop is allowed; `X` in either matches anything.
/// Ensembl/UniProt proteins may start with M where an alternative start codon
/// (CTG, TTG, ...) is used: a first residue M is accepted for any codon.
pub fn check_pairing(cds: &[u8], protein: &[u8]) -> Result<(), PairingError> {
    let n_codons = cds.len() / 3;
    let mut n = n_codons;
    if n > 0 && translate_codon(&cds[(n - 1) * 3..n * 3]) == b'*' {
        n -= 1;
    }
    let prot = protein.strip_suffix(b"*").unwrap_or(protein);
    for i in 0..n.min(prot.len()) {
        let codon = &cds[i * 3..i * 3 + 3];
        let t = translate_codon(codon);
        let p = prot[i];
        if t == b'*' && p != b'*' {
            return Err(PairingError::InternalStop { codon: i + 1 });
        }
        let ok = t == p || t == b'X' || p == b'X' || (i == 0 && p == b'M');
        if !ok {
            return Err(PairingError::Mismatch {
                pos: i + 1,
                codon: String::from_utf8_lossy(codon).into_owned(),
                translated: t,
                protein: p,
            });
        }
    }
    if n != prot.len() {
        return Err(PairingError::Length {
            translated: n,
            protein: prot.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_code() {
        assert_eq!(translate(b"ATGGCCTAA"), b"MA*");
        assert_eq!(translate(b"TGGTGATAGNNN"), b"W**X");
        assert_eq!(codons_of(b'W'), vec![*b"TGG"]);
        assert_eq!(codons_of(b'L').len(), 6);
        assert_eq!(codons_of(b'*').len(), 3);
        // Every codon translates back to its amino acid.
        for aa in b"ACDEFGHIKLMNPQRSTVWY*" {
            for c in codons_of(*aa) {
                assert_eq!(translate_codon(&c), *aa);
            }
        }
        let total: usize = b"ACDEFGHIKLMNPQRSTVWY*"
            .iter()
            .map(|a| codons_of(*a).len())
            .sum();
        assert_eq!(total, 64);
    }

    #[test]
    fn pairing() {
        assert!(check_pairing(b"ATGGCCTAA", b"MA").is_ok());
        assert!(check_pairing(b"ATGGCC", b"MA").is_ok());
        assert!(check_pairing(b"CTGGCC", b"MA").is_ok(), "alternative start");
        assert_eq!(
            check_pairing(b"ATGGCCTAA", b"MG"),
            Err(PairingError::Mismatch {
                pos: 2,
                codon: "GCC".into(),
                translated: b'A',
                protein: b'G'
            })
        );
        assert_eq!(
            check_pairing(b"ATGTAAGCC", b"MKA"),
            Err(PairingError::InternalStop { codon: 2 })
        );
        assert_eq!(
            check_pairing(b"ATGGCCTAA", b"MAK"),
            Err(PairingError::Length {
                translated: 2,
                protein: 3
            })
        );
        assert!(check_pairing(b"ATGNNNTAA", b"MK").is_ok());
    }
}
