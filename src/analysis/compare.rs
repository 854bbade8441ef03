//! What changed between two sets of captures (A, the baseline, and B, the candidate): per
//! endpoint KPIs side by side with a verdict decided by statistics, contract findings that
//! appeared or went away, response shapes that changed, and clients that left, arrived or
//! changed behaviour.
//!
//! Each side is read by a [`side::Side`] sink (the analyzer, the shape inference and, with
//! a spec, the contract checker, fed once); [`compare`] turns the two [`side::SideResult`]s
//! into a plain-data [`Comparison`] that the CLI renders ([`render`]) and the TUI shows.
//!
//! Verdicts: latency by the Mann–Whitney U rank test on the TTFB of 2xx answers (normal
//! approximation with the tie correction), error rate and availability by the two-proportion z-test; a change
//! counts only when it is significant (`p < alpha`) *and* at least the minimum effect
//! (relative shift of the median, percentage points of rate), so noise between two samples
//! of the same back end stays `unchanged`. Endpoints with fewer calls than the minimum on
//! either side are `too few calls`.

pub mod render;
pub mod shape;
pub mod side;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::analysis::kpi::nearest_rank;
use crate::analysis::patterns::{ExampleRef, PatternKind};
use crate::analysis::{ClientReport, EndpointReport, Kpis};
use crate::model::Severity;
use crate::spec::findings::{DiffReport, Example, Finding};

use shape::ShapeChange;
use side::SideResult;
use stats::TestResult;

/// The thresholds of the verdicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Significance level (default 0.01).
    pub alpha: f64,
    /// Smallest relative shift of the median latency that counts (default 0.10).
    pub min_latency_shift: f64,
    /// Smallest change of error rate or unavailability that counts, as a fraction
    /// (default 0.01 = one percentage point).
    pub min_rate_change: f64,
    /// Fewer calls than this on either side give `too few calls` (default 30).
    pub min_calls: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self { alpha: 0.01, min_latency_shift: 0.10, min_rate_change: 0.01, min_calls: 30 }
    }
}

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly worse in B, by at least the minimum effect.
    Regressed,
    /// Significantly better in B, by at least the minimum effect.
    Improved,
    /// Called only in B.
    New,
    /// Called only in A.
    Gone,
    /// Too few calls on one side to tell.
    TooFewCalls,
    /// No change beyond noise and the minimum effect.
    Unchanged,
}

impl Verdict {
    /// Label as shown.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Regressed => "regressed",
            Self::New => "new",
            Self::Gone => "gone",
            Self::Improved => "improved",
            Self::TooFewCalls => "too few calls",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One metric tested between the sides.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct MetricTest {
    /// A's figure (ms for latency, a fraction for rates).
    pub a: f64,
    /// B's figure.
    pub b: f64,
    /// `b - a`.
    pub delta: f64,
    /// `b / a - 1` (latency only, `None` when `a` is 0).
    pub relative: Option<f64>,
    /// The test statistic (positive: B larger).
    pub z: Option<f64>,
    /// Two-sided p-value (`None`: no test possible, e.g. every value tied).
    pub p: Option<f64>,
    /// This metric's verdict.
    pub verdict: Verdict,
}

/// One side's figures of one endpoint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EndpointFigures {
    /// Calls.
    pub requests: u64,
    /// Share of all the side's calls.
    pub share: f64,
    /// TTFB percentiles p50, p95, p99 (ms).
    pub ttfb_ms: Option<[f64; 3]>,
    /// Total-duration percentiles p50, p95, p99 (ms).
    pub total_ms: Option<[f64; 3]>,
    /// 4xx + 5xx + failed, over calls.
    pub error_rate: f64,
    /// Calls that got a non-5xx answer, over calls.
    pub availability: f64,
    /// Mean decoded response body size (bytes).
    pub response_bytes_mean: f64,
}

