//! WebSocket (RFC 6455) frames on one direction of an upgraded connection, turned into
//! [`Message`]s: frame heads of any length (a 4 GB length is streamed, never allocated),
//! masking undone, fragmented messages joined, control frames (ping, pong, close with its
//! code and reason) kept as messages of their own, and `permessage-deflate` (RFC 7692)
//! inflated with a raw-deflate context per direction that is kept between messages unless
//! the `101` negotiated `*_no_context_takeover` for that direction.
//!
//! Bounds: a message keeps at most [`MAX_PAYLOAD`] payload bytes (its size is still
//! counted); inflating a message stops at [`MAX_INFLATE`] bytes (a deflate bomb), after which
//! that direction's compressed messages keep their wire size only, since their shared
//! context is lost. Damage (a reserved opcode, an oversized control frame, a gap in the
//! bytes) stops the parser with a diagnostic; what was read is kept.

use flate2::{Decompress, FlushDecompress, Status};

use crate::model::message::{Direction, MAX_PAYLOAD, Message, MessageKind, MessageStream, StreamEnd};
use crate::model::{Diagnostic, Headers, Nanos, Severity};

/// Decompressed bytes counted per message before inflating gives up.
pub const MAX_INFLATE: u64 = 64 << 20;

/// Diagnostics one parser keeps (later ones are dropped; the first of each kind matters).
const MAX_DIAGNOSTICS: usize = 8;

/// The `permessage-deflate` parameters a `101` response agreed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deflate {
    /// The server starts every message it sends with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts every message it sends with an empty window.
    pub client_no_context_takeover: bool,
}

impl Deflate {
    /// Whether messages sent in `dir` start each with a fresh context.
    #[must_use]
    pub fn no_takeover(self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => self.client_no_context_takeover,
            Direction::ToClient => self.server_no_context_takeover,
        }
    }
}

/// True when a request asks to switch to WebSocket (`Upgrade: websocket`).
#[must_use]
pub fn is_upgrade(headers: &Headers) -> bool {
    headers.get_all("upgrade").any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("websocket")))
}

/// The negotiated extensions of a `101` response (`Sec-WebSocket-Extensions`), joined.
#[must_use]
pub fn extensions(headers: &Headers) -> Option<String> {
    let all: Vec<&str> = headers.get_all("sec-websocket-extensions").map(str::trim).collect();
    if all.is_empty() { None } else { Some(all.join(", ")) }
}

/// The `permessage-deflate` agreement in a `101` response's extensions, if any.
#[must_use]
pub fn negotiated_deflate(headers: &Headers) -> Option<Deflate> {
    for value in headers.get_all("sec-websocket-extensions") {
        for ext in value.split(',') {
            let mut params = ext.split(';').map(str::trim);
            if !params.next().is_some_and(|n| n.eq_ignore_ascii_case("permessage-deflate")) {
                continue;
            }
            let mut d = Deflate::default();
            for p in params {
                let name = p.split('=').next().unwrap_or("").trim();
                if name.eq_ignore_ascii_case("server_no_context_takeover") {
                    d.server_no_context_takeover = true;
                } else if name.eq_ignore_ascii_case("client_no_context_takeover") {
                    d.client_no_context_takeover = true;
                }
            }
            return Some(d);
        }
    }
    None
}

/// A message being assembled from frames.
#[derive(Debug, Default)]
struct Partial {
    opcode: u8,
    compressed: bool,
    payload: Vec<u8>,
    size: u64,
    truncated: bool,
    frames: u32,
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    remaining: u64,
    mask_pos: usize,
}

/// The per-direction inflate context.
struct Inflater {
    z: Decompress,
    /// Inflating broke (bomb or corrupt data): with context takeover the following messages
    /// cannot be inflated any more.
    broken: bool,
}

/// Parses one direction of a WebSocket connection.
pub struct WsParser {
    dir: Direction,
    head: [u8; 14],
    head_len: usize,
    frame: Option<Frame>,
    control: Vec<u8>,
    msg: Option<Partial>,
    deflate: Option<Deflate>,
    inflater: Option<Inflater>,
    failed: bool,
    frames: u64,
    diagnostics: Vec<Diagnostic>,
    scratch: Vec<u8>,
}

