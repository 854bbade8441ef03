//! The replay report: what was sent, held back, answered, failed, identical and differing;
//! differences grouped by kind and subject with examples; failures grouped by kind; latency
//! replayed against recorded per endpoint; and one line per request. Printed as text for
//! people or serialized as JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::Target;
use super::compare::{self, CompareOptions, DiffKind, Difference};
use super::plan::Plan;
use super::send::{Failure, FailureKind, Outcome, Run, SendOptions};
use crate::model::text::visible;

/// Examples kept per group.
pub const EXAMPLES: usize = 3;

/// How one request's replay compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Answered like the recording (volatile parts aside).
    Identical,
    /// Answered differently.
    Differing,
    /// No answer.
    Failed,
    /// Stopped before it ended.
    Interrupted,
}

impl Verdict {
    /// Label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::Differing => "differing",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// One request's replay.
#[derive(Debug, Clone, Serialize)]
pub struct RequestResult {
    /// Position of the recorded exchange in its input.
    pub seq: u64,
    /// Pass (0-based).
    pub pass: u32,
    /// Method.
    pub method: String,
    /// URL sent to.
    pub url: String,
    /// Endpoint (`METHOD /inferred/{id}`).
    pub endpoint: String,
    /// How it compares.
    pub verdict: Verdict,
    /// Recorded status (None: none recorded).
    pub recorded_status: Option<u16>,
    /// Replayed status (None: no answer).
    pub status: Option<u16>,
    /// HTTP version of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Replayed latency, ms.
    pub latency_ms: f64,
    /// Recorded latency, ms.
    pub recorded_ms: Option<f64>,
    /// Differences found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// Differences past the per-request cap.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_differences: usize,
    /// Why the bodies were not compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_note: Option<&'static str>,
    /// Why there was no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A group of requests sharing a reason, difference or failure kind.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// What they share (`status 200 → 500`, `timed out`, …).
    pub what: String,
    /// How many requests.
    pub count: usize,
    /// A few of them.
    pub examples: Vec<String>,
}

/// A group of requests sharing one difference.
#[derive(Debug, Clone, Serialize)]
pub struct DiffGroup {
    /// The kind.
    pub kind: DiffKind,
    /// The subject (`200 → 500`, `x-version`, `$.items[*].price`).
    pub subject: String,
    /// How many requests.
    pub count: usize,
    /// A few of them, with values.
    pub examples: Vec<String>,
}

/// Latency of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointLatency {
    /// `METHOD /inferred/{id}`.
    pub endpoint: String,
    /// Answered replays.
    pub answered: usize,
    /// Median recorded latency, ms.
    pub recorded_median_ms: Option<f64>,
    /// Median replayed latency, ms.
    pub replayed_median_ms: Option<f64>,
    /// Replayed over recorded (2.0: twice as slow).
    pub ratio: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where requests went.
    pub target: String,
    /// Passes asked for.
    pub times: u32,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Pace.
    pub pace: String,
    /// Recorded requests considered (after the filter).
    pub recorded: usize,
    /// Held back because their method is unsafe.
    pub held_back_unsafe: usize,
    /// Held back for any reason (unsafe included).
    pub skipped: usize,
    /// Requests sent (passes included).
    pub sent: usize,
    /// Answered.
    pub answered: usize,
    /// No answer.
    pub failed: usize,
    /// Stopped before they ended.
    pub interrupted: usize,
    /// Answered like the recording.
    pub identical: usize,
    /// Answered differently.
    pub differing: usize,
    /// The run was stopped before it sent everything.
    pub stopped: bool,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Requests ended per second.
    pub rate: f64,
    /// Why requests were held back.
    pub skip_reasons: Vec<Group>,
    /// Failures by kind.
    pub failures: Vec<Group>,
    /// Differences by kind and subject.
    pub differences: Vec<DiffGroup>,
    /// Latency per endpoint.
    pub endpoints: Vec<EndpointLatency>,
    /// Every request sent.
    pub requests: Vec<RequestResult>,
}

fn ms(ns: i64) -> f64 {
    (ns as f64 / 1e6 * 1000.0).round() / 1000.0
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 0 { f64::midpoint(v[m - 1], v[m]) } else { v[m] })
}

/// The settings a report states.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Where requests went.
    pub target: &'a Target,
    /// How they were sent.
    pub send: &'a SendOptions,
    /// What was compared.
    pub compare: &'a CompareOptions,
    /// Recorded requests considered.
    pub recorded: usize,
}

