//! The replay dialog: confirm where the focused, marked or shown flows are sent (the target
//! from `--target` or typed at a prompt), send them on a background thread
//! (`replay::send`), and show each request's outcome and the summary when done. Closing the
//! dialog while it runs stops the run; what was sent is still reported.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError};

use super::action::{Action, scroll};
use super::exportdialog::Scope;
use crate::model::Exchange;
use crate::replay::Target;
use crate::replay::compare::CompareOptions;
use crate::replay::plan::{Plan, PlanOptions};
use crate::replay::report::{self, Report, Settings, Verdict};
use crate::replay::send::{self, SendOptions, Stop};

/// Where the dialog is.
#[derive(Debug)]
pub enum Stage {
    /// Asking for confirmation.
    Confirm,
    /// Sending: done of total.
    Running {
        /// Requests ended.
        done: u64,
        /// Requests to send.
        total: u64,
    },
    /// Finished (or stopped): the report.
    Done(Box<Report>),
    /// Could not run.
    Failed(String),
}

/// A message from the replay thread.
#[derive(Debug)]
enum Msg {
    Progress(u64, u64),
    Finished(Box<Report>),
    Failed(String),
}

/// The running replay.
#[derive(Debug)]
struct Job {
    rx: Receiver<Msg>,
    stop: Stop,
    handle: Option<JoinHandle<()>>,
}

/// The replay dialog.
#[derive(Debug)]
pub struct ReplayDialog {
    /// Where requests go.
    pub target: Target,
    /// Which flows.
    pub scope: Scope,
    /// Send unsafe methods too.
    pub allow_unsafe: bool,
    /// Where it is.
    pub stage: Stage,
    /// First result line shown.
    pub scroll: usize,
    job: Option<Job>,
}

impl Drop for ReplayDialog {
    fn drop(&mut self) {
        if let Some(j) = self.job.take() {
            j.stop.stop();
            // The thread ends soon after the stop; it is not waited for here.
            drop(j.handle);
        }
    }
}

/// What the dialog asks the app to do after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Start sending the flows of this scope.
    Start(Scope),
}

impl ReplayDialog {
    /// A dialog confirming a replay of `scope` to `target`.
    #[must_use]
    pub fn new(target: Target, scope: Scope) -> Self {
        Self { target, scope, allow_unsafe: false, stage: Stage::Confirm, scroll: 0, job: None }
    }

    /// True while requests are being sent.
    #[must_use]
    pub fn running(&self) -> bool {
        matches!(self.stage, Stage::Running { .. })
    }

    /// Apply an action of the dialog.
    pub fn update(&mut self, a: Action, page: usize) -> Effect {
        match (&self.stage, a) {
            (Stage::Confirm, Action::CycleScope) => self.scope = next(self.scope),
            (Stage::Confirm, Action::AllowUnsafe) => self.allow_unsafe = !self.allow_unsafe,
            (Stage::Confirm, Action::Toggle) => return Effect::Start(self.scope),
            (Stage::Done(r), _) => {
                let lines = result_lines(r).len();
                scroll(&mut self.scroll, lines, page, a);
            }
            _ => {}
        }
        Effect::None
    }

    /// Rebuild `flows` for the target and start sending them on a background thread.
    pub fn start(&mut self, flows: &[&Exchange]) {
        let popts = PlanOptions {
            target: self.target.clone(),
            allow_unsafe: self.allow_unsafe,
            headers: vec![],
            keep_host: false,
        };
        let mut plan = Plan::default();
        for ex in flows {
            plan.add(ex, &popts);
        }
        let sopts = SendOptions { timeout: std::time::Duration::from_secs(30), ..SendOptions::default() };
        let total = plan.requests.len() as u64;
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Stop::new();
        let recorded = flows.len();
        let target = self.target.clone();
        let st = stop.clone();
        let spawned = std::thread::Builder::new().name("replay".into()).spawn(move || {
            let ptx = tx.clone();
            let progress: Arc<dyn Fn(u64, u64) + Send + Sync> = Arc::new(move |d, t| {
                let _ = ptx.send(Msg::Progress(d, t));
            });
            let requests: Arc<[crate::replay::plan::Prepared]> = plan.requests.clone().into();
            let msg = match send::run(requests, &sopts, &st, false, progress) {
                Ok(run) => {
                    let cmp = CompareOptions::default();
                    let s = Settings { target: &target, send: &sopts, compare: &cmp, recorded };
                    Msg::Finished(Box::new(report::build(&plan, &run, s)))
                }
                Err(e) => Msg::Failed(e.to_string()),
            };
            let _ = tx.send(msg);
        });
        match spawned {
            Ok(handle) => {
                self.stage = Stage::Running { done: 0, total };
                self.job = Some(Job { rx, stop, handle: Some(handle) });
            }
            Err(e) => self.stage = Stage::Failed(format!("cannot start the replay: {e}")),
        }
    }

