//! `precedence`: B (`on`) only after A (`after`), optionally `within` a duration of the latest A.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr, CMatch};
use crate::event::Event;
use crate::plan::MatchSlot;
use crate::run::{CaseRun, Memory, Runner};

pub struct Precedence {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
    pub after: CMatch,
    pub within: Option<f64>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Precedence, String> {
    let (on, when) = on_when(b, raw)?;
    let after: MatchSlot = field(raw, "after")?;
    Ok(Precedence {
        on,
        when,
        after: b.matcher(&after)?,
        within: field(raw, "within")?,
    })
}

pub fn check(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &Precedence,
    e: &Arc<Event>,
) {
    if !r.gate(run, idx, rule, k.when.as_ref(), e) {
        return;
    }
    let before = match run.memory(idx) {
        Some(Memory::After(ev)) => Some(ev.clone()),
        _ => None,
    };
    let late = match (&before, k.within) {
        (None, _) => true,
        (Some(b), Some(within)) => e.time - b.time > within,
        (Some(_), None) => false,
    };
    if late {
        let message = r.render(run, &rule.message, Some(e), None);
        let mut events = vec![e.id.clone()];
        if let Some(b) = before {
            events.push(b.id.clone());
        }
        r.violate(run, idx, e.time, message, events, 0);
    } else {
        Runner::held(run, idx);
    }
}

/// After the checks of an event: remember it as the latest 'after' event when it matches.
pub fn record(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &Precedence,
    e: &Arc<Event>,
) {
    if r.applies(run, idx, rule, e)
        && (k.after.when.is_none()
            || r.test(run, idx, k.after.when.as_ref(), Some(e), None) == Some(true))
    {
        run.set_memory(idx, Memory::After(e.clone()));
    }
}
