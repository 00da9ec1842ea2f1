//! `sopengine._native`: the Python face of the evaluation core. The boundary is
//! crossed once per call (a file, a batch, a result), never inside the evaluation.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// mimalloc instead of the system allocator: the core makes many small, short-lived allocations
/// (events, values), and glibc's malloc/free took about a fifth of an audit's CPU (perf); with
/// mimalloc a 200k-event audit's core time fell by about a quarter (`benchmarks/`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod convert;
mod found;
mod reader_hooks;
mod schema;
mod session;
mod testhook;

/// Test hook: evaluates one plan expression in an environment given as JSON (see `testhook`);
/// returns `(True, typed-value JSON)` or `(False, "Class: message")`.
#[pyfunction]
fn eval_expression(plan_json: &str, env_json: &str) -> PyResult<(bool, String)> {
    testhook::eval_expression(plan_json, env_json).map_err(PyValueError::new_err)
}

/// Test hook: renders one plan template in an environment given as JSON.
#[pyfunction]
fn render_template(plan_json: &str, env_json: &str) -> PyResult<String> {
    testhook::render_template(plan_json, env_json).map_err(PyValueError::new_err)
}

/// A pattern of `matches`/`findall` on the core's linear-time engine (the `regex` crate), for the
/// reference evaluator: a pack's patterns may come from an untrusted pull request, and Python's `re`
/// backtracks (`(a|aa)*b` takes exponential time).
#[pyclass(module = "sopengine._native", frozen)]
struct Regex(sopengine_core::funcs::Pattern);

#[pymethods]
impl Regex {
    #[new]
    fn new(source: &str) -> PyResult<Self> {
        sopengine_core::funcs::Pattern::new(source)
            .map(Regex)
            .map_err(PyValueError::new_err)
    }

    /// `matches(text, pattern)`: a search anywhere in the text.
    fn is_match(&self, text: &str) -> bool {
        self.0.matches(&sopengine_core::value::Value::str(text))
    }

    /// `findall(text, pattern)`: `re.findall` without repeats, in first-seen order.
    fn findall<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        convert::value_to_py(
            py,
            &self.0.findall(&sopengine_core::value::Value::str(text)),
        )
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PLAN_VERSION", sopengine_core::PLAN_VERSION)?;
    m.add_class::<session::NativeSession>()?;
    m.add_class::<found::Findings>()?;
    m.add_class::<Regex>()?;
    m.add_class::<schema::SchemaCheck>()?;
    m.add_function(wrap_pyfunction!(reader_hooks::read_jsonl_records, m)?)?;
    m.add_function(wrap_pyfunction!(reader_hooks::read_xes_records, m)?)?;
    m.add_function(wrap_pyfunction!(reader_hooks::xes_prolog, m)?)?;
    m.add_function(wrap_pyfunction!(reader_hooks::parse_time, m)?)?;
    m.add_function(wrap_pyfunction!(eval_expression, m)?)?;
    m.add_function(wrap_pyfunction!(render_template, m)?)?;
    Ok(())
}
