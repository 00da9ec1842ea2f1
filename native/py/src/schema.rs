//! `SchemaCheck`: whether a document is valid under a JSON Schema, answered by the `jsonschema`
//! crate. It is the fast "yes" of `sopengine.schema.check`: every command checks the whole pack,
//! and Python's jsonschema walk took about half a second of each; jsonschema (Python) still says
//! where and why a document is not valid.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

#[pyclass(module = "sopengine._native", frozen)]
pub struct SchemaCheck(jsonschema::Validator);

#[pymethods]
impl SchemaCheck {
    /// A Draft 2020-12 schema, as JSON text (references within the document only: no retrieval).
    #[new]
    fn new(schema: &str) -> PyResult<Self> {
        let schema: Value =
            serde_json::from_str(schema).map_err(|e| PyValueError::new_err(e.to_string()))?;
        jsonschema::draft202012::new(&schema)
            .map(SchemaCheck)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Whether `doc` (the data of a loaded YAML document) is valid; None when it holds a value
    /// JSON has no word for (a date, a key that is not text, a number beyond 64 bits, NaN), which
    /// only the full check can judge as Python does.
    fn is_valid(&self, doc: &Bound<'_, PyAny>) -> Option<bool> {
        json_of(doc).map(|value| self.0.is_valid(&value))
    }
}

/// A Python value as JSON, exactly (no conversion that could change what a schema says of it).
fn json_of(obj: &Bound<'_, PyAny>) -> Option<Value> {
    if obj.is_none() {
        return Some(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if obj.is_exact_instance_of::<PyString>() {
        return obj.extract::<String>().ok().map(Value::String);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Some(Value::Number(i.into()));
        }
        return obj.extract::<u64>().ok().map(|u| Value::Number(u.into()));
    }
    if obj.is_exact_instance_of::<PyFloat>() {
        return Number::from_f64(obj.extract::<f64>().ok()?).map(Value::Number);
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items = obj.try_iter().ok()?;
        return items
            .map(|item| json_of(&item.ok()?))
            .collect::<Option<_>>()
            .map(Value::Array);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut out = Map::new();
        for (key, value) in dict.iter() {
            if !key.is_exact_instance_of::<PyString>() {
                return None;
            }
            out.insert(key.extract::<String>().ok()?, json_of(&value)?);
        }
        return Some(Value::Object(out));
    }
    None
}
