//! Turning input files into [`Exchange`]s, and the [`Sink`] trait readers push into.
//!
//! - [`open`] opens an input (path, stdin, FIFO, bytes; mapping, gzip/zstd) and hands it to
//!   the reader of the format [`detect`] classifies from its first bytes; JSON session
//!   readers get a whole [`document::Document`].
//! - `session` is the one driver of JSON-array session files: the HAR ([`har`]) and Charles
//!   ([`charles`]) readers are converters of one element into an exchange that plug into it.
//! - `json` holds the JSON scanning pieces (lenient value types, the element walks, the
//!   structural scanner, unescaping); `fields` the field conversions the session readers
//!   share (timestamps, URLs, addresses, base64).
//! - [`mitm`] reads mitmproxy tnetstring dumps; [`capture`] adapts packet captures
//!   (`capture` + `http`) to exchanges; [`locate`] re-reads one exchange from its source.
//! - [`relay`] reads on a thread of its own and hands what it read to a sink on the
//!   calling thread, so a sink with work of its own (`stats`' analyzer) runs beside the
//!   reader instead of after each exchange.
//! - [`mapped`] maps files read-only with a guard that turns a file cut short while it is
//!   read into a diagnostic instead of a bus error.
//!
//! Readers stream: each exchange is handed to the sink as soon as it is complete, and
//! nothing upstream waits for the whole file. Problems in the input become [`Diagnostic`]s
//! (on the exchange or on the file); an error is returned only when nothing at all could
//! be read.

pub mod capture;
pub mod charles;
pub mod chlz;
pub mod detect;
pub mod document;
pub(crate) mod fields;
pub mod har;
pub(crate) mod json;
pub mod locate;
pub mod mapped;
pub mod mitm;
pub mod open;
pub mod relay;
pub(crate) mod session;

pub use capture::shard::{set_threads, threads, with_share};
pub use open::{display_path, read_bytes, read_capture_stream, read_path};

use std::path::PathBuf;
use std::sync::Arc;

use crate::model::{Diagnostic, Exchange};

/// Receives what a reader produces, as it produces it.
pub trait Sink {
    /// One rebuilt exchange.
    fn exchange(&mut self, ex: &Exchange);
    /// A problem with the file as a whole (not tied to one exchange).
    fn diagnostic(&mut self, _d: &Diagnostic) {}
    /// Progress: bytes of the input consumed so far, and the total when known.
    fn progress(&mut self, _bytes_read: u64, _total: Option<u64>) {}
    /// Return `true` to ask the reader to stop early (e.g. the user quit while loading).
    fn should_stop(&self) -> bool {
        false
    }
    /// Return `false` when this sink never reads header lines (`Request::headers`,
    /// `Response::headers`): readers that build them per message (the capture adapter) may
    /// then leave them empty. Wrappers forward their inner sink's answer.
    fn needs_headers(&self) -> bool {
        true
    }
    /// Return `false` when this sink needs no bytes of the body of the response (status
    /// `status`) to `ex` (only its request is filled in yet): readers that ask (the capture
    /// adapter, HTTP/1.x) then keep only its size and digest, as with a body cap of 0.
    /// Wrappers forward their inner sink's answer.
    fn wants_response_body(&self, _ex: &Exchange, _status: u16) -> bool {
        true
    }
    /// Per-exchange work this sink wants done on the reader's worker threads (readers that
    /// convert in parallel call it there, in no particular order). `None`: no such work.
    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        None
    }
    /// One rebuilt exchange with what this sink's [`Prepare`] made of it (exchanges still
    /// arrive in input order). Readers that do not prepare call [`Sink::exchange`] instead.
    fn prepared(&mut self, ex: &Exchange, _prepared: Prepared) {
        self.exchange(ex);
    }
    /// One rebuilt exchange handed over whole, with what the sink's [`Prepare`] made of it
    /// when the reader ran it: readers that own the exchange and would drop it next call
    /// this, so a sink that keeps or forwards exchanges ([`relay`]) takes it without a copy.
    /// The default calls [`Sink::prepared`] or [`Sink::exchange`].
    fn take(&mut self, ex: Exchange, prepared: Option<Prepared>) {
        match prepared {
            Some(p) => self.prepared(&ex, p),
            None => self.exchange(&ex),
        }
    }
}

/// What a [`Prepare`] made of one exchange, handed back to its sink with the exchange.
pub type Prepared = Box<dyn std::any::Any + Send>;

