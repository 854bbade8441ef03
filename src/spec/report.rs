//! Rendering a [`DiffReport`]: readable grouped text (ANSI colour only when asked), JSON
//! (the report itself, with a format tag), SARIF 2.1.0 for code-scanning UIs, and Markdown
//! for pull-request comments. Plain functions returning `String`; whether to colour is the
//! caller's decision. Every captured string in a report was already escaped with
//! [`crate::model::text::visible`] when the finding was built; spec-derived strings are
//! escaped here.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::check::FindingKind;
use super::findings::{DiffReport, Finding};
use crate::model::text::visible;
use crate::model::{Nanos, Severity};

/// Format tag written into JSON reports.
pub const JSON_FORMAT: &str = "apiscope-diff/1";

/// RFC 3339 UTC time of a capture-clock instant.
#[must_use]
pub fn fmt_time(n: Option<Nanos>) -> String {
    let Some(n) = n else { return "-".into() };
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| n.to_string())
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color { crate::model::text::sgr(s, code) } else { s.to_string() }
}

fn sev_label(s: Severity, color: bool) -> String {
    match s {
        Severity::Error => paint("error  ", "1;31", color),
        Severity::Warning => paint("warning", "33", color),
        Severity::Info => paint("info   ", "36", color),
    }
}

fn clients_line(f: &Finding) -> String {
    let mut parts: Vec<String> =
        f.clients.iter().take(3).map(|c| format!("{} {:.0}%", c.client, c.share * 100.0)).collect();
    if f.clients_total > 3 {
        parts.push(format!("+{} more", f.clients_total - 3));
    }
    parts.join(", ")
}

fn headline(f: &Finding) -> String {
    if f.subject.is_empty() { f.endpoint.clone() } else { format!("{}  {}", f.endpoint, f.subject) }
}

