//! Checking one exchange against the spec: routing, then every parameter, body, response
//! and security rule of the operation it routes to. [`Checker::evaluate`] returns plain
//! [`Observation`]s (kind, severity, endpoint, subject, message) and the reasons parts of
//! the exchange could not be checked; [`Checker::check`] reduces that to [`FindingKey`]s for
//! per-exchange filtering (`~gap KIND`). Aggregation lives in [`super::findings`].
//!
//! Severity follows the direction of the drift, as oasdiff grades spec changes: what breaks
//! a generated client (an undocumented 2xx status, a response body that violates its
//! schema, a request the server accepted although it broke the contract) is an error;
//! additive drift (an undocumented query parameter, a 4xx nobody documented) is a warning;
//! request-side violations the server rejected with a 4xx are info (the server enforced the
//! contract).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value};

use super::load::{Media, Param, ParamIn, SecurityScheme};
use super::schema::{Direction, SchemaStore, Violation};
use super::{RouteResult, Spec};
use crate::model::message::{Direction as MsgDirection, Message, MessageKind, MessageStream, StreamProtocol};
use crate::model::text::visible;
use crate::model::{Exchange, Severity, State};

/// Every kind of contract finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Request to a host (or scheme/port) outside `servers`.
    UndocumentedServer,
    /// Path matches no template (clustered into inferred endpoints).
    UndocumentedPath,
    /// Path is documented, the method is not.
    UndocumentedMethod,
    /// A required path/query/header/cookie parameter is absent.
    MissingRequiredParameter,
    /// A query parameter the operation does not document.
    UndocumentedQueryParameter,
    /// A request header the operation does not document (standard headers ignored).
    UndocumentedRequestHeader,
    /// A parameter value violates its schema.
    ParameterSchemaViolation,
    /// A request body where the operation documents none.
    RequestBodyUndocumented,
    /// No request body where one is required.
    RequestBodyMissing,
    /// Request content type not among the documented ones.
    RequestContentTypeUndocumented,
    /// Request body violates its schema.
    RequestBodySchemaViolation,
    /// Response status not documented (nor covered by `4XX`/`default`).
    ResponseStatusUndocumented,
    /// Response content type not among the documented ones.
    ResponseContentTypeUndocumented,
    /// Response body violates its schema.
    ResponseBodySchemaViolation,
    /// A required response header is absent.
    ResponseHeaderMissing,
    /// A response body where the spec documents none.
    ResponseBodyUndocumented,
    /// No credentials for a secured operation.
    SecurityCredentialsMissing,
    /// A deprecated operation is still called.
    DeprecatedOperationUsed,
    /// A deprecated parameter is still sent.
    DeprecatedParameterUsed,
    /// `--strict`: a response property no schema documents.
    ResponseUndocumentedProperty,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [Self; 20] = [
        Self::UndocumentedServer,
        Self::UndocumentedPath,
        Self::UndocumentedMethod,
        Self::MissingRequiredParameter,
        Self::UndocumentedQueryParameter,
        Self::UndocumentedRequestHeader,
        Self::ParameterSchemaViolation,
        Self::RequestBodyUndocumented,
        Self::RequestBodyMissing,
        Self::RequestContentTypeUndocumented,
        Self::RequestBodySchemaViolation,
        Self::ResponseStatusUndocumented,
        Self::ResponseContentTypeUndocumented,
        Self::ResponseBodySchemaViolation,
        Self::ResponseHeaderMissing,
        Self::ResponseBodyUndocumented,
        Self::SecurityCredentialsMissing,
        Self::DeprecatedOperationUsed,
        Self::DeprecatedParameterUsed,
        Self::ResponseUndocumentedProperty,
    ];

    /// Stable snake_case id (JSON, SARIF rule id, `~gap KIND`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UndocumentedServer => "undocumented_server",
            Self::UndocumentedPath => "undocumented_path",
            Self::UndocumentedMethod => "undocumented_method",
            Self::MissingRequiredParameter => "missing_required_parameter",
            Self::UndocumentedQueryParameter => "undocumented_query_parameter",
            Self::UndocumentedRequestHeader => "undocumented_request_header",
            Self::ParameterSchemaViolation => "parameter_schema_violation",
            Self::RequestBodyUndocumented => "request_body_undocumented",
            Self::RequestBodyMissing => "request_body_missing",
            Self::RequestContentTypeUndocumented => "request_content_type_undocumented",
            Self::RequestBodySchemaViolation => "request_body_schema_violation",
            Self::ResponseStatusUndocumented => "response_status_undocumented",
            Self::ResponseContentTypeUndocumented => "response_content_type_undocumented",
            Self::ResponseBodySchemaViolation => "response_body_schema_violation",
            Self::ResponseHeaderMissing => "response_header_missing",
            Self::ResponseBodyUndocumented => "response_body_undocumented",
            Self::SecurityCredentialsMissing => "security_credentials_missing",
            Self::DeprecatedOperationUsed => "deprecated_operation_used",
            Self::DeprecatedParameterUsed => "deprecated_parameter_used",
            Self::ResponseUndocumentedProperty => "response_undocumented_property",
        }
    }

    /// Short human title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::UndocumentedServer => "Undocumented server",
            Self::UndocumentedPath => "Undocumented endpoint",
            Self::UndocumentedMethod => "Undocumented method",
            Self::MissingRequiredParameter => "Missing required parameter",
            Self::UndocumentedQueryParameter => "Undocumented query parameter",
            Self::UndocumentedRequestHeader => "Undocumented request header",
            Self::ParameterSchemaViolation => "Parameter violates its schema",
            Self::RequestBodyUndocumented => "Request body not documented",
            Self::RequestBodyMissing => "Required request body missing",
            Self::RequestContentTypeUndocumented => "Request content type not documented",
            Self::RequestBodySchemaViolation => "Request body violates its schema",
            Self::ResponseStatusUndocumented => "Undocumented response status",
            Self::ResponseContentTypeUndocumented => "Response content type not documented",
            Self::ResponseBodySchemaViolation => "Response body violates its schema",
            Self::ResponseHeaderMissing => "Required response header missing",
            Self::ResponseBodyUndocumented => "Response body not documented",
            Self::SecurityCredentialsMissing => "Credentials missing",
            Self::DeprecatedOperationUsed => "Deprecated operation in use",
            Self::DeprecatedParameterUsed => "Deprecated parameter in use",
            Self::ResponseUndocumentedProperty => "Undocumented response property",
        }
    }

    /// Why a finding of this kind matters, in one sentence for the people who own the API.
    #[must_use]
    pub fn why(self) -> &'static str {
        match self {
            Self::UndocumentedServer => {
                "Traffic goes to a host the spec does not describe: a shadow or legacy deployment nobody checks."
            }
            Self::UndocumentedPath => {
                "Clients call an endpoint the spec does not have: undocumented surface, or probing for one."
            }
            Self::UndocumentedMethod => {
                "The server answers a method the spec does not allow: it may do something nobody reviewed."
            }
            Self::MissingRequiredParameter => {
                "Clients leave out what the spec requires: either the spec is wrong or these calls fail."
            }
            Self::UndocumentedQueryParameter => {
                "Clients rely on a parameter the spec does not promise: a change could break them silently."
            }
            Self::UndocumentedRequestHeader => {
                "Clients send a header the spec does not describe: behaviour may depend on something undocumented."
            }
            Self::ParameterSchemaViolation => {
                "Values break the documented rule: generated clients and validating gateways would reject them."
            }
            Self::RequestBodyUndocumented => {
                "Clients send a body the spec does not expect: it is either ignored or undocumented input."
            }
            Self::RequestBodyMissing => {
                "The spec requires a body these requests lack: the contract and the clients disagree."
            }
            Self::RequestContentTypeUndocumented => {
                "Clients send a media type the spec does not list: servers or gateways may refuse it."
            }
            Self::RequestBodySchemaViolation => {
                "Request bodies break the schema: generated clients would not produce them, validators would refuse them."
            }
            Self::ResponseStatusUndocumented => {
                "Clients get a status the spec never mentions, so generated clients and error handling do not expect it."
            }
            Self::ResponseContentTypeUndocumented => {
                "Responses come in a media type the spec does not list: clients may fail to parse them."
            }
            Self::ResponseBodySchemaViolation => {
                "Responses break their schema: clients that trust the spec may crash or mis-read data."
            }
            Self::ResponseHeaderMissing => "A header the spec promises is absent: clients relying on it break.",
            Self::ResponseBodyUndocumented => {
                "Responses carry a body the spec does not describe: clients cannot know its shape."
            }
            Self::SecurityCredentialsMissing => {
                "Calls without the credentials the spec requires got through: check the endpoint is really protected."
            }
            Self::DeprecatedOperationUsed => "Clients still call a deprecated operation: removing it would break them.",
            Self::DeprecatedParameterUsed => "Clients still send a deprecated parameter: removing it would break them.",
            Self::ResponseUndocumentedProperty => {
                "Responses carry data the schema does not declare: clients may start to depend on it, or it leaks."
            }
        }
    }

    /// Parse a kind id; also accepts a unique prefix (`undocumented_se`) and `-` for `_`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(k) = Self::ALL.iter().find(|k| k.as_str() == s) {
            return Some(*k);
        }
        let mut hits = Self::ALL.iter().filter(|k| k.as_str().starts_with(&s));
        match (hits.next(), hits.next()) {
            (Some(k), None) => Some(*k),
            _ => None,
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why (part of) an exchange could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unchecked {
    /// No response was seen: response side not checked.
    NoResponse,
    /// The client/proxy recorded a failure: response side not checked.
    Failed,
    /// The exchange was cut: response side not checked.
    Aborted,
    /// A request body could not be parsed as its content type.
    RequestBodyUnparsable,
    /// A response body could not be parsed as its content type.
    ResponseBodyUnparsable,
    /// A body is stored outside the input (HAR `_file`).
    BodyDetached,
    /// A body was cut (cap or capture truncation).
    BodyTruncated,
    /// A body's content coding could not be decoded.
    BodyUndecodable,
    /// A body has a schema but a media type apiscope does not parse (XML, binary, …).
    MediaTypeNotValidated,
    /// The schema could not be compiled (see spec problems).
    SchemaNotCompilable,
}

impl Unchecked {
    /// Stable id.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoResponse => "no_response",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::RequestBodyUnparsable => "request_body_unparsable",
            Self::ResponseBodyUnparsable => "response_body_unparsable",
            Self::BodyDetached => "body_detached",
            Self::BodyTruncated => "body_truncated",
            Self::BodyUndecodable => "body_undecodable",
            Self::MediaTypeNotValidated => "media_type_not_validated",
            Self::SchemaNotCompilable => "schema_not_compilable",
        }
    }

    /// Human description.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoResponse => "no response seen (response not checked)",
            Self::Failed => "exchange failed (response not checked)",
            Self::Aborted => "exchange cut short (response not checked)",
            Self::RequestBodyUnparsable => "request body not parsable as its content type",
            Self::ResponseBodyUnparsable => "response body not parsable as its content type",
            Self::BodyDetached => "body stored outside the input",
            Self::BodyTruncated => "body truncated",
            Self::BodyUndecodable => "body content coding not decodable",
            Self::MediaTypeNotValidated => "media type not validated (not JSON or form)",
            Self::SchemaNotCompilable => "schema could not be compiled",
        }
    }
}

