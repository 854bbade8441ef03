//! The analysis report as plain data ([`Report`]: no formatting, the TUI renders it too),
//! how it is built from the accumulators at the end of the input, and the CLI renderers
//! (aligned text, Markdown, CSV, JSON) that return a `String`. Captured text (client
//! labels, user agents, endpoint names) goes through `model::text::visible` in text and
//! Markdown output.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::feed::{FeedAcc, FeedKpis};
use super::kpi::{Chunked, Counts, Kpis, LatencyKind, LatencyLog, status_class};
use super::patterns::{
    Ex, ExampleRef, Files, MissProfile, PatternFinding, PatternKind, ScanGroup, Thresholds, is_polling, scan_group,
    secs,
};
use super::retention::{self, ClientSlices, Retention};
use super::{Analyzer, CLIENT_CHUNK, Cell, ClientAcc, EndpointAcc, IpAuth, Rare, UNIDENTIFIED};
use crate::model::Nanos;
use crate::model::text::visible;

/// One point of an endpoint's rate series.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Bucket start (capture clock, ns).
    pub t: Nanos,
    /// Requests in the bucket.
    pub requests: u32,
    /// 5xx or failed in the bucket.
    pub unavailable: u32,
}

/// A span where an endpoint answered only errors (5xx/failed), or nothing at all.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Downtime {
    /// First failing (or last answered) call.
    pub start: Nanos,
    /// Last failing (or next answered) call.
    pub end: Nanos,
    /// Failed calls in the span (0 for silences).
    pub failures: u64,
    /// True for a silence (no calls where the endpoint's rate predicts many).
    pub silent: bool,
    /// Examples.
    pub examples: Vec<ExampleRef>,
}

/// KPIs of one endpoint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EndpointReport {
    /// Name (`METHOD /template` or the spec operation).
    pub name: String,
    /// Documented by the spec (`None`: no spec loaded).
    pub documented: Option<bool>,
    /// The KPIs.
    pub kpis: Kpis,
    /// Distinct clients.
    pub clients: u64,
    /// Busiest second.
    pub peak_rps: u32,
    /// Seconds per series bucket (1, or 60 when the input spans more than an hour).
    pub series_resolution_s: u32,
    /// Requests over time.
    pub series: Vec<SeriesPoint>,
    /// Downtime windows.
    pub downtime: Vec<Downtime>,
}

/// Why a client's experience on an endpoint is poor.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoorExperience {
    /// Endpoint.
    pub endpoint: String,
    /// Plain-language reason.
    pub reason: String,
    /// Client's requests on the endpoint.
    pub requests: u64,
}

/// A set of endpoint names drawn from one name table that every client of a report
/// shares (a client holds only the indices it used); serialised as the list of names, in
/// table order (endpoints in first-seen order, then the spec's declared ones nobody called).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSet {
    table: Arc<[String]>,
    /// Sorted indices into `table`.
    members: Arc<[u32]>,
    /// The set is every name of the table except `members`.
    complement: bool,
}

impl EndpointSet {
    /// The names of `table` at `members` (sorted indices), or all the others with `complement`.
    #[must_use]
    pub fn of(table: &Arc<[String]>, members: Arc<[u32]>, complement: bool) -> Self {
        Self { table: Arc::clone(table), members, complement }
    }

    /// Number of names.
    #[must_use]
    pub fn len(&self) -> usize {
        if self.complement {
            let inside = self.members.iter().filter(|m| (**m as usize) < self.table.len()).count();
            self.table.len() - inside
        } else {
            self.members.len()
        }
    }

    /// True when the set has no name.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let listed: Box<dyn Iterator<Item = usize> + '_> = if self.complement {
            Box::new((0..self.table.len()).filter(|i| self.members.binary_search(&(*i as u32)).is_err()))
        } else {
            Box::new(self.members.iter().map(|m| *m as usize))
        };
        listed.filter_map(|i| self.table.get(i).map(String::as_str))
    }

    /// True when `name` is in the set.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

impl Serialize for EndpointSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// KPIs of one client.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientReport {
    /// Client label (secrets hashed).
    pub id: String,
    /// The KPIs.
    pub kpis: Kpis,
    /// User agents seen (up to 8).
    pub user_agents: Vec<String>,
    /// Further distinct user agents not listed.
    pub more_user_agents: u64,
    /// Share of all requests.
    pub share_requests: f64,
    /// Share of all bytes on the wire (both directions).
    pub share_bytes: f64,
    /// Share of all server time (sum of TTFB).
    pub share_server_time: f64,
    /// Endpoints used (adoption).
    pub endpoints_used: EndpointSet,
    /// Endpoints seen in the input (or declared by the spec) that this client never used.
    pub endpoints_unused: EndpointSet,
    /// Endpoints where this client fares far worse than the endpoint's norm.
    pub poor_experience: Vec<PoorExperience>,
    /// Kinds of findings about this client.
    pub flags: Vec<PatternKind>,
}

/// KPIs of one status code.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusReport {
    /// Status (`None`: no response).
    pub status: Option<u16>,
    /// Class (`2xx`, …, `other`, `none`).
    pub class: String,
    /// Share of all requests.
    pub share: f64,
    /// The KPIs.
    pub kpis: Kpis,
}

/// Totals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Inputs read.
    pub inputs: Vec<String>,
    /// Client key used.
    pub client_key: String,
    /// Distinct clients.
    pub clients: u64,
    /// Distinct endpoints.
    pub endpoints: u64,
    /// KPIs over every exchange.
    pub kpis: Kpis,
    /// Exchanges whose client could not be identified with the key.
    pub unidentified: u64,
    /// File-level diagnostics received.
    pub file_diagnostics: u64,
    /// Exchanges that carried diagnostics.
    pub exchanges_with_diagnostics: u64,
    /// Exchanges without any timestamp (left out of rates, windows and patterns).
    pub untimed: u64,
}

/// The whole analysis.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Totals.
    pub summary: Summary,
    /// Per endpoint, busiest first.
    pub endpoints: Vec<EndpointReport>,
    /// Per client, busiest first.
    pub clients: Vec<ClientReport>,
    /// Per status code.
    pub statuses: Vec<StatusReport>,
    /// Findings, grouped by kind, biggest first.
    pub findings: Vec<PatternFinding>,
    /// Retention across slices (several inputs or `--window`).
    pub retention: Option<Retention>,
    /// Feed KPIs per streaming endpoint (WebSocket, SSE, NDJSON), most messages first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedKpis>,
    /// Feed KPIs per client of streaming endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_feeds: Vec<FeedKpis>,
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

