//! HTTPS in captures: the real key-in-comment sample and its DSB copy against tshark, a real
//! loopback HTTPS capture in eight suites against its truth file, outcomes without keys or
//! with wrong keys, damaged inputs, and records split across TCP segments at any boundary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use apiscope::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use apiscope::capture::{CaptureOptions, Input};
use apiscope::ingest::capture::{HttpAdapter, read_capture_with_keys};
use apiscope::ingest::{Collect, ReadOptions, ReadSummary};
use apiscope::model::{Diagnostic, Exchange, Nanos};
use apiscope::tls::{KeyLog, TlsLayer};
use proptest::prelude::*;

use crate::support::{fixture, need_sample};

fn keys(files: &[PathBuf]) -> Arc<KeyLog> {
    let mut k = KeyLog::new();
    for f in files {
        k.add_file(f).unwrap();
    }
    Arc::new(k)
}

fn read(path: &Path, keys: Arc<KeyLog>) -> (Collect, ReadSummary) {
    let mut c = Collect::default();
    let bytes = std::fs::read(path).unwrap();
    let s = read_capture_with_keys(Input::Bytes(bytes), path, &ReadOptions::default(), keys, &mut c).unwrap();
    (c, s)
}

fn counter(s: &ReadSummary, name: &str) -> u64 {
    s.counters.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
}

fn loopback() -> (PathBuf, PathBuf) {
    (fixture("tls/loopback-https.pcap"), fixture("tls/loopback-https.keylog"))
}

/// `(method, uri, status)` per request as tshark decrypts it, in frame order.
fn tshark_requests(path: &Path, keylog: Option<&Path>) -> Vec<(String, String)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path);
    if let Some(k) = keylog {
        cmd.arg("-o").arg(format!("tls.keylog_file:{}", k.display()));
    }
    cmd.args(["-Y", "http.request", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            (f.next().unwrap_or("").to_string(), f.next().unwrap_or("").to_string())
        })
        .collect()
}

fn assert_lekensteyn(c: &Collect, s: &ReadSummary) {
    assert_eq!(c.exchanges.len(), 1);
    let ex = &c.exchanges[0];
    assert_eq!((ex.request.method.as_str(), ex.request.target.as_str()), ("GET", "/test.php"));
    assert_eq!(ex.status(), Some(200));
    assert_eq!(ex.request.scheme.as_deref(), Some("https"));
    assert_eq!(ex.host(), "lekensteyn.nl");
    let tls = ex.tls.as_deref().expect("tls info");
    assert_eq!(tls.version, "TLS 1.2");
    assert_eq!(tls.cipher, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    // tshark: request in frame 13 at .256125858, last response frame 50 at .320076618.
    assert_eq!(ex.timing.start(), Some(1_427_210_628_256_125_858));
    assert_eq!(ex.provenance.packets.first(), Some(&13));
    assert_eq!(ex.provenance.packets.last(), Some(&50));
    let body = &ex.response.as_ref().unwrap().body;
    assert_eq!(body.size, 32_611);
    assert!(!body.truncated);
    assert_eq!((counter(s, "tls_decrypted"), counter(s, "tls_sessions")), (1, 1));
}

/// The sample's key, as its section comment gives it.
const LEKENSTEYN_KEY: &str = "CLIENT_RANDOM C2D5BECDA8C94E94BF08A2B93C266939819873655DE4CC7316A027696EF4DE10 \
                              79EE43AD37BC4D23E7411F725DA746106D7E7D0DC747866C649438E94B28618E4F3D6D35CDCFDF26ABB44F0599EA9D2F\n";

#[test]
#[cfg_attr(not(has_shared_samples), ignore = "needs ../shared/samples (sample not in fixtures/: licence unclear)")]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn key_in_section_comment_sample_gives_tsharks_exchange() {
    let p = need_sample("pcap/lekensteyn-https-chunked-key-in-comment.pcapng");
    let (c, s) = read(&p, Arc::default());
    assert_lekensteyn(&c, &s);
    let dir = crate::support::tempdir();
    let k = dir.path().join("keys");
    std::fs::write(&k, LEKENSTEYN_KEY).unwrap();
    assert_eq!(tshark_requests(&p, Some(&k)), vec![("GET".to_string(), "/test.php".to_string())]);
}

