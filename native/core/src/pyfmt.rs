//! Text as CPython writes it: float and str `repr`, and the two formatters of
//! `sopengine.timeutil` (`format_time`, `format_duration`), with Python's
//! float division, modulo and errors.

use std::sync::OnceLock;

use regex::Regex;

use crate::expr::Raise;
use crate::value::Num;

/// `repr(float)`: the shortest digits that read back to the same float, in exponent form when the
/// decimal exponent is below -4 or at least 16 (`1e+16`, `1.5e-07`).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let n = digits.len() as i32;
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= n {
            format!("{}{}.0", digits, "0".repeat((point - n) as usize))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}e{esign}{:02}", exp.abs())
    }
}

fn unprintable() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // str.isprintable(): not a control, format, surrogate, private-use, unassigned or separator character.
    RE.get_or_init(|| Regex::new(r"^[\p{C}\p{Z}]$").expect("a valid class"))
}

/// `repr(str)`: single quotes unless the text holds `'` and no `"`; escapes as CPython writes them.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    let mut buf = [0u8; 4];
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if !unprintable().is_match(c.encode_utf8(&mut buf)) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isspace()` for one character (it also counts the information separators 0x1c-0x1f).
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python's float `//` (`float_floor_div`).
pub fn float_floordiv(vx: f64, wx: f64) -> f64 {
    let m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && ((wx < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0_f64.copysign(vx / wx)
    }
}

/// Python's float `%` (`float_rem`); the divisor is not zero.
pub fn float_mod(vx: f64, wx: f64) -> f64 {
    let m = vx % wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m + wx
        } else {
            m
        }
    } else {
        0.0_f64.copysign(wx)
    }
}

/// `int / int` correctly rounded, as CPython divides (not `float(a) / float(b)` for large ints).
pub fn int_true_div(a: i128, b: i128) -> f64 {
    const EXACT: u128 = 1 << 53;
    let (n, d) = (a.unsigned_abs(), b.unsigned_abs());
    if n <= EXACT && d <= EXACT {
        return a as f64 / b as f64;
    }
    let negative = (a < 0) != (b < 0);
    if n == 0 {
        return if b < 0 { -0.0 } else { 0.0 };
    }
    let mut bits = n / d;
    let mut rem = n % d;
    let mut exp: i32 = 0;
    while bits < (1u128 << 65) {
        // rem < d <= 2**127, so doubling it cannot overflow
        rem <<= 1;
        bits <<= 1;
        if rem >= d {
            rem -= d;
            bits |= 1;
        }
        exp -= 1;
    }
    let len = 128 - bits.leading_zeros();
    let shift = len - 53;
    let mut mant = bits >> shift;
    let low = bits & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if low > half || (low == half && (rem != 0 || mant & 1 == 1)) {
        mant += 1;
    }
    let value = mant as f64 * 2f64.powi(shift as i32 + exp);
    if negative {
        -value
    } else {
        value
    }
}

