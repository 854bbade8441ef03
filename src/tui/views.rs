//! Rendering: the title and status bars, the loading gauge, and the dispatch to the flows
//! table, flow detail, comparison, insight views and popups, on the regions of
//! [`layout`]. Everything renders from `&App` and draws only what fits in its area.

pub mod compare;
pub mod detail;
pub mod flows;
pub mod insight;
pub mod popups;
pub mod replay;
pub mod versions;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Widget};

use super::app::{App, PromptKind};
use super::fmt;
use super::layout::layout;
use super::screen::Screen;
use super::status::Level;
use crate::model::text::visible;

/// Draw the whole screen.
pub fn render(app: &App, f: &mut Frame<'_>) {
    let a = layout(f.area(), app.load.active);
    let buf = f.buffer_mut();
    title_bar(app, a.title, buf);
    if let Some(v) = &app.compare {
        compare::render(app, v, a.body, buf);
    } else if let Some(d) = &app.detail {
        detail::render(app, d, a.body, buf);
    } else {
        match app.screen {
            Screen::Flows => flows::render(app, a.body, buf),
            Screen::Versions => versions::render(app, a.body, buf),
            _ => insight::render(app, a.body, buf),
        }
    }
    if let Some(g) = a.gauge {
        gauge(app, g, buf);
    }
    if let Some(pos) = status_bar(app, a.status, buf) {
        f.set_cursor_position(pos);
    }
    if let Some(d) = &app.replay {
        replay::render(app, d, f.area(), f.buffer_mut());
    }
    if let Some(p) = &app.popup {
        popups::render(app, p, f.area(), f.buffer_mut());
    }
    insight::overlay(app, f.area(), f.buffer_mut());
}

fn title_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut spans = vec![Span::styled(" apiscope ", t.bar().add_modifier(ratatui::style::Modifier::BOLD))];
    let versions = app.versions.is_some().then_some(Screen::Versions);
    for s in Screen::ALL.into_iter().chain(versions) {
        let st = if s == app.screen { t.active_tab() } else { t.bar() };
        spans.push(Span::styled(format!(" {} ", s.title()), st));
    }
    let mut src = app.sources.iter().map(|s| visible(s).into_owned()).collect::<Vec<_>>().join(", ");
    if let Some(spec) = &app.spec {
        src.push_str(&format!(" + {}", visible(spec)));
    }
    let shown = app.store.view().len();
    let total = app.store.len();
    let counts = if shown == total { format!("{total} flows") } else { format!("{shown}/{total} flows") };
    let (col, rev) = app.store.order();
    let order = col.map_or_else(|| "arrival".to_string(), |c| c.title().to_string());
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let w = usize::from(area.width);
    let mut segments = vec![format!(" {counts} │ {order} {} ", if rev { "▼" } else { "▲" })];
    let marked = app.store.marked_count();
    if marked > 0 {
        segments.push(format!("│ {marked} marked "));
    }
    if app.store.marked_only() {
        segments.push("│ marked only ".to_string());
    }
    if !app.filter_text.is_empty() {
        segments.push(format!("│ filter: {} ", visible(&app.filter_text)));
    }
    if let Some(j) = &app.scans.filter {
        segments.push(format!("│ filtering {}% ", j.percent()));
    }
    if let Some(j) = &app.scans.search {
        segments.push(format!("│ searching {}% ", j.percent()));
    }
    if let Some(p) = app.scans.index.building() {
        segments.push(format!("│ indexing {p}% "));
    }
    if let Some(live) = &app.live {
        let state = if live.ended.load(std::sync::atomic::Ordering::Relaxed) { "ended" } else { "live" };
        segments.push(format!("│ {state}: {} ", live.line()));
    }
    let right = fit_segments(&segments, w.saturating_sub(used));
    let right_w = right.chars().count().min(w.saturating_sub(used));
    let right = fmt::cut(&right, right_w);
    let src_w = w.saturating_sub(used + right.chars().count() + 1);
    spans.push(Span::styled(format!(" {}", fmt::cut(&src, src_w.saturating_sub(1))), t.bar()));
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(Span::styled(" ".repeat(w.saturating_sub(used + right.chars().count())), t.bar()));
    spans.push(Span::styled(right, t.bar()));
    Line::from(spans).style(t.bar()).render(area, buf);
}

/// The title bar's right-hand segments that fit in `room` columns: the first (flow count
/// and order) always, every other one whole or not at all (a filter is shortened with `…` when at least its first few
/// characters fit, else shown as `filtered`), so no half term such as a lone `~` is shown.
fn fit_segments(segments: &[String], room: usize) -> String {
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if i == 0 {
            // the flow count and order always show (cut when even they do not fit)
            out = fmt::cut(seg, room);
            continue;
        }
        let have = out.chars().count();
        let n = seg.chars().count();
        if have + n <= room {
            out.push_str(seg);
        } else if let Some(f) = seg.strip_prefix("│ filter: ") {
            let left = room.saturating_sub(have + "│ filter: ".chars().count() + 1);
            if left >= 8 && f.chars().count() > 1 {
                out.push_str(&format!("│ filter: {} ", fmt::cut(f.trim_end(), left)));
            } else if have + "│ filtered ".len() <= room {
                out.push_str("│ filtered ");
            }
        }
    }
    out
}

