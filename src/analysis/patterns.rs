//! Abusive-pattern detectors: polling, retry storms, N+1 fan-out, bulk paging, expensive
//! requests, scanners, authentication-failure bursts and calls without credentials (heavy
//! hitters and poor experience are decided at the end from the KPI totals). Every detector
//! keeps a small bounded state per client (a handful of slots, evicting the least useful),
//! so memory grows with the number of clients, never with the number of exchanges.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;

use serde::Serialize;

use crate::model::client::{API_KEY_HEADERS, SESSION_COOKIES, cookie, query_param};
use crate::model::{Exchange, Nanos};

/// The kinds of findings.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// A client with an outsized share of requests or server time.
    HeavyHitter,
    /// The same request at short intervals with unchanged answers.
    Polling,
    /// Repeats after 429/5xx within seconds, Retry-After ignored.
    RetryStorm,
    /// A list call followed by many item calls.
    FanOut,
    /// Walking through many pages of a collection (bulk export through the API).
    Pager,
    /// Big page sizes, huge payloads.
    Expensive,
    /// The slowest exchanges by server time.
    Slowest,
    /// Bursts of 404/405 on unknown or undocumented paths.
    Scanner,
    /// Bursts of 401/403.
    AuthFailures,
    /// Requests with no credential at all.
    NoCredentials,
}

impl PatternKind {
    /// Short label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::HeavyHitter => "heavy hitter",
            Self::Polling => "polling",
            Self::RetryStorm => "retry storm",
            Self::FanOut => "N+1 fan-out",
            Self::Pager => "bulk paging",
            Self::Expensive => "expensive requests",
            Self::Slowest => "slowest",
            Self::Scanner => "scanner",
            Self::AuthFailures => "auth failures",
            Self::NoCredentials => "no credentials",
        }
    }

    /// Every kind, in report order.
    pub const ALL: [Self; 10] = [
        Self::HeavyHitter,
        Self::Polling,
        Self::RetryStorm,
        Self::FanOut,
        Self::Pager,
        Self::Expensive,
        Self::Slowest,
        Self::Scanner,
        Self::AuthFailures,
        Self::NoCredentials,
    ];

    /// The name in JSON output and in the filter term `~flag` (`retry_storm`).
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Self::HeavyHitter => "heavy_hitter",
            Self::Polling => "polling",
            Self::RetryStorm => "retry_storm",
            Self::FanOut => "fan_out",
            Self::Pager => "pager",
            Self::Expensive => "expensive",
            Self::Slowest => "slowest",
            Self::Scanner => "scanner",
            Self::AuthFailures => "auth_failures",
            Self::NoCredentials => "no_credentials",
        }
    }

    /// True for findings about a client's behaviour (as opposed to one slow exchange).
    #[must_use]
    pub fn is_client_behaviour(self) -> bool {
        !matches!(self, Self::Slowest)
    }
}

/// Where an example exchange came from (enough to find it again in the input).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExampleRef {
    /// Exchange sequence number in its file.
    pub seq: u64,
    /// Input file.
    pub file: Arc<str>,
    /// Entry index (HAR, Charles, mitmproxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// First packet number (captures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<u64>,
    /// Start time (capture clock, ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Nanos>,
}

impl ExampleRef {
    /// Reference to `ex`.
    #[must_use]
    pub fn of(ex: &Exchange) -> Self {
        Self {
            seq: ex.seq,
            file: Arc::clone(&ex.provenance.file),
            entry: ex.provenance.entry,
            packet: ex.provenance.packets.first().copied(),
            time: ex.timing.start(),
        }
    }

    /// `file#entry 12` / `file#packet 88` / `file#seq 3`.
    #[must_use]
    pub fn label(&self) -> String {
        match (self.entry, self.packet) {
            (Some(e), _) => format!("{} entry {e}", self.file),
            (None, Some(p)) => format!("{} packet {p}", self.file),
            (None, None) => format!("{} exchange {}", self.file, self.seq),
        }
    }
}

/// An [`ExampleRef`] as the detectors keep it while streaming: 32 bytes and no allocation
/// of its own (the input file is an index into the analyzer's [`Files`] table). Entry and
/// packet numbers share one field: readers give one or the other (a document's entry, a
/// capture's first packet); were both given, the entry is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ex {
    seq: u64,
    /// The entry number (bit 0 of `has`) or else the first packet number (bit 1).
    loc: u64,
    time: Nanos,
    file: u32,
    /// Bit 0: `loc` is an entry; bit 1: `loc` is a packet; bit 2: time present.
    has: u8,
}

impl Ex {
    /// Compact reference to `ex`, whose provenance file is `file` in the analyzer's table.
    #[must_use]
    pub fn of(ex: &Exchange, file: u32) -> Self {
        let entry = ex.provenance.entry;
        let packet = if entry.is_some() { None } else { ex.provenance.packets.first().copied() };
        let time = ex.timing.start();
        Self {
            seq: ex.seq,
            loc: entry.or(packet).unwrap_or(0),
            time: time.unwrap_or(0),
            file,
            has: u8::from(entry.is_some()) | (u8::from(packet.is_some()) << 1) | (u8::from(time.is_some()) << 2),
        }
    }

