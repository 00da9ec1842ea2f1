//! Test hooks: one expression or template evaluated against an environment described as JSON,
//! for the differential tests against the Python reference (tests/test_native_expr.py).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use sopengine_core::event::{Event, Origin};
use sopengine_core::expr::{BuildCtx, Env, Expr, Raise, Template};
use sopengine_core::tv;
use sopengine_core::value::Value;

/// `{"event", "trigger": {id, case, time, type, actor, data: {field: TV}} | null, "state": [TV],
/// "other": {attr: TV}, "vars": {name: TV}, "facts": {collection: {id: {field: TV}}}}`.
pub struct JsonEnv {
    event: Option<Event>,
    trigger: Option<Event>,
    types: Vec<String>,
    state: Vec<Value>,
    other: HashMap<String, Value>,
    vars: HashMap<String, Value>,
    facts: HashMap<String, HashMap<String, HashMap<String, Value>>>,
    fields: HashMap<String, u32>,
}

fn tv_map(j: Option<&Json>) -> Result<HashMap<String, Value>, String> {
    let empty = Map::new();
    let m = match j {
        None | Some(Json::Null) => &empty,
        Some(Json::Object(m)) => m,
        Some(other) => return Err(format!("expected an object, got {other}")),
    };
    m.iter()
        .map(|(k, v)| Ok((k.clone(), tv::decode(v)?)))
        .collect()
}

impl JsonEnv {
    pub fn parse(text: &str) -> Result<JsonEnv, String> {
        let j: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut env = JsonEnv {
            event: None,
            trigger: None,
            types: Vec::new(),
            state: j
                .get("state")
                .and_then(Json::as_array)
                .map_or(Ok(Vec::new()), |a| {
                    a.iter().map(tv::decode).collect::<Result<Vec<_>, _>>()
                })?,
            other: tv_map(j.get("other"))?,
            vars: tv_map(j.get("vars"))?,
            facts: HashMap::new(),
            fields: HashMap::new(),
        };
        if let Some(Json::Object(colls)) = j.get("facts") {
            for (coll, records) in colls {
                let mut by_id = HashMap::new();
                for (id, record) in records
                    .as_object()
                    .ok_or("facts: records must be an object")?
                {
                    by_id.insert(id.clone(), tv_map(Some(record))?);
                }
                env.facts.insert(coll.clone(), by_id);
            }
        }
        env.event = env.event_of(j.get("event"))?;
        env.trigger = env.event_of(j.get("trigger"))?;
        Ok(env)
    }

    fn event_of(&mut self, j: Option<&Json>) -> Result<Option<Event>, String> {
        let j = match j {
            None | Some(Json::Null) => return Ok(None),
            Some(j) => j,
        };
        let text = |k: &str| -> Result<Arc<str>, String> {
            j.get(k)
                .and_then(Json::as_str)
                .map(Arc::from)
                .ok_or_else(|| format!("event: no {k}"))
        };
        let type_name = text("type")?.to_string();
        let etype = match self.types.iter().position(|t| *t == type_name) {
            Some(i) => i,
            None => {
                self.types.push(type_name);
                self.types.len() - 1
            }
        } as u32;
        let mut data: Vec<(u32, Value)> = Vec::new();
        for (name, v) in tv_map(j.get("data"))? {
            if !v.filled() && matches!(v, Value::None | Value::Str(_)) {
                continue; // null and "" are "not filled": the reader leaves them out
            }
            let next = self.fields.len() as u32;
            let index = *self.fields.entry(name).or_insert(next);
            data.push((index, v));
        }
        data.sort_by_key(|(i, _)| *i);
        Ok(Some(Event {
            id: text("id")?,
            case: text("case")?,
            time: j
                .get("time")
                .and_then(Json::as_f64)
                .ok_or("event: no time")?,
            etype,
            undeclared: None,
            actor: j.get("actor").and_then(Json::as_str).map(Arc::from),
            data,
            seq: 0,
            origin: Origin::default(),
        }))
    }

    pub fn build_ctx_field(&self, name: &str) -> Option<u32> {
        self.fields.get(name).copied()
    }
}

impl Env for JsonEnv {
    fn event(&self) -> Option<&Event> {
        self.event.as_ref()
    }
    fn trigger(&self) -> Option<&Event> {
        self.trigger.as_ref()
    }
    fn type_name(&self, etype: u32) -> &str {
        &self.types[etype as usize]
    }
    fn state(&self, var: usize) -> &Value {
        &self.state[var]
    }
    fn other(&self, attr: &str) -> Option<&Value> {
        self.other.get(attr)
    }
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
    /// `Runtime.fact` of sopengine.evaluator, reasons and all.
    fn fact(&self, collection: &str, id: &Value, field: &str) -> Result<Value, Raise> {
        let records = self.facts.get(collection).ok_or_else(|| {
            Raise::MissingFact(format!("no '{collection}' facts were given (--facts)"))
        })?;
        if id.is_none() {
            return Err(Raise::MissingFact(format!(
                "no id to look up in '{collection}' facts"
            )));
        }
        let shown = id.py_str();
        let record = match id {
            Value::Str(s) => records.get(&**s),
            _ => None,
        }
        .ok_or_else(|| {
            Raise::MissingFact(format!("'{shown}' is not in the '{collection}' facts"))
        })?;
        match record.get(field) {
            Some(v) if !v.is_none() => Ok(v.clone()),
            _ => Err(Raise::MissingFact(format!(
                "'{collection}' fact '{shown}' has no '{field}'"
            ))),
        }
    }
    fn known(&self, collection: &str, id: &Value) -> bool {
        match (self.facts.get(collection), id) {
            (Some(records), Value::Str(s)) => !records.is_empty() && records.contains_key(&**s),
            _ => false,
        }
    }
}

fn raise_text(r: &Raise) -> String {
    match r {
        Raise::MissingFact(reason) => format!("MissingFact: {reason}"),
        Raise::Error { class, message } => format!("{class}: {message}"),
    }
}

/// Builds `plan` and evaluates it in `env`: `(true, typed-value JSON)` or `(false, "Class: message")`.
pub fn eval_expression(plan: &str, env: &str) -> Result<(bool, String), String> {
    let env = JsonEnv::parse(env)?;
    let plan: Json = serde_json::from_str(plan).map_err(|e| e.to_string())?;
    let lookup = |name: &str| env.build_ctx_field(name);
    let expr = Expr::build(
        &plan,
        &BuildCtx {
            data_field: &lookup,
        },
    )?;
    Ok(match expr.eval(&env) {
        Ok(v) => (true, tv::encode(&v).to_string()),
        Err(r) => (false, raise_text(&r)),
    })
}

/// Builds the template `plan` and renders it in `env`.
pub fn render_template(plan: &str, env: &str) -> Result<String, String> {
    let env = JsonEnv::parse(env)?;
    let plan: Json = serde_json::from_str(plan).map_err(|e| e.to_string())?;
    let lookup = |name: &str| env.build_ctx_field(name);
    Ok(Template::build(
        &plan,
        &BuildCtx {
            data_field: &lookup,
        },
    )?
    .render(&env))
}
