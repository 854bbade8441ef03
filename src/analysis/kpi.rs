//! Streaming KPI accumulators shared by endpoints, clients and (client, endpoint) cells:
//! request counts, status mix, failures, body sizes on the wire and decoded, and latency
//! values kept as compact `u32` microseconds so percentiles are exact. Every exchange's
//! latencies are stored once, in a [`LatencyLog`] (16 bytes per exchange, in fixed-size
//! chunks, with the cell and status they belong to); at the end each grouping (endpoint,
//! client, cell, status, all) is counting-sorted out of it into one scratch buffer, so no
//! group keeps its own copy of the values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Exchange, Nanos};

/// Nanoseconds to whole microseconds (rounded, saturating at `u32::MAX` ≈ 71 minutes;
/// negative values, which only broken clocks give, become 0).
#[must_use]
pub fn ns_to_us(ns: i64) -> u32 {
    if ns <= 0 {
        return 0;
    }
    let us = ns.saturating_add(500) / 1000;
    u32::try_from(us).unwrap_or(u32::MAX)
}

/// Nearest-rank percentile of sorted values: the value at rank `ceil(q/100 · n)` (1-based),
/// the same definition as the generators' truth files. `None` when empty.
#[must_use]
pub fn nearest_rank(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (q / 100.0 * n as f64).ceil() as usize;
    let k = rank.saturating_sub(1).min(n - 1);
    sorted.get(k).copied()
}

/// Exact latency percentiles in microseconds (nearest rank).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct Percentiles {
    /// Number of values.
    pub count: u64,
    /// Median.
    pub p50_us: u32,
    /// 90th percentile.
    pub p90_us: u32,
    /// 95th percentile.
    pub p95_us: u32,
    /// 99th percentile.
    pub p99_us: u32,
    /// Largest value.
    pub max_us: u32,
    /// Arithmetic mean.
    pub mean_us: u32,
}

impl Percentiles {
    /// Percentiles of `values` (sorted in place). `None` when there are no values.
    #[must_use]
    pub fn of(values: &mut [u32]) -> Option<Self> {
        values.sort_unstable();
        Self::of_sorted(values)
    }

    /// Percentiles of values already sorted ascending. `None` when there are none.
    #[must_use]
    pub fn of_sorted(values: &[u32]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let sum: u64 = values.iter().map(|v| u64::from(*v)).sum();
        let p = |q| nearest_rank(values, q).unwrap_or(0);
        Some(Self {
            count: values.len() as u64,
            p50_us: p(50.0),
            p90_us: p(90.0),
            p95_us: p(95.0),
            p99_us: p(99.0),
            max_us: p(100.0),
            mean_us: u32::try_from(sum / values.len() as u64).unwrap_or(u32::MAX),
        })
    }
}

/// Status class label of a code: `1xx` … `5xx`, `other` (0, 600+).
#[must_use]
pub fn status_class(code: u16) -> &'static str {
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// Body size sums.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct Sizes {
    /// Request bodies as transferred (falls back to the decoded size when the wire size is unknown).
    pub request_wire: u64,
    /// Request bodies decoded.
    pub request_decoded: u64,
    /// Response bodies as transferred (same fallback).
    pub response_wire: u64,
    /// Response bodies decoded.
    pub response_decoded: u64,
    /// Largest decoded request body.
    pub request_max: u64,
    /// Largest decoded response body.
    pub response_max: u64,
}

impl Sizes {
    fn add(&mut self, ex: &Exchange) {
        let rq = &ex.request.body;
        self.request_wire += rq.wire_size.unwrap_or(rq.size);
        self.request_decoded += rq.size;
        self.request_max = self.request_max.max(rq.size);
        if let Some(r) = &ex.response {
            self.response_wire += r.body.wire_size.unwrap_or(r.body.size);
            self.response_decoded += r.body.size;
            self.response_max = self.response_max.max(r.body.size);
        }
    }

    fn merge(&mut self, o: &Self) {
        self.request_wire += o.request_wire;
        self.request_decoded += o.request_decoded;
        self.response_wire += o.response_wire;
        self.response_decoded += o.response_decoded;
        self.request_max = self.request_max.max(o.request_max);
        self.response_max = self.response_max.max(o.response_max);
    }

