//! Format detection by content — magic bytes and the first JSON token, never the file
//! extension — and dispatch to the matching reader. A UTF-8 BOM is skipped; gzip and zstd
//! compressed inputs are decompressed as a stream and the inner format detected from its
//! first bytes. Known formats apiscope cannot read (Charles binary/XML/zip sessions,
//! Wireshark JSON exports, Fiddler archives, …) are named with the way to export a readable
//! file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::capture::Input;

/// Input formats apiscope recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap file.
    Pcap,
    /// pcapng file.
    PcapNg,
    /// HAR 1.2 (JSON).
    Har,
    /// Charles JSON session (`.chlsj`).
    CharlesJson,
    /// mitmproxy flow dump (tnetstrings).
    Mitmproxy,
}

impl Format {
    /// Short human name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcap => "pcap",
            Self::PcapNg => "pcapng",
            Self::Har => "HAR",
            Self::CharlesJson => "Charles JSON session",
            Self::Mitmproxy => "mitmproxy flows",
        }
    }
}

/// A whole document in memory (mapped or owned) handed to a reader, with a way to tell a
/// memory mapping that the bytes before some point are no longer needed, so reading a big
/// file keeps the resident set small.
pub struct Doc<'a> {
    /// The document's bytes (after any BOM).
    pub data: &'a [u8],
    map: Option<&'a Mmap>,
}

impl<'a> Doc<'a> {
    /// A document held in memory.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, map: None }
    }

    fn mapped(data: &'a [u8], map: &'a Mmap) -> Self {
        Self { data, map: Some(map) }
    }

    /// Tell the kernel the mapped pages before `offset` (into `data`) will not be read
    /// again. A no-op for owned documents. Readers call it only for bytes they have copied
    /// everything they need out of; a later access would still see the right bytes.
    pub fn release_before(&self, offset: usize) {
        let Some(map) = self.map else { return };
        let base = (self.data.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize);
        let end = base.saturating_add(offset).min(map.len());
        let page = 1usize << 16;
        let len = end / page * page;
        if len > 0 {
            release_pages(map, len);
        }
    }
}

/// Drop the resident pages of the first `len` bytes of a read-only file mapping.
#[cfg(unix)]
#[allow(unsafe_code)]
fn release_pages(map: &Mmap, len: usize) {
    // SAFETY: the mapping is a private, read-only view of a file that apiscope never
    // writes through. MADV_DONTNEED on such a mapping only drops the resident copies of
    // the pages; any later access faults them in again from the file, unchanged, so
    // slices borrowed from the mapping keep reading the same bytes.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
}

#[cfg(not(unix))]
fn release_pages(_map: &Mmap, _len: usize) {}

/// Map a file read-only.
#[allow(unsafe_code)]
pub(crate) fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: the file is opened read-only and only read through the mapping. If another
    // process truncates it while apiscope reads, the OS may signal a bus error, the
    // accepted limit of every mmap-based reader (ripgrep, pcap tools); a changed file only
    // yields changed bytes, which the readers treat as untrusted input anyway.
    unsafe { Mmap::map(file) }
}

/// What the first bytes say the input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A format apiscope reads.
    Known(Format),
    /// gzip-compressed data.
    Gzip,
    /// zstd-compressed data.
    Zstd,
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

pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

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
                return Sniffed::Known(Format::Pcap);
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => return Sniffed::Known(Format::PcapNg),
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
    let first = b.iter().position(|c| !c.is_ascii_whitespace());
    let Some(first) = first else { return Sniffed::Empty };
    let t = &b[first..];
    match t[0] {
        b'{' => sniff_object(t),
        b'[' => sniff_array(t),
        b'0'..=b'9' => sniff_tnetstring(t),
        b'<' => sniff_markup(t),
        _ if t.starts_with(b"version https://git-lfs") => {
            unsupported("a Git LFS pointer, not the file itself", "Fetch the real file first: git lfs pull")
        }
        _ => Sniffed::Unrecognised(format!("it starts with {}", show_bytes(t))),
    }
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
        return unsupported("a Charles 5 session archive (.chlz)", CHARLES_HELP);
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
        return Sniffed::Known(Format::Har);
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
        None | Some([b']', ..]) => return Sniffed::Known(Format::CharlesJson),
        Some([b'{', ..]) => {}
        Some(_) => return Sniffed::Unrecognised("a JSON array of non-objects".into()),
    }
    let keys = first_keys(&t[1..], 64);
    let has = |k: &str| keys.iter().any(|x| x == k);
    let charles = ["protocolVersion", "times", "durations", "remoteAddress", "clientAddress", "actualPort", "tunnel"];
    if charles.iter().any(|k| has(k)) || (has("status") && has("method") && has("host")) {
        return Sniffed::Known(Format::CharlesJson);
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
        return Sniffed::Known(Format::Mitmproxy);
    }
    Sniffed::Unrecognised(format!("it starts with {}", show_bytes(t)))
}

