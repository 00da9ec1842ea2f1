//! `sopengine._native`: the Python face of the evaluation core. The boundary is
//! crossed once per call (a file, a batch, a result), never inside the evaluation.

use pyo3::prelude::*;

mod convert;
mod reader_hooks;
mod session;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PLAN_VERSION", sopengine_core::PLAN_VERSION)?;
    m.add_class::<session::NativeSession>()?;
    m.add_function(wrap_pyfunction!(reader_hooks::read_jsonl_records, m)?)?;
    m.add_function(wrap_pyfunction!(reader_hooks::parse_time, m)?)?;
    Ok(())
}
