//! The text index of the flows held in their source files ([`TextIndex`]), built on a named
//! worker thread (`apiscope-textindex`) once loading has finished, so loading itself is not
//! slowed: one more pass over the inputs, with the options of the load. Until it is ready
//! (and for flows it does not cover) a `/` search reads the inputs again; once ready, a
//! search reads the index instead ([`super::scanjob::Scans::start_search`]). The build stops
//! when its state is dropped (the TUI quits) and gives up, with a note, when the index
//! outgrows its temporary-file limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use super::status::{Level, Note};
use crate::store::textindex::{DEFAULT_LIMIT, IndexError, TextIndex};
use crate::store::{FlowId, FlowStore};

/// A running build.
pub struct IndexBuild {
    rx: Receiver<Result<TextIndex, IndexError>>,
    stop: Arc<AtomicBool>,
    visited: Arc<AtomicUsize>,
    total: usize,
    started: Instant,
}

impl Drop for IndexBuild {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl IndexBuild {
    /// Percent of the flows indexed so far.
    #[must_use]
    pub fn percent(&self) -> usize {
        self.visited.load(Ordering::Relaxed) * 100 / self.total.max(1)
    }
}

/// Where the text index stands.
#[derive(Default)]
pub enum IndexState {
    /// None: no flow is held in a source file, or loading has not finished.
    #[default]
    Off,
    /// Being built.
    Building(IndexBuild),
    /// Built: the index and how long the build took.
    Ready(Arc<TextIndex>, Duration),
    /// Given up (too large, the input could not be read again, no temporary file): why.
    Unavailable(String),
}

impl std::fmt::Debug for IndexState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("Off"),
            Self::Building(b) => write!(f, "Building({}%)", b.percent()),
            Self::Ready(ix, took) => write!(f, "Ready({:?}, {took:?})", ix.stats()),
            Self::Unavailable(why) => write!(f, "Unavailable({why})"),
        }
    }
}

impl IndexState {
    /// Start building the index of the flows of `store` held in their source files, with at
    /// most `limit` bytes of temporary file; `Off` when there are none.
    #[must_use]
    pub fn start(store: &FlowStore, limit: u64) -> Self {
        let ids: Vec<FlowId> =
            (0..FlowId::try_from(store.len()).unwrap_or(FlowId::MAX)).filter(|id| store.is_lazy(*id)).collect();
        if ids.is_empty() {
            return Self::Off;
        }
        let plan = store.scan_plan(&ids);
        let total = plan.len();
        let stop = Arc::new(AtomicBool::new(false));
        let visited = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded(1);
        let (s, v) = (Arc::clone(&stop), Arc::clone(&visited));
        let spawned = std::thread::Builder::new().name("apiscope-textindex".into()).spawn(move || {
            let halt = || s.load(Ordering::Relaxed);
            let _ = tx.send(TextIndex::build(&plan, limit, &halt, &v));
        });
        match spawned {
            Ok(_) => Self::Building(IndexBuild { rx, stop, visited, total, started: Instant::now() }),
            Err(e) => Self::Unavailable(format!("cannot start the text index: {e}")),
        }
    }

    /// Start with the default limit ([`DEFAULT_LIMIT`]).
    #[must_use]
    pub fn start_default(store: &FlowStore) -> Self {
        Self::start(store, DEFAULT_LIMIT)
    }

    /// Take the build's result when it is there; a note when the index cannot be had.
    pub fn tick(&mut self) -> Option<Note> {
        let Self::Building(b) = self else { return None };
        let got = b.rx.try_recv().ok()?;
        self.finish(got)
    }

    /// Block until the build ends (tests, benchmarks); a note when the index cannot be had.
    pub fn wait(&mut self) -> Option<Note> {
        let Self::Building(b) = self else { return None };
        let got = b.rx.recv().unwrap_or(Err(IndexError::Stopped));
        self.finish(got)
    }

    fn finish(&mut self, got: Result<TextIndex, IndexError>) -> Option<Note> {
        let Self::Building(b) = self else { return None };
        let took = b.started.elapsed();
        let (next, note) = match got {
            Ok(ix) => (Self::Ready(Arc::new(ix), took), None),
            Err(IndexError::Stopped) => (Self::Off, None),
            Err(e) => {
                let why = format!("no text index ({e}): searches read the inputs again");
                (Self::Unavailable(why.clone()), Some((why, Level::Info)))
            }
        };
        *self = next;
        note
    }

    /// The index, when built.
    #[must_use]
    pub fn ready(&self) -> Option<&Arc<TextIndex>> {
        match self {
            Self::Ready(ix, _) => Some(ix),
            _ => None,
        }
    }

    /// How long the build took, when built.
    #[must_use]
    pub fn took(&self) -> Option<Duration> {
        match self {
            Self::Ready(_, took) => Some(*took),
            _ => None,
        }
    }

    /// Percent done while building.
    #[must_use]
    pub fn building(&self) -> Option<usize> {
        match self {
            Self::Building(b) => Some(b.percent()),
            _ => None,
        }
    }

    /// A few words for the search prompt: how a search will run.
    #[must_use]
    pub fn prompt_hint(&self) -> String {
        match self {
            Self::Off => String::new(),
            Self::Building(b) => format!(" (indexing {}%: reads the inputs again)", b.percent()),
            Self::Ready(..) => " (indexed)".to_string(),
            Self::Unavailable(_) => " (reads the inputs again)".to_string(),
        }
    }
}
