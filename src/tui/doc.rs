//! What the detail view shows for one tab of one flow, as a [`Doc`]: a list of segments
//! (pre-styled lines, wrapped text, a hex dump) of known total height, so the view renders
//! only the lines in its window however large the body is. Bodies are classified once when
//! the tab opens: JSON is pretty-printed and coloured, other text shown as text, binary as a
//! hex dump computed per visible line, images described (type, dimensions, size).
//!
//! Every captured string passes through `model::text::visible*` before it becomes a span.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::fmt;
use super::theme::Theme;
use crate::model::text::{visible, visible_multiline};
use crate::model::{Body, Exchange, Headers};
use crate::store::search::Search;

/// Which message a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request body.
    Request,
    /// The response body.
    Response,
    /// The payload of the stream's message at this index.
    Message(usize),
}

/// The body bytes of one side of an exchange (or one message's payload).
#[must_use]
pub fn body_of(ex: &Exchange, side: Side) -> &[u8] {
    match side {
        Side::Request => &ex.request.body.content,
        Side::Response => ex.response.as_ref().map_or(&[][..], |r| &r.body.content),
        Side::Message(i) => ex.stream.as_ref().and_then(|s| s.messages.get(i)).map_or(&[][..], |m| &m.payload),
    }
}

/// Bodies larger than this are shown as wrapped text instead of being pretty-printed.
pub const PRETTY_LIMIT: usize = 4 * 1024 * 1024;
/// Bytes per hex-dump line.
const HEX_WIDTH: usize = 16;

/// Wrapped text with line starts (byte offsets into `text`).
#[derive(Debug, Clone)]
pub struct TextBlock {
    text: String,
    starts: Vec<usize>,
    json: bool,
}

impl TextBlock {
    /// Wrap `text` (already made visible) at `width` characters.
    #[must_use]
    pub fn new(text: String, width: usize, json: bool) -> Self {
        let width = width.max(8);
        let mut starts = vec![0];
        let mut col = 0;
        for (i, c) in text.char_indices() {
            if c == '\n' {
                starts.push(i + 1);
                col = 0;
            } else {
                if col == width {
                    starts.push(i);
                    col = 0;
                }
                col += 1;
            }
        }
        if text.ends_with('\n') {
            starts.pop();
        }
        Self { text, starts, json }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn line(&self, i: usize) -> &str {
        let a = self.starts.get(i).copied().unwrap_or(self.text.len());
        let b = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text.get(a..b).unwrap_or("").trim_end_matches('\n')
    }
}

/// One part of a document.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Styled lines (heads, notes).
    Lines(Vec<Line<'static>>),
    /// Wrapped text or JSON.
    Text(TextBlock),
    /// A hex dump of a body, `len` bytes from the start.
    Hex {
        /// Which body.
        side: Side,
        /// Bytes shown.
        len: usize,
    },
}

impl Segment {
    fn len(&self) -> usize {
        match self {
            Self::Lines(l) => l.len(),
            Self::Text(t) => t.len(),
            Self::Hex { len, .. } => len.div_ceil(HEX_WIDTH),
        }
    }
}

/// A scrollable document made of segments.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    segments: Vec<Segment>,
    /// First line of each message (Messages tab), in message order.
    anchors: Vec<usize>,
}

