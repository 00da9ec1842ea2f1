//! `Findings`: an audit's findings kept in the core, in their one order, until a report asks.
//!
//! A 1M-event audit of the benchmark log has ~420k findings (106k violations, 312k undecided
//! checks). Made into Python objects and rendered by `to_json` and orjson, they cost ~10 µs each:
//! seconds of the audit's CPU.
//! `sopengine.native.NativeResult` keeps this object instead: counts are read from it, the JSON
//! reporter has it render the findings itself ([`Findings::render`], the bytes orjson writes for
//! `to_json()`), and Python objects are made only for a report that reads the findings one by one
//! ([`Findings::rows`]).
//!
//! The order and the at-risk marks are those of `sopengine.judging.assemble` and
//! `sopengine.findings.at_risk`; both engines' JSON is compared byte for byte by the tests.

use std::cmp::Ordering;
use std::fmt::Write as _;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use sopengine_core::findings::{Packed, Undecided, Violation};
use sopengine_core::pyfmt::format_time;
use sopengine_core::session::{Judged, NextAction, WorkItem};
use sopengine_core::value::{Num, Str};

use crate::convert::value_to_py as to_py;

/// A rule's warning point (`sopengine.findings.Warn`): seconds before the deadline, or a share of
/// the time to it; its repeat period.
pub type Warn = (Option<f64>, Option<f64>, Option<f64>);

/// `sopengine.findings.risk_from`: when an obligation due at `due` (open since `since`) turns at risk.
fn risk_from(warn: Warn, due: f64, since: f64) -> f64 {
    let (before, share, every) = warn;
    if let Some(before) = before {
        return due - before;
    }
    let start = every.map_or(since, |every| due - every);
    start + share.unwrap_or(0.0) * (due - start)
}

