//! `apiscope diff`: contract gaps between recorded traffic and an OpenAPI spec. Parses the
//! options, streams every input through a [`DiffAccumulator`], renders the report in the
//! chosen format and maps the worst finding to the exit code (`--fail-on`).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::ingest::ReadOptions;
use crate::model::Severity;
use crate::model::client::ClientKey;
use crate::spec::Spec;
use crate::spec::check::CheckOptions;
use crate::spec::findings::DiffAccumulator;
use crate::spec::load::LoadOptions;
use crate::spec::report;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Grouped, human-readable text.
    Text,
    /// The full report as JSON (schema in docs/diff.md).
    Json,
    /// SARIF 2.1.0 for code-scanning UIs.
    Sarif,
    /// Markdown for pull-request comments.
    Markdown,
}

/// When to exit with code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any error finding.
    Error,
    /// Any warning or error finding.
    Warning,
    /// Never (exit 0 whatever is found).
    Never,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Arguments of `apiscope diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Input files (pcap, pcapng, HAR, Charles .chlsj, mitmproxy); `-` reads standard input.
    #[arg(required_unless_present_any = ["interface", "list_interfaces"], conflicts_with = "interface")]
    pub files: Vec<PathBuf>,
    /// Live capture instead of files (`-i IFACE`), reported when it ends (Ctrl-C,
    /// `--duration`, `--count`).
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// The OpenAPI 3.0/3.1 spec (YAML or JSON).
    #[arg(long)]
    pub spec: PathBuf,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit with code 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Also report response properties no schema documents (as if additionalProperties: false).
    #[arg(long)]
    pub strict: bool,
    /// Use this server URL instead of the spec's `servers` (repeatable), e.g. http://localhost:8080/api.
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// Request header never reported as undocumented (repeatable; `x-corp-*` is a prefix).
    #[arg(long = "ignore-header", value_name = "NAME")]
    pub ignore_headers: Vec<String>,
    /// How clients are identified: auto, ip, ip+ua, header:NAME, bearer, jwt:CLAIM, cookie:NAME, query:NAME.
    #[arg(long, default_value = "auto")]
    pub client_key: String,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Colour for text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// The exit code for a worst severity under `--fail-on`.
#[must_use]
pub fn exit_code(worst: Option<Severity>, fail_on: FailOn) -> u8 {
    let threshold = match fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
        FailOn::Never => return crate::cli::EXIT_OK,
    };
    if worst.is_some_and(|w| w >= threshold) { crate::cli::EXIT_FINDINGS } else { crate::cli::EXIT_OK }
}

/// Run `apiscope diff`.
///
/// # Errors
/// Unreadable input or spec.
pub fn run(args: &DiffArgs) -> anyhow::Result<u8> {
    if args.live.list_interfaces {
        return super::live::print_interfaces();
    }
    let client_key: ClientKey = args.client_key.parse()?;
    let mut spec = Spec::load_with(&args.spec, LoadOptions { allow_ref_outside: args.allow_ref_outside })
        .with_context(|| "loading the spec")?;
    spec.override_servers(&args.servers);
    let opts = CheckOptions {
        strict: args.strict,
        ignore_headers: args.ignore_headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
    };
    let mut acc = DiffAccumulator::new(Arc::new(spec), opts, client_key);
    let read_opts = ReadOptions::default();
    if args.live.is_live() {
        let cap = super::live::start(&args.live, false)?;
        acc.add_input(&cap.name.display().to_string());
        super::live::read(cap, &read_opts, &mut acc)?;
    }
    for f in &args.files {
        acc.add_input(&f.display().to_string());
        crate::ingest::relay::read_path_relayed(f, &read_opts, &mut acc)?;
    }
    let report = acc.finish();
    let to_file = args.output.is_some();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !to_file && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let out = match args.format {
        DiffFormat::Text => report::text(&report, color),
        DiffFormat::Json => report::json(&report),
        DiffFormat::Sarif => report::sarif(&report),
        DiffFormat::Markdown => report::markdown(&report),
    };
    match &args.output {
        Some(p) => {
            let inputs: Vec<_> = args.files.iter().chain(std::iter::once(&args.spec)).cloned().collect();
            crate::export::output::write_all(p, &inputs, out.as_bytes())?;
        }
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(out.as_bytes())?;
            so.flush()?;
        }
    }
    Ok(exit_code(report.worst(), args.fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_thresholds() {
        assert_eq!(exit_code(Some(Severity::Warning), FailOn::Error), 0);
        assert_eq!(exit_code(Some(Severity::Error), FailOn::Error), 1);
        assert_eq!(exit_code(Some(Severity::Warning), FailOn::Warning), 1);
        assert_eq!(exit_code(Some(Severity::Info), FailOn::Warning), 0);
        assert_eq!(exit_code(Some(Severity::Error), FailOn::Never), 0);
        assert_eq!(exit_code(None, FailOn::Warning), 0);
    }
}
