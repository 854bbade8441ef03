//! TCP: header parsing and the per-connection, per-direction [`Reassembler`].
//!
//! Each direction keeps the next expected sequence number (unwrapped to 64 bits, so the
//! 32-bit wrap is invisible) and a map of out-of-order bytes. In-order payload goes straight
//! to the [`StreamHandler`] from the packet slice (zero-copy); only segments that arrive
//! ahead of a hole are copied. Overlaps keep the first copy seen and count conflicting bytes.
//! A hole becomes an explicit gap when the other side's ACK (or this side's FIN, or the end
//! of the connection) proves the bytes will not come, or when buffered data passes the
//! per-stream memory cap. Connections close on FIN from both sides, RST, a new SYN on the
//! same 4-tuple, idle timeout (capture clock) or the end of the capture; their state is freed
//! then, so memory follows concurrent connections, not file size.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::CaptureStats;
use super::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use crate::model::{Diagnostic, Nanos, Severity};

/// TCP flag bits.
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// ACK flag.
pub const ACK: u8 = 0x10;

/// The fields of a TCP header the reassembler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags (low 8 bits).
    pub flags: u8,
    /// The segment carries a TCP MD5 signature option (RFC 2385, kind 19).
    pub md5: bool,
}

/// True when the TCP options hold an MD5 signature (kind 19).
fn has_md5_option(mut opts: &[u8]) -> bool {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return false,
            1 => opts = &opts[1..],
            19 => return true,
            _ => {
                let len = usize::from(opts.get(1).copied().unwrap_or(0));
                if len < 2 {
                    return false;
                }
                opts = opts.get(len..).unwrap_or(&[]);
            }
        }
    }
    false
}

/// Parse a TCP header; returns it and the payload.
///
/// # Errors
/// A short reason when the header is cut short or its data offset is impossible.
pub fn parse_header(b: &[u8]) -> Result<(TcpHeader, &[u8]), &'static str> {
    let h: &[u8; 20] = b.get(..20).and_then(|s| s.try_into().ok()).ok_or("TCP header cut short")?;
    let off = usize::from(h[12] >> 4) * 4;
    if off < 20 {
        return Err("TCP data offset below 20");
    }
    let payload = b.get(off..).ok_or("TCP options cut short")?;
    Ok((
        TcpHeader {
            sport: u16::from_be_bytes([h[0], h[1]]),
            dport: u16::from_be_bytes([h[2], h[3]]),
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            flags: h[13],
            md5: has_md5_option(b.get(20..off).unwrap_or(&[])),
        },
        payload,
    ))
}

/// One TCP segment as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Source address (128-bit; IPv4 mapped).
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// True for IPv6.
    pub v6: bool,
    /// The TCP header.
    pub tcp: TcpHeader,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload bytes the IP header declares but the capture cut (snaplen).
    pub missing: u32,
}

/// Small multiplicative hasher for the connection table (keys are not attacker-chosen in a
/// way that matters for an offline tool, and SipHash costs more than the rest of a lookup).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    a: u128,
    b: u128,
    pa: u16,
    pb: u16,
    v6: bool,
}

impl Key {
    fn new(s: &Segment<'_>) -> Self {
        let (x, y) = ((s.src, s.tcp.sport), (s.dst, s.tcp.dport));
        let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
        Self { a: lo.0, b: hi.0, pa: lo.1, pb: hi.1, v6: s.v6 }
    }
}

/// Bytes buffered ahead of a hole.
#[derive(Debug)]
struct Buffered {
    data: Vec<u8>,
    ts: Nanos,
    pkt: u64,
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Half {
    started: bool,
    syn: bool,
    isn: u32,
    /// Next expected sequence number, unwrapped (starts at 2^32 + first seq).
    next: u64,
    /// Sequence number the FIN occupies, once seen.
    fin: Option<u64>,
    ooo: BTreeMap<u64, Buffered>,
    ooo_bytes: usize,
    cap_noted: bool,
    /// Second copies of buffered bytes (`start`, `end`, time, packet), reported as
    /// retransmissions once those bytes are delivered.
    late: Vec<(u64, u64, Nanos, u64)>,
}

impl Half {
    fn fin_done(&self) -> bool {
        self.fin.is_some_and(|f| self.next >= f)
    }
}

#[derive(Debug)]
struct Conn {
    info: ConnInfo,
    client: (u128, u16),
    /// `[ToServer, ToClient]`.
    halves: [Half; 2],
    last_ts: Nanos,
    /// A RST was seen (time, direction it came from): the connection closes when nothing
    /// contradicts it; data sent after it by the same side means the RST was ignored.
    rst: Option<(Nanos, Dir)>,
}

const BASE: u64 = 1 << 32;
/// How long a closed 4-tuple is remembered (capture clock).
const LINGER: Nanos = 30_000_000_000;
/// Data further ahead than this (or ACKs further ahead) is not believed.
const MAX_AHEAD: u64 = 1 << 30;
/// How far from the next expected sequence number a RST may be and still be believed.
const RST_WINDOW: u64 = 1 << 20;
/// How long (capture clock) a believed RST waits for data that would contradict it.
const RST_GRACE: Nanos = 1_000_000_000;

/// Unwrap a 32-bit sequence number to the 64-bit value closest to `reference`.
fn unwrap(seq: u32, reference: u64) -> u64 {
    let c = (reference & !0xffff_ffff) | u64::from(seq);
    if c > reference && c - reference > 1 << 31 && c >= BASE {
        c - BASE
    } else if c < reference && reference - c > 1 << 31 {
        c + BASE
    } else {
        c
    }
}

fn socket(addr: u128, port: u16, v6: bool) -> SocketAddr {
    let ip = if v6 { IpAddr::V6(Ipv6Addr::from(addr)) } else { IpAddr::V4(Ipv4Addr::from(addr as u32)) };
    SocketAddr::new(ip, port)
}

/// Ports that are usually servers (below 1024, or common service ports above it).
fn is_service_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            1080 | 1433
                | 1521
                | 2375
                | 2376
                | 3000
                | 3128
                | 3306
                | 5000
                | 5432
                | 5672
                | 5984
                | 6379
                | 6443
                | 7001
                | 8000
                | 8008
                | 8080
                | 8081
                | 8088
                | 8443
                | 8888
                | 9000
                | 9090
                | 9200
                | 9443
                | 11211
                | 27017
        )
}

