//! Integration tests: capture. Packet files → reassembled TCP streams, checked against
//! tshark's "Follow TCP stream" on every real sample and on generated captures (clean, with
//! out-of-order segments and retransmissions, pcap and pcapng), against the generator's
//! ground truth, and for robustness (truncation, byte flips, garbage).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use apiscope::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use apiscope::capture::{CaptureError, CaptureOptions, CaptureStats, Input, read_packets};
use apiscope::model::{Diagnostic, Nanos};

use super::support;

#[derive(Debug, Default, Clone)]
struct Conn {
    info: Option<ConnInfo>,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    gaps: Vec<(Dir, u64)>,
    close: Option<CloseKind>,
    first_ts: Nanos,
    chunks: Vec<(Dir, Nanos, u64)>,
}

/// Concatenates each direction of each connection.
#[derive(Debug, Default)]
struct Collect {
    conns: Vec<Conn>,
    diags: Vec<Diagnostic>,
    secrets: Vec<(u32, Vec<u8>)>,
    events_after_close: u64,
}

impl Collect {
    fn conn(&mut self, id: u64) -> &mut Conn {
        let id = id as usize;
        if self.conns.len() <= id {
            self.conns.resize(id + 1, Conn::default());
        }
        &mut self.conns[id]
    }
}

impl StreamHandler for Collect {
    fn on_open(&mut self, conn: &ConnInfo, ts: Nanos) {
        let c = self.conn(conn.id);
        assert!(c.info.is_none(), "connection {} opened twice", conn.id);
        c.info = Some(conn.clone());
        c.first_ts = ts;
    }
    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        assert!(!data.is_empty());
        let closed = self.conn(conn.id).close.is_some();
        if closed {
            self.events_after_close += 1;
        }
        let c = self.conn(conn.id);
        c.chunks.push((dir, ts, packet));
        match dir {
            Dir::ToServer => c.to_server.extend_from_slice(data),
            Dir::ToClient => c.to_client.extend_from_slice(data),
        }
    }
    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, _ts: Nanos) {
        self.conn(conn.id).gaps.push((dir, len));
    }
    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, _ts: Nanos) {
        let c = self.conn(conn.id);
        assert!(c.close.is_none(), "connection {} closed twice", conn.id);
        c.close = Some(how);
    }
    fn on_diagnostic(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
    fn on_secrets(&mut self, secrets_type: u32, data: &[u8]) {
        self.secrets.push((secrets_type, data.to_vec()));
    }
}

fn read_bytes(bytes: Vec<u8>) -> (Collect, Result<CaptureStats, CaptureError>) {
    let mut c = Collect::default();
    let r = read_packets(Input::Bytes(bytes), &CaptureOptions::default(), &mut c);
    (c, r)
}

fn read_file(path: &Path) -> (Collect, CaptureStats) {
    let (c, r) = read_bytes(std::fs::read(path).unwrap());
    let st = r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // Every opened connection is closed exactly once, nothing arrives after a close.
    for (i, conn) in c.conns.iter().enumerate() {
        assert!(conn.info.is_some(), "{}: connection {i} never opened", path.display());
        assert!(conn.close.is_some(), "{}: connection {i} never closed", path.display());
    }
    assert_eq!(c.events_after_close, 0);
    (c, st)
}

