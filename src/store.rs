//! The TUI's flow index: a compact [`Row`] per exchange (times, method, status, sizes and
//! interned host / path / client / content type), where each full exchange can be found
//! again, marks and comments, and the filtered and ordered view the flows table shows.
//!
//! The table, sorting and filters on row fields read only the rows (a row-only filter sees a
//! [`FlowStore::skeleton`] exchange rebuilt from the row). Full exchanges are held one of two
//! ways: in memory (inputs that cannot be re-read: standard input, compressed files; and
//! everything unless [`FlowStore::set_lazy`] was called), or as a 16-byte
//! [`Locator`] into the source file, re-read on demand through [`crate::ingest::locate`]
//! into a small LRU cache ([`FlowStore::exchange`]). Filters on headers and bodies and
//! searches over lazily held flows cannot be answered from memory: the view then shows the
//! flows decided so far, [`FlowStore::undecided`] says so, and a worker runs a
//! [`reread::ScanPlan`] (one sequential pass over the sources) and hands matches back through
//! [`FlowStore::admit`]. Rows are appended while a file loads; [`FlowStore::push_batch`]
//! filters the new exchanges while they are still in memory and merges them into the view
//! without re-sorting everything.

pub mod intern;
pub mod reread;
pub mod search;
pub mod textindex;

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::ingest::ReadOptions;
use crate::ingest::locate::{Locator, Source};
use crate::model::client::{ClientKey, identify};
use crate::model::{Body, Diagnostic, Exchange, Nanos, Request, Response, Severity, State, Timing};

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
/// Row flag: the exchange failed or was aborted (`~e`), as opposed to merely unanswered.
pub const F_ERROR: u8 = 1 << 6;

/// Exchanges kept in the re-read cache.
const CACHE: usize = 48;

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
    /// The flow's URL as the row holds it (interned, no copy), when the store has a row.
    pub url: Option<RowUrl<'a>>,
}

/// The URL parts of a row, borrowed from the store's interned strings: a predicate can
/// match the URL without first copying the strings into a skeleton exchange.
/// The text is the URL a [`FlowStore::skeleton`] gives `~u`: `scheme://host` (scheme
/// `http` when none) when the host is not empty, then the target.
#[derive(Debug, Clone, Copy)]
pub struct RowUrl<'a> {
    /// Index of the scheme in the store's scheme table (0 = none, i.e. `http`).
    pub scheme_ix: u8,
    /// The scheme text, when not `http`.
    pub scheme: Option<&'a str>,
    /// The interned host.
    pub host: Sym,
    /// Its text.
    pub host_text: &'a str,
    /// The interned request target.
    pub path: Sym,
    /// Its text.
    pub target: &'a str,
}

impl RowUrl<'_> {
    /// Write the URL text into `out`.
    pub fn write(&self, out: &mut String) {
        if !self.host_text.is_empty() {
            out.push_str(self.scheme.unwrap_or("http"));
            out.push_str("://");
            out.push_str(self.host_text);
        }
        out.push_str(self.target);
    }
}

