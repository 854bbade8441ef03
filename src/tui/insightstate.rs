//! State and actions of the insight views (gaps, endpoints, clients, structure, journey) and
//! of the saved-filters popup, and the tick that keeps the background recomputation in step
//! with the filter: whenever the shown flows change, a new generation is submitted.
//! [`InsightState::update`] applies one action and answers with what the app must do next
//! ([`InsightEffect`]); it never reaches into the app.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::action::Action;
use super::config::SavedFilters;
use super::insight::{GapGroup, Insight, InsightWorker, Job, SpecContext, quote};
use super::screen::Screen;
use super::status::Level;
use crate::analysis::report::{ClientReport, EndpointReport};
use crate::model::Nanos;
use crate::model::text::visible;
use crate::spec::Spec;
use crate::spec::check::{CheckOptions, Checker};
use crate::store::{FlowId, FlowStore, NONE_NS};

/// Idle gap that splits a journey into sessions (as `apiscope journey`).
pub const SESSION_GAP: Nanos = 30 * 60 * 1_000_000_000;

/// Endpoint table sort keys.
pub const ENDPOINT_SORTS: [&str; 6] = ["requests", "error rate", "p95 ttfb", "p95 total", "clients", "name"];
/// Client table sort keys.
pub const CLIENT_SORTS: [&str; 5] = ["requests", "error rate", "p95 total", "flags", "id"];

/// One line of a journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JourneyRow {
    /// A session header: number, calls, errors, start, end.
    Session(usize, usize, usize, Option<Nanos>, Option<Nanos>),
    /// One call.
    Call(FlowId),
}

/// A client's journey.
#[derive(Debug, Clone)]
pub struct JourneyView {
    /// Client id.
    pub client: String,
    /// Lines.
    pub rows: Vec<JourneyRow>,
    /// Focused line.
    pub focus: usize,
}

/// What the shown flows were computed for: flows loaded, filter, marked-only, marks, shown.
type Sig = (usize, String, bool, usize, usize);

/// Results kept for going back ([`InsightState::tick`]).
const RECENT: usize = 4;

/// The insight views' state.
#[derive(Debug, Default)]
pub struct InsightState {
    /// Full path of the spec.
    pub spec_path: Option<PathBuf>,
    worker: Option<InsightWorker>,
    ctx: Option<Arc<SpecContext>>,
    spec_error: Option<String>,
    /// The newest result.
    pub data: Option<Insight>,
    generation: u64,
    sig: Option<Sig>,
    /// The sig of the job the worker runs.
    submitted: Option<Sig>,
    /// The last few results with the sig they were computed for: going back to a filter
    /// shown a moment ago shows its numbers at once.
    recent: Vec<(Sig, Insight)>,
    /// Focused row per screen (index into [`Screen::ALL`]).
    pub focus: [usize; 5],
    /// Endpoint sort key (index into [`ENDPOINT_SORTS`]).
    pub endpoint_sort: usize,
    /// Client sort key (index into [`CLIENT_SORTS`]).
    pub client_sort: usize,
    /// Ascending instead of descending.
    pub reverse: bool,
    /// Clients view: only the clients with pattern flags.
    pub flagged_only: bool,
    /// Structure nodes whose default expansion is flipped.
    pub toggled: HashSet<String>,
    /// The open journey (clients view).
    pub journey: Option<JourneyView>,
    /// Saved filters.
    pub saved: SavedFilters,
    /// Saved-filters popup with its cursor.
    pub saved_popup: Option<usize>,
    pending_save: Option<String>,
    started: Option<Instant>,
    /// The background pass computing every client's pattern flags (`~flag`), and the number
    /// of flows it covers.
    flags_job: Option<std::thread::JoinHandle<()>>,
    flags_for: Option<usize>,
}

impl InsightState {
    /// State for a spec at `path` (loaded on first use).
    #[must_use]
    pub fn with_spec(path: Option<PathBuf>) -> Self {
        Self { spec_path: path, ..Self::default() }
    }

    /// The spec-aware filter context (loads the spec on first use).
    pub fn extra(&mut self, spec: Option<&str>, api: Option<&Arc<Spec>>) -> Arc<dyn super::filterbar::Extra> {
        self.context(spec, api)
    }

