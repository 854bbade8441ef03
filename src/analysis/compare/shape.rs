//! Response shapes: the JSON structure of an endpoint's answers per status, inferred from
//! the bodies of one side (field paths, the types seen at each, how often each is present,
//! the values of short string fields), and the differences between two sides (fields added,
//! removed, type changed, now sometimes null, new values of enum-like fields) with example
//! exchanges of each side.
//!
//! Bounded: bodies larger than [`MAX_BODY`] or cut by the reader are left out; at most
//! [`MAX_BODIES_PER_KEY`] bodies per (endpoint, status) are read (the first ones, so the
//! result does not depend on threads), [`MAX_PATHS_PER_BODY`] paths per body,
//! [`MAX_PATHS_PER_KEY`] per (endpoint, status), [`MAX_ARRAY_ITEMS`] items per array,
//! [`MAX_DEPTH`] levels, [`MAX_VALUES`] distinct values per string field and
//! [`MAX_KEYS`] (endpoint, status) pairs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::analysis::patterns::ExampleRef;
use crate::model::Exchange;

/// Largest body read for its shape, in bytes.
pub const MAX_BODY: usize = 256 * 1024;
/// Bodies read per (endpoint, status): enough to see a field present in 3% of the
/// bodies about three times; later bodies of the pair are not kept by the readers.
pub const MAX_BODIES_PER_KEY: u64 = 100;
/// Distinct paths taken from one body.
pub const MAX_PATHS_PER_BODY: usize = 256;
/// Distinct paths kept per (endpoint, status).
pub const MAX_PATHS_PER_KEY: usize = 512;
/// Items of an array walked.
pub const MAX_ARRAY_ITEMS: usize = 16;
/// Nesting levels walked.
pub const MAX_DEPTH: usize = 16;
/// Distinct values kept per string field (more make it a free-text field, not an enum).
pub const MAX_VALUES: usize = 16;
/// Longest string value kept as a possible enum value.
pub const MAX_VALUE_LEN: usize = 40;
/// (endpoint, status) pairs whose shapes are kept.
pub const MAX_KEYS: usize = 2000;

/// JSON types, in the order of [`JsonType::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` / `false`.
    Boolean,
    /// `null`.
    Null,
}

impl JsonType {
    /// Every type.
    pub const ALL: [Self; 6] = [Self::Object, Self::Array, Self::String, Self::Number, Self::Boolean, Self::Null];

    fn of(v: &Value) -> Self {
        match v {
            Value::Object(_) => Self::Object,
            Value::Array(_) => Self::Array,
            Value::String(_) => Self::String,
            Value::Number(_) => Self::Number,
            Value::Bool(_) => Self::Boolean,
            Value::Null => Self::Null,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Name as shown.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::Array => "array",
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Null => "null",
        }
    }
}

/// One path of one body: the types seen there (bits of [`JsonType`]) and a few short
/// string values.
#[derive(Debug, Default, Clone)]
pub struct BodyPath {
    types: u8,
    values: Vec<String>,
}

/// The field paths of one response body, taken where the body is read (a reader's thread)
/// so that the body itself can be dropped at once.
#[derive(Debug, Clone, Default)]
pub struct BodyShape(BTreeMap<String, BodyPath>);

impl BodyShape {
    /// The shape of `ex`'s response body, when it is a whole JSON body no larger than
    /// [`MAX_BODY`].
    #[must_use]
    pub fn of(ex: &Exchange) -> Option<Self> {
        json_body(ex).map(|v| Self(body_paths(&v)))
    }
}

/// The paths of one body (`$` is the root, `.name` a member, `[]` any array item).
fn body_paths(v: &Value) -> BTreeMap<String, BodyPath> {
    let mut out = BTreeMap::new();
    let mut path = String::from("$");
    walk(v, &mut path, 0, &mut out);
    out
}

