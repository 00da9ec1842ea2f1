//! The JSON Lines reader: the same lines, events and rejections as `sopengine.events.read_jsonl`.
//!
//! A rejection carries what Python needs to say why in the reference reader's own words
//! ([`Reason`]); the message text is never built here.

use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::event::{Event, Origin};
use crate::time::parse_time;
use crate::value::{Str, Value};

/// orjson refuses arrays and objects nested deeper than this.
pub const MAX_DEPTH: u32 = 1024;

/// What the reader is told by the plan and the limits.
#[derive(Clone, Debug)]
pub struct ReaderConfig {
    /// Event type name -> index; any other type is rejected, or with an open vocabulary read with
    /// `undeclared` as its index.
    pub types: FxHashMap<String, u32>,
    /// The index every undeclared type shares when the pack's vocabulary is open.
    pub undeclared: Option<u32>,
    /// The data fields some expression reads -> index; other fields are skipped unbuilt.
    pub fields: FxHashMap<String, u32>,
    /// The line-bytes limit (`Limits.line_bytes`).
    pub max_line_bytes: usize,
    /// The json-depth limit (`Limits.json_depth`): a line nesting deeper is [`Reason::TooDeep`].
    pub max_depth: u32,
}

impl Default for ReaderConfig {
    /// No types or fields; the default limits of `sopengine.limits.Limits`.
    fn default() -> Self {
        ReaderConfig {
            types: FxHashMap::default(),
            undeclared: None,
            fields: FxHashMap::default(),
            max_line_bytes: 1_000_000,
            max_depth: 64,
        }
    }
}

/// Why a line is not an event; Python renders each with the reference reader's message code.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Longer than `max_line_bytes`.
    TooLong,
    /// Valid JSON whose arrays and objects nest deeper than `max_depth`.
    TooDeep,
    /// Not one JSON value orjson accepts; Python re-parses `line` to say why.
    Json {
        line: Vec<u8>,
    },
    NotObject {
        type_name: &'static str,
    },
    /// Of case, time, type (in that order): absent, null or "".
    Missing(Vec<&'static str>),
    /// `case`, `type`, `actor` or `id` is not a string.
    NotString {
        key: &'static str,
        type_name: &'static str,
    },
    UnknownType {
        name: String,
    },
    TimeNotString {
        type_name: &'static str,
    },
    /// A string `parse_time` refuses.
    Time {
        text: String,
    },
    DataNotObject {
        type_name: &'static str,
    },
    /// Declared data fields holding what their declaration refuses (`sopengine.datacheck`): the
    /// event type, and each field's name, problem and value. Decided by the session, not the reader.
    Data(DataFaults),
    /// XES: a typed attribute whose value is not of its type (`int`, `float`): its key (None when
    /// it has none) and its text.
    XesValue {
        key: Option<String>,
        value: String,
        tag: &'static str,
    },
    /// XES: an event whose attribute `__bad__` holds this (true) value; Python words it as `str()`.
    XesBad(Held),
    /// XES that is not well-formed from here on: the parser's message (expat's words).
    Malformed {
        message: &'static str,
    },
    /// CSV: a row the csv module stops reading (`kind`: quote, newline, eof, limit; see
    /// `crate::csv::Fault`), worded by the module itself in Python; `ended`: the file ended in it.
    CsvMalformed {
        kind: &'static str,
        delimiter: char,
        ended: bool,
    },
    /// CSV: a row with another number of fields than the header's.
    CsvWidth {
        got: usize,
        width: usize,
    },
    /// CSV: a row on a line that is not UTF-8.
    CsvUndecodable,
    /// A reason of the event check for an event made by an input mapping's source: Python words it
    /// after the source's name.
    Mapped {
        source: Str,
        reason: Box<Reason>,
    },
}

/// A value a reason holds (equal as Python's `==`).
#[derive(Clone, Debug)]
pub struct Held(pub Value);

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.0.py_eq(&other.0)
    }
}

/// The faults of [`Reason::Data`]: the event type, and each field's name, problem and value.
#[derive(Clone, Debug)]
pub struct DataFaults {
    pub etype: Str,
    pub faults: Vec<(Str, &'static str, Value)>,
}

impl PartialEq for DataFaults {
    fn eq(&self, other: &Self) -> bool {
        self.etype == other.etype
            && self.faults.len() == other.faults.len()
            && self
                .faults
                .iter()
                .zip(&other.faults)
                .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2.py_eq(&b.2))
    }
}

#[derive(Clone, Debug)]
pub enum Record {
    Event(Event),
    Rejected { origin: Origin, reason: Reason },
}

/// A reader of one file's records, in file order (JSON Lines, XES): what `feed_file` consumes.
pub trait RecordSource: Iterator<Item = io::Result<Record>> {
    /// The filled data fields of the last event read that the config does not hold, by name.
    fn others(&self) -> &[Str];
    /// The records read so far in the input: the next file starts from here.
    fn seq(&self) -> u64;
    /// The data fields a mapping left out since last asked, to be warned of.
    fn take_notes(&mut self) -> Vec<crate::xes::mapping::Structured> {
        Vec::new()
    }
    /// Whether the last record's line named a case this reader keeps ([`JsonlReader::keep_cases`]):
    /// the line is then this reader's to report, even when it is rejected.
    fn probed(&self) -> bool {
        false
    }
}

