//! Files genoprot reads are regular files: checked by `stat`, before they
//! are opened.

use std::path::Path;

/// A file genoprot reads must be a regular file: a FIFO would block the read (or the
/// open) forever and a device (`/dev/zero`, `/dev/urandom`) never ends. Checked
/// with `stat`, before anything is opened.
pub fn check_regular(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path)?.file_type();
    if t.is_file() {
        return Ok(());
    }
    let what = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a folder"
    } else {
        "a socket or other special file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("is {what}, not a regular file"),
    ))
}
