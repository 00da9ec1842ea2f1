//! `guard`: at an event (`on`, `when`) a condition must hold (`require`).

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::run::{CaseRun, Runner};

pub struct Guard {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
    pub require: Option<CExpr>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Guard, String> {
    let (on, when) = on_when(b, raw)?;
    Ok(Guard {
        on,
        when,
        require: b.opt_expr(&field(raw, "require")?)?,
    })
}

pub fn check(r: &mut Runner, run: &mut CaseRun, idx: u32, rule: &Rule, g: &Guard, e: &Arc<Event>) {
    if !r.gate(run, idx, rule, g.when.as_ref(), e) {
        return;
    }
    match r.test(run, idx, g.require.as_ref(), Some(e), None) {
        Some(false) => {
            let message = r.render(run, &rule.message, Some(e), None);
            let mut events = vec![e.id.clone()];
            events.extend(Runner::evidence(run, g.require.as_ref()));
            r.violate(run, idx, e.time, message, events, 0);
        }
        Some(true) => Runner::held(run, idx),
        None => {}
    }
}
