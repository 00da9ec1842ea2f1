//! JSON values (serde_json, keys in document order) as the reference engine's values.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::value::{Str, Value};

/// A decoded JSON value as Python's json/orjson would give it: objects → dict, arrays → list.
pub fn to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => crate::value::from_json_number(n),
        Json::String(s) => Value::Str(Str::from(s.as_str())),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(to_value).collect())),
        Json::Object(map) => Value::Dict(Arc::new(
            map.iter()
                .map(|(k, v)| (Str::from(k.as_str()), to_value(v)))
                .collect(),
        )),
    }
}

/// An event's data object: the fields some expression reads (by index), not-filled ones left out.
pub fn data_fields(json: &Json, index: &dyn Fn(&str) -> Option<u32>) -> Vec<(u32, Value)> {
    let mut out = Vec::new();
    if let Json::Object(map) = json {
        for (k, v) in map {
            if v.is_null() || v.as_str() == Some("") {
                continue;
            }
            if let Some(i) = index(k) {
                out.push((i, to_value(v)));
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}
