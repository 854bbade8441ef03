//! Link layers: from a captured frame to the IP packet it carries. Supported: BSD NULL (0,
//! family in either byte order), Ethernet (1, with 802.1Q / QinQ tags, 802.3 LLC/SNAP,
//! PPPoE sessions and MPLS label stacks), PPP (9, 50 PPP-in-HDLC, 51 PPP over Ethernet
//! without its Ethernet header, 166 pppd), RAW (101, and 12/14 as some BSDs write it), Cisco
//! HDLC (104), 802.11 (105, and with radiotap 127, Prism 119, AVS 163 or PPI 192 headers:
//! data frames through LLC/SNAP; protected frames are counted, not read), LOOP (108), Linux
//! SLL (113), raw IPv4 (228) / IPv6 (229), NFLOG (239, walking its TLVs to the payload) and
//! Linux SLL2 (276).
//!
//! Layers inside layers (VLAN in MPLS in GRE in …) are walked with a [`Walk`] that bounds the
//! nesting depth and counts what was unwrapped (MPLS label stacks too, as they sit between
//! the link and the network layer); the IP-level tunnels (GRE, VXLAN, …) are in the
//! `tunnel` module, which calls back into this one for the frames they carry.

/// What a frame carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Net<'a> {
    /// An IPv4 or IPv6 packet (the version nibble says which).
    Ip(&'a [u8]),
    /// Something that is not IP (ARP, LLC, …).
    NotIp,
    /// The frame is shorter than its link header.
    Short,
    /// This link type is not supported.
    Unsupported,
    /// An 802.11 frame whose body is encrypted (the Protected Frame bit).
    Encrypted,
    /// More encapsulations nested than [`MAX_DEPTH`].
    TooDeep,
}

/// Most encapsulation layers unwrapped in one packet (link layers, VLAN tags and MPLS
/// stacks count one each, as do tunnels).
pub const MAX_DEPTH: u32 = 16;

/// Encapsulations unwrapped, counted once per layer (a packet in GRE in VXLAN counts one of
/// each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unwrapped {
    /// GRE headers (any payload, including ERSPAN and PPTP's enhanced GRE).
    pub gre: u64,
    /// ERSPAN headers (types I, II and III) inside GRE.
    pub erspan: u64,
    /// VXLAN headers (UDP 4789, and Linux's old 8472).
    pub vxlan: u64,
    /// Geneve headers (UDP 6081).
    pub geneve: u64,
    /// MPLS label stacks (over Ethernet, PPP, GRE or UDP 6635).
    pub mpls: u64,
    /// PPPoE session headers.
    pub pppoe: u64,
    /// IP packets inside IP (IPv4 or IPv6 in IPv4 or IPv6).
    pub ip_in_ip: u64,
    /// 802.11 data frames read through LLC/SNAP.
    pub wifi_data: u64,
}

/// The state of walking one packet's layers: the nesting depth and the running counters.
#[derive(Debug, Default)]
pub struct Walk {
    /// Layers entered so far for the current packet.
    pub depth: u32,
    /// Counters over the whole capture.
    pub seen: Unwrapped,
}

impl Walk {
    /// Start a new packet (the counters carry on).
    pub fn reset(&mut self) {
        self.depth = 0;
    }

    /// Enter one more layer; false when that passes [`MAX_DEPTH`].
    pub fn enter(&mut self) -> bool {
        self.depth += 1;
        self.depth <= MAX_DEPTH
    }
}

/// Link type numbers handled by [`network`].
pub const SUPPORTED: &[(u32, &str)] = &[
    (0, "NULL (BSD loopback)"),
    (1, "Ethernet (802.1Q, QinQ, LLC/SNAP, PPPoE, MPLS)"),
    (9, "PPP"),
    (12, "RAW (OpenBSD numbering)"),
    (14, "RAW (BSD/OS numbering)"),
    (50, "PPP in HDLC framing"),
    (51, "PPP over Ethernet (PPPoE header only)"),
    (101, "RAW"),
    (104, "Cisco HDLC"),
    (105, "IEEE 802.11"),
    (108, "LOOP (OpenBSD loopback)"),
    (113, "LINUX_SLL"),
    (119, "IEEE 802.11 with Prism header"),
    (127, "IEEE 802.11 with radiotap header"),
    (163, "IEEE 802.11 with AVS header"),
    (166, "PPP (pppd, with direction byte)"),
    (192, "PPI (802.11 or Ethernet inside)"),
    (228, "IPV4"),
    (229, "IPV6"),
    (239, "NFLOG"),
    (276, "LINUX_SLL2"),
];

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The IP packet inside a frame of link type `link` (counters thrown away).
#[must_use]
pub fn network(link: u32, f: &[u8]) -> Net<'_> {
    network_walk(link, f, &mut Walk::default())
}

