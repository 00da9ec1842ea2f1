//! `response`: after a trigger, an expected event `within` a duration; `start` delays when it shows,
//! `repeat: {every}` makes it recur, `cancel` ends it, `fail_on` makes an event a violation while it
//! is open, `key` separates parallel obligations.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{Kind, Rule};
use crate::calendar::CalendarRef;
use crate::engine::{field, Builder, CExpr, CMatch};
use crate::event::Event;
use crate::expr::{Raise, Template};
use crate::plan::MatchSlot;
use crate::run::{CaseRun, Obligation, Runner};
use crate::value::Value;

pub struct Response {
    pub after: CMatch,
    pub expect: CMatch,
    pub cancel: Vec<CMatch>,
    pub fail_on: Vec<CMatch>,
    pub within: Option<f64>,
    /// `within: {expr}`: the deadline in seconds, evaluated at the trigger.
    pub within_expr: Option<Box<CExpr>>,
    pub start: f64,
    pub every: Option<f64>,
    pub key: Option<CExpr>,
    pub action: Option<Template>,
    /// The calendar `within` and `start` count in (none: every hour).
    pub calendar: Option<CalendarRef>,
    /// `pause: {when}`: while it holds over the case's state, the clock stands still.
    pub pause: Option<Box<CExpr>>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Response, String> {
    let matches = |name: &str| -> Result<Vec<CMatch>, String> {
        let slots: Vec<MatchSlot> = field(raw, name)?;
        slots.iter().map(|m| b.matcher(m)).collect()
    };
    let action = match raw.get("action") {
        Some(Json::Null) | None => None,
        Some(t) => Some(b.template(t)?),
    };
    Ok(Response {
        after: b.matcher(&field(raw, "after")?)?,
        expect: b.matcher(&field(raw, "expect")?)?,
        cancel: matches("cancel")?,
        fail_on: matches("fail_on")?,
        within: field(raw, "within")?,
        within_expr: b.opt_expr(&field(raw, "within_expr")?)?.map(Box::new),
        start: field(raw, "start")?,
        every: field(raw, "every")?,
        key: b.opt_expr(&field(raw, "key")?)?,
        action,
        calendar: b.calendar(raw)?,
        pause: b.opt_expr(&field(raw, "pause")?)?.map(Box::new),
    })
}

/// A trigger opens an obligation (one per rule, case and key).
pub fn trigger(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &Response,
    e: &Arc<Event>,
) {
    if !r.gate(run, idx, rule, k.after.when.as_ref(), e) {
        return;
    }
    let key = match &k.key {
        None => Value::None,
        Some(expr) => match r.value(run, expr, Some(e), None) {
            Ok(v) => v.freeze(),
            Err(_) => Value::Str(e.id.clone()),
        },
    };
    if run
        .obligations
        .iter()
        .any(|ob| ob.rule == idx && !ob.overdue && ob.key.py_eq(&key))
    {
        return;
    }
    let within = match &k.within_expr {
        None => k.within,
        Some(expr) => match within(r, run, idx, expr, e) {
            Some(seconds) => Some(seconds),
            None => return, // undecided: no deadline
        },
    };
    let Some(([due, start], calendar)) = r.counted(
        run,
        idx,
        k.calendar.as_ref(),
        e,
        e.time,
        [within, Some(k.start)],
    ) else {
        return; // undecided: no calendar to count in
    };
    crate::run::push_tight(
        &mut run.obligations,
        Obligation {
            rule: idx,
            trigger: e.clone(),
            key,
            due,
            start: start.unwrap_or(e.time),
            since: e.time,
            missed: 0,
            overdue: false,
            who: None,
            calendar,
            pause: None,
        },
    );
}

/// After `e` changed the case's state: stop the clock of each open obligation whose rule's
/// `pause` now holds, and start again those whose no longer does, with the working time that was
/// left (a pause that cannot be decided changes nothing) (`response.pause_clocks`).
pub fn pause_clocks(r: &mut Runner, run: &mut CaseRun, e: &Arc<Event>) {
    let engine = r.engine;
    let t = e.time;
    // Taken out while this runs: conditions never read the obligations.
    let mut obligations = std::mem::take(&mut run.obligations);
    for ob in obligations.iter_mut() {
        let rule = &engine.rules[ob.rule as usize];
        let Kind::Response(k) = &rule.kind else {
            continue;
        };
        let (Some(pause), Some(due)) = (&k.pause, ob.due) else {
            continue;
        };
        if ob.overdue {
            continue;
        }
        let Some(holds) = r.test(run, ob.rule, Some(pause), Some(e), Some(&ob.trigger)) else {
            continue;
        };
        if holds == ob.paused() {
            continue;
        }
        let calendar = ob.calendar.map(|i| &engine.calendars[i as usize]);
        let left = ob.pause.as_ref().map_or(0.0, |p| p.left);
        // stopping: the (working) time left to the deadline; starting again: the new deadline
        let counted = match calendar {
            None if holds => Some(due - t),
            None => Some(t + left),
            Some(c) if holds => c.worked_at(due).zip(c.worked_at(t)).map(|(d, n)| d - n),
            Some(c) => c.add(t, left),
        };
        let Some(counted) = counted else {
            let reason = calendar.map(|c| c.outside(t)).unwrap_or_default();
            r.undecided(run, ob.rule, Some(e), reason);
            continue;
        };
        let state = ob.pause.get_or_insert_with(Box::default);
        if holds {
            (state.left, state.since) = (counted, Some(t));
        } else {
            let since = state.since.take().unwrap_or(t);
            state.ended.push((since, t));
            ob.due = Some(counted);
        }
        state.events.push(e.id.clone());
    }
    run.obligations = obligations;
}

/// The longest duration a rule may use (`sopengine.timeutil.MAX_DURATION`): 1000 years.
const MAX_DURATION: f64 = 1000.0 * 365.25 * 86400.0;

/// The deadline `within: {expr}` gives at the trigger, in seconds; None (undecided, the reason
/// recorded) when it fails or gives no duration of 0 to 1000 years (`response._within`).
fn within(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    expr: &CExpr,
    e: &Arc<Event>,
) -> Option<f64> {
    let reason = match r.value(run, expr, Some(e), None) {
        Ok(Value::Int(i)) if 0 <= i && i as f64 <= MAX_DURATION => return Some(i as f64),
        Ok(Value::Float(f)) if (0.0..=MAX_DURATION).contains(&f) => return Some(f),
        Ok(other) => format!(
            "within {} gave no duration (a {}, not seconds from 0 to 1000 years)",
            expr.repr,
            other.type_name()
        ),
        Err(Raise::MissingFact(reason)) => reason,
        Err(Raise::Error { class, message }) => format!(
            "within {} could not be evaluated: {class}: {message}",
            expr.repr
        ),
    };
    r.undecided(run, idx, Some(e), reason);
    None
}

/// What an event does to an overdue obligation: `LATE` when it meets it, `MISSED` when it fails
/// or cancels it, else None; tested quietly (a failure is no match, not an undecided check).
pub fn overdue_outcome(
    r: &Runner,
    run: &CaseRun,
    k: &Response,
    trigger: &Event,
    e: &Arc<Event>,
) -> Option<usize> {
    let holds = |m: &CMatch| {
        m.covers(e.etype)
            && m.when
                .as_ref()
                .is_none_or(|w| r.quietly(run, w, Some(e), Some(trigger)))
    };
    if holds(&k.expect) {
        return Some(crate::findings::LATE);
    }
    if k.fail_on.iter().chain(&k.cancel).any(holds) {
        return Some(crate::findings::MISSED);
    }
    None
}

pub enum Outcome {
    Met,
    Failed,
    Cancelled,
    Undecided,
    Open,
}

/// What an event does to an open obligation of this rule.
pub fn outcome(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    k: &Response,
    trigger: &Event,
    e: &Arc<Event>,
) -> Outcome {
    let et = e.etype;
    if k.expect.covers(et) {
        match r.test(run, idx, k.expect.when.as_ref(), Some(e), Some(trigger)) {
            None => return Outcome::Undecided,
            Some(true) => return Outcome::Met,
            Some(false) => {}
        }
    }
    for m in &k.fail_on {
        if m.covers(et) {
            match r.test(run, idx, m.when.as_ref(), Some(e), Some(trigger)) {
                None => return Outcome::Undecided,
                Some(true) => return Outcome::Failed,
                Some(false) => {}
            }
        }
    }
    for m in &k.cancel {
        if m.covers(et) && r.test(run, idx, m.when.as_ref(), Some(e), Some(trigger)) == Some(true) {
            return Outcome::Cancelled;
        }
    }
    Outcome::Open
}
