//! Opening the TUI from the command line (`apiscope FILE...`, `apiscope demo`).

use std::path::PathBuf;

use clap::Args;

/// Arguments when no command is given: open the inputs in the TUI.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Input files to open.
    pub files: Vec<PathBuf>,
    /// OpenAPI spec to check the traffic against.
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

/// Arguments of `apiscope demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Open the TUI.
///
/// # Errors
/// Unreadable input or no terminal.
pub fn run(_args: &TuiArgs) -> anyhow::Result<u8> {
    anyhow::bail!("tui: being built")
}

/// Run the demo.
///
/// # Errors
/// Unreadable demo input.
pub fn run_demo(_args: &DemoArgs) -> anyhow::Result<u8> {
    anyhow::bail!("demo: being built")
}
