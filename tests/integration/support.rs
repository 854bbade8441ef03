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

/// The ../shared directory next to the repository, when present (generators, samples).
pub fn shared() -> Option<PathBuf> {
    let p = root().join("..").join("shared");
    p.is_dir().then_some(p)
}

/// A file in ../shared/samples, when present.
pub fn sample(rel: &str) -> Option<PathBuf> {
    shared().map(|s| s.join("samples").join(rel)).filter(|p| p.exists())
}

/// A temporary directory for generated inputs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// True when `p` exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}
