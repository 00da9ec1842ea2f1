//! Text read as CPython reads it: `int(text)`, `float(text)`, and the conversions of
//! `sopengine.adapters._from_text` (a declared boolean, number or list written as text).
//!
//! CPython first turns every Unicode white space into a space and every Unicode decimal digit
//! (category Nd) into its ASCII digit (`_PyUnicode_TransformDecimalAndSpaceToASCII`); any other
//! character outside ASCII makes the text no number. Underscores may stand between two digits.

use std::sync::Arc;

use crate::pyfmt::{py_isspace, py_strip};
use crate::value::{Str, Value};

/// The first code point of each run of ten Unicode decimal digits (0 to 9), category Nd, as in
/// CPython 3.11's `unicodedata` (Unicode 14.0): `[c for c in range(0x110000) if
/// unicodedata.category(chr(c)) == 'Nd' and unicodedata.decimal(chr(c)) == 0]`. Every Nd character
/// lies in one of these runs (tests/test_native_xes.py checks the table against Python).
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// CPython refuses to read an int of more decimal digits than this (`sys.int_info.default_max_str_digits`).
const MAX_STR_DIGITS: usize = 4300;

/// The decimal value of a Unicode decimal digit (`unicodedata.decimal`), else None.
pub fn decimal(c: char) -> Option<u8> {
    let c = c as u32;
    let i = DIGIT_ZEROS.partition_point(|&zero| zero <= c);
    let zero = *DIGIT_ZEROS.get(i.checked_sub(1)?)?;
    (c - zero < 10).then(|| (c - zero) as u8)
}

/// The text as CPython hands it to its number parsers: white space as spaces, decimal digits as
/// ASCII, stripped; None when it holds any other character outside ASCII.
fn ascii_number_text(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if py_isspace(c) {
            out.push(' ');
        } else if c.is_ascii() {
            out.push(c);
        } else {
            out.push((b'0' + decimal(c)?) as char);
        }
    }
    Some(
        out.trim_matches(|c: char| c.is_ascii_whitespace())
            .to_owned(),
    )
}

/// The text without the underscores that stand between two digits; None when one does not.
fn without_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let digit_before = i > 0 && bytes[i - 1].is_ascii_digit();
            let digit_after = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(digit_before && digit_after) {
                return None;
            }
        } else {
            out.push(b as char);
        }
    }
    Some(out)
}

/// `int(text)` (base 10): a Python int as the core holds it, or None where CPython raises
/// ValueError. An int past 128 bits, which the core cannot hold, is read as the nearest float.
pub fn py_int(text: &str) -> Option<Value> {
    let ascii = ascii_number_text(text)?;
    let clean = without_underscores(&ascii)?;
    let digits = clean.strip_prefix(['+', '-']).unwrap_or(&clean);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > MAX_STR_DIGITS {
        return None;
    }
    Some(match clean.parse::<i128>() {
        Ok(i) => Value::int(i),
        Err(_) => Value::Float(clean.parse::<f64>().ok()?),
    })
}

/// `float(text)`, or None where CPython raises ValueError.
pub fn py_float(text: &str) -> Option<f64> {
    let ascii = ascii_number_text(text)?;
    let clean = without_underscores(&ascii)?;
    let (negative, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let special = match lower.as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(x) = special {
        return Some(if negative { -x } else { x });
    }
    // [digits][.digits] with a digit somewhere, then an optional exponent with digits.
    let bytes = body.as_bytes();
    let mut i = 0;
    let int_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != bytes.len() {
        return None;
    }
    let x: f64 = body.parse().ok()?;
    Some(if negative { -x } else { x })
}

/// `str.strip().lower()` compared with ASCII words: no character outside ASCII lowers to one of
/// the letters these words use, so a text holding one is none of them.
fn lowered(text: &str) -> Option<String> {
    let stripped = py_strip(text);
    stripped.is_ascii().then(|| stripped.to_ascii_lowercase())
}

/// XES `boolean`: `text.strip().lower() == "true"`.
pub fn xes_boolean(text: &str) -> bool {
    lowered(text).as_deref() == Some("true")
}

/// A declared field's type, as `sopengine.adapters._from_text` converts text to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    Boolean,
    Number,
    List,
}

/// `_from_text(text, kind)`: the value text stands for, or None where the text is no such value
/// (it then stays text, and the data check refuses it).
pub fn from_text(text: &str, kind: TextKind) -> Option<Value> {
    match kind {
        TextKind::Boolean => {
            let low = lowered(text)?;
            match low.as_str() {
                "true" | "1" | "yes" => Some(Value::Bool(true)),
                "false" | "0" | "no" => Some(Value::Bool(false)),
                _ => None,
            }
        }
        TextKind::Number => {
            let number = py_float(text)?;
            if number.is_finite() && number.fract() == 0.0 && !text.contains('.') {
                // int(number): exact, as the float is integral.
                if number.abs() < 1.7e38 {
                    return Some(Value::int(number as i128));
                }
            }
            Some(Value::Float(number))
        }
        TextKind::List => Some(Value::List(Arc::new(
            text.split(';')
                .map(py_strip)
                .filter(|part| !part.is_empty())
                .map(|part| Value::Str(Str::from(part)))
                .collect(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_are_read_as_cpython_reads_them() {
        let int = |s: &str| py_int(s).map(|v| v.py_repr());
        assert_eq!(int(" 12 ").as_deref(), Some("12"));
        assert_eq!(int("\u{2003}-1_000\u{a0}").as_deref(), Some("-1000"));
        assert_eq!(int("\u{661}\u{662}").as_deref(), Some("12"));
        assert_eq!(int("-0").as_deref(), Some("0"));
        assert_eq!(
            int("18446744073709551616").as_deref(),
            Some("18446744073709551616")
        );
        for bad in [
            "", " ", "1.0", "_1", "1_", "1__0", "+ 1", "0x10", "\u{b2}", "1e5",
        ] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
        assert_eq!(int(&"9".repeat(4301)), None);
    }

    #[test]
    fn floats_are_read_as_cpython_reads_them() {
        let float = |s: &str| py_float(s).map(crate::pyfmt::float_repr);
        for (text, want) in [
            ("1.", "1.0"),
            (".5", "0.5"),
            ("1_0.5", "10.5"),
            ("1.5_0", "1.5"),
            ("1e1_0", "10000000000.0"),
            ("-iNF", "-inf"),
            ("Infinity", "inf"),
            ("+nan", "nan"),
            ("\u{663}.\u{665}", "3.5"),
            (" -0 ", "-0.0"),
        ] {
            assert_eq!(float(text).as_deref(), Some(want), "{text:?}");
        }
        for bad in [
            ".", "e5", "1e", "1._5", "in f", "1e+", "--1", "1.5.", "0x1p3", "infinit",
        ] {
            assert_eq!(float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn declared_types_are_read_from_text_as_from_text_does() {
        let conv = |s: &str, k| from_text(s, k).map(|v| v.py_repr());
        assert_eq!(conv(" Yes ", TextKind::Boolean).as_deref(), Some("True"));
        assert_eq!(conv("maybe", TextKind::Boolean), None);
        assert_eq!(conv("10", TextKind::Number).as_deref(), Some("10"));
        assert_eq!(conv("10.0", TextKind::Number).as_deref(), Some("10.0"));
        assert_eq!(conv("1e3", TextKind::Number).as_deref(), Some("1000"));
        assert_eq!(conv("1e400", TextKind::Number).as_deref(), Some("inf"));
        assert_eq!(
            conv(" a; ;b ", TextKind::List).as_deref(),
            Some("['a', 'b']")
        );
    }
}
