//! Integration tests: spec loading, routing and contract gaps (`apiscope diff`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apiscope::model::client::ClientKey;
use apiscope::model::{Body, Exchange, Request, Response, Severity, State};
use apiscope::spec::check::{CheckOptions, Checker, FindingKind};
use apiscope::spec::findings::{DiffAccumulator, DiffReport};
use apiscope::spec::{RouteResult, Spec};

use crate::support;

fn gaps(name: &str) -> PathBuf {
    support::fixture("gaps").join(name)
}

/// Minimal HAR → Exchange conversion for these tests (independent of the ingest readers, so
/// the checker's expectations are pinned to the fixture file itself).
fn har_exchanges(path: &Path) -> Vec<Exchange> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let file: Arc<str> = Arc::from(path.display().to_string());
    let mut out = Vec::new();
    for (i, e) in v["log"]["entries"].as_array().unwrap().iter().enumerate() {
        let url = e["request"]["url"].as_str().unwrap();
        let (scheme, rest) = url.split_once("://").unwrap();
        let (host, target) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let mut b = Exchange::builder(e["request"]["method"].as_str().unwrap(), target)
            .seq(i as u64)
            .scheme(scheme)
            .host(host)
            .version("HTTP/1.1")
            .state(State::Complete)
            .start(1_710_250_200_000_000_000 + i as i64 * 1_000_000_000)
            .source(&file, Some(i as u64));
        for h in e["request"]["headers"].as_array().unwrap() {
            b = b.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
        }
        if let Some(t) = e["request"]["postData"]["text"].as_str() {
            b = b.body(t);
        }
        let r = &e["response"];
        b = b.status(r["status"].as_u64().unwrap() as u16);
        for h in r["headers"].as_array().unwrap() {
            b = b.response_header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
        }
        let ex = b.response_body(r["content"]["text"].as_str().unwrap_or("")).build();
        out.push(ex);
    }
    out
}

fn run(spec: &Path, exchanges: &[Exchange], strict: bool) -> DiffReport {
    let spec = Arc::new(Spec::load(spec).unwrap());
    let mut acc = DiffAccumulator::new(spec, CheckOptions { strict, ..CheckOptions::default() }, ClientKey::Auto);
    for ex in exchanges {
        acc.observe(ex);
    }
    acc.finish()
}

fn describe(r: &DiffReport) -> String {
    r.findings
        .iter()
        .map(|f| format!("{} {} [{}] {} x{} — {}\n", f.severity, f.kind, f.endpoint, f.subject, f.count, f.message))
        .collect()
}

#[test]
fn conforming_capture_gives_zero_findings() {
    let r = run(&gaps("gaps.openapi.yaml"), &har_exchanges(&gaps("conforming.har")), true);
    assert!(r.findings.is_empty(), "unexpected findings:\n{}", describe(&r));
    assert_eq!(r.exchanges, 15);
    assert_eq!(r.documented, 15);
    assert!(r.spec_problems.is_empty(), "{:?}", r.spec_problems);
}

