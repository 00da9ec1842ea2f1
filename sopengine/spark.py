"""The same audit on Apache Spark (``pip install 'sopengine[spark]'``).

Spark does what ``--jobs`` does on one machine, across a cluster:

1. **Read.** JSON Lines are read as raw lines with their file and line number
   (``textFile`` + ``zipWithIndex`` per file), so that every rejected line is
   reported where it is, as on one machine. Parquet files and DataFrames are
   read as rows and go through the ``columns`` input mapping.
2. **Per case.** Events are shuffled by case (``repartition(case)``) and sorted
   by case and input order inside each partition; ``mapInArrow`` then runs one
   :class:`~sopengine.Session` per partition that takes the cases one after
   the other (grouped, so a case is freed when the next starts). The pack is
   shipped as the text of its files and compiled once per executor process.
3. **Judge.** Open obligations are judged at the as-of time (given, or the
   latest event time, an aggregate over step 2).
4. **Cross case.** Index intervals and probes are shuffled by their
   (index, key) and each key's probes are answered against that key's intervals.
5. **Assemble.** The driver's result (:meth:`SparkAudit.result`) goes through
   :func:`sopengine.judging.assemble`, as every other way of auditing does, so the
   output equals the single-machine audit's.

Findings travel between stages pickled in a binary column (they are this
package's own frozen dataclasses); the DataFrames this module returns have the
columns of the JSON output.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence


from .adapters.readers import container_of
from .audit import until
from .datacheck import DataCheck, DataNotes
from .errors import UsageError
from .events import Event, InputWarning, Record, Rejected, Rejections, Skipped, line_record, too_long_line
from .findings import Attainment, AuditResult, NextAction, Undecided, Violation, Warn, WorkItem, add_counts
from .judging import assemble, judge
from .kinds.response import warn_points
from .limits import DEFAULT, Limits
from .model import EventType, Pack
from .pack import load_pack, pack_files
from .session import Session, feed_all
from ._resources import bundled_pack_dir

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

LINES = "file string, line long, seq long, text binary"
EVENTS = "case string, seq long, file string, line long, event binary"
ROWS = "kind string, key string, n long, t double, payload binary"
VIOLATIONS = ("rule string, case string, time string, severity string, message string, events array<string>, "
              "accountable string")
NEXT_ACTIONS = "rule string, case string, action string, due string, since string, events array<string>"
UNDECIDED = "rule string, case string, event string, reason string"
REJECTED = "file string, line long, error string"
_FILE_BITS = 40  # seq = file number << 40 | line: input order across files, as one machine numbers it
_BATCH = 8192
_REPLACEMENT = "\ufffd".encode()


# --------------------------------------------------------------------------- the pack, shipped as text

@dataclass(frozen=True)
class PackShipment:
    """A pack as the text of its files, its parameter overrides and limits: what executors compile."""

    files: tuple[tuple[str, bytes], ...]
    params: tuple[tuple[str, str], ...] = ()
    limits: Limits = DEFAULT
    digest: str = field(default="", compare=False)

    @classmethod
    def of(cls, paths: Sequence[str | os.PathLike[str]] | None, params: Mapping[str, str] | None = None,
           limits: Limits = DEFAULT) -> "PackShipment":
        chosen = list(paths or []) or [bundled_pack_dir()]
        files = []
        for number, path in enumerate(pack_files(chosen)):  # numbered: two folders may hold the same name
            try:
                files.append((f"{number:04d}-{path.name}", path.read_bytes()))
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        digest = hashlib.sha256(pickle.dumps((files, sorted((params or {}).items()), limits))).hexdigest()
        return cls(tuple(files), tuple(sorted((params or {}).items())), limits, digest)

    def pack(self) -> Pack:
        """The compiled pack: compiled once per process (an executor's Python worker), then reused."""
        cached = _PACKS.get(self.digest)
        if cached is None:
            folder = Path(tempfile.mkdtemp(prefix="sopengine-pack-"))
            for name, text in self.files:
                (folder / name).write_bytes(text)
            cached = _PACKS[self.digest] = load_pack([folder], dict(self.params), self.limits)
        return cached


_PACKS: dict[str, Pack] = {}  # per worker process: shipments already compiled


# --------------------------------------------------------------------------- stage 1: lines and rows to events

def _event_row(out: dict[str, list[Any]], record: Event | Rejected | Skipped) -> None:
    if isinstance(record, Event):
        out["kind"].append("event")
        out["case"].append(record.case)
        out["seq"].append(record.seq)
        out["payload"].append(pickle.dumps((record.id, record.time, record.type, record.actor, record.data)))
        file, line = record.origin or ("(input)", record.seq)
    else:
        out["kind"].append("rejected" if isinstance(record, Rejected) else "skipped")
        out["case"].append(None)
        out["seq"].append(0)
        text = record.error if isinstance(record, Rejected) else record.reason
        out["payload"].append(text.encode())
        file, line = record.file, record.line
    out["file"].append(file)
    out["line"].append(line)


_PARSED = ("kind", "case", "seq", "file", "line", "payload")
PARSED = "kind string, case string, seq long, file string, line long, payload binary"


def _parse_lines(types: Mapping[str, EventType], max_line_bytes: int, max_depth: int
                 ) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """mapInArrow function: JSON Lines (file, line, seq, text) -> events and rejected lines, as one machine."""
    names = sorted(types)

    def parse(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            out: dict[str, list[Any]] = {k: [] for k in _PARSED}
            cols = batch.to_pydict()
            for file, lineno, seq, raw in zip(cols["file"], cols["line"], cols["seq"], cols["text"]):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                line = raw.strip()
                if not line:
                    continue
                record: Record | None
                if len(raw.rstrip(b"\r\n")) > max_line_bytes:
                    record = too_long_line(file, lineno, max_line_bytes)
                elif _REPLACEMENT in line:  # Hadoop's reader decodes lines: invalid bytes arrive as U+FFFD
                    record = Rejected(file, lineno, "not valid UTF-8 (the text reader replaced bytes with U+FFFD)")
                else:
                    record = line_record(line, file, file, lineno, seq, types, lambda: names, max_depth=max_depth)
                assert record is not None  # no select: every line is an event or rejected
                _event_row(out, record)
            yield pa.RecordBatch.from_pydict(out, schema=_arrow(PARSED))

    return parse


def _parse_rows(types: Mapping[str, EventType], columns: Sequence[str]) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """mapInArrow function: table rows (with _file, _line, _seq) -> events through the ``columns`` mapping."""

    def parse(batches: Iterable[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from .adapters import default_mapping, map_record

        mapping = default_mapping("parquet")
        for batch in batches:
            out: dict[str, list[Any]] = {k: [] for k in _PARSED}
            for row in batch.to_pylist():
                file, line, seq = row["_file"], row["_line"], row["_seq"]
                record = {k: row[k] for k in columns if row.get(k) is not None}
                for made in map_record(mapping, record, file, line, seq, types):
                    if isinstance(made, InputWarning):  # the columns mapping copies values ('rest'): never made
                        raise AssertionError(f"{file}:{line}: {made.message}")
                    _event_row(out, made)
            yield pa.RecordBatch.from_pydict(out, schema=_arrow(PARSED))

    return parse


# --------------------------------------------------------------------------- stage 2: cases

def _rows() -> dict[str, list[Any]]:
    return {"kind": [], "key": [], "n": [], "t": [], "payload": []}


def _add(out: dict[str, list[Any]], kind: str, payload: Any = None, key: str = "", n: int = 0,
         t: float | None = None) -> None:
    out["kind"].append(kind)
    out["key"].append(key)
    out["n"].append(n)
    out["t"].append(t)
    out["payload"].append(pickle.dumps(payload) if payload is not None else b"")


def _canon(value: Any) -> str:
    """One text per index key value, the same in every process (sets sorted; 1 and 1.0 alike, as in a dict)."""
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canon(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_canon(v) for v in value) + ")"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)


def _batches(out: dict[str, list[Any]]) -> Iterator[Any]:
    import pyarrow as pa

    yield from pa.table(out, schema=_arrow(ROWS)).to_batches(max_chunksize=_BATCH)


def _arrow(ddl: str) -> "pa.Schema":
    """The Arrow schema of one of this module's Spark schemas (the few types they use)."""
    import pyarrow as pa

    types = {"string": pa.string(), "long": pa.int64(), "double": pa.float64(), "binary": pa.binary(),
             "array<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind in (part.split() for part in ddl.split(", "))])


def _evaluate(shipment: PackShipment, facts: Mapping[str, Any],
              as_of: float | None) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """mapInArrow function over one partition of events sorted by (case, seq): one session, case after case;
    events after a given ``as_of`` are skipped (:func:`sopengine.audit.until`)."""

    def evaluate(batches: Iterable[Any]) -> Iterator[Any]:
        # Every refusal goes to the driver, whose result keeps rejected-kept of them (SparkAudit.result).
        session = Session(shipment.pack(), facts, limits=replace(DEFAULT, rejected_kept=sys.maxsize))

        def events() -> Iterator[Event]:
            for batch in batches:
                cols = batch.to_pydict()
                for case, seq, file, line, blob in zip(cols["case"], cols["seq"], cols["file"], cols["line"],
                                                       cols["payload"]):
                    eid, time, etype, actor, data = pickle.loads(blob)
                    yield Event(eid, case, time, etype, actor, data, seq, (file, line))

        feed_all(session, until(events(), as_of), grouped=True, keep_seq=True)
        found = session.partial()
        out = _rows()
        for v in found.violations:
            _add(out, "violation", v)
        for p in found.pending:
            _add(out, "pending", p)
        for u in found.undecided:
            _add(out, "undecided", u)
        for r in found.rejected.kept():
            _add(out, "rejected", r)
        for rule, n in found.passed.items():
            _add(out, "passed", key=rule, n=n)
        if found.attainment:
            _add(out, "attained", found.attainment)
        for reason, n in found.skipped.items():
            _add(out, "skipped", key=reason, n=n)
        if found.notes:
            _add(out, "notes", found.notes)
        _add(out, "count", key="events", n=found.events)
        _add(out, "count", key="cases", n=found.cases)
        if found.latest is not None:
            _add(out, "latest", t=found.latest)
        for iv in found.intervals:
            _add(out, "interval", iv, key=_canon((iv.index, iv.key)))
        for probe in found.probes:
            _add(out, "probe", probe, key=_canon((probe.index, probe.key)))
        yield from _batches(out)

    return evaluate


# --------------------------------------------------------------------------- stages 3 and 4

def _judge(as_of: float | None, complete: bool) -> Callable[[Iterable[Any]], Iterator[Any]]:
    def judge_pending(batches: Iterable[Any]) -> Iterator[Any]:
        out = _rows()
        for batch in batches:
            pending = [pickle.loads(b) for b in batch.column("payload").to_pylist()]
            attainment: Attainment = {}
            late, actions, work = judge(pending, as_of, attainment, complete)
            for v in late:
                _add(out, "violation", v)
            for a in actions:
                _add(out, "action", a)
            for w in work:
                _add(out, "work", w)
            if attainment:
                _add(out, "attained", attainment)
        yield from _batches(out)

    return judge_pending


def _join(shipment: PackShipment, facts: Mapping[str, Any]) -> Callable[[Iterable[Any]], Iterator[Any]]:
    """mapInArrow function over intervals and probes sorted by key: each key's probes answered in turn."""

    def join(batches: Iterable[Any]) -> Iterator[Any]:
        session = Session(shipment.pack(), facts)
        out = _rows()
        key: str | None = None
        intervals: list[Any] = []
        probes: list[Any] = []

        def answer() -> None:
            found, undecided, passed = session.cross_case(probes, intervals)
            for v in found:
                _add(out, "violation", v)
            for u in undecided:
                _add(out, "undecided", u)
            for rule, n in passed.items():
                _add(out, "passed", key=rule, n=n)

        for batch in batches:
            cols = batch.to_pydict()
            for kind, k, blob in zip(cols["kind"], cols["key"], cols["payload"]):
                if k != key:
                    answer()
                    key, intervals, probes = k, [], []
                (intervals if kind == "interval" else probes).append(pickle.loads(blob))
        answer()
        yield from _batches(out)

    return join


# --------------------------------------------------------------------------- the API

@dataclass
class SparkAudit:
    """An audit run on Spark: DataFrames with the columns of the JSON output, and the whole result."""

    rows: "DataFrame"  # kind, key, n, t, payload: every finding, pickled
    rejected_lines: "DataFrame"  # file, line, error: lines and rows that are not events
    skipped_rows: "DataFrame"  # file, line, reason
    as_of: float | None
    limits: Limits = DEFAULT  # rejected-kept: how many rejected records result() keeps whole
    check: DataCheck | None = None  # the pack's event vocabulary, to word the notes on event data
    warns: Mapping[str, Warn] | None = None  # the rules' warning points (findings.at_risk)

    def _decoded(self, kind: str, schema: str) -> "DataFrame":
        """The findings of one kind as rows with the JSON output's columns (their ``to_json()``)."""
        names = [part.split()[0] for part in schema.split(", ")]

        def decode(batches: Iterable[Any]) -> Iterator[Any]:
            import pyarrow as pa

            for batch in batches:
                found = [pickle.loads(b).to_json() for b in batch.column("payload").to_pylist()]
                yield pa.RecordBatch.from_pydict({n: [row.get(n) for row in found] for n in names},
                                                 schema=_arrow(schema))

        return self.rows.where(f"kind = '{kind}'").select("payload").mapInArrow(decode, schema)

    @property
    def violations(self) -> "DataFrame":
        return self._decoded("violation", VIOLATIONS)

    @property
    def next_actions(self) -> "DataFrame":
        return self._decoded("action", NEXT_ACTIONS)

    @property
    def undecided(self) -> "DataFrame":
        return self._decoded("undecided", UNDECIDED)

    @property
    def rejected(self) -> "DataFrame":
        return self.rejected_lines.unionByName(self._decoded("rejected", REJECTED))

    def result(self) -> AuditResult:
        """Collect everything to the driver: the same :class:`AuditResult` a single-machine audit gives."""
        violations: list[Violation] = []
        actions: list[NextAction] = []
        undecided: list[Undecided] = []
        work: list[WorkItem] = []
        rejected = Rejections(self.limits.rejected_kept)
        for r in self.rejected_lines.toLocalIterator():
            rejected.add(Rejected(r.file, r.line, r.error))
        passed: dict[str, int] = {}
        attainment: Attainment = {}
        counts = {"events": 0, "cases": 0}
        skipped: dict[str, int] = {}
        notes = DataNotes()
        for row in self.skipped_rows.groupBy("reason").count().collect():
            skipped[row.reason] = row["count"]
        for row in self.rows.where("kind not in ('pending', 'latest', 'interval', 'probe')").collect():
            if row.kind == "violation":
                violations.append(pickle.loads(row.payload))
            elif row.kind == "action":
                actions.append(pickle.loads(row.payload))
            elif row.kind == "undecided":
                undecided.append(pickle.loads(row.payload))
            elif row.kind == "work":
                work.append(pickle.loads(row.payload))
            elif row.kind == "rejected":
                rejected.add(pickle.loads(row.payload))
            elif row.kind == "passed":
                passed[row.key] = passed.get(row.key, 0) + row.n
            elif row.kind == "attained":
                add_counts(attainment, pickle.loads(row.payload))
            elif row.kind == "count":
                counts[row.key] += row.n
            elif row.kind == "skipped":
                skipped[row.key] = skipped.get(row.key, 0) + row.n
            elif row.kind == "notes":
                notes.absorb(pickle.loads(row.payload))
        return assemble(self.as_of, counts["events"], counts["cases"], violations, actions, undecided, rejected,
                        passed, skipped, work, notes.warnings(self.check) if self.check is not None else [],
                        attainment=attainment, warns=self.warns)


def audit_spark(spark: "SparkSession", events: "DataFrame | str | Sequence[str]", *,
                sops: Sequence[str | os.PathLike[str]] | None = None, params: Mapping[str, str] | None = None,
                facts: Mapping[str, Any] | None = None, as_of: float | None = None, limits: Limits = DEFAULT,
                partitions: int | None = None, cases_complete: bool = False) -> SparkAudit:
    """Audit events on Spark against a pack (the bundled one by default).

    ``events``: a DataFrame of canonical event rows (columns case, time, type, optional actor and id; every
    other column is a data field, as for Parquet), or paths Spark can read: JSON Lines (``.jsonl``,
    ``.jsonl.gz``, one event per line) or Parquet (``.parquet``). ``partitions``: how many shares the cases
    are shuffled into (default: four per core of the cluster). ``cases_complete``: the log is finished, every
    case ended at its last event (:func:`sopengine.judging.judge`).
    """
    shipment = PackShipment.of(sops, params, limits)
    pack = load_pack(list(sops or []) or None, dict(params or {}), limits)  # fail here, on the driver, if broken
    facts = dict(facts or {})
    # names, and the declared data fields mapped text is converted to (an open vocabulary: every name)
    types = pack.known_types if pack.open_vocabulary else dict(pack.events)
    shares = partitions or max(2, spark.sparkContext.defaultParallelism * 4)
    parsed = _read(spark, events, types, limits).persist()

    from pyspark.sql import functions as F

    kinds = F.col("kind")
    good = parsed.where(kinds == "event").select("case", "seq", "file", "line", "payload")
    per_case = (good.repartition(shares, "case").sortWithinPartitions("case", "seq")
                .mapInArrow(_evaluate(shipment, facts, as_of), ROWS).persist())
    if as_of is None:
        latest = per_case.where(kinds == "latest").agg(F.max("t")).first()
        as_of = latest[0] if latest is not None else None
    judged = per_case.where(kinds == "pending").mapInArrow(_judge(as_of, cases_complete), ROWS)
    joined = (per_case.where(kinds.isin("interval", "probe")).repartition(shares, "key")
              .sortWithinPartitions("key", "kind").mapInArrow(_join(shipment, facts), ROWS))
    rows = per_case.where(~kinds.isin("pending", "latest", "interval", "probe")).unionByName(judged) \
        .unionByName(joined)
    rejected = parsed.where(kinds == "rejected").select(
        "file", "line", F.decode("payload", "UTF-8").alias("error"))
    skipped = parsed.where(kinds == "skipped").select("file", "line", F.decode("payload", "UTF-8").alias("reason"))
    return SparkAudit(rows, rejected, skipped, as_of, limits, DataCheck(pack.events), warn_points(pack))


def _read(spark: "SparkSession", events: "DataFrame | str | Sequence[str]", types: Mapping[str, EventType],
          limits: Limits) -> "DataFrame":
    from pyspark.sql import DataFrame

    if isinstance(events, DataFrame):
        return _from_frame(events, "(dataframe)", types)
    paths = [os.fspath(events)] if isinstance(events, (str, os.PathLike)) else [os.fspath(p) for p in events]
    frames = []
    lines = []
    for number, path in enumerate(paths):
        container = container_of(path)
        if container == "parquet":
            frames.append(_parquet(spark, path, number, types))
        elif container == "jsonl":
            lines.append(_lines(spark, path, number))
        else:
            raise UsageError(f"{path}: the Spark engine reads JSON Lines (.jsonl) and Parquet (.parquet), "
                             f"not {container}")
    if lines:
        union = lines[0]
        for more in lines[1:]:
            union = union.union(more)
        frames.insert(0, spark.createDataFrame(union, LINES).mapInArrow(
            _parse_lines(types, limits.line_bytes, limits.json_depth), PARSED))
    result = frames[0]
    for more in frames[1:]:
        result = result.unionByName(more)
    return result


def _lines(spark: "SparkSession", path: str, number: int) -> Any:
    """(file, line, seq, bytes) for every line of a text file, numbered as in the file."""
    base = number << _FILE_BITS
    return spark.sparkContext.textFile(path, use_unicode=False).zipWithIndex().map(
        lambda pair: (path, pair[1] + 1, base + pair[1] + 1, pair[0]))


def _parquet(spark: "SparkSession", path: str, number: int, types: Mapping[str, EventType]) -> "DataFrame":
    from pyspark.sql import functions as F

    frame = spark.read.parquet(path)
    columns = list(frame.columns)
    line = F.col("_metadata.row_index") + 1
    numbered = frame.select(*columns, F.lit(path).alias("_file"), line.alias("_line"),
                            (F.lit(number << _FILE_BITS) + line).alias("_seq"))
    return numbered.mapInArrow(_parse_rows(types, columns), PARSED)


def _from_frame(frame: "DataFrame", name: str, types: Mapping[str, EventType]) -> "DataFrame":
    """A DataFrame's rows: numbered by partition and row (there is no file line to point at)."""
    from pyspark.sql import functions as F

    columns = list(frame.columns)
    order = F.monotonically_increasing_id() + 1
    numbered = frame.select(*columns, F.lit(name).alias("_file"), order.alias("_line"), order.alias("_seq"))
    return numbered.mapInArrow(_parse_rows(types, columns), PARSED)


def local_session(master: str = "local[2]", app: str = "sopengine") -> "SparkSession":
    """A Spark session for the command line: UTC session time, quiet logs, this Python on the workers.

    Under spark-submit (which starts the JVM and says where with PYSPARK_GATEWAY_PORT) the master and
    the workers' Python are spark-submit's, and ``master`` is not used.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs PySpark: pip install 'sopengine[spark]'") from None
    builder = SparkSession.builder.appName(app).config("spark.sql.session.timeZone", "UTC")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = builder.master(master).config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


__all__ = ["PackShipment", "SparkAudit", "audit_spark", "local_session"]