/// The tag of one finding: `kind endpoint` or `kind endpoint: subject`.
#[must_use]
pub fn finding_tag(kind: FindingKind, endpoint: &str, subject: &str) -> String {
    if subject.is_empty() {
        format!("{} {endpoint}", kind.as_str())
    } else {
        format!("{} {endpoint}: {subject}", kind.as_str())
    }
}

/// Tags `~gap` matches for one exchange: each finding kind, and each finding's
/// [`finding_tag`] with and without its subject.
#[must_use]
pub fn finding_tags(checker: &Checker, ex: &Exchange) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in checker.evaluate(ex).observations {
        for t in [
            o.kind.as_str().to_string(),
            finding_tag(o.kind, &o.endpoint, ""),
            finding_tag(o.kind, &o.endpoint, &o.subject),
        ] {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// One rule broken by one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The kind.
    pub kind: FindingKind,
    /// Severity for this exchange.
    pub severity: Severity,
    /// `GET /v1/orders/{id}` (documented or inferred), or the host for servers.
    pub endpoint: String,
    /// What in the endpoint (`query parameter sort`, `status 429`, `/qty: type`), escaped.
    pub subject: String,
    /// A full message for the first example, escaped.
    pub message: String,
}

/// What a filter needs per exchange: the kind and the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FindingKey {
    /// The kind.
    pub kind: FindingKind,
    /// The endpoint (documented template or inferred one).
    pub endpoint: String,
}

/// The full result of checking one exchange.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Where it routed.
    pub route: RouteResult,
    /// Endpoint label (`GET /v1/orders/{id}`), inferred when undocumented.
    pub endpoint: String,
    /// Broken rules.
    pub observations: Vec<Observation>,
    /// Parts that could not be checked.
    pub unchecked: Vec<Unchecked>,
    /// Indices (within the operation's parameters) of parameters present in the request.
    pub params_used: Vec<usize>,
    /// Schemas this exchange needed that could not be compiled (pointer, direction), in the
    /// order they were needed.
    pub uncompiled: Vec<(String, Direction)>,
}

