//! Where a plaintext HTTP `CONNECT` tunnel begins, so that TLS started inside it (the way
//! every client talks HTTPS through a forward proxy) reaches the decrypting layer.
//!
//! [`ConnectWatch`] follows a connection whose client opened with `CONNECT `: it finds the
//! end of the request head, then the proxy's answer. A `2xx` head opens the tunnel: the
//! bytes after it are the tunnelled protocol. A refusal with a `Content-Length` body (a
//! `407` asking for credentials, say) is skipped and the next `CONNECT` on the same
//! connection is awaited. Anything the watcher cannot follow gives it up, and the
//! connection's bytes go on as they are. It only locates boundaries; the HTTP parser above
//! still reads the `CONNECT` exchange itself.

use crate::capture::stream::Dir;

/// Largest head (request or response) the watcher buffers before giving up.
const MAX_HEAD: usize = 64 << 10;
/// `CONNECT` attempts followed on one connection (refusals before the tunnel opens).
const MAX_ATTEMPTS: u32 = 8;

/// What a chunk of bytes meant to the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Still before the tunnel: pass the chunk on.
    Before,
    /// The tunnel opened inside this chunk: its first `n` bytes end the proxy's answer;
    /// the rest (if any) are the tunnel's first bytes.
    Opened(usize),
    /// The watcher cannot follow this connection (pass everything on from now on).
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the client's request head.
    Request,
    /// Reading the proxy's response head.
    Response,
    /// Skipping a refusal's body (bytes left).
    RefusalBody(u64),
}

/// Follows one connection that started with `CONNECT`; see the module note.
#[derive(Debug)]
pub struct ConnectWatch {
    client: Dir,
    phase: Phase,
    /// Bytes of the head being read (request: only its last 3 bytes are needed).
    head: Vec<u8>,
    attempts: u32,
}

/// True when a connection's first bytes are an HTTP `CONNECT` request line.
#[must_use]
pub fn starts_connect(data: &[u8]) -> bool {
    data.len() >= 8 && data[..8].eq_ignore_ascii_case(b"CONNECT ")
}

impl ConnectWatch {
    /// A watcher for a connection whose `client` direction sent the `CONNECT`.
    #[must_use]
    pub fn new(client: Dir) -> Self {
        Self { client, phase: Phase::Request, head: Vec::new(), attempts: 1 }
    }

    /// Read the next chunk of one direction.
    pub fn feed(&mut self, dir: Dir, data: &[u8]) -> Step {
        let from_client = dir == self.client;
        match (self.phase, from_client) {
            (Phase::Request, true) => self.request_bytes(data),
            (Phase::Response, false) => self.response_bytes(data),
            (Phase::RefusalBody(left), false) => {
                let n = data.len() as u64;
                if n < left {
                    self.phase = Phase::RefusalBody(left - n);
                    return Step::Before;
                }
                self.phase = Phase::Request;
                // A new answer in the same chunk would come before a new request: not HTTP.
                if n > left { Step::GiveUp } else { Step::Before }
            }
            (Phase::Request, false) => Step::GiveUp,
            // Client bytes before the proxy answered: an optimistic client; not followed.
            (Phase::Response | Phase::RefusalBody(_), true) => Step::GiveUp,
        }
    }

    fn request_bytes(&mut self, data: &[u8]) -> Step {
        if self.head.is_empty() && self.attempts > 1 && !starts_connect(data) {
            return Step::GiveUp;
        }
        let end = match self.append(data) {
            Head::Done { end, .. } => end,
            Head::Partial => return Step::Before,
            Head::TooLong => return Step::GiveUp,
        };
        if end != self.head.len() {
            // Bytes after the request head before any answer: not followed.
            return Step::GiveUp;
        }
        self.head.clear();
        self.phase = Phase::Response;
        Step::Before
    }

    fn response_bytes(&mut self, data: &[u8]) -> Step {
        let (end, in_chunk) = match self.append(data) {
            Head::Done { end, start } => (end, end - start),
            Head::Partial => return Step::Before,
            Head::TooLong => return Step::GiveUp,
        };
        let head = std::mem::take(&mut self.head);
        let Some(status) = status_of(&head[..end]) else { return Step::GiveUp };
        match status {
            100..=199 => {
                // An interim answer: the real one follows.
                let rest = head[end..].to_vec();
                match self.response_bytes(&rest) {
                    Step::Opened(n) => Step::Opened(in_chunk + n),
                    other => other,
                }
            }
            200..=299 => Step::Opened(in_chunk),
            _ => {
                self.attempts += 1;
                if self.attempts > MAX_ATTEMPTS {
                    return Step::GiveUp;
                }
                let Some(len) = content_length(&head[..end]) else { return Step::GiveUp };
                let after = (head.len() - end) as u64;
                if after > len {
                    return Step::GiveUp;
                }
                self.phase = if after == len { Phase::Request } else { Phase::RefusalBody(len - after) };
                Step::Before
            }
        }
    }

