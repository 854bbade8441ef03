//! Redaction of secrets before an exchange leaves apiscope. What is a secret is decided by
//! rule, not only by a fixed list:
//!
//! - a header whose name holds a secret word (`token`, `secret`, `key`, `signature`,
//!   `session`, `password`, `auth…`, `credential`, `csrf`/`xsrf`, `cookie`), which covers
//!   vendor headers such as `X-Amz-Security-Token`, `X-Goog-Api-Key`, `Private-Token`,
//!   `Ocp-Apim-Subscription-Key`, `X-Shopify-Access-Token` and signature headers; protocol
//!   nonces (`Sec-WebSocket-Key`), `Idempotency-Key` and authentication challenges
//!   (`WWW-Authenticate`) are kept;
//! - a query, form or JSON key made of such words (`api_key`, `accessToken`,
//!   `X-Amz-Credential`, `client_secret`, `card_number`, …) or one of the short names `sig`,
//!   `jwt`, `pin`, `otp`, `cvv`, `cvc`, `ssn`, `pass`, `pwd` (and `code`, the OAuth
//!   authorization code, in URLs and forms only: a JSON `code` is usually an error code);
//! - values shaped like a secret anywhere in headers, URLs and bodies: JSON Web Tokens and
//!   payment card numbers (13–19 digits passing the Luhn check);
//! - secrets in the query of URL-valued headers (`Location`, `Referer`, `Link`, …).
//!
//! Names given with `--redact-header` / `--redact-param` are added; `--no-redact` turns it
//! all off. Secrets are replaced by `REDACTED`.

use std::borrow::Cow;

use crate::model::client::API_KEY_HEADERS;
use crate::model::{Body, Exchange, Headers};

/// The text secrets are replaced with.
pub const REDACTED: &str = "REDACTED";

/// Headers whose values are credentials whatever the rules say (besides [`API_KEY_HEADERS`]).
pub const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Query, form and JSON keys whose values are secrets whatever the rules say.
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

/// Words that make a header or parameter name a secret's name, wherever they appear in it.
const SECRET_WORDS: &[&str] =
    &["token", "secret", "signature", "session", "password", "passwd", "credential", "csrf", "xsrf"];

/// Whole words (or whole names) that name a secret.
const SECRET_SHORT: &[&str] =
    &["key", "sig", "jwt", "pin", "otp", "cvv", "cvc", "cvv2", "ssn", "pass", "pwd", "pan", "cookie", "privatekey"];

/// Headers that hold a secret word but carry no secret, and are needed to replay a request.
const KEEP_HEADERS: &[&str] = &[
    "sec-websocket-key",
    "sec-websocket-accept",
    "idempotency-key",
    "www-authenticate",
    "proxy-authenticate",
    "authentication-info",
    "proxy-authentication-info",
];

