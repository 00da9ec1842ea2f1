//! `declare`: a Declare template over a case's events, with MP-Declare conditions (`activation.when`,
//! `target.when` seeing the activation) and time windows; the parts each template is made of are those
//! of `sopengine/kinds/declare.py`, step for step.

use std::sync::Arc;

use serde_json::Value as Json;

use super::Rule;
use crate::engine::{field, Builder, CMatch};
use crate::event::Event;
use crate::expr::Template;
use crate::findings::MAX_EVIDENCE;
use crate::plan::MatchSlot;
use crate::run::{CaseRun, Memory, Runner};
use crate::value::Str;

/// Where a partner must stand relative to the event that needs it (for `never`: the target to the activation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Later,
    Earlier,
    Anywhere,
    Next,
    Prev,
}

/// A template as parts.
#[derive(Clone, Copy, Default)]
pub struct Shape {
    pub at_least: bool,
    /// At most `n + at_most` activations.
    pub at_most: Option<i64>,
    pub init: bool,
    pub last: bool,
    pub forward: Option<Place>,
    pub backward: Option<Place>,
    pub alternate: bool,
    pub never: Option<Place>,
}

impl Shape {
    #[rustfmt::skip] // a table: one template per line
    fn of(template: &str) -> Option<Shape> {
        use Place::*;
        let s = Shape::default();
        Some(match template {
            "existence" => Shape { at_least: true, ..s },
            "absence" => Shape { at_most: Some(-1), ..s },
            "exactly" => Shape { at_least: true, at_most: Some(0), ..s },
            "init" => Shape { init: true, ..s },
            "last" => Shape { last: true, ..s },
            "responded_existence" => Shape { forward: Some(Anywhere), ..s },
            "coexistence" => Shape { forward: Some(Anywhere), backward: Some(Anywhere), ..s },
            "response" => Shape { forward: Some(Later), ..s },
            "precedence" => Shape { forward: Some(Earlier), ..s },
            "succession" => Shape { forward: Some(Later), backward: Some(Earlier), ..s },
            "alternate_response" => Shape { forward: Some(Later), alternate: true, ..s },
            "alternate_precedence" => Shape { forward: Some(Earlier), alternate: true, ..s },
            "alternate_succession" => Shape {
                forward: Some(Later),
                backward: Some(Earlier),
                alternate: true,
                ..s
            },
            "chain_response" => Shape { forward: Some(Next), ..s },
            "chain_precedence" => Shape { forward: Some(Prev), ..s },
            "chain_succession" => Shape { forward: Some(Next), backward: Some(Prev), ..s },
            "not_coexistence" => Shape { never: Some(Anywhere), ..s },
            "not_succession" => Shape { never: Some(Later), ..s },
            "not_chain_succession" => Shape { never: Some(Next), ..s },
            _ => return None,
        })
    }

    fn counts(&self) -> bool {
        self.at_least || self.at_most.is_some()
    }

    /// Its step runs at every event of a case (it reads the first, the last or the previous one).
    pub fn every_event(&self) -> bool {
        self.at_least
            || self.init
            || self.last
            || self.forward == Some(Place::Next)
            || self.never == Some(Place::Next)
            || self.forward == Some(Place::Prev)
            || self.backward == Some(Place::Prev)
    }
}

pub struct Declare {
    pub shape: Shape,
    pub activation: CMatch,
    pub target: Option<CMatch>,
    pub n: i64,
    pub min: f64,
    pub max: Option<f64>,
    pub action: Option<Template>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<Declare, String> {
    let template: String = field(raw, "template")?;
    let shape =
        Shape::of(&template).ok_or_else(|| format!("unknown Declare template '{template}'"))?;
    let target: Option<MatchSlot> = field(raw, "target")?;
    let action = match raw.get("action") {
        Some(Json::Null) | None => None,
        Some(t) => Some(b.template(t)?),
    };
    Ok(Declare {
        shape,
        activation: b.matcher(&field(raw, "activation")?)?,
        target: target.map(|t| b.matcher(&t)).transpose()?,
        n: field(raw, "n")?,
        min: field(raw, "min")?,
        max: field(raw, "max")?,
        action,
    })
}

/// What a declare rule keeps of a case.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Trace {
    /// Activations so far, and the ids of the first `MAX_EVIDENCE`.
    count: u64,
    first: Vec<Str>,
    /// The first event of the case the rule saw.
    seen: Arc<Event>,
    /// The event before this one, and whether it was an activation.
    prev: Option<Arc<Event>>,
    prev_act: bool,
    /// Activations a target may still need; targets an activation may still need.
    acts: Vec<Arc<Event>>,
    tgts: Vec<Arc<Event>>,
    /// Activations still waiting for a target; targets still waiting for an activation.
    wait_fwd: Vec<Arc<Event>>,
    wait_bwd: Vec<Arc<Event>>,
}