#[test]
#[cfg_attr(not(has_shared_samples), ignore = "needs ../shared/samples (sample not in fixtures/: licence unclear)")]
#[cfg_attr(not(has_tshark), ignore = "needs editcap and tshark (apt install tshark)")]
fn decryption_secrets_block_copy_gives_the_same_exchange() {
    // The same capture with its key moved from the section comment into a Decryption
    // Secrets Block, made as Wireshark users make one.
    let sample = need_sample("pcap/lekensteyn-https-chunked-key-in-comment.pcapng");
    let dir = crate::support::tempdir();
    let k = dir.path().join("keys");
    std::fs::write(&k, LEKENSTEYN_KEY).unwrap();
    let p = dir.path().join("dsb.pcapng");
    let made = Command::new("editcap")
        .arg("--discard-capture-comment")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", k.display()))
        .arg(&sample)
        .arg(&p)
        .output()
        .expect("editcap runs");
    assert!(made.status.success(), "editcap: {}", String::from_utf8_lossy(&made.stderr));
    let (c, s) = read(&p, Arc::default());
    assert_lekensteyn(&c, &s);
    assert_eq!(tshark_requests(&p, None), vec![("GET".to_string(), "/test.php".to_string())]);
}

#[test]
fn loopback_capture_finds_every_request_of_its_truth_file_in_all_eight_suites() {
    let (p, k) = loopback();
    let (c, s) = read(&p, keys(std::slice::from_ref(&k)));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tls/loopback-https.truth.json")).unwrap()).unwrap();
    assert_eq!(c.exchanges.len() as u64, truth["requests"].as_u64().unwrap());
    assert_eq!(c.exchanges.len(), 48);
    assert!(c.exchanges.iter().all(|e| !e.is_failed() && e.request.scheme.as_deref() == Some("https")));
    // Per suite: 6 requests (4 kept alive, a POST, a stream), as the truth file says.
    let mut per_suite: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for e in &c.exchanges {
        *per_suite.entry(e.tls.as_ref().unwrap().cipher.clone()).or_default() += 1;
    }
    assert_eq!(per_suite.len(), 8, "{per_suite:?}");
    assert!(c.exchanges.iter().all(|e| e.tls.as_ref().unwrap().alpn.as_deref() == Some("http/1.1")));
    assert!(per_suite.values().all(|&n| n == 6), "{per_suite:?}");
    for name in [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    ] {
        assert!(per_suite.contains_key(name), "{name} missing: {per_suite:?}");
    }
    let status = |code: u16| c.exchanges.iter().filter(|e| e.status() == Some(code)).count();
    assert_eq!((status(200), status(201), status(404)), (32, 8, 8));
    // Bodies: the POST answers with the order it created; gzip bodies are decoded.
    for e in c.exchanges.iter().filter(|e| e.request.method == "POST") {
        let body = String::from_utf8_lossy(&e.response.as_ref().unwrap().body.content).into_owned();
        assert!(body.contains("\"symbol\"") && body.contains("MSFT"), "{body}");
        assert!(String::from_utf8_lossy(&e.request.body.content).contains("limit_price"));
    }
    // The healthz probe before the key log was cleared has no key: counted, not silent.
    assert_eq!(counter(&s, "tls_decrypted"), 24);
    assert_eq!(counter(&s, "tls_no_key"), 1);
    assert!(c.diagnostics.iter().any(|d| d.code == "tls.no_key"));
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn loopback_capture_gives_as_many_requests_as_tshark_decrypts() {
    let (p, k) = loopback();
    assert_eq!(tshark_requests(&p, Some(&k)).len(), 48);
}

#[test]
fn without_keys_tls_connections_pass_through_and_are_counted_as_no_key() {
    let (p, _) = loopback();
    let (c, s) = read(&p, Arc::default());
    assert_eq!(c.exchanges.len(), 0);
    assert_eq!(counter(&s, "tls_no_key"), 25);
    // The HTTP layer sees the ciphertext exactly as before decryption existed.
    assert_eq!(counter(&s, "tls_connections"), 25);
    // Ten connections named, then one line for the other fifteen.
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == "tls.no_key").count(), 11);
}

