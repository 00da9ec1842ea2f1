//! Cross-case rules answered once every case is known: for each (index, key), probes and the
//! intervals during which cases were members are swept together in position order; the members
//! open at a probe's position are those just before its event.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use crate::engine::Engine;
use crate::expr::Raise;
use crate::findings::{Interval, Packed, Position, Probe, Undecided, Violation};
use crate::kinds::Kind;
use crate::run::{Facts, Scope, StateView};
use crate::value::{Str, Value};

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
#[derive(Default)]
pub struct Answers {
    pub violations: Packed,
    pub undecided: Vec<Undecided>,
    pub passed: Vec<(u32, u64)>,
}

impl Answers {
    fn pass(&mut self, rule: u32, n: u64) {
        match self.passed.iter_mut().find(|(r, _)| *r == rule) {
            Some(slot) => slot.1 += n,
            None => self.passed.push((rule, n)),
        }
    }
}

/// A probe as the sweep orders it: its key's group, its event's position, and where the probe
/// itself is ([`Records::probe`]).
struct ProbeAt {
    group: u32,
    time: f64,
    case: Str,
    seq: u64,
    at: usize,
}

impl ProbeAt {
    fn position(&self) -> Position<'_> {
        Position {
            time: self.time,
            case: &self.case,
            seq: self.seq,
        }
    }
}

/// An interval as the sweep orders it: its key's group, when it began and ended, its case, and
/// where the interval itself is ([`Records::interval`]: its attributes are read only when a probe
/// asks about it).
struct IntervalAt {
    group: u32,
    from: (f64, u64),
    until: Option<(f64, u64)>,
    case: Str,
    at: usize,
}

impl IntervalAt {
    fn start(&self) -> Position<'_> {
        Position {
            time: self.from.0,
            case: &self.case,
            seq: self.from.1,
        }
    }

    fn end(&self) -> Option<Position<'_>> {
        self.until.map(|(time, seq)| Position {
            time,
            case: &self.case,
            seq,
        })
    }
}

/// Where the probes and intervals the sweep places are: in memory, or in partition files.
trait Records {
    fn probe(&self, at: usize) -> Cow<'_, Probe>;
    fn interval(&self, at: usize) -> Cow<'_, Interval>;
}

struct InMemory<'a> {
    probes: &'a [Probe],
    intervals: &'a [Interval],
}

impl Records for InMemory<'_> {
    fn probe(&self, at: usize) -> Cow<'_, Probe> {
        Cow::Borrowed(&self.probes[at])
    }

    fn interval(&self, at: usize) -> Cow<'_, Interval> {
        Cow::Borrowed(&self.intervals[at])
    }
}

/// Numbers for keys: records of one (index, key) share a group.
#[derive(Default)]
struct Groups(FxHashMap<Vec<u8>, u32>);

impl Groups {
    fn of(&mut self, key: &[u8]) -> u32 {
        if let Some(&g) = self.0.get(key) {
            return g;
        }
        let g = self.0.len() as u32;
        self.0.insert(key.to_vec(), g);
        g
    }
}

/// The bytes that group a record: its index, then its key as [`put_key`] writes it.
fn group_key(index: u32, key: &Value, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&index.to_le_bytes());
    put_key(key, out);
}

pub fn join(engine: &Engine, facts: &Facts, probes: &[Probe], intervals: &[Interval]) -> Answers {
    let mut groups = Groups::default();
    let mut scratch = Vec::new();
    let mut group = |index: u32, key: &Value| {
        group_key(index, key, &mut scratch);
        groups.of(&scratch)
    };
    let ivs = intervals
        .iter()
        .enumerate()
        .map(|(at, iv)| IntervalAt {
            group: group(iv.index, &iv.key),
            from: iv.from,
            until: iv.until,
            case: iv.case.clone(),
            at,
        })
        .collect();
    let ps = probes
        .iter()
        .enumerate()
        .map(|(at, p)| ProbeAt {
            group: group(p.index, &p.key),
            time: p.event.time,
            case: p.event.case.clone(),
            seq: p.event.seq,
            at,
        })
        .collect();
    let mut out = Answers::default();
    sweep(
        engine,
        facts,
        ps,
        ivs,
        &InMemory { probes, intervals },
        &mut out,
    );
    out
}

