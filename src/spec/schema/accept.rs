//! Accepting valid JSON bodies: decides that a JSON body is valid against a schema straight
//! from its bytes, without building a `serde_json::Value` of it. Most recorded bodies
//! are valid, and building the value (an ordered map per object, a `String` per key) costs
//! far more than checking it.
//!
//! The answer is only ever "valid" or "don't know": anything else (a violation, a keyword
//! this walk does not handle, text `serde_json` might parse differently) sends the body down
//! the exact path ([`super::SchemaStore::validate`]), which finds the same violations
//! and messages as before. So the fast path may only say "valid" where `jsonschema` agrees:
//! - the structure keywords are evaluated here: `type` (for objects and arrays),
//!   `properties`, `required`, `additionalProperties`, `items` (one schema), `minItems`,
//!   `maxItems`, `allOf` and local `$ref`s (Draft 4 ignores a `$ref`'s siblings, 2020-12 does
//!   not); annotations (`description`, `example`, `readOnly`, …) are skipped;
//! - scalar keywords (`type`, `enum`, `const`, `format`, `pattern`, bounds, lengths) are
//!   checked by a `jsonschema` validator compiled from just those keywords, on the scalar as
//!   `serde_json` would parse it; a type-only check or a string `enum` is done directly;
//! - `oneOf` / `anyOf` are decided here for scalars (each branch must give a definite
//!   answer); objects and arrays under them go to the exact validator of that sub-schema;
//! - every other keyword (`not`, `if`, `patternProperties`, `unevaluatedProperties`, `$id`,
//!   …) hands that sub-instance, parsed by `serde_json`, to the exact validator of that
//!   sub-schema.
//!
//! The byte walk accepts only what `serde_json::from_slice` accepts (strict JSON, valid
//! UTF-8, nesting below its recursion limit); for anything unusual it says "don't know".

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

/// Keywords that never affect validity (annotations and containers of other schemas).
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "xml",
    "externalDocs",
    "$comment",
    "$defs",
    "definitions",
];

/// Keywords that apply to scalars only and are checked by a leaf validator.
const SCALAR: &[&str] = &[
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
];

/// Nesting deeper than this is left to the exact path (`serde_json` stops at 128).
const MAX_DEPTH: usize = 100;

type NodeId = usize;

/// JSON types as a bit set.
const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_NUMBER: u8 = 16;
const T_INTEGER: u8 = 32;
const T_STRING: u8 = 64;

#[derive(Debug)]
enum Node {
    /// Accepts everything (`true`, `{}`).
    Any,
    /// Never decided here (`false`, a schema that cannot be handled at all).
    Unknown,
    /// Hand the sub-instance to this exact validator.
    Exact(Arc<Validator>),
    /// The same as another node (a schema that is only a `$ref`).
    Alias(NodeId),
    /// Only `allOf` (and `$ref`s): every one of these.
    AllOf(Vec<NodeId>),
    /// Evaluated here.
    Fast(Box<Fast>),
}

#[derive(Debug)]
enum Leaf {
    /// No scalar keyword.
    None,
    /// Only `type` (a bit set).
    Types(u8),
    /// Keywords checked here; what these checks cannot decide goes to `exact`.
    Checks(Box<Checks>),
    /// Anything else: checked by a validator of just the scalar keywords.
    Exact(Arc<Validator>),
}

/// Scalar keywords decided without building a value (see [`Checks::check`]).
#[derive(Debug)]
struct Checks {
    types: Option<u8>,
    /// `enum` of strings only.
    strings: Option<Vec<String>>,
    min_len: Option<u64>,
    max_len: Option<u64>,
    /// `pattern`, when written in the part of the syntax every engine reads alike.
    pattern: Option<regex::Regex>,
    /// `format: date-time`.
    date_time: bool,
    /// `minimum` / `maximum`.
    min: Option<Bound>,
    max: Option<Bound>,
    /// The same keywords, exactly.
    exact: Arc<Validator>,
}

/// A numeric bound exactly representable as both `i128` (when integral) and `f64`.
#[derive(Debug, Clone, Copy)]
struct Bound {
    f: f64,
    int: Option<i128>,
}

impl Bound {
    fn of(v: &Value) -> Option<Self> {
        if let Some(i) = v.as_i64() {
            return (i.unsigned_abs() <= 1 << 53).then_some(Self { f: i as f64, int: Some(i128::from(i)) });
        }
        if let Some(u) = v.as_u64() {
            return (u <= 1 << 53).then_some(Self { f: u as f64, int: Some(i128::from(u)) });
        }
        v.as_f64().filter(|f| f.is_finite()).map(|f| Self { f, int: None })
    }
}

/// What a fast check found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    Maybe,
}

/// A `pattern` compiled with `regex` when it uses only syntax that means the same to every
/// engine (ASCII literals, escaped punctuation, bracket classes without set operations,
/// anchors, groups, alternation, quantifiers); `None` otherwise.
fn simple_regex(p: &str) -> Option<regex::Regex> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' => {
                let n = *b.get(i + 1)?;
                if !b".-/\\()[]{}*+?^$|".contains(&n) {
                    return None;
                }
                i += 2;
                continue;
            }
            b'[' if in_class => return None,
            b'[' => in_class = true,
            b']' if in_class => in_class = false,
            b'-' if in_class && b.get(i + 1) == Some(&b'-') => return None,
            b'.' if !in_class => return None,
            b'(' if !in_class && b.get(i + 1) == Some(&b'?') => return None,
            c if c.is_ascii_alphanumeric() => {}
            b'_' | b'-' | b':' | b'/' | b',' | b'@' | b'=' | b'!' | b'\'' | b'"' | b'<' | b'>' | b'%' | b'.' => {}
            b'^' | b'$' | b'*' | b'+' | b'?' | b'(' | b')' | b'|' | b'{' | b'}' | b']' => {}
            _ => return None,
        }
        i += 1;
    }
    if in_class {
        return None;
    }
    regex::Regex::new(p).ok()
}

