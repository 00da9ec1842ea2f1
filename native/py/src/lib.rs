//! `sopengine._native`: the Python face of the evaluation core. The boundary is
//! crossed once per call (a file, a batch), never once per event.

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PLAN_VERSION", sopengine_core::PLAN_VERSION)?;
    Ok(())
}
