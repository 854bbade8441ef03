//! Connections sharded across worker threads: the reading thread keeps the file, the link
//! and IP layers, TCP reassembly and TLS decryption (TLS session resumption and the
//! per-capture diagnostic limits cross connections), and hands each connection's stream
//! events to one worker, chosen by a hash of its 4-tuple. Each worker runs its own
//! [`HttpAdapter`] (HTTP/1.x and HTTP/2 parsing, pairing, content decoding, the sink's
//! content-only [`Prepare`]) and queues what it makes, tagged with the number of the event
//! that made it. The reading thread merges the queues back by event number and feeds the
//! sink, so the sink sees the same exchanges, diagnostics and `seq` numbers in the same
//! order as a single-threaded read.
//!
//! Events travel in batches (one per worker, payload bytes copied into the batch); a batch
//! is merged once every worker has answered it, and at most [`MAX_IN_FLIGHT`] batches are
//! out at once, so memory stays bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::{Entry, HttpAdapter, HttpCounters};
use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use crate::capture::{CaptureError, CaptureOptions, Input};
use crate::ingest::{IngestError, Prepare, ReadOptions, ReadSummary, Sink};
use crate::model::{Diagnostic, Nanos, TlsInfo};

/// Payload bytes gathered (over all workers) before a batch goes out.
const BATCH_BYTES: usize = 256 << 10;
/// Events gathered before a batch goes out, whatever their bytes.
const BATCH_EVENTS: usize = 4096;
/// Batches out at once before the reading thread waits for the oldest.
pub const MAX_IN_FLIGHT: usize = 8;
/// Files smaller than this are read on one thread (threads would not pay off).
pub const MIN_SHARDED_FILE: u64 = 4 << 20;

/// Threads for reading one capture (0: not set, use the machine's cores).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Set the threads that parse a capture's connections: 1 reads everything on the calling
/// thread; N > 1 runs N parsing threads beside the reading thread (which on a busy reader
/// is the lighter load). 0 goes back to the default: `APISCOPE_THREADS` when set, else the
/// machine's cores.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