    /// Start time (capture clock, ns), if known.
    #[must_use]
    pub fn time(&self) -> Option<Nanos> {
        (self.has & 4 != 0).then_some(self.time)
    }
}

/// The provenance files of the exchanges seen, interned (examples refer to them by index).
#[derive(Debug, Default)]
pub struct Files(Vec<Arc<str>>);

impl Files {
    /// Index of `file`, added when new (the last files are checked first: inputs come one
    /// after another).
    pub fn index(&mut self, file: &Arc<str>) -> u32 {
        if let Some(i) = self.0.iter().rposition(|f| Arc::ptr_eq(f, file) || **f == **file) {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        self.0.push(Arc::clone(file));
        u32::try_from(self.0.len() - 1).unwrap_or(u32::MAX)
    }

    /// The full reference of a compact one.
    #[must_use]
    pub fn example(&self, e: &Ex) -> ExampleRef {
        ExampleRef {
            seq: e.seq,
            file: self.0.get(e.file as usize).map_or_else(|| Arc::from(""), Arc::clone),
            entry: (e.has & 1 != 0).then_some(e.loc),
            packet: (e.has & 2 != 0).then_some(e.loc),
            time: e.time(),
        }
    }

    /// Full references of compact ones.
    #[must_use]
    pub fn examples(&self, v: &[Ex]) -> Vec<ExampleRef> {
        v.iter().map(|e| self.example(e)).collect()
    }
}

/// At most this many examples per finding.
pub const MAX_EXAMPLES: usize = 3;

/// Keep `at` among the first [`MAX_EXAMPLES`] examples (the vector gets exactly that
/// capacity, never more).
pub fn push_example(v: &mut Vec<Ex>, at: Ex) {
    if v.len() < MAX_EXAMPLES {
        if v.capacity() == 0 {
            v.reserve_exact(MAX_EXAMPLES);
        }
        v.push(at);
    }
}

/// A new example list holding `at`.
#[must_use]
pub fn first_example(at: Ex) -> Vec<Ex> {
    let mut v = Vec::with_capacity(MAX_EXAMPLES);
    v.push(at);
    v
}

/// One finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatternFinding {
    /// What was found.
    pub kind: PatternKind,
    /// The client (or client IP for credential stuffing).
    pub client: String,
    /// The endpoint, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Window start (capture clock, ns).
    pub window_start: Option<Nanos>,
    /// Window end (capture clock, ns).
    pub window_end: Option<Nanos>,
    /// How many exchanges make up the finding.
    pub count: u64,
    /// The main figure the threshold was applied to (share, seconds, pages, …).
    pub metric: f64,
    /// Example exchanges.
    pub examples: Vec<ExampleRef>,
    /// Plain-language explanation.
    pub explanation: String,
}

/// Detector thresholds. Every field has a documented default and a `stats` flag.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Stalled feed: a gap between a stream's messages longer than this many times the
    /// endpoint's (or client's) median gap (default 5).
    pub stall_factor: f64,
    /// Heavy hitter: share of all requests or of all server time (default 0.10).
    pub heavy_share: f64,
    /// Heavy hitter: at least this many requests (default 50) and 3 clients in the input.
    pub heavy_min_requests: u64,
    /// Polling: at least this many identical requests (default 10).
    pub poll_min: u32,
    /// Polling: mean interval at most this long (default 10 min).
    pub poll_max_interval: Nanos,
    /// Polling: intervals count as regular when their coefficient of variation is at most this (default 0.3).
    pub poll_max_cv: f64,
    /// Polling: or when at least this share of answers were unchanged or 304 (default 0.8).
    pub poll_unchanged: f64,
    /// Retry storm: a repeat counts as a retry within this time after an error (default 10 s).
    pub retry_window: Nanos,
    /// Retry storm: at least this many retries in a chain (default 3).
    pub retry_min: u32,
    /// N+1: item calls within this time after a list call (default 5 s).
    pub fanout_window: Nanos,
    /// N+1: at least this many item calls (default 10).
    pub fanout_min: u32,
    /// Bulk paging: at least this many consecutive pages (default 20).
    pub pager_min_pages: u32,
    /// Expensive: a page size (`limit`, `per_page`, …) at least this big (default 500).
    pub big_page: u64,
    /// Expensive: a request body at least this big (default 1 MiB).
    pub huge_request: u64,
    /// Expensive: a response body at least this big (default 10 MiB).
    pub huge_response: u64,
    /// Slowest: how many of the slowest exchanges to list (default 10).
    pub slowest: usize,
    /// Scanner / auth bursts: the window length (default 60 s).
    pub burst_window: Nanos,
    /// Scanner: at least this many 404/405 on unknown paths (default 10).
    pub scan_min: u64,
    /// Scanner: on at least this many distinct paths (default 5).
    pub scan_min_paths: usize,
    /// Scanner: 404/405 make at least this share of the client's requests (default 0.5).
    pub scan_share: f64,
    /// Distributed scanners: an endpoint is junk when at least this share of all its calls
    /// got 404/405 (default 0.9).
    pub scan_junk_share: f64,
    /// Distributed scanners: a junk endpoint is a shared target when at least this many
    /// mostly-missing clients called it (default 3).
    pub scan_group_shared: usize,
    /// Distributed scanners: the group needs at least this many clients (default 5) …
    pub scan_group_min: usize,
    /// … that together hit at least this many distinct junk endpoints (default 5).
    pub scan_group_paths: usize,
    /// Auth failures: at least this many 401/403 in one window (default 10).
    pub auth_min: u32,
    /// Auth failures: making at least this share of the window's requests (default 0.5).
    pub auth_share: f64,
    /// Poor experience: at least this many requests on the endpoint (default 5).
    pub poor_min_requests: u64,
    /// Poor experience: client's median TTFB at least this many times the endpoint's (default 3).
    pub poor_latency_factor: f64,
    /// Poor experience: client's error rate above the endpoint's by at least this (default 0.25).
    pub poor_error_gap: f64,
    /// Downtime: at least this many 5xx/failed in a row (default 3).
    pub downtime_min: u32,
    /// Downtime: silences at least this long count when the endpoint's own rate predicts
    /// at least 10 calls in them (default 5 min).
    pub silence: Nanos,
}

