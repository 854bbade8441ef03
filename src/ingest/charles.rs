//! The Charles JSON session (`.chlsj`) reader (the format is described in docs/formats.md): a top-level array
//! of transactions, streamed one at a time. The transaction `status` (`COMPLETE`,
//! `EXCEPTION`, …) is Charles' own state, not the HTTP status; HTTP/2 transactions have no
//! `firstLine`; bodies are `{text, decoded}` or `{encoding: base64, encoded}`; numbers may
//! arrive as strings; `port` may be `null`; `exception` text marks a failure.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::detect::InputFormat;
use super::document::Document;
use super::fields;
use super::json::Route;
use super::json::lenient::{LenientBool, LenientNum, LenientStr, Pairs};
use super::json::walk::strip_position;
use super::session::{JsonSession, SessionNames, read_session};
use super::{IngestError, ReadOptions, ReadSummary, Sink};
use crate::model::{
    Addr, Body, Diagnostic, Exchange, Provenance, Request, Response, Severity, State, Timing, normalize_version,
};

#[derive(Deserialize, Default)]
struct Transaction<'a> {
    #[serde(borrow, default)]
    status: LenientStr<'a>,
    #[serde(borrow, default)]
    method: LenientStr<'a>,
    #[serde(borrow, default, rename = "protocolVersion")]
    protocol_version: LenientStr<'a>,
    #[serde(borrow, default)]
    scheme: LenientStr<'a>,
    #[serde(borrow, default)]
    host: LenientStr<'a>,
    #[serde(default)]
    port: LenientNum,
    #[serde(default, rename = "actualPort")]
    actual_port: LenientNum,
    #[serde(borrow, default)]
    path: LenientStr<'a>,
    #[serde(borrow, default)]
    query: LenientStr<'a>,
    #[serde(default)]
    tunnel: LenientBool,
    #[serde(default, rename = "keptAlive")]
    kept_alive: LenientBool,
    #[serde(default, rename = "webSocket")]
    web_socket: LenientBool,
    #[serde(borrow, default, rename = "remoteAddress")]
    remote_address: LenientStr<'a>,
    #[serde(borrow, default, rename = "clientAddress")]
    client_address: LenientStr<'a>,
    #[serde(default, rename = "clientPort")]
    client_port: LenientNum,
    #[serde(borrow, default)]
    times: Times<'a>,
    #[serde(default)]
    durations: Durations,
    #[serde(borrow, default)]
    exception: LenientStr<'a>,
    #[serde(borrow, default)]
    notes: LenientStr<'a>,
    #[serde(borrow, default)]
    ssl: Option<&'a RawValue>,
    #[serde(borrow, default)]
    alpn: Option<&'a RawValue>,
    #[serde(borrow, default)]
    request: Option<Message<'a>>,
    #[serde(borrow, default)]
    response: Option<Message<'a>>,
}

#[derive(Deserialize, Default)]
struct Times<'a> {
    #[serde(borrow, default)]
    start: LenientStr<'a>,
    #[serde(borrow, default, rename = "requestBegin")]
    request_begin: LenientStr<'a>,
    #[serde(borrow, default, rename = "requestComplete")]
    request_complete: LenientStr<'a>,
    #[serde(borrow, default, rename = "responseBegin")]
    response_begin: LenientStr<'a>,
    #[serde(borrow, default)]
    end: LenientStr<'a>,
}

#[derive(Deserialize, Default)]
struct Durations {
    #[serde(default)]
    total: LenientNum,
    #[serde(default)]
    dns: LenientNum,
    #[serde(default)]
    connect: LenientNum,
    #[serde(default)]
    ssl: LenientNum,
    #[serde(default)]
    request: LenientNum,
    #[serde(default)]
    response: LenientNum,
    #[serde(default)]
    latency: LenientNum,
}

#[derive(Deserialize, Default)]
struct Message<'a> {
    #[serde(default)]
    status: LenientNum,
    #[serde(default)]
    sizes: Sizes,
    #[serde(borrow, default, rename = "contentEncoding")]
    content_encoding: LenientStr<'a>,
    #[serde(borrow, default)]
    header: Option<Header<'a>>,
    #[serde(borrow, default)]
    body: Option<CBody<'a>>,
}

#[derive(Deserialize, Default)]
struct Sizes {
    #[serde(default)]
    body: LenientNum,
}

#[derive(Deserialize, Default)]
struct Header<'a> {
    #[serde(borrow, default, rename = "firstLine")]
    first_line: LenientStr<'a>,
    #[serde(borrow, default)]
    headers: Pairs<'a>,
}

