//! XML well-formedness as expat judges it, token by token.
//!
//! quick-xml finds where each token (tag, text, comment, …) ends; these functions read the token's
//! bytes again to say what expat would say of it: its first fault, in expat's words, at the byte
//! where expat reports it (its line is what the reference reader reports). They also give a start
//! tag's attributes, normalized as expat normalizes them. Names outside ASCII are held to Unicode's
//! letters and digits, an approximation of expat's tables (XES names are ASCII).

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

pub const INVALID: &str = "not well-formed (invalid token)";
pub const UNCLOSED: &str = "unclosed token";
pub const NO_ELEMENT: &str = "no element found";
pub const MISMATCHED: &str = "mismatched tag";
pub const UNDEFINED: &str = "undefined entity";
pub const DUPLICATE: &str = "duplicate attribute";
pub const JUNK: &str = "junk after document element";
pub const BAD_CHARREF: &str = "reference to invalid character number";
pub const UNCLOSED_CDATA: &str = "unclosed CDATA section";
pub const MISPLACED_DECL: &str = "XML or text declaration not at start of entity";
pub const PARTIAL_CHAR: &str = "partial character";

/// A fault of a token: expat's message, and where in the token expat reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub message: &'static str,
    pub at: usize,
}

/// What reading a token's bytes found.
#[derive(Debug, PartialEq)]
pub enum Scan<T> {
    Ok(T),
    Bad(Fault),
    /// The bytes end before the token does (at the end of the input: an unclosed token).
    Short,
}

impl<T> Scan<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Scan<U> {
        match self {
            Scan::Ok(t) => Scan::Ok(f(t)),
            Scan::Bad(fault) => Scan::Bad(fault),
            Scan::Short => Scan::Short,
        }
    }
}

fn bad<T>(message: &'static str, at: usize) -> Scan<T> {
    Scan::Bad(Fault { message, at })
}

macro_rules! next {
    ($scan:expr) => {
        match $scan {
            Scan::Ok(v) => v,
            Scan::Bad(fault) => return Scan::Bad(fault),
            Scan::Short => return Scan::Short,
        }
    };
}

/// The line breaks in `bytes` as XML counts them (`\n`, `\r`, and `\r\n` once); `after_cr`: the
/// byte before them was `\r`.
pub fn line_breaks(bytes: &[u8], after_cr: bool) -> u64 {
    let lf = memchr::memchr_iter(b'\n', bytes).count() as u64;
    let mut cr = 0u64;
    let mut pairs = u64::from(after_cr && bytes.first() == Some(&b'\n'));
    for i in memchr::memchr_iter(b'\r', bytes) {
        cr += 1;
        if bytes.get(i + 1) == Some(&b'\n') {
            pairs += 1;
        }
    }
    lf + cr - pairs
}

/// A source that keeps the bytes taken from it since [`Tape::start_token`] (the token quick-xml
/// is reading) and counts the lines taken.
pub struct Tape<R> {
    inner: R,
    /// The bytes of the token being read.
    pub token: Vec<u8>,
    breaks: u64,
    last_cr: bool,
    /// The token's first line, and whether the byte before it was `\r`.
    start: (u64, bool),
}

impl<R: BufRead> Tape<R> {
    pub fn new(inner: R) -> Self {
        Tape {
            inner,
            token: Vec::new(),
            breaks: 0,
            last_cr: false,
            start: (1, false),
        }
    }

    /// The next token starts here.
    pub fn start_token(&mut self) {
        self.token.clear();
        self.start = (self.breaks + 1, self.last_cr);
    }

    /// The line of byte `at` of the token read last (its bytes: `token`, taken from the tape).
    pub fn line_at(&self, token: &[u8], at: usize) -> u64 {
        let at = at.min(token.len());
        self.start.0 + line_breaks(&token[..at], self.start.1)
    }

    /// The line after everything taken (where the input ends, once it has).
    pub fn line_now(&self) -> u64 {
        self.breaks + 1
    }

