//! Field conversions shared by the session-file readers (HAR, Charles, mitmproxy): RFC 3339
//! timestamps with offsets onto the capture clock, millisecond durations, URL splitting,
//! ports, IP addresses, lenient base64 bodies and the body cap.

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine as _;

use crate::model::Nanos;

// ---------------------------------------------------------------------------------------
// Times, URLs, addresses, bodies
// ---------------------------------------------------------------------------------------

/// Longest duration accepted from a file (about 104 days); longer values are clamped so
/// that sums and differences of capture-clock times can never overflow.
const MAX_DURATION_NS: f64 = (1u64 << 53) as f64;

/// Milliseconds (float) to nanoseconds, rounded, clamped to ±[`MAX_DURATION_NS`].
pub fn ms_to_ns(ms: f64) -> i64 {
    let ns = (ms * 1_000_000.0).round();
    if ns.is_nan() { 0 } else { ns.clamp(-MAX_DURATION_NS, MAX_DURATION_NS) as i64 }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parse an RFC 3339 / ISO 8601 timestamp (`2023-07-25T10:42:01.726810+00:00`,
/// `…Z`, `…-07:00`, `…+0800`, 0–9+ fraction digits, a space instead of `T`; no zone means
/// UTC) to nanoseconds since the Unix epoch. Years outside 1950–2200 are refused, which
/// keeps every difference of two timestamps inside `i64`.
pub fn parse_datetime(s: &str) -> Option<Nanos> {
    let b = s.trim().as_bytes();
    let year = i64::from(digits(b, 0, 4)?);
    if !(1950..=2200).contains(&year) {
        return None;
    }
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut i = 10;
    let mut nanos = 0i64;
    if matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        let hh = digits(b, i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        let mm = digits(b, i + 4, 2)?;
        i += 6;
        let mut ss = 0;
        if b.get(i) == Some(&b':') {
            ss = digits(b, i + 1, 2)?;
            i += 3;
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs += i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss);
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            let mut scale = 100_000_000i64;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nanos += i64::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') => digits(b, i + 4, 2)?,
                Some(_) => digits(b, i + 3, 2)?,
                None => 0,
            };
            let off = i64::from(oh) * 3600 + i64::from(om) * 60;
            secs -= if sign == b'+' { off } else { -off };
        }
        Some(_) => return None,
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// An absolute or relative URL split into scheme, authority (userinfo removed) and the
/// target (path and query, `/` when the path is empty; the fragment dropped).
pub fn split_url(url: &str) -> (Option<&str>, Option<&str>, String) {
    let url = url.trim();
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    if let Some((scheme, rest)) = url.split_once("://")
        && !scheme.is_empty()
        && scheme.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let tail = &rest[end..];
        let target = if tail.starts_with('/') { tail.to_string() } else { format!("/{tail}") };
        return (Some(scheme), (!authority.is_empty()).then_some(authority), target);
    }
    (None, None, url.to_string())
}

/// The port of an authority (`host:443`, `[::1]:8080`), else the scheme's default.
pub fn port_of(authority: Option<&str>, scheme: Option<&str>) -> Option<u16> {
    if let Some(a) = authority {
        let hostport = a.rsplit_once(']').map_or(a, |(_, p)| p);
        if let Some((_, p)) = hostport.rsplit_once(':')
            && let Ok(p) = p.parse::<u16>()
        {
            return Some(p);
        }
    }
    match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("http" | "ws") => Some(80),
        Some("https" | "wss") => Some(443),
        _ => None,
    }
}

/// An IP address written plainly, in brackets, or with a port (`1.2.3.4:80`, `[::1]:80`).
pub fn parse_ip(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    let t = s.trim_start_matches('[').trim_end_matches(']');
    t.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

/// Decode base64 leniently (standard or URL alphabet, padding optional, whitespace ignored).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    const CFG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CFG);
    const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CFG);
    let cleaned: Cow<'_, str> = if s.bytes().any(|c| c.is_ascii_whitespace()) {
        Cow::Owned(s.chars().filter(|c| !c.is_ascii_whitespace()).collect())
    } else {
        Cow::Borrowed(s)
    };
    STD.decode(cleaned.as_bytes())
        .or_else(|_| URL.decode(cleaned.as_bytes()))
        .map_err(|e| format!("invalid base64: {e}"))
}

/// Cut `content` to `cap` bytes; returns true when something was cut.
pub fn cap_body(content: &mut Vec<u8>, cap: usize) -> bool {
    if content.len() > cap {
        content.truncate(cap);
        content.shrink_to_fit();
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_with_offsets_and_fraction_digits_parse() {
        let z = parse_datetime("2023-07-25T10:42:01Z").unwrap();
        assert_eq!(z, 1_690_281_721_000_000_000);
        assert_eq!(parse_datetime("2023-07-25T10:42:01.726810+00:00").unwrap(), z + 726_810_000);
        assert_eq!(parse_datetime("2023-07-25T03:42:01-07:00").unwrap(), z);
        assert_eq!(parse_datetime("2023-07-25T18:42:01.5+0800").unwrap(), z + 500_000_000);
        assert_eq!(parse_datetime("2023-07-25T10:42:01.123456789Z").unwrap(), z + 123_456_789);
        assert_eq!(parse_datetime("2023-07-25 10:42:01").unwrap(), z);
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        assert_eq!(parse_datetime("1600-01-01T00:00:00Z"), None);
        assert_eq!(ms_to_ns(1e300), 1 << 53);
        assert_eq!(ms_to_ns(f64::NAN), 0);
        for bad in ["", "2023", "2023-13-01T00:00:00Z", "2023-07-25T10:42:01.Z", "garbage", "2023-07-25T10:42:01Zx"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_split_into_scheme_authority_target() {
        assert_eq!(
            split_url("https://u:p@h.example:8443/a/b?c=1#f"),
            (Some("https"), Some("h.example:8443"), "/a/b?c=1".into())
        );
        assert_eq!(split_url("http://h.example"), (Some("http"), Some("h.example"), "/".into()));
        assert_eq!(split_url("http://h.example?x"), (Some("http"), Some("h.example"), "/?x".into()));
        assert_eq!(split_url("/only/path"), (None, None, "/only/path".into()));
        assert_eq!(port_of(Some("[::1]:8080"), Some("http")), Some(8080));
        assert_eq!(port_of(Some("[::1]"), Some("https")), Some(443));
    }

    #[test]
    fn base64_is_decoded_leniently() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8").unwrap(), b"hello");
        assert!(decode_base64("%%%").is_err());
    }
}
