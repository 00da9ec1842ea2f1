//! `require_fields`: fields (`data.X` or `state.X`) are filled at an event.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::plan::ExprSlot;
use crate::run::{CaseRun, Runner};
use crate::value::{Str, Value};

pub struct RequireFields {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
    pub fields: Vec<(Str, CExpr)>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<RequireFields, String> {
    let (on, when) = on_when(b, raw)?;
    let pairs: Vec<(String, ExprSlot)> = field(raw, "fields")?;
    let fields = pairs
        .iter()
        .map(|(label, slot)| Ok((Str::from(label.as_str()), b.expr(slot)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(RequireFields { on, when, fields })
}

/// Missing as the reference engine counts it: None, "", or an empty list, tuple or set (not an empty dict).
fn missing(value: &Value) -> bool {
    match value {
        Value::None => true,
        Value::Str(s) => s.is_empty(),
        Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => v.is_empty(),
        _ => false,
    }
}

pub fn check(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &RequireFields,
    e: &Arc<Event>,
) {
    if !r.gate(run, idx, rule, k.when.as_ref(), e) {
        return;
    }
    let mut absent = Vec::new();
    for (label, expr) in &k.fields {
        // A field reference cannot raise; a failure would be an engine fault, counted as missing.
        let value = r.value(run, expr, Some(e), None).unwrap_or(Value::None);
        if missing(&value) {
            absent.push(Value::Str(label.clone()));
        }
    }
    if absent.is_empty() {
        Runner::held(run, idx);
        return;
    }
    r.set_var("missing", Value::List(Arc::new(absent)));
    let message = r.render(run, &rule.message, Some(e), None);
    r.violate(run, idx, e.time, message, vec![e.id.clone()], 0);
}