/// The IP packet inside a frame of link type `link`, counting what was unwrapped in `w`.
pub fn network_walk<'a>(link: u32, f: &'a [u8], w: &mut Walk) -> Net<'a> {
    match link {
        1 => ethernet(f, w),
        0 | 108 => {
            let Some(h) = f.get(..4) else { return Net::Short };
            let fam = if link == 108 {
                u32::from_be_bytes([h[0], h[1], h[2], h[3]])
            } else {
                // The family is in the writer's byte order: a small number either way.
                let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                if le < 0x1_0000 { le } else { u32::from_be_bytes([h[0], h[1], h[2], h[3]]) }
            };
            match fam {
                2 | 24 | 28 | 30 | 10 => Net::Ip(&f[4..]),
                _ => Net::NotIp,
            }
        }
        9 | 50 => ppp(f, w),
        51 => pppoe_session(f, w),
        166 => f.get(1..).map_or(Net::Short, |r| ppp(r, w)),
        12 | 14 | 101 | 228 | 229 => by_version(f),
        104 => match be16(f, 2) {
            Some(et) => ethertype(et, &f[4..], w),
            None => Net::Short,
        },
        105 => wifi(f, w),
        119 => wifi_after(f, 144, w),
        127 => match le16(f, 2) {
            Some(len) => wifi_after(f, usize::from(len), w),
            None => Net::Short,
        },
        163 => match f.get(4..8) {
            Some(l) => wifi_after(f, u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize, w),
            None => Net::Short,
        },
        192 => ppi(f, w),
        113 => match be16(f, 14) {
            Some(et) => ethertype(et, &f[16..], w),
            None => Net::Short,
        },
        276 => match (be16(f, 0), f.get(20..)) {
            (Some(et), Some(rest)) => ethertype(et, rest, w),
            _ => Net::Short,
        },
        239 => nflog(f),
        _ => Net::Unsupported,
    }
}

pub(crate) fn by_version(f: &[u8]) -> Net<'_> {
    match f.first().map(|b| b >> 4) {
        Some(4 | 6) => Net::Ip(f),
        Some(_) => Net::NotIp,
        None => Net::Short,
    }
}

/// What follows an EtherType (Ethernet, SLL, Cisco HDLC, GRE, SNAP).
pub(crate) fn ethertype<'a>(et: u16, rest: &'a [u8], w: &mut Walk) -> Net<'a> {
    if !w.enter() {
        return Net::TooDeep;
    }
    match et {
        0x0800 | 0x86dd => Net::Ip(rest),
        0x8100 | 0x88a8 | 0x9100 => match be16(rest, 2) {
            Some(inner) => ethertype(inner, &rest[4..], w),
            None => Net::Short,
        },
        0x8864 => pppoe_session(rest, w),
        0x8847 | 0x8848 => mpls(rest, w),
        0x6558 => ethernet(rest, w),
        _ => Net::NotIp,
    }
}

/// An Ethernet II or 802.3 frame.
pub(crate) fn ethernet<'a>(f: &'a [u8], w: &mut Walk) -> Net<'a> {
    let Some(et) = be16(f, 12) else { return Net::Short };
    let rest = &f[14..];
    if et < 0x0600 {
        // 802.3 length field: only LLC/SNAP carries an EtherType.
        return snap(rest, w);
    }
    ethertype(et, rest, w)
}

