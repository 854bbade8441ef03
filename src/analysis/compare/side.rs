//! One side of a comparison: a [`Sink`] that feeds the same exchanges to the analyzer
//! (KPIs, per-endpoint latency values, client patterns), the response-shape inference and,
//! with a spec, the contract checker, and hands back all three at the end.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::analysis::endpoint::{inferred_name, split_name};
use crate::analysis::{Analyzer, Config, EndpointLatencies, EndpointNamer, Learner, Report, SpecNamer};
use crate::ingest::{IngestError, Prepare, Prepared, ReadOptions, Sink, read_path};
use crate::model::{Diagnostic, Exchange};
use crate::spec::Spec;
use crate::spec::check::CheckOptions;
use crate::spec::findings::{DiffAccumulator, DiffReport};

use super::shape::{BodyShape, MAX_BODY, Shapes};

/// How readers should read for a side: bodies kept up to [`MAX_BODY`] (enough to infer
/// response shapes; longer ones are cut and left out of shapes) and digested whole, as
/// `stats` digests them.
#[must_use]
pub fn read_options() -> ReadOptions {
    ReadOptions { body_cap: MAX_BODY, keep_bodies: true, note_cap: false, digest_bodies: true }
}

/// What one side produced.
#[derive(Debug, Clone)]
pub struct SideResult {
    /// The `stats` report.
    pub report: Report,
    /// Every endpoint's latency values, sorted.
    pub latencies: EndpointLatencies,
    /// Response shapes by (endpoint, status), named as the report names endpoints.
    pub shapes: Shapes,
    /// The contract report, when a spec was given.
    pub contract: Option<DiffReport>,
    /// Names any exchange of this side as the report names its endpoints.
    pub namer: SideNamer,
}

/// Names an exchange as a side's report names endpoints: the spec's operation, or the
/// side's learnt template (as learnt by the end of the side).
#[derive(Debug, Clone)]
pub enum SideNamer {
    /// The spec's operations.
    Spec(Arc<Spec>),
    /// Templates learnt from the side's traffic.
    Learnt(Arc<Mutex<Learner>>),
}

impl SideNamer {
    /// The endpoint name of `ex` (only its method and target are read).
    #[must_use]
    pub fn name(&self, ex: &Exchange) -> String {
        match self {
            Self::Spec(s) => SpecNamer(s).name(ex).name,
            Self::Learnt(l) => {
                let m = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
                match l.lock() {
                    Ok(l) => format!("{m} {}", l.template(m, ex.request.path())),
                    Err(_) => inferred_name(ex),
                }
            }
        }
    }
}

/// Why a side could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SideError {
    /// An input could not be read at all.
    #[error("reading {file}")]
    Read {
        /// The input.
        file: String,
        /// Why.
        #[source]
        source: IngestError,
    },
    /// The thread reading side A ended without an answer.
    #[error("reading side A failed")]
    Thread,
}

/// Read one side's files, in order, into a [`Side`] and finish it.
///
/// # Errors
/// The first unreadable input.
pub fn read_side(files: &[PathBuf], cfg: Config, spec: Option<&Arc<Spec>>) -> Result<SideResult, SideError> {
    let mut side = Side::new(cfg, spec, CheckOptions::default());
    let opts = read_options();
    for f in files {
        let file = f.display().to_string();
        side.begin_input(&file);
        read_path(f, &opts, &mut side).map_err(|source| SideError::Read { file, source })?;
    }
    Ok(side.finish())
}

/// Read both sides, A and B, at once: A on a second thread, B on this one.
///
/// # Errors
/// An unreadable input.
pub fn read_sides(
    a: &[PathBuf],
    b: &[PathBuf],
    cfg: &Config,
    spec: Option<&Arc<Spec>>,
) -> Result<(SideResult, SideResult), SideError> {
    std::thread::scope(|s| {
        let (ca, cb) = (cfg.clone(), cfg.clone());
        // The two sides already use two threads: each side's capture reads get half of the
        // parsing threads (on two cores, one each, which also lets readers drop the bodies
        // a side has enough of).
        let ha = s.spawn(move || crate::ingest::with_share(2, || read_side(a, ca, spec)));
        let rb = crate::ingest::with_share(2, || read_side(b, cb, spec));
        let ra = ha.join().map_err(|_| SideError::Thread)?;
        Ok((ra?, rb?))
    })
}

