//! An XES record as `sopengine.adapters.readers.read_xes` builds it: a dict of the event's
//! attributes (lists as lists, shared as Python shares them), the trace's under `trace`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::value::{Str, Value};

/// An attribute's value.
#[derive(Clone, Debug)]
pub enum XValue {
    Scalar(Value),
    /// A `<list>`: filled as its `<values>` are read, seen by every record that took it meanwhile.
    List(Rc<RefCell<XList>>),
    /// The trace's attributes, as they were when the event ended.
    Dict(Rc<Attrs>),
    /// What `read_xes` writes under `__bad__` for a typed attribute that is not of its type: the
    /// attribute's key, its text and its type.
    Bad(Rc<(Option<Str>, Str, &'static str)>),
}

impl Default for XValue {
    fn default() -> Self {
        XValue::Scalar(Value::None)
    }
}

/// A list's items. Dropped without recursion: an XES file may nest lists as deep as it likes.
#[derive(Debug, Default)]
pub struct XList(pub Vec<XValue>);

impl Drop for XList {
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.0);
        while let Some(v) = stack.pop() {
            if let XValue::List(rc) = v {
                if let Ok(cell) = Rc::try_unwrap(rc) {
                    stack.append(&mut cell.into_inner().0);
                }
            }
        }
    }
}

impl XValue {
    /// Python's truth of the value.
    pub fn truthy(&self) -> bool {
        match self {
            XValue::Scalar(v) => v.truthy(),
            XValue::List(l) => !l.borrow().0.is_empty(),
            XValue::Dict(d) => !d.items.is_empty(),
            XValue::Bad(_) => true,
        }
    }

    /// Not None and not "" (`_clean_data` keeps it).
    pub fn filled(&self) -> bool {
        match self {
            XValue::Scalar(Value::None) => false,
            XValue::Scalar(Value::Str(s)) => !s.is_empty(),
            _ => true,
        }
    }

    /// An object, or a list holding an object or a list (`mapping._structured`).
    pub fn structured(&self) -> bool {
        match self {
            XValue::Dict(_) => true,
            XValue::List(l) => l
                .borrow()
                .0
                .iter()
                .any(|v| matches!(v, XValue::List(_) | XValue::Dict(_))),
            _ => false,
        }
    }

    /// How deep lists and objects nest in the value (a scalar 0, `[]` 1), counted up to `cap + 1`.
    pub fn depth(&self, cap: usize) -> usize {
        if matches!(self, XValue::Scalar(_) | XValue::Bad(_)) {
            return 0;
        }
        let mut deepest = 0;
        let mut stack: Vec<(XValue, usize)> = vec![(self.clone(), 0)];
        while let Some((v, level)) = stack.pop() {
            match v {
                XValue::List(l) => {
                    deepest = deepest.max(level + 1);
                    if level < cap {
                        stack.extend(l.borrow().0.iter().map(|c| (c.clone(), level + 1)));
                    }
                }
                XValue::Dict(d) => {
                    deepest = deepest.max(level + 1);
                    if level < cap {
                        stack.extend(d.items.iter().map(|(_, c)| (c.clone(), level + 1)));
                    }
                }
                _ => {}
            }
            if deepest > cap {
                break;
            }
        }
        deepest
    }

    /// The value as the core holds it (nested no deeper than the event's nesting limit allows:
    /// checked first).
    pub fn to_value(&self) -> Value {
        match self {
            XValue::Scalar(v) => v.clone(),
            XValue::List(l) => Value::List(Arc::new(
                l.borrow().0.iter().map(XValue::to_value).collect(),
            )),
            XValue::Dict(d) => Value::Dict(Arc::new(
                d.items
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            )),
            XValue::Bad(b) => Value::Str(b.1.clone()),
        }
    }

    /// `to_value` for a value that may nest past any limit: deeper lists are cut (empty).
    pub fn to_value_capped(&self, cap: usize) -> Value {
        if self.depth(cap) <= cap {
            self.to_value()
        } else {
            Value::List(Arc::new(Vec::new()))
        }
    }

    /// `get_path(value, path)` (`sopengine.expr`): a numeric segment indexes a list.
    pub fn path(&self, path: &str) -> XValue {
        match self {
            XValue::List(l) => {
                let (head, rest) = match path.split_once('.') {
                    Some((h, r)) => (h, Some(r)),
                    None => (path, None),
                };
                if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit()) {
                    return XValue::default();
                }
                let items = l.borrow();
                let Some(item) = head.parse::<usize>().ok().and_then(|i| items.0.get(i)) else {
                    return XValue::default();
                };
                match rest {
                    Some(rest) if !rest.is_empty() => item.path(rest),
                    _ => item.clone(),
                }
            }
            XValue::Dict(d) => d.path(path),
            _ => XValue::default(),
        }
    }
}

/// A Python dict of attributes: a key set again keeps its place and takes the new value.
#[derive(Clone, Debug, Default)]
pub struct Attrs {
    items: Vec<(Str, XValue)>,
    /// Key -> place, once there are many keys.
    index: Option<FxHashMap<Str, usize>>,
}

const INDEXED: usize = 16;

impl Attrs {
    fn place(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.items.iter().position(|(k, _)| &**k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&XValue> {
        self.place(key).map(|i| &self.items[i].1)
    }

    /// `d[key] = value`.
    pub fn set(&mut self, key: Str, value: XValue) {
        match self.place(&key) {
            Some(i) => self.items[i].1 = value,
            None => self.push(key, value),
        }
    }

    /// `d.setdefault(key, value)`.
    pub fn set_default(&mut self, key: &Str, value: &XValue) {
        if self.place(key).is_none() {
            self.push(key.clone(), value.clone());
        }
    }

    fn push(&mut self, key: Str, value: XValue) {
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.items.len());
        }
        self.items.push((key, value));
        if self.index.is_none() && self.items.len() > INDEXED {
            self.index = Some(
                self.items
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
    }

    /// `d.pop(key, None)`.
    pub fn pop(&mut self, key: &str) -> Option<XValue> {
        let i = self.place(key)?;
        let (_, value) = self.items.remove(i);
        if let Some(index) = &mut self.index {
            index.remove(key);
            for place in index.values_mut() {
                if *place > i {
                    *place -= 1;
                }
            }
        }
        Some(value)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Str, XValue)> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Str, &mut XValue)> {
        self.items.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `get_path(record, path)`: the key itself, else the dotted path walked through what it
    /// names (`trace.concept:name`).
    pub fn path(&self, path: &str) -> XValue {
        if let Some(v) = self.get(path) {
            return v.clone();
        }
        let mut cut = 0;
        while let Some(dot) = path[cut..].find('.') {
            let head = &path[..cut + dot];
            if let Some(v) = self.get(head) {
                return v.path(&path[cut + dot + 1..]);
            }
            cut += dot + 1;
        }
        XValue::default()
    }
}
