//! Server-Sent Events (`text/event-stream`) split into events as the HTML standard's
//! event-stream interpretation does: lines end in CRLF, LF or CR (a CR at the end of one
//! segment and an LF at the start of the next are one line end); a leading BOM is dropped;
//! `:` starts a comment (counted in [`MessageStream::comments`]); `data` lines are joined
//! with `\n`; `event`, `id` (ignored when it holds NUL) and `retry` (digits only) are kept
//! per event; a blank line dispatches the event, unless it had no `data` (then the fields are
//! reset and nothing is dispatched). An event still open when the body ends is discarded,
//! as the standard says, with a diagnostic.
//!
//! Bounds: a line keeps at most [`MAX_PAYLOAD`] bytes (the rest of it is counted), an
//! event's data likewise; the event-level bounds are [`MessageStream`]'s.

use crate::model::message::{Direction, MAX_PAYLOAD, Message, MessageKind, MessageStream};
use crate::model::{Diagnostic, Nanos, Severity};

/// Splits one response body into events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    line_len: u64,
    after_cr: bool,
    started: bool,
    data: Vec<u8>,
    data_size: u64,
    has_data: bool,
    truncated: bool,
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    open_fields: bool,
}

impl SseParser {
    /// A parser at the start of a body.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The next body bytes, captured at `ts`.
    pub fn push(&mut self, data: &[u8], ts: Nanos, out: &mut MessageStream) {
        let mut data = data;
        if !self.started {
            // The BOM may be split over segments only in theory; a whole one is dropped.
            if data.is_empty() {
                return;
            }
            self.started = true;
            data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    rest = &rest[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                Some(i) => {
                    self.add_to_line(&rest[..i]);
                    self.after_cr = rest[i] == b'\r';
                    rest = &rest[i + 1..];
                    self.end_line(ts, out);
                }
                None => {
                    self.add_to_line(rest);
                    rest = &[];
                }
            }
        }
    }

    /// The body ended: an event not closed by a blank line is discarded.
    pub fn finish(&mut self, diagnostics: &mut Vec<Diagnostic>) {
        if self.line_len > 0 || self.open_fields {
            diagnostics.push(Diagnostic::new(
                Severity::Warning,
                "sse.unterminated",
                "the stream ended inside an event (no blank line after it); the event was discarded",
            ));
        }
        *self = Self { started: true, ..Self::default() };
    }

    fn add_to_line(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len() as u64;
        let room = MAX_PAYLOAD.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_line(&mut self, ts: Nanos, out: &mut MessageStream) {
        let line = std::mem::take(&mut self.line);
        let len = std::mem::take(&mut self.line_len);
        if len == 0 {
            self.dispatch(ts, out);
        } else if line.first() == Some(&b':') {
            out.comments += 1;
        } else {
            self.field(&line, len);
        }
        self.line = line;
        self.line.clear();
    }

    fn field(&mut self, line: &[u8], len: u64) {
        self.open_fields = true;
        let (name, value, skipped) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                let (v, sp) = match v.strip_prefix(b" ") {
                    Some(v) => (v, 1),
                    None => (v, 0),
                };
                (&line[..i], v, (i + 1 + sp) as u64)
            }
            None => (line, &line[line.len()..], len),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.push_data(b"\n", 1);
                }
                self.has_data = true;
                self.push_data(value, len.saturating_sub(skipped));
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            }
            _ => {}
        }
    }

    fn push_data(&mut self, bytes: &[u8], full_len: u64) {
        self.data_size += full_len;
        if full_len > bytes.len() as u64 {
            self.truncated = true;
        }
        let room = MAX_PAYLOAD.saturating_sub(self.data.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn dispatch(&mut self, ts: Nanos, out: &mut MessageStream) {
        let had_data = self.has_data;
        let payload = std::mem::take(&mut self.data);
        let kind = MessageKind::Event { event: self.event.take(), id: self.id.take(), retry: self.retry.take() };
        if had_data {
            out.push(Message {
                direction: Direction::ToClient,
                time: ts,
                size: self.data_size,
                kind,
                payload,
                truncated: self.truncated,
                compressed: false,
            });
        }
        self.data_size = 0;
        self.has_data = false;
        self.truncated = false;
        self.open_fields = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::message::StreamProtocol;

    fn parse(chunks: &[&[u8]]) -> (MessageStream, Vec<Diagnostic>) {
        let mut p = SseParser::new();
        let mut s = MessageStream::new(StreamProtocol::Sse, Some(0));
        for (i, c) in chunks.iter().enumerate() {
            p.push(c, i as i64, &mut s);
        }
        let mut d = Vec::new();
        p.finish(&mut d);
        (s, d)
    }

    #[test]
    fn events_join_data_lines_keep_fields_and_skip_comments() {
        let (s, d) = parse(&[
            b"\xef\xbb\xbf: keep-alive\n\n",
            b"id: 7\nevent: price\ndata: {\"seq\": 1,\ndata: \"bid\": 2}\nretry: 1500\n\n",
            b"data:no space\r\n\r\n",
        ]);
        assert!(d.is_empty());
        assert_eq!(s.comments, 1);
        assert_eq!(s.messages.len(), 2);
        let m = &s.messages[0];
        assert_eq!(m.payload, b"{\"seq\": 1,\n\"bid\": 2}");
        assert_eq!(m.kind, MessageKind::Event { event: Some("price".into()), id: Some("7".into()), retry: Some(1500) });
        assert_eq!(m.time, 1);
        assert_eq!(s.messages[1].payload, b"no space");
    }

    #[test]
    fn a_cr_lf_split_over_segments_is_one_line_end_and_the_completing_segment_times_the_event() {
        let (s, _) = parse(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\r\r"]);
        assert_eq!(s.messages.len(), 2);
        assert_eq!(s.messages[0].payload, b"a");
        assert_eq!(s.messages[0].time, 2);
        assert_eq!(s.messages[1].payload, b"b");
        assert_eq!(s.messages[1].time, 3);
    }

    #[test]
    fn fields_without_data_dispatch_nothing() {
        let (s, d) = parse(&[b"event: ping\n\nid: 3\n\n"]);
        assert!(s.messages.is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn an_unterminated_event_is_discarded_with_a_diagnostic_and_bounded() {
        let big = vec![b'x'; 5 << 20];
        let mut chunks: Vec<&[u8]> = vec![b"data: "];
        chunks.push(&big);
        let (s, d) = parse(&chunks);
        assert!(s.messages.is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "sse.unterminated");
    }

    #[test]
    fn an_oversized_event_keeps_its_size_and_a_cut_payload() {
        let big = vec![b'y'; 200_000];
        let (s, _) = parse(&[b"data: ", &big, b"\n\n"]);
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.messages[0].size, 200_000);
        assert!(s.messages[0].truncated);
        assert_eq!(s.messages[0].payload.len(), MAX_PAYLOAD - 6);
    }
}
