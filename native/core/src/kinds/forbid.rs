//! `forbid`: an event (with `when`) must not happen.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{Builder, CExpr};
use crate::event::Event;
use crate::run::{CaseRun, Runner};

pub struct Forbid {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Forbid, String> {
    let (on, when) = on_when(b, raw)?;
    Ok(Forbid { on, when })
}

pub fn check(r: &mut Runner, run: &mut CaseRun, idx: u32, rule: &Rule, f: &Forbid, e: &Arc<Event>) {
    if !r.applies(run, idx, rule, e) {
        return;
    }
    match r.test(run, idx, f.when.as_ref(), Some(e), None) {
        Some(true) => {
            let message = r.render(run, &rule.message, Some(e), None);
            r.violate(run, idx, e.time, message, vec![e.id.clone()], 0);
        }
        Some(false) => Runner::held(run, idx),
        None => {}
    }
}
