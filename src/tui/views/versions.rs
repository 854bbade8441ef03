//! Rendering of the Versions view: the pane bar, the endpoint table with A / B / Δ columns
//! coloured by verdict (largest regression first), the focused endpoint's figures with the
//! tests behind its verdict and its latency histograms side by side, the drill-down into one
//! side's flows, and the shape, contract and client panes in the words of `apiscope compare`.
//! Captured text goes through `model::text::visible`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Widget};

use super::insight::{fit_buckets, list};
use crate::analysis::compare::render::{confidence, p_value};
use crate::analysis::compare::{EndpointComparison, EndpointFigures, MetricTest, Verdict};
use crate::model::text::visible;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::theme::Theme;
use crate::tui::versions::{Drill, Pane, VersionsData, VersionsState};

/// Milliseconds as the other views write durations (`850µs`, `12ms`, `1.25s`).
fn ms(v: f64) -> String {
    fmt::dur(Some((v * 1e6).round() as i64))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A latency change: relative when A is not zero (`+200%`), else in time.
fn ms_delta(a: f64, b: f64) -> String {
    if a > 0.0 { format!("{:+.0}%", (b / a - 1.0) * 100.0) } else { format!("+{}", ms(b - a)) }
}

fn pp(a: f64, b: f64) -> String {
    format!("{:+.1}pp", (b - a) * 100.0)
}

/// The colour of a verdict: regressed red, improved green, new cyan, gone magenta.
#[must_use]
pub fn verdict_style(t: Theme, v: Verdict) -> Style {
    match v {
        Verdict::Regressed => t.error(),
        Verdict::Improved => t.ok(),
        Verdict::New => t.header_name(),
        Verdict::Gone => t.mark(),
        Verdict::TooFewCalls => t.dim(),
        Verdict::Unchanged => Style::new(),
    }
}

/// Draw the Versions view.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(v) = &app.versions else { return };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    pane_bar(app, v, head, buf);
    let Some(d) = &v.data else {
        let msg = match (&v.error, v.running_for()) {
            (Some(e), _) => Line::styled(format!("the comparison failed: {}", visible(e)), t.error()),
            (None, Some(s)) => Line::raw(format!("reading side A and side B and comparing them… {s:.0} s")),
            (None, None) => Line::raw("comparing…"),
        };
        Paragraph::new(msg).render(body, buf);
        return;
    };
    match (v.pane, &v.drill) {
        (_, Some(drill)) => drill_list(app, drill, body, buf),
        (Pane::Endpoints, None) => endpoints(app, v, d, body, buf),
        (p, None) => text_pane(d, p, v.scroll, body, buf),
    }
}

