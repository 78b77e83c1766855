//! Baselines that need no weights: k-mer spectra (DNA or protein; k = 1 on
//! proteins is amino-acid composition) and codon usage. Deterministic,
//! normalized to frequencies (each row sums to 1 unless the sequence has no
//! valid k-mer).

use super::kinds::KindSpec;
use super::spec::{BuildContext, ModelSpec, SpecError};
use super::{EmbedError, Embedder, Modality, SeqInput};
use ndarray::Array2;
use rayon::prelude::*;

const DNA: &[u8] = b"ACGT";
const PROTEIN: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
/// Largest spectrum a probe can reasonably take.
pub const MAX_KMER_DIM: usize = 1 << 16;

fn code_table(alphabet: &[u8]) -> [u8; 256] {
    let mut t = [u8::MAX; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        t[c as usize] = i as u8;
        t[c.to_ascii_lowercase() as usize] = i as u8;
    }
    t
}

/// Counts of overlapping k-mers; windows holding a letter outside the alphabet
/// (N, X) are skipped.
pub fn kmer_counts(seq: &[u8], k: usize, alphabet: &[u8], out: &mut [f32]) {
    let table = code_table(alphabet);
    let a = alphabet.len();
    let modulus = a.pow(k as u32);
    let mut code = 0usize;
    let mut valid = 0usize; // consecutive valid letters
    for &c in seq {
        let x = table[c as usize];
        if x == u8::MAX {
            valid = 0;
            code = 0;
            continue;
        }
        code = (code * a + x as usize) % modulus;
        valid += 1;
        if valid >= k {
            out[code] += 1.0;
        }
    }
}

fn normalize(row: &mut [f32]) {
    let s: f32 = row.iter().sum();
    if s > 0.0 {
        row.iter_mut().for_each(|x| *x /= s);
    }
}

/// k-mer spectrum of the CDS (alphabet ACGT) or the protein (20 amino acids).
#[derive(Debug, Clone)]
pub struct KmerEmbedder {
    name: String,
    modality: Modality,
    k: usize,
}

impl KmerEmbedder {
    pub fn new(name: &str, modality: Modality, k: usize) -> Result<Self, EmbedError> {
        let bad = |msg: String| EmbedError::Config {
            model: name.into(),
            msg,
        };
        if modality == Modality::Gene {
            return Err(bad("a k-mer model reads dna or protein, not gene".into()));
        }
        let a = if modality == Modality::Dna {
            4usize
        } else {
            20
        };
        if k == 0 || a.checked_pow(k as u32).is_none_or(|d| d > MAX_KMER_DIM) {
            return Err(bad(format!(
                "k = {k} gives too many features for {} (max {MAX_KMER_DIM}; use k <= {})",
                modality.as_str(),
                if a == 4 { 8 } else { 3 }
            )));
        }
        Ok(KmerEmbedder {
            name: name.into(),
            modality,
            k,
        })
    }

    fn alphabet(&self) -> &'static [u8] {
        if self.modality == Modality::Dna {
            DNA
        } else {
            PROTEIN
        }
    }
}

impl Embedder for KmerEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        self.modality
    }
    fn dim(&self) -> usize {
        self.alphabet().len().pow(self.k as u32)
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let d = self.dim();
        let mut out = Array2::<f32>::zeros((batch.len(), d));
        out.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(d)
            .zip(batch.par_iter())
            .for_each(|(row, s)| {
                kmer_counts(s.seq(self.modality), self.k, self.alphabet(), row);
                normalize(row);
            });
        Ok(out)
    }
}

/// Codon usage of the CDS (in frame, 64 codons in TCAG order).
/// `rscu`: relative synonymous codon usage, each codon's share among the
/// codons of its amino acid — codon *bias* without amino-acid composition.
#[derive(Debug, Clone)]
pub struct CodonEmbedder {
    name: String,
    rscu: bool,
}

impl CodonEmbedder {
    pub fn new(name: &str, rscu: bool) -> Self {
        CodonEmbedder {
            name: name.into(),
            rscu,
        }
    }
}

const TCAG: &[u8] = b"TCAG";

impl Embedder for CodonEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        Modality::Dna
    }
    fn dim(&self) -> usize {
        64
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let table = code_table(TCAG);
        // amino acid of each codon index (TCAG order), for RSCU groups
        let aa: Vec<u8> = (0..64)
            .map(|i| {
                let c = [TCAG[i / 16], TCAG[(i / 4) % 4], TCAG[i % 4]];
                crate::dataset::translate::translate_codon(&c)
            })
            .collect();
        let mut out = Array2::<f32>::zeros((batch.len(), 64));
        out.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(64)
            .zip(batch.par_iter())
            .for_each(|(row, s)| {
                for c in s.dna.chunks_exact(3) {
                    let (x, y, z) = (
                        table[c[0] as usize],
                        table[c[1] as usize],
                        table[c[2] as usize],
                    );
                    if x != u8::MAX && y != u8::MAX && z != u8::MAX {
                        row[x as usize * 16 + y as usize * 4 + z as usize] += 1.0;
                    }
                }
                if self.rscu {
                    let mut sums = [0f32; 256];
                    for i in 0..64 {
                        sums[aa[i] as usize] += row[i];
                    }
                    for i in 0..64 {
                        let s = sums[aa[i] as usize];
                        row[i] = if s > 0.0 { row[i] / s } else { 0.0 };
                    }
                } else {
                    normalize(row);
                }
            });
        Ok(out)
    }
}

