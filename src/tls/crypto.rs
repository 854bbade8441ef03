//! The cryptography of TLS record protection, on RustCrypto primitives: the TLS 1.2 PRF
//! (P_SHA256 / P_SHA384) and key block, TLS 1.3 HKDF-Expand-Label, the cipher-suite table,
//! and [`RecordKeys`], which opens one direction's records (AES-GCM, ChaCha20-Poly1305,
//! AES-CBC with HMAC-SHA1/256/384, MAC-then-encrypt or encrypt-then-MAC) in place.

use aes::cipher::{Array, BlockCipherDecrypt};
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// A hash used by a suite's PRF, HKDF or record MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (record MAC of the `_SHA` CBC suites only).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    #[must_use]
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }
}

/// HMAC of the concatenation of `parts` under `key`.
#[must_use]
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let Ok(mut m) = <M as hmac::KeyInit>::new_from_slice(key) else { return Vec::new() };
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
    match alg {
        HashAlg::Sha1 => run::<Hmac<Sha1>>(key, parts),
        HashAlg::Sha256 => run::<Hmac<Sha256>>(key, parts),
        HashAlg::Sha384 => run::<Hmac<Sha384>>(key, parts),
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): `P_hash(secret, label ‖ seed)` cut to `len` bytes.
#[must_use]
pub fn prf(alg: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + alg.output_len());
    let mut a = hmac(alg, secret, &[label, seed]);
    while out.len() < len {
        out.extend(hmac(alg, secret, &[&a, label, seed]));
        a = hmac(alg, secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// TLS 1.3 HKDF-Expand-Label (RFC 8446 §7.1) with an empty context unless given.
#[must_use]
pub fn expand_label(alg: HashAlg, secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full.len() + context.len());
    info.extend((len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend(&full);
    info.push(context.len() as u8);
    info.extend(context);
    let mut okm = vec![0u8; len];
    let ok = match alg {
        HashAlg::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret).is_ok_and(|h| h.expand(&info, &mut okm).is_ok()),
        HashAlg::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret).is_ok_and(|h| h.expand(&info, &mut okm).is_ok()),
        HashAlg::Sha1 => false,
    };
    if ok { okm } else { Vec::new() }
}

/// How a suite protects records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-128-CBC with an HMAC.
    Aes128Cbc(HashAlg),
    /// AES-256-CBC with an HMAC.
    Aes256Cbc(HashAlg),
}

impl Bulk {
    fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Cbc(_) => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 | Self::Aes256Cbc(_) => 32,
        }
    }
}

/// A cipher suite apiscope can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// IANA number.
    pub id: u16,
    /// IANA name.
    pub name: &'static str,
    /// Record protection.
    pub bulk: Bulk,
    /// PRF / HKDF hash.
    pub hash: HashAlg,
    /// A TLS 1.3 suite.
    pub tls13: bool,
}

const fn s(id: u16, name: &'static str, bulk: Bulk, hash: HashAlg, tls13: bool) -> Suite {
    Suite { id, name, bulk, hash, tls13 }
}

use Bulk::{Aes128Cbc, Aes128Gcm as G128, Aes256Cbc, Aes256Gcm as G256, ChaCha20Poly1305 as CC};
use HashAlg::{Sha1 as H1, Sha256 as H256, Sha384 as H384};

/// Every suite that can be decrypted.
pub const SUITES: &[Suite] = &[
    s(0x1301, "TLS_AES_128_GCM_SHA256", G128, H256, true),
    s(0x1302, "TLS_AES_256_GCM_SHA384", G256, H384, true),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", CC, H256, true),
    s(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", G128, H256, false),
    s(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", G256, H384, false),
    s(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", G128, H256, false),
    s(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", G256, H384, false),
    s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", G128, H256, false),
    s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", G256, H384, false),
    s(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", G128, H256, false),
    s(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", G256, H384, false),
    s(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CC, H256, false),
    s(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", CC, H256, false),
    s(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CC, H256, false),
    s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc(H1), H256, false),
    s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc(H1), H256, false),
    s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Aes128Cbc(H1), H256, false),
    s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Aes256Cbc(H1), H256, false),
    s(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc(H256), H256, false),
    s(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Aes256Cbc(H384), H384, false),
    s(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Aes128Cbc(H256), H256, false),
    s(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Aes256Cbc(H384), H384, false),
    s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc(H1), H256, false),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc(H1), H256, false),
    s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc(H256), H256, false),
    s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc(H256), H256, false),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc(H1), H256, false),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc(H1), H256, false),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc(H256), H256, false),
    s(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc(H256), H256, false),
];

