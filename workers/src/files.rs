//! Files genoprot reads: regular files (checked by `stat`, before they are
//! opened), their stamps and their SHA-256.

use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What identifies a version of a file without reading it: size, mtime
/// (seconds, nanoseconds) and inode. Writers that replace a file by renaming a
/// temp file over it change the inode; an in-place rewrite changes the mtime.
pub type Stamp = (u64, i64, i64, u64);

/// The stamp of the file at `p` (following links); `None` when it is absent.
pub fn stamp(p: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
}

/// The hex SHA-256 of a (regular) file's bytes, and their number.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    check_regular(path)?;
    let mut f = std::fs::File::open(path)?;
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

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

/// The longest line an input file may have (64 MiB): far above any gene or
/// protein on one line (titin's CDS is ~110 kb) or any table row, far below
/// what would exhaust memory. A file of zeros or a binary file hits it.
pub const MAX_LINE: u64 = 64 << 20;

/// The most bytes one FASTA record may take (64 MiB), for the same reason.
pub const MAX_RECORD: u64 = 64 << 20;

/// A reader that fails (`InvalidData`, naming the line and the limit) as
/// soon as a line is longer than `max_line` bytes or, with `records` set to
/// the record's first byte (`b'>'` for FASTA), a record is longer than
/// `max_record`: readers above it buffer a line or a record whole.
pub struct Capped<R> {
    inner: R,
    max_line: u64,
    max_record: u64,
    records: Option<u8>,
    line: u64,
    in_line: u64,
    in_record: u64,
    at_line_start: bool,
}

impl<R> Capped<R> {
    /// Lines capped at [`MAX_LINE`]; with `records`, records at [`MAX_RECORD`].
    pub fn new(inner: R, records: Option<u8>) -> Self {
        Self::with_limits(inner, records, MAX_LINE, MAX_RECORD)
    }

    pub fn with_limits(inner: R, records: Option<u8>, max_line: u64, max_record: u64) -> Self {
        Capped {
            inner,
            max_line,
            max_record,
            records,
            line: 1,
            in_line: 0,
            in_record: 0,
            at_line_start: true,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if self.at_line_start && Some(b) == self.records {
                self.in_record = 0;
            }
            self.at_line_start = b == b'\n';
            self.in_record += 1;
            if b == b'\n' {
                self.line += 1;
                self.in_line = 0;
                continue;
            }
            self.in_line += 1;
            let (what, limit) = if self.in_line > self.max_line {
                ("a line", self.max_line)
            } else if self.records.is_some() && self.in_record > self.max_record {
                ("a record", self.max_record)
            } else {
                continue;
            };
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {}: longer than the limit for {what} ({} MiB); this is not a \
                     sequence or table file genoprot can read (a binary file, or one \
                     without line breaks?)",
                    self.line,
                    limit >> 20
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_long_line_or_record_is_an_error_naming_its_line() {
        let text = b">a\nACGT\nACGT\n>b\nAC\n";
        let mut out = Vec::new();
        Capped::with_limits(&text[..], Some(b'>'), 8, 16)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, text);
        let long_line = b"x\nabcdefghij\n";
        let e = Capped::with_limits(&long_line[..], None, 8, 16)
            .read_to_end(&mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("line 2: longer than the limit for a line"),
            "{e}"
        );
        let long_record = b">a\nACGTACGT\nACGTACGT\nACGT\n>b\nA\n";
        let e = Capped::with_limits(&long_record[..], Some(b'>'), 8, 16)
            .read_to_end(&mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("line 3: longer than the limit for a record"),
            "{e}"
        );
        // Zeros without a newline (a sparse or binary file) stop at the cap.
        let zeros = std::io::repeat(0).take(1 << 20);
        assert!(
            Capped::with_limits(zeros, None, 1000, 1000)
                .read_to_end(&mut Vec::new())
                .is_err()
        );
    }
}
