//! The parsed form of a filter: terms, `!`, `&`, `|`. `Display` prints a canonical
//! expression that parses back to the same tree (explicit `&`, arguments double-quoted,
//! durations and sizes in their largest exact unit).

use std::fmt;
use std::net::IpAddr;

/// Which message(s) of an exchange a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request only (`~hq`, `~bq`, `~tq`).
    Request,
    /// The response only (`~hs`, `~bs`, `~ts`).
    Response,
    /// Either (`~h`, `~b`, `~t`).
    Both,
}

impl Side {
    fn suffix(self) -> &'static str {
        match self {
            Self::Request => "q",
            Self::Response => "s",
            Self::Both => "",
        }
    }
}

/// A compiled, case-insensitive regex over text, compared by its source.
#[derive(Debug, Clone)]
pub struct Rx {
    /// The pattern as written (escapes of the quoting resolved).
    pub src: String,
    /// The compiled pattern.
    pub re: regex::Regex,
    /// A fast path when the pattern is a plain ASCII literal (optionally `^`/`$` anchored).
    pub lit: Option<Literal>,
}

impl Rx {
    /// True when the pattern matches somewhere in `s`. ASCII text against a literal pattern
    /// skips the regex engine (same result: ASCII-only text has no Unicode case folds).
    #[must_use]
    pub fn is_match(&self, s: &str) -> bool {
        match &self.lit {
            Some(l) if s.is_ascii() => l.is_match(s.as_bytes()),
            _ => self.re.is_match(s),
        }
    }
}

/// A pattern with no regex operators, matched ASCII-case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// The text to find, lower-cased.
    pub needle: Vec<u8>,
    /// Anchored at the start (`^`).
    pub start: bool,
    /// Anchored at the end (`$`).
    pub end: bool,
}

impl Literal {
    /// The literal a pattern stands for, if it is one: ASCII, no operators other than a
    /// leading `^` and a trailing `$`, escapes only of punctuation (`\.`).
    #[must_use]
    pub fn of(pattern: &str) -> Option<Literal> {
        let (start, p) = pattern.strip_prefix('^').map_or((false, pattern), |r| (true, r));
        let mut needle = Vec::with_capacity(p.len());
        let mut end = false;
        let mut it = p.bytes().peekable();
        while let Some(b) = it.next() {
            match b {
                b'\\' => match it.next() {
                    Some(e) if e.is_ascii_punctuation() && e != b'<' && e != b'>' => {
                        needle.push(e.to_ascii_lowercase())
                    }
                    _ => return None,
                },
                b'$' if it.peek().is_none() => end = true,
                b'.' | b'+' | b'*' | b'?' | b'(' | b')' | b'|' | b'[' | b']' | b'{' | b'}' | b'^' | b'$' => {
                    return None;
                }
                b if b.is_ascii() => needle.push(b.to_ascii_lowercase()),
                _ => return None,
            }
        }
        Some(Literal { needle, start, end })
    }

    /// Find the literal in ASCII `hay`.
    #[must_use]
    pub fn is_match(&self, hay: &[u8]) -> bool {
        let n = self.needle.len();
        if hay.len() < n {
            return false;
        }
        match (self.start, self.end) {
            (true, true) => hay.eq_ignore_ascii_case(&self.needle),
            (true, false) => hay.get(..n).is_some_and(|h| h.eq_ignore_ascii_case(&self.needle)),
            (false, true) => hay.get(hay.len() - n..).is_some_and(|h| h.eq_ignore_ascii_case(&self.needle)),
            (false, false) => {
                let Some(&first) = self.needle.first() else { return true };
                let last_start = hay.len() - n;
                memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay.get(..=last_start).unwrap_or(&[]))
                    .any(|i| hay.get(i..i + n).is_some_and(|h| h.eq_ignore_ascii_case(&self.needle)))
            }
        }
    }
}