/// Decides which flows the view shows (the TUI wraps the filter language in one).
pub trait Predicate: Send + Sync {
    /// True when the flow should be shown.
    fn keep(&self, ex: &Exchange, meta: &FlowMeta<'_>) -> bool;
    /// False when [`Predicate::keep`] reads only what a row holds (method, target, host,
    /// scheme, status, times, sizes, failure) plus the flow metadata, so it can be answered
    /// on a [`FlowStore::skeleton`]; true (the safe default) when it needs headers or bodies.
    fn needs_exchange(&self) -> bool {
        true
    }
    /// False when [`Predicate::keep`] never reads body bytes (a pass may then re-read the
    /// source without keeping bodies, which is much faster).
    fn needs_bodies(&self) -> bool {
        true
    }
    /// For a predicate that does not need the exchange: which text fields of the skeleton it
    /// reads (`SK_*` bits; numbers, status and times are always filled).
    fn skeleton_fields(&self) -> u8 {
        SK_METHOD | SK_TARGET | SK_HOST
    }
}

/// Skeleton field: the method.
pub const SK_METHOD: u8 = 1;
/// Skeleton field: the request target.
pub const SK_TARGET: u8 = 1 << 1;
/// Skeleton field: the host and scheme.
pub const SK_HOST: u8 = 1 << 2;

/// How a flow's full exchange is held.
#[derive(Debug, Clone)]
enum Held {
    /// In memory.
    Mem(Arc<Exchange>),
    /// In the source file of its segment, re-read on demand.
    At(Locator),
}

/// A run of flows read from one file, in the order its reader emitted them.
#[derive(Debug, Clone)]
struct Segment {
    /// Id of the first flow.
    first: FlowId,
    /// Flows in the run.
    count: u32,
    /// `seq` of the first flow (0 unless a file's reading was split).
    seq0: u64,
    /// The file name the exchanges carry.
    file: Arc<str>,
    /// The file opened for re-reading, when lazy holding is on and the file allows it.
    source: Option<Arc<Source>>,
}

/// The flow index.
#[derive(Default)]
pub struct FlowStore {
    rows: Vec<Row>,
    held: Vec<Held>,
    /// Scheme of each flow: an index into `schemes` (0 = none).
    scheme: Vec<u8>,
    schemes: Vec<Option<String>>,
    segments: Vec<Segment>,
    lazy: Option<ReadOptions>,
    cache: Mutex<VecDeque<(FlowId, Arc<Exchange>)>>,
    rereads: std::sync::atomic::AtomicU64,
    strings: Interner,
    comments: HashMap<FlowId, String>,
    source_comments: HashMap<FlowId, String>,
    /// Messages counted in the flows that carried a stream (WebSocket, SSE, NDJSON).
    stream_messages: HashMap<FlowId, u64>,
    view: Vec<FlowId>,
    /// Bumped whenever the view is rebuilt from scratch.
    generation: u64,
    undecided: bool,
    order: Option<Column>,
    reverse: bool,
    marked_only: bool,
    predicate: Option<Arc<dyn Predicate>>,
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

    /// Hold full exchanges of re-readable files in their source instead of in memory, reading
    /// them back with `opts` (the options of the load) when asked. Affects flows pushed later.
    pub fn set_lazy(&mut self, opts: ReadOptions) {
        self.lazy = Some(opts);
    }

    /// The segment a new exchange belongs to (a new one when the file changes or its `seq`
    /// does not continue the current run).
    fn segment_for(&mut self, ex: &Exchange, id: FlowId) -> usize {
        let cont = self
            .segments
            .last()
            .is_some_and(|s| Arc::ptr_eq(&s.file, &ex.provenance.file) || *s.file == *ex.provenance.file)
            && self.segments.last().is_some_and(|s| s.seq0 + u64::from(s.count) == ex.seq);
        if !cont {
            let source = match &self.lazy {
                Some(_) => {
                    // The same file again (read twice) shares its mapping.
                    let known = self
                        .segments
                        .iter()
                        .rev()
                        .find(|s| *s.file == *ex.provenance.file && s.source.is_some())
                        .and_then(|s| s.source.clone());
                    known.or_else(|| Source::open(std::path::Path::new(&*ex.provenance.file)).map(Arc::new))
                }
                None => None,
            };
            self.segments.push(Segment {
                first: id,
                count: 0,
                seq0: ex.seq,
                file: Arc::clone(&ex.provenance.file),
                source,
            });
        }
        self.segments.len() - 1
    }

