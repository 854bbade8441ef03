//! Routing a concrete request to a spec operation, the way the contract reads: the request's
//! host and path are matched against `servers` (variables, hosts, base paths; path- and
//! operation-level `servers` too), the base path is stripped, then every path template is
//! tried on the percent-decoded segments. Concrete templates win over templated ones, then
//! the template with more literal segments (and literal characters). The method is checked
//! only after *all* matching templates are known, so `GET` on a path that has only `PATCH`
//! is an undocumented method, not an undocumented path. A segment may hold several
//! parameters (`/files/{name}.{ext}`); a parameter never matches an empty segment, so a
//! trailing slash is a different path (reported with a hint).

use super::load::{Operation, ServerDef, percent_decode_str};

/// One piece of a template segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Param(String),
}

fn parse_parts(seg: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut rest = seg;
    while !rest.is_empty() {
        if let Some(open) = rest.find('{') {
            if let Some(close_rel) = rest[open..].find('}') {
                if open > 0 {
                    out.push(Part::Lit(percent_decode_str(&rest[..open])));
                }
                out.push(Part::Param(rest[open + 1..open + close_rel].to_string()));
                rest = &rest[open + close_rel + 1..];
                continue;
            }
        }
        out.push(Part::Lit(percent_decode_str(rest)));
        break;
    }
    out
}

/// Match `s` against `parts`, pushing captures. Parameters are non-empty; with a literal
/// after a parameter the longest capture that lets the rest match wins.
fn match_parts(parts: &[Part], s: &str, caps: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = parts.split_first() else { return s.is_empty() };
    match first {
        Part::Lit(l) => s.strip_prefix(l.as_str()).is_some_and(|r| match_parts(rest, r, caps)),
        Part::Param(name) => {
            if rest.is_empty() {
                if s.is_empty() {
                    return false;
                }
                caps.push((name.clone(), s.to_string()));
                return true;
            }
            let mut ends: Vec<usize> = s.char_indices().map(|(i, _)| i).filter(|i| *i > 0).collect();
            ends.push(s.len());
            for end in ends.into_iter().rev() {
                let mark = caps.len();
                caps.push((name.clone(), s[..end].to_string()));
                if match_parts(rest, &s[end..], caps) {
                    return true;
                }
                caps.truncate(mark);
            }
            false
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() { Vec::new() } else { p.split('/').map(percent_decode_str).collect() }
}

fn template_segments(t: &str) -> Vec<Vec<Part>> {
    let p = t.strip_prefix('/').unwrap_or(t);
    if p.is_empty() { Vec::new() } else { p.split('/').map(parse_parts).collect() }
}

/// A compiled `servers` entry.
#[derive(Debug, Clone)]
struct ServerPat {
    /// Authority pattern (lower-case), `None` for relative URLs (any host).
    authority: Option<Vec<Part>>,
    /// Whether the authority pattern names a port.
    has_port: bool,
    /// Scheme when given.
    scheme: Option<String>,
    /// Base path segments.
    base: Vec<Vec<Part>>,
    /// The URL as written.
    url: String,
}

fn expand_vars(url: &str, vars: &[(String, Vec<String>, Option<String>)]) -> Vec<String> {
    let mut out = vec![url.to_string()];
    for (name, en, _) in vars {
        if en.is_empty() {
            continue;
        }
        let needle = format!("{{{name}}}");
        let mut next = Vec::new();
        for u in &out {
            if u.contains(&needle) {
                for v in en {
                    if next.len() < 256 {
                        next.push(u.replace(&needle, v));
                    }
                }
            } else {
                next.push(u.clone());
            }
        }
        out = next;
    }
    out
}

fn compile_server(url: &str, written: &str) -> ServerPat {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), Some(r)),
        None => (None, url.strip_prefix("//")),
    };
    let (authority, path) = match rest {
        Some(r) => {
            let (a, p) = r.find('/').map_or((r, ""), |i| (&r[..i], &r[i..]));
            (Some(a.to_ascii_lowercase()), p)
        }
        None => (None, url),
    };
    let path = path.split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
    ServerPat {
        has_port: authority.as_deref().is_some_and(|a| a.contains(':')),
        authority: authority.as_deref().map(parse_parts),
        scheme,
        base: template_segments(path),
        url: written.to_string(),
    }
}