    /// Whether nothing is left to read.
    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }

    /// Take the first `n` bytes of the input unread (a byte-order mark).
    pub fn skip(&mut self, n: usize) {
        self.inner.consume(n);
    }

    pub fn peek(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
}

impl<R: BufRead> Read for Tape<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tape<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // What is consumed was handed out by fill_buf: it is still buffered, so this reads nothing.
        if let Ok(available) = self.inner.fill_buf() {
            let taken = &available[..amt.min(available.len())];
            self.breaks += line_breaks(taken, self.last_cr);
            if let Some(&last) = taken.last() {
                self.last_cr = last == b'\r';
            }
            self.token.extend_from_slice(taken);
        }
        self.inner.consume(amt);
    }
}

/// One character of a token: its code point and length in bytes.
enum Ch {
    Char(char, usize),
    /// Not a character XML allows (or not UTF-8).
    Bad,
    /// No more bytes (or the first bytes of a character the token ends in).
    End,
}

fn ch(t: &[u8], i: usize) -> Ch {
    let Some(&b) = t.get(i) else {
        return Ch::End;
    };
    if b < 0x80 {
        return if b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r') {
            Ch::Char(b as char, 1)
        } else {
            Ch::Bad
        };
    }
    let len = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Ch::Bad,
    };
    let end = (i + len).min(t.len());
    match std::str::from_utf8(&t[i..end]) {
        Ok(s) if end == i + len => match s.chars().next() {
            Some(c) if c != '\u{fffe}' && c != '\u{ffff}' => Ch::Char(c, len),
            _ => Ch::Bad,
        },
        Ok(_) => Ch::End,
        Err(e) if e.error_len().is_none() => Ch::End, // a valid start, cut off
        Err(_) => Ch::Bad,
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!c.is_ascii() && c.is_alphabetic())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || c.is_ascii_digit()
        || c == '.'
        || c == '-'
        || c == '\u{b7}'
        || (!c.is_ascii() && crate::pytext::decimal(c).is_some())
}

fn is_ascii_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-')
}

/// The end of the name at `i` (whose first character must be a name start).
fn name(t: &[u8], mut i: usize) -> Scan<usize> {
    match ch(t, i) {
        Ch::Char(c, n) if is_name_start(c) => i += n,
        Ch::End => return Scan::Short,
        _ => return bad(INVALID, i),
    }
    loop {
        while t.get(i).is_some_and(|&b| is_ascii_name_char(b)) {
            i += 1;
        }
        match ch(t, i) {
            Ch::Char(c, n) if is_name_char(c) => i += n,
            Ch::End => return Scan::Short,
            _ => return Scan::Ok(i),
        }
    }
}

/// Past the plain characters from `i` (ASCII, no control but white space, not `<`, `&` or `stop`): the
/// characters a value or text holds nearly always, read a byte at a time.
fn plain(t: &[u8], i: usize, stop: u8) -> usize {
    i + t[i..]
        .iter()
        .position(|&b| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
                || b >= 0x80
                || b == stop
                || b == b'<'
                || b == b'&'
        })
        .unwrap_or(t.len() - i)
}

