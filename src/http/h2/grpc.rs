//! gRPC over HTTP/2: the length-prefixed message framing of request and response bodies,
//! the status codes carried by `grpc-status` / `grpc-message` (in trailers, or in the
//! headers of a trailers-only response), and a schema-less view of protobuf messages (hex
//! plus a generic wire-format field dump) for the detail view ([`render`]).

use crate::model::{Exchange, Headers};

/// Bytes of a message shown as hex in [`render`] (the rest is summarised).
const HEX_SHOWN: usize = 256;
/// Nesting depth the wire-format dump descends into length-delimited fields.
const MAX_DEPTH: usize = 4;
/// Fields listed per message in the wire-format dump.
const MAX_FIELDS: usize = 200;

/// True when `content_type` is a gRPC media type (`application/grpc`, `application/grpc+proto`,
/// `application/grpc-web`, …).
#[must_use]
pub fn is_grpc(content_type: &str) -> bool {
    let ct = content_type.trim_start().as_bytes();
    ct.len() >= 16 && ct[..16].eq_ignore_ascii_case(b"application/grpc")
}

/// One length-prefixed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The compressed flag (the message is encoded with the stream's `grpc-encoding`).
    pub compressed: bool,
    /// Length announced by the prefix.
    pub declared: u32,
    /// The message bytes present (shorter than `declared` when the body was cut).
    pub data: &'a [u8],
}

/// Split a gRPC body into its messages; a last message cut short is returned with what
/// there is of it.
#[must_use]
pub fn messages(body: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 5 {
        let declared = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
        let end = (5 + declared as usize).min(rest.len());
        out.push(Message { compressed: rest[0] & 1 == 1, declared, data: &rest[5..end] });
        rest = &rest[end..];
    }
    out
}

/// The name of a gRPC status code.
#[must_use]
pub fn status_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN_CODE",
    }
}

/// A call's outcome as its trailers (or trailers-only headers) state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `grpc-status` (unparseable values are 2, UNKNOWN, as gRPC clients treat them).
    pub code: u32,
    /// `grpc-message`, percent-decoded.
    pub message: Option<String>,
}

impl Outcome {
    /// Read `grpc-status` / `grpc-message` from `h`; `None` without a `grpc-status`.
    #[must_use]
    pub fn from_headers(h: &Headers) -> Option<Self> {
        let code = h.get("grpc-status")?.trim().parse().unwrap_or(2);
        Some(Self { code, message: h.get("grpc-message").map(percent_decode) })
    }

    /// `NOT_FOUND (5): no such user`.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.message {
            Some(m) if !m.is_empty() => format!("{} ({}): {m}", status_name(self.code), self.code),
            _ => format!("{} ({})", status_name(self.code), self.code),
        }
    }
}

/// Undo the percent-encoding of `grpc-message`.
#[must_use]
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lines describing a gRPC body message by message: prefix (compressed flag, length), the
/// bytes as hex, and the protobuf wire-format fields (number, wire type, value; nested
/// messages indented when a length-delimited field parses as one). Compressed messages are
/// decoded with `encoding` (`grpc-encoding`, e.g. `gzip`) when it is one `http::decode`
/// knows. The lines hold only printable ASCII and text already passed through
/// [`crate::model::text::visible`].
#[must_use]
pub fn render(body: &[u8], encoding: Option<&str>) -> Vec<String> {
    let msgs = messages(body);
    let mut out = Vec::new();
    if msgs.is_empty() {
        out.push(if body.is_empty() {
            "no messages".into()
        } else {
            format!("{} bytes, not a whole message prefix", body.len())
        });
        return out;
    }
    for (i, m) in msgs.iter().enumerate() {
        let cut = if (m.data.len() as u64) < u64::from(m.declared) {
            format!(", cut at {} bytes", m.data.len())
        } else {
            String::new()
        };
        out.push(format!(
            "message {} — {} bytes{}{cut}",
            i + 1,
            m.declared,
            if m.compressed { ", compressed" } else { "" }
        ));
        let decoded;
        let data: &[u8] = if m.compressed {
            let codings = crate::http::decode::codings(encoding.unwrap_or("identity"));
            let d = crate::http::decode::decode(&codings, m.data, 16 * 1024 * 1024);
            if let Some(e) = d.error.filter(|_| !codings.is_empty()) {
                out.push(format!(
                    "  cannot decompress ({}): {}",
                    crate::model::text::visible(encoding.unwrap_or("no grpc-encoding")),
                    crate::model::text::visible(&e)
                ));
                m.data
            } else if codings.is_empty() {
                out.push("  compressed, but no grpc-encoding given".into());
                m.data
            } else {
                decoded = d.content;
                &decoded
            }
        } else {
            m.data
        };
        hex_lines(data, &mut out);
        let mut fields = Vec::new();
        if dump_fields(data, 0, &mut fields) {
            out.push("  protobuf fields:".into());
            out.extend(fields);
        } else {
            out.push("  not a protobuf message".into());
        }
    }
    out
}

/// The gRPC part of an exchange's detail view, or `None` when the exchange is not gRPC:
/// the call's outcome, then the request's and the response's messages ([`render`]), each
/// under a heading. Pure text; the caller lays it out.
#[must_use]
pub fn detail_lines(ex: &Exchange) -> Option<Vec<String>> {
    let resp = ex.response.as_ref();
    let ct = ex.request.headers.get("content-type").or_else(|| resp.and_then(|r| r.headers.get("content-type")))?;
    if !is_grpc(ct) {
        return None;
    }
    let mut out = Vec::new();
    let trailers = trailer_headers(ex);
    let outcome = trailers
        .as_ref()
        .and_then(Outcome::from_headers)
        .or_else(|| resp.and_then(|r| Outcome::from_headers(&r.headers)));
    out.push(match outcome {
        Some(o) => format!("gRPC status {}", crate::model::text::visible(&o.describe())),
        None => "gRPC status: none seen".into(),
    });
    out.push(format!("request messages ({})", messages(&ex.request.body.content).len()));
    out.extend(render(&ex.request.body.content, ex.request.headers.get("grpc-encoding")));
    if let Some(r) = resp {
        out.push(format!("response messages ({})", messages(&r.body.content).len()));
        out.extend(render(&r.body.content, r.headers.get("grpc-encoding")));
    }
    Some(out)
}