const SEC: Nanos = 1_000_000_000;

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            stall_factor: 5.0,
            heavy_share: 0.10,
            heavy_min_requests: 50,
            poll_min: 10,
            poll_max_interval: 600 * SEC,
            poll_max_cv: 0.3,
            poll_unchanged: 0.8,
            retry_window: 10 * SEC,
            retry_min: 3,
            fanout_window: 5 * SEC,
            fanout_min: 10,
            pager_min_pages: 20,
            big_page: 500,
            huge_request: 1 << 20,
            huge_response: 10 << 20,
            slowest: 10,
            burst_window: 60 * SEC,
            scan_min: 10,
            scan_min_paths: 5,
            scan_share: 0.5,
            scan_junk_share: 0.9,
            scan_group_shared: 3,
            scan_group_min: 5,
            scan_group_paths: 5,
            auth_min: 10,
            auth_share: 0.5,
            poor_min_requests: 5,
            poor_latency_factor: 3.0,
            poor_error_gap: 0.25,
            downtime_min: 3,
            silence: 300 * SEC,
        }
    }
}

/// The hasher of [`hash_str`] and [`response_hash`]: foldhash with a fixed seed (the same on
/// every run; several times faster than SipHash on the 16 KiB body prefixes).
fn stable_hasher() -> impl std::hash::Hasher {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6170_6973_636f_7065).build_hasher()
}

