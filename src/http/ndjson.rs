//! NDJSON / JSON-lines bodies (`application/x-ndjson`, `application/jsonl`, …) split into
//! one message per line, and JSON text sequences (`application/json-seq`, RFC 7464) into
//! one message per record. A line ends at LF (a CR before it is dropped); empty and
//! whitespace-only lines are not messages; a last line without its LF is still one. A
//! JSON-seq record starts at RS (0x1E) and is complete when the next RS arrives or the body
//! ends (its trailing LF dropped).
//!
//! Each message is timed by the segment that completed it. Bounds: a line keeps at most
//! [`MAX_PAYLOAD`] bytes, the rest is counted in its size.

use crate::model::Nanos;
use crate::model::message::{Direction, MAX_PAYLOAD, Message, MessageKind, MessageStream};

/// Splits one body into records.
#[derive(Debug)]
pub struct LineSplitter {
    sep: u8,
    buf: Vec<u8>,
    len: u64,
    last_ts: Nanos,
}

impl LineSplitter {
    /// NDJSON / JSON lines: one record per LF-terminated line.
    #[must_use]
    pub fn lines() -> Self {
        Self { sep: b'\n', buf: Vec::new(), len: 0, last_ts: 0 }
    }

    /// JSON text sequences: records started by RS.
    #[must_use]
    pub fn json_seq() -> Self {
        Self { sep: 0x1e, buf: Vec::new(), len: 0, last_ts: 0 }
    }

    /// The next body bytes, captured at `ts`.
    pub fn push(&mut self, data: &[u8], ts: Nanos, out: &mut MessageStream) {
        self.last_ts = ts;
        let mut rest = data;
        while let Some(i) = memchr::memchr(self.sep, rest) {
            self.add(&rest[..i]);
            self.emit(ts, out);
            rest = &rest[i + 1..];
        }
        self.add(rest);
    }

    /// The body ended: a record in progress is complete.
    pub fn finish(&mut self, out: &mut MessageStream) {
        let ts = self.last_ts;
        self.emit(ts, out);
    }

    fn add(&mut self, bytes: &[u8]) {
        if self.len == 0 && bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.len += bytes.len() as u64;
        let room = MAX_PAYLOAD.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn emit(&mut self, ts: Nanos, out: &mut MessageStream) {
        let kept = self.buf.len() as u64;
        let mut len = std::mem::take(&mut self.len);
        let mut payload = std::mem::take(&mut self.buf);
        // Trailing whitespace (the CR of CRLF, a JSON-seq record's LF) is not content.
        while kept == len && payload.last().is_some_and(u8::is_ascii_whitespace) {
            payload.pop();
            len -= 1;
        }
        if len == 0 {
            return;
        }
        let truncated = (payload.len() as u64) < len;
        out.push(Message {
            direction: Direction::ToClient,
            time: ts,
            size: len,
            kind: MessageKind::Line,
            payload,
            truncated,
            compressed: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::message::StreamProtocol;

    fn split(mut s: LineSplitter, chunks: &[&[u8]]) -> MessageStream {
        let mut out = MessageStream::new(StreamProtocol::Ndjson, Some(0));
        for (i, c) in chunks.iter().enumerate() {
            s.push(c, i as i64 + 10, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn lines_split_across_segments_are_timed_by_the_segment_completing_them() {
        let out = split(LineSplitter::lines(), &[b"{\"a\":1}\n{\"b\"", b":2}\r\n\n  \n", b"{\"c\":3}"]);
        let texts: Vec<&[u8]> = out.messages.iter().map(|m| m.payload.as_slice()).collect();
        assert_eq!(texts, vec![&b"{\"a\":1}"[..], b"{\"b\":2}", b"{\"c\":3}"]);
        let times: Vec<i64> = out.messages.iter().map(|m| m.time).collect();
        assert_eq!(times, vec![10, 11, 12]);
    }

    #[test]
    fn json_seq_records_start_at_rs() {
        let out = split(LineSplitter::json_seq(), &[b"\x1e{\"a\":\n1}\n\x1e", b"[2]\n"]);
        assert_eq!(out.messages.len(), 2);
        assert_eq!(out.messages[0].payload, b"{\"a\":\n1}");
        assert_eq!(out.messages[1].payload, b"[2]");
    }

    #[test]
    fn a_long_line_keeps_its_size_and_a_cut_payload() {
        let big = vec![b'1'; 100_000];
        let out = split(LineSplitter::lines(), &[&big, b"\n"]);
        assert_eq!(out.messages[0].size, 100_000);
        assert!(out.messages[0].truncated);
        assert_eq!(out.messages[0].payload.len(), MAX_PAYLOAD);
    }
}
