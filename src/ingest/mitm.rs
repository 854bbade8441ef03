//! The mitmproxy flow-dump reader (`mitmproxy -w`, `mitmdump -w`, `.mitm`): a concatenation
//! of tnetstring dicts, one per flow ([`tnetstring`]). `type: http` flows of the state layouts
//! in use since mitmproxy 7 (flow format versions 12–21; older ones best effort) become
//! [`Exchange`]s: request/response lines and headers, bodies (content-decoded, the wire bytes
//! kept), timestamps, `error`, client and server addresses (`address`/`ip_address` up to
//! version 18, `peername` from 19), `comment` and `marked`. Other flow types (tcp, udp, dns)
//! are counted and reported, never silently dropped.

pub mod tnetstring;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use self::tnetstring::Value;
use super::detect::InputFormat;
use super::document::Document;
use super::fields;
use super::session::{PROGRESS_STEP, damaged_after};
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::model::message::{Direction, Message, MessageKind, MessageStream, StreamEnd, StreamProtocol};
use crate::model::{
    Addr, Body, Diagnostic, Exchange, Headers, Provenance, Request, Response, Severity, State, Timing,
    normalize_version,
};

/// Newest flow format version whose layout this reader knows (mitmproxy 11/12).
pub const NEWEST_KNOWN_VERSION: i64 = 21;

/// Running state of one read.
struct Reader<'p> {
    path: &'p Path,
    file: Arc<str>,
    opts: &'p ReadOptions,
    emitted: u64,
    flows: u64,
    failed: u64,
    other: BTreeMap<String, u64>,
    newer: Option<i64>,
}

impl<'p> Reader<'p> {
    fn new(path: &'p Path, opts: &'p ReadOptions) -> Self {
        Self {
            path,
            file: Arc::from(path.display().to_string()),
            opts,
            emitted: 0,
            flows: 0,
            failed: 0,
            other: BTreeMap::new(),
            newer: None,
        }
    }

    /// Handle one parsed top-level item.
    fn item(&mut self, v: &Value<'_>, off: usize, sink: &mut dyn Sink) {
        let idx = self.flows;
        self.flows += 1;
        let kind = v.get("type").and_then(Value::text);
        match kind.as_deref() {
            Some("http") => {}
            Some(k) => {
                *self.other.entry(k.to_string()).or_default() += 1;
                return;
            }
            None => {
                sink.diagnostic(
                    &Diagnostic::new(Severity::Error, "mitm.flow_broken", "item skipped: not a flow (no \"type\")")
                        .at(format!("flow {idx} (byte {off})")),
                );
                *self.other.entry("unreadable".into()).or_default() += 1;
                return;
            }
        }
        if let Some(ver) = v.get("version").and_then(Value::int)
            && ver > NEWEST_KNOWN_VERSION
        {
            self.newer = Some(self.newer.map_or(ver, |n| n.max(ver)));
        }
        match flow_to_exchange(v, idx, self.emitted, &self.file, self.opts) {
            Ok(mut ex) => {
                ex.provenance.offset = Some(off as u64);
                self.failed += u64::from(ex.is_failed());
                sink.take(ex, None);
                self.emitted += 1;
            }
            Err(why) => {
                *self.other.entry("unreadable".into()).or_default() += 1;
                sink.diagnostic(
                    &Diagnostic::new(Severity::Error, "mitm.flow_broken", format!("flow skipped: {why}"))
                        .at(format!("flow {idx} (byte {off})")),
                );
            }
        }
    }

    fn damaged(&self, off: usize, why: &str, sink: &mut dyn Sink) -> Result<(), IngestError> {
        let flows = usize::try_from(self.flows).unwrap_or(usize::MAX);
        damaged_after(self.path, sink, (off, why), flows, ("mitmproxy flow file", "flows", "mitm.truncated"))
    }

