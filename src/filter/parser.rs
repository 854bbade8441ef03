//! Recursive-descent parser for filter expressions, with mitmproxy's precedence: `!` binds
//! tightest, then `&`, then `|`, and juxtaposition (`~q ~b test`) is an "and" of whole
//! `|`-expressions. Every error carries the byte span of the offending input; nothing here
//! panics, and nesting is bounded so hostile input cannot exhaust the stack.

use std::net::IpAddr;
use std::ops::Range;

use super::ParseError;
use super::ast::{AddrMatch, BytesRx, Cmp, Expr, Literal, Rx, Side, StatusMatch};
use super::lexer::{Arg, ArgMode, Lexer, Tok};

/// Deepest nesting of `(` and `!` accepted.
pub const MAX_DEPTH: usize = 128;
/// Largest compiled regex (bytes), bounding memory and compile time of hostile patterns.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One term of the language: its name, what its argument looks like (empty: none) and
/// what it matches. The parser accepts exactly the terms of [`TERM_TABLE`]; error messages,
/// the TUI's help overlay and its Tab completion are generated from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermInfo {
    /// The name with its `~` (`~c`).
    pub name: &'static str,
    /// The argument, as shown in help (`CODE|5xx|>=400`); empty for none, `[KIND]` when optional.
    pub arg: &'static str,
    /// What it matches, in a few words.
    pub help: &'static str,
}

const fn t(name: &'static str, arg: &'static str, help: &'static str) -> TermInfo {
    TermInfo { name, arg, help }
}

/// Every term the language knows, alphabetically.
pub const TERM_TABLE: &[TermInfo] = &[
    t("~a", "", "the response is an asset (image, font, CSS, JavaScript)"),
    t("~all", "", "every exchange"),
    t("~b", "REGEX", "request or response body"),
    t("~bq", "REGEX", "request body"),
    t("~bs", "REGEX", "response body"),
    t("~c", "CODE|5xx|>=400", "status code, class or comparison"),
    t("~client", "ID", "client identity (or the start of its hash, or its address)"),
    t("~comment", "REGEX", "the flow's comment"),
    t("~d", "REGEX", "request host"),
    t("~dns", "", "never (mitmproxy compatibility)"),
    t("~dst", "IP|NET|REGEX", "server address"),
    t("~dur", "CMP DURATION", "total time, e.g. >250ms"),
    t("~e", "", "failed or aborted exchange"),
    t("~ep", "\"METHOD /template\"", "endpoint (spec operation or inferred template)"),
    t("~flag", "[KIND]", "the client has a pattern flag: scanner, retry_storm, polling…"),
    t("~gap", "[KIND]", "contract finding (needs --spec)"),
    t("~h", "REGEX", "request or response header line"),
    t("~hq", "REGEX", "request header line"),
    t("~hs", "REGEX", "response header line"),
    t("~http", "", "every exchange (all are HTTP)"),
    t("~m", "REGEX", "method"),
    t("~marked", "", "marked flows (TUI)"),
    t("~msg", "REGEX", "a WebSocket message, SSE event or NDJSON line"),
    t("~q", "", "request without a response"),
    t("~replay", "", "never (mitmproxy compatibility)"),
    t("~replayq", "", "never (mitmproxy compatibility)"),
    t("~replays", "", "never (mitmproxy compatibility)"),
    t("~s", "", "a response was seen"),
    t("~size", "CMP SIZE", "request + response body size, e.g. >1MB"),
    t("~sizeq", "CMP SIZE", "request body size"),
    t("~sizes", "CMP SIZE", "response body size"),
    t("~src", "IP|NET|REGEX", "client address"),
    t("~t", "REGEX", "request or response Content-Type"),
    t("~tcp", "", "never (mitmproxy compatibility)"),
    t("~tq", "REGEX", "request Content-Type"),
    t("~ts", "REGEX", "response Content-Type"),
    t("~ttfb", "CMP DURATION", "time to first byte, e.g. >50ms"),
    t("~u", "REGEX", "full URL (a bare regex means this)"),
    t("~udp", "", "never (mitmproxy compatibility)"),
    t("~websocket", "", "WebSocket upgrade (101)"),
];

