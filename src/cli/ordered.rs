//! Records put in key order with bounded memory: `flows` prints its rows in start-time
//! order, but a reader yields exchanges as they complete. Records (a row already rendered
//! for the output format) are gathered in memory up to [`MEMORY`] bytes; past that each
//! full buffer is sorted and appended as a run to one unnamed temporary file, and the
//! runs are merged at the end. Ties keep the order records were pushed in, so the result
//! is exactly that of a stable in-memory sort.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt as _;

/// Record bytes held in memory before a sorted run goes to the temporary file.
pub const MEMORY: usize = 16 << 20;

/// Bytes each run reads ahead while merging.
const READ_AHEAD: usize = 64 << 10;

/// The order of a record: a caller's key, then the order it was pushed in.
type Key = (i64, u64, u64, u64);

/// Records to be handed back in key order.
pub struct Ordered {
    held: Vec<(Key, Vec<u8>)>,
    held_bytes: usize,
    memory: usize,
    pushed: u64,
    spill: Option<Spill>,
}

/// The temporary file and where each sorted run lies in it.
struct Spill {
    file: BufWriter<File>,
    runs: Vec<(u64, u64)>,
    end: u64,
}

impl Default for Ordered {
    fn default() -> Self {
        Self::with_memory(MEMORY)
    }
}

impl Ordered {
    /// Hold at most about `memory` bytes of records before spilling a run.
    #[must_use]
    pub fn with_memory(memory: usize) -> Self {
        Self { held: Vec::new(), held_bytes: 0, memory, pushed: 0, spill: None }
    }

    /// Add a record with its key `(a, b, c)`.
    ///
    /// # Errors
    /// The temporary file cannot be created or written.
    pub fn push(&mut self, key: (i64, u64, u64), record: Vec<u8>) -> io::Result<()> {
        self.held_bytes += record.len() + 48;
        self.held.push(((key.0, key.1, key.2, self.pushed), record));
        self.pushed += 1;
        if self.held_bytes >= self.memory {
            self.spill_run()?;
        }
        Ok(())
    }

    /// Records pushed.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.pushed
    }

    /// True when nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    fn spill_run(&mut self) -> io::Result<()> {
        if self.spill.is_none() {
            self.spill = Some(Spill { file: BufWriter::new(tempfile::tempfile()?), runs: Vec::new(), end: 0 });
        }
        let Some(spill) = self.spill.as_mut() else { return Ok(()) };
        self.held.sort_unstable_by_key(|(k, _)| *k);
        let start = spill.end;
        for (k, rec) in self.held.drain(..) {
            let len = u32::try_from(rec.len()).map_err(|_| io::Error::other("a record over 4 GiB"))?;
            spill.file.write_all(&k.0.to_le_bytes())?;
            spill.file.write_all(&k.1.to_le_bytes())?;
            spill.file.write_all(&k.2.to_le_bytes())?;
            spill.file.write_all(&k.3.to_le_bytes())?;
            spill.file.write_all(&len.to_le_bytes())?;
            spill.file.write_all(&rec)?;
            spill.end += 36 + u64::from(len);
        }
        spill.runs.push((start, spill.end));
        self.held_bytes = 0;
        Ok(())
    }

    /// Hand every record to `f` in key order.
    ///
    /// # Errors
    /// Reading the temporary file back, or an error from `f`.
    pub fn drain(mut self, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let Some(mut spill) = self.spill.take() else {
            self.held.sort_unstable_by_key(|(k, _)| *k);
            return self.held.iter().try_for_each(|(_, r)| f(r));
        };
        if !self.held.is_empty() {
            self.spill = Some(spill);
            self.spill_run()?;
            spill = self.spill.take().ok_or_else(|| io::Error::other("spill lost"))?;
        }
        spill.file.flush()?;
        let file = spill.file.into_inner().map_err(io::IntoInnerError::into_error)?;
        let mut runs: Vec<Run<'_>> = spill.runs.iter().map(|&(at, end)| Run::new(&file, at, end)).collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            if let Some(k) = r.next_key()? {
                heap.push(Reverse((k, i)));
            }
        }
        let mut rec = Vec::new();
        while let Some(Reverse((_, i))) = heap.pop() {
            let Some(r) = runs.get_mut(i) else { continue };
            r.take_record(&mut rec)?;
            f(&rec)?;
            if let Some(k) = r.next_key()? {
                heap.push(Reverse((k, i)));
            }
        }
        Ok(())
    }
}

