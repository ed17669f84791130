//! `propensity-train erase` and `train --journal` end to end: the trainer binary on a
//! synthetic log and a journal written by the library, as the server writes it.

use crate::trainer;
use propensity::bundle::Bundle;
use propensity::ingest::{Format, RawEvent, read_events};
use propensity::journal::{Journal, Record};
use propensity::models::TrainedModels;
use std::path::Path;
use std::process::Output;

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn synth(path: &Path) {
    ok(&trainer(&[
        "synth",
        "--customers",
        "300",
        "--items",
        "80",
        "--seed",
        "5",
        "--out",
        &path.to_string_lossy(),
    ]));
}

fn events_of(path: &Path) -> Vec<RawEvent> {
    let mut out = Vec::new();
    read_events(path, Format::Csv, false, |_, e| out.push(RawEvent::from(e))).expect("reads");
    out
}

/// Events compared field by field, with NaN prices equal to each other.
fn same(a: &[RawEvent], b: &[RawEvent]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let (mut x, mut y) = (x.clone(), y.clone());
            if x.price.is_nan() && y.price.is_nan() {
                (x.price, y.price) = (0.0, 0.0);
            }
            x == y
        })
}

#[test]
fn erase_removes_exactly_that_customers_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.csv");
    synth(&events);
    let before = events_of(&events);
    let victim = before[before.len() / 2].customer_id.clone();
    let out = dir.path().join("erased.csv");
    let (e, o) = (events.to_string_lossy(), out.to_string_lossy());
    let stdout = ok(&trainer(&[
        "erase",
        "--events",
        &e,
        "--customer",
        &victim,
        "--out",
        &o,
    ]));
    let after = events_of(&out);
    let want: Vec<RawEvent> = before
        .iter()
        .filter(|r| r.customer_id != victim)
        .cloned()
        .collect();
    assert!(want.len() < before.len());
    assert!(same(&after, &want), "the other rows are kept in order");
    assert!(
        stdout.contains(&format!("removed     {} rows", before.len() - want.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("kept        {} rows", want.len())),
        "{stdout}"
    );

    // An unknown id fails and writes nothing, unless allowed.
    let out2 = dir.path().join("none.csv");
    let o2 = out2.to_string_lossy();
    let r = trainer(&[
        "erase",
        "--events",
        &e,
        "--customer",
        "nobody",
        "--out",
        &o2,
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("no rows for customer nobody"), "{err}");
    assert!(!out2.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("lists").count(),
        5,
        "no temporary file left behind (events, truth, items, pairs, erased)"
    );
    ok(&trainer(&[
        "erase",
        "--events",
        &e,
        "--customer",
        "nobody",
        "--out",
        &o2,
        "--allow-missing",
    ]));
    assert!(same(&events_of(&out2), &before));

    // Never over the input.
    let r = trainer(&["erase", "--events", &e, "--customer", &victim, "--out", &e]);
    assert!(!r.status.success());
    assert!(same(&events_of(&events), &before));
}

#[test]
fn train_with_journal_learns_new_customers_and_forgets_erased_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.csv");
    synth(&events);
    let file_events = events_of(&events);
    let victim = file_events[0].customer_id.clone();
    let last = file_events
        .iter()
        .map(|e| e.timestamp)
        .max()
        .expect("events");
    let item = file_events[1].item_id.clone();

    // The server holds the journal open while the trainer reads it.
    let jdir = dir.path().join("journal");
    let journal = Journal::open(&jdir).expect("opens");
    let mut batch: Vec<Record> = (0..3)
        .map(|k| {
            let mut e = RawEvent::purchase("journal-new", &item, last - 86_400 * (3 - k));
            e.price = 4.5;
            Record::Event(e)
        })
        .collect();
    batch.push(Record::Event(RawEvent::purchase(&victim, &item, last)));
    journal.append(&batch).expect("appends");
    journal
        .append(&[Record::Erase {
            customer_id: victim.clone(),
            at: last + 10,
        }])
        .expect("appends");

    let bundle_path = dir.path().join("b.bundle");
    let stdout = ok(&trainer(&[
        "train",
        "--events",
        &events.to_string_lossy(),
        "--journal",
        &jdir.to_string_lossy(),
        "--out",
        &bundle_path.to_string_lossy(),
    ]));
    assert!(stdout.contains("3 events applied, up to seq 5"), "{stdout}");
    let victim_rows = file_events
        .iter()
        .filter(|e| e.customer_id == victim)
        .count();
    assert!(
        stdout.contains(&format!(
            "erased      1 customers: {victim_rows} rows of the events file"
        )),
        "{stdout}"
    );

    let bundle = Bundle::open(&bundle_path).expect("bundle opens");
    assert_eq!(bundle.journal_seq().expect("decodes"), Some(5));
    let models = TrainedModels::from_bundle(&bundle).expect("models decode");
    let ids = &models.base.customer_ids;
    assert!(!ids.contains(&victim), "erased customer is in the bundle");
    let new = ids
        .iter()
        .position(|c| c == "journal-new")
        .expect("journal customer is in the bundle");
    assert_ne!(models.base.row_of[new], u32::MAX, "and has a feature row");
    assert_eq!(
        bundle.metadata().events as usize,
        file_events.len() - victim_rows + 3
    );

    // A journaled event breaking the contract names its segment and seq.
    let mut bad = RawEvent::purchase("c", "i", last);
    bad.quantity = f32::INFINITY;
    journal.append(&[Record::Event(bad)]).expect("appends");
    let r = trainer(&[
        "train",
        "--events",
        &events.to_string_lossy(),
        "--journal",
        &jdir.to_string_lossy(),
        "--out",
        &bundle_path.to_string_lossy(),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("00000000000000000001.seg, seq 6") && err.contains("quantity"),
        "{err}"
    );
}
