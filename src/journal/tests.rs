//! Journal tests: round trips, crash repair, damage detection, compaction, concurrency.

use super::*;
use crate::ingest::EventKind;
use std::collections::HashSet;

/// How `j` stores `r`: an erasure as the keyed hash of its id.
fn stored(j: &Journal, r: &Record) -> Record {
    match r {
        Record::Erase { customer_id, at } => Record::Forget {
            customer: j.erasure_key().hash(customer_id),
            at: *at,
        },
        other => other.clone(),
    }
}

/// What `j`, reopened after `records` were appended, replays: erasures stored as hashes
/// and every event of an erased customer redacted.
fn after_open(j: &Journal, records: &[(u64, Record)]) -> Vec<(u64, Record)> {
    let erased: HashSet<&str> = records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Erase { customer_id, .. } => Some(customer_id.as_str()),
            _ => None,
        })
        .collect();
    records
        .iter()
        .map(|(seq, r)| match r {
            Record::Event(e) if erased.contains(e.customer_id.as_str()) => (*seq, Record::Redacted),
            other => (*seq, stored(j, other)),
        })
        .collect()
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| finder.find(&std::fs::read(p).unwrap()).is_some())
        .collect()
}

fn assert_erased_set(erased: &crate::erasure::ErasedSet, ids: &[&str]) {
    assert_eq!(erased.len(), ids.len());
    for id in ids {
        assert!(erased.contains(id), "{id}");
    }
}

fn event(k: u64) -> Record {
    Record::Event(RawEvent {
        customer_id: format!("c{}", k % 17),
        item_id: format!("item-{k}"),
        timestamp: 1_600_000_000 + k as i64 * 60,
        kind: EventKind::ALL[(k % 4) as usize],
        quantity: 1.0 + (k % 3) as f32,
        price: 0.5 * k as f32,
        order_id: k.is_multiple_of(5).then(|| format!("o{k}")),
        category: k.is_multiple_of(2).then(|| "fruit".to_string()),
    })
}

fn erase(id: &str, at: i64) -> Record {
    Record::Erase {
        customer_id: id.to_string(),
        at,
    }
}

fn small(max_segment_bytes: u64) -> JournalOptions {
    JournalOptions { max_segment_bytes }
}

