//! Comparing two flows: request line, headers (volatile ones such as `Date` or request ids
//! optionally ignored) and bodies. JSON bodies are compared structurally — keys sorted, then
//! a list of changed paths — and as canonical text; everything else line by line with
//! `similar`. The result is plain rows the compare view lays out side by side or unified
//! (the user sees it as the `=` diff of two flows).

use std::time::Duration;

use serde_json::Value;
use similar::{DiffTag, TextDiff};

use super::action::{Action, scroll};
use crate::model::text::visible;
use crate::model::{Exchange, Headers};
use crate::store::{FlowId, FlowStore};

/// Headers left out when volatile headers are ignored: the shared volatile list, plus the
/// cookies (a session's cookies differ between any two flows).
fn is_volatile(name: &str) -> bool {
    crate::model::is_volatile_header(name)
        || name.eq_ignore_ascii_case("set-cookie")
        || name.eq_ignore_ascii_case("cookie")
}

/// How one row of a diff compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareTag {
    /// A section title.
    Section,
    /// A remark (structural change, elided lines, identical).
    Note,
    /// Same on both sides.
    Same,
    /// Only on the left (first flow).
    Del,
    /// Only on the right (second flow).
    Ins,
    /// Different on the two sides (paired lines).
    Changed,
}

/// One row of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareRow {
    /// How it compares.
    pub tag: CompareTag,
    /// Left text (first flow), already made visible.
    pub left: String,
    /// Right text (second flow), already made visible.
    pub right: String,
}

impl CompareRow {
    fn note(tag: CompareTag, s: impl Into<String>) -> Self {
        Self { tag, left: s.into(), right: String::new() }
    }
}

/// Lines of context kept around each change.
const CONTEXT: usize = 3;

fn header_text(h: &Headers, ignore_volatile: bool) -> String {
    let mut v: Vec<String> = h
        .iter()
        .filter(|x| !(ignore_volatile && is_volatile(&x.name)))
        .map(|x| format!("{}: {}", x.name.to_ascii_lowercase(), x.value))
        .collect();
    v.sort();
    v.join("\n")
}

/// Keys sorted at every level.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().filter_map(|k| m.get(k).map(|x| (k.clone(), canonical(x)))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(59).collect::<String>()) } else { s }
}

/// Structural differences between two JSON values, as `path: what` lines.
#[must_use]
pub fn json_changes(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(a, b, "$", &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    if out.len() >= 500 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))).collect();
            keys.sort();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => walk(va, vb, &p, out),
                    (Some(va), None) => out.push(format!("- {p} (was {})", short(va))),
                    (None, Some(vb)) => out.push(format!("+ {p} = {}", short(vb))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => walk(va, vb, &p, out),
                    (Some(va), None) => out.push(format!("- {p} (was {})", short(va))),
                    (None, Some(vb)) => out.push(format!("+ {p} = {}", short(vb))),
                    (None, None) => {}
                }
            }
        }
        _ if a == b => {}
        _ => {
            let kind = |v: &Value| match v {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            if kind(a) == kind(b) {
                out.push(format!("~ {path}: {} → {}", short(a), short(b)));
            } else {
                out.push(format!("~ {path}: {} {} → {} {}", kind(a), short(a), kind(b), short(b)));
            }
        }
    }
}

/// Line diff of two texts into rows, with context and elision.
fn text_rows(a: &str, b: &str, out: &mut Vec<CompareRow>) {
    if a == b {
        out.push(CompareRow::note(CompareTag::Note, if a.is_empty() { "(both empty)" } else { "(identical)" }));
        return;
    }
    let diff = TextDiff::configure().timeout(Duration::from_millis(500)).diff_lines(a, b);
    let old: Vec<&str> = a.lines().collect();
    let new: Vec<&str> = b.lines().collect();
    let line = |v: &[&str], i: usize| visible(v.get(i).copied().unwrap_or("")).into_owned();
    for (g, group) in diff.grouped_ops(CONTEXT).iter().enumerate() {
        if g > 0 {
            out.push(CompareRow::note(CompareTag::Note, "…"));
        }
        for op in group {
            let (tag, or, nr) = op.as_tag_tuple();
            match tag {
                DiffTag::Equal => {
                    for (i, j) in or.zip(nr) {
                        out.push(CompareRow { tag: CompareTag::Same, left: line(&old, i), right: line(&new, j) });
                    }
                }
                DiffTag::Delete => {
                    for i in or {
                        out.push(CompareRow { tag: CompareTag::Del, left: line(&old, i), right: String::new() });
                    }
                }
                DiffTag::Insert => {
                    for j in nr {
                        out.push(CompareRow { tag: CompareTag::Ins, left: String::new(), right: line(&new, j) });
                    }
                }
                DiffTag::Replace => {
                    let (ol, nl) = (or.len(), nr.len());
                    for k in 0..ol.max(nl) {
                        let l = (k < ol).then(|| line(&old, or.start + k));
                        let r = (k < nl).then(|| line(&new, nr.start + k));
                        let tag = match (&l, &r) {
                            (Some(_), Some(_)) => CompareTag::Changed,
                            (Some(_), None) => CompareTag::Del,
                            _ => CompareTag::Ins,
                        };
                        out.push(CompareRow { tag, left: l.unwrap_or_default(), right: r.unwrap_or_default() });
                    }
                }
            }
        }
    }
}

