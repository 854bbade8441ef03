//! Reading on a thread of its own: [`read_path_relayed`] runs the reader on a scoped
//! thread whose sink ([`Relay`]) passes everything, in order and in batches, over a bounded
//! channel to the caller's sink on the calling thread. A sink with real work per exchange
//! (the analyzer of `stats`, the spec checker of `diff`) then runs beside the reader — which
//! on a capture is itself busy reassembling TCP and merging its parsing threads — instead of
//! between two of its packets.
//!
//! The sink sees exactly what a direct read gives it, in the same order: exchanges (moved,
//! not copied, from readers that own them), what its [`Prepare`] made of them (run by the
//! readers as before), file diagnostics and progress. Its [`Sink::should_stop`] is polled
//! between batches. What cannot cross threads per exchange is
//! [`Sink::wants_response_body`]: the relay keeps every response body the read options
//! allow, so the sink sees the same exchanges, without that saving.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Sender, bounded};

use super::{IngestError, Prepare, Prepared, ReadOptions, ReadSummary, Sink, read_path};
use crate::model::{Diagnostic, Exchange};

/// Items per batch sent to the calling thread.
const BATCH: usize = 256;
/// Batches in the channel before the reader waits.
const IN_FLIGHT: usize = 4;

/// One thing the reader gave its sink. Exchanges are most of a batch: boxing them would
/// cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Item {
    Exchange(Exchange, Option<Prepared>),
    Diagnostic(Diagnostic),
    Progress(u64, Option<u64>),
}

/// The reader's sink on the reading thread: gathers items into batches and sends them.
struct Relay {
    tx: Sender<Vec<Item>>,
    batch: Vec<Item>,
    stop: Arc<AtomicBool>,
    preparer: Option<Arc<dyn Prepare>>,
    needs_headers: bool,
}

impl Relay {
    fn push(&mut self, item: Item) {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if self.tx.send(full).is_err() {
            // The receiving side is gone: stop reading.
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Sink for Relay {
    fn exchange(&mut self, ex: &Exchange) {
        self.push(Item::Exchange(ex.clone(), None));
    }

    fn take(&mut self, ex: Exchange, prepared: Option<Prepared>) {
        self.push(Item::Exchange(ex, prepared));
    }

    fn prepared(&mut self, ex: &Exchange, prepared: Prepared) {
        self.push(Item::Exchange(ex.clone(), Some(prepared)));
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        self.push(Item::Diagnostic(d.clone()));
    }

    fn progress(&mut self, bytes_read: u64, total: Option<u64>) {
        self.push(Item::Progress(bytes_read, total));
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn needs_headers(&self) -> bool {
        self.needs_headers
    }

    fn preparer(&self) -> Option<Arc<dyn Prepare>> {
        self.preparer.clone()
    }
}

/// Hand one batch to the caller's sink.
fn apply(sink: &mut dyn Sink, batch: Vec<Item>) {
    for item in batch {
        match item {
            Item::Exchange(ex, prepared) => sink.take(ex, prepared),
            Item::Diagnostic(d) => sink.diagnostic(&d),
            Item::Progress(bytes, total) => sink.progress(bytes, total),
        }
    }
}

/// [`read_path`] with the reader on a thread of its own and `sink` on the calling thread
/// (see the module note). With one thread set ([`super::threads`]) it is [`read_path`].
///
/// # Errors
/// Those of [`read_path`]; also [`IngestError::Io`] when the reading thread cannot start.
pub fn read_path_relayed(path: &Path, opts: &ReadOptions, sink: &mut dyn Sink) -> Result<ReadSummary, IngestError> {
    if super::threads() <= 1 {
        return read_path(path, opts, sink);
    }
    let (tx, rx) = bounded::<Vec<Item>>(IN_FLIGHT);
    let stop = Arc::new(AtomicBool::new(false));
    let mut relay = Relay {
        tx,
        batch: Vec::with_capacity(BATCH),
        stop: Arc::clone(&stop),
        preparer: sink.preparer(),
        needs_headers: sink.needs_headers(),
    };
    // The reading thread takes the same share of parsing threads as this one would.
    let share = super::threads();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("apiscope-read".into())
            .spawn_scoped(scope, move || {
                super::capture::shard::with_threads(share, || {
                    let r = read_path(path, opts, &mut relay);
                    relay.flush();
                    r
                })
            })
            .map_err(|e| IngestError::Io { path: path.to_path_buf(), source: e })?;
        for batch in &rx {
            apply(sink, batch);
            if sink.should_stop() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        // Unblock a reader waiting on a full channel, then collect its answer.
        drop(rx);
        reader.join().unwrap_or_else(|_| {
            Err(IngestError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("the reading thread failed"),
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Collect;
    use crate::ingest::capture::shard::with_threads;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
    }

    /// Everything a sink saw, one line per call, in order.
    #[derive(Default)]
    struct Log(Vec<String>, usize);

    impl Sink for Log {
        fn exchange(&mut self, ex: &Exchange) {
            self.0.push(serde_json::to_string(ex).unwrap_or_default());
        }
        fn diagnostic(&mut self, d: &Diagnostic) {
            self.0.push(format!("diag {} {}", d.code, d.message));
        }
        fn progress(&mut self, _bytes: u64, _total: Option<u64>) {
            self.1 += 1;
        }
    }

    #[test]
    fn a_relayed_read_gives_the_sink_what_a_direct_read_gives_in_the_same_order() {
        for name in ["demo.pcap.gz", "capture-mixed.pcapng", "tui-small.har"] {
            let path = fixture(name);
            let opts = ReadOptions::default();
            let mut direct = Log::default();
            let a = read_path(&path, &opts, &mut direct).unwrap();
            let mut relayed = Log::default();
            let b = with_threads(2, || read_path_relayed(&path, &opts, &mut relayed)).unwrap();
            assert!(!direct.0.is_empty(), "{name}");
            assert_eq!(direct.0, relayed.0, "{name}");
            assert_eq!(a.exchanges, b.exchanges, "{name}");
            assert_eq!(a.counters, b.counters, "{name}");
        }
    }

    #[test]
    fn a_relayed_read_stops_when_the_sink_asks() {
        struct StopAfter(usize);
        impl Sink for StopAfter {
            fn exchange(&mut self, _ex: &Exchange) {
                self.0 += 1;
            }
            fn should_stop(&self) -> bool {
                self.0 >= 1
            }
        }
        let path = fixture("demo.pcap.gz");
        let mut all = Collect::default();
        read_path(&path, &ReadOptions::default(), &mut all).unwrap();
        assert!(all.exchanges.len() > BATCH * 2);
        let mut sink = StopAfter(0);
        let r = with_threads(2, || read_path_relayed(&path, &ReadOptions::default(), &mut sink));
        assert!(r.is_ok());
        // The reader stops within the batches already in flight.
        assert!(sink.0 <= BATCH * (IN_FLIGHT + 2), "{}", sink.0);
    }
}
