//! The application state and its one mutator, [`App::update`]. Terminal events become
//! [`Action`]s through the keymap ([`App::on_key`]), pointer events and worker messages have
//! their own entry points; the views only read `&App`. The parts with a life of their own
//! keep their state and their `update` in their modules: the insight views
//! ([`InsightState`]), the background passes ([`Scans`]), loading ([`LoadState`]), the
//! export dialog ([`ExportDialog`]), the comparison of two flows ([`CompareView`]) and the
//! Versions view of two sets of captures ([`VersionsState`]); the app routes actions to them and applies what they answer.

use std::path::PathBuf;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler as _;

use super::action::{Action, Pointer, scroll};
use super::compare::CompareView;
use super::doc::{self, Doc};
use super::exportdialog::{ExportDialog, Exports, Scope};
use super::filterbar::{self, FilterError};
use super::insightstate::{InsightCtx, InsightEffect, InsightState, SpecRef};
use super::keymap::{Context, Key, Keymap};
use super::layout::layout;
use super::load::{LoadMsg, LoadState};
use super::replaydialog::{self, ReplayDialog};
use super::scanjob::Scans;
pub use super::screen::{Screen, Tab};
pub use super::status::Level;
use super::theme::Theme;
use super::versions::{VersionsEffect, VersionsInputs, VersionsState};
use crate::store::search::Search;
use crate::store::{Column, FlowId, FlowStore};

/// The open flow.
#[derive(Debug, Clone)]
pub struct Detail {
    /// Which flow.
    pub id: FlowId,
    /// Which tab.
    pub tab: Tab,
    /// First line shown.
    pub scroll: usize,
    /// The tab's content (rebuilt on flow, tab or width change).
    pub doc: Doc,
    /// Width the doc was wrapped for.
    pub width: usize,
    /// The line of the current search hit (`n`/`N` continue from it).
    pub hit: Option<usize>,
    /// Messages tab: the message opened in full (Enter), with the list's scroll to go back to.
    pub message: Option<(usize, usize)>,
}

impl Detail {
    /// Show search hit `line`: from the top when it fits on the first page of `page` lines,
    /// else with a few lines of context above it.
    fn show_hit(&mut self, line: usize, page: usize) {
        self.hit = Some(line);
        self.scroll = if line + 2 < page { 0 } else { line.saturating_sub(3) };
    }
}

/// Popups over the current view.
#[derive(Debug, Clone)]
pub enum Popup {
    /// Key help, scrolled.
    Help(usize),
    /// The file diagnostics (problems found while reading the inputs), scrolled.
    FileDiagnostics(usize),
    /// The column picker, cursor on a column.
    Columns(usize),
    /// The export dialog.
    Export(ExportDialog),
    /// "Quit?" with what would be left behind (marks and comments kept, filter not saved).
    ConfirmQuit(Vec<String>),
}

/// A place `back` returns to: a top-level view with its filter, focus and open flow. The
/// back stack holds these; views that plug in later (a flow's message list, a comparison)
/// add their state here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewState {
    /// The top-level view.
    pub screen: Screen,
    /// The filter applied then.
    pub filter: String,
    /// Focused row of the flows table.
    pub focus: usize,
    /// First row shown of the flows table.
    pub offset: usize,
    /// The open flow: which, on which tab, scrolled how far.
    pub detail: Option<(FlowId, Tab, usize)>,
}

/// At most this many places are remembered for `back`.
pub const BACK_STACK_MAX: usize = 64;

/// What a text prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// The filter bar.
    Filter,
    /// Search text.
    Search,
    /// A comment on a flow.
    Comment(FlowId),
    /// The name to save a filter under.
    SaveName,
    /// The target URL of a replay of these flows.
    ReplayTarget(Scope),
}

/// An open text prompt.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What for.
    pub kind: PromptKind,
    /// The text being edited.
    pub input: Input,
    /// Position in the filter history while browsing with up/down.
    pub history_pos: Option<usize>,
}

/// Options for a new app.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names of the inputs (title bar).
    pub sources: Vec<String>,
    /// The spec's name, if any.
    pub spec: Option<String>,
    /// The loaded spec (`~ep` in filters; the insight views).
    pub api: Option<std::sync::Arc<crate::spec::Spec>>,
    /// Colours.
    pub theme: Theme,
    /// Keys.
    pub keymap: Keymap,
    /// Where exports are written.
    pub export_dir: PathBuf,
    /// Full path of the spec (the insight views load it).
    pub spec_path: Option<PathBuf>,
    /// Saved filter name or expression applied at start (`--filter`).
    pub filter: Option<String>,
    /// Where `r` replays flows (`--target`); asked for when not given.
    pub replay_target: Option<crate::replay::Target>,
    /// The two sides compared in the Versions view (`--against`).
    pub versions: Option<VersionsInputs>,
    /// Build the text index `/` reads once loading is done (`--no-index` turns it off).
    pub text_index: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            spec: None,
            spec_path: None,
            filter: None,
            replay_target: None,
            versions: None,
            text_index: true,
            api: None,
            theme: Theme::new(true),
            keymap: Keymap::default(),
            export_dir: PathBuf::from("."),
        }
    }
}

/// The whole TUI state.
#[derive(Debug)]
pub struct App {
    /// The flows.
    pub store: FlowStore,
    /// Keys.
    pub keymap: Keymap,
    /// Colours.
    pub theme: Theme,
    /// Input names.
    pub sources: Vec<String>,
    /// Spec name.
    pub spec: Option<String>,
    /// The loaded spec.
    pub api: Option<std::sync::Arc<crate::spec::Spec>>,
    /// The current top-level view.
    pub screen: Screen,
    /// Focused view position.
    pub focus: usize,
    /// First table row shown.
    pub offset: usize,
    /// Columns and whether the user shows them.
    pub columns: Vec<(Column, bool)>,
    /// The open flow.
    pub detail: Option<Detail>,
    /// The open comparison of two flows.
    pub compare: Option<CompareView>,
    /// The open popup.
    pub popup: Option<Popup>,
    /// The open prompt.
    pub prompt: Option<Prompt>,
    /// Applied filter text.
    pub filter_text: String,
    /// Error of the text in the filter bar (live).
    pub filter_error: Option<FilterError>,
    /// Filters applied before, newest last.
    pub filter_history: Vec<String>,
    /// The active search.
    pub search: Option<Search>,
    /// Status message.
    pub message: Option<(String, Level)>,
    /// Loading progress.
    pub load: LoadState,
    /// The counters of a live capture being shown (packets, kernel drops).
    pub live: Option<std::sync::Arc<crate::live::LiveStats>>,
    /// Terminal size.
    pub size: Rect,
    /// Set when the app should end.
    pub quit: bool,
    /// Where exports go.
    pub export_dir: PathBuf,
    /// The insight views' state and worker.
    pub insight: InsightState,
    /// Background filter and search passes over flows held in their source.
    pub scans: Scans,
    /// Where `back` returns to, newest last.
    pub back_stack: Vec<ViewState>,
    /// Where marks and comments are kept between runs (None: not kept).
    pub notes: Option<super::notes::NotesStore>,
    /// The replay dialog, while open.
    pub replay: Option<ReplayDialog>,
    /// Where replays go (`--target`, or the last target typed).
    pub replay_target: Option<crate::replay::Target>,
    /// Build the text index after loading (`--no-index` turns it off).
    text_index: bool,
    /// The export running in the background.
    pub export_job: Option<super::exportdialog::ExportJob>,
    /// The Versions view (with `--against`).
    pub versions: Option<VersionsState>,
    exports: Exports,
}

