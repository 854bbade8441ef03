//! HAR 1.2 export: a complete `{"log": …}` document with one entry per exchange. Bodies are
//! the decoded content (`content.text`), base64 with `encoding: "base64"` when not UTF-8;
//! timings come from [`crate::model::Timing`] (`send`, `wait`, `receive`; phases not known are
//! -1); failed exchanges get status 0 and `_error`, as browsers write them. The output reads
//! back through apiscope's own HAR reader to the same exchanges.

use std::io::{self, Write};

use base64::Engine as _;

use crate::model::message::{Message, MessageKind, StreamProtocol};
use serde_json::{Map, Value, json};

use super::redact::percent_decode;
use crate::model::{Body, Exchange, Headers, Nanos, State};

/// `{"log":{"version":"1.2","creator":…,"entries":[`
///
/// # Errors
/// The writer's error.
pub fn write_header(w: &mut dyn Write) -> io::Result<()> {
    let creator = json!({"name": "apiscope", "version": env!("CARGO_PKG_VERSION")});
    writeln!(w, "{{\"log\":{{\"version\":\"1.2\",\"creator\":{creator},\"entries\":[")
}

/// `]}}` closing what [`write_header`] opened.
///
/// # Errors
/// The writer's error.
pub fn write_footer(w: &mut dyn Write) -> io::Result<()> {
    w.write_all(b"\n]}}\n")
}

/// A whole HAR document for `exchanges` (no redaction: callers redact first or use
/// [`super::Exporter`]).
#[must_use]
pub fn log<'a>(exchanges: impl IntoIterator<Item = &'a Exchange>) -> String {
    let entries: Vec<Value> = exchanges.into_iter().map(entry).collect();
    json!({"log": {"version": "1.2", "creator": {"name": "apiscope", "version": env!("CARGO_PKG_VERSION")}, "entries": entries}})
        .to_string()
}

/// ISO 8601 (RFC 3339, UTC, up to nanoseconds) for a capture-clock instant.
#[must_use]
pub fn iso8601(ns: Nanos) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn ms(ns: i64) -> Value {
    json!(ns as f64 / 1e6)
}

fn pairs(h: &Headers) -> Vec<Value> {
    h.iter().map(|x| json!({"name": x.name, "value": x.value})).collect()
}

fn request_cookies(h: &Headers) -> Vec<Value> {
    h.get_all("cookie")
        .flat_map(|c| c.split(';'))
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            Some(json!({"name": k.trim(), "value": v.trim()}))
        })
        .collect()
}

fn response_cookies(h: &Headers) -> Vec<Value> {
    h.get_all("set-cookie")
        .filter_map(|c| {
            let mut parts = c.split(';');
            let (k, v) = parts.next()?.trim().split_once('=')?;
            let mut o = Map::new();
            o.insert("name".into(), json!(k.trim()));
            o.insert("value".into(), json!(v.trim()));
            for a in parts {
                let (an, av) = a.trim().split_once('=').map_or((a.trim(), ""), |(x, y)| (x.trim(), y.trim()));
                match an.to_ascii_lowercase().as_str() {
                    "path" => drop(o.insert("path".into(), json!(av))),
                    "domain" => drop(o.insert("domain".into(), json!(av))),
                    "httponly" => drop(o.insert("httpOnly".into(), json!(true))),
                    "secure" => drop(o.insert("secure".into(), json!(true))),
                    _ => {}
                }
            }
            Some(Value::Object(o))
        })
        .collect()
}

fn query_string(q: Option<&str>) -> Vec<Value> {
    q.into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            json!({"name": percent_decode(k), "value": percent_decode(v)})
        })
        .collect()
}

/// The body as HAR text: UTF-8 as is, anything else base64 (`Some("base64")`).
fn body_text(b: &Body) -> (String, Option<&'static str>) {
    match std::str::from_utf8(&b.content) {
        Ok(s) => (s.to_string(), None),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(&b.content), Some("base64")),
    }
}

fn size_or_unknown(n: Option<u64>) -> Value {
    n.map_or(json!(-1), |n| json!(n))
}

