"""Declare models imported as SOP files (sopengine.declare_import, `sopengine import-declare`) and audited.

A .decl model (Declare4Py/RuM text, with data and time conditions) is imported by the command and audited end
to end on both engines, against what its constraints say of a log made for it; a model pm4py discovers is
imported and audited again, and equals pm4py's own conformance check case by case.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import load_pack
from sopengine.cli import cli
from sopengine.declare_import import from_pm4py, read_decl

from .conftest import engine_blind, write_jsonl

MODEL = """\
activity Apply
bind Apply: amount, channel
activity Approve
bind Approve: amount
activity Reject
activity Pay Out
bind Pay Out: amount
amount: integer between 0 and 100000
channel: web, branch, phone
Init[Apply] | |
Existence[Apply] | A.channel is web |
Absence2[Pay Out] | |
Response[Apply, Approve] |A.amount > 1000 |T.amount >= A.amount |0,5,d
Precedence[Approve, Pay Out] | |same amount |
Exclusive Choice[Approve, Reject] | |
Chain Response[Approve, Pay Out] | | |
Not Precedence[Reject, Pay Out] | | |
"""

# Each case, its events (type, day, data), and the model's lines it breaks (read off the constraints by hand:
# 10 init, 11 existence, 12 absence2, 13 response, 14 precedence, 15 exclusive choice, 16 chain response,
# 17 not precedence).
CASES: dict[str, tuple[list[tuple[str, int, dict[str, Any]]], set[int]]] = {
    "ok": ([("Apply", 0, {"amount": 2000, "channel": "web"}), ("Approve", 2, {"amount": 2000}),
            ("Pay Out", 2, {"amount": 2000})], set()),
    "starts-late": ([("Approve", 0, {"amount": 5}), ("Apply", 1, {"amount": 5, "channel": "web"})],
                    {10, 16}),  # init; the approval is followed by Apply, not Pay Out (chain response)
    "branch-only": ([("Apply", 0, {"amount": 10, "channel": "branch"}), ("Reject", 1, {})], {11}),
    "slow": ([("Apply", 0, {"amount": 5000, "channel": "web"}), ("Approve", 9, {"amount": 5000}),
              ("Pay Out", 9, {"amount": 5000})], {13}),  # approved after 9 days: outside 0..5 d
    "wrong-amount": ([("Apply", 0, {"amount": 50, "channel": "web"}), ("Approve", 1, {"amount": 40}),
                      ("Pay Out", 1, {"amount": 50})], {14}),  # no approval of that amount before the payout
    "twice-paid": ([("Apply", 0, {"amount": 7, "channel": "web"}), ("Approve", 1, {"amount": 7}),
                    ("Pay Out", 1, {"amount": 7}), ("Pay Out", 2, {"amount": 7})], {12}),
    "both": ([("Apply", 0, {"amount": 7, "channel": "web"}), ("Reject", 1, {}), ("Approve", 2, {"amount": 7}),
              ("Pay Out", 2, {"amount": 7})], {15, 17}),  # exclusive choice; a payout after a rejection
    "neither": ([("Apply", 0, {"amount": 7, "channel": "web"})], {15}),  # exclusive choice: at least one
}


def _log(path: Path) -> Path:
    rows = []
    for case, (events, _lines) in CASES.items():
        for i, (etype, day, data) in enumerate(events):
            rows.append({"id": f"{case}-{i}", "case": case, "type": etype, "actor": "x",
                         "time": f"2025-01-{1 + day:02d}T10:00:{i:02d}Z", "data": data})
    return write_jsonl(path, rows)


def test_a_decl_model_is_imported_and_audited_end_to_end_on_both_engines(tmp_path: Path) -> None:
    (tmp_path / "loans.decl").write_text(MODEL, encoding="utf-8")
    sops = tmp_path / "sops"
    sops.mkdir()
    out = CliRunner().invoke(cli, ["import-declare", str(tmp_path / "loans.decl"), "-o", str(sops / "loans.yaml")])
    assert out.exit_code == 0, out.output
    assert "9 rule(s)" in out.stderr  # 8 constraints, the exclusive choice as two rules
    log = _log(tmp_path / "log.jsonl")
    reports = []
    for engine in ("python", "native"):
        run = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(sops), "--cases-complete", "--format",
                                       "json", "--engine", engine, "--fail-on", "never"])
        assert run.exit_code == 0, run.output
        reports.append(run.stdout_bytes)
    assert engine_blind(reports[0]) == engine_blind(reports[1])
    pack = load_pack([sops])
    line_of = {r.id: int(r.source.step.split()[1]) for r in pack.rules}  # the model line each rule came from
    for rule in pack.rules:
        assert rule.source.document == "loans.decl" and rule.source.quote == MODEL.splitlines()[line_of[rule.id] - 1]
    report = json.loads(reports[0])
    assert report["summary"]["rejected"] == 0
    found: dict[str, set[int]] = {case: set() for case in CASES}
    for v in report["violations"]:
        found[v["case"]].add(line_of[v["rule"]])
    assert found == {case: lines for case, (_events, lines) in CASES.items()}


def test_conditions_and_time_windows_become_expressions() -> None:
    model = read_decl(MODEL, "loans.decl")
    by_line = {int(r["source"]["step"].split()[1]): r for r in model.rules}
    assert by_line[11]["activation"]["when"] == "data.channel == 'web'"
    response = by_line[13]
    assert response["activation"] == {"on": "Apply", "when": "data.amount > 1000"}
    assert response["target"] == {"on": "Approve", "when": "event.data.amount >= activation.data.amount"}
    assert response["window"] == {"max": "5d"}
    precedence = by_line[14]  # MP-Declare: the payout is the activation, the approval its target
    assert precedence["activation"] == {"on": "Pay Out"}
    assert precedence["target"] == {"on": "Approve", "when": "(activation.data.amount == event.data.amount)"}
    assert model.types["channel"] == {"type": "string", "enum": ["web", "branch", "phone"]}
    assert model.activities["Pay Out"] == ["amount"]


@pytest.mark.parametrize(("line", "message"), [
    ("Respnse[A, B] | | |", "unknown Declare template 'Respnse'"),
    ("Response[A] | | |", "Response takes 2 activities"),
    ("Response[A, B] | | |1,2,weeks", "a time condition is min,max,unit"),
    ("Existence[A] | T.x > 1 |", "'T.x': an activation condition reads A. only"),
    ("this is not a constraint", "not an activity, binding, attribute or constraint"),
])
def test_a_model_that_cannot_be_read_names_its_line_and_exits_2(tmp_path: Path, line: str, message: str) -> None:
    model = tmp_path / "bad.decl"
    model.write_text(f"activity A\nactivity B\n{line}\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["import-declare", str(model)])
    assert out.exit_code == 2
    assert f"bad.decl:3: {message}" in out.stderr and "Traceback" not in out.output


def _pm4py_log(seed: int) -> Any:
    pd = pytest.importorskip("pandas")
    rnd = random.Random(seed)
    rows = []
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for c in range(80):
        for i in range(rnd.randint(1, 7)):
            rows.append({"case:concept:name": f"c{c:03d}", "concept:name": rnd.choice("abcd"),
                         "time:timestamp": start + pd.Timedelta(hours=c, minutes=i)})
    return pd.DataFrame(rows)


# pm4py's nonsuccession and nonchainsuccession are not standard Declare (tests/test_declare_conformance.py).
NOT_STANDARD = {"nonsuccession", "nonchainsuccession"}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_model_pm4py_discovers_audits_as_pm4py_checks_it(tmp_path: Path, seed: int) -> None:
    pm4py = pytest.importorskip("pm4py")
    import sopengine
    from sopengine.declare_import import dump

    df = _pm4py_log(seed)
    discovered = pm4py.discover_declare(df, min_support_ratio=0.2, min_confidence_ratio=0.2)
    model = {name: dict(cs) for name, cs in discovered.items() if name not in NOT_STANDARD}
    imported = from_pm4py(model)
    assert len(imported.rules) >= 30 and {r["template"] for r in imported.rules} >= {
        "existence", "exactly", "init", "absence", "response", "precedence", "succession", "chain_response",
        "alternate_precedence", "coexistence", "not_coexistence"}
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "model.yaml").write_text(dump(imported.sop_file("discovered", "Discovered")), encoding="utf-8")
    pack = load_pack([folder])
    by_quote = {r.id: r.source.quote for r in pack.rules}
    expected = {}
    cases = sorted(df["case:concept:name"].unique())
    checked = pm4py.conformance_declare(df, model)
    for case, row in zip(cases, checked):
        expected[case] = {f"{name}({key})" if isinstance(key, str) else f"{name}({key[0]}, {key[1]})"
                          for name, key in row["deviations"]}
    for engine in ("python", "native"):
        found = sopengine.audit_frame(df, pack, cases_complete=True, engine=engine)
        got: dict[str, set[str]] = {case: set() for case in cases}
        for v in found.result.violations:
            got[v.case].add(by_quote[v.rule])
        assert got == expected, engine
        table = found.conformance.set_index("case")  # pm4py's shape, case by case
        assert list(table.index) == cases
        for case, row in zip(cases, checked):
            assert (table.at[case, "no_constr_total"], table.at[case, "no_dev_total"]) == \
                (row["no_constr_total"], row["no_dev_total"])
            assert table.at[case, "dev_fitness"] == pytest.approx(row["dev_fitness"])
            assert table.at[case, "is_fit"] == row["is_fit"]
    assert sum(map(len, expected.values())) > 50, "the model should be broken often for the test to mean much"


def test_a_model_with_no_constraint_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "empty.decl"
    model.write_text("activity A\nactivity B\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["import-declare", str(model)])
    assert out.exit_code == 2 and "no constraint in the model" in out.stderr and out.stdout == ""


def test_attributes_a_condition_reads_are_declared_on_their_activities() -> None:
    """A model need not bind what its conditions read: A. belongs to the activation's activity, T. to the
    target's (for not precedence, the later activity is the model's activation)."""
    model = read_decl("activity A\nactivity B\nResponse[A, B] |A.x > 1 |T.y in (1, 2) |\n"
                      "Not Precedence[A, B] |A.z is on | |\n", "m.decl")
    assert model.activities == {"A": ["x"], "B": ["y", "z"]}
