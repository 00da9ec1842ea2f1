//! One case's evaluation, event by event, in (time, input order); the loop the reference
//! evaluator (`sopengine/evaluator.py`) runs, step for step:
//!
//! 1. obligations and broken invariants whose deadline passed before the event become violations;
//! 2. open obligations are met, failed or cancelled by it;
//! 3. the rules indexed under its type are checked against the state just before it;
//! 4. precedence rules remember it as an 'after' event;
//! 5. the state updates for its type are applied;
//! 6. the case's place in each cross-case index is brought up to date;
//! 7. invariants that read the changed state are checked.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::calendar::{CalendarRef, AROUND_THE_CLOCK};
use crate::engine::{CExpr, Engine, Op, VarKind};
use crate::event::Event;
use crate::expr::{Env, Raise, Template};
use crate::findings::{
    cite, missed_deadlines, tally, Attainment, Interval, Pending, Probe, Undecided, Violation,
    MISSED, ON_TIME,
};
use crate::kinds::{invariant, precedence, response, Kind, Rule};
use crate::value::{num_cmp, Num, Str, Value};

/// Facts by collection, then record id: each record's fields.
pub type Facts = FxHashMap<String, FxHashMap<String, Vec<(String, Value)>>>;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Memory {
    After(Arc<Event>),
    /// How many events matched, and the ids of the first [`crate::findings::MAX_EVIDENCE`].
    Seen {
        count: u64,
        first: Vec<Str>,
    },
    Declare(Box<crate::kinds::declare::Trace>),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Obligation {
    pub rule: u32,
    pub trigger: Arc<Event>,
    pub key: Value,
    pub due: Option<f64>,
    pub start: f64,
    pub since: f64,
    /// Deadlines of a repeating obligation reported missed.
    pub missed: u64,
    /// Its deadline passed (reported): kept only to see whether it is met late.
    pub overdue: bool,
    /// Accountable at the deadline, once overdue.
    pub who: Option<Str>,
    /// The business calendar its deadline counted in, by index (none: every hour).
    pub calendar: Option<u32>,
    /// Its rule's pause, once its clock first stood still.
    pub pause: Option<Box<Pause>>,
}

/// The pauses of an obligation's clock (`response.Obligation`'s `paused_at`, `left`, `pauses`,
/// `pause_ids`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Pause {
    /// Since when the clock stands still (None: it runs).
    pub since: Option<f64>,
    /// The working seconds left to the deadline when it stopped.
    pub left: f64,
    /// The pauses that ended: (from, until).
    pub ended: Vec<(f64, f64)>,
    /// The events that stopped and started it.
    pub events: Vec<Str>,
}

impl Obligation {
    pub fn paused(&self) -> bool {
        self.pause.as_ref().is_some_and(|p| p.since.is_some())
    }

    /// Its trigger, the events that stopped and started its clock, then `more`.
    pub fn evidence(&self, more: Option<&Str>) -> Vec<Str> {
        let mut out = vec![self.trigger.id.clone()];
        if let Some(p) = &self.pause {
            out.extend(p.events.iter().cloned());
        }
        out.extend(more.cloned());
        out
    }

    /// Its pauses, one still standing ended at `until` (None: left standing).
    pub fn intervals(&self, until: Option<f64>) -> crate::findings::Pauses {
        let Some(p) = &self.pause else {
            return Vec::new();
        };
        let mut out: crate::findings::Pauses = p.ended.iter().map(|&(a, b)| (a, Some(b))).collect();
        if let Some(since) = p.since {
            out.push((since, until));
        }
        out
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Breach {
    pub rule: u32,
    pub since: f64,
    pub due: f64,
    pub events: Vec<Str>,
    /// Evidence ids past the listed ones.
    pub more: u64,
    pub reported: bool,
    pub event: Arc<Event>,
    /// It has a grace period: its outcome counts in the attainment.
    pub timed: bool,
    /// Accountable at the end of the grace, once reported.
    pub who: Option<Str>,
    /// The zone of the business calendar its grace counted in (none: every hour).
    pub zone: Option<Str>,
}

/// The evolving evaluation of one case (serialisable: an idle case can be spilled to disk; cloned: a
/// copy takes events that are not yet the session's, `Session::preview`).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct CaseRun {
    pub case: Str,
    pub state: Vec<Value>,
    /// Per state variable that is not a set: the id of the event that last set it.
    pub prov: Vec<Option<Str>>,
    /// Per set variable with items (few): each item with the id of the event that added it.
    prov_items: Vec<(usize, Vec<(Value, Str)>)>,
    pub obligations: Vec<Obligation>,
    pub breaches: Vec<Breach>,
    memory: Vec<(u32, Memory)>,
    pub violations: Vec<Violation>,
    pub undecided: Vec<Undecided>,
    pub intervals: Vec<Interval>,
    pub probes: Vec<Probe>,
    /// Per index: (key, attributes, the open interval's place in `intervals`).
    pub membership: Vec<Option<(Value, Vec<Value>, usize)>>,
    /// The time of its first event: when the case was created.
    pub first: f64,
    pub last: (f64, u64),
    /// Per rule that was checked: times it held (or was met).
    pub passed: Vec<(u32, u64)>,
    /// How its obligations with a deadline ended (`findings::ON_TIME`...).
    pub outcomes: Attainment,
}

impl CaseRun {
    pub fn new(case: Str, engine: &Engine) -> CaseRun {
        CaseRun {
            case,
            state: engine.state.iter().map(|v| v.initial.clone()).collect(),
            prov: vec![None; engine.state.len()],
            prov_items: Vec::new(),
            obligations: Vec::new(),
            breaches: Vec::new(),
            memory: Vec::new(),
            violations: Vec::new(),
            undecided: Vec::new(),
            intervals: Vec::new(),
            probes: Vec::new(),
            membership: vec![None; engine.indexes.len()],
            first: f64::NAN,
            last: (f64::NEG_INFINITY, 0),
            passed: Vec::new(),
            outcomes: Attainment::default(),
        }
    }