/// The rule at hand: what its parts need to check an event.
struct At<'a> {
    idx: u32,
    rule: &'a Rule,
    k: &'a Declare,
    e: &'a Arc<Event>,
    is_act: bool,
    is_tgt: bool,
}

pub fn check(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &Declare,
    e: &Arc<Event>,
) {
    if rule.applies.is_some() && !r.applies(run, idx, rule, e) {
        return;
    }
    let (mut trace, first) = match run.take_memory(idx) {
        Some(Memory::Declare(t)) => (t, false),
        _ => (
            Box::new(Trace {
                count: 0,
                first: Vec::new(),
                seen: e.clone(),
                prev: None,
                prev_act: false,
                acts: Vec::new(),
                tgts: Vec::new(),
                wait_fwd: Vec::new(),
                wait_bwd: Vec::new(),
            }),
            true,
        ),
    };
    let is_act = k.activation.covers(e.etype)
        && r.test(run, idx, k.activation.when.as_ref(), Some(e), None) == Some(true);
    let is_tgt = k.target.as_ref().is_some_and(|t| t.covers(e.etype));
    let at = At {
        idx,
        rule,
        k,
        e,
        is_act,
        is_tgt,
    };
    let sh = k.shape;
    if k.max.is_some() && (!trace.wait_fwd.is_empty() || !trace.wait_bwd.is_empty()) {
        expire(r, run, &at, &mut trace);
    }
    if sh.counts() && is_act {
        count(r, run, &at, &mut trace);
    }
    if sh.init && first {
        if is_act {
            Runner::held(run, idx);
        } else {
            violate(r, run, &at, e, vec![e.id.clone()], None, 0);
        }
    }
    if let Some(place) = sh.forward {
        forward(r, run, &at, &mut trace, place);
    }
    if let Some(place) = sh.backward {
        backward(r, run, &at, &mut trace, place);
    }
    if let Some(place) = sh.never {
        never(r, run, &at, &mut trace, place);
    }
    trace.prev = Some(e.clone());
    trace.prev_act = is_act;
    run.set_memory(idx, Memory::Declare(trace));
}

fn violate(
    r: &mut Runner,
    run: &mut CaseRun,
    at: &At,
    subject: &Event,
    ids: Vec<Str>,
    time: Option<f64>,
    more: u64,
) {
    let message = r.render(run, &at.rule.message, Some(subject), None);
    r.violate(
        run,
        at.idx,
        time.unwrap_or(subject.time),
        message,
        ids,
        more,
    );
}

/// Whether an activation and a target correlate: the window, then the target's condition.
fn pairs(r: &mut Runner, run: &mut CaseRun, at: &At, act: &Arc<Event>, tgt: &Arc<Event>) -> bool {
    let gap = (tgt.time - act.time).abs();
    if gap < at.k.min || at.k.max.is_some_and(|m| gap > m) {
        return false;
    }
    let when = at.k.target.as_ref().and_then(|t| t.when.as_ref());
    r.test(run, at.idx, when, Some(tgt), Some(act)) == Some(true)
}

/// The latest of `events` that pairs with the event at hand (`as_act`: it is the activation).
fn find(
    r: &mut Runner,
    run: &mut CaseRun,
    at: &At,
    events: &[Arc<Event>],
    as_act: bool,
) -> Option<Arc<Event>> {
    events.iter().rev().find_map(|x| {
        let hit = if as_act {
            pairs(r, run, at, at.e, x)
        } else {
            pairs(r, run, at, x, at.e)
        };
        hit.then(|| x.clone())
    })
}

