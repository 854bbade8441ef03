//! The capture adapter: packets → reassembled TCP streams (`capture`) → HTTP/1.x messages
//! (`http`) → paired [`crate::model::Exchange`]s pushed into a [`super::Sink`].
//!
//! [`HttpAdapter`] implements [`StreamHandler`]: it keeps one [`h1::Parser`] per direction
//! of every open connection, recognises HTTP by content (any port), swaps the roles when the
//! side guessed as client turns out to send status lines, pairs responses with requests by
//! order (pipelining), attaches interim `1xx` responses, stops parsing after an upgrade or a
//! CONNECT tunnel, and turns gaps into diagnostics on the exchanges they touch.
//!
//! Timings are capture timestamps: a message starts at the earliest and ends at the latest
//! packet that carried any of its bytes, retransmitted copies included (a copy the tap saw
//! twice was lost after the tap, so the later copy is the one the peer received). To let a
//! late copy of a response's last segment still count, a finished exchange is held until
//! its connection carries newer bytes or closes; a copy of request bytes that arrives after
//! the response began is not counted (spurious retransmission). Per-connection state is
//! freed when the connection closes, so memory follows the number of open connections and
//! the largest message in flight (bodies are kept up to the body cap; with
//! [`ReadOptions::digest_bodies`] the rest is hashed as it streams past, not kept). A sink's
//! [`Prepare`] that reads only content ([`Prepare::content_only`]) runs when an exchange is
//! complete, before it is held, so that held exchanges keep no body bytes (nor response
//! header lines) the sink does not read ([`Prepare::drops_bodies`],
//! [`Prepare::drops_response_headers`]).
//!
//! A connection that turns out to speak HTTP/2 (the client preface or a server's SETTINGS
//! as its first bytes, an `Upgrade: h2c` answered by `101`, or ALPN `h2` announced through
//! [`StreamHandler::on_tls`]) is handed to the HTTP/2 reader in [`h2`], which emits one
//! exchange per stream through the same path.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::{IngestError, Prepare, Prepared, ReadOptions, ReadSummary, Sink};
use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use crate::capture::{CaptureOptions, Input};
use crate::http::decode;
use crate::http::feed::Feed;
use crate::http::h1::{self, EndEffect, Event, Foreign, GapEffect, Head, Parser, Side, StartLine};
use crate::http::h2::frame as h2frame;
use crate::http::ws::{self, WsConn};
use crate::model::message::Direction;
use crate::model::{
    Addr, Body, Diagnostic, Exchange, Headers, Nanos, Provenance, Request, Response, Severity, State, TlsInfo,
};

mod h2;
pub mod shard;
mod socks;

/// Requests waiting for a response on one connection before the oldest is given up.
const MAX_PENDING: usize = 1024;

/// Read a pcap or pcapng capture into `sink`.
///
/// # Errors
/// When nothing could be read (bad magic, damaged header).
pub fn read_capture(
    input: Input,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    read_capture_with_keys(input, path, opts, crate::tls::global_keys(), sink)
}

/// Read a pcap or pcapng capture into `sink`, decrypting TLS with `keys` (and any key log
/// the capture itself carries).
///
/// # Errors
/// When nothing could be read (bad magic, damaged header).
pub fn read_capture_with_keys(
    input: Input,
    path: &Path,
    opts: &ReadOptions,
    keys: Arc<crate::tls::KeyLog>,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let threads = shard::threads();
    if let Input::File(f) = &input {
        let big = f.metadata().is_ok_and(|m| m.len() >= shard::MIN_SHARDED_FILE);
        if threads > 1 && big {
            return shard::read_capture_sharded(input, path, opts, keys, threads, sink);
        }
    }
    read_capture_single(input, path, opts, keys, sink)
}

/// Read a pcap or pcapng capture into `sink` on the calling thread alone.
///
/// # Errors
/// When nothing could be read (bad magic, damaged header).
pub fn read_capture_single(
    input: Input,
    path: &Path,
    opts: &ReadOptions,
    keys: Arc<crate::tls::KeyLog>,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let file: Arc<str> = Arc::from(path.display().to_string());
    let adapter = HttpAdapter::new(file, opts.clone(), sink);
    let mut layer = crate::tls::TlsLayer::new(adapter, keys);
    let stats = crate::capture::read_packets(input, &CaptureOptions::default(), &mut layer)
        .map_err(|e| shard::capture_error(e, path))?;
    let (adapter, tls) = layer.finish();
    let http = adapter.finish();
    Ok(summary(&stats, &http, &tls))
}

/// The summary of a capture read from what each layer counted.
fn summary(stats: &crate::capture::CaptureStats, http: &HttpCounters, tls: &crate::tls::TlsCounts) -> ReadSummary {
    let mut counters = stats.counters();
    counters.extend(http.counters());
    if tls.any() {
        counters.extend(tls.counters());
    }
    ReadSummary {
        format: None,
        exchanges: http.exchanges,
        bytes: stats.bytes,
        connections: stats.connections,
        counters,
    }
}

/// What the HTTP layer counted over a whole capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCounters {
    /// Exchanges handed to the sink.
    pub exchanges: u64,
    /// … of which complete.
    pub complete: u64,
    /// … of which without a response.
    pub no_response: u64,
    /// … of which cut (by a gap, a reset or the end of the capture).
    pub aborted: u64,
    /// Connections that carried at least one HTTP/1.x message.
    pub http_connections: u64,
    /// Connections with data, none of it HTTP/1.x (TLS, h2c, other protocols).
    pub non_http_connections: u64,
    /// … of which TLS.
    pub tls_connections: u64,
    /// … of which HTTP/2 with prior knowledge.
    pub h2c_connections: u64,
    /// Connections without any payload.
    pub empty_connections: u64,
    /// Connections switched to another protocol by `101 Switching Protocols`.
    pub upgraded_connections: u64,
    /// Of those, connections switched to WebSocket (their frames become messages).
    pub websocket_connections: u64,
    /// Messages found inside exchanges (WebSocket messages, SSE events, NDJSON lines).
    pub stream_messages: u64,
    /// Connections turned into tunnels by a `2xx` answer to CONNECT.
    pub tunnel_connections: u64,
    /// Connections that started with a SOCKS 4/4a/5 handshake (read past it).
    pub socks_connections: u64,
    /// Bytes counted but not parsed (after upgrades, in tunnels, non-HTTP connections).
    pub opaque_bytes: u64,
    /// Connections whose roles were swapped (the guessed client sent status lines).
    pub roles_swapped: u64,
    /// Times a parser searched for the next message start (after a gap or damage).
    pub resyncs: u64,
    /// Bytes skipped while searching.
    pub skipped_bytes: u64,
    /// Malformed heads or chunk framing.
    pub malformed: u64,
    /// Responses with no request to pair with.
    pub orphan_responses: u64,
    /// Interim 1xx responses seen (attached to exchanges up to [`MAX_INTERIM`] each).
    pub interim_responses: u64,
    /// Interim responses counted but not kept (past [`MAX_INTERIM`] on one exchange).
    pub interim_responses_dropped: u64,
    /// Bodies cut at the body cap.
    pub bodies_capped: u64,
    /// Bodies whose content coding could not be undone.
    pub decode_errors: u64,
}

impl HttpCounters {
    /// Named counters for `--summary`.
    #[must_use]
    pub fn counters(&self) -> Vec<(String, u64)> {
        [
            ("http_exchanges", self.exchanges),
            ("http_complete", self.complete),
            ("http_no_response", self.no_response),
            ("http_aborted", self.aborted),
            ("http_connections", self.http_connections),
            ("non_http_connections", self.non_http_connections),
            ("tls_connections", self.tls_connections),
            ("h2c_connections", self.h2c_connections),
            ("empty_connections", self.empty_connections),
            ("upgraded_connections", self.upgraded_connections),
            ("websocket_connections", self.websocket_connections),
            ("stream_messages", self.stream_messages),
            ("tunnel_connections", self.tunnel_connections),
            ("socks_connections", self.socks_connections),
            ("opaque_bytes", self.opaque_bytes),
            ("roles_swapped", self.roles_swapped),
            ("http_resyncs", self.resyncs),
            ("http_skipped_bytes", self.skipped_bytes),
            ("http_malformed", self.malformed),
            ("orphan_responses", self.orphan_responses),
            ("interim_responses", self.interim_responses),
            ("interim_responses_dropped", self.interim_responses_dropped),
            ("bodies_capped", self.bodies_capped),
            ("decode_errors", self.decode_errors),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Everything the connections share: where exchanges go and what is counted.
struct Shared<'s> {
    sink: Out<'s>,
    opts: ReadOptions,
    file: Arc<str>,
    seq: u64,
    n: HttpCounters,
    /// The sink reads header lines (otherwise heads are parsed for framing only).
    keep_headers: bool,
    /// The sink's preparer, when it reads only content ([`Prepare::content_only`]).
    preparer: Option<Arc<dyn Prepare>>,
}

/// Where the adapter's exchanges and diagnostics go: into the sink, or, on a shard worker,
/// into a queue the reading thread merges back in event order.
enum Out<'s> {
    Sink(&'s mut dyn Sink),
    Queue(shard::Queue),
}

impl Out<'_> {
    fn diagnostic(&mut self, d: &Diagnostic) {
        match self {
            Self::Sink(s) => s.diagnostic(d),
            Self::Queue(q) => q.push(shard::Queued::Diagnostic(d.clone())),
        }
    }

    fn progress(&mut self, bytes_read: u64, total: Option<u64>) {
        if let Self::Sink(s) = self {
            s.progress(bytes_read, total);
        }
    }

    fn should_stop(&self) -> bool {
        match self {
            Self::Sink(s) => s.should_stop(),
            Self::Queue(_) => false,
        }
    }

    /// Whether the sink wants the response body of `ex` with `status`. A shard worker cannot
    /// ask the sink (it lives on the reading thread), so there every body is kept: the sink
    /// still sees the same exchanges, only without the saving.
    fn wants_response_body(&self, ex: &Exchange, status: u16) -> bool {
        match self {
            Self::Sink(s) => s.wants_response_body(ex, status),
            Self::Queue(_) => true,
        }
    }

    /// Tag what follows with event number `at` (queues only).
    fn at(&mut self, at: u64) {
        if let Self::Queue(q) = self {
            q.at = at;
        }
    }
}

/// Hasher for connection ids (small sequential integers, not attacker-chosen): one
/// multiplication instead of SipHash on the per-segment lookup.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type ConnMap = HashMap<u64, Box<Conn>, std::hash::BuildHasherDefault<IdHasher>>;

/// Turns reassembled TCP streams into exchanges; see the module note.
pub struct HttpAdapter<'s> {
    shared: Shared<'s>,
    /// Open connections; boxed so the table stays small and dense.
    conns: ConnMap,
}

impl<'s> HttpAdapter<'s> {
    /// An adapter pushing into `sink`; `file` names the input in every exchange's provenance.
    pub fn new(file: Arc<str>, opts: ReadOptions, sink: &'s mut dyn Sink) -> Self {
        let keep_headers = sink.needs_headers();
        let preparer = sink.preparer().filter(|p| p.content_only());
        Self {
            shared: Shared {
                sink: Out::Sink(sink),
                opts,
                file,
                seq: 0,
                n: HttpCounters::default(),
                keep_headers,
                preparer,
            },
            conns: ConnMap::default(),
        }
    }

    /// An adapter for a shard worker: exchanges and diagnostics are queued, each tagged with
    /// the event that produced it ([`shard::Queue`]), instead of going into a sink.
    fn queued(file: Arc<str>, opts: ReadOptions, keep_headers: bool, preparer: Option<Arc<dyn Prepare>>) -> Self {
        let sink = Out::Queue(shard::Queue::default());
        Self {
            shared: Shared { sink, opts, file, seq: 0, n: HttpCounters::default(), keep_headers, preparer },
            conns: ConnMap::default(),
        }
    }

    /// Close whatever is still open (as if the capture ended) and return the counters.
    pub fn finish(mut self) -> HttpCounters {
        let mut open: Vec<(u64, Box<Conn>)> = self.conns.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (_, mut c) in open {
            c.close(CloseKind::EndOfCapture, &mut self.shared);
        }
        self.shared.n
    }

    /// What a queued adapter made since the last call.
    fn take_queued(&mut self) -> Vec<(u64, shard::Queued)> {
        match &mut self.shared.sink {
            Out::Queue(q) => q.take(),
            Out::Sink(_) => Vec::new(),
        }
    }

