//! The HAR 1.2 reader: streams `log.entries` one entry at a time out of a memory-mapped (or
//! in-memory) document and turns each into an [`Exchange`], leniently — every quirk of real
//! exporters listed in docs/formats.md (missing "required" fields, `timings: {}`, -1 values,
//! every `httpVersion` spelling, pseudo-headers, status 0 + `_error`, base64 and `_file`
//! bodies, `[name, value]` headers, `postData.params`, time-zone offsets). A type error inside
//! one entry skips that entry with a diagnostic; a syntax error or truncation keeps every
//! entry before it.

mod direct;
mod entry;

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use self::entry::{Content, HarEntry, PostData, Timings};
use super::detect::InputFormat;
use super::document::Document;
use super::fields;
use super::json::Route;
use super::json::lenient::LenientNum;
use super::json::walk::strip_position;
use super::session::{JsonSession, SessionNames, read_session};
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::model::message::{Direction, Message, MessageKind, MessageStream, StreamProtocol};
use crate::model::{
    Addr, Body, Diagnostic, Exchange, Headers, Provenance, Request, Response, Severity, State, Timing,
    normalize_version,
};

/// The HAR format for the session driver: the array at `log.entries`, one entry at a time.
pub(crate) struct Har;

impl JsonSession for Har {
    const FORMAT: InputFormat = InputFormat::Har;
    const ROUTE: Route = Route::HarEntries;
    const NAMES: SessionNames = SessionNames {
        document: "HAR document",
        item: "entry",
        items: "entries",
        broken_code: "har.entry_broken",
        truncated_code: "har.truncated",
        missing: Some(("log", "no log.entries array")),
    };

    fn convert(text: &str, idx: usize, file: &Arc<str>, opts: &ReadOptions) -> Result<Exchange, String> {
        entry_to_exchange(text, idx, file, opts)
    }

    /// Only requests that got no response at all (status 0, a browser `_error`).
    fn counts_as_failed(ex: &Exchange) -> bool {
        matches!(ex.state, State::Failed(_))
    }
}

/// Read a HAR document (BOM already removed) into `sink`.
///
/// # Errors
/// [`IngestError::Damaged`] when the document is broken before any entry could be read, or
/// has no `log.entries` array.
pub fn read_har(
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    read_session::<Har>(doc, path, opts, sink)
}

