//! `NativeSession`: one audit in progress on the native core, driven from `sopengine.native`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use sopengine_core::engine::Engine;
use sopengine_core::event::{Event, Origin};
use sopengine_core::findings::{Partial, Violation};
use sopengine_core::reader::{DataFaults, Reason};
use sopengine_core::run::Facts;
use sopengine_core::session::{Refused, Session};
use sopengine_core::value::Str;
use sopengine_core::vocab::{self, Fault, Notes, Problem, Verdict};

use crate::convert::value_to_py as to_py;
use crate::found::{Findings, Warn};

fn facts_from_json(text: &str) -> PyResult<Facts> {
    let raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut facts = Facts::default();
    if let serde_json::Value::Object(colls) = raw {
        for (name, records) in colls {
            let mut by_id = rustc_hash::FxHashMap::default();
            if let serde_json::Value::Object(records) = records {
                for (id, fields) in records {
                    let mut rec = Vec::new();
                    if let serde_json::Value::Object(fields) = fields {
                        for (k, tv) in fields {
                            let v =
                                sopengine_core::tv::decode(&tv).map_err(PyValueError::new_err)?;
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
    /// The as-of time of an audit of files: later events are skipped, not evaluated.
    until: Option<f64>,
    /// Keep the events of files whose data breaks its declaration (noted), instead of rejecting them.
    lenient: bool,
}

#[pymethods]
impl NativeSession {
    #[new]
    #[pyo3(signature = (plan, facts, keep_events=true))]
    fn new(plan: &str, facts: &str, keep_events: bool) -> PyResult<Self> {
        let engine = Engine::from_json(plan).map_err(PyValueError::new_err)?;
        let facts = Arc::new(facts_from_json(facts)?);
        Ok(NativeSession {
            inner: Session::new(Arc::new(engine), facts, keep_events),
            until: None,
            lenient: false,
        })
    }

    /// Keep (and note) the events of files whose declared data fields break their declaration.
    fn set_lenient_data(&mut self, lenient: bool) {
        self.lenient = lenient;
    }

    /// The log is finished: every case ended at its last event (`sopengine.judging.judge`).
    fn set_cases_complete(&mut self, complete: bool) {
        self.inner.cases_complete = complete;
    }

    /// Keep per case and declare rule the times it held (the result's tenth item).
    fn set_held_by_case(&mut self, keep: bool) {
        self.inner.held_by_case = keep;
    }

    /// Skip, and count, the events of files later than `until` (`feed_file`, `replay_files`).
    fn set_until(&mut self, until: Option<f64>) {
        self.until = until;
    }

    /// Keep at most `limit` cases in memory; the least recently touched are spilled to a temporary file.
    fn set_resident_limit(&mut self, limit: usize) {
        self.inner.set_resident_limit(limit);
    }

    /// Join this many partitions of the cross-case join at once (`Session::set_join_threads`).
    fn set_join_threads(&mut self, threads: usize) {
        self.inner.set_join_threads(threads);
    }

    /// (cases spilled now, bytes written to the spill file, why spilling stopped or None).
    fn spill_stats(&self) -> (usize, u64, Option<String>) {
        let (cases, bytes, error) = self.inner.spill_stats();
        (cases, bytes, error.map(str::to_string))
    }

    /// Evaluate only share `mine` of `of` of the cases (see `Session::set_share`): `feed_file` then
    /// skips the other shares' events and rejected lines.
    fn set_share(&mut self, mine: u64, of: u64) {
        self.inner.set_share(mine, of);
    }

    /// Everything found so far, as bytes another session's `result(others=...)` merges; with
    /// `parts`, the probes and intervals go to partition files named `{parts}{k}` instead, which
    /// that session's `result(parts=[...])` reads. `last` (with `parts`): the session is done, and
    /// its cases are dropped as their findings are taken (`Session::partial_parts`).
    #[pyo3(signature = (parts=None, last=false))]
    fn partial_bytes<'py>(
        &mut self,
        py: Python<'py>,
        parts: Option<std::path::PathBuf>,
        last: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let partial = match parts {
            None => self.inner.partial(),
            Some(prefix) => self.inner.partial_parts(&prefix, last).map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!(
                    "cannot write the join's partitions: {e}"
                ))
            })?,
        };
        Ok(PyBytes::new(py, &partial.to_bytes()))
    }

    /// Cases an event came late for (a session that keeps no events needs `replay_files` for them).
    fn dirty_cases(&self) -> Vec<String> {
        self.inner
            .dirty_cases()
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    /// Read the files again for the events of the dirty cases and evaluate each of those cases
    /// anew, in time order (what was rejected or refused the first time is left out again).
    #[pyo3(signature = (paths, max_line_bytes, max_depth=64, gzip_ratio=1000))]
    fn replay_files(
        &mut self,
        py: Python<'_>,
        paths: Vec<(String, String, Option<String>)>,
        max_line_bytes: usize,
        max_depth: u32,
        gzip_ratio: u64,
    ) -> PyResult<()> {
        use sopengine_core::reader::Record;
        let dirty: rustc_hash::FxHashSet<String> = self.dirty_cases().into_iter().collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let engine = self.inner.engine.clone();
        let mut cfg = engine.reader_config(max_line_bytes);
        cfg.max_depth = max_depth;
        let mut by_case: rustc_hash::FxHashMap<String, Vec<Event>> =
            rustc_hash::FxHashMap::default();
        let mut seq = 0;
        for (path, display, xes) in &paths {
            let interrupted: Interrupted = Rc::new(RefCell::new(None));
            let src = open_counted(path, Rc::new(Cell::new(0)), interrupted.clone(), gzip_ratio)
                .map_err(|e| {
                    pyo3::exceptions::PyOSError::new_err(format!("{display}: cannot read ({e})"))
                })?;
            let mapped = crate::reader_hooks::mapped(xes.as_deref())?;
            let wanted = |case: &str| dirty.contains(case); // the other lines are not decoded
            let mut reader = crate::reader_hooks::records(
                src,
                &cfg,
                mapped.as_ref(),
                display,
                seq,
                Some(&wanted),
            );
            let mut n = 0u64;
            while let Some(record) = reader.next() {
                n += 1;
                if n % 65_536 == 0 {
                    py.check_signals()?;
                }
                let record = record.map_err(|e| read_error(display, e, &interrupted))?;
                if let Record::Event(event) = record {
                    if dirty.contains(event.case.as_ref())
                        && self.until.is_none_or(|t| event.time <= t)
                        && self.data_verdict(&event, reader.others()).is_ok()
                    {
                        by_case
                            .entry(event.case.to_string())
                            .or_default()
                            .push(event);
                    }
                }
            }
            seq = reader.seq();
        }
        for (case, events) in by_case {
            self.inner.replay(&case, events);
        }
        Ok(())
    }

    /// Feed one event; returns None, or why it was refused: "closed" or "duplicate".
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (id, case, time, etype, actor, data, seq, line=0))]
    fn feed(
        &mut self,
        id: &str,
        case: &str,
        time: f64,
        etype: &str,
        actor: Option<&str>,
        data: &str,
        seq: u64,
        line: u64,
    ) -> PyResult<Option<&'static str>> {
        let event = self.event(id, case, time, etype, actor, data, seq, line)?;
        Ok(match self.inner.feed(event) {
            Ok(()) => None,
            Err(Refused::Closed) => Some("closed"),
            Err(Refused::Duplicate) => Some("duplicate"),
        })
    }

    fn close_case(&mut self, case: &str) {
        self.inner.close_case(case);
    }

    /// What `case` has open after its last event and the violations it found so far, as if `events`
    /// (`(id, time, type, actor, data as JSON, seq)`, checked, after every event fed) were added to it;
    /// the session is left as it was (`Session::preview`). Returns (pending, violations): tuples of the
    /// fields of `sopengine.findings.Pending` and `Violation`, in their order.
    #[allow(clippy::type_complexity)]
    fn preview<'py>(
        &mut self,
        py: Python<'py>,
        case: &str,
        events: Vec<(String, f64, String, Option<String>, String, u64)>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let events = events
            .iter()
            .map(|(id, time, etype, actor, data, seq)| {
                self.event(id, case, *time, etype, actor.as_deref(), data, *seq, 0)
            })
            .collect::<PyResult<Vec<Event>>>()?;
        let (pending, violations) = self.inner.preview(case, events);
        let engine = self.inner.engine.clone();
        let rule = |i: u32| PyString::new(py, &engine.rules[i as usize].id);
        let severity = |i: u32| PyString::new(py, &engine.rules[i as usize].severity);
        let columns: Vec<&str> = engine.columns.iter().map(|(n, _)| n.as_ref()).collect();
        let open = PyList::empty(py);
        for p in &pending {
            let fields = [
                rule(p.rule).into_any(),
                p.case.as_ref().into_bound_py_any(py)?,
                severity(p.rule).into_any(),
                p.action.as_str().into_bound_py_any(py)?,
                p.message.as_str().into_bound_py_any(py)?,
                p.since.into_bound_py_any(py)?,
                p.start.into_bound_py_any(py)?,
                p.due.into_bound_py_any(py)?,
                p.every.into_bound_py_any(py)?,
                PyTuple::new(py, ids(&p.events))?.into_any(),
                columns_to_py(py, &columns, &p.columns)?.into_any(),
                p.more_events.into_bound_py_any(py)?,
                p.missed.into_bound_py_any(py)?,
                p.accountable.as_deref().into_bound_py_any(py)?,
                p.attained.into_bound_py_any(py)?,
                p.last.into_bound_py_any(py)?,
                p.ended.into_bound_py_any(py)?,
                p.idle.into_bound_py_any(py)?,
                p.zone.as_deref().into_bound_py_any(py)?,
                PyTuple::new(py, &p.pauses)?.into_any(),
            ];
            open.append(PyTuple::new(py, fields)?)?;
        }
        let found = PyList::empty(py);
        for v in violations {
            let r = v.rule;
            found.append(violation_to_py(py, v, rule(r), severity(r))?)?;
        }
        Ok((open, found))
    }

    /// Read and evaluate one JSON Lines file (plain or .gz) in the core; with `xes` (a mapping spec,
    /// `sopengine.adapters.native_xes`), an XES file read through that mapping, or a CSV file when
    /// the spec gives its layout (`sopengine.adapters.native_csv`).
    ///
    /// Returns (next_seq, rejected, refused, after, notes, warnings): `rejected` lists (line, reason)
    /// with reasons as `sopengine.events.render_native_reason` takes them; `refused` lists (line, kind, event id, case)
    /// for events the session refused ("duplicate", "closed"); `after` counts the events later than
    /// the cutoff (`set_until`), which are not evaluated (an audit as of that time). Of the rejected
    /// and refused, the first `keep` (by line) are listed; the rest go to `on_overflow` in batches of
    /// `("rejected", line, reason)` and `("refused", line, kind, id, case)`, so that a file of bad
    /// lines never sits in memory. `warnings` lists the data fields an XES mapping left out
    /// (`reader_hooks::warnings_to_py`). `on_progress(bytes, lines)` is called now and then;
    /// Ctrl-C is honoured between lines.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, display, first_seq, max_line_bytes, on_progress=None, max_depth=64,
                        gzip_ratio=1000, keep=usize::MAX, on_overflow=None, xes=None))]
    fn feed_file<'py>(
        &mut self,
        py: Python<'py>,
        path: &str,
        display: &str,
        first_seq: u64,
        max_line_bytes: usize,
        on_progress: Option<Bound<'py, PyAny>>,
        max_depth: u32,
        gzip_ratio: u64,
        keep: usize,
        on_overflow: Option<Bound<'py, PyAny>>,
        xes: Option<&str>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let until = self.until;
        use sopengine_core::reader::Record;
        let engine = self.inner.engine.clone();
        let mut cfg = engine.reader_config(max_line_bytes);
        cfg.max_depth = max_depth;
        let counter = Rc::new(Cell::new(0u64));
        let interrupted: Interrupted = Rc::new(RefCell::new(None));
        let src =
            open_counted(path, counter.clone(), interrupted.clone(), gzip_ratio).map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!("{display}: cannot read ({e})"))
            })?;
        let mapped = crate::reader_hooks::mapped(xes)?;
        // A worker of several decodes only the lines of its share of the cases (and those whose case
        // only decoding tells), and reports those it decodes.
        let share = self.inner.share();
        let mine = move |case: &str| sopengine_core::session::owns_case(share, case);
        let shared: Option<&dyn Fn(&str) -> bool> = (share.1 > 1).then_some(&mine);
        let mut reader =
            crate::reader_hooks::records(src, &cfg, mapped.as_ref(), display, first_seq, shared);
        let rejected = PyList::empty(py);
        let refused = PyList::empty(py);
        let mut overflow = Overflow::new(py, on_overflow);
        let mut notes = Notes::default();
        let (mut reported, mut lines, mut after) = (0u64, 0u64, 0u64);
        while let Some(record) = reader.next() {
            let record = record.map_err(|e| read_error(display, e, &interrupted))?;
            lines += 1;
            if lines % 65_536 == 0 {
                py.check_signals()?;
                if let Some(cb) = &on_progress {
                    cb.call1((counter.get() - reported, lines))?;
                    reported = counter.get();
                }
            }
            let listed = rejected.len() + refused.len() < keep;
            match record {
                Record::Rejected { origin, .. }
                    if !(reader.probed() || self.inner.owns_line(origin.line)) => {}
                Record::Event(event) if !self.inner.owns_case(&event.case) => {}
                Record::Event(event) if until.is_some_and(|t| event.time > t) => after += 1,
                Record::Rejected { origin, reason } => {
                    let reason_py = crate::reader_hooks::reason_to_py(py, &reason)?;
                    if listed {
                        rejected.append((origin.line, reason_py))?;
                    } else {
                        let size = match &reason {
                            sopengine_core::reader::Reason::Json { line } => line.len(),
                            _ => 0,
                        };
                        overflow.push(("rejected", origin.line, reason_py), size)?;
                    }
                }
                Record::Event(event) => {
                    let (line, id, case) =
                        (event.origin.line, event.id.clone(), event.case.clone());
                    match self.data_verdict(&event, reader.others()) {
                        Ok(faults) if faults.is_empty() => {}
                        Ok(faults) => notes.add(event.etype, faults, line),
                        Err(reason) => {
                            let reason_py = crate::reader_hooks::reason_to_py(py, &reason)?;
                            if listed {
                                rejected.append((line, reason_py))?;
                            } else {
                                overflow.push(("rejected", line, reason_py), 0)?;
                            }
                            continue;
                        }
                    }
                    let kind = match self.inner.feed(event) {
                        Ok(()) => continue,
                        Err(Refused::Closed) => "closed",
                        Err(Refused::Duplicate) => "duplicate",
                    };
                    if listed {
                        refused.append((line, kind, id.as_ref(), case.as_ref()))?;
                    } else {
                        let size = id.len() + case.len();
                        overflow.push(("refused", line, kind, id.as_ref(), case.as_ref()), size)?;
                    }
                }
            }
        }
        overflow.flush()?;
        if let Some(cb) = &on_progress {
            cb.call1((counter.get() - reported, lines))?;
        }
        let notes = self.notes_to_py(py, notes)?;
        let warnings = crate::reader_hooks::warnings_to_py(py, reader.take_notes())?;
        PyTuple::new(
            py,
            [
                reader.seq().into_pyobject(py)?.into_any(),
                rejected.into_any(),
                refused.into_any(),
                after.into_pyobject(py)?.into_any(),
                notes.into_any(),
                warnings.into_any(),
            ],
        )
    }

    /// The judged result: (as_of, events, cases, findings, passed, attainment, held), the findings
    /// in their one order and kept in the core (`found::Findings`). `last`: no result is asked again,
    /// so the session's cases are freed as they are judged. `others`: the `partial_bytes` of
    /// sessions that evaluated the other shares of the log, and `parts` the partition prefixes they
    /// wrote. `warns`: the rules' warning points by rule key (`sopengine.findings.Warn`).
    #[pyo3(signature = (as_of=None, last=false, others=Vec::new(), parts=Vec::new(), warns=std::collections::HashMap::new()))]
    fn result<'py>(
        &mut self,
        py: Python<'py>,
        as_of: Option<f64>,
        last: bool,
        others: Vec<Bound<'py, PyBytes>>,
        parts: Vec<std::path::PathBuf>,
        warns: std::collections::HashMap<String, Warn>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        // Judged without the GIL, so that Python's other threads run meanwhile (a service's event loop
        // answers while a worker thread judges 100k open cases). The workers' partials are read as
        // byte slices: a bytes object is immutable, and `others` keeps each alive until this returns.
        let others: Vec<&[u8]> = others.iter().map(|b| b.as_bytes()).collect();
        let inner = &mut self.inner;
        let mut judged = py.detach(move || {
            // Decoded one at a time as the merge takes them. They come from this core's own workers
            // (`partial_bytes`): bytes that do not decode are a fault of the program, not of the input.
            let others = others.into_iter().map(|b| {
                Partial::from_bytes(b).unwrap_or_else(|e| panic!("a worker's partial: {e}"))
            });
            if last {
                let (engine, facts) = (inner.engine.clone(), inner.facts.clone());
                let done = std::mem::replace(inner, Session::new(engine, facts, false));
                done.finish(as_of, others, parts)
            } else {
                inner.result(as_of, others, parts)
            }
        });
        let engine = self.inner.engine.clone();
        let rule_names: Vec<Bound<'py, PyString>> = engine
            .rules
            .iter()
            .map(|r| PyString::new(py, &r.id))
            .collect();
        let rule = |i: u32| rule_names[i as usize].clone();
        let warns: Vec<_> = engine
            .rules
            .iter()
            .map(|r| warns.get(r.id.as_ref()).copied())
            .collect();
        let found = Findings::new(
            &mut judged,
            engine
                .rules
                .iter()
                .map(|r| (r.id.clone(), r.severity.clone()))
                .collect(),
            engine
                .columns
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            &warns,
        );
        let passed = PyDict::new(py);
        for (i, n) in judged.passed.iter().enumerate() {
            if *n > 0 {
                passed.set_item(rule(i as u32), n)?;
            }
        }
        let attainment = PyList::empty(py);
        for ((r, week, who), counts) in &judged.attainment {
            attainment.append((rule(*r), *week, who.as_deref(), counts.to_vec()))?;
        }
        let held = PyList::empty(py);
        for (case, r, n) in &judged.held {
            held.append((case.as_ref(), rule(*r), *n))?;
        }
        PyTuple::new(
            py,
            [
                judged.as_of.into_pyobject(py)?.into_any(),
                judged.events.into_pyobject(py)?.into_any(),
                judged.cases.into_pyobject(py)?.into_any(),
                Bound::new(py, found)?.into_any(),
                passed.into_any(),
                attainment.into_any(),
                held.into_any(),
            ],
        )
    }
}

