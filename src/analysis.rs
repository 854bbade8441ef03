//! KPIs per endpoint and per client (volume, rate, status mix, error rate, availability,
//! exact latency percentiles, sizes), client identity applied, abusive-pattern detectors,
//! journeys and retention. Accumulators stream: memory stays flat however large the input.
//!
//! [`Analyzer`] is an [`ingest::Sink`](crate::ingest::Sink): readers push exchanges into it,
//! and [`Analyzer::finish`] returns a plain-data [`Report`] that the CLI and the TUI render.
//! Its [`Prepare`](crate::ingest::Prepare) digests what it reads of bodies and response
//! headers (a response hash and `Retry-After`), so readers may free those as soon as an
//! exchange is complete.
//! Memory: per-endpoint and per-client maps grow with distinct endpoints and clients; the
//! latency values for exact percentiles are kept once per exchange (16 bytes, in
//! [`kpi::LatencyLog`], which every grouping is sorted out of at the end); a
//! (client, endpoint) cell costs a few counters; pattern detectors keep a few slots per
//! client (what most clients never need is allocated on first use). [`Analyzer::memory`]
//! reports what the accumulators hold; building the report frees each client's detector
//! state once its findings are out.

pub mod compare;
pub mod endpoint;
pub mod feed;
pub mod flags;
pub mod journey;
pub mod kpi;
pub mod patterns;
pub mod report;
pub mod retention;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::ingest::{Prepare, Prepared, ReadOptions, Sink};
use crate::model::client::{ClientId, ClientKey, identify};
use crate::model::{Diagnostic, Exchange, Nanos};

pub use endpoint::{
    EndpointName, EndpointNamer, FnNamer, InferredNames, LearnedNames, Learner, SpecNamer, StreamNames,
};
pub use kpi::{Kpis, Percentiles};
pub use patterns::{ExampleRef, PatternFinding, PatternKind, Thresholds};
pub use report::{ClientReport, Downtime, EndpointReport, PoorExperience, Report, SeriesPoint, StatusReport};

use kpi::{Chunked, Counts, LatencyLog, Sample};
use patterns::{
    Burst, Ex, FanState, Files, PageRun, PollSlot, RetrySlot, Storm, fan_close, first_example, has_credentials,
    hash_str, page_position, page_size, pager_keep, pager_update, poll_update, push_example, retry_finish,
    retry_update,
};

/// How readers should read for an [`Analyzer`] (and `journey`): no body bytes are kept,
/// only each body's digest ([`crate::model::Body::digest`], which is all the analyzer reads
/// of content) and its sizes, and being cut is not noted as a diagnostic, since it is this
/// choice and not something wrong with the input. Bodies then cost nothing while their
/// exchange is open (long streaming responses, for instance), whatever their length.
#[must_use]
pub fn read_options() -> ReadOptions {
    ReadOptions { body_cap: 0, keep_bodies: true, note_cap: false, digest_bodies: true }
}

/// Label of exchanges whose client key evidence is absent (e.g. no bearer token with
/// `--client-key bearer`).
pub const UNIDENTIFIED: &str = "(unidentified)";

/// Name of the endpoint that collects every endpoint past [`Config::max_endpoints`].
pub const OTHER_ENDPOINTS: &str = "(other endpoints)";

/// Heap bytes held by an [`Analyzer`]'s accumulators, by part, counted from their own
/// capacities (map entries are counted at their inline size; a `BTreeMap` node's overhead is
/// not). Everything but `latency_values` grows with distinct endpoints, clients, (client,
/// endpoint) pairs and seconds of capture, never with repeated traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// The latency log: 16 bytes per exchange with a latency, in 1 MiB chunks.
    pub latency_values: usize,
    /// Per-endpoint accumulators (counters, per-second series, downtime).
    pub endpoints: usize,
    /// Per-client accumulators (counters, user agents, detector slots, examples).
    pub clients: usize,
    /// (client, endpoint) cells and their index.
    pub cells: usize,
    /// Everything else: name and id maps, status counters, per-address auth state, the
    /// slowest list, the warm-up buffer's exchanges (counted at their inline size).
    pub other: usize,
}

impl Memory {
    /// All parts.
    #[must_use]
    pub fn total(&self) -> usize {
        self.latency_values + self.endpoints + self.clients + self.cells + self.other
    }
}

/// Clients per chunk of the per-client state (it is large and numerous).
const CLIENT_CHUNK: usize = 512;

fn map_bytes<K, V>(len: usize) -> usize {
    len * (std::mem::size_of::<K>() + std::mem::size_of::<V>())
}

/// The analyzer's maps hash with foldhash (randomly seeded: client ids and paths come from
/// the capture).
type Fold = foldhash::fast::RandomState;

fn hash_bytes<K, V, S>(m: &HashMap<K, V, S>) -> usize {
    m.capacity() * (std::mem::size_of::<(K, V)>() + 1)
}

fn counts_bytes(c: &Counts) -> usize {
    map_bytes::<u16, u64>(c.statuses.len())
}

/// Settings of one analysis.
#[derive(Debug, Clone)]
pub struct Config {
    /// How clients are identified.
    pub client_key: ClientKey,
    /// Detector thresholds.
    pub thresholds: Thresholds,
    /// Retention slices by time (`--window`), when set.
    pub window: Option<Nanos>,
    /// Distinct endpoints kept before the rest are pooled into [`OTHER_ENDPOINTS`]
    /// (protects memory from scanners inventing paths; default 5000).
    pub max_endpoints: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { client_key: ClientKey::Auto, thresholds: Thresholds::default(), window: None, max_endpoints: 5000 }
    }
}

/// Per-second buckets: (requests, unavailable).
type Series = BTreeMap<i64, (u32, u32)>;

#[derive(Debug, Default)]
struct EndpointAcc {
    name: String,
    documented: Option<bool>,
    counts: Counts,
    series: Series,
    bad_run: Option<(Nanos, Nanos, u32, Vec<ExampleRef>)>,
    downtime: Vec<Downtime>,
    last_t: Option<Nanos>,
    silences: Vec<(Nanos, Nanos)>,
}

const MAX_DOWNTIMES: usize = 32;
const MAX_SILENCES: usize = 8;

impl EndpointAcc {
    fn close_run(&mut self, min: u32) {
        if let Some((start, end, n, examples)) = self.bad_run.take() {
            if n >= min {
                let d = Downtime { start, end, failures: u64::from(n), silent: false, examples };
                if self.downtime.len() < MAX_DOWNTIMES {
                    self.downtime.push(d);
                } else if let Some(m) = self.downtime.iter_mut().min_by_key(|d| d.end - d.start) {
                    if m.end - m.start < d.end - d.start {
                        *m = d;
                    }
                }
            }
        }
    }
}

/// One (client, endpoint) pair: the counters the poor-experience check needs (its latency
/// values live in the [`LatencyLog`]).
#[derive(Debug, Default, Clone, Copy)]
struct Cell {
    client: u32,
    endpoint: u32,
    requests: u64,
    errored: u64,
}

#[derive(Debug, Default)]
struct ClientAcc {
    id: String,
    counts: Counts,
    /// Indexes into the analyzer's [`Agents`] table.
    user_agents: Vec<u32>,
    more_user_agents: u64,
    first_success: Option<Nanos>,
    slices: BTreeSet<u32>,
    polls: Vec<PollSlot>,
    retries: Vec<RetrySlot>,
    fan: Option<FanState>,
    page_runs: Vec<PageRun>,
    scan: Burst,
    auth: Burst,
    no_credentials: u64,
    /// Allocated when first needed: most clients never have anything in it.
    rare: Option<Box<Rare>>,
}

