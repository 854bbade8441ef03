//! `apiscope compare A… --against B…`: what changed between two sets of captures (two
//! back-end versions, or the two arms of an A/B test). Reads the two sides on two threads
//! through `analysis::compare::side::Side`, compares them, renders the result and maps
//! regressions to the exit code (`--fail-on`).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::analysis::Config;
use crate::analysis::compare::render::{self, Format};
use crate::analysis::compare::side::{self, SideResult};
use crate::analysis::compare::{self as cmp, CompareOptions, Comparison};
use crate::model::client::ClientKey;
use crate::spec::Spec;
use crate::spec::load::LoadOptions;

use super::stats::ThresholdArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// Aligned text tables.
    Text,
    /// The whole comparison as JSON (schema in docs/compare.md).
    Json,
    /// Markdown for pull-request comments.
    Markdown,
}

/// When to exit with code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnRegression {
    /// Any endpoint with the verdict `regressed`.
    Regression,
    /// Never (exit 0 whatever changed).
    Never,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim_end_matches('%').parse().map_err(|_| format!("`{s}` is not a number"))?;
    let v = if s.ends_with('%') { v / 100.0 } else { v };
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(format!("`{s}` must be between 0 and 1 (or 0% and 100%)")) }
}

fn parse_shift(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim_end_matches('%').parse().map_err(|_| format!("`{s}` is not a number"))?;
    let v = if s.ends_with('%') { v / 100.0 } else { v };
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(format!("`{s}` must be 0 or more")) }
}

/// Arguments of `apiscope compare`.
#[derive(Debug, Args)]
#[command(after_help = "\
Verdicts per endpoint: regressed, improved, unchanged, new (only in B), gone (only in A),
too few calls. Latency: Mann-Whitney U rank test on the TTFB of 2xx answers (normal
approximation with the tie correction; total duration when TTFB is missing), effect =
relative change of the median.
Error rate and availability: two-proportion z-test, effect = change in percentage points.
A change needs p < --alpha AND at least the minimum effect, so two samples of the same back
end come out unchanged.

Exit codes: 0 ok, 1 a regression with --fail-on regression, 2 bad usage or unreadable input.")]
pub struct CompareArgs {
    /// Side A, the baseline (pcap, pcapng, HAR, Charles .chlsj, mitmproxy; several files
    /// are read as one side).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Side B, the candidate (one or more files).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub against: Vec<PathBuf>,
    /// OpenAPI spec: endpoints are named by its operations, and contract findings and
    /// coverage are compared too.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Client identity: auto, ip, ip+ua, header:NAME, bearer, jwt:CLAIM, cookie:NAME, query:NAME.
    #[arg(long, default_value = "auto")]
    pub client_key: ClientKey,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
    /// Exit with code 1 when an endpoint regressed.
    #[arg(long, value_enum, default_value_t = FailOnRegression::Never)]
    pub fail_on: FailOnRegression,
    /// Verdict thresholds.
    #[command(flatten)]
    pub verdict: VerdictArgs,
    /// Rows per list (text/markdown default 20; json: all unless given).
    #[arg(long)]
    pub top: Option<usize>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Pattern detector thresholds (as for `stats`).
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// The verdict thresholds, shared by `apiscope compare` and the TUI's `--against`.
#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// Significance level of the tests [0.01].
    #[arg(long, value_parser = parse_fraction, default_value = "0.01")]
    pub alpha: f64,
    /// Smallest relative shift of the median latency that counts (0.1 or 10%) [10%].
    #[arg(long, value_parser = parse_shift, default_value = "10%")]
    pub min_latency_shift: f64,
    /// Smallest change of error rate or availability that counts (0.01 or 1%) [1%].
    #[arg(long, value_parser = parse_fraction, default_value = "1%")]
    pub min_rate_change: f64,
    /// Fewer calls than this on either side give `too few calls` [30].
    #[arg(long, default_value_t = 30)]
    pub min_calls: u64,
}

impl VerdictArgs {
    /// The verdict thresholds.
    #[must_use]
    pub fn options(&self) -> CompareOptions {
        CompareOptions {
            alpha: self.alpha,
            min_latency_shift: self.min_latency_shift,
            min_rate_change: self.min_rate_change,
            min_calls: self.min_calls.max(2),
        }
    }
}

impl CompareArgs {
    /// The verdict thresholds.
    #[must_use]
    pub fn options(&self) -> CompareOptions {
        self.verdict.options()
    }
}

/// Read both sides, A and B, on two threads.
///
/// # Errors
/// An unreadable input.
pub fn read_sides(
    a: &[PathBuf],
    b: &[PathBuf],
    cfg: &Config,
    spec: Option<&Arc<Spec>>,
) -> anyhow::Result<(SideResult, SideResult)> {
    Ok(side::read_sides(a, b, cfg, spec)?)
}

/// Load the spec of `--spec`, if any.
///
/// # Errors
/// An unreadable or invalid spec.
pub fn load_spec(path: Option<&PathBuf>, allow_ref_outside: bool) -> anyhow::Result<Option<Arc<Spec>>> {
    path.map(|p| Spec::load_with(p, LoadOptions { allow_ref_outside }).context("loading the spec").map(Arc::new))
        .transpose()
}

/// Compare the files of `args` and return the comparison.
///
/// # Errors
/// An unreadable input or spec.
pub fn comparison(args: &CompareArgs) -> anyhow::Result<Comparison> {
    let spec = load_spec(args.spec.as_ref(), args.allow_ref_outside)?;
    let cfg =
        Config { client_key: args.client_key.clone(), thresholds: args.thresholds.thresholds(), ..Config::default() };
    let (a, b) = read_sides(&args.files, &args.against, &cfg, spec.as_ref())?;
    let top = args.top.unwrap_or(match args.format {
        CompareFormat::Json => usize::MAX,
        CompareFormat::Text | CompareFormat::Markdown => 20,
    });
    Ok(cmp::compare(&a, &b, &args.options(), top))
}

/// The exit code under `--fail-on`.
#[must_use]
pub fn exit_code(c: &Comparison, fail_on: FailOnRegression) -> u8 {
    match fail_on {
        FailOnRegression::Regression if c.regressed() => super::EXIT_FINDINGS,
        _ => super::EXIT_OK,
    }
}

/// Run `apiscope compare`.
///
/// # Errors
/// An unreadable input or spec.
pub fn run(args: &CompareArgs) -> anyhow::Result<u8> {
    let c = comparison(args)?;
    let format = match args.format {
        CompareFormat::Text => Format::Text,
        CompareFormat::Json => Format::Json,
        CompareFormat::Markdown => Format::Markdown,
    };
    let top = args.top.unwrap_or(20);
    let out = render::render(&c, format, top)?;
    match &args.output {
        Some(p) => {
            let inputs: Vec<PathBuf> =
                args.files.iter().chain(&args.against).chain(args.spec.iter()).cloned().collect();
            crate::export::output::write_all(p, &inputs, out.as_bytes())?;
        }
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(out.as_bytes())?;
            so.flush()?;
        }
    }
    Ok(exit_code(&c, args.fail_on))
}