/// One TCP stream as tshark's "Follow TCP stream" gives it.
#[derive(Debug)]
struct Followed {
    node0: SocketAddr,
    node1: SocketAddr,
    from0: Vec<u8>,
    from1: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    let b = s.trim().as_bytes();
    b.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// tshark's follow output for every TCP stream of `path`, with out-of-order reassembly on.
fn tshark_follow(path: &Path) -> Vec<Followed> {
    let ids = Command::new("tshark").arg("-r").arg(path).args(["-T", "fields", "-e", "tcp.stream"]).output().unwrap();
    let n = String::from_utf8_lossy(&ids.stdout).lines().filter_map(|l| l.trim().parse::<u64>().ok()).max();
    let Some(n) = n else { return vec![] };
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-o", "tcp.reassemble_out_of_order:TRUE", "-q"]);
    for i in 0..=n {
        cmd.arg("-z").arg(format!("follow,tcp,raw,{i}"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut res = Vec::new();
    let mut cur: Option<Followed> = None;
    for line in text.lines() {
        if line.starts_with("=====") {
            if let Some(f) = cur.take() {
                res.push(f);
            }
        } else if let Some(a) = line.strip_prefix("Node 0: ") {
            let unspec: SocketAddr = "0.0.0.0:0".parse().unwrap();
            cur = Some(Followed { node0: a.parse().unwrap(), node1: unspec, from0: vec![], from1: vec![] });
        } else if let Some(a) = line.strip_prefix("Node 1: ") {
            cur.as_mut().unwrap().node1 = a.parse().unwrap();
        } else if let Some(f) = cur.as_mut() {
            if line.starts_with("Follow:") || line.starts_with("Filter:") || line.trim().is_empty() {
                continue;
            }
            if let Some(h) = line.strip_prefix('\t') {
                f.from1.extend(hex(h));
            } else {
                f.from0.extend(hex(line));
            }
        }
    }
    res
}

/// Our streams equal tshark's, connection by connection (matched by endpoints, in order);
/// connections that carried no payload are left out on both sides.
fn assert_same_as_tshark(path: &Path, c: &Collect) {
    let theirs = tshark_follow(path);
    let mut by_pair: HashMap<(SocketAddr, SocketAddr), Vec<&Followed>> = HashMap::new();
    for f in theirs.iter().filter(|f| !f.from0.is_empty() || !f.from1.is_empty()) {
        let key = if f.node0 <= f.node1 { (f.node0, f.node1) } else { (f.node1, f.node0) };
        by_pair.entry(key).or_default().push(f);
    }
    let mut ours_with_data = 0;
    let mut used: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for conn in c.conns.iter().filter(|c| !c.to_server.is_empty() || !c.to_client.is_empty()) {
        ours_with_data += 1;
        let info = conn.info.as_ref().unwrap();
        let key = if info.client <= info.server { (info.client, info.server) } else { (info.server, info.client) };
        let idx = used.entry(key).or_insert(0);
        let f = by_pair
            .get(&key)
            .and_then(|v| v.get(*idx))
            .unwrap_or_else(|| panic!("{}: tshark has no stream for {key:?} #{idx}", path.display()));
        *idx += 1;
        let (cs, sc) = if f.node0 == info.client { (&f.from0, &f.from1) } else { (&f.from1, &f.from0) };
        assert!(
            &conn.to_server == cs,
            "{}: connection {} client→server differs from tshark ({} vs {} bytes)",
            path.display(),
            info.id,
            conn.to_server.len(),
            cs.len()
        );
        assert!(
            &conn.to_client == sc,
            "{}: connection {} server→client differs from tshark ({} vs {} bytes)",
            path.display(),
            info.id,
            conn.to_client.len(),
            sc.len()
        );
    }
    let theirs_with_data: usize = by_pair.values().map(Vec::len).sum();
    assert_eq!(ours_with_data, theirs_with_data, "{}: streams with data", path.display());
    // Packet numbers are Wireshark's frame numbers: every chunk names a frame that carries
    // TCP payload in tshark's view too.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.number", "-e", "tcp.len"])
        .output()
        .unwrap();
    let with_payload: std::collections::HashSet<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, len) = l.split_once('\t')?;
            (len.trim().parse::<u64>().ok()? > 0).then(|| n.trim().parse().ok())?
        })
        .collect();
    for conn in &c.conns {
        for (_, _, pkt) in &conn.chunks {
            assert!(with_payload.contains(pkt), "{}: frame {pkt} has no TCP payload in tshark", path.display());
        }
    }
}

/// Every real capture sample: the shared directory's when present, else the copies kept in
/// fixtures/samples.
fn samples() -> Vec<PathBuf> {
    let dir = support::shared()
        .map(|s| s.join("samples").join("pcap"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| support::fixture("samples"));
    let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
    let mut v: Vec<PathBuf> =
        rd.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng")).collect();
    v.sort();
    v
}

#[test]
fn committed_demo_capture_matches_its_truth_through_a_gzip_stream() {
    let path = support::fixture("demo.pcap.gz");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(support::fixture("demo.truth.json")).unwrap()).unwrap();
    let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap());
    let mut c = Collect::default();
    let st = read_packets(Input::Reader(Box::new(gz)), &CaptureOptions::default(), &mut c).unwrap();
    assert_eq!(st.connections, truth["connections"].as_u64().unwrap());
    assert_eq!(st.packets, truth["packets"].as_u64().unwrap());
    assert_eq!((st.gaps, st.conflicting_overlaps, st.malformed_packets), (0, 0, 0), "{st:?}");
    assert!(st.retransmitted_bytes > 0, "the demo has the default anomalies: {st:?}");
    let requests: usize = c.conns.iter().map(|c| count(&c.to_server, b" HTTP/1.1\r\n")).sum();
    assert_eq!(requests as u64, truth["requests"].as_u64().unwrap());
    let responses: usize = c.conns.iter().map(|c| count(&c.to_client, b"HTTP/1.1 ")).sum();
    assert!(responses as u64 >= truth["responses"].as_u64().unwrap());
    assert!(c.conns.iter().all(|c| c.close.is_some()));
}

/// Every sample, plus the captures named in `$APISCOPE_CAPTURE_EXTRA` (colon-separated; e.g.
/// a real loopback capture from `../shared/gen/capture_real.sh`).
#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn every_sample_capture_matches_tshark_follow_tcp_stream() {
    let mut files = samples();
    if let Some(extra) = std::env::var_os("APISCOPE_CAPTURE_EXTRA") {
        files.extend(std::env::split_paths(&extra));
    }
    assert!(!files.is_empty(), "fixtures/samples holds captures");
    support::need_tool("tshark");
    for f in &files {
        let (c, st) = read_file(f);
        assert!(st.packets > 0, "{}: no packets", f.display());
        assert_eq!(st.bytes, std::fs::metadata(f).unwrap().len(), "{}: not read to the end", f.display());
        assert!(
            !c.diags.iter().any(|d| d.code.starts_with("capture.damaged") || d.code == "capture.truncated"),
            "{}: {:?}",
            f.display(),
            c.diags
        );
        assert_same_as_tshark(f, &c);
    }
}