/// A client's state that most clients never need (8 bytes in [`ClientAcc`] instead of
/// ≈ 200 when absent): closed findings waiting for the report, unknown paths missed, calls
/// without credentials.
#[derive(Debug, Default)]
struct Rare {
    storms: Vec<Storm>,
    fans: Vec<FanState>,
    page_best: Vec<PageRun>,
    big_pages: Vec<(u32, u64, u64, Vec<Ex>)>,
    huge: Vec<(u32, u64, u64, Vec<Ex>)>,
    miss_paths: Vec<u64>,
    /// Paths missed (404/405 on an unknown path): (endpoint, path hash, how often), at most
    /// `MAX_MISS_PATHS` of them: the signature the distributed-scanner group compares.
    miss_eps: Vec<(u32, u64, u32)>,
    no_cred_endpoints: BTreeSet<u32>,
    no_cred_examples: Vec<Ex>,
}

/// A client without [`Rare`] state reads as this.
static NO_RARE: Rare = Rare {
    storms: Vec::new(),
    fans: Vec::new(),
    page_best: Vec::new(),
    big_pages: Vec::new(),
    huge: Vec::new(),
    miss_paths: Vec::new(),
    miss_eps: Vec::new(),
    no_cred_endpoints: BTreeSet::new(),
    no_cred_examples: Vec::new(),
};

impl Rare {
    fn is_empty(&self) -> bool {
        self.storms.is_empty()
            && self.fans.is_empty()
            && self.page_best.is_empty()
            && self.big_pages.is_empty()
            && self.huge.is_empty()
            && self.miss_paths.is_empty()
            && self.miss_eps.is_empty()
            && self.no_cred_endpoints.is_empty()
            && self.no_cred_examples.is_empty()
    }
}

/// Run `f` on a client's [`Rare`] state, allocating it only when `f` leaves something in it.
fn with_rare<T>(rare: &mut Option<Box<Rare>>, f: impl FnOnce(&mut Rare) -> T) -> T {
    if let Some(r) = rare.as_deref_mut() {
        return f(r);
    }
    let mut r = Rare::default();
    let out = f(&mut r);
    if !r.is_empty() {
        *rare = Some(Box::new(r));
    }
    out
}

impl ClientAcc {
    /// Free the detectors' state (slots, windows, examples) once the client's findings have
    /// been taken out; what the client's report needs stays.
    fn release_detectors(&mut self) {
        use std::mem::take;
        *self = Self {
            id: take(&mut self.id),
            counts: take(&mut self.counts),
            user_agents: take(&mut self.user_agents),
            more_user_agents: self.more_user_agents,
            first_success: self.first_success,
            slices: take(&mut self.slices),
            ..Self::default()
        };
    }
}

const MAX_USER_AGENTS: usize = 8;

/// The distinct `User-Agent` values kept by any client, each stored once (clients keep
/// indexes: most clients of an app share one value). Bounded like the clients' lists.
#[derive(Debug, Default)]
struct Agents {
    ids: HashMap<Arc<str>, u32, Fold>,
    names: Vec<Arc<str>>,
}

impl Agents {
    fn index(&mut self, ua: &str) -> u32 {
        if let Some(i) = self.ids.get(ua) {
            return *i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(ua);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, i);
        i
    }

    fn name(&self, i: u32) -> Option<&str> {
        self.names.get(i as usize).map(|n| &**n)
    }

    fn heap_bytes(&self) -> usize {
        hash_bytes(&self.ids)
            + patterns::vec_bytes(&self.names)
            + self.names.iter().map(|n| n.len() + 16).sum::<usize>()
    }
}
const MAX_MISS_PATHS: usize = 64;
/// Missed paths named (see `Analyzer::miss_names`).
const MAX_MISS_NAMES: usize = 512;
const MAX_EXPENSIVE: usize = 8;

#[derive(Debug, Default)]
struct IpAuth {
    burst: Burst,
    credentials: Vec<u64>,
}

/// Every endpoint's latency values of 2xx answers in microseconds, sorted ascending, by
/// endpoint name: `(ttfb, total)` ([`Analyzer::finish_with_latencies`]).
#[derive(Debug, Clone, Default)]
pub struct EndpointLatencies {
    /// Endpoint name → (TTFB values, total-duration values).
    pub by_name: HashMap<String, (Vec<u32>, Vec<u32>)>,
}

/// The streaming analyzer: feed exchanges (it is a [`Sink`]), then [`finish`](Self::finish).
pub struct Analyzer<'n> {
    cfg: Config,
    namer: Box<dyn EndpointNamer + 'n>,
    endpoint_ids: HashMap<String, u32, Fold>,
    endpoints: Vec<EndpointAcc>,
    client_ids: HashMap<String, u32, Fold>,
    clients: Chunked<ClientAcc, CLIENT_CHUNK>,
    cell_ids: HashMap<(u32, u32), u32, Fold>,
    cells: Vec<Cell>,
    latencies: LatencyLog,
    statuses: BTreeMap<Option<u16>, Counts>,
    total: Counts,
    ip_auth: HashMap<IpAddr, IpAuth, Fold>,
    /// `METHOD /path` of missed paths by path hash (the first [`MAX_MISS_NAMES`]), to name
    /// the paths a distributed scan shares.
    miss_names: HashMap<u64, String, Fold>,
    slowest: Vec<(u32, u32, u32, ExampleRef)>,
    diagnostics: u64,
    exchange_diagnostics: u64,
    untimed: u64,
    input: u32,
    inputs: Vec<String>,
    t0: Option<Nanos>,
    declared: Vec<String>,
    files: Files,
    agents: Agents,
    /// Learnt endpoint names: the first exchanges wait here (bodies dropped) until the
    /// learner has seen [`WARMUP`] of them, then everything is named with what it learnt.
    warmup: Option<(Arc<Mutex<Learner>>, Vec<Digested>)>,
    /// Feed KPIs of streaming exchanges per endpoint index and per client index.
    feeds: BTreeMap<u32, feed::FeedAcc>,
    client_feeds: BTreeMap<u32, feed::FeedAcc>,
}

/// Exchanges buffered before learnt endpoint names are trusted.
pub const WARMUP: usize = 5000;

/// An exchange without its body bytes, and the digest of its bodies.
type Digested = (Exchange, Digest);

impl<'n> Analyzer<'n> {
    /// An analyzer naming endpoints with `namer`.
    #[must_use]
    pub fn new(cfg: Config, namer: Box<dyn EndpointNamer + 'n>) -> Self {
        Self {
            cfg,
            namer,
            endpoint_ids: HashMap::default(),
            endpoints: Vec::new(),
            client_ids: HashMap::default(),
            clients: Chunked::default(),
            cell_ids: HashMap::default(),
            cells: Vec::new(),
            latencies: LatencyLog::default(),
            statuses: BTreeMap::new(),
            total: Counts::default(),
            ip_auth: HashMap::default(),
            miss_names: HashMap::default(),
            slowest: Vec::new(),
            diagnostics: 0,
            exchange_diagnostics: 0,
            untimed: 0,
            input: 0,
            inputs: Vec::new(),
            t0: None,
            declared: Vec::new(),
            files: Files::default(),
            agents: Agents::default(),
            warmup: None,
            feeds: BTreeMap::new(),
            client_feeds: BTreeMap::new(),
        }
    }

    /// An analyzer with endpoint names inferred and learnt from the traffic itself (no
    /// spec): identifier-like segments become `{id}`, and positions with many distinct
    /// values (tickers, slugs) become `{param}`. The first exchanges are buffered (without
    /// bodies) until the names are learnt.
    #[must_use]
    pub fn learning(cfg: Config) -> Self {
        Self::learning_with(cfg, Arc::new(Mutex::new(Learner::default())))
    }

    /// [`Analyzer::learning`] with a learner the caller keeps too (to name other things,
    /// such as response shapes, with the same templates at the end).
    #[must_use]
    pub fn learning_with(cfg: Config, learner: Arc<Mutex<Learner>>) -> Self {
        let mut a = Self::new(cfg, Box::new(LearnedNames(Arc::clone(&learner))));
        a.warmup = Some((learner, Vec::new()));
        a
    }

