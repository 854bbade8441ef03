//! Read a capture with the HTTP capture adapter and print counts only (exchanges per
//! method and status, counters) — the `flows --summary` fast path, usable before the CLI
//! wires it up and by `scripts/bench_vs_tshark.sh`.
//!
//! Usage: `cargo run --release --example capture_summary -- FILE [--bodies]`

use std::collections::BTreeMap;
use std::path::PathBuf;

use apiscope::capture::Input;
use apiscope::ingest::capture::read_capture;
use apiscope::ingest::{ReadOptions, Sink};
use apiscope::model::{Diagnostic, Exchange};

// The allocator of the apiscope binary, so timings compare with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Default)]
struct Counts {
    methods: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    req_body: u64,
    resp_wire_body: u64,
    diagnostics: u64,
}

impl Sink for Counts {
    fn exchange(&mut self, ex: &Exchange) {
        *self.methods.entry(ex.request.method.clone()).or_default() += 1;
        let s = ex.status().map_or_else(|| "none".to_string(), |s| s.to_string());
        *self.statuses.entry(s).or_default() += 1;
        self.req_body += ex.request.body.size;
        self.resp_wire_body += ex.response.as_ref().and_then(|r| r.body.wire_size).unwrap_or(0);
    }
    fn diagnostic(&mut self, _d: &Diagnostic) {
        self.diagnostics += 1;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: capture_summary FILE [--bodies]");
        std::process::exit(2);
    };
    let keep_bodies = args.iter().any(|a| a == "--bodies");
    let file = std::fs::File::open(&path)?;
    // Streamed through a bounded buffer, as `apiscope flows` reads a capture file.
    let input = Input::File(file);
    let opts = ReadOptions { keep_bodies, ..ReadOptions::default() };
    let mut counts = Counts::default();
    let t = std::time::Instant::now();
    let summary = read_capture(input, &path, &opts, &mut counts)?;
    let secs = t.elapsed().as_secs_f64();
    println!("exchanges {}", summary.exchanges);
    for (m, n) in &counts.methods {
        println!("method {} {n}", apiscope::model::text::visible(m));
    }
    for (s, n) in &counts.statuses {
        println!("status {s} {n}");
    }
    println!("request_body_bytes {}", counts.req_body);
    println!("response_wire_body_bytes {}", counts.resp_wire_body);
    println!("file_diagnostics {}", counts.diagnostics);
    for (k, v) in &summary.counters {
        println!("counter {k} {v}");
    }
    eprintln!("read {} bytes in {secs:.3} s ({:.0} MB/s)", summary.bytes, summary.bytes as f64 / secs / 1e6);
    Ok(())
}
