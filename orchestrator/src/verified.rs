//! Which cell stores are done: a file counts when it opens and its `cell_id`
//! attribute equals its name (a truncated file, or a valid store copied under
//! another cell's name, does not). Opening every HDF5 file on each `plan` or
//! `status` costs ~0.15 ms a file, so the check's result is kept in
//! `journal/verified-cells.tsv` (id, size, mtime, inode, and a checksum of
//! the line): a file whose metadata has not changed since it was checked is
//! not opened again; any rewrite, copy or rename over it changes that
//! metadata. A line whose checksum does not match is ignored.

use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use workers::file_hash::{Stamp, stamp};

fn read_cache(path: &Path) -> HashMap<String, Stamp> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        // Lines whose checksum does not match are not trusted: checked again.
        .filter_map(workers::seal::line_text)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [id, a, b, c, d] = f.as_slice() else {
                return None;
            };
            Some((
                id.to_string(),
                (
                    a.parse().ok()?,
                    b.parse().ok()?,
                    c.parse().ok()?,
                    d.parse().ok()?,
                ),
            ))
        })
        .collect()
}

/// The ids among `names` (file stems in `dir`) whose stores are done; the
/// cache at `cache` is read and, when the answer changed, rewritten
/// (atomically; a read-only store just skips it).
pub fn done_cells(dir: &Path, names: Vec<String>, cache: &Path) -> HashSet<String> {
    let old = read_cache(cache);
    let checked: Vec<(String, Stamp)> = names
        .into_par_iter()
        .filter_map(|id| {
            let p = dir.join(format!("{id}.h5"));
            let st = stamp(&p)?;
            if old.get(&id) == Some(&st) {
                return Some((id, st));
            }
            match workers::probe::cell::stored_cell_id(&p) {
                Ok(stored) if stored == id => Some((id, st)),
                Ok(stored) => {
                    tracing::warn!(
                        "{}: holds cell {stored}, not {id} (a copied or renamed cell store); counted as missing",
                        p.display()
                    );
                    None
                }
                // Damage is reported by `seal::verify`, once.
                Err(workers::store::StoreError::Damaged { .. }) => None,
                Err(e) => {
                    tracing::warn!("cell store not counted as done: {e}");
                    None
                }
            }
        })
        .collect();
    let new: HashMap<String, Stamp> = checked.iter().cloned().collect();
    if new != old && cache.parent().is_some_and(Path::is_dir) {
        let mut text = String::with_capacity(new.len() * 80);
        for (id, (a, b, c, d)) in &checked {
            text.push_str(&workers::seal::checked_line(&format!(
                "{id}\t{a}\t{b}\t{c}\t{d}"
            )));
        }
        if let Err(e) = workers::atomic::write_atomic(cache, text.as_bytes()) {
            tracing::debug!("not caching verified cells in {}: {e}", cache.display());
        }
    }
    checked.into_iter().map(|(id, _)| id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_file_is_not_opened_again_until_it_changes() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("verified.tsv");
        // Not HDF5 at all: not done, not cached.
        std::fs::write(d.path().join("a.h5"), b"junk").unwrap();
        assert!(done_cells(d.path(), vec!["a".into()], &cache).is_empty());
        assert!(read_cache(&cache).is_empty());
        // A cache entry whose stamp matches is trusted without opening the file ...
        let st = stamp(&d.path().join("a.h5")).unwrap();
        let line = format!("a\t{}\t{}\t{}\t{}", st.0, st.1, st.2, st.3);
        // ... unless the line's checksum does not match (an edit, damage) ...
        std::fs::write(&cache, format!("{line}\t0123456789abcdef\n")).unwrap();
        assert!(done_cells(d.path(), vec!["a".into()], &cache).is_empty());
        std::fs::write(&cache, workers::seal::checked_line(&line)).unwrap();
        assert_eq!(done_cells(d.path(), vec!["a".into()], &cache).len(), 1);
        // ... and a rewrite (other size/mtime) is checked again: junk is not done.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.path().join("a.h5"), b"other junk!").unwrap();
        assert!(done_cells(d.path(), vec!["a".into()], &cache).is_empty());
        assert!(read_cache(&cache).is_empty());
    }
}
