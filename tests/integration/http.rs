//! Integration tests: HTTP/1.x on captures, against ground truth.
//!
//! - Generated captures (`../shared/gen/gen_pcap.py`, made at test time when Python and the
//!   generator are there): exchanges per method, per status and per route template, and
//!   request / response body bytes equal the generator's `truth.json` exactly; per-exchange
//!   latencies equal the `--log` lines.
//! - The committed `fixtures/demo.pcap.gz` against `fixtures/demo.truth.json` (always runs).
//! - Every capture in `../shared/samples/pcap` (else the copies in `fixtures/samples`)
//!   against tshark's HTTP view (when tshark is installed).
//! - A real loopback capture from `../shared/gen/capture_real.sh` (when tcpdump and curl are
//!   installed): every request the server logged is found.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use apiscope::capture::Input;
use apiscope::ingest::capture::read_capture;
use apiscope::ingest::{Collect, ReadOptions, ReadSummary};
use apiscope::model::{Exchange, State};
use serde_json::Value;

use crate::support;

/// Every real capture sample: the shared collection's when present, else the copies kept in
/// fixtures/samples.
fn sample_captures() -> Vec<PathBuf> {
    let dir = support::shared()
        .map(|s| s.join("samples").join("pcap"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| support::fixture("samples"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        // This comparison reads tshark's HTTP/1 fields; the HTTP/2 samples are compared with
        // its HTTP/2 fields in the h2 tests.
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().contains("http2")))
        .collect();
    files.sort();
    files
}

fn read(path: &Path, input: Input, opts: &ReadOptions) -> (Collect, ReadSummary) {
    let mut sink = Collect::default();
    let summary = read_capture(input, path, opts, &mut sink).expect("capture reads");
    (sink, summary)
}

fn read_file(path: &Path) -> (Collect, ReadSummary) {
    read(path, Input::Bytes(std::fs::read(path).expect("read capture")), &ReadOptions::default())
}

fn counter(s: &ReadSummary, name: &str) -> u64 {
    s.counters.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
}

/// Generate a capture with `gen_pcap.py` into `dir`.
fn generate(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    support::need_tool("python3");
    let gen_dir = support::need_gen_dir();
    let out = dir.join(name);
    let log = dir.join(format!("{name}.jsonl"));
    let status = Command::new("python3")
        .arg(gen_dir.join("gen_pcap.py"))
        .args(["--bytes", "2M", "-o"])
        .arg(&out)
        .arg("--log")
        .arg(&log)
        .args(extra)
        .output()
        .expect("run gen_pcap.py");
    assert!(status.status.success(), "gen_pcap.py failed: {}", String::from_utf8_lossy(&status.stderr));
    out
}

/// The log lines of a generated capture.
fn log_lines(path: &Path) -> Vec<Value> {
    let file = std::fs::File::open(path).expect("log");
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    reader.lines().map(|l| serde_json::from_str(&l.expect("line")).expect("json line")).collect()
}

fn bump(m: &mut BTreeMap<String, u64>, k: impl Into<String>, by: u64) {
    *m.entry(k.into()).or_default() += by;
}

fn truth_map(v: &Value) -> BTreeMap<String, u64> {
    v.as_object().expect("object").iter().map(|(k, v)| (k.clone(), v.as_u64().expect("count"))).collect()
}

/// Check exchanges against a generator's truth file and log, exactly.
fn check_against_truth(exchanges: &[Exchange], truth: &Value, log: &[Value]) {
    assert_eq!(exchanges.len() as u64, truth["requests"].as_u64().unwrap(), "requests");
    assert!(exchanges.iter().all(|e| e.state == State::Complete), "every generated exchange completes");

    let mut methods = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    for e in exchanges {
        bump(&mut methods, e.request.method.clone(), 1);
        bump(&mut statuses, e.status().map_or("none".into(), |s| s.to_string()), 1);
    }
    assert_eq!(methods, truth_map(&truth["methods"]), "per method");
    assert_eq!(statuses, truth_map(&truth["status"]), "per status");

    // Routes: the log maps each (method, uri) to its route template.
    let route_of: HashMap<(String, String), String> = log
        .iter()
        .map(|l| {
            let k = (l["method"].as_str().unwrap().to_string(), l["uri"].as_str().unwrap().to_string());
            (k, l["route"].as_str().unwrap().to_string())
        })
        .collect();
    let mut count = BTreeMap::new();
    let mut req_bytes = BTreeMap::new();
    let mut resp_wire = BTreeMap::new();
    let mut per_route_status: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for e in exchanges {
        let key = (e.request.method.clone(), e.request.target.clone());
        let route = route_of.get(&key).unwrap_or_else(|| panic!("exchange not in the log: {key:?}")).clone();
        bump(&mut count, route.clone(), 1);
        bump(&mut req_bytes, route.clone(), e.request.body.size);
        let resp = e.response.as_ref().expect("response");
        bump(&mut resp_wire, route.clone(), resp.body.wire_size.unwrap_or(0));
        bump(per_route_status.entry(route).or_default(), resp.status.to_string(), 1);
    }
    let routes = truth["routes"].as_object().unwrap();
    let want = |f: &str| -> BTreeMap<String, u64> {
        routes.iter().map(|(k, v)| (k.clone(), v[f].as_u64().unwrap())).collect()
    };
    assert_eq!(count, want("count"), "per route");
    assert_eq!(req_bytes, want("req_body_bytes"), "request body bytes per route");
    assert_eq!(resp_wire, want("resp_wire_body_bytes"), "response wire body bytes per route");
    for (route, v) in routes {
        assert_eq!(per_route_status[route], truth_map(&v["status"]), "statuses of {route}");
    }
}

/// Per-exchange latencies against the log, joined by client address and request start
/// (within 2 µs: the log rounds float seconds, the capture stores whole µs). Returns
/// (matched, equal ttfb and total within 3 µs).
fn check_latencies(exchanges: &[Exchange], log: &[Value]) -> (usize, usize) {
    let mut by_client: HashMap<String, Vec<(i64, &Value)>> = HashMap::new();
    for l in log {
        let t = (l["t_req"].as_f64().unwrap() * 1e6).round() as i64;
        by_client.entry(l["client"].as_str().unwrap().to_string()).or_default().push((t, l));
    }
    let (mut matched, mut equal) = (0, 0);
    for e in exchanges {
        let start_us = (e.timing.request_start.unwrap() as f64 / 1e3).round() as i64;
        // The log writes addresses as "ip:port", IPv6 without brackets.
        let c = e.client.unwrap();
        let client = format!("{}:{}", c.ip, c.port.unwrap());
        let Some(l) = by_client.get(&client).and_then(|v| v.iter().find(|(t, _)| (t - start_us).abs() <= 2)) else {
            continue;
        };
        matched += 1;
        let ms = |ns: Option<i64>| ns.unwrap() as f64 / 1e6;
        let close = |a: f64, b: f64| (a - b).abs() <= 0.003;
        if close(ms(e.ttfb()), l.1["ttfb_ms"].as_f64().unwrap())
            && close(ms(e.duration()), l.1["total_ms"].as_f64().unwrap())
        {
            equal += 1;
        }
    }
    (matched, equal)
}

fn generated_case(name: &str, extra: &[&str]) {
    let dir = support::tempdir();
    let path = generate(dir.path(), name, extra);
    let truth: Value =
        serde_json::from_slice(&std::fs::read(format!("{}.truth.json", path.display())).unwrap()).unwrap();
    let log = log_lines(&dir.path().join(format!("{name}.jsonl")));
    let (out, summary) = read_file(&path);
    check_against_truth(&out.exchanges, &truth, &log);
    assert_eq!(summary.connections, truth["connections"].as_u64().unwrap());
    assert_eq!(counter(&summary, "http_connections"), truth["connections"].as_u64().unwrap());
    // Latencies: the generator's "last needed segment" is the copy the peer received, which
    // for a segment lost after the tap is its retransmitted (second) copy; the adapter
    // counts that copy too, so every exchange agrees.
    let (matched, equal) = check_latencies(&out.exchanges, &log);
    assert_eq!(matched, out.exchanges.len(), "every exchange found in the log by client and start time");
    assert_eq!(matched - equal, 0, "{} of {matched} latencies differ from the log", matched - equal);
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn generated_pcap_matches_truth_per_method_status_route_and_body_bytes() {
    generated_case("gen.pcap", &[]);
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn generated_pcapng_matches_truth() {
    generated_case("gen.pcapng", &["--seed", "7"]);
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn generated_capture_with_5x_reordering_and_retransmissions_matches_truth() {
    generated_case("anom.pcap", &["--ooo", "0.01", "--retrans", "0.02", "--seed", "3"]);
}

#[test]
fn demo_fixture_matches_its_truth() {
    let gz = support::fixture("demo.pcap.gz");
    let file = std::fs::File::open(&gz).expect("fixture");
    let input = Input::Reader(Box::new(flate2::read::GzDecoder::new(file)));
    let (out, _) = read(&gz, input, &ReadOptions::default());
    let truth: Value = serde_json::from_slice(&std::fs::read(support::fixture("demo.truth.json")).unwrap()).unwrap();
    let log = log_lines(&support::fixture("demo.log.jsonl.gz"));
    check_against_truth(&out.exchanges, &truth, &log);
    let (matched, equal) = check_latencies(&out.exchanges, &log);
    assert_eq!((matched, equal), (out.exchanges.len(), out.exchanges.len()), "ttfb and total of every exchange");
}

#[test]
fn summary_path_without_bodies_counts_the_same_sizes() {
    let gz = support::fixture("demo.pcap.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()).read_to_end(&mut bytes).unwrap();
    let (with, _) = read(&gz, Input::Bytes(bytes.clone()), &ReadOptions::default());
    let fast = ReadOptions { keep_bodies: false, ..ReadOptions::default() };
    let (without, _) = read(&gz, Input::Bytes(bytes), &fast);
    assert_eq!(with.exchanges.len(), without.exchanges.len());
    for (a, b) in with.exchanges.iter().zip(&without.exchanges) {
        assert_eq!(a.request.target, b.request.target);
        assert!(b.request.body.content.is_empty());
        let (ra, rb) = (a.response.as_ref().unwrap(), b.response.as_ref().unwrap());
        assert!(rb.body.content.is_empty());
        assert_eq!(ra.body.wire_size, rb.body.wire_size);
        if ra.body.encoding.is_none() {
            assert_eq!(ra.body.size, rb.body.size);
        }
    }
    // The kept bodies decode: gzip bodies have content larger than their wire form.
    assert!(with.exchanges.iter().any(|e| {
        let b = &e.response.as_ref().unwrap().body;
        b.encoding.as_deref() == Some("gzip") && b.size > b.wire_size.unwrap() && b.decode_error.is_none()
    }));
}

/// (requests as "METHOD uri", response codes) in capture order.
type HttpView = (Vec<String>, Vec<u16>);

fn our_view(exchanges: &[Exchange]) -> HttpView {
    let mut reqs = Vec::new();
    let mut codes = Vec::new();
    for e in exchanges {
        let uri = match (&e.request.scheme, &e.request.host) {
            (Some(s), Some(h)) => format!("{s}://{h}{}", e.request.target),
            _ => e.request.target.clone(),
        };
        reqs.push(format!("{} {uri}", e.request.method));
        codes.extend(e.interim.iter().map(|r| r.status));
        codes.extend(e.status());
    }
    (reqs, codes)
}

fn tshark_view(path: &Path) -> HttpView {
    // apiscope uses TLS key log lines found in a section comment; tshark needs them as a file.
    let keys = comment_keylog(path);
    let mut cmd = Command::new("tshark");
    if let Some(k) = &keys {
        cmd.arg("-o").arg(format!("tls.keylog_file:{}", k.path().display()));
    }
    let out = cmd
        .args(["-o", "tcp.reassemble_out_of_order:TRUE", "-r"])
        .arg(path)
        .args(["-Y", "http", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"])
        .args(["-e", "http.response.code"])
        // A frame that completes several messages (pipelining, a segment holding two) gives
        // several values per field: join them with a byte no URI holds, and split them.
        .args(["-E", "occurrence=a", "-E", "aggregator=\u{1f}"])
        .output()
        .expect("run tshark");
    let mut reqs = Vec::new();
    let mut codes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let (Some(m), Some(u)) = (f.first(), f.get(1)) {
            for (m, u) in m.split('\u{1f}').zip(u.split('\u{1f}')) {
                if !m.is_empty() {
                    reqs.push(format!("{m} {u}"));
                }
            }
        }
        for c in f.get(2).into_iter().flat_map(|c| c.split('\u{1f}')) {
            if let Ok(c) = c.parse() {
                codes.push(c);
            }
        }
    }
    (reqs, codes)
}

/// The key log lines of a capture's section comment (`capinfos`), as a temporary file.
fn comment_keylog(path: &Path) -> Option<tempfile::NamedTempFile> {
    let out = Command::new("capinfos").arg("-k").arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter_map(|l| l.split_once("CLIENT_RANDOM ").map(|(_, rest)| rest)).collect();
    if lines.is_empty() {
        return None;
    }
    let f = tempfile::NamedTempFile::new().ok()?;
    let body: String = lines.iter().map(|l| format!("CLIENT_RANDOM {l}\n")).collect();
    std::fs::write(f.path(), body).ok()?;
    Some(f)
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn every_sample_capture_matches_tshark() {
    support::need_tool("tshark");
    let files = sample_captures();
    assert!(!files.is_empty());
    for f in files {
        let (out, _) = read_file(&f);
        let mut ours = our_view(&out.exchanges);
        let mut theirs = tshark_view(&f);
        // Pipelined and interleaved connections list in different orders; compare as
        // multisets.
        ours.0.sort();
        ours.1.sort_unstable();
        theirs.0.sort();
        theirs.1.sort_unstable();
        assert_eq!(ours, theirs, "{}", f.display());
    }
}

#[test]
fn sample_details_pipelining_continue_connect_ipv6() {
    let sample = |name: &str| support::need_sample(&format!("pcap/{name}"));
    let (out, _) = read_file(&sample("zeek-http-pipelined-requests.pcap"));
    assert!(out.exchanges.len() >= 5);
    assert!(out.exchanges.iter().all(|e| e.state == State::Complete && e.status() == Some(200)));

    let (out, _) = read_file(&sample("zeek-http-100-continue-chunked.pcap"));
    let e = &out.exchanges[0];
    assert_eq!(e.interim.iter().map(|r| r.status).collect::<Vec<_>>(), [100]);
    assert_eq!(e.status(), Some(200));
    assert!(e.request.body.size > 0);

    let (out, s) = read_file(&sample("zeek-http-connect-bsd-null.pcap"));
    assert_eq!(out.exchanges.len(), 1);
    assert_eq!(out.exchanges[0].request.method, "CONNECT");
    assert_eq!(counter(&s, "tunnel_connections"), 1);
    assert!(counter(&s, "opaque_bytes") > 0);

    let (out, _) = read_file(&sample("arkime-ipv6-http.pcap"));
    assert!(out.exchanges[0].client.unwrap().ip.is_ipv6());

    let (out, s) = read_file(&sample("zeek-tls-sll2.pcap"));
    assert!(out.exchanges.is_empty());
    assert!(counter(&s, "tls_connections") >= 1);
}

#[test]
#[cfg_attr(
    not(all(has_shared_gen, has_tcpdump, has_curl)),
    ignore = "needs ../shared/gen, python3, tcpdump and curl (apt install tcpdump curl)"
)]
fn real_loopback_capture_finds_every_request_the_script_makes() {
    let script = support::need_gen_dir().join("capture_real.sh");
    for t in ["tcpdump", "curl", "python3"] {
        support::need_tool(t);
    }
    let dir = support::tempdir();
    let pcap = dir.path().join("real.pcap");
    // A port unlikely to clash with other runs on this machine.
    let port = 20000 + (std::process::id() % 20000);
    let run = Command::new("bash").arg(&script).arg(&pcap).arg(port.to_string()).arg("1").output();
    let run = run.expect("bash runs capture_real.sh");
    assert!(
        run.status.success() && pcap.exists(),
        "capture_real.sh failed (tcpdump needs capture rights on lo): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (out, _) = read_file(&pcap);
    let count = |targets: &mut dyn Iterator<Item = String>| {
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        for key in targets {
            let key = if key.starts_with("DELETE /v1/orders/") { "DELETE /v1/orders/{id}".to_string() } else { key };
            bump(&mut seen, key, 1);
        }
        seen
    };
    let seen = count(&mut out.exchanges.iter().map(|e| format!("{} {}", e.request.method, e.request.target)));
    // What the script's curl part sends (the server itself logs nothing): 20 keep-alive
    // sessions of 6 GETs, 30 POST + 2 DELETE each, one rejected and one chunked POST, 5
    // streams, one HEAD, two junk paths; wrk adds GET /v1/quotes/AAPL, the start-up probe
    // GET /healthz. `true` = exactly, `false` = at least.
    let mut expect: Vec<(String, u64, bool)> = Vec::new();
    for k in ["GET /v1/quotes/MSFT", "GET /v1/quotes/NVDA", "GET /v1/quotes/APPL", "GET /v1/portfolio"] {
        expect.push((k.into(), 20, true));
    }
    for i in 1..=20 {
        expect.push((format!("GET /v1/instruments?page={i}"), 1, true));
    }
    expect.push(("POST /v1/orders".into(), 32, true));
    expect.push(("DELETE /v1/orders/{id}".into(), 60, true));
    expect.push(("GET /v1/marketdata/stream?symbols=AAPL".into(), 5, true));
    expect.push(("HEAD /v1/instruments?page=1".into(), 1, true));
    expect.push(("GET /.env".into(), 1, true));
    expect.push(("GET /wp-login.php".into(), 1, true));
    expect.push(("GET /healthz".into(), 1, false));
    expect.push(("GET /v1/quotes/AAPL".into(), 20, false));
    let meets = |seen: &BTreeMap<String, u64>, (k, want, exact): &(String, u64, bool)| {
        let n = seen.get(k).copied().unwrap_or(0);
        if *exact { n == *want } else { n >= *want }
    };
    // tshark reads the same file: what it holds is the ground truth. On a loaded machine
    // tcpdump can drop packets or a curl can time out (the script's `--max-time 10`), and
    // then the file itself lacks requests the script sent; those cannot be found by anyone.
    let mut complete = true;
    if cfg!(has_tshark) {
        support::need_tool("tshark");
        let (mut ours, _) = our_view(&out.exchanges);
        let (mut theirs, _) = tshark_view(&pcap);
        ours.sort();
        theirs.sort();
        if ours != theirs {
            // Under load the file can hold damage (drops, retransmissions) that tshark does
            // not get past while apiscope does. That is accepted only when every request
            // tshark finds is found too and each extra one is a request the script really
            // sent, within its exact count.
            let (mine, its) = (count(&mut ours.iter().cloned()), count(&mut theirs.iter().cloned()));
            for (k, n) in &its {
                assert!(mine.get(k).copied().unwrap_or(0) >= *n, "{k}: tshark finds {n}, apiscope {:?}", mine.get(k));
            }
            for (k, n) in &mine {
                let theirs_n = its.get(k).copied().unwrap_or(0);
                if *n > theirs_n {
                    let sent = expect.iter().find(|e| &e.0 == k);
                    assert!(
                        sent.is_some_and(|e| e.2 && *n <= e.1),
                        "{k}: apiscope finds {n}, tshark {theirs_n}, and the script sends {sent:?}"
                    );
                    eprintln!("note: {k}: tshark finds {theirs_n}, apiscope {n} (the script sends {sent:?})");
                }
            }
        }
        let in_file = count(&mut ours.iter().cloned());
        for e in &expect {
            if !meets(&in_file, e) {
                complete = false;
                eprintln!("note: the capture itself lacks {e:?} (tcpdump drops or a curl timeout under load)");
            }
        }
    }
    // Every request the file holds is found (above, against tshark); when the file holds
    // every request the script sent, each one is found with its exact count.
    if complete {
        for e in &expect {
            assert!(meets(&seen, e), "{e:?}: found {:?}", seen.get(&e.0));
        }
        // wrk stops with up to one request in flight per connection (2 connections): those
        // are kept without a response; everything else completes.
        let unfinished: Vec<_> = out.exchanges.iter().filter(|e| e.state != State::Complete).collect();
        assert!(unfinished.len() <= 2, "{} unfinished", unfinished.len());
        assert!(unfinished.iter().all(|e| e.request.target == "/v1/quotes/AAPL"), "only wrk's last requests");
    }
}
