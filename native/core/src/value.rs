//! Values as the reference (Python) engine holds them, so that every operation
//! can give the same result, and fail with the same message, as CPython does.
//!
//! The variants keep the Python types apart where Python tells them apart in
//! results or messages: `list` (from JSON) and `tuple` (literals, frozen state),
//! `set` (state sets, set literals) and `frozenset`, `int` and `float`.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::expr::Raise;
use crate::pyfmt::{float_repr, str_repr};

/// Shared, immutable text.
pub type Str = Arc<str>;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
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

/// A Python number: `bool` and `int` are integers, as in Python's arithmetic and comparisons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

/// The ordering comparisons (`==`/`!=` are [`Value::py_eq`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// `int` compared with `float` exactly, as CPython does (no rounding of the int); None when `f` is NaN.
pub fn int_float_cmp(i: i128, f: f64) -> Option<Ordering> {
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0; // 2**127
    if f.is_nan() {
        return None;
    }
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    Some(
        i.cmp(&(t as i128))
            .then_with(|| 0.0_f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal)),
    )
}

pub fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => int_float_cmp(x, y),
        (Num::Float(x), Num::Int(y)) => int_float_cmp(y, x).map(Ordering::reverse),
    }
}

/// A JSON number as Python's json/orjson gives it: an int within 64 bits (signed or not), else a float.
pub fn from_json_number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::int(i128::from(u))
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN)) // always a finite f64 without arbitrary_precision
    }
}

impl Value {
    /// An int, kept in `Int` when it fits.
    pub fn int(i: i128) -> Value {
        match i64::try_from(i) {
            Ok(small) => Value::Int(small),
            Err(_) => Value::Big(Arc::new(i)),
        }
    }