/// Past white space from `i`.
fn spaces(t: &[u8], mut i: usize) -> usize {
    while matches!(t.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// A reference (`&...;`) at `i`, its syntax only: where it ends (after `;`).
fn reference(t: &[u8], i: usize) -> Scan<usize> {
    let mut j = i + 1;
    if t.get(j) != Some(&b'#') {
        let end = next!(name(t, j));
        return match t.get(end) {
            Some(b';') => Scan::Ok(end + 1),
            None => Scan::Short,
            Some(_) => bad(INVALID, end),
        };
    }
    j += 1;
    let hex = t.get(j) == Some(&b'x');
    if hex {
        j += 1;
    }
    let first = j;
    loop {
        match t.get(j) {
            Some(b) if (hex && b.is_ascii_hexdigit()) || b.is_ascii_digit() => j += 1,
            Some(b';') if j > first => return Scan::Ok(j + 1),
            None => return Scan::Short,
            Some(_) => return bad(INVALID, j),
        }
    }
}

/// What a well-formed reference stands for.
enum Meaning {
    Char(char),
    Entity(&'static str),
    /// A character reference to no character XML allows.
    BadChar,
    Undefined,
}

fn meaning(r: &[u8]) -> Meaning {
    let body = &r[1..r.len() - 1];
    if let Some(number) = body.strip_prefix(b"#") {
        let (digits, radix) = match number.strip_prefix(b"x") {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        let mut n: u32 = 0;
        for &d in digits {
            let v = (d as char).to_digit(radix).unwrap_or(0);
            n = match n.checked_mul(radix).and_then(|n| n.checked_add(v)) {
                Some(n) if n <= 0x10ffff => n,
                _ => return Meaning::BadChar,
            };
        }
        return match char::from_u32(n) {
            Some(c)
                if matches!(c, '\t' | '\n' | '\r')
                    || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}') =>
            {
                Meaning::Char(c)
            }
            _ => Meaning::BadChar,
        };
    }
    match body {
        b"lt" => Meaning::Entity("<"),
        b"gt" => Meaning::Entity(">"),
        b"amp" => Meaning::Entity("&"),
        b"apos" => Meaning::Entity("'"),
        b"quot" => Meaning::Entity("\""),
        _ => Meaning::Undefined,
    }
}

/// A start tag's name and attributes (names raw, values normalized as expat does).
#[derive(Debug, PartialEq)]
pub struct Tag<'t> {
    pub name: &'t [u8],
    pub attributes: Vec<(&'t [u8], Cow<'t, str>)>,
    pub empty: bool,
}

impl Tag<'_> {
    /// The value of the attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| v.as_ref())
    }
}

/// A start (or empty-element) tag: `t` starts with `<` and a name.
pub fn start_tag(t: &[u8]) -> Scan<Tag<'_>> {
    let name_end = next!(name(t, 1));
    // (name, value start, value end)
    let mut raw: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut i = name_end;
    let empty = loop {
        let after = spaces(t, i);
        let spaced = after > i;
        i = after;
        match ch(t, i) {
            Ch::End => return Scan::Short,
            Ch::Char('>', _) => break false,
            Ch::Char('/', _) => match t.get(i + 1) {
                Some(b'>') => break true,
                None => return Scan::Short,
                Some(_) => return bad(INVALID, i + 1),
            },
            Ch::Char(c, _) if spaced && is_name_start(c) => {}
            _ => return bad(INVALID, i),
        }
        let attr = i;
        i = next!(name(t, i));
        let attr_end = i;
        i = spaces(t, i);
        match t.get(i) {
            Some(b'=') => i += 1,
            None => return Scan::Short,
            Some(_) => return bad(INVALID, i),
        }
        i = spaces(t, i);
        let quote = match t.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            None => return Scan::Short,
            Some(_) => return bad(INVALID, i),
        };
        i += 1;
        let value = i;
        loop {
            i = plain(t, i, quote);
            match ch(t, i) {
                Ch::End => return Scan::Short,
                Ch::Bad => return bad(INVALID, i),
                Ch::Char(c, _) if c as u32 == quote as u32 => break,
                Ch::Char('<', _) => return bad(INVALID, i),
                Ch::Char('&', _) => i = next!(reference(t, i)),
                Ch::Char(_, n) => i += n,
            }
        }
        raw.push((attr, attr_end, value, i));
        i += 1;
    };
    // Then, attribute by attribute, as expat stores them: a repeated name, the references.
    let mut attributes = Vec::with_capacity(raw.len());
    for (k, &(a, a_end, v, v_end)) in raw.iter().enumerate() {
        let attr = &t[a..a_end];
        if raw[..k].iter().any(|&(b, b_end, ..)| &t[b..b_end] == attr) {
            return bad(DUPLICATE, a);
        }
        attributes.push((attr, next!(attribute_value(t, v, v_end))));
    }
    Scan::Ok(Tag {
        name: &t[1..name_end],
        attributes,
        empty,
    })
}

