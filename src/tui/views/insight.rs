//! Rendering of the insight views: Gaps (findings, coverage, spec excerpt), Endpoints (KPI
//! table with a latency histogram — or the feed KPIs of a streaming endpoint —, request-rate sparkline and status chart for the focused
//! endpoint), Clients (KPIs, share, pattern and poor-experience flags; a client's journey),
//! Structure (host → endpoint → path tree) and the saved-filters popup. Captured text goes
//! through `model::text::visible`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Clear, Paragraph, Sparkline, Widget, Wrap};

use crate::model::Severity;
use crate::model::text::visible;
use crate::spec::check::FindingKind;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::insight::Insight;
use crate::tui::insightstate::{CLIENT_SORTS, ENDPOINT_SORTS, JourneyRow, client_order, endpoint_order, visible_nodes};
use crate::tui::screen::Screen;

fn ms(us: Option<u32>) -> String {
    match us {
        Some(u) if u >= 1_000_000 => format!("{:.1}s", f64::from(u) / 1e6),
        Some(u) if u >= 10_000 => format!("{:.0}ms", f64::from(u) / 1e3),
        Some(u) => format!("{:.1}ms", f64::from(u) / 1e3),
        None => "-".into(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn cut(s: &str, w: usize) -> String {
    fmt::cut(&visible(s), w)
}

/// Draw the current insight screen.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let mut status = match (&app.insight.data, app.insight.progress()) {
        (_, Some((done, total))) => format!(" recomputing for the shown flows… {done}/{total}"),
        (Some(d), None) => format!(" {} flows · computed in {:>6.0} ms", d.flows, d.elapsed_ms),
        (None, None) => " waiting for data".into(),
    };
    if !app.filter_text.is_empty() {
        status.push_str(&format!(" · filter: {}", visible(&app.filter_text)));
    }
    Paragraph::new(Line::styled(fmt::cut(&status, usize::from(head.width)), t.dim())).render(head, buf);
    let Some(d) = &app.insight.data else {
        Paragraph::new("computing…").render(body, buf);
        return;
    };
    match app.screen {
        Screen::Gaps => gaps(app, d, body, buf),
        Screen::Endpoints => endpoints(app, d, body, buf),
        Screen::Clients if app.insight.journey.is_some() => journey(app, body, buf),
        Screen::Clients => clients(app, d, body, buf),
        Screen::Structure => structure(app, d, body, buf),
        Screen::Flows | Screen::Versions => {}
    }
}

/// The saved-filters popup, over any view.
pub fn overlay(app: &App, area: Rect, buf: &mut Buffer) {
    if let Some(cur) = app.insight.saved_popup {
        saved_popup(app, cur, area, buf);
    }
}

/// Lines of a scrolling list with the focused row kept in view.
fn window(len: usize, focus: usize, height: usize) -> std::ops::Range<usize> {
    let h = height.max(1);
    let start = if focus >= h { focus + 1 - h } else { 0 };
    start..(start + h).min(len)
}

/// A header line and the rows around the focused one, which is highlighted.
pub fn list(app: &App, header: String, rows: Vec<Line<'static>>, focus: usize, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let mut lines = vec![Line::styled(fmt::cut(&header, usize::from(area.width)), t.header())];
    let h = usize::from(area.height.saturating_sub(1));
    for i in window(rows.len(), focus, h) {
        let mut l = rows.get(i).cloned().unwrap_or_default();
        if i == focus {
            l = l.style(t.focus());
        }
        lines.push(l);
    }
    Paragraph::new(lines).render(area, buf);
}

fn sev(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERR ",
        Severity::Warning => "WARN",
        Severity::Info => "INFO",
    }
}

