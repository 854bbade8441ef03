//! Retention and adoption across slices (several inputs, or `--window` time slices): which
//! clients were active in the first slice and not in the last, which are new in the last,
//! which used only one or two endpoints, and how long each client took from its first call
//! to its first successful one.

use serde::Serialize;

use super::kpi::Percentiles;
use crate::model::Nanos;

/// What one client contributes to retention.
#[derive(Debug, Clone)]
pub struct ClientSlices<'a> {
    /// Client label.
    pub id: &'a str,
    /// Slices the client was active in (sorted, distinct).
    pub slices: Vec<u32>,
    /// Distinct endpoints used.
    pub endpoints: usize,
    /// First call.
    pub first: Option<Nanos>,
    /// First successful (2xx/3xx) call.
    pub first_success: Option<Nanos>,
}

/// Time from a client's first call to its first success.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimeToSuccess {
    /// Client.
    pub client: String,
    /// Seconds from first call to first success (`None`: never succeeded).
    pub seconds: Option<f64>,
}

/// Retention and adoption report.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Retention {
    /// Number of slices.
    pub slices: u32,
    /// What a slice is (`input` or `window of N s`).
    pub slice_kind: String,
    /// Active clients per slice.
    pub active_per_slice: Vec<u64>,
    /// Active in the first slice, not in the last.
    pub churned: Vec<String>,
    /// Active in the last slice, not in the first.
    pub new_in_last: Vec<String>,
    /// Active in both the first and the last slice.
    pub retained: u64,
    /// Clients that used only one or two endpoints.
    pub narrow: Vec<(String, usize)>,
    /// Clients that never got a successful answer.
    pub never_succeeded: Vec<String>,
    /// Percentiles of time to first success, in µs (clients that succeeded).
    pub time_to_first_success: Option<Percentiles>,
    /// The slowest to first success (up to 20).
    pub slowest_to_success: Vec<TimeToSuccess>,
}

/// Build the retention report.
#[must_use]
pub fn build(clients: &[ClientSlices<'_>], slices: u32, slice_kind: String) -> Retention {
    let slices = slices.max(1);
    let last = slices - 1;
    let mut active = vec![0u64; slices as usize];
    let mut r = Retention { slices, slice_kind, ..Retention::default() };
    let mut tts = Vec::new();
    let mut tts_us = Vec::new();
    for c in clients {
        for s in &c.slices {
            if let Some(a) = active.get_mut(*s as usize) {
                *a += 1;
            }
        }
        let in_first = c.slices.first() == Some(&0);
        let in_last = c.slices.last() == Some(&last);
        if slices > 1 {
            match (in_first, in_last) {
                (true, false) => r.churned.push(c.id.to_string()),
                (false, true) => r.new_in_last.push(c.id.to_string()),
                (true, true) => r.retained += 1,
                _ => {}
            }
        }
        if c.endpoints <= 2 {
            r.narrow.push((c.id.to_string(), c.endpoints));
        }
        match (c.first, c.first_success) {
            (Some(f), Some(s)) => {
                let ns = (s - f).max(0);
                tts_us.push(super::kpi::ns_to_us(ns));
                tts.push(TimeToSuccess { client: c.id.to_string(), seconds: Some(ns as f64 / 1e9) });
            }
            (_, None) => r.never_succeeded.push(c.id.to_string()),
            _ => {}
        }
    }
    r.active_per_slice = active;
    r.time_to_first_success = Percentiles::of(&mut tts_us);
    tts.sort_by(|a, b| b.seconds.partial_cmp(&a.seconds).unwrap_or(std::cmp::Ordering::Equal));
    tts.truncate(20);
    r.slowest_to_success = tts;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churned_new_narrow_and_time_to_success() {
        let cs = vec![
            ClientSlices { id: "a", slices: vec![0, 1], endpoints: 5, first: Some(0), first_success: Some(0) },
            ClientSlices { id: "b", slices: vec![0], endpoints: 1, first: Some(0), first_success: Some(3_000_000_000) },
            ClientSlices { id: "c", slices: vec![1], endpoints: 2, first: Some(10), first_success: None },
        ];
        let r = build(&cs, 2, "input".into());
        assert_eq!(r.churned, vec!["b"]);
        assert_eq!(r.new_in_last, vec!["c"]);
        assert_eq!(r.retained, 1);
        assert_eq!(r.narrow, vec![("b".to_string(), 1), ("c".to_string(), 2)]);
        assert_eq!(r.never_succeeded, vec!["c"]);
        assert_eq!(r.slowest_to_success.first().and_then(|t| t.seconds), Some(3.0));
        assert_eq!(r.active_per_slice, vec![2, 2]);
    }
}