/// Every group's probes, each against the intervals of its group open just before its event.
fn sweep(
    engine: &Engine,
    facts: &Facts,
    mut probes: Vec<ProbeAt>,
    mut ivs: Vec<IntervalAt>,
    records: &impl Records,
    out: &mut Answers,
) {
    // stable, as Python's sort: equal positions keep the order the records came in
    probes.sort_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then_with(|| a.position().cmp(&b.position()))
    });
    ivs.sort_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then_with(|| a.start().cmp(&b.start()))
    });
    let mut rest = &ivs[..];
    for group in probes.chunk_by(|a, b| a.group == b.group) {
        let g = group[0].group;
        rest = &rest[rest.partition_point(|iv| iv.group < g)..];
        let (mine, after) = rest.split_at(rest.partition_point(|iv| iv.group == g));
        rest = after;
        sweep_group(engine, facts, group, mine, records, out);
    }
}

/// One group's probes in position order, its intervals in start order.
fn sweep_group(
    engine: &Engine,
    facts: &Facts,
    probes: &[ProbeAt],
    ivs: &[IntervalAt],
    records: &impl Records,
    out: &mut Answers,
) {
    // indexes into ivs, in start order (a set: the members of one key can be many, and each
    // leaves when its interval ends)
    let mut active: BTreeSet<usize> = BTreeSet::new();
    // the active intervals some probe has read, while they stay active
    let mut read: FxHashMap<usize, Cow<Interval>> = FxHashMap::default();
    let mut ends: BinaryHeap<End> = BinaryHeap::new();
    let mut next = 0;
    let vars = Vec::new();
    for at in probes {
        let probe = records.probe(at.at);
        let e = &probe.event;
        let pos = at.position();
        while next < ivs.len() && ivs[next].start().cmp(&pos) == Ordering::Less {
            active.insert(next);
            if let Some(end) = ivs[next].end() {
                ends.push(End(end, next));
            }
            next += 1;
        }
        while let Some(End(end, i)) = ends.peek() {
            if end.cmp(&pos) == Ordering::Greater {
                break;
            }
            let i = *i;
            ends.pop();
            active.remove(&i);
            read.remove(&i);
        }
        let rule = &engine.rules[probe.rule as usize];
        let Kind::CrossCase(cc) = &rule.kind else {
            continue;
        };
        let ix = &engine.indexes[probe.index as usize];
        let probe_scope = Scope {
            engine,
            facts,
            vars: &vars,
            event: Some(&**e),
            trigger: None,
            state: StateView::Kept(&probe.state),
            other: None,
        };
        let mut hit = None;
        for &i in &active {
            if ivs[i].case == e.case {
                continue;
            }
            let Some(m) = &cc.matcher else {
                hit = Some(i);
                break;
            };
            let iv = read.entry(i).or_insert_with(|| records.interval(ivs[i].at));
            match m.expr.eval(&against(&probe_scope, &ix.names, iv)) {
                Ok(v) if v.truthy() => {
                    hit = Some(i);
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
            None => out.pass(probe.rule, 1),
            Some(i) => {
                let iv = read.entry(i).or_insert_with(|| records.interval(ivs[i].at));
                let message = rule.message.render(&against(&probe_scope, &ix.names, iv));
                out.violations.push(&Violation {
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

/// A probe's scope with an interval's attributes as `other`.
fn against<'s>(probe: &Scope<'s>, names: &'s [Str], iv: &'s Interval) -> Scope<'s> {
    Scope {
        other: Some((names, &iv.attrs)),
        ..*probe
    }
}

/// The join's input: every probe and interval, held in memory, or, for a session that spills,
/// partitioned by key into files, each joined alone (a grace hash join), so that the join needs
/// memory for one partition, not for every case's. Partition files of other processes (the
/// `--jobs` workers, see [`JoinInput::write_parts`]) join in beside this session's own.
///
/// A partition's records are read twice: once in order for what the sweep orders them by (a
/// [`Head`]), then each where it lies in its file when the sweep gets to it. A busy queue's key
/// can hold a large share of a log's probes and intervals, all in one partition: this way the
/// join holds their heads, not the records (at 5M events, one partition's records decoded at once
/// were ~370 MB).
pub enum JoinInput {
    Memory(Vec<Probe>, Vec<Interval>),
    Partitioned {
        files: Vec<BufWriter<File>>,
        /// Other processes' partition files, named `{prefix}{partition}`.
        others: Vec<PathBuf>,
        /// Kept between records: one buffer to encode each into, one for its group key.
        buf: Vec<u8>,
        key: Vec<u8>,
    },
}

/// What a partition record begins with: what the sweep orders it by. The probe or interval itself
/// follows it.
#[derive(serde::Serialize, serde::Deserialize)]
enum Head<'a> {
    Probe {
        #[serde(borrow)]
        group: Bytes<'a>,
        time: f64,
        case: &'a str,
        seq: u64,
    },
    Interval {
        #[serde(borrow)]
        group: Bytes<'a>,
        from: (f64, u64),
        until: Option<(f64, u64)>,
        case: &'a str,
    },
}

/// A byte string as postcard writes bytes (a length, then the bytes), read back borrowed.
struct Bytes<'a>(&'a [u8]);

impl serde::Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(d).map(Bytes)
    }
}

/// The records of one partition in its files: (file, offset, length) of each, by place.
struct OnDisk {
    files: Vec<File>,
    places: Vec<(usize, u64, u32)>,
    buf: RefCell<Vec<u8>>,
}

impl OnDisk {
    /// The record at `at`, decoded past its head. Its file is this program's own: failing to read
    /// it back is a failure of the machine, not of the input.
    fn read<T: serde::de::DeserializeOwned>(&self, at: usize) -> T {
        let (file, offset, len) = self.places[at];
        let mut buf = self.buf.borrow_mut();
        buf.resize(len as usize, 0);
        self.files[file]
            .read_exact_at(&mut buf, offset)
            .expect("reading a join partition");
        let (_, body) =
            postcard::take_from_bytes::<Head>(&buf).expect("decoding a join record's head");
        postcard::from_bytes(body).expect("decoding a join record")
    }

    /// Read the heads of `file`'s records onto `probes` and `intervals`.
    fn add_file(
        &mut self,
        file: File,
        groups: &mut Groups,
        cases: &mut FxHashSet<Str>,
        probes: &mut Vec<ProbeAt>,
        intervals: &mut Vec<IntervalAt>,
    ) {
        let mut case = |name: &str| match cases.get(name) {
            Some(c) => c.clone(),
            None => {
                let c: Str = name.into();
                cases.insert(c.clone());
                c
            }
        };
        let index = self.files.len();
        (&file)
            .seek(SeekFrom::Start(0))
            .expect("rewinding a join partition");
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut record = Vec::new();
        let mut offset = 0u64;
        loop {
            let mut len = [0u8; 4];
            match reader.read_exact(&mut len) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                got => got.expect("reading a join partition"),
            }
            let len = u32::from_le_bytes(len);
            record.resize(len as usize, 0);
            reader
                .read_exact(&mut record)
                .expect("reading a join partition");
            let at = self.places.len();
            self.places.push((index, offset + 4, len));
            offset += 4 + u64::from(len);
            let (head, _) =
                postcard::take_from_bytes::<Head>(&record).expect("decoding a join record's head");
            match head {
                Head::Probe {
                    group,
                    time,
                    case: c,
                    seq,
                } => probes.push(ProbeAt {
                    group: groups.of(group.0),
                    time,
                    case: case(c),
                    seq,
                    at,
                }),
                Head::Interval {
                    group,
                    from,
                    until,
                    case: c,
                } => intervals.push(IntervalAt {
                    group: groups.of(group.0),
                    from,
                    until,
                    case: case(c),
                    at,
                }),
            }
        }
        drop(reader);
        self.files.push(file);
    }
}

impl Records for OnDisk {
    fn probe(&self, at: usize) -> Cow<'_, Probe> {
        Cow::Owned(self.read(at))
    }

    fn interval(&self, at: usize) -> Cow<'_, Interval> {
        Cow::Owned(self.read(at))
    }
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
                key: Vec::new(),
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
            key: Vec::new(),
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
            JoinInput::Partitioned {
                files, buf, key, ..
            } => {
                for p in probes {
                    group_key(p.index, &p.key, key);
                    let head = Head::Probe {
                        group: Bytes(key),
                        time: p.event.time,
                        case: &p.event.case,
                        seq: p.event.seq,
                    };
                    put_record(files, buf, &head, &p);
                }
                for iv in intervals {
                    group_key(iv.index, &iv.key, key);
                    let head = Head::Interval {
                        group: Bytes(key),
                        from: iv.from,
                        until: iv.until,
                        case: &iv.case,
                    };
                    put_record(files, buf, &head, &iv);
                }
            }
        }
    }

    /// Join every partition, `threads` at a time; the answers are the same as one join over
    /// everything.
    pub fn join(self, engine: &Engine, facts: &Facts, threads: usize) -> Answers {
        match self {
            JoinInput::Memory(probes, intervals) => join(engine, facts, &probes, &intervals),
            JoinInput::Partitioned { files, others, .. } => {
                let files: Vec<File> = files
                    .into_iter()
                    .map(|f| f.into_inner().expect("flushing a join partition"))
                    .collect();
                let next = AtomicUsize::new(0);
                let work = || {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, AtomicOrdering::Relaxed);
                        let Some(file) = files.get(k) else {
                            return done;
                        };
                        let file = file.try_clone().expect("opening a join partition again");
                        done.push((k, join_partition(engine, facts, file, &others, k)));
                    }
                };
                let mut answers = std::thread::scope(|s| {
                    let helpers: Vec<_> = (1..threads.clamp(1, files.len()))
                        .map(|_| s.spawn(work))
                        .collect();
                    let mut all = work();
                    for h in helpers {
                        all.extend(h.join().expect("a join thread"));
                    }
                    all
                });
                // in partition order, whichever thread joined each
                answers.sort_by_key(|(k, _)| *k);
                let mut out = Answers::default();
                for (_, a) in answers {
                    out.violations.append(a.violations);
                    out.undecided.extend(a.undecided);
                    for (rule, n) in a.passed {
                        out.pass(rule, n);
                    }
                }
                out
            }
        }
    }
}

