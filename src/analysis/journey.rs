//! One client's journey: its calls in time order, split into sessions wherever the client
//! was idle longer than a gap (default 30 min), with status and latency per call — the API
//! equivalent of watching one user's session replay. [`JourneyCollector`] is a `Sink` that
//! keeps only the chosen client's calls (plus a count per client, to suggest names when
//! the client is not found).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::endpoint::{EndpointNamer, LearnedNames, Learner};
use super::kpi::{Sample, ns_to_us};
use super::patterns::ExampleRef;
use super::report::{By, ReportFormat, Table, fmt_time};
use super::{UNIDENTIFIED, WARMUP};
use crate::ingest::Sink;
use crate::model::client::{ClientKey, identify};
use crate::model::text::visible;
use crate::model::{Exchange, Nanos};

/// One call of the journey.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Call {
    /// Start (capture clock, ns), when known.
    pub time: Option<Nanos>,
    /// Method as sent.
    pub method: String,
    /// Host.
    pub host: String,
    /// Target (path and query) as sent.
    pub target: String,
    /// Endpoint name.
    pub endpoint: String,
    /// Status (`None`: no response).
    pub status: Option<u16>,
    /// How the exchange ended when it did not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// TTFB in µs.
    pub ttfb_us: Option<u32>,
    /// Total duration in µs.
    pub total_us: Option<u32>,
    /// Response body size (decoded).
    pub response_bytes: u64,
    /// Where the exchange came from.
    pub source: ExampleRef,
}

/// A run of calls without an idle gap.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Session {
    /// First call.
    pub start: Option<Nanos>,
    /// Last call.
    pub end: Option<Nanos>,
    /// Calls that were 4xx/5xx/failed.
    pub errors: u64,
    /// Distinct endpoints.
    pub endpoints: u64,
    /// The calls in order.
    pub calls: Vec<Call>,
}

/// The journey of one client.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Journey {
    /// Client label.
    pub client: String,
    /// Idle gap that splits sessions (ns).
    pub idle_gap: Nanos,
    /// Calls in total.
    pub calls: u64,
    /// Sessions in order.
    pub sessions: Vec<Session>,
}

/// Learnt endpoint names, as `stats` learns them: every exchange of every client teaches
/// the learner, and the calls met during the warm-up (the first [`WARMUP`] exchanges) are
/// named when it ends.
struct Learning {
    learner: Arc<Mutex<Learner>>,
    /// Exchanges seen in the warm-up; `None` once it is over.
    warmup: Option<usize>,
    /// Calls waiting for their name.
    pending: Vec<usize>,
}

/// Collects one client's calls.
pub struct JourneyCollector<'n> {
    key: ClientKey,
    wanted: String,
    namer: Box<dyn EndpointNamer + 'n>,
    learning: Option<Learning>,
    calls: Vec<Call>,
    seen: HashMap<String, u64>,
    matched: Option<String>,
}

/// True when `id` is the client the user asked for: the exact label (case-insensitive), or
/// the hash part of a hashed label (`3f9a12c0` for `bearer:3f9a12c0`).
#[must_use]
pub fn matches(id: &str, wanted: &str) -> bool {
    id.eq_ignore_ascii_case(wanted) || id.rsplit_once(':').is_some_and(|(_, h)| h.eq_ignore_ascii_case(wanted))
}

impl<'n> JourneyCollector<'n> {
    /// Follow `wanted` identified by `key`.
    #[must_use]
    pub fn new(key: ClientKey, wanted: &str, namer: Box<dyn EndpointNamer + 'n>) -> Self {
        Self {
            key,
            wanted: wanted.to_string(),
            namer,
            learning: None,
            calls: Vec::new(),
            seen: HashMap::new(),
            matched: None,
        }
    }

