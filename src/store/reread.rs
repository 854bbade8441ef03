//! One sequential pass over the flows a worker needs in full (filters on headers and bodies,
//! search, insight views), instead of one re-read per flow: a [`ScanPlan`] lists, per file
//! run, the source to read again and which flows of it are wanted, plus the flows held in
//! memory. [`ScanPlan::run`] reads each needed source once, front to back, stopping after the
//! last wanted flow of the run, and hands every wanted exchange to a callback with its id.
//! A [`MetaSnapshot`] answers marks, comments and client identity off the UI thread.

use std::collections::HashMap;
use std::sync::Arc;

use super::{FlowId, FlowMeta, Held, Sym};
use crate::ingest::locate::Source;
use crate::ingest::{Prepare, Prepared, ReadOptions, Sink};
use crate::model::Exchange;

/// A run of flows to read from one file.
#[derive(Debug, Clone)]
struct FilePart {
    source: Arc<Source>,
    first: FlowId,
    seq0: u64,
    /// Wanted flows of the run, ascending.
    wanted: Vec<FlowId>,
}

/// What one pass must visit.
#[derive(Debug, Clone, Default)]
pub struct ScanPlan {
    files: Vec<FilePart>,
    mem: Vec<(FlowId, Arc<Exchange>)>,
    opts: ReadOptions,
}

/// Why a pass ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Asked to stop.
    #[error("stopped")]
    Stopped,
    /// A source could not be read again.
    #[error("{0}")]
    Source(String),
}

/// The callback of [`ScanPlan::run_prepared`]: a wanted flow, its exchange, and what the
/// pass's [`Prepare`] made of it when the reader ran it (on its worker threads).
pub type VisitFn<'a> = dyn FnMut(FlowId, &Exchange, Option<Prepared>) + 'a;

struct Visit<'a> {
    first: FlowId,
    seq0: u64,
    wanted: &'a [FlowId],
    next: usize,
    stop: &'a dyn Fn() -> bool,
    pre: Option<Arc<dyn Prepare>>,
    f: &'a mut VisitFn<'a>,
}

impl Visit<'_> {
    fn visit(&mut self, ex: &Exchange, prepared: Option<Prepared>) {
        let Some(k) = ex.seq.checked_sub(self.seq0) else { return };
        let Ok(id) = u32::try_from(u64::from(self.first) + k) else { return };
        while self.wanted.get(self.next).is_some_and(|w| *w < id) {
            self.next += 1;
        }
        if self.wanted.get(self.next) == Some(&id) {
            self.next += 1;
            (self.f)(id, ex, prepared);
        }
    }
}

impl Sink for Visit<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        self.visit(ex, None);
    }
    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        self.pre.clone()
    }
    fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
        self.visit(ex, Some(prepared));
    }
    fn should_stop(&self) -> bool {
        self.next >= self.wanted.len() || (self.stop)()
    }
}

impl ScanPlan {
    /// The same pass without keeping bodies (sizes are still counted): for tests that
    /// read no body bytes.
    #[must_use]
    pub fn without_bodies(mut self) -> Self {
        self.opts.keep_bodies = false;
        self
    }

    /// Number of flows the pass visits.
    #[must_use]
    pub fn len(&self) -> usize {
        self.mem.len() + self.files.iter().map(|p| p.wanted.len()).sum::<usize>()
    }

    /// True when there is nothing to visit.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when some flow must be read from a file.
    #[must_use]
    pub fn reads_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// Visit every wanted flow: held ones first, then each file run in order. `stop` is
    /// polled between exchanges.
    ///
    /// # Errors
    /// [`ScanError::Stopped`] when `stop` said so; [`ScanError::Source`] when a file could not
    /// be read again.
    pub fn run(&self, stop: &dyn Fn() -> bool, f: &mut dyn FnMut(FlowId, &Exchange)) -> Result<(), ScanError> {
        self.run_prepared(stop, None, &mut |id, ex, _| f(id, ex))
    }

