//! Integration tests: tui. Views rendered headless (ratatui `TestBackend`) at 80×24 and
//! 160×48 and compared with insta snapshots; keys driven through the real keymap; hostile
//! captured text checked on the rendered screen.

use std::sync::Arc;

use apiscope::model::{Addr, Body, Diagnostic, Exchange, Provenance, Request, Response, Severity, State, Timing};
use apiscope::tui::app::{App, Options};
use apiscope::tui::theme::Theme;
use apiscope::tui::views;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::{screen, text};

const T0: i64 = 1_700_000_000_000_000_000;

fn exchange(i: i64, method: &str, target: &str, status: Option<u16>, ctype: &str, body: &[u8], ms: i64) -> Exchange {
    let start = T0 + i * 137_000_000;
    let mut req = Request {
        method: method.into(),
        scheme: Some("https".into()),
        host: Some("api.trading.test".into()),
        target: target.into(),
        version: "HTTP/1.1".into(),
        ..Request::default()
    };
    req.headers.push("Host", "api.trading.test");
    req.headers.push("User-Agent", if i % 2 == 0 { "TradeBot/2.1" } else { "MobileApp/5.0 (iOS)" });
    req.headers.push("Authorization", format!("Bearer tok-{}", i % 3));
    req.headers.push("Accept", "application/json");
    let mut e = Exchange {
        seq: i as u64,
        request: req,
        timing: Timing {
            request_start: Some(start),
            request_end: Some(start + 200_000),
            response_start: Some(start + ms * 700_000),
            response_end: Some(start + ms * 1_000_000),
        },
        client: Some(Addr::new(format!("198.18.0.{}", 10 + i % 3).parse().unwrap(), 40000 + i as u16)),
        server: Some(Addr::new("198.18.1.1".parse().unwrap(), 443)),
        provenance: Provenance { file: Arc::from("fixture.har"), entry: Some(i as u64), ..Provenance::default() },
        ..Exchange::default()
    };
    match status {
        Some(s) => {
            let mut r = Response {
                status: s,
                reason: match s {
                    200 => "OK",
                    201 => "Created",
                    304 => "Not Modified",
                    404 => "Not Found",
                    500 => "Internal Server Error",
                    _ => "",
                }
                .into(),
                version: "HTTP/1.1".into(),
                body: Body::from_bytes(body.to_vec()),
                ..Response::default()
            };
            r.headers.push("Date", format!("Tue, 14 Nov 2023 22:13:{:02} GMT", 20 + i));
            r.headers.push("X-Request-Id", format!("req-{i:04}"));
            if !ctype.is_empty() {
                r.headers.push("Content-Type", ctype);
            }
            r.headers.push("Content-Length", body.len().to_string());
            e.response = Some(r);
        }
        None => {
            e.state = State::NoResponse("connection reset by peer".into());
            e.timing.response_start = None;
            e.timing.response_end = None;
        }
    }
    e
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v
}