fn series(s: &BTreeMap<i64, (u32, u32)>, span_s: i64) -> (u32, u32, Vec<SeriesPoint>) {
    let peak = s.values().map(|v| v.0).max().unwrap_or(0);
    let res: i64 = if span_s > 3600 { 60 } else { 1 };
    let mut out: Vec<SeriesPoint> = Vec::new();
    for (sec, (n, u)) in s {
        let b = sec.div_euclid(res) * res;
        let t = b.saturating_mul(1_000_000_000);
        match out.last_mut() {
            Some(p) if p.t == t => {
                p.requests = p.requests.saturating_add(*n);
                p.unavailable = p.unavailable.saturating_add(*u);
            }
            _ => out.push(SeriesPoint { t, requests: *n, unavailable: *u }),
        }
    }
    (peak, u32::try_from(res).unwrap_or(1), out)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Build the report from a finished analyzer: per-endpoint, per-status and per-client
/// reports out of the accumulators and the latency log, the detectors' findings, the
/// poor-experience check and retention. The latency log's groupings are sorted out one at a
/// time and each is dropped as soon as its reports are built (peak memory on big inputs).
pub(super) fn build(mut a: Analyzer<'_>) -> Report {
    let th = a.cfg.thresholds.clone();
    let total = a.total;
    let spec_loaded = a.endpoints.iter().any(|e| e.documented.is_some());
    let span_s = match (total.first, total.last) {
        (Some(f), Some(l)) => (l - f) / 1_000_000_000,
        _ => 0,
    };
    let n_eps = a.endpoints.len();
    let feeds = feed_reports(
        std::mem::take(&mut a.feeds),
        |i| a.endpoints.get(i as usize).map(|e| e.name.clone()),
        th.stall_factor,
    );
    let n_cls = a.clients.len();
    let (group, group_names) = distributed_scan(&a.endpoints, &a.clients, &a.miss_names, &th);
    // Owned so that it can go before the client reports are built.
    let log = std::mem::take(&mut a.latencies);
    let cells = &a.cells;
    let uses = cell_uses(cells, &log, n_cls, n_eps, &th);
    let mut client_eps = uses.client_eps;
    let window = (total.first, total.last);
    let mut endpoints =
        endpoint_reports(std::mem::take(&mut a.endpoints), cells, &log, &uses.ep_clients, span_s, window);
    let total_kpis = total_kpis(&total, &log);
    let declared_unseen = declared_unseen(&a.declared, &a.endpoint_ids);
    let shares = Shares::of(&total_kpis);

    let mut detect = Detect {
        th: &th,
        files: &a.files,
        endpoints: &endpoints,
        n_cls,
        shares,
        spec_loaded,
        group,
        group_names,
        findings: Vec::new(),
        flags: vec![Vec::new(); n_cls],
    };
    for (ci, cl) in a.clients.iter_mut().enumerate() {
        detect.client(ci, cl);
        // The client's findings are out: its detector state is no longer needed.
        cl.release_detectors();
    }
    detect.credential_stuffing(&a.ip_auth);
    detect.slowest(std::mem::take(&mut a.slowest), &a.clients);
    let Detect { mut findings, flags, .. } = detect;
    findings.sort_by(|x, y| x.kind.cmp(&y.kind).then(y.count.cmp(&x.count)).then(x.client.cmp(&y.client)));

    let mut poor = poor_experience(uses.cell_stats, &endpoints, &th, n_cls);
    let mut statuses = status_reports(&a.statuses, &log, shares.requests);
    for st in &mut statuses {
        st.kpis.rate_over(window.0, window.1);
    }

    let by_client = |cell: u32, _| cells.get(cell as usize).map(|c| c.client as usize);
    let cl_ttfb = log.grouped(LatencyKind::Ttfb, n_cls, by_client);
    let cl_total = log.grouped(LatencyKind::Total, n_cls, by_client);
    // Every grouping is sorted out: the log goes before the client reports are built.
    drop(log);
    let mut ret_input = Vec::with_capacity(n_cls);
    let mut clients = Vec::with_capacity(n_cls);
    // one name table for every client's used / unused endpoint sets
    let table: Arc<[String]> =
        endpoints.iter().map(|e| e.name.clone()).chain(declared_unseen.iter().cloned()).collect();
    for (ci, cl) in a.clients.iter_mut().enumerate() {
        let counts = &cl.counts;
        let mut kpis = Kpis::from_sorted(counts, cl_ttfb.get(ci), cl_total.get(ci));
        kpis.rate_over(window.0, window.1);
        let used: Arc<[u32]> = client_eps.get_mut(ci).map(std::mem::take).unwrap_or_default().into();
        ret_input.push(ClientSlices {
            id: &cl.id,
            slices: cl.slices.iter().copied().collect(),
            endpoints: used.len(),
            first: counts.first,
            first_success: cl.first_success,
        });
        let mut fl = flags.get(ci).cloned().unwrap_or_default();
        fl.sort();
        clients.push(ClientReport {
            id: cl.id.clone(),
            share_requests: counts.requests as f64 / shares.requests,
            share_bytes: counts.sizes.wire_total() as f64 / shares.bytes,
            share_server_time: counts.server_time_us as f64 / shares.time,
            kpis,
            user_agents: cl.user_agents.iter().filter_map(|u| a.agents.name(*u)).map(str::to_string).collect(),
            more_user_agents: cl.more_user_agents,
            endpoints_used: EndpointSet::of(&table, Arc::clone(&used), false),
            endpoints_unused: EndpointSet::of(&table, used, true),
            poor_experience: poor.get_mut(ci).map(std::mem::take).unwrap_or_default(),
            flags: fl,
        });
    }
    let retention = retention_of(&ret_input, a.inputs.len(), a.cfg.window);
    drop(ret_input);

    // Ids and names are unique, so an unstable sort gives the same order, without a stable
    // sort's scratch copy of half the client reports.
    clients.sort_unstable_by(|x, y| y.kpis.requests.cmp(&x.kpis.requests).then(x.id.cmp(&y.id)));
    endpoints.sort_unstable_by(|x, y| y.kpis.requests.cmp(&x.kpis.requests).then(x.name.cmp(&y.name)));

    drop((cl_ttfb, cl_total));

    let client_feeds = feed_reports(
        std::mem::take(&mut a.client_feeds),
        |i| a.clients.get(i as usize).map(|c| c.id.clone()),
        th.stall_factor,
    );
    let unidentified =
        a.client_ids.get(UNIDENTIFIED).and_then(|i| a.clients.get(*i as usize)).map_or(0, |c| c.counts.requests);
    Report {
        summary: Summary {
            inputs: a.inputs,
            client_key: a.cfg.client_key.to_string(),
            clients: n_cls as u64,
            endpoints: n_eps as u64,
            kpis: total_kpis,
            unidentified,
            file_diagnostics: a.diagnostics,
            exchanges_with_diagnostics: a.exchange_diagnostics,
            untimed: a.untimed,
        },
        endpoints,
        clients,
        statuses,
        findings,
        retention,
        feeds,
        client_feeds,
    }
}

/// Feed KPIs of each group, named, most feed messages first.
fn feed_reports(
    accs: BTreeMap<u32, FeedAcc>,
    name: impl Fn(u32) -> Option<String>,
    stall_factor: f64,
) -> Vec<FeedKpis> {
    let mut out: Vec<FeedKpis> =
        accs.into_iter().map(|(i, acc)| acc.finish(name(i).unwrap_or_else(|| "?".into()), stall_factor)).collect();
    out.sort_by(|x, y| y.feed_messages.cmp(&x.feed_messages).then(x.name.cmp(&y.name)));
    out
}

/// One (client, endpoint) cell with enough requests for the poor-experience check:
/// client, endpoint, requests, median TTFB (µs), error rate.
type CellStat = (u32, u32, u64, Option<u32>, f64);

/// What the (client, endpoint) cells say: endpoints used per client, clients per endpoint,
/// and the cells the poor-experience check looks at.
struct CellUses {
    client_eps: Vec<Vec<u32>>,
    ep_clients: Vec<u64>,
    cell_stats: Vec<CellStat>,
}

/// Walk the cells in (client, endpoint) order.
fn cell_uses(cells: &[Cell], log: &LatencyLog, n_cls: usize, n_eps: usize, th: &Thresholds) -> CellUses {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|i| cells.get(*i).map(|c| (c.client, c.endpoint)));
    let mut client_eps: Vec<Vec<u32>> = vec![Vec::new(); n_cls];
    let mut ep_clients = vec![0u64; n_eps];
    let mut cell_stats: Vec<CellStat> = Vec::new();
    let cell_ttfb = log.grouped(LatencyKind::Ttfb, cells.len(), |cell, _| Some(cell as usize));
    for i in order {
        let Some(cell) = cells.get(i) else { continue };
        let (c, e) = (cell.client, cell.endpoint);
        if let Some(v) = client_eps.get_mut(c as usize) {
            v.push(e);
        }
        if let Some(n) = ep_clients.get_mut(e as usize) {
            *n += 1;
        }
        let req = cell.requests;
        if req >= th.poor_min_requests {
            let med = super::kpi::nearest_rank(cell_ttfb.get(i), 50.0);
            let err = cell.errored as f64 / req as f64;
            cell_stats.push((c, e, req, med, err));
        }
    }
    CellUses { client_eps, ep_clients, cell_stats }
}