fn body_text(b: &[u8]) -> (String, Option<Value>) {
    match serde_json::from_slice::<Value>(b) {
        Ok(v) if !b.is_empty() => {
            let c = canonical(&v);
            (serde_json::to_string_pretty(&c).unwrap_or_default(), Some(c))
        }
        _ => (String::from_utf8_lossy(b).replace("\r\n", "\n"), None),
    }
}

fn body_rows(title: &str, a: &[u8], b: &[u8], out: &mut Vec<CompareRow>) {
    out.push(CompareRow::note(CompareTag::Section, title));
    let (ta, ja) = body_text(a);
    let (tb, jb) = body_text(b);
    if let (Some(ja), Some(jb)) = (&ja, &jb) {
        let changes = json_changes(ja, jb);
        if changes.is_empty() {
            out.push(CompareRow::note(CompareTag::Note, "JSON: structurally equal (key order ignored)"));
            return;
        }
        out.push(CompareRow::note(CompareTag::Note, format!("JSON: {} structural change(s)", changes.len())));
        for c in changes.iter().take(50) {
            out.push(CompareRow::note(CompareTag::Note, format!("  {}", visible(c))));
        }
        if changes.len() > 50 {
            out.push(CompareRow::note(CompareTag::Note, format!("  … {} more", changes.len() - 50)));
        }
    }
    let binary = |b: &[u8]| std::str::from_utf8(b).is_err();
    if ja.is_none() && (binary(a) || binary(b)) {
        if a == b {
            out.push(CompareRow::note(CompareTag::Note, "(identical binary bodies)"));
        } else {
            out.push(CompareRow {
                tag: CompareTag::Changed,
                left: format!("{} bytes", a.len()),
                right: format!("{} bytes", b.len()),
            });
        }
        return;
    }
    text_rows(&ta, &tb, out);
}

/// The rows of a diff of two flows.
#[must_use]
pub fn compare_flows(a: &Exchange, b: &Exchange, ignore_volatile: bool) -> Vec<CompareRow> {
    let mut out = Vec::new();
    out.push(CompareRow::note(CompareTag::Section, "request"));
    let line = |e: &Exchange| format!("{} {}", e.request.method, e.request.url(&e.host()));
    text_rows(&line(a), &line(b), &mut out);
    out.push(CompareRow::note(CompareTag::Section, "request headers"));
    text_rows(
        &header_text(&a.request.headers, ignore_volatile),
        &header_text(&b.request.headers, ignore_volatile),
        &mut out,
    );
    body_rows("request body", &a.request.body.content, &b.request.body.content, &mut out);
    out.push(CompareRow::note(CompareTag::Section, "response"));
    let status = |e: &Exchange| {
        e.response
            .as_ref()
            .map_or_else(|| format!("(no response: {})", e.state.label()), |r| format!("{} {}", r.status, r.reason))
    };
    text_rows(&status(a), &status(b), &mut out);
    let empty = Headers::default();
    let rh = |e: &'_ Exchange| e.response.as_ref().map(|r| r.headers.clone()).unwrap_or_else(|| empty.clone());
    out.push(CompareRow::note(CompareTag::Section, "response headers"));
    text_rows(&header_text(&rh(a), ignore_volatile), &header_text(&rh(b), ignore_volatile), &mut out);
    let rb = |e: &Exchange| e.response.as_ref().map(|r| r.body.content.clone()).unwrap_or_default();
    body_rows("response body", &rb(a), &rb(b), &mut out);
    out
}

