//! The JSON scanning room of the session readers: lenient value types ([`lenient`]), the
//! element walks over one array of a big document ([`walk`]), the structural scanner that
//! finds elements without parsing them ([`structural`]) and string unescaping for readers
//! that parse JSON by hand ([`escape`]). Nothing here knows HAR or Charles fields; the
//! readers name only the [`Route`] to their array.

pub(crate) mod escape;
pub(crate) mod lenient;
pub(crate) mod structural;
pub(crate) mod walk;

/// Where the array of items sits in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `{"log": {"entries": [ … ]}}` (HAR).
    HarEntries,
    /// The document is the array (Charles `.chlsj`).
    TopArray,
}
