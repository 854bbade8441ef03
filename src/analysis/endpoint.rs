//! Endpoint naming: which endpoint an exchange belongs to. With a spec, the spec's
//! operation (`GET /v1/orders/{id}`); without one, the method plus the inferred template
//! (`spec::infer::infer_template`). Naming is behind the [`EndpointNamer`] trait so the CLI
//! can plug the spec in with one line ([`FnNamer`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::model::Exchange;
use crate::spec::infer::{infer_template, template_with};
use crate::spec::{RouteResult, Spec};

/// The endpoint of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointName {
    /// `METHOD /template` (or whatever the namer calls operations).
    pub name: String,
    /// `Some(true)` when a spec documents it, `Some(false)` when a spec is loaded and does
    /// not, `None` when no spec is loaded.
    pub documented: Option<bool>,
}

/// Names endpoints.
pub trait EndpointNamer {
    /// The endpoint `ex` belongs to.
    fn name(&self, ex: &Exchange) -> EndpointName;
    /// True when a spec says the operation `ex` calls needs no credentials (`security: []`,
    /// or an empty alternative `{}`), so calling it without any is not a finding. Asked only
    /// for calls that carry no credentials.
    fn open(&self, _ex: &Exchange) -> bool {
        false
    }
}

/// Inferred names: method + template, no spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct InferredNames;

/// `METHOD /inferred/{id}` for `ex`.
#[must_use]
pub fn inferred_name(ex: &Exchange) -> String {
    let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
    format!("{method} {}", infer_template(ex.request.path()))
}

impl EndpointNamer for InferredNames {
    fn name(&self, ex: &Exchange) -> EndpointName {
        EndpointName { name: inferred_name(ex), documented: None }
    }
}

/// How many distinct literal values one path position may take (under the same method and
/// templated prefix) before it is taken for a parameter (`/v1/quotes/AAPL`, `/v1/quotes/MSFT`,
/// … → `/v1/quotes/{param}`).
pub const LEARN_DISTINCT_LIMIT: usize = 24;

/// Learns, from the paths seen, which positions hold values rather than fixed words: a
/// position (below the first segment) with more than [`LEARN_DISTINCT_LIMIT`] distinct
/// literals under the same method and prefix becomes `{param}`. Memory is bounded: at most
/// the limit + 1 values are kept per position.
#[derive(Debug, Default)]
pub struct Learner {
    children: HashMap<(String, String), HashSet<String>>,
    collapsed: HashSet<(String, String)>,
}

impl Learner {
    /// Walk `path`'s segments: calls `f(key, segment)` for each learnable position, and
    /// returns the template under the rules known now.
    fn walk(&self, method: &str, path: &str, mut f: impl FnMut(&(String, String), &str)) -> String {
        template_with(path, |i, so_far, seg| {
            if i < 2 || seg.is_empty() {
                return None;
            }
            let key = (method.to_string(), so_far.to_string());
            f(&key, seg);
            self.collapsed.contains(&key).then_some("{param}")
        })
    }

    /// Take `path` into account.
    pub fn learn(&mut self, method: &str, path: &str) {
        let mut seen = Vec::new();
        self.walk(method, path, |k, seg| seen.push((k.clone(), seg.to_string())));
        for (key, seg) in seen {
            if self.collapsed.contains(&key) {
                continue;
            }
            let set = self.children.entry(key.clone()).or_default();
            set.insert(seg);
            if set.len() > LEARN_DISTINCT_LIMIT {
                self.children.remove(&key);
                self.collapsed.insert(key);
            }
        }
    }

    /// The template of `path` under the rules learnt so far.
    #[must_use]
    pub fn template(&self, method: &str, path: &str) -> String {
        self.walk(method, path, |_, _| {})
    }
}

/// Inferred names that also learn value positions from the traffic (see [`Learner`]);
/// shared with the analyzer's warm-up so the first exchanges are named with what the
/// whole warm-up window taught.
#[derive(Debug, Clone, Default)]
pub struct LearnedNames(pub Arc<Mutex<Learner>>);

impl LearnedNames {
    /// The name of a call of `method` on `path`, learning from it first (what
    /// [`EndpointNamer::name`] does with an exchange's method and path).
    #[must_use]
    pub fn name_of(&self, method: &str, path: &str) -> String {
        let method = if method.is_empty() { "?" } else { method };
        match self.0.lock() {
            Ok(mut l) => {
                l.learn(method, path);
                format!("{method} {}", l.template(method, path))
            }
            Err(_) => format!("{method} {}", infer_template(path)),
        }
    }
}

impl EndpointNamer for LearnedNames {
    fn name(&self, ex: &Exchange) -> EndpointName {
        EndpointName { name: self.name_of(&ex.request.method, ex.request.path()), documented: None }
    }
}