/// Open a log for reading; `.gz` is decompressed (see [`Gunzip`]).
pub fn open(path: &Path, gzip_ratio: u64) -> io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    if path.to_string_lossy().ends_with(".gz") {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            Gunzip::new(file, gzip_ratio),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// Past this many decompressed bytes a `.gz` input is held to its ratio (`sopengine.events.GZIP_GRACE`).
pub const GZIP_GRACE: u64 = 1 << 20;

/// What makes a compressed input unreadable from some point on; Python words it
/// (`sopengine.events.damaged_message`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Damage {
    /// The stream ends before its end marker.
    Truncated,
    /// Not gzip data, or data that does not inflate.
    Corrupt,
    /// It inflates past the allowed ratio (a decompression bomb).
    Bomb,
}

impl Damage {
    pub fn name(self) -> &'static str {
        match self {
            Damage::Truncated => "truncated",
            Damage::Corrupt => "corrupt",
            Damage::Bomb => "bomb",
        }
    }
}

/// The error a [`Gunzip`] reads fail with: the damage and the last whole line before it.
#[derive(Debug)]
pub struct Damaged {
    pub damage: Damage,
    pub line: u64,
}

impl fmt::Display for Damaged {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{} gzip data after line {}",
            self.damage.name(),
            self.line
        )
    }
}

impl std::error::Error for Damaged {}

/// Counts the bytes read from a source.
struct Tally<R> {
    inner: R,
    taken: u64,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

/// A gzip stream (all members, as Python's gzip reads them) inflated as it is read, as
/// `sopengine.events.Gunzip` does it: the compressed file is read in 8 KB pieces (Python's), and
/// damage is a [`Damaged`] error naming the last whole line: a truncated or corrupt stream, or,
/// past [`GZIP_GRACE`] bytes, more than `ratio` times the compressed bytes read so far.
pub struct Gunzip<R: Read> {
    inner: flate2::bufread::MultiGzDecoder<BufReader<Tally<R>>>,
    ratio: u64,
    out: u64,
    lines: u64,
}

impl<R: Read> Gunzip<R> {
    pub fn new(compressed: R, ratio: u64) -> Self {
        let tally = Tally {
            inner: compressed,
            taken: 0,
        };
        Gunzip {
            inner: flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(8192, tally)),
            ratio,
            out: 0,
            lines: 0,
        }
    }

    fn damaged(&self, damage: Damage) -> io::Error {
        io::Error::other(Damaged {
            damage,
            line: self.lines,
        })
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                return Err(match e.kind() {
                    io::ErrorKind::UnexpectedEof => self.damaged(Damage::Truncated),
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                        self.damaged(Damage::Corrupt)
                    }
                    _ => e, // the file's own error (or an interrupt), not the data's
                });
            }
        };
        self.out += n as u64;
        self.lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        let taken = self.inner.get_ref().get_ref().taken;
        if self.out > GZIP_GRACE && self.out > self.ratio.saturating_mul(taken) {
            return Err(self.damaged(Damage::Bomb));
        }
        Ok(n)
    }
}

/// Short strings a log repeats from event to event (actors, data values such as statuses and
/// queues), shared instead of allocated (and freed) anew for every event: a direct-mapped cache of
/// the last string seen per slot, so that its memory is bounded whatever the log holds. Case ids
/// are left out: an interleaved log has too many at once (the session shares each case's one copy).
#[derive(Default)]
pub struct Interner {
    /// Each slot's string with its hash, so that a miss is told without reading the string (a
    /// cache miss of its own). Empty: nothing is cached (a one-off record, as the XES mapping makes).
    slots: Vec<(u64, Option<Str>)>,
}

impl Interner {
    /// Small enough to stay in the L1 cache (24 bytes a slot).
    const SLOTS: usize = 1024;
    /// Longer text (descriptions) seldom repeats and would only be hashed for nothing.
    const MAX_LEN: usize = 48;

    pub fn new() -> Interner {
        Interner {
            slots: vec![(0, None); Interner::SLOTS],
        }
    }

    pub fn get(&mut self, s: &str) -> Str {
        if s.len() > Interner::MAX_LEN || self.slots.is_empty() {
            return Str::from(s);
        }
        use std::hash::BuildHasher;
        let hash = rustc_hash::FxBuildHasher.hash_one(s.as_bytes());
        // the high bits: FxHash mixes them best
        let slot = &mut self.slots[(hash >> 54) as usize % Interner::SLOTS];
        match slot {
            (h, Some(held)) if *h == hash && **held == *s => held.clone(),
            _ => {
                let fresh = Str::from(s);
                *slot = (hash, Some(fresh.clone()));
                fresh
            }
        }
    }
}

