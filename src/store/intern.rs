//! String interning for the flow index: hosts, paths, methods, clients and content types
//! repeat across many rows, so each distinct text is stored once and rows hold a 4-byte
//! [`Sym`]. The table hashes with foldhash (randomly seeded, so captured paths cannot be
//! crafted to collide; several times faster than the standard SipHash on short strings).

use std::collections::HashMap;
use std::sync::Arc;

/// A handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sym(u32);

impl Sym {
    /// The position of this symbol in the table.
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The string table. Symbol 0 is always the empty string.
#[derive(Debug)]
pub struct Interner {
    strings: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    bytes: usize,
}

impl Default for Interner {
    fn default() -> Self {
        let empty: Arc<str> = Arc::from("");
        let mut index = HashMap::default();
        index.insert(Arc::clone(&empty), 0);
        Self { strings: vec![empty], index, bytes: 0 }
    }
}

impl Interner {
    /// The symbol for `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(i) = self.index.get(s) {
            return Sym(*i);
        }
        let Ok(i) = u32::try_from(self.strings.len()) else { return Sym(0) };
        let a: Arc<str> = Arc::from(s);
        self.bytes += s.len();
        self.strings.push(Arc::clone(&a));
        self.index.insert(a, i);
        Sym(i)
    }

    /// The text of a symbol ("" for an unknown one).
    #[must_use]
    pub fn get(&self, s: Sym) -> &str {
        self.strings.get(s.index()).map_or("", |a| a)
    }

    /// Every string, by symbol index (shared, for a worker thread).
    #[must_use]
    pub fn snapshot(&self) -> Vec<Arc<str>> {
        self.strings.clone()
    }

    /// Number of distinct strings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// True when only the empty string is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.strings.len() <= 1
    }

    /// For each symbol, its rank in byte-wise string order (so sorting by a string column is
    /// a sort by integers).
    #[must_use]
    pub fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..u32::try_from(self.strings.len()).unwrap_or(u32::MAX)).collect();
        order.sort_unstable_by(|a, b| self.get(Sym(*a)).cmp(self.get(Sym(*b))));
        let mut ranks = vec![0u32; order.len()];
        for (rank, sym) in order.iter().enumerate() {
            if let Some(r) = ranks.get_mut(*sym as usize) {
                *r = u32::try_from(rank).unwrap_or(u32::MAX);
            }
        }
        ranks
    }

    /// Approximate heap bytes (text, Arc headers, table and map entries).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.bytes
            + self.strings.len() * 16
            + self.strings.capacity() * std::mem::size_of::<Arc<str>>()
            + self.index.capacity() * (std::mem::size_of::<Arc<str>>() + 4 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_symbol_and_ranks_follow_text_order() {
        let mut i = Interner::default();
        let b = i.intern("b");
        let a = i.intern("a");
        assert_eq!(i.intern("b"), b);
        assert_eq!(i.get(a), "a");
        let r = i.ranks();
        assert!(r[a.index()] < r[b.index()]);
        assert_eq!(r[0], 0, "empty string sorts first");
    }
}
