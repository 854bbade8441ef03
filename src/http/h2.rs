//! HTTP/2 on reassembled byte streams, read passively from both directions of a
//! connection: [`frame`] cuts each direction into frames (any TCP segmentation), [`hpack`]
//! decodes header blocks with one decoder per direction, [`grpc`] reads gRPC message framing
//! and status. Turning streams into `model::Exchange`s (one per stream, pushes included) is
//! the capture adapter's job (`ingest::capture`), like pairing HTTP/1.x messages.
//!
//! Detection is by content on any port: the client connection preface in either direction,
//! a server's SETTINGS frame as the first bytes of a connection, an `Upgrade: h2c` request
//! answered by `101`, or ALPN `h2` from a decrypted TLS handshake.

pub mod frame;
pub mod grpc;
pub mod hpack;
