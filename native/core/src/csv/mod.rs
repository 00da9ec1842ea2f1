//! The CSV reader: the rows of a CSV file after its header, as
//! `sopengine.adapters.readers.read_csv` reads them with Python's csv module (strict, Excel
//! dialect), each through an input mapping the core applies exactly ([`Mapper`]).
//!
//! What comes before the rows (an Excel `sep=` line, the header, so the delimiter and the column
//! names) is read by the Python reader's own code, which hands over a [`CsvLayout`]
//! (`sopengine.adapters.native_csv`, which also says why the csv crate is not used). Here the
//! rows are read as `read_csv` feeds the csv module: a line at a time (to a newline byte, as
//! `readline` splits), each decoded as UTF-8 (with replacement where it is not, and its row then
//! rejected), through the module's state machine ([`Parser`]).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

use serde::Deserialize;

use crate::event::Origin;
use crate::reader::{ReaderConfig, Reason, Record, RecordSource};
use crate::value::{Str, Value};
use crate::xes::mapping::{Mapper, Structured, XesSpec};
use crate::xes::record::{Attrs, XValue};

/// A mapping spec as `sopengine.adapters.native_xes` writes it (JSON): the mapping, and for a CSV
/// file the layout of its rows (`sopengine.adapters.native_csv`).
#[derive(Clone, Debug, Deserialize)]
pub struct MappedSpec {
    #[serde(flatten)]
    pub mapping: XesSpec,
    #[serde(default)]
    pub csv: Option<CsvLayout>,
}

/// How a file's rows are read, as the Python reader found it reading what comes before them.
#[derive(Clone, Debug, Deserialize)]
pub struct CsvLayout {
    /// One of `, ; TAB |`.
    pub delimiter: char,
    /// The columns' names, stripped and spelt as the mapping spells them (`Mapping.spelt`).
    pub header: Vec<String>,
    /// The lines before the first row (a `sep=` line, the header's lines).
    pub skip: u64,
    /// `csv.field_size_limit`: the characters a field may hold (line-bytes).
    pub field_limit: usize,
}

/// A quoted field opened on line `start` that runs past that line to the end of the file
/// (`ended`) or past the field limit (on line `end`): the rows after it cannot be told apart,
/// so the reading stops (`read_csv`'s `InputError`, worded by `readers.unclosed_quote`).
#[derive(Debug)]
pub struct Unclosed {
    pub start: u64,
    pub end: u64,
    pub ended: bool,
}

impl fmt::Display for Unclosed {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a quoted field opened on line {} is not closed by line {}",
            self.start, self.end
        )
    }
}

impl std::error::Error for Unclosed {}

/// Where the csv module stops reading a row (its `csv.Error`s for the Excel dialect, strict).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Text after a closing quote ("',' expected after '\"'").
    Quote,
    /// A carriage return followed by more of the line outside a quoted field.
    Newline,
    /// The file ends inside a quoted field ("unexpected end of data").
    Eof,
    /// A field longer than the field limit.
    Limit,
}

impl Fault {
    /// The name `readers.csv_malformed_reason` words it from.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Quote => "quote",
            Fault::Newline => "newline",
            Fault::Eof => "eof",
            Fault::Limit => "limit",
        }
    }
}

/// The states of the csv module's reader (`Modules/_csv.c`), those the Excel dialect reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuotedField,
    QuoteInQuotedField,
    EatCrnl,
}

/// `parse_process_char` of the csv module for the Excel dialect (quote `"`, doubled inside a
/// quoted field; no escape character) with `strict` on, over the bytes of UTF-8 text: every
/// character it treats apart is ASCII, which no byte of another character's encoding is, so
/// bytes are read as the module reads characters. A field's length is counted in characters.
struct Parser {
    delimiter: u8,
    limit: usize,
    state: State,
    /// The fields of the row so far: the first `count` (kept for their buffers).
    fields: Vec<Vec<u8>>,
    count: usize,
    field: Vec<u8>,
    chars: usize,
}

impl Parser {
    fn new(delimiter: u8, limit: usize) -> Parser {
        Parser {
            delimiter,
            limit,
            state: State::StartRecord,
            fields: Vec::new(),
            count: 0,
            field: Vec::new(),
            chars: 0,
        }
    }

    /// `parse_reset`: a new row.
    fn reset(&mut self) {
        self.state = State::StartRecord;
        self.count = 0;
        self.field.clear();
        self.chars = 0;
    }

