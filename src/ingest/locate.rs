//! Re-reading one exchange after a load, so a consumer (the TUI's flow store) can drop the
//! full [`Exchange`] and keep only a 16-byte [`Locator`].
//!
//! A [`Source`] is an input file opened for random access (mapped with the guard of
//! [`super::mapped`], so a file cut short later gives an error, not a crash; never standard
//! input, a FIFO or compressed data, which cannot be re-read cheaply). Documents re-parse one
//! entry: the HAR / Charles entry or mitmproxy flow starting at the byte offset the reader
//! noted in `Provenance::offset`. Captures replay packets: the file header (and, for pcapng,
//! every block before the first packet) followed by the records from the exchange's first
//! packet onward go through a fresh reassembler and HTTP parser (a connection first seen
//! mid-stream is supported), and the exchange that starts at that packet is taken as soon as
//! it is emitted. A sparse packet-number → file-offset index (one mark per 64 packets) is
//! built on first use. Every re-read exchange is checked against the [`fingerprint`] taken
//! while loading; when the replay does not reproduce it (a segment delivered out of order
//! before the first packet, a pcapng interface declared later, …) the whole file is read
//! again up to that exchange, which is always exact because readers are deterministic.
//! [`Source::scan`] is the one sequential pass over everything (filters, search, insight).

use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize as _;
use serde_json::value::RawValue;

use super::detect::{self, InputFormat, Sniffed};
use super::mapped::MappedFile;
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::capture::Input;
use crate::capture::file::{Framer, Next, Record};
use crate::model::{Body, Exchange, Headers};

/// Where one exchange is in its source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locator {
    /// Byte offset of the entry (documents) or number of the first packet (captures).
    pub pos: u64,
    /// Entry index (documents) or connection number (captures).
    pub aux: u32,
    /// [`fingerprint`] of the exchange as loaded.
    pub check: u32,
}

impl Locator {
    /// The locator of a freshly read exchange, when its reader noted where it came from.
    #[must_use]
    pub fn of(ex: &Exchange) -> Option<Self> {
        let p = &ex.provenance;
        let (pos, aux) = if let Some(off) = p.offset {
            (off, u32::try_from(p.entry?).ok()?)
        } else {
            let first = *p.packets.first()?;
            (first, p.connection.as_deref()?.parse::<u32>().ok()?)
        };
        Some(Self { pos, aux, check: fingerprint(ex) })
    }
}

/// Why one exchange could not be re-read.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// The file could not be read again.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The entry at the noted place does not parse (any more).
    #[error("{0}")]
    Entry(String),
    /// The file no longer holds that exchange (it changed since it was loaded).
    #[error("exchange {0} is no longer in the file (did it change since it was loaded?)")]
    Missing(u64),
}

/// A 32-bit digest of everything an exchange holds except its bodies' bytes, `seq` and the
/// file name: used to check that a re-read found the same exchange.
#[must_use]
pub fn fingerprint(ex: &Exchange) -> u32 {
    fn headers(h: &Headers, s: &mut impl Hasher) {
        h.0.len().hash(s);
        for x in &h.0 {
            x.name.hash(s);
            x.value.hash(s);
        }
    }
    fn body(b: &Body, s: &mut impl Hasher) {
        (b.size, b.content.len(), b.truncated, b.wire_size, &b.encoding, &b.detached, &b.decode_error).hash(s);
        b.content.get(..64.min(b.content.len())).hash(s);
    }
    // Fixed seed: the digest taken while loading must equal the one of the re-read.
    let mut s = foldhash::quality::FixedState::default().build_hasher();
    let r = &ex.request;
    (&r.method, &r.scheme, &r.host, &r.target, &r.version).hash(&mut s);
    headers(&r.headers, &mut s);
    body(&r.body, &mut s);
    for resp in ex.response.iter().chain(ex.interim.iter()) {
        (resp.status, &resp.reason, &resp.version).hash(&mut s);
        headers(&resp.headers, &mut s);
        body(&resp.body, &mut s);
    }
    (ex.response.is_some(), ex.interim.len()).hash(&mut s);
    let t = &ex.timing;
    (t.request_start, t.request_end, t.response_start, t.response_end, ex.client, ex.server).hash(&mut s);
    format!("{:?}", ex.state).hash(&mut s);
    (&ex.provenance.entry, &ex.provenance.packets, &ex.provenance.connection, &ex.comment).hash(&mut s);
    for d in &ex.diagnostics {
        (d.severity, &d.code, &d.message).hash(&mut s);
    }
    ex.extra.to_string().hash(&mut s);
    let h = s.finish();
    (h as u32) ^ ((h >> 32) as u32)
}

