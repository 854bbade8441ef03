//! Integration tests: ingest — format detection, the HAR / Charles / mitmproxy readers on the
//! real samples in ../shared/samples (exact counts and field values taken from the JSON by
//! independent means), and every kind of bad input.
//!
//! The samples are the copies in fixtures/samples, else the shared collection's
//! (`support::sample`); the one kept only there is a test ignored when it is absent.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use apiscope::ingest::detect::{self, InputFormat, Sniffed};
use apiscope::ingest::{Collect, IngestError, ReadOptions, ReadSummary, read_path};
use apiscope::model::{Exchange, Severity, State};

use super::support;

fn need_sample(rel: &str) -> PathBuf {
    support::need_sample(rel)
}

fn read(p: &Path) -> (ReadSummary, Collect) {
    let mut c = Collect::default();
    let s = read_path(p, &ReadOptions::default(), &mut c).unwrap_or_else(|e| panic!("{e}"));
    (s, c)
}

fn read_err(p: &Path) -> IngestError {
    let mut c = Collect::default();
    match read_path(p, &ReadOptions::default(), &mut c) {
        Ok(s) => panic!("{} read as {:?}", p.display(), s.format),
        Err(e) => e,
    }
}

const MS: i64 = 1_000_000;

fn ts(s: &str) -> i64 {
    // Independent of the reader: the `time` crate's RFC 3339 parser.
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    i64::try_from(t.unix_timestamp_nanos()).unwrap()
}

fn body(ex: &Exchange) -> &[u8] {
    &ex.response.as_ref().unwrap().body.content
}

/// Every HAR, .chlsj and .mitm sample: detected by content, read with the exact number of
/// exchanges (counted with python3's json module / a tnetstring decoder), no file-level errors.
#[test]
fn every_sample_reads_with_exact_counts() {
    let expected = [
        ("har/charles463-export-mitmproxy-org.har", InputFormat::Har, 1),
        ("har/chrome-webinspector-mitmproxy-org.har", InputFormat::Har, 3),
        ("har/firefox111-mitmproxy-org.har", InputFormat::Har, 14),
        ("har/insomnia2022-export.har", InputFormat::Har, 1),
        ("har/mitmproxy-httpbin-post-200.har", InputFormat::Har, 2),
        ("mitmproxy/mitmproxy-httpbin-post-200.mitm", InputFormat::Mitmproxy, 2),
        ("charles/charles-edge-h2-json-post.chlsj", InputFormat::CharlesJson, 1),
        ("charles/charles-http11-gzip-html.chlsj", InputFormat::CharlesJson, 2),
    ];
    for (rel, format, n) in expected {
        let p = need_sample(rel);
        let (s, c) = read(&p);
        assert_eq!(s.format, Some(format), "{rel}");
        assert_eq!(s.exchanges, n, "{rel}");
        assert_eq!(c.exchanges.len() as u64, n, "{rel}");
        assert_eq!(s.bytes, std::fs::metadata(&p).unwrap().len(), "{rel}");
        let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.severity >= Severity::Warning).collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        for (i, ex) in c.exchanges.iter().enumerate() {
            assert_eq!(ex.provenance.entry, Some(i as u64), "{rel}");
            assert!(ex.provenance.file.ends_with(rel.rsplit('/').next().unwrap()));
            assert!(!ex.request.method.is_empty(), "{rel} #{i}");
            assert!(ex.timing.request_start.is_some(), "{rel} #{i}");
        }
    }
}

