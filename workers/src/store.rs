//! HDF5 stores, readable from h5py (schema: docs/store-schema.md).
//!
//! `store/embeddings/<model>.h5`: `ids` (variable-length UTF-8 strings, [N]),
//! `emb` (f32 [N, D], chunked, deflate-compressed, resizable along N), and
//! attributes `model`, `modality`, `pooling`, `weights_hash`, `config_hash`,
//! `tool_version`, `created` (strings), `dim` and `format_version` (integers).
//!
//! Its unit tests are in `store_tests.rs`.

use crate::atomic::AtomicPath;
use crate::h5attr::{self, h5err};
pub use crate::store_error::StoreError;

/// Opens an HDF5 store for reading, after checking (by `stat`, without
/// opening it) that it is a regular file (a FIFO in its place would block the
/// HDF5 library forever, a device would feed it garbage) and that its bytes
/// are the ones sealed when it was written ([`crate::seal::verify`]): a
/// damaged file would crash the library or change a number.
pub fn open_h5(path: &Path) -> Result<hdf5::File, StoreError> {
    crate::files::check_regular(path).map_err(|e| StoreError::Invalid {
        path: path.to_path_buf(),
        msg: format!("{e}: a store is an HDF5 file genoprot writes; move what is in its place away and run again"),
    })?;
    crate::seal::verify(path)?;
    hdf5::File::open(path).map_err(h5err(path))
}
use hdf5::types::VarLenUnicode;
use ndarray::{Array2, Axis};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Version of the on-disk layout; part of every cell id.
pub const STORE_FORMAT_VERSION: i64 = 1;

/// Attributes of an embedding store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingMeta {
    pub model: String,
    pub modality: String,
    pub pooling: String,
    pub weights_hash: String,
    pub config_hash: String,
    pub created: String,
    pub tool_version: String,
    /// The parts of each vector, in column order, with their widths
    /// (`modality: gene`: `dna`, then `protein`); empty: one part, the
    /// store's modality. Attributes `parts` ("dna,protein") and
    /// `part_widths` ([h, h]).
    pub parts: Vec<(String, usize)>,
}

/// One model's embeddings: row `i` of `emb` belongs to `ids[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub ids: Vec<String>,
    pub emb: Array2<f32>,
    pub meta: EmbeddingMeta,
}