#[derive(Debug, Clone)]
struct Tmpl {
    template: String,
    server_set: usize,
    segs: Vec<Vec<Part>>,
    literal_segs: usize,
    literal_chars: usize,
    /// (method, operation index)
    ops: Vec<(String, usize)>,
}

/// Result of routing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteResult {
    /// A documented operation.
    Operation {
        /// Index into the spec's operations.
        id: usize,
        /// Upper-case method.
        method: String,
        /// The path template.
        template: String,
        /// Path parameters captured (decoded).
        params: Vec<(String, String)>,
    },
    /// The path is documented but not with this method.
    UndocumentedMethod {
        /// The best matching template.
        template: String,
        /// Methods documented on it.
        allowed: Vec<String>,
    },
    /// The host matches a server, the path matches no template.
    UndocumentedPath {
        /// When the path differs from a documented one only by a trailing slash, that one.
        trailing_slash_of: Option<String>,
    },
    /// The host (or scheme/port) matches none of the `servers`.
    UndocumentedServer {
        /// The host as requested.
        host: String,
    },
}

/// The compiled router.
#[derive(Debug, Clone, Default)]
pub struct Router {
    servers: Vec<Vec<ServerPat>>,
    /// Templates grouped by server set, then by segment count.
    by_set: Vec<std::collections::HashMap<usize, Vec<Tmpl>>>,
}

impl Router {
    /// Build from the server sets and operations.
    #[must_use]
    pub fn new(server_sets: &[Vec<ServerDef>], ops: &[Operation]) -> Self {
        let servers: Vec<Vec<ServerPat>> = server_sets
            .iter()
            .map(|set| {
                set.iter()
                    .flat_map(|s| expand_vars(&s.url, &s.variables).into_iter().map(|u| compile_server(&u, &s.url)))
                    .collect()
            })
            .collect();
        let mut by_set: Vec<std::collections::HashMap<usize, Vec<Tmpl>>> = vec![Default::default(); servers.len()];
        for op in ops {
            let Some(group) = by_set.get_mut(op.server_set) else { continue };
            let segs = template_segments(&op.template);
            let list = group.entry(segs.len()).or_default();
            if let Some(t) = list.iter_mut().find(|t| t.template == op.template) {
                t.ops.push((op.method.clone(), op.index));
                continue;
            }
            let literal_segs = segs.iter().filter(|s| s.iter().all(|p| matches!(p, Part::Lit(_)))).count();
            let literal_chars = segs.iter().flatten().map(|p| if let Part::Lit(l) = p { l.len() } else { 0 }).sum();
            list.push(Tmpl {
                template: op.template.clone(),
                server_set: op.server_set,
                segs,
                literal_segs,
                literal_chars,
                ops: vec![(op.method.clone(), op.index)],
            });
        }
        Self { servers, by_set }
    }

    /// Replace every server set by `urls` (the `--server` option).
    pub fn override_servers(&mut self, urls: &[String]) {
        let set: Vec<ServerPat> = urls.iter().map(|u| compile_server(u, u)).collect();
        for s in &mut self.servers {
            *s = set.clone();
        }
    }

    /// The server URLs as written (for reports).
    #[must_use]
    pub fn server_urls(&self) -> Vec<String> {
        let mut v: Vec<String> = self.servers.iter().flatten().map(|s| s.url.clone()).collect();
        v.dedup();
        v
    }