impl PartialEq for Rx {
    fn eq(&self, o: &Self) -> bool {
        self.src == o.src
    }
}

/// A compiled, case-insensitive regex over bytes (bodies), compared by its source.
#[derive(Debug, Clone)]
pub struct BytesRx {
    /// The pattern as written.
    pub src: String,
    /// The compiled pattern.
    pub re: regex::bytes::Regex,
}

impl PartialEq for BytesRx {
    fn eq(&self, o: &Self) -> bool {
        self.src == o.src
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` (also written `==`, or no operator at all)
    Eq,
    /// `!=`
    Ne,
}

impl Cmp {
    /// Apply the comparison `a OP b`.
    #[must_use]
    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Self::Lt => a < b,
            Self::Le => a <= b,
            Self::Gt => a > b,
            Self::Ge => a >= b,
            Self::Eq => a == b,
            Self::Ne => a != b,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "",
            Self::Ne => "!=",
        }
    }
}

/// What `~c` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// A code compared with an operator (`~c 404`, `~c >=400`).
    Code(Cmp, u16),
    /// A class: the hundreds digit (`~c 5xx` is `Class(5)`).
    Class(u8),
}

/// What `~src` / `~dst` compare.
#[derive(Debug, Clone, PartialEq)]
pub enum AddrMatch {
    /// An IP network (`10.0.0.0/8`); a plain IP is a full-length prefix.
    Net {
        /// Network address.
        ip: IpAddr,
        /// Prefix length in bits.
        prefix: u8,
        /// True when written without `/len`.
        plain: bool,
    },
    /// A regex over `ip:port` (`[ip]:port` for IPv6).
    Regex(Rx),
}

impl AddrMatch {
    /// True when `ip` is in this network (always false for the regex form).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let Self::Net { ip: net, prefix, .. } = self else { return false };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let p = u32::from(*prefix.min(&32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let p = u32::from(*prefix.min(&128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                u128::from(*n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(n), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a4| {
                Self::Net { ip: IpAddr::V4(*n), prefix: *prefix, plain: false }.contains(IpAddr::V4(a4))
            }),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `~all`
    All,
    /// A mitmproxy term that never matches HTTP exchanges (`~tcp`, `~udp`, `~dns`,
    /// `~replay`, `~replayq`, `~replays`); the name is kept for printing.
    Never(&'static str),
    /// `~a`: the response is an asset (CSS, JavaScript, image, font).
    Asset,
    /// `~e`: the exchange failed or was aborted.
    Error,
    /// `~http`: every exchange apiscope reads is HTTP.
    Http,
    /// `~websocket`: the exchange upgraded to WebSocket (101 with `Upgrade: websocket`).
    WebSocket,
    /// `~q`: a request with no response.
    NoResponse,
    /// `~s`: a response was seen.
    HasResponse,
    /// `~marked`
    Marked,
    /// `~u REGEX` (and a bare regex): the full URL.
    Url(Rx),
    /// `~m REGEX`: the method.
    Method(Rx),
    /// `~d REGEX`: the request's host.
    Domain(Rx),
    /// `~h`, `~hq`, `~hs`: a header line `name: value`.
    Header(Side, Rx),
    /// `~b`, `~bq`, `~bs`: a decoded body.
    Body(Side, BytesRx),
    /// `~msg REGEX`: the payload of any message inside the exchange (WebSocket, SSE, NDJSON).
    Message(BytesRx),
    /// `~t`, `~tq`, `~ts`: the Content-Type header.
    ContentType(Side, Rx),
    /// `~comment REGEX`
    Comment(Rx),
    /// `~src ADDR`: the client address.
    Src(AddrMatch),
    /// `~dst ADDR`: the server address.
    Dst(AddrMatch),
    /// `~c CODE|CLASS|CMP`
    Status(StatusMatch),
    /// `~dur CMP DURATION` (ns).
    Duration(Cmp, i64),
    /// `~ttfb CMP DURATION` (ns).
    Ttfb(Cmp, i64),
    /// `~size`, `~sizeq`, `~sizes` `CMP SIZE` (bytes; `Both` = request + response).
    Size(Side, Cmp, u64),
    /// `~client ID`: the client identity equals ID (ASCII case-insensitive).
    Client(String),
    /// `~ep "METHOD /template"`: the endpoint equals this.
    Endpoint(String),
    /// `~gap` (any finding) or `~gap KIND`.
    Gap(Option<String>),
    /// `~flag` (any pattern flag on the exchange's client) or `~flag KIND` (`scanner`,
    /// `retry_storm`, a kind's start).
    Flag(Option<String>),
    /// `!x`
    Not(Box<Expr>),
    /// `x & y & …` (also juxtaposition)
    And(Vec<Expr>),
    /// `x | y | …`
    Or(Vec<Expr>),
}

impl Expr {
    /// True when evaluating this needs message bodies.
    #[must_use]
    pub fn needs_bodies(&self) -> bool {
        match self {
            Self::Body(..) | Self::Message(_) => true,
            Self::Not(e) => e.needs_bodies(),
            Self::And(v) | Self::Or(v) => v.iter().any(Self::needs_bodies),
            _ => false,
        }
    }
}

/// Write `s` double-quoted: `\` and `"` escaped, everything else as is.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// A duration in ns in its largest exact unit (`250ms`, `2s`, `1500ns`).
#[must_use]
pub fn format_duration(ns: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(60_000_000_000, "m"), (1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")];
    if ns != 0 {
        for (k, u) in UNITS {
            if ns % k == 0 {
                return format!("{}{u}", ns / k);
            }
        }
    }
    format!("{ns}ns")
}

/// A byte count in its largest exact unit (`1MB`, `4KiB`, `17B`).
#[must_use]
pub fn format_size(b: u64) -> String {
    const UNITS: [(u64, &str); 6] =
        [(1 << 30, "GiB"), (1_000_000_000, "GB"), (1 << 20, "MiB"), (1_000_000, "MB"), (1 << 10, "KiB"), (1_000, "KB")];
    if b != 0 {
        for (k, u) in UNITS {
            if b % k == 0 {
                return format!("{}{u}", b / k);
            }
        }
    }
    format!("{b}B")
}

fn write_addr(f: &mut fmt::Formatter<'_>, name: &str, a: &AddrMatch) -> fmt::Result {
    match a {
        AddrMatch::Net { ip, plain: true, .. } => write!(f, "~{name} {ip}"),
        AddrMatch::Net { ip, prefix, .. } => write!(f, "~{name} {ip}/{prefix}"),
        AddrMatch::Regex(r) => {
            write!(f, "~{name} ")?;
            write_quoted(f, &r.src)
        }
    }
}

impl Expr {
    fn precedence(&self) -> u8 {
        match self {
            Self::Or(_) => 1,
            Self::And(_) => 2,
            _ => 3,
        }
    }

    fn write_child(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min { write!(f, "({self})") } else { write!(f, "{self}") }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rx = |f: &mut fmt::Formatter<'_>, op: &str, src: &str| {
            write!(f, "~{op} ")?;
            write_quoted(f, src)
        };
        match self {
            Self::All => f.write_str("~all"),
            Self::Never(n) => write!(f, "~{n}"),
            Self::Asset => f.write_str("~a"),
            Self::Error => f.write_str("~e"),
            Self::Http => f.write_str("~http"),
            Self::WebSocket => f.write_str("~websocket"),
            Self::NoResponse => f.write_str("~q"),
            Self::HasResponse => f.write_str("~s"),
            Self::Marked => f.write_str("~marked"),
            Self::Url(r) => rx(f, "u", &r.src),
            Self::Method(r) => rx(f, "m", &r.src),
            Self::Domain(r) => rx(f, "d", &r.src),
            Self::Header(s, r) => rx(f, &format!("h{}", s.suffix()), &r.src),
            Self::Body(s, r) => rx(f, &format!("b{}", s.suffix()), &r.src),
            Self::Message(r) => rx(f, "msg", &r.src),
            Self::ContentType(s, r) => rx(f, &format!("t{}", s.suffix()), &r.src),
            Self::Comment(r) => rx(f, "comment", &r.src),
            Self::Src(a) => write_addr(f, "src", a),
            Self::Dst(a) => write_addr(f, "dst", a),
            Self::Status(StatusMatch::Code(c, n)) => write!(f, "~c {}{n}", c.prefix()),
            Self::Status(StatusMatch::Class(k)) => write!(f, "~c {k}xx"),
            Self::Duration(c, n) => write!(f, "~dur {}{}", c.prefix(), format_duration(*n)),
            Self::Ttfb(c, n) => write!(f, "~ttfb {}{}", c.prefix(), format_duration(*n)),
            Self::Size(s, c, n) => write!(f, "~size{} {}{}", s.suffix(), c.prefix(), format_size(*n)),
            Self::Client(s) => rx(f, "client", s),
            Self::Endpoint(s) => rx(f, "ep", s),
            Self::Gap(None) => f.write_str("~gap"),
            Self::Gap(Some(k)) => rx(f, "gap", k),
            Self::Flag(None) => f.write_str("~flag"),
            Self::Flag(Some(k)) => rx(f, "flag", k),
            Self::Not(e) => {
                f.write_str("!")?;
                e.write_child(f, 3)
            }
            Self::And(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" & ")?;
                    }
                    e.write_child(f, 2)?;
                }
                Ok(())
            }
            Self::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    e.write_child(f, 1)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_print_in_exact_units() {
        assert_eq!(format_duration(250_000_000), "250ms");
        assert_eq!(format_duration(2_000_000_000), "2s");
        assert_eq!(format_duration(120_000_000_000), "2m");
        assert_eq!(format_duration(1_500), "1500ns");
        assert_eq!(format_duration(0), "0ns");
        assert_eq!(format_size(1_000_000), "1MB");
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(17), "17B");
    }

