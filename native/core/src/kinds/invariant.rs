//! `invariant`: a condition on the case state must hold after every event that changes what it
//! reads, and may be false at most `grace`.

use std::sync::Arc;

use serde_json::Value as Json;

use super::Rule;
use crate::calendar::CalendarRef;
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::expr::Template;
use crate::findings::{tally, LATE, MISSED, ON_TIME};
use crate::run::{Breach, CaseRun, Runner};

pub struct Invariant {
    /// Types after which the condition may need checking.
    pub on: Vec<u32>,
    /// Types named in the rule: checked after them always.
    pub explicit_on: Vec<u32>,
    pub when: Option<CExpr>,
    pub require: Option<CExpr>,
    pub grace: f64,
    pub action: Option<Template>,
    /// State variables the condition (and the SOP's applicability) read.
    pub reads: Vec<usize>,
    /// The calendar the grace counts in (none: every hour).
    pub calendar: Option<CalendarRef>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Invariant, String> {
    let mut explicit_on: Vec<u32> = field(raw, "explicit_on")?;
    explicit_on.sort_unstable();
    let action = match raw.get("action") {
        Some(Json::Null) | None => None,
        Some(t) => Some(b.template(t)?),
    };
    Ok(Invariant {
        on: field(raw, "on")?,
        explicit_on,
        when: b.opt_expr(&field(raw, "when")?)?,
        require: b.opt_expr(&field(raw, "require")?)?,
        grace: field(raw, "grace")?,
        action,
        reads: field(raw, "reads")?,
        calendar: b.calendar(raw)?,
    })
}

pub fn check(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &Invariant,
    e: &Arc<Event>,
) {
    if !r.gate(run, idx, rule, k.when.as_ref(), e) {
        // not applicable (any more): nothing is broken; past its grace, it was missed
        if let Some(b) = take_breach(run, idx) {
            if b.timed && b.reported {
                tally(&mut run.outcomes, idx, b.due, b.who, MISSED);
            }
        }
        return;
    }
    match r.test(run, idx, k.require.as_ref(), Some(e), None) {
        Some(false) => {
            if run.breaches.iter().any(|b| b.rule == idx) {
                return;
            }
            let Some(([due], calendar)) =
                r.counted(run, idx, k.calendar.as_ref(), e, e.time, [Some(k.grace)])
            else {
                return; // undecided: no calendar to count the grace in
            };
            let mut events = vec![e.id.clone()];
            events.extend(Runner::evidence(run, k.require.as_ref()));
            let (events, more) = crate::findings::cite(events);
            let mut breach = Breach {
                rule: idx,
                since: e.time,
                due: due.unwrap_or(e.time),
                events,
                more,
                reported: false,
                event: e.clone(),
                timed: k.grace > 0.0,
                who: None,
                zone: calendar.map(|i| r.engine.calendars[i as usize].zone.clone()),
            };
            if k.grace == 0.0 {
                breach.reported = true;
                let message = r.render(run, &rule.message, Some(e), None);
                r.violate(run, idx, e.time, message, breach.events.clone(), more);
            }
            crate::run::push_tight(&mut run.breaches, breach);
        }
        Some(true) => {
            if let Some(b) = take_breach(run, idx).filter(|b| b.timed) {
                // restored: within its grace, as the case now stands; after it, as at the deadline
                let (outcome, who) = if b.reported {
                    (LATE, b.who)
                } else {
                    (ON_TIME, r.accountable(run, idx))
                };
                tally(&mut run.outcomes, idx, b.due, who, outcome);
            }
            Runner::held(run, idx);
        }
        None => {}
    }
}

/// Take the rule's breach out of the case, if it has one.
fn take_breach(run: &mut CaseRun, idx: u32) -> Option<Breach> {
    let at = run.breaches.iter().position(|b| b.rule == idx)?;
    let b = run.breaches.remove(at);
    run.breaches = crate::run::keep(std::mem::take(&mut run.breaches));
    Some(b)
}