/// `date-time` in the strict shape `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with a real date,
/// hours below 24, minutes and seconds below 60 (a subset of what jsonschema accepts; leap
/// seconds and other spellings are left to it).
fn strict_date_time(s: &[u8]) -> bool {
    let d = |i: usize| s.get(i).filter(|c| c.is_ascii_digit()).map(|c| u32::from(c - b'0'));
    let n2 = |i: usize| Some(d(i)? * 10 + d(i + 1)?);
    let date = (|| {
        let year = n2(0)? * 100 + n2(2)?;
        let (month, day) = (n2(5)?, n2(8)?);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        let seps = s.get(4) == Some(&b'-') && s.get(7) == Some(&b'-') && s.get(10) == Some(&b'T');
        let time_seps = s.get(13) == Some(&b':') && s.get(16) == Some(&b':');
        (seps && time_seps && (1..=days).contains(&day) && n2(11)? < 24 && n2(14)? < 60 && n2(17)? < 60).then_some(())
    })();
    if date.is_none() {
        return false;
    }
    let mut i = 19;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let from = i;
        while d(i).is_some() {
            i += 1;
        }
        if i == from {
            return false;
        }
    }
    match s.get(i) {
        Some(b'Z') => i + 1 == s.len(),
        Some(b'+' | b'-') => {
            i + 6 == s.len()
                && s.get(i + 3) == Some(&b':')
                && n2(i + 1).is_some_and(|h| h < 24)
                && n2(i + 4).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

impl Checks {
    /// Build from the scalar keywords when each of them is one of those checked here.
    fn of(scalar: &Map<String, Value>, types: Option<u8>, exact: Arc<Validator>) -> Option<Self> {
        let mut c = Self {
            types,
            strings: None,
            min_len: None,
            max_len: None,
            pattern: None,
            date_time: false,
            min: None,
            max: None,
            exact,
        };
        for (k, v) in scalar {
            match k.as_str() {
                "type" => {}
                "enum" => {
                    let list = v.as_array()?;
                    c.strings = Some(list.iter().map(|e| e.as_str().map(str::to_string)).collect::<Option<_>>()?);
                }
                "minLength" => c.min_len = Some(v.as_u64()?),
                "maxLength" => c.max_len = Some(v.as_u64()?),
                "pattern" => c.pattern = Some(simple_regex(v.as_str()?)?),
                "format" if v.as_str() == Some("date-time") => c.date_time = true,
                "minimum" => c.min = Some(Bound::of(v)?),
                "maximum" => c.max = Some(Bound::of(v)?),
                _ => return None,
            }
        }
        Some(c)
    }

    fn allows(&self, t: u8) -> bool {
        self.types.is_none_or(|ts| ts & t != 0)
    }

    fn string(&self, s: &[u8]) -> Verdict {
        if !self.allows(T_STRING) {
            return Verdict::No;
        }
        if let Some(options) = &self.strings
            && !options.iter().any(|o| o.as_bytes() == s)
        {
            return Verdict::No;
        }
        if self.min_len.is_some() || self.max_len.is_some() {
            let chars = s.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
            if self.min_len.is_some_and(|m| chars < m) || self.max_len.is_some_and(|m| chars > m) {
                return Verdict::No;
            }
        }
        if let Some(re) = &self.pattern {
            let Ok(text) = std::str::from_utf8(s) else { return Verdict::Maybe };
            if !re.is_match(text) {
                return Verdict::No;
            }
        }
        if self.date_time && !strict_date_time(s) {
            return Verdict::Maybe;
        }
        Verdict::Yes
    }

    fn number(&self, n: &Num<'_>) -> Verdict {
        if self.strings.is_some() {
            return Verdict::No;
        }
        let (int, f) = match n {
            Num::Int(u) => (Some(i128::from(*u)), None),
            Num::Neg(i) => (Some(i128::from(*i)), None),
            Num::Other(text) => {
                // plain decimals only: `1e5`, `-0` and long digit strings go to the exact check
                if text.iter().any(|c| matches!(c, b'e' | b'E')) || text.len() > 40 {
                    return Verdict::Maybe;
                }
                match std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()) {
                    Some(f) => (None, Some(f)),
                    None => return Verdict::Maybe,
                }
            }
        };
        let typed = match (int, self.types) {
            (_, None) => true,
            (Some(_), Some(t)) => t & (T_INTEGER | T_NUMBER) != 0,
            (None, Some(t)) if t & T_NUMBER != 0 => true,
            // a float where only integers are allowed: drafts disagree about 1.0
            (None, Some(_)) if !n.fractional() => return Verdict::Maybe,
            (None, Some(_)) => false,
        };
        if !typed {
            return Verdict::No;
        }
        let within = |b: Bound, below: bool| -> Option<bool> {
            Some(match (int, b.int) {
                (Some(i), Some(l)) => {
                    if below {
                        i >= l
                    } else {
                        i <= l
                    }
                }
                (Some(i), None) => {
                    // exact as f64 only up to 2^53
                    if i.unsigned_abs() > 1 << 53 {
                        return None;
                    }
                    let x = i as f64;
                    if below { x >= b.f } else { x <= b.f }
                }
                (None, _) => {
                    let x = f?;
                    if below { x >= b.f } else { x <= b.f }
                }
            })
        };
        for (bound, below) in [(self.min, true), (self.max, false)] {
            if let Some(b) = bound {
                match within(b, below) {
                    Some(true) => {}
                    Some(false) => return Verdict::No,
                    None => return Verdict::Maybe,
                }
            }
        }
        Verdict::Yes
    }

    fn token(&self, tok: &Tok<'_>) -> Verdict {
        match tok {
            Tok::Str(s) => self.string(s),
            Tok::Num(n) => self.number(n),
            Tok::Bool(_) => self.other(T_BOOL),
            Tok::Null => self.other(T_NULL),
        }
    }

    fn other(&self, t: u8) -> Verdict {
        if self.strings.is_some() || !self.allows(t) { Verdict::No } else { Verdict::Yes }
    }
}

#[derive(Debug)]
enum Additional {
    Any,
    Node(NodeId),
}

#[derive(Debug)]
struct Fast {
    /// `type` as a bit set (`None`: any type).
    types: Option<u8>,
    leaf: Leaf,
    /// Objects and arrays go to this exact validator (an `enum`/`const`, or a container
    /// keyword not handled here, applies to them).
    containers_exact: Option<Arc<Validator>>,
    /// Name, schema, and bit in `required` when required.
    properties: Vec<(String, NodeId, Option<u8>)>,
    required: Vec<String>,
    /// Some required name has no `properties` entry.
    required_elsewhere: bool,
    additional: Additional,
    items: Option<NodeId>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    /// Schemas the same instance must also satisfy (`allOf`, 2020-12 `$ref`).
    all_of: Vec<NodeId>,
    /// `oneOf` / `anyOf` branches (decided here for scalars; objects and arrays go to
    /// `containers_exact`).
    one_of: Vec<NodeId>,
    any_of: Vec<NodeId>,
}

/// A compiled fast-path schema (one root pointer, one direction).
#[derive(Debug)]
pub struct Acceptor {
    nodes: Vec<Node>,
}

/// What the compiler needs from its store.
pub(crate) struct Compiler<'a> {
    /// The translated document of the direction.
    pub doc: &'a Value,
    /// The draft.
    pub draft: Draft,
    /// The exact validator of the schema at a pointer (`None`: it does not compile).
    pub exact: &'a dyn Fn(&str) -> Option<Arc<Validator>>,
}

