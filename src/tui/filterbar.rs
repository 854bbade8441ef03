//! The bridge between the filter bar and the filter language: compile the typed text into a
//! store [`Predicate`] (marks, comments and client identity answered from the store), or an
//! error with the byte span to underline.

use std::ops::Range;
use std::sync::Arc;

use crate::filter::ast::{Expr, Rx};
use crate::filter::{Filter, FilterContext};
use crate::model::Exchange;
use crate::spec::Spec;
use crate::store::{FlowMeta, Predicate, RowUrl};

/// A filter that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
}

/// Answers `~ep` (endpoint names) and `~gap` (contract finding tags): the insight views
/// supply one that knows the spec (`tui::insight::SpecContext`).
pub trait Extra: Send + Sync {
    /// Every `METHOD /template` name `~ep` accepts for the exchange
    /// (`analysis::endpoint::filter_names`).
    fn endpoints(&self, ex: &Exchange) -> Vec<String>;
    /// Finding tags of the exchange.
    fn gaps(&self, ex: &Exchange) -> Vec<String>;
    /// Pattern flags of a client (`~flag`); none until they are computed.
    fn flags(&self, _client: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Answers `~marked`, `~comment` and `~client` from the store's flow metadata, and `~ep`
/// from the spec when one was given; the [`Extra`] context, when there is one, answers
/// `~ep` (inferred names too) and `~gap`.
struct MetaContext<'m>(&'m FlowMeta<'m>, Option<&'m Spec>, Option<&'m dyn Extra>);

/// Run `f` on the URL text of `url`, built in a reused per-thread buffer.
fn with_url<R>(url: &RowUrl<'_>, f: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static BUF: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
    }
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut s) => {
            s.clear();
            url.write(&mut s);
            f(&s)
        }
        Err(_) => {
            let mut s = String::new();
            url.write(&mut s);
            f(&s)
        }
    })
}

impl FilterContext for MetaContext<'_> {
    fn url_match(&self, _ex: &Exchange, rx: &Rx) -> Option<bool> {
        let url = self.0.url.as_ref()?;
        Some(with_url(url, |u| rx.is_match(u)))
    }
    fn endpoint(&self, ex: &Exchange) -> Option<String> {
        self.endpoints(ex).into_iter().next()
    }
    fn endpoints(&self, ex: &Exchange) -> Vec<String> {
        match self.2 {
            Some(e) => e.endpoints(ex),
            None => crate::analysis::endpoint::filter_names(self.1, ex),
        }
    }
    fn gaps(&self, ex: &Exchange) -> Vec<String> {
        self.2.map(|e| e.gaps(ex)).unwrap_or_default()
    }
    fn flags(&self, _ex: &Exchange) -> Vec<String> {
        self.2.map(|e| e.flags(self.0.client)).unwrap_or_default()
    }
    fn is_marked(&self, _ex: &Exchange) -> bool {
        self.0.marked
    }
    fn comment<'a>(&'a self, _ex: &'a Exchange) -> Option<&'a str> {
        self.0.comment
    }
    fn client_id(&self, _ex: &Exchange) -> Option<String> {
        Some(self.0.client.to_string())
    }
}

/// A parsed filter as a store predicate.
struct FilterPredicate(Filter, Option<Arc<Spec>>, Option<Arc<dyn Extra>>);

impl Predicate for FilterPredicate {
    fn keep(&self, ex: &Exchange, meta: &FlowMeta<'_>) -> bool {
        self.0.matches(ex, &MetaContext(meta, self.1.as_deref(), self.2.as_deref()))
    }
    fn needs_exchange(&self) -> bool {
        !row_only(self.0.expr())
    }
    fn skeleton_fields(&self) -> u8 {
        skeleton_fields(self.0.expr())
    }
    fn needs_bodies(&self) -> bool {
        reads_bodies(self.0.expr())
    }
}

/// True when evaluating `e` may read body bytes: body terms, and contract gaps (the checker
/// validates bodies against their schemas).
fn reads_bodies(e: &Expr) -> bool {
    match e {
        Expr::Body(..) | Expr::Gap(_) => true,
        Expr::Not(x) => reads_bodies(x),
        Expr::And(v) | Expr::Or(v) => v.iter().any(reads_bodies),
        _ => false,
    }
}

/// The text fields of a skeleton exchange a row-only expression reads. `~u` reads none: the
/// store's [`FlowMeta::url`] answers it (the URL is written once from the interned strings).
fn skeleton_fields(e: &Expr) -> u8 {
    use crate::store::{SK_HOST, SK_METHOD, SK_TARGET};
    match e {
        Expr::Url(_) => 0,
        Expr::Method(_) => SK_METHOD,
        Expr::Domain(_) => SK_HOST,
        Expr::Endpoint(_) => SK_METHOD | SK_TARGET | SK_HOST,
        Expr::Not(x) => skeleton_fields(x),
        Expr::And(v) | Expr::Or(v) => v.iter().fold(0, |m, x| m | skeleton_fields(x)),
        _ => 0,
    }
}

