//! `sopengine._native`: the Python face of the evaluation core. The boundary is
//! crossed once per call (a file, a batch), never once per event.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFrozenSet, PyList, PySet, PyTuple};
use sopengine_core::reader::{self, JsonlReader, ReaderConfig, Reason, Record};
use sopengine_core::value::Value;

/// A data value as the Python reader holds it.
fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let items = |items: &[Value]| {
        items
            .iter()
            .map(|v| value_to_py(py, v))
            .collect::<PyResult<Vec<_>>>()
    };
    Ok(match value {
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Big(i) => (**i).into_pyobject(py)?.into_any(),
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Str(s) => (&**s).into_pyobject(py)?.into_any(),
        Value::List(v) => PyList::new(py, items(v)?)?.into_any(),
        Value::Tuple(v) => PyTuple::new(py, items(v)?)?.into_any(),
        Value::Set(v) => PySet::new(py, items(v)?)?.into_any(),
        Value::FrozenSet(v) => PyFrozenSet::new(py, items(v)?)?.into_any(),
        Value::Dict(v) => {
            let dict = PyDict::new(py);
            for (k, v) in v.iter() {
                dict.set_item(&**k, value_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// `(kind, *args)`, rendered by `sopengine.events.render_native_reason`.
fn reason_to_py<'py>(py: Python<'py>, reason: &Reason) -> PyResult<Bound<'py, PyAny>> {
    Ok(match reason {
        Reason::TooLong => ("too_long",).into_pyobject(py)?.into_any(),
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
    })
}

/// Test hook: every record of one JSON Lines file, read by the native reader.
///
/// An event is `("event", id, case, time, type, actor, data, seq, line)` (data: only `fields`);
/// a rejection is `("rejected", line, reason)` with `reason` as `render_native_reason` takes it.
#[pyfunction]
fn read_jsonl_records<'py>(
    py: Python<'py>,
    path: &str,
    types: Vec<String>,
    fields: Vec<String>,
    max_line_bytes: usize,
) -> PyResult<Bound<'py, PyList>> {
    let cfg = ReaderConfig {
        types: types.iter().cloned().zip(0..).collect(),
        fields: fields.iter().cloned().zip(0..).collect(),
        max_line_bytes,
    };
    let out = PyList::empty(py);
    let src = reader::open(Path::new(path))?;
    for record in JsonlReader::new(src, &cfg, 0, reader::basename(path), 0) {
        let item = match record? {
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
        };
        out.append(item)?;
    }
    Ok(out)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PLAN_VERSION", sopengine_core::PLAN_VERSION)?;
    m.add_function(wrap_pyfunction!(read_jsonl_records, m)?)?;
    m.add_function(wrap_pyfunction!(parse_time, m)?)?;
    Ok(())
}

/// Test hook: the native `parse_time`, None where it refuses the text.
#[pyfunction]
fn parse_time(text: &str) -> Option<f64> {
    sopengine_core::time::parse_time(text).ok()
}
