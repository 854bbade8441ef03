//! Postman collection v2.1 export: one request item per exchange (method, URL split into
//! protocol / host / port / path / query, headers, raw body) with the captured response
//! attached as a saved example. Binary request bodies, which a raw body cannot hold, are
//! described in the item instead of being mangled.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::redact::percent_decode;
use crate::model::Exchange;

/// The schema URL every v2.1 collection names.
pub const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

fn info(name: &str) -> Value {
    json!({"name": name, "description": "Exported by apiscope from recorded traffic", "schema": SCHEMA})
}

/// `{"info":…,"item":[`
///
/// # Errors
/// The writer's error.
pub fn write_header(w: &mut dyn Write, name: &str) -> io::Result<()> {
    writeln!(w, "{{\"info\":{},\"item\":[", info(name))
}

/// `]}` closing what [`write_header`] opened.
///
/// # Errors
/// The writer's error.
pub fn write_footer(w: &mut dyn Write) -> io::Result<()> {
    w.write_all(b"\n]}\n")
}

/// A whole collection for `exchanges` (no redaction: callers redact first or use
/// [`super::Exporter`]).
#[must_use]
pub fn collection<'a>(name: &str, exchanges: impl IntoIterator<Item = &'a Exchange>) -> String {
    let items: Vec<Value> = exchanges.into_iter().map(item).collect();
    json!({"info": info(name), "item": items}).to_string()
}

fn url_object(ex: &Exchange) -> Value {
    let raw = super::url(ex);
    let mut o = Map::new();
    o.insert("raw".into(), json!(raw));
    let scheme = ex.request.scheme.clone().unwrap_or_else(|| "http".into());
    o.insert("protocol".into(), json!(scheme));
    let host = ex.host();
    let (hostname, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && !h.ends_with(':') => {
            (h.to_string(), Some(p.to_string()))
        }
        _ => (host.clone(), None),
    };
    let hostname = if hostname.is_empty() { "unknown-host".to_string() } else { hostname };
    let host_parts: Vec<&str> =
        if hostname.starts_with('[') { vec![hostname.as_str()] } else { hostname.split('.').collect() };
    o.insert("host".into(), json!(host_parts));
    if let Some(p) = port {
        o.insert("port".into(), json!(p));
    }
    let path: Vec<&str> = ex.request.path().trim_start_matches('/').split('/').collect();
    o.insert("path".into(), json!(path));
    if let Some(q) = ex.request.query() {
        let query: Vec<Value> = q
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').map_or((kv, None), |(k, v)| (k, Some(v)));
                json!({"key": percent_decode(k), "value": v.map(percent_decode)})
            })
            .collect();
        o.insert("query".into(), json!(query));
    }
    Value::Object(o)
}

fn headers(h: &crate::model::Headers) -> Vec<Value> {
    h.iter().filter(|x| !x.name.starts_with(':')).map(|x| json!({"key": x.name, "value": x.value})).collect()
}

fn language(ct: Option<&str>) -> &'static str {
    match ct.map(str::to_ascii_lowercase) {
        Some(c) if c.contains("json") => "json",
        Some(c) if c.contains("xml") => "xml",
        Some(c) if c.contains("html") => "html",
        Some(c) if c.contains("javascript") => "javascript",
        _ => "text",
    }
}

fn request_object(ex: &Exchange) -> Value {
    let req = &ex.request;
    let mut o = Map::new();
    o.insert("method".into(), json!(if req.method.is_empty() { "GET" } else { req.method.as_str() }));
    o.insert("header".into(), json!(headers(&req.headers)));
    o.insert("url".into(), url_object(ex));
    let (body, _) = super::replay_body(req);
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => {
                let lang = language(req.headers.get("content-type"));
                o.insert("body".into(), json!({"mode": "raw", "raw": text, "options": {"raw": {"language": lang}}}));
            }
            Err(_) => {
                o.insert(
                    "description".into(),
                    json!(format!(
                        "The captured request body is {} bytes of binary data, which a Postman raw body cannot hold; attach it as a file.",
                        body.len()
                    )),
                );
                o.insert("body".into(), json!({"mode": "file", "file": {}}));
            }
        }
    }
    Value::Object(o)
}

/// One collection item: the request, and the captured response as an example.
#[must_use]
pub fn item(ex: &Exchange) -> Value {
    let name = format!("{} {}", ex.request.method, ex.request.path());
    let request = request_object(ex);
    let mut responses = Vec::new();
    if let Some(r) = &ex.response {
        let mut resp = Map::new();
        resp.insert("name".into(), json!(format!("{} {}", r.status, r.reason).trim_end().to_string()));
        resp.insert("originalRequest".into(), request.clone());
        resp.insert("status".into(), json!(r.reason));
        resp.insert("code".into(), json!(r.status));
        resp.insert("_postman_previewlanguage".into(), json!(language(r.headers.get("content-type"))));
        resp.insert("header".into(), json!(headers(&r.headers)));
        resp.insert("cookie".into(), json!([]));
        resp.insert("body".into(), json!(String::from_utf8_lossy(&r.body.content)));
        responses.push(Value::Object(resp));
    }
    json!({"name": name, "request": request, "response": responses})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_splits_the_url_and_keeps_the_example() {
        let e = Exchange::builder("POST", "/v1/orders?expand=items&x")
            .scheme("https")
            .host("api.example.com:8443")
            .header("Content-Type", "application/json")
            .body(b"{\"a\":1}")
            .status(201)
            .reason("Created")
            .build();
        let v = item(&e);
        assert_eq!(v["name"], "POST /v1/orders");
        let u = &v["request"]["url"];
        assert_eq!(u["raw"], "https://api.example.com:8443/v1/orders?expand=items&x");
        assert_eq!(u["host"], json!(["api", "example", "com"]));
        assert_eq!(u["port"], "8443");
        assert_eq!(u["path"], json!(["v1", "orders"]));
        assert_eq!(u["query"][1], json!({"key": "x", "value": null}));
        assert_eq!(v["request"]["body"]["options"]["raw"]["language"], "json");
        assert_eq!(v["response"][0]["code"], 201);
    }
}