    /// Name and add the buffered exchanges; with `keep_learning` the warm-up goes on for
    /// the exchanges still to come (used at input boundaries).
    fn flush_warmup(&mut self, keep_learning: bool) {
        if let Some((learner, buffered)) = self.warmup.take() {
            for (ex, digest) in &buffered {
                self.add(ex, *digest);
            }
            if keep_learning {
                self.warmup = Some((learner, Vec::new()));
            }
        }
    }

    /// An analyzer with inferred endpoint names (no spec).
    #[must_use]
    pub fn inferred(cfg: Config) -> Self {
        Self::new(cfg, Box::new(InferredNames))
    }

    /// Endpoints known beforehand (a spec's operations): clients that never called them
    /// list them as unused even when nobody called them.
    pub fn declare_endpoints(&mut self, names: impl IntoIterator<Item = String>) {
        self.declared.extend(names);
    }

    /// Start the next input (retention slices by input when several are given).
    pub fn begin_input(&mut self, name: &str) {
        // Buffered exchanges belong to the previous input.
        self.flush_warmup(true);
        if !self.inputs.is_empty() {
            self.input += 1;
        }
        self.inputs.push(name.to_string());
    }

    fn endpoint_id(&mut self, ex: &Exchange) -> u32 {
        let EndpointName { name, documented } = self.namer.name(ex);
        if let Some(id) = self.endpoint_ids.get(&name) {
            return *id;
        }
        let (name, documented) = if self.endpoints.len() >= self.cfg.max_endpoints {
            (OTHER_ENDPOINTS.to_string(), None)
        } else {
            (name, documented)
        };
        if let Some(id) = self.endpoint_ids.get(&name) {
            return *id;
        }
        let id = u32::try_from(self.endpoints.len()).unwrap_or(u32::MAX);
        self.endpoint_ids.insert(name.clone(), id);
        self.endpoints.push(EndpointAcc { name, documented, ..EndpointAcc::default() });
        id
    }

    fn client_id(&mut self, ex: &Exchange) -> u32 {
        let id = identify(ex, &self.cfg.client_key).map_or_else(|| UNIDENTIFIED.to_string(), |ClientId(s)| s);
        if let Some(i) = self.client_ids.get(&id) {
            return *i;
        }
        let i = u32::try_from(self.clients.len()).unwrap_or(u32::MAX);
        self.client_ids.insert(id.clone(), i);
        self.clients.push(ClientAcc { id, ..ClientAcc::default() });
        i
    }

    fn cell_id(&mut self, client: u32, endpoint: u32) -> u32 {
        if let Some(i) = self.cell_ids.get(&(client, endpoint)) {
            return *i;
        }
        let i = u32::try_from(self.cells.len()).unwrap_or(u32::MAX);
        self.cell_ids.insert((client, endpoint), i);
        self.cells.push(Cell { client, endpoint, ..Cell::default() });
        i
    }

    /// Add one exchange: the counters, the endpoint's time line, the slowest list, then
    /// each client detector in turn.
    fn add(&mut self, ex: &Exchange, digest: Digest) {
        let s = Sample::of(ex);
        let e = self.endpoint_id(ex);
        let c = self.client_id(ex);
        let th = self.cfg.thresholds.clone();
        self.count(ex, &s, c, e);
        if let Some(st) = ex.stream.as_deref() {
            self.feeds.entry(e).or_default().add(ex, st);
            self.client_feeds.entry(c).or_default().add(ex, st);
        }
        let Some(ep) = self.endpoints.get_mut(e as usize) else { return };
        ep.counts.add(ex, &s);
        let t = s.start;
        if let Some(t) = t {
            ep.note_time(t, &s, ex, &th);
        } else {
            self.untimed += 1;
        }
        self.note_slowest(&s, ex, c, e, &th);
        let slice = self.slice_of(t);
        let shape = self.shape(c, e);
        let no_credentials = !has_credentials(ex) && !self.namer.open(ex);

        let at = Ex::of(ex, self.files.index(&ex.provenance.file));
        let Some(cl) = self.clients.get_mut(c as usize) else { return };
        cl.note_user_agent(ex, &mut self.agents);
        cl.slices.insert(slice);
        if s.is_success() {
            if let Some(t) = t {
                cl.first_success = Some(cl.first_success.map_or(t, |f| f.min(t)));
            }
        }
        if no_credentials {
            cl.detect_no_credentials(e, at);
        }
        cl.detect_expensive(ex, e, at, &th);
        let Some(t) = t else { return };
        let key = hash_str(&[&ex.request.method, &ex.host(), &ex.request.target]);
        let call = Call { key, endpoint: e, t, at };
        cl.detect_polling(ex, call, digest);
        cl.detect_retries(ex, call, digest, &th);
        cl.detect_fan_out(shape.is_list && s.is_success(), shape.item_of_fan, e, t, at, &th);
        cl.detect_paging(ex, e, t, at, &th);
        let status = s.status.unwrap_or(0);
        let miss = matches!(status, 404 | 405) && shape.unknown_path;
        let path = hash_str(&[ex.request.path()]);
        if miss && self.miss_names.len() < MAX_MISS_NAMES {
            self.miss_names.entry(path).or_insert_with(|| format!("{} {}", ex.request.method, ex.request.path()));
        }
        cl.detect_scanner(e, miss, path, (t, at), &th);
        let auth_fail = matches!(status, 401 | 403);
        cl.auth.add(t, auth_fail, th.burst_window, at);
        self.detect_credential_stuffing(ex, auth_fail, t, at, &th);
    }

    /// The counters every exchange adds to: total, per status, per (client, endpoint) cell,
    /// latencies, per client.
    fn count(&mut self, ex: &Exchange, s: &Sample, c: u32, e: u32) {
        if !ex.diagnostics.is_empty() {
            self.exchange_diagnostics += 1;
        }
        self.total.add(ex, s);
        self.statuses.entry(s.status).or_default().add(ex, s);
        let cell = self.cell_id(c, e);
        if let Some(x) = self.cells.get_mut(cell as usize) {
            x.requests += 1;
            if s.unavailable() || s.is_4xx() {
                x.errored += 1;
            }
        }
        self.latencies.push(s, cell);
        if let Some(cl) = self.clients.get_mut(c as usize) {
            cl.counts.add(ex, s);
        }
    }

    /// Keep the exchange among the slowest by server time (TTFB).
    fn note_slowest(&mut self, s: &Sample, ex: &Exchange, c: u32, e: u32, th: &Thresholds) {
        let Some(ttfb) = s.ttfb_us else { return };
        if th.slowest == 0 {
            return;
        }
        if self.slowest.len() < th.slowest {
            self.slowest.push((ttfb, c, e, ExampleRef::of(ex)));
        } else if let Some(m) = self.slowest.iter_mut().min_by_key(|x| x.0) {
            if m.0 < ttfb {
                *m = (ttfb, c, e, ExampleRef::of(ex));
            }
        }
    }

    /// The retention slice of an exchange starting at `t`: its `--window` slice, else the
    /// input's number.
    fn slice_of(&mut self, t: Option<Nanos>) -> u32 {
        match (self.cfg.window, t) {
            (Some(w), Some(t)) if w > 0 => {
                let t0 = *self.t0.get_or_insert(t);
                u32::try_from((t - t0).max(0) / w).unwrap_or(u32::MAX)
            }
            _ => self.input,
        }
    }

