//! Captures read with the key log of the project's loopback HTTPS capture: damaged TLS
//! records, handshakes and ciphertext go through the decrypting layer and the parsers above
//! it. Seed with fixtures/tls/loopback-https.pcap.
#![no_main]

use std::sync::{Arc, OnceLock};

use apiscope::capture::Input;
use apiscope::ingest::capture::read_capture_with_keys;
use apiscope::ingest::{Collect, ReadOptions};
use apiscope::tls::KeyLog;
use libfuzzer_sys::fuzz_target;

fn keys() -> Arc<KeyLog> {
    static KEYS: OnceLock<Arc<KeyLog>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut k = KeyLog::new();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tls/loopback-https.keylog");
        k.add_file(&path).expect("the fixture key log");
        Arc::new(k)
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let mut sink = Collect::default();
    let path = std::path::Path::new("fuzz.pcap");
    let _ = read_capture_with_keys(Input::Bytes(data.to_vec()), path, &ReadOptions::default(), keys(), &mut sink);
});