/// The fixture flows every snapshot uses.
pub fn flows() -> Vec<Exchange> {
    let mut v = vec![
        exchange(
            0,
            "GET",
            "/v1/quotes/ACME",
            Some(200),
            "application/json",
            br#"{"symbol":"ACME","bid":101.25,"ask":101.5,"ts":1700000000,"halted":false,"venue":null}"#,
            12,
        ),
        exchange(
            1,
            "GET",
            "/v1/quotes?symbols=ACME,INIT",
            Some(200),
            "application/json; charset=utf-8",
            br#"[{"symbol":"ACME","bid":101.25},{"symbol":"INIT","bid":7.5}]"#,
            35,
        ),
        exchange(3, "GET", "/v1/orders/ord-0042", Some(404), "text/plain", b"order not found\n", 4),
        exchange(
            4,
            "DELETE",
            "/v1/orders/ord-0007",
            Some(500),
            "text/html",
            b"<html><body><h1>500</h1>upstream timeout</body></html>",
            2500,
        ),
        exchange(5, "GET", "/v1/portfolio", None, "", b"", 0),
        exchange(6, "GET", "/static/logo.png", Some(200), "image/png", &png(640, 480), 8),
        exchange(
            7,
            "GET",
            "/v1/marketdata/blob",
            Some(200),
            "application/octet-stream",
            &[0, 1, 2, 0xfe, 0xff, 0x10, 0x80, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 200],
            21,
        ),
        exchange(8, "HEAD", "/v1/instruments?page=2&limit=50", Some(304), "", b"", 3),
        exchange(9, "TEST_METHOD", "/healthz", Some(419), "text/plain", b"weird", 1),
    ];
    let mut post = exchange(
        2,
        "POST",
        "/v1/orders",
        Some(201),
        "application/json",
        br#"{"id":"ord-0042","status":"accepted"}"#,
        48,
    );
    post.request.headers.push("Content-Type", "application/json");
    post.request.body = Body::from_bytes(br#"{"symbol":"ACME","side":"buy","qty":100,"limit":101.5}"#.to_vec());
    v.insert(2, post);
    let mut evil = exchange(
        10,
        "GET",
        "/v1/evil\x1b[2J\x1b]0;pwned\x07",
        Some(200),
        "text/plain",
        "line one\n\x1b[31mred\x1b[0m and \u{9b}2J csi\n\x1b]8;;http://x\x07link\x1b]8;;\x07\n".as_bytes(),
        5,
    );
    evil.request.headers.push("X-Evil", "a\x1b[1;1Hb\x1b]52;c;Zm9v\x07c");
    evil.diagnostics.push(
        Diagnostic::new(Severity::Warning, "http.header_folding", "obsolete line folding in X-Evil").at("byte 1234"),
    );
    v.push(evil);
    v
}

fn app_with(flows: Vec<Exchange>) -> App {
    let mut a = App::new(Options {
        sources: vec!["fixture.har".into()],
        spec: Some("trading-api.openapi.yaml".into()),
        theme: Theme::new(true),
        export_dir: std::env::temp_dir(),
        ..Options::default()
    });
    a.load_all(flows);
    a
}

fn app() -> App {
    app_with(flows())
}

fn key(a: &mut App, c: char) {
    a.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
}

fn code(a: &mut App, c: KeyCode) {
    a.on_key(&KeyEvent::new(c, KeyModifiers::NONE));
}

fn typed(a: &mut App, s: &str) {
    for c in s.chars() {
        key(a, c);
    }
}

/// Snapshot the app at 80×24 and 160×48.
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
fn flows_table_snapshots() {
    snap("flows", |_| {});
}

#[test]
fn flows_sorted_by_duration_reversed() {
    snap("flows_by_duration", |a| {
        key(a, 'C');
        for _ in 0..10 {
            key(a, 'j');
        }
        key(a, 'o');
        code(a, KeyCode::Esc);
        key(a, 'v');
    });
}

#[test]
fn detail_tabs_snapshots() {
    for (i, tab) in ["request", "response", "timing", "raw", "diagnostics"].iter().enumerate() {
        snap(&format!("detail_post_{tab}"), |a| {
            key(a, 'j');
            key(a, 'j');
            code(a, KeyCode::Enter);
            for _ in 0..i {
                code(a, KeyCode::Tab);
            }
        });
    }
}

#[test]
fn detail_bodies_snapshots() {
    // image, binary, html error, no response
    for (name, pos) in [("image", 6usize), ("binary", 7), ("error_html", 4), ("no_response", 5)] {
        snap(&format!("detail_{name}"), |a| {
            for _ in 0..pos {
                key(a, 'j');
            }
            code(a, KeyCode::Enter);
            code(a, KeyCode::Tab);
        });
    }
}

#[test]
fn popups_snapshots() {
    snap("help", |a| key(a, '?'));
    snap("columns", |a| key(a, 'C'));
    snap("export_dialog", |a| {
        key(a, 'm');
        key(a, 'x');
    });
}

#[test]
fn search_highlights_snapshots() {
    snap("search_flows", |a| {
        key(a, '/');
        typed(a, "ord-0042");
        code(a, KeyCode::Enter);
    });
    snap("search_detail", |a| {
        key(a, '/');
        typed(a, "accepted");
        code(a, KeyCode::Enter);
        code(a, KeyCode::Enter);
    });
}

#[test]
fn diff_snapshots() {
    let setup = |a: &mut App| {
        key(a, 'm');
        key(a, 'j');
        key(a, 'm');
        key(a, '=');
    };
    snap("diff_side_by_side", setup);
    snap("diff_unified", |a| {
        setup(a);
        key(a, 'u');
    });
}

#[test]
fn marks_comments_and_loading_snapshots() {
    snap("marked_commented", |a| {
        key(a, 'm');
        key(a, 'j');
        key(a, ';');
        typed(a, "slow on Mondays");
        code(a, KeyCode::Enter);
        key(a, 'j');
        key(a, 'j');
        key(a, 'm');
    });
    snap("loading", |a| {
        a.on_load(apiscope::tui::load::LoadMsg::Progress { file: 0, bytes: 12_345_678, total: Some(40_000_000) });
    });
    snap("comment_prompt", |a| {
        key(a, ';');
        typed(a, "note");
    });
}

#[test]
fn empty_and_no_match_states() {
    let mut a = app_with(Vec::new());
    let t = screen(&mut a, 80, 24);
    assert!(text(&t).contains("0 flows: no HTTP exchange was found in the input"), "{}", text(&t));
    let mut a = app();
    key(&mut a, 'M');
    let t = screen(&mut a, 80, 24);
    assert!(text(&t).contains("no flow matches"), "{}", text(&t));
}

#[test]
fn escape_sequences_never_reach_the_screen() {
    let mut a = app();
    key(&mut a, 'G');
    let check = |t: &Terminal<TestBackend>, what: &str| {
        let s = text(t);
        assert!(
            !s.contains('\x1b') && !s.contains('\u{9b}') && !s.contains('\x07'),
            "{what}: raw control char on screen:\n{s}"
        );
        s
    };
    let s = check(&screen(&mut a, 160, 48), "table");
    assert!(s.contains("/v1/evil\\x1b[2J\\x1b]0;pwned\\x07"), "{s}");
    code(&mut a, KeyCode::Enter);
    let s = check(&screen(&mut a, 160, 48), "request");
    assert!(s.contains("X-Evil: a\\x1b[1;1Hb\\x1b]52;c;Zm9v\\x07c"), "{s}");
    code(&mut a, KeyCode::Tab);
    let s = check(&screen(&mut a, 160, 48), "response");
    assert!(s.contains("\\x1b[31mred\\x1b[0m and \\x9b2J csi"), "{s}");
    assert!(s.contains("\\x1b]8;;http://x\\x07link"), "{s}");
    code(&mut a, KeyCode::Tab);
    code(&mut a, KeyCode::Tab);
    check(&screen(&mut a, 160, 48), "raw");
    code(&mut a, KeyCode::Tab);
    let s = check(&screen(&mut a, 160, 48), "diagnostics");
    assert!(s.contains("http.header_folding"), "{s}");
    // every cell symbol is printable
    let t = screen(&mut a, 80, 24);
    for c in t.backend().buffer().content() {
        assert!(c.symbol().chars().all(|ch| !ch.is_control()), "control char in cell {:?}", c.symbol());
    }
}

#[test]
fn mouse_click_focuses_and_opens_and_wheel_scrolls() {
    use apiscope::tui::action::Pointer;
    let mut a = app();
    a.resize(80, 24);
    // title row 0, header row 1, first flow row 2
    a.pointer(Pointer::Click(10, 5));
    assert_eq!(a.focus, 3);
    a.pointer(Pointer::Click(10, 5));
    assert!(a.detail.is_some(), "second click opens");
    a.pointer(Pointer::Click(12, 2));
    assert_eq!(a.detail.as_ref().unwrap().tab, apiscope::tui::app::Tab::Response, "click on the tab bar");
    key(&mut a, 'q');
    a.pointer(Pointer::WheelDown(0, 10));
    assert_eq!(a.focus, 6);
    a.pointer(Pointer::WheelUp(0, 10));
    assert_eq!(a.focus, 3);
}

#[test]
fn huge_bodies_are_paged_and_render_fast() {
    let mut big = flows();
    let mut json = String::from("[");
    for i in 0..100_000 {
        json.push_str(&format!("{{\"i\":{i},\"name\":\"item {i}\"}},"));
    }
    json.push_str("{}]");
    big[0].response.as_mut().unwrap().body = Body::from_bytes(json.into_bytes());
    let mut a = app_with(big);
    code(&mut a, KeyCode::Enter);
    code(&mut a, KeyCode::Tab);
    let d = a.detail.as_ref().unwrap();
    assert!(d.doc.len() > 300_000, "pretty-printed into {} lines", d.doc.len());
    key(&mut a, 'G');
    a.resize(80, 24);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let t = std::time::Instant::now();
    term.draw(|f| views::render(&a, f)).unwrap();
    let s = text(&term);
    assert!(t.elapsed() < std::time::Duration::from_millis(500), "a frame took {:?}", t.elapsed());
    assert!(s.contains("]"), "{s}");
}

#[test]
fn no_color_keeps_distinctions_without_colour() {
    let mut a = App::new(Options { theme: Theme::new(false), ..Options::default() });
    a.load_all(flows());
    let t = screen(&mut a, 80, 24);
    for c in t.backend().buffer().content() {
        assert_eq!(c.fg, ratatui::style::Color::Reset, "no colour with NO_COLOR");
        assert_eq!(c.bg, ratatui::style::Color::Reset);
    }
    let focus_row: Vec<_> = (0..80).map(|x| t.backend().buffer()[(x, 2)].modifier).collect();
    assert!(focus_row.iter().all(|m| m.contains(ratatui::style::Modifier::REVERSED)), "focus shown by reverse video");
}

#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let mut a = app();
    for (w, h) in [(1, 1), (10, 3), (20, 5), (80, 24), (40, 10), (200, 60)] {
        screen(&mut a, w, h);
        code(&mut a, KeyCode::Enter);
        screen(&mut a, w, h);
        key(&mut a, '?');
        screen(&mut a, w, h);
        key(&mut a, 'q');
        key(&mut a, 'q');
    }
}