    /// Bytes both ways on the wire.
    #[must_use]
    pub fn wire_total(&self) -> u64 {
        self.request_wire + self.response_wire
    }
}

/// One exchange reduced to what the accumulators need (computed once per exchange).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Start on the capture clock, if known.
    pub start: Option<Nanos>,
    /// Status, if a response was seen.
    pub status: Option<u16>,
    /// Did not complete normally.
    pub failed: bool,
    /// Time to first byte in µs.
    pub ttfb_us: Option<u32>,
    /// Total duration in µs.
    pub total_us: Option<u32>,
}

impl Sample {
    /// Reduce `ex`.
    #[must_use]
    pub fn of(ex: &Exchange) -> Self {
        Self {
            start: ex.timing.start(),
            status: ex.status(),
            failed: ex.is_failed() || ex.status() == Some(0),
            ttfb_us: ex.ttfb().map(ns_to_us),
            // A stream's total time is its duration, not a request's latency.
            total_us: if ex.stream.is_some() { None } else { ex.duration().map(ns_to_us) },
        }
    }

    /// 5xx or failed.
    #[must_use]
    pub fn unavailable(&self) -> bool {
        self.failed || self.status.is_none_or(|s| (500..=599).contains(&s))
    }

    /// 4xx answer.
    #[must_use]
    pub fn is_4xx(&self) -> bool {
        self.status.is_some_and(|s| (400..=499).contains(&s))
    }

    /// 2xx or 3xx answer, exchange complete.
    #[must_use]
    pub fn is_success(&self) -> bool {
        !self.failed && self.status.is_some_and(|s| (200..=399).contains(&s))
    }
}

/// Counters without latency values (latency values live in [`Latencies`]).
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Exchanges.
    pub requests: u64,
    /// Final status code → count (exchanges with a response).
    pub statuses: BTreeMap<u16, u64>,
    /// Exchanges that did not complete (no response, failed, aborted) or got status 0.
    pub failed: u64,
    /// Exchanges that were 5xx or failed (each counted once).
    pub unavailable: u64,
    /// Exchanges that were 4xx, 5xx or failed (each counted once).
    pub errored: u64,
    /// Body sizes.
    pub sizes: Sizes,
    /// Sum of TTFB in µs (server time).
    pub server_time_us: u64,
    /// Earliest start seen.
    pub first: Option<Nanos>,
    /// Latest start seen.
    pub last: Option<Nanos>,
}

impl Counts {
    /// Count one exchange.
    pub fn add(&mut self, ex: &Exchange, s: &Sample) {
        self.requests += 1;
        if let Some(code) = s.status {
            *self.statuses.entry(code).or_insert(0) += 1;
        }
        if s.failed {
            self.failed += 1;
        }
        if s.unavailable() {
            self.unavailable += 1;
        }
        if s.unavailable() || s.is_4xx() {
            self.errored += 1;
        }
        self.sizes.add(ex);
        self.server_time_us += u64::from(s.ttfb_us.unwrap_or(0));
        if let Some(t) = s.start {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    /// Add another set of counts.
    pub fn merge(&mut self, o: &Self) {
        self.requests += o.requests;
        for (k, v) in &o.statuses {
            *self.statuses.entry(*k).or_insert(0) += v;
        }
        self.failed += o.failed;
        self.unavailable += o.unavailable;
        self.errored += o.errored;
        self.sizes.merge(&o.sizes);
        self.server_time_us += o.server_time_us;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Count of statuses in `lo..=hi`.
    #[must_use]
    pub fn in_range(&self, lo: u16, hi: u16) -> u64 {
        self.statuses.range(lo..=hi).map(|(_, v)| *v).sum()
    }
}

/// Latency values of a group (µs), kept whole for exact percentiles.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// TTFB values.
    pub ttfb: Vec<u32>,
    /// Total-duration values.
    pub total: Vec<u32>,
}

impl Latencies {
    /// Record one sample's latencies.
    pub fn add(&mut self, s: &Sample) {
        if let Some(v) = s.ttfb_us {
            self.ttfb.push(v);
        }
        if let Some(v) = s.total_us {
            self.total.push(v);
        }
    }
}

/// Which latency of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Time to first byte.
    Ttfb,
    /// Total duration.
    Total,
}

/// One exchange's latencies and the groups it belongs to (16 bytes).
#[derive(Debug, Clone, Copy)]
struct LatencyRecord {
    ttfb: u32,
    total: u32,
    cell: u32,
    status: u16,
    /// Bit 0: TTFB present; bit 1: total present; bit 2: status present.
    has: u8,
}

impl LatencyRecord {
    fn status(&self) -> Option<u16> {
        (self.has & 4 != 0).then_some(self.status)
    }
}

/// A growable list stored in fixed-size chunks of `N`: growing never copies the elements
/// nor leaves up to half of a doubled buffer unused (the latency log and the per-client
/// state are large).
#[derive(Debug)]
pub(crate) struct Chunked<T, const N: usize> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T, const N: usize> Default for Chunked<T, N> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T, const N: usize> Chunked<T, N> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < N => c.push(v),
            _ => {
                let mut c = Vec::with_capacity(N);
                c.push(v);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / N)?.get(i % N)
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / N)?.get_mut(i % N)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    /// Heap bytes held (capacities, not lengths).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
            + self.chunks.iter().map(|c| c.capacity() * std::mem::size_of::<T>()).sum::<usize>()
    }
}

