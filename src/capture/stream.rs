//! The contract between TCP reassembly and the protocol parsers above it: a connection's
//! bytes arrive in order, per direction, each chunk with the capture timestamp and packet
//! number of the segment that carried it; missing bytes arrive as explicit gaps; the end of
//! the connection (FIN, RST, idle timeout, reuse by a new SYN, end of capture) is announced.

use std::net::SocketAddr;

use std::sync::Arc;

use crate::model::{Diagnostic, Nanos, TlsInfo};

/// Which way bytes travel on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the side that opened the connection (sent the SYN) or, without a SYN, the side
    /// guessed to be the client.
    ToServer,
    /// The other way.
    ToClient,
}

impl Dir {
    /// The opposite direction.
    #[must_use]
    pub fn flip(self) -> Self {
        match self {
            Self::ToServer => Self::ToClient,
            Self::ToClient => Self::ToServer,
        }
    }
}

/// One TCP connection as the reassembler knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Connection number in the capture (0-based, in order of first packet).
    pub id: u64,
    /// The client side (SYN sender; without a SYN, a guess the parser may overrule).
    pub client: SocketAddr,
    /// The server side.
    pub server: SocketAddr,
    /// True when the three-way handshake was seen (the roles are then certain).
    pub syn_seen: bool,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// Both sides sent FIN (or one did and the capture saw no more data).
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for longer than the idle timeout.
    Idle,
    /// A new SYN reused the 4-tuple.
    Reused,
    /// The capture ended with the connection still open.
    EndOfCapture,
    /// The per-stream memory cap was hit and the connection was given up.
    MemoryCap,
    /// The connection table was full and this connection, among those idle the longest,
    /// was closed early.
    Evicted,
}

/// Receives reassembled streams. Implemented by the HTTP layer's adapter in `ingest`.
pub trait StreamHandler {
    /// A connection was seen for the first time.
    fn on_open(&mut self, conn: &ConnInfo, ts: Nanos);
    /// In-order bytes for one direction. `packet` is the 1-based number of the packet that
    /// carried (the first of) these bytes; `ts` its capture timestamp.
    fn on_data(&mut self, conn: &ConnInfo, dir: Dir, data: &[u8], ts: Nanos, packet: u64);
    /// `len` bytes are missing at this point of the stream (lost, never captured, cut by
    /// snaplen, or the capture started mid-stream when `len` is unknown and given as 0).
    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, len: u64, ts: Nanos);
    /// Bytes already delivered in `dir` were seen again (a retransmission the tap had seen
    /// the first copy of, or a second copy of bytes that were waiting behind a hole): `len`
    /// bytes starting `behind` bytes before the end of what `dir` has delivered so far
    /// (data plus gaps), carried by packet `packet` captured at `ts`. Called after those
    /// bytes were delivered and before any newer bytes of `dir`. TCP keep-alive probes (one
    /// byte just below the next sequence number) are not reported.
    fn on_retransmission(&mut self, _conn: &ConnInfo, _dir: Dir, _behind: u64, _len: u64, _ts: Nanos, _packet: u64) {}
    /// The connection's bytes are the plaintext of a decrypted TLS session described by
    /// `tls` (called by a decrypting layer before the first plaintext `on_data`; an ALPN of
    /// `h2` means the plaintext is HTTP/2).
    fn on_tls(&mut self, _conn: &ConnInfo, _tls: &Arc<TlsInfo>) {}
    /// The connection ended; no more calls for this `conn.id` follow.
    fn on_close(&mut self, conn: &ConnInfo, how: CloseKind, ts: Nanos);
    /// A problem not tied to one connection's bytes (bad packet, unknown link type, …).
    fn on_diagnostic(&mut self, d: Diagnostic);
    /// Progress through the input file.
    fn on_progress(&mut self, _bytes_read: u64, _total: Option<u64>) {}
    /// A pcapng Decryption Secrets Block (e.g. a TLS key log), kept for TLS decryption.
    fn on_secrets(&mut self, _secrets_type: u32, _data: &[u8]) {}
    /// Return `true` to stop reading early.
    fn should_stop(&self) -> bool {
        false
    }
}
