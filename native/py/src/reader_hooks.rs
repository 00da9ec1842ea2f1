//! The native reader's test hooks: records and timestamps as Python sees them, to compare with the
//! reference reader.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use sopengine_core::csv::{CsvLayout, CsvReader, MappedSpec};
use sopengine_core::reader::{self, JsonlReader, ReaderConfig, Reason, Record, RecordSource};
use sopengine_core::xes::mapping::{Mapper, Structured};
use sopengine_core::xes::XesReader;

use crate::convert::value_to_py;

/// `(kind, *args)`, rendered by `sopengine.events.render_native_reason`.
pub fn reason_to_py<'py>(py: Python<'py>, reason: &Reason) -> PyResult<Bound<'py, PyAny>> {
    Ok(match reason {
        Reason::TooLong => ("too_long",).into_pyobject(py)?.into_any(),
        Reason::TooDeep => ("too_deep",).into_pyobject(py)?.into_any(),
        Reason::Json { line } => ("json", PyBytes::new(py, line))
            .into_pyobject(py)?
            .into_any(),
        Reason::NotObject { type_name } => ("not_object", *type_name).into_pyobject(py)?.into_any(),
        Reason::Missing(keys) => ("missing", keys.clone()).into_pyobject(py)?.into_any(),
        Reason::NotString { key, type_name } => ("not_string", *key, *type_name)
            .into_pyobject(py)?
            .into_any(),
        Reason::UnknownType { name } => ("unknown_type", name.as_str())
            .into_pyobject(py)?
            .into_any(),
        Reason::TimeNotString { type_name } => ("time_not_string", *type_name)
            .into_pyobject(py)?
            .into_any(),
        Reason::Time { text } => ("time", text.as_str()).into_pyobject(py)?.into_any(),
        Reason::DataNotObject { type_name } => ("data_not_object", *type_name)
            .into_pyobject(py)?
            .into_any(),
        Reason::Data(reader::DataFaults { etype, faults }) => {
            let items = PyList::empty(py);
            for (field, problem, value) in faults {
                items.append((&**field, *problem, value_to_py(py, value)?))?;
            }
            ("data", &**etype, items).into_pyobject(py)?.into_any()
        }
        Reason::XesValue { key, value, tag } => ("xes_value", key.as_deref(), value.as_str(), *tag)
            .into_pyobject(py)?
            .into_any(),
        Reason::XesBad(value) => ("xes_bad", value_to_py(py, &value.0)?)
            .into_pyobject(py)?
            .into_any(),
        Reason::Malformed { message } => ("xes_malformed", *message).into_pyobject(py)?.into_any(),
        Reason::CsvMalformed {
            kind,
            delimiter,
            ended,
        } => ("csv_malformed", *kind, *delimiter, *ended)
            .into_pyobject(py)?
            .into_any(),
        Reason::CsvWidth { got, width } => {
            ("csv_width", *got, *width).into_pyobject(py)?.into_any()
        }
        Reason::CsvUndecodable => ("csv_undecodable",).into_pyobject(py)?.into_any(),
        Reason::Mapped { source, reason } => ("mapped", &**source, reason_to_py(py, reason)?)
            .into_pyobject(py)?
            .into_any(),
    })
}

/// A file's mapping as the core applies it: an XES file's, or a CSV file's with its layout.
pub struct Mapped {
    pub mapper: Mapper,
    pub csv: Option<CsvLayout>,
}

/// The mapping of a spec (JSON), or None for JSON Lines.
pub fn mapped(spec: Option<&str>) -> PyResult<Option<Mapped>> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let spec: MappedSpec = serde_json::from_str(spec)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("the mapping spec: {e}")))?;
    let mapper = Mapper::new(&spec.mapping).map_err(pyo3::exceptions::PyValueError::new_err)?;
    Ok(Some(Mapped {
        mapper,
        csv: spec.csv,
    }))
}

/// The records of one file: JSON Lines, or XES or CSV through its mapping.
pub fn records<'a, R: std::io::BufRead + 'a>(
    src: R,
    cfg: &'a ReaderConfig,
    mapped: Option<&'a Mapped>,
    display: &str,
    seq: u64,
    keep: Option<&'a dyn Fn(&str) -> bool>,
) -> Box<dyn RecordSource + 'a> {
    match (mapped, keep) {
        (None, None) => Box::new(JsonlReader::new(src, cfg, 0, display, seq)),
        (None, Some(keep)) => {
            Box::new(JsonlReader::new(src, cfg, 0, display, seq).keep_cases(keep))
        }
        (
            Some(Mapped {
                mapper,
                csv: Some(layout),
            }),
            _,
        ) => Box::new(CsvReader::new(src, cfg, layout, mapper, 0, display, seq)),
        (Some(Mapped { mapper, csv: None }), _) => {
            Box::new(XesReader::new(src, cfg, mapper, 0, display, seq))
        }
    }
}

