//! `NativeSession`: one audit in progress on the native core, driven from `sopengine.native`.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use sopengine_core::engine::Engine;
use sopengine_core::event::{Event, Origin};
use sopengine_core::run::Facts;
use sopengine_core::session::{Refused, Session};
use sopengine_core::value::Str;

use crate::convert::value_to_py as to_py;

fn facts_from_json(text: &str) -> PyResult<Facts> {
    let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut facts = Facts::default();
    if let serde_json::Value::Object(colls) = raw {
        for (name, records) in colls {
            let mut by_id = rustc_hash::FxHashMap::default();
            if let serde_json::Value::Object(records) = records {
                for (id, fields) in records {
                    let mut rec = Vec::new();
                    if let serde_json::Value::Object(fields) = fields {
                        for (k, tv) in fields {
                            let v = sopengine_core::value::from_tv(&tv).map_err(PyValueError::new_err)?;
                            rec.push((k, v));
                        }
                    }
                    by_id.insert(id, rec);
                }
            }
            facts.insert(name, by_id);
        }
    }
    Ok(facts)
}

/// One audit in progress on the native core (see `sopengine.native`).
#[pyclass(module = "sopengine._native")]
pub struct NativeSession {
    inner: Session,
}

#[pymethods]
impl NativeSession {
    #[new]
    fn new(plan: &str, facts: &str) -> PyResult<Self> {
        let engine = Engine::from_json(plan).map_err(PyValueError::new_err)?;
        Ok(NativeSession { inner: Session::new(Arc::new(engine), Arc::new(facts_from_json(facts)?)) })
    }

    /// Feed one event; returns None, or why it was refused: "closed" or "duplicate".
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (id, case, time, etype, actor, data, seq, line=0))]
    fn feed(&mut self, id: &str, case: &str, time: f64, etype: &str, actor: Option<&str>, data: &str, seq: u64,
            line: u64) -> PyResult<Option<&'static str>> {
        let engine = self.inner.engine.clone();
        let Some(&t) = engine.type_index.get(etype) else {
            return Err(PyValueError::new_err(format!("unknown event type {etype:?}")));
        };
        let json: serde_json::Value = serde_json::from_str(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let lookup = |name: &str| engine.field_index.get(name).copied();
        let event = Event {
            id: Str::from(id),
            case: Str::from(case),
            time,
            etype: t,
            actor: actor.map(Str::from),
            data: sopengine_core::json::data_fields(&json, &lookup),
            seq,
            origin: Origin { file: 0, line },
        };
        Ok(match self.inner.feed(event) {
            Ok(()) => None,
            Err(Refused::Closed) => Some("closed"),
            Err(Refused::Duplicate) => Some("duplicate"),
        })
    }

    fn close_case(&mut self, case: &str) {
        self.inner.close_case(case);
    }

    /// The judged result as plain tuples: (as_of, events, cases, violations, next_actions, work,
    /// undecided, passed); the caller sorts and renders.
    #[pyo3(signature = (as_of=None))]
    fn result<'py>(&mut self, py: Python<'py>, as_of: Option<f64>) -> PyResult<Bound<'py, PyTuple>> {
        let judged = self.inner.result(as_of, Vec::new());
        let engine = self.inner.engine.clone();
        let rule = |i: u32| engine.rules[i as usize].id.as_ref();
        let severity = |i: u32| engine.rules[i as usize].severity.as_ref();
        let ids = |v: &[Str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        let violations = PyList::empty(py);
        for v in &judged.violations {
            violations.append((rule(v.rule), v.case.as_ref(), v.time, severity(v.rule), v.message.as_str(),
                               PyTuple::new(py, ids(&v.events))?))?;
        }
        let actions = PyList::empty(py);
        for a in &judged.next_actions {
            let p = &a.pending;
            actions.append((rule(p.rule), p.case.as_ref(), p.action.as_str(), a.due, p.since,
                            PyTuple::new(py, ids(&p.events))?))?;
        }
        let columns: Vec<&str> = engine.columns.iter().map(|(n, _)| n.as_ref()).collect();
        let work = PyList::empty(py);
        for w in &judged.work {
            let p = &w.pending;
            let cols = PyList::empty(py);
            for (name, value) in columns.iter().zip(p.columns.iter()) {
                cols.append((*name, to_py(py, value)?))?;
            }
            work.append((rule(p.rule), p.case.as_ref(), p.action.as_str(), p.due, p.since, w.overdue,
                         PyTuple::new(py, cols)?, PyTuple::new(py, ids(&p.events))?))?;
        }
        let undecided = PyList::empty(py);
        for u in &judged.undecided {
            undecided.append((rule(u.rule), u.case.as_ref(), u.event.as_deref(), u.reason.as_str()))?;
        }
        let passed = PyDict::new(py);
        for (i, n) in judged.passed.iter().enumerate() {
            if *n > 0 {
                passed.set_item(rule(i as u32), n)?;
            }
        }
        PyTuple::new(py, [judged.as_of.into_pyobject(py)?.into_any(), judged.events.into_pyobject(py)?.into_any(),
                          judged.cases.into_pyobject(py)?.into_any(), violations.into_any(), actions.into_any(),
                          work.into_any(), undecided.into_any(), passed.into_any()])
    }
}

