//! Integration tests: filter. Properties of the parser (never panics, spans stay inside the
//! input, canonical text parses back to the same filter) and evaluation over many exchanges.

use apiscope::filter::{Filter, NoContext};
use apiscope::model::{Addr, Body, Exchange, Response, State, Timing};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "~q",
        "~s",
        "~e",
        "~a",
        "~all",
        "~marked",
        "~http",
        "~websocket",
        "~tcp",
        "~m GET",
        "~c 404",
        "~c 5xx",
        "~c >=400",
        "~c != 200",
        "~dur >250ms",
        "~dur <=1.5s",
        "~ttfb <50ms",
        "~ttfb >20µs",
        "~size >1MB",
        "~sizeq >=4KiB",
        "~sizes 0",
        "~src 10.0.0.0/8",
        "~dst ::1",
        "~dst ':443$'",
        "~h 'content-type: json'",
        "~hq \"authorization\"",
        "~b \"x y\"",
        "~bs err",
        "~t json",
        "~ts 'text/(html|css)'",
        "~d example\\.com",
        "~comment todo",
        "~client 'key:3f9a12c0'",
        "~ep 'GET /v1/orders/{id}'",
        "~gap",
        "~gap undocumented",
        "orders",
    ]);
    let literal = "[a-zA-Z0-9 _./\"'\\\\-]{0,10}".prop_map(|s| {
        let re = regex::escape(&s);
        let q: String = re.chars().flat_map(|c| if c == '"' || c == '\\' { vec!['\\', c] } else { vec![c] }).collect();
        format!("~u \"{q}\"")
    });
    prop_oneof![3 => fixed.prop_map(str::to_string), 1 => literal]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 40, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} & {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} | {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} {b}")),
        ]
    })
}

fn sample_exchanges() -> Vec<Exchange> {
    let mut out = Vec::new();
    for i in 0..12u16 {
        let mut e = Exchange::default();
        e.request.method = ["GET", "POST", "DELETE"][usize::from(i % 3)].into();
        e.request.host = Some("api.example.com".into());
        e.request.target = format!("/v1/orders/{i}?x=y");
        e.request.headers.push("Content-Type", "application/json");
        e.request.body = Body::from_bytes(format!("x y {i}").into_bytes());
        if i % 4 != 0 {
            let mut r = Response { status: [200, 404, 503][usize::from(i % 3)], ..Response::default() };
            r.headers.push("Content-Type", if i % 2 == 0 { "text/html" } else { "application/json" });
            r.body = Body::from_bytes(vec![b'e'; usize::from(i) * 100]);
            e.response = Some(r);
        } else {
            e.state = State::NoResponse("end".into());
        }
        let base = i64::from(i) * 1_000_000_000;
        e.timing = Timing {
            request_start: Some(base),
            request_end: Some(base + 1_000_000),
            response_start: Some(base + i64::from(i) * 10_000_000),
            response_end: Some(base + i64::from(i) * 100_000_000),
        };
        e.client = Some(Addr::new(if i % 2 == 0 { "10.0.0.5" } else { "192.168.1.1" }.parse().unwrap(), 5000 + i));
        e.server = Some(Addr::new("::1".parse().unwrap(), 443));
        out.push(e);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn parse_never_panics_and_spans_stay_inside(s in "[~!&|()'\"\\\\a-z0-9 <>=.µ/:*+?\\[\\]{}x-]{0,40}") {
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= s.len(), "{e:?} for {s:?}");
            prop_assert!(s.is_char_boundary(e.span.start) && s.is_char_boundary(e.span.end));
            let _ = e.caret(&s);
        }
    }

    #[test]
    fn parse_never_panics_on_any_text(s in any::<String>()) {
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.span.end <= s.len());
        }
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_filter(src in expr()) {
        let f = Filter::parse(&src).map_err(|e| TestCaseError::fail(format!("{src:?}: {e}")))?;
        let shown = f.to_string();
        let again = Filter::parse(&shown).map_err(|e| TestCaseError::fail(format!("{shown:?}: {e}")))?;
        prop_assert_eq!(&f, &again, "{} → {}", src, shown);
        prop_assert_eq!(again.to_string(), shown);
        for ex in sample_exchanges() {
            prop_assert_eq!(f.matches(&ex, &NoContext), again.matches(&ex, &NoContext));
        }
    }
}

#[test]
fn filters_select_the_expected_exchanges() {
    let exs = sample_exchanges();
    let count = |f: &str| {
        let f = Filter::parse(f).unwrap();
        exs.iter().filter(|e| f.matches(e, &NoContext)).count()
    };
    assert_eq!(count("~all"), 12);
    assert_eq!(count("~q"), 3);
    assert_eq!(count("~s"), 9);
    assert_eq!(count("~c 5xx"), 3); // i = 2, 5, 11 (i%3==2, i%4!=0): 2,5,11 -> 3; 8 has no response
    assert_eq!(count("~c >=400"), 6);
    assert_eq!(count("~m POST & ~src 10.0.0.0/8"), 2); // i = 4 (no response), 10
    assert_eq!(count("~dur >500ms"), 6); // i*100ms - 0 > 500ms -> i >= 6
    assert_eq!(count("!(~q | ~c 200)"), 6);
    assert_eq!(count("~bs eee & ~sizes >=1KB"), count("~s ~sizes >=1000"));
}

#[test]
fn filters_work_on_a_real_browser_har() {
    use apiscope::ingest::{self, Collect, ReadOptions};
    let p = crate::support::need_sample("har/chrome-webinspector-mitmproxy-org.har");
    let mut c = Collect::default();
    ingest::read_path(&p, &ReadOptions::default(), &mut c).unwrap();
    let count = |f: &str| {
        let f = Filter::parse(f).unwrap();
        c.exchanges.iter().filter(|e| f.matches(e, &NoContext)).count()
    };
    assert_eq!(c.exchanges.len(), 3);
    // mitmproxy.org answered 304, google.com failed (status 0, net::ERR_…), the logo is a 200 PNG.
    assert_eq!(count("~d mitmproxy\\.org & ~c 304"), 1);
    assert_eq!(count("~d google & ~e"), 1);
    assert_eq!(count("~q"), 1);
    assert_eq!(count("~a & ~ts image/png & ~c 2xx"), 1);
    assert_eq!(count("~u '\\.png$' & ~bs PNG"), 1);
    assert_eq!(count("~hq 'user-agent: .*Chrome'"), 3);
    assert_eq!(count("~s !~c 2xx"), 1);
    assert_eq!(count("~m ^GET$ & ~u ^https://"), 3);
}
