//! Sending a plan with a real HTTP client: reqwest on a tokio runtime, rustls for TLS
//! (HTTP/2 by ALPN, HTTP/1.1 otherwise), one connection pool for the whole run, redirects
//! not followed (a 3xx is an answer to compare), no cookie store, no automatic
//! decompression (bodies are decoded here, as the readers decode recorded ones).
//!
//! Up to `concurrency` requests are in flight; they start as fast as that allows, at a fixed
//! rate, or at the recorded gaps, `times` passes over the plan. Each request ends answered,
//! failed (refused, reset, timed out, TLS, …) or interrupted by [`Stop`] (Ctrl-C in the CLI,
//! the user in the TUI); the run always returns what it has.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::watch;

use super::plan::Prepared;
use super::{Pace, ReplayError};
use crate::model::{Body, Headers, Nanos};

/// Most passes over a plan (`--times`).
pub const MAX_TIMES: u32 = 100_000;
/// Most requests one run sends (passes × requests).
pub const MAX_REQUESTS: usize = 10_000_000;
/// Most requests in flight.
pub const MAX_CONCURRENCY: usize = 1024;

/// How a plan is sent.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Passes over the plan.
    pub times: u32,
    /// When requests start.
    pub pace: Pace,
    /// Limit for one request, connection to last body byte.
    pub timeout: Duration,
    /// Accept any TLS certificate (self-signed staging servers).
    pub insecure: bool,
    /// Largest decoded answer body kept (the size is counted past it).
    pub body_cap: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            concurrency: 1,
            times: 1,
            pace: Pace::AsFast,
            timeout: Duration::from_secs(30),
            insecure: false,
            body_cap: 16 * 1024 * 1024,
        }
    }
}

impl SendOptions {
    /// Check the bounds.
    ///
    /// # Errors
    /// A setting out of range.
    pub fn validate(&self, requests: usize) -> Result<(), ReplayError> {
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(ReplayError::BadSetting(format!("--concurrency must be 1 to {MAX_CONCURRENCY}")));
        }
        if self.times == 0 || self.times > MAX_TIMES {
            return Err(ReplayError::BadSetting(format!("--times must be 1 to {MAX_TIMES}")));
        }
        if requests.saturating_mul(self.times as usize) > MAX_REQUESTS {
            return Err(ReplayError::BadSetting(format!(
                "{requests} requests × {} passes is more than {MAX_REQUESTS} requests",
                self.times
            )));
        }
        Ok(())
    }
}

/// Stops a run: requests not started are not sent, requests in flight end as interrupted.
/// Clones share the signal.
#[derive(Debug, Clone)]
pub struct Stop(Arc<watch::Sender<bool>>);

impl Default for Stop {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl Stop {
    /// A signal not yet given.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Give the signal.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// True once the signal was given.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        // An error means the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Nothing listens at the target (connection refused).
    Refused,
    /// The connection was reset or closed before a whole answer.
    Reset,
    /// No whole answer within the timeout.
    Timeout,
    /// The TLS handshake failed (certificate not trusted, protocol mismatch).
    Tls,
    /// The connection could not be made (name not resolved, unreachable).
    Connect,
    /// The answer broke HTTP (malformed, protocol error).
    Protocol,
}

impl FailureKind {
    /// Short label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Refused => "connection refused",
            Self::Reset => "connection reset or closed",
            Self::Timeout => "timed out",
            Self::Tls => "TLS handshake failed",
            Self::Connect => "cannot connect",
            Self::Protocol => "broken answer",
        }
    }
}

/// A request that got no answer.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The client's message (its whole chain of causes).
    pub message: String,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Canonical reason phrase for the status.
    pub reason: String,
    /// `HTTP/1.1`, `HTTP/2`, …
    pub version: String,
    /// Headers as received (names lower-case).
    pub headers: Headers,
    /// Body, content codings removed.
    pub body: Body,
    /// Time from sending to the answer's head, ns.
    pub ttfb: i64,
}

