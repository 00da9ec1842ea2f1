//! Cross-case rules answered once every case is known: for each (index, key), probes and the
//! intervals during which cases were members are swept together in position order; the members
//! open at a probe's position are those just before its event.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::engine::Engine;
use crate::expr::Raise;
use crate::findings::{Interval, Position, Probe, Undecided, Violation};
use crate::kinds::Kind;
use crate::run::{Facts, Scope, StateView};
use crate::value::Value;

struct End<'a>(Position<'a>, usize);

impl PartialEq for End<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for End<'_> {}
impl PartialOrd for End<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for End<'_> {
    // reversed: BinaryHeap is a max-heap, the sweep wants the earliest end first
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}

/// What the join found: violations, undecided checks, and per rule the probes that found no match.
pub struct Answers {
    pub violations: Vec<Violation>,
    pub undecided: Vec<Undecided>,
    pub passed: Vec<(u32, u64)>,
}

/// Where a probe's event stands among all cases' events.
fn position(p: &Probe) -> Position<'_> {
    Position {
        time: p.event.time,
        case: &p.event.case,
        seq: p.event.seq,
    }
}

pub fn join(engine: &Engine, facts: &Facts, probes: &[Probe], intervals: &[Interval]) -> Answers {
    let mut out = Answers {
        violations: Vec::new(),
        undecided: Vec::new(),
        passed: Vec::new(),
    };
    let mut members: FxHashMap<(u32, Vec<u8>), Vec<&Interval>> = FxHashMap::default();
    for iv in intervals {
        members
            .entry((iv.index, key_bytes(&iv.key)))
            .or_default()
            .push(iv);
    }
    let mut groups: FxHashMap<(u32, Vec<u8>), Vec<&Probe>> = FxHashMap::default();
    let mut order: Vec<(u32, Vec<u8>)> = Vec::new();
    for p in probes {
        let k = (p.index, key_bytes(&p.key));
        let group = groups.entry(k.clone()).or_default();
        if group.is_empty() {
            order.push(k);
        }
        group.push(p);
    }
    let empty: Vec<&Interval> = Vec::new();
    let vars = Vec::new();
    for k in order {
        let mut group = groups.remove(&k).unwrap_or_default();
        let mut ivs = members.get(&k).unwrap_or(&empty).clone();
        ivs.sort_by(|a, b| a.start().cmp(&b.start())); // stable, as Python's sort
        group.sort_by(|a, b| position(a).cmp(&position(b)));
        // indexes into ivs, in start order (a set: the members of one key can be many, and each
        // leaves when its interval ends)
        let mut active: BTreeSet<usize> = BTreeSet::new();
        let mut ends: BinaryHeap<End> = BinaryHeap::new();
        let mut next = 0;
        for probe in group {
            let e = &probe.event;
            let at = position(probe);
            while next < ivs.len() && ivs[next].start().cmp(&at) == Ordering::Less {
                active.insert(next);
                if let Some(end) = ivs[next].end() {
                    ends.push(End(end, next));
                }
                next += 1;
            }
            while let Some(End(end, i)) = ends.peek() {
                if end.cmp(&at) == Ordering::Greater {
                    break;
                }
                let i = *i;
                ends.pop();
                active.remove(&i);
            }
            let rule = &engine.rules[probe.rule as usize];
            let Kind::CrossCase(cc) = &rule.kind else {
                continue;
            };
            let ix = &engine.indexes[probe.index as usize];
            let scope = |other| Scope {
                engine,
                facts,
                vars: &vars,
                event: Some(&**e),
                trigger: None,
                state: StateView::Kept(&probe.state),
                other,
            };
            let mut hit = None;
            for &i in &active {
                let iv = ivs[i];
                if iv.case == e.case {
                    continue;
                }
                let Some(m) = &cc.matcher else {
                    hit = Some(iv);
                    break;
                };
                match m.expr.eval(&scope(Some((&ix.names, &iv.attrs)))) {
                    Ok(v) if v.truthy() => {
                        hit = Some(iv);
                        break;
                    }
                    Ok(_) => {}
                    Err(raise) => {
                        let message = match raise {
                            Raise::MissingFact(reason) => reason,
                            Raise::Error { message, .. } => message,
                        };
                        out.undecided.push(Undecided {
                            rule: probe.rule,
                            case: e.case.clone(),
                            event: Some(e.id.clone()),
                            reason: format!("match could not be evaluated: {message}"),
                        });
                        break;
                    }
                }
            }
            match hit {
                None => match out.passed.iter_mut().find(|(r, _)| *r == probe.rule) {
                    Some(slot) => slot.1 += 1,
                    None => out.passed.push((probe.rule, 1)),
                },
                Some(iv) => {
                    let message = rule.message.render(&scope(Some((&ix.names, &iv.attrs))));
                    out.violations.push(Violation {
                        more_events: 0,
                        pauses: Vec::new(),
                        rule: probe.rule,
                        case: e.case.clone(),
                        time: e.time,
                        message,
                        events: vec![e.id.clone(), iv.event.clone()],
                        accountable: probe.accountable.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The join's input: every probe and interval, held in memory, or, for a session that spills,
/// partitioned by key into files, each joined alone (a grace hash join), so that the join needs
/// memory for one partition, not for every case's. Partition files of other processes (the
/// `--jobs` workers, see [`JoinInput::write_parts`]) join in beside this session's own.
pub enum JoinInput {
    Memory(Vec<Probe>, Vec<Interval>),
    Partitioned {
        files: Vec<BufWriter<File>>,
        /// Other processes' partition files, named `{prefix}{partition}`.
        others: Vec<PathBuf>,
        /// Kept between records: one buffer to encode each into.
        buf: Vec<u8>,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
enum Part {
    Probe(Probe),
    Interval(Interval),
}

impl JoinInput {
    /// Partitions in unnamed temporary files (in memory if they cannot be made).
    pub fn partitioned(parts: usize, others: Vec<PathBuf>) -> JoinInput {
        let files: std::io::Result<Vec<_>> = (0..parts.max(1))
            .map(|_| Ok(BufWriter::with_capacity(64 << 10, tempfile::tempfile()?)))
            .collect();
        match files {
            Ok(files) => JoinInput::Partitioned {
                files,
                others,
                buf: Vec::new(),
            },
            Err(_) if others.is_empty() => JoinInput::Memory(Vec::new(), Vec::new()),
            Err(e) => panic!("cannot make the join's temporary files: {e}"),
        }
    }

    /// Partitions in files named `{prefix}{partition}`, for another process to join
    /// ([`JoinInput::partitioned`] with the prefix among `others`); flushed by [`JoinInput::finish`].
    pub fn write_parts(parts: usize, prefix: &Path) -> std::io::Result<JoinInput> {
        let files = (0..parts.max(1))
            .map(|k| {
                Ok(BufWriter::with_capacity(
                    64 << 10,
                    File::create(part_path(prefix, k))?,
                ))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(JoinInput::Partitioned {
            files,
            others: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Write out what is buffered (for partitions another process reads).
    pub fn finish(self) -> std::io::Result<()> {
        if let JoinInput::Partitioned { files, .. } = self {
            for file in files {
                file.into_inner().map_err(|e| e.into_error())?;
            }
        }
        Ok(())
    }

    pub fn add(&mut self, probes: Vec<Probe>, intervals: Vec<Interval>) {
        match self {
            JoinInput::Memory(p, i) => {
                p.extend(probes);
                i.extend(intervals);
            }
            JoinInput::Partitioned { files, buf, .. } => {
                let parts = probes
                    .into_iter()
                    .map(|p| (p.index, Part::Probe(p)))
                    .chain(intervals.into_iter().map(|i| (i.index, Part::Interval(i))));
                for (index, part) in parts {
                    let key = match &part {
                        Part::Probe(p) => &p.key,
                        Part::Interval(i) => &i.key,
                    };
                    let hash = partition_hash(key, buf);
                    let n = files.len() as u64;
                    let file = &mut files[((hash ^ index as u64) % n) as usize];
                    // Records follow one another with no length: postcard knows where each ends.
                    buf.clear();
                    *buf = postcard::to_extend(&part, std::mem::take(buf))
                        .expect("encoding a join record");
                    file.write_all(buf).expect("writing a join partition");
                }
            }
        }
    }

    /// Join every partition; the answers are the same as one join over everything.
    pub fn join(self, engine: &Engine, facts: &Facts) -> Answers {
        match self {
            JoinInput::Memory(probes, intervals) => join(engine, facts, &probes, &intervals),
            JoinInput::Partitioned { files, others, .. } => {
                let mut out = Answers {
                    violations: Vec::new(),
                    undecided: Vec::new(),
                    passed: Vec::new(),
                };
                for (k, file) in files.into_iter().enumerate() {
                    let mut file = file.into_inner().expect("flushing a join partition");
                    file.seek(SeekFrom::Start(0))
                        .expect("rewinding a join partition");
                    let (mut probes, mut intervals) = (Vec::new(), Vec::new());
                    read_partition(file, &mut probes, &mut intervals);
                    for prefix in &others {
                        let file = File::open(part_path(prefix, k))
                            .expect("opening a worker's join partition");
                        read_partition(file, &mut probes, &mut intervals);
                    }
                    let answers = join(engine, facts, &probes, &intervals);
                    out.violations.extend(answers.violations);
                    out.undecided.extend(answers.undecided);
                    for (rule, n) in answers.passed {
                        match out.passed.iter_mut().find(|(r, _)| *r == rule) {
                            Some(slot) => slot.1 += n,
                            None => out.passed.push((rule, n)),
                        }
                    }
                }
                out
            }
        }
    }
}

fn part_path(prefix: &Path, k: usize) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(k.to_string());
    PathBuf::from(name)
}

/// The hash that places a key's records in a partition (`scratch`: a buffer for its bytes, kept
/// by the caller so that no record allocates one).
fn partition_hash(key: &Value, scratch: &mut Vec<u8>) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    scratch.clear();
    put_key(key, scratch);
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(&scratch[..])
}

/// A partition's records, read back onto `probes` and `intervals` (the file at once: a partition
/// is a small share of the join). Its file is this program's own: failing to read it back is a
/// failure of the machine, not of the input.
fn read_partition(mut file: File, probes: &mut Vec<Probe>, intervals: &mut Vec<Interval>) {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .expect("reading a join partition");
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let (part, more) = postcard::take_from_bytes(rest).expect("decoding a join record");
        match part {
            Part::Probe(p) => probes.push(p),
            Part::Interval(i) => intervals.push(i),
        }
        rest = more;
    }
}

/// Bytes equal for keys Python treats as the same dict key (1, 1.0 and True; a tuple and its items).
pub fn key_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_key(v, &mut out);
    out
}

fn put_key(v: &Value, out: &mut Vec<u8>) {
    let int = |out: &mut Vec<u8>, i: i128| {
        out.push(b'I');
        out.extend_from_slice(&i.to_le_bytes());
    };
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(b) => int(out, *b as i128),
        Value::Int(i) => int(out, *i as i128),
        Value::Big(i) => int(out, **i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => int(out, *f as i128),
        Value::Float(f) => {
            out.push(b'F');
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(b'S');
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::List(items) | Value::Tuple(items) => {
            out.push(if matches!(v, Value::List(_)) {
                b'L'
            } else {
                b'T'
            });
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items.iter() {
                put_key(item, out);
            }
        }
        Value::Set(items) | Value::FrozenSet(items) => {
            let mut keys: Vec<Vec<u8>> = items.iter().map(key_bytes).collect();
            keys.sort();
            out.push(b'E');
            out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
            for k in keys {
                out.extend_from_slice(&k);
            }
        }
        Value::Dict(pairs) => {
            out.push(b'D');
            out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
            for (k, x) in pairs.iter() {
                put_key(&Value::Str(k.clone()), out);
                put_key(x, out);
            }
        }
    }
}
