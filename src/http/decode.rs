//! Content decoding of message bodies: `gzip` (concatenated members too), `deflate` (zlib
//! wrapped or raw, both occur), `br`, `zstd`, and stacked codings (`gzip, br`) undone right
//! to left, streaming, with a cap on what is kept. Decoding goes on past the cap only to
//! count the full size, up to a hard limit, so a decompression bomb costs bounded memory
//! and bounded time.

use std::io::{BufRead, BufReader, Read};

/// Decoded bytes counted (not kept) beyond the cap before decoding gives up, whatever the
/// body's encoded size.
pub const COUNT_LIMIT: u64 = 1 << 30;

/// Decoding past the cap (only to count the size) also stops at this many times the
/// encoded size, or [`COUNT_FLOOR`] when that is more: real content rarely expands beyond
/// a few hundred times, a decompression bomb by millions.
pub const COUNT_RATIO: u64 = 1024;

/// Bytes a body may always be counted up to, however small its encoded form.
pub const COUNT_FLOOR: u64 = 8 << 20;

/// Decoded bytes a whole run may count past the caps (summed over every body); once spent,
/// bodies are still decoded up to the cap but their size is no longer counted beyond it.
pub const RUN_COUNT_BUDGET: u64 = 16 << 30;

/// What the run has spent of [`RUN_COUNT_BUDGET`].
static RUN_COUNTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How far past the cap a body of `wire_len` encoded bytes is counted.
#[must_use]
pub fn count_limit(wire_len: usize) -> u64 {
    (wire_len as u64).saturating_mul(COUNT_RATIO).clamp(COUNT_FLOOR, COUNT_LIMIT)
}

/// The result of decoding one body.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Decoded content, at most `cap` bytes.
    pub content: Vec<u8>,
    /// Decoded size counted (all of it unless `count_limited`).
    pub size: u64,
    /// `content` holds less than the whole decoded body (cap hit).
    pub truncated: bool,
    /// Decoding stopped counting (at [`count_limit`], or because the run's
    /// [`RUN_COUNT_BUDGET`] is spent); `size` is a lower bound.
    pub count_limited: bool,
    /// Why decoding failed part-way (corrupt or cut stream, unknown coding).
    pub error: Option<String>,
}

/// The codings named in a `Content-Encoding` value, lower-cased, `identity` dropped, in the
/// order they were applied.
#[must_use]
pub fn codings(header: &str) -> Vec<String> {
    header.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty() && c != "identity").collect()
}

/// True when every coding in `list` is one this module decodes.
#[must_use]
pub fn supported(list: &[String]) -> bool {
    list.iter().all(|c| matches!(c.as_str(), "gzip" | "x-gzip" | "deflate" | "br" | "zstd"))
}

/// Undo `codings` (in the order they were applied) on `wire`, keeping at most `cap` bytes.
#[must_use]
pub fn decode(codings: &[String], wire: &[u8], cap: usize) -> Decoded {
    if let Some(bad) = codings.iter().find(|c| !supported(std::slice::from_ref(c))) {
        return Decoded { error: Some(format!("unsupported content coding {bad:?}")), ..Decoded::default() };
    }
    let mut reader: Box<dyn Read + '_> = Box::new(wire);
    for c in codings.iter().rev() {
        reader = match layer(c, reader) {
            Ok(r) => r,
            Err(e) => return Decoded { error: Some(format!("{c}: {e}")), ..Decoded::default() },
        };
    }
    drain(reader, cap, count_limit(wire.len()))
}

/// Most a deflate stream expands its input (a 258-byte match per two-bit code, ≈ 1032×).
const DEFLATE_MAX_RATIO: u64 = 1032;

/// The decoded size of a body whose only coding is gzip, read from its trailer (`ISIZE`, as
/// `gzip -l` does) without decoding, for readers that keep no decoded byte (a cap of 0) and
/// only count sizes. `None` when the trailer cannot be trusted or decoding must decide: other
/// or stacked codings, not a gzip header, a stream too short to hold a trailer, one long
/// enough that its size could pass 4 GiB (`ISIZE` is the size modulo 2^32), or a size over
/// [`count_limit`] (decoding then counts up to the limit and says so). A stream of several
/// gzip members (rare in HTTP) is counted by its last member's trailer.
#[must_use]
pub fn trailer_size(codings: &[String], wire: &[u8]) -> Option<u64> {
    let [only] = codings else { return None };
    if !matches!(only.as_str(), "gzip" | "x-gzip") || wire.len() < 18 {
        return None;
    }
    // ID1 ID2 CM=8, reserved flag bits clear.
    if wire[..3] != [0x1f, 0x8b, 0x08] || wire[3] & 0xe0 != 0 {
        return None;
    }
    if (wire.len() as u64).saturating_mul(DEFLATE_MAX_RATIO) >= 1 << 32 {
        return None;
    }
    let tail: [u8; 4] = wire[wire.len() - 4..].try_into().ok()?;
    let size = u64::from(u32::from_le_bytes(tail));
    (size <= count_limit(wire.len())).then_some(size)
}

