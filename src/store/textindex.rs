//! The text index: everything a `/` search tests of each flow (what
//! [`Search::matches`](super::search::Search::matches) reads, comment aside), lowercased and
//! kept compressed in an anonymous temporary file, so a search over every flow reads that
//! file instead of parsing the captures again.
//!
//! A flow's *record* is its request method, target, host, each request header's name and
//! value, request body, status (decimal), reason, each response header's name and value and
//! response body, each field ASCII-lowercased and followed by a [`SEP`] byte. A search is
//! literal text matched with ASCII-only case folding, inside one field at a time, so it
//! matches a flow exactly when the lowercased needle occurs in the lowercased record (a
//! needle holding no [`SEP`] byte cannot run across fields or records; one that does is not
//! answered here, see [`needle`]).
//!
//! [`TextIndex::build`] makes the records in one [`ScanPlan`] pass, on the capture reader's
//! parsing threads where it has them ([`TextRecord`], a [`Prepare`]), and gathers them into
//! blocks of about [`BLOCK_TEXT`] bytes, each compressed with LZ4 and written to the
//! temporary file with its table of flow ids and record starts. Memory holds only a few
//! words per block. [`TextIndex::search`] reads the blocks back in flow order, several at a
//! time in parallel, and reports the flows whose record holds the needle. The file is
//! deleted when the index is dropped (it has no name from the start).

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::FlowId;
use super::reread::{ScanError, ScanPlan};
use crate::ingest::{Prepare, Prepared};
use crate::model::{Exchange, Headers};

/// The byte after each field of a record: no needle without it can match across fields.
pub const SEP: u8 = 0;

/// Text gathered into one block before it is compressed (a record longer than this is a
/// block of its own).
pub const BLOCK_TEXT: usize = 512 * 1024;

/// Largest temporary file an index may grow to by default (compressed bytes).
pub const DEFAULT_LIMIT: u64 = 4 << 30;

/// Why an index could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The build was asked to stop.
    #[error("stopped")]
    Stopped,
    /// The compressed text outgrew the temporary file's limit.
    #[error("the index would exceed {} MiB of temporary disk space", .0 >> 20)]
    TooLarge(u64),
    /// A source could not be read again during the build.
    #[error("the input could not be read again: {0}")]
    Source(String),
    /// The temporary file could not be created, written or read.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// A block read back did not decode (the temporary file was changed).
    #[error("a block of the index is damaged")]
    Damaged,
}

/// Where one compressed block lies in the file.
#[derive(Debug, Clone, Copy)]
struct Block {
    at: u64,
    len: u32,
    /// Bytes once decompressed: the table, then the text.
    plain: u32,
    /// Records in the block.
    count: u32,
}

/// What an index took: flows, text, disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Flows with a record.
    pub flows: usize,
    /// Blocks written.
    pub blocks: usize,
    /// Lowercased text, before compression.
    pub text_bytes: u64,
    /// Bytes of the temporary file.
    pub disk_bytes: u64,
    /// Memory the index holds (block table and the covered-flows bit set).
    pub memory_bytes: usize,
}

/// The search corpus of a set of flows; see the module note.
#[derive(Debug)]
pub struct TextIndex {
    file: File,
    blocks: Vec<Block>,
    /// One bit per flow id: the flow has a record here.
    covered: Vec<u64>,
    stats: IndexStats,
}

/// The lowercased bytes a search for `text` looks for in records; `None` when the index
/// cannot answer it (a text holding the [`SEP`] byte, or an empty one).
#[must_use]
pub fn needle(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    (!b.is_empty() && !b.contains(&SEP)).then(|| b.to_ascii_lowercase())
}

fn field(out: &mut Vec<u8>, b: &[u8]) {
    let at = out.len();
    out.extend_from_slice(b);
    if let Some(f) = out.get_mut(at..) {
        f.make_ascii_lowercase();
    }
    out.push(SEP);
}

fn headers(out: &mut Vec<u8>, h: &Headers) {
    for x in h.iter() {
        field(out, x.name.as_bytes());
        field(out, x.value.as_bytes());
    }
}

/// Append the record of `ex` to `out` (see the module note).
pub fn record(ex: &Exchange, out: &mut Vec<u8>) {
    let r = &ex.request;
    field(out, r.method.as_bytes());
    field(out, r.target.as_bytes());
    field(out, ex.host().as_bytes());
    headers(out, &r.headers);
    field(out, &r.body.content);
    if let Some(s) = &ex.response {
        field(out, s.status.to_string().as_bytes());
        field(out, s.reason.as_bytes());
        headers(out, &s.headers);
        field(out, &s.body.content);
    }
}

/// The record of an exchange, made where the reader prepares exchanges (its parsing
/// threads). It reads what a search's content test reads, and lets the reader free the
/// same parts afterwards (as [`super::search::ContentHit`] does).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextRecord;

