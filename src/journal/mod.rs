//! The durable event journal: accepted events and erasures, appended and fsync'd before the
//! server answers, replayed on start-up and read by the trainer.
//!
//! # Brief overview
//! * [`Journal::open`] takes a directory (creating it), locks it against a second writer,
//!   finishes an interrupted compaction and repairs a torn tail left by a crash.
//! * [`Journal::append`] writes a batch of [`Record`]s as one `write` and returns once they
//!   are on disk (`fdatasync`). Concurrent appenders share fsyncs (group commit): whoever
//!   syncs first covers every write made before its sync started.
//! * [`Journal::replay`] hands every record after a seq to a callback, in order;
//!   [`read_for_training`] reads a journal without writing to it (the trainer, while a server
//!   appends).
//! * [`Journal::compact`] drops old segments the current bundle has learned from, keeping
//!   every erasure so a forgotten customer is never brought back.
//! * [`Journal::redact_customer`] removes an erased customer's events from every segment
//!   (an erasure calls it before answering); [`Journal::open`] finishes any removal a crash
//!   interrupted, and converts erasures of older journals to the hashed form.
//!
//! # Erasures hold no id
//! An erasure is stored as the keyed hash of the customer id ([`Record::Forget`]), under the
//! journal's own random key in `ERASURE_KEY` ([`crate::erasure`]). Events of an erased
//! customer are replaced in their segment by a [`Record::Redacted`] frame with the same seq:
//! the segment is rewritten to a temporary file, fsync'd, renamed over the original and the
//! directory fsync'd, so a crash leaves either the old or the new file, never a mix. The
//! active segment is first closed (a new one started) so appends never race a rewrite.
//!
//! # On disk
//! A journal is a directory of segments `NNNNNNNNNNNNNNNNNNNN.seg`, named by the first seq
//! they may hold (zero-padded to 20 digits so names sort by seq), plus a `LOCK` file. Each
//! segment starts with a 24-byte header (magic `PRPJRNL\0`, version, kind, `covers_upto`)
//! followed by frames `[u32 len][u32 crc][u64 seq][postcard payload]`, little-endian, the
//! CRC-32 taken over the seq and the payload. Seqs start at 1 and increase by one per record;
//! a new segment starts when the next batch would take the active one past
//! [`JournalOptions::max_segment_bytes`] (default 64 MiB).
//!
//! Compaction replaces a prefix of log segments by one *erasures* segment holding only
//! their [`Record::Erase`] frames (seqs kept), with `covers_upto` = the last seq replaced.
//! It is written to a temporary file, fsync'd, renamed over the oldest replaced segment and
//! only then are the other replaced segments deleted; a crash in between leaves segments
//! whose seqs are all ≤ `covers_upto`, which the next open deletes.
//!
//! # Crashes and damage
//! Only the tail of the last segment can hold a write that was never acknowledged: every
//! byte before it was fsync'd before its append returned. On open, a damaged frame (short,
//! bad length, bad CRC, unexpected seq) in the last segment *with no valid frame after it*
//! is that torn write: it is truncated, logged with `tracing::warn!`, and reported in
//! [`ReplayStats::truncated_bytes`]. Damage anywhere else, or followed by valid frames, is
//! acknowledged data gone bad: an error naming the file and byte offset, never a skip.

#![warn(missing_docs)]

mod compact;
mod error;
mod format;
pub mod key;
mod redact;
mod segment;
mod training;

#[cfg(test)]
mod tests;

pub use error::{Damage, JournalError};
pub use redact::RedactStats;
pub use training::{TrainingRead, read_for_training, read_journal};

use crate::erasure::{CustomerHash, ErasureKey};
use crate::ingest::RawEvent;
use error::io;
use format::{FRAME_HEADER_BYTES, HEADER_BYTES, SegmentKind};
use segment::{
    Segment, create_segment, decode, leftovers, list_segments, next_expected, read_segment,
    remove_temp_files, repair_tail, sync_dir,
};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One journaled fact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Record {
    /// An accepted, validated event.
    Event(RawEvent),
    /// A customer to forget: their events before and after this record are excluded.
    /// [`Journal::append`] stores it as [`Record::Forget`], so replay yields it only from
    /// journals written before format 2 (until [`Journal::open`] converts them).
    Erase {
        /// External customer id.
        customer_id: String,
        /// Server time of the erasure (seconds since the epoch, UTC).
        at: i64,
    },
    /// An erasure as stored since format 2: the customer id's keyed hash
    /// ([`Journal::erasure_key`]), never the id.
    Forget {
        /// [`ErasureKey::hash`] of the customer id.
        customer: CustomerHash,
        /// Server time of the erasure (seconds since the epoch, UTC).
        at: i64,
    },
    /// An event removed because its customer was erased; it keeps the event's seq so the
    /// segment's seqs stay consecutive.
    Redacted,
}

