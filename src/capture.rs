//! Packet captures: pcap/pcapng framing, link layers, IPv4/IPv6 (with fragment reassembly)
//! and TCP, down to per-connection, per-direction ordered byte streams with explicit gaps
//! (`tcp` reassembly). What the streams carry is not this module's business: it pushes them
//! into a [`stream::StreamHandler`] (the `http` parsers, via `ingest`).
//!
//! Entry point: [`read_packets`]. In-memory inputs are parsed in place (packet bytes are
//! borrowed down to the handler); files and streams are read through a bounded buffer, so a
//! file cut short while it is read simply ends early. Damage after a readable part ends reading with a diagnostic, never a panic.

pub mod file;
pub mod ip;
pub mod link;
pub mod stream;
pub mod tcp;
pub mod tunnel;

use std::io::Read;

use self::file::{Framer, Next, OpenError, Packet, Record};
use self::stream::StreamHandler;
use crate::model::{Diagnostic, Severity};

/// A capture's bytes: a file, bytes in memory, or a stream (stdin, decompressed `.pcap.gz`).
pub enum Input {
    /// A regular file, read front to back through a bounded buffer (its size at the start
    /// is the progress total).
    File(std::fs::File),
    /// Bytes already in memory (tests, small inputs).
    Bytes(Vec<u8>),
    /// A stream read front to back, never held whole in memory.
    Reader(Box<dyn std::io::Read + Send>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(_) => f.write_str("Input::File"),
            Self::Bytes(b) => write!(f, "Input::Bytes({} bytes)", b.len()),
            Self::Reader(_) => f.write_str("Input::Reader"),
        }
    }
}

/// How packets are turned into streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureOptions {
    /// A connection with no packet for this long (capture clock, ns) is closed as idle.
    pub idle_timeout_ns: i64,
    /// Most bytes buffered behind a hole per connection direction; past it the hole is
    /// given up as a gap (with a diagnostic) and the buffered bytes are delivered.
    pub stream_mem_cap: usize,
    /// Most connections tracked at once; when a new one would pass it, the eighth of the
    /// table idle the longest is closed early (counted in `closed_evicted`, with one
    /// diagnostic), so a SYN flood or a port scan costs bounded memory.
    pub max_connections: usize,
}

/// The default [`CaptureOptions::max_connections`]: far above the concurrent connections of
/// real API traffic, a few hundred MiB of state at most.
pub const MAX_CONNECTIONS: usize = 100_000;

impl Default for CaptureOptions {
    fn default() -> Self {
        Self { idle_timeout_ns: 300 * 1_000_000_000, stream_mem_cap: 32 << 20, max_connections: MAX_CONNECTIONS }
    }
}