impl Prepare for TextRecord {
    fn prepare(&self, ex: &Exchange) -> Prepared {
        let mut out = Vec::new();
        record(ex, &mut out);
        Box::new(out)
    }
    fn content_digest(&self) -> bool {
        true
    }
}

/// A block ready to compress: the table and the text, records in it, text bytes.
struct Plain {
    payload: Vec<u8>,
    count: u32,
    text: usize,
}

/// Gathers records into blocks and hands them to the writer.
struct Builder {
    to_writer: std::sync::mpsc::SyncSender<Plain>,
    covered: Vec<u64>,
    ids: Vec<FlowId>,
    starts: Vec<u32>,
    text: Vec<u8>,
    flows: usize,
}

/// What the writer made of the blocks: where each lies, file size, text bytes.
struct Written {
    blocks: Vec<Block>,
    at: u64,
    text: u64,
}

/// Compress each block and append it to `file` (on its own thread, so the reader's
/// threads are not held up), up to `limit` bytes.
fn write_blocks(file: &mut File, rx: std::sync::mpsc::Receiver<Plain>, limit: u64) -> Result<Written, IndexError> {
    let mut w = Written { blocks: Vec::new(), at: 0, text: 0 };
    let too_large = || IndexError::TooLarge(limit);
    while let Ok(p) = rx.recv() {
        let packed = lz4_flex::block::compress(&p.payload);
        let len = packed.len() as u64;
        if w.at + len > limit {
            return Err(too_large());
        }
        file.write_all(&packed)?;
        w.blocks.push(Block {
            at: w.at,
            len: u32::try_from(packed.len()).map_err(|_| too_large())?,
            plain: u32::try_from(p.payload.len()).map_err(|_| too_large())?,
            count: p.count,
        });
        w.at += len;
        w.text += p.text as u64;
    }
    file.flush()?;
    Ok(w)
}

impl Builder {
    fn new(to_writer: std::sync::mpsc::SyncSender<Plain>) -> Self {
        Self {
            to_writer,
            covered: Vec::new(),
            ids: Vec::new(),
            starts: Vec::new(),
            text: Vec::with_capacity(BLOCK_TEXT * 2),
            flows: 0,
        }
    }

    /// Add a record; false when the writer has given up.
    fn add(&mut self, id: FlowId, rec: &[u8]) -> bool {
        if !self.ids.is_empty() && self.text.len() + rec.len() > BLOCK_TEXT && !self.flush() {
            return false;
        }
        let Ok(start) = u32::try_from(self.text.len()) else { return false };
        self.ids.push(id);
        self.starts.push(start);
        self.text.extend_from_slice(rec);
        let (w, bit) = (id as usize / 64, id % 64);
        if self.covered.len() <= w {
            self.covered.resize(w + 1, 0);
        }
        if let Some(x) = self.covered.get_mut(w) {
            *x |= 1 << bit;
        }
        self.flows += 1;
        true
    }

