//! Writing exported flows from the TUI's export dialog through the `export` module.

use std::io::BufWriter;
use std::path::Path;

use super::app::ExportFormat;
use crate::export::{ExportOptions, Exporter, Format, Redaction};
use crate::model::Exchange;

/// The `export` format of a dialog choice.
#[must_use]
pub fn format(f: ExportFormat) -> Format {
    match f {
        ExportFormat::Curl => Format::Curl,
        ExportFormat::Httpie => Format::Httpie,
        ExportFormat::Raw => Format::Raw,
        ExportFormat::Har => Format::Har,
        ExportFormat::Postman => Format::Postman,
    }
}

/// Write `flows` to `path` in `fmt`, secrets redacted when `redact`.
///
/// # Errors
/// The file cannot be created or written.
pub fn write(path: &Path, fmt: ExportFormat, flows: &[&Exchange], redact: bool) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let opts = ExportOptions {
        redaction: if redact { Redaction::default() } else { Redaction::off() },
        name: Some("apiscope export".into()),
    };
    let mut e = Exporter::new(BufWriter::new(file), format(fmt), opts);
    for ex in flows {
        e.write(ex)?;
    }
    e.finish()?;
    Ok(())
}