/// Packets between two marks of the capture index.
const STRIDE: u64 = 64;

/// Sparse packet index of a capture: where the records start and the offset of every
/// [`STRIDE`]th packet record.
#[derive(Debug)]
struct CaptureIndex {
    /// Bytes before the first packet record (file header, pcapng section and interfaces).
    prefix_end: usize,
    /// Offset of packet `1 + k * STRIDE` for each `k`.
    marks: Vec<u64>,
}

fn counts_as_packet(r: &Record<'_>) -> bool {
    matches!(r, Record::Packet(_) | Record::Frame | Record::Skipped(_))
}

impl CaptureIndex {
    fn build(map: &MappedFile) -> Option<Self> {
        let data = map.bytes();
        let (mut fr, mut pos) = Framer::open(data).ok()?;
        let mut n = 0u64;
        let mut prefix_end = None;
        let mut marks = Vec::new();
        let mut released = 0usize;
        while let Next::Record(r, len) = fr.next(data.get(pos..)?) {
            if pos - released >= RELEASE_EVERY {
                map.release(released, pos);
                released = pos / RELEASE_EVERY * RELEASE_EVERY;
            }
            if counts_as_packet(&r) {
                if n % STRIDE == 0 {
                    marks.push(pos as u64);
                }
                n += 1;
                prefix_end.get_or_insert(pos);
            }
            pos += len;
        }
        Some(Self { prefix_end: prefix_end?, marks })
    }

    /// File offset of packet number `p` (1-based).
    fn offset_of(&self, data: &[u8], p: u64) -> Option<usize> {
        let k = p.checked_sub(1)? / STRIDE;
        let (mut fr, mut pos) = Framer::open(data).ok()?;
        // Let the framer see the interfaces declared before the first packet.
        while pos < self.prefix_end {
            let Next::Record(_, len) = fr.next(data.get(pos..self.prefix_end)?) else { return None };
            pos += len;
        }
        let mut pos = usize::try_from(*self.marks.get(usize::try_from(k).ok()?)?).ok()?;
        let mut n = k * STRIDE + 1;
        loop {
            let Next::Record(r, len) = fr.next(data.get(pos..)?) else { return None };
            if counts_as_packet(&r) {
                if n == p {
                    return Some(pos);
                }
                n += 1;
            }
            pos += len;
        }
    }
}

/// Pages behind the indexing pass are released in steps of this many bytes.
const RELEASE_EVERY: usize = 64 << 20;

/// The prefix of a mapped capture followed by its tail from some offset, as a stream.
struct Spliced {
    map: Arc<MappedFile>,
    parts: [(usize, usize); 2],
    at: usize,
}

impl Read for Spliced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some((from, to)) = self.parts.get_mut(self.at) {
            if from < to {
                let src = self.map.bytes().get(*from..*to).unwrap_or(&[]);
                let n = src.len().min(buf.len());
                buf.get_mut(..n).unwrap_or(&mut []).copy_from_slice(src.get(..n).unwrap_or(&[]));
                *from += n;
                return Ok(n);
            }
            self.at += 1;
        }
        Ok(0)
    }
}

/// Keeps the exchange that starts at a given packet, renumbered to the original packets.
struct Pick {
    base: u64,
    first: u64,
    conn: String,
    seq: u64,
    check: u32,
    found: Option<Exchange>,
}

impl Sink for Pick {
    fn exchange(&mut self, ex: &Exchange) {
        if ex.provenance.packets.first().map(|p| p + self.base) != Some(self.first) {
            return;
        }
        let mut e = ex.clone();
        for p in &mut e.provenance.packets {
            *p += self.base;
        }
        e.provenance.connection = Some(self.conn.clone());
        e.seq = self.seq;
        if fingerprint(&e) == self.check {
            self.found = Some(e);
        }
    }
    fn should_stop(&self) -> bool {
        self.found.is_some()
    }
}

/// Keeps the `seq`th exchange of a full read.
struct Nth {
    seq: u64,
    found: Option<Exchange>,
}

