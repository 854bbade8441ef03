//! The insight views' data (gaps, endpoint KPIs, clients, structure) and the background
//! worker that recomputes it for the flows the filter shows. The UI thread hands the worker a
//! [`Job`] (the shown flows as shared exchanges, tagged with a generation number); the worker
//! runs the spec checker and the `analysis` KPIs over them and sends back an [`Insight`].
//! A newer job cancels an older one mid-way; results of stale generations are dropped by
//! [`InsightWorker::poll`]. Progress is two atomics the status bar reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use crate::analysis::endpoint::{EndpointNamer, InferredNames, SpecNamer, spec_name};
use crate::analysis::flags::ClientFlags;
use crate::analysis::kpi::ns_to_us;
use crate::analysis::report::Report;
use crate::analysis::{Analyzer, Config};
use crate::ingest::Sink as _;
use crate::model::{Exchange, Nanos, Severity};
use crate::spec::check::{Checker, FindingKind};
use crate::spec::coverage::{Coverage, CoverageAcc};
use crate::spec::{RouteResult, Spec};
use crate::store::FlowId;
use crate::store::reread::ScanPlan;

/// One recomputation request.
#[derive(Debug, Default)]
pub struct Job {
    /// Generation: results of older generations are dropped.
    pub generation: u64,
    /// The shown flows held in memory.
    pub flows: Vec<(FlowId, Arc<Exchange>)>,
    /// The shown flows held in their source files: the worker reads them in one pass
    /// before computing (bodies beyond 16 KiB are dropped unless a spec checks them).
    pub plan: Option<ScanPlan>,
    /// Number of shown flows (for progress).
    pub total: usize,
}

/// Read the flows of `job.plan` into `job.flows`; false when a newer job superseded it.
fn materialize(job: &mut Job, keep_bodies: bool, p: &Progress) -> bool {
    let Some(plan) = job.plan.take() else { return true };
    let generation = job.generation;
    let stop = || p.latest.load(Ordering::Relaxed) != generation;
    let mut got = Vec::with_capacity(plan.len());
    let res = plan.run(&stop, &mut |id, ex| {
        let mut e = ex.clone();
        if !keep_bodies {
            // What the analysis reads of a body (response fingerprints) fits in 16 KiB.
            e.request.body.content = Vec::new();
            if let Some(r) = e.response.as_mut() {
                r.body.content.truncate(16 * 1024);
                r.body.content.shrink_to_fit();
                r.body.wire = None;
            }
        }
        got.push((id, Arc::new(e)));
        if got.len() % 2048 == 0 {
            p.done.store(got.len(), Ordering::Relaxed);
        }
    });
    if matches!(res, Err(crate::store::reread::ScanError::Stopped)) {
        return false;
    }
    p.done.store(0, Ordering::Relaxed);
    job.flows.append(&mut got);
    true
}

/// One contract finding over the shown flows (grouped by kind, endpoint and subject).
#[derive(Debug, Clone)]
pub struct GapGroup {
    /// The kind.
    pub kind: FindingKind,
    /// Worst severity seen.
    pub severity: Severity,
    /// Endpoint (documented or inferred), or the host for undocumented servers.
    pub endpoint: String,
    /// What in the endpoint (may be empty).
    pub subject: String,
    /// Message of the first occurrence (escaped by the checker).
    pub message: String,
    /// The exchanges with this finding, in time order.
    pub flows: Vec<FlowId>,
    /// Distinct clients, busiest first, with their counts.
    pub clients: Vec<(String, u64)>,
    /// First seen.
    pub first: Option<Nanos>,
    /// Last seen.
    pub last: Option<Nanos>,
    /// JSON pointer of the operation in the spec, when routed to one.
    pub pointer: Option<String>,
}

impl GapGroup {
    /// The `~gap` tag that selects exactly this finding's exchanges (see [`gap_tags`]).
    #[must_use]
    pub fn tag(&self) -> String {
        finding_tag(self.kind, &self.endpoint, &self.subject)
    }

    /// The filter that shows exactly this finding's exchanges.
    #[must_use]
    pub fn filter(&self) -> String {
        format!("~gap {}", quote(&self.tag()))
    }
}

pub use crate::spec::check::{finding_tag, finding_tags as gap_tags};