    pub fn from_num(n: Num) -> Value {
        match n {
            Num::Int(i) => Value::int(i),
            Num::Float(f) => Value::Float(f),
        }
    }

    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    /// The number Python sees in this value (`bool` included), if it is one.
    pub fn num(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(i128::from(*b))),
            Value::Int(i) => Some(Num::Int(i128::from(*i))),
            Value::Big(i) => Some(Num::Int(**i)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// `type(x).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Big(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Dict(_) => "dict",
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// `bool(x)`.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Big(i) => **i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
            Value::Dict(d) => !d.is_empty(),
        }
    }

    /// `len(x)`, or None for a value without a length.
    pub fn py_len(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.chars().count()),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => Some(v.len()),
            Value::Dict(d) => Some(d.len()),
            _ => None,
        }
    }

    /// The items of a list, tuple, set or frozenset.
    pub fn seq_items(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    fn set_items(&self) -> Option<&[Value]> {
        match self {
            Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    /// Python `==`.
    pub fn py_eq(&self, other: &Value) -> bool {
        if let (Some(a), Some(b)) = (self.num(), other.num()) {
            return num_cmp(a, b) == Some(Ordering::Equal);
        }
        match (self, other) {
            (Value::None, Value::None) => true,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.py_eq(y))
            }
            (Value::Dict(a), Value::Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v.py_eq(v2)))
            }
            _ => match (self.set_items(), other.set_items()) {
                (Some(a), Some(b)) => a.len() == b.len() && subset(a, b),
                _ => false,
            },
        }
    }

    /// Python `<`, `<=`, `>`, `>=`, with CPython's TypeError when the types do not order.
    pub fn py_cmp(&self, op: CmpOp, other: &Value) -> Result<bool, Raise> {
        if let (Some(a), Some(b)) = (self.num(), other.num()) {
            return Ok(num_cmp(a, b).is_some_and(|o| op.holds(o)));
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => return Ok(op.holds(a.cmp(b))),
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                return match a.iter().zip(b.iter()).find(|(x, y)| !x.py_eq(y)) {
                    Some((x, y)) => x.py_cmp(op, y),
                    None => Ok(op.holds(a.len().cmp(&b.len()))),
                };
            }
            _ => {}
        }
        if let (Some(a), Some(b)) = (self.set_items(), other.set_items()) {
            return Ok(match op {
                CmpOp::Lt => a.len() < b.len() && subset(a, b),
                CmpOp::Le => subset(a, b),
                CmpOp::Gt => a.len() > b.len() && subset(b, a),
                CmpOp::Ge => subset(b, a),
            });
        }
        Err(Raise::type_error(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            op.symbol(),
            self.type_name(),
            other.type_name()
        )))
    }

    /// The type named by `hash(x)`'s TypeError (`unhashable type: 'list'`), or None when hashable.
    pub fn unhashable(&self) -> Option<&'static str> {
        match self {
            Value::List(_) | Value::Set(_) | Value::Dict(_) => Some(self.type_name()),
            Value::Tuple(v) => v.iter().find_map(Value::unhashable),
            _ => None,
        }
    }

    /// `str(x)`.
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            _ => self.py_repr(),
        }
    }

    /// `repr(x)`. Sets are shown numbers first, ascending, then the rest by `str`: Python shows them in
    /// hash order, which for small ints is ascending and for text differs from process to process.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Big(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&float_repr(*f)),
            Value::Str(s) => out.push_str(&str_repr(s)),
            Value::List(v) => write_items(out, "[", v.iter(), "]"),
            Value::Tuple(v) if v.len() == 1 => write_items(out, "(", v.iter(), ",)"),
            Value::Tuple(v) => write_items(out, "(", v.iter(), ")"),
            Value::Set(v) if v.is_empty() => out.push_str("set()"),
            Value::Set(v) => write_items(out, "{", display_order(v).into_iter(), "}"),
            Value::FrozenSet(v) if v.is_empty() => out.push_str("frozenset()"),
            Value::FrozenSet(v) => {
                write_items(out, "frozenset({", display_order(v).into_iter(), "})")
            }
            Value::Dict(d) => {
                out.push('{');
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&str_repr(k));
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }

    /// `_freeze` of the evaluator: lists and tuples become tuples of frozen items, a set a frozenset, a
    /// dict the tuple of its `(key, frozen value)` pairs sorted by key.
    pub fn freeze(&self) -> Value {
        match self {
            Value::List(v) | Value::Tuple(v) => {
                Value::Tuple(Arc::new(v.iter().map(Value::freeze).collect()))
            }
            Value::Set(v) => Value::FrozenSet(v.clone()),
            Value::Dict(d) => {
                let mut pairs: Vec<&(Str, Value)> = d.iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Tuple(Arc::new(
                    pairs
                        .into_iter()
                        .map(|(k, v)| {
                            Value::Tuple(Arc::new(vec![Value::Str(k.clone()), v.freeze()]))
                        })
                        .collect(),
                ))
            }
            _ => self.clone(),
        }
    }

    /// `_as_items` of the evaluator: the non-None items of a list, tuple or set; `()` for None; else `(x,)`.
    pub fn as_items(&self) -> Vec<Value> {
        self.items().cloned().collect()
    }

    /// [`Value::as_items`], borrowed: a state update adds each item once frozen, with no list between.
    pub fn items(&self) -> impl Iterator<Item = &Value> {
        // None is its own one item, then left out as the items of a container are
        let items = self.seq_items().unwrap_or(std::slice::from_ref(self));
        items.iter().filter(|v| !v.is_none())
    }

    /// `_filled` of the expression language: not None, not `""`, not an empty container.
    pub fn filled(&self) -> bool {
        match self {
            Value::None => false,
            Value::Str(s) => !s.is_empty(),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
            Value::Dict(d) => !d.is_empty(),
            _ => true,
        }
    }

    /// `x in container`, with CPython's TypeError where it raises one (an unhashable key of a set or dict).
    pub fn contains(&self, item: &Value) -> Result<bool, Raise> {
        match self {
            Value::Str(s) => match item {
                Value::Str(sub) => Ok(s.contains(&**sub)),
                _ => Err(Raise::type_error(format!(
                    "'in <string>' requires string as left operand, not {}",
                    item.type_name()
                ))),
            },
            Value::List(v) | Value::Tuple(v) => Ok(v.iter().any(|x| x.py_eq(item))),
            Value::Set(v) | Value::FrozenSet(v) => {
                // set.__contains__ looks a set up as the equal frozenset rather than refusing it
                if !matches!(item, Value::Set(_)) {
                    hashable(item)?;
                }
                Ok(v.iter().any(|x| x.py_eq(item)))
            }
            Value::Dict(d) => {
                hashable(item)?;
                Ok(matches!(item, Value::Str(k) if d.iter().any(|(key, _)| key == k)))
            }
            _ => Err(Raise::type_error(format!(
                "argument of type '{}' is not iterable",
                self.type_name()
            ))),
        }
    }
}

/// The TypeError of hashing an unhashable value.
pub fn hashable(v: &Value) -> Result<(), Raise> {
    match v.unhashable() {
        Some(t) => Err(Raise::type_error(format!("unhashable type: '{t}'"))),
        None => Ok(()),
    }
}

/// A set of values as Python builds it from items in order: the first of equal items stays.
pub fn unique(items: impl IntoIterator<Item = Value>) -> Result<Vec<Value>, Raise> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        hashable(&item)?;
        if !out.iter().any(|x| x.py_eq(&item)) {
            out.push(item);
        }
    }
    Ok(out)
}

fn subset(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.iter().any(|y| x.py_eq(y)))
}

