//! The TUI's text index: a `/` search answered from it finds exactly the flows the search
//! finds by reading the inputs again, on captures (plain, gzip bodies, TLS with keys,
//! HTTP/2, streams) and HARs, for hits in headers and bodies, case differences, non-ASCII
//! text, no hit, and text spanning two fields (which must not match).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apiscope::tui::app::{App, Options};
use apiscope::tui::load::LoadMsg;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::support::{fixture, screen, text};

/// A pcapng copy of a little-endian classic pcap with its TLS key log in a decryption
/// secrets block, so every read of it (the index build included) decrypts it.
fn with_keys(pcap: &Path, keylog: &Path, out: &Path) {
    use apiscope::live::pcapng;
    let b = std::fs::read(pcap).unwrap();
    assert_eq!(b.get(..4), Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]), "little-endian microsecond pcap");
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let mut o = Vec::new();
    pcapng::section_header(&mut o);
    pcapng::interface(&mut o, u16::try_from(u32_at(20)).unwrap(), 262_144);
    pcapng::tls_keys(&mut o, &std::fs::read(keylog).unwrap());
    let mut at = 24;
    while at + 16 <= b.len() {
        let (sec, usec, incl, orig) = (u32_at(at), u32_at(at + 4), u32_at(at + 8) as usize, u32_at(at + 12));
        let data = &b[at + 16..at + 16 + incl];
        pcapng::packet(&mut o, u64::from(sec) * 1_000_000 + u64::from(usec), data, orig);
        at += 16 + incl;
    }
    std::fs::write(out, o).unwrap();
}

/// An app holding the flows of `path` in the file, as the TUI loads it (no index yet).
fn lazy_app(path: &Path) -> App {
    let mut c = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(path, &Default::default(), &mut c).unwrap();
    assert!(!c.exchanges.is_empty(), "{}", path.display());
    let mut a = App::new(Options::default());
    a.store.set_lazy(Default::default());
    a.load_all(c.exchanges);
    assert!(a.store.has_lazy(), "{}", path.display());
    a
}

#[test]
fn with_the_index_turned_off_no_index_is_built_and_searches_read_the_inputs() {
    let path = fixture("tui-small.har");
    let mut on = lazy_app(&path);
    on.on_load(LoadMsg::Finished { stopped: false });
    assert!(on.scans.index.wait().is_none(), "the index is built by default");
    let (want, indexed) = search(&mut on, "application/json");
    assert!(indexed && !want.is_empty());

    let mut c = apiscope::ingest::Collect::default();
    apiscope::ingest::read_path(&path, &Default::default(), &mut c).unwrap();
    let mut off = App::new(Options { text_index: false, ..Options::default() });
    off.store.set_lazy(Default::default());
    off.load_all(c.exchanges);
    off.on_load(LoadMsg::Finished { stopped: false });
    assert_eq!(off.scans.index.building(), None);
    assert!(off.scans.index.ready().is_none(), "no index without the option");
    let (got, indexed) = search(&mut off, "application/json");
    assert!(!indexed);
    assert_eq!(got, want);
}

/// The flows a search for `text` finds, and whether it read the index.
fn search(a: &mut App, text: &str) -> (HashSet<u32>, bool) {
    let s = apiscope::store::search::Search::new(text).unwrap();
    a.search = Some(s.clone());
    let _ = a.scans.start_search(&a.store, &s);
    let indexed = a.scans.search.as_ref().is_some_and(|j| j.indexed);
    let end = Instant::now() + Duration::from_secs(60);
    a.tick();
    while a.scans.search.is_some() {
        assert!(Instant::now() < end, "search did not finish");
        std::thread::sleep(Duration::from_millis(2));
        a.tick();
    }
    assert!(a.scans.search_done);
    (a.scans.hits.clone(), indexed)
}