    fn context(&mut self, spec: Option<&str>, api: Option<&Arc<Spec>>) -> Arc<SpecContext> {
        if let Some(c) = &self.ctx {
            return Arc::clone(c);
        }
        let mut ctx = SpecContext::default();
        if let Some(s) = api {
            ctx.checker = Some(Arc::new(Checker::new(Arc::clone(s), CheckOptions::default())));
            ctx.spec = Some(Arc::clone(s));
        } else if let Some(p) = self.spec_path.clone().or_else(|| spec.map(PathBuf::from)) {
            match Spec::load(&p) {
                Ok(s) => {
                    let s = Arc::new(s);
                    ctx.checker = Some(Arc::new(Checker::new(Arc::clone(&s), CheckOptions::default())));
                    ctx.spec = Some(s);
                }
                Err(e) => self.spec_error = Some(visible(&e.to_string()).into_owned()),
            }
        }
        let c = Arc::new(ctx);
        self.ctx = Some(Arc::clone(&c));
        c
    }

    /// Compute every client's pattern flags over all loaded flows in the background (once
    /// per number of flows loaded); `~flag` answers from them when done.
    pub fn start_flags(&mut self, store: &FlowStore, spec: SpecRef<'_>) {
        if self.flags_job.is_some() || self.flags_for == Some(store.len()) {
            return;
        }
        let ctx = self.context(spec.name, spec.api);
        let ids: Vec<FlowId> = (0..store.len()).filter_map(|i| FlowId::try_from(i).ok()).collect();
        let job = if store.has_lazy() {
            Job { generation: 0, flows: Vec::new(), plan: Some(store.scan_plan(&ids)), total: ids.len() }
        } else {
            let flows: Vec<_> = ids.iter().filter_map(|id| store.shared(*id).map(|e| (*id, e))).collect();
            Job { generation: 0, total: flows.len(), flows, plan: None }
        };
        self.flags_for = Some(store.len());
        self.flags_job = std::thread::Builder::new()
            .name("apiscope-flags".into())
            .spawn(move || ctx.flags.set(super::insight::client_flags_of_job(job, ctx.spec.as_deref())))
            .ok();
    }

    /// True once, when the flags pass has just finished.
    pub fn poll_flags(&mut self) -> bool {
        if self.flags_job.as_ref().is_some_and(std::thread::JoinHandle::is_finished) {
            if let Some(j) = self.flags_job.take() {
                let _ = j.join();
            }
            return true;
        }
        false
    }

    /// True while the flags pass runs.
    #[must_use]
    pub fn flags_pending(&self) -> bool {
        self.flags_job.is_some()
    }

    /// Block until the flags pass is done (tests).
    pub fn wait_flags(&mut self) {
        if let Some(j) = self.flags_job.take() {
            let _ = j.join();
        }
    }

    /// Why the spec could not be loaded.
    #[must_use]
    pub fn spec_error(&self) -> Option<&str> {
        self.spec_error.as_deref()
    }

    /// True while a recomputation runs.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.started.is_some()
    }

    /// (done, total) of the running recomputation.
    #[must_use]
    pub fn progress(&self) -> Option<(usize, usize)> {
        let w = self.worker.as_ref()?;
        self.started?;
        Some((w.progress.done.load(Ordering::Relaxed), w.progress.total.load(Ordering::Relaxed)))
    }

    /// Block until the newest generation is computed (tests, benchmarks).
    pub fn wait(&mut self, timeout: std::time::Duration) -> bool {
        let Some(w) = &self.worker else { return false };
        match w.wait(timeout) {
            Some(r) => {
                if let Some(s) = self.submitted.take() {
                    self.recent.retain(|(k, _)| *k != s);
                    self.recent.push((s, r.clone()));
                }
                self.data = Some(r);
                self.started = None;
                true
            }
            None => false,
        }
    }
}

