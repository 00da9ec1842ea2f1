//! The rule kinds: one module each (its fields, how it is built from the plan, what it does at an
//! event), listed in the one enum below that dispatches. Adding a kind is a module here, a variant,
//! and its lines in `build`, `register` and `check`.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::engine::{field, Builder, TypeSteps};
use crate::event::Event;
use crate::expr::Template;
use crate::run::{CaseRun, Runner};
use crate::value::Str;

pub mod at_most;
pub mod cross_case;
pub mod declare;
pub mod forbid;
pub mod guard;
pub mod invariant;
pub mod precedence;
pub mod require_fields;
pub mod response;

/// What every rule has, and its kind.
pub struct Rule {
    pub id: Str,
    pub severity: Str,
    /// The SOP's applicability slot (rules of a SOP share one answer per event).
    pub applies: Option<usize>,
    pub message: Template,
    /// Who answers for its findings: the rule's expression, else the pack's (over the case's state).
    pub accountable: Option<crate::engine::CExpr>,
    /// When a case has ended for this rule (its `complete`), else None: the pack's.
    pub complete: Option<Completion>,
    pub kind: Kind,
}

/// A rule's `complete`: a condition over the case's state after its last event, a time without events.
pub struct Completion {
    pub when: Option<crate::engine::CExpr>,
    pub idle: Option<f64>,
}

pub enum Kind {
    Guard(guard::Guard),
    Forbid(forbid::Forbid),
    RequireFields(require_fields::RequireFields),
    Precedence(precedence::Precedence),
    AtMost(at_most::AtMost),
    Response(response::Response),
    Invariant(invariant::Invariant),
    CrossCase(cross_case::CrossCase),
    Declare(declare::Declare),
}

pub fn build(b: &Builder, raw: &Json) -> Result<Rule, String> {
    let id: String = field(raw, "id")?;
    let kind_name: String = field(raw, "kind")?;
    let kind = match kind_name.as_str() {
        "guard" => Kind::Guard(guard::build(b, raw)?),
        "forbid" => Kind::Forbid(forbid::build(b, raw)?),
        "require_fields" => Kind::RequireFields(require_fields::build(b, raw)?),
        "precedence" => Kind::Precedence(precedence::build(b, raw)?),
        "at_most" => Kind::AtMost(at_most::build(b, raw)?),
        "response" => Kind::Response(response::build(b, raw)?),
        "invariant" => Kind::Invariant(invariant::build(b, raw)?),
        "cross_case" => Kind::CrossCase(cross_case::build(b, raw)?),
        "declare" => Kind::Declare(declare::build(b, raw)?),
        other => return Err(format!("rule {id}: unknown kind '{other}'")),
    };
    let severity: String = field(raw, "severity")?;
    Ok(Rule {
        id: Str::from(id.as_str()),
        severity: Str::from(severity.as_str()),
        applies: field(raw, "applies")?,
        message: b.template(raw.get("message").unwrap_or(&Json::Null))?,
        accountable: b.opt_expr(&field(raw, "accountable")?)?,
        complete: match field::<Option<crate::plan::Complete>>(raw, "complete")? {
            None => None,
            Some(c) => Some(Completion {
                when: b.opt_expr(&c.when)?,
                idle: c.idle,
            }),
        },
        kind,
    })
}

/// The event types a plain check runs at, with its condition.
pub fn on_when(
    b: &Builder,
    raw: &Json,
) -> Result<(Vec<u32>, Option<crate::engine::CExpr>), String> {
    let mut on: Vec<u32> = field(raw, "on")?;
    on.sort_unstable();
    Ok((on, b.opt_expr(&field(raw, "when")?)?))
}

impl Rule {
    /// Enter the rule in the steps of the event types it acts on.
    pub fn register(&self, idx: u32, steps: &mut [TypeSteps]) {
        let checks = |on: &[u32], steps: &mut [TypeSteps]| {
            for &t in on {
                steps[t as usize].checks.push(idx);
            }
        };
        match &self.kind {
            Kind::Guard(k) => checks(&k.on, steps),
            Kind::Forbid(k) => checks(&k.on, steps),
            Kind::RequireFields(k) => checks(&k.on, steps),
            Kind::AtMost(k) => checks(&k.on, steps),
            Kind::CrossCase(k) => checks(&k.on, steps),
            Kind::Precedence(k) => {
                checks(&k.on, steps);
                for &t in &k.after.on {
                    steps[t as usize].recorders.push(idx);
                }
            }
            Kind::Response(k) => {
                for m in std::iter::once(&k.expect)
                    .chain(&k.cancel)
                    .chain(&k.fail_on)
                {
                    for &t in &m.on {
                        steps[t as usize].obligation_rules.push(idx);
                    }
                }
                checks(&k.after.on, steps);
            }
            Kind::Invariant(k) => {
                for &t in &k.on {
                    steps[t as usize].invariants.push(idx);
                }
            }
            Kind::Declare(k) => {
                if k.shape.every_event() {
                    steps.iter_mut().for_each(|s| s.checks.push(idx));
                } else {
                    let mut on = k.activation.on.clone();
                    on.extend(k.target.iter().flat_map(|t| t.on.iter().copied()));
                    on.sort_unstable();
                    on.dedup();
                    checks(&on, steps);
                }
            }
        }
    }

    /// Check the rule at an event, against the state just before it.
    pub fn check(&self, r: &mut Runner, run: &mut CaseRun, idx: u32, e: &Arc<Event>) {
        match &self.kind {
            Kind::Guard(k) => guard::check(r, run, idx, self, k, e),
            Kind::Forbid(k) => forbid::check(r, run, idx, self, k, e),
            Kind::RequireFields(k) => require_fields::check(r, run, idx, self, k, e),
            Kind::Precedence(k) => precedence::check(r, run, idx, self, k, e),
            Kind::AtMost(k) => at_most::check(r, run, idx, self, k, e),
            Kind::Response(k) => response::trigger(r, run, idx, self, k, e),
            Kind::CrossCase(k) => cross_case::probe(r, run, idx, self, k, e),
            Kind::Declare(k) => declare::check(r, run, idx, self, k, e),
            Kind::Invariant(_) => {}
        }
    }
}