/// Header names (lower-case; a trailing `*` is a prefix) never reported as undocumented:
/// standard HTTP headers, proxies, gateways, CDNs and tracing.
pub const DEFAULT_IGNORED_HEADERS: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "connection",
    "keep-alive",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "cache-control",
    "pragma",
    "expect",
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "origin",
    "referer",
    "cookie",
    "authorization",
    "proxy-authorization",
    "proxy-connection",
    "via",
    "forwarded",
    "x-forwarded-*",
    "x-real-ip",
    "x-request-id",
    "x-correlation-id",
    "x-amzn-*",
    "x-amz-*",
    "x-envoy-*",
    "x-b3-*",
    "b3",
    "traceparent",
    "tracestate",
    "baggage",
    "x-cloud-trace-context",
    "x-datadog-*",
    "cf-*",
    "cdn-loop",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "sec-*",
    "dnt",
    "upgrade-insecure-requests",
    "priority",
    "x-requested-with",
    "x-http-method-override",
    "early-data",
    "save-data",
    "purpose",
    "x-postman-*",
    "postman-token",
    "x-newrelic-*",
    "newrelic",
    "x-github-*",
    "x-original-*",
    "x-scheme",
    "x-api-gateway-*",
];

/// Checker settings.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Report undocumented response properties.
    pub strict: bool,
    /// Extra header names to ignore (lower-case, `*` suffix = prefix).
    pub ignore_headers: Vec<String>,
}

/// Checks exchanges against one spec. Cheap to share (`&self`), validators are compiled on
/// first use and cached.
#[derive(Debug)]
pub struct Checker {
    spec: Arc<Spec>,
    schemas: SchemaStore,
    opts: CheckOptions,
    body_cache: Mutex<HashMap<BodyKey, CachedBody>>,
}

/// Most distinct large bodies remembered (the cache is cleared when full).
const BODY_CACHE_MAX: usize = 4096;

type CachedBody = (Vec<Observation>, Vec<Unchecked>, Vec<(String, Direction)>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BodyKey {
    ptr: String,
    response: bool,
    ct: String,
    status: Option<u16>,
    hash: (u64, u64),
    len: usize,
    flags: (bool, bool, bool),
}

/// A 128-bit content hash for the body cache, a word at a time (two independent
/// multiply-rotate lanes).
fn body_hash(b: &[u8]) -> (u64, u64) {
    let (mut h1, mut h2) = (0x243f_6a88_85a3_08d3_u64 ^ b.len() as u64, 0x1319_8a2e_0370_7344_u64);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let w = u64::from_le_bytes(a);
        h1 = (h1.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
        h2 = (h2.rotate_left(23) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    for &c in words.remainder() {
        h1 = (h1.rotate_left(5) ^ u64::from(c)).wrapping_mul(0x517c_c1b7_2722_0a95);
        h2 = (h2.rotate_left(23) ^ u64::from(c)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    (h1 ^ (h1 >> 29), h2 ^ (h2 >> 31))
}

fn header_ignored(name: &str, extra: &[String]) -> bool {
    let n = name.to_ascii_lowercase();
    if n.starts_with(':') {
        return true;
    }
    let hit = |p: &str| p.strip_suffix('*').map_or(n == p, |pre| n.starts_with(pre));
    DEFAULT_IGNORED_HEADERS.iter().any(|p| hit(p)) || extra.iter().any(|p| hit(p))
}

fn pct_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = |c: u8| (c as char).to_digit(16);
                if let (Some(a), Some(c)) = (h(b[i + 1]), h(b[i + 2])) {
                    out.push((a * 16 + c) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a query string into decoded (name, value) pairs.
#[must_use]
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (pct_decode(k, true), pct_decode(v, true))
        })
        .collect()
}

fn media_match<'a>(list: &'a [Media], ct: &str) -> Option<&'a Media> {
    list.iter()
        .find(|m| m.range == ct)
        .or_else(|| {
            let major = ct.split('/').next().unwrap_or("");
            list.iter().find(|m| m.range.strip_suffix("/*").is_some_and(|p| p == major))
        })
        .or_else(|| list.iter().find(|m| m.range == "*/*" || m.range == "*"))
}

fn is_json(ct: &str) -> bool {
    ct == "application/json" || ct.ends_with("+json") || ct == "text/json"
}

fn is_ndjson(ct: &str) -> bool {
    matches!(
        ct,
        "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/json-seq"
    )
}

/// Messages checked per stream against an item schema; later messages are not checked.
pub const MAX_ITEMS_CHECKED: usize = 1000;

/// The JSON instance one stream message stands for: an NDJSON line parsed; an SSE event's
/// data parsed (or as a string when it is not JSON), or, when the item schema describes the
/// event itself, the event as an object (`data` as text, `event`, `id`, `retry`). `None`
/// when a line is not JSON.
fn item_instance(m: &Message, event_shaped: bool) -> Option<Value> {
    let parsed = serde_json::from_slice::<Value>(&m.payload).ok();
    match &m.kind {
        MessageKind::Event { event, id, retry } if event_shaped => {
            let mut o = Map::new();
            o.insert("data".into(), Value::String(m.text().into_owned()));
            if let Some(e) = event {
                o.insert("event".into(), Value::String(e.clone()));
            }
            if let Some(i) = id {
                o.insert("id".into(), Value::String(i.clone()));
            }
            if let Some(r) = retry {
                o.insert("retry".into(), Value::from(*r));
            }
            Some(Value::Object(o))
        }
        MessageKind::Event { .. } | MessageKind::Text => {
            Some(parsed.unwrap_or_else(|| Value::String(m.text().into_owned())))
        }
        _ => parsed,
    }
}

/// A JSON pointer as a JSONPath for messages: `/price` → `$.price`, `/legs/0/qty` →
/// `$.legs[0].qty`, `` → `$`.
fn json_path(ptr: &str) -> String {
    let mut out = String::from("$");
    for part in ptr.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            out.push('.');
            out.push_str(&part);
        }
    }
    out
}

fn schema_type(s: &Value) -> Option<&str> {
    match s.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn coerce_scalar(ty: Option<&str>, raw: &str) -> Value {
    match ty {
        Some("integer") => raw.parse::<i64>().map_or_else(
            |_| {
                raw.parse::<f64>()
                    .ok()
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                    .unwrap_or_else(|| Value::String(raw.into()))
            },
            Value::from,
        ),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(raw.into()), Value::Number),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.into()),
        },
        Some("null") if raw.is_empty() => Value::Null,
        _ => Value::String(raw.into()),
    }
}

