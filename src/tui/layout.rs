//! The screen's regions and what lies under the pointer: one split of the terminal used by
//! the views to draw and by the app to scroll by pages and to answer clicks.

use ratatui::layout::{Constraint, Layout, Rect};

/// The screen's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Title bar (view tabs, inputs, counts, order, filter).
    pub title: Rect,
    /// The main view.
    pub body: Rect,
    /// Loading gauge, while loading.
    pub gauge: Option<Rect>,
    /// Status line: prompt, message or key hints.
    pub status: Rect,
}

/// Split the screen (shared by rendering and mouse handling).
#[must_use]
pub fn layout(size: Rect, loading: bool) -> Areas {
    let [title, body, gauge, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(loading)),
        Constraint::Length(1),
    ])
    .areas(size);
    Areas { title, body, gauge: loading.then_some(gauge), status }
}

impl Areas {
    /// Rows of content the body shows under `header` lines (at least one).
    #[must_use]
    pub fn page(&self, header: u16) -> usize {
        usize::from(self.body.height.saturating_sub(header)).max(1)
    }

    /// The tab under (`x`, `y`) of a tab bar on the body's second line whose tabs are
    /// drawn as ` title ` plus a space: its index in `titles`.
    #[must_use]
    pub fn tab_at<'a>(&self, titles: impl IntoIterator<Item = &'a str>, x: u16, y: u16) -> Option<usize> {
        if y != self.body.y + 1 {
            return None;
        }
        let mut col = self.body.x;
        for (i, t) in titles.into_iter().enumerate() {
            let w = t.len() as u16 + 3;
            if x >= col && x < col + w {
                return Some(i);
            }
            col += w;
        }
        None
    }

    /// The table row under (`x`, `y`) of a table with one header line whose first shown
    /// row is `offset`.
    #[must_use]
    pub fn row_at(&self, offset: usize, x: u16, y: u16) -> Option<usize> {
        let b = self.body;
        (y > b.y && y < b.y + b.height && x >= b.x).then(|| offset + usize::from(y - b.y - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_testing_finds_tabs_and_rows() {
        let a = layout(Rect::new(0, 0, 80, 24), false);
        assert_eq!(a.body, Rect::new(0, 1, 80, 22));
        // " Request " + " " = 10 columns, then " Response " …
        assert_eq!(a.tab_at(["Request", "Response"], 0, 2), Some(0));
        assert_eq!(a.tab_at(["Request", "Response"], 9, 2), Some(0));
        assert_eq!(a.tab_at(["Request", "Response"], 10, 2), Some(1));
        assert_eq!(a.tab_at(["Request", "Response"], 10, 3), None);
        assert_eq!(a.row_at(5, 3, 1), None, "the header line");
        assert_eq!(a.row_at(5, 3, 2), Some(5));
        assert_eq!(a.row_at(5, 3, 23), None, "the status line");
        assert_eq!(a.page(1), 21);
        assert_eq!(layout(Rect::new(0, 0, 80, 24), true).page(1), 20, "the gauge takes a line");
    }
}
