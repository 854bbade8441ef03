//! Aggregating per-exchange observations into findings: one per (kind, endpoint, subject),
//! each with its severity (the worst seen), the number of exchanges, first and last seen
//! (capture clock), up to three example exchanges with provenance, and the clients that
//! sent them with their share. Undocumented paths are clustered into inferred endpoints
//! ([`super::cluster`]). [`DiffAccumulator`] is a [`Sink`]: it keeps only accumulators, so
//! memory stays flat however long the capture is. Checking an exchange needs no accumulator
//! state, so readers that convert on several threads also check there (the sink's
//! [`Prepare`]); aggregation then runs in input order, so the report is the same however
//! many threads took part.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::check::{CheckOptions, Checker, Evaluation, FindingKind, Unchecked};
use super::coverage::{Coverage, CoverageAcc};
use super::schema::Direction;
use super::{RouteResult, Spec, SpecProblem};
use crate::ingest::{Prepare, Prepared, Sink};
use crate::model::client::{ClientKey, identify};
use crate::model::text::visible;
use crate::model::{Diagnostic, Exchange, Nanos, Severity};

/// Examples kept per finding.
pub const MAX_EXAMPLES: usize = 3;
/// Clients listed per finding (the rest are counted).
pub const MAX_CLIENTS: usize = 10;
/// Distinct concrete paths remembered per inferred endpoint.
const MAX_DISTINCT: usize = 100_000;

/// One example exchange, traceable to the input.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// Exchange sequence number in its input.
    pub seq: u64,
    /// Input file.
    pub file: String,
    /// Entry index (HAR, Charles, mitmproxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Packet numbers (captures), at most 8.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packets: Vec<u64>,
    /// Method.
    pub method: String,
    /// URL (escaped).
    pub url: String,
    /// Status, if a response was seen.
    pub status: Option<u16>,
    /// Capture time of the request (ns since the epoch).
    pub time: Option<Nanos>,
}

/// A client's share of a finding.
#[derive(Debug, Clone, Serialize)]
pub struct ClientShare {
    /// Client label (secrets hashed).
    pub client: String,
    /// Exchanges from it.
    pub count: u64,
    /// `count / finding.count`.
    pub share: f64,
}

/// One aggregated finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The kind.
    pub kind: FindingKind,
    /// The worst severity seen.
    pub severity: Severity,
    /// Endpoint (documented or inferred), or host for undocumented servers.
    pub endpoint: String,
    /// What in the endpoint (may be empty).
    pub subject: String,
    /// Message of the first occurrence.
    pub message: String,
    /// Exchanges with this finding.
    pub count: u64,
    /// First seen (capture clock, ns).
    pub first_seen: Option<Nanos>,
    /// Last seen (capture clock, ns).
    pub last_seen: Option<Nanos>,
    /// Example exchanges.
    pub examples: Vec<Example>,
    /// Top clients with their share.
    pub clients: Vec<ClientShare>,
    /// Distinct clients in total.
    pub clients_total: usize,
    /// For inferred endpoints: distinct concrete paths clustered into this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct_paths: Option<u64>,
    /// For inferred endpoints: up to three example paths.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub example_paths: Vec<String>,
}

/// Count of exchanges that could not be (fully) checked, per reason.
#[derive(Debug, Clone, Serialize)]
pub struct UncheckedCount {
    /// Stable id.
    pub reason: Unchecked,
    /// Human description.
    pub description: &'static str,
    /// Exchanges.
    pub count: u64,
}

/// Findings per severity.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct SeverityCounts {
    /// Error findings.
    pub error: usize,
    /// Warning findings.
    pub warning: usize,
    /// Info findings.
    pub info: usize,
}

/// What the spec is.
#[derive(Debug, Clone, Serialize)]
pub struct SpecSummary {
    /// File.
    pub path: String,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// `3.0` or `3.1`.
    pub openapi: String,
    /// Operations.
    pub operations: usize,
    /// Server URLs in effect.
    pub servers: Vec<String>,
}

