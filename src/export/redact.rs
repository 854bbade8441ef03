//! Redaction of secrets before an exchange leaves apiscope: credentials in headers
//! (`Authorization`, `Proxy-Authorization`, cookies, API-key headers), secret-looking query
//! and form parameters (`api_key`, `token`, `password`, …) and the same keys in JSON bodies
//! are replaced by `REDACTED`. The names are configurable; redaction is on by default.

use std::borrow::Cow;

use crate::model::client::API_KEY_HEADERS;
use crate::model::{Body, Exchange, Headers};

/// The text secrets are replaced with.
pub const REDACTED: &str = "REDACTED";

/// Headers whose values are credentials (besides [`API_KEY_HEADERS`]).
pub const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Query, form and JSON keys whose values are secrets.
pub const SECRET_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
];

/// What to redact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Redact at all (`--no-redact` turns this off).
    pub enabled: bool,
    /// Header names (lower-case) whose values are replaced.
    pub headers: Vec<String>,
    /// Parameter names (lower-case) whose values are replaced in queries, form bodies and
    /// JSON bodies.
    pub params: Vec<String>,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            enabled: true,
            headers: SECRET_HEADERS.iter().chain(API_KEY_HEADERS).map(|s| (*s).to_string()).collect(),
            params: SECRET_PARAMS.iter().map(|s| (*s).to_string()).collect(),
        }
    }
}

impl Redaction {
    /// No redaction at all.
    #[must_use]
    pub fn off() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// Also redact header `name`.
    #[must_use]
    pub fn with_header(mut self, name: &str) -> Self {
        self.headers.push(name.to_ascii_lowercase());
        self
    }

    /// Also redact parameter `name`.
    #[must_use]
    pub fn with_param(mut self, name: &str) -> Self {
        self.params.push(name.to_ascii_lowercase());
        self
    }

    fn header_secret(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    fn param_secret(&self, name: &str) -> bool {
        let decoded = percent_decode(name);
        self.params.iter().any(|p| p.eq_ignore_ascii_case(&decoded))
    }

    /// `ex` with secrets replaced; borrowed when there is nothing to replace.
    #[must_use]
    pub fn apply<'a>(&self, ex: &'a Exchange) -> Cow<'a, Exchange> {
        if !self.enabled {
            return Cow::Borrowed(ex);
        }
        let req_headers = self.headers_need(&ex.request.headers);
        let query = ex.request.query().and_then(|q| self.redact_pairs(q));
        let req_body = self.redact_body(&ex.request.headers, &ex.request.body);
        let resp = ex.response.as_ref().map(|r| (self.headers_need(&r.headers), self.redact_body(&r.headers, &r.body)));
        let resp_changes = resp.as_ref().is_some_and(|(h, b)| *h || b.is_some());
        if !req_headers && query.is_none() && req_body.is_none() && !resp_changes {
            return Cow::Borrowed(ex);
        }
        let mut out = ex.clone();
        self.redact_headers(&mut out.request.headers);
        if let Some(q) = query {
            let path = out.request.path().to_string();
            out.request.target = format!("{path}?{q}");
        }
        if let Some(b) = req_body {
            out.request.body = b;
        }
        if let (Some(r), Some((_, body))) = (out.response.as_mut(), resp) {
            self.redact_headers(&mut r.headers);
            if let Some(b) = body {
                r.body = b;
            }
        }
        Cow::Owned(out)
    }

    fn headers_need(&self, h: &Headers) -> bool {
        h.iter().any(|x| self.header_secret(&x.name) && !x.value.is_empty())
    }

    fn redact_headers(&self, h: &mut Headers) {
        for x in &mut h.0 {
            if !self.header_secret(&x.name) || x.value.is_empty() {
                continue;
            }
            let name = x.name.to_ascii_lowercase();
            x.value = match name.as_str() {
                "cookie" => redact_cookie(&x.value),
                "set-cookie" => redact_set_cookie(&x.value),
                "authorization" | "proxy-authorization" => match x.value.trim().split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                },
                _ => REDACTED.to_string(),
            };
        }
    }

    /// `a=1&token=x` → `a=1&token=REDACTED`; `None` when nothing matched.
    fn redact_pairs(&self, q: &str) -> Option<String> {
        let mut changed = false;
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if self.param_secret(k) && !v.is_empty() && v != REDACTED => {
                    changed = true;
                    format!("{k}={REDACTED}")
                }
                _ => kv.to_string(),
            })
            .collect();
        changed.then(|| parts.join("&"))
    }

    fn redact_body(&self, headers: &Headers, body: &Body) -> Option<Body> {
        if body.content.is_empty() || self.params.is_empty() {
            return None;
        }
        let ct = headers.content_type().unwrap_or_default();
        let new = if ct == "application/x-www-form-urlencoded" {
            std::str::from_utf8(&body.content).ok().and_then(|s| self.redact_pairs(s)).map(String::into_bytes)
        } else if ct.ends_with("json") || ct.contains("+json") || body.content.first() == Some(&b'{') {
            let mut v: serde_json::Value = serde_json::from_slice(&body.content).ok()?;
            self.redact_json(&mut v).then(|| serde_json::to_vec(&v).unwrap_or_default())
        } else {
            None
        }?;
        let mut b = body.clone();
        b.size = new.len() as u64;
        b.content = new;
        b.wire = None;
        Some(b)
    }

    fn redact_json(&self, v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                let mut changed = false;
                for (k, x) in m.iter_mut() {
                    if self.params.iter().any(|p| p.eq_ignore_ascii_case(k)) && !x.is_object() && !x.is_array() {
                        if !x.is_null() && x.as_str() != Some(REDACTED) {
                            *x = serde_json::Value::String(REDACTED.into());
                            changed = true;
                        }
                    } else {
                        changed |= self.redact_json(x);
                    }
                }
                changed
            }
            serde_json::Value::Array(a) => a.iter_mut().fold(false, |c, x| self.redact_json(x) | c),
            _ => false,
        }
    }
}