/// Endpoint names for a stream of exchanges, given exactly as the [`Analyzer`](super::Analyzer)
/// gives them, for consumers that write exchanges out instead of counting them (Parquet):
/// the spec's operations with a spec; otherwise learnt names, for which the first
/// [`WARMUP`](super::WARMUP) exchanges of each input are held (as the caller's items `T`)
/// until the learner has seen them; and past `max_endpoints` distinct names, the rest are
/// pooled into [`OTHER_ENDPOINTS`](super::OTHER_ENDPOINTS).
pub struct StreamNames<'n, T> {
    namer: Box<dyn EndpointNamer + 'n>,
    learnt: Option<LearnedNames>,
    /// Items waiting for the warm-up to end, with their method and path.
    held: Vec<(String, String, T)>,
    warming: bool,
    seen: HashSet<String>,
    max_endpoints: usize,
}

impl<'n, T> StreamNames<'n, T> {
    /// Names from a spec's operations.
    #[must_use]
    pub fn with_spec(spec: &'n Spec, max_endpoints: usize) -> Self {
        Self::make(Box::new(SpecNamer(spec)), None, max_endpoints)
    }

    /// Names learnt from the traffic (as `stats` without `--spec`).
    #[must_use]
    pub fn learning(max_endpoints: usize) -> Self {
        let learnt = LearnedNames::default();
        Self::make(Box::new(learnt.clone()), Some(learnt), max_endpoints)
    }

    fn make(namer: Box<dyn EndpointNamer + 'n>, learnt: Option<LearnedNames>, max_endpoints: usize) -> Self {
        let warming = learnt.is_some();
        Self { namer, learnt, held: Vec::new(), warming, seen: HashSet::new(), max_endpoints }
    }

    /// Take `item`, the data of `ex`; every item whose name is known by now is appended to
    /// `out` with it, in the order taken.
    pub fn push(&mut self, ex: &Exchange, item: T, out: &mut Vec<(EndpointName, T)>) {
        if let (true, Some(l)) = (self.warming, &self.learnt) {
            let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
            if let Ok(mut l) = l.0.lock() {
                l.learn(method, ex.request.path());
            }
            self.held.push((ex.request.method.clone(), ex.request.path().to_string(), item));
            if self.held.len() >= super::WARMUP {
                self.release(out);
                self.warming = false;
            }
            return;
        }
        let name = self.namer.name(ex);
        out.push((self.pooled(name), item));
    }

    /// A new input starts: the items held belong to the previous one and are named now;
    /// a warm-up that had not ended goes on with the new input (as `stats` does at input
    /// boundaries).
    pub fn begin_input(&mut self, out: &mut Vec<(EndpointName, T)>) {
        self.release(out);
    }

    /// The stream ended: name whatever is held.
    pub fn finish(&mut self, out: &mut Vec<(EndpointName, T)>) {
        self.release(out);
    }

    fn release(&mut self, out: &mut Vec<(EndpointName, T)>) {
        let Some(l) = self.learnt.clone() else { return };
        for (method, path, item) in std::mem::take(&mut self.held) {
            let name = EndpointName { name: l.name_of(&method, &path), documented: None };
            out.push((self.pooled(name), item));
        }
    }

    fn pooled(&mut self, name: EndpointName) -> EndpointName {
        if self.seen.contains(&name.name) {
            return name;
        }
        if self.seen.len() >= self.max_endpoints {
            return EndpointName { name: super::OTHER_ENDPOINTS.to_string(), documented: None };
        }
        self.seen.insert(name.name.clone());
        name
    }
}

/// Names from a function that knows documented operations (a spec): `Some(name)` for a
/// documented operation, `None` for an undocumented call, which then gets its inferred name
/// and `documented: Some(false)`.
pub struct FnNamer<F>(pub F);

impl<F: Fn(&Exchange) -> Option<String>> EndpointNamer for FnNamer<F> {
    fn name(&self, ex: &Exchange) -> EndpointName {
        match (self.0)(ex) {
            Some(name) => EndpointName { name, documented: Some(true) },
            None => EndpointName { name: inferred_name(ex), documented: Some(false) },
        }
    }
}

/// The name of an exchange's endpoint under a spec, as every view names it (stats, journey,
/// the TUI's Endpoints and `~ep`): a documented operation by its template; a documented path
/// called with a method it does not document by that template too (`HEAD /instruments`,
/// server base path stripped, as `diff` reports it), undocumented; anything else by its
/// inferred template, undocumented.
#[must_use]
pub fn spec_name(spec: &Spec, ex: &Exchange) -> EndpointName {
    match spec.route(ex) {
        RouteResult::Operation { method, template, .. } => {
            EndpointName { name: format!("{method} {template}"), documented: Some(true) }
        }
        RouteResult::UndocumentedMethod { template, .. } => {
            let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
            EndpointName { name: format!("{method} {template}"), documented: Some(false) }
        }
        RouteResult::UndocumentedPath { .. } | RouteResult::UndocumentedServer { .. } => {
            EndpointName { name: inferred_name(ex), documented: Some(false) }
        }
    }
}

