//! Write-to-temp-then-rename: a killed writer never leaves a file that looks complete.

use std::io;
use std::path::{Path, PathBuf};

/// A temporary path next to `dest` (same folder, so the rename is atomic on
/// one file system). Dropping it without [`AtomicPath::commit`] removes the temp file.
#[derive(Debug)]
pub struct AtomicPath {
    tmp: Option<tempfile::TempPath>,
    dest: PathBuf,
}

impl AtomicPath {
    /// Reserves a temp file beside `dest`, creating `dest`'s folder if needed.
    pub fn new(dest: &Path) -> io::Result<Self> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Mode 0666 before the umask, like a plain create: stores on shared
        // project file systems stay readable by the group.
        #[cfg(unix)]
        let perms = std::os::unix::fs::PermissionsExt::from_mode(0o666);
        // The writer's host and process are in the name, so a later run can
        // tell the temp files of dead writers (removed) from live ones (kept).
        let prefix = format!(".{name}.{}~{}.", crate::child::host(), crate::child::me());
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        b.permissions(perms);
        let tmp = b.tempfile_in(dir)?.into_temp_path();
        Ok(AtomicPath {
            tmp: Some(tmp),
            dest: dest.to_path_buf(),
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        self.tmp.as_ref().expect("not yet committed")
    }

    /// Renames the temp file onto the destination.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let tmp = self.tmp.take().expect("commit once");
        tmp.persist(&self.dest).map_err(|e| e.error)?;
        Ok(self.dest.clone())
    }
}

/// Removes temp files left beside `dest` by writers that were killed
/// (`.<name>.*.tmp`). Call only where one writer owns `dest`.
pub fn remove_stale(dest: &Path) {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    if let Ok(rd) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix) && n.ends_with(".tmp") {
                tracing::debug!(file = %e.path().display(), "removing a temp file left by a killed writer");
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Removes the temp files in `dir` whose writers are dead: written by a
/// process of this host that no longer runs, or (files from before writers
/// were named) untouched for a day. Temp files of live writers and of other
/// hosts are kept. Returns the number removed.
pub fn remove_dead_temps(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let host = crate::child::host();
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_prefix('.').and_then(|s| s.strip_suffix(".tmp")) else {
            continue;
        };
        let dead = match stem
            .rsplit_once('.')
            .and_then(|(rest, _random)| rest.rsplit_once('.'))
            .and_then(|(_, owner)| owner.split_once('~'))
        {
            Some((h, owner)) if h == host => !crate::child::is_alive(owner),
            Some(_) => false,
            // Older writers named temps `.<name>.<6 random chars>.tmp`.
            None if !stem.rsplit_once('.').is_some_and(|(n, r)| {
                r.len() == 6
                    && r.chars().all(|c| c.is_ascii_alphanumeric())
                    && [".h5", ".json", ".csv", ".md", ".svg"]
                        .iter()
                        .any(|x| n.ends_with(x))
            }) =>
            {
                false
            }
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 86_400),
        };
        if dead && e.file_type().is_ok_and(|t| t.is_file()) {
            tracing::debug!(file = %e.path().display(), "removing a temp file of a dead writer");
            if std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let a = AtomicPath::new(dest)?;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(a.path())?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    a.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_leaves_nothing_and_commit_replaces() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("sub/x.txt");
        {
            let a = AtomicPath::new(&dest).unwrap();
            std::fs::write(a.path(), b"half").unwrap();
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(d.path().join("sub")).unwrap().count(), 0);
        write_atomic(&dest, b"one").unwrap();
        write_atomic(&dest, b"two").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path().join("sub")).unwrap().count(), 1);
    }

    #[test]
    fn temps_of_dead_writers_are_removed_and_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("results.h5");
        let live = AtomicPath::new(&dest).unwrap();
        std::fs::write(live.path(), b"writing").unwrap();
        let host = crate::child::host();
        // A writer of this host that is gone (no process has start time 0 at this pid).
        let dead = d
            .path()
            .join(format!(".results.h5.{host}~4194305-0.abc123.tmp"));
        std::fs::write(&dead, b"torn").unwrap();
        // Another host's writer: cannot be checked from here, kept.
        let other = d.path().join(".results.h5.elsewhere~1-1.abc123.tmp");
        std::fs::write(&other, b"maybe live").unwrap();
        // A user's file that merely looks similar: not a temp file of ours.
        let user = d.path().join("notes.tmp");
        std::fs::write(&user, b"mine").unwrap();
        assert_eq!(remove_dead_temps(d.path()), 1);
        assert!(!dead.exists());
        assert!(live.path().exists() && other.exists() && user.exists());
    }
}
