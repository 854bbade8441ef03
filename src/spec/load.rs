//! Loading an OpenAPI 3.0.x / 3.1.x document: YAML (read with YAML 1.2 rules, so `yes`,
//! `on` and `017` stay strings) or JSON into one `serde_json::Value`; `$ref`s to other files
//! next to the spec are bundled into the document (under `x-apiscope-external`) so every
//! reference is local; then the version-agnostic view the checker needs is built:
//! operations with their merged parameters, request bodies, responses, security and
//! servers. Problems that do not stop loading (an unresolvable `$ref` in one operation) are
//! kept as [`SpecProblem`]s with the JSON pointer where they occur.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Methods an OpenAPI path item can hold, lower-case as in the document.
pub const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Key under which files referenced by `$ref` are bundled into the document.
pub const EXTERNAL_KEY: &str = "x-apiscope-external";

/// Most `$ref` hops followed before a chain is declared cyclic.
const MAX_REF_HOPS: usize = 64;

/// Why a spec could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or JSON.
    #[error("{path}: not valid {format}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The document is not an OpenAPI 3.x document, or a required part is malformed.
    #[error("{path}: {pointer}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// JSON pointer to the offending place (`/openapi`, `/paths/~1a/get`).
        pointer: String,
        /// What is wrong.
        message: String,
    },
}

/// A problem in the spec that did not stop loading.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecProblem {
    /// JSON pointer into the (bundled) document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// OpenAPI major.minor family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OasVersion {
    /// 3.0.x: schemas are a Draft-4-like dialect with `nullable`.
    V30,
    /// 3.1.x: schemas are JSON Schema 2020-12.
    V31,
}

/// Where a parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamIn {
    /// A templated path segment.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

impl ParamIn {
    /// Lower-case name as in the spec.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// One documented parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name as documented.
    pub name: String,
    /// Location.
    pub location: ParamIn,
    /// Whether it must be present.
    pub required: bool,
    /// Marked `deprecated: true`.
    pub deprecated: bool,
    /// JSON pointer to its schema, if any.
    pub schema: Option<String>,
    /// Serialisation style (`form`, `simple`, `deepObject`, …), defaulted per location.
    pub style: String,
    /// Whether arrays/objects are exploded, defaulted per style.
    pub explode: bool,
    /// Value is JSON-encoded (`content` instead of `schema`).
    pub json_content: bool,
}

/// One documented media type of a body.
#[derive(Debug, Clone)]
pub struct Media {
    /// Media range as documented, lower-case (`application/json`, `image/*`).
    pub range: String,
    /// JSON pointer to its schema, if any.
    pub schema: Option<String>,
    /// JSON pointer to the schema of one item of a message stream, if the spec gives one:
    /// the media type's `itemSchema` (OpenAPI 3.2), else for a sequential media type
    /// (NDJSON, JSON lines, JSON-seq, `text/event-stream`) the `items` of an array schema.
    pub item_schema: Option<String>,
}

/// The documented request body.
#[derive(Debug, Clone)]
pub struct RequestBodySpec {
    /// `required: true`.
    pub required: bool,
    /// Media types.
    pub content: Vec<Media>,
    /// Pointer of the request body object.
    pub pointer: String,
}

/// One documented response header.
#[derive(Debug, Clone)]
pub struct HeaderSpec {
    /// Name.
    pub name: String,
    /// `required: true`.
    pub required: bool,
}

/// One documented response (`200`, `4XX`, `default`).
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// The key as written, upper-cased (`200`, `4XX`, `DEFAULT`).
    pub code: String,
    /// Media types; `None` when the response has no `content` at all.
    pub content: Option<Vec<Media>>,
    /// Documented headers.
    pub headers: Vec<HeaderSpec>,
}

/// How a security scheme presents credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityScheme {
    /// API key in a header, query parameter or cookie.
    ApiKey {
        /// Name of the header/parameter/cookie.
        name: String,
        /// Where.
        location: ParamIn,
    },
    /// HTTP authentication with the given scheme (`bearer`, `basic`, `digest`, …).
    Http(String),
    /// OAuth 2 or OpenID Connect: a bearer token in `Authorization`.
    OAuth,
    /// Mutual TLS: not visible in HTTP messages, always considered satisfied.
    MutualTls,
    /// A scheme type apiscope does not know; considered satisfied.
    Unknown(String),
}

