//! Print one tab-separated line per exchange (client, request start ns, ttfb ns, total ns,
//! method, target, status): for comparing timings with a generator log by hand.
//!
//! Usage: `cargo run --example dump_timing -- FILE`

use apiscope::capture::Input;
use apiscope::ingest::capture::read_capture;
use apiscope::ingest::{ReadOptions, Sink};
use apiscope::model::Exchange;
use apiscope::model::text::visible;

struct Print;

impl Sink for Print {
    fn exchange(&mut self, e: &Exchange) {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.client.map(|c| c.to_string()).unwrap_or_default(),
            e.timing.request_start.unwrap_or(0),
            e.ttfb().unwrap_or(-1),
            e.duration().unwrap_or(-1),
            visible(&e.request.method),
            visible(&e.request.target),
            e.status().unwrap_or(0)
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: dump_timing FILE");
        std::process::exit(2);
    };
    let input = Input::Reader(Box::new(std::io::BufReader::new(std::fs::File::open(&path)?)));
    read_capture(input, &path, &ReadOptions { keep_bodies: false, ..ReadOptions::default() }, &mut Print)?;
    Ok(())
}