/// What reading a capture found. Every packet is counted once in `packets`, and every packet
/// that did not reach TCP reassembly is also counted in `skipped_packets` and in exactly one
/// of the `skipped_*` / `malformed_packets` / `ip_fragments*` reasons (pcapng blocks that
/// Wireshark numbers as frames but that carry no packet are in `non_packet_frames` only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Input bytes read.
    pub bytes: u64,
    /// Frames, numbered as Wireshark numbers them: packet records, plus the pcapng custom and
    /// systemd journal blocks Wireshark also lists (counted in `non_packet_frames`).
    pub packets: u64,
    /// pcapng custom / systemd journal blocks (numbered as frames, carry no packet).
    pub non_packet_frames: u64,
    /// TCP segments handed to reassembly.
    pub tcp_packets: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Holes in streams reported as gaps.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Stream bytes delivered in order to the handler.
    pub stream_bytes: u64,
    /// Packets that did not reach TCP reassembly (the sum of the reasons below).
    pub skipped_packets: u64,
    /// Frames that carry no IP (ARP, LLC, …).
    pub skipped_non_ip: u64,
    /// IP packets that are not TCP (UDP, ICMP, …).
    pub skipped_non_tcp: u64,
    /// Frames of an unsupported link type.
    pub skipped_unknown_link: u64,
    /// 802.11 frames whose body is encrypted (Protected Frame bit).
    pub skipped_encrypted: u64,
    /// Frames with more nested encapsulations than apiscope unwraps.
    pub skipped_too_deep: u64,
    /// SCTP packets (part of `skipped_non_tcp`: SCTP is not read).
    pub sctp_packets: u64,
    /// GRE headers unwrapped (including ERSPAN and PPTP).
    pub unwrapped_gre: u64,
    /// ERSPAN headers (types I, II, III) unwrapped.
    pub unwrapped_erspan: u64,
    /// VXLAN headers unwrapped.
    pub unwrapped_vxlan: u64,
    /// Geneve headers unwrapped.
    pub unwrapped_geneve: u64,
    /// MPLS label stacks unwrapped.
    pub unwrapped_mpls: u64,
    /// PPPoE session headers unwrapped.
    pub unwrapped_pppoe: u64,
    /// IP-in-IP headers unwrapped (IPv4 or IPv6 inside IPv4 or IPv6).
    pub unwrapped_ip_in_ip: u64,
    /// 802.11 data frames read through LLC/SNAP.
    pub unwrapped_wifi: u64,
    /// Frames whose link, IP or TCP header is damaged or cut short.
    pub malformed_packets: u64,
    /// pcapng packet blocks on an undeclared interface.
    pub skipped_blocks: u64,
    /// IP fragments held for reassembly (each also counted as skipped: the reassembled
    /// datagram is what reaches TCP).
    pub ip_fragments: u64,
    /// IP datagrams rebuilt from fragments.
    pub ip_fragments_reassembled: u64,
    /// IP fragments or datagrams given up (timeout, eviction, snaplen, damage).
    pub ip_fragments_dropped: u64,
    /// TCP packets whose payload was cut by the snap length.
    pub snaplen_cut_packets: u64,
    /// Payload bytes seen again (retransmissions, duplicates, overlaps).
    pub retransmitted_bytes: u64,
    /// Overlapping copies of the same stream bytes that differed (the first copy is kept).
    pub conflicting_overlaps: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order_segments: u64,
    /// Segments too far from the expected sequence number to believe.
    pub out_of_window_segments: u64,
    /// Bare ACK / FIN / RST packets of connections not (or no longer) tracked.
    pub orphan_packets: u64,
    /// Data segments of a connection that had just closed by FIN or RST (not delivered).
    pub late_packets: u64,
    /// Stream directions first seen mid-stream (no SYN).
    pub midstream_directions: u64,
    /// Times the per-stream memory cap forced a hole to be given up.
    pub memory_cap_hits: u64,
    /// Connections closed by FIN.
    pub closed_fin: u64,
    /// Connections closed by RST.
    pub closed_rst: u64,
    /// RSTs that did not end their connection: TCP-MD5 signed, outside the window, or
    /// followed by more data from the side that sent them.
    pub ignored_rsts: u64,
    /// Connections closed after the idle timeout.
    pub closed_idle: u64,
    /// Connections closed by a new SYN on the same 4-tuple.
    pub closed_reused: u64,
    /// Connections still open at the end of the capture.
    pub closed_end: u64,
    /// Connections closed early because the connection table was full.
    pub closed_evicted: u64,
    /// Decryption secrets found (pcapng DSBs, key log lines in a section comment).
    pub secrets_blocks: u64,
    /// Diagnostics emitted.
    pub diagnostics: u64,
}

