//! Short, fixed-width renderings of times, durations and sizes for tables.

use crate::model::Nanos;

/// `HH:MM:SS.mmm` (UTC) of a capture-clock time.
#[must_use]
pub fn clock(ns: Option<Nanos>) -> String {
    let Some(ns) = ns else { return "-".into() };
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}.{ms:03}", day / 3600, (day / 60) % 60, day % 60)
}

/// Full UTC date and time with nanoseconds (detail view).
#[must_use]
pub fn datetime(ns: Option<Nanos>) -> String {
    let Some(ns) = ns else { return "-".into() };
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6] UTC"
            );
            t.format(&fmt).unwrap_or_else(|_| ns.to_string())
        }
        Err(_) => ns.to_string(),
    }
}

/// A duration: `850µs`, `12ms`, `1.25s`, `3m05s`.
#[must_use]
pub fn dur(ns: Option<i64>) -> String {
    let Some(ns) = ns else { return "-".into() };
    let neg = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    let s = if a < 1_000_000 {
        format!("{}µs", a / 1_000)
    } else if a < 10_000_000 {
        format!("{:.1}ms", a as f64 / 1e6)
    } else if a < 1_000_000_000 {
        format!("{}ms", a / 1_000_000)
    } else if a < 60_000_000_000 {
        format!("{:.2}s", a as f64 / 1e9)
    } else {
        let s = a / 1_000_000_000;
        format!("{}m{:02}s", s / 60, s % 60)
    };
    format!("{neg}{s}")
}

/// A size: `0`, `512`, `1.2k`, `34k`, `5.6M`, `1.1G`.
#[must_use]
pub fn size(b: u64) -> String {
    let f = b as f64;
    if b < 1000 {
        b.to_string()
    } else if b < 10_000 {
        format!("{:.1}k", f / 1e3)
    } else if b < 1_000_000 {
        format!("{}k", b / 1000)
    } else if b < 10_000_000 {
        format!("{:.1}M", f / 1e6)
    } else if b < 1_000_000_000 {
        format!("{}M", b / 1_000_000)
    } else {
        format!("{:.1}G", f / 1e9)
    }
}

/// A byte count for prose: `1.5 MB`.
#[must_use]
pub fn bytes(b: u64) -> String {
    let f = b as f64;
    if b < 1000 {
        format!("{b} B")
    } else if b < 1_000_000 {
        format!("{:.1} kB", f / 1e3)
    } else if b < 1_000_000_000 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.2} GB", f / 1e9)
    }
}

/// Cut `s` to at most `w` characters, ending in `…` when cut.
#[must_use]
pub fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fit_their_columns() {
        assert_eq!(clock(Some(1_700_000_000_123_456_789)), "22:13:20.123");
        assert_eq!(clock(None), "-");
        assert_eq!(dur(Some(850_000)), "850µs");
        assert_eq!(dur(Some(4_250_000)), "4.2ms");
        assert_eq!(dur(Some(250_000_000)), "250ms");
        assert_eq!(dur(Some(1_250_000_000)), "1.25s");
        assert_eq!(dur(Some(185_000_000_000)), "3m05s");
        assert_eq!(dur(Some(-2_000_000)), "-2.0ms");
        assert_eq!(size(512), "512");
        assert_eq!(size(1234), "1.2k");
        assert_eq!(size(5_600_000), "5.6M");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert!(datetime(Some(0)).starts_with("1970-01-01 00:00:00.000000"));
    }
}