/// Finishes an HDF5 file written at `written` (the temp path of `dest`):
/// flushes every object, closes it and fsyncs it, checking each step, so that
/// a full or failing file system is an error here and never a truncated file
/// renamed into place; then seals it (writes `dest`'s digest,
/// [`crate::seal::seal`]). Drop every group and dataset handle before calling it:
/// with handles open, `H5Fclose` defers the real close (and hides its errors).
pub fn finish_h5(f: hdf5::File, written: &Path, dest: &Path) -> Result<(), StoreError> {
    f.flush().map_err(h5err(dest))?;
    f.close().map_err(h5err(dest))?;
    let io = |source| StoreError::Io {
        path: dest.to_path_buf(),
        source,
    };
    std::fs::File::open(written)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    crate::seal::seal(written, dest)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl Embeddings {
    /// Checks shape agreement, unique ids and finiteness.
    pub fn validate(&self, path: &Path) -> Result<(), StoreError> {
        let bad = |msg: String| StoreError::Invalid {
            path: path.to_path_buf(),
            msg,
        };
        if self.ids.len() != self.emb.nrows() {
            return Err(bad(format!(
                "{} ids but {} embedding rows",
                self.ids.len(),
                self.emb.nrows()
            )));
        }
        let mut seen = HashMap::with_capacity(self.ids.len());
        for (i, id) in self.ids.iter().enumerate() {
            if let Some(j) = seen.insert(id.as_str(), i) {
                return Err(bad(format!("id {id:?} appears at rows {j} and {i}")));
            }
        }
        if let Some((r, row)) = self
            .emb
            .axis_iter(Axis(0))
            .enumerate()
            .find(|(_, r)| r.iter().any(|x| !x.is_finite()))
        {
            let c = row.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(bad(format!(
                "non-finite value at row {r} (id {:?}), column {c}",
                self.ids[r]
            )));
        }
        let widths: usize = self.meta.parts.iter().map(|(_, w)| w).sum();
        if !self.meta.parts.is_empty() && widths != self.emb.ncols() {
            return Err(bad(format!(
                "parts {:?} are {widths} columns wide but emb has {}",
                self.meta.parts,
                self.emb.ncols()
            )));
        }
        Ok(())
    }

    /// Writes the store to `dest` through a temp file + rename.
    pub fn write(&self, dest: &Path) -> Result<(), StoreError> {
        self.validate(dest)?;
        let tmp = AtomicPath::new(dest).map_err(|source| StoreError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        {
            let p = tmp.path();
            let f = hdf5::File::create(p).map_err(h5err(dest))?;
            let ids: Vec<VarLenUnicode> = self
                .ids
                .iter()
                .map(|s| VarLenUnicode::from_str(s))
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::Invalid {
                    path: dest.to_path_buf(),
                    msg: format!("id: {e}"),
                })?;
            f.new_dataset_builder()
                .with_data(&ids)
                .create("ids")
                .map_err(h5err(dest))?;
            let (n, d) = self.emb.dim();
            let chunk_rows = (65_536 / d.max(1)).clamp(1, n.max(1));
            let ds = f
                .new_dataset::<f32>()
                .chunk((chunk_rows, d.max(1)))
                .deflate(4)
                // HDF5's own checksum per chunk: h5py detects damage too.
                .fletcher32()
                .shape((hdf5::Extent::resizable(n), hdf5::Extent::fixed(d)))
                .create("emb")
                .map_err(h5err(dest))?;
            if n > 0 {
                ds.write(&self.emb).map_err(h5err(dest))?;
            }
            let m = &self.meta;
            for (k, v) in [
                ("model", m.model.as_str()),
                ("modality", &m.modality),
                ("pooling", &m.pooling),
                ("weights_hash", &m.weights_hash),
                ("config_hash", &m.config_hash),
                (
                    "tool_version",
                    if m.tool_version.is_empty() {
                        crate::TOOL_VERSION
                    } else {
                        &m.tool_version
                    },
                ),
                (
                    "created",
                    &if m.created.is_empty() {
                        now_rfc3339()
                    } else {
                        m.created.clone()
                    },
                ),
            ] {
                h5attr::write_str(&f, k, v, dest)?;
            }
            h5attr::write_int(&f, "dim", d as i64, dest)?;
            h5attr::write_int(&f, "format_version", STORE_FORMAT_VERSION, dest)?;
            if !m.parts.is_empty() {
                let names: Vec<&str> = m.parts.iter().map(|(n, _)| n.as_str()).collect();
                let widths: Vec<i64> = m.parts.iter().map(|(_, w)| *w as i64).collect();
                h5attr::write_str(&f, "parts", &names.join(","), dest)?;
                h5attr::write_ints(&f, "part_widths", &widths, dest)?;
            }
            drop(ds);
            finish_h5(f, p, dest)?;
        }
        tmp.commit().map_err(|source| StoreError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// Reads a whole store.
    pub fn read(path: &Path) -> Result<Self, StoreError> {
        let f = open_h5(path)?;
        let ids: Vec<VarLenUnicode> = f
            .dataset("ids")
            .and_then(|d| d.read_raw())
            .map_err(h5err(path))?;
        let emb: Array2<f32> = f
            .dataset("emb")
            .and_then(|d| d.read_2d())
            .map_err(h5err(path))?;
        let dim = h5attr::read_int(&f, "dim", path)?;
        if dim as usize != emb.ncols() {
            return Err(StoreError::Invalid {
                path: path.to_path_buf(),
                msg: format!("attribute dim = {dim} but emb has {} columns", emb.ncols()),
            });
        }
        let meta = read_meta_attrs(&f, path)?;
        let e = Embeddings {
            ids: ids.iter().map(|s| s.as_str().to_string()).collect(),
            emb,
            meta,
        };
        e.validate(path)?;
        Ok(e)
    }
}

/// A store's `parts` and `part_widths` (none in single-part stores).
fn read_parts(f: &hdf5::File, path: &Path) -> Result<Vec<(String, usize)>, StoreError> {
    let (Some(names), Some(widths)) = (
        h5attr::read_str_opt(f, "parts", path)?,
        h5attr::read_ints(f, "part_widths", path)?,
    ) else {
        return Ok(Vec::new());
    };
    let names: Vec<&str> = names.split(',').collect();
    if names.len() != widths.len() || widths.iter().any(|w| *w < 1) {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            msg: format!("attributes parts = {names:?} and part_widths = {widths:?} do not match"),
        });
    }
    Ok(names
        .iter()
        .zip(widths)
        .map(|(n, w)| (n.to_string(), w as usize))
        .collect())
}

/// The string attributes of an embedding store.
fn read_meta_attrs(f: &hdf5::File, path: &Path) -> Result<EmbeddingMeta, StoreError> {
    Ok(EmbeddingMeta {
        model: h5attr::read_str(f, "model", path)?,
        modality: h5attr::read_str(f, "modality", path)?,
        pooling: h5attr::read_str(f, "pooling", path)?,
        weights_hash: h5attr::read_str(f, "weights_hash", path)?,
        config_hash: h5attr::read_str(f, "config_hash", path)?,
        created: h5attr::read_str(f, "created", path)?,
        tool_version: h5attr::read_str(f, "tool_version", path)?,
        parts: read_parts(f, path)?,
    })
}

/// Reads a store's attributes and ids without its embedding matrix (cheap:
/// used to decide whether a store is complete and current).
pub fn read_meta(path: &Path) -> Result<(EmbeddingMeta, Vec<String>, usize), StoreError> {
    let f = open_h5(path)?;
    let ids: Vec<VarLenUnicode> = f
        .dataset("ids")
        .and_then(|d| d.read_raw())
        .map_err(h5err(path))?;
    let dim = h5attr::read_int(&f, "dim", path)?;
    // The matrix must be what the attributes and ids say: a store whose
    // `emb` was cut or extended is damaged, not current.
    let shape = f.dataset("emb").map_err(h5err(path))?.shape();
    if shape != [ids.len(), dim.max(0) as usize] {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            msg: format!(
                "emb is {shape:?} but the store has {} ids and attribute dim = {dim}: the store \
                 is damaged (it is computed again)",
                ids.len()
            ),
        });
    }
    let meta = read_meta_attrs(&f, path)?;
    Ok((
        meta,
        ids.iter().map(|s| s.as_str().to_string()).collect(),
        dim as usize,
    ))
}

