//! HTTP/2 framing (RFC 9113 §4, §6): the 9-byte frame header, the frame types and flags, a
//! [`Reader`] that cuts one direction of a connection into whole frames whatever the TCP
//! segmentation (a frame split over many segments, many frames in one), and helpers that
//! take the padding and priority fields off DATA, HEADERS and PUSH_PROMISE payloads.

use crate::model::Nanos;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;

/// Frame type codes (RFC 9113 §6).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0;
    /// HEADERS.
    pub const HEADERS: u8 = 1;
    /// PRIORITY.
    pub const PRIORITY: u8 = 2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 5;
    /// PING.
    pub const PING: u8 = 6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 9;
}

/// Frame flags (RFC 9113 §6).
pub mod flag {
    /// END_STREAM on DATA and HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// ACK on SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED on DATA, HEADERS and PUSH_PROMISE.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY on HEADERS.
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS_HEADER_TABLE_SIZE.
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 1;

/// The largest payload a frame header can announce (2^24 - 1).
pub const MAX_PAYLOAD: u32 = (1 << 24) - 1;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length.
    pub len: u32,
    /// Frame type ([`kind`]).
    pub kind: u8,
    /// Flags ([`flag`]).
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl FrameHeader {
    /// Parse the 9 header bytes.
    #[must_use]
    pub fn parse(b: &[u8; HEADER_LEN]) -> Self {
        Self {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// True when `f` is set.
    #[must_use]
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// The frame type's name (`UNKNOWN` for extension types).
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }
}

/// The name of a frame type.
#[must_use]
pub fn kind_name(k: u8) -> &'static str {
    match k {
        kind::DATA => "DATA",
        kind::HEADERS => "HEADERS",
        kind::PRIORITY => "PRIORITY",
        kind::RST_STREAM => "RST_STREAM",
        kind::SETTINGS => "SETTINGS",
        kind::PUSH_PROMISE => "PUSH_PROMISE",
        kind::PING => "PING",
        kind::GOAWAY => "GOAWAY",
        kind::WINDOW_UPDATE => "WINDOW_UPDATE",
        kind::CONTINUATION => "CONTINUATION",
        _ => "UNKNOWN",
    }
}

/// The name of an HTTP/2 error code (RFC 9113 §7), or `None` for an unknown code.
#[must_use]
pub fn error_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => return None,
    })
}

/// An error code as `NAME (0xN)`.
#[must_use]
pub fn error_text(code: u32) -> String {
    match error_name(code) {
        Some(n) => format!("{n} (0x{code:x})"),
        None => format!("unknown error code 0x{code:x}"),
    }
}

/// True when `data` starts with the whole HTTP/2 client preface.
#[must_use]
pub fn looks_like_preface(data: &[u8]) -> bool {
    data.starts_with(PREFACE)
}

/// True when `data` is shorter than the client preface and could be its start.
#[must_use]
pub fn may_become_preface(data: &[u8]) -> bool {
    !data.is_empty() && data.len() < PREFACE.len() && PREFACE.starts_with(data)
}

/// True when `data` starts with a SETTINGS frame as a server sends it first: type 4, no
/// flags, stream 0, a length that is a multiple of 6 and at most 16 KiB.
#[must_use]
pub fn looks_like_server_settings(data: &[u8]) -> bool {
    let Some(h) = data.get(..HEADER_LEN).and_then(|s| <&[u8; HEADER_LEN]>::try_from(s).ok()) else {
        return false;
    };
    let h = FrameHeader::parse(h);
    h.kind == kind::SETTINGS && h.flags == 0 && h.stream == 0 && h.len % 6 == 0 && h.len <= 16_384 && data[5] == 0
}

/// One whole frame with where it came from.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The payload (padding and priority fields still in place).
    pub payload: &'a [u8],
    /// Capture time of the first byte of the frame.
    pub first_ts: Nanos,
    /// Capture time of the last byte.
    pub last_ts: Nanos,
    /// Packets that carried the frame, in order, without repeats.
    pub packets: &'a [u64],
    /// Part of the payload was not captured (filled with zeros).
    pub hole: bool,
}

/// What [`Reader::next`] found.
#[derive(Debug)]
pub enum Step<'a> {
    /// The input is used up.
    NeedMore,
    /// A whole frame.
    Frame(Frame<'a>),
    /// The client preface was expected and these bytes differ from it.
    BadPreface,
}

/// What a gap did to the framing of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapEffect {
    /// The gap lies inside the payload of the frame being read: framing is kept; the frame
    /// will arrive with [`Frame::hole`] set.
    InFrame {
        /// The frame's type.
        kind: u8,
        /// The frame's stream.
        stream: u32,
    },
    /// Frame boundaries are lost; the direction cannot be read any further.
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    /// Matching the client preface; this many bytes matched so far.
    Preface(usize),
    /// Reading frames.
    Frames,
    /// Framing was lost; bytes are counted and dropped.
    Dead,
}

