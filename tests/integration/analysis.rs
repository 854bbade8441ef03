//! Integration tests: analysis. KPIs on generated HAR and pcap inputs equal the generators'
//! ground truth (per-route request counts, status counts, and TTFB / total percentiles by
//! the same nearest-rank definition the truth files use: rank ceil(q/100 · n)); client
//! kinds from the pcap generator's `--log` are matched against the pattern findings, with
//! precision and recall printed and held above stated bars. The generators live in
//! ../shared/gen (Python 3); when they are absent these tests say so and pass vacuously.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use apiscope::analysis::{Analyzer, Config, EndpointName, EndpointNamer, PatternKind, Report};
use apiscope::ingest::{Collect, ReadOptions, Sink, read_path};
use apiscope::model::Exchange;
use apiscope::model::client::{ClientKey, identify};
use apiscope::spec::Spec;

use crate::support;

/// Names like the truth files: the spec operation, or `METHOD (unmatched)`.
struct TruthNames(Spec);

impl EndpointNamer for TruthNames {
    fn name(&self, ex: &Exchange) -> EndpointName {
        match self.0.operation_name(ex) {
            Some(name) => EndpointName { name, documented: Some(true) },
            None => EndpointName { name: format!("{} (unmatched)", ex.request.method), documented: Some(false) },
        }
    }
}

fn spec() -> Spec {
    Spec::load(&support::fixture("analysis/tradeco.openapi.yaml")).expect("fixture spec")
}