fn gaps(app: &App, d: &Insight, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(g) = &d.gaps else {
        let msg = match app.insight.spec_error() {
            Some(e) => format!("The spec could not be loaded: {e}"),
            None => "Contract gaps need a spec: start with `apiscope tui FILE --spec openapi.yaml`.".to_string(),
        };
        Paragraph::new(msg).wrap(Wrap { trim: true }).render(area, buf);
        return;
    };
    let w = usize::from(area.width);
    let wide = area.width >= 120;
    let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let f = app.insight_focus();
    let epw = if wide { 34 } else { 22 };
    let kw = if wide { 36 } else { 26 };
    let header = format!(
        "{:<4} {:<kw$} {:<epw$} {:>6} {:>4} {}",
        "sev",
        "finding",
        "endpoint",
        "count",
        "cli",
        if wide { "first – last seen · subject" } else { "subject" }
    );
    let rows: Vec<Line<'static>> = g
        .groups
        .iter()
        .map(|x| {
            let st = match x.severity {
                Severity::Error => t.error(),
                Severity::Warning => t.warn(),
                Severity::Info => t.dim(),
            };
            let when =
                if wide { format!("{} – {} · ", fmt::clock(x.first), fmt::clock(x.last)) } else { String::new() };
            Line::from(vec![
                Span::styled(sev(x.severity).to_string(), st),
                Span::raw(format!(
                    " {:<kw$} {:<epw$} {:>6} {:>4} {}{}",
                    cut(short_title(x.kind), kw),
                    cut(&x.endpoint, epw),
                    x.flows.len(),
                    x.clients.len(),
                    when,
                    visible(&x.subject)
                )),
            ])
        })
        .collect();
    let n = g.groups.len();
    let (e, wa, i) = g.groups.iter().fold((0, 0, 0), |a, x| match x.severity {
        Severity::Error => (a.0 + 1, a.1, a.2),
        Severity::Warning => (a.0, a.1 + 1, a.2),
        Severity::Info => (a.0, a.1, a.2 + 1),
    });
    let title = format!(
        "{n} findings ({e} error, {wa} warning, {i} info) · {} of {} flows documented · {}/{} operations called",
        g.documented, d.flows, g.coverage.operations_called, g.coverage.operations_total
    );
    let [tl, tb] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(top);
    Paragraph::new(Line::styled(fmt::cut(&title, w), t.ok())).render(tl, buf);
    list(app, header, rows, f, tb, buf);
    // detail: the focused finding next to the spec excerpt, and coverage
    let [left, right] = if wide {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom)
    } else {
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(bottom)
    };
    let mut obs: Vec<Line<'static>> = Vec::new();
    if let Some(x) = g.groups.get(f) {
        obs.push(Line::styled(plain_title(x), t.header()));
        obs.push(Line::styled(format!("why it matters: {}", x.kind.why()), t.warn()));
        obs.push(Line::raw(format!("observed: {}", visible(&x.message))));
        let cl: Vec<String> = x.clients.iter().take(4).map(|(c, n)| format!("{} ({n})", visible(c))).collect();
        obs.push(Line::raw(format!("clients: {}{}", cl.join(", "), if x.clients.len() > 4 { ", …" } else { "" })));
        obs.push(Line::raw(format!("first {} · last {}", fmt::datetime(x.first), fmt::datetime(x.last))));
        if let Some(ex) = x.flows.first().and_then(|id| app.store.exchange(*id)) {
            obs.push(Line::raw(format!(
                "e.g. {} {} → {}",
                visible(&ex.request.method),
                visible(&ex.request.target),
                ex.status().map_or_else(|| "no response".into(), |s| s.to_string())
            )));
        }
        obs.push(Line::styled(format!("enter: flows ({})", x.filter()), t.dim()));
    }
    Paragraph::new(obs)
        .wrap(Wrap { trim: false })
        .block(Block::default().borders(Borders::TOP).title("observed"))
        .render(left, buf);
    let mut spec_lines: Vec<Line<'static>> = Vec::new();
    let spec = app.insight_spec();
    if let (Some(x), Some(s)) = (g.groups.get(f), spec.as_ref()) {
        match x.pointer.as_deref().and_then(|p| s.doc.pointer(p)) {
            Some(op) => {
                let (what, v) = spec_excerpt(&s.doc, op, x);
                let text = serde_json::to_string_pretty(&v).unwrap_or_default();
                spec_lines.push(Line::styled(format!("what the spec says: {what}"), t.header()));
                spec_lines.extend(text.lines().take(40).map(|l| Line::raw(visible(l).into_owned())));
            }
            None => spec_lines.push(Line::raw(match x.kind {
                FindingKind::UndocumentedMethod => "the spec documents this path, but not with this method".to_string(),
                FindingKind::UndocumentedServer => "the spec's servers do not include this host".to_string(),
                _ => "the spec has no operation for these calls".to_string(),
            })),
        }
    }
    let never: Vec<String> =
        g.coverage.operations.iter().filter(|o| o.calls == 0).map(|o| visible(&o.endpoint).into_owned()).collect();
    if !never.is_empty() {
        spec_lines.push(Line::default());
        spec_lines.push(Line::styled(format!("operations no shown flow called ({}):", never.len()), t.header()));
        spec_lines.extend(never.into_iter().map(Line::raw));
    }
    Paragraph::new(spec_lines).block(Block::default().borders(Borders::TOP).title("spec")).render(right, buf);
}

