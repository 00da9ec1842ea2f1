//! `at_most`: at most `max` matching events per case.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::findings::MAX_EVIDENCE;
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
    if !matches!(run.memory(idx), Some(Memory::Seen { .. })) {
        let first = Vec::new();
        run.set_memory(idx, Memory::Seen { count: 0, first });
    }
    let Some(Memory::Seen { count, first }) = run.memory_mut(idx) else {
        unreachable!("just set")
    };
    // A case's ids are distinct: the count says how many earlier events there are without keeping them.
    *count += 1;
    let count = *count;
    let mut cited = vec![e.id.clone()];
    cited.extend(first.iter().take(MAX_EVIDENCE - 1).cloned());
    if first.len() < MAX_EVIDENCE {
        first.push(e.id.clone());
    }
    if count as i64 > k.max {
        let more = count - cited.len() as u64;
        r.set_var("count", Value::Int(count as i64));
        let message = r.render(run, &rule.message, Some(e), None);
        r.violate(run, idx, e.time, message, cited, more);
    } else {
        Runner::held(run, idx);
    }
}
