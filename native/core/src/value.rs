//! Values as the reference (Python) engine holds them, so that every operation
//! can give the same result, and fail with the same message, as CPython does.
//!
//! The variants keep the Python types apart where Python tells them apart in
//! results or messages: `list` (from JSON) and `tuple` (literals, frozen state),
//! `set` (state sets, set literals) and `frozenset`, `int` and `float`.

use std::sync::Arc;

/// Shared, immutable text.
pub type Str = Arc<str>;

#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A Python int outside i64 (JSON integers up to u64, sums of them).
    Big(Arc<i128>),
    Float(f64),
    Str(Str),
    List(Arc<Vec<Value>>),
    Tuple(Arc<Vec<Value>>),
    /// Items unique under Python equality, in insertion order.
    Set(Arc<Vec<Value>>),
    FrozenSet(Arc<Vec<Value>>),
    /// A JSON object: keys are text, in the order first seen; a repeated key keeps its first place.
    Dict(Arc<Vec<(Str, Value)>>),
}

// ---- STUB: replaced by the native-expr branch ----
impl Value {
    pub fn truthy(&self) -> bool {
        false
    }
    pub fn py_eq(&self, _other: &Value) -> bool {
        false
    }
    pub fn py_str(&self) -> String {
        String::new()
    }
}
pub fn from_tv(_json: &serde_json::Value) -> Result<Value, String> {
    Ok(Value::None)
}
pub fn freeze(v: &Value) -> Value {
    v.clone()
}
pub fn as_items(_v: &Value) -> Vec<Value> {
    Vec::new()
}
pub fn py_add(a: &Value, _b: &Value) -> Result<Value, crate::expr::Raise> {
    Ok(a.clone())
}
pub fn sorted_list(items: &[Value]) -> Value {
    Value::List(Arc::new(items.to_vec()))
}
