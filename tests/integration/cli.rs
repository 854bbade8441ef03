//! Integration tests: the `apiscope` binary as a user runs it (`flows`, exit codes, escaping).

use std::process::{Command, Output};

use crate::support::{fixture, need_sample, tempdir};

fn apiscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apiscope")).args(args).env("NO_COLOR", "1").output().expect("run apiscope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn flows_summary_on_demo_capture_equals_generator_truth() {
    let out = apiscope(&["flows", fixture("demo.pcap.gz").to_str().unwrap(), "--summary", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture("demo.truth.json")).unwrap()).unwrap();
    // Exact equality with the generator's ground truth: requests, methods, statuses, connections.
    assert_eq!(got["exchanges"], truth["requests"]);
    assert_eq!(got["methods"], truth["methods"]);
    assert_eq!(got["statuses"], truth["status"]);
    assert_eq!(got["connections"], truth["connections"]);
    assert_eq!(got["failed"], 0);
}

#[test]
fn flows_table_lists_every_exchange_of_a_har_with_a_footer() {
    let har = need_sample("har/chrome-webinspector-mitmproxy-org.har");
    let out = apiscope(&["flows", har.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)"));
    // Header + 3 entries + footer.
    assert_eq!(lines.len(), 5, "{s}");
    assert!(s.contains("3 exchanges, 1 failed or incomplete"), "{s}");
    assert!(s.contains("ERR"), "the failed request is marked: {s}");
}

#[test]
fn flows_merges_several_files_in_time_order() {
    let (a, b) = (need_sample("har/mitmproxy-httpbin-post-200.har"), need_sample("har/firefox111-mitmproxy-org.har"));
    let out = apiscope(&["flows", a.to_str().unwrap(), b.to_str().unwrap(), "--format", "ndjson"]);
    assert_eq!(out.status.code(), Some(0));
    let times: Vec<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["time"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(times.len(), 16);
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}

#[test]
fn flows_csv_has_a_header_and_one_row_per_exchange() {
    let out = apiscope(&["flows", fixture("samples/zeek-http-pipelined-requests.pcap").to_str().unwrap(), "-F", "csv"]);
    assert_eq!(out.status.code(), Some(0));
    let s = stdout(&out);
    assert!(s.starts_with("time,client,server,method,host,path,status"));
    assert_eq!(s.lines().count(), 6, "header + 5 pipelined exchanges");
}

#[test]
fn flows_filter_keeps_only_matching_exchanges_and_bad_filters_exit_2() {
    let demo = fixture("demo.pcap.gz");
    let out = apiscope(&["flows", demo.to_str().unwrap(), "--summary", "-F", "json", "--filter", "~c 5xx | ~c 429"]);
    assert_eq!(out.status.code(), Some(0));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // demo.truth.json: 429 ×23, 500 ×1, 503 ×1.
    assert_eq!(got["exchanges"], 25);
    assert_eq!(got["filtered_out"], 2008 - 25);
    let bad = apiscope(&["flows", demo.to_str().unwrap(), "--filter", "~c >>3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("^"), "the error points at the offending bytes");
}

#[test]
fn unreadable_inputs_exit_2_with_a_one_line_reason() {
    let dir = tempdir();
    let empty = dir.path().join("empty.har");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x00\x01\x02\x1b[31mnot a capture").unwrap();
    for (path, needle) in [
        (empty.to_str().unwrap().to_string(), "empty"),
        (garbage.to_str().unwrap().to_string(), "not a recognised"),
        (dir.path().to_str().unwrap().to_string(), "directory"),
        ("/nonexistent/x.pcap".to_string(), "x.pcap"),
    ] {
        let out = apiscope(&["flows", &path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let err = stderr(&out);
        assert!(err.contains(needle), "{path}: {err}");
        assert!(!err.contains('\x1b'), "no raw escape reaches the terminal: {err:?}");
        assert_eq!(err.matches("(os error").count(), usize::from(err.contains("(os error")), "said once: {err}");
    }
}

#[test]
fn hostile_bytes_in_captured_text_are_escaped_in_table_and_csv() {
    let dir = tempdir();
    let har = dir.path().join("hostile.har");
    let doc = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [{
        "startedDateTime": "2024-01-01T00:00:00Z", "time": 1,
        "request": {"method": "GET", "url": "http://h\u{1b}]0;pwned\u{7}/p\u{1b}[2J?x=1", "httpVersion": "HTTP/1.1",
                    "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                     "content": {"size": 0, "mimeType": "text/plain"}, "redirectURL": "", "headersSize": -1, "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}]}});
    std::fs::write(&har, serde_json::to_vec(&doc).unwrap()).unwrap();
    for fmt in ["table", "csv"] {
        let out = apiscope(&["flows", har.to_str().unwrap(), "-F", fmt]);
        assert_eq!(out.status.code(), Some(0));
        let s = stdout(&out);
        assert!(!s.contains('\x1b') && !s.contains('\x07'), "{fmt}: {s:?}");
        assert!(s.contains("\\x1b"), "{fmt}: escapes are visible: {s}");
    }
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in ["flows", "diff", "stats", "journey", "export", "demo"] {
        let out = apiscope(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(stdout(&out).contains("Usage"), "{cmd}");
    }
    let top = apiscope(&["--help"]);
    assert!(stdout(&top).contains("Exit codes"));
}

#[test]
fn a_closed_output_pipe_ends_every_json_report_with_exit_0() {
    use std::io::Read as _;
    use std::process::Stdio;
    let demo = fixture("demo.pcap.gz");
    for args in [["flows", "--format", "json"], ["flows", "--format", "ndjson"], ["stats", "--format", "json"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apiscope"))
            .args(args)
            .arg(&demo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 10];
        let mut out = child.stdout.take().unwrap();
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Without the `live` feature, asking for a live capture says how to get one (exit 2).
#[cfg(not(feature = "live"))]
#[test]
fn live_capture_in_a_build_without_it_is_exit_2_saying_how_to_build_it() {
    for args in [&["flows", "-i", "lo"][..], &["live", "-i", "lo"], &["stats", "--list-interfaces"]] {
        let o = apiscope(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("built without live capture"), "{err}");
        assert!(err.contains("--features live"), "{err}");
    }
}