    fn host_matches(s: &ServerPat, scheme: Option<&str>, host: &str) -> bool {
        let Some(pat) = &s.authority else { return true };
        if host.is_empty() {
            return true;
        }
        // The scheme is not compared: captures behind a TLS-terminating proxy see plain
        // HTTP for an `https` server. It only decides the default port.
        let host = host.to_ascii_lowercase();
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !n.ends_with(':') => {
                (n.to_string(), Some(p.to_string()))
            }
            _ => (host.clone(), None),
        };
        let mut caps = Vec::new();
        if s.has_port {
            let default = match scheme.or(s.scheme.as_deref()) {
                Some("https") => "443",
                _ => "80",
            };
            let full = format!("{name}:{}", port.as_deref().unwrap_or(default));
            match_parts(pat, &full, &mut caps)
        } else {
            let port_ok = matches!(
                (port.as_deref(), s.scheme.as_deref()),
                (None, _) | (Some("443"), Some("https") | None) | (Some("80"), Some("http") | None)
            );
            port_ok && match_parts(pat, &name, &mut caps)
        }
    }

    /// Route a request given its scheme (if known), host (may be empty) and path
    /// (percent-encoded, without the query).
    #[must_use]
    pub fn route(&self, method: &str, scheme: Option<&str>, host: &str, path: &str) -> RouteResult {
        let segs = segments(path);
        let mut any_host = false;
        // (literal segs, literal chars, template, params, set)
        let mut best: Vec<(&Tmpl, Vec<(String, String)>)> = Vec::new();
        for (set_idx, set) in self.servers.iter().enumerate() {
            for s in set {
                if !Self::host_matches(s, scheme, host) {
                    continue;
                }
                any_host = true;
                if s.base.len() > segs.len() {
                    continue;
                }
                let mut caps = Vec::new();
                if !s.base.iter().zip(&segs).all(|(p, seg)| match_parts(p, seg, &mut caps)) {
                    continue;
                }
                let rest = &segs[s.base.len()..];
                let Some(group) = self.by_set.get(set_idx).and_then(|g| g.get(&rest.len())) else { continue };
                for t in group {
                    let mut caps = Vec::new();
                    if t.segs.iter().zip(rest).all(|(p, seg)| match_parts(p, seg, &mut caps))
                        && !best.iter().any(|(b, _)| std::ptr::eq(*b, t))
                    {
                        best.push((t, caps));
                    }
                }
            }
        }
        if !any_host {
            return RouteResult::UndocumentedServer { host: host.to_string() };
        }
        if best.is_empty() {
            let mut hint = None;
            if path.len() > 1 && path.ends_with('/') {
                let trimmed = path.trim_end_matches('/');
                let again = self.route(method, scheme, host, if trimmed.is_empty() { "/" } else { trimmed });
                if let RouteResult::Operation { template, .. } | RouteResult::UndocumentedMethod { template, .. } =
                    again
                {
                    hint = Some(template);
                }
            }
            return RouteResult::UndocumentedPath { trailing_slash_of: hint };
        }
        best.sort_by(|a, b| {
            (b.0.literal_segs, b.0.literal_chars, std::cmp::Reverse(b.0.server_set)).cmp(&(
                a.0.literal_segs,
                a.0.literal_chars,
                std::cmp::Reverse(a.0.server_set),
            ))
        });
        let m = method.to_ascii_uppercase();
        for (t, caps) in &best {
            if let Some((meth, id)) = t.ops.iter().find(|(om, _)| *om == m) {
                return RouteResult::Operation {
                    id: *id,
                    method: meth.clone(),
                    template: t.template.clone(),
                    params: caps.clone(),
                };
            }
        }
        let (t, _) = &best[0];
        RouteResult::UndocumentedMethod {
            template: t.template.clone(),
            allowed: t.ops.iter().map(|(m, _)| m.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_params_in_one_segment() {
        let mut caps = Vec::new();
        assert!(match_parts(&parse_parts("{name}.{ext}"), "report.final.pdf", &mut caps));
        assert_eq!(caps, vec![("name".into(), "report.final".into()), ("ext".into(), "pdf".into())]);
        let mut caps = Vec::new();
        assert!(!match_parts(&parse_parts("somethingelse.{format}"), "something", &mut caps));
        assert!(!match_parts(&parse_parts("{id}"), "", &mut caps));
    }

    #[test]
    fn server_variables_expand_enums() {
        let v = expand_vars("https://{env}.x.com/{v}", &[("env".into(), vec!["a".into(), "b".into()], None)]);
        assert_eq!(v, vec!["https://a.x.com/{v}", "https://b.x.com/{v}"]);
        let s = compile_server(&v[0], "u");
        assert!(Router::host_matches(&s, Some("https"), "A.x.com"));
        assert!(Router::host_matches(&s, Some("https"), "a.x.com:443"));
        assert!(!Router::host_matches(&s, Some("https"), "c.x.com"));
        assert!(!Router::host_matches(&s, Some("https"), "a.x.com:8443"));
        assert_eq!(s.base.len(), 1);
    }
}
