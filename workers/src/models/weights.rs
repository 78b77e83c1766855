//! Model weights from a Hugging Face folder, in every layout transformers
//! saves them, for every native model family:
//!
//! | file(s) | read with |
//! |---|---|
//! | `model.safetensors` | the `safetensors` crate |
//! | `model.safetensors.index.json` + shards | the same, per shard |
//! | `pytorch_model.bin` (PyTorch ≥ 1.6 zip checkpoint) | burn-store's PyTorch reader |
//! | `pytorch_model.bin.index.json` + shards | the same, per shard |
//! | one `*.safetensors` file under another name (NV-CodonFM's releases) | the `safetensors` crate |
//! | one `*.pth` state dict (ESM C's released files) | burn-store's PyTorch reader |
//!
//! Safetensors wins when a folder has both. Legacy (pre-zip) pickles are
//! refused. Tensors in f32, f16, bf16 or f64 are returned as f32 (the `half`
//! crate converts), checked against the shape the model expects and for
//! finiteness; every error names the tensor and the file.

use super::ModelError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Prefixes transformers puts in front of a base model's tensors when a
/// checkpoint was saved from a task head (`EsmForMaskedLM` → `esm.`).
const PREFIXES: [&str; 6] = ["", "esm.", "bert.", "model.", "glm2.", "lucaone."];

enum Shard {
    Safetensors {
        bytes: Vec<u8>,
    },
    Pytorch {
        reader: burn_store::pytorch_reader::PytorchReader,
    },
}

/// The weight files of one model folder, indexed by tensor name.
pub struct Weights {
    shards: Vec<(PathBuf, Shard)>,
    /// tensor name → shard index
    index: BTreeMap<String, usize>,
    format: &'static str,
}

/// The weight files a folder holds, in the order [`Weights::open`] prefers
/// them; `None` when there are none.
pub fn weight_files(dir: &Path) -> Option<(&'static str, Vec<PathBuf>)> {
    let single_st = dir.join("model.safetensors");
    let index_st = dir.join("model.safetensors.index.json");
    let single_pt = dir.join("pytorch_model.bin");
    let index_pt = dir.join("pytorch_model.bin.index.json");
    let shards_of = |index: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read(index)
            .ok()
            .and_then(|b| serde_json::from_slice::<Index>(&b).ok())
            .map(|i| i.weight_map.into_values().map(|f| dir.join(f)).collect())
            .unwrap_or_default();
        files.sort();
        files.dedup();
        let mut out = vec![index.to_path_buf()];
        out.extend(files);
        out
    };
    if single_st.is_file() {
        Some(("safetensors", vec![single_st]))
    } else if index_st.is_file() {
        Some(("sharded safetensors", shards_of(&index_st)))
    } else if single_pt.is_file() {
        Some(("pytorch_model.bin", vec![single_pt]))
    } else if index_pt.is_file() {
        Some(("sharded pytorch_model.bin", shards_of(&index_pt)))
    } else {
        // A single safetensors file under another name (NV-CodonFM's
        // releases), else a single PyTorch state dict saved with torch.save:
        // exactly one of the kind, as several would be ambiguous.
        let only = |ext: &str| -> Option<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
                .collect();
            (found.len() == 1).then(|| found.remove(0))
        };
        only("safetensors")
            .map(|p| ("safetensors", vec![p]))
            .or_else(|| only("pth").map(|p| ("pth", vec![p])))
    }
}

#[derive(serde::Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

fn read(p: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(p).map_err(|e| ModelError::read(p, e))
}

fn open_pytorch(p: &Path) -> Result<burn_store::pytorch_reader::PytorchReader, ModelError> {
    let mut magic = [0u8; 4];
    let zip = std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|_| magic == *b"PK\x03\x04")
        .map_err(|e| ModelError::read(p, e))?;
    if !zip {
        return Err(ModelError::file(
            p,
            "not a zip checkpoint (a legacy PyTorch pickle, from before PyTorch 1.6, or not a \
             checkpoint at all); re-save it with a current PyTorch, e.g. \
             `model.save_pretrained(dir, safe_serialization=True)`",
        ));
    }
    burn_store::pytorch_reader::PytorchReader::new(p).map_err(|e| ModelError::file(p, e))
}

impl Weights {
    /// Opens the weights of `dir` (see the module table).
    pub fn open(dir: &Path) -> Result<Weights, ModelError> {
        let Some((format, files)) = weight_files(dir) else {
            return Err(ModelError::file(
                dir,
                "no weights: expected model.safetensors, model.safetensors.index.json, \
                 pytorch_model.bin, pytorch_model.bin.index.json, one *.safetensors file or one \
                 *.pth state dict",
            ));
        };
        let mut shards: Vec<(PathBuf, Shard)> = Vec::new();
        let mut index = BTreeMap::new();
        let sharded = format.starts_with("sharded");
        if sharded {
            // The index names each tensor's file; every file must be there.
            let idx: Index = serde_json::from_slice(&read(&files[0])?)
                .map_err(|e| ModelError::file(&files[0], e))?;
            let mut file_no: BTreeMap<String, usize> = BTreeMap::new();
            for (name, file) in idx.weight_map {
                let no = match file_no.get(&file) {
                    Some(n) => *n,
                    None => {
                        let p = dir.join(&file);
                        if !p.is_file() {
                            return Err(ModelError::file(
                                &files[0],
                                format!(
                                    "names {file} for tensor {name}, but {} is missing",
                                    p.display()
                                ),
                            ));
                        }
                        let shard = if format.contains("safetensors") {
                            Shard::Safetensors { bytes: read(&p)? }
                        } else {
                            Shard::Pytorch {
                                reader: open_pytorch(&p)?,
                            }
                        };
                        shards.push((p, shard));
                        file_no.insert(file, shards.len() - 1);
                        shards.len() - 1
                    }
                };
                index.insert(name, no);
            }
        } else {
            let p = files[0].clone();
            let shard = if format == "safetensors" {
                let bytes = read(&p)?;
                let st = safetensors::SafeTensors::deserialize(&bytes)
                    .map_err(|e| ModelError::file(&p, e))?;
                for n in st.names() {
                    index.insert(n.to_string(), 0);
                }
                Shard::Safetensors { bytes }
            } else {
                let reader = open_pytorch(&p)?;
                for n in reader.keys() {
                    index.insert(n, 0);
                }
                Shard::Pytorch { reader }
            };
            shards.push((p, shard));
        }
        Ok(Weights {
            shards,
            index,
            format,
        })
    }