fn har_app() -> App {
    let mut sink = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&crate::support::fixture("tui-small.har"), &Default::default(), &mut sink).unwrap();
    app_with(sink.exchanges)
}

#[test]
fn har_fixture_snapshots() {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut a = har_app();
        assert_eq!(a.store.len(), 40);
        let t = screen(&mut a, w, h);
        insta::assert_snapshot!(format!("har_flows_{w}x{h}"), t.backend());
        key(&mut a, 'j');
        key(&mut a, 'j');
        code(&mut a, KeyCode::Enter);
        code(&mut a, KeyCode::Tab);
        let t = screen(&mut a, w, h);
        insta::assert_snapshot!(format!("har_detail_response_{w}x{h}"), t.backend());
    }
}

#[test]
fn filter_bar_snapshots_live_error_and_applied() {
    snap("filter_error", |a| {
        key(a, 'f');
        typed(a, "~c 5xx & ~zz");
    });
    snap("filter_applied", |a| {
        key(a, 'f');
        typed(a, "~c >=400 | ~q");
        code(a, KeyCode::Enter);
        // the message carries a measured time: keep the snapshot deterministic
        if let Some((m, _)) = a.message.as_mut() {
            if let Some(i) = m.find(" (") {
                m.truncate(i);
                m.push_str(" (N ms)");
            }
        }
    });
}

