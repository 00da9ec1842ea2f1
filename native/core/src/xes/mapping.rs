//! An input mapping the core applies to XES records itself: values that are field paths or
//! constants, `rest`, data fields by path (`sopengine.adapters.native_xes` compiles a mapping into
//! this spec when it can be applied exactly, and says which it cannot).
//!
//! The steps are those of `Mapping._build`, `_typed` and `event_from_obj`, in their order.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;

use super::record::{Attrs, XValue};
use crate::event::Origin;
use crate::pytext::{from_text, TextKind};
use crate::reader::{object_record, Data, Field, Object, ReaderConfig, Reason, Record, Top};
use crate::value::{Str, Value};

/// One value of the event: a path into the record, or a constant.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Path(String),
    Const(serde_json::Value),
}

/// The spec as Python writes it (JSON).
#[derive(Clone, Debug, Deserialize)]
pub struct XesSpec {
    /// The mapping source's name: the event check's reasons are worded after it.
    pub source: String,
    /// Of id, case, time, type, actor: the ones the mapping gives.
    #[serde(default)]
    pub values: FxHashMap<String, Source>,
    /// Data fields by name, in the mapping's order.
    #[serde(default)]
    pub data: Vec<(String, Source)>,
    /// Every other top-level field of the record (not an object) becomes data.
    #[serde(default)]
    pub rest: bool,
    /// Top-level record fields the values name: left out of `rest`.
    #[serde(default)]
    pub used: Vec<String>,
    /// Event type -> declared fields read from text as their type (`_typed`).
    #[serde(default)]
    pub typed: FxHashMap<String, FxHashMap<String, TextKind>>,
}

#[derive(Clone, Debug)]
enum Get {
    Path(String),
    Const(Value),
}

impl Get {
    fn new(source: &Source) -> Get {
        match source {
            Source::Path(p) => Get::Path(p.clone()),
            Source::Const(c) => Get::Const(crate::json::to_value(c)),
        }
    }

    fn get(&self, record: &Attrs) -> XValue {
        match self {
            Get::Path(p) => record.path(p),
            Get::Const(v) => XValue::Scalar(v.clone()),
        }
    }
}

/// A data field named by the mapping whose value is an object or a list holding one: it is left
/// out, with a warning Python words (`Mapping._build`): the field, the mapping's path, and the
/// keys of the object (None: a list of lists).
#[derive(Clone, Debug)]
pub struct Structured {
    pub line: u64,
    pub field: Str,
    pub path: Option<String>,
    pub keys: Option<Vec<Str>>,
}

/// A compiled [`XesSpec`].
pub struct Mapper {
    source: Str,
    /// id, case, time, type, actor
    envelope: [Option<Get>; 5],
    data: Vec<(Str, Get)>,
    rest: bool,
    used: FxHashSet<String>,
    typed: FxHashMap<String, FxHashMap<String, TextKind>>,
}

const ID: usize = 0;
const CASE: usize = 1;
const TIME: usize = 2;
const TYPE: usize = 3;
const ACTOR: usize = 4;

impl Mapper {
    pub fn new(spec: &XesSpec) -> Result<Mapper, String> {
        let mut envelope: [Option<Get>; 5] = Default::default();
        for (key, source) in &spec.values {
            let slot = match key.as_str() {
                "id" => ID,
                "case" => CASE,
                "time" => TIME,
                "type" => TYPE,
                "actor" => ACTOR,
                other => return Err(format!("the XES spec gives {other:?}, not an event key")),
            };
            envelope[slot] = Some(Get::new(source));
        }
        Ok(Mapper {
            source: Str::from(spec.source.as_str()),
            envelope,
            data: spec
                .data
                .iter()
                .map(|(k, s)| (Str::from(k.as_str()), Get::new(s)))
                .collect(),
            rest: spec.rest,
            used: spec.used.iter().cloned().collect(),
            typed: spec.typed.clone(),
        })
    }