#[derive(Deserialize, Default)]
struct CBody<'a> {
    #[serde(borrow, default)]
    text: LenientStr<'a>,
    #[serde(borrow, default)]
    encoding: LenientStr<'a>,
    #[serde(borrow, default)]
    encoded: LenientStr<'a>,
}

/// The Charles JSON session format for the session driver: the document is the array of
/// transactions.
pub(crate) struct Charles;

impl JsonSession for Charles {
    const FORMAT: InputFormat = InputFormat::CharlesJson;
    const ROUTE: Route = Route::TopArray;
    const NAMES: SessionNames = SessionNames {
        document: "Charles JSON session",
        item: "transaction",
        items: "transactions",
        broken_code: "charles.transaction_broken",
        truncated_code: "charles.truncated",
        missing: None,
    };

    fn convert(text: &str, idx: usize, file: &Arc<str>, opts: &ReadOptions) -> Result<Exchange, String> {
        to_exchange(text, idx, file, opts)
    }

    /// Every transaction that did not complete (an exception, no response, cut short).
    fn counts_as_failed(ex: &Exchange) -> bool {
        ex.is_failed()
    }
}

/// Read a Charles JSON session (BOM already removed) into `sink`.
///
/// # Errors
/// [`IngestError::Damaged`] when the document is broken before any transaction.
pub fn read_charles(
    doc: &Document<'_>,
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn Sink,
) -> Result<ReadSummary, IngestError> {
    read_session::<Charles>(doc, path, opts, sink)
}

fn ts(s: &LenientStr<'_>) -> Option<i64> {
    s.0.as_deref().and_then(fields::parse_datetime)
}