/// One alternative of a security requirement: every named scheme must be satisfied.
#[derive(Debug, Clone)]
pub struct SecurityAlt {
    /// Scheme names, each resolved (or `None` when the name is not in `securitySchemes`).
    pub schemes: Vec<(String, Option<SecurityScheme>)>,
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Index in [`Spec::operations`](super::Spec::operations).
    pub index: usize,
    /// Upper-case method.
    pub method: String,
    /// Path template as written (`/orders/{id}`).
    pub template: String,
    /// `operationId`, if any.
    pub operation_id: Option<String>,
    /// JSON pointer to the operation object.
    pub pointer: String,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// Merged path-level and operation-level parameters.
    pub parameters: Vec<Param>,
    /// The request body, if documented.
    pub request_body: Option<RequestBodySpec>,
    /// The responses, in document order.
    pub responses: Vec<ResponseSpec>,
    /// Security alternatives; empty means no credentials are required.
    pub security: Vec<SecurityAlt>,
    /// Index of the server set that applies (0 = the document's `servers`).
    pub server_set: usize,
}

impl Operation {
    /// `"GET /orders/{id}"`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// Everything read from the document, before the router is built.
#[derive(Debug)]
pub struct Loaded {
    /// The bundled document.
    pub doc: Value,
    /// Version family.
    pub version: OasVersion,
    /// Operations.
    pub operations: Vec<Operation>,
    /// Server sets: `[0]` is the document's `servers`, then one per path or operation that
    /// declares its own. Each server is `(url with variables expanded, variables)`.
    pub server_sets: Vec<Vec<ServerDef>>,
    /// Problems found while loading.
    pub problems: Vec<SpecProblem>,
    /// True when the spec documents a request body for at least half of its
    /// POST/PUT/PATCH operations (see the docs: a spec below that is treated as silent on
    /// request bodies, not as forbidding them).
    pub documents_request_bodies: bool,
    /// True when any response of the spec documents `content`.
    pub documents_response_bodies: bool,
}

/// One `servers` entry.
#[derive(Debug, Clone)]
pub struct ServerDef {
    /// URL as written.
    pub url: String,
    /// Variables: name → (enum values, default).
    pub variables: Vec<(String, Vec<String>, Option<String>)>,
}

/// Escape one JSON-pointer token.
#[must_use]
pub fn ptr_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn percent_decode_str(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = |c: u8| (c as char).to_digit(16);
            if let (Some(a), Some(c)) = (h(b[i + 1]), h(b[i + 2])) {
                out.push((a * 16 + c) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse YAML (1.2 rules) or JSON text into a `Value`.
///
/// # Errors
/// [`SpecError::Parse`] with the parser's line and column.
pub fn parse_text(path: &Path, text: &str) -> Result<Value, SpecError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| SpecError::Parse {
            path: path.to_path_buf(),
            format: "JSON",
            message: e.to_string(),
        });
    }
    let mut opts = serde_saphyr::Options::default();
    opts.strict_booleans = true;
    opts.leading_zero_numbers_as_strings = true;
    opts.underscored_numbers_as_strings = true;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 50_000_000;
    budget.max_events = 200_000_000;
    budget.max_depth = 512;
    budget.max_total_scalar_bytes = 1 << 31;
    opts.budget = Some(budget);
    serde_saphyr::from_str_with_options::<Value>(trimmed, opts).map_err(|e| SpecError::Parse {
        path: path.to_path_buf(),
        format: "YAML",
        message: e.to_string(),
    })
}

/// Largest spec or referenced file read, in bytes: far above real specs (the largest public
/// ones are a few MiB), low enough that a `$ref` to a device cannot exhaust memory.
pub const MAX_SPEC_BYTES: u64 = 256 << 20;

/// How a spec is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Follow `$ref`s to files outside the spec's own folder (`--allow-ref-outside`).
    pub allow_ref_outside: bool,
}