/// Delivery context: who to tell and what to count.
struct Out<'h, 's> {
    h: &'h mut dyn StreamHandler,
    st: &'s mut CaptureStats,
}

impl Out<'_, '_> {
    fn data(&mut self, info: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, pkt: u64) {
        if !data.is_empty() {
            self.st.stream_bytes += data.len() as u64;
            self.h.on_data(info, dir, data, ts, pkt);
        }
    }

    fn retransmission(&mut self, info: &ConnInfo, dir: Dir, behind: u64, len: u64, ts: Nanos, pkt: u64) {
        if len > 0 {
            self.h.on_retransmission(info, dir, behind, len, ts, pkt);
        }
    }

    fn gap(&mut self, info: &ConnInfo, dir: Dir, len: u64, ts: Nanos) {
        self.st.gaps += 1;
        self.st.gap_bytes += len;
        self.h.on_gap(info, dir, len, ts);
    }
}

impl Half {
    /// Deliver buffered segments that now start at or before `next`.
    fn drain(&mut self, info: &ConnInfo, dir: Dir, out: &mut Out<'_, '_>) {
        while let Some(entry) = self.ooo.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let b = entry.remove();
            self.ooo_bytes -= b.data.len();
            let end = k + b.data.len() as u64;
            if end > self.next {
                let skip = (self.next - k) as usize;
                out.data(info, dir, b.data.get(skip..).unwrap_or(&[]), b.ts, b.pkt);
                self.next = end;
                if !self.late.is_empty() {
                    self.report_late(info, dir, false, out);
                }
            }
        }
    }

    /// Report the second copies of bytes now delivered (all of them, clamped, at `close`).
    fn report_late(&mut self, info: &ConnInfo, dir: Dir, close: bool, out: &mut Out<'_, '_>) {
        let next = self.next;
        let mut keep = Vec::new();
        for (a, b, ts, pkt) in std::mem::take(&mut self.late) {
            if b <= next || (close && a < next) {
                let b = b.min(next);
                out.retransmission(info, dir, next - a, b - a, ts, pkt);
            } else if !close {
                keep.push((a, b, ts, pkt));
            }
        }
        self.late = keep;
    }

    /// Buffer `data` at `s` (> next), keeping bytes already buffered (first copy wins).
    fn insert(&mut self, s: u64, data: &[u8], ts: Nanos, pkt: u64, st: &mut CaptureStats) {
        let e = s + data.len() as u64;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut cur = s;
        let before = self.ooo.range(..s).next_back();
        let overlapping = before.into_iter().chain(self.ooo.range(s..e));
        for (&k, b) in overlapping {
            let kend = k + b.data.len() as u64;
            if kend <= s {
                continue;
            }
            if k > cur {
                pieces.push((cur, k));
            }
            let (os, oe) = (k.max(s), kend.min(e));
            if oe > os {
                st.retransmitted_bytes += oe - os;
                self.late.push((os, oe, ts, pkt));
                let old = b.data.get((os - k) as usize..(oe - k) as usize);
                let new = data.get((os - s) as usize..(oe - s) as usize);
                if old != new {
                    st.conflicting_overlaps += 1;
                }
            }
            cur = cur.max(kend);
        }
        if cur < e {
            pieces.push((cur, e));
        }
        for (a, b) in pieces {
            let Some(part) = data.get((a - s) as usize..(b - s) as usize) else { continue };
            self.ooo_bytes += part.len();
            self.ooo.insert(a, Buffered { data: part.to_vec(), ts, pkt });
        }
    }

    /// Declare the bytes up to `upto` (or the first buffered segment, if sooner) missing,
    /// then deliver what follows; repeated until `next >= upto` or nothing is buffered.
    fn skip_to(&mut self, upto: u64, info: &ConnInfo, dir: Dir, ts: Nanos, out: &mut Out<'_, '_>) {
        while self.next < upto {
            let hole_end = self.ooo.first_key_value().map_or(upto, |(&k, _)| k.min(upto));
            if hole_end > self.next {
                out.gap(info, dir, hole_end - self.next, ts);
                self.next = hole_end;
            }
            self.drain(info, dir, out);
        }
    }

    /// At close: everything buffered is delivered, holes before it (and before a FIN) as gaps.
    fn flush(&mut self, info: &ConnInfo, dir: Dir, ts: Nanos, out: &mut Out<'_, '_>) {
        while let Some((&k, _)) = self.ooo.first_key_value() {
            if k > self.next {
                out.gap(info, dir, k - self.next, ts);
                self.next = k;
            }
            self.drain(info, dir, out);
        }
        if !self.late.is_empty() {
            self.report_late(info, dir, true, out);
        }
        if let Some(f) = self.fin {
            if f > self.next && f - self.next < MAX_AHEAD {
                out.gap(info, dir, f - self.next, ts);
                self.next = f;
            }
        }
    }
}

impl Conn {
    fn dir_of(&self, src: u128, sport: u16) -> Dir {
        if (src, sport) == self.client { Dir::ToServer } else { Dir::ToClient }
    }

