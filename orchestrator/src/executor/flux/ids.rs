//! Flux job ids in their F58 form (`ƒPkTyou`, or `fPkTyou` with
//! `FLUX_F58_FORCE_ASCII=1`): the 64-bit id in base 58 with Bitcoin's
//! alphabet (no 0, O, I, l), most significant digit first. `flux jobs
//! --json` gives the number (`id`); `flux submit` prints the F58 text.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The number of an F58 id (with its `ƒ` or `f` prefix); `None` when it is not one.
pub fn f58_decode(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('ƒ').or_else(|| id.strip_prefix('f'))?;
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.bytes() {
        let d = ALPHABET.iter().position(|a| *a == c)? as u64;
        n = n.checked_mul(58)?.checked_add(d)?;
    }
    Some(n)
}

/// The ASCII F58 text of an id (`f` prefix).
pub fn f58_encode(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % 58) as usize]);
        n /= 58;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!("f{}", String::from_utf8(digits).expect("ASCII alphabet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f58_ids_match_what_flux_printed() {
        // `flux submit --cc=0-2` printed these; `flux jobs --json` gave the numbers.
        for (text, n) in [
            ("fPkTyou", 14_931_722_240u64),
            ("fPkTyov", 14_931_722_241),
            ("ƒPkTyou", 14_931_722_240),
        ] {
            assert_eq!(f58_decode(text), Some(n), "{text}");
        }
        assert_eq!(f58_encode(14_931_722_240), "fPkTyou");
        assert_eq!(f58_encode(0), "f1");
        for bad in ["", "f", "PkTyou", "f0OIl", "fzzzzzzzzzzzzzzzzzzzzzzzz"] {
            assert_eq!(f58_decode(bad), None, "{bad}");
        }
        for n in [1u64, 57, 58, 3_364, u64::MAX] {
            assert_eq!(f58_decode(&f58_encode(n)), Some(n));
        }
    }
}
