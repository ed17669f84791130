//! Parallel loading of large files: split at record boundaries, parse the parts on the
//! rayon pool into separate [`StoreBuilder`]s, merge them in file order.
//!
//! The result equals a sequential load (ids, order, errors, skip reports): each later part
//! only appends ids new to the earlier ones, in its own first-seen order, and the first
//! error in file order is the one returned. Parsing is the one stage of a load that is not
//! otherwise parallel, and on a 2-core machine this roughly halves it.

use super::error::IngestError;
use super::read::{Format, ReadReport, Sink, read_into};
use super::store::StoreBuilder;
use crate::erasure::ErasedSet;
use crate::progress::{Stage, Unit};
use rayon::prelude::*;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Smallest part worth a thread of its own.
pub const MIN_PART_BYTES: u64 = 4 << 20;

/// A byte range of the file that starts at a record boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    start: u64,
    end: u64,
    /// Newlines before `start` (so the part's first line is `lines_before + 1`).
    lines_before: u64,
}

/// What splitting a file needs: the parts, and the header line to put before every part
/// but the first (CSV formats).
struct Plan {
    parts: Vec<Part>,
    header: Vec<u8>,
}

/// Splits `path` into at most `n` parts of at least `min_part` bytes.
///
/// For the CSV formats a newline ends a record only outside quotes; RFC 4180 escapes a
/// quote inside a field by doubling it, so "outside quotes" is "an even number of quotes
/// so far", exact for well-formed files. JSON Lines and CDNOW never have a newline inside
/// a record.
fn plan(path: &Path, format: Format, n: usize, min_part: u64) -> Result<Plan, IngestError> {
    let io = |e| IngestError::io(path, e);
    let len = std::fs::metadata(path).map_err(io)?.len();
    let n = n.min((len / min_part.max(1)) as usize).max(1);
    let whole = Plan {
        parts: vec![Part {
            start: 0,
            end: len,
            lines_before: 0,
        }],
        header: Vec::new(),
    };
    if n == 1 {
        return Ok(whole);
    }
    let quoted = matches!(format, Format::Csv | Format::Tafeng);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut header = Vec::new();
    let mut header_done = !quoted;
    let (mut offset, mut quotes, mut newlines) = (0u64, 0u64, 0u64);
    let mut cuts = Vec::new();
    let mut target = len / n as u64;
    'scan: loop {
        let got = file.read(&mut buf).map_err(io)?;
        if got == 0 {
            break;
        }
        let chunk = &buf[..got];
        if header_done && offset + got as u64 <= target {
            // No cut can fall in this block: count in bulk (vectorised), don't visit.
            quotes += count_byte(chunk, b'"') * u64::from(quoted);
            newlines += count_byte(chunk, b'\n');
            offset += got as u64;
            continue;
        }
        for pos in memchr::memchr2_iter(b'"', b'\n', chunk) {
            if chunk[pos] == b'"' {
                // JSON escapes quotes with a backslash, so only CSV quotes have parity.
                quotes += u64::from(quoted);
                continue;
            }
            newlines += 1;
            let at = offset + pos as u64;
            if !header_done {
                if quotes % 2 != 0 {
                    // A header with a quoted newline: not worth splitting.
                    return Ok(whole);
                }
                header.extend_from_slice(&chunk[..=pos]);
                header_done = true;
            }
            if at >= target && quotes % 2 == 0 && at + 1 < len {
                cuts.push((at + 1, newlines));
                if cuts.len() == n - 1 {
                    break 'scan;
                }
                target = (cuts.len() as u64 + 1) * len / n as u64;
            }
        }
        if !header_done {
            header.extend_from_slice(chunk);
            if header.len() > super::error::MAX_LINE_BYTES {
                return Ok(whole);
            }
        }
        offset += got as u64;
    }
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let (mut start, mut lines_before) = (0, 0);
    for (cut, lines) in cuts {
        parts.push(Part {
            start,
            end: cut,
            lines_before,
        });
        (start, lines_before) = (cut, lines);
    }
    parts.push(Part {
        start,
        end: len,
        lines_before,
    });
    Ok(Plan { parts, header })
}

fn count_byte(haystack: &[u8], needle: u8) -> u64 {
    haystack.iter().filter(|&&b| b == needle).count() as u64
}