/// A reader that gives back the bytes it was asked to peek at before the rest.
struct Peeked<R> {
    head: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Peeked<R> {
    /// Read up to `n` bytes from `inner` (fewer only at end of input).
    fn new(mut inner: R, n: usize) -> io::Result<Self> {
        let mut head = Vec::with_capacity(n.min(SNIFF_LEN));
        (&mut inner).take(n as u64).read_to_end(&mut head)?;
        Ok(Self { head, pos: 0, inner })
    }
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

fn io_err(path: &Path, source: io::Error) -> IngestError {
    IngestError::Io { path: path.to_path_buf(), source }
}

/// Detect the format of `path` (`-` = standard input) and read it into `sink`.
///
/// # Errors
/// See [`IngestError`].
pub fn read_any(path: &Path, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<ReadSummary, IngestError> {
    if path.as_os_str() == "-" {
        let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
        return read_stream(stdin, &display_path(path), opts, sink, 0);
    }
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if meta.is_dir() {
        return Err(IngestError::Directory(path.to_path_buf()));
    }
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    if !meta.is_file() {
        // A FIFO or device: read it as a stream.
        return read_stream(Box::new(file), path, opts, sink, 0);
    }
    if meta.len() == 0 {
        return Err(IngestError::Empty(path.to_path_buf()));
    }
    let map = map_file(&file).map_err(|e| io_err(path, e))?;
    let head = &map[..map.len().min(SNIFF_LEN)];
    match sniff(head) {
        Sniffed::Known(f @ (Format::Pcap | Format::PcapNg)) => {
            let mut s = super::capture::read_capture(Input::Mapped(map), path, opts, sink)?;
            s.bytes = s.bytes.max(meta.len());
            s.format = s.format.or(Some(f));
            Ok(s)
        }
        Sniffed::Known(f) => {
            let data = map.strip_prefix(BOM).unwrap_or(&map);
            let doc = Doc::mapped(data, &map);
            read_document(f, &doc, path, opts, sink)
        }
        Sniffed::Gzip | Sniffed::Zstd => {
            let reader = std::io::BufReader::with_capacity(1 << 20, file);
            let dec = decompressor(&sniff(head), Box::new(reader), path)?;
            drop(map);
            read_stream(dec, path, opts, sink, 1)
        }
        other => Err(refuse(other, path)),
    }
}

fn refuse(s: Sniffed, path: &Path) -> IngestError {
    let path = path.to_path_buf();
    match s {
        Sniffed::Empty => IngestError::Empty(path),
        Sniffed::Unsupported { what, help } => IngestError::Unsupported { path, what, help },
        Sniffed::Unrecognised(why) => IngestError::Unrecognised { path, why },
        Sniffed::Gzip | Sniffed::Zstd => IngestError::Unsupported {
            path,
            what: "compressed data inside compressed data".into(),
            help: "Decompress it once yourself, then pass the result".into(),
        },
        Sniffed::Known(f) => IngestError::Unrecognised { path, why: format!("unexpected {}", f.name()) },
    }
}

fn decompressor(
    kind: &Sniffed,
    reader: Box<dyn Read + Send>,
    path: &Path,
) -> Result<Box<dyn Read + Send>, IngestError> {
    match kind {
        Sniffed::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(reader))),
        _ => match ruzstd::decoding::StreamingDecoder::new(reader) {
            Ok(d) => Ok(Box::new(d)),
            Err(e) => Err(IngestError::Damaged {
                path: path.to_path_buf(),
                place: "byte 0".into(),
                why: format!("not a readable zstd stream: {e}"),
            }),
        },
    }
}

/// Read a stream (stdin, a FIFO, decompressed data): sniff its first bytes, then stream it
/// to the capture reader or the mitmproxy reader, or read a JSON document fully.
fn read_stream(
    reader: Box<dyn Read + Send>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
    depth: u8,
) -> Result<ReadSummary, IngestError> {
    let mut peeked = Peeked::new(reader, SNIFF_LEN).map_err(|e| read_err(path, e, depth))?;
    if peeked.head.is_empty() {
        return Err(IngestError::Empty(path.to_path_buf()));
    }
    let kind = sniff(&peeked.head);
    match kind {
        Sniffed::Known(f @ (Format::Pcap | Format::PcapNg)) => {
            let mut s = super::capture::read_capture(Input::Reader(Box::new(peeked)), path, opts, sink)?;
            s.format = s.format.or(Some(f));
            Ok(s)
        }
        Sniffed::Known(Format::Mitmproxy) => {
            if peeked.head.starts_with(BOM) {
                peeked.pos = BOM.len();
            }
            super::mitm::read_mitm_stream(&mut peeked, path, opts, sink)
        }
        Sniffed::Known(f) => {
            let mut all = Vec::new();
            peeked.read_to_end(&mut all).map_err(|e| read_err(path, e, depth))?;
            let data = all.strip_prefix(BOM).unwrap_or(&all);
            read_document(f, &Doc::new(data), path, opts, sink)
        }
        Sniffed::Gzip | Sniffed::Zstd if depth == 0 => {
            let dec = decompressor(&kind, Box::new(peeked), path)?;
            read_stream(dec, path, opts, sink, depth + 1)
        }
        other => Err(refuse(other, path)),
    }
}

fn read_err(path: &Path, e: io::Error, depth: u8) -> IngestError {
    if depth > 0 {
        IngestError::Damaged {
            path: path.to_path_buf(),
            place: "compressed stream".into(),
            why: format!("cannot decompress: {e}"),
        }
    } else {
        io_err(path, e)
    }
}

/// Read a whole in-memory document of a known text format.
///
/// # Errors
/// See [`IngestError`].
pub fn read_document(
    format: Format,
    doc: &Doc<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    match format {
        Format::Har => super::har::read_har(doc, path, opts, sink),
        Format::CharlesJson => super::charles::read_charles(doc, path, opts, sink),
        Format::Mitmproxy => super::mitm::read_mitm(doc, path, opts, sink),
        Format::Pcap | Format::PcapNg => {
            let mut s = super::capture::read_capture(Input::Bytes(doc.data.to_vec()), path, opts, sink)?;
            s.format = s.format.or(Some(format));
            Ok(s)
        }
    }
}

/// Read bytes already in memory (tests, benches, embedders): detect and dispatch.
///
/// # Errors
/// See [`IngestError`].
pub fn read_bytes(
    data: &[u8],
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    if data.is_empty() {
        return Err(IngestError::Empty(path.to_path_buf()));
    }
    match sniff(&data[..data.len().min(SNIFF_LEN)]) {
        Sniffed::Known(f) => {
            let d = data.strip_prefix(BOM).unwrap_or(data);
            read_document(f, &Doc::new(d), path, opts, sink)
        }
        k @ (Sniffed::Gzip | Sniffed::Zstd) => {
            let owned: Box<dyn Read + Send> = Box::new(io::Cursor::new(data.to_vec()));
            let dec = decompressor(&k, owned, path)?;
            read_stream(dec, path, opts, sink, 1)
        }
        other => Err(refuse(other, path)),
    }
}

/// The path shown for standard input.
#[must_use]
pub fn display_path(p: &Path) -> PathBuf {
    if p.as_os_str() == "-" { PathBuf::from("<stdin>") } else { p.to_path_buf() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_recognised_in_both_byte_orders() {
        for m in
            [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d]]
        {
            assert_eq!(sniff(&m), Sniffed::Known(Format::Pcap));
        }
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]), Sniffed::Known(Format::PcapNg));
        assert!(matches!(sniff(&[0x34, 0xcd, 0xb2, 0xa1]), Sniffed::Unsupported { .. }));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Sniffed::Zstd);
    }

    #[test]
    fn json_is_told_apart_by_its_first_keys() {
        assert_eq!(sniff(b"\xEF\xBB\xBF  {\"log\": {}}"), Sniffed::Known(Format::Har));
        assert_eq!(
            sniff(br#"[{"status":"COMPLETE","method":"GET","protocolVersion":"HTTP/1.1"}]"#),
            Sniffed::Known(Format::CharlesJson)
        );
        assert_eq!(sniff(b"[ ]"), Sniffed::Known(Format::CharlesJson));
        assert_eq!(sniff(b"7867:4:type;4:http;"), Sniffed::Known(Format::Mitmproxy));
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
        assert!(matches!(sniff(&zip), Sniffed::Unsupported { what, .. } if what.contains(".chlz")));
    }

    #[test]
    fn garbage_is_shown_escaped() {
        match sniff(b"\x00\x01\x1b[31mhello") {
            Sniffed::Unrecognised(why) => assert_eq!(why, "it starts with \"\\x00\\x01\\x1b[31mhello\""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_wrapped_har_is_read() {
        use std::io::Write as _;
        let har = br#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a/"},"response":{"status":204}}]}}"#;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(har).unwrap();
        let gz = enc.finish().unwrap();
        let mut c = crate::ingest::Collect::default();
        let s = read_bytes(&gz, Path::new("x.har.gz"), &ReadOptions::default(), &mut c).unwrap();
        assert_eq!(s.format, Some(Format::Har));
        assert_eq!(c.exchanges[0].status(), Some(204));
    }
}