fn pane_bar(app: &App, v: &VersionsState, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut spans = Vec::new();
    for p in Pane::ALL {
        let st = if p == v.pane { t.active_tab() } else { t.dim() };
        spans.push(Span::styled(format!(" {} ", p.title()), st));
    }
    let names = |files: &[std::path::PathBuf]| {
        files.iter().map(|p| visible(&p.display().to_string()).into_owned()).collect::<Vec<_>>().join(", ")
    };
    let mut status = format!("  A: {} · B: {}", names(&v.inputs.a), names(&v.inputs.b));
    if let Some(d) = &v.data {
        let c = &d.comparison.verdicts;
        status.push_str(&format!(
            " · {} regressed, {} improved, {} new, {} gone · computed in {:.0} ms",
            c.regressed, c.improved, c.new, c.gone, d.elapsed_ms
        ));
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    spans.push(Span::styled(fmt::cut(&status, usize::from(area.width).saturating_sub(used)), t.dim()));
    Line::from(spans).render(area, buf);
}

/// `requests` of a side, `-` when not called there.
fn calls(f: Option<&EndpointFigures>) -> String {
    f.map_or("-".into(), |f| f.requests.to_string())
}

/// Percentile `i` (0 p50, 1 p95, 2 p99) of the latency the verdict tested.
fn pctl(e: &EndpointComparison, f: Option<&EndpointFigures>, i: usize) -> Option<f64> {
    let f = f?;
    let v = if e.latency_kind == Some("total") { f.total_ms } else { f.ttfb_ms.or(f.total_ms) };
    v.and_then(|v| v.get(i).copied())
}

/// (A, B, Δ) cells of one percentile.
fn pctl_cells(e: &EndpointComparison, i: usize) -> [String; 3] {
    let (a, b) = (pctl(e, e.a.as_ref(), i), pctl(e, e.b.as_ref(), i));
    let d = match (a, b) {
        (Some(a), Some(b)) => ms_delta(a, b),
        _ => "-".into(),
    };
    [a.map_or("-".into(), ms), b.map_or("-".into(), ms), d]
}

/// (A, B, Δ) cells of a rate.
fn rate_cells(e: &EndpointComparison, f: fn(&EndpointFigures) -> f64) -> [String; 3] {
    let (a, b) = (e.a.as_ref().map(f), e.b.as_ref().map(f));
    let d = match (a, b) {
        (Some(a), Some(b)) => pp(a, b),
        _ => "-".into(),
    };
    [a.map_or("-".into(), pct), b.map_or("-".into(), pct), d]
}

fn calls_cells(e: &EndpointComparison) -> [String; 3] {
    let (a, b) = (e.a.as_ref().map_or(0, |f| f.requests), e.b.as_ref().map_or(0, |f| f.requests));
    [calls(e.a.as_ref()), calls(e.b.as_ref()), format!("{:+}", i128::from(b) - i128::from(a))]
}

fn endpoints(app: &App, v: &VersionsState, d: &VersionsData, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let eps = &d.comparison.endpoints;
    let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let namew: usize = if area.width >= 120 { 24 } else { 18 };
    let (wide, groups) = column_groups(usize::from(area.width).saturating_sub(14 + namew), 24);
    let mut header = format!("{:<13} {:<namew$}", "verdict", "endpoint");
    for (g, _) in &groups {
        if wide {
            header.push_str(&format!(" │{:>6} {:>6} {:>6}", format!("{g} A"), "B", "Δ"));
        } else {
            header.push_str(&format!(" │{:>7}", if *g == "calls" { "calls B".to_string() } else { format!("{g} Δ") }));
        }
    }
    header.push_str(" │ confidence");
    let rows: Vec<Line<'static>> = eps
        .iter()
        .map(|e| {
            let mut s = format!("{:<13} {:<namew$}", e.verdict.label(), fmt::cut(&visible(&e.endpoint), namew));
            for (_, which) in &groups {
                let cells = match which {
                    0 => calls_cells(e),
                    1 => pctl_cells(e, 0),
                    2 => pctl_cells(e, 1),
                    3 => pctl_cells(e, 2),
                    4 => rate_cells(e, |f| f.error_rate),
                    _ => rate_cells(e, |f| f.availability),
                };
                let [a, b, dl] = cells;
                if wide {
                    s.push_str(&format!(" │{a:>6} {b:>6} {dl:>6}"));
                } else {
                    s.push_str(&format!(" │{:>7}", if *which == 0 { b } else { dl }));
                }
            }
            s.push_str(&format!(" │ {}", confidence(e)));
            // a span, so that the focused row's highlight keeps the verdict's colour
            Line::from(Span::styled(s, verdict_style(t, e.verdict)))
        })
        .collect();
    let [table, legend] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(top);
    list(app, header, rows, v.focus, table, buf);
    let words = format!(
        "largest regression first · latency of 2xx answers (TTFB), Mann-Whitney U; errors and availability, two-proportion z · enter: side {}'s flows · s: switch side",
        v.side.label()
    );
    Line::styled(fmt::cut(&words, usize::from(legend.width)), t.dim()).render(legend, buf);
    let Some(e) = eps.get(v.focus) else { return };
    let [figs, hist] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    figures(app, e, figs, buf);
    histograms(app, d, e, hist, buf);
}

/// The column groups (name, which metric) that fit in `room` columns with `confidence`
/// columns left for the confidence, in table order, and whether they show A, B and Δ (else
/// only Δ, and B of calls). Metrics are taken by importance: calls, p50, p95, errors, p99,
/// availability.
fn column_groups(room: usize, confidence: usize) -> (bool, Vec<(&'static str, usize)>) {
    const BY_IMPORTANCE: [(&str, usize); 6] =
        [("calls", 0), ("p50", 1), ("p95", 2), ("errors", 4), ("p99", 3), ("avail", 5)];
    let pick = |room: usize, per: usize| -> Vec<(&'static str, usize)> {
        let n = (room / per).min(BY_IMPORTANCE.len());
        let mut g: Vec<(&'static str, usize)> = BY_IMPORTANCE.iter().take(n).copied().collect();
        g.sort_by_key(|(_, w)| *w);
        g
    };
    let wide = pick(room.saturating_sub(confidence), 22);
    if wide.len() >= 4 { (true, wide) } else { (false, pick(room.saturating_sub(8), 9)) }
}

/// One metric's test in words: `Mann-Whitney p 3e-12 → regressed`.
fn test_words(name: &str, t: Option<&MetricTest>) -> String {
    t.map_or_else(String::new, |t| format!("{name} p {} → {}", p_value(t.p), t.verdict.label()))
}

fn figures(app: &App, e: &EndpointComparison, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let kind = if e.latency_kind == Some("total") { "total" } else { "TTFB" };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(visible(&e.endpoint).into_owned(), t.header()),
            Span::raw(" — "),
            Span::styled(e.verdict.label(), verdict_style(t, e.verdict)),
            Span::raw(format!(" ({})", confidence(e))),
        ]),
        Line::styled(format!("{:<14} {:>8} {:>8} {:>8}", "", "A", "B", "Δ"), t.dim()),
    ];
    let row = |label: &str, [a, b, d]: [String; 3], test: String| {
        Line::raw(format!("{label:<14} {a:>8} {b:>8} {d:>8}  {test}"))
    };
    lines.push(row("calls", calls_cells(e), String::new()));
    let share = |f: Option<&EndpointFigures>| f.map_or("-".into(), |f| pct(f.share));
    lines.push(row("share", [share(e.a.as_ref()), share(e.b.as_ref()), String::new()], String::new()));
    lines.push(row(&format!("p50 {kind}"), pctl_cells(e, 0), test_words("rank test", e.latency.as_ref())));
    lines.push(row(&format!("p95 {kind}"), pctl_cells(e, 1), String::new()));
    lines.push(row(&format!("p99 {kind}"), pctl_cells(e, 2), String::new()));
    lines.push(row("error rate", rate_cells(e, |f| f.error_rate), test_words("z-test", e.error_rate.as_ref())));
    lines.push(row("availability", rate_cells(e, |f| f.availability), test_words("z-test", e.availability.as_ref())));
    let bytes = |f: Option<&EndpointFigures>| f.map_or("-".into(), |f| fmt::size(f.response_bytes_mean as u64));
    lines.push(row("mean response", [bytes(e.a.as_ref()), bytes(e.b.as_ref()), String::new()], String::new()));
    Paragraph::new(lines).block(Block::default().borders(Borders::TOP)).render(area, buf);
}

