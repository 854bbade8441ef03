//! Evaluating a parsed filter on one exchange. Text terms match through a reused
//! thread-local buffer (the URL and `name: value` header lines are assembled there), so a
//! non-body filter allocates nothing per exchange; body terms run a bytes regex over the
//! decoded content.

use std::cell::RefCell;
use std::fmt::Write as _;

use super::FilterContext;
use super::ast::{AddrMatch, Cmp, Expr, Rx, Side, StatusMatch};
use super::parser::normalize_endpoint;
use crate::model::{Addr, Exchange, Headers, Response, State};

thread_local! {
    static BUF: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Run `f` on a cleared scratch string (a fresh one if the buffer is already in use).
fn with_buf<R>(f: impl FnOnce(&mut String) -> R) -> R {
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut s) => {
            s.clear();
            f(&mut s)
        }
        Err(_) => f(&mut String::new()),
    })
}

/// Write the full URL of `ex` (as `~u` sees it) into `out`.
pub fn write_url(ex: &Exchange, out: &mut String) {
    let r = &ex.request;
    let start = out.len();
    if let Some(h) = &r.host {
        out.push_str(h);
    } else if let Some(h) = r.headers.get("host").or_else(|| r.headers.get(":authority")) {
        out.push_str(h);
    } else if let Some(a) = ex.server {
        let _ = write!(out, "{a}");
    }
    if out.len() > start {
        let scheme = r.scheme.as_deref().unwrap_or("http");
        out.insert_str(start, "://");
        out.insert_str(start, scheme);
    }
    out.push_str(&r.target);
}

fn header_match(h: &Headers, re: &Rx) -> bool {
    with_buf(|buf| {
        h.iter().any(|hd| {
            buf.clear();
            buf.push_str(&hd.name);
            buf.push_str(": ");
            buf.push_str(&hd.value);
            re.is_match(buf)
        })
    })
}

fn addr_match(a: Option<Addr>, m: &AddrMatch) -> bool {
    let Some(a) = a else { return false };
    match m {
        AddrMatch::Net { .. } => m.contains(a.ip),
        AddrMatch::Regex(r) => with_buf(|buf| {
            let _ = write!(buf, "{a}");
            r.is_match(buf)
        }),
    }
}

fn sides<'a>(ex: &'a Exchange, side: Side) -> impl Iterator<Item = &'a Headers> + 'a {
    let req = matches!(side, Side::Request | Side::Both).then_some(&ex.request.headers);
    let resp =
        if matches!(side, Side::Response | Side::Both) { ex.response.as_ref().map(|r| &r.headers) } else { None };
    req.into_iter().chain(resp)
}

fn is_asset(resp: &Response) -> bool {
    let Some(ct) = resp.headers.get("content-type") else { return false };
    let media = ct.split(';').next().unwrap_or("").trim();
    let starts = |p: &str| media.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    starts("image/")
        || starts("font/")
        || starts("application/font-")
        || ["text/javascript", "application/x-javascript", "application/javascript", "text/css"]
            .iter()
            .any(|t| media.eq_ignore_ascii_case(t))
}

fn is_websocket(ex: &Exchange) -> bool {
    ex.status() == Some(101)
        && ex
            .request
            .headers
            .get_all("upgrade")
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("websocket")))
}

fn status_match(m: StatusMatch, s: u16) -> bool {
    match m {
        StatusMatch::Code(c, n) => c.holds(s, n),
        StatusMatch::Class(k) => s / 100 == u16::from(k),
    }
}

fn cmp_opt<T: PartialOrd>(c: Cmp, v: Option<T>, n: T) -> bool {
    v.is_some_and(|v| c.holds(v, n))
}

/// Rough relative cost of evaluating `e` (plain comparisons 1, regexes over short fields a
/// few, header scans 10, context look-ups 20, bodies 100).
#[must_use]
pub fn cost(e: &Expr) -> u32 {
    match e {
        Expr::All
        | Expr::Http
        | Expr::Never(_)
        | Expr::Error
        | Expr::NoResponse
        | Expr::HasResponse
        | Expr::Status(_)
        | Expr::Duration(..)
        | Expr::Ttfb(..)
        | Expr::Size(..) => 1,
        Expr::Src(AddrMatch::Net { .. }) | Expr::Dst(AddrMatch::Net { .. }) => 1,
        Expr::Method(_) | Expr::Domain(_) | Expr::ContentType(..) | Expr::Asset | Expr::WebSocket => 3,
        Expr::Url(_) | Expr::Src(_) | Expr::Dst(_) | Expr::Comment(_) | Expr::Marked => 5,
        Expr::Header(..) => 10,
        Expr::Client(_) | Expr::Endpoint(_) | Expr::Gap(_) | Expr::Flag(_) => 20,
        Expr::Body(..) | Expr::Message(_) => 100,
        Expr::Not(e) => cost(e),
        Expr::And(v) | Expr::Or(v) => v.iter().map(cost).sum(),
    }
}