/// Grouped, human-readable text.
#[must_use]
pub fn text(r: &DiffReport, color: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {} {} (OpenAPI {}, {} operations) vs {}",
        paint("apiscope diff:", "1", color),
        visible(&r.spec.title),
        visible(&r.spec.version),
        r.spec.openapi,
        r.spec.operations,
        visible(&r.inputs.join(", "))
    );
    let _ = writeln!(
        o,
        "{} exchanges, {} documented, {} with findings; {} finding{}: {} error, {} warning, {} info",
        r.exchanges,
        r.documented,
        r.exchanges_with_findings,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" },
        r.summary.error,
        r.summary.warning,
        r.summary.info
    );
    // Group by kind, kinds ordered by their worst finding (findings are already sorted).
    let mut kinds: Vec<FindingKind> = Vec::new();
    for f in &r.findings {
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind);
        }
    }
    for k in kinds {
        let group: Vec<&Finding> = r.findings.iter().filter(|f| f.kind == k).collect();
        let n: u64 = group.iter().map(|f| f.count).sum();
        let _ = writeln!(
            o,
            "\n{} ({} finding{}, {n} exchange{})",
            paint(k.title(), "1", color),
            group.len(),
            if group.len() == 1 { "" } else { "s" },
            if n == 1 { "" } else { "s" }
        );
        for f in group {
            let _ = writeln!(o, "  {} {}  ×{}", sev_label(f.severity, color), headline(f), f.count);
            let _ = writeln!(o, "          {}", f.message);
            if let Some(d) = f.distinct_paths {
                let _ = writeln!(
                    o,
                    "          {d} distinct path{}, e.g. {}",
                    if d == 1 { "" } else { "s" },
                    f.example_paths.join("  ")
                );
            }
            let _ = writeln!(
                o,
                "          seen {} → {}; clients: {}",
                fmt_time(f.first_seen),
                fmt_time(f.last_seen),
                clients_line(f)
            );
            if let Some(e) = f.examples.first() {
                let place = match (e.entry, e.packets.first()) {
                    (Some(i), _) => format!("entry {i}"),
                    (None, Some(p)) => format!("packet {p}"),
                    _ => format!("#{}", e.seq),
                };
                let st = e.status.map_or_else(|| "no response".to_string(), |s| s.to_string());
                let _ = writeln!(o, "          e.g. {} {} → {st} ({}, {place})", e.method, e.url, visible(&e.file));
            }
        }
    }
    if r.findings.is_empty() {
        let _ = writeln!(o, "\n{}", paint("No contract findings.", "32", color));
    }
    if !r.unchecked.is_empty() {
        let _ = writeln!(o, "\n{}", paint("Not fully checked", "1", color));
        for u in &r.unchecked {
            let _ = writeln!(o, "  {:>6}  {}", u.count, u.description);
        }
    }
    let c = &r.coverage;
    let _ = writeln!(
        o,
        "\n{} {}/{} operations called",
        paint("Coverage:", "1", color),
        c.operations_called,
        c.operations_total
    );
    let never: Vec<String> =
        c.operations.iter().filter(|op| op.calls == 0).map(|op| visible(&op.endpoint).into_owned()).collect();
    if !never.is_empty() {
        let more = never.len().saturating_sub(20);
        let shown: Vec<String> = never.into_iter().take(20).collect();
        let tail = if more > 0 { format!(" (+{more} more; see --format json)") } else { String::new() };
        let _ = writeln!(o, "  never called: {}{tail}", shown.join(", "));
    }
    for op in c.operations.iter().filter(|op| op.calls > 0) {
        let st: Vec<String> = op.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let mut line = format!("  {:<40} {:>7} calls  {}", visible(&op.endpoint), op.calls, st.join(" "));
        if !op.responses_not_seen.is_empty() {
            let _ = write!(line, "  (never seen: {})", op.responses_not_seen.join(", "));
        }
        if !op.params_never_used.is_empty() {
            let _ = write!(line, "  (unused params: {})", visible(&op.params_never_used.join(", ")));
        }
        let _ = writeln!(o, "{line}");
    }
    if !r.spec_problems.is_empty() {
        let _ = writeln!(o, "\n{}", paint("Spec problems", "1", color));
        for p in &r.spec_problems {
            let _ = writeln!(o, "  {}: {}", visible(&p.pointer), visible(&p.message));
        }
    }
    if r.input_diagnostics > 0 {
        let _ = writeln!(o, "\n{} {} input diagnostics", paint("Input:", "1", color), r.input_diagnostics);
        for d in &r.input_diagnostic_examples {
            let _ = writeln!(o, "  {d}");
        }
    }
    o
}