thread_local! {
    /// A share of the threads set for reads started on this thread ([`with_share`]).
    static SHARE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with the capture reads it starts on this thread limited to `1/parts` of
/// [`threads`] (at least one): for callers that already read several inputs at once, such
/// as the two sides of a comparison.
pub fn with_share<T>(parts: usize, f: impl FnOnce() -> T) -> T {
    let share = (threads() / parts.max(1)).max(1);
    let before = SHARE.with(|c| c.replace(Some(share)));
    let out = f();
    SHARE.with(|c| c.set(before));
    out
}

/// Run `f` with the capture reads it starts on this thread using exactly `n` parsing
/// threads (at least one): for a thread that reads on behalf of another, which passes on
/// its own [`threads`].
pub fn with_threads<T>(n: usize, f: impl FnOnce() -> T) -> T {
    let before = SHARE.with(|c| c.replace(Some(n.max(1))));
    let out = f();
    SHARE.with(|c| c.set(before));
    out
}

/// Parsing threads of a capture read (see [`set_threads`]): a [`with_share`] in force on
/// this thread, else [`set_threads`], else `APISCOPE_THREADS`, else the machine's cores (at
/// most 16).
#[must_use]
pub fn threads() -> usize {
    if let Some(n) = SHARE.with(std::cell::Cell::get) {
        return n;
    }
    match THREADS.load(Ordering::Relaxed) {
        0 => std::env::var("APISCOPE_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
            .min(16),
        n => n.min(64),
    }
}

/// Tag of what a worker's final close of connection `id` produces: after every event, in
/// connection order (as the single-threaded adapter closes what is left).
#[must_use]
pub(super) fn finish_tag(id: u64) -> u64 {
    (1 << 63) | id
}

/// What a worker made, in the order it made it.
pub(super) enum Queued {
    Exchange(Box<Entry>),
    Diagnostic(Diagnostic),
}

/// A worker's output so far, each item tagged with its event number.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) at: u64,
    items: Vec<(u64, Queued)>,
}

impl Queue {
    pub(super) fn push(&mut self, q: Queued) {
        self.items.push((self.at, q));
    }

    pub(super) fn take(&mut self) -> Vec<(u64, Queued)> {
        std::mem::take(&mut self.items)
    }
}

/// One stream event, as the reassembler (or the TLS layer) called it.
enum Ev {
    Open(Nanos),
    /// Payload: `len` bytes at `from` in the batch's buffer.
    Data {
        dir: Dir,
        from: usize,
        len: usize,
        ts: Nanos,
        packet: u64,
    },
    Gap(Dir, u64, Nanos),
    Retrans {
        dir: Dir,
        behind: u64,
        len: u64,
        ts: Nanos,
        packet: u64,
    },
    Tls(Arc<TlsInfo>),
    Close(CloseKind, Nanos),
}

/// The events of one worker in one batch.
#[derive(Default)]
struct Batch {
    events: Vec<(u64, ConnInfo, Ev)>,
    bytes: Vec<u8>,
}

enum ToWorker {
    Batch(Batch),
    Finish,
}

enum FromWorker {
    /// What the worker made of a batch, and the batch emptied for reuse (its buffers stay
    /// allocated: no fresh pages per batch).
    Batch(Vec<(u64, Queued)>, Batch),
    Final(Vec<(u64, Queued)>, HttpCounters),
}

/// One worker's end of the channels, on the reading thread.
struct Lane {
    tx: Sender<ToWorker>,
    rx: Receiver<FromWorker>,
    batch: Batch,
    /// Answers received but not merged yet (oldest first).
    got: VecDeque<Vec<(u64, Queued)>>,
}

/// The [`StreamHandler`] on the reading thread: numbers events, sends them to the workers
/// and merges what comes back into the sink.
struct Dispatch<'s> {
    sink: &'s mut dyn Sink,
    lanes: Vec<Lane>,
    /// Diagnostics raised on the reading thread for the batch being filled.
    own: Vec<(u64, Queued)>,
    /// Those of batches out, oldest first.
    own_out: VecDeque<Vec<(u64, Queued)>>,
    /// Emptied batches the workers gave back.
    spare: Vec<Batch>,
    next: u64,
    seq: u64,
    filled_bytes: usize,
    filled_events: usize,
}

impl<'s> Dispatch<'s> {
    fn new(sink: &'s mut dyn Sink, lanes: Vec<Lane>) -> Self {
        Self {
            sink,
            lanes,
            own: Vec::new(),
            own_out: VecDeque::new(),
            spare: Vec::new(),
            next: 0,
            seq: 0,
            filled_bytes: 0,
            filled_events: 0,
        }
    }

    fn lane_of(&self, conn: &ConnInfo) -> usize {
        lane_index(conn.client, conn.server, self.lanes.len())
    }

    fn push(&mut self, conn: &ConnInfo, ev: Ev) {
        let at = self.next;
        self.next += 1;
        let i = self.lane_of(conn);
        if let Some(l) = self.lanes.get_mut(i) {
            l.batch.events.push((at, conn.clone(), ev));
        }
        self.filled_events += 1;
        if self.filled_events >= BATCH_EVENTS || self.filled_bytes >= BATCH_BYTES {
            self.send();
        }
    }

    /// Send the batch being filled (an empty one to idle workers too: every worker answers
    /// every batch, which is how the merge knows a batch is whole).
    fn send(&mut self) {
        for l in &mut self.lanes {
            let b = std::mem::replace(&mut l.batch, self.spare.pop().unwrap_or_default());
            // A worker that is gone has panicked; its events are lost and the join says so.
            let _ = l.tx.send(ToWorker::Batch(b));
        }
        self.own_out.push_back(std::mem::take(&mut self.own));
        self.filled_bytes = 0;
        self.filled_events = 0;
        self.merge(self.own_out.len() > MAX_IN_FLIGHT);
    }