#[test]
fn samples_cover_their_link_layers_and_formats() {
    let null = support::need_sample("pcap/zeek-http-connect-bsd-null.pcap");
    let (c, st) = read_file(&null);
    assert!(c.conns.iter().any(|c| c.to_server.starts_with(b"CONNECT ")), "BSD NULL link: {st:?}");
    let v6 = support::need_sample("pcap/arkime-ipv6-http.pcap");
    let (c, _) = read_file(&v6);
    let info = c.conns[0].info.as_ref().unwrap();
    assert!(info.client.is_ipv6() && info.server.port() == 80 && info.syn_seen);
    assert!(c.conns[0].to_server.starts_with(b"GET / HTTP/1."));
    let sll2 = support::need_sample("pcap/zeek-tls-sll2.pcap");
    let (c, st) = read_file(&sll2);
    assert_eq!(st.skipped_unknown_link, 0);
    assert!(c.conns.iter().any(|c| c.to_server.first() == Some(&0x16)), "TLS handshake over SLL2");
    let be = support::need_sample("pcap/arkime-bigendian-nohttp.pcap");
    let (_, st) = read_file(&be);
    assert_eq!(st.packets, 2);
}

/// The Lekensteyn pcapng (not copied into fixtures: its licence is unclear): the TLS key in
/// the section header comment, nanosecond timestamps, frame numbers.
#[test]
#[cfg_attr(not(has_shared_samples), ignore = "needs ../shared/samples (sample not in fixtures/: licence unclear)")]
fn pcapng_sample_with_key_in_comment_has_ns_times_and_frame_numbers() {
    let ng = support::need_sample("pcap/lekensteyn-https-chunked-key-in-comment.pcapng");
    let (c, st) = read_file(&ng);
    assert_eq!(st.secrets_blocks, 1);
    assert!(c.secrets[0].1.starts_with(b"CLIENT_RANDOM "));
    // if_tsresol = 9: the first packet's time is 2014-something in ns, not 1000× off.
    let first = c.conns[0].first_ts;
    assert!((1_300_000_000_000_000_000..1_700_000_000_000_000_000).contains(&first), "{first}");
    // Packet numbers are 1-based and rise.
    let pk: Vec<u64> = c.conns[0].chunks.iter().map(|x| x.2).collect();
    assert!(pk[0] >= 1 && pk.windows(2).all(|w| w[0] <= w[1]));
}

/// Generated captures, made once per test run when ../shared/gen is there.
type Generated = Vec<(PathBuf, serde_json::Value)>;

fn generated() -> &'static Generated {
    static GEN: OnceLock<(tempfile::TempDir, Generated)> = OnceLock::new();
    &GEN.get_or_init(|| {
        support::need_tool("python3");
        let gen_py = support::need_gen_dir().join("gen_pcap.py");
        let dir = support::tempdir();
        let mut out = Vec::new();
        let variants: [(&str, &[&str]); 4] = [
            ("clean.pcap", &[]),
            ("clean.pcapng", &["--seed", "5"]),
            ("anomalies.pcap", &["--ooo", "0.01", "--retrans", "0.02", "--seed", "3"]),
            ("anomalies.pcapng", &["--ooo", "0.01", "--retrans", "0.02", "--seed", "9"]),
        ];
        for (name, extra) in variants {
            let p = dir.path().join(name);
            let st = Command::new("python3")
                .arg(&gen_py)
                .args(["--requests", "300", "-o"])
                .arg(&p)
                .args(extra)
                .output()
                .expect("python3 runs");
            assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
            let truth = std::fs::read(p.with_extension(format!("{}.truth.json", ext(&p)))).expect("truth file");
            out.push((p, serde_json::from_slice(&truth).expect("truth is JSON")));
        }
        (dir, out)
    })
    .1
}

fn ext(p: &Path) -> String {
    p.extension().unwrap().to_string_lossy().into_owned()
}