impl Sink for Nth {
    fn exchange(&mut self, ex: &Exchange) {
        if ex.seq == self.seq {
            self.found = Some(ex.clone());
        }
    }
    fn should_stop(&self) -> bool {
        self.found.is_some()
    }
}

/// An input file opened for re-reading.
pub struct Source {
    path: PathBuf,
    file: Arc<str>,
    format: InputFormat,
    map: Arc<MappedFile>,
    skip: usize,
    index: OnceLock<Option<CaptureIndex>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("path", &self.path).field("format", &self.format).finish_non_exhaustive()
    }
}

impl Source {
    /// Open `path` for re-reading; `None` when it cannot be re-read by offset (standard
    /// input, not a regular file, compressed, empty or of no known format).
    #[must_use]
    pub fn open(path: &Path) -> Option<Self> {
        if path.as_os_str() == "-" {
            return None;
        }
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let file = std::fs::File::open(path).ok()?;
        let map = MappedFile::open(file).ok()?;
        let bytes = map.bytes();
        let head = bytes.get(..bytes.len().min(detect::SNIFF_LEN))?;
        let Sniffed::Known(format) = detect::sniff(head) else { return None };
        let skip = match format {
            InputFormat::Pcap | InputFormat::PcapNg => 0,
            _ if bytes.starts_with(detect::BOM) => detect::BOM.len(),
            _ => 0,
        };
        Some(Self {
            path: path.to_path_buf(),
            file: Arc::from(path.display().to_string()),
            format,
            map: Arc::new(map),
            skip,
            index: OnceLock::new(),
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its format.
    #[must_use]
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Build the capture index now (it is otherwise built on the first re-read).
    pub fn prepare(&self) {
        if matches!(self.format, InputFormat::Pcap | InputFormat::PcapNg) {
            let _ = self.capture_index();
        }
    }

    fn capture_index(&self) -> Option<&CaptureIndex> {
        self.index
            .get_or_init(|| {
                let ix = CaptureIndex::build(&self.map);
                self.map.release(0, self.map.bytes().len());
                ix
            })
            .as_ref()
    }

    /// Read the whole file again, in order, into `sink` (one sequential pass).
    ///
    /// # Errors
    /// The file can no longer be read.
    pub fn scan(&self, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<ReadSummary, IngestError> {
        super::read_path(&self.path, opts, sink)
    }

    /// Re-read exchange number `seq` of this file, located by `loc`. `opts` must be the
    /// options of the first read.
    ///
    /// # Errors
    /// The entry no longer parses, or the file no longer holds the exchange.
    pub fn reread(&self, loc: &Locator, seq: u64, opts: &ReadOptions) -> Result<Exchange, LocateError> {
        // A file cut short since it was opened no longer holds what was loaded from it.
        if self.map.shrunk().is_some() {
            return Err(LocateError::Missing(seq));
        }
        let got = match self.format {
            InputFormat::Pcap | InputFormat::PcapNg => self.replay(loc, seq, opts)?,
            _ => Some(self.entry(loc, seq, opts)?),
        };
        match got {
            Some(ex) if fingerprint(&ex) == loc.check => Ok(ex),
            _ => self.nth(seq, opts),
        }
    }

    /// Exchange number `seq` by reading the file from the start.
    fn nth(&self, seq: u64, opts: &ReadOptions) -> Result<Exchange, LocateError> {
        let mut sink = Nth { seq, found: None };
        self.scan(opts, &mut sink)?;
        sink.found.ok_or(LocateError::Missing(seq))
    }

    fn entry(&self, loc: &Locator, seq: u64, opts: &ReadOptions) -> Result<Exchange, LocateError> {
        let data = self.map.bytes().get(self.skip..).unwrap_or(&[]);
        let at = usize::try_from(loc.pos).map_err(|_| LocateError::Missing(seq))?;
        let rest = data.get(at..).ok_or(LocateError::Missing(seq))?;
        let idx = loc.aux as usize;
        let mut ex = match self.format {
            InputFormat::Mitmproxy => {
                let (v, _) = super::mitm::tnetstring::parse_at(data, at).map_err(|e| LocateError::Entry(e.why))?;
                super::mitm::flow_to_exchange(&v, idx as u64, seq, &self.file, opts).map_err(LocateError::Entry)?
            }
            f => {
                let mut de = serde_json::Deserializer::from_slice(rest);
                let raw = <&RawValue>::deserialize(&mut de).map_err(|e| LocateError::Entry(e.to_string()))?;
                if f == InputFormat::Har {
                    super::har::entry_to_exchange(raw.get(), idx, &self.file, opts)
                } else {
                    super::charles::to_exchange(raw.get(), idx, &self.file, opts)
                }
                .map_err(LocateError::Entry)?
            }
        };
        ex.seq = seq;
        ex.provenance.offset = Some(loc.pos);
        Ok(ex)
    }

    fn replay(&self, loc: &Locator, seq: u64, opts: &ReadOptions) -> Result<Option<Exchange>, LocateError> {
        let Some(ix) = self.capture_index() else { return Ok(None) };
        let Some(off) = ix.offset_of(self.map.bytes(), loc.pos) else { return Ok(None) };
        let len = self.map.bytes().len();
        let input = Spliced { map: Arc::clone(&self.map), parts: [(0, ix.prefix_end), (off, len)], at: 0 };
        let mut sink =
            Pick { base: loc.pos - 1, first: loc.pos, conn: loc.aux.to_string(), seq, check: loc.check, found: None };
        super::capture::read_capture(Input::Reader(Box::new(input)), &self.path, opts, &mut sink)?;
        Ok(sink.found.map(|mut e| {
            e.provenance.file = Arc::clone(&self.file);
            e
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Collect, read_path};

    fn every_exchange_rereads_equal(path: &Path) -> usize {
        let opts = ReadOptions::default();
        let mut c = Collect::default();
        read_path(path, &opts, &mut c).unwrap();
        let src = Source::open(path).unwrap();
        for ex in &c.exchanges {
            let loc = Locator::of(ex).unwrap();
            let back = src.reread(&loc, ex.seq, &opts).unwrap();
            assert_eq!(format!("{back:?}"), format!("{ex:?}"), "exchange {}", ex.seq);
        }
        c.exchanges.len()
    }

    #[test]
    fn every_har_entry_rereads_equal_to_the_loaded_one() {
        assert!(every_exchange_rereads_equal(Path::new("fixtures/tui-small.har")) >= 40);
        assert!(every_exchange_rereads_equal(Path::new("fixtures/gaps/violations.har")) > 0);
    }

    #[test]
    fn every_sample_file_rereads_equal_to_the_loaded_one() {
        let mut n = 0;
        for e in std::fs::read_dir("fixtures/samples").unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if ["pcap", "pcapng", "har", "chlsj", "mitm"].contains(&ext) {
                n += every_exchange_rereads_equal(&p);
            }
        }
        n += every_exchange_rereads_equal(Path::new("fixtures/capture-mixed.pcapng"));
        assert!(n > 20, "{n}");
    }

    #[test]
    fn every_exchange_of_the_demo_capture_is_replayed_from_its_first_packet() {
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open("fixtures/demo.pcap.gz").unwrap());
        let mut bytes = Vec::new();
        gz.read_to_end(&mut bytes).unwrap();
        let path = std::env::temp_dir().join(format!("apiscope-locate-{}.pcap", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let opts = ReadOptions::default();
        let mut c = Collect::default();
        read_path(&path, &opts, &mut c).unwrap();
        let src = Source::open(&path).unwrap();
        let mut replayed = 0;
        for ex in &c.exchanges {
            let loc = Locator::of(ex).unwrap();
            // the fast path alone (no fall back to a full read) ...
            if let Some(back) = src.replay(&loc, ex.seq, &opts).unwrap() {
                assert_eq!(format!("{back:?}"), format!("{ex:?}"), "exchange {}", ex.seq);
                replayed += 1;
            }
        }
        // ... reproduces nearly every exchange; the rest go through the exact full read.
        assert!(replayed * 100 >= c.exchanges.len() * 95, "{replayed} of {}", c.exchanges.len());
        for ex in c.exchanges.iter().step_by(97) {
            let back = src.reread(&Locator::of(ex).unwrap(), ex.seq, &opts).unwrap();
            assert_eq!(format!("{back:?}"), format!("{ex:?}"));
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn streams_and_compressed_files_are_not_random_access() {
        assert!(Source::open(Path::new("-")).is_none());
        assert!(Source::open(Path::new("fixtures/demo.pcap.gz")).is_none());
        assert!(Source::open(Path::new("fixtures")).is_none());
    }
}
