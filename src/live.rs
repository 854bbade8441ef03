//! Live capture from a network interface. The capture itself needs libpcap and is built
//! only with the `live` cargo feature ([`open`]); everything around it is always built: the
//! packets become a pcapng byte stream ([`pcapng`]) that the file readers read like any
//! capture ([`LiveCapture::reader`] → `ingest::read_reader`), so live traffic goes through
//! the very same reassembly, TLS and HTTP pipeline; `--write` saves that stream as it goes,
//! and new lines of a growing TLS key log become decryption-secrets blocks in it.

#[cfg(feature = "live")]
mod device;
pub mod pcapng;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Receiver;

/// What to capture, and until when.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// The interface (`lo`, `eth0`, `any`).
    pub interface: String,
    /// A capture filter in BPF syntax (`tcp port 8080`).
    pub bpf: Option<String>,
    /// TLS key logs to follow: their lines (and lines added while capturing) go into the
    /// stream as decryption-secrets blocks.
    pub keylogs: Vec<PathBuf>,
    /// Save the raw packets (and key log lines) here as pcapng.
    pub write: Option<PathBuf>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many packets.
    pub count: Option<u64>,
}

/// Why a live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No capture rights.
    #[error(
        "capturing on {iface} needs root or CAP_NET_RAW: sudo setcap cap_net_raw,cap_net_admin=eip $(which apiscope) \
         ({detail})"
    )]
    Permission {
        /// The interface.
        iface: String,
        /// What libpcap said.
        detail: String,
    },
    /// No such interface.
    #[error("no network interface named {name:?}; the interfaces are: {known} (see --list-interfaces)")]
    UnknownInterface {
        /// The name given.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The BPF expression does not compile.
    #[error(
        "the capture filter {expr:?} is not valid BPF ({why}); examples: 'tcp port 8080', 'host 10.0.0.5 and tcp', \
         see `man pcap-filter`"
    )]
    BadFilter {
        /// The expression.
        expr: String,
        /// What libpcap said.
        why: String,
    },
    /// Any other libpcap failure.
    #[error("cannot capture on {iface}: {why}")]
    Capture {
        /// The interface.
        iface: String,
        /// What libpcap said.
        why: String,
    },
    /// The `--write` file cannot be created.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key log to follow cannot be read.
    #[error("{}: {source}", path.display())]
    KeyLog {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// This build has no live capture.
    #[error(
        "this apiscope was built without live capture; build it with the `live` feature \
         (`apt install libpcap-dev`, then `cargo install --features live ...`)"
    )]
    NotBuilt,
}

/// Counters of a running capture, shared with whoever shows them (the TUI status bar, the
/// summary). Updated about twice a second.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Packets handed on to the readers.
    pub packets: AtomicU64,
    /// Packets the kernel saw (libpcap's `ps_recv`).
    pub received: AtomicU64,
    /// Packets dropped because apiscope did not read them fast enough (`ps_drop`).
    pub dropped: AtomicU64,
    /// Packets dropped by the interface or its driver (`ps_ifdrop`).
    pub if_dropped: AtomicU64,
    /// The capture has ended.
    pub ended: AtomicBool,
}

impl LiveStats {
    /// `(packets, received, dropped, if_dropped)` now.
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.if_dropped.load(Ordering::Relaxed),
        )
    }

    /// Reader counters for a summary (`live_packets`, `kernel_dropped`, …).
    #[must_use]
    pub fn counters(&self) -> Vec<(String, u64)> {
        let (p, r, d, i) = self.snapshot();
        vec![
            ("live_packets".into(), p),
            ("live_received_by_kernel".into(), r),
            ("live_dropped_by_kernel".into(), d),
            ("live_dropped_by_interface".into(), i),
        ]
    }

    /// One line for a status bar or stderr: `1,204 packets, 0 dropped`.
    #[must_use]
    pub fn line(&self) -> String {
        let (p, _, d, i) = self.snapshot();
        if i > 0 {
            format!("{p} packets, {d} dropped, {i} dropped by the interface")
        } else {
            format!("{p} packets, {d} dropped")
        }
    }
}

