//! A structural scanner for the JSON readers: finds the elements of the array at a
//! [`Route`] in a big document without parsing them, so that the serial stage of a pipelined
//! walk ([`super::walk::walk_convert`]) is a fraction of a `serde_json` walk. Elements are
//! skipped 64 bytes at a time as in simdjson's stage 1: vector compares give bit masks of
//! quotes, backslashes and brackets, escaped quotes are removed by the odd-backslash-run rule
//! and a prefix XOR of the quotes gives the inside of strings, so only brackets outside strings
//! are visited one by one (`safe_arch` SSE2 compares on x86-64, a plain loop elsewhere; no
//! `unsafe` here).
//!
//! It vouches only for what it checks. The skeleton around the array (keys, separators,
//! whitespace, the end of the document) is checked exactly, the other values of the skeleton
//! are validated with `serde_json`, but elements are not: the caller must have each element
//! parsed by `serde_json` before trusting it (the readers parse every element anyway). Anything
//! unusual — an element that is not an object, nesting deeper than [`MAX_DEPTH`], a key with an
//! escape, a syntax error, truncation — ends the scan with [`ScanEnd::Unsure`], after which the
//! caller walks the document exactly with `serde_json` from that element on. Never panics.

use serde::de::IgnoredAny;

use super::Route;

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// The whole document was scanned; `found` tells whether the array was there.
    Done {
        /// The array at the route was found.
        found: bool,
    },
    /// The callback asked to stop.
    Stopped,
    /// Something the scanner does not vouch for: the element with this index (and every one
    /// after it) must be found by an exact walk.
    Unsure(usize),
}

/// Deepest nesting of an element (counted from the element itself) that the scanner hands
/// out; `serde_json` refuses 128 levels counted from the document root, so deeper elements
/// are left to the exact walk, which reports them exactly as before.
pub const MAX_DEPTH: usize = 100;

/// Find the elements of the array at `route` in `data`. `f` gets each element's index and
/// byte range (start at its `{`, end just after its `}`), and returns `false` to stop.
pub fn scan<F>(data: &[u8], route: Route, f: F) -> ScanEnd
where
    F: FnMut(usize, usize, usize) -> bool,
{
    let mut s = Scanner { data, pos: 0, elements: 0, found: false, f };
    match s.document(route) {
        Ok(()) => ScanEnd::Done { found: s.found },
        Err(Halt::Stop) => ScanEnd::Stopped,
        Err(Halt::Unsure) => ScanEnd::Unsure(s.elements),
    }
}

enum Halt {
    Stop,
    Unsure,
}

type Step = Result<(), Halt>;

/// Where in the skeleton an object is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Log,
}

struct Scanner<'d, F> {
    data: &'d [u8],
    pos: usize,
    elements: usize,
    found: bool,
    f: F,
}