/// Read at most [`MAX_SPEC_BYTES`] of `path`.
fn read_capped(path: &Path) -> Result<Vec<u8>, SpecError> {
    use std::io::Read as _;
    let io = |source| SpecError::Io { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(io(std::io::Error::other(format!("larger than {} MiB", MAX_SPEC_BYTES >> 20))));
    }
    Ok(bytes)
}

fn read_doc(path: &Path) -> Result<Value, SpecError> {
    let bytes = read_capped(path)?;
    let text = String::from_utf8_lossy(&bytes);
    parse_text(path, &text)
}

/// Why the file a `$ref` names may not be read: outside `root_dir` (unless allowed), not a
/// regular file (a device, a FIFO, a folder), or too big. Checked on the resolved path, so
/// `..` and symbolic links cannot lead out.
fn ref_refusal(path: &Path, root_dir: &Path, opts: LoadOptions) -> Option<String> {
    let shown = crate::model::text::visible(&path.display().to_string()).into_owned();
    let Ok(real) = path.canonicalize() else { return Some(format!("referenced file {shown} does not exist")) };
    if !opts.allow_ref_outside && !real.starts_with(root_dir) {
        return Some(format!(
            "referenced file {shown} is outside the spec's folder and was not read (--allow-ref-outside follows it)"
        ));
    }
    match std::fs::metadata(&real) {
        Ok(m) if !m.is_file() => Some(format!("referenced {shown} is not a regular file and was not read")),
        Ok(m) if m.len() > MAX_SPEC_BYTES => {
            Some(format!("referenced file {shown} is larger than {} MiB and was not read", MAX_SPEC_BYTES >> 20))
        }
        Ok(_) => None,
        Err(e) => Some(format!("referenced file {shown} cannot be read: {e}")),
    }
}

/// Read and parse a referenced file, saying what went wrong without quoting its content (a
/// parser's message may echo the text it choked on).
fn read_ref_doc(path: &Path) -> Result<Value, String> {
    let shown = crate::model::text::visible(&path.display().to_string()).into_owned();
    match read_doc(path) {
        Ok(v) => Ok(v),
        Err(SpecError::Parse { format, .. }) => Err(format!("referenced file {shown} is not valid {format}")),
        Err(e) => Err(format!("referenced file could not be loaded: {}", crate::model::text::visible(&e.to_string()))),
    }
}