impl Doc {
    /// Total lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_lines(&mut self, lines: Vec<Line<'static>>) {
        if let Some(Segment::Lines(l)) = self.segments.last_mut() {
            l.extend(lines);
        } else {
            self.segments.push(Segment::Lines(lines));
        }
    }

    fn locate(&self, mut i: usize) -> Option<(&Segment, usize)> {
        for s in &self.segments {
            let n = s.len();
            if i < n {
                return Some((s, i));
            }
            i -= n;
        }
        None
    }

    /// Line `i` as plain text (for search).
    #[must_use]
    pub fn plain(&self, i: usize, ex: &Exchange) -> String {
        match self.locate(i) {
            Some((Segment::Lines(l), k)) => {
                l.get(k).map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).unwrap_or_default()
            }
            Some((Segment::Text(t), k)) => t.line(k).to_string(),
            Some((Segment::Hex { side, .. }, k)) => hex_line(body_of(ex, *side), k),
            None => String::new(),
        }
    }

    /// Lines `from..from+count`, styled, with search hits highlighted.
    #[must_use]
    pub fn window(
        &self,
        from: usize,
        count: usize,
        ex: &Exchange,
        theme: Theme,
        search: Option<&Search>,
    ) -> Vec<Line<'static>> {
        let mut out = Vec::with_capacity(count);
        let mut skip = from;
        for seg in &self.segments {
            if out.len() >= count {
                break;
            }
            let n = seg.len();
            if skip >= n {
                skip -= n;
                continue;
            }
            for k in skip..n {
                if out.len() >= count {
                    break;
                }
                let line = match seg {
                    Segment::Lines(l) => l.get(k).cloned().unwrap_or_default(),
                    Segment::Text(t) if t.json => json_line(t.line(k), theme),
                    Segment::Text(t) => Line::raw(t.line(k).to_string()),
                    Segment::Hex { side, .. } => Line::raw(hex_line(body_of(ex, *side), k)),
                };
                out.push(match search {
                    Some(s) => highlight(line, s, theme.hit()),
                    None => line,
                });
            }
            skip = 0;
        }
        out
    }

    /// The message (index into the stream's kept messages) whose lines include `line`, in a
    /// Messages tab; `None` in other documents.
    #[must_use]
    pub fn message_at(&self, line: usize) -> Option<usize> {
        if self.anchors.is_empty() {
            return None;
        }
        Some(self.anchors.partition_point(|&a| a <= line).saturating_sub(1))
    }

    /// In a Messages tab: the rank (from 1) of the message holding the hit on `line` among
    /// the messages with a hit, and how many messages have one.
    #[must_use]
    pub fn message_hit_rank(&self, line: usize, ex: &Exchange, search: &Search) -> Option<(usize, usize)> {
        let at = self.message_at(line)?;
        let (mut rank, mut n, mut last) = (0, 0, None);
        let mut from = 0;
        while let Some(l) = self.find(from, true, ex, search) {
            let m = self.message_at(l)?;
            if last != Some(m) {
                n += 1;
                last = Some(m);
                if m <= at {
                    rank = n;
                }
            }
            from = l + 1;
        }
        (n > 0).then_some((rank.max(1), n))
    }

    /// The first line at or after `from` (forward) or before it (backward) containing a hit.
    #[must_use]
    pub fn find(&self, from: usize, forward: bool, ex: &Exchange, search: &Search) -> Option<usize> {
        let n = self.len();
        let hit = |i: usize| search.regex().is_match(self.plain(i, ex).as_bytes());
        if forward { (from..n).find(|i| hit(*i)) } else { (0..from.min(n)).rev().find(|i| hit(*i)) }
    }
}

/// Split a line's spans so that search hits get `hit` style.
#[must_use]
pub fn highlight(line: Line<'static>, search: &Search, hit: Style) -> Line<'static> {
    let plain: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let ranges = search.ranges(&plain);
    if ranges.is_empty() {
        return line;
    }
    let mut spans = Vec::new();
    let mut pos = 0;
    for span in line.spans {
        let text = span.content.as_ref();
        let end = pos + text.len();
        let mut cut = 0;
        for &(a, b) in &ranges {
            let (a, b) = (a.max(pos), b.min(end));
            if a >= b {
                continue;
            }
            let (la, lb) = (a - pos, b - pos);
            if la > cut {
                if let Some(t) = text.get(cut..la) {
                    spans.push(Span::styled(t.to_string(), span.style));
                }
            }
            if let Some(t) = text.get(la..lb) {
                spans.push(Span::styled(t.to_string(), span.style.patch(hit)));
            }
            cut = lb;
        }
        if cut < text.len() {
            if let Some(t) = text.get(cut..) {
                spans.push(Span::styled(t.to_string(), span.style));
            }
        }
        pos = end;
    }
    Line::from(spans).style(line.style)
}

fn hex_line(b: &[u8], k: usize) -> String {
    use std::fmt::Write as _;
    let start = k * HEX_WIDTH;
    let chunk = b.get(start..(start + HEX_WIDTH).min(b.len())).unwrap_or(&[]);
    let mut s = format!("{start:08x}  ");
    for i in 0..HEX_WIDTH {
        match chunk.get(i) {
            Some(x) => {
                let _ = write!(s, "{x:02x} ");
            }
            None => s.push_str("   "),
        }
        if i == 7 {
            s.push(' ');
        }
    }
    s.push('|');
    s.extend(chunk.iter().map(|c| if c.is_ascii_graphic() || *c == b' ' { *c as char } else { '.' }));
    s.push('|');
    s
}

/// Colour one line of pretty-printed JSON (keys, strings, numbers, literals).
fn json_line(s: &str, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let mut plain = String::new();
    let flush = |plain: &mut String, spans: &mut Vec<Span<'static>>| {
        if !plain.is_empty() {
            spans.push(Span::raw(std::mem::take(plain)));
        }
    };
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() {
                match b.get(i) {
                    Some(b'\\') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            let i2 = i.min(b.len());
            let tok = s.get(start..i2).unwrap_or("");
            let is_key = s.get(i2..).is_some_and(|r| r.trim_start().starts_with(':'));
            flush(&mut plain, &mut spans);
            spans.push(Span::styled(tok.to_string(), if is_key { theme.json_key() } else { theme.json_str() }));
            i = i2;
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b.get(i).is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                i += 1;
            }
            flush(&mut plain, &mut spans);
            spans.push(Span::styled(s.get(start..i).unwrap_or("").to_string(), theme.json_num()));
        } else if let Some(lit) =
            ["true", "false", "null"].into_iter().find(|l| s.get(i..).is_some_and(|r| r.starts_with(l)))
        {
            flush(&mut plain, &mut spans);
            spans.push(Span::styled(lit.to_string(), theme.json_lit()));
            i += lit.len();
        } else {
            let ch_len = s.get(i..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
            plain.push_str(s.get(i..i + ch_len).unwrap_or(""));
            i += ch_len;
        }
    }
    flush(&mut plain, &mut spans);
    Line::from(spans)
}