/// The answers of partition `k`: this session's `file` and the other processes' files of it.
fn join_partition(
    engine: &Engine,
    facts: &Facts,
    file: File,
    others: &[PathBuf],
    k: usize,
) -> Answers {
    let mut disk = OnDisk {
        files: Vec::new(),
        places: Vec::new(),
        buf: RefCell::new(Vec::new()),
    };
    let (mut groups, mut cases) = (Groups::default(), FxHashSet::default());
    let (mut probes, mut intervals) = (Vec::new(), Vec::new());
    let mut add = |disk: &mut OnDisk, file: File| {
        disk.add_file(file, &mut groups, &mut cases, &mut probes, &mut intervals)
    };
    add(&mut disk, file);
    for prefix in others {
        let file = File::open(part_path(prefix, k)).expect("opening a worker's join partition");
        add(&mut disk, file);
    }
    drop(cases);
    let mut out = Answers::default();
    sweep(engine, facts, probes, intervals, &disk, &mut out);
    out
}

/// Write a record to the partition its group falls in: its length (4 bytes), its head, then the
/// probe or interval itself (`buf`: kept by the caller, so that no record allocates one).
fn put_record(
    files: &mut [BufWriter<File>],
    buf: &mut Vec<u8>,
    head: &Head,
    body: &impl serde::Serialize,
) {
    let (Head::Probe { group, .. } | Head::Interval { group, .. }) = head;
    let hash = BuildHasherDefault::<FxHasher>::default().hash_one(group.0);
    let file = &mut files[(hash % files.len() as u64) as usize];
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    *buf = postcard::to_extend(head, std::mem::take(buf)).expect("encoding a join record");
    *buf = postcard::to_extend(body, std::mem::take(buf)).expect("encoding a join record");
    let len = u32::try_from(buf.len() - 4).expect("a join record under 4 GiB");
    buf[..4].copy_from_slice(&len.to_le_bytes());
    file.write_all(buf).expect("writing a join partition");
}

fn part_path(prefix: &Path, k: usize) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(k.to_string());
    PathBuf::from(name)
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