    /// The outcomes of its obligations and breaches with a deadline, with each overdue one still
    /// unmet or unrestored counted missed (`sopengine.evaluator.Evaluator.settled`).
    pub fn settled(&self) -> Attainment {
        let mut out = self.outcomes.clone();
        for ob in self.obligations.iter().filter(|ob| ob.overdue) {
            if let Some(due) = ob.due {
                tally(&mut out, ob.rule, due, ob.who.clone(), MISSED);
            }
        }
        for b in self.breaches.iter().filter(|b| b.timed && b.reported) {
            tally(&mut out, b.rule, b.due, b.who.clone(), MISSED);
        }
        out
    }

    fn take_items(&mut self, var: usize) -> Vec<(Value, Str)> {
        match self.prov_items.iter().position(|(v, _)| *v == var) {
            Some(at) => self.prov_items.swap_remove(at).1,
            None => Vec::new(),
        }
    }

    fn set_items(&mut self, var: usize, items: Vec<(Value, Str)>) {
        if !items.is_empty() {
            self.prov_items.push((var, items));
        }
    }

    pub fn memory(&self, rule: u32) -> Option<&Memory> {
        self.memory.iter().find(|(r, _)| *r == rule).map(|(_, m)| m)
    }

    pub fn memory_mut(&mut self, rule: u32) -> Option<&mut Memory> {
        self.memory
            .iter_mut()
            .find(|(r, _)| *r == rule)
            .map(|(_, m)| m)
    }

    /// A rule's memory, taken out to be worked on (put back with [`CaseRun::set_memory`]).
    pub fn take_memory(&mut self, rule: u32) -> Option<Memory> {
        let at = self.memory.iter().position(|(r, _)| *r == rule)?;
        Some(self.memory.swap_remove(at).1)
    }

    pub fn set_memory(&mut self, rule: u32, memory: Memory) {
        match self.memory_mut(rule) {
            Some(slot) => *slot = memory,
            None => self.memory.push((rule, memory)),
        }
    }
}

/// A state value as a probe keeps it (a set is frozen).
pub fn snapshot(v: &Value) -> Value {
    match v {
        Value::Set(items) => Value::FrozenSet(items.clone()),
        other => other.clone(),
    }
}

/// The state an expression sees: a case's whole state, or a probe's kept part of it.
#[derive(Clone, Copy)]
pub enum StateView<'a> {
    Full(&'a [Value]),
    Kept(&'a [(usize, Value)]),
}

static NONE: Value = Value::None;

/// Everything an expression may read at one evaluation.
pub struct Scope<'a> {
    pub engine: &'a Engine,
    pub facts: &'a Facts,
    pub vars: &'a [(Str, Value)],
    pub event: Option<&'a Event>,
    pub trigger: Option<&'a Event>,
    pub state: StateView<'a>,
    /// A cross-case index member's attributes: their names, and its values in that order.
    pub other: Option<(&'a [Str], &'a [Value])>,
}

impl Env for Scope<'_> {
    fn event(&self) -> Option<&Event> {
        self.event
    }
    fn trigger(&self) -> Option<&Event> {
        self.trigger
    }
    fn type_name(&self, etype: u32) -> &str {
        &self.engine.types[etype as usize]
    }
    fn type_str(&self, etype: u32) -> Str {
        self.engine.types[etype as usize].clone()
    }
    fn state(&self, var: usize) -> &Value {
        match self.state {
            StateView::Full(s) => &s[var],
            StateView::Kept(kept) => kept
                .iter()
                .find(|(v, _)| *v == var)
                .map(|(_, x)| x)
                .unwrap_or(&NONE),
        }
    }
    fn other(&self, attr: &str) -> Option<&Value> {
        let (names, values) = self.other?;
        names.iter().position(|k| &**k == attr).map(|i| &values[i])
    }
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }
    fn fact(&self, collection: &str, id: &Value, field: &str) -> Result<Value, Raise> {
        let Some(records) = self.facts.get(collection) else {
            return Err(Raise::MissingFact(format!(
                "no '{collection}' facts were given (--facts)"
            )));
        };
        if matches!(id, Value::None) {
            return Err(Raise::MissingFact(format!(
                "no id to look up in '{collection}' facts"
            )));
        }
        let record = match id {
            Value::Str(s) => records.get(&**s),
            _ => None,
        };
        let Some(record) = record else {
            return Err(Raise::MissingFact(format!(
                "'{}' is not in the '{collection}' facts",
                id.py_str()
            )));
        };
        match record.iter().find(|(k, _)| k == field) {
            Some((_, v)) if !matches!(v, Value::None) => Ok(v.clone()),
            _ => Err(Raise::MissingFact(format!(
                "'{collection}' fact '{}' has no '{field}'",
                id.py_str()
            ))),
        }
    }
    fn known(&self, collection: &str, id: &Value) -> bool {
        match (self.facts.get(collection), id) {
            (Some(records), Value::Str(s)) => !records.is_empty() && records.contains_key(&**s),
            _ => false,
        }
    }
}