/// Endpoint indices in display order.
#[must_use]
pub fn endpoint_order(eps: &[EndpointReport], sort: usize, reverse: bool) -> Vec<usize> {
    let mut v: Vec<usize> = (0..eps.len()).collect();
    let p95 = |o: Option<crate::analysis::kpi::Percentiles>| o.map_or(0, |p| p.p95_us);
    v.sort_by(|&a, &b| {
        let (x, y) = (&eps[a], &eps[b]);
        let o = match sort {
            1 => y.kpis.error_rate.total_cmp(&x.kpis.error_rate),
            2 => p95(y.kpis.ttfb).cmp(&p95(x.kpis.ttfb)),
            3 => p95(y.kpis.total).cmp(&p95(x.kpis.total)),
            4 => y.clients.cmp(&x.clients),
            5 => x.name.cmp(&y.name),
            _ => y.kpis.requests.cmp(&x.kpis.requests),
        };
        let o = o.then_with(|| x.name.cmp(&y.name));
        if reverse { o.reverse() } else { o }
    });
    v
}

/// Client indices in display order.
#[must_use]
pub fn client_order(cls: &[ClientReport], sort: usize, reverse: bool, flagged_only: bool) -> Vec<usize> {
    let mut v: Vec<usize> =
        (0..cls.len()).filter(|i| !flagged_only || cls[*i].flags.iter().any(|f| f.is_client_behaviour())).collect();
    v.sort_by(|&a, &b| {
        let (x, y) = (&cls[a], &cls[b]);
        let o = match sort {
            1 => y.kpis.error_rate.total_cmp(&x.kpis.error_rate),
            2 => y.kpis.total.map_or(0, |p| p.p95_us).cmp(&x.kpis.total.map_or(0, |p| p.p95_us)),
            3 => (y.flags.len() + y.poor_experience.len()).cmp(&(x.flags.len() + x.poor_experience.len())),
            4 => x.id.cmp(&y.id),
            _ => y.kpis.requests.cmp(&x.kpis.requests),
        };
        let o = o.then_with(|| x.id.cmp(&y.id));
        if reverse { o.reverse() } else { o }
    });
    v
}

/// Structure node indices shown (hosts expanded, endpoints collapsed by default).
#[must_use]
pub fn visible_nodes(ui: &InsightState) -> Vec<usize> {
    let Some(d) = &ui.data else { return vec![] };
    let mut out = Vec::new();
    let (mut host_open, mut ep_open) = (false, false);
    for (i, n) in d.tree.iter().enumerate() {
        let flipped = ui.toggled.contains(&n.key);
        match n.depth {
            0 => {
                out.push(i);
                host_open = !flipped;
            }
            1 => {
                if host_open {
                    out.push(i);
                }
                ep_open = host_open && flipped;
            }
            _ => {
                if ep_open {
                    out.push(i);
                }
            }
        }
    }
    out
}

/// What the app does after an insight action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsightEffect {
    /// Show a status message.
    Note(String, Level),
    /// Apply this filter text.
    ApplyFilter(String),
    /// Show the flows of the focused row: this filter, combined with the current one, on the
    /// flows view.
    Drill(String),
    /// Open this flow's detail (a journey call).
    OpenFlow(FlowId),
    /// Mark every flow of this client.
    MarkClient(String),
    /// Show this client's journey on the clients view.
    OpenJourney(String),
    /// Ask for the name to save the pending filter under.
    AskSaveName,
}

/// What an insight action may read of the app.
#[derive(Debug, Clone, Copy)]
pub struct InsightCtx<'a> {
    /// The current screen.
    pub screen: Screen,
    /// The flows.
    pub store: &'a FlowStore,
    /// The applied filter text.
    pub filter_text: &'a str,
    /// Rows the body shows.
    pub page: usize,
}

fn info(s: impl Into<String>) -> Option<InsightEffect> {
    Some(InsightEffect::Note(s.into(), Level::Info))
}

fn error(s: impl Into<String>) -> Option<InsightEffect> {
    Some(InsightEffect::Note(s.into(), Level::Error))
}

impl InsightState {
    /// The loaded spec, once an insight view or a filter needed it.
    #[must_use]
    pub fn spec(&self) -> Option<Arc<Spec>> {
        self.ctx.as_ref()?.spec.clone()
    }

    fn rows_on_screen(&self, screen: Screen) -> usize {
        let Some(d) = &self.data else { return 0 };
        match screen {
            Screen::Flows | Screen::Versions => 0,
            Screen::Gaps => d.gaps.as_ref().map_or(0, |g| g.groups.len()),
            Screen::Endpoints => d.report.endpoints.len(),
            Screen::Clients => match &self.journey {
                Some(j) => j.rows.len(),
                None => client_order(&d.report.clients, 0, false, self.flagged_only).len(),
            },
            Screen::Structure => visible_nodes(self).len(),
        }
    }

