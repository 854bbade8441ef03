//! `apiscope flows`: one line per exchange in an aligned table, or JSON / NDJSON / CSV.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `apiscope flows`.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Run `apiscope flows`.
///
/// # Errors
/// Unreadable input.
pub fn run(_args: &FlowsArgs) -> anyhow::Result<u8> {
    anyhow::bail!("flows: being built")
}