/// One report per endpoint, in endpoint id order, with its downtime and silences.
fn endpoint_reports(
    accs: Vec<EndpointAcc>,
    cells: &[Cell],
    log: &LatencyLog,
    ep_clients: &[u64],
    span_s: i64,
    window: (Option<Nanos>, Option<Nanos>),
) -> Vec<EndpointReport> {
    let mut endpoints: Vec<EndpointReport> = Vec::with_capacity(accs.len());
    let by_endpoint = |cell: u32, _| cells.get(cell as usize).map(|c| c.endpoint as usize);
    let ep_ttfb = log.grouped(LatencyKind::Ttfb, accs.len(), by_endpoint);
    let ep_total = log.grouped(LatencyKind::Total, accs.len(), by_endpoint);
    for (i, ep) in accs.into_iter().enumerate() {
        let mut kpis = Kpis::from_sorted(&ep.counts, ep_ttfb.get(i), ep_total.get(i));
        let (peak, res, pts) = series(&ep.series, span_s);
        let mut downtime = ep.downtime;
        // silences: long gaps where the endpoint's own rate predicts at least 10 calls
        if kpis.mean_rps > 0.0 {
            for (s, e) in ep.silences {
                if secs(s, e) * kpis.mean_rps >= 10.0 {
                    downtime.push(Downtime { start: s, end: e, failures: 0, silent: true, examples: Vec::new() });
                }
            }
        }
        downtime.sort_by_key(|d| d.start);
        // The silences above use the endpoint's own rate; the rate shown is over all traffic.
        kpis.rate_over(window.0, window.1);
        endpoints.push(EndpointReport {
            name: ep.name,
            documented: ep.documented,
            kpis,
            clients: ep_clients.get(i).copied().unwrap_or(0),
            peak_rps: peak,
            series_resolution_s: res,
            series: pts,
            downtime,
        });
    }
    endpoints
}

/// The KPIs of all traffic.
fn total_kpis(total: &Counts, log: &LatencyLog) -> Kpis {
    let t = log.grouped(LatencyKind::Ttfb, 1, |_, _| Some(0));
    let d = log.grouped(LatencyKind::Total, 1, |_, _| Some(0));
    Kpis::from_sorted(total, t.get(0), d.get(0))
}

/// Operations the spec declares that the traffic never called, sorted, once each.
fn declared_unseen<S: std::hash::BuildHasher>(declared: &[String], seen: &HashMap<String, u32, S>) -> Vec<String> {
    let mut d: Vec<String> = declared.iter().filter(|n| !seen.contains_key(*n)).cloned().collect();
    d.sort();
    d.dedup();
    d
}

/// Totals that shares are taken of (each at least 1).
#[derive(Clone, Copy)]
struct Shares {
    requests: f64,
    time: f64,
    bytes: f64,
}

impl Shares {
    fn of(total: &Kpis) -> Self {
        Self {
            requests: total.requests.max(1) as f64,
            time: total.server_time_us.max(1) as f64,
            bytes: total.sizes.wire_total().max(1) as f64,
        }
    }
}

/// The detectors' findings being collected, and each client's flags.
struct Detect<'r> {
    th: &'r Thresholds,
    files: &'r Files,
    /// In endpoint id order (not yet sorted for the report).
    endpoints: &'r [EndpointReport],
    n_cls: usize,
    shares: Shares,
    spec_loaded: bool,
    /// The distributed-scanner group and the names of the junk endpoints it shares.
    group: ScanGroup,
    group_names: Vec<String>,
    findings: Vec<PatternFinding>,
    flags: Vec<Vec<PatternKind>>,
}

