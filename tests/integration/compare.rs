//! Integration tests: `compare`. Two generated captures from different seeds, one with a
//! planted regression of `GET /v1/portfolio` (3× slower, 5% 5xx), give `regressed` there and
//! `unchanged` everywhere else with enough calls; a capture against itself changes nothing;
//! a response-shape change planted in a HAR pair is reported with examples, and a
//! conforming pair reports none; the exit code follows `--fail-on`.

use std::path::{Path, PathBuf};
use std::process::Command;

use apiscope::analysis::Config;
use apiscope::analysis::compare::shape::ShapeChangeKind;
use apiscope::analysis::compare::{CompareOptions, Comparison, Verdict, compare};
use apiscope::cli::compare::read_sides;

use crate::support::{self, fixture};

fn run_compare(a: &Path, b: &Path) -> Comparison {
    let (sa, sb) = read_sides(&[a.to_path_buf()], &[b.to_path_buf()], &Config::default(), None).expect("read sides");
    compare(&sa, &sb, &CompareOptions::default(), usize::MAX)
}

fn generate(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let script = support::need_gen_dir().join("gen_pcap.py");
    let mut args: Vec<&str> = vec![script.to_str().unwrap(), "--bytes", "20M", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let st = Command::new("python3").args(&args).output().expect("python3");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    out
}

const PORTFOLIO: &str = "GET /v1/portfolio";

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn a_planted_regression_is_found_and_seed_noise_is_unchanged() {
    let dir = support::tempdir();
    let a = generate(dir.path(), "a.pcap", &["--seed", "5"]);
    let b = generate(dir.path(), "b.pcap", &["--seed", "6", "--regress", "portfolio:3:0.05"]);
    let c = run_compare(&a, &b);
    let min = CompareOptions::default().min_calls;
    let p = c.endpoints.iter().find(|e| e.endpoint == PORTFOLIO).expect("portfolio compared");
    assert_eq!(p.verdict, Verdict::Regressed);
    assert_eq!(p.latency.map(|t| t.verdict), Some(Verdict::Regressed), "latency: {:?}", p.latency);
    assert_eq!(p.error_rate.map(|t| t.verdict), Some(Verdict::Regressed), "errors: {:?}", p.error_rate);
    assert_eq!(p.availability.map(|t| t.verdict), Some(Verdict::Regressed), "availability: {:?}", p.availability);
    assert!(p.latency.and_then(|t| t.p).is_some_and(|p| p < 1e-6));
    // every other endpoint with enough calls on both sides: noise only
    let mut others = 0;
    for e in c.endpoints.iter().filter(|e| e.endpoint != PORTFOLIO) {
        let calls = |f: &Option<apiscope::analysis::compare::EndpointFigures>| f.as_ref().map_or(0, |f| f.requests);
        if calls(&e.a) >= min && calls(&e.b) >= min {
            assert_eq!(
                e.verdict,
                Verdict::Unchanged,
                "{}: {:?} {:?} {:?}",
                e.endpoint,
                e.latency,
                e.error_rate,
                e.availability
            );
            others += 1;
        }
    }
    assert!(others >= 9, "only {others} other endpoints had enough calls");
    assert_eq!(c.verdicts.regressed, 1);
    // regressions sort first
    assert_eq!(c.endpoints.first().map(|e| e.endpoint.as_str()), Some(PORTFOLIO));

    // the same file against itself: nothing changed at all
    let same = run_compare(&a, &a);
    assert_eq!(same.verdicts.regressed + same.verdicts.improved + same.verdicts.new + same.verdicts.gone, 0);
    assert!(same.endpoints.iter().all(|e| matches!(e.verdict, Verdict::Unchanged | Verdict::TooFewCalls)));
    assert!(same.endpoints.iter().filter_map(|e| e.latency).all(|t| t.delta == 0.0 && t.p.is_none_or(|p| p > 0.99)));
    assert_eq!(same.shapes, Vec::new());
    assert!(same.shapes_compared > 0);
    assert_eq!((same.clients.churned_total, same.clients.new_total), (0, 0));
    assert_eq!(same.clients.error_rate.len() + same.clients.latency.len() + same.clients.new_patterns.len(), 0);

    // the binary: exit 1 with --fail-on regression (0 by default: `fail_on_never_exits_zero`)
    let gate = Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args([
            "compare",
            a.to_str().unwrap(),
            "--against",
            b.to_str().unwrap(),
            "--fail-on",
            "regression",
            "--format",
            "json",
        ])
        .output()
        .expect("run apiscope");
    assert_eq!(gate.status.code(), Some(1), "{}", String::from_utf8_lossy(&gate.stderr));
    let json: serde_json::Value = serde_json::from_slice(&gate.stdout).expect("json");
    assert_eq!(json["verdicts"]["regressed"], 1);
    assert_eq!(json["endpoints"][0]["endpoint"], PORTFOLIO);
    assert_eq!(json["endpoints"][0]["verdict"], "regressed");
}

#[test]
fn fail_on_decides_the_exit_code() {
    let run = |extra: &[&str]| {
        let (a, b) = (fixture("compare/shape-a.har"), fixture("compare/shape-b.har"));
        let mut args = vec!["compare", a.to_str().unwrap(), "--against", b.to_str().unwrap()];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_apiscope")).args(&args).env("NO_COLOR", "1").output().expect("run apiscope")
    };
    // 12 calls per endpoint: too few for a verdict, so nothing regressed and both exit 0
    let text = run(&["--fail-on", "regression"]);
    assert_eq!(text.status.code(), Some(0), "{}", String::from_utf8_lossy(&text.stderr));
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("too few calls"), "{out}");
    assert!(out.contains("$.positions[].qty") && out.contains("number → string"), "{out}");
    // with a lower minimum, the same latencies on both sides stay unchanged
    assert_eq!(run(&["--min-calls", "5", "--fail-on", "regression"]).status.code(), Some(0));
    let missing = run(&["--against"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_planted_response_shape_change_is_reported_with_examples() {
    let c = run_compare(&fixture("compare/shape-a.har"), &fixture("compare/shape-b.har"));
    let got: Vec<(&str, &str, ShapeChangeKind)> =
        c.shapes.iter().map(|s| (s.endpoint.as_str(), s.path.as_str(), s.kind)).collect();
    assert_eq!(
        got,
        vec![
            (PORTFOLIO, "$.cash", ShapeChangeKind::Removed),
            (PORTFOLIO, "$.positions[].qty", ShapeChangeKind::TypeChanged),
            ("GET /v1/quotes", "$.exchange", ShapeChangeKind::NewEnumValue),
        ]
    );
    assert_eq!(c.shapes.len(), 3, "{:#?}", c.shapes);
    assert!(c.shapes.iter().all(|s| s.example_a.is_some() && s.example_b.is_some()));
    let retyped = c.shapes.iter().find(|s| s.kind == ShapeChangeKind::TypeChanged).map(|s| s.detail.as_str());
    assert_eq!(retyped, Some("number → string"));
    // the removed field's A example is the first portfolio answer (entry 0)
    let removed = c.shapes.iter().find(|s| s.kind == ShapeChangeKind::Removed);
    assert_eq!(removed.and_then(|s| s.example_a.as_ref()).and_then(|e| e.entry), Some(0));
}

#[test]
fn a_conforming_pair_reports_no_shape_change() {
    let c = run_compare(&fixture("compare/shape-a.har"), &fixture("compare/shape-b-same.har"));
    assert_eq!(c.shapes, Vec::new());
    assert_eq!(c.shapes_compared, 2);
}
