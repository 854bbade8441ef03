//! The TUI's flow index: a compact [`Row`] per exchange (times, method, status, sizes and
//! interned host / path / client / content type), the full exchanges kept apart for the
//! detail view, marks and comments, and the filtered and ordered view the flows table shows.
//!
//! The table, sorting and most filtering read only the rows; the full [`Exchange`] (headers,
//! bodies) is touched when a view asks for one flow, or when a filter or search needs
//! headers and bodies. Rows are appended while a file loads; [`FlowStore::extend_view`] merges
//! the new ones into the current view without re-sorting everything.

pub mod intern;
pub mod search;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use crate::model::client::{ClientKey, identify};
use crate::model::{Diagnostic, Exchange, Nanos};

pub use intern::{Interner, Sym};

/// Index of a flow in the store (arrival order, 0-based).
pub type FlowId = u32;

/// Value stored in the compact row when a time or duration is unknown.
pub const NONE_NS: i64 = i64::MIN;

/// Row flag: a final response was received.
pub const F_RESPONSE: u8 = 1;
/// Row flag: the exchange did not complete (failed, aborted or no response).
pub const F_FAILED: u8 = 1 << 1;
/// Row flag: the user marked the flow.
pub const F_MARKED: u8 = 1 << 2;
/// Row flag: the flow carries a comment (from the source or the user).
pub const F_COMMENT: u8 = 1 << 3;
/// Row flag: the exchange has diagnostics.
pub const F_DIAG: u8 = 1 << 4;
/// Row flag: a body was cut (cap or capture end).
pub const F_TRUNCATED: u8 = 1 << 5;

/// The compact summary of one exchange the flows table is drawn from (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Request start on the capture clock, or [`NONE_NS`].
    pub start: Nanos,
    /// Time to first byte in ns, or [`NONE_NS`].
    pub ttfb: i64,
    /// Total duration in ns, or [`NONE_NS`].
    pub duration: i64,
    /// Request body size (decoded) in bytes.
    pub req_size: u64,
    /// Response body size (decoded) in bytes.
    pub resp_size: u64,
    /// Method.
    pub method: Sym,
    /// Host (URL authority, Host header or server address).
    pub host: Sym,
    /// Request target (path and query).
    pub path: Sym,
    /// Client identity (`model::client::identify`, auto key).
    pub client: Sym,
    /// Response media type (or the request's when there is no response).
    pub ctype: Sym,
    /// Response status (meaningful when `F_RESPONSE` is set).
    pub status: u16,
    /// `F_*` flags.
    pub flags: u8,
}

impl Row {
    /// True when `flag` is set.
    #[must_use]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Status when a response was seen.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.has(F_RESPONSE).then_some(self.status)
    }

    /// A nanosecond field as an option.
    #[must_use]
    pub fn opt(v: i64) -> Option<i64> {
        (v != NONE_NS).then_some(v)
    }
}

/// The columns of the flows table; each one is also a sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// Request start time.
    Time,
    /// Client identity.
    Client,
    /// Method.
    Method,
    /// Host.
    Host,
    /// Path and query.
    Path,
    /// Response status.
    Status,
    /// Content type.
    ContentType,
    /// Request body size.
    ReqSize,
    /// Response body size.
    RespSize,
    /// Time to first byte.
    Ttfb,
    /// Total duration.
    Duration,
}

impl Column {
    /// Every column, in table order.
    pub const ALL: [Self; 11] = [
        Self::Time,
        Self::Client,
        Self::Method,
        Self::Host,
        Self::Path,
        Self::Status,
        Self::ContentType,
        Self::ReqSize,
        Self::RespSize,
        Self::Ttfb,
        Self::Duration,
    ];

    /// Short header text.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Client => "client",
            Self::Method => "method",
            Self::Host => "host",
            Self::Path => "path",
            Self::Status => "code",
            Self::ContentType => "type",
            Self::ReqSize => "req",
            Self::RespSize => "resp",
            Self::Ttfb => "ttfb",
            Self::Duration => "dur",
        }
    }

    /// Long name (column picker, help, config).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Client => "client",
            Self::Method => "method",
            Self::Host => "host",
            Self::Path => "path",
            Self::Status => "status",
            Self::ContentType => "content type",
            Self::ReqSize => "request size",
            Self::RespSize => "response size",
            Self::Ttfb => "ttfb",
            Self::Duration => "duration",
        }
    }

    /// The next column in [`Column::ALL`] (wrapping): what `o` cycles through.
    #[must_use]
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// What a flow carries besides the exchange itself: user marks and comments.
#[derive(Debug, Clone, Copy)]
pub struct FlowMeta<'a> {
    /// The user marked it.
    pub marked: bool,
    /// The comment (user comment, else the source's).
    pub comment: Option<&'a str>,
    /// The client identity label.
    pub client: &'a str,
}

