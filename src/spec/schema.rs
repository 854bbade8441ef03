//! JSON Schema validation of parameter values and bodies against the spec's schemas, with
//! `jsonschema`. The whole (bundled) document is registered as one resource per direction
//! (`urn:apiscope:request`, `urn:apiscope:response`) so every `$ref` resolves, after the
//! OpenAPI-specific rewrites: 3.0 `nullable` becomes a `null` type (or an `anyOf` with
//! `null` next to a `$ref`/composition), `readOnly` properties stop being required in
//! requests and `writeOnly` ones in responses. 3.0 schemas validate as Draft 4, 3.1 as
//! 2020-12. One validator is compiled per (schema pointer, direction) and cached.
//!
//! Also here: the `--strict` walk that lists response properties no schema documents, and
//! [`accept`], which accepts a valid JSON body straight from its bytes.

pub mod accept;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Map, Value};

use super::load::{OasVersion, resolve};
use accept::{Acceptor, Compiler};

/// Which side of the exchange a schema is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Request (readOnly properties are not required).
    Request,
    /// Response (writeOnly properties are not required).
    Response,
}

impl Direction {
    fn uri(self) -> &'static str {
        match self {
            Self::Request => "urn:apiscope:request",
            Self::Response => "urn:apiscope:response",
        }
    }
}

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance (`/orders/3/qty`).
    pub instance_path: String,
    /// The failing keyword (`type`, `required`, `enum`, …).
    pub keyword: String,
    /// Human-readable message.
    pub message: String,
}

type Compiled = Option<Arc<Validator>>;

/// Compiled-on-demand validators for one spec.
pub struct SchemaStore {
    version: OasVersion,
    doc: Arc<Value>,
    regs: [OnceLock<Result<Registry<'static>, String>>; 2],
    cache: Mutex<HashMap<(String, Direction), Compiled>>,
    /// Schemas that could not be compiled: pointer → reason (reported once).
    pub failures: Mutex<Vec<(String, String)>>,
    /// Why the schema at (pointer, direction) could not be compiled.
    reasons: Mutex<HashMap<(String, Direction), String>>,
    /// The document as validated, per direction (see [`translate`]).
    translated: [OnceLock<Value>; 2],
    /// Fast-path schemas per pointer and direction (`None`: the schema does not compile).
    fast: Mutex<HashMap<String, FastPair>>,
}

/// Fast-path schemas of one pointer: request, response (outer `None`: not compiled yet).
type FastPair = [Option<Option<Arc<Acceptor>>>; 2];

impl std::fmt::Debug for SchemaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaStore").field("version", &self.version).finish_non_exhaustive()
    }
}