/// Python's `<` on two floats, as a sort key part (times are never NaN).
fn by_float(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

#[pyclass(module = "sopengine._native", frozen)]
pub struct Findings {
    /// Per rule (the plan's order): its key and severity.
    rules: Vec<(Str, Str)>,
    /// The pack's worklist column names.
    columns: Vec<Str>,
    /// Packed as the session left them; `order` lists them in `assemble`'s order.
    violations: Packed,
    order: Vec<u32>,
    actions: Vec<NextAction>,
    /// With whether each is at risk.
    work: Vec<(WorkItem, bool)>,
    undecided: Vec<Undecided>,
    /// The next actions at risk: (their place in `actions`, when they turned at risk).
    at_risk: Vec<(usize, f64)>,
}

#[derive(Clone, Copy)]
enum Kind {
    Violations,
    NextActions,
    AtRisk,
    Undecided,
    Work,
}

impl Kind {
    fn of(name: &str) -> PyResult<Kind> {
        Ok(match name {
            "violations" => Kind::Violations,
            "next_actions" => Kind::NextActions,
            "at_risk" => Kind::AtRisk,
            "undecided" => Kind::Undecided,
            "work" => Kind::Work,
            _ => return Err(PyValueError::new_err(format!("no findings named {name:?}"))),
        })
    }
}

impl Findings {
    /// The findings of `judged` in `assemble`'s order; `warns`: the rules' warning points by rule
    /// number (none: no rule warns).
    pub fn new(
        judged: &mut Judged,
        rules: Vec<(Str, Str)>,
        columns: Vec<Str>,
        warns: &[Option<Warn>],
    ) -> Findings {
        let key = |r: u32| -> &str { &rules[r as usize].0 };
        let violations = std::mem::take(&mut judged.violations);
        let order = {
            // by case, time and rule, read without decoding the rest; the rest only on a tie
            let heads: Vec<_> = (0..violations.len()).map(|i| violations.head(i)).collect();
            let mut order: Vec<u32> = (0..violations.len() as u32).collect();
            order.sort_by(|&i, &j| {
                let (a, b) = (&heads[i as usize], &heads[j as usize]);
                a.case
                    .cmp(b.case)
                    .then_with(|| by_float(a.time, b.time))
                    .then_with(|| key(a.rule).cmp(key(b.rule)))
                    .then_with(|| {
                        let (a, b) = (violations.get(i as usize), violations.get(j as usize));
                        a.events
                            .cmp(&b.events)
                            .then_with(|| a.message.cmp(&b.message))
                            .then_with(|| a.more_events.cmp(&b.more_events))
                            .then_with(|| {
                                let (x, y) = (a.accountable.as_deref(), b.accountable.as_deref());
                                x.unwrap_or("").cmp(y.unwrap_or(""))
                            })
                    })
            });
            order
        };
        let mut actions = std::mem::take(&mut judged.next_actions);
        actions.sort_by(|a, b| {
            a.due
                .is_none()
                .cmp(&b.due.is_none())
                .then_with(|| by_float(a.due.unwrap_or(0.0), b.due.unwrap_or(0.0)))
                .then_with(|| a.pending.case.cmp(&b.pending.case))
                .then_with(|| key(a.pending.rule).cmp(key(b.pending.rule)))
                .then_with(|| a.pending.events.cmp(&b.pending.events))
        });
        let mut undecided = std::mem::take(&mut judged.undecided);
        undecided.sort_by(|a, b| {
            key(a.rule)
                .cmp(key(b.rule))
                .then_with(|| a.case.cmp(&b.case))
                .then_with(|| a.reason.cmp(&b.reason))
                .then_with(|| {
                    let (x, y) = (a.event.as_deref(), b.event.as_deref());
                    x.unwrap_or("").cmp(y.unwrap_or(""))
                })
        });
        let as_of = judged.as_of;
        let warn = |r: u32| warns.get(r as usize).copied().flatten();
        let mut at_risk = Vec::new();
        let mut work: Vec<(WorkItem, bool)> = std::mem::take(&mut judged.work)
            .into_iter()
            .map(|w| (w, false))
            .collect();
        if let Some(as_of) = as_of.filter(|_| warns.iter().any(Option::is_some)) {
            for (i, a) in actions.iter().enumerate() {
                if let (Some(warn), Some(due)) = (warn(a.pending.rule), a.due) {
                    let risk = risk_from(warn, due, a.pending.since);
                    if risk <= as_of {
                        at_risk.push((i, risk));
                    }
                }
            }
            for (w, marked) in &mut work {
                let p = &w.pending;
                if let (false, Some(due), Some(warn)) = (w.overdue, p.shown_due(), warn(p.rule)) {
                    *marked = risk_from(warn, due, p.since) <= as_of;
                }
            }
        }
        work.sort_by(|(a, _), (b, _)| {
            let (pa, pb) = (&a.pending, &b.pending);
            (!a.overdue)
                .cmp(&!b.overdue)
                .then_with(|| pa.shown_due().is_none().cmp(&pb.shown_due().is_none()))
                .then_with(|| {
                    by_float(pa.shown_due().unwrap_or(0.0), pb.shown_due().unwrap_or(0.0))
                })
                .then_with(|| pa.case.cmp(&pb.case))
                .then_with(|| key(pa.rule).cmp(key(pb.rule)))
        });
        Findings {
            rules,
            columns,
            violations,
            order,
            actions,
            work,
            undecided,
            at_risk,
        }
    }

    /// Violation `i` in `assemble`'s order.
    fn violation(&self, i: usize) -> Violation {
        self.violations.get(self.order[i] as usize)
    }

    fn len(&self, kind: Kind) -> usize {
        match kind {
            Kind::Violations => self.violations.len(),
            Kind::NextActions => self.actions.len(),
            Kind::AtRisk => self.at_risk.len(),
            Kind::Undecided => self.undecided.len(),
            Kind::Work => self.work.len(),
        }
    }

    fn rule_of(&self, kind: Kind, i: usize) -> u32 {
        match kind {
            Kind::Violations => self.violations.head(self.order[i] as usize).rule,
            Kind::NextActions => self.actions[i].pending.rule,
            Kind::AtRisk => self.actions[self.at_risk[i].0].pending.rule,
            Kind::Undecided => self.undecided[i].rule,
            Kind::Work => self.work[i].0.pending.rule,
        }
    }

    /// Item `i` as the fields of its Python class, in their order.
    fn row<'py>(&self, py: Python<'py>, kind: Kind, i: usize) -> PyResult<Bound<'py, PyTuple>> {
        let rule = |r: u32| self.rules[r as usize].0.as_ref();
        let ids = |v: &[Str]| PyTuple::new(py, v.iter().map(|s| s.as_ref()));
        match kind {
            Kind::Violations => {
                let v = &self.violation(i);
                (
                    rule(v.rule),
                    v.case.as_ref(),
                    v.time,
                    self.rules[v.rule as usize].1.as_ref(),
                    v.message.as_str(),
                    ids(&v.events)?,
                    v.more_events,
                    v.accountable.as_deref(),
                    PyTuple::new(py, &v.pauses)?,
                )
                    .into_pyobject(py)
            }
            Kind::NextActions => {
                let (a, p) = (&self.actions[i], &self.actions[i].pending);
                (
                    rule(p.rule),
                    p.case.as_ref(),
                    p.action.as_str(),
                    a.due,
                    p.since,
                    ids(&p.events)?,
                    p.more_events,
                    p.zone.as_deref(),
                    PyTuple::new(py, &p.pauses)?,
                )
                    .into_pyobject(py)
            }
            Kind::AtRisk => {
                let (at, time) = self.at_risk[i];
                let (a, p) = (&self.actions[at], &self.actions[at].pending);
                (
                    rule(p.rule),
                    p.case.as_ref(),
                    p.action.as_str(),
                    a.due,
                    p.since,
                    time,
                    ids(&p.events)?,
                    p.more_events,
                )
                    .into_pyobject(py)
            }
            Kind::Undecided => {
                let u = &self.undecided[i];
                (
                    rule(u.rule),
                    u.case.as_ref(),
                    u.event.as_deref(),
                    u.reason.as_str(),
                )
                    .into_pyobject(py)
            }
            Kind::Work => {
                let (w, risky) = &self.work[i];
                let p = &w.pending;
                let columns = PyList::empty(py);
                for (name, value) in self.columns.iter().zip(p.columns.iter()) {
                    columns.append((name.as_ref(), to_py(py, value)?))?;
                }
                (
                    rule(p.rule),
                    p.case.as_ref(),
                    p.action.as_str(),
                    p.shown_due(),
                    p.since,
                    w.overdue,
                    PyTuple::new(py, columns)?,
                    ids(&p.events)?,
                    p.more_events,
                    *risky,
                    p.zone.as_deref(),
                )
                    .into_pyobject(py)
            }
        }
    }

    /// Item `i`'s JSON text as `nested(item.to_json(), "    ")` of `sopengine.reporters.jsonfmt`
    /// writes it, onto `out`; None for one the core leaves to Python (pauses, whose seconds are a
    /// float in orjson's notation; a time outside the years 1-9999), `out` then partly written.
    fn json(
        &self,
        out: &mut String,
        kind: Kind,
        i: usize,
        names: &[(String, Option<String>)],
        indent: bool,
    ) -> Option<()> {
        let mut o = Obj::new(out, indent);
        let named = |o: &mut Obj, r: u32| {
            let (id, version) = &names[r as usize];
            o.str("rule", id);
            if let Some(version) = version {
                o.str("version", version);
            }
        };
        let time = |t: f64| format_time(Num::Float(t)).ok();
        match kind {
            Kind::Violations => {
                let v = &self.violation(i);
                if !v.pauses.is_empty() {
                    return None;
                }
                named(&mut o, v.rule);
                o.str("case", &v.case);
                o.str("time", &time(v.time)?);
                o.str("severity", &self.rules[v.rule as usize].1);
                o.str("message", &v.message);
                o.evidence(&v.events, v.more_events);
                if let Some(who) = &v.accountable {
                    o.str("accountable", who);
                }
            }
            Kind::NextActions | Kind::AtRisk => {
                let (a, risk) = match kind {
                    Kind::AtRisk => (&self.actions[self.at_risk[i].0], Some(self.at_risk[i].1)),
                    _ => (&self.actions[i], None),
                };
                let p = &a.pending;
                if risk.is_none() && !p.pauses.is_empty() {
                    return None;
                }
                named(&mut o, p.rule);
                o.str("case", &p.case);
                o.str("action", &p.action);
                match a.due {
                    Some(due) => o.str("due", &time(due)?),
                    None => o.null("due"),
                }
                if let Some(risk) = risk {
                    o.str("at_risk_since", &time(risk)?);
                }
                o.str("since", &time(p.since)?);
                o.evidence(&p.events, p.more_events);
            }
            Kind::Undecided => {
                let u = &self.undecided[i];
                named(&mut o, u.rule);
                o.str("case", &u.case);
                match &u.event {
                    Some(event) => o.str("event", event),
                    None => o.null("event"),
                }
                o.str("reason", &u.reason);
            }
            Kind::Work => return None, // not part of the audit JSON
        }
        o.end();
        Some(())
    }
}

