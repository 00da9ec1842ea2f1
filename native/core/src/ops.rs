//! The operators of the expression language with the reference's semantics: Python's `-`, unary
//! `-`/`+` and `in` (as `_in`), and the helpers `_add`, `_mul`, `_div`, `_mod` of `sopengine.expr`.

use std::sync::Arc;

use crate::expr::Raise;
use crate::pyfmt::{float_mod, int_true_div};
use crate::value::{Num, Value};

/// `MAX_INT`: the largest number an expression may compute by multiplying.
pub const MAX_INT: i128 = 1_000_000_000_000_000;
/// `MAX_JOINED`: the longest text or list `+` may build.
pub const MAX_JOINED: usize = 100_000;

fn unsupported(op: &str, a: &Value, b: &Value) -> Raise {
    Raise::type_error(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

fn int_result(r: Option<i128>) -> Result<Value, Raise> {
    r.map(Value::int)
        .ok_or_else(|| Raise::error("OverflowError", "int too large for the native core"))
}

fn float_of(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

/// `_add`: Python `+` with a limit on the length of joined text and lists.
pub fn add(a: &Value, b: &Value) -> Result<Value, Raise> {
    let joinable = |v: &Value| matches!(v, Value::Str(_) | Value::List(_) | Value::Tuple(_));
    if joinable(a) && joinable(b) {
        let n = a.py_len().unwrap_or(0) + b.py_len().unwrap_or(0);
        if n > MAX_JOINED {
            return Err(Raise::error(
                "OverflowError",
                format!("'+' would build a value of {n} items; the limit is {MAX_JOINED}"),
            ));
        }
    }
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return match (x, y) {
            (Num::Int(i), Num::Int(j)) => int_result(i.checked_add(j)),
            _ => Ok(Value::Float(float_of(x) + float_of(y))),
        };
    }
    let concat = |kind: &str| {
        Raise::type_error(format!(
            "can only concatenate {kind} (not \"{}\") to {kind}",
            b.type_name()
        ))
    };
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Str(Arc::from(format!("{x}{y}")))),
        (Value::List(x), Value::List(y)) => Ok(Value::List(Arc::new(
            x.iter().chain(y.iter()).cloned().collect(),
        ))),
        (Value::Tuple(x), Value::Tuple(y)) => Ok(Value::Tuple(Arc::new(
            x.iter().chain(y.iter()).cloned().collect(),
        ))),
        (Value::Str(_), _) => Err(concat("str")),
        (Value::List(_), _) => Err(concat("list")),
        (Value::Tuple(_), _) => Err(concat("tuple")),
        _ => Err(unsupported("+", a, b)),
    }
}

/// Python `-`: numbers, and the difference of sets (of the left operand's type).
pub fn sub(a: &Value, b: &Value) -> Result<Value, Raise> {
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return match (x, y) {
            (Num::Int(i), Num::Int(j)) => int_result(i.checked_sub(j)),
            _ => Ok(Value::Float(float_of(x) - float_of(y))),
        };
    }
    match (a, b) {
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            let rest: Vec<Value> = x
                .iter()
                .filter(|v| !y.iter().any(|w| w.py_eq(v)))
                .cloned()
                .collect();
            Ok(match a {
                Value::Set(_) => Value::Set(Arc::new(rest)),
                _ => Value::FrozenSet(Arc::new(rest)),
            })
        }
        _ => Err(unsupported("-", a, b)),
    }
}

pub fn neg(a: &Value) -> Result<Value, Raise> {
    match a.num() {
        Some(Num::Int(i)) => int_result(i.checked_neg()),
        Some(Num::Float(f)) => Ok(Value::Float(-f)),
        None => Err(Raise::type_error(format!(
            "bad operand type for unary -: '{}'",
            a.type_name()
        ))),
    }
}

pub fn pos(a: &Value) -> Result<Value, Raise> {
    match a.num() {
        Some(n) => Ok(Value::from_num(n)),
        None => Err(Raise::type_error(format!(
            "bad operand type for unary +: '{}'",
            a.type_name()
        ))),
    }
}

/// `_num`: a number that is not a bool.
pub fn number(v: &Value) -> Result<Num, Raise> {
    match (v, v.num()) {
        (Value::Bool(_), _) | (_, None) => Err(Raise::type_error(format!(
            "arithmetic needs numbers, got {}",
            v.type_name()
        ))),
        (_, Some(n)) => Ok(n),
    }
}

/// `_mul`: numbers only; an int product beyond `MAX_INT` is refused.
pub fn mul(a: &Value, b: &Value) -> Result<Value, Raise> {
    let (x, y) = (number(a)?, number(b)?);
    match (x, y) {
        (Num::Int(i), Num::Int(j)) => match i.checked_mul(j) {
            Some(r) if r.abs() <= MAX_INT => Ok(Value::int(r)),
            _ => Err(Raise::error("OverflowError", "number too large")),
        },
        _ => Ok(Value::Float(float_of(x) * float_of(y))),
    }
}

/// `_div`: true division of numbers.
pub fn div(a: &Value, b: &Value) -> Result<Value, Raise> {
    let (x, y) = (number(a)?, number(b)?);
    match (x, y) {
        (Num::Int(_), Num::Int(0)) => Err(Raise::error("ZeroDivisionError", "division by zero")),
        (Num::Int(i), Num::Int(j)) => Ok(Value::Float(int_true_div(i, j))),
        _ if float_of(y) == 0.0 => Err(Raise::error("ZeroDivisionError", "float division by zero")),
        _ => Ok(Value::Float(float_of(x) / float_of(y))),
    }
}

/// `_mod`: Python's modulo (the sign of the divisor).
pub fn modulo(a: &Value, b: &Value) -> Result<Value, Raise> {
    let (x, y) = (number(a)?, number(b)?);
    match (x, y) {
        (Num::Int(_), Num::Int(0)) => {
            Err(Raise::error("ZeroDivisionError", "integer modulo by zero"))
        }
        (Num::Int(i), Num::Int(j)) => {
            let r = i % j;
            Ok(Value::int(if r != 0 && ((r < 0) != (j < 0)) {
                r + j
            } else {
                r
            }))
        }
        _ if float_of(y) == 0.0 => Err(Raise::error("ZeroDivisionError", "float modulo")),
        _ => Ok(Value::Float(float_mod(float_of(x), float_of(y)))),
    }
}

/// `_in`: `item in container`, False for a None container and where Python raises a TypeError.
pub fn in_(item: &Value, container: &Value) -> bool {
    !container.is_none() && container.contains(item).unwrap_or(false)
}
