//! `apiscope flows`: one line per exchange (time, client, method, host, status, size,
//! duration, path) in an aligned table, or JSON / NDJSON / CSV; several inputs merge in
//! capture-time order; `--summary` prints counts only (streaming, flat memory);
//! `--format parquet` writes a Parquet file or dataset (the `cli::parquet` module, which `cli` dispatches to).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::export::{cli_filter_context, load_filter_spec, parse_filter, with_client_flags};
use super::input::{Tap, print_file_diagnostics, read_all};
use crate::export::parquet::{Bodies, PartitionBy};
use crate::filter::{Filter, FnContext};
use crate::ingest::{ReadOptions, ReadSummary, Sink};
use crate::model::client::ClientKey;
use crate::model::text::{capture_time, human_bytes, human_duration, rfc3339, visible};
use crate::model::{Diagnostic, Exchange, State};

use super::ordered::Ordered;

const AFTER_HELP: &str = "\
Examples:
  apiscope flows session.har
  apiscope flows a.pcap b.har --format csv > flows.csv
  apiscope flows capture.pcapng --summary
  apiscope flows capture.pcap --filter '~c 5xx | ~dur >1s'
  tcpdump -i eth0 -w - 'tcp port 80' | apiscope flows -
  sudo apiscope flows -i eth0 --bpf 'tcp port 8080' --format ndjson   (live build)
  apiscope flows capture.pcap --format ndjson | jq .status
  apiscope flows capture.pcap --format parquet -o flows.parquet
  apiscope flows day/*.pcap --format parquet -o dataset/ --partition-by hour

Exit codes: 0 ok, 2 bad usage or unreadable input.";

/// Output formats of `flows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowsFormat {
    /// Aligned text table.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
    /// Parquet (needs `-o`): one row per exchange, for DuckDB, Spark and friends
    /// (docs/scale-out.md).
    Parquet,
}

/// How Parquet rows are split into folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartitionArg {
    /// No partition folders.
    None,
    /// `hour=YYYY-MM-DDTHH` (UTC) folders.
    Hour,
    /// `vhost=HOST` folders.
    Host,
}

impl From<PartitionArg> for PartitionBy {
    fn from(p: PartitionArg) -> Self {
        match p {
            PartitionArg::None => Self::None,
            PartitionArg::Hour => Self::Hour,
            PartitionArg::Host => Self::Host,
        }
    }
}

/// Arguments of `apiscope flows`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FlowsArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy; gzip/zstd-compressed too);
    /// `-` reads standard input.
    #[arg(required_unless_present_any = ["interface", "list_interfaces"], conflicts_with = "interface")]
    pub files: Vec<PathBuf>,
    /// Live capture instead of files (`-i IFACE`): one line per exchange as it completes.
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Output format.
    #[arg(long, short = 'F', value_enum, default_value = "table")]
    pub format: FlowsFormat,
    /// Print only counts (exchanges by method and status, connections, gaps, diagnostics).
    #[arg(long)]
    pub summary: bool,
    /// Keep only the exchanges matching this filter expression (mitmproxy syntax plus
    /// comparisons, e.g. `~c 5xx`, `~m POST & ~dur >250ms`; see docs/filters.md).
    #[arg(long, short = 'f', value_name = "EXPR")]
    pub filter: Option<String>,
    /// OpenAPI spec: `~ep` accepts its operations' names (with and without the base path)
    /// and `~gap` its contract findings, as in the TUI; Parquet's `endpoint` column names
    /// operations by it (as `stats --spec`), learnt names otherwise.
    #[arg(long, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Print at most this many file-level diagnostics to stderr.
    #[arg(long, default_value_t = 20)]
    pub max_diagnostics: usize,
    /// Parquet output: a file, or a folder (ending in `/`, or existing) that gets one part
    /// per input, the inputs converted in parallel.
    #[arg(long, short = 'o', value_name = "FILE_OR_DIR")]
    pub output: Option<PathBuf>,
    /// Parquet: hive-style partition folders under the output folder.
    #[arg(long, value_enum, default_value = "none")]
    pub partition_by: PartitionArg,
    /// Parquet: body columns: none, hash (xxh3 of each whole body) or prefix:N (first N
    /// decoded bytes).
    #[arg(long, default_value = "none", value_parser = str::parse::<Bodies>)]
    pub bodies: Bodies,
    /// Parquet: client identity of the `client` column (as `stats --client-key`).
    #[arg(long, default_value = "auto")]
    pub client_key: ClientKey,
}

/// One exchange as a `flows` row.
#[derive(Debug, Clone, Serialize)]
struct Row {
    #[serde(skip)]
    sort_key: (i64, u64, u64),
    time: Option<String>,
    file: String,
    entry: Option<u64>,
    connection: Option<String>,
    client: Option<String>,
    server: Option<String>,
    method: String,
    host: String,
    path: String,
    version: String,
    status: Option<u16>,
    state: &'static str,
    reason: Option<String>,
    request_bytes: u64,
    response_bytes: Option<u64>,
    ttfb_ms: Option<f64>,
    duration_ms: Option<f64>,
    diagnostics: Vec<String>,
    /// `https` for exchanges decrypted from a capture's TLS (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
    /// The decrypted TLS session (version, cipher, ALPN, SNI), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<std::sync::Arc<crate::model::TlsInfo>>,
    /// Messages inside the exchange (WebSocket, SSE, NDJSON), when it carried a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<u64>,
    /// How its stream ended (`client close 1000`, `server close`, `cut`, `open`).
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_end: Option<String>,
    #[serde(skip)]
    start_ns: Option<i64>,
}

impl Row {
    fn new(ex: &Exchange, file_no: u64) -> Self {
        let start = ex.timing.start();
        Self {
            sort_key: (start.unwrap_or(i64::MIN), file_no, ex.seq),
            time: start.map(rfc3339),
            file: ex.provenance.file.to_string(),
            entry: ex.provenance.entry,
            connection: ex.provenance.connection.clone(),
            client: ex.client.map(|a| a.to_string()),
            server: ex.server.map(|a| a.to_string()),
            method: ex.request.method.clone(),
            host: ex.host(),
            path: ex.request.target.clone(),
            version: ex.request.version.clone(),
            status: ex.status(),
            state: ex.state.label(),
            reason: ex.state.reason().map(str::to_string),
            request_bytes: ex.request.body.size,
            response_bytes: ex.response.as_ref().map(|r| r.body.size),
            ttfb_ms: ex.ttfb().map(crate::model::nanos_to_ms),
            duration_ms: ex.duration().map(crate::model::nanos_to_ms),
            diagnostics: ex.diagnostics.iter().map(ToString::to_string).collect(),
            scheme: ex.tls.as_ref().and(ex.request.scheme.clone()),
            tls: ex.tls.clone(),
            messages: ex.stream.as_ref().map(|s| s.count()),
            stream_end: ex.stream.as_ref().map(|s| s.end.label()),
            start_ns: start,
        }
    }

    fn status_text(&self) -> String {
        match (self.status, self.state) {
            (Some(s), "complete") => s.to_string(),
            (Some(s), _) => format!("{s}!"),
            (None, "failed") => "ERR".into(),
            (None, "aborted") => "CUT".into(),
            (None, _) => "---".into(),
        }
    }
}

/// Rows rendered for the output format as they arrive and put in start-time order with
/// bounded memory ([`Ordered`]: sorted runs spill to a temporary file past 16 MiB).
struct RowSink {
    file_no: u64,
    format: FlowsFormat,
    rows: Ordered,
    /// Table column widths over every row so far.
    widths: [usize; 8],
    error: Option<std::io::Error>,
}

impl RowSink {
    fn new(format: FlowsFormat) -> Self {
        Self { file_no: 0, format, rows: Ordered::default(), widths: TABLE_HEAD.map(str::len), error: None }
    }

    /// The row as the output format stores it: a JSON object (NDJSON, or indented as an
    /// element of the JSON array), a CSV line, or the table's eight cells (each length-prefixed).
    fn render(&mut self, r: &Row) -> std::io::Result<Vec<u8>> {
        Ok(match self.format {
            FlowsFormat::Ndjson => serde_json::to_vec(r)?,
            FlowsFormat::Json => json_element(r)?.into_bytes(),
            FlowsFormat::Csv => csv_line(r).into_bytes(),
            FlowsFormat::Table | FlowsFormat::Parquet => {
                let cells = table_cells(r);
                let mut rec = Vec::new();
                for (w, c) in self.widths.iter_mut().zip(&cells) {
                    *w = (*w).max(c.chars().count());
                    let len = u32::try_from(c.len()).unwrap_or(u32::MAX);
                    rec.extend_from_slice(&len.to_le_bytes());
                    rec.extend_from_slice(c.as_bytes().get(..len as usize).unwrap_or_default());
                }
                rec
            }
        })
    }

    /// Print the rows in order.
    fn write(self, out: &mut impl Write) -> std::io::Result<()> {
        let (format, widths) = (self.format, self.widths);
        match format {
            FlowsFormat::Json if self.rows.is_empty() => writeln!(out, "[]"),
            FlowsFormat::Json => {
                let mut first = true;
                out.write_all(b"[\n")?;
                self.rows.drain(|r| {
                    if !std::mem::take(&mut first) {
                        out.write_all(b",\n")?;
                    }
                    out.write_all(r)
                })?;
                out.write_all(b"\n]\n")
            }
            FlowsFormat::Ndjson | FlowsFormat::Csv => {
                if format == FlowsFormat::Csv {
                    writeln!(out, "{CSV_HEAD}")?;
                }
                self.rows.drain(|r| {
                    out.write_all(r)?;
                    out.write_all(b"\n")
                })
            }
            FlowsFormat::Table | FlowsFormat::Parquet => {
                table_line(out, &TABLE_HEAD.map(str::to_string), &widths)?;
                self.rows.drain(|r| table_line(out, &cells_of(r), &widths))
            }
        }
    }
}

/// The eight table cells of a record made by [`RowSink::render`].
fn cells_of(mut rec: &[u8]) -> [String; 8] {
    std::array::from_fn(|_| {
        let len = rec.get(..4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes) as usize;
        let cell = rec.get(4..4 + len).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        rec = rec.get(4 + len..).unwrap_or_default();
        cell
    })
}

/// A row as an element of the pretty-printed JSON array: its pretty form indented one
/// level (strings hold no raw line breaks, so indenting lines is exact).
fn json_element(r: &Row) -> serde_json::Result<String> {
    let pretty = serde_json::to_string_pretty(r)?;
    let mut s = String::with_capacity(pretty.len() + 64);
    for (i, line) in pretty.lines().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str("  ");
        s.push_str(line);
    }
    Ok(s)
}

impl Sink for RowSink {
    fn exchange(&mut self, ex: &Exchange) {
        if self.error.is_some() {
            return;
        }
        let row = Row::new(ex, self.file_no);
        let pushed = self.render(&row).and_then(|rec| self.rows.push(row.sort_key, rec));
        if let Err(e) = pushed {
            self.error = Some(e);
        }
    }
    fn should_stop(&self) -> bool {
        self.error.is_some()
    }
}

/// Streaming counts for `--summary`.
#[derive(Default, Serialize)]
struct Summary {
    exchanges: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    filtered_out: Option<u64>,
    failed: u64,
    no_response: u64,
    aborted: u64,
    methods: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    request_body_bytes: u64,
    response_body_bytes: u64,
    connections: u64,
    diagnostics: u64,
    diagnostics_by_code: BTreeMap<String, u64>,
    counters: BTreeMap<String, u64>,
    first: Option<String>,
    last: Option<String>,
    #[serde(skip)]
    span: Option<(i64, i64)>,
}

impl Sink for Summary {
    fn exchange(&mut self, ex: &Exchange) {
        self.exchanges += 1;
        match ex.state {
            State::Complete => {}
            State::Failed(_) => self.failed += 1,
            State::NoResponse(_) => self.no_response += 1,
            State::Aborted(_) => self.aborted += 1,
        }
        // Look up by borrowed keys: a new String only for a method or status not seen yet.
        bump_key(&mut self.methods, &ex.request.method);
        let mut digits = [0u8; 5];
        bump_key(&mut self.statuses, status_key(ex.status(), &mut digits));
        self.request_body_bytes += ex.request.body.size;
        self.response_body_bytes += ex.response.as_ref().map_or(0, |r| r.body.size);
        for d in &ex.diagnostics {
            self.diagnostics += 1;
            *self.diagnostics_by_code.entry(d.code.clone()).or_default() += 1;
        }
        if let Some(t) = ex.timing.start() {
            self.span = Some(self.span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        }
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostics += 1;
        *self.diagnostics_by_code.entry(d.code.clone()).or_default() += 1;
    }
    fn needs_headers(&self) -> bool {
        false
    }
}

fn bump_key(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// A status code as decimal text in `buf` (no allocation), or `none`.
fn status_key(status: Option<u16>, buf: &mut [u8; 5]) -> &str {
    let Some(mut n) = status else { return "none" };
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(buf.get(start..).unwrap_or_default()).unwrap_or("none")
}

/// Passes on only the exchanges a filter accepts; counts the rest.
pub(super) struct Filtered<'a, S: Sink + ?Sized> {
    pub(super) inner: &'a mut S,
    pub(super) filter: Option<&'a Filter>,
    pub(super) ctx: FnContext,
    pub(super) rejected: u64,
}

impl<S: Sink + ?Sized> Sink for Filtered<'_, S> {
    fn exchange(&mut self, ex: &Exchange) {
        if self.filter.is_none_or(|f| f.matches(ex, &self.ctx)) {
            self.inner.exchange(ex);
        } else {
            self.rejected += 1;
        }
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.inner.diagnostic(d);
    }
    fn progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.inner.progress(bytes_read, total);
    }
    fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
    fn needs_headers(&self) -> bool {
        // A filter may look at headers (`~h`, `~client`, …).
        self.filter.is_some() || self.inner.needs_headers()
    }
}

/// Run `apiscope flows`.
///
/// # Errors
/// Unreadable input, or failing to write the output.
pub fn run(args: &FlowsArgs) -> anyhow::Result<u8> {
    let Ok(filter) = parse_filter(args.filter.as_deref()) else {
        return Ok(super::EXIT_BAD_INPUT);
    };
    if args.live.is_live() && args.format == FlowsFormat::Parquet {
        anyhow::bail!(
            "a live capture is not written as Parquet: save it with --write FILE.pcapng, then convert that file with --format parquet"
        );
    }
    if args.output.is_some() {
        anyhow::bail!("-o/--output is for --format parquet; other formats print to standard output");
    }
    let spec = load_filter_spec(args.spec.as_ref(), args.allow_ref_outside)?;
    // Bodies are decoded only when the filter looks inside them (or checks them against
    // the spec's schemas: `~gap`).
    let gaps = spec.is_some() && args.filter.as_deref().is_some_and(|f| f.contains("~gap"));
    let keep_bodies = filter.as_ref().is_some_and(Filter::needs_bodies) || gaps;
    let opts = ReadOptions { keep_bodies, ..ReadOptions::default() };
    if args.live.list_interfaces {
        return super::live::print_interfaces();
    }
    if args.live.is_live() {
        if filter.as_ref().is_some_and(Filter::uses_flags) {
            anyhow::bail!(
                "`~flag` needs the whole input first: save the live capture with --write FILE.pcapng, then filter that file"
            );
        }
        return run_live(args, &opts, filter.as_ref(), spec.as_ref());
    }
    let ctx = with_client_flags(cli_filter_context(spec.as_ref()), filter.as_ref(), &args.files, spec.as_ref())?;
    if args.summary {
        return run_summary(args, &opts, filter.as_ref(), ctx);
    }
    let mut row_sink = RowSink::new(args.format);
    let mut rows = Filtered { inner: &mut row_sink, filter: filter.as_ref(), ctx, rejected: 0 };
    let (exchanges, failed, diagnostics) = {
        let mut all_failed = 0;
        let mut all_ex = 0;
        let mut all_diag = 0;
        for (i, f) in args.files.iter().enumerate() {
            rows.inner.file_no = i as u64;
            let mut tap = Tap::new(&mut rows);
            read_all(std::slice::from_ref(f), &opts, &mut tap)?;
            all_ex += tap.exchanges;
            all_failed += tap.failed;
            all_diag += tap.total_diagnostics();
            print_file_diagnostics(&tap, args.max_diagnostics);
        }
        (all_ex, all_failed, all_diag)
    };
    let rejected = rows.rejected;
    if let Some(e) = row_sink.error.take() {
        return Err(anyhow::Error::new(e).context("keeping the rows in order (temporary file)"));
    }
    let shown = if filter.is_some() {
        format!(" ({} shown, {rejected} filtered out)", row_sink.rows.len())
    } else {
        String::new()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    row_sink.write(&mut out)?;
    if args.format == FlowsFormat::Table {
        writeln!(
            out,
            "{exchanges} exchanges{shown}, {failed} failed or incomplete, {diagnostics} diagnostics, {} file{}",
            args.files.len(),
            if args.files.len() == 1 { "" } else { "s" }
        )?;
    }
    out.flush()?;
    if args.format != FlowsFormat::Table {
        eprintln!("apiscope: {exchanges} exchanges{shown}, {failed} failed or incomplete, {diagnostics} diagnostics");
    }
    Ok(super::EXIT_OK)
}

fn run_summary(args: &FlowsArgs, opts: &ReadOptions, filter: Option<&Filter>, ctx: FnContext) -> anyhow::Result<u8> {
    let mut summary = Summary::default();
    let mut filtered = Filtered { inner: &mut summary, filter, ctx, rejected: 0 };
    let reads: Vec<ReadSummary> = {
        let mut tap = Tap::new(&mut filtered);
        let reads = read_all(&args.files, opts, &mut tap)?;
        print_file_diagnostics(&tap, args.max_diagnostics);
        reads
    };
    let rejected = filtered.rejected;
    print_summary(args, summary, &reads, filter.is_some().then_some(rejected))
}

impl FlowsArgs {
    /// True when the rows go to Parquet (`--format parquet` without `--summary`), which
    /// `cli::parquet` writes instead of [`run`].
    #[must_use]
    pub fn wants_parquet(&self) -> bool {
        self.format == FlowsFormat::Parquet && !self.summary && !self.live.is_live()
    }
}

/// `flows -i IFACE`: capture until Ctrl-C / `--duration` / `--count`, printing each
/// exchange as it completes (NDJSON, CSV, table rows; JSON as one array at the end), or the
/// `--summary` at the end.
fn run_live(
    args: &FlowsArgs,
    opts: &ReadOptions,
    filter: Option<&Filter>,
    spec: Option<&std::sync::Arc<crate::spec::Spec>>,
) -> anyhow::Result<u8> {
    let cap = super::live::start(&args.live, false)?;
    if args.summary {
        let mut summary = Summary::default();
        let mut filtered = Filtered { inner: &mut summary, filter, ctx: cli_filter_context(spec), rejected: 0 };
        let read = {
            let mut tap = Tap::new(&mut filtered);
            let read = super::live::read(cap, opts, &mut tap)?;
            print_file_diagnostics(&tap, args.max_diagnostics);
            read
        };
        let rejected = filtered.rejected;
        return print_summary(args, summary, &[read], filter.is_some().then_some(rejected));
    }
    let mut printer = LivePrinter::new(args.format);
    let mut filtered = Filtered { inner: &mut printer, filter, ctx: cli_filter_context(spec), rejected: 0 };
    let (exchanges, failed, diagnostics) = {
        let mut tap = Tap::new(&mut filtered);
        super::live::read(cap, opts, &mut tap)?;
        print_file_diagnostics(&tap, args.max_diagnostics);
        (tap.exchanges, tap.failed, tap.total_diagnostics())
    };
    let rejected = filtered.rejected;
    printer.finish()?;
    let shown = if filter.is_some() { format!(" ({rejected} filtered out)") } else { String::new() };
    eprintln!("apiscope: {exchanges} exchanges{shown}, {failed} failed or incomplete, {diagnostics} diagnostics");
    Ok(super::EXIT_OK)
}

/// Prints rows as exchanges arrive (live capture).
struct LivePrinter {
    format: FlowsFormat,
    started: bool,
    /// JSON rows, printed as one array at the end (in arrival order; spilled to a
    /// temporary file past 16 MiB, so a long capture keeps memory flat).
    held: RowSink,
    error: Option<std::io::Error>,
}

impl LivePrinter {
    fn new(format: FlowsFormat) -> Self {
        Self { format, started: false, held: RowSink::new(FlowsFormat::Json), error: None }
    }

    fn write_row(&mut self, r: &Row) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            FlowsFormat::Ndjson => {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
            FlowsFormat::Csv => {
                if !self.started {
                    writeln!(out, "{CSV_HEAD}")?;
                }
                writeln!(out, "{}", csv_line(r))?;
            }
            FlowsFormat::Table => {
                const W: [usize; 7] = [15, 21, 7, 24, 6, 9, 9];
                let c = table_cells(r);
                if !self.started {
                    writeln!(
                        out,
                        "{:<15}  {:<21}  {:<7}  {:<24}  {:>6}  {:>9}  {:>9}  PATH",
                        "TIME (UTC)", "CLIENT", "METHOD", "HOST", "STATUS", "SIZE", "DURATION"
                    )?;
                }
                let mut s = String::new();
                for (i, (cell, w)) in c.iter().zip(W).enumerate() {
                    if i >= 4 {
                        s.push_str(&format!("{cell:>w$}  "));
                    } else {
                        s.push_str(&format!("{cell:<w$}  "));
                    }
                }
                s.push_str(&c[7]);
                writeln!(out, "{s}")?;
            }
            // JSON is printed as one array at the end; Parquet is refused for live captures.
            FlowsFormat::Json | FlowsFormat::Parquet => {}
        }
        self.started = true;
        out.flush()
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        if self.format == FlowsFormat::Json {
            let held = std::mem::replace(&mut self.held, RowSink::new(FlowsFormat::Json));
            let mut out = BufWriter::new(std::io::stdout().lock());
            held.write(&mut out)?;
            out.flush()?;
        }
        Ok(())
    }
}

impl Sink for LivePrinter {
    fn exchange(&mut self, ex: &Exchange) {
        let row = Row::new(ex, 0);
        if self.format == FlowsFormat::Json {
            // Arrival order: the row's place is the number of rows before it.
            let key = (0, 0, self.held.rows.len());
            let pushed =
                json_element(&row).map_err(std::io::Error::from).and_then(|r| self.held.rows.push(key, r.into_bytes()));
            if let Err(e) = pushed {
                self.error.get_or_insert(e);
            }
        } else if self.error.is_none() {
            if let Err(e) = self.write_row(&row) {
                self.error = Some(e);
            }
        }
    }
    fn should_stop(&self) -> bool {
        self.error.is_some()
    }
}

/// Print the `--summary` of what was read.
fn print_summary(
    args: &FlowsArgs,
    mut summary: Summary,
    reads: &[ReadSummary],
    rejected: Option<u64>,
) -> anyhow::Result<u8> {
    if let Some(rejected) = rejected {
        summary.filtered_out = Some(rejected);
    }
    for r in reads {
        summary.connections += r.connections;
        for (k, v) in &r.counters {
            *summary.counters.entry(k.clone()).or_default() += v;
        }
    }
    if let Some((a, b)) = summary.span {
        summary.first = Some(rfc3339(a));
        summary.last = Some(rfc3339(b));
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        FlowsFormat::Json | FlowsFormat::Ndjson | FlowsFormat::Parquet => {
            serde_json::to_writer_pretty(&mut out, &summary)?;
            writeln!(out)?;
        }
        FlowsFormat::Table | FlowsFormat::Csv => write_summary_text(&mut out, &summary)?,
    }
    out.flush()?;
    Ok(super::EXIT_OK)
}

fn write_summary_text(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    let join =
        |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{} {v}", visible(k))).collect::<Vec<_>>().join(", ");
    match s.filtered_out {
        Some(n) => writeln!(out, "exchanges      {} matching the filter ({n} filtered out)", s.exchanges)?,
        None => writeln!(out, "exchanges      {}", s.exchanges)?,
    }
    writeln!(out, "  by method    {}", join(&s.methods))?;
    writeln!(out, "  by status    {}", join(&s.statuses))?;
    writeln!(
        out,
        "incomplete     {} (failed {}, no response {}, aborted {})",
        s.failed + s.no_response + s.aborted,
        s.failed,
        s.no_response,
        s.aborted
    )?;
    writeln!(out, "body bytes     request {}, response {}", s.request_body_bytes, s.response_body_bytes)?;
    writeln!(out, "connections    {}", s.connections)?;
    writeln!(out, "diagnostics    {}", s.diagnostics)?;
    if !s.diagnostics_by_code.is_empty() {
        writeln!(out, "  by code      {}", join(&s.diagnostics_by_code))?;
    }
    // Reader counters (packets, gaps, retransmissions, skipped items …); the totals printed
    // above are not repeated.
    let counters: Vec<_> =
        s.counters.iter().filter(|(k, _)| !matches!(k.as_str(), "connections" | "diagnostics")).collect();
    if !counters.is_empty() {
        writeln!(out, "reader counters")?;
        for (k, v) in counters {
            writeln!(out, "  {:<26} {v}", visible(k))?;
        }
    }
    if let (Some(a), Some(b)) = (&s.first, &s.last) {
        writeln!(out, "time span      {a} .. {b}")?;
    }
    Ok(())
}

fn table_cells(r: &Row) -> [String; 8] {
    [
        r.start_ns.map_or_else(|| "-".to_string(), capture_time),
        r.client.as_deref().map_or_else(|| "-".to_string(), |c| visible(c).into_owned()),
        visible(&r.method).into_owned(),
        visible(&r.host).into_owned(),
        r.status_text(),
        r.response_bytes.map_or_else(|| "-".to_string(), human_bytes),
        r.duration_ms.map_or_else(|| "-".to_string(), |ms| human_duration((ms * 1e6) as i64)),
        visible(&r.path).into_owned(),
    ]
}

const TABLE_HEAD: [&str; 8] = ["TIME (UTC)", "CLIENT", "METHOD", "HOST", "STATUS", "SIZE", "DURATION", "PATH"];

/// One table line: cells padded to `width`, the numeric columns right-aligned.
fn table_line(out: &mut impl Write, c: &[String; 8], width: &[usize; 8]) -> std::io::Result<()> {
    const RIGHT: [bool; 8] = [false, false, false, false, true, true, true, false];
    let mut s = String::new();
    for (i, cell) in c.iter().enumerate() {
        if i == 7 {
            s.push_str(cell);
        } else if RIGHT[i] {
            s.push_str(&format!("{cell:>w$}  ", w = width[i]));
        } else {
            s.push_str(&format!("{cell:<w$}  ", w = width[i]));
        }
    }
    writeln!(out, "{}", s.trim_end())
}

pub(crate) fn csv_field(s: &str) -> String {
    let v = visible(s);
    if v.contains([',', '"']) || v.starts_with([' ', '=', '+', '-', '@']) {
        // Quote, and neutralise spreadsheet formula prefixes with a leading apostrophe.
        let body = if v.starts_with(['=', '+', '-', '@']) { format!("'{v}") } else { v.into_owned() };
        format!("\"{}\"", body.replace('"', "\"\""))
    } else {
        v.into_owned()
    }
}

const CSV_HEAD: &str = "time,client,server,method,host,path,status,state,request_bytes,response_bytes,ttfb_ms,duration_ms,file,entry,connection";

/// One CSV line (no line break) for `r`.
fn csv_line(r: &Row) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    {
        let fields = [
            opt(r.time.clone()),
            opt(r.client.clone()),
            opt(r.server.clone()),
            r.method.clone(),
            r.host.clone(),
            r.path.clone(),
            opt(r.status.map(|s| s.to_string())),
            r.state.to_string(),
            r.request_bytes.to_string(),
            opt(r.response_bytes.map(|s| s.to_string())),
            opt(r.ttfb_ms.map(|v| format!("{v:.3}"))),
            opt(r.duration_ms.map(|v| format!("{v:.3}"))),
            r.file.clone(),
            opt(r.entry.map(|s| s.to_string())),
            opt(r.connection.clone()),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        line.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keys_are_decimal_text_without_allocation() {
        let mut b = [0u8; 5];
        assert_eq!(status_key(None, &mut b), "none");
        for s in [0u16, 7, 99, 200, 404, 999, 1000, 65535] {
            let mut b = [0u8; 5];
            assert_eq!(status_key(Some(s), &mut b), s.to_string());
        }
    }

    fn ex(method: &str, target: &str, status: Option<u16>) -> Exchange {
        let b = Exchange::builder(method, target).host("api").start(1_000_000_000).end(1_012_000_000);
        match status {
            Some(s) => b.status(s).state(State::Complete),
            None => b.state(State::NoResponse("capture ended".into())),
        }
        .build()
    }

    /// The rows as `flows --format FORMAT` prints them.
    fn printed(format: FlowsFormat, rows: &[Exchange]) -> String {
        printed_with(format, rows, Ordered::default())
    }

    fn printed_with(format: FlowsFormat, rows: &[Exchange], order: Ordered) -> String {
        let mut sink = RowSink::new(format);
        sink.rows = order;
        for e in rows {
            sink.exchange(e);
        }
        let mut out = Vec::new();
        sink.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_escapes_hostile_paths_and_aligns() {
        let s = printed(FlowsFormat::Table, &[ex("GET", "/a\x1b[2J", Some(200)), ex("TEST_METHOD", "/b", None)]);
        assert!(!s.contains('\x1b'));
        assert!(s.contains("/a\\x1b[2J"));
        assert!(s.contains("TEST_METHOD"));
        assert!(s.contains("---"), "no-response marker: {s}");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[1].find("api"), lines[2].find("api"), "columns aligned");
    }

    /// Exchanges completing out of start order, with a diagnostic, a TLS-less scheme and a
    /// quote in a path: what every format has to carry.
    fn shuffled() -> Vec<Exchange> {
        (0..60i64)
            .map(|i| {
                let start = 1_000_000_000 + (i * 7919 % 61) * 1_000_000;
                let mut b =
                    Exchange::builder("GET", &format!("/p/{i}?q=\"{i}\"")).host("api").start(start).end(start + 5);
                b = if i % 5 == 0 {
                    b.state(State::NoResponse("cut".into()))
                } else {
                    b.status(200).state(State::Complete)
                };
                let mut e = b.build();
                e.seq = u64::try_from(i).unwrap_or(0);
                if i % 7 == 0 {
                    e.diagnostics.push(Diagnostic::new(crate::model::Severity::Warning, "t.x", "line\nbreak"));
                }
                e
            })
            .collect()
    }

    #[test]
    fn every_format_prints_the_same_rows_whether_held_in_memory_or_spilled_to_disk() {
        let exs = shuffled();
        for f in [FlowsFormat::Table, FlowsFormat::Json, FlowsFormat::Ndjson, FlowsFormat::Csv] {
            let held = printed(f, &exs);
            assert_eq!(printed_with(f, &exs, Ordered::with_memory(1)), held, "{f:?}");
            assert_eq!(printed_with(f, &exs, Ordered::with_memory(2000)), held, "{f:?}");
        }
        // JSON is exactly one pretty-printed array of the rows in start order.
        let mut rows: Vec<Row> = exs.iter().map(|e| Row::new(e, 0)).collect();
        rows.sort_by_key(|r| r.sort_key);
        assert_eq!(printed(FlowsFormat::Json, &exs), serde_json::to_string_pretty(&rows).unwrap() + "\n");
        assert_eq!(printed(FlowsFormat::Json, &[]), "[]\n");
        let lines: Vec<String> = rows.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
        assert_eq!(printed(FlowsFormat::Ndjson, &exs), lines.join("\n") + "\n");
    }

    #[test]
    fn csv_neutralises_formulas_and_quotes() {
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn summary_counts_open_sets_of_methods_and_statuses() {
        let mut s = Summary::default();
        for e in [ex("TEST_METHOD", "/", Some(419)), ex("GET", "/", Some(0)), ex("GET", "/", None)] {
            s.exchange(&e);
        }
        assert_eq!(s.methods["TEST_METHOD"], 1);
        assert_eq!(s.statuses["419"], 1);
        assert_eq!(s.statuses["0"], 1);
        assert_eq!(s.statuses["none"], 1);
        assert_eq!(s.no_response, 1);
    }
}
