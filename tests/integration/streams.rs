//! Messages inside exchanges against ground truth: the real loopback WebSocket + SSE capture
//! (its truth file), permessage-deflate captures and zeek's WebSocket traces against tshark,
//! the demo's NDJSON market-data stream against the generator's log, HAR round trips of
//! WebSocket messages; WebSocket over HTTP/2 extended CONNECT (a real loopback h2c capture,
//! its truth file, and the frames walked over tshark's HTTP/2 DATA); stream items validated
//! against a spec's item schema by `diff`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use apiscope::ingest::{Collect, ReadOptions, read_path};
use apiscope::model::Exchange;
use apiscope::model::message::{Direction, MessageKind, StreamEnd, StreamProtocol};

use super::support;

fn read(p: &Path) -> Collect {
    let mut c = Collect::default();
    read_path(p, &ReadOptions::default(), &mut c).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    c
}

fn streams(c: &Collect, protocol: StreamProtocol) -> Vec<&Exchange> {
    c.exchanges.iter().filter(|e| e.stream.as_ref().is_some_and(|s| s.protocol == protocol)).collect()
}

/// Count of messages per `(direction, kind label)` over every stream of `protocol`.
fn tally(c: &Collect, protocol: StreamProtocol) -> BTreeMap<(Direction, &'static str), u64> {
    let mut out = BTreeMap::new();
    for e in streams(c, protocol) {
        for m in &e.stream.as_ref().unwrap().messages {
            *out.entry((m.direction, m.kind.label())).or_default() += 1;
        }
    }
    out
}

#[test]
fn loopback_websocket_and_sse_messages_equal_the_truth_file() {
    let c = read(&support::fixture("streams/ws-sse-loopback.pcap"));
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::fixture("streams/ws-sse-loopback.truth.json")).unwrap())
            .unwrap();
    let w = &truth["websocket"];
    let n = |k: &str| w[k].as_u64().unwrap();
    let ws = streams(&c, StreamProtocol::WebSocket);
    assert_eq!(ws.len() as u64, n("connections"));
    let t = tally(&c, StreamProtocol::WebSocket);
    let get = |d, k| t.get(&(d, k)).copied().unwrap_or(0);
    assert_eq!(get(Direction::ToServer, "text"), n("client_text"));
    assert_eq!(get(Direction::ToServer, "pong"), n("client_pong"));
    assert_eq!(get(Direction::ToServer, "close"), n("client_close"));
    assert_eq!(get(Direction::ToClient, "text"), n("server_text"));
    assert_eq!(get(Direction::ToClient, "binary"), n("server_binary"));
    assert_eq!(get(Direction::ToClient, "ping"), n("server_ping"));
    assert_eq!(get(Direction::ToClient, "close"), n("server_close"));
    assert_eq!(t.values().sum::<u64>(), n("messages_total"));
    let joined = ws
        .iter()
        .flat_map(|e| e.stream.as_ref().unwrap().messages.iter())
        .filter(|m| m.payload == br#"{"part":"one"}"#)
        .count() as u64;
    assert_eq!(joined, n("fragmented_messages"));
    for e in &ws {
        let s = e.stream.as_ref().unwrap();
        assert_eq!(s.end, StreamEnd::ClientClose { code: Some(1000) });
        assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);
    }
    let sse = streams(&c, StreamProtocol::Sse);
    assert_eq!(sse.len() as u64, truth["sse"]["streams"].as_u64().unwrap());
    let events: u64 = sse.iter().map(|e| e.message_count()).sum();
    let comments: u64 = sse.iter().map(|e| e.stream.as_ref().unwrap().comments).sum();
    assert_eq!(events, truth["sse"]["events"].as_u64().unwrap());
    assert_eq!(comments, truth["sse"]["comments"].as_u64().unwrap());
    assert_eq!(c.exchanges.len() as u64, truth["http_exchanges"].as_u64().unwrap());
    // Events carry their fields; the data lines are joined.
    let first = &sse[0].stream.as_ref().unwrap().messages[0];
    assert!(matches!(&first.kind, MessageKind::Event { event: Some(e), id: Some(i), .. } if e == "price" && i == "0"));
    assert!(first.text().starts_with("{\"seq\": 0,\n\"bid\": "));
}

