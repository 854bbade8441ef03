//! The capture adapter: packets → reassembled TCP streams (`capture`) → HTTP/1.x messages
//! (`http`) → paired [`crate::model::Exchange`]s pushed into a [`super::Sink`].
//!
//! [`HttpAdapter`] implements [`StreamHandler`]: it keeps one [`h1::Parser`] per direction
//! of every open connection, recognises HTTP by content (any port), swaps the roles when the
//! side guessed as client turns out to send status lines, pairs responses with requests by
//! order (pipelining), attaches interim `1xx` responses, stops parsing after an upgrade or a
//! CONNECT tunnel, and turns gaps into diagnostics on the exchanges they touch. Timings are
//! the capture timestamps of the first and last segment of each message. Per-connection
//! state is freed when the connection closes, so memory follows the number of open
//! connections and the largest message in flight (bodies are kept up to the body cap).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use crate::capture::{CaptureError, CaptureOptions, Input};
use crate::http::decode;
use crate::http::h1::{self, EndEffect, Event, Foreign, GapEffect, Head, Parser, Side, StartLine};
use crate::model::{Addr, Body, Diagnostic, Exchange, Headers, Nanos, Provenance, Request, Response, Severity, State};

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
    let file: Arc<str> = Arc::from(path.display().to_string());
    let mut adapter = HttpAdapter::new(file, opts.clone(), sink);
    let stats = crate::capture::read_packets(input, &CaptureOptions::default(), &mut adapter).map_err(|e| match e {
        CaptureError::Io(source) => IngestError::Io { path: path.to_path_buf(), source },
        CaptureError::Empty => IngestError::Empty(path.to_path_buf()),
        CaptureError::NotCapture(why) => IngestError::Unrecognised { path: path.to_path_buf(), why },
        other => IngestError::Damaged { path: path.to_path_buf(), place: "file header".into(), why: other.to_string() },
    })?;
    let http = adapter.finish();
    let mut counters = stats.counters();
    counters.extend(http.counters());
    Ok(ReadSummary {
        format: None,
        exchanges: http.exchanges,
        bytes: stats.bytes,
        connections: stats.connections,
        counters,
    })
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
    /// Connections turned into tunnels by a `2xx` answer to CONNECT.
    pub tunnel_connections: u64,
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
    /// Interim 1xx responses attached to exchanges.
    pub interim_responses: u64,
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
            ("tunnel_connections", self.tunnel_connections),
            ("opaque_bytes", self.opaque_bytes),
            ("roles_swapped", self.roles_swapped),
            ("http_resyncs", self.resyncs),
            ("http_skipped_bytes", self.skipped_bytes),
            ("http_malformed", self.malformed),
            ("orphan_responses", self.orphan_responses),
            ("interim_responses", self.interim_responses),
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
    sink: &'s mut dyn Sink,
    opts: ReadOptions,
    file: Arc<str>,
    seq: u64,
    n: HttpCounters,
}

/// Turns reassembled TCP streams into exchanges; see the module note.
pub struct HttpAdapter<'s> {
    shared: Shared<'s>,
    conns: HashMap<u64, Conn>,
}

impl<'s> HttpAdapter<'s> {
    /// An adapter pushing into `sink`; `file` names the input in every exchange's provenance.
    pub fn new(file: Arc<str>, opts: ReadOptions, sink: &'s mut dyn Sink) -> Self {
        Self { shared: Shared { sink, opts, file, seq: 0, n: HttpCounters::default() }, conns: HashMap::new() }
    }

    /// Close whatever is still open (as if the capture ended) and return the counters.
    pub fn finish(mut self) -> HttpCounters {
        let mut open: Vec<(u64, Conn)> = self.conns.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (_, mut c) in open {
            c.close(CloseKind::EndOfCapture, &mut self.shared);
        }
        self.shared.n
    }

    /// Counters so far.
    #[must_use]
    pub fn counters(&self) -> &HttpCounters {
        &self.shared.n
    }

    fn conn(&mut self, info: &ConnInfo) -> &mut Conn {
        self.conns.entry(info.id).or_insert_with(|| Conn::new(info))
    }
}

