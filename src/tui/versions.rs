//! The Versions view: two sets of captures compared (`apiscope A… --against B…`), as
//! `apiscope compare` compares them. A worker thread reads both sides ([`side::read_sides`])
//! and answers with a [`VersionsData`]: the [`Comparison`], per endpoint a latency histogram
//! of each side on shared buckets, the text of the shape, contract and client sections (the
//! CLI's own words) and each side's endpoint namer. The state keeps the pane, the focused
//! endpoint and the drill-down into one side's flows of that endpoint; [`VersionsState::update`]
//! applies one action and answers the app with what to do next ([`VersionsEffect`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;

use super::action::{Action, scroll};
use super::insight::histogram_pair;
use super::status::Level;
use crate::analysis::Config;
use crate::analysis::compare::render::{self, Section};
use crate::analysis::compare::side::{self, SideNamer, SideResult};
use crate::analysis::compare::{self as cmp, CompareOptions, Comparison, Verdict};
use crate::spec::Spec;
use crate::store::{FlowId, FlowStore, SK_HOST, SK_METHOD, SK_TARGET};

/// Rows per list in the shape, contract and client panes.
const PANE_ROWS: usize = 200;

/// The panes of the Versions view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    /// Endpoint table, figures of the focused endpoint and its latency histograms.
    #[default]
    Endpoints,
    /// Response shape changes.
    Shapes,
    /// Contract changes (with a spec).
    Contract,
    /// Client changes.
    Clients,
}

impl Pane {
    /// Every pane, in order.
    pub const ALL: [Self; 4] = [Self::Endpoints, Self::Shapes, Self::Contract, Self::Clients];

    /// Title as shown.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Endpoints => "Endpoints",
            Self::Shapes => "Response shapes",
            Self::Contract => "Contract",
            Self::Clients => "Clients",
        }
    }

    fn step(self, d: isize) -> Self {
        let n = Self::ALL.len() as isize;
        let i = Self::ALL.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ALL[((i + d).rem_euclid(n)) as usize]
    }
}

/// Side A (the baseline) or B (the candidate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The baseline.
    A,
    /// The candidate.
    #[default]
    B,
}

impl Side {
    /// `A` or `B`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// One endpoint's latency histograms, A and B on the same buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistPair {
    /// What was measured (`TTFB` or `total`), of 2xx answers.
    pub kind: &'static str,
    /// Lower edge of each bucket (`850µs`, `12ms`, `1.5s`).
    pub labels: Vec<String>,
    /// Calls of A per bucket.
    pub a: Vec<u64>,
    /// Calls of B per bucket.
    pub b: Vec<u64>,
}

/// What the worker computed.
#[derive(Debug, Clone)]
pub struct VersionsData {
    /// The comparison, endpoints sorted as the CLI sorts them (largest regression first).
    pub comparison: Comparison,
    /// Per endpoint: the latency histograms of both sides.
    pub hist: HashMap<String, HistPair>,
    /// The text of the shape, contract and client sections, as `apiscope compare` prints them.
    pub text: HashMap<&'static str, Vec<String>>,
    /// Names flows of side A and of side B as the comparison names endpoints.
    pub namers: (SideNamer, SideNamer),
    /// Milliseconds the reading and comparing took.
    pub elapsed_ms: f64,
}

impl VersionsData {
    /// Compare two read sides and prepare what the view shows.
    #[must_use]
    pub fn build(a: &SideResult, b: &SideResult, o: &CompareOptions) -> Self {
        let mut comparison = cmp::compare(a, b, o, PANE_ROWS);
        // endpoints that came or went with a handful of calls (scanners' paths, mostly) go
        // with the `too few calls` ones, as the text report leaves them out of its table
        let calls = |e: &cmp::EndpointComparison| {
            e.a.as_ref().map_or(0, |f| f.requests).max(e.b.as_ref().map_or(0, |f| f.requests))
        };
        comparison.endpoints.sort_by_key(|e| match e.verdict {
            Verdict::New | Verdict::Gone if calls(e) < o.min_calls => Verdict::TooFewCalls,
            v => v,
        });
        let mut hist = HashMap::new();
        for e in &comparison.endpoints {
            let (la, lb) = (a.latencies.by_name.get(&e.endpoint), b.latencies.by_name.get(&e.endpoint));
            let empty = (Vec::new(), Vec::new());
            let (la, lb) = (la.unwrap_or(&empty), lb.unwrap_or(&empty));
            let total = e.latency_kind == Some("total") || (la.0.is_empty() && lb.0.is_empty());
            let (va, vb, kind) = if total { (&la.1, &lb.1, "total") } else { (&la.0, &lb.0, "TTFB") };
            let (labels, ca, cb) = histogram_pair(va, vb);
            hist.insert(e.endpoint.clone(), HistPair { kind, labels, a: ca, b: cb });
        }
        let lines = |s: Section| render::section(&comparison, s, PANE_ROWS).lines().map(str::to_string).collect();
        let text = HashMap::from([
            (Pane::Shapes.title(), lines(Section::Shapes)),
            (Pane::Contract.title(), lines(Section::Contract)),
            (Pane::Clients.title(), lines(Section::Clients)),
        ]);
        Self { comparison, hist, text, namers: (a.namer.clone(), b.namer.clone()), elapsed_ms: 0.0 }
    }

