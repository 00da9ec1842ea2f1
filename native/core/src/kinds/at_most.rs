//! `at_most`: at most `max` matching events per case.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::run::{CaseRun, Memory, Runner};
use crate::value::Value;

pub struct AtMost {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
    pub max: i64,
}

pub fn build(b: &Builder, raw: &Json) -> Result<AtMost, String> {
    let (on, when) = on_when(b, raw)?;
    Ok(AtMost {
        on,
        when,
        max: field(raw, "max")?,
    })
}

pub fn check(r: &mut Runner, run: &mut CaseRun, idx: u32, rule: &Rule, k: &AtMost, e: &Arc<Event>) {
    if !r.gate(run, idx, rule, k.when.as_ref(), e) {
        return;
    }
    let seen = match run.memory_mut(idx) {
        Some(Memory::Seen(seen)) => seen,
        _ => {
            run.set_memory(idx, Memory::Seen(Vec::new()));
            match run.memory_mut(idx) {
                Some(Memory::Seen(seen)) => seen,
                _ => unreachable!("just set"),
            }
        }
    };
    seen.push(e.id.clone());
    let count = seen.len();
    if count as i64 > k.max {
        let mut events = vec![e.id.clone()];
        events.extend(seen[..count - 1].iter().cloned());
        r.set_var("count", Value::Int(count as i64));
        let message = r.render(run, &rule.message, Some(e), None);
        r.violate(run, idx, e.time, message, events);
    } else {
        Runner::held(run, idx);
    }
}
