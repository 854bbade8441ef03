//! The comparison as text (aligned tables), Markdown and JSON (the schema is in
//! docs/compare.md). Captured text (endpoint names, client labels, field paths, values,
//! messages) goes through `model::text::visible` in text and Markdown.

use std::fmt::Write as _;

use super::{Comparison, EndpointComparison, MetricTest, Verdict};
use crate::analysis::patterns::ExampleRef;
use crate::model::text::visible;
use crate::spec::findings::Example;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables.
    Text,
    /// Markdown tables.
    Markdown,
    /// The whole comparison as JSON.
    Json,
}

/// Render `c` in `format`; lists in text and Markdown stop after `top` rows.
///
/// # Errors
/// JSON serialisation failure.
pub fn render(c: &Comparison, format: Format, top: usize) -> Result<String, serde_json::Error> {
    match format {
        Format::Json => serde_json::to_string_pretty(c).map(|mut s| {
            s.push('\n');
            s
        }),
        Format::Text => Ok(tables(c, false, top)),
        Format::Markdown => Ok(tables(c, true, top)),
    }
}

/// One section of the text report, alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Response shapes.
    Shapes,
    /// Contract (empty without a spec).
    Contract,
    /// Clients.
    Clients,
}

/// One section as the text report prints it; lists stop after `top` rows.
#[must_use]
pub fn section(c: &Comparison, s: Section, top: usize) -> String {
    let mut out = String::new();
    match s {
        Section::Shapes => shapes(&mut out, c, false, top),
        Section::Contract => contract(&mut out, c, false, top),
        Section::Clients => clients(&mut out, c, false, top),
    }
    out
}

/// `0.0123` → `1.2%`.
fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A p-value as shown: `<1e-300` … `0.0042` … `0.31`.
#[must_use]
pub fn p_value(p: Option<f64>) -> String {
    match p {
        None => "-".to_string(),
        Some(p) if p < 1e-300 => "<1e-300".to_string(),
        Some(p) if p < 1e-3 => format!("{p:.0e}"),
        Some(p) => format!("{p:.3}"),
    }
}

fn num_ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `A→B (+12%)` for a latency test.
fn latency_cell(t: Option<&MetricTest>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| {
            let rel = t.relative.map_or(String::new(), |r| format!(" ({:+.0}%)", r * 100.0));
            format!("{}→{}{rel}", num_ms(t.a), num_ms(t.b))
        },
    )
}

/// `A→B (+1.2pp)` for a rate test.
fn rate_cell(t: Option<&MetricTest>) -> String {
    t.map_or_else(|| "-".to_string(), |t| format!("{}→{} ({:+.1}pp)", pct(t.a), pct(t.b), t.delta * 100.0))
}

fn calls_cell(e: &EndpointComparison) -> String {
    let n = |f: Option<&super::EndpointFigures>| f.map_or("-".to_string(), |f| f.requests.to_string());
    format!("{}→{}", n(e.a.as_ref()), n(e.b.as_ref()))
}

fn p95_cell(e: &EndpointComparison) -> String {
    let kind = e.latency_kind.unwrap_or("ttfb");
    let p = |f: Option<&super::EndpointFigures>| {
        f.and_then(|f| if kind == "total" { f.total_ms } else { f.ttfb_ms }).map_or("-".to_string(), |v| num_ms(v[1]))
    };
    format!("{}→{}", p(e.a.as_ref()), p(e.b.as_ref()))
}

/// The confidence behind a verdict: the tests that decided it and their smallest p-value
/// (`latency+errors p 3e-12`), else the smallest p-value of any test (`min p 0.41`).
#[must_use]
pub fn confidence(e: &EndpointComparison) -> String {
    let tests = [e.latency.as_ref(), e.error_rate.as_ref(), e.availability.as_ref()];
    let deciding: Vec<f64> = tests.iter().flatten().filter(|t| t.verdict == e.verdict).filter_map(|t| t.p).collect();
    if deciding.is_empty() {
        let all: Vec<f64> = tests.iter().flatten().filter_map(|t| t.p).collect();
        return all.into_iter().reduce(f64::min).map_or("-".to_string(), |p| format!("min p {}", p_value(Some(p))));
    }
    let which: Vec<&str> =
        [("latency", e.latency.as_ref()), ("errors", e.error_rate.as_ref()), ("availability", e.availability.as_ref())]
            .iter()
            .filter(|(_, t)| t.is_some_and(|t| t.verdict == e.verdict))
            .map(|(n, _)| *n)
            .collect();
    format!("{} p {}", which.join("+"), p_value(deciding.into_iter().reduce(f64::min)))
}

fn example_ref(e: Option<&ExampleRef>) -> String {
    e.map_or("-".to_string(), |e| format!("#{}", e.seq))
}

fn example(e: Option<&Example>) -> String {
    e.map_or("-".to_string(), |e| format!("#{}", e.seq))
}

