//! The functions of `sopengine.expr.FUNCTIONS`, and `matches`/`findall` over the `regex` crate.

use std::sync::Arc;

use regex::Regex;

use crate::expr::Raise;
use crate::ops::{in_, number, MAX_JOINED};
use crate::pyfmt::{format_duration, format_time, py_strip};
use crate::value::{Num, Value};

/// A callable function of the language (`matches`, `findall`, `fact`, `known` and `duration` are
/// compiled specially).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Filled,
    Len,
    Lower,
    Upper,
    StartsWith,
    EndsWith,
    Contains,
    AnyIn,
    AllIn,
    MissingIn,
    Coalesce,
    Text,
    Iso,
    DurationText,
    Seconds,
    Minutes,
    Hours,
    Days,
    Replace,
    Split,
}

impl Func {
    /// The function of this name and its (min, max) number of arguments.
    pub fn lookup(name: &str) -> Option<(Func, usize, usize)> {
        Some(match name {
            "filled" => (Func::Filled, 1, 1),
            "len" => (Func::Len, 1, 1),
            "lower" => (Func::Lower, 1, 1),
            "upper" => (Func::Upper, 1, 1),
            "startswith" => (Func::StartsWith, 2, 2),
            "endswith" => (Func::EndsWith, 2, 2),
            "contains" => (Func::Contains, 2, 2),
            "any_in" => (Func::AnyIn, 2, 2),
            "all_in" => (Func::AllIn, 2, 2),
            "missing_in" => (Func::MissingIn, 2, 2),
            "coalesce" => (Func::Coalesce, 1, 8),
            "text" => (Func::Text, 1, 1),
            "iso" => (Func::Iso, 1, 1),
            "duration_text" => (Func::DurationText, 1, 1),
            "seconds" => (Func::Seconds, 1, 1),
            "minutes" => (Func::Minutes, 1, 1),
            "hours" => (Func::Hours, 1, 1),
            "days" => (Func::Days, 1, 1),
            "replace" => (Func::Replace, 3, 3),
            "split" => (Func::Split, 2, 2),
            _ => return None,
        })
    }

    /// Applies the function to its evaluated arguments (their number was checked at build).
    pub fn call(self, args: &[Value]) -> Result<Value, Raise> {
        let a = &args[0];
        let str_pair = |x: &Value, y: &Value| match (x, y) {
            (Value::Str(s), Value::Str(t)) => Some((s.clone(), t.clone())),
            _ => None,
        };
        Ok(match self {
            Func::Filled => Value::Bool(a.filled()),
            Func::Len => match a {
                Value::None => Value::Int(0),
                _ => match a.py_len() {
                    Some(n) => Value::int(n as i128),
                    None => {
                        return Err(Raise::type_error(format!(
                            "object of type '{}' has no len()",
                            a.type_name()
                        )))
                    }
                },
            },
            Func::Lower => match a {
                Value::Str(s) => Value::Str(Arc::from(s.to_lowercase())),
                _ => a.clone(),
            },
            Func::Upper => match a {
                Value::Str(s) => Value::Str(Arc::from(s.to_uppercase())),
                _ => a.clone(),
            },
            Func::StartsWith => {
                Value::Bool(str_pair(a, &args[1]).is_some_and(|(s, p)| s.starts_with(&*p)))
            }
            Func::EndsWith => {
                Value::Bool(str_pair(a, &args[1]).is_some_and(|(s, p)| s.ends_with(&*p)))
            }
            Func::Contains => Value::Bool(in_(&args[1], a)),
            Func::AnyIn => Value::Bool(as_list(a).iter().any(|i| in_(i, &args[1]))),
            Func::AllIn => Value::Bool(as_list(a).iter().all(|i| in_(i, &args[1]))),
            Func::MissingIn => Value::List(Arc::new(
                as_list(a)
                    .into_iter()
                    .filter(|i| !in_(i, &args[1]))
                    .collect(),
            )),
            Func::Coalesce => args
                .iter()
                .find(|v| v.filled())
                .cloned()
                .unwrap_or(Value::None),
            Func::Text => {
                if let Some(items) = a.seq_items() {
                    bounded(
                        "text()",
                        items.iter().map(char_len).sum::<usize>()
                            + 2 * items.len().saturating_sub(1),
                    )?;
                }
                Value::Str(Arc::from(text(a)))
            }
            Func::Iso => match plain_number(a) {
                Some(n) => Value::Str(Arc::from(format_time(n)?)),
                None => a.clone(),
            },
            Func::DurationText => match plain_number(a) {
                Some(n) => Value::Str(Arc::from(format_duration(n)?)),
                None => a.clone(),
            },
            Func::Seconds => Value::Float(as_float(number(a)?)),
            Func::Minutes => Value::Float(as_float(number(a)?) * 60.0),
            Func::Hours => Value::Float(as_float(number(a)?) * 3600.0),
            Func::Days => Value::Float(as_float(number(a)?) * 86400.0),
            Func::Replace => match (a, &args[1], &args[2]) {
                (Value::Str(s), Value::Str(old), Value::Str(new)) if !old.is_empty() => {
                    let (from, to) = (old.chars().count(), new.chars().count());
                    if to > from {
                        // the size is known before the text is built: nested replace() doubles it each time
                        let count = s.matches(&**old).count();
                        bounded("replace()", s.chars().count() + count * (to - from))?;
                    }
                    Value::Str(Arc::from(s.replace(&**old, new)))
                }
                _ => a.clone(),
            },
            Func::Split => split(a, &args[1]),
        })
    }
}

