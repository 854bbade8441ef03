//! `apiscope stats` and `apiscope journey`: KPIs per endpoint and client, abusive patterns,
//! one client's journey.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `apiscope stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `apiscope journey`.
#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The client to follow (as shown by `apiscope stats --by client`).
    #[arg(long)]
    pub client: String,
}

/// Run `apiscope stats`.
///
/// # Errors
/// Unreadable input.
pub fn run(_args: &StatsArgs) -> anyhow::Result<u8> {
    anyhow::bail!("stats: being built")
}

/// Run `apiscope journey`.
///
/// # Errors
/// Unreadable input.
pub fn run_journey(_args: &JourneyArgs) -> anyhow::Result<u8> {
    anyhow::bail!("journey: being built")
}