/// A finding kind in at most 26 columns, for the Gaps table.
fn short_title(k: FindingKind) -> &'static str {
    match k {
        FindingKind::ResponseStatusUndocumented => "Undocumented status",
        FindingKind::UndocumentedQueryParameter => "Undocumented query param",
        FindingKind::UndocumentedRequestHeader => "Undocumented req. header",
        FindingKind::ParameterSchemaViolation => "Parameter breaks schema",
        FindingKind::RequestContentTypeUndocumented => "Undocumented request type",
        FindingKind::RequestBodySchemaViolation => "Request body breaks schema",
        FindingKind::ResponseContentTypeUndocumented => "Undocumented resp. type",
        FindingKind::ResponseBodySchemaViolation => "Response breaks schema",
        FindingKind::ResponseHeaderMissing => "Response header missing",
        FindingKind::ResponseBodyUndocumented => "Undocumented resp. body",
        FindingKind::ResponseUndocumentedProperty => "Undocumented resp. field",
        FindingKind::DeprecatedOperationUsed => "Deprecated operation used",
        FindingKind::DeprecatedParameterUsed => "Deprecated parameter used",
        FindingKind::MissingRequiredParameter => "Required parameter missing",
        FindingKind::RequestBodyMissing => "Required body missing",
        FindingKind::RequestBodyUndocumented => "Undocumented request body",
        other => other.title(),
    }
}

/// A finding in plain words: `Undocumented response status 429 on GET /quotes/{symbol}`.
fn plain_title(x: &crate::tui::insight::GapGroup) -> String {
    let ep = visible(&x.endpoint);
    let sub = visible(&x.subject);
    match x.kind {
        FindingKind::ResponseStatusUndocumented => {
            format!("Undocumented {} on {ep}", if sub.is_empty() { "response status".into() } else { sub })
        }
        FindingKind::UndocumentedPath => format!("Undocumented endpoint {ep}"),
        FindingKind::UndocumentedMethod => format!("Undocumented method: {ep}"),
        FindingKind::UndocumentedServer => format!("Undocumented server {ep}"),
        FindingKind::DeprecatedOperationUsed => format!("Deprecated operation still called: {ep}"),
        _ if sub.is_empty() => format!("{} on {ep}", x.kind.title()),
        _ => format!("{} on {ep}: {sub}", x.kind.title()),
    }
}

