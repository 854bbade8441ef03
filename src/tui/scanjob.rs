//! Filters on headers and bodies and `/` searches over flows held in their source files run
//! here, off the UI thread: a [`ScanJob`] runs the store's [`ScanPlan`] (one sequential
//! re-read of the sources) on a named worker thread (`apiscope-scan`), tests each exchange,
//! and streams the matching ids back in small batches; the UI merges them between frames
//! ([`App::tick_scans`]) and keeps answering keys. A job is cancelled when it is dropped (a
//! new filter or search replaces it) and restarts when the view is rebuilt under it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};

use super::app::{App, Level};
use crate::model::Exchange;
use crate::store::FlowId;
use crate::store::scan::{ScanError, ScanPlan};
use crate::store::search::Search;

/// The test a job applies to each exchange.
pub type Test = Box<dyn Fn(FlowId, &Exchange) -> bool + Send>;

enum Msg {
    Hits(Vec<FlowId>),
    Done(Result<(), ScanError>),
}

/// A running pass.
pub struct ScanJob {
    rx: Receiver<Msg>,
    stop: Arc<AtomicBool>,
    visited: Arc<AtomicUsize>,
    /// Flows the pass visits.
    pub total: usize,
    /// When it started.
    pub started: Instant,
    /// Matches received so far.
    pub hits: usize,
    /// Store view generation it was started for (filters).
    pub generation: u64,
}

impl std::fmt::Debug for ScanJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanJob").field("total", &self.total).field("hits", &self.hits).finish_non_exhaustive()
    }
}

impl Drop for ScanJob {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What [`ScanJob::poll`] found.
#[derive(Debug, Default)]
pub struct Polled {
    /// New matches.
    pub hits: Vec<FlowId>,
    /// The pass ended: how.
    pub done: Option<Result<(), ScanError>>,
}

impl ScanJob {
    /// Start `plan` on a worker thread, keeping the flows `test` accepts.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(plan: ScanPlan, test: Test, generation: u64) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let visited = Arc::new(AtomicUsize::new(0));
        let total = plan.len();
        let (s, v) = (Arc::clone(&stop), Arc::clone(&visited));
        std::thread::Builder::new().name("apiscope-scan".into()).spawn(move || {
            let mut batch = Vec::new();
            let mut sent = 0usize;
            let mut last = Instant::now();
            let halt = || s.load(Ordering::Relaxed);
            let res = plan.run(&halt, &mut |id, ex| {
                v.fetch_add(1, Ordering::Relaxed);
                if test(id, ex) {
                    batch.push(id);
                }
                // The first hits go out at once; later ones in larger batches, since each
                // batch costs the UI a merge into the view.
                let every = if sent == 0 { Duration::from_millis(40) } else { Duration::from_millis(250) };
                if !batch.is_empty() && (batch.len() >= 1 << 16 || last.elapsed() >= every) {
                    sent += batch.len();
                    let _ = tx.send(Msg::Hits(std::mem::take(&mut batch)));
                    last = Instant::now();
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(Msg::Hits(batch));
            }
            let _ = tx.send(Msg::Done(res));
        })?;
        Ok(Self { rx, stop, visited, total, started: Instant::now(), hits: 0, generation })
    }

    /// Flows visited so far.
    #[must_use]
    pub fn visited(&self) -> usize {
        self.visited.load(Ordering::Relaxed)
    }

    /// Drain what the worker sent.
    pub fn poll(&mut self) -> Polled {
        let mut out = Polled::default();
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Hits(mut h) => {
                    self.hits += h.len();
                    out.hits.append(&mut h);
                }
                Msg::Done(r) => out.done = Some(r),
            }
        }
        out
    }

    /// Block until the pass ends, merging nothing (tests, benchmarks): all hits and how it ended.
    pub fn wait(&mut self, timeout: Duration) -> Polled {
        let mut out = Polled::default();
        let end = Instant::now() + timeout;
        while out.done.is_none() {
            match self.rx.recv_deadline(end) {
                Ok(Msg::Hits(mut h)) => {
                    self.hits += h.len();
                    out.hits.append(&mut h);
                }
                Ok(Msg::Done(r)) => out.done = Some(r),
                Err(_) => break,
            }
        }
        out
    }

    /// "visited/total" as a percentage.
    #[must_use]
    pub fn percent(&self) -> usize {
        self.visited() * 100 / self.total.max(1)
    }
}

/// The background passes of the flows view.
#[derive(Debug, Default)]
pub struct Scans {
    /// The filter pass deciding flows held in their source.
    pub filter: Option<ScanJob>,
    /// The search pass.
    pub search: Option<ScanJob>,
    /// Flows the search matched so far (when the search ran as a pass).
    pub hits: HashSet<FlowId>,
    /// The search pass is complete.
    pub search_done: bool,
    /// Jump to the first hit when it arrives (set by a new search).
    pub jump: bool,
    /// The last filter pass: flows visited and how long it took.
    pub last_filter: Option<(usize, Duration)>,
}

impl Scans {
    /// True while a pass runs.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.filter.is_some() || self.search.is_some()
    }
}