#[test]
fn a_wrong_key_is_reported_as_decryption_failed_and_nothing_panics() {
    let (p, k) = loopback();
    let text = std::fs::read_to_string(&k).unwrap();
    // Flip the last hex digit of every secret.
    let wrong: String = text
        .lines()
        .map(|l| {
            let mut s = l.to_string();
            let last = s.pop().map_or('0', |ch| if ch == '0' { '1' } else { '0' });
            s.push(last);
            s + "\n"
        })
        .collect();
    let dir = crate::support::tempdir();
    let wk = dir.path().join("wrong.keylog");
    std::fs::write(&wk, wrong).unwrap();
    let (c, s) = read(&p, keys(&[wk]));
    assert_eq!(c.exchanges.len(), 0);
    assert_eq!(counter(&s, "tls_decrypt_failed"), 24);
    assert!(c.diagnostics.iter().any(|d| d.code == "tls.decrypt_failed" && d.message.contains("wrong")));
}

#[test]
fn truncated_and_damaged_captures_never_panic_and_keep_what_decrypts() {
    let (p, k) = loopback();
    let keys = keys(&[k]);
    let bytes = std::fs::read(&p).unwrap();
    let mut found = Vec::new();
    for cut in (24..bytes.len()).step_by(997).chain([bytes.len()]) {
        let mut c = Collect::default();
        let _ = read_capture_with_keys(
            Input::Bytes(bytes[..cut].to_vec()),
            &p,
            &ReadOptions::default(),
            keys.clone(),
            &mut c,
        );
        found.push(c.exchanges.len());
    }
    // A longer prefix never loses a request the shorter one had, and the whole file has all.
    let requests = |n: usize| n;
    assert!(found.windows(2).all(|w| requests(w[1]) + 1 >= requests(w[0])), "{found:?}");
    assert_eq!(found.last(), Some(&48));
    // Garbage in TLS payloads: flip bytes all over the capture after the headers.
    let mut damaged = bytes.clone();
    for i in (200..damaged.len()).step_by(1531) {
        damaged[i] ^= 0x5a;
    }
    let mut c = Collect::default();
    let _ = read_capture_with_keys(Input::Bytes(damaged), &p, &ReadOptions::default(), keys, &mut c);
    assert!(c.exchanges.len() < 48);
}

/// A handler that records the stream events a capture produces.
#[derive(Default)]
struct Recorder {
    events: Vec<Ev>,
}

#[derive(Clone)]
enum Ev {
    Open(ConnInfo),
    Data(ConnInfo, Dir, Vec<u8>, Nanos, u64),
    Gap(ConnInfo, Dir, u64),
    Close(ConnInfo),
}

impl StreamHandler for Recorder {
    fn on_open(&mut self, conn: &ConnInfo, _ts: Nanos) {
        self.events.push(Ev::Open(conn.clone()));
    }
    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        self.events.push(Ev::Data(conn.clone(), dir, data.to_vec(), ts, packet));
    }
    fn on_gap(&mut self, _conn: &ConnInfo, _dir: Dir, _len: u64, _ts: Nanos) {}
    fn on_close(&mut self, conn: &ConnInfo, _how: CloseKind, _ts: Nanos) {
        self.events.push(Ev::Close(conn.clone()));
    }
    fn on_diagnostic(&mut self, _d: Diagnostic) {}
}

fn recorded() -> Vec<Ev> {
    let (p, _) = loopback();
    let mut r = Recorder::default();
    apiscope::capture::read_packets(Input::Bytes(std::fs::read(&p).unwrap()), &CaptureOptions::default(), &mut r)
        .unwrap();
    r.events
}

/// Play `events` into a decrypting layer, re-cutting every run of same-direction bytes at
/// the sizes in `cuts` (cycled); returns `(method, target, status, response body)` per exchange.
fn replay(events: &[Ev], keys: &Arc<KeyLog>, cuts: &[usize]) -> Vec<(String, String, Option<u16>, Vec<u8>)> {
    replay_full(events, keys, cuts).iter().map(summary).collect()
}