    /// The focused row of `screen`.
    #[must_use]
    pub fn focus_on(&self, screen: Screen) -> usize {
        match (&self.journey, screen) {
            (Some(j), Screen::Clients) => j.focus,
            _ => self.focus[screen.index()],
        }
    }

    fn set_focus(&mut self, screen: Screen, f: usize) {
        match (&mut self.journey, screen) {
            (Some(j), Screen::Clients) => j.focus = f,
            _ => self.focus[screen.index()] = f,
        }
    }

    /// The focused client id on the clients view.
    #[must_use]
    pub fn focused_client(&self) -> Option<String> {
        let d = self.data.as_ref()?;
        let order = client_order(&d.report.clients, self.client_sort, self.reverse, self.flagged_only);
        let i = *order.get(self.focus[Screen::Clients.index()])?;
        d.report.clients.get(i).map(|c| c.id.clone())
    }

    /// Open the saved-filters popup (the file is read again); a message when it has problems.
    pub fn open_saved(&mut self) -> Option<InsightEffect> {
        let (saved, problem) = SavedFilters::load();
        self.saved = saved;
        self.saved_popup = Some(0);
        problem.and_then(|e| error(format!("saved filters: {e}")))
    }

    /// Apply one action of the insight views or the saved-filters popup.
    pub fn update(&mut self, a: Action, cx: InsightCtx<'_>) -> Option<InsightEffect> {
        if let Some(cur) = self.saved_popup {
            return self.update_saved(a, cur);
        }
        let screen = cx.screen;
        let len = self.rows_on_screen(screen);
        let page = cx.page.saturating_sub(6).max(1);
        let f = self.focus_on(screen);
        match a {
            Action::Down => self.set_focus(screen, (f + 1).min(len.saturating_sub(1))),
            Action::Up => self.set_focus(screen, f.saturating_sub(1)),
            Action::PageDown => self.set_focus(screen, (f + page).min(len.saturating_sub(1))),
            Action::PageUp => self.set_focus(screen, f.saturating_sub(page)),
            Action::Top => self.set_focus(screen, 0),
            Action::Bottom => self.set_focus(screen, len.saturating_sub(1)),
            Action::Open => return self.drill(screen),
            Action::Toggle if screen == Screen::Structure => self.toggle_node(f),
            Action::CycleOrder => return self.cycle_order(screen),
            Action::Reverse => self.reverse = !self.reverse,
            Action::Journey | Action::HideClient | Action::MarkClient | Action::FlaggedOnly
                if screen != Screen::Clients =>
            {
                return info("that key acts on the focused client: open the clients view (4) first".to_string());
            }
            Action::Journey => return self.focused_client().map(InsightEffect::OpenJourney),
            Action::HideClient => {
                let c = self.focused_client()?;
                let term = format!("!~client {}", quote(&c));
                let text = if cx.filter_text.is_empty() { term } else { format!("({}) & {term}", cx.filter_text) };
                return Some(InsightEffect::ApplyFilter(text));
            }
            Action::MarkClient => return self.focused_client().map(InsightEffect::MarkClient),
            Action::FlaggedOnly => {
                self.flagged_only = !self.flagged_only;
                self.set_focus(screen, 0);
                return info(if self.flagged_only { "flagged clients only (a: all clients)" } else { "all clients" });
            }
            Action::SaveFilter => {
                let expr = match (screen, self.focused_client()) {
                    (Screen::Clients, Some(c)) => format!("~client {}", quote(&c)),
                    _ => cx.filter_text.to_string(),
                };
                if expr.is_empty() {
                    return error("no filter to save");
                }
                self.pending_save = Some(expr);
                return Some(InsightEffect::AskSaveName);
            }
            _ => {}
        }
        None
    }