#[test]
fn sse_events_are_timed_by_the_segment_that_completed_them() {
    let c = read(&support::fixture("streams/ws-sse-loopback.pcap"));
    for e in streams(&c, StreamProtocol::Sse) {
        let s = e.stream.as_ref().unwrap();
        let times: Vec<i64> = s.messages.iter().map(|m| m.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // The server sleeps 5 ms between price events: they do not share one time.
        let distinct: std::collections::BTreeSet<i64> = times.iter().copied().collect();
        assert!(distinct.len() + 1 >= times.len() / 2, "{times:?}");
        assert!(s.opened.unwrap() <= times[0]);
        assert_eq!(s.end, StreamEnd::ServerClose { code: None });
    }
}

/// Opcodes of tshark's WebSocket frames, continuation frames (0) left out: one per message.
fn tshark_opcodes(p: &Path) -> Vec<u8> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(p)
        .args(["-Y", "websocket", "-T", "fields", "-e", "websocket.opcode"])
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&out.stdout)
        .split(['\n', ','])
        .filter_map(|s| s.trim().parse::<u8>().ok())
        .filter(|&o| o != 0)
        .collect()
}

fn our_opcodes(c: &Collect) -> Vec<u8> {
    let mut ms: Vec<(i64, u8)> = streams(c, StreamProtocol::WebSocket)
        .iter()
        .flat_map(|e| e.stream.as_ref().unwrap().messages.iter())
        .map(|m| (m.time, m.kind.opcode().unwrap()))
        .collect();
    ms.sort_by_key(|m| m.0);
    ms.into_iter().map(|m| m.1).collect()
}

