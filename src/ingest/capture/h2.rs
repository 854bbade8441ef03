//! HTTP/2 connections in the capture adapter: both directions cut into frames
//! ([`frame::Reader`]), header blocks decoded with one HPACK decoder per direction, and one
//! [`Exchange`] per stream (server pushes included, linked to the stream that promised
//! them), handed to the sink when the stream ends, is reset, is refused by GOAWAY or is cut
//! by the end of the connection.
//!
//! A lost header block (a capture gap inside one, or framing lost after a gap) makes the
//! direction's HPACK table unreliable: the connection is marked "HPACK desync" with a
//! diagnostic, streams that still needed headers from that direction are emitted as cut,
//! and no header block of that direction is decoded again. Exchanges finished before the
//! gap are kept as they were. Memory is bounded per connection: a header block is kept up
//! to [`MAX_BLOCK`] bytes, at most [`MAX_OPEN`] streams are followed at once (of them at most
//! [`MAX_OPEN_WS`] decoded as WebSockets), one frame is buffered per direction, and bodies
//! follow the adapter's body cap.
//!
//! Streams inside streams: a WebSocket opened by an extended CONNECT (RFC 8441: `:method
//! CONNECT` with `:protocol websocket`, answered 2xx) has the DATA of both directions read
//! as WebSocket frames ([`WsConn`], `permessage-deflate` included) instead of bodies; a
//! response whose media type is a message stream (SSE, NDJSON) is split as its DATA arrives.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::{BodyAcc, Entry, Packets, Shared, direction, emit, feed_for, finish_body, keep_body};
use crate::http::decode;
use crate::http::feed::Feed;
use crate::http::h1::Side;
use crate::http::h2::frame::{self, Frame, GapEffect, Reader, Step, flag, kind};
use crate::http::h2::{grpc, hpack};
use crate::http::ws::WsConn;
use crate::model::message::{MessageStream, StreamEnd};
use crate::model::{
    Addr, Body, Diagnostic, Exchange, Header, Headers, Nanos, Provenance, Request, Response, Severity, State, TlsInfo,
};

/// Streams followed at once on one connection; beyond, the oldest is given up.
pub const MAX_OPEN: usize = 10_000;
/// Largest header block (HEADERS or PUSH_PROMISE plus CONTINUATIONs) kept for decoding.
pub const MAX_BLOCK: usize = 1 << 20;
/// Extended-CONNECT WebSockets decoded at once per connection (each may keep a 32 KiB
/// deflate window per direction); the DATA of any beyond this is kept as a body.
pub const MAX_OPEN_WS: usize = 64;

/// The HTTP/2 label used for request and response versions.
const VERSION: &str = "HTTP/2";

fn role(side: Side) -> usize {
    match side {
        Side::Request => 0,
        Side::Response => 1,
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Request => "client",
        Side::Response => "server",
    }
}

/// One HTTP/2 connection.
pub(super) struct H2Conn {
    /// Frame readers, client side first.
    readers: [Reader; 2],
    st: H2State,
}

/// Where a header block or frame came from.
struct At<'a> {
    first: Nanos,
    last: Nanos,
    packets: &'a [u64],
}

/// A header block waiting for its CONTINUATION frames.
struct Block {
    stream: u32,
    promised: Option<u32>,
    end_stream: bool,
    buf: Vec<u8>,
    first: Nanos,
    last: Nanos,
    packets: Vec<u64>,
}

#[derive(Default)]
struct Half2 {
    ended: bool,
    body: BodyAcc,
    wire: u64,
    hole: bool,
}

struct H2Stream {
    id: u32,
    ex: Exchange,
    packets: Packets,
    req: Half2,
    resp: Half2,
    /// The final response's HEADERS were seen.
    final_seen: bool,
    /// Response trailers (gRPC status lives there).
    trailers: Option<Headers>,
    /// Messages inside the stream, when it carries them.
    inner: Inner,
}

/// What the DATA of a stream carries besides a plain body.
#[derive(Default)]
enum Inner {
    /// Bodies only.
    #[default]
    Body,
    /// A WebSocket after an extended CONNECT; `first_end` is the side whose END_STREAM came
    /// first (how the stream ended when no close frame was sent).
    Ws { conn: Box<WsConn>, first_end: Option<Side>, capture_ended: bool },
    /// A response body split into messages as it arrives (SSE, NDJSON).
    Feed(Box<Feed>),
}

struct H2State {
    decoders: [hpack::Decoder; 2],
    /// The direction's HPACK table is unreliable (a header block was lost).
    desync: [bool; 2],
    block: [Option<Block>; 2],
    streams: BTreeMap<u32, Box<H2Stream>>,
    tls: Option<Arc<TlsInfo>>,
    client: SocketAddr,
    server: SocketAddr,
    id: u64,
    id_text: String,
    /// Highest stream id a request or push was seen for.
    max_stream: u32,
    emitted: u64,
    orphan_noted: bool,
    /// Extended-CONNECT WebSockets being decoded (each may hold a deflate context).
    ws_open: usize,
    cap_noted: bool,
}

impl H2Conn {
    /// A connection whose client side starts with the preface (prior knowledge, ALPN).
    pub(super) fn new(id: u64, client: SocketAddr, server: SocketAddr, tls: Option<Arc<TlsInfo>>) -> Self {
        Self {
            readers: [Reader::new(true), Reader::new(false)],
            st: H2State {
                decoders: [hpack::Decoder::new(), hpack::Decoder::new()],
                desync: [false; 2],
                block: [None, None],
                streams: BTreeMap::new(),
                tls,
                client,
                server,
                id,
                id_text: id.to_string(),
                max_stream: 0,
                emitted: 0,
                orphan_noted: false,
                ws_open: 0,
                cap_noted: false,
            },
        }
    }

    /// A connection upgraded from HTTP/1.1 by `101`: `ex` (its request done, the 101 as an
    /// interim response) continues as stream 1, whose response comes in HTTP/2.
    pub(super) fn upgraded(
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        tls: Option<Arc<TlsInfo>>,
        mut ex: Exchange,
        packets: Packets,
    ) -> Self {
        let mut c = Self::new(id, client, server, tls);
        ex.extra = serde_json::json!({ "h2_stream": 1 });
        ex.diagnostics.push(Diagnostic::new(
            Severity::Info,
            "h2.upgrade",
            "the connection switched to HTTP/2 (h2c upgrade); this request became stream 1",
        ));
        let s = H2Stream {
            id: 1,
            ex,
            packets,
            req: Half2 { ended: true, ..Half2::default() },
            resp: Half2::default(),
            final_seen: false,
            trailers: None,
            inner: Inner::Body,
        };
        c.st.streams.insert(1, Box::new(s));
        c.st.max_stream = 1;
        c
    }

    /// Exchanges emitted so far.
    pub(super) fn exchanges(&self) -> u64 {
        self.st.emitted
    }

    /// In-order bytes from `side`.
    pub(super) fn data(&mut self, side: Side, data: &[u8], ts: Nanos, packet: u64, shared: &mut Shared<'_>) {
        let Self { readers, st } = self;
        let mut input = data;
        loop {
            match readers[role(side)].next(&mut input, ts, packet) {
                Step::NeedMore => break,
                Step::BadPreface => {
                    shared.n.malformed += 1;
                    st.conn_diag(
                        shared,
                        Severity::Warning,
                        "h2.bad_preface",
                        "the client's first bytes are not the HTTP/2 connection preface; read as frames",
                    );
                }
                Step::Frame(f) => st.frame(side, &f, shared),
            }
        }
    }

    /// `len` bytes from `side` were not captured.
    pub(super) fn gap(&mut self, side: Side, len: u64, shared: &mut Shared<'_>) {
        let r = role(side);
        match self.readers[r].gap(len) {
            GapEffect::InFrame { kind: kind::DATA, stream } => {
                if let Some(s) = self.st.streams.get_mut(&stream) {
                    if let Inner::Ws { conn, .. } = &mut s.inner {
                        conn.gap(direction(side), len);
                    }
                    s.ex.diagnostics.push(Diagnostic::new(
                        Severity::Warning,
                        "tcp.gap",
                        format!("{len} bytes of the body were not captured; the body has a hole"),
                    ));
                }
            }
            GapEffect::InFrame { kind: kind::HEADERS | kind::CONTINUATION | kind::PUSH_PROMISE, .. } => {
                self.st.lose_hpack(
                    side,
                    &format!("a header block was cut by a gap of {len} bytes in the capture"),
                    shared,
                );
            }
            GapEffect::InFrame { .. } => {}
            GapEffect::Lost => {
                let why = if len == 0 {
                    "a gap of unknown size in the capture".to_string()
                } else {
                    format!("a gap of {len} bytes in the capture")
                };
                self.st.lose_framing(side, &why, shared);
            }
        }
    }

