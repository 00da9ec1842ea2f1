//! A plan built into evaluable steps: expressions compiled, rules indexed by event type.

use rustc_hash::FxHashMap;
use serde_json::Value as Json;

use crate::calendar::{Calendar, CalendarRef};
use crate::expr::{BuildCtx, Expr, Template};
use crate::kinds::{self, Rule};
use crate::plan::{self, ExprSlot, MatchSlot, Plan};
use crate::value::{Str, Value};

/// An expression with its text (for undecided reasons) and the state it reads (for evidence).
pub struct CExpr {
    pub expr: Expr,
    pub repr: String,
    pub refs: Vec<usize>,
}

/// Events of some types, narrowed by an optional condition.
pub struct CMatch {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
}

impl CMatch {
    pub fn covers(&self, etype: u32) -> bool {
        self.on.binary_search(&etype).is_ok()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Value,
    Set,
    Counter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Add,
    Remove,
    Clear,
}

pub struct StateVar {
    pub name: Str,
    pub kind: VarKind,
    pub initial: Value,
}

pub struct UpdateStep {
    pub var: usize,
    pub op: Op,
    pub value: Option<CExpr>,
    pub when: Option<CExpr>,
}

pub struct IndexDef {
    pub name: Str,
    pub member: CExpr,
    pub key: CExpr,
    pub attributes: Vec<(Str, CExpr)>,
    /// The names of a member's attributes as `other` reads them: the declared ones, then `case` and
    /// `since` where not declared (Python's `dict(attrs, case=..., since=...)`). An interval keeps the
    /// values only, in this order.
    pub names: Vec<Str>,
    pub reads: Vec<usize>,
}

impl IndexDef {
    /// Where `name` is among a member's attributes.
    pub fn place(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| &**n == name)
    }
}

/// What to do for one event type, in the order the evaluator does it.
#[derive(Default)]
pub struct TypeSteps {
    /// Response rules whose obligations this type can meet, fail or cancel (sorted).
    pub obligation_rules: Vec<u32>,
    /// Rules checked against the state just before the event, in pack order.
    pub checks: Vec<u32>,
    /// Precedence rules for which this type is an 'after' event.
    pub recorders: Vec<u32>,
    /// State updates, in pack order.
    pub updates: Vec<usize>,
    /// Invariants that may need checking after the event.
    pub invariants: Vec<u32>,
}

pub struct Engine {
    /// The declared event types, then (an open vocabulary) "" for the undeclared ones.
    pub types: Vec<Str>,
    pub type_index: FxHashMap<Str, u32>,
    /// The index the undeclared types share, when the pack's vocabulary is open.
    pub undeclared: Option<u32>,
    pub fields: Vec<Str>,
    pub field_index: FxHashMap<Str, u32>,
    pub state: Vec<StateVar>,
    pub updates: Vec<UpdateStep>,
    pub indexes: Vec<IndexDef>,
    /// Per state variable: whether some index reads it.
    pub index_reads: Vec<bool>,
    /// Per SOP slot: its version's range (if versioned) and its `applies_when` (if any).
    pub sops: Vec<(Option<plan::Effective>, Option<CExpr>)>,
    pub rules: Vec<Rule>,
    pub steps: Vec<TypeSteps>,
    /// Rules with their own pending items at a case's end (declare), in pack order.
    pub open_ended: Vec<u32>,
    /// A response rule's clock can pause: after each event, its pause is tested.
    pub pausing: bool,
    pub columns: Vec<(Str, Option<CExpr>)>,
    /// The declared data fields, checked as events are read.
    pub vocab: crate::vocab::Vocabulary,
    /// When a case has ended (`pack.complete`): a condition over its state, seconds without events.
    pub complete_when: Option<CExpr>,
    pub complete_idle: Option<f64>,
    /// The declared business calendars, in the plan's order.
    pub calendars: Vec<Calendar>,
}

