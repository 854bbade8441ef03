//! The export dialog (format, scope, redaction) and writing its files: the formats are
//! `export::Format` itself, the files are numbered `apiscope-export-N.EXT` in the export
//! directory. An export runs on a worker thread ([`ExportJob`]): the flows are read (again,
//! from their files when the store keeps only their place) and written there, with progress
//! the status line shows, and it can be cancelled (the partial file is removed).

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, bounded};

use super::action::Action;
use crate::export::{ExportOptions, Exporter, Format, Redaction};
use crate::model::Exchange;
use crate::store::FlowId;
use crate::store::reread::{ScanError, ScanPlan};

/// The formats the dialog offers, in its order.
pub const FORMATS: [Format; 5] = Format::ALL;

/// How the dialog names a format.
#[must_use]
pub fn title(f: Format) -> &'static str {
    match f {
        Format::Curl => "curl",
        Format::Httpie => "HTTPie",
        Format::Raw => "raw HTTP",
        Format::Har => "HAR 1.2",
        Format::Postman => "Postman collection v2.1",
    }
}

/// Which flows an export takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The focused flow.
    Focused,
    /// The marked flows.
    Marked,
    /// Every flow the view shows (the filter applied).
    Shown,
}

impl Scope {
    /// Display name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Focused => "focused flow",
            Self::Marked => "marked flows",
            Self::Shown => "shown flows",
        }
    }

    fn next(self) -> Self {
        match self {
            Self::Focused => Self::Marked,
            Self::Marked => Self::Shown,
            Self::Shown => Self::Focused,
        }
    }
}

/// The export dialog.
#[derive(Debug, Clone)]
pub struct ExportDialog {
    /// Index into [`FORMATS`].
    pub format: usize,
    /// Which flows.
    pub scope: Scope,
    /// Redact secrets (default on).
    pub redact: bool,
}

impl ExportDialog {
    /// A dialog on the first format, secrets redacted.
    #[must_use]
    pub fn new(scope: Scope) -> Self {
        Self { format: 0, scope, redact: true }
    }

    /// The chosen format.
    #[must_use]
    pub fn chosen(&self) -> Format {
        FORMATS.get(self.format).copied().unwrap_or(Format::Curl)
    }

    /// Apply an action of the dialog; true when the user asked to write the file.
    pub fn update(&mut self, a: Action) -> bool {
        match a {
            Action::Down => self.format = (self.format + 1).min(FORMATS.len() - 1),
            Action::Up => self.format = self.format.saturating_sub(1),
            Action::Top => self.format = 0,
            Action::Bottom => self.format = FORMATS.len() - 1,
            Action::CycleScope => self.scope = self.scope.next(),
            Action::ToggleRedact => self.redact = !self.redact,
            Action::Toggle => return true,
            _ => {}
        }
        false
    }
}

/// How many exports were written (the next file's number).
#[derive(Debug, Clone, Default)]
pub struct Exports {
    written: usize,
}

impl Exports {
    /// Start writing the flows of `plan`, in the order of `order`, into `dir` as the dialog
    /// `d` asks.
    ///
    /// # Errors
    /// The worker thread could not be started: the message says why.
    pub fn start(
        &mut self,
        dir: &Path,
        d: &ExportDialog,
        plan: ScanPlan,
        order: Vec<FlowId>,
    ) -> Result<ExportJob, String> {
        let fmt = d.chosen();
        self.written += 1;
        let path = self.next_path(dir, fmt);
        ExportJob::spawn(plan, order, path, fmt, d.redact).map_err(|e| format!("export failed: {e}"))
    }

    /// The first free `apiscope-export-N.EXT` from the current count on.
    fn next_path(&self, dir: &Path, fmt: Format) -> PathBuf {
        let mut n = self.written;
        loop {
            let p = dir.join(format!("apiscope-export-{n}.{}", fmt.extension()));
            if !p.exists() || n > self.written + 10_000 {
                return p;
            }
            n += 1;
        }
    }
}

/// An export running on its worker thread.
#[derive(Debug)]
pub struct ExportJob {
    /// Flows to export.
    pub total: usize,
    /// Steps done: each flow read, then each flow written (of `2 * total`).
    pub done: Arc<AtomicUsize>,
    /// The format.
    pub format: Format,
    /// The file being written.
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    rx: Receiver<Result<String, String>>,
}

