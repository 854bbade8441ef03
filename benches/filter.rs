//! Filter evaluation speed: typical expressions, 500k exchange evaluations per iteration.
//! Two layouts: `cold` runs over 100k distinct exchanges five times (the data is far bigger
//! than the CPU caches, so every string a term reads is a memory miss, as when filtering
//! full `Exchange`s loaded from a large capture); `hot` runs over 5k exchanges a hundred
//! times (cache-resident: the evaluator's own cost). Target: ≤ 100 ms per 500k for
//! expressions that do not read bodies.

use std::hint::black_box;
use std::time::Duration;

use apiscope::filter::{Filter, NoContext};
use apiscope::model::{Addr, Body, Exchange, Response, Timing};
use criterion::{Criterion, criterion_group, criterion_main};

const EVALUATIONS: usize = 500_000;

fn synthetic(distinct: usize) -> Vec<Exchange> {
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let paths = ["/v1/orders", "/v1/users", "/v1/portfolio", "/v2/search", "/health"];
    let statuses = [200, 200, 200, 201, 204, 304, 400, 404, 429, 500, 503];
    (0..distinct)
        .map(|i| {
            let mut e = Exchange { seq: i as u64, ..Exchange::default() };
            e.request.method = methods[i % methods.len()].into();
            e.request.scheme = Some("https".into());
            e.request.host = Some(if i % 7 == 0 { "auth.example.com" } else { "api.example.com" }.into());
            e.request.target = format!("{}/{}?page={}", paths[i % paths.len()], i % 977, i % 13);
            e.request.version = "HTTP/1.1".into();
            e.request.headers.push("Host", "api.example.com");
            e.request.headers.push("User-Agent", format!("client/{}", i % 17));
            e.request.headers.push("Accept", "application/json");
            e.request.headers.push("X-Request-Id", format!("{i:016x}"));
            let status = statuses[i % statuses.len()];
            let mut r = Response { status, reason: "OK".into(), version: "HTTP/1.1".into(), ..Response::default() };
            r.headers.push("Content-Type", "application/json; charset=utf-8");
            r.headers.push("Content-Length", "64");
            r.headers.push("Date", "Tue, 25 Nov 2026 03:40:00 GMT");
            r.body = Body::from_bytes(if status >= 500 {
                b"{\"error\":\"upstream timeout\"}".to_vec()
            } else {
                b"{\"ok\":true}".to_vec()
            });
            e.response = Some(r);
            let start = 1_700_000_000_000_000_000 + i as i64 * 1_000_000;
            let ttfb = ((i * 7919) % 400) as i64 * 1_000_000;
            e.timing = Timing {
                request_start: Some(start),
                request_end: Some(start + 100_000),
                response_start: Some(start + 100_000 + ttfb),
                response_end: Some(start + 200_000 + ttfb),
            };
            e.client = Some(Addr::new(format!("10.0.{}.{}", (i / 250) % 250, i % 250).parse().unwrap(), 40000));
            e.server = Some(Addr::new("192.0.2.10".parse().unwrap(), 443));
            e
        })
        .collect()
}

const EXPRESSIONS: [&str; 8] = [
    "~c 5xx",
    "~m POST & ~c >=400",
    "~u /v1/orders & ~dur >250ms",
    "~h 'content-type: application/json' & !~c 2xx",
    "~src 10.0.0.0/16 | ~d ^auth\\.",
    "!(~q | ~e) & ~ttfb >100ms & ~size <1KB",
    "orders",
    "~b timeout",
];

fn group(c: &mut Criterion, name: &str, distinct: usize) {
    let exs = synthetic(distinct);
    let passes = EVALUATIONS / distinct;
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    // What the loop itself costs: a hand-written `~c 5xx`, to read the others against.
    g.bench_function("baseline: hand-written status check", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for _ in 0..passes {
                for e in &exs {
                    n += u32::from(black_box(e).status().is_some_and(|s| s / 100 == 5));
                }
            }
            n
        });
    });
    for expr in EXPRESSIONS {
        let f = Filter::parse(expr).unwrap();
        g.bench_function(expr, |b| {
            b.iter(|| {
                let mut n = 0u32;
                for _ in 0..passes {
                    for e in &exs {
                        n += u32::from(f.matches(black_box(e), &NoContext));
                    }
                }
                n
            });
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    group(c, "filter_500k_hot", 5_000);
    group(c, "filter_500k_cold", 100_000);
}

criterion_group!(benches, bench);
criterion_main!(benches);