impl CaptureStats {
    /// Every counter with a stable name, in a fixed order (for `--summary` and reports).
    #[must_use]
    pub fn counters(&self) -> Vec<(String, u64)> {
        let c = [
            ("bytes", self.bytes),
            ("packets", self.packets),
            ("non_packet_frames", self.non_packet_frames),
            ("tcp_packets", self.tcp_packets),
            ("connections", self.connections),
            ("gaps", self.gaps),
            ("gap_bytes", self.gap_bytes),
            ("stream_bytes", self.stream_bytes),
            ("skipped_packets", self.skipped_packets),
            ("skipped_non_ip", self.skipped_non_ip),
            ("skipped_non_tcp", self.skipped_non_tcp),
            ("skipped_unknown_link", self.skipped_unknown_link),
            ("skipped_encrypted", self.skipped_encrypted),
            ("skipped_too_deep", self.skipped_too_deep),
            ("sctp_packets", self.sctp_packets),
            ("unwrapped_gre", self.unwrapped_gre),
            ("unwrapped_erspan", self.unwrapped_erspan),
            ("unwrapped_vxlan", self.unwrapped_vxlan),
            ("unwrapped_geneve", self.unwrapped_geneve),
            ("unwrapped_mpls", self.unwrapped_mpls),
            ("unwrapped_pppoe", self.unwrapped_pppoe),
            ("unwrapped_ip_in_ip", self.unwrapped_ip_in_ip),
            ("unwrapped_wifi", self.unwrapped_wifi),
            ("malformed_packets", self.malformed_packets),
            ("skipped_blocks", self.skipped_blocks),
            ("ip_fragments", self.ip_fragments),
            ("ip_fragments_reassembled", self.ip_fragments_reassembled),
            ("ip_fragments_dropped", self.ip_fragments_dropped),
            ("snaplen_cut_packets", self.snaplen_cut_packets),
            ("retransmitted_bytes", self.retransmitted_bytes),
            ("conflicting_overlaps", self.conflicting_overlaps),
            ("out_of_order_segments", self.out_of_order_segments),
            ("out_of_window_segments", self.out_of_window_segments),
            ("orphan_packets", self.orphan_packets),
            ("late_packets", self.late_packets),
            ("midstream_directions", self.midstream_directions),
            ("memory_cap_hits", self.memory_cap_hits),
            ("closed_fin", self.closed_fin),
            ("closed_rst", self.closed_rst),
            ("ignored_rsts", self.ignored_rsts),
            ("closed_idle", self.closed_idle),
            ("closed_reused", self.closed_reused),
            ("closed_end_of_capture", self.closed_end),
            ("closed_evicted", self.closed_evicted),
            ("secrets_blocks", self.secrets_blocks),
            ("diagnostics", self.diagnostics),
        ];
        c.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Nothing of the input could be read as a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input is empty.
    #[error("the input is empty")]
    Empty,
    /// The input ends inside the file header.
    #[error("the input ends after {0} bytes, inside the capture file header")]
    ShortHeader(usize),
    /// Kuznetzov's "modified" pcap format.
    #[error(
        "this is a \"modified\" pcap file (magic a1b2cd34, from a patched libpcap), which is not supported; \
         convert it with `editcap -F pcap IN OUT` or `tcpdump -r IN -w OUT`"
    )]
    ModifiedPcap,
    /// Not a pcap or pcapng file.
    #[error("not a pcap or pcapng file (it starts with bytes {0})")]
    NotCapture(String),
    /// The header is recognised but damaged.
    #[error("damaged capture file header: {0}")]
    BadHeader(String),
    /// The input could not be read.
    #[error("reading the capture: {0}")]
    Io(#[from] std::io::Error),
}

/// Which capture format `head` (the first bytes of an input) announces: `Some("pcap")`,
/// `Some("pcapng")`, or `None`.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    file::sniff(head)
}

/// Read every packet of `input`, reassemble TCP, and push the streams into `handler`.
///
/// Damage after a readable part (a truncated record, an impossible block length) is reported
/// through `handler.on_diagnostic` with its byte offset and packet number; reading then stops
/// and every connection is closed with `CloseKind::EndOfCapture`.
///
/// # Errors
/// [`CaptureError`] when nothing is readable (not a capture, damaged header, IO error before
/// the first record).
pub fn read_packets(
    input: Input,
    opts: &CaptureOptions,
    handler: &mut dyn StreamHandler,
) -> Result<CaptureStats, CaptureError> {
    let mut eng = Engine::new(opts, handler);
    match input {
        Input::File(f) => {
            eng.total = f.metadata().ok().map(|m| m.len());
            eng.run_reader(Box::new(f))?;
        }
        Input::Bytes(b) => eng.run_slice(&b)?,
        Input::Reader(r) => eng.run_reader(r)?,
    }
    Ok(eng.finish())
}