/// The same expression with the operands of every `&` and `|` ordered cheapest first, so
/// short-circuiting skips the expensive ones (all terms are pure, so order does not change
/// the result).
#[must_use]
pub fn plan(e: &Expr) -> Expr {
    match e {
        Expr::Not(x) => Expr::Not(Box::new(plan(x))),
        Expr::And(v) | Expr::Or(v) => {
            let mut v: Vec<Expr> = v.iter().map(plan).collect();
            v.sort_by_key(cost);
            if matches!(e, Expr::And(_)) { Expr::And(v) } else { Expr::Or(v) }
        }
        other => other.clone(),
    }
}

/// Evaluate `e` on `ex`.
pub fn eval(e: &Expr, ex: &Exchange, ctx: &dyn FilterContext) -> bool {
    match e {
        Expr::All | Expr::Http => true,
        Expr::Never(_) => false,
        Expr::Asset => ex.response.as_ref().is_some_and(is_asset),
        Expr::Error => matches!(ex.state, State::Failed(_) | State::Aborted(_)),
        Expr::WebSocket => is_websocket(ex),
        Expr::NoResponse => ex.response.is_none(),
        Expr::HasResponse => ex.response.is_some(),
        Expr::Marked => ctx.is_marked(ex),
        Expr::Url(r) => ctx.url_match(ex, r).unwrap_or_else(|| {
            with_buf(|buf| {
                write_url(ex, buf);
                r.is_match(buf)
            })
        }),
        Expr::Method(r) => r.is_match(&ex.request.method),
        Expr::Domain(r) => {
            let q = &ex.request;
            match q.host.as_deref().or_else(|| q.headers.get("host")).or_else(|| q.headers.get(":authority")) {
                Some(h) => r.is_match(h),
                None => r.is_match(&ex.host()),
            }
        }
        Expr::Header(side, r) => sides(ex, *side).any(|h| header_match(h, r)),
        Expr::ContentType(side, r) => sides(ex, *side).any(|h| h.get("content-type").is_some_and(|v| r.is_match(v))),
        Expr::Body(side, r) => {
            let req = matches!(side, Side::Request | Side::Both) && r.re.is_match(&ex.request.body.content);
            req || (matches!(side, Side::Response | Side::Both)
                && ex.response.as_ref().is_some_and(|resp| r.re.is_match(&resp.body.content)))
        }
        Expr::Message(r) => ex.stream.as_ref().is_some_and(|s| s.messages.iter().any(|m| r.re.is_match(&m.payload))),
        Expr::Comment(r) => ctx.comment(ex).or(ex.comment.as_deref()).is_some_and(|c| r.is_match(c)),
        Expr::Src(m) => addr_match(ex.client, m),
        Expr::Dst(m) => addr_match(ex.server, m),
        Expr::Status(m) => ex.status().is_some_and(|s| status_match(*m, s)),
        Expr::Duration(c, n) => cmp_opt(*c, ex.duration(), *n),
        Expr::Ttfb(c, n) => cmp_opt(*c, ex.ttfb(), *n),
        Expr::Size(side, c, n) => {
            let req = ex.request.body.size;
            let resp = ex.response.as_ref().map(|r| r.body.size);
            let v = match side {
                Side::Request => Some(req),
                Side::Response => resp,
                Side::Both => Some(req.saturating_add(resp.unwrap_or(0))),
            };
            cmp_opt(*c, v, *n)
        }
        Expr::Client(id) => ctx.client_id(ex).is_some_and(|c| crate::model::client::id_matches(&c, id)),
        Expr::Endpoint(ep) => ctx.endpoints(ex).iter().any(|e| endpoint_eq(&normalize_endpoint(e), ep)),
        Expr::Gap(None) => !ctx.gaps(ex).is_empty(),
        Expr::Gap(Some(k)) => gap_matches(&ctx.gaps(ex), k),
        Expr::Flag(None) => !ctx.flags(ex).is_empty(),
        Expr::Flag(Some(k)) => flag_matches(&ctx.flags(ex), k),
        Expr::Not(e) => !eval(e, ex, ctx),
        Expr::And(v) => v.iter().all(|e| eval(e, ex, ctx)),
        Expr::Or(v) => v.iter().any(|e| eval(e, ex, ctx)),
    }
}