#[test]
fn chrome_har_failed_request_pseudo_headers_and_base64_png() {
    let p = need_sample("har/chrome-webinspector-mitmproxy-org.har");
    let (_, c) = read(&p);
    let statuses: Vec<_> = c.exchanges.iter().map(Exchange::status).collect();
    assert_eq!(statuses, vec![Some(304), None, Some(200)]);
    let v: Vec<_> = c.exchanges.iter().map(|e| e.request.version.as_str()).collect();
    assert_eq!(v, vec!["HTTP/2", "", "HTTP/3"]);

    let failed = &c.exchanges[1];
    assert_eq!(failed.state, State::Failed("net::ERR_INTERNET_DISCONNECTED".into()));
    assert!(failed.is_failed());
    assert_eq!(failed.host(), "www.google.com");

    let png = &c.exchanges[2];
    let b = &png.response.as_ref().unwrap().body;
    assert_eq!(b.content.len(), 7108);
    assert_eq!(b.size, 7108);
    assert!(b.content.starts_with(b"\x89PNG\r\n\x1a\n"));

    // Method and URL come from `request`; pseudo-headers are kept as received.
    let first = &c.exchanges[0];
    assert_eq!(first.request.headers.get(":authority"), Some("mitmproxy.org"));
    assert_eq!(first.request.host.as_deref(), Some("mitmproxy.org"));
    assert_eq!(first.request.target, "/");
    assert_eq!(first.server.unwrap().to_string(), "108.138.246.80:443");
    // base64 304 body: 23866 decoded bytes.
    assert_eq!(body(first).len(), 23866);
    // Timings: blocked 5.397 + send 0.237 (dns/connect -1 skipped), wait 7.33, receive 1.702.
    let start = ts("2023-03-30T00:00:54.250Z");
    assert_eq!(first.timing.request_start, Some(start));
    assert_eq!(first.timing.request_end, Some(start + 5_634_000));
    assert_eq!(first.ttfb(), Some(7_330_000));
    assert_eq!(first.duration(), Some(5_634_000 + 7_330_000 + 1_702_000));
    // `_`-prefixed fields stay reachable.
    assert!(first.extra["entry"]["_initiator"].is_object());
    assert!(first.extra["timings"]["_blocked_queueing"].is_number());
}

#[test]
fn firefox_har_empty_timings_offsets_and_missing_bodies() {
    let p = need_sample("har/firefox111-mitmproxy-org.har");
    let (_, c) = read(&p);
    assert_eq!(c.exchanges.len(), 14);
    // Entries 1..=5 have `timings: {}` and no response body: no phase timings, body absent.
    for i in 1..=5 {
        let ex = &c.exchanges[i];
        assert_eq!(ex.timing.request_end, None, "#{i}");
        assert_eq!(ex.ttfb(), None, "#{i}");
        assert_eq!(ex.status(), Some(200), "#{i}");
        assert!(body(ex).is_empty(), "#{i}");
    }
    assert!(c.exchanges.iter().enumerate().all(|(i, e)| (1..=5).contains(&i) || e.timing.request_end.is_some()));
    // -07:00 offset.
    assert_eq!(c.exchanges[0].timing.request_start, Some(ts("2023-03-29T23:58:59.303Z")));
    assert_eq!(c.exchanges[0].request.version, "HTTP/3");
    assert_eq!(c.exchanges[0].provenance.connection.as_deref(), Some("443"));
    assert_eq!(c.exchanges[11].request.version, "HTTP/1.1");
    // The favicon is base64: 98065 bytes decoded, an ICO header.
    let ico = body(&c.exchanges[13]);
    assert_eq!(ico.len(), 98065);
    assert!(ico.starts_with(&[0, 0, 1, 0]));
    let statuses: Vec<u16> = c.exchanges.iter().filter_map(Exchange::status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 304).count(), 4);
}

#[test]
fn charles_har_export_and_insomnia_timings() {
    let p = need_sample("har/charles463-export-mitmproxy-org.har");
    let (_, c) = read(&p);
    let ex = &c.exchanges[0];
    let start = ts("2023-03-30T00:37:42.482Z");
    assert_eq!(ex.timing.request_start, Some(start));
    // dns 43 + connect 37 (ssl 26 is inside connect) + send 1.
    assert_eq!(ex.timing.request_end, Some(start + 81 * MS));
    assert_eq!(ex.ttfb(), Some(24 * MS));
    assert_eq!(ex.duration(), Some(107 * MS));
    assert_eq!(ex.extra["response"]["_charlesStatus"], "COMPLETE");
    assert_eq!(ex.request.target, "/?=");

    let p = need_sample("har/insomnia2022-export.har");
    let (_, c) = read(&p);
    let ex = &c.exchanges[0];
    assert_eq!(ex.ttfb(), Some(70_402_000));
    assert_eq!(ex.request.url(&ex.host()), "http://mitm.it/");
    assert_eq!(body(ex).len(), 250);
    assert_eq!(ex.response.as_ref().unwrap().body.wire_size, None);
}