fn open_error(e: OpenError, len: usize, head: &[u8]) -> CaptureError {
    match e {
        OpenError::NeedMore(_) if len == 0 => CaptureError::Empty,
        OpenError::NeedMore(_) => CaptureError::ShortHeader(len),
        OpenError::Modified => CaptureError::ModifiedPcap,
        OpenError::Magic(_) => {
            let shown: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
            CaptureError::NotCapture(shown.join(" "))
        }
        OpenError::BadHeader(why) => CaptureError::BadHeader(why),
    }
}

/// At most this many diagnostics of one kind per capture; the rest are summed up at the end.
const DIAG_LIMIT: u64 = 10;
const PROGRESS_EVERY: u64 = 1 << 20;
const STREAM_BUF: usize = 1 << 20;

/// Where a packet (or what was unwrapped from it) came from.
#[derive(Debug, Clone, Copy)]
struct Here {
    ts: i64,
    offset: u64,
    link: u32,
    /// Already counted (a datagram rebuilt from fragments): count no skip reason again.
    quiet: bool,
}

struct Engine<'h> {
    h: &'h mut dyn StreamHandler,
    st: CaptureStats,
    reasm: tcp::Reassembler,
    defrag: ip::Defrag,
    /// Packets per unsupported link type, reported once each at the end.
    unknown_links: Vec<(u32, u64)>,
    walk: link::Walk,
    malformed_noted: u64,
    total: Option<u64>,
    next_progress: u64,
    last_ts: i64,
}

impl<'h> Engine<'h> {
    fn new(opts: &CaptureOptions, h: &'h mut dyn StreamHandler) -> Self {
        Self {
            h,
            st: CaptureStats::default(),
            reasm: tcp::Reassembler::new(opts.idle_timeout_ns, opts.stream_mem_cap)
                .with_max_connections(opts.max_connections),
            defrag: ip::Defrag::new(30 * 1_000_000_000, 4096),
            unknown_links: Vec::new(),
            walk: link::Walk::default(),
            malformed_noted: 0,
            total: None,
            next_progress: PROGRESS_EVERY,
            last_ts: 0,
        }
    }

    fn diag(&mut self, sev: Severity, code: &str, msg: String, at: String) {
        self.st.diagnostics += 1;
        self.h.on_diagnostic(Diagnostic::new(sev, code, msg).at(at));
    }

    fn where_(&self, offset: u64) -> String {
        format!("byte {offset}, packet {}", self.st.packets + 1)
    }

    fn run_slice(&mut self, data: &[u8]) -> Result<(), CaptureError> {
        self.total = Some(data.len() as u64);
        let (mut fr, mut pos) = Framer::open(data).map_err(|e| open_error(e, data.len(), data))?;
        self.notes(&mut fr, pos as u64);
        while !self.h.should_stop() {
            let rest = data.get(pos..).unwrap_or(&[]);
            match fr.next(rest) {
                Next::Record(r, n) => {
                    self.record(r, pos as u64);
                    pos += n;
                    self.notes(&mut fr, pos as u64);
                    self.progress(pos as u64);
                }
                Next::NeedMore(need) => {
                    if !rest.is_empty() {
                        self.truncated(pos as u64, rest.len(), need);
                    }
                    break;
                }
                Next::Damaged(why) => {
                    self.damaged(pos as u64, &why);
                    break;
                }
            }
        }
        self.st.bytes = pos as u64;
        Ok(())
    }

