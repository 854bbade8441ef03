//! Opening the TUI from the command line (`apiscope FILE... [--spec S]`, `apiscope demo`).

use crate::spec::load::LoadOptions;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::ingest::ReadOptions;
use crate::tui::app::Options;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;
use crate::tui::versions::VersionsInputs;

/// Arguments when no command is given: open the inputs in the TUI.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Input files to open (pcap, pcapng, HAR, Charles .chlsj, mitmproxy flows).
    pub files: Vec<PathBuf>,
    /// Spec and start filter.
    #[command(flatten)]
    pub view: ViewArgs,
    /// Where `r` replays flows (an http:// or https:// URL); asked for when not given.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Compare the inputs (side A) with these (side B) in the Versions view, as
    /// `apiscope compare A… --against B…` does; both sides' flows are listed.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub against: Vec<PathBuf>,
    /// Verdict thresholds of the Versions view.
    #[command(flatten)]
    pub verdict: super::compare::VerdictArgs,
    /// Do not build the text index `/` searches read once loading is done (searches then
    /// read the inputs again; the index takes about a quarter of the flows' text in a
    /// temporary file, and both cores for a few seconds per GB).
    #[arg(long)]
    pub no_index: bool,
}

/// Arguments of `apiscope live`: the TUI on live traffic.
#[derive(Debug, Args)]
pub struct LiveTuiArgs {
    /// The interface, filter, `--write` file and when to stop.
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Spec and start filter.
    #[command(flatten)]
    pub view: ViewArgs,
}

/// What the TUI checks the traffic against and shows first, on files or live.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// OpenAPI spec to check the traffic against.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Follow `$ref`s to files outside the spec's folder (refused by default).
    #[arg(long)]
    pub allow_ref_outside: bool,
    /// Apply this saved filter (by name, see `'` in the TUI) or filter expression at start.
    #[arg(long)]
    pub filter: Option<String>,
}

/// Arguments of `apiscope demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Compare the demo capture (side A) with these files (side B) in the Versions view.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub against: Vec<PathBuf>,
    /// Verdict thresholds of the Versions view.
    #[command(flatten)]
    pub verdict: super::compare::VerdictArgs,
}

/// The two sides of the Versions view, when `--against` was given.
fn versions(
    a: &[PathBuf],
    against: &[PathBuf],
    verdict: &super::compare::VerdictArgs,
    api: Option<&std::sync::Arc<crate::spec::Spec>>,
) -> Option<VersionsInputs> {
    (!against.is_empty()).then(|| VersionsInputs {
        a: a.to_vec(),
        b: against.to_vec(),
        spec: api.cloned(),
        options: verdict.options(),
    })
}

fn options(files: &[PathBuf], spec: Option<&Path>, spec_opts: LoadOptions) -> anyhow::Result<Options> {
    let keymap = Keymap::load_user().context("key bindings")?;
    let name = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
    let api = match spec {
        Some(p) => Some(std::sync::Arc::new(
            crate::spec::Spec::load_with(p, spec_opts).with_context(|| format!("{}", p.display()))?,
        )),
        None => None,
    };
    let spec_name = spec.map(|p| match &api {
        Some(a) => format!("{} ({} operations)", name(p), a.operations.len()),
        None => name(p),
    });
    Ok(Options {
        sources: files.iter().map(|p| name(p)).collect(),
        spec: spec_name,
        api,
        theme: Theme::from_env(),
        keymap,
        export_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        spec_path: spec.map(Path::to_path_buf),
        filter: None,
        replay_target: None,
        versions: None,
        text_index: true,
    })
}

/// How the TUI starts besides its inputs and spec.
#[derive(Debug)]
struct Start {
    /// Saved filter name or expression applied at start.
    filter: Option<String>,
    /// Where `r` replays flows.
    target: Option<crate::replay::Target>,
    /// Build the text index after loading.
    text_index: bool,
}

impl Default for Start {
    fn default() -> Self {
        Self { filter: None, target: None, text_index: true }
    }
}

/// The second side of the Versions view: its files and verdict thresholds.
type Against<'a> = (&'a [PathBuf], &'a super::compare::VerdictArgs);