    /// The event a record makes, or why it makes none; a named data field that is structured goes
    /// to `notes` instead.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &self,
        record: &Attrs,
        cfg: &ReaderConfig,
        base: &str,
        origin: Origin,
        seq: u64,
        others: &mut Vec<Str>,
        notes: &mut Vec<Structured>,
    ) -> Record {
        let mut values: [XValue; 5] = Default::default();
        for (slot, get) in self.envelope.iter().enumerate() {
            if let Some(get) = get {
                values[slot] = get.get(record);
            }
        }
        let mut data = Attrs::default();
        if self.rest {
            for (k, v) in record.iter() {
                if !self.used.contains(&**k) && !matches!(v, XValue::Dict(_)) {
                    data.set(k.clone(), v.clone());
                }
            }
        }
        for (key, get) in &self.data {
            let got = get.get(record);
            if got.structured() {
                notes.push(Structured {
                    line: origin.line,
                    field: key.clone(),
                    path: match get {
                        Get::Path(p) => Some(p.clone()),
                        Get::Const(_) => None,
                    },
                    keys: match &got {
                        XValue::Dict(d) => Some(d.iter().map(|(k, _)| k.clone()).collect()),
                        _ => None,
                    },
                });
                continue;
            }
            data.set(key.clone(), got);
        }
        for slot in [CASE, ID, ACTOR] {
            // numeric ids in an export are ids
            if let XValue::Scalar(v @ (Value::Int(_) | Value::Big(_) | Value::Float(_))) =
                &values[slot]
            {
                values[slot] = XValue::Scalar(Value::str(&v.py_str()));
            }
        }
        if let XValue::Scalar(Value::Str(etype)) = &values[TYPE] {
            if let Some(declared) = self.typed.get(&**etype) {
                for (name, value) in data.iter_mut() {
                    if let (Some(&kind), XValue::Scalar(Value::Str(text))) =
                        (declared.get(&**name), &*value)
                    {
                        if let Some(v) = from_text(text, kind) {
                            *value = XValue::Scalar(v);
                        }
                    }
                }
            }
        }
        let reject = |reason: Reason| Record::Rejected {
            origin,
            reason: Reason::Mapped {
                source: self.source.clone(),
                reason: Box::new(reason),
            },
        };
        // nesting_exceeds: the object is level 1, its data level 2
        let limit = cfg.max_depth as usize;
        let deep = 2 > limit
            || values.iter().any(|v| 1 + v.depth(limit) > limit)
            || data.iter().any(|(_, v)| 2 + v.depth(limit) > limit);
        if deep {
            return reject(Reason::TooDeep);
        }
        let mut known = Vec::new();
        let mut other_names = Vec::new();
        for (name, value) in data.iter() {
            match cfg.fields.get(&**name) {
                Some(&i) => known.push((i, value.to_value())),
                None if value.filled() => other_names.push(name.clone()),
                None => {}
            }
        }
        let [id, case, time, etype, actor] = values;
        let top = Top::Object(Object {
            id: id.field(),
            case: case.field(),
            time: time.field(),
            etype: etype.field(),
            actor: actor.field(),
            data: Data::Object(known, other_names),
        });
        match object_record(top, cfg, base, origin, seq, others) {
            Record::Rejected { reason, .. } => reject(reason),
            event => event,
        }
    }
}

impl XValue {
    /// The value as an envelope key holds it: text, or its Python type's name.
    fn field(self) -> Field<'static> {
        match self {
            XValue::Scalar(Value::None) => Field::Null,
            XValue::Scalar(Value::Str(s)) => Field::Str(s.to_string().into()),
            XValue::Scalar(v) => Field::Other(v.type_name()),
            XValue::List(_) => Field::Other("list"),
            XValue::Dict(_) => Field::Other("dict"),
            XValue::Bad(_) => Field::Other("str"),
        }
    }
}