/// Decides which flows the view shows (the TUI wraps the filter language in one).
pub trait Predicate: Send + Sync {
    /// True when the flow should be shown.
    fn keep(&self, ex: &Exchange, meta: &FlowMeta<'_>) -> bool;
}

/// The flow index.
#[derive(Default)]
pub struct FlowStore {
    rows: Vec<Row>,
    exchanges: Vec<Arc<Exchange>>,
    strings: Interner,
    comments: HashMap<FlowId, String>,
    view: Vec<FlowId>,
    order: Option<Column>,
    reverse: bool,
    marked_only: bool,
    predicate: Option<Box<dyn Predicate>>,
    client_key: ClientKey,
    diagnostics: Vec<Diagnostic>,
    /// Symbol ranks by string order, rebuilt lazily for string sorts.
    ranks: Vec<u32>,
    ranks_len: usize,
}

impl std::fmt::Debug for FlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowStore")
            .field("rows", &self.rows.len())
            .field("shown", &self.view.len())
            .field("order", &self.order)
            .field("reverse", &self.reverse)
            .finish_non_exhaustive()
    }
}

impl FlowStore {
    /// An empty store; flows are ordered by time.
    #[must_use]
    pub fn new() -> Self {
        Self { order: Some(Column::Time), ..Self::default() }
    }

    /// Number of flows held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no flow is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Add one exchange; returns its id. Call [`FlowStore::extend_view`] after a batch.
    ///
    /// To save memory the response's still-encoded copy (`body.wire`, e.g. gzip bytes) is
    /// dropped: the views show decoded content and export replays requests, whose wire
    /// bytes are kept.
    pub fn push(&mut self, mut ex: Exchange) -> FlowId {
        if let Some(r) = ex.response.as_mut() {
            r.body.wire = None;
            r.body.content.shrink_to_fit();
        }
        ex.request.body.content.shrink_to_fit();
        let id = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        let row = self.make_row(&ex);
        self.rows.push(row);
        self.exchanges.push(Arc::new(ex));
        id
    }

    fn make_row(&mut self, ex: &Exchange) -> Row {
        let method = self.strings.intern(&ex.request.method);
        let host = self.strings.intern(&ex.host());
        let path = self.strings.intern(&ex.request.target);
        let client = identify(ex, &self.client_key).map_or_else(|| "-".to_string(), |c| c.0);
        let client = self.strings.intern(&client);
        let ct = ex
            .response
            .as_ref()
            .and_then(|r| r.headers.content_type())
            .or_else(|| ex.request.headers.content_type())
            .unwrap_or_default();
        let ctype = self.strings.intern(&ct);
        let mut flags = 0;
        if ex.response.is_some() {
            flags |= F_RESPONSE;
        }
        if ex.is_failed() {
            flags |= F_FAILED;
        }
        if ex.comment.is_some() {
            flags |= F_COMMENT;
        }
        if !ex.diagnostics.is_empty() {
            flags |= F_DIAG;
        }
        if ex.request.body.truncated || ex.response.as_ref().is_some_and(|r| r.body.truncated) {
            flags |= F_TRUNCATED;
        }
        Row {
            start: ex.timing.start().unwrap_or(NONE_NS),
            ttfb: ex.ttfb().unwrap_or(NONE_NS),
            duration: ex.duration().unwrap_or(NONE_NS),
            req_size: ex.request.body.size,
            resp_size: ex.response.as_ref().map_or(0, |r| r.body.size),
            method,
            host,
            path,
            client,
            ctype,
            status: ex.status().unwrap_or(0),
            flags,
        }
    }

    /// A file-level diagnostic from the reader.
    pub fn add_diagnostic(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// File-level diagnostics.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The compact row of a flow.
    #[must_use]
    pub fn row(&self, id: FlowId) -> Option<&Row> {
        self.rows.get(id as usize)
    }

    /// The full exchange of a flow.
    #[must_use]
    pub fn exchange(&self, id: FlowId) -> Option<&Exchange> {
        self.exchanges.get(id as usize).map(|e| &**e)
    }

    /// A shared handle on a flow's exchange (for worker threads that outlive a borrow).
    #[must_use]
    pub fn shared(&self, id: FlowId) -> Option<Arc<Exchange>> {
        self.exchanges.get(id as usize).cloned()
    }

    /// The text of an interned symbol.
    #[must_use]
    pub fn str(&self, s: Sym) -> &str {
        self.strings.get(s)
    }

    /// Marks, comment and client of a flow.
    #[must_use]
    pub fn meta(&self, id: FlowId) -> FlowMeta<'_> {
        let row = self.row(id);
        FlowMeta {
            marked: row.is_some_and(|r| r.has(F_MARKED)),
            comment: self.comment(id),
            client: row.map_or("", |r| self.str(r.client)),
        }
    }

