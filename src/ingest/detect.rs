//! Format detection by content — magic bytes and the first JSON token, never the file
//! extension. Only classifies bytes: opening, mapping and decompressing inputs is
//! [`super::open`]'s job. A UTF-8 BOM is skipped; gzip and zstd compressed data are named as
//! such (the inner format is detected from the decompressed bytes). Known formats apiscope
//! cannot read (Charles binary/XML/zip sessions, Wireshark JSON exports, Fiddler archives, …)
//! are named with the way to export a readable file.

/// Input formats apiscope recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Classic libpcap file.
    Pcap,
    /// pcapng file.
    PcapNg,
    /// HAR 1.2 (JSON).
    Har,
    /// Charles JSON session (`.chlsj`).
    CharlesJson,
    /// Charles 5 session archive (`.chlz`: a ZIP of per-transaction metadata and bodies).
    CharlesZip,
    /// mitmproxy flow dump (tnetstrings).
    Mitmproxy,
}

impl InputFormat {
    /// Short human name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcap => "pcap",
            Self::PcapNg => "pcapng",
            Self::Har => "HAR",
            Self::CharlesJson => "Charles JSON session",
            Self::CharlesZip => "Charles 5 session (.chlz)",
            Self::Mitmproxy => "mitmproxy flows",
        }
    }
}

/// What the first bytes say the input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A format apiscope reads.
    Known(InputFormat),
    /// gzip-compressed data.
    Gzip,
    /// zstd-compressed data.
    Zstd,
    /// zlib-compressed data (mitmproxy's `.zhar` HAR export).
    Zlib,
    /// Nothing but a BOM or whitespace.
    Empty,
    /// A known format apiscope cannot read: what it is, how to get a readable file.
    Unsupported {
        /// What the file is.
        what: String,
        /// How to get a readable file.
        help: String,
    },
    /// Not a known format: what was seen.
    Unrecognised(String),
}

/// The UTF-8 byte order mark, skipped before detection and reading.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How many leading bytes detection looks at.
pub const SNIFF_LEN: usize = 64 * 1024;

const CHARLES_HELP: &str = "Export a readable file from Charles: File → Export Session… → \"JSON Session File (.chlsj)\" or \"HTTP Archive (.har)\", or on the command line: charles convert in.chls out.har";

fn unsupported(what: &str, help: &str) -> Sniffed {
    Sniffed::Unsupported { what: what.into(), help: help.into() }
}

/// Detect the format from the first bytes of an input (up to [`SNIFF_LEN`]).
#[must_use]
pub fn sniff(head: &[u8]) -> Sniffed {
    let b = head.strip_prefix(BOM).unwrap_or(head);
    if b.len() >= 4 {
        match [b[0], b[1], b[2], b[3]] {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d] => {
                return Sniffed::Known(InputFormat::Pcap);
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => return Sniffed::Known(InputFormat::PcapNg),
            [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34] => {
                return unsupported(
                    "a \"modified\" (Kuznetzov) pcap file with extended record headers",
                    "Convert it to standard pcapng first: editcap -F pcapng in.pcap out.pcapng",
                );
            }
            [0x28, 0xb5, 0x2f, 0xfd] => return Sniffed::Zstd,
            [0xac, 0xed, 0x00, 0x05] => {
                let what = if memchr::memmem::find(b, b"com.xk72.charles").is_some() {
                    "a native Charles session (.chls, a Java serialization stream)"
                } else {
                    "a Java serialization stream (probably a native Charles .chls session)"
                };
                return unsupported(what, CHARLES_HELP);
            }
            [b'P', b'K', 0x03, 0x04] => return sniff_zip(b),
            [b'B', b'Z', b'h', _] => {
                return unsupported("a bzip2-compressed file", "Decompress it first: bunzip2 -k FILE");
            }
            [0xfd, b'7', b'z', b'X'] => {
                return unsupported("an xz-compressed file", "Decompress it first: xz -dk FILE");
            }
            _ => {}
        }
    }
    if b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b {
        return Sniffed::Gzip;
    }
    // A zlib header: deflate with a 32 KiB window (0x78) and a valid check value.
    if b.len() >= 2 && b[0] == 0x78 && (u16::from(b[0]) * 256 + u16::from(b[1])) % 31 == 0 {
        return Sniffed::Zlib;
    }
    let first = b.iter().position(|c| !c.is_ascii_whitespace());
    let Some(first) = first else { return Sniffed::Empty };
    let t = &b[first..];
    match t[0] {
        b'{' => sniff_object(t),
        b'[' => sniff_array(t),
        b'0'..=b'9' => sniff_tnetstring(t),
        b'<' => sniff_markup(t),
        _ if jsonp_body(t).is_some() => sniff_object(&t[jsonp_body(t).map_or(0, |r| r.start)..]),
        _ if t.starts_with(b"version https://git-lfs") => {
            unsupported("a Git LFS pointer, not the file itself", "Fetch the real file first: git lfs pull")
        }
        _ => Sniffed::Unrecognised(format!("it starts with {}", show_bytes(t))),
    }
}

