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

/// The shared directory with the generators and samples, when present: `$APISCOPE_SHARED`,
/// else `../shared` next to the repository, else `/work/shared`.
pub fn shared() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("APISCOPE_SHARED").map(PathBuf::from),
        Some(root().join("..").join("shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    candidates.into_iter().flatten().find(|p| p.join("gen").is_dir() || p.join("samples").is_dir())
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

/// Report a test that cannot run here (a tool or ../shared missing). Under CI (`CI` set),
/// where `.ci/run` installs every tool and ../shared is laid beside the clone, a missing one
/// is a broken install step, so the test fails instead of passing silently.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false") {
        panic!("cannot run under CI: {why} (.ci/run should have installed it)");
    }
    eprintln!("skipped: {why}");
}