/// How one request ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The server answered.
    Answered(Box<Answer>),
    /// No (whole) answer.
    Failed(Failure),
    /// Stopped before it ended.
    Interrupted,
}

/// One request sent.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Index into the plan's requests.
    pub request: usize,
    /// Pass (0-based).
    pub pass: u32,
    /// Wall-clock start, ns since the Unix epoch.
    pub started: Nanos,
    /// Request start to end of answer (or failure), ns.
    pub elapsed: i64,
    /// How it ended.
    pub outcome: Outcome,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Every request sent, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// The run was stopped before it sent everything.
    pub stopped: bool,
    /// Wall time of the run, ns.
    pub elapsed: i64,
}

/// One job of the schedule: request index, pass, and when to start it (from the run's
/// start).
type Job = (usize, u32, Duration);

/// The order and start times of every request.
fn schedule(requests: &[Prepared], opts: &SendOptions) -> Vec<Job> {
    let n = requests.len();
    let mut jobs = Vec::with_capacity(n.saturating_mul(opts.times as usize));
    match opts.pace {
        Pace::AsFast => {
            for pass in 0..opts.times {
                jobs.extend((0..n).map(|i| (i, pass, Duration::ZERO)));
            }
        }
        Pace::Rate(r) => {
            let gap = 1.0 / r;
            for pass in 0..opts.times {
                for i in 0..n {
                    let k = pass as usize * n + i;
                    jobs.push((i, pass, Duration::from_secs_f64((k as f64 * gap).min(1e9))));
                }
            }
        }
        Pace::Original => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|i| (requests[*i].recorded_start.unwrap_or(i64::MAX), *i));
            let first = order.first().and_then(|i| requests[*i].recorded_start).unwrap_or(0);
            let offset = |i: usize| {
                let ns = requests[i].recorded_start.map_or(0, |s| (s - first).max(0));
                Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
            };
            // Passes follow one another: the next starts a moment after the last request of
            // the one before.
            let span = order.last().map_or(Duration::ZERO, |i| offset(*i)) + Duration::from_millis(1);
            for pass in 0..opts.times {
                let base = span * pass;
                jobs.extend(order.iter().map(|i| (*i, pass, base + offset(*i))));
            }
        }
    }
    jobs
}

/// The HTTP client for a run.
fn client(opts: &SendOptions) -> Result<reqwest::Client, ReplayError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(opts.insecure)
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.concurrency)
        .build()
        .map_err(|e| ReplayError::Client(chain(&e)))
}

/// Send `requests` per `opts` until done or stopped; `progress(done, total)` is called after
/// each request. With `ctrl_c`, an interrupt signal (Ctrl-C) stops the run instead of the
/// process.
///
/// # Errors
/// The runtime or client cannot be built, or a setting is out of range.
pub fn run(
    requests: Arc<[Prepared]>,
    opts: &SendOptions,
    stop: &Stop,
    ctrl_c: bool,
    progress: Arc<dyn Fn(u64, u64) + Send + Sync>,
) -> Result<Run, ReplayError> {
    opts.validate(requests.len())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ReplayError::Client(e.to_string()))?;
    let jobs: Arc<[Job]> = schedule(&requests, opts).into();
    let client = client(opts)?;
    let out = rt.block_on(async {
        if ctrl_c {
            let s = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    s.stop();
                }
            });
        }
        let shared = Arc::new(Shared {
            requests,
            jobs,
            next: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            client,
            body_cap: opts.body_cap,
            stop: stop.clone(),
            progress,
            start: Instant::now(),
        });
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..opts.concurrency.min(shared.jobs.len().max(1)) {
            set.spawn(worker(shared.clone()));
        }
        let mut attempts = Vec::with_capacity(shared.jobs.len());
        while let Some(r) = set.join_next().await {
            // A worker that panicked loses only its own list; the run goes on.
            if let Ok(mut a) = r {
                attempts.append(&mut a);
            }
        }
        let elapsed = i64::try_from(shared.start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let stopped = (stop.is_stopped() && attempts.len() < shared.jobs.len())
            || attempts.iter().any(|a| matches!(a.outcome, Outcome::Interrupted));
        Run { attempts, stopped, elapsed }
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(out)
}

