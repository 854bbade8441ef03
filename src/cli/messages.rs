//! `apiscope messages`: one line per message inside the exchanges (WebSocket messages and
//! control frames, SSE events, NDJSON lines) as a table, NDJSON or CSV. `--filter` selects
//! exchanges (`~msg REGEX` matches message content). Lines are written as exchanges are
//! read, so memory stays flat whatever the input's size.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::export::{cli_filter_context, parse_filter, with_client_flags};
use super::flows::csv_field;
use super::input::{Tap, print_file_diagnostics, read_all};
use crate::filter::{Filter, FnContext};
use crate::ingest::{ReadOptions, Sink};
use crate::model::message::{Message, MessageKind, MessageStream};
use crate::model::text::{human_bytes, rfc3339, visible};
use crate::model::{Exchange, nanos_to_ms};

const AFTER_HELP: &str = "\
Examples:
  apiscope messages capture.pcap
  apiscope messages capture.pcap --filter '~websocket & ~msg AAPL'
  apiscope messages session.har --format ndjson | jq .data
  apiscope messages capture.pcap --filter '~u /stream' --format csv > messages.csv

Exit codes: 0 ok, 2 bad usage or unreadable input.";

/// Output formats of `messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessagesFormat {
    /// Aligned text table with a payload preview.
    Table,
    /// One JSON object per message.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

/// Arguments of `apiscope messages`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct MessagesArgs {
    /// Input files (pcap, pcapng, HAR, mitmproxy, …); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'F', value_enum, default_value = "table")]
    pub format: MessagesFormat,
    /// Keep only the messages of exchanges matching this filter (`~msg REGEX` matches
    /// message content; see docs/filters.md).
    #[arg(long, short = 'f', value_name = "EXPR")]
    pub filter: Option<String>,
    /// Print at most this many file-level diagnostics to stderr.
    #[arg(long, default_value_t = 20)]
    pub max_diagnostics: usize,
}

/// One message as an output record.
#[derive(Debug, Serialize)]
pub struct MessageRow<'a> {
    /// Input file.
    pub file: &'a str,
    /// The exchange's position in its file.
    pub exchange: u64,
    /// Request method.
    pub method: &'a str,
    /// Host.
    pub host: String,
    /// Request target.
    pub path: &'a str,
    /// Stream protocol.
    pub protocol: &'static str,
    /// Message index in the stream (0-based).
    pub index: usize,
    /// Capture time (RFC 3339).
    pub time: String,
    /// Milliseconds since the stream opened.
    pub since_open_ms: Option<f64>,
    /// `send` (client to server) or `receive`.
    pub direction: &'static str,
    /// Kind and its fields.
    #[serde(flatten)]
    pub kind: &'a MessageKind,
    /// Payload size in bytes.
    pub size: u64,
    /// The payload kept is shorter than `size`.
    pub truncated: bool,
    /// Payload as text (text, events, lines, close reasons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Payload as hex (binary, ping, pong).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_hex: Option<String>,
}

impl<'a> MessageRow<'a> {
    /// The record of message `index` of `ex`'s stream.
    #[must_use]
    pub fn new(ex: &'a Exchange, s: &MessageStream, index: usize, m: &'a Message) -> Self {
        let (data, data_hex) =
            if m.kind.is_textual() { (Some(m.text().into_owned()), None) } else { (None, Some(hex(&m.payload))) };
        Self {
            file: &ex.provenance.file,
            exchange: ex.seq,
            method: &ex.request.method,
            host: ex.host(),
            path: &ex.request.target,
            protocol: s.protocol.name(),
            index,
            time: rfc3339(m.time),
            since_open_ms: s.opened.map(|o| nanos_to_ms(m.time - o)),
            direction: m.direction.label(),
            kind: &m.kind,
            size: m.size,
            truncated: m.truncated,
            data,
            data_hex,
        }
    }
}

/// Lower-case hex of `b`.
#[must_use]
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A one-line preview of a message (escaped for terminals), at most `width` characters.
#[must_use]
pub fn preview(m: &Message, width: usize) -> String {
    let text = match &m.kind {
        MessageKind::Close { code, reason } => {
            format!(
                "{}{}",
                code.map(|c| c.to_string()).unwrap_or_default(),
                if reason.is_empty() { String::new() } else { format!(" {reason}") }
            )
        }
        k if k.is_textual() => m.text().into_owned(),
        _ => hex(&m.payload[..m.payload.len().min(width)]),
    };
    visible(&text).chars().take(width).collect()
}