/// Percent-encode a JSON pointer for use as a URI fragment.
fn fragment(ptr: &str) -> String {
    let mut out = String::with_capacity(ptr.len() + 8);
    for b in ptr.bytes() {
        if b.is_ascii_alphanumeric() || b"/~-._!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl SchemaStore {
    /// A store over the bundled document.
    #[must_use]
    pub fn new(version: OasVersion, doc: Arc<Value>) -> Self {
        Self {
            version,
            doc,
            regs: [OnceLock::new(), OnceLock::new()],
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(Vec::new()),
            reasons: Mutex::new(HashMap::new()),
            translated: [OnceLock::new(), OnceLock::new()],
            fast: Mutex::new(HashMap::new()),
        }
    }

    fn draft(&self) -> Draft {
        match self.version {
            OasVersion::V30 => Draft::Draft4,
            OasVersion::V31 => Draft::Draft202012,
        }
    }

    fn registry(&self, dir: Direction) -> Result<&Registry<'static>, String> {
        let slot = &self.regs[usize::from(dir == Direction::Response)];
        slot.get_or_init(|| {
            let translated = self.translated(dir).clone();
            Registry::new()
                .draft(self.draft())
                .add(dir.uri(), translated)
                .and_then(jsonschema::RegistryBuilder::prepare)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    fn translated(&self, dir: Direction) -> &Value {
        self.translated[usize::from(dir == Direction::Response)].get_or_init(|| translate(&self.doc, self.version, dir))
    }

    /// A validator of the schema at `ptr` (not cached, failures not recorded).
    fn build(&self, ptr: &str, dir: Direction) -> Result<Validator, String> {
        let reg = self.registry(dir)?;
        let wrapper = serde_json::json!({ "$ref": format!("{}#{}", dir.uri(), fragment(ptr)) });
        jsonschema::options()
            .with_draft(self.draft())
            .with_registry(reg)
            .should_validate_formats(true)
            .build(&wrapper)
            .map_err(|e| e.to_string())
    }

    /// True when `body` is a JSON document valid against the schema at `ptr`, decided
    /// without building a value of it ([`accept`]); false when that is not certain
    /// (then [`Self::validate`] decides).
    #[must_use]
    pub fn accepts(&self, ptr: &str, dir: Direction, body: &[u8]) -> bool {
        let slot = usize::from(dir == Direction::Response);
        let known = self.fast.lock().ok().and_then(|m| m.get(ptr).and_then(|p| p[slot].clone()));
        let fast = match known {
            Some(f) => f,
            None => {
                let compiled = self.validator(ptr, dir).map(|_| {
                    let exact = |p: &str| self.build(p, dir).ok().map(Arc::new);
                    Arc::new(Compiler { doc: self.translated(dir), draft: self.draft(), exact: &exact }.compile(ptr))
                });
                if let Ok(mut m) = self.fast.lock() {
                    m.entry(ptr.to_string()).or_default()[slot] = Some(compiled.clone());
                }
                compiled
            }
        };
        fast.is_some_and(|f| f.valid(body))
    }

    fn validator(&self, ptr: &str, dir: Direction) -> Compiled {
        let key = (ptr.to_string(), dir);
        if let Ok(c) = self.cache.lock()
            && let Some(v) = c.get(&key)
        {
            return v.clone();
        }
        let built = self.build(ptr, dir).map(Arc::new);
        let compiled = match built {
            Ok(v) => Some(v),
            Err(e) => {
                if let Ok(mut r) = self.reasons.lock() {
                    r.entry((ptr.to_string(), dir)).or_insert_with(|| e.clone());
                }
                if let Ok(mut f) = self.failures.lock()
                    && !f.iter().any(|(p, _)| p == ptr)
                {
                    f.push((ptr.to_string(), e));
                }
                None
            }
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, compiled.clone());
        }
        compiled
    }

    /// Validate `instance` against the schema at `ptr`. `None` when the schema could not be
    /// compiled (recorded in `failures`); otherwise the first violations (at most 8).
    #[must_use]
    pub fn validate(&self, ptr: &str, dir: Direction, instance: &Value) -> Option<Vec<Violation>> {
        let v = self.validator(ptr, dir)?;
        if v.is_valid(instance) {
            return Some(Vec::new());
        }
        Some(
            v.iter_errors(instance)
                .take(8)
                .map(|e| Violation {
                    instance_path: e.instance_path().to_string(),
                    keyword: e.kind().keyword().to_string(),
                    message: e.to_string(),
                })
                .collect(),
        )
    }

    /// Why the schema at `ptr` could not be compiled for `dir` (after [`Self::validate`]
    /// returned `None` for it).
    #[must_use]
    pub fn failure_reason(&self, ptr: &str, dir: Direction) -> Option<String> {
        self.reasons.lock().ok()?.get(&(ptr.to_string(), dir)).cloned()
    }

    /// The resolved schema object at `ptr` (following `$ref`s), from the raw document.
    #[must_use]
    pub fn schema_at(&self, ptr: &str) -> Option<&Value> {
        let v = self.doc.pointer(ptr)?;
        resolve(&self.doc, v, ptr).ok().map(|(v, _)| v)
    }

    /// The document.
    #[must_use]
    pub fn doc(&self) -> &Value {
        &self.doc
    }
}

/// The document rewritten for validation in one direction.
#[must_use]
pub fn translate(doc: &Value, version: OasVersion, dir: Direction) -> Value {
    // Collect `required` edits first (needs the untouched document to resolve refs).
    let mut edits: Vec<(String, Vec<Value>)> = Vec::new();
    collect_required_edits(doc, doc, "", dir, &mut edits, 0);
    let mut out = doc.clone();
    for (ptr, req) in edits {
        if let Some(slot) = out.pointer_mut(&ptr) {
            *slot = Value::Array(req);
        }
    }
    if version == OasVersion::V30 {
        rewrite_nullable(&mut out);
    }
    out
}

fn collect_required_edits(
    doc: &Value,
    v: &Value,
    ptr: &str,
    dir: Direction,
    edits: &mut Vec<(String, Vec<Value>)>,
    depth: usize,
) {
    if depth > 200 {
        return;
    }
    match v {
        Value::Object(m) => {
            if let (Some(Value::Array(req)), Some(Value::Object(props))) = (m.get("required"), m.get("properties")) {
                let flag = match dir {
                    Direction::Request => "readOnly",
                    Direction::Response => "writeOnly",
                };
                let keep: Vec<Value> = req
                    .iter()
                    .filter(|r| {
                        let Some(name) = r.as_str() else { return true };
                        let Some(p) = props.get(name) else { return true };
                        let p = resolve(doc, p, "").map_or(p, |(p, _)| p);
                        !p.get(flag).and_then(Value::as_bool).unwrap_or(false)
                    })
                    .cloned()
                    .collect();
                if keep.len() != req.len() {
                    edits.push((format!("{ptr}/required"), keep));
                }
            }
            for (k, c) in m {
                collect_required_edits(doc, c, &format!("{ptr}/{}", super::load::ptr_escape(k)), dir, edits, depth + 1);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                collect_required_edits(doc, c, &format!("{ptr}/{i}"), dir, edits, depth + 1);
            }
        }
        _ => {}
    }
}

fn rewrite_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for c in m.values_mut() {
                rewrite_nullable(c);
            }
            if m.get("nullable").and_then(Value::as_bool) == Some(true) {
                m.remove("nullable");
                match m.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = std::mem::take(t);
                        m.insert("type".into(), Value::Array(vec![Value::String(t), Value::String("null".into())]));
                        if let Some(Value::Array(e)) = m.get_mut("enum")
                            && !e.contains(&Value::Null)
                        {
                            e.push(Value::Null);
                        }
                    }
                    Some(_) => {}
                    None => {
                        if m.contains_key("$ref")
                            || m.contains_key("allOf")
                            || m.contains_key("oneOf")
                            || m.contains_key("anyOf")
                        {
                            let inner: Map<String, Value> = std::mem::take(m);
                            m.insert(
                                "anyOf".into(),
                                Value::Array(vec![Value::Object(inner), serde_json::json!({"type": "null"})]),
                            );
                        }
                    }
                }
            }
        }
        Value::Array(a) => {
            for c in a {
                rewrite_nullable(c);
            }
        }
        _ => {}
    }
}