/// Bundle `$ref`s to other files into `doc` so that every reference is local.
fn bundle(root_path: &Path, doc: &mut Value, problems: &mut Vec<SpecProblem>, opts: LoadOptions) {
    let base = root_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let root_dir = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
    let root_dir = root_dir.canonicalize().unwrap_or_else(|_| root_dir.to_path_buf());
    let mut files: HashMap<PathBuf, usize> = HashMap::new();
    let mut loaded: Vec<Value> = Vec::new();
    let mut queue: Vec<(usize, PathBuf)> = Vec::new();
    rewrite_refs(doc, &base, None, &mut files, &mut queue, problems, "");
    let mut done = 0;
    while done < queue.len() {
        let (idx, path) = queue[done].clone();
        done += 1;
        let read = match ref_refusal(&path, &root_dir, opts) {
            Some(refused) => Err(refused),
            None => read_ref_doc(&path),
        };
        let mut v = match read {
            Ok(v) => v,
            Err(message) => {
                problems.push(SpecProblem { pointer: format!("/{EXTERNAL_KEY}/{idx}"), message });
                Value::Null
            }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        rewrite_refs(&mut v, &dir, Some(idx), &mut files, &mut queue, problems, &format!("/{EXTERNAL_KEY}/{idx}"));
        if loaded.len() <= idx {
            loaded.resize(idx + 1, Value::Null);
        }
        if let Some(slot) = loaded.get_mut(idx) {
            *slot = v;
        }
    }
    if !loaded.is_empty()
        && let Value::Object(m) = doc
    {
        let ext: Map<String, Value> = loaded.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect();
        m.insert(EXTERNAL_KEY.to_string(), Value::Object(ext));
    }
}

fn rewrite_refs(
    v: &mut Value,
    dir: &Path,
    this_file: Option<usize>,
    files: &mut HashMap<PathBuf, usize>,
    queue: &mut Vec<(usize, PathBuf)>,
    problems: &mut Vec<SpecProblem>,
    at: &str,
) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                let (file, frag) = r.split_once('#').map_or((r.as_str(), ""), |(a, b)| (a, b));
                let new = if file.is_empty() {
                    this_file.map(|i| format!("#/{EXTERNAL_KEY}/{i}{frag}"))
                } else if file.contains("://") {
                    problems.push(SpecProblem {
                        pointer: format!("{at}/$ref"),
                        message: format!("remote reference `{r}` is not fetched; the schema is not checked"),
                    });
                    Some("#/x-apiscope-unresolved".to_string())
                } else {
                    let p = dir.join(percent_decode_str(file));
                    let key = p.canonicalize().unwrap_or(p.clone());
                    let n = files.len();
                    let idx = *files.entry(key).or_insert_with(|| {
                        queue.push((n, p));
                        n
                    });
                    Some(format!("#/{EXTERNAL_KEY}/{idx}{frag}"))
                };
                if let Some(n) = new {
                    *r = n;
                }
            }
            for (k, c) in m.iter_mut() {
                if k == "$ref" {
                    continue;
                }
                rewrite_refs(c, dir, this_file, files, queue, problems, &format!("{at}/{}", ptr_escape(k)));
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter_mut().enumerate() {
                rewrite_refs(c, dir, this_file, files, queue, problems, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

/// Follow `$ref`s from `v` (found at `ptr`) to the object it stands for. Returns the value and
/// its pointer.
///
/// # Errors
/// A message when a reference does not resolve or the chain is cyclic.
pub fn resolve<'a>(doc: &'a Value, v: &'a Value, ptr: &str) -> Result<(&'a Value, String), String> {
    let mut cur = v;
    let mut cur_ptr = ptr.to_string();
    for _ in 0..MAX_REF_HOPS {
        let Some(r) = cur.get("$ref").and_then(Value::as_str) else {
            return Ok((cur, cur_ptr));
        };
        let Some(frag) = r.strip_prefix('#') else {
            return Err(format!("reference `{r}` is not local"));
        };
        let frag = percent_decode_str(frag);
        match doc.pointer(&frag) {
            Some(t) => {
                cur = t;
                cur_ptr = frag;
            }
            None => return Err(format!("reference `{r}` does not resolve")),
        }
    }
    Err(format!("reference chain from {ptr} is cyclic"))
}

/// The item schema of media type object `mv` at `mp` (see [`Media::item_schema`]).
fn item_schema(doc: &Value, mv: &Value, mp: &str, range: &str) -> Option<String> {
    if mv.get("itemSchema").is_some() {
        return Some(format!("{mp}/itemSchema"));
    }
    crate::model::message::StreamProtocol::for_media_type(range)?;
    let (s, sp) = resolve(doc, mv.get("schema")?, &format!("{mp}/schema")).ok()?;
    let array = s.get("type").and_then(Value::as_str) == Some("array");
    (array && s.get("items").is_some()).then(|| format!("{sp}/items"))
}

fn media_list(doc: &Value, content: &Value, ptr: &str) -> Vec<Media> {
    let mut out = Vec::new();
    if let Some(m) = content.as_object() {
        for (k, mv) in m {
            let mp = format!("{ptr}/{}", ptr_escape(k));
            let schema = mv.get("schema").map(|_| format!("{mp}/schema"));
            let range = k.trim().to_ascii_lowercase();
            let item_schema = item_schema(doc, mv, &mp, &range);
            out.push(Media { range, schema, item_schema });
        }
    }
    out
}

fn parse_param(doc: &Value, v: &Value, ptr: &str, problems: &mut Vec<SpecProblem>) -> Option<Param> {
    let (p, pptr) = match resolve(doc, v, ptr) {
        Ok(x) => x,
        Err(message) => {
            problems.push(SpecProblem { pointer: ptr.to_string(), message });
            return None;
        }
    };
    let name = p.get("name").and_then(Value::as_str)?.to_string();
    let location = match p.get("in").and_then(Value::as_str)? {
        "path" => ParamIn::Path,
        "query" => ParamIn::Query,
        "header" => ParamIn::Header,
        "cookie" => ParamIn::Cookie,
        other => {
            problems.push(SpecProblem {
                pointer: format!("{pptr}/in"),
                message: format!("parameter location `{other}` is not checked"),
            });
            return None;
        }
    };
    let style = p.get("style").and_then(Value::as_str).map_or_else(
        || match location {
            ParamIn::Query | ParamIn::Cookie => "form".to_string(),
            ParamIn::Path | ParamIn::Header => "simple".to_string(),
        },
        str::to_string,
    );
    let explode = p.get("explode").and_then(Value::as_bool).unwrap_or(style == "form");
    let (schema, json_content) = if p.get("schema").is_some() {
        (Some(format!("{pptr}/schema")), false)
    } else if let Some(c) = p.get("content").and_then(Value::as_object) {
        c.iter().next().map_or((None, false), |(k, mv)| {
            (mv.get("schema").map(|_| format!("{pptr}/content/{}/schema", ptr_escape(k))), true)
        })
    } else {
        (None, false)
    };
    Some(Param {
        name,
        location,
        required: location == ParamIn::Path || p.get("required").and_then(Value::as_bool).unwrap_or(false),
        deprecated: p.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
        schema,
        style,
        explode,
        json_content,
    })
}

fn parse_security(
    doc: &Value,
    req: &Value,
    ptr: &str,
    schemes: &Map<String, Value>,
    problems: &mut Vec<SpecProblem>,
) -> Vec<SecurityAlt> {
    let mut out = Vec::new();
    let Some(list) = req.as_array() else { return out };
    for (i, alt) in list.iter().enumerate() {
        let mut a = SecurityAlt { schemes: Vec::new() };
        if let Some(m) = alt.as_object() {
            for name in m.keys() {
                let s = schemes.get(name).and_then(|sv| {
                    let sp = format!("/components/securitySchemes/{}", ptr_escape(name));
                    resolve(doc, sv, &sp).ok().map(|(v, _)| v)
                });
                let scheme = s.map(|s| match s.get("type").and_then(Value::as_str).unwrap_or("") {
                    "apiKey" => SecurityScheme::ApiKey {
                        name: s.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                        location: match s.get("in").and_then(Value::as_str).unwrap_or("header") {
                            "query" => ParamIn::Query,
                            "cookie" => ParamIn::Cookie,
                            _ => ParamIn::Header,
                        },
                    },
                    "http" => SecurityScheme::Http(
                        s.get("scheme").and_then(Value::as_str).unwrap_or("bearer").to_ascii_lowercase(),
                    ),
                    "oauth2" | "openIdConnect" => SecurityScheme::OAuth,
                    "mutualTLS" => SecurityScheme::MutualTls,
                    other => SecurityScheme::Unknown(other.to_string()),
                });
                if scheme.is_none() {
                    problems.push(SpecProblem {
                        pointer: format!("{ptr}/{i}/{}", ptr_escape(name)),
                        message: format!("security scheme `{name}` is not defined in components/securitySchemes"),
                    });
                }
                a.schemes.push((name.clone(), scheme));
            }
        }
        out.push(a);
    }
    out
}

fn parse_servers(v: Option<&Value>) -> Option<Vec<ServerDef>> {
    let list = v?.as_array()?;
    let mut out = Vec::new();
    for s in list {
        let Some(url) = s.get("url").and_then(Value::as_str) else { continue };
        let mut variables = Vec::new();
        if let Some(vars) = s.get("variables").and_then(Value::as_object) {
            for (k, vv) in vars {
                let en = vv
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let def = vv.get("default").and_then(Value::as_str).map(str::to_string);
                variables.push((k.clone(), en, def));
            }
        }
        out.push(ServerDef { url: url.to_string(), variables });
    }
    (!out.is_empty()).then_some(out)
}

/// Load and interpret a spec file.
///
/// # Errors
/// [`SpecError`] when the file cannot be read or parsed, or is not OpenAPI 3.x.
pub fn load(path: &Path) -> Result<Loaded, SpecError> {
    load_with(path, LoadOptions::default())
}

/// Load and interpret a spec file with `opts`.
///
/// # Errors
/// As [`load`].
pub fn load_with(path: &Path, opts: LoadOptions) -> Result<Loaded, SpecError> {
    let mut doc = read_doc(path)?;
    let invalid = |pointer: &str, message: String| SpecError::Invalid {
        path: path.to_path_buf(),
        pointer: pointer.to_string(),
        message,
    };
    if !doc.is_object() {
        return Err(invalid("", "the document is not a mapping".into()));
    }
    let version = match doc.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0") => OasVersion::V30,
        Some(Value::String(v)) if v.starts_with("3.1") || v.starts_with("3.2") => OasVersion::V31,
        Some(v) => {
            return Err(invalid(
                "/openapi",
                format!("unsupported OpenAPI version {v}; apiscope reads 3.0.x and 3.1.x"),
            ));
        }
        None if doc.get("swagger").is_some() => {
            return Err(invalid(
                "/swagger",
                "Swagger 2.0 is not supported; convert it to OpenAPI 3 first (e.g. with swagger2openapi)".into(),
            ));
        }
        None => return Err(invalid("/openapi", "missing `openapi` version field: not an OpenAPI document".into())),
    };
    let mut problems = Vec::new();
    bundle(path, &mut doc, &mut problems, opts);
    let doc = doc;

    let empty = Map::new();
    let schemes = doc.pointer("/components/securitySchemes").and_then(Value::as_object).unwrap_or(&empty);
    let root_security = doc.get("security").map(|s| parse_security(&doc, s, "/security", schemes, &mut problems));
    let mut server_sets = vec![
        parse_servers(doc.get("servers"))
            .unwrap_or_else(|| vec![ServerDef { url: "/".to_string(), variables: Vec::new() }]),
    ];

    let mut operations = Vec::new();
    let paths = match doc.get("paths") {
        Some(Value::Object(p)) => Some(p),
        Some(Value::Null) | None => None,
        Some(_) => return Err(invalid("/paths", "`paths` is not a mapping".into())),
    };
    let mut body_ops = 0usize;
    let mut body_ops_documented = 0usize;
    let mut documents_response_bodies = false;
    for (template, item) in paths.into_iter().flatten() {
        let iptr = format!("/paths/{}", ptr_escape(template));
        let (item, item_ptr) = match resolve(&doc, item, &iptr) {
            Ok(x) => x,
            Err(message) => {
                problems.push(SpecProblem { pointer: iptr, message });
                continue;
            }
        };
        let path_params: Vec<Param> = item
            .get("parameters")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .filter_map(|(i, p)| parse_param(&doc, p, &format!("{item_ptr}/parameters/{i}"), &mut problems))
                    .collect()
            })
            .unwrap_or_default();
        let path_servers = parse_servers(item.get("servers"));
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let optr = format!("{item_ptr}/{m}");
            let mut params = path_params.clone();
            if let Some(a) = op.get("parameters").and_then(Value::as_array) {
                for (i, p) in a.iter().enumerate() {
                    if let Some(p) = parse_param(&doc, p, &format!("{optr}/parameters/{i}"), &mut problems) {
                        params.retain(|q: &Param| !(q.location == p.location && q.name == p.name));
                        params.push(p);
                    }
                }
            }
            let request_body = op.get("requestBody").and_then(|rb| {
                let rptr = format!("{optr}/requestBody");
                match resolve(&doc, rb, &rptr) {
                    Ok((rb, rbp)) => Some(RequestBodySpec {
                        required: rb.get("required").and_then(Value::as_bool).unwrap_or(false),
                        content: rb
                            .get("content")
                            .map(|c| media_list(&doc, c, &format!("{rbp}/content")))
                            .unwrap_or_default(),
                        pointer: rbp,
                    }),
                    Err(message) => {
                        problems.push(SpecProblem { pointer: rptr, message });
                        None
                    }
                }
            });
            if matches!(*m, "post" | "put" | "patch") {
                body_ops += 1;
                body_ops_documented += usize::from(request_body.is_some());
            }
            let mut responses = Vec::new();
            if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                for (code, r) in rs {
                    let rptr = format!("{optr}/responses/{}", ptr_escape(code));
                    let (r, rp) = match resolve(&doc, r, &rptr) {
                        Ok(x) => x,
                        Err(message) => {
                            problems.push(SpecProblem { pointer: rptr, message });
                            continue;
                        }
                    };
                    let content = r.get("content").map(|c| media_list(&doc, c, &format!("{rp}/content")));
                    documents_response_bodies |= content.as_ref().is_some_and(|c| !c.is_empty());
                    let mut headers = Vec::new();
                    if let Some(hs) = r.get("headers").and_then(Value::as_object) {
                        for (hn, hv) in hs {
                            let hp = format!("{rp}/headers/{}", ptr_escape(hn));
                            let required = resolve(&doc, hv, &hp)
                                .ok()
                                .and_then(|(h, _)| h.get("required").and_then(Value::as_bool))
                                .unwrap_or(false);
                            headers.push(HeaderSpec { name: hn.clone(), required });
                        }
                    }
                    responses.push(ResponseSpec { code: code.to_ascii_uppercase(), content, headers });
                }
            }
            let security = match op.get("security") {
                Some(s) => parse_security(&doc, s, &format!("{optr}/security"), schemes, &mut problems),
                None => root_security.clone().unwrap_or_default(),
            };
            let op_servers = parse_servers(op.get("servers")).or_else(|| path_servers.clone());
            let server_set = match op_servers {
                Some(s) => {
                    server_sets.push(s);
                    server_sets.len() - 1
                }
                None => 0,
            };
            operations.push(Operation {
                index: operations.len(),
                method: m.to_ascii_uppercase(),
                template: template.clone(),
                operation_id: op.get("operationId").and_then(Value::as_str).map(str::to_string),
                pointer: optr,
                deprecated: op.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
                parameters: params,
                request_body,
                responses,
                security,
                server_set,
            });
        }
    }
    Ok(Loaded {
        doc,
        version,
        operations,
        server_sets,
        problems,
        documents_request_bodies: body_ops > 0 && body_ops_documented * 2 >= body_ops,
        documents_response_bodies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_schemas_come_from_item_schema_or_the_items_of_a_sequential_array() {
        let doc = serde_json::json!({
            "components": {"schemas": {"Prices": {"type": "array", "items": {"type": "object"}}}},
            "c": {
                "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Prices"}},
                "text/event-stream": {"itemSchema": {"type": "object"}, "schema": {"type": "array", "items": {}}},
                "application/json": {"schema": {"type": "array", "items": {}}},
                "application/jsonl": {"schema": {"type": "object"}}
            }
        });
        let media = media_list(&doc, &doc["c"], "/c");
        let item = |r: &str| media.iter().find(|m| m.range == r).and_then(|m| m.item_schema.clone());
        assert_eq!(item("application/x-ndjson").as_deref(), Some("/components/schemas/Prices/items"));
        assert_eq!(item("text/event-stream").as_deref(), Some("/c/text~1event-stream/itemSchema"));
        assert_eq!(item("application/json"), None, "not a stream");
        assert_eq!(item("application/jsonl"), None, "one schema per line, checked as a body");
    }

    #[test]
    fn yaml_1_2_scalars_stay_strings() {
        let v = parse_text(Path::new("x.yaml"), "a: yes\nb: on\nc: 017\nd: 1_000\ne: true\nf: 12\n").unwrap();
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], "on");
        assert_eq!(v["c"], "017");
        assert_eq!(v["d"], "1_000");
        assert_eq!(v["e"], true);
        assert_eq!(v["f"], 12);
    }

    #[test]
    fn cyclic_ref_is_an_error_not_a_hang() {
        let doc: Value = serde_json::json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}});
        assert!(resolve(&doc, &doc["a"], "/a").unwrap_err().contains("cyclic"));
        let ok: Value = serde_json::json!({"a": {"$ref": "#/b"}, "b": {"type": "string"}});
        assert_eq!(resolve(&ok, &ok["a"], "/a").unwrap().1, "/b");
    }

    #[test]
    fn percent_decoding_of_ref_fragments() {
        assert_eq!(percent_decode_str("/paths/~1a~1%7Bid%7D"), "/paths/~1a~1{id}");
        assert_eq!(percent_decode_str("100%"), "100%");
    }
}