/// Headers whose values are URLs, whose queries are redacted like the request's.
const URL_HEADERS: &[&str] = &["location", "content-location", "referer", "link", "refresh", "origin"];

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
        if self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            return true;
        }
        let lower = name.to_ascii_lowercase();
        !KEEP_HEADERS.contains(&lower.as_str()) && (secret_name(&lower) || lower.contains("auth"))
    }

    /// A query or form key whose value is a secret.
    fn param_secret(&self, name: &str) -> bool {
        let decoded = percent_decode(name);
        self.params.iter().any(|p| p.eq_ignore_ascii_case(&decoded))
            || decoded.eq_ignore_ascii_case("code")
            || secret_name(&decoded)
    }

    /// A JSON key whose value is a secret (`code` is not one: it is usually an error code).
    fn json_key_secret(&self, key: &str) -> bool {
        self.params.iter().any(|p| p.eq_ignore_ascii_case(key)) || secret_name(key)
    }

    /// `ex` with secrets replaced; borrowed when there is nothing to replace.
    #[must_use]
    pub fn apply<'a>(&self, ex: &'a Exchange) -> Cow<'a, Exchange> {
        if !self.enabled {
            return Cow::Borrowed(ex);
        }
        let req_headers = self.redact_headers(&ex.request.headers);
        let target = self.redact_target(&ex.request.target);
        let req_body = self.redact_body(&ex.request.headers, &ex.request.body);
        let resp =
            ex.response.as_ref().map(|r| (self.redact_headers(&r.headers), self.redact_body(&r.headers, &r.body)));
        let resp_changes = resp.as_ref().is_some_and(|(h, b)| h.is_some() || b.is_some());
        if req_headers.is_none() && target.is_none() && req_body.is_none() && !resp_changes {
            return Cow::Borrowed(ex);
        }
        let mut out = ex.clone();
        if let Some(h) = req_headers {
            out.request.headers = h;
        }
        if let Some(t) = target {
            out.request.target = t;
        }
        if let Some(b) = req_body {
            out.request.body = b;
        }
        if let (Some(r), Some((headers, body))) = (out.response.as_mut(), resp) {
            if let Some(h) = headers {
                r.headers = h;
            }
            if let Some(b) = body {
                r.body = b;
            }
        }
        Cow::Owned(out)
    }

    /// `h` with secrets replaced; `None` when nothing changed.
    fn redact_headers(&self, h: &Headers) -> Option<Headers> {
        let mut out: Option<Headers> = None;
        for (i, x) in h.iter().enumerate() {
            if x.value.is_empty() {
                continue;
            }
            let new = self.redact_header_value(&x.name, &x.value);
            if let Some(v) = new {
                out.get_or_insert_with(|| h.clone()).0[i].value = v;
            }
        }
        out
    }

    fn redact_header_value(&self, name: &str, value: &str) -> Option<String> {
        if self.header_secret(name) {
            let v = match name.to_ascii_lowercase().as_str() {
                "cookie" => redact_cookie(value),
                "set-cookie" => redact_set_cookie(value),
                "authorization" | "proxy-authorization" => match value.trim().split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                },
                _ => REDACTED.to_string(),
            };
            return (v != value).then_some(v);
        }
        let lower = name.to_ascii_lowercase();
        let from_url = if URL_HEADERS.contains(&lower.as_str()) { self.redact_urls(value) } else { None };
        let current = from_url.as_deref().unwrap_or(value);
        match redact_shapes(current) {
            Some(v) => Some(v),
            None => from_url,
        }
    }

    /// Every `?query` inside a header value holding URLs (`<a?x=1>; rel=next`, a `Refresh`
    /// value's `url=`), redacted; `None` when nothing changed.
    fn redact_urls(&self, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut changed = false;
        let mut rest = value;
        while let Some(q) = rest.find('?') {
            out.push_str(&rest[..=q]);
            let after = &rest[q + 1..];
            let end = after.find(['>', ' ', '"', '\'', ',', ';', '#']).unwrap_or(after.len());
            match self.redact_pairs(&after[..end]) {
                Some(r) => {
                    changed = true;
                    out.push_str(&r);
                }
                None => out.push_str(&after[..end]),
            }
            rest = &after[end..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// The request target with secrets in its query and secret-shaped values in its path
    /// replaced; `None` when nothing changed.
    fn redact_target(&self, target: &str) -> Option<String> {
        let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
        let new_path = redact_shapes(path);
        let new_query = query.and_then(|q| self.redact_pairs(q));
        if new_path.is_none() && new_query.is_none() {
            return None;
        }
        let path = new_path.as_deref().unwrap_or(path);
        Some(match (new_query.as_deref(), query) {
            (Some(q), _) | (None, Some(q)) => format!("{path}?{q}"),
            (None, None) => path.to_string(),
        })
    }

    /// `a=1&token=x` → `a=1&token=REDACTED`, secret-shaped values replaced too; `None` when
    /// nothing matched.
    fn redact_pairs(&self, q: &str) -> Option<String> {
        let mut changed = false;
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if self.param_secret(k) && !v.is_empty() && v != REDACTED => {
                    changed = true;
                    format!("{k}={REDACTED}")
                }
                Some((k, v)) => match redact_shapes(&percent_decode(v)) {
                    Some(_) => {
                        changed = true;
                        format!("{k}={REDACTED}")
                    }
                    None => kv.to_string(),
                },
                None => kv.to_string(),
            })
            .collect();
        changed.then(|| parts.join("&"))
    }

    fn redact_body(&self, headers: &Headers, body: &Body) -> Option<Body> {
        if body.content.is_empty() {
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
                    if self.json_key_secret(k) && !x.is_object() && !x.is_array() {
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
            serde_json::Value::String(s) => match redact_shapes(s) {
                Some(r) => {
                    *s = r;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

/// The words of a name: split at non-alphanumerics and at lower→upper case changes, lowered
/// (`X-Amz-Security-Token` → x amz security token, `accessToken` → access token).
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// True when a header, parameter or JSON key name names a secret by the rules above.
fn secret_name(name: &str) -> bool {
    let words = name_words(name);
    let joined: String = words.concat();
    if SECRET_WORDS.iter().any(|w| joined.contains(w)) {
        return true;
    }
    if ["cardnumber", "cardno", "creditcard", "privatekey", "apikey", "accesskey", "secretkey"]
        .iter()
        .any(|w| joined.contains(w))
    {
        return true;
    }
    words.iter().any(|w| {
        SECRET_SHORT.contains(&w.as_str()) || w.starts_with("authoriz") || w.starts_with("authentic") || w == "auth"
    })
}

/// `s` with JSON Web Tokens and payment card numbers replaced; `None` when it has none.
#[must_use]
pub fn redact_shapes(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if !(s.contains("eyJ") || b.iter().filter(|c| c.is_ascii_digit()).count() >= 13) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if let Some(n) = jwt_len(&b[i..]).or_else(|| card_len(&b[i..])).filter(|_| at_boundary(b, i)) {
            out.push_str(REDACTED);
            changed = true;
            i += n;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    changed.then_some(out)
}

/// True when position `i` does not continue a word or number.
fn at_boundary(b: &[u8], i: usize) -> bool {
    i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'-'))
}

/// The length of a JSON Web Token (`eyJ….eyJ….sig`, the signature possibly empty) at the
/// start of `b`.
fn jwt_len(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b"eyJ") {
        return None;
    }
    let seg = |from: usize| {
        from + b[from..].iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')).count()
    };
    let h = seg(0);
    if h < 10 || b.get(h) != Some(&b'.') {
        return None;
    }
    let p = seg(h + 1);
    if p - (h + 1) < 2 || b.get(p) != Some(&b'.') {
        return None;
    }
    Some(seg(p + 1))
}

/// True when `digits` start like a payment card's issuer number (Amex, Diners, JCB 3…; Visa
/// 4…; Mastercard 51–55 and 2221–2720; Discover, Maestro, UnionPay 5…/6…), which keeps
/// millisecond timestamps and most numeric ids from looking like cards.
fn card_prefix(digits: &[u8]) -> bool {
    let n4 = digits.iter().take(4).fold(0u32, |a, &d| a * 10 + u32::from(d));
    matches!(digits[0], 3..=6) || (2221..=2720).contains(&n4)
}

/// The length of a payment card number (13–19 digits, optionally grouped by single spaces or
/// dashes, passing the Luhn check) at the start of `b`.
fn card_len(b: &[u8]) -> Option<usize> {
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    let mut digits = Vec::with_capacity(19);
    let mut end = 0;
    let mut i = 0;
    while i < b.len() && digits.len() < 20 {
        match b[i] {
            d @ b'0'..=b'9' => {
                digits.push(d - b'0');
                end = i + 1;
            }
            b' ' | b'-' if b.get(i + 1).is_some_and(u8::is_ascii_digit) && i > 0 && b[i - 1].is_ascii_digit() => {}
            _ => break,
        }
        i += 1;
    }
    if !(13..=19).contains(&digits.len()) || b.get(end).is_some_and(u8::is_ascii_digit) || !card_prefix(&digits) {
        return None;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    (sum % 10 == 0).then_some(end)
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
    use crate::model::Response;

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

    #[test]
    fn vendor_and_rule_named_headers_are_redacted_and_protocol_headers_kept() {
        let secret = [
            "X-Amz-Security-Token",
            "X-Goog-Api-Key",
            "X-CSRF-Token",
            "X-Access-Token",
            "X-Session-Id",
            "Private-Token",
            "X-Vault-Token",
            "Ocp-Apim-Subscription-Key",
            "X-Shopify-Access-Token",
            "Authentication",
            "X-Hub-Signature-256",
            "Signature",
            "X-XSRF-TOKEN",
        ];
        let kept = ["Accept", "Sec-WebSocket-Key", "Idempotency-Key", "WWW-Authenticate", "X-Request-Id", "Keep-Alive"];
        let mut e = Exchange::default();
        for n in secret.iter().chain(&kept) {
            e.request.headers.push(*n, "v4lue");
        }
        let out = Redaction::default().apply(&e);
        for n in secret {
            assert_eq!(out.request.headers.get(n), Some(REDACTED), "{n}");
        }
        for n in kept {
            assert_eq!(out.request.headers.get(n), Some("v4lue"), "{n}");
        }
    }

    #[test]
    fn rule_named_query_parameters_are_redacted() {
        let mut e = Exchange::default();
        e.request.target = "/s3?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1&sig=1&signature=2&code=oauth&jwt=j\
                            &session=s&private_key=p&accessToken=t&page=2&keyword=shoes"
            .into();
        let out = Redaction::default().apply(&e);
        assert_eq!(
            out.request.target,
            "/s3?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&sig=REDACTED&signature=REDACTED&code=REDACTED\
             &jwt=REDACTED&session=REDACTED&private_key=REDACTED&accessToken=REDACTED&page=2&keyword=shoes"
        );
    }

    #[test]
    fn tokens_in_url_valued_headers_are_redacted() {
        let mut e = Exchange::default();
        let mut r = Response { status: 302, ..Response::default() };
        r.headers.push("Location", "https://app.test/cb?code=abc123&state=xyz");
        r.headers.push("Link", "<https://api.test/items?page=2&access_token=t0k>; rel=\"next\"");
        e.response = Some(r);
        let out = Redaction::default().apply(&e);
        let h = &out.response.as_ref().unwrap().headers;
        assert_eq!(h.get("location"), Some("https://app.test/cb?code=REDACTED&state=xyz"));
        assert_eq!(h.get("link"), Some("<https://api.test/items?page=2&access_token=REDACTED>; rel=\"next\""));
    }

    #[test]
    fn secret_json_fields_are_redacted_at_any_depth_but_error_codes_kept() {
        let mut e = Exchange::default();
        e.request.headers.push("Content-Type", "application/json");
        e.request.body = Body::from_bytes(
            br#"{"card_number":"4111 1111 1111 1111","cvv":"123","otp":"9","pin":"1","ssn":"x","a":{"b":[{"pass":"p"}]},"code":"E42","note":"ok"}"#
                .to_vec(),
        );
        let out = Redaction::default().apply(&e);
        let v: serde_json::Value = serde_json::from_slice(&out.request.body.content).unwrap();
        for k in ["card_number", "cvv", "otp", "pin", "ssn"] {
            assert_eq!(v[k], REDACTED, "{k}");
        }
        assert_eq!(v["a"]["b"][0]["pass"], REDACTED);
        assert_eq!(v["code"], "E42");
        assert_eq!(v["note"], "ok");
    }

    #[test]
    fn jwt_and_card_shaped_values_are_redacted_wherever_they_are() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(redact_shapes(&format!("id {jwt} end")).as_deref(), Some("id REDACTED end"));
        assert_eq!(redact_shapes("pay 4111-1111-1111-1111 now").as_deref(), Some("pay REDACTED now"));
        assert_eq!(redact_shapes("5500005555555559").as_deref(), Some(REDACTED));
        // Not cards: a failing Luhn check, a millisecond timestamp, a long order id.
        assert_eq!(redact_shapes("4111111111111112"), None);
        assert_eq!(redact_shapes("1700000000123"), None);
        assert_eq!(redact_shapes("order 12345678901234567890123"), None);
        let mut e = Exchange::default();
        e.request.headers.push("X-Forwarded-Jwt", jwt);
        e.request.target = format!("/verify/{jwt}?ref=9");
        let out = Redaction::default().apply(&e);
        assert_eq!(out.request.headers.get("x-forwarded-jwt"), Some(REDACTED));
        assert_eq!(out.request.target, "/verify/REDACTED?ref=9");
    }
}