/// What a build needs to resolve names.
pub struct Builder<'a> {
    pub field_index: &'a FxHashMap<Str, u32>,
    pub calendars: &'a [Calendar],
}

impl Builder<'_> {
    fn ctx(&self) -> impl Fn(&str) -> Option<u32> + '_ {
        move |name: &str| self.field_index.get(name).copied()
    }

    pub fn expr(&self, slot: &ExprSlot) -> Result<CExpr, String> {
        let lookup = self.ctx();
        let ctx = BuildCtx {
            data_field: &lookup,
        };
        Ok(CExpr {
            expr: Expr::build(&slot.node, &ctx)?,
            repr: slot.repr.clone(),
            refs: slot.refs.clone(),
        })
    }

    pub fn opt_expr(&self, slot: &Option<ExprSlot>) -> Result<Option<CExpr>, String> {
        slot.as_ref().map(|s| self.expr(s)).transpose()
    }

    pub fn template(&self, json: &Json) -> Result<Template, String> {
        let lookup = self.ctx();
        let ctx = BuildCtx {
            data_field: &lookup,
        };
        Template::build(json, &ctx)
    }

    /// A rule's `calendar` (`{"name": ...}` or `{"expr": ...}`; null: every hour).
    pub fn calendar(&self, raw: &Json) -> Result<Option<CalendarRef>, String> {
        let Some(choice) = raw.get("calendar").filter(|c| !c.is_null()) else {
            return Ok(None);
        };
        if let Some(name) = choice.get("name").and_then(Json::as_str) {
            return match self.calendars.iter().position(|c| &*c.name == name) {
                Some(i) => Ok(Some(CalendarRef::Named(i))),
                None => Err(format!("calendar '{name}' is not in the plan")),
            };
        }
        let slot: ExprSlot = field(choice, "expr")?;
        Ok(Some(CalendarRef::Expr(Box::new(self.expr(&slot)?))))
    }

    pub fn matcher(&self, slot: &MatchSlot) -> Result<CMatch, String> {
        let mut on = slot.on.clone();
        on.sort_unstable();
        Ok(CMatch {
            on,
            when: self.opt_expr(&slot.when)?,
        })
    }
}

/// Read a field of a rule's JSON with serde.
pub fn field<T: serde::de::DeserializeOwned>(rule: &Json, name: &str) -> Result<T, String> {
    let value = rule.get(name).cloned().unwrap_or(Json::Null);
    serde_json::from_value(value).map_err(|e| format!("rule field '{name}': {e}"))
}

impl Engine {
    pub fn from_json(text: &str) -> Result<Engine, String> {
        let plan: Plan =
            serde_json::from_str(text).map_err(|e| format!("the plan cannot be read: {e}"))?;
        if plan.version != crate::PLAN_VERSION {
            return Err(format!(
                "the plan has version {}, this core executes version {}; reinstall sopengine so that both match",
                plan.version,
                crate::PLAN_VERSION
            ));
        }
        Engine::build(plan)
    }

