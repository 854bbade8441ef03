//! `apiscope stats` and `apiscope journey`: KPIs per endpoint and client, abusive patterns,
//! retention, and one client's journey. Flags become an `analysis::Config`; inputs stream
//! through `ingest::read_path` into the analyzer; the report is rendered as text, JSON,
//! CSV or Markdown.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::analysis::journey::{self, JourneyCollector};
use crate::analysis::report::{self, By, ReportFormat};
use crate::analysis::{Analyzer, Config, EndpointNamer, InferredNames, SpecNamer, Thresholds};
use crate::model::Nanos;
use crate::model::client::ClientKey;
use crate::spec::Spec;
use crate::spec::load::LoadOptions;

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    /// Aligned text tables.
    Text,
    /// The whole report as JSON.
    Json,
    /// The main table as CSV.
    Csv,
    /// Markdown tables.
    Markdown,
}

impl From<OutFormat> for ReportFormat {
    fn from(f: OutFormat) -> Self {
        match f {
            OutFormat::Text => Self::Text,
            OutFormat::Json => Self::Json,
            OutFormat::Csv => Self::Csv,
            OutFormat::Markdown => Self::Markdown,
        }
    }
}

/// The main table.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ByArg {
    /// One row per endpoint.
    Endpoint,
    /// One row per client.
    Client,
    /// One row per status code.
    Status,
}

impl From<ByArg> for By {
    fn from(b: ByArg) -> Self {
        match b {
            ByArg::Endpoint => Self::Endpoint,
            ByArg::Client => Self::Client,
            ByArg::Status => Self::Status,
        }
    }
}

/// Parse a duration such as `500ms`, `10s`, `30m`, `2h`, `1d` (a bare number is seconds)
/// into nanoseconds.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Nanos, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration (use e.g. 500ms, 10s, 30m, 2h, 1d)"))?;
    let mult = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "" | "s" | "sec" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        _ => return Err(format!("`{s}`: unknown unit (use ns, us, ms, s, m, h or d)")),
    };
    let ns = v * mult;
    if !ns.is_finite() || !(0.0..=9.0e18).contains(&ns) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(ns as Nanos)
}

fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim_end_matches('%').parse().map_err(|_| format!("`{s}` is not a number"))?;
    let v = if s.ends_with('%') { v / 100.0 } else { v };
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(format!("`{s}` must be between 0 and 1 (or 0% and 100%)")) }
}

/// Detector thresholds (defaults in brackets).
#[derive(Debug, Args, Clone)]
pub struct ThresholdArgs {
    /// Heavy hitter: share of all requests or server time [0.10].
    #[arg(long, value_parser = parse_share, default_value = "0.10")]
    pub heavy_share: f64,
    /// Heavy hitter: minimum requests [50].
    #[arg(long, default_value_t = 50)]
    pub heavy_min: u64,
    /// Polling: minimum identical requests [10].
    #[arg(long, default_value_t = 10)]
    pub poll_min: u32,
    /// Polling: longest mean interval [10m].
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub poll_interval: Nanos,
    /// Polling: share of unchanged/304 answers that makes irregular repeats polling [0.8].
    #[arg(long, value_parser = parse_share, default_value = "0.8")]
    pub poll_unchanged: f64,
    /// Retry storm: a repeat within this time after a 429/5xx is a retry [10s].
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub retry_window: Nanos,
    /// Retry storm: minimum retries in a chain [3].
    #[arg(long, default_value_t = 3)]
    pub retry_min: u32,
    /// N+1: item calls within this time after a list call [5s].
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub fanout_window: Nanos,
    /// N+1: minimum item calls [10].
    #[arg(long, default_value_t = 10)]
    pub fanout_min: u32,
    /// Bulk paging: minimum consecutive pages [20].
    #[arg(long, default_value_t = 20)]
    pub pager_min: u32,
    /// Expensive: page size (limit, per_page, …) at least this [500].
    #[arg(long, default_value_t = 500)]
    pub big_page: u64,
    /// Slowest: how many of the slowest exchanges to list [10].
    #[arg(long, default_value_t = 10)]
    pub slowest: usize,
    /// Scanner and auth bursts: window length [60s].
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub burst_window: Nanos,
    /// Scanner: minimum 404/405 on unknown paths [10].
    #[arg(long, default_value_t = 10)]
    pub scan_min: u64,
    /// Auth failures: minimum 401/403 in one window [10].
    #[arg(long, default_value_t = 10)]
    pub auth_min: u32,
    /// Poor experience: client median TTFB at least this many times the endpoint's [3].
    #[arg(long, default_value_t = 3.0)]
    pub poor_factor: f64,
    /// Stalled feed: a gap between a stream's messages longer than this many times the
    /// median gap [5].
    #[arg(long, default_value_t = 5.0)]
    pub stall_factor: f64,
}