/// Compare every answer of `run` and build the report.
#[must_use]
pub fn build(plan: &Plan, run: &Run, s: Settings<'_>) -> Report {
    let mut attempts: Vec<_> = run.attempts.iter().collect();
    attempts.sort_by_key(|a| (a.pass, a.request));
    let mut requests = Vec::with_capacity(attempts.len());
    for a in attempts {
        let Some(p) = plan.requests.get(a.request) else { continue };
        let mut r = RequestResult {
            seq: p.seq,
            pass: a.pass,
            method: p.method.clone(),
            url: visible(p.url.as_str()).into_owned(),
            endpoint: visible(&p.endpoint).into_owned(),
            verdict: Verdict::Interrupted,
            recorded_status: p.recorded.status,
            status: None,
            version: None,
            latency_ms: ms(a.elapsed),
            recorded_ms: p.recorded.duration.map(ms),
            differences: Vec::new(),
            more_differences: 0,
            body_note: None,
            failure: None,
        };
        match &a.outcome {
            Outcome::Answered(ans) => {
                let c = compare::compare(&p.method, &p.recorded, ans, s.compare);
                r.status = Some(ans.status);
                r.version = Some(ans.version.clone());
                r.verdict = if c.identical() { Verdict::Identical } else { Verdict::Differing };
                r.differences = c.differences;
                r.more_differences = c.more;
                r.body_note = c.body_note;
            }
            Outcome::Failed(f) => {
                r.verdict = Verdict::Failed;
                r.failure = Some(Failure { kind: f.kind, message: visible(&f.message).into_owned() });
            }
            Outcome::Interrupted => {}
        }
        requests.push(r);
    }
    let count = |v: Verdict| requests.iter().filter(|r| r.verdict == v).count();
    let elapsed_s = run.elapsed as f64 / 1e9;
    let ended = requests.iter().filter(|r| r.verdict != Verdict::Interrupted).count();
    Report {
        target: s.target.to_string(),
        times: s.send.times,
        concurrency: s.send.concurrency,
        pace: s.send.pace.to_string(),
        recorded: s.recorded,
        held_back_unsafe: plan.held_back_unsafe(),
        skipped: plan.skipped.len(),
        sent: requests.len(),
        answered: count(Verdict::Identical) + count(Verdict::Differing),
        failed: count(Verdict::Failed),
        interrupted: count(Verdict::Interrupted),
        identical: count(Verdict::Identical),
        differing: count(Verdict::Differing),
        stopped: run.stopped,
        elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
        rate: if elapsed_s > 0.0 { (ended as f64 / elapsed_s * 10.0).round() / 10.0 } else { 0.0 },
        skip_reasons: skip_groups(plan),
        failures: failure_groups(&requests),
        differences: diff_groups(&requests),
        endpoints: endpoints(&requests),
        requests,
    }
}

fn label(r: &RequestResult) -> String {
    let pass = if r.pass > 0 { format!(" pass {}", r.pass + 1) } else { String::new() };
    format!("#{} {} {}{pass}", r.seq, r.method, r.url)
}

fn skip_groups(plan: &Plan) -> Vec<Group> {
    let mut m: BTreeMap<String, Group> = BTreeMap::new();
    for s in &plan.skipped {
        let what = s.reason.to_string();
        let g = m.entry(what.clone()).or_insert_with(|| Group { what, count: 0, examples: Vec::new() });
        g.count += 1;
        if g.examples.len() < EXAMPLES {
            g.examples.push(format!("#{} {}", s.seq, s.request));
        }
    }
    let mut v: Vec<Group> = m.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.what.cmp(&b.what)));
    v
}

fn failure_groups(requests: &[RequestResult]) -> Vec<Group> {
    let mut m: BTreeMap<FailureKind, Group> = BTreeMap::new();
    for r in requests {
        let Some(f) = &r.failure else { continue };
        let g =
            m.entry(f.kind).or_insert_with(|| Group { what: f.kind.label().into(), count: 0, examples: Vec::new() });
        g.count += 1;
        if g.examples.len() < EXAMPLES {
            g.examples.push(format!("{}: {}", label(r), f.message));
        }
    }
    let mut v: Vec<Group> = m.into_values().collect();
    v.sort_by_key(|g| std::cmp::Reverse(g.count));
    v
}

fn diff_groups(requests: &[RequestResult]) -> Vec<DiffGroup> {
    let mut m: BTreeMap<(DiffKind, String), DiffGroup> = BTreeMap::new();
    for r in requests {
        let mut seen = std::collections::HashSet::new();
        for d in &r.differences {
            let key = (d.kind, d.subject.clone());
            let g = m.entry(key.clone()).or_insert_with(|| DiffGroup {
                kind: d.kind,
                subject: d.subject.clone(),
                count: 0,
                examples: Vec::new(),
            });
            if seen.insert(key) {
                g.count += 1;
                if g.examples.len() < EXAMPLES {
                    g.examples.push(format!("{}: {}", label(r), d.detail));
                }
            }
        }
    }
    let mut v: Vec<DiffGroup> = m.into_values().collect();
    v.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| b.count.cmp(&a.count)).then_with(|| a.subject.cmp(&b.subject)));
    v
}

