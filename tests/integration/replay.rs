//! `apiscope replay` against real local servers on 127.0.0.1 written here: a plain HTTP/1.1
//! server that records what it receives and can be told to change its answers, reset
//! connections or hang; the same over TLS with a self-signed certificate; and an HTTP/2
//! server over TLS (ALPN h2). Recordings are HAR files built for each test.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiscope::export::{ExportOptions, Format, Redaction};
use apiscope::model::Exchange;
use serde_json::Value;

/// What the server got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answer from the routes.
    Answer,
    /// Read the request, then close the connection without answering.
    Reset,
    /// Read the request and never answer.
    Hang,
}

/// An answer: status, headers, body.
type Route = (u16, Vec<(String, String)>, String);

struct State {
    received: Mutex<Vec<Received>>,
    routes: Mutex<HashMap<String, Route>>,
    mode: Mutex<Mode>,
    counter: Mutex<u64>,
    done: AtomicBool,
}

/// A local HTTP/1.1 server (plain or TLS) on 127.0.0.1.
struct Server {
    port: u16,
    state: Arc<State>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.done.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Server {
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            received: Mutex::new(Vec::new()),
            routes: Mutex::new(HashMap::new()),
            mode: Mutex::new(Mode::Answer),
            counter: Mutex::new(0),
            done: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.done.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                    match tls {
                        Some(cfg) => {
                            let Ok(sc) = rustls::ServerConnection::new(cfg) else { return };
                            serve(rustls::StreamOwned::new(sc, conn), &st);
                        }
                        None => serve(conn, &st),
                    }
                });
            }
        });
        Self { port, state }
    }

    fn route(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        let h = headers.iter().map(|(n, v)| ((*n).to_string(), (*v).to_string())).collect();
        self.state.routes.lock().unwrap().insert(path.to_string(), (status, h, body.to_string()));
    }

    fn mode(&self, m: Mode) {
        *self.state.mode.lock().unwrap() = m;
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

/// Serve requests on one connection until it closes.
fn serve<S: Read + Write>(mut s: S, st: &State) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Some(req) = read_request(&mut s, &mut buf) else { return };
        st.received.lock().unwrap().push(req.clone());
        let mode = *st.mode.lock().unwrap();
        match mode {
            Mode::Reset => return,
            Mode::Hang => {
                while !st.done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Mode::Answer => {}
        }
        let n = {
            let mut c = st.counter.lock().unwrap();
            *c += 1;
            *c
        };
        let path = req.target.split('?').next().unwrap_or("").to_string();
        let (status, headers, body) = st.routes.lock().unwrap().get(&path).cloned().unwrap_or((
            404,
            vec![],
            "{\"error\":\"not found\"}".to_string(),
        ));
        let mut out = format!("HTTP/1.1 {status} X\r\nDate: day-{n}\r\nX-Request-Id: req-{n}\r\n");
        for (k, v) in &headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = if req.method == "HEAD" { String::new() } else { body };
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", if req.method == "HEAD" { 0 } else { body.len() }));
        if s.write_all(out.as_bytes()).is_err() || s.flush().is_err() {
            return;
        }
    }
}

fn read_request<S: Read>(s: &mut S, buf: &mut Vec<u8>) -> Option<Received> {
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = req.parse(buf) {
            let method = req.method?.to_string();
            let target = req.path?.to_string();
            let hs: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned()))
                .collect();
            let len: usize = hs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < n + len {
                let got = s.read(&mut chunk).ok().filter(|g| *g > 0)?;
                buf.extend_from_slice(&chunk[..got]);
            }
            let body = buf[n..n + len].to_vec();
            buf.drain(..n + len);
            return Some(Received { method, target, headers: hs, body });
        }
        let got = s.read(&mut chunk).ok().filter(|g| *g > 0)?;
        buf.extend_from_slice(&chunk[..got]);
    }
}

