//! The expression language: expressions of the plan, built once, evaluated per event.
//! See docs/plan-format.md for the operations and the Python semantics they follow.

use crate::event::Event;
use crate::value::Value;

/// What an evaluation raised, as the reference engine would report it.
#[derive(Clone, Debug, PartialEq)]
pub enum Raise {
    /// A fact a condition needs is missing: the check is undecided with this reason.
    MissingFact(String),
    /// Any other failure: the Python exception class name and its message.
    Error {
        class: &'static str,
        message: String,
    },
}

/// What an expression may read besides constants.
pub trait Env {
    fn event(&self) -> Option<&Event>;
    fn trigger(&self) -> Option<&Event>;
    /// The name of an event type (for `event.type`).
    fn type_name(&self, etype: u32) -> &str;
    /// `state[var]`.
    fn state(&self, var: usize) -> &Value;
    /// `other.get(attr)` of a cross-case index member.
    fn other(&self, attr: &str) -> Option<&Value>;
    /// A run-time variable (`missing`, `count`).
    fn var(&self, name: &str) -> Option<&Value>;
    /// `fact(collection, id, field)` with the reference engine's reasons when missing.
    fn fact(&self, collection: &str, id: &Value, field: &str) -> Result<Value, Raise>;
    fn known(&self, collection: &str, id: &Value) -> bool;
}

// ---- STUB: replaced by the native-expr branch (Expr, Template, BuildCtx) ----
pub struct BuildCtx<'a> {
    pub data_field: &'a dyn Fn(&str) -> Option<u32>,
}
pub struct Expr;
impl Expr {
    pub fn build(_json: &serde_json::Value, _ctx: &BuildCtx) -> Result<Expr, String> {
        Err("stub".into())
    }
    pub fn eval(&self, _env: &dyn Env) -> Result<Value, Raise> {
        Ok(Value::None)
    }
}
pub struct Template;
impl Template {
    pub fn build(_json: &serde_json::Value, _ctx: &BuildCtx) -> Result<Template, String> {
        Err("stub".into())
    }
    pub fn render(&self, _env: &dyn Env) -> String {
        String::new()
    }
}
