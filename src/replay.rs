//! Replaying recorded requests against a target and showing what its answers change.
//!
//! The steps, one module each: [`plan`] rebuilds each recorded request for the target and
//! holds back what must not be sent (unsafe methods unless allowed, credentials that were
//! redacted in the recording, bodies that were cut); [`send`] sends the plan with a real HTTP
//! client (HTTP/1.1 and HTTP/2 over rustls, connection reuse, concurrency, pacing, timeouts,
//! a stop signal); [`compare`] sets each answer against the recorded one (status, headers
//! without the volatile ones, JSON bodies structurally, latency); [`report`] groups it all
//! for people and scripts; [`har`] turns what was sent and answered into exchanges that the
//! HAR exporter writes and every apiscope command reads.
//!
//! This module is the only user of the HTTP client stack (reqwest on tokio). Nothing is
//! sent anywhere but the [`Target`] the caller names.

pub mod compare;
pub mod har;
pub mod plan;
pub mod report;
pub mod send;

use std::fmt;
use std::str::FromStr;

/// Why a replay could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The target is not an absolute http(s) URL with a host.
    #[error("bad target `{0}`: {1}")]
    BadTarget(String, String),
    /// A `--header` value is not `Name: value`.
    #[error("bad header `{0}`: {1}")]
    BadHeader(String, String),
    /// An `--ignore` path cannot be parsed.
    #[error("bad ignore rule `{0}`: {1}")]
    BadIgnore(String, String),
    /// A setting is out of range.
    #[error("{0}")]
    BadSetting(String),
    /// The async runtime or the HTTP client could not be built.
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
}

/// Where requests go: an absolute `http://` or `https://` URL whose scheme, host and port
/// replace the recorded ones; a path in it (`https://staging.test/api`) is put before each
/// recorded path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    scheme: String,
    host: String,
    port: Option<u16>,
    prefix: String,
}

impl Target {
    /// `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `host[:port]` as it goes into `Host` (the port only when given).
    #[must_use]
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// The path put before every recorded path (empty or `/api`, never ending in `/`).
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The URL for a recorded request target (`/path?query`).
    ///
    /// # Errors
    /// The result is not a valid URL (the message says why).
    pub fn url_for(&self, request_target: &str) -> Result<reqwest::Url, String> {
        let s = format!("{}://{}{}{}", self.scheme, self.authority(), self.prefix, request_target);
        let url = reqwest::Url::parse(&s).map_err(|e| e.to_string())?;
        // A recorded target cannot move the request to another host (`//evil/…` or `@`).
        let same_host = url.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            == Some(self.host.trim_start_matches('[').trim_end_matches(']'))
            && url.port_or_known_default() == self.port_or_default();
        if same_host { Ok(url) } else { Err("the recorded target would change the host".into()) }
    }

    fn port_or_default(&self) -> Option<u16> {
        self.port.or(match self.scheme.as_str() {
            "https" => Some(443),
            _ => Some(80),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority(), self.prefix)
    }
}

impl FromStr for Target {
    type Err = ReplayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ReplayError::BadTarget(s.to_string(), why.to_string());
        let url = reqwest::Url::parse(s.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a target has no query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not sent; use --header 'Authorization: …'"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Self {
            scheme: url.scheme().to_string(),
            host,
            port: url.port(),
            prefix: url.path().trim_end_matches('/').to_string(),
        })
    }
}

/// How fast requests are started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the concurrency allows.
    AsFast,
    /// At the gaps between the recorded requests' start times.
    Original,
    /// At most this many requests per second.
    Rate(f64),
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AsFast => f.write_str("as fast as possible"),
            Self::Original => f.write_str("original pace"),
            Self::Rate(r) => write!(f, "{r}/s"),
        }
    }
}

impl FromStr for Pace {
    type Err = ReplayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "original" => Ok(Self::Original),
            "as-fast" | "asfast" | "fast" => Ok(Self::AsFast),
            _ => Err(ReplayError::BadSetting(format!("unknown pace `{s}`: use original or as-fast"))),
        }
    }
}

/// Parse a rate such as `50`, `50/s`, `3000/m` into requests per second.
///
/// # Errors
/// Not a positive number, or an unknown unit.
pub fn parse_rate(s: &str) -> Result<f64, ReplayError> {
    let bad = || ReplayError::BadSetting(format!("bad rate `{s}`: use e.g. 50, 50/s or 3000/m"));
    let t = s.trim();
    let (n, per) = t.split_once('/').map_or((t, "s"), |(n, u)| (n.trim(), u.trim()));
    let n: f64 = n.parse().map_err(|_| bad())?;
    let secs = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    let r = n / secs;
    if r.is_finite() && r > 0.0 { Ok(r) } else { Err(bad()) }
}

/// Parse a duration such as `500ms`, `5s`, `2m` or a plain number of seconds.
///
/// # Errors
/// Not a positive duration.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, ReplayError> {
    let bad = || ReplayError::BadSetting(format!("bad duration `{s}`: use e.g. 500ms, 5s or 2m"));
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "s" | "sec" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        _ => return Err(bad()),
    };
    if secs.is_finite() && secs > 0.0 && secs < 86_400.0 {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_scheme_host_port_and_prefix() {
        let t: Target = "https://staging.test:8443/api/".parse().unwrap();
        assert_eq!(t.authority(), "staging.test:8443");
        assert_eq!(t.prefix(), "/api");
        assert_eq!(t.url_for("/v1/a?b=c").unwrap().as_str(), "https://staging.test:8443/api/v1/a?b=c");
        let t: Target = "http://127.0.0.1:9".parse().unwrap();
        assert_eq!(t.to_string(), "http://127.0.0.1:9");
        let t: Target = "http://[::1]:80".parse().unwrap();
        assert_eq!(t.url_for("/x").unwrap().as_str(), "http://[::1]/x");
    }

    #[test]
    fn targets_without_host_or_with_other_schemes_are_refused() {
        for bad in ["ftp://h/", "/just/a/path", "http://u:p@h/", "http://h/?q=1", "h:80"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_recorded_target_cannot_change_the_host() {
        let t: Target = "http://127.0.0.1:8080".parse().unwrap();
        assert!(t.url_for("@evil.test/x").is_err());
        assert!(t.url_for("/ok").is_ok());
    }

    #[test]
    fn rates_and_durations_parse() {
        assert_eq!(parse_rate("50").unwrap(), 50.0);
        assert_eq!(parse_rate("120/m").unwrap(), 2.0);
        assert!(parse_rate("0").is_err() && parse_rate("x/s").is_err());
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("2m").unwrap().as_secs(), 120);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert!(parse_duration("-1s").is_err() && parse_duration("5 parsecs").is_err());
    }
}
