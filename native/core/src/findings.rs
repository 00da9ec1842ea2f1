//! What the evaluator finds: values, made once and merged across workers; rendered only at output.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::value::{Num, Str, Value};

/// Event ids a finding lists; it counts the others (`more_events`; `sopengine.findings.MAX_EVIDENCE`).
pub const MAX_EVIDENCE: usize = 20;

/// Missed deadlines one repeating obligation lists (`sopengine.findings.MAX_REPEATS`).
pub const MAX_REPEATS: u64 = 1_000;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    pub rule: u32,
    pub case: Str,
    pub time: f64,
    pub message: String,
    pub events: Vec<Str>,
    /// Evidence ids past the [`MAX_EVIDENCE`] listed.
    pub more_events: u64,
    /// Who answers for it: the rule's accountable expression over the case's state when it arose.
    pub accountable: Option<Str>,
    /// When the obligation's clock stood still before it (all ended).
    pub pauses: Pauses,
}

/// Violations encoded one after another (postcard), with where each ends. At the end of an audit
/// its violations are most of what it holds: at 5M events of the benchmark log, ~600k of them took
/// ~380 bytes each as values (a struct, its message, its evidence ids each their own allocation),
/// ~220 packed.
#[derive(Clone, Default, Debug, serde::Serialize, serde::Deserialize)]
pub struct Packed {
    bytes: Vec<u8>,
    ends: Vec<u64>,
}

/// What a packed violation begins with, read without decoding the rest.
#[derive(serde::Deserialize)]
pub struct Head<'a> {
    pub rule: u32,
    pub case: &'a str,
    pub time: f64,
}

impl Packed {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn push(&mut self, v: &Violation) {
        let bytes = std::mem::take(&mut self.bytes);
        self.bytes = postcard::to_extend(v, bytes).expect("a violation always encodes");
        self.ends.push(self.bytes.len() as u64);
    }

    pub fn append(&mut self, other: Packed) {
        let base = self.bytes.len() as u64;
        self.bytes.extend_from_slice(&other.bytes);
        self.ends
            .extend(other.ends.into_iter().map(|end| base + end));
    }

    fn slice(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Violation `i`. Its bytes are this program's own: failing to decode them is a fault of the
    /// program, not of the input.
    pub fn get(&self, i: usize) -> Violation {
        postcard::from_bytes(self.slice(i)).expect("decoding a packed violation")
    }

    /// Violation `i`'s rule, case and time.
    pub fn head(&self, i: usize) -> Head<'_> {
        postcard::take_from_bytes(self.slice(i))
            .expect("decoding a packed violation")
            .0
    }

