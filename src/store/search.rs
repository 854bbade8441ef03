//! Full-text search over everything a flow holds: request line, headers, decoded bodies,
//! status line, comment. Case-insensitive literal text, run over byte slices so binary
//! bodies are searched too.

use regex::bytes::{Regex, RegexBuilder};

use super::{FlowId, FlowStore};
use crate::ingest::{Prepare, Prepared};
use crate::model::{Exchange, Headers};

/// A compiled search.
#[derive(Debug, Clone)]
pub struct Search {
    text: String,
    re: Regex,
}

impl Search {
    /// A case-insensitive search for the literal `text`; `None` for an empty text.
    #[must_use]
    pub fn new(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        let re = RegexBuilder::new(&regex::escape(text)).case_insensitive(true).unicode(false).build().ok()?;
        Some(Self { text: text.to_string(), re })
    }

    /// The text searched for.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled expression (for highlighting).
    #[must_use]
    pub fn regex(&self) -> &Regex {
        &self.re
    }

    fn headers(&self, h: &Headers) -> bool {
        h.iter().any(|x| self.re.is_match(x.name.as_bytes()) || self.re.is_match(x.value.as_bytes()))
    }

    /// True when `text` (a comment, say) contains the searched text.
    #[must_use]
    pub fn matches_text(&self, text: &str) -> bool {
        self.re.is_match(text.as_bytes())
    }

    /// True when the exchange (or its comment) contains the text anywhere.
    #[must_use]
    pub fn matches(&self, ex: &Exchange, comment: Option<&str>) -> bool {
        let r = &ex.request;
        self.re.is_match(r.method.as_bytes())
            || self.re.is_match(r.target.as_bytes())
            || self.re.is_match(ex.host().as_bytes())
            || self.headers(&r.headers)
            || self.re.is_match(&r.body.content)
            || ex.response.as_ref().is_some_and(|s| {
                self.re.is_match(s.status.to_string().as_bytes())
                    || self.re.is_match(s.reason.as_bytes())
                    || self.headers(&s.headers)
                    || self.re.is_match(&s.body.content)
            })
            || comment.is_some_and(|c| self.re.is_match(c.as_bytes()))
    }

    /// True when flow `id` of `store` matches.
    #[must_use]
    pub fn matches_flow(&self, store: &FlowStore, id: FlowId) -> bool {
        store.exchange(id).is_some_and(|ex| self.matches(&ex, store.comment(id)))
    }

    /// The next view position after (or, going back, before) `from` whose flow matches,
    /// wrapping around once.
    #[must_use]
    pub fn find(&self, store: &FlowStore, from: usize, forward: bool) -> Option<usize> {
        let n = store.view().len();
        if n == 0 {
            return None;
        }
        use rayon::prelude::*;
        (1..=n)
            .into_par_iter()
            .map(|k| if forward { (from + k) % n } else { (from + n * 2 - k) % n })
            .find_first(|pos| store.view_at(*pos).is_some_and(|id| self.matches_flow(store, id)))
    }

    /// Where view position `pos` stands among the shown flows that match: (1-based rank,
    /// matching flows shown).
    #[must_use]
    pub fn rank(&self, store: &FlowStore, pos: usize) -> (usize, usize) {
        use rayon::prelude::*;
        let hits: Vec<usize> = (0..store.view().len())
            .into_par_iter()
            .filter(|p| store.view_at(*p).is_some_and(|id| self.matches_flow(store, id)))
            .collect();
        (hits.iter().filter(|p| **p <= pos).count(), hits.len())
    }

    /// Byte ranges of every hit in `s` (for highlighting one line).
    #[must_use]
    pub fn ranges(&self, s: &str) -> Vec<(usize, usize)> {
        self.re.find_iter(s.as_bytes()).map(|m| (m.start(), m.end())).filter(|(a, b)| a < b).collect()
    }
}

/// A search's test of what an exchange carries (everything but the comment), as a
/// [`Prepare`]: a capture read on several threads runs it on its parsing threads, where the
/// decoded bodies are, and frees the bodies there; the answer (`bool`) comes back with the
/// exchange.
#[derive(Debug, Clone)]
pub struct ContentHit(pub Search);

impl Prepare for ContentHit {
    fn prepare(&self, ex: &Exchange) -> Prepared {
        Box::new(self.0.matches(ex, None))
    }
    fn content_digest(&self) -> bool {
        true
    }
}

impl ContentHit {
    /// Whether flow `ex` (with `comment`) matches, from the prepared answer when there is one.
    #[must_use]
    pub fn hit(&self, ex: &Exchange, comment: Option<&str>, prepared: Option<Prepared>) -> bool {
        match prepared.and_then(|p| p.downcast::<bool>().ok()) {
            Some(content) => *content || comment.is_some_and(|c| self.0.matches_text(c)),
            None => self.0.matches(ex, comment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, Response};

    #[test]
    fn finds_text_in_decoded_bodies_case_insensitively() {
        let mut s = FlowStore::new();
        for body in ["{\"a\":1}", "{\"symbol\":\"ACME\"}", "nothing"] {
            let mut e = Exchange::default();
            e.request.method = "GET".into();
            e.response =
                Some(Response { status: 200, body: Body::from_bytes(body.as_bytes().to_vec()), ..Response::default() });
            s.push(e);
        }
        s.refresh_view();
        let q = Search::new("acme").unwrap();
        assert_eq!(q.find(&s, 0, true), Some(1));
        assert_eq!(q.find(&s, 1, true), Some(1), "wraps to itself");
        assert_eq!(q.find(&s, 2, false), Some(1));
        assert!(Search::new("zzz").unwrap().find(&s, 0, true).is_none());
        assert_eq!(q.ranges("x ACME acme"), vec![(2, 6), (7, 11)]);
        assert!(Search::new("").is_none());
        assert!(Search::new("(").is_some(), "literal, not a regex");
    }
}