    fn finish(self, bytes: u64, sink: &mut dyn Sink) -> Result<ReadSummary, IngestError> {
        let unreadable = self.other.get("unreadable").copied().unwrap_or(0);
        if self.emitted == 0 && self.flows > 0 && unreadable == self.flows {
            // Not one flow could be read: the file is from a mitmproxy whose layout this
            // reader does not know (a very old one, most likely), not an empty capture.
            return Err(IngestError::Unsupported {
                path: self.path.to_path_buf(),
                what: format!("a mitmproxy flow file none of whose {} flows could be read", self.flows),
                help: "It is probably from a mitmproxy older than 7; a current mitmproxy converts old flows: \
                       `mitmdump -nr old.mitm -w new.mitm`, then read new.mitm"
                    .into(),
            });
        }
        let skipped: u64 = self.other.values().sum();
        let non_http: Vec<String> =
            self.other.iter().filter(|(k, _)| k.as_str() != "unreadable").map(|(k, n)| format!("{n} {k}")).collect();
        if !non_http.is_empty() {
            sink.diagnostic(&Diagnostic::new(
                Severity::Info,
                "mitm.non_http",
                format!("skipped {} flows that are not HTTP (apiscope reads HTTP flows only)", non_http.join(", ")),
            ));
        }
        if let Some(v) = self.newer {
            sink.diagnostic(
                &Diagnostic::new(
                    Severity::Warning,
                    "mitm.newer_version",
                    format!(
                        "flow format version {v} is newer than the newest known ({NEWEST_KNOWN_VERSION}); read with the newest known layout"
                    ),
                )
            );
        }
        sink.progress(bytes, Some(bytes));
        let mut counters = vec![
            ("flows".to_string(), self.flows),
            ("flows skipped".to_string(), skipped),
            ("failed requests".to_string(), self.failed),
        ];
        for (k, n) in &self.other {
            counters.push((format!("{k} flows"), *n));
        }
        Ok(ReadSummary {
            format: Some(InputFormat::Mitmproxy),
            exchanges: self.emitted,
            bytes,
            connections: 0,
            counters,
        })
    }
}

/// Read a mitmproxy flow dump held in memory (BOM already removed).
///
/// # Errors
/// [`IngestError::Damaged`] when the first flow is already unreadable.
pub fn read_mitm(
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let data = doc.data;
    let total = data.len() as u64;
    let mut r = Reader::new(path, opts);
    let mut at = 0usize;
    let mut last_progress = 0usize;
    while at < data.len() {
        if data[at..].iter().all(u8::is_ascii_whitespace) {
            break;
        }
        if at - last_progress >= PROGRESS_STEP {
            sink.progress(at as u64, Some(total));
            doc.release_before(at);
            last_progress = at;
        }
        match tnetstring::parse_at(data, at) {
            Ok((v, next)) => {
                r.item(&v, at, sink);
                at = next;
            }
            Err(e) => {
                r.damaged(e.offset, &e.why, sink)?;
                break;
            }
        }
        if sink.should_stop() {
            break;
        }
    }
    r.finish(total, sink)
}

/// Read a mitmproxy flow dump from a stream (stdin, decompressed data), one flow at a time.
///
/// # Errors
/// [`IngestError::Damaged`] when the first flow is already unreadable;
/// [`IngestError::Io`] when the stream fails.
pub fn read_mitm_stream(
    input: &mut dyn Read,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    let mut r = Reader::new(path, opts);
    let mut offset = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // Length prefix, a byte at a time (it is short), skipping whitespace between items.
        let mut byte = [0u8; 1];
        let mut eof = false;
        loop {
            match input.read(&mut byte) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(_) => {
                    if buf.is_empty() && byte[0].is_ascii_whitespace() {
                        offset += 1;
                        continue;
                    }
                    buf.push(byte[0]);
                    if byte[0] == b':' || !byte[0].is_ascii_digit() || buf.len() > tnetstring::MAX_LEN_DIGITS + 1 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(IngestError::Io { path: path.to_path_buf(), source: e }),
            }
        }
        if eof && buf.is_empty() {
            break;
        }
        let len = match tnetstring::prefix(&buf, 0) {
            Ok((len, _)) => len,
            Err(e) => {
                r.damaged(offset + e.offset, &e.why, sink)?;
                break;
            }
        };
        let head = buf.len();
        // Read the payload and type byte; a short read is a truncation.
        let want = len.saturating_add(1);
        let got = input
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| IngestError::Io { path: path.to_path_buf(), source: e })?;
        if got < want {
            r.damaged(
                offset + head + got,
                &format!("truncated: a {len}-byte item starts at byte {offset} but the data ends first"),
                sink,
            )?;
            break;
        }
        match tnetstring::parse_at(&buf, 0) {
            Ok((v, _)) => r.item(&v, offset, sink),
            Err(e) => {
                r.damaged(offset + e.offset, &e.why, sink)?;
                break;
            }
        }
        offset += buf.len();
        if sink.should_stop() {
            break;
        }
    }
    r.finish(offset as u64, sink)
}

