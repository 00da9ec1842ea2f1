//! Typed values (TV) of the plan: JSON that keeps the Python type of a constant (docs/plan-format.md).

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use crate::value::{unique, Value};

/// A value from its typed-value JSON.
pub fn decode(j: &Json) -> Result<Value, String> {
    Ok(match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => crate::value::from_json_number(n),
        Json::String(s) => Value::str(s),
        Json::Array(_) => return Err(format!("a bare JSON array is not a typed value: {j}")),
        Json::Object(m) => decode_tagged(m)?,
    })
}

fn decode_tagged(m: &Map<String, Json>) -> Result<Value, String> {
    let (tag, body) = match m.iter().next() {
        Some(pair) if m.len() == 1 => pair,
        _ => {
            return Err(format!(
                "a typed value has one key: {}",
                Json::Object(m.clone())
            ))
        }
    };
    let items = || -> Result<Vec<Value>, String> {
        body.as_array()
            .ok_or_else(|| format!("{tag}: expected a list"))?
            .iter()
            .map(decode)
            .collect()
    };
    Ok(match tag.as_str() {
        "float" => Value::Float(match body.as_str() {
            Some("inf") => f64::INFINITY,
            Some("-inf") => f64::NEG_INFINITY,
            Some("nan") => f64::NAN,
            _ => return Err(format!("bad float {body}")),
        }),
        "tuple" => Value::Tuple(Arc::new(items()?)),
        "list" => Value::List(Arc::new(items()?)),
        "set" => Value::Set(Arc::new(unique(items()?).map_err(|e| format!("{e:?}"))?)),
        "frozenset" => Value::FrozenSet(Arc::new(unique(items()?).map_err(|e| format!("{e:?}"))?)),
        "dict" => {
            let mut pairs: Vec<(Arc<str>, Value)> = Vec::new();
            for pair in body.as_array().ok_or("dict: expected a list of pairs")? {
                let (k, v) = match pair.as_array().map(Vec::as_slice) {
                    Some([Json::String(k), v]) => (k, v),
                    _ => return Err(format!("dict: bad pair {pair}")),
                };
                if !pairs.iter().any(|(seen, _)| &**seen == k.as_str()) {
                    pairs.push((Arc::from(k.as_str()), decode(v)?));
                }
            }
            Value::Dict(Arc::new(pairs))
        }
        _ => return Err(format!("unknown typed value {tag:?}")),
    })
}

/// The typed-value JSON of a value (sets in their display order).
pub fn encode(v: &Value) -> Json {
    let seq = |items: &[Value]| Json::Array(items.iter().map(encode).collect());
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Big(i) => match (i64::try_from(**i), u64::try_from(**i)) {
            (Ok(s), _) => json!(s),
            (_, Ok(u)) => json!(u),
            // beyond JSON's integers in serde_json: the digits, tagged
            _ => json!({ "int": i.to_string() }),
        },
        Value::Float(f) if f.is_finite() => json!(f),
        Value::Float(f) => {
            json!({ "float": if f.is_nan() { "nan" } else if *f > 0.0 { "inf" } else { "-inf" } })
        }
        Value::Str(s) => json!(&**s),
        Value::List(items) => json!({ "list": seq(items) }),
        Value::Tuple(items) => json!({ "tuple": seq(items) }),
        Value::Set(items) => json!({ "set": seq(items) }),
        Value::FrozenSet(items) => json!({ "frozenset": seq(items) }),
        Value::Dict(pairs) => {
            json!({ "dict": pairs.iter().map(|(k, v)| json!([&**k, encode(v)])).collect::<Vec<_>>() })
        }
    }
}