/// True when every term of `e` reads only what a store row keeps (method, scheme, host,
/// target, status, times, sizes, failure) or the flow's metadata (marks, comments, client),
/// so the store can answer it on its skeleton exchange. Endpoint names route on method,
/// scheme, host and path; pattern flags are looked up by the row's client. Headers, bodies, content types, addresses, assets, WebSockets and
/// contract gaps need the full exchange.
#[must_use]
pub fn row_only(e: &Expr) -> bool {
    match e {
        Expr::All
        | Expr::Never(_)
        | Expr::Http
        | Expr::Error
        | Expr::NoResponse
        | Expr::HasResponse
        | Expr::Marked
        | Expr::Url(_)
        | Expr::Method(_)
        | Expr::Domain(_)
        | Expr::Comment(_)
        | Expr::Status(_)
        | Expr::Duration(..)
        | Expr::Ttfb(..)
        | Expr::Size(..)
        | Expr::Client(_)
        | Expr::Flag(_)
        | Expr::Endpoint(_) => true,
        Expr::Asset
        | Expr::WebSocket
        | Expr::Header(..)
        | Expr::Body(..)
        | Expr::Message(_)
        | Expr::ContentType(..)
        | Expr::Src(_)
        | Expr::Dst(_)
        | Expr::Gap(_) => false,
        Expr::Not(x) => row_only(x),
        Expr::And(v) | Expr::Or(v) => v.iter().all(row_only),
    }
}

/// Compile filter text; `~ep` names operations of `spec`.
///
/// # Errors
/// The text is not a valid expression.
pub fn compile(text: &str, spec: Option<&Arc<Spec>>) -> Result<Box<dyn Predicate>, FilterError> {
    match Filter::parse(text) {
        Ok(f) => Ok(Box::new(FilterPredicate(f, spec.cloned(), None))),
        Err(e) => Err(FilterError { span: e.span, message: e.message }),
    }
}

/// Compile filter text with a context for `~ep` and `~gap`.
///
/// # Errors
/// The text is not a valid expression.
pub fn compile_with(text: &str, extra: Option<Arc<dyn Extra>>) -> Result<Box<dyn Predicate>, FilterError> {
    match Filter::parse(text) {
        Ok(f) => Ok(Box::new(FilterPredicate(f, None, extra))),
        Err(e) => Err(FilterError { span: e.span, message: e.message }),
    }
}

/// What Tab does in the filter prompt: the text with the word before the cursor completed,
/// the new cursor (in characters), and every candidate when more than one fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The completed text.
    pub text: String,
    /// Cursor position in characters.
    pub cursor: usize,
    /// The candidates (several: the text got their common start).
    pub candidates: Vec<String>,
}

