//! The one keymap table: (key, context, action, help). It drives key dispatch, the `?` help
//! overlay and the status-bar hints. Defaults follow mitmproxy's console; a TOML file
//! (`$APISCOPE_KEYS`, else `keys.toml` in the config directory, see [`super::config`]) can
//! rebind any action:
//!
//! ```toml
//! # [context] then action = "key" or action = ["key", "key"]
//! [flows]
//! filter = "F"
//! down = ["j", "down", "ctrl-n"]
//! [global]
//! quit = "ctrl-q"
//! ```
//!
//! Keys: a character (`j`, `G`, `?`, `;`), or `enter esc tab backtab space backspace up down
//! left right home end pgup pgdown delete f1..f12`, optionally prefixed `ctrl-` / `alt-`.
//! Giving an action replaces all of its default keys in that context.

use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::de::{MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::action::Action;
use super::config::{self, ConfigError};

/// Where a binding applies. `Global` bindings apply everywhere unless a context binds the
/// same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// Everywhere.
    Global,
    /// The flows table.
    Flows,
    /// One flow's detail.
    Detail,
    /// The comparison of two flows (`diff` in the config file).
    Compare,
    /// The help overlay.
    Help,
    /// The column picker.
    Columns,
    /// The export dialog.
    Export,
    /// The insight views (gaps, endpoints, clients, structure, journey).
    Insight,
    /// The saved-filters popup.
    Saved,
    /// A yes/no question (quit?).
    Confirm,
    /// The replay dialog.
    Replay,
    /// The Versions view (two sets of captures compared).
    Versions,
}

impl Context {
    /// Every context.
    pub const ALL: [Self; 12] = [
        Self::Global,
        Self::Flows,
        Self::Detail,
        Self::Compare,
        Self::Help,
        Self::Columns,
        Self::Export,
        Self::Insight,
        Self::Saved,
        Self::Confirm,
        Self::Replay,
        Self::Versions,
    ];

    /// The name used in the config file and in help.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Flows => "flows",
            Self::Detail => "detail",
            Self::Compare => "diff",
            Self::Help => "help",
            Self::Columns => "columns",
            Self::Export => "export",
            Self::Insight => "insight",
            Self::Saved => "saved",
            Self::Confirm => "confirm",
            Self::Replay => "replay",
            Self::Versions => "versions",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// A key with its modifiers (shift is part of the character for printable keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl / Alt (Shift only for non-character keys).
    pub mods: KeyModifiers,
}

impl Key {
    /// A plain character key.
    #[must_use]
    pub const fn ch(c: char) -> Self {
        Self { code: KeyCode::Char(c), mods: KeyModifiers::NONE }
    }

    /// A key without modifiers.
    #[must_use]
    pub const fn code(code: KeyCode) -> Self {
        Self { code, mods: KeyModifiers::NONE }
    }

    /// A ctrl-combination.
    #[must_use]
    pub const fn ctrl(c: char) -> Self {
        Self { code: KeyCode::Char(c), mods: KeyModifiers::CONTROL }
    }

