//! `flows --format parquet`: datasets read back with the parquet crate (row counts, parts
//! per input, partitions, schema version), and with DuckDB running the documented KPI SQL
//! (docs/kpis.sql), whose answers must equal `apiscope stats --format json` exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use parquet::file::reader::{FileReader as _, SerializedFileReader};
use serde_json::Value;

use crate::support;

fn apiscope(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_apiscope")).args(args).output().expect("run apiscope");
    assert!(out.status.success(), "apiscope {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&apiscope(args)).expect("JSON output")
}

/// Every `.parquet` file under `dir`, sorted.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Rows in a file, and its `apiscope.schema_version`.
fn rows_and_version(p: &Path) -> (i64, Option<String>) {
    let r = SerializedFileReader::new(std::fs::File::open(p).unwrap()).unwrap();
    let meta = r.metadata().file_metadata();
    let version = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "apiscope.schema_version"))
        .and_then(|k| k.value.clone());
    (meta.num_rows(), version)
}

#[test]
fn a_folder_gets_one_part_per_input_with_every_exchange_and_the_schema_version() {
    let dir = support::tempdir();
    let out = format!("{}/", dir.path().join("ds").display());
    let demo = support::fixture("demo.pcap.gz");
    let har = support::fixture("tui-small.har");
    apiscope(&["flows", demo.to_str().unwrap(), har.to_str().unwrap(), "--format", "parquet", "-o", &out]);
    let files = parquet_files(Path::new(&out));
    assert_eq!(files.len(), 2, "{files:?}");
    let mut rows = BTreeMap::new();
    for f in &files {
        let (n, v) = rows_and_version(f);
        assert_eq!(v.as_deref(), Some("1"));
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        rows.insert(name.split('-').next().unwrap().to_string(), n);
    }
    for (input, stem) in [(&demo, "demo"), (&har, "tui")] {
        let summary = json(&["flows", input.to_str().unwrap(), "--summary", "--format", "json"]);
        assert_eq!(rows[stem], summary["exchanges"].as_i64().unwrap(), "{stem}");
    }
}

#[test]
fn hour_partitions_split_the_demo_capture_into_hive_folders() {
    let dir = support::tempdir();
    let out = format!("{}/", dir.path().join("ds").display());
    let demo = support::fixture("demo.pcap.gz");
    apiscope(&["flows", demo.to_str().unwrap(), "--format", "parquet", "-o", &out, "--partition-by", "hour"]);
    let files = parquet_files(Path::new(&out));
    // The demo capture spans 13:30:00 – 13:32:31 UTC: one hour folder.
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].parent().unwrap().ends_with("hour=2024-03-12T13"), "{files:?}");
    assert_eq!(rows_and_version(&files[0]).0, 2008);
}