impl Compiler<'_> {
    /// Compile the schema at `ptr`.
    pub fn compile(&self, ptr: &str) -> Acceptor {
        let mut c = Build { cx: self, nodes: Vec::new(), by_ptr: HashMap::new() };
        c.node(ptr, 0);
        Acceptor { nodes: c.nodes }
    }

    fn leaf_validator(&self, keys: &Map<String, Value>) -> Option<Arc<Validator>> {
        jsonschema::options()
            .with_draft(self.draft)
            .should_validate_formats(true)
            .build(&Value::Object(keys.clone()))
            .ok()
            .map(Arc::new)
    }
}

struct Build<'c, 'a> {
    cx: &'c Compiler<'a>,
    nodes: Vec<Node>,
    by_ptr: HashMap<String, NodeId>,
}

fn types_of(v: &Value) -> Option<u8> {
    let one = |t: &str| match t {
        "null" => Some(T_NULL),
        "boolean" => Some(T_BOOL),
        "object" => Some(T_OBJECT),
        "array" => Some(T_ARRAY),
        "number" => Some(T_NUMBER),
        "integer" => Some(T_INTEGER),
        "string" => Some(T_STRING),
        _ => None,
    };
    match v {
        Value::String(t) => one(t),
        Value::Array(a) if !a.is_empty() => a.iter().try_fold(0u8, |acc, t| Some(acc | one(t.as_str()?)?)),
        _ => None,
    }
}

/// True when some object on the way from the root to `ptr` (the target itself excluded)
/// changes the base URI or the dialect, so references below it would resolve elsewhere.
fn rebased(doc: &Value, ptr: &str) -> bool {
    let mut cur = doc;
    let mut parts = ptr.split('/').skip(1).peekable();
    loop {
        if let Value::Object(m) = cur
            && (m.contains_key("$id")
                || m.contains_key("$schema")
                || m.get("id").is_some_and(Value::is_string)
                || m.contains_key("$dynamicAnchor")
                || m.contains_key("$recursiveAnchor"))
        {
            return true;
        }
        let Some(part) = parts.next() else { return false };
        if parts.peek().is_none() {
            return false;
        }
        let key = part.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(m) => match m.get(&key) {
                Some(v) => v,
                None => return true,
            },
            Value::Array(a) => match key.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(v) => v,
                None => return true,
            },
            _ => return true,
        };
    }
}