/// A recorded exchange as the server answered it before.
fn recorded(i: u64, method: &str, target: &str, status: u16, body: &str) -> Exchange {
    let mut b = Exchange::builder(method, target)
        .seq(i)
        .scheme("https")
        .host("api.example.com")
        .version("HTTP/1.1")
        .header("Host", "api.example.com")
        .header("Accept", "application/json")
        .header("Connection", "keep-alive")
        .status(status)
        .response_header("Content-Type", "application/json")
        .response_header("Date", "recorded-day")
        .response_header("X-Request-Id", "recorded")
        .response_body(body)
        .start_ms(1_700_000_000_000 + i as i64 * 10)
        .end(1_700_000_000_000_000_000 + i as i64 * 10_000_000 + 2_000_000);
    if method == "POST" || method == "PUT" {
        b = b.header("Content-Type", "application/json").body(format!("{{\"name\":\"item-{i}\"}}"));
    }
    b.build()
}

fn write_har(dir: &Path, name: &str, exchanges: &[Exchange]) -> PathBuf {
    let p = dir.join(name);
    let opts = ExportOptions { redaction: Redaction::off(), name: None };
    std::fs::write(&p, apiscope::export::to_bytes(Format::Har, exchanges, &opts)).unwrap();
    p
}

/// The standard recording: 3 safe requests, 2 unsafe ones.
fn journey() -> Vec<Exchange> {
    vec![
        recorded(0, "GET", "/v1/items/1", 200, r#"{"id":1,"price":5,"generatedAt":"t0"}"#),
        recorded(1, "GET", "/v1/items/2?expand=true", 200, r#"{"id":2,"price":7,"generatedAt":"t0"}"#),
        recorded(2, "POST", "/v1/items", 201, r#"{"id":3}"#),
        recorded(3, "HEAD", "/health", 200, ""),
        recorded(4, "DELETE", "/v1/items/3", 204, ""),
    ]
}

fn routes(s: &Server) {
    let json = [("Content-Type", "application/json")];
    s.route("/v1/items/1", 200, &json, r#"{"id":1,"price":5,"generatedAt":"t1"}"#);
    s.route("/v1/items/2", 200, &json, r#"{"price":7,"id":2,"generatedAt":"t1"}"#);
    s.route("/v1/items", 201, &json, r#"{"id":3}"#);
    s.route("/health", 200, &json, "");
    s.route("/v1/items/3", 204, &json, "");
}

/// A plain-HTTP test server with the journey's routes, and the journey recorded as a HAR in
/// a fresh folder (kept alive by the returned guard).
fn recorded_journey() -> (tempfile::TempDir, Server, PathBuf) {
    let dir = crate::support::tempdir();
    let s = Server::start(None);
    routes(&s);
    let har = write_har(dir.path(), "rec.har", &journey());
    (dir, s, har)
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .arg("replay")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run apiscope replay")
}

fn json_report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

fn methods_and_targets(r: &[Received]) -> Vec<(String, String)> {
    r.iter().map(|x| (x.method.clone(), x.target.clone())).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())).collect()
}

#[test]
fn only_safe_requests_are_sent_by_default_and_identical_answers_show_no_difference() {
    let (_dir, s, har) = recorded_journey();
    let o = replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--format", "json", "--ignore", "generatedAt"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        methods_and_targets(&s.received()),
        pairs(&[("GET", "/v1/items/1"), ("GET", "/v1/items/2?expand=true"), ("HEAD", "/health")])
    );
    let r = json_report(&o);
    assert_eq!(r["recorded"], 5);
    assert_eq!(r["held_back_unsafe"], 2);
    assert_eq!(r["sent"], 3);
    assert_eq!(r["answered"], 3);
    assert_eq!(r["identical"], 3, "{r:#}");
    assert_eq!(r["differing"], 0);
    assert_eq!(r["failed"], 0);
    // Hop-by-hop headers are not replayed; Host names the target.
    for got in s.received() {
        assert_eq!(got.header("host"), Some(format!("127.0.0.1:{}", s.port).as_str()));
        assert_eq!(got.header("accept"), Some("application/json"));
        assert_ne!(got.header("connection"), Some("keep-alive, keep-alive"));
    }
}

#[test]
fn unsafe_requests_are_sent_with_allow_unsafe_with_their_bodies() {
    let (_dir, s, har) = recorded_journey();
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("http"),
        "--allow-unsafe",
        "--format",
        "json",
        "--ignore",
        "generatedAt",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let got = s.received();
    assert_eq!(
        methods_and_targets(&got),
        pairs(&[
            ("GET", "/v1/items/1"),
            ("GET", "/v1/items/2?expand=true"),
            ("POST", "/v1/items"),
            ("HEAD", "/health"),
            ("DELETE", "/v1/items/3")
        ])
    );
    assert_eq!(got[2].body, br#"{"name":"item-2"}"#);
    assert_eq!(got[2].header("content-length"), Some("17"));
    assert!(got.iter().filter(|g| g.method != "POST").all(|g| g.body.is_empty()));
    let r = json_report(&o);
    assert_eq!(
        (r["sent"].as_u64(), r["identical"].as_u64(), r["held_back_unsafe"].as_u64()),
        (Some(5), Some(5), Some(0))
    );
}

#[test]
fn answers_changed_on_purpose_are_reported_grouped_by_kind() {
    let dir = crate::support::tempdir();
    let s = Server::start(None);
    routes(&s);
    s.route("/v1/items/1", 500, &[("Content-Type", "application/json")], r#"{"error":"boom"}"#);
    s.route(
        "/v1/items/2",
        200,
        &[("Content-Type", "application/json"), ("X-Version", "2")],
        r#"{"id":2,"price":8,"generatedAt":"t1"}"#,
    );
    let har = write_har(dir.path(), "rec.har", &journey());
    let o =
        replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--format", "json", "--ignore", "$.generatedAt"]);
    assert_eq!(o.status.code(), Some(1), "differences give exit code 1");
    let r = json_report(&o);
    assert_eq!((r["identical"].as_u64(), r["differing"].as_u64()), (Some(1), Some(2)), "{r:#}");
    let groups: Vec<(String, String, u64)> = r["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["kind"].as_str().unwrap().to_string(),
                g["subject"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("status", "200 → 500", 1),
        ("header_added", "x-version", 1),
        ("field_changed", "$.price", 1),
        ("field_removed", "$.id", 1),
        ("field_removed", "$.price", 1),
        ("field_added", "$.error", 1),
    ];
    for w in want {
        assert!(groups.contains(&(w.0.to_string(), w.1.to_string(), w.2)), "{w:?} not in {groups:?}");
    }
    assert!(
        !groups.iter().any(|g| g.1 == "date" || g.1 == "x-request-id" || g.1.contains("generatedAt")),
        "{groups:?}"
    );
    // The text report names them too.
    let o = replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--ignore", "generatedAt"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("status 200 → 500"), "{text}");
    assert!(text.contains("body field changed $.price"), "{text}");
    assert!(text.contains("$.price: 7 → 8"), "{text}");
}

#[test]
fn redacted_credentials_are_held_back_unless_a_header_supplies_them() {
    let dir = crate::support::tempdir();
    let s = Server::start(None);
    s.route("/me", 200, &[("Content-Type", "application/json")], "me");
    let mut me = recorded(0, "GET", "/me", 200, "me");
    me.request.headers.push("Authorization", "Bearer REDACTED");
    let mut other = recorded(1, "GET", "/me?api_key=REDACTED", 200, "me");
    other.request.headers.push("X-Trace", "1");
    let har = write_har(dir.path(), "rec.har", &[me, other]);
    let o = replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--format", "json"]);
    assert_eq!(s.received().len(), 0, "nothing redacted goes out");
    let r = json_report(&o);
    assert_eq!((r["sent"].as_u64(), r["skipped"].as_u64()), (Some(0), Some(2)));
    let reasons = r["skip_reasons"].to_string();
    assert!(reasons.contains("header Authorization was redacted"), "{reasons}");
    assert!(reasons.contains("query parameter api_key was redacted"), "{reasons}");
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("http"),
        "-H",
        "Authorization: Bearer fresh",
        "--format",
        "json",
    ]);
    let got = s.received();
    assert_eq!(got.len(), 1, "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(got[0].header("authorization"), Some("Bearer fresh"));
    assert_eq!(json_report(&o)["identical"], 1);
}

#[test]
fn passes_and_concurrency_send_each_request_that_many_times() {
    let (_dir, s, har) = recorded_journey();
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("http"),
        "--times",
        "4",
        "--concurrency",
        "3",
        "--format",
        "json",
        "--ignore",
        "generatedAt",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let got = s.received();
    assert_eq!(got.len(), 12);
    for t in ["/v1/items/1", "/v1/items/2?expand=true", "/health"] {
        assert_eq!(got.iter().filter(|g| g.target == t).count(), 4, "{t}");
    }
    let r = json_report(&o);
    assert_eq!((r["sent"].as_u64(), r["identical"].as_u64()), (Some(12), Some(12)));
    assert_eq!(r["endpoints"].as_array().unwrap().len(), 2, "{:#}", r["endpoints"]);
}

#[test]
fn keep_host_sends_the_recorded_host() {
    let dir = crate::support::tempdir();
    let s = Server::start(None);
    routes(&s);
    let har = write_har(dir.path(), "rec.har", &journey()[..1]);
    replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--keep-host"]);
    assert_eq!(s.received()[0].header("host"), Some("api.example.com"));
}

#[test]
fn closed_port_reset_and_hang_each_end_with_a_clear_outcome_and_a_report() {
    let dir = crate::support::tempdir();
    let har = write_har(dir.path(), "rec.har", &journey());
    // Closed port: bind, note the port, close.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = dir.path().join("closed.har");
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &format!("http://127.0.0.1:{closed}"),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let r = json_report(&o);
    assert_eq!((r["sent"].as_u64(), r["failed"].as_u64()), (Some(3), Some(3)));
    assert_eq!(r["failures"][0]["what"], "connection refused", "{r:#}");
    let h: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(h["log"]["entries"].as_array().unwrap().len(), 3);
    assert_eq!(h["log"]["entries"][0]["response"]["status"], 0);

    let s = Server::start(None);
    s.mode(Mode::Reset);
    let o = replay(&[har.to_str().unwrap(), "--target", &s.url("http"), "--format", "json"]);
    let r = json_report(&o);
    assert_eq!(r["failed"], 3, "{r:#}");
    assert_eq!(r["failures"][0]["what"], "connection reset or closed", "{r:#}");

    let s = Server::start(None);
    s.mode(Mode::Hang);
    let t = std::time::Instant::now();
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("http"),
        "--format",
        "json",
        "--timeout",
        "300ms",
        "--concurrency",
        "3",
    ]);
    let r = json_report(&o);
    assert_eq!(r["failed"], 3, "{r:#}");
    assert_eq!(r["failures"][0]["what"], "timed out", "{r:#}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(s.received().len(), 3);
}

#[test]
#[cfg(unix)]
fn ctrl_c_stops_the_run_and_the_report_and_out_file_are_still_written() {
    let dir = crate::support::tempdir();
    let s = Server::start(None);
    s.mode(Mode::Hang);
    let har = write_har(dir.path(), "rec.har", &journey());
    let out = dir.path().join("stopped.har");
    let child = Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["replay", har.to_str().unwrap(), "--target", &s.url("http"), "--format", "json", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1000 {
        if !s.received().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(s.received().len(), 1, "the first request hangs");
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json_report(&o);
    assert_eq!(
        (r["stopped"].as_bool(), r["sent"].as_u64(), r["interrupted"].as_u64()),
        (Some(true), Some(1), Some(1)),
        "{r:#}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("replay stopped"));
    let h: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(h["log"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(h["log"]["entries"][0]["response"]["_error"], "replay stopped");
    assert_eq!(s.received().len(), 1, "nothing was sent after the interrupt");
}

#[test]
fn a_whole_capture_is_replayed_request_for_request() {
    let capture = crate::support::fixture("demo.pcap.gz");
    let s = Server::start(None);
    let mut all = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&capture, &apiscope::ingest::ReadOptions::default(), &mut all).unwrap();
    let opts = apiscope::replay::plan::PlanOptions {
        target: s.url("http").parse().unwrap(),
        allow_unsafe: false,
        headers: vec![],
        keep_host: false,
    };
    let mut want: Vec<(String, String)> = all
        .exchanges
        .iter()
        .filter_map(|e| apiscope::replay::plan::prepare(e, &opts).ok())
        .map(|p| {
            let q = p.url.query().map(|q| format!("?{q}")).unwrap_or_default();
            (p.method, format!("{}{q}", p.url.path()))
        })
        .collect();
    assert!(want.len() > 1000, "{}", want.len());
    let o = replay(&[capture.to_str().unwrap(), "--target", &s.url("http"), "--concurrency", "8", "--format", "json"]);
    let r = json_report(&o);
    assert_eq!(r["recorded"].as_u64(), Some(all.exchanges.len() as u64));
    assert_eq!(r["sent"].as_u64(), Some(want.len() as u64));
    assert_eq!(r["answered"].as_u64(), Some(want.len() as u64), "{:#}", r["failures"]);
    assert_eq!(r["sent"].as_u64().unwrap() + r["skipped"].as_u64().unwrap(), all.exchanges.len() as u64);
    let mut got = methods_and_targets(&s.received());
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

fn tls_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let mut cfg = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(cfg)
}

#[test]
fn self_signed_tls_fails_clearly_without_insecure_and_answers_with_it() {
    let dir = crate::support::tempdir();
    let s = Server::start(Some(tls_config(&[b"http/1.1"])));
    routes(&s);
    let har = write_har(dir.path(), "rec.har", &journey());
    let o =
        replay(&[har.to_str().unwrap(), "--target", &s.url("https"), "--format", "json", "--ignore", "generatedAt"]);
    let r = json_report(&o);
    assert_eq!(r["failed"], 3, "{r:#}");
    assert_eq!(r["failures"][0]["what"], "TLS handshake failed", "{r:#}");
    assert!(r["failures"][0]["examples"][0].as_str().unwrap().contains("certificate"), "{r:#}");
    assert_eq!(s.received().len(), 0);
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("https"),
        "--insecure",
        "--format",
        "json",
        "--ignore",
        "generatedAt",
    ]);
    let r = json_report(&o);
    assert_eq!((r["identical"].as_u64(), r["failed"].as_u64()), (Some(3), Some(0)), "{r:#}");
    assert_eq!(s.received().len(), 3);
}

#[test]
fn replayed_exchanges_written_with_out_are_read_by_other_commands() {
    let (dir, s, har) = recorded_journey();
    let out = dir.path().join("replayed.har");
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &s.url("http"),
        "--out",
        out.to_str().unwrap(),
        "--allow-unsafe",
        "--ignore",
        "generatedAt",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flows = Command::new(env!("CARGO_BIN_EXE_apiscope")).args(["flows", out.to_str().unwrap()]).output().unwrap();
    assert!(flows.status.success());
    let text = String::from_utf8_lossy(&flows.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("127.0.0.1")).collect();
    assert_eq!(lines.len(), 5, "{text}");
    let stats = Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["stats", out.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let mut c = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&out, &apiscope::ingest::ReadOptions::default(), &mut c).unwrap();
    assert_eq!(c.exchanges.len(), 5);
    let post = c.exchanges.iter().find(|e| e.request.method == "POST").unwrap();
    assert_eq!(post.request.body.content, br#"{"name":"item-2"}"#);
    assert_eq!(post.status(), Some(201));
    assert!(post.comment.as_deref().unwrap_or("").contains("replay of exchange 2"));
}

#[test]
fn http2_is_negotiated_by_alpn_against_an_h2_server() {
    let dir = crate::support::tempdir();
    let (port, got) = h2_server(tls_config(&[b"h2"]));
    let har = write_har(dir.path(), "rec.har", &journey());
    let o = replay(&[
        har.to_str().unwrap(),
        "--target",
        &format!("https://127.0.0.1:{port}"),
        "--insecure",
        "--format",
        "json",
        "--concurrency",
        "3",
        "--ignore",
        "generatedAt",
    ]);
    let r = json_report(&o);
    assert_eq!(r["answered"], 3, "{r:#}");
    assert!(r["requests"].as_array().unwrap().iter().all(|x| x["version"] == "HTTP/2"), "{r:#}");
    let mut paths = got.lock().unwrap().clone();
    paths.sort();
    assert_eq!(paths, vec!["GET /v1/items/1", "GET /v1/items/2?expand=true", "HEAD /health"]);
}

/// An HTTP/2 server over TLS answering every request `200 {"id":1}`; records `METHOD path`.
fn h2_server(cfg: Arc<rustls::ServerConfig>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std_listener.local_addr().unwrap().port();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
            // Bounded: the test sends a few connections at most.
            for _ in 0..16 {
                let Ok(Ok((tcp, _))) = tokio::time::timeout(Duration::from_secs(30), listener.accept()).await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let g = g.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut conn) = h2::server::handshake(tls).await else { return };
                    while let Some(Ok((req, mut respond))) = conn.accept().await {
                        let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                        g.lock().unwrap().push(format!("{} {path}", req.method()));
                        let head = req.method() == http::Method::HEAD;
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .body(())
                            .unwrap();
                        let body = match path.as_str() {
                            "/v1/items/1" => r#"{"id":1,"price":5,"generatedAt":"x"}"#,
                            "/v1/items/2?expand=true" => r#"{"id":2,"price":7,"generatedAt":"x"}"#,
                            _ => "",
                        };
                        let Ok(mut send) = respond.send_response(resp, head || body.is_empty()) else { continue };
                        if !head && !body.is_empty() {
                            let _ = send.send_data(bytes::Bytes::from_static(body.as_bytes()), true);
                        }
                    }
                });
            }
        });
    });
    (port, got)
}