/// The same flows as a HAR export and as a native mitmproxy dump give equal exchanges.
#[test]
fn mitmproxy_dump_equals_its_har_export() {
    let har = need_sample("har/mitmproxy-httpbin-post-200.har");
    let mitm = need_sample("mitmproxy/mitmproxy-httpbin-post-200.mitm");
    let (_, a) = read(&har);
    let (_, b) = read(&mitm);
    assert_eq!(a.exchanges.len(), 2);
    assert_eq!(a.exchanges.len(), b.exchanges.len());
    for (x, y) in a.exchanges.iter().zip(&b.exchanges) {
        assert_eq!(x.request.method, y.request.method);
        assert_eq!(x.request.url(&x.host()), y.request.url(&y.host()));
        assert_eq!(x.request.version, y.request.version);
        assert_eq!(x.request.headers, y.request.headers);
        assert_eq!(x.request.body.content, y.request.body.content);
        let (rx, ry) = (x.response.as_ref().unwrap(), y.response.as_ref().unwrap());
        assert_eq!(rx.status, ry.status);
        assert_eq!(rx.headers, ry.headers);
        assert_eq!(rx.body.content, ry.body.content);
        assert_eq!(rx.body.size, ry.body.size);
        assert_eq!(x.server.map(|s| s.ip), y.server.map(|s| s.ip));
        // Both start at request.timestamp_start (the HAR rounds it to µs).
        let d = x.timing.request_start.unwrap() - y.timing.request_start.unwrap();
        assert!(d.abs() < 1_000, "{d}");
        assert_eq!(x.state, y.state);
    }
    let post = &b.exchanges[1];
    assert_eq!(post.request.url(&post.host()), "https://httpbin.org/post");
    assert_eq!(post.request.body.content, b"key1=value1&key2=value2");
    assert_eq!(post.client.unwrap().to_string(), "127.0.0.1:51727");
    assert_eq!(post.server.unwrap().to_string(), "54.211.216.104:443");
    assert!(String::from_utf8_lossy(body(post)).contains("\"key1\": \"value1\""));
}

#[test]
fn charles_sessions_h2_without_first_line_and_decoded_gzip() {
    let p = need_sample("charles/charles-edge-h2-json-post.chlsj");
    let (_, c) = read(&p);
    let ex = &c.exchanges[0];
    assert_eq!(ex.request.method, "POST");
    assert_eq!(ex.request.version, "HTTP/2");
    assert_eq!(ex.request.url(&ex.host()), "https://eapit.ibrolive.cn/sys/account/login/pre");
    assert_eq!(ex.request.headers.get(":authority"), Some("eapit.ibrolive.cn"));
    assert_eq!(ex.request.body.content, br#"{"username":"user8","captchaId":"f2n6bbawWbMG0K3lG19r","code":"9858"}"#);
    assert_eq!(ex.status(), Some(200));
    assert_eq!(body(ex), b"{\"rtn\":0,\"msg\":\"\",\"data\":{\"userId\":9529901,\"userSign\":\"temEcNCFlv\"}}\n");
    assert_eq!(ex.client.unwrap().to_string(), "127.0.0.1");
    assert_eq!(ex.server.unwrap().to_string(), "8.135.15.172:443");
    assert_eq!(ex.duration(), Some(254 * MS));
    assert_eq!(ex.ttfb(), Some(253 * MS));
    assert_eq!(ex.extra["alpn"]["protocol"], "h2");
    assert_eq!(ex.state, State::Complete);

    let p = need_sample("charles/charles-http11-gzip-html.chlsj");
    let (_, c) = read(&p);
    // The first transaction says "get"; its first line (what went on the wire) says GET.
    assert!(c.exchanges.iter().all(|e| e.request.method == "GET"));
    // Transaction 0 has `query: null` but its first line carries the query: both targets are
    // the one on the wire.
    for ex in &c.exchanges {
        assert!(ex.request.target.starts_with("/login?service=%3A%2F%2Fwww.gxyj.com"), "{}", ex.request.target);
        assert!(ex.request.target.ends_with("&_=1588518028587"));
    }
    let ex = &c.exchanges[1];
    let r = ex.response.as_ref().unwrap();
    assert_eq!((r.status, r.version.as_str()), (200, "HTTP/1.1"));
    assert_eq!(r.body.encoding.as_deref(), Some("gzip"));
    assert_eq!(r.body.wire_size, Some(983));
    assert!(String::from_utf8_lossy(&r.body.content).contains("<!DOCTYPE html"));
    assert_eq!(ex.client.unwrap().to_string(), "127.0.0.1:61669");
    assert_eq!(ex.ttfb(), Some(2343 * MS));
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn one_line(e: &IngestError, path: &Path) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s}");
    assert!(s.starts_with(&path.display().to_string()), "{s}");
    s
}