/// What a body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// Nothing.
    Empty,
    /// JSON (parses).
    Json,
    /// Text.
    Text,
    /// An image with its format and dimensions when the header says.
    Image {
        /// PNG, GIF, JPEG, WebP.
        format: &'static str,
        /// Width and height in pixels.
        dims: Option<(u32, u32)>,
    },
    /// Anything else.
    Binary,
}

/// Classify a body from its bytes and media type.
#[must_use]
pub fn classify(b: &[u8], ctype: Option<&str>) -> BodyKind {
    if b.is_empty() {
        return BodyKind::Empty;
    }
    if let Some((format, dims)) = image_info(b) {
        return BodyKind::Image { format, dims };
    }
    let ct = ctype.unwrap_or("");
    let first = b.iter().find(|c| !c.is_ascii_whitespace()).copied();
    if (ct.contains("json") || matches!(first, Some(b'{' | b'[')))
        && b.len() <= PRETTY_LIMIT
        && serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
    {
        return BodyKind::Json;
    }
    if looks_like_text(b) { BodyKind::Text } else { BodyKind::Binary }
}

fn looks_like_text(b: &[u8]) -> bool {
    let head = b.get(..b.len().min(8192)).unwrap_or(b);
    // A multi-byte character cut at the sample's end is not an error.
    let head = match std::str::from_utf8(head) {
        Err(e) if e.error_len().is_none() => head.get(..e.valid_up_to()).unwrap_or(head),
        _ => head,
    };
    let invalid = String::from_utf8_lossy(head).matches('\u{fffd}').count();
    // Terminal escapes (ESC, BEL, BS, FF) occur in text logs; NUL and the rest mean binary.
    let controls = head
        .iter()
        .filter(|c| (**c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t' | 0x1b | 0x07 | 0x08 | 0x0c)) || **c == 0x7f)
        .count();
    (controls + invalid) * 50 <= head.len()
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}
fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}
fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

/// Image format and pixel dimensions read from the file header (PNG, GIF, JPEG, WebP).
#[must_use]
pub fn image_info(b: &[u8]) -> Option<(&'static str, Option<(u32, u32)>)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let dims = (b.get(12..16) == Some(b"IHDR")).then(|| Some((be32(b, 16)?, be32(b, 20)?))).flatten();
        return Some(("PNG", dims));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(("GIF", le16(b, 6).zip(le16(b, 8))));
    }
    if b.starts_with(&[0xff, 0xd8]) {
        return Some(("JPEG", jpeg_dims(b)));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        let dims = match b.get(12..16) {
            Some(b"VP8X") => le24(b, 24).zip(le24(b, 27)).map(|(w, h)| (w + 1, h + 1)),
            Some(b"VP8 ") => le16(b, 26).zip(le16(b, 28)).map(|(w, h)| (w & 0x3fff, h & 0x3fff)),
            Some(b"VP8L") => b.get(21..25).map(|s| {
                let v = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                ((v & 0x3fff) + 1, ((v >> 14) & 0x3fff) + 1)
            }),
            _ => None,
        };
        return Some(("WebP", dims));
    }
    None
}

