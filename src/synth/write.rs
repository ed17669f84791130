//! Writing a [`Synthetic`] log: the event CSV and its truth, items and pairs companions.
//!
//! Formatting is hand-rolled (cached day prefixes, integer cents) because the generator must
//! write a million events in well under a second; `format!` per field would dominate.

use super::{NO_ORDER, SynthEvent, Synthetic, category_name};
use crate::time::{DAY, civil_from_days};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Errors of the synthetic generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A configuration field is out of range.
    #[error("synth config field {field:?}: {value} {reason}")]
    InvalidConfig {
        /// Field name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What the field must be.
        reason: &'static str,
    },
    /// Writing an output file failed.
    #[error("writing {}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The four files [`write_csv`] writes for an event file `F.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthPaths {
    /// The event log (`F.csv`).
    pub events: PathBuf,
    /// Per-customer truth (`F.truth.csv`).
    pub truth: PathBuf,
    /// The catalog in the data contract's items format (`F.items.csv`).
    pub items: PathBuf,
    /// Planted complementary pairs (`F.pairs.csv`).
    pub pairs: PathBuf,
}

impl SynthPaths {
    /// Companion paths beside `events`: a trailing `.csv` is replaced, anything else kept
    /// (`out/log.csv` → `out/log.truth.csv`, `out/log` → `out/log.truth.csv`).
    pub fn for_events(events: &Path) -> SynthPaths {
        let name = events
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.strip_suffix(".csv").unwrap_or(&name);
        let sibling = |suffix: &str| events.with_file_name(format!("{stem}.{suffix}.csv"));
        SynthPaths {
            events: events.to_path_buf(),
            truth: sibling("truth"),
            items: sibling("items"),
            pairs: sibling("pairs"),
        }
    }
}

/// Writes the log to `out` and its companions beside it (see [`SynthPaths::for_events`]),
/// returning the four paths.
///
/// - `out`: `customer_id,item_id,timestamp,event,quantity,price,order_id` (data contract;
///   `order_id` is empty for views and carts).
/// - truth: `customer_id,group,rate_per_day,dropout_prob,first_purchase,trips,dropped_out,
///   dropout_time,staples` where `group` is the group's category name and `staples` is
///   `item:cycle_days` joined by `;`.
/// - items: `item_id,category,name,price,available`.
/// - pairs: `item_a,item_b,category`.
pub fn write_csv(synth: &Synthetic, out: &Path) -> Result<SynthPaths, SynthError> {
    let paths = SynthPaths::for_events(out);
    write_file(&paths.events, |w| write_events(w, &synth.events))?;
    write_file(&paths.truth, |w| write_truth(w, synth))?;
    write_file(&paths.items, |w| write_items(w, synth))?;
    write_file(&paths.pairs, |w| write_pairs(w, synth))?;
    Ok(paths)
}

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), SynthError> {
    let wrap = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(wrap)?);
    body(&mut w).map_err(wrap)?;
    w.flush().map_err(wrap)
}

/// Appends `v` in decimal, left-padded with zeros to `width` digits.
fn push_padded(buf: &mut Vec<u8>, v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = v;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    buf.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    buf.extend(digits[..len].iter().rev());
}

/// Appends a price as `units.cc`.
fn push_price(buf: &mut Vec<u8>, price: f32) {
    let cents = (f64::from(price) * 100.0).round().max(0.0) as u64;
    push_padded(buf, cents / 100, 1);
    buf.push(b'.');
    push_padded(buf, cents % 100, 2);
}

/// Appends `c000123`.
fn push_customer(buf: &mut Vec<u8>, c: u32) {
    buf.push(b'c');
    push_padded(buf, u64::from(c), 6);
}

/// Appends `i00042`.
fn push_item(buf: &mut Vec<u8>, i: u32) {
    buf.push(b'i');
    push_padded(buf, u64::from(i), 5);
}

/// External id of customer `c` as the files write it (`c000123`).
pub fn customer_id(c: u32) -> String {
    let mut buf = Vec::with_capacity(8);
    push_customer(&mut buf, c);
    String::from_utf8_lossy(&buf).into_owned()
}

/// External id of item `i` as the files write it (`i00042`).
pub fn item_id(i: u32) -> String {
    let mut buf = Vec::with_capacity(8);
    push_item(&mut buf, i);
    String::from_utf8_lossy(&buf).into_owned()
}

/// RFC 3339 formatter that converts each calendar day once.
#[derive(Default)]
struct TimestampFormatter {
    day: Option<i64>,
    prefix: Vec<u8>,
}

impl TimestampFormatter {
    fn push(&mut self, buf: &mut Vec<u8>, ts: i64) {
        let day = ts.div_euclid(DAY);
        if self.day != Some(day) {
            let (y, m, d) = civil_from_days(day);
            self.prefix.clear();
            push_padded(&mut self.prefix, y.max(0) as u64, 4);
            self.prefix.push(b'-');
            push_padded(&mut self.prefix, u64::from(m), 2);
            self.prefix.push(b'-');
            push_padded(&mut self.prefix, u64::from(d), 2);
            self.prefix.push(b'T');
            self.day = Some(day);
        }
        buf.extend_from_slice(&self.prefix);
        let secs = ts.rem_euclid(DAY) as u64;
        push_padded(buf, secs / 3600, 2);
        buf.push(b':');
        push_padded(buf, secs / 60 % 60, 2);
        buf.push(b':');
        push_padded(buf, secs % 60, 2);
        buf.push(b'Z');
    }
}