    /// Merge every batch all workers have answered; with `wait`, first wait until at most
    /// [`MAX_IN_FLIGHT`] batches are out.
    fn merge(&mut self, wait: bool) {
        loop {
            let mut whole = true;
            let must = wait && self.own_out.len() > MAX_IN_FLIGHT;
            for l in &mut self.lanes {
                while let Ok(m) = l.rx.try_recv() {
                    if let FromWorker::Batch(items, empty) = m {
                        l.got.push_back(items);
                        self.spare.push(empty);
                    }
                }
                if l.got.is_empty() {
                    if must {
                        if let Ok(FromWorker::Batch(items, empty)) = l.rx.recv() {
                            l.got.push_back(items);
                            self.spare.push(empty);
                        } else {
                            // The worker is gone: nothing more comes from it.
                            l.got.push_back(Vec::new());
                        }
                    } else {
                        whole = false;
                    }
                }
            }
            if !whole || self.own_out.is_empty() {
                return;
            }
            let mut all = self.own_out.pop_front().unwrap_or_default();
            for l in &mut self.lanes {
                all.extend(l.got.pop_front().unwrap_or_default());
            }
            self.deliver(all);
        }
    }

    /// Hand merged items to the sink in event order (a stable sort: one event's items keep
    /// the order they were made in).
    fn deliver(&mut self, mut all: Vec<(u64, Queued)>) {
        all.sort_by_key(|(at, _)| *at);
        for (_, q) in all {
            match q {
                Queued::Exchange(e) => {
                    let Entry { mut ex, prepared, .. } = *e;
                    ex.seq = self.seq;
                    self.seq += 1;
                    self.sink.take(ex, prepared);
                }
                Queued::Diagnostic(d) => self.sink.diagnostic(&d),
            }
        }
    }

    /// Send what is left, close every worker's open connections and merge the rest; the
    /// workers' counters summed.
    fn finish(mut self) -> HttpCounters {
        self.send();
        let mut total = HttpCounters::default();
        let mut finals = Vec::new();
        for l in &mut self.lanes {
            let _ = l.tx.send(ToWorker::Finish);
        }
        for l in &mut self.lanes {
            for m in l.rx.iter() {
                match m {
                    FromWorker::Batch(items, _) => l.got.push_back(items),
                    FromWorker::Final(items, n) => {
                        finals.extend(items);
                        add(&mut total, &n);
                        break;
                    }
                }
            }
        }
        while !self.own_out.is_empty() {
            let mut all = self.own_out.pop_front().unwrap_or_default();
            for l in &mut self.lanes {
                all.extend(l.got.pop_front().unwrap_or_default());
            }
            self.deliver(all);
        }
        self.deliver(finals);
        total
    }
}

impl StreamHandler for Dispatch<'_> {
    fn on_open(&mut self, conn: &ConnInfo, ts: Nanos) {
        self.push(conn, Ev::Open(ts));
    }

    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        let i = self.lane_of(conn);
        let Some(l) = self.lanes.get_mut(i) else { return };
        let from = l.batch.bytes.len();
        l.batch.bytes.extend_from_slice(data);
        self.filled_bytes += data.len();
        self.push(conn, Ev::Data { dir, from, len: data.len(), ts, packet });
    }

    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, ts: Nanos) {
        self.push(conn, Ev::Gap(dir, len, ts));
    }

    fn on_retransmission(&mut self, conn: &ConnInfo, dir: Dir, behind: u64, len: u64, ts: Nanos, packet: u64) {
        self.push(conn, Ev::Retrans { dir, behind, len, ts, packet });
    }

    fn on_tls(&mut self, conn: &ConnInfo, tls: &Arc<TlsInfo>) {
        self.push(conn, Ev::Tls(Arc::clone(tls)));
    }

    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, ts: Nanos) {
        self.push(conn, Ev::Close(how, ts));
    }

    fn on_diagnostic(&mut self, d: Diagnostic) {
        let at = self.next;
        self.next += 1;
        self.own.push((at, Queued::Diagnostic(d)));
    }

    fn on_progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.sink.progress(bytes_read, total);
    }

    fn should_stop(&self) -> bool {
        self.sink.should_stop()
    }
}

