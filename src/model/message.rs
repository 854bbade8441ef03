//! Messages inside one exchange: WebSocket frames joined into messages (and its control
//! frames), Server-Sent Events and NDJSON / JSON-lines records. One model for all of them:
//! a [`Message`] has a direction, the capture time of the bytes that completed it, its size,
//! its [`MessageKind`] and a bounded copy of its payload. The [`MessageStream`] an exchange
//! carries holds them with the protocol, when the stream opened and how it ended.
//!
//! Bounds: at most [`MAX_MESSAGES`] messages are kept per stream (the rest are counted in
//! [`MessageStream::dropped`] with their bytes), each payload keeps at most
//! [`MAX_PAYLOAD`] bytes (`Message::truncated` notes the cut) and a stream keeps at most
//! [`STREAM_PAYLOAD_BUDGET`] payload bytes in all (later messages keep their size, kind and
//! time, not their bytes).

use serde::Serialize;

use super::Nanos;

/// Messages kept per stream; later ones are counted in [`MessageStream::dropped`].
pub const MAX_MESSAGES: usize = 100_000;

/// Payload bytes kept per message.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// Payload bytes kept per stream over all its messages.
pub const STREAM_PAYLOAD_BUDGET: usize = 32 << 20;

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the client (WebSocket `send` in Chrome's terms).
    ToServer,
    /// From the server (`receive`).
    ToClient,
}

impl Direction {
    /// An arrow for tables: `→` towards the server, `←` towards the client.
    #[must_use]
    pub fn arrow(self) -> &'static str {
        match self {
            Self::ToServer => "→",
            Self::ToClient => "←",
        }
    }

    /// Short label (`send` / `receive`, as Chrome's HAR writes them).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::ToServer => "send",
            Self::ToClient => "receive",
        }
    }
}

/// The protocol a stream of messages speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamProtocol {
    /// WebSocket (RFC 6455) after a `101` or an HTTP/2 extended CONNECT.
    WebSocket,
    /// Server-Sent Events (`text/event-stream`).
    Sse,
    /// Newline-delimited JSON (`application/x-ndjson`, `application/jsonl`, …).
    Ndjson,
    /// JSON text sequences (`application/json-seq`, RFC 7464).
    JsonSeq,
}

impl StreamProtocol {
    /// The protocol of a response body of media type `ctype` (lower-case, no parameters),
    /// when it is a message stream.
    #[must_use]
    pub fn for_media_type(ctype: &str) -> Option<Self> {
        match ctype {
            "text/event-stream" => Some(Self::Sse),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines"
            | "application/json-lines" => Some(Self::Ndjson),
            "application/json-seq" => Some(Self::JsonSeq),
            _ => None,
        }
    }

    /// Name for tables and JSON (`websocket`, `sse`, `ndjson`, `json-seq`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::Sse => "sse",
            Self::Ndjson => "ndjson",
            Self::JsonSeq => "json-seq",
        }
    }
}

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageKind {
    /// A WebSocket text message (continuation frames joined).
    Text,
    /// A WebSocket binary message (continuation frames joined).
    Binary,
    /// A WebSocket ping.
    Ping,
    /// A WebSocket pong.
    Pong,
    /// A WebSocket close frame with its status code and reason, when given.
    Close {
        /// Close status code (1000 normal, 1001 going away, …).
        code: Option<u16>,
        /// Reason text (may be empty).
        reason: String,
    },
    /// A Server-Sent Event (its `data` lines joined by `\n` are the payload).
    Event {
        /// The `event` field (type), when given.
        event: Option<String>,
        /// The `id` field, when given in this event.
        id: Option<String>,
        /// The `retry` field in milliseconds, when given.
        retry: Option<u64>,
    },
    /// One NDJSON / JSON-lines / JSON-seq record.
    Line,
}