/// Response trailers as the capture reader records them (`extra.response_trailers`).
fn trailer_headers(ex: &Exchange) -> Option<Headers> {
    let list = ex.extra.get("response_trailers")?.as_array()?;
    let mut h = Headers::default();
    for t in list {
        h.push(t.get("name")?.as_str()?, t.get("value")?.as_str()?);
    }
    Some(h)
}

fn hex_lines(data: &[u8], out: &mut Vec<String>) {
    for (row, chunk) in data[..data.len().min(HEX_SHOWN)].chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        out.push(format!("  {:04x}  {:<47}  {ascii}", row * 16, hex.join(" ")));
    }
    if data.len() > HEX_SHOWN {
        out.push(format!("  … {} more bytes", data.len() - HEX_SHOWN));
    }
}

/// A base-128 varint at the start of `p`: value and length.
fn varint(p: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in p.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Append the wire-format fields of `p` at nesting `depth`; false when `p` is not a
/// well-formed sequence of fields (nothing is appended then).
fn dump_fields(p: &[u8], depth: usize, out: &mut Vec<String>) -> bool {
    let mut lines = Vec::new();
    let mut rest = p;
    let pad = "  ".repeat(depth + 2);
    while !rest.is_empty() {
        let Some((key, n)) = varint(rest) else { return false };
        rest = &rest[n..];
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 {
            return false;
        }
        if lines.len() >= MAX_FIELDS {
            lines.push(format!("{pad}… more fields"));
            break;
        }
        match wire {
            0 => {
                let Some((v, n)) = varint(rest) else { return false };
                rest = &rest[n..];
                let zz = (v >> 1) as i64 ^ -((v & 1) as i64);
                lines.push(format!("{pad}{field}: varint {v} (zigzag {zz})"));
            }
            1 => {
                let Some(b) = rest.get(..8) else { return false };
                let v = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                rest = &rest[8..];
                lines.push(format!("{pad}{field}: fixed64 {v} (double {})", f64::from_bits(v)));
            }
            5 => {
                let Some(b) = rest.get(..4) else { return false };
                let v = u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
                rest = &rest[4..];
                lines.push(format!("{pad}{field}: fixed32 {v} (float {})", f32::from_bits(v)));
            }
            2 => {
                let Some((len, n)) = varint(rest) else { return false };
                let Some(inner) = usize::try_from(len).ok().and_then(|l| rest.get(n..n.checked_add(l)?)) else {
                    return false;
                };
                rest = &rest[n + inner.len()..];
                let mut nested = Vec::new();
                // Printable text is shown as a string even when it would also parse as fields.
                let text = std::str::from_utf8(inner).ok().filter(|s| s.chars().all(|c| !c.is_control() || c == '\n'));
                if let Some(s) = text {
                    lines.push(format!("{pad}{field}: string {:?}", crate::model::text::visible(s)));
                } else if depth < MAX_DEPTH && !inner.is_empty() && dump_fields(inner, depth + 1, &mut nested) {
                    lines.push(format!("{pad}{field}: message ({} bytes)", inner.len()));
                    lines.extend(nested);
                } else {
                    let hex: String = inner.iter().take(32).map(|b| format!("{b:02x}")).collect();
                    let more = if inner.len() > 32 { "…" } else { "" };
                    lines.push(format!("{pad}{field}: bytes ({}) {hex}{more}", inner.len()));
                }
            }
            _ => return false,
        }
    }
    out.extend(lines);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_by_their_length_prefix_and_a_cut_one_is_kept() {
        let body = [0, 0, 0, 0, 2, 8, 1, 1, 0, 0, 0, 9, 1, 2];
        let m = messages(&body);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], Message { compressed: false, declared: 2, data: &[8, 1] });
        assert_eq!(m[1], Message { compressed: true, declared: 9, data: &[1, 2] });
    }

    #[test]
    fn render_dumps_nested_protobuf_fields() {
        // field 1 varint 150; field 2 string "hi"; field 3 message { field 1 varint 1 }.
        let pb = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1a, 0x02, 0x08, 0x01];
        let mut body = vec![0, 0, 0, 0, pb.len() as u8];
        body.extend_from_slice(&pb);
        let lines = render(&body, None);
        assert_eq!(lines[0], "message 1 — 11 bytes");
        assert!(lines.iter().any(|l| l.trim() == "1: varint 150 (zigzag 75)"), "{lines:#?}");
        assert!(lines.iter().any(|l| l.trim() == "2: string \"hi\""), "{lines:#?}");
        assert!(lines.iter().any(|l| l.trim() == "3: message (2 bytes)"), "{lines:#?}");
        assert!(lines.iter().any(|l| l == "      1: varint 1 (zigzag -1)"), "{lines:#?}");
    }

    #[test]
    fn status_and_message_come_from_headers_percent_decoded() {
        let mut h = Headers::default();
        h.push("grpc-status", "5");
        h.push("grpc-message", "no%20such%20user");
        let o = Outcome::from_headers(&h).unwrap();
        assert_eq!(o.describe(), "NOT_FOUND (5): no such user");
        assert!(is_grpc("application/grpc+proto"));
        assert!(!is_grpc("application/json"));
    }
}
