//! `apiscope export`: flows as curl, HTTPie, raw HTTP, HAR 1.2 or a Postman collection,
//! optionally narrowed by `--filter`, secrets redacted unless `--no-redact`. Streams: each
//! exchange is written as the reader produces it.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::analysis::flags::ClientFlags;
use crate::export::output::OutputFile;
use crate::export::{ExportOptions, Exporter, Format, Redaction};
use crate::filter::{Filter, FilterContext, FnContext};
use crate::ingest::{self, ReadOptions, Sink};
use crate::model::text::{visible, visible_multiline};
use crate::model::{Diagnostic, Exchange};
use crate::spec::Spec;
use crate::spec::check::{CheckOptions, Checker, finding_tags};

/// Arguments of `apiscope export`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  apiscope export session.har --to curl --filter '~m POST & ~c 5xx'
  apiscope export capture.pcap --to har -o slow.har --filter '~dur >1s'
  apiscope export a.har b.chlsj --to postman -o api.postman_collection.json

Secrets (Authorization, Proxy-Authorization, Cookie, Set-Cookie, API-key headers, and
query/form/JSON keys such as api_key, token, access_token, key, secret, password) are
replaced by REDACTED unless --no-redact is given.")]
pub struct ExportArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long = "to", value_name = "FORMAT", value_parser = parse_format)]
    pub to: Format,
    /// Only exchanges matching this filter expression (mitmproxy syntax, e.g. '~c 5xx').
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// OpenAPI spec: `~ep` accepts its operations' names (with and without the base path)
    /// and `~gap` its contract findings, as in the TUI.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Write here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep secrets in clear (credentials, cookies, API keys, secret parameters).
    #[arg(long)]
    pub no_redact: bool,
    /// Also redact this header (repeatable).
    #[arg(long, value_name = "NAME")]
    pub redact_header: Vec<String>,
    /// Also redact this query, form or JSON parameter (repeatable).
    #[arg(long, value_name = "NAME")]
    pub redact_param: Vec<String>,
    /// Name of the Postman collection.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>().map_err(|e| e.to_string())
}

/// The filter context the CLI offers, the same as the TUI's: `auto` client identity;
/// endpoints named as `analysis::endpoint::filter_names` names them (the spec's operations
/// with and without the base path, else `METHOD /inferred/{id}` templates); with a spec,
/// `~gap` answered by its contract checker.
#[must_use]
pub fn cli_filter_context(spec: Option<&std::sync::Arc<Spec>>) -> FnContext {
    let names = spec.cloned();
    let ctx = FnContext::new().with_endpoints(move |ex| crate::analysis::endpoint::filter_names(names.as_deref(), ex));
    match spec {
        Some(s) => {
            let checker = Checker::new(std::sync::Arc::clone(s), CheckOptions::default());
            ctx.with_gaps(move |ex| finding_tags(&checker, ex))
        }
        None => ctx,
    }
}

/// `ctx` answering `~flag` too when `filter` uses it (see [`client_flags`]).
///
/// # Errors
/// As [`client_flags`].
pub fn with_client_flags(
    ctx: FnContext,
    filter: Option<&Filter>,
    files: &[PathBuf],
    spec: Option<&std::sync::Arc<Spec>>,
) -> anyhow::Result<FnContext> {
    Ok(add_client_flags(ctx, client_flags(filter, files, spec)?))
}

/// Each client's pattern flags when `filter` uses `~flag`: one analysis of `files` first
/// (the analyzer and thresholds of `apiscope stats`), so the input is read twice; standard
/// input cannot be.
///
/// # Errors
/// An input cannot be read, or is standard input.
pub fn client_flags(
    filter: Option<&Filter>,
    files: &[PathBuf],
    spec: Option<&std::sync::Arc<Spec>>,
) -> anyhow::Result<Option<std::sync::Arc<ClientFlags>>> {
    if !filter.is_some_and(Filter::uses_flags) {
        return Ok(None);
    }
    if files.iter().any(|f| f.as_os_str() == "-") {
        anyhow::bail!(
            "`~flag` reads the input twice (once to find the flagged clients): give a file, not standard input"
        );
    }
    let mut an = crate::analysis::flags::analyzer(spec.map(|s| &**s));
    let opts = crate::analysis::read_options();
    for f in files {
        an.begin_input(&f.display().to_string());
        ingest::read_path(f, &opts, &mut an).with_context(|| format!("reading {}", f.display()))?;
    }
    Ok(Some(std::sync::Arc::new(ClientFlags::from_report(&an.finish()))))
}

/// `ctx` answering `~flag` from `flags` (by the `auto` client identity, as `~client`).
#[must_use]
pub fn add_client_flags(ctx: FnContext, flags: Option<std::sync::Arc<ClientFlags>>) -> FnContext {
    let Some(flags) = flags else { return ctx };
    ctx.with_flags(move |ex| {
        crate::model::client::identify(ex, &crate::model::client::ClientKey::Auto)
            .map(|c| flags.tags(&c.0))
            .unwrap_or_default()
    })
}

/// Load `--spec` for a filter (None without one).
///
/// # Errors
/// The spec cannot be read or understood.
pub fn load_filter_spec(
    path: Option<&PathBuf>,
    allow_ref_outside: bool,
) -> anyhow::Result<Option<std::sync::Arc<Spec>>> {
    let opts = crate::spec::load::LoadOptions { allow_ref_outside };
    path.map(|p| {
        Spec::load_with(p, opts).with_context(|| format!("loading the spec {}", p.display())).map(std::sync::Arc::new)
    })
    .transpose()
}