    /// Apply one segment; returns how the connection ended, if it did.
    fn segment(
        &mut self,
        seg: &Segment<'_>,
        ts: Nanos,
        pkt: u64,
        cap: usize,
        out: &mut Out<'_, '_>,
    ) -> Option<CloseKind> {
        let dir = self.dir_of(seg.src, seg.tcp.sport);
        let flags = seg.tcp.flags;
        let info = &self.info;
        let [a, b] = &mut self.halves;
        let (hs, ho) = match dir {
            Dir::ToServer => (a, b),
            Dir::ToClient => (b, a),
        };
        let syn = flags & SYN != 0;
        if !hs.started {
            hs.started = true;
            hs.next = BASE + u64::from(seg.tcp.seq) + u64::from(syn);
            if syn {
                hs.syn = true;
                hs.isn = seg.tcp.seq;
            } else if !info.syn_seen {
                // The capture started mid-stream: what came before is unknown.
                out.st.midstream_directions += 1;
                out.h.on_gap(info, dir, 0, ts);
            }
        }
        let s = unwrap(seg.tcp.seq, hs.next) + u64::from(syn);
        let len = seg.payload.len() as u64;
        let end = s + len;
        if len > 0 {
            if end <= hs.next {
                out.st.retransmitted_bytes += len;
                // A keep-alive probe repeats the one byte below the next sequence number.
                if !(len == 1 && end == hs.next) {
                    out.retransmission(info, dir, hs.next - s, len, ts, pkt);
                }
            } else if s + MAX_AHEAD < hs.next || s > hs.next + MAX_AHEAD {
                out.st.out_of_window_segments += 1;
            } else {
                let (s2, p2) = if s < hs.next {
                    let skip = hs.next - s;
                    out.st.retransmitted_bytes += skip;
                    out.retransmission(info, dir, skip, skip, ts, pkt);
                    (hs.next, seg.payload.get(skip as usize..).unwrap_or(&[]))
                } else {
                    (s, seg.payload)
                };
                if s2 == hs.next && hs.ooo.is_empty() {
                    out.data(info, dir, p2, ts, pkt);
                    hs.next = end;
                    if seg.missing > 0 {
                        out.gap(info, dir, u64::from(seg.missing), ts);
                        hs.next += u64::from(seg.missing);
                    }
                } else {
                    if s2 > hs.next {
                        out.st.out_of_order_segments += 1;
                    }
                    hs.insert(s2, p2, ts, pkt, out.st);
                    hs.drain(info, dir, out);
                    if hs.ooo_bytes > cap {
                        if !hs.cap_noted {
                            hs.cap_noted = true;
                            out.st.diagnostics += 1;
                            out.h.on_diagnostic(
                                Diagnostic::new(
                                    Severity::Warning,
                                    "tcp.memory_cap",
                                    format!(
                                        "connection {}: more than {cap} bytes buffered behind a hole; the hole is \
                                         given up as a gap",
                                        info.id
                                    ),
                                )
                                .at(format!("packet {pkt}")),
                            );
                        }
                        out.st.memory_cap_hits += 1;
                        while hs.ooo_bytes > cap {
                            let Some((&k, _)) = hs.ooo.first_key_value() else { break };
                            hs.skip_to(k, info, dir, ts, out);
                            hs.drain(info, dir, out);
                        }
                    }
                }
            }
        } else if seg.missing > 0 && s == hs.next && hs.ooo.is_empty() {
            out.gap(info, dir, u64::from(seg.missing), ts);
            hs.next += u64::from(seg.missing);
        }
        if flags & FIN != 0 && hs.fin.is_none() {
            hs.fin = Some(end + u64::from(seg.missing));
        }
        // The other side acknowledges bytes: anything it acknowledged that we never saw is lost.
        if flags & ACK != 0 && ho.started {
            let mut acked = unwrap(seg.tcp.ack, ho.next);
            if let Some(f) = ho.fin {
                acked = acked.min(f);
            }
            if acked > ho.next && acked - ho.next < MAX_AHEAD {
                ho.skip_to(acked, info, dir.flip(), ts, out);
            }
        }
        if flags & RST != 0 {
            // A RST the peer would drop: signed (not verifiable here) or outside the window.
            let rs = unwrap(seg.tcp.seq, hs.next);
            if seg.tcp.md5 || rs + RST_WINDOW < hs.next || rs > hs.next + RST_WINDOW {
                out.st.ignored_rsts += 1;
                return None;
            }
            return Some(CloseKind::Rst);
        }
        if hs.fin_done() && ho.fin_done() {
            return Some(CloseKind::Fin);
        }
        None
    }

    fn close(mut self, how: CloseKind, ts: Nanos, out: &mut Out<'_, '_>) {
        let info = &self.info;
        let [a, b] = &mut self.halves;
        a.flush(info, Dir::ToServer, ts, out);
        b.flush(info, Dir::ToClient, ts, out);
        let how = match how {
            CloseKind::Idle | CloseKind::EndOfCapture if a.fin.is_some() || b.fin.is_some() => CloseKind::Fin,
            other => other,
        };
        match how {
            CloseKind::Fin => out.st.closed_fin += 1,
            CloseKind::Rst => out.st.closed_rst += 1,
            CloseKind::Idle => out.st.closed_idle += 1,
            CloseKind::Reused => out.st.closed_reused += 1,
            CloseKind::EndOfCapture => out.st.closed_end += 1,
            CloseKind::Evicted => out.st.closed_evicted += 1,
            CloseKind::MemoryCap => {}
        }
        out.h.on_close(info, how, ts);
    }
}

/// All connections of a capture.
#[derive(Debug)]
pub struct Reassembler {
    conns: HashMap<Key, Box<Conn>, BuildHasherDefault<FxHasher>>,
    /// 4-tuples closed by FIN or RST in the last [`LINGER`] ns: late segments of those
    /// connections are not taken for new mid-stream connections.
    recent: HashMap<Key, Nanos, BuildHasherDefault<FxHasher>>,
    next_id: u64,
    idle_timeout: i64,
    cap: usize,
    max_conns: usize,
    now: Nanos,
    next_sweep: Nanos,
    /// When the earliest pending RST is due to close its connection.
    rst_due: Nanos,
}

impl Reassembler {
    /// A reassembler closing connections idle for `idle_timeout_ns` (capture clock) and
    /// buffering at most `stream_mem_cap` bytes behind a hole per direction.
    #[must_use]
    pub fn new(idle_timeout_ns: i64, stream_mem_cap: usize) -> Self {
        Self {
            conns: HashMap::default(),
            recent: HashMap::default(),
            next_id: 0,
            idle_timeout: idle_timeout_ns.max(1),
            cap: stream_mem_cap.max(1),
            max_conns: crate::capture::MAX_CONNECTIONS,
            now: i64::MIN,
            next_sweep: i64::MIN,
            rst_due: Nanos::MAX,
        }
    }

