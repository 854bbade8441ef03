//! Setting a replayed answer against the recorded one: status; headers, except the volatile
//! ones ([`VOLATILE_HEADERS`], extendable) and with `Set-Cookie` compared by cookie names
//! only; bodies, JSON structurally (keys in any order, each changed field by its path) with
//! fields ignored by name or by path ([`IgnoreRule`]), anything else byte for byte.
//!
//! Differences carry a kind and a subject (`body field changed` / `$.items[*].price`) so a
//! report can group the same change across many requests, and a detail with the values.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use super::ReplayError;
use super::plan::{HOP_BY_HOP, Recorded};
use super::send::Answer;
use crate::model::Headers;
use crate::model::text::visible;

pub use crate::model::VOLATILE_HEADERS;

/// Most differences kept per request (the rest are counted).
pub const MAX_DIFFERENCES: usize = 50;

/// One step of an ignore path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    AnyKey,
    AnyIndex,
}

/// A body field left out of the comparison: by name anywhere (`requestId`, `$..requestId`)
/// or by path (`$.meta.generatedAt`, `$.items[*].updatedAt`, `$.data.*.etag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreRule {
    /// Every field with this name, at any depth.
    Name(String),
    /// The field(s) at this path.
    Path(Vec<PathStep>),
}

/// A step of an [`IgnoreRule::Path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep(Step);

impl FromStr for IgnoreRule {
    type Err = ReplayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ReplayError::BadIgnore(s.to_string(), why.to_string());
        let t = s.trim();
        if t.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(name) = t.strip_prefix("$..") {
            if name.is_empty() || name.contains(['.', '[']) {
                return Err(bad("`$..` takes one field name"));
            }
            return Ok(Self::Name(name.to_string()));
        }
        let Some(rest) = t.strip_prefix('$') else { return Ok(Self::Name(t.to_string())) };
        let mut steps = Vec::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '.' => {
                    let start = i + 1;
                    let mut end = rest.len();
                    while let Some(&(j, d)) = chars.peek() {
                        if d == '.' || d == '[' {
                            end = j;
                            break;
                        }
                        chars.next();
                    }
                    let key = &rest[start..end];
                    match key {
                        "" => return Err(bad("empty field name")),
                        "*" => steps.push(PathStep(Step::AnyKey)),
                        k => steps.push(PathStep(Step::Key(k.to_string()))),
                    }
                }
                '[' => {
                    let close = rest[i..].find(']').ok_or_else(|| bad("`[` without `]`"))? + i;
                    let inner = rest[i + 1..close].trim();
                    let step = if inner == "*" {
                        Step::AnyIndex
                    } else if let Ok(n) = inner.parse::<usize>() {
                        Step::Index(n)
                    } else if let Some(q) = inner
                        .strip_prefix('\'')
                        .and_then(|x| x.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                    {
                        Step::Key(q.to_string())
                    } else {
                        return Err(bad("use [N], [*] or ['key']"));
                    };
                    steps.push(PathStep(step));
                    while chars.peek().is_some_and(|(j, _)| *j <= close) {
                        chars.next();
                    }
                }
                _ => return Err(bad("a path is $ followed by .key, [N], [*] or .*")),
            }
        }
        if steps.is_empty() {
            return Err(bad("the whole body cannot be ignored"));
        }
        Ok(Self::Path(steps))
    }
}

/// One step of a concrete path while walking a body.
#[derive(Debug, Clone)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl IgnoreRule {
    fn matches(&self, path: &[Seg<'_>]) -> bool {
        match self {
            Self::Name(n) => matches!(path.last(), Some(Seg::Key(k)) if *k == n.as_str()),
            Self::Path(steps) => {
                steps.len() == path.len()
                    && steps.iter().zip(path).all(|(s, p)| match (&s.0, p) {
                        (Step::Key(a), Seg::Key(b)) => a.as_str() == *b,
                        (Step::Index(a), Seg::Index(b)) => a == b,
                        (Step::AnyKey, Seg::Key(_)) | (Step::AnyIndex, Seg::Index(_)) => true,
                        _ => false,
                    })
            }
        }
    }
}

/// What is compared and what is left out.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Header names (any case) ignored besides [`VOLATILE_HEADERS`].
    pub ignore_headers: Vec<String>,
    /// Body fields ignored.
    pub ignore: Vec<IgnoreRule>,
}

impl CompareOptions {
    fn header_ignored(&self, name: &str) -> bool {
        crate::model::is_volatile_header(name)
            || HOP_BY_HOP.iter().any(|v| v.eq_ignore_ascii_case(name))
            || self.ignore_headers.iter().any(|v| v.eq_ignore_ascii_case(name))
    }
}

