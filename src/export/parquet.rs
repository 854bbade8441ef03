//! Exchanges as Parquet files for DuckDB, Spark, Trino and other engines: one row per
//! exchange under a stable Arrow schema, written in row groups as the exchanges stream
//! past, so memory is bounded whatever the input's size.
//!
//! The choices (`--bodies`, `--partition-by`) are always here; the writer (`write`,
//! re-exported here) needs the `parquet` cargo feature, on by default.

use std::fmt;
use std::str::FromStr;

use crate::ingest::ReadOptions;

#[cfg(feature = "parquet")]
mod write;
#[cfg(feature = "parquet")]
pub use write::*;

/// What of the bodies goes into the file (`--bodies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bodies {
    /// Nothing but sizes.
    #[default]
    None,
    /// The xxh3-64 digest of each whole body, as 16 hex digits.
    Hash,
    /// The first N bytes of each decoded body.
    Prefix(usize),
}

impl FromStr for Bodies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "hash" => Ok(Self::Hash),
            _ => match s.strip_prefix("prefix:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Self::Prefix(n)),
                _ => Err(format!("`{s}`: use none, hash or prefix:N (N bytes)")),
            },
        }
    }
}

impl fmt::Display for Bodies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Hash => f.write_str("hash"),
            Self::Prefix(n) => write!(f, "prefix:{n}"),
        }
    }
}

impl Bodies {
    /// How readers should read for this choice: no body bytes kept but for a prefix, sizes
    /// counted as `stats` counts them, the digest of each whole body when hashing.
    #[must_use]
    pub fn read_options(self) -> ReadOptions {
        let body_cap = match self {
            Self::Prefix(n) => n,
            Self::None | Self::Hash => 0,
        };
        ReadOptions { body_cap, keep_bodies: true, note_cap: false, digest_bodies: self == Self::Hash }
    }
}

/// How rows are split into folders (`--partition-by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionBy {
    /// One part per input.
    #[default]
    None,
    /// `hour=YYYY-MM-DDTHH` (UTC, from the start time).
    Hour,
    /// `vhost=HOST` (the `host` column, percent-escaped).
    Host,
}