/// The suite numbered `id`, if it can be decrypted.
#[must_use]
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// A name for a suite that cannot be decrypted (its IANA name for common ones).
#[must_use]
pub fn unsupported_name(id: u16) -> String {
    let known = match id {
        0x1304 => "TLS_AES_128_CCM_SHA256",
        0x1305 => "TLS_AES_128_CCM_8_SHA256",
        0xC0AC => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xC0AE => "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0x000A => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0xC012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0xC011 => "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0x0041 => "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        0x0084 => "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        _ => "",
    };
    if known.is_empty() { format!("0x{id:04X}") } else { known.to_string() }
}

enum Engine {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Aes128Cbc(Box<aes::Aes128Dec>, HashAlg, Vec<u8>),
    Aes256Cbc(Box<aes::Aes256Dec>, HashAlg, Vec<u8>),
}

/// Why a record could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The authentication tag or MAC does not match (wrong key, damaged record).
    #[error("authentication failed (wrong key or damaged record)")]
    BadTag,
    /// The record is too short for its protection (no room for a tag, IV, MAC or padding).
    #[error("record too short for its protection")]
    Short,
}

/// One direction's record keys and sequence number.
pub struct RecordKeys {
    engine: Engine,
    /// Implicit IV: the 4-byte salt (TLS 1.2 GCM) or 12-byte IV (ChaCha20, TLS 1.3).
    iv: [u8; 12],
    tls13: bool,
    etm: bool,
    /// Sequence number of the next record.
    pub seq: u64,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordKeys(seq {}, tls13 {}, etm {})", self.seq, self.tls13, self.etm)
    }
}

/// The TLS 1.2 keys of both directions, `(client→server, server→client)`, from the master
/// secret (RFC 5246 §6.3); `etm` when encrypt-then-MAC was negotiated (CBC suites only).
#[must_use]
pub fn tls12_keys(
    suite: &Suite,
    master: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    etm: bool,
) -> Option<(RecordKeys, RecordKeys)> {
    let (mac_len, iv_len) = match suite.bulk {
        Bulk::Aes128Gcm | Bulk::Aes256Gcm => (0, 4),
        Bulk::ChaCha20Poly1305 => (0, 12),
        Bulk::Aes128Cbc(h) | Bulk::Aes256Cbc(h) => (h.output_len(), 0),
    };
    let key_len = suite.bulk.key_len();
    let seed = [server_random, client_random].concat();
    let kb = prf(suite.hash, master, b"key expansion", &seed, 2 * (mac_len + key_len + iv_len));
    let (cmac, rest) = kb.split_at(mac_len);
    let (smac, rest) = rest.split_at(mac_len);
    let (ckey, rest) = rest.split_at(key_len);
    let (skey, rest) = rest.split_at(key_len);
    let (civ, siv) = rest.split_at(iv_len);
    let c = RecordKeys::new(suite.bulk, ckey, civ, cmac, false, etm)?;
    let s = RecordKeys::new(suite.bulk, skey, siv, smac, false, etm)?;
    Some((c, s))
}

/// TLS 1.3 record keys from a traffic secret (RFC 8446 §7.3).
#[must_use]
pub fn tls13_keys(suite: &Suite, secret: &[u8]) -> Option<RecordKeys> {
    let key = expand_label(suite.hash, secret, "key", &[], suite.bulk.key_len());
    let iv = expand_label(suite.hash, secret, "iv", &[], 12);
    RecordKeys::new(suite.bulk, &key, &iv, &[], true, false)
}

/// The next TLS 1.3 application traffic secret (KeyUpdate, RFC 8446 §7.2).
#[must_use]
pub fn next_secret(suite: &Suite, secret: &[u8]) -> Vec<u8> {
    expand_label(suite.hash, secret, "traffic upd", &[], suite.hash.output_len())
}

