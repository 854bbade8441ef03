//! Rebuilding recorded requests for the target, and the safety rules that hold some back.
//!
//! A request keeps its method, path, query, headers and body. Pseudo-headers, hop-by-hop
//! headers (`Connection`, `Keep-Alive`, `TE`, `Upgrade`, …) and framing (`Content-Length`,
//! `Transfer-Encoding`) are dropped and recomputed by the client; `Host` names the target
//! unless the recorded one is kept. `--header` values replace every recorded header of the
//! same name (an empty value removes it).
//!
//! Held back, with the reason: methods other than GET, HEAD and OPTIONS unless unsafe ones
//! are allowed; requests holding a credential that was redacted in the recording
//! (`REDACTED`, `[REDACTED]`, as apiscope's export and other tools write it) in a header no
//! `--header` replaces, in the query or in the body; requests whose body was cut or not kept
//! when read; requests that cannot be sent at all (`CONNECT`, `*` targets, bytes no header
//! may hold).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::{ReplayError, Target};
use crate::export::redact::percent_decode;
use crate::export::{replay_body, replay_headers};
use crate::model::{Exchange, Headers, Nanos, State};

/// Methods sent without `--allow-unsafe`.
pub const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// Headers that belong to one connection and are never replayed.
pub const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "upgrade", "te", "trailer", "expect", "http2-settings"];

/// A `--header 'Name: value'`: replaces every recorded header `Name`; an empty value removes
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderOverride {
    /// Header name as given.
    pub name: String,
    /// Value (empty: remove the header).
    pub value: String,
}

impl std::str::FromStr for HeaderOverride {
    type Err = ReplayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ReplayError::BadHeader(s.to_string(), why.to_string());
        let (name, value) = s.split_once(':').ok_or_else(|| bad("use 'Name: value'"))?;
        let name = name.trim();
        let value = value.trim();
        reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid header name"))?;
        reqwest::header::HeaderValue::from_str(value).map_err(|_| bad("not a valid header value"))?;
        Ok(Self { name: name.to_string(), value: value.to_string() })
    }
}

/// How requests are rebuilt.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Where they go.
    pub target: Target,
    /// Send POST, PUT, PATCH, DELETE and other unsafe methods too.
    pub allow_unsafe: bool,
    /// Headers replaced or added.
    pub headers: Vec<HeaderOverride>,
    /// Keep the recorded `Host` instead of the target's.
    pub keep_host: bool,
}

/// What was recorded for a request, kept to compare the new answer with.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Recorded status (`None`: no answer was recorded).
    pub status: Option<u16>,
    /// Recorded response headers.
    pub headers: Headers,
    /// Recorded decoded response body; `None` when not whole (cut or not kept when read).
    pub body: Option<Vec<u8>>,
    /// Recorded duration (request start to response end), ns.
    pub duration: Option<i64>,
    /// Why the recorded exchange failed, if it did.
    pub failure: Option<String>,
}

/// One request ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Position of the exchange in its input.
    pub seq: u64,
    /// The input it came from.
    pub source: Arc<str>,
    /// `METHOD /inferred/{id}`: the endpoint latency is grouped by.
    pub endpoint: String,
    /// Method.
    pub method: String,
    /// Absolute URL on the target.
    pub url: reqwest::Url,
    /// Headers to send, in order (validated: the client accepts every one).
    pub headers: Vec<(String, String)>,
    /// Body to send.
    pub body: Vec<u8>,
    /// When the recorded request started (capture clock).
    pub recorded_start: Option<Nanos>,
    /// The recorded answer.
    pub recorded: Recorded,
}

