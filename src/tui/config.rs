//! The TUI's configuration files: where they live and how they are read.
//!
//! One rule for the directory: `$APISCOPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/apiscope`, else
//! `~/.config/apiscope` (empty variables count as unset). The key bindings are read from
//! `$APISCOPE_KEYS` when set, else `keys.toml` in that directory; saved filters live in
//! `filters.toml` there. Both files are TOML, read with the `toml` crate through serde; every
//! error names the file and the line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a configuration file was refused (or only partly read).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML, or a value is not what the file allows.
    #[error("{path}:{line}: {why}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        why: String,
    },
    /// There is no configuration directory (no `HOME`, no override).
    #[error("no config directory (set APISCOPE_CONFIG_DIR)")]
    NoDir,
}

impl ConfigError {
    /// A syntax error at byte `at` of `text`.
    #[must_use]
    pub fn at(path: &Path, text: &str, at: usize, why: impl Into<String>) -> Self {
        Self::Syntax { path: path.to_path_buf(), line: line_of(text, at), why: why.into() }
    }

    /// A `toml` error, located in `text`.
    #[must_use]
    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let at = e.span().map_or(0, |s: Range<usize>| s.start);
        Self::at(path, text, at, e.message().trim().to_string())
    }
}

/// 1-based line number of byte `at` in `text`.
#[must_use]
pub fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The configuration directory: `$APISCOPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/apiscope`,
/// else `~/.config/apiscope`; None without any of them.
#[must_use]
pub fn config_dir() -> Option<PathBuf> {
    env_path("APISCOPE_CONFIG_DIR")
        .or_else(|| env_path("XDG_CONFIG_HOME").map(|d| d.join("apiscope")))
        .or_else(|| env_path("HOME").map(|h| h.join(".config").join("apiscope")))
}

/// The key bindings file: `$APISCOPE_KEYS` (then it must exist: true), else `keys.toml` in
/// [`config_dir`] (read when it exists: false).
#[must_use]
pub fn keys_path() -> Option<(PathBuf, bool)> {
    env_path("APISCOPE_KEYS").map(|p| (p, true)).or_else(|| config_dir().map(|d| (d.join("keys.toml"), false)))
}

/// The saved filters file: `filters.toml` in [`config_dir`].
#[must_use]
pub fn filters_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("filters.toml"))
}

/// The text of `path`; None when it does not exist.
///
/// # Errors
/// The file exists and cannot be read.
pub fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io { path: path.to_path_buf(), source }),
    }
}

/// Deserialize `text` (the contents of `path`) as TOML into `T`.
///
/// # Errors
/// Not valid TOML, or not the shape `T` expects; the error names the line.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))
}

/// Write `text` to `path`, creating its directory.
///
/// # Errors
/// The directory or the file cannot be written.
pub fn write(path: &Path, text: &str) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io { path: path.to_path_buf(), source };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_the_offset() {
        let t = "a\nb\nc";
        assert_eq!(line_of(t, 0), 1);
        assert_eq!(line_of(t, 2), 2);
        assert_eq!(line_of(t, 4), 3);
        assert_eq!(line_of(t, 99), 3);
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let e = parse::<toml::Table>(Path::new("x.toml"), "a = 1\nb = \n").unwrap_err();
        assert!(e.to_string().starts_with("x.toml:2: "), "{e}");
    }
}
