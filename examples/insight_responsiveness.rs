//! Responsiveness of the insight views on a big input: load FILE [SPEC] into the TUI state
//! (no terminal), then time the first recomputation, a view switch (one frame at 160×48),
//! and a re-filter (`~c 5xx`: the filter on the UI thread, then the background recompute).
//! `cargo run --release --example insight_responsiveness -- /tmp/bench/1g.pcap`

use std::time::{Duration, Instant};

use apiscope::ingest::{Collect, ReadOptions, read_path};
use apiscope::tui::app::{App, Options};
use apiscope::tui::views;
use crossterm::event::{KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: insight_responsiveness FILE [SPEC]");
        std::process::exit(2);
    };
    let spec = args.next();
    let t = Instant::now();
    let mut c = Collect::default();
    if let Err(e) = read_path(std::path::Path::new(&file), &ReadOptions::default(), &mut c) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let n = c.exchanges.len();
    let mut app = App::new(Options { spec_path: spec.map(Into::into), ..Options::default() });
    app.load_all(c.exchanges);
    app.load.active = false;
    println!("loaded {n} exchanges in {:.1} s", t.elapsed().as_secs_f64());
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap_or_else(|_| std::process::exit(1));
    app.resize(160, 48);
    let key = |app: &mut App, c: char| {
        app.on_key(&KeyEvent::new(crossterm::event::KeyCode::Char(c), KeyModifiers::NONE));
    };
    let frame = |app: &mut App, term: &mut Terminal<TestBackend>| {
        let t = Instant::now();
        let _ = term.draw(|f| views::render(app, f));
        t.elapsed().as_secs_f64() * 1e3
    };
    let t = Instant::now();
    key(&mut app, '3');
    let switch_ms = t.elapsed().as_secs_f64() * 1e3;
    let f0 = frame(&mut app, &mut term);
    println!(
        "switch to Endpoints (key handling + job snapshot): {switch_ms:.1} ms; first frame (progress shown): {f0:.1} ms"
    );
    let t = Instant::now();
    let ok = app.insight.wait(Duration::from_secs(1800));
    println!("first recompute in background: {:.2} s (ok={ok})", t.elapsed().as_secs_f64());
    for (c, name) in [('2', "Gaps"), ('3', "Endpoints"), ('4', "Clients"), ('5', "Structure"), ('1', "Flows")] {
        let t = Instant::now();
        key(&mut app, c);
        let f = frame(&mut app, &mut term);
        println!("switch to {name}: {:.1} ms (frame {f:.1} ms)", t.elapsed().as_secs_f64() * 1e3);
    }
    key(&mut app, '3');
    let t = Instant::now();
    app.apply_filter("~c 5xx");
    let filt = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    app.tick();
    let tick = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let ok = app.insight.wait(Duration::from_secs(1800));
    println!(
        "re-filter ~c 5xx: filter {filt:.0} ms on the UI thread ({} shown), job submit {tick:.1} ms, recompute {:.2} s in background (ok={ok})",
        app.store.view().len(),
        t.elapsed().as_secs_f64()
    );
}