/// What the workers share.
struct Shared {
    requests: Arc<[Prepared]>,
    jobs: Arc<[Job]>,
    next: AtomicUsize,
    done: AtomicU64,
    client: reqwest::Client,
    body_cap: usize,
    stop: Stop,
    progress: Arc<dyn Fn(u64, u64) + Send + Sync>,
    start: Instant,
}

/// Take jobs in order until none is left or the run is stopped.
async fn worker(s: Arc<Shared>) -> Vec<Attempt> {
    let mut out = Vec::new();
    let total = s.jobs.len() as u64;
    loop {
        if s.stop.is_stopped() {
            break;
        }
        let j = s.next.fetch_add(1, Ordering::Relaxed);
        let Some(&(i, pass, due)) = s.jobs.get(j) else { break };
        let wait = tokio::time::sleep_until(tokio::time::Instant::from_std(s.start + due));
        tokio::select! {
            () = wait => {}
            () = s.stop.stopped() => break,
        }
        let started = now_ns();
        let t0 = Instant::now();
        let outcome = tokio::select! {
            o = send_one(&s.client, &s.requests[i], s.body_cap) => o,
            () = s.stop.stopped() => Outcome::Interrupted,
        };
        let elapsed = i64::try_from(t0.elapsed().as_nanos()).unwrap_or(i64::MAX);
        out.push(Attempt { request: i, pass, started, elapsed, outcome });
        let done = s.done.fetch_add(1, Ordering::Relaxed) + 1;
        (s.progress)(done, total);
    }
    out
}

/// Now on the wall clock, ns since the Unix epoch.
fn now_ns() -> Nanos {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Send one request and read its whole answer.
async fn send_one(client: &reqwest::Client, p: &Prepared, cap: usize) -> Outcome {
    let method = match reqwest::Method::from_bytes(p.method.as_bytes()) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(Failure { kind: FailureKind::Protocol, message: e.to_string() }),
    };
    let mut rb = client.request(method, p.url.clone());
    for (n, v) in &p.headers {
        rb = rb.header(n.as_str(), v.as_str());
    }
    if !p.body.is_empty() {
        rb = rb.body(p.body.clone());
    }
    let t0 = Instant::now();
    let mut resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(failure(&e)),
    };
    let ttfb = i64::try_from(t0.elapsed().as_nanos()).unwrap_or(i64::MAX);
    let status = resp.status();
    let version = version_label(resp.version());
    let mut headers = Headers::default();
    for (n, v) in resp.headers() {
        headers.push(n.as_str(), String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let mut wire = Vec::new();
    let mut size = 0u64;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                size += c.len() as u64;
                let room = cap.saturating_sub(wire.len());
                wire.extend_from_slice(&c[..c.len().min(room)]);
            }
            Ok(None) => break,
            Err(e) => return Outcome::Failed(failure(&e)),
        }
    }
    let body = decoded_body(&headers, wire, size, cap);
    Outcome::Answered(Box::new(Answer {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("").to_string(),
        version,
        headers,
        body,
        ttfb,
    }))
}

/// The body with its content codings removed (as recorded bodies are).
fn decoded_body(headers: &Headers, wire: Vec<u8>, wire_size: u64, cap: usize) -> Body {
    let cut = wire.len() as u64 != wire_size;
    let codings = headers.get("content-encoding").map(crate::http::decode::codings).unwrap_or_default();
    if codings.is_empty() {
        let mut b = Body::from_bytes(wire);
        b.size = wire_size;
        b.truncated = cut;
        return b;
    }
    let d = crate::http::decode::decode(&codings, &wire, cap);
    Body {
        content: d.content,
        size: d.size,
        wire_size: Some(wire_size),
        encoding: headers.get("content-encoding").map(str::to_string),
        truncated: d.truncated || cut,
        decode_error: d.error,
        wire: Some(wire),
        ..Body::default()
    }
}