    /// What the detectors need to know of endpoint `e` for client `c`.
    fn shape(&self, c: u32, e: u32) -> Shape {
        let ep = self.endpoints.get(e as usize);
        let item_of_fan = self
            .clients
            .get(c as usize)
            .and_then(|cl| cl.fan.as_ref())
            .map(|f| f.list)
            .and_then(|l| self.endpoints.get(l as usize))
            .zip(ep)
            .is_some_and(|(l, i)| endpoint::is_item_of(&l.name, &i.name));
        let is_list = ep.is_some_and(|ep| {
            endpoint::split_name(&ep.name)
                .is_some_and(|(m, tpl)| m.eq_ignore_ascii_case("GET") && !tpl.trim_end_matches('/').ends_with('}'))
        });
        let unknown_path = ep.is_some_and(|ep| ep.documented != Some(true));
        Shape { item_of_fan, is_list, unknown_path }
    }

    /// Credential stuffing: 401/403 bursts per client address, with the credentials tried.
    fn detect_credential_stuffing(&mut self, ex: &Exchange, auth_fail: bool, t: Nanos, at: Ex, th: &Thresholds) {
        let Some(ip) = ex.client.map(|a| a.ip) else { return };
        if auth_fail || self.ip_auth.contains_key(&ip) {
            let ia = self.ip_auth.entry(ip).or_default();
            ia.burst.add(t, auth_fail, th.burst_window, at);
            if auth_fail && ia.credentials.len() < 64 {
                let cred = credential_hash(ex);
                if !ia.credentials.contains(&cred) {
                    ia.credentials.push(cred);
                }
            }
        }
    }
}

/// A timed exchange as the repeat detectors (polling, retries) see it.
#[derive(Clone, Copy)]
struct Call {
    /// Hash of method, host and target.
    key: u64,
    endpoint: u32,
    t: Nanos,
    at: Ex,
}

/// An exchange's endpoint as the client detectors see it.
struct Shape {
    /// An item of the list the client's open fan-out started from.
    item_of_fan: bool,
    /// A GET on a collection (template not ending in a parameter).
    is_list: bool,
    /// Not a documented path (scanner misses).
    unknown_path: bool,
}

impl EndpointAcc {
    /// The per-second series, silences (long gaps between calls) and runs of failures
    /// (downtime), for an exchange starting at `t`.
    fn note_time(&mut self, t: Nanos, s: &Sample, ex: &Exchange, th: &Thresholds) {
        let b = self.series.entry(t.div_euclid(1_000_000_000)).or_insert((0, 0));
        b.0 = b.0.saturating_add(1);
        if s.unavailable() {
            b.1 = b.1.saturating_add(1);
        }
        if let Some(last) = self.last_t {
            if t - last >= th.silence {
                self.silences.push((last, t));
                if self.silences.len() > MAX_SILENCES {
                    if let Some((i, _)) = self.silences.iter().enumerate().min_by_key(|(_, g)| g.1 - g.0) {
                        self.silences.swap_remove(i);
                    }
                }
            }
        }
        self.last_t = Some(self.last_t.map_or(t, |l| l.max(t)));
        if s.unavailable() {
            match &mut self.bad_run {
                Some((_, end, n, examples)) => {
                    *end = (*end).max(t);
                    *n += 1;
                    patterns_push(examples, ex);
                }
                None => self.bad_run = Some((t, t, 1, vec![ExampleRef::of(ex)])),
            }
        } else {
            self.close_run(th.downtime_min);
        }
    }
}

impl ClientAcc {
    /// Keep a new `User-Agent` value (bounded; the rest are counted).
    fn note_user_agent(&mut self, ex: &Exchange, agents: &mut Agents) {
        let Some(ua) = ex.request.headers.get("user-agent") else { return };
        let known = self.user_agents.iter().any(|u| agents.name(*u) == Some(ua));
        if !known {
            if self.user_agents.len() < MAX_USER_AGENTS {
                self.user_agents.push(agents.index(ua));
            } else {
                self.more_user_agents += 1;
            }
        }
    }

    /// A call without credentials to an operation that needs them.
    fn detect_no_credentials(&mut self, e: u32, at: Ex) {
        self.no_credentials += 1;
        with_rare(&mut self.rare, |r| {
            if r.no_cred_endpoints.len() < 64 {
                r.no_cred_endpoints.insert(e);
            }
            push_example(&mut r.no_cred_examples, at);
        });
    }

    /// Expensive calls: big page sizes asked for, huge payloads.
    fn detect_expensive(&mut self, ex: &Exchange, e: u32, at: Ex, th: &Thresholds) {
        if let Some(ps) = page_size(ex) {
            if ps >= th.big_page {
                with_rare(&mut self.rare, |r| expensive_note(&mut r.big_pages, e, ps, at));
            }
        }
        let big = ex.request.body.size >= th.huge_request
            || ex.response.as_ref().is_some_and(|r| r.body.size >= th.huge_response);
        if big {
            let sz = ex.request.body.size.max(ex.response.as_ref().map_or(0, |r| r.body.size));
            with_rare(&mut self.rare, |r| expensive_note(&mut r.huge, e, sz, at));
        }
    }

    /// Polling: the same read repeated at a steady interval.
    fn detect_polling(&mut self, ex: &Exchange, call: Call, digest: Digest) {
        // polling is about reads: repeated POSTs are new orders, not a poll
        if ex.request.method.eq_ignore_ascii_case("GET") || ex.request.method.eq_ignore_ascii_case("HEAD") {
            poll_update(&mut self.polls, call.key, call.endpoint, call.t, ex, digest.response, call.at);
        }
    }

    /// Retry storms: a failing request repeated quickly.
    fn detect_retries(&mut self, ex: &Exchange, call: Call, digest: Digest, th: &Thresholds) {
        let Call { key, endpoint, t, at } = call;
        with_rare(&mut self.rare, |r| {
            retry_update((&mut self.retries, &mut r.storms), key, endpoint, t, (ex, digest.retry_after_s), at, th);
        });
    }

    /// Fan-out (N+1): a list fetched, then its items one at a time.
    fn detect_fan_out(&mut self, list_ok: bool, item_of_fan: bool, e: u32, t: Nanos, at: Ex, th: &Thresholds) {
        if list_ok {
            if let Some(f) = self.fan.take() {
                with_rare(&mut self.rare, |r| fan_close(f, &mut r.fans, th));
            }
            self.fan = Some(FanState { list: e, item: None, start: t, end: t, items: 0, examples: first_example(at) });
        } else if item_of_fan {
            if let Some(f) = &mut self.fan {
                if t - f.start <= th.fanout_window {
                    f.items += 1;
                    f.end = f.end.max(t);
                    f.item.get_or_insert(e);
                    push_example(&mut f.examples, at);
                } else if let Some(f) = self.fan.take() {
                    with_rare(&mut self.rare, |r| fan_close(f, &mut r.fans, th));
                }
            }
        }
    }

    /// Paging through a whole collection.
    fn detect_paging(&mut self, ex: &Exchange, e: u32, t: Nanos, at: Ex, th: &Thresholds) {
        if let Some((pos, offset)) = page_position(ex) {
            let step = if offset { page_size(ex) } else { None };
            with_rare(&mut self.rare, |r| {
                pager_update((&mut self.page_runs, &mut r.page_best), e, pos, step, t, at, th)
            });
        }
    }

    /// Scanners: bursts of 404/405 on unknown paths, the distinct paths missed and the
    /// endpoints they fell in (the signature [`report`]'s group detector compares).
    fn detect_scanner(&mut self, e: u32, miss: bool, h: u64, (t, at): (Nanos, Ex), th: &Thresholds) {
        self.scan.add(t, miss, th.burst_window, at);
        if !miss {
            return;
        }
        with_rare(&mut self.rare, |r| {
            if r.miss_paths.len() < MAX_MISS_PATHS && !r.miss_paths.contains(&h) {
                r.miss_paths.push(h);
            }
            if let Some(x) = r.miss_eps.iter_mut().find(|x| x.1 == h) {
                x.2 = x.2.saturating_add(1);
            } else if r.miss_eps.len() < MAX_MISS_PATHS {
                r.miss_eps.push((e, h, 1));
            }
        });
    }
}