/// The names of every term (`~a ~all ~b …`).
pub fn term_names() -> impl Iterator<Item = &'static str> {
    TERM_TABLE.iter().map(|t| t.name)
}

/// Parse a whole expression. Empty (or all-whitespace) input matches everything.
///
/// # Errors
/// The first problem found, with its span.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.trim().is_empty() {
        return Ok(Expr::All);
    }
    let mut p = Parser { lx: Lexer::new(src), depth: 0 };
    let e = p.seq(None)?;
    match p.lx.next()? {
        (Tok::End, _) => Ok(e),
        (_, span) => Err(ParseError::new(span, "unmatched `)`")),
    }
}

struct Parser<'a> {
    lx: Lexer<'a>,
    depth: usize,
}

fn and_of(mut v: Vec<Expr>) -> Expr {
    if v.len() == 1 {
        return v.pop().unwrap_or(Expr::All);
    }
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        match e {
            Expr::And(inner) => out.extend(inner),
            e => out.push(e),
        }
    }
    Expr::And(out)
}

fn or_of(mut v: Vec<Expr>) -> Expr {
    if v.len() == 1 {
        return v.pop().unwrap_or(Expr::All);
    }
    let mut out = Vec::with_capacity(v.len());
    for e in v {
        match e {
            Expr::Or(inner) => out.extend(inner),
            e => out.push(e),
        }
    }
    Expr::Or(out)
}