/// The sink of one side.
pub struct Side<'s> {
    analyzer: Analyzer<'s>,
    spec: Option<&'s Arc<Spec>>,
    learner: Option<Arc<Mutex<Learner>>>,
    shapes: Shapes,
    /// (endpoint, status) pairs whose shapes have all the bodies they take: the preparer
    /// reads no more of their bodies.
    full: Arc<RwLock<HashSet<(String, u16)>>>,
    contract: Option<DiffAccumulator>,
}

/// The name under which a side keeps the shape of `ex`: the spec's operation, else the
/// template learnt so far (every name is given its final template at the end). Naming by
/// what was learnt keeps one shape per endpoint instead of one per literal path
/// (`/quotes/AAPL`, `/quotes/MSFT`, …), so that the bodies read per endpoint stay bounded.
fn shape_name(spec: Option<&Spec>, learner: Option<&Mutex<Learner>>, ex: &Exchange) -> String {
    if let Some(s) = spec {
        return SpecNamer(s).name(ex).name;
    }
    let m = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
    match learner.map(Mutex::lock) {
        Some(Ok(l)) => format!("{m} {}", l.template(m, ex.request.path())),
        _ => inferred_name(ex),
    }
}

impl<'s> Side<'s> {
    /// A side analysed with `cfg`; with a spec, endpoints are its operations and the
    /// contract is checked with `check`.
    #[must_use]
    pub fn new(cfg: Config, spec: Option<&'s Arc<Spec>>, check: CheckOptions) -> Self {
        let client_key = cfg.client_key.clone();
        match spec {
            Some(s) => {
                let mut analyzer = Analyzer::new(cfg, Box::new(SpecNamer(s)));
                analyzer.declare_endpoints(s.operations.iter().map(|o| format!("{} {}", o.method, o.template)));
                Self {
                    analyzer,
                    spec: Some(s),
                    learner: None,
                    shapes: Shapes::default(),
                    full: Arc::default(),
                    contract: Some(DiffAccumulator::new(Arc::clone(s), check, client_key)),
                }
            }
            None => {
                let learner = Arc::new(Mutex::new(Learner::default()));
                Self {
                    analyzer: Analyzer::learning_with(cfg, Arc::clone(&learner)),
                    spec: None,
                    learner: Some(learner),
                    shapes: Shapes::default(),
                    full: Arc::default(),
                    contract: None,
                }
            }
        }
    }

    /// Start the next input file.
    pub fn begin_input(&mut self, name: &str) {
        self.analyzer.begin_input(name);
        if let Some(c) = &mut self.contract {
            c.add_input(name);
        }
    }

    /// The shape key of `ex`'s endpoint: the spec's operation, or the inferred name (given
    /// its learnt template at the end).
    fn observe_shape(&mut self, ex: &Exchange) {
        if ex.response.as_ref().is_none_or(|r| r.body.content.is_empty()) {
            return;
        }
        let name = shape_name(self.spec.map(|s| &**s), self.learner.as_deref(), ex);
        self.shapes.observe(&name, ex);
    }

    /// Take a shape the preparer took (the body itself is gone by now).
    fn observe_prepared_shape(&mut self, ex: &Exchange, taken: Option<(String, Option<BodyShape>)>) {
        let Some((name, shape)) = taken else { return };
        if self.shapes.observe_shape(&name, ex, shape) {
            if let (Some(status), Ok(mut full)) = (ex.status(), self.full.write()) {
                full.insert((name, status));
            }
        }
    }

    /// Close the side.
    #[must_use]
    pub fn finish(self) -> SideResult {
        let (report, latencies) = self.analyzer.finish_with_latencies();
        let shapes = match &self.learner {
            Some(l) => {
                let learner = l.lock().ok();
                self.shapes.renamed(|name| match (split_name(name), &learner) {
                    (Some((m, path)), Some(l)) => format!("{m} {}", l.template(m, path)),
                    _ => name.to_string(),
                })
            }
            None => self.shapes,
        };
        let namer = match (&self.learner, self.spec) {
            (Some(l), _) => SideNamer::Learnt(Arc::clone(l)),
            (None, Some(s)) => SideNamer::Spec(Arc::clone(s)),
            (None, None) => SideNamer::Learnt(Arc::default()),
        };
        SideResult { report, latencies, shapes, contract: self.contract.map(DiffAccumulator::finish), namer }
    }
}