fn patterns_push(v: &mut Vec<ExampleRef>, ex: &Exchange) {
    if v.len() < patterns::MAX_EXAMPLES {
        v.push(ExampleRef::of(ex));
    }
}

fn expensive_note(v: &mut Vec<(u32, u64, u64, Vec<Ex>)>, e: u32, size: u64, at: Ex) {
    if let Some(x) = v.iter_mut().find(|x| x.0 == e) {
        x.1 += 1;
        x.2 = x.2.max(size);
        push_example(&mut x.3, at);
    } else if v.len() < MAX_EXPENSIVE {
        v.push((e, 1, size, first_example(at)));
    }
}

fn credential_hash(ex: &Exchange) -> u64 {
    let h = &ex.request.headers;
    let parts: Vec<&str> =
        ["authorization", "x-api-key", "api-key", "cookie"].iter().filter_map(|n| h.get(n)).collect();
    hash_str(&parts)
}

impl Analyzer<'_> {
    /// Take one exchange whose body content has been digested: buffered during the warm-up
    /// of learnt names, added otherwise.
    fn take(&mut self, ex: &Exchange, digest: Digest) {
        if let Some((learner, buffered)) = &mut self.warmup {
            if let Ok(mut l) = learner.lock() {
                let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
                l.learn(method, ex.request.path());
            }
            // Bodies and response headers are digested: neither is kept.
            let mut kept = ex.clone();
            kept.request.body.content = Vec::new();
            kept.request.body.wire = None;
            if let Some(r) = kept.response.as_mut() {
                r.body.content = Vec::new();
                r.body.wire = None;
                r.headers = crate::model::Headers::default();
            }
            if let Some(st) = kept.stream.as_deref_mut() {
                // Feed KPIs read times, kinds and sizes, not payloads.
                for m in &mut st.messages {
                    m.payload = Vec::new();
                }
            }
            buffered.push((kept, digest));
            if buffered.len() >= WARMUP {
                self.flush_warmup(false);
            }
            return;
        }
        self.add(ex, digest);
    }
}

impl Sink for Analyzer<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        self.take(ex, Digest::of(ex));
    }

    fn diagnostic(&mut self, _d: &Diagnostic) {
        self.diagnostics += 1;
    }

    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        Some(Arc::new(DigestBodies))
    }

    fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
        let digest = prepared.downcast::<Digest>().map_or_else(|_| Digest::of(ex), |d| *d);
        self.take(ex, digest);
    }
}

/// All the analyzer reads of an exchange's body content and response headers: the
/// answer's hash for unchanged-answer detection ([`patterns::response_hash`], which covers
/// the `ETag`) and the `Retry-After` ([`patterns::retry_after_secs`]). Body sizes are read
/// from the bodies' metadata, which readers keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest {
    response: u64,
    retry_after_s: Option<i64>,
}

impl Digest {
    fn of(ex: &Exchange) -> Self {
        Self { response: patterns::response_hash(ex), retry_after_s: patterns::retry_after_secs(ex) }
    }
}

/// The analyzer's [`Prepare`]: digests bodies and response headers so that readers can
/// free them early.
struct DigestBodies;

impl Prepare for DigestBodies {
    fn prepare(&self, ex: &Exchange) -> Prepared {
        Box::new(Digest::of(ex))
    }

    fn content_digest(&self) -> bool {
        true
    }
}