impl Parser<'_> {
    fn enter(&mut self, span: Range<usize>) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(span, format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// One or more `|`-expressions side by side (implicit and). `open` is the span of the
    /// `(` this sequence sits in, if any.
    fn seq(&mut self, open: Option<Range<usize>>) -> Result<Expr, ParseError> {
        let mut items = Vec::new();
        loop {
            match self.lx.peek()?.0 {
                Tok::End => break,
                Tok::RParen if open.is_some() => break,
                _ => items.push(self.or()?),
            }
        }
        if items.is_empty() {
            let at = self.lx.pos();
            return Err(match open {
                Some(o) => ParseError::new(o.start..at.max(o.end), "empty parentheses: expected an expression inside"),
                None => ParseError::new(at..at, "expected an expression"),
            });
        }
        Ok(and_of(items))
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.and()?];
        while let (Tok::Or, span) = self.lx.peek()? {
            self.lx.next()?;
            self.expect_operand(&span, "|")?;
            v.push(self.and()?);
        }
        Ok(or_of(v))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.unary()?];
        while let (Tok::And, span) = self.lx.peek()? {
            self.lx.next()?;
            self.expect_operand(&span, "&")?;
            v.push(self.unary()?);
        }
        Ok(and_of(v))
    }

    fn expect_operand(&mut self, op: &Range<usize>, name: &str) -> Result<(), ParseError> {
        match self.lx.peek()?.0 {
            Tok::End | Tok::RParen | Tok::And | Tok::Or => {
                Err(ParseError::new(op.clone(), format!("expected an expression after `{name}`")))
            }
            _ => Ok(()),
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let (tok, span) = self.lx.next()?;
        match tok {
            Tok::Not => {
                self.enter(span.clone())?;
                self.expect_operand(&span, "!")?;
                let e = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(e)))
            }
            Tok::LParen => {
                self.enter(span.clone())?;
                let e = self.seq(Some(span.clone()))?;
                match self.lx.next()? {
                    (Tok::RParen, _) => {}
                    _ => return Err(ParseError::new(span, "unclosed `(`: add a matching `)`")),
                }
                self.depth -= 1;
                Ok(e)
            }
            Tok::RParen => Err(ParseError::new(span, "unmatched `)`")),
            Tok::And | Tok::Or => Err(ParseError::new(span, "expected an expression before this operator")),
            Tok::End => Err(ParseError::new(span, "expected an expression")),
            Tok::Word(w) | Tok::Quoted(w) => Ok(Expr::Url(regex(&w, span)?)),
            Tok::Op(name) => self.term(&name, span),
        }
    }

    /// An optional argument (`~gap`, `~flag`): absent when the next token is an operator.
    fn optional(&mut self) -> Result<Option<String>, ParseError> {
        let save = self.lx.pos();
        Ok(match self.lx.argument(ArgMode::Text)? {
            Some(a) if !a.text.starts_with(['&', '|', '!']) => Some(a.text),
            Some(_) => {
                self.lx.reset(save);
                None
            }
            None => None,
        })
    }

    fn required(&mut self, name: &str, span: &Range<usize>, mode: ArgMode, what: &str) -> Result<Arg, ParseError> {
        self.lx
            .argument(mode)?
            .ok_or_else(|| ParseError::new(span.clone(), format!("`~{name}` needs an argument: {what}")))
    }

    fn term(&mut self, name: &str, span: Range<usize>) -> Result<Expr, ParseError> {
        use ArgMode::{Text, Value};
        const RX: &str = "a regex";
        // Only the table's terms exist: what the help lists is what parses.
        if !name.is_empty() && !TERM_TABLE.iter().any(|t| t.name.get(1..) == Some(name)) {
            return Err(unknown_term(name, span));
        }
        Ok(match name {
            "all" => Expr::All,
            "a" => Expr::Asset,
            "e" => Expr::Error,
            "http" => Expr::Http,
            "websocket" => Expr::WebSocket,
            "q" => Expr::NoResponse,
            "s" => Expr::HasResponse,
            "marked" => Expr::Marked,
            "tcp" => Expr::Never("tcp"),
            "udp" => Expr::Never("udp"),
            "dns" => Expr::Never("dns"),
            "replay" => Expr::Never("replay"),
            "replayq" => Expr::Never("replayq"),
            "replays" => Expr::Never("replays"),
            "u" | "m" | "d" | "h" | "hq" | "hs" | "t" | "tq" | "ts" | "comment" => {
                let a = self.required(name, &span, Text, RX)?;
                let multi = name == "comment";
                let r = regex_with(&a.text, a.span, multi)?;
                match name {
                    "u" => Expr::Url(r),
                    "m" => Expr::Method(r),
                    "d" => Expr::Domain(r),
                    "h" => Expr::Header(Side::Both, r),
                    "hq" => Expr::Header(Side::Request, r),
                    "hs" => Expr::Header(Side::Response, r),
                    "t" => Expr::ContentType(Side::Both, r),
                    "tq" => Expr::ContentType(Side::Request, r),
                    "ts" => Expr::ContentType(Side::Response, r),
                    _ => Expr::Comment(r),
                }
            }
            "b" | "bq" | "bs" => {
                let a = self.required(name, &span, Text, RX)?;
                let r = bytes_regex(&a.text, a.span)?;
                Expr::Body(side_of(name), r)
            }
            "msg" => {
                let a = self.required(name, &span, Text, RX)?;
                Expr::Message(bytes_regex(&a.text, a.span)?)
            }
            "src" | "dst" => {
                let a = self.required(name, &span, Text, "an IP, a network (10.0.0.0/8) or a regex")?;
                let m = addr(&a)?;
                if name == "src" { Expr::Src(m) } else { Expr::Dst(m) }
            }
            "c" => {
                let a = self.required(name, &span, Value, "a status (404), class (5xx) or comparison (>=400)")?;
                Expr::Status(status(&a)?)
            }
            "dur" | "ttfb" => {
                let a = self.required(name, &span, Value, "a comparison and duration (>250ms)")?;
                let (c, n) = duration(&a)?;
                if name == "dur" { Expr::Duration(c, n) } else { Expr::Ttfb(c, n) }
            }
            "size" | "sizeq" | "sizes" => {
                let a = self.required(name, &span, Value, "a comparison and size (>1MB)")?;
                let (c, n) = size(&a)?;
                let side = match name {
                    "sizeq" => Side::Request,
                    "sizes" => Side::Response,
                    _ => Side::Both,
                };
                Expr::Size(side, c, n)
            }
            "client" => Expr::Client(self.required(name, &span, Text, "a client id")?.text),
            "ep" => {
                let a = self.required(name, &span, Text, "an endpoint such as \"GET /v1/orders/{id}\"")?;
                Expr::Endpoint(normalize_endpoint(&a.text))
            }
            "gap" => Expr::Gap(self.optional()?),
            "flag" => Expr::Flag(self.optional()?),
            "" => return Err(ParseError::new(span, "expected a term name after `~` (such as ~u, ~c, ~h)")),
            _ => return Err(unknown_term(name, span)),
        })
    }
}