fn secs_to_ns(v: Option<&Value<'_>>) -> Option<i64> {
    let s = v?.number()?;
    // Whole seconds and the fraction apart, so the fraction keeps its precision.
    (s.is_finite() && s > 0.0 && s < 7.2e9).then(|| s.trunc() as i64 * 1_000_000_000 + (s.fract() * 1e9).round() as i64)
}

fn headers_of(v: Option<&Value<'_>>) -> Headers {
    let mut h = Headers::default();
    for item in v.and_then(Value::list).unwrap_or(&[]) {
        if let Some([n, val, ..]) = item.list() {
            h.push(n.text().unwrap_or_default(), val.text().unwrap_or_default());
        }
    }
    h
}

/// An address `[host, port]` (host as text or bytes) when the host is an IP.
fn addr_of(v: Option<&Value<'_>>) -> Option<Addr> {
    let l = v?.list()?;
    let host = l.first()?.text()?;
    let port = l.get(1).and_then(Value::int).and_then(|p| u16::try_from(p).ok());
    let (ip, p) = fields::parse_ip(&host)?;
    Some(Addr { ip, port: port.or(p) })
}

pub(crate) fn flow_to_exchange(
    v: &Value<'_>,
    idx: u64,
    seq: u64,
    file: &Arc<str>,
    opts: &ReadOptions,
) -> Result<Exchange, String> {
    let req = v.get("request").filter(|r| matches!(r, Value::Dict(_))).ok_or("the flow has no request")?;
    let mut diags = Vec::new();
    let text = |d: &Value<'_>, k: &str| d.get(k).and_then(Value::text).unwrap_or_default();

    let scheme = text(req, "scheme").to_ascii_lowercase();
    let host = text(req, "host");
    let port = req.get("port").and_then(Value::int).and_then(|p| u16::try_from(p).ok());
    let authority = text(req, "authority");
    let default_port = match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    let host_field = if !authority.is_empty() {
        Some(authority)
    } else if !host.is_empty() {
        let h = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.clone() };
        Some(match port {
            Some(p) if Some(p) != default_port => format!("{h}:{p}"),
            _ => h,
        })
    } else {
        None
    };
    let version = normalize_version(&text(req, "http_version"));
    let req_headers = headers_of(req.get("headers"));
    let req_body = body_of(req.get("content"), &req_headers, opts, idx, "request", &mut diags);
    let path = text(req, "path");
    let request = Request {
        method: text(req, "method"),
        scheme: (!scheme.is_empty()).then_some(scheme),
        host: host_field,
        target: if path.is_empty() { "/".into() } else { path },
        version: version.clone(),
        headers: req_headers,
        body: req_body,
    };

    let response = match v.get("response") {
        Some(r @ Value::Dict(_)) => {
            let headers = headers_of(r.get("headers"));
            let body = body_of(r.get("content"), &headers, opts, idx, "response", &mut diags);
            let rv = normalize_version(&text(r, "http_version"));
            Some(Response {
                status: r.get("status_code").and_then(Value::int).and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
                reason: text(r, "reason"),
                version: if rv.is_empty() { version.clone() } else { rv },
                headers,
                body,
            })
        }
        _ => None,
    };
    let error = v.get("error").and_then(|e| e.get("msg")).and_then(Value::text);
    let state = match (&error, &response) {
        (Some(e), _) => State::Failed(e.clone()),
        (None, None) => State::NoResponse("no response recorded".into()),
        (None, Some(_)) => State::Complete,
    };

    let resp = v.get("response");
    let timing = Timing {
        request_start: secs_to_ns(req.get("timestamp_start")),
        request_end: secs_to_ns(req.get("timestamp_end")),
        response_start: secs_to_ns(resp.and_then(|r| r.get("timestamp_start"))),
        response_end: secs_to_ns(resp.and_then(|r| r.get("timestamp_end"))),
    };
    let cc = v.get("client_conn");
    let sc = v.get("server_conn");
    let client = addr_of(cc.and_then(|c| c.get("peername")).or_else(|| cc.and_then(|c| c.get("address"))));
    let server = addr_of(sc.and_then(|c| c.get("peername")))
        .or_else(|| addr_of(sc.and_then(|c| c.get("ip_address"))))
        .or_else(|| addr_of(sc.and_then(|c| c.get("address"))));

    let mut extra = serde_json::Map::new();
    for key in ["id", "marked", "is_replay"] {
        if let Some(s) = v.get(key).and_then(Value::text).filter(|s| !s.is_empty()) {
            extra.insert(key.into(), s.into());
        }
    }
    if let Some(ver) = v.get("version").and_then(Value::int) {
        extra.insert("version".into(), ver.into());
    }
    if let Some(ws) = v.get("websocket").filter(|w| !w.is_null()) {
        let n = ws.get("messages").and_then(Value::list).map_or(0, <[_]>::len);
        extra.insert("websocket_messages".into(), n.into());
    }
    for (conn, name) in [(cc, "client_tls"), (sc, "server_tls")] {
        if let Some(t) = conn.and_then(|c| c.get("tls_version")).and_then(Value::text) {
            extra.insert(name.into(), t.into());
        }
    }

    let stream = v.get("websocket").filter(|w| !w.is_null()).map(|w| Box::new(websocket_of(w, timing.response_start)));
    let mut ex = Exchange {
        seq,
        request,
        response,
        interim: Vec::new(),
        timing,
        client,
        server,
        state,
        provenance: Provenance::of_entry(file, idx, sc.and_then(|c| c.get("id")).and_then(Value::text)),
        diagnostics: diags,
        comment: v.get("comment").and_then(Value::text).filter(|c| !c.is_empty()),
        extra: if extra.is_empty() { serde_json::Value::Null } else { serde_json::Value::Object(extra) },
        tls: None,
        stream,
    };
    crate::http::feed::split_whole(&mut ex);
    Ok(ex)
}

