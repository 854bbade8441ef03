//! HTTP/1.x message framing on one direction of a reassembled byte stream.
//!
//! A [`Parser`] is fed the bytes of one direction in order, as they arrive, and yields
//! [`Event`]s: a parsed [`Head`], de-chunked body slices borrowed from the input (never
//! copied), trailers, the end of a message, skipped bytes while resynchronising, or the
//! verdict that the stream is not HTTP/1.x. Heads are parsed with `httparse` in place when a
//! head sits whole in one chunk and copied into a small buffer only when it spans chunks.
//!
//! Body framing depends on the other direction (a response to `HEAD` has no body), so after
//! a head the parser waits until the caller decides with [`Parser::begin_body`] (helpers:
//! [`request_framing`], [`response_framing`]). Gaps in the stream are announced with
//! [`Parser::gap`]: inside a body of known length the message goes on with a hole, anywhere
//! else the message in progress is cut and the parser looks for the next plausible message
//! start (a request line or a status line at the start of a line).

use std::borrow::Cow;

use memchr::memmem;

use crate::model::Header;

/// Longest message head accepted (request/status line plus header lines).
pub const MAX_HEAD: usize = 256 * 1024;
/// Longest chunk-size line accepted.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Longest trailer section accepted.
const MAX_TRAILERS: usize = 64 * 1024;
/// Header slots tried first; on `TooManyHeaders` the parse is retried with [`MANY_HEADERS`].
const FEW_HEADERS: usize = 64;
/// Header slots of the retry.
const MANY_HEADERS: usize = 1024;
/// Bytes a stream that started mid-message may skip before it is declared not HTTP.
const MIDSTREAM_BUDGET: u64 = 8 << 20;

