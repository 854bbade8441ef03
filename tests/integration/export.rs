//! Integration tests: export. Golden output of every format on hand-built exchanges, HAR
//! export read back through the ingest HAR reader, redaction on and off, shell output that
//! bash turns back into exactly the captured bytes however hostile they are, Postman
//! structure, and the `apiscope export` command.

use std::process::Command;

use apiscope::export::{self, ExportOptions, Format, Redaction, shell};
use apiscope::ingest::{self, Collect, ReadOptions};
use apiscope::model::{Body, Exchange, State, Timing};

use crate::support;

fn order() -> Exchange {
    Exchange::builder("POST", "/v1/orders?api_key=k123&expand=items")
        .seq(7)
        .scheme("https")
        .host("api.example.com")
        .version("HTTP/1.1")
        .header("Host", "api.example.com")
        .header("Authorization", "Bearer eyJhbGciOi.secret")
        .header("Content-Type", "application/json")
        .header("Content-Length", "12")
        .body(b"{\"qty\":3}")
        .status(201)
        .reason("Created")
        .response_version("HTTP/1.1")
        .response_header("Content-Type", "application/json")
        .response_header("Set-Cookie", "sid=abc; Path=/")
        .response_body(b"{\"id\":\"ord_1\"}")
        .timing(Timing {
            request_start: Some(1_700_000_000_000_000_000),
            request_end: Some(1_700_000_000_001_000_000),
            response_start: Some(1_700_000_000_051_250_000),
            response_end: Some(1_700_000_000_052_000_000),
        })
        .client("198.18.0.7:50123".parse().unwrap())
        .server("192.0.2.10:443".parse().unwrap())
        .build()
}

fn out(f: Format, exs: &[Exchange], redaction: Redaction) -> String {
    String::from_utf8(export::to_bytes(f, exs, &ExportOptions { redaction, name: None })).unwrap()
}

/// The commands of a curl or HTTPie export, without its three-line opening comment.
fn commands(f: Format, exs: &[Exchange], redaction: Redaction) -> String {
    let all = out(f, exs, redaction);
    let mut lines = all.splitn(4, '\n');
    let first = lines.next().unwrap();
    assert!(first.starts_with(&format!("# apiscope export ({f})")), "{all}");
    assert!(lines.next().unwrap().starts_with("# ") && lines.next().unwrap().starts_with("# "), "{all}");
    lines.next().unwrap_or("").to_string()
}

#[test]
fn curl_golden_redacted_and_clear() {
    assert_eq!(
        commands(Format::Curl, &[order()], Redaction::default()),
        "# 7 POST https://api.example.com/v1/orders?api_key=REDACTED&expand=items\n\
         curl 'https://api.example.com/v1/orders?api_key=REDACTED&expand=items' \
         -H 'Authorization: Bearer REDACTED' -H 'Content-Type: application/json' --data-raw '{\"qty\":3}'\n"
    );
    let clear = out(Format::Curl, &[order()], Redaction::off());
    assert!(clear.contains("api_key=k123") && clear.contains("Bearer eyJhbGciOi.secret"), "{clear}");
}

#[test]
fn httpie_golden() {
    assert_eq!(
        commands(Format::Httpie, &[order()], Redaction::default()),
        "# 7 POST https://api.example.com/v1/orders?api_key=REDACTED&expand=items\n\
         http --ignore-stdin --raw '{\"qty\":3}' -- POST 'https://api.example.com/v1/orders?api_key=REDACTED&expand=items' \
         'Authorization:Bearer REDACTED' 'Content-Type:application/json'\n"
    );
}

#[test]
fn raw_golden() {
    assert_eq!(
        out(Format::Raw, &[order()], Redaction::default()),
        "POST /v1/orders?api_key=REDACTED&expand=items HTTP/1.1\r\nHost: api.example.com\r\n\
         Authorization: Bearer REDACTED\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"qty\":3}\r\n\
         HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nSet-Cookie: sid=REDACTED; Path=/\r\n\r\n{\"id\":\"ord_1\"}"
    );
}