/// Quote a filter argument (double quotes, backslash escapes).
#[must_use]
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The endpoint name of an exchange: the spec operation, else the inferred template.
#[must_use]
pub fn endpoint_name(spec: Option<&Spec>, ex: &Exchange) -> String {
    match spec {
        Some(s) => spec_name(s, ex).name,
        None => crate::analysis::endpoint::inferred_name(ex),
    }
}

/// Contract gaps over the shown flows.
#[derive(Debug, Clone)]
pub struct Gaps {
    /// Findings, worst first, then by count.
    pub groups: Vec<GapGroup>,
    /// Coverage of the spec by the shown flows.
    pub coverage: Coverage,
    /// Shown exchanges that routed to an operation.
    pub documented: u64,
}

/// Statistics of one structure node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStats {
    /// Exchanges.
    pub count: u64,
    /// 4xx, 5xx or failed.
    pub errors: u64,
    /// Exact p95 of the total duration in µs (nearest rank), when any duration is known.
    pub p95_us: Option<u32>,
}

/// One node of the host → endpoint → path tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Depth (0 host, 1 endpoint, 2 concrete path).
    pub depth: u8,
    /// Label (raw; escape when drawing).
    pub label: String,
    /// Stats.
    pub stats: NodeStats,
    /// The filter that shows this node's flows.
    pub filter: String,
    /// Key used for expand/collapse.
    pub key: String,
}

/// Everything the insight views draw, for one generation.
#[derive(Debug, Clone)]
pub struct Insight {
    /// Generation it was computed for.
    pub generation: u64,
    /// Flows it covers.
    pub flows: usize,
    /// Endpoint, client, status KPIs and client patterns.
    pub report: Report,
    /// Contract gaps (with a spec).
    pub gaps: Option<Gaps>,
    /// The structure tree, flattened in display order (all nodes; the view hides collapsed).
    pub tree: Vec<Node>,
    /// Per endpoint: total-duration histogram (bucket label, count).
    pub histograms: HashMap<String, Vec<(String, u64)>>,
    /// First and last request start of the shown flows.
    pub span: Option<(Nanos, Nanos)>,
    /// Milliseconds the computation took.
    pub elapsed_ms: f64,
    /// Problem loading the spec, if any.
    pub spec_error: Option<String>,
}

/// Shared state of the worker for progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Exchanges processed in the current job.
    pub done: AtomicUsize,
    /// Exchanges in the current job.
    pub total: AtomicUsize,
    /// The newest generation submitted (older jobs stop early).
    pub latest: AtomicU64,
}

/// The background recomputation thread.
#[derive(Debug)]
pub struct InsightWorker {
    tx: Option<Sender<Job>>,
    rx: Receiver<Insight>,
    /// Progress of the running job.
    pub progress: Arc<Progress>,
    handle: Option<JoinHandle<()>>,
}

impl InsightWorker {
    /// Start the worker over an already loaded spec (shared with the filter context).
    #[must_use]
    pub fn spawn(spec: Option<Arc<Spec>>, checker: Option<Arc<Checker>>, spec_error: Option<String>) -> Self {
        let (tx, jobs) = crossbeam_channel::unbounded::<Job>();
        let (out, rx) = crossbeam_channel::unbounded::<Insight>();
        let progress = Arc::new(Progress::default());
        let p = Arc::clone(&progress);
        let handle = std::thread::Builder::new()
            .name("apiscope-insight".into())
            .spawn(move || {
                while let Ok(mut job) = jobs.recv() {
                    // only the newest queued job matters
                    while let Ok(j) = jobs.try_recv() {
                        job = j;
                    }
                    if !materialize(&mut job, checker.is_some(), &p) {
                        continue;
                    }
                    if let Some(mut r) = compute(job, spec.as_deref(), checker.as_deref(), &p) {
                        r.spec_error.clone_from(&spec_error);
                        if out.send(r).is_err() {
                            break;
                        }
                    }
                }
            })
            .ok();
        Self { tx: Some(tx), rx, progress, handle }
    }

    /// Queue a recomputation; older running jobs stop.
    pub fn submit(&self, job: Job) {
        self.progress.latest.store(job.generation, Ordering::SeqCst);
        self.progress.done.store(0, Ordering::SeqCst);
        self.progress.total.store(job.total.max(job.flows.len()), Ordering::SeqCst);
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }

    /// The newest finished result, if any; stale generations are dropped.
    #[must_use]
    pub fn poll(&self) -> Option<Insight> {
        let latest = self.progress.latest.load(Ordering::SeqCst);
        let mut best = None;
        while let Ok(r) = self.rx.try_recv() {
            if r.generation == latest {
                best = Some(r);
            }
        }
        best
    }

    /// Block until the result of the newest generation arrives (tests, benchmarks).
    #[must_use]
    pub fn wait(&self, timeout: std::time::Duration) -> Option<Insight> {
        let latest = self.progress.latest.load(Ordering::SeqCst);
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) if r.generation == latest => return Some(r),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for InsightWorker {
    fn drop(&mut self) {
        self.progress.latest.store(u64::MAX, Ordering::SeqCst);
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn p95(v: &mut [u32]) -> Option<u32> {
    v.sort_unstable();
    crate::analysis::kpi::nearest_rank(v, 95.0)
}

fn is_error(ex: &Exchange) -> bool {
    ex.is_failed() || ex.response.is_none() || ex.status().is_none_or(|s| s >= 400 || s == 0)
}

/// An endpoint's stats with its concrete paths.
type EpAcc = (Acc, BTreeMap<String, Acc>);

#[derive(Default)]
struct Acc {
    count: u64,
    errors: u64,
    durs: Vec<u32>,
}

impl Acc {
    fn add(&mut self, ex: &Exchange) {
        self.count += 1;
        if is_error(ex) {
            self.errors += 1;
        }
        if let Some(d) = ex.duration() {
            self.durs.push(ns_to_us(d));
        }
    }
    fn stats(&mut self) -> NodeStats {
        NodeStats { count: self.count, errors: self.errors, p95_us: p95(&mut self.durs) }
    }
}

/// Log-spaced histogram of durations (µs) in at most 12 buckets.
#[must_use]
pub fn histogram(values: &[u32]) -> Vec<(String, u64)> {
    let (Some(&lo), Some(&hi)) = (values.iter().min(), values.iter().max()) else { return vec![] };
    let lo = f64::from(lo.max(1));
    let hi = f64::from(hi.max(1)) * 1.000_001;
    let n = 12usize;
    let step = if hi > lo { (hi / lo).ln() / n as f64 } else { 1.0 };
    let mut counts = vec![0u64; n];
    for &v in values {
        let x = f64::from(v.max(1));
        let i = if hi > lo { (((x / lo).ln() / step) as usize).min(n - 1) } else { 0 };
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    (0..n)
        .map(|i| {
            let edge = lo * (step * i as f64).exp();
            (short_us(edge), counts.get(i).copied().unwrap_or(0))
        })
        .collect()
}

/// Log-spaced histograms of two sets of durations (µs) on the same at most 12 buckets:
/// (lower edge of each bucket, counts of `a`, counts of `b`).
#[must_use]
pub fn histogram_pair(a: &[u32], b: &[u32]) -> (Vec<String>, Vec<u64>, Vec<u64>) {
    let all = || a.iter().chain(b);
    let (Some(&lo), Some(&hi)) = (all().min(), all().max()) else { return (vec![], vec![], vec![]) };
    let lo = f64::from(lo.max(1));
    let hi = f64::from(hi.max(1)) * 1.000_001;
    let n = 12usize;
    let step = if hi > lo { (hi / lo).ln() / n as f64 } else { 1.0 };
    let count = |values: &[u32]| {
        let mut counts = vec![0u64; n];
        for &v in values {
            let x = f64::from(v.max(1));
            let i = if hi > lo { (((x / lo).ln() / step) as usize).min(n - 1) } else { 0 };
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        counts
    };
    let labels = (0..n).map(|i| short_us(lo * (step * i as f64).exp())).collect();
    (labels, count(a), count(b))
}

/// A bucket edge with its unit: `850µs`, `12ms`, `1.5s` (never a bare `m`, which means
/// minutes in filters).
fn short_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1_000_000.0 {
        format!("{:.0}ms", us / 1000.0)
    } else {
        format!("{:.1}s", us / 1e6)
    }
}

/// Compute the insight of one job; `None` when a newer job superseded it.
#[must_use]
pub fn compute(mut job: Job, spec: Option<&Spec>, checker: Option<&Checker>, p: &Progress) -> Option<Insight> {
    let t = Instant::now();
    job.flows.sort_by_key(|(id, ex)| (ex.timing.start().unwrap_or(i64::MIN), *id));
    let mut analyzer = match spec {
        Some(s) => Analyzer::new(Config::default(), Box::new(SpecNamer(s))),
        None => Analyzer::new(Config::default(), Box::new(InferredNames)),
    };
    let namer: Box<dyn EndpointNamer + '_> = match spec {
        Some(s) => Box::new(SpecNamer(s)),
        None => Box::new(InferredNames),
    };
    let mut groups: HashMap<(FindingKind, String, String), GapGroup> = HashMap::new();
    let mut group_clients: HashMap<(FindingKind, String, String), HashMap<String, u64>> = HashMap::new();
    let mut coverage = spec.map(CoverageAcc::new);
    let mut documented = 0u64;
    let mut tree: BTreeMap<String, (Acc, BTreeMap<String, EpAcc>)> = BTreeMap::new();
    let mut durs: HashMap<String, Vec<u32>> = HashMap::new();
    let mut span: Option<(Nanos, Nanos)> = None;
    for (i, (id, ex)) in job.flows.iter().enumerate() {
        if i % 2048 == 0 {
            if p.latest.load(Ordering::Relaxed) != job.generation {
                return None;
            }
            p.done.store(i, Ordering::Relaxed);
        }
        analyzer.exchange(ex);
        if let Some(s) = ex.timing.start() {
            span = Some(span.map_or((s, s), |(a, b)| (a.min(s), b.max(s))));
        }
        let ep = namer.name(ex).name;
        let host = ex.host();
        let h = tree.entry(host).or_default();
        h.0.add(ex);
        let e = h.1.entry(ep.clone()).or_default();
        e.0.add(ex);
        e.1.entry(ex.request.path().to_string()).or_default().add(ex);
        if let Some(d) = ex.duration() {
            durs.entry(ep).or_default().push(ns_to_us(d));
        }
        if let Some(c) = checker {
            let ev = c.evaluate(ex);
            let pointer = match &ev.route {
                RouteResult::Operation { id, .. } => {
                    documented += 1;
                    if let Some(cov) = coverage.as_mut() {
                        cov.record(*id, ex.status(), &ev.params_used);
                    }
                    spec.and_then(|s| s.operations.get(*id)).map(|o| o.pointer.clone())
                }
                _ => None,
            };
            let client = crate::model::client::identify(ex, &crate::model::client::ClientKey::Auto)
                .map_or_else(|| "-".to_string(), |c| c.0);
            let mut seen: Vec<(FindingKind, &str, &str)> = Vec::new();
            for o in &ev.observations {
                if seen.contains(&(o.kind, o.endpoint.as_str(), o.subject.as_str())) {
                    continue;
                }
                seen.push((o.kind, o.endpoint.as_str(), o.subject.as_str()));
                let key = (o.kind, o.endpoint.clone(), o.subject.clone());
                let g = groups.entry(key.clone()).or_insert_with(|| GapGroup {
                    kind: o.kind,
                    severity: o.severity,
                    endpoint: o.endpoint.clone(),
                    subject: o.subject.clone(),
                    message: o.message.clone(),
                    flows: Vec::new(),
                    clients: Vec::new(),
                    first: None,
                    last: None,
                    pointer: pointer.clone(),
                });
                g.severity = g.severity.max(o.severity);
                g.flows.push(*id);
                let time = ex.timing.start();
                g.first = match (g.first, time) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                g.last = g.last.max(time);
                *group_clients.entry(key).or_default().entry(client.clone()).or_default() += 1;
            }
        }
    }
    p.done.store(job.flows.len(), Ordering::Relaxed);
    let report = analyzer.finish();
    let gaps = spec.map(|s| {
        let mut gs: Vec<GapGroup> = groups
            .into_iter()
            .map(|(k, mut g)| {
                let mut cl: Vec<(String, u64)> = group_clients.remove(&k).unwrap_or_default().into_iter().collect();
                cl.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                g.clients = cl;
                g
            })
            .collect();
        gs.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind.cmp(&b.kind))
                .then(b.flows.len().cmp(&a.flows.len()))
                .then_with(|| a.endpoint.cmp(&b.endpoint))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        Gaps { groups: gs, coverage: coverage.map(|c| c.finish(s)).unwrap_or_default(), documented }
    });
    let mut nodes = Vec::new();
    for (host, (mut hacc, eps)) in tree {
        let hf = format!("~d {}", quote(&format!("^{}$", regex::escape(&host))));
        nodes.push(Node { depth: 0, label: host.clone(), stats: hacc.stats(), filter: hf.clone(), key: host.clone() });
        let mut eps: Vec<_> = eps.into_iter().collect();
        eps.sort_by(|a, b| b.1.0.count.cmp(&a.1.0.count).then_with(|| a.0.cmp(&b.0)));
        for (ep, (mut eacc, paths)) in eps {
            let ef = format!("{hf} & ~ep {}", quote(&ep));
            let ek = format!("{host}\u{0}{ep}");
            nodes.push(Node { depth: 1, label: ep.clone(), stats: eacc.stats(), filter: ef.clone(), key: ek.clone() });
            let mut paths: Vec<_> = paths.into_iter().collect();
            paths.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
            for (path, mut pacc) in paths {
                let (m, _) = ep.split_once(' ').unwrap_or(("", ""));
                let pf = format!(
                    "{hf} & ~m {} & ~u {}",
                    quote(&format!("^{}$", regex::escape(m))),
                    quote(&format!("^[a-z]+://[^/]*{}(\\?|$)", regex::escape(&path)))
                );
                nodes.push(Node {
                    depth: 2,
                    label: path.clone(),
                    stats: pacc.stats(),
                    filter: if m.is_empty() { ef.clone() } else { pf },
                    key: format!("{ek}\u{0}{path}"),
                });
            }
        }
    }
    let histograms = durs.into_iter().map(|(k, v)| (k, histogram(&v))).collect();
    Some(Insight {
        generation: job.generation,
        flows: job.flows.len(),
        report,
        gaps,
        tree: nodes,
        histograms,
        span,
        elapsed_ms: t.elapsed().as_secs_f64() * 1e3,
        spec_error: None,
    })
}

/// The pattern flags of every loaded client (`~flag`), shared between the filter context
/// and the background pass that computes them ([`client_flags`]); empty until it is done.
#[derive(Debug, Clone, Default)]
pub struct FlagCell(Arc<std::sync::RwLock<Option<Arc<ClientFlags>>>>);

impl FlagCell {
    /// The flags, once computed.
    #[must_use]
    pub fn get(&self) -> Option<Arc<ClientFlags>> {
        self.0.read().ok().and_then(|g| g.clone())
    }

    /// Store computed flags.
    pub fn set(&self, flags: ClientFlags) {
        if let Ok(mut g) = self.0.write() {
            *g = Some(Arc::new(flags));
        }
    }
}

/// The pattern flags of `flows` taken in the order given (read order, as `apiscope stats`
/// reads them), with the analyzer and thresholds of `apiscope stats`: what `~flag` reads.
#[must_use]
pub fn client_flags<'a>(flows: impl IntoIterator<Item = &'a Exchange>, spec: Option<&Spec>) -> ClientFlags {
    let mut a = crate::analysis::flags::analyzer(spec);
    for ex in flows {
        a.exchange(ex);
    }
    ClientFlags::from_report(&a.finish())
}

/// Read the flows of `job` (from memory or their files) and compute [`client_flags`] over
/// them in flow-id order (the order they were read in).
#[must_use]
pub fn client_flags_of_job(mut job: Job, spec: Option<&Spec>) -> ClientFlags {
    let _ = materialize(&mut job, false, &Progress::default());
    job.flows.sort_by_key(|(id, _)| *id);
    client_flags(job.flows.iter().map(|(_, e)| &**e), spec)
}

/// The spec-aware filter context: `~ep` names endpoints like the views do, `~gap` answers
/// with the checker's finding tags, `~flag` with the clients' pattern flags.
#[derive(Debug, Clone, Default)]
pub struct SpecContext {
    /// The loaded spec.
    pub spec: Option<Arc<Spec>>,
    /// Its checker.
    pub checker: Option<Arc<Checker>>,
    /// Pattern flags per client, once computed.
    pub flags: FlagCell,
}

impl crate::tui::filterbar::Extra for SpecContext {
    fn endpoints(&self, ex: &Exchange) -> Vec<String> {
        crate::analysis::endpoint::filter_names(self.spec.as_deref(), ex)
    }
    fn gaps(&self, ex: &Exchange) -> Vec<String> {
        self.checker.as_ref().map(|c| gap_tags(c, ex)).unwrap_or_default()
    }
    fn flags(&self, client: &str) -> Vec<String> {
        self.flags.get().map(|f| f.tags(client)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Request, Response, Timing};

    fn ex(i: i64, path: &str, status: u16) -> Arc<Exchange> {
        Arc::new(Exchange {
            request: Request {
                method: "GET".into(),
                target: path.into(),
                host: Some("api.test".into()),
                ..Request::default()
            },
            response: Some(Response { status, ..Response::default() }),
            timing: Timing {
                request_start: Some(i * 1_000_000_000),
                response_start: Some(i * 1_000_000_000 + 5_000_000),
                response_end: Some(i * 1_000_000_000 + 9_000_000),
                ..Timing::default()
            },
            ..Exchange::default()
        })
    }

    fn job(generation: u64, n: u32) -> Job {
        Job {
            generation,
            flows: (0..n)
                .map(|i| (i, ex(i64::from(i), &format!("/v1/items/{}", i + 1), if i % 4 == 0 { 500 } else { 200 })))
                .collect(),
            ..Job::default()
        }
    }

    #[test]
    fn worker_returns_the_newest_generation_and_drops_stale_ones() {
        let w = InsightWorker::spawn(None, None, None);
        w.submit(job(1, 50));
        w.submit(job(2, 8));
        let r = w.wait(std::time::Duration::from_secs(30)).unwrap();
        assert_eq!(r.generation, 2);
        assert_eq!(r.flows, 8);
        assert!(w.poll().is_none(), "a stale generation-1 result is never delivered");
    }

    #[test]
    fn a_superseded_job_stops_without_a_result() {
        let p = Progress::default();
        p.latest.store(7, Ordering::SeqCst);
        assert!(compute(job(6, 10), None, None, &p).is_none());
        assert!(compute(job(7, 10), None, None, &p).is_some());
    }

    #[test]
    fn kpis_structure_and_histogram_cover_exactly_the_job() {
        let p = Progress::default();
        p.latest.store(1, Ordering::SeqCst);
        let r = compute(job(1, 8), None, None, &p).unwrap();
        assert_eq!(r.report.endpoints.len(), 1);
        let e = &r.report.endpoints[0];
        assert_eq!(e.name, "GET /v1/items/{id}");
        assert_eq!(e.kpis.requests, 8);
        assert_eq!(e.kpis.errors_5xx, 2);
        let host = &r.tree[0];
        assert_eq!((host.depth, host.stats.count, host.stats.errors), (0, 8, 2));
        assert_eq!(host.stats.p95_us, Some(9_000));
        assert_eq!(r.tree.iter().filter(|n| n.depth == 2).count(), 8);
        let h: u64 = r.histograms[&e.name].iter().map(|b| b.1).sum();
        assert_eq!(h, 8);
        assert!(r.gaps.is_none());
        assert_eq!(r.span, Some((0, 7_000_000_000)));
    }

    #[test]
    fn finding_tags_and_quoting() {
        assert_eq!(finding_tag(FindingKind::UndocumentedPath, "GET /x/{id}", ""), "undocumented_path GET /x/{id}");
        assert_eq!(
            finding_tag(FindingKind::UndocumentedQueryParameter, "GET /x", "query parameter q"),
            "undocumented_query_parameter GET /x: query parameter q"
        );
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        let f = crate::filter::Filter::parse(&format!("~ep {}", quote(r#"GET /a"b"#))).unwrap();
        assert_eq!(f.expr(), &crate::filter::ast::Expr::Endpoint(r#"GET /a"b"#.into()));
    }

    #[test]
    fn structure_p95_is_the_exact_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).rev().collect();
        assert_eq!(p95(&mut v), Some(95));
        let mut one = vec![7];
        assert_eq!(p95(&mut one), Some(7));
        assert_eq!(p95(&mut []), None);
    }

    #[test]
    fn histogram_counts_every_value_once() {
        let v: Vec<u32> = (1..=1000).collect();
        let h = histogram(&v);
        assert_eq!(h.len(), 12);
        assert_eq!(h.iter().map(|b| b.1).sum::<u64>(), 1000);
        assert!(histogram(&[]).is_empty());
        assert_eq!(histogram(&[5, 5, 5]).iter().map(|b| b.1).sum::<u64>(), 3);
    }
}
