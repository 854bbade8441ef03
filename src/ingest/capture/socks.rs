//! SOCKS 4, 4a and 5 handshakes at the start of a connection (a client talking to a SOCKS
//! proxy): the handshake bytes of both directions are held until the proxy's answer is
//! complete, then dropped, and what follows is read as the tunnelled protocol. Bytes that do
//! not finish a handshake are handed back unchanged.

use crate::capture::stream::Dir;

/// What feeding bytes to a handshake gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// The handshake is not complete yet.
    Pending,
    /// Complete: the destination (`host:port`) and the bytes after the handshake, per
    /// direction `[ToServer, ToClient]`.
    Done(String, [Vec<u8>; 2]),
    /// Not (or no longer) a SOCKS handshake, or refused: every byte held, per direction.
    Abandon([Vec<u8>; 2]),
}

/// Bytes held while a handshake is in progress.
#[derive(Debug, Default)]
pub(super) struct Socks {
    held: [Vec<u8>; 2],
}

/// Most bytes held before giving up (a handshake is a few hundred bytes at most).
const MAX_HELD: usize = 2048;

/// True when a connection's first client bytes start like a SOCKS 4/4a CONNECT or a SOCKS 5
/// greeting.
pub(super) fn looks_like_socks(b: &[u8]) -> bool {
    match b {
        [4, 1, p0, p1, ..] => (*p0, *p1) != (0, 0),
        [5, n @ 1..=9, rest @ ..] => rest.iter().take(usize::from(*n)).all(|&m| m <= 3 || m >= 0x80),
        _ => false,
    }
}

impl Socks {
    /// The bytes held, per direction (for a connection that ends mid-handshake).
    pub(super) fn into_held(self) -> [Vec<u8>; 2] {
        self.held
    }

    /// Add bytes from `dir` and see whether the handshake is over.
    pub(super) fn feed(&mut self, dir: Dir, data: &[u8]) -> Step {
        self.held[usize::from(dir == Dir::ToClient)].extend_from_slice(data);
        let [c, s] = &self.held;
        let out = match c.first() {
            Some(4) => v4(c, s),
            Some(5) => v5(c, s),
            _ => Err(()),
        };
        match out {
            Ok(Some((dest, cl, sl))) => {
                let [c, s] = std::mem::take(&mut self.held);
                Step::Done(dest, [c[cl..].to_vec(), s[sl..].to_vec()])
            }
            Ok(None) if c.len() + s.len() <= MAX_HELD => Step::Pending,
            _ => Step::Abandon(std::mem::take(&mut self.held)),
        }
    }
}

/// A complete handshake: destination, client bytes, server bytes. `Ok(None)`: need more.
type Parsed = Result<Option<(String, usize, usize)>, ()>;

fn nul_end(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?.iter().position(|&c| c == 0).map(|i| from + i + 1)
}

/// SOCKS 4 / 4a: `04 01 port ip user\0 [host\0]`; the answer is 8 bytes, `5a` granted.
fn v4(c: &[u8], s: &[u8]) -> Parsed {
    let Some(user_end) = nul_end(c, 8) else { return Ok(None) };
    let port = u16::from_be_bytes([c[2], c[3]]);
    let ip = &c[4..8];
    let (host, clen) = if ip[..3] == [0, 0, 0] && ip[3] != 0 {
        let Some(end) = nul_end(c, user_end) else { return Ok(None) };
        (String::from_utf8_lossy(&c[user_end..end - 1]).into_owned(), end)
    } else {
        (format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]), user_end)
    };
    match s {
        [] | [_] => Ok(None),
        [0, 0x5a, ..] if s.len() >= 8 => Ok(Some((format!("{host}:{port}"), clen, 8))),
        [0, 0x5a, ..] => Ok(None),
        _ => Err(()),
    }
}

