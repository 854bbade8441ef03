//! A whole input document in memory — a guarded read-only file mapping or owned bytes — as
//! the session readers get it, with a way to give back the pages of a mapping already read.

use super::mapped::MappedFile;

/// A whole document in memory (mapped or owned) handed to a reader, with a way to tell a
/// memory mapping that the bytes before some point are no longer needed, so reading a big
/// file keeps the resident set small.
pub struct Document<'a> {
    /// The document's bytes (after any BOM).
    pub data: &'a [u8],
    map: Option<&'a MappedFile>,
}

impl<'a> Document<'a> {
    /// A document held in memory.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, map: None }
    }

    pub(crate) fn mapped(data: &'a [u8], map: &'a MappedFile) -> Self {
        Self { data, map: Some(map) }
    }

    /// Tell the kernel the mapped pages before `offset` (into `data`) will not be read
    /// again. A no-op for owned documents. Readers call it only for bytes they have copied
    /// everything they need out of; a later access would still see the right bytes.
    pub fn release_before(&self, offset: usize) {
        let Some(map) = self.map else { return };
        let base = (self.data.as_ptr() as usize).wrapping_sub(map.bytes().as_ptr() as usize);
        let end = base.saturating_add(offset);
        let step = 1usize << 16;
        map.release(0, end / step * step);
    }
}