/// Work on single exchanges that needs no sink state, so readers may run it on several
/// threads at once (e.g. checking an exchange against a spec) before the sink sees it.
pub trait Prepare: Send + Sync {
    /// Prepare one exchange.
    fn prepare(&self, ex: &Exchange) -> Prepared;
    /// True when `prepare` reads only the messages' content and its answer is all the sink
    /// needs of bodies and response headers (a digest, a search hit, an index record): the
    /// default of [`Prepare::content_only`], [`Prepare::drops_bodies`] and
    /// [`Prepare::drops_response_headers`] alike.
    fn content_digest(&self) -> bool {
        false
    }
    /// True when the sink needs no body content once an exchange is prepared: the reader
    /// may then free the bodies on its worker thread (the sink sees the exchange without).
    fn drops_bodies(&self) -> bool {
        self.content_digest()
    }
    /// True when the sink reads no response header lines once an exchange is prepared: the
    /// reader may then free them with the bodies (the sink still sees the status line).
    fn drops_response_headers(&self) -> bool {
        self.content_digest()
    }
    /// True when `prepare` reads only what the messages carried (start lines, headers,
    /// bodies), not capture times, packet numbers or `seq`. Readers may then prepare an
    /// exchange as soon as its messages have ended, before those are final: the capture
    /// adapter prepares only such preparers, when an exchange is complete and starts waiting
    /// for late retransmitted copies (what [`Prepare::drops_bodies`] and
    /// [`Prepare::drops_response_headers`] allow is freed then); with other preparers it
    /// hands exchanges to [`Sink::exchange`].
    fn content_only(&self) -> bool {
        self.content_digest()
    }
}

/// A sink that keeps every exchange and diagnostic in memory (tests, small inputs).
#[derive(Debug, Default)]
pub struct Collect {
    /// Exchanges in the order the reader produced them.
    pub exchanges: Vec<Exchange>,
    /// File-level diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl Sink for Collect {
    fn exchange(&mut self, ex: &Exchange) {
        self.exchanges.push(ex.clone());
    }
    fn take(&mut self, ex: Exchange, _prepared: Option<Prepared>) {
        self.exchanges.push(ex);
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostics.push(d.clone());
    }
}

/// Knobs shared by all readers.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Largest decoded body kept per message, in bytes; longer bodies are cut and marked
    /// `truncated` (the full size is still counted: a capture's encoded bodies are decoded
    /// whole up to 16 MiB of encoded bytes, keeping only this much of the result).
    pub body_cap: usize,
    /// Keep bodies at all (`false` for count-only reports such as `flows --summary`).
    pub keep_bodies: bool,
    /// Say so in a diagnostic (`http.body_cap`) when a capture's body is cut at the cap.
    /// Off when the cap is the consumer's own choice of how much it reads (`stats` keeps no
    /// body bytes, only their digest): the cut body is still marked `truncated`.
    pub note_cap: bool,
    /// Fill [`crate::model::Body::digest`] from the whole body, however much of it the cap
    /// keeps (a capture hashes the bytes as they stream past instead of keeping them).
    pub digest_bodies: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { body_cap: 16 * 1024 * 1024, keep_bodies: true, note_cap: true, digest_bodies: false }
    }
}

/// What a whole read produced, besides the exchanges.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    /// The detected format.
    pub format: Option<detect::InputFormat>,
    /// Exchanges handed to the sink.
    pub exchanges: u64,
    /// Input bytes consumed.
    pub bytes: u64,
    /// Connections seen (captures only).
    pub connections: u64,
    /// Named counters (gaps, skipped packets, upgraded connections, …) for `--summary`.
    pub counters: Vec<(String, u64)>,
}

/// Why an input could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{0}: is a directory, not a capture or session file")]
    Directory(PathBuf),
    /// The file is empty.
    #[error("{0}: the file is empty")]
    Empty(PathBuf),
    /// The content is a known format apiscope cannot read; `help` says how to get a readable one.
    #[error("{path}: {what}. {help}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the file is.
        what: String,
        /// How to get a file apiscope reads.
        help: String,
    },
    /// The content is not any format apiscope knows.
    #[error(
        "{path}: not a recognised capture or session file ({why}); apiscope reads pcap, pcapng, HAR, Charles .chlsj and mitmproxy flow files"
    )]
    Unrecognised {
        /// The file.
        path: PathBuf,
        /// What was seen instead.
        why: String,
    },
    /// The format was recognised but the content is damaged before anything readable.
    #[error("{path}: {place}: {why}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Where (byte offset, entry index, packet number).
        place: String,
        /// Why it could not be read.
        why: String,
    },
}