/// The whole `diff` result.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// The spec.
    pub spec: SpecSummary,
    /// Input files.
    pub inputs: Vec<String>,
    /// Exchanges read.
    pub exchanges: u64,
    /// Exchanges that routed to a documented operation.
    pub documented: u64,
    /// Exchanges with at least one finding.
    pub exchanges_with_findings: u64,
    /// Findings per severity.
    pub summary: SeverityCounts,
    /// Findings, worst first, then by count.
    pub findings: Vec<Finding>,
    /// Exchanges not (fully) checked, per reason.
    pub unchecked: Vec<UncheckedCount>,
    /// Coverage.
    pub coverage: Coverage,
    /// Problems in the spec (unresolvable refs, schemas that do not compile).
    pub spec_problems: Vec<SpecProblem>,
    /// Problems reading the inputs (count), and the first few.
    pub input_diagnostics: u64,
    /// The first input diagnostics (escaped).
    pub input_diagnostic_examples: Vec<String>,
}

impl DiffReport {
    /// The worst severity among findings.
    #[must_use]
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

#[derive(Debug, Default)]
struct Acc {
    severity: Option<Severity>,
    message: String,
    count: u64,
    first: Option<Nanos>,
    last: Option<Nanos>,
    examples: Vec<Example>,
    clients: HashMap<String, u64>,
    paths: HashSet<String>,
    path_examples: Vec<String>,
}

impl Acc {
    fn merge(&mut self, o: Self) {
        self.severity = self.severity.max(o.severity);
        if self.message.is_empty() {
            self.message = o.message;
        }
        self.count += o.count;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(o.last);
        for e in o.examples {
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(e);
            }
        }
        for (c, n) in o.clients {
            *self.clients.entry(c).or_default() += n;
        }
        for p in o.paths {
            if self.paths.len() < MAX_DISTINCT {
                self.paths.insert(p);
            }
        }
        for p in o.path_examples {
            if self.path_examples.len() < MAX_EXAMPLES && !self.path_examples.contains(&p) {
                self.path_examples.push(p);
            }
        }
    }
}

/// One exchange checked, before aggregation: made on any thread, aggregated in input order.
#[derive(Debug)]
struct Checked {
    ev: Evaluation,
    /// Only when the exchange has findings: its client, an example (its `seq` is set when
    /// aggregated) and, for undocumented paths, the escaped path.
    seen: Option<(String, Example, Option<String>)>,
}

/// Checks exchanges for a [`DiffAccumulator`] on a reader's threads.
struct CheckPrepare {
    checker: Arc<Checker>,
    client_key: ClientKey,
}

impl Prepare for CheckPrepare {
    fn prepare(&self, ex: &Exchange) -> Prepared {
        Box::new(check_one(&self.checker, &self.client_key, ex))
    }

    fn drops_bodies(&self) -> bool {
        true
    }
}

fn check_one(checker: &Checker, client_key: &ClientKey, ex: &Exchange) -> Checked {
    let ev = checker.evaluate(ex);
    if ev.observations.is_empty() {
        return Checked { ev, seen: None };
    }
    let client = identify(ex, client_key).map_or_else(|| "(unidentified)".to_string(), |c| visible(&c.0).into_owned());
    let host = ex.host();
    let example = Example {
        seq: ex.seq,
        file: ex.provenance.file.to_string(),
        entry: ex.provenance.entry,
        packets: ex.provenance.packets.iter().take(8).copied().collect(),
        method: visible(&ex.request.method).into_owned(),
        url: visible(&ex.request.url(&host)).into_owned(),
        status: ex.status(),
        time: ex.timing.start(),
    };
    let path = ev
        .observations
        .iter()
        .any(|o| o.kind == FindingKind::UndocumentedPath)
        .then(|| visible(ex.request.path()).into_owned());
    Checked { ev, seen: Some((client, example, path)) }
}

/// Streams exchanges through a [`Checker`] and aggregates the report.
#[derive(Debug)]
pub struct DiffAccumulator {
    checker: Arc<Checker>,
    client_key: ClientKey,
    /// Schemas that could not be compiled, in the order the exchanges needed them.
    uncompiled: Vec<(String, Direction)>,
    accs: HashMap<(FindingKind, String, String), Acc>,
    coverage: CoverageAcc,
    unchecked: BTreeMap<Unchecked, u64>,
    exchanges: u64,
    documented: u64,
    with_findings: u64,
    diagnostics: u64,
    diagnostic_examples: Vec<String>,
    inputs: Vec<String>,
}