/// A running capture: its pcapng stream, its counters and its stop switch.
#[derive(Debug)]
pub struct LiveCapture {
    /// The name shown for this input (`live:lo`).
    pub name: PathBuf,
    /// The capture's packets as a pcapng stream; it ends when the capture stops.
    pub reader: StreamReader,
    /// Counters.
    pub stats: Arc<LiveStats>,
    /// Set to stop the capture (Ctrl-C, quitting the TUI); the stream then ends.
    pub stop: Arc<AtomicBool>,
    /// Set by the capture thread when it failed after starting (its stream ends early).
    pub failure: Arc<std::sync::Mutex<Option<String>>>,
}

/// The interfaces libpcap can capture on, as `(name, description)`.
///
/// # Errors
/// [`LiveError::NotBuilt`] without the `live` feature; libpcap failing to list them.
pub fn list_interfaces() -> Result<Vec<(String, String)>, LiveError> {
    #[cfg(feature = "live")]
    return device::list();
    #[cfg(not(feature = "live"))]
    Err(LiveError::NotBuilt)
}

/// Start capturing: open the interface, apply the filter, and run the capture on a thread
/// named `apiscope-live`.
///
/// # Errors
/// See [`LiveError`]: no rights, unknown interface, bad filter, `--write` file not creatable,
/// no live capture in this build.
pub fn open(opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
    #[cfg(feature = "live")]
    return device::start(opts);
    #[cfg(not(feature = "live"))]
    {
        let _ = opts;
        Err(LiveError::NotBuilt)
    }
}

/// A reader over byte chunks sent by another thread: reads block until the next chunk
/// arrives and end when the sender is gone.
#[derive(Debug)]
pub struct StreamReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl StreamReader {
    /// Read the chunks arriving on `rx`.
    #[must_use]
    pub fn new(rx: Receiver<Vec<u8>>) -> Self {
        Self { rx, cur: Vec::new(), pos: 0 }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.cur.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf.get_mut(..n).unwrap_or_default().copy_from_slice(rest.get(..n).unwrap_or_default());
        self.pos += n;
        Ok(n)
    }
}

/// Follows a TLS key log while it grows: each call returns the complete lines added since
/// the last one.
#[derive(Debug)]
pub struct KeyLogTail {
    path: PathBuf,
    offset: u64,
}

impl KeyLogTail {
    /// Follow `path` from its start (a file not there yet is read once it appears).
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), offset: 0 }
    }

    /// The complete lines appended since the last call (empty when none); a file that
    /// shrank (rewritten) is read again from its start.
    pub fn poll(&mut self) -> Vec<u8> {
        use std::io::{Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else { return Vec::new() };
        let len = f.metadata().map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0;
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut new = Vec::new();
        if f.take(len - self.offset).read_to_end(&mut new).is_err() {
            return Vec::new();
        }
        // Only whole lines: a line being written is taken next time.
        let whole = new.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        new.truncate(whole);
        self.offset += whole as u64;
        new
    }
}

/// Parse a duration: `30` (seconds), `500ms`, `30s`, `5m`, `2h`.
///
/// # Errors
/// Not a number with one of those units.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration (examples: 30s, 5m, 1h, 500ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?}: a duration must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn stream_reader_reads_chunks_in_order_and_ends_with_the_sender() {
        let (tx, rx) = crossbeam_channel::bounded(4);
        tx.send(b"abc".to_vec()).unwrap();
        tx.send(Vec::new()).unwrap();
        tx.send(b"defg".to_vec()).unwrap();
        drop(tx);
        let mut all = Vec::new();
        StreamReader::new(rx).read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abcdefg");
    }

    #[test]
    fn key_log_tail_returns_only_new_whole_lines() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys");
        let mut t = KeyLogTail::new(&p);
        assert!(t.poll().is_empty(), "missing file");
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(b"CLIENT_RANDOM a b\nCLIENT_RANDOM c").unwrap();
        assert_eq!(t.poll(), b"CLIENT_RANDOM a b\n");
        f.write_all(b" d\n").unwrap();
        assert_eq!(t.poll(), b"CLIENT_RANDOM c d\n");
        assert!(t.poll().is_empty());
    }
}
