//! Any bytes as an input file: format detection, pcap/pcapng framing, link layers, IP, TCP
//! reassembly, HTTP/1.x, HTTP/2 (h2c), TLS pass-through without keys, and the HAR, Charles and
//! mitmproxy readers. Whatever the bytes, reading returns (an error or a summary) and never
//! panics or hangs.
#![no_main]

use apiscope::ingest::{Collect, ReadOptions, read_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sink = Collect::default();
    let _ = read_bytes(data, std::path::Path::new("fuzz-input"), &ReadOptions::default(), &mut sink);
});