impl ThresholdArgs {
    /// The detector thresholds.
    #[must_use]
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            heavy_share: self.heavy_share,
            heavy_min_requests: self.heavy_min,
            poll_min: self.poll_min.max(2),
            poll_max_interval: self.poll_interval,
            poll_unchanged: self.poll_unchanged,
            retry_window: self.retry_window,
            retry_min: self.retry_min.max(1),
            fanout_window: self.fanout_window,
            fanout_min: self.fanout_min.max(1),
            pager_min_pages: self.pager_min.max(2),
            big_page: self.big_page,
            slowest: self.slowest,
            burst_window: self.burst_window.max(1),
            scan_min: self.scan_min.max(1),
            auth_min: self.auth_min.max(1),
            poor_latency_factor: self.poor_factor,
            stall_factor: self.stall_factor,
            ..Thresholds::default()
        }
    }
}

/// Arguments of `apiscope stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy); several inputs are also
    /// retention slices, in the order given.
    #[arg(required_unless_present_any = ["interface", "list_interfaces"], conflicts_with = "interface")]
    pub files: Vec<PathBuf>,
    /// Live capture instead of files (`-i IFACE`), reported when it ends (Ctrl-C,
    /// `--duration`, `--count`).
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
    /// The main table.
    #[arg(long, value_enum, default_value = "endpoint")]
    pub by: ByArg,
    /// Rows per table and findings per kind (text/markdown default 20; json/csv: all unless given).
    #[arg(long)]
    pub top: Option<usize>,
    /// Client identity: auto, ip, ip+ua, header:NAME, bearer, jwt:CLAIM, cookie:NAME, query:NAME.
    #[arg(long, default_value = "auto")]
    pub client_key: ClientKey,
    /// OpenAPI spec: endpoints are named by its operations; calls it does not document get
    /// inferred names and count as unknown paths for the scanner detector.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Slice time into windows of this length for retention (e.g. 1h, 1d).
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Nanos>,
    /// Detector thresholds.
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Arguments of `apiscope journey`.
#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// Input files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The client to follow (as shown by `apiscope stats --by client`; the hash part alone works).
    #[arg(long)]
    pub client: String,
    /// Client identity (must match the key the label came from).
    #[arg(long, default_value = "auto")]
    pub client_key: ClientKey,
    /// OpenAPI spec for endpoint names (without one, names are learnt from the traffic
    /// as `stats` does).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Idle time that starts a new session.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub idle: Nanos,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
}

pub(super) fn load_spec(path: Option<&PathBuf>, allow_ref_outside: bool) -> anyhow::Result<Option<Spec>> {
    let opts = LoadOptions { allow_ref_outside };
    path.map(|p| Spec::load_with(p, opts).context("loading the spec")).transpose()
}

fn namer(spec: Option<&Spec>) -> Box<dyn EndpointNamer + '_> {
    match spec {
        Some(s) => Box::new(SpecNamer(s)),
        None => Box::new(InferredNames),
    }
}

/// Print a report. Text shown on a terminal has each line cut to the terminal's width
/// (ending in `…`); redirected text, JSON, CSV and Markdown are written whole.
fn write_out(s: &str, text: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    let mut out = std::io::stdout().lock();
    let width = if text && out.is_terminal() { crate::tui::terminal_columns() } else { None };
    match width {
        // one column short: a line that fills the last column wraps on some terminals
        Some(w) => out.write_all(cut_lines(s, w.saturating_sub(1).max(20)).as_bytes())?,
        None => out.write_all(s.as_bytes())?,
    }
    out.flush()?;
    Ok(())
}