/// One endpoint compared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EndpointComparison {
    /// Endpoint name.
    pub endpoint: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A's figures (`None`: not called in A).
    pub a: Option<EndpointFigures>,
    /// B's figures.
    pub b: Option<EndpointFigures>,
    /// Median TTFB of 2xx answers (or total duration when TTFB is missing), Mann–Whitney U.
    pub latency: Option<MetricTest>,
    /// Which latency was tested: `ttfb` or `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_kind: Option<&'static str>,
    /// Error rate, two-proportion z-test.
    pub error_rate: Option<MetricTest>,
    /// Unavailability (5xx + failed), two-proportion z-test; `a`/`b` are availabilities.
    pub availability: Option<MetricTest>,
    /// How bad the regression is (for sorting; 0 when not regressed).
    pub regression_size: f64,
}

/// A client present on one side only.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientBrief {
    /// Client label.
    pub client: String,
    /// Calls.
    pub requests: u64,
    /// First user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// A client present on both sides whose error rate or latency changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientDelta {
    /// Client label.
    pub client: String,
    /// Calls in A and B.
    pub requests: (u64, u64),
    /// A's figure (error rate as a fraction, or median TTFB in ms).
    pub a: f64,
    /// B's figure.
    pub b: f64,
    /// `b - a`.
    pub delta: f64,
    /// Two-sided p-value (error rates only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
}

/// A behaviour pattern a client shows in B and did not in A.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NewPattern {
    /// Client label.
    pub client: String,
    /// The pattern.
    pub kind: PatternKind,
    /// Endpoint, when about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Exchanges making up the finding.
    pub count: u64,
    /// Plain-language explanation.
    pub explanation: String,
    /// Example exchanges of B.
    pub examples: Vec<ExampleRef>,
}

/// Pattern findings of one kind on each side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatternCount {
    /// The pattern.
    pub kind: PatternKind,
    /// Findings in A.
    pub a: usize,
    /// Findings in B.
    pub b: usize,
}

/// How the clients changed.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ClientChanges {
    /// Clients in A and B.
    pub total: (usize, usize),
    /// Clients in both.
    pub both: usize,
    /// Clients only in A (churned), busiest first, up to the list length.
    pub churned: Vec<ClientBrief>,
    /// How many churned.
    pub churned_total: usize,
    /// Clients only in B, busiest first.
    pub new: Vec<ClientBrief>,
    /// How many are new.
    pub new_total: usize,
    /// Largest significant error-rate changes (both sides with enough calls).
    pub error_rate: Vec<ClientDelta>,
    /// Largest median-TTFB changes (relative, both sides with enough calls).
    pub latency: Vec<ClientDelta>,
    /// Patterns shown in B by clients that did not show them in A.
    pub new_patterns: Vec<NewPattern>,
    /// Findings per pattern kind on each side.
    pub patterns: Vec<PatternCount>,
}

/// A contract finding compared between the sides (same kind, endpoint and subject).
#[derive(Debug, Clone, Serialize)]
pub struct FindingChange {
    /// The kind.
    pub kind: crate::spec::check::FindingKind,
    /// Worst severity on either side.
    pub severity: Severity,
    /// Endpoint.
    pub endpoint: String,
    /// What in the endpoint.
    pub subject: String,
    /// Message (B's, else A's).
    pub message: String,
    /// Exchanges with it in A and B.
    pub count: (u64, u64),
    /// An example exchange of A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_a: Option<Example>,
    /// An example exchange of B.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_b: Option<Example>,
}

/// Operations called on each side.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct CoverageChange {
    /// Operations in the spec.
    pub operations: usize,
    /// Operations called in A and B.
    pub called: (usize, usize),
    /// Called in A, not in B.
    pub no_longer_called: Vec<String>,
    /// Called in B, not in A.
    pub newly_called: Vec<String>,
}

/// How the contract changed (with a spec).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ContractChanges {
    /// Findings in B and not in A (new gaps).
    pub new: Vec<FindingChange>,
    /// Findings in A and not in B (fixed).
    pub fixed: Vec<FindingChange>,
    /// Findings on both sides whose rate per checked exchange changed significantly
    /// (two-proportion test) and at least doubled or halved.
    pub changed: Vec<FindingChange>,
    /// Findings on both sides at a similar rate.
    pub unchanged: usize,
    /// Coverage of the spec's operations.
    pub coverage: CoverageChange,
}

