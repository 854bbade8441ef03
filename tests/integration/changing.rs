//! Integration tests: inputs that change while they are read. A file cut short by another
//! program in the middle of a read (a capture being rotated, a HAR being rewritten) must
//! not end the process with a bus error: what was read before the cut is kept and an
//! `input.changed` diagnostic says the file changed. The cut is made at a known point of the
//! read (from the sink, or once the process is seen reading), so the tests are exact.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apiscope::ingest::locate::{Locator, Source};
use apiscope::ingest::{Collect, ReadOptions, Sink, read_path};
use apiscope::model::{Diagnostic, Exchange};

use super::support;

/// Collects, and cuts `path` to `keep` bytes at the first exchange or progress report.
struct Cutter {
    path: PathBuf,
    keep: u64,
    cut: bool,
    inner: Collect,
}

impl Cutter {
    fn new(path: &Path, keep: u64) -> Self {
        Self { path: path.to_path_buf(), keep, cut: false, inner: Collect::default() }
    }
    fn cut_now(&mut self) {
        if !self.cut {
            self.cut = true;
            let f = std::fs::OpenOptions::new().write(true).open(&self.path).unwrap();
            f.set_len(self.keep).unwrap();
        }
    }
}

impl Sink for Cutter {
    fn exchange(&mut self, ex: &Exchange) {
        self.inner.exchange(ex);
        self.cut_now();
    }
    fn diagnostic(&mut self, d: &Diagnostic) {
        self.inner.diagnostic(d);
    }
    fn progress(&mut self, _bytes_read: u64, _total: Option<u64>) {
        self.cut_now();
    }
}

fn demo_pcap(dir: &Path) -> PathBuf {
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(support::fixture("demo.pcap.gz")).unwrap());
    let mut bytes = Vec::new();
    gz.read_to_end(&mut bytes).unwrap();
    let p = dir.join("demo.pcap");
    std::fs::write(&p, &bytes).unwrap();
    p
}

/// `tui-small.har` with its entries repeated `times` times.
fn big_har(dir: &Path, times: usize) -> PathBuf {
    let text = std::fs::read_to_string(support::fixture("tui-small.har")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = v["log"]["entries"].as_array().unwrap();
    let one: Vec<String> = entries.iter().map(|e| serde_json::to_string_pretty(e).unwrap()).collect();
    let one = one.join(",\n");
    let mut out = String::from(
        "{\"log\": {\"version\": \"1.2\", \"creator\": {\"name\": \"t\", \"version\": \"1\"}, \"entries\": [\n",
    );
    for i in 0..times {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&one);
    }
    out.push_str("\n]}}\n");
    let p = dir.join("big.har");
    std::fs::write(&p, out).unwrap();
    p
}

fn changed(c: &Collect) -> usize {
    c.diagnostics.iter().filter(|d| d.code == "input.changed").count()
}

#[test]
fn a_capture_cut_while_read_keeps_what_came_before_and_says_it_changed() {
    let dir = support::tempdir();
    let p = demo_pcap(dir.path());
    let full = {
        let mut c = Collect::default();
        read_path(&p, &ReadOptions::default(), &mut c).unwrap();
        c.exchanges.len()
    };
    // Cut to 3 MiB at the first progress report (after 1 MiB of 9).
    let mut sink = Cutter::new(&p, 3 << 20);
    let s = read_path(&p, &ReadOptions::default(), &mut sink).unwrap();
    let got = sink.inner.exchanges.len();
    assert!(got > 0 && got < full, "{got} of {full}");
    assert_eq!(changed(&sink.inner), 1, "{:?}", sink.inner.diagnostics);
    assert!(s.bytes >= 3 << 20);
    // Exactly the exchanges a read of the cut file finds (plus none invented from the cut).
    let mut cut = Collect::default();
    read_path(&p, &ReadOptions::default(), &mut cut).unwrap();
    assert_eq!(got, cut.exchanges.len());
}

