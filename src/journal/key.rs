//! The journal's erasure key: the file `ERASURE_KEY` next to the segments, holding the
//! key erasure records hash customer ids under (see [`crate::erasure`]).
//!
//! ```text
//! ERASURE_KEY = magic b"PRPJKEY\0" | key[16]      (24 bytes)
//! ```
//! Without it the hashed erasures of a journal match nobody, so a missing key is only
//! created afresh for a journal that holds no hashed erasure; otherwise opening and
//! reading refuse with an error.

use super::format;
use super::{JournalError, Segment, io};
use crate::erasure::ErasureKey;
use crate::fsutil::atomic_write;
use std::path::{Path, PathBuf};

/// File name of the key in the journal directory.
pub const KEY_FILE: &str = "ERASURE_KEY";
const MAGIC: [u8; 8] = *b"PRPJKEY\0";
const KEY_FILE_BYTES: usize = 24;

fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// The key of the journal in `dir`, if its file exists.
pub fn load(dir: &Path) -> Result<Option<ErasureKey>, JournalError> {
    let path = key_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading", &path)(e)),
    };
    if bytes.len() != KEY_FILE_BYTES || bytes[..8] != MAGIC {
        return Err(JournalError::BadKey { path });
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&bytes[8..]);
    Ok(Some(ErasureKey::from_bytes(key)))
}

/// The key of the journal in `dir` for its writer: loaded, or created (temp file, fsync,
/// rename, directory fsync) when no segment holds a hashed erasure.
pub(super) fn load_or_create(dir: &Path, segments: &[Segment]) -> Result<ErasureKey, JournalError> {
    if let Some(key) = load(dir)? {
        return Ok(key);
    }
    if holds_hashed_erasure(segments)? {
        return Err(JournalError::MissingKey {
            dir: dir.to_path_buf(),
        });
    }
    let key = ErasureKey::generate().map_err(io("reading random bytes for", &key_path(dir)))?;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&key.to_bytes());
    atomic_write(&key_path(dir), &bytes)?;
    Ok(key)
}

/// Whether a segment of format 2 or later holds a [`super::Record::Forget`] frame (read up
/// to any damage, which the open reports later).
fn holds_hashed_erasure(segments: &[Segment]) -> Result<bool, JournalError> {
    for seg in segments.iter().filter(|s| s.version >= 2) {
        let bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
        if bytes.len() < format::HEADER_BYTES {
            continue;
        }
        let mut found = false;
        let _ = format::scan(&bytes, seg.kind, seg.first_seq, |f| {
            found |= f.payload.first() == Some(&super::redact::TAG_FORGET);
            Ok::<(), ()>(())
        });
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}