impl WsParser {
    /// A parser for the frames sent in `dir`, with the `permessage-deflate` agreement of
    /// the handshake, if any.
    #[must_use]
    pub fn new(dir: Direction, deflate: Option<Deflate>) -> Self {
        Self {
            dir,
            head: [0; 14],
            head_len: 0,
            frame: None,
            control: Vec::new(),
            msg: None,
            deflate,
            inflater: None,
            failed: false,
            frames: 0,
            diagnostics: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Frames read so far.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// True once damage stopped the parser.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Diagnostics so far (taken).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Feed the next bytes of this direction, captured at `ts`; finished messages go into
    /// `out` (which also learns of the first close frame).
    pub fn push(&mut self, mut data: &[u8], ts: Nanos, out: &mut MessageStream) {
        while !data.is_empty() && !self.failed {
            if self.frame.is_none() {
                data = self.read_head(data);
                continue;
            }
            data = self.read_payload(data, ts, out);
        }
    }

    /// Bytes of this direction were not captured: frames cannot be found again after it.
    pub fn gap(&mut self, len: u64, out: &mut MessageStream) {
        if self.failed {
            return;
        }
        self.fail(format!("{len} bytes of the WebSocket stream were not captured; the rest was not parsed"));
        self.cut_partial(out);
        if matches!(out.end, StreamEnd::Open) {
            out.end = StreamEnd::Cut { reason: format!("{len} bytes not captured") };
        }
    }

    /// The direction ended (connection closed or input over): a message in progress is
    /// kept, marked truncated.
    pub fn finish(&mut self, out: &mut MessageStream) {
        if self.frame.is_some() || self.msg.is_some() || self.head_len > 0 {
            self.note(Severity::Warning, "ws.cut", "the stream ended inside a WebSocket frame; the message is cut");
            self.cut_partial(out);
        }
    }

    fn cut_partial(&mut self, out: &mut MessageStream) {
        let time = out.closed.or(out.opened).unwrap_or(0);
        if let Some(f) = self.frame.take() {
            if is_control(f.opcode) {
                let payload = std::mem::take(&mut self.control);
                let mut m = self.control_message(f.opcode, payload, time);
                m.truncated = true;
                out.push(m);
            }
        }
        if let Some(p) = self.msg.take() {
            let mut m = self.data_message(p, time);
            m.truncated = true;
            out.push(m);
        }
        self.head_len = 0;
    }

    fn note(&mut self, severity: Severity, code: &str, message: impl Into<String>) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS && !self.diagnostics.iter().any(|d| d.code == code) {
            self.diagnostics.push(Diagnostic::new(severity, code, message));
        }
    }

    fn fail(&mut self, why: String) {
        self.failed = true;
        self.note(Severity::Error, "ws.damaged", why);
    }

    /// Read frame-head bytes; sets `frame` once the head is whole.
    fn read_head<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let need = |h: &[u8]| -> usize {
            if h.len() < 2 {
                return 2;
            }
            let ext = match h[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            2 + ext + if h[1] & 0x80 != 0 { 4 } else { 0 }
        };
        let mut rest = data;
        loop {
            let want = need(&self.head[..self.head_len]);
            if self.head_len >= want {
                break;
            }
            let take = (want - self.head_len).min(rest.len());
            if take == 0 {
                return rest;
            }
            self.head[self.head_len..self.head_len + take].copy_from_slice(&rest[..take]);
            self.head_len += take;
            rest = &rest[take..];
        }
        self.start_frame();
        rest
    }

    fn start_frame(&mut self) {
        let h = self.head;
        let len_code = h[1] & 0x7f;
        let (remaining, mut at) = match len_code {
            126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
            127 => (u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]), 10),
            n => (u64::from(n), 2),
        };
        let mask = (h[1] & 0x80 != 0).then(|| {
            let m = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            at += 4;
            m
        });
        let _ = at;
        self.head_len = 0;
        self.frames += 1;
        let fin = h[0] & 0x80 != 0;
        let rsv1 = h[0] & 0x40 != 0;
        let opcode = h[0] & 0x0f;
        if let Some(why) = self.frame_error(fin, opcode, remaining) {
            self.fail(why);
            return;
        }
        if is_control(opcode) && remaining > 125 {
            self.note(
                Severity::Warning,
                "ws.oversized_control",
                format!("a control frame of {remaining} bytes (at most 125 are allowed); read as one"),
            );
        }
        if remaining > (1 << 40) {
            self.note(
                Severity::Warning,
                "ws.huge_frame",
                format!("a frame declares {remaining} payload bytes; it is read as far as the stream goes"),
            );
        }
        if !is_control(opcode) {
            self.begin_data(opcode, rsv1);
        } else {
            self.control.clear();
        }
        self.frame = Some(Frame { fin, opcode, mask, remaining, mask_pos: 0 });
    }

    fn frame_error(&self, fin: bool, opcode: u8, len: u64) -> Option<String> {
        match opcode {
            0 if self.msg.is_none() => Some("a continuation frame with no message to continue".into()),
            0..=2 => None,
            8..=10 if !fin => Some(format!("a fragmented control frame (opcode {opcode})")),
            8..=10 if len > MAX_PAYLOAD as u64 => Some(format!("a control frame of {len} bytes")),
            8..=10 => None,
            _ => Some(format!("reserved opcode {opcode}: not a WebSocket frame")),
        }
    }

    fn begin_data(&mut self, opcode: u8, rsv1: bool) {
        if opcode == 0 {
            if let Some(p) = self.msg.as_mut() {
                p.frames += 1;
            }
            return;
        }
        if self.msg.is_some() {
            self.note(
                Severity::Warning,
                "ws.unfinished_message",
                "a new message started before the previous one's last fragment; the previous one is cut",
            );
            self.msg = None;
        }
        if rsv1 && self.deflate.is_none() {
            self.note(
                Severity::Info,
                "ws.deflate_assumed",
                "compressed frames without a seen permessage-deflate agreement: inflated with context takeover",
            );
            self.deflate = Some(Deflate::default());
        }
        self.msg = Some(Partial { opcode, compressed: rsv1, frames: 1, ..Partial::default() });
    }

    fn read_payload<'a>(&mut self, data: &'a [u8], ts: Nanos, out: &mut MessageStream) -> &'a [u8] {
        let Some(mut f) = self.frame else { return data };
        let take = usize::try_from(f.remaining).map_or(data.len(), |r| r.min(data.len()));
        let (chunk, rest) = data.split_at(take);
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(chunk);
        if let Some(m) = f.mask {
            for (i, b) in buf.iter_mut().enumerate() {
                *b ^= m[(f.mask_pos + i) % 4];
            }
            f.mask_pos = (f.mask_pos + take) % 4;
        }
        f.remaining -= take as u64;
        if is_control(f.opcode) {
            self.control.extend_from_slice(&buf);
        } else {
            self.data_bytes(&buf);
        }
        self.scratch = buf;
        if f.remaining > 0 {
            self.frame = Some(f);
            return rest;
        }
        self.frame = None;
        if is_control(f.opcode) {
            let payload = std::mem::take(&mut self.control);
            let m = self.control_message(f.opcode, payload, ts);
            out.push(m);
        } else if f.fin {
            if let Some(p) = self.msg.take() {
                let m = self.data_message(p, ts);
                out.push(m);
            }
        }
        rest
    }

    fn data_bytes(&mut self, bytes: &[u8]) {
        let compressed = self.msg.as_ref().is_some_and(|p| p.compressed);
        if compressed {
            self.inflate(bytes, false);
        } else if let Some(p) = self.msg.as_mut() {
            keep(p, bytes);
        }
    }

    /// Inflate `bytes` into the message in progress; `last` adds the `00 00 ff ff` tail
    /// RFC 7692 strips from every message.
    fn inflate(&mut self, bytes: &[u8], last: bool) {
        let Some(p) = self.msg.as_mut() else { return };
        let inf = self.inflater.get_or_insert_with(|| Inflater { z: Decompress::new(false), broken: false });
        if inf.broken {
            p.truncated = true;
            return;
        }
        let mut input = bytes;
        let mut out = [0u8; 16 * 1024];
        loop {
            let before_in = inf.z.total_in();
            let before_out = inf.z.total_out();
            let flush = if last { FlushDecompress::Sync } else { FlushDecompress::None };
            let status = inf.z.decompress(input, &mut out, flush);
            let used = usize::try_from(inf.z.total_in() - before_in).unwrap_or(input.len());
            let made = usize::try_from(inf.z.total_out() - before_out).unwrap_or(0);
            input = &input[used.min(input.len())..];
            keep(p, &out[..made]);
            let why = match status {
                Err(e) => Some(format!("permessage-deflate data could not be inflated: {e}")),
                Ok(_) if p.size > MAX_INFLATE => {
                    Some(format!("a compressed message inflates past {MAX_INFLATE} bytes; inflating stopped"))
                }
                Ok(Status::StreamEnd) => break,
                Ok(_) if made == 0 && used == 0 => break,
                Ok(_) => None,
            };
            if let Some(why) = why {
                inf.broken = true;
                p.truncated = true;
                self.note(Severity::Warning, "ws.inflate", why);
                return;
            }
            if input.is_empty() && made < out.len() {
                break;
            }
        }
    }

    fn data_message(&mut self, mut p: Partial, ts: Nanos) -> Message {
        if p.compressed {
            self.msg = Some(std::mem::take(&mut p));
            self.inflate(&[0, 0, 0xff, 0xff], true);
            if let Some(done) = self.msg.take() {
                p = done;
            }
            let fresh = self.deflate.is_some_and(|d| d.no_takeover(self.dir));
            if let Some(inf) = self.inflater.as_mut().filter(|_| fresh) {
                inf.z.reset(false);
                inf.broken = false;
            }
        }
        let kind = if p.opcode == 2 { MessageKind::Binary } else { MessageKind::Text };
        Message {
            direction: self.dir,
            time: ts,
            size: p.size,
            kind,
            payload: p.payload,
            truncated: p.truncated,
            compressed: p.compressed,
        }
    }

    fn control_message(&self, opcode: u8, payload: Vec<u8>, ts: Nanos) -> Message {
        let kind = match opcode {
            9 => MessageKind::Ping,
            10 => MessageKind::Pong,
            _ => {
                let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                let reason = payload.get(2..).map(|r| String::from_utf8_lossy(r).into_owned()).unwrap_or_default();
                MessageKind::Close { code, reason }
            }
        };
        Message::new(self.dir, ts, kind, payload)
    }
}

