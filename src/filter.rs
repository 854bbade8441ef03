//! The filter language: mitmproxy's expressions (`~u ~m ~c ~h … ! & |`, bare regex = `~u`)
//! plus status classes (`~c 5xx`), comparisons (`~c >=400`, `~dur >250ms`, `~ttfb`,
//! `~size >1MB`), `~src`/`~dst` (IP, CIDR or regex), `~client`, `~ep`, `~gap`.
//! [`lexer`] and [`parser`] turn text into an [`ast::Expr`] with byte-span errors;
//! [`eval`] runs it on an [`Exchange`]. Things not stored on the exchange (marks, client
//! identity, endpoint names, contract findings) come from a [`FilterContext`].

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;

use std::fmt;
use std::ops::Range;

use crate::model::Exchange;
use crate::model::client::{self, ClientKey};

/// A parsed filter expression: cheap to evaluate, `Send + Sync`, clonable.
#[derive(Debug, Clone)]
pub struct Filter {
    src: String,
    expr: ast::Expr,
    /// `expr` with cheap operands first: what is evaluated.
    plan: ast::Expr,
    needs_bodies: bool,
}

/// Why a filter did not parse: a message and the byte span of the offending input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte range into the source text (may be empty, e.g. at the end of input).
    pub span: Range<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl ParseError {
    /// Build an error.
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self { span, message: message.into() }
    }

    /// Two lines for a terminal: the source (made visible) and carets under the span.
    #[must_use]
    pub fn caret(&self, src: &str) -> String {
        let pre = src.get(..self.span.start.min(src.len())).unwrap_or("");
        let mid = src.get(self.span.start.min(src.len())..self.span.end.min(src.len())).unwrap_or("");
        let shown_pre = crate::model::text::visible(pre);
        let shown_mid = crate::model::text::visible(mid);
        let width = shown_mid.chars().count().max(1);
        format!("{}\n{}{}", crate::model::text::visible(src), " ".repeat(shown_pre.chars().count()), "^".repeat(width))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at bytes {}..{})", self.message, self.span.start, self.span.end)
    }
}

impl std::error::Error for ParseError {}

/// What a filter needs that is not stored on the exchange. Every method defaults to
/// "nothing known" except `client_id`, which uses `model::client::identify` with `auto`.
pub trait FilterContext {
    /// Whether the user marked this exchange (`~marked`).
    fn is_marked(&self, _ex: &Exchange) -> bool {
        false
    }
    /// A comment the user added; `~comment` falls back to `ex.comment`.
    fn comment<'a>(&'a self, _ex: &'a Exchange) -> Option<&'a str> {
        None
    }
    /// The client identity (`~client`).
    fn client_id(&self, ex: &Exchange) -> Option<String> {
        client::identify(ex, &ClientKey::Auto).map(|c| c.0)
    }
    /// The endpoint as `METHOD /template` (`~ep`). No default: the caller knows the spec or
    /// the inference to use (see [`FnContext::with_endpoint`]).
    fn endpoint(&self, _ex: &Exchange) -> Option<String> {
        None
    }
    /// Every name `~ep` accepts for the exchange (the spec's template with and without the
    /// server's base path); defaults to [`FilterContext::endpoint`].
    fn endpoints(&self, ex: &Exchange) -> Vec<String> {
        self.endpoint(ex).into_iter().collect()
    }
    /// Contract finding kinds of this exchange (`~gap`).
    fn gaps(&self, _ex: &Exchange) -> Vec<String> {
        vec![]
    }
    /// Pattern flags of the exchange's client (`~flag`): `scanner`, `retry_storm`, … as
    /// `analysis::flags::ClientFlags` names them.
    fn flags(&self, _ex: &Exchange) -> Vec<String> {
        vec![]
    }
    /// The verdict of the URL term `rx` (`~u`) when the context can give it without the
    /// exchange's URL text (e.g. memoised per distinct interned URL); `None` (the default)
    /// makes the evaluator build the URL from the exchange.
    fn url_match(&self, _ex: &Exchange, _rx: &ast::Rx) -> Option<bool> {
        None
    }
}

