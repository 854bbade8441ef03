//! Capture file framing: classic pcap (both byte orders, µs and ns) and pcapng (sections with
//! their own byte order, interfaces with their own link type, `if_tsresol` and `if_tsoffset`,
//! EPB / SPB / obsolete PB, Decryption Secrets Blocks; unknown blocks skipped by length).
//!
//! The [`Framer`] works on a byte slice that starts at the current position and returns one
//! record at a time, borrowing packet bytes from the slice (zero-copy). It never reads past
//! the slice: when a record is not complete it says how many bytes it needs, so the same
//! code serves memory-mapped files and bounded streaming buffers. Every length is checked
//! before use; nonsense lengths are reported as damage, never followed.

use crate::model::Nanos;

/// Largest record (pcap packet or pcapng block) accepted. Real snap lengths are at most
/// 256 KiB; anything above this is treated as damage rather than buffered.
pub const MAX_RECORD: usize = 64 << 20;

/// libpcap's largest snap length (`MAXIMUM_SNAPLEN`).
const MAX_SNAPLEN: usize = 262_144;

const PCAP_US: u32 = 0xa1b2_c3d4;
const PCAP_NS: u32 = 0xa1b2_3c4d;
const PCAP_MODIFIED: u32 = 0xa1b2_cd34;
const NG_SHB: u32 = 0x0a0d_0d0a;
const NG_BOM: u32 = 0x1a2b_3c4d;
const NG_IDB: u32 = 1;
const NG_PB: u32 = 2;
const NG_SPB: u32 = 3;
const NG_EPB: u32 = 6;
const NG_DSB: u32 = 0x0a;
const NG_JOURNAL: u32 = 9;
const NG_CUSTOM: u32 = 0x0000_0bad;
const NG_CUSTOM_NOCOPY: u32 = 0x4000_0bad;

/// Why a file could not be opened at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Fewer bytes than the file header needs; `usize` is how many are needed.
    NeedMore(usize),
    /// The "modified" (Kuznetzov) pcap format.
    Modified,
    /// Not a pcap or pcapng file: the first four bytes.
    Magic([u8; 4]),
    /// The header is recognised but damaged.
    BadHeader(String),
}

/// One captured packet, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Link type of the interface that captured it.
    pub link: u32,
    /// Capture timestamp, ns since the Unix epoch.
    pub ts: Nanos,
    /// Captured bytes (may be shorter than `orig_len`: snaplen).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// One record read from the file.