impl App {
    /// Start the filter pass when the view has flows the filter could not decide from memory.
    fn start_filter_scan(&mut self) {
        let Some(p) = self.store.predicate() else { return };
        let ids: Vec<FlowId> = (0..FlowId::try_from(self.store.len()).unwrap_or(FlowId::MAX))
            .filter(|id| self.store.is_lazy(*id))
            .filter(|id| {
                !self.store.marked_only() || self.store.row(*id).is_some_and(|r| r.has(crate::store::F_MARKED))
            })
            .collect();
        let plan = self.store.scan_plan(&ids);
        let plan = if p.needs_bodies() { plan } else { plan.without_bodies() };
        let meta = self.store.meta_snapshot();
        let test: Test = Box::new(move |id, ex| p.keep(ex, &meta.meta(id)));
        match ScanJob::spawn(plan, test, self.store.generation()) {
            Ok(j) => self.scans.filter = Some(j),
            Err(e) => self.error(format!("filter: cannot start the background pass: {e}")),
        }
    }

    /// Start a search over every flow as a pass (flows held in their source).
    pub(crate) fn start_search_scan(&mut self, s: &Search) {
        let ids: Vec<FlowId> = (0..FlowId::try_from(self.store.len()).unwrap_or(FlowId::MAX)).collect();
        let plan = self.store.scan_plan(&ids);
        let meta = self.store.meta_snapshot();
        let s = s.clone();
        let test: Test = Box::new(move |id, ex| s.matches(ex, meta.meta(id).comment));
        self.scans.hits.clear();
        self.scans.search_done = false;
        self.scans.jump = true;
        match ScanJob::spawn(plan, test, 0) {
            Ok(j) => {
                self.scans.search = Some(j);
                self.info(format!("searching {} flows in the background…", self.store.len()));
            }
            Err(e) => self.error(format!("search: cannot start the background pass: {e}")),
        }
    }

    /// The next view position after (or before) `from` whose flow is a known search hit.
    pub(crate) fn next_hit(&self, from: usize, forward: bool) -> Option<usize> {
        let n = self.store.view().len();
        (1..=n)
            .map(|k| if forward { (from + k) % n } else { (from + n * 2 - k) % n })
            .find(|pos| self.store.view_at(*pos).is_some_and(|id| self.scans.hits.contains(&id)))
    }

    /// Merge what the passes found; start the filter pass when needed. True when the screen
    /// changed (or a pass runs, for its progress).
    pub fn tick_scans(&mut self) -> bool {
        let mut changed = false;
        let stale = self.scans.filter.as_ref().is_some_and(|j| j.generation != self.store.generation());
        if stale || (self.scans.filter.is_some() && !self.store.undecided()) {
            self.scans.filter = None;
        }
        if self.scans.filter.is_none() && self.store.undecided() {
            self.start_filter_scan();
            changed = true;
        }
        if let Some(job) = self.scans.filter.as_mut() {
            let got = job.poll();
            let (visited, took) = (job.visited(), job.started.elapsed());
            if !got.hits.is_empty() {
                let keep = self.focused();
                self.store.admit(&got.hits);
                self.refocus(keep);
                changed = true;
            }
            if let Some(r) = got.done {
                self.scans.filter = None;
                self.scans.last_filter = Some((visited, took));
                match r {
                    Ok(()) => {
                        self.store.settle();
                        self.info(format!(
                            "{} of {} flows match ({:.1} s, headers and bodies read again)",
                            self.store.view().len(),
                            self.store.len(),
                            took.as_secs_f64()
                        ));
                    }
                    Err(ScanError::Stopped) => {}
                    Err(ScanError::Source(e)) => {
                        self.store.settle();
                        self.error(format!("filter: the input could not be read again: {e}"));
                    }
                }
                changed = true;
            }
        }
        let polled = self.scans.search.as_mut().map(|job| (job.poll(), job.started.elapsed()));
        if let Some((got, took)) = polled {
            if !got.hits.is_empty() {
                self.scans.hits.extend(got.hits.iter().copied());
                changed = true;
                if self.scans.jump && self.detail.is_none() {
                    let from = if self.focus == 0 { self.store.view().len().saturating_sub(1) } else { self.focus - 1 };
                    if let Some(pos) = self.next_hit(from, true) {
                        self.scans.jump = false;
                        self.focus = pos;
                        self.keep_focus_visible();
                    }
                }
            }
            if let Some(r) = got.done {
                self.scans.search = None;
                self.scans.search_done = true;
                let text = self.search.as_ref().map(|s| s.text().to_string()).unwrap_or_default();
                match r {
                    Ok(()) if self.scans.hits.is_empty() => self.error(format!("no flow contains “{text}”")),
                    Ok(()) => {
                        self.message = Some((
                            format!(
                                "“{text}” found in {} flows ({:.1} s); n / N to step",
                                self.scans.hits.len(),
                                took.as_secs_f64()
                            ),
                            Level::Info,
                        ));
                    }
                    Err(ScanError::Stopped) => {}
                    Err(ScanError::Source(e)) => self.error(format!("search: the input could not be read again: {e}")),
                }
                changed = true;
            }
        }
        changed || self.scans.busy()
    }
}
