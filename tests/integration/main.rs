//! The one integration test binary: a module per area.

mod analysis;
mod capture;
mod changing;
mod cli;
mod compare;
mod export;
mod filter;
mod filter_parity;
mod h2;
mod http;
mod ingest;
mod insight;
#[cfg(feature = "live")]
mod live;
#[cfg(feature = "parquet")]
mod parquet;
mod replay;
mod search_index;
mod spec;
mod streams;
mod support;
mod tls;
mod tui;
mod versions;
