//! Digests of finished store files. Every HDF5 store genoprot writes
//! (embedding, cell, results) is *sealed*: when the file is complete and
//! fsynced, the SHA-256 of its bytes is written beside it as
//! `<name>.sha256`, in `sha256sum` format (`cd cells && sha256sum -c *.sha256`
//! checks a store by hand). Readers *verify* a file against its digest before
//! the HDF5 library sees a byte of it: a flipped bit, a torn copy or an
//! in-place edit is "damaged" (an error naming the file), never a crash in
//! the library or a changed number.
//!
//! The digest is written before the store is renamed into place, so every
//! interruption leaves a state that reads as damaged or absent, never as a
//! sealed store with the wrong content. A store without its digest (written
//! by a genoprot before 0.2 or by hand) is not trusted either.
//!
//! Hashing runs at ~1.5 GB/s (SHA-NI); a file whose [`Stamp`] is unchanged
//! is hashed once per process.

use crate::files::{Stamp, stamp};
use crate::store_error::StoreError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

/// The digest file of the store at `path`: `<path>.sha256`.
pub fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// The hex SHA-256 of the (regular) file at `path`.
pub fn digest_file(path: &Path) -> std::io::Result<String> {
    crate::files::sha256_file(path).map(|(hex, _)| hex)
}

/// A cache line with its checksum: `<text>\t<the first 16 hex of its
/// SHA-256>`. Caches whose lines decide what genoprot trusts (file hashes,
/// verified cells) write every line so.
pub fn checked_line(text: &str) -> String {
    format!("{text}\t{}\n", short_sum(text.as_bytes()))
}

/// The checksum of one line or record: the first 16 hex of the SHA-256 of
/// its bytes.
pub fn short_sum(bytes: &[u8]) -> String {
    let mut sum = hex::encode(Sha256::digest(bytes));
    sum.truncate(16);
    sum
}

/// The text of a line written by [`checked_line`] (without its newline),
/// when its checksum matches; `None` for an edited or damaged line.
pub fn line_text(line: &str) -> Option<&str> {
    let (text, sum) = line.rsplit_once('\t')?;
    (sum == short_sum(text.as_bytes())).then_some(text)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Seals the finished file `written` (the temp file of `dest`): writes
/// `dest`'s digest file (temp file, fsync, rename). Call it after the file is
/// fsynced and before it is renamed onto `dest`.
pub fn seal(written: &Path, dest: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let hex = digest_file(written).map_err(io)?;
    let line = sum_line(&hex, &file_name(dest));
    crate::atomic::write_atomic(&sidecar(dest), line.as_bytes()).map_err(|source| StoreError::Io {
        path: sidecar(dest),
        source,
    })
}

/// Seals a store written by other means where it lies (tests and tools
/// that build a store with h5py or the HDF5 library): whatever its bytes
/// are now becomes what readers expect.
pub fn seal_in_place(path: &Path) -> Result<(), StoreError> {
    seal(path, path)
}

/// Files verified by this process, with the stamp they had.
static VERIFIED: LazyLock<Mutex<HashMap<PathBuf, Stamp>>> = LazyLock::new(Default::default);

/// Damaged files already reported by this process.
static REPORTED: LazyLock<Mutex<std::collections::HashSet<PathBuf>>> =
    LazyLock::new(Default::default);

/// The digest recorded for `path`, or why there is none that can be used.
fn recorded(path: &Path) -> Result<String, String> {
    let side = sidecar(path);
    if crate::files::check_regular(&side).is_err() {
        return Err(format!(
            "its digest {} is missing (the store was interrupted, written by an older \
             genoprot, or changed by hand)",
            file_name(&side)
        ));
    }
    let mut text = String::new();
    std::fs::File::open(&side)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(|e| format!("its digest {} cannot be read: {e}", side.display()))?;
    match text.strip_suffix('\n').and_then(parse_sum_line) {
        Some((hex, name)) if name == file_name(path) => Ok(hex.to_string()),
        _ => Err(format!("its digest {} is damaged", side.display())),
    }
}

/// One `sha256sum` line: `<hex>  <name>\n`.
pub fn sum_line(hex: &str, name: &str) -> String {
    format!("{hex}  {name}\n")
}

/// The digest and the name of a [`sum_line`] (without its newline), when
/// the digest is 64 lowercase hex digits.
pub fn parse_sum_line(line: &str) -> Option<(&str, &str)> {
    let (hex, name) = line.split_once("  ")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some((hex, name))
}

/// Checks the file at `path` against its digest. `Err(StoreError::Damaged)`
/// when the digest is missing, unreadable or differs: the file must not be
/// handed to the HDF5 library.
pub fn verify(path: &Path) -> Result<(), StoreError> {
    let damaged = |msg: String| {
        let e = StoreError::Damaged {
            path: path.to_path_buf(),
            msg,
        };
        // Reported once per file and process, however often it is asked about.
        if REPORTED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf())
        {
            tracing::warn!("{e}; it is not read, and a run computes it again");
        }
        e
    };
    let st = stamp(path);
    if let Some(st) = st
        && VERIFIED.lock().unwrap_or_else(|e| e.into_inner()).get(path) == Some(&st)
    {
        return Ok(());
    }
    let want = recorded(path).map_err(damaged)?;
    let have = digest_file(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if have != want {
        return Err(damaged(format!(
            "its content does not match its digest {} (SHA-256 {}… recorded, {}… read): the \
             file was changed or damaged after it was written",
            file_name(&sidecar(path)),
            &want[..12],
            &have[..12]
        )));
    }
    // Stamped after hashing: a file replaced meanwhile is hashed again next time.
    if let Some(st) = st
        && stamp(path) == Some(st)
    {
        VERIFIED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), st);
    }
    Ok(())
}

