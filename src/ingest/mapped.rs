//! Read-only file mappings that survive the file shrinking under them.
//!
//! A mapped page past the end of a file that another process truncated raises `SIGBUS` on
//! access, which would end the process with no output. [`MappedFile`] registers its mapping
//! with a process-wide `SIGBUS` handler (installed once); a fault inside a registered mapping
//! replaces the rest of that mapping with zero pages and lets the read go on, so readers see
//! zero bytes where the file's end used to be — damage they already report, keeping
//! everything before it — and [`MappedFile::shrunk`] tells the caller the file changed. A
//! fault anywhere else goes to the handler that was there before (Rust's own stack guard, or
//! the default action), so nothing else changes.
//!
//! All the `unsafe` of mapping files lives here. Where no guard can be registered (not a
//! Unix system, or [`SLOTS`] mappings already guarded) the file is read into memory instead.

use std::fs::File;
use std::io::{self, Read};

/// Most mappings guarded at once (the CLI and the TUI hold one or two).
pub const SLOTS: usize = 64;

/// A whole file, read-only, as bytes: a guarded mapping, or owned bytes.
pub struct MappedFile {
    backing: Backing,
    file: File,
    len: u64,
}

enum Backing {
    #[cfg(unix)]
    Map {
        map: memmap2::Mmap,
        slot: usize,
    },
    Owned(Vec<u8>),
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.backing {
            #[cfg(unix)]
            Backing::Map { .. } => "mapped",
            Backing::Owned(_) => "owned",
        };
        write!(f, "MappedFile({kind}, {} bytes)", self.len)
    }
}

impl MappedFile {
    /// Map `file` (opened for reading) whole.
    ///
    /// # Errors
    /// The file cannot be mapped or read.
    pub fn open(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        #[cfg(unix)]
        if let Some(slot) = guard::claim() {
            match map_guarded(&file, slot) {
                Ok(map) => return Ok(Self { backing: Backing::Map { map, slot }, file, len }),
                Err(e) => {
                    guard::release(slot);
                    return Err(e);
                }
            }
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        (&file).read_to_end(&mut bytes)?;
        Ok(Self { backing: Backing::Owned(bytes), file, len })
    }

    /// The bytes (zeros past a point where the file was cut while mapped).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            #[cfg(unix)]
            Backing::Map { map, .. } => map,
            Backing::Owned(b) => b,
        }
    }

    /// The file's size when it was opened.
    #[must_use]
    pub fn len_at_open(&self) -> u64 {
        self.len
    }

    /// `Some(size now)` when the file is now shorter than when it was opened, or a read of
    /// this mapping hit a page the file no longer had (the size then is the current one,
    /// which may have grown again).
    #[must_use]
    pub fn shrunk(&self) -> Option<u64> {
        let now = self.file.metadata().map_or(0, |m| m.len());
        let faulted = match &self.backing {
            #[cfg(unix)]
            Backing::Map { slot, .. } => guard::faulted(*slot),
            Backing::Owned(_) => false,
        };
        (faulted || now < self.len).then_some(now)
    }

    /// Read-ahead helps one sequential pass; failing to advise is harmless.
    pub fn advise_sequential(&self) {
        #[cfg(unix)]
        if let Backing::Map { map, .. } = &self.backing {
            let _ = map.advise(memmap2::Advice::Sequential);
        }
    }

    /// Drop the resident pages in `[from, to)` (`from` rounded down, `to` down to whole
    /// pages), so a big file read once does not stay in the resident set. A no-op for owned
    /// bytes.
    pub fn release(&self, from: usize, to: usize) {
        #[cfg(unix)]
        if let Backing::Map { map, .. } = &self.backing {
            let page = guard::page_size();
            let from = from / page * page;
            let to = to.min(map.len()) / page * page;
            if to > from {
                drop_pages(map, from, to - from);
            }
        }
        #[cfg(not(unix))]
        let _ = (from, to);
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Backing::Map { slot, .. } = &self.backing {
            // Unregister before the mapping goes (the field drops after this).
            guard::release(*slot);
        }
    }
}

/// Map `file` read-only and register the mapping in guard slot `slot`.
#[cfg(unix)]
#[allow(unsafe_code)]
fn map_guarded(file: &File, slot: usize) -> io::Result<memmap2::Mmap> {
    guard::install();
    // SAFETY: the file is opened read-only and only read through the mapping. A change to
    // the file's bytes by another process only yields other bytes, which the readers treat
    // as untrusted input anyway; a page the file lost (truncation) is turned into a zero
    // page by the registered SIGBUS guard instead of ending the process.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    guard::register(slot, map.as_ptr() as usize, map.len());
    Ok(map)
}

/// `MADV_DONTNEED` on `len` bytes of `map` from `from` (page aligned).
#[cfg(unix)]
#[allow(unsafe_code)]
fn drop_pages(map: &memmap2::Mmap, from: usize, len: usize) {
    // SAFETY: a private read-only mapping of a file apiscope never writes (or zero pages the
    // guard put in place). MADV_DONTNEED only drops resident copies; a later access faults
    // them in again from the file, unchanged, so nothing borrowed can observe a change.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, len) };
}