/// A flow's `websocket` state as a stream: `messages` are `[type, from_client, content,
/// timestamp, …]` lists (type 1 text, 2 binary); `closed_by_client`, `close_code` and
/// `close_reason` say how it ended. Older dumps put `content` before `from_client`: the
/// boolean is found by its type.
fn websocket_of(w: &Value<'_>, opened: Option<i64>) -> MessageStream {
    let mut stream = MessageStream::new(StreamProtocol::WebSocket, opened);
    for m in w.get("messages").and_then(Value::list).unwrap_or_default() {
        let Some(fields) = m.list() else { continue };
        let opcode = fields.first().and_then(Value::int).unwrap_or(1);
        let from_client = fields.iter().skip(1).take(2).find_map(|f| match f {
            Value::Bool(b) => Some(*b),
            _ => None,
        });
        let content = fields.iter().skip(1).take(2).find_map(Value::bytes).unwrap_or_default();
        let time = fields.get(3).and_then(Value::number).map_or(0, |t| (t * 1e9).round() as i64);
        let direction = if from_client.unwrap_or(false) { Direction::ToServer } else { Direction::ToClient };
        let kind = match opcode {
            2 => MessageKind::Binary,
            9 => MessageKind::Ping,
            10 => MessageKind::Pong,
            _ => MessageKind::Text,
        };
        stream.push(Message::new(direction, time, kind, content.to_vec()));
    }
    let code = w.get("close_code").and_then(Value::int).and_then(|c| u16::try_from(c).ok());
    stream.end = match w.get("closed_by_client") {
        Some(Value::Bool(true)) => StreamEnd::ClientClose { code },
        Some(Value::Bool(false)) => StreamEnd::ServerClose { code },
        _ => StreamEnd::Open,
    };
    if let Some(t) = w.get("timestamp_end").and_then(Value::number) {
        stream.closed = Some((t * 1e9).round() as i64);
    }
    stream
}

