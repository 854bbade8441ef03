//! Writing an output file without ever losing an input: the output goes to a temporary file
//! in the destination's folder and is renamed into place only when it is complete, so a
//! failed or interrupted run leaves the old file as it was; and an output path that names
//! one of the inputs (the same file, through any path or link) is refused before anything
//! is opened for writing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output path is one of the inputs.
    #[error("refusing to write to {0}: it is one of the inputs (choose another output path)")]
    IsInput(PathBuf),
    /// The temporary file could not be made.
    #[error("cannot create an output file in {dir}: {source}")]
    Create {
        /// The folder the output goes to.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Writing or renaming failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// True when `a` and `b` name the same existing file (same device and inode on Unix, the
/// same canonical path elsewhere).
#[must_use]
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    }
}

/// An output file being written: bytes go to a hidden temporary file beside `path`, which
/// [`OutputFile::commit`] renames over `path`. Dropped without a commit, the temporary file
/// is removed and `path` is untouched.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    tmp: BufWriter<tempfile::NamedTempFile>,
}

impl OutputFile {
    /// Start writing `path`, refusing when it is the same file as one of `inputs`.
    ///
    /// # Errors
    /// [`OutputError::IsInput`], or the temporary file cannot be created.
    pub fn create(path: &Path, inputs: &[PathBuf]) -> Result<Self, OutputError> {
        if inputs.iter().any(|i| same_file(i, path)) {
            return Err(OutputError::IsInput(path.to_path_buf()));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".apiscope-")
            .suffix(".part")
            .tempfile_in(&dir)
            .map_err(|source| OutputError::Create { dir, source })?;
        Ok(Self { path: path.to_path_buf(), tmp: BufWriter::new(tmp) })
    }

    /// The final path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush and rename the temporary file over the final path (keeping the permissions a
    /// newly created file would get).
    ///
    /// # Errors
    /// Flushing or renaming failed; the final path is then untouched.
    pub fn commit(self) -> Result<(), OutputError> {
        let path = self.path;
        let err = |source| OutputError::Write { path: path.clone(), source };
        let tmp = self.tmp.into_inner().map_err(|e| err(e.into_error()))?;
        tmp.as_file().sync_all().map_err(err)?;
        set_default_permissions(tmp.as_file());
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// Temporary files are created private (0600); an output file is an ordinary file, so give
/// it the mode `File::create` would (0666 less the umask, read here as 0644 when unknown).
fn set_default_permissions(f: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    {
        let _ = f;
    }
}

/// Write `bytes` to `path` through an [`OutputFile`].
///
/// # Errors
/// As [`OutputFile::create`] and [`OutputFile::commit`].
pub fn write_all(path: &Path, inputs: &[PathBuf], bytes: &[u8]) -> Result<(), OutputError> {
    let mut out = OutputFile::create(path, inputs)?;
    out.write_all(bytes).map_err(|source| OutputError::Write { path: path.to_path_buf(), source })?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.har");
        std::fs::write(&input, b"keep me").unwrap();
        let link = dir.path().join("link.har");
        std::fs::hard_link(&input, &link).unwrap();
        for out in [&input, &link] {
            let err = OutputFile::create(out, std::slice::from_ref(&input)).unwrap_err();
            assert!(matches!(err, OutputError::IsInput(_)), "{err}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"keep me");
    }

    #[test]
    fn an_uncommitted_output_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.sh");
        std::fs::write(&out, b"old").unwrap();
        {
            let mut f = OutputFile::create(&out, &[]).unwrap();
            f.write_all(b"new but unfinished").unwrap();
        }
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_committed_output_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.sh");
        std::fs::write(&out, b"old contents, longer than the new").unwrap();
        write_all(&out, &[], b"new").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