impl Build<'_, '_> {
    fn push(&mut self, n: Node) -> NodeId {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn exact_or_unknown(&self, ptr: &str) -> Node {
        (self.cx.exact)(ptr).map_or(Node::Unknown, Node::Exact)
    }

    /// The node of the schema at `ptr` (compiled once; cycles through `$ref` are fine).
    fn node(&mut self, ptr: &str, depth: usize) -> NodeId {
        if let Some(id) = self.by_ptr.get(ptr) {
            return *id;
        }
        let id = self.push(Node::Unknown);
        self.by_ptr.insert(ptr.to_string(), id);
        let built = if depth > 64 || rebased(self.cx.doc, ptr) {
            self.exact_or_unknown(ptr)
        } else {
            match self.cx.doc.pointer(ptr) {
                Some(Value::Bool(true)) => Node::Any,
                Some(Value::Object(m)) => self.object_schema(m, ptr, depth),
                _ => Node::Unknown,
            }
        };
        if let Some(slot) = self.nodes.get_mut(id) {
            *slot = built;
        }
        id
    }

    /// The pointer a local `$ref` names, when it is a plain `#/…` pointer.
    fn ref_target(r: &str) -> Option<String> {
        let p = r.strip_prefix('#')?;
        (p.starts_with('/') && !p.contains('%')).then(|| p.to_string())
    }

    fn object_schema(&mut self, m: &Map<String, Value>, ptr: &str, depth: usize) -> Node {
        if m.is_empty() {
            return Node::Any;
        }
        let esc = crate::spec::load::ptr_escape;
        // Draft 4: a `$ref` replaces its siblings.
        if let Some(r) = m.get("$ref") {
            let Some(target) = r.as_str().and_then(Self::ref_target) else { return self.exact_or_unknown(ptr) };
            if self.cx.draft == Draft::Draft4 {
                return Node::Alias(self.node(&target, depth + 1));
            }
        }
        let mut f = Fast {
            types: None,
            leaf: Leaf::None,
            containers_exact: None,
            properties: Vec::new(),
            required: Vec::new(),
            required_elsewhere: false,
            additional: Additional::Any,
            items: None,
            min_items: None,
            max_items: None,
            all_of: Vec::new(),
            one_of: Vec::new(),
            any_of: Vec::new(),
        };
        let mut scalar = Map::new();
        let mut containers_exact = false;
        for (k, v) in m {
            match k.as_str() {
                "type" => {
                    let Some(t) = types_of(v) else { return self.exact_or_unknown(ptr) };
                    f.types = Some(t);
                    scalar.insert(k.clone(), v.clone());
                }
                "enum" | "const" => {
                    scalar.insert(k.clone(), v.clone());
                    containers_exact = true;
                }
                "nullable" if v.is_boolean() => {}
                k if SCALAR.contains(&k) => {
                    scalar.insert(k.to_string(), v.clone());
                }
                k if ANNOTATIONS.contains(&k) || k.starts_with("x-") => {}
                "$ref" => {
                    // 2020-12: the reference applies next to the siblings
                    let Some(target) = v.as_str().and_then(Self::ref_target) else {
                        return self.exact_or_unknown(ptr);
                    };
                    let t = self.node(&target, depth + 1);
                    f.all_of.push(t);
                }
                "properties" => {
                    let Value::Object(props) = v else { return self.exact_or_unknown(ptr) };
                    for (name, _) in props {
                        let child = self.node(&format!("{ptr}/properties/{}", esc(name)), depth + 1);
                        f.properties.push((name.clone(), child, None));
                    }
                }
                "required" => {
                    let Value::Array(list) = v else { return self.exact_or_unknown(ptr) };
                    for r in list {
                        let Some(r) = r.as_str() else { return self.exact_or_unknown(ptr) };
                        if !f.required.iter().any(|x| x == r) {
                            f.required.push(r.to_string());
                        }
                    }
                    if f.required.len() > 64 {
                        return self.exact_or_unknown(ptr);
                    }
                }
                "additionalProperties" => match v {
                    Value::Bool(true) => {}
                    Value::Bool(false) | Value::Object(_) => {
                        let child = self.node(&format!("{ptr}/additionalProperties"), depth + 1);
                        f.additional = Additional::Node(child);
                    }
                    _ => return self.exact_or_unknown(ptr),
                },
                "items" => match v {
                    Value::Bool(_) | Value::Object(_) => {
                        f.items = Some(self.node(&format!("{ptr}/items"), depth + 1));
                    }
                    _ => containers_exact = true,
                },
                "minItems" | "maxItems" => {
                    let Some(n) = v.as_u64() else {
                        containers_exact = true;
                        continue;
                    };
                    if k == "minItems" {
                        f.min_items = Some(n);
                    } else {
                        f.max_items = Some(n);
                    }
                }
                "allOf" | "oneOf" | "anyOf" => {
                    let Value::Array(list) = v else { return self.exact_or_unknown(ptr) };
                    for i in 0..list.len() {
                        let child = self.node(&format!("{ptr}/{k}/{i}"), depth + 1);
                        match k.as_str() {
                            "allOf" => f.all_of.push(child),
                            "oneOf" => f.one_of.push(child),
                            _ => f.any_of.push(child),
                        }
                    }
                    containers_exact |= k != "allOf";
                }
                // Everything else (composition, conditionals, pattern or unevaluated
                // properties, identifiers, dialect changes, keywords of other drafts):
                // the exact validator decides.
                _ => return self.exact_or_unknown(ptr),
            }
        }
        for (name, _, bit) in &mut f.properties {
            *bit = f.required.iter().position(|r| r == name).and_then(|p| u8::try_from(p).ok());
        }
        f.required_elsewhere = f.required.iter().any(|r| !f.properties.iter().any(|(n, _, _)| n == r));
        if containers_exact {
            match (self.cx.exact)(ptr) {
                Some(v) => f.containers_exact = Some(v),
                None => return Node::Unknown,
            }
        }
        f.leaf = if scalar.is_empty() {
            Leaf::None
        } else if scalar.len() == 1 && scalar.contains_key("type") {
            Leaf::Types(f.types.unwrap_or(0))
        } else {
            match self.cx.leaf_validator(&scalar) {
                Some(v) => match Checks::of(&scalar, f.types, Arc::clone(&v)) {
                    Some(c) => Leaf::Checks(Box::new(c)),
                    None => Leaf::Exact(v),
                },
                None => return self.exact_or_unknown(ptr),
            }
        };
        if f.types.is_none()
            && matches!(f.leaf, Leaf::None)
            && f.containers_exact.is_none()
            && f.properties.is_empty()
            && f.required.is_empty()
            && matches!(f.additional, Additional::Any)
            && f.items.is_none()
            && f.min_items.is_none()
            && f.max_items.is_none()
            && f.one_of.is_empty()
            && f.any_of.is_empty()
        {
            // only applicators: no walk of its own
            return match f.all_of.as_slice() {
                [] => Node::Any,
                [one] => Node::Alias(*one),
                _ => Node::AllOf(f.all_of),
            };
        }
        Node::Fast(Box::new(f))
    }
}

/// Why the walk gave up (never shown: the exact path takes over).
#[derive(Debug)]
pub struct Unsure;

type R<T> = Result<T, Unsure>;

impl Acceptor {
    /// True when `body` is one JSON document (as `serde_json::from_slice` reads it) that
    /// is valid against the schema; false when that is not certain.
    #[must_use]
    pub fn valid(&self, body: &[u8]) -> bool {
        if std::str::from_utf8(body).is_err() {
            return false;
        }
        let mut w = Walker { b: body, i: 0 };
        let ok = w.ws().and_then(|()| self.check(0, &mut w, 0)).and_then(|()| w.ws());
        ok.is_ok() && w.i == body.len()
    }