/// The seqs an append was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Seq of the first record (`last_seq + 1` for an empty append).
    pub first_seq: u64,
    /// Seq of the last record.
    pub last_seq: u64,
}

/// What a replay read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records passed to the callback.
    pub records: u64,
    /// Of which events.
    pub events: u64,
    /// Of which erasures (plain or hashed).
    pub erasures: u64,
    /// Highest seq in the journal (0 = empty).
    pub last_seq: u64,
    /// Bytes of torn tail removed when the journal was opened.
    pub truncated_bytes: u64,
}

/// What a compaction removed and kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Segment files deleted or replaced.
    pub segments_removed: u64,
    /// Bytes those files held.
    pub bytes_removed: u64,
    /// Erase records kept in the erasures segment (old and new).
    pub erasures_kept: u64,
}

/// Tuning for [`Journal::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Start a new segment when a batch would take the active one past this size.
    pub max_segment_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_segment_bytes: 64 << 20,
        }
    }
}

/// What appends change, behind one mutex.
struct WriteState {
    /// Every segment in seq order; the last is the active log segment.
    segments: Vec<Segment>,
    /// The active segment, opened for appending.
    file: Arc<File>,
    /// Bytes in the active segment.
    len: u64,
    /// Seq the next record gets.
    next_seq: u64,
    /// Number of writes so far; a sync covers every write counted before it started.
    written_gen: u64,
    /// Set when a write could not be undone or an fsync failed.
    poisoned: bool,
}

/// An open journal directory; `Send + Sync`, appends from many threads.
pub struct Journal {
    dir: PathBuf,
    opts: JournalOptions,
    state: Mutex<WriteState>,
    /// Serialises fsyncs so concurrent appenders wait for one another's instead of queueing
    /// their own.
    sync: Mutex<()>,
    /// Highest write generation known to be on disk.
    synced_gen: AtomicU64,
    /// Held by replay and compaction so segments are not deleted under a reader.
    maintenance: Mutex<()>,
    truncated_bytes: u64,
    /// Key of the hashed erasures.
    key: ErasureKey,
    /// Holds the exclusive lock on `LOCK` for the journal's lifetime.
    _lock: File,
}