/// The store rows of `ids`, or an error naming the ids the store lacks.
fn rows_of<S: std::borrow::Borrow<str> + std::hash::Hash + Eq>(
    pos: &HashMap<S, usize>,
    ids: &[&str],
    path: &Path,
) -> Result<Vec<usize>, StoreError> {
    let mut missing = Vec::new();
    let rows: Vec<usize> = ids
        .iter()
        .filter_map(|id| {
            let r = pos.get(*id).copied();
            if r.is_none() {
                missing.push(*id);
            }
            r
        })
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            msg: format!(
                "{} requested ids are not in the store, e.g. {:?} (hint: was the store built from another dataset?)",
                missing.len(),
                &missing[..missing.len().min(5)]
            ),
        });
    }
    Ok(rows)
}

/// Reads the rows of `ids` (in that order) from a store, touching only the
/// chunks that hold them: requested rows are read as contiguous runs.
pub fn read_rows(path: &Path, ids: &[&str]) -> Result<Array2<f32>, StoreError> {
    let f = open_h5(path)?;
    let all: Vec<VarLenUnicode> = f
        .dataset("ids")
        .and_then(|d| d.read_raw())
        .map_err(h5err(path))?;
    let pos: HashMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let rows = rows_of(&pos, ids, path)?;
    let ds = f.dataset("emb").map_err(h5err(path))?;
    let d = ds.shape().get(1).copied().unwrap_or(0);
    let mut sorted: Vec<(usize, usize)> = rows.iter().enumerate().map(|(k, r)| (*r, k)).collect();
    sorted.sort_unstable();
    let mut out = Array2::<f32>::zeros((ids.len(), d));
    // Scattered rows touching most chunks: one sequential read beats many small ones.
    let n_total = all.len();
    let chunk_rows = ds
        .chunk()
        .and_then(|c| c.first().copied())
        .unwrap_or(1)
        .max(1);
    let runs = 1 + sorted.windows(2).filter(|w| w[1].0 > w[0].0 + 1).count();
    if runs * chunk_rows * 2 > n_total {
        let whole: Array2<f32> = ds.read_2d().map_err(h5err(path))?;
        for &(r, k) in &sorted {
            out.row_mut(k).assign(&whole.row(r));
        }
        return Ok(out);
    }
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i].0;
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 <= sorted[j].0 + 1 {
            j += 1;
        }
        let end = sorted[j].0 + 1;
        let block: Array2<f32> = ds
            .read_slice_2d(ndarray::s![start..end, ..])
            .map_err(h5err(path))?;
        for &(r, k) in &sorted[i..=j] {
            out.row_mut(k).assign(&block.row(r - start));
        }
        i = j + 1;
    }
    Ok(out)
}

