//! The flow model every input turns into: one [`Exchange`] per HTTP request, with its
//! response (if any), timings on the capture clock, addresses, headers as received, bodies,
//! a [`State`], where it came from ([`Provenance`]) and what went wrong ([`Diagnostic`]).
//!
//! Plain data, no IO. Readers in `ingest` build these; every consumer (`spec`, `analysis`,
//! `filter`, `store`, `export`, `tui`, `cli`) reads them. Methods and status codes are open
//! sets (`TEST_METHOD`, 0, 306, 419 occur in real traffic), so they are a `String` and a `u16`.

pub mod build;
pub mod client;
pub mod json_string;
pub mod message;
pub mod text;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::Serialize;

/// A point on the capture clock: nanoseconds since the Unix epoch, as recorded by the
/// capturing tool (packet timestamps, HAR `startedDateTime`), never the wall clock of the
/// machine reading the file.
pub type Nanos = i64;

/// One nanosecond-valued duration helper: milliseconds as `f64` for display.
#[must_use]
pub fn nanos_to_ms(n: i64) -> f64 {
    n as f64 / 1_000_000.0
}

/// One HTTP request and its response, if one was seen.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Exchange {
    /// Position of this exchange in its source (0-based, unique per file read).
    pub seq: u64,
    /// The request as sent by the client.
    pub request: Request,
    /// The final response, if any (interim 1xx responses are in `interim`).
    pub response: Option<Response>,
    /// Interim 1xx responses (e.g. `100 Continue`) received before the final one.
    pub interim: Vec<Response>,
    /// Timings on the capture clock.
    pub timing: Timing,
    /// Client address (IP and port where known).
    pub client: Option<Addr>,
    /// Server address (IP and port where known).
    pub server: Option<Addr>,
    /// Whether the exchange completed, and if not, why.
    pub state: State,
    /// Where this exchange came from.
    pub provenance: Provenance,
    /// Problems noticed while rebuilding this exchange.
    pub diagnostics: Vec<Diagnostic>,
    /// A comment carried by the source (HAR `comment`, Charles notes, mitmproxy comment).
    pub comment: Option<String>,
    /// Source-specific extra fields kept reachable (HAR `_`-prefixed fields, Charles
    /// extras), as a JSON object; `Null` when there are none.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub extra: serde_json::Value,
    /// The TLS session the exchange travelled in, when it was decrypted from a capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Arc<TlsInfo>>,
    /// The messages the exchange carried when it opened a stream (WebSocket after a `101`
    /// or an extended CONNECT, an SSE or NDJSON response body), with how the stream ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<Box<message::MessageStream>>,
}

/// What is known of a decrypted TLS session: shown in the detail view and JSON records.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct TlsInfo {
    /// Protocol version as usually written (`TLS 1.2`, `TLS 1.3`).
    pub version: String,
    /// Cipher suite name (IANA), e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The protocol the server chose by ALPN (`h2`, `http/1.1`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The server name the client asked for (SNI), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

impl Exchange {
    /// The response status, or `None` when no response was received.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// True when the exchange did not complete normally (no response, failed, aborted, or a
    /// status-0 response).
    #[must_use]
    pub fn is_failed(&self) -> bool {
        !matches!(self.state, State::Complete)
    }

    /// Time to first byte: response start minus request end (capture clock), in ns.
    #[must_use]
    pub fn ttfb(&self) -> Option<i64> {
        self.timing.ttfb()
    }

    /// Total duration: response end minus request start (capture clock), in ns.
    #[must_use]
    pub fn duration(&self) -> Option<i64> {
        self.timing.total()
    }

    /// Number of messages the exchange carried (0 when it is not a stream).
    #[must_use]
    pub fn message_count(&self) -> u64 {
        self.stream.as_ref().map_or(0, |s| s.count())
    }