    /// The flows shown, in display order.
    #[must_use]
    pub fn view(&self) -> &[FlowId] {
        &self.view
    }

    /// The flow at a view position.
    #[must_use]
    pub fn view_at(&self, pos: usize) -> Option<FlowId> {
        self.view.get(pos).copied()
    }

    /// Position of a flow in the view.
    #[must_use]
    pub fn position(&self, id: FlowId) -> Option<usize> {
        self.view.iter().position(|v| *v == id)
    }

    /// The current sort column (`None` = arrival order) and direction.
    #[must_use]
    pub fn order(&self) -> (Option<Column>, bool) {
        (self.order, self.reverse)
    }

    /// Whether only marked flows are shown.
    #[must_use]
    pub fn marked_only(&self) -> bool {
        self.marked_only
    }

    /// Whether a filter predicate is set.
    #[must_use]
    pub fn has_predicate(&self) -> bool {
        self.predicate.is_some()
    }

    /// Sort by `col` (`None` = arrival order); re-sorts the view.
    pub fn set_order(&mut self, col: Option<Column>) {
        self.order = col;
        self.sort_view();
    }

    /// Flip the direction; re-sorts the view.
    pub fn set_reverse(&mut self, reverse: bool) {
        self.reverse = reverse;
        self.sort_view();
    }

    /// Show only marked flows (or all); rebuilds the view.
    pub fn set_marked_only(&mut self, on: bool) {
        self.marked_only = on;
        self.refresh_view();
    }

    /// Set or clear the filter; rebuilds the view.
    pub fn set_predicate(&mut self, p: Option<Box<dyn Predicate>>) {
        self.predicate = p;
        self.refresh_view();
    }

    /// Toggle the mark on a flow; returns the new state.
    pub fn toggle_mark(&mut self, id: FlowId) -> bool {
        match self.rows.get_mut(id as usize) {
            Some(r) => {
                r.flags ^= F_MARKED;
                r.has(F_MARKED)
            }
            None => false,
        }
    }

    /// Number of marked flows.
    #[must_use]
    pub fn marked_count(&self) -> usize {
        self.rows.iter().filter(|r| r.has(F_MARKED)).count()
    }

    /// Ids of the marked flows, in view order first then the hidden ones by id.
    #[must_use]
    pub fn marked(&self) -> Vec<FlowId> {
        (0..self.rows.len())
            .filter(|i| self.rows.get(*i).is_some_and(|r| r.has(F_MARKED)))
            .filter_map(|i| FlowId::try_from(i).ok())
            .collect()
    }

    /// Clear every mark; rebuilds the view when only marked flows were shown.
    pub fn unmark_all(&mut self) {
        for r in &mut self.rows {
            r.flags &= !F_MARKED;
        }
        if self.marked_only {
            self.refresh_view();
        }
    }

    /// The comment of a flow: the user's, else the one the source carried.
    #[must_use]
    pub fn comment(&self, id: FlowId) -> Option<&str> {
        self.comments
            .get(&id)
            .map(String::as_str)
            .or_else(|| self.exchanges.get(id as usize).and_then(|e| e.comment.as_deref()))
            .filter(|c| !c.is_empty())
    }

    /// Set (or, with an empty text, clear) the user's comment on a flow.
    pub fn set_comment(&mut self, id: FlowId, text: &str) {
        let source = self.exchanges.get(id as usize).and_then(|e| e.comment.clone());
        self.comments.insert(id, text.to_string());
        if let Some(r) = self.rows.get_mut(id as usize) {
            if text.is_empty() && source.is_none() {
                r.flags &= !F_COMMENT;
            } else {
                r.flags |= F_COMMENT;
            }
        }
    }

    fn keep(&self, id: FlowId) -> bool {
        let Some(row) = self.rows.get(id as usize) else { return false };
        if self.marked_only && !row.has(F_MARKED) {
            return false;
        }
        match (&self.predicate, self.exchanges.get(id as usize)) {
            (Some(p), Some(ex)) => p.keep(ex, &self.meta(id)),
            _ => true,
        }
    }