/// Records past the listed ones, handed to Python in batches of bounded size.
struct Overflow<'py> {
    py: Python<'py>,
    sink: Option<Bound<'py, PyAny>>,
    batch: Vec<Bound<'py, PyAny>>,
    bytes: usize,
}

impl<'py> Overflow<'py> {
    const ITEMS: usize = 4096;
    const BYTES: usize = 8 << 20;

    fn new(py: Python<'py>, sink: Option<Bound<'py, PyAny>>) -> Self {
        Overflow {
            py,
            sink,
            batch: Vec::new(),
            bytes: 0,
        }
    }

    fn push(&mut self, item: impl IntoPyObject<'py>, size: usize) -> PyResult<()> {
        if self.sink.is_none() {
            return Ok(());
        }
        self.batch.push(
            pyo3::BoundObject::into_bound(item.into_pyobject(self.py).map_err(Into::into)?)
                .into_any(),
        );
        self.bytes += size;
        if self.batch.len() >= Self::ITEMS || self.bytes >= Self::BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> PyResult<()> {
        if let Some(sink) = &self.sink {
            if !self.batch.is_empty() {
                sink.call1((PyList::new(self.py, self.batch.drain(..))?,))?;
            }
        }
        self.bytes = 0;
        Ok(())
    }
}

/// Counts the bytes a reader has taken from its file (compressed bytes for .gz), for progress, and
/// lets Ctrl-C through while a read waits (a pipe that gives nothing): a read interrupted by a
/// signal runs Python's handlers, and stops the audit when one raised.
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    interrupted: Interrupted,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    if let Err(err) = Python::attach(|py| py.check_signals()) {
                        *self.interrupted.borrow_mut() = Some(err);
                        return Err(std::io::Error::other("interrupted"));
                    }
                }
                Ok(n) => {
                    self.read.set(self.read.get() + n as u64);
                    return Ok(n);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The exception a signal handler raised during a read, to be raised once the read gives up.
pub type Interrupted = Rc<RefCell<Option<PyErr>>>;

fn open_counted(
    path: &str,
    read: Rc<Cell<u64>>,
    interrupted: Interrupted,
    gzip_ratio: u64,
) -> std::io::Result<Box<dyn std::io::BufRead>> {
    use std::io::BufReader;
    let file = Counted {
        inner: std::fs::File::open(path)?,
        read,
        interrupted,
    };
    Ok(if path.ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            sopengine_core::reader::Gunzip::new(file, gzip_ratio),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    })
}

