//! Event times: the reference reader's `parse_time` (RFC 3339 prechecks, then CPython 3.11's
//! C `datetime.fromisoformat`, then `.timestamp()`), ported byte for byte so that the same
//! strings are accepted and give the identical float.
//!
//! The C parser reads a NUL-terminated UTF-8 buffer and sometimes looks one byte past the part
//! it parses; `at` reproduces that (0 past the end), which is why a trailing NUL after `Z` or
//! after a complete offset is accepted, as it is in Python.

/// The text is not a time `parse_time` accepts; Python renders the message from the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeError;

type Parsed<T> = Result<T, TimeError>;

/// RFC 3339 timestamp with an offset -> epoch seconds, exactly as `sopengine.timeutil.parse_time`.
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z, in microseconds since the epoch.
const FIRST_US: i64 = -62_135_596_800_000_000;
const LAST_US: i64 = 253_402_300_799_999_999;

pub fn parse_time(text: &str) -> Parsed<f64> {
    let b = text.as_bytes();
    // parse_time's prechecks index characters; a non-ASCII character among the first eleven
    // fails them or, failing that, the date parser (whose fields are ASCII digits and '-').
    if b.len() < 20
        || !b[..11].is_ascii()
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
    {
        return Err(TimeError);
    }
    if !text.is_ascii() && text.chars().count() < 20 {
        return Err(TimeError);
    }
    // The separator test of fromisoformat: "YYYY-W.." is a week date, which cannot parse here.
    if b[5] == b'W' {
        return Err(TimeError);
    }
    let mut p = 0;
    let year = digits(b, &mut p, 4)?;
    p += 1;
    let month = digits(b, &mut p, 2)?;
    p += 1;
    let day = digits(b, &mut p, 2)?;
    let (clock, offset_us) = parse_isoformat_time(b, 11)?;
    let offset_us = offset_us.ok_or(TimeError)?; // naive: parse_time refuses it
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return Err(TimeError);
    }
    let [hour, minute, second, micro] = clock;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimeError);
    }
    let day_us = (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000
        + i64::from(micro);
    let micros = days_from_epoch(year, month, day) * 86_400_000_000 + day_us - offset_us;
    // The instant must exist in UTC (years 1-9999), where every report shows it.
    if !(FIRST_US..=LAST_US).contains(&micros) {
        return Err(TimeError);
    }
    Ok(micros_to_seconds(micros))
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn digits(b: &[u8], p: &mut usize, n: usize) -> Parsed<i32> {
    let mut v = 0;
    for _ in 0..n {
        let c = at(b, *p);
        if !c.is_ascii_digit() {
            return Err(TimeError);
        }
        v = v * 10 + i32::from(c - b'0');
        *p += 1;
    }
    Ok(v)
}

/// `[hour, minute, second, microsecond]`, and whether something follows (C's return 1).
type Clock = ([i32; 4], bool);

/// C's `parse_hh_mm_ss_ff` over `b[start..end]` (reading on past `end` where C does).
fn parse_hh_mm_ss_ff(b: &[u8], start: usize, end: usize) -> Parsed<Clock> {
    let mut vals = [0i32; 4];
    let mut p = start;
    let mut has_separator = true;
    for (i, val) in vals.iter_mut().take(3).enumerate() {
        *val = digits(b, &mut p, 2)?;
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_separator = c == b':';
        }
        if p >= end {
            return Ok((vals, c != 0));
        } else if has_separator && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_separator {
            p -= 1;
        } else {
            return Err(TimeError);
        }
    }
    let to_parse = (end - p).min(6);
    let mut micro = digits(b, &mut p, to_parse)?;
    for _ in to_parse..6 {
        micro *= 10;
    }
    vals[3] = micro;
    while at(b, p).is_ascii_digit() {
        p += 1;
    }
    Ok((vals, at(b, p) != 0))
}

