//! The Parquet writer: the schema ([`schema`], [`SCHEMA_VERSION`] in each file's key-value
//! metadata), rows, and files written in row groups as the exchanges stream past.
//!
//! [`FlowsSink`] is an ingest [`Sink`]: it turns each exchange into a [`FlowRow`], names its
//! endpoint as `stats` does ([`StreamNames`]) and hands the row to a [`PartsWriter`], which
//! writes one file, or one part per partition (`hour=…`, `vhost=…`, hive style) under a
//! folder. Every file goes through [`OutputFile`]: written beside its destination and
//! renamed into place when complete, never over an input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{Bodies, PartitionBy};
use crate::analysis::{EndpointName, StreamNames};
use crate::export::output::{OutputError, OutputFile};
use crate::ingest::Sink;
use crate::model::client::{ClientKey, identify};
use crate::model::{Diagnostic, Exchange, Nanos};
use crate::spec::Spec;

/// Version of the column layout, stored under [`SCHEMA_VERSION_KEY`] in every file. It
/// changes only when a column is removed, renamed or changes type; new columns are added
/// at the end without a change.
pub const SCHEMA_VERSION: &str = "1";

/// Key-value metadata key holding [`SCHEMA_VERSION`].
pub const SCHEMA_VERSION_KEY: &str = "apiscope.schema_version";

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Rows gathered before they are encoded into the open row group.
const BATCH_ROWS: usize = 8192;

/// Partition files open at once; past this the least recently used is finished (a later
/// row for its partition starts a new part file).
const MAX_OPEN_PARTS: usize = 32;

/// Encoded bytes all open row groups may hold before the biggest is flushed early.
const MAX_BUFFERED_BYTES: usize = 48 * 1024 * 1024;

/// Hive's name for a partition whose value is unknown.
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Why Parquet output failed.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// Creating or committing an output file failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The Parquet encoder failed.
    #[error("cannot write Parquet to {path}: {source}")]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// A batch did not match the schema.
    #[error("cannot build a Parquet batch: {0}")]
    Batch(#[from] ArrowError),
    /// A folder could not be created.
    #[error("cannot create the folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Partitioning asked for with a single output file.
    #[error("--partition-by needs a folder as output (end the path with `/`)")]
    PartitionNeedsFolder,
}

/// One exchange as a row (every column of [`schema`] but the endpoint's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowRow {
    /// Request start, µs since the epoch.
    pub start_us: Option<i64>,
    /// Response end, µs since the epoch.
    pub end_us: Option<i64>,
    /// Time to first byte, µs.
    pub ttfb_us: Option<i64>,
    /// Total duration, µs (none for a stream: its duration is `stream_duration_us`).
    pub total_us: Option<i64>,
    /// WebSocket / SSE / NDJSON stream: messages (kept and counted past the limit).
    pub stream_messages: Option<i64>,
    /// Stream: from its opening to its close or last byte, µs.
    pub stream_duration_us: Option<i64>,
    /// Method as sent.
    pub method: String,
    /// Scheme, when known.
    pub scheme: Option<String>,
    /// Host as addressed.
    pub host: String,
    /// Path (before `?`).
    pub path: String,
    /// Query (after `?`).
    pub query: Option<String>,
    /// Endpoint name.
    pub endpoint: String,
    /// Documented by the spec (`None` without one).
    pub documented: Option<bool>,
    /// Final status.
    pub status: Option<i32>,
    /// How the exchange ended.
    pub state: &'static str,
    /// Why it did not complete.
    pub state_reason: Option<String>,
    /// Not complete, or status 0.
    pub failed: bool,
    /// Request body, decoded bytes.
    pub request_bytes: i64,
    /// Request body on the wire.
    pub request_wire_bytes: i64,
    /// Response body, decoded bytes.
    pub response_bytes: Option<i64>,
    /// Response body on the wire.
    pub response_wire_bytes: Option<i64>,
    /// Client identity under the client key.
    pub client: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// Client IP.
    pub client_ip: Option<String>,
    /// Client port.
    pub client_port: Option<i32>,
    /// Server IP.
    pub server_ip: Option<String>,
    /// Server port.
    pub server_port: Option<i32>,
    /// Connection id within the source file.
    pub connection: Option<String>,
    /// Source file.
    pub source_file: Arc<str>,
    /// Entry index (HAR, Charles, mitmproxy).
    pub entry: Option<i64>,
    /// First packet number (captures).
    pub first_packet: Option<i64>,
    /// Position in the source.
    pub seq: i64,
    /// HTTP version of the request.
    pub http_version: String,
    /// TLS version, when decrypted.
    pub tls_version: Option<String>,
    /// TLS cipher suite.
    pub tls_cipher: Option<String>,
    /// ALPN protocol.
    pub tls_alpn: Option<String>,
    /// SNI.
    pub tls_sni: Option<String>,
    /// Request media type.
    pub request_content_type: Option<String>,
    /// Response media type.
    pub response_content_type: Option<String>,
    /// Diagnostic codes.
    pub diagnostics: Vec<String>,
    /// Request body digest (hex).
    pub request_body_hash: Option<String>,
    /// Response body digest (hex).
    pub response_body_hash: Option<String>,
    /// Request body prefix.
    pub request_body_prefix: Option<Vec<u8>>,
    /// Response body prefix.
    pub response_body_prefix: Option<Vec<u8>>,
}