impl DiffAccumulator {
    /// A fresh accumulator over `spec`.
    #[must_use]
    pub fn new(spec: Arc<Spec>, opts: CheckOptions, client_key: ClientKey) -> Self {
        let coverage = CoverageAcc::new(&spec);
        Self {
            checker: Arc::new(Checker::new(spec, opts)),
            client_key,
            uncompiled: Vec::new(),
            accs: HashMap::new(),
            coverage,
            unchecked: BTreeMap::new(),
            exchanges: 0,
            documented: 0,
            with_findings: 0,
            diagnostics: 0,
            diagnostic_examples: Vec::new(),
            inputs: Vec::new(),
        }
    }

    /// Note an input file name (for the report header).
    pub fn add_input(&mut self, name: &str) {
        self.inputs.push(name.to_string());
    }

    /// The checker (for per-exchange use).
    #[must_use]
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Check and aggregate one exchange.
    pub fn observe(&mut self, ex: &Exchange) {
        let checked = check_one(&self.checker, &self.client_key, ex);
        self.absorb(ex, checked);
    }

    /// Aggregate one checked exchange.
    fn absorb(&mut self, ex: &Exchange, checked: Checked) {
        let Checked { ev, seen } = checked;
        self.exchanges += 1;
        self.diagnostics += ex.diagnostics.len() as u64;
        for d in &ex.diagnostics {
            if self.diagnostic_examples.len() < 5 {
                self.diagnostic_examples.push(visible(&d.to_string()).into_owned());
            }
        }
        for u in &ev.uncompiled {
            if !self.uncompiled.contains(u) {
                self.uncompiled.push(u.clone());
            }
        }
        if let RouteResult::Operation { id, .. } = &ev.route {
            self.documented += 1;
            self.coverage.record(*id, ex.status(), &ev.params_used);
        }
        for u in &ev.unchecked {
            *self.unchecked.entry(*u).or_default() += 1;
        }
        let Some((client, mut example, path)) = seen else { return };
        if ev.observations.is_empty() {
            return;
        }
        example.seq = ex.seq;
        self.with_findings += 1;
        let time = example.time;
        let mut counted: Vec<(FindingKind, &str, &str)> = Vec::new();
        for o in &ev.observations {
            // one count per exchange per finding, even when a body has several violations of one shape
            if counted.contains(&(o.kind, o.endpoint.as_str(), o.subject.as_str())) {
                continue;
            }
            counted.push((o.kind, o.endpoint.as_str(), o.subject.as_str()));
            let acc = self.accs.entry((o.kind, o.endpoint.clone(), o.subject.clone())).or_default();
            acc.severity = acc.severity.max(Some(o.severity));
            if acc.message.is_empty() {
                acc.message.clone_from(&o.message);
            }
            acc.count += 1;
            acc.first = match (acc.first, time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            acc.last = acc.last.max(time);
            if acc.examples.len() < MAX_EXAMPLES {
                acc.examples.push(example.clone());
            }
            *acc.clients.entry(client.clone()).or_default() += 1;
            if o.kind == FindingKind::UndocumentedPath
                && let Some(p) = &path
            {
                if acc.path_examples.len() < MAX_EXAMPLES && !acc.path_examples.contains(p) {
                    acc.path_examples.push(p.clone());
                }
                if acc.paths.len() < MAX_DISTINCT {
                    acc.paths.insert(p.clone());
                }
            }
        }
    }

    /// Build the report.
    #[must_use]
    pub fn finish(self) -> DiffReport {
        let spec = self.checker.spec();
        // Cluster undocumented paths per method.
        let mut accs = self.accs;
        // In the order the paths were first seen (then by name), so that a merged finding's
        // message and examples come from its earliest paths, the same on every run.
        let mut undocumented: Vec<(FindingKind, String, String)> =
            accs.keys().filter(|k| k.0 == FindingKind::UndocumentedPath).cloned().collect();
        undocumented.sort_by(|a, b| {
            let first = |k: &(FindingKind, String, String)| accs.get(k).and_then(|x| x.first);
            first(a).cmp(&first(b)).then_with(|| a.cmp(b))
        });
        let templates: Vec<String> =
            undocumented.iter().map(|k| k.1.split_once(' ').map_or(k.1.clone(), |(m, t)| format!("/{m}{t}"))).collect();
        let merged = super::cluster::cluster_templates(&templates);
        for (key, m) in undocumented.into_iter().zip(merged) {
            // merged is "/METHOD/…": split the method back off
            let rest = m.strip_prefix('/').unwrap_or(&m);
            let (meth, path) = rest.split_once('/').map_or((rest, String::from("/")), |(a, b)| (a, format!("/{b}")));
            let new_endpoint = format!("{meth} {path}");
            if new_endpoint != key.1
                && let Some(acc) = accs.remove(&key)
            {
                accs.entry((key.0, new_endpoint, key.2)).or_default().merge(acc);
            }
        }
        let mut findings: Vec<Finding> = accs
            .into_iter()
            .map(|((kind, endpoint, subject), a)| {
                let mut clients: Vec<(String, u64)> = a.clients.into_iter().collect();
                clients.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
                let clients_total = clients.len();
                let count = a.count.max(1);
                Finding {
                    kind,
                    severity: a.severity.unwrap_or(Severity::Info),
                    endpoint,
                    subject,
                    message: a.message,
                    count: a.count,
                    first_seen: a.first,
                    last_seen: a.last,
                    examples: a.examples,
                    clients: clients
                        .into_iter()
                        .take(MAX_CLIENTS)
                        .map(|(client, n)| ClientShare { client, count: n, share: n as f64 / count as f64 })
                        .collect(),
                    clients_total,
                    distinct_paths: (kind == FindingKind::UndocumentedPath).then_some(a.paths.len() as u64),
                    example_paths: a.path_examples,
                }
            })
            .collect();
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.count.cmp(&a.count))
                .then(a.kind.cmp(&b.kind))
                .then_with(|| a.endpoint.cmp(&b.endpoint))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        let mut summary = SeverityCounts::default();
        for f in &findings {
            match f.severity {
                Severity::Error => summary.error += 1,
                Severity::Warning => summary.warning += 1,
                Severity::Info => summary.info += 1,
            }
        }
        let mut spec_problems = spec.problems.clone();
        let mut reported: Vec<&str> = Vec::new();
        for (pointer, dir) in &self.uncompiled {
            if reported.contains(&pointer.as_str()) {
                continue;
            }
            reported.push(pointer);
            let reason = self.checker.schema_failure(pointer, *dir).unwrap_or_default();
            spec_problems.push(SpecProblem {
                pointer: pointer.clone(),
                message: format!("schema could not be compiled: {reason}"),
            });
        }
        DiffReport {
            spec: SpecSummary {
                path: spec.source.display().to_string(),
                title: spec.title.clone(),
                version: spec.api_version.clone(),
                openapi: match spec.version {
                    super::OasVersion::V30 => "3.0".into(),
                    super::OasVersion::V31 => "3.1".into(),
                },
                operations: spec.operations.len(),
                servers: spec.server_urls(),
            },
            inputs: self.inputs,
            exchanges: self.exchanges,
            documented: self.documented,
            exchanges_with_findings: self.with_findings,
            summary,
            findings,
            unchecked: self
                .unchecked
                .into_iter()
                .map(|(reason, count)| UncheckedCount { reason, description: reason.describe(), count })
                .collect(),
            coverage: self.coverage.finish(spec),
            spec_problems,
            input_diagnostics: self.diagnostics,
            input_diagnostic_examples: self.diagnostic_examples,
        }
    }
}

impl Sink for DiffAccumulator {
    fn exchange(&mut self, ex: &Exchange) {
        self.observe(ex);
    }

    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        Some(Arc::new(CheckPrepare { checker: Arc::clone(&self.checker), client_key: self.client_key.clone() }))
    }

    fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
        match prepared.downcast::<Checked>() {
            Ok(checked) => self.absorb(ex, *checked),
            Err(_) => self.observe(ex),
        }
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostics += 1;
        if self.diagnostic_examples.len() < 5 {
            self.diagnostic_examples.push(visible(&d.to_string()).into_owned());
        }
    }
}
