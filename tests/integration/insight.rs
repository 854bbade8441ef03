//! The insight views (issue 8): snapshots of each view on the demo capture at 80×24 and
//! 160×48, the gaps view against a spec, and drill-downs that show exactly the flows behind
//! a row.

use std::path::Path;
use std::time::Duration;

use apiscope::ingest::{Collect, ReadOptions, read_path};
use apiscope::tui::app::{App, Options, Screen};
use apiscope::tui::theme::Theme;
use apiscope::tui::views;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn fixture(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

fn app(input: &str, spec: Option<&str>) -> App {
    let mut c = Collect::default();
    read_path(&fixture(input), &ReadOptions::default(), &mut c).unwrap();
    let mut a = App::new(Options {
        theme: Theme::new(false),
        sources: vec![input.to_string()],
        spec: spec.map(str::to_string),
        spec_path: spec.map(fixture),
        ..Options::default()
    });
    a.load_all(c.exchanges);
    a.load.active = false;
    a
}

fn key(a: &mut App, c: char) {
    a.on_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    settle(a);
}

fn code(a: &mut App, k: KeyCode) {
    a.on_key(&KeyEvent::new(k, KeyModifiers::NONE));
    settle(a);
}

fn settle(a: &mut App) {
    a.tick();
    if a.insight.busy() {
        assert!(a.insight.wait(Duration::from_secs(60)), "recompute finished");
    }
}

fn snap(a: &mut App, name: &str) {
    // the compute time varies from run to run
    let re = regex::Regex::new(r"computed in [ \d]{6} ms").unwrap();
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        a.resize(w, h);
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| views::render(a, f)).unwrap();
        let text = format!("{:?}", t.backend());
        let text = re.replace_all(&text, "computed in      N ms").into_owned();
        insta::assert_snapshot!(format!("insight_{name}_{w}x{h}"), text);
    }
}

#[test]
fn every_insight_view_renders_on_the_demo_capture() {
    let mut a = app("demo.pcap.gz", None);
    key(&mut a, '2');
    assert_eq!(a.screen, Screen::Gaps);
    snap(&mut a, "gaps_without_spec");
    key(&mut a, '3');
    snap(&mut a, "endpoints");
    key(&mut a, '4');
    snap(&mut a, "clients");
    key(&mut a, 'J');
    assert!(a.insight.journey.is_some());
    snap(&mut a, "journey");
    code(&mut a, KeyCode::Esc);
    key(&mut a, '5');
    snap(&mut a, "structure");
}

#[test]
fn gaps_view_lists_findings_and_enter_shows_exactly_their_flows() {
    let mut a = app("gaps/violations.har", Some("gaps/gaps.openapi.yaml"));
    key(&mut a, '2');
    snap(&mut a, "gaps");
    let groups = a.insight.data.as_ref().unwrap().gaps.as_ref().unwrap().groups.clone();
    assert!(!groups.is_empty());
    for (i, g) in groups.iter().enumerate() {
        a.apply_filter("");
        key(&mut a, '2');
        a.insight.focus[1] = i;
        code(&mut a, KeyCode::Enter);
        assert_eq!(a.screen, Screen::Flows, "{i} {:?} {:?}", a.message, a.drill_filter());
        let mut shown: Vec<u32> = a.store.view().to_vec();
        shown.sort_unstable();
        let mut want = g.flows.clone();
        want.sort_unstable();
        assert_eq!(shown, want, "finding {} {} {}", g.kind.as_str(), g.endpoint, g.subject);
    }
}

#[test]
fn filtering_recomputes_endpoint_kpis_for_the_shown_flows() {
    let mut a = app("demo.pcap.gz", None);
    key(&mut a, '3');
    let all: u64 = a.insight.data.as_ref().unwrap().report.endpoints.iter().map(|e| e.kpis.requests).sum();
    assert_eq!(all as usize, a.store.len());
    a.apply_filter("~c 5xx");
    settle(&mut a);
    let d = a.insight.data.as_ref().unwrap();
    let n: u64 = d.report.endpoints.iter().map(|e| e.kpis.requests).sum();
    assert_eq!(n as usize, a.store.view().len());
    assert!(n < all);
    assert!(d.report.endpoints.iter().all(|e| e.kpis.errors_5xx == e.kpis.requests));
}

#[test]
fn endpoint_and_client_drilldowns_show_their_flows() {
    let mut a = app("demo.pcap.gz", None);
    key(&mut a, '3');
    let e = a.insight.data.as_ref().unwrap().report.endpoints.first().cloned().unwrap();
    code(&mut a, KeyCode::Enter);
    assert_eq!(a.store.view().len() as u64, e.kpis.requests, "{}", a.filter_text);
    a.apply_filter("");
    key(&mut a, '4');
    let c = a.focused_client().unwrap();
    let want = a.insight.data.as_ref().unwrap().report.clients.iter().find(|x| x.id == c).unwrap().kpis.requests;
    key(&mut a, 'h');
    assert_eq!(a.store.view().len() as u64, a.store.len() as u64 - want, "{}", a.filter_text);
}

#[test]
fn gaps_detail_says_the_finding_in_plain_words_with_the_rule_from_the_spec() {
    use apiscope::spec::check::FindingKind;
    let mut a = app("gaps/violations.har", Some("gaps/gaps.openapi.yaml"));
    key(&mut a, '2');
    let groups = a.insight.data.as_ref().unwrap().gaps.as_ref().unwrap().groups.clone();
    let mut shown = 0;
    for (kind, name, want) in [
        (FindingKind::ParameterSchemaViolation, "gaps_parameter", "\"maximum\": 100"),
        (FindingKind::ResponseStatusUndocumented, "gaps_status", "the documented statuses"),
    ] {
        let Some(i) = groups.iter().position(|g| g.kind == kind) else { continue };
        a.insight.focus[1] = i;
        snap(&mut a, name);
        a.resize(160, 48);
        let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
        t.draw(|f| views::render(&a, f)).unwrap();
        let text = format!("{:?}", t.backend());
        assert!(text.contains("why it matters: "), "{text}");
        assert!(text.contains(want), "{kind:?}: {want} not shown\n{text}");
        assert!(!text.contains("\"$ref\""), "references are resolved\n{text}");
        shown += 1;
    }
    assert_eq!(shown, 2, "the fixture has both kinds");
}

#[test]
fn stream_item_violations_show_in_the_gaps_view_with_the_message_index() {
    let dir = crate::support::tempdir();
    let (har, spec) = crate::streams::item_fixture(dir.path());
    let mut c = Collect::default();
    read_path(&har, &ReadOptions::default(), &mut c).unwrap();
    let mut a = App::new(Options {
        theme: Theme::new(false),
        sources: vec!["streams.har".into()],
        spec: Some("streams.openapi.yaml".into()),
        spec_path: Some(spec),
        ..Options::default()
    });
    a.load_all(c.exchanges);
    a.load.active = false;
    key(&mut a, '2');
    let mut seen = String::new();
    for _ in 0..6 {
        a.resize(160, 48);
        let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
        t.draw(|f| views::render(&a, f)).unwrap();
        let b = t.backend().buffer();
        let text: String = (0..b.area.height)
            .map(|y| (0..b.area.width).map(|x| b[(x, y)].symbol()).collect::<String>() + "\n")
            .collect();
        seen.push_str(&text);
        if text.contains("message #2: $.price") {
            return;
        }
        key(&mut a, 'j');
    }
    panic!("no message-indexed violation on the Gaps view:\n{seen}");
}
