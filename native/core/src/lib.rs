//! sopengine's evaluation core.
//!
//! Python loads, checks and compiles a pack into a *plan* (plain data, see
//! docs/plan-format.md); this crate executes the plan over event logs: decoding,
//! per-case state, every rule kind, deadlines, the cross-case join, and the
//! findings. It knows no domain: every name comes from the plan.

pub mod event;
pub mod expr;
pub mod funcs;
pub mod ops;
pub mod pyfmt;
pub mod tv;
pub mod value;

/// The version of the plan format this core executes; a plan of another version is refused.
pub const PLAN_VERSION: u32 = 1;