    /// Rebuild the view from all flows (after a filter, marks-only or order change).
    pub fn refresh_view(&mut self) {
        let n = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        self.view = if self.predicate.is_none() && !self.marked_only {
            (0..n).collect()
        } else {
            // Filters may read headers and bodies: spread them over the cores.
            use rayon::prelude::*;
            (0..n).into_par_iter().filter(|id| self.keep(*id)).collect()
        };
        self.sort_view();
    }

    /// Add the flows with ids `from..` (just pushed) to the view, keeping it ordered:
    /// the new ones are filtered, sorted and merged in.
    pub fn extend_view(&mut self, from: FlowId) {
        let n = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        let mut new: Vec<FlowId> = (from..n).filter(|id| self.keep(*id)).collect();
        if new.is_empty() {
            return;
        }
        self.prepare_ranks();
        new.sort_unstable_by(|a, b| self.cmp(*a, *b));
        let old = std::mem::take(&mut self.view);
        let mut merged = Vec::with_capacity(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (old.get(i), new.get(j)) {
            if self.cmp(*b, *a) == Ordering::Less {
                merged.push(*b);
                j += 1;
            } else {
                merged.push(*a);
                i += 1;
            }
        }
        merged.extend_from_slice(old.get(i..).unwrap_or(&[]));
        merged.extend_from_slice(new.get(j..).unwrap_or(&[]));
        self.view = merged;
    }

    fn prepare_ranks(&mut self) {
        if matches!(
            self.order,
            Some(Column::Client | Column::Method | Column::Host | Column::Path | Column::ContentType)
        ) && self.ranks_len != self.strings.len()
        {
            self.ranks = self.strings.ranks();
            self.ranks_len = self.strings.len();
        }
    }

    fn sort_view(&mut self) {
        self.prepare_ranks();
        let mut view = std::mem::take(&mut self.view);
        view.sort_unstable_by(|a, b| self.cmp(*a, *b));
        self.view = view;
    }

    fn rank(&self, s: Sym) -> u32 {
        self.ranks.get(s.index()).copied().unwrap_or(u32::MAX)
    }

    /// Order of two flows under the current column and direction; ties by arrival.
    fn cmp(&self, a: FlowId, b: FlowId) -> Ordering {
        let (Some(ra), Some(rb)) = (self.rows.get(a as usize), self.rows.get(b as usize)) else {
            return a.cmp(&b);
        };
        let primary = match self.order {
            None => Ordering::Equal,
            Some(Column::Time) => ra.start.cmp(&rb.start),
            Some(Column::Client) => self.rank(ra.client).cmp(&self.rank(rb.client)),
            Some(Column::Method) => self.rank(ra.method).cmp(&self.rank(rb.method)),
            Some(Column::Host) => self.rank(ra.host).cmp(&self.rank(rb.host)),
            Some(Column::Path) => self.rank(ra.path).cmp(&self.rank(rb.path)),
            Some(Column::ContentType) => self.rank(ra.ctype).cmp(&self.rank(rb.ctype)),
            Some(Column::Status) => ra.status().cmp(&rb.status()),
            Some(Column::ReqSize) => ra.req_size.cmp(&rb.req_size),
            Some(Column::RespSize) => ra.resp_size.cmp(&rb.resp_size),
            Some(Column::Ttfb) => ra.ttfb.cmp(&rb.ttfb),
            Some(Column::Duration) => ra.duration.cmp(&rb.duration),
        };
        let o = primary.then(a.cmp(&b));
        if self.reverse { o.reverse() } else { o }
    }

    /// Approximate heap bytes held by the index (rows, strings, view), excluding the full
    /// exchanges; see [`FlowStore::exchange_bytes`] for those.
    #[must_use]
    pub fn index_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.view.capacity() * std::mem::size_of::<FlowId>()
            + self.strings.heap_bytes()
    }