fn histograms(app: &App, d: &VersionsData, e: &EndpointComparison, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(h) = d.hist.get(&e.endpoint) else { return };
    let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    for (side, counts, at, style) in [("A", &h.a, left, t.dim()), ("B", &h.b, right, verdict_style(t, e.verdict))] {
        let pairs: Vec<(String, u64)> = h.labels.iter().cloned().zip(counts.iter().copied()).collect();
        let fit = fit_buckets(&pairs, usize::from(at.width));
        let bars: Vec<Bar<'_>> =
            fit.iter().map(|(l, n)| Bar::default().value(*n).label(Line::raw(l.clone()))).collect();
        let style = if style == Style::new() { t.ok() } else { style };
        BarChart::default()
            .block(Block::default().borders(Borders::TOP).title(format!("{side}: {} of 2xx answers (from)", h.kind)))
            .data(BarGroup::default().bars(&bars))
            .bar_width(5)
            .bar_gap(1)
            .bar_style(style)
            .render(at, buf);
    }
}

fn drill_list(app: &App, drill: &Drill, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let other = if drill.side.label() == "A" { "B" } else { "A" };
    let header = format!(
        "side {} flows of {} · {} flows · enter: open · s: side {other} · esc: back to the endpoints",
        drill.side.label(),
        visible(&drill.endpoint),
        drill.flows.len()
    );
    let rows: Vec<Line<'static>> = drill
        .flows
        .iter()
        .map(|id| {
            let Some(row) = app.store.row(*id) else { return Line::raw("?") };
            let status = row.status();
            let method = app.store.str(row.method);
            Line::from(vec![
                Span::raw(format!("  {} ", fmt::clock(crate::store::Row::opt(row.start)))),
                Span::styled(format!("{:<6} ", fmt::cut(&visible(method), 6)), t.method(method)),
                Span::styled(
                    format!("{:>3} ", status.map_or_else(|| "---".into(), |s| s.to_string())),
                    t.status(status),
                ),
                Span::raw(format!(
                    "{:>8} {:>8} {}",
                    fmt::dur(crate::store::Row::opt(row.ttfb)),
                    fmt::dur(crate::store::Row::opt(row.duration)),
                    visible(app.store.str(row.path))
                )),
            ])
        })
        .collect();
    list(app, header, rows, drill.focus, area, buf);
}

fn text_pane(d: &VersionsData, p: Pane, scroll: usize, area: Rect, buf: &mut Buffer) {
    let text = d.pane_text(p);
    let lines: Vec<Line<'static>> = if text.is_empty() {
        vec![Line::raw(match p {
            Pane::Contract => "no contract comparison: open with --spec to compare contract findings and coverage",
            _ => "nothing to show",
        })]
    } else {
        // the sections escape captured text already; escape again so no line can carry a
        // control character to the terminal
        text.iter().skip(scroll).take(usize::from(area.height)).map(|l| Line::raw(visible(l).into_owned())).collect()
    };
    Paragraph::new(lines).render(area, buf);
}
