//! Malformed variants of a valid input file, for fuzz-style tests (shared by
//! the workers' reader tests and the binary's end-to-end tests).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Mutations of a valid file: cut, flipped bytes, random UTF-8, a junk line,
/// duplicated lines, CRLF endings, a NUL.
pub fn mutate(rng: &mut ChaCha8Rng, good: &[u8]) -> Vec<u8> {
    let mut b = good.to_vec();
    match rng.random_range(0..7) {
        0 => b.truncate(rng.random_range(0..b.len().max(1))),
        1 => {
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..b.len().max(1));
                if i < b.len() {
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        2 => {
            let s: String = (0..rng.random_range(1..40))
                .map(|_| char::from_u32(rng.random_range(0x20..0x3000)).unwrap_or('?'))
                .collect();
            let i = rng.random_range(0..b.len().max(1)).min(b.len());
            b.splice(i..i, s.into_bytes());
        }
        3 => {
            let i = b.iter().position(|c| *c == b'\n').map_or(0, |p| p + 1);
            b.splice(i..i, b"\t\t>>:: junk\tline\n".iter().copied());
        }
        4 => {
            let lines: Vec<&[u8]> = good.split(|c| *c == b'\n').collect();
            let l = lines[rng.random_range(0..lines.len())];
            b.extend_from_slice(l);
            b.push(b'\n');
            b.extend_from_slice(l);
        }
        5 => {
            b = String::from_utf8_lossy(&b)
                .replace('\n', "\r\n")
                .into_bytes()
        }
        _ => {
            let i = rng.random_range(0..b.len().max(1)).min(b.len());
            b.insert(i, 0);
        }
    }
    b
}
