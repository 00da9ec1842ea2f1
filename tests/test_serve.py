"""sopengine serve (issue 19), in process: ingestion, the batch audit's answers, restart, and refusals."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from sopengine import load_pack
from sopengine.audit import load_facts
from sopengine.cli import cli
from sopengine.model import Pack
from sopengine.serve.auth import Tokens, add_token, token_hash
from sopengine.serve.app import ServeConfig, create_app, split_body
from sopengine.serve.live import Live, LiveConfig
from sopengine.serve.store import open_store
from sopengine.timeutil import format_time

from .conftest import ROOT, postgres_schema, stored_rows, write_jsonl

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = ROOT / "examples" / "facts.yaml"
LOOPBACK = ("127.0.0.1", 50000)
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    return load_facts([FACTS])


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack([ROOT / "sops"])


def client(pack: Pack, facts: Any, db: str | Path, config: ServeConfig | None = None,
           address: tuple[str, int] = LOOPBACK) -> TestClient:
    app = create_app(pack, facts, open_store(str(db)), config or ServeConfig(dev_no_auth=True))
    return TestClient(app, client=address)


def batch(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--sops", str(ROOT / "sops"), "--facts", str(FACTS)])
    assert result.exit_code in (0, 1), result.output  # 1: the log has violations
    doc: dict[str, Any] = json.loads(result.stdout)
    doc.pop("provenance", None)
    return doc


def stored(db: str | Path) -> tuple[int, int]:
    [(events, rejected)] = stored_rows(str(db), "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejected)")
    return events, rejected


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("serve") / "state.db")
    else:
        yield from postgres_schema()


@pytest.fixture(scope="module")
def loaded(pack: Pack, facts: Any, module_db: str) -> Iterator[TestClient]:
    """A service holding the example log, sent in chunks of 400 lines, one of them twice."""
    db = module_db
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    with client(pack, facts, db) as c:
        for start in range(0, len(lines), 400):
            r = c.post("/events", content=b"".join(lines[start:start + 400]), headers=NDJSON)
            assert r.status_code == 200 and r.json()["rejected"] == 0
        again = c.post("/events", content=b"".join(lines[400:800]), headers=NDJSON).json()
        assert (again["accepted"], again["duplicate"]) == (0, 400)
        yield c


@pytest.mark.parametrize("as_of", ["2024-06-12T20:56:34Z", "2024-05-20T12:00:00Z", "2030-01-01T00:00:00Z"])
def test_findings_are_the_batch_audits_json_at_the_same_as_of(loaded: TestClient, as_of: str) -> None:
    served = loaded.get("/findings", params={"as_of": as_of}).json()
    assert served == batch("audit", str(EXAMPLE), "--format", "json", "--as-of", as_of)
    assert served["summary"]["events"] + served["summary"]["skipped"] == 2511  # a re-sent chunk counts once


def test_the_worklist_is_sopengine_nexts_with_its_filters(loaded: TestClient) -> None:
    as_of = "2024-06-12T20:56:34Z"
    assert loaded.get("/next", params={"as_of": as_of}).json() == \
        batch("next", str(EXAMPLE), "--format", "json", "--as-of", as_of)
    overdue = loaded.get("/next", params={"as_of": as_of, "overdue": "1", "sop": "service-desk"}).json()
    assert overdue == batch("next", str(EXAMPLE), "--format", "json", "--as-of", as_of, "--overdue",
                            "--sop", "service-desk")
    assert overdue["items"] and all(i["overdue"] for i in overdue["items"])
    assert loaded.get("/next", params={"rule": "no-such-rule"}).status_code == 400


def test_a_case_has_its_own_findings_and_explanation(loaded: TestClient) -> None:
    as_of = "2024-06-12T20:56:34Z"
    whole = loaded.get("/findings", params={"as_of": as_of}).json()
    case = whole["violations"][0]["case"]
    mine = loaded.get(f"/cases/{case}/findings", params={"as_of": as_of}).json()
    assert mine["violations"] == [v for v in whole["violations"] if v["case"] == case]
    explained = loaded.get(f"/cases/{case}/explain", params={"as_of": as_of}).json()
    expected = CliRunner().invoke(cli, ["explain", case, str(EXAMPLE), "--sops", str(ROOT / "sops"), "--facts",
                                        str(FACTS), "--format", "json", "--as-of", as_of])
    assert explained == json.loads(expected.stdout)
    assert loaded.get("/cases/no-such-case/explain").status_code == 404


def test_health_readiness_metrics_page_and_openapi_answer(loaded: TestClient) -> None:
    assert loaded.get("/healthz").json()["status"] == "ok"
    assert loaded.get("/readyz").json()["events"] == 2511
    metrics = loaded.get("/metrics").text
    assert "sopengine_events_ingested_total 2511" in metrics
    assert "sopengine_events_duplicate_total 400" in metrics
    assert "sopengine_open_obligations " in metrics and "sopengine_timer_latency_seconds_count" in metrics
    page = loaded.get("/")
    assert page.headers["content-type"].startswith("text/html") and "http-equiv='refresh'" in page.text
    assert "src=" not in page.text and "href=" not in page.text  # no other host
    paths = loaded.get("/openapi.json").json()["paths"]
    routes = {r.path for r in loaded.app.routes}  # type: ignore[attr-defined]
    assert routes == set(paths)


def test_a_restart_rebuilds_the_same_state_from_the_store(pack: Pack, facts: Any, db: str) -> None:
    with client(pack, facts, db) as c:
        c.post("/events", content=EXAMPLE.read_bytes(), headers=NDJSON)
        before = c.get("/findings").json()
    with client(pack, facts, db) as c:
        assert c.get("/findings").json() == before
        assert c.post("/events", content=EXAMPLE.read_bytes(), headers=NDJSON).json()["duplicate"] == 2511


def test_rejected_records_are_answered_as_the_batch_reader_words_them_and_kept(pack: Pack, facts: Any,
                                                                                tmp_path: Path, db: str) -> None:
    bad = ['{"case": "C1", "time": "2024-05-06T09:00:00Z"}', "not json",
           '{"case": "C1", "time": "yesterday", "type": "case.created"}',
           '{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.createdd"}',
           '{"id": "ok-1", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"}']
    log = write_jsonl(tmp_path / "bad.jsonl", bad)
    reasons = [r["error"] for r in batch("audit", str(log), "--format", "json", "--max-rejected", "100%")["rejected"]]
    with client(pack, facts, db) as c:
        r = c.post("/events", content="\n".join(bad).encode(), headers=NDJSON)
        assert r.status_code == 200
        records = r.json()["records"]
    assert [(x["line"], x.get("error")) for x in records if x["status"] == "rejected"] == \
        list(zip([1, 2, 3, 4], reasons))
    assert stored(db) == (1, 4)
    with client(pack, facts, db) as c:  # every rejection counts in the findings' accounting
        summary = c.get("/findings").json()["summary"]
        assert (summary["events"], summary["rejected"], summary["read"]) == (1, 4, 5)
        only_bad = c.post("/events", content=b"[1, 2]")
        assert only_bad.status_code == 422
        assert [x["error"] for x in only_bad.json()["records"]] == ["expected a JSON object, got int"] * 2


def test_one_event_an_array_and_cloudevents_are_all_accepted(pack: Pack, facts: Any, db: str) -> None:
    event = {"id": "e1", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "actor": "a"}
    with client(pack, facts, db) as c:
        assert c.post("/events", json=event).json()["accepted"] == 1
        assert c.post("/events", json=[event, {**event, "id": "e2"}]).json()["accepted"] == 1
        cloud = {"specversion": "1.0", "id": "ce-3", "source": "crm", "type": "com.example.event",
                 "datacontenttype": "application/json", "data": {k: v for k, v in event.items() if k != "id"}}
        r = c.post("/events", json=cloud, headers={"content-type": "application/cloudevents+json"}).json()
        assert r["records"] == [{"line": 1, "status": "accepted", "id": "ce-3", "case": "C1"}]
        batch_ce = [dict(cloud, id="ce-4"), dict(cloud, id="ce-3")]
        r = c.post("/events", json=batch_ce, headers={"content-type": "application/cloudevents-batch+json"}).json()
        assert [x["status"] for x in r["records"]] == ["accepted", "duplicate"]
        no_id = {k: v for k, v in event.items() if k != "id"} | {"time": "2024-05-06T10:00:00Z"}
        first, second = (c.post("/events", json=no_id).json()["records"][0] for _ in range(2))
        assert first["status"] == "accepted" and second["status"] == "duplicate" and first["id"] == second["id"]
        assert c.get("/findings").json()["summary"]["events"] == 5


def test_late_events_are_evaluated_in_order_within_the_window_and_refused_past_it(pack: Pack, facts: Any,
                                                                                  tmp_path: Path, db: str) -> None:
    rows = [json.loads(line) for line in EXAMPLE.read_text().splitlines()]
    case = rows[0]["case"]
    mine = [r for r in rows if r["case"] == case]
    shuffled = mine[1:] + mine[:1]  # its creation comes last, within a day of the rest
    log = write_jsonl(tmp_path / "case.jsonl", mine)
    config = ServeConfig(dev_no_auth=True, live=LiveConfig(reorder_window=7 * 86400))
    with client(pack, facts, db, config) as c:
        c.post("/events", json=shuffled)
        as_of = mine[-1]["time"]
        assert c.get("/findings", params={"as_of": as_of}).json() == \
            batch("audit", str(log), "--format", "json", "--as-of", as_of)
        old = dict(mine[0], id="too-old", time="2024-01-01T00:00:00Z")
        r = c.post("/events", json=old)
        assert r.status_code == 422
        assert "past the reorder window; kept for a batch re-audit" in r.json()["records"][0]["error"]
    assert stored(db) == (len(mine), 1)
    [(body,)] = stored_rows(db, "SELECT body FROM rejected")
    assert json.loads(body)["id"] == "too-old"


# -- security -----------------------------------------------------------------------------------------


@pytest.fixture
def secured(pack: Pack, facts: Any, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    token_file = tmp_path / "tokens.jsonl"
    tokens = {scope: add_token(token_file, scope, [scope]) for scope in ("ingest", "read", "admin")}
    db = tmp_path / "s.db"
    config = ServeConfig(tokens=Tokens.load(token_file), max_body=4096)
    with client(pack, facts, db, config) as c:
        yield c, tokens, db


EVENT = {"id": "e1", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "actor": "a"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_no_token_an_unknown_one_and_a_wrong_scope_are_refused_and_nothing_is_stored(
        secured: tuple[TestClient, dict[str, str], Path]) -> None:
    c, tokens, db = secured
    assert c.post("/events", json=EVENT).status_code == 401
    assert c.post("/events", json=EVENT, headers=bearer("sopen_guess")).status_code == 401
    assert c.post("/events", json=EVENT, headers=bearer(tokens["read"])).status_code == 403
    assert stored(db) == (0, 0)
    for path in ("/next", "/findings", "/metrics", "/healthz", "/", "/openapi.json", "/cases/C1/findings"):
        assert c.get(path).status_code == 401, path
        assert c.get(path, headers=bearer(tokens["ingest"])).status_code == 403, path
        assert c.get(path, headers=bearer(tokens["read"])).status_code == 200, path
    assert c.get("/admin/dead-letters", headers=bearer(tokens["read"])).status_code == 403
    assert c.get("/admin/dead-letters", headers=bearer(tokens["admin"])).status_code == 200
    assert c.post("/events", json=EVENT, headers=bearer(tokens["ingest"])).json()["accepted"] == 1
    assert c.post("/events", json=dict(EVENT, id="e2"), headers=bearer(tokens["admin"])).json()["accepted"] == 1
    assert stored(db) == (2, 0)


def test_an_oversized_body_is_refused_with_413_and_nothing_is_stored(
        secured: tuple[TestClient, dict[str, str], Path]) -> None:
    c, tokens, db = secured
    big = [dict(EVENT, id=f"e{i}") for i in range(100)]
    r = c.post("/events", json=big, headers=bearer(tokens["ingest"]))
    assert r.status_code == 413
    def chunks() -> Iterator[bytes]:  # no content-length: counted as it streams
        for event in big:
            yield json.dumps(event).encode() + b"\n"
    r = c.post("/events", content=chunks(), headers={**bearer(tokens["ingest"]), **NDJSON})
    assert r.status_code == 413
    assert stored(db) == (0, 0)


def test_the_page_asks_a_browser_for_the_token_as_a_password(
        secured: tuple[TestClient, dict[str, str], Path]) -> None:
    c, tokens, _ = secured
    assert c.get("/").headers["www-authenticate"].startswith("Basic")
    assert c.get("/", auth=("lead", tokens["read"])).status_code == 200


def test_the_token_file_keeps_only_hashes(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens.jsonl"
    result = CliRunner().invoke(cli, ["serve", "token", "create", "--scope", "read", "--name", "lead",
                                      "--token-file", str(token_file)])
    token = result.stdout.strip()
    text = token_file.read_text()
    assert result.exit_code == 0 and token and token not in text and token_hash(token) in text
    assert token_file.stat().st_mode & 0o077 == 0
    entry = Tokens.load(token_file).find(token)
    assert entry is not None and entry.scopes == {"read"} and entry.name == "lead"


def test_development_mode_lets_loopback_in_only(pack: Pack, facts: Any, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with client(pack, facts, db, ServeConfig(dev_no_auth=True), address=("10.1.2.3", 4000)) as c:
        assert c.post("/events", json=EVENT).status_code == 401
    assert stored(db) == (0, 0)
    refused = CliRunner().invoke(cli, ["serve", "--dev-no-auth", "--host", "0.0.0.0", "--db", str(db)])
    assert refused.exit_code == 2 and "loopback" in refused.output
    refused = CliRunner().invoke(cli, ["serve", "--db", str(db)])
    assert refused.exit_code == 2 and "--token-file" in refused.output


# -- webhooks -----------------------------------------------------------------------------------------

JIRA = ROOT / "tests" / "data" / "inputs" / "jira"


def jira_webhooks(issue: dict[str, Any]) -> list[dict[str, Any]]:
    """What Jira Cloud sends over an issue's life: created (fields as at creation), one update per changelog
    history, one comment_created per comment."""
    from sopengine.timeutil import parse_time

    histories = issue.get("changelog", {}).get("histories", [])
    fields = {k: v for k, v in issue["fields"].items() if k != "comment"}  # as at creation (no changed one)
    bare = {"id": issue["id"], "key": issue["key"], "fields": fields}
    hooks: list[tuple[float, dict[str, Any]]] = [(parse_time(fields["created"].replace("+1000", "+10:00")), {
        "webhookEvent": "jira:issue_created", "issue": bare})]
    for h in histories:
        at = parse_time(h["created"].replace("+1000", "+10:00"))
        hooks.append((at, {"webhookEvent": "jira:issue_updated", "timestamp": int(at * 1000), "user": h["author"],
                           "issue": bare, "changelog": {"id": h["id"], "items": h["items"]}}))
    for comment in issue["fields"].get("comment", {}).get("comments", []):
        at = parse_time(comment["created"].replace("+1000", "+10:00"))
        hooks.append((at, {"webhookEvent": "comment_created", "comment": comment, "issue": bare}))
    return [h for _, h in sorted(hooks, key=lambda th: th[0])]


def signed(secret: bytes, body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    return {"x-hub-signature": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
            "content-type": "application/json"}


def test_jira_webhooks_signed_with_the_shared_secret_give_the_batch_audit_of_the_export(pack: Pack,
                                                                                       tmp_path: Path,
                                                                                       db: str) -> None:
    secret = b"s3cret"
    facts = load_facts([JIRA / "facts.yaml"])
    issues = json.loads((JIRA / "issues.json").read_text())["issues"][:1]  # the other is malformed on purpose
    export = tmp_path / "issues.json"
    export.write_text(json.dumps({"issues": issues}))
    config = ServeConfig(webhook_secrets={"jira": secret})  # no token: the signature is the credential
    with client(pack, facts, db, config, address=("10.0.0.5", 4000)) as c:
        for issue in issues:
            for hook in jira_webhooks(issue):
                body = json.dumps(hook).encode()
                r = c.post("/webhooks/jira", content=body, headers=signed(secret, body))
                assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
        body = json.dumps(jira_webhooks(issues[0])[0]).encode()
        assert c.post("/webhooks/jira", content=body, headers=signed(secret, body)).json()["duplicate"] >= 1
        before = stored(db)
        assert c.post("/webhooks/jira", content=body, headers=signed(b"wrong", body)).status_code == 401
        assert c.post("/webhooks/jira", content=body, headers={"content-type": "application/json"}).status_code == 401
        assert stored(db) == before
        assert c.get("/findings").status_code == 401  # the secret opens the webhook, nothing else
        assert c.post("/webhooks/salesforce", json={"records": []}).status_code == 401  # nor another one
    with client(pack, facts, db) as c:
        served = c.get("/findings", params={"as_of": "2024-05-10T00:00:00Z"}).json()
    result = CliRunner().invoke(cli, ["audit", str(export), "--input-format", "jira", "--sops",
                                      str(ROOT / "sops"), "--facts", str(JIRA / "facts.yaml"), "--format", "json",
                                      "--as-of", "2024-05-10T00:00:00Z"])
    expected = json.loads(result.stdout)
    expected.pop("provenance")
    assert served["summary"]["events"] == expected["summary"]["events"] >= 5
    assert served == expected


def test_salesforce_records_are_read_through_the_salesforce_mapping(pack: Pack, tmp_path: Path, db: str) -> None:
    import csv

    from sopengine.adapters import InputSpec
    from sopengine.audit import read_records

    sf = ROOT / "tests" / "data" / "inputs" / "salesforce"
    with (sf / "Case.csv").open(newline="", encoding="utf-8") as fh:
        cases = [{"attributes": {"type": "Case"}, **row} for row in csv.DictReader(fh)]
    comments = json.loads((sf / "CaseComment.json").read_text())["records"]
    payload = {"records": cases + comments}
    export = tmp_path / "payload.json"
    export.write_text(json.dumps(payload))
    facts = load_facts([sf / "facts.yaml"])
    expected = [e.to_json() for e in read_records(pack, [export], inputs=InputSpec("salesforce").with_facts(facts))
                if hasattr(e, "to_json") and hasattr(e, "case")]
    with client(pack, facts, db) as c:
        r = c.post("/webhooks/salesforce", json=payload)
        assert r.status_code == 200 and r.json()["accepted"] == len(expected) > 2, r.text
        assert c.post("/webhooks/salesforce", json=payload).json()["duplicate"] == len(expected)
        unknown = c.post("/webhooks/salesforse", json=payload)
        assert unknown.status_code == 404 and "did you mean 'salesforce'" in unknown.json()["error"]
    assert [json.loads(b) for (b,) in stored_rows(db, "SELECT body FROM events ORDER BY seq")] == expected


# -- timers on both engines ---------------------------------------------------------------------------


def test_both_engines_arm_the_same_timers_at_the_deadlines_of_the_batch_worklist(pack: Pack, facts: Any,
                                                                                 tmp_path: Path) -> None:
    """The example log sent in chunks (each case's events evaluated as they come, on a copy before the commit):
    the same timers and open counts whichever engine serves, and an overdue timer at the deadline of every item
    of the batch worklist that has one. (The live engine alone: the deadlines of 2024 are past, and the
    service's scheduler would fire, and so delete, every timer at once.)"""
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    timers: dict[str, list[tuple[Any, ...]]] = {}
    opened: dict[str, list[tuple[Any, ...]]] = {}
    for engine in ("python", "native"):
        db = str(tmp_path / f"{engine}.db")
        live = Live(pack, facts, open_store(db), LiveConfig(engine=engine))
        assert live.engine == engine
        live.rebuild()
        for start in range(0, len(lines), 300):
            outcomes, _ = live.ingest(split_body(b"".join(lines[start:start + 300]), NDJSON["content-type"]),
                                      "POST /events")
            assert all(o.status == "accepted" for o in outcomes)
        live.store.close()
        timers[engine] = stored_rows(db, "SELECT case_id, rule, trigger, kind, due, text FROM timers "
                                         "ORDER BY case_id, rule, trigger, kind")
        opened[engine] = stored_rows(db, "SELECT case_id, open_items FROM cases ORDER BY case_id")
    assert timers["native"] == timers["python"] and opened["native"] == opened["python"]
    as_of = "2024-06-12T20:56:34Z"  # the log's latest event
    work = batch("next", str(EXAMPLE), "--format", "json", "--as-of", as_of)["items"]
    overdue = {(case, rule, trigger, format_time(due)) for case, rule, trigger, kind, due, _ in timers["native"]
               if kind == "overdue"}
    dated = {(w["case"], w["rule"], w["events"][0], w["due"]) for w in work if w["due"]}
    assert len(dated) > 5 and dated <= overdue
    assert sum(n for _, n in opened["native"]) >= len(work)


# -- judging off the event loop -----------------------------------------------------------------------


def opened_ticket(case: str) -> dict[str, Any]:
    """An event that opens obligations (a first response, an assignee) in the bundled pack."""
    return {"id": f"{case}-1", "case": case, "time": "2024-05-06T09:00:00Z", "type": "ticket.created",
            "data": {"reporter": "r@mail.example", "organization": "Bright Roofs", "channel": ["email"],
                     "labels": [], "priority": "Medium", "request_type": "training"}}


def test_health_and_metrics_answer_while_the_worklist_is_judged_and_an_ingest_waits_for_it(
        pack: Pack, facts: Any, db: str) -> None:
    """The judgement of /next is held (a test hook waits on an event) : /healthz and /metrics are answered
    meanwhile; an ingest sent meanwhile waits until the judgement is done, so it is not in that worklist."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    as_of = {"as_of": "2024-05-07T00:00:00Z"}
    with client(pack, facts, db) as c, ThreadPoolExecutor(4) as pool:
        assert c.post("/events", json=opened_ticket("H1")).json()["accepted"] == 1
        live = c.app.state.live  # type: ignore[attr-defined]
        judging, release = threading.Event(), threading.Event()
        judge = live.result

        def held(at: float | None) -> Any:
            judging.set()
            release.wait(60)
            return judge(at)

        live.result = held
        try:
            worklist = pool.submit(c.get, "/next", params=as_of)
            assert judging.wait(60)
            health = pool.submit(c.get, "/healthz").result(60)  # a timeout here: the loop was held up
            metrics = pool.submit(c.get, "/metrics").result(60)
            ingest = pool.submit(c.post, "/events", json=opened_ticket("H2"))
            assert pool.submit(c.get, "/healthz").result(60).status_code == 200
            assert health.status_code == metrics.status_code == 200 and "sopengine_cases 1" in metrics.text
            assert not worklist.done()
        finally:
            release.set()
        held_items = worklist.result(60).json()["items"]
        assert ingest.result(60).json()["accepted"] == 1
        live.result = judge
        items = c.get("/next", params=as_of).json()["items"]
    assert {i["case"] for i in held_items} == {"H1"}  # judged before the ingest that waited for it
    assert {i["case"] for i in items} == {"H1", "H2"}


# -- a lost store connection --------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_lost_postgresql_connection_is_answered_503_and_the_next_request_connects_again(
        pack: Pack, facts: Any, postgres_db: str) -> None:
    import psycopg

    from sopengine.serve.postgres import PostgresStore
    from sopengine.errors import UsageError

    with client(pack, facts, postgres_db) as c:
        assert c.post("/events", json=opened_ticket("L1")).json()["accepted"] == 1
        store = c.app.state.live.store  # type: ignore[attr-defined]
        with psycopg.connect(postgres_db, autocommit=True) as admin:
            pid = store._db.info.backend_pid
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
            lost = c.post("/events", json=[opened_ticket("L2"), opened_ticket("L3")])
            assert lost.status_code == 503 and lost.headers["retry-after"] == "1"
            assert "send it again" in lost.json()["error"]
            assert stored(postgres_db) == (1, 0)  # nothing of it
            again = c.post("/events", json=[opened_ticket("L2"), opened_ticket("L3")])
            assert again.status_code == 200 and again.json()["accepted"] == 2
            assert store._db.info.backend_pid != pid
        assert c.get("/findings").json()["summary"]["events"] == 3
        assert c.get("/readyz").json()["events"] == 3
        with pytest.raises(UsageError, match="another sopengine serve"):  # the writer's lock was taken again
            PostgresStore(postgres_db, lock_wait=0)


def test_a_commit_whose_answer_was_lost_is_answered_503_and_the_state_rebuilt_from_the_store(
        pack: Pack, facts: Any, db: str) -> None:
    """The store committed the events but the answer never came (the connection broke after COMMIT): the
    session was not fed them, so it is rebuilt from the store before it is used again."""
    from sopengine.serve.store import StoreUnavailable

    with client(pack, facts, db) as c:
        assert c.post("/events", json=opened_ticket("K1")).json()["accepted"] == 1
        live = c.app.state.live  # type: ignore[attr-defined]
        add = live.store.add

        def committed_then_lost(*args: Any, **kwargs: Any) -> Any:
            add(*args, **kwargs)
            raise StoreUnavailable("the connection to the store was lost")

        live.store.add = committed_then_lost
        assert c.post("/events", json=opened_ticket("K2")).status_code == 503
        live.store.add = add
        assert stored(db) == (2, 0) and live.stale
        assert c.get("/readyz").json()["events"] == 2  # the probe brought it back
        assert not live.stale
        assert {i["case"] for i in c.get("/next", params={"as_of": "2024-05-07T00:00:00Z"}).json()["items"]} == \
            {"K1", "K2"}
        assert c.post("/events", json=opened_ticket("K2")).json()["duplicate"] == 1