impl Detect<'_> {
    fn ep_name(&self, e: u32) -> String {
        self.endpoints.get(e as usize).map_or_else(String::new, |x| x.name.clone())
    }

    /// Add a finding of client `ci` and flag the client with its kind.
    fn push(&mut self, ci: usize, f: PatternFinding) {
        if let Some(fl) = self.flags.get_mut(ci) {
            if !fl.contains(&f.kind) {
                fl.push(f.kind);
            }
        }
        self.findings.push(f);
    }

    /// Every detector's findings for one client, in report order.
    fn client(&mut self, ci: usize, cl: &ClientAcc) {
        let rare = cl.rare.as_deref().unwrap_or(&super::NO_RARE);
        self.heavy_hitter(ci, cl);
        self.polling(ci, cl);
        self.retry_storms(ci, cl, rare);
        self.fan_outs(ci, cl, rare);
        self.pagers(ci, cl, rare);
        self.expensive(ci, cl, rare);
        self.scanner(ci, cl, rare);
        self.auth_failures(ci, cl);
        self.no_credentials(ci, cl, rare);
    }

    fn heavy_hitter(&mut self, ci: usize, cl: &ClientAcc) {
        let (th, counts) = (self.th, &cl.counts);
        let share_r = counts.requests as f64 / self.shares.requests;
        let share_t = counts.server_time_us as f64 / self.shares.time;
        if self.n_cls >= 3
            && cl.id != UNIDENTIFIED
            && counts.requests >= th.heavy_min_requests
            && (share_r >= th.heavy_share || share_t >= th.heavy_share)
        {
            let explanation = format!(
                "sent {} of all requests and used {} of all server time (threshold {}), across {} clients",
                pct(share_r),
                pct(share_t),
                pct(th.heavy_share),
                self.n_cls
            );
            self.push(
                ci,
                PatternFinding {
                    kind: PatternKind::HeavyHitter,
                    client: cl.id.clone(),
                    endpoint: None,
                    window_start: counts.first,
                    window_end: counts.last,
                    count: counts.requests,
                    metric: share_r.max(share_t),
                    examples: Vec::new(),
                    explanation,
                },
            );
        }
    }

    fn polling(&mut self, ci: usize, cl: &ClientAcc) {
        for s in &cl.polls {
            if is_polling(s, self.th) {
                let (mean, cv) = s.interval().unwrap_or((0.0, 0.0));
                let f = PatternFinding {
                    kind: PatternKind::Polling,
                    client: cl.id.clone(),
                    endpoint: Some(self.ep_name(s.endpoint)),
                    window_start: Some(s.first),
                    window_end: Some(s.last),
                    count: u64::from(s.count),
                    metric: mean,
                    examples: self.files.examples(&s.examples()),
                    explanation: format!(
                        "sent the same request {} times, every {:.1} s on average (variation {:.2}); {} of the repeats got an unchanged answer and {} were 304 Not Modified — a webhook, a longer interval or conditional requests would spare the server",
                        s.count,
                        mean,
                        cv,
                        pct(s.unchanged_share()),
                        s.not_modified
                    ),
                };
                self.push(ci, f);
            }
        }
    }

    fn retry_storms(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        for st in &rare.storms {
            let ra = if st.ignored_retry_after > 0 {
                format!("; {} retries came before the server's Retry-After had passed", st.ignored_retry_after)
            } else {
                String::new()
            };
            let f = PatternFinding {
                kind: PatternKind::RetryStorm,
                client: cl.id.clone(),
                endpoint: Some(self.ep_name(st.endpoint)),
                window_start: Some(st.start),
                window_end: Some(st.end),
                count: u64::from(st.retries),
                metric: secs(st.start, st.end),
                examples: self.files.examples(&st.examples),
                explanation: format!(
                    "repeated a failing request {} times within {:.1} s, each within {} s of a 429/5xx/failure{ra} — retries need exponential backoff with jitter",
                    st.retries,
                    secs(st.start, st.end),
                    self.th.retry_window / 1_000_000_000
                ),
            };
            self.push(ci, f);
        }
    }

    fn fan_outs(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        for fan in &rare.fans {
            let f = PatternFinding {
                kind: PatternKind::FanOut,
                client: cl.id.clone(),
                endpoint: Some(self.ep_name(fan.list)),
                window_start: Some(fan.start),
                window_end: Some(fan.end),
                count: u64::from(fan.items),
                metric: f64::from(fan.items),
                examples: self.files.examples(&fan.examples),
                explanation: format!(
                    "called the list endpoint, then {} one at a time {} times within {:.1} s (N+1) — an expand/include parameter or a batch call would do it in one",
                    fan.item.map_or_else(|| "its items".to_string(), |e| self.ep_name(e)),
                    fan.items,
                    secs(fan.start, fan.end)
                ),
            };
            self.push(ci, f);
        }
    }

    fn pagers(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        for r in &rare.page_best {
            let f = PatternFinding {
                kind: PatternKind::Pager,
                client: cl.id.clone(),
                endpoint: Some(self.ep_name(r.endpoint)),
                window_start: Some(r.start),
                window_end: Some(r.end),
                count: u64::from(r.pages),
                metric: f64::from(r.pages),
                examples: self.files.examples(&r.examples),
                explanation: format!(
                    "walked through {} consecutive pages in {:.1} s — a bulk export through the paged API; an export endpoint or a changes feed would be cheaper",
                    r.pages,
                    secs(r.start, r.end)
                ),
            };
            self.push(ci, f);
        }
    }

    /// Big page sizes asked for, then huge payloads.
    fn expensive(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        let big_page = self.th.big_page;
        let big = rare.big_pages.iter().map(|(e, n, max, ex)| {
            (*e, *n, *max, ex, format!("asked for page sizes of {big_page} or more {n} times (largest {max})"))
        });
        let huge = rare.huge.iter().map(|(e, n, max, ex)| {
            (*e, *n, *max, ex, format!("sent or received {n} huge payloads (largest {max} bytes)"))
        });
        for (e, n, max, ex, explanation) in big.chain(huge) {
            let f = PatternFinding {
                kind: PatternKind::Expensive,
                client: cl.id.clone(),
                endpoint: Some(self.ep_name(e)),
                window_start: ex.first().and_then(Ex::time),
                window_end: ex.last().and_then(Ex::time),
                count: n,
                metric: max as f64,
                examples: self.files.examples(ex),
                explanation,
            };
            self.push(ci, f);
        }
    }

    fn scanner(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        let (th, counts) = (self.th, &cl.counts);
        let miss_share = if counts.requests > 0 { cl.scan.all_hits as f64 / counts.requests as f64 } else { 0.0 };
        let alone = cl.scan.all_hits >= th.scan_min
            && rare.miss_paths.len() >= th.scan_min_paths
            && miss_share >= th.scan_share;
        let in_group = self.group.has(ci);
        if !alone && !in_group {
            return;
        }
        let (ws, we, hits, tot) = cl.scan.best().unwrap_or((0, 0, 0, 0));
        let paths = if rare.miss_paths.len() >= super::MAX_MISS_PATHS {
            format!("{}+", rare.miss_paths.len())
        } else {
            rare.miss_paths.len().to_string()
        };
        let unknown = if self.spec_loaded { "unknown or undocumented" } else { "unknown" };
        let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let mut explanation = if alone {
            format!(
                "got 404/405 on {paths} distinct {unknown} paths, {} of its requests ({hits} of {tot} in the busiest {} s window) — probing for files and admin pages, not using the API",
                pct(miss_share),
                th.burst_window / 1_000_000_000
            )
        } else {
            format!(
                "sent {}, {} 404/405 on {} — too few for a scanner alone",
                plural(counts.requests, "request"),
                cl.scan.all_hits,
                plural(rare.miss_paths.len() as u64, &format!("{unknown} path"))
            )
        };
        if in_group {
            let shown: Vec<&str> = self.group_names.iter().take(3).map(String::as_str).collect();
            let more = self.group_names.len().saturating_sub(shown.len());
            let _ = write!(
                explanation,
                "; part of a distributed scan: {} clients each sending a few requests to the same junk paths ({}{}), 404/405 for nearly every caller",
                self.group.size,
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
        let f = PatternFinding {
            kind: PatternKind::Scanner,
            client: cl.id.clone(),
            endpoint: None,
            window_start: Some(ws),
            window_end: Some(we),
            count: cl.scan.all_hits,
            metric: miss_share,
            examples: self.files.examples(cl.scan.best_examples()),
            explanation,
        };
        self.push(ci, f);
    }

    fn auth_failures(&mut self, ci: usize, cl: &ClientAcc) {
        let th = self.th;
        let Some((ws, we, hits, tot)) = cl.auth.best() else { return };
        if hits >= th.auth_min && f64::from(hits) / f64::from(tot.max(1)) >= th.auth_share {
            let f = PatternFinding {
                kind: PatternKind::AuthFailures,
                client: cl.id.clone(),
                endpoint: None,
                window_start: Some(ws),
                window_end: Some(we),
                count: u64::from(hits),
                metric: f64::from(hits) / f64::from(tot.max(1)),
                examples: self.files.examples(cl.auth.best_examples()),
                explanation: format!(
                    "got {hits} 401/403 answers out of {tot} requests within {} s — a broken or expired credential retried, or guessing",
                    th.burst_window / 1_000_000_000
                ),
            };
            self.push(ci, f);
        }
    }

    fn no_credentials(&mut self, ci: usize, cl: &ClientAcc, rare: &Rare) {
        if cl.no_credentials == 0 {
            return;
        }
        let counts = &cl.counts;
        let f = PatternFinding {
            kind: PatternKind::NoCredentials,
            client: cl.id.clone(),
            endpoint: (rare.no_cred_endpoints.len() == 1)
                .then(|| rare.no_cred_endpoints.iter().next().map(|e| self.ep_name(*e)))
                .flatten(),
            window_start: counts.first,
            window_end: counts.last,
            count: cl.no_credentials,
            metric: cl.no_credentials as f64 / counts.requests.max(1) as f64,
            examples: self.files.examples(&rare.no_cred_examples),
            explanation: format!(
                "made {} calls to {} endpoint(s) without any credential (no Authorization, API key, session cookie or key parameter)",
                cl.no_credentials,
                rare.no_cred_endpoints.len()
            ),
        };
        self.push(ci, f);
    }

    /// Credential stuffing: many 401/403 from one address with several credentials.
    fn credential_stuffing<S>(&mut self, ip_auth: &HashMap<IpAddr, IpAuth, S>) {
        let th = self.th;
        let mut ips: Vec<_> = ip_auth.iter().collect();
        ips.sort_by_key(|(ip, _)| **ip);
        for (ip, ia) in ips {
            let Some((ws, we, hits, tot)) = ia.burst.best() else { continue };
            if ia.credentials.len() >= 3
                && hits >= th.auth_min
                && f64::from(hits) / f64::from(tot.max(1)) >= th.auth_share
            {
                self.findings.push(PatternFinding {
                    kind: PatternKind::AuthFailures,
                    client: format!("ip {ip}"),
                    endpoint: None,
                    window_start: Some(ws),
                    window_end: Some(we),
                    count: u64::from(hits),
                    metric: ia.credentials.len() as f64,
                    examples: self.files.examples(ia.burst.best_examples()),
                    explanation: format!(
                        "{hits} 401/403 answers from one address within {} s using {} different credentials — looks like credential stuffing",
                        th.burst_window / 1_000_000_000,
                        ia.credentials.len()
                    ),
                });
            }
        }
    }

    /// The slowest exchanges of the input, slowest first.
    fn slowest(&mut self, mut slow: Vec<(u32, u32, u32, ExampleRef)>, clients: &Chunked<ClientAcc, CLIENT_CHUNK>) {
        slow.sort_by_key(|x| std::cmp::Reverse(x.0));
        for (ttfb, c, e, ex) in slow {
            self.findings.push(PatternFinding {
                kind: PatternKind::Slowest,
                client: clients.get(c as usize).map_or_else(String::new, |x| x.id.clone()),
                endpoint: Some(self.ep_name(e)),
                window_start: ex.time,
                window_end: ex.time,
                count: 1,
                metric: ms(ttfb) / 1000.0,
                explanation: format!("took {:.1} ms of server time (TTFB), among the slowest in the input", ms(ttfb)),
                examples: vec![ex],
            });
        }
    }
}

/// Per client, the endpoints where it fares clearly worse than the endpoint's other clients
/// (slower median TTFB or more errors), for endpoints used by at least two clients.
/// The distributed-scanner group of the analysis (see [`scan_group`]): junk endpoints are
/// those where nearly every call got 404/405. Also the shared paths, named.
fn distributed_scan<S: std::hash::BuildHasher>(
    endpoints: &[EndpointAcc],
    clients: &Chunked<ClientAcc, CLIENT_CHUNK>,
    names: &HashMap<u64, String, S>,
    th: &Thresholds,
) -> (ScanGroup, Vec<String>) {
    let junk_of = |e: &EndpointAcc| {
        let c = &e.counts;
        let misses = c.statuses.get(&404).copied().unwrap_or(0) + c.statuses.get(&405).copied().unwrap_or(0);
        c.requests > 0 && misses as f64 / c.requests as f64 >= th.scan_junk_share
    };
    let junk: Vec<bool> = endpoints.iter().map(junk_of).collect();
    let profiles = clients.iter().map(|cl| MissProfile {
        requests: cl.counts.requests,
        misses: cl.rare.as_deref().map_or(&[][..], |r| &r.miss_eps),
    });
    let group = scan_group(profiles, |e| junk.get(e as usize).copied().unwrap_or(false), th);
    let shared = group.paths.iter().filter_map(|(h, _)| names.get(h).map(|n| visible(n).into_owned())).collect();
    (group, shared)
}

fn poor_experience(
    cell_stats: Vec<CellStat>,
    endpoints: &[EndpointReport],
    th: &Thresholds,
    n_cls: usize,
) -> Vec<Vec<PoorExperience>> {
    let mut poor: Vec<Vec<PoorExperience>> = vec![Vec::new(); n_cls];
    for (c, e, req, med, err) in cell_stats {
        let Some(ep) = endpoints.get(e as usize) else { continue };
        if ep.clients < 2 {
            continue;
        }
        let mut reasons = Vec::new();
        if let (Some(m), Some(t)) = (med, ep.kpis.ttfb) {
            if t.p50_us > 0 && f64::from(m) >= th.poor_latency_factor * f64::from(t.p50_us) {
                reasons.push(format!(
                    "median TTFB {:.1} ms is {:.1}× the endpoint's {:.1} ms",
                    ms(m),
                    f64::from(m) / f64::from(t.p50_us),
                    ms(t.p50_us)
                ));
            }
        }
        if err >= ep.kpis.error_rate + th.poor_error_gap {
            reasons.push(format!("error rate {} against the endpoint's {}", pct(err), pct(ep.kpis.error_rate)));
        }
        if !reasons.is_empty() {
            if let Some(p) = poor.get_mut(c as usize) {
                p.push(PoorExperience { endpoint: ep.name.clone(), reason: reasons.join("; "), requests: req });
            }
        }
    }
    poor
}

/// One report per status code (none: failed exchanges), in code order.
fn status_reports(statuses: &BTreeMap<Option<u16>, Counts>, log: &LatencyLog, all_req: f64) -> Vec<StatusReport> {
    let status_index: HashMap<Option<u16>, usize> = statuses.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let n_st = status_index.len();
    let st_ttfb = log.grouped(LatencyKind::Ttfb, n_st, |_, st| status_index.get(&st).copied());
    let st_total = log.grouped(LatencyKind::Total, n_st, |_, st| status_index.get(&st).copied());
    let mut out = Vec::with_capacity(n_st);
    for (i, (code, c)) in statuses.iter().enumerate() {
        out.push(StatusReport {
            status: *code,
            class: code.map_or("none", status_class).to_string(),
            share: c.requests as f64 / all_req,
            kpis: Kpis::from_sorted(c, st_ttfb.get(i), st_total.get(i)),
        });
    }
    out
}

/// Retention by slice (inputs, or `--window` time slices) when there is more than one slice
/// (or a window was asked for).
fn retention_of(ret_input: &[ClientSlices<'_>], inputs: usize, window: Option<Nanos>) -> Option<Retention> {
    let n_slices = ret_input.iter().filter_map(|c| c.slices.last().copied()).max().unwrap_or(0) + 1;
    if n_slices > 1 || inputs > 1 || window.is_some() {
        let kind = match window {
            Some(w) => format!("window of {} s", w / 1_000_000_000),
            None => "input".to_string(),
        };
        let slices = if window.is_none() { n_slices.max(u32::try_from(inputs).unwrap_or(1)) } else { n_slices };
        Some(retention::build(ret_input, slices, kind))
    } else {
        None
    }
}

// ------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned text tables.
    Text,
    /// JSON (the whole report).
    Json,
    /// CSV of the main table.
    Csv,
    /// Markdown tables.
    Markdown,
}

/// Which table leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Per endpoint.
    Endpoint,
    /// Per client.
    Client,
    /// Per status code.
    Status,
}

