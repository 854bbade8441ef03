//! Reading the inputs of a command: every file through `ingest::read_path`, file-level
//! diagnostics collected and printed to stderr once (escaped, capped), totals for footers.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::ingest::{self, ReadOptions, ReadSummary, Sink};
use crate::model::text::visible;
use crate::model::{Diagnostic, Exchange};

/// Wraps a sink: forwards everything, keeps file-level diagnostics with the file they came
/// from, and counts exchanges and per-exchange diagnostics.
pub struct Tap<'a> {
    inner: &'a mut dyn Sink,
    file: String,
    /// File-level diagnostics as `(file, diagnostic)`.
    pub file_diagnostics: Vec<(String, Diagnostic)>,
    /// Exchanges seen.
    pub exchanges: u64,
    /// Exchanges that did not complete.
    pub failed: u64,
    /// Diagnostics attached to exchanges.
    pub exchange_diagnostics: u64,
}

impl<'a> Tap<'a> {
    /// Wrap `inner`.
    pub fn new(inner: &'a mut dyn Sink) -> Self {
        Self {
            inner,
            file: String::new(),
            file_diagnostics: Vec::new(),
            exchanges: 0,
            failed: 0,
            exchange_diagnostics: 0,
        }
    }

    /// All diagnostics: file-level plus per-exchange.
    #[must_use]
    pub fn total_diagnostics(&self) -> u64 {
        self.file_diagnostics.len() as u64 + self.exchange_diagnostics
    }
}

impl Sink for Tap<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        self.exchanges += 1;
        if ex.is_failed() {
            self.failed += 1;
        }
        self.exchange_diagnostics += ex.diagnostics.len() as u64;
        self.inner.exchange(ex);
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.file_diagnostics.push((self.file.clone(), d.clone()));
        self.inner.diagnostic(d);
    }
    fn progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.inner.progress(bytes_read, total);
    }
    fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
    fn needs_headers(&self) -> bool {
        self.inner.needs_headers()
    }
}

/// Read every file into `sink` in order. Stops at the first file that cannot be read at
/// all (exit code 2); damage inside a file is kept as diagnostics.
///
/// # Errors
/// The first unreadable input.
pub fn read_all(files: &[PathBuf], opts: &ReadOptions, tap: &mut Tap<'_>) -> anyhow::Result<Vec<ReadSummary>> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        tap.file = ingest::display_path(f).display().to_string();
        let summary = ingest::read_path(f, opts, tap).with_context(|| "cannot read input".to_string())?;
        out.push(summary);
    }
    Ok(out)
}

/// Print file-level diagnostics to stderr, escaped, at most `limit` lines plus a count of
/// the rest.
pub fn print_file_diagnostics(tap: &Tap<'_>, limit: usize) {
    let mut err = std::io::stderr().lock();
    for (file, d) in tap.file_diagnostics.iter().take(limit) {
        let _ = writeln!(err, "apiscope: {}: {}", visible(file), visible(&d.to_string()));
    }
    if tap.file_diagnostics.len() > limit {
        let _ = writeln!(err, "apiscope: … and {} more diagnostics", tap.file_diagnostics.len() - limit);
    }
}