fn jpeg_dims(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b.get(i) != Some(&0xff) {
            return None;
        }
        let m = *b.get(i + 1)?;
        if m == 0xff {
            i += 1;
            continue;
        }
        if matches!(m, 0xd0..=0xd9 | 0x01) {
            i += 2;
            continue;
        }
        let len = be16(b, i + 2)? as usize;
        if matches!(m, 0xc0..=0xcf) && !matches!(m, 0xc4 | 0xc8 | 0xcc) {
            return Some((be16(b, i + 7)?, be16(b, i + 5)?));
        }
        i += 2 + len;
    }
    None
}

/// Wrap `s` into chunks of at most `w` characters.
fn wrap(s: &str, w: usize) -> Vec<String> {
    let w = w.max(8);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut n = 0;
    for c in s.chars() {
        if n == w {
            out.push(std::mem::take(&mut cur));
            n = 0;
        }
        cur.push(c);
        n += 1;
    }
    out.push(cur);
    out
}

fn header_lines(h: &Headers, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for x in h.iter() {
        let name = visible(&x.name).into_owned();
        let value = visible(&x.value).into_owned();
        let first_w = width.saturating_sub(name.chars().count() + 2).max(8);
        let mut chunks = wrap(&value, first_w).into_iter();
        out.push(Line::from(vec![
            Span::styled(name, theme.header_name()),
            Span::raw(": "),
            Span::raw(chunks.next().unwrap_or_default()),
        ]));
        let rest: String = chunks.collect();
        if !rest.is_empty() {
            for c in wrap(&rest, width.saturating_sub(4)) {
                out.push(Line::raw(format!("    {c}")));
            }
        }
    }
    out
}

fn note(text: String, style: Style) -> Line<'static> {
    Line::styled(text, style)
}

/// Append a body to `doc`: notes (encoding, truncation, decode error), then JSON, text,
/// image description plus hex, or hex.
fn push_body(doc: &mut Doc, body: &Body, side: Side, ctype: Option<&str>, width: usize, theme: Theme) {
    let mut notes = Vec::new();
    if let Some(enc) = &body.encoding {
        let wire = body.wire_size.map(|w| format!(", {} on the wire", fmt::bytes(w))).unwrap_or_default();
        notes.push(note(
            format!("content-encoding {}: decoded {}{wire}", visible(enc), fmt::bytes(body.size)),
            theme.dim(),
        ));
    }
    if let Some(e) = &body.decode_error {
        notes.push(note(format!("could not decode: {}", visible(e)), theme.error()));
    }
    if body.truncated {
        notes.push(note(
            format!("body cut: {} of {} kept", fmt::bytes(body.content.len() as u64), fmt::bytes(body.size)),
            theme.warn(),
        ));
    }
    if let Some(d) = &body.detached {
        notes.push(note(format!("body stored outside the file: {}", visible(d)), theme.warn()));
    }
    let b = &body.content;
    let kind = classify(b, ctype);
    if kind == BodyKind::Empty && notes.is_empty() {
        if body.size > 0 {
            notes.push(note(format!("{} body, not kept", fmt::bytes(body.size)), theme.dim()));
        } else {
            notes.push(note("(no body)".into(), theme.dim()));
        }
    }
    doc.push_lines(notes);
    match kind {
        BodyKind::Empty => {}
        BodyKind::Json => {
            let pretty = serde_json::from_slice::<serde_json::Value>(b)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| String::from_utf8_lossy(b).into_owned());
            doc.segments.push(Segment::Text(TextBlock::new(visible_multiline(&pretty).into_owned(), width, true)));
        }
        BodyKind::Text => {
            let s = String::from_utf8_lossy(b).replace("\r\n", "\n");
            let s = visible_multiline(&s).replace('\t', "    ");
            doc.segments.push(Segment::Text(TextBlock::new(s, width, false)));
        }
        BodyKind::Image { format, dims } => {
            let d = dims.map_or_else(|| "dimensions unknown".to_string(), |(w, h)| format!("{w}×{h} px"));
            doc.push_lines(vec![note(format!("{format} image, {d}, {}", fmt::bytes(b.len() as u64)), theme.ok())]);
            doc.segments.push(Segment::Hex { side, len: b.len() });
        }
        BodyKind::Binary => {
            doc.push_lines(vec![note(format!("binary, {} (hex dump)", fmt::bytes(b.len() as u64)), theme.dim())]);
            doc.segments.push(Segment::Hex { side, len: b.len() });
        }
    }
}