/// For each needle: the hits of the search reading the inputs, then (once the index is
/// built as after loading) of the search reading the index; they must be equal. Returns
/// the hits per needle.
fn same_hits(path: &Path, needles: &[&str]) -> Vec<HashSet<u32>> {
    let mut a = lazy_app(path);
    let scanned: Vec<_> = needles
        .iter()
        .map(|n| {
            let (hits, indexed) = search(&mut a, n);
            assert!(!indexed);
            hits
        })
        .collect();
    a.on_load(LoadMsg::Finished { stopped: false });
    assert!(a.scans.index.building().is_some(), "the index is built after loading");
    assert!(a.scans.index.wait().is_none());
    let ix = a.scans.index.ready().expect("index built").clone();
    assert_eq!(ix.flows(), a.store.len(), "{}: every flow indexed", path.display());
    for (n, want) in needles.iter().zip(&scanned) {
        let (got, indexed) = search(&mut a, n);
        assert!(indexed, "{n}");
        assert_eq!(&got, want, "{}: “{n}”", path.display());
    }
    scanned
}

const COMMON: [&str; 9] = [
    "content-type",
    "CONTENT-TYPE",
    "Application/JSON",
    "http",
    "200",
    "no such text anywhere",
    // a header's name and value, the method and the target, status and reason: two fields
    "content-typeapplication",
    "get/",
    "200ok",
];

fn assert_across_fields_never_match(hits: &[HashSet<u32>], what: &str) {
    for (k, n) in COMMON.iter().enumerate().skip(5) {
        assert!(hits[k].is_empty(), "{what}: “{n}”");
    }
}

#[test]
fn index_search_finds_the_same_flows_as_reading_the_demo_capture_again() {
    let dir = crate::support::tempdir();
    let pcap = dir.path().join("demo.pcap");
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(fixture("demo.pcap.gz")).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(&pcap).unwrap()).unwrap();
    let mut needles = COMMON.to_vec();
    // in gzip bodies (decoded), in a header with its case changed, in the query
    needles.extend(["unrealized_pl", "NjGm", "Content-Encoding", "x-request-id", "content-encodinggzip"]);
    let hits = same_hits(&pcap, &needles);
    assert_across_fields_never_match(&hits, "demo");
    let k = COMMON.len();
    assert!(!hits[k].is_empty() && !hits[k + 1].is_empty() && !hits[k + 2].is_empty());
    assert!(hits[k + 4].is_empty(), "header name and value are two fields");
    assert_eq!(hits[0], hits[1], "case-insensitive");
}

#[test]
fn index_search_finds_the_same_flows_in_tls_http2_and_stream_captures() {
    let dir = crate::support::tempdir();
    let mut inputs: Vec<PathBuf> = Vec::new();
    for (pcap, keys) in [
        ("tls/loopback-https.pcap", "tls/loopback-https.keylog"),
        ("tls/connect-tunnel.pcap", "tls/connect-tunnel.keylog"),
        ("h2/loopback-h2.pcap", "h2/loopback-h2.pcap.keylog"),
    ] {
        let out = dir.path().join(Path::new(pcap).file_name().unwrap()).with_extension("pcapng");
        with_keys(&fixture(pcap), &fixture(keys), &out);
        inputs.push(out);
    }
    inputs.push(fixture("streams/ws-sse-loopback.pcap"));
    for p in &inputs {
        let hits = same_hits(p, &COMMON);
        assert_across_fields_never_match(&hits, &p.display().to_string());
        assert!(hits[..5].iter().any(|h| !h.is_empty()), "{}: decrypted and indexed", p.display());
    }
}

#[test]
fn index_search_finds_the_same_flows_in_hars_with_non_ascii_text_and_comments() {
    let hits = same_hits(&fixture("tui-small.har"), &COMMON);
    assert_across_fields_never_match(&hits, "tui-small.har");
    assert!(!hits[2].is_empty());
    let mut needles = COMMON.to_vec();
    needles.extend(["©", "❤️", "Ⓐ"]);
    let hits = same_hits(&fixture("samples/firefox111-mitmproxy-org.har"), &needles);
    assert!(!hits[COMMON.len()].is_empty() && hits[COMMON.len() + 2].is_empty());
    // A comment is searched too (it is not in the index).
    let mut a = lazy_app(&fixture("tui-small.har"));
    a.on_load(LoadMsg::Finished { stopped: false });
    assert!(a.scans.index.wait().is_none());
    // The search prompt says the search reads the index.
    a.on_key(&KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    let shown = text(&screen(&mut a, 120, 30));
    assert!(shown.contains("search (indexed):"), "{shown}");
    a.on_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    a.store.set_comment(3, "Checked by QZX-7781");
    let (got, indexed) = search(&mut a, "qzx-7781");
    assert!(indexed);
    assert_eq!(got, HashSet::from([3]));
}