fn replay_full(events: &[Ev], keys: &Arc<KeyLog>, cuts: &[usize]) -> Vec<Exchange> {
    let mut sink = Collect::default();
    {
        let adapter = HttpAdapter::new(Arc::from("x"), ReadOptions::default(), &mut sink);
        let mut layer = TlsLayer::new(adapter, keys.clone());
        let mut k = 0usize;
        let mut i = 0;
        while i < events.len() {
            match &events[i] {
                Ev::Open(c) => layer.on_open(c, 0),
                Ev::Close(c) => layer.on_close(c, CloseKind::Fin, 0),
                Ev::Gap(c, d, len) => layer.on_gap(c, *d, *len, 0),
                Ev::Data(c, d, _, ts, pkt) => {
                    // Join the run of same-connection, same-direction chunks, then re-cut it.
                    let mut run = Vec::new();
                    let mut j = i;
                    while let Some(Ev::Data(c2, d2, b, _, _)) = events.get(j) {
                        if c2.id != c.id || d2 != d {
                            break;
                        }
                        run.extend_from_slice(b);
                        j += 1;
                    }
                    let mut at = 0;
                    while at < run.len() {
                        let n = cuts[k % cuts.len()].max(1).min(run.len() - at);
                        k += 1;
                        layer.on_data(c, *d, &run[at..at + n], *ts, *pkt);
                        at += n;
                    }
                    i = j;
                    continue;
                }
            }
            i += 1;
        }
        let (adapter, _) = layer.finish();
        adapter.finish();
    }
    sink.exchanges
}

#[test]
fn a_lost_segment_costs_only_its_own_response_and_decryption_resumes_after_the_hole() {
    let mut events = recorded();
    let keys = keys(&[loopback().1]);
    let whole = replay_full(&events, &keys, &[usize::MAX]);
    // Every keep-alive connection (4 GETs): lose the second response's segment.
    let mut per_conn: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &whole {
        *per_conn.entry(e.provenance.connection.clone().unwrap()).or_default() += 1;
    }
    let keepalive: Vec<u64> = per_conn.iter().filter(|(_, n)| **n == 4).map(|(c, _)| c.parse().unwrap()).collect();
    assert_eq!(keepalive.len(), 8);
    for id in &keepalive {
        // The packet that ended the second response on this connection.
        let second =
            whole.iter().filter(|e| e.provenance.connection.as_deref() == Some(&id.to_string())).nth(1).unwrap();
        let last = *second.provenance.packets.last().unwrap();
        let at = events
            .iter()
            .position(|e| matches!(e, Ev::Data(c, Dir::ToClient, _, _, p) if c.id == *id && *p == last))
            .unwrap();
        if let Ev::Data(c, d, b, _, _) = events[at].clone() {
            events[at] = Ev::Gap(c, d, b.len() as u64);
        }
    }
    let lossy = replay_full(&events, &keys, &[usize::MAX]);
    assert_eq!(lossy.len(), 48);
    for id in &keepalive {
        let conn: Vec<&Exchange> =
            lossy.iter().filter(|e| e.provenance.connection.as_deref() == Some(&id.to_string())).collect();
        assert_eq!(conn.len(), 4);
        let answered = conn.iter().filter(|e| e.status().is_some()).count();
        assert_eq!(answered, 3, "connection {id}: {:?}", conn.iter().map(|e| e.status()).collect::<Vec<_>>());
        // The responses after the hole were decrypted: the last one's body is intact (the
        // HTTP layer pairs them by order, so the lost response shifts the pairing).
        let full: Vec<&Exchange> =
            whole.iter().filter(|e| e.provenance.connection.as_deref() == Some(&id.to_string())).collect();
        let last_body = |e: &Exchange| e.response.as_ref().map(|r| r.body.content.clone());
        assert_eq!(last_body(conn[2]), last_body(full[3]), "connection {id}");
        assert_eq!(conn[1].status(), full[2].status());
    }
}