#[cfg(unix)]
#[allow(unsafe_code)]
mod guard {
    //! The process-wide `SIGBUS` handler and its table of guarded mappings. The handler
    //! only reads atomics and calls `mmap` / `sigaction` (plain system calls).

    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::SLOTS;

    struct Slot {
        /// 1 while claimed (set before `start`/`end`, cleared after them).
        claimed: AtomicBool,
        start: AtomicUsize,
        end: AtomicUsize,
        faulted: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot = Slot {
        claimed: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    };
    static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    /// The `SIGBUS` action in place before ours.
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

    pub(super) fn page_size() -> usize {
        let p = PAGE.load(Ordering::Relaxed);
        if p != 0 {
            return p;
        }
        // SAFETY: sysconf has no preconditions.
        let p = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok().filter(|&p| p > 0).unwrap_or(4096);
        PAGE.store(p, Ordering::Relaxed);
        p
    }

    /// A free slot, or `None` when all are in use.
    pub(super) fn claim() -> Option<usize> {
        TABLE.iter().position(|s| s.claimed.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok())
    }

    pub(super) fn register(slot: usize, start: usize, len: usize) {
        let s = &TABLE[slot];
        s.faulted.store(false, Ordering::Release);
        s.end.store(start.saturating_add(len), Ordering::Release);
        s.start.store(start, Ordering::Release);
    }

    pub(super) fn release(slot: usize) {
        let s = &TABLE[slot];
        s.start.store(0, Ordering::Release);
        s.end.store(0, Ordering::Release);
        s.faulted.store(false, Ordering::Release);
        s.claimed.store(false, Ordering::Release);
    }

    pub(super) fn faulted(slot: usize) -> bool {
        TABLE[slot].faulted.load(Ordering::Acquire)
    }

    /// Install the handler (once per process), keeping the previous action.
    pub(super) fn install() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = page_size();
            // SAFETY: sigaction is called with valid, fully initialised structures; the
            // handler only touches atomics and makes system calls.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&raw mut act.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &raw const act, &raw mut old) == 0 {
                    let _ = PREVIOUS.set(old);
                }
            }
        });
    }

    /// The mapping slot holding `addr`, if any.
    fn owner(addr: usize) -> Option<&'static Slot> {
        TABLE.iter().find(|s| {
            let start = s.start.load(Ordering::Acquire);
            start != 0 && addr >= start && addr < s.end.load(Ordering::Acquire)
        })
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        if let Some(s) = owner(addr) {
            let page = PAGE.load(Ordering::Relaxed).max(1);
            let from = addr / page * page;
            let end = s.end.load(Ordering::Acquire).div_ceil(page) * page;
            // SAFETY: [from, end) lies inside a live mapping this process made (registered
            // until it is unmapped); MAP_FIXED replaces those pages with zero pages of the
            // same protection, so the faulting read resumes and reads zeros.
            let r = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                s.faulted.store(true, Ordering::Release);
                return;
            }
        }
        chain(sig, info, ctx);
    }

    /// Hand a fault that is not ours to the previous action; with none (or the default),
    /// restore the default and return, so the fault repeats and ends the process as usual.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        if let Some(prev) = PREVIOUS.get() {
            let h = prev.sa_sigaction;
            if h != libc::SIG_DFL && h != libc::SIG_IGN {
                // SAFETY: `h` is the handler the process installed before ours, called with
                // the arguments its flags say it takes.
                unsafe {
                    if prev.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(h);
                        f(sig, info, ctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                        f(sig);
                    }
                }
                return;
            }
        }
        // SAFETY: a zeroed sigaction with SIG_DFL is a valid default action.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &raw const dfl, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_cut_under_the_reader_reads_zeros_and_says_it_shrank() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let page = 4096 * 16;
        std::fs::write(&p, vec![7u8; page * 4]).unwrap();
        let m = MappedFile::open(File::open(&p).unwrap()).unwrap();
        assert_eq!(m.shrunk(), None);
        assert_eq!(m.bytes()[page * 3], 7);
        std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(page as u64).unwrap();
        // Reading past the new end would be a bus error without the guard.
        let tail_sum: u64 = m.bytes()[page * 2..].iter().map(|&b| u64::from(b)).sum();
        assert_eq!(tail_sum, 0);
        assert_eq!(m.bytes()[page - 1], 7);
        assert_eq!(m.shrunk(), Some(page as u64));
    }

    #[test]
    fn slots_are_given_back_when_a_mapping_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g");
        std::fs::write(&p, b"abc").unwrap();
        for _ in 0..(SLOTS * 2) {
            let m = MappedFile::open(File::open(&p).unwrap()).unwrap();
            assert_eq!(m.bytes(), b"abc");
        }
    }
}