/// Longest cell of a text table (explanations, user agents, paths): longer ones end in `…`;
/// `--format json`, csv and markdown keep the whole text.
pub const TEXT_CELL_MAX: usize = 72;

/// A table: headers, rows, and which columns are numeric (right-aligned).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells (already escaped for display where needed).
    pub rows: Vec<Vec<String>>,
    /// Right-align column i.
    pub numeric: Vec<bool>,
}

impl Table {
    fn new(cols: &[(&str, bool)]) -> Self {
        Self {
            headers: cols.iter().map(|c| c.0.to_string()).collect(),
            rows: Vec::new(),
            numeric: cols.iter().map(|c| c.1).collect(),
        }
    }

    /// Aligned text, every cell at most [`TEXT_CELL_MAX`] characters (longer ones end in
    /// `…`; CSV, Markdown and JSON keep the whole text).
    #[must_use]
    pub fn text(&self) -> String {
        let cap = |c: &String| -> String {
            if c.chars().count() <= TEXT_CELL_MAX {
                c.clone()
            } else {
                let mut s: String = c.chars().take(TEXT_CELL_MAX - 1).collect();
                s.push('…');
                s
            }
        };
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(cap).collect()).collect();
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(x) = w.get_mut(i) {
                    *x = (*x).max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let width = w.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(c.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if self.numeric.get(i).copied().unwrap_or(false) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    if i + 1 < cells.len() {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for r in &rows {
            line(r, &mut out);
        }
        out
    }

    /// Markdown table.
    #[must_use]
    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", self.headers.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            self.numeric.iter().map(|n| if *n { "---:" } else { "---" }).collect::<Vec<_>>().join("|")
        );
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
        }
        out
    }

    /// CSV (RFC 4180 quoting).
    #[must_use]
    pub fn csv(&self) -> String {
        let q = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.headers.iter().map(|h| q(h)).collect::<Vec<_>>().join(","));
        for r in &self.rows {
            let _ = writeln!(out, "{}", r.iter().map(|c| q(c)).collect::<Vec<_>>().join(","));
        }
        out
    }
}