/// Which of `n` workers reads the connection between `a` and `b` (the same whichever side
/// is named first).
fn lane_index(a: SocketAddr, b: SocketAddr, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let key = |s: SocketAddr| -> u64 {
        let ip = match s.ip() {
            std::net::IpAddr::V4(v) => u64::from(u32::from(v)),
            std::net::IpAddr::V6(v) => {
                let x = u128::from(v);
                (x as u64) ^ ((x >> 64) as u64)
            }
        };
        ip.rotate_left(16) ^ u64::from(s.port())
    };
    let h = (key(a) ^ key(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) % n as u64) as usize
}

fn add(t: &mut HttpCounters, n: &HttpCounters) {
    t.exchanges += n.exchanges;
    t.complete += n.complete;
    t.no_response += n.no_response;
    t.aborted += n.aborted;
    t.http_connections += n.http_connections;
    t.non_http_connections += n.non_http_connections;
    t.tls_connections += n.tls_connections;
    t.h2c_connections += n.h2c_connections;
    t.empty_connections += n.empty_connections;
    t.upgraded_connections += n.upgraded_connections;
    t.websocket_connections += n.websocket_connections;
    t.stream_messages += n.stream_messages;
    t.tunnel_connections += n.tunnel_connections;
    t.socks_connections += n.socks_connections;
    t.opaque_bytes += n.opaque_bytes;
    t.roles_swapped += n.roles_swapped;
    t.resyncs += n.resyncs;
    t.skipped_bytes += n.skipped_bytes;
    t.malformed += n.malformed;
    t.orphan_responses += n.orphan_responses;
    t.interim_responses += n.interim_responses;
    t.interim_responses_dropped += n.interim_responses_dropped;
    t.bodies_capped += n.bodies_capped;
    t.decode_errors += n.decode_errors;
}

/// A worker: replays its events into its own adapter and answers each batch with what the
/// adapter queued.
fn work(mut a: HttpAdapter<'static>, rx: &Receiver<ToWorker>, tx: &Sender<FromWorker>) {
    for m in rx {
        match m {
            ToWorker::Batch(mut b) => {
                for (at, conn, ev) in b.events.drain(..) {
                    a.shared.sink.at(at);
                    match ev {
                        Ev::Open(ts) => a.on_open(&conn, ts),
                        Ev::Data { dir, from, len, ts, packet } => {
                            let data = b.bytes.get(from..from + len).unwrap_or(&[]);
                            a.on_data(&conn, dir, data, ts, packet);
                        }
                        Ev::Gap(dir, len, ts) => a.on_gap(&conn, dir, len, ts),
                        Ev::Retrans { dir, behind, len, ts, packet } => {
                            a.on_retransmission(&conn, dir, behind, len, ts, packet);
                        }
                        Ev::Tls(info) => a.on_tls(&conn, &info),
                        Ev::Close(how, ts) => a.on_close(&conn, how, ts),
                    }
                }
                b.bytes.clear();
                if tx.send(FromWorker::Batch(a.take_queued(), b)).is_err() {
                    return;
                }
            }
            ToWorker::Finish => {
                let (items, n) = a.finish_queued();
                let _ = tx.send(FromWorker::Final(items, n));
                return;
            }
        }
    }
}