fn all(j: &Journal, after: u64) -> Vec<(u64, Record)> {
    let mut out = Vec::new();
    j.replay(after, |seq, r| out.push((seq, r))).unwrap();
    out
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Byte offsets of the frames in a segment file.
fn frame_offsets(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    let kind = format::parse_header(&bytes, path).unwrap();
    let first = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut out = Vec::new();
    let end = format::scan(&bytes, kind, first, |f| {
        out.push(f.offset);
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(end.damage, None);
    out
}

#[test]
fn append_then_replay_round_trips_across_segment_rolls_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    {
        let j = Journal::open_with(dir.path(), small(2048)).unwrap();
        assert_eq!(j.last_seq(), 0);
        let mut k = 0;
        for batch in 0..40u64 {
            let mut records: Vec<Record> = (0..7)
                .map(|_| {
                    event({
                        k += 1;
                        k
                    })
                })
                .collect();
            if batch % 9 == 4 {
                records.push(erase("c3", 1_700_000_000 + batch as i64));
            }
            let a = j.append(&records).unwrap();
            assert_eq!(a.first_seq, expected.len() as u64 + 1);
            assert_eq!(a.last_seq, (expected.len() + records.len()) as u64);
            for r in records {
                expected.push((expected.len() as u64 + 1, r));
            }
            assert_eq!(j.last_seq(), expected.len() as u64);
        }
        let as_stored: Vec<(u64, Record)> =
            expected.iter().map(|(s, r)| (*s, stored(&j, r))).collect();
        assert_eq!(all(&j, 0), as_stored);
    }
    assert!(segment_files(dir.path()).len() > 5, "segments must roll");
    let j = Journal::open_with(dir.path(), small(2048)).unwrap();
    // Appended erasures never went through `redact_customer`: opening finishes the job.
    let expected = after_open(&j, &expected);
    assert_eq!(j.last_seq(), expected.len() as u64);
    assert_eq!(all(&j, 0), expected);
    assert_eq!(all(&j, 100), expected[100..].to_vec());
    assert!(all(&j, expected.len() as u64).is_empty());
    let mut stats_seen = 0;
    let stats = j.replay(0, |_, _| stats_seen += 1).unwrap();
    assert_eq!(stats.records, expected.len() as u64);
    assert_eq!(stats.erasures, 4);
    let redacted = expected
        .iter()
        .filter(|(_, r)| *r == Record::Redacted)
        .count() as u64;
    assert!(redacted > 0);
    assert_eq!(stats.events, stats.records - 4 - redacted);
    assert_eq!(stats.last_seq, expected.len() as u64);
    assert_eq!(stats.truncated_bytes, 0);
    // Appends after reopening continue the sequence.
    let a = j.append(&[event(999)]).unwrap();
    assert_eq!(a.first_seq, expected.len() as u64 + 1);
    assert_eq!(
        all(&j, expected.len() as u64),
        vec![(a.first_seq, event(999))]
    );
}

#[test]
fn empty_append_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&[event(1), event(2)]).unwrap();
    let a = j.append(&[]).unwrap();
    assert_eq!((a.first_seq, a.last_seq), (3, 2));
    assert_eq!(j.last_seq(), 2);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _j = Journal::open(dir.path()).unwrap();
    match Journal::open(dir.path()) {
        Err(JournalError::Locked { dir: d }) => assert_eq!(d, dir.path()),
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
}

/// Writes three batches into one segment and returns the segment path, the records, and
/// the offset where the last record starts.
fn three_batches(dir: &Path) -> (PathBuf, Vec<Record>, usize) {
    let j = Journal::open(dir).unwrap();
    let records: Vec<Record> = (1..=9).map(event).collect();
    for chunk in records.chunks(3) {
        j.append(chunk).unwrap();
    }
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    let offsets = frame_offsets(&files[0]);
    assert_eq!(offsets.len(), 9);
    (files[0].clone(), records, offsets[8])
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_repaired() {
    let src = tempfile::tempdir().unwrap();
    let (seg, records, last_start) = three_batches(src.path());
    let full = std::fs::read(&seg).unwrap();
    for cut in last_start..full.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(seg.file_name().unwrap());
        std::fs::write(&path, &full[..cut]).unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.truncated_bytes(), (cut - last_start) as u64, "cut {cut}");
        assert_eq!(j.last_seq(), 8, "cut {cut}");
        let got = all(&j, 0);
        let want: Vec<(u64, Record)> = (1..=8).zip(records[..8].iter().cloned()).collect();
        assert_eq!(got, want, "cut {cut}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last_start as u64);
        // The torn record's seq was never acknowledged: the next append reuses it.
        let a = j.append(&[event(100)]).unwrap();
        assert_eq!(a.first_seq, 9);
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.truncated_bytes(), 0);
        assert_eq!(all(&j, 8), vec![(9, event(100))]);
    }
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, _, _) = three_batches(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    let len = bytes.len();
    // A crash can extend the file with zeros (or stale blocks) past the last full write.
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    bytes.extend((0..300u32).map(|k| (k * 37) as u8));
    std::fs::write(&seg, &bytes).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.truncated_bytes(), (bytes.len() - len) as u64);
    assert_eq!(all(&j, 0).len(), 9);
}

#[test]
fn a_segment_cut_inside_its_header_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open_with(dir.path(), small(256)).unwrap();
        for k in 0..6 {
            j.append(&[event(k), event(k + 100)]).unwrap();
        }
    }
    let files = segment_files(dir.path());
    let last = files.last().unwrap();
    let first_seq: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    std::fs::write(last, &format::MAGIC[..5]).unwrap();
    let j = Journal::open_with(dir.path(), small(256)).unwrap();
    assert_eq!(j.truncated_bytes(), 5);
    assert_eq!(j.last_seq(), first_seq - 1);
    assert_eq!(all(&j, 0).len() as u64, first_seq - 1);
    assert_eq!(j.append(&[event(7)]).unwrap().first_seq, first_seq);
}