/// Nanoseconds to whole microseconds, rounded, negative durations (broken clocks) as 0:
/// the rounding `stats` uses, without its saturation at 71 minutes.
fn duration_us(ns: i64) -> i64 {
    if ns <= 0 { 0 } else { ns.saturating_add(500) / 1000 }
}

/// A capture-clock instant in microseconds since the epoch (rounded down).
fn instant_us(ns: Nanos) -> i64 {
    ns.div_euclid(1000)
}

fn size(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl FlowRow {
    /// The row of `ex`, its client identified by `key`, bodies as `bodies` asks.
    #[must_use]
    pub fn of(ex: &Exchange, key: &ClientKey, bodies: Bodies) -> Self {
        let rq = &ex.request;
        let rs = ex.response.as_ref();
        let tls = ex.tls.as_deref();
        let hash = |b: &crate::model::Body| b.digest.filter(|_| bodies == Bodies::Hash).map(|d| format!("{d:016x}"));
        let prefix = |b: &crate::model::Body| match bodies {
            Bodies::Prefix(n) => Some(b.content.get(..n.min(b.content.len())).unwrap_or_default().to_vec()),
            Bodies::None | Bodies::Hash => None,
        };
        Self {
            start_us: ex.timing.start().map(instant_us),
            end_us: ex.timing.response_end.map(instant_us),
            ttfb_us: ex.ttfb().map(duration_us),
            total_us: if ex.stream.is_some() { None } else { ex.duration().map(duration_us) },
            stream_messages: ex
                .stream
                .as_deref()
                .map(|st| i64::try_from(st.messages.len() as u64 + st.dropped).unwrap_or(i64::MAX)),
            stream_duration_us: ex.stream.as_deref().and_then(|st| {
                let end = st.closed.or(ex.timing.response_end)?;
                Some(duration_us((end - st.opened?).max(0)))
            }),
            method: rq.method.clone(),
            scheme: rq.scheme.clone(),
            host: ex.host(),
            path: rq.path().to_string(),
            query: rq.query().map(str::to_string),
            endpoint: String::new(),
            documented: None,
            status: ex.status().map(i32::from),
            state: ex.state.label(),
            state_reason: ex.state.reason().map(str::to_string),
            failed: ex.is_failed() || ex.status() == Some(0),
            request_bytes: size(rq.body.size),
            request_wire_bytes: size(rq.body.wire_size.unwrap_or(rq.body.size)),
            response_bytes: rs.map(|r| size(r.body.size)),
            response_wire_bytes: rs.map(|r| size(r.body.wire_size.unwrap_or(r.body.size))),
            client: identify(ex, key).map(|c| c.0),
            user_agent: rq.headers.get("user-agent").map(str::to_string),
            client_ip: ex.client.map(|a| a.ip.to_string()),
            client_port: ex.client.and_then(|a| a.port).map(i32::from),
            server_ip: ex.server.map(|a| a.ip.to_string()),
            server_port: ex.server.and_then(|a| a.port).map(i32::from),
            connection: ex.provenance.connection.clone(),
            source_file: Arc::clone(&ex.provenance.file),
            entry: ex.provenance.entry.map(size),
            first_packet: ex.provenance.packets.first().copied().map(size),
            seq: size(ex.seq),
            http_version: rq.version.clone(),
            tls_version: tls.map(|t| t.version.clone()),
            tls_cipher: tls.map(|t| t.cipher.clone()),
            tls_alpn: tls.and_then(|t| t.alpn.clone()),
            tls_sni: tls.and_then(|t| t.sni.clone()),
            request_content_type: rq.headers.content_type(),
            response_content_type: rs.and_then(|r| r.headers.content_type()),
            diagnostics: ex.diagnostics.iter().map(|d| d.code.clone()).collect(),
            request_body_hash: hash(&rq.body),
            response_body_hash: rs.and_then(|r| hash(&r.body)),
            request_body_prefix: prefix(&rq.body),
            response_body_prefix: rs.and_then(|r| prefix(&r.body)),
        }
    }

    /// The hive partition folder of this row (`hour=…` or `vhost=…`), `None` unpartitioned.
    #[must_use]
    pub fn partition(&self, by: PartitionBy) -> Option<String> {
        match by {
            PartitionBy::None => None,
            PartitionBy::Hour => Some(format!(
                "hour={}",
                self.start_us.map_or_else(
                    || NULL_PARTITION.to_string(),
                    |us| crate::model::text::rfc3339(us.saturating_mul(1000)).chars().take(13).collect()
                )
            )),
            PartitionBy::Host => Some(format!("vhost={}", partition_value(&self.host))),
        }
    }
}

/// A partition value safe as one folder name: bytes other than ASCII letters, digits, `-`,
/// `_` and a `.` that does not start the value are percent-escaped (as hive escapes them);
/// an empty value is hive's null partition.
#[must_use]
pub fn partition_value(v: &str) -> String {
    if v.is_empty() {
        return NULL_PARTITION.to_string();
    }
    let mut out = String::with_capacity(v.len());
    for (i, b) in v.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Arrow schema of every file (columns in this order; see docs/scale-out.md).
#[must_use]
pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let s = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let i64f = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    let i32f = |name: &str| Field::new(name, DataType::Int32, true);
    Arc::new(Schema::new(vec![
        Field::new("start_time", ts.clone(), true),
        Field::new("end_time", ts, true),
        i64f("ttfb_us", true),
        i64f("total_us", true),
        s("method", false),
        s("scheme", true),
        s("host", false),
        s("path", false),
        s("query", true),
        s("endpoint", false),
        Field::new("documented", DataType::Boolean, true),
        i32f("status"),
        s("state", false),
        s("state_reason", true),
        Field::new("failed", DataType::Boolean, false),
        i64f("request_bytes", false),
        i64f("request_wire_bytes", false),
        i64f("response_bytes", true),
        i64f("response_wire_bytes", true),
        s("client", true),
        s("user_agent", true),
        s("client_ip", true),
        i32f("client_port"),
        s("server_ip", true),
        i32f("server_port"),
        s("connection", true),
        s("source_file", false),
        i64f("entry", true),
        i64f("first_packet", true),
        i64f("seq", false),
        s("http_version", false),
        s("tls_version", true),
        s("tls_cipher", true),
        s("tls_alpn", true),
        s("tls_sni", true),
        s("request_content_type", true),
        s("response_content_type", true),
        Field::new("diagnostics", DataType::List(Arc::new(diagnostic_item())), false),
        s("request_body_hash", true),
        s("response_body_hash", true),
        Field::new("request_body_prefix", DataType::Binary, true),
        Field::new("response_body_prefix", DataType::Binary, true),
        i64f("stream_messages", true),
        i64f("stream_duration_us", true),
    ]))
}

fn diagnostic_item() -> Field {
    Field::new("item", DataType::Utf8, true)
}

/// Rows as one record batch of [`schema`].
///
/// # Errors
/// Only if the columns disagree with the schema (a bug).
pub fn record_batch(rows: &[FlowRow]) -> Result<RecordBatch, ArrowError> {
    fn text<'a>(rows: &'a [FlowRow], f: impl Fn(&'a FlowRow) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    }
    fn int64(rows: &[FlowRow], f: impl Fn(&FlowRow) -> Option<i64>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int64Array>())
    }
    fn int32(rows: &[FlowRow], f: impl Fn(&FlowRow) -> Option<i32>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int32Array>())
    }
    fn time(rows: &[FlowRow], f: impl Fn(&FlowRow) -> Option<i64>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
    }
    fn bytes<'a>(rows: &'a [FlowRow], f: impl Fn(&'a FlowRow) -> Option<&'a [u8]>) -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<BinaryArray>())
    }
    let mut diagnostics = ListBuilder::new(StringBuilder::new()).with_field(diagnostic_item());
    for r in rows {
        for d in &r.diagnostics {
            diagnostics.values().append_value(d);
        }
        diagnostics.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        time(rows, |r| r.start_us),
        time(rows, |r| r.end_us),
        int64(rows, |r| r.ttfb_us),
        int64(rows, |r| r.total_us),
        text(rows, |r| Some(&r.method)),
        text(rows, |r| r.scheme.as_deref()),
        text(rows, |r| Some(&r.host)),
        text(rows, |r| Some(&r.path)),
        text(rows, |r| r.query.as_deref()),
        text(rows, |r| Some(&r.endpoint)),
        Arc::new(rows.iter().map(|r| r.documented).collect::<BooleanArray>()),
        int32(rows, |r| r.status),
        text(rows, |r| Some(r.state)),
        text(rows, |r| r.state_reason.as_deref()),
        Arc::new(rows.iter().map(|r| Some(r.failed)).collect::<BooleanArray>()),
        int64(rows, |r| Some(r.request_bytes)),
        int64(rows, |r| Some(r.request_wire_bytes)),
        int64(rows, |r| r.response_bytes),
        int64(rows, |r| r.response_wire_bytes),
        text(rows, |r| r.client.as_deref()),
        text(rows, |r| r.user_agent.as_deref()),
        text(rows, |r| r.client_ip.as_deref()),
        int32(rows, |r| r.client_port),
        text(rows, |r| r.server_ip.as_deref()),
        int32(rows, |r| r.server_port),
        text(rows, |r| r.connection.as_deref()),
        text(rows, |r| Some(&r.source_file)),
        int64(rows, |r| r.entry),
        int64(rows, |r| r.first_packet),
        int64(rows, |r| Some(r.seq)),
        text(rows, |r| Some(&r.http_version)),
        text(rows, |r| r.tls_version.as_deref()),
        text(rows, |r| r.tls_cipher.as_deref()),
        text(rows, |r| r.tls_alpn.as_deref()),
        text(rows, |r| r.tls_sni.as_deref()),
        text(rows, |r| r.request_content_type.as_deref()),
        text(rows, |r| r.response_content_type.as_deref()),
        Arc::new(diagnostics.finish()),
        text(rows, |r| r.request_body_hash.as_deref()),
        text(rows, |r| r.response_body_hash.as_deref()),
        bytes(rows, |r| r.request_body_prefix.as_deref()),
        bytes(rows, |r| r.response_body_prefix.as_deref()),
        int64(rows, |r| r.stream_messages),
        int64(rows, |r| r.stream_duration_us),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// Where the rows go.
#[derive(Debug, Clone)]
pub enum Target {
    /// One file.
    File(PathBuf),
    /// Part files named `<name>.parquet` (then `<name>-1.parquet`, … when a partition's
    /// part had to be finished early) in `dir`, or in its partition folders.
    Parts {
        /// The dataset folder.
        dir: PathBuf,
        /// The part name (see [`part_name`]).
        name: String,
    },
}

/// One open output file.
struct Part {
    path: PathBuf,
    writer: ArrowWriter<OutputFile>,
    rows: Vec<FlowRow>,
    last_used: u64,
}

impl Part {
    fn encode_rows(&mut self) -> Result<(), ParquetError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch = record_batch(&self.rows)?;
        self.rows.clear();
        self.writer.write(&batch).map_err(|source| ParquetError::Encode { path: self.path.clone(), source })
    }

    fn finish(mut self) -> Result<PathBuf, ParquetError> {
        self.encode_rows()?;
        let path = self.path;
        let out = self.writer.into_inner().map_err(|source| ParquetError::Encode { path: path.clone(), source })?;
        out.commit()?;
        Ok(path)
    }
}

