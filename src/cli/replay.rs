//! `apiscope replay`: send recorded requests again to `--target` and report what the server
//! answers differently. Reads the inputs into a plan (filter, safety rules), sends it (a
//! progress bar on a terminal, Ctrl-C stops and still reports), compares, prints the report
//! and writes the replayed exchanges as HAR with `--out`.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::export::{cli_filter_context, parse_filter, with_client_flags};
use crate::export::output::OutputFile;
use crate::filter::{Filter, FilterContext};
use crate::ingest::{self, ReadOptions, Sink};
use crate::model::text::visible;
use crate::model::{Diagnostic, Exchange};
use crate::replay::compare::{CompareOptions, IgnoreRule};
use crate::replay::plan::{HeaderOverride, Plan, PlanOptions};
use crate::replay::report::{self, Settings};
use crate::replay::send::{self, SendOptions, Stop};
use crate::replay::{Pace, Target, parse_duration, parse_rate};

/// Report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// For scripts (one JSON document).
    Json,
}

/// Arguments of `apiscope replay`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  apiscope replay session.har --target https://staging.example.com
  apiscope replay capture.pcap --target http://127.0.0.1:8080 --filter '~m GET & ~u /v1/orders'
  apiscope replay session.har --target https://staging.test --header 'Authorization: Bearer NEW' \\
      --allow-unsafe --ignore '$.meta.requestId' --out replayed.har
  apiscope replay prod.har --target http://10.0.0.5:8080 --times 10 --concurrency 32 --rate 200/s

Only GET, HEAD and OPTIONS are sent unless --allow-unsafe is given. Requests whose credentials
were redacted in the recording are held back unless --header supplies them. Nothing is sent
anywhere but --target. Exit code 1 when an answer differed, a request failed or the run was
stopped.")]
pub struct ReplayArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where to send the requests: scheme, host and port (and an optional path prefix)
    /// replace the recorded ones.
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Only exchanges matching this filter expression (mitmproxy syntax, e.g. '~m GET').
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Passes over the recorded requests.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub times: u32,
    /// Requests in flight at most (1 keeps the recorded order).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub concurrency: usize,
    /// Start at most this many requests per second (`50`, `50/s`, `3000/m`).
    #[arg(long, value_name = "R/s", conflicts_with = "pace")]
    pub rate: Option<String>,
    /// `original`: the recorded gaps between requests; `as-fast` (default): no waiting.
    #[arg(long, value_name = "PACE")]
    pub pace: Option<String>,
    /// Replace or add a header ('Name: value'; 'Name:' removes it); repeatable.
    #[arg(long = "header", short = 'H', value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    /// Send the recorded Host header instead of the target's.
    #[arg(long, conflicts_with = "rewrite_host")]
    pub keep_host: bool,
    /// Send the target's Host header (the default).
    #[arg(long)]
    pub rewrite_host: bool,
    /// Also send POST, PUT, PATCH, DELETE and other unsafe methods.
    #[arg(long)]
    pub allow_unsafe: bool,
    /// Accept any TLS certificate (self-signed staging servers).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Limit for one request, connection to last byte (`500ms`, `10s`, `1m`).
    #[arg(long, value_name = "D", default_value = "30s")]
    pub timeout: String,
    /// Leave a body field out of the comparison: a name anywhere (`requestId`) or a path
    /// (`$.meta.generatedAt`, `$.items[*].updatedAt`); repeatable.
    #[arg(long, value_name = "NAME|PATH")]
    pub ignore: Vec<String>,
    /// Leave a response header out of the comparison, besides the volatile ones; repeatable.
    #[arg(long, value_name = "NAME")]
    pub ignore_header: Vec<String>,
    /// Write the replayed exchanges here as HAR (readable by every apiscope command).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Keep secrets in clear in the --out file.
    #[arg(long)]
    pub no_redact: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// List every request in the text report.
    #[arg(long, short)]
    pub verbose: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Reads inputs into the plan.
struct PlanSink<'a> {
    filter: Option<&'a Filter>,
    ctx: &'a dyn FilterContext,
    opts: &'a PlanOptions,
    plan: Plan,
    considered: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Sink for PlanSink<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        if self.filter.is_none_or(|f| f.matches(ex, self.ctx)) {
            self.considered += 1;
            self.plan.add(ex, self.opts);
        }
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostics.push(d.clone());
    }
}

/// Settings from the arguments.
struct Parsed {
    plan: PlanOptions,
    send: SendOptions,
    compare: CompareOptions,
}