#[test]
fn filter_history_marks_and_comments_in_filters() {
    let mut a = app();
    key(&mut a, 'f');
    typed(&mut a, "~m POST");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len(), 1);
    key(&mut a, 'f');
    code(&mut a, KeyCode::Backspace);
    for _ in 0..10 {
        code(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "~c 404");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len(), 1);
    key(&mut a, 'f');
    code(&mut a, KeyCode::Up);
    assert_eq!(a.prompt.as_ref().unwrap().input.value(), "~c 404");
    code(&mut a, KeyCode::Up);
    assert_eq!(a.prompt.as_ref().unwrap().input.value(), "~m POST");
    code(&mut a, KeyCode::Esc);
    key(&mut a, 'F');
    assert_eq!(a.store.view().len(), 11);
    key(&mut a, 'm');
    key(&mut a, 'j');
    key(&mut a, ';');
    typed(&mut a, "look here");
    code(&mut a, KeyCode::Enter);
    key(&mut a, 'f');
    typed(&mut a, "~marked | ~comment look");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len(), 2);
    // a bad filter keeps the old one and says why
    key(&mut a, 'f');
    typed(&mut a, " & (");
    assert!(a.filter_error.is_some());
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len(), 2);
    assert_eq!(a.filter_text, "~marked | ~comment look");
}

#[test]
fn loader_streams_a_file_on_a_worker_thread() {
    let loader =
        apiscope::tui::load::spawn(vec![crate::support::fixture("tui-small.har")], Default::default()).unwrap();
    let mut a = app_with(Vec::new());
    let mut finished = false;
    while let Ok(m) = loader.rx.recv_timeout(std::time::Duration::from_secs(20)) {
        finished |= matches!(m, apiscope::tui::load::LoadMsg::Finished { stopped: false });
        a.on_load(m);
        if finished {
            break;
        }
    }
    assert!(finished);
    assert_eq!(a.store.len(), 40);
    assert!(!a.load.active);
    assert!(a.message.as_ref().unwrap().0.starts_with("loaded 40 flows"), "{:?}", a.message);
    loader.shutdown();
}

#[test]
fn loader_reports_unreadable_inputs() {
    let dir = crate::support::tempdir();
    let bad = dir.path().join("garbage.bin");
    std::fs::write(&bad, b"this is not a capture").unwrap();
    let loader = apiscope::tui::load::spawn(vec![bad], Default::default()).unwrap();
    let mut a = app_with(Vec::new());
    while let Ok(m) = loader.rx.recv_timeout(std::time::Duration::from_secs(20)) {
        let end = matches!(m, apiscope::tui::load::LoadMsg::Finished { .. });
        a.on_load(m);
        if end {
            break;
        }
    }
    assert_eq!(a.load.errors.len(), 1);
    assert_eq!(a.message.as_ref().unwrap().1, apiscope::tui::app::Level::Error);
}

#[test]
fn an_export_runs_in_the_background_and_esc_cancels_it_without_a_file() {
    let dir = crate::support::tempdir();
    let mut a = App::new(Options { export_dir: dir.path().to_path_buf(), ..Options::default() });
    let many: Vec<_> = flows().into_iter().cycle().take(200_000).collect();
    a.load_all(many);
    key(&mut a, 'x');
    key(&mut a, 's');
    key(&mut a, 's');
    code(&mut a, KeyCode::Enter);
    assert!(a.export_job.is_some(), "the export runs on its own thread");
    a.tick();
    assert!(a.message.as_ref().unwrap().0.starts_with("exporting 200000 flow(s) as curl… "), "{:?}", a.message);
    code(&mut a, KeyCode::Esc);
    assert!(!a.quit, "esc cancels the export, nothing else");
    assert!(a.wait_export(std::time::Duration::from_secs(60)));
    let msg = a.message.clone().unwrap();
    assert!(msg.0.starts_with("export cancelled"), "{msg:?}");
    assert!(!dir.path().join("apiscope-export-1.sh").exists(), "the partial file is removed");
}

