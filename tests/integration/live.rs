//! Integration tests: live capture (`--features live`). A capture on the loopback interface
//! while a server written here answers a known number of curl requests: the live `flows`
//! output has exactly one line per request, and the `--write` file read back gives the
//! same exchanges. Error paths: no capture rights, an unknown interface, a bad BPF filter —
//! each a clear message and exit code 2. Capturing needs root, as CI runs.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use apiscope::ingest::{Collect, ReadOptions, read_path};

use super::support;

fn apiscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apiscope"))
}

/// A server answering `n` connections, one request each, with `200` and a body naming the path.
fn serve(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let k = s.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..k]);
            }
            let path = String::from_utf8_lossy(&req).split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = format!("{{\"path\":\"{path}\"}}");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body.as_bytes()).unwrap();
        }
    });
    (port, h)
}

/// Forward the child's stderr lines to a channel (the capture announces itself there).
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
#[cfg_attr(not(all(has_root, has_curl)), ignore = "needs root (capture on lo) and curl")]
fn live_flows_on_loopback_prints_one_line_per_request_and_writes_the_same_exchanges() {
    support::need_tool("curl");
    const N: usize = 7;
    let dir = support::tempdir();
    let out = dir.path().join("live.pcapng");
    let (port, server) = serve(N);
    let mut child = apiscope()
        .args(["flows", "-i", "lo", "--format", "ndjson", "--bpf"])
        .arg(format!("tcp port {port}"))
        .arg("--write")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let errs = stderr_lines(&mut child);
    let first = errs.recv_timeout(Duration::from_secs(60)).expect("the capture did not start");
    assert!(first.contains("capturing on lo until Ctrl-C"), "{first}");
    for i in 0..N {
        let st = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{port}/r/{i}"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    server.join().unwrap();
    // Lines appear as exchanges complete: read them while the capture still runs.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < N && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    assert_eq!(lines.len(), N, "lines before Ctrl-C: {lines:?}");
    // Ctrl-C ends the capture cleanly.
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    // The reader threads end at the pipes' end: take everything they still pass on.
    let rest: Vec<String> = rx.iter().collect();
    let notes: Vec<String> = errs.iter().collect();
    assert_eq!(status.code(), Some(0), "{notes:?}");
    assert!(rest.is_empty(), "no more lines after the {N}: {rest:?}");
    assert!(notes.iter().any(|l| l.contains("live:lo:") && l.contains("dropped")), "{notes:?}");
    assert!(notes.iter().any(|l| l.starts_with(&format!("apiscope: {N} exchanges"))), "{notes:?}");
    let mut paths: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["status"], 200, "{l}");
            assert_eq!(v["method"], "GET", "{l}");
            v["path"].as_str().unwrap().to_string()
        })
        .collect();
    paths.sort();
    let want: Vec<String> = (0..N).map(|i| format!("/r/{i}")).collect();
    assert_eq!(paths, want);

    // The --write file holds the same exchanges.
    let mut c = Collect::default();
    let s = read_path(&out, &ReadOptions::default(), &mut c).unwrap();
    assert_eq!(s.exchanges, N as u64);
    let mut back: Vec<String> = c.exchanges.iter().map(|e| e.request.target.clone()).collect();
    back.sort();
    assert_eq!(back, want);
    assert!(c.exchanges.iter().all(|e| e.status() == Some(200)));
}

#[test]
#[cfg_attr(not(has_root), ignore = "needs root (capture on lo)")]
fn live_capture_stops_after_the_duration_with_a_summary() {
    let out = apiscope()
        .args(["flows", "-i", "lo", "--bpf", "tcp port 9", "--duration", "1s", "--summary"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("exchanges      0"), "{text}");
    assert!(text.contains("live_dropped_by_kernel"), "{text}");
}

#[test]
fn an_unknown_interface_is_exit_2_naming_the_interfaces() {
    let out = apiscope().args(["flows", "-i", "no-such-if0"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no network interface named \"no-such-if0\""), "{err}");
    assert!(err.contains("lo"), "{err}");
}

#[test]
#[cfg_attr(not(has_root), ignore = "needs root (the filter is compiled on an open capture)")]
fn a_bad_bpf_filter_is_exit_2_explained() {
    let out = apiscope().args(["stats", "-i", "lo", "--bpf", "tcp port", "--duration", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the capture filter \"tcp port\" is not valid BPF"), "{err}");
}

#[test]
#[cfg_attr(not(has_root), ignore = "needs root (to drop to an unprivileged user)")]
fn capturing_without_rights_is_exit_2_saying_how_to_grant_them() {
    support::need_tool("setpriv");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_apiscope"))
        .args(["flows", "-i", "lo", "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs root or CAP_NET_RAW: sudo setcap cap_net_raw,cap_net_admin=eip $(which apiscope)"),
        "{err}"
    );
}

#[test]
fn interfaces_are_listed_with_loopback_among_them() {
    let out = apiscope().args(["flows", "--list-interfaces"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.split_whitespace().next() == Some("lo")));
}