#[test]
fn a_har_cut_while_mapped_keeps_the_entries_before_and_says_it_changed() {
    let dir = support::tempdir();
    // Small enough for the sequential walk; ~2 MB.
    let p = big_har(dir.path(), 10);
    let len = std::fs::metadata(&p).unwrap().len();
    let mut sink = Cutter::new(&p, len / 4);
    read_path(&p, &ReadOptions::default(), &mut sink).unwrap();
    let got = sink.inner.exchanges.len();
    let per_copy = 40;
    assert!(got >= 1 && got < per_copy * 10 / 2, "{got}");
    assert_eq!(changed(&sink.inner), 1, "{:?}", sink.inner.diagnostics);
    assert!(
        sink.inner.diagnostics.iter().any(|d| d.code == "har.truncated"),
        "the zeros past the cut read as the document's end: {:?}",
        sink.inner.diagnostics
    );
}

#[test]
fn a_big_har_cut_under_the_parallel_walk_does_not_kill_the_process() {
    let dir = support::tempdir();
    // Past the size where the walk runs on worker threads (4 MiB).
    let p = big_har(dir.path(), 40);
    let len = std::fs::metadata(&p).unwrap().len();
    assert!(len > 6 << 20, "{len}");
    let mut sink = Cutter::new(&p, len / 3);
    read_path(&p, &ReadOptions::default(), &mut sink).unwrap();
    assert!(!sink.inner.exchanges.is_empty());
    assert_eq!(changed(&sink.inner), 1, "{:?}", sink.inner.diagnostics);
}

#[test]
fn rereading_an_exchange_from_a_file_cut_since_loading_is_an_error_not_a_crash() {
    let dir = support::tempdir();
    let p = big_har(dir.path(), 10);
    let opts = ReadOptions::default();
    let mut c = Collect::default();
    read_path(&p, &opts, &mut c).unwrap();
    let src = Source::open(&p).unwrap();
    let last = c.exchanges.last().unwrap();
    let loc = Locator::of(last).unwrap();
    assert!(src.reread(&loc, last.seq, &opts).is_ok());
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(1000).unwrap();
    assert!(src.reread(&loc, last.seq, &opts).is_err());
}

/// Wait until `pid` has `path` mapped or open with its position past 0, then cut the file.
fn cut_once_reading(pid: u32, path: &Path, keep: u64) -> bool {
    let name = path.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let mut reading = maps.contains(&name);
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|t| t == path) {
                    let info =
                        std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy()))
                            .unwrap_or_default();
                    let pos =
                        info.lines().find_map(|l| l.strip_prefix("pos:")).map_or(0, |v| v.trim().parse().unwrap_or(0));
                    reading |= pos > keep;
                }
            }
        }
        if reading {
            std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(keep).unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn run_cut(args: &[&str], path: &Path, keep: u64) -> (std::process::ExitStatus, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_apiscope"))
        .args(args)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cut = cut_once_reading(child.id(), path, keep);
    let out = child.wait_with_output().unwrap();
    assert!(cut, "the process was never seen reading");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(unix)]
#[test]
fn flows_on_a_har_cut_while_read_exits_0_with_the_diagnostic() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = support::tempdir();
    let p = big_har(dir.path(), 60);
    let (status, stderr) = run_cut(&["flows", "--summary"], &p, 100_000);
    assert_eq!(status.signal(), None, "killed by a signal: {stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("file changed while reading"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn flows_on_a_capture_cut_while_read_exits_0() {
    use std::os::unix::process::ExitStatusExt as _;
    let dir = support::tempdir();
    let p = demo_pcap(dir.path());
    // Captures are streamed: the cut is seen as an early end (the fd position shows the read).
    let (status, stderr) = run_cut(&["flows", "--summary"], &p, 2 << 20);
    assert_eq!(status.signal(), None, "killed by a signal: {stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}