fn unknown_term(name: &str, span: Range<usize>) -> ParseError {
    ParseError::new(
        span,
        format!("unknown filter term `~{name}`; known: {}", term_names().collect::<Vec<_>>().join(" ")),
    )
}

fn side_of(name: &str) -> Side {
    match name.as_bytes().last() {
        Some(b'q') => Side::Request,
        Some(b's') => Side::Response,
        _ => Side::Both,
    }
}

/// The first line of a regex error, which is the useful part.
fn regex_message(e: &regex::Error) -> String {
    let s = e.to_string();
    let last = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid pattern").trim().to_string();
    let last = last.strip_prefix("error: ").unwrap_or(&last).to_string();
    format!("bad regex: {last}")
}

fn regex(src: &str, span: Range<usize>) -> Result<Rx, ParseError> {
    regex_with(src, span, false)
}

fn regex_with(src: &str, span: Range<usize>, multi_line: bool) -> Result<Rx, ParseError> {
    regex::RegexBuilder::new(src)
        .case_insensitive(true)
        .multi_line(multi_line)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(4 * REGEX_SIZE_LIMIT)
        .build()
        .map(|re| Rx { src: src.to_string(), re, lit: if multi_line { None } else { Literal::of(src) } })
        .map_err(|e| ParseError::new(span, regex_message(&e)))
}

fn bytes_regex(src: &str, span: Range<usize>) -> Result<BytesRx, ParseError> {
    regex::bytes::RegexBuilder::new(src)
        .case_insensitive(true)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(4 * REGEX_SIZE_LIMIT)
        .build()
        .map(|re| BytesRx { src: src.to_string(), re })
        .map_err(|e| ParseError::new(span, regex_message(&e)))
}

fn addr(a: &Arg) -> Result<AddrMatch, ParseError> {
    let t = a.text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(AddrMatch::Net { ip, prefix, plain: true });
    }
    if let Some((ip, len)) = t.split_once('/') {
        if let Ok(ip) = ip.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return match len.parse::<u8>() {
                Ok(p) if p <= max => Ok(AddrMatch::Net { ip, prefix: p, plain: false }),
                _ => Err(ParseError::new(a.span.clone(), format!("bad network prefix `/{len}`: expected 0 to {max}"))),
            };
        }
    }
    regex(&a.text, a.span.clone()).map(AddrMatch::Regex)
}

/// Split a leading comparison operator off a value.
fn comparison(text: &str) -> (Cmp, &str) {
    for (op, c) in [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("!=", Cmp::Ne),
        ("==", Cmp::Eq),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
        ("=", Cmp::Eq),
    ] {
        if let Some(rest) = text.strip_prefix(op) {
            return (c, rest.trim_start());
        }
    }
    (Cmp::Eq, text)
}

fn status(a: &Arg) -> Result<StatusMatch, ParseError> {
    let (c, rest) = comparison(a.text.trim());
    let bad = || {
        ParseError::new(
            a.span.clone(),
            format!("bad status `{}`: expected a code (404), a class (5xx) or a comparison (>=400)", a.text),
        )
    };
    let b = rest.as_bytes();
    if b.len() == 3 && b[1].eq_ignore_ascii_case(&b'x') && b[2].eq_ignore_ascii_case(&b'x') && b[0].is_ascii_digit() {
        return if c == Cmp::Eq { Ok(StatusMatch::Class(b[0] - b'0')) } else { Err(bad()) };
    }
    if rest.is_empty() || !rest.bytes().all(|d| d.is_ascii_digit()) {
        return Err(bad());
    }
    rest.parse::<u16>().map(|n| StatusMatch::Code(c, n)).map_err(|_| bad())
}

/// Split `12.5ms` into the number and the unit.
fn number_unit(s: &str) -> Option<(f64, &str)> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    n.is_finite().then_some((n, unit.trim()))
}

fn scaled(n: f64, k: f64, limit: f64) -> Option<f64> {
    let v = (n * k).round();
    (v.is_finite() && v >= 0.0 && v <= limit).then_some(v)
}