/// Why a recorded request is not sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SkipReason {
    /// An unsafe method without `--allow-unsafe`.
    UnsafeMethod(String),
    /// A redacted credential in a header (the name) that no `--header` replaces.
    RedactedHeader(String),
    /// A redacted value in the query (the parameter).
    RedactedQuery(String),
    /// A redacted value in the body.
    RedactedBody,
    /// The body was cut or not kept when the recording was read.
    CutBody,
    /// Cannot be sent at all (why).
    NotReplayable(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsafeMethod(m) => write!(f, "{m} is not a safe method (--allow-unsafe sends it)"),
            Self::RedactedHeader(h) => {
                write!(f, "header {h} was redacted in the recording (supply it with --header '{h}: …')")
            }
            Self::RedactedQuery(p) => write!(f, "query parameter {p} was redacted in the recording"),
            Self::RedactedBody => f.write_str("the body holds a value redacted in the recording"),
            Self::CutBody => f.write_str("the body was cut or not kept when the recording was read"),
            Self::NotReplayable(why) => write!(f, "cannot be replayed: {why}"),
        }
    }
}

/// A request held back.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Position of the exchange in its input.
    pub seq: u64,
    /// Method and recorded target, made visible.
    pub request: String,
    /// Why.
    pub reason: SkipReason,
}

/// The requests to send and those held back.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// To send, in recording order.
    pub requests: Vec<Prepared>,
    /// Held back.
    pub skipped: Vec<Skipped>,
}

impl Plan {
    /// Rebuild `ex` and add it to the plan (or to the held-back list).
    pub fn add(&mut self, ex: &Exchange, opts: &PlanOptions) {
        match prepare(ex, opts) {
            Ok(p) => self.requests.push(p),
            Err(reason) => self.skipped.push(Skipped {
                seq: ex.seq,
                request: crate::model::text::visible(&format!("{} {}", ex.request.method, ex.request.target))
                    .into_owned(),
                reason,
            }),
        }
    }

    /// Requests held back because their method is unsafe.
    #[must_use]
    pub fn held_back_unsafe(&self) -> usize {
        self.skipped.iter().filter(|s| matches!(s.reason, SkipReason::UnsafeMethod(_))).count()
    }
}

/// True for a method sent without `--allow-unsafe`.
#[must_use]
pub fn is_safe(method: &str) -> bool {
    SAFE_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// True when `tok` is a redaction marker: `REDACTED`, or `redacted` in any case inside
/// brackets (`[REDACTED]`, `<redacted>`, `***REDACTED***`).
#[must_use]
pub fn is_marker(tok: &str) -> bool {
    let inner = tok.trim_matches(|c: char| matches!(c, '[' | ']' | '<' | '>' | '*' | '(' | ')' | '{' | '}'));
    inner == crate::export::redact::REDACTED || (inner.len() < tok.len() && inner.eq_ignore_ascii_case("redacted"))
}

/// True when text holds a redaction marker as a whole token.
#[must_use]
pub fn holds_marker(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || matches!(c, ';' | ',' | '=' | ':' | '&' | '"' | '\'')).any(is_marker)
}

/// Rebuild one recorded request for the target.
///
/// # Errors
/// Why it is held back.
pub fn prepare(ex: &Exchange, opts: &PlanOptions) -> Result<Prepared, SkipReason> {
    let req = &ex.request;
    let method = req.method.trim();
    if method.is_empty() || method.eq_ignore_ascii_case("CONNECT") {
        return Err(SkipReason::NotReplayable(format!("method `{}`", crate::model::text::visible(method))));
    }
    reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| SkipReason::NotReplayable("the method is not a valid token".into()))?;
    if !opts.allow_unsafe && !is_safe(method) {
        return Err(SkipReason::UnsafeMethod(method.to_string()));
    }
    let target = origin_form(&req.target)?;
    if let Some(q) = target.split_once('?').map(|(_, q)| q) {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if holds_marker(&percent_decode(v)) {
                return Err(SkipReason::RedactedQuery(percent_decode(k).into_owned()));
            }
        }
    }
    if req.body.truncated || (req.body.detached.is_some() && req.body.content.is_empty()) {
        return Err(SkipReason::CutBody);
    }
    let (body, _) = replay_body(req);
    if std::str::from_utf8(body).is_ok_and(holds_marker) {
        return Err(SkipReason::RedactedBody);
    }
    let headers = headers(ex, opts)?;
    let url = opts.target.url_for(target).map_err(SkipReason::NotReplayable)?;
    Ok(Prepared {
        seq: ex.seq,
        source: ex.provenance.file.clone(),
        endpoint: format!("{method} {}", crate::spec::infer::infer_template(req.path())),
        method: method.to_string(),
        url,
        headers,
        body: body.to_vec(),
        recorded_start: ex.timing.start(),
        recorded: recorded(ex),
    })
}