    /// Approximate heap bytes held by the full exchanges (headers, bodies, strings).
    #[must_use]
    pub fn exchange_bytes(&self) -> usize {
        fn headers(h: &crate::model::Headers) -> usize {
            h.0.capacity() * std::mem::size_of::<crate::model::Header>()
                + h.0.iter().map(|x| x.name.capacity() + x.value.capacity()).sum::<usize>()
        }
        fn body(b: &crate::model::Body) -> usize {
            b.content.capacity() + b.wire.as_ref().map_or(0, Vec::capacity)
        }
        self.exchanges.capacity() * std::mem::size_of::<Arc<Exchange>>()
            + self.exchanges.len() * std::mem::size_of::<Exchange>()
            + self
                .exchanges
                .iter()
                .map(|e| {
                    e.request.method.capacity()
                        + e.request.target.capacity()
                        + e.request.host.as_ref().map_or(0, String::capacity)
                        + headers(&e.request.headers)
                        + body(&e.request.body)
                        + e.response.as_ref().map_or(0, |r| headers(&r.headers) + body(&r.body) + r.reason.capacity())
                        + e.provenance.packets.capacity() * 8
                        + e.diagnostics.capacity() * std::mem::size_of::<Diagnostic>()
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, Request, Response, State, Timing};

    fn ex(method: &str, target: &str, status: Option<u16>, start: i64, dur: i64) -> Exchange {
        let mut e = Exchange {
            request: Request { method: method.into(), target: target.into(), ..Request::default() },
            timing: Timing {
                request_start: Some(start),
                request_end: Some(start + 1),
                response_start: Some(start + dur / 2),
                response_end: Some(start + dur),
            },
            ..Exchange::default()
        };
        e.request.headers.push("Host", "api.example");
        match status {
            Some(s) => {
                e.response =
                    Some(Response { status: s, body: Body::from_bytes(vec![b'x'; s as usize]), ..Response::default() });
            }
            None => e.state = State::NoResponse("capture ended".into()),
        }
        e
    }

    fn store() -> FlowStore {
        let mut s = FlowStore::new();
        s.push(ex("GET", "/b", Some(200), 30, 10));
        s.push(ex("POST", "/a", Some(500), 10, 50));
        s.push(ex("DELETE", "/c", None, 20, 5));
        s.refresh_view();
        s
    }

    #[test]
    fn rows_are_compact() {
        assert!(std::mem::size_of::<Row>() <= 64, "{}", std::mem::size_of::<Row>());
    }

    #[test]
    fn default_order_is_by_start_time() {
        let s = store();
        assert_eq!(s.view(), &[1, 2, 0]);
    }

    #[test]
    fn every_column_sorts_and_reverses() {
        let mut s = store();
        s.set_order(Some(Column::Duration));
        assert_eq!(s.view(), &[2, 0, 1]);
        s.set_reverse(true);
        assert_eq!(s.view(), &[1, 0, 2]);
        s.set_reverse(false);
        s.set_order(Some(Column::Path));
        assert_eq!(s.view(), &[1, 0, 2]);
        s.set_order(Some(Column::Method));
        assert_eq!(s.view(), &[2, 0, 1], "DELETE < GET < POST");
        s.set_order(Some(Column::Status));
        assert_eq!(s.view(), &[2, 0, 1], "no response first, then 200, 500");
        for c in Column::ALL {
            s.set_order(Some(c));
            assert_eq!(s.view().len(), 3);
        }
    }

    #[test]
    fn incremental_merge_keeps_the_order() {
        let mut s = store();
        s.set_order(Some(Column::Duration));
        let from = s.push(ex("GET", "/d", Some(204), 5, 20));
        s.push(ex("GET", "/e", Some(204), 6, 1));
        s.extend_view(from);
        let durs: Vec<i64> = s.view().iter().map(|id| s.row(*id).unwrap().duration).collect();
        let mut sorted = durs.clone();
        sorted.sort_unstable();
        assert_eq!(durs, sorted);
        assert_eq!(s.view().len(), 5);
    }

    struct Only5xx;
    impl Predicate for Only5xx {
        fn keep(&self, ex: &Exchange, _m: &FlowMeta<'_>) -> bool {
            ex.status().is_some_and(|s| s >= 500)
        }
    }

    #[test]
    fn predicate_marks_and_comments() {
        let mut s = store();
        s.set_predicate(Some(Box::new(Only5xx)));
        assert_eq!(s.view(), &[1]);
        s.set_predicate(None);
        assert!(s.toggle_mark(2));
        s.set_marked_only(true);
        assert_eq!(s.view(), &[2]);
        s.unmark_all();
        assert!(s.view().is_empty());
        s.set_marked_only(false);
        s.set_comment(0, "slow one");
        assert_eq!(s.comment(0), Some("slow one"));
        assert!(s.row(0).unwrap().has(F_COMMENT));
        s.set_comment(0, "");
        assert!(!s.row(0).unwrap().has(F_COMMENT));
        assert!(s.row(2).unwrap().has(F_FAILED));
        assert_eq!(s.row(2).unwrap().status(), None);
    }
}