/// The open comparison of two flows (the `=` view) and its own actions.
#[derive(Debug, Clone)]
pub struct CompareView {
    /// Left flow.
    pub a: FlowId,
    /// Right flow.
    pub b: FlowId,
    /// Unified (true) or side by side.
    pub unified: bool,
    /// Ignore volatile headers.
    pub ignore_volatile: bool,
    /// First row shown.
    pub scroll: usize,
    /// The compared rows.
    pub rows: Vec<CompareRow>,
}

impl CompareView {
    /// Compare flows `a` and `b` of `store` (side by side, volatile headers ignored).
    #[must_use]
    pub fn open(a: FlowId, b: FlowId, store: &FlowStore) -> Self {
        let mut v = Self { a, b, unified: false, ignore_volatile: true, scroll: 0, rows: Vec::new() };
        v.rebuild(store);
        v
    }

    /// Compare again (the volatile-header choice changed).
    fn rebuild(&mut self, store: &FlowStore) {
        if let (Some(a), Some(b)) = (store.exchange(self.a), store.exchange(self.b)) {
            self.rows = compare_flows(&a, &b, self.ignore_volatile);
        }
        self.scroll = self.scroll.min(self.rows.len().saturating_sub(1));
    }

    /// Apply an action of the compare view (`page` rows fit); returns a status message.
    pub fn update(&mut self, a: Action, page: usize, store: &FlowStore) -> Option<&'static str> {
        match a {
            Action::ToggleUnified => self.unified = !self.unified,
            Action::ToggleVolatile => {
                self.ignore_volatile = !self.ignore_volatile;
                self.rebuild(store);
                return Some(if self.ignore_volatile {
                    "volatile headers ignored"
                } else {
                    "volatile headers compared"
                });
            }
            _ => scroll(&mut self.scroll, self.rows.len(), page, a),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::text::ESC;
    use crate::model::{Body, Response};

    fn flow(date: &str, body: &str) -> Exchange {
        let mut e = Exchange::default();
        e.request.method = "GET".into();
        e.request.target = "/v1/quotes/ACME".into();
        let mut r = Response {
            status: 200,
            reason: "OK".into(),
            body: Body::from_bytes(body.as_bytes().to_vec()),
            ..Response::default()
        };
        r.headers.push("Date", date);
        r.headers.push("Content-Type", "application/json");
        e.response = Some(r);
        e
    }

    #[test]
    fn json_is_compared_by_structure_not_key_order() {
        let a = flow("Mon", r#"{"a":1,"b":{"c":[1,2]}}"#);
        let b = flow("Mon", r#"{"b":{"c":[1,2]},"a":1}"#);
        let rows = compare_flows(&a, &b, true);
        assert!(rows.iter().any(|r| r.left.contains("structurally equal")));
        let c = flow("Mon", r#"{"a":2,"b":{"c":[1]},"d":null}"#);
        let rows = compare_flows(&a, &c, true);
        let notes: Vec<&str> = rows.iter().filter(|r| r.tag == CompareTag::Note).map(|r| r.left.as_str()).collect();
        assert!(notes.contains(&"  ~ $.a: 1 → 2"), "{notes:?}");
        assert!(notes.contains(&"  - $.b.c[1] (was 2)"), "{notes:?}");
        assert!(notes.contains(&"  + $.d = null"), "{notes:?}");
    }

    #[test]
    fn volatile_headers_can_be_ignored() {
        let a = flow("Mon, 01 Jan", "x");
        let b = flow("Tue, 02 Jan", "x");
        let changed = |rows: &[CompareRow]| {
            rows.iter().any(|r| matches!(r.tag, CompareTag::Del | CompareTag::Ins | CompareTag::Changed))
        };
        assert!(!changed(&compare_flows(&a, &b, true)));
        let rows = compare_flows(&a, &b, false);
        assert!(changed(&rows));
        assert!(
            rows.iter().any(|r| r.tag == CompareTag::Changed
                && r.left == "date: Mon, 01 Jan"
                && r.right == "date: Tue, 02 Jan")
        );
    }

    #[test]
    fn escape_sequences_in_diffs_are_visible() {
        let a = flow("x", &format!("line{ESC}[2J\n"));
        let b = flow("x", "other\n");
        let rows = compare_flows(&a, &b, true);
        assert!(rows.iter().any(|r| r.left.contains("\\x1b[2J")));
        assert!(rows.iter().all(|r| !r.left.contains(ESC) && !r.right.contains(ESC)));
    }
}