/// A context that knows nothing beyond the exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoContext;

impl FilterContext for NoContext {}

type ExFn<T> = Box<dyn Fn(&Exchange) -> T + Send + Sync>;

/// A context assembled from closures, for callers that know some of the answers (the CLI
/// supplies endpoint names, the TUI marks and findings).
#[derive(Default)]
pub struct FnContext {
    marked: Option<ExFn<bool>>,
    client: Option<ExFn<Option<String>>>,
    endpoint: Option<ExFn<Option<String>>>,
    endpoints: Option<ExFn<Vec<String>>>,
    gaps: Option<ExFn<Vec<String>>>,
    flags: Option<ExFn<Vec<String>>>,
}

impl fmt::Debug for FnContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnContext")
            .field("marked", &self.marked.is_some())
            .field("client", &self.client.is_some())
            .field("endpoint", &self.endpoint.is_some())
            .field("gaps", &self.gaps.is_some())
            .field("flags", &self.flags.is_some())
            .finish()
    }
}

impl FnContext {
    /// An empty context (same answers as [`NoContext`]).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Answer `~marked` with `f`.
    #[must_use]
    pub fn with_marked(mut self, f: impl Fn(&Exchange) -> bool + Send + Sync + 'static) -> Self {
        self.marked = Some(Box::new(f));
        self
    }
    /// Answer `~client` with `f` (instead of `auto` identity).
    #[must_use]
    pub fn with_client(mut self, f: impl Fn(&Exchange) -> Option<String> + Send + Sync + 'static) -> Self {
        self.client = Some(Box::new(f));
        self
    }
    /// Answer `~ep` with `f` (`METHOD /template`).
    #[must_use]
    pub fn with_endpoint(mut self, f: impl Fn(&Exchange) -> Option<String> + Send + Sync + 'static) -> Self {
        self.endpoint = Some(Box::new(f));
        self
    }
    /// Answer `~ep` with every name `f` gives (`METHOD /template`, several spellings).
    #[must_use]
    pub fn with_endpoints(mut self, f: impl Fn(&Exchange) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.endpoints = Some(Box::new(f));
        self
    }
    /// Answer `~flag` with `f` (the client's pattern flags).
    #[must_use]
    pub fn with_flags(mut self, f: impl Fn(&Exchange) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.flags = Some(Box::new(f));
        self
    }
    /// Answer `~gap` with `f` (finding kinds).
    #[must_use]
    pub fn with_gaps(mut self, f: impl Fn(&Exchange) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.gaps = Some(Box::new(f));
        self
    }
}

impl FilterContext for FnContext {
    fn is_marked(&self, ex: &Exchange) -> bool {
        self.marked.as_ref().is_some_and(|f| f(ex))
    }
    fn client_id(&self, ex: &Exchange) -> Option<String> {
        match &self.client {
            Some(f) => f(ex),
            None => client::identify(ex, &ClientKey::Auto).map(|c| c.0),
        }
    }
    fn endpoint(&self, ex: &Exchange) -> Option<String> {
        match (&self.endpoint, &self.endpoints) {
            (Some(f), _) => f(ex),
            (None, Some(f)) => f(ex).into_iter().next(),
            (None, None) => None,
        }
    }
    fn endpoints(&self, ex: &Exchange) -> Vec<String> {
        match &self.endpoints {
            Some(f) => f(ex),
            None => self.endpoint(ex).into_iter().collect(),
        }
    }
    fn gaps(&self, ex: &Exchange) -> Vec<String> {
        self.gaps.as_ref().map(|f| f(ex)).unwrap_or_default()
    }
    fn flags(&self, ex: &Exchange) -> Vec<String> {
        self.flags.as_ref().map(|f| f(ex)).unwrap_or_default()
    }
}