/// An MPLS label stack (to the bottom-of-stack bit), then IPv4, IPv6, or an Ethernet
/// pseudowire behind its control word (first nibble 0).
pub(crate) fn mpls<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    let mut at = 0usize;
    loop {
        let Some(&s) = b.get(at + 2) else { return Net::Short };
        at += 4;
        if s & 1 == 1 {
            break;
        }
        if at >= 4 * 16 {
            return Net::TooDeep;
        }
    }
    let Some(rest) = b.get(at..) else { return Net::Short };
    w.seen.mpls += 1;
    if !w.enter() {
        return Net::TooDeep;
    }
    match rest.first().map(|v| v >> 4) {
        Some(4 | 6) => Net::Ip(rest),
        Some(0) => rest.get(4..).map_or(Net::Short, |r| ethernet(r, w)),
        Some(_) => Net::NotIp,
        None => Net::Short,
    }
}

/// 802.2 LLC with a SNAP header (`AA AA 03`, OUI, EtherType).
fn snap<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    match b.get(..8) {
        Some([0xaa, 0xaa, 0x03, 0, 0, oui, e0, e1]) if *oui == 0 || *oui == 0xf8 => {
            ethertype(u16::from_be_bytes([*e0, *e1]), &b[8..], w)
        }
        Some(_) => Net::NotIp,
        None => Net::Short,
    }
}

/// A PPPoE session header (6 bytes), then PPP's protocol field.
fn pppoe_session<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    if b.len() < 8 {
        return Net::Short;
    }
    w.seen.pppoe += 1;
    ppp_proto(&b[6..], w)
}

/// A PPP frame, with or without the HDLC address and control bytes (`FF 03`).
pub(crate) fn ppp<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    let b = if b.starts_with(&[0xff, 0x03]) { &b[2..] } else { b };
    ppp_proto(b, w)
}

/// PPP's protocol field (one byte when compressed: odd first byte) and what follows.
fn ppp_proto<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    let Some(&first) = b.first() else { return Net::Short };
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &b[1..])
    } else {
        match be16(b, 0) {
            Some(p) => (p, &b[2..]),
            None => return Net::Short,
        }
    };
    if !w.enter() {
        return Net::TooDeep;
    }
    match proto {
        0x0021 | 0x0057 => Net::Ip(rest),
        0x0281 | 0x0283 => mpls(rest, w),
        _ => Net::NotIp,
    }
}

/// An 802.11 frame after a radio header of `len` bytes.
fn wifi_after<'a>(f: &'a [u8], len: usize, w: &mut Walk) -> Net<'a> {
    match f.get(len..) {
        Some(rest) if len > 0 => wifi(rest, w),
        _ => Net::Short,
    }
}

/// PPI: a little-endian header length and the link type of what follows.
fn ppi<'a>(f: &'a [u8], w: &mut Walk) -> Net<'a> {
    let (Some(len), Some(dlt)) = (le16(f, 2), f.get(4..8)) else { return Net::Short };
    let dlt = u32::from_le_bytes([dlt[0], dlt[1], dlt[2], dlt[3]]);
    let Some(rest) = f.get(usize::from(len)..) else { return Net::Short };
    match dlt {
        105 => wifi(rest, w),
        1 => ethernet(rest, w),
        _ => Net::Unsupported,
    }
}

/// An IEEE 802.11 MAC frame: data frames carry LLC/SNAP; management, control and null
/// data frames carry no IP; protected frames are encrypted.
fn wifi<'a>(f: &'a [u8], w: &mut Walk) -> Net<'a> {
    let (Some(&fc0), Some(&fc1)) = (f.first(), f.get(1)) else { return Net::Short };
    let (kind, sub) = ((fc0 >> 2) & 3, fc0 >> 4);
    if kind != 2 || sub & 4 != 0 {
        return Net::NotIp;
    }
    let qos = sub & 8 != 0;
    let mut hdr = 24;
    if fc1 & 3 == 3 {
        hdr += 6;
    }
    if qos {
        // An A-MSDU (QoS control bit 7) holds subframes, not one LLC payload.
        if f.get(hdr).is_some_and(|q| q & 0x80 != 0) {
            return Net::NotIp;
        }
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4;
        }
    }
    if fc1 & 0x40 != 0 {
        return Net::Encrypted;
    }
    let Some(body) = f.get(hdr..) else { return Net::Short };
    let out = snap(body, w);
    if matches!(out, Net::Ip(_)) {
        w.seen.wifi_data += 1;
    }
    out
}

