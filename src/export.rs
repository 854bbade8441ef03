//! Turning exchanges into things other tools read: curl and HTTPie commands ([`curl`],
//! [`httpie`]), raw HTTP ([`raw`]), HAR 1.2 ([`har`]) and Postman collections v2.1
//! ([`postman`]), and Parquet datasets ([`parquet`]). Secrets are redacted first
//! ([`redact`]) unless the caller turns that off; shell output is quoted safely for any captured byte ([`shell`]).
//!
//! Each format has plain functions for one exchange; [`Exporter`] streams any number of
//! exchanges to a writer, keeping nothing but a counter in memory.

pub mod curl;
pub mod har;
pub mod httpie;
pub mod output;
pub mod parquet;
pub mod postman;
pub mod raw;
pub mod redact;
pub mod shell;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use crate::model::{Exchange, Request};
pub use redact::Redaction;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One `curl` command per exchange.
    Curl,
    /// One HTTPie `http` command per exchange.
    Httpie,
    /// Request and response as on the wire (decoded bodies).
    Raw,
    /// A HAR 1.2 log.
    Har,
    /// A Postman collection v2.1.
    Postman,
}

impl Format {
    /// Every format, in the order shown in help.
    pub const ALL: [Format; 5] = [Format::Curl, Format::Httpie, Format::Raw, Format::Har, Format::Postman];

    /// The name used on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Curl => "curl",
            Self::Httpie => "httpie",
            Self::Raw => "raw",
            Self::Har => "har",
            Self::Postman => "postman",
        }
    }

    /// A file extension for this format.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Curl | Self::Httpie => "sh",
            Self::Raw => "http",
            Self::Har => "har",
            Self::Postman => "postman_collection.json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown format name.
#[derive(Debug, thiserror::Error)]
#[error("unknown export format `{0}`: use curl, httpie, raw, har or postman")]
pub struct FormatError(pub String);

impl FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "curl" => Ok(Self::Curl),
            "httpie" | "http" => Ok(Self::Httpie),
            "raw" => Ok(Self::Raw),
            "har" => Ok(Self::Har),
            "postman" => Ok(Self::Postman),
            _ => Err(FormatError(s.to_string())),
        }
    }
}

/// Settings shared by every format.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// What to redact (on by default).
    pub redaction: Redaction,
    /// Name of the Postman collection (default "apiscope export").
    pub name: Option<String>,
}

/// Streams exchanges to a writer in one format: a header when the first is written, the
/// exchanges as they come, a footer on [`Exporter::finish`].
#[derive(Debug)]
pub struct Exporter<W: Write> {
    w: W,
    format: Format,
    opts: ExportOptions,
    count: u64,
    cut: u64,
}

impl<W: Write> Exporter<W> {
    /// An exporter writing `format` to `w`.
    pub fn new(w: W, format: Format, opts: ExportOptions) -> Self {
        Self { w, format, opts, count: 0, cut: 0 }
    }

    /// Exchanges written so far.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exchanges written so far whose request body is not whole (cut or not kept when read).
    #[must_use]
    pub fn cut_bodies(&self) -> u64 {
        self.cut
    }

    fn header(&mut self) -> io::Result<()> {
        match self.format {
            Format::Har => har::write_header(&mut self.w),
            Format::Postman => {
                postman::write_header(&mut self.w, self.opts.name.as_deref().unwrap_or("apiscope export"))
            }
            Format::Curl | Format::Httpie => self.w.write_all(shell_header(self.format, &self.opts).as_bytes()),
            Format::Raw => Ok(()),
        }
    }