impl ExportJob {
    /// Read the flows of `plan` and write them in the order of `order` to `path`.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn spawn(
        plan: ScanPlan,
        order: Vec<FlowId>,
        path: PathBuf,
        fmt: Format,
        redact: bool,
    ) -> std::io::Result<Self> {
        let (tx, rx) = bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let total = order.len();
        let (s, d, p) = (Arc::clone(&stop), Arc::clone(&done), path.clone());
        std::thread::Builder::new().name("apiscope-export".into()).spawn(move || {
            let _ = tx.send(export_in_background(&plan, &order, &p, fmt, redact, &s, &d));
        })?;
        Ok(Self { total, done, format: fmt, path, stop, rx })
    }

    /// The outcome, once the worker finished: the message to show (Err for a failure or a
    /// cancel).
    #[must_use]
    pub fn poll(&self) -> Option<Result<String, String>> {
        self.rx.try_recv().ok()
    }

    /// Ask the worker to stop; it removes the partial file and answers `Err`.
    pub fn cancel(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Percent done.
    #[must_use]
    pub fn percent(&self) -> usize {
        (self.done.load(Ordering::Relaxed) * 100).checked_div(self.total * 2).unwrap_or(100).min(100)
    }
}

/// The worker's part: read, then write in order; the message to show.
fn export_in_background(
    plan: &ScanPlan,
    order: &[FlowId],
    path: &Path,
    fmt: Format,
    redact: bool,
    stop: &AtomicBool,
    done: &AtomicUsize,
) -> Result<String, String> {
    let cancelled = || Err(format!("export cancelled: {} not written", path.display()));
    let mut got: HashMap<FlowId, Exchange> = HashMap::with_capacity(order.len());
    let read = plan.run(&|| stop.load(Ordering::Relaxed), &mut |id, ex| {
        got.insert(id, ex.clone());
        done.fetch_add(1, Ordering::Relaxed);
    });
    match read {
        Err(ScanError::Stopped) => return cancelled(),
        Err(e) => return Err(format!("export failed: {e}")),
        Ok(()) => {}
    }
    let flows: Vec<&Exchange> = order.iter().filter_map(|id| got.get(id)).collect();
    let written = write_until(path, fmt, &flows, redact, &|| {
        done.fetch_add(1, Ordering::Relaxed);
        stop.load(Ordering::Relaxed)
    });
    match written {
        Ok(true) => {
            let red = if redact { ", secrets redacted" } else { ", NOT redacted" };
            Ok(format!("exported {} flow(s) as {} to {}{red}", flows.len(), title(fmt), path.display()))
        }
        Ok(false) => {
            let _ = std::fs::remove_file(path);
            cancelled()
        }
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(format!("export failed: {e}"))
        }
    }
}

/// Write `flows` to `path`, asking `stop` after each one; false when it said stop.
fn write_until(
    path: &Path,
    fmt: Format,
    flows: &[&Exchange],
    redact: bool,
    stop: &dyn Fn() -> bool,
) -> std::io::Result<bool> {
    let file = std::fs::File::create(path)?;
    let opts = ExportOptions {
        redaction: if redact { Redaction::default() } else { Redaction::off() },
        name: Some("apiscope export".into()),
    };
    let mut e = Exporter::new(BufWriter::new(file), fmt, opts);
    for ex in flows {
        if stop() {
            return Ok(false);
        }
        e.write(ex)?;
    }
    e.finish()?;
    Ok(true)
}

/// Write `flows` to `path` in `fmt`, secrets redacted when `redact`.
///
/// # Errors
/// The file cannot be created or written.
pub fn write(path: &Path, fmt: Format, flows: &[&Exchange], redact: bool) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let opts = ExportOptions {
        redaction: if redact { Redaction::default() } else { Redaction::off() },
        name: Some("apiscope export".into()),
    };
    let mut e = Exporter::new(BufWriter::new(file), fmt, opts);
    for ex in flows {
        e.write(ex)?;
    }
    e.finish()?;
    Ok(())
}