/// C's `parse_isoformat_time` from `start` to the end: the clock and the offset in
/// microseconds (None: naive). A zero-second offset is UTC whatever its fraction, as in C.
fn parse_isoformat_time(b: &[u8], start: usize) -> Parsed<([i32; 4], Option<i64>)> {
    let end = b.len();
    let mut tz = start;
    loop {
        if matches!(at(b, tz), b'Z' | b'+' | b'-') {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let (clock, trailing) = parse_hh_mm_ss_ff(b, start, tz)?;
    if tz == end {
        return if trailing {
            Err(TimeError)
        } else {
            Ok((clock, None))
        };
    }
    if b[tz] == b'Z' {
        return if at(b, tz + 1) != 0 {
            Err(TimeError)
        } else {
            Ok((clock, Some(0)))
        };
    }
    let sign: i64 = if b[tz] == b'-' { -1 } else { 1 };
    let ([h, m, s, us], trailing) = parse_hh_mm_ss_ff(b, tz + 1, end)?;
    if trailing {
        return Err(TimeError);
    }
    let seconds = sign * (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s));
    if seconds == 0 {
        return Ok((clock, Some(0)));
    }
    let offset = seconds * 1_000_000 + sign * i64::from(us);
    // timezone() wants strictly between -24h and +24h.
    if offset.abs() >= 86_400_000_000 {
        return Err(TimeError);
    }
    Ok((clock, Some(offset)))
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_epoch(year: i32, month: i32, day: i32) -> i64 {
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `micros / 10**6` correctly rounded, as Python's int true division is.
pub(crate) fn micros_to_seconds(micros: i64) -> f64 {
    let n = micros.unsigned_abs();
    // Both operands exact: one IEEE division rounds correctly.
    let magnitude = if n <= 1 << 53 {
        n as f64 / 1e6
    } else {
        nearest_quotient(n)
    };
    if micros < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The f64 nearest n / 10**6 (ties to even), for n beyond 2**53 where `n as f64` is rounded.
fn nearest_quotient(n: u64) -> f64 {
    let approx = n as f64 / 1e6;
    let candidates = [
        f64::from_bits(approx.to_bits() - 1),
        approx,
        f64::from_bits(approx.to_bits() + 1),
    ];
    let parts = candidates.map(|x| {
        let bits = x.to_bits();
        let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
        let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
        (i128::from(mantissa), exp)
    });
    let low = parts.iter().map(|&(_, e)| e).min().unwrap_or(0);
    // |x * 10**6 - n| scaled by 2**-low, exact in i128 (quotients here are below 2**40).
    let error = |&(m, e): &(i128, i32)| {
        (m * 1_000_000 * (1i128 << (e - low)) - i128::from(n) * (1i128 << -low)).abs()
    };
    let mut best = 0;
    for i in 1..3 {
        let (a, b) = (error(&parts[i]), error(&parts[best]));
        if a < b || (a == b && parts[i].0 % 2 == 0) {
            best = i;
        }
    }
    candidates[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_fractions_and_separators_as_python() {
        let cases: &[(&str, f64)] = &[
            ("2024-05-06T09:00:00Z", 1714986000.0),
            ("2024-05-06T09:00:00+0100", 1714982400.0),
            ("2024-05-06T09:00:00,5Z", 1714986000.5),
            ("2024-05-06T09:00:00.1234567Z", 1714986000.123456),
            ("2024-05-06T09:00:00+01:00:30.5", 1714982369.5),
            ("2024-05-06T09:00:00+01", 1714982400.0),
            ("0001-01-01T00:00:00-01:00", -62135593200.0),
            ("2024-05-06T09:00:00.Z", 1714986000.0),
            ("2024-05-06T09:00:00 +01:00", 1714982400.0),
            ("2024-05-06T09:00:00+01:00\0", 1714982400.0),
            ("2024-05-06T09:00:00Z\0x", 1714986000.0),
            ("2024-05-06T09:00:00:5Z", 1714986000.5),
            ("2024-05-06T09:00:00+00:00:00.5", 1714986000.0),
            ("2024-05-06T09:00:00+00:99", 1714980060.0),
            ("2024-05-06T0900000000Z", 1714986000.0),
            ("2024-05-06T09:00:00-23:59:59.999999", 1715072399.999999),
            ("9999-12-31T23:59:59.999999Z", 253402300800.0),
            ("2024-05-06 09:00:00-00:00", 1714986000.0),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_time(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn naive_impossible_and_malformed_times_are_refused() {
        for text in [
            "2024-05-06T09:00:00",
            "2024-02-30T09:00:00Z",
            "2024-05-06t09:00:00z",
            "2024-05-06T09:00:60Z",
            "2024-05-06T24:00:00Z",
            "2024-05-06T09:00:00+24:00",
            "2024-05-06T09:00:00+0:00",
            "2024-05-06T09:00:00.12a3Z",
            "2024-05-06T09:00:00+01:00Z",
            "2024-05-06T09:00:00.5\0+01:00",
            "2024-05-06T09:00:00é+01:00",
            "2024-05-06T09:00:00+01:00.",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00", // before the year 1 in UTC
            "9999-12-31T23:59:59-12:00", // after the year 9999 in UTC
            "9999-12-31T23:59:59-23:59",
            "2024-W1-06T09:00:00Z",
            "2024-05-06T090000Z",
        ] {
            assert_eq!(parse_time(text), Err(TimeError), "{text}");
        }
    }

    #[test]
    fn large_microsecond_counts_round_like_python_int_division() {
        // Python: (2**53 + 1) / 10**6 and neighbours, all correctly rounded.
        for n in [
            (1i64 << 53) + 1,
            253402300799999999,
            -253402300799999999,
            9007199254740993123,
        ] {
            let exact = n as f64 / 1e6;
            let got = micros_to_seconds(n);
            assert!((got - exact).abs() <= exact.abs() * 1e-15, "{n}");
        }
        assert_eq!(micros_to_seconds(253402300799999999), 253402300800.0);
    }
}
