//! Shared helpers for the integration tests: paths to fixtures and ../shared samples.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file in fixtures/.
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// The shared directory with the generators and samples that the build found
/// (`APISCOPE_TEST_SHARED`, set by build.rs), when it still exists.
pub fn shared() -> Option<PathBuf> {
    option_env!("APISCOPE_TEST_SHARED").map(PathBuf::from).filter(|p| p.is_dir())
}

/// A real sample by its path under `samples/` (e.g. `har/chrome-webinspector-mitmproxy-org.har`):
/// the copy in `fixtures/samples/` when the project keeps one, else the shared directory's.
pub fn sample(rel: &str) -> Option<PathBuf> {
    let name = Path::new(rel).file_name()?;
    let local = root().join("fixtures").join("samples").join(name);
    if local.exists() {
        return Some(local);
    }
    shared().map(|s| s.join("samples").join(rel)).filter(|p| p.exists())
}

/// The traffic generators directory (`gen_pcap.py`, `gen_har.py`), when present.
pub fn gen_dir() -> Option<PathBuf> {
    shared().map(|s| s.join("gen")).filter(|p| p.join("gen_pcap.py").exists())
}

/// A temporary directory for generated inputs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// True when `p` exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Stop a test whose prerequisite is missing although the build said it was there: build.rs
/// sets a `has_…` cfg only for what it found (every one under CI, where `.ci/run` installs
/// them), and tests that need a missing one are `#[ignore]`d with the reason, so reaching
/// this means CI lacks it or it went away after the build (`touch build.rs` to probe again).
pub fn missing(what: &str) -> ! {
    panic!("{what} is missing: under CI, .ci/run should install it; elsewhere `touch build.rs` and rebuild")
}

/// The shared directory, or [`missing`].
pub fn need_shared() -> PathBuf {
    shared().unwrap_or_else(|| missing("the shared folder (../shared or $APISCOPE_SHARED)"))
}

/// The traffic generators directory, or [`missing`].
pub fn need_gen_dir() -> PathBuf {
    gen_dir().unwrap_or_else(|| missing("../shared/gen (gen_pcap.py)"))
}

/// A sample from the shared collection or fixtures/samples, or [`missing`].
pub fn need_sample(rel: &str) -> PathBuf {
    sample(rel).unwrap_or_else(|| missing(&format!("sample {rel} (../shared/samples)")))
}

/// True when a file `name` is in a `PATH` directory.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Check that the tool `name` is on `PATH`, or [`missing`].
pub fn need_tool(name: &str) {
    if !on_path(name) {
        missing(&format!("{name} (not on PATH)"));
    }
}

/// Draw the app at `w`×`h` on a test terminal.
pub fn screen(a: &mut apiscope::tui::app::App, w: u16, h: u16) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    a.resize(w, h);
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| apiscope::tui::views::render(a, f)).unwrap();
    t
}

/// The text of a test terminal's screen, one line per row.
pub fn text(t: &ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    let b = t.backend().buffer();
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
