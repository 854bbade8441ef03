//! State and actions of the insight views (gaps, endpoints, clients, structure, journey),
//! the saved filters (`filters.toml`), and the tick that keeps the background recomputation
//! in step with the filter: whenever the shown flows change, a new generation is submitted.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tui_input::Input;

use super::action::Action;
use super::app::{App, Prompt, PromptKind, Screen, Tab};
use super::config::{self, ConfigError};
use super::insight::{Insight, InsightWorker, Job, SpecContext, quote};
use crate::analysis::report::{ClientReport, EndpointReport};
use crate::model::Nanos;
use crate::spec::Spec;
use crate::spec::check::{CheckOptions, Checker};
use crate::store::FlowId;

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

/// Named filters kept in `filters.toml` (a `[filters]` table of `name = "expression"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedFilters {
    /// Name → expression.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
}

impl SavedFilters {
    /// Parse a `filters.toml` text (`path` names it in errors). Other tables are ignored.
    /// When the text is not valid TOML, the entries that could still be read are kept and
    /// every error is returned with its line.
    #[must_use]
    pub fn parse(text: &str, path: &Path) -> (Self, Vec<ConfigError>) {
        match config::parse::<Self>(path, text) {
            Ok(s) => (s, Vec::new()),
            Err(first) => {
                let (table, errors) = toml::de::DeTable::parse_recoverable(text);
                let mut out = Self::default();
                let filters = table.get_ref().iter().find(|(k, _)| k.get_ref() == "filters").map(|(_, v)| v);
                let mut bad: Vec<ConfigError> = errors.iter().map(|e| ConfigError::from_toml(path, text, e)).collect();
                let bad_lines: Vec<usize> = bad
                    .iter()
                    .filter_map(|e| match e {
                        ConfigError::Syntax { line, .. } => Some(*line),
                        _ => None,
                    })
                    .collect();
                if let Some(t) = filters.and_then(|v| v.get_ref().as_table()) {
                    // An entry on a line with an error is a guess of the parser: leave it out.
                    let sound = t.iter().filter(|(_, v)| !bad_lines.contains(&config::line_of(text, v.span().start)));
                    for (k, v) in sound {
                        match v.get_ref().as_str() {
                            Some(expr) => {
                                out.filters.insert(k.get_ref().to_string(), expr.to_string());
                            }
                            None => bad.push(ConfigError::at(
                                path,
                                text,
                                v.span().start,
                                format!("saved filter `{}` is not a string", k.get_ref()),
                            )),
                        }
                    }
                }
                // One problem per line is enough to point the user at it.
                bad.dedup_by_key(|e| match e {
                    ConfigError::Syntax { line, .. } => *line,
                    _ => 0,
                });
                if bad.is_empty() {
                    bad.push(first);
                }
                (out, bad)
            }
        }
    }

    /// The file's text.
    #[must_use]
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!("# apiscope saved filters: name = filter expression\n{body}")
    }

    /// Load from the config dir (missing file or no config dir = none saved). What could be
    /// read is kept; the first problem, if any, comes with it.
    #[must_use]
    pub fn load() -> (Self, Option<ConfigError>) {
        let Some(path) = config::filters_path() else { return (Self::default(), None) };
        match config::read_optional(&path) {
            Ok(Some(t)) => {
                let (s, errors) = Self::parse(&t, &path);
                (s, errors.into_iter().next())
            }
            Ok(None) => (Self::default(), None),
            Err(e) => (Self::default(), Some(e)),
        }
    }

    /// Write to the config dir.
    ///
    /// # Errors
    /// No config dir, or writing failed.
    pub fn save(&self) -> Result<PathBuf, ConfigError> {
        let path = config::filters_path().ok_or(ConfigError::NoDir)?;
        config::write(&path, &self.to_toml())?;
        Ok(path)
    }
}

/// The insight views' state.
#[derive(Debug, Default)]
pub struct InsightUi {
    /// Full path of the spec.
    pub spec_path: Option<PathBuf>,
    worker: Option<InsightWorker>,
    ctx: Option<Arc<SpecContext>>,
    spec_error: Option<String>,
    /// The newest result.
    pub data: Option<Insight>,
    generation: u64,
    sig: Option<(usize, String, bool, usize, usize)>,
    /// Focused row per screen (index into [`Screen::ALL`]).
    pub focus: [usize; 5],
    /// Endpoint sort key (index into [`ENDPOINT_SORTS`]).
    pub endpoint_sort: usize,
    /// Client sort key (index into [`CLIENT_SORTS`]).
    pub client_sort: usize,
    /// Ascending instead of descending.
    pub reverse: bool,
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
}