    /// The connection ended (`reason` says how; `capture_ended` when the capture stopped
    /// rather than the connection): streams still open are emitted as cut, and WebSockets
    /// inside them as cut, or open when the capture ended.
    pub(super) fn close(&mut self, reason: &str, capture_ended: bool, shared: &mut Shared<'_>) {
        for r in [Side::Request, Side::Response] {
            if self.st.block[role(r)].take().is_some() {
                self.st.conn_diag(
                    shared,
                    Severity::Warning,
                    "h2.block_cut",
                    &format!("{reason} in the middle of a {} header block", side_name(r)),
                );
            }
        }
        shared.n.opaque_bytes += self.readers[0].dropped() + self.readers[1].dropped();
        let ids: Vec<u32> = self.st.streams.keys().copied().collect();
        for id in ids {
            if let Some(mut s) = self.st.streams.remove(&id) {
                if capture_ended {
                    s.inner.keep_open();
                }
                let state = cut_state(&s, reason);
                self.st.finish(s, state, shared);
            }
        }
    }
}

/// How a stream still open when it had to be given up ended.
fn cut_state(s: &H2Stream, reason: &str) -> Option<State> {
    if !s.req.ended {
        Some(State::Aborted(format!("request cut: {reason}")))
    } else if s.ex.response.is_none() {
        Some(State::NoResponse(reason.to_string()))
    } else if !s.resp.ended {
        Some(State::Aborted(format!("response cut: {reason}")))
    } else {
        None
    }
}

impl H2State {
    fn conn_diag(&self, shared: &mut Shared<'_>, severity: Severity, code: &str, message: &str) {
        shared.sink.diagnostic(&Diagnostic::new(severity, code, message).at(format!("connection {}", self.id)));
    }

    fn frame(&mut self, side: Side, f: &Frame<'_>, shared: &mut Shared<'_>) {
        let r = role(side);
        let h = f.header;
        if self.block[r].is_some() && h.kind != kind::CONTINUATION {
            self.block[r] = None;
            shared.n.malformed += 1;
            let why = format!("a {} frame came where a CONTINUATION was due", h.kind_name());
            self.lose_hpack(side, &why, shared);
        }
        if f.hole && h.kind != kind::DATA {
            // A control frame with uncaptured bytes says nothing reliable.
            return;
        }
        let at = At { first: f.first_ts, last: f.last_ts, packets: f.packets };
        match h.kind {
            kind::DATA => self.data(side, f, shared),
            kind::HEADERS | kind::PUSH_PROMISE => {
                let Some(mut frag) = frame::unpad(&h, f.payload, h.kind == kind::HEADERS) else {
                    shared.n.malformed += 1;
                    self.lose_hpack(side, "a header frame's padding is longer than the frame", shared);
                    return;
                };
                let mut promised = None;
                if h.kind == kind::PUSH_PROMISE {
                    let Some(p) = frame::be32(frag, 0) else {
                        shared.n.malformed += 1;
                        self.lose_hpack(side, "a PUSH_PROMISE frame too short for its stream id", shared);
                        return;
                    };
                    promised = Some(p & 0x7fff_ffff);
                    frag = &frag[4..];
                }
                let end_stream = h.kind == kind::HEADERS && h.has(flag::END_STREAM);
                if h.has(flag::END_HEADERS) {
                    self.block_done(side, h.stream, promised, end_stream, frag, &at, shared);
                } else {
                    self.block[r] = Some(Block {
                        stream: h.stream,
                        promised,
                        end_stream,
                        buf: frag.to_vec(),
                        first: at.first,
                        last: at.last,
                        packets: at.packets.to_vec(),
                    });
                    self.check_block_size(side, shared);
                }
            }
            kind::CONTINUATION => self.continuation(side, f, shared),
            kind::RST_STREAM => {
                let code = frame::be32(f.payload, 0).unwrap_or(0);
                self.reset(side, h.stream, code, &at, shared);
            }
            kind::SETTINGS if !h.has(flag::ACK) => {
                for (id, value) in frame::settings(f.payload) {
                    if id == frame::SETTINGS_HEADER_TABLE_SIZE {
                        // The sender decodes the other direction's header blocks.
                        self.decoders[1 - r].allow_table(value);
                    }
                }
            }
            kind::GOAWAY => {
                let last = frame::be32(f.payload, 0).unwrap_or(0) & 0x7fff_ffff;
                let code = frame::be32(f.payload, 4).unwrap_or(0);
                self.goaway(side, last, code, shared);
            }
            // PRIORITY, PING, WINDOW_UPDATE, SETTINGS acks and unknown types carry nothing
            // an exchange shows.
            _ => {}
        }
    }

    fn check_block_size(&mut self, side: Side, shared: &mut Shared<'_>) {
        let r = role(side);
        if self.block[r].as_ref().is_some_and(|b| b.buf.len() > MAX_BLOCK) {
            self.block[r] = None;
            shared.n.malformed += 1;
            self.lose_hpack(side, &format!("a header block longer than {MAX_BLOCK} bytes was not kept"), shared);
        }
    }

    fn continuation(&mut self, side: Side, f: &Frame<'_>, shared: &mut Shared<'_>) {
        let r = role(side);
        let h = f.header;
        match self.block[r].as_mut() {
            Some(b) if b.stream == h.stream => {
                b.buf.extend_from_slice(f.payload);
                b.first = b.first.min(f.first_ts);
                b.last = b.last.max(f.last_ts);
                for &p in f.packets {
                    if b.packets.last() != Some(&p) {
                        b.packets.push(p);
                    }
                }
            }
            Some(_) => {
                self.block[r] = None;
                shared.n.malformed += 1;
                self.lose_hpack(side, "a CONTINUATION frame for another stream interrupted a header block", shared);
                return;
            }
            None => {
                shared.n.malformed += 1;
                self.conn_diag(
                    shared,
                    Severity::Warning,
                    "h2.continuation_orphan",
                    &format!("a CONTINUATION frame on stream {} with no header block before it; ignored", h.stream),
                );
                return;
            }
        }
        self.check_block_size(side, shared);
        if h.has(flag::END_HEADERS) {
            if let Some(b) = self.block[r].take() {
                let at = At { first: b.first, last: b.last, packets: &b.packets };
                self.block_done(side, b.stream, b.promised, b.end_stream, &b.buf, &at, shared);
            }
        }
    }