fn corrupt_at(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x40;
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn a_flipped_byte_before_valid_records_is_an_error_naming_file_and_offset() {
    // Every byte of the first record: length, crc, seq and payload.
    let src = tempfile::tempdir().unwrap();
    let (seg, _, _) = three_batches(src.path());
    let offsets = frame_offsets(&seg);
    let full = std::fs::read(&seg).unwrap();
    for at in offsets[1]..offsets[2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(seg.file_name().unwrap());
        std::fs::write(&path, &full).unwrap();
        corrupt_at(&path, at);
        match Journal::open(dir.path()) {
            Err(JournalError::Corrupt {
                path: p, offset, ..
            }) => {
                assert_eq!(p, path, "byte {at}");
                assert_eq!(offset, offsets[1] as u64, "byte {at}");
            }
            other => panic!("byte {at}: expected Corrupt, got {:?}", other.map(|_| ())),
        }
        // The file is left alone for the operator.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), full.len() as u64);
    }
}

#[test]
fn damage_in_an_older_segment_fails_the_replay_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open_with(dir.path(), small(512)).unwrap();
        for k in 0..20 {
            j.append(&[event(k), event(k + 50)]).unwrap();
        }
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    let victim = &files[1];
    let offsets = frame_offsets(victim);
    corrupt_at(victim, offsets[1] + FRAME_HEADER_BYTES + 2);
    let j = Journal::open_with(dir.path(), small(512)).unwrap();
    let err = j.replay(0, |_, _| {}).unwrap_err();
    match &err {
        JournalError::Corrupt {
            path,
            offset,
            damage,
        } => {
            assert_eq!(path, victim);
            assert_eq!(*offset, offsets[1] as u64);
            assert_eq!(*damage, Damage::Checksum);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&victim.display().to_string()) && msg.contains("at byte"),
        "{msg}"
    );
    // A replay that starts after the damaged segment does not need to read it.
    let first_of_third: u64 = files[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(j.replay(first_of_third - 1, |_, _| {}).is_ok());
}

#[test]
fn a_missing_segment_is_a_gap_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open_with(dir.path(), small(512)).unwrap();
        for k in 0..20 {
            j.append(&[event(k), event(k + 50)]).unwrap();
        }
    }
    let files = segment_files(dir.path());
    std::fs::remove_file(&files[1]).unwrap();
    let j = Journal::open_with(dir.path(), small(512)).unwrap();
    match j.replay(0, |_, _| {}) {
        Err(JournalError::Gap { path, .. }) => assert_eq!(path, files[2]),
        other => panic!("expected Gap, got {other:?}"),
    }
}

