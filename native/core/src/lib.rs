//! sopengine's evaluation core.
//!
//! Python loads, checks and compiles a pack into a *plan* (plain data, see
//! docs/plan-format.md); this crate executes the plan over event logs: decoding,
//! per-case state, every rule kind, deadlines, the cross-case join, and the
//! findings. It knows no domain: every name comes from the plan.

pub mod calendar;
pub mod csv;
pub mod engine;
pub mod event;
pub mod expr;
pub mod findings;
pub mod funcs;
pub mod join;
pub mod json;
pub mod kinds;
pub mod ops;
pub mod plan;
pub mod pyfmt;
pub mod pytext;
pub mod reader;
pub mod run;
pub mod session;
pub mod spill;
pub mod time;
pub mod tv;
pub mod value;
pub mod vocab;
pub mod xes;

/// The version of the plan format this core executes; a plan of another version is refused.
pub const PLAN_VERSION: u32 = 6;
