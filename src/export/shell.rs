//! Shell quoting that is safe for any captured byte. Text made only of printable characters
//! goes in single quotes (`'` written as `'\''`); anything else becomes an ANSI-C `$'…'`
//! string with `\xHH` escapes, so the command is pure printable text and nothing in a
//! capture can end the quoting, run a command, or reach the terminal as a control sequence.
//! Bodies that hold NUL bytes (which no shell string can carry) are fed through
//! [`printf_pipe`], whose octal escapes are printable too.

use std::fmt::Write as _;

/// True for characters that may appear raw inside single quotes: printable, not a control
/// character, not a bidi override.
fn printable(c: char) -> bool {
    !crate::model::text::is_unsafe(c)
}

/// True when `s` can be written as a bare word (no quoting needed).
fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
        && !s.starts_with(['-', '='])
}

/// Quote `b` for a POSIX-like shell (bash, zsh, ksh, dash for the single-quoted form).
#[must_use]
pub fn quote(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if s.chars().all(printable) => single(s),
        _ => ansi_c(b),
    }
}

/// Quote `s`, leaving simple words (`GET`, `https://h/x`) bare.
#[must_use]
pub fn quote_word(s: &str) -> String {
    if is_bare(s) { s.to_string() } else { quote(s.as_bytes()) }
}

fn single(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// `$'…'`: printable ASCII as is (`'` and `\` escaped), every other byte as `\xHH`.
fn ansi_c(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 2 + 3);
    out.push_str("$'");
    for &c in b {
        match c {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push('\'');
    out
}

/// True when `b` needs [`printf_pipe`] (holds a NUL byte, which no shell argument can carry).
#[must_use]
pub fn needs_pipe(b: &[u8]) -> bool {
    b.contains(&0)
}

/// `printf '…'` writing exactly the bytes `b` (octal escapes for everything outside
/// printable ASCII, `%%` for `%`), to pipe into a command reading standard input.
#[must_use]
pub fn printf_pipe(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 2 + 10);
    out.push_str("printf '");
    for &c in b {
        match c {
            b'\'' => out.push_str("\\047"),
            b'\\' => out.push_str("\\\\"),
            b'%' => out.push_str("%%"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => {
                let _ = write!(out, "\\{c:03o}");
            }
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_single_quoted() {
        assert_eq!(quote(b"a b"), "'a b'");
        assert_eq!(quote(b"it's"), "'it'\\''s'");
        assert_eq!(quote(b""), "''");
        assert_eq!(quote("héllo $(x) `y`".as_bytes()), "'héllo $(x) `y`'");
    }

    #[test]
    fn control_bytes_become_ansi_c_escapes() {
        assert_eq!(quote(b"a\x1b[31m'\n"), "$'a\\x1b[31m\\'\\x0a'");
        assert_eq!(quote(b"\xff\xfe"), "$'\\xff\\xfe'");
        assert_eq!(quote("x\u{202e}y".as_bytes()), "$'x\\xe2\\x80\\xaey'");
        assert_eq!(quote(b"back\\slash\x07"), "$'back\\\\slash\\x07'");
    }

    #[test]
    fn bare_words_stay_bare() {
        assert_eq!(quote_word("GET"), "GET");
        assert_eq!(quote_word("https://h/x?a=1"), "'https://h/x?a=1'");
        assert_eq!(quote_word("-rf"), "'-rf'");
        assert_eq!(quote_word("a;b"), "'a;b'");
    }

    #[test]
    fn printf_pipe_escapes_everything_unprintable() {
        assert_eq!(printf_pipe(b"a\0b%'\\\n"), "printf 'a\\000b%%\\047\\\\\\012'");
        assert!(needs_pipe(b"x\0"));
        assert!(!needs_pipe(b"x\x01"));
    }
}