/// The JSON object inside a JSONP wrapper (`onInputData({...});`, as Firebug and HAR Viewer
/// write HAR files): the byte range from `{` to the matching last `}`. `None` when `t` does
/// not start with a JavaScript identifier (dots allowed) and `(`.
#[must_use]
pub fn jsonp_body(t: &[u8]) -> Option<std::ops::Range<usize>> {
    let ident = t.iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.')).count();
    if ident == 0 || t[0].is_ascii_digit() {
        return None;
    }
    let rest = &t[ident..];
    let paren = ident + rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
    if t.get(paren) != Some(&b'(') {
        return None;
    }
    let open = paren + 1 + t[paren + 1..].iter().take_while(|c| c.is_ascii_whitespace()).count();
    if t.get(open) != Some(&b'{') {
        return None;
    }
    // The end: the last `}` (the wrapper's `)` and `;` follow it). A document cut short
    // keeps everything after the `{`.
    let close = memchr::memrchr(b'}', t).filter(|&c| c > open).map_or(t.len(), |c| c + 1);
    Some(open..close)
}

/// The first bytes shown safely: printable ASCII as is, the rest as `\xNN`.
fn show_bytes(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(16) {
        if (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s.push('"');
    if b.len() > 16 {
        s.push('…');
    }
    s
}

fn sniff_zip(b: &[u8]) -> Sniffed {
    // Local file header: name length at 26..28, name at 30.
    let name = b
        .get(26..28)
        .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
        .and_then(|n| b.get(30..30 + n))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let has = |needle: &[u8]| memchr::memmem::find(b, needle).is_some();
    if name.ends_with("-meta.json") || has(b"-meta.json") {
        return Sniffed::Known(InputFormat::CharlesZip);
    }
    if name.starts_with("raw/") || name == "_index.htm" || has(b"raw/0") {
        return unsupported(
            "a Fiddler session archive (.saz)",
            "Export a HAR from Fiddler: File → Export Sessions → All Sessions… → HTTPArchive v1.2",
        );
    }
    if name.ends_with(".har") || has(b".har") {
        return unsupported(
            "a ZIP archive holding a HAR (e.g. a Playwright recording)",
            "Unzip it and pass the .har file (its detached bodies are noted, not read)",
        );
    }
    Sniffed::Unrecognised(format!("a ZIP archive (first entry {})", show_bytes(name.as_bytes())))
}

fn sniff_markup(t: &[u8]) -> Sniffed {
    let head = &t[..t.len().min(4096)];
    let lower = head.to_ascii_lowercase();
    if memchr::memmem::find(&lower, b"charles-session").is_some() {
        return unsupported("a Charles XML session (.chlsx)", CHARLES_HELP);
    }
    if memchr::memmem::find(&lower, b"<html").is_some() || memchr::memmem::find(&lower, b"<!doctype html").is_some() {
        return Sniffed::Unrecognised("an HTML page".into());
    }
    if memchr::memmem::find(&lower, b"<pdml").is_some() {
        return unsupported(
            "a Wireshark PDML (XML) packet export",
            "Pass the capture itself instead: in Wireshark, File → Save As… → pcapng",
        );
    }
    Sniffed::Unrecognised("an XML document".into())
}

/// A tiny JSON tokenizer over the file's first bytes: the keys of the first object at depth
/// one (`skip` leading array brackets first), at most `max` of them.
fn first_keys(t: &[u8], max: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let mut expect_key = false;
    while i < t.len() && keys.len() < max {
        match t[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < t.len() && t[i] != b'"' {
                    if t[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= t.len() {
                    break;
                }
                if depth == 1 && expect_key {
                    keys.push(String::from_utf8_lossy(&t[start..i]).into_owned());
                    expect_key = false;
                }
            }
            b'{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'[' if depth > 0 => depth += 1,
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    keys
}

fn sniff_object(t: &[u8]) -> Sniffed {
    let keys = first_keys(t, 16);
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("log") {
        return Sniffed::Known(InputFormat::Har);
    }
    if has("openapi") || has("swagger") {
        return unsupported(
            "an OpenAPI/Swagger document, not traffic",
            "Pass it as the spec (--spec FILE) next to a capture or session file",
        );
    }
    if has("info") && memchr::memmem::find(t, b"schema.getpostman.com").is_some() {
        return unsupported(
            "a Postman collection (requests, not recorded traffic)",
            "Record the traffic instead (e.g. a HAR from the browser, or mitmproxy/Charles)",
        );
    }
    if keys.is_empty() {
        return Sniffed::Unrecognised("a JSON object without keys (or cut short)".into());
    }
    Sniffed::Unrecognised(format!(
        "a JSON object with keys {}, not a HAR ({{\"log\": …}})",
        show_bytes(keys.iter().take(4).cloned().collect::<Vec<_>>().join(", ").as_bytes())
    ))
}

fn sniff_array(t: &[u8]) -> Sniffed {
    let rest = t[1..].iter().position(|c| !c.is_ascii_whitespace()).map(|p| &t[1 + p..]);
    match rest {
        // `[]` (or only whitespace after the bracket): an empty Charles session.
        None | Some([b']', ..]) => return Sniffed::Known(InputFormat::CharlesJson),
        Some([b'{', ..]) => {}
        Some(_) => return Sniffed::Unrecognised("a JSON array of non-objects".into()),
    }
    let keys = first_keys(&t[1..], 64);
    let has = |k: &str| keys.iter().any(|x| x == k);
    let charles = ["protocolVersion", "times", "durations", "remoteAddress", "clientAddress", "actualPort", "tunnel"];
    if charles.iter().any(|k| has(k)) || (has("status") && has("method") && has("host")) {
        return Sniffed::Known(InputFormat::CharlesJson);
    }
    if has("_index") || has("_source") || has("_type") {
        return unsupported(
            "a Wireshark/tshark JSON packet export",
            "Pass the capture itself instead: in Wireshark, File → Save As… → pcapng (or the original .pcap)",
        );
    }
    Sniffed::Unrecognised(format!(
        "a JSON array of objects with keys {}, not a Charles session",
        show_bytes(keys.iter().take(4).cloned().collect::<Vec<_>>().join(", ").as_bytes())
    ))
}

fn sniff_tnetstring(t: &[u8]) -> Sniffed {
    let n = t.iter().take_while(|c| c.is_ascii_digit()).count();
    if n > 0 && n <= 12 && t.get(n) == Some(&b':') && t.get(n + 1).is_some_and(u8::is_ascii_digit) {
        return Sniffed::Known(InputFormat::Mitmproxy);
    }
    Sniffed::Unrecognised(format!("it starts with {}", show_bytes(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_recognised_in_both_byte_orders() {
        for m in
            [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d]]
        {
            assert_eq!(sniff(&m), Sniffed::Known(InputFormat::Pcap));
        }
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]), Sniffed::Known(InputFormat::PcapNg));
        assert!(matches!(sniff(&[0x34, 0xcd, 0xb2, 0xa1]), Sniffed::Unsupported { .. }));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Sniffed::Zstd);
    }

    #[test]
    fn json_is_told_apart_by_its_first_keys() {
        assert_eq!(sniff(b"\xEF\xBB\xBF  {\"log\": {}}"), Sniffed::Known(InputFormat::Har));
        assert_eq!(
            sniff(br#"[{"status":"COMPLETE","method":"GET","protocolVersion":"HTTP/1.1"}]"#),
            Sniffed::Known(InputFormat::CharlesJson)
        );
        assert_eq!(sniff(b"[ ]"), Sniffed::Known(InputFormat::CharlesJson));
        assert_eq!(sniff(b"7867:4:type;4:http;"), Sniffed::Known(InputFormat::Mitmproxy));
        assert!(matches!(sniff(br#"[{"_index":"packets-1","_source":{}}]"#), Sniffed::Unsupported { .. }));
        assert!(matches!(sniff(br#"{"openapi":"3.0.0"}"#), Sniffed::Unsupported { .. }));
        assert!(matches!(sniff(br#"{"a":{"log":1}}"#), Sniffed::Unrecognised(_)));
        assert_eq!(sniff(b"\xEF\xBB\xBF \n"), Sniffed::Empty);
    }

    #[test]
    fn charles_binary_and_archives_get_export_advice() {
        let mut chls = vec![0xac, 0xed, 0x00, 0x05, 0x73, 0x72];
        chls.extend_from_slice(b"\x00\x1fcom.xk72.charles.model.Session");
        match sniff(&chls) {
            Sniffed::Unsupported { what, help } => {
                assert!(what.contains(".chls"));
                assert!(help.contains("charles convert"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(sniff(b"<?xml version=\"1.0\"?>\n<charles-session>"), Sniffed::Unsupported { .. }));
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&[0u8; 22]);
        zip.extend_from_slice(&11u16.to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(b"1-meta.json");
        assert_eq!(sniff(&zip), Sniffed::Known(InputFormat::CharlesZip));
    }

    #[test]
    fn garbage_is_shown_escaped() {
        match sniff(b"\x00\x01\x1b[31mhello") {
            Sniffed::Unrecognised(why) => assert_eq!(why, "it starts with \"\\x00\\x01\\x1b[31mhello\""),
            other => panic!("{other:?}"),
        }
    }
}