/// One entry (its raw JSON text) as an exchange (its `seq` is set by the caller, which knows
/// how many came before).
pub(crate) fn entry_to_exchange(
    text: &str,
    idx: usize,
    file: &Arc<str>,
    opts: &ReadOptions,
) -> Result<Exchange, String> {
    let entry: HarEntry<'_> = match direct::entry(text) {
        Some(e) => e,
        None => serde_json::from_str(text).map_err(|e| strip_position(&e))?,
    };
    let mut diags = Vec::new();
    let req = entry.request.unwrap_or_default();
    if entry.started.0.is_none() && req.url.0.is_none() && entry.response.is_none() {
        return Err("not an entry (no startedDateTime, request or response)".into());
    }

    // Request line: method and URL from `request`, pseudo-headers only as a fallback.
    let headers = req.headers.to_headers();
    let method = match req.method.non_empty() {
        Some(m) => m.to_string(),
        None => headers.get(":method").unwrap_or_default().to_string(),
    };
    let url = req.url.as_str();
    let (mut scheme, mut authority, mut target) = fields::split_url(url);
    if authority.is_none() {
        authority = headers.get(":authority");
    }
    if scheme.is_none() {
        scheme = headers.get(":scheme");
    }
    if target.is_empty() {
        target = headers.get(":path").unwrap_or("/").to_string();
    }
    if req.url.non_empty().is_none() {
        diags.push(
            Diagnostic::new(Severity::Warning, "har.no_url", "request.url is missing").at(format!("entry {idx}")),
        );
    }
    let server_port = fields::port_of(authority, scheme);
    let mut version = normalize_version(req.http_version.as_str());
    let resp_version = entry.response.as_ref().map(|r| normalize_version(r.http_version.as_str())).unwrap_or_default();
    if version.is_empty() {
        version.clone_from(&resp_version);
    }
    let req_body = request_body(req.post_data, req.body_size, opts, idx, &mut diags);
    let request = Request {
        method,
        scheme: scheme.map(str::to_ascii_lowercase),
        host: authority.map(str::to_string),
        target,
        version: version.clone(),
        headers,
        body: req_body,
    };

    // Response; status 0 (and no response at all) means the request failed.
    let mut state = State::Complete;
    let response = match entry.response {
        None => {
            state = State::NoResponse("the entry has no response".into());
            None
        }
        Some(r) => {
            let status = r.status.known().map_or(0, |s| s.min(f64::from(u16::MAX)) as u16);
            let error = r.error.non_empty().map(str::to_string);
            let headers = r.headers.to_headers();
            let body = response_body(r.content, r.body_size, &headers, opts, idx, &mut diags);
            if status == 0 {
                state = State::Failed(error.clone().unwrap_or_else(|| "no response (status 0)".into()));
            } else if let Some(e) = &error {
                diags.push(
                    Diagnostic::new(
                        Severity::Info,
                        "har.error",
                        format!("the browser reported {e} with status {status}"),
                    )
                    .at(format!("entry {idx}")),
                );
            }
            let empty = headers.is_empty() && body.is_empty();
            (status != 0 || !empty).then(|| Response {
                status,
                reason: r.status_text.as_str().to_string(),
                version: if resp_version.is_empty() { version.clone() } else { resp_version },
                headers,
                body,
            })
        }
    };

    // Timings on the capture clock.
    let start = entry.started.0.as_deref().and_then(fields::parse_datetime);
    if start.is_none() {
        let why = if entry.started.0.is_some() {
            "startedDateTime is not a valid date"
        } else {
            "startedDateTime is missing"
        };
        diags.push(Diagnostic::new(Severity::Warning, "har.no_start", why).at(format!("entry {idx}")));
    }
    let timing = timing(start, entry.timings, entry.time);

    let server = entry
        .server_ip
        .non_empty()
        .and_then(fields::parse_ip)
        .map(|(ip, port)| Addr { ip, port: port.or(server_port) });
    let mut extra = if has_private_fields(text) { extras(text) } else { serde_json::Value::Null };
    let client = client_address(&mut extra);
    let ws = take_entry_field(&mut extra, "_webSocketMessages");

    let mut ex = Exchange {
        seq: 0,
        request,
        response,
        interim: Vec::new(),
        timing,
        client,
        server,
        state,
        provenance: Provenance::of_entry(file, idx as u64, entry.connection.non_empty().map(str::to_string)),
        diagnostics: diags,
        comment: entry.comment.non_empty().map(str::to_string),
        extra,
        tls: None,
        stream: None,
    };
    if let Some(list) = ws {
        ex.stream = Some(Box::new(websocket_messages(&list, ex.timing.response_start.or(start))));
    }
    crate::http::feed::split_whole(&mut ex);
    Ok(ex)
}

/// Chrome's `_webSocketMessages` (`type` send/receive, `time` in epoch seconds, `opcode`,
/// `data`; binary data base64) as a WebSocket stream.
pub(crate) fn websocket_messages(list: &serde_json::Value, opened: Option<i64>) -> MessageStream {
    use base64::Engine as _;
    let mut stream = MessageStream::new(StreamProtocol::WebSocket, opened);
    for m in list.as_array().map(Vec::as_slice).unwrap_or_default() {
        let direction = match m.get("type").and_then(serde_json::Value::as_str) {
            Some("send") => Direction::ToServer,
            _ => Direction::ToClient,
        };
        let time = m.get("time").and_then(serde_json::Value::as_f64).map_or(0, |t| (t * 1e9).round() as i64);
        let opcode = m.get("opcode").and_then(serde_json::Value::as_u64).unwrap_or(1);
        let data = m.get("data").and_then(serde_json::Value::as_str).unwrap_or("");
        let payload = match opcode {
            1 | 8 => data.as_bytes().to_vec(),
            _ => base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_else(|_| data.as_bytes().to_vec()),
        };
        let mut payload = payload;
        let kind = match opcode {
            2 => MessageKind::Binary,
            8 => {
                let (code, reason) = close_fields(&payload);
                // As on the wire: the code in two bytes, then the reason.
                payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                payload.extend_from_slice(reason.as_bytes());
                MessageKind::Close { code, reason }
            }
            9 => MessageKind::Ping,
            10 => MessageKind::Pong,
            _ => MessageKind::Text,
        };
        let msg = Message::new(direction, time, kind, payload);
        crate::http::ws::note_close(&mut stream, &msg);
        stream.push(msg);
    }
    stream
}

