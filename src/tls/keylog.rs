//! NSS key log files (`SSLKEYLOGFILE`): lines `LABEL <client random, 64 hex> <secret hex>`,
//! read as a stream (a huge key log is never held as text), malformed lines counted and
//! skipped. Secrets are kept per client random.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// A client random: the 32 bytes that name a TLS session in a key log.
pub type Random = [u8; 32];

/// Every secret a key log gives for one client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS ≤ 1.2 master secret (`CLIENT_RANDOM`, 48 bytes).
    pub master: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_hs: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_hs: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_app: Option<Vec<u8>>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_app: Option<Vec<u8>>,
    /// TLS 1.3 `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT data; kept, not used).
    pub client_early: Option<Vec<u8>>,
}

/// What reading key log text found, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLogCounts {
    /// Lines that gave a secret used for decryption.
    pub usable: u64,
    /// `EXPORTER_SECRET` lines (valid, not needed to read traffic).
    pub exporter: u64,
    /// `RSA` lines (pre-master secrets by encrypted pre-master prefix; not used).
    pub rsa: u64,
    /// Lines with an unknown label (kept out, counted).
    pub unknown_label: u64,
    /// Lines that do not parse (wrong field count, bad hex, wrong lengths).
    pub malformed: u64,
    /// Comment and blank lines.
    pub comments: u64,
}

impl KeyLogCounts {
    fn add(&mut self, o: &Self) {
        self.usable += o.usable;
        self.exporter += o.exporter;
        self.rsa += o.rsa;
        self.unknown_label += o.unknown_label;
        self.malformed += o.malformed;
        self.comments += o.comments;
    }
}

/// Why a key log file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyLogError {
    /// The file could not be read.
    #[error("key log {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The reason (in the message, so not also a `source`).
        source: std::io::Error,
    },
    /// Not one line of the file is a usable key.
    #[error(
        "key log {path}: no usable line ({malformed} malformed, {unknown} with an unknown label, {rsa} RSA, {other} other); \
         expected NSS key log lines such as `CLIENT_RANDOM <64 hex> <96 hex>`"
    )]
    NoUsableLine {
        /// The file.
        path: String,
        /// Malformed lines.
        malformed: u64,
        /// Lines with an unknown label.
        unknown: u64,
        /// RSA lines.
        rsa: u64,
        /// Comments, blanks and exporter secrets.
        other: u64,
    },
}

/// Secrets from any number of key logs, by client random.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    map: HashMap<Random, Secrets>,
    /// Line counts over everything added.
    pub counts: KeyLogCounts,
}

impl KeyLog {
    /// An empty key log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no secret is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Client randoms with at least one secret.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The secrets for `random`, if any.
    #[must_use]
    pub fn get(&self, random: &Random) -> Option<&Secrets> {
        self.map.get(random)
    }

    /// Add every line of key log text (a DSB's data, a section comment); returns what the
    /// lines were.
    pub fn add_text(&mut self, text: &[u8]) -> KeyLogCounts {
        let mut c = KeyLogCounts::default();
        for line in text.split(|&b| b == b'\n') {
            self.add_line(line, &mut c);
        }
        self.counts.add(&c);
        c
    }

    /// Read a key log file line by line.
    ///
    /// # Errors
    /// [`KeyLogError::Io`] when it cannot be read, [`KeyLogError::NoUsableLine`] when not
    /// one line gives a secret.
    pub fn add_file(&mut self, path: &Path) -> Result<KeyLogCounts, KeyLogError> {
        let shown = path.display().to_string();
        let io = |source| KeyLogError::Io { path: shown.clone(), source };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut r = std::io::BufReader::with_capacity(1 << 16, f);
        let mut c = KeyLogCounts::default();
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            self.add_line(&line, &mut c);
        }
        self.counts.add(&c);
        if c.usable == 0 {
            return Err(KeyLogError::NoUsableLine {
                path: shown,
                malformed: c.malformed,
                unknown: c.unknown_label,
                rsa: c.rsa,
                other: c.comments + c.exporter,
            });
        }
        Ok(c)
    }

    fn add_line(&mut self, raw: &[u8], c: &mut KeyLogCounts) {
        let line = raw.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            c.comments += 1;
            return;
        }
        let mut parts = line.split(|b| b.is_ascii_whitespace()).filter(|p| !p.is_empty());
        let (Some(label), Some(random), Some(secret), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            c.malformed += 1;
            return;
        };
        let slot: fn(&mut Secrets) -> &mut Option<Vec<u8>> = match label {
            b"CLIENT_RANDOM" => |s| &mut s.master,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_hs,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_hs,
            b"CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_app,
            b"SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_app,
            b"CLIENT_EARLY_TRAFFIC_SECRET" => |s| &mut s.client_early,
            b"EXPORTER_SECRET" => {
                c.exporter += 1;
                return;
            }
            b"RSA" => {
                c.rsa += 1;
                return;
            }
            _ => {
                c.unknown_label += 1;
                return;
            }
        };
        let (Some(r), Some(s)) = (unhex(random), unhex(secret)) else {
            c.malformed += 1;
            return;
        };
        let Ok(r) = <Random>::try_from(r.as_slice()) else {
            c.malformed += 1;
            return;
        };
        let ok_len = if label == b"CLIENT_RANDOM" { s.len() == 48 } else { matches!(s.len(), 32 | 48) };
        if !ok_len {
            c.malformed += 1;
            return;
        }
        *slot(self.map.entry(r).or_default()) = Some(s);
        c.usable += 1;
    }
}

/// Decode hex text; `None` on an odd length or a non-hex digit.
#[must_use]
pub fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2).map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn every_label_is_read_and_bad_lines_are_counted_not_fatal() {
        let ms = "ab".repeat(48);
        let ts = "cd".repeat(32);
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {R} {ms}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {R} {ts}\r\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R} {ts}\nCLIENT_TRAFFIC_SECRET_0 {R} {ts}\nSERVER_TRAFFIC_SECRET_0 {R} {ts}\n\
             EXPORTER_SECRET {R} {ts}\nRSA 0011 2233\nFOO {R} {ts}\nCLIENT_RANDOM {R}\nCLIENT_RANDOM zz{R} {ms}\n\
             CLIENT_RANDOM {R} abcd\n"
        );
        let mut k = KeyLog::new();
        let c = k.add_text(text.as_bytes());
        assert_eq!(c, KeyLogCounts { usable: 5, exporter: 1, rsa: 1, unknown_label: 1, malformed: 3, comments: 3 });
        let s = k.get(&[1; 32]).unwrap();
        assert_eq!(s.master.as_deref(), Some(&[0xab; 48][..]));
        assert_eq!(s.server_app.as_deref(), Some(&[0xcd; 32][..]));
    }

    #[test]
    fn a_file_with_no_usable_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.txt");
        std::fs::write(&p, "hello\nCLIENT_RANDOM nothex\n").unwrap();
        let e = KeyLog::new().add_file(&p).unwrap_err().to_string();
        assert!(e.contains("keys.txt") && e.contains("no usable line") && e.contains("2 malformed"), "{e}");
    }
}