/// Complete the word before `cursor` (in characters) of filter `text`: a term name after
/// `~` (from the parser's table), an endpoint after `~ep` (from `endpoints`, quoted), a
/// pattern flag after `~flag`. `None` when nothing fits.
#[must_use]
pub fn complete(text: &str, cursor: usize, endpoints: &[String]) -> Option<Completion> {
    let at = text.char_indices().nth(cursor).map_or(text.len(), |(i, _)| i);
    let (before, after) = text.split_at(at);
    // Inside an open double quote the word is everything since the quote.
    let start = if before.matches('"').count() % 2 == 1 {
        before.rfind('"').unwrap_or(0)
    } else {
        before.rfind(|c: char| c.is_whitespace() || c == '(' || c == '!').map_or(0, |i| i + 1)
    };
    let word = &before[start..];
    let prev = before[..start].split_whitespace().last().unwrap_or("");
    let (cands, quote): (Vec<String>, bool) = if word.starts_with('~') {
        (crate::filter::parser::term_names().filter(|n| n.starts_with(word)).map(str::to_string).collect(), false)
    } else if prev == "~ep" {
        let w = word.trim_start_matches(['"', '\'']);
        let mut v: Vec<String> = endpoints.iter().filter(|e| e.starts_with(w)).cloned().collect();
        v.sort();
        v.dedup();
        (v, true)
    } else if prev == "~flag" {
        let v = crate::analysis::PatternKind::ALL
            .iter()
            .filter(|k| k.is_client_behaviour() && k.tag().starts_with(word))
            .map(|k| k.tag().to_string())
            .collect();
        (v, false)
    } else {
        return None;
    };
    let first = cands.first()?;
    let common = cands
        .iter()
        .fold(first.clone(), |acc, c| acc.chars().zip(c.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect());
    let single = cands.len() == 1;
    let mut done = if quote { format!("\"{common}") } else { common };
    if single {
        if quote {
            done.push('"');
        }
        if !after.starts_with(' ') {
            done.push(' ');
        }
    }
    let new_before = format!("{}{done}", &before[..start]);
    let cursor = new_before.chars().count() + usize::from(single && after.starts_with(' '));
    Some(Completion {
        text: format!("{new_before}{after}"),
        cursor,
        candidates: if single { Vec::new() } else { cands },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_completes_terms_endpoints_and_flags() {
        let c = complete("~c 5xx & ~cli", 13, &[]).unwrap();
        assert_eq!((c.text.as_str(), c.cursor), ("~c 5xx & ~client ", 17));
        let c = complete("~c", 2, &[]).unwrap();
        assert_eq!(c.candidates, vec!["~c", "~client", "~comment"]);
        assert_eq!(c.text, "~c");
        let eps = vec!["GET /v1/orders".to_string(), "GET /v1/orders/{id}".to_string(), "POST /v1/orders".to_string()];
        let c = complete("~ep \"GET /v1/o", 14, &eps).unwrap();
        assert_eq!(c.text, "~ep \"GET /v1/orders");
        assert_eq!(c.candidates.len(), 2);
        let c = complete("~ep PO", 6, &eps).unwrap();
        assert_eq!(c.text, "~ep \"POST /v1/orders\" ");
        let c = complete("~flag scan", 10, &[]).unwrap();
        assert_eq!(c.text, "~flag scanner ");
        assert!(complete("~flag slow", 10, &[]).is_none(), "slowest is not a client flag");
        assert!(complete("foo", 3, &[]).is_none());
        let c = complete("~fl & ~c 200", 3, &[]).unwrap();
        assert_eq!((c.text.as_str(), c.cursor), ("~flag & ~c 200", 6));
    }

    #[test]
    fn marks_comments_and_clients_come_from_the_store() {
        let ex = Exchange::default();
        let meta = FlowMeta { marked: true, comment: Some("slow one"), client: "key:1234", url: None };
        assert!(compile("~marked", None).unwrap().keep(&ex, &meta));
        assert!(compile("~comment slow", None).unwrap().keep(&ex, &meta));
        assert!(!compile("!~marked", None).unwrap().keep(&ex, &meta));
        assert!(compile("~client key:1234", None).unwrap().keep(&ex, &meta));
        let e = compile("~c 5xx & (", None).err().unwrap();
        assert!(e.span.start <= 10, "{e:?}");
        assert!(!e.message.is_empty());
    }

    /// Flows with many (scheme, host, target) combinations, each target seen under several
    /// hosts and schemes.
    fn url_store() -> crate::store::FlowStore {
        let mut store = crate::store::FlowStore::new();
        for i in 0..600u32 {
            let mut ex = Exchange::default();
            ex.request.method = "GET".into();
            ex.request.scheme = [None, Some("https".to_string()), Some("http".to_string()), Some("wss".to_string())]
                [(i % 4) as usize]
                .clone();
            ex.request.host = [None, Some("api.example.com"), Some("Orders.Example"), Some("")][(i / 4 % 4) as usize]
                .map(str::to_string);
            if i % 7 == 0 {
                ex.request.headers.push("Host", "from-header.example");
            }
            let seg = ["orders", "quotes", "ORDERS", "caf\u{e9}", "\u{212a}elvin"][(i % 5) as usize];
            ex.request.target = format!("/v1/{seg}/{}?q={}", i % 9, i % 2);
            ex.seq = u64::from(i);
            store.push(ex);
        }
        store
    }

    #[test]
    fn url_filters_on_interned_strings_keep_the_rows_the_skeleton_url_keeps() {
        let mut store = url_store();
        let exprs = [
            "~u orders",
            "~u ^https://orders",
            "~u example.com/v1",
            "~u s\\.example",
            "~u 1\\?q=0$",
            "~u ^/v1/",
            "~u ^http://",
            "~u kelvin",
            "~u CAF\u{c9}",
            "~u orders | ~u quotes",
            "!~u orders & ~u example",
            "~u orders & !~u ^wss",
            "orders",
        ];
        let n = u32::try_from(store.len()).unwrap();
        for text in exprs {
            let f = Filter::parse(text).unwrap();
            let want: Vec<u32> =
                (0..n).filter(|id| f.matches(&store.skeleton(*id), &crate::filter::NoContext)).collect();
            assert!(!want.is_empty() || text.contains('!'), "{text}: reference keeps nothing");
            let p: Arc<dyn Predicate> = Arc::from(compile(text, None).unwrap());
            assert_eq!(p.skeleton_fields(), 0, "{text}: ~u reads no skeleton text");
            for pass in 0..2 {
                let got: Vec<u32> = (0..n)
                    .filter(|id| store.with_skeleton(*id, p.skeleton_fields(), |ex| p.keep(ex, &store.meta(*id))))
                    .collect();
                assert_eq!(got, want, "{text} (pass {pass})");
            }
            store.set_predicate(Some(compile(text, None).unwrap()));
            let mut view = store.view().to_vec();
            view.sort_unstable();
            assert_eq!(view, want, "{text}: store view");
        }
    }
}