fn duration(a: &Arg) -> Result<(Cmp, i64), ParseError> {
    let (c, rest) = comparison(a.text.trim());
    let bad = |why: &str| ParseError::new(a.span.clone(), format!("bad duration `{}`: {why}", a.text));
    let (n, unit) = number_unit(rest).ok_or_else(|| bad("expected a number with a unit, such as 250ms"))?;
    let k = match unit.to_ascii_lowercase().as_str() {
        "ns" => 1.0,
        "us" | "µs" | "μs" => 1e3,
        "" | "ms" => 1e6,
        "s" | "sec" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return Err(bad("unknown unit; use ns, us, µs, ms, s, m or h")),
    };
    // i64::MAX as f64 rounds up, so stay well below it.
    let v = scaled(n, k, 9.0e18).ok_or_else(|| bad("too large"))?;
    Ok((c, v as i64))
}

fn size(a: &Arg) -> Result<(Cmp, u64), ParseError> {
    let (c, rest) = comparison(a.text.trim());
    let bad = |why: &str| ParseError::new(a.span.clone(), format!("bad size `{}`: {why}", a.text));
    let (n, unit) = number_unit(rest).ok_or_else(|| bad("expected a number with a unit, such as 1MB"))?;
    let k = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad("unknown unit; use B, KB, MB, GB, KiB, MiB or GiB")),
    };
    let v = scaled(n, k, 1.8e19).ok_or_else(|| bad("too large"))?;
    Ok((c, v as u64))
}