impl Analyzer<'_> {
    /// What the accumulators hold now ([`Memory`]).
    #[must_use]
    pub fn memory(&self) -> Memory {
        use patterns::{HeapBytes, vec_bytes};
        let endpoints = vec_bytes(&self.endpoints)
            + self
                .endpoints
                .iter()
                .map(|e| {
                    e.name.capacity()
                        + counts_bytes(&e.counts)
                        + map_bytes::<i64, (u32, u32)>(e.series.len())
                        + e.bad_run.as_ref().map_or(0, |b| vec_bytes(&b.3))
                        + vec_bytes(&e.downtime)
                        + e.downtime.iter().map(|d| vec_bytes(&d.examples)).sum::<usize>()
                        + vec_bytes(&e.silences)
                })
                .sum::<usize>();
        let clients = self.clients.heap_bytes()
            + self
                .clients
                .iter()
                .map(|c| {
                    c.id.capacity()
                        + counts_bytes(&c.counts)
                        + vec_bytes(&c.user_agents)
                        + map_bytes::<u32, ()>(c.slices.len())
                        + c.polls.heap_bytes()
                        + c.retries.heap_bytes()
                        + c.fan.as_ref().map_or(0, HeapBytes::heap_bytes)
                        + c.page_runs.heap_bytes()
                        + c.scan.heap_bytes()
                        + c.auth.heap_bytes()
                        + c.rare.as_deref().map_or(0, |r| {
                            std::mem::size_of::<Rare>()
                                + r.storms.heap_bytes()
                                + r.fans.heap_bytes()
                                + r.page_best.heap_bytes()
                                + vec_bytes(&r.big_pages)
                                + r.big_pages.iter().map(|x| vec_bytes(&x.3)).sum::<usize>()
                                + vec_bytes(&r.huge)
                                + r.huge.iter().map(|x| vec_bytes(&x.3)).sum::<usize>()
                                + vec_bytes(&r.miss_paths)
                                + vec_bytes(&r.miss_eps)
                                + map_bytes::<u32, ()>(r.no_cred_endpoints.len())
                                + vec_bytes(&r.no_cred_examples)
                        })
                })
                .sum::<usize>();
        let cells = vec_bytes(&self.cells) + hash_bytes(&self.cell_ids);
        let other = hash_bytes(&self.endpoint_ids)
            + self.endpoint_ids.keys().map(String::capacity).sum::<usize>()
            + hash_bytes(&self.client_ids)
            + self.client_ids.keys().map(String::capacity).sum::<usize>()
            + self
                .statuses
                .values()
                .map(|c| std::mem::size_of::<(Option<u16>, Counts)>() + counts_bytes(c))
                .sum::<usize>()
            + hash_bytes(&self.ip_auth)
            + self.ip_auth.values().map(|i| i.burst.heap_bytes() + vec_bytes(&i.credentials)).sum::<usize>()
            + vec_bytes(&self.slowest)
            + self.agents.heap_bytes()
            + self.warmup.as_ref().map_or(0, |w| vec_bytes(&w.1));
        Memory { latency_values: self.latencies.heap_bytes(), endpoints, clients, cells, other }
    }

    /// Close every open state and build the report.
    #[must_use]
    pub fn finish(mut self) -> Report {
        self.flush_warmup(false);
        self.close_states();
        report::build(self)
    }

    /// [`Analyzer::finish`], and every endpoint's latency values of its 2xx answers, sorted
    /// (for tests between two inputs, such as `apiscope compare`'s rank test).
    #[must_use]
    pub fn finish_with_latencies(mut self) -> (Report, EndpointLatencies) {
        self.flush_warmup(false);
        self.close_states();
        let cells = &self.cells;
        let n = self.endpoints.len();
        // successful answers only: a change in the mix of fast 304s, 404s or errors is not a
        // change of the endpoint's latency (error rates are compared on their own)
        let by_endpoint = |cell: u32, status: Option<u16>| {
            status
                .filter(|s| (200..300).contains(s))
                .and_then(|_| cells.get(cell as usize))
                .map(|c| c.endpoint as usize)
        };
        let ttfb = self.latencies.grouped(kpi::LatencyKind::Ttfb, n, by_endpoint);
        let total = self.latencies.grouped(kpi::LatencyKind::Total, n, by_endpoint);
        let mut by_name = HashMap::with_capacity(n);
        for (i, ep) in self.endpoints.iter().enumerate() {
            by_name.insert(ep.name.clone(), (ttfb.get(i).to_vec(), total.get(i).to_vec()));
        }
        (report::build(self), EndpointLatencies { by_name })
    }

    /// Close every detector's open state (runs, fan-outs, bursts) before the report.
    fn close_states(&mut self) {
        let th = self.cfg.thresholds.clone();
        for ep in &mut self.endpoints {
            ep.close_run(th.downtime_min);
        }
        for cl in self.clients.iter_mut() {
            let (retries, fan, runs) = (&mut cl.retries, cl.fan.take(), std::mem::take(&mut cl.page_runs));
            with_rare(&mut cl.rare, |r| {
                retry_finish(retries, &mut r.storms, &th);
                if let Some(f) = fan {
                    fan_close(f, &mut r.fans, &th);
                }
                for run in runs {
                    pager_keep(run, &mut r.page_best, &th);
                }
            });
            cl.scan.close();
            cl.auth.close();
        }
        for ia in self.ip_auth.values_mut() {
            ia.burst.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timing;
    use crate::model::text::ESC;

    const MS: Nanos = 1_000_000;
    const S: Nanos = 1_000_000_000;

    /// A GET (or `method`) from a client identified by its user agent (no credentials
    /// unless `auth`), at `t` with `ttfb`.
    fn ex(ua: &str, method: &str, target: &str, status: u16, t: Nanos, ttfb: Nanos, body: &str) -> Exchange {
        Exchange::builder(method, target)
            .status(status)
            .response_body(body)
            .header("User-Agent", ua)
            .header("Authorization", format!("Token {ua}"))
            .timing(Timing {
                request_start: Some(t),
                request_end: Some(t),
                response_start: Some(t + ttfb),
                response_end: Some(t + ttfb + MS),
            })
            .build()
    }

    fn run(exs: &[Exchange]) -> Report {
        let mut a = Analyzer::inferred(Config::default());
        for (i, e) in exs.iter().enumerate() {
            let mut e = e.clone();
            e.seq = i as u64;
            a.exchange(&e);
        }
        a.finish()
    }

    fn kinds(r: &Report, client: &str) -> Vec<PatternKind> {
        // slowest-exchange listings and heavy hitters (tiny inputs have few clients) are
        // asserted separately
        let mut k: Vec<PatternKind> = r
            .findings
            .iter()
            .filter(|f| f.client == client && !matches!(f.kind, PatternKind::Slowest | PatternKind::HeavyHitter))
            .map(|f| f.kind)
            .collect();
        k.sort();
        k.dedup();
        k
    }

    fn c(ua: &str) -> String {
        format!("unknown {ua}")
    }

    #[test]
    fn kpis_count_statuses_and_exact_percentiles() {
        let mut v = Vec::new();
        for i in 0..10 {
            let st = if i < 7 {
                200
            } else if i < 9 {
                404
            } else {
                503
            };
            v.push(ex("a", "GET", &format!("/v1/o/{i}"), st, i * S, (i + 1) * MS, "{}"));
        }
        let r = run(&v);
        let e = &r.endpoints[0];
        assert_eq!(e.name, "GET /v1/o/{id}");
        assert_eq!(e.kpis.requests, 10);
        assert_eq!(e.kpis.statuses.get(&404), Some(&2));
        assert_eq!(e.kpis.errors_5xx, 1);
        assert!((e.kpis.error_rate - 0.3).abs() < 1e-9);
        assert!((e.kpis.availability - 0.9).abs() < 1e-9);
        let t = e.kpis.ttfb.unwrap();
        assert_eq!((t.p50_us, t.p90_us, t.p99_us, t.max_us), (5_000, 9_000, 10_000, 10_000));
        assert_eq!(e.clients, 1);
        assert_eq!(r.summary.kpis.requests, 10);
        assert_eq!(r.clients[0].share_requests, 1.0);
    }

    #[test]
    fn accumulators_do_not_grow_with_repeated_traffic_beyond_latency_values() {
        // The same clients, endpoints, statuses and 10 seconds of capture, once 40 times as
        // dense as the other: only the latency log may differ (16 bytes per exchange).
        let feed = |reps: i64| {
            let mut a = Analyzer::inferred(Config::default());
            let mut seq = 0u64;
            for r in 0..reps {
                for ua in ["a", "b", "c"] {
                    for (j, target) in
                        ["/v1/orders", "/v1/orders/7", "/v1/quotes/X?page=2&limit=900", "/nope"].iter().enumerate()
                    {
                        let t = r * 10 * S / reps + j as Nanos * MS;
                        let st = if j == 3 { 404 } else { 200 };
                        let mut e = ex(ua, "GET", target, st, t, (seq as Nanos % 50 + 1) * MS, "same");
                        e.seq = seq;
                        seq += 1;
                        a.exchange(&e);
                    }
                }
            }
            (a.memory(), a.latencies.len(), seq)
        };
        let (small, small_values, small_n) = feed(50);
        let (big, big_values, big_n) = feed(2000);
        assert_eq!((small_values as u64, big_values as u64), (small_n, big_n), "one latency record per exchange");
        assert_eq!(big.clients, small.clients, "per-client state grew with repeats");
        assert_eq!(big.endpoints, small.endpoints, "per-endpoint state grew with repeats");
        assert_eq!(big.cells, small.cells, "cells grew with repeats");
        assert_eq!(big.other, small.other, "other state grew with repeats");
        let chunk = kpi::LOG_CHUNK * 16;
        let bound = |n: u64| (n as usize * 16).div_ceil(chunk) * chunk + 64 * std::mem::size_of::<Vec<u8>>();
        assert!(big.latency_values <= bound(big_n), "{} > {}", big.latency_values, bound(big_n));
        assert!(big.total() < 2 * 1024 * 1024, "{big:?}");
    }

    /// Exchanges whose findings depend on body content: a poller with unchanged answers
    /// (irregular intervals), a client whose answers change, and enough traffic to pass the
    /// learnt-names warm-up.
    fn body_sensitive_traffic() -> Vec<Exchange> {
        let mut v = Vec::new();
        for i in 0..12 {
            v.push(ex("poller", "GET", "/v1/status", 200, (i * i) * S, MS, "same answer"));
            v.push(ex("user", "GET", "/v1/feed", 200, (i * i * i) * S, MS, &format!("v{i}")));
        }
        // a retry storm whose explanation counts retries sent before Retry-After
        v.push(with_retry_after(ex("storm", "POST", "/v1/orders", 429, 0, MS, ""), "5"));
        v.push(with_retry_after(ex("storm", "POST", "/v1/orders", 429, S, MS, ""), "5"));
        v.push(ex("storm", "POST", "/v1/orders", 503, 2 * S, MS, ""));
        v.push(ex("storm", "POST", "/v1/orders", 201, 3 * S, MS, ""));
        for i in 0..(WARMUP as i64 + 50) {
            v.push(ex("bulk", "GET", &format!("/v1/items/{i}"), 200, 2000 * S + i * MS, MS, &i.to_string()));
        }
        v
    }

    fn json(r: &Report) -> String {
        report::render(r, report::ReportFormat::Json, report::By::Client, None).unwrap()
    }

    #[test]
    fn findings_are_the_same_when_bodies_and_response_headers_are_digested_by_the_preparer_and_dropped() {
        let v = body_sensitive_traffic();
        for learning in [false, true] {
            let make =
                || if learning { Analyzer::learning(Config::default()) } else { Analyzer::inferred(Config::default()) };
            let mut whole = make();
            let mut digested = make();
            let p = digested.preparer().expect("the analyzer digests bodies");
            assert!(p.content_only() && p.drops_bodies() && p.drops_response_headers());
            for (i, e) in v.iter().enumerate() {
                let mut e = e.clone();
                e.seq = i as u64;
                whole.exchange(&e);
                let prepared = p.prepare(&e);
                e.request.body.content = Vec::new();
                if let Some(r) = e.response.as_mut() {
                    r.body.content = Vec::new();
                    r.headers = crate::model::Headers::default();
                }
                digested.prepared(&e, prepared);
            }
            let (whole, digested) = (whole.finish(), digested.finish());
            assert_eq!(kinds(&whole, &c("poller")), vec![PatternKind::Polling]);
            assert!(kinds(&whole, &c("user")).is_empty());
            let storm = whole.findings.iter().find(|f| f.kind == PatternKind::RetryStorm).expect("storm");
            assert!(storm.explanation.contains("2 retries came before the server's Retry-After"));
            assert_eq!(json(&digested), json(&whole), "learning: {learning}");
        }
    }

    #[test]
    fn the_warm_up_buffer_keeps_no_body_bytes_nor_response_headers() {
        let mut a = Analyzer::learning(Config::default());
        for (i, e) in body_sensitive_traffic().iter().take(100).enumerate() {
            let mut e = e.clone();
            e.seq = i as u64;
            a.exchange(&e);
        }
        let (_, buffered) = a.warmup.as_ref().expect("still warming up");
        assert_eq!(buffered.len(), 100);
        for (e, _) in buffered {
            assert!(e.request.body.content.is_empty());
            assert!(e.response.as_ref().is_some_and(|r| r.body.content.is_empty() && r.headers.is_empty()));
        }
        // sizes stay
        assert!(buffered.iter().any(|(e, _)| e.response.as_ref().is_some_and(|r| r.body.size > 0)));
    }

    #[test]
    fn downtime_is_a_run_of_failures_and_a_success_ends_it() {
        let mut v = Vec::new();
        for (i, st) in [200, 500, 502, 503, 503, 200, 500, 500, 200].iter().enumerate() {
            v.push(ex("a", "GET", "/h", *st, i as Nanos * S, MS, ""));
        }
        let r = run(&v);
        let d = &r.endpoints[0].downtime;
        assert_eq!(d.len(), 1, "a run of 2 is below the default minimum of 3");
        assert_eq!(d[0].failures, 4);
        assert_eq!((d[0].start, d[0].end), (S, 4 * S));
    }

    #[test]
    fn polling_fires_on_unchanged_repeats_and_not_below_the_minimum() {
        let mut v = Vec::new();
        for i in 0..12 {
            // irregular intervals but the same answer every time
            v.push(ex("poller", "GET", "/v1/status", 200, (i * i) * S, MS, "same"));
        }
        for i in 0..9 {
            v.push(ex("near", "GET", "/v1/status", 200, i * 5 * S, MS, "same"));
        }
        for i in 0..15 {
            // changing answers at irregular intervals: a user refreshing, not a poller
            v.push(ex("user", "GET", "/v1/feed", 200, (i * i * i) * S, MS, &format!("v{i}")));
        }
        let r = run(&v);
        assert_eq!(kinds(&r, &c("poller")), vec![PatternKind::Polling]);
        assert!(kinds(&r, &c("near")).is_empty());
        assert!(kinds(&r, &c("user")).is_empty());
        let f = r.findings.iter().find(|f| f.kind == PatternKind::Polling).unwrap();
        assert_eq!(f.count, 12);
        assert_eq!(f.endpoint.as_deref(), Some("GET /v1/status"));
        // the first three calls, with their provenance and times
        assert_eq!(
            f.examples.iter().map(|e| (e.seq, e.time)).collect::<Vec<_>>(),
            vec![(0, Some(0)), (1, Some(S)), (2, Some(4 * S))]
        );
    }

    #[test]
    fn regular_polling_with_changing_answers_still_fires() {
        let v: Vec<Exchange> =
            (0..20).map(|i| ex("cron", "GET", "/v1/q", 200, i * 30 * S + (i % 2) * MS, MS, &format!("{i}"))).collect();
        assert_eq!(kinds(&run(&v), &c("cron")), vec![PatternKind::Polling]);
    }

    fn with_retry_after(mut e: Exchange, s: &str) -> Exchange {
        if let Some(r) = &mut e.response {
            r.headers.push("Retry-After", s);
        }
        e
    }

    #[test]
    fn retry_storm_needs_repeats_within_seconds_of_errors() {
        // storm: 429 with Retry-After 5, then 3 retries 1 s apart, then success
        let mut v = vec![
            with_retry_after(ex("storm", "POST", "/v1/orders", 429, 0, MS, ""), "5"),
            with_retry_after(ex("storm", "POST", "/v1/orders", 429, S, MS, ""), "5"),
            ex("storm", "POST", "/v1/orders", 503, 2 * S, MS, ""),
            ex("storm", "POST", "/v1/orders", 201, 3 * S, MS, ""),
        ];
        // near miss 1: only two retries
        v.push(ex("two", "POST", "/v1/orders", 503, 0, MS, ""));
        v.push(ex("two", "POST", "/v1/orders", 503, S, MS, ""));
        v.push(ex("two", "POST", "/v1/orders", 201, 2 * S, MS, ""));
        // near miss 2: patient retries, 30 s apart
        for i in 0..5 {
            v.push(ex("patient", "POST", "/v1/orders", if i < 4 { 503 } else { 201 }, i * 30 * S, MS, ""));
        }
        // near miss 3: repeats after successes
        for i in 0..6 {
            v.push(ex("repeat", "POST", "/v1/orders", 201, i * S, MS, ""));
        }
        let r = run(&v);
        assert_eq!(kinds(&r, &c("storm")), vec![PatternKind::RetryStorm]);
        let f = r.findings.iter().find(|f| f.kind == PatternKind::RetryStorm).unwrap();
        assert_eq!(f.count, 3);
        assert!(f.explanation.contains("2 retries came before the server's Retry-After"), "{}", f.explanation);
        for n in ["two", "patient", "repeat"] {
            assert!(!kinds(&r, &c(n)).contains(&PatternKind::RetryStorm), "{n}");
        }
    }

    #[test]
    fn fan_out_is_a_list_call_followed_by_many_item_calls() {
        let mut v = vec![ex("n1", "GET", "/v1/orders", 200, 0, MS, "[]")];
        for i in 0..12 {
            v.push(ex("n1", "GET", &format!("/v1/orders/{}", 100 + i), 200, 100 * MS + i * 50 * MS, MS, "{}"));
        }
        // near miss: the same item calls spread over a minute
        v.push(ex("slow", "GET", "/v1/orders", 200, 0, MS, "[]"));
        for i in 0..12 {
            v.push(ex("slow", "GET", &format!("/v1/orders/{}", 100 + i), 200, (i + 1) * 5 * S, MS, "{}"));
        }
        let r = run(&v);
        assert_eq!(kinds(&r, &c("n1")), vec![PatternKind::FanOut]);
        assert!(kinds(&r, &c("slow")).is_empty());
        let f = r.findings.iter().find(|f| f.kind == PatternKind::FanOut).unwrap();
        assert_eq!(f.count, 12);
        assert!(f.explanation.contains("GET /v1/orders/{id}"));
    }

    #[test]
    fn pager_follows_interleaved_page_walks() {
        let mut v = Vec::new();
        // two connections walking pages at once, interleaved
        for p in 1..=25 {
            v.push(ex("etl", "GET", &format!("/v1/items?page={p}&limit=100"), 200, p * 100 * MS, MS, &p.to_string()));
            v.push(ex("etl", "GET", &format!("/v1/items?page={}&limit=100", 200 + p), 200, p * 100 * MS + MS, MS, "x"));
        }
        // near miss: 15 pages
        for p in 1..=15 {
            v.push(ex("short", "GET", &format!("/v1/items?page={p}"), 200, p * S, MS, &p.to_string()));
        }
        // near miss: random pages
        for (i, p) in [5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 12, 11, 30, 20, 25, 22, 40, 35, 33, 31, 50, 45].iter().enumerate()
        {
            v.push(ex("random", "GET", &format!("/v1/items?page={p}"), 200, i as Nanos * S, MS, &p.to_string()));
        }
        let r = run(&v);
        assert_eq!(kinds(&r, &c("etl")), vec![PatternKind::Pager]);
        assert_eq!(r.findings.iter().find(|f| f.kind == PatternKind::Pager).unwrap().count, 25);
        assert!(kinds(&r, &c("short")).is_empty());
        assert!(kinds(&r, &c("random")).is_empty());
    }

    #[test]
    fn scanners_are_bursts_of_404_on_many_paths_and_normal_misses_are_not() {
        let mut v = Vec::new();
        for (i, p) in [
            "/.env",
            "/wp-login.php",
            "/admin",
            "/.git/config",
            "/server-status",
            "/x",
            "/y",
            "/z",
            "/a",
            "/b",
            "/c",
            "/d",
        ]
        .iter()
        .enumerate()
        {
            v.push(ex("scan", "GET", p, 404, i as Nanos * 100 * MS, MS, ""));
        }
        // a busy client with a few 404s among many successes
        for i in 0..200 {
            let st = if i % 10 == 0 { 404 } else { 200 };
            v.push(ex("busy", "GET", &format!("/v1/q/SYM{}", i % 13), st, i * 100 * MS, MS, &i.to_string()));
        }
        // near miss: 404s on only 2 paths
        for i in 0..12 {
            v.push(ex("typo", "GET", if i % 2 == 0 { "/v1/Portfolio" } else { "/v1/acount" }, 404, i * S, MS, ""));
        }
        let r = run(&v);
        assert_eq!(kinds(&r, &c("scan")), vec![PatternKind::Scanner]);
        assert!(!kinds(&r, &c("busy")).contains(&PatternKind::Scanner));
        assert!(!kinds(&r, &c("typo")).contains(&PatternKind::Scanner));
    }

    #[test]
    fn auth_failure_bursts_fire_and_scattered_failures_do_not() {
        let mut v = Vec::new();
        for i in 0..12 {
            v.push(ex("stuffer", "POST", "/login", 401, i * 2 * S, MS, ""));
        }
        for i in 0..40 {
            // 8 failures over 40 minutes among successes
            let st = if i % 5 == 0 { 401 } else { 200 };
            v.push(ex("expired", "GET", &format!("/v1/me?n={i}"), st, i * 60 * S, MS, &i.to_string()));
        }
        let r = run(&v);
        assert!(kinds(&r, &c("stuffer")).contains(&PatternKind::AuthFailures));
        assert!(kinds(&r, &c("expired")).is_empty());
    }

    #[test]
    fn credential_stuffing_is_seen_per_address_across_tokens() {
        let mut v = Vec::new();
        for i in 0..12 {
            let mut e = ex("x", "POST", "/login", 401, i * S, MS, "");
            e.request.headers = crate::model::Headers::default();
            e.request.headers.push("Authorization", format!("Bearer tok{i}"));
            e.client = Some(crate::model::Addr::new("198.18.6.1".parse().unwrap(), 40000));
            v.push(e);
        }
        let r = run(&v);
        let f: Vec<&PatternFinding> = r.findings.iter().filter(|f| f.client == "ip 198.18.6.1").collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].metric, 12.0);
    }

    #[test]
    fn heavy_hitters_need_an_outsized_share() {
        let mut v = Vec::new();
        for i in 0..100 {
            v.push(ex("big", "GET", "/v1/q", 200, i * S, MS, &i.to_string()));
        }
        for n in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"] {
            for i in 0..90 {
                v.push(ex(n, "GET", &format!("/v1/q/{i}"), 200, i * S, MS, &i.to_string()));
            }
        }
        let r = run(&v);
        let heavy =
            |r: &Report, id: &str| r.findings.iter().any(|f| f.client == c(id) && f.kind == PatternKind::HeavyHitter);
        // 100 / 1090 = 9.2% < 10%: not heavy; add more to cross
        assert!(!heavy(&r, "big"));
        for i in 0..20 {
            v.push(ex("big", "GET", "/v1/q", 200, (100 + i) * S, MS, &i.to_string()));
        }
        let r = run(&v);
        assert!(heavy(&r, "big"));
        assert!(!heavy(&r, "s1"));
    }

    #[test]
    fn calls_without_credentials_are_counted() {
        let mut e = ex("anon", "GET", "/v1/q", 200, 0, MS, "");
        e.request.headers = crate::model::Headers::default();
        let r = run(&[e, ex("ok", "GET", "/v1/q", 200, S, MS, "")]);
        assert_eq!(kinds(&r, "unknown -"), vec![PatternKind::NoCredentials]);
        assert!(kinds(&r, &c("ok")).is_empty());
    }

    #[test]
    fn poor_experience_compares_a_client_with_the_endpoint_norm() {
        let mut v = Vec::new();
        for n in ["a", "b", "c", "d"] {
            for i in 0..10 {
                v.push(ex(n, "GET", "/v1/q", 200, i * S, 10 * MS, &i.to_string()));
            }
        }
        for i in 0..10 {
            v.push(ex("far", "GET", "/v1/q", 200, i * S, 200 * MS, &i.to_string()));
            v.push(ex("failing", "GET", "/v1/q", if i < 6 { 503 } else { 200 }, i * S, 10 * MS, &i.to_string()));
        }
        let r = run(&v);
        let poor = |id: &str| r.clients.iter().find(|x| x.id == c(id)).unwrap().poor_experience.clone();
        assert_eq!(poor("far").len(), 1);
        assert!(poor("far")[0].reason.contains("median TTFB"));
        assert!(poor("failing")[0].reason.contains("error rate"));
        assert!(poor("a").is_empty());
    }

    #[test]
    fn big_pages_are_expensive_and_small_ones_are_not() {
        let r = run(&[
            ex("bulk", "GET", "/v1/items?limit=5000", 200, 0, MS, ""),
            ex("fine", "GET", "/v1/items?limit=50", 200, 0, MS, ""),
        ]);
        assert!(kinds(&r, &c("bulk")).contains(&PatternKind::Expensive));
        assert!(!kinds(&r, &c("fine")).contains(&PatternKind::Expensive));
    }

    #[test]
    fn retention_by_input_finds_churned_and_new_clients() {
        let mut a = Analyzer::inferred(Config::default());
        a.begin_input("day1");
        a.exchange(&ex("old", "GET", "/a", 200, 0, MS, ""));
        a.exchange(&ex("both", "GET", "/a", 401, 0, MS, ""));
        a.begin_input("day2");
        a.exchange(&ex("both", "GET", "/a", 200, 5 * S, MS, ""));
        a.exchange(&ex("new", "GET", "/a", 200, 6 * S, MS, ""));
        let r = a.finish();
        let ret = r.retention.unwrap();
        assert_eq!(ret.churned, vec![c("old")]);
        assert_eq!(ret.new_in_last, vec![c("new")]);
        assert_eq!(ret.retained, 1);
        assert_eq!(ret.slowest_to_success[0].seconds, Some(5.0));
    }

    #[test]
    fn renderers_escape_captured_text_and_align() {
        let r = run(&[ex(&format!("evil{ESC}[2J"), "GET", &format!("/v1/{ESC}]0;x"), 200, 0, MS, "")]);
        for f in [report::ReportFormat::Text, report::ReportFormat::Markdown] {
            for by in [report::By::Endpoint, report::By::Client, report::By::Status] {
                let s = report::render(&r, f, by, Some(20)).unwrap();
                assert!(!s.contains(ESC), "{s}");
            }
        }
        let csv = report::render(&r, report::ReportFormat::Csv, report::By::Client, None).unwrap();
        assert!(csv.starts_with("CLIENT,REQ,"));
        let json: serde_json::Value =
            serde_json::from_str(&report::render(&r, report::ReportFormat::Json, report::By::Endpoint, None).unwrap())
                .unwrap();
        assert_eq!(json["summary"]["kpis"]["requests"], 1);
    }
}