    /// Close what is still open (as [`HttpAdapter::finish`]) and return what a queued
    /// adapter made with the counters.
    fn finish_queued(mut self) -> (Vec<(u64, shard::Queued)>, HttpCounters) {
        let mut open: Vec<(u64, Box<Conn>)> = self.conns.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (id, mut c) in open {
            self.shared.sink.at(shard::finish_tag(id));
            c.close(CloseKind::EndOfCapture, &mut self.shared);
        }
        let items = self.take_queued();
        (items, self.shared.n)
    }

    /// Counters so far.
    #[must_use]
    pub fn counters(&self) -> &HttpCounters {
        &self.shared.n
    }

    fn conn(&mut self, info: &ConnInfo) -> &mut Conn {
        let keep = self.shared.keep_headers;
        self.conns.entry(info.id).or_insert_with(|| Box::new(Conn::new(info, keep)))
    }
}

impl StreamHandler for HttpAdapter<'_> {
    fn on_open(&mut self, conn: &ConnInfo, _ts: Nanos) {
        self.conn(conn);
    }

    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        let shared = &mut self.shared;
        let keep = shared.keep_headers;
        let c = self.conns.entry(conn.id).or_insert_with(|| Box::new(Conn::new(conn, keep)));
        c.data(dir, data, ts, packet, shared);
    }

    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, _ts: Nanos) {
        let shared = &mut self.shared;
        let keep = shared.keep_headers;
        let c = self.conns.entry(conn.id).or_insert_with(|| Box::new(Conn::new(conn, keep)));
        c.gap(dir, len, shared);
    }

    fn on_retransmission(&mut self, conn: &ConnInfo, dir: Dir, behind: u64, len: u64, ts: Nanos, packet: u64) {
        if let Some(c) = self.conns.get_mut(&conn.id) {
            c.retransmission(dir, behind, len, ts, packet);
        }
    }

    fn on_tls(&mut self, conn: &ConnInfo, tls: &Arc<TlsInfo>) {
        let c = self.conn(conn);
        c.tls = Some(tls.clone());
        if tls.alpn.as_deref() == Some("h2") && c.h2.is_none() {
            c.h2 = Some(Box::new(h2::H2Conn::new(c.id, c.client, c.server, c.tls.clone())));
        }
    }

    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, _ts: Nanos) {
        if let Some(mut c) = self.conns.remove(&conn.id) {
            c.close(how, &mut self.shared);
        }
    }

    fn on_diagnostic(&mut self, d: Diagnostic) {
        self.shared.sink.diagnostic(&d);
    }

    fn on_progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.shared.sink.progress(bytes_read, total);
    }

    fn should_stop(&self) -> bool {
        self.shared.sink.should_stop()
    }
}

/// Packet numbers of a message or an exchange, in arrival order. Most messages fit in one
/// to four packets: those are held inline (no allocation, no pointer to chase per segment);
/// longer lists continue in `spill`.
#[derive(Debug, Default, Clone)]
struct Packets {
    inline: [u64; 4],
    len: u8,
    spill: Vec<u64>,
}

impl Packets {
    fn last(&self) -> Option<u64> {
        match self.spill.last() {
            Some(&p) => Some(p),
            None => self.inline.get(usize::from(self.len).checked_sub(1)?).copied(),
        }
    }

    fn push(&mut self, p: u64) {
        match self.inline.get_mut(usize::from(self.len)) {
            Some(slot) if self.spill.is_empty() => {
                *slot = p;
                self.len += 1;
            }
            _ => self.spill.push(p),
        }
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.inline.iter().take(usize::from(self.len)).chain(self.spill.iter()).copied()
    }

    fn count(&self) -> usize {
        usize::from(self.len) + self.spill.len()
    }

    fn extend(&mut self, other: &Packets) {
        for p in other.iter() {
            self.push(p);
        }
    }

