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

/// Terminals at least this wide give the client and host columns more room.
const WIDE: u16 = 140;

/// Fixed width of a column in a terminal `w` cells wide (the path takes the rest).
fn width(c: Column, w: u16) -> u16 {
    let wide = w >= WIDE;
    match c {
        Column::Time => 12,
        Column::Client => {
            if wide {
                22
            } else {
                18
            }
        }
        Column::Method => 7,
        Column::Host => {
            if wide {
                22
            } else {
                16
            }
        }
        Column::Path => 20,
        Column::Status => 4,
        Column::ContentType => {
            if wide {
                18
            } else {
                14
            }
        }
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
    let need = |cols: &[Column]| MARK_W + cols.iter().map(|c| width(*c, w) + 1).sum::<u16>();
    for d in DROP_ORDER {
        if need(&cols) <= w || cols.len() <= 1 {
            break;
        }
        cols.retain(|c| *c != d);
    }
    cols
}

/// A cell's text, made visible and cut to `w` characters with `…` when longer, so that a
/// cut value (a host, a port, a path) never reads as a different, shorter one.
fn cell(app: &App, row: &Row, c: Column, w: usize) -> Span<'static> {
    let t = app.theme;
    let s = &app.store;
    let text = |v: &str| fmt::cut(&visible(v), w);
    match c {
        Column::Time => Span::raw(fmt::clock(Row::opt(row.start))),
        Column::Client => Span::raw(text(s.str(row.client))),
        Column::Method => {
            let m = s.str(row.method);
            Span::styled(text(m), t.method(m))
        }
        Column::Host => Span::raw(text(s.str(row.host))),
        Column::Path => Span::raw(text(s.str(row.path))),
        Column::Status => match row.status() {
            Some(st) => Span::styled(st.to_string(), t.status(Some(st))),
            None => Span::styled("---", t.status(None)),
        },
        Column::ContentType => Span::styled(text(s.str(row.ctype)), t.dim()),
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

/// The path of a flow that carried a stream, with its message count after it
/// (`/v1/ws/prices ⇅ 1,204 msg`); the path is cut first when the cell is narrow.
fn path_with_messages(app: &App, row: &Row, n: u64, w: usize) -> Span<'static> {
    let suffix = message_suffix(n);
    let room = w.saturating_sub(suffix.chars().count() + 1);
    if room < 4 {
        return cell(app, row, Column::Path, w);
    }
    let path = fmt::cut(&visible(app.store.str(row.path)), room);
    Span::raw(format!("{path} {suffix}"))
}

/// `⇅ 1,204 msg`: the message count of a stream, grouped by thousands.
#[must_use]
pub fn message_suffix(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("⇅ {grouped} msg")
}

fn right_aligned(c: Column) -> bool {
    matches!(c, Column::ReqSize | Column::RespSize | Column::Ttfb | Column::Duration)
}

/// Why a loaded input shows no flows, from its file diagnostics: `0 flows: 1 TLS connection,
/// no key log; pass --keylog FILE`.
fn empty_state(app: &App) -> String {
    let diags = app.store.diagnostics();
    let count = |code: &str| diags.iter().filter(|d| d.code == code).count();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut why: Vec<String> = Vec::new();
    let no_key = count("tls.no_key");
    if no_key > 0 {
        why.push(format!(
            "{}, no key log; pass --keylog FILE (or set SSLKEYLOGFILE)",
            plural(no_key, "TLS connection")
        ));
    }
    let other_tls = count("tls.unsupported") + count("tls.no_handshake");
    if other_tls > 0 {
        why.push(format!("{} that could not be decrypted", plural(other_tls, "TLS connection")));
    }
    if let Some(e) = app.load.errors.first() {
        why.push(visible(e).into_owned());
    }
    let rest = diags.len().saturating_sub(no_key + other_tls);
    if rest > 0 {
        why.push(format!("{} (! lists them)", plural(rest, "other file diagnostic")));
    }
    if why.is_empty() {
        "0 flows: no HTTP exchange was found in the input".to_string()
    } else {
        format!("0 flows: {}", why.join("; "))
    }
}

/// Draw the table.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    if app.store.view().is_empty() {
        let msg = if app.load.active {
            "loading…".to_string()
        } else if app.store.is_empty() {
            empty_state(app)
        } else {
            format!("no flow matches (of {}); F clears the filter, M shows all", app.store.len())
        };
        Paragraph::new(Line::styled(msg, t.dim())).wrap(ratatui::widgets::Wrap { trim: true }).render(area, buf);
        return;
    }
    let cols = fitting(app, area.width);
    let fixed: u16 =
        MARK_W + cols.iter().filter(|c| **c != Column::Path).map(|c| width(*c, area.width) + 1).sum::<u16>();
    let path_w = area.width.saturating_sub(fixed + 1).max(width(Column::Path, area.width));
    let cell_w = |c: Column| usize::from(if c == Column::Path { path_w } else { width(c, area.width) });
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
            let mut span = match (*c, app.store.message_count(*id)) {
                (Column::Path, Some(n)) => path_with_messages(app, row, n, cell_w(*c)),
                _ => cell(app, row, *c, cell_w(*c)),
            };
            if pos == app.focus && *c == Column::ContentType {
                // The dim grey would vanish on the focus bar's grey background.
                span.style = Style::new();
            }
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
        .chain(cols.iter().map(|c| {
            if *c == Column::Path { Constraint::Min(path_w) } else { Constraint::Length(width(*c, area.width)) }
        }))
        .collect();
    Table::new(rows, widths).header(header).column_spacing(1).render(area, buf);
}
