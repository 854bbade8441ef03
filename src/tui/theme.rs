//! Colours and styles. With `NO_COLOR` set (any value) only bold, reverse and underline are
//! used, so every distinction stays visible without colour.

use ratatui::style::{Color, Modifier, Style};

/// The styles the views use.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    /// False when `NO_COLOR` asks for no colours.
    pub color: bool,
}

impl Theme {
    /// Colours on or off.
    #[must_use]
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    /// From the environment (`NO_COLOR`).
    #[must_use]
    pub fn from_env() -> Self {
        Self::new(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    fn fg(self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    /// Title and tab bars.
    #[must_use]
    pub fn bar(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// The active tab in a bar.
    #[must_use]
    pub fn active_tab(self) -> Style {
        let s = Style::new().add_modifier(Modifier::BOLD);
        if self.color { s.bg(Color::White).fg(Color::Blue) } else { s.add_modifier(Modifier::UNDERLINED) }
    }

    /// Table header.
    #[must_use]
    pub fn header(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The focused row.
    #[must_use]
    pub fn focus(self) -> Style {
        if self.color {
            Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// A search hit.
    #[must_use]
    pub fn hit(self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
        }
    }

    /// Dim text.
    #[must_use]
    pub fn dim(self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }

    /// Errors.
    #[must_use]
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Warnings.
    #[must_use]
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Good news.
    #[must_use]
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// Header names in the detail view.
    #[must_use]
    pub fn header_name(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// Keys in hints and help.
    #[must_use]
    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Marked-flow glyph.
    #[must_use]
    pub fn mark(self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// A status code.
    #[must_use]
    pub fn status(self, s: Option<u16>) -> Style {
        match s {
            None => self.error(),
            Some(200..=299) => self.fg(Color::Green),
            Some(300..=399) => self.fg(Color::Cyan),
            Some(400..=499) => self.fg(Color::Yellow),
            Some(500..=599) => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Some(_) => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        }
    }

    /// A method.
    #[must_use]
    pub fn method(self, m: &str) -> Style {
        match m {
            "GET" => self.fg(Color::Green),
            "HEAD" | "OPTIONS" => self.fg(Color::Cyan),
            "POST" => self.fg(Color::Yellow),
            "PUT" | "PATCH" => self.fg(Color::Blue),
            "DELETE" => self.fg(Color::Red),
            _ => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        }
    }

    /// JSON object keys.
    #[must_use]
    pub fn json_key(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// JSON strings.
    #[must_use]
    pub fn json_str(self) -> Style {
        self.fg(Color::Green)
    }

    /// JSON numbers.
    #[must_use]
    pub fn json_num(self) -> Style {
        self.fg(Color::Yellow)
    }

    /// JSON literals (true/false/null).
    #[must_use]
    pub fn json_lit(self) -> Style {
        self.fg(Color::Magenta)
    }

    /// Removed lines in a diff.
    #[must_use]
    pub fn del(self) -> Style {
        if self.color { Style::new().fg(Color::Red) } else { Style::new().add_modifier(Modifier::CROSSED_OUT) }
    }

    /// Added lines in a diff.
    #[must_use]
    pub fn ins(self) -> Style {
        if self.color { Style::new().fg(Color::Green) } else { Style::new().add_modifier(Modifier::BOLD) }
    }
}
