//! Packet captures: pcap/pcapng framing, link layers, IPv4/IPv6 (with fragment reassembly)
//! and TCP, down to per-connection, per-direction ordered byte streams with explicit gaps
//! (`tcp` reassembly). What the streams carry is not this module's business: it pushes them
//! into a [`stream::StreamHandler`] (the `http` parsers, via `ingest`).

pub mod stream;

/// A capture's bytes: memory-mapped (files), or a stream (stdin, decompressed `.pcap.gz`).
pub enum Input {
    /// A memory-mapped file.
    Mapped(memmap2::Mmap),
    /// Bytes already in memory (tests, small inputs).
    Bytes(Vec<u8>),
    /// A stream read front to back, never held whole in memory.
    Reader(Box<dyn std::io::Read + Send>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mapped(m) => write!(f, "Input::Mapped({} bytes)", m.len()),
            Self::Bytes(b) => write!(f, "Input::Bytes({} bytes)", b.len()),
            Self::Reader(_) => f.write_str("Input::Reader"),
        }
    }
}