    /// Add one exchange; returns its id. Call [`FlowStore::extend_view`] after a batch (or
    /// use [`FlowStore::push_batch`]).
    ///
    /// With lazy holding on and a re-readable source, only the row and a [`Locator`] are
    /// kept. Otherwise the exchange stays in memory, minus the response's still-encoded
    /// copy (`body.wire`, e.g. gzip bytes): the views show decoded content and export
    /// replays requests, whose wire bytes are kept.
    pub fn push(&mut self, mut ex: Exchange) -> FlowId {
        let id = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        let row = self.make_row(&ex);
        self.rows.push(row);
        let sch = ex.request.scheme.as_deref().filter(|s| *s != "http").map(str::to_string);
        let si = match self.schemes.iter().position(|s| *s == sch) {
            Some(i) => i,
            None if self.schemes.len() < 255 => {
                if self.schemes.is_empty() {
                    self.schemes.push(None);
                }
                self.schemes.iter().position(|s| *s == sch).unwrap_or_else(|| {
                    self.schemes.push(sch.clone());
                    self.schemes.len() - 1
                })
            }
            None => 0,
        };
        self.scheme.push(u8::try_from(si).unwrap_or(0));
        if let Some(c) = ex.comment.as_ref().filter(|c| !c.is_empty()) {
            self.source_comments.insert(id, c.clone());
        }
        if ex.stream.is_some() {
            self.stream_messages.insert(id, ex.message_count());
        }
        let seg = self.segment_for(&ex, id);
        let lazy = self.segments.get(seg).is_some_and(|s| s.source.is_some());
        if let Some(s) = self.segments.get_mut(seg) {
            s.count += 1;
        }
        let held = match Locator::of(&ex).filter(|_| lazy) {
            Some(loc) => Held::At(loc),
            None => {
                if let Some(r) = ex.response.as_mut() {
                    r.body.wire = None;
                    r.body.content.shrink_to_fit();
                }
                ex.request.body.content.shrink_to_fit();
                Held::Mem(Arc::new(ex))
            }
        };
        self.held.push(held);
        id
    }

    /// Add a batch of exchanges and merge the ones the filter keeps into the view. The
    /// filter sees the full exchanges here, before they are dropped from memory, so a header
    /// or body filter set while loading stays exact.
    pub fn push_batch(&mut self, batch: Vec<Exchange>) -> FlowId {
        let from = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        let mut keep = Vec::new();
        for ex in batch {
            let decide = self.predicate.as_ref().is_some_and(|p| p.needs_exchange());
            let verdict = decide.then(|| {
                let id = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
                // Rows of this flow do not exist yet: evaluate against what push will store.
                let client = identify(&ex, &self.client_key).map_or_else(|| "-".to_string(), |c| c.0);
                let comment = ex.comment.clone().filter(|c| !c.is_empty());
                let meta = FlowMeta { marked: false, comment: comment.as_deref(), client: &client, url: None };
                (id, self.predicate.as_ref().is_some_and(|p| p.keep(&ex, &meta)))
            });
            let id = self.push(ex);
            if let Some((_, true)) = verdict {
                keep.push(id);
            }
        }
        let decided = self.predicate.as_ref().is_some_and(|p| p.needs_exchange());
        self.extend_view_with(from, decided.then_some(keep));
        from
    }

    /// Build what re-reading needs (a capture's packet index) on a background thread now,
    /// so the first flow opened after loading does not wait for it.
    pub fn prepare_sources(&self) {
        let mut seen: Vec<&Arc<Source>> = Vec::new();
        for s in self.segments.iter().filter_map(|s| s.source.as_ref()) {
            if seen.iter().any(|x| Arc::ptr_eq(x, s)) {
                continue;
            }
            seen.push(s);
            let s = Arc::clone(s);
            let _ = std::thread::Builder::new().name("apiscope-index".into()).spawn(move || s.prepare());
        }
    }

    /// True when the flow's exchange is held in its source, not in memory.
    #[must_use]
    pub fn is_lazy(&self, id: FlowId) -> bool {
        matches!(self.held.get(id as usize), Some(Held::At(_)))
    }

    /// True when some flow is held in its source.
    #[must_use]
    pub fn has_lazy(&self) -> bool {
        self.segments.iter().any(|s| s.source.is_some())
    }