    /// The lines of a text pane (empty for the endpoint pane).
    #[must_use]
    pub fn pane_text(&self, p: Pane) -> &[String] {
        self.text.get(p.title()).map_or(&[], Vec::as_slice)
    }
}

/// One side's flows of one endpoint, shown in place of the endpoint table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// The endpoint.
    pub endpoint: String,
    /// Which side's flows.
    pub side: Side,
    /// The flows, in store order.
    pub flows: Vec<FlowId>,
    /// Focused row.
    pub focus: usize,
}

/// What the app must do after an action of the Versions view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionsEffect {
    /// Open this flow's detail.
    OpenFlow(FlowId),
    /// Say something on the status line.
    Note(String, Level),
}

/// The inputs of the two sides and how to read them.
#[derive(Debug, Clone, Default)]
pub struct VersionsInputs {
    /// Side A's files.
    pub a: Vec<PathBuf>,
    /// Side B's files.
    pub b: Vec<PathBuf>,
    /// The spec naming endpoints, if any.
    pub spec: Option<Arc<Spec>>,
    /// Verdict thresholds.
    pub options: CompareOptions,
}

/// The Versions view's state.
#[derive(Debug, Default)]
pub struct VersionsState {
    /// The two sides.
    pub inputs: VersionsInputs,
    /// The computed comparison.
    pub data: Option<VersionsData>,
    /// Why it could not be computed.
    pub error: Option<String>,
    rx: Option<Receiver<Result<VersionsData, String>>>,
    started: Option<Instant>,
    /// The pane shown.
    pub pane: Pane,
    /// Focused endpoint (index into the comparison's endpoints).
    pub focus: usize,
    /// First line shown of a text pane.
    pub scroll: usize,
    /// The side `enter` drills into.
    pub side: Side,
    /// The open drill-down.
    pub drill: Option<Drill>,
}

impl VersionsState {
    /// State for two sides; nothing is read before [`VersionsState::start`].
    #[must_use]
    pub fn new(inputs: VersionsInputs) -> Self {
        Self { inputs, ..Self::default() }
    }

    /// State with the comparison already computed (tests, benchmarks).
    #[must_use]
    pub fn with_data(inputs: VersionsInputs, data: VersionsData) -> Self {
        Self { inputs, data: Some(data), ..Self::default() }
    }

    /// Read and compare both sides on a worker thread.
    pub fn start(&mut self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let inputs = self.inputs.clone();
        let t0 = Instant::now();
        let spawned = std::thread::Builder::new().name("apiscope-versions".into()).spawn(move || {
            let r = side::read_sides(&inputs.a, &inputs.b, &Config::default(), inputs.spec.as_ref())
                .map(|(a, b)| {
                    let mut d = VersionsData::build(&a, &b, &inputs.options);
                    d.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
                    d
                })
                .map_err(|e| crate::model::text::visible(&error_chain(&e)).into_owned());
            let _ = tx.send(r);
        });
        match spawned {
            Ok(_) => {
                self.rx = Some(rx);
                self.started = Some(t0);
            }
            Err(e) => self.error = Some(format!("could not start the comparison: {e}")),
        }
    }