/// Stable 64-bit hash of a string.
#[must_use]
pub fn hash_str(parts: &[&str]) -> u64 {
    let mut h = stable_hasher();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Hash of the answer (status, size, the whole body and the `ETag`) used to tell unchanged
/// responses. The body counts by its digest ([`crate::model::Body::digest`]) when the reader
/// gave one (the analyzer's readers keep no body bytes), else by the bytes kept.
#[must_use]
pub fn response_hash(ex: &Exchange) -> u64 {
    let mut h = stable_hasher();
    match &ex.response {
        Some(r) => {
            r.status.hash(&mut h);
            r.body.size.hash(&mut h);
            r.body.digest.unwrap_or_else(|| crate::model::body_digest(&r.body.content)).hash(&mut h);
            if let Some(etag) = r.headers.get("etag") {
                etag.hash(&mut h);
            }
        }
        None => 0u8.hash(&mut h),
    }
    h.finish()
}

/// True when the request carries any credential (Authorization, an API-key header, a
/// session cookie, or an API-key query parameter).
#[must_use]
pub fn has_credentials(ex: &Exchange) -> bool {
    let h = &ex.request.headers;
    h.get("authorization").is_some_and(|v| !v.trim().is_empty())
        || h.get("proxy-authorization").is_some()
        || API_KEY_HEADERS.iter().any(|n| h.get(n).is_some())
        || SESSION_COOKIES.iter().any(|n| cookie(ex, n).is_some())
        || ["api_key", "apikey", "access_token", "token", "key", "apiKey"].iter().any(|n| query_param(ex, n).is_some())
}

/// The numeric page-position parameter of a request and whether it counts items (an
/// offset: `offset`, `start`, `skip`, `from`) rather than pages (`page`, `page_number`).
#[must_use]
pub fn page_position(ex: &Exchange) -> Option<(i64, bool)> {
    [
        ("page", false),
        ("page_number", false),
        ("pageNumber", false),
        ("offset", true),
        ("start", true),
        ("skip", true),
        ("from", true),
    ]
    .iter()
    .find_map(|(n, off)| query_param(ex, n).map(|v| (v, *off)))
    .and_then(|(v, off)| v.parse::<i64>().ok().map(|p| (p, off)))
}

/// The page-size parameter (`limit`, `per_page`, …), if any.
#[must_use]
pub fn page_size(ex: &Exchange) -> Option<u64> {
    ["limit", "per_page", "page_size", "pageSize", "perPage", "size", "count", "max_results", "top", "$top"]
        .iter()
        .find_map(|n| query_param(ex, n))
        .and_then(|v| v.parse::<u64>().ok())
}

/// Seconds between two capture times.
#[must_use]
pub fn secs(a: Nanos, b: Nanos) -> f64 {
    (b - a) as f64 / 1e9
}

// ------------------------------------------------------------------------------------
// Polling
// ------------------------------------------------------------------------------------

/// Slots kept per client for repeated requests.
pub const POLL_SLOTS: usize = 8;

/// One repeated request of one client.
#[derive(Debug, Clone)]
pub struct PollSlot {
    /// Hash of method + host + target.
    pub key: u64,
    /// Endpoint id.
    pub endpoint: u32,
    /// Times seen.
    pub count: u32,
    /// First and last time.
    pub first: Nanos,
    /// Last time.
    pub last: Nanos,
    gap_sum: f64,
    gap_sumsq: f64,
    last_resp: u64,
    /// Answers equal to the previous one.
    pub unchanged: u32,
    /// 304 answers.
    pub not_modified: u32,
    /// The first example, inline: most slots are single shots that get evicted, and they
    /// then cost no allocation.
    first_example: Ex,
    /// The next examples, filled as the request repeats (the slot's count says how many).
    more_examples: Option<Box<[Ex; MAX_EXAMPLES - 1]>>,
}

impl PollSlot {
    /// The examples, first one first.
    #[must_use]
    pub fn examples(&self) -> Vec<Ex> {
        let more = (self.count.saturating_sub(1) as usize).min(MAX_EXAMPLES - 1);
        let rest = self.more_examples.as_deref().map_or(&[][..], |m| m.get(..more).unwrap_or(&[]));
        std::iter::once(self.first_example).chain(rest.iter().copied()).collect()
    }

    /// Mean interval (s) and its coefficient of variation.
    #[must_use]
    pub fn interval(&self) -> Option<(f64, f64)> {
        // one gap between each repeat and the one before
        let gaps = self.count.saturating_sub(1);
        if gaps == 0 {
            return None;
        }
        let n = f64::from(gaps);
        let mean = self.gap_sum / n;
        let var = (self.gap_sumsq / n - mean * mean).max(0.0);
        let cv = if mean > 0.0 { var.sqrt() / mean } else { 0.0 };
        Some((mean, cv))
    }

    /// Share of repeats (after the first) that came back unchanged or 304.
    #[must_use]
    pub fn unchanged_share(&self) -> f64 {
        if self.count <= 1 {
            return 0.0;
        }
        f64::from(self.unchanged.max(self.not_modified)).min(f64::from(self.count - 1)) / f64::from(self.count - 1)
    }
}

/// Record a request in the client's polling slots; `resp` is the exchange's
/// [`response_hash`].
pub fn poll_update(slots: &mut Vec<PollSlot>, key: u64, endpoint: u32, t: Nanos, ex: &Exchange, resp: u64, at: Ex) {
    let not_mod = ex.status() == Some(304);
    if let Some(s) = slots.iter_mut().find(|s| s.key == key) {
        let gap = secs(s.last, t).abs();
        s.gap_sum += gap;
        s.gap_sumsq += gap * gap;
        s.count = s.count.saturating_add(1);
        s.first = s.first.min(t);
        s.last = s.last.max(t);
        if resp == s.last_resp {
            s.unchanged += 1;
        }
        if not_mod {
            s.not_modified += 1;
        }
        s.last_resp = resp;
        // the count now includes this repeat: repeats 2 and 3 are examples 2 and 3
        if let Some(slot) = (s.count as usize).checked_sub(2).filter(|i| *i < MAX_EXAMPLES - 1) {
            let more = s.more_examples.get_or_insert_with(|| Box::new([Ex::default(); MAX_EXAMPLES - 1]));
            if let Some(x) = more.get_mut(slot) {
                *x = at;
            }
        }
        return;
    }
    let slot = PollSlot {
        key,
        endpoint,
        count: 1,
        first: t,
        last: t,
        gap_sum: 0.0,
        gap_sumsq: 0.0,
        last_resp: resp,
        unchanged: 0,
        not_modified: u32::from(not_mod),
        first_example: at,
        more_examples: None,
    };
    if slots.len() < POLL_SLOTS {
        slots.push(slot);
        return;
    }
    // Evict the least repeated slot (oldest on ties), but never one that repeats more
    // than once while a single-shot slot exists.
    if let Some((i, _)) = slots.iter().enumerate().min_by_key(|(_, s)| (s.count, s.last)) {
        if let Some(v) = slots.get_mut(i) {
            *v = slot;
        }
    }
}

/// True when a slot is polling under `th`.
#[must_use]
pub fn is_polling(s: &PollSlot, th: &Thresholds) -> bool {
    if s.count < th.poll_min {
        return false;
    }
    let Some((mean, cv)) = s.interval() else { return false };
    mean <= th.poll_max_interval as f64 / 1e9 && (cv <= th.poll_max_cv || s.unchanged_share() >= th.poll_unchanged)
}

// ------------------------------------------------------------------------------------
// Retry storms
// ------------------------------------------------------------------------------------

/// Slots per client for requests that just failed.
pub const RETRY_SLOTS: usize = 8;

/// A request that failed and may be retried.
#[derive(Debug, Clone)]
pub struct RetrySlot {
    key: u64,
    endpoint: u32,
    last_error: Nanos,
    retry_after_until: Option<Nanos>,
    chain_start: Nanos,
    chain: u32,
    ignored: u32,
    examples: Vec<Ex>,
}

/// A retry chain long enough to report.
#[derive(Debug, Clone)]
pub struct Storm {
    /// Endpoint id.
    pub endpoint: u32,
    /// First failure.
    pub start: Nanos,
    /// Last retry.
    pub end: Nanos,
    /// Retries in the chain.
    pub retries: u32,
    /// Retries sent before the server's Retry-After had passed.
    pub ignored_retry_after: u32,
    /// Examples.
    pub examples: Vec<Ex>,
}

/// Storms kept per client (the longest).
pub const MAX_STORMS: usize = 8;

fn is_retryable_error(ex: &Exchange) -> bool {
    match ex.status() {
        Some(s) => s == 429 || (500..=599).contains(&s) || s == 0 || ex.is_failed(),
        None => true,
    }
}

/// The response's `Retry-After` in seconds (the HTTP-date form is rare in APIs; ignored).
#[must_use]
pub fn retry_after_secs(ex: &Exchange) -> Option<i64> {
    ex.response.as_ref()?.headers.get("retry-after")?.trim().parse().ok()
}

fn retry_after(secs: Option<i64>, t: Nanos) -> Option<Nanos> {
    secs.map(|s| t.saturating_add(s.saturating_mul(SEC)))
}

fn close_chain(slot: &RetrySlot, t_end: Nanos, storms: &mut Vec<Storm>, th: &Thresholds) {
    if slot.chain < th.retry_min {
        return;
    }
    let s = Storm {
        endpoint: slot.endpoint,
        start: slot.chain_start,
        end: t_end,
        retries: slot.chain,
        ignored_retry_after: slot.ignored,
        examples: slot.examples.clone(),
    };
    if storms.len() < MAX_STORMS {
        storms.push(s);
    } else if let Some(min) = storms.iter_mut().min_by_key(|x| x.retries) {
        if min.retries < s.retries {
            *min = s;
        }
    }
}

/// Record a request in the client's retry slots; long chains land in `storms`. `ra` is the
/// exchange's [`retry_after_secs`].
pub fn retry_update(
    (slots, storms): (&mut Vec<RetrySlot>, &mut Vec<Storm>),
    key: u64,
    endpoint: u32,
    t: Nanos,
    (ex, ra): (&Exchange, Option<i64>),
    at: Ex,
    th: &Thresholds,
) {
    let err = is_retryable_error(ex);
    if let Some(i) = slots.iter().position(|s| s.key == key) {
        let within = slots.get(i).is_some_and(|s| t >= s.last_error && t - s.last_error <= th.retry_window);
        if within {
            let Some(s) = slots.get_mut(i) else { return };
            s.chain += 1;
            if s.retry_after_until.is_some_and(|u| t < u) {
                s.ignored += 1;
            }
            push_example(&mut s.examples, at);
            if err {
                s.last_error = t;
                s.retry_after_until = retry_after(ra, t);
                return;
            }
        }
        let s = slots.swap_remove(i);
        close_chain(&s, if within { t } else { s.last_error }, storms, th);
        if within || !err {
            return;
        }
    }
    if !err {
        return;
    }
    let slot = RetrySlot {
        key,
        endpoint,
        last_error: t,
        retry_after_until: retry_after(ra, t),
        chain_start: t,
        chain: 0,
        ignored: 0,
        examples: first_example(at),
    };
    if slots.len() >= RETRY_SLOTS {
        if let Some((i, _)) = slots.iter().enumerate().min_by_key(|(_, s)| s.last_error) {
            let old = slots.swap_remove(i);
            close_chain(&old, old.last_error, storms, th);
        }
    }
    slots.push(slot);
}

/// Close every open chain (end of input).
pub fn retry_finish(slots: &mut Vec<RetrySlot>, storms: &mut Vec<Storm>, th: &Thresholds) {
    for s in slots.drain(..) {
        close_chain(&s, s.last_error, storms, th);
    }
}

// ------------------------------------------------------------------------------------
// N+1 fan-out
// ------------------------------------------------------------------------------------

/// A list call and the item calls that followed it.
#[derive(Debug, Clone)]
pub struct FanState {
    /// List endpoint id.
    pub list: u32,
    /// Item endpoint id (the first one seen).
    pub item: Option<u32>,
    /// List call time.
    pub start: Nanos,
    /// Last item call.
    pub end: Nanos,
    /// Item calls.
    pub items: u32,
    /// Examples (the list call first).
    pub examples: Vec<Ex>,
}

/// Fan-outs kept per client (the largest).
pub const MAX_FANOUTS: usize = 4;

/// Record a fan-out when it is big enough.
pub fn fan_close(f: FanState, out: &mut Vec<FanState>, th: &Thresholds) {
    if f.items < th.fanout_min {
        return;
    }
    if out.len() < MAX_FANOUTS {
        out.push(f);
    } else if let Some(min) = out.iter_mut().min_by_key(|x| x.items) {
        if min.items < f.items {
            *min = f;
        }
    }
}

// ------------------------------------------------------------------------------------
// Bulk paging
// ------------------------------------------------------------------------------------

/// Page runs tracked per client.
pub const PAGER_SLOTS: usize = 4;

/// An ascending walk through pages of one endpoint.
#[derive(Debug, Clone)]
pub struct PageRun {
    /// Endpoint id.
    pub endpoint: u32,
    /// Last page position.
    pub last_pos: i64,
    /// Pages walked.
    pub pages: u32,
    /// First call.
    pub start: Nanos,
    /// Last call.
    pub end: Nanos,
    /// Examples.
    pub examples: Vec<Ex>,
}

/// Record a paged call: extend the run whose last position is just below `pos` (one
/// page, or one page size for offsets, may be skipped), else start a new run. Finished
/// runs long enough land in `best` (the longest per endpoint).
pub fn pager_update(
    (runs, best): (&mut Vec<PageRun>, &mut Vec<PageRun>),
    endpoint: u32,
    pos: i64,
    step_hint: Option<u64>,
    t: Nanos,
    at: Ex,
    th: &Thresholds,
) {
    let step = i64::try_from(step_hint.unwrap_or(1).max(1)).unwrap_or(1);
    let max_jump = if step > 1 { 2 * step } else { 2 };
    let cand = runs
        .iter_mut()
        .filter(|r| r.endpoint == endpoint && pos > r.last_pos && pos - r.last_pos <= max_jump)
        .min_by_key(|r| pos - r.last_pos);
    if let Some(r) = cand {
        r.last_pos = pos;
        r.pages += 1;
        r.end = t;
        push_example(&mut r.examples, at);
        return;
    }
    if runs.iter().any(|r| r.endpoint == endpoint && r.last_pos == pos) {
        return; // the same page again: neither a step nor a restart
    }
    let run = PageRun { endpoint, last_pos: pos, pages: 1, start: t, end: t, examples: first_example(at) };
    if runs.len() >= PAGER_SLOTS {
        if let Some((i, _)) = runs.iter().enumerate().min_by_key(|(_, r)| r.end) {
            let old = runs.swap_remove(i);
            pager_keep(old, best, th);
        }
    }
    runs.push(run);
}

/// Keep `run` in `best` when it is long enough (the longest per endpoint).
pub fn pager_keep(run: PageRun, best: &mut Vec<PageRun>, th: &Thresholds) {
    if run.pages < th.pager_min_pages {
        return;
    }
    match best.iter_mut().find(|b| b.endpoint == run.endpoint) {
        Some(b) if b.pages < run.pages => *b = run,
        Some(_) => {}
        None => best.push(run),
    }
}

// ------------------------------------------------------------------------------------
// Tumbling-window burst counters (scanners, auth failures)
// ------------------------------------------------------------------------------------

/// Counts hits and totals in consecutive windows and keeps the window with most hits.
/// 40 bytes until the first hit: what only windows with hits need is allocated then (most
/// clients never scan nor fail to authenticate).
#[derive(Debug, Clone, Default)]
pub struct Burst {
    start: Nanos,
    end: Nanos,
    total: u32,
    hits: u32,
    /// Hits over the whole input.
    pub all_hits: u64,
    hit: Option<Box<BurstHits>>,
}

/// The part of a [`Burst`] that only hits need.
#[derive(Debug, Clone, Default)]
struct BurstHits {
    /// Best window: (start, end of last hit, hits, total).
    best: Option<(Nanos, Nanos, u32, u32)>,
    /// Examples of the current window.
    examples: Vec<Ex>,
    /// Examples of the best window.
    best_examples: Vec<Ex>,
}

impl Burst {
    /// Count one exchange at `t`; `hit` when it is what the counter looks for.
    pub fn add(&mut self, t: Nanos, hit: bool, window: Nanos, at: Ex) {
        if self.total == 0 || t - self.start >= window || t < self.start {
            self.close();
            self.start = t;
            self.end = t;
            self.total = 0;
            self.hits = 0;
        }
        self.total += 1;
        if hit {
            self.hits += 1;
            self.all_hits += 1;
            self.end = self.end.max(t);
            push_example(&mut self.hit.get_or_insert_with(Box::default).examples, at);
        }
    }

    /// Close the current window.
    pub fn close(&mut self) {
        if let Some(h) = self.hit.as_deref_mut() {
            if self.hits > 0 && h.best.is_none_or(|b| b.2 < self.hits) {
                h.best = Some((self.start, self.end, self.hits, self.total));
                h.best_examples = std::mem::take(&mut h.examples);
            }
            h.examples.clear();
        }
        self.hits = 0;
        self.total = 0;
    }

    /// The window with most hits among those closed: (start, end of its last hit, hits,
    /// exchanges).
    #[must_use]
    pub fn best(&self) -> Option<(Nanos, Nanos, u32, u32)> {
        self.hit.as_ref().and_then(|h| h.best)
    }

    /// Examples of the best window.
    #[must_use]
    pub fn best_examples(&self) -> &[Ex] {
        self.hit.as_ref().map_or(&[], |h| &h.best_examples)
    }
}

// ------------------------------------------------------------------------------------
// Distributed scanners
// ------------------------------------------------------------------------------------

/// What the group detector reads of one client: its requests and the paths where it got
/// 404/405 on an unknown path, with their endpoint and counts.
#[derive(Debug, Clone, Copy)]
pub struct MissProfile<'a> {
    /// The client's requests.
    pub requests: u64,
    /// (endpoint id, path hash, misses there).
    pub misses: &'a [(u32, u64, u32)],
}