#[test]
fn export_writes_curl_har_and_postman_files_redacted() {
    let dir = crate::support::tempdir();
    let mut a = App::new(Options { export_dir: dir.path().to_path_buf(), ..Options::default() });
    a.load_all(flows());
    key(&mut a, 'j');
    key(&mut a, 'j');
    key(&mut a, 'x');
    code(&mut a, KeyCode::Enter);
    assert!(a.wait_export(std::time::Duration::from_secs(20)));
    let msg = a.message.clone().unwrap().0;
    assert!(msg.starts_with("exported 1 flow(s) as curl to "), "{msg}");
    let curl = std::fs::read_to_string(dir.path().join("apiscope-export-1.sh")).unwrap();
    assert!(curl.contains("curl ") && curl.contains("/v1/orders"), "{curl}");
    assert!(!curl.contains("tok-2"), "bearer token redacted: {curl}");
    // every shown flow as HAR, not redacted
    key(&mut a, 'x');
    for _ in 0..3 {
        key(&mut a, 'j');
    }
    key(&mut a, 's');
    key(&mut a, 's');
    key(&mut a, 'r');
    code(&mut a, KeyCode::Enter);
    assert!(a.wait_export(std::time::Duration::from_secs(20)));
    let msg = a.message.clone().unwrap().0;
    assert!(msg.contains("11 flow(s) as HAR 1.2") && msg.contains("NOT redacted"), "{msg}");
    let har: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("apiscope-export-2.har")).unwrap()).unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 11);
    // marked flows as a Postman collection
    key(&mut a, 'm');
    key(&mut a, 'x');
    for _ in 0..4 {
        key(&mut a, 'j');
    }
    code(&mut a, KeyCode::Enter);
    assert!(a.wait_export(std::time::Duration::from_secs(20)));
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("apiscope-export-3.postman_collection.json")).unwrap())
            .unwrap();
    assert_eq!(p["item"].as_array().unwrap().len(), 1);
}

/// The scripted real-terminal run (scripts/tmux_e2e.sh) on the demo; ignored when tmux or
/// python3 is not installed.
#[test]
#[cfg_attr(not(all(has_tmux, has_python3)), ignore = "needs tmux and python3 (apt install tmux)")]
fn tmux_end_to_end_on_the_demo() {
    crate::support::need_tool("tmux");
    crate::support::need_tool("python3");
    let out = std::process::Command::new("bash")
        .arg(crate::support::root().join("scripts/tmux_e2e.sh"))
        .arg(env!("CARGO_BIN_EXE_apiscope"))
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(log.contains("tmux_e2e: PASS"), "{log}");
}

/// Going back and keeping the user's work in a real terminal (scripts/tmux_nav_e2e.sh), at
/// 160x48 and 80x24: Gaps → flows → flow → back → back keeps the Gaps selection; a mark
/// makes quitting ask first and survives a restart; esc after a filter error does not quit.
#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt install tmux)")]
fn tmux_back_stack_quit_question_and_kept_marks() {
    crate::support::need_tool("tmux");
    for size in ["160x48", "80x24"] {
        let out = std::process::Command::new("bash")
            .arg(crate::support::root().join("scripts/tmux_nav_e2e.sh"))
            .arg(env!("CARGO_BIN_EXE_apiscope"))
            .arg(size)
            .output()
            .unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{log}");
        assert!(log.contains(&format!("tmux_nav_e2e ({size}): PASS")), "{log}");
    }
}

#[test]
fn without_a_terminal_the_tui_exits_2_and_points_to_reports() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .arg(crate::support::fixture("tui-small.har"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal") && err.contains("apiscope flows"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apiscope demo"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope")).arg("/no/such/file.pcap").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

#[test]
fn quitting_while_loading_stops_the_reader() {
    // a HAR big enough that the reader is still busy when the UI quits
    let dir = crate::support::tempdir();
    let big = dir.path().join("big.har");
    let src = std::fs::read_to_string(crate::support::fixture("tui-small.har")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&src).unwrap();
    let entries = v["log"]["entries"].as_array().unwrap();
    let many: Vec<serde_json::Value> = entries.iter().cycle().take(5_000).cloned().collect();
    let mut doc = v.clone();
    doc["log"]["entries"] = serde_json::Value::Array(many);
    std::fs::write(&big, serde_json::to_vec(&doc).unwrap()).unwrap();
    let loader = apiscope::tui::load::spawn(vec![big], Default::default()).unwrap();
    let mut a = app_with(Vec::new());
    // take the first batch, then quit
    let first = loader.rx.recv_timeout(std::time::Duration::from_secs(60)).unwrap();
    a.on_load(first);
    key(&mut a, 'q');
    assert!(a.quit);
    loader.stop();
    let mut stopped = None;
    while let Ok(m) = loader.rx.recv_timeout(std::time::Duration::from_secs(60)) {
        if let apiscope::tui::load::LoadMsg::Finished { stopped: s } = m {
            stopped = Some(s);
            break;
        }
    }
    assert_eq!(stopped, Some(true), "the reader saw the stop flag");
    loader.shutdown();
}

#[test]
fn endpoint_filter_uses_the_spec() {
    let spec = apiscope::spec::Spec::load(&crate::support::fixture("gaps/gaps.openapi.yaml")).unwrap();
    let mut sink = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&crate::support::fixture("gaps/conforming.har"), &Default::default(), &mut sink)
        .unwrap();
    let expected =
        sink.exchanges.iter().filter(|e| spec.operation_name(e).as_deref() == Some("GET /users/{id}")).count();
    assert!(expected > 0);
    let mut a = App::new(Options { api: Some(std::sync::Arc::new(spec)), ..Options::default() });
    a.load_all(sink.exchanges);
    key(&mut a, 'f');
    typed(&mut a, "~ep \"GET /users/{id}\"");
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len(), expected, "{:?}", a.message);
}