/// Data fields an XES mapping left out, as `(line, field, path, keys)` (`keys`: the object's, or
/// None for a list of lists), worded by `sopengine.native`.
pub fn warnings_to_py<'py>(
    py: Python<'py>,
    notes: Vec<Structured>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for n in notes {
        let keys: Option<Vec<&str>> = n.keys.as_ref().map(|k| k.iter().map(|s| &**s).collect());
        out.append((n.line, &*n.field, n.path.as_deref(), keys))?;
    }
    Ok(out)
}

/// Whether the core reads this XES file's prolog as expat does: None, or why the reference reader
/// must read the file.
#[pyfunction]
#[pyo3(signature = (path, gzip_ratio=1000))]
pub fn xes_prolog(path: &str, gzip_ratio: u64) -> PyResult<Option<&'static str>> {
    let src = reader::open(Path::new(path), gzip_ratio)?;
    match sopengine_core::xes::prolog(src) {
        Ok(Ok(())) => Ok(None),
        Ok(Err(why)) => Ok(Some(why)),
        Err(_) => Ok(Some("the file cannot be read")), // the reference reader says why
    }
}

/// Test hook: every record of one XES (or CSV) file read through a mapping spec (JSON), as
/// `read_jsonl_records` gives them, then the warnings (`warnings_to_py`).
#[pyfunction]
#[pyo3(signature = (path, spec, types, fields, max_depth=64, gzip_ratio=1000))]
pub fn read_xes_records<'py>(
    py: Python<'py>,
    path: &str,
    spec: &str,
    types: Vec<String>,
    fields: Vec<String>,
    max_depth: u32,
    gzip_ratio: u64,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
    let cfg = ReaderConfig {
        types: types.iter().cloned().zip(0..).collect(),
        undeclared: None,
        fields: fields.iter().cloned().zip(0..).collect(),
        max_line_bytes: usize::MAX,
        max_depth,
    };
    let mapped = mapped(Some(spec))?.expect("a spec");
    let src = reader::open(Path::new(path), gzip_ratio)?;
    let mut reader = records(src, &cfg, Some(&mapped), path, 0, None);
    let out = PyList::empty(py);
    for record in reader.by_ref() {
        let record =
            record.map_err(|e| crate::session::read_error(path, e, &Default::default()))?;
        out.append(record_to_py(py, record, &types, &fields)?)?;
    }
    let warnings = warnings_to_py(py, reader.take_notes())?;
    Ok((out, warnings))
}

fn record_to_py<'py>(
    py: Python<'py>,
    record: Record,
    types: &[String],
    fields: &[String],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match record {
        Record::Event(e) => {
            let data = PyDict::new(py);
            for (field, value) in &e.data {
                data.set_item(&fields[*field as usize], value_to_py(py, value)?)?;
            }
            let head = (
                "event",
                &*e.id,
                &*e.case,
                e.time,
                &types[e.etype as usize],
                e.actor.as_deref(),
            );
            let tail = (data, e.seq, e.origin.line);
            let head = head.into_pyobject(py)?;
            let tail = tail.into_pyobject(py)?;
            head.as_sequence().concat(tail.as_sequence())?.into_any()
        }
        Record::Rejected { origin, reason } => {
            ("rejected", origin.line, reason_to_py(py, &reason)?)
                .into_pyobject(py)?
                .into_any()
        }
    })
}

/// Test hook: every record of one JSON Lines file, read by the native reader.
///
/// An event is `("event", id, case, time, type, actor, data, seq, line)` (data: only `fields`);
/// a rejection is `("rejected", line, reason)` with `reason` as `render_native_reason` takes it.
#[pyfunction]
#[pyo3(signature = (path, types, fields, max_line_bytes, max_depth=64, gzip_ratio=1000))]
pub fn read_jsonl_records<'py>(
    py: Python<'py>,
    path: &str,
    types: Vec<String>,
    fields: Vec<String>,
    max_line_bytes: usize,
    max_depth: u32,
    gzip_ratio: u64,
) -> PyResult<Bound<'py, PyList>> {
    let cfg = ReaderConfig {
        types: types.iter().cloned().zip(0..).collect(),
        undeclared: None,
        fields: fields.iter().cloned().zip(0..).collect(),
        max_line_bytes,
        max_depth,
    };
    let out = PyList::empty(py);
    let src = reader::open(Path::new(path), gzip_ratio)?;
    for record in JsonlReader::new(src, &cfg, 0, path, 0) {
        let record =
            record.map_err(|e| crate::session::read_error(path, e, &Default::default()))?;
        out.append(record_to_py(py, record, &types, &fields)?)?;
    }
    Ok(out)
}

/// Test hook: the native `parse_time`, None where it refuses the text.
#[pyfunction]
pub fn parse_time(text: &str) -> Option<f64> {
    sopengine_core::time::parse_time(text).ok()
}
