//! Values of the core as the Python objects the reference engine holds.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyTuple};
use sopengine_core::value::Value;

/// A data value as the Python reader holds it.
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
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