/// `METHOD /path` equality for `~ep`: the method ignores case, the path does not (paths
/// are case-sensitive: `/v1/Portfolio` is not `/v1/portfolio`). Both sides are normalised.
#[must_use]
pub fn endpoint_eq(name: &str, wanted: &str) -> bool {
    match (name.split_once(' '), wanted.split_once(' ')) {
        (Some((m1, p1)), Some((m2, p2))) => m1.eq_ignore_ascii_case(m2) && p1 == p2,
        _ => name == wanted,
    }
}

/// `~gap K` against an exchange's finding tags: a tag equal to `K` (case and `-`/`_` aside),
/// or a finding kind `K` begins (`undocumented` for every `undocumented_*` kind).
#[must_use]
pub fn gap_matches(tags: &[String], wanted: &str) -> bool {
    // `-` for `_` in the kind only: endpoints and subjects keep theirs (`header x-debug`).
    let w = wanted.trim();
    let k = match w.split_once(' ') {
        Some((kind, rest)) => format!("{} {rest}", kind.replace('-', "_")),
        None => w.replace('-', "_"),
    };
    if k.is_empty() {
        return !tags.is_empty();
    }
    tags.iter().any(|g| {
        g.eq_ignore_ascii_case(&k) || (!g.contains(' ') && g.get(..k.len()).is_some_and(|h| h.eq_ignore_ascii_case(&k)))
    })
}

/// `~flag K` against a client's pattern flags (`scanner`, `retry_storm`, …): a flag that
/// `K` begins, ignoring case and with `-` or a space for `_` (`~flag retry` = retry storm).
#[must_use]
pub fn flag_matches(flags: &[String], wanted: &str) -> bool {
    let k = wanted.trim().replace(['-', ' '], "_");
    flags.iter().any(|f| f.get(..k.len()).is_some_and(|h| h.eq_ignore_ascii_case(&k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_puts_cheap_operands_first() {
        let e = super::super::parser::parse("~b x & ~h y & ~c 200 | ~u z & ~m GET").unwrap();
        assert_eq!(plan(&e).to_string(), "~m \"GET\" & ~u \"z\" | ~c 200 & ~h \"y\" & ~b \"x\"");
    }

    #[test]
    fn endpoint_paths_are_case_sensitive_and_methods_are_not() {
        assert!(endpoint_eq("GET /v1/portfolio", "GET /v1/portfolio"));
        assert!(endpoint_eq("get /v1/portfolio", "GET /v1/portfolio"));
        assert!(!endpoint_eq("GET /v1/Portfolio", "GET /v1/portfolio"));
    }

    #[test]
    fn gap_kinds_match_by_prefix_and_with_dashes() {
        let tags = vec!["undocumented_path".to_string(), "undocumented_path GET /x".to_string()];
        assert!(gap_matches(&tags, "undocumented"));
        assert!(gap_matches(&tags, "undocumented-path"));
        assert!(gap_matches(&tags, "UNDOCUMENTED_PATH GET /x"));
        assert!(!gap_matches(&tags, "undocumented_method"));
        assert!(!gap_matches(&tags, "undocumented_path GET"), "tags with an endpoint match whole");
        let h = vec!["undocumented_request_header GET /me: header x-debug".to_string()];
        assert!(gap_matches(&h, "undocumented-request-header GET /me: header x-debug"));
    }

    #[test]
    fn flags_match_by_prefix_with_dashes_or_spaces() {
        let flags = vec!["scanner".to_string(), "retry_storm".to_string()];
        assert!(flag_matches(&flags, "scanner"));
        assert!(flag_matches(&flags, "SCAN"));
        assert!(flag_matches(&flags, "retry-storm") && flag_matches(&flags, "retry storm"));
        assert!(!flag_matches(&flags, "polling"));
        assert!(!flag_matches(&[], ""));
    }

    #[test]
    fn url_is_built_from_scheme_host_and_target() {
        let mut ex = Exchange::default();
        ex.request.target = "/a?b=1".into();
        let mut s = String::new();
        write_url(&ex, &mut s);
        assert_eq!(s, "/a?b=1");
        ex.request.headers.push("Host", "api.example.com");
        s.clear();
        write_url(&ex, &mut s);
        assert_eq!(s, "http://api.example.com/a?b=1");
        ex.request.scheme = Some("https".into());
        ex.request.host = Some("h:8443".into());
        s.clear();
        write_url(&ex, &mut s);
        assert_eq!(s, "https://h:8443/a?b=1");
    }
}