fn endpoints(requests: &[RequestResult]) -> Vec<EndpointLatency> {
    let mut m: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in requests {
        let e = m.entry(r.endpoint.as_str()).or_default();
        if matches!(r.verdict, Verdict::Identical | Verdict::Differing) {
            e.1.push(r.latency_ms);
            if let Some(x) = r.recorded_ms.filter(|_| r.pass == 0) {
                e.0.push(x);
            }
        }
    }
    m.into_iter()
        .map(|(endpoint, (mut rec, mut rep))| {
            let answered = rep.len();
            let recorded_median_ms = median(&mut rec);
            let replayed_median_ms = median(&mut rep);
            let ratio = recorded_median_ms
                .zip(replayed_median_ms)
                .filter(|(r, _)| *r > 0.0)
                .map(|(r, p)| (p / r * 100.0).round() / 100.0);
            EndpointLatency { endpoint: endpoint.to_string(), answered, recorded_median_ms, replayed_median_ms, ratio }
        })
        .collect()
}

impl Report {
    /// True when anything differed or failed, or the run was stopped before the end.
    #[must_use]
    pub fn has_findings(&self) -> bool {
        self.differing > 0 || self.failed > 0 || self.interrupted > 0 || self.stopped
    }

    /// The report for people; `verbose` adds one line per request.
    #[must_use]
    pub fn text(&self, verbose: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "replay to {}: {} recorded request(s), {} pass(es), concurrency {}, {}",
            self.target, self.recorded, self.times, self.concurrency, self.pace
        );
        let _ = writeln!(
            s,
            "sent {}, answered {}, failed {}, identical {}, differing {}{}",
            self.sent,
            self.answered,
            self.failed,
            self.identical,
            self.differing,
            if self.interrupted > 0 { format!(", interrupted {}", self.interrupted) } else { String::new() }
        );
        let _ = writeln!(s, "held back {} (unsafe methods: {})", self.skipped, self.held_back_unsafe);
        let _ = writeln!(s, "took {:.3} s, {:.1} requests/s", self.elapsed_s, self.rate);
        if self.stopped {
            let _ = writeln!(s, "STOPPED before every request was sent: the figures cover what was sent");
        }
        if !self.skip_reasons.is_empty() {
            let _ = writeln!(s, "\nHeld back:");
            groups(&mut s, &self.skip_reasons);
        }
        if !self.failures.is_empty() {
            let _ = writeln!(s, "\nFailures:");
            groups(&mut s, &self.failures);
        }
        if !self.differences.is_empty() {
            let _ = writeln!(s, "\nDifferences (requests affected):");
            for g in &self.differences {
                let _ = writeln!(s, "  {:>5}  {} {}", g.count, g.kind.label(), g.subject);
                for e in &g.examples {
                    let _ = writeln!(s, "           {e}");
                }
            }
        }
        if !self.endpoints.is_empty() {
            let _ = writeln!(s, "\nLatency per endpoint (median ms):");
            let w = self.endpoints.iter().map(|e| e.endpoint.chars().count()).max().unwrap_or(8).clamp(8, 60);
            let _ = writeln!(
                s,
                "  {:<w$}  {:>8}  {:>10}  {:>10}  {:>6}",
                "endpoint", "answered", "recorded", "replayed", "ratio"
            );
            for e in &self.endpoints {
                let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
                let ratio = e.ratio.map_or("-".to_string(), |r| format!("{r:.2}x"));
                let _ = writeln!(
                    s,
                    "  {:<w$}  {:>8}  {:>10}  {:>10}  {:>6}",
                    e.endpoint,
                    e.answered,
                    f(e.recorded_median_ms),
                    f(e.replayed_median_ms),
                    ratio
                );
            }
        }
        if verbose && !self.requests.is_empty() {
            let _ = writeln!(s, "\nRequests:");
            for r in &self.requests {
                let status = match (r.recorded_status, r.status) {
                    (rec, Some(now)) => format!("{} → {now}", rec.map_or("-".into(), |x| x.to_string())),
                    (rec, None) => format!("{} → -", rec.map_or("-".into(), |x| x.to_string())),
                };
                let why = r
                    .failure
                    .as_ref()
                    .map(|f| format!(" ({})", f.kind.label()))
                    .or_else(|| r.differences.first().map(|d| format!(" ({d})")))
                    .unwrap_or_default();
                let _ =
                    writeln!(s, "  {:<11} {status:<11} {:>9.1} ms  {}{why}", r.verdict.label(), r.latency_ms, label(r));
            }
        }
        s
    }
}

fn groups(s: &mut String, g: &[Group]) {
    for x in g {
        let _ = writeln!(s, "  {:>5}  {}", x.count, x.what);
        for e in &x.examples {
            let _ = writeln!(s, "           {e}");
        }
    }
}
