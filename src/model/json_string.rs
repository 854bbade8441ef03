//! Word-at-a-time byte scanning shared by the JSON readers and the body checker: finding
//! where a plain run inside a JSON string ends (at a `"`, a `\` or a control character)
//! eight bytes at a time, with no `unsafe` and no per-call set-up, which is what strings of a
//! few bytes (keys, short values) need.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// What the one-character JSON escape `\c` stands for (`\n` → newline, `\/` → `/`, …);
/// `None` for `u` (four hex digits follow) and for anything that is not an escape.
#[must_use]
pub fn simple_escape(c: u8) -> Option<u8> {
    Some(match c {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        _ => return None,
    })
}

/// Bytes of `x` (little-endian order) that end a plain run inside a string: `"`, `\` or a
/// control character. The lowest flagged byte is always a real one (borrows only run upwards
/// from a byte that really matched).
#[must_use]
pub fn special_mask(x: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\'))) | below_space
}

/// The index of the first `"`, `\` or control character (below 0x20) in `b` at or after
/// `from`, if any.
#[must_use]
pub fn string_special(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = special_mask(u64::from_le_bytes(word));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_escapes_agree_with_serde_json_and_u_is_left_to_the_caller() {
        for c in 0..=255u8 {
            let doc = [b'"', b'\\', c, b'"'];
            let serde = serde_json::from_slice::<String>(&doc).ok().map(String::into_bytes);
            let ours = simple_escape(c).map(|b| vec![b]);
            if c == b'u' {
                assert_eq!(ours, None);
            } else {
                assert_eq!(ours, serde, "escape {c}");
            }
        }
    }

    fn bytewise(b: &[u8], from: usize) -> Option<usize> {
        b.get(from..)?.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|k| k + from)
    }

    #[test]
    fn the_end_of_a_plain_run_is_found_in_every_position_of_a_word() {
        let b = b"abcdefgh\x7fijklmno\"pqrstuvwxyz\\0123456789\x1f\xff\xe9 \x00";
        for at in 0..=b.len() + 1 {
            assert_eq!(string_special(b, at), bytewise(b, at), "{at}");
        }
    }

    proptest! {
        #[test]
        fn scanning_by_words_finds_what_scanning_by_bytes_finds(
            b in prop::collection::vec(prop::sample::select(b"a\"\\\x00\x1f\x20\x21\x5b\x5d\x7f\x80\xa2\xdc\xff".to_vec()), 0..40),
            from in 0usize..42,
        ) {
            prop_assert_eq!(string_special(&b, from), bytewise(&b, from));
        }
    }
}