/// The kinds of difference, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// Nothing was recorded to compare with, but the server answers now.
    NowAnswered,
    /// Status code.
    Status,
    /// A header only in the replayed answer.
    HeaderAdded,
    /// A header only in the recorded answer.
    HeaderRemoved,
    /// A header's value.
    HeaderChanged,
    /// A JSON field's value.
    FieldChanged,
    /// A JSON field's type.
    FieldType,
    /// A JSON field only in the replayed answer.
    FieldAdded,
    /// A JSON field only in the recorded answer.
    FieldRemoved,
    /// A JSON array's length.
    ArrayLength,
    /// A body that is not JSON (or is JSON on one side only).
    Body,
}

impl DiffKind {
    /// Label for reports.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NowAnswered => "answered now, not in the recording",
            Self::Status => "status",
            Self::HeaderAdded => "header added",
            Self::HeaderRemoved => "header removed",
            Self::HeaderChanged => "header changed",
            Self::FieldChanged => "body field changed",
            Self::FieldType => "body field type changed",
            Self::FieldAdded => "body field added",
            Self::FieldRemoved => "body field removed",
            Self::ArrayLength => "array length changed",
            Self::Body => "body changed",
        }
    }
}

/// One difference between a recorded and a replayed answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What kind.
    pub kind: DiffKind,
    /// What it is about, generalised for grouping (`200 → 500`, `x-version`,
    /// `$.items[*].price`).
    pub subject: String,
    /// The concrete values, made visible (`"1.0" → "1.1"`).
    pub detail: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.kind.label();
        match self.kind {
            DiffKind::HeaderAdded | DiffKind::HeaderRemoved | DiffKind::HeaderChanged => {
                write!(f, "{label} {}: {}", self.subject, self.detail)
            }
            DiffKind::Body => write!(f, "{label} ({}): {}", self.subject, self.detail),
            DiffKind::NowAnswered => write!(f, "{label}: {}", self.detail),
            _ => write!(f, "{label} {}", self.detail),
        }
    }
}

/// What the comparison of one answer found.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// The differences (at most [`MAX_DIFFERENCES`]).
    pub differences: Vec<Difference>,
    /// Differences past the cap.
    pub more: usize,
    /// Why the bodies were not compared, when they were not.
    pub body_note: Option<&'static str>,
}

impl Comparison {
    /// True when nothing compared differs.
    #[must_use]
    pub fn identical(&self) -> bool {
        self.differences.is_empty()
    }

    fn push(&mut self, kind: DiffKind, subject: impl Into<String>, detail: impl Into<String>) {
        if self.differences.len() < MAX_DIFFERENCES {
            self.differences.push(Difference {
                kind,
                subject: visible(&subject.into()).into_owned(),
                detail: visible(&detail.into()).into_owned(),
            });
        } else {
            self.more += 1;
        }
    }
}

/// Compare a replayed answer with the recording of `method`'s answer.
#[must_use]
pub fn compare(method: &str, rec: &Recorded, ans: &Answer, opts: &CompareOptions) -> Comparison {
    let mut c = Comparison::default();
    let Some(status) = rec.status else {
        let why = rec.failure.as_deref().unwrap_or("no answer");
        c.push(DiffKind::NowAnswered, format!("{}", ans.status), format!("recorded: {why}; now {}", ans.status));
        return c;
    };
    if status != ans.status {
        c.push(DiffKind::Status, format!("{status} → {}", ans.status), format!("{status} → {}", ans.status));
    }
    headers(&rec.headers, &ans.headers, opts, &mut c);
    if method.eq_ignore_ascii_case("HEAD") {
        return c;
    }
    match (&rec.body, ans.body.truncated || ans.body.decode_error.is_some()) {
        (None, _) => c.body_note = Some("the recorded body was not kept whole"),
        (_, true) => c.body_note = Some("the replayed body was cut or could not be decoded"),
        (Some(r), false) => body(r, &ans.body.content, opts, &mut c),
    }
    c
}

/// Header values by lower-case name (repeated headers joined with `, `; `Set-Cookie` as
/// the sorted cookie names).
fn header_map(h: &Headers, opts: &CompareOptions) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for x in h.iter() {
        let name = x.name.to_ascii_lowercase();
        if name.starts_with(':') || opts.header_ignored(&name) {
            continue;
        }
        let value = if name == "set-cookie" {
            x.value.split(';').next().and_then(|kv| kv.split_once('=')).map_or("", |(k, _)| k).trim().to_string()
        } else {
            x.value.trim().to_string()
        };
        m.entry(name).or_default().push(value);
    }
    m.into_iter()
        .map(|(k, mut v)| {
            if k == "set-cookie" {
                v.sort();
            }
            (k, v.join(", "))
        })
        .collect()
}

