//! `apiscope diff` benchmarks (criterion):
//! - `diff/check_20k`: checking 20,000 exchanges of `gen_har.py --entries 20000` against the
//!   demo spec, HAR already parsed, on one thread (the checker alone: routing, parameters,
//!   every body checked against its schema — by the fast path, or parsed and validated by
//!   `jsonschema` when it cannot decide —, aggregation);
//! - `diff/read_and_check_20k`: the same including reading the HAR file, as the CLI does it
//!   (exchanges are converted and checked on the reader's converting threads, one per core);
//! - `spec/load_3mb`: loading a generated 3 MB spec with 1,400 schemas (and building the
//!   router), and `spec/load_discord` when ../shared/samples is present.
//!
//! The HAR is not committed: `python3 ../shared/gen/gen_har.py --entries 20000 -o /tmp/20k.har`
//! (or set `APISCOPE_BENCH_HAR`). Without it the HAR benchmarks are skipped with a note.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use apiscope::ingest::{Collect, ReadOptions, read_path};
use apiscope::model::client::ClientKey;
use apiscope::spec::Spec;
use apiscope::spec::check::CheckOptions;
use apiscope::spec::findings::DiffAccumulator;
use criterion::{Criterion, criterion_group, criterion_main};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A spec of about 3 MB: `n` component schemas of 20 properties each and one path per two
/// schemas, written as JSON into the temp dir.
fn big_spec(n: usize) -> PathBuf {
    let mut s = String::from(
        r#"{"openapi":"3.1.0","info":{"title":"big","version":"1"},"servers":[{"url":"https://big.example/api"}],"paths":{"#,
    );
    for i in 0..n / 2 {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r##""/r{i}/{{id}}":{{"get":{{"operationId":"get{i}","parameters":[{{"name":"id","in":"path","required":true,"schema":{{"type":"string"}}}}],"responses":{{"200":{{"description":"ok","content":{{"application/json":{{"schema":{{"$ref":"#/components/schemas/S{i}"}}}}}}}}}}}},"post":{{"requestBody":{{"content":{{"application/json":{{"schema":{{"$ref":"#/components/schemas/S{j}"}}}}}}}},"responses":{{"201":{{"description":"created"}}}}}}}}"##,
            j = i + n / 2
        );
    }
    s.push_str(r#"},"components":{"schemas":{"#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#""S{i}":{{"type":"object","description":"Schema number {i}, generated for the load benchmark.","required":["p0","p1"],"properties":{{"#
        );
        for p in 0..20 {
            if p > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                r#""p{p}":{{"type":"string","maxLength":{},"description":"Property {p} of schema {i}: a free-text field"}}"#,
                10 + p
            );
        }
        let _ = write!(s, r##","next":{{"$ref":"#/components/schemas/S{}"}}}}}}"##, (i + 1) % n);
    }
    s.push_str("}}}");
    let p = std::env::temp_dir().join("apiscope-bench-big-spec.json");
    std::fs::write(&p, s).expect("write big spec");
    p
}

fn bench(c: &mut Criterion) {
    let demo_spec = root().join("fixtures/trading-api.openapi.yaml");
    let big = big_spec(1400);
    let size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    eprintln!("generated spec: {} bytes, 1400 schemas, 700 paths", size);
    let mut g = c.benchmark_group("spec");
    g.sample_size(10);
    g.bench_function("load_3mb", |b| b.iter(|| black_box(Spec::load(&big).expect("big spec").operations.len())));
    let discord = root().join("../shared/samples/openapi/discord-v10-3.1.0.openapi.json");
    let discord = if discord.exists() {
        discord
    } else {
        PathBuf::from("/work/shared/samples/openapi/discord-v10-3.1.0.openapi.json")
    };
    if discord.exists() {
        g.bench_function("load_discord", |b| {
            b.iter(|| black_box(Spec::load(&discord).expect("discord").operations.len()))
        });
    }
    g.finish();

    let har = std::env::var_os("APISCOPE_BENCH_HAR").map_or_else(|| PathBuf::from("/tmp/20k.har"), PathBuf::from);
    if !Path::new(&har).exists() {
        eprintln!(
            "diff benches skipped: {} missing (python3 ../shared/gen/gen_har.py --entries 20000 -o /tmp/20k.har)",
            har.display()
        );
        return;
    }
    let mut all = Collect::default();
    read_path(&har, &ReadOptions::default(), &mut all).expect("read HAR");
    let spec = Arc::new(Spec::load(&demo_spec).expect("demo spec"));
    let mut g = c.benchmark_group("diff");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("check_20k", |b| {
        b.iter(|| {
            let mut acc = DiffAccumulator::new(Arc::clone(&spec), CheckOptions::default(), ClientKey::Auto);
            for ex in &all.exchanges {
                acc.observe(ex);
            }
            black_box(acc.finish().findings.len())
        });
    });
    g.bench_function("load_spec_and_check_20k", |b| {
        b.iter(|| {
            let spec = Arc::new(Spec::load(&demo_spec).expect("demo spec"));
            let mut acc = DiffAccumulator::new(spec, CheckOptions::default(), ClientKey::Auto);
            for ex in &all.exchanges {
                acc.observe(ex);
            }
            black_box(acc.finish().findings.len())
        });
    });
    g.bench_function("read_and_check_20k", |b| {
        b.iter(|| {
            let mut acc = DiffAccumulator::new(Arc::clone(&spec), CheckOptions::default(), ClientKey::Auto);
            read_path(&har, &ReadOptions::default(), &mut acc).expect("read HAR");
            black_box(acc.finish().findings.len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