/// The same input twice: one app holding every exchange in memory, one holding rows and
/// locators only (the TUI's mode for files), plus the exchanges as read.
fn lazy_and_held(input: &str) -> (App, App, Vec<Exchange>) {
    let path = crate::support::fixture(input);
    let mut c = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&path, &Default::default(), &mut c).unwrap();
    let opts = || Options { theme: Theme::new(false), ..Options::default() };
    let mut held = App::new(opts());
    held.load_all(c.exchanges.clone());
    let mut lazy = App::new(opts());
    lazy.store.set_lazy(Default::default());
    lazy.load_all(c.exchanges.clone());
    (lazy, held, c.exchanges)
}

/// Tick until the background passes are over.
fn settle_scans(a: &mut App) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    a.tick();
    while a.scans.busy() || a.store.undecided() {
        assert!(std::time::Instant::now() < end, "background pass did not finish");
        std::thread::sleep(std::time::Duration::from_millis(2));
        a.tick();
    }
}

const LAZY_INPUTS: [&str; 3] = ["tui-small.har", "samples/zeek-http-pipelined-requests.pcap", "capture-mixed.pcapng"];

#[test]
fn lazy_store_keeps_rows_and_locators_and_rereads_every_flow_exactly() {
    for input in LAZY_INPUTS {
        let (lazy, _, read) = lazy_and_held(input);
        let n = lazy.store.len();
        assert_eq!(n, read.len(), "{input}");
        assert!(n > 0);
        assert_eq!(lazy.store.exchange_bytes(), 0, "{input}: no full exchange held after loading");
        for (id, ex) in read.iter().enumerate() {
            let id = u32::try_from(id).unwrap();
            assert!(lazy.store.is_lazy(id), "{input} flow {id}");
            let back = lazy.store.exchange(id).unwrap();
            assert_eq!(format!("{back:?}"), format!("{ex:?}"), "{input} flow {id}");
        }
        assert!(lazy.store.rereads() >= n as u64);
    }
    // Per flow: a 64-byte row, a 24-byte locator slot, a scheme byte and a view slot.
    let (lazy, _, _) = lazy_and_held("tui-small.har");
    let per_flow = lazy.store.index_bytes() / lazy.store.len();
    assert!(per_flow <= 400, "{per_flow} bytes per flow on 40 flows (string table included)");
}

#[test]
fn row_filters_are_answered_from_rows_and_match_full_exchanges() {
    for input in LAZY_INPUTS {
        let (mut lazy, mut held, _) = lazy_and_held(input);
        for expr in [
            "~c 2xx",
            "~m GET",
            "~u orders",
            "~d api",
            "~dur >10ms",
            "~q",
            "~e",
            "!~s",
            "~size >100",
            "~ttfb <5ms | ~c 404",
        ] {
            lazy.apply_filter(expr);
            held.apply_filter(expr);
            assert!(!lazy.store.undecided(), "{input}: {expr} needs no pass");
            assert!(!lazy.scans.busy());
            assert_eq!(lazy.store.view(), held.store.view(), "{input}: {expr}");
        }
        assert_eq!(lazy.store.rereads(), 0, "{input}: row filters never re-read");
    }
}

