//! Everything the user can ask for, as plain values: the keymap turns keys into an
//! [`Action`], and only `App::update` acts on one.

/// A user intent. Names (see [`Action::name`]) are what the key config file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Leave the app at once.
    Quit,
    /// Close the current view or popup (quits from the flows view).
    Back,
    /// Show or hide the key help.
    Help,
    /// Move focus (or scroll) one line down.
    Down,
    /// Move focus (or scroll) one line up.
    Up,
    /// One page down.
    PageDown,
    /// One page up.
    PageUp,
    /// First line.
    Top,
    /// Last line.
    Bottom,
    /// Open the focused flow.
    Open,
    /// Next flow (detail view).
    NextFlow,
    /// Previous flow (detail view).
    PrevFlow,
    /// Next tab.
    NextTab,
    /// Previous tab.
    PrevTab,
    /// Open the filter bar.
    Filter,
    /// Clear the filter.
    ClearFilter,
    /// Open the search prompt.
    Search,
    /// Next search hit.
    SearchNext,
    /// Previous search hit.
    SearchPrev,
    /// Sort by the next column.
    CycleOrder,
    /// Reverse the order.
    Reverse,
    /// Toggle the mark on the focused flow.
    ToggleMark,
    /// Show only marked flows (toggle).
    MarkedOnly,
    /// Remove every mark.
    UnmarkAll,
    /// Comment on the focused flow.
    Comment,
    /// Export flows.
    Export,
    /// Compare two flows (shown to the user as their diff).
    Compare,
    /// Choose the table's columns.
    Columns,
    /// Toggle the item under the cursor (pickers, dialogs).
    Toggle,
    /// Unified or side-by-side comparison.
    ToggleUnified,
    /// Ignore volatile headers in the comparison (toggle).
    ToggleVolatile,
    /// Export dialog: next scope (focused / marked / shown).
    CycleScope,
    /// Export dialog: redact secrets or not.
    ToggleRedact,
    /// Show the flows view (the view switcher's first entry).
    ViewFlows,
    /// Show the contract gaps view.
    ViewGaps,
    /// Show the endpoint KPIs view.
    ViewEndpoints,
    /// Show the clients view.
    ViewClients,
    /// Show the structure tree.
    ViewStructure,
    /// Next view of the switcher.
    ViewNext,
    /// Previous view of the switcher.
    ViewPrev,
    /// Open the focused client's journey.
    Journey,
    /// Hide the focused client's flows (adds `!~client ID` to the filter).
    HideClient,
    /// Mark every flow of the focused client.
    MarkClient,
    /// Clients view: show only the clients with pattern flags (toggle).
    FlaggedOnly,
    /// Flows: order by duration, slowest first.
    SlowestFirst,
    /// Save the current filter under a name.
    SaveFilter,
    /// List saved filters.
    SavedFilters,
    /// Delete the focused saved filter.
    DeleteSaved,
    /// Show the file diagnostics (problems found while reading the inputs).
    FileDiagnostics,
    /// Replay flows to a target (opens the confirmation).
    Replay,
    /// Replay dialog: send unsafe methods too (toggle).
    AllowUnsafe,
    /// Show the Versions view (two sets of captures compared).
    ViewVersions,
    /// Versions view: drill into side A's or B's flows (toggle).
    SwitchSide,
}