/// Aligned text table (or a Markdown one).
fn table(out: &mut String, md: bool, head: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        out.push_str(if md { "_none_\n\n" } else { "  (none)\n\n" });
        return;
    }
    if md {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
        return;
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            let _ = write!(s, " {c}{}", " ".repeat(width.saturating_sub(c.chars().count())));
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(head.to_vec()));
    for r in rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    out.push('\n');
}

fn heading(out: &mut String, md: bool, title: &str) {
    if md {
        let _ = writeln!(out, "## {title}\n");
    } else {
        let _ = writeln!(out, "{}\n", title.to_uppercase());
    }
}

fn tables(c: &Comparison, md: bool, top: usize) -> String {
    let mut out = String::new();
    header(&mut out, c, md);
    endpoints(&mut out, c, md, top);
    shapes(&mut out, c, md, top);
    contract(&mut out, c, md, top);
    clients(&mut out, c, md, top);
    out
}

fn header(out: &mut String, c: &Comparison, md: bool) {
    let names = |v: &[String]| v.iter().map(|s| visible(s).into_owned()).collect::<Vec<_>>().join(", ");
    if md {
        out.push_str("# apiscope compare\n\n");
    }
    let side = |label: &str, s: &super::SideSummary| {
        format!(
            "{label}: {} — {} calls, {} endpoints, {} clients, errors {}, availability {}, p50 TTFB {}",
            names(&s.inputs),
            s.requests,
            s.endpoints,
            s.clients,
            pct(s.error_rate),
            pct(s.availability),
            s.ttfb_p50_ms.map_or("-".to_string(), |v| format!("{} ms", num_ms(v)))
        )
    };
    let bullet = if md { "- " } else { "" };
    let _ = writeln!(out, "{bullet}{}", side("A", &c.a));
    let _ = writeln!(out, "{bullet}{}", side("B", &c.b));
    let v = &c.verdicts;
    let _ = writeln!(
        out,
        "{bullet}Verdicts: {} regressed, {} improved, {} unchanged, {} new, {} gone, {} too few calls",
        v.regressed, v.improved, v.unchanged, v.new, v.gone, v.too_few_calls
    );
    let m = &c.method;
    let _ = writeln!(
        out,
        "{bullet}Method: latency by Mann-Whitney U on the TTFB of 2xx answers, rates by two-proportion z-test; a change needs p < {} and a median shift ≥ {:.0}% or a rate change ≥ {:.1} pp; fewer than {} calls on a side: too few calls\n",
        m.alpha,
        m.min_latency_shift * 100.0,
        m.min_rate_change * 100.0,
        m.min_calls
    );
}

fn endpoints(out: &mut String, c: &Comparison, md: bool, top: usize) {
    heading(out, md, "Endpoints");
    // endpoints that came or went with a handful of calls (scanners' paths, mostly) are
    // counted, not listed; JSON has them all
    let min = c.method.min_calls;
    let calls =
        |e: &EndpointComparison| e.a.as_ref().map_or(0, |f| f.requests).max(e.b.as_ref().map_or(0, |f| f.requests));
    let minor = |e: &EndpointComparison| matches!(e.verdict, Verdict::New | Verdict::Gone) && calls(e) < min;
    let rows: Vec<Vec<String>> = c
        .endpoints
        .iter()
        .filter(|e| !minor(e))
        .filter(|e| e.verdict != Verdict::Unchanged || c.endpoints.len() <= top)
        .take(top)
        .map(|e| {
            vec![
                e.verdict.label().to_string(),
                visible(&e.endpoint).into_owned(),
                calls_cell(e),
                latency_cell(e.latency.as_ref()),
                p95_cell(e),
                rate_cell(e.error_rate.as_ref()),
                rate_cell(e.availability.as_ref()),
                confidence(e),
            ]
        })
        .collect();
    table(
        out,
        md,
        &[
            "verdict",
            "endpoint",
            "calls A→B",
            "p50 ms A→B",
            "p95 ms A→B",
            "errors A→B",
            "availability A→B",
            "confidence",
        ],
        &rows,
    );
    let n_minor = c.endpoints.iter().filter(|e| minor(e)).count();
    if n_minor > 0 {
        let _ = writeln!(out, "{n_minor} endpoints new or gone with fewer than {min} calls (not listed)");
    }
    let hidden = c.endpoints.len() - rows.len() - n_minor;
    if hidden > 0 {
        let _ = writeln!(out, "{hidden} more endpoints (unchanged, or past --top)");
    }
    if n_minor + hidden > 0 {
        out.push_str("--format json lists every endpoint\n\n");
    }
}

fn shapes(out: &mut String, c: &Comparison, md: bool, top: usize) {
    heading(out, md, "Response shapes");
    let _ = writeln!(out, "{} (endpoint, status) pairs compared, {} changes\n", c.shapes_compared, c.shapes.len());
    let rows: Vec<Vec<String>> = c
        .shapes
        .iter()
        .take(top)
        .map(|s| {
            vec![
                visible(&s.endpoint).into_owned(),
                s.status.to_string(),
                visible(&s.path).into_owned(),
                s.kind.label().to_string(),
                visible(&s.detail).into_owned(),
                format!("A {} / B {}", example_ref(s.example_a.as_ref()), example_ref(s.example_b.as_ref())),
            ]
        })
        .collect();
    table(out, md, &["endpoint", "status", "field", "change", "detail", "examples"], &rows);
}