/// Every line of `s` at most `width` characters, a longer one ending in `…`.
fn cut_lines(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        if body.chars().count() > width {
            out.extend(body.chars().take(width.saturating_sub(1)));
            out.push('…');
        } else {
            out.push_str(body);
        }
        out.push_str(nl);
    }
    out
}

/// Run `apiscope stats`.
///
/// # Errors
/// Unreadable input.
pub fn run(args: &StatsArgs) -> anyhow::Result<u8> {
    if args.live.list_interfaces {
        return super::live::print_interfaces();
    }
    let cfg = Config {
        client_key: args.client_key.clone(),
        thresholds: args.thresholds.thresholds(),
        window: args.window,
        ..Config::default()
    };
    let spec = load_spec(args.spec.as_ref(), args.allow_ref_outside)?;
    let mut an = match &spec {
        Some(_) => Analyzer::new(cfg, namer(spec.as_ref())),
        None => Analyzer::learning(cfg),
    };
    if let Some(s) = &spec {
        an.declare_endpoints(s.operations.iter().map(|o| format!("{} {}", o.method, o.template)));
    }
    let opts = crate::analysis::read_options();
    if args.live.is_live() {
        let cap = super::live::start(&args.live, false)?;
        an.begin_input(&cap.name.display().to_string());
        super::live::read(cap, &opts, &mut an)?;
    }
    for f in &args.files {
        an.begin_input(&f.display().to_string());
        crate::ingest::relay::read_path_relayed(f, &opts, &mut an)
            .with_context(|| format!("reading {}", f.display()))?;
    }
    let rep = an.finish();
    let format: ReportFormat = args.format.into();
    let top = args.top.or(match format {
        ReportFormat::Text | ReportFormat::Markdown => Some(20),
        ReportFormat::Json | ReportFormat::Csv => None,
    });
    if format == ReportFormat::Json {
        // Streamed: the JSON of a big capture's report runs to tens of megabytes.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        report::write_json(&rep, top, &mut out)?;
        out.flush()?;
    } else {
        write_out(&report::render(&rep, format, args.by.into(), top)?, format == ReportFormat::Text)?;
    }
    Ok(super::EXIT_OK)
}

/// Run `apiscope journey`.
///
/// # Errors
/// Unreadable input, or a client that made no call.
pub fn run_journey(args: &JourneyArgs) -> anyhow::Result<u8> {
    let spec = load_spec(args.spec.as_ref(), args.allow_ref_outside)?;
    // The same endpoint names as `stats`: the spec's operations, or templates learnt from
    // the traffic.
    let mut j = match &spec {
        Some(_) => JourneyCollector::new(args.client_key.clone(), &args.client, namer(spec.as_ref())),
        None => JourneyCollector::learning(args.client_key.clone(), &args.client),
    };
    let opts = crate::analysis::read_options();
    for f in &args.files {
        j.begin_input();
        crate::ingest::relay::read_path_relayed(f, &opts, &mut j)
            .with_context(|| format!("reading {}", f.display()))?;
    }
    let busiest = j.busiest(5);
    let Some(journey) = j.finish(args.idle) else {
        let hint: Vec<String> =
            busiest.iter().map(|(c, n)| format!("{} ({n})", crate::model::text::visible(c))).collect();
        anyhow::bail!(
            "no calls from client `{}` with --client-key {}; busiest clients: {}",
            crate::model::text::visible(&args.client),
            args.client_key,
            if hint.is_empty() { "none".to_string() } else { hint.join(", ") }
        );
    };
    let jf: ReportFormat = args.format.into();
    write_out(&journey::render(&journey, jf, By::Endpoint)?, jf == ReportFormat::Text)?;
    Ok(super::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_are_cut_to_the_terminal_width() {
        let s = "short\n".to_string() + &"x".repeat(300) + "\nlast";
        let cut = cut_lines(&s, 80);
        let lines: Vec<&str> = cut.lines().collect();
        assert_eq!(lines[0], "short");
        assert_eq!(lines[1].chars().count(), 80);
        assert!(lines[1].ends_with('…'));
        assert_eq!(lines[2], "last");
        assert!(!cut.ends_with('\n'));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30m"), Ok(1_800_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("2"), Ok(2_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn shares_accept_fractions_and_percent() {
        assert_eq!(parse_share("10%"), Ok(0.1));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("2").is_err());
    }
}
