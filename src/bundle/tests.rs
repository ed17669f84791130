//! Round trips, every refusal case, atomic writes and the frozen-format compat test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Toy {
    name: String,
    weights: Vec<f64>,
    k: u32,
}

fn toy() -> Toy {
    Toy {
        name: "toy".to_string(),
        weights: vec![0.5, -1.25, 3.0],
        k: 7,
    }
}

fn metadata() -> Metadata {
    let mut m = Metadata::new(1_700_000_000);
    m.data_range = Some(DataRange {
        first_event_at: 1_600_000_000,
        last_event_at: 1_690_000_000,
    });
    m.events = 1234;
    m.customers = 56;
    m.items = 78;
    m.config = "[als]\nfactors = 4\n".to_string();
    m.metrics = BTreeMap::from([("churn.auc".to_string(), 0.75)]);
    m.features = vec![FeatureImportance {
        name: "recency_days".to_string(),
        importance: 12.5,
    }];
    m
}

const FACTORS: [f32; 12] = [
    0.0,
    1.0,
    2.0,
    3.0,
    4.5,
    -5.5,
    6.0,
    7.0,
    8.0,
    9.0,
    10.0,
    f32::MIN_POSITIVE,
];
const IDS: [u32; 5] = [3, 1, 4, 1, u32::MAX];

fn small_bundle() -> Vec<u8> {
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_struct("toy", &toy()).expect("encodes");
    w.put_array_f32("factors", &FACTORS, &[3, 4])
        .expect("shape fits");
    w.put_array_u32("ids", &IDS, &[5]).expect("shape fits");
    w.to_bytes().expect("writes to memory")
}

#[test]
fn round_trip_in_memory() {
    let b = Bundle::from_bytes(&small_bundle()).expect("valid bundle");
    assert_eq!(b.get_struct::<Toy>("toy").expect("decodes"), toy());
    assert_eq!(b.array_f32("factors").expect("f32 section"), &FACTORS);
    assert_eq!(b.array_u32("ids").expect("u32 section"), &IDS);
    assert_eq!(b.shape("factors").expect("exists"), &[3, 4]);
    let names: Vec<&str> = b.section_names().collect();
    assert_eq!(names, ["toy", "factors", "ids", METADATA_SECTION]);
    let m = b.metadata();
    let mut expected = metadata();
    expected.model_version = m.model_version.clone();
    assert_eq!(m, &expected);
    assert!(
        m.model_version.starts_with("20231114T221320Z-"),
        "{}",
        m.model_version
    );
    assert_eq!(m.model_version.len(), "20231114T221320Z-".len() + 8);
}

#[test]
fn sections_are_aligned_and_zero_copy() {
    let b = Bundle::from_bytes(&small_bundle()).expect("valid bundle");
    for s in b.sections() {
        assert_eq!(s.offset % SECTION_ALIGN as u64, 0, "section {}", s.name);
    }
    let base = b.array_u32("ids").expect("exists").as_ptr() as usize;
    assert_eq!(base % SECTION_ALIGN, 0, "views point into the aligned map");
}

#[test]
fn model_version_changes_with_content_and_explicit_one_is_kept() {
    let a = Bundle::from_bytes(&small_bundle()).expect("valid");
    let other = [1.0f32; 12];
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_struct("toy", &toy()).expect("encodes");
    w.put_array_f32("factors", &other, &[3, 4]).expect("fits");
    w.put_array_u32("ids", &IDS, &[5]).expect("fits");
    let b = Bundle::from_bytes(&w.to_bytes().expect("writes")).expect("valid");
    assert_ne!(a.metadata().model_version, b.metadata().model_version);

    let mut m = metadata();
    m.model_version = "release-42".to_string();
    let mut w = BundleWriter::new();
    w.metadata(m);
    let c = Bundle::from_bytes(&w.to_bytes().expect("writes")).expect("valid");
    assert_eq!(c.metadata().model_version, "release-42");
}

#[test]
fn accessors_refuse_missing_and_wrong_kind() {
    let b = Bundle::from_bytes(&small_bundle()).expect("valid bundle");
    assert!(matches!(
        b.array_f32("nope"),
        Err(BundleError::MissingSection { .. })
    ));
    assert!(matches!(
        b.array_f32("ids"),
        Err(BundleError::WrongKind {
            expected: SectionKind::F32,
            found: SectionKind::U32,
            ..
        })
    ));
    assert!(matches!(
        b.get_struct::<Toy>("factors"),
        Err(BundleError::WrongKind { .. })
    ));
    // A struct section decoded as the wrong type is an error, not a panic.
    assert!(matches!(
        b.get_struct::<Vec<String>>("toy"),
        Err(BundleError::Decode { .. })
    ));
}