fn summary(e: &Exchange) -> (String, String, Option<u16>, Vec<u8>) {
    (
        e.request.method.clone(),
        e.request.target.clone(),
        e.status(),
        e.response.as_ref().map(|r| r.body.content.clone()).unwrap_or_default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn records_split_across_segments_at_any_boundary_give_the_same_exchanges(
        cuts in proptest::collection::vec(1usize..2000, 1..16)
    ) {
        let events = recorded();
        let keys = keys(&[loopback().1]);
        let whole = replay(&events, &keys, &[usize::MAX]);
        prop_assert_eq!(whole.len(), 48);
        let split = replay(&events, &keys, &cuts);
        prop_assert_eq!(split, whole);
    }
}

fn apiscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apiscope")).args(args).env_remove("SSLKEYLOGFILE").output().unwrap()
}

#[test]
fn keylog_option_decrypts_and_a_key_log_without_usable_lines_is_an_error_naming_it() {
    let (p, k) = loopback();
    let (p, k) = (p.to_str().unwrap(), k.to_str().unwrap());
    let out = apiscope(&["flows", "--summary", "--keylog", k, p]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.split_whitespace().eq(["tls_decrypted", "24"])), "{text}");
    assert!(text.lines().any(|l| l.split_whitespace().eq(["http_exchanges", "48"])), "{text}");
    let dir = crate::support::tempdir();
    let junk = dir.path().join("junk.keys");
    std::fs::write(&junk, "# nothing\nCLIENT_RANDOM 00 11\n").unwrap();
    let out = apiscope(&["flows", "--keylog", junk.to_str().unwrap(), p]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.keys") && err.contains("no usable line"), "{err}");
    let out = apiscope(&["stats", "--keylog", "/nonexistent/keys.log", p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/keys.log"));
}

fn connect_tunnel() -> (PathBuf, PathBuf) {
    (fixture("tls/connect-tunnel.pcap"), fixture("tls/connect-tunnel.keylog"))
}

#[test]
fn tls_inside_connect_tunnels_is_decrypted_after_the_proxys_answer() {
    let (p, k) = connect_tunnel();
    let (c, s) = read(&p, keys(std::slice::from_ref(&k)));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tls/connect-tunnel.truth.json")).unwrap()).unwrap();
    let connects: Vec<_> = c.exchanges.iter().filter(|e| e.request.method == "CONNECT").collect();
    assert_eq!(connects.len() as u64, truth["connect_requests"].as_u64().unwrap());
    assert!(connects.iter().all(|e| e.status() == Some(200) && e.tls.is_none()));
    let inner: Vec<_> = c.exchanges.iter().filter(|e| e.request.method != "CONNECT").collect();
    assert_eq!(inner.len() as u64, truth["tunnelled_requests"].as_u64().unwrap());
    let paths: Vec<&str> = inner.iter().map(|e| e.request.target.as_str()).collect();
    assert_eq!(paths, ["/v1/quotes/AAPL", "/v1/portfolio", "/v1/quotes/APPL", "/v1/orders", "/v1/instruments?page=2"]);
    assert!(inner.iter().all(|e| e.tls.is_some() && e.request.scheme.as_deref() == Some("https")));
    let ciphers: std::collections::BTreeSet<&str> =
        inner.iter().map(|e| e.tls.as_ref().unwrap().cipher.as_str()).collect();
    assert!(
        ciphers.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") && ciphers.contains("TLS_CHACHA20_POLY1305_SHA256")
    );
    assert_eq!(counter(&s, "tls_in_connect_tunnels"), 3);
    assert_eq!(counter(&s, "tls_decrypted"), 3);
}

#[test]
fn tls_inside_connect_tunnels_without_keys_stays_an_opaque_tunnel() {
    let (p, _) = connect_tunnel();
    let (c, s) = read(&p, Arc::default());
    assert_eq!(c.exchanges.len(), 3);
    assert!(c.exchanges.iter().all(|e| e.request.method == "CONNECT"));
    assert_eq!(counter(&s, "tls_no_key"), 3);
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn tls_inside_connect_tunnels_gives_the_requests_tshark_decrypts() {
    let (p, k) = connect_tunnel();
    let (c, _) = read(&p, keys(std::slice::from_ref(&k)));
    let ours: Vec<(String, String)> =
        c.exchanges.iter().map(|e| (e.request.method.clone(), e.request.target.clone())).collect();
    assert_eq!(ours, tshark_requests(&p, Some(&k)));
}
