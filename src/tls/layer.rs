//! [`TlsLayer`]: a [`StreamHandler`] that sits between TCP reassembly and the protocol
//! parsers. Connections that do not start like TLS pass through untouched. A TLS
//! connection's handshake is read (records reassembled across segments, messages across
//! records); when the key log has its secrets and the suite is supported, its records are
//! opened and the plaintext goes on, each byte with the capture time and packet number of
//! the segment that carried its ciphertext, after an `on_tls` call that describes the
//! session. Otherwise the connection's bytes are replayed unchanged, as if the layer were
//! not there. Every TLS connection ends with one [`Outcome`], counted and, when it is not
//! a success, reported as a diagnostic.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::crypto::{self, OpenError, RecordKeys, Suite};
use super::handshake::{self, ClientHello, Messages, ServerHello, kind};
use super::keylog::{KeyLog, Secrets};
use super::tunnel::{self, ConnectWatch};
use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use crate::model::{Diagnostic, Nanos, Severity, TlsInfo};

/// pcapng DSB secrets type for a TLS key log (`TLSK`).
pub const SECRETS_TLS: u32 = 0x544c_534b;

/// Largest record payload accepted (2^14 plus the most expansion any version allows).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Bytes kept for replay while a handshake is undecided; past this it is given up.
const MAX_UNDECIDED: usize = 256 << 10;
/// Per-connection diagnostics of one outcome kind before they are only counted.
const DIAG_LIMIT: u64 = 10;

/// How one TLS connection ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Records were opened and their plaintext passed on.
    Decrypted,
    /// The key log has no secret for this client random.
    NoKey,
    /// The suite (or version) cannot be decrypted; its name.
    Unsupported(String),
    /// A record did not authenticate (wrong key or damaged data).
    DecryptFailed,
    /// The handshake was not captured (the capture started mid-connection).
    NoHandshake,
}

impl Outcome {
    fn code(&self) -> &'static str {
        match self {
            Self::Decrypted => "tls.decrypted",
            Self::NoKey => "tls.no_key",
            Self::Unsupported(_) => "tls.unsupported",
            Self::DecryptFailed => "tls.decrypt_failed",
            Self::NoHandshake => "tls.no_handshake",
        }
    }
}

/// What the layer counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsCounts {
    /// TLS connections seen.
    pub connections: u64,
    /// … decrypted.
    pub decrypted: u64,
    /// … with no key for their client random.
    pub no_key: u64,
    /// … with a suite or version that cannot be decrypted.
    pub unsupported: u64,
    /// … where a record failed authentication (wrong key).
    pub decrypt_failed: u64,
    /// … whose handshake was not captured.
    pub no_handshake: u64,
    /// Records opened.
    pub records: u64,
    /// Plaintext bytes passed on.
    pub plaintext_bytes: u64,
    /// TLS sessions found inside `CONNECT` tunnels (read like any other; also counted in
    /// `connections`).
    pub tunnels: u64,
    /// Key log lines that gave a secret (files, DSBs, section comments).
    pub keylog_lines: u64,
    /// Key log lines that did not parse.
    pub keylog_malformed: u64,
    /// Unsupported suites by name, with their connection counts.
    pub unsupported_names: Vec<(String, u64)>,
}

impl TlsCounts {
    /// True when there is anything to report (a TLS connection or a key).
    #[must_use]
    pub fn any(&self) -> bool {
        self.connections > 0 || self.keylog_lines > 0 || self.keylog_malformed > 0
    }