    /// Follow `wanted`, naming endpoints with the templates learnt from the traffic exactly
    /// as [`Analyzer::learning`](super::Analyzer::learning) does (so a journey and `stats`
    /// without a spec agree on endpoint names).
    #[must_use]
    pub fn learning(key: ClientKey, wanted: &str) -> Self {
        let learner = Arc::new(Mutex::new(Learner::default()));
        let mut j = Self::new(key, wanted, Box::new(LearnedNames(Arc::clone(&learner))));
        j.learning = Some(Learning { learner, warmup: Some(0), pending: Vec::new() });
        j
    }

    /// Start the next input: like `stats`, a warm-up still running is closed (its calls
    /// named) and starts again for this input.
    pub fn begin_input(&mut self) {
        if self.learning.as_ref().is_some_and(|l| l.warmup.is_some()) {
            self.name_pending();
            if let Some(l) = &mut self.learning {
                l.warmup = Some(0);
            }
        }
    }

    /// When `done`, the warm-up is over: name its calls and name the rest as they come.
    fn end_warmup(&mut self, done: bool) {
        if done {
            self.name_pending();
            if let Some(l) = &mut self.learning {
                l.warmup = None;
            }
        }
    }

    /// Name the calls met during the warm-up with what it taught.
    fn name_pending(&mut self) {
        let Some(l) = &mut self.learning else { return };
        let pending = std::mem::take(&mut l.pending);
        let Ok(learner) = l.learner.lock() else { return };
        for i in pending {
            if let Some(c) = self.calls.get_mut(i) {
                let method = if c.method.is_empty() { "?" } else { c.method.as_str() };
                let path = c.target.split_once('?').map_or(c.target.as_str(), |(p, _)| p);
                c.endpoint = format!("{method} {}", learner.template(method, path));
            }
        }
    }

    /// The busiest clients seen (for "did you mean").
    #[must_use]
    pub fn busiest(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.seen.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Sessions split at idle gaps longer than `idle`. `None` when the client made no call.
    #[must_use]
    pub fn finish(mut self, idle: Nanos) -> Option<Journey> {
        self.name_pending();
        let client = self.matched.take()?;
        let mut calls = std::mem::take(&mut self.calls);
        calls.sort_by_key(|c| (c.time.unwrap_or(i64::MIN), c.source.seq));
        let n = calls.len() as u64;
        let mut sessions: Vec<Session> = Vec::new();
        let mut last: Option<Nanos> = None;
        for c in calls {
            let new = match (last, c.time) {
                (Some(l), Some(t)) => t - l > idle,
                _ => sessions.is_empty(),
            };
            if new || sessions.is_empty() {
                sessions.push(Session { start: c.time, end: c.time, errors: 0, endpoints: 0, calls: Vec::new() });
            }
            if let Some(t) = c.time {
                last = Some(last.map_or(t, |l| l.max(t)));
            }
            if let Some(s) = sessions.last_mut() {
                if c.failure.is_some() || c.status.is_none_or(|x| x >= 400) {
                    s.errors += 1;
                }
                if c.time.is_some() {
                    s.end = c.time;
                }
                s.calls.push(c);
            }
        }
        for s in &mut sessions {
            let mut eps: Vec<&str> = s.calls.iter().map(|c| c.endpoint.as_str()).collect();
            eps.sort_unstable();
            eps.dedup();
            s.endpoints = eps.len() as u64;
        }
        Some(Journey { client, idle_gap: idle, calls: n, sessions })
    }
}

impl Sink for JourneyCollector<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        let id = identify(ex, &self.key).map_or_else(|| UNIDENTIFIED.to_string(), |c| c.0);
        let wanted = matches(&id, &self.wanted);
        // Learnt names: every exchange teaches (stats names, and so learns from, all of
        // them); during the warm-up the chosen client's calls wait for their name.
        let mut deferred = false;
        let mut warmup_done = false;
        if let Some(l) = &mut self.learning {
            if l.warmup.is_some() || !wanted {
                if let Ok(mut learner) = l.learner.lock() {
                    let method = if ex.request.method.is_empty() { "?" } else { ex.request.method.as_str() };
                    learner.learn(method, ex.request.path());
                }
            }
            if let Some(n) = &mut l.warmup {
                *n += 1;
                deferred = wanted;
                warmup_done = *n >= WARMUP;
            }
        }
        if !wanted {
            self.end_warmup(warmup_done);
            if let Some(n) = self.seen.get_mut(&id) {
                *n += 1;
            } else {
                self.seen.insert(id, 1);
            }
            return;
        }
        let s = Sample::of(ex);
        self.calls.push(Call {
            time: s.start,
            method: ex.request.method.clone(),
            host: ex.host(),
            target: ex.request.target.clone(),
            endpoint: if deferred { String::new() } else { self.namer.name(ex).name },
            status: s.status,
            failure: ex.state.reason().map(|r| format!("{}: {r}", ex.state.label())),
            ttfb_us: ex.ttfb().map(ns_to_us),
            total_us: ex.duration().map(ns_to_us),
            response_bytes: ex.response.as_ref().map_or(0, |r| r.body.size),
            source: ExampleRef::of(ex),
        });
        self.matched.get_or_insert(id);
        if deferred {
            if let Some(l) = &mut self.learning {
                l.pending.push(self.calls.len() - 1);
            }
        }
        self.end_warmup(warmup_done);
    }
}

