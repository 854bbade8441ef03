//! The flow detail: a summary line, the tab bar, and the visible window of the tab's
//! document (never more lines than fit).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::model::text::visible;
use crate::tui::app::{App, Detail};
use crate::tui::fmt;
use crate::tui::screen::Tab;

/// Draw the detail of `d`.
pub fn render(app: &App, d: &Detail, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(ex) = app.store.exchange(d.id) else { return };
    let Some(row) = app.store.row(d.id) else { return };
    let mut summary = vec![
        Span::styled(visible(&ex.request.method).into_owned(), t.method(&ex.request.method)),
        Span::raw(" "),
        Span::raw(visible(&ex.request.url(&ex.host())).into_owned()),
        Span::raw(" → "),
    ];
    match ex.status() {
        Some(s) => summary.push(Span::styled(s.to_string(), t.status(Some(s)))),
        None => summary.push(Span::styled(ex.state.label(), t.error())),
    }
    summary.push(Span::raw(format!("  {}", fmt::dur(ex.duration()))));
    if app.store.meta(d.id).marked {
        summary.push(Span::styled("  ● marked", t.mark()));
    }
    let pos =
        app.store.position(d.id).map_or_else(String::new, |p| format!("  [{}/{}]", p + 1, app.store.view().len()));
    summary.push(Span::styled(pos, t.dim()));
    let _ = row;
    let mut y = area.y;
    if area.height == 0 {
        return;
    }
    Line::from(summary).render(Rect::new(area.x, y, area.width, 1), buf);
    y += 1;
    if area.height < 2 {
        return;
    }
    let mut tabs = Vec::new();
    for tab in Tab::ALL {
        let mut title = tab.title().to_string();
        if tab == Tab::Diagnostics && !ex.diagnostics.is_empty() {
            title.push_str(&format!("({})", ex.diagnostics.len()));
        }
        if tab == Tab::Messages && ex.stream.is_some() {
            title.push_str(&format!("({})", ex.message_count()));
        }
        let st = if tab == d.tab { t.active_tab() } else { t.dim() };
        tabs.push(Span::styled(format!(" {title} "), st));
        tabs.push(Span::raw(" "));
    }
    let total = d.doc.len();
    let h = usize::from(area.height.saturating_sub(2));
    if total > h {
        let end = (d.scroll + h).min(total);
        tabs.push(Span::styled(format!("  lines {}-{end} of {total}", d.scroll + 1), t.dim()));
    }
    Line::from(tabs).render(Rect::new(area.x, y, area.width, 1), buf);
    y += 1;
    let body = Rect::new(area.x, y, area.width, area.bottom().saturating_sub(y));
    let lines = d.doc.window(d.scroll, usize::from(body.height), &ex, t, app.search.as_ref());
    Paragraph::new(lines).render(body, buf);
}