/// Read a pcap or pcapng capture into `sink` with `workers` threads parsing HTTP beside the
/// reading thread (see the module note); the sink gets exactly what a single-threaded
/// [`super::read_capture_with_keys`] gives it.
///
/// # Errors
/// When nothing could be read (bad magic, damaged header).
pub fn read_capture_sharded(
    input: Input,
    path: &Path,
    opts: &ReadOptions,
    keys: Arc<crate::tls::KeyLog>,
    workers: usize,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let file: Arc<str> = Arc::from(path.display().to_string());
    let keep_headers = sink.needs_headers();
    let preparer: Option<Arc<dyn Prepare>> = sink.preparer().filter(|p| p.content_only());
    let workers = workers.max(1);
    std::thread::scope(|s| {
        let mut lanes = Vec::with_capacity(workers);
        for i in 0..workers {
            let (to_tx, to_rx) = bounded::<ToWorker>(MAX_IN_FLIGHT + 2);
            let (from_tx, from_rx) = bounded::<FromWorker>(MAX_IN_FLIGHT + 2);
            let (file, opts, preparer) = (Arc::clone(&file), opts.clone(), preparer.clone());
            let spawned = std::thread::Builder::new().name(format!("apiscope-shard-{i}")).spawn_scoped(s, move || {
                work(HttpAdapter::queued(file, opts, keep_headers, preparer), &to_rx, &from_tx);
            });
            if let Err(e) = spawned {
                return Err(IngestError::Io { path: path.to_path_buf(), source: e });
            }
            lanes.push(Lane { tx: to_tx, rx: from_rx, batch: Batch::default(), got: VecDeque::new() });
        }
        let dispatch = Dispatch::new(sink, lanes);
        let mut layer = crate::tls::TlsLayer::new(dispatch, keys);
        let stats = crate::capture::read_packets(input, &CaptureOptions::default(), &mut layer)
            .map_err(|e| capture_error(e, path))?;
        let (dispatch, tls) = layer.finish();
        let http = dispatch.finish();
        Ok(super::summary(&stats, &http, &tls))
    })
}

