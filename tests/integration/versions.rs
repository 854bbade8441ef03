//! Integration tests: the TUI's Versions view (`apiscope A… --against B…`). Two in-memory
//! sides — `GET /v1/portfolio` three times slower with 5xx answers in B, `GET /v1/search`
//! faster, `GET /v1/orders` the same, `GET /v1/health` gone, `POST /v1/login` new — are
//! compared as `apiscope compare` compares them and drawn at 80×24 and 160×48 (insta
//! snapshots); the regressed endpoint sorts first and is drawn red; drilling into a side's
//! flows, switching side, opening a flow and coming back keeps the focused endpoint;
//! captured control characters never reach the screen.

use std::path::PathBuf;
use std::sync::Arc;

use apiscope::analysis::Config;
use apiscope::analysis::compare::side::Side;
use apiscope::analysis::compare::{CompareOptions, Verdict};
use apiscope::ingest::Sink as _;
use apiscope::model::{Exchange, Timing};
use apiscope::spec::check::CheckOptions;
use apiscope::tui::app::{App, Options, Screen};
use apiscope::tui::keymap::Context;
use apiscope::tui::theme::Theme;
use apiscope::tui::versions::{self, Pane, VersionsData, VersionsInputs, VersionsState};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::support::{screen, text};
use ratatui::style::Color;

const PORTFOLIO: &str = "GET /v1/portfolio";

/// One call: `ttfb_ms` to the first byte, 2 ms more to the end; `i` spreads start times.
fn call(file: &Arc<str>, seq: u64, method: &str, target: &str, status: u16, ttfb_ms: i64, body: &str) -> Exchange {
    let start = 1_700_000_000_000_000_000 + seq as i64 * 50_000_000;
    let mut e = Exchange::builder(method, target)
        .seq(seq)
        .host("api.test")
        .status(status)
        .response_header("Content-Type", "application/json")
        .response_body(body)
        .source(file, Some(seq))
        .build();
    e.timing = Timing {
        request_start: Some(start),
        request_end: Some(start + 100_000),
        response_start: Some(start + 100_000 + ttfb_ms * 1_000_000),
        response_end: Some(start + 100_000 + (ttfb_ms + 2) * 1_000_000),
    };
    e
}

/// Deterministic noise: 0..=6.
fn wiggle(i: u64) -> i64 {
    (i * 37 % 7) as i64
}