    /// Stop a running replay (the report of what was sent follows).
    pub fn stop(&self) {
        if let Some(j) = &self.job {
            j.stop.stop();
        }
    }

    /// Take what the replay thread sent; true when something changed on screen.
    pub fn tick(&mut self) -> bool {
        let Some(job) = &self.job else { return false };
        let mut changed = false;
        loop {
            match job.rx.try_recv() {
                Ok(Msg::Progress(d, t)) => {
                    self.stage = Stage::Running { done: d, total: t };
                    changed = true;
                }
                Ok(Msg::Finished(r)) => {
                    self.stage = Stage::Done(r);
                    self.finish_job();
                    return true;
                }
                Ok(Msg::Failed(e)) => {
                    self.stage = Stage::Failed(e);
                    self.finish_job();
                    return true;
                }
                Err(TryRecvError::Empty) => return changed,
                Err(TryRecvError::Disconnected) => {
                    self.stage = Stage::Failed("the replay thread ended without a report".into());
                    self.finish_job();
                    return true;
                }
            }
        }
    }

    fn finish_job(&mut self) {
        if let Some(mut j) = self.job.take() {
            if let Some(h) = j.handle.take() {
                let _ = h.join();
            }
        }
    }

    /// The status line once done: `replayed 5: 4 identical, 1 differing, 0 failed`.
    #[must_use]
    pub fn summary(&self) -> Option<String> {
        match &self.stage {
            Stage::Done(r) => Some(summary(r)),
            Stage::Failed(e) => Some(format!("replay failed: {e}")),
            _ => None,
        }
    }
}

fn next(s: Scope) -> Scope {
    match s {
        Scope::Focused => Scope::Marked,
        Scope::Marked => Scope::Shown,
        Scope::Shown => Scope::Focused,
    }
}

/// One line of totals.
#[must_use]
pub fn summary(r: &Report) -> String {
    format!(
        "replayed {} to {}: {} identical, {} differing, {} failed{}; held back {} ({} unsafe){}",
        r.sent,
        r.target,
        r.identical,
        r.differing,
        r.failed,
        if r.interrupted > 0 { format!(", {} interrupted", r.interrupted) } else { String::new() },
        r.skipped,
        r.held_back_unsafe,
        if r.stopped { " — stopped" } else { "" }
    )
}

/// The result lines: one per request (its verdict, statuses, latency, first difference or
/// failure), then the held-back reasons.
#[must_use]
pub fn result_lines(r: &Report) -> Vec<(Verdict, String)> {
    let mut out = Vec::new();
    for q in &r.requests {
        let rec = q.recorded_status.map_or("-".to_string(), |s| s.to_string());
        let now = q.status.map_or("-".to_string(), |s| s.to_string());
        let why = q
            .failure
            .as_ref()
            .map(|f| format!(" — {}", f.kind.label()))
            .or_else(|| {
                q.differences.first().map(|d| {
                    let more = q.differences.len() + q.more_differences - 1;
                    let more = if more > 0 { format!(" (+{more})") } else { String::new() };
                    format!(" — {d}{more}")
                })
            })
            .unwrap_or_default();
        out.push((
            q.verdict,
            format!(
                "{:<11} {rec:>3} → {now:<3} {:>8.1} ms  #{} {} {}{why}",
                q.verdict.label(),
                q.latency_ms,
                q.seq,
                q.method,
                q.url
            ),
        ));
    }
    for g in &r.skip_reasons {
        out.push((Verdict::Interrupted, format!("held back {}: {}", g.count, g.what)));
    }
    out
}