mod tui {
    use super::*;
    use apiscope::tui::app::{App, Options};
    use apiscope::tui::keymap::Context;
    use apiscope::tui::replaydialog::Stage;
    use apiscope::tui::theme::Theme;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn key(a: &mut App, c: KeyCode) {
        a.on_key(&KeyEvent::new(c, KeyModifiers::NONE));
    }

    fn screen_text(a: &mut App) -> String {
        a.resize(120, 30);
        let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
        t.draw(|f| apiscope::tui::views::render(a, f)).unwrap();
        let b = t.backend().buffer();
        let mut s = String::new();
        for y in 0..b.area.height {
            for x in 0..b.area.width {
                s.push_str(b[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn app(target: Option<&str>) -> App {
        let mut a = App::new(Options {
            theme: Theme::new(false),
            replay_target: target.map(|t| t.parse().unwrap()),
            ..Options::default()
        });
        a.load_all(journey());
        a
    }

    /// Tick until the replay ends (at most 20 s).
    fn wait_done(a: &mut App) {
        for _ in 0..2000 {
            a.tick();
            if a.replay.as_ref().is_some_and(|d| !d.running()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the replay did not end");
    }

    #[test]
    fn r_confirms_the_target_then_sends_the_marked_flows_and_lists_outcomes() {
        let s = Server::start(None);
        routes(&s);
        let target = s.url("http");
        let mut a = app(Some(&target));
        // Mark flows 0 (GET) and 2 (POST).
        key(&mut a, KeyCode::Char('m'));
        key(&mut a, KeyCode::Char('j'));
        key(&mut a, KeyCode::Char('j'));
        key(&mut a, KeyCode::Char('m'));
        key(&mut a, KeyCode::Char('r'));
        assert_eq!(a.context(), Context::Replay);
        let text = screen_text(&mut a);
        assert!(text.contains(&format!("send to  {target}")), "{text}");
        assert!(text.contains("marked flows"), "{text}");
        assert!(text.contains("GET, HEAD, OPTIONS only"), "{text}");
        assert!(s.received().is_empty(), "nothing is sent before the confirmation");
        key(&mut a, KeyCode::Enter);
        wait_done(&mut a);
        assert_eq!(methods_and_targets(&s.received()), pairs(&[("GET", "/v1/items/1")]));
        let text = screen_text(&mut a);
        assert!(text.contains("replayed 1 to"), "{text}");
        assert!(text.contains("held back 1: POST is not a safe method"), "{text}");
        assert!(text.contains("differing") && text.contains("GET http://127.0.0.1"), "{text}");
        // Again with unsafe methods allowed: the POST goes too, with its body.
        key(&mut a, KeyCode::Esc);
        assert!(a.replay.is_none());
        key(&mut a, KeyCode::Char('r'));
        key(&mut a, KeyCode::Char('u'));
        assert!(screen_text(&mut a).contains("all methods"));
        key(&mut a, KeyCode::Enter);
        wait_done(&mut a);
        let got = s.received();
        assert_eq!(got.len(), 3);
        assert_eq!((got[2].method.as_str(), got[2].body.as_slice()), ("POST", br#"{"name":"item-2"}"#.as_slice()));
        match &a.replay.as_ref().unwrap().stage {
            Stage::Done(r) => assert_eq!((r.sent, r.answered, r.skipped), (2, 2, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_a_target_r_asks_for_one_and_refuses_a_bad_url() {
        let s = Server::start(None);
        routes(&s);
        let mut a = app(None);
        key(&mut a, KeyCode::Char('r'));
        assert!(a.prompt.is_some());
        for c in "bad host".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Enter);
        assert!(a.replay.is_none());
        assert!(a.message.as_ref().unwrap().0.contains("bad target"), "{:?}", a.message);
        key(&mut a, KeyCode::Char('r'));
        let url = format!("127.0.0.1:{}", s.port);
        for c in url.chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.context(), Context::Replay);
        key(&mut a, KeyCode::Enter);
        wait_done(&mut a);
        assert_eq!(s.received().len(), 1, "the focused flow only");
        assert_eq!(a.replay_target.as_ref().unwrap().to_string(), s.url("http"), "kept for the next replay");
    }

    #[test]
    fn esc_while_running_stops_the_replay_and_still_reports() {
        let s = Server::start(None);
        s.mode(Mode::Hang);
        let mut a = app(Some(&s.url("http")));
        key(&mut a, KeyCode::Char('r'));
        key(&mut a, KeyCode::Char('s'));
        key(&mut a, KeyCode::Char('s'));
        assert!(screen_text(&mut a).contains("shown flows"));
        key(&mut a, KeyCode::Enter);
        for _ in 0..500 {
            if !s.received().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        key(&mut a, KeyCode::Esc);
        assert!(a.replay.is_some(), "esc stops first, the report stays");
        wait_done(&mut a);
        match &a.replay.as_ref().unwrap().stage {
            Stage::Done(r) => {
                assert!(r.stopped);
                assert_eq!(r.interrupted, 1, "{r:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