/// The Request tab.
#[must_use]
pub fn request(ex: &Exchange, width: usize, theme: Theme) -> Doc {
    let r = &ex.request;
    let mut doc = Doc::default();
    let url = r.url(&ex.host());
    let mut first = vec![
        Span::styled(visible(&r.method).into_owned(), theme.method(&r.method)),
        Span::raw(" "),
        Span::raw(visible(&r.target).into_owned()),
    ];
    if !r.version.is_empty() {
        first.push(Span::raw(format!(" {}", visible(&r.version))));
    }
    let mut lines = vec![Line::from(first)];
    for c in wrap(&visible(&url), width) {
        lines.push(Line::styled(c, theme.dim()));
    }
    lines.push(Line::default());
    lines.extend(header_lines(&r.headers, width, theme));
    lines.push(Line::default());
    doc.push_lines(lines);
    push_body(&mut doc, &r.body, Side::Request, r.headers.content_type().as_deref(), width, theme);
    doc
}

/// The Response tab.
#[must_use]
pub fn response(ex: &Exchange, width: usize, theme: Theme) -> Doc {
    let mut doc = Doc::default();
    let Some(r) = &ex.response else {
        let why = ex.state.reason().map(|r| format!(": {}", visible(r))).unwrap_or_default();
        doc.push_lines(vec![note(format!("no response ({}{why})", ex.state.label()), theme.error())]);
        return doc;
    };
    let mut lines = Vec::new();
    for i in &ex.interim {
        lines.push(Line::styled(
            format!("{} {} {} (interim)", visible(&i.version), i.status, visible(&i.reason)),
            theme.dim(),
        ));
    }
    lines.push(Line::from(vec![
        Span::raw(format!("{} ", visible(&r.version))),
        Span::styled(r.status.to_string(), theme.status(Some(r.status))),
        Span::raw(format!(" {}", visible(&r.reason))),
    ]));
    lines.push(Line::default());
    lines.extend(header_lines(&r.headers, width, theme));
    lines.push(Line::default());
    doc.push_lines(lines);
    push_body(&mut doc, &r.body, Side::Response, r.headers.content_type().as_deref(), width, theme);
    if let Some(grpc) = crate::http::h2::grpc::detail_lines(ex) {
        let mut lines = vec![Line::default(), Line::styled("gRPC", theme.header_name())];
        lines.extend(grpc.into_iter().flat_map(|l| wrap(&l, width)).map(Line::raw));
        doc.push_lines(lines);
    }
    doc
}

/// The Timing tab: capture-clock times, derived durations, addresses, provenance.
#[must_use]
pub fn timing(ex: &Exchange, comment: Option<&str>, marked: bool, width: usize, theme: Theme) -> Doc {
    let t = &ex.timing;
    let base = t.start();
    let rel = |v: Option<i64>| match (v, base) {
        (Some(v), Some(b)) => format!("{}  (+{})", fmt::datetime(Some(v)), fmt::dur(Some(v - b))),
        _ => "-".into(),
    };
    let kv = |k: &str, v: String| {
        Line::from(vec![Span::styled(format!("{k:<16}"), theme.header_name()), Span::raw(visible(&v).into_owned())])
    };
    let mut lines = vec![
        kv("request start", fmt::datetime(t.request_start)),
        kv("request end", rel(t.request_end)),
        kv("response start", rel(t.response_start)),
        kv("response end", rel(t.response_end)),
        Line::default(),
        kv("TTFB", fmt::dur(ex.ttfb())),
        kv("total", fmt::dur(ex.duration())),
        Line::default(),
        kv("client", ex.client.map_or_else(|| "-".into(), |a| a.to_string())),
        kv("server", ex.server.map_or_else(|| "-".into(), |a| a.to_string())),
        kv("protocol", protocol_line(ex)),
        kv(
            "state",
            ex.state.reason().map_or_else(|| ex.state.label().to_string(), |r| format!("{}: {r}", ex.state.label())),
        ),
        kv("marked", if marked { "yes".into() } else { "no".into() }),
        Line::default(),
        kv("file", ex.provenance.file.to_string()),
    ];
    if let Some(e) = ex.provenance.entry {
        lines.push(kv("entry", e.to_string()));
    }
    if let Some(c) = &ex.provenance.connection {
        lines.push(kv("connection", c.clone()));
    }
    if !ex.provenance.packets.is_empty() {
        let p = &ex.provenance.packets;
        let shown: Vec<String> = p.iter().take(12).map(u64::to_string).collect();
        let more = if p.len() > 12 { format!(" … ({} packets)", p.len()) } else { String::new() };
        lines.push(kv("packets", format!("{}{more}", shown.join(" "))));
    }
    if let Some(c) = comment {
        lines.push(Line::default());
        for (i, chunk) in wrap(&visible(c), width.saturating_sub(16)).into_iter().enumerate() {
            lines.push(kv(if i == 0 { "comment" } else { "" }, chunk));
        }
    }
    let mut doc = Doc::default();
    doc.push_lines(lines);
    doc
}