/// A capture time as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
#[must_use]
pub fn fmt_time(t: Nanos) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t))
        .ok()
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| t.to_string())
}

fn fmt_ms(us: Option<u32>) -> String {
    us.map_or_else(|| "-".to_string(), |v| format!("{:.1}", ms(v)))
}

fn fmt_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{b} B") } else { format!("{v:.1} {}", U.get(i).copied().unwrap_or("B")) }
}

fn kpi_cols() -> Vec<(&'static str, bool)> {
    vec![
        ("REQ", true),
        ("2XX", true),
        ("3XX", true),
        ("4XX", true),
        ("5XX", true),
        ("FAIL", true),
        ("ERR%", true),
        ("AVAIL%", true),
        ("TTFB p50", true),
        ("p90", true),
        ("p95", true),
        ("p99", true),
        ("max", true),
        ("TOTAL p50", true),
        ("p99", true),
    ]
}

fn kpi_cells(k: &Kpis, raw: bool) -> Vec<String> {
    let cl = |c: &str| k.status_classes.get(c).copied().unwrap_or(0).to_string();
    let t = k.ttfb;
    let d = k.total;
    let m = |v: Option<u32>| if raw { v.map_or_else(String::new, |x| format!("{:.3}", ms(x))) } else { fmt_ms(v) };
    let p = |x: f64| if raw { format!("{:.6}", x) } else { format!("{:.1}", x * 100.0) };
    vec![
        k.requests.to_string(),
        cl("2xx"),
        cl("3xx"),
        cl("4xx"),
        cl("5xx"),
        k.failed.to_string(),
        p(k.error_rate),
        p(k.availability),
        m(t.map(|x| x.p50_us)),
        m(t.map(|x| x.p90_us)),
        m(t.map(|x| x.p95_us)),
        m(t.map(|x| x.p99_us)),
        m(t.map(|x| x.max_us)),
        m(d.map(|x| x.p50_us)),
        m(d.map(|x| x.p99_us)),
    ]
}

/// The endpoint table (`raw`: machine-friendly numbers for CSV).
#[must_use]
pub fn endpoint_table(r: &Report, top: Option<usize>, raw: bool) -> Table {
    let mut cols = vec![("ENDPOINT", false)];
    cols.extend(kpi_cols());
    cols.extend([("RPS", true), ("PEAK/S", true), ("REQ BYTES", true), ("RESP BYTES", true), ("CLIENTS", true)]);
    if r.endpoints.iter().any(|e| e.documented.is_some()) {
        cols.push(("DOC", false));
    }
    let mut t = Table::new(&cols);
    for e in r.endpoints.iter().take(top.unwrap_or(usize::MAX)) {
        let mut row = vec![if raw { e.name.clone() } else { visible(&e.name).into_owned() }];
        row.extend(kpi_cells(&e.kpis, raw));
        let b = |x: u64| if raw { x.to_string() } else { fmt_bytes(x) };
        row.extend([
            format!("{:.2}", e.kpis.mean_rps),
            e.peak_rps.to_string(),
            b(e.kpis.sizes.request_wire),
            b(e.kpis.sizes.response_wire),
            e.clients.to_string(),
        ]);
        if let Some(d) = e.documented {
            row.push(if d { "yes" } else { "no" }.to_string());
        } else if t.headers.len() > row.len() {
            row.push("-".into());
        }
        t.rows.push(row);
    }
    t
}

/// The client table.
#[must_use]
pub fn client_table(r: &Report, top: Option<usize>, raw: bool) -> Table {
    let mut cols = vec![("CLIENT", false)];
    cols.extend(kpi_cols());
    cols.extend([
        ("REQ%", true),
        ("BYTES%", true),
        ("TIME%", true),
        ("ENDPOINTS", true),
        ("UNUSED", true),
        ("FIRST", false),
        ("LAST", false),
        ("FLAGS", false),
        ("USER AGENT", false),
    ]);
    let mut t = Table::new(&cols);
    let p = |x: f64| if raw { format!("{:.6}", x) } else { format!("{:.1}", x * 100.0) };
    for c in r.clients.iter().take(top.unwrap_or(usize::MAX)) {
        let esc = |s: &str| if raw { s.to_string() } else { visible(s).into_owned() };
        let mut row = vec![esc(&c.id)];
        row.extend(kpi_cells(&c.kpis, raw));
        let mut flags: Vec<String> = c.flags.iter().map(|f| f.label().to_string()).collect();
        if !c.poor_experience.is_empty() {
            flags.push("poor experience".into());
        }
        row.extend([
            p(c.share_requests),
            p(c.share_bytes),
            p(c.share_server_time),
            c.endpoints_used.len().to_string(),
            c.endpoints_unused.len().to_string(),
            c.kpis.first.map_or_else(String::new, fmt_time),
            c.kpis.last.map_or_else(String::new, fmt_time),
            flags.join("; "),
            esc(&c.user_agents.join(" | ")),
        ]);
        t.rows.push(row);
    }
    t
}