/// Verdict counts.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct VerdictCounts {
    /// Endpoints regressed.
    pub regressed: usize,
    /// Improved.
    pub improved: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// Only in B.
    pub new: usize,
    /// Only in A.
    pub gone: usize,
    /// Too few calls to tell.
    pub too_few_calls: usize,
}

/// One side's totals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SideSummary {
    /// Input files.
    pub inputs: Vec<String>,
    /// Exchanges.
    pub requests: u64,
    /// Endpoints.
    pub endpoints: u64,
    /// Clients.
    pub clients: u64,
    /// Error rate over everything.
    pub error_rate: f64,
    /// Availability over everything.
    pub availability: f64,
    /// Median TTFB over everything (ms).
    pub ttfb_p50_ms: Option<f64>,
    /// File-level diagnostics.
    pub file_diagnostics: u64,
}

/// The thresholds used, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Method {
    /// The latency test.
    pub latency_test: &'static str,
    /// The rate test.
    pub rate_test: &'static str,
    /// Significance level.
    pub alpha: f64,
    /// Minimum relative median shift.
    pub min_latency_shift: f64,
    /// Minimum rate change (fraction).
    pub min_rate_change: f64,
    /// Minimum calls per side.
    pub min_calls: u64,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// How verdicts were decided.
    pub method: Method,
    /// Side A.
    pub a: SideSummary,
    /// Side B.
    pub b: SideSummary,
    /// Verdict counts.
    pub verdicts: VerdictCounts,
    /// Per endpoint: regressed first (largest first), then improved, new, gone, too few
    /// calls, unchanged.
    pub endpoints: Vec<EndpointComparison>,
    /// Response shape changes.
    pub shapes: Vec<ShapeChange>,
    /// (endpoint, status) pairs whose shapes were compared (bodies on both sides).
    pub shapes_compared: usize,
    /// Contract changes (with a spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractChanges>,
    /// Client changes.
    pub clients: ClientChanges,
}

