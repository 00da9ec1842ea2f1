//! One audit in progress: events in, partial results out, judged at an as-of time.
//!
//! Events of a case are evaluated as they arrive when they arrive in time order; an event older
//! than one already evaluated for its case makes that case *dirty*: it is evaluated again from the
//! start, in order, before results are given. A session that keeps events replays a dirty case
//! from them; one that does not (reading files, where memory must not grow with the log) names its
//! dirty cases, and the caller reads their events again and hands them to [`Session::replay`].
//!
//! Memory is bounded by the cases in play: past a limit of resident cases, the least recently
//! touched quarter is spilled to a temporary file ([`crate::spill`]) and brought back if an event
//! of one arrives, or when results are assembled.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::engine::Engine;
use crate::event::Event;
use crate::findings::{
    tally, Attainment, Packed, Partial, Pending, Undecided, Violation, MISSED, OPEN,
};
use crate::join::JoinInput;
use crate::run::{CaseRun, Facts, Runner, Scratch};
use crate::spill::Spill;
use crate::value::Str;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct CaseSlot {
    run: CaseRun,
    /// The case's events, kept only by a session that keeps events.
    events: Vec<Arc<Event>>,
    dirty: bool,
    /// Hashes of the case's event ids, to refuse a duplicate (64 bits: a collision within one case
    /// would take billions of events).
    ids: IdSet,
    /// The session's event count when the case last took an event (the least recent is spilled first).
    touched: u64,
}

impl CaseSlot {
    fn new(case: Str, engine: &Engine) -> CaseSlot {
        CaseSlot {
            run: CaseRun::new(case, engine),
            events: Vec::new(),
            dirty: false,
            ids: IdSet::Few(Vec::new()),
            touched: 0,
        }
    }

    /// Evaluate one event of this case (or, once an event came late, keep it for a replay).
    fn take(&mut self, runner: &mut Runner, event: Event, hash: u64, keep_events: bool) {
        self.ids.insert(hash);
        if !self.dirty && (event.time, event.seq) < self.run.last {
            self.dirty = true;
        }
        if self.dirty {
            if keep_events {
                self.events.push(Arc::new(event));
            }
            return;
        }
        let event = Arc::new(event);
        if keep_events {
            self.events.push(event.clone());
        }
        runner.step(&mut self.run, &event);
    }
}

/// A set of id hashes: a short list for the usual case of few events, a hash set for a long case.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum IdSet {
    Few(Vec<u64>),
    Many(FxHashSet<u64>),
}

impl IdSet {
    const FEW: usize = 32;

    fn contains(&self, hash: u64) -> bool {
        match self {
            IdSet::Few(v) => v.contains(&hash),
            IdSet::Many(s) => s.contains(&hash),
        }
    }

    fn insert(&mut self, hash: u64) {
        match self {
            IdSet::Few(v) if v.len() < IdSet::FEW => v.push(hash),
            IdSet::Few(v) => {
                let mut set: FxHashSet<u64> = v.drain(..).collect();
                set.insert(hash);
                *self = IdSet::Many(set);
            }
            IdSet::Many(s) => {
                s.insert(hash);
            }
        }
    }
}

/// Whether share `(mine, of)` evaluates the events of `case` (by a hash the same in every process).
pub fn owns_case(share: (u64, u64), case: &str) -> bool {
    share.1 == 1 || id_hash(case) % share.1 == share.0
}

fn id_hash(id: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new(); // SipHash with fixed keys: the same in every process
    h.write(id.as_bytes());
    h.finish()
}

/// Partitions of the cross-case join of a session that spilled cases (each about 1/64 of the probes
/// and intervals in memory at once).
const JOIN_PARTITIONS: usize = 64;

/// Why an event was refused (it is then a rejected record, with the reference engine's wording).
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// The case was closed (`close_case`) and cannot take more events.
    Closed,
    /// Its case already has an event with this id; the first is kept.
    Duplicate,
}