/// What a runner keeps between events: run-time variables and buffers reused at every event.
#[derive(Default)]
pub struct Scratch {
    vars: Vec<(Str, Value)>,
    /// Per SOP slot: its applicability at the current event, once asked.
    applies: Vec<Option<bool>>,
    /// The state variables the current event changed.
    changed: Vec<usize>,
}

/// Runs cases through an engine with one set of facts.
pub struct Runner<'e> {
    pub engine: &'e Engine,
    pub facts: &'e Facts,
    vars: Vec<(Str, Value)>,
    applies: Vec<Option<bool>>,
    changed: Vec<usize>,
}

impl<'e> Runner<'e> {
    pub fn new(engine: &'e Engine, facts: &'e Facts) -> Runner<'e> {
        Runner::with_vars(engine, facts, Scratch::default())
    }

    /// A runner that goes on with the run-time variables (and buffers) of an earlier one.
    pub fn with_vars(engine: &'e Engine, facts: &'e Facts, scratch: Scratch) -> Runner<'e> {
        let Scratch {
            vars,
            mut applies,
            changed,
        } = scratch;
        applies.resize(engine.sops.len(), None);
        Runner {
            engine,
            facts,
            vars,
            applies,
            changed,
        }
    }

    pub fn into_vars(self) -> Scratch {
        Scratch {
            vars: self.vars,
            applies: self.applies,
            changed: self.changed,
        }
    }

    pub fn set_var(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().find(|(k, _)| &**k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((Str::from(name), value)),
        }
    }

    /// The deadline a response rule's message and action read as `due` (`response.DUE`).
    fn set_due(&mut self, due: Option<f64>) {
        self.set_var("due", due.map_or(Value::None, Value::Float));
    }

    /// `since` plus each span (None: no such time) counted in a rule's calendar (none: every
    /// hour), with the calendar's zone; None when it cannot be, the check then undecided at `e`
    /// (`sopengine.kinds._common.counted`). The calendar is chosen only when a span needs it.
    pub fn counted<const N: usize>(
        &mut self,
        run: &mut CaseRun,
        rule: u32,
        choice: Option<&CalendarRef>,
        e: &Arc<Event>,
        since: f64,
        spans: [Option<f64>; N],
    ) -> Option<([Option<f64>; N], Option<u32>)> {
        let plain = spans.map(|s| s.map(|s| since + s));
        let Some(choice) = choice else {
            return Some((plain, None));
        };
        if !spans.iter().any(|s| s.is_some_and(|s| s != 0.0)) {
            return Some((plain, None));
        }
        let engine = self.engine;
        let index = match choice {
            CalendarRef::Named(i) => *i,
            CalendarRef::Expr(expr) => {
                let reason = match self.value(run, expr, Some(e), None) {
                    Ok(Value::Str(name)) if &*name == AROUND_THE_CLOCK => {
                        return Some((plain, None))
                    }
                    Ok(Value::Str(name)) => {
                        match engine.calendars.iter().position(|c| c.name == name) {
                            Some(found) => Ok(found),
                            None => {
                                let mut names: Vec<&str> =
                                    engine.calendars.iter().map(|c| &*c.name).collect();
                                names.push(AROUND_THE_CLOCK);
                                Err(format!(
                                    "calendar '{name}' is not declared (calendars: {})",
                                    names.join(", ")
                                ))
                            }
                        }
                    }
                    Ok(other) => Err(format!(
                        "calendar {} gave {}, not the name of a calendar",
                        expr.repr,
                        other.type_name()
                    )),
                    Err(Raise::MissingFact(reason)) => Err(reason),
                    Err(Raise::Error { class, message }) => Err(format!(
                        "calendar {} could not be evaluated: {class}: {message}",
                        expr.repr
                    )),
                };
                match reason {
                    Ok(found) => found,
                    Err(reason) => {
                        self.undecided(run, rule, Some(e), reason);
                        return None;
                    }
                }
            }
        };
        let calendar = &engine.calendars[index];
        let out = spans.map(|s| s.map(|s| calendar.add(since, s)));
        if out.iter().any(|t| matches!(t, Some(None))) {
            self.undecided(run, rule, Some(e), calendar.outside(since));
            return None;
        }
        Some((out.map(Option::flatten), Some(index as u32)))
    }

    fn scope<'a>(
        &'a self,
        run: &'a CaseRun,
        event: Option<&'a Event>,
        trigger: Option<&'a Event>,
    ) -> Scope<'a> {
        Scope {
            engine: self.engine,
            facts: self.facts,
            vars: &self.vars,
            event,
            trigger,
            state: StateView::Full(&run.state),
            other: None,
        }
    }

    pub fn value(
        &self,
        run: &CaseRun,
        expr: &CExpr,
        event: Option<&Event>,
        trigger: Option<&Event>,
    ) -> Result<Value, Raise> {
        expr.expr.eval(&self.scope(run, event, trigger))
    }

    /// Whether an expression holds, a failure counting as not (no undecided check is recorded).
    pub fn quietly(
        &self,
        run: &CaseRun,
        expr: &CExpr,
        event: Option<&Event>,
        trigger: Option<&Event>,
    ) -> bool {
        expr.expr
            .truth(&self.scope(run, event, trigger))
            .unwrap_or(false)
    }

    pub fn render(
        &self,
        run: &CaseRun,
        t: &Template,
        event: Option<&Event>,
        trigger: Option<&Event>,
    ) -> String {
        t.render(&self.scope(run, event, trigger))
    }

    /// True/False, or None when undecided (recorded once per rule, case and reason).
    pub fn test(
        &mut self,
        run: &mut CaseRun,
        rule: u32,
        expr: Option<&CExpr>,
        event: Option<&Arc<Event>>,
        trigger: Option<&Event>,
    ) -> Option<bool> {
        let Some(expr) = expr else { return Some(true) };
        let ev = event.map(|e| &**e);
        match expr.expr.truth(&self.scope(run, ev, trigger)) {
            Ok(v) => Some(v),
            Err(Raise::MissingFact(reason)) => {
                self.undecided(run, rule, event, reason);
                None
            }
            Err(Raise::Error { class, message }) => {
                let reason = format!(
                    "condition {} could not be evaluated: {class}: {message}",
                    expr.repr
                );
                self.undecided(run, rule, event, reason);
                None
            }
        }
    }

    pub fn undecided(
        &self,
        run: &mut CaseRun,
        rule: u32,
        event: Option<&Arc<Event>>,
        reason: String,
    ) {
        if run
            .undecided
            .iter()
            .any(|u| u.rule == rule && u.reason == reason)
        {
            return;
        }
        run.undecided.push(Undecided {
            rule,
            case: run.case.clone(),
            event: event.map(|e| e.id.clone()),
            reason,
        });
    }

    /// The rule's SOP applies to this case at this event: its version is in force (at the case's
    /// creation, or at the event), then its `applies_when` holds (one answer per SOP and event).
    pub fn applies(&mut self, run: &mut CaseRun, idx: u32, rule: &Rule, e: &Arc<Event>) -> bool {
        let Some(slot) = rule.applies else {
            return true;
        };
        let engine = self.engine;
        let (effective, applies) = &engine.sops[slot];
        if let Some(eff) = effective {
            if !eff.covers(if eff.at_event { e.time } else { run.first }) {
                return false;
            }
        }
        if let Some(cached) = self.applies[slot] {
            return cached;
        }
        let answer = self.test(run, idx, applies.as_ref(), Some(e), None) == Some(true);
        self.applies[slot] = Some(answer);
        answer
    }

    /// The SOP applies and the rule's `when` holds.
    pub fn gate(
        &mut self,
        run: &mut CaseRun,
        idx: u32,
        rule: &Rule,
        when: Option<&CExpr>,
        e: &Arc<Event>,
    ) -> bool {
        (rule.applies.is_none() || self.applies(run, idx, rule, e))
            && (when.is_none() || self.test(run, idx, when, Some(e), None) == Some(true))
    }

    pub fn held(run: &mut CaseRun, rule: u32) {
        match run.passed.iter_mut().find(|(r, _)| *r == rule) {
            Some(slot) => slot.1 += 1,
            None => run.passed.push((rule, 1)),
        }
    }

    /// Record a violation citing `events` (bounded by [`cite`]; `more`: ids already left out of them).
    pub fn violate(
        &self,
        run: &mut CaseRun,
        rule: u32,
        time: f64,
        message: String,
        events: Vec<Str>,
        more: u64,
    ) {
        self.violate_paused(run, rule, time, message, events, more, Vec::new());
    }

    /// [`Runner::violate`], of an obligation whose clock stood still (`pauses`).
    #[allow(clippy::too_many_arguments)]
    pub fn violate_paused(
        &self,
        run: &mut CaseRun,
        rule: u32,
        time: f64,
        message: String,
        events: Vec<Str>,
        more: u64,
        pauses: crate::findings::Pauses,
    ) {
        let (events, left_out) = cite(events);
        let accountable = self.accountable(run, rule);
        push_tight(
            &mut run.violations,
            Violation {
                rule,
                case: run.case.clone(),
                time,
                message,
                events,
                more_events: left_out + more,
                accountable,
                pauses,
            },
        );
    }

    /// Who the case's state now names accountable for a rule: text, else None (nothing declared,
    /// the expression failed, or it gave no text). The state now is the state in force when a
    /// finding arises: a deadline is found passed at the first event after it, before that event
    /// changes anything (`sopengine.evaluator.Evaluator.accountable`).
    pub fn accountable(&self, run: &CaseRun, rule: u32) -> Option<Str> {
        let expr = self.engine.rules[rule as usize].accountable.as_ref()?;
        match self.value(run, expr, None, None) {
            Ok(Value::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Ids of the events that set the state an expression read.
    pub fn evidence(run: &CaseRun, expr: Option<&CExpr>) -> Vec<Str> {
        let mut out = Vec::new();
        for &var in expr.map(|e| e.refs.as_slice()).unwrap_or(&[]) {
            if let Some(id) = &run.prov[var] {
                out.push(id.clone());
            }
            if let Some((_, items)) = run.prov_items.iter().find(|(v, _)| *v == var) {
                out.extend(items.iter().map(|(_, id)| id.clone()));
            }
        }
        out
    }

    /// Evaluate one event of a case (a case's events must come in (time, seq) order).
    pub fn step(&mut self, run: &mut CaseRun, e: &Arc<Event>) {
        let engine = self.engine;
        let steps = &engine.steps[e.etype as usize];
        let t = e.time;
        if run.first.is_nan() {
            run.first = t;
        }
        self.applies.iter_mut().for_each(|a| *a = None);
        if !run.obligations.is_empty() || !run.breaches.is_empty() {
            self.expire(run, t);
            if !run.obligations.is_empty() && !steps.obligation_rules.is_empty() {
                self.resolve(run, e, &steps.obligation_rules);
            }
        }
        for &idx in &steps.checks {
            engine.rules[idx as usize].check(self, run, idx, e);
        }
        for &idx in &steps.recorders {
            let rule = &engine.rules[idx as usize];
            if let Kind::Precedence(k) = &rule.kind {
                precedence::record(self, run, idx, rule, k, e);
            }
        }
        let mut changed = std::mem::take(&mut self.changed);
        changed.clear();
        if !steps.updates.is_empty() {
            self.update(run, e, &steps.updates, &mut changed);
        }
        if !changed.is_empty() && changed.iter().any(|&v| engine.index_reads[v]) {
            self.index(run, e, &changed);
        }
        if engine.pausing && !run.obligations.is_empty() {
            response::pause_clocks(self, run, e);
        }
        if !steps.invariants.is_empty() {
            self.applies.iter_mut().for_each(|a| *a = None); // invariants see the state after the event
            for &idx in &steps.invariants {
                let rule = &engine.rules[idx as usize];
                if let Kind::Invariant(k) = &rule.kind {
                    if changed.iter().any(|v| k.reads.contains(v))
                        || k.explicit_on.binary_search(&e.etype).is_ok()
                    {
                        invariant::check(self, run, idx, rule, k, e);
                    }
                }
            }
        }
        self.changed = changed;
        run.last = (t, e.seq);
    }

    fn expire(&mut self, run: &mut CaseRun, t: f64) {
        let engine = self.engine;
        let mut obligations = std::mem::take(&mut run.obligations);
        obligations.retain_mut(|ob| {
            let rule = &engine.rules[ob.rule as usize];
            let Kind::Response(k) = &rule.kind else {
                return false;
            };
            let Some(due) = ob.due.filter(|&due| due < t && !ob.overdue && !ob.paused()) else {
                return true;
            };
            self.set_due(ob.due);
            let message = self.render(run, &rule.message, None, Some(&ob.trigger));
            let Some(every) = k.every else {
                let pauses = ob.intervals(Some(due));
                self.violate_paused(run, ob.rule, due, message, ob.evidence(None), 0, pauses);
                ob.overdue = true; // kept: a later meeting is late
                ob.who = run.violations.last().and_then(|v| v.accountable.clone());
                return true;
            };
            // a missed period: the next starts at the deadline
            let accountable = self.accountable(run, ob.rule);
            let (next, missed) =
                missed_deadlines(ob.missed, due, every, t, &message, |time, text| {
                    tally(
                        &mut run.outcomes,
                        ob.rule,
                        time,
                        accountable.clone(),
                        MISSED,
                    );
                    push_tight(
                        &mut run.violations,
                        Violation {
                            rule: ob.rule,
                            case: run.case.clone(),
                            time,
                            message: text,
                            events: vec![ob.trigger.id.clone()],
                            more_events: 0,
                            accountable: accountable.clone(),
                            pauses: Vec::new(), // a repeating obligation does not pause
                        },
                    )
                });
            (ob.due, ob.missed) = (Some(next), missed);
            true
        });
        run.obligations = keep(obligations);
        for i in 0..run.breaches.len() {
            let b = &run.breaches[i];
            if b.reported || b.due >= t {
                continue;
            }
            let rule = &engine.rules[b.rule as usize];
            let (event, due, events, more, idx) =
                (b.event.clone(), b.due, b.events.clone(), b.more, b.rule);
            let message = self.render(run, &rule.message, Some(&event), None);
            self.violate(run, idx, due, message, events, more);
            run.breaches[i].reported = true;
            run.breaches[i].who = run.violations.last().and_then(|v| v.accountable.clone());
        }
    }

    fn resolve(&mut self, run: &mut CaseRun, e: &Arc<Event>, rules: &[u32]) {
        let engine = self.engine;
        // The obligations are taken out while this runs: conditions never read them.
        let mut obligations = std::mem::take(&mut run.obligations);
        obligations.retain_mut(|ob| {
            if rules.binary_search(&ob.rule).is_err() {
                return true;
            }
            let rule = &engine.rules[ob.rule as usize];
            let Kind::Response(k) = &rule.kind else {
                return false;
            };
            if ob.overdue {
                let ended = response::overdue_outcome(self, run, k, &ob.trigger, e);
                if let (Some(outcome), Some(due)) = (ended, ob.due) {
                    tally(&mut run.outcomes, ob.rule, due, ob.who.clone(), outcome);
                }
                return ended.is_none();
            }
            match response::outcome(self, run, ob.rule, k, &ob.trigger, e) {
                response::Outcome::Met => {
                    Runner::held(run, ob.rule);
                    if let Some(due) = ob.due {
                        let who = self.accountable(run, ob.rule);
                        tally(&mut run.outcomes, ob.rule, due, who, ON_TIME);
                    }
                    match k.every {
                        Some(every) => {
                            ob.due = Some(e.time + every); // recurring: the next period starts now
                            true
                        }
                        None => false,
                    }
                }
                response::Outcome::Failed => {
                    self.set_due(ob.due);
                    let message = self.render(run, &rule.message, Some(e), Some(&ob.trigger));
                    let pauses = ob.intervals(Some(e.time));
                    let evidence = ob.evidence(Some(&e.id));
                    self.violate_paused(run, ob.rule, e.time, message, evidence, 0, pauses);
                    if let Some(due) = ob.due {
                        let who = run.violations.last().and_then(|v| v.accountable.clone());
                        tally(&mut run.outcomes, ob.rule, due, who, MISSED);
                    }
                    false
                }
                response::Outcome::Open => true,
                response::Outcome::Cancelled | response::Outcome::Undecided => false,
            }
        });
        run.obligations = keep(obligations);
    }

    /// Apply the event's state updates; the variables whose value changed.
    fn update(
        &mut self,
        run: &mut CaseRun,
        e: &Arc<Event>,
        updates: &[usize],
        changed: &mut Vec<usize>,
    ) {
        let engine = self.engine;
        let mark = |changed: &mut Vec<usize>, v: usize| {
            if !changed.contains(&v) {
                changed.push(v);
            }
        };
        for &u in updates {
            let up = &engine.updates[u];
            if let Some(when) = &up.when {
                match when.expr.truth(&self.scope(run, Some(e), None)) {
                    Ok(true) => {}
                    _ => continue, // an update that cannot be computed does not happen
                }
            }
            let var = up.var;
            let kind = engine.state[var].kind;
            if up.op == Op::Clear {
                let fresh = engine.state[var].initial.clone();
                if !run.state[var].py_eq(&fresh) {
                    run.state[var] = fresh;
                    mark(changed, var);
                }
                run.prov[var] = None;
                run.take_items(var);
                continue;
            }
            let Some(expr) = &up.value else { continue };
            let Ok(value) = self.value(run, expr, Some(e), None) else {
                continue;
            };
            match (up.op, kind) {
                (Op::Set, VarKind::Set) => {
                    let mut items: Vec<Value> = Vec::new();
                    for item in value.items() {
                        let item = item.freeze();
                        if !items.iter().any(|x| x.py_eq(&item)) {
                            items.push(item);
                        }
                    }
                    let prov = items.iter().map(|i| (i.clone(), e.id.clone())).collect();
                    let new = Value::Set(Arc::new(items));
                    if !run.state[var].py_eq(&new) {
                        run.state[var] = new;
                        mark(changed, var);
                    }
                    run.take_items(var);
                    run.set_items(var, prov);
                }
                (Op::Set, _) => {
                    let value = match value {
                        Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Dict(_) => {
                            value.freeze()
                        }
                        other => other,
                    };
                    if !run.state[var].py_eq(&value) {
                        run.state[var] = value;
                        mark(changed, var);
                    }
                    run.prov[var] = Some(e.id.clone());
                }
                (op @ (Op::Add | Op::Remove), VarKind::Set) => {
                    let mut items: Arc<Vec<Value>> =
                        match std::mem::replace(&mut run.state[var], Value::None) {
                            Value::Set(items) => items,
                            _ => Arc::new(Vec::new()),
                        };
                    let mut prov = run.take_items(var);
                    let mut touched = false;
                    for item in value.items() {
                        let item = item.freeze();
                        let at = items.iter().position(|x| x.py_eq(&item));
                        if op == Op::Add {
                            if at.is_none() {
                                Arc::make_mut(&mut items).push(item.clone());
                                touched = true;
                            }
                            match prov.iter_mut().find(|(k, _)| k.py_eq(&item)) {
                                Some(slot) => slot.1 = e.id.clone(),
                                None => prov.push((item, e.id.clone())),
                            }
                        } else if let Some(i) = at {
                            Arc::make_mut(&mut items).remove(i);
                            prov.retain(|(k, _)| !k.py_eq(&item));
                            touched = true;
                        }
                    }
                    run.state[var] = Value::Set(items);
                    if touched {
                        mark(changed, var);
                    }
                    run.set_items(var, prov);
                }
                (Op::Add, _) => {
                    let number = matches!(value, Value::Int(_) | Value::Big(_) | Value::Float(_));
                    if number {
                        if value.truthy() {
                            let current = if run.state[var].truthy() {
                                run.state[var].clone()
                            } else {
                                Value::Int(0)
                            };
                            if let Ok(sum) = crate::ops::add(&current, &value) {
                                run.state[var] = sum;
                                mark(changed, var);
                            }
                        }
                        run.prov[var] = Some(e.id.clone());
                    }
                }
                _ => {}
            }
        }
    }

    /// Bring the case's membership of each index that reads changed state up to date.
    fn index(&mut self, run: &mut CaseRun, e: &Arc<Event>, changed: &[usize]) {
        let engine = self.engine;
        let at = (e.time, e.seq);
        for (i, ix) in engine.indexes.iter().enumerate() {
            if !ix.reads.iter().any(|v| changed.contains(v)) {
                continue;
            }
            let computed: Result<Option<(Value, Vec<Value>)>, Raise> = (|| {
                if !ix.member.expr.truth(&self.scope(run, Some(e), None))? {
                    return Ok(None);
                }
                let key = self.value(run, &ix.key, Some(e), None)?.freeze();
                let mut attrs = Vec::with_capacity(ix.attributes.len());
                for (_, x) in &ix.attributes {
                    attrs.push(self.value(run, x, Some(e), None)?.freeze());
                }
                Ok(Some((key, attrs)))
            })();
            let member = computed.unwrap_or(None); // a case whose key cannot be computed is not in the index
            let prev = run.membership[i].take();
            if let (Some((pk, pa, _)), Some((k, a))) = (&prev, &member) {
                if pk.py_eq(k) && pa.len() == a.len() && pa.iter().zip(a).all(|(x, y)| x.py_eq(y)) {
                    run.membership[i] = prev;
                    continue;
                }
            }
            if let Some((_, _, place)) = &prev {
                run.intervals[*place].until = Some(at);
            }
            let Some((key, attrs)) = member else { continue };
            let since_at = ix.place("since").expect("every index has since");
            let since = match &prev {
                Some((pk, _, at)) if pk.py_eq(&key) => run.intervals[*at].attrs[since_at].clone(),
                _ => Value::Float(e.time),
            };
            // dict(attrs, case=..., since=...): a declared `case` or `since` takes the new value in place
            let mut full: Vec<Value> = attrs.clone();
            full.resize(ix.names.len(), Value::None);
            full[ix.place("case").expect("every index has case")] = Value::Str(run.case.clone());
            full[since_at] = since;
            push_tight(
                &mut run.intervals,
                Interval {
                    index: i as u32,
                    key: key.clone(),
                    case: run.case.clone(),
                    from: at,
                    until: None,
                    attrs: Arc::new(full),
                    event: e.id.clone(),
                },
            );
            run.membership[i] = Some((key, attrs, run.intervals.len() - 1));
        }
    }

    fn columns(&self, run: &CaseRun) -> Vec<Value> {
        self.engine
            .columns
            .iter()
            .map(|(_, expr)| match expr {
                Some(x) => match self.value(run, x, None, None) {
                    Ok(Value::Set(items)) | Ok(Value::FrozenSet(items)) => sorted_list(&items),
                    Ok(v) => v,
                    Err(_) => Value::None, // a column is informative; a failure leaves it empty
                },
                None => Value::None,
            })
            .collect()
    }

    /// Whether the case has ended for a rule's pending items, and after how long without events: the rule's
    /// `complete`, else the pack's (`pack`).
    fn ended_for(
        &mut self,
        run: &CaseRun,
        rule: u32,
        pack: (bool, Option<f64>),
    ) -> (bool, Option<f64>) {
        match &self.engine.rules[rule as usize].complete {
            None => pack,
            Some(c) => (
                c.when
                    .as_ref()
                    .is_some_and(|x| self.value(run, x, None, None).is_ok_and(|v| v.truthy())),
                c.idle,
            ),
        }
    }

    /// What is still open after the case's last event.
    pub fn pending(&mut self, run: &CaseRun) -> Vec<Pending> {
        let engine = self.engine;
        let mut out = Vec::new();
        let waiting: Vec<_> = engine
            .open_ended
            .iter()
            .filter_map(|&idx| {
                let Kind::Declare(k) = &engine.rules[idx as usize].kind else {
                    return None;
                };
                let waits = crate::kinds::declare::waits(k, run.memory(idx));
                (!waits.is_empty()).then_some((idx, k, waits))
            })
            .collect();
        let open = !run.obligations.is_empty() || !run.breaches.is_empty() || !waiting.is_empty();
        let columns = Arc::new(if !engine.columns.is_empty() && open {
            self.columns(run)
        } else {
            Vec::new()
        });
        // When the pack says when a case has ended (`Evaluator._ended`): an unknown answer leaves it open.
        let pack_ended = engine
            .complete_when
            .as_ref()
            .is_some_and(|x| open && self.value(run, x, None, None).is_ok_and(|v| v.truthy()));
        let pack_end = (pack_ended, engine.complete_idle);
        for ob in run.obligations.iter().filter(|ob| !ob.overdue) {
            let (ended, idle) = self.ended_for(run, ob.rule, pack_end);
            let rule = &engine.rules[ob.rule as usize];
            let Kind::Response(k) = &rule.kind else {
                continue;
            };
            self.set_due(ob.due);
            let (events, more_events) = cite(ob.evidence(None));
            out.push(Pending {
                rule: ob.rule,
                case: run.case.clone(),
                action: k
                    .action
                    .as_ref()
                    .map(|a| self.render(run, a, None, Some(&ob.trigger)))
                    .unwrap_or_default(),
                message: self.render(run, &rule.message, None, Some(&ob.trigger)),
                since: ob.since,
                start: ob.start,
                due: ob.due,
                every: k.every,
                events,
                columns: columns.clone(),
                more_events,
                missed: ob.missed,
                accountable: self.accountable(run, ob.rule),
                attained: ob.due.is_some(),
                last: run.last.0,
                ended,
                idle,
                zone: ob
                    .calendar
                    .map(|i| engine.calendars[i as usize].zone.clone()),
                pauses: ob.intervals(None),
            });
        }
        for b in run.breaches.iter().filter(|b| !b.reported) {
            let (ended, idle) = self.ended_for(run, b.rule, pack_end);
            let rule = &engine.rules[b.rule as usize];
            let Kind::Invariant(k) = &rule.kind else {
                continue;
            };
            out.push(Pending {
                rule: b.rule,
                case: run.case.clone(),
                action: k
                    .action
                    .as_ref()
                    .map(|a| self.render(run, a, Some(&b.event), None))
                    .unwrap_or_default(),
                message: self.render(run, &rule.message, Some(&b.event), None),
                since: b.since,
                start: b.since,
                due: Some(b.due),
                every: None,
                events: b.events.clone(),
                columns: columns.clone(),
                more_events: b.more,
                missed: 0,
                accountable: self.accountable(run, b.rule),
                attained: b.timed,
                last: run.last.0,
                ended,
                idle,
                zone: b.zone.clone(),
                pauses: Vec::new(),
            });
        }
        for (idx, k, waits) in waiting {
            let (ended, idle) = self.ended_for(run, idx, pack_end);
            let rule = &engine.rules[idx as usize];
            for (subject, events, due) in waits {
                let message = self.render(run, &rule.message, Some(&subject), None);
                out.push(Pending {
                    rule: idx,
                    case: run.case.clone(),
                    action: match &k.action {
                        Some(a) => self.render(run, a, Some(&subject), None),
                        None => message.clone(),
                    },
                    message,
                    since: subject.time,
                    start: subject.time,
                    due,
                    every: None,
                    events,
                    columns: columns.clone(),
                    more_events: 0,
                    missed: 0,
                    accountable: self.accountable(run, idx),
                    attained: false,
                    last: run.last.0,
                    ended,
                    idle,
                    zone: None,
                    pauses: Vec::new(),
                });
            }
        }
        out
    }
}

/// Push onto a per-case list, growing a short one by exactly one: most cases keep one or two
/// intervals, probes or violations, and a doubling list would hold room for four.
pub fn push_tight<T>(list: &mut Vec<T>, item: T) {
    if list.len() == list.capacity() && list.len() < 8 {
        list.reserve_exact(1);
    }
    list.push(item);
}

/// A list after removals: an empty one gives its memory back (most cases end with nothing open).
pub fn keep<T>(list: Vec<T>) -> Vec<T> {
    if list.is_empty() {
        Vec::new()
    } else {
        list
    }
}

/// Python's `sorted(a_set)` as a list (items compared with `<`; the rare incomparable pair keeps its order).
/// A set shown in a worklist column as a list, in `_column_order` of the evaluator: numbers first (bools
/// count as 0 and 1), ascending, then every other value by its text and then its type's name. A total
/// order whatever the set holds (texts and numbers both, NaN), unlike Python's `<`.
fn sorted_list(items: &[Value]) -> Value {
    let number = |v: &Value| {
        v.num()
            .filter(|n| !matches!(n, Num::Float(f) if f.is_nan()))
    };
    let mut out = items.to_vec();
    out.sort_by(|a, b| match (number(a), number(b)) {
        (Some(x), Some(y)) => num_cmp(x, y).unwrap_or(std::cmp::Ordering::Equal),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a
            .py_str()
            .cmp(&b.py_str())
            .then_with(|| a.type_name().cmp(b.type_name())),
    });
    Value::List(Arc::new(out))
}