fn redact_cookie(v: &str) -> String {
    v.split(';')
        .map(|kv| match kv.trim().split_once('=') {
            Some((k, _)) => format!("{}={REDACTED}", k.trim()),
            None => kv.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn redact_set_cookie(v: &str) -> String {
    let (first, rest) = v.split_once(';').map_or((v, None), |(a, b)| (a, Some(b)));
    let name = first.split_once('=').map_or(first, |(k, _)| k).trim();
    match rest {
        Some(r) => format!("{name}={REDACTED};{r}"),
        None => format!("{name}={REDACTED}"),
    }
}

/// Percent-decode (lossy UTF-8); `+` is kept.
#[must_use]
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b.get(i), b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (Some(b'%'), Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (Some(c), _, _) => {
                out.push(*c);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex() -> Exchange {
        Exchange::builder("POST", "/login?user=ann&api%5Fkey=s3cr3t&x")
            .header("Authorization", "Bearer abc.def")
            .header("Cookie", "sid=zzz; theme=dark")
            .header("X-Api-Key", "sk_live_1")
            .header("Accept", "*/*")
            .header("Content-Type", "application/json")
            .body(br#"{"user":"ann","password":"hunter2","nested":[{"token":"t"}]}"#)
            .status(200)
            .response_header("Set-Cookie", "sid=new; Path=/; HttpOnly")
            .build()
    }

    #[test]
    fn secrets_are_replaced_everywhere() {
        let e = ex();
        let r = Redaction::default().apply(&e);
        let h = &r.request.headers;
        assert_eq!(h.get("authorization"), Some("Bearer REDACTED"));
        assert_eq!(h.get("cookie"), Some("sid=REDACTED; theme=REDACTED"));
        assert_eq!(h.get("x-api-key"), Some("REDACTED"));
        assert_eq!(h.get("accept"), Some("*/*"));
        assert_eq!(r.request.target, "/login?user=ann&api%5Fkey=REDACTED&x");
        let body = String::from_utf8(r.request.body.content.clone()).unwrap();
        assert!(!body.contains("hunter2") && !body.contains("\"t\""), "{body}");
        assert!(body.contains("\"user\":\"ann\""));
        assert_eq!(r.response.as_ref().unwrap().headers.get("set-cookie"), Some("sid=REDACTED; Path=/; HttpOnly"));
    }

    #[test]
    fn off_and_clean_exchanges_are_borrowed() {
        let e = ex();
        assert!(matches!(Redaction::off().apply(&e), Cow::Borrowed(_)));
        let clean = Exchange::default();
        assert!(matches!(Redaction::default().apply(&clean), Cow::Borrowed(_)));
    }

    #[test]
    fn configured_names_are_added() {
        let e = Exchange::builder("", "/?sig=abc").header("X-Session", "s").build();
        let r = Redaction::default().with_header("x-session").with_param("sig");
        let out = r.apply(&e);
        assert_eq!(out.request.target, "/?sig=REDACTED");
        assert_eq!(out.request.headers.get("x-session"), Some("REDACTED"));
    }

    #[test]
    fn form_bodies_are_redacted() {
        let e = Exchange::builder("", "")
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(b"user=a&password=p%20w")
            .build();
        let out = Redaction::default().apply(&e);
        assert_eq!(out.request.body.content, b"user=a&password=REDACTED");
    }
}