fn parse(args: &ReplayArgs) -> anyhow::Result<Parsed> {
    let target: Target = args.target.parse()?;
    let headers = args.headers.iter().map(|h| h.parse::<HeaderOverride>()).collect::<Result<Vec<_>, _>>()?;
    let ignore = args.ignore.iter().map(|i| i.parse::<IgnoreRule>()).collect::<Result<Vec<_>, _>>()?;
    let pace = match (&args.rate, &args.pace) {
        (Some(r), _) => Pace::Rate(parse_rate(r)?),
        (None, Some(p)) => p.parse()?,
        (None, None) => Pace::AsFast,
    };
    Ok(Parsed {
        plan: PlanOptions { target, allow_unsafe: args.allow_unsafe, headers, keep_host: args.keep_host },
        send: SendOptions {
            concurrency: args.concurrency,
            times: args.times,
            pace,
            timeout: parse_duration(&args.timeout)?,
            insecure: args.insecure,
            ..SendOptions::default()
        },
        compare: CompareOptions { ignore_headers: args.ignore_header.clone(), ignore },
    })
}

/// A progress bar on standard error, redrawn at most every 100 ms.
fn progress_bar(enabled: bool) -> Arc<dyn Fn(u64, u64) + Send + Sync> {
    if !enabled {
        return Arc::new(|_, _| {});
    }
    let last = Mutex::new(Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now));
    Arc::new(move |done, total| {
        let Ok(mut l) = last.lock() else { return };
        if done < total && l.elapsed() < Duration::from_millis(100) {
            return;
        }
        *l = Instant::now();
        let width = 30u64;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        let bar: String = (0..width).map(|i| if i < filled { '#' } else { '.' }).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\rreplay [{bar}] {done}/{total}");
        if done == total {
            let _ = write!(err, "\r{}\r", " ".repeat(60));
        }
        let _ = err.flush();
    })
}

/// Run `apiscope replay`.
///
/// # Errors
/// Bad settings, unreadable input, an unwritable output.
pub fn run(args: &ReplayArgs) -> anyhow::Result<u8> {
    let Ok(filter) = parse_filter(args.filter.as_deref()) else { return Ok(super::EXIT_BAD_INPUT) };
    let p = match parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("apiscope: {}", visible(&e.to_string()));
            return Ok(super::EXIT_BAD_INPUT);
        }
    };
    let out = args.out.as_ref().map(|o| OutputFile::create(o, &args.files)).transpose()?;
    let ctx = with_client_flags(cli_filter_context(None), filter.as_ref(), &args.files, None)?;
    let mut sink = PlanSink {
        filter: filter.as_ref(),
        ctx: &ctx,
        opts: &p.plan,
        plan: Plan::default(),
        considered: 0,
        diagnostics: Vec::new(),
    };
    let read = ReadOptions::default();
    for f in &args.files {
        ingest::read_path(f, &read, &mut sink).with_context(|| "cannot read input".to_string())?;
    }
    for d in sink.diagnostics.iter().take(20) {
        eprintln!("apiscope: {}", visible(&d.to_string()));
    }
    let plan = sink.plan;
    if let Err(e) = p.send.validate(plan.requests.len()) {
        eprintln!("apiscope: {e}");
        return Ok(super::EXIT_BAD_INPUT);
    }
    let total = plan.requests.len() as u64 * u64::from(p.send.times);
    let show = !args.quiet && std::io::stderr().is_terminal() && total > 1;
    let requests: Arc<[crate::replay::plan::Prepared]> = plan.requests.clone().into();
    let run = send::run(requests, &p.send, &Stop::new(), true, progress_bar(show))?;
    if run.stopped {
        eprintln!("apiscope: replay stopped: reporting the {} request(s) sent", run.attempts.len());
    }
    let settings = Settings { target: &p.plan.target, send: &p.send, compare: &p.compare, recorded: sink.considered };
    let report = report::build(&plan, &run, settings);
    if let (Some(mut f), Some(path)) = (out, args.out.as_ref()) {
        let n = crate::replay::har::write(&mut f, &plan, &run, !args.no_redact)
            .with_context(|| format!("writing {}", path.display()))?;
        f.commit()?;
        eprintln!("apiscope: wrote {n} replayed exchange(s) to {}", visible(&path.display().to_string()));
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        ReportFormat::Text => stdout.write_all(report.text(args.verbose).as_bytes())?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    Ok(if report.has_findings() { super::EXIT_FINDINGS } else { super::EXIT_OK })
}