fn gauge(app: &App, area: Rect, buf: &mut Buffer) {
    let l = &app.load;
    if let Some(live) = &app.live {
        let name = app.sources.first().map(|s| visible(s).into_owned()).unwrap_or_default();
        let label = format!("capturing on {name}: {} · {} flows · q quits", live.line(), app.store.len());
        Paragraph::new(fmt::cut(&label, usize::from(area.width))).style(app.theme.ok()).render(area, buf);
        return;
    }
    let name = app.sources.get(l.file).map(|s| visible(s).into_owned()).unwrap_or_default();
    let of = l.total.map(|t| format!(" of {}", fmt::bytes(t))).unwrap_or_default();
    let label = format!(
        "loading {}/{} {name}: {}{of} · {} flows · q stops",
        l.file + 1,
        app.sources.len().max(1),
        fmt::bytes(l.bytes),
        app.store.len()
    );
    let ratio = l.total.filter(|t| *t > 0).map_or(0.0, |t| (l.bytes as f64 / t as f64).clamp(0.0, 1.0));
    let style = if app.theme.color { Style::new().fg(ratatui::style::Color::Green) } else { Style::new() };
    Gauge::default().ratio(ratio).label(fmt::cut(&label, usize::from(area.width))).gauge_style(style).render(area, buf);
}

/// Draw the status line; returns where the cursor goes when a prompt is open.
fn status_bar(app: &App, area: Rect, buf: &mut Buffer) -> Option<ratatui::layout::Position> {
    let t = app.theme;
    if let Some(p) = &app.prompt {
        let label = match p.kind {
            PromptKind::Filter => "filter: ".to_string(),
            PromptKind::Search if app.detail.is_none() => format!("search{}: ", app.scans.index.prompt_hint()),
            PromptKind::Search => "search: ".to_string(),
            PromptKind::Comment(_) => "comment: ".to_string(),
            PromptKind::SaveName => {
                let what = app.insight.pending_save().unwrap_or_default();
                format!("save {} as: ", fmt::cut(&visible(what), usize::from(area.width / 2)))
            }
            PromptKind::ReplayTarget(_) => "replay to URL: ".to_string(),
        };
        let label_w = label.chars().count();
        let value = p.input.value();
        let width = usize::from(area.width).saturating_sub(label_w + 1);
        let scroll = p.input.visual_scroll(width);
        let mut spans = vec![Span::styled(label, t.key())];
        let err = if p.kind == PromptKind::Filter { app.filter_error.as_ref() } else { None };
        // Split the visible part of the input around the error span (byte offsets).
        let shown: String = value.chars().skip(scroll).collect();
        let skipped_bytes = value.len() - shown.len();
        match err {
            Some(e) => {
                let a = e.span.start.saturating_sub(skipped_bytes).min(shown.len());
                let b = e.span.end.saturating_sub(skipped_bytes).clamp(a, shown.len());
                let (pre, rest) = shown.split_at(floor_char(&shown, a));
                let cut = floor_char(rest, b - pre.len());
                let (bad, post) = rest.split_at(cut);
                spans.push(Span::raw(visible(pre).into_owned()));
                let mark = if bad.is_empty() { " ".to_string() } else { visible(bad).into_owned() };
                spans.push(Span::styled(
                    mark,
                    t.error().add_modifier(ratatui::style::Modifier::UNDERLINED | ratatui::style::Modifier::REVERSED),
                ));
                spans.push(Span::raw(visible(post).into_owned()));
                spans.push(Span::styled(format!("  ✗ {}", visible(&e.message)), t.error()));
            }
            None => {
                spans.push(Span::raw(visible(&shown).into_owned()));
                if p.kind == PromptKind::Filter && !value.trim().is_empty() {
                    spans.push(Span::styled("  ✓", t.ok()));
                }
            }
        }
        Line::from(spans).render(area, buf);
        let x = area.x + label_w as u16 + (p.input.visual_cursor().saturating_sub(scroll)) as u16;
        return Some(ratatui::layout::Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
    if let Some((m, level)) = &app.message {
        let st = if *level == Level::Error { t.error() } else { t.ok() };
        Line::styled(fmt::cut(&visible(m), usize::from(area.width)), st).render(area, buf);
        return None;
    }
    let mut spans = Vec::new();
    let on_clients = app.screen == crate::tui::screen::Screen::Clients;
    let offered = |a: crate::tui::action::Action| {
        use crate::tui::action::Action as A;
        on_clients || !matches!(a, A::Journey | A::HideClient | A::MarkClient | A::FlaggedOnly)
    };
    for (k, h) in app.keymap.hints_where(app.context(), &offered) {
        spans.push(Span::styled(k.to_string(), t.key()));
        spans.push(Span::styled(format!(" {h}  "), t.dim()));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
    None
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::fit_segments;

    #[test]
    fn title_segments_are_whole_or_left_out() {
        let segs = vec![" 103/2008 flows │ time ▲ ".to_string(), "│ filter: ~c 404 & ~m GET ".to_string()];
        assert_eq!(fit_segments(&segs, 80), " 103/2008 flows │ time ▲ │ filter: ~c 404 & ~m GET ");
        let narrow = fit_segments(&segs, 44);
        assert!(narrow.ends_with("… "), "{narrow}");
        assert_eq!(fit_segments(&segs, 30), " 103/2008 flows │ time ▲ ");
        assert!(fit_segments(&segs, 12).starts_with(" 103/2008"), "the count always shows");
        assert!(!fit_segments(&segs, 35).contains('~'), "{}", fit_segments(&segs, 35));
    }
}