impl Action {
    /// Every action (for config validation and help).
    pub const ALL: [Self; 53] = [
        Self::Quit,
        Self::Back,
        Self::Help,
        Self::Down,
        Self::Up,
        Self::PageDown,
        Self::PageUp,
        Self::Top,
        Self::Bottom,
        Self::Open,
        Self::NextFlow,
        Self::PrevFlow,
        Self::NextTab,
        Self::PrevTab,
        Self::Filter,
        Self::ClearFilter,
        Self::Search,
        Self::SearchNext,
        Self::SearchPrev,
        Self::CycleOrder,
        Self::Reverse,
        Self::ToggleMark,
        Self::MarkedOnly,
        Self::UnmarkAll,
        Self::Comment,
        Self::Export,
        Self::Compare,
        Self::Columns,
        Self::Toggle,
        Self::ToggleUnified,
        Self::ToggleVolatile,
        Self::CycleScope,
        Self::ToggleRedact,
        Self::ViewFlows,
        Self::ViewGaps,
        Self::ViewEndpoints,
        Self::ViewClients,
        Self::ViewStructure,
        Self::ViewNext,
        Self::ViewPrev,
        Self::Journey,
        Self::HideClient,
        Self::MarkClient,
        Self::FlaggedOnly,
        Self::SlowestFirst,
        Self::SaveFilter,
        Self::SavedFilters,
        Self::DeleteSaved,
        Self::FileDiagnostics,
        Self::Replay,
        Self::AllowUnsafe,
        Self::ViewVersions,
        Self::SwitchSide,
    ];

    /// The name used in the key config file.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Back => "back",
            Self::Help => "help",
            Self::Down => "down",
            Self::Up => "up",
            Self::PageDown => "page_down",
            Self::PageUp => "page_up",
            Self::Top => "top",
            Self::Bottom => "bottom",
            Self::Open => "open",
            Self::NextFlow => "next_flow",
            Self::PrevFlow => "prev_flow",
            Self::NextTab => "next_tab",
            Self::PrevTab => "prev_tab",
            Self::Filter => "filter",
            Self::ClearFilter => "clear_filter",
            Self::Search => "search",
            Self::SearchNext => "search_next",
            Self::SearchPrev => "search_prev",
            Self::CycleOrder => "order",
            Self::Reverse => "reverse",
            Self::ToggleMark => "mark",
            Self::MarkedOnly => "marked_only",
            Self::UnmarkAll => "unmark_all",
            Self::Comment => "comment",
            Self::Export => "export",
            Self::Compare => "diff",
            Self::Columns => "columns",
            Self::Toggle => "toggle",
            Self::ToggleUnified => "unified",
            Self::ToggleVolatile => "volatile",
            Self::CycleScope => "scope",
            Self::ToggleRedact => "redact",
            Self::ViewFlows => "view_flows",
            Self::ViewGaps => "view_gaps",
            Self::ViewEndpoints => "view_endpoints",
            Self::ViewClients => "view_clients",
            Self::ViewStructure => "view_structure",
            Self::ViewNext => "view_next",
            Self::ViewPrev => "view_prev",
            Self::Journey => "journey",
            Self::HideClient => "hide_client",
            Self::MarkClient => "mark_client",
            Self::FlaggedOnly => "flagged_only",
            Self::SlowestFirst => "slowest_first",
            Self::SaveFilter => "save_filter",
            Self::SavedFilters => "saved_filters",
            Self::DeleteSaved => "delete_saved",
            Self::FileDiagnostics => "file_diagnostics",
            Self::Replay => "replay",
            Self::AllowUnsafe => "allow_unsafe",
            Self::ViewVersions => "view_versions",
            Self::SwitchSide => "switch_side",
        }
    }

    /// The action with this config name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Non-key inputs the app reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    /// Left click at (column, row).
    Click(u16, u16),
    /// Wheel down at (column, row).
    WheelDown(u16, u16),
    /// Wheel up at (column, row).
    WheelUp(u16, u16),
}

/// Move a scroll position `pos` over `len` lines, `page` of them shown, by a movement action
/// (other actions leave it).
pub fn scroll(pos: &mut usize, len: usize, page: usize, a: Action) {
    let max = len.saturating_sub(page);
    *pos = match a {
        Action::Down => (*pos + 1).min(max),
        Action::Up => pos.saturating_sub(1),
        Action::PageDown => (*pos + page).min(max),
        Action::PageUp => pos.saturating_sub(page),
        Action::Top => 0,
        Action::Bottom => max,
        _ => *pos,
    };
}