/// A close payload's code and reason: binary (`03 e8 …`) as on the wire, or text
/// (`1000 bye`) as some tools write it.
fn close_fields(payload: &[u8]) -> (Option<u16>, String) {
    let text = String::from_utf8_lossy(payload);
    let mut parts = text.splitn(2, ' ');
    if let Some(code) = parts.next().and_then(|c| c.parse::<u16>().ok()) {
        return (Some(code), parts.next().unwrap_or("").to_string());
    }
    if payload.len() >= 2 {
        return (
            Some(u16::from_be_bytes([payload[0], payload[1]])),
            String::from_utf8_lossy(&payload[2..]).into_owned(),
        );
    }
    (None, String::new())
}

fn timing(start: Option<i64>, timings: Option<Timings>, time: LenientNum) -> Timing {
    let Some(start) = start else { return Timing::default() };
    let mut t = Timing { request_start: Some(start), ..Timing::default() };
    let tm = timings.unwrap_or_default();
    let has_phases = [tm.send, tm.wait, tm.receive].iter().any(|n| n.known().is_some());
    if has_phases {
        // `ssl` is inside `connect` (HAR 1.2), so it is not added again.
        let before: f64 = [tm.blocked, tm.dns, tm.connect, tm.send].iter().filter_map(|n| n.known()).sum();
        let req_end = start.saturating_add(fields::ms_to_ns(before));
        let resp_start = req_end.saturating_add(fields::ms_to_ns(tm.wait.known().unwrap_or(0.0)));
        t.request_end = Some(req_end);
        t.response_start = Some(resp_start);
        t.response_end = Some(resp_start.saturating_add(fields::ms_to_ns(tm.receive.known().unwrap_or(0.0))));
    } else if let Some(total) = time.known() {
        t.response_end = Some(start.saturating_add(fields::ms_to_ns(total)));
    }
    t
}

fn request_body(
    post: Option<PostData<'_>>,
    body_size: LenientNum,
    opts: &ReadOptions,
    idx: usize,
    diags: &mut Vec<Diagnostic>,
) -> Body {
    let Some(p) = post else {
        return Body { size: body_size.known_u64().unwrap_or(0), wire_size: body_size.known_u64(), ..Body::default() };
    };
    let mut body = Body { wire_size: body_size.known_u64(), ..Body::default() };
    if let Some(f) = p.file.non_empty() {
        body.detached = Some(f.to_string());
        body.size = body_size.known_u64().unwrap_or(0);
        diags.push(detached_diag(f, idx, "request"));
        return body;
    }
    let bytes: Vec<u8> = if let Some(text) = p.text.0 {
        if p.encoding.as_str().eq_ignore_ascii_case("base64") {
            match fields::decode_base64(&text) {
                Ok(b) => b,
                Err(e) => {
                    diags.push(
                        Diagnostic::new(Severity::Warning, "har.bad_base64", format!("request body: {e}"))
                            .at(format!("entry {idx}")),
                    );
                    body.decode_error = Some(e);
                    text.into_owned().into_bytes()
                }
            }
        } else {
            text.into_owned().into_bytes()
        }
    } else if !p.params.0.is_empty() {
        let form =
            p.params.0.iter().map(|kv| format!("{}={}", form_encode(kv.name.as_str()), form_encode(kv.value.as_str())));
        let joined = form.collect::<Vec<_>>().join("&");
        if !p.mime_type.as_str().to_ascii_lowercase().contains("x-www-form-urlencoded") {
            diags.push(
                Diagnostic::new(
                    Severity::Info,
                    "har.params_only",
                    format!(
                        "request body given only as postData.params ({}); rebuilt as a URL-encoded form",
                        p.mime_type.as_str()
                    ),
                )
                .at(format!("entry {idx}")),
            );
        }
        joined.into_bytes()
    } else {
        Vec::new()
    };
    body.size = bytes.len() as u64;
    if body.wire_size.is_none() && !bytes.is_empty() {
        body.wire_size = Some(bytes.len() as u64);
    }
    set_content(&mut body, bytes, opts);
    body
}

