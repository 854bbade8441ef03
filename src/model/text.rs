//! Making untrusted captured text safe to show: control characters and escape sequences
//! (ESC, CSI, OSC, C1 controls, DEL, bidi overrides) become visible escapes such as `\x1b`,
//! so nothing from a capture is ever interpreted by the terminal. Every output path (TUI,
//! text tables, CSV) shows captured strings through [`visible`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that must never reach a terminal raw: controls, every bidi
/// formatting character (the Unicode bidi set: ALM U+061C, LRM/RLM U+200E–F, embeddings and
/// overrides U+202A–E, isolates U+2066–9), line and paragraph separators and the zero-width
/// no-break space.
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL, C1 (includes ESC, CSI 0x9b, OSC 0x9d)
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{feff}'
        )
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
        assert_eq!(visible(&format!("a{ESC}[31mred{ESC}]0;title\x07")), "a\\x1b[31mred\\x1b]0;title\\x07");
        assert_eq!(visible("\u{9b}2J"), "\\x9b2J");
        assert_eq!(visible("x\u{202e}y"), "x\\u{202e}y");
        for c in ['\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{2028}', '\u{feff}'] {
            assert!(!visible(&format!("a{c}b")).contains(c), "{c:?}");
        }
        assert_eq!(visible("plain"), "plain");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn multiline_keeps_newlines_but_escapes_esc() {
        assert_eq!(visible_multiline(&format!("a\n{ESC}[2Jb\tc")), "a\n\\x1b[2Jb\tc");
    }
}

/// Bytes in human units (`512 B`, `1.5 KB`, `3.2 MB`; powers of 1000).
#[must_use]
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// A duration in ns as milliseconds or seconds (`0.84 ms`, `12.3 ms`, `4.20 s`).
#[must_use]
pub fn human_duration(ns: i64) -> String {
    let ms = ns as f64 / 1e6;
    if ms.abs() >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms.abs() >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms.abs() >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A capture timestamp (ns since the epoch) as `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
#[must_use]
pub fn capture_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{ms:03}", sod / 3600, (sod % 3600) / 60, sod % 60)
}

/// A capture timestamp (ns since the epoch) as RFC 3339 UTC with microseconds.
#[must_use]
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let us = ns.rem_euclid(1_000_000_000) / 1_000;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{us:06}Z", sod / 3600, (sod % 3600) / 60, sod % 60)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn capture_time_is_utc_calendar_time() {
        // 2024-03-12T13:30:00.006Z
        assert_eq!(capture_time(1_710_250_200_006_371_000), "2024-03-12 13:30:00.006");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(capture_time(-1_000_000_000), "1969-12-31 23:59:59.000");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 KB");
        assert_eq!(human_duration(840_000), "0.84 ms");
        assert_eq!(human_duration(12_340_000), "12.3 ms");
        assert_eq!(human_duration(4_200_000_000), "4.20 s");
    }
}

/// The escape character that starts terminal control sequences. Named so that hostile test
/// inputs and the one place that writes our own colours say what they are.
pub const ESC: char = '\u{001b}';

/// `s` wrapped in an SGR colour sequence (`code` like `1;31`) for the program's own labels
/// on a colour terminal. `s` is made [`visible`] first, so even captured text passed here
/// cannot carry its own escape sequences.
#[must_use]
pub fn sgr(s: &str, code: &str) -> String {
    format!("{ESC}[{code}m{}{ESC}[0m", visible(s))
}
