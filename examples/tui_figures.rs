//! Figures for the TUI docs, measured headless on one input with the real loader, store and
//! views, in the mode the TUI runs in (full exchanges held in their source file, re-read on
//! demand): time to first screen (first rows drawn), full load time, row-filter / sort times
//! over all rows, header and body filters and search as background passes (time to the
//! complete result, and the longest the UI thread spent per tick meanwhile), the text index
//! (its build after loading, what it holds, and searches answered from it next to the same
//! searches reading the file again), time to open a
//! flow near the end (re-read from the file), frame time, and memory per exchange (the
//! store's own accounting and the process's peak RSS).
//!
//!     cargo run --release --example tui_figures -- /tmp/bench/1g.pcap [--in-memory]

use std::time::{Duration, Instant};

use apiscope::ingest::ReadOptions;
use apiscope::store::Column;
use apiscope::store::search::Search;
use apiscope::tui::app::{App, Options, Tab};
use apiscope::tui::load::{self, LoadMsg};
use apiscope::tui::{filterbar, views};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// The allocator of the apiscope binary, so memory figures match the real TUI.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Poll a search job to its end: time to the first hits, to the end, and how many flows.
fn time_job(job: &mut apiscope::tui::scanjob::ScanJob, t: Instant) -> (Option<Duration>, Duration, usize) {
    let mut first = None;
    let mut hits = 0;
    loop {
        let got = job.poll();
        if first.is_none() && !got.hits.is_empty() {
            first = Some(t.elapsed());
        }
        hits += got.hits.len();
        if got.done.is_some() {
            return (first, t.elapsed(), hits);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Tick the app until its background passes finish; the longest tick (UI-thread time).
fn settle(app: &mut App) -> Duration {
    let mut worst = Duration::ZERO;
    loop {
        let t = Instant::now();
        app.tick();
        worst = worst.max(t.elapsed());
        if !app.scans.busy() {
            return worst;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: tui_figures FILE [--in-memory]")?;
    let in_memory = args.next().as_deref() == Some("--in-memory");
    let rss0 = rss_kib("VmRSS:");
    let t0 = Instant::now();
    let read = ReadOptions::default();
    let loader = load::spawn(vec![path.clone().into()], read.clone())?;
    let mut app = App::new(Options { sources: vec![path.clone()], ..Options::default() });
    if !in_memory {
        app.store.set_lazy(read);
    }
    app.load.active = true;
    app.resize(160, 48);
    let mut term = Terminal::new(TestBackend::new(160, 48))?;
    let mut first_screen = None;
    while let Ok(m) = loader.rx.recv() {
        let end = matches!(m, LoadMsg::Finished { .. });
        app.on_load(m);
        if first_screen.is_none() && !app.store.is_empty() {
            term.draw(|f| views::render(&app, f))?;
            first_screen = Some(t0.elapsed());
        }
        if end {
            break;
        }
    }
    let load = t0.elapsed();
    let n = app.store.len();
    println!(
        "input: {path} ({})",
        if in_memory { "exchanges held in memory" } else { "exchanges re-read from the file" }
    );
    println!("exchanges: {n}");
    println!("time to first screen (first rows drawn): {}", first_screen.map_or("-".into(), ms));
    println!("full load: {:.2} s ({:.0} exchanges/s)", load.as_secs_f64(), n as f64 / load.as_secs_f64());
    let idx = app.store.index_bytes();
    let exb = app.store.exchange_bytes();
    let rss = rss_kib("VmRSS:");
    println!("index (rows, locators, interned strings, view): {} bytes/exchange", idx / n.max(1));
    println!("full exchanges held in memory (headers, bodies):  {} bytes/exchange", exb / n.max(1));
    println!(
        "after load: process RSS {} MiB (peak {} MiB; heap {} MiB, mapped files {} MiB), {} bytes/exchange over the empty process",
        rss / 1024,
        rss_kib("VmHWM:") / 1024,
        rss_kib("RssAnon:") / 1024,
        rss_kib("RssFile:") / 1024,
        (rss.saturating_sub(rss0) * 1024) / n.max(1) as u64
    );

    // The text index is built in the background once loading finished; wait for it here so
    // the figures below do not share the machine with it.
    if let Some(note) = app.scans.index.wait() {
        println!("text index: {}", note.0);
    }
    if let (Some(ix), Some(took)) = (app.scans.index.ready(), app.scans.index.took()) {
        let st = ix.stats();
        let rss = rss_kib("VmRSS:");
        println!(
            "text index built after load in {:.2} s: {} flows, {} blocks, {} MiB of text in {} MiB of temporary file ({:.1}x), {} KiB in memory",
            took.as_secs_f64(),
            st.flows,
            st.blocks,
            st.text_bytes >> 20,
            st.disk_bytes >> 20,
            st.text_bytes as f64 / st.disk_bytes.max(1) as f64,
            st.memory_bytes >> 10
        );
        println!(
            "after the index build: process RSS {} MiB (peak {} MiB; heap {} MiB, mapped files {} MiB)",
            rss / 1024,
            rss_kib("VmHWM:") / 1024,
            rss_kib("RssAnon:") / 1024,
            rss_kib("RssFile:") / 1024
        );
    }

    for expr in ["~c 5xx", "~m POST & ~dur >100ms", "!~c 200 | ~q", "~u orders & ~c 2xx"] {
        let p = filterbar::compile(expr, None).map_err(|e| e.message)?;
        let t = Instant::now();
        app.store.set_predicate(Some(p));
        println!("row filter {expr:<24} {:>10}  {} rows shown", ms(t.elapsed()), app.store.view().len());
    }
    for expr in ["~h \"user-agent: .*bot\"", "~b symbol", "~hs x-request-id & ~c 200"] {
        let t = Instant::now();
        app.apply_filter(expr);
        let on_ui = t.elapsed();
        let worst = settle(&mut app);
        println!(
            "background filter {expr:<26} complete in {:>9}  ({} rows shown; UI thread: {} to apply, longest tick {})",
            ms(t.elapsed()),
            app.store.view().len(),
            ms(on_ui),
            ms(worst)
        );
    }
    let t = Instant::now();
    app.apply_filter("");
    println!("filter cleared                {:>10}", ms(t.elapsed()));
    for col in [Column::Duration, Column::Path, Column::Client, Column::Time] {
        let t = Instant::now();
        app.store.set_order(Some(col));
        println!("sort by {:<22} {:>10}", col.name(), ms(t.elapsed()));
    }
    for text in ["no such text anywhere", "NVDA"] {
        let s = Search::new(text).ok_or("empty search")?;
        let t = Instant::now();
        if app.store.has_lazy() {
            app.search = Some(s.clone());
            app.scans.hits.clear();
            // As the TUI's search runs it: the content test on the reader's parsing threads.
            let hit = apiscope::store::search::ContentHit(s.clone());
            let pre: std::sync::Arc<dyn apiscope::ingest::Prepare> = std::sync::Arc::new(hit.clone());
            let mut job = apiscope::tui::scanjob::ScanJob::spawn_prepared(
                app.store.scan_plan(&(0..u32::try_from(n)?).collect::<Vec<_>>()),
                Some(pre),
                {
                    let meta = app.store.meta_snapshot();
                    Box::new(move |id, ex, prepared| hit.hit(ex, meta.meta(id).comment, prepared))
                },
                0,
            )?;
            let (first, all, hits) = time_job(&mut job, t);
            println!(
                "search (reading the file)  {text:<23} first hit after {}, complete in {} ({hits} flows)",
                first.map_or("-".into(), ms),
                ms(all)
            );
            if app.scans.index.ready().is_some() {
                // As the TUI's `/` runs it once the index is built.
                let t = Instant::now();
                let _ = app.scans.start_search(&app.store, &s);
                let mut job = app.scans.search.take().ok_or("no search job")?;
                let (first, all, hits) = time_job(&mut job, t);
                println!(
                    "search (text index)        {text:<23} first hit after {}, complete in {} ({hits} flows)",
                    first.map_or("-".into(), ms),
                    ms(all)
                );
            }
        } else {
            let hit = s.find(&app.store, 0, true);
            println!("search {text:<23} {:>10}  first hit at {hit:?}", ms(t.elapsed()));
        }
    }
    // Open flows near the end of the file (not cached): re-read from the source.
    let mut opens = Vec::new();
    for k in 1..=20u32 {
        let id = u32::try_from(n)?.saturating_sub(k * 97);
        let t = Instant::now();
        let ex = app.store.exchange(id);
        opens.push(t.elapsed());
        if ex.is_none() {
            return Err("flow missing".into());
        }
    }
    opens.sort();
    println!(
        "open a flow near the end (re-read, 20 flows): median {}  max {}  ({} re-reads so far)",
        ms(opens[opens.len() / 2]),
        ms(opens[opens.len() - 1]),
        app.store.rereads()
    );
    let mut frames = Vec::new();
    for i in 0..200 {
        app.focus = (i * 997) % n.max(1);
        app.update(apiscope::tui::action::Action::Down);
        let t = Instant::now();
        term.draw(|f| views::render(&app, f))?;
        frames.push(t.elapsed());
    }
    frames.sort();
    println!("frame 160x48 median {}  max {}", ms(frames[frames.len() / 2]), ms(frames[frames.len() - 1]));
    // The detail view of the last flow, drawn (re-read + document + frame).
    app.focus = app.store.view().len().saturating_sub(1);
    let t = Instant::now();
    app.update(apiscope::tui::action::Action::Open);
    term.draw(|f| views::render(&app, f))?;
    println!(
        "open the last flow's detail and draw it: {} (tab {:?})",
        ms(t.elapsed()),
        app.detail.as_ref().map_or(Tab::Request, |d| d.tab)
    );
    let rss = rss_kib("VmRSS:");
    println!(
        "end: process RSS {} MiB (peak {} MiB; heap {} MiB, mapped files {} MiB), {} bytes/exchange over the empty process; index {} bytes/exchange",
        rss / 1024,
        rss_kib("VmHWM:") / 1024,
        rss_kib("RssAnon:") / 1024,
        rss_kib("RssFile:") / 1024,
        (rss.saturating_sub(rss0) * 1024) / n.max(1) as u64,
        app.store.index_bytes() / n.max(1)
    );
    loader.shutdown();
    Ok(())
}