#[test]
fn writer_refuses_bad_shapes_duplicate_names_and_missing_metadata() {
    let mut w = BundleWriter::new();
    assert!(matches!(
        w.put_array_f32("f", &FACTORS, &[5, 4]),
        Err(BundleError::Shape { len: 12, .. })
    ));
    assert!(matches!(
        w.put_array_u32("u", &IDS, &[usize::MAX, 2]),
        Err(BundleError::Shape { .. })
    ));
    w.put_array_u32("u", &IDS, &[5]).expect("fits");
    assert!(matches!(
        w.put_struct("u", &1u8),
        Err(BundleError::NameTaken { .. })
    ));
    assert!(matches!(
        w.put_struct(METADATA_SECTION, &1u8),
        Err(BundleError::NameTaken { .. })
    ));
    assert!(matches!(w.to_bytes(), Err(BundleError::NoMetadata)));
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        w.write_atomic(&dir.path().join("x.bundle")),
        Err(BundleError::NoMetadata)
    ));
}

#[test]
fn every_flipped_byte_is_refused() {
    let good = small_bundle();
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            assert!(
                Bundle::from_bytes(&bad).is_err(),
                "flipping bit {bit:#x} of byte {i} of {} was accepted",
                good.len()
            );
        }
    }
}

#[test]
fn flipped_section_byte_names_the_section() {
    let good = small_bundle();
    let b = Bundle::from_bytes(&good).expect("valid");
    let s = b.section("factors").expect("exists");
    let mut bad = good.clone();
    bad[s.offset as usize + 5] ^= 0x10;
    match Bundle::from_bytes(&bad) {
        Err(e @ BundleError::Section { .. }) => {
            let BundleError::Section { section, fault, .. } = &e else {
                unreachable!()
            };
            assert_eq!(section, "factors");
            assert!(matches!(fault, SectionFault::Checksum { .. }));
            assert!(e.to_string().contains("\"factors\""), "{e}");
        }
        other => panic!("expected a section error, got {other:?}"),
    }
}

#[test]
fn every_truncation_is_refused() {
    let good = small_bundle();
    for len in 0..good.len() {
        let err = Bundle::from_bytes(&good[..len]).expect_err("truncated bundle accepted");
        // Cutting the end always removes the footer magic.
        assert!(
            matches!(err, BundleError::Truncated { .. }),
            "length {len}: {err}"
        );
    }
}

#[test]
fn a_damaged_trailing_magic_is_not_called_a_truncation() {
    let good = small_bundle();
    for back in 1..=8 {
        let mut bad = good.clone();
        let at = bad.len() - back;
        bad[at] ^= 0x20;
        let err = Bundle::from_bytes(&bad).expect_err("accepted");
        assert!(
            matches!(err, BundleError::Corrupt { .. }),
            "byte -{back}: {err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("magic bytes at the end") && !msg.contains("truncated"),
            "{msg}"
        );
    }
}

#[test]
fn a_directory_given_as_the_bundle_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Bundle::open(dir.path()).expect_err("a directory");
    assert!(
        matches!(
            err,
            BundleError::NotAFile {
                kind: "a directory",
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("is a directory, not a bundle file") && msg.contains(".bundle"),
        "{msg}"
    );
    assert!(!msg.contains("os error"), "{msg}");
}

#[test]
fn wrong_magic_is_refused_as_not_a_bundle() {
    let mut bad = small_bundle();
    bad[..8].copy_from_slice(b"PK\x03\x04zip!");
    let err = Bundle::from_bytes(&bad).expect_err("accepted");
    assert!(matches!(err, BundleError::NotABundle { .. }), "{err}");
    assert!(err.to_string().contains("not a propensity bundle"));
}

#[test]
fn other_format_version_is_refused_with_retrain_hint() {
    let good = small_bundle();
    for version in [0u32, FORMAT_VERSION + 1, 99] {
        let mut bad = good.clone();
        let footer_version_at = bad.len() - 36 + 20;
        bad[8..12].copy_from_slice(&version.to_le_bytes());
        bad[footer_version_at..footer_version_at + 4].copy_from_slice(&version.to_le_bytes());
        let err = Bundle::from_bytes(&bad).expect_err("accepted");
        match &err {
            BundleError::Incompatible {
                found,
                oldest,
                newest,
                ..
            } => {
                assert_eq!((*found, *oldest, *newest), (version, 1, FORMAT_VERSION));
            }
            other => panic!("version {version}: expected Incompatible, got {other}"),
        }
        assert!(
            err.to_string().contains("retrain with this version"),
            "{err}"
        );
    }
}

#[test]
fn write_atomic_round_trips_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.bundle");
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_array_f32("factors", &FACTORS, &[3, 4]).expect("fits");
    let written = w.write_atomic(&path).expect("writes");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files, ["m.bundle"]);
    let b = Bundle::open(&path).expect("opens");
    assert_eq!(b.metadata(), &written);
    assert_eq!(b.array_f32("factors").expect("exists"), &FACTORS);
    assert_eq!(b.len_bytes(), std::fs::metadata(&path).expect("stat").len());
}