/// Which kind of message a direction carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Client to server: requests.
    Request,
    /// Server to client: responses.
    Response,
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD target HTTP/1.x`
    Request {
        /// Method as sent (open set).
        method: String,
        /// Request target as sent.
        target: String,
        /// Minor version (`0` or `1`).
        minor: u8,
    },
    /// `HTTP/1.x status reason`
    Response {
        /// Status code (open set).
        status: u16,
        /// Reason phrase as sent.
        reason: String,
        /// Minor version (`0` or `1`).
        minor: u8,
    },
}

/// A parsed message head plus what framing and pairing need from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Request line or status line.
    pub start: StartLine,
    /// Header lines in wire order (obs-folded values unfolded).
    pub headers: Vec<Header>,
    /// Bytes of the head on the wire, including the blank line.
    pub len: usize,
    /// `Content-Length`, when present and valid.
    pub content_length: Option<u64>,
    /// A `Content-Length` was present but unusable (not a number, conflicting values).
    pub bad_content_length: bool,
    /// The last transfer coding is `chunked`.
    pub chunked: bool,
    /// A `Transfer-Encoding` header was present.
    pub has_transfer_encoding: bool,
    /// Transfer codings other than `chunked`, in the order applied (rare; decoded like content codings).
    pub transfer_codings: Vec<String>,
    /// `Connection: close`.
    pub close: bool,
    /// An `Upgrade` header (a `101` answer switches protocols).
    pub upgrade: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// `Content-Encoding` as sent, when present.
    pub content_encoding: Option<String>,
    /// Header continuation lines (obs-fold) were unfolded.
    pub folded: bool,
    /// The request line was not valid HTTP/1.x but was read leniently (HTTP/0.9 form, no
    /// target, spaces in the target, a malformed version): what was wrong with it.
    pub lenient: Option<String>,
}

impl Head {
    /// The request method, for request heads.
    #[must_use]
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for response heads.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    #[must_use]
    pub fn version(&self) -> &'static str {
        let minor = match &self.start {
            StartLine::Request { minor, .. } | StartLine::Response { minor, .. } => *minor,
        };
        if minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" }
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding (with optional trailers).
    Chunked,
    /// Until the connection closes (responses only).
    Close,
}

/// Body framing of a request (requests are never close-delimited).
#[must_use]
pub fn request_framing(h: &Head) -> Framing {
    if h.chunked {
        Framing::Chunked
    } else {
        match h.content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

/// Body framing of a response, knowing the method of the request it answers (`None` when
/// the request was not seen).
#[must_use]
pub fn response_framing(h: &Head, request_method: Option<&str>) -> Framing {
    let status = h.status().unwrap_or(0);
    let method = request_method.unwrap_or("");
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Framing::None;
    }
    if method.eq_ignore_ascii_case("HEAD") {
        return Framing::None;
    }
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
        return Framing::None;
    }
    if h.chunked {
        return Framing::Chunked;
    }
    if h.has_transfer_encoding {
        return Framing::Close;
    }
    match h.content_length {
        Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    }
}

/// What a non-HTTP stream was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// A TLS record (handshake) at the start.
    Tls,
    /// The HTTP/2 connection preface (h2c with prior knowledge).
    H2Preface,
    /// Anything else.
    Other,
}

/// What the parser found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// All input consumed; feed more.
    NeedMore,
    /// A complete head. The parser waits for [`Parser::begin_body`] before going on.
    Head(Box<Head>),
    /// De-chunked body bytes, borrowed from the input.
    Body(&'a [u8]),
    /// Trailer fields after a chunked body (`End` follows).
    Trailers(Vec<Header>),
    /// The message is complete.
    End,
    /// Bytes skipped while looking for the next message start.
    Skipped(u64),
    /// The message in progress (or the bytes at a message start) cannot be HTTP/1.x; the
    /// parser now looks for the next message start.
    Malformed(String),
    /// The stream does not carry HTTP/1.x; everything from here on is counted, not parsed.
    NotHttp(Foreign),
}

/// What a gap did to the message in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapEffect {
    /// No message was in progress; whole messages may have been lost.
    Between,
    /// The gap fell inside a body whose length is known: the message goes on with a hole.
    Hole,
    /// A partial head was lost.
    CutHead,
    /// The body in progress was cut: its end cannot be found.
    CutBody,
}

/// What the end of the stream did to the message in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndEffect {
    /// Nothing was in progress.
    Clean,
    /// A close-delimited body ended normally.
    BodyEnded,
    /// A partial head was left.
    CutHead,
    /// A body of known length (or chunked) was cut short.
    CutBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages, or inside a head held in `buf`.
    Head,
    /// A head was returned; waiting for `begin_body`.
    AwaitFraming,
    Length(u64),
    Chunk(ChunkState),
    Close,
    /// A body was cut (gap); emit `End` next, then resynchronise.
    EndNow,
    Resync,
    Opaque,
}

/// The framing state machine of one direction.
#[derive(Debug)]
pub struct Parser {
    side: Side,
    state: State,
    /// Partial head, partial chunk-size line or trailers spanning chunks.
    buf: Vec<u8>,
    /// Body bytes on the wire of the current message (chunk framing included, holes counted).
    wire: u64,
    /// The current body has a hole.
    hole: bool,
    messages: u64,
    skipped: u64,
    opaque: u64,
    /// Skip budget while searching for the first message of a stream caught mid-way.
    budget: Option<u64>,
    /// Build [`Head::headers`] (owned name/value strings); when off, only the fields framing
    /// needs are read from the header lines.
    keep_headers: bool,
}

impl Parser {
    /// A parser at the start of a stream.
    #[must_use]
    pub fn new(side: Side) -> Self {
        Self {
            side,
            state: State::Head,
            buf: Vec::new(),
            wire: 0,
            hole: false,
            messages: 0,
            skipped: 0,
            opaque: 0,
            budget: None,
            keep_headers: true,
        }
    }

    /// Whether heads carry their header lines ([`Head::headers`]); on by default. Turning it
    /// off saves two string allocations per header line when no consumer reads headers:
    /// framing, `Content-Encoding`, `Upgrade`, `Expect` and the diagnostics are unaffected.
    pub fn set_keep_headers(&mut self, keep: bool) {
        self.keep_headers = keep;
    }

    /// The side this parser reads.
    #[must_use]
    pub fn side(&self) -> Side {
        self.side
    }

    /// The stream may start mid-message (no SYN seen): skip to the first message start
    /// instead of declaring the stream non-HTTP.
    pub fn start_midstream(&mut self) {
        if self.messages == 0 && self.state == State::Head && self.buf.is_empty() {
            self.budget = Some(MIDSTREAM_BUDGET);
        }
    }

    /// Stop parsing: everything from here on is counted as opaque bytes (upgrade, tunnel).
    pub fn set_opaque(&mut self) {
        self.state = State::Opaque;
        self.buf = Vec::new();
    }

    /// True once the parser only counts bytes.
    #[must_use]
    pub fn is_opaque(&self) -> bool {
        self.state == State::Opaque
    }

    /// Heads parsed so far.
    #[must_use]
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Bytes skipped while resynchronising.
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Bytes counted but not parsed (after an upgrade, in a tunnel, or a non-HTTP stream).
    #[must_use]
    pub fn opaque_bytes(&self) -> u64 {
        self.opaque
    }

    /// Body bytes on the wire of the message in progress (or just ended).
    #[must_use]
    pub fn body_wire(&self) -> u64 {
        self.wire
    }

    /// The current (or just ended) body has a hole.
    #[must_use]
    pub fn body_has_hole(&self) -> bool {
        self.hole
    }

    /// True while a message is in progress (part of a head buffered, or a body under way).
    #[must_use]
    pub fn in_message(&self) -> bool {
        match self.state {
            State::Head => !self.buf.is_empty(),
            State::AwaitFraming | State::Length(_) | State::Chunk(_) | State::Close | State::EndNow => true,
            State::Resync | State::Opaque => false,
        }
    }

    /// Decide the body framing of the head just returned.
    pub fn begin_body(&mut self, framing: Framing) {
        self.wire = 0;
        self.hole = false;
        self.state = match framing {
            Framing::None => State::Length(0),
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunk(ChunkState::Size),
            Framing::Close => State::Close,
        };
    }

    /// `len` bytes are missing here (`0`: unknown amount).
    pub fn gap(&mut self, len: u64) -> GapEffect {
        match self.state {
            State::Length(rem) if len > 0 && len <= rem => {
                self.state = State::Length(rem - len);
                self.wire += len;
                self.hole = true;
                GapEffect::Hole
            }
            State::Chunk(ChunkState::Data(rem)) if len > 0 && len < rem => {
                self.state = State::Chunk(ChunkState::Data(rem - len));
                self.wire += len;
                self.hole = true;
                GapEffect::Hole
            }
            State::Close => {
                self.wire += len;
                self.hole = true;
                GapEffect::Hole
            }
            State::Opaque => {
                self.opaque += len;
                GapEffect::Between
            }
            State::Head if self.buf.is_empty() => {
                self.state = State::Resync;
                GapEffect::Between
            }
            State::Resync => GapEffect::Between,
            State::Head => {
                self.buf.clear();
                self.state = State::Resync;
                GapEffect::CutHead
            }
            State::AwaitFraming | State::Length(_) | State::Chunk(_) | State::EndNow => {
                self.buf.clear();
                self.wire += len;
                self.hole = true;
                self.state = State::EndNow;
                GapEffect::CutBody
            }
        }
    }

    /// The stream ended. A close-delimited body ends here; anything else in progress is cut.
    pub fn finish(&mut self) -> EndEffect {
        let effect = match self.state {
            State::Close => EndEffect::BodyEnded,
            State::Head if !self.buf.is_empty() => EndEffect::CutHead,
            State::Length(0) => EndEffect::BodyEnded,
            State::AwaitFraming | State::Length(_) | State::Chunk(_) | State::EndNow => EndEffect::CutBody,
            State::Head | State::Resync | State::Opaque => EndEffect::Clean,
        };
        if self.state != State::Opaque {
            self.state = State::Resync;
        }
        self.buf = Vec::new();
        effect
    }

    /// Parse the next thing from `input`, advancing it past what was consumed.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Event<'a> {
        match self.state {
            State::Head => self.head(input),
            State::AwaitFraming => Event::NeedMore,
            State::Length(0) => {
                self.state = State::Head;
                Event::End
            }
            State::EndNow => {
                self.state = State::Resync;
                Event::End
            }
            State::Length(rem) => {
                if input.is_empty() {
                    return Event::NeedMore;
                }
                let n = clamp(rem, input.len());
                let (body, rest) = input.split_at(n);
                *input = rest;
                self.wire += n as u64;
                self.state = State::Length(rem - n as u64);
                Event::Body(body)
            }
            State::Close => {
                if input.is_empty() {
                    return Event::NeedMore;
                }
                let body = std::mem::take(input);
                self.wire += body.len() as u64;
                Event::Body(body)
            }
            State::Chunk(cs) => self.chunk(cs, input),
            State::Resync => self.resync(input),
            State::Opaque => {
                self.opaque += input.len() as u64;
                *input = &[];
                Event::NeedMore
            }
        }
    }

    fn head<'a>(&mut self, input: &mut &'a [u8]) -> Event<'a> {
        if self.buf.is_empty() {
            // Robustness (RFC 9112 §2.2): empty lines before a message are ignored.
            let skip = input.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            if skip > 0 {
                *input = &input[skip..];
            }
            if input.is_empty() {
                return Event::NeedMore;
            }
            if self.messages == 0 && self.skipped == 0 {
                if let Some(kind) = foreign(input) {
                    self.state = State::Opaque;
                    return Event::NotHttp(kind);
                }
            }
            match parse_head(self.side, input, self.keep_headers) {
                Parsed::Complete(head) => {
                    *input = &input[head.len.min(input.len())..];
                    return self.got_head(head);
                }
                Parsed::Partial => {
                    if input.len() > MAX_HEAD {
                        return self.bad_start(input, "message head longer than 256 KiB".into());
                    }
                    self.buf.extend_from_slice(input);
                    *input = &[];
                    return Event::NeedMore;
                }
                Parsed::Invalid(why) => return self.bad_start(input, why),
            }
        }
        if input.is_empty() {
            return Event::NeedMore;
        }
        // Continue a head held in `buf`: append only up to the end of the head when it is
        // in this input (the rest stays in `input`).
        let old = self.buf.len();
        let take = head_end_within(&self.buf, input).unwrap_or(input.len());
        if old + take > MAX_HEAD + 4 {
            self.buf.clear();
            return self.malformed("message head longer than 256 KiB".into());
        }
        self.buf.extend_from_slice(&input[..take]);
        match parse_head(self.side, &self.buf, self.keep_headers) {
            Parsed::Complete(head) => {
                let used = head.len.saturating_sub(old).min(input.len());
                *input = &input[used..];
                self.buf.clear();
                self.got_head(head)
            }
            Parsed::Partial => {
                *input = &input[take..];
                Event::NeedMore
            }
            Parsed::Invalid(why) => {
                let foreign_kind = foreign(&self.buf).unwrap_or(Foreign::Other);
                if self.messages == 0
                    && self.skipped == 0
                    && self.budget.is_none()
                    && !looks_like_start(self.side, &self.buf)
                {
                    self.state = State::Opaque;
                    self.opaque += old as u64;
                    self.buf.clear();
                    return Event::NotHttp(foreign_kind);
                }
                self.buf.clear();
                self.skipped += old as u64;
                self.malformed(why)
            }
        }
    }

    fn got_head<'a>(&mut self, head: Head) -> Event<'a> {
        self.messages += 1;
        self.budget = None;
        self.state = State::AwaitFraming;
        self.wire = 0;
        self.hole = false;
        Event::Head(Box::new(head))
    }

    /// Bytes at a message start that are not a valid head.
    fn bad_start<'a>(&mut self, input: &mut &'a [u8], why: String) -> Event<'a> {
        if self.messages == 0 && self.skipped == 0 && self.budget.is_none() && !looks_like_start(self.side, input) {
            self.state = State::Opaque;
            return Event::NotHttp(foreign(input).unwrap_or(Foreign::Other));
        }
        // Step over the first byte so the search does not find this same spot again.
        self.skipped += 1;
        *input = &input[1..];
        if self.messages == 0 && self.budget.is_some() {
            // A stream caught mid-way: skipping to the first message start is expected.
            self.state = State::Resync;
            return Event::Skipped(1);
        }
        self.malformed(why)
    }

    fn malformed<'a>(&mut self, why: String) -> Event<'a> {
        self.state = State::Resync;
        Event::Malformed(why)
    }

    fn resync<'a>(&mut self, input: &mut &'a [u8]) -> Event<'a> {
        if input.is_empty() {
            return Event::NeedMore;
        }
        // The input's first byte is taken as a possible line start: segments usually begin
        // with a message, and the start line is validated strictly.
        match find_message_start(self.side, input, true) {
            Some(0) => {
                self.state = State::Head;
                self.next(input)
            }
            Some(at) => {
                self.skip(input, at);
                self.state = State::Head;
                Event::Skipped(at as u64)
            }
            None => {
                let n = input.len();
                self.skip(input, n);
                if let Some(b) = self.budget {
                    if self.skipped > b {
                        self.state = State::Opaque;
                        self.budget = None;
                        return Event::NotHttp(Foreign::Other);
                    }
                }
                Event::Skipped(n as u64)
            }
        }
    }

    fn skip(&mut self, input: &mut &[u8], n: usize) {
        self.skipped += n as u64;
        *input = &input[n..];
    }

    fn chunk<'a>(&mut self, cs: ChunkState, input: &mut &'a [u8]) -> Event<'a> {
        if input.is_empty() {
            return Event::NeedMore;
        }
        match cs {
            ChunkState::Data(rem) => {
                let n = clamp(rem, input.len());
                let (body, rest) = input.split_at(n);
                *input = rest;
                self.wire += n as u64;
                let left = rem - n as u64;
                self.state = State::Chunk(if left == 0 { ChunkState::DataEnd } else { ChunkState::Data(left) });
                Event::Body(body)
            }
            ChunkState::DataEnd => {
                // CRLF after the data; a bare LF (or nothing) is tolerated.
                let mut n = 0;
                if input.first() == Some(&b'\r') {
                    n = 1;
                }
                if n == 1 && input.len() == 1 {
                    // Wait for the LF in the next chunk, but the CR is consumed.
                    self.wire += 1;
                    *input = &input[1..];
                    return Event::NeedMore;
                }
                if input.get(n) == Some(&b'\n') {
                    n += 1;
                }
                self.wire += n as u64;
                *input = &input[n..];
                self.state = State::Chunk(ChunkState::Size);
                self.chunk(ChunkState::Size, input)
            }
            ChunkState::Size => {
                let Some(line) = self.line(input, MAX_CHUNK_LINE) else {
                    return if self.buf.len() > MAX_CHUNK_LINE {
                        self.buf.clear();
                        self.cut_body("chunk-size line too long")
                    } else {
                        Event::NeedMore
                    };
                };
                let size = parse_chunk_size(&line);
                self.buf.clear();
                match size {
                    Some(0) => {
                        self.state = State::Chunk(ChunkState::Trailers);
                        self.chunk(ChunkState::Trailers, input)
                    }
                    Some(n) => {
                        self.state = State::Chunk(ChunkState::Data(n));
                        self.chunk(ChunkState::Data(n), input)
                    }
                    None => self.cut_body("invalid chunk size line"),
                }
            }
            ChunkState::Trailers => {
                // Lines until an empty one; the trailer section is kept in `buf`.
                loop {
                    let start = self.buf.len();
                    let Some(line) = self.trailer_line(input) else {
                        return if self.buf.len() > MAX_TRAILERS {
                            self.buf.clear();
                            self.cut_body("trailer section too long")
                        } else {
                            Event::NeedMore
                        };
                    };
                    if line {
                        let trailers = parse_trailers(&self.buf[..start]);
                        self.buf.clear();
                        self.state = State::Length(0);
                        return if trailers.is_empty() { Event::End } else { Event::Trailers(trailers) };
                    }
                }
            }
        }
    }

    /// The body cannot be delimited any more: end the message and look for the next one.
    fn cut_body<'a>(&mut self, why: &str) -> Event<'a> {
        self.hole = true;
        self.state = State::Resync;
        Event::Malformed(why.to_string())
    }

    /// Take one line (through `\n`) from `input`, using `buf` when it spans inputs. The
    /// returned bytes exclude the line end. `None`: no line end yet (input consumed).
    fn line(&mut self, input: &mut &[u8], max: usize) -> Option<Vec<u8>> {
        match memchr::memchr(b'\n', input) {
            Some(i) => {
                let (l, rest) = input.split_at(i + 1);
                self.wire += l.len() as u64;
                self.buf.extend_from_slice(l);
                *input = rest;
                let mut line = std::mem::take(&mut self.buf);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(line)
            }
            None => {
                let n = input.len().min(max + 1);
                self.wire += n as u64;
                self.buf.extend_from_slice(&input[..n]);
                *input = &input[n..];
                None
            }
        }
    }

    /// Append one trailer line to `buf`; `Some(true)` when it was the empty line ending the
    /// section, `Some(false)` for a field line, `None` when no line end is in `input`.
    fn trailer_line(&mut self, input: &mut &[u8]) -> Option<bool> {
        let line_start = self.buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        match memchr::memchr(b'\n', input) {
            Some(i) => {
                let (l, rest) = input.split_at(i + 1);
                self.wire += l.len() as u64;
                self.buf.extend_from_slice(l);
                *input = rest;
                let line = &self.buf[line_start..];
                Some(line == b"\n" || line == b"\r\n")
            }
            None => {
                let n = input.len().min(MAX_TRAILERS + 1);
                self.wire += n as u64;
                self.buf.extend_from_slice(&input[..n]);
                *input = &input[n..];
                None
            }
        }
    }
}

fn clamp(rem: u64, avail: usize) -> usize {
    usize::try_from(rem).map_or(avail, |r| r.min(avail))
}

/// Where the head that started in `buf` ends within `more`, if it does (bytes of `more`
/// up to and including the blank line).
fn head_end_within(buf: &[u8], more: &[u8]) -> Option<usize> {
    // The terminator may straddle: look at the last 3 bytes of buf plus `more`.
    let tail_len = buf.len().min(3);
    let tail = &buf[buf.len() - tail_len..];
    let mut probe = [0u8; 3 + 3];
    let head_n = more.len().min(3);
    probe[..tail_len].copy_from_slice(tail);
    probe[tail_len..tail_len + head_n].copy_from_slice(&more[..head_n]);
    let p = &probe[..tail_len + head_n];
    for end in [&b"\r\n\r\n"[..], b"\n\n", b"\n\r\n"] {
        if let Some(i) = memmem::find(p, end) {
            let stop = i + end.len();
            if stop > tail_len {
                return Some(stop - tail_len);
            }
        }
    }
    let first = [memmem::find(more, b"\r\n\r\n").map(|i| i + 4), memmem::find(more, b"\n\n").map(|i| i + 2)];
    first.into_iter().flatten().min()
}

/// A recognisable non-HTTP protocol at the start of a stream.
fn foreign(input: &[u8]) -> Option<Foreign> {
    // A TLS record header: content type 20..=23 (handshake first, application data when the
    // capture starts mid-connection), version 3.x.
    if let [t @ 0x14..=0x17, 0x03, minor, ..] = input {
        if *minor <= 0x04 && (*t == 0x16 || input.len() >= 5) {
            return Some(Foreign::Tls);
        }
    }
    if input.starts_with(b"PRI * HTTP/2") {
        return Some(Foreign::H2Preface);
    }
    None
}

enum Parsed {
    Complete(Head),
    Partial,
    Invalid(String),
}

fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_space_before_first_header_name(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

/// True when `b` starts like an HTTP/1.x start line even if it is damaged: a request line
/// (a method token, a space, and ` HTTP/1.` on the first line) or a status line (`HTTP/1.`).
/// A damaged first message of such a stream is reported and skipped, not taken as proof that
/// the connection carries another protocol.
fn looks_like_start(side: Side, b: &[u8]) -> bool {
    let line = &b[..memchr::memchr(b'\n', b).unwrap_or(b.len()).min(8192)];
    match side {
        Side::Response => line.starts_with(b"HTTP/1."),
        Side::Request => {
            let method = line.iter().take_while(|c| is_token(**c)).count();
            (1..=20).contains(&method) && line.get(method) == Some(&b' ') && memmem::find(line, b" HTTP/1.").is_some()
        }
    }
}

/// A `tchar` of RFC 9110.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// A status line whose reason phrase holds control characters (which httparse refuses) parsed
/// anyway: the reason is blanked for the parse and taken back verbatim, to be shown escaped.
fn parse_damaged_status(bytes: &[u8], keep: bool) -> Option<Parsed> {
    let eol = memchr::memchr(b'\n', bytes)?;
    let line = &bytes[..eol];
    let ok = line.len() >= 12
        && line.starts_with(b"HTTP/1.")
        && line[8] == b' '
        && line[9..12].iter().all(u8::is_ascii_digit)
        && line.get(12).is_none_or(|&c| c == b' ' || c == b'\r');
    if !ok {
        return None;
    }
    let reason_end = if line.ends_with(b"\r") { eol - 1 } else { eol };
    let mut clean = bytes.to_vec();
    for c in clean.iter_mut().take(reason_end).skip(13) {
        if c.is_ascii_control() && *c != b'\t' {
            *c = b' ';
        }
    }
    match parse_head_once(Side::Response, &clean, keep) {
        Parsed::Complete(mut h) => {
            if let StartLine::Response { reason, .. } = &mut h.start {
                *reason = text(bytes.get(13..reason_end).unwrap_or_default());
            }
            Some(Parsed::Complete(h))
        }
        other => Some(other),
    }
}

fn parse_head(side: Side, bytes: &[u8], keep: bool) -> Parsed {
    let parsed = parse_head_once(side, bytes, keep);
    if side == Side::Response {
        if let Parsed::Invalid(_) = &parsed {
            return parse_damaged_status(bytes, keep).unwrap_or(parsed);
        }
    }
    if side == Side::Request {
        if let Parsed::Invalid(_) = &parsed {
            return lenient::parse(bytes, keep).unwrap_or(parsed);
        }
        // httparse drops (or rejects) obs-fold continuation lines in requests: unfold them
        // (same length) and parse again.
        let head_len = match &parsed {
            Parsed::Complete(h) => Some(h.len),
            Parsed::Invalid(_) => None,
            Parsed::Partial => return parsed,
        };
        if has_fold(&bytes[..head_len.unwrap_or(bytes.len()).min(bytes.len())]) {
            if let Parsed::Complete(mut h) = parse_head_once(side, &unfold(bytes), keep) {
                h.folded = true;
                for hd in &mut h.headers {
                    if hd.value.contains("  ") {
                        hd.value = hd.value.split_whitespace().collect::<Vec<_>>().join(" ");
                    }
                }
                return Parsed::Complete(h);
            }
        }
    }
    parsed
}

/// Request lines that servers accept although RFC 9112 does not: HTTP/0.9's `GET /path`
/// (no version, no headers), a missing target, spaces inside the target, a malformed version
/// (`HTTP/1.`, `HTTP/1.10`, `HTTP/1.1.`). Such a line is rewritten into a valid one, the head
/// parsed as usual, and the original target and the reason kept ([`Head::lenient`]).
mod lenient {
    use super::{Parsed, Side, StartLine, is_token, parse_head_once};

    /// Longest method token taken for a request line.
    const MAX_METHOD: usize = 20;

    /// A head whose request line httparse refused, read leniently; `None` when even that
    /// fails (the line does not start with a method and a space).
    pub(super) fn parse(bytes: &[u8], keep: bool) -> Option<Parsed> {
        let Some(eol) = memchr::memchr(b'\n', bytes) else {
            // Wait for the whole line when it may still become a request line.
            return plausible(bytes).then_some(Parsed::Partial);
        };
        let line = bytes[..eol].strip_suffix(b"\r").unwrap_or(&bytes[..eol]);
        if !plausible(line) || line.iter().any(|&c| c.is_ascii_control() && c != b'\t') {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (method, rest) = text.split_once([' ', '\t'])?;
        let rest = rest.trim_matches([' ', '\t']);
        let (target, version) = match rest.rsplit_once([' ', '\t']) {
            Some((t, v)) if v.starts_with("HTTP/") => (t.trim_end_matches([' ', '\t']), Some(v)),
            _ if rest.starts_with("HTTP/") => ("", Some(rest)),
            _ => (rest, None),
        };
        if version.is_none() && !http09_like(method, target) {
            return None;
        }
        let mut why = Vec::new();
        let minor = match version {
            None => {
                why.push("no HTTP version (an HTTP/0.9 request line)".to_string());
                0
            }
            Some(v) => {
                let (minor, ok) = read_version(v);
                if !ok {
                    why.push(format!("malformed version {v:?}"));
                }
                minor
            }
        };
        if target.is_empty() {
            why.push("no request target".into());
        } else if target.contains([' ', '\t']) {
            why.push("spaces inside the request target".into());
        }
        let head_len_line = eol + 1;
        let mut head = if version.is_none() {
            // HTTP/0.9: the line is the whole request.
            let fake = format!("{method} / HTTP/1.0\r\n\r\n");
            let Parsed::Complete(mut h) = parse_head_once(Side::Request, fake.as_bytes(), keep) else { return None };
            h.len = head_len_line;
            h
        } else {
            let clean = format!("{method} / HTTP/1.{minor}\r\n");
            let mut fixed = clean.clone().into_bytes();
            fixed.extend_from_slice(&bytes[head_len_line..]);
            match parse_head_once(Side::Request, &fixed, keep) {
                Parsed::Complete(mut h) => {
                    h.len = h.len - clean.len() + head_len_line;
                    h
                }
                other => return Some(other),
            }
        };
        head.start = StartLine::Request {
            method: method.to_string(),
            target: if target.is_empty() { "/".into() } else { target.to_string() },
            minor,
        };
        head.lenient = Some(why.join("; "));
        Some(Parsed::Complete(head))
    }

    /// An HTTP/0.9-form line (no version) is only taken for a standard method and a target
    /// that is a path or an absolute URL: other line protocols (SMTP's `EHLO host`, FTP's
    /// `USER name`) look the same otherwise.
    fn http09_like(method: &str, target: &str) -> bool {
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"];
        METHODS.contains(&method)
            && !target.contains([' ', '\t'])
            && (target.starts_with('/') || target.starts_with("http://") || target.starts_with("https://"))
    }

    /// A method token (at most [`MAX_METHOD`] characters) and a space.
    fn plausible(b: &[u8]) -> bool {
        let m = b.iter().take_while(|c| is_token(**c)).count();
        (1..=MAX_METHOD).contains(&m) && matches!(b.get(m), Some(b' ' | b'\t'))
    }

    /// The minor version of `HTTP/1.x`-like text and whether it was well formed.
    fn read_version(v: &str) -> (u8, bool) {
        match v {
            "HTTP/1.1" => (1, true),
            "HTTP/1.0" => (0, true),
            _ if v.starts_with("HTTP/1.0") || v.starts_with("HTTP/0.") => (0, false),
            _ => (1, false),
        }
    }
}

fn parse_head_once(side: Side, bytes: &[u8], keep: bool) -> Parsed {
    match parse_with(side, bytes, FEW_HEADERS, keep) {
        Err(httparse::Error::TooManyHeaders) => match parse_with(side, bytes, MANY_HEADERS, keep) {
            Err(e) => Parsed::Invalid(format!("message head: {e}")),
            Ok(p) => p,
        },
        Err(e) => Parsed::Invalid(format!("message head: {e}")),
        Ok(p) => p,
    }
}

fn has_fold(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|i| matches!(head.get(i + 1), Some(b' ' | b'\t')))
}

/// Replace each line break followed by a space or tab (inside the head) with spaces.
fn unfold(bytes: &[u8]) -> Vec<u8> {
    let end = memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let mut out = bytes.to_vec();
    for i in 1..end {
        if bytes[i - 1] == b'\n' && (bytes[i] == b' ' || bytes[i] == b'\t') {
            out[i - 1] = b' ';
            if i >= 2 && bytes[i - 2] == b'\r' {
                out[i - 2] = b' ';
            }
        }
    }
    out
}

fn parse_with(side: Side, bytes: &[u8], slots: usize, keep: bool) -> Result<Parsed, httparse::Error> {
    let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
    let mut many;
    let headers: &mut [httparse::Header<'_>] = if slots <= FEW_HEADERS {
        &mut few
    } else {
        many = vec![httparse::EMPTY_HEADER; slots];
        &mut many
    };
    let cfg = config();
    match side {
        Side::Request => {
            let mut req = httparse::Request::new(headers);
            match cfg.parse_request(&mut req, bytes)? {
                httparse::Status::Partial => Ok(Parsed::Partial),
                httparse::Status::Complete(len) => {
                    let start = StartLine::Request {
                        method: req.method.unwrap_or("").to_string(),
                        target: req.path.unwrap_or("").to_string(),
                        minor: req.version.unwrap_or(1),
                    };
                    Ok(Parsed::Complete(build_head(start, req.headers, len, keep)))
                }
            }
        }
        Side::Response => {
            let mut resp = httparse::Response::new(headers);
            match cfg.parse_response(&mut resp, bytes)? {
                httparse::Status::Partial => Ok(Parsed::Partial),
                httparse::Status::Complete(len) => {
                    let start = StartLine::Response {
                        status: resp.code.unwrap_or(0),
                        reason: text(resp.reason.unwrap_or("").as_bytes()),
                        minor: resp.version.unwrap_or(1),
                    };
                    Ok(Parsed::Complete(build_head(start, resp.headers, len, keep)))
                }
            }
        }
    }
}

/// Bytes to text, lossy; folded values (line breaks inside) become single spaces.
fn text(v: &[u8]) -> String {
    text_cow(v).into_owned()
}

/// [`text`] without an allocation when the bytes are UTF-8 on one line (the usual case).
fn text_cow(v: &[u8]) -> Cow<'_, str> {
    if memchr::memchr2(b'\r', b'\n', v).is_none() {
        return String::from_utf8_lossy(v);
    }
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split('\n').enumerate() {
        let part = part.trim_matches(|c| c == '\r' || c == ' ' || c == '\t');
        if i > 0 && !out.is_empty() && !part.is_empty() {
            out.push(' ');
        }
        out.push_str(part);
    }
    Cow::Owned(out)
}

/// Header names framing and pairing read (the rest only matter to consumers of headers).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    ContentLength,
    TransferEncoding,
    Connection,
    Upgrade,
    Expect,
    ContentEncoding,
}

fn known(name: &str) -> Option<Known> {
    // The length picks the one candidate; then one case-insensitive comparison.
    let (want, k) = match name.len() {
        14 => ("content-length", Known::ContentLength),
        17 => ("transfer-encoding", Known::TransferEncoding),
        10 => ("connection", Known::Connection),
        7 => ("upgrade", Known::Upgrade),
        6 => ("expect", Known::Expect),
        16 => ("content-encoding", Known::ContentEncoding),
        _ => return None,
    };
    name.eq_ignore_ascii_case(want).then_some(k)
}

fn build_head(start: StartLine, raw: &[httparse::Header<'_>], len: usize, keep: bool) -> Head {
    let mut h = Head {
        start,
        headers: if keep { Vec::with_capacity(raw.len()) } else { Vec::new() },
        len,
        content_length: None,
        bad_content_length: false,
        chunked: false,
        has_transfer_encoding: false,
        transfer_codings: Vec::new(),
        close: false,
        upgrade: false,
        expect_continue: false,
        content_encoding: None,
        folded: false,
        lenient: None,
    };
    for r in raw {
        if r.name.is_empty() {
            continue;
        }
        h.folded |= memchr::memchr(b'\n', r.value).is_some();
        let kind = known(r.name);
        if kind.is_none() && !keep {
            continue;
        }
        let value = text_cow(r.value);
        match kind {
            Some(Known::ContentLength) => {
                // Repeated identical values (or a list of them) are accepted; conflicts are not.
                for part in value.split(',') {
                    match part.trim().parse::<u64>() {
                        Ok(n) if h.content_length.is_none_or(|c| c == n) => h.content_length = Some(n),
                        _ => h.bad_content_length = true,
                    }
                }
            }
            Some(Known::TransferEncoding) => {
                h.has_transfer_encoding = true;
                for coding in value.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()) {
                    if coding == "chunked" {
                        h.chunked = true;
                    } else {
                        h.chunked = false;
                        if coding != "identity" {
                            h.transfer_codings.push(coding);
                        }
                    }
                }
            }
            Some(Known::Connection) => {
                h.close |= value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
            }
            Some(Known::Upgrade) => h.upgrade = true,
            Some(Known::Expect) => h.expect_continue |= value.trim().eq_ignore_ascii_case("100-continue"),
            Some(Known::ContentEncoding) => {
                let v = value.trim();
                if !v.is_empty() {
                    h.content_encoding = Some(match h.content_encoding.take() {
                        Some(prev) => format!("{prev}, {v}"),
                        None => v.to_string(),
                    });
                }
            }
            None => {}
        }
        if keep {
            h.headers.push(Header { name: r.name.to_owned(), value: value.into_owned() });
        }
    }
    if h.chunked {
        // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
        h.content_length = None;
    }
    if h.bad_content_length {
        h.content_length = None;
    }
    h
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii();
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        n = n.checked_mul(16)?.checked_add(u64::from(v))?;
    }
    Some(n)
}

fn parse_trailers(section: &[u8]) -> Vec<Header> {
    let mut out = Vec::new();
    for line in section.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            out.push(Header { name: text(line[..colon].trim_ascii()), value: text(line[colon + 1..].trim_ascii()) });
        }
    }
    out
}

/// Where the next plausible message start is in `input`: a status line (responses) or a
/// request line ending in ` HTTP/1.x` (requests), at the start of a line. `line_start`
/// says whether `input[0]` starts a line.
#[must_use]
pub fn find_message_start(side: Side, input: &[u8], line_start: bool) -> Option<usize> {
    for pos in memmem::find_iter(input, b"HTTP/1.") {
        let ls = match memchr::memrchr(b'\n', &input[..pos]) {
            Some(i) => i + 1,
            None if line_start => 0,
            None => continue,
        };
        match side {
            Side::Response => {
                let code = input.get(pos + 9..pos + 12).unwrap_or(b"000");
                if ls == pos
                    && input.get(pos + 7).is_some_and(u8::is_ascii_digit)
                    && input.get(pos + 8).is_none_or(|&b| b == b' ')
                    && code.iter().all(u8::is_ascii_digit)
                {
                    return Some(pos);
                }
            }
            Side::Request => {
                let version_ok = input.get(pos + 7).is_none_or(u8::is_ascii_digit)
                    && input.get(pos + 8).is_none_or(|&b| b == b'\r' || b == b'\n');
                if version_ok && plausible_request_prefix(&input[ls..pos]) {
                    return Some(ls);
                }
            }
        }
    }
    None
}

/// `METHOD SP target SP` (the part of a request line before `HTTP/1.`).
fn plausible_request_prefix(p: &[u8]) -> bool {
    let Some(sp) = p.iter().position(|&b| b == b' ') else { return false };
    let method = &p[..sp];
    if method.is_empty() || method.len() > 32 || !method.iter().all(|&b| is_tchar(b)) {
        return false;
    }
    let rest = &p[sp..];
    rest.len() >= 3 && rest.ends_with(b" ") && rest[1..rest.len() - 1].iter().all(|&b| b > b' ' && b != 0x7f)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `chunks` into a parser, answering heads with the framing `frame` decides, and
    /// describe what came out.
    fn run(side: Side, chunks: &[&[u8]], frame: impl Fn(&Head) -> Framing) -> Vec<String> {
        let mut p = Parser::new(side);
        let mut out = Vec::new();
        let mut body = Vec::new();
        for c in chunks {
            let mut input: &[u8] = c;
            loop {
                match p.next(&mut input) {
                    Event::NeedMore => break,
                    Event::Head(h) => {
                        let f = frame(&h);
                        out.push(format!("head {:?} {}", h.start, h.headers.len()));
                        p.begin_body(f);
                    }
                    Event::Body(b) => body.extend_from_slice(b),
                    Event::Trailers(t) => out.push(format!("trailers {}", t.len())),
                    Event::End => {
                        out.push(format!("end {:?} wire {}", String::from_utf8_lossy(&body), p.body_wire()));
                        body.clear();
                    }
                    Event::Skipped(n) => out.push(format!("skipped {n}")),
                    Event::Malformed(w) => out.push(format!("malformed {w}")),
                    Event::NotHttp(k) => out.push(format!("nothttp {k:?}")),
                }
            }
        }
        match p.finish() {
            EndEffect::BodyEnded => out.push(format!("end-at-close {:?}", String::from_utf8_lossy(&body))),
            EndEffect::Clean => {}
            e => out.push(format!("finish {e:?}")),
        }
        out
    }

    #[test]
    fn content_length_body_split_across_chunks_byte_by_byte() {
        let msg = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        let chunks: Vec<&[u8]> = msg.chunks(1).collect();
        let out = run(Side::Request, &chunks, request_framing);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out[0].contains("POST"));
        assert_eq!(out[1], "end \"hello\" wire 5");
        assert!(out[2].contains("\"/b\""));
        assert_eq!(out[3], "end \"\" wire 0");
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n";
        for split in [1usize, 2, 3, 7, 1000] {
            let chunks: Vec<&[u8]> = msg.chunks(split).collect();
            let out = run(Side::Response, &chunks, |h| response_framing(h, Some("GET")));
            let wire = msg.len() - 47; // the head is 47 bytes
            assert_eq!(out[1], "trailers 2", "split {split}: {out:?}");
            assert_eq!(out[2], format!("end \"hello world\" wire {wire}"), "split {split}");
        }
    }

    #[test]
    fn close_delimited_body_ends_at_finish() {
        let out = run(Side::Response, &[b"HTTP/1.0 200 OK\r\n\r\nabc", b"def"], |h| response_framing(h, Some("GET")));
        assert_eq!(out.last().map(String::as_str), Some("end-at-close \"abcdef\""));
    }

    #[test]
    fn head_and_not_modified_have_no_body() {
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let methods = std::cell::RefCell::new(vec!["HEAD", "GET", "GET"].into_iter());
        let out = run(Side::Response, &[resp], |h| response_framing(h, methods.borrow_mut().next()));
        let ends: Vec<_> = out.iter().filter(|l| l.starts_with("end")).collect();
        assert_eq!(ends, ["end \"\" wire 0", "end \"\" wire 0", "end \"ok\" wire 2"]);
    }

    #[test]
    fn obs_fold_in_requests_and_responses_is_unfolded() {
        let mut p = Parser::new(Side::Request);
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\nHost: h\r\n\r\n";
        let Event::Head(h) = p.next(&mut input) else { panic!("no head") };
        assert_eq!(h.headers[0].value, "a b");
        assert!(h.folded);
        assert!(input.is_empty());
        let mut p = Parser::new(Side::Response);
        let mut input: &[u8] = b"HTTP/1.1 200 OK\r\nX-Long: a\r\n\tb\r\n\r\n";
        let Event::Head(h) = p.next(&mut input) else { panic!("no head") };
        assert_eq!(h.headers[0].value, "a b");
    }

    #[test]
    fn lenient_request_lines_are_read_and_the_valid_requests_after_them_kept() {
        let lines: &[&[u8]] = &[
            b"GET /old\r\n",
            b"GET HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /a b/c HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /v HTTP/1.\r\nHost: h\r\n\r\n",
            b"POST /w HTTP/1.10\r\nContent-Length: 2\r\n\r\nok",
            b"M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /fine HTTP/1.1\r\nHost: h\r\n\r\n",
        ];
        let all = lines.concat();
        let mut p = Parser::new(Side::Request);
        let mut input: &[u8] = &all;
        let mut got = Vec::new();
        loop {
            match p.next(&mut input) {
                Event::Head(h) => {
                    let f = request_framing(&h);
                    got.push((h.start.clone(), h.lenient.is_some()));
                    p.begin_body(f);
                }
                Event::NeedMore => break,
                Event::Body(_) | Event::End => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let req = |m: &str, t: &str, minor: u8, lenient: bool| {
            (StartLine::Request { method: m.into(), target: t.into(), minor }, lenient)
        };
        assert_eq!(
            got,
            vec![
                req("GET", "/old", 0, true),
                req("GET", "/", 1, true),
                req("GET", "/a b/c", 1, true),
                req("GET", "/v", 1, true),
                req("POST", "/w", 1, true),
                req("M-SEARCH", "*", 1, false),
                req("GET", "/fine", 1, false),
            ]
        );
    }

    #[test]
    fn lenient_lines_split_byte_by_byte_parse_identically() {
        let all = b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\nGET /n HTTP/1.1\r\n\r\n";
        let chunks: Vec<&[u8]> = all.chunks(1).collect();
        let out = run(Side::Request, &chunks, |_| Framing::None);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out[0].contains("\"/a b\""), "{out:?}");
    }

    #[test]
    fn other_line_protocols_are_not_taken_for_http09() {
        for first in [&b"EHLO mail.example.com\r\n"[..], b"USER anonymous\r\n", b"GET key\r\n"] {
            let mut p = Parser::new(Side::Request);
            let mut input = first;
            assert!(matches!(p.next(&mut input), Event::NotHttp(_)), "{}", String::from_utf8_lossy(first));
        }
    }

    #[test]
    fn tls_and_h2_preface_are_not_http() {
        let out = run(Side::Request, &[b"\x16\x03\x01\x02\x00\x01"], request_framing);
        assert_eq!(out, ["nothttp Tls"]);
        let out = run(Side::Request, &[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], request_framing);
        assert_eq!(out, ["nothttp H2Preface"]);
        let out = run(Side::Request, &[b"SSH-2.0-OpenSSH\r\n"], request_framing);
        assert_eq!(out, ["nothttp Other"]);
        // Caught mid-connection: an application-data record is still recognised.
        let mut p = Parser::new(Side::Response);
        p.start_midstream();
        let mut input: &[u8] = b"\x17\x03\x03\x00\x20encrypted";
        assert_eq!(p.next(&mut input), Event::NotHttp(Foreign::Tls));
    }

    #[test]
    fn gap_inside_known_length_keeps_framing() {
        let mut p = Parser::new(Side::Response);
        let mut input: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        p.begin_body(response_framing(&h, Some("GET")));
        assert_eq!(p.next(&mut input), Event::Body(b"abc"));
        assert_eq!(p.gap(4), GapEffect::Hole);
        let mut input: &[u8] = b"xyzHTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(p.next(&mut input), Event::Body(b"xyz"));
        assert_eq!(p.next(&mut input), Event::End);
        assert!(p.body_has_hole());
        assert_eq!(p.body_wire(), 10);
        assert!(matches!(p.next(&mut input), Event::Head(_)));
    }

    #[test]
    fn gap_in_chunked_body_cuts_and_resyncs_at_next_status_line() {
        let mut p = Parser::new(Side::Response);
        let mut input: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        p.begin_body(response_framing(&h, Some("GET")));
        assert_eq!(p.next(&mut input), Event::Body(b"abc"));
        assert_eq!(p.next(&mut input), Event::NeedMore);
        assert_eq!(p.gap(0), GapEffect::CutBody);
        assert_eq!(p.next(&mut &b""[..]), Event::End);
        let mut input: &[u8] = b"ld\r\n0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(p.next(&mut input), Event::Skipped(9));
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        assert_eq!(h.status(), Some(404));
    }

    #[test]
    fn request_resync_skips_body_bytes_to_a_request_line() {
        let data = b"{\"a\":1}\r\nPOST /v1/orders HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(find_message_start(Side::Request, data, false), Some(9));
        assert_eq!(find_message_start(Side::Request, b"xx HTTP/1.1 in text", false), None);
        assert_eq!(find_message_start(Side::Response, b"body\nHTTP/1.1 200 OK\r\n", false), Some(5));
        assert_eq!(find_message_start(Side::Response, b"say HTTP/1.1 200", true), None);
    }

    #[test]
    fn midstream_start_skips_to_first_message() {
        let mut p = Parser::new(Side::Request);
        p.start_midstream();
        let mut input: &[u8] = b"tail of a body\r\nGET /x HTTP/1.1\r\n\r\n";
        assert_eq!(p.next(&mut input), Event::Skipped(1));
        assert_eq!(p.next(&mut input), Event::Skipped(15));
        assert!(matches!(p.next(&mut input), Event::Head(_)));
    }

    #[test]
    fn too_many_headers_retries_with_more_slots() {
        let mut msg = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..300 {
            msg.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        msg.extend_from_slice(b"\r\n");
        let mut p = Parser::new(Side::Request);
        let mut input: &[u8] = &msg;
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        assert_eq!(h.headers.len(), 300);
    }

    #[test]
    fn head_split_at_every_position_parses_identically() {
        let msg = b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiPUT /z HTTP/1.0\r\n\r\n";
        let whole = run(Side::Request, &[msg], request_framing);
        for i in 1..msg.len() {
            let out = run(Side::Request, &[&msg[..i], &msg[i..]], request_framing);
            assert_eq!(out, whole, "split at {i}");
        }
    }

    #[test]
    fn heads_without_header_lines_frame_exactly_like_full_heads() {
        let heads: [(Side, &[u8]); 4] = [
            (Side::Request, b"POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n"),
            (Side::Request, b"GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"),
            (
                Side::Response,
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTRANSFER-ENCODING: gzip, chunked\r\nConnection: close\r\nX-F: a\r\n b\r\n\r\n",
            ),
            (Side::Response, b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\ncontent-encoding: br\r\n\r\n"),
        ];
        for (side, bytes) in heads {
            let mut full = Parser::new(side);
            let mut lean = Parser::new(side);
            lean.set_keep_headers(false);
            let (mut a, mut b) = (bytes, bytes);
            let (Event::Head(mut fh), Event::Head(lh)) = (full.next(&mut a), lean.next(&mut b)) else { panic!() };
            assert!(!fh.headers.is_empty());
            assert!(lh.headers.is_empty());
            fh.headers.clear();
            assert_eq!(fh, lh, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn conflicting_content_length_is_not_trusted() {
        let mut p = Parser::new(Side::Request);
        let mut input: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        assert!(h.bad_content_length);
        assert_eq!(h.content_length, None);
    }

    #[test]
    fn connect_and_informational_responses_have_no_body() {
        let mut p = Parser::new(Side::Response);
        let mut input: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
        let Event::Head(h) = p.next(&mut input) else { panic!() };
        assert_eq!(response_framing(&h, Some("CONNECT")), Framing::None);
        assert_eq!(response_framing(&h, Some("GET")), Framing::Close);
    }
}