    #[test]
    fn literals_are_recognised_and_match_like_the_regex() {
        assert_eq!(Literal::of("POST"), Some(Literal { needle: b"post".to_vec(), start: false, end: false }));
        assert_eq!(Literal::of("^GET$"), Some(Literal { needle: b"get".to_vec(), start: true, end: true }));
        assert_eq!(
            Literal::of("example\\.com"),
            Some(Literal { needle: b"example.com".to_vec(), start: false, end: false })
        );
        for p in ["a.b", "a|b", "\\d+", "(?i)x", "caf\u{e9}", "a$b", "x{2}"] {
            assert_eq!(Literal::of(p), None, "{p}");
        }
        let cases = ["POST", "^get$", "^/v1", "json$", "/V1/Orders", "", "a: b", "example\\.com"];
        let hays = ["POST", "get", "GET /v1", "/v1/orders/7", "application/json", "xx", "A: B", "www.Example.com", ""];
        for p in cases {
            let l = Literal::of(p).unwrap();
            let re = regex::RegexBuilder::new(p).case_insensitive(true).build().unwrap();
            for h in hays {
                assert_eq!(l.is_match(h.as_bytes()), re.is_match(h), "{p} on {h}");
            }
        }
    }

    #[test]
    fn networks_contain_addresses() {
        let n = AddrMatch::Net { ip: "10.1.0.0".parse().unwrap(), prefix: 16, plain: false };
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        let z = AddrMatch::Net { ip: "0.0.0.0".parse().unwrap(), prefix: 0, plain: false };
        assert!(z.contains("8.8.8.8".parse().unwrap()));
        let v6 = AddrMatch::Net { ip: "2001:db8::".parse().unwrap(), prefix: 32, plain: false };
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
    }
}
