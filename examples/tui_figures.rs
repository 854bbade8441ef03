//! Figures for the TUI docs, measured headless on one input with the real loader, store and
//! views: time to first screen (first rows drawn), full load time, filter / sort / search
//! times over all rows, frame time, and memory per exchange.
//!
//!     cargo run --release --example tui_figures -- /tmp/1g.pcap

use std::time::{Duration, Instant};

use apiscope::ingest::ReadOptions;
use apiscope::store::Column;
use apiscope::store::search::Search;
use apiscope::tui::app::{App, Options};
use apiscope::tui::load::{self, LoadMsg};
use apiscope::tui::{filterbar, views};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: tui_figures FILE")?;
    let rss0 = rss_kib("VmRSS:");
    let t0 = Instant::now();
    let loader = load::spawn(vec![path.clone().into()], ReadOptions::default())?;
    let mut app = App::new(Options { sources: vec![path.clone()], ..Options::default() });
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
    println!("input: {path}");
    println!("exchanges: {n}");
    println!("time to first screen (first rows drawn): {}", first_screen.map_or("-".into(), ms));
    println!("full load: {:.2} s ({:.0} exchanges/s)", load.as_secs_f64(), n as f64 / load.as_secs_f64());

    for expr in ["~c 5xx", "~m POST & ~dur >100ms", "!~c 200 | ~q", "~h \"user-agent: .*bot\"", "~b symbol"] {
        let p = filterbar::compile(expr, None).map_err(|e| e.message)?;
        let t = Instant::now();
        app.store.set_predicate(Some(p));
        println!("filter {expr:<28} {:>10}  {} rows shown", ms(t.elapsed()), app.store.view().len());
    }
    let t = Instant::now();
    app.store.set_predicate(None);
    println!("filter cleared                {:>10}", ms(t.elapsed()));
    for col in [Column::Duration, Column::Path, Column::Client, Column::Time] {
        let t = Instant::now();
        app.store.set_order(Some(col));
        println!("sort by {:<22} {:>10}", col.name(), ms(t.elapsed()));
    }
    for text in ["ord_", "no such text anywhere"] {
        let s = Search::new(text).ok_or("empty search")?;
        let t = Instant::now();
        let hit = s.find(&app.store, 0, true);
        println!("search {text:<23} {:>10}  first hit at {hit:?}", ms(t.elapsed()));
    }
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
    let idx = app.store.index_bytes();
    let exb = app.store.exchange_bytes();
    println!("index (rows + interned strings + view): {} bytes/exchange", idx / n.max(1));
    println!("full exchanges held (headers, bodies):  {} bytes/exchange", exb / n.max(1));
    let rss = rss_kib("VmRSS:");
    println!(
        "process RSS {} MiB (peak {} MiB), {} bytes/exchange over the empty process",
        rss / 1024,
        rss_kib("VmHWM:") / 1024,
        (rss.saturating_sub(rss0) * 1024) / n.max(1) as u64
    );
    loader.shutdown();
    Ok(())
}
