//! The flows table: only the rows in the window are built, so its cost does not depend on
//! the number of flows. Columns the user hides are skipped; when the terminal is too narrow
//! the least important shown columns are dropped (request size, client, content type, TTFB,
//! host, time) so the path keeps room.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TRow, Table, Widget};

use crate::model::text::visible;
use crate::store::{Column, F_COMMENT, F_DIAG, F_FAILED, F_MARKED, F_RESPONSE, F_TRUNCATED, Row};
use crate::tui::app::App;
use crate::tui::doc::highlight;
use crate::tui::fmt;

/// Fixed width of a column (the path takes the rest).
fn width(c: Column) -> u16 {
    match c {
        Column::Time => 12,
        Column::Client => 18,
        Column::Method => 7,
        Column::Host => 16,
        Column::Path => 20,
        Column::Status => 4,
        Column::ContentType => 14,
        Column::ReqSize | Column::RespSize => 5,
        Column::Ttfb | Column::Duration => 6,
    }
}

/// Columns dropped first when space runs out.
const DROP_ORDER: [Column; 8] = [
    Column::ReqSize,
    Column::Client,
    Column::ContentType,
    Column::Ttfb,
    Column::Host,
    Column::Time,
    Column::RespSize,
    Column::Method,
];

/// Marker glyphs + 1 space.
const MARK_W: u16 = 2;

/// The columns that fit in `w` cells, in table order.
#[must_use]
pub fn fitting(app: &App, w: u16) -> Vec<Column> {
    let mut cols: Vec<Column> = app.columns.iter().filter(|c| c.1).map(|c| c.0).collect();
    let need = |cols: &[Column]| MARK_W + cols.iter().map(|c| width(*c) + 1).sum::<u16>();
    for d in DROP_ORDER {
        if need(&cols) <= w || cols.len() <= 1 {
            break;
        }
        cols.retain(|c| *c != d);
    }
    cols
}

fn cell(app: &App, row: &Row, c: Column) -> Span<'static> {
    let t = app.theme;
    let s = &app.store;
    match c {
        Column::Time => Span::raw(fmt::clock(Row::opt(row.start))),
        Column::Client => Span::raw(visible(s.str(row.client)).into_owned()),
        Column::Method => {
            let m = s.str(row.method);
            Span::styled(visible(m).into_owned(), t.method(m))
        }
        Column::Host => Span::raw(visible(s.str(row.host)).into_owned()),
        Column::Path => Span::raw(visible(s.str(row.path)).into_owned()),
        Column::Status => match row.status() {
            Some(st) => Span::styled(st.to_string(), t.status(Some(st))),
            None => Span::styled("---", t.status(None)),
        },
        Column::ContentType => Span::styled(visible(s.str(row.ctype)).into_owned(), t.dim()),
        Column::ReqSize => Span::raw(fmt::size(row.req_size)),
        Column::RespSize => {
            if row.has(F_RESPONSE) {
                Span::raw(fmt::size(row.resp_size))
            } else {
                Span::raw("-")
            }
        }
        Column::Ttfb => Span::raw(fmt::dur(Row::opt(row.ttfb))),
        Column::Duration => Span::raw(fmt::dur(Row::opt(row.duration))),
    }
}

fn right_aligned(c: Column) -> bool {
    matches!(c, Column::ReqSize | Column::RespSize | Column::Ttfb | Column::Duration)
}

/// Draw the table.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    if app.store.view().is_empty() {
        let msg = if app.load.active {
            "loading…".to_string()
        } else if app.store.is_empty() {
            "no flows".to_string()
        } else {
            format!("no flow matches (of {}); F clears the filter, M shows all", app.store.len())
        };
        Paragraph::new(Line::styled(msg, t.dim())).render(area, buf);
        return;
    }
    let cols = fitting(app, area.width);
    let (order, rev) = app.store.order();
    let header = TRow::new(std::iter::once(Cell::from("")).chain(cols.iter().map(|c| {
        let mut h = c.title().to_string();
        if order == Some(*c) {
            h.push(if rev { '▼' } else { '▲' });
        }
        let line = if right_aligned(*c) { Line::from(h).right_aligned() } else { Line::from(h) };
        Cell::from(line)
    })))
    .style(t.header());
    let page = usize::from(area.height.saturating_sub(1));
    let rows = app.store.view().iter().enumerate().skip(app.offset).take(page).filter_map(|(pos, id)| {
        let row = app.store.row(*id)?;
        let mark = if row.has(F_MARKED) { Span::styled("●", t.mark()) } else { Span::raw(" ") };
        let flag = if row.has(F_FAILED) {
            Span::styled(if row.has(F_RESPONSE) { "!" } else { "✗" }, t.error())
        } else if row.has(F_DIAG) || row.has(F_TRUNCATED) {
            Span::styled("!", t.warn())
        } else if row.has(F_COMMENT) {
            Span::styled("✎", t.key())
        } else {
            Span::raw(" ")
        };
        let mut cells = vec![Cell::from(Line::from(vec![mark, flag]))];
        for c in &cols {
            let span = cell(app, row, *c);
            let mut line = Line::from(span);
            if *c == Column::Path {
                if let Some(s) = &app.search {
                    line = highlight(line, s, t.hit());
                }
            }
            cells.push(Cell::from(if right_aligned(*c) { line.right_aligned() } else { line }));
        }
        let style = if pos == app.focus { t.focus() } else { Style::new() };
        Some(TRow::new(cells).style(style))
    });
    let widths: Vec<Constraint> = std::iter::once(Constraint::Length(MARK_W))
        .chain(
            cols.iter()
                .map(|c| if *c == Column::Path { Constraint::Min(width(*c)) } else { Constraint::Length(width(*c)) }),
        )
        .collect();
    Table::new(rows, widths).header(header).column_spacing(1).render(area, buf);
}