    /// How many exchanges were re-read from their source so far.
    #[must_use]
    pub fn rereads(&self) -> u64 {
        self.rereads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// True when the current filter needs full exchanges and some flows held in their
    /// source are not decided yet: a scan ([`FlowStore::scan_plan`]) must finish the view.
    #[must_use]
    pub fn undecided(&self) -> bool {
        self.undecided
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
        if matches!(ex.state, State::Failed(_) | State::Aborted(_)) {
            flags |= F_ERROR;
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

    /// The messages counted in flow `id`, when it carried a stream.
    #[must_use]
    pub fn message_count(&self, id: FlowId) -> Option<u64> {
        self.stream_messages.get(&id).copied()
    }

    /// The input file a flow was read from, as its exchanges name it.
    #[must_use]
    pub fn file_of(&self, id: FlowId) -> Option<&str> {
        self.segment_of(id).map(|s| &*s.file)
    }

    fn segment_of(&self, id: FlowId) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.first <= id).checked_sub(1)?;
        self.segments.get(i).filter(|s| id - s.first < s.count)
    }

    /// The full exchange of a flow: from memory, from the re-read cache, or re-read from its
    /// source now. A flow that can no longer be re-read (the file changed or went away)
    /// comes back as its [`FlowStore::skeleton`] with an error diagnostic saying why.
    #[must_use]
    pub fn exchange(&self, id: FlowId) -> Option<Arc<Exchange>> {
        let loc = match self.held.get(id as usize)? {
            Held::Mem(e) => return Some(Arc::clone(e)),
            Held::At(loc) => *loc,
        };
        if let Ok(mut c) = self.cache.lock()
            && let Some(i) = c.iter().position(|(k, _)| *k == id)
        {
            let hit = c.remove(i)?;
            let ex = Arc::clone(&hit.1);
            c.push_front(hit);
            return Some(ex);
        }
        let ex = Arc::new(self.reread(id, &loc));
        if let Ok(mut c) = self.cache.lock() {
            c.push_front((id, Arc::clone(&ex)));
            c.truncate(CACHE);
        }
        Some(ex)
    }

    fn reread(&self, id: FlowId, loc: &Locator) -> Exchange {
        self.rereads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seg = self.segment_of(id);
        let got = match (seg, &self.lazy) {
            (Some(s), Some(opts)) => match &s.source {
                Some(src) => src.reread(loc, s.seq0 + u64::from(id - s.first), opts).map_err(|e| e.to_string()),
                None => Err("the source file is not open".to_string()),
            },
            _ => Err("the flow has no source".to_string()),
        };
        match got {
            Ok(ex) => ex,
            Err(why) => {
                let mut ex = self.skeleton(id);
                ex.diagnostics.push(Diagnostic::new(
                    Severity::Error,
                    "store.reread_failed",
                    format!("headers and bodies could not be read again from the file: {why}"),
                ));
                ex
            }
        }
    }

    /// A shared handle on a flow's exchange (same as [`FlowStore::exchange`]).
    #[must_use]
    pub fn shared(&self, id: FlowId) -> Option<Arc<Exchange>> {
        self.exchange(id)
    }

    /// Run `f` on the [`FlowStore::skeleton`] of `id`, built in a per-thread scratch exchange
    /// whose strings are reused (no allocation per row once warm).
    /// Only the text fields in `fields` (`SK_*`) are filled; the others are left empty.
    pub fn with_skeleton<R>(&self, id: FlowId, fields: u8, f: impl FnOnce(&Exchange) -> R) -> R {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Exchange> = std::cell::RefCell::new(Exchange::default());
        }
        fn set(dst: &mut String, src: &str) {
            dst.clear();
            dst.push_str(src);
        }
        SCRATCH.with(|cell| {
            let Ok(mut ex) = cell.try_borrow_mut() else { return f(&self.skeleton(id)) };
            let Some(r) = self.rows.get(id as usize) else { return f(&Exchange::default()) };
            let pick = |bit: u8, sym: Sym| if fields & bit != 0 { self.str(sym) } else { "" };
            set(&mut ex.request.method, pick(SK_METHOD, r.method));
            set(&mut ex.request.target, pick(SK_TARGET, r.path));
            let host = ex.request.host.get_or_insert_with(String::new);
            set(host, pick(SK_HOST, r.host));
            let scheme = if fields & SK_HOST == 0 {
                None
            } else {
                self.scheme.get(id as usize).and_then(|i| self.schemes.get(usize::from(*i))).and_then(Option::as_deref)
            };
            match (scheme, ex.request.scheme.as_mut()) {
                (None, _) => ex.request.scheme = None,
                (Some(s), Some(d)) => set(d, s),
                (Some(s), None) => ex.request.scheme = Some(s.to_string()),
            }
            ex.request.body.size = r.req_size;
            if r.has(F_RESPONSE) {
                let resp = ex.response.get_or_insert_with(Response::default);
                resp.status = r.status;
                resp.body.size = r.resp_size;
            } else {
                ex.response = None;
            }
            let opt = Row::opt;
            ex.timing = Timing {
                request_start: opt(r.duration).map(|_| 0),
                request_end: opt(r.ttfb).map(|_| 0),
                response_start: opt(r.ttfb),
                response_end: opt(r.duration),
            };
            ex.state = if r.has(F_ERROR) {
                State::Failed(String::new())
            } else if r.has(F_FAILED) {
                State::NoResponse(String::new())
            } else {
                State::Complete
            };
            f(&ex)
        })
    }

