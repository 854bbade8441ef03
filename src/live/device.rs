//! The libpcap side of a live capture (the `live` feature): listing interfaces, opening one
//! with a BPF filter (failures sorted into permission, unknown interface, bad filter), and
//! the capture thread that turns packets into pcapng chunks for the readers and the
//! `--write` file, follows the key logs, and keeps the kernel's drop counters.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{KeyLogTail, LiveCapture, LiveError, LiveOptions, LiveStats, StreamReader, pcapng};

/// Bytes captured per packet (the whole packet on any usual link).
const SNAPLEN: i32 = 262_144;
/// libpcap's read timeout (ms); reads are non-blocking, see [`IDLE`].
const READ_TIMEOUT_MS: i32 = 100;
/// Pending bytes sent to the readers at once at most; smaller chunks go out after [`FLUSH`].
const CHUNK: usize = 256 << 10;
const FLUSH: Duration = Duration::from_millis(20);
const STATS_EVERY: Duration = Duration::from_millis(500);
/// Pause when no packet is waiting (the kernel buffers packets meanwhile).
const IDLE: Duration = Duration::from_millis(5);
/// The kernel's capture buffer. In immediate mode libpcap gives each packet a frame sized
/// for the link's largest packet (64 KiB on loopback), so its 2 MiB default holds about 30
/// packets: one burst during an [`IDLE`] pause and the kernel drops the rest.
const KERNEL_BUFFER: i32 = 32 << 20;

/// The interfaces there are, as `(name, description)`.
pub(super) fn list() -> Result<Vec<(String, String)>, LiveError> {
    let devs = pcap::Device::list()
        .map_err(|e| LiveError::Capture { iface: "any".into(), why: format!("listing interfaces: {e}") })?;
    Ok(devs.into_iter().map(|d| (d.name, d.desc.unwrap_or_default())).collect())
}

fn classify(iface: &str, e: &pcap::Error) -> LiveError {
    let why = e.to_string();
    let lower = why.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        return LiveError::Permission { iface: iface.into(), detail: why };
    }
    if lower.contains("no such device") {
        return unknown(iface);
    }
    LiveError::Capture { iface: iface.into(), why }
}

