//! A small, zero-copy tnetstring parser (the serialization of mitmproxy flow dumps):
//! `LEN:PAYLOAD` plus a type byte — `,` bytes, `;` text, `#` int, `^` float, `!` bool,
//! `~` null, `}` dict, `]` list. It never panics: lengths are checked against the input,
//! nesting is limited to [`MAX_DEPTH`], the length prefix to [`MAX_LEN_DIGITS`] digits.

use std::fmt;

/// Deepest nesting accepted (mitmproxy flows nest about 5 deep).
pub const MAX_DEPTH: usize = 64;
/// Most digits accepted in a length prefix (lengths up to 10^12 - 1 bytes).
pub const MAX_LEN_DIGITS: usize = 12;

/// A parsed value borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `,` raw bytes.
    Bytes(&'a [u8]),
    /// `;` text (UTF-8 expected; kept as bytes).
    Str(&'a [u8]),
    /// `#` integer.
    Int(i64),
    /// `^` float.
    Float(f64),
    /// `!` bool.
    Bool(bool),
    /// `~` null.
    Null,
    /// `]` list.
    List(Vec<Value<'a>>),
    /// `}` dict, in file order.
    Dict(Vec<(Value<'a>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The value for `key` in a dict (keys compared as bytes/text).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Self::Dict(items) => items.iter().find(|(k, _)| k.bytes() == Some(key.as_bytes())).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a `,` or `;` value.
    #[must_use]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Self::Bytes(b) | Self::Str(b) => Some(b),
            _ => None,
        }
    }

    /// Bytes or text as a string (invalid UTF-8 replaced).
    #[must_use]
    pub fn text(&self) -> Option<String> {
        self.bytes().map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// A number as `f64` (ints and floats).
    #[must_use]
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// An integer.
    #[must_use]
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The items of a list.
    #[must_use]
    pub fn list(&self) -> Option<&[Value<'a>]> {
        match self {
            Self::List(l) => Some(l),
            _ => None,
        }
    }

    /// True for `~`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Why parsing failed, and where (byte offset in the parsed slice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub why: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.why)
    }
}

impl std::error::Error for Error {}

fn err(offset: usize, why: impl Into<String>) -> Error {
    Error { offset, why: why.into() }
}

/// Parse the length prefix at `at`: returns (payload length, payload start).
///
/// # Errors
/// When the prefix is not `digits:` or announces more than `available` bytes.
pub fn prefix(data: &[u8], at: usize) -> Result<(usize, usize), Error> {
    let mut i = at;
    let mut len: usize = 0;
    while let Some(&c) = data.get(i) {
        if c == b':' {
            break;
        }
        if !c.is_ascii_digit() {
            return Err(err(i, format!("expected a length digit or ':', found {}", show(c))));
        }
        if i - at >= MAX_LEN_DIGITS {
            return Err(err(at, "length prefix too long"));
        }
        len = len * 10 + usize::from(c - b'0');
        i += 1;
    }
    if i >= data.len() {
        return Err(err(data.len(), "truncated in a length prefix"));
    }
    if i == at {
        return Err(err(at, "empty length prefix"));
    }
    Ok((len, i + 1))
}

fn show(c: u8) -> String {
    if c.is_ascii_graphic() { format!("'{}'", c as char) } else { format!("0x{c:02x}") }
}

/// Parse one value starting at `at`; returns it and the offset just after it.
///
/// # Errors
/// On malformed or truncated input.
pub fn parse_at(data: &[u8], at: usize) -> Result<(Value<'_>, usize), Error> {
    parse_inner(data, at, 0)
}

fn parse_inner(data: &[u8], at: usize, depth: usize) -> Result<(Value<'_>, usize), Error> {
    if depth > MAX_DEPTH {
        return Err(err(at, "nested too deeply"));
    }
    let (len, start) = prefix(data, at)?;
    let end = start.checked_add(len).filter(|&e| e < data.len()).ok_or_else(|| {
        err(data.len(), format!("truncated: a {len}-byte item starts at byte {at} but the data ends first"))
    })?;
    let payload = &data[start..end];
    let kind = data[end];
    let next = end + 1;
    let text = || std::str::from_utf8(payload).map_err(|_| err(start, "number is not text"));
    let v = match kind {
        b',' => Value::Bytes(payload),
        b';' => Value::Str(payload),
        b'#' => Value::Int(text()?.trim().parse().map_err(|_| err(start, "bad integer"))?),
        b'^' => Value::Float(text()?.trim().parse().map_err(|_| err(start, "bad float"))?),
        b'!' => match payload {
            b"true" => Value::Bool(true),
            b"false" => Value::Bool(false),
            _ => return Err(err(start, "bad bool")),
        },
        b'~' => {
            if !payload.is_empty() {
                return Err(err(start, "null with a payload"));
            }
            Value::Null
        }
        b']' => {
            let mut items = Vec::new();
            let mut i = start;
            while i < end {
                let (v, n) = parse_inner(&data[..end], i, depth + 1)?;
                items.push(v);
                i = n;
            }
            Value::List(items)
        }
        b'}' => {
            let mut items = Vec::new();
            let mut i = start;
            while i < end {
                let (k, n) = parse_inner(&data[..end], i, depth + 1)?;
                if n >= end {
                    return Err(err(n, "dict key without a value"));
                }
                let (v, n2) = parse_inner(&data[..end], n, depth + 1)?;
                items.push((k, v));
                i = n2;
            }
            Value::Dict(items)
        }
        other => return Err(err(end, format!("unknown type byte {}", show(other)))),
    };
    Ok((v, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses() {
        let d = b"58:4:type;4:http;1:n;5:12345#1:f;3:1.5^1:l;14:1:a,0:~4:true!]}";
        let (v, n) = parse_at(d, 0).unwrap();
        assert_eq!(n, d.len());
        assert_eq!(v.get("type").and_then(Value::text).as_deref(), Some("http"));
        assert_eq!(v.get("n").and_then(Value::int), Some(12345));
        assert_eq!(v.get("f").and_then(Value::number), Some(1.5));
        assert_eq!(v.get("l").unwrap().list().unwrap(), &[Value::Bytes(b"a"), Value::Null, Value::Bool(true)]);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b":",
            b"5:abc,",
            b"3:abc",
            b"3:abc?",
            b"x:abc,",
            b"99999999999999999999:a,",
            b"3:1.x^",
            b"4:2:a,}",
            b"5:maybe!",
            b"1:x~",
            b"5:1:a,]",
        ] {
            assert!(parse_at(bad, 0).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn nesting_is_limited() {
        let mut s = b"0:]".to_vec();
        for _ in 0..(MAX_DEPTH + 2) {
            s = [format!("{}:", s.len()).into_bytes(), s, b"]".to_vec()].concat();
        }
        let e = parse_at(&s, 0).unwrap_err();
        assert!(e.why.contains("deeply"));
    }

    #[test]
    fn truncation_reports_the_end_offset() {
        let e = parse_at(b"10:abc", 0).unwrap_err();
        assert_eq!(e.offset, 6);
        assert!(e.to_string().contains("truncated"));
    }
}