/// The recorded target as `/path?query`: absolute-form targets lose their scheme and host.
fn origin_form(target: &str) -> Result<&str, SkipReason> {
    if target.starts_with('/') {
        return Ok(target);
    }
    if target.is_empty() {
        return Ok("/");
    }
    for scheme in ["http://", "https://"] {
        if target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &target[scheme.len()..];
            return Ok(rest.find(['/', '?']).map_or("/", |i| &rest[i..]));
        }
    }
    Err(SkipReason::NotReplayable(format!("request target `{}`", crate::model::text::visible(target))))
}

/// The headers to send: recorded ones minus pseudo, hop-by-hop and framing headers, with
/// the overrides applied and `Host` set.
fn headers(ex: &Exchange, opts: &PlanOptions) -> Result<Vec<(String, String)>, SkipReason> {
    let overridden = |n: &str| opts.headers.iter().any(|o| o.name.eq_ignore_ascii_case(n));
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in replay_headers(&ex.request) {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) || overridden(name) {
            continue;
        }
        if holds_marker(value) {
            return Err(SkipReason::RedactedHeader(name.to_string()));
        }
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(value).is_err()
        {
            return Err(SkipReason::NotReplayable(format!("header `{}`", crate::model::text::visible(name))));
        }
        out.push((name.to_string(), value.to_string()));
    }
    for o in opts.headers.iter().filter(|o| !o.value.is_empty()) {
        out.push((o.name.clone(), o.value.clone()));
    }
    if opts.keep_host && !overridden("host") {
        let host = ex.host();
        if !host.is_empty() && reqwest::header::HeaderValue::from_str(&host).is_ok() {
            out.push(("Host".into(), host));
        }
    }
    Ok(out)
}

