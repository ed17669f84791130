//! Replacing files atomically.
//!
//! Every file another process may read while it is being replaced (bundles, journal
//! segments and key, GBDT model files, rewritten event logs) goes through
//! [`atomic_write`] or [`atomic_write_with`]: the bytes go to a temporary file in the
//! *same directory* (so the rename never crosses file systems), which is synced and then
//! renamed over the target, and the directory is synced so the rename itself survives a
//! crash. A reader therefore sees the old file or the complete new one, never half of
//! one; a process that mapped the old file keeps a valid map of its inode. On any error
//! before the rename the temporary file is removed and the target is left untouched.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Buffer between the writer closure and the temporary file.
const BUFFER_BYTES: usize = 1 << 20;

/// What the name of a temporary file holds after the target's name.
const TEMP_MARK: &str = ".tmp-";

/// A file operation that failed, with the file it failed on.
///
/// The message is `"{op} {path}"`; the operating system's error is its
/// [`source`](std::error::Error::source), so `anyhow`'s `{:#}` prints it once.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}", path.display())]
pub struct IoError {
    /// What was being done (`creating`, `writing`, `syncing`, …).
    pub op: &'static str,
    /// The file or directory involved.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

/// Maps an `std::io::Error` to an [`IoError`] naming `op` and `path`.
fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.to_path_buf();
    move |source| IoError { op, path, source }
}

/// Replaces `path` with `bytes` atomically (see the [module docs](self)).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    atomic_write_with(path, |out| {
        out.write_all(bytes).map_err(io("writing", path))
    })
}

/// Replaces `path` atomically with what `write` writes (see the [module docs](self)), and
/// returns what `write` returns.
///
/// `write` streams into a buffered writer over the temporary file; the helper flushes and
/// syncs it, so a flush error is never lost. When `write` fails, its error is returned,
/// the temporary file removed and `path` left as it was: a writer can also refuse to
/// commit (say, after checking what it wrote) by returning an error.
pub fn atomic_write_with<T, E>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<IoError>,
{
    let (dir, tmp) = temp_path(path)?;
    let written = (|| -> Result<T, E> {
        let file = File::create(&tmp).map_err(io("creating", &tmp))?;
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        let value = write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| io("writing", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("renaming into place", path))?;
        Ok(value)
    })();
    if written.is_err() {
        // Best effort: the error being returned matters more than a leftover.
        let _ = std::fs::remove_file(&tmp);
    }
    let value = written?;
    sync_dir(&dir)?;
    Ok(value)
}

/// Makes renames, creations and removals in `dir` durable: on Unix a directory entry is
/// only persistent once the directory is synced. Does nothing elsewhere.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Whether `name` is that of a temporary file [`atomic_write_with`] leaves behind when
/// the process dies before the rename (`.{target}.tmp-{pid}`).
pub fn is_temp_name(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') && n.contains(TEMP_MARK))
}

/// The directory of `path` and the temporary file beside it: hidden, and named with the
/// process id so two processes replacing the same file do not share one.
fn temp_path(path: &Path) -> Result<(PathBuf, PathBuf), IoError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| IoError {
        op: "writing",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!("{TEMP_MARK}{}", std::process::id()));
    Ok((dir.clone(), dir.join(tmp_name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_target_appears_only_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        std::fs::write(&path, b"old").unwrap();
        let n = atomic_write_with(&path, |out| {
            out.write_all(b"new ")?;
            // Mid-write, the target still holds the old bytes and the new ones are in a
            // hidden temporary file beside it.
            assert_eq!(std::fs::read(&path)?, b"old");
            let listed = names(dir.path());
            assert_eq!(listed.len(), 2, "{listed:?}");
            assert!(
                listed.iter().any(|n| is_temp_name(OsStr::new(n))),
                "{listed:?}"
            );
            out.write_all(b"contents")?;
            Ok::<_, anyhow::Error>(42)
        })
        .unwrap();
        assert_eq!(n, 42);
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(names(dir.path()), ["model.bin"]);
    }

    #[test]
    fn a_whole_buffer_replaces_or_creates_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        atomic_write(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        atomic_write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(dir.path()), ["key"]);
    }

    #[test]
    fn a_failing_writer_leaves_no_temp_file_and_the_old_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        std::fs::write(&path, b"old").unwrap();
        let err = atomic_write_with(&path, |out| -> anyhow::Result<()> {
            out.write_all(&[7u8; 3 * BUFFER_BYTES])?;
            anyhow::bail!("refused")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "refused");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["events.csv"]);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("bundle.bin");
        let err = atomic_write(&path, b"x").unwrap_err();
        assert_eq!(err.op, "creating");
        let shown = err.to_string();
        assert!(shown.starts_with("creating "), "{shown}");
        assert!(shown.contains(".bundle.bin.tmp-"), "{shown}");
        assert!(std::error::Error::source(&err).is_some());
        let err = atomic_write(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.to_string(), "writing /");
    }

    #[test]
    fn only_hidden_temp_names_count_as_temporary() {
        assert!(is_temp_name(OsStr::new(
            ".00000000000000000001.seg.tmp-1234"
        )));
        assert!(!is_temp_name(OsStr::new("00000000000000000001.seg")));
        assert!(!is_temp_name(OsStr::new("model.tmp-1")));
    }
}
