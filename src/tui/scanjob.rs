//! Filters on headers and bodies and `/` searches over flows held in their source files run
//! here, off the UI thread: a [`ScanJob`] runs the store's [`ScanPlan`] (one sequential
//! re-read of the sources) on a named worker thread (`apiscope-scan`), tests each exchange,
//! and streams the matching ids back in small batches; [`Scans`] owns the passes of the flows
//! view, starts them and merges what they found between frames ([`Scans::tick`]), while the
//! UI keeps answering keys. A job is cancelled when it is dropped (a
//! new filter or search replaces it) and restarts when the view is rebuilt under it.
//! Once the text index is built ([`IndexState`]), a search reads it instead of the inputs
//! ([`ScanJob::spawn_indexed`]) and passes over only the flows it does not cover.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};

use super::indexjob::IndexState;
use super::status::{Level, Note};
use crate::model::Exchange;
use crate::store::reread::{ScanError, ScanPlan};
use crate::store::search::{ContentHit, Search};
use crate::store::textindex::{IndexError, TextIndex};
use crate::store::{FlowId, FlowStore};

/// The test a job applies to each exchange.
pub type Test = Box<dyn Fn(FlowId, &Exchange) -> bool + Send>;

/// The test of a job whose readers may prepare exchanges first ([`ScanJob::spawn_prepared`]):
/// the flow, its exchange and what the preparer made of it, when the reader ran it.
pub type PreparedTest = Box<dyn Fn(FlowId, &Exchange, Option<crate::ingest::Prepared>) -> bool + Send>;

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
    /// The job reads the text index (most flows) rather than the inputs.
    pub indexed: bool,
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

/// Sends a job's hits in batches: the first ones once `first` has passed since the start,
/// later ones every 250 ms (or 65,536 at a time), since each batch costs the UI a merge.
struct Batcher {
    tx: crossbeam_channel::Sender<Msg>,
    batch: Vec<FlowId>,
    sent: usize,
    last: Instant,
    first: Duration,
}

impl Batcher {
    fn new(tx: crossbeam_channel::Sender<Msg>, first: Duration) -> Self {
        Self { tx, batch: Vec::new(), sent: 0, last: Instant::now(), first }
    }

    fn push(&mut self, id: FlowId) {
        self.batch.push(id);
    }

    fn flush_due(&mut self) {
        let every = if self.sent == 0 { self.first } else { Duration::from_millis(250) };
        if !self.batch.is_empty() && (self.batch.len() >= 1 << 16 || self.last.elapsed() >= every) {
            self.sent += self.batch.len();
            let _ = self.tx.send(Msg::Hits(std::mem::take(&mut self.batch)));
            self.last = Instant::now();
        }
    }

    fn finish(self, res: Result<(), ScanError>) {
        if !self.batch.is_empty() {
            let _ = self.tx.send(Msg::Hits(self.batch));
        }
        let _ = self.tx.send(Msg::Done(res));
    }
}

impl ScanJob {
    /// Start `plan` on a worker thread, keeping the flows `test` accepts.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(plan: ScanPlan, test: Test, generation: u64) -> std::io::Result<Self> {
        Self::spawn_prepared(plan, None, Box::new(move |id, ex, _| test(id, ex)), generation)
    }

    /// [`ScanJob::spawn`] with `pre` run by the readers that can (a capture read on several
    /// threads runs it on its parsing threads), its answer handed to `test`.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn_prepared(
        plan: ScanPlan,
        pre: Option<Arc<dyn crate::ingest::Prepare>>,
        test: PreparedTest,
        generation: u64,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let visited = Arc::new(AtomicUsize::new(0));
        let total = plan.len();
        let (s, v) = (Arc::clone(&stop), Arc::clone(&visited));
        std::thread::Builder::new().name("apiscope-scan".into()).spawn(move || {
            let mut out = Batcher::new(tx, Duration::from_millis(40));
            let halt = || s.load(Ordering::Relaxed);
            let res = plan.run_prepared(&halt, pre, &mut |id, ex, prepared| {
                v.fetch_add(1, Ordering::Relaxed);
                if test(id, ex, prepared) {
                    out.push(id);
                }
                out.flush_due();
            });
            out.finish(res);
        })?;
        Ok(Self { rx, stop, visited, total, started: Instant::now(), hits: 0, generation, indexed: false })
    }

    /// A search answered from `index` for the flows it covers: the flows in `early` (known
    /// hits: comments) go out first, then those whose record holds `needle` (see
    /// [`crate::store::textindex::needle`]), then `rest` (the flows the index does not cover)
    /// runs as [`ScanJob::spawn_prepared`] would run it.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn_indexed(
        index: Arc<TextIndex>,
        needle: Vec<u8>,
        early: Vec<FlowId>,
        rest: ScanPlan,
        pre: Option<Arc<dyn crate::ingest::Prepare>>,
        test: PreparedTest,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let visited = Arc::new(AtomicUsize::new(0));
        let total = index.flows() + rest.len();
        let (s, v) = (Arc::clone(&stop), Arc::clone(&visited));
        std::thread::Builder::new().name("apiscope-scan".into()).spawn(move || {
            // The index answers fast: hits go out as soon as there are some.
            let mut out = Batcher::new(tx, Duration::ZERO);
            let halt = || s.load(Ordering::Relaxed);
            let known: HashSet<FlowId> = early.iter().copied().collect();
            for id in early {
                out.push(id);
            }
            out.flush_due();
            let res = index.search(&needle, &halt, &mut |flows, hits| {
                v.fetch_add(flows, Ordering::Relaxed);
                for id in hits.into_iter().filter(|id| !known.contains(id)) {
                    out.push(id);
                }
                out.flush_due();
            });
            let res = match res {
                Ok(()) => rest.run_prepared(&halt, pre, &mut |id, ex, prepared| {
                    v.fetch_add(1, Ordering::Relaxed);
                    if test(id, ex, prepared) {
                        out.push(id);
                    }
                    out.flush_due();
                }),
                Err(IndexError::Stopped) => Err(ScanError::Stopped),
                Err(e) => Err(ScanError::Source(format!("text index: {e}"))),
            };
            out.finish(res);
        })?;
        Ok(Self { rx, stop, visited, total, started: Instant::now(), hits: 0, generation: 0, indexed: true })
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
    /// The text index searches read once it is built.
    pub index: IndexState,
    /// The index build's progress last drawn (percent).
    index_shown: Option<usize>,
}