/// An attribute's value (its syntax already read): references replaced, each white-space
/// character a space (a `\r\n` one).
fn attribute_value(t: &[u8], from: usize, to: usize) -> Scan<Cow<'_, str>> {
    let raw = &t[from..to];
    if !raw
        .iter()
        .any(|&b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        // Checked as characters already: UTF-8.
        return Scan::Ok(Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default()));
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = from;
    while i < to {
        match t[i] {
            b'&' => {
                let end = match reference(t, i) {
                    Scan::Ok(end) => end,
                    _ => unreachable!("the value's references were read"),
                };
                match meaning(&t[i..end]) {
                    Meaning::Char(c) => out.push(c),
                    Meaning::Entity(s) => out.push_str(s),
                    Meaning::BadChar => return bad(BAD_CHARREF, i),
                    // expat reports it at the tag
                    Meaning::Undefined => return bad(UNDEFINED, 0),
                }
                i = end;
            }
            b'\r' => {
                out.push(' ');
                i += if t.get(i + 1) == Some(&b'\n') && i + 1 < to {
                    2
                } else {
                    1
                };
            }
            b'\t' | b'\n' => {
                out.push(' ');
                i += 1;
            }
            _ => {
                let run = t[i..to]
                    .iter()
                    .position(|&b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(to - i);
                out.push_str(std::str::from_utf8(&t[i..i + run]).unwrap_or_default());
                i += run;
            }
        }
    }
    Scan::Ok(Cow::Owned(out))
}

/// An end tag (`</name>`): its name.
pub fn end_tag(t: &[u8]) -> Scan<&[u8]> {
    let end = next!(name(t, 2));
    let i = spaces(t, end);
    match ch(t, i) {
        Ch::Char('>', _) => Scan::Ok(&t[2..end]),
        Ch::End => Scan::Short,
        _ => bad(INVALID, i),
    }
}

/// A token starting `<!`: a comment, a CDATA section (`cdata`: allowed here) or a declaration.
pub fn bang(t: &[u8], cdata: bool) -> Scan<Bang> {
    match t.get(2) {
        None => Scan::Short,
        Some(b'-') => match t.get(3) {
            None => Scan::Short,
            Some(b'-') => comment(t).map(|()| Bang::Comment),
            Some(_) => bad(INVALID, 3),
        },
        Some(b'[') if cdata => {
            for (k, &want) in b"CDATA[".iter().enumerate() {
                match t.get(3 + k) {
                    None => return Scan::Short,
                    Some(&b) if b == want => {}
                    Some(_) => return bad(INVALID, 3 + k),
                }
            }
            cdata_section(t).map(|()| Bang::CData)
        }
        Some(b'D') if !cdata => Scan::Ok(Bang::Declaration),
        Some(_) => bad(INVALID, 2),
    }
}

/// A `<!` token after the root element, where expat reads declarations: a comment is fine,
/// another declaration junk.
pub fn bang_after_root(t: &[u8]) -> Scan<()> {
    match t.get(2) {
        None => Scan::Short,
        Some(b'-') => match t.get(3) {
            None => Scan::Short,
            Some(b'-') => comment(t),
            Some(_) => bad(INVALID, 3),
        },
        Some(b'[') => bad(JUNK, 0),
        Some(_) => {
            // <!NAME: a declaration keyword, then what follows it
            let end = next!(name(t, 2));
            if &t[2..end] == b"DOCTYPE" {
                bad(JUNK, 0)
            } else {
                bad(INVALID, end)
            }
        }
    }
}