    /// Add `data` to the head being read and look for its end.
    fn append(&mut self, data: &[u8]) -> Head {
        let start = self.head.len();
        self.head.extend_from_slice(data);
        match find_head_end(&self.head, start.saturating_sub(3)) {
            Some(end) => Head::Done { end, start },
            None if self.head.len() > MAX_HEAD => Head::TooLong,
            None => Head::Partial,
        }
    }
}

/// Where the head being read stands after a chunk.
enum Head {
    /// Its end is at `end` in the buffer; the chunk began at `start`.
    Done { end: usize, start: usize },
    /// Not over yet.
    Partial,
    /// Longer than any head followed.
    TooLong,
}

/// The offset just past the first `\r\n\r\n` at or after `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(&buf[from..], b"\r\n\r\n").map(|i| from + i + 4)
}

/// The status code of a response head (`HTTP/1.x NNN ...`).
fn status_of(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The `Content-Length` of a head; `0` when the head has neither it nor chunked coding
/// (a refusal without a body); `None` when the body's length cannot be known.
fn content_length(head: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(head).ok()?;
    let mut len = 0;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n";

    #[test]
    fn a_2xx_answer_opens_the_tunnel_right_after_its_head() {
        let mut w = ConnectWatch::new(Dir::ToServer);
        assert!(starts_connect(REQ));
        assert_eq!(w.feed(Dir::ToServer, REQ), Step::Before);
        let answer = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01";
        assert_eq!(w.feed(Dir::ToClient, answer), Step::Opened(answer.len() - 3));
    }

    #[test]
    fn heads_split_across_chunks_at_every_byte_are_found() {
        let answer = b"HTTP/1.0 200 OK\r\nVia: proxy\r\n\r\n";
        for cut in 1..REQ.len() {
            for rcut in 1..answer.len() {
                let mut w = ConnectWatch::new(Dir::ToServer);
                assert_eq!(w.feed(Dir::ToServer, &REQ[..cut]), Step::Before);
                assert_eq!(w.feed(Dir::ToServer, &REQ[cut..]), Step::Before);
                assert_eq!(w.feed(Dir::ToClient, &answer[..rcut]), Step::Before);
                assert_eq!(w.feed(Dir::ToClient, &answer[rcut..]), Step::Opened(answer.len() - rcut));
            }
        }
    }

    #[test]
    fn a_407_with_a_body_is_skipped_and_the_second_connect_opens() {
        let mut w = ConnectWatch::new(Dir::ToServer);
        assert_eq!(w.feed(Dir::ToServer, REQ), Step::Before);
        assert_eq!(
            w.feed(Dir::ToClient, b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\nde"),
            Step::Before
        );
        assert_eq!(w.feed(Dir::ToClient, b"nied"[..3].as_ref()), Step::Before);
        assert_eq!(w.feed(Dir::ToServer, REQ), Step::Before);
        assert_eq!(w.feed(Dir::ToClient, b"HTTP/1.1 200 OK\r\n\r\n"), Step::Opened(19));
    }

    #[test]
    fn unfollowable_connections_are_given_up() {
        let mut w = ConnectWatch::new(Dir::ToServer);
        w.feed(Dir::ToServer, REQ);
        assert_eq!(
            w.feed(Dir::ToClient, b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Step::GiveUp
        );
        let mut w = ConnectWatch::new(Dir::ToServer);
        assert_eq!(w.feed(Dir::ToClient, b"HTTP/1.1 200 OK\r\n\r\n"), Step::GiveUp);
        let mut w = ConnectWatch::new(Dir::ToServer);
        w.feed(Dir::ToServer, REQ);
        assert_eq!(w.feed(Dir::ToClient, b"SSH-2.0-x\r\n\r\n"), Step::GiveUp);
        let mut w = ConnectWatch::new(Dir::ToServer);
        assert_eq!(w.feed(Dir::ToServer, &vec![b'a'; MAX_HEAD + 10]), Step::GiveUp);
    }

    #[test]
    fn an_interim_answer_before_the_2xx_is_passed_over() {
        let mut w = ConnectWatch::new(Dir::ToServer);
        w.feed(Dir::ToServer, REQ);
        let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(w.feed(Dir::ToClient, answer), Step::Opened(answer.len()));
    }
}