    fn update_saved(&mut self, a: Action, cur: usize) -> Option<InsightEffect> {
        let len = self.saved.filters.len();
        match a {
            Action::Down => self.saved_popup = Some((cur + 1).min(len.saturating_sub(1))),
            Action::Up => self.saved_popup = Some(cur.saturating_sub(1)),
            Action::Top => self.saved_popup = Some(0),
            Action::Bottom => self.saved_popup = Some(len.saturating_sub(1)),
            Action::Open => {
                let expr = self.saved.filters.values().nth(cur).cloned()?;
                self.saved_popup = None;
                return Some(InsightEffect::ApplyFilter(expr));
            }
            Action::DeleteSaved => {
                let k = self.saved.filters.keys().nth(cur).cloned()?;
                self.saved.filters.remove(&k);
                let note = match self.saved.save() {
                    Ok(_) => info(format!("deleted saved filter {}", visible(&k))),
                    Err(e) => error(format!("saving filters: {e}")),
                };
                self.saved_popup = Some(cur.min(self.saved.filters.len().saturating_sub(1)));
                return note;
            }
            _ => {}
        }
        None
    }

    fn toggle_node(&mut self, f: usize) {
        let vis = visible_nodes(self);
        let key = vis.get(f).and_then(|i| self.data.as_ref()?.tree.get(*i)).map(|n| n.key.clone());
        if let Some(k) = key
            && !self.toggled.remove(&k)
        {
            self.toggled.insert(k);
        }
    }

    fn cycle_order(&mut self, screen: Screen) -> Option<InsightEffect> {
        match screen {
            Screen::Endpoints => {
                self.endpoint_sort = (self.endpoint_sort + 1) % ENDPOINT_SORTS.len();
                info(format!("endpoints by {}", ENDPOINT_SORTS[self.endpoint_sort]))
            }
            Screen::Clients => {
                self.client_sort = (self.client_sort + 1) % CLIENT_SORTS.len();
                info(format!("clients by {}", CLIENT_SORTS[self.client_sort]))
            }
            _ => None,
        }
    }

    /// The expression the save-name prompt will save.
    #[must_use]
    pub fn pending_save(&self) -> Option<&str> {
        self.pending_save.as_deref()
    }

    /// Save the pending expression under `name`; the message to show.
    pub fn save_filter_named(&mut self, name: &str) -> Option<InsightEffect> {
        let name = name.trim();
        let expr = self.pending_save.take()?;
        if name.is_empty() {
            return error("a saved filter needs a name");
        }
        self.saved = SavedFilters::load().0;
        self.saved.filters.insert(name.to_string(), expr);
        match self.saved.save() {
            Ok(p) => info(format!("saved filter {} in {}", visible(name), p.display())),
            Err(e) => error(format!("saving filters: {e}")),
        }
    }

    /// Open the journey of client `id` (all its flows, time order, split at idle gaps).
    pub fn open_journey(&mut self, id: &str, store: &FlowStore) {
        let mut calls: Vec<(Nanos, FlowId)> = Vec::new();
        for f in 0..FlowId::try_from(store.len()).unwrap_or(FlowId::MAX) {
            if store.meta(f).client.eq_ignore_ascii_case(id)
                && let Some(r) = store.row(f)
            {
                calls.push((r.start, f));
            }
        }
        calls.sort_unstable();
        let mut rows = Vec::new();
        let mut session: Vec<(Nanos, FlowId)> = Vec::new();
        let mut n = 0;
        for c in calls {
            if let Some(last) = session.last()
                && last.0 != NONE_NS
                && c.0 != NONE_NS
                && c.0.saturating_sub(last.0) > SESSION_GAP
            {
                flush_session(&mut session, &mut rows, &mut n, store);
            }
            session.push(c);
        }
        flush_session(&mut session, &mut rows, &mut n, store);
        self.journey = Some(JourneyView { client: id.to_string(), rows, focus: 1 });
    }

    /// The filter that shows the focused row's flows on `screen` (None on a row without
    /// flows).
    #[must_use]
    pub fn drill_filter(&self, screen: Screen) -> Option<String> {
        let d = self.data.as_ref()?;
        let f = self.focus_on(screen);
        match screen {
            Screen::Gaps => d.gaps.as_ref()?.groups.get(f).map(GapGroup::filter),
            Screen::Endpoints => {
                let order = endpoint_order(&d.report.endpoints, self.endpoint_sort, self.reverse);
                let e = d.report.endpoints.get(*order.get(f)?)?;
                Some(format!("~ep {}", quote(&e.name)))
            }
            Screen::Clients => self.focused_client().map(|c| format!("~client {}", quote(&c))),
            Screen::Structure => {
                let vis = visible_nodes(self);
                d.tree.get(*vis.get(f)?).map(|n| n.filter.clone())
            }
            Screen::Flows | Screen::Versions => None,
        }
    }