    pub fn iter(&self) -> impl Iterator<Item = Violation> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl Extend<Violation> for Packed {
    fn extend<I: IntoIterator<Item = Violation>>(&mut self, iter: I) {
        for v in iter {
            self.push(&v);
        }
    }
}

impl From<Vec<Violation>> for Packed {
    fn from(vs: Vec<Violation>) -> Packed {
        let mut out = Packed::default();
        out.extend(vs);
        out
    }
}

/// When an obligation's clock stood still (a response rule's `pause`): (from, until); until None
/// while it still stands (`sopengine.findings.Pauses`).
pub type Pauses = Vec<(f64, Option<f64>)>;

/// `pauses` with one still standing ended at `at` (`sopengine.findings.closed`).
pub fn closed(pauses: &Pauses, at: f64) -> Pauses {
    let mut out = pauses.clone();
    if let Some(last) = out.last_mut().filter(|p| p.1.is_none()) {
        last.1 = Some(at);
    }
    out
}

/// A finding's evidence: the first [`MAX_EVIDENCE`] distinct ids, in order, and how many other
/// distinct ids there are (`sopengine.findings.cite`).
pub fn cite(ids: Vec<Str>) -> (Vec<Str>, u64) {
    let mut out: Vec<Str> = Vec::with_capacity(ids.len().min(MAX_EVIDENCE));
    if ids.len() <= MAX_EVIDENCE {
        for id in ids {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        return (out, 0);
    }
    let mut seen: FxHashSet<Str> = FxHashSet::default();
    let mut more = 0;
    for id in ids {
        if seen.insert(id.clone()) {
            if out.len() < MAX_EVIDENCE {
                out.push(id);
            } else {
                more += 1;
            }
        }
    }
    (out, more)
}

/// The deadlines of a repeating obligation missed from `due` up to `before`, each handed to
/// `violation` (`missed`: how many it reported before); past [`MAX_REPEATS`] one more stands for
/// all the rest up to `before`, and says so, and later ones are skipped: counted, not walked.
/// Returns the next deadline and the misses reported or stood for
/// (`sopengine.findings.missed_deadlines`, operation for operation).
pub fn missed_deadlines(
    mut missed: u64,
    mut due: f64,
    every: f64,
    before: f64,
    message: &str,
    mut violation: impl FnMut(f64, String),
) -> (f64, u64) {
    while due < before && missed < MAX_REPEATS {
        violation(due, message.to_owned());
        missed += 1;
        due += every;
    }
    if due < before && !before.is_infinite() {
        let skipped = ((before - due) / every).ceil();
        if missed == MAX_REPEATS {
            let text = if skipped == 1.0 {
                message.to_owned()
            } else {
                let last = due + (skipped - 1.0) * every;
                let last = crate::pyfmt::format_time(Num::Float(last)).unwrap_or_default();
                format!(
                    "{message} [missed {} more time(s) after this, the last at {last}; an obligation \
                     lists at most {MAX_REPEATS} misses]",
                    skipped as u64 - 1
                )
            };
            violation(due, text);
        }
        missed += skipped as u64;
        due += skipped * every;
    }
    (due, missed)
}

/// How an obligation with a deadline ended (`sopengine.findings.OUTCOMES`): met by its deadline,
/// met after it, not met, still open at as-of and not yet due.
pub const ON_TIME: usize = 0;
pub const LATE: usize = 1;
pub const MISSED: usize = 2;
pub const OPEN: usize = 3;

/// (rule, ISO week of the deadline as `year * 100 + week`, accountable).
pub type AttainmentKey = (u32, i64, Option<Str>);

/// Obligation outcomes by (rule, week, accountable): counts, never the obligations.
pub type Attainment = FxHashMap<AttainmentKey, [u64; 4]>;

/// Count an obligation of `rule` due at `due` that ended as `outcome` (`sopengine.findings.tally`).
pub fn tally(counts: &mut Attainment, rule: u32, due: f64, who: Option<Str>, outcome: usize) {
    counts.entry((rule, iso_week(due), who)).or_default()[outcome] += 1;
}

pub fn add_counts(into: &mut Attainment, other: Attainment) {
    for (key, row) in other {
        let mine = into.entry(key).or_default();
        for (m, n) in mine.iter_mut().zip(row) {
            *m += n;
        }
    }
}

/// The ISO 8601 week (UTC) of an instant as `year * 100 + week` (`sopengine.timeutil.iso_week`:
/// whole-day calendar arithmetic, Howard Hinnant's, the same for any finite time).
pub fn iso_week(epoch: f64) -> i64 {
    let days = (epoch / 86_400.0).floor() as i64;
    let thursday = days - (days + 3).rem_euclid(7) + 3; // the week's Thursday names its year
    let year = civil_year(thursday);
    year * 100 + (thursday - days_from_civil(year, 1, 1)).div_euclid(7) + 1
}

fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    yoe + era * 400 + i64::from(mp >= 10)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Undecided {
    pub rule: u32,
    pub case: Str,
    pub event: Option<Str>,
    pub reason: String,
}

/// An obligation or a broken invariant still open after a case's last event; judged at the as-of time.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub rule: u32,
    pub case: Str,
    pub action: String,
    pub message: String,
    pub since: f64,
    pub start: f64,
    pub due: Option<f64>,
    pub every: Option<f64>,
    pub events: Vec<Str>,
    /// The pack's worklist columns from the case's last state.
    pub columns: Arc<Vec<Value>>,
    /// Evidence ids past the listed ones.
    pub more_events: u64,
    /// Deadlines of a repeating obligation reported missed while its case was evaluated.
    pub missed: u64,
    /// Who is accountable, from the case's last state: the state at any deadline after it.
    pub accountable: Option<Str>,
    /// An obligation with a deadline: its outcome counts in the attainment.
    pub attained: bool,
    /// The time of the case's last event: its end, when its log is complete.
    pub last: f64,
    /// The pack's `complete.when` held after the case's last event: the case has ended.
    pub ended: bool,
    /// The pack's `complete.idle`: the case has ended once this long passed without events.
    pub idle: Option<f64>,
    /// The zone of the business calendar its deadline counted in (none: every hour).
    pub zone: Option<Str>,
    /// When its clock stood still; one still standing: paused (`due` is then the deadline as it
    /// stood when the pause began: it counts in the attainment, and no deadline passes).
    pub pauses: Pauses,
}

impl Pending {
    pub fn paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.1.is_none())
    }

    /// The deadline a next action or worklist item shows: none while the clock stands still.
    pub fn shown_due(&self) -> Option<f64> {
        if self.paused() {
            None
        } else {
            self.due
        }
    }

    /// Whether the case had ended by `limit` (`Pending.has_ended`).
    pub fn has_ended(&self, complete: bool, limit: f64) -> bool {
        complete || self.ended || self.idle.is_some_and(|idle| self.last + idle <= limit)
    }

    /// The violation of an obligation still open when its case ended (`Pending.at_end`).
    pub fn at_end(&self) -> Violation {
        Violation {
            rule: self.rule,
            case: self.case.clone(),
            time: self.last,
            message: format!("{} [still open when the case ended]", self.message),
            events: self.events.clone(),
            more_events: self.more_events,
            accountable: self.accountable.clone(),
            pauses: closed(&self.pauses, self.last),
        }
    }

    /// The violations of its deadlines before `limit`, into `out`; then, if it is still open at
    /// `limit`, its next deadline (`sopengine.findings.Pending.judge`).
    pub fn judge(&self, limit: f64, out: &mut Vec<Violation>) -> Option<Option<f64>> {
        let Some(due) = self.shown_due().filter(|&due| due < limit) else {
            return Some(self.shown_due());
        };
        let mut violation = |time: f64, message: String| {
            out.push(Violation {
                rule: self.rule,
                case: self.case.clone(),
                time,
                message,
                events: self.events.clone(),
                more_events: self.more_events,
                accountable: self.accountable.clone(),
                pauses: self.pauses.clone(),
            })
        };
        match self.every {
            None => {
                violation(due, self.message.clone());
                None
            }
            Some(every) => {
                let (next, _) =
                    missed_deadlines(self.missed, due, every, limit, &self.message, violation);
                Some(Some(next))
            }
        }
    }
}