/// Records per chunk of a [`LatencyLog`] (1 MiB chunks: growth never copies or doubles).
pub const LOG_CHUNK: usize = 1 << 16;

/// The latency values of every exchange, stored once with the (client, endpoint) cell and
/// the status they belong to; exact percentiles of any grouping are computed from it
/// at the end ([`LatencyLog::grouped`]). Costs 16 bytes per exchange that has a latency.
#[derive(Debug, Default)]
pub struct LatencyLog {
    records: Chunked<LatencyRecord, LOG_CHUNK>,
}

impl LatencyLog {
    /// Record `s`'s latencies (and status) for `cell`; nothing when it has no latency.
    pub fn push(&mut self, s: &Sample, cell: u32) {
        if s.ttfb_us.is_none() && s.total_us.is_none() {
            return;
        }
        let rec = LatencyRecord {
            ttfb: s.ttfb_us.unwrap_or(0),
            total: s.total_us.unwrap_or(0),
            cell,
            status: s.status.unwrap_or(0),
            has: u8::from(s.ttfb_us.is_some())
                | (u8::from(s.total_us.is_some()) << 1)
                | (u8::from(s.status.is_some()) << 2),
        };
        self.records.push(rec);
    }

    /// Records kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.len() == 0
    }

    /// Heap bytes held (capacities, not lengths).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.records.heap_bytes()
    }

    fn records(&self) -> impl Iterator<Item = &LatencyRecord> {
        self.records.iter()
    }

    /// The `kind` values grouped into `groups` groups by `group(cell, status)` (`None`
    /// leaves a record out), each group's values sorted ascending. One counting pass, one
    /// scatter into a single buffer, one sort per group.
    #[must_use]
    pub fn grouped(
        &self,
        kind: LatencyKind,
        groups: usize,
        group: impl Fn(u32, Option<u16>) -> Option<usize>,
    ) -> Grouped {
        let bit = match kind {
            LatencyKind::Ttfb => 1,
            LatencyKind::Total => 2,
        };
        let value = |r: &LatencyRecord| match kind {
            LatencyKind::Ttfb => r.ttfb,
            LatencyKind::Total => r.total,
        };
        let mut offsets = vec![0usize; groups + 1];
        for r in self.records().filter(|r| r.has & bit != 0) {
            if let Some(n) = group(r.cell, r.status()).filter(|g| *g < groups).and_then(|g| offsets.get_mut(g + 1)) {
                *n += 1;
            }
        }
        for i in 1..offsets.len() {
            let prev = offsets.get(i - 1).copied().unwrap_or(0);
            if let Some(o) = offsets.get_mut(i) {
                *o += prev;
            }
        }
        let mut values = vec![0u32; offsets.last().copied().unwrap_or(0)];
        let mut next: Vec<usize> = offsets.iter().take(groups).copied().collect();
        for r in self.records().filter(|r| r.has & bit != 0) {
            let Some(g) = group(r.cell, r.status()).filter(|g| *g < groups) else { continue };
            if let Some(at) = next.get_mut(g) {
                if let Some(v) = values.get_mut(*at) {
                    *v = value(r);
                }
                *at += 1;
            }
        }
        let mut out = Grouped { offsets, values };
        for g in 0..groups {
            if let Some(s) = out.range(g).and_then(|r| out.values.get_mut(r)) {
                s.sort_unstable();
            }
        }
        out
    }
}