fn is_control(opcode: u8) -> bool {
    opcode >= 8
}

fn keep(p: &mut Partial, bytes: &[u8]) {
    p.size += bytes.len() as u64;
    let room = MAX_PAYLOAD.saturating_sub(p.payload.len());
    if bytes.len() > room {
        p.truncated = true;
    }
    p.payload.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Record the first close frame of a connection as how its stream ended.
pub fn note_close(stream: &mut MessageStream, m: &Message) {
    if let (StreamEnd::Open, MessageKind::Close { code, .. }) = (&stream.end, &m.kind) {
        stream.end = match m.direction {
            Direction::ToServer => StreamEnd::ClientClose { code: *code },
            Direction::ToClient => StreamEnd::ServerClose { code: *code },
        };
    }
}

/// A whole WebSocket connection: one parser per direction and the stream they fill.
pub struct WsConn {
    /// Client-to-server frames.
    pub up: WsParser,
    /// Server-to-client frames.
    pub down: WsParser,
    /// The messages so far.
    pub stream: MessageStream,
}

impl WsConn {
    /// A connection opened at `opened` by a `101` (or extended CONNECT `200`) whose
    /// response headers are `headers`.
    #[must_use]
    pub fn new(headers: &Headers, opened: Option<Nanos>) -> Self {
        let deflate = negotiated_deflate(headers);
        let mut stream = MessageStream::new(crate::model::message::StreamProtocol::WebSocket, opened);
        stream.extensions = extensions(headers);
        Self {
            up: WsParser::new(Direction::ToServer, deflate),
            down: WsParser::new(Direction::ToClient, deflate),
            stream,
        }
    }

    /// Bytes sent in `dir`, captured at `ts`.
    pub fn push(&mut self, dir: Direction, data: &[u8], ts: Nanos) {
        let before = self.stream.messages.len();
        match dir {
            Direction::ToServer => self.up.push(data, ts, &mut self.stream),
            Direction::ToClient => self.down.push(data, ts, &mut self.stream),
        }
        self.note_closes(before);
        self.stream.closed = Some(self.stream.closed.map_or(ts, |c| c.max(ts)));
    }

    /// Bytes of `dir` were lost.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        match dir {
            Direction::ToServer => self.up.gap(len, &mut self.stream),
            Direction::ToClient => self.down.gap(len, &mut self.stream),
        }
    }

    fn note_closes(&mut self, from: usize) {
        if !matches!(self.stream.end, StreamEnd::Open) {
            return;
        }
        let close = self.stream.messages[from.min(self.stream.messages.len())..]
            .iter()
            .find(|m| matches!(m.kind, MessageKind::Close { .. }))
            .cloned();
        if let Some(m) = close {
            note_close(&mut self.stream, &m);
        }
    }

    /// The connection ended (`reason` when it broke rather than closed): the stream with
    /// its diagnostics.
    pub fn finish(mut self, reason: Option<&str>) -> (MessageStream, Vec<Diagnostic>) {
        let before = self.stream.messages.len();
        self.up.finish(&mut self.stream);
        self.down.finish(&mut self.stream);
        self.note_closes(before);
        if let (StreamEnd::Open, Some(r)) = (&self.stream.end, reason) {
            self.stream.end = StreamEnd::Cut { reason: r.to_string() };
        }
        let mut diags = self.up.take_diagnostics();
        diags.extend(self.down.take_diagnostics());
        diags.extend(self.stream.limit_diagnostic());
        (self.stream, diags)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::message::StreamProtocol;
    use flate2::{Compress, Compression, FlushCompress};

    /// One frame: `fin`, `opcode`, optional mask, payload.
    pub(crate) fn frame(fin: bool, rsv1: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => v.push(m | n as u8),
            n if n < 65536 => {
                v.push(m | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(m | 127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                v.extend_from_slice(&k);
                v.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => v.extend_from_slice(payload),
        }
        v
    }

    fn stream() -> MessageStream {
        MessageStream::new(StreamProtocol::WebSocket, Some(0))
    }

    /// Raw deflate of each message with a shared (or fresh) context, tail stripped.
    pub(crate) fn deflate_messages(msgs: &[&[u8]], takeover: bool) -> Vec<Vec<u8>> {
        let mut c = Compress::new(Compression::default(), false);
        msgs.iter()
            .map(|m| {
                if !takeover {
                    c.reset();
                }
                let mut out = Vec::with_capacity(m.len() + 64);
                c.compress_vec(m, &mut out, FlushCompress::Sync).expect("compress");
                assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
                out.truncate(out.len() - 4);
                out
            })
            .collect()
    }

    #[test]
    fn masked_fragmented_text_is_joined_and_control_frames_interleave() {
        let k = Some([1, 2, 3, 4]);
        let mut bytes = frame(false, false, 1, k, b"{\"part\":");
        bytes.extend(frame(true, false, 9, k, b"hb"));
        bytes.extend(frame(false, false, 0, k, b"\"one\""));
        bytes.extend(frame(true, false, 0, k, b"}"));
        let mut p = WsParser::new(Direction::ToServer, None);
        let mut s = stream();
        // One byte at a time: heads and payloads split everywhere.
        for (i, b) in bytes.iter().enumerate() {
            p.push(std::slice::from_ref(b), i as i64, &mut s);
        }
        assert_eq!(s.messages.len(), 2);
        assert_eq!(s.messages[0].kind, MessageKind::Ping);
        assert_eq!(s.messages[1].kind, MessageKind::Text);
        assert_eq!(s.messages[1].payload, b"{\"part\":\"one\"}");
        assert_eq!(s.messages[1].time, bytes.len() as i64 - 1);
        assert_eq!(p.frames(), 4);
    }

    #[test]
    fn close_frame_code_and_reason_and_who_closed_first() {
        let mut c = WsConn::new(&Headers::default(), Some(0));
        c.push(Direction::ToServer, &frame(true, false, 8, Some([9, 9, 9, 9]), &[0x03, 0xe8]), 5);
        let mut reply = vec![0x03, 0xe9];
        reply.extend_from_slice(b"bye");
        c.push(Direction::ToClient, &frame(true, false, 8, None, &reply), 6);
        let (s, diags) = c.finish(Some("connection reset"));
        assert!(diags.is_empty());
        assert_eq!(s.end, StreamEnd::ClientClose { code: Some(1000) });
        assert_eq!(s.messages[1].kind, MessageKind::Close { code: Some(1001), reason: "bye".into() });
    }

    #[test]
    fn permessage_deflate_with_context_takeover_inflates_every_message() {
        let msgs: [&[u8]; 3] =
            [b"{\"price\":172.10,\"symbol\":\"AAPL\"}", b"{\"price\":172.10,\"symbol\":\"AAPL\"}", b"x"];
        let mut h = Headers::default();
        h.push("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=15");
        let mut c = WsConn::new(&h, Some(0));
        for (i, z) in deflate_messages(&msgs, true).iter().enumerate() {
            c.push(Direction::ToClient, &frame(true, true, 1, None, z), i as i64);
        }
        let (s, diags) = c.finish(None);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(s.messages.len(), 3);
        for (m, want) in s.messages.iter().zip(msgs) {
            assert_eq!(m.payload, want);
            assert!(m.compressed);
        }
        assert_eq!(s.extensions.as_deref(), Some("permessage-deflate; client_max_window_bits=15"));
    }

    #[test]
    fn permessage_deflate_without_context_takeover_resets_between_messages() {
        let msgs: [&[u8]; 2] = [b"hello hello hello", b"hello hello hello"];
        let mut h = Headers::default();
        h.push("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover");
        let mut c = WsConn::new(&h, Some(0));
        for z in deflate_messages(&msgs, false) {
            c.push(Direction::ToClient, &frame(true, true, 1, None, &z), 1);
        }
        let (s, diags) = c.finish(None);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(s.messages[1].payload, msgs[1]);
    }

    #[test]
    fn a_4_gb_frame_length_is_streamed_not_allocated_and_cut_at_the_end() {
        let mut bytes = vec![0x82, 127];
        bytes.extend_from_slice(&(4u64 << 30).to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, 200_000));
        let mut c = WsConn::new(&Headers::default(), Some(0));
        c.push(Direction::ToClient, &bytes, 3);
        let (s, diags) = c.finish(Some("capture ended"));
        assert_eq!(s.messages.len(), 1);
        let m = &s.messages[0];
        assert!(m.truncated);
        assert_eq!(m.size, 200_000);
        assert_eq!(m.payload.len(), MAX_PAYLOAD);
        assert!(diags.iter().any(|d| d.code == "ws.cut"));
        assert_eq!(s.end, StreamEnd::Cut { reason: "capture ended".into() });
    }

    #[test]
    fn a_deflate_bomb_inside_a_message_stops_at_the_inflate_limit() {
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let mut z = Vec::new();
        // 128 MiB of zeros, compressed to ~128 KiB.
        for _ in 0..128 {
            z.reserve(1 << 16);
            c.compress_vec(&zeros, &mut z, FlushCompress::None).expect("compress");
        }
        c.compress_vec(&[], &mut z, FlushCompress::Sync).expect("flush");
        let mut h = Headers::default();
        h.push("Sec-WebSocket-Extensions", "permessage-deflate");
        let mut conn = WsConn::new(&h, Some(0));
        conn.push(Direction::ToClient, &frame(true, true, 2, None, &z), 1);
        let (s, diags) = conn.finish(None);
        assert_eq!(s.messages.len(), 1);
        let m = &s.messages[0];
        assert!(m.truncated);
        assert!(m.size > MAX_INFLATE && m.size < MAX_INFLATE + (1 << 20), "{}", m.size);
        assert_eq!(m.payload.len(), MAX_PAYLOAD);
        assert!(diags.iter().any(|d| d.code == "ws.inflate"));
    }

    #[test]
    fn a_million_tiny_messages_are_counted_with_bounded_memory() {
        let one = frame(true, false, 1, None, b"1");
        let bytes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1_000_000).collect();
        let mut c = WsConn::new(&Headers::default(), Some(0));
        c.push(Direction::ToClient, &bytes, 1);
        let (s, diags) = c.finish(None);
        assert_eq!(s.count(), 1_000_000);
        assert_eq!(s.messages.len(), crate::model::message::MAX_MESSAGES);
        assert!(diags.iter().any(|d| d.code == "stream.message_limit"));
    }

    #[test]
    fn a_reserved_opcode_stops_the_parser_and_keeps_what_was_read() {
        let mut bytes = frame(true, false, 1, None, b"ok");
        bytes.extend(frame(true, false, 3, None, b"??"));
        bytes.extend(frame(true, false, 1, None, b"lost"));
        let mut c = WsConn::new(&Headers::default(), Some(0));
        c.push(Direction::ToClient, &bytes, 1);
        let (s, diags) = c.finish(None);
        assert_eq!(s.messages.len(), 1);
        assert!(diags.iter().any(|d| d.code == "ws.damaged"));
    }

    #[test]
    fn negotiated_deflate_reads_the_no_context_takeover_flags() {
        let mut h = Headers::default();
        h.push("Sec-WebSocket-Extensions", "x-foo, permessage-deflate; client_no_context_takeover");
        let d = negotiated_deflate(&h).expect("deflate");
        assert!(d.client_no_context_takeover && !d.server_no_context_takeover);
        assert!(negotiated_deflate(&Headers::default()).is_none());
    }
}