    /// Sorted, without repeats (one allocation, exactly sized).
    fn into_sorted_vec(self) -> Vec<u64> {
        let mut v = Vec::with_capacity(self.count());
        v.extend(self.iter());
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// First and last capture time, the packets, and the stream bytes of one message.
#[derive(Debug, Default)]
struct Track {
    first: Option<Nanos>,
    last: Option<Nanos>,
    packets: Packets,
    /// Stream offsets (in its direction) of the message's first byte and one past its last.
    span: Option<(u64, u64)>,
}

impl Track {
    fn touch(&mut self, ts: Nanos, packet: u64) {
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
        if self.packets.last() != Some(packet) {
            self.packets.push(packet);
        }
    }

    fn cover(&mut self, from: u64, to: u64) {
        self.span = Some(self.span.map_or((from, to), |(a, b)| (a.min(from), b.max(to))));
    }
}

/// True when the stream range `[a, b)` shares a byte with `span`.
fn overlaps(span: Option<(u64, u64)>, a: u64, b: u64) -> bool {
    span.is_some_and(|(x, y)| a < y && x < b)
}

/// Widen a message's capture times with a later copy of its bytes.
fn widen(start: &mut Option<Nanos>, end: &mut Option<Nanos>, ts: Nanos) {
    *start = Some(start.map_or(ts, |s| s.min(ts)));
    *end = Some(end.map_or(ts, |e| e.max(ts)));
}

/// The running digest of a body too long to keep ([`BodyAcc::hasher`]).
struct Hasher(xxhash_rust::xxh3::Xxh3);

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

/// Body bytes of the message in progress (after de-chunking, before content decoding).
#[derive(Debug, Default)]
struct BodyAcc {
    kept: Vec<u8>,
    len: u64,
    over_cap: bool,
    /// Hash of the bytes so far, started when `kept` could no longer hold them all (only
    /// with [`ReadOptions::digest_bodies`]); until then the digest is that of `kept`.
    hasher: Option<Box<Hasher>>,
    codings: Vec<String>,
    encoding: Option<String>,
    /// A body cap of 0 for this body alone: the sink wants none of its bytes
    /// ([`Sink::wants_response_body`]).
    unwanted: bool,
}

/// What the response parser is framing right now.
/// Interim (1xx) responses kept per exchange; more are counted in
/// `interim_responses_dropped`.
pub const MAX_INTERIM: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RespTarget {
    /// The final response of the entry with this number.
    Final(u64),
    /// An interim 1xx response of that entry.
    Interim(u64),
    /// A response with no request.
    Orphan,
}

/// One direction of a connection.
struct Half {
    parser: Parser,
    track: Track,
    body: BodyAcc,
    /// Diagnostics for the next message this side starts (resync, gap before it).
    pending: Vec<Diagnostic>,
    skipped_run: u64,
    /// Why the message in progress is being ended early (gap, damage, close).
    cut: Option<String>,
}

impl Half {
    fn new(side: Side, midstream: bool, keep_headers: bool) -> Self {
        let mut parser = Parser::new(side);
        parser.set_keep_headers(keep_headers);
        if midstream {
            parser.start_midstream();
        }
        Self {
            parser,
            track: Track::default(),
            body: BodyAcc::default(),
            pending: Vec::new(),
            skipped_run: 0,
            cut: None,
        }
    }
}

/// A request and what has been seen of its response.
struct Entry {
    ex: Exchange,
    req_done: bool,
    resp_done: bool,
    wants_switch: bool,
    packets: Packets,
    /// Stream ranges of the request and of the final response (for retransmissions).
    req_span: Option<(u64, u64)>,
    resp_span: Option<(u64, u64)>,
    /// What the sink's content-only preparer made of the exchange once it was complete.
    prepared: Option<Prepared>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Http,
    Upgraded,
    Tunnel,
    Foreign(Foreign),
}

struct Conn {
    id: u64,
    id_text: String,
    client: SocketAddr,
    server: SocketAddr,
    syn_seen: bool,
    swapped: bool,
    req: Half,
    resp: Half,
    /// Boxed: an exchange is large, and it moves in and out of the queue by pointer.
    entries: VecDeque<Box<Entry>>,
    /// Finished exchanges held until the connection carries newer bytes (or closes), so
    /// that a retransmitted copy of their last segment can still move their end time.
    held: VecDeque<Box<Entry>>,
    /// Stream bytes delivered so far (data and gaps), per direction `[ToServer, ToClient]`.
    pos: [u64; 2],
    /// Number of the front entry (entries are numbered from 0 per connection).
    front_no: u64,
    /// The last entry's request is still being parsed.
    building_req: bool,
    /// A CONNECT was answered 2xx and the tunnel's bytes are being read as HTTP/1.x (what a
    /// plaintext tunnel carries); TLS or anything else inside it leaves it opaque.
    in_tunnel: bool,
    /// Messages parsed before the tunnel opened (the parsers start afresh inside it).
    before_tunnel: u64,
    /// A SOCKS handshake in progress at the connection's start.
    socks: Option<Box<socks::Socks>>,
    /// Where the SOCKS handshake asked to connect (`host:port`), once it is over.
    socks_dest: Option<String>,
    /// The connection's first bytes were looked at for a SOCKS handshake.
    socks_checked: bool,
    resp_target: Option<RespTarget>,
    mode: Mode,
    saw_data: bool,
    orphans: u64,
    /// The decrypted TLS session the connection's bytes come from, if any.
    tls: Option<Arc<TlsInfo>>,
    /// Set once the connection speaks HTTP/2: all later bytes go there.
    h2: Option<Box<h2::H2Conn>>,
    /// The connection's first bytes, held while they could still become the HTTP/2 preface.
    probe: Option<Box<Probe>>,
    /// Set once a `101` switched the connection to WebSocket: the upgrade exchange, held
    /// until the connection ends, and the frame parsers filling its messages.
    ws: Option<Box<WsState>>,
    /// The response body being split into messages (SSE, NDJSON), when it is one.
    feed: Option<Box<Feed>>,
    /// Capture time of the segment being parsed (messages completed in it take it).
    now: Nanos,
}

/// A connection after its `101 Switching Protocols` to WebSocket.
struct WsState {
    entry: Box<Entry>,
    conn: WsConn,
}

/// First bytes of a connection shorter than the HTTP/2 preface and equal to its start.
struct Probe {
    dir: Dir,
    bytes: Vec<u8>,
    ts: Nanos,
    packet: u64,
}

impl Conn {
    fn new(info: &ConnInfo, keep_headers: bool) -> Self {
        let midstream = !info.syn_seen;
        Self {
            id: info.id,
            id_text: info.id.to_string(),
            client: info.client,
            server: info.server,
            syn_seen: info.syn_seen,
            swapped: false,
            req: Half::new(Side::Request, midstream, keep_headers),
            resp: Half::new(Side::Response, midstream, keep_headers),
            entries: VecDeque::new(),
            held: VecDeque::new(),
            pos: [0; 2],
            front_no: 0,
            building_req: false,
            in_tunnel: false,
            before_tunnel: 0,
            socks: None,
            socks_dest: None,
            socks_checked: false,
            resp_target: None,
            mode: Mode::Http,
            saw_data: false,
            orphans: 0,
            tls: None,
            h2: None,
            probe: None,
            ws: None,
            feed: None,
            now: 0,
        }
    }

    fn side_of(&self, dir: Dir) -> Side {
        if (dir == Dir::ToServer) != self.swapped { Side::Request } else { Side::Response }
    }

    fn half(&mut self, side: Side) -> &mut Half {
        match side {
            Side::Request => &mut self.req,
            Side::Response => &mut self.resp,
        }
    }

    fn messages(&self) -> u64 {
        self.before_tunnel + self.req.parser.messages() + self.resp.parser.messages()
    }

    /// A CONNECT tunnel opened with nothing of its bytes parsed yet: read what it carries
    /// with fresh parsers (plaintext HTTP is parsed; TLS turns the tunnel opaque).
    fn enter_tunnel(&mut self, shared: &mut Shared<'_>) {
        self.before_tunnel = self.messages();
        let keep = shared.keep_headers;
        self.req = Half::new(Side::Request, false, keep);
        self.resp = Half::new(Side::Response, false, keep);
        self.in_tunnel = true;
        self.mode = Mode::Http;
        shared.n.tunnel_connections += 1;
    }

    /// Without a handshake the reassembler guesses who the client is; the content decides.
    fn maybe_swap(&mut self, dir: Dir, data: &[u8], shared: &mut Shared<'_>) {
        if self.syn_seen || self.swapped || self.mode != Mode::Http || self.messages() > 0 {
            return;
        }
        let wrong = match dir {
            Dir::ToServer => data.starts_with(b"HTTP/1."),
            Dir::ToClient => {
                let first_line = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1).min(8192);
                h1::find_message_start(Side::Request, &data[..first_line], true) == Some(0)
            }
        };
        if wrong {
            self.swap_roles(shared);
        }
    }

    fn swap_roles(&mut self, shared: &mut Shared<'_>) {
        self.swapped = true;
        std::mem::swap(&mut self.client, &mut self.server);
        self.req = Half::new(Side::Request, true, shared.keep_headers);
        self.resp = Half::new(Side::Response, true, shared.keep_headers);
        shared.n.roles_swapped += 1;
    }

    /// The first bytes of a connection decide whether it speaks HTTP/2: the client preface
    /// (from either side: its sender is the client) or, after a handshake, a SETTINGS frame
    /// from the server.
    fn detect_h2(&mut self, dir: Dir, data: &[u8], shared: &mut Shared<'_>) {
        if self.h2.is_some() || self.pos != [0, 0] || self.mode != Mode::Http {
            return;
        }
        let preface = h2frame::looks_like_preface(data);
        let server_first =
            !preface && dir == Dir::ToClient && self.syn_seen && h2frame::looks_like_server_settings(data);
        if !preface && !server_first {
            return;
        }
        if preface && dir == Dir::ToClient && !self.swapped {
            self.swap_roles(shared);
        }
        self.h2 = Some(Box::new(h2::H2Conn::new(self.id, self.client, self.server, self.tls.clone())));
    }

    /// After a `101` answering an `Upgrade: h2c` request (the front entry), the connection
    /// continues in HTTP/2 with that request as stream 1.
    fn start_h2_upgrade(&mut self, shared: &mut Shared<'_>) {
        let Some(mut e) = self.entries.pop_front() else { return };
        self.front_no += 1;
        // Not prepared yet (it never reached the held list); the stream's end will be.
        e.prepared = None;
        if let Some(r) = e.ex.response.take() {
            e.ex.interim.push(r);
            shared.n.interim_responses += 1;
        }
        let packets = std::mem::take(&mut e.packets);
        self.h2 =
            Some(Box::new(h2::H2Conn::upgraded(self.id, self.client, self.server, self.tls.clone(), e.ex, packets)));
    }

    /// After a `101` answering an `Upgrade: websocket` request (the front entry), the
    /// connection's bytes are WebSocket frames; the exchange waits for the connection's end.
    fn start_ws(&mut self, shared: &mut Shared<'_>) {
        let Some(entry) = self.entries.pop_front() else { return };
        self.front_no += 1;
        shared.n.websocket_connections += 1;
        let headers = entry.ex.response.as_ref().map(|r| r.headers.clone()).unwrap_or_default();
        let conn = WsConn::new(&headers, entry.ex.timing.response_start);
        self.ws = Some(Box::new(WsState { entry, conn }));
    }

    /// The WebSocket connection ended: its exchange leaves with the messages.
    fn finish_ws(&mut self, how: CloseKind, reason: &str, shared: &mut Shared<'_>) {
        let Some(w) = self.ws.take() else { return };
        let WsState { mut entry, conn } = *w;
        let why = match how {
            CloseKind::EndOfCapture => None,
            _ => Some(reason),
        };
        let (stream, diags) = conn.finish(why);
        shared.n.stream_messages += stream.count();
        entry.ex.diagnostics.extend(diags);
        entry.ex.stream = Some(Box::new(stream));
        emit(entry, shared);
    }

    fn data(&mut self, dir: Dir, data: &[u8], ts: Nanos, packet: u64, shared: &mut Shared<'_>) {
        if data.is_empty() {
            return;
        }
        if !self.socks_checked {
            self.socks_checked = true;
            if dir == Dir::ToServer && self.syn_seen && socks::looks_like_socks(data) {
                self.socks = Some(Box::default());
            }
        }
        if let Some(s) = self.socks.as_mut() {
            let step = s.feed(dir, data);
            let rest = match step {
                socks::Step::Pending => return,
                socks::Step::Done(dest, rest) => {
                    shared.n.socks_connections += 1;
                    self.socks_dest = Some(dest);
                    rest
                }
                socks::Step::Abandon(rest) => rest,
            };
            self.socks = None;
            let [c, sv] = rest;
            self.data(Dir::ToServer, &c, ts, packet, shared);
            self.data(Dir::ToClient, &sv, ts, packet, shared);
            return;
        }
        if let Some(p) = self.probe.take() {
            if p.dir == dir {
                let n = p.bytes.len();
                let mut joined = p.bytes;
                joined.extend_from_slice(data);
                if h2frame::may_become_preface(&joined) {
                    self.probe = Some(Box::new(Probe { bytes: joined, ..*p }));
                } else if h2frame::looks_like_preface(&joined) {
                    self.stream_data(dir, &joined, p.ts, p.packet, shared);
                } else {
                    self.stream_data(dir, &joined[..n], p.ts, p.packet, shared);
                    self.stream_data(dir, data, ts, packet, shared);
                }
                return;
            }
            self.stream_data(p.dir, &p.bytes, p.ts, p.packet, shared);
        } else if self.pos == [0, 0] && self.h2.is_none() && h2frame::may_become_preface(data) {
            self.probe = Some(Box::new(Probe { dir, bytes: data.to_vec(), ts, packet }));
            return;
        }
        self.stream_data(dir, data, ts, packet, shared);
    }

    /// Bytes held as a possible preface go their way before anything else happens.
    fn flush_probe(&mut self, shared: &mut Shared<'_>) {
        if let Some(p) = self.probe.take() {
            self.stream_data(p.dir, &p.bytes, p.ts, p.packet, shared);
        }
    }

    fn stream_data(&mut self, dir: Dir, data: &[u8], ts: Nanos, packet: u64, shared: &mut Shared<'_>) {
        if data.is_empty() {
            return;
        }
        self.saw_data = true;
        // Newer bytes: the held exchanges' messages are over for good.
        self.release(shared);
        self.detect_h2(dir, data, shared);
        if self.h2.is_none() {
            self.maybe_swap(dir, data, shared);
        }
        let side = self.side_of(dir);
        let base = self.pos[dir_index(dir)];
        self.pos[dir_index(dir)] = base + data.len() as u64;
        if let Some(h2) = self.h2.as_deref_mut() {
            h2.data(side, data, ts, packet, shared);
            return;
        }
        if let Some(w) = self.ws.as_deref_mut() {
            w.conn.push(direction(side), data, ts);
            return;
        }
        self.now = ts;
        let mut input = data;
        loop {
            let before = input.len();
            let at = base + (data.len() - before) as u64;
            let half = self.half(side);
            let ev = half.parser.next(&mut input);
            let consumed = before - input.len();
            if consumed > 0
                && !half.parser.is_opaque()
                && !matches!(ev, Event::Skipped(_) | Event::NotHttp(_) | Event::Malformed(_))
            {
                half.track.touch(ts, packet);
                half.track.cover(at, at + consumed as u64);
            }
            match ev {
                Event::NeedMore => break,
                other => self.event(side, other, shared),
            }
            if let Some(w) = self.ws.as_deref_mut() {
                // The head just parsed switched the connection to WebSocket.
                w.conn.push(direction(side), input, ts);
                break;
            }
            if let Some(h2) = self.h2.as_deref_mut() {
                // The head just parsed switched the connection to HTTP/2 (h2c upgrade).
                h2.data(side, input, ts, packet, shared);
                break;
            }
        }
    }

    /// A later copy of `len` delivered bytes, `behind` bytes before the end of `dir`: the
    /// messages those bytes belong to end (or start) when it was captured, if later
    /// (earlier). A request is not moved once its response has begun (a spurious
    /// retransmission after the server already answered); finished exchanges are reachable
    /// while held.
    fn retransmission(&mut self, dir: Dir, behind: u64, len: u64, ts: Nanos, packet: u64) {
        if self.h2.is_some() || self.probe.is_some() {
            return;
        }
        let end = self.pos[dir_index(dir)];
        let a = end.saturating_sub(behind);
        let b = a.saturating_add(len).min(end);
        if a >= b {
            return;
        }
        let side = self.side_of(dir);
        let half = self.half(side);
        if overlaps(half.track.span, a, b) {
            half.track.touch(ts, packet);
        }
        for e in self.held.iter_mut().chain(self.entries.iter_mut()) {
            let t = &mut e.ex.timing;
            let hit = match side {
                Side::Request if e.ex.response.is_none() && overlaps(e.req_span, a, b) => {
                    widen(&mut t.request_start, &mut t.request_end, ts);
                    true
                }
                Side::Response if overlaps(e.resp_span, a, b) => {
                    widen(&mut t.response_start, &mut t.response_end, ts);
                    true
                }
                Side::Request | Side::Response => false,
            };
            if hit {
                e.packets.push(packet);
            }
        }
    }

    /// Emit the held exchanges, in order.
    fn release(&mut self, shared: &mut Shared<'_>) {
        while let Some(e) = self.held.pop_front() {
            emit(e, shared);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, shared: &mut Shared<'_>) {
        self.flush_probe(shared);
        let i = dir_index(dir);
        self.pos[i] = self.pos[i].saturating_add(len);
        let side = self.side_of(dir);
        if let Some(h2) = self.h2.as_deref_mut() {
            h2.gap(side, len, shared);
            return;
        }
        if let Some(w) = self.ws.as_deref_mut() {
            w.conn.gap(direction(side), len);
            return;
        }
        let half = self.half(side);
        let started = half.parser.messages() > 0;
        match half.parser.gap(len) {
            GapEffect::Hole => {
                half.body.over_cap |= half.body.kept.len() as u64 != half.body.len;
                let d = Diagnostic::new(
                    Severity::Warning,
                    "tcp.gap",
                    format!("{len} bytes of the body were not captured; the body has a hole"),
                );
                half.pending.push(d);
            }
            GapEffect::CutBody => {
                half.cut = Some(gap_text(len));
                let mut empty: &[u8] = &[];
                loop {
                    match self.half(side).parser.next(&mut empty) {
                        Event::NeedMore => break,
                        ev => self.event(side, ev, shared),
                    }
                }
                shared.n.resyncs += 1;
            }
            GapEffect::CutHead => {
                shared.n.resyncs += 1;
                half.track = Track::default();
                half.pending.push(Diagnostic::new(
                    Severity::Warning,
                    "http.resync",
                    format!("a message head was cut by a {}; the message before this one was lost", gap_text(len)),
                ));
            }
            GapEffect::Between if started || len > 0 => {
                shared.n.resyncs += 1;
                half.pending.push(Diagnostic::new(
                    Severity::Warning,
                    "http.resync",
                    format!("{} before this message; earlier messages may be missing", gap_text(len)),
                ));
            }
            GapEffect::Between => {}
        }
    }

    fn event(&mut self, side: Side, ev: Event<'_>, shared: &mut Shared<'_>) {
        match ev {
            Event::NeedMore => {}
            Event::Head(h) => {
                self.flush_skipped(side);
                match side {
                    Side::Request => self.request_head(*h, shared),
                    Side::Response => self.response_head(*h, shared),
                }
            }
            Event::Body(b) => {
                if side == Side::Response {
                    if let Some(f) = self.feed.as_deref_mut() {
                        f.push(b, self.now);
                    }
                }
                keep_body(&mut self.half(side).body, b, &shared.opts);
            }
            Event::Trailers(t) => {
                let key = match side {
                    Side::Request => "request_trailers",
                    Side::Response => "response_trailers",
                };
                let value = serde_json::Value::Array(
                    t.iter().map(|h| serde_json::json!({ "name": h.name, "value": h.value })).collect(),
                );
                if let Some(ex) = self.current_exchange(side) {
                    if !ex.extra.is_object() {
                        ex.extra = serde_json::Value::Object(serde_json::Map::new());
                    }
                    if let Some(o) = ex.extra.as_object_mut() {
                        o.insert(key.to_string(), value);
                    }
                }
            }
            Event::End => match side {
                Side::Request => self.request_end(shared),
                Side::Response => self.response_end(shared),
            },
            Event::Skipped(n) => {
                shared.n.skipped_bytes += n;
                self.half(side).skipped_run += n;
            }
            Event::Malformed(why) => {
                shared.n.malformed += 1;
                shared.n.resyncs += 1;
                let in_msg = match side {
                    Side::Request => self.building_req,
                    Side::Response => self.resp_target.is_some(),
                };
                if in_msg {
                    // The body's framing broke: the message ends here, cut.
                    self.half(side).cut = Some(format!("damaged message: {why}"));
                    match side {
                        Side::Request => self.request_end(shared),
                        Side::Response => self.response_end(shared),
                    }
                } else {
                    self.half(side).track = Track::default();
                    self.half(side).pending.push(Diagnostic::new(
                        Severity::Warning,
                        "http.malformed",
                        format!("unparseable bytes before this message ({why}); skipped to the next message start"),
                    ));
                }
            }
            Event::NotHttp(kind) => self.not_http(side, kind, shared),
        }
    }

    /// Turn the count of skipped bytes into a diagnostic for the message that follows.
    fn flush_skipped(&mut self, side: Side) {
        let half = self.half(side);
        if half.skipped_run > 0 {
            let n = std::mem::take(&mut half.skipped_run);
            let what = if half.parser.messages() <= 1 && half.pending.is_empty() {
                "the capture starts inside a message"
            } else {
                "resynchronised"
            };
            half.pending.push(Diagnostic::new(
                Severity::Info,
                "http.resync",
                format!("{what}: {n} bytes skipped to reach this message"),
            ));
        }
    }

    fn not_http(&mut self, side: Side, kind: Foreign, shared: &mut Shared<'_>) {
        let last_wants_switch = self.entries.back().is_some_and(|e| e.wants_switch);
        if self.in_tunnel && self.messages() == self.before_tunnel {
            // TLS (or another protocol) inside the tunnel: opaque, as before parsing it.
            self.mode = Mode::Tunnel;
            self.in_tunnel = false;
            shared.n.tunnel_connections -= 1;
        } else if self.messages() == 0 {
            self.mode = Mode::Foreign(kind);
        } else if side == Side::Request && last_wants_switch {
            // Client bytes of the new protocol seen before the server's answer.
            self.mode = if self.entries.back().is_some_and(|e| e.ex.request.method.eq_ignore_ascii_case("CONNECT")) {
                Mode::Tunnel
            } else {
                Mode::Upgraded
            };
        } else {
            shared.n.malformed += 1;
            self.half(side).pending.push(Diagnostic::new(
                Severity::Warning,
                "http.not_http",
                "bytes that are not HTTP/1.x followed; the rest of this direction was not parsed",
            ));
        }
        self.req.parser.set_opaque();
        self.resp.parser.set_opaque();
    }

    fn current_exchange(&mut self, side: Side) -> Option<&mut Exchange> {
        let no = match side {
            Side::Request if self.building_req => self.front_no + self.entries.len() as u64 - 1,
            Side::Response => match self.resp_target? {
                RespTarget::Final(n) => n,
                _ => return None,
            },
            Side::Request => return None,
        };
        let idx = usize::try_from(no.checked_sub(self.front_no)?).ok()?;
        self.entries.get_mut(idx).map(|e| &mut e.ex)
    }

    fn entry(&mut self, no: u64) -> Option<&mut Entry> {
        let idx = usize::try_from(no.checked_sub(self.front_no)?).ok()?;
        self.entries.get_mut(idx).map(|e| &mut **e)
    }

    fn request_head(&mut self, h: Head, shared: &mut Shared<'_>) {
        if self.building_req {
            // Cannot happen with a consistent parser; end the previous one defensively.
            self.req.cut = Some("a new request started before this one ended".into());
            self.request_end(shared);
        }
        let framing = h1::request_framing(&h);
        self.req.parser.begin_body(framing);
        let mut diagnostics = std::mem::take(&mut self.req.pending);
        head_diagnostics(&h, &mut diagnostics);
        self.req.body = body_acc(&h);
        let version = h.version().to_string();
        let wants_switch = h.upgrade || h.method().is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
        let StartLine::Request { method, target, .. } = h.start else { return };
        let (mut scheme, mut host, target) = split_target(&method, target);
        if let Some(t) = &self.tls {
            scheme.get_or_insert_with(|| "https".into());
            if host.is_none() && !h.headers.iter().any(|x| x.name.eq_ignore_ascii_case("host")) {
                host.clone_from(&t.sni);
            }
        }
        if host.is_none() && !h.headers.iter().any(|x| x.name.eq_ignore_ascii_case("host")) {
            // Through a SOCKS proxy the handshake names the server.
            host.clone_from(&self.socks_dest);
        }
        let ex = Exchange {
            request: Request {
                method,
                scheme,
                host,
                target,
                version,
                headers: Headers(h.headers),
                body: Body::default(),
            },
            client: Some(Addr::from(self.client)),
            server: Some(Addr::from(self.server)),
            provenance: Provenance::of_connection(&shared.file, &self.id_text),
            diagnostics,
            tls: self.tls.clone(),
            ..Exchange::default()
        };
        self.entries.push_back(Box::new(Entry {
            ex,
            req_done: false,
            resp_done: false,
            wants_switch,
            packets: Packets::default(),
            req_span: None,
            resp_span: None,
            prepared: None,
        }));
        self.building_req = true;
        if self.entries.len() > MAX_PENDING {
            // A direction whose answers never come: give up on the oldest request.
            if let Some(front) = self.entries.front_mut() {
                if front.req_done && !front.resp_done {
                    front.resp_done = true;
                    front.ex.state = State::NoResponse(format!(
                        "no response seen before {MAX_PENDING} later requests on the connection"
                    ));
                }
            }
            self.emit_ready(shared);
        }
    }

    fn request_end(&mut self, shared: &mut Shared<'_>) {
        if !self.building_req {
            self.req.track = Track::default();
            self.req.cut = None;
            return;
        }
        self.building_req = false;
        let track = std::mem::take(&mut self.req.track);
        let acc = std::mem::take(&mut self.req.body);
        let wire = self.req.parser.body_wire();
        let hole = self.req.parser.body_has_hole();
        let cut = self.req.cut.take();
        let pending = std::mem::take(&mut self.req.pending);
        let no = self.front_no + self.entries.len() as u64 - 1;
        let Some(e) = self.entry(no) else { return };
        e.req_done = true;
        e.ex.timing.request_start = track.first;
        e.ex.timing.request_end = track.last;
        e.req_span = track.span;
        e.packets.extend(&track.packets);
        let (body, diags) = finish_body(acc, wire, hole, &shared.opts, &mut shared.n);
        e.ex.request.body = body;
        e.ex.diagnostics.extend(pending);
        e.ex.diagnostics.extend(diags);
        if let Some(why) = cut {
            e.ex.diagnostics.push(Diagnostic::new(Severity::Error, "http.request_cut", why.clone()));
            if e.ex.state == State::Complete {
                e.ex.state = State::Aborted(format!("request cut: {why}"));
            }
        }
        self.emit_ready(shared);
    }

    fn response_head(&mut self, h: Head, shared: &mut Shared<'_>) {
        let status = h.status().unwrap_or(0);
        // The oldest request still waiting for its final response.
        let waiting = self.entries.iter().position(|e| e.ex.response.is_none() && !e.resp_done);
        let Some(idx) = waiting else {
            shared.n.orphan_responses += 1;
            self.orphans += 1;
            if self.orphans == 1 {
                shared.sink.diagnostic(
                    &Diagnostic::new(
                        Severity::Warning,
                        "http.orphan_response",
                        format!("a {status} response with no request before it (the request was not captured)"),
                    )
                    .at(format!("connection {}", self.id)),
                );
            }
            self.resp.parser.begin_body(h1::response_framing(&h, None));
            self.resp.body = BodyAcc::default();
            self.resp_target = Some(RespTarget::Orphan);
            return;
        };
        let no = self.front_no + idx as u64;
        let Some(e) = self.entries.get_mut(idx) else { return };
        let framing = h1::response_framing(&h, Some(&e.ex.request.method));
        let is_connect = e.ex.request.method.eq_ignore_ascii_case("CONNECT");
        let mut diagnostics = std::mem::take(&mut self.resp.pending);
        head_diagnostics(&h, &mut diagnostics);
        e.ex.diagnostics.extend(diagnostics);
        let mut body = body_acc(&h);
        body.unwanted = !shared.sink.wants_response_body(&e.ex, status);
        let version = h.version().to_string();
        let StartLine::Response { reason, .. } = h.start else { return };
        let resp = Response { status, reason, version, headers: Headers(h.headers), body: Body::default() };
        let interim = (100..200).contains(&status) && status != 101;
        if interim && e.ex.interim.len() >= MAX_INTERIM {
            // Counted, not kept: an endless run of 1xx answers costs no memory.
            shared.n.interim_responses += 1;
            shared.n.interim_responses_dropped += 1;
            if e.ex.interim.len() == MAX_INTERIM && !e.ex.diagnostics.iter().any(|d| d.code == "http.interim_limit") {
                e.ex.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    "http.interim_limit",
                    format!("more than {MAX_INTERIM} interim (1xx) responses: the first {MAX_INTERIM} are kept, the rest only counted"),
                ));
            }
            self.resp_target = Some(RespTarget::Orphan);
        } else if interim {
            e.ex.interim.push(resp);
            shared.n.interim_responses += 1;
            self.resp_target = Some(RespTarget::Interim(no));
        } else {
            self.feed = feed_for(&resp).map(Box::new);
            e.ex.response = Some(resp);
            self.resp_target = Some(RespTarget::Final(no));
            if status == 101 {
                self.mode = Mode::Upgraded;
            } else if is_connect && (200..300).contains(&status) {
                self.mode = Mode::Tunnel;
            }
        }
        self.resp.body = body;
        self.resp.parser.begin_body(framing);
    }