fn walk(v: &Value, path: &mut String, depth: usize, out: &mut BTreeMap<String, BodyPath>) {
    if !out.contains_key(path.as_str()) && out.len() >= MAX_PATHS_PER_BODY {
        return;
    }
    let entry = out.entry(path.clone()).or_default();
    entry.types |= JsonType::of(v).bit();
    if let Value::String(s) = v {
        if s.len() <= MAX_VALUE_LEN && entry.values.len() < MAX_VALUES && !entry.values.contains(s) {
            entry.values.push(s.clone());
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                path.push('.');
                path.push_str(k);
                walk(child, path, depth + 1, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            path.push_str("[]");
            for child in items.iter().take(MAX_ARRAY_ITEMS) {
                walk(child, path, depth + 1, out);
            }
            path.truncate(len);
        }
        _ => {}
    }
}

/// The parsed JSON response body of `ex`, when it has a whole one no larger than
/// [`MAX_BODY`].
#[must_use]
pub fn json_body(ex: &Exchange) -> Option<Value> {
    let r = ex.response.as_ref()?;
    let b = &r.body;
    if b.truncated || b.content.is_empty() || b.content.len() > MAX_BODY {
        return None;
    }
    let looks_json = r.headers.content_type().is_some_and(|c| c.contains("json"))
        || matches!(b.content.iter().find(|c| !c.is_ascii_whitespace()), Some(b'{' | b'['));
    if !looks_json {
        return None;
    }
    serde_json::from_slice(&b.content).ok()
}

/// What one side knows of one path.
#[derive(Debug, Clone, Default)]
pub struct PathStats {
    /// Bodies where the path is present.
    pub present: u64,
    /// Per type (index of [`JsonType::ALL`]): bodies where it had that type, and the first.
    pub types: [(u64, Option<ExampleRef>); 6],
    /// Short string values: bodies with the value, and the first.
    pub values: BTreeMap<String, (u64, ExampleRef)>,
    /// More distinct values were seen than [`MAX_VALUES`].
    pub many_values: bool,
    /// First body with the path.
    pub example: Option<ExampleRef>,
}

/// One side's shapes of one (endpoint, status).
#[derive(Debug, Clone, Default)]
pub struct KeyShape {
    /// Bodies read.
    pub bodies: u64,
    /// Responses seen that were not read (not JSON, too big, cut, past the per-key limit).
    pub skipped: u64,
    /// Paths past [`MAX_PATHS_PER_KEY`] left out.
    pub paths_dropped: u64,
    /// Per path.
    pub paths: BTreeMap<String, PathStats>,
    /// First body read.
    pub example: Option<ExampleRef>,
}

impl KeyShape {
    /// Room for another body.
    #[must_use]
    pub fn wants_body(&self) -> bool {
        self.bodies < MAX_BODIES_PER_KEY
    }

    /// Add one parsed body of `ex`.
    pub fn add(&mut self, v: &Value, ex: &Exchange) {
        self.add_shape(BodyShape(body_paths(v)), ex);
    }

    /// Add the shape of one body of `ex`.
    pub fn add_shape(&mut self, shape: BodyShape, ex: &Exchange) {
        self.bodies += 1;
        let at = || ExampleRef::of(ex);
        if self.example.is_none() {
            self.example = Some(at());
        }
        for (path, bp) in shape.0 {
            if !self.paths.contains_key(&path) && self.paths.len() >= MAX_PATHS_PER_KEY {
                self.paths_dropped += 1;
                continue;
            }
            let ps = self.paths.entry(path).or_default();
            ps.present += 1;
            if ps.example.is_none() {
                ps.example = Some(at());
            }
            for (i, t) in JsonType::ALL.iter().enumerate() {
                if bp.types & t.bit() != 0 {
                    if let Some(slot) = ps.types.get_mut(i) {
                        slot.0 += 1;
                        if slot.1.is_none() {
                            slot.1 = Some(at());
                        }
                    }
                }
            }
            for val in bp.values {
                if let Some(x) = ps.values.get_mut(&val) {
                    x.0 += 1;
                } else if ps.values.len() < MAX_VALUES {
                    ps.values.insert(val, (1, at()));
                } else {
                    ps.many_values = true;
                }
            }
        }
    }

    /// Merge `o` (the same endpoint under an earlier name) into this one.
    pub fn merge(&mut self, o: Self) {
        self.bodies += o.bodies;
        self.skipped += o.skipped;
        self.paths_dropped += o.paths_dropped;
        if self.example.is_none() {
            self.example = o.example;
        }
        for (path, ps) in o.paths {
            if !self.paths.contains_key(&path) && self.paths.len() >= MAX_PATHS_PER_KEY {
                self.paths_dropped += 1;
                continue;
            }
            let mine = self.paths.entry(path).or_default();
            mine.present += ps.present;
            if mine.example.is_none() {
                mine.example = ps.example;
            }
            for (m, t) in mine.types.iter_mut().zip(ps.types) {
                m.0 += t.0;
                if m.1.is_none() {
                    m.1 = t.1;
                }
            }
            mine.many_values |= ps.many_values;
            for (val, (n, at)) in ps.values {
                if let Some(x) = mine.values.get_mut(&val) {
                    x.0 += n;
                } else if mine.values.len() < MAX_VALUES {
                    mine.values.insert(val, (n, at));
                } else {
                    mine.many_values = true;
                }
            }
        }
    }
}

/// One side's shapes, by (endpoint, status).
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    /// Per (endpoint, status).
    pub keys: HashMap<(String, u16), KeyShape>,
    /// Responses whose (endpoint, status) came past [`MAX_KEYS`].
    pub keys_dropped: u64,
}