impl MessageKind {
    /// Short label for tables (`text`, `binary`, `ping`, `pong`, `close`, `event`, `line`).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Binary => "binary",
            Self::Ping => "ping",
            Self::Pong => "pong",
            Self::Close { .. } => "close",
            Self::Event { .. } => "event",
            Self::Line => "line",
        }
    }

    /// The WebSocket opcode of this kind (text 1, binary 2, close 8, ping 9, pong 10), when
    /// it is a WebSocket kind.
    #[must_use]
    pub fn opcode(&self) -> Option<u8> {
        match self {
            Self::Text => Some(1),
            Self::Binary => Some(2),
            Self::Close { .. } => Some(8),
            Self::Ping => Some(9),
            Self::Pong => Some(10),
            Self::Event { .. } | Self::Line => None,
        }
    }

    /// True for control frames (ping, pong, close): not data of the feed.
    #[must_use]
    pub fn is_control(&self) -> bool {
        matches!(self, Self::Ping | Self::Pong | Self::Close { .. })
    }

    /// True when the payload is meant as text (text, events, lines, close reasons).
    #[must_use]
    pub fn is_textual(&self) -> bool {
        !matches!(self, Self::Binary | Self::Ping | Self::Pong)
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Who sent it.
    pub direction: Direction,
    /// Capture time of the segment that completed the message (ns since the epoch).
    pub time: Nanos,
    /// Payload size in bytes after unmasking and decompression (the whole message's, even
    /// when `payload` keeps less).
    pub size: u64,
    /// What it is.
    #[serde(flatten)]
    pub kind: MessageKind,
    /// The payload as far as it is kept (see `truncated`).
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// `payload` holds less than `size` bytes (per-message cap, stream budget, or the
    /// stream was cut inside the message).
    pub truncated: bool,
    /// The message was compressed on the wire (`permessage-deflate`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compressed: bool,
}

impl Message {
    /// A message whose whole payload is `payload`.
    #[must_use]
    pub fn new(direction: Direction, time: Nanos, kind: MessageKind, payload: Vec<u8>) -> Self {
        Self { direction, time, size: payload.len() as u64, kind, payload, truncated: false, compressed: false }
    }

    /// The payload as text (lossy), for previews and searches.
    #[must_use]
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.payload)
    }
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum StreamEnd {
    /// Still open when the input ended (no close seen).
    #[default]
    Open,
    /// The client sent a close frame first (WebSocket) or closed its side.
    ClientClose {
        /// The close code the client sent, if any.
        code: Option<u16>,
    },
    /// The server sent a close frame first (WebSocket) or ended the body normally (SSE,
    /// NDJSON: the last chunk, the end of a Content-Length body).
    ServerClose {
        /// The close code the server sent, if any.
        code: Option<u16>,
    },
    /// The connection broke (reset, gap, damage) before a clean end.
    Cut {
        /// Why.
        reason: String,
    },
}

impl StreamEnd {
    /// Short label for tables: `open`, `client close 1000`, `server close`, `cut`.
    #[must_use]
    pub fn label(&self) -> String {
        let code = |c: &Option<u16>| c.map(|c| format!(" {c}")).unwrap_or_default();
        match self {
            Self::Open => "open".into(),
            Self::ClientClose { code: c } => format!("client close{}", code(c)),
            Self::ServerClose { code: c } => format!("server close{}", code(c)),
            Self::Cut { .. } => "cut".into(),
        }
    }
}