impl InsightUi {
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
                Err(e) => self.spec_error = Some(crate::model::text::visible(&e.to_string()).into_owned()),
            }
        }
        let c = Arc::new(ctx);
        self.ctx = Some(Arc::clone(&c));
        c
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
                self.data = Some(r);
                self.started = None;
                true
            }
            None => false,
        }
    }
}

fn screen_index(s: Screen) -> usize {
    Screen::ALL.iter().position(|x| *x == s).unwrap_or(0)
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
pub fn client_order(cls: &[ClientReport], sort: usize, reverse: bool) -> Vec<usize> {
    let mut v: Vec<usize> = (0..cls.len()).collect();
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
pub fn visible_nodes(ui: &InsightUi) -> Vec<usize> {
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

impl App {
    /// The loaded spec, once an insight view or a filter needed it.
    #[must_use]
    pub fn insight_spec(&self) -> Option<Arc<Spec>> {
        self.insight.ctx.as_ref()?.spec.clone()
    }

    fn rows_on_screen(&self) -> usize {
        let Some(d) = &self.insight.data else { return 0 };
        match self.screen {
            Screen::Flows => 0,
            Screen::Gaps => d.gaps.as_ref().map_or(0, |g| g.groups.len()),
            Screen::Endpoints => d.report.endpoints.len(),
            Screen::Clients => match &self.insight.journey {
                Some(j) => j.rows.len(),
                None => d.report.clients.len(),
            },
            Screen::Structure => visible_nodes(&self.insight).len(),
        }
    }

    /// The focused row of the current insight screen.
    #[must_use]
    pub fn insight_focus(&self) -> usize {
        match (&self.insight.journey, self.screen) {
            (Some(j), Screen::Clients) => j.focus,
            _ => self.insight.focus[screen_index(self.screen)],
        }
    }

    fn set_insight_focus(&mut self, f: usize) {
        match (&mut self.insight.journey, self.screen) {
            (Some(j), Screen::Clients) => j.focus = f,
            _ => self.insight.focus[screen_index(self.screen)] = f,
        }
    }

    /// The focused client id on the clients view.
    #[must_use]
    pub fn focused_client(&self) -> Option<String> {
        let d = self.insight.data.as_ref()?;
        let order = client_order(&d.report.clients, self.insight.client_sort, self.insight.reverse);
        let i = *order.get(self.insight.focus[screen_index(Screen::Clients)])?;
        d.report.clients.get(i).map(|c| c.id.clone())
    }

    fn switch_screen(&mut self, s: Screen) {
        self.screen = s;
        self.popup = None;
        self.diff = None;
        self.detail = None;
        if s != Screen::Clients {
            self.insight.journey = None;
        }
        self.tick();
    }

    /// Handle the insight views' actions (and the view switcher).
    pub(crate) fn insight_action(&mut self, a: Action) {
        let cur = screen_index(self.screen);
        let n = Screen::ALL.len();
        match a {
            Action::ViewGaps => return self.switch_screen(Screen::Gaps),
            Action::ViewEndpoints => return self.switch_screen(Screen::Endpoints),
            Action::ViewClients => return self.switch_screen(Screen::Clients),
            Action::ViewStructure => return self.switch_screen(Screen::Structure),
            Action::ViewNext => return self.switch_screen(Screen::ALL[(cur + 1) % n]),
            Action::ViewPrev => return self.switch_screen(Screen::ALL[(cur + n - 1) % n]),
            Action::SavedFilters => {
                let (saved, problem) = SavedFilters::load();
                self.insight.saved = saved;
                if let Some(e) = problem {
                    self.error(format!("saved filters: {e}"));
                }
                self.insight.saved_popup = Some(0);
                return;
            }
            _ => {}
        }
        if let Some(cur) = self.insight.saved_popup {
            let len = self.insight.saved.filters.len();
            match a {
                Action::Down => self.insight.saved_popup = Some((cur + 1).min(len.saturating_sub(1))),
                Action::Up => self.insight.saved_popup = Some(cur.saturating_sub(1)),
                Action::Open => {
                    if let Some(expr) = self.insight.saved.filters.values().nth(cur).cloned() {
                        self.insight.saved_popup = None;
                        self.apply_filter(&expr);
                    }
                }
                Action::DeleteSaved => {
                    if let Some(k) = self.insight.saved.filters.keys().nth(cur).cloned() {
                        self.insight.saved.filters.remove(&k);
                        match self.insight.saved.save() {
                            Ok(_) => self.info(format!("deleted saved filter {}", crate::model::text::visible(&k))),
                            Err(e) => self.error(format!("saving filters: {e}")),
                        }
                        self.insight.saved_popup = Some(cur.min(self.insight.saved.filters.len().saturating_sub(1)));
                    }
                }
                _ => {}
            }
            return;
        }
        let len = self.rows_on_screen();
        let page = self.page().saturating_sub(6).max(1);
        let f = self.insight_focus();
        match a {
            Action::Down => self.set_insight_focus((f + 1).min(len.saturating_sub(1))),
            Action::Up => self.set_insight_focus(f.saturating_sub(1)),
            Action::PageDown => self.set_insight_focus((f + page).min(len.saturating_sub(1))),
            Action::PageUp => self.set_insight_focus(f.saturating_sub(page)),
            Action::Top => self.set_insight_focus(0),
            Action::Bottom => self.set_insight_focus(len.saturating_sub(1)),
            Action::Open => self.drill(),
            Action::Toggle if self.screen == Screen::Structure => {
                let vis = visible_nodes(&self.insight);
                let key = vis.get(f).and_then(|i| self.insight.data.as_ref()?.tree.get(*i)).map(|n| n.key.clone());
                if let Some(k) = key
                    && !self.insight.toggled.remove(&k)
                {
                    self.insight.toggled.insert(k);
                }
            }
            Action::CycleOrder => match self.screen {
                Screen::Endpoints => {
                    self.insight.endpoint_sort = (self.insight.endpoint_sort + 1) % ENDPOINT_SORTS.len();
                    self.info(format!("endpoints by {}", ENDPOINT_SORTS[self.insight.endpoint_sort]));
                }
                Screen::Clients => {
                    self.insight.client_sort = (self.insight.client_sort + 1) % CLIENT_SORTS.len();
                    self.info(format!("clients by {}", CLIENT_SORTS[self.insight.client_sort]));
                }
                _ => {}
            },
            Action::Reverse => self.insight.reverse = !self.insight.reverse,
            Action::Filter | Action::ClearFilter => self.update_flows(a),
            Action::Journey => {
                if let Some(c) = self.focused_client() {
                    self.open_journey(&c);
                }
            }
            Action::HideClient => {
                if let Some(c) = self.focused_client() {
                    let term = format!("!~client {}", quote(&c));
                    let text =
                        if self.filter_text.is_empty() { term } else { format!("({}) & {term}", self.filter_text) };
                    self.apply_filter(&text);
                }
            }
            Action::MarkClient => {
                if let Some(c) = self.focused_client() {
                    let n = self.mark_client(&c);
                    self.info(format!("marked {n} flows of {}", crate::model::text::visible(&c)));
                }
            }
            Action::SaveFilter => {
                let expr = match (self.screen, self.focused_client()) {
                    (Screen::Clients, Some(c)) => format!("~client {}", quote(&c)),
                    _ => self.filter_text.clone(),
                };
                if expr.is_empty() {
                    self.error("no filter to save");
                } else {
                    self.insight.pending_save = Some(expr);
                    self.prompt = Some(Prompt {
                        kind: PromptKind::SaveName,
                        input: Input::new(String::new()),
                        history_pos: None,
                    });
                }
            }
            _ => {}
        }
    }

    /// Mark every flow of client `id`; returns how many were newly marked.
    pub fn mark_client(&mut self, id: &str) -> usize {
        let mut n = 0;
        for f in 0..FlowId::try_from(self.store.len()).unwrap_or(FlowId::MAX) {
            let m = self.store.meta(f);
            if m.client.eq_ignore_ascii_case(id) && !m.marked {
                self.store.toggle_mark(f);
                n += 1;
            }
        }
        n
    }

    /// Save the pending expression under `name`.
    pub(crate) fn save_filter_named(&mut self, name: &str) {
        let name = name.trim();
        let Some(expr) = self.insight.pending_save.take() else { return };
        if name.is_empty() {
            self.error("a saved filter needs a name");
            return;
        }
        self.insight.saved = SavedFilters::load().0;
        self.insight.saved.filters.insert(name.to_string(), expr);
        match self.insight.saved.save() {
            Ok(p) => self.info(format!("saved filter {} in {}", crate::model::text::visible(name), p.display())),
            Err(e) => self.error(format!("saving filters: {e}")),
        }
    }

    /// Apply a saved filter by name, or the text as an expression (`--filter`).
    pub fn apply_named_or_expr(&mut self, s: &str) {
        let (saved, problem) = SavedFilters::load();
        let expr = saved.filters.get(s).cloned().unwrap_or_else(|| s.to_string());
        self.insight.saved = saved;
        self.apply_filter(&expr);
        if let Some(e) = problem {
            self.error(format!("saved filters: {e}"));
        }
    }

    /// Open the journey of client `id` (all its flows, time order, split at idle gaps).
    pub fn open_journey(&mut self, id: &str) {
        let mut calls: Vec<(Nanos, FlowId)> = Vec::new();
        for f in 0..FlowId::try_from(self.store.len()).unwrap_or(FlowId::MAX) {
            if self.store.meta(f).client.eq_ignore_ascii_case(id)
                && let Some(r) = self.store.row(f)
            {
                calls.push((r.start, f));
            }
        }
        calls.sort_unstable();
        let mut rows = Vec::new();
        let mut session: Vec<(Nanos, FlowId)> = Vec::new();
        let mut n = 0;
        let flush = |session: &mut Vec<(Nanos, FlowId)>, rows: &mut Vec<JourneyRow>, n: &mut usize, app: &App| {
            if session.is_empty() {
                return;
            }
            *n += 1;
            let errors = session
                .iter()
                .filter(|(_, f)| app.store.row(*f).is_some_and(|r| r.status == 0 || r.status >= 400))
                .count();
            let known = |t: Nanos| (t != crate::store::NONE_NS).then_some(t);
            let start = session.first().and_then(|s| known(s.0));
            let end = session.last().and_then(|s| known(s.0));
            rows.push(JourneyRow::Session(*n, session.len(), errors, start, end));
            rows.extend(session.drain(..).map(|(_, f)| JourneyRow::Call(f)));
        };
        for c in calls {
            if let Some(last) = session.last()
                && last.0 != crate::store::NONE_NS
                && c.0 != crate::store::NONE_NS
                && c.0.saturating_sub(last.0) > SESSION_GAP
            {
                flush(&mut session, &mut rows, &mut n, self);
            }
            session.push(c);
        }
        flush(&mut session, &mut rows, &mut n, self);
        self.insight.journey = Some(JourneyView { client: id.to_string(), rows, focus: 1 });
        self.screen = Screen::Clients;
    }

    /// The filter that shows the focused row's flows (None on a row without flows).
    #[must_use]
    pub fn drill_filter(&self) -> Option<String> {
        let d = self.insight.data.as_ref()?;
        let f = self.insight_focus();
        match self.screen {
            Screen::Gaps => d.gaps.as_ref()?.groups.get(f).map(super::insight::GapGroup::filter),
            Screen::Endpoints => {
                let order = endpoint_order(&d.report.endpoints, self.insight.endpoint_sort, self.insight.reverse);
                let e = d.report.endpoints.get(*order.get(f)?)?;
                Some(format!("~ep {}", quote(&e.name)))
            }
            Screen::Clients => self.focused_client().map(|c| format!("~client {}", quote(&c))),
            Screen::Structure => {
                let vis = visible_nodes(&self.insight);
                d.tree.get(*vis.get(f)?).map(|n| n.filter.clone())
            }
            Screen::Flows => None,
        }
    }

    fn drill(&mut self) {
        if self.screen == Screen::Clients
            && let Some(j) = &self.insight.journey
        {
            if let Some(JourneyRow::Call(id)) = j.rows.get(j.focus) {
                self.open_detail(*id, Tab::Request);
            }
            return;
        }
        if let Some(f) = self.drill_filter() {
            let combined = if self.filter_text.is_empty() { f } else { format!("({}) & {f}", self.filter_text) };
            self.apply_filter(&combined);
            self.screen = Screen::Flows;
            self.focus = 0;
            self.offset = 0;
        }
    }

    /// `back` on the insight views: close the popup or journey, else return to Flows.
    pub(crate) fn insight_back(&mut self) -> bool {
        if self.insight.saved_popup.take().is_some() {
            return true;
        }
        if self.detail.is_some() || self.diff.is_some() {
            return false;
        }
        if self.insight.journey.take().is_some() {
            return true;
        }
        if self.screen != Screen::Flows {
            self.screen = Screen::Flows;
            return true;
        }
        false
    }

    /// Poll the worker and submit a new generation when the shown flows changed. Returns
    /// true when something changed on screen (or a computation runs, for its progress).
    pub fn tick(&mut self) -> bool {
        let scanning = self.tick_scans();
        if self.screen == Screen::Flows && self.insight.worker.is_none() {
            return scanning;
        }
        if self.insight.worker.is_none() {
            let ctx = self.insight.context(self.spec.as_deref(), self.api.as_ref());
            let err = self.insight.spec_error.clone();
            self.insight.worker = Some(InsightWorker::spawn(ctx.spec.clone(), ctx.checker.clone(), err));
        }
        let mut changed = false;
        if let Some(r) = self.insight.worker.as_ref().and_then(InsightWorker::poll) {
            self.insight.data = Some(r);
            self.insight.started = None;
            changed = true;
        }
        let sig = (
            self.store.len(),
            self.filter_text.clone(),
            self.store.marked_only(),
            self.store.marked_count(),
            self.store.view().len(),
        );
        // While a filter pass is still deciding flows, the shown set is not final: wait for it.
        if self.insight.sig.as_ref() != Some(&sig) && self.insight.started.is_none() && !self.store.undecided() {
            self.insight.generation += 1;
            let view = self.store.view();
            let job = if self.store.has_lazy() {
                // Re-read in one pass on the worker, not one seek per flow here.
                Job {
                    generation: self.insight.generation,
                    flows: Vec::new(),
                    plan: Some(self.store.scan_plan(view)),
                    total: view.len(),
                }
            } else {
                let flows: Vec<_> = view.iter().filter_map(|id| self.store.shared(*id).map(|e| (*id, e))).collect();
                Job { generation: self.insight.generation, total: flows.len(), flows, plan: None }
            };
            if let Some(w) = &self.insight.worker {
                w.submit(job);
            }
            self.insight.sig = Some(sig);
            self.insight.started = Some(Instant::now());
            changed = true;
        }
        scanning || changed || self.insight.started.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_filters_round_trip_through_toml() {
        let mut s = SavedFilters::default();
        s.filters.insert("scanner".into(), r#"~client "ip:10.0.0.9" & ~c 404"#.into());
        s.filters.insert("odd \"name\"".into(), "~u \\d+\n".into());
        let (back, bad) = SavedFilters::parse(&s.to_toml(), Path::new("filters.toml"));
        assert_eq!(bad.len(), 0);
        assert_eq!(back, s);
    }

    #[test]
    fn files_written_by_the_earlier_writer_still_read() {
        // Quoted keys, `\"` and `\uXXXX` escapes, comments: what earlier versions wrote.
        let text = "# apiscope saved filters: name = filter expression\n[filters]\n\"scanner\" = \"~client \\\"ip:10.0.0.9\\\" & ~c 404\"\n\"esc\" = \"~u a\\u001Bb\"  # note\nplain = \"~c 5xx\"\n";
        let (s, bad) = SavedFilters::parse(text, Path::new("filters.toml"));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(s.filters.len(), 3);
        assert_eq!(s.filters.get("scanner").map(String::as_str), Some(r#"~client "ip:10.0.0.9" & ~c 404"#));
        assert_eq!(s.filters.get("esc").map(String::as_str), Some("~u a\u{1b}b"));
        assert_eq!(s.filters.get("plain").map(String::as_str), Some("~c 5xx"));
    }

    #[test]
    fn bad_saved_filter_lines_are_counted_not_fatal() {
        let text = "[filters]\nok = \"~c 500\"\nbroken = ~c 500\n[other]\nx = \"y\"\n";
        let (s, bad) = SavedFilters::parse(text, Path::new("filters.toml"));
        assert_eq!(bad.len(), 1, "{bad:?} {s:?}");
        assert!(bad[0].to_string().starts_with("filters.toml:3: "), "{}", bad[0]);
        assert_eq!(s.filters.len(), 1);
        assert_eq!(s.filters.get("ok").map(String::as_str), Some("~c 500"));
    }
}