/// SOCKS 5: greeting, the method choice, optional username/password sub-negotiation, then
/// the CONNECT request and its reply.
fn v5(c: &[u8], s: &[u8]) -> Parsed {
    let Some(&n) = c.get(1) else { return Ok(None) };
    let mut ci = 2 + usize::from(n);
    let Some(&method) = s.get(1) else { return Ok(None) };
    if s[0] != 5 || method == 0xff {
        return Err(());
    }
    let mut si = 2;
    if method == 2 {
        // Username/password: 01 ulen user plen pass; the answer 01 status (00 = success).
        let Some(&ulen) = c.get(ci + 1) else { return Ok(None) };
        let Some(&plen) = c.get(ci + 2 + usize::from(ulen)) else { return Ok(None) };
        ci += 3 + usize::from(ulen) + usize::from(plen);
        match s.get(2..4) {
            None => return Ok(None),
            Some([1, 0]) => si += 2,
            Some(_) => return Err(()),
        }
    } else if method != 0 {
        return Err(());
    }
    let Some((dest, req_len)) = address(c.get(ci..).unwrap_or_default())? else { return Ok(None) };
    match s.get(si..si + 2) {
        None => return Ok(None),
        Some([5, 0]) => {}
        Some(_) => return Err(()),
    }
    let Some((_, rep_len)) = address(&s[si..])? else { return Ok(None) };
    Ok(Some((dest, ci + req_len, si + rep_len)))
}

/// A SOCKS 5 request or reply (`05 cmd 00 atyp addr port`): the address and its length.
fn address(b: &[u8]) -> Result<Option<(String, usize)>, ()> {
    let Some(&atyp) = b.get(3) else { return Ok(None) };
    let (host, at) = match atyp {
        1 => match b.get(4..8) {
            Some(a) => (format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]), 8),
            None => return Ok(None),
        },
        3 => {
            let Some(&len) = b.get(4) else { return Ok(None) };
            match b.get(5..5 + usize::from(len)) {
                Some(h) => (String::from_utf8_lossy(h).into_owned(), 5 + usize::from(len)),
                None => return Ok(None),
            }
        }
        4 => match b.get(4..20) {
            Some(a) => {
                let a: [u8; 16] = a.try_into().map_err(|_| ())?;
                (format!("[{}]", std::net::Ipv6Addr::from(a)), 20)
            }
            None => return Ok(None),
        },
        _ => return Err(()),
    };
    match b.get(at..at + 2) {
        Some(p) => Ok(Some((format!("{host}:{}", u16::from_be_bytes([p[0], p[1]])), at + 2))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(client: &[u8], server: &[u8]) -> Step {
        let mut s = Socks::default();
        assert_eq!(s.feed(Dir::ToServer, client), Step::Pending);
        s.feed(Dir::ToClient, server)
    }

    #[test]
    fn socks4a_with_a_host_name_then_http() {
        let mut c = vec![4, 1, 0, 80, 0, 0, 0, 1];
        c.extend(b"me\0api.example\0GET / HTTP/1.1\r\n\r\n");
        let s = [0, 0x5a, 0, 0, 0, 0, 0, 0];
        assert!(looks_like_socks(&c));
        assert_eq!(run(&c, &s), Step::Done("api.example:80".into(), [b"GET / HTTP/1.1\r\n\r\n".to_vec(), vec![]]));
    }

    #[test]
    fn socks5_with_password_and_a_domain() {
        let mut c = vec![5, 2, 0, 2, 1, 1, b'u', 1, b'p', 5, 1, 0, 3, 11];
        c.extend(b"api.example");
        c.extend([0x1f, 0x90]);
        c.extend(b"GET /x HTTP/1.1\r\n\r\n");
        let mut s = vec![5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
        s.extend(b"HTTP/1.1 200 OK\r\n");
        assert_eq!(
            run(&c, &s),
            Step::Done(
                "api.example:8080".into(),
                [b"GET /x HTTP/1.1\r\n\r\n".to_vec(), b"HTTP/1.1 200 OK\r\n".to_vec()]
            )
        );
    }

    #[test]
    fn a_refused_handshake_gives_every_byte_back() {
        let c = [5, 1, 0];
        let s = [5, 0xff];
        assert_eq!(run(&c, &s), Step::Abandon([c.to_vec(), s.to_vec()]));
        assert!(!looks_like_socks(b"GET / HTTP/1.1"));
    }
}