/// NFLOG: 4-byte header (family, version, resource id), then TLVs whose length and type are
/// in the writer's host byte order; the packet is TLV type 9 (NFULA_PAYLOAD).
fn nflog(f: &[u8]) -> Net<'_> {
    let Some(mut rest) = f.get(4..) else { return Net::Short };
    let first = rest.get(..4);
    let Some(first) = first else { return Net::Short };
    let le_len = usize::from(u16::from_le_bytes([first[0], first[1]]));
    let le = (4..=rest.len()).contains(&le_len);
    loop {
        let Some(h) = rest.get(..4) else { return Net::NotIp };
        let (len, ty) = if le {
            (u16::from_le_bytes([h[0], h[1]]), u16::from_le_bytes([h[2], h[3]]))
        } else {
            (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]))
        };
        let len = usize::from(len);
        if len < 4 {
            return Net::NotIp;
        }
        if ty == 9 {
            return match rest.get(4..len) {
                Some(p) => by_version(p),
                // A snaplen-cut payload: hand over what there is.
                None => by_version(&rest[4..]),
            };
        }
        rest = match rest.get(len.div_ceil(4) * 4..) {
            Some(r) => r,
            None => return Net::NotIp,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];
    const IP6: &[u8] = &[0x60, 0, 0, 0];

    #[test]
    fn null_family_in_either_byte_order_and_loop() {
        let mut le = 2u32.to_le_bytes().to_vec();
        le.extend(IP4);
        assert_eq!(network(0, &le), Net::Ip(IP4));
        let mut be = 30u32.to_be_bytes().to_vec();
        be.extend(IP6);
        assert_eq!(network(0, &be), Net::Ip(IP6));
        assert_eq!(network(108, &be), Net::Ip(IP6));
        let mut other = 7u32.to_le_bytes().to_vec();
        other.extend(IP4);
        assert_eq!(network(0, &other), Net::NotIp);
    }

    #[test]
    fn ethernet_with_vlan_qinq_and_pppoe() {
        let mut f = vec![0u8; 12];
        f.extend([0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x86, 0xdd]);
        f.extend(IP6);
        assert_eq!(network(1, &f), Net::Ip(IP6));
        let mut p = vec![0u8; 12];
        p.extend([0x88, 0x64, 0x11, 0, 0, 1, 0, 20, 0x00, 0x21]);
        p.extend(IP4);
        assert_eq!(network(1, &p), Net::Ip(IP4));
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06, 1, 2]);
        assert_eq!(network(1, &arp), Net::NotIp);
        assert_eq!(network(1, &[0; 13]), Net::Short);
    }

    #[test]
    fn raw_sll_sll2_and_unknown() {
        assert_eq!(network(101, IP4), Net::Ip(IP4));
        assert_eq!(network(229, IP6), Net::Ip(IP6));
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(IP4);
        assert_eq!(network(113, &sll), Net::Ip(IP4));
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend([0u8; 18]);
        sll2.extend(IP6);
        assert_eq!(network(276, &sll2), Net::Ip(IP6));
        assert_eq!(network(147, IP4), Net::Unsupported);
    }

    #[test]
    fn nflog_walks_tlvs_to_the_payload() {
        let mut f = vec![2, 0, 0, 1];
        // A prefix TLV (type 10, 5 bytes + 3 padding), then the payload TLV.
        f.extend(9u16.to_le_bytes());
        f.extend(10u16.to_le_bytes());
        f.extend([b'a', b'b', b'c', b'd', b'e', 0, 0, 0]);
        f.extend(8u16.to_le_bytes());
        f.extend(9u16.to_le_bytes());
        f.extend(IP4);
        assert_eq!(network(239, &f), Net::Ip(IP4));
        let mut g = vec![2, 0, 0, 1];
        g.extend(8u16.to_be_bytes());
        g.extend(9u16.to_be_bytes());
        g.extend(IP4);
        assert_eq!(network(239, &g), Net::Ip(IP4));
    }
}