fn contract(out: &mut String, c: &Comparison, md: bool, top: usize) {
    let Some(k) = &c.contract else { return };
    heading(out, md, "Contract");
    let cov = &k.coverage;
    let _ = writeln!(
        out,
        "Coverage: {} → {} of {} operations called; {} new gaps, {} fixed, {} changed, {} unchanged\n",
        cov.called.0,
        cov.called.1,
        cov.operations,
        k.new.len(),
        k.fixed.len(),
        k.changed.len(),
        k.unchanged
    );
    for (title, list) in [("New in B", &k.new), ("Fixed in B", &k.fixed), ("Changed", &k.changed)] {
        let _ = writeln!(out, "{}{title}", if md { "### " } else { "" });
        if md {
            out.push('\n');
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .take(top)
            .map(|f| {
                vec![
                    f.severity.to_string(),
                    format!("{:?}", f.kind),
                    visible(&f.endpoint).into_owned(),
                    visible(&f.subject).into_owned(),
                    format!("{}→{}", f.count.0, f.count.1),
                    format!("A {} / B {}", example(f.example_a.as_ref()), example(f.example_b.as_ref())),
                ]
            })
            .collect();
        table(out, md, &["severity", "kind", "endpoint", "subject", "count A→B", "examples"], &rows);
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter().map(|s| visible(s).into_owned()).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(out, "No longer called: {}", list(&cov.no_longer_called));
    let _ = writeln!(out, "Newly called: {}\n", list(&cov.newly_called));
}

fn clients(out: &mut String, c: &Comparison, md: bool, top: usize) {
    heading(out, md, "Clients");
    let k = &c.clients;
    let _ = writeln!(
        out,
        "{} in A, {} in B, {} in both; {} churned (only A), {} new (only B)\n",
        k.total.0, k.total.1, k.both, k.churned_total, k.new_total
    );
    let brief = |v: &[super::ClientBrief]| -> Vec<Vec<String>> {
        v.iter()
            .take(top)
            .map(|b| {
                vec![
                    visible(&b.client).into_owned(),
                    b.requests.to_string(),
                    b.user_agent.as_deref().map_or("-".to_string(), |u| visible(u).into_owned()),
                ]
            })
            .collect()
    };
    let sub = |out: &mut String, t: &str| {
        let _ = writeln!(out, "{}{t}", if md { "### " } else { "" });
        if md {
            out.push('\n');
        }
    };
    sub(out, "Churned (only in A)");
    table(out, md, &["client", "calls", "user agent"], &brief(&k.churned));
    sub(out, "New (only in B)");
    table(out, md, &["client", "calls", "user agent"], &brief(&k.new));
    sub(out, "Error rate changed");
    let rows: Vec<Vec<String>> = k
        .error_rate
        .iter()
        .map(|d| {
            vec![
                visible(&d.client).into_owned(),
                format!("{}→{}", d.requests.0, d.requests.1),
                format!("{}→{} ({:+.1}pp)", pct(d.a), pct(d.b), d.delta * 100.0),
                p_value(d.p),
            ]
        })
        .collect();
    table(out, md, &["client", "calls A→B", "errors A→B", "p"], &rows);
    sub(out, "Median TTFB changed");
    let rows: Vec<Vec<String>> = k
        .latency
        .iter()
        .map(|d| {
            let rel = if d.a > 0.0 { format!(" ({:+.0}%)", (d.b / d.a - 1.0) * 100.0) } else { String::new() };
            vec![
                visible(&d.client).into_owned(),
                format!("{}→{}", d.requests.0, d.requests.1),
                format!("{}→{} ms{rel}", num_ms(d.a), num_ms(d.b)),
            ]
        })
        .collect();
    table(out, md, &["client", "calls A→B", "p50 TTFB A→B"], &rows);
    sub(out, "New behaviour in B");
    let rows: Vec<Vec<String>> = k
        .new_patterns
        .iter()
        .map(|p| {
            vec![
                p.kind.label().to_string(),
                visible(&p.client).into_owned(),
                p.endpoint.as_deref().map_or("-".to_string(), |e| visible(e).into_owned()),
                p.count.to_string(),
                example_ref(p.examples.first()),
            ]
        })
        .collect();
    table(out, md, &["pattern", "client", "endpoint", "count", "example"], &rows);
    let counts: Vec<Vec<String>> =
        k.patterns.iter().map(|p| vec![p.kind.label().to_string(), p.a.to_string(), p.b.to_string()]).collect();
    sub(out, "Pattern findings per kind");
    table(out, md, &["pattern", "A", "B"], &counts);
}