impl Scans {
    /// True while a pass runs.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.filter.is_some() || self.search.is_some()
    }
}

/// What [`Scans::tick`] did, for the app to follow up.
#[derive(Debug, Default)]
pub struct ScanTick {
    /// The screen changed (or a pass runs, for its progress).
    pub changed: bool,
    /// The filter pass admitted flows into the view: re-find the focused flow.
    pub admitted: bool,
    /// The search pass found new hits.
    pub new_hits: bool,
    /// A status message.
    pub note: Option<Note>,
}

impl Scans {
    /// Start the filter pass when the view has flows the filter could not decide from memory.
    fn start_filter(&mut self, store: &FlowStore) -> Option<Note> {
        let p = store.predicate()?;
        let ids: Vec<FlowId> = (0..FlowId::try_from(store.len()).unwrap_or(FlowId::MAX))
            .filter(|id| store.is_lazy(*id))
            .filter(|id| !store.marked_only() || store.row(*id).is_some_and(|r| r.has(crate::store::F_MARKED)))
            .collect();
        let plan = store.scan_plan(&ids);
        let plan = if p.needs_bodies() { plan } else { plan.without_bodies() };
        let meta = store.meta_snapshot();
        let test: Test = Box::new(move |id, ex| p.keep(ex, &meta.meta(id)));
        match ScanJob::spawn(plan, test, store.generation()) {
            Ok(j) => {
                self.filter = Some(j);
                None
            }
            Err(e) => Some((format!("filter: cannot start the background pass: {e}"), Level::Error)),
        }
    }

    /// Build the text index of the flows of `store` held in their source files (after
    /// loading); a running build is replaced.
    pub fn start_index(&mut self, store: &FlowStore) {
        self.index = IndexState::start_default(store);
        self.index_shown = None;
    }

    /// Start a search over every flow of `store` as a pass: from the text index for the
    /// flows it covers, by reading the inputs again for the others; returns the status
    /// message.
    pub fn start_search(&mut self, store: &FlowStore, s: &Search) -> Note {
        let n = FlowId::try_from(store.len()).unwrap_or(FlowId::MAX);
        let meta = store.meta_snapshot();
        let hit = ContentHit(s.clone());
        let pre: Arc<dyn crate::ingest::Prepare> = Arc::new(hit.clone());
        self.hits.clear();
        self.search_done = false;
        self.jump = true;
        let indexed = self.index.ready().cloned().zip(crate::store::textindex::needle(s.text()));
        let job = match indexed {
            Some((ix, needle)) => {
                let rest: Vec<FlowId> = (0..n).filter(|id| !ix.covers(*id)).collect();
                // The index holds what the exchanges carry; comments are tested here.
                let early: Vec<FlowId> = (0..n)
                    .filter(|id| ix.covers(*id) && store.comment(*id).is_some_and(|c| s.matches_text(c)))
                    .collect();
                let plan = store.scan_plan(&rest);
                let test: PreparedTest = Box::new(move |id, ex, prepared| hit.hit(ex, meta.meta(id).comment, prepared));
                ScanJob::spawn_indexed(ix, needle, early, plan, Some(pre), test)
            }
            None => {
                let ids: Vec<FlowId> = (0..n).collect();
                let test: PreparedTest = Box::new(move |id, ex, prepared| hit.hit(ex, meta.meta(id).comment, prepared));
                ScanJob::spawn_prepared(store.scan_plan(&ids), Some(pre), test, 0)
            }
        };
        match job {
            Ok(j) => {
                let how = if j.indexed {
                    " (text index)".to_string()
                } else {
                    match self.index.building() {
                        Some(p) => format!(" in the background (inputs read again; text index {p}% built)"),
                        None => " in the background".to_string(),
                    }
                };
                self.search = Some(j);
                (format!("searching {} flows{how}…", store.len()), Level::Info)
            }
            Err(e) => (format!("search: cannot start the background pass: {e}"), Level::Error),
        }
    }