/// Clients that scan together: many addresses each sending a few requests to the same junk
/// paths. Alone each is too small to be a scanner (a handful of requests); together they
/// hit the same unknown paths that nobody calls successfully.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanGroup {
    /// Per client (in the order given): a member of the group.
    pub members: Vec<bool>,
    /// Members.
    pub size: usize,
    /// The junk paths the members share, most shared first: (path hash, members).
    pub paths: Vec<(u64, usize)>,
}

impl ScanGroup {
    /// True when client `i` is a member.
    #[must_use]
    pub fn has(&self, i: usize) -> bool {
        self.members.get(i).copied().unwrap_or(false)
    }
}

/// Find the distributed-scanner group. A client is a candidate when most of its requests
/// (at least `scan_share`) were 404/405 in junk endpoints (`junk`: endpoints where almost
/// every call, `scan_junk_share`, missed). A junk path is shared when at least
/// `scan_group_shared` candidates missed it; candidates that missed a shared one are the
/// group, which counts only when it has `scan_group_min` members that together share
/// `scan_group_paths` distinct paths (a cohort of stale clients calling one removed path is
/// not a scan).
#[must_use]
pub fn scan_group<'a>(
    profiles: impl IntoIterator<Item = MissProfile<'a>>,
    junk: impl Fn(u32) -> bool,
    th: &Thresholds,
) -> ScanGroup {
    let profiles: Vec<MissProfile<'a>> = profiles.into_iter().collect();
    let candidate = |p: &MissProfile<'_>| {
        let junk_misses: u64 = p.misses.iter().filter(|m| junk(m.0)).map(|m| u64::from(m.2)).sum();
        p.requests > 0 && junk_misses > 0 && junk_misses as f64 / p.requests as f64 >= th.scan_share
    };
    let cands: Vec<bool> = profiles.iter().map(candidate).collect();
    let mut callers: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (p, _) in profiles.iter().zip(&cands).filter(|(_, c)| **c) {
        for m in p.misses.iter().filter(|m| junk(m.0)) {
            *callers.entry(m.1).or_insert(0) += 1;
        }
    }
    let shared = |h: u64| callers.get(&h).is_some_and(|n| *n >= th.scan_group_shared);
    let members: Vec<bool> =
        profiles.iter().zip(&cands).map(|(p, c)| *c && p.misses.iter().any(|m| junk(m.0) && shared(m.1))).collect();
    let size = members.iter().filter(|m| **m).count();
    let mut paths: Vec<(u64, usize)> = callers.into_iter().filter(|(_, n)| *n >= th.scan_group_shared).collect();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if size < th.scan_group_min || paths.len() < th.scan_group_paths {
        return ScanGroup { members: vec![false; profiles.len()], size: 0, paths: Vec::new() };
    }
    ScanGroup { members, size, paths }
}