fn layer<'a>(coding: &str, inner: Box<dyn Read + 'a>) -> Result<Box<dyn Read + 'a>, String> {
    Ok(match coding {
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(inner)),
        "deflate" => {
            let mut buffered = BufReader::new(inner);
            let zlib = buffered.fill_buf().is_ok_and(looks_zlib);
            if zlib {
                Box::new(flate2::bufread::ZlibDecoder::new(buffered))
            } else {
                Box::new(flate2::bufread::DeflateDecoder::new(buffered))
            }
        }
        "br" => Box::new(brotli_decompressor::Decompressor::new(inner, 8192)),
        "zstd" => Box::new(ruzstd::decoding::StreamingDecoder::new(inner).map_err(|e| e.to_string())?),
        other => return Err(format!("unsupported content coding {other:?}")),
    })
}

/// A zlib header: CM = 8 (deflate), window ≤ 32 KiB, header checksum divisible by 31.
fn looks_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && b[0] >> 4 <= 7 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

thread_local! {
    /// The decoding buffer of this thread, kept between bodies: a fresh zeroed 64 KiB per
    /// body cost more than decoding a small one.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn drain(r: impl Read, cap: usize, limit: u64) -> Decoded {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scratch) => {
            if scratch.len() < SCRATCH_LEN {
                scratch.resize(SCRATCH_LEN, 0);
            }
            drain_with(r, cap, limit, &mut scratch)
        }
        // Only if a decoder were to decode inside a read: a buffer of its own.
        Err(_) => drain_with(r, cap, limit, &mut vec![0u8; SCRATCH_LEN]),
    })
}

const SCRATCH_LEN: usize = 64 * 1024;