/// The report as pretty JSON, tagged with [`JSON_FORMAT`].
#[must_use]
pub fn json(r: &DiffReport) -> String {
    let mut m = Map::new();
    m.insert("format".into(), Value::String(JSON_FORMAT.into()));
    if let Ok(Value::Object(body)) = serde_json::to_value(r) {
        m.extend(body);
    }
    serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default() + "\n"
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// SARIF 2.1.0 (one run, one rule per finding kind, the spec file as the location).
#[must_use]
pub fn sarif(r: &DiffReport) -> String {
    let rules: Vec<Value> = FindingKind::ALL
        .iter()
        .map(|k| {
            json!({
                "id": k.as_str(),
                "name": k.title().replace(' ', ""),
                "shortDescription": {"text": k.title()},
                "helpUri": "https://github.com/apiscope/apiscope#contract-gaps",
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let idx = FindingKind::ALL.iter().position(|k| *k == f.kind).unwrap_or(0);
            let text = format!(
                "{}: {}{} — {} ({} exchange{}, clients: {})",
                f.kind.title(),
                f.endpoint,
                if f.subject.is_empty() { String::new() } else { format!(" {}", f.subject) },
                f.message,
                f.count,
                if f.count == 1 { "" } else { "s" },
                clients_line(f)
            );
            json!({
                "ruleId": f.kind.as_str(),
                "ruleIndex": idx,
                "level": sarif_level(f.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": r.spec.path.replace('\\', "/")}},
                    "logicalLocations": [{"fullyQualifiedName": f.endpoint, "kind": "function"}]
                }],
                "partialFingerprints": {
                    "apiscopeFinding/v1": crate::model::client::short_hash(&format!("{}|{}|{}", f.kind, f.endpoint, f.subject))
                },
                "properties": {
                    "endpoint": f.endpoint,
                    "subject": f.subject,
                    "count": f.count,
                    "firstSeen": fmt_time(f.first_seen),
                    "lastSeen": fmt_time(f.last_seen),
                    "clients": f.clients,
                    "examples": f.examples,
                }
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "apiscope",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/apiscope/apiscope",
                "rules": rules
            }},
            "results": results,
            "properties": {
                "exchanges": r.exchanges,
                "documented": r.documented,
                "unchecked": r.unchecked,
            }
        }]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// One Markdown table cell: made visible (spec text can hold control characters too), one
/// line, pipes escaped.
fn md_cell(s: &str) -> String {
    visible(&s.replace('\n', " ")).replace('|', "\\|")
}

/// Markdown (summary, findings table, unchecked, coverage).
#[must_use]
pub fn markdown(r: &DiffReport) -> String {
    let mut o = String::new();
    let _ =
        writeln!(o, "## Contract gaps: {} {}\n", md_cell(&visible(&r.spec.title)), md_cell(&visible(&r.spec.version)));
    let _ = writeln!(
        o,
        "{} exchanges from {} · {} documented · **{} error**, **{} warning**, {} info\n",
        r.exchanges,
        md_cell(&visible(&r.inputs.join(", "))),
        r.documented,
        r.summary.error,
        r.summary.warning,
        r.summary.info
    );
    if r.findings.is_empty() {
        let _ = writeln!(o, "No contract findings.\n");
    } else {
        let _ = writeln!(o, "| Severity | Finding | Endpoint | Detail | Exchanges | Clients | Example |");
        let _ = writeln!(o, "|---|---|---|---|---:|---|---|");
        for f in &r.findings {
            let ex = f.examples.first().map(|e| format!("`{} {}`", e.method, e.url)).unwrap_or_default();
            let detail = match f.distinct_paths {
                Some(d) => format!("{d} distinct paths, e.g. {}", f.example_paths.join(", ")),
                None if f.subject.is_empty() => f.message.clone(),
                None => format!("{}: {}", f.subject, f.message),
            };
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | {} | {} | {} | {} |",
                f.severity,
                f.kind.title(),
                md_cell(&f.endpoint),
                md_cell(&detail),
                f.count,
                md_cell(&clients_line(f)),
                md_cell(&ex)
            );
        }
        o.push('\n');
    }
    if !r.unchecked.is_empty() {
        let _ = writeln!(
            o,
            "**Not fully checked:** {}\n",
            r.unchecked.iter().map(|u| format!("{} × {}", u.count, u.description)).collect::<Vec<_>>().join("; ")
        );
    }
    let c = &r.coverage;
    let _ = writeln!(o, "**Coverage:** {}/{} operations called.", c.operations_called, c.operations_total);
    let never: Vec<String> =
        c.operations.iter().filter(|op| op.calls == 0).map(|op| format!("`{}`", md_cell(&op.endpoint))).collect();
    if !never.is_empty() {
        let _ = writeln!(o, "Never called: {}.", never.join(", "));
    }
    // Every piece above is escaped already; this keeps a piece added later from slipping by.
    crate::model::text::visible_multiline(&o).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_times_render_as_rfc3339() {
        assert_eq!(fmt_time(Some(1_710_250_200_000_000_000)), "2024-03-12T13:30:00Z");
        assert_eq!(fmt_time(None), "-");
    }

    #[test]
    fn markdown_cells_escape_pipes() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn markdown_cells_escape_terminal_controls_and_bidi_marks() {
        assert_eq!(md_cell("t\x1b]0;pwn\x07\u{61c}x"), "t\\x1b]0;pwn\\x07\\u{61c}x");
    }
}