    fn build(plan: Plan) -> Result<Engine, String> {
        let mut types: Vec<Str> = plan
            .event_types
            .iter()
            .map(|t| Str::from(t.as_str()))
            .collect();
        let type_index = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        if plan.event_data.len() != types.len() {
            return Err("the plan's event_data does not match its event_types".into());
        }
        let undeclared = plan.open_vocabulary.then_some(types.len() as u32);
        if undeclared.is_some() {
            types.push(Str::from("")); // an event of an undeclared type carries its own name
        }
        let fields: Vec<Str> = plan
            .data_fields
            .iter()
            .map(|t| Str::from(t.as_str()))
            .collect();
        let field_index: FxHashMap<Str, u32> = fields
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let calendars = plan
            .calendars
            .into_iter()
            .map(Calendar::build)
            .collect::<Result<Vec<_>, String>>()?;
        let b = Builder {
            field_index: &field_index,
            calendars: &calendars,
        };
        let state = plan
            .state
            .iter()
            .map(|v| {
                let kind = match v.kind.as_str() {
                    "set" => VarKind::Set,
                    "counter" => VarKind::Counter,
                    _ => VarKind::Value,
                };
                Ok(StateVar {
                    name: Str::from(v.name.as_str()),
                    kind,
                    initial: crate::tv::decode(&v.initial)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut steps: Vec<TypeSteps> = (0..types.len()).map(|_| TypeSteps::default()).collect();
        let mut updates = Vec::new();
        for (i, up) in plan.updates.iter().enumerate() {
            let op = match up.op.as_str() {
                "set" => Op::Set,
                "add" => Op::Add,
                "remove" => Op::Remove,
                _ => Op::Clear,
            };
            updates.push(UpdateStep {
                var: up.var,
                op,
                value: b.opt_expr(&up.value)?,
                when: b.opt_expr(&up.when)?,
            });
            for &t in &up.on {
                steps[t as usize].updates.push(i);
            }
        }
        let indexes = plan
            .indexes
            .iter()
            .map(|ix| build_index(&b, ix))
            .collect::<Result<Vec<_>, String>>()?;
        let mut index_reads = vec![false; state.len()];
        for ix in &indexes {
            for &v in &ix.reads {
                index_reads[v] = true;
            }
        }
        let sops = plan
            .sops
            .iter()
            .map(|s| Ok((s.effective, b.opt_expr(&s.applies)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let mut rules = Vec::with_capacity(plan.rules.len());
        let mut open_ended = Vec::new();
        let mut pausing = false;
        for (i, raw) in plan.rules.iter().enumerate() {
            let rule = kinds::build(&b, raw)?;
            rule.register(i as u32, &mut steps);
            if matches!(rule.kind, kinds::Kind::Declare(_)) {
                open_ended.push(i as u32);
            }
            pausing |= matches!(&rule.kind, kinds::Kind::Response(k) if k.pause.is_some());
            rules.push(rule);
        }
        for s in &mut steps {
            s.obligation_rules.sort_unstable();
            s.obligation_rules.dedup();
        }
        let columns = plan
            .columns
            .iter()
            .map(|(n, e)| Ok((Str::from(n.as_str()), b.opt_expr(e)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let vocab = crate::vocab::Vocabulary::build(&plan.event_data, &fields, &field_index)?;
        let complete_when = b.opt_expr(&plan.complete.when)?;
        Ok(Engine {
            calendars,
            complete_when,
            complete_idle: plan.complete.idle,
            vocab,
            types,
            type_index,
            undeclared,
            fields,
            field_index,
            state,
            updates,
            indexes,
            index_reads,
            sops,
            rules,
            steps,
            open_ended,
            pausing,
            columns,
        })
    }
}

fn build_index(b: &Builder, ix: &plan::Index) -> Result<IndexDef, String> {
    let attributes = ix
        .attributes
        .iter()
        .map(|(n, e)| Ok((Str::from(n.as_str()), b.expr(e)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let mut names: Vec<Str> = attributes.iter().map(|(n, _)| n.clone()).collect();
    for extra in ["case", "since"] {
        if !names.iter().any(|n| &**n == extra) {
            names.push(Str::from(extra));
        }
    }
    Ok(IndexDef {
        name: Str::from(ix.name.as_str()),
        member: b.expr(&ix.member)?,
        key: b.expr(&ix.key)?,
        attributes,
        names,
        reads: ix.reads.clone(),
    })
}

impl Engine {
    /// What the JSON Lines reader needs of this engine: its event types and the data fields it reads.
    pub fn reader_config(&self, max_line_bytes: usize) -> crate::reader::ReaderConfig {
        crate::reader::ReaderConfig {
            types: self
                .type_index
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            fields: self
                .field_index
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            undeclared: self.undeclared,
            max_line_bytes,
            ..Default::default()
        }
    }
}
