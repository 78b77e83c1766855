//! The `precomputed` embedder: imports an existing embedding file — HDF5 (dataset
//! names configurable) or NPY with a text file of ids (one per line).

use super::kinds::KindSpec;
use super::spec::{BuildContext, ModelSpec, SpecError, resolve};
use super::{EmbedError, Embedder, Modality, SeqInput};
use crate::models::ModelError;
use hdf5::types::{VarLenAscii, VarLenUnicode};
use ndarray::Array2;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct PrecomputedEmbedder {
    name: String,
    modality: Modality,
    index: HashMap<String, usize>,
    emb: Array2<f32>,
}

/// Whether reading stopped at the end of the file before the data ended.
fn is_eof(e: &ndarray_npy::ReadNpyError) -> bool {
    match e {
        ndarray_npy::ReadNpyError::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        other => other.to_string().contains("EOF"),
    }
}

/// Says what is wrong with an `.npy` file that does not read as a 2-D float
/// array: truncated (fewer data bytes than its header promises), or else
/// the reader's own reason.
fn npy_problem(path: &Path, e: &ndarray_npy::ReadNpyError) -> String {
    if is_eof(e) {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        return format!(
            "truncated: the file ends at byte {size}, before the data its header announces \
             (hint: the copy is incomplete; write or copy it again)"
        );
    }
    let text = e.to_string();
    if text.contains("descriptor") || text.contains("header") || text.contains("magic") {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if size < 128 {
            return format!(
                "truncated or not an .npy file ({size} bytes; a header alone is 128): {text}"
            );
        }
    }
    format!("not a 2-D float32/float64 .npy array: {text}")
}

impl PrecomputedEmbedder {
    /// Loads `path`: `.npy` (with `ids_file`) or HDF5 (`ids_dataset`, `emb_dataset`).
    pub fn load(
        name: &str,
        modality: Modality,
        path: &Path,
        ids_dataset: &str,
        emb_dataset: &str,
        ids_file: Option<&Path>,
    ) -> Result<Self, EmbedError> {
        let bad = |msg: String| EmbedError::Output {
            model: name.into(),
            path: path.to_path_buf(),
            msg,
        };
        crate::files::check_regular(path).map_err(|e| bad(e.to_string()))?;
        if let Some(f) = ids_file {
            crate::files::check_regular(f).map_err(|e| bad(format!("{}: {e}", f.display())))?;
        }
        let (ids, emb): (Vec<String>, Array2<f32>) = if path.extension().is_some_and(|e| e == "npy")
        {
            let ids_file = ids_file.ok_or_else(|| {
                bad("an .npy file needs `ids_file` (one id per line, in row order)".into())
            })?;
            let emb: Array2<f32> = match ndarray_npy::read_npy::<_, Array2<f32>>(path) {
                Ok(a) => a,
                Err(e32) => ndarray_npy::read_npy::<_, Array2<f64>>(path)
                    .map(|a| a.mapv(|x| x as f32))
                    .map_err(|e64| {
                        // The f32 reader's error is the telling one unless the file is f64.
                        bad(npy_problem(path, if is_eof(&e64) { &e64 } else { &e32 }))
                    })?,
            };
            let text = std::fs::read_to_string(ids_file).map_err(|source| EmbedError::Io {
                model: name.into(),
                cause: source,
            })?;
            (
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                emb,
            )
        } else {
            let f = hdf5::File::open(path).map_err(|e| bad(format!("not an HDF5 file: {e}")))?;
            let ds = f.dataset(ids_dataset).map_err(|e| {
                bad(format!(
                    "no ids dataset {ids_dataset:?}: {e} (set `ids_dataset`)"
                ))
            })?;
            let ids: Vec<String> = match ds.read_raw::<VarLenUnicode>() {
                Ok(v) => v.iter().map(|s| s.as_str().to_string()).collect(),
                Err(_) => ds
                    .read_raw::<VarLenAscii>()
                    .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
                    .map_err(|e| bad(format!("{ids_dataset:?} is not a string dataset: {e}")))?,
            };
            let e = f.dataset(emb_dataset).map_err(|e| {
                bad(format!(
                    "no embedding dataset {emb_dataset:?}: {e} (set `emb_dataset`)"
                ))
            })?;
            let emb = match e.read_2d::<f32>() {
                Ok(a) => a,
                Err(_) => e
                    .read_2d::<f64>()
                    .map(|a| a.mapv(|x| x as f32))
                    .map_err(|e| {
                        bad(format!("{emb_dataset:?} is not a float [N, D] array: {e}"))
                    })?,
            };
            (ids, emb)
        };
        if ids.len() != emb.nrows() {
            return Err(bad(format!("{} ids but {} rows", ids.len(), emb.nrows())));
        }
        if emb.ncols() == 0 {
            return Err(bad(format!(
                "the embeddings have 0 columns (shape [{}, 0]): nothing to train a probe on",
                emb.nrows()
            )));
        }
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            if index.insert(id.clone(), i).is_some() {
                return Err(bad(format!("id {id:?} appears twice")));
            }
        }
        if let Some((r, c)) = emb
            .indexed_iter()
            .find(|(_, x)| !x.is_finite())
            .map(|(i, _)| i)
        {
            return Err(bad(format!("non-finite value at row {r}, column {c}")));
        }
        Ok(PrecomputedEmbedder {
            name: name.into(),
            modality,
            index,
            emb,
        })
    }
}

