//! `apiscope diff`: contract gaps between recorded traffic and an OpenAPI spec.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `apiscope diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The OpenAPI spec (YAML or JSON).
    #[arg(long)]
    pub spec: PathBuf,
}

/// Run `apiscope diff`.
///
/// # Errors
/// Unreadable input or spec.
pub fn run(_args: &DiffArgs) -> anyhow::Result<u8> {
    anyhow::bail!("diff: being built")
}
