"""The Spark engine gives the single-machine findings (local[2]; needs ``pip install 'sopengine[spark]'``).

One Spark session serves the module (it takes 10-15 s to start). Without PySpark these tests are
skipped, unless SOPENGINE_REQUIRE_SPARK=1 (as .ci/run sets) makes that a failure.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from sopengine import audit, load_facts, read_records
from sopengine.findings import AuditResult
from sopengine.model import Pack

from .conftest import ROOT, engine_blind

pytestmark = pytest.mark.spark

if os.environ.get("SOPENGINE_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark", reason="pip install 'sopengine[spark]' to run the Spark tests")

from sopengine.spark import SparkAudit, audit_spark, local_session  # noqa: E402

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = load_facts([ROOT / "examples" / "facts.yaml"])


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = local_session("local[2]")
    yield session
    session.stop()


def _local(pack: Pack, paths: list[Path]) -> AuditResult:
    return audit(pack, read_records(pack, [str(p) for p in paths]), FACTS)


def _copies(path: Path, copies: int) -> Path:
    """The example log ``copies`` times over, each copy's cases and ids renamed: a bigger log of the same shape."""
    lines = EXAMPLE.read_bytes().splitlines()
    with path.open("wb") as fh:
        for n in range(copies):
            for line in lines:
                obj = json.loads(line)
                obj["case"], obj["id"] = f"K{n}-{obj['case']}", f"K{n}-{obj['id']}"
                fh.write(json.dumps(obj).encode() + b"\n")
    return path


def test_the_example_log_gives_the_same_result_on_spark(spark: Any, bundled: Pack) -> None:
    found = audit_spark(spark, [str(EXAMPLE)], facts=FACTS)
    assert found.result().to_json() == _local(bundled, [EXAMPLE]).to_json()


def test_the_worklist_and_the_timelines_are_as_on_one_machine(spark: Any, bundled: Pack) -> None:
    """The HTML report needs both: the worklist comes from Spark's judging, the timelines' events are read
    again on the driver (the executors keep none)."""
    from sopengine.audit import reread_timelines

    found = audit_spark(spark, [str(EXAMPLE)], facts=FACTS).result()
    local = audit(bundled, read_records(bundled, [str(EXAMPLE)]), FACTS, timelines=1000)
    assert found.work and [w.to_json() for w in found.work] == [w.to_json() for w in local.work]
    reread_timelines(bundled, [str(EXAMPLE)], found, 1000)
    assert len(local.timelines) > 50
    assert {c: [e.to_json() for e in evs] for c, evs in found.timelines.items()} == \
        {c: [e.to_json() for e in evs] for c, evs in local.timelines.items()}
    assert found.actors == local.actors


def test_events_after_the_as_of_time_are_skipped_on_spark_as_on_one_machine(spark: Any, bundled: Pack) -> None:
    from sopengine import parse_time

    as_of = parse_time("2024-05-20T00:00:00Z")
    local = audit(bundled, read_records(bundled, [str(EXAMPLE)]), FACTS, as_of)
    assert local.skipped["after the as-of time"] > 100
    assert audit_spark(spark, [str(EXAMPLE)], facts=FACTS, as_of=as_of).result().to_json() == local.to_json()


def test_a_generated_100k_event_log_gives_the_same_result_on_spark(spark: Any, bundled: Pack,
                                                                   tmp_path: Path) -> None:
    log = _copies(tmp_path / "big.jsonl", 40)
    local = _local(bundled, [log])
    assert local.events > 100_000
    assert audit_spark(spark, [str(log)], facts=FACTS).result().to_json() == local.to_json()


