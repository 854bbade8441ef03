//! apiscope: read recorded API traffic (pcap/pcapng, HAR, Charles, mitmproxy), rebuild every
//! HTTP exchange, and show how clients really use the API compared with its OpenAPI spec.
//!
//! Module map (layers point one way, down this list; see ARCHITECTURE.md):
//!
//! | module | owns |
//! |---|---|
//! | [`model`] | `Exchange` and friends: plain data, no IO; client identity; safe text |
//! | [`capture`] | pcap/pcapng, link layers, IP/TCP, TCP reassembly → ordered streams |
//! | [`tls`] | TLS key logs; decryption of captured TLS 1.2 / 1.3 into plaintext streams |
//! | [`live`] | live capture from an interface (libpcap, `live` feature) as a pcapng stream |
//! | [`http`] | HTTP/1.x framing on streams, HTTP/2 frames, HPACK and gRPC framing, content decoding |
//! | [`ingest`] | format detection, HAR / Charles / mitmproxy readers, capture adapter, `Sink` |
//! | [`spec`] | OpenAPI loading, routing, contract checking, template inference |
//! | [`analysis`] | KPIs per endpoint and client, abusive patterns, journeys, retention |
//! | [`filter`] | the filter language (mitmproxy's plus comparisons) |
//! | [`store`] | the TUI's flow index |
//! | [`export`] | curl, HTTPie, raw, HAR, Postman, reports |
//! | [`replay`] | sending recorded requests again to a target and comparing the answers (the only user of the HTTP client) |
//! | [`tui`] | the terminal UI (the only user of ratatui/crossterm) |
//! | [`cli`] | command-line parsing and commands (the only user of clap) |

pub mod analysis;
pub mod capture;
pub mod cli;
pub mod export;
pub mod filter;
pub mod http;
pub mod ingest;
pub mod live;
pub mod model;
pub mod replay;
pub mod spec;
pub mod store;
pub mod tls;
pub mod tui;
