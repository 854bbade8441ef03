//! Unescaping JSON strings for readers that parse JSON by hand (the direct HAR reader): a
//! word-at-a-time copy of the plain runs between escapes, `\u` escapes with surrogate pairs,
//! and `None` wherever `serde_json` would refuse the string (so the caller falls back to it).

use crate::model::json_string::special_mask;

/// The content of the string starting at `start`, whose first escape is at `first`,
/// unescaped; and the index of its closing quote. Body texts are JSON escaped into a string,
/// with an escape every few bytes: each step looks at a whole word and copies the part before
/// the first `"`, `\` or control character in it, so an escape costs a few instructions
/// rather than a call.
pub(crate) fn unescape(b: &[u8], start: usize, first: usize) -> Option<(Vec<u8>, usize)> {
    // not zeroed: fresh zeroed pages for every body cost more than the copy
    let mut out = Vec::with_capacity((first - start).max((b.len() - start).min(1024)) + 16);
    out.extend_from_slice(b.get(start..first)?);
    let mut i = first;
    loop {
        if let Some(chunk) = b.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let m = special_mask(u64::from_le_bytes(word));
            // a fixed-size copy (no call), then the bytes from the special one on dropped
            out.extend_from_slice(&word);
            if m == 0 {
                i += 8;
                continue;
            }
            let k = (m.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - (8 - k));
            i += k;
        } else {
            let c = *b.get(i)?;
            if c != b'"' && c != b'\\' && c >= 0x20 {
                out.push(c);
                i += 1;
                continue;
            }
        }
        match b[i] {
            b'"' => {
                if out.capacity() > 2 * out.len() + 64 {
                    out.shrink_to_fit();
                }
                return Some((out, i));
            }
            b'\\' => {
                let e = *b.get(i + 1)?;
                if e == b'u' {
                    let (c, len) = unicode(b, i)?;
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    i += len;
                    continue;
                }
                out.push(crate::model::json_string::simple_escape(e)?);
                i += 2;
            }
            _ => return None,
        }
    }
}

/// The character of the `\u` escape at `at` (a surrogate pair takes two), and the length of
/// its text; `None` for a lone surrogate.
fn unicode(b: &[u8], at: usize) -> Option<(char, usize)> {
    let hi = hex4(b, at + 2)?;
    if !(0xD800..0xDC00).contains(&hi) {
        return char::from_u32(hi).map(|c| (c, 6));
    }
    if b.get(at + 6..at + 8)? != b"\\u" {
        return None;
    }
    let lo = hex4(b, at + 8)?;
    if !(0xDC00..0xE000).contains(&lo) {
        return None;
    }
    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).map(|c| (c, 12))
}

pub(crate) fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(at..at + 4)? {
        v = v * 16 + char::from(c).to_digit(16)?;
    }
    Some(v)
}