    fn run_reader(&mut self, mut r: Box<dyn Read + Send>) -> Result<(), CaptureError> {
        let mut buf = vec![0u8; STREAM_BUF];
        let (mut end, mut base) = (0usize, 0u64);
        let mut eof = false;
        // Enough for any file header.
        while end < 24 && !eof {
            match r.read(&mut buf[end..]) {
                Ok(0) => eof = true,
                Ok(n) => end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::Io(e)),
            }
        }
        let (mut fr, hdr) = Framer::open(&buf[..end]).map_err(|e| open_error(e, end, &buf[..end]))?;
        let mut start = hdr;
        self.notes(&mut fr, start as u64);
        while !self.h.should_stop() {
            match fr.next(&buf[start..end]) {
                Next::Record(rec, n) => {
                    self.record(rec, base + start as u64);
                    start += n;
                    self.notes(&mut fr, base + start as u64);
                    self.progress(base + start as u64);
                }
                Next::NeedMore(need) => {
                    if eof {
                        if start < end {
                            self.truncated(base + start as u64, end - start, need);
                        }
                        break;
                    }
                    if start > 0 {
                        buf.copy_within(start..end, 0);
                        end -= start;
                        base += start as u64;
                        start = 0;
                    }
                    if need > buf.len() {
                        buf.resize(need, 0);
                    }
                    // Read at least up to `need`, more if it comes (fewer calls).
                    while end < need && !eof {
                        match r.read(&mut buf[end..]) {
                            Ok(0) => eof = true,
                            Ok(n) => end += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                let at = self.where_(base + end as u64);
                                self.diag(Severity::Error, "capture.read_error", format!("reading stopped: {e}"), at);
                                eof = true;
                                end = start;
                            }
                        }
                    }
                    // Keep the buffer bounded after an unusually large record.
                    if buf.len() > STREAM_BUF && end <= STREAM_BUF {
                        buf.truncate(STREAM_BUF);
                        buf.shrink_to_fit();
                    }
                }
                Next::Damaged(why) => {
                    self.damaged(base + start as u64, &why);
                    break;
                }
            }
        }
        self.st.bytes = base + start as u64;
        Ok(())
    }

    fn notes(&mut self, fr: &mut Framer, offset: u64) {
        if fr.notes.is_empty() {
            return;
        }
        for n in std::mem::take(&mut fr.notes) {
            let at = self.where_(offset);
            self.diag(Severity::Warning, "capture.option_ignored", n, at);
        }
    }

    fn truncated(&mut self, offset: u64, have: usize, need: usize) {
        let at = self.where_(offset);
        self.diag(
            Severity::Error,
            "capture.truncated",
            format!("the capture ends inside a record ({have} of {need} bytes present); everything before it was read"),
            at,
        );
    }

    fn damaged(&mut self, offset: u64, why: &str) {
        let at = self.where_(offset);
        self.diag(
            Severity::Error,
            "capture.damaged",
            format!("{why}; reading stopped here, everything before it was read"),
            at,
        );
    }

    /// Report progress every [`PROGRESS_EVERY`] bytes.
    fn progress(&mut self, offset: u64) {
        if offset >= self.next_progress {
            self.next_progress = offset + PROGRESS_EVERY;
            self.h.on_progress(offset, self.total);
        }
    }

    fn record(&mut self, rec: Record<'_>, offset: u64) {
        match rec {
            Record::Packet(p) => self.packet(&p, offset),
            Record::Secrets { kind, data } => {
                self.st.secrets_blocks += 1;
                self.h.on_secrets(kind, data);
            }
            Record::CommentKeys(text) => {
                self.st.secrets_blocks += 1;
                let at = format!("byte {offset}");
                self.diag(
                    Severity::Info,
                    "capture.keys_in_comment",
                    "the section header comment holds TLS key log lines; they are used to decrypt the capture's TLS \
                     connections"
                        .into(),
                    at,
                );
                self.h.on_secrets(0x544c_534b, text);
            }
            Record::Other => {}
            Record::Frame => {
                self.st.packets += 1;
                self.st.non_packet_frames += 1;
            }
            Record::Skipped(why) => {
                // Still a packet record: count it so packet numbers stay aligned with Wireshark's.
                self.st.packets += 1;
                self.st.skipped_blocks += 1;
                self.st.skipped_packets += 1;
                self.malformed_diag(offset, &why);
            }
        }
    }

    fn malformed_diag(&mut self, offset: u64, why: &str) {
        self.malformed_noted += 1;
        if self.malformed_noted <= DIAG_LIMIT {
            let at = format!("byte {offset}, packet {}", self.st.packets);
            self.diag(Severity::Warning, "capture.bad_packet", format!("packet skipped: {why}"), at);
        }
    }

    fn malformed(&mut self, offset: u64, why: &str) {
        self.st.malformed_packets += 1;
        self.st.skipped_packets += 1;
        self.malformed_diag(offset, why);
    }

    fn packet(&mut self, p: &Packet<'_>, offset: u64) {
        self.st.packets += 1;
        let pkt = self.st.packets;
        if p.ts > self.last_ts {
            self.last_ts = p.ts;
        }
        if pkt % 4096 == 0 {
            let n = self.defrag.expire(self.last_ts);
            self.st.ip_fragments_dropped += n as u64;
        }
        self.walk.reset();
        let net = link::network_walk(p.link, p.data, &mut self.walk);
        let at = Here { ts: p.ts, offset, link: p.link, quiet: false };
        self.net(net, at);
    }

    /// Count a packet that did not reach TCP reassembly (unless it already was counted).
    fn skip(&mut self, at: Here, reason: fn(&mut CaptureStats) -> &mut u64) {
        if !at.quiet {
            *reason(&mut self.st) += 1;
            self.st.skipped_packets += 1;
        }
    }

    /// Follow what a link layer or tunnel carries down to TCP.
    fn net(&mut self, net: link::Net<'_>, at: Here) {
        let ipb = match net {
            link::Net::Ip(b) => b,
            link::Net::NotIp => return self.skip(at, |s| &mut s.skipped_non_ip),
            link::Net::Encrypted => return self.skip(at, |s| &mut s.skipped_encrypted),
            link::Net::TooDeep => return self.skip(at, |s| &mut s.skipped_too_deep),
            link::Net::Short if at.quiet => return,
            link::Net::Short => return self.malformed(at.offset, "frame shorter than its link header"),
            link::Net::Unsupported => {
                self.skip(at, |s| &mut s.skipped_unknown_link);
                match self.unknown_links.iter_mut().find(|(l, _)| *l == at.link) {
                    Some((_, n)) => *n += 1,
                    None => self.unknown_links.push((at.link, 1)),
                }
                return;
            }
        };
        let ipp = match ip::parse(ipb) {
            Ok(v) => v,
            Err(_) if at.quiet => return,
            Err(why) => return self.malformed(at.offset, why),
        };
        if ipp.frag.is_some() {
            return self.fragment(&ipp, at);
        }
        if ipp.proto != 6 && tunnel::is_tunnel_proto(ipp.proto) && ipp.missing == 0 {
            if let Some(inner) = tunnel::inner(ipp.proto, ipp.payload, &mut self.walk) {
                return self.net(inner, at);
            }
        }
        if ipp.proto != 6 {
            if ipp.proto == 132 && !at.quiet {
                self.st.sctp_packets += 1;
            }
            return self.skip(at, |s| &mut s.skipped_non_tcp);
        }
        if !self.tcp(ipp.src, ipp.dst, ipp.v6, ipp.payload, ipp.missing, at.ts, at.offset) && !at.quiet {
            self.st.skipped_packets += 1;
        }
    }

    /// An IP fragment: held for reassembly; a completed datagram goes on to TCP or into its
    /// tunnel (its packet is already counted as a fragment).
    fn fragment(&mut self, ipp: &ip::IpPacket<'_>, at: Here) {
        self.skip(at, |s| &mut s.ip_fragments);
        match self.defrag.add(ipp, at.ts) {
            ip::DefragOut::Done(proto, buf) => {
                self.st.ip_fragments_reassembled += 1;
                if proto == 6 {
                    self.tcp(ipp.src, ipp.dst, ipp.v6, &buf, 0, at.ts, at.offset);
                    return;
                }
                let inner = tunnel::inner(proto, &buf, &mut self.walk);
                match inner {
                    Some(inner) => self.net(inner, Here { quiet: true, ..at }),
                    None => {
                        if proto == 132 {
                            self.st.sctp_packets += 1;
                        }
                        self.st.skipped_non_tcp += 1;
                    }
                }
            }
            ip::DefragOut::Pending => {}
            ip::DefragOut::Dropped(why) => {
                self.st.ip_fragments_dropped += 1;
                self.malformed_diag(at.offset, why);
            }
        }
    }

    /// Hand a TCP segment to reassembly; false when its header is unusable (counted).
    #[allow(clippy::too_many_arguments)]
    fn tcp(&mut self, src: u128, dst: u128, v6: bool, l4: &[u8], missing: u32, ts: i64, offset: u64) -> bool {
        match tcp::parse_header(l4) {
            Ok((tcp, payload)) => {
                if missing > 0 {
                    self.st.snaplen_cut_packets += 1;
                }
                self.st.tcp_packets += 1;
                let seg = tcp::Segment { src, dst, v6, tcp, payload, missing };
                let pkt = self.st.packets;
                self.reasm.segment(&seg, ts, pkt, &mut *self.h, &mut self.st);
                true
            }
            Err(why) => {
                self.st.malformed_packets += 1;
                self.malformed_diag(offset, why);
                false
            }
        }
    }

    fn finish(mut self) -> CaptureStats {
        self.reasm.finish(&mut *self.h, &mut self.st);
        self.unwrapped_totals();
        self.not_read_diagnostics();
        if self.malformed_noted > DIAG_LIMIT {
            let more = self.malformed_noted - DIAG_LIMIT;
            self.diag(
                Severity::Warning,
                "capture.bad_packet",
                format!("{more} more packets were skipped for the same kinds of reasons (see the counters)"),
                "whole capture".into(),
            );
        }
        self.h.on_progress(self.st.bytes, self.total);
        self.st
    }

    /// Copy the walk's counters into the stats and say, once, what was unwrapped.
    fn unwrapped_totals(&mut self) {
        let u = self.walk.seen;
        self.st.unwrapped_gre = u.gre;
        self.st.unwrapped_erspan = u.erspan;
        self.st.unwrapped_vxlan = u.vxlan;
        self.st.unwrapped_geneve = u.geneve;
        self.st.unwrapped_mpls = u.mpls;
        self.st.unwrapped_pppoe = u.pppoe;
        self.st.unwrapped_ip_in_ip = u.ip_in_ip;
        self.st.unwrapped_wifi = u.wifi_data;
        let parts: Vec<String> = [
            (u.gre, "GRE"),
            (u.erspan, "ERSPAN"),
            (u.vxlan, "VXLAN"),
            (u.geneve, "Geneve"),
            (u.mpls, "MPLS"),
            (u.pppoe, "PPPoE"),
            (u.ip_in_ip, "IP-in-IP"),
            (u.wifi_data, "802.11 data"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
        if !parts.is_empty() {
            self.diag(
                Severity::Info,
                "capture.unwrapped",
                format!("encapsulations unwrapped (layers): {}", parts.join(", ")),
                "whole capture".into(),
            );
        }
    }

    /// One diagnostic per reason for packets that are still not read, with their count.
    fn not_read_diagnostics(&mut self) {
        for (link, n) in std::mem::take(&mut self.unknown_links) {
            self.diag(
                Severity::Warning,
                "capture.link_unsupported",
                format!("link type {link} is not supported; its {n} packets were skipped"),
                "whole capture".into(),
            );
        }
        let notes = [
            (self.st.sctp_packets, "capture.sctp_unsupported", "SCTP packets were not read (SCTP is not supported)"),
            (
                self.st.skipped_encrypted,
                "capture.wifi_encrypted",
                "802.11 frames were skipped because they are encrypted (protected frames; capture decrypted \
                 traffic, e.g. on the host, to read them)",
            ),
            (
                self.st.skipped_too_deep,
                "capture.too_deep",
                "packets were skipped: more encapsulations nested than are unwrapped (16 layers)",
            ),
        ];
        for (n, code, what) in notes {
            if n > 0 {
                self.diag(Severity::Warning, code, format!("{n} {what}"), "whole capture".into());
            }
        }
    }
}