/// One HAR entry.
#[must_use]
pub fn entry(ex: &Exchange) -> Value {
    let req = &ex.request;
    let t = ex.timing;
    let start = t.request_start.or_else(|| t.start()).unwrap_or(0);
    let send = t.request_end.zip(t.request_start).map(|(e, s)| e - s);
    let wait = t.response_start.zip(t.request_end).map(|(e, s)| e - s);
    let receive = t.response_end.zip(t.response_start).map(|(e, s)| e - s);
    let total = ex.duration().or_else(|| Some(send.unwrap_or(0) + wait.unwrap_or(0) + receive.unwrap_or(0)));
    let phase = |v: Option<i64>| v.filter(|n| *n >= 0).map_or(json!(-1), ms);

    let mut request = Map::new();
    request.insert("method".into(), json!(req.method));
    request.insert("url".into(), json!(super::url(ex)));
    request.insert("httpVersion".into(), json!(req.version));
    request.insert("cookies".into(), json!(request_cookies(&req.headers)));
    request.insert("headers".into(), json!(pairs(&req.headers)));
    request.insert("queryString".into(), json!(query_string(req.query())));
    if !req.body.content.is_empty() || req.body.detached.is_some() {
        let mut pd = Map::new();
        pd.insert("mimeType".into(), json!(req.headers.get("content-type").unwrap_or("")));
        if let Some(f) = &req.body.detached {
            pd.insert("_file".into(), json!(f));
        } else {
            let (text, enc) = body_text(&req.body);
            pd.insert("text".into(), json!(text));
            if let Some(e) = enc {
                pd.insert("encoding".into(), json!(e));
            }
        }
        pd.insert("params".into(), json!([]));
        request.insert("postData".into(), Value::Object(pd));
    }
    request.insert("headersSize".into(), json!(-1));
    let req_size = if req.body.is_empty() { 0 } else { req.body.wire_size.unwrap_or(req.body.content.len() as u64) };
    request.insert("bodySize".into(), json!(req_size));

    let error = match &ex.state {
        State::Complete => None,
        State::NoResponse(r) | State::Failed(r) | State::Aborted(r) => Some(r.as_str()),
    };
    let response = match &ex.response {
        Some(r) => {
            let mut content = Map::new();
            content.insert("size".into(), json!(r.body.size));
            if let Some(w) = r.body.wire_size.filter(|w| r.body.encoding.is_some() && *w <= r.body.size) {
                content.insert("compression".into(), json!(r.body.size - w));
            }
            content.insert("mimeType".into(), json!(r.headers.get("content-type").unwrap_or("x-unknown")));
            if let Some(f) = &r.body.detached {
                content.insert("_file".into(), json!(f));
            } else if !r.body.content.is_empty() || r.body.size == 0 {
                let (text, enc) = body_text(&r.body);
                content.insert("text".into(), json!(text));
                if let Some(e) = enc {
                    content.insert("encoding".into(), json!(e));
                }
            }
            if r.body.truncated {
                content.insert(
                    "comment".into(),
                    json!(format!("body cut to {} of {} bytes", r.body.content.len(), r.body.size)),
                );
            }
            let mut o = Map::new();
            o.insert("status".into(), json!(r.status));
            o.insert("statusText".into(), json!(r.reason));
            o.insert("httpVersion".into(), json!(r.version));
            o.insert("cookies".into(), json!(response_cookies(&r.headers)));
            o.insert("headers".into(), json!(pairs(&r.headers)));
            o.insert("content".into(), Value::Object(content));
            o.insert("redirectURL".into(), json!(r.headers.get("location").unwrap_or("")));
            o.insert("headersSize".into(), json!(-1));
            o.insert("bodySize".into(), size_or_unknown(r.body.wire_size));
            if let Some(e) = error {
                o.insert("_error".into(), json!(e));
            }
            Value::Object(o)
        }
        None => json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
            "headersSize": -1, "bodySize": -1, "_error": error.unwrap_or("no response"),
        }),
    };

    let mut e = Map::new();
    e.insert("startedDateTime".into(), json!(iso8601(start)));
    e.insert("time".into(), ms(total.unwrap_or(0).max(0)));
    e.insert("request".into(), Value::Object(request));
    e.insert("response".into(), response);
    e.insert("cache".into(), json!({}));
    e.insert(
        "timings".into(),
        json!({"blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
               "send": phase(send), "wait": phase(wait), "receive": phase(receive)}),
    );
    if let Some(s) = ex.server {
        e.insert("serverIPAddress".into(), json!(s.ip.to_string()));
    }
    if let Some(c) = &ex.provenance.connection {
        e.insert("connection".into(), json!(c));
    } else if let Some(s) = ex.server.and_then(|s| s.port) {
        e.insert("connection".into(), json!(s.to_string()));
    }
    if let Some(c) = ex.client {
        e.insert("_clientAddress".into(), json!(c.to_string()));
    }
    if let Some(c) = &ex.comment {
        e.insert("comment".into(), json!(c));
    }
    if let Some(s) = ex.stream.as_deref().filter(|s| s.protocol == StreamProtocol::WebSocket) {
        e.insert("_webSocketMessages".into(), Value::Array(s.messages.iter().map(websocket_message).collect()));
    }
    Value::Object(e)
}