#[test]
fn concurrent_appends_lose_nothing_and_get_unique_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_with(dir.path(), small(16 << 10)).unwrap();
    let threads = 8u64;
    let batches = 40u64;
    let ranges: Vec<(u64, Appended)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let j = &j;
                s.spawn(move || {
                    (0..batches)
                        .map(|b| {
                            let base = (t * batches + b) * 10;
                            let recs: Vec<Record> = (base..base + 10).map(event).collect();
                            (base, j.append(&recs).unwrap())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total = threads * batches * 10;
    assert_eq!(j.last_seq(), total);
    let mut seen = vec![false; total as usize + 1];
    for (_, a) in &ranges {
        assert_eq!(a.last_seq - a.first_seq, 9);
        for s in a.first_seq..=a.last_seq {
            assert!(
                !std::mem::replace(&mut seen[s as usize], true),
                "seq {s} twice"
            );
        }
    }
    drop(j);
    let j = Journal::open_with(dir.path(), small(16 << 10)).unwrap();
    let got = all(&j, 0);
    assert_eq!(got.len() as u64, total);
    for (base, a) in ranges {
        for k in 0..10 {
            let (seq, r) = &got[(a.first_seq + k - 1) as usize];
            assert_eq!(*seq, a.first_seq + k);
            assert_eq!(*r, event(base + k));
        }
    }
}

/// A journal of 2-record batches over small segments with erasures of c3 (seq 13) and c5
/// (seq 41) among the events.
fn with_erasures(dir: &Path) -> Vec<(u64, Record)> {
    let j = Journal::open_with(dir, small(400)).unwrap();
    let mut out = Vec::new();
    for k in 0..30u64 {
        let batch = match k {
            6 => vec![event(2 * k), erase("c3", 1)],
            20 => vec![event(2 * k), erase("c5", 2)],
            _ => vec![event(2 * k), event(2 * k + 1)],
        };
        let a = j.append(&batch).unwrap();
        out.extend((a.first_seq..).zip(batch));
    }
    out
}

fn first_seq_of(path: &Path) -> u64 {
    path.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

/// What a replay must give after compacting up to a segment boundary `covers`.
fn compacted(records: &[(u64, Record)], covers: u64) -> Vec<(u64, Record)> {
    records
        .iter()
        .filter(|(seq, r)| *seq > covers || matches!(r, Record::Forget { .. }))
        .cloned()
        .collect()
}

#[test]
fn compaction_keeps_erasures_and_later_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = with_erasures(dir.path());
    let files = segment_files(dir.path());
    assert!(files.len() >= 6, "{files:?}");
    let j = Journal::open_with(dir.path(), small(400)).unwrap();
    let records = after_open(&j, &records);
    // Up to a seq inside the fourth segment: the first three go.
    let upto = first_seq_of(&files[3]) + 1;
    let covers = first_seq_of(&files[3]) - 1;
    let stats = j.compact(upto).unwrap();
    assert_eq!(stats.segments_removed, 3);
    assert_eq!(stats.erasures_kept, 1, "c3 at seq 14 only: {:?}", stats);
    assert!(stats.bytes_removed > 0);
    assert_eq!(all(&j, 0), compacted(&records, covers));
    assert_eq!(j.last_seq(), records.len() as u64);
    let after = segment_files(dir.path());
    assert_eq!(after.len(), files.len() - 2);
    assert_eq!(
        after[0], files[0],
        "erasures take the oldest segment's name"
    );

    // Compacting further merges the old erasures segment with the new ones.
    let covers2 = first_seq_of(&files[files.len() - 1]) - 1;
    let stats = j.compact(u64::MAX).unwrap();
    assert_eq!(stats.erasures_kept, 2);
    assert_eq!(all(&j, 0), compacted(&records, covers2));
    assert_eq!(
        segment_files(dir.path()).len(),
        2,
        "erasures + active segment"
    );
    // Nothing more to drop: the active segment stays.
    assert_eq!(j.compact(u64::MAX).unwrap(), CompactStats::default());

    let a = j.append(&[event(500)]).unwrap();
    assert_eq!(a.first_seq, records.len() as u64 + 1);
    drop(j);
    let j = Journal::open_with(dir.path(), small(400)).unwrap();
    let mut want = compacted(&records, covers2);
    want.push((a.first_seq, event(500)));
    assert_eq!(all(&j, 0), want);
    // A replay after the bundle's seq skips the erasures segment.
    assert_eq!(
        all(&j, records.len() as u64),
        vec![(a.first_seq, event(500))]
    );
    let (events, erased, last) = read_for_training(dir.path()).unwrap();
    assert_eq!(last, a.last_seq);
    assert_erased_set(&erased, &["c3", "c5"]);
    let kept = want
        .iter()
        .filter(|(_, r)| matches!(r, Record::Event(e) if !erased.contains(&e.customer_id)))
        .count();
    assert_eq!(events.len(), kept);
}

#[test]
fn compaction_without_erasures_only_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_with(dir.path(), small(300)).unwrap();
    for k in 0..20 {
        j.append(&[event(k)]).unwrap();
    }
    let files = segment_files(dir.path());
    let covers = first_seq_of(&files[2]) - 1;
    let stats = j.compact(covers).unwrap();
    assert_eq!((stats.segments_removed, stats.erasures_kept), (2, 0));
    assert_eq!(segment_files(dir.path()), files[2..].to_vec());
    let got = all(&j, 0);
    assert_eq!(got.first().unwrap().0, covers + 1);
    assert_eq!(got.len() as u64, 20 - covers);
}

#[test]
fn open_finishes_a_compaction_interrupted_before_its_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let records = with_erasures(dir.path());
    let files = segment_files(dir.path());
    // Keep a copy of the segments the compaction will delete.
    let saved: Vec<(PathBuf, Vec<u8>)> = files[1..4]
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    let covers = first_seq_of(&files[4]) - 1;
    {
        let j = Journal::open_with(dir.path(), small(400)).unwrap();
        j.compact(covers).unwrap();
    }
    // As if the process died after the rename: the replaced segments are still there.
    for (p, bytes) in &saved {
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::write(dir.path().join("00000000000000000001.seg.tmp"), b"junk").unwrap();
    let leftover = dir.path().join(".00000000000000000001.seg.tmp-4242");
    std::fs::write(&leftover, b"junk").unwrap();
    // The trainer ignores them without touching anything.
    let r = read_journal(dir.path()).unwrap();
    assert_eq!(r.last_seq, records.len() as u64);
    assert_eq!(r.erased.len(), 2);
    assert_eq!(segment_files(dir.path()).len(), files.len());
    let j = Journal::open_with(dir.path(), small(400)).unwrap();
    assert_eq!(all(&j, 0), compacted(&after_open(&j, &records), covers));
    assert_eq!(segment_files(dir.path()).len(), files.len() - 3);
    assert!(!dir.path().join("00000000000000000001.seg.tmp").exists());
    assert!(!leftover.exists());
}

#[test]
fn training_read_drops_erased_customers_and_ignores_a_write_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let records = with_erasures(dir.path());
    let all_c3_c5 = records
        .iter()
        .filter(|(_, r)| matches!(r, Record::Event(e) if e.customer_id == "c3" || e.customer_id == "c5"))
        .count() as u64;
    // Before a writer opens it, their events are still in the files: the read drops them.
    let r = read_journal(dir.path()).unwrap();
    assert_eq!(r.erased_events, all_c3_c5);
    let j = Journal::open_with(dir.path(), small(400)).unwrap();
    // c3 comes back after being erased: still dropped.
    j.append(&[event(3 * 17 + 3)]).unwrap();
    let last = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(&[7, 0, 0, 0, 1, 2]);
    std::fs::write(&last, &bytes).unwrap();

    let r = read_journal(dir.path()).unwrap();
    assert_eq!(r.incomplete_tail_bytes, 6);
    assert_eq!(
        std::fs::metadata(&last).unwrap().len(),
        len as u64 + 6,
        "read-only"
    );
    assert_eq!(r.last_seq, records.len() as u64 + 1);
    assert_erased_set(&r.erased, &["c3", "c5"]);
    let want: Vec<RawEvent> = records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Event(e) if e.customer_id != "c3" && e.customer_id != "c5" => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(r.events, want);
    // Opening redacted the earlier ones; only the one appended since is left to drop.
    assert_eq!(r.erased_events, 1);
}

#[test]
fn a_journaled_event_breaking_the_contract_names_segment_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    j.append(&[event(1), event(2)]).unwrap();
    let mut bad = RawEvent::purchase("c1", "", 5);
    bad.price = 1.0;
    j.append(&[event(3), Record::Event(bad)]).unwrap();
    match read_for_training(dir.path()) {
        Err(JournalError::BadEvent {
            path, seq, field, ..
        }) => {
            assert_eq!(path, segment_files(dir.path())[0]);
            assert_eq!((seq, field), (4, "item_id"));
        }
        other => panic!("expected BadEvent, got {other:?}"),
    }
}