/// `HTTP/2 over TLS 1.3 (TLS_AES_128_GCM_SHA256, ALPN h2, SNI api.example)`, or the HTTP
/// version alone for cleartext.
fn protocol_line(ex: &Exchange) -> String {
    let version = if ex.request.version.is_empty() { "HTTP" } else { ex.request.version.as_str() };
    let Some(t) = &ex.tls else { return version.to_string() };
    let mut parts = vec![t.cipher.clone()];
    if let Some(a) = &t.alpn {
        parts.push(format!("ALPN {a}"));
    }
    if let Some(s) = &t.sni {
        parts.push(format!("SNI {s}"));
    }
    format!("{version} over {} ({})", t.version, parts.join(", "))
}

/// The Raw tab: both messages as HTTP/1.x text (bodies as text, or hex when binary).
#[must_use]
pub fn raw(ex: &Exchange, width: usize, theme: Theme) -> Doc {
    let mut doc = Doc::default();
    let r = &ex.request;
    let version = if r.version.is_empty() { "HTTP/1.1" } else { &r.version };
    let mut head = format!("{} {} {}\n", r.method, r.target, version);
    for h in r.headers.iter() {
        head.push_str(&format!("{}: {}\n", h.name, h.value));
    }
    doc.segments.push(Segment::Text(TextBlock::new(visible_multiline(&head).into_owned(), width, false)));
    doc.push_lines(vec![Line::default()]);
    raw_body(&mut doc, &r.body, Side::Request, width, theme);
    if let Some(s) = &ex.response {
        doc.push_lines(vec![Line::default(), Line::styled("─".repeat(width.min(40)), theme.dim())]);
        let mut head = format!("{} {} {}\n", s.version, s.status, s.reason);
        for h in s.headers.iter() {
            head.push_str(&format!("{}: {}\n", h.name, h.value));
        }
        doc.segments.push(Segment::Text(TextBlock::new(visible_multiline(&head).into_owned(), width, false)));
        doc.push_lines(vec![Line::default()]);
        raw_body(&mut doc, &s.body, Side::Response, width, theme);
    }
    doc
}

fn raw_body(doc: &mut Doc, body: &Body, side: Side, width: usize, theme: Theme) {
    let b = &body.content;
    if b.is_empty() {
        return;
    }
    if looks_like_text(b) {
        let s = String::from_utf8_lossy(b);
        doc.segments.push(Segment::Text(TextBlock::new(visible_multiline(&s).replace('\t', "    "), width, false)));
    } else {
        doc.push_lines(vec![note(format!("binary, {} (hex dump)", fmt::bytes(b.len() as u64)), theme.dim())]);
        doc.segments.push(Segment::Hex { side, len: b.len() });
    }
}

/// Messages shown in the Messages tab (the rest are counted in a note).
const MESSAGES_SHOWN: usize = 2000;

/// Bytes of a binary message shown as hex.
const MESSAGE_HEX: usize = 512;

