//! The few handshake messages decryption needs, parsed by hand: ClientHello (client random,
//! session ID, SNI, ALPN offer, session ticket, encrypt-then-MAC), ServerHello (server
//! random, version, suite, ALPN, encrypt-then-MAC, HelloRetryRequest), EncryptedExtensions
//! (TLS 1.3 ALPN) and NewSessionTicket (TLS 1.2 ticket). Anything short or odd gives `None`.

/// Handshake message types used here.
pub mod kind {
    /// ClientHello.
    pub const CLIENT_HELLO: u8 = 1;
    /// ServerHello (and HelloRetryRequest).
    pub const SERVER_HELLO: u8 = 2;
    /// NewSessionTicket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// EncryptedExtensions (TLS 1.3).
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// Finished.
    pub const FINISHED: u8 = 20;
    /// KeyUpdate (TLS 1.3).
    pub const KEY_UPDATE: u8 = 24;
}

/// The random of a HelloRetryRequest (SHA-256 of "HelloRetryRequest", RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11,
    0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

const EXT_SNI: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_ETM: u16 = 22;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// What a ClientHello says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Client random.
    pub random: [u8; 32],
    /// Legacy session ID (resumption by ID in TLS 1.2).
    pub session_id: Vec<u8>,
    /// Server name (SNI host name).
    pub sni: Option<String>,
    /// Offers encrypt-then-MAC.
    pub etm: bool,
    /// Session ticket offered for resumption (TLS 1.2), empty when none.
    pub ticket: Vec<u8>,
}

/// What a ServerHello says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// Server random.
    pub random: [u8; 32],
    /// Session ID echoed or assigned.
    pub session_id: Vec<u8>,
    /// Negotiated version (from `supported_versions` when present): 0x0303, 0x0304, …
    pub version: u16,
    /// Chosen cipher suite.
    pub suite: u16,
    /// ALPN protocol chosen (TLS ≤ 1.2; TLS 1.3 puts it in EncryptedExtensions).
    pub alpn: Option<String>,
    /// Encrypt-then-MAC accepted.
    pub etm: bool,
    /// This is a HelloRetryRequest, not a real ServerHello.
    pub retry: bool,
}

/// A byte reader that fails softly.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Extensions as `(type, data)` pairs; stops quietly at the first damaged one.
fn extensions(data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut r = Rd(data);
    while let (Some(t), Some(d)) = (r.u16(), r.vec16()) {
        out.push((t, d));
    }
    out
}

/// Parse a ClientHello body (after the 4-byte handshake header).
#[must_use]
pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Rd(body);
    r.take(2)?;
    let random: [u8; 32] = r.take(32)?.try_into().ok()?;
    let session_id = r.vec8()?.to_vec();
    r.vec16()?;
    r.vec8()?;
    let mut ch = ClientHello { random, session_id, ..ClientHello::default() };
    let Some(exts) = r.vec16() else { return Some(ch) };
    for (t, d) in extensions(exts) {
        match t {
            EXT_SNI => ch.sni = sni(d),
            EXT_ETM => ch.etm = true,
            EXT_SESSION_TICKET => ch.ticket = d.to_vec(),
            _ => {}
        }
    }
    Some(ch)
}

fn sni(d: &[u8]) -> Option<String> {
    let mut r = Rd(Rd(d).vec16()?);
    while let Some(t) = r.u8() {
        let name = r.vec16()?;
        if t == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

fn alpn(d: &[u8]) -> Option<String> {
    let list = Rd(d).vec16()?;
    let p = Rd(list).vec8()?;
    Some(String::from_utf8_lossy(p).into_owned())
}

/// Parse a ServerHello body.
#[must_use]
pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Rd(body);
    let legacy = r.u16()?;
    let random: [u8; 32] = r.take(32)?.try_into().ok()?;
    let session_id = r.vec8()?.to_vec();
    let suite = r.u16()?;
    r.u8()?;
    let mut sh = ServerHello {
        random,
        session_id,
        version: legacy,
        suite,
        retry: random == HRR_RANDOM,
        ..ServerHello::default()
    };
    let Some(exts) = r.vec16() else { return Some(sh) };
    for (t, d) in extensions(exts) {
        match t {
            EXT_SUPPORTED_VERSIONS if d.len() == 2 => sh.version = u16::from_be_bytes([d[0], d[1]]),
            EXT_ALPN => sh.alpn = alpn(d),
            EXT_ETM => sh.etm = true,
            _ => {}
        }
    }
    Some(sh)
}

/// The ALPN protocol in an EncryptedExtensions body.
#[must_use]
pub fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let exts = Rd(body).vec16()?;
    extensions(exts).into_iter().find(|(t, _)| *t == EXT_ALPN).and_then(|(_, d)| alpn(d))
}

/// The ticket in a TLS 1.2 NewSessionTicket body.
#[must_use]
pub fn new_session_ticket(body: &[u8]) -> Option<Vec<u8>> {
    let mut r = Rd(body);
    r.take(4)?;
    Some(r.vec16()?.to_vec())
}

/// Splits a direction's handshake bytes into messages (they may span records, and one
/// record may hold several).
#[derive(Debug, Default)]
pub struct Messages {
    buf: Vec<u8>,
}

impl Messages {
    /// Add handshake-record content; returns the complete messages as `(type, body)`.
    pub fn push(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(h) = self.buf.get(at..at + 4) {
            let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
            let Some(body) = self.buf.get(at + 4..at + 4 + len) else { break };
            out.push((h[0], body.to_vec()));
            at += 4 + len;
        }
        self.buf.drain(..at);
        // A message longer than any real handshake is garbage: drop it rather than grow.
        if self.buf.len() > 1 << 20 {
            self.buf.clear();
        }
        out
    }
}

/// A version number as usually written.
#[must_use]
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        _ => format!("0x{v:04X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_messages_split_and_joined_across_records_come_out_whole() {
        let mut m = Messages::default();
        assert!(m.push(&[1, 0, 0, 3, 9]).is_empty());
        let out = m.push(&[8, 7, 20, 0, 0, 1, 5, 2]);
        assert_eq!(out, vec![(1, vec![9, 8, 7]), (20, vec![5])]);
        assert_eq!(m.push(&[0, 0, 0]), vec![(2, vec![])]);
    }

    #[test]
    fn truncated_hellos_are_none_not_a_panic() {
        for n in 0..40 {
            assert!(server_hello(&vec![3; n]).is_none() || n >= 38);
            let _ = client_hello(&vec![0xff; n]);
        }
    }
}