/// The order a set is shown in: numbers ascending, then the rest by `str` (NaN among them: it has no
/// place among the numbers, and a comparator that is no total order may make the sort panic).
pub fn display_order(items: &[Value]) -> Vec<&Value> {
    let number = |v: &Value| {
        v.num()
            .filter(|n| !matches!(n, Num::Float(f) if f.is_nan()))
    };
    let mut out: Vec<&Value> = items.iter().collect();
    out.sort_by(|a, b| match (number(a), number(b)) {
        (Some(x), Some(y)) => num_cmp(x, y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.py_str().cmp(&b.py_str()),
    });
    out
}

fn write_items<'a>(
    out: &mut String,
    open: &str,
    items: impl Iterator<Item = &'a Value>,
    close: &str,
) {
    out.push_str(open);
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        v.write_repr(out);
    }
    out.push_str(close);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }
    fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Arc::new(items))
    }
    fn set(items: Vec<Value>) -> Value {
        Value::Set(Arc::new(items))
    }

    #[test]
    fn equality_is_pythons() {
        assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(!tuple(vec![Value::Int(1)]).py_eq(&list(vec![Value::Int(1)])));
        assert!(
            set(vec![Value::Int(1)]).py_eq(&Value::FrozenSet(Arc::new(vec![Value::Float(1.0)])))
        );
        assert!(!Value::int(9007199254740993).py_eq(&Value::Float(9007199254740992.0)));
        assert!(!Value::Float(f64::NAN).py_eq(&Value::Float(f64::NAN)));
    }

    #[test]
    fn ordering_is_pythons() {
        let lt = |a: &Value, b: &Value| a.py_cmp(CmpOp::Lt, b);
        assert_eq!(lt(&Value::Int(1), &Value::Float(1.5)), Ok(true));
        assert_eq!(lt(&Value::str("a"), &Value::str("é")), Ok(true));
        assert_eq!(
            lt(
                &list(vec![Value::Int(1)]),
                &list(vec![Value::Int(1), Value::Int(0)])
            ),
            Ok(true)
        );
        assert_eq!(
            lt(
                &set(vec![Value::Int(1)]),
                &set(vec![Value::Int(1), Value::Int(2)])
            ),
            Ok(true)
        );
        assert_eq!(
            lt(&Value::None, &Value::Int(1)),
            Err(Raise::type_error(
                "'<' not supported between instances of 'NoneType' and 'int'"
            ))
        );
        assert_eq!(
            lt(&list(vec![Value::str("a")]), &list(vec![Value::Int(1)])),
            Err(Raise::type_error(
                "'<' not supported between instances of 'str' and 'int'"
            ))
        );
    }

    #[test]
    fn repr_is_pythons() {
        assert_eq!(
            list(vec![Value::Int(1), Value::str("a")]).py_repr(),
            "[1, 'a']"
        );
        assert_eq!(tuple(vec![Value::Int(1)]).py_repr(), "(1,)");
        assert_eq!(set(vec![]).py_repr(), "set()");
        assert_eq!(set(vec![Value::Int(3), Value::Int(1)]).py_repr(), "{1, 3}");
        let dict = Value::Dict(Arc::new(vec![(Arc::from("a"), Value::Int(1))]));
        assert_eq!(dict.py_repr(), "{'a': 1}");
        assert_eq!(Value::str("x").py_str(), "x");
        assert_eq!(Value::None.py_str(), "None");
    }

    #[test]
    fn freeze_and_items_are_the_evaluators() {
        let dict = Value::Dict(Arc::new(vec![
            (Arc::from("b"), list(vec![Value::Int(2)])),
            (Arc::from("a"), Value::None),
        ]));
        assert_eq!(dict.freeze().py_repr(), "(('a', None), ('b', (2,)))");
        assert_eq!(set(vec![Value::Int(1)]).freeze().type_name(), "frozenset");
        assert_eq!(list(vec![Value::None, Value::Int(1)]).as_items().len(), 1);
        assert_eq!(Value::None.as_items().len(), 0);
        assert!(!Value::str("").filled() && Value::Int(0).filled() && !list(vec![]).filled());
        assert_eq!(tuple(vec![list(vec![])]).unhashable(), Some("list"));
        assert_eq!(tuple(vec![list(vec![])]).freeze().unhashable(), None);
    }

    #[test]
    fn a_set_with_nan_among_many_numbers_and_texts_is_shown_in_one_order() {
        let mut items: Vec<Value> = (0..200).rev().map(|i| Value::Int(i % 97)).collect();
        items.extend([Value::Float(f64::NAN), Value::str("b"), Value::str("a")]);
        items.extend((0..50).map(|i| Value::Float(f64::from(i) + 0.5)));
        let shown: Vec<String> = display_order(&items).iter().map(|v| v.py_str()).collect();
        assert_eq!(&shown[shown.len() - 3..], ["a", "b", "nan"]);
        assert_eq!(shown[0], "0");
    }
}