fn headers(rec: &Headers, ans: &Headers, opts: &CompareOptions, c: &mut Comparison) {
    let a = header_map(rec, opts);
    let b = header_map(ans, opts);
    for (k, v) in &a {
        match b.get(k) {
            None => c.push(DiffKind::HeaderRemoved, k, format!("was {}", short(v))),
            Some(w) if w != v => c.push(DiffKind::HeaderChanged, k, format!("{} → {}", short(v), short(w))),
            Some(_) => {}
        }
    }
    for (k, w) in &b {
        if !a.contains_key(k) {
            c.push(DiffKind::HeaderAdded, k, format!("now {}", short(w)));
        }
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(79).collect::<String>()) } else { s.to_string() }
}

fn json(b: &[u8]) -> Option<Value> {
    let first = b.iter().find(|c| !c.is_ascii_whitespace())?;
    if !matches!(first, b'{' | b'[') {
        return None;
    }
    serde_json::from_slice(b).ok()
}

fn body(rec: &[u8], ans: &[u8], opts: &CompareOptions, c: &mut Comparison) {
    match (json(rec), json(ans)) {
        (Some(a), Some(b)) => walk(&a, &b, &mut Vec::new(), opts, c),
        _ if rec == ans => {}
        (Some(_), None) => c.push(DiffKind::Body, "JSON → not JSON", format!("{} → {} bytes", rec.len(), ans.len())),
        (None, Some(_)) => c.push(DiffKind::Body, "not JSON → JSON", format!("{} → {} bytes", rec.len(), ans.len())),
        (None, None) => c.push(DiffKind::Body, "bytes", format!("{} → {} bytes", rec.len(), ans.len())),
    }
}