#[test]
fn a_single_file_output_holds_every_input_and_never_overwrites_one() {
    let dir = support::tempdir();
    let demo = support::fixture("demo.pcap.gz");
    let out = dir.path().join("all.parquet");
    apiscope(&[
        "flows",
        demo.to_str().unwrap(),
        demo.to_str().unwrap(),
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(rows_and_version(&out).0, 2 * 2008);
    let copy = dir.path().join("copy.pcap.gz");
    std::fs::copy(&demo, &copy).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(["flows", copy.to_str().unwrap(), "--format", "parquet", "-o", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("one of the inputs"));
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&demo).unwrap());
}

/// The queries of docs/kpis.sql, by name.
fn kpi_queries() -> Vec<(String, String)> {
    let sql = std::fs::read_to_string(support::root().join("docs/kpis.sql")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in sql.lines() {
        if let Some(name) = line.strip_prefix("-- query: ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, q)) = out.last_mut() {
            q.push_str(line);
            q.push('\n');
        }
    }
    out.into_iter().map(|(n, q)| (n, q.trim().to_string())).collect()
}

#[test]
fn the_documented_sql_is_the_sql_the_tests_run() {
    let doc = std::fs::read_to_string(support::root().join("docs/scale-out.md")).unwrap();
    let queries = kpi_queries();
    assert_eq!(queries.len(), 6);
    for (name, q) in &queries {
        assert!(doc.contains(q.as_str()), "docs/scale-out.md lacks the `{name}` query of docs/kpis.sql");
    }
}

/// Run every KPI query in DuckDB over the dataset under `dir`: `{name: [row, …]}`.
fn duckdb_kpis(dir: &Path) -> Value {
    const SCRIPT: &str = r#"
import duckdb, json, sys
con = duckdb.connect()
path = (sys.argv[1] + "/**/*.parquet").replace("'", "''")
con.execute(f"CREATE VIEW flows AS SELECT * FROM read_parquet('{path}', hive_partitioning = false)")
out = {}
for name, q in json.loads(sys.stdin.read()):
    cur = con.execute(q)
    cols = [d[0] for d in cur.description]
    out[name] = [dict(zip(cols, row)) for row in cur.fetchall()]
print(json.dumps(out))
"#;
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, dir.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|_| support::missing("python3"));
    child.stdin.take().unwrap().write_all(serde_json::to_string(&kpi_queries()).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named 'duckdb'") {
        support::missing("the Python duckdb package (pip install duckdb)");
    }
    assert!(out.status.success(), "duckdb failed: {err}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A `stats` percentile (µs) of `kpis` (`ttfb` or `total`, `p50_us` …) as JSON.
fn pct(kpis: &Value, kind: &str, p: &str) -> Value {
    kpis[kind].get(p).cloned().unwrap_or(Value::Null)
}

/// Compare the DuckDB answers with `stats --format json` and `flows --summary` on `input`
/// (with `extra` flags for both, e.g. `--spec`); returns the number of endpoints compared.
fn assert_sql_equals_stats(input: &Path, extra: &[&str]) -> usize {
    let dir = support::tempdir();
    let ds = format!("{}/", dir.path().join("ds").display());
    let input = input.to_str().unwrap();
    let mut args = vec!["flows", input, "--format", "parquet", "-o", &ds];
    args.extend_from_slice(extra);
    apiscope(&args);
    let mut args = vec!["stats", input, "--format", "json"];
    args.extend_from_slice(extra);
    let stats = json(&args);
    let summary = json(&["flows", input, "--summary", "--format", "json"]);
    let sql = duckdb_kpis(Path::new(&ds));

    // Totals.
    let t = &sql["totals"][0];
    let k = &stats["summary"]["kpis"];
    assert_eq!(t["requests"], k["requests"]);
    assert_eq!(t["errored"], k["errored"]);
    assert_eq!(t["error_rate"], k["error_rate"]);
    assert_eq!(t["availability"], k["availability"]);
    for kind in ["ttfb", "total"] {
        for p in ["p50", "p95", "p99"] {
            assert_eq!(t[format!("{kind}_{p}_us")], pct(k, kind, &format!("{p}_us")), "overall {kind} {p}");
        }
    }

    // Per endpoint: volume, status classes, failures, error rate, availability, percentiles.
    let endpoints = stats["endpoints"].as_array().unwrap();
    let by_name: BTreeMap<&str, &Value> =
        sql["endpoints"].as_array().unwrap().iter().map(|r| (r["endpoint"].as_str().unwrap(), r)).collect();
    assert_eq!(by_name.len(), endpoints.len(), "endpoint count");
    for e in endpoints {
        let name = e["name"].as_str().unwrap();
        let (r, k) = (by_name[name], &e["kpis"]);
        assert_eq!(r["requests"], k["requests"], "{name}");
        for class in ["2xx", "4xx", "5xx"] {
            let want = k["status_classes"].get(class).and_then(Value::as_u64).unwrap_or(0);
            assert_eq!(r[format!("status_{class}")].as_u64(), Some(want), "{name} {class}");
        }
        assert_eq!(r["failed"], k["failed"], "{name}");
        assert_eq!(r["error_rate"], k["error_rate"], "{name}");
        assert_eq!(r["availability"], k["availability"], "{name}");
        for kind in ["ttfb", "total"] {
            for p in ["p50", "p95", "p99"] {
                assert_eq!(r[format!("{kind}_{p}_us")], pct(k, kind, &format!("{p}_us")), "{name} {kind} {p}");
            }
        }
    }

    // Per method (flows --summary) and per status (stats).
    let methods: BTreeMap<String, Value> = sql["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].as_str().unwrap().to_string(), r["requests"].clone()))
        .collect();
    let want: BTreeMap<String, Value> =
        summary["methods"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(methods, want);
    let statuses: BTreeMap<String, Value> =
        sql["statuses"].as_array().unwrap().iter().map(|r| (r["status"].to_string(), r["requests"].clone())).collect();
    let want: BTreeMap<String, Value> = stats["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["status"].to_string(), s["kpis"]["requests"].clone()))
        .collect();
    assert_eq!(statuses, want);

    // Per client: shares of requests, bytes on the wire and server time.
    let clients = stats["clients"].as_array().unwrap();
    let shares: BTreeMap<&str, &Value> =
        sql["client_shares"].as_array().unwrap().iter().map(|r| (r["client"].as_str().unwrap(), r)).collect();
    assert_eq!(shares.len(), clients.len(), "client count");
    for c in clients {
        let id = c["id"].as_str().unwrap();
        let r = shares[id];
        assert_eq!(r["requests"], c["kpis"]["requests"], "{id}");
        for s in ["share_requests", "share_bytes", "share_server_time"] {
            assert_eq!(r[s], c[s], "{id} {s}");
        }
    }

    // Top clients by server time.
    let mut by_time: Vec<(u64, &str)> =
        clients.iter().map(|c| (c["kpis"]["server_time_us"].as_u64().unwrap(), c["id"].as_str().unwrap())).collect();
    by_time.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let top: Vec<(u64, &str)> = sql["top_clients_by_server_time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["server_time_us"].as_u64().unwrap(), r["client"].as_str().unwrap()))
        .collect();
    assert_eq!(top, by_time.into_iter().take(20).collect::<Vec<_>>());
    endpoints.len()
}

#[test]
#[cfg_attr(not(has_duckdb), ignore = "needs python3 with the duckdb package (pip install duckdb)")]
fn duckdb_kpis_over_the_demo_dataset_equal_stats_exactly() {
    let demo = support::fixture("demo.pcap.gz");
    let spec = support::fixture("trading-api.openapi.yaml");
    assert_eq!(assert_sql_equals_stats(&demo, &["--spec", spec.to_str().unwrap()]), 27);
    assert!(assert_sql_equals_stats(&demo, &[]) > 0);
}

#[test]
#[cfg_attr(not(all(has_shared_gen, has_duckdb)), ignore = "needs ../shared/gen, python3 and its duckdb package")]
fn duckdb_kpis_over_a_generated_capture_equal_stats_exactly() {
    let dir = support::tempdir();
    let pcap = dir.path().join("g.pcap");
    let out = Command::new("python3")
        .arg(support::need_gen_dir().join("gen_pcap.py"))
        .args(["--requests", "5000", "--seed", "11", "-o", pcap.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "gen_pcap.py failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(assert_sql_equals_stats(&pcap, &[]) > 5);
}
