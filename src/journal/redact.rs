//! Removing erased customers from the journal's files: their events become
//! [`Record::Redacted`] frames (same seq) and erasures of older journals lose their plain id.

use super::format::{self, HEADER_BYTES};
use super::{Journal, JournalError, Record, Segment, decode, io, lock, read_segment};
use crate::erasure::{ErasedSet, ErasureKey};
use crate::fsutil::atomic_write;

/// What a redaction rewrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedactStats {
    /// Segment files rewritten.
    pub segments_rewritten: u64,
    /// Events replaced by [`Record::Redacted`].
    pub events_redacted: u64,
    /// Plain-id erasures (journals before format 2) rewritten as [`Record::Forget`].
    pub erasures_hashed: u64,
}

/// First payload byte of each [`Record`] variant: postcard writes the variant index as a
/// varint, one byte below 128. Lets a scan skip decoding records it does not need.
const TAG_EVENT: u8 = 0;
const TAG_ERASE: u8 = 1;
pub(super) const TAG_FORGET: u8 = 2;

impl Journal {
    /// Removes every journaled event of customer `id` from the journal's files, and any
    /// plain-id erasure of them an older journal holds. On `Ok`, no segment file holds a
    /// record naming `id`; each rewritten file went through a temporary file, fsync, rename
    /// and directory fsync. The active segment, if it holds such a record, is closed first
    /// (appends go on in a new one).
    ///
    /// Reads every segment once (a byte search for the id; only files where it occurs are
    /// decoded), so it takes time proportional to the journal's size. Call it after the
    /// erasure record is durable and once no event of `id` can be appended any more.
    pub fn redact_customer(&self, id: &str) -> Result<RedactStats, JournalError> {
        let finder = memchr::memmem::Finder::new(id.as_bytes());
        let erased: ErasedSet = [id.to_string()].into();
        self.redact(&|bytes| finder.find(bytes).is_some(), &erased, false)
    }

    /// Removes the events of every customer the journal has erased and rewrites plain-id
    /// erasures as hashes. [`Journal::open`] runs it: it finds work only when a crash
    /// stopped an erasure between its record and its redaction, or in a journal written
    /// before format 2. A damaged segment is left as it is (with a warning): replay reports
    /// it when it needs its records, as it did before.
    pub(super) fn redact_erased(&self) -> Result<RedactStats, JournalError> {
        let (erased, plain) = self.erased_set()?;
        if erased.is_empty() && !plain {
            return Ok(RedactStats::default());
        }
        self.redact(&|_| true, &erased, true)
    }

    /// Every erasure in the journal (decoding only erasure frames, up to any damage), and
    /// whether any is a plain-id one.
    fn erased_set(&self) -> Result<(ErasedSet, bool), JournalError> {
        let _m = lock(&self.maintenance);
        let (segments, len) = {
            let st = lock(&self.state);
            (st.segments.clone(), st.len)
        };
        let mut erased = ErasedSet::with_key(Some(self.key));
        let mut plain = false;
        for (k, seg) in segments.iter().enumerate() {
            let mut bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
            if k + 1 == segments.len() {
                bytes.truncate(len as usize);
            }
            read_segment(seg, &bytes, None, |seq, offset, payload| {
                if !matches!(payload.first(), Some(&(TAG_ERASE | TAG_FORGET))) {
                    return Ok(());
                }
                match decode(payload, &seg.path, offset, seq)? {
                    Record::Erase { customer_id, .. } => {
                        plain = true;
                        erased.insert_id(customer_id);
                    }
                    Record::Forget { customer, .. } => erased.insert_hash(customer),
                    Record::Event(_) | Record::Redacted => {}
                }
                Ok(())
            })?;
        }
        Ok((erased, plain))
    }