/// Text after the root element, read as expat's prolog tokenizer reads it: white space only; the
/// first other token is junk (a name, a literal, a bracket, ...) or not well-formed, where expat
/// says. `at_end`: nothing follows it in the input. (A literal is taken to end in this text.)
pub fn after_root(t: &[u8], at_end: bool) -> Option<Fault> {
    let i = spaces(t, 0);
    let fault = |message, at| Some(Fault { message, at });
    // Whether the token before `j` may stand there: the input ends, white space or a delimiter
    // follows (not markup: this text ends at a `<`).
    let stands = |j: usize| match t.get(j) {
        None => at_end,
        Some(&b) => matches!(b, b' ' | b'\t' | b'\n' | b'\r') || b">)*?+%|,[".contains(&b),
    };
    let name_at = |j: usize| matches!(ch(t, j), Ch::Char(c, _) if is_name_start(c));
    let unclosed_or_invalid = |j: usize| {
        if at_end {
            fault(UNCLOSED, i)
        } else {
            fault(INVALID, j)
        }
    };
    match ch(t, i) {
        Ch::End if i == t.len() => None,
        Ch::End if at_end => fault(PARTIAL_CHAR, i),
        Ch::End | Ch::Bad => fault(INVALID, i),
        Ch::Char(c, _) if is_name_char(c) => match name_chars(t, i) {
            end if stands(end) => fault(JUNK, i),
            end => fault(INVALID, end),
        },
        Ch::Char('#', _) if i + 1 == t.len() => unclosed_or_invalid(i + 1),
        Ch::Char('#', _) if name_at(i + 1) => match name_chars(t, i + 1) {
            end if stands(end) => fault(JUNK, i),
            end => fault(INVALID, end),
        },
        Ch::Char('%', _) if i + 1 == t.len() => unclosed_or_invalid(i + 1),
        Ch::Char('%', _) if matches!(t[i + 1], b' ' | b'\t' | b'\n' | b'\r') => fault(JUNK, i),
        Ch::Char('%', _) if name_at(i + 1) => match name_chars(t, i + 1) {
            end if end == t.len() => unclosed_or_invalid(end),
            end if t[end] == b';' => fault(JUNK, i),
            end => fault(INVALID, end),
        },
        Ch::Char(q @ ('"' | '\''), _) => match t[i + 1..].iter().position(|&b| b == q as u8) {
            None => fault(UNCLOSED, i),
            Some(len) if stands(i + len + 2) => fault(JUNK, i),
            Some(len) => fault(INVALID, i + len + 2),
        },
        Ch::Char(')', _) => match t.get(i + 1) {
            None if at_end => fault(JUNK, i),
            Some(&b) if matches!(b, b' ' | b'\t' | b'\n' | b'\r') || b")*?+|,>".contains(&b) => {
                fault(JUNK, i)
            }
            _ => fault(INVALID, i + 1),
        },
        Ch::Char('(' | ',' | '>' | '[' | ']' | '|', _) => fault(JUNK, i),
        Ch::Char(..) => fault(INVALID, i),
    }
}

/// A `<` token after the root element: an element is junk; `<` and no name not well-formed.
pub fn markup_after_root(t: &[u8]) -> Scan<()> {
    match ch(t, 1) {
        Ch::End => Scan::Short,
        Ch::Char(c, _) if is_name_start(c) => bad(JUNK, 0),
        _ => bad(INVALID, 1),
    }
}

/// Past the name characters from `i`.
fn name_chars(t: &[u8], mut i: usize) -> usize {
    while let Ch::Char(c, n) = ch(t, i) {
        if !is_name_char(c) {
            break;
        }
        i += n;
    }
    i
}

/// Whether the token ends inside a character (the input cut there).
pub fn cut_in_char(t: &[u8]) -> bool {
    let tail = t.len().saturating_sub(3);
    (tail..t.len()).any(|i| t[i] >= 0xc0 && matches!(ch(t, i), Ch::End))
}

/// What a `<!` token is.
#[derive(Debug, PartialEq)]
pub enum Bang {
    Comment,
    CData,
    /// A document type declaration (in the prolog).
    Declaration,
}

