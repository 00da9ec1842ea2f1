//! `cross_case`: at an event, another case in a declared index under the same key matches `match`.
//! At the event a probe is recorded; `join` answers it once every case is known.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{on_when, Rule};
use crate::engine::{field, Builder, CExpr};
use crate::event::Event;
use crate::expr::Raise;
use crate::findings::Probe;
use crate::run::{CaseRun, Runner};

pub struct CrossCase {
    pub on: Vec<u32>,
    pub when: Option<CExpr>,
    pub index: u32,
    pub key: CExpr,
    pub matcher: Option<CExpr>,
    /// What a probe keeps: the state variables and data fields its match and message read.
    pub probe_state: Vec<usize>,
    pub probe_data: Vec<u32>,
}

pub fn build(b: &Builder, raw: &Json) -> Result<CrossCase, String> {
    let (on, when) = on_when(b, raw)?;
    let names: Vec<String> = field(raw, "probe_data")?;
    let mut probe_data: Vec<u32> = names
        .iter()
        .filter_map(|n| b.field_index.get(n.as_str()).copied())
        .collect();
    probe_data.sort_unstable();
    Ok(CrossCase {
        on,
        when,
        index: field(raw, "index")?,
        key: b.expr(&field(raw, "key")?)?,
        matcher: b.opt_expr(&field(raw, "match")?)?,
        probe_state: field(raw, "probe_state")?,
        probe_data,
    })
}

pub fn probe(
    r: &mut Runner,
    run: &mut CaseRun,
    idx: u32,
    rule: &Rule,
    k: &CrossCase,
    e: &Arc<Event>,
) {
    if !r.gate(run, idx, rule, k.when.as_ref(), e) {
        return;
    }
    let key = match r.value(run, &k.key, Some(e), None) {
        Ok(v) => v.freeze(),
        Err(Raise::MissingFact(reason)) => return r.undecided(run, idx, Some(e), reason),
        Err(Raise::Error { message, .. }) => {
            return r.undecided(
                run,
                idx,
                Some(e),
                format!("index key could not be computed: {message}"),
            )
        }
    };
    // Keep only what the answer will read: probes wait for every case to be known.
    let state = k
        .probe_state
        .iter()
        .map(|&v| (v, crate::run::snapshot(&run.state[v])))
        .collect();
    let data = e
        .data
        .iter()
        .filter(|(f, _)| k.probe_data.binary_search(f).is_ok())
        .cloned()
        .collect();
    let slim = Event {
        data,
        ..(**e).clone()
    };
    let accountable = r.accountable(run, idx);
    crate::run::push_tight(
        &mut run.probes,
        Probe {
            rule: idx,
            index: k.index,
            event: Arc::new(slim),
            state,
            key,
            accountable,
        },
    );
}