impl Filter {
    /// Parse `src`. Empty or all-whitespace text is a filter that matches everything.
    ///
    /// # Errors
    /// A [`ParseError`] with the byte span of the first problem: an unknown term, an
    /// unclosed parenthesis or quote, a bad regex, number or unit, a missing argument.
    pub fn parse(src: &str) -> Result<Filter, ParseError> {
        let expr = parser::parse(src)?;
        let needs_bodies = expr.needs_bodies();
        let plan = eval::plan(&expr);
        Ok(Filter { src: src.to_string(), expr, plan, needs_bodies })
    }

    /// A filter matching every exchange.
    #[must_use]
    pub fn all() -> Filter {
        Filter { src: String::new(), expr: ast::Expr::All, plan: ast::Expr::All, needs_bodies: false }
    }

    /// True when `ex` matches.
    #[must_use]
    pub fn matches(&self, ex: &Exchange, ctx: &dyn FilterContext) -> bool {
        eval::eval(&self.plan, ex, ctx)
    }

    /// True when the filter looks at bodies (`~b`, `~bq`, `~bs`), so callers holding only
    /// summaries must load them.
    #[must_use]
    pub fn needs_bodies(&self) -> bool {
        self.needs_bodies
    }

    /// The text this filter was parsed from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The parsed expression.
    #[must_use]
    pub fn expr(&self) -> &ast::Expr {
        &self.expr
    }

    /// True when the expression uses `~flag` (the caller must first analyse the whole input
    /// to know each client's pattern flags).
    #[must_use]
    pub fn uses_flags(&self) -> bool {
        fn any(e: &ast::Expr) -> bool {
            match e {
                ast::Expr::Flag(_) => true,
                ast::Expr::Not(x) => any(x),
                ast::Expr::And(v) | ast::Expr::Or(v) => v.iter().any(any),
                _ => false,
            }
        }
        any(&self.expr)
    }
}

/// The canonical form of the expression (parses back to an equal filter).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

impl PartialEq for Filter {
    fn eq(&self, o: &Self) -> bool {
        self.expr == o.expr
    }
}

impl std::str::FromStr for Filter {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{State, Timing};

    fn ex() -> Exchange {
        Exchange::builder("POST", "/v1/orders/42?expand=items")
            .scheme("https")
            .host("api.example.com")
            .header("Content-Type", "application/json")
            .header("X-Api-Key", "sk_live_1")
            .body(b"{\"qty\":3,\"note\":\"Hello\nWorld\"}")
            .status(503)
            .reason("Service Unavailable")
            .response_header("Content-Type", "text/css; charset=utf-8")
            .response_body([0xff, 0x00, b'E', b'R', b'R'])
            .timing(Timing {
                request_start: Some(1_000_000_000),
                request_end: Some(1_010_000_000),
                response_start: Some(1_070_000_000),
                response_end: Some(1_300_000_000),
            })
            .client("10.1.2.3:50000".parse().unwrap())
            .server("[2001:db8::1]:443".parse().unwrap())
            .comment("first line\nsecond")
            .build()
    }

    fn m(f: &str, e: &Exchange) -> bool {
        Filter::parse(f).unwrap_or_else(|err| panic!("{f}: {err}")).matches(e, &NoContext)
    }

