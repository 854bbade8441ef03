//! Integration tests: HTTP/2 in real captures. A public trace (nghttp2.org over h2c with a
//! 16 KiB header block split by CONTINUATION and a server push) against the body digests its
//! upstream test records; a real loopback capture (nghttp against nghttpd, 10 connections x
//! 7 multiplexed streams) against its recording script's truth file and, per stream, against
//! tshark's HTTP/2 dissector.

use std::collections::BTreeSet;
use std::process::Command;

use apiscope::ingest::{Collect, ReadOptions, read_path};
use apiscope::model::{Exchange, State};

use super::support;

fn read(name: &str) -> (Collect, Vec<(String, u64)>) {
    let mut sink = Collect::default();
    let summary = read_path(&support::fixture(name), &ReadOptions::default(), &mut sink).unwrap();
    (sink, summary.counters)
}

fn counter(counters: &[(String, u64)], name: &str) -> u64 {
    counters.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v)
}

fn stream_of(ex: &Exchange) -> u64 {
    ex.extra["h2_stream"].as_u64().unwrap()
}

/// arkime's record of this trace: requests `/` and `/stylesheets/screen.css` on
/// nghttp2.org, response bodies with MD5 4b806c16… and 4bf2f259… (6,616 and 39,082 bytes).
#[test]
fn arkime_h2c_trace_gives_the_request_split_by_continuation_and_the_pushed_stylesheet() {
    let (out, counters) = read("samples/arkime-http2-nghttp2-push.pcap");
    assert_eq!(out.exchanges.len(), 2, "{:#?}", out.diagnostics);
    assert_eq!(counter(&counters, "h2c_connections"), 1);
    let mut ex: Vec<&Exchange> = out.exchanges.iter().collect();
    ex.sort_by_key(|e| stream_of(e));
    let (pushed, main) = (ex[0], ex[1]);
    assert_eq!((stream_of(main), main.request.method.as_str(), main.request.target.as_str()), (13, "GET", "/"));
    assert_eq!(main.request.host.as_deref(), Some("nghttp2.org"));
    // The 16 KiB HEADERS fragment and its CONTINUATION frames: six test headers of dashes.
    let cont: Vec<_> = main.request.headers.iter().filter(|h| h.name.starts_with("continuation-test-")).collect();
    assert_eq!(cont.len(), 6);
    assert!(cont.iter().all(|h| h.value.len() > 1000 && h.value.bytes().all(|b| b == b'-')));
    assert_eq!(pushed.request.target, "/stylesheets/screen.css");
    assert_eq!(pushed.extra["h2_pushed_by"], 13);
    for (e, size, head) in [(main, 6_616, &b"\n<!DOCTYPE html>"[..]), (pushed, 39_082, &b"html,body,div"[..])] {
        let r = e.response.as_ref().unwrap();
        assert_eq!((r.status, r.version.as_str()), (200, "HTTP/2"));
        assert_eq!(r.body.content.len(), size);
        assert!(r.body.content.starts_with(head), "{:?}", String::from_utf8_lossy(&r.body.content[..40]));
        assert_eq!(e.state, State::Complete);
    }
}

#[test]
fn loopback_h2c_capture_matches_its_truth_file() {
    let (out, counters) = read("h2/loopback-h2.pcap");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(support::fixture("h2/loopback-h2.pcap.truth.json")).unwrap())
            .unwrap();
    // The h2c part (prior knowledge); the TLS part needs decryption.
    let h2c = truth["h2c_prior_knowledge"].as_u64().unwrap();
    assert_eq!(out.exchanges.len() as u64, h2c);
    assert_eq!(h2c, 70);
    assert_eq!(counter(&counters, "h2c_connections"), 10);
    let count = |s: u16| out.exchanges.iter().filter(|e| e.status() == Some(s)).count() as u64;
    assert_eq!(count(404), truth["status"]["404"].as_u64().unwrap());
    assert_eq!(count(200), h2c - 10);
    assert!(out.exchanges.iter().all(|e| e.state == State::Complete && e.request.version == "HTTP/2"));
    let quotes = out.exchanges.iter().filter(|e| e.request.path().starts_with("/v1/quotes/")).count();
    assert_eq!(quotes, 60);
    // Each response body is the file served: a quote names its symbol.
    for e in out.exchanges.iter().filter(|e| e.status() == Some(200) && e.request.path().starts_with("/v1/quotes/")) {
        let sym = e.request.path().rsplit('/').next().unwrap();
        let body = String::from_utf8_lossy(&e.response.as_ref().unwrap().body.content).into_owned();
        assert!(body.contains(&format!("\"symbol\":\"{sym}\"")), "{body}");
        assert!(e.ttfb().is_some_and(|t| t >= 0));
    }
}

