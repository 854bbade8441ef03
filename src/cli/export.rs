//! `apiscope export`: flows as curl, HTTPie, raw HTTP, HAR 1.2 or a Postman collection.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `apiscope export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Run `apiscope export`.
///
/// # Errors
/// Unreadable input.
pub fn run(_args: &ExportArgs) -> anyhow::Result<u8> {
    anyhow::bail!("export: being built")
}
