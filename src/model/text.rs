//! Making untrusted captured text safe to show: control characters and escape sequences
//! (ESC, CSI, OSC, C1 controls, DEL, bidi overrides) become visible escapes such as `\x1b`,
//! so nothing from a capture is ever interpreted by the terminal. Every output path (TUI,
//! text tables, CSV) shows captured strings through [`visible`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that must never reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL, C1 (includes ESC, CSI 0x9b, OSC 0x9d)
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Returns `s` with every control character replaced by a visible escape (`\n`, `\t`,
/// `\r`, `\x1b`, `\u{202e}`). Borrowed when nothing needed escaping.
#[must_use]
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x100 => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`visible`] but keeps line breaks and tabs (for multi-line body views); every other
/// control character is escaped.
#[must_use]
pub fn visible_multiline(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for line in s.split_inclusive('\n') {
        let (body, nl) = line.strip_suffix('\n').map_or((line, false), |b| (b, true));
        for part in body.split('\t').enumerate() {
            if part.0 > 0 {
                out.push('\t');
            }
            out.push_str(&visible(part.1));
        }
        if nl {
            out.push('\n');
        }
    }
    Cow::Owned(out)
}

/// Bytes shown as text: UTF-8 when valid (lossy otherwise), then made [`visible`].
#[must_use]
pub fn visible_bytes(b: &[u8]) -> String {
    visible(&String::from_utf8_lossy(b)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(visible("a\x1b[31mred\x1b]0;title\x07"), "a\\x1b[31mred\\x1b]0;title\\x07");
        assert_eq!(visible("\u{9b}2J"), "\\x9b2J");
        assert_eq!(visible("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(visible("plain"), "plain");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn multiline_keeps_newlines_but_escapes_esc() {
        assert_eq!(visible_multiline("a\n\x1b[2Jb\tc"), "a\n\\x1b[2Jb\tc");
    }
}