/// What was recorded of the answer.
fn recorded(ex: &Exchange) -> Recorded {
    let failure = match &ex.state {
        State::Complete => None,
        s => Some(s.reason().unwrap_or(s.label()).to_string()),
    };
    Recorded {
        status: ex.response.as_ref().map(|r| r.status).filter(|s| *s != 0),
        headers: ex.response.as_ref().map(|r| r.headers.clone()).unwrap_or_default(),
        body: ex.response.as_ref().and_then(|r| {
            let whole = !r.body.truncated
                && r.body.decode_error.is_none()
                && r.body.content.len() as u64 == r.body.size
                && (r.body.detached.is_none() || r.body.size == 0);
            whole.then(|| r.body.content.clone())
        }),
        duration: ex.duration().filter(|d| *d >= 0),
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PlanOptions {
        PlanOptions {
            target: "http://127.0.0.1:8080".parse().unwrap(),
            allow_unsafe: false,
            headers: Vec::new(),
            keep_host: false,
        }
    }

    #[test]
    fn safe_requests_are_rebuilt_without_connection_headers() {
        let ex = Exchange::builder("GET", "/v1/items/42?x=1")
            .host("api.example.com")
            .header("Host", "api.example.com")
            .header("Connection", "keep-alive")
            .header("Content-Length", "0")
            .header(":authority", "api.example.com")
            .header("Accept", "application/json")
            .status(200)
            .build();
        let p = prepare(&ex, &opts()).unwrap();
        assert_eq!(p.url.as_str(), "http://127.0.0.1:8080/v1/items/42?x=1");
        assert_eq!(p.headers, vec![("Accept".to_string(), "application/json".to_string())]);
        assert_eq!(p.endpoint, "GET /v1/items/{id}");
        let mut o = opts();
        o.keep_host = true;
        let p = prepare(&ex, &o).unwrap();
        assert_eq!(p.headers.last().unwrap(), &("Host".to_string(), "api.example.com".to_string()));
    }

    #[test]
    fn unsafe_methods_need_allow_unsafe() {
        let ex = Exchange::builder("DELETE", "/v1/items/1").build();
        assert_eq!(prepare(&ex, &opts()).unwrap_err(), SkipReason::UnsafeMethod("DELETE".into()));
        let mut o = opts();
        o.allow_unsafe = true;
        assert!(prepare(&ex, &o).is_ok());
    }

    #[test]
    fn redacted_credentials_hold_a_request_back_unless_replaced() {
        let ex = Exchange::builder("GET", "/me").header("Authorization", "Bearer REDACTED").build();
        assert_eq!(prepare(&ex, &opts()).unwrap_err(), SkipReason::RedactedHeader("Authorization".into()));
        let mut o = opts();
        o.headers.push("authorization: Bearer fresh".parse().unwrap());
        let p = prepare(&ex, &o).unwrap();
        assert_eq!(p.headers, vec![("authorization".to_string(), "Bearer fresh".to_string())]);
        let ex = Exchange::builder("GET", "/me").header("Cookie", "sid=[REDACTED]; theme=dark").build();
        assert_eq!(prepare(&ex, &opts()).unwrap_err(), SkipReason::RedactedHeader("Cookie".into()));
        let ex = Exchange::builder("GET", "/me?api_key=REDACTED&x=1").build();
        assert_eq!(prepare(&ex, &opts()).unwrap_err(), SkipReason::RedactedQuery("api_key".into()));
        let mut o = opts();
        o.allow_unsafe = true;
        let ex = Exchange::builder("POST", "/login").body(br#"{"user":"a","password":"REDACTED"}"#).build();
        assert_eq!(prepare(&ex, &o).unwrap_err(), SkipReason::RedactedBody);
        let ex = Exchange::builder("POST", "/login").body(br#"{"note":"this was redacted by hand"}"#).build();
        assert!(prepare(&ex, &o).is_ok(), "the word in prose is not a marker");
    }

    #[test]
    fn an_override_with_an_empty_value_removes_the_header() {
        let ex = Exchange::builder("GET", "/").header("Cookie", "a=1").header("Accept", "*/*").build();
        let mut o = opts();
        o.headers.push("Cookie:".parse().unwrap());
        assert_eq!(prepare(&ex, &o).unwrap().headers, vec![("Accept".to_string(), "*/*".to_string())]);
    }

    #[test]
    fn absolute_targets_become_paths_and_connect_is_not_replayed() {
        let ex = Exchange::builder("GET", "http://old.example/a/b?c=d").build();
        assert_eq!(prepare(&ex, &opts()).unwrap().url.as_str(), "http://127.0.0.1:8080/a/b?c=d");
        let ex = Exchange::builder("CONNECT", "old.example:443").build();
        assert!(matches!(prepare(&ex, &opts()), Err(SkipReason::NotReplayable(_))));
    }

    #[test]
    fn cut_bodies_are_held_back() {
        let mut ex = Exchange::builder("PUT", "/f").body(b"abc").build();
        ex.request.body.truncated = true;
        let mut o = opts();
        o.allow_unsafe = true;
        assert_eq!(prepare(&ex, &o).unwrap_err(), SkipReason::CutBody);
    }

    #[test]
    fn markers_are_whole_tokens() {
        for m in ["REDACTED", "Bearer REDACTED", "a=[REDACTED]", "<redacted>", "***REDACTED***"] {
            assert!(holds_marker(m), "{m}");
        }
        for m in ["UNREDACTED", "redacted", "REDACTEDX", "ok"] {
            assert!(!holds_marker(m), "{m}");
        }
    }
}