fn response_body(
    content: Option<Content<'_>>,
    body_size: LenientNum,
    headers: &Headers,
    opts: &ReadOptions,
    idx: usize,
    diags: &mut Vec<Diagnostic>,
) -> Body {
    let mut body = Body {
        wire_size: body_size.known_u64(),
        encoding: headers.get("content-encoding").map(str::to_string),
        ..Body::default()
    };
    let Some(c) = content else { return body };
    let declared = c.size.known_u64();
    if let Some(f) = c.file.non_empty() {
        body.detached = Some(f.to_string());
        body.size = declared.unwrap_or(0);
        diags.push(detached_diag(f, idx, "response"));
        return body;
    }
    let bytes = match c.text.0 {
        Some(text) if c.encoding.as_str().eq_ignore_ascii_case("base64") => {
            if opts.keep_bodies {
                match fields::decode_base64(&text) {
                    Ok(b) => Some(b),
                    Err(e) => {
                        diags.push(
                            Diagnostic::new(Severity::Warning, "har.bad_base64", format!("response body: {e}"))
                                .at(format!("entry {idx}")),
                        );
                        body.decode_error = Some(e);
                        Some(text.into_owned().into_bytes())
                    }
                }
            } else {
                // Size without decoding: 3 bytes per 4 characters, minus padding.
                let t = text.trim_end();
                let pad = t.bytes().rev().take_while(|&c| c == b'=').count();
                body.size = declared.unwrap_or((t.len() / 4 * 3).saturating_sub(pad) as u64);
                return body;
            }
        }
        Some(text) => Some(text.into_owned().into_bytes()),
        None => None,
    };
    match bytes {
        Some(b) => {
            body.size = declared.filter(|&d| d >= b.len() as u64).unwrap_or(b.len() as u64);
            set_content(&mut body, b, opts);
        }
        None => {
            // The exporter left the body out (Firefox: "Response bodies are not included.").
            body.size = declared.unwrap_or(0);
            body.truncated = body.size > 0;
        }
    }
    body
}

fn set_content(body: &mut Body, mut bytes: Vec<u8>, opts: &ReadOptions) {
    if !opts.keep_bodies {
        return;
    }
    if opts.digest_bodies {
        body.digest = Some(crate::model::body_digest(&bytes));
    }
    if fields::cap_body(&mut bytes, opts.body_cap) {
        body.truncated = true;
    }
    if (bytes.len() as u64) < body.size {
        body.truncated = true;
    }
    body.content = bytes;
}

fn detached_diag(file: &str, idx: usize, which: &str) -> Diagnostic {
    Diagnostic::new(
        Severity::Info,
        "har.detached_body",
        format!("the {which} body is stored outside the HAR, in {}", crate::model::text::visible(file)),
    )
    .at(format!("entry {idx}"))
}

fn form_encode(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'*')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.bytes() {
        match c {
            b' ' => out.push('+'),
            c if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'*') => out.push(c as char),
            c => out.push_str(&format!("%{c:02X}")),
        }
    }
    Cow::Owned(out)
}

/// The client address apiscope writes as the entry's `_clientAddress` (HAR has no field for
/// it), taken out of the private fields so that what apiscope writes reads back the same.
fn client_address(extra: &mut serde_json::Value) -> Option<Addr> {
    let entry = extra.get_mut("entry")?.as_object_mut()?;
    let (ip, port) = entry.get("_clientAddress")?.as_str().and_then(fields::parse_ip)?;
    take_entry_field(extra, "_clientAddress");
    Some(Addr { ip, port })
}

/// Take the entry-level private field `name` out of `extra` (dropping what becomes empty).
fn take_entry_field(extra: &mut serde_json::Value, name: &str) -> Option<serde_json::Value> {
    let entry = extra.get_mut("entry")?.as_object_mut()?;
    let v = entry.remove(name)?;
    if entry.is_empty() {
        if let Some(m) = extra.as_object_mut() {
            m.remove("entry");
        }
        if extra.as_object().is_some_and(serde_json::Map::is_empty) {
            *extra = serde_json::Value::Null;
        }
    }
    Some(v)
}

/// True when the raw entry may hold `_`-prefixed keys (a `"_` not preceded by a backslash,
/// so escaped quotes inside body text do not count).
fn has_private_fields(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memmem::find_iter(b, b"\"_").any(|i| i == 0 || b[i - 1] != b'\\')
}