impl<'d, F: FnMut(usize, usize, usize) -> bool> Scanner<'d, F> {
    fn document(&mut self, route: Route) -> Step {
        self.ws();
        match route {
            Route::TopArray => {
                self.found = true;
                self.array()?;
            }
            Route::HarEntries => self.object(Level::Root)?,
        }
        self.ws();
        if self.pos == self.data.len() { Ok(()) } else { Err(Halt::Unsure) }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skip JSON whitespace (exactly the four bytes JSON allows).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Step {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Halt::Unsure)
        }
    }

    /// An object of the skeleton: descends into `log` (at the root) and `entries` (in `log`)
    /// while the array has not been found, as the exact walk does; other values are skipped
    /// and validated.
    fn object(&mut self, level: Level) -> Step {
        if self.opens_empty(b'{', b'}')? {
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.ws();
            self.expect(b':')?;
            self.ws();
            match (level, key) {
                (Level::Root, b"log") if !self.found => self.object(Level::Log)?,
                (Level::Log, b"entries") if !self.found => {
                    self.found = true;
                    self.array()?;
                }
                _ => self.skip_validated()?,
            }
            if !self.separator(b'}')? {
                return Ok(());
            }
        }
    }

    /// The opening bracket `open` (required) and white space; true when `close` follows at
    /// once (the empty container, consumed).
    fn opens_empty(&mut self, open: u8, close: u8) -> Result<bool, Halt> {
        self.expect(open)?;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// After a member or element: `,` (true = the container goes on, white space after it
    /// skipped) or `close` (false, consumed); anything else is not for the scanner to judge.
    fn separator(&mut self, close: u8) -> Result<bool, Halt> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.ws();
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Halt::Unsure),
        }
    }

    /// A key without escapes or control characters, valid UTF-8; its bytes.
    fn key(&mut self) -> Result<&'d [u8], Halt> {
        self.expect(b'"')?;
        let (data, start) = (self.data, self.pos);
        let len = memchr::memchr2(b'"', b'\\', &data[start..]).ok_or(Halt::Unsure)?;
        let key = &data[start..start + len];
        if data[start + len] != b'"' || key.iter().any(|&c| c < 0x20) || std::str::from_utf8(key).is_err() {
            return Err(Halt::Unsure);
        }
        self.pos = start + len + 1;
        Ok(key)
    }

    /// A value of the skeleton that is not on the route: skipped, then validated with
    /// `serde_json` (which, like the exact walk ignoring it, does not check its UTF-8).
    fn skip_validated(&mut self) -> Step {
        let start = self.pos;
        match self.peek() {
            Some(b'{' | b'[') => self.nested()?,
            Some(b'"') => {
                self.pos += 1;
                self.string_end()?;
            }
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
            }
        }
        if serde_json::from_slice::<IgnoredAny>(&self.data[start..self.pos]).is_err() {
            return Err(Halt::Unsure);
        }
        Ok(())
    }

    /// The array on the route; each element must be an object.
    fn array(&mut self) -> Step {
        if self.opens_empty(b'[', b']')? {
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'{') {
                return Err(Halt::Unsure);
            }
            let start = self.pos;
            self.nested()?;
            let i = self.elements;
            if !(self.f)(i, start, self.pos) {
                return Err(Halt::Stop);
            }
            self.elements += 1;
            if !self.separator(b']')? {
                return Ok(());
            }
        }
    }

    /// Skip an object or array starting at `pos` (brackets are only counted, not matched:
    /// whoever parses the element finds a mismatch). Works on 64-byte blocks as simdjson's
    /// stage 1 does: bit masks of quotes, backslashes and brackets, escaped quotes removed by
    /// the odd-backslash-run rule, the inside of strings by a prefix XOR of the quotes, so the
    /// only per-byte work is four vector compares.
    fn nested(&mut self) -> Step {
        let data = self.data;
        let mut depth = 0usize;
        let mut in_string = 0u64;
        let mut escaped_next = 0u64;
        let mut at = self.pos;
        let mut tail = [0u8; 64];
        while at < data.len() {
            let block: &[u8; 64] = match data.get(at..at + 64).and_then(|b| b.try_into().ok()) {
                Some(b) => b,
                None => {
                    tail[..data.len() - at].copy_from_slice(&data[at..]);
                    &tail
                }
            };
            let [quote, backslash, open, close] = block_masks(block);
            let escaped;
            (escaped, escaped_next) = escapes(backslash, escaped_next);
            let inside = prefix_xor(quote & !escaped) ^ in_string;
            in_string = 0u64.wrapping_sub(inside >> 63);
            let mut brackets = (open | close) & !(inside | escaped);
            while brackets != 0 {
                let k = brackets.trailing_zeros();
                brackets &= brackets - 1;
                if open >> k & 1 == 1 {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Halt::Unsure);
                    }
                } else {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.pos = at + k as usize + 1;
                        return Ok(());
                    }
                }
            }
            at += 64;
        }
        Err(Halt::Unsure)
    }

    /// From inside a string to just after its closing quote.
    fn string_end(&mut self) -> Step {
        let data = self.data;
        let mut from = self.pos;
        loop {
            let q = from + memchr::memchr(b'"', &data[from..]).ok_or(Halt::Unsure)?;
            let backslashes = data[self.pos..q].iter().rev().take_while(|&&c| c == b'\\').count();
            if backslashes % 2 == 0 {
                self.pos = q + 1;
                return Ok(());
            }
            from = q + 1;
        }
    }
}

/// Bits of the characters after an odd run of backslashes (simdjson's escape scanner), and
/// whether the first character of the next block is one. `carry` says that the first
/// character of this block is escaped.
fn escapes(backslash: u64, carry: u64) -> (u64, u64) {
    const ODD: u64 = 0xAAAA_AAAA_AAAA_AAAA;
    if backslash == 0 {
        return (carry, 0);
    }
    let potential = backslash & !carry;
    let codes = ((potential << 1) | ODD).wrapping_sub(potential) ^ ODD;
    let escaped = codes ^ (backslash | carry);
    let escape = codes & backslash;
    (escaped, escape >> 63)
}