    #[test]
    fn mitmproxy_terms_match() {
        let e = ex();
        for (f, want) in [
            ("~all", true),
            ("~http", true),
            ("~websocket", false),
            ("~tcp", false),
            ("~a", true),
            ("~e", false),
            ("~q", false),
            ("~s", true),
            ("~marked", false),
            ("~u orders/42", true),
            ("~u ^https://API\\.example\\.com/", true),
            ("orders", true),
            ("invoices", false),
            ("~m post", true),
            ("~m ^GET$", false),
            ("~d example\\.com$", true),
            ("~h 'x-api-key: sk_'", true),
            ("~hq content-type", true),
            ("~hs x-api-key", false),
            ("~t json", true),
            ("~tq css", false),
            ("~ts css", true),
            ("~b hello.world", true),
            ("~bq err", false),
            ("~bs err", true),
            ("~comment ^second$", true),
            ("~c 503", true),
            ("~c 5xx", true),
            ("~c 4xx", false),
            ("~c >=400", true),
            ("~c <500", false),
            ("~dur >250ms", true),
            ("~dur >300ms", false),
            ("~ttfb =60ms", true),
            ("~ttfb >50ms", true),
            ("~size >20B", true),
            ("~sizeq <30", false),
            ("~sizes 5", true),
            ("~src 10.0.0.0/8", true),
            ("~src 10.1.2.4", false),
            ("~src ':50000$'", true),
            ("~dst 2001:db8::/32", true),
            ("~dst '\\[2001:db8::1\\]:443'", true),
            ("~gap", false),
            ("~ep 'POST /v1/orders/{id}'", false),
            ("!~q & (~m GET | ~c 503)", true),
            ("~q | ~s ~m DELETE", false),
        ] {
            assert_eq!(m(f, &e), want, "{f}");
        }
    }

    #[test]
    fn states_map_to_q_s_and_e() {
        let mut e = ex();
        e.response = None;
        e.timing.response_start = None;
        e.timing.response_end = None;
        e.state = State::NoResponse("capture ended".into());
        assert!(m("~q", &e) && !m("~s", &e) && !m("~e", &e) && !m("~c >0", &e) && !m("~dur >0", &e));
        assert!(m("~size >20", &e) && !m("~sizes >=0", &e));
        e.state = State::Failed("net::ERR_ABORTED".into());
        assert!(m("~e", &e));
        e.state = State::Aborted("rst".into());
        assert!(m("~e", &e));
    }

    #[test]
    fn context_answers_marks_clients_endpoints_and_gaps() {
        let e = ex();
        let id = client::identify(&e, &ClientKey::Auto).unwrap().0;
        assert!(m(&format!("~client '{id}'"), &e));
        assert!(!m("~client key:00000000", &e));
        let ctx = FnContext::new()
            .with_marked(|_| true)
            .with_endpoint(|ex| Some(format!("{} /v1/orders/{{id}}", ex.request.method)))
            .with_gaps(|_| vec!["undocumented".into()]);
        let f = |s: &str| Filter::parse(s).unwrap().matches(&e, &ctx);
        assert!(f("~marked"));
        assert!(f("~ep 'post /v1/orders/{id}'"));
        assert!(!f("~ep 'GET /v1/orders/{id}'"));
        assert!(f("~gap") && f("~gap UNDOCUMENTED") && !f("~gap schema"));
    }

    #[test]
    fn websocket_upgrade_is_detected() {
        let mut e = ex();
        e.request.headers.push("Upgrade", "websocket");
        e.response.as_mut().unwrap().status = 101;
        assert!(m("~websocket", &e));
    }

    #[test]
    fn needs_bodies_only_for_body_terms() {
        assert!(Filter::parse("~c 200 | !~bq x").unwrap().needs_bodies());
        assert!(!Filter::parse("~c 200 | ~h x").unwrap().needs_bodies());
    }

    #[test]
    fn display_round_trips_and_source_is_kept() {
        let src = r#"~q ~b 'a"b\\\\' | !~c 5xx"#;
        let f = Filter::parse(src).unwrap();
        assert_eq!(f.source(), src);
        assert_eq!(f.to_string(), r#"~q & (~b "a\"b\\\\" | !~c 5xx)"#);
        let again = Filter::parse(&f.to_string()).unwrap();
        assert_eq!(f, again, "{f}");
    }

    #[test]
    fn caret_marks_the_span() {
        let src = "~c 200 & ~zz";
        let e = Filter::parse(src).unwrap_err();
        assert_eq!(e.caret(src), "~c 200 & ~zz\n         ^^^");
    }

    #[test]
    fn filter_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Filter>();
        assert_send_sync::<FnContext>();
    }
}
