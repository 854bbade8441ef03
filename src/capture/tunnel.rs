//! Tunnels carried by IP: IP-in-IP (IPv4 or IPv6 in IPv4 or IPv6), GRE (RFC 2784/2890, with
//! Ethernet bridging, MPLS, PPP from PPTP's enhanced GRE, WCCP redirection and ERSPAN types
//! I, II and III), VXLAN (UDP 4789 and Linux's former 8472), Geneve (UDP 6081) and MPLS over
//! UDP (6635), whose MPLS stacks `link::mpls` reads. Each returns what the tunnel
//! carries as a [`Net`], walking inner link layers with the same bounded [`Walk`].

use super::link::{Net, Walk, be16, by_version, ethernet, ethertype, mpls, ppp};

/// IP protocol numbers that carry a tunnel (IPv4-in-IP, GRE, IPv6-in-IP) or may (UDP).
#[must_use]
pub fn is_tunnel_proto(proto: u8) -> bool {
    matches!(proto, 4 | 41 | 47 | 17)
}

/// What the transport payload `l4` of IP protocol `proto` carries, when it is a tunnel;
/// `None` when it is no tunnel (plain UDP, …).
pub fn inner<'a>(proto: u8, l4: &'a [u8], w: &mut Walk) -> Option<Net<'a>> {
    if !w.enter() {
        return Some(Net::TooDeep);
    }
    match proto {
        4 | 41 => {
            w.seen.ip_in_ip += 1;
            Some(by_version(l4))
        }
        47 => Some(gre(l4, w)),
        17 => udp(l4, w),
        _ => None,
    }
}

fn udp<'a>(b: &'a [u8], w: &mut Walk) -> Option<Net<'a>> {
    let (src, dst) = (be16(b, 0)?, be16(b, 2)?);
    let body = b.get(8..)?;
    let port = |p: u16| src == p || dst == p;
    if port(4789) || port(8472) {
        // VXLAN: flags (the I bit says a VNI is present), 3 reserved, VNI, 1 reserved.
        if body.len() < 8 || body[0] & 0x08 == 0 {
            return None;
        }
        w.seen.vxlan += 1;
        return Some(ethernet(&body[8..], w));
    }
    if port(6081) {
        // Geneve: version (2 bits) and options length (6 bits, 4-byte words), protocol type.
        let (&vo, proto) = (body.first()?, be16(body, 2)?);
        if vo >> 6 != 0 {
            return None;
        }
        let rest = body.get(8 + usize::from(vo & 0x3f) * 4..)?;
        w.seen.geneve += 1;
        return Some(match proto {
            0x6558 => ethernet(rest, w),
            et => ethertype(et, rest, w),
        });
    }
    if dst == 6635 {
        return Some(mpls(body, w));
    }
    None
}

/// A GRE header and its payload.
fn gre<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    let (Some(flags), Some(proto)) = (be16(b, 0), be16(b, 2)) else { return Net::Short };
    let seq = flags & 0x1000 != 0;
    let mut at = 4usize;
    match flags & 7 {
        0 => {
            if flags & 0x4000 != 0 {
                // Source routing (deprecated): the route list has no fixed length.
                return Net::NotIp;
            }
            at += 4 * usize::from(flags & 0x8000 != 0);
            at += 4 * usize::from(flags & 0x2000 != 0);
            at += 4 * usize::from(seq);
        }
        1 => {
            // PPTP's enhanced GRE: a key (payload length, call id), then sequence and
            // acknowledgement numbers when flagged.
            at += 4 + 4 * usize::from(seq) + 4 * usize::from(flags & 0x0080 != 0);
        }
        _ => return Net::NotIp,
    }
    let Some(rest) = b.get(at..) else { return Net::Short };
    w.seen.gre += 1;
    match proto {
        0x88be => {
            w.seen.erspan += 1;
            // Type II has a sequence number and an 8-byte header; type I has neither.
            if seq { rest.get(8..).map_or(Net::Short, |r| ethernet(r, w)) } else { ethernet(rest, w) }
        }
        0x22eb => {
            w.seen.erspan += 1;
            erspan3(rest, w)
        }
        0x883e => rest.get(4..).map_or(Net::Short, by_version),
        0x880b if rest.is_empty() => Net::NotIp,
        0x880b => ppp(rest, w),
        et => ethertype(et, rest, w),
    }
}

