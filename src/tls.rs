//! TLS decryption for captures: key logs (NSS `SSLKEYLOGFILE` format, from files, pcapng
//! Decryption Secrets Blocks or a section comment), the record layer and handshake of TLS
//! 1.2 and 1.3, and [`TlsLayer`], a [`crate::capture::stream::StreamHandler`] that turns
//! decryptable TLS connections into their plaintext for the protocol parsers above.
//!
//! | module | owns |
//! |---|---|
//! | [`keylog`] | key log parsing, secrets by client random |
//! | [`handshake`] | ClientHello / ServerHello / EncryptedExtensions fields |
//! | [`crypto`] | PRF, HKDF-Expand-Label, suites, record opening |
//! | [`layer`] | per-connection TLS state, outcomes, plaintext delivery |
//! | [`tunnel`] | where a plaintext `CONNECT` tunnel begins (TLS inside it) |

pub mod crypto;
pub mod handshake;
pub mod keylog;
pub mod layer;
pub mod tunnel;

pub use keylog::{KeyLog, KeyLogError};
pub use layer::{Outcome, SECRETS_TLS, TlsCounts, TlsLayer};

use std::sync::{Arc, OnceLock};

static GLOBAL: OnceLock<Arc<KeyLog>> = OnceLock::new();

/// Install the key logs given on the command line (`--keylog`, `SSLKEYLOGFILE`) for every
/// capture read by this process; only the first call has an effect (returns false after).
pub fn set_global_keys(keys: KeyLog) -> bool {
    GLOBAL.set(Arc::new(keys)).is_ok()
}

/// The key logs installed by [`set_global_keys`] (empty when none were).
#[must_use]
pub fn global_keys() -> Arc<KeyLog> {
    GLOBAL.get().cloned().unwrap_or_default()
}