/// The error of a capture nothing could be read from.
pub(super) fn capture_error(e: CaptureError, path: &Path) -> IngestError {
    match e {
        CaptureError::Io(source) => IngestError::Io { path: path.to_path_buf(), source },
        CaptureError::Empty => IngestError::Empty(path.to_path_buf()),
        CaptureError::NotCapture(why) => IngestError::Unrecognised { path: path.to_path_buf(), why },
        other => IngestError::Damaged { path: path.to_path_buf(), place: "file header".into(), why: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::path::PathBuf;

    use super::*;
    use crate::ingest::Prepared;
    use crate::model::Exchange;

    #[test]
    fn a_share_limits_reads_started_on_its_thread_only_and_ends_with_it() {
        let outside = super::threads();
        assert_eq!(super::with_share(usize::MAX, super::threads), 1);
        let inner_thread = super::with_share(usize::MAX, || std::thread::spawn(super::threads).join().unwrap());
        assert_eq!(inner_thread, outside);
        assert_eq!(super::threads(), outside);
    }

    #[test]
    fn both_directions_of_a_connection_go_to_the_same_worker() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!());
        let b: SocketAddr = "10.0.0.2:443".parse().unwrap_or_else(|_| unreachable!());
        for n in 1..8 {
            assert_eq!(lane_index(a, b, n), lane_index(b, a, n));
            assert!(lane_index(a, b, n) < n);
        }
    }

    #[test]
    fn connections_spread_over_the_workers() {
        let server: SocketAddr = "10.0.0.2:443".parse().unwrap_or_else(|_| unreachable!());
        let mut per = [0usize; 4];
        for port in 30000..34000u16 {
            let c = SocketAddr::from(([10, 1, (port % 7) as u8, 3], port));
            per[lane_index(c, server, 4)] += 1;
        }
        assert!(per.iter().all(|n| *n > 700), "{per:?}");
    }

    /// Every call the sink gets, as one JSON line each (exchanges whole: bodies, headers,
    /// timing, packets, `seq`), in order.
    #[derive(Default)]
    struct Lines {
        lines: Vec<String>,
        headers: bool,
        prepare: bool,
    }

    /// A content-only preparer that digests the response body and drops bodies, as the
    /// analyzer's does.
    struct Digest;

    impl Prepare for Digest {
        fn prepare(&self, ex: &Exchange) -> Prepared {
            Box::new(ex.response.as_ref().map(|r| crate::model::body_digest(&r.body.content)))
        }
        fn content_digest(&self) -> bool {
            true
        }
    }

    /// An exchange as JSON plus what JSON leaves out of its bodies (content, wire bytes,
    /// digest).
    fn line(ex: &Exchange) -> String {
        let mut s = serde_json::to_string(ex).unwrap_or_default();
        for b in std::iter::once(&ex.request.body).chain(ex.response.as_ref().map(|r| &r.body)) {
            let wire = b.wire.as_deref().map(crate::model::body_digest);
            s.push_str(&format!(" {:x} {wire:?} {:?}", crate::model::body_digest(&b.content), b.digest));
        }
        s
    }

    impl Sink for Lines {
        fn exchange(&mut self, ex: &Exchange) {
            self.lines.push(line(ex));
        }
        fn diagnostic(&mut self, d: &Diagnostic) {
            self.lines.push(format!("diagnostic {}", serde_json::to_string(d).unwrap_or_default()));
        }
        fn needs_headers(&self) -> bool {
            self.headers
        }
        fn preparer(&self) -> Option<Arc<dyn Prepare>> {
            self.prepare.then(|| Arc::new(Digest) as Arc<dyn Prepare>)
        }
        fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
            let digest = prepared.downcast::<Option<u64>>().map(|d| *d).ok().flatten();
            self.lines.push(format!("{digest:?} {}", line(ex)));
        }
    }

    fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                captures(&p, out);
            } else if name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".pcap.gz") {
                out.push(p);
            }
        }
    }

    fn bytes_of(p: &Path) -> Vec<u8> {
        let raw = std::fs::read(p).unwrap_or_default();
        if p.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            let _ = flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out);
            out
        } else {
            raw
        }
    }

    fn keys() -> Arc<crate::tls::KeyLog> {
        let mut k = crate::tls::KeyLog::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for f in ["tls/loopback-https.keylog", "h2/loopback-h2.pcap.keylog"] {
            let _ = k.add_file(&root.join(f));
        }
        Arc::new(k)
    }

    fn read(data: &[u8], workers: usize, sink: &mut Lines) -> Result<ReadSummary, String> {
        let (path, opts, keys) = (Path::new("x.pcap"), ReadOptions::default(), keys());
        let input = Input::Bytes(data.to_vec());
        let r = if workers == 0 {
            super::super::read_capture_single(input, path, &opts, keys, sink)
        } else {
            read_capture_sharded(input, path, &opts, keys, workers, sink)
        };
        r.map_err(|e| e.to_string())
    }

    #[test]
    fn sharded_reads_give_every_fixture_the_same_exchanges_diagnostics_and_counters_as_one_thread() {
        let mut files = Vec::new();
        captures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"), &mut files);
        assert!(files.len() > 20, "fixtures found: {files:?}");
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        for must in ["tls/loopback-https.pcap", "h2/loopback-h2.pcap", "demo.pcap.gz"] {
            assert!(names.iter().any(|n| n.ends_with(must)), "{must} missing");
        }
        let mut compared = 0;
        for f in &files {
            let data = bytes_of(f);
            for (headers, prepare) in [(true, false), (false, true)] {
                let mut one = Lines { headers, prepare, ..Lines::default() };
                let want = read(&data, 0, &mut one);
                for workers in [1, 2, 3] {
                    let mut many = Lines { headers, prepare, ..Lines::default() };
                    let got = read(&data, workers, &mut many);
                    let name = f.display();
                    assert_eq!(got.is_ok(), want.is_ok(), "{name}: {got:?} vs {want:?}");
                    if let (Ok(g), Ok(w)) = (&got, &want) {
                        assert_eq!(g.counters, w.counters, "{name}, {workers} workers");
                        assert_eq!((g.exchanges, g.bytes, g.connections), (w.exchanges, w.bytes, w.connections));
                    }
                    assert_eq!(many.lines.len(), one.lines.len(), "{name}, {workers} workers");
                    for (i, (a, b)) in many.lines.iter().zip(&one.lines).enumerate() {
                        assert_eq!(a, b, "{name}, {workers} workers, line {i}");
                    }
                    compared += one.lines.len();
                }
            }
        }
        assert!(compared > 10_000, "{compared} lines compared");
    }

    #[test]
    fn a_sharded_read_of_damaged_input_fails_as_one_thread_does() {
        for data in [&b""[..], b"not a capture at all", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]] {
            let (mut a, mut b) = (Lines::default(), Lines::default());
            let one = read(data, 0, &mut a).map(|_| ());
            let many = read(data, 2, &mut b).map(|_| ());
            assert_eq!(one, many);
            assert_eq!(a.lines, b.lines);
        }
    }
}