#[test]
fn header_and_body_filters_run_as_a_background_pass_with_the_same_result() {
    for input in LAZY_INPUTS {
        let (mut lazy, mut held, _) = lazy_and_held(input);
        for expr in ["~h \"user-agent\"", "~b e", "~hq accept & ~c 200", "~t json", "!~bs e", "~src 10.0.0.0/8"] {
            held.apply_filter(expr);
            lazy.apply_filter(expr);
            assert!(lazy.store.undecided() || lazy.scans.busy() || lazy.store.view() == held.store.view());
            settle_scans(&mut lazy);
            assert_eq!(lazy.store.view(), held.store.view(), "{input}: {expr}");
        }
        // a second filter replaces (cancels) the first pass
        lazy.apply_filter("~b a");
        lazy.apply_filter("~h host");
        held.apply_filter("~h host");
        settle_scans(&mut lazy);
        assert_eq!(lazy.store.view(), held.store.view(), "{input}: replaced pass");
        // marking a flow while a header filter is on keeps the result exact
        key(&mut lazy, 'M');
        key(&mut held, 'M');
        settle_scans(&mut lazy);
        assert_eq!(lazy.store.view(), held.store.view(), "{input}: marked only");
    }
}

#[test]
fn search_runs_as_a_background_pass_and_n_steps_through_the_hits() {
    let (mut lazy, held, _) = lazy_and_held("tui-small.har");
    let s = apiscope::store::search::Search::new("application/json").unwrap();
    let expected: std::collections::HashSet<u32> =
        held.store.view().iter().copied().filter(|id| s.matches_flow(&held.store, *id)).collect();
    assert!(!expected.is_empty());
    key(&mut lazy, '/');
    typed(&mut lazy, "application/json");
    code(&mut lazy, KeyCode::Enter);
    settle_scans(&mut lazy);
    assert_eq!(lazy.scans.hits, expected);
    let first = lazy.focused().unwrap();
    assert!(expected.contains(&first), "focus jumped to a hit");
    key(&mut lazy, 'n');
    assert!(expected.contains(&lazy.focused().unwrap()));
    // a text nowhere says so once the pass is over
    key(&mut lazy, '/');
    typed(&mut lazy, "no such text anywhere at all");
    code(&mut lazy, KeyCode::Enter);
    settle_scans(&mut lazy);
    assert!(lazy.scans.hits.is_empty());
    assert!(lazy.message.as_ref().unwrap().0.contains("no flow contains"), "{:?}", lazy.message);
}

#[test]
fn detail_export_and_insight_work_on_flows_held_in_their_file() {
    let dir = crate::support::tempdir();
    let (mut lazy, mut held, _) = lazy_and_held("tui-small.har");
    for a in [&mut lazy, &mut held] {
        a.export_dir = dir.path().to_path_buf();
    }
    // the detail view of the last flow renders the same screen
    for a in [&mut lazy, &mut held] {
        key(a, 'G');
        code(a, KeyCode::Enter);
        code(a, KeyCode::Tab);
    }
    let (sl, sh) = (text(&screen(&mut lazy, 160, 48)), text(&screen(&mut held, 160, 48)));
    assert_eq!(sl, sh);
    for a in [&mut lazy, &mut held] {
        code(a, KeyCode::Esc);
        // every shown flow as curl
        key(a, 'x');
        key(a, 's');
        key(a, 's');
        code(a, KeyCode::Enter);
        assert!(a.wait_export(std::time::Duration::from_secs(20)));
    }
    let files: Vec<String> = (1..=2)
        .map(|i| std::fs::read_to_string(dir.path().join(format!("apiscope-export-{i}.sh"))).unwrap_or_default())
        .collect();
    assert!(files[0].matches("curl ").count() >= 40, "{}", files[0]);
    assert_eq!(files[0], files[1], "export of lazily held flows equals the in-memory one");
    // the endpoints view computes over the flows read again in one pass
    for a in [&mut lazy, &mut held] {
        key(a, '3');
        a.tick();
        assert!(a.insight.wait(std::time::Duration::from_secs(60)));
        a.tick();
    }
    let (il, ih) = (text(&screen(&mut lazy, 160, 48)), text(&screen(&mut held, 160, 48)));
    let re = regex::Regex::new(r"computed in [ \d]+ ms").unwrap();
    assert_eq!(re.replace_all(&il, ""), re.replace_all(&ih, ""));
}

#[test]
fn file_diagnostics_are_listed_on_screen_with_their_location_and_escaped() {
    let mut a = app();
    a.on_load(apiscope::tui::load::LoadMsg::Diagnostic(
        Diagnostic::new(Severity::Warning, "tls.no_key", "TLS connection not decrypted: no key \x1b[31m")
            .at("connection 2"),
    ));
    a.on_load(apiscope::tui::load::LoadMsg::Finished { stopped: false });
    let t = text(&screen(&mut a, 120, 30));
    assert!(t.contains("1 file diagnostics (! lists them)"), "{t}");
    key(&mut a, '!');
    let t = text(&screen(&mut a, 120, 30));
    assert!(t.contains("file diagnostics: 1"), "{t}");
    assert!(t.contains("tls.no_key at connection 2"), "{t}");
    assert!(t.contains("no key \\x1b[31m"), "{t}");
    key(&mut a, 'q');
    let t = text(&screen(&mut a, 120, 30));
    assert!(!t.contains("file diagnostics: 1"), "q closes the list: {t}");
}