    /// Which layout was read (`safetensors`, `pytorch_model.bin`, or a sharded one).
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// The weight files read, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.shards.iter().map(|(p, _)| p.as_path())
    }

    /// Whether a tensor is present (under any of the usual prefixes).
    pub fn contains(&self, name: &str) -> bool {
        self.key(name).is_some()
    }

    fn key(&self, name: &str) -> Option<(String, usize)> {
        PREFIXES.iter().find_map(|p| {
            let k = format!("{p}{name}");
            self.index.get(&k).map(|s| (k, *s))
        })
    }

    /// A tensor by its base-model name, as f32, checked against `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let (key, shard) = self.key(name).ok_or_else(|| ModelError::MissingTensor {
            name: name.into(),
            files: self
                .files()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let (path, shard) = &self.shards[shard];
        let bad_shape = |found: &[usize]| {
            ModelError::tensor(
                &key,
                format!(
                    "has shape {found:?}, expected {shape:?} (in {})",
                    path.display()
                ),
            )
        };
        let v: Vec<f32> = match shard {
            Shard::Safetensors { bytes } => {
                let st = safetensors::SafeTensors::deserialize(bytes)
                    .map_err(|e| ModelError::file(path, e))?;
                let t = st
                    .tensor(&key)
                    .map_err(|e| ModelError::file(path, format!("{key}: {e}")))?;
                if t.shape() != shape {
                    return Err(bad_shape(t.shape()));
                }
                let dtype = match t.dtype() {
                    safetensors::Dtype::F32 => Dtype::F32,
                    safetensors::Dtype::F16 => Dtype::F16,
                    safetensors::Dtype::BF16 => Dtype::BF16,
                    safetensors::Dtype::F64 => Dtype::F64,
                    other => return Err(unsupported(&key, &format!("{other:?}"), path)),
                };
                to_f32(t.data(), dtype)
            }
            Shard::Pytorch { reader } => {
                let t = reader
                    .get(&key)
                    .ok_or_else(|| ModelError::file(path, format!("tensor {key} not found")))?;
                if t.shape() != shape {
                    return Err(bad_shape(t.shape()));
                }
                use burn_store::pytorch_reader::DType as P;
                let dtype = match t.dtype() {
                    P::F32 => Dtype::F32,
                    P::F16 => Dtype::F16,
                    P::BF16 => Dtype::BF16,
                    P::F64 => Dtype::F64,
                    other => return Err(unsupported(&key, &format!("{other:?}"), path)),
                };
                let bytes = t.read().map_err(|e| ModelError::file(path, e))?;
                to_f32(&bytes, dtype)
            }
        };
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(ModelError::tensor(
                &key,
                format!(
                    "holds a non-finite value ({}) at flat index {i}: the checkpoint {} is corrupt",
                    v[i],
                    path.display()
                ),
            ));
        }
        Ok(v)
    }
}

#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F16,
    BF16,
    F64,
}

fn unsupported(key: &str, dtype: &str, path: &Path) -> ModelError {
    ModelError::tensor(
        key,
        format!(
            "has dtype {dtype}, which is not supported (F32, F16, BF16, F64) in {}",
            path.display()
        ),
    )
}

/// Little-endian (safetensors) or native-endian (PyTorch reader, on the
/// little-endian machines it runs on) bytes to f32.
fn to_f32(d: &[u8], dtype: Dtype) -> Vec<f32> {
    match dtype {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        let vals = [0.0f32, 1.0, -2.5, 65504.0, 6.1035156e-5, 5.9604645e-8];
        let f16: Vec<u8> = vals
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        assert_eq!(to_f32(&f16, Dtype::F16), vals);
        let bf: Vec<u8> = [1.0f32, -3.0, 0.15625]
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        assert_eq!(to_f32(&bf, Dtype::BF16), [1.0, -3.0, 0.15625]);
    }

    #[test]
    fn folders_without_weights_and_legacy_pickles_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = Weights::open(d.path()).err().unwrap().to_string();
        assert!(e.contains("no weights: expected model.safetensors"), "{e}");
        // A pickle stream (protocol 2 header), not a zip archive.
        std::fs::write(d.path().join("pytorch_model.bin"), b"\x80\x02}q\x00.").unwrap();
        let e = Weights::open(d.path()).err().unwrap().to_string();
        assert!(
            e.contains("pytorch_model.bin: not a zip checkpoint (a legacy PyTorch pickle"),
            "{e}"
        );
        // A sharded index naming a missing shard.
        std::fs::remove_file(d.path().join("pytorch_model.bin")).unwrap();
        std::fs::write(
            d.path().join("model.safetensors.index.json"),
            r#"{"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors"}}"#,
        )
        .unwrap();
        let e = Weights::open(d.path()).err().unwrap().to_string();
        assert!(
            e.contains("names model-00001-of-00002.safetensors for tensor a.weight")
                && e.contains("is missing"),
            "{e}"
        );
    }
}