    /// `parse_add_char`: the limit is checked before each character is added.
    fn add(&mut self, c: u8) -> Result<(), Fault> {
        if c & 0xC0 != 0x80 {
            if self.chars >= self.limit {
                return Err(Fault::Limit);
            }
            self.chars += 1;
        }
        self.field.push(c);
        Ok(())
    }

    /// `parse_save_field`.
    fn save(&mut self) {
        if self.count == self.fields.len() {
            self.fields.push(Vec::new());
        }
        let slot = &mut self.fields[self.count];
        slot.clear();
        slot.extend_from_slice(&self.field);
        self.count += 1;
        self.field.clear();
        self.chars = 0;
    }

    /// The end of a row or a field at a line end: `EOL` (the end of the line's text) or a
    /// newline character.
    fn end_row(&mut self, c: Option<u8>) {
        self.save();
        self.state = if c.is_none() {
            State::StartRecord
        } else {
            State::EatCrnl
        };
    }

    /// One character of a line, or `None` for `EOL`.
    fn step(&mut self, c: Option<u8>) -> Result<(), Fault> {
        let newline = matches!(c, Some(b'\n' | b'\r'));
        if self.state == State::StartRecord {
            match c {
                None => return Ok(()),
                Some(b'\n' | b'\r') => {
                    self.state = State::EatCrnl;
                    return Ok(());
                }
                Some(_) => self.state = State::StartField,
            }
        }
        match self.state {
            State::StartRecord => {}
            State::StartField => match c {
                _ if newline || c.is_none() => self.end_row(c),
                Some(b'"') => self.state = State::InQuotedField,
                Some(d) if d == self.delimiter => self.save(),
                Some(ch) => {
                    self.add(ch)?;
                    self.state = State::InField;
                }
                None => {}
            },
            State::InField => match c {
                _ if newline || c.is_none() => self.end_row(c),
                Some(d) if d == self.delimiter => {
                    self.save();
                    self.state = State::StartField;
                }
                Some(ch) => self.add(ch)?,
                None => {}
            },
            State::InQuotedField => match c {
                None => {}
                Some(b'"') => self.state = State::QuoteInQuotedField,
                Some(ch) => self.add(ch)?,
            },
            State::QuoteInQuotedField => match c {
                Some(b'"') => {
                    self.add(b'"')?;
                    self.state = State::InQuotedField;
                }
                Some(d) if d == self.delimiter => {
                    self.save();
                    self.state = State::StartField;
                }
                _ if newline || c.is_none() => self.end_row(c),
                Some(_) => return Err(Fault::Quote),
                None => {}
            },
            State::EatCrnl => match c {
                _ if newline => {}
                None => self.state = State::StartRecord,
                Some(_) => return Err(Fault::Newline),
            },
        }
        Ok(())
    }

    /// One line (with its newline, if any), then `EOL`.
    fn line(&mut self, text: &[u8]) -> Result<(), Fault> {
        for &c in text {
            self.step(Some(c))?;
        }
        self.step(None)
    }

    fn row(&self) -> &[Vec<u8>] {
        &self.fields[..self.count]
    }
}

/// Yields a [`Record`] for every row of one CSV file after its header, in file order: the event
/// its mapping makes, or why the row is rejected. Empty rows are passed over, as `read_csv` does.
pub struct CsvReader<'c, R: BufRead> {
    src: R,
    cfg: &'c ReaderConfig,
    mapper: &'c Mapper,
    names: Vec<Str>,
    skip: u64,
    delimiter: char,
    file: u32,
    base: String,
    seq: u64,
    /// The lines read so far.
    line: u64,
    parser: Parser,
    buf: Vec<u8>,
    done: bool,
    others: Vec<Str>,
    notes: Vec<Structured>,
}