    /// The normalised key of a terminal event.
    #[must_use]
    pub fn from_event(e: &KeyEvent) -> Self {
        let mut mods = e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match e.code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            c => c,
        };
        Self { code, mods }
    }

    /// Parse a key name (`j`, `ctrl-f`, `pgdown`, `shift-tab`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.chars().count() > 1 && lower.starts_with("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = rest.get(5..)?;
            } else if rest.chars().count() > 1 && lower.starts_with("alt-") {
                mods |= KeyModifiers::ALT;
                rest = rest.get(4..)?;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdown" | "pagedown" | "pgdn" => KeyCode::PageDown,
                "delete" | "del" => KeyCode::Delete,
                f if f.starts_with('f') => KeyCode::F(f.get(1..)?.parse().ok().filter(|n| (1..=12).contains(n))?),
                _ => return None,
            },
        };
        Some(Self { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::F(n) => write!(f, "f{n}"),
            _ => f.write_str("?"),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The key.
    pub key: Key,
    /// Where it applies.
    pub context: Context,
    /// What it does.
    pub action: Action,
    /// Help text.
    pub help: &'static str,
    /// Shown in the status bar hints.
    pub hint: bool,
}

/// Why a key config file was refused.
pub type KeymapError = ConfigError;

/// The keymap.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

use Action as A;
use Context as C;

/// One line of the help overlay (rendered by `views::popups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    /// A section title.
    Title(String),
    /// Keys (or a filter term with its argument) and what they do.
    Row(String, &'static str),
    /// A dim note.
    Note(&'static str),
    /// An empty line.
    Blank,
}

/// (context, keys, action, help, shown as a hint)
const DEFAULTS: &[(Context, &[&str], Action, &str, bool)] = &[
    (C::Global, &["Q"], A::Quit, "quit at once", false),
    (C::Global, &["q", "esc"], A::Back, "back one level (quit at the top, asking first)", true),
    (C::Global, &["?"], A::Help, "help: all keys", true),
    (C::Global, &["1"], A::ViewFlows, "flows view", false),
    (C::Global, &["2"], A::ViewGaps, "contract gaps view (needs --spec)", false),
    (C::Global, &["3"], A::ViewEndpoints, "endpoints view: KPIs and charts", false),
    (C::Global, &["4"], A::ViewClients, "clients view: KPIs, patterns, triage", false),
    (C::Global, &["5"], A::ViewStructure, "structure view: host → endpoint → path", false),
    (C::Global, &["tab"], A::ViewNext, "next view", false),
    (C::Global, &["backtab"], A::ViewPrev, "previous view", false),
    (C::Global, &["6"], A::ViewVersions, "versions view: A against B (with --against)", false),
    (C::Global, &["'"], A::SavedFilters, "saved filters", false),
    (C::Global, &["!"], A::FileDiagnostics, "file diagnostics: problems met reading the inputs", false),
    (C::Insight, &["j", "down"], A::Down, "next row", false),
    (C::Insight, &["k", "up"], A::Up, "previous row", false),
    (C::Insight, &["pgdown", "ctrl-f"], A::PageDown, "page down", false),
    (C::Insight, &["pgup", "ctrl-b"], A::PageUp, "page up", false),
    (C::Insight, &["g", "home"], A::Top, "first row", false),
    (C::Insight, &["G", "end"], A::Bottom, "last row", false),
    (C::Insight, &["enter"], A::Open, "show its flows (journey: open the call)", true),
    (C::Insight, &["space", "right", "left"], A::Toggle, "expand / collapse (structure)", false),
    (C::Insight, &["o"], A::CycleOrder, "sort by next column", true),
    (C::Insight, &["v"], A::Reverse, "reverse the sort", false),
    (C::Insight, &["f"], A::Filter, "filter every view", true),
    (C::Insight, &["F"], A::ClearFilter, "clear the filter", false),
    (C::Insight, &["J"], A::Journey, "clients view: the focused client's journey", true),
    (C::Insight, &["h"], A::HideClient, "clients view: hide the focused client's flows", true),
    (C::Insight, &["m"], A::MarkClient, "clients view: mark the focused client's flows", false),
    (C::Insight, &["a"], A::FlaggedOnly, "clients view: flagged clients only (scanners, retry storms…), toggle", false),
    (C::Insight, &["S"], A::SaveFilter, "save by name: the focused client (clients view), else the filter", false),
    (C::Versions, &["j", "down"], A::Down, "next row (text panes: scroll)", false),
    (C::Versions, &["k", "up"], A::Up, "previous row (text panes: scroll)", false),
    (C::Versions, &["pgdown", "ctrl-f", "space"], A::PageDown, "page down", false),
    (C::Versions, &["pgup", "ctrl-b"], A::PageUp, "page up", false),
    (C::Versions, &["g", "home"], A::Top, "first row", false),
    (C::Versions, &["G", "end"], A::Bottom, "last row", false),
    (C::Versions, &["enter"], A::Open, "the endpoint's flows of side A or B (in them: open the flow)", true),
    (C::Versions, &["s"], A::SwitchSide, "switch side A / B (in the flows: show the other side's)", true),
    (C::Versions, &["l", "right"], A::NextTab, "next pane: endpoints, shapes, contract, clients", true),
    (C::Versions, &["h", "left"], A::PrevTab, "previous pane", false),
    (C::Saved, &["j", "down"], A::Down, "next saved filter", false),
    (C::Saved, &["k", "up"], A::Up, "previous saved filter", false),
    (C::Saved, &["g", "home"], A::Top, "first saved filter", false),
    (C::Saved, &["G", "end"], A::Bottom, "last saved filter", false),
    (C::Saved, &["enter"], A::Open, "apply it", true),
    (C::Saved, &["d"], A::DeleteSaved, "delete it", true),
    (C::Flows, &["j", "down"], A::Down, "next flow", false),
    (C::Flows, &["k", "up"], A::Up, "previous flow", false),
    (C::Flows, &["pgdown", "ctrl-f", "space"], A::PageDown, "page down", false),
    (C::Flows, &["pgup", "ctrl-b"], A::PageUp, "page up", false),
    (C::Flows, &["g", "home"], A::Top, "first flow", false),
    (C::Flows, &["G", "end"], A::Bottom, "last flow", false),
    (C::Flows, &["enter"], A::Open, "open flow", true),
    (C::Flows, &["f"], A::Filter, "filter (mitmproxy expressions)", true),
    (C::Flows, &["F"], A::ClearFilter, "clear the filter", false),
    (C::Flows, &["/"], A::Search, "search everything, bodies too", true),
    (C::Flows, &["n"], A::SearchNext, "next search hit", false),
    (C::Flows, &["N"], A::SearchPrev, "previous search hit", false),
    (C::Flows, &["o"], A::CycleOrder, "order by next column", true),
    (C::Flows, &["v"], A::Reverse, "reverse order", false),
    (C::Flows, &["D"], A::SlowestFirst, "slowest first (by duration)", false),
    (C::Flows, &["m"], A::ToggleMark, "mark / unmark flow", true),
    (C::Flows, &["M"], A::MarkedOnly, "show marked only (toggle)", false),
    (C::Flows, &["U"], A::UnmarkAll, "unmark all", false),
    (C::Flows, &[";"], A::Comment, "comment on flow", false),
    (C::Flows, &["x"], A::Export, "export focused / marked / shown flows", true),
    (C::Flows, &["="], A::Compare, "diff two marked flows (or marked vs focused)", true),
    (C::Flows, &["C"], A::Columns, "choose columns", false),
    (C::Flows, &["r"], A::Replay, "replay focused / marked / shown flows to a target", false),
    (C::Detail, &["tab", "l", "right"], A::NextTab, "next tab", true),
    (C::Detail, &["backtab", "h", "left"], A::PrevTab, "previous tab", false),
    (C::Detail, &["space"], A::NextFlow, "next flow", true),
    (C::Detail, &["p"], A::PrevFlow, "previous flow", true),
    (C::Detail, &["j", "down"], A::Down, "scroll down", false),
    (C::Detail, &["k", "up"], A::Up, "scroll up", false),
    (C::Detail, &["pgdown", "ctrl-f"], A::PageDown, "page down", false),
    (C::Detail, &["pgup", "ctrl-b"], A::PageUp, "page up", false),
    (C::Detail, &["g", "home"], A::Top, "top", false),
    (C::Detail, &["G", "end"], A::Bottom, "bottom", false),
    (C::Detail, &["enter"], A::Open, "Messages tab: open the message at the top (or at the search hit)", false),
    (C::Detail, &["/"], A::Search, "search in this flow", true),
    (C::Detail, &["n"], A::SearchNext, "next hit", false),
    (C::Detail, &["N"], A::SearchPrev, "previous hit", false),
    (C::Detail, &["m"], A::ToggleMark, "mark / unmark", false),
    (C::Detail, &[";"], A::Comment, "comment", false),
    (C::Detail, &["x"], A::Export, "export this flow", true),
    (C::Detail, &["r"], A::Replay, "replay this flow to a target", false),
    (C::Compare, &["j", "down"], A::Down, "scroll down", false),
    (C::Compare, &["k", "up"], A::Up, "scroll up", false),
    (C::Compare, &["pgdown", "space", "ctrl-f"], A::PageDown, "page down", false),
    (C::Compare, &["pgup", "ctrl-b"], A::PageUp, "page up", false),
    (C::Compare, &["g", "home"], A::Top, "top", false),
    (C::Compare, &["G", "end"], A::Bottom, "bottom", false),
    (C::Compare, &["u"], A::ToggleUnified, "unified / side by side", true),
    (C::Compare, &["i"], A::ToggleVolatile, "ignore volatile headers (toggle)", true),
    (C::Help, &["j", "down"], A::Down, "scroll down", false),
    (C::Help, &["k", "up"], A::Up, "scroll up", false),
    (C::Help, &["pgdown", "space"], A::PageDown, "page down", false),
    (C::Help, &["pgup"], A::PageUp, "page up", false),
    (C::Help, &["g", "home"], A::Top, "top", false),
    (C::Help, &["G", "end"], A::Bottom, "bottom", false),
    (C::Help, &["!"], A::FileDiagnostics, "close the file diagnostics", false),
    (C::Columns, &["j", "down"], A::Down, "next column", false),
    (C::Columns, &["k", "up"], A::Up, "previous column", false),
    (C::Columns, &["g", "home"], A::Top, "first column", false),
    (C::Columns, &["G", "end"], A::Bottom, "last column", false),
    (C::Columns, &["space", "enter"], A::Toggle, "show / hide column", true),
    (C::Columns, &["o"], A::CycleOrder, "sort by this column", true),
    (C::Export, &["j", "down"], A::Down, "next format", false),
    (C::Export, &["k", "up"], A::Up, "previous format", false),
    (C::Export, &["g", "home"], A::Top, "first format", false),
    (C::Export, &["G", "end"], A::Bottom, "last format", false),
    (C::Export, &["s"], A::CycleScope, "focused / marked / shown", true),
    (C::Export, &["r"], A::ToggleRedact, "redact secrets (toggle)", true),
    (C::Export, &["enter"], A::Toggle, "write the file", true),
    (C::Confirm, &["y", "enter", "Q"], A::Quit, "yes, quit", true),
    (C::Confirm, &["n", "esc", "q"], A::Back, "no, stay", true),
    (C::Replay, &["s"], A::CycleScope, "focused / marked / shown", true),
    (C::Replay, &["u"], A::AllowUnsafe, "send unsafe methods too (toggle)", true),
    (C::Replay, &["enter"], A::Toggle, "send the requests", true),
    (C::Replay, &["j", "down"], A::Down, "scroll down", false),
    (C::Replay, &["k", "up"], A::Up, "scroll up", false),
    (C::Replay, &["pgdown", "space"], A::PageDown, "page down", false),
    (C::Replay, &["pgup"], A::PageUp, "page up", false),
    (C::Replay, &["g", "home"], A::Top, "top", false),
    (C::Replay, &["G", "end"], A::Bottom, "bottom", false),
];

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings = Vec::new();
        for (context, keys, action, help, hint) in DEFAULTS {
            for (i, k) in keys.iter().enumerate() {
                if let Some(key) = Key::parse(k) {
                    bindings.push(Binding { key, context: *context, action: *action, help, hint: *hint && i == 0 });
                }
            }
        }
        Self { bindings }
    }
}