    fn check(&self, id: NodeId, w: &mut Walker<'_>, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        if !matches!(w.peek()?, b'{' | b'[') {
            let tok = w.token()?;
            return if self.verdict(id, &tok, depth) == Verdict::Yes { Ok(()) } else { Err(Unsure) };
        }
        match self.nodes.get(id).ok_or(Unsure)? {
            Node::Any => w.skip(depth),
            Node::Unknown => Err(Unsure),
            Node::Exact(v) => exact(v, w, depth),
            Node::Alias(t) => self.check(*t, w, depth + 1),
            Node::AllOf(list) => {
                let start = w.i;
                let mut end = None;
                for sub in list {
                    w.i = start;
                    self.check(*sub, w, depth + 1)?;
                    if *end.get_or_insert(w.i) != w.i {
                        return Err(Unsure);
                    }
                }
                Ok(())
            }
            Node::Fast(f) => {
                let start = w.i;
                self.check_fast(f, w, depth)?;
                let end = w.i;
                for sub in &f.all_of {
                    w.i = start;
                    self.check(*sub, w, depth + 1)?;
                    if w.i != end {
                        return Err(Unsure);
                    }
                }
                Ok(())
            }
        }
    }

    fn check_fast(&self, f: &Fast, w: &mut Walker<'_>, depth: usize) -> R<()> {
        match w.peek()? {
            b'{' => {
                if f.types.is_some_and(|t| t & T_OBJECT == 0) {
                    return Err(Unsure);
                }
                if let Some(v) = &f.containers_exact {
                    return exact(v, w, depth);
                }
                w.i += 1;
                let mut seen: u64 = 0;
                // bodies usually list properties in the schema's order: try the next one first
                let mut cursor = 0usize;
                w.ws()?;
                if w.peek()? == b'}' {
                    w.i += 1;
                } else {
                    loop {
                        w.ws()?;
                        let key = w.string()?;
                        w.ws()?;
                        w.expect(b':')?;
                        w.ws()?;
                        let key: &[u8] = &key;
                        let found = match f.properties.get(cursor) {
                            Some((n, _, _)) if n.as_bytes() == key => Some(cursor),
                            _ => f.properties.iter().position(|(n, _, _)| n.as_bytes() == key),
                        };
                        if f.required_elsewhere
                            && found.is_none()
                            && let Some(pos) = f.required.iter().position(|r| r.as_bytes() == key)
                        {
                            seen |= 1 << pos;
                        }
                        match found.and_then(|i| f.properties.get(i).map(|p| (i, p))) {
                            Some((i, (_, child, bit))) => {
                                cursor = i + 1;
                                if let Some(b) = bit {
                                    seen |= 1 << b;
                                }
                                self.check(*child, w, depth + 1)?;
                            }
                            None => match f.additional {
                                Additional::Any => w.skip(depth + 1)?,
                                Additional::Node(child) => self.check(child, w, depth + 1)?,
                            },
                        }
                        w.ws()?;
                        match w.next()? {
                            b',' => {}
                            b'}' => break,
                            _ => return Err(Unsure),
                        }
                    }
                }
                let all = if f.required.len() >= 64 { u64::MAX } else { (1u64 << f.required.len()) - 1 };
                if seen == all { Ok(()) } else { Err(Unsure) }
            }
            b'[' => {
                if f.types.is_some_and(|t| t & T_ARRAY == 0) {
                    return Err(Unsure);
                }
                if let Some(v) = &f.containers_exact {
                    return exact(v, w, depth);
                }
                w.i += 1;
                let mut n: u64 = 0;
                w.ws()?;
                if w.peek()? == b']' {
                    w.i += 1;
                } else {
                    loop {
                        w.ws()?;
                        match f.items {
                            Some(child) => self.check(child, w, depth + 1)?,
                            None => w.skip(depth + 1)?,
                        }
                        n += 1;
                        w.ws()?;
                        match w.next()? {
                            b',' => {}
                            b']' => break,
                            _ => return Err(Unsure),
                        }
                    }
                }
                if f.min_items.is_some_and(|m| n < m) || f.max_items.is_some_and(|m| n > m) {
                    return Err(Unsure);
                }
                Ok(())
            }
            // scalars are decided by `verdict`
            _ => Err(Unsure),
        }
    }

    /// Whether the scalar `tok` is valid against the node: `Maybe` only where a keyword is
    /// not evaluated here at all.
    fn verdict(&self, id: NodeId, tok: &Tok<'_>, depth: usize) -> Verdict {
        if depth > MAX_DEPTH {
            return Verdict::Maybe;
        }
        match self.nodes.get(id) {
            None | Some(Node::Unknown) => Verdict::Maybe,
            Some(Node::Any) => Verdict::Yes,
            Some(Node::Exact(v)) => exact_scalar(v, tok),
            Some(Node::Alias(t)) => self.verdict(*t, tok, depth + 1),
            Some(Node::AllOf(list)) => all(list.iter().map(|n| self.verdict(*n, tok, depth + 1))),
            Some(Node::Fast(f)) => {
                let own = match &f.leaf {
                    Leaf::None => Verdict::Yes,
                    Leaf::Types(t) => type_verdict(*t, tok),
                    Leaf::Checks(c) => match c.token(tok) {
                        Verdict::Maybe => exact_scalar(&c.exact, tok),
                        v => v,
                    },
                    Leaf::Exact(v) => exact_scalar(v, tok),
                };
                let mut v = all(std::iter::once(own).chain(f.all_of.iter().map(|n| self.verdict(*n, tok, depth + 1))));
                if v != Verdict::No && !f.one_of.is_empty() {
                    let mut yes = 0;
                    for n in &f.one_of {
                        match self.verdict(*n, tok, depth + 1) {
                            Verdict::Yes => yes += 1,
                            Verdict::No => {}
                            Verdict::Maybe => return Verdict::Maybe,
                        }
                    }
                    v = all([v, if yes == 1 { Verdict::Yes } else { Verdict::No }]);
                }
                if v != Verdict::No && !f.any_of.is_empty() {
                    let mut any = Verdict::No;
                    for n in &f.any_of {
                        match self.verdict(*n, tok, depth + 1) {
                            Verdict::Yes => {
                                any = Verdict::Yes;
                                break;
                            }
                            Verdict::Maybe => any = Verdict::Maybe,
                            Verdict::No => {}
                        }
                    }
                    v = all([v, any]);
                }
                v
            }
        }
    }
}

/// Every one of the verdicts: no if any is no, else maybe if any is maybe.
fn all(vs: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut out = Verdict::Yes;
    for v in vs {
        match v {
            Verdict::No => return Verdict::No,
            Verdict::Maybe => out = Verdict::Maybe,
            Verdict::Yes => {}
        }
    }
    out
}

/// `type` alone against a scalar (a number with a fraction or exponent may still be an
/// integer to some drafts: maybe).
fn type_verdict(t: u8, tok: &Tok<'_>) -> Verdict {
    let found = tok.json_type();
    if t & found != 0 || (found == T_INTEGER && t & T_NUMBER != 0) {
        Verdict::Yes
    } else if found == T_NUMBER && t & T_INTEGER != 0 && !matches!(tok, Tok::Num(n) if n.fractional()) {
        Verdict::Maybe
    } else {
        Verdict::No
    }
}

/// An exact validator on the scalar, built as `serde_json` would build it.
fn exact_scalar(v: &Validator, tok: &Tok<'_>) -> Verdict {
    match tok.value() {
        Ok(value) if v.is_valid(&value) => Verdict::Yes,
        Ok(_) => Verdict::No,
        Err(Unsure) => Verdict::Maybe,
    }
}

/// One scalar as read.
enum Tok<'a> {
    Str(std::borrow::Cow<'a, [u8]>),
    Num(Num<'a>),
    Bool(bool),
    Null,
}

impl Tok<'_> {
    fn json_type(&self) -> u8 {
        match self {
            Self::Str(_) => T_STRING,
            Self::Num(Num::Int(_) | Num::Neg(_)) => T_INTEGER,
            Self::Num(Num::Other(_)) => T_NUMBER,
            Self::Bool(_) => T_BOOL,
            Self::Null => T_NULL,
        }
    }

    fn value(&self) -> R<Value> {
        Ok(match self {
            Self::Str(s) => Value::String(String::from_utf8(s.to_vec()).map_err(|_| Unsure)?),
            Self::Num(Num::Int(n)) => Value::from(*n),
            Self::Num(Num::Neg(n)) => Value::from(*n),
            Self::Num(Num::Other(text)) => serde_json::from_slice::<Value>(text).map_err(|_| Unsure)?,
            Self::Bool(b) => Value::Bool(*b),
            Self::Null => Value::Null,
        })
    }
}

/// Parse the next value with `serde_json` and validate it exactly.
fn exact(v: &Validator, w: &mut Walker<'_>, depth: usize) -> R<()> {
    let start = w.i;
    w.skip(depth)?;
    let value: Value = serde_json::from_slice(w.b.get(start..w.i).ok_or(Unsure)?).map_err(|_| Unsure)?;
    if v.is_valid(&value) { Ok(()) } else { Err(Unsure) }
}

/// A strict JSON reader over bytes already known to be UTF-8.
struct Walker<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Walker<'a> {
    fn peek(&self) -> R<u8> {
        self.b.get(self.i).copied().ok_or(Unsure)
    }