/// Those of `waiting` the event at hand does not meet (each met one held).
fn unmet(
    r: &mut Runner,
    run: &mut CaseRun,
    at: &At,
    waiting: Vec<Arc<Event>>,
    as_act: bool,
) -> Vec<Arc<Event>> {
    let mut keep = Vec::new();
    for x in waiting {
        let met = if as_act {
            pairs(r, run, at, at.e, &x)
        } else {
            pairs(r, run, at, &x, at.e)
        };
        if met {
            Runner::held(run, at.idx);
        } else {
            keep.push(x);
        }
    }
    keep
}

/// What waits past `window.max` can no longer be met: a violation at its deadline.
fn expire(r: &mut Runner, run: &mut CaseRun, at: &At, trace: &mut Trace) {
    let Some(max) = at.k.max else { return };
    for list in [&mut trace.wait_fwd, &mut trace.wait_bwd] {
        let mut keep = Vec::new();
        for x in std::mem::take(list) {
            if x.time + max < at.e.time {
                violate(r, run, at, &x, vec![x.id.clone()], Some(x.time + max), 0);
            } else {
                keep.push(x);
            }
        }
        *list = keep;
    }
}

/// An activation counted: past the most allowed, a violation citing it and the first ones (as at_most).
fn count(r: &mut Runner, run: &mut CaseRun, at: &At, trace: &mut Trace) {
    trace.count += 1;
    let e = at.e;
    match at.k.shape.at_most {
        Some(most) if trace.count as i64 > at.k.n + most => {
            let mut cited = vec![e.id.clone()];
            cited.extend(trace.first.iter().take(MAX_EVIDENCE - 1).cloned());
            let more = trace.count - cited.len() as u64;
            violate(r, run, at, e, cited, None, more);
        }
        _ => Runner::held(run, at.idx),
    }
    if trace.first.len() < MAX_EVIDENCE {
        trace.first.push(e.id.clone());
    }
}

/// Each activation needs a correlating target (where the template says).
fn forward(r: &mut Runner, run: &mut CaseRun, at: &At, trace: &mut Trace, place: Place) {
    let e = at.e;
    match place {
        Place::Later | Place::Anywhere => {
            if at.is_tgt && !trace.wait_fwd.is_empty() {
                let waiting = std::mem::take(&mut trace.wait_fwd);
                trace.wait_fwd = unmet(r, run, at, waiting, false);
            }
            if at.is_act {
                if place == Place::Anywhere {
                    if find(r, run, at, &trace.tgts, true).is_some() {
                        Runner::held(run, at.idx);
                    } else {
                        trace.wait_fwd.push(e.clone());
                    }
                } else {
                    if at.k.shape.alternate {
                        for a in std::mem::take(&mut trace.wait_fwd) {
                            violate(
                                r,
                                run,
                                at,
                                &a,
                                vec![a.id.clone(), e.id.clone()],
                                Some(e.time),
                                0,
                            );
                        }
                    }
                    trace.wait_fwd.push(e.clone());
                }
            }
            if at.is_tgt && place == Place::Anywhere {
                trace.tgts.push(e.clone());
            }
        }
        Place::Earlier => earlier(r, run, at, at.is_act, at.is_tgt, &mut trace.tgts, true),
        Place::Next => {
            if let Some(a) = trace.wait_fwd.pop() {
                if at.is_tgt && pairs(r, run, at, &a, e) {
                    Runner::held(run, at.idx);
                } else {
                    violate(
                        r,
                        run,
                        at,
                        &a,
                        vec![a.id.clone(), e.id.clone()],
                        Some(e.time),
                        0,
                    );
                }
            }
            if at.is_act {
                trace.wait_fwd.push(e.clone());
            }
        }
        Place::Prev => {
            if at.is_act {
                let prev = trace.prev.clone();
                let target = at.k.target.as_ref();
                let ok = prev.as_ref().is_some_and(|p| {
                    target.is_some_and(|t| t.covers(p.etype)) && pairs(r, run, at, e, p)
                });
                if ok {
                    Runner::held(run, at.idx);
                } else {
                    violate(r, run, at, e, cited(e, prev.as_ref()), None, 0);
                }
            }
        }
    }
}

fn cited(e: &Event, partner: Option<&Arc<Event>>) -> Vec<Str> {
    let mut ids = vec![e.id.clone()];
    ids.extend(partner.map(|p| p.id.clone()));
    ids
}