pub struct Session {
    pub engine: Arc<Engine>,
    pub facts: Arc<Facts>,
    /// Boxed: the map's table, half empty after it grows, then holds pointers, not slots.
    cases: FxHashMap<Str, Box<CaseSlot>>,
    closed_ids: FxHashSet<Str>,
    closed: Partial,
    events: u64,
    latest: Option<f64>,
    vars: Scratch,
    keep_events: bool,
    spilled: Spill<CaseSlot>,
    resident_limit: usize,
    /// Why spilling stopped (the temporary file could not be written): cases then stay in memory.
    spill_error: Option<String>,
    /// This session's share of the cases, (mine, of), when several sessions split one log.
    share: (u64, u64),
    /// Partitions of the cross-case join joined at once (threads).
    join_threads: usize,
    /// Set by [`Session::finish`]: cases are dropped as their findings are taken.
    finishing: bool,
    /// The log is finished: every case ended at its last event (`sopengine.judging.judge`).
    pub cases_complete: bool,
    /// Keep, per case and declare rule, the times the rule held (`Partial::held`): asked for Declare's
    /// per-constraint counts; else nothing per case is kept.
    pub held_by_case: bool,
}

/// A judged result: what the reference `Session.result` assembles (sorting happens at output).
pub struct Judged {
    pub as_of: Option<f64>,
    pub events: u64,
    pub cases: u64,
    pub violations: Packed,
    pub next_actions: Vec<NextAction>,
    pub work: Vec<WorkItem>,
    pub undecided: Vec<Undecided>,
    pub passed: Vec<u64>,
    /// Obligations with a deadline by (rule, week, accountable): `findings::OUTCOMES` counts.
    pub attainment: Attainment,
    /// (case, declare rule, times it held), when the session keeps them (`held_by_case`).
    pub held: Vec<(Str, u32, u64)>,
}

pub struct NextAction {
    pub pending: Arc<Pending>,
    pub due: Option<f64>,
}

pub struct WorkItem {
    pub pending: Arc<Pending>,
    pub overdue: bool,
}

impl Session {
    /// `keep_events`: keep each case's events, to replay a case an event came late for; without,
    /// the caller replays dirty cases ([`Session::dirty_cases`], [`Session::replay`]).
    pub fn new(engine: Arc<Engine>, facts: Arc<Facts>, keep_events: bool) -> Session {
        Session {
            engine,
            facts,
            cases: FxHashMap::default(),
            closed_ids: FxHashSet::default(),
            closed: Partial::default(),
            events: 0,
            latest: None,
            vars: Scratch::default(),
            keep_events,
            spilled: Spill::default(),
            resident_limit: usize::MAX,
            spill_error: None,
            share: (0, 1),
            join_threads: 1,
            finishing: false,
            cases_complete: false,
            held_by_case: false,
        }
    }

    /// Evaluate only share `mine` of `of` of the cases (each case belongs to one share, by a hash of
    /// its id the same in every process); the shares' partials merge into the whole log's result.
    pub fn set_share(&mut self, mine: u64, of: u64) {
        self.share = (mine, of.max(1));
    }

    /// Whether an event of `case` is this session's to evaluate.
    pub fn owns_case(&self, case: &str) -> bool {
        owns_case(self.share, case)
    }

    /// This session's share of the cases, (mine, of).
    pub fn share(&self) -> (u64, u64) {
        self.share
    }

    /// Whether a line with no case (rejected) is this session's to report: shared out by number.
    pub fn owns_line(&self, line: u64) -> bool {
        line % self.share.1 == self.share.0
    }

    /// Join `threads` partitions of the cross-case join at once (at least one): the session that
    /// merges `--jobs` workers' partials has their cores to itself once they are done. Each
    /// holds one partition's heads, so the join's memory grows with it.
    pub fn set_join_threads(&mut self, threads: usize) {
        self.join_threads = threads.max(1);
    }