#[test]
fn empty_directory_missing_and_garbage_inputs_are_named_errors() {
    let dir = support::tempdir();
    let empty = write(dir.path(), "empty.har", b"");
    assert!(matches!(read_err(&empty), IngestError::Empty(_)));
    let bom_only = write(dir.path(), "bom.har", b"\xEF\xBB\xBF  \n");
    assert!(matches!(read_err(&bom_only), IngestError::Empty(_)));
    let e = read_err(dir.path());
    assert!(matches!(e, IngestError::Directory(_)));
    one_line(&e, dir.path());
    let missing = dir.path().join("nope.har");
    let e = read_err(&missing);
    assert!(matches!(&e, IngestError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound));
    one_line(&e, &missing);
    let garbage = write(dir.path(), "garbage.har", b"\x00\x01\x1b[2J\xffjunk");
    let e = read_err(&garbage);
    let s = one_line(&e, &garbage);
    assert!(matches!(e, IngestError::Unrecognised { .. }));
    assert!(s.contains("\\x00\\x01\\x1b[2J\\xffjunk"), "{s}");
    assert!(!s.contains('\x1b'));
}

#[test]
fn a_har_with_one_broken_entry_keeps_the_others() {
    let dir = support::tempdir();
    let doc = r#"{"log":{"version":"1.2","entries":[
        {"startedDateTime":"2024-01-01T00:00:00Z","request":{"method":"GET","url":"http://a.example/1"},"response":{"status":200}},
        {"startedDateTime":"2024-01-01T00:00:01Z","request":"oops","response":{"status":200}},
        {"startedDateTime":"2024-01-01T00:00:02Z","request":{"method":"GET","url":"http://a.example/3"},"response":{"status":500}}]}}"#;
    let p = write(dir.path(), "broken-entry.har", doc.as_bytes());
    let (s, c) = read(&p);
    assert_eq!(s.exchanges, 2);
    assert_eq!(c.exchanges[1].status(), Some(500));
    assert_eq!(c.exchanges[1].provenance.entry, Some(2));
    assert_eq!(c.diagnostics.len(), 1);
    let d = c.diagnostics[0].to_string();
    assert!(d.contains("entry 1 (byte "), "{d}");
    assert!(d.contains("invalid type"), "{d}");
    assert!(s.counters.contains(&("entries skipped".to_string(), 1)));
}

#[test]
fn truncated_json_keeps_everything_before_the_damage() {
    let dir = support::tempdir();
    let entries: Vec<String> = (0..8)
        .map(|i| {
            format!(
                r#"{{"startedDateTime":"2024-01-01T00:00:0{i}Z","request":{{"method":"GET","url":"http://a.example/{i}"}},"response":{{"status":200,"content":{{"size":3,"text":"a\"b"}}}}}}"#
            )
        })
        .collect();
    let doc = format!("{{\"log\":{{\"entries\":[{}]}}}}", entries.join(","));
    // Cut inside entry 5: entries 0..=4 are complete.
    let cut = doc.find("http://a.example/5").unwrap();
    let p = write(dir.path(), "cut.har", &doc.as_bytes()[..cut]);
    let (s, c) = read(&p);
    assert_eq!(s.exchanges, 5);
    let d = c.diagnostics.last().unwrap();
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.location, Some(format!("byte {cut}")));
    // Cut before any entry: an error naming the place.
    let p = write(dir.path(), "cut0.har", &doc.as_bytes()[..30]);
    let e = read_err(&p);
    let s = one_line(&e, &p);
    assert!(matches!(e, IngestError::Damaged { .. }));
    assert!(s.contains("byte 30"), "{s}");
    // A Charles session cut the same way.
    let p = write(
        dir.path(),
        "cut.chlsj",
        br#"[{"status":"COMPLETE","method":"GET","host":"a","path":"/"},{"status":"COMP"#,
    );
    let (s, c) = read(&p);
    assert_eq!(s.exchanges, 1);
    assert_eq!(c.diagnostics[0].code, "charles.truncated");
}