/// One message as Chrome writes it in `_webSocketMessages`: `type` send/receive, `time` in
/// epoch seconds, `opcode`, `data` (text as is; binary, ping and pong payloads base64; a
/// close frame's code and reason as text).
fn websocket_message(m: &Message) -> Value {
    let data = match &m.kind {
        MessageKind::Close { code: Some(c), reason } if reason.is_empty() => c.to_string(),
        MessageKind::Close { code: Some(c), reason } => format!("{c} {reason}"),
        MessageKind::Close { code: None, .. } => String::new(),
        k if k.is_textual() => m.text().into_owned(),
        _ => base64::engine::general_purpose::STANDARD.encode(&m.payload),
    };
    json!({
        "type": m.direction.label(),
        "time": m.time as f64 / 1e9,
        "opcode": m.kind.opcode().unwrap_or(1),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timing;

    #[test]
    fn instants_print_with_nanoseconds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456789Z");
    }

    #[test]
    fn entry_has_the_required_fields_and_timings() {
        let e = Exchange::builder("GET", "/a?x=1%202&y")
            .scheme("https")
            .host("h")
            .version("HTTP/1.1")
            .header("Cookie", "a=1; b=2")
            .status(200)
            .reason("OK")
            .response_version("HTTP/1.1")
            .response_header("Set-Cookie", "s=v; Path=/; HttpOnly")
            .response_body([0xff, 0xd8])
            .timing(Timing {
                request_start: Some(1_000_000_000),
                request_end: Some(1_002_000_000),
                response_start: Some(1_012_500_000),
                response_end: Some(1_013_000_000),
            })
            .server("192.0.2.1:443".parse().unwrap())
            .build();
        let v = entry(&e);
        assert_eq!(v["startedDateTime"], "1970-01-01T00:00:01Z");
        assert_eq!(v["time"], 13.0);
        assert_eq!(v["timings"]["send"], 2.0);
        assert_eq!(v["timings"]["wait"], 10.5);
        assert_eq!(v["timings"]["receive"], 0.5);
        assert_eq!(v["request"]["queryString"][0]["value"], "1 2");
        assert_eq!(v["request"]["queryString"][1]["name"], "y");
        assert_eq!(v["request"]["cookies"][1]["name"], "b");
        assert_eq!(v["response"]["cookies"][0]["httpOnly"], true);
        assert_eq!(v["response"]["content"]["encoding"], "base64");
        assert_eq!(v["response"]["content"]["text"], "/9g=");
        assert_eq!(v["serverIPAddress"], "192.0.2.1");
        for k in ["cache", "timings", "request", "response"] {
            assert!(v.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn missing_response_is_status_zero_with_error() {
        let e = Exchange::builder("GET", "").state(State::NoResponse("capture ended".into())).build();
        let v = entry(&e);
        assert_eq!(v["response"]["status"], 0);
        assert_eq!(v["response"]["_error"], "capture ended");
        assert_eq!(v["timings"]["send"], -1);
    }
}