#[pymethods]
impl Findings {
    /// How many there are of `kind` (violations, next_actions, at_risk, undecided, work).
    fn count(&self, kind: &str) -> PyResult<usize> {
        Ok(self.len(Kind::of(kind)?))
    }

    /// The rules' keys, in the plan's order (the rule numbers `render`'s names follow).
    fn rule_keys(&self) -> Vec<String> {
        self.rules.iter().map(|(key, _)| key.to_string()).collect()
    }

    /// Per rule key: how many findings of `kind` it has.
    fn by_rule<'py>(&self, py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyDict>> {
        let kind = Kind::of(kind)?;
        let mut counts = vec![0u64; self.rules.len()];
        for i in 0..self.len(kind) {
            counts[self.rule_of(kind, i) as usize] += 1;
        }
        let out = PyDict::new(py);
        for (n, (key, _)) in counts.iter().zip(&self.rules) {
            if *n > 0 {
                out.set_item(key.as_ref(), n)?;
            }
        }
        Ok(out)
    }

    /// The violations by severity.
    fn severities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut counts: Vec<(&str, u64)> = Vec::new();
        for i in 0..self.violations.len() {
            let v = self.violations.head(i);
            let severity = self.rules[v.rule as usize].1.as_ref();
            match counts.iter_mut().find(|(s, _)| *s == severity) {
                Some((_, n)) => *n += 1,
                None => counts.push((severity, 1)),
            }
        }
        let out = PyDict::new(py);
        for (severity, n) in counts {
            out.set_item(severity, n)?;
        }
        Ok(out)
    }

    /// Items `start..stop` of `kind` as tuples of their Python class's fields.
    fn rows<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        start: usize,
        stop: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let kind = Kind::of(kind)?;
        let (out, mut made) = (PyList::empty(py), 0);
        for i in start..stop.min(self.len(kind)) {
            let_others_run(py, &mut made);
            out.append(self.row(py, kind, i)?)?;
        }
        Ok(out)
    }

    /// Items `start..stop` of `kind` as the JSON output writes them: each after a comma (but the
    /// first of all) and, with `indent`, a new line and four spaces; `names`: per rule number, its
    /// public id and version; `slow(kind, i)`: the text of an item the core leaves to Python.
    fn render(
        &self,
        kind: &str,
        start: usize,
        stop: usize,
        indent: bool,
        names: Vec<(String, Option<String>)>,
        slow: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let (name, kind) = (kind, Kind::of(kind)?);
        if names.len() != self.rules.len() {
            return Err(PyValueError::new_err("render: one name per rule"));
        }
        let mut out = String::new();
        for i in start..stop.min(self.len(kind)) {
            if i > 0 {
                out.push(',');
            }
            if indent {
                out.push_str("\n    ");
            }
            let before = out.len();
            if self.json(&mut out, kind, i, &names, indent).is_none() {
                out.truncate(before);
                out.push_str(&slow.call1((name, i))?.extract::<String>()?);
            }
        }
        Ok(out)
    }
}

