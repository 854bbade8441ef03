//! The export dialog (format, scope, redaction) and writing its files: the formats are
//! `export::Format` itself, the files are numbered `apiscope-export-N.EXT` in the export
//! directory.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::action::Action;
use crate::export::{ExportOptions, Exporter, Format, Redaction};
use crate::model::Exchange;

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
    /// Write `flows` into `dir` as the dialog `d` asks; the status message to show.
    ///
    /// # Errors
    /// The file cannot be created or written: the message says why.
    pub fn run(&mut self, dir: &Path, d: &ExportDialog, flows: &[&Exchange]) -> Result<String, String> {
        let fmt = d.chosen();
        self.written += 1;
        let path = self.next_path(dir, fmt);
        match write(&path, fmt, flows, d.redact) {
            Ok(()) => {
                let red = if d.redact { ", secrets redacted" } else { ", NOT redacted" };
                Ok(format!("exported {} flow(s) as {} to {}{red}", flows.len(), title(fmt), path.display()))
            }
            Err(e) => Err(format!("export failed: {e}")),
        }
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
