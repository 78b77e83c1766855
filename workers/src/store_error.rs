//! What can go wrong reading or writing an HDF5 store, and which of it is
//! the file system refusing writes (a run stops at the first).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Hdf5 {
        path: PathBuf,
        #[source]
        source: hdf5::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
    /// The file does not match the digest recorded when it was written
    /// (`seal.rs`): it is computed again, never read.
    #[error("{path}: damaged: {msg}")]
    Damaged { path: PathBuf, msg: String },
}

impl StoreError {
    /// When the file system refused a write — full, read-only, over quota,
    /// an I/O error — the reason (with its errno); `None` for other errors.
    /// Every later write to the same store would fail the same way, so runs
    /// stop at the first such error.
    pub fn storage_fault(&self) -> Option<String> {
        const FAULTS: [(i32, &str); 5] = [
            (libc::ENOSPC, "No space left on device"),
            (libc::EROFS, "Read-only file system"),
            (libc::EDQUOT, "Disk quota exceeded"),
            (libc::EIO, "Input/output error"),
            (libc::EFBIG, "File too large"),
        ];
        match self {
            StoreError::Io { source, .. } => {
                let code = source.raw_os_error()?;
                FAULTS
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(c, what)| format!("{what} (errno {c})"))
            }
            StoreError::Hdf5 { source, .. } => {
                // HDF5 reports the OS error inside its message: "errno = 28, error message = ...".
                let text = source.to_string();
                FAULTS
                    .iter()
                    .find(|(c, what)| {
                        text.contains(what) || text.contains(&format!("errno = {c},"))
                    })
                    .map(|(c, what)| format!("{what} (errno {c})"))
            }
            StoreError::Invalid { .. } | StoreError::Damaged { .. } => None,
        }
    }
}