/// What the side's preparer made of one exchange: the analyzer's and the checker's parts,
/// and the response body's shape with the name it is kept under (`None`: no response body;
/// a `None` shape: a body that is not read, because it is not JSON, too big, or its
/// (endpoint, status) has all the bodies it takes).
struct SidePrepared(Option<Prepared>, Option<Prepared>, Option<(String, Option<BodyShape>)>);

/// Runs the analyzer's and the checker's per-exchange work and takes the response body's
/// shape on the reader's threads, so that readers may drop bodies and response header
/// lines as soon as an exchange is prepared (what `stats` does too).
struct SidePrepare {
    analysis: Option<Arc<dyn Prepare>>,
    contract: Option<Arc<dyn Prepare>>,
    spec: Option<Arc<Spec>>,
    learner: Option<Arc<Mutex<Learner>>>,
    full: Arc<RwLock<HashSet<(String, u16)>>>,
}

impl SidePrepare {
    /// The shape of `ex`'s response body under its name, unless its pair is full.
    fn shape(&self, ex: &Exchange) -> Option<(String, Option<BodyShape>)> {
        let r = ex.response.as_ref().filter(|r| !r.body.content.is_empty())?;
        let name = shape_name(self.spec.as_deref(), self.learner.as_deref(), ex);
        let full = self.full.read().is_ok_and(|f| f.contains(&(name.clone(), r.status)));
        let shape = if full { None } else { BodyShape::of(ex) };
        Some((name, shape))
    }
}

impl Prepare for SidePrepare {
    fn prepare(&self, ex: &Exchange) -> Prepared {
        Box::new(SidePrepared(
            self.analysis.as_ref().map(|p| p.prepare(ex)),
            self.contract.as_ref().map(|p| p.prepare(ex)),
            self.shape(ex),
        ))
    }

    fn drops_bodies(&self) -> bool {
        self.analysis.as_ref().is_none_or(|p| p.drops_bodies())
            && self.contract.as_ref().is_none_or(|p| p.drops_bodies())
    }

    fn drops_response_headers(&self) -> bool {
        self.analysis.as_ref().is_none_or(|p| p.drops_response_headers())
            && self.contract.as_ref().is_none_or(|p| p.drops_response_headers())
    }

    fn content_only(&self) -> bool {
        self.analysis.as_ref().is_none_or(|p| p.content_only())
            && self.contract.as_ref().is_none_or(|p| p.content_only())
    }
}

impl Sink for Side<'_> {
    /// Bodies are read only for the shapes: none of an (endpoint, status) that has all the
    /// bodies it takes.
    fn wants_response_body(&self, ex: &Exchange, status: u16) -> bool {
        let Ok(full) = self.full.read() else { return true };
        full.is_empty() || !full.contains(&(shape_name(self.spec.map(|s| &**s), self.learner.as_deref(), ex), status))
    }

    fn exchange(&mut self, ex: &Exchange) {
        self.observe_shape(ex);
        self.analyzer.exchange(ex);
        if let Some(c) = &mut self.contract {
            c.exchange(ex);
        }
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        self.analyzer.diagnostic(d);
        if let Some(c) = &mut self.contract {
            c.diagnostic(d);
        }
    }

    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        Some(Arc::new(SidePrepare {
            analysis: self.analyzer.preparer(),
            contract: self.contract.as_ref().and_then(Sink::preparer),
            spec: self.spec.cloned(),
            learner: self.learner.clone(),
            full: Arc::clone(&self.full),
        }))
    }

    fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
        let Ok(p) = prepared.downcast::<SidePrepared>() else {
            self.exchange(ex);
            return;
        };
        let SidePrepared(analysis, contract, shape) = *p;
        self.observe_prepared_shape(ex, shape);
        match analysis {
            Some(a) => self.analyzer.prepared(ex, a),
            None => self.analyzer.exchange(ex),
        }
        if let Some(c) = &mut self.contract {
            match contract {
                Some(x) => c.prepared(ex, x),
                None => c.exchange(ex),
            }
        }
    }
}