/// The flows of one side.
fn side_flows(b: bool) -> Vec<Exchange> {
    let file: Arc<str> = Arc::from(if b { "b.har" } else { "a.har" });
    let mut v = Vec::new();
    let mut seq = 0;
    for i in 0..120u64 {
        // portfolio: 3× slower in B, one in ten answered 503, and `total` became a string
        let (ttfb, status, body) = if b {
            (30 + 3 * wiggle(i), if i % 10 == 0 { 503 } else { 200 }, r#"{"total":"12.5","currency":"EUR"}"#)
        } else {
            (10 + wiggle(i), 200, r#"{"total":12.5,"currency":"EUR"}"#)
        };
        v.push(call(&file, seq, "GET", "/v1/portfolio", status, ttfb, body));
        seq += 1;
        let orders = 20 + wiggle(i + 3);
        v.push(call(&file, seq, "GET", "/v1/orders", 200, orders, r#"{"orders":[]}"#));
        seq += 1;
        let search = if b { 8 + wiggle(i) } else { 40 + 2 * wiggle(i) };
        v.push(call(&file, seq, "GET", "/v1/search", 200, search, r#"{"hits":[]}"#));
        seq += 1;
        if i < 40 {
            let (m, t) = if b { ("POST", "/v1/login") } else { ("GET", "/v1/health") };
            v.push(call(&file, seq, m, t, 200, 3, r#"{"ok":true}"#));
            seq += 1;
        }
    }
    if b {
        // a scanner's one-off path: new, but with too few calls to rank with the new ones
        for _ in 0..3 {
            v.push(call(&file, seq, "PUT", "/wp-login.php", 404, 1, "{}"));
            seq += 1;
        }
    }
    // a hostile path on both sides
    v.push(call(&file, seq, "GET", "/v1/evil\x1b[2J\x1b]52;c;Zm9v\x07", 200, 5, r#"{"a":"\u001b[31m"}"#));
    v
}

fn read(b: bool) -> apiscope::analysis::compare::side::SideResult {
    let mut s = Side::new(Config::default(), None, CheckOptions::default());
    s.begin_input(if b { "b.har" } else { "a.har" });
    for e in side_flows(b) {
        s.exchange(&e);
    }
    s.finish()
}

fn inputs() -> VersionsInputs {
    VersionsInputs {
        a: vec![PathBuf::from("a.har")],
        b: vec![PathBuf::from("b.har")],
        spec: None,
        options: CompareOptions::default(),
    }
}

fn app() -> App {
    let data = VersionsData::build(&read(false), &read(true), &CompareOptions::default());
    let mut a = App::new(Options {
        sources: vec!["a.har".into(), "b.har".into()],
        theme: Theme::new(true),
        export_dir: std::env::temp_dir(),
        versions: Some(inputs()),
        ..Options::default()
    });
    a.versions = Some(VersionsState::with_data(inputs(), data));
    let mut all = side_flows(false);
    all.extend(side_flows(true));
    a.load_all(all);
    a
}

fn key(a: &mut App, c: char) {
    a.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
}

fn code(a: &mut App, c: KeyCode) {
    a.on_key(&KeyEvent::new(c, KeyModifiers::NONE));
}

fn snap(name: &str, setup: impl Fn(&mut App)) {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut a = app();
        a.resize(w, h);
        setup(&mut a);
        let t = screen(&mut a, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn versions_view_snapshots() {
    snap("versions_endpoints", |_| {});
    snap("versions_drill", |a| code(a, KeyCode::Enter));
    snap("versions_shapes", |a| key(a, 'l'));
    snap("versions_clients", |a| {
        key(a, 'l');
        key(a, 'l');
        key(a, 'l');
    });
}

#[test]
fn the_regressed_endpoint_sorts_first_and_is_drawn_red() {
    let mut a = app();
    assert_eq!(a.screen, Screen::Versions, "--against opens the Versions view");
    assert_eq!(a.context(), Context::Versions);
    let d = a.versions.as_ref().and_then(|v| v.data.as_ref()).expect("data");
    let first = d.comparison.endpoints.first().expect("endpoints");
    assert_eq!((first.endpoint.as_str(), first.verdict), (PORTFOLIO, Verdict::Regressed));
    let verdict = |name: &str| d.comparison.endpoints.iter().find(|e| e.endpoint == name).map(|e| e.verdict);
    assert_eq!(verdict("GET /v1/search"), Some(Verdict::Improved));
    assert_eq!(verdict("GET /v1/orders"), Some(Verdict::Unchanged));
    assert_eq!(verdict("GET /v1/health"), Some(Verdict::Gone));
    assert_eq!(verdict("POST /v1/login"), Some(Verdict::New));
    let pos = |name: &str| d.comparison.endpoints.iter().position(|e| e.endpoint == name);
    assert!(pos("PUT /wp-login.php") > pos("GET /v1/health"), "a new endpoint with 3 calls ranks with too few calls");
    let t = screen(&mut a, 160, 48);
    let s = text(&t);
    let row = s.lines().position(|l| l.contains("regressed") && l.contains("/v1/portfolio")).expect("portfolio row");
    let above = s.lines().position(|l| l.contains("/v1/search") || l.contains("/v1/orders")).expect("other rows");
    assert!(row < above, "the regression is listed first:\n{s}");
    let buf = t.backend().buffer();
    let x = s.lines().nth(row).and_then(|l| l.find("regressed")).map(|i| l_chars(&s, row, i)).unwrap_or(0);
    assert_eq!(buf[(x as u16, row as u16)].fg, Color::Red, "regressed rows are red");
    let improved = s.lines().position(|l| l.starts_with("improved")).expect("improved row");
    assert_eq!(buf[(0, improved as u16)].fg, Color::Green, "improved rows are green");
    assert!(s.contains("latency+errors+availability p"), "the confidence behind the verdict is shown:\n{s}");
}

/// Column of byte offset `i` of line `row` (the lines hold multi-byte box characters).
fn l_chars(s: &str, row: usize, i: usize) -> usize {
    s.lines().nth(row).map_or(0, |l| l[..i].chars().count())
}

#[test]
fn drilling_into_a_side_and_back_keeps_the_selection() {
    let mut a = app();
    key(&mut a, 'j');
    let focused = a.versions.as_ref().and_then(|v| v.focused_endpoint().map(str::to_string)).expect("focus");
    code(&mut a, KeyCode::Enter);
    let drill = a.versions.as_ref().and_then(|v| v.drill.clone()).expect("drilled in");
    assert_eq!(drill.endpoint, "GET /v1/search");
    assert_eq!(drill.endpoint, focused);
    assert_eq!(drill.flows.len(), 120);
    assert_eq!(drill.side, versions::Side::B);
    assert!(!drill.flows.is_empty());
    assert!(drill.flows.iter().all(|id| a.store.file_of(*id) == Some("b.har")), "side B's flows only");
    key(&mut a, 's');
    let drill = a.versions.as_ref().and_then(|v| v.drill.clone()).expect("still drilled in");
    assert_eq!(drill.side, versions::Side::A);
    assert_eq!(drill.flows.len(), 120);
    assert!(drill.flows.iter().all(|id| a.store.file_of(*id) == Some("a.har")), "side A's flows only");
    key(&mut a, 'j');
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.context(), Context::Detail, "enter opens the flow");
    assert_eq!(a.detail.as_ref().map(|d| d.id), drill.flows.get(1).copied());
    code(&mut a, KeyCode::Esc);
    assert_eq!(a.context(), Context::Versions);
    assert!(a.versions.as_ref().is_some_and(|v| v.drill.is_some()), "back to the flow list");
    code(&mut a, KeyCode::Esc);
    let v = a.versions.as_ref().expect("versions");
    assert!(v.drill.is_none());
    assert_eq!(v.focused_endpoint(), Some(focused.as_str()), "the selection is kept");
    assert_eq!((a.screen, v.pane), (Screen::Versions, Pane::Endpoints));
}

#[test]
fn keys_act_only_on_the_versions_view_and_it_needs_a_second_side() {
    let mut a = app();
    key(&mut a, '1');
    assert_eq!(a.screen, Screen::Flows);
    let before = a.focus;
    key(&mut a, 's');
    assert_eq!(a.focus, before);
    key(&mut a, '6');
    assert_eq!(a.screen, Screen::Versions);
    let mut plain = App::new(Options::default());
    key(&mut plain, '6');
    assert_eq!(plain.screen, Screen::Flows);
    assert!(plain.message.as_ref().is_some_and(|m| m.0.contains("--against")));
}

#[test]
fn captured_control_characters_never_reach_the_versions_view() {
    let n = app().versions.and_then(|v| v.data).map_or(0, |d| d.comparison.endpoints.len());
    assert!(n >= 6);
    for (setup, focus) in [0, 1, 2, 3].into_iter().flat_map(|s| (0..n).map(move |f| (s, f))) {
        let mut a = app();
        for _ in 0..focus {
            key(&mut a, 'j');
        }
        match setup {
            1 => code(&mut a, KeyCode::Enter),
            2 => key(&mut a, 'l'),
            3 => {
                key(&mut a, 'l');
                key(&mut a, 'l');
                key(&mut a, 'l');
            }
            _ => {}
        }
        let s = text(&screen(&mut a, 160, 48));
        assert!(!s.contains('\x1b') && !s.contains('\x07'), "raw control characters on screen:\n{s}");
    }
}

#[test]
fn the_tui_takes_against_with_the_flags_of_compare() {
    use clap::Parser as _;
    let cli = apiscope::cli::Cli::try_parse_from([
        "apiscope",
        "a.pcap",
        "--min-calls",
        "50",
        "--alpha",
        "0.05",
        "--against",
        "b1.pcap",
        "b2.har",
    ])
    .expect("parses");
    assert_eq!(cli.tui.files, vec![PathBuf::from("a.pcap")]);
    assert_eq!(cli.tui.against, vec![PathBuf::from("b1.pcap"), PathBuf::from("b2.har")]);
    assert_eq!(cli.tui.verdict.options().min_calls, 50);
    assert!((cli.tui.verdict.options().alpha - 0.05).abs() < 1e-12);
    let demo = apiscope::cli::Cli::try_parse_from(["apiscope", "demo", "--against", "b.pcap"]).expect("demo parses");
    assert!(
        matches!(demo.command, Some(apiscope::cli::Command::Demo(d)) if d.against == vec![PathBuf::from("b.pcap")])
    );
}
