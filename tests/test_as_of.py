"""One meaning of the as-of time in every command (SPEC §2): events after it are not evaluated but counted as
skipped, so an audit as of a past moment shows what was known then, and the worklist as of that moment lists
exactly the actions that audit leaves open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from sopengine.audit import AFTER_AS_OF
from sopengine.cli import cli
from sopengine.native import available
from sopengine.timeutil import parse_time

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = str(ROOT / "examples" / "facts.yaml")
AS_OF = "2024-05-20T00:00:00Z"  # about half of the example log is later
ENGINES = ["python", "native"] if available() else ["python"]


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--facts", FACTS, "--format", "json"])
    assert result.exit_code in (0, 1), result.output[-2000:]
    doc: dict[str, Any] = json.loads(result.stdout)
    doc.pop("provenance", None)  # says how each run was made (engine, input files): compared elsewhere
    return doc


def _audit(log: Path, *args: str) -> dict[str, Any]:
    return _run("audit", str(log), "--fail-on", "never", *args)


def _before(tmp_path: Path) -> Path:
    """The example log without the events after AS_OF: what was known at that moment."""
    cut = parse_time(AS_OF)
    lines = [line for line in EXAMPLE.read_bytes().splitlines() if parse_time(orjson.loads(line)["time"]) <= cut]
    path = tmp_path / "before.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("args", [[f"--engine={e}"] for e in ENGINES] + [[f"--engine={e}", "--jobs=2"] for e in ENGINES],
                         ids=lambda a: " ".join(a))
def test_an_audit_as_of_a_past_moment_equals_the_audit_of_the_events_known_then(tmp_path: Path,
                                                                               args: list[str]) -> None:
    whole = _audit(EXAMPLE, "--as-of", AS_OF, *args)
    known = _audit(_before(tmp_path), "--as-of", AS_OF, *args)
    later = whole["summary"]["read"] - known["summary"]["read"]
    assert later > 100
    assert whole["skipped"] == [{"reason": AFTER_AS_OF, "count": later}] and known["skipped"] == []
    s = whole["summary"]
    assert s["read"] == s["events"] + s["rejected"] + s["skipped"] and s["skipped"] == later
    for key in ("violations", "next_actions", "undecided", "rules", "as_of"):
        assert whole[key] == known[key], key
    assert all(v["time"] <= AS_OF for v in whole["violations"])


def test_audit_and_next_as_of_the_same_moment_count_and_leave_open_the_same(tmp_path: Path) -> None:
    audit = _audit(EXAMPLE, "--as-of", AS_OF)
    worklist = _run("next", str(EXAMPLE), "--as-of", AS_OF)
    for key in ("events", "cases", "rejected", "skipped", "read", "violations", "next_actions", "undecided"):
        assert worklist["summary"][key] == audit["summary"][key], key
    listed = {(i["rule"], i["case"], i["due"]) for i in worklist["items"] if not i["overdue"]}
    assert listed == {(a["rule"], a["case"], a["due"]) for a in audit["next_actions"]}
    assert worklist["as_of"] == audit["as_of"] == AS_OF


def test_without_an_as_of_time_nothing_is_skipped_and_the_latest_event_is_the_as_of_time() -> None:
    doc = _audit(EXAMPLE)
    assert doc["skipped"] == [] and doc["summary"]["events"] == doc["summary"]["read"]
    latest = max(orjson.loads(line)["time"] for line in EXAMPLE.read_bytes().splitlines())
    assert doc["as_of"] == latest


def test_the_text_report_says_how_many_events_were_after_the_as_of_time() -> None:
    text = CliRunner().invoke(cli, ["audit", str(EXAMPLE), "--facts", FACTS, "--as-of", AS_OF,
                                    "--fail-on", "never"]).stdout
    assert f" skipped ({AFTER_AS_OF});" in text.splitlines()[1]