/// The status table.
#[must_use]
pub fn status_table(r: &Report, top: Option<usize>, raw: bool) -> Table {
    let mut t = Table::new(&[
        ("STATUS", true),
        ("CLASS", false),
        ("COUNT", true),
        ("SHARE%", true),
        ("TTFB p50", true),
        ("p99", true),
        ("TOTAL p50", true),
        ("p99", true),
    ]);
    let mut st: Vec<&StatusReport> = r.statuses.iter().collect();
    st.sort_by(|a, b| b.kpis.requests.cmp(&a.kpis.requests).then(a.status.cmp(&b.status)));
    let m = |v: Option<u32>| if raw { v.map_or_else(String::new, |x| format!("{:.3}", ms(x))) } else { fmt_ms(v) };
    for s in st.into_iter().take(top.unwrap_or(usize::MAX)) {
        t.rows.push(vec![
            s.status.map_or_else(|| "none".to_string(), |c| c.to_string()),
            s.class.clone(),
            s.kpis.requests.to_string(),
            if raw { format!("{:.6}", s.share) } else { format!("{:.1}", s.share * 100.0) },
            m(s.kpis.ttfb.map(|x| x.p50_us)),
            m(s.kpis.ttfb.map(|x| x.p99_us)),
            m(s.kpis.total.map(|x| x.p50_us)),
            m(s.kpis.total.map(|x| x.p99_us)),
        ]);
    }
    t
}

/// The findings table.
#[must_use]
pub fn findings_table(r: &Report, top: Option<usize>, raw: bool) -> Table {
    let mut t = Table::new(&[
        ("KIND", false),
        ("CLIENT", false),
        ("ENDPOINT", false),
        ("COUNT", true),
        ("FROM", false),
        ("TO", false),
        ("EXAMPLE", false),
        ("EXPLANATION", false),
    ]);
    let esc = |s: &str| if raw { s.to_string() } else { visible(s).into_owned() };
    let mut per_kind: BTreeMap<PatternKind, usize> = BTreeMap::new();
    for f in &r.findings {
        let n = per_kind.entry(f.kind).or_insert(0);
        *n += 1;
        if *n > top.unwrap_or(usize::MAX) {
            continue;
        }
        t.rows.push(vec![
            f.kind.label().to_string(),
            esc(&f.client),
            f.endpoint.as_deref().map_or_else(String::new, esc),
            f.count.to_string(),
            f.window_start.map_or_else(String::new, fmt_time),
            f.window_end.map_or_else(String::new, fmt_time),
            f.examples.first().map_or_else(String::new, |e| esc(&e.label())),
            esc(&f.explanation),
        ]);
    }
    t
}

fn summary_text(r: &Report) -> String {
    let s = &r.summary;
    let k = &s.kpis;
    let mut out = String::new();
    let span = match (k.first, k.last) {
        (Some(a), Some(b)) => format!("{} – {} UTC ({:.0} s)", fmt_time(a), fmt_time(b), secs(a, b)),
        _ => "no timestamps".to_string(),
    };
    let _ = writeln!(
        out,
        "{} exchanges, {} clients (key {}), {} endpoints, {span}",
        k.requests, s.clients, s.client_key, s.endpoints
    );
    let _ = writeln!(
        out,
        "availability {}, error rate {} (4xx {}, 5xx {}, failed {}), TTFB p50 {} ms p99 {} ms, total p50 {} ms p99 {} ms",
        pct(k.availability),
        pct(k.error_rate),
        k.errors_4xx,
        k.errors_5xx,
        k.failed,
        fmt_ms(k.ttfb.map(|x| x.p50_us)),
        fmt_ms(k.ttfb.map(|x| x.p99_us)),
        fmt_ms(k.total.map(|x| x.p50_us)),
        fmt_ms(k.total.map(|x| x.p99_us)),
    );
    let _ = writeln!(
        out,
        "bytes on the wire: requests {}, responses {} (decoded {})",
        fmt_bytes(k.sizes.request_wire),
        fmt_bytes(k.sizes.response_wire),
        fmt_bytes(k.sizes.response_decoded)
    );
    if s.unidentified > 0 || s.untimed > 0 || s.file_diagnostics > 0 || s.exchanges_with_diagnostics > 0 {
        let _ = writeln!(
            out,
            "note: {} exchanges without the client key's evidence, {} without timestamps, {} file diagnostics, {} exchanges with diagnostics",
            s.unidentified, s.untimed, s.file_diagnostics, s.exchanges_with_diagnostics
        );
    }
    out
}