    /// Rewrites every segment that `may_hold` does not rule out and that holds an event of
    /// an `erased` customer or a plain-id erasure; a damaged segment is an error, or with
    /// `skip_damaged` left alone with a warning.
    fn redact(
        &self,
        may_hold: &dyn Fn(&[u8]) -> bool,
        erased: &ErasedSet,
        skip_damaged: bool,
    ) -> Result<RedactStats, JournalError> {
        let _m = lock(&self.maintenance);
        let closed = {
            let mut st = lock(&self.state);
            if st.len > HEADER_BYTES as u64
                && let Some(active) = st.segments.last().cloned()
            {
                // Appends wait meanwhile: the file must not grow between the check and a roll.
                let mut bytes = std::fs::read(&active.path).map_err(io("reading", &active.path))?;
                bytes.truncate(st.len as usize);
                let mut ignored = RedactStats::default();
                if may_hold(&bytes)
                    && without_erased(&active, &bytes, erased, self.key, &mut ignored)?.is_some()
                {
                    let next = st.next_seq;
                    self.roll(&mut st, next)?;
                }
            }
            let n = st.segments.len();
            st.segments[..n - 1].to_vec()
        };
        let mut stats = RedactStats::default();
        for seg in &closed {
            let bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
            if !may_hold(&bytes) {
                continue;
            }
            let rewritten = match without_erased(seg, &bytes, erased, self.key, &mut stats) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e @ JournalError::Corrupt { .. }) if skip_damaged => {
                    tracing::warn!(error = %e, "journal: a damaged segment keeps the records of erased customers");
                    continue;
                }
                Err(e) => return Err(e),
            };
            atomic_write(&seg.path, &rewritten)?;
            stats.segments_rewritten += 1;
            let mut st = lock(&self.state);
            if let Some(s) = st.segments.iter_mut().find(|s| s.path == seg.path) {
                s.version = format::VERSION;
            }
        }
        Ok(stats)
    }
}

/// The segment's bytes with erased customers' events redacted and plain-id erasures
/// hashed, or `None` when there is nothing to change.
fn without_erased(
    seg: &Segment,
    bytes: &[u8],
    erased: &ErasedSet,
    key: ErasureKey,
    stats: &mut RedactStats,
) -> Result<Option<Vec<u8>>, JournalError> {
    let redacted = postcard::to_allocvec(&Record::Redacted).map_err(JournalError::Encode)?;
    let mut out = format::header(seg.kind).to_vec();
    out.reserve(bytes.len());
    let mut changed = false;
    let end = read_segment(seg, bytes, None, |seq, offset, payload| {
        match payload.first() {
            Some(&TAG_EVENT) => {
                // The customer id is the event's first field: read it in place rather than
                // decoding the whole event (most frames are events of other customers).
                let Ok((customer, _)) = postcard::take_from_bytes::<&str>(&payload[1..]) else {
                    // Not a well-formed event: the full decode says why.
                    decode(payload, &seg.path, offset, seq)?;
                    format::push_frame(&mut out, seq, payload);
                    return Ok(());
                };
                if erased.contains(customer) {
                    format::push_frame(&mut out, seq, &redacted);
                    stats.events_redacted += 1;
                    changed = true;
                    return Ok(());
                }
            }
            Some(&TAG_ERASE) => {
                if let Record::Erase { customer_id, at } = decode(payload, &seg.path, offset, seq)?
                {
                    let hashed = Record::Forget {
                        customer: key.hash(&customer_id),
                        at,
                    };
                    let p = postcard::to_allocvec(&hashed).map_err(JournalError::Encode)?;
                    format::push_frame(&mut out, seq, &p);
                    stats.erasures_hashed += 1;
                    changed = true;
                    return Ok(());
                }
            }
            _ => {}
        }
        format::push_frame(&mut out, seq, payload);
        Ok(())
    })?;
    corrupt_if_damaged(seg, &end)?;
    Ok(changed.then_some(out))
}

fn corrupt_if_damaged(seg: &Segment, end: &format::ScanEnd) -> Result<(), JournalError> {
    match end.damage {
        Some(damage) => Err(JournalError::Corrupt {
            path: seg.path.clone(),
            offset: end.valid_bytes as u64,
            damage,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RawEvent;

    #[test]
    fn an_event_payload_starts_with_its_customer_id() {
        let payload =
            postcard::to_allocvec(&Record::Event(RawEvent::purchase("c-77", "i", 3))).unwrap();
        let (id, _) = postcard::take_from_bytes::<&str>(&payload[1..]).unwrap();
        assert_eq!(id, "c-77");
    }

    #[test]
    fn record_tags_are_the_first_payload_byte() {
        let tag = |r: &Record| postcard::to_allocvec(r).unwrap()[0];
        let event = Record::Event(RawEvent::purchase("c", "i", 0));
        let erase = Record::Erase {
            customer_id: "c".into(),
            at: 0,
        };
        let forget = Record::Forget {
            customer: [9; 16],
            at: 0,
        };
        assert_eq!(tag(&event), TAG_EVENT);
        assert_eq!(tag(&erase), TAG_ERASE);
        assert_eq!(tag(&forget), TAG_FORGET);
        assert_ne!(tag(&Record::Redacted), TAG_EVENT);
    }
}