impl RecordKeys {
    fn new(bulk: Bulk, key: &[u8], iv: &[u8], mac: &[u8], tls13: bool, etm: bool) -> Option<Self> {
        let engine = match bulk {
            Bulk::Aes128Gcm => Engine::Aes128Gcm(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::Aes256Gcm => Engine::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => Engine::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?)),
            Bulk::Aes128Cbc(h) => {
                Engine::Aes128Cbc(Box::new(aes::Aes128Dec::new_from_slice(key).ok()?), h, mac.to_vec())
            }
            Bulk::Aes256Cbc(h) => {
                Engine::Aes256Cbc(Box::new(aes::Aes256Dec::new_from_slice(key).ok()?), h, mac.to_vec())
            }
        };
        let mut fixed = [0u8; 12];
        fixed.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(Self { engine, iv: fixed, tls13, etm, seq: 0 })
    }

    /// Open one record in place: `header` is its 5-byte header, `body` its payload. Returns
    /// the plaintext's range within `body` and the content type (for TLS 1.3, the inner
    /// type, padding removed; type 0 when the record is all padding). The sequence number
    /// advances only on success.
    ///
    /// # Errors
    /// [`OpenError`] when the record does not authenticate or is too short.
    pub fn open(&mut self, header: &[u8; 5], body: &mut [u8]) -> Result<(std::ops::Range<usize>, u8), OpenError> {
        let r = if self.tls13 { self.open13(header, body) } else { self.open12(header, body) }?;
        self.seq = self.seq.wrapping_add(1);
        Ok(r)
    }

    /// Bytes a record adds to its plaintext (header, explicit nonce or IV, tag or MAC, TLS
    /// 1.3 content type; CBC padding counted as its average).
    #[must_use]
    pub fn overhead(&self) -> u64 {
        match &self.engine {
            _ if self.tls13 => 5 + 16 + 1,
            Engine::Aes128Gcm(_) | Engine::Aes256Gcm(_) => 5 + 8 + 16,
            Engine::ChaCha(_) => 5 + 16,
            Engine::Aes128Cbc(_, h, _) | Engine::Aes256Cbc(_, h, _) => 5 + 16 + h.output_len() as u64 + 8,
        }
    }

    fn xor_nonce(&self) -> [u8; 12] {
        let mut n = self.iv;
        for (a, b) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *a ^= b;
        }
        n
    }

    fn aead(&self, nonce: &[u8; 12], aad: &[u8], ct: &mut [u8], tag: &[u8]) -> Result<(), OpenError> {
        let nonce = Array::from(*nonce);
        let tag = Array::try_from(tag).map_err(|_| OpenError::Short)?;
        let ok = match &self.engine {
            Engine::Aes128Gcm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), &tag).is_ok(),
            Engine::Aes256Gcm(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), &tag).is_ok(),
            Engine::ChaCha(c) => c.decrypt_inout_detached(&nonce, aad, ct.into(), &tag).is_ok(),
            Engine::Aes128Cbc(..) | Engine::Aes256Cbc(..) => false,
        };
        if ok { Ok(()) } else { Err(OpenError::BadTag) }
    }

    fn open13(&self, header: &[u8; 5], body: &mut [u8]) -> Result<(std::ops::Range<usize>, u8), OpenError> {
        let n = body.len().checked_sub(16).ok_or(OpenError::Short)?;
        let (ct, tag) = body.split_at_mut(n);
        self.aead(&self.xor_nonce(), header, ct, tag)?;
        // Inner plaintext: content ‖ type ‖ zero padding.
        let end = ct.iter().rposition(|&b| b != 0);
        Ok(match end {
            Some(i) => (0..i, ct[i]),
            None => (0..0, 0),
        })
    }

    fn aad12(&self, header: &[u8; 5], len: usize) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
        aad
    }

    fn open12(&self, header: &[u8; 5], body: &mut [u8]) -> Result<(std::ops::Range<usize>, u8), OpenError> {
        match &self.engine {
            Engine::Aes128Gcm(_) | Engine::Aes256Gcm(_) => {
                let n = body.len().checked_sub(8 + 16).ok_or(OpenError::Short)?;
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(&self.iv[..4]);
                nonce[4..].copy_from_slice(&body[..8]);
                let aad = self.aad12(header, n);
                let (ct, tag) = body[8..].split_at_mut(n);
                self.aead(&nonce, &aad, ct, tag)?;
                Ok((8..8 + n, header[0]))
            }
            Engine::ChaCha(_) => {
                let n = body.len().checked_sub(16).ok_or(OpenError::Short)?;
                let aad = self.aad12(header, n);
                let (ct, tag) = body.split_at_mut(n);
                self.aead(&self.xor_nonce(), &aad, ct, tag)?;
                Ok((0..n, header[0]))
            }
            Engine::Aes128Cbc(c, h, mac) => self.open_cbc(&**c, *h, mac, header, body),
            Engine::Aes256Cbc(c, h, mac) => self.open_cbc(&**c, *h, mac, header, body),
        }
    }

    fn open_cbc<C: BlockCipherDecrypt<BlockSize = aes::cipher::consts::U16>>(
        &self,
        cipher: &C,
        h: HashAlg,
        mac_key: &[u8],
        header: &[u8; 5],
        body: &mut [u8],
    ) -> Result<(std::ops::Range<usize>, u8), OpenError> {
        let ml = h.output_len();
        if self.etm {
            // IV ‖ ciphertext ‖ MAC over seq ‖ header(type, version, length of IV ‖ ciphertext) ‖ IV ‖ ciphertext.
            let n = body.len().checked_sub(ml).ok_or(OpenError::Short)?;
            if n < 32 || n % 16 != 0 {
                return Err(OpenError::Short);
            }
            let want = hmac(h, mac_key, &[&self.aad12(header, n), &body[..n]]);
            if !ct_eq(&want, &body[n..]) {
                return Err(OpenError::BadTag);
            }
            cbc_decrypt(cipher, &mut body[..n]);
            let pad = usize::from(body[n - 1]);
            let end = (n - 1).checked_sub(pad).filter(|&e| e >= 16).ok_or(OpenError::BadTag)?;
            return Ok((16..end, header[0]));
        }
        let n = body.len();
        if n < 16 + 16 || n % 16 != 0 {
            return Err(OpenError::Short);
        }
        cbc_decrypt(cipher, body);
        let pad = usize::from(body[n - 1]);
        let content_end = (n - 1).checked_sub(pad).ok_or(OpenError::BadTag)?;
        if body[content_end..n - 1].iter().any(|&b| usize::from(b) != pad) {
            return Err(OpenError::BadTag);
        }
        let end = content_end.checked_sub(ml).filter(|&e| e >= 16).ok_or(OpenError::BadTag)?;
        let want = hmac(h, mac_key, &[&self.aad12(header, end - 16), &body[16..end]]);
        if !ct_eq(&want, &body[end..content_end]) {
            return Err(OpenError::BadTag);
        }
        Ok((16..end, header[0]))
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CBC-decrypt `buf` in place, treating its first block as the IV (it stays as it was).
fn cbc_decrypt<C: BlockCipherDecrypt<BlockSize = aes::cipher::consts::U16>>(cipher: &C, buf: &mut [u8]) {
    let ct = buf.to_vec();
    let (blocks, _) = Array::<u8, aes::cipher::consts::U16>::slice_as_chunks_mut(&mut buf[16..]);
    cipher.decrypt_blocks(blocks);
    for (i, b) in buf[16..].iter_mut().enumerate() {
        *b ^= ct[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::keylog::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(s.replace([' ', '\n'], "").as_bytes()).unwrap()
    }

    /// The widely published TLS 1.2 PRF (P_SHA256) test vector (IETF TLS list).
    #[test]
    fn prf_sha256_matches_the_published_vector() {
        let secret = h("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = h("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf(HashAlg::Sha256, &secret, b"test label", &seed, 100);
        let want = h("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a
             6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab
             4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01
             87 34 7b 66");
        assert_eq!(out, want);
    }

    /// The TLS 1.2 PRF with SHA-384 (same published set of vectors).
    #[test]
    fn prf_sha384_matches_the_published_vector() {
        let secret = h("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df");
        let seed = h("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65");
        let out = prf(HashAlg::Sha384, &secret, b"test label", &seed, 148);
        assert_eq!(
            &out[..32],
            &h("7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f d7 94 21 07 e8 1c 83 cd")[..]
        );
        assert_eq!(out.len(), 148);
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): server handshake traffic secret → key and IV,
    /// and the client application traffic secret → key and IV.
    #[test]
    fn hkdf_expand_label_gives_rfc8448_keys() {
        let shts = h("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        assert_eq!(
            expand_label(HashAlg::Sha256, &shts, "key", &[], 16),
            h("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(expand_label(HashAlg::Sha256, &shts, "iv", &[], 12), h("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
        let cats = h("9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5");
        let sats = h("a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43");
        assert_eq!(
            expand_label(HashAlg::Sha256, &sats, "key", &[], 16),
            h("9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56")
        );
        assert_eq!(expand_label(HashAlg::Sha256, &sats, "iv", &[], 12), h("cf 78 2b 88 dd 83 54 9a ad f1 e9 84"));
        assert_eq!(
            expand_label(HashAlg::Sha256, &cats, "key", &[], 16),
            h("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51")
        );
        assert_eq!(expand_label(HashAlg::Sha256, &cats, "iv", &[], 12), h("5b 78 92 3d ee 08 57 90 33 e5 23 d9"));
    }

    /// RFC 8448 §3: the server's first protected record (EncryptedExtensions … Finished)
    /// opens with the server handshake traffic keys and has inner content type 22.
    #[test]
    fn rfc8448_server_handshake_record_opens() {
        let shts = h("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        let suite = suite(0x1301).unwrap();
        let mut k = tls13_keys(suite, &shts).unwrap();
        let rec = h(RFC8448_SERVER_HS_RECORD);
        let header: [u8; 5] = rec[..5].try_into().unwrap();
        let mut body = rec[5..].to_vec();
        let (range, ty) = k.open(&header, &mut body).unwrap();
        assert_eq!(ty, 22);
        assert_eq!(&body[range.start..range.start + 4], &h("08 00 00 24")[..]);
        assert_eq!(range.len(), 657);
        assert_eq!(k.seq, 1);
    }

    #[test]
    fn a_wrong_key_is_a_bad_tag_and_the_sequence_does_not_move() {
        let suite = suite(0x1301).unwrap();
        let mut k = tls13_keys(suite, &[7u8; 32]).unwrap();
        let rec = h(RFC8448_SERVER_HS_RECORD);
        let header: [u8; 5] = rec[..5].try_into().unwrap();
        let mut body = rec[5..].to_vec();
        assert_eq!(k.open(&header, &mut body), Err(OpenError::BadTag));
        assert_eq!(k.open(&header, &mut [0u8; 3]), Err(OpenError::Short));
        assert_eq!(k.seq, 0);
    }

    /// A TLS 1.2 AES-128-CBC-SHA256 record, MAC-then-encrypt (no encrypt-then-MAC), built
    /// by hand from the key block: it opens to its content, and a flipped bit fails the MAC.
    #[test]
    fn tls12_cbc_mac_then_encrypt_record_opens_and_a_flipped_bit_is_a_bad_tag() {
        use aes::cipher::BlockCipherEncrypt;
        let suite = suite(0xC027).unwrap();
        let (master, cr, sr) = ([7u8; 48], [1u8; 32], [2u8; 32]);
        let kb = prf(HashAlg::Sha256, &master, b"key expansion", &[&sr[..], &cr[..]].concat(), 2 * (32 + 16));
        let (mac_key, key) = (&kb[..32], &kb[64..80]);
        let content = b"GET / HTTP/1.1\r\n\r\n";
        let mac = hmac(HashAlg::Sha256, mac_key, &[&0u64.to_be_bytes(), &[23, 3, 3, 0, content.len() as u8], content]);
        let mut pt = [&content[..], &mac].concat();
        let pad = 15 - pt.len() % 16;
        pt.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let enc = aes::Aes128Enc::new_from_slice(key).unwrap();
        let mut prev = [9u8; 16];
        let mut body = prev.to_vec();
        for block in pt.chunks(16) {
            let mut b = Array::<u8, aes::cipher::consts::U16>::default();
            for (i, x) in b.iter_mut().enumerate() {
                *x = block[i] ^ prev[i];
            }
            enc.encrypt_block(&mut b);
            prev.copy_from_slice(&b);
            body.extend_from_slice(&b);
        }
        let header = [23, 3, 3, (body.len() >> 8) as u8, body.len() as u8];
        let (mut c, _) = tls12_keys(suite, &master, &cr, &sr, false).unwrap();
        let mut open = body.clone();
        let (range, ty) = c.open(&header, &mut open).unwrap();
        assert_eq!((&open[range], ty), (&content[..], 23));
        let (mut c, _) = tls12_keys(suite, &master, &cr, &sr, false).unwrap();
        body[20] ^= 1;
        assert_eq!(c.open(&header, &mut body), Err(OpenError::BadTag));
    }

    /// RFC 8448 §3, "send a record" of the server's encrypted handshake flight (658 bytes).
    const RFC8448_SERVER_HS_RECORD: &str = "17 03 03 02 a2 d1 ff 33 4a 56 f5 bf
         f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a f3 5e df
         78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45
         cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3
         89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b
         d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9
         b1 18 3e f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf
         51 42 73 25 25 0c 7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d
         2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55
         cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f
         d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6
         86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8 94 41 ac
         66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea
         52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e
         a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6
         54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb
         31 7b 66 d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59
         62 22 45 31 7b 49 ee da 0c 62 58 f1 00 d7 d9 61 ff b1 38 64 7e
         92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af
         36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37
         8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c
         f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88
         2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80
         f8 5d f8 81 ed be 5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69
         18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13 af bb 99 2f 2b 99
         2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11
         c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51
         56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38 eb ba 42
         f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
         60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd
         d5 02 78 40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af
         93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da
         bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b";
}