fn drain_with(mut r: impl Read, cap: usize, limit: u64, scratch: &mut [u8]) -> Decoded {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = Decoded::default();
    loop {
        let n = match r.read(scratch) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        };
        let room = cap.saturating_sub(out.content.len());
        if room < n {
            out.truncated = true;
        }
        out.content.extend_from_slice(&scratch[..n.min(room)]);
        out.size += n as u64;
        let counted_only = (n - n.min(room)) as u64;
        let spent = if counted_only > 0 { RUN_COUNTED.fetch_add(counted_only, Relaxed) + counted_only } else { 0 };
        if out.size > limit || spent > RUN_COUNT_BUDGET {
            out.count_limited = true;
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A brotli stream made of one uncompressed meta-block (enough to test the plumbing
    /// without a brotli encoder).
    fn brotli_stored(data: &[u8]) -> Vec<u8> {
        assert!(!data.is_empty() && data.len() <= 65536);
        let mut bits: Vec<bool> = Vec::new();
        let put = |v: u32, n: u32, bits: &mut Vec<bool>| {
            for i in 0..n {
                bits.push(v >> i & 1 == 1);
            }
        };
        put(0, 1, &mut bits); // WBITS = 16
        put(0, 1, &mut bits); // ISLAST = 0
        put(0, 2, &mut bits); // MNIBBLES = 4
        put(data.len() as u32 - 1, 16, &mut bits); // MLEN - 1
        put(1, 1, &mut bits); // ISUNCOMPRESSED
        let mut out = pack(&bits);
        out.extend_from_slice(data);
        out.push(0b11); // ISLAST = 1, ISLASTEMPTY = 1
        out
    }

    fn pack(bits: &[bool]) -> Vec<u8> {
        bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |a, (i, &b)| a | (u8::from(b) << i))).collect()
    }

    fn list(s: &str) -> Vec<String> {
        codings(s)
    }

    #[test]
    fn a_decompression_bomb_is_counted_only_up_to_its_ratio_limit() {
        // 10 MiB of zeros gzipped twice is well under a kilobyte on the wire.
        let mut inner = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..10 {
            inner.write_all(&zeros).unwrap();
        }
        let wire = gz(&inner.finish().unwrap());
        assert!(wire.len() < 8192, "{}", wire.len());
        let d = decode(&list("gzip, gzip"), &wire, 1000);
        assert!(d.count_limited);
        assert_eq!(d.content.len(), 1000);
        assert!(d.truncated);
        assert!(d.size > COUNT_FLOOR && d.size <= COUNT_FLOOR + 64 * 1024, "{}", d.size);
        // A body that expands less than the ratio is counted whole.
        let ok = gz(&vec![b'a'; 100_000]);
        let d = decode(&list("gzip"), &ok, 10);
        assert!(!d.count_limited);
        assert_eq!(d.size, 100_000);
    }

    #[test]
    fn a_gzip_trailer_gives_the_decoded_size_without_decoding() {
        for n in [0usize, 1, 1000, 300_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let wire = gz(&data);
            assert_eq!(trailer_size(&list("gzip"), &wire), Some(n as u64));
            assert_eq!(trailer_size(&list("x-gzip"), &wire), Some(n as u64));
            assert_eq!(decode(&list("gzip"), &wire, 0).size, n as u64);
        }
    }

    #[test]
    fn a_gzip_trailer_is_not_trusted_where_decoding_must_decide() {
        let wire = gz(b"hello world");
        assert_eq!(trailer_size(&list("deflate"), &wire), None, "other coding");
        assert_eq!(trailer_size(&list("gzip, gzip"), &wire), None, "stacked codings");
        assert_eq!(trailer_size(&list("gzip"), &wire[..17]), None, "too short for a trailer");
        let mut bad = wire.clone();
        bad[0] = 0x1e;
        assert_eq!(trailer_size(&list("gzip"), &bad), None, "not a gzip header");
        let mut flags = wire.clone();
        flags[3] |= 0x80;
        assert_eq!(trailer_size(&list("gzip"), &flags), None, "reserved flags set");
        // A trailer claiming more than the ratio limit allows goes to the decoder.
        let mut bomb = wire;
        let at = bomb.len() - 4;
        bomb[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(trailer_size(&list("gzip"), &bomb), None, "size over the count limit");
        // Long enough that the true size could pass 4 GiB: decode.
        let long = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0];
        let mut long = [long, vec![0; 5 << 20]].concat();
        let at = long.len() - 4;
        long[at..].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(trailer_size(&list("gzip"), &long), None);
    }

    #[test]
    fn gzip_including_concatenated_members() {
        let mut wire = gz(b"hello ");
        wire.extend(gz(b"world"));
        let d = decode(&list("gzip"), &wire, 1 << 20);
        assert_eq!(d.content, b"hello world");
        assert_eq!(d.size, 11);
        assert_eq!(d.error, None);
    }

    #[test]
    fn deflate_zlib_wrapped_and_raw() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zlib body").unwrap();
        assert_eq!(decode(&list("deflate"), &z.finish().unwrap(), 100).content, b"zlib body");
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(b"raw body").unwrap();
        assert_eq!(decode(&list("deflate"), &r.finish().unwrap(), 100).content, b"raw body");
    }

    #[test]
    fn brotli_and_zstd() {
        assert_eq!(decode(&list("br"), &brotli_stored(b"brotli!"), 100).content, b"brotli!");
        let z =
            ruzstd::encoding::compress_to_vec(&b"zstd body zstd body"[..], ruzstd::encoding::CompressionLevel::Fastest);
        assert_eq!(decode(&list("zstd"), &z, 100).content, b"zstd body zstd body");
    }

    #[test]
    fn stacked_codings_are_undone_right_to_left() {
        // Content-Encoding: gzip, br  → gzip applied first, then br.
        let wire = brotli_stored(&gz(b"stacked"));
        let d = decode(&list("gzip, br"), &wire, 100);
        assert_eq!(d.content, b"stacked");
        assert_eq!(d.error, None);
    }

    #[test]
    fn bomb_is_capped_but_counted() {
        let big = vec![b'a'; 10_000_000];
        let wire = gz(&big);
        assert!(wire.len() < 100_000);
        let d = decode(&list("gzip"), &wire, 1000);
        assert_eq!(d.content.len(), 1000);
        assert!(d.truncated);
        assert_eq!(d.size, 10_000_000);
    }

    #[test]
    fn cut_stream_keeps_prefix_and_reports() {
        let body: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let wire = gz(&body);
        let d = decode(&list("gzip"), &wire[..wire.len() / 2], usize::MAX);
        assert!(d.error.is_some());
        assert!(!d.content.is_empty());
        assert_eq!(d.content[..], body[..d.content.len()]);
    }

    #[test]
    fn unknown_coding_is_an_error_not_a_panic() {
        let d = decode(&list("compress"), b"xyz", 10);
        assert!(d.error.unwrap().contains("compress"));
        assert_eq!(list("identity, gzip"), vec!["gzip".to_string()]);
    }
}