    /// Host the request was addressed to: the URL authority, else the Host (or `:authority`)
    /// header, else the server address.
    #[must_use]
    pub fn host(&self) -> String {
        if let Some(h) = &self.request.host {
            return h.clone();
        }
        if let Some(h) = self.request.headers.get("host").or_else(|| self.request.headers.get(":authority")) {
            return h.to_string();
        }
        self.server.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// An address as far as it is known: an IP and, usually, a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Addr {
    /// IP address.
    pub ip: IpAddr,
    /// Port, when known.
    pub port: Option<u16>,
}

impl Addr {
    /// Address with a port.
    #[must_use]
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Self { ip, port: Some(port) }
    }
}

impl From<SocketAddr> for Addr {
    fn from(s: SocketAddr) -> Self {
        Self::new(s.ip(), s.port())
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (IpAddr::V6(ip), Some(p)) => write!(f, "[{ip}]:{p}"),
            (ip, Some(p)) => write!(f, "{ip}:{p}"),
            (ip, None) => write!(f, "{ip}"),
        }
    }
}

/// The request half of an exchange.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Request {
    /// Method exactly as sent (open set: `GET`, `PATCH`, `TEST_METHOD`, …).
    pub method: String,
    /// Scheme (`http`, `https`) when known.
    pub scheme: Option<String>,
    /// Authority from an absolute URL or request target (`host[:port]`), when known.
    /// Falls back to the Host header via [`Exchange::host`].
    pub host: Option<String>,
    /// The request target's path and query, percent-encoding as sent (`/v1/a?b=c`).
    pub target: String,
    /// HTTP version as a normalised label (`HTTP/1.1`, `HTTP/2`, `HTTP/3`, or empty).
    pub version: String,
    /// Headers as received, order and case kept.
    pub headers: Headers,
    /// Request body.
    pub body: Body,
}

impl Request {
    /// Path part of the target (before `?`).
    #[must_use]
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }

    /// Raw query string (after `?`), if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// Full URL as best known: `scheme://host/target`.
    #[must_use]
    pub fn url(&self, host: &str) -> String {
        let scheme = self.scheme.as_deref().unwrap_or("http");
        if host.is_empty() { self.target.clone() } else { format!("{scheme}://{host}{}", self.target) }
    }
}

/// The response half of an exchange.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Response {
    /// Status code as received (open set: 0, 306, 419, 999 …).
    pub status: u16,
    /// Reason phrase as received.
    pub reason: String,
    /// HTTP version label.
    pub version: String,
    /// Headers as received, order and case kept.
    pub headers: Headers,
    /// Response body.
    pub body: Body,
}

/// Header list in wire order with the name's case kept. Lookups are case-insensitive.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Headers(pub Vec<Header>);

/// One header line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Header {
    /// Name as received.
    pub name: String,
    /// Value as received (bytes that were not UTF-8 are replaced with U+FFFD).
    pub value: String,
}

impl Headers {
    /// First value of `name` (case-insensitive).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// All values of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    /// Append a header.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Header { name: name.into(), value: value.into() });
    }

    /// Iterate headers in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// Number of header lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The media type of `Content-Type` without parameters, lower-cased.
    #[must_use]
    pub fn content_type(&self) -> Option<String> {
        self.get("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

/// A message body: the decoded content plus what is known of the bytes on the wire.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Body {
    /// Content with transfer and content codings removed (may be cut at the body cap, see
    /// `truncated`). For HAR this is `content.text` (decoded by definition).
    #[serde(skip)]
    pub content: Vec<u8>,
    /// Full decoded size in bytes (can exceed `content.len()` when truncated or detached).
    pub size: u64,
    /// The body as transferred (after de-chunking, before content decoding) when it differs
    /// from `content`, e.g. gzip bytes. `None` when identical or unknown.
    #[serde(skip)]
    pub wire: Option<Vec<u8>>,
    /// Bytes the body took on the wire (chunk framing and compression included), if known.
    pub wire_size: Option<u64>,
    /// Content-Encoding that was applied (e.g. `gzip`, `br`, `gzip, br`), if any.
    pub encoding: Option<String>,
    /// True when `content` holds less than the whole body (cap hit or capture truncated).
    pub truncated: bool,
    /// Body stored outside the input (HAR `_file`): the name given.
    pub detached: Option<String>,
    /// Why content could not be decoded (unknown coding, corrupt stream), if it could not.
    pub decode_error: Option<String>,
    /// Identity of the whole body however much of it `content` keeps: xxh3-64 of the body's
    /// bytes as the input holds them (a capture's after de-chunking and before content
    /// decoding, a HAR's decoded text), so equal bodies have equal digests. Set by readers only when asked ([`crate::ingest::ReadOptions::digest_bodies`]).
    #[serde(skip)]
    pub digest: Option<u64>,
}

/// The digest readers give a whole body's bytes ([`Body::digest`]).
#[must_use]
pub fn body_digest(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

impl Body {
    /// A body fully held in memory, identical on the wire.
    #[must_use]
    pub fn from_bytes(b: Vec<u8>) -> Self {
        let n = b.len() as u64;
        Self { content: b, size: n, wire_size: Some(n), ..Self::default() }
    }

    /// True when there is no body at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.size == 0 && self.content.is_empty() && self.detached.is_none()
    }
}

/// Timings of one exchange on the capture clock (ns since the Unix epoch).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct Timing {
    /// First byte of the request seen (or the HAR `startedDateTime`).
    pub request_start: Option<Nanos>,
    /// Last byte of the request seen.
    pub request_end: Option<Nanos>,
    /// First byte of the response seen (TTFB is measured from `request_end` to this).
    pub response_start: Option<Nanos>,
    /// Last byte of the response seen.
    pub response_end: Option<Nanos>,
}

