//! The comparison of two flows (the user's `=` diff), side by side (two columns) or unified
//! (`-`/`+` lines).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::model::text::visible;
use crate::tui::app::App;
use crate::tui::compare::{CompareTag, CompareView};
use crate::tui::fmt;

/// Draw the comparison.
pub fn render(app: &App, v: &CompareView, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let name = |id| {
        app.store.exchange(id).map_or_else(String::new, |e| {
            format!("#{id} {} {}", visible(&e.request.method), visible(&e.request.target))
        })
    };
    let w = usize::from(area.width);
    let mode = if v.unified { "unified" } else { "side by side" };
    let vol = if v.ignore_volatile { "volatile headers ignored" } else { "all headers" };
    let head = format!("diff {}  ↔  {}   ({mode}, {vol})", name(v.a), name(v.b));
    let mut lines = vec![Line::styled(fmt::cut(&head, w), t.header())];
    let h = usize::from(area.height.saturating_sub(1));
    let half = w.saturating_sub(3) / 2;
    let pad = |s: &str, n: usize| {
        let c = fmt::cut(s, n);
        let len = c.chars().count();
        format!("{c}{}", " ".repeat(n.saturating_sub(len)))
    };
    for r in v.rows.iter().skip(v.scroll) {
        if lines.len() > h {
            break;
        }
        match r.tag {
            CompareTag::Section => {
                lines.push(Line::styled(format!("── {} ", r.left), t.key().add_modifier(Modifier::BOLD)))
            }
            CompareTag::Note => lines.push(Line::styled(fmt::cut(&r.left, w), t.dim())),
            _ if v.unified => match r.tag {
                CompareTag::Same => lines.push(Line::raw(fmt::cut(&format!("  {}", r.left), w))),
                CompareTag::Del => lines.push(Line::styled(fmt::cut(&format!("- {}", r.left), w), t.del())),
                CompareTag::Ins => lines.push(Line::styled(fmt::cut(&format!("+ {}", r.right), w), t.ins())),
                _ => {
                    lines.push(Line::styled(fmt::cut(&format!("- {}", r.left), w), t.del()));
                    if lines.len() <= h {
                        lines.push(Line::styled(fmt::cut(&format!("+ {}", r.right), w), t.ins()));
                    }
                }
            },
            tag => {
                let (ls, rs) = match tag {
                    CompareTag::Same => (ratatui::style::Style::new(), ratatui::style::Style::new()),
                    CompareTag::Del => (t.del(), t.dim()),
                    CompareTag::Ins => (t.dim(), t.ins()),
                    _ => (t.del(), t.ins()),
                };
                let gutter = match tag {
                    CompareTag::Same => " │ ",
                    CompareTag::Del => " < ",
                    CompareTag::Ins => " > ",
                    _ => " ≠ ",
                };
                lines.push(Line::from(vec![
                    Span::styled(pad(&r.left, half), ls),
                    Span::styled(gutter, t.dim()),
                    Span::styled(fmt::cut(&r.right, half), rs),
                ]));
            }
        }
    }
    Paragraph::new(lines).render(area, buf);
}