    fn response_end(&mut self, shared: &mut Shared<'_>) {
        let track = std::mem::take(&mut self.resp.track);
        let acc = std::mem::take(&mut self.resp.body);
        let wire = self.resp.parser.body_wire();
        let hole = self.resp.parser.body_has_hole();
        let cut = self.resp.cut.take();
        let pending = std::mem::take(&mut self.resp.pending);
        match self.resp_target.take() {
            None | Some(RespTarget::Orphan) => {}
            Some(RespTarget::Interim(no)) => {
                if let Some(e) = self.entry(no) {
                    e.packets.extend(&track.packets);
                    e.ex.diagnostics.extend(pending);
                }
            }
            Some(RespTarget::Final(no)) => {
                let (body, diags) = finish_body(acc, wire, hole, &shared.opts, &mut shared.n);
                let upgrading = self.mode == Mode::Upgraded && no == self.front_no;
                let feed = self.feed.take();
                let Some(e) = self.entry(no) else { return };
                if let Some(f) = feed {
                    let (mut stream, diags) = f.finish(cut.as_deref());
                    stream.opened = track.first;
                    shared.n.stream_messages += stream.count();
                    e.ex.diagnostics.extend(diags);
                    e.ex.stream = Some(Box::new(stream));
                }
                e.resp_done = true;
                e.ex.timing.response_start = track.first;
                e.ex.timing.response_end = track.last;
                e.resp_span = track.span;
                e.packets.extend(&track.packets);
                if let Some(r) = e.ex.response.as_mut() {
                    r.body = body;
                }
                crate::http::feed::split_whole(&mut e.ex);
                e.ex.diagnostics.extend(pending);
                e.ex.diagnostics.extend(diags);
                if let Some(why) = cut {
                    e.ex.diagnostics.push(Diagnostic::new(Severity::Error, "http.response_cut", why.clone()));
                    e.ex.state = State::Aborted(format!("response cut: {why}"));
                }
                let to_h2 = upgrading && e.req_done && is_h2c_upgrade(&e.ex);
                let to_ws = upgrading && !to_h2 && is_ws_upgrade(&e.ex);
                match self.mode {
                    Mode::Tunnel if !self.req.parser.is_opaque() && !self.req.parser.in_message() => {
                        self.emit_ready(shared);
                        self.enter_tunnel(shared);
                        return;
                    }
                    Mode::Upgraded | Mode::Tunnel => {
                        self.req.parser.set_opaque();
                        self.resp.parser.set_opaque();
                    }
                    Mode::Http | Mode::Foreign(_) => {}
                }
                if to_h2 {
                    self.start_h2_upgrade(shared);
                    return;
                }
                if to_ws {
                    self.start_ws(shared);
                    return;
                }
                self.emit_ready(shared);
            }
        }
    }

    /// Move, in order, every exchange at the front whose request and response are done to
    /// the held list (emitted when newer bytes arrive or the connection closes).
    fn emit_ready(&mut self, shared: &mut Shared<'_>) {
        while self.entries.front().is_some_and(|e| e.req_done && e.resp_done) {
            if let Some(mut e) = self.entries.pop_front() {
                self.front_no += 1;
                prepare(&mut e, shared);
                self.held.push_back(e);
            }
        }
    }