    /// Hand the gathered block to the writer; false when it has given up.
    fn flush(&mut self) -> bool {
        if self.ids.is_empty() {
            return true;
        }
        let Ok(count) = u32::try_from(self.ids.len()) else { return false };
        let mut payload = Vec::with_capacity(4 + self.ids.len() * 8 + self.text.len());
        payload.extend_from_slice(&count.to_le_bytes());
        for id in &self.ids {
            payload.extend_from_slice(&id.to_le_bytes());
        }
        for s in &self.starts {
            payload.extend_from_slice(&s.to_le_bytes());
        }
        payload.extend_from_slice(&self.text);
        let text = self.text.len();
        self.ids.clear();
        self.starts.clear();
        self.text.clear();
        self.to_writer.send(Plain { payload, count, text }).is_ok()
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, at) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Per-thread buffers of a search.
#[derive(Default)]
struct Scratch {
    packed: Vec<u8>,
    plain: Vec<u8>,
    starts: Vec<usize>,
}

impl TextIndex {
    /// Build the index of the flows `plan` visits, with `limit` bytes of temporary file at
    /// most. `stop` is polled between exchanges; `visited` counts the flows done (progress).
    ///
    /// # Errors
    /// [`IndexError::Stopped`] when asked to stop, [`IndexError::TooLarge`] past the limit,
    /// [`IndexError::Source`] when an input could not be read again, [`IndexError::Io`] when
    /// the temporary file failed.
    pub fn build(
        plan: &ScanPlan,
        limit: u64,
        stop: &dyn Fn() -> bool,
        visited: &AtomicUsize,
    ) -> Result<Self, IndexError> {
        let mut file = tempfile::tempfile()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Plain>(4);
        let mut b = Builder::new(tx);
        let gave_up = std::cell::Cell::new(false);
        let halt = || stop() || gave_up.get();
        let mut scratch = Vec::new();
        let pre: Arc<dyn Prepare> = Arc::new(TextRecord);
        let out = &mut file;
        let (res, written) = std::thread::scope(|sc| {
            let writer = std::thread::Builder::new()
                .name("apiscope-textindex-write".into())
                .spawn_scoped(sc, move || write_blocks(out, rx, limit));
            let writer = match writer {
                Ok(w) => w,
                Err(e) => return (Ok(()), Err(IndexError::Io(e))),
            };
            let res = plan.run_prepared(&halt, Some(pre), &mut |id, ex, prepared| {
                visited.fetch_add(1, Ordering::Relaxed);
                if gave_up.get() {
                    return;
                }
                let added = match prepared.and_then(|p| p.downcast::<Vec<u8>>().ok()) {
                    Some(rec) => b.add(id, &rec),
                    None => {
                        scratch.clear();
                        record(ex, &mut scratch);
                        b.add(id, &scratch)
                    }
                };
                gave_up.set(!added);
            });
            if res.is_ok() && !gave_up.get() {
                gave_up.set(!b.flush());
            }
            let Builder { to_writer, covered, flows, .. } = b;
            drop(to_writer);
            let written = writer.join().unwrap_or_else(|_| Err(IndexError::Io(std::io::Error::other("writer failed"))));
            (res, written.map(|w| (w, covered, flows)))
        });
        // The writer's error (the limit, the disk) says why the pass was cut short.
        let (w, covered, flows) = written?;
        match res {
            Ok(()) if !gave_up.get() => {}
            Ok(()) | Err(ScanError::Stopped) => return Err(IndexError::Stopped),
            Err(ScanError::Source(e)) => return Err(IndexError::Source(e)),
        }
        let stats = IndexStats {
            flows,
            blocks: w.blocks.len(),
            text_bytes: w.text,
            disk_bytes: w.at,
            memory_bytes: w.blocks.len() * std::mem::size_of::<Block>() + covered.len() * std::mem::size_of::<u64>(),
        };
        Ok(Self { file, blocks: w.blocks, covered, stats })
    }

