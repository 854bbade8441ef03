//! Packet captures: pcap/pcapng framing, link layers, IPv4/IPv6 (with fragment reassembly)
//! and TCP, down to per-connection, per-direction ordered byte streams with explicit gaps
//! (`tcp` reassembly). What the streams carry is not this module's business: it pushes them
//! into a [`stream::StreamHandler`] (the `http` parsers, via `ingest`).

pub mod stream;