/// `--strict`: instance paths of object properties that no schema at `ptr` documents (as if
/// every object schema said `additionalProperties: false`). Objects whose schema sets
/// `additionalProperties` or `patternProperties`, or declares no properties, are open.
#[must_use]
pub fn undocumented_properties(doc: &Value, ptr: &str, instance: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = doc.pointer(ptr) {
        walk_props(doc, s, instance, "", &mut out, 0);
    }
    out
}

fn branches<'a>(doc: &'a Value, s: &'a Value, acc: &mut Vec<&'a Value>, depth: usize) {
    if depth > 32 {
        return;
    }
    let s = resolve(doc, s, "").map_or(s, |(v, _)| v);
    acc.push(s);
    for k in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = s.get(k) {
            for b in list {
                branches(doc, b, acc, depth + 1);
            }
        }
    }
}

fn walk_props(doc: &Value, s: &Value, inst: &Value, at: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 64 || out.len() >= 16 {
        return;
    }
    let mut bs = Vec::new();
    branches(doc, s, &mut bs, 0);
    match inst {
        Value::Object(obj) => {
            let open =
                bs.iter().any(|b| b.get("additionalProperties").is_some() || b.get("patternProperties").is_some());
            let declared: Vec<&Map<String, Value>> =
                bs.iter().filter_map(|b| b.get("properties").and_then(Value::as_object)).collect();
            for (k, v) in obj {
                let here = format!("{at}/{}", super::load::ptr_escape(k));
                match declared.iter().find_map(|p| p.get(k)) {
                    Some(ps) => walk_props(doc, ps, v, &here, out, depth + 1),
                    None if !open && !declared.is_empty() => out.push(here),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = bs.iter().find_map(|b| b.get("items").filter(|i| i.is_object())) {
                for (i, v) in items.iter().enumerate().take(64) {
                    walk_props(doc, is, v, &format!("{at}/{i}"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(doc: Value, v: OasVersion) -> SchemaStore {
        SchemaStore::new(v, Arc::new(doc))
    }

    #[test]
    fn nullable_and_refs_resolve_in_3_0() {
        let doc = json!({
            "openapi": "3.0.3",
            "components": {"schemas": {
                "Order": {"type": "object", "required": ["id", "qty"], "properties": {
                    "id": {"type": "string", "readOnly": true},
                    "qty": {"type": "integer"},
                    "note": {"type": "string", "nullable": true},
                    "parent": {"$ref": "#/components/schemas/Order", "nullable": true}
                }}
            }},
            "paths": {"/o/{id}": {"post": {"x": {"$ref": "#/components/schemas/Order"}}}}
        });
        let s = store(doc, OasVersion::V30);
        let p = "/paths/~1o~1{id}/post/x";
        assert_eq!(s.validate(p, Direction::Request, &json!({"qty": 1, "note": null, "parent": null})), Some(vec![]));
        let resp = s.validate(p, Direction::Response, &json!({"qty": 1})).unwrap();
        assert_eq!(resp.len(), 1);
        assert_eq!(resp[0].keyword, "required");
        let bad = s.validate(p, Direction::Request, &json!({"qty": "x", "parent": {"qty": 2.5}})).unwrap();
        let paths: Vec<&str> = bad.iter().map(|v| v.instance_path.as_str()).collect();
        assert!(paths.contains(&"/qty") && paths.contains(&"/parent"), "{bad:?}");
    }

    #[test]
    fn type_arrays_in_3_1() {
        let doc = json!({"openapi": "3.1.0", "components": {"schemas": {"N": {"type": ["integer", "null"], "exclusiveMinimum": 0}}}});
        let s = store(doc, OasVersion::V31);
        let p = "/components/schemas/N";
        assert_eq!(s.validate(p, Direction::Response, &Value::Null), Some(vec![]));
        assert_eq!(s.validate(p, Direction::Response, &json!(0)).unwrap()[0].keyword, "exclusiveMinimum");
    }

    #[test]
    fn strict_walk_finds_extra_properties_through_all_of() {
        let doc = json!({"s": {"allOf": [{"properties": {"a": {"type": "object", "properties": {"x": {}}}}}, {"properties": {"b": {}}}]}});
        let got = undocumented_properties(&doc, "/s", &json!({"a": {"x": 1, "y": 2}, "b": 1, "c": 3}));
        assert_eq!(got, vec!["/a/y".to_string(), "/c".to_string()]);
    }
}