impl StreamHandler for HttpAdapter<'_> {
    fn on_open(&mut self, conn: &ConnInfo, _ts: Nanos) {
        self.conn(conn);
    }

    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        let shared = &mut self.shared;
        let c = self.conns.entry(conn.id).or_insert_with(|| Conn::new(conn));
        c.data(dir, data, ts, packet, shared);
    }

    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, _ts: Nanos) {
        let shared = &mut self.shared;
        let c = self.conns.entry(conn.id).or_insert_with(|| Conn::new(conn));
        c.gap(dir, len, shared);
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

/// First and last capture time and the packets of one message.
#[derive(Debug, Default)]
struct Track {
    first: Option<Nanos>,
    last: Option<Nanos>,
    packets: Vec<u64>,
}

impl Track {
    fn touch(&mut self, ts: Nanos, packet: u64) {
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
        if self.packets.last() != Some(&packet) {
            self.packets.push(packet);
        }
    }
}

/// Body bytes of the message in progress (after de-chunking, before content decoding).
#[derive(Debug, Default)]
struct BodyAcc {
    kept: Vec<u8>,
    len: u64,
    over_cap: bool,
    codings: Vec<String>,
    encoding: Option<String>,
}

/// What the response parser is framing right now.
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
    fn new(side: Side, midstream: bool) -> Self {
        let mut parser = Parser::new(side);
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
    packets: Vec<u64>,
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
    entries: VecDeque<Entry>,
    /// Number of the front entry (entries are numbered from 0 per connection).
    front_no: u64,
    /// The last entry's request is still being parsed.
    building_req: bool,
    resp_target: Option<RespTarget>,
    mode: Mode,
    saw_data: bool,
    orphans: u64,
}

impl Conn {
    fn new(info: &ConnInfo) -> Self {
        let midstream = !info.syn_seen;
        Self {
            id: info.id,
            id_text: info.id.to_string(),
            client: info.client,
            server: info.server,
            syn_seen: info.syn_seen,
            swapped: false,
            req: Half::new(Side::Request, midstream),
            resp: Half::new(Side::Response, midstream),
            entries: VecDeque::new(),
            front_no: 0,
            building_req: false,
            resp_target: None,
            mode: Mode::Http,
            saw_data: false,
            orphans: 0,
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
        self.req.parser.messages() + self.resp.parser.messages()
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
            self.swapped = true;
            std::mem::swap(&mut self.client, &mut self.server);
            self.req = Half::new(Side::Request, true);
            self.resp = Half::new(Side::Response, true);
            shared.n.roles_swapped += 1;
        }
    }

    fn data(&mut self, dir: Dir, data: &[u8], ts: Nanos, packet: u64, shared: &mut Shared<'_>) {
        if data.is_empty() {
            return;
        }
        self.saw_data = true;
        self.maybe_swap(dir, data, shared);
        let side = self.side_of(dir);
        let mut input = data;
        loop {
            let before = input.len();
            let half = self.half(side);
            let ev = half.parser.next(&mut input);
            let consumed = before - input.len();
            if consumed > 0
                && !half.parser.is_opaque()
                && !matches!(ev, Event::Skipped(_) | Event::NotHttp(_) | Event::Malformed(_))
            {
                half.track.touch(ts, packet);
            }
            match ev {
                Event::NeedMore => break,
                other => self.event(side, other, shared),
            }
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, shared: &mut Shared<'_>) {
        let side = self.side_of(dir);
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
                let keep = shared.opts.keep_bodies;
                let cap = shared.opts.body_cap;
                let acc = &mut self.half(side).body;
                acc.len += b.len() as u64;
                if keep {
                    let room = cap.saturating_sub(acc.kept.len());
                    if room < b.len() {
                        acc.over_cap = true;
                    }
                    acc.kept.extend_from_slice(&b[..room.min(b.len())]);
                }
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
        if self.messages() == 0 {
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
        self.entries.get_mut(idx)
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
        let (scheme, host, target) = split_target(&method, target);
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
            provenance: Provenance {
                file: shared.file.clone(),
                connection: Some(self.id_text.clone()),
                ..Provenance::default()
            },
            diagnostics,
            ..Exchange::default()
        };
        self.entries.push_back(Entry { ex, req_done: false, resp_done: false, wants_switch, packets: Vec::new() });
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
        e.packets.extend_from_slice(&track.packets);
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
        let body = body_acc(&h);
        let version = h.version().to_string();
        let StartLine::Response { reason, .. } = h.start else { return };
        let resp = Response { status, reason, version, headers: Headers(h.headers), body: Body::default() };
        let interim = (100..200).contains(&status) && status != 101;
        if interim {
            e.ex.interim.push(resp);
            shared.n.interim_responses += 1;
            self.resp_target = Some(RespTarget::Interim(no));
        } else {
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
                    e.packets.extend_from_slice(&track.packets);
                    e.ex.diagnostics.extend(pending);
                }
            }
            Some(RespTarget::Final(no)) => {
                let (body, diags) = finish_body(acc, wire, hole, &shared.opts, &mut shared.n);
                let Some(e) = self.entry(no) else { return };
                e.resp_done = true;
                e.ex.timing.response_start = track.first;
                e.ex.timing.response_end = track.last;
                e.packets.extend_from_slice(&track.packets);
                if let Some(r) = e.ex.response.as_mut() {
                    r.body = body;
                }
                e.ex.diagnostics.extend(pending);
                e.ex.diagnostics.extend(diags);
                if let Some(why) = cut {
                    e.ex.diagnostics.push(Diagnostic::new(Severity::Error, "http.response_cut", why.clone()));
                    e.ex.state = State::Aborted(format!("response cut: {why}"));
                }
                match self.mode {
                    Mode::Upgraded | Mode::Tunnel => {
                        self.req.parser.set_opaque();
                        self.resp.parser.set_opaque();
                    }
                    Mode::Http | Mode::Foreign(_) => {}
                }
                self.emit_ready(shared);
            }
        }
    }

    /// Hand over, in order, every exchange at the front whose request and response are done.
    fn emit_ready(&mut self, shared: &mut Shared<'_>) {
        while self.entries.front().is_some_and(|e| e.req_done && e.resp_done) {
            if let Some(e) = self.entries.pop_front() {
                self.front_no += 1;
                emit(e, shared);
            }
        }
    }

    fn close(&mut self, how: CloseKind, shared: &mut Shared<'_>) {
        let reason = match how {
            CloseKind::Fin => "connection closed",
            CloseKind::Rst => "connection reset",
            CloseKind::Idle => "connection idle past the timeout",
            CloseKind::Reused => "connection replaced by a new one on the same ports",
            CloseKind::EndOfCapture => "capture ended",
            CloseKind::MemoryCap => "stream memory cap reached",
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
        if self.messages() > 0 {
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
    if h.folded {
        out.push(Diagnostic::new(
            Severity::Info,
            "http.obs_fold",
            "a header value continued on the next line (obsolete line folding); unfolded",
        ));
    }
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
    let mut body =
        Body { size: acc.len, wire_size: Some(wire), encoding: acc.encoding, truncated: hole, ..Body::default() };
    if !opts.keep_bodies || acc.len == 0 {
        return (body, diags);
    }
    if acc.codings.is_empty() {
        body.truncated |= acc.over_cap;
        body.content = acc.kept;
    } else {
        let d = decode::decode(&acc.codings, &acc.kept, opts.body_cap);
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
                format!("decoded size counted up to {} bytes only", decode::COUNT_LIMIT),
            ));
        }
        body.wire = Some(acc.kept);
    }
    if body.truncated && !hole {
        n.bodies_capped += 1;
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

fn emit(mut e: Entry, shared: &mut Shared<'_>) {
    e.packets.sort_unstable();
    e.packets.dedup();
    e.ex.provenance.packets = e.packets;
    e.ex.seq = shared.seq;
    shared.seq += 1;
    shared.n.exchanges += 1;
    match e.ex.state {
        State::Complete => shared.n.complete += 1,
        State::NoResponse(_) => shared.n.no_response += 1,
        State::Aborted(_) | State::Failed(_) => shared.n.aborted += 1,
    }
    shared.sink.exchange(&e.ex);
}