/// Each target needs a correlating activation (where the template says).
fn backward(r: &mut Runner, run: &mut CaseRun, at: &At, trace: &mut Trace, place: Place) {
    let e = at.e;
    match place {
        Place::Anywhere => {
            if at.is_act && !trace.wait_bwd.is_empty() {
                let waiting = std::mem::take(&mut trace.wait_bwd);
                trace.wait_bwd = unmet(r, run, at, waiting, true);
            }
            if at.is_tgt {
                if find(r, run, at, &trace.acts, false).is_some() {
                    Runner::held(run, at.idx);
                } else {
                    trace.wait_bwd.push(e.clone());
                }
            }
            if at.is_act {
                trace.acts.push(e.clone());
            }
        }
        Place::Earlier => earlier(r, run, at, at.is_tgt, at.is_act, &mut trace.acts, false),
        _ => {
            // Prev
            if at.is_tgt {
                let prev = trace.prev.clone();
                let ok = trace.prev_act && prev.as_ref().is_some_and(|p| pairs(r, run, at, p, e));
                if ok {
                    Runner::held(run, at.idx);
                } else {
                    violate(r, run, at, e, cited(e, prev.as_ref()), None, 0);
                }
            }
        }
    }
}

/// The event at hand needs an earlier partner among `partners` (alternate: since the last one that
/// needed one), then is one itself; `as_act`: it is the activation (forward), else the target (backward).
fn earlier(
    r: &mut Runner,
    run: &mut CaseRun,
    at: &At,
    needs: bool,
    offers: bool,
    partners: &mut Vec<Arc<Event>>,
    as_act: bool,
) {
    let e = at.e;
    if needs {
        if find(r, run, at, partners, as_act).is_some() {
            Runner::held(run, at.idx);
        } else {
            violate(r, run, at, e, vec![e.id.clone()], None, 0);
        }
        if at.k.shape.alternate {
            partners.clear();
        }
    }
    if offers {
        partners.push(e.clone());
    }
}

/// No activation and target correlate (where the template says); one violation per event at most.
fn never(r: &mut Runner, run: &mut CaseRun, at: &At, trace: &mut Trace, place: Place) {
    let e = at.e;
    if place == Place::Next {
        if at.is_tgt {
            let prev = trace.prev.clone();
            match prev.filter(|p| trace.prev_act && pairs(r, run, at, p, e)) {
                Some(p) => violate(r, run, at, e, vec![e.id.clone(), p.id.clone()], None, 0),
                None => Runner::held(run, at.idx),
            }
        }
        return;
    }
    let mut partner = None;
    if at.is_tgt {
        partner = find(r, run, at, &trace.acts, false);
    }
    if partner.is_none() && at.is_act && place == Place::Anywhere {
        partner = find(r, run, at, &trace.tgts, true);
    }
    if let Some(p) = partner {
        violate(r, run, at, e, vec![e.id.clone(), p.id.clone()], None, 0);
    } else if at.is_tgt || (at.is_act && place == Place::Anywhere) {
        Runner::held(run, at.idx);
    }
    if at.is_act {
        trace.acts.push(e.clone());
    }
    if at.is_tgt && place == Place::Anywhere {
        trace.tgts.push(e.clone());
    }
}

/// What the rule waits for after the case's events so far: (the event it is about, evidence, deadline).
pub fn waits(k: &Declare, memory: Option<&Memory>) -> Vec<(Arc<Event>, Vec<Str>, Option<f64>)> {
    let Some(Memory::Declare(trace)) = memory else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if k.shape.at_least && (trace.count as i64) < k.n {
        let ids = if trace.first.is_empty() {
            vec![trace.seen.id.clone()]
        } else {
            trace.first.clone()
        };
        out.push((trace.seen.clone(), ids, None));
    }
    if k.shape.last {
        if let Some(p) = trace.prev.as_ref().filter(|_| !trace.prev_act) {
            out.push((p.clone(), vec![p.id.clone()], None));
        }
    }
    for x in trace.wait_fwd.iter().chain(&trace.wait_bwd) {
        out.push((x.clone(), vec![x.id.clone()], k.max.map(|m| x.time + m)));
    }
    out
}
