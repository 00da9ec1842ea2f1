"""Hostile log lines: the audit never fails on input, and every non-blank line is evaluated or rejected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopengine import audit, read_records
from sopengine.model import Pack

GOOD = json.dumps({"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.created", "actor": "fl.ana"})

HOSTILE = [
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"',  # truncated
    b"[1, 2, 3]",  # an array
    b'"just a string"',
    b"null",
    b'{"case": 17, "time": "2024-05-06T09:00:00Z", "type": "review.logged"}',  # non-string case
    b'{"case": "C1", "time": "2024-05-06T09:00:00", "type": "review.logged"}',  # naive time
    b'{"case": "C1", "time": "2024-02-30T09:00:00Z", "type": "review.logged"}',  # impossible date
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "data": [1]}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "actor": {"x": 1}}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "data": {"comments": "\\u0000"}}',
    b"\xff\xfe not utf-8 \xc3\x28",
    b"\x00\x00\x00",
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "no.such.type"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"}\r',  # CRLF
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.status_changed", "data": {"to": ["x"]}}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "chatter.posted", "data": {"mentions": "x"}}',
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(HOSTILE), st.just(GOOD.encode()), st.binary(max_size=80)),
                min_size=1, max_size=30))
def test_any_mix_of_lines_is_audited_and_counts_reconcile(bundled: Pack, tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "hostile.jsonl"
    clean = [line.replace(b"\n", b" ") for line in lines]
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(clean) + b"\n")  # with a byte-order mark
    result = audit(bundled, read_records(bundled, [str(path)]), {"users": []})
    non_blank = sum(1 for line in clean if line.strip())
    assert result.read == non_blank == result.events + len(result.rejected)
    for r in result.rejected:
        assert r.file == str(path) and 1 <= r.line <= len(clean) and r.error


def test_each_hostile_line_is_rejected_with_its_line_and_the_good_ones_are_evaluated(bundled: Pack,
                                                                                     tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    rows: list[Any] = [GOOD.encode()] + HOSTILE + [GOOD.encode()]
    path.write_bytes(b"\n".join(rows) + b"\n")
    result = audit(bundled, read_records(bundled, [str(path)]), {"users": []})
    rejected_lines = {r.line for r in result.rejected}
    # lines 2-14 are hostile but for 11 (a NUL inside a JSON string is valid JSON); 15 (CRLF) and the last
    # lines are good envelopes, odd data and all
    assert rejected_lines == set(range(2, 15)) - {11}
    assert result.events == 6
    assert result.read == len(rows)
