//! IPv4 and IPv6 headers (IPv6 extension headers: hop-by-hop, routing, fragment, destination
//! options, AH) down to the transport payload, and fragment reassembly ([`Defrag`]) with
//! bounded memory (per-datagram size, number of datagrams in flight, timeout on the capture
//! clock).

use std::collections::HashMap;

use crate::model::Nanos;

/// An IP packet's transport payload and addresses. Addresses are 128-bit; IPv4 ones are
/// stored IPv4-mapped (`::ffff:a.b.c.d`) with `v6 == false`.
#[derive(Debug, Clone, Copy)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// True for IPv6.
    pub v6: bool,
    /// Transport protocol (6 = TCP).
    pub proto: u8,
    /// Transport bytes captured (trimmed to the declared length: link padding removed).
    pub payload: &'a [u8],
    /// Transport bytes the header declares but the capture does not hold (snaplen).
    pub missing: u32,
    /// Set when this packet is a fragment.
    pub frag: Option<Frag>,
}

/// Where a fragment sits in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frag {
    /// Datagram identification.
    pub id: u32,
    /// Byte offset of this fragment's payload.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parse an IPv4 or IPv6 packet.
///
/// # Errors
/// A short reason when the header is not valid or not complete.
pub fn parse(b: &[u8]) -> Result<IpPacket<'_>, &'static str> {
    match b.first().map(|v| v >> 4) {
        Some(4) => parse_v4(b),
        Some(6) => parse_v6(b),
        Some(_) => Err("IP version is neither 4 nor 6"),
        None => Err("empty IP packet"),
    }
}

fn trim(b: &[u8], start: usize, end_declared: usize) -> (&[u8], u32) {
    let end = end_declared.min(b.len());
    let payload = b.get(start..end).unwrap_or(&[]);
    let missing = end_declared.saturating_sub(b.len().max(start));
    (payload, u32::try_from(missing).unwrap_or(u32::MAX))
}