/// One transaction as an exchange (its `seq` is set by the caller).
pub(crate) fn to_exchange(raw: &str, idx: usize, file: &Arc<str>, opts: &ReadOptions) -> Result<Exchange, String> {
    let t: Transaction<'_> = serde_json::from_str(raw).map_err(|e| strip_position(&e))?;
    let mut diags = Vec::new();
    let req = t.request.unwrap_or_default();
    let req_header = req.header.as_ref();
    let headers = req_header.map(|h| h.headers.to_headers()).unwrap_or_default();
    let first_line = req_header.and_then(|h| h.first_line.non_empty());
    let mut fl = first_line.map(|l| l.split(' ')).into_iter().flatten();
    let (fl_method, fl_target, fl_version) = (fl.next(), fl.next(), fl.next());

    // The first line says what went on the wire; `method` is sometimes lower-cased.
    let method = fl_method
        .filter(|m| !m.is_empty())
        .or_else(|| t.method.non_empty())
        .or_else(|| headers.get(":method"))
        .unwrap_or_default()
        .to_string();
    let scheme = t.scheme.non_empty().or_else(|| headers.get(":scheme")).map(str::to_ascii_lowercase);
    let port = t.actual_port.known_u64().or_else(|| t.port.known_u64()).and_then(|p| u16::try_from(p).ok());
    let default_port = match scheme.as_deref() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let host = t.host.non_empty().map(|h| match port {
        Some(p) if Some(p) != default_port && !h.contains(':') => format!("{h}:{p}"),
        _ => h.to_string(),
    });
    // The first line's target is what went on the wire (the `query` field is sometimes null
    // while the first line has one); an absolute-form target is cut to its path and query.
    let from_fields = t.path.non_empty().map(|p| match t.query.non_empty() {
        Some(q) => format!("{p}?{q}"),
        None => p.to_string(),
    });
    let from_line = fl_target
        .filter(|x| !x.is_empty())
        .map(|x| if x.starts_with('/') { x.to_string() } else { fields::split_url(x).2 });
    let target = from_line
        .or(from_fields)
        .or_else(|| headers.get(":path").map(str::to_string))
        .unwrap_or_else(|| "/".to_string());
    let version = normalize_version(t.protocol_version.non_empty().or(fl_version).unwrap_or(""));

    let request = Request {
        method,
        scheme,
        host,
        target,
        version: version.clone(),
        headers,
        body: body(
            req.body.as_ref(),
            req.sizes.body,
            req.content_encoding.non_empty(),
            opts,
            idx,
            "request",
            &mut diags,
        ),
    };

    let response = t.response.map(|r| {
        let h = r.header.as_ref();
        let first = h.and_then(|h| h.first_line.non_empty());
        let (rv, reason) = match first.map(|l| l.splitn(3, ' ').collect::<Vec<_>>()) {
            Some(parts) => (
                parts.first().map(|v| normalize_version(v)).unwrap_or_default(),
                parts.get(2).copied().unwrap_or("").trim_end().to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let headers = h.map(|h| h.headers.to_headers()).unwrap_or_default();
        let status = r
            .status
            .known()
            .or_else(|| headers.get(":status").and_then(|s| s.trim().parse().ok()))
            .map_or(0, |s| s.min(f64::from(u16::MAX)) as u16);
        Response {
            status,
            reason,
            version: if rv.is_empty() { version.clone() } else { rv },
            headers,
            body: body(
                r.body.as_ref(),
                r.sizes.body,
                r.content_encoding.non_empty(),
                opts,
                idx,
                "response",
                &mut diags,
            ),
        }
    });

    let tx_status = t.status.as_str().to_ascii_uppercase();
    let state = if let Some(e) = t.exception.non_empty() {
        State::Failed(e.to_string())
    } else if tx_status == "EXCEPTION" {
        State::Failed("Charles recorded an exception".into())
    } else if tx_status.starts_with("RECEIVING") || tx_status == "RECEIVED_REQUEST_BODY" {
        State::Aborted(format!("transaction incomplete ({tx_status})"))
    } else if response.is_none() {
        State::NoResponse(format!(
            "no response recorded (transaction {})",
            t.status.non_empty().unwrap_or("status unknown")
        ))
    } else {
        State::Complete
    };

    // Timings: the `times` stamps, `durations` as the fallback.
    let start = ts(&t.times.start).or_else(|| ts(&t.times.request_begin));
    let mut timing = Timing {
        request_start: start,
        request_end: ts(&t.times.request_complete),
        response_start: ts(&t.times.response_begin),
        response_end: ts(&t.times.end),
    };
    if timing.response_end.is_none()
        && let (Some(s), Some(total)) = (start, t.durations.total.known())
    {
        timing.response_end = Some(s.saturating_add(fields::ms_to_ns(total)));
    }
    if start.is_none() {
        diags.push(
            Diagnostic::new(Severity::Warning, "charles.no_start", "times.start is missing or invalid")
                .at(format!("transaction {idx}")),
        );
    }

    let client = t.client_address.non_empty().and_then(|a| {
        let ip = a.rsplit('/').next().unwrap_or(a);
        fields::parse_ip(ip).map(|(ip, p)| Addr {
            ip,
            port: p.or(t.client_port.known_u64().and_then(|p| u16::try_from(p).ok()).filter(|&p| p != 0)),
        })
    });
    let server = t.remote_address.non_empty().and_then(|a| {
        let ip = a.rsplit('/').next().unwrap_or(a);
        fields::parse_ip(ip).map(|(ip, p)| Addr { ip, port: p.or(port).or(default_port) })
    });

    let mut extra = serde_json::Map::new();
    extra.insert("status".into(), t.status.as_str().into());
    for (k, v) in [("tunnel", t.tunnel), ("keptAlive", t.kept_alive), ("webSocket", t.web_socket)] {
        if let Some(b) = v.0 {
            extra.insert(k.into(), b.into());
        }
    }
    for (k, v) in [("ssl", t.ssl), ("alpn", t.alpn)] {
        if let Some(v) =
            v.and_then(|r| serde_json::from_str::<serde_json::Value>(r.get()).ok()).filter(|v| !v.is_null())
        {
            extra.insert(k.into(), v);
        }
    }
    let d = &t.durations;
    let durations: serde_json::Map<String, serde_json::Value> = [
        ("total", d.total),
        ("dns", d.dns),
        ("connect", d.connect),
        ("ssl", d.ssl),
        ("request", d.request),
        ("response", d.response),
        ("latency", d.latency),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.0.map(|x| (k.to_string(), serde_json::json!(x))))
    .collect();
    if !durations.is_empty() {
        extra.insert("durations".into(), serde_json::Value::Object(durations));
    }

    Ok(Exchange {
        seq: 0,
        request,
        response,
        interim: Vec::new(),
        timing,
        client,
        server,
        state,
        provenance: Provenance::of_entry(file, idx as u64, None),
        diagnostics: diags,
        comment: t.notes.non_empty().map(str::to_string),
        extra: serde_json::Value::Object(extra),
        tls: None,
        stream: None,
    })
}

fn body(
    b: Option<&CBody<'_>>,
    wire: LenientNum,
    encoding: Option<&str>,
    opts: &ReadOptions,
    idx: usize,
    which: &str,
    diags: &mut Vec<Diagnostic>,
) -> Body {
    let mut body = Body { wire_size: wire.known_u64(), encoding: encoding.map(str::to_string), ..Body::default() };
    let bytes = match b {
        None => None,
        Some(b) if b.encoding.as_str().eq_ignore_ascii_case("base64") || b.encoded.0.is_some() => {
            let src = b.encoded.non_empty().or_else(|| b.text.non_empty()).unwrap_or("");
            match fields::decode_base64(src) {
                Ok(v) => Some(v),
                Err(e) => {
                    diags.push(
                        Diagnostic::new(Severity::Warning, "charles.bad_base64", format!("{which} body: {e}"))
                            .at(format!("transaction {idx}")),
                    );
                    body.decode_error = Some(e);
                    None
                }
            }
        }
        Some(b) => b.text.0.as_deref().map(|t| t.as_bytes().to_vec()),
    };
    match bytes {
        Some(mut v) => {
            body.size = v.len() as u64;
            if opts.keep_bodies {
                if opts.digest_bodies {
                    body.digest = Some(crate::model::body_digest(&v));
                }
                body.truncated = fields::cap_body(&mut v, opts.body_cap);
                body.content = v;
            }
        }
        None => {
            // Bodies were not saved: only the size on the wire is known.
            body.size = if body.encoding.is_none() { body.wire_size.unwrap_or(0) } else { 0 };
            body.truncated = body.wire_size.unwrap_or(0) > 0;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Collect;

    fn read(doc: &str) -> (Result<ReadSummary, IngestError>, Collect) {
        let mut c = Collect::default();
        let r = read_charles(&Document::new(doc.as_bytes()), Path::new("s.chlsj"), &ReadOptions::default(), &mut c);
        (r, c)
    }

    #[test]
    fn transaction_status_is_not_the_http_status() {
        let doc = r#"[{"status":"COMPLETE","method":"get","protocolVersion":"HTTP/1.1","scheme":"http","host":"h.example",
          "port":null,"actualPort":"8080","path":"/a","query":null,"remoteAddress":"h.example/192.0.2.7",
          "clientAddress":"/127.0.0.1","clientPort":"5000",
          "times":{"start":"2020-05-03T23:00:28.589+08:00","requestBegin":"2020-05-03T23:00:28.778+08:00",
            "requestComplete":"2020-05-03T23:00:28.778+08:00","responseBegin":"2020-05-03T23:00:31.121+08:00",
            "end":"2020-05-03T23:00:31.162+08:00"},"durations":{"total":"2573","dns":null},
          "request":{"header":{"firstLine":"GET http://h.example:8080/a?b=1 HTTP/1.1","headers":[{"name":"Host","value":"h.example"}]}},
          "response":{"status":"201","sizes":{"body":4},"header":{"firstLine":"HTTP/1.1 201 Created","headers":[]},
            "body":{"encoding":"base64","encoded":"AAEC/w=="}}},
          {"status":"EXCEPTION","method":"POST","scheme":"https","host":"x","path":"/","exception":"Connection reset"}]"#;
        let (r, c) = read(doc);
        assert_eq!(r.unwrap().exchanges, 2);
        let a = &c.exchanges[0];
        assert_eq!(a.request.method, "GET");
        assert_eq!(a.request.host.as_deref(), Some("h.example:8080"));
        assert_eq!(a.request.target, "/a?b=1");
        assert_eq!(a.status(), Some(201));
        assert_eq!(a.response.as_ref().unwrap().reason, "Created");
        assert_eq!(a.response.as_ref().unwrap().body.content, vec![0, 1, 2, 255]);
        assert_eq!(a.client.unwrap().to_string(), "127.0.0.1:5000");
        assert_eq!(a.server.unwrap().to_string(), "192.0.2.7:8080");
        assert_eq!(a.ttfb(), Some(2_343_000_000));
        assert_eq!(a.duration(), Some(2_573_000_000));
        assert_eq!(a.state, State::Complete);
        let b = &c.exchanges[1];
        assert_eq!(b.state, State::Failed("Connection reset".into()));
        assert!(b.response.is_none());
    }

    #[test]
    fn broken_transactions_are_skipped_with_a_diagnostic() {
        let (r, c) = read(
            r#"[{"status":"COMPLETE","request":7}, {"status":"COMPLETE","method":"GET","host":"a","path":"/"}, {"x"#,
        );
        assert_eq!(r.unwrap().exchanges, 1);
        assert_eq!(c.diagnostics.len(), 2);
        assert!(c.diagnostics[0].to_string().contains("transaction 0"));
        assert_eq!(c.diagnostics[1].code, "charles.truncated");
    }
}