/// A HAR big enough for the two-thread reader: same answers as the one-thread path — order,
/// `seq`, a broken entry skipped, a truncation at the end reported with its offset.
#[test]
fn big_hars_read_on_two_threads_keep_order_and_damage_reports() {
    let dir = support::tempdir();
    let n = 5000;
    let pad = "x\\\"y".repeat(250);
    let mut doc = String::from("{\"log\":{\"entries\":[");
    for i in 0..n {
        if i == 1234 {
            doc.push_str(r#"{"request": "oops"},"#);
            continue;
        }
        doc.push_str(&format!(
            r#"{{"startedDateTime":"2024-01-01T00:00:00Z","request":{{"method":"GET","url":"http://a.example/{i}"}},"response":{{"status":200,"content":{{"text":"{pad}"}}}}}},"#
        ));
    }
    let cut = doc.len() - 40;
    assert!(cut > 4 << 20, "{cut}");
    let p = write(dir.path(), "big.har", &doc.as_bytes()[..cut]);
    let (s, c) = read(&p);
    // Entry 1234 is broken, entry n-1 is cut: n-2 exchanges in order.
    assert_eq!(s.exchanges, n as u64 - 2);
    for (k, ex) in c.exchanges.iter().enumerate() {
        assert_eq!(ex.seq, k as u64);
        let i = if k < 1234 { k } else { k + 1 };
        assert_eq!(ex.request.target, format!("/{i}"));
        assert_eq!(body(ex), "x\"y".repeat(250).as_bytes());
    }
    assert_eq!(c.diagnostics.len(), 2);
    assert!(c.diagnostics[0].to_string().contains("entry 1234 (byte "), "{}", c.diagnostics[0]);
    assert_eq!(c.diagnostics[1].location, Some(format!("byte {cut}")));
}

#[test]
fn unreadable_known_formats_say_how_to_export() {
    let dir = support::tempdir();
    let mut chls = vec![0xac, 0xed, 0x00, 0x05, 0x73, 0x72, 0x00, 0x1f];
    chls.extend_from_slice(b"com.xk72.charles.model.Session");
    let p = write(dir.path(), "s.har", &chls);
    let e = read_err(&p);
    let s = one_line(&e, &p);
    assert!(matches!(e, IngestError::Unsupported { .. }));
    assert!(s.contains(".chls") && s.contains("JSON Session File (.chlsj)") && s.contains("charles convert"), "{s}");
    let p = write(dir.path(), "x.xml", b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE charles-session SYSTEM \"https://www.charlesproxy.com/dtd/charles-session-1_2.dtd\">\n<charles-session>");
    assert!(one_line(&read_err(&p), &p).contains(".chlsx"));
    let p = write(dir.path(), "m.pcap", &[0x34, 0xcd, 0xb2, 0xa1, 2, 0, 4, 0]);
    assert!(one_line(&read_err(&p), &p).contains("modified"));
    let p = write(
        dir.path(),
        "w.json",
        br#"[{"_index": "packets-2024-01-01", "_type": "doc", "_source": {"layers": {}}}]"#,
    );
    assert!(one_line(&read_err(&p), &p).contains("Wireshark"));
}

#[test]
fn compressed_and_bom_prefixed_inputs_are_detected_by_content() {
    let src = need_sample("har/mitmproxy-httpbin-post-200.har");
    let raw = std::fs::read(&src).unwrap();
    let dir = support::tempdir();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let p = write(dir.path(), "no-extension", &gz.finish().unwrap());
    let (s, c) = read(&p);
    assert_eq!((s.format, s.exchanges), (Some(InputFormat::Har), 2));
    assert_eq!(c.exchanges[1].request.body.content, b"key1=value1&key2=value2");
    let zst = ruzstd::encoding::compress_to_vec(&raw[..], ruzstd::encoding::CompressionLevel::Fastest);
    let p = write(dir.path(), "x.zst", &zst);
    assert_eq!(read(&p).0.exchanges, 2);
    let p = write(dir.path(), "bom.json", &[b"\xEF\xBB\xBF".as_slice(), &raw].concat());
    assert_eq!(read(&p).0.exchanges, 2);
    let mitm = need_sample("mitmproxy/mitmproxy-httpbin-post-200.mitm");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(mitm).unwrap()).unwrap();
    let p = write(dir.path(), "flows.gz", &gz.finish().unwrap());
    let (s, _) = read(&p);
    assert_eq!((s.format, s.exchanges), (Some(InputFormat::Mitmproxy), 2));
}