fn table(j: &Journey, raw: bool) -> Table {
    let mut t = Table {
        headers: [
            "SESSION", "TIME", "+S", "METHOD", "TARGET", "ENDPOINT", "STATUS", "TTFB ms", "TOTAL ms", "BYTES", "SOURCE",
        ]
        .iter()
        .map(ToString::to_string)
        .collect(),
        rows: Vec::new(),
        numeric: vec![true, false, true, false, false, false, false, true, true, true, false],
    };
    let esc = |s: &str| if raw { s.to_string() } else { visible(s).into_owned() };
    let ms = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |x| format!("{:.3}", f64::from(x) / 1000.0));
    for (i, s) in j.sessions.iter().enumerate() {
        for c in &s.calls {
            let rel = match (s.start, c.time) {
                (Some(a), Some(b)) => format!("{:.3}", (b - a) as f64 / 1e9),
                _ => String::new(),
            };
            t.rows.push(vec![
                (i + 1).to_string(),
                c.time.map_or_else(String::new, fmt_time),
                rel,
                esc(&c.method),
                esc(&c.target),
                esc(&c.endpoint),
                match (&c.failure, c.status) {
                    (Some(f), Some(st)) => format!("{st} ({})", esc(f)),
                    (Some(f), None) => esc(f),
                    (None, Some(st)) => st.to_string(),
                    (None, None) => "-".into(),
                },
                ms(c.ttfb_us),
                ms(c.total_us),
                c.response_bytes.to_string(),
                esc(&c.source.label()),
            ]);
        }
    }
    t
}