impl Timing {
    /// Time to first byte in ns: `response_start - request_end`.
    #[must_use]
    pub fn ttfb(&self) -> Option<i64> {
        Some(self.response_start? - self.request_end?)
    }

    /// Total duration in ns: `response_end - request_start`.
    #[must_use]
    pub fn total(&self) -> Option<i64> {
        Some(self.response_end? - self.request_start?)
    }

    /// The best start time known (request start, else any later point).
    #[must_use]
    pub fn start(&self) -> Option<Nanos> {
        self.request_start.or(self.request_end).or(self.response_start).or(self.response_end)
    }
}

/// How an exchange ended.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
pub enum State {
    /// Request and final response both seen in full.
    #[default]
    Complete,
    /// The request was seen, no response (capture ended, connection reset, not captured).
    NoResponse(String),
    /// The client or proxy recorded a failure (HAR `_error`, Charles `exception`,
    /// mitmproxy `error`).
    Failed(String),
    /// The exchange started but was cut (response truncated by RST/end of capture).
    Aborted(String),
}

impl State {
    /// Short label for tables.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::NoResponse(_) => "no response",
            Self::Failed(_) => "failed",
            Self::Aborted(_) => "aborted",
        }
    }

    /// The reason, if the exchange did not complete.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Complete => None,
            Self::NoResponse(r) | Self::Failed(r) | Self::Aborted(r) => Some(r),
        }
    }
}

/// Where an exchange came from, so any finding can be traced back to the bytes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Provenance {
    /// The input file (shared between all exchanges of one file).
    pub file: Arc<str>,
    /// Entry index in a HAR / Charles / mitmproxy file (0-based).
    pub entry: Option<u64>,
    /// Packet numbers (1-based, as Wireshark counts) that carried this exchange.
    pub packets: Vec<u64>,
    /// Connection id within the file (capture connection, HAR `connection`).
    pub connection: Option<String>,
    /// Byte offset of the exchange's record in the reader's document (HAR / Charles entry,
    /// mitmproxy flow), so it can be re-read alone later (`ingest::locate`); `None` for
    /// captures (their first packet is in `packets`). Not serialized.
    #[serde(skip)]
    pub offset: Option<u64>,
}

impl Provenance {
    /// Entry `idx` (0-based) of a document file (HAR, Charles, mitmproxy), with the
    /// connection id the file gives.
    #[must_use]
    pub fn of_entry(file: &Arc<str>, idx: u64, connection: Option<String>) -> Self {
        Self { file: Arc::clone(file), entry: Some(idx), connection, ..Self::default() }
    }