#[test]
fn captures_are_detected_by_magic_including_gzip_wrapped() {
    for rel in ["pcap/zeek-http-get.pcap", "pcap/arkime-bigendian-nohttp.pcap"] {
        let p = need_sample(rel);
        let head = std::fs::read(&p).unwrap();
        assert_eq!(detect::sniff(&head), Sniffed::Known(InputFormat::Pcap), "{rel}");
    }
    let p = support::fixture("capture-mixed.pcapng");
    assert_eq!(detect::sniff(&std::fs::read(&p).unwrap()), Sniffed::Known(InputFormat::PcapNg));
    // Captures are handed to the capture reader with the format filled in.
    let (s, c) = read(&need_sample("pcap/zeek-httpbin-post-form.pcap"));
    assert_eq!(s.format, Some(InputFormat::Pcap));
    assert!(c.exchanges.iter().any(|e| e.request.method == "POST" && e.status() == Some(200)));
    let demo = support::fixture("demo.pcap.gz");
    if demo.exists() {
        let (s, c) = read(&demo);
        assert_eq!(s.format, Some(InputFormat::Pcap));
        assert_eq!(s.exchanges, c.exchanges.len() as u64);
        assert!(s.exchanges > 0);
        let gz = std::fs::read(&demo).unwrap();
        assert_eq!(detect::sniff(&gz), Sniffed::Gzip);
        let mut inner = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(flate2::read::MultiGzDecoder::new(&gz[..]), 64),
            &mut inner,
        )
        .unwrap();
        assert_eq!(detect::sniff(&inner), Sniffed::Known(InputFormat::Pcap));
    }
}

/// The Lekensteyn pcapng (kept out of fixtures/: its licence is unclear) is detected as pcapng.
#[test]
#[cfg_attr(not(has_shared_samples), ignore = "needs ../shared/samples (sample not in fixtures/: licence unclear)")]
fn pcapng_sample_from_the_shared_collection_is_detected_by_magic() {
    let p = need_sample("pcap/lekensteyn-https-chunked-key-in-comment.pcapng");
    assert_eq!(detect::sniff(&std::fs::read(&p).unwrap()), Sniffed::Known(InputFormat::PcapNg));
}

/// Every prefix length (stepped) and a few byte flips of every sample: never a panic, never
/// more exchanges than the whole file, and damage after a readable part is a diagnostic.
#[test]
fn random_truncations_and_flips_of_samples_never_panic() {
    let rels = [
        "har/chrome-webinspector-mitmproxy-org.har",
        "har/firefox111-mitmproxy-org.har",
        "har/insomnia2022-export.har",
        "mitmproxy/mitmproxy-httpbin-post-200.mitm",
        "charles/charles-edge-h2-json-post.chlsj",
        "charles/charles-http11-gzip-html.chlsj",
    ];
    let opts = ReadOptions::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for rel in rels {
        let p = need_sample(rel);
        let data = std::fs::read(&p).unwrap();
        let mut full = Collect::default();
        let total = apiscope::ingest::read_bytes(&data, &p, &opts, &mut full).unwrap().exchanges;
        let step = (data.len() / 150).max(1);
        let cuts = (0..data.len()).step_by(step).chain((0..60).map(|_| (next() as usize) % data.len()));
        for cut in cuts {
            let mut c = Collect::default();
            let r = apiscope::ingest::read_bytes(&data[..cut], &p, &opts, &mut c);
            touch(&c);
            if let Ok(s) = r {
                assert!(s.exchanges <= total, "{rel} cut {cut}");
                if s.exchanges < total {
                    assert!(!c.diagnostics.is_empty(), "{rel} cut {cut}: lost exchanges silently");
                }
            }
        }
        for _ in 0..200 {
            let mut d = data.clone();
            for _ in 0..4 {
                let i = (next() as usize) % d.len();
                d[i] = next() as u8;
            }
            let mut c = Collect::default();
            let _ = apiscope::ingest::read_bytes(&d, &p, &opts, &mut c);
            touch(&c);
        }
    }
}

/// Use what consumers use on every exchange (time arithmetic, host, URL), so overflow or
/// slicing bugs on odd values show up as panics here.
fn touch(c: &Collect) {
    for ex in &c.exchanges {
        let _ = (ex.duration(), ex.ttfb(), ex.request.url(&ex.host()), ex.request.path(), ex.timing.start());
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut c = Collect::default();
            let _ = apiscope::ingest::read_bytes(&data, Path::new("fuzz"), &ReadOptions::default(), &mut c);
            touch(&c);
            let _ = apiscope::ingest::mitm::tnetstring::parse_at(&data, 0);
        }

        #[test]
        fn json_like_prefixes_never_panic(tail in "[\\[\\]{}\":,0-9a-z_ ]{0,200}") {
            for head in ["{\"log\":{\"entries\":[", "[{\"status\":\"COMPLETE\",\"method\":\"GET\",\"host\":", "12:4:type;"] {
                let doc = format!("{head}{tail}");
                let mut c = Collect::default();
                let _ = apiscope::ingest::read_bytes(doc.as_bytes(), Path::new("fuzz"), &ReadOptions::default(), &mut c);
                touch(&c);
            }
        }
    }
}