    /// Keep at most `limit` cases in memory (at least one); the rest are spilled to disk.
    pub fn set_resident_limit(&mut self, limit: usize) {
        self.resident_limit = limit.max(1);
    }

    /// Cases spilled to disk now, the bytes written to the spill file so far, and why spilling
    /// stopped, if it did.
    pub fn spill_stats(&self) -> (usize, u64, Option<&str>) {
        (
            self.spilled.len(),
            self.spilled.written(),
            self.spill_error.as_deref(),
        )
    }

    /// Bring a spilled case back into memory.
    fn restore(&mut self, case: &str) {
        if let Some(slot) = self.spilled.take(case) {
            self.cases.insert(slot.run.case.clone(), Box::new(slot));
        }
    }

    /// Past the resident limit, spill the least recently touched quarter of the cases (a batch, so
    /// that choosing them costs O(1) per event over time).
    fn spill_idle(&mut self) {
        if self.cases.len() <= self.resident_limit {
            return;
        }
        let keep = self.resident_limit - self.resident_limit / 4;
        let mut ages: Vec<u64> = self.cases.values().map(|s| s.touched).collect();
        let spill = ages.len() - keep.max(1);
        let (_, &mut newest_spilled, _) = ages.select_nth_unstable(spill - 1);
        let idle: Vec<Str> = self
            .cases
            .iter()
            .filter(|(_, s)| s.touched <= newest_spilled)
            .map(|(case, _)| case.clone())
            .collect();
        for case in idle {
            let slot = self.cases.remove(&case).expect("listed");
            if let Err(e) = self.spilled.put(case.clone(), &slot, slot.dirty) {
                self.cases.insert(case, slot);
                self.spill_error = Some(e.to_string());
                self.resident_limit = usize::MAX;
                return;
            }
        }
    }

    /// Add one event (its `seq` must grow with input order).
    pub fn feed(&mut self, mut event: Event) -> Result<(), Refused> {
        let hash = id_hash(&event.id);
        if !self.spilled.is_empty() && !self.cases.contains_key(&event.case) {
            self.restore(&event.case);
        }
        match self.cases.get(&event.case) {
            None if self.closed_ids.contains(&event.case) => return Err(Refused::Closed),
            Some(s) if s.ids.contains(hash) => return Err(Refused::Duplicate),
            Some(s) => event.case = s.run.case.clone(), // one copy of the case id, not one per event kept
            None => {}
        }
        self.events += 1;
        if self.latest.is_none_or(|l| event.time > l) {
            self.latest = Some(event.time);
        }
        let engine = self.engine.clone();
        let slot = self
            .cases
            .entry(event.case.clone())
            .or_insert_with(|| Box::new(CaseSlot::new(event.case.clone(), &engine)));
        slot.touched = self.events;
        let mut runner = Runner::with_vars(&engine, &self.facts, std::mem::take(&mut self.vars));
        slot.take(&mut runner, event, hash, self.keep_events);
        self.vars = runner.into_vars();
        self.spill_idle();
        Ok(())
    }

    /// What `case` has open after its last event and the violations it found, as if `events` came
    /// after every event fed so far (in input order; their `seq`s only order them): a copy of the case
    /// takes them, and the session is left as it was. An id the case (or an earlier one of `events`)
    /// has is left out, as `feed` refuses it; a closed case has nothing open. Meant for a session
    /// that keeps events (a late one is then replayed in the copy).
    ///
    /// The service computes a changed case's timers and notifications from this before it commits
    /// the events, and feeds them only once they are committed.
    pub fn preview(&mut self, case: &str, events: Vec<Event>) -> (Vec<Pending>, Vec<Violation>) {
        if self.closed_ids.contains(case) {
            return (Vec::new(), Vec::new());
        }
        let engine = self.engine.clone();
        let mut slot = match self.cases.get(case) {
            Some(slot) => (**slot).clone(),
            None => self
                .spilled
                .peek(case)
                .unwrap_or_else(|| CaseSlot::new(Str::from(case), &engine)),
        };
        let mut runner = Runner::with_vars(&engine, &self.facts, std::mem::take(&mut self.vars));
        for event in events {
            let hash = id_hash(&event.id);
            if !slot.ids.contains(hash) {
                slot.take(&mut runner, event, hash, self.keep_events);
            }
        }
        self.vars = runner.into_vars();
        let found = found(
            &self.engine,
            &self.facts,
            &mut self.vars,
            false,
            &mut slot,
            Slot::Dropped,
        ); // a copy
        (found.pending, found.violations.iter().collect())
    }

