//! Live capture on the command line: the `-i IFACE` options shared by `flows`, `stats` and
//! `diff` (and `apiscope live` for the TUI), `--list-interfaces`, Ctrl-C ending a capture
//! cleanly, and reading the capture's stream into a command's sink.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;

use crate::ingest::{ReadOptions, ReadSummary, Sink};
use crate::live::{LiveCapture, LiveOptions};
use crate::model::text::visible;

/// Capturing live from a network interface instead of reading files.
#[derive(Debug, Clone, Default, Args)]
pub struct LiveArgs {
    /// Capture live from this network interface (`lo`, `eth0`, `any`) instead of reading
    /// files, until Ctrl-C, --duration or --count (needs the `live` build and capture rights).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// Capture filter in BPF syntax, e.g. 'tcp port 8080'.
    #[arg(long, value_name = "EXPR", requires = "interface")]
    pub bpf: Option<String>,
    /// Save the captured packets (and key log lines) to this pcapng file.
    #[arg(long, value_name = "FILE", requires = "interface")]
    pub write: Option<PathBuf>,
    /// Stop capturing after this long (30s, 5m, 1h).
    #[arg(long, value_name = "D", requires = "interface", value_parser = crate::live::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop capturing after this many packets.
    #[arg(long, value_name = "N", requires = "interface", conflicts_with = "duration")]
    pub count: Option<u64>,
    /// List the interfaces live capture can use, and exit.
    #[arg(long)]
    pub list_interfaces: bool,
}

impl LiveArgs {
    /// True when a live capture was asked for.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.interface.is_some()
    }

    fn options(&self) -> LiveOptions {
        LiveOptions {
            interface: self.interface.clone().unwrap_or_default(),
            bpf: self.bpf.clone(),
            keylogs: super::keylog_files(),
            write: self.write.clone(),
            duration: self.duration,
            count: self.count,
        }
    }
}

/// Print the interfaces, one a line (`name  description`).
///
/// # Errors
/// No live capture in this build, or libpcap cannot list them.
pub fn print_interfaces() -> anyhow::Result<u8> {
    for (name, desc) in crate::live::list_interfaces()? {
        if desc.is_empty() {
            println!("{}", visible(&name));
        } else {
            println!("{}  {}", visible(&name), visible(&desc));
        }
    }
    Ok(super::EXIT_OK)
}

/// Start the capture `args` asks for; Ctrl-C (or SIGTERM) then ends it cleanly, a second
/// Ctrl-C ends the process.
///
/// # Errors
/// See [`crate::live::LiveError`].
pub fn start(args: &LiveArgs, tui: bool) -> anyhow::Result<LiveCapture> {
    let cap = crate::live::open(&args.options())?;
    if !tui {
        stop_on_signals(&cap.stop)?;
        let until = match (args.duration, args.count) {
            (Some(d), _) => format!("for {}", crate::model::text::human_duration(d.as_nanos() as i64)),
            (None, Some(n)) => format!("for {n} packets"),
            (None, None) => "until Ctrl-C".into(),
        };
        eprintln!("apiscope: capturing on {} {until}", visible(args.interface.as_deref().unwrap_or_default()));
    }
    Ok(cap)
}

#[cfg(feature = "live")]
fn stop_on_signals(stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // A second signal while the first is being handled ends the process.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(stop))?;
        signal_hook::flag::register(sig, Arc::clone(stop))?;
    }
    Ok(())
}

#[cfg(not(feature = "live"))]
fn stop_on_signals(_stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    Ok(())
}

/// Read a started capture into `sink` until it ends; the summary carries the capture's
/// counters (packets, kernel drops), which are also printed to stderr.
///
/// # Errors
/// The stream could not be read at all (the capture failed before its first packet).
pub fn read(cap: LiveCapture, opts: &ReadOptions, sink: &mut dyn Sink) -> anyhow::Result<ReadSummary> {
    let LiveCapture { name, reader, stats, failure, .. } = cap;
    let mut summary = crate::ingest::read_capture_stream(Box::new(reader), &name, opts, sink)?;
    summary.counters.extend(stats.counters());
    if let Some(why) = failure.lock().ok().and_then(|f| f.clone()) {
        eprintln!("apiscope: {}: {}", name.display(), visible(&why));
    }
    eprintln!("apiscope: {}: {}", name.display(), stats.line());
    Ok(summary)
}