/// Every 4,096 Python objects made, let the other Python threads run: Rust code holding the GIL is
/// never asked to give it up (Python's switch interval works on bytecode), so a long conversion would
/// hold up a service's event loop. Dropping the GIL hands it to a thread that asked for it.
fn let_others_run(py: Python<'_>, made: &mut usize) {
    *made += 1;
    if *made % 4096 == 0 {
        py.detach(|| ());
    }
}

/// One JSON object as orjson writes it, compact or with `OPT_INDENT_2` one level down (its keys
/// six spaces in, as `jsonfmt.nested` pads an item of a list).
struct Obj<'a> {
    out: &'a mut String,
    indent: bool,
    empty: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String, indent: bool) -> Obj<'a> {
        out.push('{');
        Obj {
            out,
            indent,
            empty: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        if self.indent {
            self.out.push_str("\n      ");
        }
        json_str(self.out, key);
        self.out.push_str(if self.indent { ": " } else { ":" });
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        json_str(self.out, value);
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    /// `findings._evidence`: the events, and how many more there are when some are not listed.
    fn evidence(&mut self, events: &[Str], more: u64) {
        self.key("events");
        if events.is_empty() {
            self.out.push_str("[]");
        } else {
            self.out.push('[');
            for (n, id) in events.iter().enumerate() {
                if n > 0 {
                    self.out.push(',');
                }
                if self.indent {
                    self.out.push_str("\n        ");
                }
                json_str(self.out, id);
            }
            self.out
                .push_str(if self.indent { "\n      ]" } else { "]" });
        }
        if more > 0 {
            self.key("more_events");
            let _ = write!(self.out, "{more}");
        }
    }

    fn end(self) {
        self.out.push_str(if self.indent { "\n    }" } else { "}" });
    }
}

/// A JSON string as orjson writes it: `"` and `\` escaped, the control characters below U+0020 as
/// `\b \t \n \f \r` or `\u00XX` (lower-case hex), everything else as it is (UTF-8).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s); // most text: one copy
        out.push('"');
        return;
    }
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}
