"""Declare4Py's per-constraint counts (issue 17): per case and declare rule, the activations, how many are
fulfilled, violated or pending, and the state; on both engines, from an audit that asked for them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import audit_frame, load_pack
from sopengine.audit import audit
from sopengine.cli import cli
from sopengine.native import available

from .conftest import PACKS, START, engine_blind, ev, write_jsonl

pd = pytest.importorskip("pandas")
ENGINES = ["python"] + (["native"] if available() else [])
H = 60  # ev() counts minutes

# O1: placed, paid 10, placed again, packed, shipped, shipped again. O2: placed only.
TRACE = [("O1", 0, "order.placed", {}), ("O1", 1, "order.paid", {"amount": 10}), ("O1", 2, "order.placed", {}),
         ("O1", 3, "order.packed", {}), ("O1", 4, "order.shipped", {}), ("O1", 5, "order.shipped", {}),
         ("O2", 0, "order.placed", {})]


def _frame() -> Any:
    return pd.DataFrame([{"case": case, "type": etype, "time": pd.Timestamp(START + hours * 3600, unit="s", tz="UTC"),
                          "id": f"e{i}", **data} for i, (case, hours, etype, data) in enumerate(TRACE)])


def _rows(engine: str, complete: bool) -> dict[tuple[str, str], tuple[Any, ...]]:
    found = audit_frame(_frame(), load_pack([PACKS / "declare"]), engine=engine, cases_complete=complete)
    table = found.constraints
    assert list(table.columns) == ["case", "rule", "activations", "fulfilments", "violations", "pendings", "state"]
    return {(r.case, r.rule.removeprefix("orders/")): (r.activations, r.fulfilments, r.violations, r.pendings, r.state)
            for r in table.itertuples()}


@pytest.mark.parametrize("engine", ENGINES)
def test_each_activation_is_fulfilled_violated_or_pending(engine: str) -> None:
    live, done = _rows(engine, False), _rows(engine, True)
    assert live["O1", "pay-within-2d"] == (2, 1, 0, 1, "possibly_violated")  # the second placement waits
    assert done["O1", "pay-within-2d"] == (2, 1, 1, 0, "violated")  # and is unpaid when the case has ended
    assert live["O1", "one-payment-per-placement"] == (2, 1, 0, 1, "possibly_violated")
    assert live["O1", "ship-after-payment"] == (2, 2, 0, 0, "possibly_satisfied")
    assert done["O1", "ship-after-payment"] == (2, 2, 0, 0, "satisfied")
    assert live["O1", "ship-right-after-pack"] == (2, 1, 1, 0, "violated")  # the second shipping follows a shipping
    assert live["O1", "pack-then-ship"] == (3, 3, 0, 0, "possibly_satisfied")  # the packing and both shippings
    assert live["O1", "shipped-once"] == (2, 1, 1, 0, "violated")
    assert live["O1", "paid"] == (1, 1, 0, 0, "possibly_satisfied")
    assert live["O2", "paid"] == (1, 0, 0, 1, "possibly_violated")  # too few: the case's one judgement
    assert live["O2", "ship-after-payment"] == (0, 0, 0, 0, "possibly_satisfied")  # never activated
    assert len(live) == 2 * 22  # every case and declare rule


@pytest.mark.skipif(not available(), reason="the native core is not built")
@pytest.mark.parametrize("complete", [False, True])
def test_both_engines_count_the_same(complete: bool) -> None:
    assert _rows("native", complete) == _rows("python", complete)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_audit_that_does_not_ask_keeps_nothing_per_case(engine: str) -> None:
    pack = load_pack([PACKS / "declare"])
    events = [ev(f"e{i}", case, hours * H, etype, None, **data) for i, (case, hours, etype, data) in enumerate(TRACE)]
    assert audit(pack, list(events), engine=engine).held == []
    assert audit(pack, list(events), engine=engine, held_by_case=True).held != []


def test_audit_writes_the_counts_to_a_csv_file_and_leaves_the_report_as_it_was(tmp_path: Path) -> None:
    from sopengine.timeutil import format_time

    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": f"e{i}", "case": case, "time": format_time(START + hours * 3600), "type": etype, "data": data}
        for i, (case, hours, etype, data) in enumerate(TRACE)])
    base = ["audit", str(log), "--sops", str(PACKS / "declare"), "--format", "json", "--cases-complete"]
    reports, tables = [], []
    for engine in ENGINES:
        plain = CliRunner().invoke(cli, [*base, "--engine", engine])
        out = tmp_path / f"{engine}.csv"
        counted = CliRunner().invoke(cli, [*base, "--engine", engine, "--conformance", str(out), "--jobs", "2"])
        assert counted.exit_code == plain.exit_code == 1, counted.output
        assert counted.stdout == plain.stdout  # the report does not change
        reports.append(engine_blind(plain.stdout))
        tables.append(out.read_text(encoding="utf-8"))
    assert len(set(reports)) == len(set(tables)) == 1
    rows = list(csv.DictReader(io.StringIO(tables[0])))
    assert rows[0].keys() == {"case", "rule", "activations", "fulfilments", "violations", "pendings", "state"}
    by = {(r["case"], r["rule"]): r for r in rows}
    assert [by["O1", "orders/pay-within-2d"][k] for k in ("activations", "fulfilments", "violations", "state")] == \
        ["2", "1", "1", "violated"]
    assert ("O2", "orders/ship-after-payment") not in by  # never activated: left out of the file
