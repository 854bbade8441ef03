//! HPACK header block decoding (RFC 7541) for passive reading: one [`Decoder`] per
//! direction of a connection, fed every header block of that direction in order. The
//! decoding itself is `loona-hpack`'s; this wrapper bounds what a block may cost (the
//! dynamic table's size and the decoded header bytes kept) and gives typed errors.

use thiserror::Error;

/// Largest dynamic table a peer may ask for, whatever its SETTINGS say (bytes).
pub const MAX_TABLE: usize = 1 << 20;

/// Decoded header bytes (names plus values) kept per block; the rest is decoded (so the
/// dynamic table stays right) and dropped.
pub const MAX_DECODED: usize = 1 << 20;

/// Why a header block could not be decoded. The decoder's table is then unreliable: every
/// later block of the direction is suspect (an "HPACK desync").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("HPACK decoding failed: {0}")]
pub struct HpackError(pub String);

/// One decoded header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    /// Header fields in order (bytes that are not UTF-8 replaced with U+FFFD).
    pub fields: Vec<(String, String)>,
    /// Fields dropped after [`MAX_DECODED`] bytes.
    pub dropped: usize,
}

/// The HPACK decoding state of one direction.
pub struct Decoder {
    inner: loona_hpack::Decoder<'static>,
    allowed: usize,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("allowed", &self.allowed).finish_non_exhaustive()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default 4096-byte table.
    #[must_use]
    pub fn new() -> Self {
        let mut inner = loona_hpack::Decoder::new();
        inner.set_max_allowed_table_size(4096);
        Self { inner, allowed: 4096 }
    }

    /// The peer decoding this direction announced SETTINGS_HEADER_TABLE_SIZE `size`: table
    /// size updates up to it (and up to [`MAX_TABLE`]) are accepted from now on. The bound
    /// only grows, as an encoder may still use the larger table until the peer's SETTINGS
    /// are acknowledged.
    pub fn allow_table(&mut self, size: u32) {
        let size = usize::try_from(size).unwrap_or(MAX_TABLE).min(MAX_TABLE);
        if size > self.allowed {
            self.allowed = size;
            self.inner.set_max_allowed_table_size(size);
        }
    }

    /// Decode one whole header block (HEADERS or PUSH_PROMISE fragment plus CONTINUATIONs).
    ///
    /// # Errors
    /// When the block is not valid HPACK for this decoder's table.
    pub fn decode(&mut self, block: &[u8]) -> Result<Block, HpackError> {
        let mut out = Block::default();
        let mut kept = 0usize;
        self.inner
            .decode_with_cb(block, |name, value| {
                if kept + name.len() + value.len() > MAX_DECODED {
                    out.dropped += 1;
                    return;
                }
                kept += name.len() + value.len();
                out.fields.push((lossy(&name), lossy(&value)));
            })
            .map_err(|e| HpackError(e.to_string()))?;
        Ok(out)
    }
}

fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn pairs(b: &Block) -> Vec<(&str, &str)> {
        b.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    /// RFC 7541 C.3 (requests without Huffman) and C.4 (the same with Huffman): three
    /// requests on one connection, the dynamic table carried from one to the next.
    #[test]
    fn rfc7541_c3_and_c4_request_sequences_decode() {
        let plain = [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ];
        let huff = [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ];
        for blocks in [plain, huff] {
            let mut d = Decoder::new();
            let a = d.decode(&hex(blocks[0])).unwrap();
            assert_eq!(
                pairs(&a),
                [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
            );
            let b = d.decode(&hex(blocks[1])).unwrap();
            assert_eq!(
                pairs(&b),
                [
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", "www.example.com"),
                    ("cache-control", "no-cache")
                ]
            );
            let c = d.decode(&hex(blocks[2])).unwrap();
            assert_eq!(
                pairs(&c),
                [
                    (":method", "GET"),
                    (":scheme", "https"),
                    (":path", "/index.html"),
                    (":authority", "www.example.com"),
                    ("custom-key", "custom-value")
                ]
            );
        }
    }

    /// RFC 7541 C.5 and C.6: responses with a 256-byte table, so entries are evicted.
    #[test]
    fn rfc7541_c5_and_c6_responses_with_eviction_decode() {
        let plain = [
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
        ];
        let huff = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ];
        for blocks in [plain, huff] {
            let mut d = Decoder::new();
            d.inner.set_max_table_size(256);
            let a = d.decode(&hex(blocks[0])).unwrap();
            assert_eq!(a.fields[0], (":status".into(), "302".into()));
            assert_eq!(a.fields[3], ("location".into(), "https://www.example.com".into()));
            let b = d.decode(&hex(blocks[1])).unwrap();
            assert_eq!(
                pairs(&b),
                [
                    (":status", "307"),
                    ("cache-control", "private"),
                    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                    ("location", "https://www.example.com")
                ]
            );
            let c = d.decode(&hex(blocks[2])).unwrap();
            assert_eq!(
                pairs(&c),
                [
                    (":status", "200"),
                    ("cache-control", "private"),
                    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                    ("location", "https://www.example.com"),
                    ("content-encoding", "gzip"),
                    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
                ]
            );
        }
    }

    #[test]
    fn a_block_that_refers_past_the_table_is_an_error_not_a_panic() {
        let mut d = Decoder::new();
        // Indexed field 70: nothing in the dynamic table yet.
        assert!(d.decode(&[0x80 | 70]).is_err());
        // A truncated literal.
        assert!(d.decode(&[0x40, 0x0a, b'a']).is_err());
    }

    #[test]
    fn table_size_updates_are_bounded_by_settings() {
        let mut d = Decoder::new();
        // Size update to 8192 (0x3f e1 3f): refused until allowed.
        assert!(d.decode(&[0x3f, 0xe1, 0x3f, 0x82]).is_err());
        let mut d = Decoder::new();
        d.allow_table(8192);
        assert_eq!(pairs(&d.decode(&[0x3f, 0xe1, 0x3f, 0x82]).unwrap()), [(":method", "GET")]);
    }

    #[test]
    fn decoded_bytes_beyond_the_cap_are_counted_not_kept() {
        let mut d = Decoder::new();
        d.allow_table(1 << 20);
        // A literal with incremental indexing of a 4000-byte value, then 300 references to it.
        let mut block = vec![0x40, 0x01, b'x', 0x7f];
        let mut n = 4000 - 127;
        while n >= 128 {
            block.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        block.push(n as u8);
        block.extend(std::iter::repeat_n(b'v', 4000));
        block.extend(std::iter::repeat_n(0x80 | 62, 300));
        let b = d.decode(&block).unwrap();
        assert_eq!(b.fields.len() + b.dropped, 301);
        assert!(b.dropped > 0);
        assert!(b.fields.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>() <= MAX_DECODED);
    }
}
