//! Benchmark of the analysis path: the `Analyzer` fed with exchanges already in memory
//! (analysis cost alone), and `read_path` + `Analyzer` over a generated HAR and capture
//! (what `apiscope stats` does). Inputs are generated into a temporary directory with
//! ../shared/gen when it is present; set `APISCOPE_STATS_INPUT=/path/to/file` to bench a
//! file of your own (e.g. a 1 GB pcap) instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use apiscope::analysis::{Analyzer, Config};
use apiscope::ingest::{Collect, ReadOptions, Sink, read_path};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn gen_dir() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared").join("gen"))
        .find(|p| p.join("trafficmodel.py").exists())
}

fn generated(dir: &Path, script: &str, name: &str, args: &[&str]) -> Option<PathBuf> {
    let out = dir.join(name);
    let ok = Command::new("python3")
        .arg(gen_dir()?.join(script))
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg("--truth")
        .arg("-")
        .output()
        .ok()?
        .status
        .success();
    ok.then_some(out)
}

fn opts() -> ReadOptions {
    apiscope::analysis::read_options()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("APISCOPE_STATS_INPUT") {
        inputs.push(PathBuf::from(p));
    } else {
        inputs.extend(generated(dir.path(), "gen_pcap.py", "bench.pcap", &["--requests", "20000"]));
        inputs.extend(generated(dir.path(), "gen_har.py", "bench.har", &["--entries", "5000", "--indent", "-1"]));
    }
    if inputs.is_empty() {
        eprintln!("stats bench: no input (../shared/gen missing and APISCOPE_STATS_INPUT unset)");
        return;
    }
    let mut g = c.benchmark_group("stats");
    g.sample_size(10);
    for input in &inputs {
        let name = input.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut all = Collect::default();
        if read_path(input, &opts(), &mut all).is_err() {
            eprintln!("stats bench: {name} unreadable, skipped");
            continue;
        }
        g.throughput(Throughput::Elements(all.exchanges.len() as u64));
        g.bench_function(format!("analyze only/{name}"), |b| {
            b.iter(|| {
                let mut a = Analyzer::inferred(Config::default());
                for ex in &all.exchanges {
                    a.exchange(ex);
                }
                a.finish()
            });
        });
        drop(all);
        let bytes = std::fs::metadata(input).map_or(0, |m| m.len());
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(format!("read + analyze/{name}"), |b| {
            b.iter(|| {
                let mut a = Analyzer::inferred(Config::default());
                let _ = read_path(input, &opts(), &mut a);
                a.finish()
            });
        });
        g.bench_function(format!("read only/{name}"), |b| {
            b.iter(|| {
                struct Count(u64);
                impl Sink for Count {
                    fn exchange(&mut self, _ex: &apiscope::model::Exchange) {
                        self.0 += 1;
                    }
                }
                let mut n = Count(0);
                let _ = read_path(input, &opts(), &mut n);
                n.0
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