/// `HTTP/1.1`, `HTTP/2`, … as the readers label versions.
fn version_label(v: reqwest::Version) -> String {
    let label = if v == reqwest::Version::HTTP_2 {
        "HTTP/2"
    } else if v == reqwest::Version::HTTP_3 {
        "HTTP/3"
    } else if v == reqwest::Version::HTTP_10 {
        "HTTP/1.0"
    } else if v == reqwest::Version::HTTP_09 {
        "HTTP/0.9"
    } else {
        "HTTP/1.1"
    };
    label.to_string()
}

/// The error and its causes, `: `-joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Classify a client error.
fn failure(e: &reqwest::Error) -> Failure {
    let message = chain(e);
    Failure { kind: classify(e, &message), message }
}

fn classify(e: &reqwest::Error, message: &str) -> FailureKind {
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return FailureKind::Refused,
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    return FailureKind::Reset;
                }
                K::TimedOut => return FailureKind::Timeout,
                _ => {}
            }
        }
        cur = c.source();
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        FailureKind::Tls
    } else if lower.contains("connection closed") || lower.contains("reset") || lower.contains("broken pipe") {
        FailureKind::Reset
    } else if e.is_connect() {
        FailureKind::Connect
    } else {
        FailureKind::Protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exchange;

    fn plan(starts: &[i64]) -> Vec<Prepared> {
        let o = super::super::plan::PlanOptions {
            target: "http://127.0.0.1:1".parse().unwrap(),
            allow_unsafe: false,
            headers: vec![],
            keep_host: false,
        };
        starts
            .iter()
            .map(|s| super::super::plan::prepare(&Exchange::builder("GET", "/").start(*s).build(), &o).unwrap())
            .collect()
    }

    #[test]
    fn original_pace_keeps_recorded_gaps_and_order_across_passes() {
        let p = plan(&[2_000_000_000, 1_000_000_000, 1_500_000_000]);
        let o = SendOptions { pace: Pace::Original, times: 2, ..SendOptions::default() };
        let s = schedule(&p, &o);
        let got: Vec<(usize, u32, u128)> = s.iter().map(|(i, p, d)| (*i, *p, d.as_millis())).collect();
        assert_eq!(got, vec![(1, 0, 0), (2, 0, 500), (0, 0, 1000), (1, 1, 1001), (2, 1, 1501), (0, 1, 2001)]);
    }

    #[test]
    fn a_rate_spaces_requests_evenly() {
        let p = plan(&[0, 0]);
        let o = SendOptions { pace: Pace::Rate(4.0), times: 2, ..SendOptions::default() };
        let ms: Vec<u128> = schedule(&p, &o).iter().map(|j| j.2.as_millis()).collect();
        assert_eq!(ms, vec![0, 250, 500, 750]);
    }

    #[test]
    fn bounds_are_checked() {
        let o = SendOptions { concurrency: 0, ..SendOptions::default() };
        assert!(o.validate(1).is_err());
        let o = SendOptions { times: MAX_TIMES, ..SendOptions::default() };
        assert!(o.validate(MAX_REQUESTS).is_err());
        assert!(SendOptions::default().validate(10).is_ok());
    }

    #[test]
    fn gzip_answers_are_decoded() {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"{\"a\":1}").unwrap();
        let gz = enc.finish().unwrap();
        let mut h = Headers::default();
        h.push("content-encoding", "gzip");
        let n = gz.len() as u64;
        let b = decoded_body(&h, gz, n, 1024);
        assert_eq!(b.content, b"{\"a\":1}");
        assert_eq!(b.encoding.as_deref(), Some("gzip"));
    }
}
