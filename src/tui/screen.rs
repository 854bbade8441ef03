//! What fills the body: the top-level screens of the view switcher and the tabs of a flow's
//! detail.

/// Top-level views of the view switcher. Insight views (gaps, endpoints, clients, structure)
/// join this list; each gets a `view_*` action and a tab in the title bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The flows table.
    Flows,
    /// Contract gaps against the spec.
    Gaps,
    /// Endpoint KPIs and charts.
    Endpoints,
    /// Per-client KPIs, patterns, triage.
    Clients,
    /// Host → endpoint → path tree.
    Structure,
    /// Two sets of captures compared (`--against`); not in the tab cycle, shown only when
    /// a second side was given.
    Versions,
}

impl Screen {
    /// Every screen, in tab order.
    pub const ALL: [Self; 5] = [Self::Flows, Self::Gaps, Self::Endpoints, Self::Clients, Self::Structure];

    /// Tab title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Flows => "Flows",
            Self::Gaps => "Gaps",
            Self::Endpoints => "Endpoints",
            Self::Clients => "Clients",
            Self::Structure => "Structure",
            Self::Versions => "Versions",
        }
    }

    /// Position in [`Screen::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|x| *x == self).unwrap_or(0)
    }

    /// The screen `d` steps away in tab order (wrapping).
    #[must_use]
    pub fn step(self, d: isize) -> Self {
        let n = Self::ALL.len() as isize;
        Self::ALL[((self.index() as isize + d).rem_euclid(n)) as usize]
    }
}

/// Tabs of the flow detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Request line, headers, body.
    Request,
    /// Status line, headers, body.
    Response,
    /// The messages inside the exchange (WebSocket, SSE, NDJSON).
    Messages,
    /// Times, addresses, provenance.
    Timing,
    /// Both messages as HTTP text.
    Raw,
    /// The exchange's diagnostics.
    Diagnostics,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Self; 6] =
        [Self::Request, Self::Response, Self::Timing, Self::Raw, Self::Diagnostics, Self::Messages];

    /// Tab title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Request => "Request",
            Self::Response => "Response",
            Self::Messages => "Messages",
            Self::Timing => "Timing",
            Self::Raw => "Raw",
            Self::Diagnostics => "Diagnostics",
        }
    }

    /// The tab `d` steps away (wrapping).
    #[must_use]
    pub fn step(self, d: isize) -> Self {
        let n = Self::ALL.len() as isize;
        let i = Self::ALL.iter().position(|t| *t == self).unwrap_or(0) as isize;
        Self::ALL[((i + d).rem_euclid(n)) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens_and_tabs_step_around() {
        assert_eq!(Screen::Flows.step(-1), Screen::Structure);
        assert_eq!(Screen::Structure.step(1), Screen::Flows);
        assert_eq!(Screen::Clients.index(), 3);
        assert_eq!(Tab::Request.step(-1), Tab::Messages);
        assert_eq!(Tab::Raw.step(1), Tab::Diagnostics);
    }
}
