//! The plan as the compiler emits it (docs/plan-format.md): plain data, deserialised once.
//! Expressions and templates stay JSON here; `engine` builds them into evaluable steps.

use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Deserialize)]
pub struct Plan {
    pub version: u32,
    pub event_types: Vec<String>,
    pub data_fields: Vec<String>,
    /// Per event type: its declared data fields (`sopengine.datacheck`).
    pub event_data: Vec<rustc_hash::FxHashMap<String, FieldDecl>>,
    pub state: Vec<StateVar>,
    pub updates: Vec<Update>,
    pub indexes: Vec<Index>,
    pub sops: Vec<SopSlot>,
    pub rules: Vec<Json>,
    pub columns: Vec<(String, Option<ExprSlot>)>,
    /// When a case has ended (`pack.complete`).
    pub complete: Complete,
    /// Whether events of undeclared types are read (`pack.vocabulary: open`): they share the index
    /// `event_types.len()`.
    pub open_vocabulary: bool,
    /// The declared business calendars, expanded into working intervals.
    pub calendars: Vec<crate::calendar::CalendarPlan>,
}

#[derive(Deserialize)]
pub struct Complete {
    /// A condition over the case's state after its last event.
    pub when: Option<ExprSlot>,
    /// Seconds without an event after which a case has ended.
    pub idle: Option<f64>,
}

#[derive(Deserialize)]
pub struct FieldDecl {
    #[serde(rename = "type")]
    pub kind: String,
    /// The values allowed (typed values), or None: any value of the type.
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<Json>>,
}

#[derive(Deserialize)]
pub struct StateVar {
    pub name: String,
    pub kind: String,
    pub initial: Json,
}

#[derive(Deserialize)]
pub struct Update {
    pub var: usize,
    pub on: Vec<u32>,
    pub op: String,
    pub value: Option<ExprSlot>,
    pub when: Option<ExprSlot>,
}

#[derive(Deserialize)]
pub struct Index {
    pub name: String,
    pub member: ExprSlot,
    pub key: ExprSlot,
    pub attributes: Vec<(String, ExprSlot)>,
    pub reads: Vec<usize>,
}

#[derive(Deserialize)]
pub struct SopSlot {
    pub sop: String,
    /// The SOP's `applies_when`, if any.
    pub applies: Option<ExprSlot>,
    /// When the SOP's version is in force, if it is versioned.
    pub effective: Option<Effective>,
}

/// When a version of a SOP is in force (`sopengine.rulebase.Effective`).
#[derive(Deserialize, Clone, Copy)]
pub struct Effective {
    /// Epoch seconds, inclusive.
    pub from: f64,
    /// Epoch seconds, exclusive; None: still in force.
    pub until: Option<f64>,
    /// Judged at the event a rule checks, not at the case's first event.
    pub at_event: bool,
}

impl Effective {
    pub fn covers(&self, time: f64) -> bool {
        self.from <= time && self.until.is_none_or(|until| time < until)
    }
}

/// An expression with what the evaluator needs around it.
#[derive(Deserialize, Clone)]
pub struct ExprSlot {
    pub node: Json,
    /// Python's repr() of the expression text, for undecided reasons.
    pub repr: String,
    /// State variables it reads, sorted by name (the order evidence is listed in).
    pub refs: Vec<usize>,
}

#[derive(Deserialize, Clone)]
pub struct MatchSlot {
    pub on: Vec<u32>,
    pub when: Option<ExprSlot>,
}
