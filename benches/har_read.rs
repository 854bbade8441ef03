//! HAR reading throughput (criterion). Generates a HAR with `../shared/gen/gen_har.py` into a
//! temporary directory at bench time (or `$APISCOPE_SHARED/gen`); skips with a message when
//! the generator is not there. Measures the reader on bytes in memory and through
//! `read_path` (mmap + detection), with bodies kept and without.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use apiscope::ingest::read_bytes;
use apiscope::ingest::{ReadOptions, Sink, read_path};
use apiscope::model::Exchange;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Counts exchanges and body bytes so the work cannot be optimised away.
#[derive(Default)]
struct Count(u64, u64);

impl Sink for Count {
    fn exchange(&mut self, ex: &Exchange) {
        self.0 += 1;
        self.1 += ex.response.as_ref().map_or(0, |r| r.body.content.len() as u64);
    }
}

fn generator() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("shared").join("gen").join("gen_har.py");
    if local.exists() {
        return Some(local);
    }
    let p = PathBuf::from(std::env::var_os("APISCOPE_SHARED")?).join("gen").join("gen_har.py");
    p.exists().then_some(p)
}

fn bench(c: &mut Criterion) {
    let Some(script) = generator() else {
        eprintln!("har_read: skipped, ../shared/gen/gen_har.py not found (set APISCOPE_SHARED)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let har = dir.path().join("bench.har");
    let ok = Command::new("python3")
        .arg(&script)
        .args(["--entries", "3000", "-o"])
        .arg(&har)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("har_read: skipped, python3 {} failed", script.display());
        return;
    }
    let data = std::fs::read(&har).expect("read generated HAR");
    let mut g = c.benchmark_group("har_read");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    let keep = ReadOptions::default();
    let summary = ReadOptions { keep_bodies: false, ..ReadOptions::default() };
    g.bench_function("in_memory_bodies", |b| {
        b.iter(|| {
            let mut s = Count::default();
            read_bytes(black_box(&data), &har, &keep, &mut s).expect("read");
            black_box((s.0, s.1))
        });
    });
    g.bench_function("in_memory_no_bodies", |b| {
        b.iter(|| {
            let mut s = Count::default();
            read_bytes(black_box(&data), &har, &summary, &mut s).expect("read");
            black_box(s.0)
        });
    });
    g.bench_function("read_path_mmap", |b| {
        b.iter(|| {
            let mut s = Count::default();
            read_path(black_box(&har), &keep, &mut s).expect("read");
            black_box(s.0)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