/// An event of the customer whose every identifying string is unique to them.
fn victim_event(k: u64) -> Record {
    Record::Event(RawEvent {
        customer_id: "victim-7f3a".to_string(),
        item_id: format!("victim-only-item-{}", k % 2),
        timestamp: 1_600_000_000 + k as i64,
        kind: EventKind::Purchase,
        quantity: 2.0,
        price: 9.5,
        order_id: Some(format!("victim-order-{k}")),
        category: None,
    })
}

const VICTIM_STRINGS: [&str; 4] = ["victim-7f3a", "victim-only-item", "victim-order", "victim"];

#[test]
fn an_erased_customer_leaves_no_bytes_in_any_journal_file() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open_with(dir.path(), small(600)).unwrap();
    let mut appended = Vec::new();
    for k in 0..40u64 {
        // Their events in old segments and in the active one.
        let batch = if k % 6 == 0 || k == 39 {
            vec![event(k), victim_event(k)]
        } else {
            vec![event(k)]
        };
        let a = j.append(&batch).unwrap();
        appended.extend((a.first_seq..).zip(batch));
    }
    assert!(segment_files(dir.path()).len() > 3);
    let last_before = j.last_seq();
    let a = j.append(&[erase("victim-7f3a", 1_700_000_000)]).unwrap();
    appended.push((a.first_seq, erase("victim-7f3a", 1_700_000_000)));
    assert!(!files_containing(dir.path(), "victim-7f3a").is_empty());

    let stats = j.redact_customer("victim-7f3a").unwrap();
    assert_eq!(stats.events_redacted, 8);
    assert!(stats.segments_rewritten >= 2, "{stats:?}");
    for needle in VICTIM_STRINGS {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<PathBuf>::new(),
            "{needle}"
        );
    }
    assert!(
        !dir.path()
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains(".tmp") })
    );
    // Seqs are kept: replay sees placeholders where their events were, the rest as before.
    assert_eq!(all(&j, 0), after_open(&j, &appended));
    // Appends go on (in a new segment: the active one held their events).
    let b = j.append(&[event(100)]).unwrap();
    assert_eq!(b.first_seq, last_before + 2);
    let r = read_journal(dir.path()).unwrap();
    assert!(r.erased.contains("victim-7f3a") && !r.erased.contains("c1"));
    assert_eq!(r.events.len(), 41);
    assert_eq!(r.erased_events, 0);
    drop(j);
    let j = Journal::open_with(dir.path(), small(600)).unwrap();
    let mut want = after_open(&j, &appended);
    want.push((b.first_seq, event(100)));
    assert_eq!(all(&j, 0), want);
}