def test_rejected_lines_duplicates_and_gzip_are_reported_as_on_one_machine(spark: Any, bundled: Pack,
                                                                           tmp_path: Path) -> None:
    lines = EXAMPLE.read_bytes().splitlines()[:300]
    hostile = [b"", b'{"case": "C1", "time": "2024-05-06T09:00:00", "type": "case.created"}', b"[1, 2]",
               b"\xff\xfe", b'{"case": "C1"', b'{"case": "X", "time": "2024-05-06T09:00:00Z", "type": "nope"}',
               lines[5], lines[7]]  # two duplicates of earlier events
    first = tmp_path / "a.jsonl"
    first.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines[:150] + hostile) + b"\n")
    second = tmp_path / "b.jsonl.gz"
    second.write_bytes(gzip.compress(b"\n".join(lines[150:] + hostile[1:4]) + b"\n"))
    local = _local(bundled, [first, second])
    assert len(local.rejected) == 10 and sum("duplicate event id" in r.error for r in local.rejected) == 2
    on_spark = audit_spark(spark, [str(first), str(second)], facts=FACTS).result().to_json()
    expected = local.to_json()
    for out in (on_spark, expected):  # the same lines; Spark's reader cannot say where in a line the bad byte is
        for r in out["rejected"]:
            if r["error"].startswith("not valid UTF-8"):
                r["error"] = "not valid UTF-8"
    assert on_spark == expected


def test_parquet_gives_the_same_result_on_spark(spark: Any, bundled: Pack, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    rows = [json.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    flat = [{"id": r["id"], "case": r["case"], "time": r["time"], "type": r["type"], "actor": r.get("actor"),
             **{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.get("data", {}).items()}}
            for r in rows]
    flat.append({"case": "C1", "time": "not a time", "type": "case.created"})
    columns = sorted({k for r in flat for k in r})
    table = pa.table({c: [None if r.get(c) is None else str(r[c]) for r in flat] for c in columns})
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=500)
    local = _local(bundled, [path])
    assert local.events == len(rows) and [r.line for r in local.rejected] == [len(flat)]
    assert audit_spark(spark, [str(path)], facts=FACTS).result().to_json() == local.to_json()


def test_a_dataframe_of_events_gives_the_findings_and_json_columns(spark: Any, bundled: Pack) -> None:
    rows = [json.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    frame = spark.createDataFrame(
        [(r["id"], r["case"], r["time"], r["type"], r.get("actor"), r.get("data", {}).get("to")) for r in rows],
        "id string, case string, time string, type string, actor string, to string")
    found: SparkAudit = audit_spark(spark, frame)
    events_only = [{k: v for k, v in {"id": r["id"], "case": r["case"], "time": r["time"], "type": r["type"],
                                      "actor": r.get("actor"),
                                      "data": {"to": r["data"]["to"]} if r.get("data", {}).get("to") else None
                                      }.items() if v is not None} for r in rows]
    pack = bundled
    from sopengine.events import event_from_obj
    local = audit(pack, [event_from_obj(o, o["id"], pack.events) for o in events_only])  # type: ignore[misc]
    expected = local.to_json()
    assert found.result().to_json()["violations"] == expected["violations"]
    as_rows = [r.asDict() for r in found.violations.collect()]
    columns = [dict(v, accountable=v.get("accountable")) for v in expected["violations"]]  # null where JSON omits it
    assert sorted(as_rows, key=json.dumps) == sorted(columns, key=json.dumps)
    assert sorted((r.asDict() for r in found.next_actions.collect()), key=json.dumps) == \
        sorted(expected["next_actions"], key=json.dumps)
    assert found.rejected.count() == 0


def test_the_cli_with_engine_spark_prints_what_the_local_engine_prints(tmp_path: Path) -> None:
    common = ["audit", str(EXAMPLE), "--facts", str(ROOT / "examples" / "facts.yaml"), "--format", "json",
              "--fail-on", "never"]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    spark = subprocess.run([sys.executable, "-m", "sopengine", *common, "--engine", "spark", "--master",
                            "local[2]"], capture_output=True, env=env, timeout=600)
    local = subprocess.run([sys.executable, "-m", "sopengine", *common], capture_output=True, timeout=120)
    assert spark.returncode == local.returncode == 0, spark.stderr.decode()[-2000:]
    assert engine_blind(spark.stdout) == engine_blind(local.stdout)
    assert json.loads(spark.stdout)["provenance"]["engine"] == "spark"
    assert b"Traceback" not in spark.stderr