fn extras(r: &Report, top: Option<usize>, md: bool) -> String {
    let mut out = String::new();
    let head = |t: &str| if md { format!("\n## {t}\n\n") } else { format!("\n{t}\n") };
    let poor: Vec<(&ClientReport, &PoorExperience)> =
        r.clients.iter().flat_map(|c| c.poor_experience.iter().map(move |p| (c, p))).collect();
    if !poor.is_empty() {
        out.push_str(&head(&format!("Poor experience ({})", poor.len())));
        let mut t = Table::new(&[("CLIENT", false), ("ENDPOINT", false), ("REQ", true), ("REASON", false)]);
        for (c, p) in poor.iter().take(top.unwrap_or(usize::MAX)) {
            t.rows.push(vec![
                visible(&c.id).into_owned(),
                visible(&p.endpoint).into_owned(),
                p.requests.to_string(),
                p.reason.clone(),
            ]);
        }
        out.push_str(&if md { t.markdown() } else { t.text() });
    }
    let down: Vec<(&EndpointReport, &Downtime)> =
        r.endpoints.iter().flat_map(|e| e.downtime.iter().map(move |d| (e, d))).collect();
    if !down.is_empty() {
        out.push_str(&head(&format!("Downtime windows ({})", down.len())));
        let mut t =
            Table::new(&[("ENDPOINT", false), ("FROM", false), ("TO", false), ("SECONDS", true), ("WHAT", false)]);
        for (e, d) in down.iter().take(top.unwrap_or(usize::MAX)) {
            t.rows.push(vec![
                visible(&e.name).into_owned(),
                fmt_time(d.start),
                fmt_time(d.end),
                format!("{:.1}", secs(d.start, d.end)),
                if d.silent { "no calls".to_string() } else { format!("{} failures in a row", d.failures) },
            ]);
        }
        out.push_str(&if md { t.markdown() } else { t.text() });
    }
    for (title, feeds) in [("Streams by endpoint", &r.feeds), ("Streams by client", &r.client_feeds)] {
        if feeds.is_empty() {
            continue;
        }
        out.push_str(&head(&format!("{title} ({})", feeds.len())));
        let t = feed_table(feeds, top);
        out.push_str(&if md { t.markdown() } else { t.text() });
    }
    let stalls: Vec<(&FeedKpis, &super::feed::Gap)> =
        r.feeds.iter().flat_map(|f| f.stalled.iter().map(move |g| (f, g))).collect();
    if !stalls.is_empty() {
        out.push_str(&head(&format!("Stalled feeds ({})", r.feeds.iter().map(|f| f.stalls).sum::<u64>())));
        let mut t =
            Table::new(&[("ENDPOINT", false), ("GAP", true), ("THRESHOLD", true), ("AT", false), ("EXCHANGE", false)]);
        for (f, g) in stalls.iter().take(top.unwrap_or(usize::MAX)) {
            t.rows.push(vec![
                visible(&f.name).into_owned(),
                fmt_ms(Some(g.gap_us)),
                f.stall_threshold_us.map_or_else(|| "-".into(), |v| fmt_ms(Some(u32::try_from(v).unwrap_or(u32::MAX)))),
                fmt_time(g.at),
                format!("{}#{}", visible(&g.file), g.exchange),
            ]);
        }
        out.push_str(&if md { t.markdown() } else { t.text() });
    }
    if let Some(ret) = &r.retention {
        out.push_str(&head(&format!("Retention ({} slices by {})", ret.slices, ret.slice_kind)));
        let list = |v: &[String]| {
            let shown: Vec<String> =
                v.iter().take(top.unwrap_or(usize::MAX)).map(|s| visible(s).into_owned()).collect();
            let more = v.len().saturating_sub(shown.len());
            if more > 0 { format!("{} (+{more} more)", shown.join(", ")) } else { shown.join(", ") }
        };
        let bullet = if md { "- " } else { "  " };
        let _ = writeln!(
            out,
            "{bullet}active per slice: {}",
            ret.active_per_slice.iter().map(ToString::to_string).collect::<Vec<_>>().join(" → ")
        );
        let _ = writeln!(out, "{bullet}retained (first and last): {}", ret.retained);
        let _ =
            writeln!(out, "{bullet}active in the first, not the last ({}): {}", ret.churned.len(), list(&ret.churned));
        let _ = writeln!(out, "{bullet}new in the last ({}): {}", ret.new_in_last.len(), list(&ret.new_in_last));
        let narrow: Vec<String> = ret.narrow.iter().map(|(c, n)| format!("{c} ({n})")).collect();
        let _ = writeln!(out, "{bullet}used only 1–2 endpoints ({}): {}", narrow.len(), list(&narrow));
        let _ =
            writeln!(out, "{bullet}never succeeded ({}): {}", ret.never_succeeded.len(), list(&ret.never_succeeded));
        if let Some(p) = ret.time_to_first_success {
            let _ = writeln!(
                out,
                "{bullet}time from first call to first success: p50 {:.1} s, p90 {:.1} s, max {:.1} s",
                ms(p.p50_us) / 1000.0,
                ms(p.p90_us) / 1000.0,
                ms(p.max_us) / 1000.0
            );
        }
    }
    out
}

/// The feed KPI table: one row per streaming endpoint or client.
fn feed_table(feeds: &[FeedKpis], top: Option<usize>) -> Table {
    let cols: Vec<(&str, bool)> =
        std::iter::once(("NAME", false)).chain(super::feed::FEED_COLUMNS.iter().map(|c| (*c, *c != "ENDED"))).collect();
    let mut t = Table::new(&cols);
    for f in feeds.iter().take(top.unwrap_or(usize::MAX)) {
        t.rows.push(std::iter::once(visible(&f.name).into_owned()).chain(f.cells()).collect());
    }
    t
}

/// Render the report.
///
/// # Errors
/// Only JSON serialisation can fail (it does not for this data).
pub fn render(r: &Report, format: ReportFormat, by: By, top: Option<usize>) -> Result<String, serde_json::Error> {
    let main = |raw: bool| match by {
        By::Endpoint => endpoint_table(r, top, raw),
        By::Client => client_table(r, top, raw),
        By::Status => status_table(r, top, raw),
    };
    let title = match by {
        By::Endpoint => "Endpoints",
        By::Client => "Clients",
        By::Status => "Status codes",
    };
    Ok(match format {
        ReportFormat::Json => {
            let mut out = Vec::new();
            write_json(r, top, &mut out)?;
            String::from_utf8(out).unwrap_or_default()
        }
        ReportFormat::Csv => main(true).csv(),
        ReportFormat::Text => {
            let mut out = summary_text(r);
            let t = main(false);
            let _ = write!(out, "\n{title} ({} of {})\n", t.rows.len(), main_len(r, by));
            out.push_str(&t.text());
            let f = findings_table(r, top, false);
            let _ = write!(out, "\nFindings ({})\n", r.findings.len());
            if f.rows.is_empty() {
                out.push_str("  none\n");
            } else {
                out.push_str(&f.text());
            }
            out.push_str(&extras(r, top, false));
            out
        }
        ReportFormat::Markdown => {
            let mut out = String::from("# apiscope stats\n\n");
            for l in summary_text(r).lines() {
                let _ = writeln!(out, "- {}", l.replace('|', "\\|"));
            }
            let t = main(false);
            let _ = write!(out, "\n## {title} ({} of {})\n\n", t.rows.len(), main_len(r, by));
            out.push_str(&t.markdown());
            let _ = write!(out, "\n## Findings ({})\n\n", r.findings.len());
            out.push_str(&findings_table(r, top, false).markdown());
            out.push_str(&extras(r, top, true));
            out
        }
    })
}

/// The report as pretty JSON (with `top`, at most that many endpoints, clients and findings
/// per kind) written straight to `w`: the document is never held whole in memory.
///
/// # Errors
/// Serialisation or write errors.
pub fn write_json(r: &Report, top: Option<usize>, w: &mut impl std::io::Write) -> Result<(), serde_json::Error> {
    if let Some(n) = top {
        let mut cut = r.clone();
        cut.endpoints.truncate(n);
        cut.clients.truncate(n);
        let mut per: BTreeMap<PatternKind, usize> = BTreeMap::new();
        cut.findings.retain(|f| {
            let c = per.entry(f.kind).or_insert(0);
            *c += 1;
            *c <= n
        });
        serde_json::to_writer_pretty(&mut *w, &cut)?;
    } else {
        serde_json::to_writer_pretty(&mut *w, r)?;
    }
    w.write_all(b"\n").map_err(serde_json::Error::io)
}

fn main_len(r: &Report, by: By) -> usize {
    match by {
        By::Endpoint => r.endpoints.len(),
        By::Client => r.clients.len(),
        By::Status => r.statuses.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tables_cap_long_cells_and_csv_keeps_them() {
        let mut t = Table::new(&[("client", false), ("why", false)]);
        t.rows.push(vec!["a".into(), "x".repeat(400)]);
        let text = t.text();
        let row = text.lines().nth(1).unwrap();
        assert!(row.chars().count() <= 8 + TEXT_CELL_MAX, "{}", row.chars().count());
        assert!(row.ends_with('…'));
        assert!(t.csv().contains(&"x".repeat(400)));
    }
}