/// The part of operation `op` a finding is about, with `$ref`s resolved: the parameter it
/// names, the documented responses, the request body, the security requirement, else the
/// whole operation. Returns what it is, in words, and the excerpt.
fn spec_excerpt(
    doc: &serde_json::Value,
    op: &serde_json::Value,
    x: &crate::tui::insight::GapGroup,
) -> (String, serde_json::Value) {
    use serde_json::{Map, Value};
    let field = |k: &str| op.get(k).map(|v| resolve(doc, v, 0));
    match x.kind {
        FindingKind::MissingRequiredParameter
        | FindingKind::ParameterSchemaViolation
        | FindingKind::DeprecatedParameterUsed => {
            let name = param_name(&x.subject);
            let params = field("parameters").and_then(|v| v.as_array().cloned()).unwrap_or_default();
            match params.into_iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str())) {
                Some(p) => (format!("parameter `{}`", visible(&name)), p),
                None => ("the operation's parameters".into(), field("parameters").unwrap_or(Value::Null)),
            }
        }
        FindingKind::UndocumentedQueryParameter | FindingKind::UndocumentedRequestHeader => {
            ("the documented parameters".into(), field("parameters").unwrap_or(Value::Array(vec![])))
        }
        FindingKind::ResponseStatusUndocumented => {
            let codes: Map<String, Value> = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let d = resolve(doc, v, 0).get("description").cloned().unwrap_or(Value::Null);
                            (k.clone(), d)
                        })
                        .collect()
                })
                .unwrap_or_default();
            ("the documented statuses".into(), Value::Object(codes))
        }
        FindingKind::ResponseContentTypeUndocumented
        | FindingKind::ResponseBodySchemaViolation
        | FindingKind::ResponseHeaderMissing
        | FindingKind::ResponseBodyUndocumented
        | FindingKind::ResponseUndocumentedProperty => {
            let status = x.message.split_whitespace().find_map(|w| {
                w.trim_matches(|c: char| !c.is_ascii_digit()).parse::<u16>().ok().filter(|s| (100..600).contains(s))
            });
            let responses = field("responses").unwrap_or(Value::Null);
            match status.and_then(|s| responses.get(s.to_string()).cloned()) {
                Some(r) => (format!("response {}", status.unwrap_or_default()), r),
                None => ("the documented responses".into(), responses),
            }
        }
        FindingKind::RequestBodyUndocumented
        | FindingKind::RequestBodyMissing
        | FindingKind::RequestContentTypeUndocumented
        | FindingKind::RequestBodySchemaViolation => (
            "the request body".into(),
            field("requestBody").unwrap_or(Value::String("no request body is documented".into())),
        ),
        FindingKind::SecurityCredentialsMissing => {
            ("the security requirement".into(), field("security").unwrap_or(Value::Null))
        }
        FindingKind::DeprecatedOperationUsed => {
            let mut m = Map::new();
            for k in ["summary", "deprecated", "description"] {
                if let Some(v) = op.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            ("the operation".into(), Value::Object(m))
        }
        _ => ("the operation".into(), resolve(doc, op, 0)),
    }
}

/// The parameter a subject names: `query parameter page: pattern` → `page`.
fn param_name(subject: &str) -> String {
    let rest = subject.split_once("parameter ").map_or(subject, |(_, r)| r);
    rest.split(':').next().unwrap_or("").trim().trim_matches('`').to_string()
}

/// `v` with local `$ref`s replaced by what they point at (at most 6 levels deep).
fn resolve(doc: &serde_json::Value, v: &serde_json::Value, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > 6 {
        return v.clone();
    }
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str)
                && let Some(target) = r.strip_prefix('#').and_then(|p| doc.pointer(p))
            {
                return resolve(doc, target, depth + 1);
            }
            Value::Object(m.iter().map(|(k, x)| (k.clone(), resolve(doc, x, depth + 1))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(doc, x, depth + 1)).collect()),
        other => other.clone(),
    }
}

