//! The TUI's configuration files: where they live and how they are read.
//!
//! One rule for the directory: `$APISCOPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/apiscope`, else
//! `~/.config/apiscope` (empty variables count as unset). The key bindings are read from
//! `$APISCOPE_KEYS` when set, else `keys.toml` in that directory; saved filters live in
//! `filters.toml` there; the marks and comments of each input live in `notes/KEY.json`
//! ([`notes_path`]). The first two are TOML, read with the `toml` crate through serde; every
//! error names the file and the line.

use std::collections::BTreeMap;
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

/// The marks-and-comments file of one set of inputs: `notes/KEY.json` in [`config_dir`],
/// `KEY` being the inputs' identity (see `tui::notes::identity`).
#[must_use]
pub fn notes_path(key: &str) -> Option<PathBuf> {
    config_dir().map(|d| d.join("notes").join(format!("{key}.json")))
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

/// Named filters kept in `filters.toml` (a `[filters]` table of `name = "expression"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedFilters {
    /// Name → expression.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
}

impl SavedFilters {
    /// Parse a `filters.toml` text (`path` names it in errors). Other tables are ignored.
    /// When the text is not valid TOML, the entries that could still be read are kept and
    /// every error is returned with its line.
    #[must_use]
    pub fn parse(text: &str, path: &Path) -> (Self, Vec<ConfigError>) {
        match parse::<Self>(path, text) {
            Ok(s) => (s, Vec::new()),
            Err(first) => {
                let (table, errors) = toml::de::DeTable::parse_recoverable(text);
                let mut out = Self::default();
                let filters = table.get_ref().iter().find(|(k, _)| k.get_ref() == "filters").map(|(_, v)| v);
                let mut bad: Vec<ConfigError> = errors.iter().map(|e| ConfigError::from_toml(path, text, e)).collect();
                let bad_lines: Vec<usize> = bad
                    .iter()
                    .filter_map(|e| match e {
                        ConfigError::Syntax { line, .. } => Some(*line),
                        _ => None,
                    })
                    .collect();
                if let Some(t) = filters.and_then(|v| v.get_ref().as_table()) {
                    // An entry on a line with an error is a guess of the parser: leave it out.
                    let sound = t.iter().filter(|(_, v)| !bad_lines.contains(&line_of(text, v.span().start)));
                    for (k, v) in sound {
                        match v.get_ref().as_str() {
                            Some(expr) => {
                                out.filters.insert(k.get_ref().to_string(), expr.to_string());
                            }
                            None => bad.push(ConfigError::at(
                                path,
                                text,
                                v.span().start,
                                format!("saved filter `{}` is not a string", k.get_ref()),
                            )),
                        }
                    }
                }
                // One problem per line is enough to point the user at it.
                bad.dedup_by_key(|e| match e {
                    ConfigError::Syntax { line, .. } => *line,
                    _ => 0,
                });
                if bad.is_empty() {
                    bad.push(first);
                }
                (out, bad)
            }
        }
    }

    /// The file's text.
    #[must_use]
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!("# apiscope saved filters: name = filter expression\n{body}")
    }

    /// Load from the config dir (missing file or no config dir = none saved). What could be
    /// read is kept; the first problem, if any, comes with it.
    #[must_use]
    pub fn load() -> (Self, Option<ConfigError>) {
        let Some(path) = filters_path() else { return (Self::default(), None) };
        match read_optional(&path) {
            Ok(Some(t)) => {
                let (s, errors) = Self::parse(&t, &path);
                (s, errors.into_iter().next())
            }
            Ok(None) => (Self::default(), None),
            Err(e) => (Self::default(), Some(e)),
        }
    }

    /// Write to the config dir.
    ///
    /// # Errors
    /// No config dir, or writing failed.
    pub fn save(&self) -> Result<PathBuf, ConfigError> {
        let path = filters_path().ok_or(ConfigError::NoDir)?;
        write(&path, &self.to_toml())?;
        Ok(path)
    }
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

    #[test]
    fn saved_filters_round_trip_through_toml() {
        let mut s = SavedFilters::default();
        s.filters.insert("scanner".into(), r#"~client "ip:10.0.0.9" & ~c 404"#.into());
        s.filters.insert("odd \"name\"".into(), "~u \\d+\n".into());
        let (back, bad) = SavedFilters::parse(&s.to_toml(), Path::new("filters.toml"));
        assert_eq!(bad.len(), 0);
        assert_eq!(back, s);
    }

    #[test]
    fn files_written_by_the_earlier_writer_still_read() {
        // Quoted keys, `\"` and `\uXXXX` escapes, comments: what earlier versions wrote.
        let text = "# apiscope saved filters: name = filter expression\n[filters]\n\"scanner\" = \"~client \\\"ip:10.0.0.9\\\" & ~c 404\"\n\"esc\" = \"~u a\\u001Bb\"  # note\nplain = \"~c 5xx\"\n";
        let (s, bad) = SavedFilters::parse(text, Path::new("filters.toml"));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(s.filters.len(), 3);
        assert_eq!(s.filters.get("scanner").map(String::as_str), Some(r#"~client "ip:10.0.0.9" & ~c 404"#));
        assert_eq!(s.filters.get("esc").map(String::as_str), Some("~u a\u{1b}b"));
        assert_eq!(s.filters.get("plain").map(String::as_str), Some("~c 5xx"));
    }

    #[test]
    fn bad_saved_filter_lines_are_counted_not_fatal() {
        let text = "[filters]\nok = \"~c 500\"\nbroken = ~c 500\n[other]\nx = \"y\"\n";
        let (s, bad) = SavedFilters::parse(text, Path::new("filters.toml"));
        assert_eq!(bad.len(), 1, "{bad:?} {s:?}");
        assert!(bad[0].to_string().starts_with("filters.toml:3: "), "{}", bad[0]);
        assert_eq!(s.filters.len(), 1);
        assert_eq!(s.filters.get("ok").map(String::as_str), Some("~c 500"));
    }
}
