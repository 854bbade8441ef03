//! Loading inputs on a named worker thread: each reader pushes exchanges into a
//! [`ChannelSink`] that sends batches, progress and diagnostics to the UI over a bounded
//! channel. The UI drains the channel between frames, so it answers keys throughout; when
//! the user quits, the stop flag (and the dropped receiver) make the reader stop early.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::ingest::{ReadOptions, ReadSummary, Sink, read_path};
use crate::model::{Diagnostic, Exchange};

/// What the worker tells the UI.
#[derive(Debug)]
pub enum LoadMsg {
    /// Exchanges read since the last batch.
    Batch(Vec<Exchange>),
    /// A file-level problem.
    Diagnostic(Diagnostic),
    /// Bytes consumed of file number `file` (0-based) and its size when known.
    Progress {
        /// Which input.
        file: usize,
        /// Bytes consumed.
        bytes: u64,
        /// Total, when known.
        total: Option<u64>,
    },
    /// One input finished (or could not be read at all).
    FileDone {
        /// Which input.
        file: usize,
        /// Its summary, or why nothing could be read.
        result: Result<ReadSummary, String>,
    },
    /// Every input is done (or loading was stopped).
    Finished {
        /// True when the user stopped it.
        stopped: bool,
    },
}

/// Loading progress, for the gauge and the final message.
#[derive(Debug, Clone, Default)]
pub struct LoadState {
    /// A load is running.
    pub active: bool,
    /// Current input (0-based).
    pub file: usize,
    /// Bytes consumed of the current input.
    pub bytes: u64,
    /// Its size when known.
    pub total: Option<u64>,
    /// Inputs that could not be read, with why.
    pub errors: Vec<String>,
    /// Inputs finished.
    pub done_files: usize,
}

impl LoadState {
    /// Follow a progress, file-done or finished message (batches and diagnostics go to the
    /// store); returns why an input could not be read, when that is the news.
    pub fn update(&mut self, m: &LoadMsg) -> Option<String> {
        match m {
            LoadMsg::Progress { file, bytes, total } => {
                self.active = true;
                self.file = *file;
                self.bytes = *bytes;
                self.total = *total;
            }
            LoadMsg::FileDone { file, result } => {
                self.done_files = file + 1;
                if let Err(e) = result {
                    self.errors.push(e.clone());
                    return Some(e.clone());
                }
            }
            LoadMsg::Finished { .. } => self.active = false,
            LoadMsg::Batch(_) | LoadMsg::Diagnostic(_) => {}
        }
        None
    }
}

/// Exchanges per batch.
const BATCH: usize = 2048;
/// Longest time a partial batch waits.
const FLUSH: Duration = Duration::from_millis(40);

/// A [`Sink`] that forwards to the UI in batches.
pub struct ChannelSink {
    tx: Sender<LoadMsg>,
    stop: Arc<AtomicBool>,
    file: usize,
    batch: Vec<Exchange>,
    last_flush: Instant,
    last_progress: Instant,
    file_size: Option<u64>,
    /// Send every exchange at once (live traffic: the next one may be minutes away).
    immediate: bool,
}

impl ChannelSink {
    fn new(tx: Sender<LoadMsg>, stop: Arc<AtomicBool>, file: usize, file_size: Option<u64>) -> Self {
        let now = Instant::now();
        Self {
            tx,
            stop,
            file,
            batch: Vec::with_capacity(BATCH),
            last_flush: now,
            last_progress: now,
            file_size,
            immediate: false,
        }
    }