/// Every name `~ep` accepts for `ex`: with a spec, the documented template as the spec
/// writes it and behind the server's base path as requested (`GET /orders/{id}` and
/// `GET /v1/orders/{id}`); for calls the spec does not document, and without a spec, the
/// inferred template ([`inferred_name`]). The CLI and the TUI both filter with these.
#[must_use]
pub fn filter_names(spec: Option<&Spec>, ex: &Exchange) -> Vec<String> {
    let Some(spec) = spec else { return vec![inferred_name(ex)] };
    let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
    let template = match spec.route(ex) {
        RouteResult::Operation { template, .. } | RouteResult::UndocumentedMethod { template, .. } => template,
        RouteResult::UndocumentedPath { .. } | RouteResult::UndocumentedServer { .. } => {
            return vec![inferred_name(ex)];
        }
    };
    let method = method.to_ascii_uppercase();
    let mut out = vec![format!("{method} {template}")];
    let base = base_path(ex.request.path(), &template);
    if !base.is_empty() {
        let joined = if template == "/" { base.clone() } else { format!("{base}{template}") };
        out.push(format!("{method} {joined}"));
    }
    out
}

/// The part of `path` in front of what `template` matched: `/v1` for `/v1/orders/7` and
/// `/orders/{id}` (empty when the template covers the whole path).
fn base_path(path: &str, template: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let tsegs = template.split('/').filter(|s| !s.is_empty()).count();
    let n = segs.len().saturating_sub(tsegs);
    segs[..n].iter().fold(String::new(), |mut acc, s| {
        acc.push('/');
        acc.push_str(s);
        acc
    })
}

/// Names from a spec ([`spec_name`]).
pub struct SpecNamer<'a>(pub &'a Spec);

impl EndpointNamer for SpecNamer<'_> {
    fn name(&self, ex: &Exchange) -> EndpointName {
        spec_name(self.0, ex)
    }
    fn open(&self, ex: &Exchange) -> bool {
        match self.0.route(ex) {
            RouteResult::Operation { id, .. } => self
                .0
                .operations
                .get(id)
                .is_some_and(|op| op.security.is_empty() || op.security.iter().any(|alt| alt.schemes.is_empty())),
            _ => false,
        }
    }
}

/// Split `METHOD /template` into its parts (`None` when the name has another shape).
#[must_use]
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    let (m, t) = name.split_once(' ')?;
    t.starts_with('/').then_some((m, t))
}

/// True when `item` is an item route under the collection `list`: same method family (GET),
/// and `item`'s template is `list`'s plus one `{param}` segment (`/v1/orders` →
/// `/v1/orders/{id}`).
#[must_use]
pub fn is_item_of(list: &str, item: &str) -> bool {
    let (Some((lm, lt)), Some((im, it))) = (split_name(list), split_name(item)) else {
        return false;
    };
    if !lm.eq_ignore_ascii_case("GET") || !im.eq_ignore_ascii_case("GET") {
        return false;
    }
    let lt = lt.trim_end_matches('/');
    it.strip_prefix(lt)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|seg| seg.starts_with('{') && seg.ends_with('}') && !seg.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inferred_names_use_method_and_template() {
        let mut ex = Exchange::default();
        ex.request.method = "GET".into();
        ex.request.target = "/v1/orders/123?x=1".into();
        assert_eq!(InferredNames.name(&ex).name, "GET /v1/orders/{id}");
        let spec = FnNamer(|e: &Exchange| (e.request.path() == "/v1/a").then(|| "GET /v1/a".to_string()));
        assert_eq!(spec.name(&ex).documented, Some(false));
        ex.request.target = "/v1/a".into();
        assert_eq!(spec.name(&ex), EndpointName { name: "GET /v1/a".into(), documented: Some(true) });
    }

    #[test]
    fn many_distinct_values_at_one_position_become_a_parameter() {
        let mut l = Learner::default();
        for i in 0..LEARN_DISTINCT_LIMIT {
            l.learn("GET", &format!("/v1/quotes/T{}X", char::from(b'A' + (i % 26) as u8)));
        }
        l.learn("GET", "/v1/quotes/MSFT");
        l.learn("GET", "/v1/orders");
        // Few distinct values: still literal words.
        assert_eq!(l.template("GET", "/v1/orders"), "/v1/orders");
        assert_eq!(l.template("GET", "/v1/quotes/AAPL"), "/v1/quotes/{param}");
        // The first segment is never collapsed (scanners' junk paths stay visible), and other
        // methods learn separately.
        for i in 0..40 {
            l.learn("GET", &format!("/junk{i}x"));
        }
        assert_eq!(l.template("GET", "/wp-login.php"), "/wp-login.php");
        assert_eq!(l.template("DELETE", "/v1/quotes/AAPL"), "/v1/quotes/AAPL");
    }

    #[test]
    fn item_routes_are_recognised_under_their_list() {
        assert!(is_item_of("GET /v1/orders", "GET /v1/orders/{id}"));
        assert!(!is_item_of("GET /v1/orders", "GET /v1/orders/{id}/lines"));
        assert!(!is_item_of("GET /v1/orders", "DELETE /v1/orders/{id}"));
        assert!(!is_item_of("GET /v1/orders", "GET /v1/ordersx/{id}"));
        assert!(!is_item_of("weird", "GET /v1/orders/{id}"));
    }
}