impl Shapes {
    /// Take `ex`'s response body into the shape of (`endpoint`, its status); reads the
    /// body only while that pair has room.
    pub fn observe(&mut self, endpoint: &str, ex: &Exchange) {
        let Some(status) = ex.status() else { return };
        let key = (endpoint.to_string(), status);
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_KEYS {
            self.keys_dropped += 1;
            return;
        }
        let ks = self.keys.entry(key).or_default();
        if !ks.wants_body() {
            ks.skipped += 1;
            return;
        }
        match json_body(ex) {
            Some(v) => ks.add(&v, ex),
            None => ks.skipped += 1,
        }
    }

    /// Take a body shape taken earlier from `ex` (`None`: not a readable JSON body) into
    /// (`endpoint`, its status), while that pair has room. Answers true when the pair has
    /// just become full (later bodies of it need no reading).
    pub fn observe_shape(&mut self, endpoint: &str, ex: &Exchange, shape: Option<BodyShape>) -> bool {
        let Some(status) = ex.status() else { return false };
        let key = (endpoint.to_string(), status);
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_KEYS {
            self.keys_dropped += 1;
            return false;
        }
        let ks = self.keys.entry(key).or_default();
        if !ks.wants_body() {
            ks.skipped += 1;
            return false;
        }
        match shape {
            Some(s) => ks.add_shape(s, ex),
            None => ks.skipped += 1,
        }
        !ks.wants_body()
    }

    /// Rename every endpoint with `rename` (merging those that end up with one name).
    #[must_use]
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> Self {
        let mut out: HashMap<(String, u16), KeyShape> = HashMap::with_capacity(self.keys.len());
        // in name order, so that merges (and their examples) do not depend on hashing
        let mut keys: Vec<((String, u16), KeyShape)> = self.keys.into_iter().collect();
        keys.sort_by(|x, y| x.0.cmp(&y.0));
        for ((name, status), ks) in keys {
            match out.entry((rename(&name), status)) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(ks),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(ks);
                }
            }
        }
        Self { keys: out, keys_dropped: self.keys_dropped }
    }
}

/// What changed about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeChangeKind {
    /// Present in B, never in A (where A should have shown it).
    Added,
    /// Present in A, never in B (where B should have shown it).
    Removed,
    /// The types seen (null aside) differ.
    TypeChanged,
    /// Null in B, never in A.
    NowNullable,
    /// A value of an enum-like string field that A never answered.
    NewEnumValue,
}

impl ShapeChangeKind {
    /// Label as shown.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::TypeChanged => "type changed",
            Self::NowNullable => "now nullable",
            Self::NewEnumValue => "new enum value",
        }
    }
}

