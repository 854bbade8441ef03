//! Feed an input through the `stats` analyzer and print what its accumulators hold, part by
//! part ([`apiscope::analysis::Memory`], counted from their own capacities), every 100,000
//! exchanges and at the end — where `apiscope stats` memory goes, without a profiler.
//!
//! Usage: `cargo run --release --example stats_memory -- FILE [--spec SPEC]`

use std::path::PathBuf;

use apiscope::analysis::{Analyzer, Config, FnNamer, Memory};
use apiscope::ingest::{Sink, read_path};
use apiscope::model::{Diagnostic, Exchange};
use apiscope::spec::Spec;

struct Probe<'n> {
    analyzer: Analyzer<'n>,
    seen: u64,
    peak: Memory,
}

fn mib(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn show(label: &str, m: &Memory) {
    println!(
        "{label:>12}: total {:7.2} MiB = latency values {:6.2} + clients {:6.2} + cells {:5.2} + endpoints {:5.2} + other {:5.2}",
        mib(m.total()),
        mib(m.latency_values),
        mib(m.clients),
        mib(m.cells),
        mib(m.endpoints),
        mib(m.other)
    );
}

impl Probe<'_> {
    fn count(&mut self) {
        self.seen += 1;
        if self.seen % 100_000 == 0 {
            let m = self.analyzer.memory();
            show(&self.seen.to_string(), &m);
            if m.total() > self.peak.total() {
                self.peak = m;
            }
        }
    }
}

impl Sink for Probe<'_> {
    fn exchange(&mut self, ex: &Exchange) {
        self.analyzer.exchange(ex);
        self.count();
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        self.analyzer.diagnostic(d);
    }

    fn preparer(&self) -> Option<std::sync::Arc<dyn apiscope::ingest::Prepare>> {
        self.analyzer.preparer()
    }

    fn prepared(&mut self, ex: &Exchange, prepared: apiscope::ingest::Prepared) {
        self.analyzer.prepared(ex, prepared);
        self.count();
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: stats_memory FILE [--spec SPEC]"))?);
    let spec = match (args.next().as_deref(), args.next()) {
        (Some("--spec"), Some(p)) => Some(Spec::load(std::path::Path::new(&p))?),
        _ => None,
    };
    let analyzer = match &spec {
        Some(s) => Analyzer::new(Config::default(), Box::new(FnNamer(move |ex: &Exchange| s.operation_name(ex)))),
        None => Analyzer::learning(Config::default()),
    };
    let mut p = Probe { analyzer, seen: 0, peak: Memory::default() };
    p.analyzer.begin_input(&file.display().to_string());
    read_path(&file, &apiscope::analysis::read_options(), &mut p)?;
    let end = p.analyzer.memory();
    show("end", &end);
    if end.total() > p.peak.total() {
        p.peak = end;
    }
    show("peak", &p.peak);
    println!(
        "{} exchanges; {:.1} bytes per exchange in latency values",
        p.seen,
        end.latency_values as f64 / p.seen.max(1) as f64
    );
    let r = p.analyzer.finish();
    println!("{} endpoints, {} clients, {} findings", r.endpoints.len(), r.clients.len(), r.findings.len());
    Ok(())
}