    /// Forget the search and its hits.
    pub fn clear_search(&mut self) {
        self.search = None;
        self.hits.clear();
    }

    /// The next view position after (or before) `from` whose flow is a known search hit.
    #[must_use]
    pub fn next_hit(&self, store: &FlowStore, from: usize, forward: bool) -> Option<usize> {
        let n = store.view().len();
        (1..=n)
            .map(|k| if forward { (from + k) % n } else { (from + n * 2 - k) % n })
            .find(|pos| store.view_at(*pos).is_some_and(|id| self.hits.contains(&id)))
    }

    /// Where view position `pos` stands among the known search hits the view shows:
    /// (1-based rank, hits shown).
    #[must_use]
    pub fn hit_rank(&self, store: &FlowStore, pos: usize) -> (usize, usize) {
        let view = store.view();
        let rank = view.iter().take(pos + 1).filter(|id| self.hits.contains(id)).count();
        let n = view.iter().filter(|id| self.hits.contains(id)).count();
        (rank, n)
    }

    /// Merge what the passes found into `store`; start the filter pass when needed.
    /// `search` is the active search's text (for messages).
    pub fn tick(&mut self, store: &mut FlowStore, search: Option<&str>) -> ScanTick {
        let mut t = ScanTick::default();
        let stale = self.filter.as_ref().is_some_and(|j| j.generation != store.generation());
        if stale || (self.filter.is_some() && !store.undecided()) {
            self.filter = None;
        }
        if self.filter.is_none() && store.undecided() {
            t.note = self.start_filter(store);
            t.changed = true;
        }
        self.tick_filter(store, &mut t);
        self.tick_search(search.unwrap_or_default(), &mut t);
        if let Some(n) = self.index.tick() {
            t.note = Some(n);
        }
        let shown = self.index.building();
        if shown != self.index_shown {
            self.index_shown = shown;
            t.changed = true;
        }
        t.changed |= self.busy();
        t
    }

    fn tick_filter(&mut self, store: &mut FlowStore, t: &mut ScanTick) {
        let Some(job) = self.filter.as_mut() else { return };
        let got = job.poll();
        let (visited, took) = (job.visited(), job.started.elapsed());
        if !got.hits.is_empty() {
            store.admit(&got.hits);
            t.admitted = true;
            t.changed = true;
        }
        let Some(r) = got.done else { return };
        self.filter = None;
        self.last_filter = Some((visited, took));
        match r {
            Ok(()) => {
                store.settle();
                let msg = format!(
                    "{} of {} flows match ({:.1} s, headers and bodies read again)",
                    store.view().len(),
                    store.len(),
                    took.as_secs_f64()
                );
                t.note = Some((msg, Level::Info));
            }
            Err(ScanError::Stopped) => {}
            Err(ScanError::Source(e)) => {
                store.settle();
                t.note = Some((format!("filter: the input could not be read again: {e}"), Level::Error));
            }
        }
        t.changed = true;
    }

    fn tick_search(&mut self, text: &str, t: &mut ScanTick) {
        let Some(job) = self.search.as_mut() else { return };
        let (got, took, indexed) = (job.poll(), job.started.elapsed(), job.indexed);
        if !got.hits.is_empty() {
            self.hits.extend(got.hits.iter().copied());
            t.new_hits = true;
            t.changed = true;
        }
        let Some(r) = got.done else { return };
        self.search = None;
        self.search_done = true;
        match r {
            Ok(()) if self.hits.is_empty() => t.note = Some((format!("no flow contains “{text}”"), Level::Error)),
            Ok(()) => {
                let how = if indexed { ", text index" } else { "" };
                let msg = format!(
                    "“{text}” found in {} flows ({:.1} s{how}); n / N to step",
                    self.hits.len(),
                    took.as_secs_f64()
                );
                t.note = Some((msg, Level::Info));
            }
            Err(ScanError::Stopped) => {}
            Err(ScanError::Source(e)) => {
                t.note = Some((format!("search: the input could not be read again: {e}"), Level::Error));
            }
        }
        t.changed = true;
    }
}