/// One difference between the response shapes of two sides.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShapeChange {
    /// Endpoint.
    pub endpoint: String,
    /// Response status.
    pub status: u16,
    /// Field path (`$` root, `.name` member, `[]` array item).
    pub path: String,
    /// What changed.
    pub kind: ShapeChangeKind,
    /// Plain-language detail (types, presence rates, the value).
    pub detail: String,
    /// Share of A's bodies with the field.
    pub presence_a: f64,
    /// Share of B's bodies with the field.
    pub presence_b: f64,
    /// Bodies read in A and B.
    pub bodies: (u64, u64),
    /// An example exchange of A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_a: Option<ExampleRef>,
    /// An example exchange of B.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_b: Option<ExampleRef>,
}

/// How many times a side that never showed something should have shown it, for the
/// absence to count as a change: with the other side's rate `r` over `n` bodies, `r·n`
/// expected sightings and none seen happens by chance with probability about `e^{-r·n}`
/// (under 5% from 3 on).
pub const MIN_EXPECTED: f64 = 3.0;

/// True when `seen_other` sightings in `n_other` bodies make zero sightings in `n_this`
/// bodies unlikely by chance.
fn absence_is_telling(seen_other: u64, n_other: u64, n_this: u64) -> bool {
    n_other > 0 && seen_other as f64 / n_other as f64 * n_this as f64 >= MIN_EXPECTED
}

fn type_list(ps: &PathStats) -> Vec<&'static str> {
    JsonType::ALL
        .iter()
        .zip(&ps.types)
        .filter(|(t, c)| **t != JsonType::Null && c.0 > 0)
        .map(|(t, _)| t.name())
        .collect()
}

fn first_typed(ps: &PathStats, pick: impl Fn(JsonType) -> bool) -> Option<ExampleRef> {
    JsonType::ALL.iter().zip(&ps.types).find(|(t, c)| pick(**t) && c.0 > 0).and_then(|(_, c)| c.1.clone())
}

/// The differences between A's and B's shapes of one (endpoint, status).
fn diff_key(endpoint: &str, status: u16, a: &KeyShape, b: &KeyShape) -> Vec<ShapeChange> {
    let mut out = Vec::new();
    let rate = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let change = |path: &str, kind, detail: String, pa: u64, pb: u64, ea, eb| ShapeChange {
        endpoint: endpoint.to_string(),
        status,
        path: path.to_string(),
        kind,
        detail,
        presence_a: rate(pa, a.bodies),
        presence_b: rate(pb, b.bodies),
        bodies: (a.bodies, b.bodies),
        example_a: ea,
        example_b: eb,
    };
    let paths: BTreeSet<&String> = a.paths.keys().chain(b.paths.keys()).collect();
    let empty = PathStats::default();
    for path in paths {
        let pa = a.paths.get(path).unwrap_or(&empty);
        let pb = b.paths.get(path).unwrap_or(&empty);
        if pa.present == 0 && absence_is_telling(pb.present, b.bodies, a.bodies) {
            let detail = format!(
                "in {:.0}% of B's {} bodies, none of A's {}",
                rate(pb.present, b.bodies) * 100.0,
                b.bodies,
                a.bodies
            );
            out.push(change(
                path,
                ShapeChangeKind::Added,
                detail,
                0,
                pb.present,
                a.example.clone(),
                pb.example.clone(),
            ));
            continue;
        }
        if pb.present == 0 && absence_is_telling(pa.present, a.bodies, b.bodies) {
            let detail = format!(
                "in {:.0}% of A's {} bodies, none of B's {}",
                rate(pa.present, a.bodies) * 100.0,
                a.bodies,
                b.bodies
            );
            out.push(change(
                path,
                ShapeChangeKind::Removed,
                detail,
                pa.present,
                0,
                pa.example.clone(),
                b.example.clone(),
            ));
            continue;
        }
        if pa.present == 0 || pb.present == 0 {
            continue;
        }
        let (ta, tb) = (type_list(pa), type_list(pb));
        if !ta.is_empty() && !tb.is_empty() && ta != tb {
            let detail = format!("{} → {}", ta.join("|"), tb.join("|"));
            let new_in_b = |t: JsonType| t != JsonType::Null && !ta.contains(&t.name());
            let eb = first_typed(pb, new_in_b).or_else(|| pb.example.clone());
            out.push(change(
                path,
                ShapeChangeKind::TypeChanged,
                detail,
                pa.present,
                pb.present,
                pa.example.clone(),
                eb,
            ));
        }
        let null_idx = JsonType::Null as usize;
        let (na, nb) = (pa.types.get(null_idx), pb.types.get(null_idx));
        if let (Some(na), Some(nb)) = (na, nb) {
            if na.0 == 0 && absence_is_telling(nb.0, pb.present, pa.present) {
                let detail = format!(
                    "null in {} of B's {} bodies with the field, never in A's {}",
                    nb.0, pb.present, pa.present
                );
                out.push(change(
                    path,
                    ShapeChangeKind::NowNullable,
                    detail,
                    pa.present,
                    pb.present,
                    pa.example.clone(),
                    nb.1.clone(),
                ));
            }
        }
        out.extend(new_values(path, pa, pb).into_iter().map(|(val, eb)| {
            let detail = format!("\"{val}\" (A answered only {})", quoted(pa));
            change(path, ShapeChangeKind::NewEnumValue, detail, pa.present, pb.present, pa.example.clone(), Some(eb))
        }));
    }
    out
}

