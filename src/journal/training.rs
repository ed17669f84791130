//! Reading a journal for training, without opening it for writing: a server may be
//! appending to it at the same time.

use super::format::{self, HEADER_BYTES, SegmentKind};
use super::{
    JournalError, Record, decode, io, leftovers, list_segments, next_expected, read_segment,
};
use crate::erasure::ErasedSet;
use crate::ingest::RawEvent;
use std::path::Path;

/// What [`read_journal`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingRead {
    /// Journaled events of customers never erased, in seq order, each checked against the
    /// data contract.
    pub events: Vec<RawEvent>,
    /// Events dropped because their customer was erased (at any seq).
    pub erased_events: u64,
    /// Every erased customer: hashed under the journal's key (plain ids from journals
    /// written before format 2 are hashed too), so the trainer can leave them out of its
    /// events and customers files without the journal holding their ids.
    pub erased: ErasedSet,
    /// Highest complete seq read (0 = empty journal).
    pub last_seq: u64,
    /// Bytes after the last complete record of the newest segment: a write in progress or
    /// a torn write the server will repair when it next opens the journal.
    pub incomplete_tail_bytes: u64,
}

/// Reads a journal dir for training: the events and the set of erased customers.
pub fn read_for_training(dir: &Path) -> Result<(Vec<RawEvent>, ErasedSet, u64), JournalError> {
    let r = read_journal(dir)?;
    Ok((r.events, r.erased, r.last_seq))
}

/// [`read_for_training`] with the counts a trainer reports.
///
/// An erased customer stays erased: events journaled for the same id after the erasure are
/// dropped too, so a replayed erasure and a retrained model agree. A journaled event that
/// breaks the data contract is an error naming its segment and seq.
pub fn read_journal(dir: &Path) -> Result<TrainingRead, JournalError> {
    let mut listed = list_segments(dir)?;
    // Segments an interrupted compaction already replaced: the server deletes them on open.
    for k in leftovers(&listed).into_iter().rev() {
        listed.remove(k);
    }
    let key = super::key::load(dir)?;
    let mut out = TrainingRead {
        erased: ErasedSet::with_key(key),
        ..TrainingRead::default()
    };
    let mut events = Vec::new();
    let mut expected = None;
    let n = listed.len();
    for (k, (seg, _)) in listed.iter().enumerate() {
        let is_last = k + 1 == n;
        let bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
        if is_last && bytes.len() < HEADER_BYTES {
            // Being created (or cut short by a crash): holds no record yet.
            out.incomplete_tail_bytes = bytes.len() as u64;
            out.last_seq = out.last_seq.max(seg.first_seq.saturating_sub(1));
            break;
        }
        let end = read_segment(seg, &bytes, expected, |seq, offset, payload| {
            match decode(payload, &seg.path, offset, seq)? {
                Record::Event(e) => {
                    if let Err((field, problem)) = e.validate() {
                        return Err(JournalError::BadEvent {
                            path: seg.path.clone(),
                            seq,
                            field,
                            problem,
                        });
                    }
                    events.push(e);
                }
                Record::Erase { customer_id, .. } => out.erased.insert_id(customer_id),
                Record::Forget { customer, .. } => {
                    if key.is_none() {
                        return Err(JournalError::MissingKey {
                            dir: dir.to_path_buf(),
                        });
                    }
                    out.erased.insert_hash(customer);
                }
                Record::Redacted => {}
            }
            Ok(())
        })?;
        if let Some(damage) = end.damage {
            let after = end.last_seq.unwrap_or(seg.first_seq.saturating_sub(1));
            let torn = is_last
                && seg.kind == SegmentKind::Log
                && format::valid_frame_after(&bytes, end.valid_bytes, after).is_none();
            if !torn {
                return Err(JournalError::Corrupt {
                    path: seg.path.clone(),
                    offset: end.valid_bytes as u64,
                    damage,
                });
            }
            out.incomplete_tail_bytes = (bytes.len() - end.valid_bytes) as u64;
        }
        let next = next_expected(seg, end.last_seq);
        out.last_seq = out.last_seq.max(next - 1);
        expected = Some(next);
    }
    let before = events.len();
    events.retain(|e| !out.erased.contains(&e.customer_id));
    out.erased_events = (before - events.len()) as u64;
    out.events = events;
    Ok(out)
}