// ------------------------------------------------------------------------------------
// Memory accounting
// ------------------------------------------------------------------------------------

/// Heap bytes of a vector's buffer (its capacity, not its length).
#[must_use]
pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// Heap bytes held by detector state, counted from capacities.
pub trait HeapBytes {
    /// Bytes on the heap owned by `self` (not counting `self` itself).
    fn heap_bytes(&self) -> usize;
}

impl HeapBytes for PollSlot {
    fn heap_bytes(&self) -> usize {
        self.more_examples.as_ref().map_or(0, |_| std::mem::size_of::<[Ex; MAX_EXAMPLES - 1]>())
    }
}

impl HeapBytes for RetrySlot {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.examples)
    }
}

impl HeapBytes for Storm {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.examples)
    }
}

impl HeapBytes for FanState {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.examples)
    }
}

impl HeapBytes for PageRun {
    fn heap_bytes(&self) -> usize {
        vec_bytes(&self.examples)
    }
}

impl HeapBytes for Burst {
    fn heap_bytes(&self) -> usize {
        self.hit
            .as_ref()
            .map_or(0, |h| std::mem::size_of::<BurstHits>() + vec_bytes(&h.examples) + vec_bytes(&h.best_examples))
    }
}

impl<T: HeapBytes> HeapBytes for Vec<T> {
    fn heap_bytes(&self) -> usize {
        vec_bytes(self) + self.iter().map(HeapBytes::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(target: &str, status: u16, body: &str) -> Exchange {
        Exchange::builder("GET", target).status(status).response_body(body).build()
    }

    #[test]
    fn response_hash_reads_a_readers_digest_as_the_whole_body() {
        // A reader that kept no bytes but gave the digest hashes like one that kept them
        // all; bodies differing anywhere (here past 16 KiB) hash differently.
        let long = "a".repeat(40_000);
        let kept = ex("/x", 200, &long);
        let mut digested = ex("/x", 200, "");
        if let Some(r) = digested.response.as_mut() {
            r.body.size = 40_000;
            r.body.digest = Some(crate::model::body_digest(long.as_bytes()));
        }
        assert_eq!(response_hash(&kept), response_hash(&digested));
        let mut changed = long.clone();
        changed.replace_range(30_000..30_001, "b");
        assert_ne!(response_hash(&kept), response_hash(&ex("/x", 200, &changed)));
        assert_ne!(response_hash(&kept), response_hash(&ex("/x", 304, &long)));
    }

    #[test]
    fn burst_without_hits_holds_no_heap_and_compact_refs_stay_small() {
        let mut b = Burst::default();
        let e = Ex::of(&ex("/x", 200, ""), 0);
        for i in 0..100 {
            b.add(i * SEC, false, 60 * SEC, e);
        }
        b.close();
        assert_eq!((b.heap_bytes(), b.best(), b.best_examples().len()), (0, None, 0));
        b.add(200 * SEC, true, 60 * SEC, e);
        b.close();
        assert!(b.heap_bytes() > 0);
        assert_eq!(b.best().map(|x| x.2), Some(1));
        assert_eq!((std::mem::size_of::<Burst>(), std::mem::size_of::<Ex>()), (40, 32));
    }

    #[test]
    fn an_example_keeps_its_entry_or_its_packet() {
        let files = Files::default();
        let mut har = ex("/x", 200, "");
        har.provenance.entry = Some(7);
        let mut cap = ex("/x", 200, "");
        cap.provenance.packets = vec![42, 43];
        let (h, c) = (files.example(&Ex::of(&har, 0)), files.example(&Ex::of(&cap, 0)));
        assert_eq!((h.entry, h.packet), (Some(7), None));
        assert_eq!((c.entry, c.packet), (None, Some(42)));
    }

    #[test]
    fn burst_keeps_the_window_with_most_hits() {
        let mut b = Burst::default();
        let e = Ex::of(&ex("/x", 404, ""), 0);
        for i in 0..5 {
            b.add(i * SEC, true, 60 * SEC, e);
        }
        for i in 0..20 {
            b.add(100 * SEC + i * SEC, i % 2 == 0, 60 * SEC, e);
        }
        b.close();
        assert_eq!(b.best().map(|x| (x.2, x.3)), Some((10, 20)));
        assert_eq!(b.all_hits, 15);
    }

    #[test]
    fn credentials_are_seen_in_headers_cookies_and_query() {
        let mut e = ex("/x?api_key=1", 200, "");
        assert!(has_credentials(&e));
        e.request.target = "/x".into();
        assert!(!has_credentials(&e));
        e.request.headers.push("Cookie", "sid=1");
        assert!(has_credentials(&e));
    }

    #[test]
    fn a_distributed_scan_is_a_group_of_small_clients_sharing_junk_endpoints() {
        let th = Thresholds::default();
        // endpoint 0 is junk (every call missed), 9 a real one; paths are 100 + i
        let junk = |e: u32| e == 0;
        let sigs: Vec<Vec<(u32, u64, u32)>> =
            (0..6u64).map(|i| vec![(0, 100 + i, 2), (0, 100 + (i + 1) % 6, 1), (0, 100 + (i + 2) % 6, 1)]).collect();
        let mut profiles: Vec<MissProfile<'_>> = sigs.iter().map(|s| MissProfile { requests: 4, misses: s }).collect();
        // a busy client with one junk miss among many good calls, and a client whose misses
        // are on a real endpoint
        let one = [(0u32, 100u64, 1u32)];
        let real = [(9u32, 900u64, 3u32)];
        profiles.push(MissProfile { requests: 40, misses: &one });
        profiles.push(MissProfile { requests: 3, misses: &real });
        let g = scan_group(profiles.clone(), junk, &th);
        assert_eq!(g.members, vec![true, true, true, true, true, true, false, false]);
        assert_eq!((g.size, g.paths.len()), (6, 6));
        // three clients are not a group, nor are many clients calling one junk path
        assert_eq!(scan_group(profiles[..3].to_vec(), junk, &th).size, 0);
        let stale = [(0u32, 100u64, 1u32)];
        let cohort: Vec<MissProfile<'_>> = (0..20).map(|_| MissProfile { requests: 1, misses: &stale }).collect();
        assert_eq!(scan_group(cohort, junk, &th).size, 0);
    }

    #[test]
    fn tags_are_the_json_names() {
        for k in PatternKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::from(k.tag()));
        }
    }

    #[test]
    fn page_parameters_are_read() {
        let e = ex("/v1/i?page=3&limit=200", 200, "");
        assert_eq!(page_position(&e), Some((3, false)));
        assert_eq!(page_position(&ex("/v1/i?offset=400", 200, "")), Some((400, true)));
        assert_eq!(page_size(&e), Some(200));
    }
}