fn open(
    files: Vec<PathBuf>,
    spec: Option<PathBuf>,
    spec_opts: LoadOptions,
    start: Start,
    against: Against<'_>,
) -> anyhow::Result<u8> {
    if let Some(s) = &spec {
        if !s.is_file() {
            bail!("{}: spec file not found", s.display());
        }
    }
    for f in files.iter().chain(against.0) {
        if f.as_os_str() == "-" && !against.0.is_empty() {
            bail!("--against compares files: standard input cannot be one side");
        }
        if f.as_os_str() != "-" && !f.exists() {
            bail!("{}: no such file", f.display());
        }
    }
    let mut opts = options(&files, spec.as_deref(), spec_opts)?;
    opts.filter = start.filter;
    opts.replay_target = start.target;
    opts.text_index = start.text_index;
    opts.versions = versions(&files, against.0, against.1, opts.api.as_ref());
    // both sides' flows are listed (the Versions view drills into either)
    let mut all = files;
    all.extend(against.0.iter().cloned());
    if !against.0.is_empty() {
        opts.sources = all
            .iter()
            .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect();
    }
    crate::tui::run(all, opts, ReadOptions::default())?;
    Ok(super::EXIT_OK)
}

/// Open the TUI.
///
/// # Errors
/// No input, unreadable input or no terminal.
pub fn run(args: &TuiArgs) -> anyhow::Result<u8> {
    if args.files.is_empty() {
        bail!(
            "no input: give capture or session files (`apiscope FILE... [--spec S]`), or try `apiscope demo`; see `apiscope --help`"
        );
    }
    let spec_opts = LoadOptions { allow_ref_outside: args.view.allow_ref_outside };
    let target = args.target.as_deref().map(str::parse::<crate::replay::Target>).transpose()?;
    open(
        args.files.clone(),
        args.view.spec.clone(),
        spec_opts,
        Start { filter: args.view.filter.clone(), target, text_index: !args.no_index },
        (&args.against, &args.verdict),
    )
}

/// Where the bundled demo files are: the source tree's fixtures/, next to the executable,
/// or ./fixtures.
fn demo_dir() -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("fixtures"));
        dirs.push(exe_dir.join("../share/apiscope"));
    }
    dirs.push(PathBuf::from("fixtures"));
    dirs.into_iter().find(|d| d.join("demo.pcap.gz").is_file())
}

/// Run the demo: the bundled capture, with the trading API spec when it is there.
///
/// # Errors
/// Demo files missing, unreadable input or no terminal.
pub fn run_demo(args: &DemoArgs) -> anyhow::Result<u8> {
    let dir = demo_dir().context("the demo capture (fixtures/demo.pcap.gz) was not found")?;
    let spec = Some(dir.join("trading-api.openapi.yaml")).filter(|p| p.is_file());
    open(vec![dir.join("demo.pcap.gz")], spec, LoadOptions::default(), Start::default(), (&args.against, &args.verdict))
}

/// Open the TUI on live traffic (`apiscope live -i IFACE`), or list the interfaces.
///
/// # Errors
/// No interface given, the capture cannot start, the spec cannot be read, no terminal.
pub fn run_live(args: &LiveTuiArgs) -> anyhow::Result<u8> {
    if args.live.list_interfaces {
        return super::live::print_interfaces();
    }
    let Some(iface) = &args.live.interface else {
        bail!("no interface: give one with -i IFACE (see `apiscope live --list-interfaces`)");
    };
    if let Some(s) = &args.view.spec {
        if !s.is_file() {
            bail!("{}: spec file not found", s.display());
        }
    }
    let spec_opts = LoadOptions { allow_ref_outside: args.view.allow_ref_outside };
    let name = PathBuf::from(format!("live:{iface}"));
    let mut opts = options(std::slice::from_ref(&name), args.view.spec.as_deref(), spec_opts)?;
    opts.filter = args.view.filter.clone();
    let cap = super::live::start(&args.live, true)?;
    crate::tui::run_live(cap, opts, ReadOptions::default())?;
    Ok(super::EXIT_OK)
}
