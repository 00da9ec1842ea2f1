from __future__ import annotations

import contextlib
import json
import os
import random
import re
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


def engine_blind(report: str | bytes) -> bytes:
    """A JSON report with the engine its provenance names blanked: the reports of one audit on two engines
    are otherwise the same bytes."""
    data = report.encode() if isinstance(report, str) else report
    blanked, n = re.subn(rb'\n    "engine": "(native|python|spark)",\n', b'\n    "engine": "",\n', data, count=1)
    assert n == 1, "the report names no engine"
    return blanked


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
    from hypothesis import core, settings

    from . import fuzzing

    if not config.getoption("--long-fuzz"):
        return
    fuzzing.scale = fuzzing.LONG_FACTOR
    settings.load_profile("explore")
    seed = config.getoption("--hypothesis-seed")
    if seed is None:  # an exploratory run draws at random, from a seed it prints so a failure can be replayed
        seed = random.SystemRandom().randrange(2**32)
        core.global_force_seed = seed
    config.stash[_SEED] = int(seed)


_SEED = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash.get(_SEED, None)
    if seed is None:
        return "hypothesis: derandomized (profile ci); --long-fuzz explores at random"
    return f"hypothesis: exploring (profile explore), seed {seed}: replay with --long-fuzz --hypothesis-seed={seed}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    seed = item.config.stash.get(_SEED, None)
    if report.failed and seed is not None:
        report.sections.append(("hypothesis seed", f"replay with --long-fuzz --hypothesis-seed={seed}"))


# -- the stores of sopengine serve ---------------------------------------------------------------------

POSTGRES_ENV = "SOPENGINE_TEST_POSTGRES"


def postgres_server() -> str:
    """The test PostgreSQL server's URL (``SOPENGINE_TEST_POSTGRES``, which .ci/run sets after starting the
    server): without it a test skips, unless SOPENGINE_REQUIRE_POSTGRES=1 (as .ci/run sets) makes that a failure."""
    url = os.environ.get(POSTGRES_ENV)
    required = os.environ.get("SOPENGINE_REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail(f"{POSTGRES_ENV} is not set: .ci/run starts PostgreSQL (.ci/postgres) and sets it")
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
                    f"(.ci/postgres starts one)")
    if not required:
        pytest.importorskip("psycopg", reason="pip install 'sopengine[serve]' for the PostgreSQL store")
    return url


def in_schema(url: str, schema: str) -> str:
    """``url`` with libpq's ``options`` setting the search_path: the store's tables go in ``schema``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a test's serve store lives (its ``--db``): a SQLite file, or a fresh schema of the test PostgreSQL
    server, dropped after the test."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    yield from postgres_schema()


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server, as a store URL."""
    yield from postgres_schema()


def postgres_schema() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    server = postgres_server()
    schema = f"sopengine_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield in_schema(server, schema)
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def stored_rows(db: str, query: str) -> list[tuple[Any, ...]]:
    """The rows of ``query`` (plain SQL both stores take) on a serve store, read beside the service."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as con:
            return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in con.execute(query)]
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as lite:
        return list(lite.execute(query))