#[test]
fn har_is_a_valid_document_with_redacted_secrets() {
    let text = out(Format::Har, &[order()], Redaction::default());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let log = &v["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "apiscope");
    let e = &log["entries"][0];
    for k in ["startedDateTime", "time", "request", "response", "cache", "timings"] {
        assert!(e.get(k).is_some(), "entry.{k}");
    }
    for k in ["method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"] {
        assert!(e["request"].get(k).is_some(), "request.{k}");
    }
    for k in [
        "status",
        "statusText",
        "httpVersion",
        "cookies",
        "headers",
        "content",
        "redirectURL",
        "headersSize",
        "bodySize",
    ] {
        assert!(e["response"].get(k).is_some(), "response.{k}");
    }
    assert_eq!(e["startedDateTime"], "2023-11-14T22:13:20Z");
    assert_eq!(e["time"], 52.0);
    assert_eq!(e["timings"]["wait"], 50.25);
    assert!(!text.contains("k123") && !text.contains("eyJhbGciOi.secret") && !text.contains("sid=abc"));
    assert_eq!(e["request"]["queryString"][0]["value"], "REDACTED");
}

fn read_back(har: &[u8]) -> Vec<Exchange> {
    let dir = support::tempdir();
    let p = dir.path().join("x.har");
    std::fs::write(&p, har).unwrap();
    let mut c = Collect::default();
    ingest::read_path(&p, &ReadOptions::default(), &mut c).unwrap();
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    c.exchanges
}

fn assert_same(a: &Exchange, b: &Exchange) {
    let (qa, qb) = (&a.request, &b.request);
    assert_eq!(qa.method, qb.method);
    assert_eq!(qa.scheme, qb.scheme);
    assert_eq!(qa.host, qb.host);
    assert_eq!(qa.target, qb.target);
    assert_eq!(qa.version, qb.version);
    assert_eq!(qa.headers, qb.headers);
    assert_eq!(qa.body.content, qb.body.content);
    if a.response.is_some() {
        assert_eq!(a.timing, b.timing);
    } else {
        // HAR has no "unknown" total time, so a reader sees `time: 0` for an exchange that
        // never got a response; the start is what survives.
        assert_eq!(a.timing.request_start, b.timing.request_start);
    }
    assert_eq!(a.server.map(|s| s.ip), b.server.map(|s| s.ip));
    assert_eq!(a.comment, b.comment);
    match (&a.response, &b.response) {
        (Some(ra), Some(rb)) => {
            assert_eq!(ra.status, rb.status);
            assert_eq!(ra.reason, rb.reason);
            assert_eq!(ra.version, rb.version);
            assert_eq!(ra.headers, rb.headers);
            assert_eq!(ra.body.content, rb.body.content);
            assert_eq!(ra.body.size, rb.body.size);
        }
        (None, None) => {}
        (x, y) => panic!("response {x:?} vs {y:?}"),
    }
}

#[test]
fn har_export_reads_back_to_the_same_exchanges() {
    let mut binary = order();
    binary.seq = 8;
    binary.request.method = "PUT".into();
    binary.request.target = "/v1/blobs/9".into();
    binary.request.headers = Default::default();
    binary.request.headers.push("Content-Type", "application/octet-stream");
    binary.request.body = Body::from_bytes(vec![0, 159, 146, 150, 255, 10]);
    binary.response.as_mut().unwrap().body = Body::from_bytes(vec![0x89, b'P', b'N', b'G', 0, 0xff]);
    binary.comment = Some("looked at by QA".into());
    let mut h2 = order();
    h2.request.version = "HTTP/2".into();
    h2.response.as_mut().unwrap().version = "HTTP/2".into();
    h2.request.method = "TEST_METHOD".into();
    h2.response.as_mut().unwrap().status = 419;
    h2.response.as_mut().unwrap().reason = String::new();
    let mut failed = order();
    failed.response = None;
    failed.timing.response_start = None;
    failed.timing.response_end = None;
    failed.timing.request_end = None;
    failed.state = State::Failed("net::ERR_CONNECTION_RESET".into());
    let exs = vec![order(), binary, h2, failed];
    let har = export::to_bytes(Format::Har, &exs, &ExportOptions { redaction: Redaction::off(), name: None });
    let back = read_back(&har);
    assert_eq!(back.len(), exs.len());
    for (a, b) in exs.iter().zip(&back) {
        assert_same(a, b);
    }
    assert_eq!(back[3].state, State::Failed("net::ERR_CONNECTION_RESET".into()));
    assert_eq!(back[0].state, State::Complete);
}

#[test]
fn real_har_samples_survive_export_and_reread() {
    for name in
        ["chrome-webinspector-mitmproxy-org.har", "firefox111-mitmproxy-org.har", "mitmproxy-httpbin-post-200.har"]
    {
        let p = support::need_sample(&format!("har/{name}"));
        let mut c = Collect::default();
        ingest::read_path(&p, &ReadOptions::default(), &mut c).unwrap();
        let har =
            export::to_bytes(Format::Har, &c.exchanges, &ExportOptions { redaction: Redaction::off(), name: None });
        let back = read_back(&har);
        assert_eq!(back.len(), c.exchanges.len(), "{name}");
        for (a, b) in c.exchanges.iter().zip(&back) {
            assert_eq!(a.request.method, b.request.method, "{name}");
            assert_eq!(a.request.target, b.request.target, "{name}");
            assert_eq!(a.request.headers, b.request.headers, "{name}");
            assert_eq!(a.status(), b.status(), "{name}");
            assert_eq!(a.response.as_ref().map(|r| &r.body.content), b.response.as_ref().map(|r| &r.body.content));
            assert_eq!(a.timing.request_start, b.timing.request_start, "{name}");
        }
    }
}

fn postman_validate(v: &serde_json::Value) {
    let info = v["info"].as_object().expect("info");
    assert!(info["name"].is_string());
    assert_eq!(info["schema"], "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    for it in v["item"].as_array().expect("item") {
        assert!(it["name"].is_string());
        let req = &it["request"];
        assert!(req["method"].is_string());
        let url = &req["url"];
        assert!(url["raw"].is_string() && url["host"].is_array() && url["path"].is_array());
        for h in req["header"].as_array().expect("header") {
            assert!(h["key"].is_string() && h["value"].is_string());
        }
        if let Some(b) = req.get("body") {
            assert!(["raw", "urlencoded", "formdata", "file", "graphql"].contains(&b["mode"].as_str().unwrap()));
        }
        for r in it["response"].as_array().expect("response") {
            assert!(r["code"].is_u64() && r["originalRequest"].is_object());
        }
    }
}

#[test]
fn postman_collection_has_the_v21_structure() {
    let mut bin = order();
    bin.request.body = Body::from_bytes(vec![0xff, 0]);
    let text = out(Format::Postman, &[order(), bin], Redaction::default());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    postman_validate(&v);
    assert_eq!(v["item"][0]["request"]["body"]["raw"], "{\"qty\":3}");
    assert_eq!(v["item"][1]["request"]["body"]["mode"], "file");
    assert!(!text.contains("eyJhbGciOi.secret"));
}

/// Run `script` in bash and return its standard output bytes.
fn bash(script: &str) -> Option<Vec<u8>> {
    let o = Command::new("bash").arg("-c").arg(script).output().ok()?;
    assert!(o.status.success(), "bash failed: {}", String::from_utf8_lossy(&o.stderr));
    Some(o.stdout)
}

const HOSTILE: &[&[u8]] = &[
    b"plain",
    b"it's \"quoted\" $(rm -rf ~) `id` $HOME \\ back",
    b"\x1b[31mred\x1b]0;title\x07 and CSI \xc2\x9b2J",
    b"line1\nline2\r\n\ttab",
    b"'; echo pwned; '",
    b"\xff\xfe not utf8 \x80",
    "bidi \u{202e}evil".as_bytes(),
    b"!history ${x} %s %%",
];

#[test]
fn shell_quoting_round_trips_through_bash_and_is_printable() {
    for s in HOSTILE {
        let q = shell::quote(s);
        assert!(q.bytes().all(|b| (0x20..0x7f).contains(&b) || b >= 0x80), "{q}");
        assert!(!q.contains('\n') && !q.contains('\x1b'));
        if let Some(back) = bash(&format!("printf '%s' {q}")) {
            assert_eq!(&back, s, "{q}");
        }
    }
    let blob: Vec<u8> = (0..=255u8).chain(*b"%'\\").collect();
    let p = shell::printf_pipe(&blob);
    assert!(p.bytes().all(|b| (0x20..0x7f).contains(&b)), "{p}");
    if let Some(back) = bash(&p) {
        assert_eq!(back, blob);
    }
}

#[test]
fn hostile_header_values_produce_safe_curl_and_httpie_commands() {
    for s in HOSTILE {
        let value = String::from_utf8_lossy(s).into_owned();
        let mut e = order();
        e.request.headers.push("X-Evil", value.clone());
        e.request.body = Body::from_bytes(s.to_vec());
        for f in [Format::Curl, Format::Httpie] {
            let cmd = commands(f, &[e.clone()], Redaction::default());
            // Two lines: the comment and the command; nothing else, nothing unprintable.
            assert_eq!(cmd.matches('\n').count(), 2, "{cmd}");
            assert!(!cmd.contains('\x1b') && !cmd.contains('\r') && !cmd.contains('\u{202e}'), "{cmd}");
            // Run it with curl/http replaced by a function printing each argument.
            let script = format!(
                "curl() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n\
                 http() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{cmd}"
            );
            let Some(args) = bash(&script) else { continue };
            let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
            let want_header = if f == Format::Curl { format!("X-Evil: {value}") } else { format!("X-Evil:{value}") };
            assert!(args.contains(&want_header.as_bytes()), "{f}: {cmd}");
            assert!(args.contains(s), "{f}: body not passed intact: {cmd}");
        }
    }
}

#[test]
fn nul_bodies_reach_curl_intact_through_printf() {
    let mut e = order();
    e.request.body = Body::from_bytes(b"a\0b\xff'".to_vec());
    let cmd = commands(Format::Curl, &[e], Redaction::off());
    let script = format!("curl() {{ cat; }}\n{cmd}");
    if let Some(stdin) = bash(&script) {
        assert_eq!(stdin, b"a\0b\xff'");
    }
}

fn apiscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apiscope"))
}