/// The path for display: concrete (`$.items[3].price`) or generalised (`$.items[*].price`).
fn path_text(path: &[Seg<'_>], general: bool) -> String {
    let mut s = String::from("$");
    for p in path {
        match p {
            Seg::Key(k) if !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Key(k) => s.push_str(&format!("[{}]", Value::String((*k).to_string()))),
            Seg::Index(_) if general => s.push_str("[*]"),
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn value_text(v: &Value) -> String {
    short(&v.to_string())
}

fn walk<'a>(a: &'a Value, b: &'a Value, path: &mut Vec<Seg<'a>>, opts: &CompareOptions, c: &mut Comparison) {
    if opts.ignore.iter().any(|r| r.matches(path)) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                path.push(Seg::Key(k));
                match y.get(k) {
                    Some(vb) => walk(va, vb, path, opts, c),
                    None if !opts.ignore.iter().any(|r| r.matches(path)) => {
                        c.push(
                            DiffKind::FieldRemoved,
                            path_text(path, true),
                            format!("{} was {}", path_text(path, false), value_text(va)),
                        );
                    }
                    None => {}
                }
                path.pop();
            }
            for (k, vb) in y {
                if x.contains_key(k) {
                    continue;
                }
                path.push(Seg::Key(k));
                if !opts.ignore.iter().any(|r| r.matches(path)) {
                    c.push(
                        DiffKind::FieldAdded,
                        path_text(path, true),
                        format!("{} = {}", path_text(path, false), value_text(vb)),
                    );
                }
                path.pop();
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                c.push(
                    DiffKind::ArrayLength,
                    path_text(path, true),
                    format!("{}: {} → {} items", path_text(path, false), x.len(), y.len()),
                );
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                path.push(Seg::Index(i));
                walk(va, vb, path, opts, c);
                path.pop();
            }
        }
        _ if type_name(a) != type_name(b) => c.push(
            DiffKind::FieldType,
            path_text(path, true),
            format!("{}: {} → {}", path_text(path, false), type_name(a), type_name(b)),
        ),
        _ if a != b => c.push(
            DiffKind::FieldChanged,
            path_text(path, true),
            format!("{}: {} → {}", path_text(path, false), value_text(a), value_text(b)),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Body;

    fn rec(status: u16, headers: &[(&str, &str)], body: &str) -> Recorded {
        let mut h = Headers::default();
        for (n, v) in headers {
            h.push(*n, *v);
        }
        Recorded {
            status: Some(status),
            headers: h,
            body: Some(body.as_bytes().to_vec()),
            duration: None,
            failure: None,
        }
    }

    fn ans(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut h = Headers::default();
        for (n, v) in headers {
            h.push(*n, *v);
        }
        Answer {
            status,
            reason: String::new(),
            version: "HTTP/1.1".into(),
            headers: h,
            body: Body::from_bytes(body.as_bytes().to_vec()),
            ttfb: 0,
        }
    }

    fn kinds(c: &Comparison) -> Vec<(DiffKind, &str)> {
        c.differences.iter().map(|d| (d.kind, d.subject.as_str())).collect()
    }

    #[test]
    fn volatile_headers_and_key_order_are_not_differences() {
        let r = rec(
            200,
            &[("Date", "Mon"), ("X-Request-Id", "a"), ("Content-Type", "application/json")],
            r#"{"a":1,"b":[1,2]}"#,
        );
        let a = ans(
            200,
            &[("date", "Tue"), ("x-request-id", "b"), ("content-type", "application/json")],
            r#"{"b":[1,2],"a":1}"#,
        );
        assert!(compare("GET", &r, &a, &CompareOptions::default()).identical());
    }

    #[test]
    fn set_cookie_is_compared_by_name_only() {
        let r = rec(200, &[("Set-Cookie", "sid=1; Path=/")], "");
        let a = ans(200, &[("set-cookie", "sid=2; Path=/")], "");
        assert!(compare("GET", &r, &a, &CompareOptions::default()).identical());
        let a = ans(200, &[("set-cookie", "session=2; Path=/")], "");
        let c = compare("GET", &r, &a, &CompareOptions::default());
        assert_eq!(kinds(&c), vec![(DiffKind::HeaderChanged, "set-cookie")]);
    }

    #[test]
    fn status_headers_and_json_fields_are_reported_by_path() {
        let r =
            rec(200, &[("X-Version", "1")], r#"{"items":[{"id":1,"price":5},{"id":2,"price":7}],"old":true,"n":1}"#);
        let a = ans(
            500,
            &[("X-Version", "2"), ("X-New", "y")],
            r#"{"items":[{"id":1,"price":6},{"id":2,"price":7},{"id":3,"price":1}],"new":1,"n":"1"}"#,
        );
        let c = compare("GET", &r, &a, &CompareOptions::default());
        assert_eq!(
            kinds(&c),
            vec![
                (DiffKind::Status, "200 → 500"),
                (DiffKind::HeaderChanged, "x-version"),
                (DiffKind::HeaderAdded, "x-new"),
                (DiffKind::ArrayLength, "$.items"),
                (DiffKind::FieldChanged, "$.items[*].price"),
                (DiffKind::FieldRemoved, "$.old"),
                (DiffKind::FieldType, "$.n"),
                (DiffKind::FieldAdded, "$.new"),
            ]
        );
        assert_eq!(c.differences[4].detail, "$.items[0].price: 5 → 6");
        assert_eq!(c.differences[4].to_string(), "body field changed $.items[0].price: 5 → 6");
        assert_eq!(c.differences[0].to_string(), "status 200 → 500");
        assert_eq!(c.differences[1].to_string(), "header changed x-version: 1 → 2");
    }

    #[test]
    fn ignored_fields_by_name_and_path() {
        let r = rec(200, &[], r#"{"meta":{"at":"1","id":"a"},"items":[{"updated":"x","v":1}]}"#);
        let a = ans(200, &[], r#"{"meta":{"at":"2","id":"b"},"items":[{"updated":"y","v":1}]}"#);
        let opts = CompareOptions {
            ignore: vec!["$.meta.at".parse().unwrap(), "id".parse().unwrap(), "$.items[*].updated".parse().unwrap()],
            ..CompareOptions::default()
        };
        assert!(compare("GET", &r, &a, &opts).identical());
        let opts = CompareOptions { ignore: vec!["$..id".parse().unwrap()], ..CompareOptions::default() };
        let c = compare("GET", &r, &a, &opts);
        assert_eq!(c.differences.len(), 2, "{:?}", c.differences);
    }

    #[test]
    fn ignore_paths_parse_or_say_why() {
        assert!("$.a[0]['b c'].*".parse::<IgnoreRule>().is_ok());
        for bad in ["$", "$.", "$.a[x]", "$..a.b", "$a", ""] {
            assert!(bad.parse::<IgnoreRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_not_kept_are_not_compared_and_text_bodies_compare_bytes() {
        let mut r = rec(200, &[], "");
        r.body = None;
        let c = compare("GET", &r, &ans(200, &[], "anything"), &CompareOptions::default());
        assert!(c.identical() && c.body_note.is_some());
        let c = compare("GET", &rec(200, &[], "hello"), &ans(200, &[], "hellO"), &CompareOptions::default());
        assert_eq!(kinds(&c), vec![(DiffKind::Body, "bytes")]);
    }

    #[test]
    fn a_recording_without_answer_differs_from_an_answer() {
        let mut r = rec(200, &[], "");
        r.status = None;
        r.failure = Some("connection reset".into());
        let c = compare("GET", &r, &ans(200, &[], ""), &CompareOptions::default());
        assert_eq!(kinds(&c), vec![(DiffKind::NowAnswered, "200")]);
    }
}