/// Yields a [`Record`] for every non-blank line of one file, in file order.
pub struct JsonlReader<'c, R> {
    src: R,
    cfg: &'c ReaderConfig,
    file: u32,
    base: String,
    lineno: u64,
    seq: u64,
    raw: Vec<u8>,
    others: Vec<Str>,
    keep: Option<&'c dyn Fn(&str) -> bool>,
    probed: bool,
    intern: Interner,
}

impl<'c, R: BufRead> JsonlReader<'c, R> {
    /// `file` is the input's index (for [`Origin`]), `base` the file as named (derived ids are
    /// `"{base}:{line}"`), `seq` the number of non-blank lines read before it in the same input.
    pub fn new(src: R, cfg: &'c ReaderConfig, file: u32, base: &str, seq: u64) -> Self {
        JsonlReader {
            src,
            cfg,
            file,
            base: base.to_owned(),
            lineno: 0,
            seq,
            raw: Vec::new(),
            others: Vec::new(),
            keep: None,
            probed: false,
            intern: Interner::new(),
        }
    }

    /// Decode only the lines of the cases `keep` takes, and those whose case cannot be told without
    /// decoding them ([`probe_case`]); the others are skipped (their input order still counted).
    /// `--jobs` workers read one log, each keeping a share of the cases: a line is then decoded by
    /// one worker, not by all. A line [`probe_case`] reads is its case's worker's to report, even
    /// when it is rejected ([`RecordSource::probed`]).
    pub fn keep_cases(mut self, keep: &'c dyn Fn(&str) -> bool) -> Self {
        self.keep = Some(keep);
        self
    }

    /// The filled data fields of the last event read that the config does not hold, by name.
    pub fn others(&self) -> &[Str] {
        &self.others
    }

    /// The non-blank lines read so far in the input: the next file starts from here.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// As `readline(max + 2)`: the next line (with its `\n`) or its first `max + 2` bytes.
    /// True when the line is longer, its rest then skipped unread.
    fn read_raw(&mut self) -> io::Result<Option<bool>> {
        self.raw.clear();
        let cap = self.cfg.max_line_bytes + 2;
        loop {
            let chunk = self.src.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let room = cap - self.raw.len();
            let (take, done) = match memchr::memchr(b'\n', &chunk[..chunk.len().min(room)]) {
                Some(i) => (i + 1, true),
                None => (chunk.len().min(room), self.raw.len() + chunk.len() >= cap),
            };
            self.raw.extend_from_slice(&chunk[..take]);
            self.src.consume(take);
            if done {
                break;
            }
        }
        if self.raw.is_empty() {
            return Ok(None);
        }
        let too_long = self.raw.len() == cap && self.raw.last() != Some(&b'\n');
        if too_long {
            self.skip_rest()?;
        }
        Ok(Some(too_long))
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        loop {
            let chunk = self.src.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.src.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.src.consume(n);
                }
            }
        }
    }
}

impl<R: BufRead> RecordSource for JsonlReader<'_, R> {
    fn others(&self) -> &[Str] {
        JsonlReader::others(self)
    }
    fn seq(&self) -> u64 {
        JsonlReader::seq(self)
    }
    fn probed(&self) -> bool {
        self.probed
    }
}

impl<R: BufRead> Iterator for JsonlReader<'_, R> {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let too_long = match self.read_raw() {
                Ok(Some(t)) => t,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            self.lineno += 1;
            let start = if self.lineno == 1 && self.raw.starts_with(b"\xef\xbb\xbf") {
                3
            } else {
                0
            };
            let raw = &self.raw[start..];
            let line = strip(raw);
            if line.is_empty() && !too_long {
                continue;
            }
            self.seq += 1;
            let origin = Origin {
                file: self.file,
                line: self.lineno,
            };
            let content = raw.len()
                - raw
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b'\r' || c == b'\n')
                    .count();
            self.probed = false;
            if too_long || content > self.cfg.max_line_bytes {
                return Some(Ok(Record::Rejected {
                    origin,
                    reason: Reason::TooLong,
                }));
            }
            if let Some(keep) = self.keep {
                match probe_case(line) {
                    Some(case) if !keep(&case) => continue,
                    Some(_) => self.probed = true,
                    None => {}
                }
            }
            self.others.clear();
            return Some(Ok(line_record(
                line,
                self.cfg,
                &self.base,
                origin,
                self.seq,
                &mut self.others,
                &mut self.intern,
            )));
        }
    }
}