/// A body as mitmproxy stores it: the bytes as transferred (content-encoded). The decoded
/// content is produced here; `null` content means the body was not recorded.
fn body_of(
    v: Option<&Value<'_>>,
    headers: &Headers,
    opts: &ReadOptions,
    idx: u64,
    which: &str,
    diags: &mut Vec<Diagnostic>,
) -> Body {
    let encoding =
        headers.get("content-encoding").map(str::trim).filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
    let Some(raw) = v.and_then(Value::bytes) else {
        let declared = headers.get("content-length").and_then(|l| l.trim().parse::<u64>().ok());
        return Body {
            size: declared.unwrap_or(0),
            truncated: declared.unwrap_or(0) > 0,
            encoding: encoding.map(str::to_string),
            ..Body::default()
        };
    };
    let mut body =
        Body { wire_size: Some(raw.len() as u64), encoding: encoding.map(str::to_string), ..Body::default() };
    if opts.keep_bodies && opts.digest_bodies {
        body.digest = Some(crate::model::body_digest(raw));
    }
    match encoding {
        None => {
            body.size = raw.len() as u64;
            if opts.keep_bodies {
                let n = raw.len().min(opts.body_cap);
                body.content = raw[..n].to_vec();
                body.truncated = n < raw.len();
            }
        }
        Some(enc) => {
            if !opts.keep_bodies {
                body.size = raw.len() as u64;
                return body;
            }
            match decode(enc, raw, opts.body_cap) {
                Ok((content, full, cut)) => {
                    body.size = full;
                    body.truncated = cut;
                    body.content = content;
                    body.wire = Some(raw[..raw.len().min(opts.body_cap)].to_vec());
                }
                Err(e) => {
                    diags.push(
                        Diagnostic::new(Severity::Warning, "mitm.decode", format!("{which} body ({enc}): {e}"))
                            .at(format!("flow {idx}")),
                    );
                    body.decode_error = Some(e);
                    body.size = raw.len() as u64;
                    body.content = raw[..raw.len().min(opts.body_cap)].to_vec();
                }
            }
        }
    }
    body
}