/// Render a journey (`by` is ignored: a journey is one table).
///
/// # Errors
/// Only JSON serialisation can fail.
pub fn render(j: &Journey, format: ReportFormat, _by: By) -> Result<String, serde_json::Error> {
    Ok(match format {
        ReportFormat::Json => serde_json::to_string_pretty(j)? + "\n",
        ReportFormat::Csv => table(j, true).csv(),
        ReportFormat::Text | ReportFormat::Markdown => {
            let md = format == ReportFormat::Markdown;
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{}{} — {} calls in {} session(s), sessions split after {} s idle",
                if md { "# " } else { "" },
                visible(&j.client),
                j.calls,
                j.sessions.len(),
                j.idle_gap / 1_000_000_000
            );
            for (i, s) in j.sessions.iter().enumerate() {
                let span = match (s.start, s.end) {
                    (Some(a), Some(b)) => format!("{} – {} ({:.1} s)", fmt_time(a), fmt_time(b), (b - a) as f64 / 1e9),
                    _ => "untimed".into(),
                };
                let _ = writeln!(
                    out,
                    "{}session {}: {span}, {} calls, {} errors, {} endpoints",
                    if md { "- " } else { "  " },
                    i + 1,
                    s.calls.len(),
                    s.errors,
                    s.endpoints
                );
            }
            out.push('\n');
            let t = table(j, false);
            out.push_str(&if md { t.markdown() } else { t.text() });
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::InferredNames;

    fn call(ua: &str, t_s: i64, status: u16) -> Exchange {
        Exchange::builder("GET", "/v1/a/1").status(status).header("User-Agent", ua).start(t_s * 1_000_000_000).build()
    }

    #[test]
    fn sessions_split_at_idle_gaps_and_other_clients_are_left_out() {
        let mut j = JourneyCollector::new(ClientKey::Auto, "unknown me", Box::new(InferredNames));
        for (t, st) in [(0, 200), (10, 404), (20, 200), (4000, 500), (4001, 200)] {
            j.exchange(&call("me", t, st));
        }
        j.exchange(&call("other", 5, 200));
        assert_eq!(j.busiest(5), vec![("unknown other".to_string(), 1)]);
        let r = j.finish(1800 * 1_000_000_000).unwrap();
        assert_eq!(r.calls, 5);
        assert_eq!(r.sessions.len(), 2);
        assert_eq!(r.sessions[0].calls.len(), 3);
        assert_eq!(r.sessions[0].errors, 1);
        assert_eq!(r.sessions[1].errors, 1);
        assert_eq!(r.sessions[0].calls[0].endpoint, "GET /v1/a/{id}");
        let text = render(&r, ReportFormat::Text, By::Endpoint).unwrap();
        assert!(text.contains("2 session(s)"));
    }

    fn quote(ua: &str, ticker: &str, t_s: i64) -> Exchange {
        let mut e = call(ua, t_s, 200);
        e.request.target = format!("/v1/quotes/{ticker}?f=1");
        e
    }

    fn ticker(i: usize) -> String {
        let l = |x: usize| char::from(b'A' + (x % 26) as u8);
        format!("{}{}{}", l(i / 676), l(i / 26), l(i))
    }

    #[test]
    fn learnt_names_are_the_ones_stats_gives_during_and_after_the_warm_up() {
        // "me" calls one ticker at the start (inside the warm-up) and after it; the other
        // clients' many tickers teach that the position is a parameter.
        let mut exs = vec![quote("me", "AAPL", 0)];
        for i in 0..WARMUP + 50 {
            exs.push(quote(&format!("c{}", i % 7), &ticker(i), 1 + i as i64));
        }
        exs.push(quote("me", "MSFT", 10_000));
        exs.push(call("me", 10_001, 200));
        let mut j = JourneyCollector::learning(ClientKey::Auto, "unknown me");
        let mut a = crate::analysis::Analyzer::learning(crate::analysis::Config::default());
        j.begin_input();
        a.begin_input("t");
        for e in &exs {
            j.exchange(e);
            a.exchange(e);
        }
        let journey = j.finish(1800 * 1_000_000_000).unwrap();
        let report = a.finish();
        let me = report.clients.iter().find(|c| c.id == "unknown me").unwrap();
        let names: Vec<&str> = journey.sessions.iter().flat_map(|s| &s.calls).map(|c| c.endpoint.as_str()).collect();
        assert_eq!(names, vec!["GET /v1/quotes/{param}", "GET /v1/quotes/{param}", "GET /v1/a/{id}"]);
        let used: Vec<&str> = me.endpoints_used.iter().collect();
        for n in &names {
            assert!(used.contains(n), "{n} not among {used:?}");
        }
        // Without learning, the literal ticker stays.
        let mut plain = JourneyCollector::new(ClientKey::Auto, "unknown me", Box::new(InferredNames));
        plain.exchange(&quote("me", "AAPL", 0));
        let p = plain.finish(1).unwrap();
        assert_eq!(p.sessions[0].calls[0].endpoint, "GET /v1/quotes/AAPL");
    }

    #[test]
    fn hash_part_of_a_label_matches() {
        assert!(matches("bearer:3f9a12c0", "3f9a12c0"));
        assert!(matches("bearer:3f9a12c0", "BEARER:3F9A12C0"));
        assert!(!matches("bearer:3f9a12c0", "3f9a"));
    }
}