    /// A whole header block from `side` on `stream`.
    #[allow(clippy::too_many_arguments)]
    fn block_done(
        &mut self,
        side: Side,
        stream: u32,
        promised: Option<u32>,
        end_stream: bool,
        bytes: &[u8],
        at: &At<'_>,
        shared: &mut Shared<'_>,
    ) {
        let r = role(side);
        if self.desync[r] {
            // The table is unreliable: only the end of the stream is taken from the frame.
            if end_stream {
                self.end_side(side, stream, at, shared);
                self.maybe_finish(stream, shared);
            }
            return;
        }
        let block = match self.decoders[r].decode(bytes) {
            Ok(b) => b,
            Err(e) => {
                shared.n.malformed += 1;
                self.lose_hpack(side, &e.to_string(), shared);
                if end_stream {
                    self.end_side(side, stream, at, shared);
                    self.maybe_finish(stream, shared);
                }
                return;
            }
        };
        let dropped = block.dropped;
        let headers = Headers(block.fields.into_iter().map(|(name, value)| Header { name, value }).collect());
        if stream == 0 {
            shared.n.malformed += 1;
            self.conn_diag(shared, Severity::Warning, "h2.stream_zero", "a header block on stream 0; ignored");
            return;
        }
        match (side, promised) {
            (Side::Response, Some(p)) => self.push_promise(stream, p, headers, at, shared),
            (Side::Request, Some(_)) => {
                shared.n.malformed += 1;
                self.conn_diag(shared, Severity::Warning, "h2.client_push", "a PUSH_PROMISE from the client; ignored");
            }
            (Side::Request, None) => self.request_headers(stream, headers, end_stream, at, shared),
            (Side::Response, None) => self.response_headers(stream, headers, end_stream, at, shared),
        }
        if dropped > 0 {
            if let Some(s) = self.streams.get_mut(&promised.unwrap_or(stream)) {
                s.ex.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    "h2.headers_cap",
                    format!("{dropped} header fields beyond {} decoded bytes were not kept", hpack::MAX_DECODED),
                ));
            }
        }
        self.maybe_finish(stream, shared);
    }

    /// A new exchange for a request (or promised request) with `headers`.
    fn exchange(&self, id: u32, headers: Headers, shared: &Shared<'_>) -> Exchange {
        let pseudo = |n: &str| headers.iter().find(|h| h.name == n).map(|h| h.value.clone());
        let method = pseudo(":method").unwrap_or_default();
        let host = pseudo(":authority");
        let scheme = pseudo(":scheme").or_else(|| self.tls.as_ref().map(|_| "https".to_string()));
        let target = pseudo(":path").or_else(|| host.clone().filter(|_| method.eq_ignore_ascii_case("CONNECT")));
        let mut diagnostics = Vec::new();
        if method.is_empty() {
            diagnostics.push(Diagnostic::new(Severity::Warning, "h2.no_method", "the request has no :method"));
        }
        Exchange {
            request: Request {
                method,
                scheme,
                host,
                target: target.unwrap_or_default(),
                version: VERSION.to_string(),
                headers,
                body: Body::default(),
            },
            client: Some(Addr::from(self.client)),
            server: Some(Addr::from(self.server)),
            provenance: Provenance::of_connection(&shared.file, &self.id_text),
            diagnostics,
            extra: serde_json::json!({ "h2_stream": id }),
            tls: self.tls.clone(),
            ..Exchange::default()
        }
    }

    fn open(&mut self, s: H2Stream, shared: &mut Shared<'_>) {
        while self.streams.len() >= MAX_OPEN {
            let Some((_, oldest)) = self.streams.pop_first() else { break };
            if !self.cap_noted {
                self.cap_noted = true;
                self.conn_diag(
                    shared,
                    Severity::Warning,
                    "h2.too_many_streams",
                    &format!("more than {MAX_OPEN} streams open at once; the oldest were given up"),
                );
            }
            let state = cut_state(&oldest, &format!("given up: more than {MAX_OPEN} streams open at once"));
            self.finish(oldest, state, shared);
        }
        self.max_stream = self.max_stream.max(s.id);
        self.streams.insert(s.id, Box::new(s));
    }

    fn request_headers(&mut self, id: u32, headers: Headers, end: bool, at: &At<'_>, shared: &mut Shared<'_>) {
        if let Some(s) = self.streams.get_mut(&id) {
            // A second block from the client: trailers.
            s.packets_extend(at.packets);
            set_trailers(&mut s.ex, "request_trailers", &headers);
            if end {
                self.end_side(Side::Request, id, at, shared);
            }
            return;
        }
        if id <= self.max_stream {
            // A late block on a stream already closed (e.g. after RST_STREAM).
            return;
        }
        let mut ex = self.exchange(id, headers, shared);
        ex.timing.request_start = Some(at.first);
        ex.timing.request_end = Some(at.last);
        let body = body_acc(&ex.request.headers);
        let mut s = H2Stream {
            id,
            ex,
            packets: Packets::default(),
            req: Half2 { ended: end, body, ..Half2::default() },
            resp: Half2::default(),
            final_seen: false,
            trailers: None,
            inner: Inner::Body,
        };
        s.packets_extend(at.packets);
        self.open(s, shared);
    }

    fn response_headers(&mut self, id: u32, headers: Headers, end: bool, at: &At<'_>, shared: &mut Shared<'_>) {
        let Some(s) = self.streams.get_mut(&id) else {
            if id > self.max_stream {
                shared.n.orphan_responses += 1;
                if !self.orphan_noted {
                    self.orphan_noted = true;
                    self.conn_diag(
                        shared,
                        Severity::Warning,
                        "http.orphan_response",
                        &format!("a response on stream {id} whose request was not captured"),
                    );
                }
            }
            return;
        };
        s.packets_extend(at.packets);
        if s.final_seen {
            set_trailers(&mut s.ex, "response_trailers", &headers);
            s.trailers = Some(headers);
        } else {
            let status = headers.iter().find(|h| h.name == ":status").and_then(|h| h.value.trim().parse().ok());
            let resp = Response {
                status: status.unwrap_or(0),
                reason: String::new(),
                version: VERSION.to_string(),
                body: Body::default(),
                headers,
            };
            if status.is_none() {
                s.ex.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    "h2.no_status",
                    "the response has no valid :status",
                ));
            }
            if (100..200).contains(&resp.status) {
                s.ex.interim.push(resp);
                shared.n.interim_responses += 1;
            } else {
                s.resp.body = body_acc(&resp.headers);
                s.inner = Inner::for_response(&s.ex.request.headers, &resp, at.first);
                if matches!(s.inner, Inner::Ws { .. }) {
                    shared.n.websocket_connections += 1;
                    if self.ws_open < MAX_OPEN_WS {
                        self.ws_open += 1;
                    } else {
                        s.inner = Inner::Body;
                        s.ex.diagnostics.push(Diagnostic::new(
                            Severity::Warning,
                            "ws.limit",
                            format!(
                                "more than {MAX_OPEN_WS} WebSockets open at once on this connection: this one's frames are kept as a body, not decoded"
                            ),
                        ));
                    }
                }
                s.ex.response = Some(resp);
                s.final_seen = true;
                s.ex.timing.response_start = Some(at.first);
                s.ex.timing.response_end = Some(at.last);
            }
        }
        if end {
            self.end_side(Side::Response, id, at, shared);
        }
    }

    fn push_promise(&mut self, parent: u32, promised: u32, headers: Headers, at: &At<'_>, shared: &mut Shared<'_>) {
        if self.streams.contains_key(&promised) || promised == 0 {
            shared.n.malformed += 1;
            self.conn_diag(
                shared,
                Severity::Warning,
                "h2.bad_push",
                &format!("a PUSH_PROMISE for stream {promised}, which is already in use; ignored"),
            );
            return;
        }
        let mut ex = self.exchange(promised, headers, shared);
        ex.extra = serde_json::json!({ "h2_stream": promised, "h2_pushed_by": parent });
        ex.diagnostics.push(Diagnostic::new(
            Severity::Info,
            "h2.push",
            format!("pushed by the server while answering stream {parent}"),
        ));
        ex.timing.request_start = Some(at.first);
        ex.timing.request_end = Some(at.last);
        let mut s = H2Stream {
            id: promised,
            ex,
            packets: Packets::default(),
            req: Half2 { ended: true, ..Half2::default() },
            resp: Half2::default(),
            final_seen: false,
            trailers: None,
            inner: Inner::Body,
        };
        s.packets_extend(at.packets);
        if let Some(p) = self.streams.get_mut(&parent) {
            p.packets_extend(at.packets);
        }
        self.open(s, shared);
    }

    fn data(&mut self, side: Side, f: &Frame<'_>, shared: &mut Shared<'_>) {
        let h = f.header;
        let Some(s) = self.streams.get_mut(&h.stream) else { return };
        let Some(bytes) = frame::unpad(&h, f.payload, false) else {
            shared.n.malformed += 1;
            s.ex.diagnostics.push(Diagnostic::new(
                Severity::Warning,
                "h2.bad_padding",
                "a DATA frame's padding is longer than the frame; its bytes were dropped",
            ));
            return;
        };
        s.packets_extend(f.packets);
        let body = match &mut s.inner {
            Inner::Ws { conn, .. } => {
                conn.push(direction(side), bytes, f.last_ts);
                false
            }
            Inner::Feed(feed) if side == Side::Response => {
                feed.push(bytes, f.last_ts);
                true
            }
            Inner::Feed(_) | Inner::Body => true,
        };
        let (half, end) = match side {
            Side::Request => (&mut s.req, &mut s.ex.timing.request_end),
            Side::Response => (&mut s.resp, &mut s.ex.timing.response_end),
        };
        if body {
            keep_body(&mut half.body, bytes, &shared.opts);
        }
        half.wire += bytes.len() as u64;
        half.hole |= f.hole;
        // A WebSocket's request ends with its HEADERS: later client frames are messages.
        if body || side == Side::Response {
            *end = Some(end.map_or(f.last_ts, |e| e.max(f.last_ts)));
        }
        if h.has(flag::END_STREAM) {
            let at = At { first: f.first_ts, last: f.last_ts, packets: &[] };
            self.end_side(side, h.stream, &at, shared);
        }
        self.maybe_finish(h.stream, shared);
    }

    /// `side` sent END_STREAM on `id`.
    fn end_side(&mut self, side: Side, id: u32, at: &At<'_>, _shared: &mut Shared<'_>) {
        let Some(s) = self.streams.get_mut(&id) else { return };
        let (half, end) = match side {
            Side::Request => (&mut s.req, &mut s.ex.timing.request_end),
            Side::Response => (&mut s.resp, &mut s.ex.timing.response_end),
        };
        half.ended = true;
        let ws = if let Inner::Ws { first_end, .. } = &mut s.inner {
            first_end.get_or_insert(side);
            true
        } else {
            false
        };
        if (side == Side::Request && !ws) || (side == Side::Response && s.final_seen) {
            *end = Some(end.map_or(at.last, |e| e.max(at.last)));
        }
    }

    fn maybe_finish(&mut self, id: u32, shared: &mut Shared<'_>) {
        if self.streams.get(&id).is_some_and(|s| s.req.ended && s.resp.ended) {
            if let Some(s) = self.streams.remove(&id) {
                let state = if s.final_seen {
                    None
                } else {
                    Some(State::NoResponse("the stream ended without a final response".into()))
                };
                self.finish(s, state, shared);
            }
        }
    }

    fn reset(&mut self, side: Side, id: u32, code: u32, at: &At<'_>, shared: &mut Shared<'_>) {
        let Some(mut s) = self.streams.remove(&id) else { return };
        s.packets_extend(at.packets);
        let state = if code == 0 && s.resp.ended && s.final_seen {
            None
        } else {
            let why = format!("stream reset by the {}: {}", side_name(side), frame::error_text(code));
            s.ex.diagnostics.push(Diagnostic::new(Severity::Warning, "h2.rst_stream", why.clone()));
            Some(State::Failed(why))
        };
        self.finish(s, state, shared);
    }

    fn goaway(&mut self, side: Side, last: u32, code: u32, shared: &mut Shared<'_>) {
        if code != 0 {
            self.conn_diag(
                shared,
                Severity::Warning,
                "h2.goaway",
                &format!("the {} closed the connection with GOAWAY {}", side_name(side), frame::error_text(code)),
            );
        }
        // Streams the other side started after `last` were not processed.
        let theirs = |id: u32| match side {
            Side::Response => id % 2 == 1,
            Side::Request => id % 2 == 0,
        };
        let refused: Vec<u32> =
            self.streams.range(last.saturating_add(1)..).map(|(&id, _)| id).filter(|&id| theirs(id)).collect();
        for id in refused {
            if let Some(s) = self.streams.remove(&id) {
                let why = format!(
                    "not processed: the {}'s GOAWAY ({}) named stream {last} as the last",
                    side_name(side),
                    frame::error_text(code)
                );
                let state = cut_state(&s, &why);
                self.finish(s, state, shared);
            }
        }
    }

    /// `side`'s header blocks can no longer be decoded.
    fn lose_hpack(&mut self, side: Side, why: &str, shared: &mut Shared<'_>) {
        let r = role(side);
        if self.desync[r] {
            return;
        }
        self.desync[r] = true;
        shared.n.resyncs += 1;
        self.conn_diag(
            shared,
            Severity::Error,
            "h2.hpack_desync",
            &format!(
                "HPACK desync ({} side): {why}; its later header blocks cannot be decoded, so the streams they start or answer are not shown",
                side_name(side)
            ),
        );
        // Streams that still need headers from this side cannot get them.
        let reason = format!("HPACK desync: {why}");
        let stuck: Vec<u32> = match side {
            Side::Response => self.streams.iter().filter(|(_, s)| !s.final_seen).map(|(&id, _)| id).collect(),
            Side::Request => Vec::new(),
        };
        for id in stuck {
            if let Some(mut s) = self.streams.remove(&id) {
                s.ex.diagnostics.push(Diagnostic::new(Severity::Error, "h2.hpack_desync", reason.clone()));
                let state = cut_state(&s, &reason);
                self.finish(s, state, shared);
            }
        }
    }

    /// Frame boundaries of `side` were lost: nothing more is read from it.
    fn lose_framing(&mut self, side: Side, why: &str, shared: &mut Shared<'_>) {
        self.block[role(side)] = None;
        self.lose_hpack(side, &format!("{why} lost the frame boundaries"), shared);
        let reason = format!("HTTP/2 framing lost after {why}");
        let stuck: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| match side {
                Side::Request => !s.req.ended,
                Side::Response => !s.resp.ended,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in stuck {
            if let Some(mut s) = self.streams.remove(&id) {
                s.ex.diagnostics.push(Diagnostic::new(Severity::Error, "h2.framing_lost", reason.clone()));
                let state = cut_state(&s, &reason);
                self.finish(s, state, shared);
            }
        }
    }

    /// Emit a stream's exchange; `state` overrides a complete one.
    fn finish(&mut self, s: Box<H2Stream>, state: Option<State>, shared: &mut Shared<'_>) {
        let H2Stream { mut ex, packets, req, resp, trailers, inner, .. } = *s;
        if matches!(inner, Inner::Ws { .. }) {
            self.ws_open = self.ws_open.saturating_sub(1);
        }
        let (body, diags) = finish_body(req.body, req.wire, req.hole, &shared.opts, &mut shared.n);
        ex.request.body = body;
        ex.diagnostics.extend(diags);
        if let Some(r) = ex.response.as_mut() {
            let (body, diags) = finish_body(resp.body, resp.wire, resp.hole, &shared.opts, &mut shared.n);
            r.body = body;
            ex.diagnostics.extend(diags);
        }
        if let Some((stream, diags)) = inner.finish(state.as_ref(), ex.timing.response_start) {
            shared.n.stream_messages += stream.count();
            ex.diagnostics.extend(diags);
            ex.stream = Some(Box::new(stream));
        }
        crate::http::feed::split_whole(&mut ex);
        if let Some(st) = state {
            if ex.state == State::Complete {
                ex.state = st;
            }
        }
        grpc_outcome(&mut ex, trailers.as_ref());
        let entry = Entry {
            ex,
            req_done: true,
            resp_done: true,
            wants_switch: false,
            packets,
            req_span: None,
            resp_span: None,
            prepared: None,
        };
        emit(Box::new(entry), shared);
        self.emitted += 1;
    }
}