fn quoted(ps: &PathStats) -> String {
    ps.values.keys().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
}

/// Values of an enum-like string field (A saw few distinct values, often) that B answered
/// and A, by its own rates, should have shown had it known them.
fn new_values(_path: &str, pa: &PathStats, pb: &PathStats) -> Vec<(String, ExampleRef)> {
    let string_a = pa.types.get(JsonType::String as usize).map_or(0, |t| t.0);
    // enum-like: a closed set in A, each value seen several times on average
    if pa.many_values || pa.values.is_empty() || string_a < MIN_EXPECTED as u64 * pa.values.len() as u64 {
        return Vec::new();
    }
    let string_b = pb.types.get(JsonType::String as usize).map_or(0, |t| t.0);
    pb.values
        .iter()
        .filter(|(v, (n, _))| !pa.values.contains_key(*v) && absence_is_telling(*n, string_b, string_a))
        .map(|(v, (_, at))| (v.clone(), at.clone()))
        .collect()
}

/// Every difference between two sides' shapes, for the (endpoint, status) pairs both have
/// bodies of, sorted by endpoint, status, path and kind.
#[must_use]
pub fn diff(a: &Shapes, b: &Shapes) -> Vec<ShapeChange> {
    let mut keys: Vec<&(String, u16)> = a.keys.keys().filter(|k| b.keys.contains_key(*k)).collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        if let (Some(x), Some(y)) = (a.keys.get(k), b.keys.get(k)) {
            if x.bodies > 0 && y.bodies > 0 {
                out.extend(diff_key(&k.0, k.1, x, y));
            }
        }
    }
    out
}

/// Per (endpoint, status) present on both sides: the inferred fields of one side, for the
/// JSON report (`path → types and presence`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldSummary {
    /// Path.
    pub path: String,
    /// Types seen.
    pub types: Vec<&'static str>,
    /// Share of bodies with the field.
    pub presence: f64,
}

