//! The replay dialog drawn over the current view: the confirmation naming the target, the
//! progress while sending, then each request's outcome and the summary.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Widget, Wrap};

use crate::model::text::visible;
use crate::replay::report::Verdict;
use crate::tui::app::App;
use crate::tui::replaydialog::{self, ReplayDialog, Stage};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))]).flex(Flex::Center).areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))]).flex(Flex::Center).areas(v);
    r
}

/// Draw the dialog `d` over `area`.
pub fn render(app: &App, d: &ReplayDialog, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let target = visible(&d.target.to_string()).into_owned();
    match &d.stage {
        Stage::Confirm => {
            let r = centered(area, 70, 9);
            let methods = if d.allow_unsafe {
                Span::styled("all methods, POST/PUT/PATCH/DELETE too", t.error())
            } else {
                Span::styled("GET, HEAD, OPTIONS only", t.ok())
            };
            let lines = vec![
                Line::from(vec![Span::raw("send to  "), Span::styled(target, t.header())]),
                Line::from(vec![Span::styled("s ", t.key()), Span::raw(format!("flows:   {}", d.scope.name()))]),
                Line::from(vec![Span::styled("u ", t.key()), Span::raw("methods: "), methods]),
                Line::styled("  redacted credentials are held back; answers are compared", t.dim()),
                Line::default(),
                Line::from(vec![
                    Span::styled("enter ", t.key()),
                    Span::raw("send   "),
                    Span::styled("esc ", t.key()),
                    Span::raw("cancel"),
                ]),
            ];
            Clear.render(r, buf);
            Paragraph::new(lines).block(Block::bordered().title(" replay: confirm ")).render(r, buf);
        }
        Stage::Running { done, total } => {
            let r = centered(area, 70, 5);
            Clear.render(r, buf);
            let ratio = if *total == 0 { 1.0 } else { (*done as f64 / *total as f64).clamp(0.0, 1.0) };
            Gauge::default()
                .block(Block::bordered().title(format!(" replaying to {target} (esc stops) ")))
                .gauge_style(t.focus())
                .ratio(ratio)
                .label(format!("{done}/{total}"))
                .render(r, buf);
        }
        Stage::Failed(e) => {
            let r = centered(area, 70, 5);
            Clear.render(r, buf);
            Paragraph::new(Line::styled(visible(e).into_owned(), t.error()))
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" replay failed (q close) "))
                .render(r, buf);
        }
        Stage::Done(report) => {
            let r = centered(area, area.width.saturating_sub(4), area.height.saturating_sub(2));
            let mut lines = vec![Line::styled(replaydialog::summary(report), t.header()), Line::default()];
            for (v, text) in replaydialog::result_lines(report).into_iter().skip(d.scroll) {
                let style = match v {
                    Verdict::Identical => t.ok(),
                    Verdict::Differing => t.warn(),
                    Verdict::Failed => t.error(),
                    Verdict::Interrupted => t.dim(),
                };
                lines.push(Line::styled(text, style));
            }
            Clear.render(r, buf);
            Paragraph::new(lines)
                .block(Block::bordered().title(" replay results (j/k scroll, q close) "))
                .render(r, buf);
        }
    }
}