#[derive(Debug)]
pub enum Record<'a> {
    /// A packet.
    Packet(Packet<'a>),
    /// A pcapng Decryption Secrets Block.
    Secrets { kind: u32, data: &'a [u8] },
    /// A section header whose comment holds TLS key log lines (`CLIENT_RANDOM …`): some
    /// captures carry their keys there instead of in a Decryption Secrets Block.
    CommentKeys(&'a [u8]),
    /// A block that carries no packet (header, interface description, statistics, unknown).
    Other,
    /// A block that is no packet but that Wireshark lists (and numbers) as a frame: pcapng
    /// custom blocks (0x00000BAD, 0x40000BAD) and systemd journal export blocks (9).
    Frame,
    /// A block that is readable but wrong in a way that does not stop reading (e.g. a packet
    /// on an interface that was never described); the packet is skipped.
    Skipped(String),
}

/// Result of asking for the next record.
#[derive(Debug)]
pub enum Next<'a> {
    /// A record and the number of bytes it took.
    Record(Record<'a>, usize),
    /// The slice ends inside a record: this many bytes (from the slice start) are needed.
    NeedMore(usize),
    /// The bytes at this position cannot be a record: reading must stop.
    Damaged(String),
}

#[derive(Debug, Clone, Copy)]
enum Res {
    /// Multiply ticks by this to get ns.
    Mul(u64),
    /// Divide ticks by this to get ns.
    Div(u64),
    /// Ticks are 1/2^n s.
    Pow2(u32),
}

impl Res {
    fn to_ns(self, ticks: u64) -> i128 {
        let t = i128::from(ticks);
        match self {
            Self::Mul(m) => t * i128::from(m),
            Self::Div(d) => t / i128::from(d.max(1)),
            Self::Pow2(n) => (t * 1_000_000_000) >> n.min(120),
        }
    }

    fn from_tsresol(v: u8) -> Option<Self> {
        let n = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            (n <= 64).then_some(Self::Pow2(n))
        } else if n <= 9 {
            Some(Self::Mul(10u64.pow(9 - n)))
        } else if n <= 19 {
            Some(Self::Div(10u64.pow(n - 9)))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
struct Iface {
    link: u32,
    res: Res,
    offset_ns: i128,
}

#[derive(Debug)]
enum Kind {
    Pcap { be: bool, ns: bool, link: u32, max_caplen: usize },
    Pcapng { be: bool, ifaces: Vec<Iface>, sections: u32 },
}

/// Reads records one at a time. Create with [`Framer::open`].
#[derive(Debug)]
pub struct Framer {
    kind: Kind,
    last_ts: Nanos,
    /// Diagnostics about options that were ignored (bad `if_tsresol`, …), drained by the caller.
    pub notes: Vec<String>,
}

fn rd16(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
}

fn rd32(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

fn rd64(b: &[u8], at: usize, be: bool) -> Option<u64> {
    let s: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if be { u64::from_be_bytes(s) } else { u64::from_le_bytes(s) })
}

fn clamp_ns(v: i128) -> Nanos {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as Nanos
}

/// Which format the first bytes announce, if any (`None`: too short to tell).
#[must_use]
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let m: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    if le == NG_SHB {
        Some("pcapng")
    } else if [le, be].iter().any(|&v| v == PCAP_US || v == PCAP_NS) {
        Some("pcap")
    } else {
        None
    }
}

impl Framer {
    /// Recognise the file from its first bytes. For classic pcap the 24-byte header is
    /// consumed (the returned `usize`); for pcapng nothing is (the section header block is
    /// the first record).
    ///
    /// # Errors
    /// [`OpenError`] when the file is not a capture or its header is damaged.
    pub fn open(head: &[u8]) -> Result<(Self, usize), OpenError> {
        let Some(m) = head.get(..4) else { return Err(OpenError::NeedMore(4)) };
        let m: [u8; 4] = [m[0], m[1], m[2], m[3]];
        let le = u32::from_le_bytes(m);
        let be_val = u32::from_be_bytes(m);
        if le == PCAP_MODIFIED || be_val == PCAP_MODIFIED {
            return Err(OpenError::Modified);
        }
        if le == NG_SHB {
            if head.len() < 12 {
                return Err(OpenError::NeedMore(12));
            }
            let bom_le = rd32(head, 8, false).unwrap_or(0);
            let bom_be = rd32(head, 8, true).unwrap_or(0);
            if bom_le != NG_BOM && bom_be != NG_BOM {
                return Err(OpenError::BadHeader("pcapng section header has no byte-order magic".into()));
            }
            let be = bom_be == NG_BOM;
            let len = rd32(head, 4, be).unwrap_or(0) as usize;
            if len < 28 || len % 4 != 0 || len > MAX_RECORD {
                return Err(OpenError::BadHeader(format!("pcapng section header length {len} is impossible")));
            }
            let framer = Self { kind: Kind::Pcapng { be, ifaces: Vec::new(), sections: 0 }, last_ts: 0, notes: vec![] };
            return Ok((framer, 0));
        }
        let (be, ns) = match (le, be_val) {
            (PCAP_US, _) => (false, false),
            (PCAP_NS, _) => (false, true),
            (_, PCAP_US) => (true, false),
            (_, PCAP_NS) => (true, true),
            _ => return Err(OpenError::Magic(m)),
        };
        if head.len() < 24 {
            return Err(OpenError::NeedMore(24));
        }
        let major = rd16(head, 4, be).unwrap_or(0);
        if major != 2 {
            return Err(OpenError::BadHeader(format!("pcap version {major} is not 2")));
        }
        // The upper bits of the link type field carry FCS flags; the type is the low 16 bits.
        let link = rd32(head, 20, be).unwrap_or(0) & 0xffff;
        // A record longer than the snap length (or than libpcap's 256 KiB maximum) means the
        // framing is lost; trusting it would read garbage as packets.
        let snap = rd32(head, 16, be).unwrap_or(0) as usize;
        let max_caplen = snap.clamp(MAX_SNAPLEN, MAX_RECORD);
        Ok((Self { kind: Kind::Pcap { be, ns, link, max_caplen }, last_ts: 0, notes: vec![] }, 24))
    }

    /// "pcap" or "pcapng".
    #[must_use]
    pub fn format(&self) -> &'static str {
        match self.kind {
            Kind::Pcap { .. } => "pcap",
            Kind::Pcapng { .. } => "pcapng",
        }
    }

    /// Read the record at the start of `buf`.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Next<'a> {
        match &mut self.kind {
            Kind::Pcap { be, ns, link, max_caplen } => {
                let (be, ns, link, max_caplen) = (*be, *ns, *link, *max_caplen);
                if buf.len() < 16 {
                    return Next::NeedMore(16);
                }
                let (Some(sec), Some(frac), Some(incl), Some(orig)) =
                    (rd32(buf, 0, be), rd32(buf, 4, be), rd32(buf, 8, be), rd32(buf, 12, be))
                else {
                    return Next::NeedMore(16);
                };
                let incl = incl as usize;
                if incl > max_caplen {
                    return Next::Damaged(format!(
                        "record claims {incl} captured bytes, more than the {max_caplen} a packet can have here"
                    ));
                }
                let Some(data) = buf.get(16..16 + incl) else { return Next::NeedMore(16 + incl) };
                let frac_ns = if ns { i64::from(frac) } else { i64::from(frac) * 1000 };
                let ts = i64::from(sec) * 1_000_000_000 + frac_ns;
                self.last_ts = ts;
                Next::Record(Record::Packet(Packet { link, ts, data, orig_len: orig }), 16 + incl)
            }
            Kind::Pcapng { .. } => self.next_block(buf),
        }
    }

    fn next_block<'a>(&mut self, buf: &'a [u8]) -> Next<'a> {
        let Kind::Pcapng { be, ifaces, sections } = &mut self.kind else { return Next::Damaged("not pcapng".into()) };
        if buf.len() < 12 {
            return Next::NeedMore(12);
        }
        let mut bo = *be;
        let ty = rd32(buf, 0, bo).unwrap_or(0);
        if ty == NG_SHB {
            // A new section sets its own byte order.
            if rd32(buf, 8, false) == Some(NG_BOM) {
                bo = false;
            } else if rd32(buf, 8, true) == Some(NG_BOM) {
                bo = true;
            } else {
                return Next::Damaged("section header block without byte-order magic".into());
            }
        }
        let len = rd32(buf, 4, bo).unwrap_or(0) as usize;
        if len < 12 || len % 4 != 0 || len > MAX_RECORD {
            return Next::Damaged(format!("block type {ty:#x} has impossible length {len}"));
        }
        let Some(block) = buf.get(..len) else { return Next::NeedMore(len) };
        if rd32(block, len - 4, bo) != Some(len as u32) {
            return Next::Damaged(format!("block type {ty:#x}: trailing length differs from {len}"));
        }
        let body = &block[8..len - 4];
        let rec = match ty {
            NG_SHB => {
                if body.len() < 16 {
                    return Next::Damaged("section header block too short".into());
                }
                *be = bo;
                ifaces.clear();
                *sections += 1;
                let mut keys = None;
                walk_options(body.get(16..).unwrap_or(&[]), bo, |code, val| {
                    if code == 1 && looks_like_keylog(val) && keys.is_none() {
                        keys = Some(val);
                    }
                });
                match keys {
                    Some(k) => Record::CommentKeys(k),
                    None => Record::Other,
                }
            }
            NG_IDB => {
                let (Some(link), Some(_snap)) = (rd16(body, 0, bo), rd32(body, 4, bo)) else {
                    return Next::Damaged("interface description block too short".into());
                };
                let mut iface = Iface { link: u32::from(link), res: Res::Mul(1000), offset_ns: 0 };
                let notes = &mut self.notes;
                walk_options(body.get(8..).unwrap_or(&[]), bo, |code, val| match code {
                    9 => match val.first().copied().and_then(Res::from_tsresol) {
                        Some(r) => iface.res = r,
                        None => notes.push(format!("interface {}: unusable if_tsresol {val:?}", ifaces.len())),
                    },
                    14 => {
                        if let Some(s) = rd64(val, 0, bo) {
                            iface.offset_ns = i128::from(s as i64) * 1_000_000_000;
                        }
                    }
                    _ => {}
                });
                ifaces.push(iface);
                Record::Other
            }
            NG_EPB | NG_PB => {
                let (iface_id, hi_at) = if ty == NG_EPB {
                    (rd32(body, 0, bo).map(|v| v as usize), 4)
                } else {
                    (rd16(body, 0, bo).map(usize::from), 4)
                };
                let (Some(iface_id), Some(hi), Some(lo), Some(cap), Some(orig)) = (
                    iface_id,
                    rd32(body, hi_at, bo),
                    rd32(body, hi_at + 4, bo),
                    rd32(body, hi_at + 8, bo),
                    rd32(body, hi_at + 12, bo),
                ) else {
                    return Next::Damaged("packet block too short".into());
                };
                let Some(data) = body.get(20..20 + cap as usize) else {
                    return Next::Damaged(format!("packet block: captured length {cap} exceeds the block"));
                };
                let Some(ifc) = ifaces.get(iface_id) else {
                    return Next::Record(Record::Skipped(format!("packet on undeclared interface {iface_id}")), len);
                };
                let ticks = (u64::from(hi) << 32) | u64::from(lo);
                let ts = clamp_ns(ifc.res.to_ns(ticks) + ifc.offset_ns);
                self.last_ts = ts;
                Record::Packet(Packet { link: ifc.link, ts, data, orig_len: orig })
            }
            NG_SPB => {
                let Some(orig) = rd32(body, 0, bo) else {
                    return Next::Damaged("simple packet block too short".into());
                };
                let rest = body.get(4..).unwrap_or(&[]);
                let data = &rest[..rest.len().min(orig as usize)];
                let Some(ifc) = ifaces.first() else {
                    return Next::Record(Record::Skipped("simple packet block before any interface".into()), len);
                };
                // An SPB has no timestamp: it inherits the last one seen.
                Record::Packet(Packet { link: ifc.link, ts: self.last_ts, data, orig_len: orig })
            }
            NG_DSB => {
                let (Some(kind), Some(slen)) = (rd32(body, 0, bo), rd32(body, 4, bo)) else {
                    return Next::Damaged("decryption secrets block too short".into());
                };
                let Some(data) = body.get(8..8 + slen as usize) else {
                    return Next::Damaged(format!("decryption secrets block: length {slen} exceeds the block"));
                };
                Record::Secrets { kind, data }
            }
            NG_CUSTOM | NG_CUSTOM_NOCOPY | NG_JOURNAL => Record::Frame,
            _ => Record::Other,
        };
        Next::Record(rec, len)
    }
}