/// Whether the arrays and objects of a valid JSON text nest more than `limit` deep (the top-level
/// value is level 1), measured on the text as `sopengine.events.bracket_depths` does: a repeated
/// key's first value counts too. Only a text with more brackets than the limit is scanned.
pub fn nests_deeper(text: &[u8], limit: u32) -> bool {
    if memchr::memchr2_iter(b'[', b'{', text).count() <= limit as usize {
        return false;
    }
    let mut depth = 0u32;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// `bytes.strip()`: ASCII whitespace off both ends.
pub fn strip(line: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = line.iter().position(|c| !ws(c)).unwrap_or(line.len());
    let end = line.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &line[start..end]
}

/// One stripped, non-blank line within the limit: an event or why not (`line_record`). The names
/// of the event's filled data fields that `cfg.fields` does not hold go to `others`.
pub fn line_record(
    line: &[u8],
    cfg: &ReaderConfig,
    base: &str,
    origin: Origin,
    seq: u64,
    others: &mut Vec<Str>,
    intern: &mut Interner,
) -> Record {
    let reject = |reason| Record::Rejected { origin, reason };
    let Some(top) = decode(line, &cfg.fields, intern) else {
        return reject(Reason::Json {
            line: line.to_vec(),
        });
    };
    if nests_deeper(line, cfg.max_depth) {
        return reject(Reason::TooDeep);
    }
    object_record_interned(top, cfg, base, origin, seq, others, intern)
}

/// An event object, checked as `event_from_obj` checks it after its nesting: an event (its id,
/// when it has none, `"{base}:{line}"`) or why not.
pub(crate) fn object_record(
    top: Top<'_>,
    cfg: &ReaderConfig,
    base: &str,
    origin: Origin,
    seq: u64,
    others: &mut Vec<Str>,
) -> Record {
    object_record_interned(
        top,
        cfg,
        base,
        origin,
        seq,
        others,
        &mut Interner::default(),
    )
}

fn object_record_interned(
    top: Top<'_>,
    cfg: &ReaderConfig,
    base: &str,
    origin: Origin,
    seq: u64,
    others: &mut Vec<Str>,
    intern: &mut Interner,
) -> Record {
    match envelope(top, cfg, intern) {
        Ok(env) => {
            *others = env.others;
            Record::Event(Event {
                id: env
                    .id
                    .unwrap_or_else(|| format!("{base}:{}", origin.line).into()),
                case: env.case,
                time: env.time,
                etype: env.etype,
                undeclared: env.undeclared,
                actor: env.actor,
                data: env.data,
                seq,
                origin,
            })
        }
        Err(reason) => Record::Rejected { origin, reason },
    }
}

struct Envelope {
    id: Option<Str>,
    case: Str,
    time: f64,
    etype: u32,
    undeclared: Option<Str>,
    actor: Option<Str>,
    data: Vec<(u32, Value)>,
    others: Vec<Str>,
}

/// The checks of `event_from_obj`, in its order.
fn envelope(top: Top<'_>, cfg: &ReaderConfig, intern: &mut Interner) -> Result<Envelope, Reason> {
    let obj = match top {
        Top::Object(obj) => obj,
        Top::Other(type_name) => return Err(Reason::NotObject { type_name }),
    };
    let missing: Vec<&'static str> = [
        ("case", &obj.case),
        ("time", &obj.time),
        ("type", &obj.etype),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_unset())
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() {
        return Err(Reason::Missing(missing));
    }
    let case = obj.case.text("case")?;
    let etype = obj.etype.text("type")?;
    let (etype_index, undeclared) = match (cfg.types.get(etype), cfg.undeclared) {
        (Some(&t), _) => (t, None),
        (None, Some(t)) => (t, Some(Str::from(etype))),
        (None, None) => {
            return Err(Reason::UnknownType {
                name: etype.to_owned(),
            })
        }
    };
    let time = match &obj.time {
        Field::Str(text) => parse_time(text).map_err(|_| Reason::Time {
            text: text.to_string(),
        })?,
        other => {
            return Err(Reason::TimeNotString {
                type_name: other.type_name(),
            })
        }
    };
    let actor = match &obj.actor {
        Field::Absent | Field::Null => None,
        Field::Str(s) if s.is_empty() => None,
        other => Some(intern.get(other.text("actor")?)),
    };
    let (data, others) = match obj.data {
        Data::Absent => (Vec::new(), Vec::new()),
        Data::Object(mut fields, others) => {
            fields.retain(|(_, v)| {
                !matches!(v, Value::None) && !matches!(v, Value::Str(s) if s.is_empty())
            });
            fields.sort_unstable_by_key(|(i, _)| *i);
            (fields, others)
        }
        Data::Other(type_name) => return Err(Reason::DataNotObject { type_name }),
    };
    let id = if obj.id.is_unset() {
        None
    } else {
        Some(obj.id.text("id")?.into())
    };
    Ok(Envelope {
        id,
        case: case.into(),
        time,
        etype: etype_index,
        undeclared,
        actor,
        data,
        others,
    })
}

/// An envelope key's value: only strings are kept; of the rest, their Python type name.
#[derive(Default)]
pub(crate) enum Field<'de> {
    #[default]
    Absent,
    Null,
    Str(Cow<'de, str>),
    Other(&'static str),
}

impl Field<'_> {
    fn into_owned(self) -> Field<'static> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Str(s) => Field::Str(Cow::Owned(s.into_owned())),
            Field::Other(name) => Field::Other(name),
        }
    }

    /// `v is None or v == ""`.
    fn is_unset(&self) -> bool {
        match self {
            Field::Absent | Field::Null => true,
            Field::Str(s) => s.is_empty(),
            Field::Other(_) => false,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Field::Absent | Field::Null => "NoneType",
            Field::Str(_) => "str",
            Field::Other(name) => name,
        }
    }

    fn text(&self, key: &'static str) -> Result<&str, Reason> {
        match self {
            Field::Str(s) => Ok(s),
            other => Err(Reason::NotString {
                key,
                type_name: other.type_name(),
            }),
        }
    }
}

