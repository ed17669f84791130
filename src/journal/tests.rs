//! Journal tests: round trips, crash repair, damage detection, compaction, concurrency.

use super::*;
use crate::ingest::EventKind;

fn event(k: u64) -> Record {
    Record::Event(RawEvent {
        customer_id: format!("c{}", k % 17),
        item_id: format!("item-{k}"),
        timestamp: 1_600_000_000 + k as i64 * 60,
        kind: EventKind::ALL[(k % 4) as usize],
        quantity: 1.0 + (k % 3) as f32,
        price: 0.5 * k as f32,
        order_id: (k % 5 == 0).then(|| format!("o{k}")),
        category: (k % 2 == 0).then(|| "fruit".to_string()),
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
        assert_eq!(all(&j, 0), expected);
    }
    assert!(segment_files(dir.path()).len() > 5, "segments must roll");
    let j = Journal::open_with(dir.path(), small(2048)).unwrap();
    assert_eq!(j.last_seq(), expected.len() as u64);
    assert_eq!(all(&j, 0), expected);
    assert_eq!(all(&j, 100), expected[100..].to_vec());
    assert!(all(&j, expected.len() as u64).is_empty());
    let mut stats_seen = 0;
    let stats = j.replay(0, |_, _| stats_seen += 1).unwrap();
    assert_eq!(stats.records, expected.len() as u64);
    assert_eq!(stats.erasures, 4);
    assert_eq!(stats.events, stats.records - 4);
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
