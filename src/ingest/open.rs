//! Opening an input: a path, standard input, a FIFO or bytes in memory. Captures are
//! streamed through a bounded buffer; other regular files are mapped read-only with a guard
//! ([`super::mapped`]); streams are peeked at for detection ([`super::detect`]); gzip and
//! zstd data are decompressed as a stream; then the detected format's reader gets the input
//! — the capture adapter a stream, the mitmproxy reader a stream, the JSON session readers a
//! whole [`Document`]. A regular file that shrinks while it is read keeps what was read
//! before the change and gets an `input.changed` diagnostic.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::detect::{BOM, InputFormat, SNIFF_LEN, Sniffed, sniff};
use super::document::Document;
use super::mapped::MappedFile;
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::capture::Input;
use crate::model::{Diagnostic, Severity};

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

/// Read one input (a path, or `-` for standard input) into `sink`.
///
/// # Errors
/// Returns an [`IngestError`] when the input cannot be read at all; damage after a readable
/// part is reported as diagnostics through the sink instead.
pub fn read_path(path: &Path, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<ReadSummary, IngestError> {
    read_any(path, opts, sink)
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
    let head = read_head(&file).map_err(|e| io_err(path, e))?;
    let watch = file.try_clone().map_err(|e| io_err(path, e))?;
    let result = match sniff(&head) {
        Sniffed::Known(f @ (InputFormat::Pcap | InputFormat::PcapNg)) => {
            // Captures are streamed through a bounded buffer: nothing is mapped, and a file
            // cut short simply ends early.
            super::capture::read_capture(Input::File(file), path, opts, sink).map(|mut s| {
                s.bytes = s.bytes.max(meta.len());
                s.format = s.format.or(Some(f));
                s
            })
        }
        Sniffed::Known(f) => {
            let map = MappedFile::open(file).map_err(|e| io_err(path, e))?;
            let data = map.bytes().strip_prefix(BOM).unwrap_or(map.bytes());
            let doc = Document::mapped(data, &map);
            let r = read_document(f, &doc, path, opts, sink);
            if let Some(now) = map.shrunk() {
                report_changed(sink, map.len_at_open(), now);
            }
            return r;
        }
        Sniffed::Gzip | Sniffed::Zstd | Sniffed::Zlib => {
            let reader = std::io::BufReader::with_capacity(1 << 20, file);
            let dec = decompressor(&sniff(&head), Box::new(reader), path)?;
            read_stream(dec, path, opts, sink, 1)
        }
        other => return Err(refuse(other, path)),
    };
    if let Some(now) = watch.metadata().ok().map(|m| m.len()).filter(|&now| now < meta.len()) {
        report_changed(sink, meta.len(), now);
    }
    result
}

/// The first [`SNIFF_LEN`] bytes of a regular file (fewer when it is shorter), read at
/// offset 0 so the file position is left where it was.
fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut r = file;
    r.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    io::Seek::seek(&mut r, io::SeekFrom::Start(0))?;
    Ok(head)
}

/// Tell the sink that the file shrank while it was read (`was` bytes when opened, `now`
/// bytes after): what was read before the change stands, the rest is lost.
fn report_changed(sink: &mut dyn Sink, was: u64, now: u64) {
    sink.diagnostic(
        &Diagnostic::new(
            Severity::Error,
            "input.changed",
            format!(
                "file changed while reading: it was {was} bytes when opened and is {now} bytes now (cut short by \
                 another program?); everything read before the change is kept, the rest is lost"
            ),
        )
        .at(format!("byte {now}")),
    );
}

fn refuse(s: Sniffed, path: &Path) -> IngestError {
    let path = path.to_path_buf();
    match s {
        Sniffed::Empty => IngestError::Empty(path),
        Sniffed::Unsupported { what, help } => IngestError::Unsupported { path, what, help },
        Sniffed::Unrecognised(why) => IngestError::Unrecognised { path, why },
        Sniffed::Gzip | Sniffed::Zstd | Sniffed::Zlib => IngestError::Unsupported {
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
        Sniffed::Zlib => Ok(Box::new(flate2::read::ZlibDecoder::new(reader))),
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
        Sniffed::Known(f @ (InputFormat::Pcap | InputFormat::PcapNg)) => {
            let mut s = super::capture::read_capture(Input::Reader(Box::new(peeked)), path, opts, sink)?;
            s.format = s.format.or(Some(f));
            Ok(s)
        }
        Sniffed::Known(InputFormat::Mitmproxy) => {
            if peeked.head.starts_with(BOM) {
                peeked.pos = BOM.len();
            }
            super::mitm::read_mitm_stream(&mut peeked, path, opts, sink)
        }
        Sniffed::Known(f) => {
            let mut all = Vec::new();
            peeked.read_to_end(&mut all).map_err(|e| read_err(path, e, depth))?;
            let data = all.strip_prefix(BOM).unwrap_or(&all);
            read_document(f, &Document::new(data), path, opts, sink)
        }
        Sniffed::Gzip | Sniffed::Zstd | Sniffed::Zlib if depth == 0 => {
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

/// Read a capture arriving as a pcap or pcapng stream (a live capture), without waiting
/// for bytes to sniff first: each exchange reaches the sink as soon as its packets did.
///
/// # Errors
/// See [`IngestError`].
pub fn read_capture_stream(
    reader: Box<dyn Read + Send>,
    name: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let mut s = super::capture::read_capture(Input::Reader(reader), name, opts, sink)?;
    s.format = s.format.or(Some(InputFormat::PcapNg));
    Ok(s)
}

/// Read a whole in-memory document of a known text format.
///
/// # Errors
/// See [`IngestError`].
pub fn read_document(
    format: InputFormat,
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    match format {
        InputFormat::Har => match jsonp(doc.data) {
            Some(inner) => super::har::read_har(&Document::new(inner), path, opts, sink),
            None => super::har::read_har(doc, path, opts, sink),
        },
        InputFormat::CharlesZip => super::chlz::read_chlz(doc, path, opts, sink),
        InputFormat::CharlesJson => super::charles::read_charles(doc, path, opts, sink),
        InputFormat::Mitmproxy => super::mitm::read_mitm(doc, path, opts, sink),
        InputFormat::Pcap | InputFormat::PcapNg => {
            let mut s = super::capture::read_capture(Input::Bytes(doc.data.to_vec()), path, opts, sink)?;
            s.format = s.format.or(Some(format));
            Ok(s)
        }
    }
}

/// The object inside a JSONP-wrapped document (`onInputData({...})`), when it is wrapped.
fn jsonp(data: &[u8]) -> Option<&[u8]> {
    let start = data.iter().position(|c| !c.is_ascii_whitespace())?;
    if data[start] == b'{' {
        return None;
    }
    let r = super::detect::jsonp_body(&data[start..])?;
    data.get(start + r.start..start + r.end)
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
            read_document(f, &Document::new(d), path, opts, sink)
        }
        k @ (Sniffed::Gzip | Sniffed::Zstd | Sniffed::Zlib) => {
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
    fn gzip_wrapped_har_is_read() {
        use std::io::Write as _;
        let har = br#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a/"},"response":{"status":204}}]}}"#;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(har).unwrap();
        let gz = enc.finish().unwrap();
        let mut c = crate::ingest::Collect::default();
        let s = read_bytes(&gz, Path::new("x.har.gz"), &ReadOptions::default(), &mut c).unwrap();
        assert_eq!(s.format, Some(InputFormat::Har));
        assert_eq!(c.exchanges[0].status(), Some(204));
    }
}
