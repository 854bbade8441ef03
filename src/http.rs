//! HTTP/1.x on reassembled byte streams: message heads (`httparse`), body framing
//! (Content-Length, chunked with trailers, close-delimited; no body for HEAD, 1xx, 204,
//! 304), pipelining, `100-continue`, upgrades and CONNECT, resynchronisation after gaps,
//! and content decoding (gzip, deflate, br, zstd, stacked) under an explicit size cap.
//!
//! HTTP/2 (frames, HPACK, gRPC framing) is in [`h2`]. Messages inside exchanges: WebSocket
//! frames in [`ws`], Server-Sent Events in [`sse`], NDJSON / JSON-seq in [`ndjson`], and the
//! body splitter that picks between the last two in [`feed`].
//!
//! [`h1`] frames one direction of a stream into messages; [`decode`] undoes content
//! codings. Pairing requests with responses and building `model::Exchange`s is the capture
//! adapter's job (`ingest::capture`), which drives one [`h1::Parser`] per direction.

pub mod decode;
pub mod feed;
pub mod h1;
pub mod h2;
pub mod ndjson;
pub mod sse;
pub mod ws;