impl H2Stream {
    fn packets_extend(&mut self, packets: &[u64]) {
        for &p in packets {
            if self.packets.last() != Some(p) {
                self.packets.push(p);
            }
        }
    }
}

impl Inner {
    /// What the DATA of a stream whose request had `req` headers and whose final response
    /// is `resp` (first byte at `opened`) carries.
    fn for_response(req: &Headers, resp: &Response, opened: Nanos) -> Self {
        if (200..300).contains(&resp.status) && is_extended_connect_ws(req) {
            let conn = Box::new(WsConn::new(&resp.headers, Some(opened)));
            return Self::Ws { conn, first_end: None, capture_ended: false };
        }
        match feed_for(resp) {
            Some(f) => Self::Feed(Box::new(f)),
            None => Self::Body,
        }
    }

    /// The capture ended while the stream was open: a WebSocket stays open, not cut.
    fn keep_open(&mut self) {
        if let Self::Ws { capture_ended, .. } = self {
            *capture_ended = true;
        }
    }

    /// The messages, when the stream carried some; `state` is how the exchange was cut, if
    /// it was.
    fn finish(self, state: Option<&State>, opened: Option<Nanos>) -> Option<(MessageStream, Vec<Diagnostic>)> {
        let cut = state.map(|s| match s {
            State::Complete => String::new(),
            State::NoResponse(why) | State::Failed(why) | State::Aborted(why) => why.clone(),
        });
        match self {
            Self::Body => None,
            Self::Feed(f) => {
                let (mut stream, diags) = f.finish(cut.as_deref());
                stream.opened = opened;
                Some((stream, diags))
            }
            Self::Ws { conn, first_end, capture_ended } => {
                let (mut stream, diags) = conn.finish(if capture_ended { None } else { cut.as_deref() });
                if stream.end == StreamEnd::Open && !capture_ended {
                    stream.end = match first_end {
                        Some(Side::Request) => StreamEnd::ClientClose { code: None },
                        Some(Side::Response) => StreamEnd::ServerClose { code: None },
                        None => StreamEnd::Open,
                    };
                }
                Some((stream, diags))
            }
        }
    }
}

/// True when `req` is an extended CONNECT (RFC 8441) for the `websocket` protocol.
fn is_extended_connect_ws(req: &Headers) -> bool {
    let pseudo = |n: &str| req.iter().find(|h| h.name == n).map(|h| h.value.trim().to_ascii_lowercase());
    pseudo(":method").as_deref() == Some("connect") && pseudo(":protocol").as_deref() == Some("websocket")
}

/// A body accumulator for a message with `headers` (its content coding).
fn body_acc(headers: &Headers) -> BodyAcc {
    let ce = headers.get("content-encoding").map(str::trim).filter(|v| !v.is_empty());
    BodyAcc {
        codings: ce.map(decode::codings).unwrap_or_default(),
        encoding: ce.map(str::to_string),
        ..BodyAcc::default()
    }
}

