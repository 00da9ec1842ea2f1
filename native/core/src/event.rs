//! One event of a case, decoded from a log line into the compact form the evaluator reads.

use crate::value::{Str, Value};

/// Where an event came from: the index of its input file in the session and its 1-based line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: u32,
    pub line: u64,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: Str,
    pub case: Str,
    /// Epoch seconds (UTC), as the reference engine computes them.
    pub time: f64,
    /// Index into the plan's event types (for a type the pack does not declare, in a pack whose vocabulary
    /// is open: the index all such types share, one past the declared ones).
    pub etype: u32,
    /// The type's name when the pack does not declare it (an open vocabulary), else None.
    pub undeclared: Option<Str>,
    pub actor: Option<Str>,
    /// The data fields some expression reads, by index into the plan's `data_fields`, sorted by index;
    /// absent, null and "" fields are left out ("not filled").
    pub data: Vec<(u32, Value)>,
    /// Input order across all files of an audit: a case's events with equal times keep it.
    pub seq: u64,
    pub origin: Origin,
}

impl Event {
    /// `event.data.get(field)`: None when absent.
    pub fn get(&self, field: u32) -> Option<&Value> {
        self.data
            .binary_search_by_key(&field, |(f, _)| *f)
            .ok()
            .map(|i| &self.data[i].1)
    }
}