/// Bit i set when an odd number of bits up to and including i are set.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Masks of one block (bit i = byte i): `"`, `\`, `{` or `[`, `}` or `]`.
#[cfg(target_arch = "x86_64")]
fn block_masks(block: &[u8; 64]) -> [u64; 4] {
    use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    #[allow(clippy::cast_possible_wrap)]
    fn splat(c: u8) -> m128i {
        set_splat_i8_m128i(c as i8)
    }
    fn bits(v: m128i) -> u64 {
        // 16 lanes: the mask fits in the low 16 bits
        u64::from(move_mask_i8_m128i(v) as u16)
    }
    let mut out = [0u64; 4];
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(lane);
        let v = m128i::from(bytes);
        // `{`/`[` and `}`/`]` differ only in bit 5
        let folded = bitor_m128i(v, splat(0x20));
        let shift = 16 * k;
        out[0] |= bits(cmp_eq_mask_i8_m128i(v, splat(b'"'))) << shift;
        out[1] |= bits(cmp_eq_mask_i8_m128i(v, splat(b'\\'))) << shift;
        out[2] |= bits(cmp_eq_mask_i8_m128i(folded, splat(b'{'))) << shift;
        out[3] |= bits(cmp_eq_mask_i8_m128i(folded, splat(b'}'))) << shift;
    }
    out
}