    /// Track at most `n` connections at once (see
    /// [`crate::capture::CaptureOptions::max_connections`]).
    #[must_use]
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_conns = n.max(1);
        self
    }

    /// Connections currently open.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Feed one segment.
    pub fn segment(
        &mut self,
        seg: &Segment<'_>,
        ts: Nanos,
        pkt: u64,
        h: &mut dyn StreamHandler,
        st: &mut CaptureStats,
    ) {
        let mut out = Out { h, st };
        if ts > self.now {
            self.now = ts;
            if self.now >= self.next_sweep {
                self.sweep(&mut out);
            }
            if self.now > self.rst_due {
                self.settle_rsts(&mut out, false);
                self.next_sweep = self.now.saturating_add((self.idle_timeout / 8).max(1_000_000_000));
            }
        }
        let key = Key::new(seg);
        let flags = seg.tcp.flags;
        let syn_only = flags & (SYN | ACK) == SYN;
        if syn_only {
            if let Some(c) = self.conns.get(&key) {
                let d = c.dir_of(seg.src, seg.tcp.sport);
                let sender = &c.halves[if d == Dir::ToServer { 0 } else { 1 }];
                // A retransmitted SYN, or a SYN seen after its SYN-ACK (capture reordering),
                // belongs to this connection; any other SYN starts a new one.
                let same = !sender.started || (sender.syn && sender.isn == seg.tcp.seq);
                if !same {
                    if let Some(old) = self.conns.remove(&key) {
                        let how = if old.rst.is_some() { CloseKind::Rst } else { CloseKind::Reused };
                        old.close(how, ts, &mut out);
                    }
                }
            }
        }
        let conn = match self.conns.get_mut(&key) {
            Some(c) => c,
            None => {
                if seg.payload.is_empty() && seg.missing == 0 && flags & SYN == 0 {
                    // A bare ACK / FIN / RST of a connection already closed or never seen.
                    out.st.orphan_packets += 1;
                    return;
                }
                if flags & SYN == 0 && self.recent.get(&key).is_some_and(|&t| ts.saturating_sub(t) <= LINGER) {
                    // Data after the connection closed (in flight when the RST went out).
                    out.st.late_packets += 1;
                    out.st.retransmitted_bytes += seg.payload.len() as u64;
                    return;
                }
                let src = (seg.src, seg.tcp.sport);
                let dst = (seg.dst, seg.tcp.dport);
                let (sp, dp) = (seg.tcp.sport, seg.tcp.dport);
                let client = if flags & SYN != 0 {
                    if flags & ACK == 0 { src } else { dst }
                } else if is_service_port(dp) && !is_service_port(sp) {
                    src
                } else if is_service_port(sp) && !is_service_port(dp) {
                    dst
                } else if sp >= dp {
                    src
                } else {
                    dst
                };
                let server = if client == src { dst } else { src };
                if self.conns.len() >= self.max_conns {
                    self.evict(&mut out);
                }
                let info = ConnInfo {
                    id: self.next_id,
                    client: socket(client.0, client.1, seg.v6),
                    server: socket(server.0, server.1, seg.v6),
                    syn_seen: flags & SYN != 0,
                };
                self.next_id += 1;
                out.st.connections += 1;
                out.h.on_open(&info, ts);
                let conn = Box::new(Conn { info, client, halves: Default::default(), last_ts: ts, rst: None });
                self.conns.entry(key).or_insert(conn)
            }
        };
        conn.last_ts = conn.last_ts.max(ts);
        if let Some((_, from)) = conn.rst {
            let dir = conn.dir_of(seg.src, seg.tcp.sport);
            if seg.payload.is_empty() {
                // Bare ACKs and repeated RSTs after a RST say nothing either way.
                out.st.orphan_packets += 1;
                return;
            }
            if dir != from {
                // The peer's data in flight when the RST went out.
                out.st.late_packets += 1;
                out.st.retransmitted_bytes += seg.payload.len() as u64;
                return;
            }
            // The side that sent the RST goes on sending: the RST did not end the connection.
            conn.rst = None;
            out.st.ignored_rsts += 1;
        }
        match conn.segment(seg, ts, pkt, self.cap, &mut out) {
            Some(CloseKind::Rst) => {
                conn.rst = Some((ts, conn.dir_of(seg.src, seg.tcp.sport)));
                self.rst_due = self.rst_due.min(ts.saturating_add(RST_GRACE));
            }
            Some(how) => {
                if let Some(c) = self.conns.remove(&key) {
                    c.close(how, ts, &mut out);
                    self.recent.insert(key, ts);
                }
            }
            None => {}
        }
    }

    /// Close the connections whose RST nothing contradicted within [`RST_GRACE`].
    fn settle_rsts(&mut self, out: &mut Out<'_, '_>, all: bool) {
        let now = self.now;
        let mut done: Vec<(u64, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.rst.is_some_and(|(t, _)| all || now.saturating_sub(t) > RST_GRACE))
            .map(|(k, c)| (c.info.id, *k))
            .collect();
        done.sort_unstable_by_key(|(id, _)| *id);
        for (_, k) in done {
            if let Some(c) = self.conns.remove(&k) {
                let ts = c.rst.map_or(c.last_ts, |(t, _)| t);
                c.close(CloseKind::Rst, ts, out);
                self.recent.insert(k, ts);
            }
        }
        self.rst_due = self
            .conns
            .values()
            .filter_map(|c| c.rst.map(|(t, _)| t.saturating_add(RST_GRACE)))
            .min()
            .unwrap_or(Nanos::MAX);
    }

    fn sweep(&mut self, out: &mut Out<'_, '_>) {
        let linger = self.now.saturating_sub(LINGER);
        self.recent.retain(|_, t| *t >= linger);
        let limit = self.now.saturating_sub(self.idle_timeout);
        let mut idle: Vec<(u64, Key)> =
            self.conns.iter().filter(|(_, c)| c.last_ts < limit).map(|(k, c)| (c.info.id, *k)).collect();
        idle.sort_unstable_by_key(|(id, _)| *id);
        for (_, k) in idle {
            if let Some(c) = self.conns.remove(&k) {
                let ts = c.last_ts;
                c.close(CloseKind::Idle, ts, out);
            }
        }
    }

    /// The connection table is full: close the eighth of it idle the longest (in connection
    /// order), so that a flood of new connections costs bounded memory and amortised constant
    /// time per connection.
    fn evict(&mut self, out: &mut Out<'_, '_>) {
        let n = (self.conns.len() / 8).max(1);
        let mut by_age: Vec<(Nanos, u64, Key)> = self.conns.iter().map(|(k, c)| (c.last_ts, c.info.id, *k)).collect();
        by_age.select_nth_unstable_by_key(n - 1, |&(ts, id, _)| (ts, id));
        let mut oldest: Vec<(u64, Key)> = by_age[..n].iter().map(|&(_, id, k)| (id, k)).collect();
        oldest.sort_unstable_by_key(|(id, _)| *id);
        if out.st.closed_evicted == 0 {
            out.h.on_diagnostic(
                Diagnostic::new(
                    Severity::Warning,
                    "tcp.table_full",
                    format!(
                        "more than {} connections open at once: the ones idle the longest are closed early \
                         (their unfinished exchanges are incomplete); see closed_evicted",
                        self.max_conns
                    ),
                )
                .at(format!("connection {}", self.next_id)),
            );
        }
        for (_, k) in oldest {
            if let Some(c) = self.conns.remove(&k) {
                let ts = c.last_ts;
                c.close(CloseKind::Evicted, ts, out);
            }
        }
    }

    /// Close every connection still open (end of capture), in connection order.
    pub fn finish(&mut self, h: &mut dyn StreamHandler, st: &mut CaptureStats) {
        let mut out = Out { h, st };
        self.settle_rsts(&mut out, true);
        let mut all: Vec<(u64, Key)> = self.conns.iter().map(|(k, c)| (c.info.id, *k)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        for (_, k) in all {
            if let Some(c) = self.conns.remove(&k) {
                let ts = c.last_ts;
                c.close(CloseKind::EndOfCapture, ts, &mut out);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A handler that records everything, for tests.
    #[derive(Default, Debug)]
    pub(crate) struct Rec {
        pub opened: Vec<ConnInfo>,
        pub streams: HashMap<(u64, bool), Vec<u8>>,
        pub gaps: Vec<(u64, Dir, u64)>,
        pub closes: Vec<(u64, CloseKind)>,
        pub diags: Vec<Diagnostic>,
        pub packets: Vec<u64>,
        /// (connection, direction, behind, len, packet)
        pub retrans: Vec<(u64, Dir, u64, u64, u64)>,
    }

    impl StreamHandler for Rec {
        fn on_open(&mut self, conn: &ConnInfo, _ts: Nanos) {
            self.opened.push(conn.clone());
        }
        fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], _ts: Nanos, packet: u64) {
            self.packets.push(packet);
            self.streams.entry((conn.id, dir == Dir::ToServer)).or_default().extend_from_slice(data);
        }
        fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, _ts: Nanos) {
            self.gaps.push((conn.id, dir, len));
        }
        fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, _ts: Nanos) {
            self.closes.push((conn.id, how));
        }
        fn on_retransmission(&mut self, conn: &ConnInfo, dir: Dir, behind: u64, len: u64, _ts: Nanos, packet: u64) {
            self.retrans.push((conn.id, dir, behind, len, packet));
        }
        fn on_diagnostic(&mut self, d: Diagnostic) {
            self.diags.push(d);
        }
    }

    const C: u128 = 0xffff_0a00_0001;
    const S: u128 = 0xffff_0a00_0002;

    fn seg(to_server: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
        let (src, dst, sport, dport) = if to_server { (C, S, 40000, 80) } else { (S, C, 80, 40000) };
        Segment {
            src,
            dst,
            v6: false,
            tcp: TcpHeader { sport, dport, seq, ack, flags, md5: false },
            payload,
            missing: 0,
        }
    }

    struct T {
        r: Reassembler,
        h: Rec,
        st: CaptureStats,
        n: u64,
    }

    impl T {
        fn new() -> Self {
            Self { r: Reassembler::new(300_000_000_000, 1 << 20), h: Rec::default(), st: CaptureStats::default(), n: 0 }
        }
        fn feed(&mut self, s: Segment<'_>) {
            self.n += 1;
            self.r.segment(&s, self.n as i64 * 1000, self.n, &mut self.h, &mut self.st);
        }
        fn end(mut self) -> (Rec, CaptureStats) {
            self.r.finish(&mut self.h, &mut self.st);
            (self.h, self.st)
        }
    }

    fn handshake(t: &mut T, cisn: u32, sisn: u32) {
        t.feed(seg(true, cisn, 0, SYN, b""));
        t.feed(seg(false, sisn, cisn.wrapping_add(1), SYN | ACK, b""));
        t.feed(seg(true, cisn.wrapping_add(1), sisn.wrapping_add(1), ACK, b""));
    }

    #[test]
    fn a_syn_flood_keeps_the_table_at_its_cap_and_closes_the_oldest_first() {
        let mut t = T::new();
        t.r = Reassembler::new(300_000_000_000, 1 << 20).with_max_connections(64);
        // A live connection that keeps talking is never the one evicted.
        handshake(&mut t, 100, 500);
        for i in 0..10_000u32 {
            let mut s = seg(true, 7, 0, SYN, b"");
            s.tcp.sport = 1024 + u16::try_from(i % 60_000).unwrap();
            s.src = C + 1 + u128::from(i / 60_000);
            t.feed(s);
            assert!(t.r.open_connections() <= 64);
            if i % 16 == 0 {
                t.feed(seg(true, 101 + i / 16, 501, ACK, b"x"));
            }
        }
        let (h, st) = t.end();
        assert_eq!(st.connections, 10_001);
        assert_eq!(st.closed_evicted + st.closed_end, 10_001);
        assert!(st.closed_evicted >= 10_001 - 64, "{}", st.closed_evicted);
        assert_eq!(h.diags.iter().filter(|d| d.code == "tcp.table_full").count(), 1);
        assert!(!h.closes.contains(&(0, CloseKind::Evicted)), "the busy connection was evicted");
        assert_eq!(h.streams[&(0, true)].len(), 10_000usize.div_ceil(16));
    }

    #[test]
    fn in_order_exchange_with_fin_closes_cleanly() {
        let mut t = T::new();
        handshake(&mut t, 100, 500);
        t.feed(seg(true, 101, 501, ACK, b"GET / HTTP/1.1\r\n\r\n"));
        t.feed(seg(false, 501, 119, ACK, b"HTTP/1.1 200 OK\r\n"));
        t.feed(seg(false, 518, 119, ACK | FIN, b"\r\n"));
        t.feed(seg(true, 119, 521, ACK | FIN, b""));
        t.feed(seg(false, 521, 120, ACK, b""));
        let (h, st) = t.end();
        assert_eq!(h.streams[&(0, true)], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(h.streams[&(0, false)], b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.closes, vec![(0, CloseKind::Fin)]);
        assert!(h.gaps.is_empty());
        assert_eq!((st.connections, st.orphan_packets), (1, 1));
        assert!(h.opened[0].syn_seen);
        assert_eq!(h.opened[0].server.port(), 80);
        assert_eq!(h.packets, vec![4, 5, 6]);
    }

    #[test]
    fn sequence_wrap_is_seamless() {
        let mut t = T::new();
        let isn = u32::MAX - 3;
        handshake(&mut t, isn, 7);
        let s1 = isn.wrapping_add(1);
        t.feed(seg(true, s1.wrapping_add(5), 8, ACK, b"world"));
        t.feed(seg(true, s1, 8, ACK, b"hello"));
        let (h, _) = t.end();
        assert_eq!(h.streams[&(0, true)], b"helloworld");
        assert!(h.gaps.is_empty());
    }

    #[test]
    fn retransmission_and_conflicting_overlap_keep_first_copy() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"abc"));
        t.feed(seg(true, 7, 1, ACK, b"ghi"));
        t.feed(seg(true, 5, 1, ACK, b"eXGZ")); // overlaps buffered "gh" with different bytes
        t.feed(seg(true, 1, 1, ACK, b"abc")); // full retransmission of delivered bytes
        t.feed(seg(true, 4, 1, ACK, b"d"));
        let (h, st) = t.end();
        assert_eq!(h.streams[&(0, true)], b"abcdeXghi");
        assert_eq!(st.conflicting_overlaps, 1);
        assert_eq!(st.retransmitted_bytes, 2 + 3);
    }

    #[test]
    fn second_copies_of_delivered_bytes_are_reported_but_keepalive_probes_are_not() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"abcdef")); // packet 4
        t.feed(seg(true, 3, 1, ACK, b"cd")); // 5: two bytes seen again, 2..4 of 6 delivered
        t.feed(seg(true, 5, 1, ACK, b"efgh")); // 6: "ef" again, "gh" new
        t.feed(seg(true, 8, 1, ACK, b"h")); // 7: keep-alive probe shape: not reported
        let (h, st) = t.end();
        assert_eq!(h.streams[&(0, true)], b"abcdefgh");
        assert_eq!(h.retrans, vec![(0, Dir::ToServer, 4, 2, 5), (0, Dir::ToServer, 2, 2, 6)]);
        assert_eq!(st.retransmitted_bytes, 2 + 2 + 1);
    }

    #[test]
    fn second_copy_of_bytes_waiting_behind_a_hole_is_reported_once_they_are_delivered() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"ab")); // 4
        t.feed(seg(true, 5, 1, ACK, b"ef")); // 5: behind a hole
        t.feed(seg(true, 5, 1, ACK, b"ef")); // 6: its second copy
        assert!(t.h.retrans.is_empty());
        t.feed(seg(true, 3, 1, ACK, b"cd")); // 7: fills the hole
        let (h, _) = t.end();
        assert_eq!(h.streams[&(0, true)], b"abcdef");
        assert_eq!(h.retrans, vec![(0, Dir::ToServer, 2, 2, 6)]);
    }

    #[test]
    fn ack_beyond_a_hole_declares_a_gap_and_delivers_what_follows() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"aaaa"));
        t.feed(seg(true, 9, 1, ACK, b"cccc")); // bytes 5..9 lost before the tap
        assert_eq!(t.h.streams[&(0, true)], b"aaaa");
        t.feed(seg(false, 1, 13, ACK, b"")); // the server has them all
        assert_eq!(t.h.streams[&(0, true)], b"aaaacccc");
        assert_eq!(t.h.gaps, vec![(0, Dir::ToServer, 4)]);
        t.feed(seg(false, 1, 17, ACK, b"")); // acked beyond anything seen: another gap
        let (h, st) = t.end();
        assert_eq!(h.gaps, vec![(0, Dir::ToServer, 4), (0, Dir::ToServer, 4)]);
        assert_eq!((st.gaps, st.gap_bytes), (2, 8));
    }

    #[test]
    fn hole_filled_by_collapsed_retransmission_leaves_no_gap() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"aaaa"));
        t.feed(seg(true, 9, 1, ACK, b"cccc"));
        t.feed(seg(false, 1, 5, ACK, b"")); // dup ack at the hole
        t.feed(seg(true, 5, 1, ACK, b"bbbbcc")); // collapsed retransmission
        t.feed(seg(true, 13, 1, ACK, b"dd"));
        let (h, st) = t.end();
        assert_eq!(h.streams[&(0, true)], b"aaaabbbbccccdd");
        assert!(h.gaps.is_empty());
        assert_eq!(st.conflicting_overlaps, 0);
        assert_eq!(h.closes, vec![(0, CloseKind::EndOfCapture)]);
    }

    #[test]
    fn midstream_capture_guesses_roles_and_marks_unknown_start() {
        let mut t = T::new();
        // First packet seen is the server's response (port 80 → client is the other side).
        t.feed(seg(false, 9000, 4000, ACK, b"HTTP/1.1 200 OK\r\n"));
        t.feed(seg(true, 4000, 9017, ACK, b"GET /next"));
        let (h, st) = t.end();
        assert!(!h.opened[0].syn_seen);
        assert_eq!(h.opened[0].server.port(), 80);
        assert_eq!(h.gaps, vec![(0, Dir::ToClient, 0), (0, Dir::ToServer, 0)]);
        assert_eq!(st.midstream_directions, 2);
        assert_eq!(st.gaps, 0);
    }

    #[test]
    fn new_syn_on_same_tuple_reuses_and_rst_closes() {
        let mut t = T::new();
        handshake(&mut t, 10, 20);
        t.feed(seg(true, 11, 21, ACK, b"one"));
        t.feed(seg(true, 10, 0, SYN, b"")); // retransmitted SYN: ignored
        t.feed(seg(true, 5000, 0, SYN, b"")); // new connection
        t.feed(seg(false, 7000, 5001, SYN | ACK, b""));
        t.feed(seg(true, 5001, 7001, ACK, b"two"));
        t.feed(seg(false, 7001, 5004, RST | ACK, b""));
        let (h, st) = t.end();
        assert_eq!(h.closes, vec![(0, CloseKind::Reused), (1, CloseKind::Rst)]);
        assert_eq!(h.streams[&(0, true)], b"one");
        assert_eq!(h.streams[&(1, true)], b"two");
        assert_eq!(st.connections, 2);
    }

    #[test]
    fn syn_seen_after_its_syn_ack_does_not_reuse_the_connection() {
        let mut t = T::new();
        t.feed(seg(false, 500, 101, SYN | ACK, b""));
        t.feed(seg(true, 100, 0, SYN, b""));
        t.feed(seg(true, 101, 501, ACK, b"hi"));
        let (h, st) = t.end();
        assert_eq!(st.connections, 1);
        assert_eq!(h.streams[&(0, true)], b"hi");
        assert_eq!(h.opened[0].server.port(), 80);
    }

    #[test]
    fn data_in_flight_after_rst_does_not_open_a_new_connection() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"GET"));
        t.feed(seg(true, 4, 1, RST, b""));
        t.feed(seg(false, 1, 4, ACK, b"HTTP/1.1 200 OK\r\n"));
        let (h, st) = t.end();
        assert_eq!(st.connections, 1);
        assert_eq!(st.late_packets, 1);
        assert_eq!(h.closes, vec![(0, CloseKind::Rst)]);
    }

    #[test]
    fn a_rst_the_sender_contradicts_with_more_data_does_not_end_the_connection() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"GET / HTTP/1.1\r\n\r\n"));
        // An injected RST "from the server", in window; the server then answers anyway.
        t.feed(seg(false, 1, 19, RST | ACK, b""));
        t.feed(seg(false, 1, 19, ACK, b"HTTP/1.1 200 OK\r\n"));
        // A RST far outside the window, then more data from the client.
        t.feed(seg(true, 900_000_000, 1, RST, b""));
        t.feed(seg(true, 19, 18, ACK, b"GET /2 HTTP/1.1\r\n\r\n"));
        let (h, st) = t.end();
        assert_eq!(st.connections, 1);
        assert_eq!(st.ignored_rsts, 2);
        assert_eq!(h.streams[&(0, true)], b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
        assert_eq!(h.streams[&(0, false)], b"HTTP/1.1 200 OK\r\n");
        assert_eq!(h.closes, vec![(0, CloseKind::EndOfCapture)]);
    }

    #[test]
    fn an_md5_signed_rst_is_not_believed() {
        let mut signed = vec![0, 80, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, RST, 0, 0, 0, 0, 0, 0];
        signed.extend([1, 1, 19, 18]);
        signed.extend([0; 16]);
        assert!(parse_header(&signed).unwrap().0.md5);
        let mut plain = signed[..20].to_vec();
        plain[12] = 0x50;
        assert!(!parse_header(&plain).unwrap().0.md5);
    }

    #[test]
    fn idle_connections_close_by_capture_time() {
        let mut r = Reassembler::new(10_000_000_000, 1 << 20);
        let mut h = Rec::default();
        let mut st = CaptureStats::default();
        r.segment(&seg(true, 1, 1, ACK, b"x"), 0, 1, &mut h, &mut st);
        let mut other = seg(true, 1, 1, ACK, b"y");
        other.tcp.sport = 40001;
        r.segment(&other, 20_000_000_000, 2, &mut h, &mut st);
        assert_eq!(h.closes, vec![(0, CloseKind::Idle)]);
        assert_eq!(r.open_connections(), 1);
    }

    #[test]
    fn memory_cap_turns_the_hole_into_a_gap_with_a_diagnostic() {
        let mut r = Reassembler::new(1_000_000_000_000, 8);
        let mut h = Rec::default();
        let mut st = CaptureStats::default();
        r.segment(&seg(true, 100, 1, SYN, b""), 0, 1, &mut h, &mut st);
        r.segment(&seg(true, 111, 1, ACK, b"12345"), 0, 2, &mut h, &mut st);
        r.segment(&seg(true, 116, 1, ACK, b"67890"), 0, 3, &mut h, &mut st);
        assert_eq!(h.streams[&(0, true)], b"1234567890");
        assert_eq!(h.gaps, vec![(0, Dir::ToServer, 10)]);
        assert_eq!(h.diags.len(), 1);
        assert_eq!(st.memory_cap_hits, 1);
    }

    #[test]
    fn snaplen_cut_segment_becomes_data_plus_gap() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        let mut s = seg(true, 1, 1, ACK, b"abc");
        s.missing = 5;
        t.feed(s);
        t.feed(seg(true, 9, 1, ACK, b"next"));
        let (h, _) = t.end();
        assert_eq!(h.streams[&(0, true)], b"abcnext");
        assert_eq!(h.gaps, vec![(0, Dir::ToServer, 5)]);
    }

    #[test]
    fn hole_before_fin_is_flushed_as_gap_at_close() {
        let mut t = T::new();
        handshake(&mut t, 0, 0);
        t.feed(seg(true, 1, 1, ACK, b"ab"));
        t.feed(seg(true, 5, 1, ACK | FIN, b"ef"));
        let (h, _) = t.end();
        assert_eq!(h.streams[&(0, true)], b"abef");
        assert_eq!(h.gaps, vec![(0, Dir::ToServer, 2)]);
        assert_eq!(h.closes, vec![(0, CloseKind::Fin)]);
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        #[derive(Debug)]
        enum Piece {
            Data(Vec<u8>),
            Gap(u64),
        }

        /// Records the client→server stream as data pieces and gaps, in order.
        #[derive(Debug, Default)]
        struct Pieces(Vec<Piece>);

        impl StreamHandler for Pieces {
            fn on_open(&mut self, _c: &ConnInfo, _ts: Nanos) {}
            fn on_data(&mut self, _c: &ConnInfo, dir: Dir, data: &[u8], _ts: Nanos, _p: u64) {
                if dir == Dir::ToServer {
                    self.0.push(Piece::Data(data.to_vec()));
                }
            }
            fn on_gap(&mut self, _c: &ConnInfo, dir: Dir, len: u64, _ts: Nanos) {
                if dir == Dir::ToServer {
                    self.0.push(Piece::Gap(len));
                }
            }
            fn on_close(&mut self, _c: &ConnInfo, _how: CloseKind, _ts: Nanos) {}
            fn on_diagnostic(&mut self, _d: Diagnostic) {}
        }

        proptest! {
            /// Any permutation, duplication and re-cutting (overlap) of a stream's segments
            /// gives the same bytes, with no gap, as long as every byte is sent at least once.
            #[test]
            fn permutations_duplicates_and_overlaps_give_the_same_bytes(
                data in proptest::collection::vec(any::<u8>(), 1..400),
                cuts in proptest::collection::vec((0usize..400, 1usize..60), 1..40),
                order in proptest::collection::vec(any::<u32>(), 0..80),
                isn in any::<u32>(),
            ) {
                // Cover the stream once with consecutive segments, then add arbitrary extra
                // (overlapping) slices, then shuffle by the `order` keys.
                let mut segs: Vec<(usize, usize)> = Vec::new();
                let mut at = 0;
                let mut i = 0;
                while at < data.len() {
                    let l = cuts[i % cuts.len()].1.min(data.len() - at);
                    segs.push((at, at + l));
                    at += l;
                    i += 1;
                }
                for &(s, l) in &cuts {
                    let s = s % data.len();
                    segs.push((s, (s + l).min(data.len())));
                }
                let mut keyed: Vec<(u32, (usize, usize))> =
                    segs.into_iter().enumerate().map(|(j, r)| (order.get(j).copied().unwrap_or(j as u32), r)).collect();
                keyed.sort_by_key(|(k, _)| *k);
                let mut t = T::new();
                handshake(&mut t, isn, 1);
                let base = isn.wrapping_add(1);
                for (_, (s, e)) in keyed {
                    t.feed(seg(true, base.wrapping_add(s as u32), 2, ACK, &data[s..e]));
                }
                let (h, st) = t.end();
                prop_assert_eq!(&h.streams[&(0, true)], &data);
                prop_assert!(h.gaps.is_empty());
                prop_assert_eq!(st.conflicting_overlaps, 0);
            }

            /// With segments lost, reordered and duplicated and a final ACK for everything,
            /// every delivered byte sits at its true offset and data + gaps cover the stream
            /// exactly once.
            #[test]
            fn lost_segments_become_gaps_at_the_right_offsets(
                data in proptest::collection::vec(any::<u8>(), 1..300),
                cut in 1usize..40,
                keep in proptest::collection::vec(any::<bool>(), 1..60),
                order in proptest::collection::vec(any::<u16>(), 0..60),
                acks in proptest::collection::vec(any::<bool>(), 0..60),
            ) {
                let mut segs: Vec<(usize, usize)> = (0..data.len()).step_by(cut).map(|a| (a, (a + cut).min(data.len()))).collect();
                let dup: Vec<(usize, usize)> = segs.iter().step_by(3).copied().collect();
                segs.extend(dup);
                let mut keyed: Vec<(u16, (usize, usize))> = segs
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| keep.get(*j).copied().unwrap_or(true))
                    .map(|(j, r)| (order.get(j).copied().unwrap_or(j as u16), r))
                    .collect();
                keyed.sort_by_key(|(k, _)| *k);
                let mut r = Reassembler::new(i64::MAX / 2, 1 << 20);
                let mut h = Pieces::default();
                let mut st = CaptureStats::default();
                r.segment(&seg(true, 0, 0, SYN, b""), 0, 1, &mut h, &mut st);
                let mut highest = 0usize;
                for (j, (_, (s, e))) in keyed.into_iter().enumerate() {
                    r.segment(&seg(true, 1 + s as u32, 1, ACK, &data[s..e]), 0, 2, &mut h, &mut st);
                    highest = highest.max(e);
                    if acks.get(j).copied().unwrap_or(false) {
                        // The receiver acknowledges what it has (here: up to the highest byte sent).
                        r.segment(&seg(false, 1, 1 + highest as u32, ACK, b""), 0, 3, &mut h, &mut st);
                    }
                }
                r.segment(&seg(false, 1, 1 + data.len() as u32, ACK, b""), 0, 4, &mut h, &mut st);
                r.finish(&mut h, &mut st);
                let mut at = 0usize;
                for p in &h.0 {
                    match p {
                        Piece::Data(d) => {
                            prop_assert_eq!(&data[at..at + d.len()], &d[..]);
                            at += d.len();
                        }
                        Piece::Gap(n) => at += *n as usize,
                    }
                }
                prop_assert_eq!(at, data.len());
            }
        }
    }
}
