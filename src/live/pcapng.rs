//! Writing pcapng blocks (little-endian): the section header, one interface description,
//! enhanced packet blocks and TLS key log decryption-secrets blocks — what a live capture
//! streams to the readers and saves with `--write`.

/// `TLSK`: the DSB secrets type of an NSS key log.
pub const SECRETS_TLS_KEYLOG: u32 = 0x544c_534b;

fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let pad = (4 - body.len() % 4) % 4;
    let total = u32::try_from(12 + body.len() + pad).unwrap_or(u32::MAX);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend(std::iter::repeat_n(0u8, pad));
    out.extend_from_slice(&total.to_le_bytes());
}

/// A section header block (version 1.0, section length unknown).
pub fn section_header(out: &mut Vec<u8>) {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    block(out, 0x0A0D_0D0A, &b);
}

/// An interface description block: link type, snap length, microsecond timestamps.
pub fn interface(out: &mut Vec<u8>, linktype: u16, snaplen: u32) {
    let mut b = Vec::with_capacity(8);
    b.extend_from_slice(&linktype.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&snaplen.to_le_bytes());
    block(out, 1, &b);
}

/// An enhanced packet block on interface 0: timestamp in microseconds since the epoch,
/// the captured bytes and the packet's length on the wire.
pub fn packet(out: &mut Vec<u8>, ts_us: u64, data: &[u8], orig_len: u32) {
    let mut b = Vec::with_capacity(20 + data.len());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(ts_us as u32).to_le_bytes());
    b.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    b.extend_from_slice(&orig_len.to_le_bytes());
    b.extend_from_slice(data);
    block(out, 6, &b);
}

/// A decryption-secrets block holding TLS key log lines.
pub fn tls_keys(out: &mut Vec<u8>, lines: &[u8]) {
    let mut b = Vec::with_capacity(8 + lines.len());
    b.extend_from_slice(&SECRETS_TLS_KEYLOG.to_le_bytes());
    b.extend_from_slice(&u32::try_from(lines.len()).unwrap_or(u32::MAX).to_le_bytes());
    b.extend_from_slice(lines);
    block(out, 0x0000_000A, &b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
    use crate::capture::{CaptureOptions, Input, read_packets};
    use crate::model::{Diagnostic, Nanos};

    #[derive(Default)]
    struct Count {
        secrets: Vec<u8>,
    }
    impl StreamHandler for Count {
        fn on_secrets(&mut self, kind: u32, data: &[u8]) {
            assert_eq!(kind, SECRETS_TLS_KEYLOG);
            self.secrets.extend_from_slice(data);
        }
        fn on_open(&mut self, _c: &ConnInfo, _ts: Nanos) {}
        fn on_data(&mut self, _c: &ConnInfo, _d: Dir, _data: &[u8], _ts: Nanos, _p: u64) {}
        fn on_gap(&mut self, _c: &ConnInfo, _d: Dir, _len: u64, _ts: Nanos) {}
        fn on_close(&mut self, _c: &ConnInfo, _k: CloseKind, _ts: Nanos) {}
        fn on_diagnostic(&mut self, _d: Diagnostic) {}
    }

    #[test]
    fn written_blocks_read_back_as_packets_and_secrets() {
        let mut out = Vec::new();
        section_header(&mut out);
        interface(&mut out, 1, 65535);
        tls_keys(&mut out, b"CLIENT_RANDOM 00 11\n");
        // An Ethernet frame carrying ARP (not IP): counted as a packet, skipped as non-IP.
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x06]);
        frame.extend_from_slice(&[0u8; 29]);
        packet(&mut out, 1_700_000_000_000_000, &frame, 60);
        packet(&mut out, 1_700_000_000_000_001, &frame, 60);
        let mut h = Count::default();
        let st = read_packets(Input::Bytes(out), &CaptureOptions::default(), &mut h).unwrap();
        assert_eq!(st.packets, 2);
        assert_eq!(st.skipped_non_ip, 2);
        assert_eq!(st.secrets_blocks, 1);
        assert_eq!(h.secrets, b"CLIENT_RANDOM 00 11\n");
    }
}