fn endpoints(app: &App, d: &Insight, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let eps = &d.report.endpoints;
    let order = endpoint_order(eps, app.insight.endpoint_sort, app.insight.reverse);
    let wide = area.width >= 120;
    let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let namew = if wide { 36 } else { 24 };
    let header = if wide {
        format!(
            "{:<namew$} {:>7} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>4}   [by {}]",
            "endpoint",
            "reqs",
            "rps",
            "err%",
            "avail",
            "ttfb50",
            "ttfb95",
            "ttfb99",
            "tot95",
            "tot99",
            "resp",
            "cli",
            ENDPOINT_SORTS[app.insight.endpoint_sort]
        )
    } else {
        format!(
            "{:<namew$} {:>6} {:>6} {:>7} {:>7} {:>3} [{}]",
            "endpoint", "reqs", "err%", "ttfb95", "tot95", "cli", ENDPOINT_SORTS[app.insight.endpoint_sort]
        )
    };
    let rows: Vec<Line<'static>> = order
        .iter()
        .filter_map(|i| eps.get(*i))
        .map(|e| {
            let k = &e.kpis;
            let p = |o: Option<crate::analysis::kpi::Percentiles>, f: fn(&crate::analysis::kpi::Percentiles) -> u32| {
                ms(o.as_ref().map(f))
            };
            let s = if wide {
                format!(
                    "{:<namew$} {:>7} {:>6.2} {:>6} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>4}",
                    cut(&e.name, namew),
                    k.requests,
                    k.mean_rps,
                    pct(k.error_rate),
                    pct(k.availability),
                    p(k.ttfb, |x| x.p50_us),
                    p(k.ttfb, |x| x.p95_us),
                    p(k.ttfb, |x| x.p99_us),
                    p(k.total, |x| x.p95_us),
                    p(k.total, |x| x.p99_us),
                    fmt::size(k.sizes.response_decoded),
                    e.clients
                )
            } else {
                format!(
                    "{:<namew$} {:>6} {:>6} {:>7} {:>7} {:>3}",
                    cut(&e.name, namew),
                    k.requests,
                    pct(k.error_rate),
                    p(k.ttfb, |x| x.p95_us),
                    p(k.total, |x| x.p95_us),
                    e.clients
                )
            };
            let st = if k.error_rate > 0.05 { t.warn() } else { ratatui::style::Style::default() };
            Line::styled(s, st)
        })
        .collect();
    let f = app.insight_focus();
    let [table, legend] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(top);
    list(app, header, rows, f, table, buf);
    let span = d.span.map(|(a, b)| fmt::dur(Some(b - a))).unwrap_or_else(|| "-".into());
    let words = if wide {
        format!(
            "err% = 4xx, 5xx or failed · avail = neither 5xx nor failed · rps = requests ÷ the shown flows' span ({span})"
        )
    } else {
        format!("err% = 4xx/5xx/failed · avail = no 5xx/failure · span {span}")
    };
    Line::styled(fmt::cut(&words, usize::from(legend.width)), t.dim()).render(legend, buf);
    let Some(e) = order.get(f).and_then(|i| eps.get(*i)) else { return };
    let [h, s, c] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(35), Constraint::Percentage(25)])
            .areas(bottom);
    if let Some(feed) = d.report.feeds.iter().find(|f| f.name == e.name) {
        // A streaming endpoint: its total times are stream lengths, so the feed KPIs
        // take the latency histogram's place.
        feed_panel(app, feed, h, buf);
    } else {
        latency_histogram(app, d, &e.name, h, buf);
    }
    // request rate over the whole capture span, resampled to the sparkline width
    let width = usize::from(s.width.max(1));
    let mut buckets = vec![0u64; width];
    if let Some((a, b)) = d.span {
        let span = (b - a).max(1);
        for p in &e.series {
            let i = (((p.t - a).max(0) as f64 / span as f64) * (width as f64 - 1.0)).round() as usize;
            if let Some(x) = buckets.get_mut(i.min(width - 1)) {
                *x += u64::from(p.requests);
            }
        }
    }
    Sparkline::default()
        .block(Block::default().borders(Borders::TOP).title(format!("requests over time (peak {}/s)", e.peak_rps)))
        .data(&buckets)
        .style(t.ok())
        .render(s, buf);
    let sbars: Vec<Bar<'_>> = e
        .kpis
        .statuses
        .iter()
        .map(|(code, n)| Bar::default().value(*n).label(Line::raw(code.to_string())).style(t.status(Some(*code))))
        .chain((e.kpis.failed > 0).then(|| Bar::default().value(e.kpis.failed).label(Line::raw("fail"))))
        .collect();
    BarChart::default()
        .block(Block::default().borders(Borders::TOP).title("status codes"))
        .data(BarGroup::default().bars(&sbars))
        .bar_width(4)
        .bar_gap(1)
        .render(c, buf);
}

/// The total-latency histogram of endpoint `name`.
fn latency_histogram(app: &App, d: &Insight, name: &str, area: Rect, buf: &mut Buffer) {
    let hist = fit_buckets(&d.histograms.get(name).cloned().unwrap_or_default(), usize::from(area.width));
    let bars: Vec<Bar<'_>> = hist.iter().map(|(l, n)| Bar::default().value(*n).label(Line::raw(l.clone()))).collect();
    BarChart::default()
        .block(Block::default().borders(Borders::TOP).title("total latency (from)"))
        .data(BarGroup::default().bars(&bars))
        .bar_width(5)
        .bar_gap(1)
        .bar_style(app.theme.ok())
        .render(area, buf);
}

