//! Popups drawn over the current view: key help (from the keymap table), the file
//! diagnostics, the column picker, the export dialog and the quit question.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::model::text::visible;
use crate::tui::app::{App, Popup};
use crate::tui::exportdialog::{self, FORMATS};
use crate::tui::keymap::Context;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))]).flex(Flex::Center).areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))]).flex(Flex::Center).areas(v);
    r
}

/// The help overlay's lines ([`Keymap::help_text`](crate::tui::keymap::Keymap::help_text)), styled.
fn help_lines(app: &App) -> Vec<Line<'static>> {
    use crate::tui::keymap::HelpLine;
    let t = app.theme;
    app.keymap
        .help_text(app.context_below_popup())
        .into_iter()
        .map(|l| match l {
            HelpLine::Title(s) => Line::styled(s, t.header()),
            HelpLine::Row(k, h) => Line::from(vec![Span::styled(format!("  {k:<28}"), t.key()), Span::raw(h)]),
            HelpLine::Note(s) => Line::styled(s, t.dim()),
            HelpLine::Blank => Line::default(),
        })
        .collect()
}

/// Draw `p` over `area`.
pub fn render(app: &App, p: &Popup, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    match p {
        Popup::Help(scroll) => {
            let r = centered(area, 96, area.height.saturating_sub(2));
            Clear.render(r, buf);
            Paragraph::new(help_lines(app).into_iter().skip(*scroll).collect::<Vec<_>>())
                .block(Block::bordered().title(" keys and filter terms (j/k scroll, g/G top/bottom, q close) "))
                .render(r, buf);
        }
        Popup::FileDiagnostics(scroll) => {
            let r = centered(area, area.width.saturating_sub(4), area.height.saturating_sub(2));
            let diags = app.store.diagnostics();
            let mut lines: Vec<Line<'_>> = Vec::new();
            if diags.is_empty() {
                lines.push(Line::styled("no problems were found while reading the inputs", t.dim()));
            }
            for d in diags.iter().skip(*scroll) {
                let style = match d.severity {
                    crate::model::Severity::Error => t.error(),
                    crate::model::Severity::Warning => t.warn(),
                    crate::model::Severity::Info => t.dim(),
                };
                let at = d.location.as_deref().map(|l| format!(" at {}", visible(l))).unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(format!("{:<7} ", d.severity.to_string()), style),
                    Span::styled(format!("{}{at}: ", visible(&d.code)), t.key()),
                    Span::raw(visible(&d.message).into_owned()),
                ]));
            }
            Clear.render(r, buf);
            Paragraph::new(lines)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(Block::bordered().title(format!(" file diagnostics: {} (j/k scroll, q close) ", diags.len())))
                .render(r, buf);
        }
        Popup::Columns(cur) => {
            let r = centered(area, 36, app.columns.len() as u16 + 4);
            let (order, rev) = app.store.order();
            let mut lines: Vec<Line<'_>> = app
                .columns
                .iter()
                .enumerate()
                .map(|(i, (c, on))| {
                    let sort = if order == Some(*c) { if rev { " ▼" } else { " ▲" } } else { "" };
                    let text = format!(
                        "{} [{}] {}{sort}",
                        if i == *cur { "›" } else { " " },
                        if *on { "x" } else { " " },
                        c.name()
                    );
                    if i == *cur { Line::styled(text, t.focus()) } else { Line::raw(text) }
                })
                .collect();
            lines.push(Line::styled("space show/hide · o sort", t.dim()));
            Clear.render(r, buf);
            Paragraph::new(lines).block(Block::bordered().title(" columns ")).render(r, buf);
        }
        Popup::ConfirmQuit(concerns) => {
            let w = concerns.iter().map(|c| c.chars().count()).max().unwrap_or(0).max(30) + 6;
            let r = centered(area, u16::try_from(w).unwrap_or(u16::MAX), concerns.len() as u16 + 5);
            let mut lines: Vec<Line<'_>> = concerns.iter().map(|c| Line::raw(format!("• {c}"))).collect();
            lines.push(Line::default());
            let yes = app.keymap.key_for(Context::Confirm, crate::tui::action::Action::Quit);
            let no = app.keymap.key_for(Context::Confirm, crate::tui::action::Action::Back);
            lines.push(Line::from(vec![
                Span::styled(yes.map(|k| k.to_string()).unwrap_or_default(), t.key()),
                Span::raw(" quit · "),
                Span::styled(no.map(|k| k.to_string()).unwrap_or_default(), t.key()),
                Span::raw(" stay"),
            ]));
            Clear.render(r, buf);
            Paragraph::new(lines).block(Block::bordered().title(" quit apiscope? ")).render(r, buf);
        }
        Popup::Export(d) => {
            let r = centered(area, 52, FORMATS.len() as u16 + 7);
            let mut lines: Vec<Line<'_>> = FORMATS
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let text = format!("{} {}", if i == d.format { "›" } else { " " }, exportdialog::title(*f));
                    if i == d.format { Line::styled(text, t.focus()) } else { Line::raw(text) }
                })
                .collect();
            lines.push(Line::default());
            lines
                .push(Line::from(vec![Span::styled("s ", t.key()), Span::raw(format!("flows:   {}", d.scope.name()))]));
            lines.push(Line::from(vec![
                Span::styled("r ", t.key()),
                Span::raw("secrets: "),
                if d.redact {
                    Span::styled("redacted", t.ok())
                } else {
                    Span::styled("KEPT (not redacted)", t.error())
                },
            ]));
            lines.push(Line::from(vec![
                Span::styled("enter ", t.key()),
                Span::raw(format!("write to {}", app.export_dir.display())),
            ]));
            Clear.render(r, buf);
            Paragraph::new(lines).block(Block::bordered().title(" export ")).render(r, buf);
        }
    }
}