    /// Named counters for `--summary`.
    #[must_use]
    pub fn counters(&self) -> Vec<(String, u64)> {
        [
            ("tls_sessions", self.connections),
            ("tls_decrypted", self.decrypted),
            ("tls_no_key", self.no_key),
            ("tls_unsupported", self.unsupported),
            ("tls_decrypt_failed", self.decrypt_failed),
            ("tls_no_handshake", self.no_handshake),
            ("tls_records", self.records),
            ("tls_plaintext_bytes", self.plaintext_bytes),
            ("tls_in_connect_tunnels", self.tunnels),
            ("tls_keylog_lines", self.keylog_lines),
            ("tls_keylog_malformed", self.keylog_malformed),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn count(&mut self, o: &Outcome) {
        self.connections += 1;
        match o {
            Outcome::Decrypted => self.decrypted += 1,
            Outcome::NoKey => self.no_key += 1,
            Outcome::Unsupported(name) => {
                self.unsupported += 1;
                match self.unsupported_names.iter_mut().find(|(n, _)| n == name) {
                    Some((_, c)) => *c += 1,
                    None => self.unsupported_names.push((name.clone(), 1)),
                }
            }
            Outcome::DecryptFailed => self.decrypt_failed += 1,
            Outcome::NoHandshake => self.no_handshake += 1,
        }
    }
}

/// A stream event kept while a handshake is undecided, replayed if the connection is not
/// decrypted.
enum Raw {
    Data(Dir, Vec<u8>, Nanos, u64),
    Gap(Dir, u64, Nanos),
    Retrans(Dir, u64, u64, Nanos, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading the handshake; events are kept for replay.
    Handshake,
    /// Keys are known: records are opened.
    Decrypt,
    /// Not decrypted: bytes go through as they are.
    Pass,
}

/// One direction of a TLS connection.
#[derive(Default)]
struct Half {
    buf: Vec<u8>,
    /// Read position in `buf`.
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// `(stream offset, ts, packet)` of each segment still in `buf`.
    marks: VecDeque<(u64, Nanos, u64)>,
    keys: Option<RecordKeys>,
    /// TLS 1.2: keys that take effect at this direction's ChangeCipherSpec.
    pending: Option<RecordKeys>,
    /// TLS 1.3: the current application traffic secret.
    app_secret: Option<Vec<u8>>,
    /// TLS 1.3: `keys` are handshake keys (switch at Finished).
    hs_phase: bool,
    /// Skip records that do not open until one does (no handshake secret, or 0-RTT data).
    skip_until_ok: bool,
    msgs: Messages,
    /// Nothing more can be read in this direction (gap, garbage, failed record).
    broken: bool,
    failed: bool,
    /// After a hole: how many records may have been lost (the search for the next one).
    resync: Option<u64>,
    /// Bytes skipped while searching.
    resync_scanned: usize,
    /// Ciphertext bytes lost in the hole (and skipped after it), not yet told to the parser.
    lost: u64,
    /// When the hole was reported.
    lost_ts: Nanos,
}

struct Conn {
    info: ConnInfo,
    mode: Mode,
    raw: Vec<Raw>,
    raw_bytes: usize,
    halves: [Half; 2],
    client_dir: Option<Dir>,
    ch: Option<ClientHello>,
    suite: Option<&'static Suite>,
    tls13: bool,
    master: Option<Vec<u8>>,
    outcome: Option<Outcome>,
    tls: Option<Arc<TlsInfo>>,
    announced: bool,
}

enum Slot {
    /// No data yet.
    Unknown,
    /// A `CONNECT` tunnel just opened: its first bytes decide, like a new connection's.
    TunnelOpen,
    /// A plaintext `CONNECT` exchange whose tunnel may carry TLS; bytes go through.
    Connect(Box<ConnectWatch>),
    /// Not TLS, or TLS that is not decrypted: events go straight through.
    Pass,
    Tls(Box<Conn>),
}

/// State shared by every connection.
struct Ctx {
    /// Key logs given up front.
    keys: Arc<KeyLog>,
    /// Keys found in the capture (DSBs, section comments).
    found: KeyLog,
    /// TLS 1.2 master secrets by session ID and by session ticket (resumption).
    by_session: HashMap<Vec<u8>, Vec<u8>>,
    counts: TlsCounts,
    diags: HashMap<&'static str, u64>,
    scratch: Vec<u8>,
}

impl Ctx {
    fn secrets(&self, random: &super::keylog::Random) -> Option<&Secrets> {
        self.found.get(random).or_else(|| self.keys.get(random))
    }
}

/// The decrypting layer; see the module note.
pub struct TlsLayer<H: StreamHandler> {
    inner: H,
    conns: foldhash::HashMap<u64, Slot>,
    ctx: Ctx,
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

/// True when a direction's first bytes look like a TLS record (handshake or application
/// data, version 3.x).
fn looks_like_tls(data: &[u8]) -> bool {
    match data {
        [0x16 | 0x17, 3, v, ..] => *v <= 4,
        [0x16, 3] | [0x16] => true,
        _ => false,
    }
}

impl<H: StreamHandler> TlsLayer<H> {
    /// A layer in front of `inner`, with the secrets of `keys` (more may come from pcapng
    /// Decryption Secrets Blocks and section comments while reading).
    pub fn new(inner: H, keys: Arc<KeyLog>) -> Self {
        let counts = TlsCounts {
            keylog_lines: keys.counts.usable,
            keylog_malformed: keys.counts.malformed,
            ..TlsCounts::default()
        };
        Self {
            inner,
            conns: foldhash::HashMap::default(),
            ctx: Ctx {
                keys,
                found: KeyLog::new(),
                by_session: HashMap::new(),
                counts,
                diags: HashMap::new(),
                scratch: Vec::new(),
            },
        }
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// Close whatever is still open and return the wrapped handler and the counts; reports
    /// outcomes past the per-kind diagnostic limit in one summary diagnostic each.
    pub fn finish(mut self) -> (H, TlsCounts) {
        let mut open: Vec<u64> = self.conns.keys().copied().collect();
        open.sort_unstable();
        for id in open {
            if let Some(Slot::Tls(mut c)) = self.conns.remove(&id) {
                c.finish(&mut self.inner, &mut self.ctx);
            }
        }
        let mut kinds: Vec<(&'static str, u64)> =
            self.ctx.diags.iter().filter(|(_, n)| **n > DIAG_LIMIT).map(|(k, n)| (*k, *n - DIAG_LIMIT)).collect();
        kinds.sort_unstable();
        for (code, more) in kinds {
            self.inner.on_diagnostic(Diagnostic::new(
                Severity::Warning,
                code,
                format!("{more} more TLS connections with the same outcome (see the tls_* counters)"),
            ));
        }
        if !self.ctx.counts.unsupported_names.is_empty() {
            let names: Vec<String> =
                self.ctx.counts.unsupported_names.iter().map(|(n, c)| format!("{n} ({c})")).collect();
            self.inner.on_diagnostic(Diagnostic::new(
                Severity::Warning,
                "tls.unsupported",
                format!(
                    "TLS connections not decrypted because their suite or version is not supported: {}",
                    names.join(", ")
                ),
            ));
        }
        (self.inner, self.ctx.counts)
    }
}

impl<H: StreamHandler> StreamHandler for TlsLayer<H> {
    fn on_open(&mut self, conn: &ConnInfo, ts: Nanos) {
        self.conns.insert(conn.id, Slot::Unknown);
        self.inner.on_open(conn, ts);
    }

    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        let slot = self.conns.entry(conn.id).or_insert(Slot::Unknown);
        if let Slot::TunnelOpen = slot {
            *slot = if looks_like_tls(data) {
                self.ctx.counts.tunnels += 1;
                Slot::Tls(Box::new(Conn::new(conn)))
            } else {
                Slot::Pass
            };
        }
        if let Slot::Unknown = slot {
            *slot = if looks_like_tls(data) {
                Slot::Tls(Box::new(Conn::new(conn)))
            } else if tunnel::starts_connect(data) {
                Slot::Connect(Box::new(ConnectWatch::new(dir)))
            } else {
                Slot::Pass
            };
        }
        match slot {
            Slot::Tls(c) if c.mode != Mode::Pass => c.data(dir, data, ts, packet, &mut self.inner, &mut self.ctx),
            Slot::Connect(w) => match w.feed(dir, data) {
                tunnel::Step::Before => self.inner.on_data(conn, dir, data, ts, packet),
                tunnel::Step::GiveUp => {
                    *slot = Slot::Pass;
                    self.inner.on_data(conn, dir, data, ts, packet);
                }
                tunnel::Step::Opened(n) => {
                    *slot = Slot::TunnelOpen;
                    let (head, rest) = data.split_at(n);
                    self.inner.on_data(conn, dir, head, ts, packet);
                    if !rest.is_empty() {
                        self.on_data(conn, dir, rest, ts, packet);
                    }
                }
            },
            _ => self.inner.on_data(conn, dir, data, ts, packet),
        }
    }

    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, ts: Nanos) {
        match self.conns.get_mut(&conn.id) {
            Some(Slot::Tls(c)) if c.mode != Mode::Pass => c.gap(dir, len, ts, &mut self.inner, &mut self.ctx),
            Some(slot @ Slot::Connect(_)) => {
                *slot = Slot::Pass;
                self.inner.on_gap(conn, dir, len, ts);
            }
            _ => self.inner.on_gap(conn, dir, len, ts),
        }
    }

    fn on_retransmission(&mut self, conn: &ConnInfo, dir: Dir, behind: u64, len: u64, ts: Nanos, packet: u64) {
        match self.conns.get_mut(&conn.id) {
            Some(Slot::Tls(c)) if c.mode == Mode::Handshake => c.raw.push(Raw::Retrans(dir, behind, len, ts, packet)),
            // Ciphertext offsets mean nothing to the plaintext parser.
            Some(Slot::Tls(c)) if c.mode == Mode::Decrypt => {}
            _ => self.inner.on_retransmission(conn, dir, behind, len, ts, packet),
        }
    }

    fn on_tls(&mut self, conn: &ConnInfo, tls: &Arc<TlsInfo>) {
        self.inner.on_tls(conn, tls);
    }

    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, ts: Nanos) {
        if let Some(Slot::Tls(mut c)) = self.conns.remove(&conn.id) {
            c.finish(&mut self.inner, &mut self.ctx);
        }
        self.inner.on_close(conn, how, ts);
    }

    fn on_diagnostic(&mut self, d: Diagnostic) {
        self.inner.on_diagnostic(d);
    }

    fn on_progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.inner.on_progress(bytes_read, total);
    }

    fn on_secrets(&mut self, secrets_type: u32, data: &[u8]) {
        if secrets_type == SECRETS_TLS {
            let c = self.ctx.found.add_text(data);
            self.ctx.counts.keylog_lines += c.usable;
            self.ctx.counts.keylog_malformed += c.malformed;
            if c.malformed > 0 {
                self.inner.on_diagnostic(Diagnostic::new(
                    Severity::Warning,
                    "tls.keylog_malformed",
                    format!("{} key log lines embedded in the capture do not parse and were skipped", c.malformed),
                ));
            }
        }
        self.inner.on_secrets(secrets_type, data);
    }

    fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
}

impl Conn {
    fn new(info: &ConnInfo) -> Self {
        Self {
            info: info.clone(),
            mode: Mode::Handshake,
            raw: Vec::new(),
            raw_bytes: 0,
            halves: [Half::default(), Half::default()],
            client_dir: None,
            ch: None,
            suite: None,
            tls13: false,
            master: None,
            outcome: None,
            tls: None,
            announced: false,
        }
    }

    fn data<H: StreamHandler>(&mut self, dir: Dir, data: &[u8], ts: Nanos, packet: u64, inner: &mut H, ctx: &mut Ctx) {
        if self.mode == Mode::Handshake {
            self.raw.push(Raw::Data(dir, data.to_vec(), ts, packet));
            self.raw_bytes += data.len();
        }
        let h = &mut self.halves[idx(dir)];
        if h.broken {
            return;
        }
        let at = h.base + h.buf.len() as u64;
        h.marks.push_back((at, ts, packet));
        h.buf.extend_from_slice(data);
        self.records(dir, inner, ctx);
        if self.mode == Mode::Handshake && self.raw_bytes > MAX_UNDECIDED {
            self.give_up(Outcome::NoHandshake, "no complete handshake in the first 256 KiB", inner, ctx);
        }
    }

    fn gap<H: StreamHandler>(&mut self, dir: Dir, len: u64, ts: Nanos, inner: &mut H, ctx: &mut Ctx) {
        if self.mode == Mode::Handshake {
            self.raw.push(Raw::Gap(dir, len, ts));
            self.give_up(Outcome::NoHandshake, "bytes of the handshake are missing", inner, ctx);
            return;
        }
        let h = &mut self.halves[idx(dir)];
        if h.broken {
            inner.on_gap(&self.info, dir, len, ts);
            return;
        }
        if h.keys.is_none() || len == 0 {
            inner.on_gap(&self.info, dir, len, ts);
            h.broken = true;
            h.buf = Vec::new();
            h.marks.clear();
            let msg = format!("{len} bytes of TLS records are missing; the rest of this direction cannot be decrypted");
            diag(inner, ctx, &self.info, "tls.gap", Severity::Warning, msg);
            return;
        }
        // Look for the next record boundary after the hole: at most one record per 22
        // missing bytes (the smallest protected record) can have been lost.
        // The plaintext gap is told to the parser once the next record is found (the number
        // of records lost gives their overhead); until then the lost bytes are summed.
        h.lost += (h.buf.len() - h.start) as u64 + len;
        h.lost_ts = ts;
        h.base += h.buf.len() as u64 + len;
        h.buf.clear();
        h.start = 0;
        h.marks.clear();
        h.resync = Some((len / 22 + 2).min(1 << 10));
        h.resync_scanned = 0;
        let msg = format!("{len} bytes of TLS records are missing; decryption resumes at the next record that opens");
        diag(inner, ctx, &self.info, "tls.gap", Severity::Warning, msg);
    }

    /// After a hole: find the first buffered record that opens with a sequence number at
    /// most `resync` records ahead, and move `start` to it. False when more bytes are
    /// needed (or the direction was given up).
    fn resync<H: StreamHandler>(
        &mut self,
        dir: Dir,
        buf: &[u8],
        start: &mut usize,
        inner: &mut H,
        ctx: &mut Ctx,
    ) -> bool {
        let h = &mut self.halves[idx(dir)];
        let (Some(ahead), Some(keys)) = (h.resync, h.keys.as_mut()) else { return true };
        while let Some(hdr) = buf.get(*start..*start + 5) {
            if h.resync_scanned > 1 << 20 {
                h.broken = true;
                inner.on_gap(&self.info, dir, h.lost, h.lost_ts);
                return false;
            }
            let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
            let plausible = matches!(hdr[0], 21 | 23) && hdr[1] == 3 && hdr[2] == 3 && (17..=MAX_RECORD).contains(&len);
            if plausible {
                let Some(body) = buf.get(*start + 5..*start + 5 + len) else { return false };
                let header = [hdr[0], hdr[1], hdr[2], hdr[3], hdr[4]];
                let first = keys.seq;
                for seq in first..=first.saturating_add(ahead) {
                    // Trial decryptions count against the search budget too (hostile input
                    // full of plausible headers must not cost unbounded work).
                    h.resync_scanned += len / 64;
                    keys.seq = seq;
                    ctx.scratch.clear();
                    ctx.scratch.extend_from_slice(body);
                    if keys.open(&header, &mut ctx.scratch).is_ok() {
                        keys.seq = seq;
                        h.resync = None;
                        let lost_records = seq - first;
                        let plain = h.lost.saturating_sub(lost_records * keys.overhead());
                        h.lost = 0;
                        inner.on_gap(&self.info, dir, plain, h.lost_ts);
                        return true;
                    }
                }
                keys.seq = first;
            }
            *start += 1;
            h.resync_scanned += 1;
            h.lost += 1;
        }
        false
    }

    /// Read every complete record buffered in `dir`.
    fn records<H: StreamHandler>(&mut self, dir: Dir, inner: &mut H, ctx: &mut Ctx) {
        let i = idx(dir);
        let mut buf = std::mem::take(&mut self.halves[i].buf);
        let mut start = self.halves[i].start;
        while self.mode != Mode::Pass && !self.halves[i].broken {
            if self.halves[i].resync.is_some() && !self.resync(dir, &buf, &mut start, inner, ctx) {
                break;
            }
            let Some(hdr) = buf.get(start..start + 5) else { break };
            let header: [u8; 5] = [hdr[0], hdr[1], hdr[2], hdr[3], hdr[4]];
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            if !(20..=24).contains(&header[0]) || header[1] != 3 || len > MAX_RECORD {
                self.garbage(dir, inner, ctx);
                break;
            }
            let Some(body) = buf.get_mut(start + 5..start + 5 + len) else { break };
            let off = self.halves[i].base + start as u64 + 5;
            start += 5 + len;
            self.record(dir, &header, body, off, inner, ctx);
        }
        let h = &mut self.halves[i];
        if h.broken || self.mode == Mode::Pass {
            h.buf = Vec::new();
            h.start = 0;
            h.marks.clear();
            return;
        }
        if start == buf.len() {
            h.base += start as u64;
            buf.clear();
            start = 0;
        } else if start >= 1 << 16 {
            h.base += start as u64;
            buf.drain(..start);
            start = 0;
        }
        // Marks wholly before the unread bytes are no longer needed (keep the one that
        // covers the first unread byte).
        let first = h.base + start as u64;
        while h.marks.len() > 1 && h.marks[1].0 <= first {
            h.marks.pop_front();
        }
        h.buf = buf;
        h.start = start;
    }

    fn garbage<H: StreamHandler>(&mut self, dir: Dir, inner: &mut H, ctx: &mut Ctx) {
        if self.mode == Mode::Handshake {
            self.give_up(Outcome::NoHandshake, "the bytes are not TLS records", inner, ctx);
            return;
        }
        self.halves[idx(dir)].broken = true;
        diag(
            inner,
            ctx,
            &self.info,
            "tls.garbage",
            Severity::Warning,
            "bytes that are not TLS records follow; the rest of this direction is not decrypted".into(),
        );
        inner.on_gap(&self.info, dir, 0, 0);
    }

    fn record<H: StreamHandler>(
        &mut self,
        dir: Dir,
        header: &[u8; 5],
        body: &mut [u8],
        off: u64,
        inner: &mut H,
        ctx: &mut Ctx,
    ) {
        let i = idx(dir);
        if self.halves[i].keys.is_some() && header[0] != 20 {
            return self.protected(dir, header, body, off, inner, ctx);
        }
        match header[0] {
            22 => {
                let msgs = self.halves[i].msgs.push(body);
                for (t, m) in msgs {
                    self.handshake(dir, t, &m, inner, ctx);
                    if self.mode == Mode::Pass {
                        return;
                    }
                }
            }
            20 if !self.tls13 => {
                let h = &mut self.halves[i];
                if let Some(k) = h.pending.take() {
                    h.keys = Some(k);
                }
            }
            23 if self.ch.is_none() => {
                self.give_up(Outcome::NoHandshake, "the capture starts after the TLS handshake", inner, ctx);
            }
            // 0-RTT data before the ServerHello: not decrypted; the client's later records
            // may still be early data, so skip what does not open.
            23 if Some(dir) == self.client_dir => self.halves[i].skip_until_ok = true,
            _ => {}
        }
    }

    fn protected<H: StreamHandler>(
        &mut self,
        dir: Dir,
        header: &[u8; 5],
        body: &mut [u8],
        off: u64,
        inner: &mut H,
        ctx: &mut Ctx,
    ) {
        let i = idx(dir);
        let suite = self.suite;
        let h = &mut self.halves[i];
        let trial = self.tls13 && (h.hs_phase || h.skip_until_ok);
        if trial {
            ctx.scratch.clear();
            ctx.scratch.extend_from_slice(body);
        }
        let Some(keys) = h.keys.as_mut() else { return };
        let res = match keys.open(header, body) {
            Ok(r) => Ok(r),
            Err(e) if trial => {
                // TLS 1.3: the record may already be under the application keys (no
                // handshake secret in the key log, a Finished not seen) or be 0-RTT data.
                let app = suite.zip(h.app_secret.as_deref()).and_then(|(s, sec)| crypto::tls13_keys(s, sec));
                match app {
                    Some(mut k) if h.hs_phase => {
                        body.copy_from_slice(&ctx.scratch);
                        match k.open(header, body) {
                            Ok(r) => {
                                h.keys = Some(k);
                                h.hs_phase = false;
                                h.skip_until_ok = false;
                                Ok(r)
                            }
                            Err(_) if h.skip_until_ok => return,
                            Err(_) => Err(e),
                        }
                    }
                    _ if h.skip_until_ok => return,
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match res {
            Ok((range, ty)) => {
                h.skip_until_ok = false;
                ctx.counts.records += 1;
                let plain_off = off + range.start as u64;
                let plain = &body[range];
                self.plaintext(dir, ty, plain, plain_off, inner, ctx);
            }
            Err(e) => {
                h.broken = true;
                h.failed = true;
                let what = match e {
                    OpenError::BadTag => {
                        "a TLS record does not authenticate: the key log's secret for this session is wrong (or the record is damaged)"
                    }
                    OpenError::Short => "a TLS record is too short for its cipher",
                };
                let side = if Some(dir) == self.client_dir { "client" } else { "server" };
                diag(
                    inner,
                    ctx,
                    &self.info,
                    "tls.decrypt_failed",
                    Severity::Error,
                    format!("{what}; the rest of the {side}'s data is not decrypted"),
                );
                inner.on_gap(&self.info, dir, 0, 0);
            }
        }
    }

    fn plaintext<H: StreamHandler>(&mut self, dir: Dir, ty: u8, plain: &[u8], off: u64, inner: &mut H, ctx: &mut Ctx) {
        match ty {
            23 if !plain.is_empty() => self.deliver(dir, plain, off, inner, ctx),
            22 => {
                let msgs = self.halves[idx(dir)].msgs.push(plain);
                for (t, m) in msgs {
                    self.handshake(dir, t, &m, inner, ctx);
                }
            }
            _ => {}
        }
    }

    /// Pass plaintext on, split at the segments that carried its ciphertext.
    fn deliver<H: StreamHandler>(&mut self, dir: Dir, plain: &[u8], off: u64, inner: &mut H, ctx: &mut Ctx) {
        if !self.announced {
            self.announced = true;
            if let Some(t) = &self.tls {
                inner.on_tls(&self.info, t);
            }
        }
        ctx.counts.plaintext_bytes += plain.len() as u64;
        let marks = &self.halves[idx(dir)].marks;
        let mut k = marks.iter().rposition(|m| m.0 <= off).unwrap_or(0);
        let mut pos = 0usize;
        while pos < plain.len() {
            let (_, ts, pkt) = marks.get(k).copied().unwrap_or((0, 0, 0));
            let end = marks.get(k + 1).map_or(plain.len(), |m| {
                usize::try_from(m.0.saturating_sub(off)).unwrap_or(usize::MAX).clamp(pos + 1, plain.len())
            });
            inner.on_data(&self.info, dir, &plain[pos..end], ts, pkt);
            pos = end;
            k += 1;
        }
    }

    fn handshake<H: StreamHandler>(&mut self, dir: Dir, t: u8, m: &[u8], inner: &mut H, ctx: &mut Ctx) {
        match t {
            kind::CLIENT_HELLO if self.mode == Mode::Handshake => {
                let Some(ch) = handshake::client_hello(m) else { return };
                self.client_dir = Some(dir);
                let resumable = !ch.session_id.is_empty() || !ch.ticket.is_empty();
                let known = ctx.secrets(&ch.random).is_some();
                self.ch = Some(ch);
                if !known && !resumable {
                    self.give_up(Outcome::NoKey, "", inner, ctx);
                }
            }
            kind::SERVER_HELLO if self.mode == Mode::Handshake => {
                if let Some(sh) = handshake::server_hello(m) {
                    if !sh.retry {
                        self.server_hello(&sh, inner, ctx);
                    }
                }
            }
            kind::NEW_SESSION_TICKET if !self.tls13 => {
                if let (Some(ticket), Some(ms)) = (handshake::new_session_ticket(m), &self.master) {
                    if !ticket.is_empty() {
                        ctx.by_session.insert(ticket, ms.clone());
                    }
                }
            }
            kind::ENCRYPTED_EXTENSIONS if self.tls13 => {
                if let (Some(alpn), Some(t)) = (handshake::encrypted_extensions_alpn(m), &self.tls) {
                    if !self.announced {
                        let mut info = (**t).clone();
                        info.alpn = Some(alpn);
                        self.tls = Some(Arc::new(info));
                    }
                }
            }
            kind::FINISHED if self.tls13 => {
                let suite = self.suite;
                let h = &mut self.halves[idx(dir)];
                if h.hs_phase {
                    h.hs_phase = false;
                    h.keys = suite.zip(h.app_secret.as_deref()).and_then(|(s, sec)| crypto::tls13_keys(s, sec));
                }
            }
            kind::KEY_UPDATE if self.tls13 => {
                let Some(s) = self.suite else { return };
                let h = &mut self.halves[idx(dir)];
                if let Some(sec) = &h.app_secret {
                    let next = crypto::next_secret(s, sec);
                    h.keys = crypto::tls13_keys(s, &next);
                    h.app_secret = Some(next);
                }
            }
            _ => {}
        }
    }

    fn server_hello<H: StreamHandler>(&mut self, sh: &ServerHello, inner: &mut H, ctx: &mut Ctx) {
        let Some(ch) = self.ch.clone() else {
            self.give_up(Outcome::NoHandshake, "the ClientHello was not captured", inner, ctx);
            return;
        };
        let Some(cdir) = self.client_dir else { return };
        if !matches!(sh.version, 0x0303 | 0x0304) {
            self.give_up(Outcome::Unsupported(handshake::version_name(sh.version)), "", inner, ctx);
            return;
        }
        let Some(suite) = crypto::suite(sh.suite).filter(|s| s.tls13 == (sh.version == 0x0304)) else {
            self.give_up(Outcome::Unsupported(crypto::unsupported_name(sh.suite)), "", inner, ctx);
            return;
        };
        self.suite = Some(suite);
        self.tls13 = sh.version == 0x0304;
        let secrets = ctx.secrets(&ch.random).cloned().unwrap_or_default();
        let ok = if self.tls13 {
            self.keys13(cdir, suite, &secrets)
        } else {
            let master = secrets.master.clone().or_else(|| {
                let by_id = (!sh.session_id.is_empty() && sh.session_id == ch.session_id)
                    .then(|| ctx.by_session.get(&sh.session_id).cloned())
                    .flatten();
                by_id.or_else(|| ctx.by_session.get(&ch.ticket).cloned())
            });
            match master {
                Some(ms) => {
                    let keys = crypto::tls12_keys(suite, &ms, &ch.random, &sh.random, ch.etm && sh.etm);
                    if !sh.session_id.is_empty() {
                        ctx.by_session.insert(sh.session_id.clone(), ms.clone());
                    }
                    self.master = Some(ms);
                    keys.is_some_and(|(c, s)| {
                        self.halves[idx(cdir)].pending = Some(c);
                        self.halves[idx(cdir.flip())].pending = Some(s);
                        true
                    })
                }
                None => false,
            }
        };
        if !ok {
            self.give_up(Outcome::NoKey, "", inner, ctx);
            return;
        }
        self.tls = Some(Arc::new(TlsInfo {
            version: handshake::version_name(sh.version),
            cipher: suite.name.to_string(),
            alpn: sh.alpn.clone(),
            sni: ch.sni.clone(),
        }));
        self.mode = Mode::Decrypt;
        self.raw = Vec::new();
    }

    /// Set up TLS 1.3 keys for both directions; false when the key log lacks the secrets.
    fn keys13(&mut self, cdir: Dir, suite: &'static Suite, s: &Secrets) -> bool {
        let mut set = |dir: Dir, hs: &Option<Vec<u8>>, app: &Option<Vec<u8>>| -> bool {
            let h = &mut self.halves[idx(dir)];
            h.app_secret.clone_from(app);
            match (hs, app) {
                (Some(hs), _) => {
                    h.keys = crypto::tls13_keys(suite, hs);
                    h.hs_phase = true;
                }
                (None, Some(app)) => {
                    h.keys = crypto::tls13_keys(suite, app);
                    h.skip_until_ok = true;
                }
                (None, None) => return false,
            }
            h.keys.is_some()
        };
        let c = set(cdir, &s.client_hs, &s.client_app);
        let sv = set(cdir.flip(), &s.server_hs, &s.server_app);
        c || sv
    }

    /// Stop trying: report `outcome`, replay what was kept, and pass the rest through.
    fn give_up<H: StreamHandler>(&mut self, outcome: Outcome, why: &str, inner: &mut H, ctx: &mut Ctx) {
        if self.mode != Mode::Handshake {
            return;
        }
        self.mode = Mode::Pass;
        self.report(&outcome, why, inner, ctx);
        self.outcome = Some(outcome);
        for ev in std::mem::take(&mut self.raw) {
            match ev {
                Raw::Data(d, b, ts, p) => inner.on_data(&self.info, d, &b, ts, p),
                Raw::Gap(d, len, ts) => inner.on_gap(&self.info, d, len, ts),
                Raw::Retrans(d, behind, len, ts, p) => inner.on_retransmission(&self.info, d, behind, len, ts, p),
            }
        }
        self.halves = [Half::default(), Half::default()];
    }

    fn report<H: StreamHandler>(&self, outcome: &Outcome, why: &str, inner: &mut H, ctx: &mut Ctx) {
        let msg = match outcome {
            Outcome::Decrypted => return,
            Outcome::NoKey => {
                let random = self.ch.as_ref().map(|c| c.random.iter().map(|b| format!("{b:02x}")).collect::<String>());
                format!(
                    "TLS connection not decrypted: no key for client random {} (pass the key log with --keylog or SSLKEYLOGFILE)",
                    random.as_deref().unwrap_or("?")
                )
            }
            Outcome::Unsupported(name) => format!("TLS connection not decrypted: {name} is not supported"),
            Outcome::DecryptFailed => return,
            Outcome::NoHandshake => format!(
                "TLS connection not decrypted: {why}; the handshake is needed (always for TLS 1.3, and for the randoms of TLS 1.2)"
            ),
        };
        diag(inner, ctx, &self.info, outcome.code(), Severity::Warning, msg);
    }

    fn finish<H: StreamHandler>(&mut self, inner: &mut H, ctx: &mut Ctx) {
        if self.mode == Mode::Handshake {
            let why =
                if self.ch.is_some() { "the ServerHello was not captured" } else { "no ClientHello was captured" };
            self.give_up(Outcome::NoHandshake, why, inner, ctx);
        }
        let outcome = match self.outcome.take() {
            Some(o) => o,
            None if self.halves.iter().any(|h| h.failed) => Outcome::DecryptFailed,
            None => Outcome::Decrypted,
        };
        ctx.counts.count(&outcome);
    }
}

fn diag<H: StreamHandler>(
    inner: &mut H,
    ctx: &mut Ctx,
    info: &ConnInfo,
    code: &'static str,
    sev: Severity,
    msg: String,
) {
    let n = ctx.diags.entry(code).or_insert(0);
    *n += 1;
    if *n <= DIAG_LIMIT {
        let at = format!("connection {} ({} → {})", info.id, info.client, info.server);
        inner.on_diagnostic(Diagnostic::new(sev, code, msg).at(at));
    }
}

#[cfg(test)]
mod tests {
    use aes_gcm::{AeadInOut, Aes128Gcm, KeyInit};

    use super::*;
    use crate::ingest::capture::HttpAdapter;
    use crate::ingest::{Collect, ReadOptions};

    /// Seals TLS 1.3 records (AES-128-GCM) for one direction.
    struct Sealer {
        aead: Aes128Gcm,
        iv: [u8; 12],
        seq: u64,
    }

    impl Sealer {
        fn new(secret: &[u8]) -> Self {
            let key = crypto::expand_label(crypto::HashAlg::Sha256, secret, "key", &[], 16);
            let iv = crypto::expand_label(crypto::HashAlg::Sha256, secret, "iv", &[], 12);
            Self { aead: Aes128Gcm::new_from_slice(&key).unwrap(), iv: iv.try_into().unwrap(), seq: 0 }
        }

        fn seal(&mut self, ty: u8, data: &[u8]) -> Vec<u8> {
            let mut inner = data.to_vec();
            inner.push(ty);
            inner.extend([0u8; 3]); // padding
            let hdr = [23, 3, 3, ((inner.len() + 16) >> 8) as u8, (inner.len() + 16) as u8];
            let mut nonce = self.iv;
            for (a, b) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *a ^= b;
            }
            self.seq += 1;
            let tag = self.aead.encrypt_inout_detached(&nonce.into(), &hdr, inner.as_mut_slice().into()).unwrap();
            [&hdr[..], &inner, &tag[..]].concat()
        }
    }

    fn hs(t: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len();
        [&[t, (n >> 16) as u8, (n >> 8) as u8, n as u8][..], body].concat()
    }

    fn plain(ty: u8, data: &[u8]) -> Vec<u8> {
        [&[ty, 3, 3, (data.len() >> 8) as u8, data.len() as u8][..], data].concat()
    }

    fn hello(t: u8, random: [u8; 32], exts: &[u8]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend(random);
        b.push(0);
        if t == 1 {
            b.extend([0, 2, 0x13, 0x01, 1, 0]);
        } else {
            b.extend([0x13, 0x01, 0]);
        }
        b.extend((exts.len() as u16).to_be_bytes());
        b.extend(exts);
        plain(22, &hs(t, &b))
    }

    const HRR: [u8; 32] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2,
        0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];

    /// A TLS 1.3 session with a HelloRetryRequest, middlebox ChangeCipherSpecs, padded
    /// records, an ALPN in EncryptedExtensions and a server KeyUpdate between two responses.
    #[test]
    fn tls13_with_retry_ccs_padding_and_key_update_gives_both_exchanges() {
        let random = [9u8; 32];
        let (chs, shs, cap, sap) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut keys = KeyLog::new();
        let log = format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {r} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {}\n\
             CLIENT_TRAFFIC_SECRET_0 {r} {}\nSERVER_TRAFFIC_SECRET_0 {r} {}\n",
            hex(&chs),
            hex(&shs),
            hex(&cap),
            hex(&sap),
            r = hex(&random)
        );
        assert_eq!(keys.add_text(log.as_bytes()).usable, 4);
        let sni = [&[0, 0, 0, 14, 0, 12, 0, 0, 9][..], b"api.test."].concat();
        let sv = [0, 43, 0, 2, 3, 4];
        let alpn = [&[0, 16, 0, 11, 0, 9, 8][..], b"http/1.1"].concat();
        let mut client = Vec::new();
        let mut server = Vec::new();
        client.push(hello(1, random, &sni));
        server.push([hello(2, HRR, &sv), plain(20, &[1])].concat());
        client.push([plain(20, &[1]), hello(1, random, &sni)].concat());
        let (mut s_hs, mut c_hs) = (Sealer::new(&shs), Sealer::new(&chs));
        let flight = [hs(8, &[&[0, alpn.len() as u8][..], &alpn].concat()), hs(20, &[0; 32])].concat();
        server.push([hello(2, [5; 32], &sv), s_hs.seal(22, &flight)].concat());
        let (mut c_app, mut s_app) = (Sealer::new(&cap), Sealer::new(&sap));
        client.push(
            [c_hs.seal(22, &hs(20, &[0; 32])), c_app.seal(23, b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")]
                .concat(),
        );
        server.push(s_app.seal(23, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        let next = crypto::next_secret(crypto::suite(0x1301).unwrap(), &sap);
        let update = s_app.seal(22, &hs(24, &[0]));
        let mut s_next = Sealer::new(&next);
        server.push([update, s_next.seal(23, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")].concat());

        let mut sink = Collect::default();
        let counts = {
            let adapter = HttpAdapter::new(Arc::from("t"), ReadOptions::default(), &mut sink);
            let mut layer = TlsLayer::new(adapter, Arc::new(keys));
            let info = ConnInfo {
                id: 0,
                client: "10.0.0.1:5000".parse().unwrap(),
                server: "10.0.0.2:443".parse().unwrap(),
                syn_seen: true,
            };
            layer.on_open(&info, 0);
            // Alternate flights as on the wire, each cut into 7-byte segments.
            for i in 0..client.len().max(server.len()) {
                for (dir, flights) in [(Dir::ToServer, &client), (Dir::ToClient, &server)] {
                    if let Some(f) = flights.get(i) {
                        for (k, seg) in f.chunks(7).enumerate() {
                            layer.on_data(&info, dir, seg, (i * 1000 + k) as i64, (i * 1000 + k) as u64);
                        }
                    }
                }
            }
            layer.on_close(&info, CloseKind::Fin, 99_999);
            let (adapter, counts) = layer.finish();
            adapter.finish();
            counts
        };
        assert_eq!((counts.decrypted, counts.decrypt_failed), (1, 0), "{counts:?} {:?}", sink.diagnostics);
        assert_eq!(sink.exchanges.len(), 2);
        let got: Vec<(&str, Option<u16>)> =
            sink.exchanges.iter().map(|e| (e.request.target.as_str(), e.status())).collect();
        assert_eq!(got, [("/a", Some(200)), ("/b", Some(404))]);
        let e = &sink.exchanges[0];
        assert_eq!(e.host(), "api.test.");
        assert_eq!(e.request.scheme.as_deref(), Some("https"));
        let tls = e.tls.as_deref().unwrap();
        assert_eq!((tls.version.as_str(), tls.cipher.as_str()), ("TLS 1.3", "TLS_AES_128_GCM_SHA256"));
        assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(tls.sni.as_deref(), Some("api.test."));
    }
}