/// The feed KPIs of a streaming endpoint, named as `apiscope stats` names them (times in
/// ms); two per line when the panel is short.
fn feed_panel(app: &App, f: &crate::analysis::feed::FeedKpis, area: Rect, buf: &mut Buffer) {
    let pairs: Vec<String> = crate::analysis::feed::FEED_COLUMNS
        .iter()
        .zip(f.cells())
        .map(|(k, v)| format!("{k:<13} {}", visible(&v)))
        .collect();
    let room = usize::from(area.height.saturating_sub(1));
    let lines: Vec<Line<'static>> = if pairs.len() <= room {
        pairs.into_iter().map(Line::raw).collect()
    } else {
        let half = usize::from(area.width / 2);
        pairs.chunks(2).map(|c| Line::raw(format!("{:<half$}{}", c[0], c.get(1).map_or("", String::as_str)))).collect()
    };
    let block = Block::default().borders(Borders::TOP).title("stream feed (ms)").border_style(app.theme.dim());
    Paragraph::new(lines).block(block).render(area, buf);
}

/// Merge neighbouring histogram buckets until they fit `width` columns at 6 per bar (each
/// keeps the lower edge of its first bucket as its label).
pub fn fit_buckets(hist: &[(String, u64)], width: usize) -> Vec<(String, u64)> {
    let fit = (width / 6).max(1);
    let per = hist.len().div_ceil(fit).max(1);
    hist.chunks(per).map(|c| (c[0].0.clone(), c.iter().map(|b| b.1).sum())).collect()
}

fn clients(app: &App, d: &Insight, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let cls = &d.report.clients;
    let order = client_order(cls, app.insight.client_sort, app.insight.reverse, app.insight.flagged_only);
    let wide = area.width >= 120;
    let [top, bottom] = Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(area);
    let idw = if wide { 30 } else { 22 };
    let header = format!(
        "{:<idw$} {:>7} {:>6} {:>6} {:>7} {}  [by {}]",
        "client", "reqs", "share", "err%", "p95", "flags", CLIENT_SORTS[app.insight.client_sort]
    );
    let rows: Vec<Line<'static>> = order
        .iter()
        .filter_map(|i| cls.get(*i))
        .map(|c| {
            let mut flags: Vec<&str> = c.flags.iter().map(|f| f.label()).collect();
            if !c.poor_experience.is_empty() {
                flags.push("poor experience");
            }
            let s = format!(
                "{:<idw$} {:>7} {:>6} {:>6} {:>7} {}",
                cut(&c.id, idw),
                c.kpis.requests,
                pct(c.share_requests),
                pct(c.kpis.error_rate),
                ms(c.kpis.total.map(|p| p.p95_us)),
                flags.join(", ")
            );
            let st = if flags.is_empty() { ratatui::style::Style::default() } else { t.warn() };
            Line::styled(s, st)
        })
        .collect();
    let f = app.insight_focus();
    list(app, header, rows, f, top, buf);
    let Some(c) = order.get(f).and_then(|i| cls.get(*i)) else { return };
    let mut lines = vec![Line::styled(
        format!(
            "{} · user agents: {}",
            visible(&c.id),
            c.user_agents.iter().map(|u| visible(u).into_owned()).collect::<Vec<_>>().join(" | ")
        ),
        t.header(),
    )];
    lines.push(Line::raw(format!(
        "share: {} of requests, {} of bytes, {} of server time · {} endpoints used",
        pct(c.share_requests),
        pct(c.share_bytes),
        pct(c.share_server_time),
        c.endpoints_used.len()
    )));
    // Each pattern with the explanation `apiscope stats` gives for it.
    for f in d.report.findings.iter().filter(|f| f.client == c.id && f.kind.is_client_behaviour()).take(6) {
        let on = f.endpoint.as_deref().map(|e| format!(" on {}", visible(e))).unwrap_or_default();
        lines.push(Line::styled(format!("{}{on}: {}", f.kind.label(), visible(&f.explanation)), t.warn()));
    }
    for p in c.poor_experience.iter().take(4) {
        lines.push(Line::styled(
            format!("poor experience on {}: {} ({} requests)", visible(&p.endpoint), visible(&p.reason), p.requests),
            t.warn(),
        ));
    }
    lines.push(Line::styled(
        "enter: flows · J: journey · h: hide · m: mark · S: save · a: flagged only".to_string(),
        t.dim(),
    ));
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::default().borders(Borders::TOP)).render(bottom, buf);
}

