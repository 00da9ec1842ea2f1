"""The schema check's fast path: the native check's "valid" is trusted only because it never accepts a document
the full, lenient check refuses. Shown on mutated copies of every SOP and scenario file of the project."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine import schema
from sopengine._yaml import YamlDocument, load_yaml_file

from .conftest import ROOT
from .fuzzing import budget


def _documents() -> list[tuple[str, YamlDocument]]:
    """Every YAML file of the pack and the test packs that its schema accepts, with that schema's name."""
    out = []
    for path in sorted([*ROOT.glob("sops/*.yaml"), *ROOT.glob("tests/packs/**/*.yaml")]):
        doc, _ = load_yaml_file(path)
        if doc is None:
            continue
        for name in (schema.SOP_FILE, schema.SCENARIO_FILE):
            if not schema.validator(name).is_valid(doc.data):
                continue
            out.append((name, doc))
    return out


DOCUMENTS = _documents()
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=32),
                       st.sampled_from(["", "x", "error", "response", "PT1H", "1h", "a b"]),
                       st.just([]), st.just({}), st.just({"unknown": 1}), st.just(["x", 1]))


def _places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``data``."""
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _places(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _places(v, (*path, i))
    return out


def _mutated(data: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not path:
        return value
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "drop":
        del parent[last]
    elif how == "add" and isinstance(parent[last], dict):
        parent[last]["extra_key"] = value
    else:
        parent[last] = value
    return data


@pytest.mark.skipif(not DOCUMENTS, reason="no documents")
def test_the_fast_path_and_the_full_check_agree_on_the_projects_documents() -> None:
    assert len(DOCUMENTS) >= 20
    for name, doc in DOCUMENTS:
        assert schema._valid_fast(doc.data, name), (name, doc.file)  # noqa: SLF001 - the path under test


@budget(300)
@given(st.sampled_from(range(len(DOCUMENTS))), st.integers(0, 10_000), st.sampled_from(["drop", "add", "set"]),
       ODD_VALUES)
def test_the_fast_path_never_accepts_what_the_full_check_refuses(pick: int, where: int, how: str, value: Any) -> None:
    name, doc = DOCUMENTS[pick]
    places = _places(doc.data)
    data = _mutated(doc.data, places[where % len(places)], how, value)
    if schema._valid_fast(data, name):  # noqa: SLF001
        assert list(schema.validator(name).iter_errors(data)) == []


def test_a_refused_document_still_gets_every_error_with_its_line(tmp_path: Path) -> None:
    """The fast path only ever answers "valid": a wrong document is reported as before."""
    sop = ROOT / "sops" / "case-creation.yaml"
    bad = tmp_path / "case-creation.yaml"
    bad.write_text(sop.read_text().replace("severity: warning", "severity: loud", 1))
    doc, _ = load_yaml_file(bad)
    assert doc is not None
    problems = schema.check(doc, schema.SOP_FILE)
    assert [p.location.line for p in problems] == [
        n for n, line in enumerate(bad.read_text().splitlines(), 1) if "severity: loud" in line]