#[derive(Default)]
pub(crate) enum Data {
    #[default]
    Absent,
    /// The fields read, last value of a repeated key, not yet cleaned or sorted; and the names of
    /// the other filled fields.
    Object(Vec<(u32, Value)>, Vec<Str>),
    Other(&'static str),
}

#[derive(Default)]
pub(crate) struct Object<'de> {
    pub id: Field<'de>,
    pub case: Field<'de>,
    pub time: Field<'de>,
    pub etype: Field<'de>,
    pub actor: Field<'de>,
    pub data: Data,
}

pub(crate) enum Top<'de> {
    Object(Object<'de>),
    Other(&'static str),
}

impl Top<'_> {
    fn into_owned(self) -> Top<'static> {
        match self {
            Top::Other(name) => Top::Other(name),
            Top::Object(o) => Top::Object(Object {
                id: o.id.into_owned(),
                case: o.case.into_owned(),
                time: o.time.into_owned(),
                etype: o.etype.into_owned(),
                actor: o.actor.into_owned(),
                data: o.data,
            }),
        }
    }
}

/// The case of a line that is a JSON object with one key `case`, holding a string, read without
/// decoding the rest (no value is built); None for any other line, whose case only decoding it
/// tells. Where the line is an event, its case is this one: the same key, unescaped alike.
pub fn probe_case(line: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        case: Option<std::borrow::Cow<'a, str>>,
    }
    // serde's derive refuses a repeated `case` (the decoder keeps the last: decoding tells)
    serde_json::from_str::<Probe>(std::str::from_utf8(line).ok()?)
        .ok()?
        .case
}

/// Parse a line as orjson would, or None where orjson refuses it.
fn decode<'de>(
    line: &'de [u8],
    fields: &FxHashMap<String, u32>,
    intern: &mut Interner,
) -> Option<Top<'de>> {
    // Validated once here, so serde_json may skip its own UTF-8 checks (orjson refuses invalid
    // UTF-8 anywhere, in skipped fields too).
    let text = std::str::from_utf8(line).ok()?;
    match negative_zero_ints(line) {
        None => parse(text, fields, intern),
        Some(fixed) => parse(&fixed, fields, intern).map(Top::into_owned),
    }
}

fn parse<'de>(
    text: &'de str,
    fields: &FxHashMap<String, u32>,
    intern: &mut Interner,
) -> Option<Top<'de>> {
    let mut de = serde_json::Deserializer::from_str(text);
    // The depth is counted (and limited as orjson does) by the seeds below.
    de.disable_recursion_limit();
    let top = TopSeed { fields, intern }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(top)
}

/// serde_json reads the integer `-0` as the float -0.0; orjson (and Python) as the int 0.
/// When a line holds one (rare: dates hold `-0` before a digit), it is parsed as `0`.
fn negative_zero_ints(line: &[u8]) -> Option<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'-' if line.get(i + 1) == Some(&b'0')
                && !matches!(line.get(i + 2), Some(b'0'..=b'9' | b'.' | b'e' | b'E'))
                && (i == 0
                    || matches!(
                        line[i - 1],
                        b' ' | b'\t' | b'\n' | b'\r' | b'[' | b':' | b','
                    )) =>
            {
                found.push(i)
            }
            _ => {}
        }
        i += 1;
    }
    if found.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(line.len());
    let mut from = 0;
    for at in found {
        out.extend_from_slice(&line[from..at]);
        from = at + 1;
    }
    out.extend_from_slice(&line[from..]);
    String::from_utf8(out).ok()
}

const NOT_OBJECT: &str = "an orjson value";