/// One sorted run being read back, with its own read-ahead buffer.
struct Run<'f> {
    file: &'f File,
    at: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
    /// Length of the record whose key was read last.
    pending: usize,
}

impl<'f> Run<'f> {
    fn new(file: &'f File, at: u64, end: u64) -> Self {
        Self { file, at, end, buf: Vec::new(), pos: 0, pending: 0 }
    }

    /// Make at least `n` unread bytes available (fewer only at the run's end).
    fn fill(&mut self, n: usize) -> io::Result<()> {
        let have = self.buf.len() - self.pos;
        if have >= n || self.at >= self.end {
            return Ok(());
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = usize::try_from(self.end - self.at).unwrap_or(usize::MAX).min((n - have).max(READ_AHEAD));
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        self.file.read_exact_at(&mut self.buf[old..], self.at)?;
        self.at += want as u64;
        Ok(())
    }

    /// The next record's key, or `None` at the run's end.
    fn next_key(&mut self) -> io::Result<Option<Key>> {
        self.fill(36)?;
        let Some(head) = self.buf.get(self.pos..self.pos + 36) else { return Ok(None) };
        let word = |i: usize| -> [u8; 8] { head[i * 8..i * 8 + 8].try_into().unwrap_or_default() };
        let key = (
            i64::from_le_bytes(word(0)),
            u64::from_le_bytes(word(1)),
            u64::from_le_bytes(word(2)),
            u64::from_le_bytes(word(3)),
        );
        let len: [u8; 4] = head[32..36].try_into().unwrap_or_default();
        self.pending = u32::from_le_bytes(len) as usize;
        self.pos += 36;
        Ok(Some(key))
    }

    /// The record whose key was read last, into `out`.
    fn take_record(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.fill(self.pending)?;
        let rec = self
            .buf
            .get(self.pos..self.pos + self.pending)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "temporary file cut short"))?;
        out.clear();
        out.extend_from_slice(rec);
        self.pos += self.pending;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(o: Ordered) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        o.drain(|r| {
            got.push(r.to_vec());
            Ok(())
        })
        .unwrap();
        got
    }

    /// Keys with many ties and records of varied sizes, some larger than the read-ahead.
    fn records() -> Vec<((i64, u64, u64), Vec<u8>)> {
        (0..3000u64)
            .map(|i| {
                let key = ((i.wrapping_mul(7919) % 97) as i64 - 40, i % 3, (i * 31) % 11);
                let len = if i % 500 == 7 { 100_000 } else { (i % 37) as usize };
                (key, format!("{i:05}").into_bytes().into_iter().chain(std::iter::repeat_n(b'x', len)).collect())
            })
            .collect()
    }

    #[test]
    fn spilled_runs_merge_to_exactly_a_stable_sort() {
        let input = records();
        let mut want = input.clone();
        want.sort_by_key(|(k, _)| *k);
        let want: Vec<Vec<u8>> = want.into_iter().map(|(_, r)| r).collect();
        for memory in [usize::MAX, 1, 4096, 200_000] {
            let mut o = Ordered::with_memory(memory);
            for (k, r) in &input {
                o.push(*k, r.clone()).unwrap();
            }
            assert_eq!(o.len(), 3000);
            let spilled = o.spill.as_ref().map_or(0, |s| s.runs.len());
            assert_eq!(spilled > 0, memory != usize::MAX, "memory {memory}: {spilled} runs");
            assert_eq!(drained(o), want, "memory {memory}");
        }
    }

    #[test]
    fn nothing_pushed_drains_nothing() {
        assert!(drained(Ordered::with_memory(1)).is_empty());
        assert!(Ordered::default().is_empty());
    }
}