/// Latency values split by group, each group sorted ([`LatencyLog::grouped`]).
#[derive(Debug, Default)]
pub struct Grouped {
    offsets: Vec<usize>,
    values: Vec<u32>,
}

impl Grouped {
    fn range(&self, g: usize) -> Option<std::ops::Range<usize>> {
        Some(*self.offsets.get(g)?..*self.offsets.get(g + 1)?)
    }

    /// Group `g`'s values, sorted (empty for an unknown group).
    #[must_use]
    pub fn get(&self, g: usize) -> &[u32] {
        self.range(g).and_then(|r| self.values.get(r)).unwrap_or(&[])
    }
}

/// The KPIs of one group (endpoint, client, status, cell) as plain data.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Kpis {
    /// Exchanges.
    pub requests: u64,
    /// Count per status class (`2xx`, `4xx`, `other`, …), classes with zero left out.
    pub status_classes: BTreeMap<&'static str, u64>,
    /// Count per status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Exchanges with no usable response (no response, failed, aborted, status 0).
    pub failed: u64,
    /// 4xx answers.
    pub errors_4xx: u64,
    /// 5xx answers.
    pub errors_5xx: u64,
    /// Exchanges that were 4xx, 5xx or failed (each counted once).
    pub errored: u64,
    /// (4xx + 5xx + failed, each exchange once) / requests.
    pub error_rate: f64,
    /// Share of exchanges that were neither 5xx nor failed.
    pub availability: f64,
    /// Exact TTFB percentiles.
    pub ttfb: Option<Percentiles>,
    /// Exact total-duration percentiles.
    pub total: Option<Percentiles>,
    /// Body sizes.
    pub sizes: Sizes,
    /// Sum of TTFB in µs (server time spent on this group).
    pub server_time_us: u64,
    /// First request start (capture clock, ns).
    pub first: Option<Nanos>,
    /// Last request start (capture clock, ns).
    pub last: Option<Nanos>,
    /// Mean requests per second over the whole traffic's window (first to last request of
    /// every group together, see [`Kpis::rate_over`]); a group's own first-to-last span
    /// would make a burst of a few calls look like a high rate.
    pub mean_rps: f64,
}

impl Kpis {
    /// Set `mean_rps` to this group's requests over the window `first..last` (capture
    /// clock, ns): the window of all traffic, so that rates of groups compare.
    pub fn rate_over(&mut self, first: Option<Nanos>, last: Option<Nanos>) {
        self.mean_rps = match (first, last) {
            (Some(a), Some(b)) if b > a => self.requests as f64 / ((b - a) as f64 / 1e9),
            _ => 0.0,
        };
    }

    /// Build from counts and latency values (the values are sorted in place).
    #[must_use]
    pub fn build(c: &Counts, lat: &mut Latencies) -> Self {
        lat.ttfb.sort_unstable();
        lat.total.sort_unstable();
        Self::from_sorted(c, &lat.ttfb, &lat.total)
    }