#[test]
fn every_planted_finding_is_reported_with_count_and_severity() {
    let r = run(&gaps("gaps.openapi.yaml"), &har_exchanges(&gaps("violations.har")), true);
    let d = describe(&r);
    let find = |kind: FindingKind, endpoint: &str| {
        r.findings
            .iter()
            .find(|f| f.kind == kind && f.endpoint == endpoint)
            .unwrap_or_else(|| panic!("no {kind} on {endpoint} in:\n{d}"))
    };
    use FindingKind as K;
    use Severity::{Error, Info, Warning};
    let expect = [
        (K::UndocumentedServer, "other.example.com", 2, Warning),
        (K::UndocumentedPath, "DELETE /v1/carts/{id}", 12, Warning),
        (K::UndocumentedPath, "GET /v1/../.env", 1, Info),
        (K::UndocumentedMethod, "PUT /orders/{id}", 2, Warning),
        (K::MissingRequiredParameter, "GET /search", 1, Error),
        (K::UndocumentedQueryParameter, "GET /orders", 1, Warning),
        (K::UndocumentedRequestHeader, "GET /users/me", 1, Info),
        (K::ParameterSchemaViolation, "GET /orders", 1, Error),
        (K::RequestBodyUndocumented, "DELETE /orders/{id}", 1, Warning),
        (K::RequestBodyMissing, "POST /orders", 1, Info),
        (K::RequestContentTypeUndocumented, "POST /orders", 1, Error),
        (K::RequestBodySchemaViolation, "POST /orders", 1, Error),
        (K::ResponseStatusUndocumented, "GET /orders", 2, Warning),
        (K::ResponseContentTypeUndocumented, "GET /users/{id}", 1, Error),
        (K::ResponseBodySchemaViolation, "GET /orders/{id}", 1, Error),
        (K::ResponseHeaderMissing, "POST /orders", 1, Error),
        (K::ResponseBodyUndocumented, "GET /ping", 1, Warning),
        (K::SecurityCredentialsMissing, "GET /users/{id}", 1, Error),
        (K::DeprecatedOperationUsed, "GET /legacy/report", 1, Warning),
        (K::DeprecatedParameterUsed, "GET /search", 1, Warning),
        (K::ResponseUndocumentedProperty, "GET /users/me", 1, Info),
    ];
    for (kind, endpoint, count, sev) in expect {
        let f = find(kind, endpoint);
        assert_eq!((f.count, f.severity), (count, sev), "{kind} {endpoint}:\n{d}");
    }
    assert_eq!(r.findings.len(), expect.len(), "extra findings:\n{d}");
    for k in FindingKind::ALL {
        assert!(r.findings.iter().any(|f| f.kind == k), "kind {k} not planted");
    }
    // details: instance path + keyword, cluster evidence, clients with shares
    let body = find(K::RequestBodySchemaViolation, "POST /orders");
    assert_eq!(body.subject, "/qty: type");
    let cluster = find(K::UndocumentedPath, "DELETE /v1/carts/{id}");
    assert_eq!(cluster.distinct_paths, Some(12));
    assert_eq!(cluster.example_paths.len(), 3);
    assert_eq!(cluster.clients.len(), 2);
    let share: f64 = cluster.clients.iter().map(|c| c.share).sum();
    assert!((share - 1.0).abs() < 1e-9);
    assert_eq!(cluster.clients[0].count, 8, "tok-alpha sent 8 of 12");
    assert!(cluster.first_seen < cluster.last_seen);
    assert_eq!(cluster.examples[0].entry, Some(2));
    assert!(r.coverage.operations_called > 0 && r.coverage.operations_called <= r.coverage.operations_total);
}

#[test]
fn strict_mode_alone_adds_undocumented_response_properties() {
    let ex = har_exchanges(&gaps("violations.har"));
    let lax = run(&gaps("gaps.openapi.yaml"), &ex, false);
    assert!(lax.findings.iter().all(|f| f.kind != FindingKind::ResponseUndocumentedProperty));
    let strict = run(&gaps("gaps.openapi.yaml"), &ex, true);
    assert_eq!(strict.findings.len(), lax.findings.len() + 1);
}

#[test]
fn per_exchange_keys_match_the_report() {
    let spec = Arc::new(Spec::load(&gaps("gaps.openapi.yaml")).unwrap());
    let checker = Checker::new(Arc::clone(&spec), CheckOptions::default());
    let ex = har_exchanges(&gaps("violations.har"));
    let keys = checker.check(&ex[0]);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kind, FindingKind::UndocumentedServer);
    for e in har_exchanges(&gaps("conforming.har")) {
        assert!(checker.check(&e).is_empty());
    }
}

#[test]
fn coverage_lists_uncalled_operations_and_unused_parameters() {
    let r = run(&gaps("gaps.openapi.yaml"), &har_exchanges(&gaps("conforming.har")), false);
    let cov = &r.coverage;
    assert_eq!(cov.operations_total, 10);
    assert_eq!(cov.operations_called, 9, "legacyReport is never called");
    let legacy = cov.operations.iter().find(|o| o.endpoint == "GET /legacy/report").unwrap();
    assert_eq!(legacy.calls, 0);
    let search = cov.operations.iter().find(|o| o.endpoint == "GET /search").unwrap();
    assert_eq!(search.params_never_used, vec!["query sort".to_string()]);
    let create = cov.operations.iter().find(|o| o.endpoint == "POST /orders").unwrap();
    assert_eq!(create.statuses.get(&201), Some(&1));
    assert_eq!(create.statuses.get(&422), Some(&1));
    assert!(create.responses_not_seen.is_empty());
}