/// Run the generator `script` from ../shared/gen.
fn generate(script: &str, args: &[&str]) {
    support::need_tool("python3");
    let out =
        Command::new("python3").arg(support::need_gen_dir().join(script)).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn analyze(path: &Path) -> Report {
    let mut a = Analyzer::new(Config::default(), Box::new(TruthNames(spec())));
    a.begin_input(&path.display().to_string());
    read_path(path, &ReadOptions::default(), &mut a).expect("readable input");
    a.finish()
}

fn us_to_ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

/// Compare every route of the truth file with the report.
/// Latency mismatches are collected (route, kind, quantile, got, want) and returned.
fn assert_matches_truth(
    r: &Report,
    truth: &serde_json::Value,
    ttfb_key: &str,
    total_key: &str,
) -> Vec<(String, String, f64, f64)> {
    let mut off = Vec::new();
    let eps: HashMap<&str, _> = r.endpoints.iter().map(|e| (e.name.as_str(), e)).collect();
    let routes = truth["routes"].as_object().expect("routes");
    assert_eq!(r.summary.kpis.requests, truth["requests"].as_u64().unwrap());
    let mut checked = 0;
    for (route, t) in routes {
        let e = eps.get(route.as_str()).unwrap_or_else(|| panic!("route {route} missing from the report"));
        assert_eq!(e.kpis.requests, t["count"].as_u64().unwrap(), "{route} count");
        let statuses: BTreeMap<u16, u64> =
            t["status"].as_object().unwrap().iter().map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap())).collect();
        assert_eq!(e.kpis.statuses, statuses, "{route} statuses");
        let total = match e.kpis.total {
            Some(t) => Some((total_key, t)),
            None => {
                // A streaming endpoint: its length is a stream duration, not a latency.
                let feed = r.feeds.iter().find(|f| f.name == *route);
                assert_eq!(
                    feed.map(|f| f.streams),
                    Some(e.kpis.requests),
                    "{route}: no total time and not all streams"
                );
                None
            }
        };
        for (key, p) in std::iter::once((ttfb_key, e.kpis.ttfb.unwrap())).chain(total) {
            let want = &t[key];
            for (q, got) in [("p50", p.p50_us), ("p90", p.p90_us), ("p99", p.p99_us), ("max", p.max_us)] {
                let w = want[q].as_f64().unwrap();
                // truth is in ms rounded to 3 decimals (µs); ours is whole µs
                if (us_to_ms(got) - w).abs() >= 0.0015 {
                    off.push((format!("{route} {key}"), q.to_string(), us_to_ms(got), w));
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, r.endpoints.len(), "no extra endpoints");
    let statuses: u64 = truth["status"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(statuses, r.statuses.iter().map(|s| s.kpis.requests).sum::<u64>());
    off
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn har_kpis_equal_the_generator_truth() {
    let dir = support::tempdir();
    let har = dir.path().join("t.har");
    generate("gen_har.py", &["--entries", "3000", "--seed", "5", "-o", har.to_str().unwrap()]);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.har.truth.json")).unwrap()).unwrap();
    let r = analyze(&har);
    // HAR truth: `wait_ms` is TTFB (timings.wait), `time_ms` is the entry's total time.
    let off = assert_matches_truth(&r, &truth, "wait_ms", "time_ms");
    assert!(off.is_empty(), "latency percentiles differ from the truth: {off:?}");
}

fn pcap_with_log(requests: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = support::tempdir();
    let pcap = dir.path().join("t.pcap");
    let log = dir.path().join("t.jsonl");
    let (p, l) = (pcap.to_str().unwrap(), log.to_str().unwrap());
    generate("gen_pcap.py", &["--requests", requests, "--seed", "3", "-o", p, "--log", l]);
    (dir, pcap, log)
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn pcap_counts_and_statuses_equal_the_generator_truth() {
    let (dir, pcap, _) = pcap_with_log("3000");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.pcap.truth.json")).unwrap()).unwrap();
    let r = analyze(&pcap);
    let off = assert_matches_truth(&r, &truth, "ttfb_ms", "total_ms");
    eprintln!("{} latency percentiles differ from the truth (see pcap_latency_equals_the_generator_truth)", off.len());
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn pcap_latency_equals_the_generator_truth() {
    let (dir, pcap, _) = pcap_with_log("3000");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.pcap.truth.json")).unwrap()).unwrap();
    let r = analyze(&pcap);
    // pcap truth: ttfb = first response segment − last request segment, total = last
    // response segment − first request segment, at the capture point.
    let off = assert_matches_truth(&r, &truth, "ttfb_ms", "total_ms");
    for o in &off {
        eprintln!("pcap latency differs from truth: {o:?}");
    }
    assert!(off.is_empty(), "{} latency percentiles differ from the truth", off.len());
}

struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fn_) as f64 }
    }
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn client_kinds_from_the_generator_log_are_recognised() {
    let (_dir, pcap, log) = pcap_with_log("12000");
    // kind per client IP, from the generator's log (kinds use disjoint address ranges)
    let mut kind_of_ip: HashMap<String, String> = HashMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let client = v["client"].as_str().unwrap();
        let ip = client.rsplit_once(':').unwrap().0.to_string();
        kind_of_ip.insert(ip, v["client_kind"].as_str().unwrap().to_string());
    }
    // identity → kind (majority) and request count, with the same key as the analyzer
    let mut all = Collect::default();
    read_path(&pcap, &ReadOptions::default(), &mut all).unwrap();
    let mut votes: HashMap<String, HashMap<String, u64>> = HashMap::new();
    let mut a = Analyzer::new(Config::default(), Box::new(TruthNames(spec())));
    for ex in &all.exchanges {
        a.exchange(ex);
        let id = identify(ex, &ClientKey::Auto).unwrap().0;
        let ip = ex.client.unwrap().ip.to_string();
        let kind = kind_of_ip.get(&ip).cloned().unwrap_or_else(|| "unknown".into());
        *votes.entry(id).or_default().entry(kind).or_insert(0) += 1;
    }
    let r = a.finish();
    let kind: HashMap<&str, (&str, u64)> = votes
        .iter()
        .map(|(id, v)| {
            let (k, _) = v.iter().max_by_key(|(_, n)| **n).unwrap();
            (id.as_str(), (k.as_str(), v.values().sum()))
        })
        .collect();
    let flagged = |id: &str, k: PatternKind| r.findings.iter().any(|f| f.client == id && f.kind == k);

    // (what, true kind, finding kinds that count, minimum requests for a client to be expected)
    type Case<'a> = (&'a str, &'a str, &'a [PatternKind], u64, f64, f64);
    let cases: [Case<'_>; 3] = [
        ("scanners as scanners", "scanner", &[PatternKind::Scanner], 10, 0.95, 0.8),
        ("probes as polling", "probe", &[PatternKind::Polling], 10, 0.95, 0.9),
        ("ETL as pager/heavy hitter", "etl", &[PatternKind::Pager, PatternKind::HeavyHitter], 40, 0.95, 0.8),
    ];
    for (what, want, kinds, min_req, p_bar, r_bar) in cases {
        let mut s = Score { tp: 0, fp: 0, fn_: 0 };
        for (id, (k, n)) in &kind {
            let hit = kinds.iter().any(|x| flagged(id, *x));
            match (hit, *k == want) {
                (true, true) => s.tp += 1,
                (true, false) => {
                    eprintln!(
                        "  false positive: {id} is {k} ({n} requests): {:?}",
                        r.findings
                            .iter()
                            .filter(|f| f.client == *id)
                            .map(|f| (&f.endpoint, &f.explanation))
                            .collect::<Vec<_>>()
                    );
                    s.fp += 1;
                }
                (false, true) if *n >= min_req => s.fn_ += 1,
                _ => {}
            }
        }
        eprintln!(
            "{what}: precision {:.3} recall {:.3} (tp {} fp {} fn {}; clients with ≥ {min_req} requests expected)",
            s.precision(),
            s.recall(),
            s.tp,
            s.fp,
            s.fn_
        );
        assert!(s.tp > 0, "{what}: nothing found");
        assert!(s.precision() >= p_bar, "{what}: precision {:.3} < {p_bar}", s.precision());
        assert!(s.recall() >= r_bar, "{what}: recall {:.3} < {r_bar}", s.recall());
    }

    // mobile clients are not flagged for behaviour (the slowest-exchange list is about one
    // exchange, not the client, and is left out)
    let mobiles: Vec<&str> = kind.iter().filter(|(_, (k, _))| *k == "mobile").map(|(id, _)| *id).collect();
    let bad: Vec<(&str, PatternKind)> = r
        .findings
        .iter()
        .filter(|f| f.kind.is_client_behaviour() && mobiles.contains(&f.client.as_str()))
        .map(|f| (f.client.as_str(), f.kind))
        .collect();
    eprintln!("mobile clients: {} identities, {} flagged: {bad:?}", mobiles.len(), bad.len());
    assert!(mobiles.len() > 50);
    assert!(bad.len() * 100 <= mobiles.len(), "more than 1% of mobile clients flagged: {bad:?}");
}

#[test]
fn stats_and_journey_commands_run_end_to_end() {
    let har = support::fixture("gaps/conforming.har");
    let bin = env!("CARGO_BIN_EXE_apiscope");
    for args in [
        vec!["stats", har.to_str().unwrap()],
        vec!["stats", har.to_str().unwrap(), "--by", "client", "--format", "markdown"],
        vec!["stats", har.to_str().unwrap(), "--by", "status", "--format", "csv"],
        vec!["stats", har.to_str().unwrap(), har.to_str().unwrap(), "--format", "json", "--top", "3"],
    ] {
        let out = Command::new(bin).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stdout.is_empty());
    }
    let out = Command::new(bin).args(["stats", har.to_str().unwrap(), "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let client = v["clients"][0]["id"].as_str().unwrap().to_string();
    let out = Command::new(bin).args(["journey", har.to_str().unwrap(), "--client", &client]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("session 1"));
    let out = Command::new(bin).args(["journey", har.to_str().unwrap(), "--client", "nobody"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("busiest clients"));
}

#[test]
fn journey_names_endpoints_exactly_like_stats() {
    let demo = support::fixture("demo.pcap.gz");
    let bin = env!("CARGO_BIN_EXE_apiscope");
    let spec = support::fixture("trading-api.openapi.yaml");
    for extra in [vec![], vec!["--spec", spec.to_str().unwrap()]] {
        let out = Command::new(bin)
            .args(["stats", demo.to_str().unwrap(), "--format", "json"])
            .args(&extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // the three busiest clients: every endpoint of their journey is one stats lists as
        // used by them, and the other way round
        for c in stats["clients"].as_array().unwrap().iter().take(3) {
            let id = c["id"].as_str().unwrap();
            let used: std::collections::BTreeSet<&str> =
                c["endpoints_used"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
            let out = Command::new(bin)
                .args(["journey", demo.to_str().unwrap(), "--client", id, "--format", "json"])
                .args(&extra)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let named: std::collections::BTreeSet<&str> = j["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["calls"].as_array().unwrap())
                .map(|call| call["endpoint"].as_str().unwrap())
                .collect();
            assert_eq!(named, used, "client {id} {extra:?}");
        }
    }
}

/// With a spec, a documented path called with a method it does not document is named by its
/// template with the server base path stripped (`HEAD /instruments`, as `diff` reports it),
/// undocumented; documented calls by their operation; unknown paths by their inferred template.
#[test]
fn spec_names_strip_the_base_path_for_undocumented_methods_too() {
    use apiscope::analysis::SpecNamer;
    let spec = Spec::load(&support::fixture("trading-api.openapi.yaml")).unwrap();
    let call = |method: &str, target: &str| {
        let mut ex = Exchange::default();
        ex.request.method = method.into();
        ex.request.scheme = Some("https".into());
        ex.request.target = target.into();
        ex.request.headers.push("Host", "api.tradeco.example");
        SpecNamer(&spec).name(&ex)
    };
    assert_eq!(
        call("GET", "/v1/instruments?page=2"),
        EndpointName { name: "GET /instruments".into(), documented: Some(true) }
    );
    assert_eq!(
        call("HEAD", "/v1/instruments?page=2"),
        EndpointName { name: "HEAD /instruments".into(), documented: Some(false) }
    );
    assert_eq!(call("GET", "/v1/nope/123"), EndpointName { name: "GET /v1/nope/{id}".into(), documented: Some(false) });
}

/// Calls without credentials to an operation the spec leaves open (`/healthz` has
/// `security: []`) are not a finding with `--spec`; without a spec nothing says they are
/// open, and calls to secured or unknown paths stay findings either way.
#[test]
fn no_credentials_spares_operations_the_spec_leaves_open() {
    use apiscope::analysis::{InferredNames, SpecNamer};
    let demo = support::fixture("demo.pcap.gz");
    let spec = Spec::load(&support::fixture("trading-api.openapi.yaml")).unwrap();
    let no_cred = |r: &Report| -> Vec<(String, Option<String>)> {
        r.findings
            .iter()
            .filter(|f| f.kind == PatternKind::NoCredentials)
            .map(|f| (f.client.clone(), f.endpoint.clone()))
            .collect()
    };
    let mut with = Analyzer::new(Config::default(), Box::new(SpecNamer(&spec)));
    read_path(&demo, &ReadOptions::default(), &mut with).unwrap();
    let with = no_cred(&with.finish());
    let mut without = Analyzer::new(Config::default(), Box::new(InferredNames));
    read_path(&demo, &ReadOptions::default(), &mut without).unwrap();
    let without = no_cred(&without.finish());
    let probes = |v: &[(String, Option<String>)]| v.iter().filter(|(c, _)| c.contains("kube-probe")).count();
    assert!(probes(&without) > 0, "without a spec, health probes call without credentials: {without:?}");
    assert_eq!(probes(&with), 0, "with the spec, /healthz is open: {with:?}");
    assert!(with.iter().any(|(c, _)| c.contains("curl/")), "scanners still call secured/unknown paths bare: {with:?}");
}

/// Rates are over the whole traffic's window: a health probe that fires 55 times within a
/// second of a 151-second capture runs at 0.36/s, not at 51/s over its own first-to-last span.
#[test]
fn every_rate_is_over_the_whole_capture_window_not_the_group_s_own_span() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["stats", "--format", "json"])
        .arg(support::fixture("demo.pcap.gz"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let k = &r["summary"]["kpis"];
    let window_s = (k["last"].as_i64().unwrap() - k["first"].as_i64().unwrap()) as f64 / 1e9;
    let groups = ["endpoints", "clients", "statuses"];
    let mut checked = 0;
    for g in groups {
        for item in r[g].as_array().unwrap() {
            let kp = &item["kpis"];
            let want = kp["requests"].as_f64().unwrap() / window_s;
            let got = kp["mean_rps"].as_f64().unwrap();
            assert!((got - want).abs() < 1e-9, "{g} {}: {got} != {want}", item["name"]);
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    let healthz = r["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "GET /healthz").unwrap();
    assert!(healthz["kpis"]["mean_rps"].as_f64().unwrap() < 1.0);
}

/// Scanner recall per address: the generator's scanners are many IPs each sending 3–20
/// junk-path requests (404/405), a fifth of them with a bearer token, so one IP is often two
/// client identities with a handful of requests each. Every scanner IP that sent ≥ 3
/// requests must be flagged through at least one of its identities (≥ 90%), and no
/// identity of any other IP may be flagged as a scanner — with the spec's names and with
/// learnt templates (what `apiscope stats` does without `--spec`).
#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn distributed_scanners_are_flagged_per_ip_with_high_recall_and_no_false_flags() {
    let (_dir, pcap, log) = pcap_with_log("12000");
    let mut kind_of_ip: HashMap<String, String> = HashMap::new();
    let mut requests_of_ip: HashMap<String, u64> = HashMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ip = v["client"].as_str().unwrap().rsplit_once(':').unwrap().0.to_string();
        kind_of_ip.insert(ip.clone(), v["client_kind"].as_str().unwrap().to_string());
        *requests_of_ip.entry(ip).or_insert(0) += 1;
    }
    let mut all = Collect::default();
    read_path(&pcap, &ReadOptions::default(), &mut all).unwrap();
    // identity → the IPs it was seen from
    let mut ips_of: HashMap<String, Vec<String>> = HashMap::new();
    for ex in &all.exchanges {
        let id = identify(ex, &ClientKey::Auto).unwrap().0;
        let ip = ex.client.unwrap().ip.to_string();
        let v = ips_of.entry(id).or_default();
        if !v.contains(&ip) {
            v.push(ip);
        }
    }
    let expected: Vec<&String> = requests_of_ip
        .iter()
        .filter(|(ip, n)| **n >= 3 && kind_of_ip.get(*ip).is_some_and(|k| k == "scanner"))
        .map(|(ip, _)| ip)
        .collect();
    assert!(expected.len() >= 10, "too few scanner IPs with ≥ 3 requests: {}", expected.len());
    let with_spec = |exs: &[Exchange]| {
        let mut a = Analyzer::new(Config::default(), Box::new(TruthNames(spec())));
        exs.iter().for_each(|e| a.exchange(e));
        a.finish()
    };
    let learnt = |exs: &[Exchange]| {
        let mut a = Analyzer::learning(Config::default());
        exs.iter().for_each(|e| a.exchange(e));
        a.finish()
    };
    for (names, r) in [("spec names", with_spec(&all.exchanges)), ("learnt templates", learnt(&all.exchanges))] {
        let flagged_ips: Vec<&String> = r
            .findings
            .iter()
            .filter(|f| f.kind == PatternKind::Scanner)
            .flat_map(|f| ips_of.get(&f.client).into_iter().flatten())
            .collect();
        let found = expected.iter().filter(|ip| flagged_ips.contains(ip)).count();
        let false_flags: Vec<&&String> =
            flagged_ips.iter().filter(|ip| kind_of_ip.get(**ip).is_none_or(|k| k != "scanner")).collect();
        let recall = found as f64 / expected.len() as f64;
        eprintln!(
            "{names}: scanner IPs with ≥ 3 requests flagged: {found} of {} (recall {recall:.3}); false flags: {false_flags:?}",
            expected.len()
        );
        assert!(recall >= 0.9, "{names}: recall {recall:.3} < 0.9");
        assert!(false_flags.is_empty(), "{names}: non-scanner addresses flagged as scanners: {false_flags:?}");
        let group =
            r.findings.iter().find(|f| f.kind == PatternKind::Scanner && f.explanation.contains("distributed scan"));
        assert!(group.is_some(), "{names}: no finding explains the distributed scan");
    }
}