/// The decimal digits of an integral float (`str(int(f))`), exactly.
pub fn integral_float_text(f: f64) -> String {
    if f.abs() < 1e38 {
        return (f as i128).to_string();
    }
    let bits = f.abs().to_bits();
    let mut mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let mut exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    while exp < 0 {
        mant >>= 1; // only reached for small values; kept for completeness
        exp += 1;
    }
    // little-endian base 1e9 limbs
    let mut limbs: Vec<u64> = vec![mant % 1_000_000_000, mant / 1_000_000_000];
    for _ in 0..exp {
        let mut carry = 0u64;
        for limb in limbs.iter_mut() {
            let v = *limb * 2 + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::from(if f < 0.0 { "-" } else { "" });
    out.push_str(&limbs.last().copied().unwrap_or(0).to_string());
    for limb in limbs.iter().rev().skip(1) {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

fn float_to_int_text(f: f64) -> Result<String, Raise> {
    if f.is_nan() {
        return Err(Raise::error(
            "ValueError",
            "cannot convert float NaN to integer",
        ));
    }
    if f.is_infinite() {
        return Err(Raise::error(
            "OverflowError",
            "cannot convert float infinity to integer",
        ));
    }
    Ok(integral_float_text(f.trunc()))
}

/// `sopengine.timeutil.format_duration`: `90061` -> `1d1h1m1s`; `0.5` -> `0.5s`.
pub fn format_duration(seconds: Num) -> Result<String, Raise> {
    let as_float = match seconds {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    };
    if as_float == 0.0 {
        return Ok("0s".into());
    }
    let mut rest = as_float;
    let mut out = String::new();
    for (unit, size) in [("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)] {
        let count = float_floordiv(rest, size);
        let text = float_to_int_text(count)?;
        if count != 0.0 {
            out.push_str(&text);
            out.push_str(unit);
            rest -= count * size;
        }
    }
    if out.is_empty() {
        out = match seconds {
            Num::Int(i) => format!("{i}s"),
            Num::Float(f) => format!("{}s", float_repr(f)),
        };
    }
    Ok(out)
}

/// `sopengine.timeutil.format_time` for a number: RFC 3339 in UTC, milliseconds only when the
/// microseconds (rounded half to even, as `datetime.fromtimestamp` rounds) are not zero; CPython's
/// errors for times it cannot represent.
pub fn format_time(epoch: Num) -> Result<String, Raise> {
    let out_of_range = || {
        Raise::error(
            "OverflowError",
            "timestamp out of range for platform time_t",
        )
    };
    let (secs, micros) = match epoch {
        Num::Int(i) => (i64::try_from(i).map_err(|_| out_of_range())?, 0i64),
        Num::Float(f) => {
            if f.is_nan() {
                return Err(Raise::error(
                    "ValueError",
                    "Invalid value NaN (not a number)",
                ));
            }
            let mut whole = f.trunc();
            let mut frac = ((f - whole) * 1e6).round_ties_even();
            if frac >= 1e6 {
                frac -= 1e6;
                whole += 1.0;
            } else if frac < 0.0 {
                frac += 1e6;
                whole -= 1.0;
            }
            // time_t is i64: CPython refuses what does not fit before converting
            if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&whole) {
                return Err(out_of_range());
            }
            (whole as i64, frac as i64)
        }
    };
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (year, month, day) = civil_from_days(i128::from(days));
    if year - 1900 > i128::from(i32::MAX) || year - 1900 < i128::from(i32::MIN) {
        return Err(Raise::error(
            "OSError",
            "[Errno 75] Value too large for defined data type",
        ));
    }
    if !(1..=9999).contains(&year) {
        return Err(Raise::error(
            "ValueError",
            format!("year {year} is out of range"),
        ));
    }
    let clock = format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    let millis = if micros != 0 {
        format!(".{:03}", micros / 1000)
    } else {
        String::new()
    };
    Ok(format!("{year:04}-{month:02}-{day:02}T{clock}{millis}Z"))
}

/// Days since 1970-01-01 to the proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i128) -> (i128, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_is_pythons() {
        let cases = [
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (123.456, "123.456"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-2.5e100, "-2.5e+100"),
            (12345678901234567.0, "1.2345678901234568e+16"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x}");
        }
    }

    #[test]
    fn str_repr_quotes_and_escapes_as_python() {
        assert_eq!(str_repr("a"), "'a'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("'\""), "'\\'\"'");
        assert_eq!(str_repr("a\nb\t\\\x00\x7f"), "'a\\nb\\t\\\\\\x00\\x7f'");
        assert_eq!(str_repr("é€\u{a0}\u{200b}"), "'é€\\xa0\\u200b'");
    }

    #[test]
    fn format_time_rounds_and_refuses_as_datetime() {
        let t = |f: f64| format_time(Num::Float(f));
        assert_eq!(t(0.0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(t(1714554000.0).unwrap(), "2024-05-01T09:00:00Z");
        assert_eq!(t(0.0005).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(t(1.0000005).unwrap(), "1970-01-01T00:00:01.000Z");
        assert_eq!(t(-0.0000005).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(t(-62135596800.0).unwrap(), "0001-01-01T00:00:00Z");
        assert_eq!(t(-1.5).unwrap(), "1969-12-31T23:59:58.500Z");
        let err = |f: f64| match t(f) {
            Err(Raise::Error { class, message }) => format!("{class}: {message}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(f64::NAN),
            "ValueError: Invalid value NaN (not a number)"
        );
        assert_eq!(
            err(1e20),
            "OverflowError: timestamp out of range for platform time_t"
        );
        assert_eq!(
            err(1e18),
            "OSError: [Errno 75] Value too large for defined data type"
        );
        assert_eq!(
            err(253402300800.0),
            "ValueError: year 10000 is out of range"
        );
        assert_eq!(err(-62135596801.0), "ValueError: year 0 is out of range");
    }

    #[test]
    fn format_duration_as_timeutil() {
        let d = |f: f64| format_duration(Num::Float(f)).unwrap();
        assert_eq!(d(0.0), "0s");
        assert_eq!(d(-0.0), "0s");
        assert_eq!(d(172800.0), "2d");
        assert_eq!(d(90061.5), "1d1h1m1s");
        assert_eq!(d(0.5), "0.5s");
        assert_eq!(d(59.99999), "59s");
        assert_eq!(d(-1.0), "-1d23h59m59s");
        assert_eq!(d(1e-300), "1e-300s");
        assert_eq!(format_duration(Num::Int(3)).unwrap(), "3s");
        assert!(d(1e300).starts_with("11574074074074075286836787544866678821745987056604175023500816899304269782041523435907524344628635665405416670583108548605947991716807168757972276892069424448724245576477278546532394019395825038853449640879636710525785251878013369859883602071245536387179032528386198770026926019611612524027314176d"));
        assert!(format_duration(Num::Float(f64::INFINITY)).is_err());
    }

    #[test]
    fn int_division_is_correctly_rounded() {
        assert_eq!(int_true_div(1, 3), 1.0 / 3.0);
        assert_eq!(int_true_div(-7, 2), -3.5);
        assert!(int_true_div(0, -(1 << 60)).is_sign_negative());
        // 2**64 + 1 over 3: float(a)/float(b) would round twice
        assert_eq!(int_true_div(18446744073709551617, 3), 6.148914691236517e18);
        assert_eq!(
            int_true_div(18446744073709551615, 9007199254740993),
            2047.9999999999998
        );
    }
}