/// `kind: kmer`: the k-mer spectrum of the DNA or the protein.
pub struct Kmer;

impl KindSpec for Kmer {
    fn fields(&self) -> &'static [&'static str] {
        &["k"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["k"]
    }

    fn check_modality(&self, spec: &ModelSpec) -> Result<(), SpecError> {
        if spec.modality.is_none() {
            return Err(SpecError::value(
                "modality",
                "a kmer model needs `modality: dna` or `modality: protein`",
            ));
        }
        Ok(())
    }

    fn check(&self, spec: &ModelSpec) -> Result<(), SpecError> {
        if let Some(k) = spec.k
            && let Err(EmbedError::Config { msg, .. }) =
                KmerEmbedder::new(&spec.name, spec.modality(), k)
        {
            return Err(SpecError::value("k", msg));
        }
        Ok(())
    }

    fn build(
        &self,
        spec: &ModelSpec,
        _ctx: &BuildContext,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(KmerEmbedder::new(
            &spec.name,
            spec.modality(),
            spec.k.unwrap_or(0),
        )?))
    }
}

/// `kind: codon`: codon usage (frequencies, or RSCU) of the CDS.
pub struct Codon;

impl KindSpec for Codon {
    fn fields(&self) -> &'static [&'static str] {
        &["rscu"]
    }

    fn default_modality(&self) -> Modality {
        Modality::Dna
    }

    fn check_modality(&self, spec: &ModelSpec) -> Result<(), SpecError> {
        if spec.modality.is_some_and(|m| m != Modality::Dna) {
            return Err(SpecError::value("modality", "a codon model reads dna"));
        }
        Ok(())
    }

    fn build(
        &self,
        spec: &ModelSpec,
        _ctx: &BuildContext,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(CodonEmbedder::new(&spec.name, spec.rscu)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(e: &dyn Embedder, dna: &[u8], prot: &[u8]) -> Vec<f32> {
        e.embed(&[SeqInput {
            id: "x",
            dna,
            protein: prot,
        }])
        .unwrap()
        .row(0)
        .to_vec()
    }

    #[test]
    fn kmer_spectra() {
        let e = KmerEmbedder::new("k2", Modality::Dna, 2).unwrap();
        assert_eq!(e.dim(), 16);
        // ACGNAC: AC, CG, (GN, NA skipped), AC → AC=2/3, CG=1/3
        let v = one(&e, b"ACGNAC", b"");
        assert!((v[1] - 2.0 / 3.0).abs() < 1e-6, "{v:?}"); // AC = 0*4+1
        assert!((v[6] - 1.0 / 3.0).abs() < 1e-6); // CG = 1*4+2
        let aac = KmerEmbedder::new("aac", Modality::Protein, 1).unwrap();
        let v = one(&aac, b"", b"AAXC");
        assert_eq!(v.len(), 20);
        assert!((v[0] - 2.0 / 3.0).abs() < 1e-6 && (v[1] - 1.0 / 3.0).abs() < 1e-6);
        assert!(
            KmerEmbedder::new("p4", Modality::Protein, 4)
                .unwrap_err()
                .to_string()
                .contains("k <= 3")
        );
        assert!(KmerEmbedder::new("d9", Modality::Dna, 9).is_err());
        assert!(KmerEmbedder::new("g", Modality::Gene, 2).is_err());
        // Empty / all-N rows are zeros, not NaN.
        assert!(one(&e, b"NNN", b"").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn codon_usage_and_rscu() {
        let f = CodonEmbedder::new("codon", false);
        let v = one(&f, b"CTGCTGCTAAAA", b"");
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let r = CodonEmbedder::new("rscu", true);
        let v = one(&r, b"CTGCTGCTAAAA", b"");
        let idx = |c: &[u8]| {
            TCAG.iter().position(|b| *b == c[0]).unwrap() * 16
                + TCAG.iter().position(|b| *b == c[1]).unwrap() * 4
                + TCAG.iter().position(|b| *b == c[2]).unwrap()
        };
        assert!((v[idx(b"CTG")] - 2.0 / 3.0).abs() < 1e-6);
        assert!((v[idx(b"CTA")] - 1.0 / 3.0).abs() < 1e-6);
        assert!((v[idx(b"AAA")] - 1.0).abs() < 1e-6);
    }
}