/// Record trailers in the exchange's extra fields, as the HTTP/1 path does.
fn set_trailers(ex: &mut Exchange, key: &str, t: &Headers) {
    let value =
        serde_json::Value::Array(t.iter().map(|h| serde_json::json!({ "name": h.name, "value": h.value })).collect());
    if !ex.extra.is_object() {
        ex.extra = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(o) = ex.extra.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

/// A gRPC call whose `grpc-status` (trailers, or the headers of a trailers-only response)
/// is not OK failed, whatever its HTTP status: its state says so.
fn grpc_outcome(ex: &mut Exchange, trailers: Option<&Headers>) {
    let Some(resp) = ex.response.as_ref() else { return };
    let ct = resp.headers.get("content-type").or_else(|| ex.request.headers.get("content-type"));
    if !ct.is_some_and(grpc::is_grpc) {
        return;
    }
    let outcome = trailers.and_then(grpc::Outcome::from_headers).or_else(|| grpc::Outcome::from_headers(&resp.headers));
    match outcome {
        Some(o) if o.code != 0 => {
            let why = format!("gRPC status {}", o.describe());
            ex.diagnostics.push(Diagnostic::new(Severity::Warning, "grpc.status", why.clone()));
            if ex.state == State::Complete {
                ex.state = State::Failed(why);
            }
        }
        Some(_) => {}
        None if ex.state == State::Complete => {
            ex.diagnostics.push(Diagnostic::new(
                Severity::Warning,
                "grpc.no_status",
                "the gRPC response ended without grpc-status",
            ));
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
    use crate::http::h2::frame::{PREFACE, flag, kind};
    use crate::ingest::capture::{HttpAdapter, HttpCounters};
    use crate::ingest::{Collect, ReadOptions, Sink};
    use crate::model::message::StreamEnd;
    use crate::model::{Exchange, State, TlsInfo};

    /// One synthetic stream event.
    #[derive(Clone, Debug)]
    enum Ev {
        C(Vec<u8>),
        S(Vec<u8>),
        GapC(u64),
        GapS(u64),
        Tls(Option<&'static str>),
    }

    fn info(syn_seen: bool) -> ConnInfo {
        ConnInfo {
            id: 3,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:8080".parse().unwrap(),
            syn_seen,
        }
    }

    fn play_on(conn: &ConnInfo, events: &[Ev], sink: &mut dyn Sink) -> HttpCounters {
        let mut a = HttpAdapter::new(Arc::from("h2.pcap"), ReadOptions::default(), sink);
        a.on_open(conn, 0);
        for (i, e) in events.iter().enumerate() {
            let ts = (i as i64 + 1) * 1_000_000;
            let pkt = i as u64 + 1;
            match e {
                Ev::C(d) => a.on_data(conn, Dir::ToServer, d, ts, pkt),
                Ev::S(d) => a.on_data(conn, Dir::ToClient, d, ts, pkt),
                Ev::GapC(n) => a.on_gap(conn, Dir::ToServer, *n, ts),
                Ev::GapS(n) => a.on_gap(conn, Dir::ToClient, *n, ts),
                Ev::Tls(alpn) => {
                    let tls = TlsInfo {
                        version: "TLS 1.3".into(),
                        cipher: "TLS_AES_128_GCM_SHA256".into(),
                        alpn: alpn.map(str::to_string),
                        sni: Some("api.example".into()),
                    };
                    a.on_tls(conn, &Arc::new(tls));
                }
            }
        }
        a.on_close(conn, CloseKind::Fin, 1_000_000_000);
        a.finish()
    }

    fn play(events: &[Ev]) -> (Collect, HttpCounters) {
        let mut sink = Collect::default();
        let n = play_on(&info(true), events, &mut sink);
        (sink, n)
    }

    /// Builds HTTP/2 bytes with a real HPACK encoder per direction (dynamic table in use).
    struct Wire {
        enc: [loona_hpack::Encoder<'static>; 2],
    }

    impl Wire {
        fn new() -> Self {
            Self { enc: [loona_hpack::Encoder::new(), loona_hpack::Encoder::new()] }
        }

        fn block(&mut self, client: bool, fields: &[(&str, &str)]) -> Vec<u8> {
            let e = &mut self.enc[usize::from(!client)];
            e.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
        }

        fn headers(&mut self, client: bool, stream: u32, fields: &[(&str, &str)], end: bool) -> Vec<u8> {
            let b = self.block(client, fields);
            let flags = flag::END_HEADERS | if end { flag::END_STREAM } else { 0 };
            frame(kind::HEADERS, flags, stream, &b)
        }
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        crate::http::h2::frame::encode(kind, flags, stream, payload)
    }

    fn data(stream: u32, body: &[u8], end: bool) -> Vec<u8> {
        frame(kind::DATA, if end { flag::END_STREAM } else { 0 }, stream, body)
    }

    fn settings() -> Vec<u8> {
        frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
    }

    fn client_start() -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        v.extend(settings());
        v
    }

    fn get(w: &mut Wire, stream: u32, path: &str) -> Vec<u8> {
        w.headers(
            true,
            stream,
            &[(":method", "GET"), (":scheme", "http"), (":authority", "api.test"), (":path", path)],
            true,
        )
    }

    fn ok(w: &mut Wire, stream: u32, body: &[u8]) -> Vec<u8> {
        let mut v = w.headers(false, stream, &[(":status", "200"), ("content-type", "application/json")], false);
        v.extend(data(stream, body, true));
        v
    }

    /// A conversation with three streams, a POST with a body in two DATA frames (one
    /// padded), an interim 100, trailers, a gzip body and a header block split by
    /// CONTINUATION.
    fn conversation() -> Vec<Ev> {
        let mut w = Wire::new();
        let mut c1 = client_start();
        c1.extend(get(&mut w, 1, "/a"));
        let post = w.block(
            true,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "api.test"),
                (":path", "/b?x=1"),
                ("content-type", "text/plain"),
            ],
        );
        let (p1, p2) = post.split_at(post.len() / 2);
        c1.extend(frame(kind::HEADERS, 0, 3, p1));
        c1.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 3, p2));
        c1.extend(data(3, b"hello ", false));
        let mut padded = vec![3u8];
        padded.extend_from_slice(b"world");
        padded.extend_from_slice(&[0, 0, 0]);
        c1.extend(frame(kind::DATA, flag::END_STREAM | flag::PADDED, 3, &padded));
        let mut s1 = settings();
        s1.extend(frame(kind::SETTINGS, flag::ACK, 0, &[]));
        s1.extend(w.headers(false, 3, &[(":status", "100")], false));
        let c2 = get(&mut w, 5, "/gz");
        let mut s2 = ok(&mut w, 1, b"{\"a\":1}");
        s2.extend(w.headers(false, 3, &[(":status", "201"), ("content-type", "text/plain")], false));
        s2.extend(data(3, b"created", false));
        s2.extend(w.headers(false, 3, &[("x-checksum", "abc")], true));
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(b"unzipped text").unwrap();
            e.finish().unwrap()
        };
        s2.extend(w.headers(false, 5, &[(":status", "200"), ("content-encoding", "gzip")], false));
        s2.extend(data(5, &gz, true));
        s2.extend(frame(kind::PING, 0, 0, &[0; 8]));
        s2.extend(frame(0xfa, 0, 0, b"unknown extension frame"));
        vec![Ev::C(c1), Ev::S(s1), Ev::C(c2), Ev::S(s2)]
    }

    fn by_stream(out: &Collect) -> Vec<&Exchange> {
        let mut v: Vec<&Exchange> = out.exchanges.iter().collect();
        v.sort_by_key(|e| e.extra["h2_stream"].as_u64());
        v
    }

    #[test]
    fn prior_knowledge_streams_become_exchanges_with_pseudo_headers_bodies_and_trailers() {
        let (out, n) = play(&conversation());
        assert_eq!(out.exchanges.len(), 3, "{:#?}", out.diagnostics);
        assert_eq!(n.h2c_connections, 1);
        assert_eq!(n.http_connections, 1);
        assert_eq!(n.complete, 3);
        let ex = by_stream(&out);
        assert_eq!((ex[0].request.method.as_str(), ex[0].request.target.as_str()), ("GET", "/a"));
        assert_eq!(ex[0].request.host.as_deref(), Some("api.test"));
        assert_eq!(ex[0].request.scheme.as_deref(), Some("http"));
        assert_eq!(ex[0].request.version, "HTTP/2");
        let r0 = ex[0].response.as_ref().unwrap();
        assert_eq!((r0.status, r0.version.as_str()), (200, "HTTP/2"));
        assert_eq!(r0.body.content, b"{\"a\":1}");
        // The POST: body from two frames (padding removed), a 100 interim, trailers.
        assert_eq!(ex[1].request.method, "POST");
        assert_eq!(ex[1].request.query(), Some("x=1"));
        assert_eq!(ex[1].request.body.content, b"hello world");
        assert_eq!(ex[1].interim.len(), 1);
        assert_eq!(ex[1].interim[0].status, 100);
        assert_eq!(ex[1].status(), Some(201));
        assert_eq!(ex[1].extra["response_trailers"][0]["name"], "x-checksum");
        // Content decoding as for HTTP/1.
        let r2 = ex[2].response.as_ref().unwrap();
        assert_eq!(r2.body.content, b"unzipped text");
        assert_eq!(r2.body.encoding.as_deref(), Some("gzip"));
        // Timing: request HEADERS at 1 ms; final response HEADERS at 4 ms.
        assert_eq!(ex[0].timing.request_start, Some(1_000_000));
        assert_eq!(ex[0].timing.ttfb(), Some(3_000_000));
        assert_eq!(ex[0].provenance.packets, vec![1, 4]);
        assert_eq!(ex[1].provenance.packets, vec![1, 2, 4]);
        assert!(ex.iter().all(|e| e.state == State::Complete));
    }

    /// Every split point of every segment gives the same exchanges.
    #[test]
    fn splitting_the_segments_at_every_byte_gives_the_same_exchanges() {
        let evs = conversation();
        let want = fingerprint(&play(&evs).0);
        for i in 0..evs.len() {
            let (Ev::C(bytes) | Ev::S(bytes)) = &evs[i] else { continue };
            for cut in 1..bytes.len() {
                let mut split = evs.clone();
                let (a, b) = (bytes[..cut].to_vec(), bytes[cut..].to_vec());
                let (x, y) = match &evs[i] {
                    Ev::C(_) => (Ev::C(a), Ev::C(b)),
                    _ => (Ev::S(a), Ev::S(b)),
                };
                split.splice(i..=i, [x, y]);
                assert_eq!(fingerprint(&play(&split).0), want, "segment {i} cut at {cut}");
            }
        }
    }

    fn fingerprint(out: &Collect) -> Vec<String> {
        let mut v: Vec<String> = out
            .exchanges
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {:?} {:?} {:?} {:?} {:?} {}",
                    e.extra["h2_stream"],
                    e.request.method,
                    e.request.target,
                    e.request.headers,
                    e.status(),
                    e.response.as_ref().map(|r| (&r.headers, &r.body.content)),
                    e.request.body.content,
                    e.state,
                    e.interim.len()
                )
            })
            .collect();
        v.sort();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Segments cut into random pieces (several cuts each) give the same exchanges.
        #[test]
        fn random_segmentation_gives_the_same_exchanges(cuts in proptest::collection::vec(1usize..40, 1..30)) {
            let evs = conversation();
            let want = fingerprint(&play(&evs).0);
            let mut split = Vec::new();
            let mut k = 0;
            for e in &evs {
                let (Ev::C(bytes) | Ev::S(bytes)) = e else { continue };
                let mut at = 0;
                while at < bytes.len() {
                    let n = cuts[k % cuts.len()].min(bytes.len() - at);
                    k += 1;
                    let piece = bytes[at..at + n].to_vec();
                    split.push(if matches!(e, Ev::C(_)) { Ev::C(piece) } else { Ev::S(piece) });
                    at += n;
                }
            }
            prop_assert_eq!(fingerprint(&play(&split).0), want);
        }
    }

    #[test]
    fn a_server_speaking_first_with_settings_is_recognised() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/first"));
        let s = ok(&mut w, 1, b"x");
        let (out, n) = play(&[Ev::S(settings()), Ev::C(c), Ev::S(s)]);
        assert_eq!(n.h2c_connections, 1);
        assert_eq!(out.exchanges.len(), 1);
        assert_eq!(out.exchanges[0].request.target, "/first");
        assert_eq!(out.exchanges[0].status(), Some(200));
    }

    #[test]
    fn a_preface_from_the_side_guessed_as_server_swaps_the_roles() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/swapped"));
        let s = ok(&mut w, 1, b"x");
        let mut sink = Collect::default();
        // Without a handshake the reassembler guessed wrong: the preface comes "from the server".
        let n = play_on(&info(false), &[Ev::S(c), Ev::C(s)], &mut sink);
        assert_eq!(n.roles_swapped, 1);
        assert_eq!(sink.exchanges.len(), 1);
        let ex = &sink.exchanges[0];
        assert_eq!(ex.request.target, "/swapped");
        assert_eq!(ex.client.unwrap().to_string(), "10.0.0.2:8080");
    }

    #[test]
    fn an_h2c_upgrade_continues_the_upgrading_request_as_stream_1() {
        let mut w = Wire::new();
        let req = b"GET /up HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n".to_vec();
        let mut s = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
        s.extend(settings());
        s.extend(ok(&mut w, 1, b"upgraded body"));
        let mut c2 = client_start();
        c2.extend(get(&mut w, 3, "/after"));
        let s2 = ok(&mut w, 3, b"second");
        let (out, n) = play(&[Ev::C(req), Ev::S(s), Ev::C(c2), Ev::S(s2)]);
        assert_eq!(out.exchanges.len(), 2, "{:#?}", out.diagnostics);
        assert_eq!(n.upgraded_connections, 1);
        assert_eq!(n.h2c_connections, 1);
        let ex = by_stream(&out);
        assert_eq!(ex[0].request.target, "/up");
        assert_eq!(ex[0].request.version, "HTTP/1.1");
        assert_eq!(ex[0].interim[0].status, 101);
        let r = ex[0].response.as_ref().unwrap();
        assert_eq!((r.status, r.version.as_str(), r.body.content.as_slice()), (200, "HTTP/2", &b"upgraded body"[..]));
        assert_eq!(ex[1].request.target, "/after");
        assert_eq!(ex[1].response.as_ref().unwrap().body.content, b"second");
    }

    #[test]
    fn alpn_h2_from_the_tls_layer_switches_to_http2_with_https_and_tls_info() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(w.headers(true, 1, &[(":method", "GET"), (":authority", "api.example"), (":path", "/tls")], true));
        let s = ok(&mut w, 1, b"secret");
        let (out, n) = play(&[Ev::Tls(Some("h2")), Ev::C(c), Ev::S(s)]);
        assert_eq!(n.h2c_connections, 1);
        let ex = &out.exchanges[0];
        assert_eq!(ex.request.scheme.as_deref(), Some("https"));
        assert_eq!(ex.tls.as_ref().unwrap().alpn.as_deref(), Some("h2"));
        assert_eq!(ex.response.as_ref().unwrap().body.content, b"secret");
        // ALPN http/1.1: HTTP/1 parsing, still marked https with its TLS session.
        let (out, n) = play(&[
            Ev::Tls(Some("http/1.1")),
            Ev::C(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
            Ev::S(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
        ]);
        assert_eq!(n.h2c_connections, 0);
        assert_eq!(out.exchanges[0].request.scheme.as_deref(), Some("https"));
        assert!(out.exchanges[0].tls.is_some());
    }

    #[test]
    fn rst_stream_fails_the_exchange_with_its_error_code() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/slow"));
        let mut c2 = frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes());
        c2.extend(get(&mut w, 3, "/next"));
        let s = ok(&mut w, 3, b"");
        let (out, n) = play(&[Ev::C(c), Ev::C(c2), Ev::S(s)]);
        assert_eq!(n.exchanges, 2);
        let ex = by_stream(&out);
        assert_eq!(ex[0].state, State::Failed("stream reset by the client: CANCEL (0x8)".into()));
        assert_eq!(ex[1].state, State::Complete);
    }

    #[test]
    fn goaway_and_the_end_of_the_capture_leave_streams_incomplete() {
        let mut w = Wire::new();
        let mut c = client_start();
        for id in [1, 3, 5] {
            c.extend(get(&mut w, id, "/x"));
        }
        let mut s = w.headers(false, 1, &[(":status", "200")], false);
        s.extend(data(1, b"part", false));
        let mut goaway = 1u32.to_be_bytes().to_vec();
        goaway.extend(0u32.to_be_bytes());
        s.extend(frame(kind::GOAWAY, 0, 0, &goaway));
        let (out, n) = play(&[Ev::C(c), Ev::S(s)]);
        assert_eq!(n.exchanges, 3);
        let ex = by_stream(&out);
        assert!(
            matches!(&ex[0].state, State::Aborted(r) if r == "response cut: connection closed"),
            "{:?}",
            ex[0].state
        );
        for e in &ex[1..] {
            assert!(matches!(&e.state, State::NoResponse(r) if r.contains("GOAWAY")), "{:?}", e.state);
        }
    }

    #[test]
    fn a_server_push_is_its_own_exchange_linked_to_the_pushing_stream() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/index.html"));
        let promise = w.block(
            false,
            &[(":method", "GET"), (":scheme", "http"), (":authority", "api.test"), (":path", "/style.css")],
        );
        let mut pp = 2u32.to_be_bytes().to_vec();
        pp.extend(promise);
        let mut s = frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &pp);
        s.extend(ok(&mut w, 1, b"<html>"));
        s.extend(w.headers(false, 2, &[(":status", "200"), ("content-type", "text/css")], false));
        s.extend(data(2, b"body{}", true));
        let (out, _) = play(&[Ev::C(c), Ev::S(s)]);
        assert_eq!(out.exchanges.len(), 2);
        let ex = by_stream(&out);
        assert_eq!(ex[1].extra["h2_pushed_by"], 1);
        assert_eq!(ex[1].request.target, "/style.css");
        assert_eq!(ex[1].response.as_ref().unwrap().body.content, b"body{}");
        assert!(ex[1].diagnostics.iter().any(|d| d.code == "h2.push"));
    }

    fn grpc_call(w: &mut Wire, stream: u32, status: &str, trailers_only: bool) -> (Vec<u8>, Vec<u8>) {
        let mut c = w.headers(
            true,
            stream,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "g"),
                (":path", "/pkg.Svc/Get"),
                ("content-type", "application/grpc"),
            ],
            false,
        );
        c.extend(data(stream, &[0, 0, 0, 0, 2, 0x08, 0x01], true));
        let s = if trailers_only {
            w.headers(
                false,
                stream,
                &[(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", status)],
                true,
            )
        } else {
            let mut s = w.headers(false, stream, &[(":status", "200"), ("content-type", "application/grpc")], false);
            s.extend(data(stream, &[0, 0, 0, 0, 0], false));
            s.extend(w.headers(false, stream, &[("grpc-status", status), ("grpc-message", "no%20such%20thing")], true));
            s
        };
        (c, s)
    }

    #[test]
    fn a_grpc_error_status_fails_the_exchange_despite_http_200() {
        let mut w = Wire::new();
        let mut c = client_start();
        let (c1, s1) = grpc_call(&mut w, 1, "0", false);
        let (c3, s3) = grpc_call(&mut w, 3, "5", false);
        let (c5, s5) = grpc_call(&mut w, 5, "14", true);
        c.extend(c1);
        c.extend(c3);
        c.extend(c5);
        let (out, n) = play(&[Ev::C(c), Ev::S([s1, s3, s5].concat())]);
        assert_eq!(n.complete, 1);
        let ex = by_stream(&out);
        assert_eq!(ex[0].state, State::Complete);
        assert_eq!(ex[1].status(), Some(200));
        assert_eq!(ex[1].state, State::Failed("gRPC status NOT_FOUND (5): no such thing".into()));
        assert_eq!(ex[2].state, State::Failed("gRPC status UNAVAILABLE (14)".into()));
        let lines = crate::http::h2::grpc::detail_lines(ex[1]).unwrap();
        assert_eq!(lines[0], "gRPC status NOT_FOUND (5): no such thing");
        assert_eq!(lines[1], "request messages (1)");
        assert!(lines.iter().any(|l| l.trim() == "1: varint 1 (zigzag -1)"), "{lines:#?}");
        assert!(lines.iter().any(|l| l == "response messages (1)"), "{lines:#?}");
    }

    #[test]
    fn a_gap_inside_a_header_block_marks_hpack_desync_and_keeps_earlier_exchanges() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/before"));
        let s = ok(&mut w, 1, b"kept");
        let c2 = get(&mut w, 3, "/lost");
        let s_lost = ok(&mut w, 3, b"lost");
        let c3 = get(&mut w, 5, "/after");
        // The client's HEADERS for stream 3: first 12 bytes seen, the rest lost.
        let (out, n) = play(&[
            Ev::C(c),
            Ev::S(s),
            Ev::C(c2[..12].to_vec()),
            Ev::GapC((c2.len() - 12) as u64),
            Ev::S(s_lost),
            Ev::C(c3),
        ]);
        assert_eq!(out.exchanges.len(), 1, "{:#?}", out.exchanges);
        assert_eq!(out.exchanges[0].request.target, "/before");
        assert_eq!(out.exchanges[0].state, State::Complete);
        assert!(out.diagnostics.iter().any(|d| d.code == "h2.hpack_desync" && d.message.contains("HPACK desync")));
        assert_eq!(n.resyncs, 1);
    }

    #[test]
    fn undecodable_trailers_desync_the_server_side_but_end_the_stream_they_close() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/one"));
        c.extend(get(&mut w, 3, "/two"));
        let mut s = w.headers(false, 1, &[(":status", "200")], false);
        s.extend(data(1, b"body", false));
        // Trailers referring to dynamic table entry 200, which does not exist.
        s.extend(frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 1, &[0x80 | 0x7f, 0x49]));
        let (out, _) = play(&[Ev::C(c), Ev::S(s)]);
        let ex = by_stream(&out);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].state, State::Complete);
        assert_eq!(ex[0].response.as_ref().unwrap().body.content, b"body");
        assert!(matches!(&ex[1].state, State::NoResponse(r) if r.starts_with("HPACK desync")), "{:?}", ex[1].state);
        assert_eq!(out.diagnostics.iter().filter(|d| d.code == "h2.hpack_desync").count(), 1);
    }

    #[test]
    fn a_gap_across_frames_loses_framing_and_cuts_the_open_streams() {
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(get(&mut w, 1, "/a"));
        let mut s = w.headers(false, 1, &[(":status", "200")], false);
        s.extend(data(1, b"part", false));
        let (out, _) = play(&[Ev::C(c), Ev::S(s), Ev::GapS(5000), Ev::S(data(1, b"rest", true))]);
        assert_eq!(out.exchanges.len(), 1);
        let ex = &out.exchanges[0];
        assert!(matches!(&ex.state, State::Aborted(r) if r.contains("framing lost")), "{:?}", ex.state);
        assert!(ex.diagnostics.iter().any(|d| d.code == "h2.framing_lost"));
    }

    #[test]
    fn malformed_frames_and_an_orphan_continuation_give_diagnostics_not_panics() {
        let mut c = client_start();
        c.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 1, b"\x82"));
        // HEADERS whose padding is longer than the frame.
        c.extend(frame(kind::HEADERS, flag::PADDED | flag::END_HEADERS, 3, &[200, 1, 2]));
        c.extend(frame(kind::RST_STREAM, 0, 9, &[1]));
        c.extend(frame(kind::GOAWAY, 0, 0, &[]));
        c.extend(frame(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &[0, 0]));
        c.extend(frame(kind::DATA, flag::PADDED, 1, &[]));
        c.extend([0xff; 100]);
        let (out, n) = play(&[Ev::C(c), Ev::S(vec![0xff; 50])]);
        assert!(out.exchanges.is_empty());
        assert!(out.diagnostics.iter().any(|d| d.code == "h2.continuation_orphan"));
        assert!(n.malformed >= 2);
    }

    /// A sink that only counts (so that a test of a million streams keeps no exchanges).
    #[derive(Default)]
    struct Count {
        exchanges: u64,
        no_response: u64,
        diagnostics: Vec<String>,
    }

    impl Sink for Count {
        fn exchange(&mut self, ex: &Exchange) {
            self.exchanges += 1;
            if matches!(ex.state, State::NoResponse(_)) {
                self.no_response += 1;
            }
        }
        fn diagnostic(&mut self, d: &crate::model::Diagnostic) {
            self.diagnostics.push(d.code.clone());
        }
    }

    #[test]
    fn a_ten_megabyte_header_block_is_dropped_with_a_diagnostic() {
        let mut c = client_start();
        let chunk = vec![0x82u8; 1 << 20];
        c.extend(frame(kind::HEADERS, 0, 1, &chunk));
        for i in 0..10 {
            let last = i == 9;
            c.extend(frame(kind::CONTINUATION, if last { flag::END_HEADERS } else { 0 }, 1, &chunk));
        }
        let mut sink = Count::default();
        let n = play_on(&info(true), &[Ev::C(c)], &mut sink);
        assert_eq!(sink.exchanges, 0);
        assert!(sink.diagnostics.iter().any(|d| d == "h2.hpack_desync"));
        assert!(n.malformed >= 1);
    }

    #[test]
    fn a_million_streams_on_one_connection_stay_within_the_open_stream_cap() {
        // Each request uses an indexed :method GET, :scheme http, :path / (static table).
        let mut c = client_start();
        let block = [0x82u8, 0x86, 0x84];
        for id in 0..1_000_000u32 {
            c.extend(frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, 2 * id + 1, &block));
        }
        let mut sink = Count::default();
        let n = play_on(&info(true), &[Ev::C(c)], &mut sink);
        assert_eq!(sink.exchanges, 1_000_000);
        assert_eq!(sink.no_response, 1_000_000);
        assert_eq!(n.exchanges, 1_000_000);
        assert_eq!(sink.diagnostics.iter().filter(|d| *d == "h2.too_many_streams").count(), 1);
    }

    fn ws_connect(w: &mut Wire, stream: u32, ext: bool) -> Vec<u8> {
        let mut f = vec![
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/v1/ws/prices"),
            (":authority", "api.example"),
            ("sec-websocket-version", "13"),
        ];
        if ext {
            f.push(("sec-websocket-extensions", "permessage-deflate"));
        }
        w.headers(true, stream, &f, false)
    }

    fn ws_accept(w: &mut Wire, stream: u32, ext: bool) -> Vec<u8> {
        let mut f = vec![(":status", "200")];
        if ext {
            f.push(("sec-websocket-extensions", "permessage-deflate"));
        }
        w.headers(false, stream, &f, false)
    }

    #[test]
    fn extended_connect_websocket_data_becomes_messages_with_permessage_deflate() {
        use crate::http::ws::tests::{deflate_messages, frame as ws};
        use crate::model::message::{Direction, MessageKind};
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(ws_connect(&mut w, 1, true));
        let mut s = settings();
        s.extend(ws_accept(&mut w, 1, true));
        let msgs: [&[u8]; 3] = [b"{\"bid\":172.1}", b"{\"bid\":172.1}", b"{\"bid\":172.2}"];
        let z = deflate_messages(&msgs, true);
        // One WebSocket frame split over two DATA frames, two frames in one DATA frame.
        let f0 = ws(true, true, 1, None, &z[0]);
        let (a, b) = f0.split_at(3);
        let mut both = ws(true, true, 1, None, &z[1]);
        both.extend(ws(true, true, 1, None, &z[2]));
        let k = Some([1, 2, 3, 4]);
        let events = vec![
            Ev::C(c),
            Ev::S(s),
            Ev::C(data(1, &ws(true, false, 1, k, b"{\"op\":\"subscribe\"}"), false)),
            Ev::S(data(1, a, false)),
            Ev::S(data(1, b, false)),
            Ev::S(data(1, &both, false)),
            Ev::S(data(1, &ws(true, false, 9, None, b"hb"), false)),
            Ev::C(data(1, &ws(true, false, 10, k, b"hb"), false)),
            Ev::C(data(1, &ws(true, false, 8, k, &1000u16.to_be_bytes()), true)),
            Ev::S(data(1, &ws(true, false, 8, None, &1000u16.to_be_bytes()), true)),
        ];
        let (out, n) = play(&events);
        assert_eq!(out.exchanges.len(), 1);
        let ex = &out.exchanges[0];
        assert_eq!(ex.state, State::Complete);
        assert!(ex.diagnostics.is_empty(), "{:?}", ex.diagnostics);
        let st = ex.stream.as_ref().expect("a WebSocket stream");
        let kinds: Vec<(Direction, &str)> = st.messages.iter().map(|m| (m.direction, m.kind.label())).collect();
        use Direction::{ToClient as R, ToServer as S};
        assert_eq!(
            kinds,
            [(S, "text"), (R, "text"), (R, "text"), (R, "text"), (R, "ping"), (S, "pong"), (S, "close"), (R, "close")]
        );
        let texts: Vec<&[u8]> = st.messages.iter().filter(|m| m.compressed).map(|m| m.payload.as_slice()).collect();
        assert_eq!(texts, msgs);
        // The split frame completes with the second DATA frame's segment (event 5).
        assert_eq!(st.messages[1].time, 5_000_000);
        assert_eq!(st.end, StreamEnd::ClientClose { code: Some(1000) });
        assert_eq!(st.opened, Some(2_000_000));
        assert_eq!(ex.timing.request_end, Some(1_000_000));
        assert!(ex.request.body.content.is_empty());
        assert_eq!(st.messages[6].kind, MessageKind::Close { code: Some(1000), reason: String::new() });
        assert_eq!((n.websocket_connections, n.stream_messages), (1, 8));
    }

    #[test]
    fn websockets_beyond_the_per_connection_cap_are_kept_as_bodies_with_a_diagnostic() {
        use crate::http::ws::tests::frame as ws;
        let mut w = Wire::new();
        let mut c = client_start();
        let mut s = settings();
        let streams = super::MAX_OPEN_WS as u32 + 2;
        for i in 0..streams {
            c.extend(ws_connect(&mut w, 2 * i + 1, true));
            s.extend(ws_accept(&mut w, 2 * i + 1, true));
        }
        let mut events = vec![Ev::C(c), Ev::S(s)];
        for i in 0..streams {
            events.push(Ev::S(data(2 * i + 1, &ws(true, false, 1, None, b"tick"), true)));
            events.push(Ev::C(data(2 * i + 1, &[], true)));
        }
        let (out, n) = play(&events);
        assert_eq!(out.exchanges.len(), streams as usize);
        let decoded = out.exchanges.iter().filter(|e| e.stream.is_some()).count();
        let limited: Vec<_> =
            out.exchanges.iter().filter(|e| e.diagnostics.iter().any(|d| d.code == "ws.limit")).collect();
        assert_eq!((decoded, limited.len()), (super::MAX_OPEN_WS, 2));
        assert!(limited.iter().all(|e| e.stream.is_none()));
        assert_eq!(n.stream_messages, super::MAX_OPEN_WS as u64);
        // Once streams end, their room is free again.
        let mut w = Wire::new();
        let mut c = client_start();
        let mut s = settings();
        let mut events = Vec::new();
        for i in 0..streams {
            c.extend(ws_connect(&mut w, 2 * i + 1, false));
            s.extend(ws_accept(&mut w, 2 * i + 1, false));
            events.push(Ev::C(std::mem::take(&mut c)));
            events.push(Ev::S(std::mem::take(&mut s)));
            events.push(Ev::S(data(2 * i + 1, &ws(true, false, 1, None, b"tick"), true)));
            events.push(Ev::C(data(2 * i + 1, &[], true)));
        }
        let (out, _) = play(&events);
        assert!(out.exchanges.iter().all(|e| e.stream.is_some()));
    }

    #[test]
    fn a_refused_extended_connect_and_a_plain_connect_carry_no_messages() {
        use crate::http::ws::tests::frame as ws;
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(ws_connect(&mut w, 1, false));
        c.extend(w.headers(true, 3, &[(":method", "CONNECT"), (":authority", "db.example:5432")], false));
        let mut s = settings();
        s.extend(w.headers(false, 1, &[(":status", "400")], false));
        s.extend(w.headers(false, 3, &[(":status", "200")], false));
        let text = ws(true, false, 1, None, b"hi");
        let events = vec![
            Ev::C(c),
            Ev::S(s),
            Ev::S(data(1, b"bad", true)),
            Ev::S(data(3, &text, true)),
            Ev::C(data(1, b"", true)),
            Ev::C(data(3, b"", true)),
        ];
        let (out, n) = play(&events);
        assert_eq!(out.exchanges.len(), 2);
        assert!(out.exchanges.iter().all(|e| e.stream.is_none()));
        assert_eq!(n.websocket_connections, 0);
    }

    #[test]
    fn an_extended_connect_websocket_cut_by_a_reset_or_open_at_the_capture_end() {
        use crate::http::ws::tests::frame as ws;
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(ws_connect(&mut w, 1, false));
        c.extend(ws_connect(&mut w, 3, false));
        let mut s = settings();
        s.extend(ws_accept(&mut w, 1, false));
        s.extend(ws_accept(&mut w, 3, false));
        let events = [
            Ev::C(c),
            Ev::S(s),
            Ev::S(data(1, &ws(true, false, 1, None, b"one"), false)),
            Ev::S(data(3, &ws(true, false, 1, None, b"two"), false)),
            Ev::C(frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes())),
        ];
        let mut sink = Collect::default();
        let conn = info(true);
        let mut a = HttpAdapter::new(Arc::from("h2.pcap"), ReadOptions::default(), &mut sink);
        a.on_open(&conn, 0);
        for (i, e) in events.iter().enumerate() {
            let ts = (i as i64 + 1) * 1_000_000;
            match e {
                Ev::C(d) => a.on_data(&conn, Dir::ToServer, d, ts, i as u64),
                Ev::S(d) => a.on_data(&conn, Dir::ToClient, d, ts, i as u64),
                _ => {}
            }
        }
        a.on_close(&conn, CloseKind::EndOfCapture, 9_000_000);
        a.finish();
        let by = by_stream(&sink);
        let cut = by[0].stream.as_ref().expect("stream 1");
        assert!(matches!(&cut.end, StreamEnd::Cut { reason } if reason.contains("CANCEL")), "{:?}", cut.end);
        assert_eq!(cut.count(), 1);
        let open = by[1].stream.as_ref().expect("stream 3");
        assert_eq!(open.end, StreamEnd::Open);
        assert_eq!(open.messages[0].payload, b"two");
    }

    #[test]
    fn a_gap_inside_websocket_data_cuts_the_stream_and_keeps_earlier_messages() {
        use crate::http::ws::tests::frame as ws;
        let mut w = Wire::new();
        let mut c = client_start();
        c.extend(ws_connect(&mut w, 1, false));
        let mut s = settings();
        s.extend(ws_accept(&mut w, 1, false));
        s.extend(data(1, &ws(true, false, 1, None, b"before"), false));
        let big = data(1, &ws(true, false, 2, None, &[7; 200]), false);
        let (head, tail) = big.split_at(40);
        let events = [
            Ev::C(c),
            Ev::S(s),
            Ev::S(head.to_vec()),
            Ev::GapS(100),
            Ev::S(tail[100..].to_vec()),
            Ev::S(data(1, &ws(true, false, 1, None, b"after"), true)),
            Ev::C(data(1, b"", true)),
        ];
        let (out, _) = play(&events);
        let ex = &out.exchanges[0];
        let st = ex.stream.as_ref().expect("a WebSocket stream");
        assert_eq!(st.messages[0].payload, b"before");
        assert!(st.messages.iter().all(|m| m.payload != b"after"), "nothing is parsed after the gap");
        assert!(matches!(st.end, StreamEnd::Cut { .. }), "{:?}", st.end);
        assert!(ex.diagnostics.iter().any(|d| d.code == "ws.damaged"), "{:?}", ex.diagnostics);
    }
}