    /// Connection `id` of a capture file (packets are added as the exchange is read).
    #[must_use]
    pub fn of_connection(file: &Arc<str>, id: &str) -> Self {
        Self { file: Arc::clone(file), connection: Some(id.to_string()), ..Self::default() }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing lost.
    Info,
    /// Something was odd or partly lost, the result is still usable.
    Warning,
    /// Data was lost (damaged input, unreadable part).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// A problem noticed in the input, attached to an exchange or to a file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// Stable machine-readable code (`har.entry_broken`, `tcp.gap`, `http.resync`, …).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Where in the input (`byte 1234`, `entry 17`, `packet 88`), if known.
    pub location: Option<String>,
}

impl Diagnostic {
    /// Build a diagnostic.
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity, code: code.into(), message: message.into(), location: None }
    }

    /// Attach a location.
    #[must_use]
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{} [{}] {}: {}", self.severity, self.code, l, self.message),
            None => write!(f, "{} [{}] {}", self.severity, self.code, self.message),
        }
    }
}

/// Normalise the many spellings of an HTTP version (`http/2.0`, `h3`, `HTTP/2`, ``) to
/// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`, `HTTP/3`, or the input trimmed when unknown.
#[must_use]
pub fn normalize_version(v: &str) -> String {
    let t = v.trim();
    let l = t.to_ascii_lowercase();
    match l.as_str() {
        "http/1.1" | "1.1" => "HTTP/1.1".into(),
        "http/1.0" | "1.0" => "HTTP/1.0".into(),
        "http/0.9" => "HTTP/0.9".into(),
        "http/2" | "http/2.0" | "h2" | "h2c" | "2" | "2.0" => "HTTP/2".into(),
        "http/3" | "http/3.0" | "h3" | "3" => "HTTP/3".into(),
        _ => t.to_string(),
    }
}

/// Response headers whose values change on every call, or with the connection, and say
/// nothing about the API: never compared.
pub const VOLATILE_HEADERS: &[&str] = &[
    "date",
    "age",
    "expires",
    "last-modified",
    "etag",
    "content-length",
    "transfer-encoding",
    "x-request-id",
    "request-id",
    "x-correlation-id",
    "x-amzn-requestid",
    "x-amzn-trace-id",
    "x-amz-request-id",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "x-trace-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "cf-ray",
    "cf-cache-status",
    "x-runtime",
    "x-response-time",
    "server-timing",
    "x-envoy-upstream-service-time",
    "x-served-by",
    "x-cache",
    "x-cache-hits",
    "x-timer",
    "via",
    "alt-svc",
    "nel",
    "report-to",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
];

/// True when `name` (any case) is one of [`VOLATILE_HEADERS`].
#[must_use]
pub fn is_volatile_header(name: &str) -> bool {
    VOLATILE_HEADERS.iter().any(|v| v.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive_and_keeps_order() {
        let mut h = Headers::default();
        h.push("X-A", "1");
        h.push("x-a", "2");
        h.push("Content-Type", "application/json; charset=utf-8");
        assert_eq!(h.get("x-A"), Some("1"));
        assert_eq!(h.get_all("X-A").collect::<Vec<_>>(), vec!["1", "2"]);
        assert_eq!(h.content_type().as_deref(), Some("application/json"));
        assert_eq!(h.0[1].name, "x-a");
    }

    #[test]
    fn timing_uses_capture_clock_differences() {
        let t = Timing {
            request_start: Some(1_000),
            request_end: Some(2_000),
            response_start: Some(5_000),
            response_end: Some(9_000),
        };
        assert_eq!(t.ttfb(), Some(3_000));
        assert_eq!(t.total(), Some(8_000));
    }

    #[test]
    fn version_spellings_normalise() {
        for (i, o) in
            [("http/2.0", "HTTP/2"), ("h3", "HTTP/3"), ("HTTP/2", "HTTP/2"), ("", ""), ("HTTP/1.1", "HTTP/1.1")]
        {
            assert_eq!(normalize_version(i), o);
        }
    }

    #[test]
    fn path_and_query_split() {
        let r = Request { target: "/v1/q?a=1&b".into(), ..Request::default() };
        assert_eq!(r.path(), "/v1/q");
        assert_eq!(r.query(), Some("a=1&b"));
    }
}