/// The Python type name of a JSON scalar or container that is not an object.
macro_rules! scalar_names {
    ($ty:ty) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$ty, E> {
            Ok(Self::other("bool"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$ty, E> {
            Ok(Self::other("int"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$ty, E> {
            Ok(Self::other("int"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$ty, E> {
            Ok(Self::other("float"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$ty, E> {
            Ok(Self::null())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$ty, A::Error> {
            skip_seq(seq, self.depth())?;
            Ok(Self::other("list"))
        }
    };
}

struct TopSeed<'f> {
    fields: &'f FxHashMap<String, u32>,
    intern: &'f mut Interner,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl TopSeed<'_> {
    fn other(name: &'static str) -> Top<'static> {
        Top::Other(name)
    }
    fn null() -> Top<'static> {
        Top::Other("null")
    }
    fn depth(&self) -> u32 {
        1
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    scalar_names!(Top<'de>);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top::Other("str"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut obj = Object::default();
        while let Some(key) = map.next_key::<Key<'de>>()?.map(|k| k.0) {
            match &*key {
                "id" => obj.id = map.next_value_seed(FieldSeed)?,
                "case" => obj.case = map.next_value_seed(FieldSeed)?,
                "time" => obj.time = map.next_value_seed(FieldSeed)?,
                "type" => obj.etype = map.next_value_seed(FieldSeed)?,
                "actor" => obj.actor = map.next_value_seed(FieldSeed)?,
                "data" => {
                    obj.data = map.next_value_seed(DataSeed {
                        fields: self.fields,
                        intern: &mut *self.intern,
                    })?
                }
                _ => {
                    map.next_value_seed(Skip { depth: 2 })?;
                }
            }
        }
        Ok(Top::Object(obj))
    }
}

struct FieldSeed;

impl FieldSeed {
    fn other(name: &'static str) -> Field<'static> {
        Field::Other(name)
    }
    fn null() -> Field<'static> {
        Field::Null
    }
    fn depth(&self) -> u32 {
        2
    }
}

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Field<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    scalar_names!(Field<'de>);
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<'de>, A::Error> {
        skip_map(map, 2)?;
        Ok(Field::Other("dict"))
    }
}

struct DataSeed<'f> {
    fields: &'f FxHashMap<String, u32>,
    intern: &'f mut Interner,
}

impl DataSeed<'_> {
    fn other(name: &'static str) -> Data {
        Data::Other(name)
    }
    fn null() -> Data {
        Data::Absent
    }
    fn depth(&self) -> u32 {
        2
    }
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = Data;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = Data;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    scalar_names!(Data);
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Data, E> {
        Ok(Data::Other("str"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        let mut out: Vec<(u32, Value)> = Vec::new();
        let mut others: Vec<Str> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()?.map(|k| k.0) {
            match self.fields.get(&*key) {
                Some(&index) => {
                    let value = map.next_value_seed(ValueSeed {
                        depth: 3,
                        intern: Some(&mut *self.intern),
                    })?;
                    match out.iter_mut().find(|(i, _)| *i == index) {
                        Some(slot) => slot.1 = value,
                        None => out.push((index, value)),
                    }
                }
                None => {
                    // Not built, but its name is kept when it is filled (its last value counts).
                    let filled = map.next_value_seed(Skip { depth: 3 })?;
                    let at = others.iter().position(|k| **k == *key);
                    match (filled, at) {
                        (true, None) => others.push(Str::from(&*key)),
                        (false, Some(i)) => {
                            others.remove(i);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(Data::Object(out, others))
    }
}

/// An object key, borrowed from the line where it has no escapes: `Cow<str>`'s own `Deserialize`
/// always copies, an allocation per key of every line.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

fn too_deep<E: de::Error>(depth: u32) -> Result<(), E> {
    if depth > MAX_DEPTH {
        Err(E::custom("nested too deeply"))
    } else {
        Ok(())
    }
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A, depth: u32) -> Result<(), A::Error> {
    too_deep(depth)?;
    while seq.next_element_seed(Skip { depth: depth + 1 })?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A, depth: u32) -> Result<(), A::Error> {
    too_deep(depth)?;
    while map.next_key::<IgnoredAny>()?.is_some() {
        map.next_value_seed(Skip { depth: depth + 1 })?;
    }
    Ok(())
}

/// Checks a value as orjson would without building it, and says whether it is filled (not null,
/// not ""). Not `IgnoredAny` alone: that neither counts depth nor checks numbers (`1e400`) and
/// string escapes as orjson does.
#[derive(Clone, Copy)]
struct Skip {
    /// The depth a container here would have (the top-level value is at 1).
    depth: u32,
}

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(true)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(!v.is_empty())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        skip_seq(seq, self.depth).map(|()| true)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        skip_map(map, self.depth).map(|()| true)
    }
}

/// Builds a data value as Python holds it (orjson's types).
struct ValueSeed<'i> {
    depth: u32,
    /// Set for a data field's own value (its items and entries are not shared).
    intern: Option<&'i mut Interner>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Big(Arc::new(i128::from(v))), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(match self.intern {
            Some(intern) => intern.get(v),
            None => v.into(),
        }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        too_deep(self.depth)?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(ValueSeed {
            depth: self.depth + 1,
            intern: None,
        })? {
            items.push(v);
        }
        Ok(Value::List(Arc::new(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        too_deep(self.depth)?;
        let mut items: Vec<(Str, Value)> = Vec::new();
        // A repeated key keeps its first place and takes the last value, as a Python dict does.
        let mut index: HashMap<Str, usize> = HashMap::new();
        while let Some(key) = map.next_key::<Key<'de>>()?.map(|k| k.0) {
            let value = map.next_value_seed(ValueSeed {
                depth: self.depth + 1,
                intern: None,
            })?;
            let found = if items.len() < 16 {
                items.iter().position(|(k, _)| **k == *key)
            } else {
                if index.is_empty() {
                    index.extend(items.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)));
                }
                index.get(&*key).copied()
            };
            match found {
                Some(i) => items[i].1 = value,
                None => {
                    let key: Str = key.as_ref().into();
                    if !index.is_empty() {
                        index.insert(key.clone(), items.len());
                    }
                    items.push((key, value));
                }
            }
        }
        Ok(Value::Dict(Arc::new(items)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(limit: usize) -> ReaderConfig {
        ReaderConfig {
            types: [("a.b".to_owned(), 0)].into_iter().collect(),
            undeclared: None,
            fields: [("x".to_owned(), 1), ("y".to_owned(), 0)]
                .into_iter()
                .collect(),
            max_line_bytes: limit,
            max_depth: 8,
        }
    }

    fn lines(input: &[u8], limit: usize) -> Vec<(u64, Result<u64, Reason>)> {
        let cfg = config(limit);
        JsonlReader::new(input, &cfg, 0, "f.jsonl", 0)
            .map(|r| match r.unwrap() {
                Record::Event(e) => (e.origin.line, Ok(e.seq)),
                Record::Rejected { origin, reason } => (origin.line, Err(reason)),
            })
            .collect()
    }

    const GOOD: &[u8] = br#"{"case":"C","time":"2024-05-06T09:00:00Z","type":"a.b"}"#;

    #[test]
    fn only_newline_ends_a_line_and_blank_lines_count_but_are_skipped() {
        let input = [
            b"\xef\xbb\xbf".as_slice(),
            GOOD,
            b"\r\n \x0b\x0c\t\r\n\n",
            GOOD,
            b"\r\r\x0c",
        ]
        .concat();
        assert_eq!(lines(&input, 1000), vec![(1, Ok(1)), (4, Ok(2))]);
    }

    #[test]
    fn line_length_is_measured_as_python_readline_does() {
        let limit = GOOD.len();
        let fits = [GOOD, b"\r\n"].concat();
        assert_eq!(lines(&fits, limit), vec![(1, Ok(1))]);
        // Two carriage returns push the newline past readline(limit + 2): too long there too.
        let cr = [GOOD, b"\r\r\n", GOOD].concat();
        assert_eq!(
            lines(&cr, limit),
            vec![(1, Err(Reason::TooLong)), (2, Ok(2))]
        );
        let long = [GOOD, b" x\n", GOOD].concat();
        assert_eq!(
            lines(&long, limit),
            vec![(1, Err(Reason::TooLong)), (2, Ok(2))]
        );
        // A BOM counts toward readline's cut but not toward the stripped length.
        let bom = [b"\xef\xbb\xbf".as_slice(), GOOD, b"\n"].concat();
        assert_eq!(lines(&bom, limit + 1), vec![(1, Err(Reason::TooLong))]);
        assert_eq!(lines(&bom, limit + 2), vec![(1, Ok(1))]);
    }

    #[test]
    fn data_keeps_read_fields_sorted_and_drops_unfilled_ones() {
        let line = br#"{"case":"C","time":"2024-05-06T09:00:00Z","type":"a.b","data":{"x":1,"z":[[1e400]],"y":"","x":2,"y":null}}"#;
        // 1e400 in a skipped field is still refused, as orjson refuses it.
        assert!(matches!(&lines(line, 1000)[0].1, Err(Reason::Json { .. })));
        let line = br#"{"case":"C","time":"2024-05-06T09:00:00Z","type":"a.b","data":{"x":1,"z":[[1]],"y":"q","x":2}}"#;
        let cfg = config(1000);
        let Some(Ok(Record::Event(e))) = JsonlReader::new(line.as_slice(), &cfg, 0, "f", 0).next()
        else {
            panic!("not an event")
        };
        assert_eq!(
            e.data.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(matches!(e.get(1), Some(Value::Int(2))));
        assert_eq!(&*e.id, "f:1");
    }

    #[test]
    fn negative_zero_integers_are_ints_as_in_python() {
        assert_eq!(
            negative_zero_ints(br#"[-0, -0.0, -0e1, "-0", 1e-0, -01]"#).as_deref(),
            Some(r#"[0, -0.0, -0e1, "-0", 1e-0, -01]"#)
        );
        assert_eq!(negative_zero_ints(br#""2024-05-06""#), None);
        assert!(matches!(
            decode(b"-0", &FxHashMap::default(), &mut Interner::new()),
            Some(Top::Other("int"))
        ));
    }

    #[test]
    fn nesting_past_the_limit_is_measured_on_the_text() {
        let cfg = config(1000);
        let deep = |n: usize| {
            let nest = [b"[".repeat(n), b"]".repeat(n)].concat();
            [
                br#"{"case":"C","time":"2024-05-06T09:00:00Z","type":"a.b","z":"#.as_slice(),
                &nest,
                b"}",
            ]
            .concat()
        };
        // max_depth 8: the object is level 1, so 7 arrays fit and 8 do not
        let record = |line: &[u8]| JsonlReader::new(line, &cfg, 0, "f", 0).next();
        assert!(matches!(record(&deep(7)), Some(Ok(Record::Event(_)))));
        assert!(matches!(
            record(&deep(8)),
            Some(Ok(Record::Rejected {
                reason: Reason::TooDeep,
                ..
            }))
        ));
        // brackets in strings do not count; a repeated key's first value does
        assert!(!nests_deeper(br#"["[[[[[[[[[[\"[[[[[["]"#, 2));
        assert!(nests_deeper(br#"{"a":[[[1]]],"a":1}"#, 3));
        // invalid JSON is a JSON error first, however deep
        let bad = [deep(20), b"x".to_vec()].concat();
        assert!(matches!(
            record(&bad),
            Some(Ok(Record::Rejected {
                reason: Reason::Json { .. },
                ..
            }))
        ));
    }

    #[test]
    fn a_damaged_gzip_says_so_with_the_last_whole_line() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..2000 {
            writeln!(gz, "line {i} {}", "x".repeat(i % 50)).unwrap();
        }
        let whole = gz.finish().unwrap();
        let damage = |bytes: &[u8], ratio: u64| {
            let mut out = Vec::new();
            let err = Gunzip::new(bytes, ratio).read_to_end(&mut out).unwrap_err();
            let d = err.get_ref().unwrap().downcast_ref::<Damaged>().unwrap();
            (
                d.damage,
                d.line,
                out.iter().filter(|&&b| b == b'\n').count() as u64,
            )
        };
        let (kind, line, read) = damage(&whole[..whole.len() / 2], 1000);
        assert_eq!((kind, line), (Damage::Truncated, read));
        assert!(line > 100);
        assert_eq!(damage(b"{\"not\": \"gzip\"}\n", 1000).0, Damage::Corrupt);
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&b"x\n".repeat(3_000_000)).unwrap();
        assert_eq!(damage(&bomb.finish().unwrap(), 100).0, Damage::Bomb);
    }

    #[test]
    fn nesting_deeper_than_orjson_allows_is_refused() {
        let nest = |n: usize| [b"[".repeat(n), b"]".repeat(n)].concat();
        assert!(decode(&nest(1024), &FxHashMap::default(), &mut Interner::new()).is_some());
        assert!(decode(&nest(1025), &FxHashMap::default(), &mut Interner::new()).is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Lines of any bytes, of pieces of JSON, and events nesting their data any depth (with
        /// brackets and escapes in strings), joined by newlines.
        fn log() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                any::<u8>().prop_map(|b| vec![b]),
                Just(b"[".to_vec()),
                Just(b"]".to_vec()),
                Just(b"{".to_vec()),
                Just(b"}".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"\\".to_vec()),
                Just(b"\r".to_vec()),
                Just(b"-0".to_vec()),
                Just(b"1e400".to_vec()),
                Just(b"\xef\xbb\xbf".to_vec()),
            ];
            let junk = proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat());
            let event = (0usize..9, "[a-z\\[\\]{}\"\\\\]{0,6}", any::<bool>()).prop_map(|(n, text, repeat)| {
                let text = serde_json::to_string(&text).unwrap();
                let nest = format!("{}{text}{}", "[".repeat(n), "]".repeat(n));
                let extra = if repeat { format!(r#","z":{nest},"z":1"#) } else { String::new() };
                format!(
                    r#"{{"case":"C","time":"2024-05-06T09:00:00Z","type":"a.b","data":{{"x":{nest}}}{extra}}}"#
                )
                .into_bytes()
            });
            let line = prop_oneof![junk, event.clone(), event];
            proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join(&b'\n'))
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// Arbitrary bytes never panic; every non-blank (or too long) line is one record, an event
            /// or a rejection, in line order; an event never nests past the limit, a TooDeep line does.
            #[test]
            fn every_line_is_an_event_or_a_rejection(input in log(), limit in 1usize..200, depth in 1u32..9) {
                let cfg = ReaderConfig { max_depth: depth, ..config(limit) };
                let records: Vec<Record> = JsonlReader::new(input.as_slice(), &cfg, 0, "f", 0)
                    .map(|r| r.expect("bytes in memory cannot fail to read"))
                    .collect();
                let mut segments: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
                if segments.last().is_some_and(|s| s.is_empty()) {
                    segments.pop();
                }
                let text = |n: usize| {
                    let seg = segments[n];
                    strip(if n == 0 { seg.strip_prefix(b"\xef\xbb\xbf").unwrap_or(seg) } else { seg })
                };
                // readline(limit + 2) cuts a line of limit + 2 bytes or more: it is too long, blank or not
                let counted: Vec<u64> = (0..segments.len())
                    .filter(|&n| segments[n].len() >= limit + 2 || !text(n).is_empty())
                    .map(|n| n as u64 + 1)
                    .collect();
                let lines: Vec<u64> = records
                    .iter()
                    .map(|r| match r {
                        Record::Event(e) => e.origin.line,
                        Record::Rejected { origin, .. } => origin.line,
                    })
                    .collect();
                prop_assert_eq!(&lines, &counted);
                for (r, line) in records.iter().zip(&lines) {
                    let deep = nests_deeper(text(*line as usize - 1), depth);
                    match r {
                        Record::Event(e) => {
                            prop_assert!(!deep);
                            prop_assert!(text(*line as usize - 1).len() <= limit);
                            prop_assert_eq!(e.seq, lines.iter().position(|l| l == line).unwrap() as u64 + 1);
                        }
                        Record::Rejected { reason: Reason::TooDeep, .. } => prop_assert!(deep),
                        Record::Rejected { .. } => {}
                    }
                }
            }
        }
    }
}