/// Parses one part into its own builder.
fn read_part(
    path: &Path,
    format: Format,
    skip_bad_rows: bool,
    part: Part,
    header: &[u8],
    exclude: Option<&ErasedSet>,
    stage: &Stage,
) -> Result<(StoreBuilder, ReadReport), IngestError> {
    let io = |e| IngestError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(part.start)).map_err(io)?;
    let body = BufReader::with_capacity(256 * 1024, stage.reader(file.take(part.end - part.start)));
    // Later parts of a CSV get the header line in front, which their reader counts as
    // line 1; their own first line is `lines_before + 1` in the file.
    let (prefix, line_offset) = match (part.start, header.is_empty()) {
        (0, _) => (&[][..], 0),
        (_, false) => (header, part.lines_before - 1),
        (_, true) => (&[][..], part.lines_before),
    };
    // Rows are rarely shorter than 40 bytes; over-reserving costs address space only
    // until `finish` gathers into exact-size columns.
    let mut builder = StoreBuilder::with_capacity(((part.end - part.start) / 40) as usize);
    let mut excluded = 0u64;
    let mut report = {
        let mut sink = Sink::with_line_offset(path, skip_bad_rows, line_offset, |_, e| {
            if exclude.is_some_and(|x| x.contains(e.customer_id)) {
                excluded += 1;
            } else {
                builder.push(e);
            }
        });
        match read_into(prefix.chain(body), format, &mut sink) {
            Ok(()) => {}
            // A later part holding only blank lines is empty, not an empty file.
            Err(IngestError::Empty { .. }) if part.start > 0 => {}
            Err(e) => return Err(e),
        }
        sink.report
    };
    report.excluded = excluded;
    Ok((builder, report))
}

/// Reads the events of `path` into one builder, in parallel when the file is large enough,
/// leaving out the events of customers in `exclude` (counted in [`ReadReport::excluded`]).
/// `min_part` is in bytes of text; Parquet files are split by rows instead
/// ([`super::parquet::read_to_builder`]).
pub fn read_to_builder(
    path: &Path,
    format: Format,
    skip_bad_rows: bool,
    min_part: u64,
    exclude: Option<&ErasedSet>,
) -> Result<(StoreBuilder, ReadReport), IngestError> {
    if format == Format::Parquet {
        // Not a text file: split by rows, not bytes.
        return super::parquet::read_to_builder(
            path,
            skip_bad_rows,
            super::parquet::MIN_PART_ROWS,
            exclude,
        );
    }
    let plan = plan(path, format, rayon::current_num_threads(), min_part)?;
    let bytes = plan.parts.last().map_or(0, |p| p.end);
    let stage = Stage::start("load events", bytes, Unit::Bytes);
    let results: Vec<_> = plan
        .parts
        .par_iter()
        .map(|&part| {
            read_part(
                path,
                format,
                skip_bad_rows,
                part,
                &plan.header,
                exclude,
                &stage,
            )
        })
        .collect();
    stage.finish();
    merge_parts(results, path)
}