    /// Build from counts and sorted TTFB and total-duration values.
    #[must_use]
    pub fn from_sorted(c: &Counts, ttfb: &[u32], total: &[u32]) -> Self {
        let mut classes = BTreeMap::new();
        for (code, n) in &c.statuses {
            *classes.entry(status_class(*code)).or_insert(0) += n;
        }
        let e4 = c.in_range(400, 499);
        let e5 = c.in_range(500, 599);
        let req = c.requests.max(1) as f64;
        let span = match (c.first, c.last) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => 0.0,
        };
        Self {
            requests: c.requests,
            status_classes: classes,
            statuses: c.statuses.clone(),
            failed: c.failed,
            errors_4xx: e4,
            errors_5xx: e5,
            errored: c.errored,
            error_rate: if c.requests == 0 { 0.0 } else { c.errored as f64 / req },
            availability: if c.requests == 0 { 1.0 } else { 1.0 - c.unavailable as f64 / req },
            ttfb: Percentiles::of_sorted(ttfb),
            total: Percentiles::of_sorted(total),
            sizes: c.sizes,
            server_time_us: c.server_time_us,
            first: c.first,
            last: c.last,
            mean_rps: if span > 0.0 { c.requests as f64 / span } else { 0.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_the_truth_definition() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(5));
        assert_eq!(nearest_rank(&v, 90.0), Some(9));
        assert_eq!(nearest_rank(&v, 99.0), Some(10));
        assert_eq!(nearest_rank(&v, 100.0), Some(10));
        assert_eq!(nearest_rank(&[7], 50.0), Some(7));
        assert_eq!(nearest_rank(&[], 50.0), None);
        // 3 values: p50 is rank ceil(1.5) = 2
        assert_eq!(nearest_rank(&[1, 2, 3], 50.0), Some(2));
    }

    #[test]
    fn the_latency_log_groups_exactly_like_separate_vectors() {
        assert_eq!(std::mem::size_of::<LatencyRecord>(), 16);
        let mut log = LatencyLog::default();
        let mut per_cell: Vec<(Vec<u32>, Vec<u32>)> = vec![Default::default(); 3];
        let mut per_status: BTreeMap<Option<u16>, Vec<u32>> = BTreeMap::new();
        let mut with_latency = 0;
        for i in 0..1000u32 {
            let cell = (i * 7) % 3;
            let status = [Some(200), Some(503), None][(i % 3) as usize];
            let ttfb = (i % 5 != 0).then_some((i * 7919) % 1000);
            let total = (i % 7 != 0).then_some((i * 104_729) % 5000);
            let s = Sample { start: None, status, failed: false, ttfb_us: ttfb, total_us: total };
            log.push(&s, cell);
            with_latency += usize::from(ttfb.is_some() || total.is_some());
            if let Some(v) = ttfb {
                per_cell[cell as usize].0.push(v);
                per_status.entry(status).or_default().push(v);
            }
            if let Some(v) = total {
                per_cell[cell as usize].1.push(v);
            }
        }
        let t = log.grouped(LatencyKind::Ttfb, 3, |c, _| Some(c as usize));
        let d = log.grouped(LatencyKind::Total, 3, |c, _| Some(c as usize));
        for (c, (mut tv, mut dv)) in per_cell.into_iter().enumerate() {
            assert_eq!(Percentiles::of_sorted(t.get(c)), Percentiles::of(&mut tv));
            assert_eq!(t.get(c), tv.as_slice());
            assert_eq!(d.get(c), {
                dv.sort_unstable();
                dv.as_slice()
            });
        }
        let keys: Vec<Option<u16>> = per_status.keys().copied().collect();
        let s = log.grouped(LatencyKind::Ttfb, keys.len(), |_, st| keys.iter().position(|k| *k == st));
        for (i, mut v) in per_status.into_values().enumerate() {
            v.sort_unstable();
            assert_eq!(s.get(i), v.as_slice());
        }
        // records without any latency are not kept; unknown groups are left out
        log.push(&Sample { start: None, status: None, failed: true, ttfb_us: None, total_us: None }, 0);
        assert_eq!(log.len(), with_latency);
        assert!(log.grouped(LatencyKind::Ttfb, 1, |_, _| Some(5)).get(0).is_empty());
    }

    #[test]
    fn microseconds_round_and_saturate() {
        assert_eq!(ns_to_us(1_499), 1);
        assert_eq!(ns_to_us(1_500), 2);
        assert_eq!(ns_to_us(-5), 0);
        assert_eq!(ns_to_us(i64::MAX), u32::MAX);
    }

    #[test]
    fn status_classes_are_open_ended() {
        assert_eq!(status_class(0), "other");
        assert_eq!(status_class(306), "3xx");
        assert_eq!(status_class(419), "4xx");
        assert_eq!(status_class(999), "other");
    }
}