    /// An exchange rebuilt from the row alone: method, scheme, host, target, status, times
    /// (relative: TTFB and duration as loaded), body sizes and failure; no headers, bodies,
    /// addresses or diagnostics. What row-only filters are evaluated on.
    #[must_use]
    pub fn skeleton(&self, id: FlowId) -> Exchange {
        let Some(r) = self.rows.get(id as usize) else { return Exchange::default() };
        let scheme = self.scheme.get(id as usize).and_then(|i| self.schemes.get(usize::from(*i))).cloned().flatten();
        let opt = Row::opt;
        let timing = Timing {
            request_start: opt(r.duration).map(|_| 0),
            request_end: opt(r.ttfb).map(|_| 0),
            response_start: opt(r.ttfb),
            response_end: opt(r.duration),
        };
        let state = if r.has(F_ERROR) {
            State::Failed(String::new())
        } else if r.has(F_FAILED) {
            State::NoResponse(String::new())
        } else {
            State::Complete
        };
        Exchange {
            request: Request {
                method: self.str(r.method).to_string(),
                scheme,
                host: Some(self.str(r.host).to_string()),
                target: self.str(r.path).to_string(),
                body: Body { size: r.req_size, ..Body::default() },
                ..Request::default()
            },
            response: r.has(F_RESPONSE).then(|| Response {
                status: r.status,
                body: Body { size: r.resp_size, ..Body::default() },
                ..Response::default()
            }),
            timing,
            state,
            ..Exchange::default()
        }
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
            url: row.map(|r| {
                let scheme_ix = self.scheme.get(id as usize).copied().unwrap_or(0);
                RowUrl {
                    scheme_ix,
                    scheme: self.schemes.get(usize::from(scheme_ix)).and_then(Option::as_deref),
                    host: r.host,
                    host_text: self.str(r.host),
                    path: r.path,
                    target: self.str(r.path),
                }
            }),
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

    /// The filter predicate, shared (for a scan worker).
    #[must_use]
    pub fn predicate(&self) -> Option<Arc<dyn Predicate>> {
        self.predicate.clone()
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
        self.predicate = p.map(Arc::from);
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
        if self.comments.is_empty() && self.source_comments.is_empty() {
            return None;
        }
        self.comments
            .get(&id)
            .map(String::as_str)
            .or_else(|| self.source_comments.get(&id).map(String::as_str))
            .filter(|c| !c.is_empty())
    }

    /// The comments the user wrote (not the ones the sources carried), by flow; an empty
    /// text is a removed comment.
    #[must_use]
    pub fn user_comments(&self) -> &HashMap<FlowId, String> {
        &self.comments
    }

    /// Set (or, with an empty text, clear) the user's comment on a flow.
    pub fn set_comment(&mut self, id: FlowId, text: &str) {
        let source = self.source_comments.get(&id).cloned();
        self.comments.insert(id, text.to_string());
        if let Some(r) = self.rows.get_mut(id as usize) {
            if text.is_empty() && source.is_none() {
                r.flags &= !F_COMMENT;
            } else {
                r.flags |= F_COMMENT;
            }
        }
    }

    /// Whether the view shows flow `id`: `None` when the filter needs the full exchange and
    /// it is held in its source (a scan decides).
    fn keep(&self, id: FlowId) -> Option<bool> {
        let Some(row) = self.rows.get(id as usize) else { return Some(false) };
        if self.marked_only && !row.has(F_MARKED) {
            return Some(false);
        }
        let Some(p) = &self.predicate else { return Some(true) };
        if !p.needs_exchange() {
            return Some(self.with_skeleton(id, p.skeleton_fields(), |ex| p.keep(ex, &self.meta(id))));
        }
        match self.held.get(id as usize) {
            Some(Held::Mem(ex)) => Some(p.keep(ex, &self.meta(id))),
            _ => None,
        }
    }

    /// Rebuild the view from all flows (after a filter, marks-only or order change). Flows
    /// the filter cannot decide from memory are left out and [`FlowStore::undecided`] is set.
    pub fn refresh_view(&mut self) {
        let n = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        self.undecided = false;
        self.generation += 1;
        self.view = if self.predicate.is_none() && !self.marked_only {
            (0..n).collect()
        } else {
            // Filters may read headers and bodies: spread them over the cores.
            use rayon::prelude::*;
            let verdicts: Vec<(FlowId, Option<bool>)> = (0..n).into_par_iter().map(|id| (id, self.keep(id))).collect();
            self.undecided = verdicts.iter().any(|(_, v)| v.is_none());
            verdicts.into_iter().filter_map(|(id, v)| (v == Some(true)).then_some(id)).collect()
        };
        self.sort_view();
    }

    /// Merge flows a scan found matching into the view (only flows held in their source,
    /// which the filter could not decide and so are not shown yet; those hidden by the
    /// marked-only switch are skipped).
    pub fn admit(&mut self, ids: &[FlowId]) {
        let mut new: Vec<FlowId> = ids
            .iter()
            .copied()
            .filter(|id| self.rows.get(*id as usize).is_some_and(|r| !self.marked_only || r.has(F_MARKED)))
            .collect();
        new.sort_unstable();
        new.dedup();
        // Lazily held flows undecided by the filter are never in the view already.
        new.retain(|id| self.is_lazy(*id));
        self.merge(new);
    }

    /// A number that changes whenever the view is rebuilt from scratch (a scan started for an
    /// older one is stale).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The scan is over: every flow is decided.
    pub fn settle(&mut self) {
        self.undecided = false;
    }

    /// Add the flows with ids `from..` (just pushed) to the view, keeping it ordered:
    /// the new ones are filtered, sorted and merged in.
    pub fn extend_view(&mut self, from: FlowId) {
        self.extend_view_with(from, None);
    }

    /// Like [`FlowStore::extend_view`]; `decided`, when given, are the new flows a filter
    /// that needs full exchanges kept (decided while they were in memory).
    fn extend_view_with(&mut self, from: FlowId, decided: Option<Vec<FlowId>>) {
        let n = FlowId::try_from(self.rows.len()).unwrap_or(FlowId::MAX);
        let new: Vec<FlowId> = match decided {
            Some(d) => d
                .into_iter()
                .filter(|id| !self.marked_only || self.rows.get(*id as usize).is_some_and(|r| r.has(F_MARKED)))
                .collect(),
            None => (from..n)
                .filter(|id| match self.keep(*id) {
                    Some(k) => k,
                    None => {
                        self.undecided = true;
                        false
                    }
                })
                .collect(),
        };
        self.merge(new);
    }

    fn merge(&mut self, mut new: Vec<FlowId>) {
        self.prepare_ranks();
        new.sort_unstable_by(|a, b| self.cmp(*a, *b));
        // Rows before the first new one keep their places; after it, each new row finds its
        // place by binary search and the old rows between two new ones move as one block. A
        // batch costs about its size × log(view) comparisons, however far back its first row
        // lands (a long stream finishing late has an early start).
        let Some(&first) = new.first() else { return };
        let mut view = std::mem::take(&mut self.view);
        let keep = view.partition_point(|a| self.cmp(*a, first) == Ordering::Less);
        let old = view.split_off(keep);
        view.reserve(old.len() + new.len());
        let mut rest: &[FlowId] = &old;
        for b in new {
            let p = rest.partition_point(|a| self.cmp(*a, b) == Ordering::Less);
            let (before, after) = rest.split_at(p);
            view.extend_from_slice(before);
            view.push(b);
            rest = after;
        }
        view.extend_from_slice(rest);
        self.view = view;
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

    /// Heap bytes held by the index for every flow: rows, how each exchange is held (a
    /// locator or a pointer), scheme indexes, interned strings, view, comments and file runs;
    /// excluding exchanges held in memory ([`FlowStore::exchange_bytes`]).
    #[must_use]
    pub fn index_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.held.capacity() * std::mem::size_of::<Held>()
            + self.scheme.capacity()
            + self.view.capacity() * std::mem::size_of::<FlowId>()
            + self.strings.heap_bytes()
            + self.segments.capacity() * std::mem::size_of::<Segment>()
            + (self.comments.capacity() + self.source_comments.capacity() + self.stream_messages.capacity())
                * (std::mem::size_of::<(FlowId, String)>() + 8)
            + self.comments.values().chain(self.source_comments.values()).map(String::capacity).sum::<usize>()
    }

    /// Approximate heap bytes of the full exchanges held in memory (inputs that cannot be
    /// re-read, or lazy holding off) and in the re-read cache: headers, bodies, strings.
    #[must_use]
    pub fn exchange_bytes(&self) -> usize {
        let mem: usize = self
            .held
            .iter()
            .filter_map(|h| match h {
                Held::Mem(e) => Some(exchange_heap(e)),
                Held::At(_) => None,
            })
            .sum();
        let cached: usize = self.cache.lock().map_or(0, |c| c.iter().map(|(_, e)| exchange_heap(e)).sum());
        mem + cached
    }
}

/// Approximate heap bytes of one exchange.
fn exchange_heap(e: &Exchange) -> usize {
    fn headers(h: &crate::model::Headers) -> usize {
        h.0.capacity() * std::mem::size_of::<crate::model::Header>()
            + h.0.iter().map(|x| x.name.capacity() + x.value.capacity()).sum::<usize>()
    }
    fn body(b: &crate::model::Body) -> usize {
        b.content.capacity() + b.wire.as_ref().map_or(0, Vec::capacity)
    }
    std::mem::size_of::<Exchange>()
        + e.request.method.capacity()
        + e.request.target.capacity()
        + e.request.host.as_ref().map_or(0, String::capacity)
        + headers(&e.request.headers)
        + body(&e.request.body)
        + e.response.as_ref().map_or(0, |r| headers(&r.headers) + body(&r.body) + r.reason.capacity())
        + e.provenance.packets.capacity() * 8
        + e.diagnostics.capacity() * std::mem::size_of::<Diagnostic>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{State, Timing};

    fn ex(method: &str, target: &str, status: Option<u16>, start: i64, dur: i64) -> Exchange {
        let b = Exchange::builder(method, target).header("Host", "api.example").timing(Timing {
            request_start: Some(start),
            request_end: Some(start + 1),
            response_start: Some(start + dur / 2),
            response_end: Some(start + dur),
        });
        match status {
            Some(s) => b.status(s).response_body(vec![b'x'; s as usize]),
            None => b.state(State::NoResponse("capture ended".into())),
        }
        .build()
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

    #[test]
    fn batches_merged_into_the_view_equal_a_full_sort_wherever_they_land() {
        // Batches land at the end, the start and the middle of the view; the merge that keeps
        // the rows before the first new one in place must give what sorting everything gives.
        for col in Column::ALL {
            for reverse in [false, true] {
                let mut s = FlowStore::new();
                s.set_order(Some(col));
                s.set_reverse(reverse);
                let mut x = 7_u64;
                for batch in 0..6_i64 {
                    let mut from = None;
                    for k in 0..9_i64 {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        let r = i64::try_from(x >> 40).unwrap_or(0);
                        let start = match batch % 3 {
                            0 => 1_000 * batch + k,
                            1 => -1_000 * batch - k,
                            _ => r % 5_000,
                        };
                        let status = [Some(200), Some(404), None, Some(500)][usize::try_from(r % 4).unwrap_or(0)];
                        let id = s.push(ex(
                            ["GET", "POST", "DELETE"][usize::try_from(r % 3).unwrap_or(0)],
                            &format!("/p{}", r % 11),
                            status,
                            start,
                            r % 97,
                        ));
                        from.get_or_insert(id);
                    }
                    s.extend_view(from.unwrap());
                }
                let got = s.view().to_vec();
                let mut want = got.clone();
                want.sort_unstable_by(|a, b| s.cmp(*a, *b));
                assert_eq!(got, want, "{col:?} reverse={reverse}");
                assert_eq!(got.len(), 54);
            }
        }
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
