//! The expression language: expressions of the plan, built once, evaluated per event.
//! See docs/plan-format.md for the operations and the Python semantics they follow.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::event::Event;
use crate::funcs::{show, Func, Pattern};
use crate::ops;
use crate::tv;
use crate::value::{unique, CmpOp, Str, Value};

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

impl Raise {
    pub fn error(class: &'static str, message: impl Into<String>) -> Raise {
        Raise::Error {
            class,
            message: message.into(),
        }
    }

    pub fn type_error(message: impl Into<String>) -> Raise {
        Raise::error("TypeError", message)
    }
}

/// What an expression may read besides constants.
pub trait Env {
    fn event(&self) -> Option<&Event>;
    fn trigger(&self) -> Option<&Event>;
    /// The name of an event type (for `event.type`).
    fn type_name(&self, etype: u32) -> &str;
    /// The same name as shared text (an environment that holds it as such gives it without a copy).
    fn type_str(&self, etype: u32) -> Str {
        Str::from(self.type_name(etype))
    }
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

/// How the plan's names are resolved when an expression is built.
pub struct BuildCtx<'a> {
    /// The index of an event data field; a field it does not know reads as None.
    pub data_field: &'a dyn Fn(&str) -> Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventAttr {
    Id,
    Case,
    Time,
    Type,
    Actor,
}

impl EventAttr {
    fn parse(name: &str) -> Result<EventAttr, String> {
        Ok(match name {
            "id" => EventAttr::Id,
            "case" => EventAttr::Case,
            "time" => EventAttr::Time,
            "type" => EventAttr::Type,
            "actor" => EventAttr::Actor,
            _ => return Err(format!("unknown event attribute {name:?}")),
        })
    }

    fn name(self) -> &'static str {
        match self {
            EventAttr::Id => "id",
            EventAttr::Case => "case",
            EventAttr::Time => "time",
            EventAttr::Type => "type",
            EventAttr::Actor => "actor",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Ord(CmpOp),
}

/// One expression of the plan, built once.
#[derive(Clone, Debug)]
pub enum Expr {
    Const(Value),
    Event(EventAttr),
    /// `event.data.get(field)`; None: a field no event has.
    Data(Option<u32>),
    Trigger(EventAttr),
    TriggerData(Option<u32>),
    State(usize),
    Other(Str),
    Var(Str),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    IsNone {
        arg: Box<Expr>,
        negate: bool,
    },
    In {
        item: Box<Expr>,
        container: Box<Expr>,
        negate: bool,
    },
    If {
        test: Box<Expr>,
        then: Box<Expr>,
        orelse: Box<Expr>,
    },
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Call(Func, Vec<Expr>),
    Matches(Box<Pattern>, Box<Expr>),
    FindAll(Box<Pattern>, Box<Expr>),
    Fact {
        collection: Str,
        id: Box<Expr>,
        field: Str,
    },
    Known {
        collection: Str,
        id: Box<Expr>,
    },
}

fn field<'j>(j: &'j Json, name: &str) -> Result<&'j Json, String> {
    j.get(name)
        .ok_or_else(|| format!("expression {j}: no {name:?}"))
}

fn text_field<'j>(j: &'j Json, name: &str) -> Result<&'j str, String> {
    field(j, name)?
        .as_str()
        .ok_or_else(|| format!("expression {j}: {name:?} is not text"))
}

fn flag(j: &Json, name: &str) -> bool {
    j.get(name).and_then(Json::as_bool).unwrap_or(false)
}

fn no_event(attr: &str) -> Raise {
    Raise::error(
        "AttributeError",
        format!("'NoneType' object has no attribute '{attr}'"),
    )
}