#[test]
#[cfg_attr(not(has_shared_gen), ignore = "needs ../shared/gen and python3")]
fn generated_captures_match_ground_truth_with_no_gaps() {
    for (p, truth) in generated() {
        let (c, st) = read_file(p);
        assert_eq!(st.connections, truth["connections"].as_u64().unwrap(), "{}", p.display());
        assert_eq!(st.packets, truth["packets"].as_u64().unwrap(), "{}", p.display());
        assert_eq!((st.gaps, st.gap_bytes, st.conflicting_overlaps), (0, 0, 0), "{}: {st:?}", p.display());
        assert_eq!(st.malformed_packets, 0);
        assert!(c.conns.iter().all(|c| c.info.as_ref().unwrap().syn_seen));
        assert!(c.conns.iter().all(|c| c.gaps.is_empty()));
        // Requests start each client stream; every connection carries traffic both ways.
        for conn in &c.conns {
            assert!(conn.to_server.first().is_some_and(u8::is_ascii_uppercase), "{}", p.display());
            assert!(conn.to_client.starts_with(b"HTTP/1."), "{}", p.display());
        }
        let requests: usize = c.conns.iter().map(|c| count(&c.to_server, b" HTTP/1.1\r\n")).sum();
        assert_eq!(requests as u64, truth["requests"].as_u64().unwrap(), "{}", p.display());
        if p.to_string_lossy().contains("anomalies") {
            assert!(st.out_of_order_segments > 0 && st.retransmitted_bytes > 0, "{st:?}");
        }
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
#[cfg_attr(not(all(has_shared_gen, has_tshark)), ignore = "needs ../shared/gen, python3 and tshark")]
fn generated_captures_match_tshark_follow_tcp_stream() {
    support::need_tool("tshark");
    for (p, _) in generated() {
        let (c, _) = read_file(p);
        assert_same_as_tshark(p, &c);
    }
}

#[test]
fn streaming_reader_gives_the_same_streams_as_in_memory() {
    let mut files = samples();
    if cfg!(has_shared_gen) {
        files.extend(generated().iter().map(|(p, _)| p.clone()));
    }
    for f in files {
        let (a, sa) = read_file(&f);
        let mut b = Collect::default();
        let r = Box::new(std::io::BufReader::with_capacity(7, std::fs::File::open(&f).unwrap()));
        let sb = read_packets(Input::Reader(r), &CaptureOptions::default(), &mut b).unwrap();
        assert_eq!(sa, sb, "{}", f.display());
        assert_eq!(a.conns.len(), b.conns.len());
        for (x, y) in a.conns.iter().zip(&b.conns) {
            assert_eq!((&x.to_server, &x.to_client, &x.chunks), (&y.to_server, &y.to_client, &y.chunks));
        }
    }
}

/// A small deterministic generator for the robustness loops.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn truncations_and_byte_flips_give_diagnostics_never_a_panic() {
    let mut files = samples();
    if cfg!(has_shared_gen) {
        files.extend(generated().iter().map(|(p, _)| p.clone()));
    }
    files.push(support::fixture("capture-mixed.pcapng"));
    // More rounds (and another seed) on demand: APISCOPE_FUZZ_ROUNDS=400 APISCOPE_FUZZ_SEED=7.
    let rounds: u64 = std::env::var("APISCOPE_FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let seed: u64 = std::env::var("APISCOPE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(42);
    let mut rng = Lcg(seed);
    for f in files {
        let Ok(orig) = std::fs::read(&f) else { continue };
        let (_, full) = read_bytes(orig.clone());
        let full = full.unwrap();
        for i in 0..rounds {
            let cut = (rng.next() as usize) % orig.len();
            let (c, r) = read_bytes(orig[..cut].to_vec());
            if let Ok(st) = r {
                assert!(st.packets <= full.packets);
                if (st.bytes as usize) < cut {
                    assert!(
                        c.diags.iter().any(|d| d.code == "capture.truncated" || d.code == "capture.damaged"),
                        "{} cut at {cut}: no diagnostic",
                        f.display()
                    );
                    let d = c.diags.iter().find(|d| d.code == "capture.truncated" || d.code == "capture.damaged");
                    assert!(d.unwrap().location.as_deref().unwrap().contains("packet"));
                }
            }
            let mut flipped = orig.clone();
            for _ in 0..(1 + i % 8) {
                let at = (rng.next() as usize) % flipped.len();
                flipped[at] ^= 1 << (rng.next() % 8);
            }
            let (_c, _r) = read_bytes(flipped);
            let mut garbage = orig[..orig.len().min(64)].to_vec();
            garbage.extend((0..(rng.next() % 4000)).map(|_| rng.next() as u8));
            let _ = read_bytes(garbage);
        }
    }
}

#[test]
fn unreadable_inputs_are_errors_with_a_reason() {
    assert!(matches!(read_bytes(vec![]).1, Err(CaptureError::Empty)));
    assert!(matches!(read_bytes(b"<html>not a capture</html>".to_vec()).1, Err(CaptureError::NotCapture(_))));
    for m in [[0x34, 0xcd, 0xb2, 0xa1], [0xa1, 0xb2, 0xcd, 0x34]] {
        let mut f = m.to_vec();
        f.extend([0u8; 40]);
        let err = read_bytes(f).1.unwrap_err();
        assert!(matches!(err, CaptureError::ModifiedPcap));
        assert!(err.to_string().contains("modified"));
    }
    assert!(matches!(read_bytes(vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).1, Err(CaptureError::ShortHeader(6))));
}

// ---- small capture builders -------------------------------------------------------------

fn w32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn w16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn block(be: bool, ty: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut v = Vec::new();
    w32(&mut v, ty, be);
    w32(&mut v, len, be);
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    w32(&mut v, len, be);
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, 0x1a2b_3c4d, be);
    w16(&mut b, 1, be);
    w16(&mut b, 0, be);
    b.extend([0xff; 8]);
    block(be, 0x0a0d_0d0a, &b)
}

fn idb(be: bool, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
    let mut b = Vec::new();
    w16(&mut b, link, be);
    w16(&mut b, 0, be);
    w32(&mut b, 262_144, be);
    if let Some(r) = tsresol {
        w16(&mut b, 9, be);
        w16(&mut b, 1, be);
        b.extend([r, 0, 0, 0]);
    }
    if let Some(o) = tsoffset {
        w16(&mut b, 14, be);
        w16(&mut b, 8, be);
        b.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
    }
    b.extend([0; 4]);
    block(be, 1, &b)
}

fn epb(be: bool, iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, iface, be);
    w32(&mut b, (ticks >> 32) as u32, be);
    w32(&mut b, ticks as u32, be);
    w32(&mut b, data.len() as u32, be);
    w32(&mut b, data.len() as u32, be);
    b.extend_from_slice(data);
    block(be, 6, &b)
}