/// Removes a store genoprot wrote and its digest (`clean`, merged shards).
pub fn remove(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path)?;
    match std::fs::remove_file(sidecar(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        seal(&tmp, &dest).unwrap();
        std::fs::rename(&tmp, &dest).unwrap();
        dest
    }

    #[test]
    fn a_sealed_file_verifies_and_its_digest_checks_with_sha256sum_format() {
        let d = tempfile::tempdir().unwrap();
        let p = sealed(d.path(), "a.h5", b"hello");
        verify(&p).unwrap();
        let text = std::fs::read_to_string(sidecar(&p)).unwrap();
        assert_eq!(
            text,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  a.h5\n"
        );
    }

    #[test]
    fn every_single_bit_flip_in_a_file_or_its_digest_is_damage() {
        let d = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let p = sealed(d.path(), "b.h5", &bytes);
        let side = std::fs::read(sidecar(&p)).unwrap();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            std::fs::write(&p, &b).unwrap();
            let e = verify(&p).unwrap_err();
            assert!(matches!(e, StoreError::Damaged { .. }), "{e}");
        }
        std::fs::write(&p, &bytes).unwrap();
        for i in 0..side.len() * 8 {
            let mut s = side.clone();
            s[i / 8] ^= 1 << (i % 8);
            std::fs::write(sidecar(&p), &s).unwrap();
            assert!(verify(&p).is_err(), "flip {i} in the digest passed");
        }
        std::fs::write(sidecar(&p), &side).unwrap();
        verify(&p).unwrap();
    }

    #[test]
    fn a_checked_line_reads_back_and_any_flipped_bit_drops_it() {
        let l = checked_line("a\t1\t2");
        assert_eq!(line_text(l.trim_end()), Some("a\t1\t2"));
        let b = l.trim_end().as_bytes();
        for i in 0..b.len() * 8 {
            let mut c = b.to_vec();
            c[i / 8] ^= 1 << (i % 8);
            if let Ok(t) = std::str::from_utf8(&c) {
                assert_eq!(line_text(t), None, "flip {i}: {t:?}");
            }
        }
    }

    #[test]
    fn a_missing_digest_or_a_digest_of_another_file_is_damage() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.h5");
        std::fs::write(&p, b"no digest").unwrap();
        let e = verify(&p).unwrap_err().to_string();
        assert!(e.contains("c.h5") && e.contains("missing"), "{e}");
        let q = sealed(d.path(), "d.h5", b"same");
        std::fs::write(&p, b"same").unwrap();
        std::fs::copy(sidecar(&q), sidecar(&p)).unwrap();
        assert!(
            verify(&p).is_err(),
            "a digest naming d.h5 must not seal c.h5"
        );
        remove(&q).unwrap();
        assert!(!q.exists() && !sidecar(&q).exists());
    }
}