    /// [`ScanPlan::run`] with `pre` offered to the readers: a reader that prepares
    /// exchanges on its worker threads (a capture read on several threads) runs it there
    /// and hands its answer to `f`; otherwise `f` gets `None` and the whole exchange.
    ///
    /// # Errors
    /// As [`ScanPlan::run`].
    pub fn run_prepared(
        &self,
        stop: &dyn Fn() -> bool,
        pre: Option<Arc<dyn Prepare>>,
        f: &mut VisitFn<'_>,
    ) -> Result<(), ScanError> {
        for (i, (id, ex)) in self.mem.iter().enumerate() {
            if i % 1024 == 0 && stop() {
                return Err(ScanError::Stopped);
            }
            f(*id, ex, None);
        }
        for p in &self.files {
            let mut v =
                Visit { first: p.first, seq0: p.seq0, wanted: &p.wanted, next: 0, stop, pre: pre.clone(), f: &mut *f };
            p.source.scan(&self.opts, &mut v).map_err(|e| ScanError::Source(e.to_string()))?;
            if stop() {
                return Err(ScanError::Stopped);
            }
        }
        Ok(())
    }
}

/// Marks, comments and client identities of every flow, copied for a worker.
#[derive(Debug, Clone, Default)]
pub struct MetaSnapshot {
    marked: Vec<bool>,
    client: Vec<Sym>,
    names: Vec<Arc<str>>,
    comments: HashMap<FlowId, String>,
}

impl MetaSnapshot {
    /// The metadata of one flow, as [`super::FlowStore::meta`] gives it.
    #[must_use]
    pub fn meta(&self, id: FlowId) -> FlowMeta<'_> {
        FlowMeta {
            marked: self.marked.get(id as usize).copied().unwrap_or(false),
            comment: self.comments.get(&id).map(String::as_str).filter(|c| !c.is_empty()),
            client: self.client.get(id as usize).and_then(|s| self.names.get(s.index())).map_or("", |a| a),
            url: None,
        }
    }
}

impl super::FlowStore {
    /// The pass that visits `ids` (any order; duplicates ignored): file runs of lazily held
    /// flows and the flows held in memory.
    #[must_use]
    pub fn scan_plan(&self, ids: &[FlowId]) -> ScanPlan {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut plan = ScanPlan { opts: self.lazy.clone().unwrap_or_default(), ..ScanPlan::default() };
        for id in sorted {
            match self.held.get(id as usize) {
                Some(Held::Mem(ex)) => plan.mem.push((id, Arc::clone(ex))),
                Some(Held::At(_)) => {
                    let Some(seg) = self.segment_of(id) else { continue };
                    let Some(src) = &seg.source else { continue };
                    match plan.files.last_mut() {
                        Some(p) if p.first == seg.first && Arc::ptr_eq(&p.source, src) => p.wanted.push(id),
                        _ => plan.files.push(FilePart {
                            source: Arc::clone(src),
                            first: seg.first,
                            seq0: seg.seq0,
                            wanted: vec![id],
                        }),
                    }
                }
                None => {}
            }
        }
        plan
    }

    /// The full exchanges of `ids`, in that order: one by one through the cache when few are
    /// held in their source, else with one sequential pass.
    #[must_use]
    pub fn exchanges(&self, ids: &[FlowId]) -> Vec<Arc<Exchange>> {
        let lazy = ids.iter().filter(|id| self.is_lazy(**id)).count();
        if lazy <= 32 {
            return ids.iter().filter_map(|id| self.exchange(*id)).collect();
        }
        let mut got: HashMap<FlowId, Arc<Exchange>> = HashMap::with_capacity(ids.len());
        let plan = self.scan_plan(ids);
        let done = plan.run(&|| false, &mut |id, ex| {
            got.insert(id, Arc::new(ex.clone()));
        });
        ids.iter()
            .filter_map(|id| match got.remove(id) {
                Some(e) => Some(e),
                // A flow the pass did not deliver (the file changed): the single re-read says why.
                None if done.is_err() || self.is_lazy(*id) => self.exchange(*id),
                None => None,
            })
            .collect()
    }

    /// Marks, comments and clients of every flow, for a worker thread.
    #[must_use]
    pub fn meta_snapshot(&self) -> MetaSnapshot {
        let mut comments = self.source_comments.clone();
        for (k, v) in &self.comments {
            comments.insert(*k, v.clone());
        }
        MetaSnapshot {
            marked: self.rows.iter().map(|r| r.has(super::F_MARKED)).collect(),
            client: self.rows.iter().map(|r| r.client).collect(),
            names: self.strings.snapshot(),
            comments,
        }
    }
}