/// Masks of one block (bit i = byte i): `"`, `\`, `{` or `[`, `}` or `]`.
#[cfg(not(target_arch = "x86_64"))]
fn block_masks(block: &[u8; 64]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, &c) in block.iter().enumerate() {
        out[0] |= u64::from(c == b'"') << i;
        out[1] |= u64::from(c == b'\\') << i;
        out[2] |= u64::from(c | 0x20 == b'{') << i;
        out[3] |= u64::from(c | 0x20 == b'}') << i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::json::walk::{Walk, offset_in, walk};
    use proptest::prelude::*;

    fn spans(doc: &[u8], route: Route) -> (Vec<(usize, usize)>, ScanEnd) {
        let mut v = Vec::new();
        let end = scan(doc, route, |i, s, e| {
            assert_eq!(i, v.len());
            v.push((s, e));
            true
        });
        (v, end)
    }

    fn exact(doc: &[u8], route: Route) -> (Vec<(usize, usize)>, Walk) {
        let mut v = Vec::new();
        let w = walk(doc, route, |_, raw| {
            let s = offset_in(doc, raw);
            v.push((s, s + raw.len()));
            true
        });
        (v, w)
    }

    /// The agreement the pipelined walk relies on: every element the scanner hands out and
    /// `serde_json` accepts on its own is the element the exact walk finds at that index, and
    /// a scan that ends `Done` found exactly the elements of an exact walk without error.
    fn agrees(doc: &[u8], route: Route) {
        let (fast, end) = spans(doc, route);
        let (slow, w) = exact(doc, route);
        let trusted = fast
            .iter()
            .take_while(|&&(s, e)| {
                std::str::from_utf8(&doc[s..e]).is_ok_and(|t| serde_json::from_str::<IgnoredAny>(t).is_ok())
            })
            .count();
        assert!(trusted <= slow.len(), "{trusted} trusted, {} exact", slow.len());
        assert_eq!(fast[..trusted], slow[..trusted]);
        if let ScanEnd::Done { found } = end
            && trusted == fast.len()
        {
            assert_eq!(fast, slow);
            assert!(w.error.is_none(), "{:?}", w.error);
            assert_eq!(found, w.found);
        }
        if let ScanEnd::Unsure(k) = end {
            assert_eq!(k, fast.len());
        }
    }

    #[test]
    fn scanning_a_plain_har_finds_the_same_entries_as_serde_json() {
        let doc = br#"{"log": {"version": "1.2", "creator": {"name": "x\"}"}, "entries": [
            {"a": "b\\", "c": [1, {"d": "}]"}]},
            {"e": "\\\"]"} ],
          "pages": []}, "other": null}"#;
        let (fast, end) = spans(doc, Route::HarEntries);
        assert_eq!(end, ScanEnd::Done { found: true });
        assert_eq!(fast, exact(doc, Route::HarEntries).0);
        assert_eq!(fast.len(), 2);
        let (fast, end) = spans(b" [ {}, {\"a\":1} ] ", Route::TopArray);
        assert_eq!((fast.len(), end), (2, ScanEnd::Done { found: true }));
        assert_eq!(spans(br#"{"log": {"pages": []}}"#, Route::HarEntries).1, ScanEnd::Done { found: false });
    }

    #[test]
    fn anything_unusual_leaves_the_rest_to_the_exact_walk() {
        for (doc, unsure_at) in [
            (&br#"{"log": {"entries": [{}, 5, {}]}}"#[..], 1),
            (br#"{"log": {"entries": [{}, {"a": "#, 1),
            (br#"{"log": {"entries": [{} {}]}}"#, 1),
            (br#"{"log": {"entries": [{},]}}"#, 1),
            (br#"{"log": {"en\u0074ries": [{}]}}"#, 0),
            (br#"{"log": {"version": tru, "entries": [{}]}}"#, 0),
            (br#"{"log": {"entries": [{}]}} x"#, 1),
            (br#"{"log": 5}"#, 0),
        ] {
            assert_eq!(spans(doc, Route::HarEntries).1, ScanEnd::Unsure(unsure_at), "{}", String::from_utf8_lossy(doc));
            agrees(doc, Route::HarEntries);
        }
        let deep =
            format!("{{\"log\":{{\"entries\":[{{\"a\":{}{}}}]}}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(spans(deep.as_bytes(), Route::HarEntries).1, ScanEnd::Unsure(0));
    }

    fn har_like() -> impl Strategy<Value = Vec<u8>> {
        let scalar = prop_oneof![
            Just("1".to_string()),
            Just("-2.5e3".to_string()),
            Just("null".to_string()),
            Just("true".to_string()),
            "[a-z\"\\\\{}\\[\\] ,:é\\n]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        let value = scalar.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-z_\"\\\\]{0,4}", inner), 0..4).prop_map(|v| {
                    let kv: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("{}: {v}", serde_json::to_string(&k).unwrap_or_default()))
                        .collect();
                    format!("{{{}}}", kv.join(", "))
                }),
            ]
        });
        (prop::collection::vec(value, 0..6), any::<bool>()).prop_map(|(entries, pretty)| {
            let sep = if pretty { ",\n  " } else { "," };
            format!("{{\"log\": {{\"version\": \"1.2\", \"entries\": [{}]}}}}", entries.join(sep)).into_bytes()
        })
    }

    /// Byte-at-a-time reference for [`Scanner::nested`]: the end of the object or array at 0.
    /// (A backslash escapes the next byte even outside strings, where JSON allows none, as in
    /// simdjson: the element is invalid then, and `serde_json` says so.)
    fn nested_bytewise(data: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &c) in data.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            if c == b'\\' {
                escaped = true;
                continue;
            }
            if in_string {
                in_string = c != b'"';
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn nested_blockwise(data: &[u8]) -> Option<usize> {
        let mut s = Scanner { data, pos: 0, elements: 0, found: false, f: |_, _, _| true };
        s.nested().ok().map(|()| s.pos)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn skipping_by_blocks_ends_where_skipping_byte_by_byte_ends(
            body in prop::collection::vec(prop::sample::select(b"ab\\\"{}[] ".to_vec()), 0..400),
            open in prop::sample::select(b"{[".to_vec()),
        ) {
            let mut doc = vec![open];
            doc.extend_from_slice(&body);
            prop_assert_eq!(nested_blockwise(&doc), nested_bytewise(&doc));
        }

        #[test]
        fn the_scanner_agrees_with_serde_json_on_entry_boundaries(
            doc in har_like(),
            cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..3),
        ) {
            agrees(&doc, Route::HarEntries);
            // mutate: replace, insert or delete bytes, or truncate
            let mut m = doc.clone();
            for (at, byte, how) in cuts {
                if m.is_empty() { break; }
                let i = at.index(m.len());
                let b = [b'"', b'\\', b'{', b'}', b'[', b']', b',', byte][usize::from(byte % 8)];
                match how {
                    0 => m[i] = b,
                    1 => m.insert(i, b),
                    2 => { m.remove(i); }
                    _ => m.truncate(i),
                }
            }
            agrees(&m, Route::HarEntries);
            agrees(&m, Route::TopArray);
        }

        #[test]
        fn the_scanner_never_panics_on_random_bytes(doc in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = spans(&doc, Route::HarEntries);
            let _ = spans(&doc, Route::TopArray);
        }
    }
}