/// Cuts one direction of a connection into frames. Bytes of a frame that is not whole
/// within one input are copied into an internal buffer (at most one frame, so at most
/// 16 MiB); whole frames in the input are returned without copying.
#[derive(Debug)]
pub struct Reader {
    state: ReadState,
    head: [u8; HEADER_LEN],
    head_len: usize,
    payload: Vec<u8>,
    first_ts: Nanos,
    last_ts: Nanos,
    packets: Vec<u64>,
    hole: bool,
    /// A frame was returned from the buffer: clear it on the next call.
    consumed_buffer: bool,
    dropped: u64,
}

impl Reader {
    /// A reader for the client side (`expect_preface`) or the server side.
    #[must_use]
    pub fn new(expect_preface: bool) -> Self {
        Self {
            state: if expect_preface { ReadState::Preface(0) } else { ReadState::Frames },
            head: [0; HEADER_LEN],
            head_len: 0,
            payload: Vec::new(),
            first_ts: 0,
            last_ts: 0,
            packets: Vec::new(),
            hole: false,
            consumed_buffer: false,
            dropped: 0,
        }
    }

    /// True once framing was lost (after a gap that did not fall inside a frame payload).
    #[must_use]
    pub fn is_dead(&self) -> bool {
        self.state == ReadState::Dead
    }

    /// Stop reading frames: the rest of the direction is dropped.
    pub fn kill(&mut self) {
        self.state = ReadState::Dead;
        self.payload = Vec::new();
        self.head_len = 0;
    }

    /// Bytes dropped after framing was lost.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// True when part of a frame is buffered.
    #[must_use]
    pub fn in_frame(&self) -> bool {
        self.head_len > 0
    }

    fn clear_frame(&mut self) {
        self.head_len = 0;
        self.payload.clear();
        self.packets.clear();
        self.hole = false;
        self.consumed_buffer = false;
    }

    fn note(&mut self, ts: Nanos, packet: u64) {
        if self.packets.is_empty() {
            self.first_ts = ts;
            self.last_ts = ts;
        } else {
            self.first_ts = self.first_ts.min(ts);
            self.last_ts = self.last_ts.max(ts);
        }
        if self.packets.last() != Some(&packet) {
            self.packets.push(packet);
        }
    }

    /// The next whole frame from `input` (advanced past what was used), carried by packet
    /// `packet` captured at `ts`.
    pub fn next<'a, 'i: 'a>(&'a mut self, input: &mut &'i [u8], ts: Nanos, packet: u64) -> Step<'a> {
        if self.consumed_buffer {
            self.clear_frame();
        }
        match self.state {
            ReadState::Dead => {
                self.dropped += input.len() as u64;
                *input = &[];
                return Step::NeedMore;
            }
            ReadState::Preface(have) => {
                let want = &PREFACE[have..];
                let n = want.len().min(input.len());
                if input[..n] != want[..n] {
                    self.state = ReadState::Frames;
                    return Step::BadPreface;
                }
                *input = &input[n..];
                self.state = if have + n == PREFACE.len() { ReadState::Frames } else { ReadState::Preface(have + n) };
                if input.is_empty() {
                    return Step::NeedMore;
                }
            }
            ReadState::Frames => {}
        }
        if input.is_empty() {
            return Step::NeedMore;
        }
        // Fast path: a whole frame at the start of the input, nothing buffered.
        if self.head_len == 0 && input.len() >= HEADER_LEN {
            let header = FrameHeader::parse(input[..HEADER_LEN].try_into().unwrap_or(&[0; HEADER_LEN]));
            let total = HEADER_LEN + header.len as usize;
            if input.len() >= total {
                let (frame, rest) = input.split_at(total);
                *input = rest;
                self.packets.clear();
                self.packets.push(packet);
                self.consumed_buffer = true;
                return Step::Frame(Frame {
                    header,
                    payload: &frame[HEADER_LEN..],
                    first_ts: ts,
                    last_ts: ts,
                    packets: &self.packets,
                    hole: false,
                });
            }
        }
        self.note(ts, packet);
        if self.head_len < HEADER_LEN {
            let n = (HEADER_LEN - self.head_len).min(input.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&input[..n]);
            self.head_len += n;
            *input = &input[n..];
            if self.head_len < HEADER_LEN {
                return Step::NeedMore;
            }
        }
        let header = FrameHeader::parse(&self.head);
        let want = header.len as usize - self.payload.len();
        let n = want.min(input.len());
        self.payload.extend_from_slice(&input[..n]);
        *input = &input[n..];
        if self.payload.len() < header.len as usize {
            return Step::NeedMore;
        }
        self.consumed_buffer = true;
        Step::Frame(Frame {
            header,
            payload: &self.payload,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            packets: &self.packets,
            hole: self.hole,
        })
    }

    /// `len` bytes of this direction were not captured (0: unknown).
    pub fn gap(&mut self, len: u64) -> GapEffect {
        if self.consumed_buffer {
            self.clear_frame();
        }
        if self.state == ReadState::Dead {
            return GapEffect::Lost;
        }
        if self.head_len == HEADER_LEN && len > 0 {
            let header = FrameHeader::parse(&self.head);
            let missing = u64::from(header.len) - self.payload.len() as u64;
            if len <= missing {
                let fill = usize::try_from(len).unwrap_or(0);
                self.payload.resize(self.payload.len() + fill, 0);
                self.hole = true;
                return GapEffect::InFrame { kind: header.kind, stream: header.stream };
            }
        }
        self.kill();
        GapEffect::Lost
    }
}

