//! JSON Lines files of the store, written one way: the journal's events and
//! the Slurm job log are appended ([`append`]: one locked, flushed write per
//! line, a torn last line never glued onto; an object line carries a `sum`
//! of its fields, checked by [`read`] and [`parse_summed`]), the caches are rewritten whole
//! ([`rewrite`]: temp file, rename). Readers skip lines that do not parse
//! ([`read`]; the journal also counts them). Caches whose lines decide what
//! reaches results (aggregate rows, report comparisons) carry a checksum per
//! line ([`rewrite_checked`], [`read_checked`]): an edited or damaged line is
//! ignored, so what it cached is computed again.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

fn with_path(path: &Path) -> impl Fn(std::io::Error) -> std::io::Error + '_ {
    move |e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Appends `item` as one line. Writers (threads of a run, array tasks on
/// other nodes) take the file's exclusive lock for the check and the write:
/// otherwise one could see another's line half-written. A line left without
/// its newline by a crash gets one first, in the same write.
pub fn append<T: Serialize>(path: &Path, item: &T) -> std::io::Result<()> {
    let err = with_path(path);
    let mut line = Vec::with_capacity(256);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(&err)?;
    f.lock().map_err(&err)?;
    if !ends_with_newline(&mut f).map_err(&err)? {
        line.push(b'\n');
    }
    line.extend_from_slice(&summed(item)?);
    line.push(b'\n');
    let written = f.write_all(&line).and_then(|_| f.flush());
    let _ = f.unlock();
    written.map_err(err)
}

/// Replaces the file by `items`, one per line (temp file, rename; the
/// folder is made if missing).
pub fn rewrite<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut text = Vec::with_capacity(items.len() * 200);
    for it in items {
        serde_json::to_writer(&mut text, it).map_err(std::io::Error::other)?;
        text.push(b'\n');
    }
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(with_path(p))?;
    }
    workers::atomic::write_atomic(path, &text).map_err(with_path(path))
}

/// Every line of the file that parses as `T` and whose `sum` matches (none
/// when it is absent).
pub fn read<T: DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read(path)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .filter_map(parse_summed)
        .collect()
}

/// The sum of an appended line: [`workers::seal::short_sum`] of the
/// object's JSON without its `sum` (keys in serde_json's sorted order).
fn sum_of(obj: &serde_json::Map<String, serde_json::Value>) -> std::io::Result<String> {
    let json = serde_json::to_vec(obj).map_err(std::io::Error::other)?;
    Ok(workers::seal::short_sum(&json))
}

/// `item` as one JSON line; an object gets a `sum` field over its other
/// fields, so an edited or damaged line is recognised when read (and `jq`
/// still reads it).
fn summed<T: Serialize>(item: &T) -> std::io::Result<Vec<u8>> {
    let mut v = serde_json::to_value(item).map_err(std::io::Error::other)?;
    if let serde_json::Value::Object(obj) = &mut v {
        obj.remove("sum");
        let sum = sum_of(obj)?;
        obj.insert("sum".into(), sum.into());
    }
    serde_json::to_vec(&v).map_err(std::io::Error::other)
}

/// A line written by [`append`]: `None` when it does not parse as `T` or its
/// `sum` does not match. Lines without a `sum` (written before lines had
/// one) are taken as they are.
pub fn parse_summed<T: DeserializeOwned>(line: &[u8]) -> Option<T> {
    let mut v: serde_json::Value = serde_json::from_slice(line).ok()?;
    if let serde_json::Value::Object(obj) = &mut v
        && let Some(sum) = obj.remove("sum")
        && Some(sum_of(obj).ok()?.as_str()) != sum.as_str()
    {
        return None;
    }
    serde_json::from_value(v).ok()
}

/// The hex SHA-256 of a line's JSON.
fn line_sum(json: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(json))
}

