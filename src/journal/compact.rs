//! Compaction: drop log segments a bundle has learned from, keeping their erasures.

use super::format::{self, SegmentKind};
use super::{
    CompactStats, Journal, JournalError, Record, Segment, decode, io, lock, next_expected,
    read_segment, sync_dir,
};
use crate::fsutil::atomic_write;

impl Journal {
    /// Drops whole segments whose records all have seq <= upto_seq, keeping every Erase record
    /// (rewritten into a small erasures segment) so erasures are never forgotten.
    ///
    /// The active (newest) segment is never dropped. Crash-safe: the erasures segment is
    /// written and renamed into place before any segment is deleted, and [`Journal::open`]
    /// finishes an interrupted compaction.
    pub fn compact(&self, upto_seq: u64) -> Result<CompactStats, JournalError> {
        let _m = lock(&self.maintenance);
        let segments = lock(&self.state).segments.clone();
        // Segment k ends where k+1 starts; the last one is active and always kept.
        let drop_n = segments
            .windows(2)
            .take_while(|w| w[1].first_seq.saturating_sub(1) <= upto_seq)
            .count();
        // An erasures segment alone would only be rewritten as it is.
        let only_erasures = drop_n == 1 && segments[0].kind != SegmentKind::Log;
        if drop_n == 0 || only_erasures {
            return Ok(CompactStats::default());
        }
        let (dropped, kept) = segments.split_at(drop_n);
        let covers_upto = kept[0].first_seq - 1;

        let mut stats = CompactStats::default();
        let mut frames = Vec::new();
        let mut expected = None;
        for seg in dropped {
            let bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
            stats.bytes_removed += bytes.len() as u64;
            let end = read_segment(seg, &bytes, expected, |seq, offset, payload| {
                match decode(payload, &seg.path, offset, seq)? {
                    Record::Forget { .. } => format::push_frame(&mut frames, seq, payload),
                    // Older journals' plain ids are kept as their hash.
                    Record::Erase { customer_id, at } => {
                        let hashed = Record::Forget {
                            customer: self.key.hash(&customer_id),
                            at,
                        };
                        let payload =
                            postcard::to_allocvec(&hashed).map_err(JournalError::Encode)?;
                        format::push_frame(&mut frames, seq, &payload);
                    }
                    Record::Event(_) | Record::Redacted => return Ok(()),
                }
                stats.erasures_kept += 1;
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
        // Never delete anything if the segments do not join up: a missing file would make
        // the erasures segment claim records it never saw.
        if let (Some(expected), SegmentKind::Log) = (expected, kept[0].kind)
            && expected != kept[0].first_seq
        {
            return Err(JournalError::Gap {
                path: kept[0].path.clone(),
                expected,
                found: kept[0].first_seq,
            });
        }

        let mut replacement = None;
        let to_delete = if stats.erasures_kept > 0 {
            // Named like the oldest dropped segment: every kept seq is ≥ its first seq, and the
            // rename replaces that file atomically.
            let target = &dropped[0];
            let mut bytes = format::header(SegmentKind::Erasures { covers_upto }).to_vec();
            bytes.extend_from_slice(&frames);
            atomic_write(&target.path, &bytes)?;
            replacement = Some(Segment {
                first_seq: target.first_seq,
                path: target.path.clone(),
                kind: SegmentKind::Erasures { covers_upto },
                version: format::VERSION,
            });
            &dropped[1..]
        } else {
            dropped
        };
        // Oldest first, so a crash leaves a journal that still starts at a segment boundary.
        for seg in to_delete {
            std::fs::remove_file(&seg.path).map_err(io("removing", &seg.path))?;
        }
        sync_dir(&self.dir)?;
        stats.segments_removed = drop_n as u64;

        let mut st = lock(&self.state);
        st.segments.drain(..drop_n);
        if let Some(r) = replacement {
            st.segments.insert(0, r);
        }
        Ok(stats)
    }
}