fn journey(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.theme;
    let Some(j) = &app.insight.journey else { return };
    let header = format!(
        "journey of {} · {} calls · enter: call detail · esc: back",
        visible(&j.client),
        j.rows.iter().filter(|r| matches!(r, JourneyRow::Call(_))).count()
    );
    let rows: Vec<Line<'static>> = j
        .rows
        .iter()
        .map(|r| match r {
            JourneyRow::Session(n, calls, errors, a, b) => Line::styled(
                format!("── session {n}: {calls} calls, {errors} errors, {} – {}", fmt::clock(*a), fmt::clock(*b)),
                t.header(),
            ),
            JourneyRow::Call(id) => {
                let Some(row) = app.store.row(*id) else { return Line::raw("?") };
                let status = row.status();
                Line::from(vec![
                    Span::raw(format!("  {} ", fmt::clock(crate::store::Row::opt(row.start)))),
                    Span::styled(
                        format!("{:<6} ", cut(app.store.str(row.method), 6)),
                        t.method(app.store.str(row.method)),
                    ),
                    Span::styled(
                        format!("{:>3} ", status.map_or_else(|| "---".into(), |s| s.to_string())),
                        t.status(status),
                    ),
                    Span::raw(format!(
                        "{:>8} {}",
                        fmt::dur(crate::store::Row::opt(row.duration)),
                        visible(app.store.str(row.path))
                    )),
                ])
            }
        })
        .collect();
    list(app, header, rows, j.focus, area, buf);
}

fn structure(app: &App, d: &Insight, area: Rect, buf: &mut Buffer) {
    let vis = visible_nodes(&app.insight);
    let w = usize::from(area.width).saturating_sub(30).max(10);
    let header = format!("{:<w$} {:>7} {:>6} {:>8}", "host › endpoint › path", "reqs", "err%", "p95");
    let rows: Vec<Line<'static>> = vis
        .iter()
        .filter_map(|i| d.tree.get(*i))
        .map(|n| {
            let open = match n.depth {
                0 => !app.insight.toggled.contains(&n.key),
                1 => app.insight.toggled.contains(&n.key),
                _ => false,
            };
            let icon = if n.depth == 2 {
                " "
            } else if open {
                "▾"
            } else {
                "▸"
            };
            let indent = "  ".repeat(usize::from(n.depth));
            let label = format!("{indent}{icon} {}", visible(&n.label));
            let err = if n.stats.count == 0 { 0.0 } else { n.stats.errors as f64 / n.stats.count as f64 };
            let l =
                format!("{:<w$} {:>7} {:>6} {:>8}", fmt::cut(&label, w), n.stats.count, pct(err), ms(n.stats.p95_us));
            if n.depth == 0 { Line::styled(l, app.theme.header().add_modifier(Modifier::BOLD)) } else { Line::raw(l) }
        })
        .collect();
    list(app, header, rows, app.insight_focus(), area, buf);
}

fn saved_popup(app: &App, cur: usize, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(8).min(90);
    let h = area.height.saturating_sub(4).min(16);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
    Clear.render(r, buf);
    let mut lines: Vec<Line<'static>> = Vec::new();
    if app.insight.saved.filters.is_empty() {
        lines.push(Line::raw("no saved filters yet (S on the clients view or any insight view)"));
    }
    for (i, (k, v)) in app.insight.saved.filters.iter().enumerate() {
        let l = Line::raw(fmt::cut(&format!("{:<16} {}", visible(k), visible(v)), usize::from(w.saturating_sub(2))));
        lines.push(if i == cur { l.style(app.theme.focus()) } else { l });
    }
    Paragraph::new(lines)
        .block(Block::default().borders(Borders::ALL).title(" saved filters · enter: apply · d: delete · esc "))
        .render(r, buf);
}
