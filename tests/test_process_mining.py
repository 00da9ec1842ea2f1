"""A real process-mining log audited as it is: BPI Challenge 2013 (../shared/data), its activities with their
lifecycle transitions as event types under their own names ('Accepted+In Progress'), through an XES mapping
shipped beside the pack; the findings counted again from the XES by a plain reader here."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from sopengine import load_pack
from sopengine.adapters import InputSpec
from sopengine.audit import audit_paths
from sopengine.findings import AuditResult
from sopengine.native import available

from .conftest import PACKS, ROOT

BPIC2013 = ROOT.parent / "shared" / "data" / "bpic2013_incidents.xes.gz"
PACK = PACKS / "bpic2013"

pytestmark = pytest.mark.skipif(not BPIC2013.exists(), reason="../shared/data/bpic2013_incidents.xes.gz is not here")


def _traces() -> dict[str, list[str]]:
    """Each trace's event types (activity+lifecycle), read with the standard library."""
    ns = "{http://www.xes-standard.org/}"
    out: dict[str, list[str]] = {}
    with gzip.open(BPIC2013) as fh:
        for _, trace in ET.iterparse(fh):
            if trace.tag != f"{ns}trace":
                continue
            name = next(a.get("value") for a in trace.findall(f"{ns}string") if a.get("key") == "concept:name")
            types = []
            for event in trace.findall(f"{ns}event"):
                attrs = {a.get("key"): a.get("value") for a in event.findall(f"{ns}string")}
                types.append(f"{attrs['concept:name']}+{attrs['lifecycle:transition']}")
            out[str(name)] = types
            trace.clear()
    return out


@pytest.fixture(scope="module")
def findings() -> dict[str, AuditResult]:
    pack = load_pack([PACK])
    spec = InputSpec("xes-lifecycle", pack_dirs=(str(PACK),))
    engines = ["python"] + (["native"] if available() else [])
    return {engine: audit_paths(pack, [str(BPIC2013)], inputs=spec, engine=engine) for engine in engines}


def test_every_event_is_read_under_its_activity_name(findings: dict[str, AuditResult]) -> None:
    result = findings["python"]
    assert (result.read, result.events, len(result.rejected), result.cases) == (65_533, 65_533, 0, 7_554)


def test_the_findings_equal_a_count_made_from_the_xes_itself(findings: dict[str, AuditResult]) -> None:
    traces = _traces()
    expected = {
        "incidents/no-unmatched": sum(t.count("Unmatched+Unmatched") for t in traces.values()),
        "incidents/closed-at-most-once": sum(max(0, t.count("Completed+Closed") - 1) for t in traces.values()),
        "incidents/at-most-30-events": sum(max(0, len(t) - 30) for t in traces.values()),
    }
    assert all(expected.values())
    for engine, result in findings.items():
        assert dict(Counter(v.rule for v in result.violations)) == expected, engine


@pytest.mark.skipif(not available(), reason="the native core is not built")
def test_both_engines_give_the_same_json(findings: dict[str, AuditResult]) -> None:
    import orjson

    python, native = (orjson.dumps(findings[e].to_json()) for e in ("python", "native"))
    assert native == python