/// Normalise an instance path for grouping: array indices become `*`.
fn norm_path(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    p.split('/')
        .map(|s| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { "*" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn sev_request(base: Severity, status: Option<u16>) -> Severity {
    match status {
        Some(s) if (400..500).contains(&s) => Severity::Info,
        _ => base,
    }
}

impl Checker {
    /// A checker over `spec`.
    #[must_use]
    pub fn new(spec: Arc<Spec>, opts: CheckOptions) -> Self {
        let schemas = SchemaStore::new(spec.version, Arc::clone(&spec.doc));
        Self { spec, schemas, opts, body_cache: Mutex::new(HashMap::new()) }
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Schemas that could not be compiled (pointer, reason).
    #[must_use]
    pub fn schema_failures(&self) -> Vec<(String, String)> {
        self.schemas.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Why the schema at `ptr` could not be compiled for `dir` (see
    /// [`Evaluation::uncompiled`]).
    #[must_use]
    pub fn schema_failure(&self, ptr: &str, dir: Direction) -> Option<String> {
        self.schemas.failure_reason(ptr, dir)
    }

    /// The kinds and endpoints of the findings one exchange produces (for filters).
    #[must_use]
    pub fn check(&self, ex: &Exchange) -> Vec<FindingKey> {
        let mut keys: Vec<FindingKey> = Vec::new();
        for o in self.evaluate(ex).observations {
            let k = FindingKey { kind: o.kind, endpoint: o.endpoint };
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    /// Check one exchange fully.
    #[must_use]
    pub fn evaluate(&self, ex: &Exchange) -> Evaluation {
        let route = self.spec.route(ex);
        let method = ex.request.method.to_ascii_uppercase();
        let status = ex.status();
        let mut ev = Evaluation {
            route: route.clone(),
            endpoint: String::new(),
            observations: Vec::new(),
            unchecked: Vec::new(),
            params_used: Vec::new(),
            uncompiled: Vec::new(),
        };
        match &ex.state {
            State::Complete if ex.response.is_none() => ev.unchecked.push(Unchecked::NoResponse),
            State::Complete => {}
            State::NoResponse(_) => ev.unchecked.push(Unchecked::NoResponse),
            State::Failed(_) => ev.unchecked.push(Unchecked::Failed),
            State::Aborted(_) => ev.unchecked.push(Unchecked::Aborted),
        }
        let accepted_sev =
            |s: Option<u16>| if s.is_some_and(|s| s >= 400) { Severity::Info } else { Severity::Warning };
        match route {
            RouteResult::UndocumentedServer { host } => {
                let host = visible(&host).into_owned();
                ev.endpoint = if host.is_empty() { "(no host)".into() } else { host.clone() };
                ev.observations.push(Observation {
                    kind: FindingKind::UndocumentedServer,
                    severity: Severity::Warning,
                    endpoint: ev.endpoint.clone(),
                    subject: String::new(),
                    message: format!(
                        "host {} is not among the spec's servers ({})",
                        ev.endpoint,
                        self.spec.server_urls().join(", ")
                    ),
                });
            }
            RouteResult::UndocumentedPath { trailing_slash_of } => {
                let path = ex.request.path();
                ev.endpoint = format!("{} {}", visible(&method), visible(&super::infer::infer_template(path)));
                let mut message = format!("no path of the spec matches {}", visible(path));
                if let Some(t) = trailing_slash_of {
                    message.push_str(&format!(
                        " (it differs from the documented {} only by a trailing slash)",
                        visible(&t)
                    ));
                }
                ev.observations.push(Observation {
                    kind: FindingKind::UndocumentedPath,
                    severity: accepted_sev(status),
                    endpoint: ev.endpoint.clone(),
                    subject: String::new(),
                    message,
                });
            }
            RouteResult::UndocumentedMethod { template, allowed } => {
                ev.endpoint = format!("{} {}", visible(&method), visible(&template));
                ev.observations.push(Observation {
                    kind: FindingKind::UndocumentedMethod,
                    severity: accepted_sev(status),
                    endpoint: ev.endpoint.clone(),
                    subject: String::new(),
                    message: format!("{} documents only {}", visible(&template), allowed.join(", ")),
                });
            }
            RouteResult::Operation { id, params, .. } => {
                if let Some(op) = self.spec.operations.get(id) {
                    ev.endpoint = op.name();
                    self.check_operation(ex, op, &params, &mut ev);
                }
            }
        }
        ev.unchecked.sort();
        ev.unchecked.dedup();
        ev
    }

    fn push(ev: &mut Evaluation, kind: FindingKind, severity: Severity, subject: String, message: String) {
        ev.observations.push(Observation { kind, severity, endpoint: ev.endpoint.clone(), subject, message });
    }

    /// Every rule family on an exchange routed to `op`, in report order.
    fn check_operation(
        &self,
        ex: &Exchange,
        op: &super::Operation,
        path_params: &[(String, String)],
        ev: &mut Evaluation,
    ) {
        Self::check_deprecated_operation(op, ev);
        self.check_security(ex, op, ev);
        let query = ex.request.query().map(parse_query).unwrap_or_default();
        let query_known = self.check_parameters(ex, op, path_params, &query, ev);
        Self::check_undocumented_query(op, &query, &query_known, ex.status(), ev);
        self.check_undocumented_headers(ex, op, ev);
        self.check_request_body(ex, op, ev);
        self.check_response(ex, op, ev);
    }

    /// A deprecated operation still called.
    fn check_deprecated_operation(op: &super::Operation, ev: &mut Evaluation) {
        if op.deprecated {
            Self::push(
                ev,
                FindingKind::DeprecatedOperationUsed,
                Severity::Warning,
                String::new(),
                format!("{} is deprecated in the spec and still called", op.name()),
            );
        }
    }

    /// Security: no alternative of the operation's requirements is satisfied.
    fn check_security(&self, ex: &Exchange, op: &super::Operation, ev: &mut Evaluation) {
        if op.security.is_empty() {
            return;
        }
        let satisfied =
            op.security.iter().any(|alt| alt.schemes.iter().all(|(_, s)| self.scheme_present(ex, s.as_ref())));
        if satisfied {
            return;
        }
        let status = ex.status();
        let names: Vec<String> = op
            .security
            .iter()
            .map(|a| a.schemes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" + "))
            .collect();
        let severity = match status {
            Some(401 | 403) => Severity::Info,
            Some(s) if s < 400 => Severity::Error,
            _ => Severity::Warning,
        };
        let how = match status {
            Some(s) if s < 400 => format!("; the server answered {s} anyway"),
            Some(s) => format!("; the server answered {s}"),
            None => String::new(),
        };
        Self::push(
            ev,
            FindingKind::SecurityCredentialsMissing,
            severity,
            names.join(" | "),
            format!("no credentials for any of: {}{how}", names.join(" | ")),
        );
    }

    /// Parameters: required ones absent, deprecated ones sent, values against their schema.
    /// Returns which query parameters the operation documents.
    fn check_parameters(
        &self,
        ex: &Exchange,
        op: &super::Operation,
        path_params: &[(String, String)],
        query: &[(String, String)],
        ev: &mut Evaluation,
    ) -> Vec<bool> {
        let status = ex.status();
        let mut query_known = vec![false; query.len()];
        for (pi, p) in op.parameters.iter().enumerate() {
            let values = self.parameter_values(ex, p, path_params, query, &mut query_known);
            if values.is_empty() {
                if p.required {
                    Self::push(
                        ev,
                        FindingKind::MissingRequiredParameter,
                        sev_request(Severity::Error, status),
                        format!("{} parameter {}", p.location.as_str(), visible(&p.name)),
                        format!("required {} parameter `{}` is absent", p.location.as_str(), visible(&p.name)),
                    );
                }
                continue;
            }
            ev.params_used.push(pi);
            if p.deprecated {
                Self::push(
                    ev,
                    FindingKind::DeprecatedParameterUsed,
                    Severity::Warning,
                    format!("{} parameter {}", p.location.as_str(), visible(&p.name)),
                    format!("deprecated {} parameter `{}` is still sent", p.location.as_str(), visible(&p.name)),
                );
            }
            self.check_parameter_schema(p, &values, status, ev);
        }
        query_known
    }

    /// The values the exchange gives parameter `p`, marking the query parameters it covers
    /// as known.
    fn parameter_values(
        &self,
        ex: &Exchange,
        p: &Param,
        path_params: &[(String, String)],
        query: &[(String, String)],
        query_known: &mut [bool],
    ) -> Vec<String> {
        match p.location {
            ParamIn::Path => path_params.iter().filter(|(n, _)| *n == p.name).map(|(_, v)| v.clone()).collect(),
            ParamIn::Query => {
                let mut vs = Vec::new();
                for (qi, (n, v)) in query.iter().enumerate() {
                    let base = n.split('[').next().unwrap_or(n);
                    if n == &p.name || (base == p.name && n.len() > base.len()) {
                        query_known[qi] = true;
                        vs.push(if n == &p.name { v.clone() } else { format!("{n}={v}") });
                    }
                }
                // form/explode objects: their properties travel as separate parameters
                if p.style == "form"
                    && p.explode
                    && let Some(props) = p
                        .schema
                        .as_deref()
                        .and_then(|s| self.schemas.schema_at(s))
                        .filter(|s| schema_type(s) == Some("object"))
                        .and_then(|s| s.get("properties"))
                        .and_then(Value::as_object)
                {
                    for (qi, (n, _)) in query.iter().enumerate() {
                        if props.contains_key(n) {
                            query_known[qi] = true;
                        }
                    }
                }
                vs
            }
            ParamIn::Header => ex.request.headers.get_all(&p.name).map(str::to_string).collect(),
            ParamIn::Cookie => crate::model::client::cookie(ex, &p.name).map(str::to_string).into_iter().collect(),
        }
    }

    /// A parameter's value against its schema.
    fn check_parameter_schema(&self, p: &Param, values: &[String], status: Option<u16>, ev: &mut Evaluation) {
        let Some(sp) = &p.schema else { return };
        let Some(value) = self.param_value(p, sp, values) else { return };
        match self.schemas.validate(sp, Direction::Request, &value) {
            Some(vs) if !vs.is_empty() => {
                let v0 = &vs[0];
                Self::push(
                    ev,
                    FindingKind::ParameterSchemaViolation,
                    sev_request(Severity::Error, status),
                    format!("{} parameter {}: {}", p.location.as_str(), visible(&p.name), v0.keyword),
                    format!("{} parameter `{}`: {}", p.location.as_str(), visible(&p.name), visible(&v0.message)),
                );
            }
            Some(_) => {}
            None => {
                ev.unchecked.push(Unchecked::SchemaNotCompilable);
                ev.uncompiled.push((sp.clone(), Direction::Request));
            }
        }
    }

    /// Query parameters the operation does not document (API keys in the query excepted),
    /// each name once.
    fn check_undocumented_query(
        op: &super::Operation,
        query: &[(String, String)],
        query_known: &[bool],
        status: Option<u16>,
        ev: &mut Evaluation,
    ) {
        let api_key_query: Vec<&str> = op
            .security
            .iter()
            .flat_map(|a| a.schemes.iter())
            .filter_map(|(_, s)| match s {
                Some(SecurityScheme::ApiKey { name, location: ParamIn::Query }) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let mut reported: Vec<&str> = Vec::new();
        for (qi, (n, _)) in query.iter().enumerate() {
            if query_known[qi] || api_key_query.contains(&n.as_str()) || reported.contains(&n.as_str()) {
                continue;
            }
            reported.push(n);
            Self::push(
                ev,
                FindingKind::UndocumentedQueryParameter,
                sev_request(Severity::Warning, status),
                format!("query parameter {}", visible(n)),
                format!("query parameter `{}` is not documented for {}", visible(n), op.name()),
            );
        }
    }

    /// Request headers neither a header parameter nor an API key (ignored headers
    /// excepted), each name once.
    fn check_undocumented_headers(&self, ex: &Exchange, op: &super::Operation, ev: &mut Evaluation) {
        let mut seen_headers: Vec<String> = Vec::new();
        for h in ex.request.headers.iter() {
            let lname = h.name.to_ascii_lowercase();
            if seen_headers.contains(&lname) || header_ignored(&lname, &self.opts.ignore_headers) {
                continue;
            }
            seen_headers.push(lname.clone());
            let documented = op.parameters.iter().any(|p| p.location == ParamIn::Header && p.name.eq_ignore_ascii_case(&lname))
                || op.security.iter().flat_map(|a| a.schemes.iter()).any(|(_, s)| {
                    matches!(s, Some(SecurityScheme::ApiKey { name, location: ParamIn::Header }) if name.eq_ignore_ascii_case(&lname))
                });
            if !documented {
                Self::push(
                    ev,
                    FindingKind::UndocumentedRequestHeader,
                    Severity::Info,
                    format!("header {}", visible(&lname)),
                    format!("request header `{}` is not documented for {}", visible(&h.name), op.name()),
                );
            }
        }
    }

    /// Request body: sent where none is documented, missing where required, its content
    /// type, and its content against the schema.
    fn check_request_body(&self, ex: &Exchange, op: &super::Operation, ev: &mut Evaluation) {
        let (req, status) = (&ex.request, ex.status());
        let has_body = !req.body.is_empty();
        let Some(rb) = &op.request_body else {
            let no_body_method = matches!(op.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS" | "TRACE");
            if has_body && (no_body_method || self.spec.documents_request_bodies) {
                Self::push(
                    ev,
                    FindingKind::RequestBodyUndocumented,
                    sev_request(Severity::Warning, status),
                    String::new(),
                    format!(
                        "a {}-byte request body was sent; {} documents none",
                        req.body.size.max(req.body.content.len() as u64),
                        op.name()
                    ),
                );
            }
            return;
        };
        if !has_body {
            if rb.required {
                Self::push(
                    ev,
                    FindingKind::RequestBodyMissing,
                    sev_request(Severity::Error, status),
                    String::new(),
                    format!("{} requires a request body; none was sent", op.name()),
                );
            }
            return;
        }
        if rb.content.is_empty() {
            return;
        }
        let ct = req.headers.content_type().unwrap_or_default();
        match media_match(&rb.content, &ct) {
            None => {
                let shown = if ct.is_empty() { "(none)".to_string() } else { visible(&ct).into_owned() };
                Self::push(
                    ev,
                    FindingKind::RequestContentTypeUndocumented,
                    sev_request(Severity::Error, status),
                    format!("content type {shown}"),
                    format!(
                        "request content type {shown} is not documented (documented: {})",
                        rb.content.iter().map(|m| m.range.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            Some(m) => {
                if let Some(sp) = &m.schema {
                    self.check_body(&req.body, &ct, sp, Direction::Request, status, ev);
                }
            }
        }
    }

    /// Response: its status documented (exact, range, default), required headers, then its
    /// body.
    fn check_response(&self, ex: &Exchange, op: &super::Operation, ev: &mut Evaluation) {
        let Some(resp) = &ex.response else { return };
        let code = resp.status.to_string();
        let range = format!("{}XX", resp.status / 100);
        let rs = op
            .responses
            .iter()
            .find(|r| r.code == code)
            .or_else(|| op.responses.iter().find(|r| r.code == range))
            .or_else(|| op.responses.iter().find(|r| r.code == "DEFAULT"));
        let Some(rs) = rs else {
            let success = (200..300).contains(&resp.status);
            Self::push(
                ev,
                FindingKind::ResponseStatusUndocumented,
                if success { Severity::Error } else { Severity::Warning },
                format!("status {}", resp.status),
                format!(
                    "status {} is not documented for {} (documented: {})",
                    resp.status,
                    op.name(),
                    op.responses.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", ")
                ),
            );
            return;
        };
        for h in &rs.headers {
            if h.required && resp.headers.get(&h.name).is_none() {
                Self::push(
                    ev,
                    FindingKind::ResponseHeaderMissing,
                    Severity::Error,
                    format!("header {} (status {})", h.name.to_ascii_lowercase(), rs.code),
                    format!("required response header `{}` is absent from a {} response", h.name, resp.status),
                );
            }
        }
        let bodyless = op.method == "HEAD" || matches!(resp.status, 204 | 304) || resp.status < 200;
        if bodyless || resp.body.is_empty() {
            return;
        }
        self.check_response_body(ex.status(), resp, ex.stream.as_deref(), rs, ev);
    }

    /// A response body: sent where none is documented, its content type, and its content
    /// against the schema.
    fn check_response_body(
        &self,
        status: Option<u16>,
        resp: &crate::model::Response,
        stream: Option<&MessageStream>,
        rs: &super::load::ResponseSpec,
        ev: &mut Evaluation,
    ) {
        match &rs.content {
            None if self.spec.documents_response_bodies => Self::push(
                ev,
                FindingKind::ResponseBodyUndocumented,
                Severity::Warning,
                format!("status {}", resp.status),
                format!("a {} response carried a body; the spec documents none for {}", resp.status, rs.code),
            ),
            None => {}
            Some(list) if list.is_empty() => Self::push(
                ev,
                FindingKind::ResponseBodyUndocumented,
                Severity::Warning,
                format!("status {}", resp.status),
                format!("a {} response carried a body; the spec documents none for {}", resp.status, rs.code),
            ),
            Some(list) => {
                let ct = resp.headers.content_type().unwrap_or_default();
                match media_match(list, &ct) {
                    None => {
                        let shown = if ct.is_empty() { "(none)".to_string() } else { visible(&ct).into_owned() };
                        Self::push(
                            ev,
                            FindingKind::ResponseContentTypeUndocumented,
                            Severity::Error,
                            format!("content type {shown} (status {})", resp.status),
                            format!(
                                "response content type {shown} is not documented for {} (documented: {})",
                                rs.code,
                                list.iter().map(|m| m.range.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                    Some(m) => match (&m.item_schema, stream) {
                        (Some(ip), Some(st)) => self.check_items(st, ip, status, ev),
                        // Items documented, but the body was not split into messages.
                        (Some(_), None) => ev.unchecked.push(Unchecked::MediaTypeNotValidated),
                        (None, _) => {
                            if let Some(sp) = &m.schema {
                                self.check_body(&resp.body, &ct, sp, Direction::Response, status, ev);
                            }
                        }
                    },
                }
            }
        }
    }

    fn scheme_present(&self, ex: &Exchange, s: Option<&SecurityScheme>) -> bool {
        let h = &ex.request.headers;
        let auth = h.get("authorization").map(str::trim);
        let auth_scheme = |want: &str| {
            auth.and_then(|a| a.split_once(' '))
                .is_some_and(|(s, t)| s.eq_ignore_ascii_case(want) && !t.trim().is_empty())
        };
        match s {
            None | Some(SecurityScheme::MutualTls | SecurityScheme::Unknown(_)) => true,
            Some(SecurityScheme::ApiKey { name, location }) => match location {
                ParamIn::Header => h.get(name).is_some_and(|v| !v.trim().is_empty()),
                ParamIn::Query => {
                    ex.request.query().is_some_and(|q| parse_query(q).iter().any(|(n, v)| n == name && !v.is_empty()))
                }
                ParamIn::Cookie => crate::model::client::cookie(ex, name).is_some(),
                ParamIn::Path => true,
            },
            Some(SecurityScheme::Http(scheme)) => auth_scheme(scheme),
            Some(SecurityScheme::OAuth) => auth_scheme("bearer") || auth.is_some_and(|a| !a.is_empty()),
        }
    }

    fn param_value(&self, p: &Param, schema_ptr: &str, values: &[String]) -> Option<Value> {
        if p.json_content {
            return serde_json::from_str(values.first()?).ok().or_else(|| Some(Value::String(values.first()?.clone())));
        }
        let s = self.schemas.schema_at(schema_ptr)?;
        let ty = schema_type(s);
        Some(match ty {
            Some("array") => {
                let item_ty = s.get("items").and_then(|i| {
                    let d = self.schemas.doc();
                    super::load::resolve(d, i, "").ok().and_then(|(i, _)| schema_type(i).map(str::to_string))
                });
                let parts: Vec<String> = if values.len() > 1 || p.explode && p.style == "form" {
                    values.to_vec()
                } else {
                    let sep = match p.style.as_str() {
                        "spaceDelimited" => ' ',
                        "pipeDelimited" => '|',
                        _ => ',',
                    };
                    values
                        .first()
                        .map(|v| if v.is_empty() { Vec::new() } else { v.split(sep).map(str::to_string).collect() })
                        .unwrap_or_default()
                };
                Value::Array(parts.iter().map(|v| coerce_scalar(item_ty.as_deref(), v)).collect())
            }
            Some("object") => {
                if p.style != "deepObject" {
                    return None;
                }
                let props = s.get("properties").and_then(Value::as_object);
                let mut m = Map::new();
                for v in values {
                    let (k, val) = v.split_once('=').unwrap_or((v, ""));
                    let key = k.split_once('[').map_or(k, |(_, r)| r.trim_end_matches(']'));
                    let pty = props.and_then(|pr| pr.get(key)).and_then(|ps| {
                        super::load::resolve(self.schemas.doc(), ps, "")
                            .ok()
                            .and_then(|(ps, _)| schema_type(ps).map(str::to_string))
                    });
                    m.insert(key.to_string(), coerce_scalar(pty.as_deref(), val));
                }
                Value::Object(m)
            }
            _ => coerce_scalar(ty, values.first()?),
        })
    }

    /// The messages of a stream (SSE events, NDJSON lines) against the item schema at
    /// `ptr`: the server's data messages, the first [`MAX_ITEMS_CHECKED`] of them. A
    /// violation is reported like a body's, its message naming the message index (the
    /// `#` of the Messages tab and `apiscope messages`).
    fn check_items(&self, st: &MessageStream, ptr: &str, status: Option<u16>, ev: &mut Evaluation) {
        let shape = self.schemas.schema_at(ptr);
        let props = shape.and_then(|s| s.get("properties")).and_then(Value::as_object);
        // OpenAPI 3.2 describes an SSE item as the event (`data`, `event`, `id`, `retry`).
        let event_shaped = st.protocol == StreamProtocol::Sse
            && props.is_some_and(|p| p.contains_key("data") || p.contains_key("event"));
        let data_schema = props
            .and_then(|p| p.get("data"))
            .filter(|d| event_shaped && d.get("contentSchema").is_some())
            .map(|_| format!("{ptr}/properties/data/contentSchema"));
        let (mut seen, mut noted) = (Vec::new(), Vec::new());
        let items = st
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.direction == MsgDirection::ToClient && !m.kind.is_control())
            .take(MAX_ITEMS_CHECKED);
        for (i, m) in items {
            let unchecked = if m.truncated { Some(Unchecked::BodyTruncated) } else { None };
            let Some(inst) = unchecked.is_none().then(|| item_instance(m, event_shaped)).flatten() else {
                let u = unchecked.unwrap_or(Unchecked::ResponseBodyUnparsable);
                if !noted.contains(&u) {
                    noted.push(u);
                    ev.unchecked.push(u);
                }
                continue;
            };
            let mut checks = vec![(ptr.to_string(), String::new(), inst)];
            if let Some(dp) = &data_schema {
                if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
                    checks.push((dp.clone(), "/data".to_string(), v));
                }
            }
            for (p, prefix, inst) in checks {
                let Some(vs) = self.schemas.validate(&p, Direction::Response, &inst) else {
                    ev.unchecked.push(Unchecked::SchemaNotCompilable);
                    ev.uncompiled.push((p, Direction::Response));
                    return;
                };
                for Violation { instance_path, keyword, message } in vs {
                    let at = format!("{prefix}{instance_path}");
                    let subject = format!("message items {}: {keyword}", visible(&norm_path(&at)));
                    if seen.contains(&subject) {
                        continue;
                    }
                    seen.push(subject.clone());
                    let status_note = status.map(|s| format!(" (status {s})")).unwrap_or_default();
                    Self::push(
                        ev,
                        FindingKind::ResponseBodySchemaViolation,
                        Severity::Error,
                        format!("{subject}{status_note}"),
                        format!("message #{i}: {}: {}", visible(&json_path(&at)), visible(&message)),
                    );
                }
            }
        }
    }

    /// True when the body is certainly checkable and valid, decided from its bytes alone
    /// ([`super::fast`]); `--strict` response bodies always take the full path.
    fn body_accepted(&self, body: &crate::model::Body, ct: &str, schema_ptr: &str, dir: Direction) -> bool {
        if body.truncated
            || body.decode_error.is_some()
            || body.content.is_empty()
            || (self.opts.strict && dir == Direction::Response)
        {
            return false;
        }
        if is_json(ct) {
            return self.schemas.accepts(schema_ptr, dir, &body.content);
        }
        if is_ndjson(ct) {
            // the same lines the full path reads
            return body.content.split(|b| *b == b'\n').take(1000).all(|line| {
                let line = line.strip_prefix(b"\x1e").unwrap_or(line);
                line.iter().all(u8::is_ascii_whitespace) || self.schemas.accepts(schema_ptr, dir, line)
            });
        }
        false
    }

    /// Bodies of 1 KiB and more are checked once per distinct content (per schema, media
    /// type and status): paged lists and cached documents repeat byte for byte. Bodies the
    /// fast path finds valid need neither.
    fn check_body(
        &self,
        body: &crate::model::Body,
        ct: &str,
        schema_ptr: &str,
        dir: Direction,
        status: Option<u16>,
        ev: &mut Evaluation,
    ) {
        if self.body_accepted(body, ct, schema_ptr, dir) {
            return;
        }
        if body.content.len() < 1024 {
            self.check_body_uncached(body, ct, schema_ptr, dir, status, ev);
            return;
        }
        let h = body_hash(&body.content);
        let key = BodyKey {
            ptr: schema_ptr.to_string(),
            response: dir == Direction::Response,
            ct: ct.to_string(),
            status,
            hash: h,
            len: body.content.len(),
            flags: (body.truncated, body.detached.is_some(), body.decode_error.is_some()),
        };
        if let Ok(c) = self.body_cache.lock()
            && let Some((obs, un, uc)) = c.get(&key)
        {
            for o in obs {
                ev.observations.push(Observation { endpoint: ev.endpoint.clone(), ..o.clone() });
            }
            ev.unchecked.extend(un.iter().copied());
            ev.uncompiled.extend(uc.iter().cloned());
            return;
        }
        let (o0, u0, c0) = (ev.observations.len(), ev.unchecked.len(), ev.uncompiled.len());
        self.check_body_uncached(body, ct, schema_ptr, dir, status, ev);
        let obs = ev.observations.get(o0..).map(<[Observation]>::to_vec).unwrap_or_default();
        let un = ev.unchecked.get(u0..).map(<[Unchecked]>::to_vec).unwrap_or_default();
        let uc = ev.uncompiled.get(c0..).map(<[(String, Direction)]>::to_vec).unwrap_or_default();
        if let Ok(mut c) = self.body_cache.lock() {
            if c.len() >= BODY_CACHE_MAX {
                c.clear();
            }
            c.insert(key, (obs, un, uc));
        }
    }

    fn check_body_uncached(
        &self,
        body: &crate::model::Body,
        ct: &str,
        schema_ptr: &str,
        dir: Direction,
        status: Option<u16>,
        ev: &mut Evaluation,
    ) {
        if body.detached.is_some() && body.content.is_empty() {
            ev.unchecked.push(Unchecked::BodyDetached);
            return;
        }
        if body.decode_error.is_some() {
            ev.unchecked.push(Unchecked::BodyUndecodable);
            return;
        }
        if body.truncated {
            ev.unchecked.push(Unchecked::BodyTruncated);
            return;
        }
        let unparsable = match dir {
            Direction::Request => Unchecked::RequestBodyUnparsable,
            Direction::Response => Unchecked::ResponseBodyUnparsable,
        };
        let instances: Vec<(String, Value)> = if is_json(ct) {
            match serde_json::from_slice::<Value>(&body.content) {
                Ok(v) => vec![(String::new(), v)],
                Err(_) => {
                    ev.unchecked.push(unparsable);
                    return;
                }
            }
        } else if is_ndjson(ct) {
            let mut out = Vec::new();
            for (i, line) in body.content.split(|b| *b == b'\n').enumerate().take(1000) {
                let line = line.strip_prefix(b"\x1e").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => out.push((format!("/{i}"), v)),
                    Err(_) => {
                        ev.unchecked.push(unparsable);
                        return;
                    }
                }
            }
            out
        } else if ct == "application/x-www-form-urlencoded" {
            let text = String::from_utf8_lossy(&body.content);
            let s = self.schemas.schema_at(schema_ptr);
            let props = s.and_then(|s| s.get("properties")).and_then(Value::as_object);
            let mut m = Map::new();
            for (k, v) in parse_query(&text) {
                let ty = props.and_then(|p| p.get(&k)).and_then(|ps| {
                    super::load::resolve(self.schemas.doc(), ps, "")
                        .ok()
                        .and_then(|(ps, _)| schema_type(ps).map(str::to_string))
                });
                m.insert(k, coerce_scalar(ty.as_deref(), &v));
            }
            vec![(String::new(), Value::Object(m))]
        } else if ct.starts_with("text/") {
            vec![(String::new(), Value::String(String::from_utf8_lossy(&body.content).into_owned()))]
        } else {
            ev.unchecked.push(Unchecked::MediaTypeNotValidated);
            return;
        };
        let kind = match dir {
            Direction::Request => FindingKind::RequestBodySchemaViolation,
            Direction::Response => FindingKind::ResponseBodySchemaViolation,
        };
        let severity = match dir {
            Direction::Request => sev_request(Severity::Error, status),
            Direction::Response => Severity::Error,
        };
        let mut seen: Vec<String> = Vec::new();
        for (prefix, inst) in &instances {
            let Some(vs) = self.schemas.validate(schema_ptr, dir, inst) else {
                ev.unchecked.push(Unchecked::SchemaNotCompilable);
                ev.uncompiled.push((schema_ptr.to_string(), dir));
                return;
            };
            for Violation { instance_path, keyword, message } in vs {
                let at = norm_path(&format!("{prefix}{instance_path}"));
                let subject = format!("{}: {keyword}", visible(&at));
                if seen.contains(&subject) {
                    continue;
                }
                seen.push(subject.clone());
                let status_note = if dir == Direction::Response {
                    status.map(|s| format!(" (status {s})")).unwrap_or_default()
                } else {
                    String::new()
                };
                Self::push(
                    ev,
                    kind,
                    severity,
                    format!("{subject}{status_note}"),
                    format!("at {}: {}", visible(&at), visible(&message)),
                );
            }
            if self.opts.strict && dir == Direction::Response {
                for p in super::schema::undocumented_properties(self.schemas.doc(), schema_ptr, inst) {
                    let at = norm_path(&format!("{prefix}{p}"));
                    let subject = visible(&at).into_owned();
                    if seen.contains(&subject) {
                        continue;
                    }
                    seen.push(subject.clone());
                    Self::push(
                        ev,
                        FindingKind::ResponseUndocumentedProperty,
                        Severity::Info,
                        subject.clone(),
                        format!("response property {subject} is not in the schema"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_id_and_unique_prefix() {
        for k in FindingKind::ALL {
            assert_eq!(FindingKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FindingKind::parse("undocumented-server"), Some(FindingKind::UndocumentedServer));
        assert_eq!(FindingKind::parse("undocumented"), None, "ambiguous prefix");
        assert_eq!(FindingKind::parse("security"), Some(FindingKind::SecurityCredentialsMissing));
    }

    #[test]
    fn gateway_headers_are_ignored_by_default() {
        assert!(header_ignored("X-Forwarded-For", &[]));
        assert!(header_ignored("traceparent", &[]));
        assert!(!header_ignored("x-tenant", &[]));
        assert!(header_ignored("x-tenant", &["x-ten*".into()]));
    }

    #[test]
    fn query_values_decode_and_coerce() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x y z".into()), ("c".into(), String::new())]
        );
        assert_eq!(coerce_scalar(Some("integer"), "42"), Value::from(42));
        assert_eq!(coerce_scalar(Some("integer"), "4x"), Value::from("4x"));
        assert_eq!(coerce_scalar(Some("boolean"), "true"), Value::Bool(true));
        assert_eq!(norm_path("/orders/12/qty"), "/orders/*/qty");
    }

    #[test]
    fn message_paths_read_as_jsonpath() {
        assert_eq!(json_path(""), "$");
        assert_eq!(json_path("/price"), "$.price");
        assert_eq!(json_path("/legs/0/qty"), "$.legs[0].qty");
        assert_eq!(json_path("/a~1b"), "$.a/b");
    }

    #[test]
    fn an_sse_item_is_its_data_or_the_whole_event_when_the_schema_describes_events() {
        use crate::model::message::Direction as D;
        let kind = MessageKind::Event { event: Some("price".into()), id: Some("7".into()), retry: None };
        let m = Message::new(D::ToClient, 0, kind, br#"{"p":1}"#.to_vec());
        assert_eq!(item_instance(&m, false), Some(serde_json::json!({"p": 1})));
        assert_eq!(
            item_instance(&m, true),
            Some(serde_json::json!({"data": "{\"p\":1}", "event": "price", "id": "7"}))
        );
        let line = Message::new(D::ToClient, 0, MessageKind::Line, b"not json".to_vec());
        assert_eq!(item_instance(&line, false), None);
        let text =
            Message::new(D::ToClient, 0, MessageKind::Event { event: None, id: None, retry: None }, b"hi".to_vec());
        assert_eq!(item_instance(&text, false), Some(Value::String("hi".into())));
    }
}