/// The first argument of the `OSError` a damaged compressed input raises: `(DAMAGED, (damage, line))`,
/// worded by `sopengine.events.damaged_message`.
pub const DAMAGED: &str = "sopengine.damaged";

/// The first argument of the `OSError` a CSV quote never closed raises: `(UNCLOSED, (start, end,
/// ended))`, worded by `sopengine.native._read_error` as `read_csv` words it.
pub const UNCLOSED: &str = "sopengine.unclosed";

/// A read error as Python sees it: the signal handler's exception when a signal stopped the read.
pub fn read_error(display: &str, e: std::io::Error, interrupted: &Interrupted) -> PyErr {
    if let Some(err) = interrupted.borrow_mut().take() {
        return err;
    }
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<sopengine_core::reader::Damaged>())
    {
        Some(d) => pyo3::exceptions::PyOSError::new_err((DAMAGED, (d.damage.name(), d.line))),
        None => match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<sopengine_core::csv::Unclosed>())
        {
            Some(u) => pyo3::exceptions::PyOSError::new_err((UNCLOSED, (u.start, u.end, u.ended))),
            None => pyo3::exceptions::PyOSError::new_err(format!("{display}: read failed ({e})")),
        },
    }
}

/// A finding's event ids as Python takes them.
fn ids(v: &[Str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A violation as the fields of `sopengine.findings.Violation`, in their order (taken: its text is
/// freed as soon as Python has its copy).
fn violation_to_py<'py>(
    py: Python<'py>,
    v: Violation,
    rule: Bound<'py, PyString>,
    severity: Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyTuple>> {
    (
        rule,
        v.case.as_ref(),
        v.time,
        severity,
        v.message.as_str(),
        PyTuple::new(py, ids(&v.events))?,
        v.more_events,
        v.accountable.as_deref(),
        PyTuple::new(py, &v.pauses)?,
    )
        .into_pyobject(py)
}

/// The pack's worklist columns of an open item: ((name, value), ...).
fn columns_to_py<'py>(
    py: Python<'py>,
    names: &[&str],
    values: &[sopengine_core::value::Value],
) -> PyResult<Bound<'py, PyTuple>> {
    let cols = PyList::empty(py);
    for (name, value) in names.iter().zip(values.iter()) {
        cols.append((*name, to_py(py, value)?))?;
    }
    PyTuple::new(py, cols)
}

impl NativeSession {
    /// An event of `case` as the core takes it (its type by index, or undeclared in an open vocabulary).
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        id: &str,
        case: &str,
        time: f64,
        etype: &str,
        actor: Option<&str>,
        data: &str,
        seq: u64,
        line: u64,
    ) -> PyResult<Event> {
        let engine = &self.inner.engine;
        let (t, undeclared) = match (engine.type_index.get(etype), engine.undeclared) {
            (Some(&t), _) => (t, None),
            (None, Some(t)) => (t, Some(Str::from(etype))),
            (None, None) => {
                return Err(PyValueError::new_err(format!(
                    "unknown event type {etype:?}"
                )))
            }
        };
        let json: serde_json::Value =
            serde_json::from_str(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let lookup = |name: &str| engine.field_index.get(name).copied();
        Ok(Event {
            id: Str::from(id),
            case: Str::from(case),
            time,
            etype: t,
            undeclared,
            actor: actor.map(Str::from),
            data: sopengine_core::json::data_fields(&json, &lookup),
            seq,
            origin: Origin { file: 0, line },
        })
    }

    /// The faults of an event's data to note (maybe none), or why it is rejected (`check_event`).
    fn data_verdict(&self, event: &Event, others: &[Str]) -> Result<Vec<Fault>, Reason> {
        let vocab = &self.inner.engine.vocab;
        match vocab::verdict(vocab.faults(event.etype, &event.data, others), self.lenient) {
            Verdict::Keep(faults) => Ok(faults),
            Verdict::Reject(faults) => Err(Reason::Data(DataFaults {
                etype: self.inner.engine.types[event.etype as usize].clone(),
                faults: faults
                    .into_iter()
                    .map(|f| (Str::from(vocab.name(&f.field)), f.problem.name(), f.value))
                    .collect(),
            })),
        }
    }

    /// A file's notes as `(type, field, problem, value, line, count)`, for `DataNotes.add`.
    fn notes_to_py<'py>(&self, py: Python<'py>, notes: Notes) -> PyResult<Bound<'py, PyList>> {
        let engine = &self.inner.engine;
        let out = PyList::empty(py);
        let add = |etype: u32, field: &str, problem: Problem, tally: &vocab::Tally| {
            out.append((
                &*engine.types[etype as usize],
                field,
                problem.name(),
                to_py(py, &tally.value)?,
                tally.line,
                tally.count,
            ))
        };
        for ((etype, field, problem), tally) in &notes.known {
            add(*etype, &engine.fields[*field as usize], *problem, tally)?;
        }
        for (etype, by_name) in &notes.others {
            for (name, tally) in by_name {
                add(*etype, name, Problem::Undeclared, tally)?;
            }
        }
        Ok(out)
    }
}