fn parse_v4(b: &[u8]) -> Result<IpPacket<'_>, &'static str> {
    let h: &[u8; 20] = b.get(..20).and_then(|s| s.try_into().ok()).ok_or("IPv4 header cut short")?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 || b.len() < ihl {
        return Err("IPv4 header length is invalid or cut short");
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // A total length of 0 happens with TCP segmentation offload captures: use what is there.
    let total = if total == 0 { b.len() } else { total };
    if total < ihl {
        return Err("IPv4 total length is smaller than its header");
    }
    let flags_frag = u16::from_be_bytes([h[6], h[7]]);
    let more = flags_frag & 0x2000 != 0;
    let offset = u32::from(flags_frag & 0x1fff) * 8;
    let frag = (more || offset != 0).then_some(Frag { id: u32::from(u16::from_be_bytes([h[4], h[5]])), offset, more });
    let src = 0xffff_0000_0000u128 | u128::from(u32::from_be_bytes([h[12], h[13], h[14], h[15]]));
    let dst = 0xffff_0000_0000u128 | u128::from(u32::from_be_bytes([h[16], h[17], h[18], h[19]]));
    let (payload, missing) = trim(b, ihl, total);
    Ok(IpPacket { src, dst, v6: false, proto: h[9], payload, missing, frag })
}

fn parse_v6(b: &[u8]) -> Result<IpPacket<'_>, &'static str> {
    let h: &[u8; 40] = b.get(..40).and_then(|s| s.try_into().ok()).ok_or("IPv6 header cut short")?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // Payload length 0 means a jumbogram (or offload): take what was captured.
    let end = if plen == 0 { b.len() } else { 40 + plen };
    let mut next = h[6];
    let src = u128::from_be_bytes(h[8..24].try_into().map_err(|_| "IPv6 header cut short")?);
    let dst = u128::from_be_bytes(h[24..40].try_into().map_err(|_| "IPv6 header cut short")?);
    let mut at = 40usize;
    let mut frag = None;
    for _ in 0..16 {
        match next {
            0 | 43 | 60 => {
                let n = *b.get(at).ok_or("IPv6 extension header cut short")?;
                let len = usize::from(*b.get(at + 1).ok_or("IPv6 extension header cut short")?) * 8 + 8;
                next = n;
                at += len;
            }
            51 => {
                let n = *b.get(at).ok_or("IPv6 AH cut short")?;
                let len = (usize::from(*b.get(at + 1).ok_or("IPv6 AH cut short")?) + 2) * 4;
                next = n;
                at += len;
            }
            44 => {
                let n = *b.get(at).ok_or("IPv6 fragment header cut short")?;
                let fo = be16(b, at + 2).ok_or("IPv6 fragment header cut short")?;
                let id = b.get(at + 4..at + 8).ok_or("IPv6 fragment header cut short")?;
                let id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
                let offset = u32::from(fo >> 3) * 8;
                let more = fo & 1 != 0;
                if more || offset != 0 {
                    frag = Some(Frag { id, offset, more });
                }
                next = n;
                at += 8;
                if frag.is_some() {
                    break;
                }
            }
            _ => break,
        }
    }
    if at > end {
        return Err("IPv6 extension headers run past the packet");
    }
    let (payload, missing) = trim(b, at, end);
    Ok(IpPacket { src, dst, v6: true, proto: next, payload, missing, frag })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: u128,
    dst: u128,
    id: u32,
    proto: u8,
    v6: bool,
}

#[derive(Debug)]
struct Pending {
    buf: Vec<u8>,
    /// Covered byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    first_ts: Nanos,
}

/// The result of adding a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum DefragOut {
    /// The datagram is complete: its transport protocol and payload.
    Done(u8, Vec<u8>),
    /// More fragments are needed.
    Pending,
    /// The fragment was dropped (reason).
    Dropped(&'static str),
}

/// IP fragment reassembly with bounded memory.
#[derive(Debug)]
pub struct Defrag {
    pending: HashMap<FragKey, Pending>,
    timeout_ns: i64,
    max_pending: usize,
    /// Datagrams given up (timeout, eviction, damage).
    pub dropped: u64,
}

const MAX_DATAGRAM: u32 = 65_535 + 65_535;

impl Defrag {
    /// Reassembly with `timeout_ns` on the capture clock and at most `max_pending` datagrams
    /// in flight (the oldest is dropped beyond that).
    #[must_use]
    pub fn new(timeout_ns: i64, max_pending: usize) -> Self {
        Self { pending: HashMap::new(), timeout_ns, max_pending: max_pending.max(1), dropped: 0 }
    }

    /// Number of datagrams waiting for fragments.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Add a fragment (`ip.frag` must be set).
    pub fn add(&mut self, ip: &IpPacket<'_>, ts: Nanos) -> DefragOut {
        let Some(f) = ip.frag else { return DefragOut::Dropped("not a fragment") };
        let key = FragKey { src: ip.src, dst: ip.dst, id: f.id, proto: if ip.v6 { 0 } else { ip.proto }, v6: ip.v6 };
        if ip.missing > 0 {
            if self.pending.remove(&key).is_some() {
                self.dropped += 1;
            }
            return DefragOut::Dropped("fragment cut by snaplen");
        }
        let start = f.offset;
        let Some(end) = u32::try_from(ip.payload.len()).ok().and_then(|l| start.checked_add(l)) else {
            return DefragOut::Dropped("fragment too large");
        };
        if end > MAX_DATAGRAM {
            return DefragOut::Dropped("fragment beyond the largest datagram");
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            if let Some(oldest) = self.pending.iter().min_by_key(|(_, p)| p.first_ts).map(|(k, _)| *k) {
                self.pending.remove(&oldest);
                self.dropped += 1;
            }
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            buf: Vec::new(),
            have: Vec::new(),
            total: None,
            first_ts: ts,
        });
        if !f.more {
            p.total = Some(end);
        }
        if p.buf.len() < end as usize {
            p.buf.resize(end as usize, 0);
        }
        p.buf[start as usize..end as usize].copy_from_slice(ip.payload);
        p.have.push((start, end));
        p.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(p.have.len());
        for &(s, e) in &p.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        p.have = merged;
        match (p.total, p.have.as_slice()) {
            (Some(t), [(0, e)]) if *e >= t => {
                let Some(mut p) = self.pending.remove(&key) else { return DefragOut::Pending };
                p.buf.truncate(t as usize);
                DefragOut::Done(ip.proto, p.buf)
            }
            _ => DefragOut::Pending,
        }
    }

    /// Drop datagrams older than the timeout; returns how many were dropped.
    pub fn expire(&mut self, now: Nanos) -> usize {
        let before = self.pending.len();
        let timeout = self.timeout_ns;
        self.pending.retain(|_, p| now.saturating_sub(p.first_ts) <= timeout);
        let n = before - self.pending.len();
        self.dropped += n as u64;
        n
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An IPv4 header + payload (test builder).
    pub(crate) fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut v = vec![0x45, 0];
        v.extend(total.to_be_bytes());
        v.extend(id.to_be_bytes());
        v.extend(frag.to_be_bytes());
        v.extend([64, proto, 0, 0]);
        v.extend(src);
        v.extend(dst);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn ipv4_trims_link_padding_and_reports_snaplen_cut() {
        let mut p = v4([10, 0, 0, 1], [10, 0, 0, 2], 6, 1, 0x4000, b"hello");
        p.extend([0; 6]);
        let ip = parse(&p).unwrap();
        assert_eq!(ip.payload, b"hello");
        assert_eq!((ip.proto, ip.missing, ip.frag), (6, 0, None));
        let ip = parse(&p[..22]).unwrap();
        assert_eq!((ip.payload, ip.missing), (&b"he"[..], 3));
        assert!(parse(&p[..10]).is_err());
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut p = vec![0x60, 0, 0, 0];
        let ext = [
            // hop-by-hop (next = routing), 8 bytes
            vec![43, 0, 1, 4, 0, 0, 0, 0],
            // routing (next = dest opts), 8 bytes
            vec![60, 0, 0, 0, 0, 0, 0, 0],
            // dest opts (next = AH), 8 bytes
            vec![51, 0, 1, 4, 0, 0, 0, 0],
            // AH (next = TCP), (1+2)*4 = 12 bytes
            vec![6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        let payload = b"tcpdata";
        p.extend(((ext.len() + payload.len()) as u16).to_be_bytes());
        p.extend([0, 64]);
        p.extend([1u8; 16]);
        p.extend([2u8; 16]);
        p.extend(&ext);
        p.extend(payload);
        let ip = parse(&p).unwrap();
        assert_eq!((ip.proto, ip.payload, ip.v6), (6, &payload[..], true));
    }

    #[test]
    fn ipv4_fragments_reassemble_in_any_order() {
        let data: Vec<u8> = (0..40u8).collect();
        let a = v4([1, 1, 1, 1], [2, 2, 2, 2], 6, 7, 0x2000, &data[..16]);
        let b = v4([1, 1, 1, 1], [2, 2, 2, 2], 6, 7, 0x2000 | 2, &data[16..32]);
        let c = v4([1, 1, 1, 1], [2, 2, 2, 2], 6, 7, 4, &data[32..]);
        let mut d = Defrag::new(1_000_000_000, 8);
        assert_eq!(d.add(&parse(&c).unwrap(), 0), DefragOut::Pending);
        assert_eq!(d.add(&parse(&a).unwrap(), 0), DefragOut::Pending);
        assert_eq!(d.add(&parse(&b).unwrap(), 0), DefragOut::Done(6, data.clone()));
        assert_eq!(d.in_flight(), 0);
        assert_eq!(d.add(&parse(&a).unwrap(), 0), DefragOut::Pending);
        assert_eq!(d.expire(2_000_000_000), 1);
        assert_eq!(d.in_flight(), 0);
    }

    #[test]
    fn ipv6_fragment_header_is_reassembled() {
        let data: Vec<u8> = (0..24u8).collect();
        let mk = |off: u16, more: bool, part: &[u8]| {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend(((8 + part.len()) as u16).to_be_bytes());
            p.extend([44, 64]);
            p.extend([1u8; 16]);
            p.extend([2u8; 16]);
            p.extend([6, 0]);
            p.extend(((off << 3) | u16::from(more)).to_be_bytes());
            p.extend(99u32.to_be_bytes());
            p.extend_from_slice(part);
            p
        };
        let mut d = Defrag::new(1, 1);
        let f1 = mk(0, true, &data[..16]);
        let f2 = mk(2, false, &data[16..]);
        assert_eq!(d.add(&parse(&f2).unwrap(), 0), DefragOut::Pending);
        assert_eq!(d.add(&parse(&f1).unwrap(), 0), DefragOut::Done(6, data));
    }
}
