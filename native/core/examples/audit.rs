//! Time the core alone on a log: `cargo run --release --example audit -- PLAN.json FACTS.json LOG.jsonl [RESIDENT_CASES]`.
//! Prints the time spent reading only, reading plus evaluating, and judging plus the cross-case
//! join, and the resident memory after each (the plan and facts as `sopengine.native.emit` and
//! `facts_json` write them; `benchmarks/bench_audit.py --core` makes both).

use std::sync::Arc;
use std::time::Instant;

use sopengine_core::engine::Engine;
use sopengine_core::reader::{open, JsonlReader, Record};
use sopengine_core::run::Facts;
use sopengine_core::session::Session;

/// CPU seconds (user + system) this process has used: wall time is noisy on a shared machine.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0 // utime and stime, in USER_HZ ticks (100 on Linux)
}

/// The allocator the Python module uses (see `native/py/src/lib.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let plan = std::fs::read_to_string(&args[1]).expect("plan");
    let engine = Arc::new(Engine::from_json(&plan).expect("engine"));
    let facts_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("facts"))
            .expect("facts json");
    let mut facts = Facts::default();
    if let serde_json::Value::Object(colls) = facts_json {
        for (name, records) in colls {
            let mut by_id = rustc_hash::FxHashMap::default();
            for (id, fields) in records.as_object().into_iter().flatten() {
                let rec = fields
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), sopengine_core::tv::decode(v).expect("tv")))
                    .collect();
                by_id.insert(id.clone(), rec);
            }
            facts.insert(name, by_id);
        }
    }
    let cfg = engine.reader_config(1_000_000);
    let path = std::path::Path::new(&args[3]);
    let (t, c) = (Instant::now(), cpu());
    let n = JsonlReader::new(open(path, 1000).expect("log"), &cfg, 0, "log", 0).count();
    let (read, read_cpu) = (t.elapsed(), cpu() - c);
    let (t, c) = (Instant::now(), cpu());
    let mut session = Session::new(engine.clone(), Arc::new(facts), false);
    if let Some(limit) = args.get(4) {
        session.set_resident_limit(limit.parse().expect("a resident case limit"));
    }
    for record in JsonlReader::new(open(path, 1000).expect("log"), &cfg, 0, "log", 0) {
        if let Ok(Record::Event(e)) = record {
            let _ = session.feed(e);
        }
    }
    let (fed, fed_cpu) = (t.elapsed(), cpu() - c);
    let rss = |label: &str| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or("")
            .to_string();
        eprintln!("{label}: {line}");
    };
    rss("after feeding");
    let (spilled, bytes, _) = session.spill_stats();
    eprintln!(
        "spilled: {spilled} cases, {:.1} MB written",
        bytes as f64 / 1e6
    );
    if std::env::var_os("AUDIT_COUNTS").is_some() {
        let p = session.partial();
        eprintln!(
            "partial: {} violations, {} pending, {} undecided, {} intervals, {} probes",
            p.violations.len(),
            p.pending.len(),
            p.undecided.len(),
            p.intervals.len(),
            p.probes.len()
        );
        rss("after partial");
    }
    let (t, c) = (Instant::now(), cpu());
    let judged = session.result(None, Vec::new(), Vec::new());
    let (judged_in, judged_cpu) = (t.elapsed(), cpu() - c);
    rss("after judging");
    println!(
        "{n} lines: read {:.3}s (cpu {read_cpu:.2}s), read+evaluate {:.3}s (cpu {fed_cpu:.2}s), \
         judge+join {:.3}s (cpu {judged_cpu:.2}s), {} violations",
        read.as_secs_f64(),
        fed.as_secs_f64(),
        judged_in.as_secs_f64(),
        judged.violations.len()
    );
}