/// The Messages tab: one head line per message (time since the stream opened, direction
/// arrow, kind, size) followed by its payload: JSON pretty-printed, other text as text,
/// binary as hex. `/` searches it like any tab.
#[must_use]
pub fn messages(ex: &Exchange, width: usize, theme: Theme) -> Doc {
    let mut doc = Doc::default();
    let Some(s) = ex.stream.as_deref() else {
        doc.push_lines(vec![Line::styled("no messages: this exchange is not a stream", theme.dim())]);
        return doc;
    };
    doc.push_lines(vec![
        Line::styled(
            format!(
                "{} · {} messages · ended: {}{}",
                s.protocol.name(),
                s.count(),
                visible(&s.end.label()),
                s.extensions.as_deref().map(|e| format!(" · {}", visible(e))).unwrap_or_default()
            ),
            theme.header_name(),
        ),
        Line::default(),
    ]);
    let mut lines = doc.len();
    for (i, m) in s.messages.iter().take(MESSAGES_SHOWN).enumerate() {
        doc.anchors.push(lines);
        let head = message_head(s, i, m);
        doc.push_lines(vec![Line::styled(head, theme.dim())]);
        lines += 1;
        if m.payload.is_empty() || matches!(m.kind, crate::model::message::MessageKind::Close { .. }) {
            continue;
        }
        let (text, json) = message_text(m, MESSAGE_HEX);
        let block = TextBlock::new(text, width.saturating_sub(2), json);
        lines += block.len();
        doc.segments.push(Segment::Text(block));
    }
    let more = s.count().saturating_sub(MESSAGES_SHOWN.min(s.messages.len()) as u64);
    if more > 0 {
        doc.push_lines(vec![Line::default(), Line::styled(format!("… {more} more messages not shown"), theme.dim())]);
    }
    doc
}

/// One message in full (Enter on the Messages tab): its head, then its whole kept payload —
/// JSON pretty-printed, other text as text, binary as a hex dump.
#[must_use]
pub fn message(ex: &Exchange, i: usize, width: usize, theme: Theme) -> Doc {
    let mut doc = Doc::default();
    let Some((s, m)) = ex.stream.as_deref().and_then(|s| s.messages.get(i).map(|m| (s, m))) else {
        doc.push_lines(vec![Line::styled("no such message", theme.dim())]);
        return doc;
    };
    doc.push_lines(vec![
        Line::styled(format!("message {} of {} · esc: back to the list", i + 1, s.count()), theme.header_name()),
        Line::styled(message_head(s, i, m), theme.dim()),
        Line::default(),
    ]);
    if m.truncated {
        doc.push_lines(vec![note(
            format!("{} of {} kept", fmt::bytes(m.payload.len() as u64), fmt::bytes(m.size)),
            theme.dim(),
        )]);
    }
    if m.payload.is_empty() {
        doc.push_lines(vec![Line::styled("(empty payload)", theme.dim())]);
    } else if m.kind.is_textual() {
        let (text, json) = message_text(m, usize::MAX);
        doc.segments.push(Segment::Text(TextBlock::new(text, width, json)));
    } else {
        doc.push_lines(vec![note(format!("binary, {} (hex dump)", fmt::bytes(m.payload.len() as u64)), theme.dim())]);
        doc.segments.push(Segment::Hex { side: Side::Message(i), len: m.payload.len() });
    }
    doc
}

/// The head line of message `i`: index, time since the stream opened, direction, kind,
/// size and the kind's fields.
fn message_head(s: &crate::model::message::MessageStream, i: usize, m: &crate::model::message::Message) -> String {
    let since = s.opened.map_or_else(|| "-".into(), |o| format!("+{:.3}s", (m.time - o) as f64 / 1e9));
    let mut head =
        format!("#{i} {since} {} {} {}", m.direction.arrow(), m.kind.label(), crate::model::text::human_bytes(m.size));
    match &m.kind {
        crate::model::message::MessageKind::Close { code, reason } => {
            head.push_str(&format!(" code {}", code.map_or_else(|| "-".into(), |c| c.to_string())));
            if !reason.is_empty() {
                head.push_str(&format!(" {}", visible(reason)));
            }
        }
        crate::model::message::MessageKind::Event { event, id, retry } => {
            for (k, v) in [("event", event.clone()), ("id", id.clone()), ("retry", retry.map(|r| r.to_string()))] {
                if let Some(v) = v {
                    head.push_str(&format!(" {k}={}", visible(&v)));
                }
            }
        }
        _ => {}
    }
    if m.truncated {
        head.push_str(" (cut)");
    }
    head
}

/// A message's payload as shown: JSON pretty-printed, text made visible, binary as hex.
fn message_text(m: &crate::model::message::Message, hex_cap: usize) -> (String, bool) {
    if m.kind.is_textual() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.payload) {
            if v.is_object() || v.is_array() {
                if let Ok(p) = serde_json::to_string_pretty(&v) {
                    return (visible_multiline(&p).into_owned(), true);
                }
            }
        }
        return (visible_multiline(&m.text()).into_owned(), false);
    }
    let shown = &m.payload[..m.payload.len().min(hex_cap)];
    let mut out = String::new();
    for (row, chunk) in shown.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        out.push_str(&format!("{:04x}  {:<47}  {ascii}\n", row * 16, hex.join(" ")));
    }
    (out, false)
}