impl Expr {
    /// Builds an expression from its plan JSON.
    pub fn build(j: &Json, ctx: &BuildCtx) -> Result<Expr, String> {
        let sub = |name: &str| -> Result<Box<Expr>, String> {
            Ok(Box::new(Expr::build(field(j, name)?, ctx)?))
        };
        let list = |name: &str| -> Result<Vec<Expr>, String> {
            field(j, name)?
                .as_array()
                .ok_or_else(|| format!("expression {j}: {name:?} is not a list"))?
                .iter()
                .map(|e| Expr::build(e, ctx))
                .collect()
        };
        let op = text_field(j, "op")?;
        Ok(match op {
            "const" => Expr::Const(tv::decode(field(j, "value")?)?),
            "event" => Expr::Event(EventAttr::parse(text_field(j, "attr")?)?),
            "trigger" => Expr::Trigger(EventAttr::parse(text_field(j, "attr")?)?),
            "data" => Expr::Data((ctx.data_field)(text_field(j, "field")?)),
            "trigger_data" => Expr::TriggerData((ctx.data_field)(text_field(j, "field")?)),
            "state" => Expr::State(
                field(j, "var")?
                    .as_u64()
                    .ok_or_else(|| format!("expression {j}: bad state index"))?
                    as usize,
            ),
            "other" => Expr::Other(Arc::from(text_field(j, "attr")?)),
            "var" => Expr::Var(Arc::from(text_field(j, "name")?)),
            "and" => Expr::And(list("args")?),
            "or" => Expr::Or(list("args")?),
            "not" => Expr::Not(sub("arg")?),
            "neg" => Expr::Neg(sub("arg")?),
            "pos" => Expr::Pos(sub("arg")?),
            "add" | "sub" | "mul" | "div" | "mod" => {
                let bin = match op {
                    "add" => BinOp::Add,
                    "sub" => BinOp::Sub,
                    "mul" => BinOp::Mul,
                    "div" => BinOp::Div,
                    _ => BinOp::Mod,
                };
                Expr::Bin(bin, sub("left")?, sub("right")?)
            }
            "cmp" => {
                let cmp = match text_field(j, "cmp")? {
                    "eq" => Cmp::Eq,
                    "ne" => Cmp::Ne,
                    "lt" => Cmp::Ord(CmpOp::Lt),
                    "le" => Cmp::Ord(CmpOp::Le),
                    "gt" => Cmp::Ord(CmpOp::Gt),
                    "ge" => Cmp::Ord(CmpOp::Ge),
                    other => return Err(format!("unknown comparison {other:?}")),
                };
                Expr::Cmp(cmp, sub("left")?, sub("right")?)
            }
            "is_none" => Expr::IsNone {
                arg: sub("arg")?,
                negate: flag(j, "negate"),
            },
            "in" => Expr::In {
                item: sub("item")?,
                container: sub("container")?,
                negate: flag(j, "negate"),
            },
            "if" => Expr::If {
                test: sub("test")?,
                then: sub("then")?,
                orelse: sub("else")?,
            },
            "tuple" => fold(Expr::Tuple(list("items")?)),
            "set" => fold(Expr::Set(list("items")?)),
            "call" => {
                let name = text_field(j, "fn")?;
                let (func, min, max) =
                    Func::lookup(name).ok_or_else(|| format!("unknown function {name:?}"))?;
                let args = list("args")?;
                if args.len() < min || args.len() > max {
                    return Err(format!(
                        "{name}() takes {min}-{max} arguments, got {}",
                        args.len()
                    ));
                }
                Expr::Call(func, args)
            }
            "matches" | "findall" => {
                let pattern = Box::new(Pattern::new(text_field(j, "pattern")?)?);
                if op == "matches" {
                    Expr::Matches(pattern, sub("arg")?)
                } else {
                    Expr::FindAll(pattern, sub("arg")?)
                }
            }
            "fact" => Expr::Fact {
                collection: Arc::from(text_field(j, "collection")?),
                id: sub("id")?,
                field: Arc::from(text_field(j, "field")?),
            },
            "known" => Expr::Known {
                collection: Arc::from(text_field(j, "collection")?),
                id: sub("id")?,
            },
            other => return Err(format!("unknown expression op {other:?}")),
        })
    }