fn unknown(iface: &str) -> LiveError {
    let known = list().map(|l| l.into_iter().map(|(n, _)| n).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    LiveError::UnknownInterface { name: iface.into(), known }
}

/// Open the interface and start the capture thread.
pub(super) fn start(opts: &LiveOptions) -> Result<LiveCapture, LiveError> {
    let iface = opts.interface.as_str();
    if let Ok(devs) = list() {
        if !devs.iter().any(|(n, _)| n == iface) {
            return Err(unknown(iface));
        }
    }
    let mut cap = pcap::Capture::from_device(iface)
        .map_err(|e| classify(iface, &e))?
        .promisc(false)
        .snaplen(SNAPLEN)
        .timeout(READ_TIMEOUT_MS)
        .immediate_mode(true)
        .buffer_size(KERNEL_BUFFER)
        .open()
        .map_err(|e| classify(iface, &e))?
        // Non-blocking, so the stop conditions are checked even when no packet comes (a
        // blocked read does not always honour the timeout).
        .setnonblock()
        .map_err(|e| classify(iface, &e))?;
    if let Some(expr) = &opts.bpf {
        cap.filter(expr, true).map_err(|e| LiveError::BadFilter { expr: expr.clone(), why: e.to_string() })?;
    }
    let write = match &opts.write {
        Some(p) => {
            Some(BufWriter::new(File::create(p).map_err(|source| LiveError::Write { path: p.clone(), source })?))
        }
        None => None,
    };
    for k in &opts.keylogs {
        if let Err(source) = std::fs::metadata(k) {
            return Err(LiveError::KeyLog { path: k.clone(), source });
        }
    }
    let (tx, rx) = crossbeam_channel::bounded(1024);
    let stats = Arc::new(LiveStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let failure = Arc::new(Mutex::new(None));
    let mut thread = CaptureThread {
        cap,
        tx,
        write,
        keys: opts.keylogs.iter().map(|p| KeyLogTail::new(p)).collect(),
        stats: Arc::clone(&stats),
        stop: Arc::clone(&stop),
        failure: Arc::clone(&failure),
        until: opts.duration.map(|d| Instant::now() + d),
        count: opts.count,
        pending: Vec::with_capacity(CHUNK + 65_536),
    };
    std::thread::Builder::new().name("apiscope-live".into()).spawn(move || thread.run()).map_err(|e| {
        LiveError::Capture { iface: iface.into(), why: format!("cannot start the capture thread: {e}") }
    })?;
    Ok(LiveCapture { name: format!("live:{iface}").into(), reader: StreamReader::new(rx), stats, stop, failure })
}

struct CaptureThread {
    cap: pcap::Capture<pcap::Active>,
    tx: Sender<Vec<u8>>,
    write: Option<BufWriter<File>>,
    keys: Vec<KeyLogTail>,
    stats: Arc<LiveStats>,
    stop: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
    until: Option<Instant>,
    count: Option<u64>,
    pending: Vec<u8>,
}

impl CaptureThread {
    fn run(&mut self) {
        let link = u16::try_from(self.cap.get_datalink().0).unwrap_or(0);
        pcapng::section_header(&mut self.pending);
        pcapng::interface(&mut self.pending, link, SNAPLEN.unsigned_abs());
        self.follow_keys();
        let mut last_flush = Instant::now();
        let mut last_stats = Instant::now();
        let mut packets = 0u64;
        let mut ok = self.flush();
        while ok && !self.done(packets) {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts;
                    let us = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(ts.tv_usec).unwrap_or(0);
                    pcapng::packet(&mut self.pending, us, p.data, p.header.len);
                    packets += 1;
                    self.stats.packets.store(packets, Ordering::Relaxed);
                }
                Err(pcap::Error::TimeoutExpired) => std::thread::sleep(IDLE),
                Err(e) => {
                    self.fail(format!("the capture stopped: {e}"));
                    break;
                }
            }
            if last_stats.elapsed() >= STATS_EVERY {
                last_stats = Instant::now();
                self.update_stats();
                self.follow_keys();
            }
            if self.pending.len() >= CHUNK || last_flush.elapsed() >= FLUSH {
                last_flush = Instant::now();
                ok = self.flush();
            }
        }
        self.update_stats();
        self.follow_keys();
        let _ = self.flush();
        if let Some(w) = &mut self.write {
            if let Err(e) = w.flush() {
                self.fail(format!("writing the capture file: {e}"));
            }
        }
        self.stats.ended.store(true, Ordering::Relaxed);
    }

    fn done(&self, packets: u64) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.until.is_some_and(|t| Instant::now() >= t)
            || self.count.is_some_and(|n| packets >= n)
    }

    fn fail(&self, why: String) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(why);
        }
    }

    /// New key log lines become a decryption-secrets block ahead of the next packets.
    fn follow_keys(&mut self) {
        for k in &mut self.keys {
            let lines = k.poll();
            if !lines.is_empty() {
                pcapng::tls_keys(&mut self.pending, &lines);
            }
        }
    }

    fn update_stats(&mut self) {
        if let Ok(s) = self.cap.stats() {
            self.stats.received.store(u64::from(s.received), Ordering::Relaxed);
            self.stats.dropped.store(u64::from(s.dropped), Ordering::Relaxed);
            self.stats.if_dropped.store(u64::from(s.if_dropped), Ordering::Relaxed);
        }
    }

    /// Hand the pending bytes to the readers and the `--write` file; false when the
    /// readers are gone (nobody to capture for any more).
    fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK + 65_536));
        if let Some(w) = &mut self.write {
            if let Err(e) = w.write_all(&chunk) {
                self.fail(format!("writing the capture file: {e}"));
                self.write = None;
            }
        }
        self.tx.send(chunk).is_ok()
    }
}
