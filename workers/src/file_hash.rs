//! SHA-256 of large input files (model weights, precomputed embeddings),
//! cached by file metadata: `plan`, `status` and every worker hash each
//! model's files to derive ids, and a 3B-parameter checkpoint takes tens of
//! seconds to read. An entry (canonical path, size, mtime, inode) whose file
//! is unchanged is not read again; any rewrite, copy or rename over the file
//! changes that metadata.
//!
//! The cache is `$GENOPROT_HASH_CACHE`, else
//! `$XDG_CACHE_HOME/genoprot/sha256.tsv`, else `~/.cache/genoprot/sha256.tsv`;
//! it is rewritten atomically when it gains an entry, and a cache that cannot
//! be read or written is simply not used.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

type Stamp = (u64, i64, i64, u64);

fn cache_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GENOPROT_HASH_CACHE") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("genoprot").join("sha256.tsv"))
}

fn read(path: &Path) -> HashMap<PathBuf, (Stamp, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [p, a, b, c, d, h] = f.as_slice() else {
                return None;
            };
            Some((
                PathBuf::from(p),
                (
                    (
                        a.parse().ok()?,
                        b.parse().ok()?,
                        c.parse().ok()?,
                        d.parse().ok()?,
                    ),
                    h.to_string(),
                ),
            ))
        })
        .collect()
}

fn cache() -> &'static Mutex<HashMap<PathBuf, (Stamp, String)>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, (Stamp, String)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(cache_path().map(|p| read(&p)).unwrap_or_default()))
}

/// The hex SHA-256 of a file's bytes, from the cache when the file is
/// unchanged since it was hashed.
pub fn sha256_cached(path: &Path) -> std::io::Result<String> {
    let canonical = std::fs::canonicalize(path)?;
    let m = std::fs::metadata(&canonical)?;
    let stamp = (m.len(), m.mtime(), m.mtime_nsec(), m.ino());
    if let Some((s, h)) = cache().lock().expect("hash cache").get(&canonical)
        && *s == stamp
    {
        return Ok(h.clone());
    }
    let (h, _) = crate::dataset::sha256_file(&canonical)?;
    let mut c = cache().lock().expect("hash cache");
    c.insert(canonical, (stamp, h.clone()));
    if let Some(p) = cache_path() {
        // Entries of other processes since this one started are kept.
        let mut all = read(&p);
        all.extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut text = String::new();
        for (k, ((a, b, cc, d), hh)) in &all {
            if let Some(k) = k.to_str().filter(|k| !k.contains(['\t', '\n'])) {
                text.push_str(&format!("{k}\t{a}\t{b}\t{cc}\t{d}\t{hh}\n"));
            }
        }
        let written = p
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| crate::atomic::write_atomic(&p, text.as_bytes()));
        if let Err(e) = written {
            tracing::debug!("not caching file hashes in {}: {e}", p.display());
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_hashed_again() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("w.bin");
        std::fs::write(&f, b"one").unwrap();
        let a = sha256_cached(&f).unwrap();
        assert_eq!(a, crate::dataset::sha256_file(&f).unwrap().0);
        assert_eq!(sha256_cached(&f).unwrap(), a);
        // Rewritten (new inode via rename, as writers do): a new hash.
        let tmp = d.path().join("w.tmp");
        std::fs::write(&tmp, b"two").unwrap();
        std::fs::rename(&tmp, &f).unwrap();
        let b = sha256_cached(&f).unwrap();
        assert_ne!(a, b);
        assert_eq!(b, crate::dataset::sha256_file(&f).unwrap().0);
    }
}
