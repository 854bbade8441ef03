//! The replayed requests as exchanges, for `--out`: the request as sent to the target, the
//! answer as received (bodies decoded, as the readers keep them), wall-clock timings, and a
//! comment naming the recorded exchange. Failed and interrupted requests are exchanges
//! without an answer and with the reason. The HAR exporter writes them (secrets redacted
//! unless the caller turns that off), and every apiscope command reads the file back.

use std::io::Write;

use super::plan::{Plan, Prepared};
use super::send::{Attempt, Outcome, Run};
use crate::export::{ExportOptions, Exporter, Format, Redaction};
use crate::model::{Exchange, Headers, Request, Response, State, Timing};

/// The exchange for one attempt of `p`.
#[must_use]
pub fn exchange(p: &Prepared, a: &Attempt, seq: u64) -> Exchange {
    let mut headers = Headers::default();
    let authority = p.url.port().map_or_else(
        || p.url.host_str().unwrap_or("").to_string(),
        |port| format!("{}:{port}", p.url.host_str().unwrap_or("")),
    );
    if !p.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        headers.push("Host", authority.clone());
    }
    for (n, v) in &p.headers {
        headers.push(n.clone(), v.clone());
    }
    let target = match p.url.query() {
        Some(q) => format!("{}?{q}", p.url.path()),
        None => p.url.path().to_string(),
    };
    let mut ex = Exchange {
        seq,
        request: Request {
            method: p.method.clone(),
            scheme: Some(p.url.scheme().to_string()),
            host: Some(authority),
            target,
            version: String::new(),
            headers,
            body: crate::model::Body::from_bytes(p.body.clone()),
        },
        comment: Some(format!(
            "replay of exchange {} from {}{}",
            p.seq,
            p.source,
            if a.pass > 0 { format!(", pass {}", a.pass + 1) } else { String::new() }
        )),
        ..Exchange::default()
    };
    let start = a.started;
    match &a.outcome {
        Outcome::Answered(ans) => {
            ex.request.version.clone_from(&ans.version);
            ex.response = Some(Response {
                status: ans.status,
                reason: ans.reason.clone(),
                version: ans.version.clone(),
                headers: ans.headers.clone(),
                body: ans.body.clone(),
            });
            ex.timing = Timing {
                request_start: Some(start),
                request_end: Some(start),
                response_start: Some(start + ans.ttfb),
                response_end: Some(start + a.elapsed),
            };
        }
        Outcome::Failed(f) => {
            ex.state = State::Failed(format!("{}: {}", f.kind.label(), f.message));
            ex.timing = Timing { request_start: Some(start), request_end: Some(start), ..Timing::default() };
        }
        Outcome::Interrupted => {
            ex.state = State::Aborted("replay stopped".into());
            ex.timing = Timing { request_start: Some(start), request_end: Some(start), ..Timing::default() };
        }
    }
    ex
}

/// Write every attempt of `run` as a HAR log to `w`, in start order, secrets redacted unless
/// `redact` is false; returns how many entries were written.
///
/// # Errors
/// The writer's error.
pub fn write<W: Write>(w: W, plan: &Plan, run: &Run, redact: bool) -> std::io::Result<u64> {
    let opts = ExportOptions { redaction: if redact { Redaction::default() } else { Redaction::off() }, name: None };
    let mut e = Exporter::new(w, Format::Har, opts);
    let mut attempts: Vec<&Attempt> = run.attempts.iter().collect();
    attempts.sort_by_key(|a| (a.started, a.pass, a.request));
    for (seq, a) in attempts.into_iter().enumerate() {
        if let Some(p) = plan.requests.get(a.request) {
            e.write(&exchange(p, a, seq as u64))?;
        }
    }
    let n = e.count();
    e.finish()?;
    Ok(n)
}