/// The payload of a DATA, HEADERS or PUSH_PROMISE frame without its padding (and, with
/// `priority`, without the 5 priority bytes of a HEADERS frame); `None` when the padding
/// length does not fit in the frame.
#[must_use]
pub fn unpad<'a>(header: &FrameHeader, payload: &'a [u8], priority: bool) -> Option<&'a [u8]> {
    let mut p = payload;
    let mut pad = 0usize;
    if header.has(flag::PADDED) {
        let (&n, rest) = p.split_first()?;
        pad = usize::from(n);
        p = rest;
    }
    if priority && header.has(flag::PRIORITY) {
        p = p.get(5..)?;
    }
    let keep = p.len().checked_sub(pad)?;
    Some(&p[..keep])
}

/// A big-endian u32 at `at`.
#[must_use]
pub fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// SETTINGS parameters as (identifier, value) pairs (a trailing partial entry is ignored).
pub fn settings(payload: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    payload.chunks_exact(6).map(|c| (u16::from_be_bytes([c[0], c[1]]), u32::from_be_bytes([c[2], c[3], c[4], c[5]])))
}

/// One frame's bytes: the 9-byte header, then `payload` (for tests that build HTTP/2 wire
/// bytes by hand).
#[cfg(test)]
#[must_use]
pub(crate) fn encode(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        encode(kind, flags, stream, payload)
    }

    fn read_all(r: &mut Reader, chunks: &[&[u8]]) -> Vec<(u8, u32, Vec<u8>, Vec<u64>)> {
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let mut input = *c;
            loop {
                match r.next(&mut input, i as i64, i as u64 + 1) {
                    Step::NeedMore => break,
                    Step::BadPreface => out.push((255, 0, Vec::new(), Vec::new())),
                    Step::Frame(f) => {
                        out.push((f.header.kind, f.header.stream, f.payload.to_vec(), f.packets.to_vec()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn frames_split_at_every_byte_come_out_whole_with_their_packets() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(kind::SETTINGS, 0, 0, &[0, 1, 0, 0, 0x10, 0]));
        bytes.extend(frame(kind::HEADERS, flag::END_HEADERS, 1, b"abc"));
        bytes.extend(frame(kind::DATA, 0, 1, b""));
        let whole = read_all(&mut Reader::new(true), &[&bytes]);
        assert_eq!(whole.len(), 3);
        for cut in 0..bytes.len() {
            let got = read_all(&mut Reader::new(true), &[&bytes[..cut], &bytes[cut..]]);
            let strip: Vec<_> = got.iter().map(|(k, s, p, _)| (*k, *s, p.clone())).collect();
            let want: Vec<_> = whole.iter().map(|(k, s, p, _)| (*k, *s, p.clone())).collect();
            assert_eq!(strip, want, "cut at {cut}");
        }
        // A frame split over two packets names both.
        let got = read_all(&mut Reader::new(true), &[&bytes[..30], &bytes[30..]]);
        assert_eq!(got[0].3, vec![1, 2]);
    }

    #[test]
    fn a_gap_inside_a_payload_keeps_framing_and_one_across_frames_loses_it() {
        let f = frame(kind::DATA, 0, 3, &[7; 20]);
        let mut r = Reader::new(false);
        let mut input = &f[..12];
        assert!(matches!(r.next(&mut input, 0, 1), Step::NeedMore));
        assert_eq!(r.gap(10), GapEffect::InFrame { kind: kind::DATA, stream: 3 });
        let mut input = &f[22..];
        match r.next(&mut input, 1, 2) {
            Step::Frame(fr) => {
                assert!(fr.hole);
                assert_eq!(fr.payload.len(), 20);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.gap(100), GapEffect::Lost);
        assert!(r.is_dead());
    }

    #[test]
    fn padding_and_priority_are_stripped_and_bad_padding_is_refused() {
        let h = FrameHeader { len: 0, kind: kind::HEADERS, flags: flag::PADDED | flag::PRIORITY, stream: 1 };
        let p = [2u8, 0, 0, 0, 0, 9, b'x', b'y', 0, 0];
        assert_eq!(unpad(&h, &p, true), Some(&b"xy"[..]));
        assert_eq!(unpad(&h, &[9u8, 1, 2], true), None);
    }

    #[test]
    fn detection_accepts_preface_prefixes_and_server_settings_only() {
        assert!(looks_like_preface(PREFACE));
        assert!(!looks_like_preface(b"PRI * HTTP/2.0\r\n"));
        assert!(may_become_preface(b"PRI"));
        assert!(!may_become_preface(b"POST"));
        assert!(!looks_like_preface(b"POST / HTTP/1.1\r\n"));
        assert!(looks_like_server_settings(&frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])));
        assert!(!looks_like_server_settings(&frame(kind::SETTINGS, 1, 0, &[])));
        assert!(!looks_like_server_settings(b"HTTP/1.1 200 OK\r\n"));
    }
}