/// A whole store held in memory by [`read_rows_cached`].
struct Cached {
    /// Inode, size and modification time of the file it was read from: a
    /// store written again (re-embedded: a new file renamed into place) is
    /// read again.
    stamp: (u64, u64, Option<std::time::SystemTime>),
    pos: HashMap<String, usize>,
    emb: Array2<f32>,
    last_use: u64,
}

#[derive(Default)]
struct StoreCache {
    entries: HashMap<PathBuf, Cached>,
    clock: u64,
}

static CACHE: std::sync::LazyLock<std::sync::Mutex<StoreCache>> =
    std::sync::LazyLock::new(Default::default);

/// Bytes of decoded stores kept in memory: `GENOPROT_STORE_CACHE_MB` (0 turns
/// the cache off), default 2048 MiB.
fn cache_budget() -> u64 {
    std::env::var("GENOPROT_STORE_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(2048)
        << 20
}

/// [`read_rows`] for callers that read the same stores many times (the cells
/// of a bundle or of a local run: every task and seed of a model reads its
/// store): the first call decodes the whole store and keeps it, later calls
/// copy rows out of memory. Stores larger than the budget, or all of them
/// with `GENOPROT_STORE_CACHE_MB=0`, go to [`read_rows`]; the least recently
/// used stores are dropped to stay within it.
pub fn read_rows_cached(path: &Path, ids: &[&str]) -> Result<Array2<f32>, StoreError> {
    read_rows_cached_within(path, ids, cache_budget())
}

fn read_rows_cached_within(
    path: &Path,
    ids: &[&str],
    budget: u64,
) -> Result<Array2<f32>, StoreError> {
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Invalid {
        path: path.to_path_buf(),
        msg: format!("cannot read: {e}"),
    })?;
    let stamp = (
        std::os::unix::fs::MetadataExt::ino(&meta),
        meta.len(),
        meta.modified().ok(),
    );
    let take = |c: &Cached| -> Result<Array2<f32>, StoreError> {
        let rows = rows_of(&c.pos, ids, path)?;
        Ok(c.emb.select(Axis(0), &rows))
    };
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.clock += 1;
        let now = cache.clock;
        if let Some(c) = cache.entries.get_mut(path)
            && c.stamp == stamp
        {
            c.last_use = now;
            return take(c);
        }
    }
    let f = open_h5(path)?;
    let ds = f.dataset("emb").map_err(h5err(path))?;
    let bytes = ds.shape().iter().product::<usize>() as u64 * 4;
    if bytes > budget {
        drop(f);
        return read_rows(path, ids);
    }
    let all: Vec<VarLenUnicode> = f
        .dataset("ids")
        .and_then(|d| d.read_raw())
        .map_err(h5err(path))?;
    let emb: Array2<f32> = ds.read_2d().map_err(h5err(path))?;
    let mut c = Cached {
        stamp,
        pos: all
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str().to_string(), i))
            .collect(),
        emb,
        last_use: 0,
    };
    let out = take(&c)?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.entries.remove(path);
    let size = |c: &Cached| c.emb.len() as u64 * 4;
    while cache.entries.values().map(size).sum::<u64>() + bytes > budget {
        let Some(oldest) = cache
            .entries
            .iter()
            .min_by_key(|(_, c)| c.last_use)
            .map(|(p, _)| p.clone())
        else {
            break;
        };
        cache.entries.remove(&oldest);
    }
    cache.clock += 1;
    c.last_use = cache.clock;
    cache.entries.insert(path.to_path_buf(), c);
    Ok(out)
}