    fn close(&mut self, how: CloseKind, shared: &mut Shared<'_>) {
        if let Some(s) = self.socks.take() {
            // A handshake never finished: its bytes are read as they are.
            let [c, sv] = s.into_held();
            let (ts, packet) = (0, 0);
            self.data(Dir::ToServer, &c, ts, packet, shared);
            self.data(Dir::ToClient, &sv, ts, packet, shared);
        }
        self.flush_probe(shared);
        let reason = match how {
            CloseKind::Fin => "connection closed",
            CloseKind::Rst => "connection reset",
            CloseKind::Idle => "connection idle past the timeout",
            CloseKind::Reused => "connection replaced by a new one on the same ports",
            CloseKind::EndOfCapture => "capture ended",
            CloseKind::MemoryCap => "stream memory cap reached",
            CloseKind::Evicted => "connection table full (closed early)",
        };
        for side in [Side::Request, Side::Response] {
            match self.half(side).parser.finish() {
                EndEffect::BodyEnded => self.end(side, shared),
                EndEffect::CutBody => {
                    self.half(side).cut = Some(format!("{reason} before the message ended"));
                    self.end(side, shared);
                }
                EndEffect::CutHead => {
                    shared.n.malformed += 1;
                    shared.sink.diagnostic(
                        &Diagnostic::new(
                            Severity::Warning,
                            "http.head_cut",
                            format!("{reason} in the middle of a message head; the message was lost"),
                        )
                        .at(format!("connection {}", self.id)),
                    );
                }
                EndEffect::Clean => {}
            }
        }
        // Ending the messages in progress may have finished exchanges: all go out in order.
        self.release(shared);
        self.finish_ws(how, reason, shared);
        let h2_exchanges = match self.h2.as_deref_mut() {
            Some(h2) => {
                h2.close(reason, how == CloseKind::EndOfCapture, shared);
                shared.n.h2c_connections += 1;
                h2.exchanges()
            }
            None => 0,
        };
        while let Some(mut e) = self.entries.pop_front() {
            self.front_no += 1;
            if !e.req_done {
                e.ex.state = State::Aborted(format!("request cut: {reason}"));
            } else if e.ex.response.is_none() {
                e.ex.state = State::NoResponse(reason.to_string());
            } else if !e.resp_done && e.ex.state == State::Complete {
                e.ex.state = State::Aborted(format!("response cut: {reason}"));
            }
            emit(e, shared);
        }
        let opaque = self.req.parser.opaque_bytes() + self.resp.parser.opaque_bytes();
        shared.n.opaque_bytes += opaque;
        match self.mode {
            Mode::Foreign(kind) => {
                shared.n.non_http_connections += 1;
                match kind {
                    Foreign::Tls => shared.n.tls_connections += 1,
                    Foreign::H2Preface => shared.n.h2c_connections += 1,
                    Foreign::Other => {}
                }
            }
            Mode::Upgraded => shared.n.upgraded_connections += 1,
            Mode::Tunnel => shared.n.tunnel_connections += 1,
            Mode::Http => {}
        }
        if self.messages() > 0 || h2_exchanges > 0 {
            shared.n.http_connections += 1;
        } else if !self.saw_data {
            shared.n.empty_connections += 1;
        } else if self.mode == Mode::Http {
            // Data that never formed a message (e.g. a stream caught mid-way and cut).
            shared.n.non_http_connections += 1;
        }
    }

    fn end(&mut self, side: Side, shared: &mut Shared<'_>) {
        match side {
            Side::Request => self.request_end(shared),
            Side::Response => self.response_end(shared),
        }
    }
}

fn dir_index(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

fn gap_text(len: u64) -> String {
    if len == 0 { "gap of unknown size in the capture".into() } else { format!("gap of {len} bytes in the capture") }
}

fn head_diagnostics(h: &Head, out: &mut Vec<Diagnostic>) {
    if h.bad_content_length {
        out.push(Diagnostic::new(
            Severity::Warning,
            "http.bad_content_length",
            "Content-Length is not a number or has conflicting values; it was ignored",
        ));
    }
    if let Some(why) = &h.lenient {
        out.push(Diagnostic::new(
            Severity::Warning,
            "http.lenient_request_line",
            format!("the request line is not valid HTTP/1.x ({why}); it was read as well as it could be"),
        ));
    }
    if h.folded {
        out.push(Diagnostic::new(
            Severity::Info,
            "http.obs_fold",
            "a header value continued on the next line (obsolete line folding); unfolded",
        ));
    }
}

/// Encoded (compressed or transfer-coded) bytes kept per message whatever the body cap, so
/// that the decoded size of a body cut by a small cap is still counted whole.
const ENCODED_KEEP: usize = 16 * 1024 * 1024;

/// Add body bytes `b` to `acc`: counted always, kept when bodies are kept. An encoded body
/// is kept whole (up to [`ENCODED_KEEP`]) so that its decoded size can be counted; the cap
/// applies to what decoding keeps. Bytes past the cap are hashed when digests are asked for.
fn keep_body(acc: &mut BodyAcc, b: &[u8], opts: &ReadOptions) {
    acc.len += b.len() as u64;
    if !opts.keep_bodies {
        return;
    }
    let cap = if acc.unwanted { 0 } else { opts.body_cap };
    let limit = if acc.codings.is_empty() { cap } else { cap.max(ENCODED_KEEP) };
    let room = limit.saturating_sub(acc.kept.len());
    if room < b.len() {
        acc.over_cap = true;
        if opts.digest_bodies && acc.hasher.is_none() {
            let mut h = Box::new(Hasher(xxhash_rust::xxh3::Xxh3::new()));
            h.0.update(&acc.kept);
            acc.hasher = Some(h);
        }
    }
    if let Some(h) = acc.hasher.as_deref_mut() {
        h.0.update(b);
    }
    acc.kept.extend_from_slice(&b[..room.min(b.len())]);
}

/// True when `ex` is an `Upgrade: websocket` request answered by `101 Switching Protocols`.
fn is_ws_upgrade(ex: &Exchange) -> bool {
    ex.response.as_ref().is_some_and(|r| r.status == 101) && ws::is_upgrade(&ex.request.headers)
}

/// The message splitter for a final response's body, when its media type is a stream and
/// no content coding hides its bytes (those are split whole once decoded).
fn feed_for(resp: &Response) -> Option<Feed> {
    let coded = resp.headers.get("content-encoding").is_some_and(|v| !decode::codings(v).is_empty());
    if coded {
        return None;
    }
    Feed::for_media_type(&resp.headers.content_type()?, None)
}

fn direction(side: Side) -> Direction {
    match side {
        Side::Request => Direction::ToServer,
        Side::Response => Direction::ToClient,
    }
}

/// True when `ex` is an `Upgrade: h2c` request answered by `101 Switching Protocols`.
fn is_h2c_upgrade(ex: &Exchange) -> bool {
    let has_h2c =
        |h: &Headers| h.get_all("upgrade").any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("h2c")));
    ex.response.as_ref().is_some_and(|r| r.status == 101 && has_h2c(&r.headers)) && has_h2c(&ex.request.headers)
}

fn body_acc(h: &Head) -> BodyAcc {
    let mut codings = h.content_encoding.as_deref().map(decode::codings).unwrap_or_default();
    codings.extend(h.transfer_codings.iter().cloned());
    BodyAcc { codings, encoding: h.content_encoding.clone(), ..BodyAcc::default() }
}

fn finish_body(
    acc: BodyAcc,
    wire: u64,
    hole: bool,
    opts: &ReadOptions,
    n: &mut HttpCounters,
) -> (Body, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let acc_unwanted = acc.unwanted;
    let mut body =
        Body { size: acc.len, wire_size: Some(wire), encoding: acc.encoding, truncated: hole, ..Body::default() };
    if !opts.keep_bodies || acc.len == 0 {
        return (body, diags);
    }
    if opts.digest_bodies {
        body.digest =
            Some(acc.hasher.as_deref().map_or_else(|| crate::model::body_digest(&acc.kept), |h| h.0.digest()));
    }
    let cap = if acc.unwanted { 0 } else { opts.body_cap };
    let trailer = if cap == 0 && !acc.over_cap && !hole { decode::trailer_size(&acc.codings, &acc.kept) } else { None };
    if acc.codings.is_empty() {
        body.truncated |= acc.over_cap;
        body.content = acc.kept;
    } else if let Some(size) = trailer {
        // Nothing of the content is kept: its size is all that is read, and gzip's trailer
        // holds it.
        body.size = size;
        body.truncated |= size > 0;
        body.wire = Some(Vec::new());
    } else {
        let d = decode::decode(&acc.codings, &acc.kept, cap);
        body.content = d.content;
        body.size = d.size;
        body.truncated |= d.truncated || acc.over_cap;
        if let Some(e) = d.error {
            n.decode_errors += 1;
            let why = if acc.over_cap || hole { format!("{e} (the encoded body was not kept whole)") } else { e };
            diags.push(Diagnostic::new(Severity::Warning, "http.decode", format!("content decoding failed: {why}")));
            body.decode_error = Some(why);
        }
        if d.count_limited {
            diags.push(Diagnostic::new(
                Severity::Warning,
                "http.decode_limit",
                format!(
                    "decoded size counted up to {} bytes only: the body expands more than {}× its {} encoded bytes \
                     (a possible decompression bomb), or the run's decoding budget is spent",
                    body.size,
                    decode::COUNT_RATIO,
                    acc.kept.len()
                ),
            ));
        }
        let mut wire_kept = acc.kept;
        wire_kept.truncate(cap);
        wire_kept.shrink_to_fit();
        body.wire = Some(wire_kept);
    }
    if body.truncated && !hole && !acc_unwanted {
        n.bodies_capped += 1;
    }
    if body.truncated && !hole && opts.note_cap && !acc_unwanted {
        diags.push(Diagnostic::new(
            Severity::Info,
            "http.body_cap",
            format!("body kept up to the {}-byte cap; full size {} bytes", opts.body_cap, body.size),
        ));
    }
    (body, diags)
}

/// Split an absolute-form target (`http://host/p`) into scheme, authority and path; CONNECT
/// targets (`host:port`) give the authority.
fn split_target(method: &str, target: String) -> (Option<String>, Option<String>, String) {
    if method.eq_ignore_ascii_case("CONNECT") {
        return (None, Some(target.clone()), target);
    }
    for scheme in ["http", "https"] {
        let Some(rest) = target.get(scheme.len()..).filter(|_| target[..scheme.len()].eq_ignore_ascii_case(scheme))
        else {
            continue;
        };
        if let Some(after) = rest.strip_prefix("://") {
            let cut = after.find(['/', '?']).unwrap_or(after.len());
            let (auth, path) = after.split_at(cut);
            let path = if path.is_empty() {
                "/".to_string()
            } else if path.starts_with('?') {
                format!("/{path}")
            } else {
                path.to_string()
            };
            return (Some(scheme.to_string()), Some(auth.to_string()), path);
        }
    }
    (None, None, target)
}

/// Run the sink's content-only preparer on a complete exchange (once), freeing its bodies
/// and response header lines when the preparer says the sink needs none.
fn prepare(e: &mut Entry, shared: &Shared<'_>) {
    let Some(p) = &shared.preparer else { return };
    if e.prepared.is_some() {
        return;
    }
    e.prepared = Some(p.prepare(&e.ex));
    if p.drops_bodies() {
        for body in std::iter::once(&mut e.ex.request.body).chain(e.ex.response.as_mut().map(|r| &mut r.body)) {
            body.content = Vec::new();
            body.wire = None;
        }
    }
    if p.drops_response_headers() {
        if let Some(r) = e.ex.response.as_mut() {
            r.headers = Headers::default();
        }
    }
}