#[test]
fn unchecked_exchanges_are_counted_per_reason() {
    let mut ex = har_exchanges(&gaps("conforming.har"));
    ex[0].response = None;
    ex[0].state = State::NoResponse("capture ended".into());
    if let Some(r) = ex[1].response.as_mut() {
        r.body = Body::from_bytes(b"{not json".to_vec());
    }
    if let Some(r) = ex[4].response.as_mut() {
        r.body.truncated = true;
    }
    let r = run(&gaps("gaps.openapi.yaml"), &ex, false);
    let count = |id: &str| r.unchecked.iter().find(|u| u.reason.as_str() == id).map_or(0, |u| u.count);
    assert_eq!(count("no_response"), 1);
    assert_eq!(count("response_body_unparsable"), 1);
    assert_eq!(count("body_truncated"), 1);
    assert!(r.findings.is_empty(), "{}", describe(&r));
}

#[test]
fn routing_prefers_literals_and_checks_method_after_all_matches() {
    let spec = Spec::load(&gaps("gaps.openapi.yaml")).unwrap();
    let mk = |m: &str, url: &str| {
        let (host, target) = url.split_once('/').map(|(h, t)| (h.to_string(), format!("/{t}"))).unwrap();
        Exchange {
            request: Request {
                method: m.into(),
                scheme: Some("https".into()),
                host: Some(host),
                target,
                ..Request::default()
            },
            ..Exchange::default()
        }
    };
    let name = |m: &str, u: &str| spec.operation_name(&mk(m, u));
    assert_eq!(name("GET", "api.shop.example/v1/users/me").as_deref(), Some("GET /users/me"));
    assert_eq!(name("GET", "api.shop.example/v1/users/12").as_deref(), Some("GET /users/{id}"));
    assert_eq!(name("GET", "eu.shop.example/v1/users/%6De").as_deref(), Some("GET /users/me"), "percent-decoded");
    assert_eq!(name("GET", "api.shop.example/v1/files/a.b.csv").as_deref(), Some("GET /files/{name}.{ext}"));
    assert!(matches!(
        spec.route(&mk("PATCH", "api.shop.example/v1/orders")),
        RouteResult::UndocumentedMethod { ref allowed, .. } if allowed == &["GET".to_string(), "POST".to_string()]
    ));
    assert!(matches!(
        spec.route(&mk("GET", "api.shop.example/v1/orders/")),
        RouteResult::UndocumentedPath { trailing_slash_of: Some(ref t) } if t == "/orders"
    ));
    assert!(matches!(spec.route(&mk("GET", "us.shop.example/v1/users/me")), RouteResult::UndocumentedServer { .. }));
    assert!(matches!(spec.route(&mk("GET", "api.shop.example/v2/users/me")), RouteResult::UndocumentedPath { .. }));
}

#[test]
fn server_override_replaces_servers() {
    let mut spec = Spec::load(&gaps("gaps.openapi.yaml")).unwrap();
    spec.override_servers(&["http://localhost:8080/api".to_string()]);
    let ex = Exchange {
        request: Request {
            method: "GET".into(),
            scheme: Some("http".into()),
            host: Some("localhost:8080".into()),
            target: "/api/users/me".into(),
            ..Request::default()
        },
        ..Exchange::default()
    };
    assert_eq!(spec.operation_name(&ex).as_deref(), Some("GET /users/me"));
}

#[test]
fn yaml_1_2_and_external_refs_load() {
    let spec = Spec::load(&gaps("gaps.openapi.yaml")).unwrap();
    assert_eq!(spec.api_version, "017");
    assert_eq!(spec.doc.pointer("/info/x-flag").and_then(|v| v.as_str()), Some("yes"));
    assert!(spec.problems.is_empty(), "{:?}", spec.problems);
}

