//! SHA-256 of large input files (model weights, precomputed embeddings),
//! without rereading them: `plan`, `status` and every worker derive ids from
//! each model's file hashes, and a paper-scale sweep holds tens of GB of
//! weights on a parallel file system.
//!
//! - A Hugging Face cache blob (`…/blobs/<64 hex>`, what a snapshot's
//!   `model.safetensors` links to) is named by the SHA-256 of its content:
//!   the name is the digest, nothing is read.
//! - Otherwise a digest is kept with the file's [`Stamp`] (canonical path,
//!   size, mtime, inode) in two tab-separated caches: the sweep store's
//!   `journal/file-hashes.tsv` (set by [`cache_in_store`]; shared by every
//!   node that runs the sweep) and the user's `$GENOPROT_HASH_CACHE`, else
//!   `$XDG_CACHE_HOME/genoprot/sha256.tsv`, else `~/.cache/genoprot/sha256.tsv`
//!   (shared by the user's sweeps). A file whose stamp is unchanged is not
//!   read again; any rewrite, copy or rename over it changes the stamp.
//!
//! Caches are rewritten atomically when they gain an entry (entries written
//! by other processes meanwhile are kept); one that cannot be read or
//! written is simply not used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use crate::files::{Stamp, stamp};

type Entries = HashMap<PathBuf, (Stamp, String)>;

/// One cache file and what this process knows of it.
struct Cache {
    path: PathBuf,
    entries: Entries,
}

struct Caches {
    /// The sweep store's cache, once [`cache_in_store`] named it.
    store: Option<Cache>,
    /// The user's cache.
    user: Option<Cache>,
}

fn user_cache_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GENOPROT_HASH_CACHE") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("genoprot").join("sha256.tsv"))
}

fn read(path: &Path) -> Entries {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        // A line whose checksum does not match (edited, damaged, an older
        // layout) is not used: that file is hashed again.
        .filter_map(crate::seal::line_text)
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

impl Cache {
    fn open(path: PathBuf) -> Cache {
        Cache {
            entries: read(&path),
            path,
        }
    }

    fn get(&self, p: &Path, stamp: &Stamp) -> Option<String> {
        self.entries
            .get(p)
            .filter(|(s, _)| s == stamp)
            .map(|(_, h)| h.clone())
    }

    /// Adds an entry and rewrites the file (merged with what other
    /// processes added since it was read).
    fn insert(&mut self, p: PathBuf, stamp: Stamp, digest: String, create_dir: bool) {
        self.entries.insert(p, (stamp, digest));
        let Some(dir) = self.path.parent() else {
            return;
        };
        if !dir.is_dir() && !create_dir {
            return;
        }
        let mut all = read(&self.path);
        all.extend(self.entries.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut text = String::new();
        for (k, ((a, b, c, d), h)) in &all {
            if let Some(k) = k.to_str().filter(|k| !k.contains(['\t', '\n'])) {
                text.push_str(&crate::seal::checked_line(&format!(
                    "{k}\t{a}\t{b}\t{c}\t{d}\t{h}"
                )));
            }
        }
        let written = std::fs::create_dir_all(dir)
            .and_then(|_| crate::atomic::write_atomic(&self.path, text.as_bytes()));
        if let Err(e) = written {
            tracing::debug!("not caching file hashes in {}: {e}", self.path.display());
        }
    }
}

fn caches() -> &'static Mutex<Caches> {
    static CACHES: OnceLock<Mutex<Caches>> = OnceLock::new();
    CACHES.get_or_init(|| {
        Mutex::new(Caches {
            store: None,
            user: user_cache_path().map(Cache::open),
        })
    })
}

/// Also keeps digests in `path` (a sweep store's `journal/file-hashes.tsv`):
/// written only while its folder exists, so a command that creates no store
/// leaves none behind.
pub fn cache_in_store(path: &Path) {
    let mut c = caches().lock().expect("hash caches");
    if c.store.as_ref().is_none_or(|s| s.path != path) {
        c.store = Some(Cache::open(path.to_path_buf()));
    }
}

/// The digest a Hugging Face cache blob carries in its name.
fn hub_blob_digest(canonical: &Path) -> Option<String> {
    let name = canonical.file_name()?.to_str()?;
    let in_blobs = canonical
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "blobs");
    (in_blobs && name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| name.to_string())
}

/// The hex SHA-256 of a file's bytes: from a hub blob's name, from a cache
/// when the file is unchanged since it was hashed, else by reading it.
pub fn sha256_cached(path: &Path) -> std::io::Result<String> {
    let canonical = std::fs::canonicalize(path)?;
    if let Some(d) = hub_blob_digest(&canonical) {
        return Ok(d);
    }
    let stamp = stamp(&canonical).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "file vanished while hashing")
    })?;
    let mut c = caches().lock().expect("hash caches");
    let in_store = c.store.as_ref().and_then(|s| s.get(&canonical, &stamp));
    let in_user = c.user.as_ref().and_then(|s| s.get(&canonical, &stamp));
    let digest = match (&in_store, &in_user) {
        (Some(h), _) | (None, Some(h)) => h.clone(),
        (None, None) => {
            tracing::debug!("hashing {}", canonical.display());
            crate::files::sha256_file(&canonical)?.0
        }
    };
    if in_store.is_none()
        && let Some(s) = c.store.as_mut()
    {
        s.insert(canonical.clone(), stamp, digest.clone(), false);
    }
    if in_user.is_none()
        && let Some(u) = c.user.as_mut()
    {
        u.insert(canonical, stamp, digest.clone(), true);
    }
    Ok(digest)
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

    #[test]
    fn a_hub_blob_is_named_by_its_digest() {
        let d = tempfile::tempdir().unwrap();
        let blobs = d.path().join("models--x--y/blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        let digest = crate::dataset::sha256_file(Path::new("Cargo.toml"))
            .unwrap()
            .0;
        // Content that does not match the name: the name is taken, unread.
        std::fs::write(blobs.join(&digest), b"not what the name says").unwrap();
        std::os::unix::fs::symlink(blobs.join(&digest), d.path().join("model.safetensors"))
            .unwrap();
        assert_eq!(
            sha256_cached(&d.path().join("model.safetensors")).unwrap(),
            digest
        );
        // A git-sha1-named blob (a small file the hub keeps in git) is read.
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(blobs.join(sha1), b"x").unwrap();
        assert_eq!(
            sha256_cached(&blobs.join(sha1)).unwrap(),
            crate::dataset::sha256_file(&blobs.join(sha1)).unwrap().0
        );
    }
}
