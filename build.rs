//! Build-time probe for the optional things some tests need: the `shared` folder beside the
//! repository (traffic generators in `shared/gen`, real samples in `shared/samples`) and the
//! external tools (tshark, tmux, tcpdump, curl, python3, and Python's `duckdb` package), and
//! whether the build runs as root (`has_root`: live capture tests). Each one found becomes a
//! `has_…` cfg flag; a test that needs a missing one is marked ignored with its reason
//! (`#[cfg_attr(not(has_tshark), ignore = "…")]`), so `cargo test` lists it as ignored
//! instead of passing it without checking.
//!
//! Under CI (`CI` set and not `0`/`false`) every flag is set whatever is found: CI installs
//! the tools and lays `shared` beside the clone, so a missing one makes its tests fail.
//!
//! The shared folder is `$APISCOPE_SHARED` when that is set (empty: none), else `../shared`
//! beside the repository; the one found is passed to the tests as
//! `APISCOPE_TEST_SHARED`. The probe runs again when `PATH`, `APISCOPE_SHARED` or `CI`
//! change, or when a found folder or tool changes; after installing a tool into an unchanged
//! `PATH`, or adding the shared folder, `touch build.rs` to probe again.

use std::env;
use std::path::{Path, PathBuf};

/// Every flag this script may set (declared for `unexpected_cfgs`).
const FLAGS: [&str; 9] = [
    "has_shared_gen",
    "has_shared_samples",
    "has_tshark",
    "has_tmux",
    "has_tcpdump",
    "has_curl",
    "has_python3",
    "has_root",
    "has_duckdb",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["PATH", "APISCOPE_SHARED", "CI"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    for flag in FLAGS {
        println!("cargo::rustc-check-cfg=cfg({flag})");
    }
    let ci = under_ci();
    let python = tool("python3");
    let shared = shared_dir();
    let gen_dir = shared.as_ref().map(|s| s.join("gen")).filter(|g| g.join("gen_pcap.py").is_file());
    let samples = shared.as_ref().map(|s| s.join("samples")).filter(|s| s.is_dir());
    if let Some(s) = &shared {
        println!("cargo::rustc-env=APISCOPE_TEST_SHARED={}", s.display());
    }
    for dir in gen_dir.iter().chain(samples.iter()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    let found = [
        ("has_shared_gen", gen_dir.is_some() && python.is_some()),
        ("has_shared_samples", samples.is_some()),
        ("has_tshark", tool("tshark").is_some()),
        ("has_tmux", tool("tmux").is_some()),
        ("has_tcpdump", tool("tcpdump").is_some()),
        ("has_curl", tool("curl").is_some()),
        ("has_python3", python.is_some()),
        ("has_root", running_as_root()),
        ("has_duckdb", python.as_deref().is_some_and(python_has_duckdb)),
    ];
    for (flag, present) in found {
        if present || ci {
            println!("cargo::rustc-cfg={flag}");
        }
    }
}

/// True when the build runs as root (live capture tests need capture rights).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().nth(1)) == Some("0")
    })
}

/// True when the `CI` variable says this is a CI run.
fn under_ci() -> bool {
    env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The shared folder: `$APISCOPE_SHARED` alone when set, else `../shared`, when it holds
/// `gen` or `samples`.
fn shared_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    let candidates = match env::var_os("APISCOPE_SHARED") {
        Some(s) if s.is_empty() => vec![],
        Some(s) => vec![PathBuf::from(s)],
        None => vec![root.join("..").join("shared")],
    };
    candidates.into_iter().find(|p| p.join("gen").is_dir() || p.join("samples").is_dir())
}

/// True when `python` can import the `duckdb` package (after `pip install duckdb`, touch
/// build.rs to probe again).
fn python_has_duckdb(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import duckdb"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The executable `name` on `PATH`, watched so that removing it probes again.
fn tool(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    let found = env::split_paths(&path).map(|d| d.join(name)).find(|p| executable(p))?;
    println!("cargo::rerun-if-changed={}", found.display());
    Some(found)
}

#[cfg(unix)]
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}