impl App {
    /// A new app with an empty store.
    #[must_use]
    pub fn new(opts: Options) -> Self {
        Self {
            store: FlowStore::new(),
            keymap: opts.keymap,
            theme: opts.theme,
            sources: opts.sources,
            spec: opts.spec,
            api: opts.api,
            screen: if opts.versions.is_some() { Screen::Versions } else { Screen::Flows },
            focus: 0,
            offset: 0,
            columns: Column::ALL.iter().map(|c| (*c, true)).collect(),
            detail: None,
            compare: None,
            popup: None,
            prompt: None,
            filter_text: String::new(),
            filter_error: None,
            filter_history: Vec::new(),
            search: None,
            message: None,
            load: LoadState::default(),
            live: None,
            size: Rect::new(0, 0, 80, 24),
            quit: false,
            export_dir: opts.export_dir,
            insight: InsightState::with_spec(opts.spec_path),
            scans: Scans::default(),
            back_stack: Vec::new(),
            notes: None,
            replay: None,
            replay_target: opts.replay_target,
            text_index: opts.text_index,
            export_job: None,
            versions: opts.versions.map(VersionsState::new),
            exports: Exports::default(),
        }
    }

    /// The focused flow.
    #[must_use]
    pub fn focused(&self) -> Option<FlowId> {
        self.store.view_at(self.focus)
    }

    /// The keymap context of what has the keyboard.
    #[must_use]
    pub fn context(&self) -> Context {
        if self.popup.is_none() && self.replay.is_some() {
            return Context::Replay;
        }
        if self.popup.is_none() && self.insight.saved_popup.is_some() {
            return Context::Saved;
        }
        match (&self.popup, &self.compare, &self.detail) {
            (Some(Popup::Help(_) | Popup::FileDiagnostics(_)), _, _) => Context::Help,
            (Some(Popup::Columns(_)), _, _) => Context::Columns,
            (Some(Popup::Export(_)), _, _) => Context::Export,
            (Some(Popup::ConfirmQuit(_)), _, _) => Context::Confirm,
            (None, Some(_), _) => Context::Compare,
            (None, None, Some(_)) => Context::Detail,
            (None, None, None) if self.screen == Screen::Versions => Context::Versions,
            (None, None, None) if self.screen != Screen::Flows => Context::Insight,
            (None, None, None) => Context::Flows,
        }
    }

    /// The context under the popup (for the help overlay).
    #[must_use]
    pub fn context_below_popup(&self) -> Context {
        match (&self.compare, &self.detail) {
            (Some(_), _) => Context::Compare,
            (None, Some(_)) => Context::Detail,
            (None, None) if self.screen == Screen::Versions => Context::Versions,
            (None, None) if self.screen != Screen::Flows => Context::Insight,
            (None, None) => Context::Flows,
        }
    }

    fn info(&mut self, s: impl Into<String>) {
        self.message = Some((s.into(), Level::Info));
    }

    fn error(&mut self, s: impl Into<String>) {
        self.message = Some((s.into(), Level::Error));
    }