    fn drill(&self, screen: Screen) -> Option<InsightEffect> {
        if screen == Screen::Clients
            && let Some(j) = &self.journey
        {
            return match j.rows.get(j.focus) {
                Some(JourneyRow::Call(id)) => Some(InsightEffect::OpenFlow(*id)),
                _ => None,
            };
        }
        self.drill_filter(screen).map(InsightEffect::Drill)
    }

    /// Close the saved-filters popup; true when it was open.
    pub fn close_saved(&mut self) -> bool {
        self.saved_popup.take().is_some()
    }

    /// Close the journey; true when one was open.
    pub fn close_journey(&mut self) -> bool {
        self.journey.take().is_some()
    }

    /// Poll the worker and submit a new generation when the shown flows changed. Returns
    /// true when something changed on screen (or a computation runs, for its progress).
    pub fn tick(&mut self, screen: Screen, store: &FlowStore, filter_text: &str, spec: SpecRef<'_>) -> bool {
        if screen == Screen::Flows && self.worker.is_none() {
            return false;
        }
        if self.worker.is_none() {
            let ctx = self.context(spec.name, spec.api);
            let err = self.spec_error.clone();
            self.worker = Some(InsightWorker::spawn(ctx.spec.clone(), ctx.checker.clone(), err));
        }
        let mut changed = false;
        if let Some(r) = self.worker.as_ref().and_then(InsightWorker::poll) {
            if let Some(s) = self.submitted.take() {
                self.recent.retain(|(k, _)| *k != s);
                self.recent.push((s, r.clone()));
                if self.recent.len() > RECENT {
                    self.recent.remove(0);
                }
            }
            self.data = Some(r);
            self.started = None;
            changed = true;
        }
        let sig = (store.len(), filter_text.to_string(), store.marked_only(), store.marked_count(), store.view().len());
        // While a filter pass is still deciding flows, the shown set is not final: wait for it.
        if self.sig.as_ref() != Some(&sig) && self.started.is_none() && !store.undecided() {
            if let Some((_, d)) = self.recent.iter().find(|(k, _)| *k == sig) {
                self.data = Some(d.clone());
                self.sig = Some(sig);
                return true;
            }
            self.generation += 1;
            let view = store.view();
            let job = if store.has_lazy() {
                // Re-read in one pass on the worker, not one seek per flow here.
                Job {
                    generation: self.generation,
                    flows: Vec::new(),
                    plan: Some(store.scan_plan(view)),
                    total: view.len(),
                }
            } else {
                let flows: Vec<_> = view.iter().filter_map(|id| store.shared(*id).map(|e| (*id, e))).collect();
                Job { generation: self.generation, total: flows.len(), flows, plan: None }
            };
            if let Some(w) = &self.worker {
                w.submit(job);
            }
            self.submitted = Some(sig.clone());
            self.sig = Some(sig);
            self.started = Some(Instant::now());
            changed = true;
        }
        changed || self.started.is_some()
    }
}

/// The spec as the app knows it: its name (or path) and the loaded spec, if any.
#[derive(Debug, Clone, Copy)]
pub struct SpecRef<'a> {
    /// The spec's name or path.
    pub name: Option<&'a str>,
    /// The spec, when the caller loaded it.
    pub api: Option<&'a Arc<Spec>>,
}

/// Close a journey session: its header row (number, calls, errors, start, end), then its calls.
fn flush_session(session: &mut Vec<(Nanos, FlowId)>, rows: &mut Vec<JourneyRow>, n: &mut usize, store: &FlowStore) {
    if session.is_empty() {
        return;
    }
    *n += 1;
    let errors =
        session.iter().filter(|(_, f)| store.row(*f).is_some_and(|r| r.status == 0 || r.status >= 400)).count();
    let known = |t: Nanos| (t != NONE_NS).then_some(t);
    let start = session.first().and_then(|s| known(s.0));
    let end = session.last().and_then(|s| known(s.0));
    rows.push(JourneyRow::Session(*n, session.len(), errors, start, end));
    rows.extend(session.drain(..).map(|(_, f)| JourneyRow::Call(f)));
}