    fn send(&self, m: LoadMsg) {
        if self.tx.send(m).is_err() {
            // The UI is gone: stop reading.
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    fn flush(&mut self) {
        if !self.batch.is_empty() {
            let b = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.send(LoadMsg::Batch(b));
        }
        self.last_flush = Instant::now();
    }

    /// Add `ex` to the batch; send the batch when it is full or has waited long enough.
    fn keep(&mut self, ex: Exchange) {
        self.batch.push(ex);
        if self.immediate || self.batch.len() >= BATCH || self.last_flush.elapsed() >= FLUSH {
            self.flush();
        }
    }
}

impl Sink for ChannelSink {
    fn exchange(&mut self, ex: &Exchange) {
        self.keep(ex.clone());
    }

    fn take(&mut self, ex: Exchange, _prepared: Option<crate::ingest::Prepared>) {
        self.keep(ex);
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        self.flush();
        self.send(LoadMsg::Diagnostic(d.clone()));
    }

    fn progress(&mut self, bytes_read: u64, total: Option<u64>) {
        if self.last_progress.elapsed() >= FLUSH {
            self.last_progress = Instant::now();
            self.flush();
            let total = total.or(self.file_size);
            match self.tx.try_send(LoadMsg::Progress { file: self.file, bytes: bytes_read, total }) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => self.stop.store(true, Ordering::Relaxed),
            }
        }
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A running load.
pub struct Loader {
    /// Messages from the worker.
    pub rx: Receiver<LoadMsg>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Loader {
    /// Ask the worker to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stop and wait for the worker (the receiver is dropped first so a blocked send ends).
    pub fn shutdown(mut self) {
        self.stop();
        let handle = self.handle.take();
        drop(self);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Start reading `paths` in order on a worker thread named `apiscope-load`.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn(paths: Vec<PathBuf>, opts: ReadOptions) -> std::io::Result<Loader> {
    let (tx, rx) = bounded(8);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new().name("apiscope-load".into()).spawn(move || {
        for (i, p) in paths.iter().enumerate() {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let size = std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len());
            let mut sink = ChannelSink::new(tx.clone(), Arc::clone(&flag), i, size);
            let result = read_path(p, &opts, &mut sink).map_err(|e| e.to_string());
            sink.flush();
            if let Ok(s) = &result {
                let _ = tx.send(LoadMsg::Progress { file: i, bytes: s.bytes, total: size.or(Some(s.bytes)) });
            }
            if tx.send(LoadMsg::FileDone { file: i, result }).is_err() {
                return;
            }
        }
        let _ = tx.send(LoadMsg::Finished { stopped: flag.load(Ordering::Relaxed) });
    })?;
    Ok(Loader { rx, stop, handle: Some(handle) })
}

/// Start reading a live capture's stream (named `name`) on a worker thread named
/// `apiscope-load`; every exchange reaches the UI as soon as it is complete. Stopping the
/// load (quitting) stops the capture too.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn_live(cap: crate::live::LiveCapture, opts: ReadOptions) -> std::io::Result<Loader> {
    let (tx, rx) = bounded(64);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new().name("apiscope-load".into()).spawn(move || {
        let crate::live::LiveCapture { name, reader, stop: capture_stop, failure, .. } = cap;
        let mut sink = ChannelSink::new(tx.clone(), Arc::clone(&flag), 0, None);
        sink.immediate = true;
        // The capture stops when the UI stops the load; the reader then sees the end.
        let watch = Arc::clone(&flag);
        let stopper = Arc::clone(&capture_stop);
        let _ = std::thread::Builder::new().name("apiscope-live-stop".into()).spawn(move || {
            while !watch.load(Ordering::Relaxed) && !stopper.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            stopper.store(true, Ordering::Relaxed);
        });
        let result = crate::ingest::read_capture_stream(Box::new(reader), &name, &opts, &mut sink);
        capture_stop.store(true, Ordering::Relaxed);
        if let Some(why) = failure.lock().ok().and_then(|f| f.clone()) {
            sink.diagnostic(&Diagnostic::new(crate::model::Severity::Error, "live.capture_failed", why));
        }
        sink.flush();
        let result = result.map_err(|e| e.to_string());
        let _ = tx.send(LoadMsg::FileDone { file: 0, result });
        let _ = tx.send(LoadMsg::Finished { stopped: flag.load(Ordering::Relaxed) });
    })?;
    Ok(Loader { rx, stop, handle: Some(handle) })
}