    /// Handle any terminal event.
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(k),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => self.resize(*w, *h),
            _ => {}
        }
    }

    /// The terminal size changed.
    pub fn resize(&mut self, w: u16, h: u16) {
        self.size = Rect::new(0, 0, w, h);
        self.keep_focus_visible();
        if self.detail.as_ref().is_some_and(|d| d.width != usize::from(w.max(20))) {
            self.rebuild_doc();
        }
    }

    /// A key: to the prompt when one is open, else through the keymap.
    pub fn on_key(&mut self, k: &KeyEvent) {
        if self.prompt.is_some() {
            self.prompt_key(k);
            return;
        }
        let key = Key::from_event(k);
        if let Some(job) = &self.export_job
            && k.code == KeyCode::Esc
        {
            // Esc cancels a running export (and does nothing else).
            job.cancel();
            return;
        }
        let cx = self.context();
        // A question takes only its own answers.
        let a = if cx == Context::Confirm { self.keymap.lookup_only(cx, key) } else { self.keymap.lookup(cx, key) };
        if let Some(a) = a {
            // `back` first dismisses an error on the status line.
            let dismiss =
                a == Action::Back && self.popup.is_none() && self.message.as_ref().is_some_and(|m| m.1 == Level::Error);
            self.message = None;
            if !dismiss {
                self.update(a);
            }
        }
    }

    /// A mouse event.
    pub fn on_mouse(&mut self, m: &MouseEvent) {
        let p = match m.kind {
            MouseEventKind::Down(MouseButton::Left) => Pointer::Click(m.column, m.row),
            MouseEventKind::ScrollDown => Pointer::WheelDown(m.column, m.row),
            MouseEventKind::ScrollUp => Pointer::WheelUp(m.column, m.row),
            _ => return,
        };
        self.pointer(p);
    }

    /// Clicks and wheel.
    pub fn pointer(&mut self, p: Pointer) {
        if self.prompt.is_some() || self.popup.is_some() {
            return;
        }
        match p {
            Pointer::WheelDown(..) => {
                for _ in 0..3 {
                    self.update(Action::Down);
                }
            }
            Pointer::WheelUp(..) => {
                for _ in 0..3 {
                    self.update(Action::Up);
                }
            }
            Pointer::Click(x, y) => self.click(x, y),
        }
    }

    /// A click: on the detail's tab bar, a tab; on the flows table, focus a row (open it
    /// when it has the focus already).
    fn click(&mut self, x: u16, y: u16) {
        let a = layout(self.size, self.load.active);
        if self.detail.is_some() || self.compare.is_some() {
            let tab = a.tab_at(Tab::ALL.map(Tab::title), x, y).map(|i| Tab::ALL[i]);
            if let (Some(d), Some(t)) = (&mut self.detail, tab) {
                d.tab = t;
                d.scroll = 0;
                d.hit = None;
                self.rebuild_doc();
            }
            return;
        }
        if let Some(pos) = a.row_at(self.offset, x, y).filter(|p| *p < self.store.view().len()) {
            if pos == self.focus {
                self.update(Action::Open);
            } else {
                self.focus = pos;
            }
        }
    }

    fn page(&self) -> usize {
        layout(self.size, self.load.active).page(if self.detail.is_some() { 2 } else { 1 })
    }

    fn keep_focus_visible(&mut self) {
        let n = self.store.view().len();
        if n == 0 {
            self.focus = 0;
            self.offset = 0;
            return;
        }
        self.focus = self.focus.min(n - 1);
        let page = self.page();
        if self.focus < self.offset {
            self.offset = self.focus;
        } else if self.focus >= self.offset + page {
            self.offset = self.focus + 1 - page;
        }
        self.offset = self.offset.min(n.saturating_sub(page));
    }

    /// Re-find the previously focused flow after the view changed.
    fn refocus(&mut self, id: Option<FlowId>) {
        if let Some(pos) = id.and_then(|id| self.store.position(id)) {
            self.focus = pos;
        }
        self.keep_focus_visible();
    }

    /// A message from the loader.
    pub fn on_load(&mut self, m: LoadMsg) {
        if let Some(e) = self.load.update(&m) {
            self.error(e);
        }
        match m {
            LoadMsg::Batch(b) => {
                let keep = self.focused();
                self.store.push_batch(b);
                if self.focus > 0 || keep.is_some_and(|k| self.store.position(k) != Some(0)) {
                    self.refocus(keep);
                } else {
                    self.keep_focus_visible();
                }
            }
            LoadMsg::Diagnostic(d) => self.store.add_diagnostic(d),
            LoadMsg::Progress { .. } | LoadMsg::FileDone { .. } => {}
            LoadMsg::Finished { stopped } => {
                self.store.prepare_sources();
                // What a `/` search reads once built; built now, so loading is not slowed.
                if self.text_index {
                    self.scans.start_index(&self.store);
                }
                let restored = self.restore_notes();
                self.keep_focus_visible();
                if stopped {
                    self.info(format!("loading stopped: {} flows read", self.store.len()));
                } else if self.load.errors.is_empty() {
                    let d = self.store.diagnostics().len();
                    let extra = if d > 0 { format!(", {d} file diagnostics (! lists them)") } else { String::new() };
                    let notes = if restored > 0 {
                        format!(", {restored} marks/comments from last time")
                    } else {
                        String::new()
                    };
                    self.info(format!("loaded {} flows{notes}{extra}", self.store.len()));
                }
            }
        }
    }

    /// Apply the marks and comments saved for these inputs; how many.
    fn restore_notes(&mut self) -> usize {
        let Some(n) = &mut self.notes else { return 0 };
        match n.restore(&mut self.store) {
            Ok(k) => {
                if k > 0 && self.store.marked_only() {
                    self.store.set_marked_only(true);
                }
                k
            }
            Err(e) => {
                self.error(format!("saved marks and comments: {e}"));
                0
            }
        }
    }

    /// Load exchanges directly (tests, small inputs).
    pub fn load_all(&mut self, exchanges: Vec<crate::model::Exchange>) {
        self.on_load(LoadMsg::Batch(exchanges));
    }

    fn open_detail(&mut self, id: FlowId, tab: Tab) {
        self.detail = Some(Detail { id, tab, scroll: 0, doc: Doc::default(), width: 0, hit: None, message: None });
        self.rebuild_doc();
        let page = self.page();
        if let (Some(s), Some(d)) = (self.search.clone(), self.detail.as_mut()) {
            if let Some(ex) = self.store.exchange(d.id) {
                let ex = &*ex;
                if let Some(line) = d.doc.find(0, true, ex, &s) {
                    d.show_hit(line, page);
                } else if d.tab == Tab::Request {
                    // the hit may be in the response
                    let resp = doc::response(ex, d.width, self.theme);
                    if let Some(line) = resp.find(0, true, ex, &s) {
                        d.tab = Tab::Response;
                        d.doc = resp;
                        d.show_hit(line, page);
                    }
                }
            }
        }
    }

    /// Rebuild the open tab's document (flow, tab or width changed).
    fn rebuild_doc(&mut self) {
        let width = usize::from(self.size.width.max(20));
        let theme = self.theme;
        let Some(d) = self.detail.as_mut() else { return };
        let Some(ex) = self.store.exchange(d.id) else { return };
        let ex = &*ex;
        let meta = self.store.meta(d.id);
        d.width = width;
        d.doc = match d.tab {
            Tab::Request => doc::request(ex, width, theme),
            Tab::Response => doc::response(ex, width, theme),
            Tab::Timing => doc::timing(ex, meta.comment, meta.marked, width, theme),
            Tab::Messages => match d.message {
                Some((i, _)) => doc::message(ex, i, width, theme),
                None => doc::messages(ex, width, theme),
            },
            Tab::Raw => doc::raw(ex, width, theme),
            Tab::Diagnostics => doc::diagnostics(ex, width, theme),
        };
        d.scroll = d.scroll.min(d.doc.len().saturating_sub(1));
    }

    /// Apply one action: the only place state changes in answer to the user.
    pub fn update(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.popup = match self.popup {
                    Some(Popup::Help(_)) => None,
                    _ => Some(Popup::Help(0)),
                };
            }
            Action::FileDiagnostics => {
                self.popup = match self.popup {
                    Some(Popup::FileDiagnostics(_)) => None,
                    _ => Some(Popup::FileDiagnostics(0)),
                };
            }
            Action::ViewFlows => {
                if self.screen != Screen::Flows || self.detail.is_some() || self.compare.is_some() {
                    self.push_view();
                }
                self.screen = Screen::Flows;
                self.popup = None;
                self.compare = None;
                self.detail = None;
            }
            Action::ViewGaps => self.switch_screen(Screen::Gaps),
            Action::ViewEndpoints => self.switch_screen(Screen::Endpoints),
            Action::ViewClients => self.switch_screen(Screen::Clients),
            Action::ViewStructure => self.switch_screen(Screen::Structure),
            Action::ViewVersions if self.versions.is_some() => self.switch_screen(Screen::Versions),
            Action::ViewVersions => {
                self.error("no second side to compare: open the TUI with `--against FILE…`");
            }
            Action::ViewNext => self.switch_screen(self.screen.step(1)),
            Action::ViewPrev => self.switch_screen(self.screen.step(-1)),
            Action::SavedFilters => {
                let e = self.insight.open_saved();
                self.apply_insight(e);
            }
            Action::Back => self.back(),
            _ => match self.context() {
                Context::Help => self.update_help(a),
                Context::Columns => self.update_columns(a),
                Context::Export => self.update_export(a),
                Context::Replay => self.update_replay(a),
                Context::Compare => self.update_compare(a),
                Context::Detail => self.update_detail(a),
                Context::Insight | Context::Saved => self.update_insight(a),
                Context::Confirm => {}
                Context::Versions => self.update_versions(a),
                Context::Flows | Context::Global => self.update_flows(a),
            },
        }
    }

    /// `back`, one level: close the popup, the saved filters, the comparison or the detail,
    /// then the journey; then return to the place on the back stack (the view, filter,
    /// focus and open flow the user left); then from an insight view to the flows; at the
    /// top, quit (asking first when marks, comments or an unsaved filter exist).
    fn back(&mut self) {
        if self.popup.take().is_some() || self.close_replay() || self.insight.close_saved() {
            return;
        }
        if self.compare.take().is_some() {
            return;
        }
        if self.close_message() {
            return;
        }
        if self.detail.take().is_some() {
            self.keep_focus_visible();
            return;
        }
        if self.insight.close_journey() {
            return;
        }
        if self.screen == Screen::Versions && self.versions.as_mut().is_some_and(VersionsState::close_drill) {
            return;
        }
        if let Some(v) = self.back_stack.pop() {
            self.restore_view(v);
            return;
        }
        if self.screen == Screen::Flows {
            self.ask_quit();
        } else {
            self.screen = Screen::Flows;
            self.keep_focus_visible();
        }
    }

    /// The place shown now, as `back` would return to it.
    #[must_use]
    pub fn view_state(&self) -> ViewState {
        ViewState {
            screen: self.screen,
            filter: self.filter_text.clone(),
            focus: self.focus,
            offset: self.offset,
            detail: self.detail.as_ref().map(|d| (d.id, d.tab, d.scroll)),
        }
    }

    /// Remember the place shown now for `back`.
    fn push_view(&mut self) {
        let v = self.view_state();
        if self.back_stack.last() != Some(&v) {
            self.back_stack.push(v);
        }
        if self.back_stack.len() > BACK_STACK_MAX {
            self.back_stack.remove(0);
        }
    }

    /// Go back to `v`: its filter (applied again when it changed), view, focus and flow.
    fn restore_view(&mut self, v: ViewState) {
        self.popup = None;
        self.compare = None;
        self.detail = None;
        if v.filter != self.filter_text {
            self.apply_filter(&v.filter);
        }
        self.screen = v.screen;
        if v.screen != Screen::Flows {
            self.tick();
        }
        self.focus = v.focus;
        self.offset = v.offset;
        self.keep_focus_visible();
        if let Some((id, tab, scroll)) = v.detail {
            self.open_detail(id, tab);
            if let Some(d) = &mut self.detail {
                d.scroll = scroll.min(d.doc.len().saturating_sub(1));
            }
        }
    }

    /// What quitting now would leave behind, in words (empty: nothing).
    #[must_use]
    pub fn quit_concerns(&self) -> Vec<String> {
        let mut out = Vec::new();
        let marks = self.store.marked_count();
        let comments = self.store.user_comments().values().filter(|c| !c.is_empty()).count();
        if marks + comments > 0 {
            let kept = if self.notes.is_some() {
                "kept for the next time this input is opened"
            } else {
                "NOT kept (standard input)"
            };
            out.push(format!("{} and {}: {kept}", count(marks, "mark"), count(comments, "comment")));
        }
        if !self.filter_text.is_empty() && !self.insight.saved.filters.values().any(|f| *f == self.filter_text) {
            out.push(format!("the filter {} is not saved", crate::model::text::visible(&self.filter_text)));
        }
        out
    }

    /// Quit, or ask first when something would be left behind.
    fn ask_quit(&mut self) {
        let concerns = self.quit_concerns();
        if concerns.is_empty() {
            self.quit = true;
        } else {
            self.popup = Some(Popup::ConfirmQuit(concerns));
        }
    }

    /// Write the marks and comments to the notes file (a message when that fails).
    fn save_notes(&mut self) {
        let Some(n) = &self.notes else { return };
        if let Err(e) = n.save(&self.store) {
            self.error(format!("marks and comments not saved: {e}"));
        }
    }

    fn switch_screen(&mut self, s: Screen) {
        if s != self.screen || self.detail.is_some() || self.compare.is_some() {
            self.push_view();
        }
        self.screen = s;
        self.popup = None;
        self.compare = None;
        self.detail = None;
        if s != Screen::Clients {
            self.insight.journey = None;
        }
        self.tick();
    }

    /// The insight views' actions: filtering is the flows view's, the rest the insight
    /// state's (the app applies what it answers).
    fn update_insight(&mut self, a: Action) {
        if self.insight.saved_popup.is_none() && matches!(a, Action::Filter | Action::ClearFilter) {
            self.update_flows(a);
            return;
        }
        let cx =
            InsightCtx { screen: self.screen, store: &self.store, filter_text: &self.filter_text, page: self.page() };
        let e = self.insight.update(a, cx);
        self.apply_insight(e);
    }

    /// The Versions view's actions; the app opens the flows it asks for.
    fn update_versions(&mut self, a: Action) {
        let page = self.page();
        let Some(v) = &mut self.versions else { return };
        match v.update(a, &self.store, page) {
            None => {}
            Some(VersionsEffect::OpenFlow(id)) => self.open_detail(id, Tab::Request),
            Some(VersionsEffect::Note(m, level)) => self.message = Some((m, level)),
        }
    }

    /// Start reading and comparing the two sides of the Versions view in the background.
    pub fn start_versions(&mut self) {
        if let Some(v) = &mut self.versions {
            v.start();
        }
    }

    fn apply_insight(&mut self, e: Option<InsightEffect>) {
        match e {
            None => {}
            Some(InsightEffect::Note(m, level)) => self.message = Some((m, level)),
            Some(InsightEffect::ApplyFilter(f)) => self.apply_filter(&f),
            Some(InsightEffect::Drill(f)) => {
                self.push_view();
                let combined = if self.filter_text.is_empty() { f } else { format!("({}) & {f}", self.filter_text) };
                self.apply_filter(&combined);
                self.screen = Screen::Flows;
                self.focus = 0;
                self.offset = 0;
            }
            Some(InsightEffect::OpenFlow(id)) => self.open_detail(id, Tab::Request),
            Some(InsightEffect::MarkClient(c)) => {
                let n = self.mark_client(&c);
                self.info(format!("marked {n} flows of {}", crate::model::text::visible(&c)));
                self.save_notes();
            }
            Some(InsightEffect::OpenJourney(c)) => self.open_journey(&c),
            Some(InsightEffect::AskSaveName) => {
                self.prompt =
                    Some(Prompt { kind: PromptKind::SaveName, input: Input::new(String::new()), history_pos: None });
            }
        }
    }

    fn update_help(&mut self, a: Action) {
        // The popups are the screen's height less 2, less their borders.
        let page = usize::from(self.size.height).saturating_sub(4).max(1);
        let diagnostics = self.store.diagnostics().len();
        let help = self.keymap.help_text(self.context_below_popup()).len();
        match &mut self.popup {
            Some(Popup::Help(s)) => scroll(s, help, page, a),
            Some(Popup::FileDiagnostics(s)) => scroll(s, diagnostics, page, a),
            _ => {}
        }
    }

    fn update_columns(&mut self, a: Action) {
        let Some(Popup::Columns(cur)) = &mut self.popup else { return };
        let n = self.columns.len();
        match a {
            Action::Down => *cur = (*cur + 1).min(n.saturating_sub(1)),
            Action::Up => *cur = cur.saturating_sub(1),
            Action::Top => *cur = 0,
            Action::Bottom => *cur = n.saturating_sub(1),
            Action::Toggle => {
                let i = *cur;
                let shown = self.columns.iter().filter(|c| c.1).count();
                if let Some(c) = self.columns.get_mut(i) {
                    if c.1 && shown == 1 {
                        self.message = Some(("at least one column stays".into(), Level::Error));
                    } else {
                        c.1 = !c.1;
                    }
                }
            }
            Action::CycleOrder => {
                let i = *cur;
                if let Some((col, _)) = self.columns.get(i).copied() {
                    let keep = self.focused();
                    self.store.set_order(Some(col));
                    self.refocus(keep);
                    self.info(format!("ordered by {}", col.name()));
                }
            }
            _ => {}
        }
    }

    fn update_flows(&mut self, a: Action) {
        let n = self.store.view().len();
        let page = self.page();
        match a {
            Action::Down => self.focus = (self.focus + 1).min(n.saturating_sub(1)),
            Action::Up => self.focus = self.focus.saturating_sub(1),
            Action::PageDown => self.focus = (self.focus + page).min(n.saturating_sub(1)),
            Action::PageUp => self.focus = self.focus.saturating_sub(page),
            Action::Top => self.focus = 0,
            Action::Bottom => self.focus = n.saturating_sub(1),
            Action::Open => {
                if let Some(id) = self.focused() {
                    self.open_detail(id, Tab::Request);
                }
            }
            Action::CycleOrder => {
                let keep = self.focused();
                let next = self.store.order().0.map_or(Column::Time, Column::next);
                self.store.set_order(Some(next));
                self.refocus(keep);
                self.info(format!("ordered by {}", next.name()));
            }
            Action::Reverse => {
                let keep = self.focused();
                let r = !self.store.order().1;
                self.store.set_reverse(r);
                self.refocus(keep);
                self.info(if r { "order reversed" } else { "order ascending" });
            }
            Action::SlowestFirst => {
                let keep = self.focused();
                self.store.set_order(Some(Column::Duration));
                self.store.set_reverse(true);
                self.refocus(keep);
                self.focus = 0;
                self.info("slowest first (o / v to change)");
            }
            Action::Columns => self.popup = Some(Popup::Columns(0)),
            Action::ClearFilter => {
                let keep = self.focused();
                self.filter_text.clear();
                self.store.set_predicate(None);
                self.refocus(keep);
                self.info("filter cleared");
            }
            Action::Compare => self.start_compare(),
            _ => self.update_common(a),
        }
        self.keep_focus_visible();
    }

    /// Actions shared by the flows table and the detail view.
    fn update_common(&mut self, a: Action) {
        let target = self.detail.as_ref().map(|d| d.id).or_else(|| self.focused());
        match a {
            Action::Filter => {
                let mut p =
                    Prompt { kind: PromptKind::Filter, input: Input::new(self.filter_text.clone()), history_pos: None };
                p.input = p.input.clone().with_cursor(self.filter_text.chars().count());
                self.prompt = Some(p);
                self.check_filter();
            }
            Action::Search => {
                let text = self.search.as_ref().map(|s| s.text().to_string()).unwrap_or_default();
                let n = text.chars().count();
                self.prompt = Some(Prompt {
                    kind: PromptKind::Search,
                    input: Input::new(text).with_cursor(n),
                    history_pos: None,
                });
            }
            Action::SearchNext | Action::SearchPrev => self.search_step(a == Action::SearchNext),
            Action::ToggleMark => {
                if let Some(id) = target {
                    let on = self.store.toggle_mark(id);
                    self.info(if on { "marked" } else { "unmarked" });
                    self.save_notes();
                    if self.store.marked_only() && self.detail.is_none() {
                        let keep = self.focused();
                        self.store.set_marked_only(true);
                        self.refocus(keep);
                    }
                }
            }
            Action::MarkedOnly => {
                let keep = self.focused();
                let on = !self.store.marked_only();
                self.store.set_marked_only(on);
                self.refocus(keep);
                self.info(if on { "showing marked flows only" } else { "showing all flows" });
            }
            Action::UnmarkAll => {
                let keep = self.focused();
                self.store.unmark_all();
                self.refocus(keep);
                self.info("all marks removed");
                self.save_notes();
            }
            Action::Comment => {
                if let Some(id) = target {
                    let text = self.store.comment(id).unwrap_or_default().to_string();
                    let n = text.chars().count();
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Comment(id),
                        input: Input::new(text).with_cursor(n),
                        history_pos: None,
                    });
                }
            }
            Action::Export => {
                let scope = if self.detail.is_some() || self.store.marked_count() == 0 {
                    Scope::Focused
                } else {
                    Scope::Marked
                };
                self.popup = Some(Popup::Export(ExportDialog::new(scope)));
            }
            Action::Replay => self.open_replay(),
            _ => {}
        }
    }

    fn update_detail(&mut self, a: Action) {
        let page = self.page();
        match a {
            Action::NextTab | Action::PrevTab => {
                if let Some(d) = &mut self.detail {
                    d.tab = d.tab.step(if a == Action::NextTab { 1 } else { -1 });
                    d.scroll = 0;
                    d.hit = None;
                    d.message = None;
                }
                self.rebuild_doc();
            }
            Action::NextFlow | Action::PrevFlow => {
                let Some(d) = &self.detail else { return };
                let pos = self.store.position(d.id).unwrap_or(self.focus);
                let n = self.store.view().len();
                let next = if a == Action::NextFlow { (pos + 1 < n).then_some(pos + 1) } else { pos.checked_sub(1) };
                match next.and_then(|p| self.store.view_at(p).map(|id| (p, id))) {
                    Some((p, id)) => {
                        let tab = d.tab;
                        self.focus = p;
                        self.open_detail(id, tab);
                        self.keep_focus_visible();
                    }
                    None => self.info(if a == Action::NextFlow { "last flow" } else { "first flow" }),
                }
            }
            Action::Down | Action::Up | Action::PageDown | Action::PageUp | Action::Top | Action::Bottom => {
                if let Some(d) = &mut self.detail {
                    scroll(&mut d.scroll, d.doc.len(), page, a);
                }
            }
            Action::Open => self.open_message(),
            _ => self.update_common(a),
        }
    }

    /// Messages tab: open the message at the search hit, else the one at the top of the
    /// page, in full.
    fn open_message(&mut self) {
        let Some(d) = self.detail.as_mut().filter(|d| d.tab == Tab::Messages && d.message.is_none()) else { return };
        let Some(i) = d.doc.message_at(d.hit.unwrap_or(d.scroll)) else {
            self.info("no messages: this exchange is not a stream");
            return;
        };
        d.message = Some((i, d.scroll));
        d.scroll = 0;
        d.hit = None;
        self.rebuild_doc();
    }

    /// Close a message opened in full, back to the list where it was; false when none was.
    fn close_message(&mut self) -> bool {
        let Some(d) = self.detail.as_mut() else { return false };
        let Some((_, scroll)) = d.message.take() else { return false };
        d.hit = None;
        self.rebuild_doc();
        if let Some(d) = self.detail.as_mut() {
            d.scroll = scroll.min(d.doc.len().saturating_sub(1));
        }
        true
    }

    /// Messages tab: `hit k of N` over the messages the search matches, for the hit on `line`.
    fn note_message_hit(&mut self, line: usize) {
        let (Some(s), Some(d)) = (self.search.clone(), self.detail.as_ref()) else { return };
        let Some(ex) = self.store.exchange(d.id) else { return };
        if let Some((k, n)) = d.doc.message_hit_rank(line, &ex, &s) {
            let m = if n == 1 { "message" } else { "messages" };
            self.info(format!("“{}”: hit {k} of {n} {m}", crate::model::text::visible(s.text())));
        }
    }

    fn update_compare(&mut self, a: Action) {
        let page = self.page();
        let Some(v) = &mut self.compare else { return };
        if let Some(m) = v.update(a, page, &self.store) {
            self.info(m);
        }
    }

    fn start_compare(&mut self) {
        let marked = self.store.marked();
        let focused = self.focused();
        let pair = match (marked.as_slice(), focused) {
            ([a, b], _) => Some((*a, *b)),
            ([a], Some(f)) if *a != f => Some((*a, f)),
            _ => None,
        };
        match pair {
            Some((a, b)) => self.compare = Some(CompareView::open(a, b, &self.store)),
            None => self.error(format!(
                "diff: mark two flows with {}, or one and focus another ({} marked)",
                self.keymap.key_for(Context::Flows, Action::ToggleMark).map_or_else(|| "m".into(), |k| k.to_string()),
                marked.len()
            )),
        }
    }

    fn search_step(&mut self, forward: bool) {
        self.search_move(forward, false);
    }

    /// Move to the next (previous) search hit; `fresh` for the first move of a new search
    /// (which starts just before the focused flow, so it does not "wrap").
    fn search_move(&mut self, forward: bool, fresh: bool) {
        let Some(s) = self.search.clone() else {
            self.error("no search: press / first");
            return;
        };
        let page = self.page();
        if let Some(d) = &mut self.detail {
            let Some(ex) = self.store.exchange(d.id) else { return };
            let ex = &*ex;
            let at = d.hit.unwrap_or(d.scroll);
            let from = if forward { at + 1 } else { at };
            match d.doc.find(from, forward, ex, &s) {
                Some(l) => {
                    d.show_hit(l, page);
                    self.note_message_hit(l);
                }
                None => self.message = Some((format!("no more hits for “{}” in this tab", s.text()), Level::Info)),
            }
            return;
        }
        let from = self.focus;
        if self.store.has_lazy() {
            // The search runs as a background pass; step through the hits it found so far.
            match self.scans.next_hit(&self.store, self.focus, forward) {
                Some(pos) => {
                    self.focus = pos;
                    self.keep_focus_visible();
                    let (k, n) = self.scans.hit_rank(&self.store, pos);
                    let more = if self.scans.search_done { "" } else { " found so far" };
                    self.note_hit(&s, (k, n), more, (!fresh).then_some(from), forward);
                }
                None => match &self.scans.search {
                    Some(j) => self.info(format!("searching… {}% read, no other hit yet", j.percent())),
                    None => self.error(format!("no flow contains “{}”", s.text())),
                },
            }
            return;
        }
        match s.find(&self.store, self.focus, forward) {
            Some(pos) => {
                self.focus = pos;
                self.keep_focus_visible();
                let rank = s.rank(&self.store, pos);
                self.note_hit(&s, rank, "", (!fresh).then_some(from), forward);
            }
            None => self.error(format!("no flow contains “{}”", s.text())),
        }
    }

    /// Say which hit the search stands on (`hit 3 of 12`), and when it wrapped around.
    fn note_hit(&mut self, s: &Search, (k, n): (usize, usize), more: &str, from: Option<usize>, forward: bool) {
        let pos = self.focus;
        let wrapped = if from.is_some_and(|f| forward && pos <= f) {
            " · wrapped to the first"
        } else if from.is_some_and(|f| !forward && pos >= f) {
            " · wrapped to the last"
        } else {
            ""
        };
        self.info(format!("“{}”: hit {k} of {n}{more}{wrapped}", crate::model::text::visible(s.text())));
    }

    fn update_export(&mut self, a: Action) {
        let Some(Popup::Export(d)) = &mut self.popup else { return };
        if d.update(a) {
            let d = d.clone();
            self.popup = None;
            self.run_export(&d);
        }
    }

    fn export_ids(&self, scope: Scope) -> Vec<FlowId> {
        match scope {
            Scope::Focused => self.detail.as_ref().map(|d| d.id).or_else(|| self.focused()).into_iter().collect(),
            Scope::Marked => self.store.marked(),
            Scope::Shown => self.store.view().to_vec(),
        }
    }

    fn run_export(&mut self, d: &ExportDialog) {
        if self.export_job.is_some() {
            self.error("an export is still running (esc cancels it)");
            return;
        }
        let ids = self.export_ids(d.scope);
        if ids.is_empty() {
            self.error(format!("export: no {}", d.scope.name()));
            return;
        }
        let plan = self.store.scan_plan(&ids);
        match self.exports.start(&self.export_dir, d, plan, ids) {
            Ok(job) => {
                self.export_job = Some(job);
                self.tick_export();
            }
            Err(m) => self.error(m),
        }
    }

    /// `r`: confirm a replay of the focused / marked flows to the target, asking for the
    /// target first when none was given.
    fn open_replay(&mut self) {
        let scope =
            if self.detail.is_some() || self.store.marked_count() == 0 { Scope::Focused } else { Scope::Marked };
        match self.replay_target.clone() {
            Some(t) => self.replay = Some(ReplayDialog::new(t, scope)),
            None => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::ReplayTarget(scope),
                    input: Input::new("http://".into()).with_cursor(7),
                    history_pos: None,
                });
                self.info("replay to which URL? nothing is sent before you confirm");
            }
        }
    }

    fn replay_target_entered(&mut self, text: &str, scope: Scope) {
        match text.parse::<crate::replay::Target>() {
            Ok(t) => {
                self.replay_target = Some(t.clone());
                self.replay = Some(ReplayDialog::new(t, scope));
            }
            Err(e) => self.error(format!("replay: {e}")),
        }
    }

    fn update_replay(&mut self, a: Action) {
        let page = self.page();
        let Some(d) = self.replay.as_mut() else { return };
        let replaydialog::Effect::Start(scope) = d.update(a, page) else { return };
        let ids = self.export_ids(scope);
        if ids.is_empty() {
            self.error(format!("replay: no {}", scope.name()));
            return;
        }
        let held = self.store.exchanges(&ids);
        let flows: Vec<&crate::model::Exchange> = held.iter().map(|e| &**e).collect();
        if let Some(d) = self.replay.as_mut() {
            d.start(&flows);
        }
    }

    /// `back` on the replay dialog: stop a running replay (its report follows), else close.
    fn close_replay(&mut self) -> bool {
        match &self.replay {
            Some(d) if d.running() => {
                d.stop();
                self.info("stopping the replay…");
                true
            }
            Some(_) => {
                self.replay = None;
                true
            }
            None => false,
        }
    }

    /// Follow a running replay; true when the dialog changed.
    fn tick_replay(&mut self) -> bool {
        let Some(d) = self.replay.as_mut() else { return false };
        let changed = d.tick();
        if changed && !d.running() {
            if let Some(s) = d.summary() {
                self.info(s);
            }
        }
        changed
    }

    /// Block until the running export ended (tests, scripts); false on timeout.
    pub fn wait_export(&mut self, timeout: std::time::Duration) -> bool {
        let t = std::time::Instant::now();
        while self.export_job.is_some() && t.elapsed() < timeout {
            self.tick_export();
            if self.export_job.is_some() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        self.export_job.is_none()
    }

    /// Follow the running export: its progress on the status line, then its outcome. True
    /// while one runs or when it just ended.
    fn tick_export(&mut self) -> bool {
        let Some(job) = &self.export_job else { return false };
        match job.poll() {
            Some(Ok(m)) => {
                self.export_job = None;
                self.info(m);
            }
            Some(Err(m)) => {
                self.export_job = None;
                self.error(m);
            }
            None => {
                let m = format!(
                    "exporting {} flow(s) as {}… {}% · esc cancels",
                    job.total,
                    super::exportdialog::title(job.format),
                    job.percent()
                );
                self.info(m);
            }
        }
        true
    }

    fn check_filter(&mut self) {
        let Some(p) = &self.prompt else { return };
        let text = p.input.value().trim();
        self.filter_error = if text.is_empty() { None } else { filterbar::compile(text, self.api.as_ref()).err() };
    }

    /// Apply filter text to the flows (and so to every insight view).
    pub fn apply_filter(&mut self, text: &str) {
        let text = text.trim().to_string();
        let keep = self.focused();
        if text.is_empty() {
            self.filter_text.clear();
            self.filter_error = None;
            self.store.set_predicate(None);
            self.refocus(keep);
            self.info("filter cleared");
            return;
        }
        let extra = self.insight.extra(self.spec.as_deref(), self.api.as_ref());
        let flags = crate::filter::Filter::parse(&text).is_ok_and(|f| f.uses_flags());
        if flags {
            self.insight.start_flags(&self.store, SpecRef { name: self.spec.as_deref(), api: self.api.as_ref() });
        }
        match filterbar::compile_with(&text, Some(extra)) {
            Ok(p) => {
                let t = std::time::Instant::now();
                self.store.set_predicate(Some(p));
                let ms = t.elapsed().as_secs_f64() * 1e3;
                self.filter_error = None;
                self.filter_history.retain(|h| *h != text);
                self.filter_history.push(text.clone());
                self.filter_text = text;
                self.refocus(keep);
                if flags && self.insight.flags_pending() {
                    self.info(
                        "~flag: finding each client's pattern flags over all flows… (the filter applies when done)",
                    );
                } else if self.store.undecided() {
                    self.tick_scans();
                    self.info(format!(
                        "filtering: headers and bodies of {} flows are read again in the background…",
                        self.store.len()
                    ));
                } else {
                    self.info(format!("{} of {} flows match ({ms:.0} ms)", self.store.view().len(), self.store.len()));
                }
            }
            Err(e) => {
                self.error(format!("filter: {}", e.message));
                self.filter_error = Some(e);
            }
        }
    }

    /// Endpoint names `~ep` accepts, for Tab completion: the spec's operations (with and
    /// without the base path) and the endpoints of the shown flows.
    fn endpoint_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if let Some(spec) = self.api.clone().or_else(|| self.insight.spec()) {
            for o in &spec.operations {
                v.push(format!("{} {}", o.method, o.template));
            }
        }
        if let Some(d) = &self.insight.data {
            v.extend(d.report.endpoints.iter().map(|e| e.name.clone()));
        }
        v.sort();
        v.dedup();
        v
    }

    /// Put `text` last in the filter history.
    fn remember_filter(&mut self, text: &str) {
        self.filter_history.retain(|h| h != text);
        self.filter_history.push(text.to_string());
    }

    /// Apply a saved filter by name, or the text as an expression (`--filter`).
    pub fn apply_named_or_expr(&mut self, s: &str) {
        let (saved, problem) = super::config::SavedFilters::load();
        let expr = saved.filters.get(s).cloned().unwrap_or_else(|| s.to_string());
        self.insight.saved = saved;
        self.apply_filter(&expr);
        if let Some(e) = problem {
            self.error(format!("saved filters: {e}"));
        }
    }

    /// The loaded spec, once an insight view or a filter needed it.
    #[must_use]
    pub fn insight_spec(&self) -> Option<std::sync::Arc<crate::spec::Spec>> {
        self.insight.spec()
    }

    /// The focused row of the current insight screen.
    #[must_use]
    pub fn insight_focus(&self) -> usize {
        self.insight.focus_on(self.screen)
    }

    /// The focused client id on the clients view.
    #[must_use]
    pub fn focused_client(&self) -> Option<String> {
        self.insight.focused_client()
    }

    /// The filter that shows the focused insight row's flows (None on a row without flows).
    #[must_use]
    pub fn drill_filter(&self) -> Option<String> {
        self.insight.drill_filter(self.screen)
    }

    /// Open the journey of client `id` on the clients view.
    pub fn open_journey(&mut self, id: &str) {
        self.insight.open_journey(id, &self.store);
        self.screen = Screen::Clients;
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

    /// Follow the background work: merge what the passes found, keep the insight views in
    /// step with the shown flows. True when something changed on screen (or work runs, for
    /// its progress).
    pub fn tick(&mut self) -> bool {
        let replaying = self.tick_replay();
        let exporting = self.tick_export();
        let scanning = self.tick_scans() || replaying;
        let versions = self.versions.as_mut().is_some_and(VersionsState::tick);
        let spec = SpecRef { name: self.spec.as_deref(), api: self.api.as_ref() };
        // the Versions view reads its own sides: the insight views compute only when shown
        let insight =
            self.screen != Screen::Versions && self.insight.tick(self.screen, &self.store, &self.filter_text, spec);
        scanning || insight || exporting || versions || self.tick_flags()
    }

    /// Re-apply a `~flag` filter when the clients' flags arrive (or more flows loaded).
    fn tick_flags(&mut self) -> bool {
        let uses = crate::filter::Filter::parse(&self.filter_text).is_ok_and(|f| f.uses_flags());
        if self.insight.poll_flags() && uses {
            let text = self.filter_text.clone();
            self.apply_filter(&text);
            return true;
        }
        if uses && !self.insight.flags_pending() {
            // more flows were loaded since: the flags are computed again
            self.insight.start_flags(&self.store, SpecRef { name: self.spec.as_deref(), api: self.api.as_ref() });
        }
        self.insight.flags_pending()
    }

    /// Block until the pattern flags are computed and a `~flag` filter re-applied (tests).
    pub fn wait_flags(&mut self) {
        self.insight.wait_flags();
        let text = self.filter_text.clone();
        if crate::filter::Filter::parse(&text).is_ok_and(|f| f.uses_flags()) {
            self.apply_filter(&text);
        }
    }

    /// Merge what the filter and search passes found; start the filter pass when needed.
    /// True when the screen changed (or a pass runs, for its progress).
    pub fn tick_scans(&mut self) -> bool {
        let keep = self.focused();
        let text = self.search.as_ref().map(|s| s.text().to_string());
        let t = self.scans.tick(&mut self.store, text.as_deref());
        if t.admitted {
            self.refocus(keep);
        }
        if t.new_hits && self.scans.jump && self.detail.is_none() {
            let from = if self.focus == 0 { self.store.view().len().saturating_sub(1) } else { self.focus - 1 };
            if let Some(pos) = self.scans.next_hit(&self.store, from, true) {
                self.scans.jump = false;
                self.focus = pos;
                self.keep_focus_visible();
            }
        }
        if let Some(n) = t.note {
            self.message = Some(n);
        }
        t.changed
    }

    fn prompt_key(&mut self, k: &KeyEvent) {
        let Some(p) = self.prompt.as_mut() else { return };
        match k.code {
            KeyCode::Esc => {
                // An expression typed and dropped stays one ↑ away.
                if p.kind == PromptKind::Filter {
                    let text = p.input.value().trim().to_string();
                    if !text.is_empty() && text != self.filter_text {
                        self.remember_filter(&text);
                    }
                }
                self.prompt = None;
                self.filter_error = None;
            }
            KeyCode::Enter => {
                let Some(p) = self.prompt.take() else { return };
                let text = p.input.value().to_string();
                match p.kind {
                    PromptKind::Filter => {
                        self.apply_filter(&text);
                        if self.filter_error.is_some() {
                            // Keep the invalid expression open for editing (and in the history).
                            self.remember_filter(text.trim());
                            self.prompt = Some(p);
                        }
                    }
                    PromptKind::SaveName => {
                        let e = self.insight.save_filter_named(&text);
                        self.apply_insight(e);
                    }
                    PromptKind::Search => {
                        self.search = Search::new(&text);
                        let page = self.page();
                        if self.search.is_some() {
                            if let Some(d) = &mut self.detail {
                                let from = d.scroll;
                                let found = match (self.search.as_ref(), self.store.exchange(d.id)) {
                                    (Some(s), Some(ex)) => d.doc.find(from, true, &ex, s),
                                    _ => None,
                                };
                                match found {
                                    Some(l) => {
                                        d.show_hit(l, page);
                                        self.note_message_hit(l);
                                    }
                                    None => self.info(format!("“{text}” not in this tab")),
                                }
                            } else if let Some(s) = self.search.clone().filter(|_| self.store.has_lazy()) {
                                self.message = Some(self.scans.start_search(&self.store, &s));
                            } else {
                                // include the focused flow itself
                                let from = if self.focus == 0 {
                                    self.store.view().len().saturating_sub(1)
                                } else {
                                    self.focus - 1
                                };
                                self.focus = from;
                                self.search_move(true, true);
                                if self.message.as_ref().is_some_and(|m| m.1 == Level::Error) {
                                    self.focus = (from + 1) % self.store.view().len().max(1);
                                }
                            }
                        } else {
                            self.scans.clear_search();
                            self.info("search cleared");
                        }
                    }
                    PromptKind::ReplayTarget(scope) => self.replay_target_entered(&text, scope),
                    PromptKind::Comment(id) => {
                        self.store.set_comment(id, text.trim());
                        self.info(if text.trim().is_empty() { "comment removed" } else { "comment saved" });
                        self.save_notes();
                        self.rebuild_doc();
                    }
                }
            }
            KeyCode::Tab if p.kind == PromptKind::Filter => {
                let (text, cursor) = (p.input.value().to_string(), p.input.cursor());
                let names = self.endpoint_names();
                match filterbar::complete(&text, cursor, &names) {
                    Some(c) => {
                        if let Some(p) = self.prompt.as_mut() {
                            p.input = Input::new(c.text).with_cursor(c.cursor);
                        }
                        self.check_filter();
                        if !c.candidates.is_empty() {
                            let shown: Vec<String> = c
                                .candidates
                                .iter()
                                .take(8)
                                .map(|x| crate::model::text::visible(x).into_owned())
                                .collect();
                            let more = c.candidates.len().saturating_sub(shown.len());
                            let more = if more > 0 { format!(" (+{more})") } else { String::new() };
                            self.info(format!("{}{more}", shown.join("  ")));
                        }
                    }
                    None => self.info("tab completes ~terms, endpoints after ~ep and flags after ~flag"),
                }
            }
            KeyCode::Up | KeyCode::Down if p.kind == PromptKind::Filter => {
                let n = self.filter_history.len();
                if n == 0 {
                    return;
                }
                let pos = match (k.code, p.history_pos) {
                    (KeyCode::Up, None) => Some(n - 1),
                    (KeyCode::Up, Some(i)) => Some(i.saturating_sub(1)),
                    (KeyCode::Down, Some(i)) if i + 1 < n => Some(i + 1),
                    _ => None,
                };
                let text = pos.and_then(|i| self.filter_history.get(i)).cloned().unwrap_or_default();
                let c = text.chars().count();
                p.history_pos = pos;
                p.input = Input::new(text).with_cursor(c);
                self.check_filter();
            }
            _ => {
                p.input.handle_event(&Event::Key(*k));
                if p.kind == PromptKind::Filter {
                    self.check_filter();
                }
            }
        }
    }
}