/// A HAR entry (request `path`, response `status`) with `extra` JSON spliced into the
/// response object.
fn har_entry(path: &str, status: u16, extra_response: &str, post: &str) -> String {
    format!(
        r#"{{"startedDateTime":"2024-01-01T00:00:00Z","time":1,
          "request":{{"method":"POST","url":"http://a.example{path}","httpVersion":"HTTP/1.1","headers":[]{post}}},
          "response":{{"status":{status},"statusText":"","httpVersion":"HTTP/1.1","headers":[],
            "content":{{"size":0,"mimeType":"text/plain"}}{extra_response}}}}}"#
    )
}

fn har_doc(entries: &[String]) -> String {
    format!(r#"{{"log":{{"version":"1.2","creator":{{"name":"t","version":"1"}},"entries":[{}]}}}}"#, entries.join(","))
}

#[test]
fn har_quirks_error_objects_json_param_values_jsonp_and_zlib_keep_every_entry() {
    let dir = support::tempdir();
    let entries = [
        har_entry("/1", 200, "", ""),
        // A browser's _error as an object, with status 0.
        har_entry("/2", 0, r#","_error":{"code":-105,"message":"net::ERR_NAME_NOT_RESOLVED"}"#, ""),
        // Form parameters whose values are JSON (an object, a number, an array).
        har_entry(
            "/3",
            201,
            "",
            r#","postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"o","value":{"a":1}},{"name":"n","value":7},{"name":"l","value":[1,"x"]}]}"#,
        ),
        // One broken entry: it alone is skipped.
        r#"{"startedDateTime":"2024-01-01T00:00:00Z","request":17}"#.to_string(),
        har_entry("/5", 204, "", ""),
    ];
    let doc = har_doc(&entries);
    let check = |name: &str, bytes: &[u8]| {
        let p = write(dir.path(), name, bytes);
        let (s, c) = read(&p);
        assert_eq!(s.format, Some(InputFormat::Har), "{name}");
        assert_eq!(s.exchanges, 4, "{name}");
        let paths: Vec<&str> = c.exchanges.iter().map(|e| e.request.path()).collect();
        assert_eq!(paths, ["/1", "/2", "/3", "/5"], "{name}");
        assert!(matches!(&c.exchanges[1].state, State::Failed(why) if why.contains("ERR_NAME_NOT_RESOLVED")), "{name}");
        let body = String::from_utf8_lossy(&c.exchanges[2].request.body.content).into_owned();
        assert_eq!(body, "o=%7B%22a%22%3A1%7D&n=7&l=%5B1%2C%22x%22%5D", "{name}");
    };
    check("plain.har", doc.as_bytes());
    // Firebug / HAR Viewer: the HAR wrapped in a JavaScript call.
    check("viewer.harp", format!("onInputData({doc});\n").as_bytes());
    // mitmproxy's .zhar: the HAR compressed with zlib.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(doc.as_bytes()).unwrap();
    check("dump.zhar", &z.finish().unwrap());
}

#[test]
fn charles5_chlz_archive_is_read_with_its_body_files() {
    use zip::write::SimpleFileOptions;
    let dir = support::tempdir();
    let meta = |n: u32, method: &str, path: &str, status: u16| {
        format!(
            r#"{{"status":"COMPLETE","method":"{method}","protocolVersion":"HTTP/1.1","scheme":"https","host":"api.example","path":"{path}",
               "times":{{"start":"2024-05-01T10:00:0{n}.000+00:00","end":"2024-05-01T10:00:0{n}.250+00:00"}},
               "request":{{"header":{{"firstLine":"{method} {path} HTTP/1.1","headers":[{{"name":"Host","value":"api.example"}}]}}}},
               "response":{{"status":{status},"header":{{"firstLine":"HTTP/1.1 {status} X","headers":[{{"name":"Content-Type","value":"application/json"}}]}}}}}}"#
        )
    };
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // Members out of order, and a transaction whose metadata is damaged.
    w.start_file("2-meta.json", deflated).unwrap();
    w.write_all(meta(2, "POST", "/orders", 201).as_bytes()).unwrap();
    w.start_file("2-req.json", deflated).unwrap();
    w.write_all(br#"{"sku":"A1"}"#).unwrap();
    w.start_file("2-res.json", stored).unwrap();
    w.write_all(br#"{"id":9}"#).unwrap();
    w.start_file("1-meta.json", stored).unwrap();
    w.write_all(meta(1, "GET", "/orders", 200).as_bytes()).unwrap();
    w.start_file("1-res.json", stored).unwrap();
    w.write_all(b"[]").unwrap();
    w.start_file("3-meta.json", stored).unwrap();
    w.write_all(b"{not json").unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let p = write(dir.path(), "session.chlz", &bytes);
    let (s, c) = read(&p);
    assert_eq!(s.format, Some(InputFormat::CharlesZip));
    assert_eq!(s.exchanges, 2);
    let got: Vec<(&str, Option<u16>)> = c.exchanges.iter().map(|e| (e.request.method.as_str(), e.status())).collect();
    assert_eq!(got, [("GET", Some(200)), ("POST", Some(201))]);
    assert_eq!(c.exchanges[1].request.body.content, br#"{"sku":"A1"}"#);
    assert_eq!(c.exchanges[1].response.as_ref().unwrap().body.content, br#"{"id":9}"#);
    assert_eq!(c.exchanges[0].response.as_ref().unwrap().body.content, b"[]");
    assert_eq!(c.diagnostics.iter().filter(|d| d.code == "chlz.member").count(), 1);
}

/// HTTP/1 request methods tshark finds in a capture (`-Y http.request`), in order.
fn tshark_methods(p: &Path) -> Vec<String> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args(["-Y", "http.request", "-T", "fields", "-e", "http.request.method"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Real captures whose HTTP sits in a tunnel, an odd link type or a CONNECT tunnel, with the
/// request methods tshark reports for them.
const LONGTAIL_HTTP: &[(&str, &[&str])] = &[
    ("sv-http-connect_http-connect-simple_input.pcap", &["CONNECT", "GET"]),
    ("sv-http-connect_http-connect-tls_input.pcap", &["CONNECT"]),
    ("sv-decode-chdlc-01_hdlc-http_1tx.pcap", &["GET"]),
    ("sv-bug-4810_pppoe-session-http.pcap", &["GET"]),
    ("sv-decode-sll2-01_input.pcap", &["GET"]),
];

fn methods_of(name: &str) -> (ReadSummary, Vec<String>, Collect) {
    let p = support::fixture("capture-longtail").join(name);
    let (s, c) = read(&p);
    let m = c.exchanges.iter().map(|e| e.request.method.clone()).collect();
    (s, m, c)
}

#[test]
fn http_in_tunnels_links_and_connect_tunnels_has_tsharks_request_methods() {
    for (name, want) in LONGTAIL_HTTP {
        let (_, got, _) = methods_of(name);
        assert_eq!(got, *want, "{name}");
    }
    // Plaintext HTTP inside the CONNECT tunnel is parsed; TLS inside one stays a tunnel.
    let (s, _, c) = methods_of("sv-http-connect_http-connect-simple_input.pcap");
    assert!(s.counters.contains(&("tunnel_connections".to_string(), 1)), "{:?}", s.counters);
    assert_eq!(c.exchanges[1].request.target, "/");
    assert_eq!(c.exchanges[1].status(), Some(200));
    let (s, _, _) = methods_of("sv-http-connect_http-connect-tls_input.pcap");
    assert!(s.counters.contains(&("tunnel_connections".to_string(), 1)), "{:?}", s.counters);
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn longtail_request_methods_equal_tshark() {
    support::need_tool("tshark");
    for (name, _) in LONGTAIL_HTTP {
        let p = support::fixture("capture-longtail").join(name);
        assert_eq!(methods_of(name).1, tshark_methods(&p), "{name}");
    }
}

#[test]
fn an_http09_style_request_line_is_kept_with_a_diagnostic() {
    // "GET /" with no version, then header-like lines; the server answers without a status
    // line (tshark counts no HTTP request here).
    let (_, got, c) = methods_of("sv-http-not09_input.pcap");
    assert_eq!(got, ["GET"]);
    assert!(c.exchanges[0].diagnostics.iter().any(|d| d.code == "http.lenient_request_line"));
}