impl Keymap {
    /// Every binding.
    #[must_use]
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The action of `key` in `context` (context bindings first, then global ones).
    #[must_use]
    pub fn lookup(&self, context: Context, key: Key) -> Option<Action> {
        let find = |c: Context| self.bindings.iter().find(|b| b.context == c && b.key == key).map(|b| b.action);
        find(context).or_else(|| find(Context::Global))
    }

    /// The action of `key` bound in `context` itself (no global fallback).
    #[must_use]
    pub fn lookup_only(&self, context: Context, key: Key) -> Option<Action> {
        self.bindings.iter().find(|b| b.context == context && b.key == key).map(|b| b.action)
    }

    /// The first key bound to `action` in `context` (or globally), for hints.
    #[must_use]
    pub fn key_for(&self, context: Context, action: Action) -> Option<Key> {
        let find = |c: Context| self.bindings.iter().find(|b| b.context == c && b.action == action).map(|b| b.key);
        find(context).or_else(|| find(Context::Global))
    }

    /// Status-bar hints for a context: (key, short help).
    #[must_use]
    pub fn hints(&self, context: Context) -> Vec<(Key, &'static str)> {
        self.hints_where(context, &|_| true)
    }

    /// Status-bar hints for a context, of the actions `offered` lets through (keys that do
    /// nothing on the view shown are not offered).
    #[must_use]
    pub fn hints_where(&self, context: Context, offered: &dyn Fn(Action) -> bool) -> Vec<(Key, &'static str)> {
        let mut out: Vec<(Key, &'static str)> = Vec::new();
        let own = [context];
        let both = [context, Context::Global];
        let contexts: &[Context] = if context == Context::Confirm { &own } else { &both };
        for c in contexts.iter().copied() {
            for b in self.bindings.iter().filter(|b| b.context == c && b.hint) {
                if self.lookup(context, b.key) == Some(b.action) && offered(b.action) {
                    out.push((b.key, short(b.action)));
                }
            }
        }
        out
    }

    /// The help overlay: the keys of `here` first, then of every other context, then every
    /// filter term from the parser's table ([`crate::filter::parser::TERM_TABLE`]), so the
    /// overlay cannot drift from what the parser accepts.
    #[must_use]
    pub fn help_text(&self, here: Context) -> Vec<HelpLine> {
        let mut lines = Vec::new();
        let order = std::iter::once(here).chain(Context::ALL.into_iter().filter(|c| *c != here && *c != Context::Help));
        for c in order {
            let rows = self.help_rows(c);
            if rows.is_empty() {
                continue;
            }
            lines.push(HelpLine::Title(format!("{}{}", c.name(), if c == here { " (here)" } else { "" })));
            lines.extend(rows.into_iter().map(|(k, h)| HelpLine::Row(k, h)));
            lines.push(HelpLine::Blank);
        }
        lines.push(HelpLine::Note("prompts: enter apply · esc cancel · ↑/↓ filter history · tab complete"));
        lines.push(HelpLine::Blank);
        lines.push(HelpLine::Title("filter terms (f; combine with ! & | and parentheses)".to_string()));
        for t in crate::filter::parser::TERM_TABLE {
            let head = if t.arg.is_empty() { t.name.to_string() } else { format!("{} {}", t.name, t.arg) };
            lines.push(HelpLine::Row(head, t.help));
        }
        lines.push(HelpLine::Blank);
        lines.push(HelpLine::Note("keys: $APISCOPE_KEYS or ~/.config/apiscope/keys.toml"));
        lines
    }

    /// Help rows for one context: (keys joined, help).
    #[must_use]
    pub fn help_rows(&self, context: Context) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, Action, &'static str)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.context == context) {
            if let Some(row) = out.iter_mut().find(|r| r.1 == b.action) {
                row.0.push_str(", ");
                row.0.push_str(&b.key.to_string());
            } else {
                out.push((b.key.to_string(), b.action, b.help));
            }
        }
        out.into_iter().map(|(k, _, h)| (k, h)).collect()
    }

    /// Apply a config text (see the module docs); `path` is for error messages.
    ///
    /// # Errors
    /// Not valid TOML; a table that is not a context; a value that is not a key name or a
    /// list of key names; an unknown context, action or key name. The error names the line.
    pub fn apply_config(&mut self, text: &str, path: &Path) -> Result<(), KeymapError> {
        let file: KeyFile = config::parse(path, text)?;
        for (name, section) in file.0 {
            let at = section.span().start;
            match section.into_inner() {
                Section::Keys(keys) => self.rebind(Context::Global, &name, &keys, text, path, at)?,
                Section::Context(entries) => {
                    let context = Context::from_name(name.trim()).ok_or_else(|| {
                        ConfigError::at(
                            path,
                            text,
                            at,
                            format!("unknown context `{name}` (known: {})", names(Context::ALL.map(Context::name))),
                        )
                    })?;
                    for (action, keys) in entries {
                        let at = keys.span().start;
                        self.rebind(context, &action, keys.get_ref(), text, path, at)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Bind `keys` to the action named `name` in `context`, replacing its default keys.
    fn rebind(
        &mut self,
        context: Context,
        name: &str,
        keys: &KeyList,
        text: &str,
        path: &Path,
        at: usize,
    ) -> Result<(), KeymapError> {
        let err = |why: String| ConfigError::at(path, text, at, why);
        let action = Action::from_name(name.trim())
            .ok_or_else(|| err(format!("unknown action `{name}` (known: {})", names(Action::ALL.map(Action::name)))))?;
        let keys = keys.names();
        if keys.is_empty() {
            return Err(err(format!("bad key list for `{name}`: no key given")));
        }
        let help = DEFAULTS.iter().find(|d| d.2 == action).map_or("", |d| d.3);
        let hint = DEFAULTS.iter().any(|d| d.2 == action && d.0 == context && d.4);
        self.bindings.retain(|b| !(b.context == context && b.action == action));
        for (i, k) in keys.iter().enumerate() {
            let key = Key::parse(k).ok_or_else(|| err(format!("unknown key `{k}`")))?;
            // A rebound key leaves its old action in this context.
            self.bindings.retain(|b| !(b.context == context && b.key == key));
            self.bindings.push(Binding { key, context, action, help, hint: hint && i == 0 });
        }
        Ok(())
    }

    /// The default keymap plus the user's file ([`config::keys_path`]: `$APISCOPE_KEYS`, else
    /// `keys.toml` in the config directory, when it exists).
    ///
    /// # Errors
    /// The file exists (or `$APISCOPE_KEYS` names it) but cannot be read or understood.
    pub fn load_user() -> Result<Self, KeymapError> {
        let mut map = Self::default();
        let Some((path, required)) = config::keys_path() else { return Ok(map) };
        let text = if required {
            let read = std::fs::read_to_string(&path);
            Some(read.map_err(|source| ConfigError::Io { path: path.clone(), source })?)
        } else {
            config::read_optional(&path)?
        };
        if let Some(text) = text {
            map.apply_config(&text, &path)?;
        }
        Ok(map)
    }
}

fn names<const N: usize>(a: [&str; N]) -> String {
    a.join(", ")
}

/// A key file: its top-level entries and tables, in file order.
struct KeyFile(Vec<(String, Spanned<Section>)>);

/// One top-level entry: `action = keys` (the global context) or a `[context]` table.
enum Section {
    Keys(KeyList),
    Context(Vec<(String, Spanned<KeyList>)>),
}

/// `"key"` or `["key", "key"]`.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged, expecting = "a key name or a list of key names")]
enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    fn names(&self) -> Vec<&str> {
        match self {
            Self::One(k) => vec![k.as_str()],
            Self::Many(ks) => ks.iter().map(String::as_str).collect(),
        }
    }
}

/// Map entries in file order (the `toml` crate keeps it with `preserve_order`).
fn entries<'de, A, V>(mut map: A) -> Result<Vec<(String, V)>, A::Error>
where
    A: MapAccess<'de>,
    V: serde::Deserialize<'de>,
{
    let mut out = Vec::new();
    while let Some(k) = map.next_key::<String>()? {
        out.push((k, map.next_value::<V>()?));
    }
    Ok(out)
}

impl<'de> serde::Deserialize<'de> for KeyFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key bindings table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyFile, A::Error> {
                entries(map).map(KeyFile)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> serde::Deserialize<'de> for Section {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Section;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key name, a list of key names or a [context] table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Section, E> {
                Ok(Section::Keys(KeyList::One(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Section, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    keys.push(k);
                }
                Ok(Section::Keys(KeyList::Many(keys)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Section, A::Error> {
                entries(map).map(Section::Context)
            }
        }
        d.deserialize_any(V)
    }
}

/// One or two words for the status bar.
fn short(a: Action) -> &'static str {
    match a {
        A::Back => "back",
        A::Help => "help",
        A::Open => "open",
        A::Filter => "filter",
        A::Search => "search",
        A::CycleOrder => "order",
        A::ToggleMark => "mark",
        A::Export => "export",
        A::Compare => "diff",
        A::NextTab => "tab",
        A::NextFlow => "next",
        A::PrevFlow => "prev",
        A::ToggleUnified => "unified",
        A::ToggleVolatile => "volatile",
        A::Toggle => "toggle",
        A::CycleScope => "scope",
        A::ToggleRedact => "redact",
        A::Replay => "replay",
        A::AllowUnsafe => "unsafe",
        A::FlaggedOnly => "flagged",
        A::SwitchSide => "side",
        other => other.name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mitmproxy_defaults_dispatch() {
        let k = Keymap::default();
        assert_eq!(k.lookup(Context::Flows, Key::ch('j')), Some(Action::Down));
        assert_eq!(k.lookup(Context::Flows, Key::ch('G')), Some(Action::Bottom));
        assert_eq!(k.lookup(Context::Flows, Key::ch('Q')), Some(Action::Quit), "global applies");
        assert_eq!(k.lookup(Context::Detail, Key::ch(' ')), Some(Action::NextFlow));
        assert_eq!(k.lookup(Context::Flows, Key::ch(' ')), Some(Action::PageDown));
        assert_eq!(k.lookup(Context::Flows, Key::ch('z')), None);
        for a in [A::Filter, A::Search, A::CycleOrder, A::Reverse, A::ToggleMark, A::MarkedOnly, A::Comment, A::Export]
        {
            assert!(k.key_for(Context::Flows, a).is_some(), "{a:?}");
        }
    }

    #[test]
    fn help_lists_every_filter_term_of_the_parser() {
        let text = Keymap::default().help_text(Context::Flows);
        for t in crate::filter::parser::TERM_TABLE {
            assert!(
                text.iter().any(|l| matches!(l, HelpLine::Row(k, _) if k.split(' ').next() == Some(t.name))),
                "{}",
                t.name
            );
        }
        assert_eq!(text.first(), Some(&HelpLine::Title("flows (here)".into())));
    }

    #[test]
    fn every_list_has_first_and_last_keys() {
        let k = Keymap::default();
        for c in [C::Flows, C::Detail, C::Compare, C::Help, C::Columns, C::Export, C::Insight, C::Saved, C::Replay] {
            assert_eq!(k.lookup_only(c, Key::ch('g')), Some(A::Top), "{}", c.name());
            assert_eq!(k.lookup_only(c, Key::ch('G')), Some(A::Bottom), "{}", c.name());
        }
    }

    #[test]
    fn shifted_letters_match_without_the_shift_flag() {
        let e = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&e), Key::ch('G'));
    }

    #[test]
    fn config_rebinds_and_replaces_defaults() {
        let mut k = Keymap::default();
        let cfg = "# mine\n[flows]\nfilter = \"F\"  # was f\ndown = [\"j\", \"ctrl-n\"]\n[global]\nquit = \"ctrl-q\"\n";
        k.apply_config(cfg, Path::new("keys.toml")).unwrap();
        assert_eq!(k.lookup(Context::Flows, Key::ch('F')), Some(Action::Filter));
        assert_eq!(k.lookup(Context::Flows, Key::ch('f')), None);
        assert_eq!(k.lookup(Context::Flows, Key::ctrl('n')), Some(Action::Down));
        assert_eq!(k.lookup(Context::Flows, Key::code(KeyCode::Down)), None);
        assert_eq!(k.lookup(Context::Detail, Key::ctrl('q')), Some(Action::Quit));
        assert_eq!(k.lookup(Context::Detail, Key::ch('Q')), None);
    }

    #[test]
    fn config_errors_name_the_line() {
        let mut k = Keymap::default();
        let e = k.apply_config("[flows]\nfly = \"x\"\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("k.toml:2: unknown action `fly`"), "{e}");
        let e = k.apply_config("[nowhere]\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("unknown context"), "{e}");
        let e = k.apply_config("[flows]\ndown = \"hyper-j\"\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("unknown key"), "{e}");
        assert!(k.apply_config("[flows]\ndown = [j]\n", Path::new("k.toml")).is_err());
    }

    #[test]
    fn key_names_round_trip() {
        for s in ["j", "G", "ctrl-f", "enter", "shift-tab", "pgdown", "f5", ";", "space", "alt-x"] {
            let k = Key::parse(s).unwrap();
            assert_eq!(Key::parse(&k.to_string().replace('↓', "down")).unwrap(), k, "{s}");
        }
        assert!(Key::parse("f13").is_none());
        assert!(Key::parse("").is_none());
    }

    #[test]
    fn hints_and_help_come_from_the_table() {
        let k = Keymap::default();
        let hints = k.hints(Context::Flows);
        assert!(hints.iter().any(|(key, h)| *key == Key::ch('f') && *h == "filter"));
        let help = k.help_rows(Context::Flows);
        assert!(help.iter().any(|(keys, _)| keys == "j, ↓"));
    }
}