#[test]
fn cli_exports_filtered_flows_to_a_file() {
    let dir = support::tempdir();
    let input = dir.path().join("in.har");
    let mut five = order();
    five.request.method = "GET".into();
    five.request.body = Body::default();
    five.response.as_mut().unwrap().status = 503;
    let har =
        export::to_bytes(Format::Har, &[order(), five], &ExportOptions { redaction: Redaction::off(), name: None });
    std::fs::write(&input, har).unwrap();

    let o = apiscope().args(["export"]).arg(&input).args(["--to", "curl", "--filter", "~c 5xx"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.matches("\ncurl ").count(), 1, "{text}");
    assert!(text.contains("REDACTED") && !text.contains("eyJhbGciOi.secret"), "{text}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("exported 1 of 2 exchanges"));

    let o = apiscope().args(["export"]).arg(&input).args(["--to", "curl", "--no-redact"]).output().unwrap();
    assert!(String::from_utf8(o.stdout).unwrap().contains("Bearer eyJhbGciOi.secret"));

    let target = dir.path().join("out.json");
    let o = apiscope().args(["export"]).arg(&input).args(["--to", "postman", "-o"]).arg(&target).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    postman_validate(&v);
    assert_eq!(v["item"].as_array().unwrap().len(), 2);

    let target = dir.path().join("out.har");
    let o = apiscope()
        .args(["export"])
        .arg(&input)
        .args(["--to", "har", "--filter", "~m GET", "-o"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(read_back(&std::fs::read(&target).unwrap()).len(), 1);
}

#[test]
fn cli_reports_a_bad_filter_with_a_caret_and_exit_code_2() {
    let dir = support::tempdir();
    let input = dir.path().join("in.har");
    std::fs::write(&input, export::to_bytes(Format::Har, &[order()], &ExportOptions::default())).unwrap();
    let o =
        apiscope().args(["export"]).arg(&input).args(["--to", "raw", "--filter", "~c 200 & (~m GET"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("unclosed `(`") && err.contains("~c 200 & (~m GET\n         ^"), "{err}");
    let o = apiscope().args(["export"]).arg(&input).args(["--to", "xml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn an_export_onto_its_own_input_is_refused_and_the_input_kept() {
    let dir = support::tempdir();
    let input = dir.path().join("in.har");
    let har = export::to_bytes(Format::Har, &[order()], &ExportOptions::default());
    std::fs::write(&input, &har).unwrap();
    let o = apiscope().args(["export"]).arg(&input).args(["--to", "har", "-o"]).arg(&input).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("it is one of the inputs"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), har, "the input was changed");
    // Through another path to the same file too.
    let other = dir.path().join(".").join("in.har");
    let o = apiscope().args(["export"]).arg(&input).args(["--to", "curl", "-o"]).arg(&other).output().unwrap();
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&input).unwrap(), har);
    // And nothing is left behind in the folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_method_that_looks_like_an_option_never_reaches_httpie_as_one() {
    let mut e = order();
    e.request.method = "-o/tmp/apiscope-overwritten".into();
    e.request.headers.push("--download", "yes");
    let cmd = commands(Format::Httpie, &[e.clone()], Redaction::default());
    assert!(cmd.contains("# skipped: HTTPie only sends methods made of letters"), "{cmd}");
    assert!(!cmd.contains("\nhttp "), "{cmd}");
    e.request.method = "GET".into();
    let cmd = commands(Format::Httpie, &[e], Redaction::default());
    let script = format!("http() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{cmd}");
    if let Some(args) = bash(&script) {
        let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
        let end = args.iter().position(|a| *a == b"--").expect("options are ended");
        let item = args.iter().position(|a| *a == b"--download:yes").expect("the header is an item");
        assert!(item > end, "{cmd}");
    }
}

#[test]
fn har_round_trip_keeps_the_client_address_and_a_gzip_body_s_wire_size() {
    let mut e = order();
    let r = e.response.as_mut().unwrap();
    r.headers.push("Content-Encoding", "gzip");
    r.body = Body::from_bytes(vec![b'x'; 1000]);
    r.body.encoding = Some("gzip".into());
    r.body.wire_size = Some(300);
    let har = export::to_bytes(Format::Har, std::slice::from_ref(&e), &ExportOptions::default());
    let back = read_back(&har);
    assert_eq!(back[0].client, e.client, "client address");
    let b = &back[0].response.as_ref().unwrap().body;
    assert_eq!((b.size, b.wire_size), (1000, Some(300)), "decoded and wire sizes");
    // What apiscope writes it reads back identically: a second round changes nothing.
    let again = export::to_bytes(Format::Har, &back, &ExportOptions::default());
    assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&har));
}

/// Run `apiscope ARGS` in a tmux pane (standard output a terminal) and return the screen
/// once it printed its exit code.
fn on_a_terminal(args: &str) -> String {
    let sock = format!("apiscope-export-{}-{}", std::process::id(), args.len());
    let bin = env!("CARGO_BIN_EXE_apiscope");
    let cmd = format!("{bin} {args}; echo APISCOPE_EXIT=$?; sleep 30");
    let st = Command::new("tmux")
        .args(["-L", &sock, "new-session", "-d", "-x", "200", "-y", "50", "-c"])
        .arg(support::root())
        .arg(&cmd)
        .status()
        .unwrap();
    assert!(st.success());
    let mut screen = String::new();
    for _ in 0..300 {
        let out = Command::new("tmux").args(["-L", &sock, "capture-pane", "-p", "-J", "-S", "-"]).output().unwrap();
        screen = String::from_utf8_lossy(&out.stdout).into_owned();
        if screen.contains("APISCOPE_EXIT=") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = Command::new("tmux").args(["-L", &sock, "kill-server"]).status();
    screen
}

/// `export` without `-o` on a terminal prints a small export (made visible) but refuses a
/// big one with a message and writes nothing, rather than flooding the terminal.
#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt install tmux)")]
fn export_to_a_terminal_refuses_a_big_export_and_prints_a_small_one() {
    support::need_tool("tmux");
    let big = on_a_terminal("export fixtures/demo.pcap.gz --to curl");
    assert!(big.contains("APISCOPE_EXIT=2"), "{big}");
    assert!(big.contains("nothing was written; give -o FILE"), "{big}");
    assert!(!big.contains("curl -X"), "nothing of the export reached the terminal: {big}");
    let small = on_a_terminal("export fixtures/demo.pcap.gz --to curl --filter '~c 500'");
    assert!(small.contains("APISCOPE_EXIT=0"), "{small}");
    assert!(small.contains("curl ") && small.contains("exported 1 of 2008"), "{small}");
}

/// `stats` text on a terminal: every line fits in the terminal's 200 columns (longer ones end
/// in `…`).
#[test]
#[cfg_attr(not(has_tmux), ignore = "needs tmux (apt install tmux)")]
fn stats_text_on_a_terminal_is_cut_to_its_width() {
    support::need_tool("tmux");
    let screen = on_a_terminal("stats fixtures/demo.pcap.gz --spec fixtures/trading-api.openapi.yaml");
    assert!(screen.contains("APISCOPE_EXIT=0"), "{screen}");
    let widest = screen.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 200, "a line of {widest} characters");
    assert!(screen.lines().any(|l| l.ends_with('…')), "some line was cut: {screen}");
}