#[test]
fn replacing_a_bundle_keeps_open_maps_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.bundle");
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_array_f32("factors", &FACTORS, &[3, 4]).expect("fits");
    w.write_atomic(&path).expect("writes");
    let old = Bundle::open(&path).expect("opens");

    let ones = [1.0f32; 12];
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_array_f32("factors", &ones, &[3, 4]).expect("fits");
    w.write_atomic(&path).expect("overwrites");

    assert_eq!(
        old.array_f32("factors").expect("exists"),
        &FACTORS,
        "old map unchanged"
    );
    let new = Bundle::open(&path).expect("opens");
    assert_eq!(new.array_f32("factors").expect("exists"), &ones);
}

#[test]
fn write_atomic_into_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent").join("m.bundle");
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    let err = w.write_atomic(&path).expect_err("no directory");
    assert!(
        matches!(err, BundleError::Io { op: "creating", .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 0);
}

#[test]
fn open_reports_missing_file_and_short_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.bundle");
    assert!(matches!(
        Bundle::open(&missing),
        Err(BundleError::Io { op: "opening", .. })
    ));
    let short = dir.path().join("short.bundle");
    std::fs::write(&short, b"PRPNSTY\0").expect("writes");
    assert!(matches!(
        Bundle::open(&short),
        Err(BundleError::Truncated { len_bytes: 8, .. })
    ));
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1.bundle")
}

/// Regenerates the frozen v1 fixture. Run once when format version 1 ships
/// (`cargo test --lib bundle::tests::write_v1_fixture -- --ignored`), never afterwards:
/// the point of the fixture is that it does not change.
#[test]
#[ignore]
fn write_v1_fixture() {
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.put_struct("toy", &toy()).expect("encodes");
    w.put_array_f32("factors", &FACTORS, &[3, 4]).expect("fits");
    w.put_array_u32("ids", &IDS, &[5]).expect("fits");
    w.write_atomic(&fixture_path()).expect("writes fixture");
}

/// The compat test: bundles written by format version 1 must keep opening, with the same
/// answers, for as long as `OLDEST_SUPPORTED_FORMAT_VERSION <= 1`.
#[test]
fn frozen_v1_fixture_still_reads() {
    let b = Bundle::open(&fixture_path()).expect("v1 fixture opens");
    assert_eq!(b.format_version(), 1);
    assert_eq!(b.get_struct::<Toy>("toy").expect("decodes"), toy());
    assert_eq!(b.array_f32("factors").expect("exists"), &FACTORS);
    assert_eq!(b.array_u32("ids").expect("exists"), &IDS);
    let m = b.metadata();
    assert_eq!(m.created_at, 1_700_000_000);
    assert_eq!(m.metrics.get("churn.auc"), Some(&0.75));
    assert_eq!(m.features[0].name, "recency_days");
    assert_eq!(m.model_version, FIXTURE_MODEL_VERSION);
    // Written before bundles could carry a journal position.
    assert_eq!(b.journal_seq().expect("absent is fine"), None);
}

#[test]
fn journal_seq_is_an_optional_section() {
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    w.journal_seq(4242).expect("encodes");
    let b = Bundle::from_bytes(&w.to_bytes().expect("writes")).expect("valid");
    assert_eq!(b.journal_seq().expect("decodes"), Some(4242));
    assert_eq!(BundleSummary::of(&b).journal_seq, Some(4242));
    let mut w = BundleWriter::new();
    w.metadata(metadata());
    let b = Bundle::from_bytes(&w.to_bytes().expect("writes")).expect("valid");
    assert_eq!(b.journal_seq().expect("absent"), None);
    let json = serde_json::to_string(&BundleSummary::of(&b)).expect("renders");
    assert!(!json.contains("journal_seq"), "{json}");
}

/// Model version of the frozen fixture, as written when it was generated.
const FIXTURE_MODEL_VERSION: &str = "20231114T221320Z-1fe6360f";

#[test]
fn summary_sorts_importance_and_formats_times() {
    let mut w = BundleWriter::new();
    let mut m = metadata();
    m.features.push(FeatureImportance {
        name: "frequency".to_string(),
        importance: 40.0,
    });
    w.metadata(m);
    let b = Bundle::from_bytes(&w.to_bytes().expect("writes")).expect("valid");
    let s = BundleSummary::of(&b);
    let names: Vec<&str> = s
        .feature_importance
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["frequency", "recency_days"]);
    assert_eq!(s.created_at, "2023-11-14T22:13:20Z");
    let range = s.data_range.expect("set");
    assert_eq!(range.first_event_at, "2020-09-13T12:26:40Z");
    assert_eq!(
        s.sections.last().map(|x| x.name.as_str()),
        Some(METADATA_SECTION)
    );
    assert_eq!(s.len_bytes, b.len_bytes());
}