/// Where an event stands among all cases' events: time, then case, then input order.
#[derive(Clone, Copy, Debug)]
pub struct Position<'a> {
    pub time: f64,
    pub case: &'a str,
    pub seq: u64,
}

impl Ord for Position<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.time
            .total_cmp(&other.time)
            .then_with(|| self.case.cmp(other.case))
            .then_with(|| self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Position<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Position<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Position<'_> {}

/// A case's membership of a cross-case index under one key with one set of attributes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub index: u32,
    pub key: Value,
    pub case: Str,
    /// Time and input order of the event it began at (its case's).
    pub from: (f64, u64),
    /// Time and input order of the event it ended at, if one did.
    pub until: Option<(f64, u64)>,
    /// The values of the index's attributes, then `case` and `since`, in the order of its `names`
    /// ([`crate::engine::IndexDef::names`]: a join holds many intervals, the names once).
    pub attrs: Arc<Vec<Value>>,
    pub event: Str,
}

/// A cross-case rule's question, asked at an event, answered once every case is known.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub rule: u32,
    pub index: u32,
    pub event: Arc<crate::event::Event>,
    /// The state variables its match and message read: (variable, value).
    pub state: Vec<(usize, Value)>,
    pub key: Value,
    /// Who answers for a violation it finds: from the state at the probe.
    pub accountable: Option<Str>,
}