/// Parse `--filter`, printing the error with a caret under the offending bytes.
///
/// # Errors
/// The parse error, after it was printed.
pub fn parse_filter(src: Option<&str>) -> Result<Option<Filter>, crate::filter::ParseError> {
    let Some(src) = src else { return Ok(None) };
    Filter::parse(src).map(Some).inspect_err(|e| {
        eprintln!("apiscope: bad --filter: {}\n{}", visible(&e.message), e.caret(src));
    })
}

/// A writer for terminals: each line is shown through `visible_multiline`, so nothing
/// captured reaches the terminal as a control sequence.
struct TerminalSafe<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    fn emit(&mut self) -> io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        let nl = line.last() == Some(&b'\n');
        if nl {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let text = String::from_utf8_lossy(&line);
        self.inner.write_all(visible_multiline(&text).as_bytes())?;
        if nl {
            self.inner.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(chunk);
            if chunk.last() == Some(&b'\n') || self.line.len() > 1 << 16 {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.inner.flush()
    }
}

/// Most bytes `export` prints to a terminal; a bigger export asks for `-o FILE`.
pub const TERMINAL_LIMIT: usize = 256 * 1024;

/// The export held in memory for a terminal, refusing to grow past [`TERMINAL_LIMIT`].
struct Held {
    buf: Vec<u8>,
}

/// The error [`Held`] stops the export with.
#[derive(Debug)]
struct TooBig;

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {} KiB for a terminal", TERMINAL_LIMIT / 1024)
    }
}

impl std::error::Error for TooBig {}

fn is_too_big(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|r| r.is::<TooBig>())
}

impl Write for Held {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buf.len() + buf.len() > TERMINAL_LIMIT {
            return Err(io::Error::other(TooBig));
        }
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ExportSink<'a, W: Write> {
    filter: Option<&'a Filter>,
    ctx: &'a dyn FilterContext,
    out: Exporter<W>,
    seen: u64,
    error: Option<io::Error>,
    diagnostics: Vec<Diagnostic>,
}

impl<W: Write> Sink for ExportSink<'_, W> {
    fn exchange(&mut self, ex: &Exchange) {
        self.seen += 1;
        if self.error.is_some() || !self.filter.is_none_or(|f| f.matches(ex, self.ctx)) {
            return;
        }
        if let Err(e) = self.out.write(ex) {
            self.error = Some(e);
        }
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostics.push(d.clone());
    }
    fn should_stop(&self) -> bool {
        self.error.is_some()
    }
}

/// Run `apiscope export`.
///
/// # Errors
/// Unreadable input or an unwritable output.
pub fn run(args: &ExportArgs) -> anyhow::Result<u8> {
    let Ok(filter) = parse_filter(args.filter.as_deref()) else { return Ok(super::EXIT_BAD_INPUT) };
    let mut redaction = if args.no_redact { Redaction::off() } else { Redaction::default() };
    for h in &args.redact_header {
        redaction = redaction.with_header(h);
    }
    for p in &args.redact_param {
        redaction = redaction.with_param(p);
    }
    let opts = ExportOptions { redaction, name: args.name.clone() };
    match &args.output {
        Some(path) => {
            let f = OutputFile::create(path, &args.files)?;
            let (code, f) = export(args, filter.as_ref(), opts, f, &path.display().to_string())?;
            f.commit()?;
            Ok(code)
        }
        None => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                // Held back until the export is known to be small: a terminal gets at most
                // TERMINAL_LIMIT bytes, and nothing at all when the export is bigger.
                let held = Held { buf: Vec::new() };
                match export(args, filter.as_ref(), opts, held, "standard output") {
                    Ok((code, held)) => {
                        let mut w = TerminalSafe { inner: stdout.lock(), line: Vec::new() };
                        w.write_all(&held.buf)?;
                        w.flush()?;
                        Ok(code)
                    }
                    Err(e) if e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(is_too_big)) => {
                        eprintln!(
                            "apiscope: the export is over {} KiB and standard output is a terminal: nothing was written; give -o FILE, or pipe it (| less)",
                            TERMINAL_LIMIT / 1024
                        );
                        Ok(super::EXIT_BAD_INPUT)
                    }
                    Err(e) => Err(e),
                }
            } else {
                Ok(export(args, filter.as_ref(), opts, BufWriter::new(stdout.lock()), "standard output")?.0)
            }
        }
    }
}

fn export<W: Write>(
    args: &ExportArgs,
    filter: Option<&Filter>,
    opts: ExportOptions,
    w: W,
    dest: &str,
) -> anyhow::Result<(u8, W)> {
    let spec = load_filter_spec(args.spec.as_ref(), args.allow_ref_outside)?;
    let ctx = with_client_flags(cli_filter_context(spec.as_ref()), filter, &args.files, spec.as_ref())?;
    let mut sink = ExportSink {
        filter,
        ctx: &ctx,
        out: Exporter::new(w, args.to, opts),
        seen: 0,
        error: None,
        diagnostics: Vec::new(),
    };
    let read_opts = ReadOptions::default();
    for file in &args.files {
        ingest::read_path(file, &read_opts, &mut sink)?;
        if let Some(e) = sink.error.take() {
            return Err(e).with_context(|| format!("writing to {dest}"));
        }
    }
    let written = sink.out.count();
    let cut = sink.out.cut_bodies();
    let w = sink.out.finish().with_context(|| format!("writing to {dest}"))?;
    for d in &sink.diagnostics {
        eprintln!("apiscope: {}", visible(&d.to_string()));
    }
    let filtered = filter.map(|f| format!(" matching {}", visible(f.source()))).unwrap_or_default();
    eprintln!("apiscope: exported {written} of {} exchanges{filtered} as {} to {dest}", sink.seen, args.to);
    if cut > 0 {
        eprintln!(
            "apiscope: {cut} of them have a request body that was cut or not kept when read: they would send less than the client did"
        );
    }
    Ok((super::EXIT_OK, w))
}