    /// Evaluates the expression as the reference engine's compiled lambda would.
    pub fn eval(&self, env: &dyn Env) -> Result<Value, Raise> {
        Ok(match self {
            Expr::Const(v) => v.clone(),
            Expr::Event(attr) => event_attr(env, env.event(), *attr)?,
            Expr::Trigger(attr) => event_attr(env, env.trigger(), *attr)?,
            Expr::Data(f) => data(env.event(), *f)?,
            Expr::TriggerData(f) => data(env.trigger(), *f)?,
            Expr::State(i) => env.state(*i).clone(),
            Expr::Other(attr) => env.other(attr).cloned().unwrap_or(Value::None),
            Expr::Var(name) => env
                .var(name)
                .cloned()
                .ok_or_else(|| Raise::error("KeyError", format!("'{name}'")))?,
            Expr::And(args) => {
                let mut last = Value::None;
                for a in args {
                    last = a.eval(env)?;
                    if !last.truthy() {
                        break;
                    }
                }
                last
            }
            Expr::Or(args) => {
                let mut last = Value::None;
                for a in args {
                    last = a.eval(env)?;
                    if last.truthy() {
                        break;
                    }
                }
                last
            }
            Expr::Not(a) => Value::Bool(!a.truth(env)?),
            Expr::Neg(a) => ops::neg(&a.eval(env)?)?,
            Expr::Pos(a) => ops::pos(&a.eval(env)?)?,
            Expr::Bin(op, l, r) => {
                let (a, b) = (l.eval(env)?, r.eval(env)?);
                match op {
                    BinOp::Add => ops::add(&a, &b)?,
                    BinOp::Sub => ops::sub(&a, &b)?,
                    BinOp::Mul => ops::mul(&a, &b)?,
                    BinOp::Div => ops::div(&a, &b)?,
                    BinOp::Mod => ops::modulo(&a, &b)?,
                }
            }
            Expr::Cmp(..) | Expr::IsNone { .. } | Expr::In { .. } | Expr::Matches(..) => {
                Value::Bool(self.truth(env)?)
            }
            Expr::If { test, then, orelse } => {
                if test.truth(env)? {
                    then.eval(env)?
                } else {
                    orelse.eval(env)?
                }
            }
            Expr::Tuple(items) => Value::Tuple(Arc::new(eval_all(items, env)?)),
            Expr::Set(items) => Value::Set(Arc::new(unique(eval_all(items, env)?)?)),
            // Most calls take one or two arguments: those are passed without a Vec (and a lone
            // argument the event or state holds, without a copy), evaluated in the same order.
            Expr::Call(func, args) => match args.as_slice() {
                [a] => func.call(std::slice::from_ref(&*a.eval_ref(env)?))?,
                [a, b] => func.call(&[a.eval(env)?, b.eval(env)?])?,
                _ => func.call(&eval_all(args, env)?)?,
            },
            Expr::FindAll(p, arg) => p.findall(&*arg.eval_ref(env)?),
            Expr::Fact {
                collection,
                id,
                field,
            } => env.fact(collection, &*id.eval_ref(env)?, field)?,
            Expr::Known { collection, id } => {
                Value::Bool(env.known(collection, &*id.eval_ref(env)?))
            }
        })
    }

    /// The value, borrowed where the environment or the plan already holds it: most operands of
    /// comparisons are data fields, state variables and constants, and need no copy.
    fn eval_ref<'a>(&'a self, env: &'a dyn Env) -> Result<Cow<'a, Value>, Raise> {
        Ok(match self {
            Expr::Const(v) => Cow::Borrowed(v),
            Expr::Data(f) => Cow::Borrowed(data_ref(env.event(), *f)?),
            Expr::TriggerData(f) => Cow::Borrowed(data_ref(env.trigger(), *f)?),
            Expr::State(i) => Cow::Borrowed(env.state(*i)),
            Expr::Other(attr) => Cow::Borrowed(env.other(attr).unwrap_or(&NONE)),
            _ => Cow::Owned(self.eval(env)?),
        })
    }