/// `get   /v1/x` → `GET /v1/x`: method upper-cased, whitespace collapsed.
#[must_use]
pub fn normalize_endpoint(s: &str) -> String {
    let mut parts = s.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(m), Some(p)) => {
            let rest: Vec<&str> = std::iter::once(p).chain(parts).collect();
            format!("{} {}", m.to_ascii_uppercase(), rest.join(" "))
        }
        (Some(m), None) => m.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> ParseError {
        parse(s).expect_err(s)
    }

    #[test]
    fn precedence_follows_mitmproxy() {
        assert_eq!(p("~q | ~s & ~e").to_string(), "~q | ~s & ~e");
        assert_eq!(p("~a | ~e ~q").to_string(), "(~a | ~e) & ~q");
        assert_eq!(p("!~q & ~s").to_string(), "!~q & ~s");
        assert_eq!(p("!(~q & ~s)").to_string(), "!(~q & ~s)");
        assert_eq!(p("~q ~b test").to_string(), "~q & ~b \"test\"");
        assert_eq!(p("((~q))").to_string(), "~q");
        assert_eq!(p("~q & (~s & ~e)"), p("~q & ~s & ~e"));
    }

    #[test]
    fn bare_regex_is_url() {
        assert_eq!(p("google\\.com"), p("~u 'google\\.com'"));
        assert!(matches!(p("foo|bar"), Expr::Url(r) if r.src == "foo|bar"));
    }

    #[test]
    fn status_forms() {
        assert_eq!(p("~c 5xx"), Expr::Status(StatusMatch::Class(5)));
        assert_eq!(p("~c >=400"), Expr::Status(StatusMatch::Code(Cmp::Ge, 400)));
        assert_eq!(p("~c >= 400"), Expr::Status(StatusMatch::Code(Cmp::Ge, 400)));
        assert_eq!(p("~c 200|~c 404").to_string(), "~c 200 | ~c 404");
        assert_eq!(p("~c !=200"), Expr::Status(StatusMatch::Code(Cmp::Ne, 200)));
    }

    #[test]
    fn durations_and_sizes_take_units() {
        assert_eq!(p("~dur >250ms"), Expr::Duration(Cmp::Gt, 250_000_000));
        assert_eq!(p("~ttfb <1.5s"), Expr::Ttfb(Cmp::Lt, 1_500_000_000));
        assert_eq!(p("~dur >20µs"), Expr::Duration(Cmp::Gt, 20_000));
        assert_eq!(p("~dur >2m"), Expr::Duration(Cmp::Gt, 120_000_000_000));
        assert_eq!(p("~dur >40"), Expr::Duration(Cmp::Gt, 40_000_000));
        assert_eq!(p("~size >1MB"), Expr::Size(Side::Both, Cmp::Gt, 1_000_000));
        assert_eq!(p("~sizes >=2KiB"), Expr::Size(Side::Response, Cmp::Ge, 2048));
    }

    #[test]
    fn addresses_take_ips_networks_or_regexes() {
        assert!(matches!(p("~src 10.0.0.0/8"), Expr::Src(AddrMatch::Net { prefix: 8, .. })));
        assert!(matches!(p("~dst ::1"), Expr::Dst(AddrMatch::Net { prefix: 128, plain: true, .. })));
        assert!(matches!(p("~dst :443$"), Expr::Dst(AddrMatch::Regex(_))));
        assert_eq!(err("~src 10.0.0.0/33").span, 5..16);
    }

    #[test]
    fn new_terms_parse() {
        assert_eq!(p("~ep 'get   /v1/orders/{id}'"), Expr::Endpoint("GET /v1/orders/{id}".into()));
        assert_eq!(p("~client \"198.18.0.7 curl/8\""), Expr::Client("198.18.0.7 curl/8".into()));
        assert_eq!(p("~gap"), Expr::Gap(None));
        assert_eq!(p("~gap undocumented"), Expr::Gap(Some("undocumented".into())));
        assert_eq!(p("~gap & ~c 500"), Expr::And(vec![Expr::Gap(None), Expr::Status(StatusMatch::Code(Cmp::Eq, 500))]));
        assert_eq!(p("~gap ~c 500").to_string(), "~gap & ~c 500");
        assert_eq!(p(""), Expr::All);
        assert_eq!(p("~flag"), Expr::Flag(None));
        assert_eq!(p("~flag scanner"), Expr::Flag(Some("scanner".into())));
        assert_eq!(p("~flag retry-storm & ~c 5xx").to_string(), "~flag \"retry-storm\" & ~c 5xx");
    }

    #[test]
    fn errors_point_at_the_offending_bytes() {
        let e = err("~c 200 & ~zz foo");
        assert_eq!(e.span, 9..12);
        assert!(e.message.contains("unknown filter term `~zz`"));
        assert_eq!(err("~q & (~s | ~e").span, 5..6);
        assert_eq!(err("~q )").span, 3..4);
        assert_eq!(err("~u 'abc").span, 3..7);
        let e = err("~u (");
        assert_eq!(e.span, 0..2, "{e}");
        let e = err("~b '[a-'");
        assert_eq!(e.span, 3..8);
        assert!(e.message.starts_with("bad regex"), "{e}");
        assert_eq!(err("~dur >5parsecs").span, 5..14);
        assert_eq!(err("~size >1QB").span, 6..10);
        assert_eq!(err("~c 9xy").span, 3..6);
        assert_eq!(err("~c").span, 0..2);
        assert_eq!(err("~q &").span, 3..4);
        assert_eq!(err("| ~q").span, 0..1);
        assert_eq!(err("()").span, 0..1);
        assert_eq!(err("~").span, 0..1);
        assert_eq!(err("!").span, 0..1);
    }

    #[test]
    fn every_term_of_the_table_parses_and_no_other() {
        for t in TERM_TABLE {
            let arg = match t.arg {
                "" | "[KIND]" => "",
                "CODE|5xx|>=400" => "5xx",
                "CMP DURATION" => ">1s",
                "CMP SIZE" => ">1KB",
                "IP|NET|REGEX" => "10.0.0.0/8",
                _ => "x",
            };
            let src = format!("{} {arg}", t.name);
            assert!(parse(&src).is_ok(), "{src}: {:?}", parse(&src));
            assert!(!t.help.is_empty());
        }
        let names: Vec<&str> = term_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "the table is alphabetical");
        assert!(err("~meta x").message.contains("known: ~a ~all"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "(".repeat(10_000) + "~q" + &")".repeat(10_000);
        assert!(err(&deep).message.contains("nested"));
        let nots = "!".repeat(100_000) + "~q";
        assert!(err(&nots).message.contains("nested"));
        let ok = "(".repeat(50) + "~q" + &")".repeat(50);
        assert_eq!(p(&ok), Expr::NoResponse);
    }

    #[test]
    fn huge_regexes_are_refused() {
        let e = err("~u 'a{1000}{1000}'");
        assert!(e.message.starts_with("bad regex"), "{e}");
    }
}