fn write_events(w: &mut impl Write, events: &[SynthEvent]) -> io::Result<()> {
    w.write_all(b"customer_id,item_id,timestamp,event,quantity,price,order_id\n")?;
    let mut ts = TimestampFormatter::default();
    let mut buf = Vec::with_capacity(1 << 16);
    for e in events {
        push_customer(&mut buf, e.customer);
        buf.push(b',');
        push_item(&mut buf, e.item);
        buf.push(b',');
        ts.push(&mut buf, e.ts);
        buf.push(b',');
        buf.extend_from_slice(e.kind.as_str().as_bytes());
        buf.push(b',');
        push_padded(&mut buf, u64::from(e.quantity), 1);
        buf.push(b',');
        push_price(&mut buf, e.price);
        buf.push(b',');
        if e.order != NO_ORDER {
            buf.push(b'o');
            push_padded(&mut buf, e.order, 7);
        }
        buf.push(b'\n');
        if buf.len() > (1 << 16) - 256 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)
}

fn write_truth(w: &mut impl Write, synth: &Synthetic) -> io::Result<()> {
    writeln!(
        w,
        "customer_id,group,rate_per_day,dropout_prob,first_purchase,trips,dropped_out,dropout_time,staples"
    )?;
    let mut ts = TimestampFormatter::default();
    let mut buf = Vec::new();
    for t in &synth.truth {
        buf.clear();
        push_customer(&mut buf, t.customer);
        write!(
            buf,
            ",{},{:.6},{:.6},",
            category_name(t.group),
            t.rate_per_day,
            t.dropout_prob
        )?;
        if let Some(first) = t.first_purchase {
            ts.push(&mut buf, first);
        }
        write!(buf, ",{},{},", t.trips, t.dropped_out())?;
        if let Some(gone) = t.dropout_time {
            ts.push(&mut buf, gone);
        }
        buf.push(b',');
        for (k, s) in t.staples.iter().enumerate() {
            if k > 0 {
                buf.push(b';');
            }
            push_item(&mut buf, s.item);
            write!(buf, ":{:.1}", s.cycle_days)?;
        }
        buf.push(b'\n');
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Quotes a CSV field if it needs it (names are generated, but stay safe if that changes).
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

fn write_items(w: &mut impl Write, synth: &Synthetic) -> io::Result<()> {
    writeln!(w, "item_id,category,name,price,available")?;
    let mut buf = Vec::new();
    for item in &synth.items {
        buf.clear();
        push_item(&mut buf, item.item);
        write!(
            buf,
            ",{},{},",
            csv_field(&item.category),
            csv_field(&item.name)
        )?;
        push_price(&mut buf, item.price);
        writeln!(buf, ",{}", item.available())?;
        w.write_all(&buf)?;
    }
    Ok(())
}

fn write_pairs(w: &mut impl Write, synth: &Synthetic) -> io::Result<()> {
    writeln!(w, "item_a,item_b,category")?;
    let mut buf = Vec::new();
    for &(a, b) in &synth.pairs {
        buf.clear();
        push_item(&mut buf, a);
        buf.push(b',');
        push_item(&mut buf, b);
        let group = synth.items.get(a as usize).map_or(0, |i| i.group);
        writeln!(buf, ",{}", category_name(group))?;
        w.write_all(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_rfc3339, parse_timestamp};

    #[test]
    fn fast_timestamps_match_the_reference_formatter() {
        let mut f = TimestampFormatter::default();
        let start = parse_timestamp("2023-12-30T22:10:00Z").expect("valid");
        for ts in (start..start + 5 * DAY)
            .step_by(3_607)
            .chain([0, 951_782_400 - 1])
        {
            let mut buf = Vec::new();
            f.push(&mut buf, ts);
            assert_eq!(String::from_utf8(buf).expect("ascii"), format_rfc3339(ts));
        }
    }

    #[test]
    fn numbers_are_padded_and_prices_rounded_to_cents() {
        let mut buf = Vec::new();
        push_customer(&mut buf, 123);
        buf.push(b' ');
        push_item(&mut buf, 1_234_567);
        buf.push(b' ');
        push_price(&mut buf, 3.99);
        buf.push(b' ');
        push_price(&mut buf, 0.05);
        buf.push(b' ');
        push_price(&mut buf, 12.0);
        assert_eq!(
            String::from_utf8(buf).expect("ascii"),
            "c000123 i1234567 3.99 0.05 12.00"
        );
        assert_eq!(customer_id(42), "c000042");
        assert_eq!(item_id(7), "i00007");
    }

    #[test]
    fn companion_paths_replace_only_a_csv_extension() {
        let p = SynthPaths::for_events(Path::new("out/log.csv"));
        assert_eq!(p.truth, Path::new("out/log.truth.csv"));
        assert_eq!(p.items, Path::new("out/log.items.csv"));
        assert_eq!(p.pairs, Path::new("out/log.pairs.csv"));
        let p = SynthPaths::for_events(Path::new("log.data"));
        assert_eq!(p.truth, Path::new("log.data.truth.csv"));
    }

    #[test]
    fn quotes_fields_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("missing").join("log.csv");
        let err = write_csv(&Synthetic::default(), &out).expect_err("no such directory");
        assert!(
            matches!(&err, SynthError::Io { path, .. } if path == &out),
            "{err:?}"
        );
        assert!(err.to_string().contains("log.csv"));
    }
}
