//! HTTP/1.x on reassembled byte streams: message heads (`httparse`), body framing
//! (Content-Length, chunked with trailers, close-delimited; no body for HEAD, 1xx, 204,
//! 304), pipelining, `100-continue`, upgrades and CONNECT, resynchronisation after gaps,
//! and content decoding (gzip, deflate, br, zstd, stacked) under an explicit size cap.