/// `replace()` and `text()` of a list build at most `MAX_JOINED` characters, as `+` does (the
/// reference's OverflowError, with its words).
fn bounded(what: &str, size: usize) -> Result<(), Raise> {
    if size > MAX_JOINED {
        return Err(Raise::error(
            "OverflowError",
            format!("{what} would build a text of {size} characters; the limit is {MAX_JOINED}"),
        ));
    }
    Ok(())
}

/// `len(str(v))` without building the text of a text.
fn char_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => s.chars().count(),
        _ => v.py_str().chars().count(),
    }
}

fn as_float(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// An int or float that is not a bool.
fn plain_number(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(_) => None,
        _ => v.num(),
    }
}

/// `_as_list`: `[]` for None and `""`, the items of a list or tuple, a set's items sorted by `str`
/// (Python's set order is per process; the reference sorts them too), else `[value]`.
pub fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::None => Vec::new(),
        Value::Str(s) if s.is_empty() => Vec::new(),
        Value::List(items) | Value::Tuple(items) => items.to_vec(),
        Value::Set(items) | Value::FrozenSet(items) => {
            sorted_by_str(items).into_iter().cloned().collect()
        }
        _ => vec![v.clone()],
    }
}

/// `sorted(items, key=str)`: stable, so equal texts keep their order.
fn sorted_by_str(items: &[Value]) -> Vec<&Value> {
    let mut keyed: Vec<(String, &Value)> = items.iter().map(|v| (v.py_str(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// `_text`: a value as text; lists joined with `", "`, sets sorted by `str` first.
pub fn text(v: &Value) -> String {
    let join = |items: Vec<&Value>| {
        items
            .iter()
            .map(|v| v.py_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v {
        Value::None => String::new(),
        Value::List(items) | Value::Tuple(items) => join(items.iter().collect()),
        Value::Set(items) | Value::FrozenSet(items) => join(sorted_by_str(items)),
        _ => v.py_str(),
    }
}

/// Items of a list or set a message shows (`sopengine.expr.SHOWN_ITEMS`).
pub const SHOWN_ITEMS: usize = 20;
/// Characters of one placeholder's text a message shows (`sopengine.expr.SHOWN_CHARS`).
pub const SHOWN_CHARS: usize = 1_000;

/// `_show`: how a template shows a value, bounded: past [`SHOWN_ITEMS`] items a list or set
/// shows its first (a set's smallest by `str`) and says how many more; past [`SHOWN_CHARS`]
/// characters the text is cut, saying how much.
pub fn show(v: &Value) -> String {
    let text = match v {
        Value::None => return "(none)".into(),
        Value::Str(s) if s.is_empty() => return "(none)".into(),
        Value::Bool(b) => return if *b { "yes" } else { "no" }.into(),
        Value::List(items) | Value::Tuple(items) if items.len() > SHOWN_ITEMS => {
            first_items(items.iter().take(SHOWN_ITEMS).collect(), items.len())
        }
        Value::Set(items) | Value::FrozenSet(items) if items.len() > SHOWN_ITEMS => {
            first_items(smallest_by_str(items, SHOWN_ITEMS), items.len())
        }
        _ => text(v),
    };
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text,
        Some((cut, _)) => {
            let more = text[cut..].chars().count();
            format!("{}… ({more} more characters)", &text[..cut])
        }
    }
}

fn first_items(first: Vec<&Value>, len: usize) -> String {
    let shown: Vec<String> = first.iter().map(|v| v.py_str()).collect();
    format!("{}, … and {} more", shown.join(", "), len - first.len())
}

/// `heapq.nsmallest(n, items, key=str)`: `sorted_by_str(items)[:n]` without sorting them all.
fn smallest_by_str(items: &[Value], n: usize) -> Vec<&Value> {
    let mut keyed: Vec<(String, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, v)| (v.py_str(), i))
        .collect();
    if keyed.len() > n {
        keyed.select_nth_unstable(n - 1);
        keyed.truncate(n);
    }
    keyed.sort();
    keyed.into_iter().map(|(_, i)| &items[i]).collect()
}

fn split(value: &Value, sep: &Value) -> Value {
    match (value, sep) {
        (Value::None, _) => Value::None,
        (Value::Str(s), _) if s.is_empty() => Value::None,
        (Value::Str(s), Value::Str(sep)) if !sep.is_empty() => Value::List(Arc::new(
            s.split(&**sep)
                .map(py_strip)
                .filter(|p| !p.is_empty())
                .map(Value::str)
                .collect(),
        )),
        _ => Value::List(Arc::new(as_list(value))),
    }
}

/// A regular expression of `matches`/`findall`, translated from Python's syntax where the two differ.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    re: Regex,
    /// The pattern with `$` as `(?m:$)`: Python's `$` also matches before a final newline, which this
    /// finds exactly when the text has no other newline. None when the pattern has no `$`.
    re_final_newline: Option<Regex>,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        let compile = |multiline_end: bool| {
            Regex::new(&translate(source, multiline_end))
                .map_err(|e| format!("pattern {source:?}: {e}"))
        };
        let re = compile(false)?;
        let re_final_newline = if source.contains('$') {
            Some(compile(true)?)
        } else {
            None
        };
        Ok(Pattern {
            source: source.to_string(),
            re,
            re_final_newline,
        })
    }

    fn subject(v: &Value) -> String {
        match v {
            Value::Str(s) => s.to_string(),
            _ => text(v),
        }
    }

    fn regex_for(&self, subject: &str) -> &Regex {
        match &self.re_final_newline {
            Some(re) if subject.ends_with('\n') => re,
            _ => &self.re,
        }
    }

    /// `matches(value, pattern)`: a search anywhere in the text (non-text values as `text()`).
    pub fn matches(&self, v: &Value) -> bool {
        if v.is_none() {
            return false;
        }
        let subject = Pattern::subject(v);
        if self.re.is_match(&subject) {
            return true;
        }
        // Python's `$` also matches before a final newline: so does a search of the text without it
        // (exact unless the pattern reads past a `$` or uses `\Z`, which then ends at the newline)
        match subject.strip_suffix('\n') {
            Some(head) if self.re_final_newline.is_some() && !self.source.contains("\\Z") => {
                self.re.is_match(head)
            }
            _ => false,
        }
    }

    /// `findall(value, pattern)`: `re.findall` without repeats, in first-seen order.
    pub fn findall(&self, v: &Value) -> Value {
        if v.is_none() {
            return Value::List(Arc::new(Vec::new()));
        }
        let subject = Pattern::subject(v);
        let re = self.regex_for(&subject);
        let groups = re.captures_len() - 1;
        let mut out: Vec<Value> = Vec::new();
        // Python's scan, not the crate's iterator: an empty match right after a non-empty one counts;
        // after an empty match the next one may not be empty at the same place.
        let mut pos = 0;
        let mut empty_at: Option<usize> = None;
        while pos <= subject.len() {
            let Some(caps) = re.captures_at(&subject, pos) else {
                break;
            };
            let whole = caps.get(0).map_or(pos..pos, |m| m.range());
            if whole.is_empty() && empty_at == Some(whole.start) {
                pos = next_boundary(&subject, whole.start);
                continue;
            }
            let group = |i: usize| Value::str(caps.get(i).map_or("", |m| m.as_str()));
            let found = match groups {
                0 => group(0),
                1 => group(1),
                n => Value::Tuple(Arc::new((1..=n).map(group).collect())),
            };
            if !out.iter().any(|v| v.py_eq(&found)) {
                out.push(found);
            }
            empty_at = whole.is_empty().then_some(whole.end);
            pos = whole.end;
        }
        Value::List(Arc::new(out))
    }
}

fn next_boundary(s: &str, at: usize) -> usize {
    s[at..]
        .chars()
        .next()
        .map_or(s.len() + 1, |c| at + c.len_utf8())
}

/// Python's syntax in the `regex` crate's: `\Z` is `\z`; `\s` also matches 0x1c-0x1f (as
/// `str.isspace`); inside a class `[`, `&` and `~` are literal (the crate nests and combines classes);
/// with `multiline_end`, `$` is `(?m:$)`.
fn translate(source: &str, multiline_end: bool) -> String {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') => out.push_str("\\z"),
                Some('s') if in_class => out.push_str("\\s\\x1c-\\x1f"),
                Some('s') => out.push_str("[\\s\\x1c-\\x1f]"),
                Some('S') if !in_class => out.push_str("[^\\s\\x1c-\\x1f]"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '$' if !in_class && multiline_end => out.push_str("(?m:$)"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(Arc::from(text))
    }

    #[test]
    fn replace_and_text_build_at_most_max_joined_characters() {
        let grown = Func::Replace.call(&[s(&"a".repeat(1000)), s("a"), s(&"b".repeat(101))]);
        let Err(Raise::Error { class, message }) = grown else {
            panic!("101,000 characters is past the limit")
        };
        assert_eq!(class, "OverflowError");
        assert_eq!(
            message,
            "replace() would build a text of 101000 characters; the limit is 100000"
        );
        let shrunk = Func::Replace.call(&[s(&"ab".repeat(100_000)), s("ab"), s("c")]);
        assert_eq!(shrunk.unwrap().py_len(), Some(100_000));
        let many = Value::List(Arc::new(vec![s(&"x".repeat(50_000)); 3]));
        assert!(Func::Text.call(&[many]).is_err());
        let few = Value::List(Arc::new(vec![s("x"), Value::Int(12)]));
        assert_eq!(Func::Text.call(&[few]).unwrap().py_str(), "x, 12");
    }
}
