//! Event data checked against the pack's vocabulary, as `sopengine.datacheck` does: which filled
//! fields of an event break their declaration (type, allowed values) or are not declared for its
//! type. The faults are handed to Python, which words them.

use rustc_hash::FxHashMap;

use crate::plan::FieldDecl;
use crate::time::parse_time;
use crate::value::{Str, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Number,
    Boolean,
    List,
    Object,
    Time,
    Any,
}

#[derive(Clone, Debug)]
struct Declared {
    kind: Kind,
    allowed: Option<Vec<Value>>,
}

impl Declared {
    /// `sopengine.datacheck.fits`.
    fn fits(&self, value: &Value) -> bool {
        match self.kind {
            Kind::String => matches!(value, Value::Str(_)),
            Kind::Number => matches!(value, Value::Int(_) | Value::Big(_) | Value::Float(_)),
            Kind::Boolean => matches!(value, Value::Bool(_)),
            Kind::List => matches!(value, Value::List(_)),
            Kind::Object => matches!(value, Value::Dict(_)),
            Kind::Time => matches!(value, Value::Str(s) if parse_time(s).is_ok()),
            Kind::Any => true,
        }
    }

    fn allows(&self, value: &Value) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a.py_eq(value)))
    }
}

/// What is wrong with a field (`sopengine.datacheck` TYPE, VALUE, UNDECLARED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Problem {
    Type,
    Value,
    Undeclared,
}

impl Problem {
    pub fn name(self) -> &'static str {
        match self {
            Problem::Type => "type",
            Problem::Value => "value",
            Problem::Undeclared => "undeclared",
        }
    }
}

/// A field of an event: one the plan knows (an index into its `data_fields`), or another name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Known(u32),
    Other(Str),
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub field: FieldRef,
    pub problem: Problem,
    /// The field's value (None for a field the reader did not build: `Other`).
    pub value: Value,
}

/// The event types' declared data fields.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Per event type, per known field: its declaration, if that type declares it.
    declared: Vec<Vec<Option<Declared>>>,
    /// The known fields' names (the plan's `data_fields`).
    names: Vec<Str>,
}

impl Vocabulary {
    pub fn build(
        event_data: &[FxHashMap<String, FieldDecl>],
        fields: &[Str],
        field_index: &FxHashMap<Str, u32>,
    ) -> Result<Vocabulary, String> {
        let mut declared = Vec::with_capacity(event_data.len());
        for decls in event_data {
            let mut row: Vec<Option<Declared>> = vec![None; fields.len()];
            for (name, decl) in decls {
                let &i = field_index.get(name.as_str()).ok_or_else(|| {
                    format!("the plan declares data field {name:?} not in data_fields")
                })?;
                let kind = match decl.kind.as_str() {
                    "string" => Kind::String,
                    "number" => Kind::Number,
                    "boolean" => Kind::Boolean,
                    "list" => Kind::List,
                    "object" => Kind::Object,
                    "time" => Kind::Time,
                    "any" => Kind::Any,
                    other => return Err(format!("unknown data field type {other:?} in the plan")),
                };
                let allowed = match &decl.allowed {
                    None => None,
                    Some(values) => Some(values.iter().map(crate::tv::decode).collect::<Result<
                        Vec<_>,
                        String,
                    >>(
                    )?),
                };
                row[i as usize] = Some(Declared { kind, allowed });
            }
            declared.push(row);
        }
        Ok(Vocabulary {
            declared,
            names: fields.to_vec(),
        })
    }

    pub fn name<'a>(&'a self, field: &'a FieldRef) -> &'a str {
        match field {
            FieldRef::Known(i) => &self.names[*i as usize],
            FieldRef::Other(name) => name,
        }
    }

    /// The faults of an event's filled fields (`data`: the known ones, `others`: the names of the
    /// rest), by field name, as `DataCheck.faults`.
    pub fn faults(&self, etype: u32, data: &[(u32, Value)], others: &[Str]) -> Vec<Fault> {
        let mut out = Vec::new();
        let Some(row) = self.declared.get(etype as usize) else {
            return out; // a type the pack does not declare (an open vocabulary): its data is not checked
        };
        for (i, value) in data {
            let problem = match &row[*i as usize] {
                None => Problem::Undeclared,
                Some(d) if !d.fits(value) => Problem::Type,
                Some(d) if !d.allows(value) => Problem::Value,
                Some(_) => continue,
            };
            out.push(Fault {
                field: FieldRef::Known(*i),
                problem,
                value: value.clone(),
            });
        }
        out.extend(others.iter().map(|name| Fault {
            field: FieldRef::Other(name.clone()),
            problem: Problem::Undeclared,
            value: Value::None,
        }));
        if out.len() > 1 {
            out.sort_by(|a, b| self.name(&a.field).cmp(self.name(&b.field)));
        }
        out
    }
}

/// What a check decided about an event (`sopengine.datacheck.check_event`).
pub enum Verdict {
    /// Evaluated; these faults (maybe none) are noted.
    Keep(Vec<Fault>),
    /// Rejected for these faults (the ones that break a declaration).
    Reject(Vec<Fault>),
}

pub fn verdict(faults: Vec<Fault>, lenient: bool) -> Verdict {
    if !lenient && faults.iter().any(|f| f.problem != Problem::Undeclared) {
        Verdict::Reject(
            faults
                .into_iter()
                .filter(|f| f.problem != Problem::Undeclared)
                .collect(),
        )
    } else {
        Verdict::Keep(faults)
    }
}

/// A noted fault counted over the events that have it: the first one's line and value.
#[derive(Debug)]
pub struct Tally {
    pub count: u64,
    pub line: u64,
    pub value: Value,
}

/// The noted faults of one file, per (event type, field, problem).
#[derive(Debug, Default)]
pub struct Notes {
    pub known: FxHashMap<(u32, u32, Problem), Tally>,
    /// Per event type: names the plan does not know (always undeclared).
    pub others: FxHashMap<u32, FxHashMap<Str, Tally>>,
}

impl Notes {
    pub fn add(&mut self, etype: u32, faults: Vec<Fault>, line: u64) {
        for f in faults {
            let slot = match f.field {
                FieldRef::Known(i) => self.known.entry((etype, i, f.problem)),
                FieldRef::Other(name) => {
                    let by_name = self.others.entry(etype).or_default();
                    match by_name.get_mut(&name) {
                        Some(t) => {
                            t.count += 1;
                            continue;
                        }
                        None => {
                            by_name.insert(
                                name,
                                Tally {
                                    count: 1,
                                    line,
                                    value: f.value,
                                },
                            );
                            continue;
                        }
                    }
                }
            };
            slot.and_modify(|t| t.count += 1).or_insert(Tally {
                count: 1,
                line,
                value: f.value,
            });
        }
    }
}