fn comment(t: &[u8]) -> Scan<()> {
    let mut i = 4;
    loop {
        match ch(t, i) {
            Ch::End => return Scan::Short,
            Ch::Bad => return bad(INVALID, i),
            Ch::Char('-', _) if t.get(i + 1) == Some(&b'-') => {
                return match t.get(i + 2) {
                    Some(b'>') => Scan::Ok(()),
                    None => Scan::Short,
                    Some(_) => bad(INVALID, i + 2),
                };
            }
            Ch::Char(_, n) => i += n,
        }
    }
}

fn cdata_section(t: &[u8]) -> Scan<()> {
    let mut i = 9;
    loop {
        match ch(t, i) {
            Ch::End => return Scan::Short,
            Ch::Bad => return bad(INVALID, i),
            Ch::Char(']', _) if t[i..].starts_with(b"]]>") => return Scan::Ok(()),
            Ch::Char(_, n) => i += n,
        }
    }
}

/// A processing instruction (`<?target ...?>`): whether it is the XML declaration (its target
/// `xml`), and the end of its target.
pub fn instruction(t: &[u8]) -> Scan<(bool, usize)> {
    let end = next!(name(t, 2));
    let target = &t[2..end];
    let decl = target == b"xml";
    if !decl && target.eq_ignore_ascii_case(b"xml") {
        return bad(INVALID, end);
    }
    let mut i = end;
    match ch(t, i) {
        Ch::Char('?', _) => {
            return match t.get(i + 1) {
                Some(b'>') => Scan::Ok((decl, end)),
                None => Scan::Short,
                Some(_) => bad(INVALID, i + 1),
            }
        }
        Ch::Char(c, _) if is_space(c) => {}
        Ch::End => return Scan::Short,
        _ => return bad(INVALID, i),
    }
    loop {
        match ch(t, i) {
            Ch::End => return Scan::Short,
            Ch::Bad => return bad(INVALID, i),
            Ch::Char('?', _) if t.get(i + 1) == Some(&b'>') => return Scan::Ok((decl, end)),
            Ch::Char(_, n) => i += n,
        }
    }
}