impl<'c, R: BufRead> CsvReader<'c, R> {
    /// As [`crate::reader::JsonlReader::new`], with the file's layout and the mapping to apply.
    pub fn new(
        src: R,
        cfg: &'c ReaderConfig,
        layout: &CsvLayout,
        mapper: &'c Mapper,
        file: u32,
        base: &str,
        seq: u64,
    ) -> Self {
        // native_csv hands over only the delimiters read_csv sniffs: ASCII
        let delimiter = u8::try_from(layout.delimiter).unwrap_or(b',');
        CsvReader {
            src,
            cfg,
            mapper,
            names: layout
                .header
                .iter()
                .map(|n| Str::from(n.as_str()))
                .collect(),
            skip: layout.skip,
            delimiter: layout.delimiter,
            file,
            base: base.to_owned(),
            seq,
            line: 0,
            parser: Parser::new(delimiter, layout.field_limit),
            buf: Vec::new(),
            done: false,
            others: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn rejected(&mut self, line: u64, reason: Reason) -> Record {
        self.seq += 1;
        Record::Rejected {
            origin: Origin {
                file: self.file,
                line,
            },
            reason,
        }
    }

    fn malformed(&mut self, line: u64, fault: Fault, ended: bool) -> Record {
        let reason = Reason::CsvMalformed {
            kind: fault.name(),
            delimiter: self.delimiter,
            ended,
        };
        self.rejected(line, reason)
    }

    /// The next record; None at the end of the file.
    fn next_record(&mut self) -> io::Result<Option<Record>> {
        while self.line < self.skip {
            self.buf.clear();
            if self.src.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
        }
        loop {
            let start = self.line + 1;
            self.parser.reset();
            let mut bad = false;
            loop {
                self.buf.clear();
                if self.src.read_until(b'\n', &mut self.buf)? == 0 {
                    self.done = true;
                    if self.parser.state != State::InQuotedField {
                        return Ok(None);
                    }
                    if self.line > start {
                        return Err(io::Error::other(Unclosed {
                            start,
                            end: self.line,
                            ended: true,
                        }));
                    }
                    return Ok(Some(self.malformed(start, Fault::Eof, true)));
                }
                self.line += 1;
                let text = match std::str::from_utf8(&self.buf) {
                    Ok(_) => Cow::Borrowed(&self.buf[..]),
                    Err(_) => {
                        bad = true;
                        Cow::Owned(String::from_utf8_lossy(&self.buf).into_owned().into_bytes())
                    }
                };
                if let Err(fault) = self.parser.line(&text) {
                    // the rest of the line is dropped, and the next row starts on the next line
                    if fault == Fault::Limit && self.line > start {
                        return Err(io::Error::other(Unclosed {
                            start,
                            end: self.line,
                            ended: false,
                        }));
                    }
                    return Ok(Some(self.malformed(start, fault, false)));
                }
                if self.parser.state == State::StartRecord {
                    break;
                }
            }
            let row = self.parser.row();
            if row.is_empty() || (row.len() == 1 && row[0].is_empty()) {
                continue;
            }
            if bad {
                return Ok(Some(self.rejected(start, Reason::CsvUndecodable)));
            }
            if row.len() != self.names.len() {
                let reason = Reason::CsvWidth {
                    got: row.len(),
                    width: self.names.len(),
                };
                return Ok(Some(self.rejected(start, reason)));
            }
            let mut record = Attrs::default();
            for (name, field) in self.names.iter().zip(row) {
                if !field.is_empty() {
                    // fields split UTF-8 text at ASCII bytes: each is UTF-8
                    let text = String::from_utf8_lossy(field);
                    record.set(name.clone(), XValue::Scalar(Value::Str(Str::from(&*text))));
                }
            }
            self.seq += 1;
            let origin = Origin {
                file: self.file,
                line: start,
            };
            let mut others = Vec::new();
            let record = self.mapper.apply(
                &record,
                self.cfg,
                &self.base,
                origin,
                self.seq,
                &mut others,
                &mut self.notes,
            );
            if matches!(record, Record::Event(_)) {
                self.others = others;
            }
            return Ok(Some(record));
        }
    }
}

impl<R: BufRead> Iterator for CsvReader<'_, R> {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> RecordSource for CsvReader<'_, R> {
    fn others(&self) -> &[Str] {
        &self.others
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn take_notes(&mut self) -> Vec<Structured> {
        std::mem::take(&mut self.notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows the parser reads from `lines`, or the fault it stops at.
    fn rows(lines: &[&str], limit: usize) -> Vec<Result<Vec<String>, Fault>> {
        let mut parser = Parser::new(b',', limit);
        let mut out = Vec::new();
        let mut lines = lines.iter();
        'rows: loop {
            parser.reset();
            loop {
                let Some(line) = lines.next() else {
                    if parser.state == State::InQuotedField {
                        out.push(Err(Fault::Eof));
                    }
                    break 'rows;
                };
                if let Err(fault) = parser.line(line.as_bytes()) {
                    out.push(Err(fault));
                    continue 'rows;
                }
                if parser.state == State::StartRecord {
                    break;
                }
            }
            let row = parser.row().iter();
            out.push(Ok(row
                .map(|f| String::from_utf8(f.clone()).unwrap())
                .collect()));
        }
        out
    }

    /// The records of a file through the default columns mapping: (line, case or the reason).
    fn read(text: &[u8], skip: u64) -> Vec<io::Result<(u64, Result<Str, Reason>)>> {
        let cfg = ReaderConfig {
            types: [("A".to_owned(), 0)].into_iter().collect(),
            ..ReaderConfig::default()
        };
        let spec: MappedSpec = serde_json::from_str(
            r#"{"source": "row", "rest": true, "used": ["case", "time", "type"],
                "values": {"case": {"path": "case"}, "type": {"path": "type"}, "time": {"path": "time"}},
                "csv": {"delimiter": ";", "header": ["case", "time", "type"], "skip": 1, "field_limit": 50}}"#,
        )
        .unwrap();
        let mapper = Mapper::new(&spec.mapping).unwrap();
        let layout = CsvLayout {
            skip,
            ..spec.csv.unwrap()
        };
        CsvReader::new(text, &cfg, &layout, &mapper, 0, "f.csv", 0)
            .map(|r| {
                r.map(|record| match record {
                    Record::Event(e) => (e.origin.line, Ok(e.case)),
                    Record::Rejected { origin, reason } => (origin.line, Err(reason)),
                })
            })
            .collect()
    }

    #[test]
    fn rows_come_at_the_line_they_start_on_after_the_header() {
        let text = b"sep=;\ncase;time;type\n\nc1;2024-01-01T00:00:00Z;A\n\"c\n2\";2024-01-01T00:00:00Z;A\nc3;x\nc\xff;2024-01-01T00:00:00Z;A\n";
        let got: Vec<_> = read(text, 2).into_iter().map(Result::unwrap).collect();
        assert_eq!(got[0], (4, Ok(Str::from("c1"))));
        assert_eq!(got[1], (5, Ok(Str::from("c\n2"))));
        assert_eq!(got[2], (7, Err(Reason::CsvWidth { got: 2, width: 3 })));
        assert_eq!(got[3], (8, Err(Reason::CsvUndecodable)));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn a_quote_open_past_its_first_line_stops_the_reading() {
        let got = read(b"case;time;type\n\"open;x\n\nmore\n", 1);
        let err = got.into_iter().next().unwrap().unwrap_err();
        let unclosed = err.get_ref().unwrap().downcast_ref::<Unclosed>().unwrap();
        assert_eq!((unclosed.start, unclosed.end, unclosed.ended), (2, 4, true));
        let got = read(b"case;time;type\n\"open;x", 1);
        assert!(matches!(
            got[0].as_ref().unwrap(),
            (
                2,
                Err(Reason::CsvMalformed {
                    kind: "eof",
                    ended: true,
                    ..
                })
            )
        ));
    }

    fn ok(fields: &[&str]) -> Result<Vec<String>, Fault> {
        Ok(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn rows_are_read_as_the_csv_module_reads_them() {
        let got = rows(
            &[
                "a,\"b,\"\"c\"\"\",\r\n",
                "\n",
                "\"x\n",
                "y\",z\n",
                "\"\"\n",
                "é,\0\r",
            ],
            100,
        );
        assert_eq!(
            got,
            vec![
                ok(&["a", "b,\"c\"", ""]),
                ok(&[]),
                ok(&["x\ny", "z"]),
                ok(&[""]),
                ok(&["é", "\0"]),
            ]
        );
    }

    #[test]
    fn the_csv_modules_faults_stop_a_row_and_drop_the_rest_of_its_line() {
        let got = rows(&["\"a\"b,c\n", "a\rb\n", "ok\n", "\"open\n"], 100);
        assert_eq!(
            got,
            vec![
                Err(Fault::Quote),
                Err(Fault::Newline),
                ok(&["ok"]),
                Err(Fault::Eof)
            ]
        );
        // the limit counts characters, not bytes
        assert_eq!(rows(&["ééé\n"], 3), vec![ok(&["ééé"])]);
        assert_eq!(
            rows(&["éééé,x\n", "y\n"], 3),
            vec![Err(Fault::Limit), ok(&["y"])]
        );
    }
}