const WS_CAPTURES: &[&str] = &[
    "streams/zeek-ws-broker-websocket.pcap",
    "streams/zeek-ws-fragmented-http-reply.pcap",
    "streams/zeek-ws-jupyter-websocket.pcap",
    "streams/zeek-ws-message-too-big-status.pcap",
    "streams/zeek-ws-oversized-close-frame.pcapng",
    "streams/zeek-ws-reply-ping-coalesced.pcap",
    "streams/zeek-ws-two-binary-fragments.pcap",
    "streams/zeek-ws-wstunnel-http.pcap",
    "streams/ws-sse-loopback.pcap",
    "streams/ws-deflate-takeover.pcap",
    "streams/ws-deflate-no-takeover.pcap",
];

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn websocket_messages_equal_tsharks_frames_in_real_captures() {
    support::need_tool("tshark");
    let mut total = 0;
    for f in WS_CAPTURES {
        let p = support::fixture(f);
        let want = tshark_opcodes(&p);
        let c = read(&p);
        let got = our_opcodes(&c);
        let (mut a, mut b) = (want.clone(), got.clone());
        // Sorted multisets: two directions' frames in one segment may be ordered either way.
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(b, a, "{f}: ours {got:?} tshark {want:?}");
        total += got.len();
    }
    assert_eq!(total, 122);
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn permessage_deflate_payloads_equal_tsharks_decompressed_text() {
    support::need_tool("tshark");
    for f in ["streams/ws-deflate-takeover.pcap", "streams/ws-deflate-no-takeover.pcap"] {
        let p = support::fixture(f);
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&p)
            .args(["-Y", "websocket.opcode == 1", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\u{1}"])
            .args(["-e", "websocket.payload.text"])
            .output()
            .expect("tshark runs");
        let want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .flat_map(|l| l.split('\u{1}').map(str::to_string).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        let c = read(&p);
        let got: Vec<String> = c.exchanges[0]
            .stream
            .as_ref()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.kind == MessageKind::Text)
            .map(|m| {
                assert!(m.compressed);
                m.text().into_owned()
            })
            .collect();
        assert_eq!(want.len(), 8, "{f}");
        let (mut a, mut b) = (want, got);
        a.sort();
        b.sort();
        assert_eq!(b, a, "{f}");
    }
}

#[test]
fn demo_marketdata_ndjson_events_equal_the_generators_log() {
    let c = read(&support::fixture("demo.pcap.gz"));
    let log = support::fixture("demo.log.jsonl.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(log).unwrap()), &mut text)
        .unwrap();
    // Each event went out as one chunk `HH\r\n<event>\r\n` (events are 16..255 bytes, two hex
    // digits) and the stream ends with `0\r\n\r\n`: the chunk framing gives the count.
    let mut want = 0;
    let mut streams_logged = 0;
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["route"] != "GET /v1/marketdata/stream" || v["status"] != 200 {
            continue;
        }
        let framing = v["resp_wire_body"].as_u64().unwrap() - v["resp_body"].as_u64().unwrap() - 5;
        assert_eq!(framing % 6, 0);
        want += framing / 6;
        streams_logged += 1;
    }
    let nd = streams(&c, StreamProtocol::Ndjson);
    assert_eq!(nd.len(), streams_logged);
    let got: u64 = nd.iter().map(|e| e.message_count()).sum();
    assert_eq!(got, want);
    assert_eq!(want, 3509);
}

#[test]
fn har_export_writes_chrome_websocket_messages_that_read_back_the_same() {
    let c = read(&support::fixture("streams/ws-sse-loopback.pcap"));
    let ws: Vec<Exchange> = streams(&c, StreamProtocol::WebSocket).into_iter().cloned().collect();
    let doc = apiscope::export::har::log(ws.iter());
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let m = &v["log"]["entries"][0]["_webSocketMessages"];
    assert_eq!(m.as_array().unwrap().len(), ws[0].stream.as_ref().unwrap().messages.len());
    assert_eq!(m[0]["type"], "send");
    assert_eq!(m[0]["opcode"], 1);
    assert!(m[0]["time"].as_f64().unwrap() > 1.7e9);
    let dir = support::tempdir();
    let p = dir.path().join("ws.har");
    std::fs::write(&p, &doc).unwrap();
    let back = read(&p);
    assert_eq!(back.exchanges.len(), ws.len());
    for (a, b) in ws.iter().zip(&back.exchanges) {
        let (sa, sb) = (a.stream.as_ref().unwrap(), b.stream.as_ref().unwrap());
        assert_eq!(sb.messages.len(), sa.messages.len());
        for (x, y) in sa.messages.iter().zip(&sb.messages) {
            assert_eq!((x.direction, &x.kind, &x.payload), (y.direction, &y.kind, &y.payload));
            assert!((x.time - y.time).abs() < 1_000, "{} {}", x.time, y.time);
        }
        assert_eq!(sb.end, sa.end);
        assert!(b.extra.get("entry").and_then(|e| e.get("_webSocketMessages")).is_none());
    }
}

#[test]
fn msg_filter_selects_exchanges_by_message_content() {
    let c = read(&support::fixture("streams/ws-sse-loopback.pcap"));
    let f = apiscope::filter::Filter::parse("~msg '\"part\":\"one\"'").unwrap();
    let ctx = apiscope::filter::FnContext::new();
    assert_eq!(c.exchanges.iter().filter(|e| f.matches(e, &ctx)).count(), 4);
    let f = apiscope::filter::Filter::parse("~msg 'event-that-never-was'").unwrap();
    assert_eq!(c.exchanges.iter().filter(|e| f.matches(e, &ctx)).count(), 0);
}

fn apiscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apiscope")).args(args).env("NO_COLOR", "1").output().expect("run apiscope")
}

#[test]
fn stats_reports_feed_kpis_and_keeps_stream_durations_out_of_latency() {
    let f = support::fixture("streams/ws-sse-loopback.pcap");
    let out = apiscope(&["stats", f.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let feeds = v["feeds"].as_array().unwrap();
    let ws = feeds.iter().find(|f| f["name"] == "GET /v1/ws/prices").unwrap();
    // 29 text + 4 binary from the server; 4 subscribe texts from clients; 16 control frames.
    assert_eq!((ws["streams"].as_u64(), ws["feed_messages"].as_u64()), (Some(4), Some(33)));
    assert_eq!(ws["client_messages"], 4);
    assert_eq!(ws["control_messages"], 16);
    assert_eq!(ws["ended"]["client close 1000"], 4);
    assert_eq!(ws["gaps"]["count"], 29);
    let sse = feeds.iter().find(|f| f["name"] == "GET /v1/sse/prices").unwrap();
    assert_eq!((sse["streams"].as_u64(), sse["feed_messages"].as_u64()), (Some(3), Some(22)));
    assert_eq!(sse["ended"]["server close"], 3);
    assert!(v["client_feeds"].as_array().is_some_and(|c| !c.is_empty()));
    // Streams keep their TTFB in the endpoint's latency, not their total time.
    let ep = v["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "GET /v1/sse/prices").unwrap();
    assert!(ep["kpis"]["ttfb"].is_object());
    assert!(ep["kpis"]["total"].is_null());

    let demo = apiscope(&["stats", support::fixture("demo.pcap.gz").to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&demo.stdout).unwrap();
    let md = v["feeds"].as_array().unwrap().iter().find(|f| f["name"] == "GET /v1/marketdata/stream").unwrap();
    assert_eq!((md["streams"].as_u64(), md["feed_messages"].as_u64()), (Some(26), Some(3509)));
    assert_eq!(md["gaps"]["count"], 3509 - 26);
    let strict = apiscope(&[
        "stats",
        support::fixture("demo.pcap.gz").to_str().unwrap(),
        "--format",
        "json",
        "--stall-factor",
        "1000",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!(v["feeds"][0]["stalls"], 0);
}

#[test]
fn messages_command_prints_one_line_per_message() {
    let f = support::fixture("streams/ws-sse-loopback.pcap");
    let out = apiscope(&["messages", f.to_str().unwrap(), "--format", "ndjson", "--filter", "~websocket"]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 53);
    assert!(lines.iter().any(|l| l["kind"] == "binary" && l["data_hex"] == "000000074065880000000000"));
    let csv = apiscope(&["messages", f.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 1 + 53 + 22);
    let flows = apiscope(&["flows", f.to_str().unwrap(), "--format", "ndjson"]);
    let counts: u64 = String::from_utf8_lossy(&flows.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["messages"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counts, 53 + 22);
}

/// The h2c extended-CONNECT WebSocket capture, its exchanges by HTTP/2 stream id.
fn h2_ws() -> (Collect, serde_json::Value) {
    let c = read(&support::fixture("streams/ws-h2-loopback.pcap"));
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::fixture("streams/ws-h2-loopback.truth.json")).unwrap()).unwrap();
    (c, truth)
}

fn h2_stream_id(e: &Exchange) -> u64 {
    e.extra["h2_stream"].as_u64().expect("an HTTP/2 stream id")
}

#[test]
fn websocket_over_http2_extended_connect_messages_equal_the_truth_file() {
    let (c, truth) = h2_ws();
    assert_eq!(c.exchanges.len() as u64, truth["exchanges"].as_u64().unwrap());
    let ws = streams(&c, StreamProtocol::WebSocket);
    assert_eq!(ws.len() as u64, truth["websocket_streams"].as_u64().unwrap());
    let mut total = 0;
    for e in ws {
        let id = h2_stream_id(e).to_string();
        let want = &truth["streams"][&id];
        let s = e.stream.as_ref().unwrap();
        let mut got: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for m in &s.messages {
            *got.entry((m.direction.label(), m.kind.label())).or_default() += 1;
        }
        let mut expect = BTreeMap::new();
        for dir in ["send", "receive"] {
            for (kind, n) in want[dir].as_object().unwrap() {
                expect.insert((dir, kind.as_str()), n.as_u64().unwrap());
            }
        }
        assert_eq!(got, expect, "stream {id}");
        let compressed = s.messages.iter().filter(|m| m.compressed).count() as u64;
        assert_eq!(compressed, want["compressed_text"].as_u64().unwrap_or(0), "stream {id}");
        assert_eq!(s.end.label(), want["end"].as_str().unwrap(), "stream {id}");
        assert!(e.diagnostics.is_empty(), "{:?}", e.diagnostics);
        assert_eq!(e.request.method, "CONNECT");
        total += s.count();
    }
    assert_eq!(total, truth["messages_total"].as_u64().unwrap());
    // permessage-deflate with context takeover: every price update inflates to its JSON.
    let prices = c.exchanges.iter().find(|e| h2_stream_id(e) == 1).unwrap();
    let texts: Vec<serde_json::Value> = prices.stream.as_ref().unwrap().messages[1..7]
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).expect("inflated JSON"))
        .collect();
    assert_eq!(texts.iter().map(|t| t["seq"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
}

/// `(h2 stream id, from the client, opcode)` of every WebSocket message in the DATA
/// frames tshark dissects (tshark 4.0 does not decode RFC 8441 WebSocket itself: the frames
/// are walked here over its reassembled DATA payloads, continuations folded into their
/// message).
fn tshark_h2_ws_opcodes(p: &Path, server_port: u16) -> Vec<(u64, bool, u8)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args(["-d", &format!("tcp.port=={server_port},http2"), "-Y", "http2.type == 0", "-T", "fields"])
        .args(["-E", "occurrence=a", "-E", "aggregator=/", "-e", "tcp.srcport", "-e", "http2.streamid"])
        .args(["-e", "http2.data.data"])
        .output()
        .expect("tshark runs");
    let mut bytes: BTreeMap<(u64, bool), Vec<u8>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let client = f[0].parse::<u16>().unwrap() != server_port;
        let ids: Vec<u64> = f[1].split('/').map(|s| s.parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "one stream per packet in this capture");
        let data = f.get(2).copied().unwrap_or("").replace("<MISSING>", "").replace('/', "");
        let raw: Vec<u8> =
            (0..data.len() / 2).map(|i| u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap()).collect();
        bytes.entry((ids[0], client)).or_default().extend(raw);
    }
    // The streams whose request carried `:protocol` (extended CONNECT).
    let connect = Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args(["-d", &format!("tcp.port=={server_port},http2"), "-Y", "http2.header.name == \":protocol\""])
        .args(["-T", "fields", "-e", "http2.streamid"])
        .output()
        .expect("tshark runs");
    let ws_ids: Vec<u64> =
        String::from_utf8_lossy(&connect.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(ws_ids, [1, 3]);
    let mut out = Vec::new();
    for ((id, client), b) in bytes.into_iter().filter(|((id, _), _)| ws_ids.contains(id)) {
        let mut i = 0;
        while i + 2 <= b.len() {
            let (op, masked, len7) = (b[i] & 0x0f, b[i + 1] & 0x80 != 0, usize::from(b[i + 1] & 0x7f));
            let (len, head) = match len7 {
                126 => (usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]])), 4),
                127 => (usize::try_from(u64::from_be_bytes(b[i + 2..i + 10].try_into().unwrap())).unwrap(), 10),
                n => (n, 2),
            };
            if op != 0 {
                out.push((id, client, op));
            }
            i += head + if masked { 4 } else { 0 } + len;
        }
        assert_eq!(i, b.len(), "stream {id}: whole frames");
    }
    out.sort_unstable();
    out
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn websocket_over_http2_messages_equal_the_frames_in_tsharks_data() {
    support::need_tool("tshark");
    let p = support::fixture("streams/ws-h2-loopback.pcap");
    let want = tshark_h2_ws_opcodes(&p, 8793);
    let (c, _) = h2_ws();
    let mut got: Vec<(u64, bool, u8)> = streams(&c, StreamProtocol::WebSocket)
        .iter()
        .flat_map(|e| {
            let id = h2_stream_id(e);
            e.stream
                .as_ref()
                .unwrap()
                .messages
                .iter()
                .map(move |m| (id, m.direction == Direction::ToServer, m.kind.opcode().unwrap()))
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(got.len(), 18);
}

const ITEM_SPEC: &str = r##"openapi: 3.1.0
info: {title: streams, version: "1"}
servers: [{url: "https://api.example/v1"}]
paths:
  /prices/stream:
    get:
      responses:
        "200":
          description: One price per line.
          content:
            application/x-ndjson:
              schema:
                type: array
                items: {$ref: "#/components/schemas/Price"}
  /prices/history:
    get:
      responses:
        "200":
          description: Many prices, one per line.
          content:
            application/jsonl:
              itemSchema: {$ref: "#/components/schemas/Price"}
  /events:
    get:
      responses:
        "200":
          description: Price events.
          content:
            text/event-stream:
              itemSchema:
                type: object
                required: [data]
                properties:
                  event: {type: string, enum: [price, heartbeat]}
                  id: {type: string}
                  data:
                    type: string
                    contentMediaType: application/json
                    contentSchema: {$ref: "#/components/schemas/Price"}
components:
  schemas:
    Price:
      type: object
      required: [symbol, price]
      properties:
        symbol: {type: string}
        price: {type: number}
"##;

fn har_entry(path: &str, ctype: &str, body: &str) -> serde_json::Value {
    serde_json::json!({
        "startedDateTime": "2024-03-12T13:30:00.003Z",
        "time": 10.0,
        "request": {"method": "GET", "url": format!("https://api.example/v1{path}"), "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": [{"name": "Host", "value": "api.example"}], "queryString": [],
            "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": [{"name": "Content-Type", "value": ctype}],
            "content": {"size": body.len(), "mimeType": ctype, "text": body},
            "redirectURL": "", "headersSize": -1, "bodySize": body.len()},
        "cache": {}, "timings": {"send": 1, "wait": 5, "receive": 4}
    })
}

/// A spec with item schemas and a HAR whose streams break them in known messages.
pub fn item_fixture(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ok = |i: usize| format!("{{\"symbol\":\"S{i}\",\"price\":{i}.5}}");
    let ndjson = [ok(0), ok(1), r#"{"symbol":"AAPL","price":"172.1"}"#.to_string(), ok(3)].join("\n") + "\n";
    // 1,200 lines, the only bad one past the checked messages.
    let history: String = (0..1200)
        .map(|i| if i == 1100 { r#"{"symbol":"BAD"}"#.to_string() } else { ok(i) })
        .map(|l| l + "\n")
        .collect();
    let sse = concat!(
        "event: price\nid: 1\ndata: {\"symbol\":\"A\",\"price\":1}\n\n",
        "event: tick\nid: 2\ndata: {\"symbol\":\"A\",\"price\":2}\n\n",
        "event: price\nid: 3\ndata: {\"symbol\":\"B\"}\n\n",
    );
    let har = serde_json::json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [
        har_entry("/prices/stream", "application/x-ndjson", &ndjson),
        har_entry("/prices/history", "application/jsonl", &history),
        har_entry("/events", "text/event-stream", sse),
    ]}});
    let (h, s) = (dir.join("streams.har"), dir.join("streams.openapi.yaml"));
    std::fs::write(&h, har.to_string()).unwrap();
    std::fs::write(&s, ITEM_SPEC).unwrap();
    (h, s)
}

#[test]
fn diff_validates_stream_items_against_the_item_schema_with_the_message_index() {
    let dir = support::tempdir();
    let (har, spec) = item_fixture(dir.path());
    let out = apiscope(&["diff", har.to_str().unwrap(), "--spec", spec.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = v["findings"].as_array().unwrap();
    let text = serde_json::to_string_pretty(findings).unwrap();
    let messages: Vec<String> = findings
        .iter()
        .filter(|f| f["kind"] == "response_body_schema_violation")
        .map(|f| serde_json::to_string(f).unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{text}");
    let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
    // NDJSON: the array schema's items, the third line.
    assert!(has("message #2: $.price"), "{text}");
    assert!(has("message items /price: type"), "{text}");
    // SSE: the event itself (its `event` name) and its data's contentSchema.
    assert!(has("message #1: $.event"), "{text}");
    assert!(has("message #2: $.data"), "{text}");
    assert!(has("message items /data: required"), "{text}");
    // JSON lines past the checked messages are not validated: line 1100 is not reported.
    assert!(!text.contains("/prices/history"), "{text}");
    let plain = apiscope(&["diff", har.to_str().unwrap(), "--spec", spec.to_str().unwrap()]);
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.contains("message #2: $.price"), "{plain}");
}
