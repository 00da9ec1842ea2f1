"""Fuzzing the SOP loader: hostile and mutated YAML never gives a traceback, and every error has a place."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sopengine import load_pack
from sopengine.cli import cli
from sopengine.errors import Code, PackError
from sopengine.limits import Limits

from .conftest import ROOT, SOPS
from .fuzzing import budget

CANARY = Path("/tmp/sopengine-yaml-canary")
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
SOP_FILES = sorted(p for p in SOPS.glob("*.yaml") if not p.name.endswith((".test.yaml", ".input.yaml")))


def _problems(tmp_path: Path, text: str | bytes, limits: Limits = Limits()) -> list[str]:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(PackError) as info:
        load_pack([path], limits=limits)
    for d in info.value.diagnostics:
        assert d.location.file.endswith("hostile.yaml") and d.location.line >= 1, str(d)
    return [str(d) for d in info.value.diagnostics]


def test_a_billion_laughs_sop_file_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    started = time.perf_counter()
    problems = _problems(tmp_path, BILLION_LAUGHS)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert problems == ["hostile.yaml:2:9: error [yaml-forbidden] anchors and aliases (*name) are not allowed"] \
        or "anchors and aliases" in problems[0]


@pytest.mark.parametrize("tag", [
    f"!!python/object/apply:os.system ['touch {CANARY}']",
    f"!!python/object/new:os.system ['touch {CANARY}']",
    "!!python/name:os.system",
    "!!python/module:os",
    f"!!python/object/apply:subprocess.check_output [['touch', '{CANARY}']]",
    "!custom {a: 1}",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1]",
])
def test_python_and_unknown_tags_are_refused_and_nothing_runs(tmp_path: Path, tag: str) -> None:
    problems = _problems(tmp_path, f"sop: {{id: x, title: X, source: {{document: d}}}}\nrules: {tag}\n")
    assert any("[yaml-forbidden]" in p and "tag" in p for p in problems), problems
    assert not CANARY.exists()


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("deep nesting", "a: " + "[" * 100 + "]" * 100 + "\n", "nesting deeper than 64"),
    ("deeper than the parser", "a: " + "[" * 20000 + "\n", "yaml"),
    ("long line", "description: " + "x" * 3_000_000 + "\n", "limit sop-file-bytes"),
    ("invalid UTF-8", b"sop: {id: x}\nrules: \xff\xfe\n", "not valid UTF-8"),
    ("NUL byte", "sop: {id: x}\nrules: []\x00\n", "NUL byte"),
    ("merge key", "a: {x: 1}\nb: {<<: {y: 2}}\n", "merge keys"),
    ("duplicate key", "sop: {id: x}\nsop: {id: y}\n", "duplicate key"),
    ("JSON array", "[1, 2, 3]\n", "schema"),
    ("bare string", "just a string\n", "schema"),
    ("two documents", "a: 1\n---\nb: 2\n", "yaml-syntax"),
    ("tab indent", "sop:\n\tid: x\n", "yaml-syntax"),
    ("huge integer", "params: {x: {type: number, default: 1" + "0" * 5000 + "}}\n", "yaml-syntax"),
])
def test_hostile_yaml_is_refused_with_its_place(tmp_path: Path, name: str, text: str | bytes, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(expected in p for p in problems), (name, problems)


def test_a_bom_and_crlf_line_ends_are_read_as_plain_yaml(tmp_path: Path) -> None:
    for path in SOP_FILES:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    source = (SOPS / "case-creation.yaml").read_text()
    (tmp_path / "case-creation.yaml").write_bytes(b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode())
    assert [r.id for r in load_pack([tmp_path]).rules] == [r.id for r in load_pack([SOPS]).rules]


def test_limits_are_configurable_and_named_in_the_error(tmp_path: Path) -> None:
    text = (SOPS / "case-creation.yaml").read_text()
    small = Limits(sop_file_bytes=1000)
    assert any("limit sop-file-bytes" in p for p in _problems(tmp_path, text, small))
    for limits, name in [(Limits(expression_length=30), "expression-length"),
                         (Limits(expression_depth=2), "expression-depth"),
                         (Limits(expression_nodes=5), "expression-nodes"), (Limits(rules=10), "rules")]:
        with pytest.raises(PackError) as info:
            load_pack([SOPS], limits=limits)
        limited = [d for d in info.value.diagnostics if d.code in (Code.EXPRESSION_LIMIT, Code.PACK_LIMIT)]
        assert limited and all(f"(limit {name})" in d.message and d.location.line >= 1 for d in limited)
    assert len(load_pack([SOPS], limits=Limits(rules=41)).rules) == 41


_mutation = st.tuples(st.sampled_from(["delete", "insert", "replace", "duplicate-line", "drop-line"]),
                      st.integers(0, 10**6), st.binary(min_size=1, max_size=8))
_INSERTS = [b"&x ", b"*x", b"!!python/object:os.system ", b"{", b"[", b"- ", b": ", b"\t", b"'", b'"', b"\x00",
            b"\xff", b"\r\n", b"#", b"{{", b"__class__", b"**", b"\n  - id: x\n"]


def _mutate(data: bytes, mutations: list[tuple[str, int, bytes]], pick: int) -> bytes:
    for op, at, payload in mutations:
        at = at % (len(data) + 1)
        if op == "delete":
            data = data[:at] + data[at + len(payload):]
        elif op == "insert":
            data = data[:at] + (_INSERTS[pick % len(_INSERTS)] if pick % 2 else payload) + data[at:]
        elif op == "replace":
            data = data[:at] + payload + data[at + len(payload):]
        else:
            lines = data.split(b"\n")
            n = at % len(lines)
            lines[n:n + 1] = [lines[n], lines[n]] if op == "duplicate-line" else []
            data = b"\n".join(lines)
        pick += 1
    return data


@budget(40)
@given(st.sampled_from(SOP_FILES), st.lists(_mutation, min_size=1, max_size=4), st.integers(0, 1000))
def test_a_mutated_sop_file_never_gives_a_traceback(tmp_path_factory: pytest.TempPathFactory, source: Path,
                                                    mutations: list[tuple[str, int, bytes]], pick: int) -> None:
    folder = tmp_path_factory.mktemp("mutated")
    for other in SOP_FILES:
        (folder / other.name).write_bytes(other.read_bytes())
    (folder / source.name).write_bytes(_mutate(source.read_bytes(), mutations, pick))
    try:
        load_pack([folder])
    except PackError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.location.file and d.message, str(d)
            if d.code not in (Code.EMPTY_PACK, Code.FILE_UNREADABLE):
                assert d.location.line >= 1, str(d)
    result = CliRunner().invoke(cli, ["lint", str(folder)])
    assert result.exit_code in (0, 1, 2) and (result.exception is None or isinstance(result.exception, SystemExit)), \
        result.output
    assert "Traceback" not in result.output


def test_a_linked_sop_or_scenario_file_is_refused_and_its_target_never_echoed(tmp_path: Path) -> None:
    """A pull request can add a link to any file of the CI machine; diagnostics would echo its content."""
    import shutil

    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key: TOPSECRET-42\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "more.yaml").write_text("token: TOPSECRET-43\n")
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "tests" / "packs" / "library", pack)
    (pack / "evil.yaml").symlink_to(secret)
    (pack / "evil.test.yaml").symlink_to(secret)
    (pack / "linked-dir").symlink_to(elsewhere)
    for command in (["validate", str(pack)], ["lint", str(pack), "--format", "sarif"], ["test", str(pack)],
                    ["audit", str(ROOT / "examples" / "events.jsonl"), "--sops", str(pack)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code in (1, 2), (command, result.output)
        assert "TOPSECRET" not in result.output, command
        assert "symbolic link" in result.output, command
