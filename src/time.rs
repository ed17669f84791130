//! Calendar arithmetic and timestamp parsing, in seconds since the Unix epoch (UTC).
//!
//! Event logs carry dates in a handful of shapes (RFC 3339, `YYYY-MM-DD`, Ta-Feng's
//! `m/d/yyyy`, CDNOW's `yyyymmdd`). Parsing them here, without a date crate, keeps the hot
//! ingest loop allocation-free and the accepted shapes explicit.

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// Seconds since the epoch by the system clock; a clock before 1970 reads as 0.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Calendar date `(year, month, day)` for a count of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn checked_date(y: u32, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i64, m) {
        return None;
    }
    Some(days_from_civil(y as i64, m, d) * DAY)
}

/// Parses `YYYY-MM-DD` (midnight UTC) or RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`,
/// a space is accepted for `T`). Fractional seconds are truncated.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = checked_date(digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?)?;
    if b.len() == 10 {
        return Some(day);
    }
    if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b.len() < 19 {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mm, ss) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some((&b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])? as i64;
            let om = digits(&[*m1, *m2])? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(day + hh as i64 * 3600 + mm as i64 * 60 + ss.min(59) as i64 - offset)
}

/// Parses Ta-Feng's `m/d/yyyy` (one- or two-digit month and day).
pub fn parse_mdy(s: &str) -> Option<i64> {
    let mut parts = s.trim().split('/');
    let m = digits(parts.next()?.as_bytes())?;
    let d = digits(parts.next()?.as_bytes())?;
    let y = digits(parts.next()?.as_bytes())?;
    if parts.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    checked_date(y, m, d)
}

/// Parses CDNOW's `yyyymmdd`.
pub fn parse_yyyymmdd(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() != 8 {
        return None;
    }
    checked_date(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?)
}

/// Formats seconds since the epoch as RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn format_rfc3339(t: i64) -> String {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Formats the calendar day of a timestamp as `YYYY-MM-DD`.
pub fn format_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_centuries() {
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn parses_the_accepted_shapes() {
        assert_eq!(parse_timestamp("1970-01-02"), Some(DAY));
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00"), Some(3600));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00.123+01:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00-00:30"), Some(1800));
        assert_eq!(parse_mdy("11/1/2000"), parse_timestamp("2000-11-01"));
        assert_eq!(parse_mdy("2/28/2001"), parse_timestamp("2001-02-28"));
        assert_eq!(parse_yyyymmdd("19970101"), parse_timestamp("1997-01-01"));
    }

    #[test]
    fn rejects_impossible_or_malformed_dates() {
        for bad in [
            "",
            "2001-02-29",
            "2000-13-01",
            "2000-00-10",
            "2000-1-01",
            "2000-01-01T25:00:00Z",
            "2000-01-01T10:00:00+5",
            "2000-01-01T10:00",
            "2000-01-01X",
            "yesterday",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_timestamp("2000-02-29"),
            Some(days_from_civil(2000, 2, 29) * DAY)
        );
        assert_eq!(parse_mdy("2/30/2001"), None);
        assert_eq!(parse_mdy("1/1/01"), None);
        assert_eq!(parse_yyyymmdd("1997011"), None);
    }

    #[test]
    fn formats_back() {
        let t = parse_timestamp("2001-02-01T13:14:15Z").unwrap();
        assert_eq!(format_rfc3339(t), "2001-02-01T13:14:15Z");
        assert_eq!(format_date(t), "2001-02-01");
        assert_eq!(format_date(-1), "1969-12-31");
    }
}