    /// Write one exchange (redacted per the options).
    ///
    /// # Errors
    /// The writer's error.
    pub fn write(&mut self, ex: &Exchange) -> io::Result<()> {
        if self.count == 0 {
            self.header()?;
        }
        let ex = self.opts.redaction.apply(ex);
        let first = self.count == 0;
        self.cut += u64::from(cut_body_note(&ex.request).is_some());
        match self.format {
            Format::Curl => {
                self.w.write_all(comment_line(&ex).as_bytes())?;
                self.w.write_all(curl::command(&ex).as_bytes())?;
                self.w.write_all(b"\n")?;
            }
            Format::Httpie => {
                self.w.write_all(comment_line(&ex).as_bytes())?;
                self.w.write_all(httpie::command(&ex).as_bytes())?;
                self.w.write_all(b"\n")?;
            }
            Format::Raw => {
                if !first {
                    self.w.write_all(b"\r\n")?;
                }
                self.w.write_all(&raw::exchange(&ex))?;
            }
            Format::Har => {
                if !first {
                    self.w.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut self.w, &har::entry(&ex))?;
            }
            Format::Postman => {
                if !first {
                    self.w.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut self.w, &postman::item(&ex))?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Write the footer (a complete, empty document when nothing was written) and return the
    /// writer.
    ///
    /// # Errors
    /// The writer's error.
    pub fn finish(mut self) -> io::Result<W> {
        if self.count == 0 {
            self.header()?;
        }
        match self.format {
            Format::Har => har::write_footer(&mut self.w)?,
            Format::Postman => postman::write_footer(&mut self.w)?,
            Format::Curl | Format::Httpie | Format::Raw => {}
        }
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Export `exchanges` in `format` into memory.
#[must_use]
pub fn to_bytes<'a>(
    format: Format,
    exchanges: impl IntoIterator<Item = &'a Exchange>,
    opts: &ExportOptions,
) -> Vec<u8> {
    let mut e = Exporter::new(Vec::new(), format, opts.clone());
    for ex in exchanges {
        // Writing to a Vec cannot fail.
        let _ = e.write(ex);
    }
    e.finish().unwrap_or_default()
}

/// The comment that opens a curl or HTTPie script: how captured text is kept from acting as
/// code or options, and whether secrets were redacted.
fn shell_header(format: Format, opts: &ExportOptions) -> String {
    let options = match format {
        Format::Httpie => "options end with `--` before the method, URL and header items",
        _ => "the URL starts with its scheme; the method and headers are option values",
    };
    let secrets = if opts.redaction.enabled {
        "Secrets are replaced by REDACTED (`--no-redact` keeps them)"
    } else {
        "Secrets are NOT redacted (`--no-redact`): do not share this file"
    };
    format!(
        "# apiscope export ({}). Captured text is data only: every argument is shell-quoted,\n\
         # {options}.\n\
         # A request whose body was cut when read says so. {secrets}.\n",
        format.name()
    )
}

/// `# 3 GET https://h/x` (made visible), the line before each shell command, followed by a
/// note when the request body is not the whole body the client sent.
fn comment_line(ex: &Exchange) -> String {
    let line = format!("{} {} {}", ex.seq, ex.request.method, url(ex));
    let mut out = format!("# {}\n", crate::model::text::visible(&line));
    if let Some(note) = cut_body_note(&ex.request) {
        out.push_str(&format!("# note: {note}\n"));
    }
    out
}

/// Why `req`'s body as exported differs from what the client sent, if it does.
#[must_use]
pub fn cut_body_note(req: &Request) -> Option<String> {
    let b = &req.body;
    if b.detached.is_some() && b.content.is_empty() {
        return Some(format!("the request body ({} bytes) was not kept when read; this command sends none", b.size));
    }
    b.truncated.then(|| {
        let (sent, _) = replay_body(req);
        format!(
            "the request body was cut when read: this command sends its first {} bytes (the whole body was {} bytes decoded)",
            sent.len(),
            b.size
        )
    })
}

/// The absolute URL of the request (`http://unknown-host/…` when no host is known).
#[must_use]
pub fn url(ex: &Exchange) -> String {
    let host = ex.host();
    let host = if host.is_empty() { "unknown-host".to_string() } else { host };
    ex.request.url(&host)
}

/// The body to send when replaying `req` and whether its `Content-Encoding` header still
/// applies: the bytes as transferred when they were kept, else the decoded content (and the
/// coding header must then be dropped).
#[must_use]
pub fn replay_body(req: &Request) -> (&[u8], bool) {
    match (&req.body.encoding, &req.body.wire) {
        (Some(_), Some(w)) => (w, true),
        (Some(_), None) => (&req.body.content, false),
        _ => (&req.body.content, true),
    }
}

/// Request headers worth replaying: no pseudo-headers (`:authority`, …), no framing
/// (`Content-Length`, `Transfer-Encoding`, which the client recomputes), no `Host` (taken
/// from the URL) and no `Content-Encoding` when the body is sent decoded.
pub fn replay_headers(req: &Request) -> impl Iterator<Item = (&str, &str)> {
    let keep_ce = replay_body(req).1;
    req.headers.iter().filter_map(move |h| {
        let n = h.name.as_str();
        let skip = n.starts_with(':')
            || n.eq_ignore_ascii_case("content-length")
            || n.eq_ignore_ascii_case("transfer-encoding")
            || n.eq_ignore_ascii_case("host")
            || (!keep_ce && n.eq_ignore_ascii_case("content-encoding"));
        (!skip).then_some((n, h.value.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_request_body_is_said_in_the_command_and_counted() {
        let mut ex = Exchange::default();
        ex.request.method = "POST".into();
        ex.request.target = "/upload".into();
        ex.request.body = crate::model::Body::from_bytes(vec![b'a'; 10]);
        ex.request.body.size = 1000;
        ex.request.body.truncated = true;
        for format in [Format::Curl, Format::Httpie] {
            let mut e = Exporter::new(Vec::new(), format, ExportOptions::default());
            e.write(&ex).unwrap();
            assert_eq!(e.cut_bodies(), 1);
            let text = String::from_utf8(e.finish().unwrap()).unwrap();
            assert!(text.contains("# note: the request body was cut when read: this command sends its first 10 bytes (the whole body was 1000 bytes decoded)"), "{text}");
        }
    }

    #[test]
    fn formats_parse_and_print() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn empty_exports_are_complete_documents() {
        let har: serde_json::Value =
            serde_json::from_slice(&to_bytes(Format::Har, [], &ExportOptions::default())).unwrap();
        assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 0);
        let pm: serde_json::Value =
            serde_json::from_slice(&to_bytes(Format::Postman, [], &ExportOptions::default())).unwrap();
        assert_eq!(pm["item"].as_array().unwrap().len(), 0);
        let curl = String::from_utf8(to_bytes(Format::Curl, [], &ExportOptions::default())).unwrap();
        assert!(curl.lines().all(|l| l.starts_with("# ")), "{curl}");
        assert!(curl.contains("Secrets are replaced by REDACTED"), "{curl}");
    }
}