/// True when `text` has a line that starts with an NSS key log label.
fn looks_like_keylog(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n').any(|l| {
        let l = l.trim_ascii_start();
        l.starts_with(b"CLIENT_RANDOM ")
            || l.starts_with(b"CLIENT_TRAFFIC_SECRET_0 ")
            || l.starts_with(b"CLIENT_HANDSHAKE_TRAFFIC_SECRET ")
    })
}

/// Walk pcapng options (code, length, value padded to 4) until `opt_endofopt` or the end.
fn walk_options<'a>(mut b: &'a [u8], be: bool, mut f: impl FnMut(u16, &'a [u8])) {
    while let (Some(code), Some(len)) = (rd16(b, 0, be), rd16(b, 2, be)) {
        if code == 0 {
            break;
        }
        let len = usize::from(len);
        let Some(val) = b.get(4..4 + len) else { break };
        f(code, val);
        let step = 4 + len.div_ceil(4) * 4;
        b = b.get(step..).unwrap_or(&[]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builders for small capture files in tests (unit and integration).
    pub(crate) fn pcap_header(be: bool, ns: bool, link: u32) -> Vec<u8> {
        let magic = if ns { PCAP_NS } else { PCAP_US };
        let mut v = Vec::new();
        let w32 = |v: &mut Vec<u8>, x: u32| v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
        let w16 = |v: &mut Vec<u8>, x: u16| v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
        w32(&mut v, magic);
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, link);
        v
    }

    pub(crate) fn pcap_record(be: bool, sec: u32, frac: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [sec, frac, data.len() as u32, orig] {
            v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v.extend_from_slice(data);
        v
    }

    pub(crate) fn ng_block(be: bool, ty: u32, body: &[u8]) -> Vec<u8> {
        let pad = body.len().div_ceil(4) * 4 - body.len();
        let len = (12 + body.len() + pad) as u32;
        let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut v = Vec::new();
        v.extend(w(ty));
        v.extend(w(len));
        v.extend_from_slice(body);
        v.extend(std::iter::repeat_n(0, pad));
        v.extend(w(len));
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(if be { NG_BOM.to_be_bytes() } else { NG_BOM.to_le_bytes() });
        b.extend(if be { 1u16.to_be_bytes() } else { 1u16.to_le_bytes() });
        b.extend(if be { 0u16.to_be_bytes() } else { 0u16.to_le_bytes() });
        b.extend(if be { (-1i64).to_be_bytes() } else { (-1i64).to_le_bytes() });
        ng_block(be, NG_SHB, &b)
    }

    fn idb(be: bool, link: u16, opts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let w16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut b = Vec::new();
        b.extend(w16(link));
        b.extend(w16(0));
        b.extend(if be { 65535u32.to_be_bytes() } else { 65535u32.to_le_bytes() });
        for (c, val) in opts {
            b.extend(w16(*c));
            b.extend(w16(val.len() as u16));
            b.extend_from_slice(val);
            b.extend(std::iter::repeat_n(0, val.len().div_ceil(4) * 4 - val.len()));
        }
        b.extend([0, 0, 0, 0]);
        ng_block(be, NG_IDB, &b)
    }

    fn epb(be: bool, iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
        let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut b = Vec::new();
        b.extend(w(iface));
        b.extend(w((ticks >> 32) as u32));
        b.extend(w(ticks as u32));
        b.extend(w(data.len() as u32));
        b.extend(w(data.len() as u32));
        b.extend_from_slice(data);
        b.extend(std::iter::repeat_n(0, data.len().div_ceil(4) * 4 - data.len()));
        ng_block(be, NG_EPB, &b)
    }

    type Parsed = (Vec<(u32, Nanos, Vec<u8>)>, Vec<(u32, Vec<u8>)>, Option<String>);

    fn all(buf: &[u8]) -> Parsed {
        let (mut f, mut pos) = Framer::open(buf).unwrap();
        let (mut pk, mut sec) = (vec![], vec![]);
        loop {
            match f.next(&buf[pos..]) {
                Next::Record(r, n) => {
                    match r {
                        Record::Packet(p) => pk.push((p.link, p.ts, p.data.to_vec())),
                        Record::Secrets { kind, data } => sec.push((kind, data.to_vec())),
                        _ => {}
                    }
                    pos += n;
                }
                Next::NeedMore(_) if pos == buf.len() => return (pk, sec, None),
                Next::NeedMore(n) => return (pk, sec, Some(format!("truncated, need {n}"))),
                Next::Damaged(m) => return (pk, sec, Some(m)),
            }
        }
    }

    #[test]
    fn classic_pcap_both_byte_orders_and_units() {
        for be in [false, true] {
            for ns in [false, true] {
                let mut f = pcap_header(be, ns, 1);
                f.extend(pcap_record(be, 10, 5, b"abc", 3));
                let (pk, _, err) = all(&f);
                assert_eq!(err, None);
                let want = 10_000_000_000 + if ns { 5 } else { 5000 };
                assert_eq!(pk, vec![(1, want, b"abc".to_vec())], "be={be} ns={ns}");
            }
        }
    }

    #[test]
    fn modified_pcap_magic_is_rejected() {
        for m in [PCAP_MODIFIED.to_le_bytes(), PCAP_MODIFIED.to_be_bytes()] {
            let mut f = m.to_vec();
            f.extend([0; 20]);
            assert_eq!(Framer::open(&f).unwrap_err(), OpenError::Modified);
        }
        assert!(matches!(Framer::open(b"<html><body>hello</body>").unwrap_err(), OpenError::Magic(_)));
    }

    #[test]
    fn truncated_pcap_record_needs_more_and_huge_length_is_damage() {
        let mut f = pcap_header(false, false, 1);
        f.extend(pcap_record(false, 1, 0, b"abcdef", 6));
        let cut = &f[..f.len() - 2];
        let (pk, _, err) = all(cut);
        assert!(pk.is_empty());
        assert!(err.unwrap().contains("truncated"));
        let mut g = pcap_header(false, false, 1);
        g.extend(pcap_record(false, 1, 0, b"", 0));
        let n = g.len();
        g[n - 8..n - 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(all(&g).2.unwrap().contains("captured bytes"));
    }

    #[test]
    fn pcapng_sections_byte_orders_resolutions_offsets_spb_unknown_and_dsb() {
        let mut f = shb(false);
        f.extend(idb(false, 1, &[(9, vec![9])]));
        f.extend(idb(false, 101, &[(9, vec![0x80 | 10]), (14, 100u64.to_le_bytes().to_vec())]));
        f.extend(ng_block(false, 0x0000_0bad, b"custom!!"));
        f.extend(ng_block(false, NG_DSB, &[&0x544c_534bu32.to_le_bytes()[..], &4u32.to_le_bytes(), b"KEYS"].concat()));
        f.extend(epb(false, 0, 1_500_000_000_123_456_789, b"p1"));
        f.extend(epb(false, 1, 3 * 1024 + 512, b"p2"));
        f.extend(ng_block(false, NG_SPB, &[&3u32.to_le_bytes()[..], b"p3x"].concat()));
        // Second section, big-endian, default µs resolution.
        f.extend(shb(true));
        f.extend(idb(true, 113, &[]));
        f.extend(epb(true, 0, 2_000_000, b"p4"));
        let (pk, sec, err) = all(&f);
        assert_eq!(err, None);
        assert_eq!(sec, vec![(0x544c_534b, b"KEYS".to_vec())]);
        assert_eq!(
            pk,
            vec![
                (1, 1_500_000_000_123_456_789, b"p1".to_vec()),
                (101, 103_500_000_000, b"p2".to_vec()),
                (1, 103_500_000_000, b"p3x".to_vec()),
                (113, 2_000_000_000, b"p4".to_vec()),
            ]
        );
    }

    #[test]
    fn pcapng_packet_on_unknown_interface_is_skipped_and_bad_length_is_damage() {
        let mut f = shb(false);
        f.extend(epb(false, 3, 0, b"x"));
        let (mut fr, _) = Framer::open(&f).unwrap();
        let Next::Record(Record::Other, n) = fr.next(&f) else { panic!() };
        assert!(matches!(fr.next(&f[n..]), Next::Record(Record::Skipped(_), _)));
        let mut g = shb(false);
        g.extend(ng_block(false, 6, b""));
        let n = g.len();
        g[n - 12 + 4..n - 12 + 8].copy_from_slice(&7u32.to_le_bytes());
        assert!(all(&g).2.unwrap().contains("impossible length"));
    }

    #[test]
    fn timestamp_resolutions() {
        assert_eq!(Res::from_tsresol(6).unwrap().to_ns(5), 5000);
        assert_eq!(Res::from_tsresol(9).unwrap().to_ns(5), 5);
        assert_eq!(Res::from_tsresol(12).unwrap().to_ns(5000), 5);
        assert_eq!(Res::from_tsresol(0x80 | 1).unwrap().to_ns(3), 1_500_000_000);
        assert!(Res::from_tsresol(30).is_none());
    }
}
