//! The one integration test binary: a module per area.

mod analysis;
mod capture;
mod cli;
mod export;
mod filter;
mod h2;
mod http;
mod ingest;
mod insight;
#[cfg(feature = "parquet")]
mod parquet;
mod spec;
mod support;
mod tls;
mod tui;
