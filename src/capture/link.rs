//! Link layers: from a captured frame to the IP packet it carries. Supported: BSD NULL (0,
//! family in either byte order), Ethernet (1, with 802.1Q / QinQ tags and PPPoE sessions),
//! RAW (101, and 12/14 as some BSDs write it), LOOP (108), Linux SLL (113), raw IPv4 (228) /
//! IPv6 (229), NFLOG (239, walking its TLVs to the payload) and Linux SLL2 (276).

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
}

/// Link type numbers handled by [`network`].
pub const SUPPORTED: &[(u32, &str)] = &[
    (0, "NULL (BSD loopback)"),
    (1, "Ethernet (802.1Q, QinQ, PPPoE)"),
    (12, "RAW (OpenBSD numbering)"),
    (14, "RAW (BSD/OS numbering)"),
    (101, "RAW"),
    (108, "LOOP (OpenBSD loopback)"),
    (113, "LINUX_SLL"),
    (228, "IPV4"),
    (229, "IPV6"),
    (239, "NFLOG"),
    (276, "LINUX_SLL2"),
];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The IP packet inside a frame of link type `link`.
#[must_use]
pub fn network(link: u32, f: &[u8]) -> Net<'_> {
    match link {
        1 => ethernet(f),
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
        12 | 14 | 101 | 228 | 229 => by_version(f),
        113 => match be16(f, 14) {
            Some(et) => ethertype(et, &f[16..]),
            None => Net::Short,
        },
        276 => match (be16(f, 0), f.get(20..)) {
            (Some(et), Some(rest)) => ethertype(et, rest),
            _ => Net::Short,
        },
        239 => nflog(f),
        _ => Net::Unsupported,
    }
}

fn by_version(f: &[u8]) -> Net<'_> {
    match f.first().map(|b| b >> 4) {
        Some(4 | 6) => Net::Ip(f),
        Some(_) => Net::NotIp,
        None => Net::Short,
    }
}

fn ethertype(et: u16, rest: &[u8]) -> Net<'_> {
    match et {
        0x0800 | 0x86dd => Net::Ip(rest),
        _ => Net::NotIp,
    }
}

fn ethernet(f: &[u8]) -> Net<'_> {
    let Some(mut et) = be16(f, 12) else { return Net::Short };
    let mut at = 14;
    // Up to a few stacked VLAN tags (802.1Q, 802.1ad, the old 0x9100 QinQ).
    for _ in 0..4 {
        if !matches!(et, 0x8100 | 0x88a8 | 0x9100) {
            break;
        }
        let Some(inner) = be16(f, at + 2) else { return Net::Short };
        et = inner;
        at += 4;
    }
    if et == 0x8864 {
        // PPPoE session: 6-byte header, then the 2-byte PPP protocol.
        let Some(proto) = be16(f, at + 6) else { return Net::Short };
        return match proto {
            0x0021 | 0x0057 => Net::Ip(f.get(at + 8..).unwrap_or(&[])),
            _ => Net::NotIp,
        };
    }
    match f.get(at..) {
        Some(rest) => ethertype(et, rest),
        None => Net::Short,
    }
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
        assert_eq!(network(127, IP4), Net::Unsupported);
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
