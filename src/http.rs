//! HTTP/1.x on reassembled byte streams: message heads (`httparse`), body framing
//! (Content-Length, chunked with trailers, close-delimited; no body for HEAD, 1xx, 204,
//! 304), pipelining, `100-continue`, upgrades and CONNECT, resynchronisation after gaps,
//! and content decoding (gzip, deflate, br, zstd, stacked) under an explicit size cap.
//!
//! HTTP/2 (frames, HPACK, gRPC framing) is in [`h2`].
//!
//! [`h1`] frames one direction of a stream into messages; [`decode`] undoes content
//! codings. Pairing requests with responses and building `model::Exchange`s is the capture
//! adapter's job (`ingest::capture`), which drives one [`h1::Parser`] per direction.

pub mod decode;
pub mod h1;
pub mod h2;
