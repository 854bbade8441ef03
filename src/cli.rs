//! Command-line interface: clap definitions turned into validated settings, one module per
//! command. The only module that uses clap; errors become exit codes in `main`.

pub mod compare;
pub mod diff;
pub mod export;
pub mod flows;
pub mod input;
pub mod live;
pub mod messages;
pub mod ordered;
pub mod parquet;
pub mod replay;
pub mod stats;
pub mod tui;

use clap::{Parser, Subcommand};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: `diff` found problems at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: bad usage or unreadable input.
pub const EXIT_BAD_INPUT: u8 = 2;

const AFTER_HELP: &str = "\
Examples:
  apiscope demo                                  open the bundled demo capture and spec
  apiscope capture.pcap --spec openapi.yaml      browse flows in the TUI
  apiscope flows session.har                     one line per exchange
  apiscope diff capture.pcap --spec api.yaml     contract gaps
  apiscope stats capture.pcap                    KPIs per endpoint and client
  apiscope compare v1.pcap --against v2.pcap     what changed between two captures
  apiscope replay s.har --target http://staging  send again, show what changed

Exit codes: 0 ok, 1 findings at or above --fail-on (diff), a regression (compare --fail-on
regression) or answers that differ (replay), 2 bad usage or unreadable input.";

/// Read recorded API traffic and see how clients really use your API.
#[derive(Debug, Parser)]
#[command(name = "apiscope", version, about, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Command to run; without one, the inputs open in the interactive TUI.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Arguments of the TUI (when no command is given).
    #[command(flatten)]
    pub tui: tui::TuiArgs,
    /// A TLS key log (NSS format, as browsers, curl, Node, Python and Go write it when
    /// SSLKEYLOGFILE is set) to decrypt HTTPS in captures; repeatable. The file named by the
    /// SSLKEYLOGFILE environment variable is read too, and keys embedded in a pcapng file
    /// are always used.
    #[arg(long = "keylog", value_name = "FILE", global = true)]
    pub keylog: Vec<std::path::PathBuf>,
    /// Threads that parse a capture file's connections: 1 reads on one thread, N > 1 runs N
    /// beside the reading thread. Default: the APISCOPE_THREADS environment variable, else
    /// the machine's cores. Results are the same whatever the number.
    #[arg(long = "threads", value_name = "N", global = true)]
    pub threads: Option<usize>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one line per exchange (time, client, method, host, path, status, size, duration).
    Flows(flows::FlowsArgs),
    /// Print one line per message inside the exchanges (WebSocket, SSE events, NDJSON lines).
    Messages(messages::MessagesArgs),
    /// Contract gaps: every way real traffic departs from an OpenAPI spec.
    Diff(diff::DiffArgs),
    /// KPIs per endpoint and per client, and abusive usage patterns.
    Stats(stats::StatsArgs),
    /// What changed between two sets of captures (two back-end versions, two A/B arms).
    Compare(compare::CompareArgs),
    /// One client's calls in order, split into sessions.
    Journey(stats::JourneyArgs),
    /// Export flows as curl, HTTPie, raw HTTP, HAR or a Postman collection.
    Export(export::ExportArgs),
    /// Send recorded requests again to a target and show what it answers differently.
    Replay(replay::ReplayArgs),
    /// Run the main job on the bundled demo capture and spec (opens the TUI).
    Demo(tui::DemoArgs),
    /// Open the TUI on live traffic from a network interface (needs the `live` build).
    Live(tui::LiveTuiArgs),
}

/// Parse the process arguments and run.
///
/// # Errors
/// Any failure of the command; `main` maps it to exit code 2.
pub fn run_from_args() -> anyhow::Result<u8> {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        crate::ingest::set_threads(n);
    }
    let env_keylog = std::env::var_os("SSLKEYLOGFILE");
    remember_keylogs(&cli.keylog, env_keylog.as_ref());
    load_keylogs(&cli.keylog, env_keylog)?;
    match cli.command {
        Some(Command::Flows(a)) if a.wants_parquet() => parquet::run(&a),
        Some(Command::Flows(a)) => flows::run(&a),
        Some(Command::Messages(a)) => messages::run(&a),
        Some(Command::Diff(a)) => diff::run(&a),
        Some(Command::Stats(a)) => stats::run(&a),
        Some(Command::Compare(a)) => compare::run(&a),
        Some(Command::Journey(a)) => stats::run_journey(&a),
        Some(Command::Export(a)) => export::run(&a),
        Some(Command::Replay(a)) => replay::run(&a),
        Some(Command::Demo(a)) => tui::run_demo(&a),
        Some(Command::Live(a)) => tui::run_live(&a),
        None => tui::run(&cli.tui),
    }
}

/// The key log files given (`--keylog`, `SSLKEYLOGFILE`), which a live capture follows
/// while they grow.
static KEYLOG_FILES: std::sync::OnceLock<Vec<std::path::PathBuf>> = std::sync::OnceLock::new();

fn remember_keylogs(files: &[std::path::PathBuf], env: Option<&std::ffi::OsString>) {
    let mut all = files.to_vec();
    if let Some(p) = env.filter(|p| !p.is_empty()).map(std::path::PathBuf::from) {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    let _ = KEYLOG_FILES.set(all);
}

/// The key log files given on the command line and in `SSLKEYLOGFILE`.
#[must_use]
pub fn keylog_files() -> Vec<std::path::PathBuf> {
    KEYLOG_FILES.get().cloned().unwrap_or_default()
}

/// Read the `--keylog` files (an error names a file that cannot be read or has no usable
/// line) and the `SSLKEYLOGFILE` one (problems with it are a warning: the variable is often
/// set for other programs), and install them for every capture read.
fn load_keylogs(files: &[std::path::PathBuf], env: Option<std::ffi::OsString>) -> anyhow::Result<()> {
    let mut keys = crate::tls::KeyLog::new();
    for f in files {
        let c = keys.add_file(f)?;
        keylog_note(f, &c);
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        let p = std::path::PathBuf::from(p);
        if p.exists() && !files.contains(&p) {
            match keys.add_file(&p) {
                Ok(c) => keylog_note(&p, &c),
                Err(e) => eprintln!("warning: SSLKEYLOGFILE: {}", crate::model::text::visible(&e.to_string())),
            }
        }
    }
    if !keys.is_empty() {
        crate::tls::set_global_keys(keys);
    }
    Ok(())
}

/// Say on stderr what a key log held besides usable secrets (malformed lines, RSA lines).
fn keylog_note(path: &std::path::Path, c: &crate::tls::keylog::KeyLogCounts) {
    let shown = path.display().to_string();
    let shown = crate::model::text::visible(&shown);
    if c.malformed > 0 {
        eprintln!("warning: key log {shown}: {} malformed lines skipped ({} usable)", c.malformed, c.usable);
    }
    if c.rsa > 0 {
        eprintln!(
            "note: key log {shown}: {} RSA lines ignored (only CLIENT_RANDOM and TLS 1.3 secrets are used)",
            c.rsa
        );
    }
}