#[test]
fn open_finishes_an_erasure_a_crash_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open_with(dir.path(), small(500)).unwrap();
        for k in 0..12 {
            j.append(&[event(k), victim_event(k)]).unwrap();
        }
        // The record is durable, the process dies before `redact_customer`.
        j.append(&[erase("victim-7f3a", 5)]).unwrap();
    }
    assert!(!files_containing(dir.path(), "victim-7f3a").is_empty());
    let j = Journal::open_with(dir.path(), small(500)).unwrap();
    for needle in VICTIM_STRINGS {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<PathBuf>::new(),
            "{needle}"
        );
    }
    let got = all(&j, 0);
    assert_eq!(
        got.iter().filter(|(_, r)| *r == Record::Redacted).count(),
        12
    );
    assert_eq!(got.len(), 25);
}

/// A segment as a build before format 2 wrote it: version 1 header, plain-id erasures.
fn write_v1_segment(path: &Path, first_seq: u64, records: &[Record]) {
    let mut bytes = format::header(SegmentKind::Log).to_vec();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    for (k, r) in records.iter().enumerate() {
        let payload = postcard::to_allocvec(r).unwrap();
        format::push_frame(&mut bytes, first_seq + k as u64, &payload);
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn journals_of_format_1_replay_and_lose_their_plain_ids_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<Record> = vec![
        event(1),
        victim_event(2),
        event(3),
        erase("victim-7f3a", 9),
        erase("c4", 10),
        event(4),
    ];
    write_v1_segment(&dir.path().join(format!("{:020}.seg", 1)), 1, &old);
    // The trainer reads it as it is (no key yet: plain ids).
    let r = read_journal(dir.path()).unwrap();
    assert_erased_set(&r.erased, &["victim-7f3a", "c4"]);
    assert_eq!(r.erased_events, 2);

    let j = Journal::open(dir.path()).unwrap();
    let records: Vec<(u64, Record)> = (1..).zip(old).collect();
    assert_eq!(all(&j, 0), after_open(&j, &records));
    for needle in VICTIM_STRINGS {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<PathBuf>::new(),
            "{needle}"
        );
    }
    // New records go to a segment of the current format; the old one is never appended to.
    let a = j.append(&[event(7), erase("c9", 11)]).unwrap();
    assert_eq!(a.first_seq, 7);
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 2);
    let head = std::fs::read(&files[1]).unwrap();
    assert_eq!(
        format::parse_header_version(&head, &files[1]).unwrap().1,
        format::VERSION
    );
    let r = read_journal(dir.path()).unwrap();
    assert_erased_set(&r.erased, &["victim-7f3a", "c4", "c9"]);
    assert!(r.events.iter().all(|e| e.customer_id != "c4"));
}

#[test]
fn a_lost_erasure_key_is_refused_rather_than_bringing_customers_back() {
    let dir = tempfile::tempdir().unwrap();
    {
        let j = Journal::open(dir.path()).unwrap();
        j.append(&[event(1), erase("c1", 1)]).unwrap();
    }
    let key = dir.path().join(key::KEY_FILE);
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    assert!(matches!(
        Journal::open(dir.path()),
        Err(JournalError::MissingKey { .. })
    ));
    assert!(matches!(
        read_journal(dir.path()),
        Err(JournalError::MissingKey { .. })
    ));
    std::fs::write(&key, &saved[..10]).unwrap();
    let err = Journal::open(dir.path()).err().unwrap();
    assert!(matches!(err, JournalError::BadKey { .. }), "{err}");
    assert!(err.to_string().contains("ERASURE_KEY"), "{err}");
    std::fs::write(&key, &saved).unwrap();
    let r = read_journal(dir.path()).unwrap();
    assert_erased_set(&r.erased, &["c1"]);
}
