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
        let prefix = format!(".{name}.");
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

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let a = AtomicPath::new(dest)?;
    std::fs::write(a.path(), bytes)?;
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
}