    /// True while the worker reads.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.rx.is_some()
    }

    /// Seconds since the worker started.
    #[must_use]
    pub fn running_for(&self) -> Option<f64> {
        self.started.filter(|_| self.rx.is_some()).map(|t| t.elapsed().as_secs_f64())
    }

    /// Take the worker's answer when it is there; true when something changed.
    pub fn tick(&mut self) -> bool {
        let Some(rx) = &self.rx else { return false };
        match rx.try_recv() {
            Ok(Ok(d)) => self.data = Some(d),
            Ok(Err(e)) => self.error = Some(e),
            Err(crossbeam_channel::TryRecvError::Empty) => return true,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.error = Some("the comparison stopped without an answer".into());
            }
        }
        self.rx = None;
        true
    }

    /// Block until the worker answers (tests).
    pub fn wait(&mut self, timeout: std::time::Duration) -> bool {
        let Some(rx) = self.rx.take() else { return self.data.is_some() };
        match rx.recv_timeout(timeout) {
            Ok(Ok(d)) => self.data = Some(d),
            Ok(Err(e)) => self.error = Some(e),
            Err(_) => {
                self.rx = Some(rx);
                return false;
            }
        }
        true
    }

    /// The focused endpoint's name.
    #[must_use]
    pub fn focused_endpoint(&self) -> Option<&str> {
        self.data.as_ref()?.comparison.endpoints.get(self.focus).map(|e| e.endpoint.as_str())
    }

    /// Close the drill-down; false when none was open.
    pub fn close_drill(&mut self) -> bool {
        self.drill.take().is_some()
    }

    /// Apply one action of the Versions context.
    pub fn update(&mut self, a: Action, store: &FlowStore, page: usize) -> Option<VersionsEffect> {
        if let Some(d) = &mut self.drill {
            match a {
                Action::Open => return d.flows.get(d.focus).map(|id| VersionsEffect::OpenFlow(*id)),
                Action::SwitchSide => {
                    let (endpoint, side) = (d.endpoint.clone(), d.side.other());
                    self.side = side;
                    return self.open_drill(&endpoint, side, store);
                }
                _ => {
                    let mut f = d.focus;
                    move_focus(&mut f, d.flows.len(), page, a);
                    d.focus = f;
                }
            }
            return None;
        }
        let Some(data) = &self.data else {
            return Some(VersionsEffect::Note("the comparison is still being computed".into(), Level::Info));
        };
        match a {
            Action::NextTab | Action::PrevTab => {
                self.pane = self.pane.step(if a == Action::NextTab { 1 } else { -1 });
                self.scroll = 0;
            }
            Action::SwitchSide => {
                self.side = self.side.other();
                return Some(VersionsEffect::Note(
                    format!("enter shows side {}'s flows", self.side.label()),
                    Level::Info,
                ));
            }
            Action::Open if self.pane == Pane::Endpoints => {
                let e = data.comparison.endpoints.get(self.focus)?;
                // an endpoint called on one side only has flows there alone
                let side = match e.verdict {
                    Verdict::Gone => Side::A,
                    Verdict::New => Side::B,
                    _ => self.side,
                };
                let endpoint = e.endpoint.clone();
                return self.open_drill(&endpoint, side, store);
            }
            _ if self.pane == Pane::Endpoints => {
                let mut f = self.focus;
                move_focus(&mut f, data.comparison.endpoints.len(), page, a);
                self.focus = f;
            }
            _ => scroll(&mut self.scroll, data.pane_text(self.pane).len(), page, a),
        }
        None
    }

    /// Show `side`'s flows of `endpoint`.
    fn open_drill(&mut self, endpoint: &str, side: Side, store: &FlowStore) -> Option<VersionsEffect> {
        let data = self.data.as_ref()?;
        let flows = side_flows(store, &self.inputs, data, endpoint, side);
        let note = (flows.is_empty()).then(|| {
            let shown = if store.is_empty() { " (the flows are still loading)" } else { "" };
            VersionsEffect::Note(
                format!("no flow of side {} loaded for this endpoint{shown}", side.label()),
                Level::Info,
            )
        });
        self.drill = Some(Drill { endpoint: endpoint.to_string(), side, flows, focus: 0 });
        note
    }
}

fn move_focus(f: &mut usize, len: usize, page: usize, a: Action) {
    let last = len.saturating_sub(1);
    *f = match a {
        Action::Down => (*f + 1).min(last),
        Action::Up => f.saturating_sub(1),
        Action::PageDown => (*f + page).min(last),
        Action::PageUp => f.saturating_sub(page),
        Action::Top => 0,
        Action::Bottom => last,
        _ => *f,
    };
}

/// The side a flow belongs to: B when it was read from one of B's files (`b_files`, as
/// [`Path::display`](std::path::Path::display) writes them).
#[must_use]
pub fn side_of(store: &FlowStore, b_files: &[String], id: FlowId) -> Side {
    let file = store.file_of(id).unwrap_or_default();
    if b_files.iter().any(|p| p == file) { Side::B } else { Side::A }
}

/// `side`'s flows named `endpoint` by that side's namer.
#[must_use]
pub fn side_flows(
    store: &FlowStore,
    inputs: &VersionsInputs,
    data: &VersionsData,
    endpoint: &str,
    side: Side,
) -> Vec<FlowId> {
    let namer = match side {
        Side::A => &data.namers.0,
        Side::B => &data.namers.1,
    };
    let b_files: Vec<String> = inputs.b.iter().map(|p| p.display().to_string()).collect();
    let n = FlowId::try_from(store.len()).unwrap_or(FlowId::MAX);
    (0..n)
        .filter(|id| side_of(store, &b_files, *id) == side)
        .filter(|id| store.with_skeleton(*id, SK_METHOD | SK_TARGET | SK_HOST, |ex| namer.name(ex) == endpoint))
        .collect()
}

/// An error with its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