    /// Cases an event came late for, that only a replay of their events can settle (sorted).
    pub fn dirty_cases(&self) -> Vec<Str> {
        if self.keep_events {
            return Vec::new();
        }
        let resident = self.cases.values().filter(|s| s.dirty).map(|s| &s.run.case);
        let spilled = self
            .spilled
            .keys()
            .filter(|(_, dirty)| *dirty)
            .map(|(c, _)| c);
        let mut out: Vec<Str> = resident.chain(spilled).cloned().collect();
        out.sort();
        out
    }

    /// Evaluate a dirty case again from the start over all its events (in any order; duplicates
    /// of an id after the first are dropped, as they were refused when first fed).
    pub fn replay(&mut self, case: &str, events: Vec<Event>) {
        let engine = self.engine.clone();
        self.restore(case);
        let Some(slot) = self.cases.get_mut(case) else {
            return;
        };
        let mut seen = FxHashSet::default();
        let mut events: Vec<Arc<Event>> = events
            .into_iter()
            .filter(|e| seen.insert(id_hash(&e.id)))
            .map(Arc::new)
            .collect();
        events.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.seq.cmp(&b.seq)));
        let mut run = CaseRun::new(slot.run.case.clone(), &engine);
        let mut runner = Runner::with_vars(&engine, &self.facts, std::mem::take(&mut self.vars));
        for e in &events {
            runner.step(&mut run, e);
        }
        self.vars = runner.into_vars();
        slot.run = run;
        slot.dirty = false;
    }

    /// Declare that a case has no more events: its state is freed, what is open is kept to judge.
    pub fn close_case(&mut self, case: &str) {
        self.restore(case);
        let Some(mut slot) = self.cases.remove(case) else {
            return;
        };
        let found = found(
            &self.engine,
            &self.facts,
            &mut self.vars,
            self.held_by_case,
            &mut slot,
            Slot::Dropped,
        );
        self.closed.absorb(found);
        self.closed.cases += 1;
        self.closed_ids.insert(Str::from(case));
    }

    /// Everything found so far, before the as-of judgement and the cross-case join.
    pub fn partial(&mut self) -> Partial {
        let mut join = JoinInput::Memory(Vec::new(), Vec::new());
        let mut out = self.partial_into(&mut join);
        if let JoinInput::Memory(probes, intervals) = join {
            (out.probes, out.intervals) = (probes, intervals);
        }
        out
    }

    /// [`Session::partial`] without its probes and intervals: those are written, partitioned by key,
    /// to files named `{prefix}{partition}`, which the session that merges this one joins from
    /// (`--jobs` workers: the parent never holds every case's probes and intervals at once).
    /// `last`: nothing follows, so each case is dropped as its findings are taken (moved, not
    /// copied; a spilled case read back once), as [`Session::finish`] does.
    pub fn partial_parts(&mut self, prefix: &Path, last: bool) -> std::io::Result<Partial> {
        self.finishing = last;
        let mut join = JoinInput::write_parts(JOIN_PARTITIONS, prefix)?;
        let out = self.partial_into(&mut join);
        join.finish()?;
        Ok(out)
    }

    /// [`Session::partial`] with the probes and intervals handed to `join` case by case (a session
    /// that spilled cases partitions them on disk, so that they are never all in memory).
    fn partial_into(&mut self, join: &mut JoinInput) -> Partial {
        let mut out = Partial {
            events: self.events,
            cases: (self.cases.len() + self.spilled.len()) as u64 + self.closed.cases,
            latest: self.latest,
            passed: vec![0; self.engine.rules.len()],
            ..Partial::default()
        };
        out.absorb(Partial {
            events: 0,
            cases: 0,
            latest: None,
            ..self.closed.clone()
        });
        join.add(
            std::mem::take(&mut out.probes),
            std::mem::take(&mut out.intervals),
        );
        let spilled = self.spilled.keys().map(|(c, _)| c);
        let mut ids: Vec<Str> = self.cases.keys().chain(spilled).cloned().collect();
        ids.sort();
        for id in ids {
            let mut found = if self.finishing {
                // The last result: each case is dropped as soon as its findings are taken.
                let mut slot = match self.cases.remove(&id) {
                    Some(slot) => *slot,
                    None => self.spilled.take(&id).expect("listed"),
                };
                found(
                    &self.engine,
                    &self.facts,
                    &mut self.vars,
                    self.held_by_case,
                    &mut slot,
                    Slot::Dropped,
                )
            } else {
                match self.cases.get_mut(&id) {
                    Some(slot) => found(
                        &self.engine,
                        &self.facts,
                        &mut self.vars,
                        self.held_by_case,
                        slot,
                        Slot::Kept,
                    ),
                    None => {
                        // A copy, dropped once its findings are taken: the case stays on disk.
                        let mut slot = self.spilled.peek(&id).expect("listed");
                        found(
                            &self.engine,
                            &self.facts,
                            &mut self.vars,
                            self.held_by_case,
                            &mut slot,
                            Slot::Dropped,
                        )
                    }
                }
            };
            join.add(
                std::mem::take(&mut found.probes),
                std::mem::take(&mut found.intervals),
            );
            out.absorb(found);
        }
        out
    }

    /// [`Session::result`] for the last time: each case's memory is freed as its findings are taken,
    /// so that the findings never sit beside every case's state.
    pub fn finish<I: IntoIterator<Item = Partial>>(
        mut self,
        as_of: Option<f64>,
        others: I,
        parts: Vec<PathBuf>,
    ) -> Judged {
        self.finishing = true;
        self.result(as_of, others, parts)
    }

    /// Findings as of `as_of` (default: the latest event time), with the partials of other sessions
    /// over other cases of the same log (taken one at a time: each can be decoded as it is needed),
    /// whose probes and intervals are in the partition files `parts` names ([`Session::partial_parts`]).
    pub fn result<I: IntoIterator<Item = Partial>>(
        &mut self,
        as_of: Option<f64>,
        others: I,
        parts: Vec<PathBuf>,
    ) -> Judged {
        let mut others = others.into_iter().peekable();
        let mut join = if self.spilled.is_empty() && others.peek().is_none() && parts.is_empty() {
            JoinInput::Memory(Vec::new(), Vec::new())
        } else {
            JoinInput::partitioned(JOIN_PARTITIONS, parts)
        };
        let mut total = self.partial_into(&mut join);
        for mut o in others {
            join.add(
                std::mem::take(&mut o.probes),
                std::mem::take(&mut o.intervals),
            );
            total.absorb(o);
        }
        let as_of = as_of.or(total.latest);
        let limit = as_of.unwrap_or(f64::INFINITY);
        let mut violations = total.violations;
        let mut next_actions = Vec::new();
        let mut work = Vec::new();
        let mut attainment = total.attainment;
        for p in total.pending {
            let p = Arc::new(p);
            let mut fresh = Vec::new();
            if p.has_ended(self.cases_complete, limit) {
                p.judge(p.last.min(limit), &mut fresh);
                let ended_open = p.every.is_none() && fresh.is_empty();
                if p.attained {
                    let missed = fresh.iter().map(|v| v.time);
                    let end = p.due.filter(|_| ended_open);
                    for when in missed.chain(end).collect::<Vec<_>>() {
                        tally(&mut attainment, p.rule, when, p.accountable.clone(), MISSED);
                    }
                }
                if ended_open {
                    fresh.push(p.at_end());
                }
                violations.extend(fresh);
                continue;
            }
            let open = p.judge(limit, &mut fresh);
            if p.attained {
                for v in &fresh {
                    tally(
                        &mut attainment,
                        p.rule,
                        v.time,
                        p.accountable.clone(),
                        MISSED,
                    );
                }
                // by its next deadline; paused: by the deadline as it stood
                let counted = if p.paused() { p.due } else { open.flatten() };
                if let Some(due) = counted.filter(|_| open.is_some()) {
                    tally(&mut attainment, p.rule, due, p.accountable.clone(), OPEN);
                }
            }
            violations.extend(fresh);
            if let Some(due) = open.filter(|_| p.start <= limit) {
                next_actions.push(NextAction {
                    pending: p.clone(),
                    due,
                });
            }
            if as_of.is_none_or(|a| p.start <= a) {
                let overdue = matches!((p.shown_due(), as_of), (Some(d), Some(a)) if d < a);
                work.push(WorkItem {
                    pending: p.clone(),
                    overdue,
                });
            }
        }
        let answers = join.join(&self.engine, &self.facts, self.join_threads);
        violations.append(answers.violations);
        let mut undecided = total.undecided;
        undecided.extend(answers.undecided);
        let mut passed = total.passed;
        for (r, n) in answers.passed {
            passed[r as usize] += n;
        }
        Judged {
            held: total.held,
            as_of,
            events: total.events,
            cases: total.cases,
            violations,
            next_actions,
            work,
            undecided,
            passed,
            attainment,
        }
    }
}

