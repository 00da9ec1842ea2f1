//! What the evaluator finds: values, made once and merged across workers; rendered only at output.

use std::sync::Arc;

use crate::value::{Str, Value};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    pub rule: u32,
    pub case: Str,
    pub time: f64,
    pub message: String,
    pub events: Vec<Str>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Undecided {
    pub rule: u32,
    pub case: Str,
    pub event: Option<Str>,
    pub reason: String,
}

/// An obligation or a broken invariant still open after a case's last event; judged at the as-of time.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub rule: u32,
    pub case: Str,
    pub action: String,
    pub message: String,
    pub since: f64,
    pub start: f64,
    pub due: Option<f64>,
    pub every: Option<f64>,
    pub events: Vec<Str>,
    /// The pack's worklist columns from the case's last state.
    pub columns: Arc<Vec<Value>>,
}

/// Where an event stands among all cases' events: time, then case, then input order.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub time: f64,
    pub case: Str,
    pub seq: u64,
}

impl Ord for Position {
    fn cmp(&self, other: &Position) -> std::cmp::Ordering {
        self.time
            .total_cmp(&other.time)
            .then_with(|| self.case.cmp(&other.case))
            .then_with(|| self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Position) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Position {
    fn eq(&self, other: &Position) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Position {}

/// A case's membership of a cross-case index under one key with one set of attributes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub index: u32,
    pub key: Value,
    pub case: Str,
    pub start: Position,
    pub end: Option<Position>,
    /// The index attributes, then `case` and `since`.
    pub attrs: Arc<Vec<(Str, Value)>>,
    pub event: Str,
}

/// A cross-case rule's question, asked at an event, answered once every case is known.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub rule: u32,
    pub index: u32,
    pub event: Arc<crate::event::Event>,
    /// The state variables its match and message read: (variable, value).
    pub state: Vec<(usize, Value)>,
    pub key: Value,
}

/// Everything a session found before the as-of judgement and the cross-case join; partials merge,
/// also across processes ([`Partial::to_bytes`]).
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    pub events: u64,
    pub cases: u64,
    pub latest: Option<f64>,
    pub violations: Vec<Violation>,
    pub pending: Vec<Pending>,
    pub undecided: Vec<Undecided>,
    pub intervals: Vec<Interval>,
    pub probes: Vec<Probe>,
    /// Per rule: checks that held or obligations met.
    pub passed: Vec<u64>,
}

impl Partial {
    /// The partial as bytes another process reads back with [`Partial::from_bytes`] (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a partial always encodes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Partial, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("not a partial result of this core: {e}"))
    }

    pub fn absorb(&mut self, other: Partial) {
        self.events += other.events;
        self.cases += other.cases;
        if let Some(t) = other.latest {
            if self.latest.is_none_or(|l| t > l) {
                self.latest = Some(t);
            }
        }
        self.violations.extend(other.violations);
        self.pending.extend(other.pending);
        self.undecided.extend(other.undecided);
        self.intervals.extend(other.intervals);
        self.probes.extend(other.probes);
        if self.passed.len() < other.passed.len() {
            self.passed.resize(other.passed.len(), 0);
        }
        for (i, n) in other.passed.into_iter().enumerate() {
            self.passed[i] += n;
        }
    }
}