/// "1 mark", "3 comments".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, Exchange, Response, Timing};
    use crossterm::event::KeyModifiers;

    fn ex(i: i64, status: u16, body: &str) -> Exchange {
        let mut e = Exchange::default();
        e.request.method = "GET".into();
        e.request.target = format!("/v1/items/{i}");
        e.request.headers.push("Host", "api.test");
        e.timing = Timing {
            request_start: Some(i * 1_000_000),
            request_end: Some(i * 1_000_000 + 10),
            response_start: Some(i * 1_000_000 + 1000 * (10 - i)),
            response_end: Some(i * 1_000_000 + 2000 * (10 - i)),
        };
        e.response = Some(Response { status, body: Body::from_bytes(body.as_bytes().to_vec()), ..Response::default() });
        e
    }

    fn app() -> App {
        let mut a = App::new(Options::default());
        a.load_all((0..5).map(|i| ex(i, 200 + i as u16, &format!("{{\"n\":{i},\"tag\":\"item-{i}\"}}"))).collect());
        a
    }

    fn key(a: &mut App, c: char) {
        a.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }

    fn code(a: &mut App, c: KeyCode) {
        a.on_key(&KeyEvent::new(c, KeyModifiers::NONE));
    }

    #[test]
    fn navigation_keys_move_focus_within_bounds() {
        let mut a = app();
        key(&mut a, 'j');
        key(&mut a, 'j');
        assert_eq!(a.focus, 2);
        key(&mut a, 'G');
        assert_eq!(a.focus, 4);
        key(&mut a, 'j');
        assert_eq!(a.focus, 4);
        key(&mut a, 'g');
        assert_eq!(a.focus, 0);
        key(&mut a, 'k');
        assert_eq!(a.focus, 0);
    }

    #[test]
    fn order_keeps_the_focused_flow() {
        let mut a = app();
        key(&mut a, 'j'); // flow 1
        let id = a.focused();
        a.store.set_order(Some(Column::Duration));
        a.refocus(id);
        assert_eq!(a.focused(), id);
        assert_eq!(a.store.view(), &[4, 3, 2, 1, 0]);
        key(&mut a, 'v');
        assert_eq!(a.focused(), id);
        assert_eq!(a.store.view(), &[0, 1, 2, 3, 4]);
    }

    #[test]
    fn detail_tabs_and_next_prev_flow() {
        let mut a = app();
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.context(), Context::Detail);
        code(&mut a, KeyCode::Tab);
        assert_eq!(a.detail.as_ref().unwrap().tab, Tab::Response);
        key(&mut a, ' ');
        assert_eq!(a.detail.as_ref().unwrap().id, 1);
        assert_eq!(a.detail.as_ref().unwrap().tab, Tab::Response, "tab kept across flows");
        key(&mut a, 'p');
        assert_eq!(a.detail.as_ref().unwrap().id, 0);
        key(&mut a, 'q');
        assert!(a.detail.is_none());
        assert!(!a.quit);
        key(&mut a, 'q');
        assert!(a.quit);
    }

    #[test]
    fn search_moves_between_matching_flows() {
        let mut a = app();
        key(&mut a, '/');
        for c in "ITEM-3".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.focused(), Some(3));
        key(&mut a, 'n');
        assert_eq!(a.focused(), Some(3), "only one hit: wraps to itself");
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.detail.as_ref().unwrap().tab, Tab::Response, "opens where the hit is");
    }

    #[test]
    fn search_says_which_hit_and_when_it_wraps() {
        let mut a = app();
        key(&mut a, '/');
        for c in "item-".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.focused(), Some(0));
        assert_eq!(a.message.as_ref().unwrap().0, "“item-”: hit 1 of 5");
        key(&mut a, 'n');
        assert_eq!(a.message.as_ref().unwrap().0, "“item-”: hit 2 of 5");
        key(&mut a, 'N');
        key(&mut a, 'N');
        assert_eq!(a.focused(), Some(4));
        assert_eq!(a.message.as_ref().unwrap().0, "“item-”: hit 5 of 5 · wrapped to the last");
    }

    #[test]
    fn marks_comments_and_diff() {
        let mut a = app();
        key(&mut a, '=');
        assert!(a.compare.is_none());
        assert_eq!(a.message.as_ref().unwrap().1, Level::Error);
        key(&mut a, 'm');
        key(&mut a, 'j');
        key(&mut a, 'm');
        key(&mut a, 'M');
        assert_eq!(a.store.view().len(), 2);
        key(&mut a, '=');
        assert_eq!(a.context(), Context::Compare);
        assert!(a.compare.as_ref().unwrap().rows.iter().any(|r| r.left.contains("$.n")));
        key(&mut a, 'q');
        key(&mut a, 'U');
        assert_eq!(a.store.view().len(), 0);
        key(&mut a, 'M');
        key(&mut a, ';');
        for c in "hello".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.store.comment(a.focused().unwrap()), Some("hello"));
    }

    #[test]
    fn back_returns_through_the_places_visited_and_asks_before_quitting_with_marks() {
        let mut a = app();
        key(&mut a, 'j');
        code(&mut a, KeyCode::Enter);
        code(&mut a, KeyCode::Tab);
        key(&mut a, '3');
        assert_eq!(a.screen, Screen::Endpoints);
        assert!(a.detail.is_none());
        key(&mut a, 'q');
        assert_eq!(a.screen, Screen::Flows);
        let d = a.detail.as_ref().expect("the open flow comes back");
        assert_eq!((d.id, d.tab), (1, Tab::Response));
        key(&mut a, 'q');
        assert!(a.detail.is_none());
        assert_eq!(a.focus, 1);
        key(&mut a, 'm');
        key(&mut a, 'q');
        assert!(!a.quit, "marks exist: ask first");
        assert_eq!(a.context(), Context::Confirm);
        key(&mut a, 'j');
        assert_eq!(a.context(), Context::Confirm, "only y / n answer");
        code(&mut a, KeyCode::Esc);
        assert!(a.popup.is_none() && !a.quit);
        key(&mut a, 'q');
        key(&mut a, 'y');
        assert!(a.quit);
    }

    #[test]
    fn an_invalid_filter_stays_in_the_prompt_and_esc_does_not_quit() {
        let mut a = app();
        key(&mut a, 'f');
        for c in "~c 200 & (".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Enter);
        assert!(a.prompt.is_some(), "kept for editing");
        code(&mut a, KeyCode::Esc);
        assert!(a.prompt.is_none());
        code(&mut a, KeyCode::Esc);
        assert!(!a.quit, "the first esc dismisses the error");
        key(&mut a, 'f');
        code(&mut a, KeyCode::Up);
        assert_eq!(a.prompt.as_ref().unwrap().input.value(), "~c 200 & (");
    }

    #[test]
    fn one_key_orders_slowest_first() {
        let mut a = app();
        key(&mut a, 'G');
        key(&mut a, 'D');
        assert_eq!(a.store.order(), (Some(Column::Duration), true));
        assert_eq!(a.focus, 0);
        let d = |a: &App, i: usize| a.store.exchange(a.store.view()[i]).and_then(|e| e.duration());
        assert!(d(&a, 0) >= d(&a, 1) && d(&a, 1) >= d(&a, 4), "descending durations");
    }

    #[test]
    fn tab_completes_filter_terms_in_the_prompt() {
        let mut a = app();
        key(&mut a, 'f');
        for c in "~c 2xx & ~dur".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Tab);
        assert_eq!(a.prompt.as_ref().unwrap().input.value(), "~c 2xx & ~dur ");
        for c in "<1s & ~fla".chars() {
            key(&mut a, c);
        }
        code(&mut a, KeyCode::Tab);
        assert_eq!(a.prompt.as_ref().unwrap().input.value(), "~c 2xx & ~dur <1s & ~flag ");
        assert_eq!(a.screen, Screen::Flows, "tab in the prompt does not switch views");
    }

    #[test]
    fn a_flag_filter_applies_once_the_clients_flags_are_computed() {
        let mut a = App::new(Options::default());
        let mut v: Vec<Exchange> = (0..5).map(|i| ex(i, 200, "{}")).collect();
        for i in 0..12i64 {
            let mut e = ex(10 + i, 404, "");
            e.request.target = format!("/junk/{}.php", i % 6);
            e.request.headers.push("User-Agent", "zgrab/0.x");
            v.push(e);
        }
        a.load_all(v);
        a.apply_filter("~flag scanner");
        a.wait_flags();
        assert_eq!(a.store.view().len(), 12, "{:?}", a.message);
        a.apply_filter("!~flag scan");
        a.wait_flags();
        assert_eq!(a.store.view().len(), 5);
    }

    #[test]
    fn columns_picker_hides_columns_but_not_all() {
        let mut a = app();
        key(&mut a, 'C');
        for _ in 0..20 {
            key(&mut a, ' ');
            key(&mut a, 'j');
        }
        assert!(a.columns.iter().filter(|c| c.1).count() >= 1);
        key(&mut a, 'q');
        assert!(a.popup.is_none());
    }
}