/// The file of shard `i` of `n` of a model's store.
pub fn shard_path(dest: &Path, i: usize, n: usize) -> PathBuf {
    let stem = dest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!("{stem}.shard-{i:04}-of-{n:04}.h5"))
}

/// Merges shard stores into one, in the order of `expected` ids. Every
/// expected id must appear in exactly one shard; shards must agree on
/// dimension, model and config hash. The merged store is written atomically;
/// the shards are left for the caller to remove.
pub fn merge_shards(
    shards: &[PathBuf],
    expected: &[String],
    dest: &Path,
) -> Result<Embeddings, StoreError> {
    let bad = |msg: String| StoreError::Invalid {
        path: dest.to_path_buf(),
        msg,
    };
    let mut parts = Vec::with_capacity(shards.len());
    for p in shards {
        parts.push(Embeddings::read(p)?);
    }
    let first = parts
        .first()
        .ok_or_else(|| bad("no shards to merge".into()))?;
    let (d, meta) = (first.emb.ncols(), first.meta.clone());
    let mut where_: HashMap<&str, (usize, usize)> = HashMap::new();
    for (s, part) in parts.iter().enumerate() {
        if part.emb.ncols() != d
            || part.meta.config_hash != meta.config_hash
            || part.meta.model != meta.model
        {
            return Err(bad(format!(
                "shard {} does not match shard {} (dim/model/config hash differ)",
                shards[s].display(),
                shards[0].display()
            )));
        }
        for (r, id) in part.ids.iter().enumerate() {
            if let Some((s0, _)) = where_.insert(id.as_str(), (s, r)) {
                return Err(bad(format!(
                    "id {id:?} is in two shards: {} and {}",
                    shards[s0].display(),
                    shards[s].display()
                )));
            }
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|id| !where_.contains_key(id))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "{} ids are in no shard, e.g. {:?} (hint: a shard job did not finish; rerun it)",
            missing.len(),
            &missing[..missing.len().min(5)]
        )));
    }
    if where_.len() != expected.len() {
        return Err(bad(format!(
            "shards hold {} ids that were not expected",
            where_.len() - expected.len()
        )));
    }
    let mut emb = Array2::<f32>::zeros((expected.len(), d));
    for (k, id) in expected.iter().enumerate() {
        let (s, r) = where_[id.as_str()];
        emb.row_mut(k).assign(&parts[s].emb.row(r));
    }
    let merged = Embeddings {
        ids: expected.to_vec(),
        emb,
        meta: EmbeddingMeta {
            created: String::new(),
            ..meta
        },
    };
    merged.write(dest)?;
    Ok(merged)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