    /// `bool(value)`, without building the value where only its truth is needed: the same
    /// operands evaluated in the same order, so the same errors are raised.
    pub fn truth(&self, env: &dyn Env) -> Result<bool, Raise> {
        Ok(match self {
            Expr::And(args) => {
                for a in args {
                    if !a.truth(env)? {
                        return Ok(false);
                    }
                }
                !args.is_empty()
            }
            Expr::Or(args) => {
                for a in args {
                    if a.truth(env)? {
                        return Ok(true);
                    }
                }
                false
            }
            Expr::Not(a) => !a.truth(env)?,
            Expr::Cmp(cmp, l, r) => {
                let (a, b) = (l.eval_ref(env)?, r.eval_ref(env)?);
                match cmp {
                    Cmp::Eq => a.py_eq(&b),
                    Cmp::Ne => !a.py_eq(&b),
                    Cmp::Ord(op) => a.py_cmp(*op, &b)?,
                }
            }
            Expr::IsNone { arg, negate } => arg.eval_ref(env)?.is_none() != *negate,
            Expr::In {
                item,
                container,
                negate,
            } => {
                let (i, c) = (item.eval_ref(env)?, container.eval_ref(env)?);
                ops::in_(&i, &c) != *negate
            }
            Expr::If { test, then, orelse } => {
                if test.truth(env)? {
                    then.truth(env)?
                } else {
                    orelse.truth(env)?
                }
            }
            Expr::Matches(p, arg) => p.matches(&*arg.eval_ref(env)?),
            _ => self.eval_ref(env)?.truthy(),
        })
    }
}

static NONE: Value = Value::None;

/// A tuple or set literal of constants (`x in ("a", "b")`) as the constant it always evaluates to,
/// rather than a new list built and dropped at every event. A set whose items cannot be one
/// (unhashable) is left to raise when evaluated, as it does.
fn fold(expr: Expr) -> Expr {
    let (Expr::Tuple(items) | Expr::Set(items)) = &expr else {
        return expr;
    };
    let consts: Option<Vec<Value>> = items
        .iter()
        .map(|e| match e {
            Expr::Const(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    match (consts, &expr) {
        (Some(values), Expr::Tuple(_)) => Expr::Const(Value::Tuple(Arc::new(values))),
        (Some(values), Expr::Set(_)) => match unique(values) {
            Ok(values) => Expr::Const(Value::Set(Arc::new(values))),
            Err(_) => expr,
        },
        _ => expr,
    }
}

fn eval_all(items: &[Expr], env: &dyn Env) -> Result<Vec<Value>, Raise> {
    items.iter().map(|e| e.eval(env)).collect()
}

fn event_attr(env: &dyn Env, event: Option<&Event>, attr: EventAttr) -> Result<Value, Raise> {
    let e = event.ok_or_else(|| no_event(attr.name()))?;
    Ok(match attr {
        EventAttr::Id => Value::Str(e.id.clone()),
        EventAttr::Case => Value::Str(e.case.clone()),
        EventAttr::Time => Value::Float(e.time),
        EventAttr::Type => match &e.undeclared {
            Some(name) => Value::Str(name.clone()),
            None => Value::Str(env.type_str(e.etype)),
        },
        EventAttr::Actor => e.actor.clone().map_or(Value::None, Value::Str),
    })
}

fn data(event: Option<&Event>, f: Option<u32>) -> Result<Value, Raise> {
    data_ref(event, f).cloned()
}

fn data_ref(event: Option<&Event>, f: Option<u32>) -> Result<&Value, Raise> {
    let e = event.ok_or_else(|| no_event("data"))?;
    Ok(f.and_then(|f| e.get(f)).unwrap_or(&NONE))
}

/// A message template: literal text and expressions shown as `_show` shows them.
#[derive(Clone, Debug)]
pub struct Template {
    pub text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Builds a template from its plan JSON `{"text": ..., "parts": [string | expression, ...]}`.
    pub fn build(j: &Json, ctx: &BuildCtx) -> Result<Template, String> {
        let parts = field(j, "parts")?
            .as_array()
            .ok_or("template: parts is not a list")?
            .iter()
            .map(|p| match p {
                Json::String(s) => Ok(Part::Text(s.clone())),
                _ => Expr::build(p, ctx).map(Part::Expr),
            })
            .collect::<Result<_, _>>()?;
        Ok(Template {
            text: text_field(j, "text")?.to_string(),
            parts,
        })
    }

    /// The message: `(unknown)` where a fact is missing, `(?)` where an expression raised.
    pub fn render(&self, env: &dyn Env) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&match e.eval(env) {
                    Ok(v) => show(&v),
                    Err(Raise::MissingFact(_)) => "(unknown)".into(),
                    Err(Raise::Error { .. }) => "(?)".into(),
                }),
            }
        }
        out
    }
}
