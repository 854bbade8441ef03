//! A strict one-pass reader for HAR entries: builds the same [`HarEntry`] that
//! `serde_json::from_str::<HarEntry>` builds, straight from the entry's bytes, with borrowed
//! strings where they have no escapes and a word-at-a-time scan for the end of strings (body
//! texts are JSON documents escaped into a string, so `serde_json` meets an escape every few
//! bytes there and pays for each one).
//!
//! It only ever says "here is the entry" or "not sure" (`None`): a key with an escape, a
//! known field given twice, a value of a type the lenient types would have to convert in a way
//! not done here (a number where text is expected, headers as one object or as arrays),
//! nesting deeper than [`MAX_DEPTH`], anything that is not strict JSON — every such entry is
//! parsed by `serde_json` instead, which gives the same entry or the same error as before. So
//! an entry this reader returns is also one `serde_json` accepts, with equal fields (checked
//! by the property test below).

use std::borrow::Cow;

use super::entry::{Content, HarEntry, HarRequest, HarResponse, PostData, Timings};
use crate::ingest::json::escape::{hex4, unescape};
use crate::ingest::json::lenient::{LenientNum, LenientStr, Pair, Pairs};
use crate::model::json_string::string_special as find_special;

/// Deepest nesting (from the entry object) read here; `serde_json` stops at 128.
const MAX_DEPTH: usize = 100;

/// The entry in `text` (one JSON object, white space around it allowed), or `None` when this
/// reader is not sure it would build what `serde_json` builds.
pub(super) fn entry(text: &str) -> Option<HarEntry<'_>> {
    let mut p = Parser { s: text, b: text.as_bytes(), i: 0 };
    p.ws();
    let e = p.entry()?;
    p.ws();
    (p.i == p.b.len()).then_some(e)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Marks a known field as seen; `None` when it was seen before (`serde` refuses duplicates).
fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & (1 << bit) != 0 {
        return None;
    }
    *seen |= 1 << bit;
    Some(())
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + lit.len())? == lit {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// The members of an object: `f` gets each key (without escapes) with the parser at its
    /// value, and must consume the value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            f(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A key without escapes.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let end = find_special(self.b, start)?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        self.b.get(start..end)
    }

    /// The end of the string whose content starts at `from` (the index of its closing quote),
    /// checking escapes; and whether it has any.
    fn string_end(&self, from: usize) -> Option<(usize, bool)> {
        let mut at = from;
        let mut escaped = false;
        loop {
            let k = find_special(self.b, at)?;
            match self.b[k] {
                b'"' => return Some((k, escaped)),
                b'\\' => {
                    escaped = true;
                    at = match *self.b.get(k + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => k + 2,
                        b'u' => {
                            hex4(self.b, k + 2)?;
                            k + 6
                        }
                        _ => return None,
                    };
                }
                _ => return None,
            }
        }
    }

    /// A string, unescaped (borrowed when it has no escapes). Lone surrogates are left to
    /// `serde_json`.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let first = find_special(self.b, start)?;
        match self.b[first] {
            b'"' => {
                self.i = first + 1;
                self.s.get(start..first).map(Cow::Borrowed)
            }
            b'\\' => {
                let (bytes, end) = unescape(self.b, start, first)?;
                self.i = end + 1;
                String::from_utf8(bytes).ok().map(Cow::Owned)
            }
            _ => None,
        }
    }

    /// A number's text, checked against the JSON grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while let Some(b'0'..=b'9') = p.peek() {
                p.i += 1;
            }
            p.i > from
        };
        if self.peek()? == b'-' {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        self.s.get(start..self.i)
    }

    /// Skip one value, checking its syntax as `serde_json` does when it ignores a value.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.eat(b'"')?;
                    let (end, _) = self.string_end(self.i)?;
                    self.i = end + 1;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let (end, _) = self.string_end(self.i)?;
                self.i = end + 1;
                Some(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    /// `null` (true) or not (false, nothing consumed).
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(true);
        }
        Some(false)
    }

    /// Text ([`LenientStr`]): a string, `true`/`false` or `null`; numbers are left to `serde_json`.
    fn text(&mut self) -> Option<LenientStr<'a>> {
        match self.peek()? {
            b'"' => Some(LenientStr(Some(self.string()?))),
            b'n' => self.literal(b"null").map(|()| LenientStr(None)),
            b't' => self.literal(b"true").map(|()| LenientStr(Some(Cow::Borrowed("true")))),
            b'f' => self.literal(b"false").map(|()| LenientStr(Some(Cow::Borrowed("false")))),
            _ => None,
        }
    }

    /// A number ([`LenientNum`]): integers of up to 15 digits directly (exact in `f64`, as
    /// `serde_json` converts them), other numbers by `serde_json` from their text, numeric
    /// strings as [`LenientNum`] reads them; `null` and booleans are absent.
    fn num(&mut self) -> Option<LenientNum> {
        match self.peek()? {
            b'"' => {
                let t = self.string()?;
                Some(LenientNum(t.trim().parse::<f64>().ok().filter(|f| f.is_finite())))
            }
            b'n' => self.literal(b"null").map(|()| LenientNum(None)),
            b't' => self.literal(b"true").map(|()| LenientNum(None)),
            b'f' => self.literal(b"false").map(|()| LenientNum(None)),
            _ => {
                let tok = self.number()?;
                if tok.len() <= 15 && tok.bytes().all(|c| c.is_ascii_digit()) {
                    return tok.parse::<u64>().ok().map(|v| LenientNum(Some(v as f64)));
                }
                serde_json::from_str::<LenientNum>(tok).ok()
            }
        }
    }

    /// Headers or parameters: an array of `{name, value}` objects, or `null`.
    fn pairs(&mut self) -> Option<Pairs<'a>> {
        if self.null()? {
            return Some(Pairs(Vec::new()));
        }
        self.eat(b'[')?;
        let mut v = Vec::with_capacity(8);
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Pairs(v));
        }
        loop {
            let mut p = Pair::default();
            self.object(|s, key| {
                match key {
                    b"name" => p.name = s.text()?,
                    b"value" => p.value = s.text()?,
                    _ => s.skip(2)?,
                }
                Some(())
            })?;
            v.push(p);
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b']' => {
                    self.i += 1;
                    return Some(Pairs(v));
                }
                _ => return None,
            }
        }
    }

    fn entry(&mut self) -> Option<HarEntry<'a>> {
        let mut e = HarEntry::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            match key {
                b"startedDateTime" => {
                    once(&mut seen, 0)?;
                    e.started = s.text()?;
                }
                b"time" => {
                    once(&mut seen, 1)?;
                    e.time = s.num()?;
                }
                b"request" => {
                    once(&mut seen, 2)?;
                    e.request = if s.null()? { None } else { Some(s.request()?) };
                }
                b"response" => {
                    once(&mut seen, 3)?;
                    e.response = if s.null()? { None } else { Some(s.response()?) };
                }
                b"timings" => {
                    once(&mut seen, 4)?;
                    e.timings = if s.null()? { None } else { Some(s.timings()?) };
                }
                b"serverIPAddress" => {
                    once(&mut seen, 5)?;
                    e.server_ip = s.text()?;
                }
                b"connection" => {
                    once(&mut seen, 6)?;
                    e.connection = s.text()?;
                }
                b"comment" => {
                    once(&mut seen, 7)?;
                    e.comment = s.text()?;
                }
                _ => s.skip(1)?,
            }
            Some(())
        })?;
        Some(e)
    }

    fn request(&mut self) -> Option<HarRequest<'a>> {
        let mut r = HarRequest::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            match key {
                b"method" => {
                    once(&mut seen, 0)?;
                    r.method = s.text()?;
                }
                b"url" => {
                    once(&mut seen, 1)?;
                    r.url = s.text()?;
                }
                b"httpVersion" => {
                    once(&mut seen, 2)?;
                    r.http_version = s.text()?;
                }
                b"headers" => {
                    once(&mut seen, 3)?;
                    r.headers = s.pairs()?;
                }
                b"postData" => {
                    once(&mut seen, 4)?;
                    r.post_data = if s.null()? { None } else { Some(s.post_data()?) };
                }
                b"bodySize" => {
                    once(&mut seen, 5)?;
                    r.body_size = s.num()?;
                }
                _ => s.skip(2)?,
            }
            Some(())
        })?;
        Some(r)
    }

    fn post_data(&mut self) -> Option<PostData<'a>> {
        let mut p = PostData::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            match key {
                b"mimeType" => {
                    once(&mut seen, 0)?;
                    p.mime_type = s.text()?;
                }
                b"text" => {
                    once(&mut seen, 1)?;
                    p.text = s.text()?;
                }
                b"params" => {
                    once(&mut seen, 2)?;
                    p.params = s.pairs()?;
                }
                b"encoding" => {
                    once(&mut seen, 3)?;
                    p.encoding = s.text()?;
                }
                b"_file" => {
                    once(&mut seen, 4)?;
                    p.file = s.text()?;
                }
                _ => s.skip(3)?,
            }
            Some(())
        })?;
        Some(p)
    }

    fn response(&mut self) -> Option<HarResponse<'a>> {
        let mut r = HarResponse::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            match key {
                b"status" => {
                    once(&mut seen, 0)?;
                    r.status = s.num()?;
                }
                b"statusText" => {
                    once(&mut seen, 1)?;
                    r.status_text = s.text()?;
                }
                b"httpVersion" => {
                    once(&mut seen, 2)?;
                    r.http_version = s.text()?;
                }
                b"headers" => {
                    once(&mut seen, 3)?;
                    r.headers = s.pairs()?;
                }
                b"content" => {
                    once(&mut seen, 4)?;
                    r.content = if s.null()? { None } else { Some(s.content()?) };
                }
                b"bodySize" => {
                    once(&mut seen, 5)?;
                    r.body_size = s.num()?;
                }
                b"_error" => {
                    once(&mut seen, 6)?;
                    r.error = s.text()?;
                }
                _ => s.skip(2)?,
            }
            Some(())
        })?;
        Some(r)
    }

    fn content(&mut self) -> Option<Content<'a>> {
        let mut c = Content::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            match key {
                b"size" => {
                    once(&mut seen, 0)?;
                    c.size = s.num()?;
                }
                b"text" => {
                    once(&mut seen, 1)?;
                    c.text = s.text()?;
                }
                b"encoding" => {
                    once(&mut seen, 2)?;
                    c.encoding = s.text()?;
                }
                b"_file" => {
                    once(&mut seen, 3)?;
                    c.file = s.text()?;
                }
                _ => s.skip(3)?,
            }
            Some(())
        })?;
        Some(c)
    }

    fn timings(&mut self) -> Option<Timings> {
        let mut t = Timings::default();
        let mut seen = 0u32;
        self.object(|s, key| {
            let (bit, slot) = match key {
                b"blocked" => (0, &mut t.blocked),
                b"dns" => (1, &mut t.dns),
                b"connect" => (2, &mut t.connect),
                b"send" => (3, &mut t.send),
                b"wait" => (4, &mut t.wait),
                b"receive" => (5, &mut t.receive),
                _ => return s.skip(2),
            };
            once(&mut seen, bit)?;
            *slot = s.num()?;
            Some(())
        })?;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_entry(text: &str) -> Option<HarEntry<'_>> {
        serde_json::from_str(text).ok()
    }

    /// The promise the reader keeps: whatever it returns, `serde_json` returns too.
    fn agrees(text: &str) -> bool {
        match entry(text) {
            Some(fast) => {
                let slow = serde_entry(text);
                assert_eq!(Some(&fast), slow.as_ref(), "{text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn a_plain_entry_is_read_directly_and_equals_the_serde_entry() {
        let text = r#"{"startedDateTime": "2024-03-12T13:30:00.024Z", "time": 108.583,
          "request": {"method": "POST", "url": "http://a.example/v1/x?y=1", "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": [{"name": "Host", "value": "a.example"}, {"name": "X", "value": null, "comment": 1}],
            "queryString": [{"name": "y", "value": "1"}], "postData": {"mimeType": "application/json",
            "text": "{\"a\":\"b\\\\c\\u00e9\\ud83d\\ude00\",\"n\":[1,2.5e3,-0]}"}, "headersSize": -1, "bodySize": 40},
          "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
            "content": {"size": "12", "mimeType": "text/plain", "text": "line\none\t\"q\"\/"}, "redirectURL": "",
            "headersSize": -1, "bodySize": -1, "_error": null},
          "cache": {}, "timings": {"blocked": -1, "dns": 0.5, "ssl": 3, "send": 1e2, "wait": 10, "receive": 12345678901234567890},
          "serverIPAddress": "10.0.0.1", "connection": "\u0034\u00e9\ud83d\ude00", "comment": true}"#;
        assert!(agrees(text));
        let e = entry(text).unwrap();
        let body = e.request.unwrap().post_data.unwrap().text;
        assert_eq!(body.as_str(), r#"{"a":"b\\c\u00e9\ud83d\ude00","n":[1,2.5e3,-0]}"#);
        assert!(matches!(e.started.0, Some(Cow::Borrowed(_))));
        assert_eq!(e.connection.as_str(), "4\u{e9}\u{1f600}");
    }

    #[test]
    fn anything_unusual_is_left_to_serde_json() {
        for text in [
            r#"{"time": 1, "time": 2}"#,
            r#"{"request": {"method": 5}}"#,
            r#"{"request": {"headers": {"a": "b"}}}"#,
            r#"{"request": {"headers": [["a", "b"]]}}"#,
            r#"{"requ\u0065st": {}}"#,
            r#"{"comment": "lone \ud800"}"#,
            r#"{"comment": "bad \x"}"#,
            "{\"comment\": \"raw \u{1} control\"}",
            r#"{"x": [1,]}"#,
            r#"{"x": 01}"#,
            r#"{"request": []}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
        ] {
            assert!(entry(text).is_none(), "{text}");
        }
        let deep = format!("{{\"cache\": {}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(entry(&deep).is_none());
    }

    fn json_string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 :/._-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            prop::collection::vec(
                prop_oneof![
                    Just("\\\"".to_string()),
                    Just("\\\\".to_string()),
                    Just("\\/".to_string()),
                    Just("\\n".to_string()),
                    Just("\\u00e9".to_string()),
                    Just("\\uD83D\\uDE00".to_string()),
                    Just("é€".to_string()),
                    "[a-z{}:,\\[\\]]{0,9}".prop_map(|s| s),
                    "[a-z{}:,\\[\\]]{0,9}".prop_map(|s| s),
                    "[a-z{}:,\\[\\]]{0,9}".prop_map(|s| s),
                    // what `serde_json` refuses
                    Just("\\ud800".to_string()),
                    Just("\\uDC00x".to_string()),
                    Just("\u{1}".to_string()),
                ],
                0..8
            )
            .prop_map(|parts| format!("\"{}\"", parts.concat())),
        ]
    }

    fn scalar() -> impl Strategy<Value = String> {
        const TOKENS: &[&str] = &[
            "null",
            "true",
            "false",
            "0",
            "-1",
            "200",
            "108.583",
            "1e3",
            "-0",
            "123456789012345678901234567890",
            "\" 42 \"",
            "0.1",
            "-2.5E-3",
            // what `serde_json` refuses (in a number field) or never reads
            "1e999",
            "01",
        ];
        prop_oneof![3 => json_string(), 2 => prop::sample::select(TOKENS).prop_map(str::to_string)]
    }

    fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
                prop::collection::vec((json_string(), inner), 0..4).prop_map(|v| {
                    let kv: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{{}}}", kv.join(", "))
                }),
            ]
        })
    }

    /// `"key": value`, where the value is mostly of the type the field expects.
    fn kv(key: &'static str, inner: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![6 => inner, 1 => value()].prop_map(move |v| format!("\"{key}\": {v}")).boxed()
    }

    /// Text fields, number fields and other (ignored) fields.
    fn fields(text: &[&'static str], num: &[&'static str], other: &[&'static str]) -> Vec<BoxedStrategy<String>> {
        let mut v: Vec<BoxedStrategy<String>> = text.iter().map(|k| kv(k, scalar().boxed())).collect();
        v.extend(num.iter().map(|k| kv(k, prop_oneof![3 => number(), 1 => scalar()].boxed())));
        v.extend(other.iter().map(|k| kv(k, value().boxed())));
        v
    }

    fn number() -> impl Strategy<Value = String> {
        const NUMBERS: &[&str] = &["0", "-1", "200", "108.583", "1e3", "-0", "0.1", "-2.5E-3", "18446744073709551616"];
        prop::sample::select(NUMBERS).prop_map(str::to_string)
    }

    fn one_of(v: Vec<BoxedStrategy<String>>) -> BoxedStrategy<String> {
        proptest::strategy::Union::new(v).boxed()
    }

    /// An object of `members`; most have each key once (duplicates make `serde` refuse).
    fn object(members: impl Strategy<Value = String>, n: usize) -> impl Strategy<Value = String> {
        (prop::collection::vec(members, 0..n), prop::sample::select(&[", ", ",\n  ", ","][..]), 0u8..5).prop_map(
            |(mut m, sep, dups)| {
                if dups > 0 {
                    let mut keys = Vec::new();
                    m.retain(|kv| {
                        let k = kv.split(':').next().unwrap_or_default().to_string();
                        let fresh = !keys.contains(&k);
                        keys.push(k);
                        fresh
                    });
                }
                format!("{{{}}}", m.join(sep))
            },
        )
    }

    fn header() -> BoxedStrategy<String> {
        object(one_of(fields(&["name", "value"], &[], &["comment"])), 4).boxed()
    }

    fn headers() -> BoxedStrategy<String> {
        prop_oneof![
            8 => prop::collection::vec(header(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            1 => Just("null".to_string()),
            1 => Just("[[\"a\", \"b\"]]".to_string()),
            1 => Just("{\"a\": \"b\"}".to_string()),
        ]
        .boxed()
    }

    fn maybe_null(s: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![6 => s, 1 => Just("null".to_string())].boxed()
    }

    pub(super) fn entry_text() -> impl Strategy<Value = String> {
        let mut post = fields(&["mimeType", "text", "encoding", "_file"], &[], &["comment"]);
        post.push(kv("params", headers()));
        let post = maybe_null(object(one_of(post), 6).boxed());
        let content = fields(&["text", "encoding", "_file", "mimeType"], &["size", "compression"], &[]);
        let content = maybe_null(object(one_of(content), 6).boxed());
        let mut req =
            fields(&["method", "url", "httpVersion"], &["bodySize", "headersSize"], &["cookies", "queryString"]);
        req.extend([kv("headers", headers()), kv("postData", post)]);
        let req = maybe_null(object(one_of(req), 9).boxed());
        let mut resp = fields(&["statusText", "httpVersion", "_error", "redirectURL"], &["status", "bodySize"], &[]);
        resp.extend([kv("headers", headers()), kv("content", content)]);
        let resp = maybe_null(object(one_of(resp), 9).boxed());
        let timings = fields(&[], &["blocked", "dns", "connect", "ssl", "send", "wait", "receive"], &[]);
        let timings = maybe_null(object(one_of(timings), 8).boxed());
        let mut entry = fields(&["startedDateTime", "serverIPAddress", "connection", "comment"], &["time"], &["cache"]);
        entry.extend([kv("request", req), kv("response", resp), kv("timings", timings)]);
        object(one_of(entry), 11)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn a_directly_read_entry_equals_the_serde_entry(text in entry_text()) {
            agrees(&text);
        }

        #[test]
        fn the_direct_reader_never_panics_on_damaged_entries(
            text in entry_text(),
            cut in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"\"\\{}[],:0 u".to_vec()),
        ) {
            let mut b = text.into_bytes();
            if !b.is_empty() {
                let i = cut.index(b.len());
                b[i] = byte;
                if let Ok(t) = std::str::from_utf8(&b) {
                    agrees(t);
                }
                b.truncate(i);
                if let Ok(t) = std::str::from_utf8(&b) {
                    agrees(t);
                }
            }
        }
    }
}