/// The Diagnostics tab: the exchange's state and every diagnostic attached to it.
#[must_use]
pub fn diagnostics(ex: &Exchange, width: usize, theme: Theme) -> Doc {
    let mut lines = Vec::new();
    if let Some(r) = ex.state.reason() {
        lines.push(Line::styled(format!("{}: {}", ex.state.label(), visible(r)), theme.error()));
        lines.push(Line::default());
    }
    if ex.diagnostics.is_empty() {
        lines.push(Line::styled("no diagnostics for this exchange", theme.dim()));
    }
    for d in &ex.diagnostics {
        let style = match d.severity {
            crate::model::Severity::Error => theme.error(),
            crate::model::Severity::Warning => theme.warn(),
            crate::model::Severity::Info => theme.dim(),
        };
        let loc = d.location.as_deref().map(|l| format!(" at {}", visible(l))).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("{:<8}", d.severity.to_string()), style),
            Span::styled(visible(&d.code).into_owned(), theme.header_name()),
            Span::raw(loc),
        ]));
        for c in wrap(&visible(&d.message), width.saturating_sub(4)) {
            lines.push(Line::raw(format!("    {c}")));
        }
    }
    let mut doc = Doc::default();
    doc.push_lines(lines);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_headers_give_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_info(&png), Some(("PNG", Some((640, 480)))));
        let gif = b"GIF89a\x20\x03\x58\x02rest";
        assert_eq!(image_info(gif), Some(("GIF", Some((800, 600)))));
        // SOI, APP0 (len 4), SOF0 with h=100 w=200
        let jpg = [0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 100, 0, 200, 3];
        assert_eq!(image_info(&jpg), Some(("JPEG", Some((200, 100)))));
        assert_eq!(image_info(&[0xff, 0xd8, 0xff]), Some(("JPEG", None)), "truncated header never panics");
        assert_eq!(image_info(b"hello"), None);
    }

    #[test]
    fn bodies_are_classified() {
        assert_eq!(classify(b"", None), BodyKind::Empty);
        assert_eq!(classify(b"{\"a\":[1,2]}", None), BodyKind::Json);
        assert_eq!(classify(b"{not json", Some("application/json")), BodyKind::Text);
        assert_eq!(classify(b"hello\nworld", Some("text/plain")), BodyKind::Text);
        assert_eq!(classify(&[0, 1, 2, 3, 0xff, 0xfe, 9, 0], None), BodyKind::Binary);
    }

    #[test]
    fn text_wraps_and_windows_render_only_what_is_asked() {
        let t = TextBlock::new("abcdefghij\nxy\n".into(), 8, false);
        assert_eq!(t.len(), 3);
        assert_eq!(t.line(0), "abcdefgh");
        assert_eq!(t.line(1), "ij");
        assert_eq!(t.line(2), "xy");
        let ex = Exchange {
            response: Some(crate::model::Response {
                status: 200,
                body: Body::from_bytes(vec![0u8; 10 * 1024 * 1024]),
                ..crate::model::Response::default()
            }),
            ..Exchange::default()
        };
        let doc = response(&ex, 80, Theme::new(false));
        assert!(doc.len() > 600_000, "10 MB hex dump is paged, {}", doc.len());
        let w = doc.window(doc.len() - 3, 10, &ex, Theme::new(false), None);
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn json_is_pretty_printed_and_coloured() {
        let mut ex = Exchange::default();
        ex.request.body = Body::from_bytes(br#"{"sym":"ACME","qty":5,"ok":true}"#.to_vec());
        let doc = request(&ex, 80, Theme::new(true));
        let all = doc.window(0, doc.len(), &ex, Theme::new(true), None);
        let text: Vec<String> = all.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect();
        assert!(text.iter().any(|l| l == "  \"qty\": 5,"), "{text:?}");
        let qty = all.iter().find(|l| l.spans.iter().any(|s| s.content == "5")).unwrap();
        assert!(qty.spans.iter().any(|s| s.content == "\"qty\"" && s.style == Theme::new(true).json_key()));
    }

    #[test]
    fn hits_are_split_into_highlighted_spans() {
        let s = Search::new("acme").unwrap();
        let l = highlight(
            Line::from(vec![Span::raw("x AC"), Span::raw("ME y")]),
            &s,
            Style::new().bg(ratatui::style::Color::Yellow),
        );
        let texts: Vec<&str> = l.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, vec!["x ", "AC", "ME", " y"]);
    }
}