#[test]
fn loopback_h2_over_tls_capture_matches_its_truth_file() {
    let path = support::fixture("h2/loopback-h2.pcap");
    let mut keys = apiscope::tls::KeyLog::new();
    keys.add_file(&support::fixture("h2/loopback-h2.pcap.keylog")).unwrap();
    let mut out = Collect::default();
    let bytes = std::fs::read(&path).unwrap();
    apiscope::ingest::capture::read_capture_with_keys(
        apiscope::capture::Input::Bytes(bytes),
        &path,
        &ReadOptions::default(),
        std::sync::Arc::new(keys),
        &mut out,
    )
    .unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(support::fixture("h2/loopback-h2.pcap.truth.json")).unwrap())
            .unwrap();
    // With the key log applied (fixtures/h2/loopback-h2.pcap.keylog), all requests appear.
    assert_eq!(out.exchanges.len() as u64, truth["requests"].as_u64().unwrap());
    let tls: Vec<_> = out.exchanges.iter().filter(|e| e.tls.is_some()).collect();
    assert_eq!(tls.len() as u64, truth["h2_tls"].as_u64().unwrap());
    assert!(tls.iter().all(|e| e.request.scheme.as_deref() == Some("https") && e.request.version == "HTTP/2"));
}

/// (client port, stream, method, path, status) for every stream tshark's HTTP/2 dissector
/// shows with a request and a response (port 18767 decoded as HTTP/2).
fn tshark_streams(path: &std::path::Path) -> BTreeSet<(u16, u64, String, String, u16)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-d", "tcp.port==18767,http2", "-Y", "http2.type==1", "-O", "http2", "-V"])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut port = 0u16;
    let mut from_client = false;
    let mut requests = std::collections::BTreeMap::new();
    let mut statuses = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Transmission Control Protocol, Src Port: ") {
            let mut parts = rest.split(", Dst Port: ");
            let src: u16 = parts.next().unwrap().parse().unwrap();
            let dst: u16 = parts.next().unwrap().split(',').next().unwrap().parse().unwrap();
            from_client = dst == 18767;
            port = if from_client { src } else { dst };
        } else if let Some(rest) = line.trim_start().strip_prefix("Stream: HEADERS, Stream ID: ") {
            let mut parts = rest.splitn(3, ", ");
            let id: u64 = parts.next().unwrap().parse().unwrap();
            let _len = parts.next();
            let summary = parts.next().unwrap_or("");
            if from_client {
                let (m, p) = summary.split_once(' ').unwrap();
                requests.insert((port, id), (m.to_string(), p.to_string()));
            } else {
                statuses.insert((port, id), summary.split(' ').next().unwrap().parse::<u16>().unwrap());
            }
        }
    }
    requests
        .into_iter()
        .map(|((port, id), (m, p))| (port, id, m, p, statuses.get(&(port, id)).copied().unwrap_or(0)))
        .collect()
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn loopback_h2c_streams_equal_tshark_stream_by_stream() {
    let path = support::fixture("h2/loopback-h2.pcap");
    let want = tshark_streams(&path);
    assert_eq!(want.len(), 70);
    let (out, _) = read("h2/loopback-h2.pcap");
    let got: BTreeSet<_> = out
        .exchanges
        .iter()
        .map(|e| {
            (
                e.client.unwrap().port.unwrap(),
                stream_of(e),
                e.request.method.clone(),
                e.request.target.clone(),
                e.status().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, want);
}