struct Writer<W: Write> {
    out: W,
    format: MessagesFormat,
    filter: Option<Filter>,
    ctx: FnContext,
    messages: u64,
    streams: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> Writer<W> {
    fn write_exchange(&mut self, ex: &Exchange) -> std::io::Result<()> {
        let Some(s) = ex.stream.as_deref() else { return Ok(()) };
        self.streams += 1;
        for (i, m) in s.messages.iter().enumerate() {
            self.messages += 1;
            let row = MessageRow::new(ex, s, i, m);
            match self.format {
                MessagesFormat::Ndjson => {
                    serde_json::to_writer(&mut self.out, &row)?;
                    writeln!(self.out)?;
                }
                MessagesFormat::Csv => {
                    let fields = [
                        row.time.clone(),
                        row.since_open_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                        row.file.to_string(),
                        row.exchange.to_string(),
                        row.method.to_string(),
                        row.host.clone(),
                        row.path.to_string(),
                        row.protocol.to_string(),
                        i.to_string(),
                        row.direction.to_string(),
                        m.kind.label().to_string(),
                        m.size.to_string(),
                        row.truncated.to_string(),
                        row.data.clone().or(row.data_hex.clone()).unwrap_or_default(),
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    writeln!(self.out, "{}", line.join(","))?;
                }
                MessagesFormat::Table => {
                    let since = row.since_open_ms.map_or_else(|| "-".into(), |v| format!("{:.3}s", v / 1000.0));
                    writeln!(
                        self.out,
                        "{:>5} {:>10} {} {:<6} {:>9}  {}",
                        ex.seq,
                        since,
                        m.direction.arrow(),
                        m.kind.label(),
                        human_bytes(m.size),
                        preview(m, 100)
                    )?;
                }
            }
        }
        if s.dropped > 0 && self.format == MessagesFormat::Table {
            writeln!(self.out, "{:>5} … {} more messages counted, not kept", ex.seq, s.dropped)?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for Writer<W> {
    fn exchange(&mut self, ex: &Exchange) {
        if self.error.is_some() || ex.stream.is_none() {
            return;
        }
        if self.filter.as_ref().is_some_and(|f| !f.matches(ex, &self.ctx)) {
            return;
        }
        if let Err(e) = self.write_exchange(ex) {
            self.error = Some(e);
        }
    }
    fn should_stop(&self) -> bool {
        self.error.is_some()
    }
    fn needs_headers(&self) -> bool {
        true
    }
}

/// Run `apiscope messages`.
///
/// # Errors
/// Unreadable input, or failing to write the output.
pub fn run(args: &MessagesArgs) -> anyhow::Result<u8> {
    let Ok(filter) = parse_filter(args.filter.as_deref()) else {
        return Ok(super::EXIT_BAD_INPUT);
    };
    let opts = ReadOptions::default();
    let ctx = with_client_flags(cli_filter_context(None), filter.as_ref(), &args.files, None)?;
    let stdout = std::io::stdout();
    let mut w = Writer {
        out: BufWriter::new(stdout.lock()),
        format: args.format,
        filter,
        ctx,
        messages: 0,
        streams: 0,
        error: None,
    };
    match args.format {
        MessagesFormat::Csv => writeln!(
            w.out,
            "time,since_open_ms,file,exchange,method,host,path,protocol,index,direction,kind,size,truncated,data"
        )?,
        MessagesFormat::Table => {
            writeln!(w.out, "{:>5} {:>10}   {:<6} {:>9}  payload", "exch", "since open", "kind", "size")?
        }
        MessagesFormat::Ndjson => {}
    }
    for f in &args.files {
        let mut tap = Tap::new(&mut w);
        read_all(std::slice::from_ref(f), &opts, &mut tap)?;
        print_file_diagnostics(&tap, args.max_diagnostics);
    }
    if let Some(e) = w.error.take() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
        return Ok(super::EXIT_OK);
    }
    if args.format == MessagesFormat::Table {
        writeln!(w.out, "{} messages in {} streams", w.messages, w.streams)?;
    } else {
        eprintln!("apiscope: {} messages in {} streams", w.messages, w.streams);
    }
    w.out.flush()?;
    Ok(super::EXIT_OK)
}