/// The flows of the loopback WebSocket-over-HTTP/2 capture, read in full.
fn stream_app() -> App {
    let mut c = apiscope::ingest::Collect::default();
    let p = crate::support::fixture("streams/ws-h2-loopback.pcap");
    apiscope::ingest::read_path(&p, &apiscope::ingest::ReadOptions::default(), &mut c).unwrap();
    app_with(c.exchanges)
}

#[test]
fn the_flow_list_shows_message_counts_of_streams() {
    let mut a = stream_app();
    let s = text(&screen(&mut a, 160, 48));
    assert!(s.contains("/v1/ws/prices ⇅ 12 msg"), "{s}");
    assert!(s.contains("/v1/ws/quotes ⇅ 6 msg"), "{s}");
    assert!(!s.contains("/v1/quotes/AAPL ⇅"), "a plain GET has no count: {s}");
    // Narrow: the path is cut, the count stays.
    let s = text(&screen(&mut a, 80, 24));
    assert!(s.contains("⇅ 12 msg"), "{s}");
}

#[test]
fn enter_on_the_messages_tab_opens_one_message_and_esc_goes_back() {
    let mut a = stream_app();
    a.resize(160, 48);
    code(&mut a, KeyCode::Enter);
    key(&mut a, 'h'); // Request → Messages (the last tab)
    let list = text(&screen(&mut a, 160, 48));
    assert!(list.contains("Messages(12)") && list.contains("#5 "), "{list}");
    code(&mut a, KeyCode::Enter);
    let one = text(&screen(&mut a, 160, 48));
    assert!(one.contains("message 1 of 12"), "{one}");
    assert!(one.contains("\"op\": \"subscribe\""), "JSON pretty-printed: {one}");
    assert!(!one.contains("#5 "), "only the one message: {one}");
    code(&mut a, KeyCode::Esc);
    let back = text(&screen(&mut a, 160, 48));
    assert!(back.contains("#5 ") && !back.contains("message 1 of 12"), "{back}");
    // The binary message, found by search, opens as a hex dump.
    key(&mut a, '/');
    typed(&mut a, "binary");
    code(&mut a, KeyCode::Enter);
    let hit = text(&screen(&mut a, 160, 48));
    assert!(hit.contains("“binary”: hit 1 of 1 message"), "{hit}");
    code(&mut a, KeyCode::Enter);
    let hex = text(&screen(&mut a, 160, 48));
    assert!(hex.contains("message 8 of 12"), "{hex}");
    assert!(hex.contains("00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f"), "{hex}");
    code(&mut a, KeyCode::Esc);
    code(&mut a, KeyCode::Esc);
    let flows = text(&screen(&mut a, 160, 48));
    assert!(flows.contains("⇅ 12 msg"), "back at the flow list: {flows}");
}

#[test]
fn search_in_the_messages_tab_counts_hits_by_message() {
    let mut a = stream_app();
    a.resize(160, 48);
    code(&mut a, KeyCode::Enter);
    key(&mut a, 'h');
    key(&mut a, '/');
    typed(&mut a, "AAPL");
    code(&mut a, KeyCode::Enter);
    let s = text(&screen(&mut a, 160, 48));
    // The subscribe message and the six price updates name AAPL.
    assert!(s.contains("“AAPL”: hit 1 of 7 messages"), "{s}");
    key(&mut a, 'n');
    let s = text(&screen(&mut a, 160, 48));
    assert!(s.contains("“AAPL”: hit 2 of 7 messages"), "{s}");
    // A word on several lines of one message counts that message once.
    key(&mut a, '/');
    typed(&mut a, "\"");
    code(&mut a, KeyCode::Enter);
    let s = text(&screen(&mut a, 160, 48));
    assert!(s.contains("hit 1 of 7 messages"), "{s}");
}

#[test]
fn the_endpoints_view_shows_feed_kpis_with_the_names_stats_uses() {
    let mut a = stream_app();
    a.resize(160, 48);
    key(&mut a, '3');
    a.tick();
    assert!(a.insight.wait(std::time::Duration::from_secs(60)));
    a.tick();
    let mut s = String::new();
    for _ in 0..3 {
        s = text(&screen(&mut a, 160, 48));
        if s.contains("stream feed (ms)") {
            break;
        }
        key(&mut a, 'j');
    }
    assert!(s.contains("stream feed (ms)"), "{s}");
    for name in apiscope::analysis::feed::FEED_COLUMNS {
        assert!(s.contains(name), "{name} missing: {s}");
    }
    assert!(s.contains("client close 1000 ×1") || s.contains("server close 1001 ×1"), "{s}");
    // The CLI's table has the same column names.
    let f = crate::support::fixture("streams/ws-h2-loopback.pcap");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["stats", f.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stdout);
    for name in apiscope::analysis::feed::FEED_COLUMNS {
        assert!(stats.contains(name), "{name} missing from stats: {stats}");
    }
}