    fn next(&mut self) -> R<u8> {
        let c = self.peek()?;
        self.i += 1;
        Ok(c)
    }

    fn expect(&mut self, c: u8) -> R<()> {
        if self.next()? == c { Ok(()) } else { Err(Unsure) }
    }

    fn ws(&mut self) -> R<()> {
        while let Some(c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.i += 1;
        }
        Ok(())
    }

    fn literal(&mut self, lit: &[u8]) -> R<()> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// Skip one value, checking its syntax.
    fn skip(&mut self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws()?;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws()?;
                    if self.peek()? != b'"' {
                        return Err(Unsure);
                    }
                    self.skip_string()?;
                    self.ws()?;
                    self.expect(b':')?;
                    self.ws()?;
                    self.skip(depth + 1)?;
                    self.ws()?;
                    match self.next()? {
                        b',' => {}
                        b'}' => return Ok(()),
                        _ => return Err(Unsure),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws()?;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws()?;
                    self.skip(depth + 1)?;
                    self.ws()?;
                    match self.next()? {
                        b',' => {}
                        b']' => return Ok(()),
                        _ => return Err(Unsure),
                    }
                }
            }
            _ => self.scalar_type().map(|_| ()),
        }
    }

    /// Read one scalar and say which type it is (an integer without fraction or exponent
    /// that fits 18 digits is `T_INTEGER`, any other number `T_NUMBER`).
    fn scalar_type(&mut self) -> R<u8> {
        match self.peek()? {
            b'"' => self.skip_string().map(|()| T_STRING),
            b't' => self.literal(b"true").map(|()| T_BOOL),
            b'f' => self.literal(b"false").map(|()| T_BOOL),
            b'n' => self.literal(b"null").map(|()| T_NULL),
            b'-' | b'0'..=b'9' => self.number().map(|n| match n {
                Num::Int(_) | Num::Neg(_) => T_INTEGER,
                Num::Other(_) => T_NUMBER,
            }),
            _ => Err(Unsure),
        }
    }

    /// Read one scalar.
    fn token(&mut self) -> R<Tok<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Tok::Str),
            b't' => self.literal(b"true").map(|()| Tok::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Tok::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Tok::Null),
            b'-' | b'0'..=b'9' => self.number().map(Tok::Num),
            _ => Err(Unsure),
        }
    }

    /// A number token (JSON grammar). Integers of at most 18 digits come back parsed (as
    /// `serde_json` stores them); everything else as text for `serde_json`.
    fn number(&mut self) -> R<Num<'a>> {
        let start = self.i;
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => {
                while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(Unsure),
        }
        let int_end = self.i;
        let mut plain = true;
        if self.b.get(self.i) == Some(&b'.') {
            plain = false;
            self.i += 1;
            if !matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                return Err(Unsure);
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            plain = false;
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                return Err(Unsure);
            }
            while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        let text = self.b.get(start..self.i).ok_or(Unsure)?;
        if text.len() > 300 || text.iter().any(|c| matches!(c, b'e' | b'E')) {
            // serde_json refuses numbers out of the f64 range
            serde_json::from_slice::<Value>(text).map_err(|_| Unsure)?;
        }
        if plain && int_end - int_start <= 18 {
            let mut n: u64 = 0;
            for d in self.b.get(int_start..int_end).ok_or(Unsure)? {
                n = n * 10 + u64::from(d - b'0');
            }
            if !neg {
                return Ok(Num::Int(n));
            }
            // serde_json reads `-0` as a float
            if let Ok(n) = i64::try_from(n)
                && n != 0
            {
                return Ok(Num::Neg(-n));
            }
        }
        Ok(Num::Other(text))
    }

    fn skip_string(&mut self) -> R<()> {
        self.string().map(|_| ())
    }

    /// A string token, unescaped. `\u` escapes and control characters are left to
    /// `serde_json`.
    fn string(&mut self) -> R<std::borrow::Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let mut owned: Option<Vec<u8>> = None;
        let mut run = self.i;
        loop {
            // a word at a time: keys and short values end within a few bytes
            self.i = crate::model::json_string::string_special(self.b, self.i).ok_or(Unsure)?;
            match self.next()? {
                b'"' => {
                    let tail = self.b.get(run..self.i - 1).ok_or(Unsure)?;
                    return Ok(match owned {
                        None => std::borrow::Cow::Borrowed(tail),
                        Some(mut o) => {
                            o.extend_from_slice(tail);
                            std::borrow::Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    let o = owned.get_or_insert_with(Vec::new);
                    o.extend_from_slice(self.b.get(run..self.i - 1).ok_or(Unsure)?);
                    o.push(crate::model::json_string::simple_escape(self.next()?).ok_or(Unsure)?);
                    run = self.i;
                }
                _ => return Err(Unsure),
            }
        }
    }
}

enum Num<'a> {
    Int(u64),
    Neg(i64),
    Other(&'a [u8]),
}

impl Num<'_> {
    /// Certainly not an integer in any draft: written without exponent, with a non-zero
    /// digit after the point (`1.5`, not `2.0` or `1e3`).
    fn fractional(&self) -> bool {
        let Self::Other(text) = self else { return false };
        if text.iter().any(|c| matches!(c, b'e' | b'E')) {
            return false;
        }
        text.iter()
            .position(|&c| c == b'.')
            .is_some_and(|p| text.get(p + 1..).is_some_and(|f| f.iter().any(|&d| d != b'0')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(doc: &Value, ptr: &str, draft: Draft) -> Acceptor {
        let reg = jsonschema::Registry::new().draft(draft).add("urn:t", doc.clone()).and_then(|r| r.prepare());
        let reg = reg.expect("registry");
        let exact = |p: &str| {
            let wrapper = json!({ "$ref": format!("urn:t#{p}") });
            jsonschema::options()
                .with_draft(draft)
                .with_registry(&reg)
                .should_validate_formats(true)
                .build(&wrapper)
                .ok()
                .map(Arc::new)
        };
        Compiler { doc, draft, exact: &exact }.compile(ptr)
    }

    fn doc() -> Value {
        json!({"s": {
            "Quote": {"type": "object", "required": ["symbol", "bid"], "properties": {
                "symbol": {"type": "string"},
                "bid": {"type": "number", "minimum": 0},
                "n": {"type": "integer"},
                "ts": {"type": "string", "format": "date-time"},
                "ex": {"$ref": "#/s/Ex"},
                "maybe": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
            }},
            "Ex": {"type": "string", "enum": ["XNAS", "BATS"]},
            "Closed": {"type": "object", "properties": {"a": {}}, "additionalProperties": false},
            "Both": {"allOf": [{"$ref": "#/s/Quote"}, {"required": ["n"]}]}
        }})
    }

    #[test]
    fn valid_bodies_are_recognised_without_building_values() {
        let d = doc();
        let q = compile(&d, "/s/Quote", Draft::Draft202012);
        for body in [
            r#"{"symbol":"A","bid":1.5}"#,
            r#" {"symbol":"A\"B","bid":0,"n":3,"ts":"2024-03-12T13:29:59.896Z","ex":"BATS","maybe":null,"tags":["x","y"]} "#,
            r#"{"bid":2,"symbol":"\u00e9","extra":{"deep":[1,2,{"x":null}]}}"#,
        ] {
            let v: Value = serde_json::from_str(body).unwrap();
            let exact = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&json!({"$ref": "#/s/Quote", "s": d["s"]}))
                .unwrap();
            assert!(exact.is_valid(&v), "{body}");
            // `\u` escapes are left to the exact path
            assert_eq!(q.valid(body.as_bytes()), !body.contains("\\u"), "{body}");
        }
    }

    #[test]
    fn violations_and_unusual_json_are_never_called_valid() {
        let d = doc();
        let q = compile(&d, "/s/Quote", Draft::Draft202012);
        for body in [
            r#"{"symbol":"A"}"#,
            r#"{"symbol":"A","bid":-1}"#,
            r#"{"symbol":"A","bid":1,"n":1.5}"#,
            r#"{"symbol":"A","bid":1,"ts":"yesterday"}"#,
            r#"{"symbol":"A","bid":1,"ex":"XXXX"}"#,
            r#"{"symbol":"A","bid":1,"maybe":3}"#,
            r#"{"symbol":"A","bid":1,"tags":["a","b","c"]}"#,
            r#"{"symbol":"A","bid":1} x"#,
            r#"{"symbol":"A","bid":01}"#,
            r#"{"symbol":"A","bid":1,}"#,
            "{\"symbol\":\"A\u{1}\",\"bid\":1}",
            r#"{"symbol":"A","bid":1e999}"#,
            r#"[]"#,
            "",
        ] {
            assert!(!q.valid(body.as_bytes()), "{body}");
        }
        let closed = compile(&d, "/s/Closed", Draft::Draft202012);
        assert!(closed.valid(br#"{"a":[1]}"#));
        assert!(!closed.valid(br#"{"a":1,"b":2}"#));
        let both = compile(&d, "/s/Both", Draft::Draft202012);
        assert!(both.valid(br#"{"symbol":"A","bid":1,"n":2}"#));
        assert!(!both.valid(br#"{"symbol":"A","bid":1}"#));
    }

    #[test]
    fn draft4_refs_ignore_their_siblings() {
        let d = json!({"a": {"$ref": "#/b", "type": "integer"}, "b": {"type": "string"}});
        assert!(compile(&d, "/a", Draft::Draft4).valid(br#""text""#));
        assert!(!compile(&d, "/a", Draft::Draft202012).valid(br#""text""#));
    }

    #[test]
    fn numbers_match_serde_json() {
        let d = json!({"i": {"type": "integer"}, "m": {"type": "number", "maximum": 1e300}});
        let i = compile(&d, "/i", Draft::Draft202012);
        assert!(i.valid(b"123456789012345678"));
        assert!(i.valid(b"-5"));
        assert!(!i.valid(b"-"));
        assert!(!i.valid(b"1."));
        let m = compile(&d, "/m", Draft::Draft202012);
        assert!(m.valid(b"-0.5e10"));
        assert!(!m.valid(b"1e400"), "serde_json rejects out-of-range numbers");
    }

    #[test]
    fn strict_date_times_are_a_subset_of_what_jsonschema_accepts() {
        let v = jsonschema::options().should_validate_formats(true).build(&json!({"format": "date-time"})).unwrap();
        let cases = [
            ("2024-03-12T13:29:59.896329Z", true),
            ("2024-02-29T00:00:00+01:00", true),
            ("2000-02-29T23:59:59-23:59", true),
            ("2023-02-29T00:00:00Z", false),
            ("1900-02-29T00:00:00Z", false),
            ("2024-04-31T00:00:00Z", false),
            ("2024-03-12T24:00:00Z", false),
            ("2024-03-12T23:60:00Z", false),
            ("2024-12-31T23:59:60Z", false),
            ("2024-03-12t13:29:59z", false),
            ("2024-03-12T13:29:59.Z", false),
            ("2024-03-12T13:29:59", false),
            ("2024-03-12T13:29:59+0100", false),
            ("2024-03-12T13:29:59+24:00", false),
            ("2024-03-12 13:29:59Z", false),
            ("2024-3-12T13:29:59Z", false),
        ];
        for (text, strict) in cases {
            assert_eq!(strict_date_time(text.as_bytes()), strict, "{text}");
            if strict {
                assert!(v.is_valid(&json!(text)), "{text}");
            }
        }
    }

    #[test]
    fn only_engine_neutral_patterns_are_compiled_here() {
        for p in ["^[A-Z][A-Z0-9.]{0,5}$", "^-?[0-9]+(\\.[0-9]+)?$", "^ord_[0-9a-f]{16}$", "^(a|b)+x?$"] {
            let re = simple_regex(p).unwrap_or_else(|| panic!("{p}"));
            let exact = jsonschema::options().build(&json!({"pattern": p})).unwrap();
            for text in ["A", "BRK.B", "-1.5", "1.", "ord_0123456789abcdef", "ab", "abx", "", "\u{e9}", "A\n"] {
                assert_eq!(re.is_match(text), exact.is_valid(&json!(text)), "{p} on {text:?}");
            }
        }
        for p in ["^a.b$", "\\d+", "[a-z&&[^x]]", "(?i)a", "[a--b]", "\\w", "^caf\u{e9}$", "[abc"] {
            assert!(simple_regex(p).is_none(), "{p}");
        }
    }

    #[test]
    fn one_of_and_any_of_on_scalars_count_branches() {
        let d = json!({"o": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
            "a": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]},
            "n": {"oneOf": [{"type": "integer"}, {"type": "string"}]}});
        let o = compile(&d, "/o", Draft::Draft202012);
        assert!(o.valid(b"1.5"));
        assert!(!o.valid(b"1"), "both branches match");
        let a = compile(&d, "/a", Draft::Draft202012);
        assert!(a.valid(b"null") && a.valid(br#""ab""#));
        assert!(!a.valid(br#""abc""#) && !a.valid(b"1"));
        // 2.0 is an integer to 2020-12, not to Draft 4: never guessed, left to the exact path
        let n = compile(&d, "/n", Draft::Draft202012);
        assert!(n.valid(b"2") && n.valid(br#""x""#));
        assert!(!n.valid(b"2.5"));
        assert!(!n.valid(b"2.0"));
        assert!(!compile(&d, "/n", Draft::Draft4).valid(b"2.0"));
    }
}