/// Retries of a held journal LOCK before `Locked` (see [`Journal::open_with`]): 0.5 s.
const LOCK_ATTEMPTS: u32 = 25;
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a journal lock leaves no half-done state the next holder could
    // misread: every mutation is committed to disk before the in-memory fields change.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Journal {
    /// Opens (creating) the journal in `dir`; repairs a torn tail left by a crash.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        Journal::open_with(dir, JournalOptions::default())
    }

    /// [`Journal::open`] with explicit options.
    pub fn open_with(dir: &Path, opts: JournalOptions) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let lock_path = dir.join("LOCK");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening", &lock_path))?;
        // A lock can be held for a moment by a child this process is spawning: the child
        // shares the LOCK file until its exec closes it (close-on-exec), so a journal closed
        // and reopened in one process (a server restarted in-process while another thread
        // spawns a command) can find it still held. Such a hold lasts milliseconds; another
        // process using the journal holds it for good and still gets `Locked`.
        let mut attempts = 0;
        loop {
            match lock_file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if attempts < LOCK_ATTEMPTS => {
                    attempts += 1;
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(JournalError::Locked {
                        dir: dir.to_path_buf(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &lock_path)(e)),
            }
        }
        remove_temp_files(dir)?;

        let mut listed = list_segments(dir)?;
        let stale = leftovers(&listed);
        for &k in stale.iter().rev() {
            let (s, _) = listed.remove(k);
            tracing::warn!(path = %s.path.display(), "journal: removing a segment an interrupted compaction had already replaced");
            std::fs::remove_file(&s.path).map_err(io("removing", &s.path))?;
        }
        if !stale.is_empty() {
            sync_dir(dir)?;
        }
        let listed_segments: Vec<Segment> = listed.iter().map(|(s, _)| s.clone()).collect();
        let key = key::load_or_create(dir, &listed_segments)?;

        let mut truncated_bytes = 0;
        let (segments, file, len, next_seq) = match listed.pop() {
            None => {
                let (seg, file) = create_segment(dir, 1)?;
                (vec![seg], file, HEADER_BYTES as u64, 1)
            }
            Some((last, file_len)) => {
                let mut earlier: Vec<Segment> = listed.into_iter().map(|(s, _)| s).collect();
                if file_len < HEADER_BYTES as u64 {
                    // Created but its header never reached the disk: nothing was written to it.
                    tracing::warn!(path = %last.path.display(), bytes = file_len, "journal: rewriting the header of a segment cut short by a crash");
                    truncated_bytes += file_len;
                    let (seg, file) = create_segment(dir, last.first_seq)?;
                    earlier.push(seg);
                    (earlier, file, HEADER_BYTES as u64, last.first_seq)
                } else {
                    let (valid, last_seq, cut) = repair_tail(&last)?;
                    truncated_bytes += cut;
                    let next_after = match last.kind {
                        SegmentKind::Log => last_seq.map_or(last.first_seq, |s| s + 1),
                        SegmentKind::Erasures { covers_upto } => covers_upto + 1,
                    };
                    if last.kind == SegmentKind::Log && last.version < format::VERSION {
                        // Records of this format must not land in a file whose header says
                        // an older one: continue in a new segment (or rewrite an empty one).
                        if valid > HEADER_BYTES as u64 {
                            earlier.push(last);
                        }
                        let (seg, file) = create_segment(dir, next_after)?;
                        earlier.push(seg);
                        (earlier, file, HEADER_BYTES as u64, next_after)
                    } else if last.kind == SegmentKind::Log {
                        let file = OpenOptions::new()
                            .append(true)
                            .open(&last.path)
                            .map_err(io("opening", &last.path))?;
                        earlier.push(last);
                        (earlier, file, valid, next_after)
                    } else {
                        // Compaction never replaces the active segment, but a directory put
                        // together by hand might end with erasures: start a log after them.
                        earlier.push(last);
                        let (seg, file) = create_segment(dir, next_after)?;
                        earlier.push(seg);
                        (earlier, file, HEADER_BYTES as u64, next_after)
                    }
                }
            }
        };
        let journal = Journal {
            dir: dir.to_path_buf(),
            opts,
            state: Mutex::new(WriteState {
                segments,
                file: Arc::new(file),
                len,
                next_seq,
                written_gen: 0,
                poisoned: false,
            }),
            sync: Mutex::new(()),
            synced_gen: AtomicU64::new(0),
            maintenance: Mutex::new(()),
            truncated_bytes,
            key,
            _lock: lock_file,
        };
        let redacted = journal.redact_erased()?;
        if redacted.segments_rewritten > 0 {
            tracing::info!(
                segments = redacted.segments_rewritten,
                events = redacted.events_redacted,
                erasures = redacted.erasures_hashed,
                "journal: removed the events of erased customers and the ids of older erasures"
            );
        }
        Ok(journal)
    }

    /// The key erasure records hash customer ids under.
    pub fn erasure_key(&self) -> ErasureKey {
        self.key
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of torn tail removed when the journal was opened.
    pub fn truncated_bytes(&self) -> u64 {
        self.truncated_bytes
    }

    /// Appends `records` as one write and fdatasync before returning: durable on Ok.
    pub fn append(&self, records: &[Record]) -> Result<Appended, JournalError> {
        // Encode outside the lock: it is most of the CPU work and needs no seq.
        let mut payload = Vec::with_capacity(records.len() * 64);
        let mut ends = Vec::with_capacity(records.len());
        for r in records {
            let hashed;
            let r = match r {
                // The id itself never reaches the disk.
                Record::Erase { customer_id, at } => {
                    hashed = Record::Forget {
                        customer: self.key.hash(customer_id),
                        at: *at,
                    };
                    &hashed
                }
                other => other,
            };
            let start = payload.len();
            payload = postcard::to_extend(r, payload).map_err(JournalError::Encode)?;
            let bytes = payload.len() - start;
            if bytes > format::MAX_PAYLOAD_BYTES {
                return Err(JournalError::RecordTooLarge {
                    bytes,
                    limit: format::MAX_PAYLOAD_BYTES,
                });
            }
            ends.push(payload.len());
        }
        let mut frames = Vec::with_capacity(payload.len() + records.len() * FRAME_HEADER_BYTES);

        let (appended, gen_written) = {
            let mut st = lock(&self.state);
            if st.poisoned {
                return Err(JournalError::Poisoned {
                    dir: self.dir.clone(),
                });
            }
            let first_seq = st.next_seq;
            if records.is_empty() {
                return Ok(Appended {
                    first_seq,
                    last_seq: first_seq - 1,
                });
            }
            let mut start = 0;
            for (k, &end) in ends.iter().enumerate() {
                format::push_frame(&mut frames, first_seq + k as u64, &payload[start..end]);
                start = end;
            }
            if st.len > HEADER_BYTES as u64
                && st.len + frames.len() as u64 > self.opts.max_segment_bytes
            {
                self.roll(&mut st, first_seq)?;
            }
            let path = self.active_path(&st);
            if let Err(e) = (&*st.file).write_all(&frames) {
                // Undo a partial write so the next append does not land after garbage.
                let len = st.len;
                if st.file.set_len(len).is_err() {
                    st.poisoned = true;
                }
                return Err(io("writing", &path)(e));
            }
            st.len += frames.len() as u64;
            st.next_seq += records.len() as u64;
            st.written_gen += 1;
            let appended = Appended {
                first_seq,
                last_seq: st.next_seq - 1,
            };
            (appended, st.written_gen)
        };
        self.sync_upto(gen_written)?;
        Ok(appended)
    }

    /// Waits until write generation `gen_written` is on disk, syncing if no one else has.
    fn sync_upto(&self, gen_written: u64) -> Result<(), JournalError> {
        let _sync = lock(&self.sync);
        if self.synced_gen.load(Ordering::Acquire) >= gen_written {
            return Ok(());
        }
        // Everything written up to `target` is in `file` or in an older segment, which was
        // synced when the journal rolled past it.
        let (target, file, path) = {
            let st = lock(&self.state);
            if st.poisoned {
                return Err(JournalError::Poisoned {
                    dir: self.dir.clone(),
                });
            }
            (st.written_gen, Arc::clone(&st.file), self.active_path(&st))
        };
        if let Err(e) = file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages: what is on
            // disk is unknown, so refuse further appends rather than acknowledge them.
            lock(&self.state).poisoned = true;
            return Err(io("syncing", &path)(e));
        }
        self.synced_gen.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    fn active_path(&self, st: &WriteState) -> PathBuf {
        st.segments
            .last()
            .map_or_else(|| self.dir.clone(), |s| s.path.clone())
    }

    /// Closes the active segment (synced) and starts a new one at `first_seq`.
    fn roll(&self, st: &mut WriteState, first_seq: u64) -> Result<(), JournalError> {
        let path = self.active_path(st);
        if let Err(e) = st.file.sync_data() {
            st.poisoned = true;
            return Err(io("syncing", &path)(e));
        }
        self.synced_gen.fetch_max(st.written_gen, Ordering::AcqRel);
        let (seg, file) = create_segment(&self.dir, first_seq)?;
        st.segments.push(seg);
        st.file = Arc::new(file);
        st.len = HEADER_BYTES as u64;
        Ok(())
    }

    /// Highest seq written so far (0 = empty).
    pub fn last_seq(&self) -> u64 {
        lock(&self.state).next_seq - 1
    }

    /// Calls `f(seq, record)` for every record with seq > after_seq, in order.
    pub fn replay(
        &self,
        after_seq: u64,
        mut f: impl FnMut(u64, Record),
    ) -> Result<ReplayStats, JournalError> {
        let _m = lock(&self.maintenance);
        let (segments, active_len, next_seq) = {
            let st = lock(&self.state);
            (st.segments.clone(), st.len, st.next_seq)
        };
        let mut stats = ReplayStats {
            last_seq: next_seq - 1,
            truncated_bytes: self.truncated_bytes,
            ..ReplayStats::default()
        };
        let mut expected: Option<u64> = None;
        for (k, seg) in segments.iter().enumerate() {
            let is_last = k + 1 == segments.len();
            // A segment ends before the next one starts: skip those wholly at or before
            // `after_seq` without reading them.
            if let Some(next) = segments.get(k + 1)
                && next.first_seq.saturating_sub(1) <= after_seq
            {
                expected = None;
                continue;
            }
            let mut bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
            if is_last {
                // Only what was written when the replay started (appends may be running).
                bytes.truncate(active_len as usize);
            }
            let end = read_segment(seg, &bytes, expected, |seq, offset, payload| {
                if seq <= after_seq {
                    return Ok(());
                }
                let record = decode(payload, &seg.path, offset, seq)?;
                stats.records += 1;
                match record {
                    Record::Event(_) => stats.events += 1,
                    Record::Erase { .. } | Record::Forget { .. } => stats.erasures += 1,
                    Record::Redacted => {}
                }
                f(seq, record);
                Ok(())
            })?;
            if let Some(damage) = end.damage {
                return Err(JournalError::Corrupt {
                    path: seg.path.clone(),
                    offset: end.valid_bytes as u64,
                    damage,
                });
            }
            expected = Some(next_expected(seg, end.last_seq));
        }
        Ok(stats)
    }
}