impl Comparison {
    /// True when any endpoint regressed.
    #[must_use]
    pub fn regressed(&self) -> bool {
        self.verdicts.regressed > 0
    }
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

fn pcts(p: Option<&crate::analysis::Percentiles>) -> Option<[f64; 3]> {
    p.map(|p| [ms(p.p50_us), ms(p.p95_us), ms(p.p99_us)])
}

fn unavailable(k: &Kpis) -> u64 {
    ((1.0 - k.availability) * k.requests as f64).round() as u64
}

fn figures(ep: &EndpointReport, total: u64) -> EndpointFigures {
    let k = &ep.kpis;
    EndpointFigures {
        requests: k.requests,
        share: k.requests as f64 / total.max(1) as f64,
        ttfb_ms: pcts(k.ttfb.as_ref()),
        total_ms: pcts(k.total.as_ref()),
        error_rate: k.error_rate,
        availability: k.availability,
        response_bytes_mean: k.sizes.response_decoded as f64 / k.requests.max(1) as f64,
    }
}

/// The direction of a significant change of at least the minimum effect: `Regressed` when
/// B is worse (larger), `Improved` when better.
fn direction(t: Option<TestResult>, effect: f64, min_effect: f64, alpha: f64) -> Verdict {
    match t {
        Some(t) if t.p < alpha && effect >= min_effect && t.z > 0.0 => Verdict::Regressed,
        Some(t) if t.p < alpha && effect <= -min_effect && t.z < 0.0 => Verdict::Improved,
        _ => Verdict::Unchanged,
    }
}

/// Latency: Mann–Whitney U on the sorted values, effect = relative change of the median.
fn latency_test(a: &[u32], b: &[u32], o: &CompareOptions) -> Option<MetricTest> {
    let (ma, mb) = (nearest_rank(a, 50.0)?, nearest_rank(b, 50.0)?);
    let (fa, fb) = (ms(ma), ms(mb));
    let relative = (ma > 0).then(|| fb / fa - 1.0);
    let t = stats::mann_whitney(a, b);
    let verdict = direction(t, relative.unwrap_or(0.0), o.min_latency_shift, o.alpha);
    Some(MetricTest { a: fa, b: fb, delta: fb - fa, relative, z: t.map(|t| t.z), p: t.map(|t| t.p), verdict })
}

/// A rate (`xa` of `na` against `xb` of `nb`): two-proportion z-test, effect = the change.
/// `shown` maps a rate to the figure shown (availability shows `1 - rate`).
fn rate_test(xa: u64, na: u64, xb: u64, nb: u64, o: &CompareOptions, shown: fn(f64) -> f64) -> Option<MetricTest> {
    let t = stats::two_proportions(xa, na, xb, nb)?;
    let (ra, rb) = (xa as f64 / na as f64, xb as f64 / nb as f64);
    let verdict = direction(Some(t), rb - ra, o.min_rate_change, o.alpha);
    let (a, b) = (shown(ra), shown(rb));
    Some(MetricTest { a, b, delta: b - a, relative: None, z: Some(t.z), p: Some(t.p), verdict })
}

/// One endpoint's sorted latency values: (TTFB, total).
type Values = (Vec<u32>, Vec<u32>);

/// Compare one endpoint called on both sides.
fn compare_endpoint(
    name: &str,
    (ea, eb): (&EndpointReport, &EndpointReport),
    (la, lb): (Option<&Values>, Option<&Values>),
    totals: (u64, u64),
    o: &CompareOptions,
) -> EndpointComparison {
    let (ka, kb) = (&ea.kpis, &eb.kpis);
    let mut c = EndpointComparison {
        endpoint: name.to_string(),
        verdict: Verdict::Unchanged,
        a: Some(figures(ea, totals.0)),
        b: Some(figures(eb, totals.1)),
        latency: None,
        latency_kind: None,
        error_rate: None,
        availability: None,
        regression_size: 0.0,
    };
    if ka.requests < o.min_calls || kb.requests < o.min_calls {
        c.verdict = Verdict::TooFewCalls;
        return c;
    }
    let empty: Values = (Vec::new(), Vec::new());
    let (la, lb) = (la.unwrap_or(&empty), lb.unwrap_or(&empty));
    let enough = |v: &[u32]| v.len() as u64 >= o.min_calls;
    if enough(&la.0) && enough(&lb.0) {
        c.latency = latency_test(&la.0, &lb.0, o);
        c.latency_kind = Some("ttfb");
    } else if enough(&la.1) && enough(&lb.1) {
        c.latency = latency_test(&la.1, &lb.1, o);
        c.latency_kind = Some("total");
    }
    c.error_rate = rate_test(ka.errored, ka.requests, kb.errored, kb.requests, o, |r| r);
    c.availability = rate_test(unavailable(ka), ka.requests, unavailable(kb), kb.requests, o, |r| 1.0 - r);
    let tests = [c.latency, c.error_rate, c.availability];
    let verdicts: Vec<Verdict> = tests.iter().flatten().map(|t| t.verdict).collect();
    c.verdict = if verdicts.contains(&Verdict::Regressed) {
        Verdict::Regressed
    } else if verdicts.contains(&Verdict::Improved) {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    };
    if c.verdict == Verdict::Regressed {
        // a tripled median and ten more points of errors weigh about the same
        let lat = c.latency.filter(|t| t.verdict == Verdict::Regressed).and_then(|t| t.relative).unwrap_or(0.0);
        let err = c.error_rate.filter(|t| t.verdict == Verdict::Regressed).map_or(0.0, |t| t.delta * 20.0);
        let avail = c.availability.filter(|t| t.verdict == Verdict::Regressed).map_or(0.0, |t| -t.delta * 20.0);
        c.regression_size = lat + err + avail;
    }
    c
}

/// Every endpoint of either side, compared and sorted.
fn compare_endpoints(a: &SideResult, b: &SideResult, o: &CompareOptions) -> Vec<EndpointComparison> {
    let totals = (a.report.summary.kpis.requests, b.report.summary.kpis.requests);
    let ia: HashMap<&str, &EndpointReport> = a.report.endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
    let ib: HashMap<&str, &EndpointReport> = b.report.endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
    let names: BTreeSet<&str> = ia.keys().chain(ib.keys()).copied().collect();
    let mut out: Vec<EndpointComparison> = names
        .into_iter()
        .map(|name| match (ia.get(name), ib.get(name)) {
            (Some(ea), Some(eb)) => compare_endpoint(
                name,
                (ea, eb),
                (a.latencies.by_name.get(name), b.latencies.by_name.get(name)),
                totals,
                o,
            ),
            (ea, eb) => EndpointComparison {
                endpoint: name.to_string(),
                verdict: if ea.is_some() { Verdict::Gone } else { Verdict::New },
                a: ea.map(|e| figures(e, totals.0)),
                b: eb.map(|e| figures(e, totals.1)),
                latency: None,
                latency_kind: None,
                error_rate: None,
                availability: None,
                regression_size: 0.0,
            },
        })
        .collect();
    let volume =
        |c: &EndpointComparison| c.a.as_ref().map_or(0, |f| f.requests) + c.b.as_ref().map_or(0, |f| f.requests);
    out.sort_by(|x, y| {
        x.verdict
            .cmp(&y.verdict)
            .then(y.regression_size.total_cmp(&x.regression_size))
            .then(volume(y).cmp(&volume(x)))
            .then(x.endpoint.cmp(&y.endpoint))
    });
    out
}

fn verdict_counts(eps: &[EndpointComparison]) -> VerdictCounts {
    let mut v = VerdictCounts::default();
    for e in eps {
        let slot = match e.verdict {
            Verdict::Regressed => &mut v.regressed,
            Verdict::Improved => &mut v.improved,
            Verdict::Unchanged => &mut v.unchanged,
            Verdict::New => &mut v.new,
            Verdict::Gone => &mut v.gone,
            Verdict::TooFewCalls => &mut v.too_few_calls,
        };
        *slot += 1;
    }
    v
}

fn summary(s: &SideResult) -> SideSummary {
    let r = &s.report.summary;
    SideSummary {
        inputs: r.inputs.clone(),
        requests: r.kpis.requests,
        endpoints: r.endpoints,
        clients: r.clients,
        error_rate: r.kpis.error_rate,
        availability: r.kpis.availability,
        ttfb_p50_ms: r.kpis.ttfb.as_ref().map(|p| ms(p.p50_us)),
        file_diagnostics: r.file_diagnostics,
    }
}

fn brief(c: &ClientReport) -> ClientBrief {
    ClientBrief { client: c.id.clone(), requests: c.kpis.requests, user_agent: c.user_agents.first().cloned() }
}

/// Clients that left, arrived, changed error rate or latency, or took up a new pattern;
/// lists hold at most `top` entries.
fn compare_clients(a: &SideResult, b: &SideResult, o: &CompareOptions, top: usize) -> ClientChanges {
    let ia: HashMap<&str, &ClientReport> = a.report.clients.iter().map(|c| (c.id.as_str(), c)).collect();
    let ib: HashMap<&str, &ClientReport> = b.report.clients.iter().map(|c| (c.id.as_str(), c)).collect();
    // reports list clients busiest first: the lists keep that order
    let churned: Vec<&ClientReport> = a.report.clients.iter().filter(|c| !ib.contains_key(c.id.as_str())).collect();
    let new: Vec<&ClientReport> = b.report.clients.iter().filter(|c| !ia.contains_key(c.id.as_str())).collect();
    let mut error_rate = Vec::new();
    let mut latency = Vec::new();
    for ca in &a.report.clients {
        let Some(cb) = ib.get(ca.id.as_str()) else { continue };
        let (ka, kb) = (&ca.kpis, &cb.kpis);
        if ka.requests < o.min_calls || kb.requests < o.min_calls {
            continue;
        }
        let requests = (ka.requests, kb.requests);
        if let Some(t) = stats::two_proportions(ka.errored, ka.requests, kb.errored, kb.requests) {
            let delta = kb.error_rate - ka.error_rate;
            if t.p < o.alpha && delta.abs() >= o.min_rate_change {
                error_rate.push(ClientDelta {
                    client: ca.id.clone(),
                    requests,
                    a: ka.error_rate,
                    b: kb.error_rate,
                    delta,
                    p: Some(t.p),
                });
            }
        }
        if let (Some(ta), Some(tb)) = (&ka.ttfb, &kb.ttfb) {
            let (x, y) = (ms(ta.p50_us), ms(tb.p50_us));
            if x > 0.0 && (y / x - 1.0).abs() >= o.min_latency_shift {
                latency.push(ClientDelta { client: ca.id.clone(), requests, a: x, b: y, delta: y - x, p: None });
            }
        }
    }
    error_rate.sort_by(|x, y| y.delta.abs().total_cmp(&x.delta.abs()).then(x.client.cmp(&y.client)));
    let rel = |d: &ClientDelta| if d.a > 0.0 { (d.b / d.a - 1.0).abs() } else { 0.0 };
    latency.sort_by(|x, y| rel(y).total_cmp(&rel(x)).then(x.client.cmp(&y.client)));
    error_rate.truncate(top);
    latency.truncate(top);
    let (new_patterns, patterns) = compare_patterns(a, b, top);
    ClientChanges {
        total: (a.report.clients.len(), b.report.clients.len()),
        both: a.report.clients.len() - churned.len(),
        churned_total: churned.len(),
        churned: churned.iter().take(top).map(|c| brief(c)).collect(),
        new_total: new.len(),
        new: new.iter().take(top).map(|c| brief(c)).collect(),
        error_rate,
        latency,
        new_patterns,
        patterns,
    }
}

/// Pattern findings (slowest-exchange listings aside) of B whose (client, kind) A does not
/// have, biggest first; and the count of findings per kind on each side.
fn compare_patterns(a: &SideResult, b: &SideResult, top: usize) -> (Vec<NewPattern>, Vec<PatternCount>) {
    let seen: BTreeSet<(&str, PatternKind)> = a.report.findings.iter().map(|f| (f.client.as_str(), f.kind)).collect();
    let mut new: Vec<NewPattern> = b
        .report
        .findings
        .iter()
        .filter(|f| f.kind != PatternKind::Slowest && !seen.contains(&(f.client.as_str(), f.kind)))
        .map(|f| NewPattern {
            client: f.client.clone(),
            kind: f.kind,
            endpoint: f.endpoint.clone(),
            count: f.count,
            explanation: f.explanation.clone(),
            examples: f.examples.iter().take(3).cloned().collect(),
        })
        .collect();
    new.sort_by(|x, y| x.kind.cmp(&y.kind).then(y.count.cmp(&x.count)).then(x.client.cmp(&y.client)));
    new.truncate(top);
    let mut counts: BTreeMap<PatternKind, (usize, usize)> = BTreeMap::new();
    for f in a.report.findings.iter().filter(|f| f.kind != PatternKind::Slowest) {
        counts.entry(f.kind).or_default().0 += 1;
    }
    for f in b.report.findings.iter().filter(|f| f.kind != PatternKind::Slowest) {
        counts.entry(f.kind).or_default().1 += 1;
    }
    (new, counts.into_iter().map(|(kind, (a, b))| PatternCount { kind, a, b }).collect())
}

fn finding_change(fa: Option<&Finding>, fb: Option<&Finding>) -> Option<FindingChange> {
    let any = fb.or(fa)?;
    Some(FindingChange {
        kind: any.kind,
        severity: fa.map(|f| f.severity).max(fb.map(|f| f.severity)).unwrap_or(any.severity),
        endpoint: any.endpoint.clone(),
        subject: any.subject.clone(),
        message: any.message.clone(),
        count: (fa.map_or(0, |f| f.count), fb.map_or(0, |f| f.count)),
        example_a: fa.and_then(|f| f.examples.first().cloned()),
        example_b: fb.and_then(|f| f.examples.first().cloned()),
    })
}

/// Findings new in B, fixed in B, and changed in rate; coverage of the operations.
fn compare_contract(a: &DiffReport, b: &DiffReport, o: &CompareOptions) -> ContractChanges {
    let key = |f: &Finding| -> (crate::spec::check::FindingKind, String, String) {
        (f.kind, f.endpoint.clone(), f.subject.clone())
    };
    let ia: HashMap<_, &Finding> = a.findings.iter().map(|f| (key(f), f)).collect();
    let ib: HashMap<_, &Finding> = b.findings.iter().map(|f| (key(f), f)).collect();
    let mut keys: Vec<&(crate::spec::check::FindingKind, String, String)> = ia.keys().chain(ib.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = ContractChanges::default();
    let (na, nb) = (a.exchanges.max(1), b.exchanges.max(1));
    for k in keys {
        let (fa, fb) = (ia.get(k).copied(), ib.get(k).copied());
        let Some(ch) = finding_change(fa, fb) else { continue };
        match (fa, fb) {
            (None, Some(_)) => out.new.push(ch),
            (Some(_), None) => out.fixed.push(ch),
            _ => {
                let (xa, xb) = ch.count;
                let (ra, rb) = (xa as f64 / na as f64, xb as f64 / nb as f64);
                let doubled = rb >= 2.0 * ra || ra >= 2.0 * rb;
                let significant = stats::two_proportions(xa, na, xb, nb).is_some_and(|t| t.p < o.alpha);
                if doubled && significant {
                    out.changed.push(ch);
                } else {
                    out.unchanged += 1;
                }
            }
        }
    }
    let worst_first =
        |v: &mut Vec<FindingChange>| v.sort_by(|x, y| y.severity.cmp(&x.severity).then(y.count.1.cmp(&x.count.1)));
    worst_first(&mut out.new);
    out.fixed.sort_by(|x, y| y.severity.cmp(&x.severity).then(y.count.0.cmp(&x.count.0)));
    worst_first(&mut out.changed);
    let called = |d: &DiffReport| -> BTreeSet<String> {
        d.coverage.operations.iter().filter(|op| op.calls > 0).map(|op| op.endpoint.clone()).collect()
    };
    let (ca, cb) = (called(a), called(b));
    out.coverage = CoverageChange {
        operations: a.coverage.operations_total,
        called: (ca.len(), cb.len()),
        no_longer_called: ca.difference(&cb).cloned().collect(),
        newly_called: cb.difference(&ca).cloned().collect(),
    };
    out
}

/// Compare side A (baseline) with side B (candidate). Lists of clients and patterns hold
/// at most `top` entries.
#[must_use]
pub fn compare(a: &SideResult, b: &SideResult, o: &CompareOptions, top: usize) -> Comparison {
    let endpoints = compare_endpoints(a, b, o);
    let shapes_compared = a
        .shapes
        .keys
        .iter()
        .filter(|(k, v)| v.bodies > 0 && b.shapes.keys.get(*k).is_some_and(|w| w.bodies > 0))
        .count();
    Comparison {
        method: Method {
            latency_test: "Mann-Whitney U on the TTFB of 2xx answers (normal approximation, tie-corrected); effect = relative change of the median",
            rate_test: "two-proportion z-test (pooled); effect = change in percentage points",
            alpha: o.alpha,
            min_latency_shift: o.min_latency_shift,
            min_rate_change: o.min_rate_change,
            min_calls: o.min_calls,
        },
        a: summary(a),
        b: summary(b),
        verdicts: verdict_counts(&endpoints),
        endpoints,
        shapes: shape::diff(&a.shapes, &b.shapes),
        shapes_compared,
        contract: match (&a.contract, &b.contract) {
            (Some(x), Some(y)) => Some(compare_contract(x, y, o)),
            _ => None,
        },
        clients: compare_clients(a, b, o, top),
    }
}