/// Merges the builders and reports of consecutive parts of `path`, in file order; the first
/// error in file order is the one returned, and a file without events is refused.
pub(crate) fn merge_parts(
    results: Vec<Result<(StoreBuilder, ReadReport), IngestError>>,
    path: &Path,
) -> Result<(StoreBuilder, ReadReport), IngestError> {
    let mut merged: Option<(StoreBuilder, ReadReport)> = None;
    for result in results {
        let (builder, report) = result?;
        match &mut merged {
            None => merged = Some((builder, report)),
            Some((b, r)) => {
                b.append(builder);
                r.rows += report.rows;
                r.excluded += report.excluded;
                r.skipped.merge(report.skipped);
            }
        }
    }
    let (builder, report) = merged.unwrap_or_default();
    if report.rows == 0 && report.skipped.total == 0 {
        return Err(IngestError::NoEvents {
            path: path.to_path_buf(),
        });
    }
    Ok((builder, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::error::Problem;

    /// A contract CSV with quoted commas, doubled quotes, a quoted newline, blank lines and
    /// bad rows spread through it.
    fn sample() -> Vec<u8> {
        let mut s = b"\xEF\xBB\xBFcustomer_id,item_id,timestamp,order_id\r\n".to_vec();
        for k in 0..400 {
            let line = match k % 97 {
                13 => format!(
                    "c{},\"multi\nline {k}\",2020-01-0{},\r\n",
                    k % 31,
                    1 + k % 9
                ),
                41 => format!("c{},i{},not-a-date,\r\n", k % 31, k % 13),
                59 => "\r\n".to_string(),
                _ => format!(
                    "c{},\"i,{}\"\"x\",2020-01-0{}T10:00:00Z,{}\r\n",
                    k % 31,
                    k % 13,
                    1 + k % 9,
                    if k % 5 == 0 { "o1" } else { "" }
                ),
            };
            s.extend(line.bytes());
        }
        s
    }

    fn load(path: &Path, skip: bool, min_part: u64) -> Result<(String, ReadReport), IngestError> {
        let (b, r) = read_to_builder(path, Format::Csv, skip, min_part, None)?;
        let (store, notes) = b.finish(path)?;
        Ok((format!("{store:?} {notes:?}"), r))
    }

    #[test]
    fn parts_end_on_record_boundaries_outside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        let data = sample();
        std::fs::write(&path, &data).unwrap();
        let plan = plan(&path, Format::Csv, 8, 64).unwrap();
        assert_eq!(plan.parts.len(), 8);
        assert!(
            plan.header.starts_with(b"\xEF\xBB\xBFcustomer_id") && plan.header.ends_with(b"\n")
        );
        for w in plan.parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            let cut = w[1].start as usize;
            assert_eq!(data[cut - 1], b'\n');
            let before = &data[..cut];
            assert_eq!(before.iter().filter(|&&c| c == b'"').count() % 2, 0);
            assert_eq!(
                before.iter().filter(|&&c| c == b'\n').count() as u64,
                w[1].lines_before
            );
        }
    }

    #[test]
    fn json_lines_with_escaped_quotes_split_into_parts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let mut data = String::new();
        for k in 0..300 {
            data.push_str(&format!(
                "{{\"customer_id\":\"c{}\\\"q\",\"item_id\":\"i{}\",\"timestamp\":\"2020-01-0{}\"}}\n",
                k % 17,
                k % 11,
                1 + k % 9
            ));
        }
        std::fs::write(&path, &data).unwrap();
        assert_eq!(plan(&path, Format::Jsonl, 4, 64).unwrap().parts.len(), 4);
        let (seq, _) = read_to_builder(&path, Format::Jsonl, false, u64::MAX, None).unwrap();
        let (par, report) = read_to_builder(&path, Format::Jsonl, false, 64, None).unwrap();
        assert_eq!(report.rows, 300);
        let (seq, par) = (seq.finish(&path).unwrap(), par.finish(&path).unwrap());
        assert!(format!("{seq:?}") == format!("{par:?}"));
        assert_eq!(par.0.customers.name(0), Some("c0\"q"));

        // Excluding a customer: same store in parallel, the rows counted in every part.
        let gone: ErasedSet = ["c5\"q".to_string()].into();
        let (seq, r1) =
            read_to_builder(&path, Format::Jsonl, false, u64::MAX, Some(&gone)).unwrap();
        let (par, r2) = read_to_builder(&path, Format::Jsonl, false, 64, Some(&gone)).unwrap();
        let c5 = (0..300).filter(|k| k % 17 == 5).count() as u64;
        assert_eq!((r1.excluded, r2.excluded, r2.rows), (c5, c5, 300));
        let (seq, par) = (seq.finish(&path).unwrap(), par.finish(&path).unwrap());
        assert!(format!("{seq:?}") == format!("{par:?}"));
        assert_eq!(par.0.customer_idx("c5\"q"), None);
        assert_eq!(par.0.len() as u64, 300 - c5);
    }

    #[test]
    fn parallel_load_equals_sequential_load_with_and_without_skipping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.csv");
        std::fs::write(&path, sample()).unwrap();
        let (seq, seq_report) = load(&path, true, u64::MAX).unwrap();
        for min_part in [64, 500, 3000] {
            let (par, par_report) = load(&path, true, min_part).unwrap();
            assert!(par == seq, "min_part {min_part}: stores differ");
            assert_eq!(par_report, seq_report, "min_part {min_part}");
        }
        assert_eq!(seq_report.skipped.by_problem.get("bad timestamp"), Some(&4));
        // Without skipping, the first bad row in file order is the error, at its true line.
        for min_part in [64, u64::MAX] {
            match load(&path, false, min_part) {
                Err(IngestError::Row(e)) => {
                    assert_eq!(
                        (e.line, e.field.as_str(), e.problem),
                        (44, "timestamp", Problem::BadTimestamp)
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