/// What becomes of a case's slot once its findings are taken.
#[derive(Clone, Copy)]
enum Slot {
    /// The case goes on: its findings are copied.
    Kept,
    /// The slot is dropped next: its findings are moved out, not copied.
    Dropped,
}

/// What a case found so far (replayed in order first when an event came late).
fn found(
    engine: &Arc<Engine>,
    facts: &Arc<Facts>,
    vars: &mut Scratch,
    held_by_case: bool,
    slot: &mut CaseSlot,
    after: Slot,
) -> Partial {
    let mut runner = Runner::with_vars(engine, facts, std::mem::take(vars));
    if slot.dirty && !slot.events.is_empty() {
        let mut run = CaseRun::new(slot.run.case.clone(), engine);
        let mut events = slot.events.clone();
        events.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.seq.cmp(&b.seq)));
        for e in &events {
            runner.step(&mut run, e);
        }
        slot.run = run;
        slot.dirty = false;
    }
    let pending = runner.pending(&slot.run);
    *vars = runner.into_vars();
    let run = &mut slot.run;
    let mut passed = vec![0; engine.rules.len()];
    for &(r, n) in &run.passed {
        passed[r as usize] += n;
    }
    let held = if held_by_case {
        let declare = |r: u32| {
            matches!(
                engine.rules[r as usize].kind,
                crate::kinds::Kind::Declare(_)
            )
        };
        run.passed
            .iter()
            .filter(|(r, _)| declare(*r))
            .map(|&(r, n)| (run.case.clone(), r, n))
            .collect()
    } else {
        Vec::new()
    };
    let (violations, undecided, intervals, probes) = match after {
        Slot::Kept => (
            run.violations.clone(),
            run.undecided.clone(),
            run.intervals.clone(),
            run.probes.clone(),
        ),
        Slot::Dropped => (
            std::mem::take(&mut run.violations),
            std::mem::take(&mut run.undecided),
            std::mem::take(&mut run.intervals),
            std::mem::take(&mut run.probes),
        ),
    };
    Partial {
        held,
        violations: violations.into(),
        pending,
        undecided,
        intervals,
        probes,
        passed,
        attainment: run.settled(),
        ..Partial::default()
    }
}