/// Whether the XML declaration (`t`, target ending at `end`) is one the core reads as expat does:
/// a version, then optionally encoding UTF-8 and standalone yes or no. Any other is left to the
/// reference reader.
pub fn plain_declaration(t: &[u8], end: usize) -> bool {
    let Some(body) = t.get(end..t.len().saturating_sub(2)) else {
        return false;
    };
    let mut i = 0;
    let mut seen = Vec::new();
    loop {
        let after = spaces(body, i);
        if after == body.len() {
            return seen.first() == Some(&&b"version"[..]);
        }
        if after == i {
            return false;
        }
        i = after;
        let name_end = i + body[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let key = &body[i..name_end];
        i = spaces(body, name_end);
        if body.get(i) != Some(&b'=') {
            return false;
        }
        i = spaces(body, i + 1);
        let Some(&quote @ (b'"' | b'\'')) = body.get(i) else {
            return false;
        };
        let Some(len) = body[i + 1..].iter().position(|&b| b == quote) else {
            return false;
        };
        let value = &body[i + 1..i + 1 + len];
        i += len + 2;
        let ok = match (seen.len(), key) {
            (0, b"version") => {
                !value.is_empty()
                    && value
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
            }
            (1, b"encoding") => value.eq_ignore_ascii_case(b"utf-8"),
            (1 | 2, b"standalone") => value == b"yes" || value == b"no",
            _ => false,
        };
        if !ok || seen.contains(&key) {
            return false;
        }
        seen.push(key);
    }
}

/// Character data (quick-xml splits it before each `&`): its first fault. `at_end`: nothing
/// follows it in the input.
pub fn text(t: &[u8], at_end: bool) -> Scan<()> {
    let mut i = 0;
    loop {
        i = plain(t, i, b']');
        match ch(t, i) {
            Ch::End if i < t.len() => {
                // the input ends inside a character
                return if at_end {
                    bad(PARTIAL_CHAR, i)
                } else {
                    bad(INVALID, i)
                };
            }
            Ch::End => return Scan::Ok(()),
            Ch::Bad => return bad(INVALID, i),
            Ch::Char('&', _) => {
                let end = match reference(t, i) {
                    Scan::Ok(end) => end,
                    Scan::Bad(fault) => return Scan::Bad(fault),
                    Scan::Short if at_end => return bad(UNCLOSED, i),
                    Scan::Short => return bad(INVALID, t.len()),
                };
                match meaning(&t[i..end]) {
                    Meaning::BadChar => return bad(BAD_CHARREF, i),
                    Meaning::Undefined => return bad(UNDEFINED, i),
                    _ => {}
                }
                i = end;
            }
            Ch::Char(']', _) if t[i..].starts_with(b"]]>") => return bad(INVALID, i + 2),
            Ch::Char(_, n) => i += n,
        }
    }
}

/// Whether `t` is white space only.
pub fn blank(t: &[u8]) -> bool {
    spaces(t, 0) == t.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_count_cr_lf_once() {
        assert_eq!(line_breaks(b"a\nb\r\nc\rd", false), 3);
        assert_eq!(line_breaks(b"\nx", true), 0);
        assert_eq!(line_breaks(b"\r", false), 1);
    }

    #[test]
    fn attributes_are_normalized_as_expat_does() {
        let t = b"<string key=\"a\" value=\"x\ty\r\nz\rw&#10;v&amp;&lt;\"/>";
        let Scan::Ok(tag) = start_tag(t) else {
            panic!("not a tag")
        };
        assert!(tag.empty);
        assert_eq!(tag.get("value"), Some("x y z w\nv&<"));
        assert_eq!(tag.get("key"), Some("a"));
    }

    #[test]
    fn faults_are_where_expat_reports_them() {
        let fault = |t: &[u8]| match start_tag(t) {
            Scan::Bad(f) => Some((f.message, f.at)),
            _ => None,
        };
        assert_eq!(fault(b"<a b=\"x\n < y\"/>"), Some((INVALID, 9)));
        assert_eq!(fault(b"<a b=\"1\"\n\n b=\"2\"/>"), Some((DUPLICATE, 11)));
        assert_eq!(fault(b"<a b=\"&foo;\" b=\"x\"/>"), Some((UNDEFINED, 0)));
        assert_eq!(fault(b"<a b=\"x\" b=\"&foo;\"/>"), Some((DUPLICATE, 9)));
        assert_eq!(fault(b"<a b=\"&#0;\"/>"), Some((BAD_CHARREF, 6)));
        assert_eq!(fault(b"<a b=\"&#x;\"/>"), Some((INVALID, 9)));
        assert_eq!(fault(b"<a/ >"), Some((INVALID, 3)));
        assert_eq!(fault(b"<a b=c/>"), Some((INVALID, 5)));
        assert_eq!(fault(b"< a/>"), Some((INVALID, 1)));
        assert_eq!(start_tag(b"<a b=\"1"), Scan::Short);
        assert_eq!(
            text(b"ab ]]> ", false),
            Scan::Bad(Fault {
                message: INVALID,
                at: 5
            })
        );
        assert_eq!(
            text(b"&am", true),
            Scan::Bad(Fault {
                message: UNCLOSED,
                at: 0
            })
        );
        assert_eq!(
            text(b"&am", false),
            Scan::Bad(Fault {
                message: INVALID,
                at: 3
            })
        );
        assert_eq!(
            comment(b"<!-- a -- b -->"),
            Scan::Bad(Fault {
                message: INVALID,
                at: 9
            })
        );
    }

    #[test]
    fn only_a_plain_declaration_is_read_here() {
        let plain = |t: &[u8]| match instruction(t) {
            Scan::Ok((true, end)) => plain_declaration(t, end),
            _ => false,
        };
        assert!(plain(b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?>"));
        assert!(plain(b"<?xml version='1.0' standalone='yes'?>"));
        assert!(!plain(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"));
        assert!(!plain(b"<?xml encoding=\"UTF-8\"?>"));
        assert!(!plain(b"<?xml version=\"1.0\"encoding=\"UTF-8\"?>"));
    }
}