/// The messages of one exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageStream {
    /// The protocol.
    pub protocol: StreamProtocol,
    /// When the stream opened: the `101`/`200` response's first byte (capture clock).
    pub opened: Option<Nanos>,
    /// When its last byte was seen.
    pub closed: Option<Nanos>,
    /// The messages kept, in capture order.
    #[serde(skip)]
    pub messages: Vec<Message>,
    /// Messages seen beyond [`MAX_MESSAGES`]: counted, not kept.
    pub dropped: u64,
    /// Payload bytes of the dropped messages.
    pub dropped_bytes: u64,
    /// Payload bytes kept over all messages (for the stream budget).
    #[serde(skip)]
    pub kept_bytes: usize,
    /// SSE comment lines seen (`: keep-alive`): not messages.
    #[serde(skip_serializing_if = "is_zero")]
    pub comments: u64,
    /// How the stream ended.
    pub end: StreamEnd,
    /// The negotiated WebSocket extensions (`permessage-deflate; …`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MessageStream {
    /// The warning for messages counted past [`MAX_MESSAGES`] but not kept, if any were.
    #[must_use]
    pub fn limit_diagnostic(&self) -> Option<super::Diagnostic> {
        (self.dropped > 0).then(|| {
            super::Diagnostic::new(
                super::Severity::Warning,
                "stream.message_limit",
                format!("{} messages past the first {MAX_MESSAGES} were counted, not kept", self.dropped),
            )
        })
    }

    /// An empty stream of `protocol`, opened at `opened`.
    #[must_use]
    pub fn new(protocol: StreamProtocol, opened: Option<Nanos>) -> Self {
        Self {
            protocol,
            opened,
            closed: None,
            messages: Vec::new(),
            dropped: 0,
            dropped_bytes: 0,
            kept_bytes: 0,
            comments: 0,
            end: StreamEnd::Open,
            extensions: None,
        }
    }

    /// Every message seen, kept or not.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.messages.len() as u64 + self.dropped
    }

    /// Add a message within the bounds: past [`MAX_MESSAGES`] it is only counted; past the
    /// stream's payload budget its bytes are dropped (`truncated`).
    pub fn push(&mut self, mut m: Message) {
        self.closed = Some(self.closed.map_or(m.time, |c| c.max(m.time)));
        if self.messages.len() >= MAX_MESSAGES {
            self.dropped += 1;
            self.dropped_bytes += m.size;
            return;
        }
        let room = STREAM_PAYLOAD_BUDGET.saturating_sub(self.kept_bytes);
        if m.payload.len() > room {
            m.payload.truncate(room);
            m.payload.shrink_to_fit();
            m.truncated = true;
        }
        self.kept_bytes += m.payload.len();
        self.messages.push(m);
    }

    /// Messages of the feed (data: text, binary, events, lines), without control frames.
    pub fn data(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| !m.kind.is_control())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_keeps_at_most_max_messages_and_counts_the_rest() {
        let mut s = MessageStream::new(StreamProtocol::Ndjson, Some(0));
        for i in 0..(MAX_MESSAGES as i64 + 25) {
            s.push(Message::new(Direction::ToClient, i, MessageKind::Line, b"{}".to_vec()));
        }
        assert_eq!(s.messages.len(), MAX_MESSAGES);
        assert_eq!(s.dropped, 25);
        assert_eq!(s.dropped_bytes, 50);
        assert_eq!(s.count(), MAX_MESSAGES as u64 + 25);
        assert_eq!(s.closed, Some(MAX_MESSAGES as i64 + 24));
    }

    #[test]
    fn the_stream_payload_budget_cuts_later_payloads_but_keeps_their_size() {
        let mut s = MessageStream::new(StreamProtocol::WebSocket, None);
        let n = STREAM_PAYLOAD_BUDGET / MAX_PAYLOAD;
        for i in 0..=n {
            s.push(Message::new(Direction::ToClient, i as i64, MessageKind::Binary, vec![0; MAX_PAYLOAD]));
        }
        let last = s.messages.last().expect("kept");
        assert!(last.truncated);
        assert!(last.payload.is_empty());
        assert_eq!(last.size, MAX_PAYLOAD as u64);
        assert_eq!(s.kept_bytes, STREAM_PAYLOAD_BUDGET);
    }

    #[test]
    fn media_types_name_their_stream_protocol() {
        assert_eq!(StreamProtocol::for_media_type("text/event-stream"), Some(StreamProtocol::Sse));
        assert_eq!(StreamProtocol::for_media_type("application/x-ndjson"), Some(StreamProtocol::Ndjson));
        assert_eq!(StreamProtocol::for_media_type("application/jsonl"), Some(StreamProtocol::Ndjson));
        assert_eq!(StreamProtocol::for_media_type("application/json-seq"), Some(StreamProtocol::JsonSeq));
        assert_eq!(StreamProtocol::for_media_type("application/json"), None);
    }
}