/// The `_`-prefixed fields of the entry, its request, response, content and timings, as
/// `{"entry": {…}, "request": {…}, "response": {…}, "content": {…}, "timings": {…}}`
/// (only the non-empty parts).
fn extras(text: &str) -> serde_json::Value {
    use serde_json::{Map, Value};
    let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(text) else { return Value::Null };
    let private = |obj: Option<&Value>| -> Map<String, Value> {
        obj.and_then(Value::as_object)
            .map(|m| m.iter().filter(|(k, _)| k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let mut out = Map::new();
    let top: Map<String, Value> =
        entry.iter().filter(|(k, _)| k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
    let parts = [
        ("entry", top),
        ("request", private(entry.get("request"))),
        ("response", private(entry.get("response"))),
        ("content", private(entry.get("response").and_then(|r| r.get("content")))),
        ("timings", private(entry.get("timings"))),
    ];
    for (name, m) in parts {
        if !m.is_empty() {
            out.insert(name.into(), Value::Object(m));
        }
    }
    if out.is_empty() { Value::Null } else { Value::Object(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Collect;

    fn read(doc: &str) -> (Result<ReadSummary, IngestError>, Collect) {
        let mut c = Collect::default();
        let d = Document::new(doc.as_bytes());
        let r = read_har(&d, Path::new("t.har"), &ReadOptions::default(), &mut c);
        (r, c)
    }

    #[test]
    fn a_digest_is_of_the_whole_decoded_body_even_when_none_is_kept() {
        // "aGVsbG8gd29ybGQ=" is base64 for "hello world": the digest is of the decoded bytes.
        let doc = r#"{"log":{"entries":[{"startedDateTime":"2024-01-01T00:00:00Z","time":1,
          "request":{"method":"GET","url":"http://a/"},"response":{"status":200,
          "content":{"size":11,"text":"aGVsbG8gd29ybGQ=","encoding":"base64"}}}]}}"#;
        let mut c = Collect::default();
        let opts = ReadOptions { body_cap: 0, digest_bodies: true, ..ReadOptions::default() };
        read_har(&Document::new(doc.as_bytes()), Path::new("t.har"), &opts, &mut c).unwrap();
        let b = &c.exchanges[0].response.as_ref().unwrap().body;
        assert_eq!((b.content.len(), b.size, b.truncated), (0, 11, true));
        assert_eq!(b.digest, Some(crate::model::body_digest(b"hello world")));
    }

    #[test]
    fn timings_map_onto_the_capture_clock() {
        let doc = r#"{"log":{"entries":[{"startedDateTime":"2024-01-01T00:00:00.000+01:00","time":50,
          "request":{"method":"GET","url":"http://a.example/x"},"response":{"status":200},
          "timings":{"blocked":1,"dns":-1,"connect":4,"ssl":3,"send":2,"wait":10,"receive":5}}]}}"#;
        let (r, c) = read(doc);
        assert_eq!(r.unwrap().exchanges, 1);
        let t = c.exchanges[0].timing;
        let start = fields::parse_datetime("2023-12-31T23:00:00Z").unwrap();
        assert_eq!(t.request_start, Some(start));
        assert_eq!(t.request_end, Some(start + 7_000_000));
        assert_eq!(t.response_start, Some(start + 17_000_000));
        assert_eq!(t.response_end, Some(start + 22_000_000));
    }

    #[test]
    fn absurd_times_do_not_overflow() {
        let doc = r#"{"log":{"entries":[{"startedDateTime":"2200-12-31T23:59:59.999999999Z","time":1e308,
          "request":{"method":"GET","url":"http://a/"},"response":{"status":200},
          "timings":{"blocked":1e308,"send":-1e308,"wait":1e308,"receive":"1e308"}},
          {"startedDateTime":"1950-01-01T00:00:00Z","time":-5,"request":{},"response":{"status":1e9}}]}}"#;
        let (r, c) = read(doc);
        assert_eq!(r.unwrap().exchanges, 2);
        for ex in &c.exchanges {
            let _ = (ex.duration(), ex.ttfb());
        }
        assert_eq!(c.exchanges[1].status(), Some(u16::MAX));
        assert_eq!(c.exchanges[1].timing.response_end, None);
    }

    #[test]
    fn empty_timings_fall_back_to_time() {
        let doc = r#"{"log":{"entries":[{"startedDateTime":"2024-01-01T00:00:00Z","time":12.5,
          "request":{"method":"GET","url":"http://a.example/x"},"response":{"status":200},"timings":{}}]}}"#;
        let (_, c) = read(doc);
        let t = c.exchanges[0].timing;
        assert_eq!(t.total(), Some(12_500_000));
        assert_eq!(t.ttfb(), None);
    }

    #[test]
    fn a_broken_entry_is_skipped_and_the_rest_kept() {
        let doc = r#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a/1"},"response":{"status":200}},
          {"request": 5},{"request":{"method":"GET","url":"http://a/3"},"response":{"status":"404"}}]}}"#;
        let (r, c) = read(doc);
        let r = r.unwrap();
        assert_eq!(r.exchanges, 2);
        assert_eq!(c.exchanges[1].status(), Some(404));
        assert_eq!(c.exchanges[1].provenance.entry, Some(2));
        assert_eq!(c.diagnostics.len(), 1);
        let d = c.diagnostics[0].to_string();
        assert!(d.contains("entry 1 (byte "), "{d}");
    }

    #[test]
    fn an_entry_of_the_wrong_type_is_named_as_in_earlier_versions() {
        let doc =
            r#"{"log":{"entries":[5,{"request":{"method":"GET","url":"http://a/1"},"response":{"status":200}}]}}"#;
        let (r, c) = read(doc);
        assert_eq!(r.unwrap().exchanges, 1);
        assert_eq!(c.diagnostics.len(), 1);
        assert_eq!(c.diagnostics[0].message, "entry skipped: invalid type: integer `5`, expected struct Entry");
    }

    #[test]
    fn status_zero_with_error_is_failed_and_private_fields_stay() {
        let doc = r#"{"log":{"entries":[{"_priority":"High","request":{"method":"TEST_METHOD","url":"https://a.example:8443/p?q=1",
          "httpVersion":"","headers":[[":authority","a.example:8443"],["x","y"]]},
          "response":{"status":0,"httpVersion":"","headers":[],"_error":"net::ERR_FAILED","content":{"size":0,"mimeType":"x-unknown"}},
          "serverIPAddress":"[2001:db8::1]","connection":"77"}]}}"#;
        let (_, c) = read(doc);
        let ex = &c.exchanges[0];
        assert_eq!(ex.state, State::Failed("net::ERR_FAILED".into()));
        assert!(ex.response.is_none());
        assert_eq!(ex.request.method, "TEST_METHOD");
        assert_eq!(ex.request.host.as_deref(), Some("a.example:8443"));
        assert_eq!(ex.request.target, "/p?q=1");
        assert_eq!(ex.server.unwrap().to_string(), "[2001:db8::1]:8443");
        assert_eq!(ex.provenance.connection.as_deref(), Some("77"));
        assert_eq!(ex.extra["entry"]["_priority"], "High");
        assert_eq!(ex.extra["response"]["_error"], "net::ERR_FAILED");
    }

    #[test]
    fn bodies_base64_params_and_detached() {
        let doc = r#"{"log":{"entries":[{"request":{"method":"POST","url":"http://a/f",
          "postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"a b","value":"1&2"}]}},
          "response":{"status":200,"bodySize":9,"headers":[{"name":"Content-Encoding","value":"gzip"}],
          "content":{"size":5,"encoding":"base64","text":"aGVsbG8="}}},
          {"request":{"method":"GET","url":"http://a/g"},"response":{"status":200,"content":{"size":-1,"_file":"abc.json"}}}]}}"#;
        let (r, c) = read(doc);
        assert_eq!(r.unwrap().exchanges, 2);
        let a = &c.exchanges[0];
        assert_eq!(a.request.body.content, b"a+b=1%262");
        let rb = &a.response.as_ref().unwrap().body;
        assert_eq!(rb.content, b"hello");
        assert_eq!((rb.size, rb.wire_size, rb.encoding.as_deref()), (5, Some(9), Some("gzip")));
        let b = &c.exchanges[1];
        assert_eq!(b.response.as_ref().unwrap().body.detached.as_deref(), Some("abc.json"));
        assert_eq!(b.diagnostics[0].severity, Severity::Info);
        assert!(c.diagnostics.is_empty());
    }

    #[test]
    fn truncation_keeps_earlier_entries_and_says_where() {
        let full = r#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a/1"},"response":{"status":200}},{"request":{"method":"GET","url":"http://a/2"},"respo"#;
        let (r, c) = read(full);
        assert_eq!(r.unwrap().exchanges, 1);
        let d = c.diagnostics[0].to_string();
        assert!(d.contains(&format!("byte {}", full.len())), "{d}");
        let (r, _) = read(r#"{"log":{"entries":[{"requ"#);
        let e = r.unwrap_err().to_string();
        assert!(e.starts_with("t.har: byte 25:"), "{e}");
    }
}