/// ERSPAN type III: a 12-byte header, an 8-byte platform subheader when the O bit is set;
/// the frame type says Ethernet (0) or IP (2).
fn erspan3<'a>(b: &'a [u8], w: &mut Walk) -> Net<'a> {
    let (Some(&b10), Some(&b11)) = (b.get(10), b.get(11)) else { return Net::Short };
    let at = 12 + 8 * usize::from(b11 & 1);
    let Some(rest) = b.get(at..) else { return Net::Short };
    match (b10 >> 2) & 0x1f {
        0 => ethernet(rest, w),
        2 => by_version(rest),
        _ => Net::NotIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];

    fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend(et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn gre_with_key_and_sequence_carries_ip() {
        let mut g = vec![0x30, 0, 0x08, 0x00];
        g.extend([0; 8]);
        g.extend(IP4);
        let mut w = Walk::default();
        assert_eq!(inner(47, &g, &mut w), Some(Net::Ip(IP4)));
        assert_eq!(w.seen.gre, 1);
    }

    #[test]
    fn erspan_types_one_two_and_three_reach_the_mirrored_frame() {
        let frame = eth(0x0800, IP4);
        let mut t1 = vec![0, 0, 0x88, 0xbe];
        t1.extend(&frame);
        let mut t2 = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 1];
        t2.extend([0x10, 0, 0, 0, 0, 0, 0, 0]);
        t2.extend(&frame);
        let mut t3 = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
        t3.extend([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        t3.extend([0; 8]);
        t3.extend(&frame);
        let mut w = Walk::default();
        for g in [&t1, &t2, &t3] {
            w.reset();
            assert_eq!(inner(47, g, &mut w), Some(Net::Ip(IP4)));
        }
        assert_eq!((w.seen.gre, w.seen.erspan), (3, 3));
    }

    #[test]
    fn vxlan_geneve_and_mpls_over_udp() {
        let udp = |port: u16, body: &[u8]| {
            let mut u = vec![0x12, 0x34];
            u.extend(port.to_be_bytes());
            u.extend([0, 0, 0, 0]);
            u.extend_from_slice(body);
            u
        };
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend(eth(0x0800, IP4));
        let mut gn = vec![0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4];
        gn.extend(eth(0x0800, IP4));
        let mut ml = vec![0, 1, 0x01, 64];
        ml.extend(IP4);
        let mut w = Walk::default();
        for u in [udp(4789, &vx), udp(6081, &gn), udp(6635, &ml)] {
            w.reset();
            assert_eq!(inner(17, &u, &mut w), Some(Net::Ip(IP4)));
        }
        assert_eq!(inner(17, &udp(53, b"dns query"), &mut w), None);
        assert_eq!((w.seen.vxlan, w.seen.geneve, w.seen.mpls), (1, 1, 1));
    }

    #[test]
    fn mpls_stack_with_an_ethernet_pseudowire() {
        let mut m = vec![0, 1, 0, 64, 0, 2, 1, 64, 0, 0, 0, 0];
        m.extend(eth(0x8100, &[0, 5, 0x08, 0x00]));
        m.extend(IP4);
        let mut w = Walk::default();
        assert_eq!(mpls(&m, &mut w), Net::Ip(IP4));
    }

    #[test]
    fn nesting_past_the_bound_is_too_deep() {
        // IP-in-IP twenty times over: the walk stops at the bound.
        let mut w = Walk::default();
        let mut out = Some(Net::Ip(IP4));
        for _ in 0..20 {
            out = inner(4, IP4, &mut w);
        }
        assert_eq!(out, Some(Net::TooDeep));
    }
}