fn emit(mut e: Box<Entry>, shared: &mut Shared<'_>) {
    prepare(&mut e, shared);
    e.ex.provenance.packets = std::mem::take(&mut e.packets).into_sorted_vec();
    shared.n.exchanges += 1;
    match e.ex.state {
        State::Complete => shared.n.complete += 1,
        State::NoResponse(_) => shared.n.no_response += 1,
        State::Aborted(_) | State::Failed(_) => shared.n.aborted += 1,
    }
    match &mut shared.sink {
        Out::Sink(sink) => {
            let Entry { mut ex, prepared, .. } = *e;
            ex.seq = shared.seq;
            shared.seq += 1;
            sink.take(ex, prepared);
        }
        Out::Queue(q) => q.push(shard::Queued::Exchange(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{IpAddr, Ipv6Addr};

    use super::*;
    use crate::ingest::Collect;

    /// One synthetic stream event.
    enum Ev<'a> {
        /// Bytes from the client (as the reassembler guessed it).
        C(&'a [u8]),
        /// Bytes from the server.
        S(&'a [u8]),
        /// A gap client → server.
        GapC(u64),
        /// A gap server → client.
        GapS(u64),
    }

    fn info(syn_seen: bool) -> ConnInfo {
        ConnInfo { id: 7, client: "10.0.0.1:50000".parse().unwrap(), server: "10.0.0.2:22".parse().unwrap(), syn_seen }
    }

    /// Play `events` on one connection (event i at ts = (i+1) ms, packet i+1), close it with
    /// `how`, and return what the sink got.
    fn play_with(conn: &ConnInfo, events: &[Ev<'_>], how: CloseKind, opts: ReadOptions) -> (Collect, HttpCounters) {
        let mut sink = Collect::default();
        let mut a = HttpAdapter::new(Arc::from("test.pcap"), opts, &mut sink);
        a.on_open(conn, 0);
        for (i, e) in events.iter().enumerate() {
            let ts = (i as i64 + 1) * 1_000_000;
            let pkt = i as u64 + 1;
            match e {
                Ev::C(d) => a.on_data(conn, Dir::ToServer, d, ts, pkt),
                Ev::S(d) => a.on_data(conn, Dir::ToClient, d, ts, pkt),
                Ev::GapC(n) => a.on_gap(conn, Dir::ToServer, *n, ts),
                Ev::GapS(n) => a.on_gap(conn, Dir::ToClient, *n, ts),
            }
        }
        a.on_close(conn, how, 1_000_000_000);
        let n = a.finish();
        (sink, n)
    }

    fn play(events: &[Ev<'_>]) -> (Collect, HttpCounters) {
        play_with(&info(true), events, CloseKind::Fin, ReadOptions::default())
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Collects like [`Collect`] but declares that it reads no headers.
    #[derive(Default)]
    struct NoHeaders(Collect);

    impl Sink for NoHeaders {
        fn exchange(&mut self, ex: &Exchange) {
            self.0.exchange(ex);
        }
        fn needs_headers(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_sink_that_reads_no_headers_gets_the_same_exchanges_without_header_lines() {
        let (client, server) = conversation();
        let conn = info(true);
        let (full, _) = play(&[Ev::C(&client), Ev::S(&server)]);
        let mut lean = NoHeaders::default();
        let mut a = HttpAdapter::new(Arc::from("test.pcap"), ReadOptions::default(), &mut lean);
        a.on_open(&conn, 0);
        a.on_data(&conn, Dir::ToServer, &client, 1_000_000, 1);
        a.on_data(&conn, Dir::ToClient, &server, 2_000_000, 2);
        a.on_close(&conn, CloseKind::Fin, 1_000_000_000);
        a.finish();
        let lean = lean.0;
        assert_eq!(summary(&lean), summary(&full));
        assert!(full.exchanges.iter().any(|e| !e.request.headers.is_empty()));
        for (l, f) in lean.exchanges.iter().zip(&full.exchanges) {
            assert!(l.request.headers.is_empty());
            assert!(l.response.as_ref().is_none_or(|r| r.headers.is_empty()));
            let sizes =
                |e: &Exchange| e.response.as_ref().map(|r| (r.body.size, r.body.wire_size, r.body.encoding.clone()));
            assert_eq!(sizes(l), sizes(f));
            assert_eq!(l.diagnostics.len(), f.diagnostics.len());
        }
    }

    /// A sink whose preparer records each response body's content (what a digest would
    /// read) and whether bodies may then be dropped; `content_only` says whether it reads
    /// only the messages.
    struct Digests {
        got: Vec<(Exchange, Option<Vec<u8>>)>,
        content_only: bool,
    }

    struct BodyCopy {
        content_only: bool,
    }

    impl crate::ingest::Prepare for BodyCopy {
        fn prepare(&self, ex: &Exchange) -> Prepared {
            Box::new(ex.response.as_ref().map(|r| r.body.content.clone()))
        }
        fn drops_bodies(&self) -> bool {
            true
        }
        fn drops_response_headers(&self) -> bool {
            true
        }
        fn content_only(&self) -> bool {
            self.content_only
        }
    }

    impl Sink for Digests {
        fn exchange(&mut self, ex: &Exchange) {
            self.got.push((ex.clone(), None));
        }
        fn preparer(&self) -> Option<Arc<dyn Prepare>> {
            Some(Arc::new(BodyCopy { content_only: self.content_only }))
        }
        fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
            let body = prepared.downcast::<Option<Vec<u8>>>().map(|b| *b).unwrap_or_default();
            self.got.push((ex.clone(), Some(body.unwrap_or_default())));
        }
    }

    fn play_into(sink: &mut dyn Sink, client: &[u8], server: &[u8]) {
        let conn = info(true);
        let mut a = HttpAdapter::new(Arc::from("test.pcap"), ReadOptions::default(), sink);
        a.on_open(&conn, 0);
        a.on_data(&conn, Dir::ToServer, client, 1_000_000, 1);
        a.on_data(&conn, Dir::ToClient, server, 2_000_000, 2);
        a.on_close(&conn, CloseKind::Fin, 1_000_000_000);
        a.finish();
    }

    #[test]
    fn content_only_preparers_see_whole_bodies_and_held_exchanges_keep_none_nor_response_headers() {
        let (client, server) = conversation();
        let (full, _) = play(&[Ev::C(&client), Ev::S(&server)]);
        let mut sink = Digests { got: Vec::new(), content_only: true };
        play_into(&mut sink, &client, &server);
        assert_eq!(sink.got.len(), full.exchanges.len());
        assert!(full.exchanges.iter().any(|e| e.response.as_ref().is_some_and(|r| !r.body.content.is_empty())));
        for ((ex, prepared), f) in sink.got.iter().zip(&full.exchanges) {
            // prepared from the whole decoded body, once, in order …
            let whole = f.response.as_ref().map(|r| r.body.content.clone()).unwrap_or_default();
            assert_eq!(prepared.as_deref(), Some(&whole[..]), "{}", f.request.target);
            // … and handed over without body bytes but with the same sizes, timing and seq
            assert!(ex.request.body.content.is_empty() && ex.request.body.wire.is_none());
            assert!(ex.response.as_ref().is_none_or(|r| r.body.content.is_empty() && r.body.wire.is_none()));
            assert!(ex.response.as_ref().is_none_or(|r| r.headers.is_empty()));
            assert_eq!(ex.status(), f.status());
            let sizes = |e: &Exchange| {
                (e.request.body.size, e.response.as_ref().map(|r| (r.body.size, r.body.wire_size, r.body.truncated)))
            };
            assert_eq!(sizes(ex), sizes(f));
            assert_eq!((ex.seq, &ex.timing, &ex.state), (f.seq, &f.timing, &f.state));
            assert_eq!(ex.diagnostics.len(), f.diagnostics.len());
        }
    }

    #[test]
    fn preparers_that_read_more_than_content_are_not_run_by_the_capture_adapter() {
        let (client, server) = conversation();
        let (full, _) = play(&[Ev::C(&client), Ev::S(&server)]);
        let mut sink = Digests { got: Vec::new(), content_only: false };
        play_into(&mut sink, &client, &server);
        assert_eq!(sink.got.len(), full.exchanges.len());
        for ((ex, prepared), f) in sink.got.iter().zip(&full.exchanges) {
            assert!(prepared.is_none());
            assert_eq!(ex.response.as_ref().map(|r| &r.body.content), f.response.as_ref().map(|r| &r.body.content));
        }
    }

    #[test]
    fn pipelined_requests_pair_by_order_with_timing_and_packets() {
        let (out, n) = play(&[
            Ev::C(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ev::C(b"HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n"),
            Ev::S(b"bb"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
        ]);
        let got: Vec<_> = out.exchanges.iter().map(|e| (e.request.target.as_str(), e.status())).collect();
        assert_eq!(got, [("/a", Some(200)), ("/b", Some(404)), ("/c", Some(200))]);
        let b = &out.exchanges[1];
        assert_eq!(b.response.as_ref().unwrap().body.content, b"bb");
        assert_eq!(b.timing.request_start, Some(1_000_000));
        assert_eq!(b.timing.request_end, Some(1_000_000));
        assert_eq!(b.timing.response_start, Some(3_000_000));
        assert_eq!(b.timing.response_end, Some(4_000_000));
        assert_eq!(b.provenance.packets, [1, 3, 4]);
        assert_eq!(b.provenance.connection.as_deref(), Some("7"));
        assert_eq!(out.exchanges[2].provenance.packets, [2, 5]);
        assert!(out.exchanges.iter().all(|e| e.state == State::Complete));
        assert_eq!(n.complete, 3);
        assert_eq!(out.exchanges.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn later_copies_of_a_messages_bytes_move_its_end_time_until_newer_bytes_arrive() {
        let conn = info(true);
        let mut sink = Collect::default();
        let mut a = HttpAdapter::new(Arc::from("test.pcap"), ReadOptions::default(), &mut sink);
        let ms = |n: i64| n * 1_000_000;
        let req = b"POST /o HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
        let resp = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        a.on_open(&conn, 0);
        a.on_data(&conn, Dir::ToServer, &req[..20], ms(1), 1);
        a.on_data(&conn, Dir::ToServer, &req[20..], ms(2), 2);
        // The request's last segment again (the first copy was lost after the tap).
        a.on_retransmission(&conn, Dir::ToServer, (req.len() - 20) as u64, (req.len() - 20) as u64, ms(5), 3);
        a.on_data(&conn, Dir::ToClient, resp, ms(9), 4);
        // A spurious copy of request bytes after the response began moves nothing.
        a.on_retransmission(&conn, Dir::ToServer, 4, 4, ms(10), 5);
        // The response's last bytes again: the exchange is held, so its end moves.
        a.on_retransmission(&conn, Dir::ToClient, 2, 2, ms(12), 6);
        assert!(a.counters().exchanges == 0, "held until newer bytes or the close");
        a.on_data(&conn, Dir::ToServer, b"GET /n HTTP/1.1\r\n\r\n", ms(20), 7);
        assert_eq!(a.counters().exchanges, 1);
        // Too late for the first exchange: it was handed over when newer bytes came.
        a.on_retransmission(&conn, Dir::ToClient, 2, 2, ms(21), 8);
        a.on_close(&conn, CloseKind::Fin, ms(30));
        a.finish();
        let e = &sink.exchanges[0];
        assert_eq!(e.timing.request_start, Some(ms(1)));
        assert_eq!(e.timing.request_end, Some(ms(5)));
        assert_eq!(e.timing.response_start, Some(ms(9)));
        assert_eq!(e.timing.response_end, Some(ms(12)));
        assert_eq!(e.provenance.packets, [1, 2, 3, 4, 6]);
        assert_eq!(sink.exchanges.len(), 2);
        assert_eq!(sink.exchanges[1].state, State::NoResponse("connection closed".into()));
    }

    #[test]
    fn a_damaged_first_request_is_reported_and_the_next_ones_kept() {
        let (out, n) = play(&[
            Ev::C(b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /ok2 HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ev::S(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]);
        let targets: Vec<&str> = out.exchanges.iter().map(|e| e.request.target.as_str()).collect();
        assert!(targets.contains(&"/ok") && targets.contains(&"/ok2"), "{targets:?}");
        assert!(n.malformed >= 1);
        let said = out
            .exchanges
            .iter()
            .flat_map(|e| &e.diagnostics)
            .chain(&out.diagnostics)
            .any(|d| d.message.contains("unparseable"));
        assert!(said, "the damaged request is reported");
    }

    #[test]
    fn a_reason_phrase_with_control_bytes_still_pairs_the_response() {
        let (out, _) = play(&[
            Ev::C(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 O\x1b[2JK\r\nContent-Length: 2\r\n\r\nhi"),
        ]);
        let e = &out.exchanges[0];
        assert_eq!(e.status(), Some(200));
        let r = e.response.as_ref().unwrap();
        assert_eq!(r.reason, "O\x1b[2JK");
        assert_eq!(r.body.content, b"hi");
    }

    #[test]
    fn an_endless_run_of_interim_responses_is_counted_not_kept() {
        let flood = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(1000);
        let (out, n) = play(&[
            Ev::C(b"PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata"),
            Ev::S(&flood),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ]);
        let e = &out.exchanges[0];
        assert_eq!(e.interim.len(), MAX_INTERIM);
        assert_eq!(e.status(), Some(200));
        assert_eq!(n.interim_responses, 1000);
        assert_eq!(n.interim_responses_dropped, 1000 - MAX_INTERIM as u64);
        assert_eq!(e.diagnostics.iter().filter(|d| d.code == "http.interim_limit").count(), 1);
    }

    #[test]
    fn expect_100_continue_attaches_the_interim_response() {
        let (out, n) = play(&[
            Ev::C(b"PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
            Ev::S(b"HTTP/1.1 100 Continue\r\n\r\n"),
            Ev::C(b"data"),
            Ev::S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        ]);
        assert_eq!(out.exchanges.len(), 1);
        let e = &out.exchanges[0];
        assert_eq!(e.interim.len(), 1);
        assert_eq!(e.interim[0].status, 100);
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.request.body.content, b"data");
        assert_eq!(e.timing.request_end, Some(3_000_000));
        assert_eq!(e.timing.response_start, Some(4_000_000));
        assert_eq!(e.response.as_ref().unwrap().body.content, b"ok");
        assert_eq!(e.provenance.packets, [1, 2, 3, 4]);
        assert_eq!(n.interim_responses, 1);
    }

    #[test]
    fn gzip_body_is_decoded_and_wire_kept() {
        let body = br#"{"k":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"}"#;
        let wire = gz(body);
        let mut resp =
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", wire.len()).into_bytes();
        resp.extend_from_slice(&wire);
        let (out, _) = play(&[Ev::C(b"GET / HTTP/1.1\r\n\r\n"), Ev::S(&resp)]);
        let b = &out.exchanges[0].response.as_ref().unwrap().body;
        assert_eq!(b.content, body);
        assert_eq!(b.size, body.len() as u64);
        assert_eq!(b.wire.as_deref(), Some(&wire[..]));
        assert_eq!(b.wire_size, Some(wire.len() as u64));
        assert_eq!(b.encoding.as_deref(), Some("gzip"));
        assert!(!b.truncated);
    }

    #[test]
    fn body_cap_is_shown_and_size_still_counted() {
        let body = vec![b'x'; 100_000];
        let wire = gz(&body);
        let mut resp =
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", wire.len()).into_bytes();
        resp.extend_from_slice(&wire);
        let opts = ReadOptions { body_cap: 1000, ..ReadOptions::default() };
        let (out, n) = play_with(&info(true), &[Ev::C(b"GET / HTTP/1.1\r\n\r\n"), Ev::S(&resp)], CloseKind::Fin, opts);
        let e = &out.exchanges[0];
        let b = &e.response.as_ref().unwrap().body;
        assert_eq!(b.content.len(), 1000);
        assert_eq!(b.size, 100_000);
        assert!(b.truncated);
        assert!(e.diagnostics.iter().any(|d| d.code == "http.body_cap"));
        assert_eq!(n.bodies_capped, 1);
    }

    #[test]
    fn a_digest_covers_the_whole_body_whatever_the_cap_keeps() {
        // A chunked body streamed in pieces: with no byte kept, the digest still equals the
        // hash of all of it, and of nothing else (a different last byte changes it).
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let mut other = body.clone();
        *other.last_mut().unwrap() ^= 1;
        let digest_of = |b: &[u8], cap: usize| {
            let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for piece in b.chunks(7000) {
                resp.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                resp.extend_from_slice(piece);
                resp.extend_from_slice(b"\r\n");
            }
            resp.extend_from_slice(b"0\r\n\r\n");
            let evs: Vec<Ev<'_>> =
                std::iter::once(Ev::C(b"GET / HTTP/1.1\r\n\r\n")).chain(resp.chunks(3000).map(Ev::S)).collect();
            let opts = ReadOptions { body_cap: cap, note_cap: false, digest_bodies: true, ..ReadOptions::default() };
            let (out, _) = play_with(&info(true), &evs, CloseKind::Fin, opts);
            let e = &out.exchanges[0];
            assert!(e.diagnostics.iter().all(|d| d.code != "http.body_cap"), "note_cap off: no cap diagnostic");
            let b = &e.response.as_ref().unwrap().body;
            assert_eq!(b.size, 50_000);
            (b.digest, b.content.len())
        };
        let whole = Some(crate::model::body_digest(&body));
        assert_eq!(digest_of(&body, 0), (whole, 0));
        assert_eq!(digest_of(&body, 10_000), (whole, 10_000));
        assert_eq!(digest_of(&body, 1 << 20), (whole, 50_000));
        assert_ne!(digest_of(&other, 0).0, whole);
    }

    #[test]
    fn without_digest_bodies_no_digest_is_made() {
        let opts = ReadOptions { body_cap: 2, ..ReadOptions::default() };
        let (out, _) = play_with(
            &info(true),
            &[Ev::C(b"GET / HTTP/1.1\r\n\r\n"), Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")],
            CloseKind::Fin,
            opts,
        );
        let b = &out.exchanges[0].response.as_ref().unwrap().body;
        assert_eq!((b.digest, b.content.as_slice(), b.truncated), (None, &b"he"[..], true));
    }

    #[test]
    fn a_small_cap_still_counts_the_decoded_size_of_a_big_encoded_body() {
        // Noise does not compress: the gzip stream is longer than the cap, yet the decoded
        // size must be the whole body's, not that of a cut stream.
        let mut x = 1_u32;
        let body: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let wire = gz(&body);
        assert!(wire.len() > 50_000);
        let mut resp =
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", wire.len()).into_bytes();
        resp.extend_from_slice(&wire);
        let opts = ReadOptions { body_cap: 1000, ..ReadOptions::default() };
        let (out, n) = play_with(&info(true), &[Ev::C(b"GET / HTTP/1.1\r\n\r\n"), Ev::S(&resp)], CloseKind::Fin, opts);
        let b = &out.exchanges[0].response.as_ref().unwrap().body;
        assert_eq!((b.size, b.content.len(), b.truncated), (100_000, 1000, true));
        assert_eq!(b.content, body[..1000]);
        assert!(b.decode_error.is_none(), "{:?}", b.decode_error);
        assert_eq!(b.wire.as_ref().map(Vec::len), Some(1000), "the wire copy is cut to the cap too");
        assert_eq!(b.wire_size, Some(wire.len() as u64));
        assert_eq!(n.bodies_capped, 1);
    }

    #[test]
    fn without_keep_bodies_nothing_is_copied_but_sizes_are_counted() {
        let (out, _) = play_with(
            &info(true),
            &[
                Ev::C(b"POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                Ev::S(b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello"),
            ],
            CloseKind::Fin,
            ReadOptions { keep_bodies: false, ..ReadOptions::default() },
        );
        let e = &out.exchanges[0];
        assert!(e.request.body.content.is_empty());
        assert_eq!(e.request.body.size, 3);
        assert_eq!(e.request.body.wire_size, Some(13));
        assert_eq!(e.response.as_ref().unwrap().body.size, 5);
    }

    #[test]
    fn a_response_body_the_sink_does_not_want_keeps_only_its_size_and_digest() {
        /// Wants no body of a 200 answer; keeps every exchange.
        #[derive(Default)]
        struct No200(Collect);
        impl Sink for No200 {
            fn exchange(&mut self, ex: &Exchange) {
                self.0.exchange(ex);
            }
            fn wants_response_body(&self, ex: &Exchange, status: u16) -> bool {
                assert_eq!(ex.request.target, "/f", "the request is filled in when asked");
                status != 200
            }
        }
        let conn = info(true);
        let mut sink = No200::default();
        let opts = ReadOptions { digest_bodies: true, note_cap: true, ..ReadOptions::default() };
        let mut a = HttpAdapter::new(Arc::from("test.pcap"), opts.clone(), &mut sink);
        a.on_open(&conn, 0);
        a.on_data(&conn, Dir::ToServer, b"GET /f HTTP/1.1\r\n\r\n", 1, 1);
        a.on_data(&conn, Dir::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 2, 2);
        a.on_data(&conn, Dir::ToServer, b"GET /f HTTP/1.1\r\n\r\n", 3, 3);
        a.on_data(&conn, Dir::ToClient, b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!", 4, 4);
        a.on_close(&conn, CloseKind::Fin, 1_000_000_000);
        let n = a.finish();
        let (unwanted, wanted) = (&sink.0.exchanges[0], &sink.0.exchanges[1]);
        let body = &unwanted.response.as_ref().unwrap().body;
        assert!(body.content.is_empty());
        assert_eq!(body.size, 5);
        assert_eq!(body.digest, Some(crate::model::body_digest(b"hello")));
        assert!(unwanted.diagnostics.iter().all(|d| d.code != "http.body_cap"), "not a cap the user set");
        assert_eq!(n.bodies_capped, 0);
        assert_eq!(wanted.response.as_ref().unwrap().body.content, b"nope!");
    }

    #[test]
    fn multipart_request_body_is_kept_verbatim() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nline\r\n--XX--\r\n";
        let mut req = format!(
            "POST /post HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let (out, _) =
            play(&[Ev::C(&req[..40]), Ev::C(&req[40..]), Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]);
        let e = &out.exchanges[0];
        assert_eq!(e.request.body.content, body);
        assert_eq!(e.request.headers.content_type().as_deref(), Some("multipart/form-data"));
    }

    #[test]
    fn websocket_upgrade_turns_the_rest_of_the_connection_into_messages() {
        let (out, n) = play(&[
            Ev::C(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
            Ev::S(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
            ),
            Ev::C(b"\x81\x85abcdefghi"),
            Ev::S(b"\x81\x02hi"),
        ]);
        assert_eq!(out.exchanges.len(), 1);
        assert_eq!(out.exchanges[0].status(), Some(101));
        assert_eq!(out.exchanges[0].state, State::Complete);
        assert_eq!(n.upgraded_connections, 1);
        assert_eq!(n.websocket_connections, 1);
        assert_eq!(n.stream_messages, 3);
        assert_eq!(n.opaque_bytes, 0);
        assert_eq!(n.malformed, 0);
        let s = out.exchanges[0].stream.as_ref().expect("messages");
        let texts: Vec<&[u8]> = s.messages.iter().map(|m| m.payload.as_slice()).collect();
        // The client's masked 5 bytes `abcd` ^ `efghi`.
        let unmasked: Vec<u8> = b"efghi".iter().zip(b"abcd".iter().cycle()).map(|(x, k)| x ^ k).collect();
        assert_eq!(texts, vec![&b"hello"[..], &unmasked, b"hi"]);
        // Closed by TCP without a close frame: the stream was cut.
        assert_eq!(s.end, crate::model::message::StreamEnd::Cut { reason: "connection closed".into() });
    }

    #[test]
    fn connect_tunnel_stops_http_parsing_after_the_2xx() {
        let (out, n) = play(&[
            Ev::C(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Ev::C(b"\x16\x03\x01\x00\x05hello"),
            Ev::S(b"\x16\x03\x03\x00\x02hi"),
        ]);
        assert_eq!(out.exchanges.len(), 1);
        let e = &out.exchanges[0];
        assert_eq!(e.request.method, "CONNECT");
        assert_eq!(e.request.host.as_deref(), Some("example.com:443"));
        assert_eq!(e.response.as_ref().unwrap().body.size, 0);
        assert_eq!(n.tunnel_connections, 1);
        assert_eq!(n.opaque_bytes, 10 + 7);
    }

    #[test]
    fn plaintext_http_inside_a_connect_tunnel_is_parsed() {
        let (out, n) = play(&[
            Ev::C(b"CONNECT api.example:80 HTTP/1.1\r\nHost: api.example:80\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Ev::C(b"GET /inside HTTP/1.1\r\nHost: api.example\r\n\r\n"),
            Ev::S(b"HTTP/1.1 204 No Content\r\n\r\n"),
        ]);
        let got: Vec<(&str, Option<u16>)> =
            out.exchanges.iter().map(|e| (e.request.target.as_str(), e.status())).collect();
        assert_eq!(got, [("api.example:80", Some(200)), ("/inside", Some(204))]);
        assert_eq!((n.tunnel_connections, n.http_connections, n.malformed), (1, 1, 0));
    }

    #[test]
    fn socks5_and_socks4a_handshakes_are_read_past() {
        let mut c5 = vec![5, 1, 0, 5, 1, 0, 3, 11];
        c5.extend(b"api.example");
        c5.extend([0, 80]);
        let s5 = [5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 80];
        let mut c4 = vec![4, 1, 0, 80, 0, 0, 0, 9];
        c4.extend(b"\0api.example\0");
        let s4 = [0, 0x5a, 0, 0, 0, 0, 0, 0];
        for (c, s) in [(&c5[..], &s5[..]), (&c4[..], &s4[..])] {
            let (out, n) = play(&[
                Ev::C(c),
                Ev::S(s),
                Ev::C(b"GET /v1/x HTTP/1.1\r\n\r\n"),
                Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ]);
            assert_eq!(out.exchanges.len(), 1);
            assert_eq!(out.exchanges[0].request.host.as_deref(), Some("api.example:80"));
            assert_eq!(out.exchanges[0].status(), Some(200));
            assert_eq!((n.socks_connections, n.malformed), (1, 0));
        }
    }

    #[test]
    fn obs_fold_header_is_unfolded_and_noted() {
        let (out, _) = play(&[
            Ev::C(b"GET / HTTP/1.1\r\nX-Folded: one\r\n two\r\nHost: h\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nX-Resp: a\r\n\tb\r\nContent-Length: 0\r\n\r\n"),
        ]);
        let e = &out.exchanges[0];
        assert_eq!(e.request.headers.get("x-folded"), Some("one two"));
        assert_eq!(e.request.headers.get("host"), Some("h"));
        assert_eq!(e.response.as_ref().unwrap().headers.get("x-resp"), Some("a b"));
        assert_eq!(e.diagnostics.iter().filter(|d| d.code == "http.obs_fold").count(), 2);
    }

    #[test]
    fn http_on_a_non_http_port_is_found_by_content_and_tls_is_counted() {
        // info() uses server port 22.
        let (out, n) = play(&[Ev::C(b"GET / HTTP/1.1\r\n\r\n"), Ev::S(b"HTTP/1.1 204 No Content\r\n\r\n")]);
        assert_eq!(out.exchanges.len(), 1);
        assert_eq!(out.exchanges[0].server.unwrap().port, Some(22));
        assert_eq!(n.http_connections, 1);
        let (out, n) = play(&[Ev::C(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), Ev::S(b"\x16\x03\x03\x00\x7a")]);
        assert!(out.exchanges.is_empty());
        assert_eq!((n.tls_connections, n.non_http_connections, n.http_connections), (1, 1, 0));
        assert_eq!(n.opaque_bytes, 11 + 5);
    }

    #[test]
    fn ipv6_addresses_are_kept() {
        let conn = ConnInfo {
            id: 1,
            client: "[2001:db8::1]:40000".parse().unwrap(),
            server: "[2001:db8::2]:80".parse().unwrap(),
            syn_seen: true,
        };
        let (out, _) = play_with(
            &conn,
            &[Ev::C(b"GET /v6 HTTP/1.1\r\n\r\n"), Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
            CloseKind::Fin,
            ReadOptions::default(),
        );
        let e = &out.exchanges[0];
        assert_eq!(e.client.unwrap().ip, IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()));
        assert_eq!(e.server.unwrap().to_string(), "[2001:db8::2]:80");
    }

    #[test]
    fn chunked_with_trailers_keeps_trailers_in_extra() {
        let (out, _) = play(&[
            Ev::C(b"GET /t HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n4\r\nwiki\r\n"),
            Ev::S(b"5\r\npedia\r\n0\r\nX-Checksum: abc\r\n\r\n"),
        ]);
        let e = &out.exchanges[0];
        let b = &e.response.as_ref().unwrap().body;
        assert_eq!(b.content, b"wikipedia");
        assert_eq!(b.wire_size, Some(9 + 10 + 3 + 17 + 2));
        assert_eq!(e.extra["response_trailers"][0]["value"], "abc");
        assert_eq!(e.timing.response_end, Some(3_000_000));
    }

    #[test]
    fn head_and_304_responses_have_no_body_despite_content_length() {
        let (out, _) = play(&[
            Ev::C(b"HEAD /h HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\nGET /z HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
            Ev::S(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend"),
        ]);
        let st: Vec<_> = out.exchanges.iter().map(|e| (e.status(), e.response.as_ref().unwrap().body.size)).collect();
        assert_eq!(st, [(Some(200), 0), (Some(304), 0), (Some(200), 3)]);
    }

    #[test]
    fn gap_in_chunked_response_aborts_it_and_the_next_exchange_is_marked() {
        let (out, n) = play(&[
            Ev::C(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123"),
            Ev::GapS(1000),
            Ev::S(b"ab\r\n0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
        ]);
        assert_eq!(out.exchanges.len(), 2);
        let first = &out.exchanges[0];
        assert!(matches!(first.state, State::Aborted(_)), "{:?}", first.state);
        assert!(first.diagnostics.iter().any(|d| d.code == "http.response_cut"));
        assert!(first.response.as_ref().unwrap().body.truncated);
        let second = &out.exchanges[1];
        assert_eq!(second.status(), Some(201));
        assert_eq!(second.state, State::Complete);
        assert!(second.diagnostics.iter().any(|d| d.code == "http.resync"), "{:?}", second.diagnostics);
        assert_eq!(n.resyncs, 1);
        assert_eq!(n.skipped_bytes, 9);
    }

    #[test]
    fn gap_inside_content_length_body_keeps_framing() {
        let (out, _) = play(&[
            Ev::C(b"GET /1 HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01"),
            Ev::GapS(5),
            Ev::S(b"789"),
        ]);
        let e = &out.exchanges[0];
        assert_eq!(e.state, State::Complete);
        let b = &e.response.as_ref().unwrap().body;
        assert!(b.truncated);
        assert_eq!(b.wire_size, Some(10));
        assert!(e.diagnostics.iter().any(|d| d.code == "tcp.gap"));
    }

    #[test]
    fn gap_cutting_a_request_head_resyncs_at_the_next_request_line() {
        let (out, _) = play(&[
            Ev::C(b"GET /lost HTTP/1.1\r\nHo"),
            Ev::GapC(30),
            Ev::C(b"x\r\n\r\nGET /found HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]);
        // The server answered both; the first answer pairs with the only request seen.
        assert_eq!(out.exchanges.len(), 1);
        assert_eq!(out.exchanges[0].request.target, "/found");
        assert!(out.exchanges[0].diagnostics.iter().any(|d| d.code == "http.resync"));
    }

    #[test]
    fn capture_started_mid_stream_with_swapped_roles_is_fixed() {
        // Without a SYN the reassembler guessed wrong: "client" sends the status lines.
        let conn = info(false);
        let (out, n) = play_with(
            &conn,
            &[
                Ev::C(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
                Ev::S(b"GET /next HTTP/1.1\r\n\r\n"),
                Ev::C(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nyo"),
            ],
            CloseKind::EndOfCapture,
            ReadOptions::default(),
        );
        assert_eq!(n.roles_swapped, 1);
        assert_eq!(n.orphan_responses, 1);
        assert_eq!(out.exchanges.len(), 1);
        let e = &out.exchanges[0];
        assert_eq!(e.request.target, "/next");
        assert_eq!(e.client.unwrap().to_string(), "10.0.0.2:22");
        assert_eq!(e.response.as_ref().unwrap().body.content, b"yo");
        assert_eq!(out.diagnostics.len(), 1);
    }

    #[test]
    fn midstream_capture_skips_the_tail_of_a_body() {
        let (out, _) = play_with(
            &info(false),
            &[
                Ev::C(b"rest of a request body\r\n"),
                Ev::C(b"GET /x HTTP/1.1\r\n\r\n"),
                Ev::S(b"tail of an earlier response\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ],
            CloseKind::Fin,
            ReadOptions::default(),
        );
        assert_eq!(out.exchanges.len(), 1);
        assert_eq!(out.exchanges[0].status(), Some(200));
        assert_eq!(out.exchanges[0].state, State::Complete);
    }

    #[test]
    fn requests_without_response_keep_the_close_reason() {
        let (out, n) = play_with(
            &info(true),
            &[
                Ev::C(b"GET /1 HTTP/1.1\r\n\r\n"),
                Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"),
                Ev::C(b"GET /2 HTTP/1.1\r\n\r\n"),
            ],
            CloseKind::Rst,
            ReadOptions::default(),
        );
        assert_eq!(out.exchanges.len(), 2);
        assert_eq!(
            out.exchanges[0].state,
            State::Aborted("response cut: connection reset before the message ended".into())
        );
        assert_eq!(out.exchanges[1].state, State::NoResponse("connection reset".into()));
        assert_eq!((n.aborted, n.no_response), (1, 1));
    }

    #[test]
    fn close_delimited_response_ends_with_the_connection() {
        let (out, _) =
            play(&[Ev::C(b"GET /old HTTP/1.0\r\n\r\n"), Ev::S(b"HTTP/1.0 200 OK\r\n\r\npart1"), Ev::S(b"part2")]);
        let e = &out.exchanges[0];
        assert_eq!(e.state, State::Complete);
        assert_eq!(e.response.as_ref().unwrap().body.content, b"part1part2");
        assert_eq!(e.response.as_ref().unwrap().version, "HTTP/1.0");
    }

    #[test]
    fn absolute_form_targets_are_split() {
        assert_eq!(
            split_target("GET", "http://api.example.com:8080/v1/x?y=1".into()),
            (Some("http".into()), Some("api.example.com:8080".into()), "/v1/x?y=1".into())
        );
        assert_eq!(split_target("GET", "HTTP://h?q".into()), (Some("http".into()), Some("h".into()), "/?q".into()));
        assert_eq!(split_target("GET", "/plain".into()), (None, None, "/plain".into()));
    }

    #[test]
    fn garbage_after_http_is_diagnosed_not_panicking() {
        let (out, n) = play(&[
            Ev::C(b"GET / HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Ev::C(b"\x00\x01\x02garbage\xff\xfe"),
            Ev::C(b"GET /after HTTP/1.1\r\n\r\n"),
            Ev::S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]);
        assert_eq!(out.exchanges.len(), 2);
        assert_eq!(out.exchanges[1].request.target, "/after");
        assert!(out.exchanges[1].diagnostics.iter().any(|d| d.code == "http.malformed"));
        assert_eq!(n.malformed, 1);
    }

    /// A conversation exercising most framings, as (client bytes, server bytes).
    fn conversation() -> (Vec<u8>, Vec<u8>) {
        let gzbody = gz(b"{\"compressed\":true,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
        let client = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n\
HEAD /c HTTP/1.1\r\n\r\n\
PUT /d HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nbody\
GET /e HTTP/1.1\r\n\r\n"
            .to_vec();
        let mut server = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none\
HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntwo!\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
            .to_vec();
        server.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gzbody.len()).as_bytes(),
        );
        server.extend_from_slice(&gzbody);
        (client, server)
    }

    /// Target, status, request body, response body and state of one exchange.
    type Seen = (String, Option<u16>, Vec<u8>, Vec<u8>, State);

    fn summary(out: &Collect) -> Vec<Seen> {
        out.exchanges
            .iter()
            .map(|e| {
                let resp = e.response.as_ref().map(|r| r.body.content.clone()).unwrap_or_default();
                (e.request.target.clone(), e.status(), e.request.body.content.clone(), resp, e.state.clone())
            })
            .collect()
    }

    fn split_at_sizes<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(rest.len()).clamp(1, rest.len());
            out.push(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn any_segmentation_gives_the_same_exchanges(
            cs in proptest::collection::vec(1usize..40, 1..8),
            ss in proptest::collection::vec(1usize..40, 1..8),
        ) {
            let (client, server) = conversation();
            let whole = play(&[Ev::C(&client), Ev::S(&server)]).0;
            proptest::prop_assert_eq!(whole.exchanges.len(), 5);
            let mut events: Vec<Ev<'_>> = split_at_sizes(&client, &cs).into_iter().map(Ev::C).collect();
            events.extend(split_at_sizes(&server, &ss).into_iter().map(Ev::S));
            let split = play(&events).0;
            proptest::prop_assert_eq!(summary(&split), summary(&whole));
        }

        #[test]
        fn garbage_and_gaps_never_panic(
            chunks in proptest::collection::vec((0u8..4, proptest::collection::vec(proptest::num::u8::ANY, 0..64)), 0..24),
            syn in proptest::bool::ANY,
        ) {
            let (client, server) = conversation();
            let mut events = Vec::new();
            for (kind, bytes) in &chunks {
                events.push(match kind {
                    0 => Ev::C(bytes),
                    1 => Ev::S(bytes),
                    2 => Ev::GapC(bytes.len() as u64),
                    _ => Ev::GapS(bytes.len() as u64),
                });
                // Mix real messages in so the parsers get into every state.
                if bytes.first().is_some_and(|b| b % 3 == 0) {
                    events.push(Ev::C(&client[..bytes.len().min(client.len())]));
                    events.push(Ev::S(&server[..(bytes.len() * 3).min(server.len())]));
                }
            }
            let (out, n) = play_with(&info(syn), &events, CloseKind::EndOfCapture, ReadOptions::default());
            proptest::prop_assert_eq!(out.exchanges.len() as u64, n.exchanges);
        }
    }
}