impl Embedder for PrecomputedEmbedder {
    fn name(&self) -> &str {
        &self.name
    }
    fn modality(&self) -> Modality {
        self.modality
    }
    fn dim(&self) -> usize {
        self.emb.ncols()
    }
    fn embed(&self, batch: &[SeqInput<'_>]) -> Result<Array2<f32>, EmbedError> {
        let missing: Vec<&str> = batch
            .iter()
            .filter(|s| !self.index.contains_key(s.id))
            .map(|s| s.id)
            .collect();
        if !missing.is_empty() {
            return Err(EmbedError::Missing {
                model: self.name.clone(),
                msg: format!(
                    "{} of {} genes have no precomputed embedding, e.g. {:?}",
                    missing.len(),
                    batch.len(),
                    &missing[..missing.len().min(5)]
                ),
            });
        }
        let mut out = Array2::<f32>::zeros((batch.len(), self.dim()));
        for (r, s) in batch.iter().enumerate() {
            out.row_mut(r).assign(&self.emb.row(self.index[s.id]));
        }
        Ok(out)
    }
}

/// `kind: precomputed`: an existing embedding file.
pub struct Precomputed;

impl KindSpec for Precomputed {
    fn fields(&self) -> &'static [&'static str] {
        &["path", "ids_dataset", "emb_dataset", "ids_file"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn preflight(&self, spec: &ModelSpec, base: &Path) -> Result<(), ModelError> {
        let p = resolve(base, spec.path.as_deref().unwrap_or(Path::new("")));
        if p.is_file() {
            Ok(())
        } else {
            Err(ModelError::NotFound(format!(
                "path {}: no such file",
                p.display()
            )))
        }
    }

    fn check_folder(&self, spec: &ModelSpec, base: &Path) -> Result<(), SpecError> {
        let p = resolve(base, spec.path.as_deref().unwrap_or(Path::new("")));
        let mut head = [0u8; 8];
        let read = std::fs::File::open(&p).and_then(|mut f| {
            use std::io::Read;
            f.read_exact(&mut head)
        });
        let npy = p.extension().is_some_and(|e| e == "npy");
        let (magic, what): (&[u8], &str) = if npy {
            (b"\x93NUMPY", "an .npy file")
        } else {
            (
                b"\x89HDF\r\n\x1a\n",
                "an HDF5 file (or a .npy with `ids_file`)",
            )
        };
        if read.is_err() || !head.starts_with(magic) {
            return Err(SpecError::value(
                "path",
                format!(
                    "path {}: not {what} (the first bytes of {} are not that format's signature)",
                    spec.path.as_deref().unwrap_or(Path::new("")).display(),
                    p.display()
                ),
            ));
        }
        Ok(())
    }

    fn weights_hash(&self, spec: &ModelSpec, base: &Path) -> String {
        spec.path
            .as_ref()
            .and_then(|p| crate::file_hash::sha256_cached(&resolve(base, p)).ok())
            .unwrap_or_default()
    }

    fn build(&self, spec: &ModelSpec, ctx: &BuildContext) -> Result<Box<dyn Embedder>, EmbedError> {
        Ok(Box::new(PrecomputedEmbedder::load(
            &spec.name,
            spec.modality(),
            &resolve(&ctx.base_dir, spec.path.as_deref().unwrap_or(Path::new(""))),
            spec.ids_dataset.as_deref().unwrap_or("ids"),
            spec.emb_dataset.as_deref().unwrap_or("emb"),
            spec.ids_file
                .as_deref()
                .map(|p| resolve(&ctx.base_dir, p))
                .as_deref(),
        )?))
    }
}
