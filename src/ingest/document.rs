//! A whole input document in memory — a read-only file mapping or owned bytes — as the
//! session readers get it, with a way to give back the pages of a mapping already read.

use std::fs::File;
use std::io;

use memmap2::Mmap;

/// A whole document in memory (mapped or owned) handed to a reader, with a way to tell a
/// memory mapping that the bytes before some point are no longer needed, so reading a big
/// file keeps the resident set small.
pub struct Document<'a> {
    /// The document's bytes (after any BOM).
    pub data: &'a [u8],
    map: Option<&'a Mmap>,
}

impl<'a> Document<'a> {
    /// A document held in memory.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, map: None }
    }

    pub(crate) fn mapped(data: &'a [u8], map: &'a Mmap) -> Self {
        Self { data, map: Some(map) }
    }

    /// Tell the kernel the mapped pages before `offset` (into `data`) will not be read
    /// again. A no-op for owned documents. Readers call it only for bytes they have copied
    /// everything they need out of; a later access would still see the right bytes.
    pub fn release_before(&self, offset: usize) {
        let Some(map) = self.map else { return };
        let base = (self.data.as_ptr() as usize).wrapping_sub(map.as_ptr() as usize);
        let end = base.saturating_add(offset).min(map.len());
        let page = 1usize << 16;
        let len = end / page * page;
        if len > 0 {
            release_pages(map, len);
        }
    }
}

/// Drop the resident pages of the first `len` bytes of a read-only file mapping.
#[cfg(unix)]
#[allow(unsafe_code)]
fn release_pages(map: &Mmap, len: usize) {
    // SAFETY: the mapping is a private, read-only view of a file that apiscope never
    // writes through. MADV_DONTNEED on such a mapping only drops the resident copies of
    // the pages; any later access faults them in again from the file, unchanged, so
    // slices borrowed from the mapping keep reading the same bytes.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
}

#[cfg(not(unix))]
fn release_pages(_map: &Mmap, _len: usize) {}

/// Map a file read-only.
#[allow(unsafe_code)]
pub(crate) fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: the file is opened read-only and only read through the mapping. If another
    // process truncates it while apiscope reads, the OS may signal a bus error, the
    // accepted limit of every mmap-based reader (ripgrep, pcap tools); a changed file only
    // yields changed bytes, which the readers treat as untrusted input anyway.
    unsafe { Mmap::map(file) }
}
