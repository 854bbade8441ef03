//! Feed KPIs of streaming exchanges (WebSocket, SSE, NDJSON), per endpoint and per client.
//!
//! Definitions (capture clock): the *feed* of a stream is its data messages sent by the
//! server (text, binary, events, lines; control frames and client messages are counted
//! apart). *Time to first message* runs from the stream's opening (the `101` / response's
//! first byte) to the first feed message. *Messages per second*: the mean is feed messages
//! over the summed stream durations; the peak is the most feed messages of one stream within
//! one second counted from its opening. *Gaps* are the times between consecutive feed
//! messages of one stream (exact percentiles, nearest rank). A *stall* is a gap longer than
//! the stall factor (default 5) times the group's median gap. *Stream duration* runs from
//! the opening to the last byte seen. How streams ended is counted by kind (client close,
//! server close with its code, cut, still open).

use std::collections::BTreeMap;

use serde::Serialize;

use super::kpi::{Percentiles, ns_to_us};
use crate::model::message::{Direction, MessageStream};
use crate::model::{Exchange, Nanos};

/// Largest gaps kept per group with where they happened.
const WORST_GAPS: usize = 5;

/// A long gap and where it happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gap {
    /// The gap in µs.
    pub gap_us: u32,
    /// When the message after the gap arrived (capture clock, ns).
    pub at: Nanos,
    /// The input file.
    pub file: String,
    /// The exchange's position in its file.
    pub exchange: u64,
}

/// Accumulates the streams of one group.
#[derive(Debug, Default, Clone)]
pub struct FeedAcc {
    streams: u64,
    feed_messages: u64,
    client_messages: u64,
    control_messages: u64,
    not_kept: u64,
    ttfm_us: Vec<u32>,
    gaps_us: Vec<u32>,
    durations_us: Vec<u32>,
    active_ns: i64,
    peak_per_s: u32,
    ends: BTreeMap<String, u64>,
    worst: Vec<Gap>,
}

impl FeedAcc {
    /// Add one exchange's stream.
    pub fn add(&mut self, ex: &Exchange, s: &MessageStream) {
        self.streams += 1;
        self.not_kept += s.dropped;
        *self.ends.entry(s.end.label()).or_default() += 1;
        let opened = s.opened.or(ex.timing.response_start);
        let mut last: Option<Nanos> = None;
        let mut first: Option<Nanos> = None;
        let mut bucket: Option<(i64, u32)> = None;
        for m in &s.messages {
            if m.kind.is_control() {
                self.control_messages += 1;
                continue;
            }
            if m.direction == Direction::ToServer {
                self.client_messages += 1;
                continue;
            }
            self.feed_messages += 1;
            first.get_or_insert(m.time);
            if let Some(prev) = last {
                let gap = ns_to_us((m.time - prev).max(0));
                self.gaps_us.push(gap);
                self.note_gap(gap, m.time, ex);
            }
            last = Some(m.time.max(last.unwrap_or(m.time)));
            let second = (m.time - opened.unwrap_or(m.time)).div_euclid(1_000_000_000);
            bucket = match bucket {
                Some((b, n)) if b == second => Some((b, n + 1)),
                _ => Some((second, 1)),
            };
            if let Some((_, n)) = bucket {
                self.peak_per_s = self.peak_per_s.max(n);
            }
        }
        if let (Some(o), Some(f)) = (opened, first) {
            self.ttfm_us.push(ns_to_us((f - o).max(0)));
        }
        let end = s.closed.or(ex.timing.response_end);
        if let (Some(o), Some(e)) = (opened, end) {
            let d = (e - o).max(0);
            self.durations_us.push(ns_to_us(d));
            self.active_ns += d;
        }
    }

    fn note_gap(&mut self, gap_us: u32, at: Nanos, ex: &Exchange) {
        if self.worst.len() == WORST_GAPS && self.worst.last().is_some_and(|g| g.gap_us >= gap_us) {
            return;
        }
        let g = Gap { gap_us, at, file: ex.provenance.file.to_string(), exchange: ex.seq };
        let i = self.worst.partition_point(|w| w.gap_us >= gap_us);
        self.worst.insert(i, g);
        self.worst.truncate(WORST_GAPS);
    }

    /// The KPIs, with stalls counted against `stall_factor` × the median gap.
    #[must_use]
    pub fn finish(mut self, name: String, stall_factor: f64) -> FeedKpis {
        let gaps = Percentiles::of(&mut self.gaps_us);
        let threshold_us = gaps.map(|g| (f64::from(g.p50_us) * stall_factor).round() as u64);
        let stalls = match threshold_us {
            Some(t) => self.gaps_us.iter().filter(|g| u64::from(**g) > t).count() as u64,
            None => 0,
        };
        let stalled: Vec<Gap> = match threshold_us {
            Some(t) => self.worst.into_iter().filter(|g| u64::from(g.gap_us) > t).collect(),
            None => Vec::new(),
        };
        let secs = self.active_ns as f64 / 1e9;
        FeedKpis {
            name,
            streams: self.streams,
            feed_messages: self.feed_messages,
            client_messages: self.client_messages,
            control_messages: self.control_messages,
            messages_not_kept: self.not_kept,
            time_to_first_message: Percentiles::of(&mut self.ttfm_us),
            mean_messages_per_s: if secs > 0.0 { self.feed_messages as f64 / secs } else { 0.0 },
            peak_messages_per_s: self.peak_per_s,
            gaps,
            stall_threshold_us: threshold_us,
            stalls,
            stalled,
            duration: Percentiles::of(&mut self.durations_us),
            ended: self.ends,
        }
    }
}