fn spb(be: bool, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    w32(&mut b, data.len() as u32, be);
    b.extend_from_slice(data);
    block(be, 3, &b)
}

/// IPv4 + TCP (no checksums: nothing here checks them).
fn ip_tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sport.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend(seq.to_be_bytes());
    t.extend(ack.to_be_bytes());
    t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let (src, dst) = if dport == 80 { ([10, 0, 0, 1], [10, 0, 0, 2]) } else { ([10, 0, 0, 2], [10, 0, 0, 1]) };
    let mut v = vec![0x45, 0];
    v.extend(((20 + t.len()) as u16).to_be_bytes());
    v.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
    v.extend(src);
    v.extend(dst);
    v.extend(t);
    v
}

fn ether(ip: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    v.extend_from_slice(ip);
    // Pad to the Ethernet minimum, as real frames are: the padding must not reach the stream.
    if v.len() < 60 {
        v.resize(60, 0);
    }
    v
}

/// The committed fixture `fixtures/capture-mixed.pcapng` is exactly this file; the test
/// below rebuilds it and fails if the two differ (regenerate with `APISCOPE_WRITE_FIXTURES=1`).
fn mixed_pcapng() -> Vec<u8> {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const FIN: u8 = 0x01;
    let mut f = shb(false);
    // Interface 0: Ethernet, ns resolution, offset 1000 s. Interface 1: RAW, µs (default).
    f.extend(idb(false, 1, Some(9), Some(1000)));
    f.extend(idb(false, 101, None, None));
    f.extend(block(false, 0x0000_0bad, b"custom block, skipped by length"));
    let mut dsb = Vec::new();
    w32(&mut dsb, 0x544c_534b, false);
    let keys = b"CLIENT_RANDOM 00 11\n";
    w32(&mut dsb, keys.len() as u32, false);
    dsb.extend_from_slice(keys);
    f.extend(block(false, 0x0a, &dsb));
    let t0: u64 = 1_700_000_000_000_000_000;
    f.extend(epb(false, 0, t0, &ether(&ip_tcp(40000, 80, 100, 0, SYN, b""))));
    f.extend(epb(false, 0, t0 + 1000, &ether(&ip_tcp(80, 40000, 900, 101, SYN | ACK, b""))));
    f.extend(epb(false, 1, 1_700_001_000_000_002, &ip_tcp(40000, 80, 101, 901, ACK, b"GET / HTTP/1.1\r\n")));
    // Out of order: the second half of the request first, on interface 0.
    f.extend(epb(false, 0, t0 + 4000, &ether(&ip_tcp(40000, 80, 128, 901, ACK, b"\r\n"))));
    f.extend(spb(false, &ether(&ip_tcp(40000, 80, 117, 901, ACK, b"Host: a.b\r\n"))));
    // A second section in big-endian with its own interface list.
    f.extend(shb(true));
    f.extend(idb(true, 1, Some(6), None));
    f.extend(epb(
        true,
        0,
        1_700_001_000_010_000,
        &ether(&ip_tcp(80, 40000, 901, 130, ACK, b"HTTP/1.1 204 No Content\r\n\r\n")),
    ));
    f.extend(epb(true, 0, 1_700_001_000_011_000, &ether(&ip_tcp(80, 40000, 928, 130, ACK | FIN, b""))));
    f.extend(epb(true, 0, 1_700_001_000_012_000, &ether(&ip_tcp(40000, 80, 130, 929, ACK | FIN, b""))));
    f
}