/// Writes rows to one file or to part files, one per partition, in row groups of
/// [`ROW_GROUP_ROWS`]; at most [`MAX_OPEN_PARTS`] files are open at once.
pub struct PartsWriter {
    target: Target,
    partition: PartitionBy,
    inputs: Vec<PathBuf>,
    metadata: Vec<KeyValue>,
    open: HashMap<Option<String>, Part>,
    /// Files started so far per partition (names the next one).
    started: HashMap<Option<String>, u32>,
    clock: u64,
    written: Vec<PathBuf>,
    rows: u64,
}

/// What a [`PartsWriter`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The files, in the order they were completed.
    pub files: Vec<PathBuf>,
    /// Rows in all of them.
    pub rows: u64,
}

impl PartsWriter {
    /// A writer to `target`; `inputs` are never overwritten; `sources` (the input names)
    /// are noted in each file's metadata.
    ///
    /// # Errors
    /// Partitioning into a single file.
    pub fn new(
        target: Target,
        partition: PartitionBy,
        inputs: &[PathBuf],
        sources: &[String],
    ) -> Result<Self, ParquetError> {
        if matches!(target, Target::File(_)) && partition != PartitionBy::None {
            return Err(ParquetError::PartitionNeedsFolder);
        }
        let metadata = vec![
            KeyValue::new(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new("apiscope.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            KeyValue::new(
                "apiscope.sources".to_string(),
                serde_json::to_string(sources).unwrap_or_else(|_| "[]".to_string()),
            ),
        ];
        Ok(Self {
            target,
            partition,
            inputs: inputs.to_vec(),
            metadata,
            open: HashMap::new(),
            started: HashMap::new(),
            clock: 0,
            written: Vec::new(),
            rows: 0,
        })
    }

    /// Add one row.
    ///
    /// # Errors
    /// Creating or writing a file failed.
    pub fn write(&mut self, row: FlowRow) -> Result<(), ParquetError> {
        let key = row.partition(self.partition);
        self.clock += 1;
        if !self.open.contains_key(&key) {
            self.start(key.clone())?;
        }
        let Some(part) = self.open.get_mut(&key) else { return Ok(()) };
        part.last_used = self.clock;
        part.rows.push(row);
        self.rows += 1;
        if part.rows.len() >= BATCH_ROWS {
            part.encode_rows()?;
            self.bound_memory()?;
        }
        Ok(())
    }

    /// Open the file of partition `key` (finishing the least recently used one when too
    /// many are open).
    fn start(&mut self, key: Option<String>) -> Result<(), ParquetError> {
        if self.open.len() >= MAX_OPEN_PARTS {
            let oldest = self.open.iter().min_by_key(|(_, p)| p.last_used).map(|(k, _)| k.clone());
            if let Some(part) = oldest.and_then(|k| self.open.remove(&k)) {
                self.written.push(part.finish()?);
            }
        }
        let n = self.started.entry(key.clone()).or_insert(0);
        let path = match &self.target {
            Target::File(p) => p.clone(),
            Target::Parts { dir, name } => {
                let folder = key.as_ref().map_or_else(|| dir.clone(), |k| dir.join(k));
                std::fs::create_dir_all(&folder)
                    .map_err(|source| ParquetError::Folder { path: folder.clone(), source })?;
                let file = if *n == 0 { format!("{name}.parquet") } else { format!("{name}-{n}.parquet") };
                folder.join(file)
            }
        };
        *n += 1;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("apiscope {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(self.metadata.clone()))
            .build();
        let out = OutputFile::create(&path, &self.inputs)?;
        let writer = ArrowWriter::try_new(out, schema(), Some(props))
            .map_err(|source| ParquetError::Encode { path: path.clone(), source })?;
        self.open.insert(key, Part { path, writer, rows: Vec::new(), last_used: self.clock });
        Ok(())
    }

    /// Flush the biggest open row group early while all of them together hold more than
    /// [`MAX_BUFFERED_BYTES`].
    fn bound_memory(&mut self) -> Result<(), ParquetError> {
        while self.open.values().map(|p| p.writer.in_progress_size()).sum::<usize>() > MAX_BUFFERED_BYTES {
            let Some(p) = self.open.values_mut().max_by_key(|p| p.writer.in_progress_size()) else { break };
            p.writer.flush().map_err(|source| ParquetError::Encode { path: p.path.clone(), source })?;
        }
        Ok(())
    }

    /// Finish every file. With no row at all, an unpartitioned target still gets a file
    /// (the schema with no rows), so every input has its part.
    ///
    /// # Errors
    /// Writing or committing a file failed; files not yet committed are left out.
    pub fn finish(mut self) -> Result<Written, ParquetError> {
        if self.open.is_empty() && self.started.is_empty() && self.partition == PartitionBy::None {
            self.start(None)?;
        }
        let mut parts: Vec<Part> = self.open.drain().map(|(_, p)| p).collect();
        parts.sort_by(|a, b| a.path.cmp(&b.path));
        for p in parts {
            self.written.push(p.finish()?);
        }
        Ok(Written { files: self.written, rows: self.rows })
    }
}

/// The part name of an input: its file stem (letters, digits, `-`, `_`, `.` kept, at most
/// 64 characters) and 16 hex digits of a hash of the machine's name, the input's full
/// path, size and modification time, so parts written on many machines, or from inputs
/// with the same name in different folders, never collide; the same input on the same
/// machine gets the same name again (a rerun replaces its part).
#[must_use]
pub fn part_name(input: &Path) -> String {
    let stem: String = input
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    let stem = if stem.is_empty() || input.as_os_str() == "-" { "stdin".to_string() } else { stem };
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let full = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
    let meta = std::fs::metadata(input).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let identity = if input.as_os_str() == "-" {
        // Standard input has no identity: the time of the run stands in.
        format!("{machine}\0stdin\0{}", std::process::id())
    } else {
        format!("{machine}\0{}\0{}\0{modified}", full.display(), meta.map_or(0, |m| m.len()))
    };
    let stdin_salt = if input.as_os_str() == "-" {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    } else {
        0
    };
    let h = xxhash_rust::xxh3::xxh3_64(format!("{identity}\0{stdin_salt}").as_bytes());
    format!("{stem}-{h:016x}")
}

/// An ingest sink writing every exchange it is given as a row.
pub struct FlowsSink<'n> {
    names: StreamNames<'n, FlowRow>,
    named: Vec<(EndpointName, FlowRow)>,
    key: ClientKey,
    bodies: Bodies,
    writer: Option<PartsWriter>,
    error: Option<ParquetError>,
}

impl<'n> FlowsSink<'n> {
    /// Rows to `writer`, endpoints named from `spec` (or learnt as `stats` learns them),
    /// clients identified by `key`.
    #[must_use]
    pub fn new(writer: PartsWriter, spec: Option<&'n Spec>, key: ClientKey, bodies: Bodies) -> Self {
        let max = crate::analysis::Config::default().max_endpoints;
        let names = spec.map_or_else(|| StreamNames::learning(max), |s| StreamNames::with_spec(s, max));
        Self { names, named: Vec::new(), key, bodies, writer: Some(writer), error: None }
    }