/// Feed KPIs of one endpoint or client.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedKpis {
    /// The endpoint (`GET /v1/stream`) or client.
    pub name: String,
    /// Streams.
    pub streams: u64,
    /// Data messages sent by the server.
    pub feed_messages: u64,
    /// Data messages sent by the client (WebSocket).
    pub client_messages: u64,
    /// Ping, pong and close frames.
    pub control_messages: u64,
    /// Messages past the per-stream limit: counted, not timed.
    pub messages_not_kept: u64,
    /// Opening to first feed message, over streams (µs).
    pub time_to_first_message: Option<Percentiles>,
    /// Feed messages over the summed stream durations.
    pub mean_messages_per_s: f64,
    /// Most feed messages of one stream within one second from its opening.
    pub peak_messages_per_s: u32,
    /// Gaps between consecutive feed messages (µs).
    pub gaps: Option<Percentiles>,
    /// The gap above which a feed counts as stalled (µs): stall factor × median gap.
    pub stall_threshold_us: Option<u64>,
    /// Gaps above the threshold.
    pub stalls: u64,
    /// The longest of those gaps, with where they happened.
    pub stalled: Vec<Gap>,
    /// Stream durations (µs).
    pub duration: Option<Percentiles>,
    /// How streams ended (`client close 1000`, `server close`, `cut`, `open`) → count.
    pub ended: BTreeMap<String, u64>,
}

/// The names of the feed KPIs as every report shows them (`stats` tables and the TUI's
/// Endpoints view), in order; times in ms. [`FeedKpis::cells`] gives the values.
pub const FEED_COLUMNS: [&str; 11] = [
    "STREAMS",
    "MSGS",
    "FIRST MSG p50",
    "MSG/S MEAN",
    "PEAK/S",
    "GAP p50",
    "GAP p99",
    "GAP MAX",
    "STALLS",
    "DURATION p50",
    "ENDED",
];

impl FeedKpis {
    /// The values of [`FEED_COLUMNS`], formatted (times in ms with one decimal, `-` when
    /// there is none; ended as `how ×count`).
    #[must_use]
    pub fn cells(&self) -> [String; 11] {
        let ms = |us: Option<u32>| us.map_or_else(|| "-".to_string(), |v| format!("{:.1}", f64::from(v) / 1000.0));
        let ended: Vec<String> = self.ended.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        [
            self.streams.to_string(),
            self.feed_messages.to_string(),
            ms(self.time_to_first_message.map(|p| p.p50_us)),
            format!("{:.2}", self.mean_messages_per_s),
            self.peak_messages_per_s.to_string(),
            ms(self.gaps.map(|p| p.p50_us)),
            ms(self.gaps.map(|p| p.p99_us)),
            ms(self.gaps.map(|p| p.max_us)),
            self.stalls.to_string(),
            ms(self.duration.map(|p| p.p50_us)),
            ended.join(", "),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::message::{Message, MessageKind, StreamEnd, StreamProtocol};

    const MS: i64 = 1_000_000;

    fn stream(times_ms: &[i64]) -> (Exchange, MessageStream) {
        let mut s = MessageStream::new(StreamProtocol::Ndjson, Some(0));
        s.push(Message::new(Direction::ToServer, 0, MessageKind::Text, b"sub".to_vec()));
        for t in times_ms {
            s.push(Message::new(Direction::ToClient, t * MS, MessageKind::Line, b"{}".to_vec()));
        }
        s.push(Message::new(Direction::ToClient, 5, MessageKind::Ping, Vec::new()));
        s.end = StreamEnd::ServerClose { code: Some(1000) };
        s.closed = Some(10_000 * MS);
        (Exchange::default(), s)
    }

    #[test]
    fn gaps_rates_and_stalls_follow_the_definitions() {
        // 100 ms apart, one 2 s silence, then three quick ones.
        let (ex, s) = stream(&[50, 150, 250, 350, 2350, 2450, 2550, 2650]);
        let mut acc = FeedAcc::default();
        acc.add(&ex, &s);
        let k = acc.finish("GET /stream".into(), 5.0);
        assert_eq!(k.feed_messages, 8);
        assert_eq!(k.client_messages, 1);
        assert_eq!(k.control_messages, 1);
        assert_eq!(k.time_to_first_message.unwrap().p50_us, 50_000);
        let g = k.gaps.unwrap();
        assert_eq!((g.count, g.p50_us, g.max_us), (7, 100_000, 2_000_000));
        assert_eq!(k.stall_threshold_us, Some(500_000));
        assert_eq!(k.stalls, 1);
        assert_eq!(k.stalled[0].gap_us, 2_000_000);
        assert_eq!(k.stalled[0].at, 2350 * MS);
        assert_eq!(k.peak_messages_per_s, 4);
        assert!((k.mean_messages_per_s - 0.8).abs() < 1e-9);
        assert_eq!(k.duration.unwrap().max_us, 10_000_000);
        assert_eq!(k.ended.get("server close 1000"), Some(&1));
    }

    #[test]
    fn a_higher_stall_factor_finds_no_stall() {
        let (ex, s) = stream(&[50, 150, 250, 350, 2350]);
        let mut acc = FeedAcc::default();
        acc.add(&ex, &s);
        assert_eq!(acc.finish("x".into(), 50.0).stalls, 0);
    }
}