#[test]
fn pcapng_sections_interfaces_resolutions_spb_unknown_block_and_dsb() {
    let f = mixed_pcapng();
    let fixture = support::fixture("capture-mixed.pcapng");
    if std::env::var_os("APISCOPE_WRITE_FIXTURES").is_some() {
        std::fs::write(&fixture, &f).unwrap();
    }
    assert_eq!(std::fs::read(&fixture).unwrap(), f, "fixtures/capture-mixed.pcapng is stale");
    let (c, r) = read_bytes(f);
    let st = r.unwrap();
    // Wireshark numbers the custom block as frame 1; so do we.
    assert_eq!((st.packets, st.non_packet_frames), (9, 1));
    assert_eq!(st.connections, 1);
    assert_eq!(c.secrets, vec![(0x544c_534b, b"CLIENT_RANDOM 00 11\n".to_vec())]);
    let conn = &c.conns[0];
    assert_eq!(conn.to_server, b"GET / HTTP/1.1\r\nHost: a.b\r\n\r\n");
    assert_eq!(conn.to_client, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(conn.gaps.is_empty());
    assert_eq!(conn.close, Some(CloseKind::Fin));
    // ns resolution + 1000 s offset on interface 0.
    assert_eq!(conn.first_ts, 1_700_001_000_000_000_000);
    // Chunks: frame 4 (RAW, µs), then the SPB (frame 6) fills the hole, then frame 5 (the
    // numbers tshark shows for this file).
    let ts: Vec<(Nanos, u64)> = conn.chunks.iter().map(|x| (x.1, x.2)).collect();
    assert_eq!(
        ts,
        vec![
            (1_700_001_000_000_002_000, 4),
            (1_700_001_000_000_004_000, 6),
            (1_700_001_000_000_004_000, 5),
            (1_700_001_000_010_000_000, 7)
        ]
    );
    assert!(c.conns[0].info.as_ref().unwrap().syn_seen);
}

#[test]
fn unsupported_link_type_gives_one_diagnostic_not_one_per_packet() {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend([0; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(147u32.to_le_bytes());
    for i in 0..5u32 {
        f.extend(i.to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend(4u32.to_le_bytes());
        f.extend(4u32.to_le_bytes());
        f.extend([1, 2, 3, 4]);
    }
    let (c, r) = read_bytes(f);
    let st = r.unwrap();
    assert_eq!((st.packets, st.skipped_unknown_link, st.skipped_packets), (5, 5, 5));
    let d: Vec<_> = c.diags.iter().filter(|d| d.code == "capture.link_unsupported").collect();
    assert_eq!(d.len(), 1);
    assert!(d[0].message.contains("link type 147") && d[0].message.contains("its 5 packets"), "{}", d[0].message);
}

#[test]
fn snaplen_cut_packets_give_gaps_and_are_counted() {
    const ACK: u8 = 0x10;
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend([0; 8]);
    f.extend(96u32.to_le_bytes());
    f.extend(101u32.to_le_bytes());
    for (i, (seq, body)) in [
        (1u32, &b"0123456789"[..]),
        (11, &b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[..]),
        (99, b"tail"),
    ]
    .into_iter()
    .enumerate()
    {
        let pkt = ip_tcp(40000, 80, seq, 1, ACK, body);
        let cap = pkt.len().min(96);
        f.extend((i as u32).to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend((cap as u32).to_le_bytes());
        f.extend((pkt.len() as u32).to_le_bytes());
        f.extend(&pkt[..cap]);
    }
    let (c, r) = read_bytes(f);
    let st = r.unwrap();
    assert_eq!(st.snaplen_cut_packets, 1);
    let conn = &c.conns[0];
    assert_eq!(conn.to_server.len(), 10 + (96 - 40) + 4);
    assert!(conn.to_server.ends_with(b"tail"));
    assert_eq!(conn.gaps.iter().filter(|g| g.1 > 0).map(|g| g.1).sum::<u64>(), 88 - 56);
}

fn pcap_raw(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend([0; 8]);
    f.extend(65535u32.to_le_bytes());
    f.extend(101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend((i as u32).to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend((p.len() as u32).to_le_bytes());
        f.extend(p);
    }
    f
}

/// Split an IPv4 packet (20-byte header) into fragments carrying `first` transport bytes
/// and the rest.
fn fragment(p: &[u8], first: usize) -> (Vec<u8>, Vec<u8>) {
    let (hdr, body) = p.split_at(20);
    let mk = |part: &[u8], off: usize, more: bool| {
        let mut h = hdr.to_vec();
        h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        let ff = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&ff.to_be_bytes());
        h.extend_from_slice(part);
        h
    };
    (mk(&body[..first], 0, true), mk(&body[first..], first, false))
}

#[test]
fn ipv4_fragmented_segments_are_reassembled_before_tcp() {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    let big: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let data = ip_tcp(40000, 80, 1, 1, ACK, &big);
    let (f1, f2) = fragment(&data, 1480);
    // The second fragment first: reassembly does not care about order.
    let f = pcap_raw(&[ip_tcp(40000, 80, 0, 0, SYN, b""), f2, f1, ip_tcp(40000, 80, 3001, 1, ACK, b"end")]);
    let (c, r) = read_bytes(f);
    let st = r.unwrap();
    assert_eq!((st.packets, st.ip_fragments, st.ip_fragments_reassembled), (4, 2, 1));
    let mut want = big.clone();
    want.extend(b"end");
    assert_eq!(c.conns[0].to_server, want);
    assert!(c.conns[0].gaps.is_empty());
    // The reassembled segment is credited to the packet that completed it.
    assert_eq!(c.conns[0].chunks.iter().map(|x| x.2).collect::<Vec<_>>(), vec![3, 4]);
}

#[test]
fn a_hole_the_receiver_acknowledged_becomes_a_gap_at_once() {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    let f = pcap_raw(&[
        ip_tcp(40000, 80, 0, 0, SYN, b""),
        ip_tcp(80, 40000, 0, 1, SYN | ACK, b""),
        ip_tcp(40000, 80, 1, 1, ACK, b"GET /a HTTP/1.1\r\n\r\n"),
        // The next request's first segment was lost before the tap ...
        ip_tcp(40000, 80, 30, 1, ACK, b"tail of request 2"),
        // ... but the server acknowledges everything.
        ip_tcp(80, 40000, 1, 47, ACK, b"HTTP/1.1 200 OK\r\n"),
    ]);
    let (c, r) = read_bytes(f);
    let st = r.unwrap();
    assert_eq!((st.gaps, st.gap_bytes), (1, 10));
    assert_eq!(c.conns[0].gaps, vec![(Dir::ToServer, 10)]);
    assert_eq!(c.conns[0].to_server, b"GET /a HTTP/1.1\r\n\r\ntail of request 2");
}

/// Stops after the first chunk of stream data.
#[derive(Default)]
struct StopEarly {
    inner: Collect,
    progress: Vec<(u64, Option<u64>)>,
}

impl StreamHandler for StopEarly {
    fn on_open(&mut self, conn: &ConnInfo, ts: Nanos) {
        self.inner.on_open(conn, ts);
    }
    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64) {
        self.inner.on_data(conn, dir, data, ts, packet);
    }
    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, ts: Nanos) {
        self.inner.on_gap(conn, dir, len, ts);
    }
    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, ts: Nanos) {
        self.inner.on_close(conn, how, ts);
    }
    fn on_diagnostic(&mut self, d: Diagnostic) {
        self.inner.on_diagnostic(d);
    }
    fn on_progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.progress.push((bytes_read, total));
    }
    fn should_stop(&self) -> bool {
        self.inner.conns.iter().any(|c| !c.to_server.is_empty())
    }
}

#[test]
fn should_stop_ends_reading_early_and_still_closes_connections() {
    let path = support::fixture("capture-mixed.pcapng");
    let bytes = std::fs::read(&path).unwrap();
    let total = bytes.len() as u64;
    let mut h = StopEarly::default();
    let st = read_packets(Input::Bytes(bytes), &CaptureOptions::default(), &mut h).unwrap();
    // Frame 4 carries the first request bytes; nothing after it is read.
    assert_eq!(st.packets, 4);
    assert!(st.bytes < total);
    assert_eq!(h.inner.conns[0].close, Some(CloseKind::EndOfCapture));
    // The final progress report says where reading stopped, out of how much.
    assert_eq!(h.progress.last(), Some(&(st.bytes, Some(total))));
}

/// Real captures of tunnels, encapsulations and link types (fixtures/capture-longtail).
fn longtail(name: &str) -> PathBuf {
    support::fixture("capture-longtail").join(name)
}

/// What reading a capture unwrapped and reached: (packets, tcp_packets, gre, erspan, vxlan,
/// geneve, mpls, pppoe, ip_in_ip, wifi).
fn unwrapped(st: &CaptureStats) -> [u64; 10] {
    [
        st.packets,
        st.tcp_packets,
        st.unwrapped_gre,
        st.unwrapped_erspan,
        st.unwrapped_vxlan,
        st.unwrapped_geneve,
        st.unwrapped_mpls,
        st.unwrapped_pppoe,
        st.unwrapped_ip_in_ip,
        st.unwrapped_wifi,
    ]
}

/// Per file: [packets, tcp_packets, gre, erspan, vxlan, geneve, mpls, pppoe, ip_in_ip, wifi].
/// Frame and TCP counts are tshark's (`tshark -r F | wc -l`, `-Y tcp`); the layer counts
/// equal tshark's frames with that layer (`-Y gre`, `-Y erspan`, `-Y vxlan`, `-Y geneve`,
/// `-Y mpls`, `-Y pppoes`, `-Y "wlan and llc"`), one layer per frame in these files.
const LONGTAIL: &[(&str, [u64; 10])] = &[
    ("HDLC.pcap", [38, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ("erspan-type-i-4.pcap", [119, 0, 96, 88, 0, 0, 0, 0, 0, 0]),
    ("erspan-type-ii-3.pcap", [108, 0, 108, 108, 0, 0, 0, 0, 0, 0]),
    ("erspan-type-iii-ft-0.pcap", [9, 0, 9, 9, 0, 0, 0, 0, 0, 0]),
    ("erspan-type-iii-ft-7.pcap", [58, 0, 58, 58, 0, 0, 0, 0, 0, 0]),
    ("geneve.pcap", [39, 33, 0, 0, 0, 39, 0, 0, 0, 0]),
    ("ieee802.11_htc.pcap", [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ("mpls-traceroute.pcap", [18, 0, 0, 0, 0, 0, 9, 0, 0, 0]),
    ("pppoes.pcap", [2, 0, 0, 0, 0, 0, 0, 2, 0, 0]),
    ("sv-bug-4810_pppoe-session-http.pcap", [30, 30, 0, 0, 0, 0, 0, 30, 0, 0]),
    ("sv-bug-5633-gre-02_gre-sample.pcap", [40, 22, 40, 0, 0, 0, 0, 0, 0, 0]),
    ("sv-bug-7725-01_ip_in_ip.pcap", [6, 0, 0, 0, 0, 0, 0, 0, 6, 0]),
    ("sv-decode-chdlc-01_hdlc-http_1tx.pcap", [17, 17, 0, 0, 0, 0, 0, 0, 0, 0]),
    ("sv-decode-erspan-typeII-01_input.pcap", [6, 0, 6, 6, 0, 0, 0, 0, 0, 0]),
    ("sv-decode-sll2-01_input.pcap", [5, 5, 0, 0, 0, 0, 0, 0, 0, 0]),
    ("sv-vxlan-decoder-03_vxlan.pcap", [100, 82, 0, 0, 100, 0, 0, 0, 0, 0]),
    ("vxlan.pcap", [10, 0, 0, 0, 10, 0, 0, 0, 0, 0]),
    ("wccp_redirect_gre.pcap", [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
];

#[test]
fn tunnels_and_link_types_are_unwrapped_with_tsharks_counts() {
    for (name, want) in LONGTAIL {
        let (c, st) = read_file(&longtail(name));
        assert_eq!(unwrapped(&st), *want, "{name}");
        assert_eq!(st.malformed_packets, 0, "{name}");
        let said = c.diags.iter().any(|d| d.code == "capture.unwrapped");
        assert_eq!(said, want[2..].iter().any(|&n| n > 0), "{name}: one diagnostic says what was unwrapped");
    }
}

#[test]
#[cfg_attr(not(has_tshark), ignore = "needs tshark (apt install tshark)")]
fn tunnelled_tcp_streams_match_tshark_follow_tcp_stream() {
    support::need_tool("tshark");
    for (name, want) in LONGTAIL.iter().filter(|(_, w)| w[1] > 0) {
        let p = longtail(name);
        let (c, st) = read_file(&p);
        assert_eq!(st.tcp_packets, want[1]);
        assert_same_as_tshark(&p, &c);
    }
}

#[test]
fn what_is_still_not_read_gets_one_diagnostic_naming_the_reason_and_count() {
    let (c, st) = read_file(&longtail("sv-decode-sctp-01_input.pcap"));
    assert_eq!((st.packets, st.sctp_packets, st.skipped_non_tcp), (1, 1, 1));
    let d: Vec<_> = c.diags.iter().filter(|d| d.code == "capture.sctp_unsupported").collect();
    assert_eq!(d.len(), 1);
    assert!(d[0].message.starts_with("1 SCTP packets"), "{}", d[0].message);
    // MPLS pseudowires nested past the bound: one packet, skipped as too deep.
    let (c, st) = read_file(&longtail("sv-decode-too-many-layers_input.pcap"));
    assert_eq!((st.packets, st.skipped_too_deep, st.skipped_packets), (1, 1, 1));
    assert_eq!(c.diags.iter().filter(|d| d.code == "capture.too_deep").count(), 1);
}

#[test]
fn ip_in_ip_and_ipv4_in_ipv6_are_unwrapped() {
    // tshark: 4 frames, 2 of them eth:ipv6:ip:icmp (IPv4 inside IPv6).
    let (_, st) = read_file(&longtail("sv-flow-pkt-recursion_tunnel-pkt-flows.pcap"));
    assert_eq!((st.packets, st.unwrapped_ip_in_ip, st.skipped_non_tcp), (4, 2, 4));
}

#[test]
fn radiotap_data_frames_carry_tcp_and_protected_frames_are_counted() {
    // A radiotap header (8 bytes), an 802.11 QoS data frame to the AP, LLC/SNAP, IPv4, TCP.
    let wifi = |protected: bool, ip: &[u8]| {
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
        f.extend([0x88, if protected { 0x41 } else { 0x01 }, 0, 0]);
        // Three addresses, sequence control, QoS control.
        f.extend([0u8; 18]);
        f.extend([0, 0, 0, 0]);
        f.extend([0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(ip);
        f
    };
    let mut file = pcap_header(127);
    let packets = [
        wifi(false, &ip_tcp(40000, 80, 1, 0, 0x02, b"")),
        wifi(false, &ip_tcp(40000, 80, 2, 0, 0x18, b"GET / HTTP/1.1\r\n\r\n")),
        wifi(true, &ip_tcp(40000, 80, 2, 0, 0x18, b"sealed")),
    ];
    for (i, p) in packets.iter().enumerate() {
        file.extend(pcap_record(i as u32, p));
    }
    let (c, st) = read_bytes(file);
    let st = st.unwrap();
    assert_eq!((st.packets, st.tcp_packets, st.unwrapped_wifi, st.skipped_encrypted), (3, 2, 2, 1));
    assert_eq!(c.conns[0].to_server, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(c.diags.iter().filter(|d| d.code == "capture.wifi_encrypted").count(), 1);
}

fn pcap_header(link: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(0xa1b2_c3d4u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend([0u8; 8]);
    v.extend(65535u32.to_le_bytes());
    v.extend(link.to_le_bytes());
    v
}

fn pcap_record(sec: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(sec.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend((data.len() as u32).to_le_bytes());
    v.extend((data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}
