//! The terminal UI: app state, actions, the event loop, the keymap table and the views.
//! The only module that uses ratatui and crossterm.
//!
//! Shape (state → action → update → render): [`app::App`] holds the state and changes only
//! in `App::update(Action)` (plus entry points for pointer events, loader messages and the
//! tick); the parts with a life of their own keep their state and `update` in their own
//! modules and answer the app with what to do next: the insight views
//! ([`insightstate`], computed by [`insight`]), the background filter and search passes
//! ([`scanjob`]), loading ([`load`]), the export dialog ([`exportdialog`]), the replay dialog ([`replaydialog`]), the comparison
//! of two flows ([`compare`]) and the Versions view of two sets of captures ([`versions`]). [`views::render`] draws everything from `&App` on the regions
//! of [`layout`], which also answers the app's hit tests; [`keymap`] is the one table of keys;
//! [`config`] finds and reads the configuration files; [`notes`] keeps marks and comments
//! per input between runs. No module here uses one that uses it
//! back. Everything captured is shown through `model::text::visible`.

pub mod action;
pub mod app;
pub mod compare;
pub mod config;
pub mod doc;
pub mod exportdialog;
pub mod filterbar;
pub mod fmt;
pub mod indexjob;
pub mod insight;
pub mod insightstate;
pub mod keymap;
pub mod layout;
pub mod load;
pub mod notes;
pub mod replaydialog;
pub mod scanjob;
pub mod screen;
pub mod status;
pub mod theme;
pub mod versions;
pub mod views;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;

use crate::ingest::ReadOptions;

/// Why the TUI could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// Standard output is not a terminal.
    #[error(
        "the interactive view needs a terminal (stdout is not a TTY); for scripts use `apiscope flows FILE`, `apiscope stats FILE` or `apiscope diff FILE --spec SPEC`"
    )]
    NoTerminal,
    /// Terminal setup, drawing or event reading failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// Restores the terminal when dropped (normal exit and errors); the panic hook covers panics.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}

/// Open the TUI on `paths`: load them on a worker thread, run the event loop until the user
/// quits. The terminal is restored on quit, on error and on panic.
///
/// # Errors
/// No terminal, or terminal IO failed.
pub fn run(paths: Vec<PathBuf>, opts: app::Options, read: ReadOptions) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NoTerminal);
    }
    let notes = notes::NotesStore::for_inputs(&paths);
    let loader = load::spawn(paths, read.clone())?;
    run_loader(loader, None, notes, opts, read)
}

/// Open the TUI on a live capture: flows appear as they complete; the title bar shows the
/// capture's packet and drop counters. Quitting stops the capture.
///
/// # Errors
/// No terminal, or terminal IO failed.
pub fn run_live(cap: crate::live::LiveCapture, opts: app::Options, read: ReadOptions) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        cap.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        return Err(TuiError::NoTerminal);
    }
    let stats = std::sync::Arc::clone(&cap.stats);
    let loader = load::spawn_live(cap, read.clone())?;
    // A live capture has no input file to key kept marks and comments by.
    run_loader(loader, Some(stats), None, opts, read)
}

fn run_loader(
    loader: load::Loader,
    live: Option<std::sync::Arc<crate::live::LiveStats>>,
    notes: Option<notes::NotesStore>,
    opts: app::Options,
    read: ReadOptions,
) -> Result<(), TuiError> {
    let filter = opts.filter.clone();
    let mut app = app::App::new(opts);
    app.live = live;
    app.notes = notes;
    // Keep rows and locators; headers and bodies are read again from the files on demand.
    app.store.set_lazy(read.clone());
    if let Some(f) = &filter {
        app.apply_named_or_expr(f);
    }
    app.start_versions();
    app.load.active = true;

    let mut terminal = ratatui::try_init()?;
    let _guard = TerminalGuard;
    let ratatui_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        ratatui_hook(info);
    }));
    execute!(std::io::stdout(), EnableMouseCapture)?;
    let size = terminal.size()?;
    app.resize(size.width, size.height);

    let result = event_loop(&mut terminal, &mut app, &loader);
    loader.stop();
    drop(loader);
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut app::App,
    loader: &load::Loader,
) -> Result<(), TuiError> {
    let mut dirty = true;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut loading = true;
    loop {
        if dirty && (!loading || last_draw.elapsed() >= Duration::from_millis(50)) {
            terminal.draw(|f| views::render(app, f))?;
            last_draw = Instant::now();
            dirty = false;
        }
        // Drain what the loader has, bounded so keys stay responsive.
        let budget = Instant::now();
        while loading && budget.elapsed() < Duration::from_millis(30) {
            match loader.rx.try_recv() {
                Ok(m) => {
                    if matches!(m, load::LoadMsg::Finished { .. }) {
                        loading = false;
                    }
                    app.on_load(m);
                    dirty = true;
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    loading = false;
                    app.load.active = false;
                    dirty = true;
                }
            }
        }
        if app.tick() {
            dirty = true;
        }
        let comparing = app.versions.as_ref().is_some_and(versions::VersionsState::busy);
        let wait = if loading || comparing || app.insight.busy() || app.scans.busy() || app.export_job.is_some() {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(250)
        };
        if event::poll(wait)? {
            // Handle every queued event before drawing again.
            loop {
                let ev = event::read()?;
                app.on_event(&ev);
                dirty = true;
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
            // Keys must feel immediate even while loading.
            last_draw = Instant::now() - Duration::from_secs(1);
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// The terminal's width in columns (for CLI reports shown on a terminal).
#[must_use]
pub fn terminal_columns() -> Option<usize> {
    crossterm::terminal::size().ok().map(|(w, _)| usize::from(w)).filter(|w| *w > 0)
}