    /// A new input starts (endpoint learning treats input boundaries as `stats` does).
    pub fn begin_input(&mut self) {
        self.names.begin_input(&mut self.named);
        self.drain();
    }

    fn drain(&mut self) {
        if self.error.is_some() {
            self.named.clear();
            return;
        }
        let Some(w) = self.writer.as_mut() else { return };
        for (name, mut row) in self.named.drain(..) {
            row.endpoint = name.name;
            row.documented = name.documented;
            if let Err(e) = w.write(row) {
                self.error = Some(e);
                break;
            }
        }
        self.named.clear();
    }

    /// Write what is held and finish every file.
    ///
    /// # Errors
    /// The first failure while writing.
    pub fn finish(mut self) -> Result<Written, ParquetError> {
        self.names.finish(&mut self.named);
        self.drain();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.take() {
            Some(w) => w.finish(),
            None => Ok(Written::default()),
        }
    }
}

impl Sink for FlowsSink<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        if self.error.is_some() {
            return;
        }
        let row = FlowRow::of(ex, &self.key, self.bodies);
        self.names.push(ex, row, &mut self.named);
        if !self.named.is_empty() {
            self.drain();
        }
    }

    fn diagnostic(&mut self, _d: &Diagnostic) {}

    fn should_stop(&self) -> bool {
        self.error.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use arrow_array::Array as _;
    use arrow_array::cast::AsArray as _;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn exchange(i: u64, host: &str, status: Option<u16>) -> Exchange {
        let start = 1_710_250_200_000_000_000 + i as i64 * 1_000_000_000;
        let b = Exchange::builder("GET", &format!("/v1/orders/{i}?x=1"))
            .host(host)
            .start(start)
            .end(start + 1_234_567)
            .header("User-Agent", "probe/1")
            .header("Authorization", "Bearer t0k3n");
        let mut ex = match status {
            Some(s) => b.status(s).state(State::Complete),
            None => b.state(State::NoResponse("capture ended".into())),
        }
        .build();
        ex.seq = i;
        ex
    }

    fn read_back(path: &Path) -> (Vec<RecordBatch>, HashMap<String, String>) {
        let f = std::fs::File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let kv: HashMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .filter_map(|k| Some((k.key.clone(), k.value.clone()?)))
            .collect();
        (builder.build().unwrap().map(Result::unwrap).collect(), kv)
    }

    #[test]
    fn rows_round_trip_through_the_parquet_reader_with_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.parquet");
        let w = PartsWriter::new(Target::File(path.clone()), PartitionBy::None, &[], &["a.pcap".into()]).unwrap();
        let mut sink = FlowsSink::new(w, None, ClientKey::Auto, Bodies::None);
        let n = 20_000u64;
        for i in 0..n {
            sink.exchange(&exchange(i, "api", if i % 10 == 0 { None } else { Some(200 + (i % 3) as u16) }));
        }
        let written = sink.finish().unwrap();
        assert_eq!(written, Written { files: vec![path.clone()], rows: n });
        let (batches, kv) = read_back(&path);
        assert_eq!(kv.get(SCHEMA_VERSION_KEY).map(String::as_str), Some(SCHEMA_VERSION));
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), n as usize);
        assert_eq!(batches[0].schema().fields(), schema().fields());
        let b = &batches[0];
        let col = |name: &str| b.column_by_name(name).unwrap().clone();
        // Identifier segments become {id} whatever the learner saw.
        assert_eq!(col("endpoint").as_string::<i32>().value(7), "GET /v1/orders/{id}");
        assert_eq!(col("path").as_string::<i32>().value(7), "/v1/orders/7");
        assert_eq!(col("query").as_string::<i32>().value(7), "x=1");
        // The builder sets request start and response end only: a total, no TTFB.
        assert_eq!(col("total_us").as_primitive::<arrow_array::types::Int64Type>().value(7), 1235);
        assert!(col("ttfb_us").is_null(7));
        assert_eq!(col("status").as_primitive::<arrow_array::types::Int32Type>().value(7), 201);
        assert!(col("status").is_null(10));
        assert_eq!(col("state").as_string::<i32>().value(10), "no response");
        assert!(col("failed").as_boolean().value(10));
        assert_eq!(col("user_agent").as_string::<i32>().value(3), "probe/1");
        assert!(col("client").as_string::<i32>().value(3).starts_with("bearer:"));
        let start = col("start_time");
        let t = start.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        assert_eq!(t.value(1), 1_710_250_201_000_000);
        assert_eq!(t.timezone(), Some("UTC"));
    }

    #[test]
    fn hour_and_host_partitions_write_one_part_per_value() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Parts { dir: dir.path().to_path_buf(), name: "cap-0123".into() };
        let mut w = PartsWriter::new(target, PartitionBy::Host, &[], &[]).unwrap();
        for i in 0..30u64 {
            let host = ["api.example.com", "a:8080", ""][(i % 3) as usize];
            let mut row = FlowRow::of(&exchange(i, host, Some(200)), &ClientKey::Auto, Bodies::None);
            row.endpoint = "GET /x".into();
            w.write(row).unwrap();
        }
        let written = w.finish().unwrap();
        let mut names: Vec<String> =
            written.files.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "vhost=__HIVE_DEFAULT_PARTITION__/cap-0123.parquet",
                "vhost=a%3A8080/cap-0123.parquet",
                "vhost=api.example.com/cap-0123.parquet"
            ]
        );
        let row = FlowRow { start_us: Some(1_710_250_200_000_000), ..FlowRow::default() };
        assert_eq!(row.partition(PartitionBy::Hour).as_deref(), Some("hour=2024-03-12T13"));
        assert_eq!(partition_value("../x"), "%2E.%2Fx");
    }

    #[test]
    fn partitioning_into_one_file_is_refused() {
        let err = PartsWriter::new(Target::File("x.parquet".into()), PartitionBy::Hour, &[], &[]).err().unwrap();
        assert!(matches!(err, ParquetError::PartitionNeedsFolder));
    }

    #[test]
    fn bodies_choice_parses_and_hashes_and_prefixes_bodies() {
        assert_eq!("prefix:16".parse::<Bodies>(), Ok(Bodies::Prefix(16)));
        assert!("prefix:x".parse::<Bodies>().is_err());
        let mut ex = exchange(1, "api", Some(200));
        ex.request.body = crate::model::Body::from_bytes(b"hello world".to_vec());
        ex.request.body.digest = Some(0xabc);
        let r = FlowRow::of(&ex, &ClientKey::Auto, Bodies::Prefix(5));
        assert_eq!(r.request_body_prefix.as_deref(), Some(&b"hello"[..]));
        assert_eq!(r.request_body_hash, None);
        let r = FlowRow::of(&ex, &ClientKey::Auto, Bodies::Hash);
        assert_eq!(r.request_body_hash.as_deref(), Some("0000000000000abc"));
        assert_eq!(r.request_body_prefix, None);
        assert_eq!(r.request_bytes, 11);
    }

    #[test]
    fn part_names_differ_by_path_and_keep_a_safe_stem() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("cap ture.pcap.gz"), b"x").unwrap();
        std::fs::write(b.join("cap ture.pcap.gz"), b"x").unwrap();
        let (na, nb) = (part_name(&a.join("cap ture.pcap.gz")), part_name(&b.join("cap ture.pcap.gz")));
        assert!(na.starts_with("cap_ture-") && na.len() == "cap_ture-".len() + 16, "{na}");
        assert_ne!(na, nb);
        assert_eq!(na, part_name(&a.join("cap ture.pcap.gz")));
    }
}