    /// True when flow `id` has a record here.
    #[must_use]
    pub fn covers(&self, id: FlowId) -> bool {
        self.covered.get(id as usize / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Flows, text and disk the index holds.
    #[must_use]
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// Flows with a record.
    #[must_use]
    pub fn flows(&self) -> usize {
        self.stats.flows
    }

    /// The flows of one block whose record holds `finder`'s needle, appended to `out`.
    fn search_block(
        &self,
        b: &Block,
        finder: &memchr::memmem::Finder<'_>,
        s: &mut Scratch,
        out: &mut Vec<FlowId>,
    ) -> Result<(), IndexError> {
        s.packed.resize(b.len as usize, 0);
        read_at(&self.file, &mut s.packed, b.at)?;
        let plain = b.plain as usize;
        if s.plain.len() < plain {
            s.plain.resize(plain, 0);
        }
        let buf = s.plain.get_mut(..plain).ok_or(IndexError::Damaged)?;
        let n = lz4_flex::block::decompress_into(&s.packed, buf).map_err(|_| IndexError::Damaged)?;
        let count = b.count as usize;
        let word =
            |i: usize| buf.get(i * 4..i * 4 + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()).map(u32::from_le_bytes);
        if n != plain || word(0) != Some(b.count) {
            return Err(IndexError::Damaged);
        }
        let text = buf.get(4 + count * 8..).ok_or(IndexError::Damaged)?;
        s.starts.clear();
        for i in 0..count {
            s.starts.push(word(1 + count + i).ok_or(IndexError::Damaged)? as usize);
        }
        let mut pos = 0;
        while let Some(hit) = text.get(pos..).and_then(|t| finder.find(t)) {
            let at = pos + hit;
            let r = s.starts.partition_point(|st| *st <= at).saturating_sub(1);
            out.push(word(1 + r).ok_or(IndexError::Damaged)?);
            match s.starts.get(r + 1) {
                Some(next) => pos = *next,
                None => break,
            }
        }
        Ok(())
    }

    /// The flows whose record holds `needle` (from [`needle`]: lowercased), in the order
    /// they were indexed: blocks are searched a few at a time in parallel and each group's
    /// hits handed to `found` with the number of flows the group covered. `stop` is polled
    /// between groups.
    ///
    /// # Errors
    /// [`IndexError::Stopped`] when asked to stop; [`IndexError::Io`] or
    /// [`IndexError::Damaged`] when the temporary file could not be read back.
    pub fn search(
        &self,
        needle: &[u8],
        stop: &dyn Fn() -> bool,
        found: &mut dyn FnMut(usize, Vec<FlowId>),
    ) -> Result<(), IndexError> {
        let finder = memchr::memmem::Finder::new(needle);
        // Small groups first so the first hits come back at once, then larger ones.
        let threads = rayon::current_num_threads().max(1);
        let mut rest = self.blocks.as_slice();
        let mut group = threads;
        while !rest.is_empty() {
            if stop() {
                return Err(IndexError::Stopped);
            }
            let (now, later) = rest.split_at(group.min(rest.len()));
            rest = later;
            group = (group * 2).min(threads * 8);
            let hits: Vec<Result<Vec<FlowId>, IndexError>> = now
                .par_iter()
                .map_init(Scratch::default, |s, b| {
                    let mut out = Vec::new();
                    self.search_block(b, &finder, s, &mut out).map(|()| out)
                })
                .collect();
            let mut all = Vec::new();
            for h in hits {
                all.extend(h?);
            }
            found(now.iter().map(|b| b.count as usize).sum(), all);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, Response};
    use crate::store::FlowStore;
    use crate::store::search::Search;

    fn ex(target: &str, header: (&str, &str), body: &str) -> Exchange {
        let mut e = Exchange::default();
        e.request.method = "GET".into();
        e.request.target = target.into();
        e.request.headers.push(header.0, header.1);
        e.response = Some(Response {
            status: 201,
            reason: "Created".into(),
            body: Body::from_bytes(body.as_bytes().to_vec()),
            ..Response::default()
        });
        e
    }

    fn indexed(store: &FlowStore) -> TextIndex {
        let ids: Vec<FlowId> = (0..FlowId::try_from(store.len()).unwrap()).collect();
        TextIndex::build(&store.scan_plan(&ids), DEFAULT_LIMIT, &|| false, &AtomicUsize::new(0)).unwrap()
    }

    fn hits(ix: &TextIndex, text: &str) -> Vec<FlowId> {
        let mut got = Vec::new();
        ix.search(&needle(text).unwrap(), &|| false, &mut |_, mut h| got.append(&mut h)).unwrap();
        got
    }

    #[test]
    fn index_hits_are_the_flows_a_search_matches_and_never_span_fields() {
        let mut s = FlowStore::new();
        s.push(ex("/a", ("X-Trace", "ABC"), "{\"symbol\":\"NVDA\"}"));
        s.push(ex("/b", ("accept", "*/*"), "plain"));
        s.push(ex("/nvda", ("accept", "x"), ""));
        s.refresh_view();
        let ix = indexed(&s);
        assert_eq!(ix.flows(), 3);
        assert!(ix.covers(2) && !ix.covers(3));
        for text in
            ["nvda", "NvDa", "x-trace", "abc", "201", "created", "/", "get", "zzz", "x-traceabc", "plaincreated"]
        {
            let q = Search::new(text).unwrap();
            let expected: Vec<FlowId> = (0..3).filter(|id| q.matches_flow(&s, *id)).collect();
            assert_eq!(hits(&ix, text), expected, "{text}");
        }
        assert!(hits(&ix, "x-traceabc").is_empty(), "a header's name and value are separate fields");
        assert!(needle("a\0b").is_none() && needle("").is_none());
    }

    #[test]
    fn records_are_split_into_blocks_and_found_in_each() {
        let mut s = FlowStore::new();
        let big = "y".repeat(BLOCK_TEXT / 3);
        for i in 0..40 {
            s.push(ex(&format!("/item/{i}"), ("k", "v"), &format!("{big} token{i} ")));
        }
        s.refresh_view();
        let ix = indexed(&s);
        assert!(ix.stats().blocks > 10, "{:?}", ix.stats());
        assert!(ix.stats().disk_bytes < ix.stats().text_bytes / 10, "repetitive text compresses");
        assert_eq!(hits(&ix, "TOKEN3"), vec![3, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
        assert_eq!(hits(&ix, "token").len(), 40);
    }

    #[test]
    fn a_build_past_its_disk_limit_fails_as_too_large() {
        let mut s = FlowStore::new();
        // Text that does not compress (xorshift letters).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..8 {
            let noise: String = (0..BLOCK_TEXT)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + u8::try_from(x % 26).unwrap_or(0))
                })
                .collect();
            s.push(ex("/", ("k", "v"), &noise));
        }
        let ids: Vec<FlowId> = (0..8).collect();
        let got = TextIndex::build(&s.scan_plan(&ids), 64 * 1024, &|| false, &AtomicUsize::new(0));
        assert!(matches!(got, Err(IndexError::TooLarge(_))), "{got:?}");
        let got = TextIndex::build(&s.scan_plan(&ids), DEFAULT_LIMIT, &|| true, &AtomicUsize::new(0));
        assert!(matches!(got, Err(IndexError::Stopped)), "{got:?}");
    }
}