/// Undo a Content-Encoding list (`gzip`, `deflate`, `br`, `zstd`, applied in order, so
/// undone last-first), keeping at most `cap` decoded bytes. Returns the content, its full
/// size (up to a limit of 64 × cap counted), and whether it was cut.
fn decode(enc: &str, raw: &[u8], cap: usize) -> Result<(Vec<u8>, u64, bool), String> {
    let mut data = raw.to_vec();
    let codings: Vec<String> =
        enc.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()).collect();
    let limit = (cap as u64).saturating_mul(64).max(1 << 20);
    let mut full = data.len() as u64;
    for c in codings.iter().rev() {
        let src = std::io::Cursor::new(std::mem::take(&mut data));
        let reader: Box<dyn Read> = match c.as_str() {
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(src)),
            "deflate" => {
                // "deflate" is zlib-wrapped by the RFC, raw deflate by some servers.
                let inner = src.into_inner();
                if inner.first().is_some_and(|b| b & 0x0f == 8)
                    && inner.len() > 1
                    && (u16::from(inner[0]) << 8 | u16::from(inner[1])) % 31 == 0
                {
                    Box::new(flate2::read::ZlibDecoder::new(std::io::Cursor::new(inner)))
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(std::io::Cursor::new(inner)))
                }
            }
            "br" => Box::new(brotli_decompressor::Decompressor::new(src, 4096)),
            "zstd" => Box::new(ruzstd::decoding::StreamingDecoder::new(src).map_err(|e| e.to_string())?),
            "identity" => Box::new(src),
            other => return Err(format!("unknown content coding {}", crate::model::text::visible(other))),
        };
        let mut out = Vec::new();
        reader.take(limit).read_to_end(&mut out).map_err(|e| e.to_string())?;
        full = out.len() as u64;
        data = out;
    }
    let cut = data.len() > cap;
    data.truncate(cap);
    Ok((data, full, cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_state_becomes_messages_with_direction_time_and_end() {
        let msg = |op: i64, from_client: bool, content: &'static [u8], t: f64| {
            Value::List(vec![Value::Int(op), Value::Bool(from_client), Value::Bytes(content), Value::Float(t)])
        };
        let ws = Value::Dict(vec![
            (
                Value::Str(b"messages"),
                Value::List(vec![
                    msg(1, true, b"{\"op\":\"sub\"}", 1_700_000_000.5),
                    msg(2, false, b"\x00\x01", 1_700_000_001.25),
                ]),
            ),
            (Value::Str(b"closed_by_client"), Value::Bool(false)),
            (Value::Str(b"close_code"), Value::Int(1001)),
            (Value::Str(b"timestamp_end"), Value::Float(1_700_000_002.0)),
        ]);
        let s = websocket_of(&ws, Some(1_700_000_000_000_000_000));
        assert_eq!(s.messages.len(), 2);
        assert_eq!(s.messages[0].direction, Direction::ToServer);
        assert_eq!(s.messages[0].kind, MessageKind::Text);
        assert_eq!(s.messages[0].time, 1_700_000_000_500_000_000);
        assert_eq!(s.messages[1].kind, MessageKind::Binary);
        assert_eq!(s.messages[1].payload, vec![0, 1]);
        assert_eq!(s.end, StreamEnd::ServerClose { code: Some(1001) });
        assert_eq!(s.closed, Some(1_700_000_002_000_000_000));
    }
    use crate::ingest::Collect;

    fn t(s: &str, kind: char) -> String {
        format!("{}:{s}{kind}", s.len())
    }
    fn dict(items: &[(&str, String)]) -> String {
        t(&items.iter().map(|(k, v)| format!("{}{v}", t(k, ';'))).collect::<String>(), '}')
    }
    fn list(items: &[String]) -> String {
        t(&items.concat(), ']')
    }

    fn http_flow(status: i64, error: Option<&str>) -> String {
        let req = dict(&[
            ("method", t("POST", ',')),
            ("scheme", t("http", ',')),
            ("host", t("192.0.2.1", ';')),
            ("port", t("8080", '#')),
            ("path", t("/v1/x?y=1", ',')),
            ("authority", t("", ',')),
            ("http_version", t("HTTP/1.1", ',')),
            ("headers", list(&[list(&[t("Content-Type", ','), t("text/plain", ',')])])),
            ("content", t("hi", ',')),
            ("timestamp_start", t("1700000000.5", '^')),
            ("timestamp_end", t("1700000000.75", '^')),
        ]);
        let resp = dict(&[
            ("status_code", t(&status.to_string(), '#')),
            ("reason", t("OK", ',')),
            ("http_version", t("HTTP/1.1", ',')),
            ("headers", list(&[])),
            ("content", t("", '~')),
            ("timestamp_start", t("1700000001", '#')),
            ("timestamp_end", t("1700000002", '#')),
        ]);
        let err = match error {
            Some(m) => dict(&[("msg", t(m, ';'))]),
            None => t("", '~'),
        };
        dict(&[
            ("type", t("http", ';')),
            ("version", t("20", '#')),
            ("request", req),
            ("response", resp),
            ("error", err),
            ("client_conn", dict(&[("peername", list(&[t("10.0.0.9", ';'), t("5555", '#')]))])),
            ("server_conn", dict(&[("peername", list(&[t("192.0.2.1", ';'), t("8080", '#')]))])),
            ("comment", t("look", ';')),
            ("marked", t(":star:", ';')),
        ])
    }

    #[test]
    fn http_flows_become_exchanges_and_others_are_counted() {
        let tcp = dict(&[("type", t("tcp", ';')), ("version", t("20", '#'))]);
        let data = format!("{}{}{}", http_flow(201, None), tcp, http_flow(502, Some("connection reset")));
        let mut c = Collect::default();
        let s =
            read_mitm(&Document::new(data.as_bytes()), Path::new("f.mitm"), &ReadOptions::default(), &mut c).unwrap();
        assert_eq!(s.exchanges, 2);
        let a = &c.exchanges[0];
        assert_eq!(a.request.method, "POST");
        assert_eq!(a.request.host.as_deref(), Some("192.0.2.1:8080"));
        assert_eq!(a.request.target, "/v1/x?y=1");
        assert_eq!(a.request.body.content, b"hi");
        assert_eq!(a.status(), Some(201));
        assert_eq!(a.timing.request_start, Some(1_700_000_000_500_000_000));
        assert_eq!(a.ttfb(), Some(250_000_000));
        assert_eq!(a.client.unwrap().to_string(), "10.0.0.9:5555");
        assert_eq!(a.comment.as_deref(), Some("look"));
        assert_eq!(a.extra["marked"], ":star:");
        assert_eq!(c.exchanges[1].state, State::Failed("connection reset".into()));
        assert_eq!(c.exchanges[1].provenance.entry, Some(2));
        assert!(c.diagnostics.iter().any(|d| d.code == "mitm.non_http" && d.message.contains("1 tcp")));
        // The same bytes through the stream reader give the same result.
        let mut c2 = Collect::default();
        let s2 = read_mitm_stream(&mut data.as_bytes(), Path::new("f.mitm"), &ReadOptions::default(), &mut c2).unwrap();
        assert_eq!(s2.exchanges, 2);
        assert_eq!(s2.bytes, data.len() as u64);
        assert_eq!(c2.exchanges[1].request.target, c.exchanges[1].request.target);
    }

    #[test]
    fn truncated_dumps_keep_the_flows_before_the_damage() {
        let one = http_flow(200, None);
        let data = format!("{one}{}", &one[..one.len() / 2]);
        let mut c = Collect::default();
        let s =
            read_mitm(&Document::new(data.as_bytes()), Path::new("f.mitm"), &ReadOptions::default(), &mut c).unwrap();
        assert_eq!(s.exchanges, 1);
        assert!(c.diagnostics[0].to_string().contains(&format!("byte {}", data.len())), "{}", c.diagnostics[0]);
        let mut c2 = Collect::default();
        read_mitm_stream(&mut data.as_bytes(), Path::new("f.mitm"), &ReadOptions::default(), &mut c2).unwrap();
        assert_eq!(c2.diagnostics[0].location, c.diagnostics[0].location);
        let e = read_mitm(&Document::new(&data.as_bytes()[..10]), Path::new("f.mitm"), &ReadOptions::default(), &mut c)
            .unwrap_err();
        assert!(e.to_string().starts_with("f.mitm: byte 10:"), "{e}");
    }

    #[test]
    fn a_dump_none_of_whose_flows_can_be_read_is_an_error_not_an_empty_result() {
        // Flows of a layout this reader does not know (no "type", as very old mitmproxy wrote).
        let old = dict(&[("version", t("3", '#')), ("request", dict(&[("method", t("GET", ','))]))]);
        let data = format!("{old}{old}");
        let mut c = Collect::default();
        let e = read_mitm(&Document::new(data.as_bytes()), Path::new("old.mitm"), &ReadOptions::default(), &mut c)
            .unwrap_err();
        assert!(matches!(e, IngestError::Unsupported { .. }), "{e}");
        assert!(
            e.to_string().contains("none of whose 2 flows could be read") && e.to_string().contains("mitmdump -nr"),
            "{e}"
        );
        let e =
            read_mitm_stream(&mut data.as_bytes(), Path::new("old.mitm"), &ReadOptions::default(), &mut c).unwrap_err();
        assert!(matches!(e, IngestError::Unsupported { .. }), "{e}");
        // One readable flow among them keeps the file readable.
        let data = format!("{old}{}", http_flow(200, None));
        let s =
            read_mitm(&Document::new(data.as_bytes()), Path::new("f.mitm"), &ReadOptions::default(), &mut c).unwrap();
        assert_eq!(s.exchanges, 1);
    }

    #[test]
    fn gzip_bodies_are_decoded_and_the_wire_kept() {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"ok\":true}").unwrap();
        let gz = enc.finish().unwrap();
        let mut h = Headers::default();
        h.push("Content-Encoding", "gzip");
        let v = Value::Bytes(&gz);
        let mut d = Vec::new();
        let b = body_of(Some(&v), &h, &ReadOptions::default(), 0, "response", &mut d);
        assert_eq!(b.content, b"{\"ok\":true}");
        assert_eq!(b.wire_size, Some(gz.len() as u64));
        assert_eq!(b.wire.as_deref(), Some(&gz[..]));
        assert!(d.is_empty());
    }
}