/// The fields of one (endpoint, status) of one side, in path order.
#[must_use]
pub fn fields(ks: &KeyShape) -> Vec<FieldSummary> {
    ks.paths
        .iter()
        .map(|(p, ps)| FieldSummary {
            path: p.clone(),
            types: JsonType::ALL.iter().zip(&ps.types).filter(|(_, c)| c.0 > 0).map(|(t, _)| t.name()).collect(),
            presence: if ks.bodies == 0 { 0.0 } else { ps.present as f64 / ks.bodies as f64 },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(seq: u64, body: &str) -> Exchange {
        let mut e = Exchange::builder("GET", "/v1/thing")
            .status(200)
            .response_header("Content-Type", "application/json")
            .response_body(body)
            .build();
        e.seq = seq;
        e
    }

    fn shapes(bodies: &[&str]) -> Shapes {
        let mut s = Shapes::default();
        for (i, b) in bodies.iter().enumerate() {
            s.observe("GET /v1/thing", &ex(i as u64, b));
        }
        s
    }

    #[test]
    fn paths_types_and_presence_are_inferred() {
        let s = shapes(&[r#"{"a":1,"b":[{"c":"x"}]}"#, r#"{"a":2,"b":[]}"#]);
        let ks = s.keys.get(&("GET /v1/thing".to_string(), 200)).cloned().unwrap_or_default();
        assert_eq!(ks.bodies, 2);
        let f = fields(&ks);
        let got: Vec<(String, Vec<&str>, f64)> = f.into_iter().map(|x| (x.path, x.types, x.presence)).collect();
        assert_eq!(
            got,
            vec![
                ("$".to_string(), vec!["object"], 1.0),
                ("$.a".to_string(), vec!["number"], 1.0),
                ("$.b".to_string(), vec!["array"], 1.0),
                ("$.b[]".to_string(), vec!["object"], 0.5),
                ("$.b[].c".to_string(), vec!["string"], 0.5),
            ]
        );
    }

    #[test]
    fn the_same_bodies_on_both_sides_differ_in_nothing() {
        let bodies = [r#"{"id":1,"state":"open","px":null}"#, r#"{"id":2,"state":"done","px":1.5}"#];
        let bodies: Vec<&str> = bodies.iter().cycle().take(20).copied().collect();
        assert_eq!(diff(&shapes(&bodies), &shapes(&bodies)), Vec::new());
    }

    #[test]
    fn removed_added_retyped_nullable_and_new_values_are_found_with_examples() {
        let a: Vec<&str> = std::iter::repeat_n(r#"{"id":1,"state":"open","qty":5,"px":1.5,"old":true}"#, 10).collect();
        let mut b: Vec<&str> =
            std::iter::repeat_n(r#"{"id":"1","state":"open","qty":5,"px":null,"new":1}"#, 5).collect();
        b.extend(std::iter::repeat_n(r#"{"id":"2","state":"held","qty":5,"px":2.5,"new":2}"#, 5));
        let d = diff(&shapes(&a), &shapes(&b));
        let got: Vec<(&str, ShapeChangeKind)> = d.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("$.id", ShapeChangeKind::TypeChanged),
                ("$.new", ShapeChangeKind::Added),
                ("$.old", ShapeChangeKind::Removed),
                ("$.px", ShapeChangeKind::NowNullable),
                ("$.state", ShapeChangeKind::NewEnumValue),
            ]
        );
        assert!(d.iter().all(|c| c.example_a.is_some() && c.example_b.is_some()));
        let retyped = d.iter().find(|c| c.kind == ShapeChangeKind::TypeChanged).map(|c| c.detail.clone());
        assert_eq!(retyped.as_deref(), Some("number → string"));
        let held = d.iter().find(|c| c.kind == ShapeChangeKind::NewEnumValue).and_then(|c| c.example_b.clone());
        assert_eq!(held.map(|e| e.seq), Some(5));
    }

    #[test]
    fn a_rare_field_missing_from_a_small_sample_is_not_a_change() {
        // present in 1 of 10 A bodies: 0.1 × 5 = 0.5 expected in B, so its absence says nothing
        let mut a: Vec<&str> = std::iter::repeat_n(r#"{"id":1}"#, 9).collect();
        a.push(r#"{"id":1,"note":"x"}"#);
        let b: Vec<&str> = std::iter::repeat_n(r#"{"id":1}"#, 5).collect();
        assert_eq!(diff(&shapes(&a), &shapes(&b)), Vec::new());
    }

    #[test]
    fn bodies_past_the_limit_are_counted_not_read() {
        let bodies: Vec<&str> = std::iter::repeat_n(r#"{"a":1}"#, MAX_BODIES_PER_KEY as usize + 7).collect();
        let s = shapes(&bodies);
        let ks = s.keys.get(&("GET /v1/thing".to_string(), 200)).cloned().unwrap_or_default();
        assert_eq!((ks.bodies, ks.skipped), (MAX_BODIES_PER_KEY, 7));
    }
}
