//! Benchmark of the packet path: pcap framing, link/IP/TCP parsing and TCP reassembly
//! (`capture::read_packets`) with a handler that only counts bytes, so nothing above the
//! streams is measured.
//!
//! - `cargo bench --bench capture`: criterion over a capture generated at bench time with
//!   `../shared/gen/gen_pcap.py --bytes 20M` (skipped when the generator is absent), read
//!   from memory and through the streaming reader.
//! - `APISCOPE_CAPTURE_FILE=/tmp/1g.pcap cargo bench --bench capture`: one timed pass over
//!   that file (streamed as `apiscope flows` reads it; set `APISCOPE_CAPTURE_IN_MEMORY=1` to read it whole first),
//!   printing MB/s and the counters; run the bench binary under `/usr/bin/time -v` for the
//!   peak RSS.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use apiscope::capture::stream::{CloseKind, ConnInfo, Dir, StreamHandler};
use apiscope::capture::{CaptureOptions, Input, read_packets};
use apiscope::model::{Diagnostic, Nanos};
use criterion::{Criterion, Throughput};

#[derive(Default)]
struct Count {
    bytes: u64,
    chunks: u64,
    gaps: u64,
    closes: u64,
}

impl StreamHandler for Count {
    fn on_open(&mut self, _conn: &ConnInfo, _ts: Nanos) {}
    fn on_data(&mut self, _conn: &ConnInfo, _dir: Dir, data: &[u8], _ts: Nanos, _packet: u64) {
        self.bytes += data.len() as u64;
        self.chunks += 1;
    }
    fn on_gap(&mut self, _conn: &ConnInfo, _dir: Dir, _len: u64, _ts: Nanos) {
        self.gaps += 1;
    }
    fn on_close(&mut self, _conn: &ConnInfo, _how: CloseKind, _ts: Nanos) {
        self.closes += 1;
    }
    fn on_diagnostic(&mut self, _d: Diagnostic) {}
}

fn shared_gen() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("APISCOPE_SHARED").map(PathBuf::from),
        Some(root.join("..").join("shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    candidates.into_iter().flatten().map(|p| p.join("gen").join("gen_pcap.py")).find(|p| p.exists())
}

fn one_pass(path: &Path) {
    let f = std::fs::File::open(path).expect("open capture");
    let len = f.metadata().expect("metadata").len() as f64;
    let streaming = std::env::var_os("APISCOPE_CAPTURE_IN_MEMORY").is_none();
    let input = if streaming { Input::File(f) } else { Input::Bytes(std::fs::read(path).expect("read capture")) };
    let mut h = Count::default();
    let t = Instant::now();
    let st = read_packets(input, &CaptureOptions::default(), &mut h).expect("read");
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{} ({}): {:.0} MB in {dt:.3} s = {:.0} MB/s; {} packets ({:.2} M packets/s), {} stream bytes in {} chunks, \
         {} gaps, {} closes",
        path.display(),
        if streaming { "streamed" } else { "in memory" },
        len / 1e6,
        len / 1e6 / dt,
        st.packets,
        st.packets as f64 / 1e6 / dt,
        h.bytes,
        h.chunks,
        h.gaps,
        h.closes
    );
    for (k, v) in st.counters() {
        println!("  {k:<26} {v}");
    }
}

fn bench(c: &mut Criterion) {
    let Some(gen_py) = shared_gen() else {
        eprintln!("capture bench skipped: ../shared/gen/gen_pcap.py not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench-20m.pcap");
    let ok = std::process::Command::new("python3")
        .arg(&gen_py)
        .args(["--bytes", "20M", "--truth", "-", "-o"])
        .arg(&path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("capture bench skipped: generator failed");
        return;
    }
    let bytes = std::fs::read(&path).expect("read generated capture");
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.measurement_time(Duration::from_secs(8));
    g.sample_size(20);
    g.bench_function("read_packets_in_memory_20MB", |b| {
        b.iter(|| {
            let mut h = Count::default();
            let st = read_packets(Input::Bytes(bytes.clone()), &CaptureOptions::default(), &mut h).expect("read");
            black_box((st.packets, h.bytes))
        });
    });
    g.bench_function("read_packets_streaming_20MB", |b| {
        b.iter(|| {
            let mut h = Count::default();
            let r = Box::new(std::io::Cursor::new(bytes.clone()));
            let st = read_packets(Input::Reader(r), &CaptureOptions::default(), &mut h).expect("read");
            black_box((st.packets, h.bytes))
        });
    });
    g.finish();
}

fn main() {
    if let Some(p) = std::env::var_os("APISCOPE_CAPTURE_FILE") {
        one_pass(Path::new(&p));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