/// Everything a session found before the as-of judgement and the cross-case join; partials merge,
/// also across processes ([`Partial::to_bytes`]).
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    pub events: u64,
    pub cases: u64,
    pub latest: Option<f64>,
    pub violations: Packed,
    pub pending: Vec<Pending>,
    pub undecided: Vec<Undecided>,
    pub intervals: Vec<Interval>,
    pub probes: Vec<Probe>,
    /// Per rule: checks that held or obligations met.
    pub passed: Vec<u64>,
    /// Outcomes of obligations with a deadline settled before the as-of judgement.
    pub attainment: Attainment,
    /// (case, declare rule, times it held), when the session keeps them (`Session::held_by_case`).
    pub held: Vec<(Str, u32, u64)>,
}

impl Partial {
    /// The partial as bytes another process reads back with [`Partial::from_bytes`] (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a partial always encodes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Partial, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("not a partial result of this core: {e}"))
    }

    pub fn absorb(&mut self, other: Partial) {
        self.events += other.events;
        self.cases += other.cases;
        if let Some(t) = other.latest {
            if self.latest.is_none_or(|l| t > l) {
                self.latest = Some(t);
            }
        }
        self.violations.append(other.violations);
        self.pending.extend(other.pending);
        self.undecided.extend(other.undecided);
        self.intervals.extend(other.intervals);
        self.probes.extend(other.probes);
        if self.passed.len() < other.passed.len() {
            self.passed.resize(other.passed.len(), 0);
        }
        for (i, n) in other.passed.into_iter().enumerate() {
            self.passed[i] += n;
        }
        add_counts(&mut self.attainment, other.attainment);
        self.held.extend(other.held);
    }
}

#[cfg(test)]
mod tests {
    use super::{iso_week, Packed, Violation};

    fn violation(case: &str, time: f64, message: &str) -> Violation {
        Violation {
            rule: 7,
            case: case.into(),
            time,
            message: message.to_owned(),
            events: vec!["e1".into(), "e2".into()],
            more_events: 3,
            accountable: Some("queue".into()),
            pauses: vec![(1.0, Some(2.0)), (3.0, None)],
        }
    }

    #[test]
    fn packed_violations_read_back_as_they_went_in_after_appends() {
        let mut a = Packed::from(vec![
            violation("c1", 1.5, "first"),
            violation("c2", 2.0, ""),
        ]);
        let mut b = Packed::default();
        b.push(&violation("c3", -4.0, "third ✓"));
        a.append(b);
        a.append(Packed::default());
        assert_eq!(a.len(), 3);
        let got: Vec<_> = a
            .iter()
            .map(|v| (v.case.to_string(), v.time, v.message))
            .collect();
        assert_eq!(
            got,
            [
                ("c1".to_owned(), 1.5, "first".to_owned()),
                ("c2".to_owned(), 2.0, String::new()),
                ("c3".to_owned(), -4.0, "third ✓".to_owned())
            ]
        );
        let head = a.head(2);
        assert_eq!((head.rule, head.case, head.time), (7, "c3", -4.0));
        let last = a.get(2);
        assert_eq!(last.pauses, vec![(1.0, Some(2.0)), (3.0, None)]);
        assert_eq!(
            (last.more_events, last.accountable.as_deref()),
            (3, Some("queue"))
        );
    }

    /// Midnight UTC of a date, as epoch seconds.
    fn day(y: i64, m: i64, d: i64) -> f64 {
        (super::days_from_civil(y, m, d) * 86_400) as f64
    }

    #[test]
    fn iso_weeks_follow_the_calendar_across_year_ends() {
        assert_eq!(iso_week(0.0), 197_001); // 1970-01-01, a Thursday
        assert_eq!(iso_week(day(2024, 5, 6)), 202_419);
        assert_eq!(iso_week(day(2024, 5, 5) + 86_399.5), 202_418); // the Sunday before, its last second
        assert_eq!(iso_week(day(2021, 1, 3)), 202_053);
        assert_eq!(iso_week(day(2024, 12, 30)), 202_501);
        assert_eq!(iso_week(day(2027, 1, 1)), 202_653);
        assert_eq!(iso_week(day(1969, 12, 29) - 0.5), 196_952); // before the epoch
        assert_eq!(iso_week(day(10_000, 1, 3)), 1_000_001); // past the year 9999
    }
}