/// Replaces the file by `items`, one per line as `<sha256 of the JSON> <JSON>`
/// (temp file, rename).
pub fn rewrite_checked<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut text = Vec::with_capacity(items.len() * 264);
    for it in items {
        let json = serde_json::to_vec(it).map_err(std::io::Error::other)?;
        text.extend_from_slice(line_sum(&json).as_bytes());
        text.push(b' ');
        text.extend_from_slice(&json);
        text.push(b'\n');
    }
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(with_path(p))?;
    }
    workers::atomic::write_atomic(path, &text).map_err(with_path(path))
}

/// Every line of a checked file whose checksum matches its JSON and that
/// parses as `T`; other lines (edited, damaged, an older layout) are
/// skipped, once reported.
pub fn read_checked<T: DeserializeOwned>(path: &Path) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut bad = 0usize;
    let out = text
        .lines()
        .filter_map(|l| {
            let item = l
                .split_once(' ')
                .filter(|(sum, json)| *sum == line_sum(json.as_bytes()))
                .and_then(|(_, json)| serde_json::from_str(json).ok());
            bad += usize::from(item.is_none());
            item
        })
        .collect();
    if bad > 0 {
        tracing::warn!(
            "{}: {bad} lines fail their checksum or do not parse; what they cached is computed again",
            path.display()
        );
    }
    out
}

/// Whether a file is empty or ends with `\n`.
fn ends_with_newline(f: &mut std::fs::File) -> std::io::Result<bool> {
    if f.metadata()?.len() == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_survive_a_torn_line_and_rewrites_replace() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.jsonl");
        append(&p, &1).unwrap();
        // A crash mid-append: a line without its newline.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        append(&p, &2).unwrap();
        assert_eq!(read::<i32>(&p), vec![1, 2]);
        rewrite(&d.path().join("sub/y.jsonl"), &[3, 4]).unwrap();
        assert_eq!(read::<i32>(&d.path().join("sub/y.jsonl")), vec![3, 4]);
        assert!(read::<i32>(&d.path().join("absent")).is_empty());
    }

    #[test]
    fn an_appended_line_carries_a_sum_and_any_flipped_bit_drops_it() {
        #[derive(Serialize, serde::Deserialize, PartialEq, Debug)]
        struct E {
            unit: String,
            t: f64,
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("e.jsonl");
        let e = E {
            unit: "cell-1".into(),
            t: 0.1 + 0.2,
        };
        append(&p, &e).unwrap();
        assert_eq!(read::<E>(&p), vec![e]);
        let line = std::fs::read(&p).unwrap();
        assert!(String::from_utf8_lossy(&line).contains("\"sum\":\""));
        for i in 0..(line.len() - 1) * 8 {
            let mut b = line.clone();
            b[i / 8] ^= 1 << (i % 8);
            std::fs::write(&p, &b).unwrap();
            // A flip in the key `sum` itself leaves the content intact.
            let got = read::<E>(&p);
            assert!(
                got.is_empty() || got[0].unit == "cell-1" && got[0].t == 0.1 + 0.2,
                "flip {i}: {got:?}"
            );
        }
        // A line written before lines had a sum still counts.
        std::fs::write(&p, "{\"unit\":\"old\",\"t\":1.0}\n").unwrap();
        assert_eq!(read::<E>(&p).len(), 1);
    }

    #[test]
    fn a_checked_line_that_was_edited_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.jsonl");
        rewrite_checked(&p, &[0.559, 0.571]).unwrap();
        assert_eq!(read_checked::<f64>(&p), vec![0.559, 0.571]);
        // One changed digit: that line is dropped, the other kept.
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replacen("0.559", "0.659", 1);
        std::fs::write(&p, text).unwrap();
        assert_eq!(read_checked::<f64>(&p), vec![0.571]);
        // Unchecked lines (an older cache) are not trusted either.
        std::fs::write(&p, "0.559\n").unwrap();
        assert!(read_checked::<f64>(&p).is_empty());
    }
}