#[test]
fn spec_errors_name_the_place() {
    let dir = support::tempdir();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, "openapi: 3.0.0\npaths: [1, 2\n").unwrap();
    let e = Spec::load(&p).unwrap_err().to_string();
    assert!(e.contains("line") || e.contains("2:"), "{e}");
    std::fs::write(&p, "swagger: '2.0'\n").unwrap();
    assert!(Spec::load(&p).unwrap_err().to_string().contains("Swagger 2.0"));
    std::fs::write(&p, "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/nope'}\n")
        .unwrap();
    let s = Spec::load(&p).unwrap();
    assert_eq!(s.problems[0].pointer, "/paths/~1a/get/responses/200");
}

#[test]
fn discord_3_1_and_petstore_3_0_load_and_route() {
    let discord = support::need_sample("openapi/discord-v10-3.1.0.openapi.json");
    let d = Spec::load(&discord).unwrap();
    assert!(d.operations.len() > 200, "{}", d.operations.len());
    let ex = |m: &str, host: &str, target: &str| Exchange {
        request: Request {
            method: m.into(),
            scheme: Some("https".into()),
            host: Some(host.into()),
            target: target.into(),
            ..Request::default()
        },
        ..Exchange::default()
    };
    assert_eq!(d.operation_name(&ex("GET", "discord.com", "/api/v10/users/@me")).as_deref(), Some("GET /users/@me"));
    assert_eq!(
        d.operation_name(&ex("GET", "discord.com", "/api/v10/users/80351110224678912")).as_deref(),
        Some("GET /users/{user_id}")
    );
    let pet = support::need_sample("openapi/petstore3-3.0.4.openapi.yaml");
    let p = Spec::load(&pet).unwrap();
    assert_eq!(
        p.operation_name(&ex("GET", "petstore3.swagger.io", "/api/v3/pet/findByStatus?status=sold")).as_deref(),
        Some("GET /pet/findByStatus")
    );
    assert_eq!(
        p.operation_name(&ex("GET", "petstore3.swagger.io", "/api/v3/pet/10")).as_deref(),
        Some("GET /pet/{petId}")
    );
    assert!(matches!(
        p.route(&ex("PATCH", "petstore3.swagger.io", "/api/v3/pet/10")),
        RouteResult::UndocumentedMethod { .. }
    ));
    // a Petstore body validates through $refs
    let checker = Checker::new(Arc::new(p), CheckOptions::default());
    let mut e = ex("GET", "petstore3.swagger.io", "/api/v3/pet/10");
    e.request.headers.push("api_key", "k");
    let mut resp = Response { status: 200, ..Response::default() };
    resp.headers.push("Content-Type", "application/json");
    resp.body = Body::from_bytes(br#"{"id":10,"name":"doggie","photoUrls":[],"status":"sold"}"#.to_vec());
    e.response = Some(resp.clone());
    assert!(checker.check(&e).is_empty(), "{:?}", checker.check(&e));
    resp.body = Body::from_bytes(br#"{"id":10,"photoUrls":[],"status":"lost"}"#.to_vec());
    e.response = Some(resp);
    let kinds: Vec<FindingKind> = checker.evaluate(&e).observations.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, vec![FindingKind::ResponseBodySchemaViolation; 2], "missing name + bad enum");
}

#[test]
#[cfg_attr(
    not(has_shared_samples),
    ignore = "needs ../shared/samples (httpbin spec not in fixtures/: licence unclear)"
)]
fn httpbin_post_conforms_and_other_hosts_are_undocumented_servers() {
    let spec = support::need_sample("openapi/httpbin.org-0.9.2-3.0.0.openapi.yaml");
    let har = support::need_sample("har/mitmproxy-httpbin-post-200.har");
    let ex = har_exchanges(&har);
    let r = run(&spec, &ex, false);
    let post: Vec<_> = r.coverage.operations.iter().filter(|o| o.endpoint == "POST /post").collect();
    assert_eq!(post[0].calls, 1, "{}", describe(&r));
    assert!(r.findings.iter().all(|f| f.kind == FindingKind::UndocumentedServer), "{}", describe(&r));
    assert!(r.findings.iter().any(|f| f.endpoint.starts_with("example.com")), "{}", describe(&r));
}

