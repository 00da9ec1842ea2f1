from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import Event, load_pack, parse_time
from sopengine.model import Pack

ROOT = Path(__file__).resolve().parent.parent
SOPS = ROOT / "sops"
PACKS = Path(__file__).resolve().parent / "packs"
START = parse_time("2024-05-06T09:00:00Z")


@pytest.fixture(scope="session")
def bundled() -> Pack:
    return load_pack([SOPS])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def ev(eid: str, case: str, minutes: float, etype: str, actor: str | None = None, **data: Any) -> Event:
    """An event ``minutes`` after the test start."""
    return Event(eid, case, START + minutes * 60, etype, actor, data)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row))
            fh.write("\n")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long-fuzz", action="store_true",
                     help="Run the property and fuzz tests with many more examples (see tests/fuzzing.py).")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long-fuzz"):
        from . import fuzzing
        fuzzing.scale = fuzzing.LONG_FACTOR