#[test]
fn reports_render_in_every_format() {
    use apiscope::spec::report;
    let mut ex = har_exchanges(&gaps("violations.har"));
    ex[0].request.headers.push("X-Evil\x1b[2J", "1");
    ex[3].request.target = "/v1/carts/\x1b]0;pwn\x07".into();
    let r = run(&gaps("gaps.openapi.yaml"), &ex, true);
    let text = report::text(&r, false);
    assert!(!text.contains('\x1b'), "raw escape in text report");
    assert!(text.contains("Undocumented endpoint") && text.contains("DELETE /v1/carts/{id}"));
    let colored = report::text(&r, true);
    assert!(colored.contains("\x1b[1;31m"));
    let j: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
    assert_eq!(j["format"], report::JSON_FORMAT);
    assert_eq!(j["findings"].as_array().unwrap().len(), r.findings.len());
    assert_eq!(j["summary"]["error"], r.summary.error);
    let s: serde_json::Value = serde_json::from_str(&report::sarif(&r)).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    assert!(results.iter().all(|x| ["error", "warning", "note"].contains(&x["level"].as_str().unwrap())));
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for x in results {
        let i = x["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], x["ruleId"]);
    }
    let md = report::markdown(&r);
    assert!(md.starts_with("## Contract gaps"));
    assert_eq!(md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Severity")).count(), r.findings.len());
    if std::env::var_os("APISCOPE_SHOW").is_some() {
        println!("{text}");
    }
}

fn read_with_ingest(path: &Path, spec: &Path, strict: bool) -> DiffReport {
    let spec = Arc::new(Spec::load(spec).unwrap());
    let mut acc = DiffAccumulator::new(spec, CheckOptions { strict, ..CheckOptions::default() }, ClientKey::Auto);
    apiscope::ingest::read_path(path, &apiscope::ingest::ReadOptions::default(), &mut acc).unwrap();
    acc.finish()
}

#[test]
fn the_har_reader_gives_the_same_findings_as_the_fixture_truth() {
    let spec = gaps("gaps.openapi.yaml");
    let via_reader = read_with_ingest(&gaps("violations.har"), &spec, true);
    let direct = run(&spec, &har_exchanges(&gaps("violations.har")), true);
    let key = |r: &DiffReport| {
        let mut v: Vec<_> =
            r.findings.iter().map(|f| (f.kind, f.endpoint.clone(), f.subject.clone(), f.count, f.severity)).collect();
        v.sort();
        v
    };
    assert_eq!(key(&via_reader), key(&direct), "{}", describe(&via_reader));
    assert!(read_with_ingest(&gaps("conforming.har"), &spec, true).findings.is_empty());
}

#[test]
fn the_cli_exit_code_follows_fail_on() {
    let bin = env!("CARGO_BIN_EXE_apiscope");
    let spec = gaps("gaps.openapi.yaml");
    let run_cli = |har: &str, extra: &[&str]| {
        std::process::Command::new(bin)
            .arg("diff")
            .arg(gaps(har))
            .arg("--spec")
            .arg(&spec)
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let ok = run_cli("conforming.har", &["--fail-on", "warning"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("No contract findings"));
    assert_eq!(run_cli("violations.har", &[]).status.code(), Some(1));
    assert_eq!(run_cli("violations.har", &["--fail-on", "never"]).status.code(), Some(0));
    let j = run_cli("violations.har", &["--format", "json", "--fail-on", "never"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 20);
    let h = run_cli("violations.har", &["--format", "json", "--ignore-header", "x-debug", "--fail-on", "never"]);
    let v: serde_json::Value = serde_json::from_slice(&h.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 19);
    let bad =
        std::process::Command::new(bin).args(["diff", "x.har", "--spec"]).arg(gaps("missing.yaml")).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Ground truth: every request of the demo capture's log routes to the operation the
/// generator meant (its route minus the `/v1` base path), junk paths to none.
#[test]
fn demo_log_routes_match_the_generator_truth() {
    use std::io::Read as _;
    let spec = Spec::load(&support::fixture("trading-api.openapi.yaml")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(support::fixture("demo.log.jsonl.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let route = v["route"].as_str().unwrap();
        let host = if route == "GET /healthz" { "api-internal:8080" } else { "api.tradeco.example" };
        let ex = Exchange {
            request: Request {
                method: v["method"].as_str().unwrap().into(),
                scheme: Some("http".into()),
                host: Some(host.into()),
                target: v["uri"].as_str().unwrap().into(),
                ..Request::default()
            },
            ..Exchange::default()
        };
        let got = spec.route(&ex);
        if route.ends_with("(unmatched)") {
            assert!(!matches!(got, RouteResult::Operation { .. }), "{line}");
        } else if route == "HEAD /v1/instruments" {
            assert!(matches!(got, RouteResult::UndocumentedMethod { .. }), "{line}");
        } else {
            let want = route.replacen(" /v1/", " /", 1);
            assert_eq!(spec.operation_name(&ex).as_deref(), Some(want.as_str()), "{line}");
        }
        n += 1;
    }
    assert_eq!(n, 2008);
}

/// Valid instances of the demo spec's schemas, to mutate.
fn fast_path_bases() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let order = json!({"id": "ord_0123456789abcdef", "symbol": "AAPL", "side": "buy", "type": "limit",
        "qty": "10", "time_in_force": "day", "limit_price": "1.50", "status": "new", "filled_qty": "0",
        "filled_avg_price": null, "created_at": "2024-03-12T13:29:59.896329Z", "extended_hours": false,
        "take_profit": {"limit_price": "2"}});
    vec![
        (
            "Quote",
            json!({"symbol": "KO", "bid": 6.29, "ask": 6.3, "last": 6.3, "bid_size": 800, "volume": 44663591,
            "timestamp": "2024-03-12T13:29:59.557931Z", "exchange": "XASE", "currency": "USD"}),
        ),
        ("Order", order.clone()),
        ("OrderList", json!({"data": [order.clone(), order], "limit": 100, "next_cursor": null})),
        (
            "OrderRequest",
            json!({"symbol": "AAPL", "side": "sell", "type": "market", "qty": "1", "time_in_force": "gtc"}),
        ),
        (
            "BasketRequest",
            json!({"orders": [{"symbol": "A", "side": "buy", "type": "market", "qty": "1", "time_in_force": "ioc"}]}),
        ),
        ("Error", json!({"error": {"code": "not_found", "message": "no such order", "request_id": "r1"}})),
        (
            "Portfolio",
            json!({"account_id": "acc_1", "as_of": "2024-03-12T13:30:00Z", "cash": "10.5",
            "positions": [{"symbol": "A", "qty": "3", "side": "long", "market_value": "-1.25"}]}),
        ),
        (
            "Account",
            json!({"id": "acc_0123456789", "status": "ACTIVE", "currency": "USD", "buying_power": "100",
            "created_at": "2024-01-01T00:00:00+01:00", "daytrade_count": 0}),
        ),
        (
            "InstrumentPage",
            json!({"data": [{"symbol": "A", "name": "A Inc", "type": "equity", "exchange": "XNAS",
            "currency": "USD", "tradable": true, "isin": "US0378331005", "tick_size": "0.01", "lot_size": 1}],
            "limit": 50, "next": "abc"}),
        ),
        ("StreamEvent", json!({"T": "q", "S": "AAPL", "bp": 1.5, "as": 3, "t": "2024-03-12T13:29:59Z"})),
    ]
}

/// Apply one random mutation somewhere in `v` (xorshift stream `rng`).
fn mutate(v: &mut serde_json::Value, rng: &mut u64, depth: usize) {
    use serde_json::{Value, json};
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let pool = [
        json!(""),
        json!("x"),
        json!("XNAS"),
        json!("buy"),
        json!("2024-03-12T13:29:59Z"),
        json!("2024-02-30T13:29:59Z"),
        json!("1.5"),
        json!("-1"),
        json!("a\"b\\c"),
        json!("é\u{1}"),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(12345678901234567890u64),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(["a"]),
        json!({"code": "x", "message": "y"}),
        json!("ord_0123456789abcdef"),
        json!("USD"),
        json!(2.0),
    ];
    let keys = ["symbol", "bid", "qty", "status", "error", "data", "orders", "extra", "side", "type", "id", "t"];
    let pick = |n: u64, len: usize| usize::try_from(n % len.max(1) as u64).unwrap_or(0);
    let r = next();
    let here = depth > 6 || r % 4 == 0;
    match v {
        Value::Object(m) if !m.is_empty() && !here => {
            let k = m.keys().nth(pick(next(), m.len())).cloned().unwrap();
            mutate(m.get_mut(&k).unwrap(), rng, depth + 1);
        }
        Value::Array(a) if !a.is_empty() && !here => {
            let i = pick(next(), a.len());
            mutate(&mut a[i], rng, depth + 1);
        }
        Value::Object(m) => match next() % 3 {
            0 if !m.is_empty() => {
                let k = m.keys().nth(pick(next(), m.len())).cloned().unwrap();
                m.shift_remove(&k);
            }
            1 => {
                m.insert(keys[pick(next(), keys.len())].to_string(), pool[pick(next(), pool.len())].clone());
            }
            _ => *v = pool[pick(next(), pool.len())].clone(),
        },
        Value::Array(a) => match next() % 3 {
            0 if !a.is_empty() => {
                a.pop();
            }
            1 if !a.is_empty() => a.push(a[0].clone()),
            _ => *v = pool[pick(next(), pool.len())].clone(),
        },
        _ => *v = pool[pick(next(), pool.len())].clone(),
    }
}

#[test]
fn the_fast_body_path_never_calls_an_invalid_body_valid() {
    use apiscope::spec::schema::{Direction, SchemaStore};
    let spec = Spec::load(&support::fixture("trading-api.openapi.yaml")).unwrap();
    let store = SchemaStore::new(spec.version, Arc::clone(&spec.doc));
    let (mut fast_valid, mut exact_valid, mut cases) = (0u32, 0u32, 0u32);
    for (name, base) in fast_path_bases() {
        let ptr = format!("/components/schemas/{name}");
        for dir in [Direction::Request, Direction::Response] {
            assert_eq!(store.validate(&ptr, dir, &base), Some(vec![]), "{name} base must be valid");
            for seed in 1..=400u64 {
                let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut v = base.clone();
                for _ in 0..=(seed % 3) {
                    mutate(&mut v, &mut rng, 0);
                }
                let exact = store.validate(&ptr, dir, &v).is_some_and(|vs| vs.is_empty());
                for text in [serde_json::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
                    cases += 1;
                    let fast = store.accepts(&ptr, dir, text.as_bytes());
                    assert!(!fast || exact, "{name} {dir:?}: fast path called an invalid body valid: {text}");
                    fast_valid += u32::from(fast);
                    exact_valid += u32::from(exact);
                }
            }
        }
    }
    // not vacuous: the fast path decides most valid bodies itself
    assert!(fast_valid * 10 >= exact_valid * 8, "{fast_valid} of {exact_valid} valid bodies ({cases} cases)");
    assert!(exact_valid < cases, "the mutations must also produce invalid bodies");
}

/// Clustering many undocumented paths into one finding keeps the earliest paths' message
/// and examples: the report is the same on every run (it used to follow hash-map order).
#[test]
fn clustered_undocumented_paths_report_the_same_on_every_run() {
    use apiscope::spec::report;
    let har = support::need_sample("har/firefox111-mitmproxy-org.har");
    let ex = har_exchanges(&har);
    let spec = support::fixture("analysis/tradeco.openapi.yaml");
    let first = report::json(&run(&spec, &ex, false));
    for _ in 0..6 {
        assert_eq!(report::json(&run(&spec, &ex, false)), first);
    }
    let r = run(&spec, &ex, false);
    let f = r.findings.iter().find(|f| f.distinct_paths.is_some_and(|d| d > 1)).expect("a clustered finding");
    assert_eq!(
        f.example_paths.first().map(String::as_str),
        Some("/"),
        "the first path seen leads: {:?}",
        f.example_paths
    );
}

/// A spec in `dir/api/` whose one schema is `$ref: REF`.
fn spec_with_ref(dir: &Path, reference: &str) -> PathBuf {
    let api = dir.join("api");
    std::fs::create_dir_all(&api).unwrap();
    let spec = api.join("openapi.yaml");
    std::fs::write(
        &spec,
        format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /x:\n    get:\n      responses:\n        \
             '200':\n          description: ok\n          content:\n            application/json:\n              \
             schema: {{$ref: '{reference}'}}\n"
        ),
    )
    .unwrap();
    spec
}

fn problems(spec: &Path, allow_ref_outside: bool) -> String {
    let opts = apiscope::spec::load::LoadOptions { allow_ref_outside };
    let s = Spec::load_with(spec, opts).unwrap();
    s.problems.iter().map(|p| format!("{}: {}\n", p.pointer, p.message)).collect()
}

#[test]
fn refs_outside_the_spec_folder_are_not_read_and_never_echoed() {
    let dir = support::tempdir();
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, "root:x:0:0:TOPSECRET:/root:/bin/bash\n").unwrap();
    let spec = spec_with_ref(dir.path(), "../secret.yaml");
    let p = problems(&spec, false);
    assert!(p.contains("outside the spec's folder") && p.contains("--allow-ref-outside"), "{p}");
    assert!(!p.contains("TOPSECRET"), "{p}");
    // The same through a symbolic link inside the folder.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&secret, dir.path().join("api/link.yaml")).unwrap();
        let spec = spec_with_ref(dir.path(), "link.yaml");
        let p = problems(&spec, false);
        assert!(p.contains("outside the spec's folder"), "{p}");
    }
    // Allowed on request; a file that is not YAML is reported without its content.
    std::fs::write(&secret, "{ TOPSECRET: [unclosed\n").unwrap();
    let spec = spec_with_ref(dir.path(), "../secret.yaml");
    let p = problems(&spec, true);
    assert!(p.contains("is not valid JSON"), "{p}");
    assert!(!p.contains("TOPSECRET"), "{p}");
    // And the CLI report does not show it either.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["diff", "--spec"])
        .arg(&spec)
        .arg(support::fixture("tui-small.har"))
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains("TOPSECRET"), "{all}");
}

#[cfg(unix)]
#[test]
fn refs_to_devices_and_fifos_are_refused_at_once() {
    let dir = support::tempdir();
    let spec = spec_with_ref(dir.path(), "/dev/zero");
    let p = problems(&spec, true);
    assert!(p.contains("not a regular file"), "{p}");
    let fifo = dir.path().join("api/pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if made {
        let spec = spec_with_ref(dir.path(), "pipe.yaml");
        let p = problems(&spec, false);
        assert!(p.contains("not a regular file"), "{p}");
    }
}

#[test]
fn spec_text_with_terminal_controls_is_escaped_in_every_report() {
    let dir = support::tempdir();
    let spec = dir.path().join("evil.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: {title: \"T\\e]0;pwned\\a\\u061c\", version: \"1\\e[2J\"}\npaths:\n  \
         /x\\e[31m:\n    get:\n      operationId: \"op\\e]0;x\\a\\u061c\"\n      responses:\n        \
         '200': {description: ok}\n",
    )
    .unwrap();
    let har = support::fixture("tui-small.har");
    let runs: [&[&str]; 4] = [
        &["diff", "--format", "markdown", "--spec"],
        &["diff", "--format", "text", "--color", "never", "--spec"],
        &["stats", "--spec"],
        &["journey", "--spec"],
    ];
    for args in runs {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope"))
            .args(args)
            .arg(&spec)
            .arg(&har)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.is_empty() || !o.stderr.is_empty(), "{args:?}");
        for bad in ['\x1b', '\x07', '\u{61c}'] {
            assert!(!out.contains(bad), "{args:?} wrote {bad:?} raw:\n{out}");
        }
        if args[0] == "diff" {
            assert!(out.contains("T\\x1b]0;pwned\\x07\\u{61c}"), "{args:?}: the title is shown escaped:\n{out}");
        }
    }
}
