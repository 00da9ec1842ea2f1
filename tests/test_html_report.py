"""The HTML report, rendered in headless Chromium (Debian's chromium, installed by .ci/run).

Two ways in. ``render`` runs Chromium with its background networking off and a
net log on: every request the page starts (an initiator other than the browser
itself) must stay on the file or a data: URL; a control page with an external
image proves the check sees such requests. :class:`tests.browser.Page` drives
Chromium over the DevTools protocol to type, click, read the page's state and
take screenshots at a given viewport width (saved under tests/artifacts/).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from sopengine.audit import audit_paths, load_facts
from sopengine.cli import cli
from sopengine.errors import PackError
from sopengine.findings import cell
from sopengine.pack import load_pack
from sopengine.timeutil import format_time

from .browser import Page
from .conftest import ROOT, SOPS, write_jsonl

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = ROOT / "examples" / "facts.yaml"
ARTIFACTS = ROOT / "tests" / "artifacts"
READY = "document.body.getAttribute('data-ready')"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SOPENGINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed; .ci/run installs it")
    return found


def render(page: Path, work: Path) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and the URLs of requests the page itself started."""
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={work / 'profile'}", "--virtual-time-budget=15000", "--window-size=1400,2400"]
    dom = subprocess.run(args + [f"--log-net-log={work / 'net-dom.json'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    log = json.loads((work / "net-dom.json").read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requested = []
    for e in log["events"]:
        params = e.get("params") or {}
        if e["type"] == start_job and params.get("url") and params.get("initiator") != "not an origin":
            requested.append(params["url"])
    return dom, requested


def _outside(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith(("file:", "data:", "blob:"))]


def _audit_html(out: Path, *args: str, log: Path = EXAMPLE) -> str:
    result = CliRunner().invoke(cli, ["audit", str(log), "--facts", str(FACTS), "--format", "html",
                                      "--output", str(out), "--fail-on", "never", *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    _audit_html(out)
    return out


@pytest.fixture(scope="module")
def example() -> Any:
    """The example's audit, from the library: what the page must show."""
    return audit_paths(load_pack(), [str(EXAMPLE)], load_facts([FACTS]))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with Page(_chromium(), tmp_path_factory.mktemp("chromium")) as page:
        yield page
    assert page.errors == []
    assert _outside(page.requests) == []


def _open(page: Page, report: Path, width: int = 1400) -> None:
    page.open(report.as_uri(), width)
    page.wait_for(READY)


def _case_ids(page: Page) -> list[str]:
    ids: list[str] = page.js("[...document.querySelectorAll('#cases-table tr.case-row')].map(r => r.dataset.case)")
    return ids


def _search(page: Page, box: str, text: str) -> None:
    page.js(f"(b => {{ b.value = {json.dumps(text)}; b.dispatchEvent(new Event('input')); }})"
            f"(document.getElementById('{box}'))")


# -- the page as a whole --------------------------------------------------------------------------
def test_the_report_renders_its_charts_and_tables_offline_and_names_every_violated_rule(
        report: Path, tmp_path: Path, example: Any) -> None:
    dom, requested = render(report, tmp_path)
    charts = re.findall(r'class="chart[^"]*" id="chart-([a-z-]+)" data-drawn="(\d)"', dom)
    assert {c for c, _ in charts} >= {"by-sop", "by-rule", "by-severity", "by-group", "by-actor", "over-time",
                                       "obligations"}
    assert all(drawn == "1" for _, drawn in charts), charts  # set by Plotly.newPlot(...).then(...)
    assert dom.count('class="main-svg"') >= len(charts)
    assert 'data-ready="1"' in dom and dom.count('class="case-row') == 50  # the first page of cases
    assert _outside(requested) == []
    html = report.read_text(encoding="utf-8")
    violated = {v.rule for v in example.violations}
    assert violated and all(f'id="rule-{rule}"' in html for rule in violated)
    for rule in violated:  # each violated rule appears with its count in the rules table
        row = re.search(rf'<tr id="rule-{re.escape(rule)}">(.*?)</tr>', html, re.S)
        assert row is not None
        counts = re.findall(r'<td class="n" data-label="[^"]*">(\d+)</td>', row.group(1))
        assert int(counts[0]) == sum(v.rule == rule for v in example.violations)


def test_the_rules_table_names_each_source_by_its_sop_title_not_its_file(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    pack = load_pack()
    for rule in pack.rules:
        row = re.search(rf'<tr id="rule-{re.escape(rule.id)}">(.*?)</tr>', html, re.S)
        assert row is not None
        source = re.search(r'data-label="Source" title="([^"]*)">([^<]*)<', row.group(1))
        assert source is not None
        assert source.group(1) == rule.source.document  # the file name is the tooltip
        assert source.group(2).startswith(pack.sops[rule.sop].title + ", ")


def test_the_checkers_see_a_page_that_reaches_another_host(browser: Page, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.invalid/pixel.png"></body></html>', encoding="utf-8")
    _dom, requested = render(page, tmp_path)
    assert _outside(requested) == ["http://example.invalid/pixel.png"]
    browser.open(page.as_uri(), 800)
    browser.js("1")  # reads the events the load sent
    assert _outside(browser.requests) == ["http://example.invalid/pixel.png"]
    browser.requests.clear()  # the other pages must make none (checked when the browser closes)


def test_html_is_for_audits_only(runner: Any) -> None:
    result = runner.invoke(cli, ["lint", "--format", "html"])
    assert result.exit_code == 2 and "for audits" in result.output


def test_every_engine_writes_the_same_report(tmp_path: Path) -> None:
    def page(name: str, *args: str) -> str:
        html = _audit_html(tmp_path / f"{name}.html", *args)
        html = re.sub(r"generated [0-9T:.Z-]+", "generated (time of the run)", html)
        return re.sub(r"\b(native|python)\b( engine\)|</td>)", r"(the engine)\2", html)  # header, provenance

    native = page("native", "--engine", "native")
    assert native.count("generated (time of the run)") == 1 and native.count("(the engine)") == 2
    assert page("python", "--engine", "python") == native
    assert page("jobs", "--jobs", "2") == native
    assert page("python-jobs", "--engine", "python", "--jobs", "2") == native  # workers send their timelines


# -- the cases ------------------------------------------------------------------------------------
def test_the_case_table_holds_every_case_with_findings_and_finds_one_by_id_or_text(
        browser: Page, report: Path, example: Any) -> None:
    cases = sorted({v.case for v in example.violations} | {a.case for a in example.next_actions})
    assert len(cases) > 100  # more than two pages
    _open(browser, report)
    assert browser.js("document.getElementById('cases-total').textContent") == str(len(cases))
    assert browser.js("document.querySelector('#cases-table .shown').textContent").startswith(
        f"1\u201350 of {len(cases)} ")
    wanted = cases[-1]  # the last in case-id order: not on the first page, which has the most violations first
    assert wanted not in _case_ids(browser)
    _search(browser, "cases-search", wanted)
    assert _case_ids(browser) == [wanted]
    message = next(v.message for v in example.violations if v.case == wanted)
    _search(browser, "cases-search", message.upper())  # any case whose findings or events have the text
    found = _case_ids(browser)
    assert wanted in found and set(found) <= {v.case for v in example.violations if v.message == message}
    _search(browser, "cases-search", "no case has this text")
    assert _case_ids(browser) == []


def test_the_case_table_pages_and_sorts_by_violations_and_by_earliest_due_time(
        browser: Page, report: Path, example: Any) -> None:
    _open(browser, report)
    first = _case_ids(browser)
    violations = Counter(v.case for v in example.violations)
    assert [violations[c] for c in first] == sorted((violations[c] for c in first), reverse=True)
    browser.js("document.querySelector('#cases-table .pager .next').click()")
    second = _case_ids(browser)
    assert len(second) == 50 and not set(first) & set(second)
    assert browser.js("document.querySelector('#cases-table .shown').textContent").startswith("51\u2013100 of ")

    due: dict[str, float] = {}
    for w in example.work:
        if w.due is not None:
            due[w.case] = min(due.get(w.case, w.due), w.due)
    browser.js("[...document.querySelectorAll('#cases-table th')].find(t => t.textContent === 'Earliest due').click()")
    assert browser.js("document.querySelector('#cases-table .shown').textContent").startswith("1\u201350 of ")
    soonest = sorted(due, key=lambda c: (due[c], c))
    assert _case_ids(browser)[:len(soonest)] == soonest  # cases without a due time come after
    browser.js("[...document.querySelectorAll('#cases-table th')].find(t => t.textContent === 'Earliest due').click()")
    assert _case_ids(browser)[:len(soonest)] == sorted(due, key=lambda c: (-due[c], c))


def test_an_opened_case_shows_its_whole_timeline_with_the_evidence_marked_and_the_source_quoted(
        browser: Page, report: Path, example: Any) -> None:
    pack = load_pack()
    quoted = next(v for v in example.violations if pack.rule(v.rule).source.quote)
    events = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    of_case = [e for e in events if e["case"] == quoted.case]
    _open(browser, report)
    assert browser.js("document.querySelectorAll('#cases-table tr.detail').length") == 0  # built when opened
    _search(browser, "cases-search", quoted.case)
    browser.js("document.querySelector('#cases-table tr.case-row').click()")
    detail = browser.js("document.querySelector('#cases-table tr.detail').innerText")
    assert browser.js("document.querySelectorAll('#cases-table tr.detail ol.timeline > li').length") == len(of_case)
    evidence = browser.js("[...document.querySelectorAll('#cases-table li.evidence')].map(li => li.innerText)")
    assert all(any(eid in text for text in evidence) for eid in quoted.events if eid.startswith(quoted.case))
    assert pack.rule(quoted.rule).source.quote in detail
    assert quoted.message in detail
    for e in of_case:  # every value in full
        for value in (e.get("data") or {}).values():
            assert (value if isinstance(value, str) else json.dumps(value)) in detail
    browser.js("document.querySelector('#cases-table tr.case-row').click()")  # closes again
    assert browser.js("document.querySelectorAll('#cases-table tr.detail').length") == 0


# -- the worklist, undecided checks, CSV ----------------------------------------------------------
def test_the_worklist_lists_every_open_action_overdue_first_with_the_packs_columns(
        browser: Page, report: Path, example: Any) -> None:
    _open(browser, report)
    headers = browser.js("[...document.querySelectorAll('#worklist-table th')].map(t => t.textContent)")
    assert headers == ["Due", "Case", "Rule", "Action", "Owner", "Queue", "Status", "Since"]
    rows = browser.js("[...document.querySelectorAll('#worklist-table tbody tr')]"
                      ".map(r => [r.className, ...[...r.cells].map(c => c.textContent)])")
    assert 0 < len(rows) == len(example.work) <= 50
    assert [r[0] == "overdue" for r in rows] == [w.overdue for w in example.work]
    assert any(w.overdue for w in example.work) and not all(w.overdue for w in example.work)
    for row, w in zip(rows, example.work):
        assert row[1] == ("overdue " if w.overdue else "") + (format_time(w.due) or "no deadline").replace("T", " ")
        assert row[2:5] == [w.case, w.rule, w.action]
        assert row[5:8] == [cell(dict(w.columns).get(c)) for c in ("owner", "queue", "status")]


def test_the_undecided_table_groups_checks_by_reason(report: Path, example: Any) -> None:
    html = report.read_text(encoding="utf-8")
    table = re.search(r'<table class="stack" id="undecided-table">(.*?)</table>', html, re.S)
    assert table is not None
    rows = re.findall(r'<td data-label="Reason">(.*?)</td>\s*<td class="n" data-label="Checks">(\d+)</td>',
                      table.group(1))
    expected = Counter(u.reason for u in example.undecided)
    assert len(expected) >= 2
    assert {reason.replace("&#39;", "'"): int(n) for reason, n in rows} == expected
    assert [int(n) for _, n in rows] == sorted(expected.values(), reverse=True)


_CAPTURE_CSV = """new Promise(resolve => {
  const link = document.getElementById(%s);
  const create = URL.createObjectURL;
  URL.createObjectURL = blob => { URL.createObjectURL = create; blob.text().then(resolve); return create(blob); };
  link.addEventListener('click', e => e.preventDefault(), {once: true});  // after the page's own handler
  link.click();
})"""


def test_the_csv_downloads_are_built_in_the_page(browser: Page, report: Path, example: Any,
                                                 runner: Any) -> None:
    _open(browser, report)
    assert browser.js("document.getElementById('worklist-csv').getAttribute('download')") == "worklist.csv"
    worklist = browser.js(_CAPTURE_CSV % "'worklist-csv'")
    cli_csv = runner.invoke(cli, ["next", str(EXAMPLE), "--facts", str(FACTS), "--format", "csv",
                                  "--as-of", example.to_json()["as_of"]])
    assert cli_csv.exit_code == 0, cli_csv.output
    assert worklist.splitlines()[0] == "overdue,due,case,rule,action,owner,queue,status,since,events,at_risk"
    assert worklist == cli_csv.stdout  # the same file as sopengine next --format csv
    violations = list(csv.reader(io.StringIO(browser.js(_CAPTURE_CSV % "'violations-csv'"))))
    assert violations[0] == ["rule", "case", "time", "severity", "message", "events"]
    assert violations[1:] == [[v["rule"], v["case"], v["time"], v["severity"], v["message"], " ".join(v["events"])]
                              for v in example.to_json()["violations"]]


# -- screenshots ----------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1400, 390])
def test_screenshots_of_the_summary_the_worklist_and_a_timeline_fit_the_width(
        browser: Page, report: Path, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    _open(browser, report, width)
    fits = "document.documentElement.scrollWidth <= innerWidth"
    assert browser.js("innerWidth") == width and browser.js(fits)
    browser.screenshot(ARTIFACTS / f"report-summary-{width}.png")
    browser.js("document.getElementById('worklist').scrollIntoView()")
    browser.screenshot(ARTIFACTS / f"report-worklist-{width}.png")
    browser.js("document.querySelector('#cases-table tr.case-row').click()")
    browser.js("document.getElementById('cases').scrollIntoView()")
    assert browser.js(fits)
    browser.screenshot(ARTIFACTS / f"report-timeline-{width}.png")
    for name in ("summary", "worklist", "timeline"):
        assert (ARTIFACTS / f"report-{name}-{width}.png").stat().st_size > 10_000


# -- hostile data and links -----------------------------------------------------------------------
HOSTILE = '</script><script>document.title="pwned"</script><!--<script>'
LONG = "x" * 3000 + "END"


def _linked_pack(tmp_path: Path, links: str) -> Path:
    """The bundled pack with ``links`` under pack.report."""
    pack = tmp_path / "pack"
    shutil.copytree(SOPS, pack)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    (pack / "pack.yaml").write_text(text.replace("  report:\n", f"  report:\n    links:\n{links}", 1),
                                    encoding="utf-8")
    return pack


LINKS = ('      - {url: "https://tickets.example/browse/{case}", match: "^SS-"}\n'
         '      - {url: "https://crm.example/cases/{case}?tab=feed"}\n')


def test_case_ids_link_through_the_packs_url_templates(browser: Page, report: Path, tmp_path: Path) -> None:
    pack = _linked_pack(tmp_path, LINKS)
    page = tmp_path / "linked.html"
    html = _audit_html(page, "--sops", str(pack))
    assert "https://crm.example/cases/" not in report.read_text(encoding="utf-8")  # the bundled pack has none
    _open(browser, page)
    links = browser.js("[...document.querySelectorAll('#cases-table tr.case-row a, #worklist-table a')]"
                       ".map(a => [a.textContent, a.getAttribute('href')])")
    assert links and any(c.startswith("SS-") for c, _ in links) and any(not c.startswith("SS-") for c, _ in links)
    for case, href in links:
        assert href == (f"https://tickets.example/browse/{case}" if case.startswith("SS-")
                        else f"https://crm.example/cases/{case}?tab=feed")
    undecided = re.search(r'<table class="stack" id="undecided-table">(.*?)</table>', html, re.S)
    assert undecided is not None and re.search(r'<a href="https://(tickets|crm)\.example/', undecided.group(1))


@pytest.mark.parametrize("entry, problem", [
    ('      - {url: "javascript:alert({case})"}\n', "does not match"),
    ('      - {url: "https://crm.example/cases/"}\n', "does not match"),
    ('      - {url: "https://crm.example/{case}/{other}"}\n', "does not match"),
    ('      - {url: "https://crm.example/{case}", match: "(a+)+$"}\n', "repeats a repetition"),
    ('      - {url: "https://crm.example/{case}", match: "["}\n', "bad regular expression"),
    ('      - {url: "https://crm.example/{case}", when: "x"}\n', "unknown key 'when'"),
])
def test_a_link_template_must_be_an_http_url_with_the_case_and_a_linear_time_match(
        tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack([_linked_pack(tmp_path, entry)])
    assert len(caught.value.diagnostics) == 1
    diagnostic = caught.value.diagnostics[0]
    assert problem in diagnostic.message and diagnostic.location.file.endswith("pack.yaml")


def test_hostile_case_ids_and_data_stay_text_in_the_page_and_its_data(
        browser: Page, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "hostile.jsonl", [
        {"id": "e1", "case": HOSTILE, "time": "2024-05-06T09:00:00Z", "type": "case.created", "actor": HOSTILE,
         "data": {"record": "contact", "account_type": "installer", "origin": "phone", "engine_job": "J-1",
                  "description": f'<img src="http://example.invalid/x" onerror="document.title=1">{LONG}'}},
        {"id": "e2", "case": HOSTILE, "time": "2024-05-06T09:05:00Z", "type": "case.status_changed",
         "actor": "fl.ana", "data": {"to": "Closed"}}])
    page = tmp_path / "hostile.html"
    html = _audit_html(page, "--sops", str(_linked_pack(tmp_path, LINKS)), log=log)
    assert HOSTILE not in html and 'onerror="document' not in html  # the data is gzipped; the rest escaped
    _open(browser, page)
    assert browser.js("document.scripts.length") == 4  # data, plotly, charts, the page's script
    assert browser.js("document.title") == "SOP audit: sopengine-bundled"
    assert _case_ids(browser) == [HOSTILE]
    href = browser.js("document.querySelector('#cases-table tr.case-row a').href")
    assert href == f"https://crm.example/cases/{quote(HOSTILE, safe='')}?tab=feed" and "<" not in href
    browser.js("document.querySelector('#cases-table tr.case-row').click()")
    detail = browser.js("document.querySelector('#cases-table tr.detail').innerText")
    assert HOSTILE in detail and LONG in detail  # shown whole, as text
    assert browser.js("document.querySelectorAll('main img, main script').length") == 0
    assert browser.js("document.title") == "SOP audit: sopengine-bundled"


# -- who is accountable ---------------------------------------------------------------------------
def _ticket_log(tmp_path: Path) -> Path:
    """A ticket its reporter opens, assigned to sd.kim then to sd.lou before its first response is due (2h)."""
    def event(n: int, minute: int, etype: str, actor: str, **data: Any) -> dict[str, Any]:
        return {"id": f"SS-1-{n}", "case": "SS-1", "time": f"2024-05-06T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
                "type": etype, "actor": actor, "data": data}

    return write_jsonl(tmp_path / "ticket.jsonl", [
        event(1, 0, "ticket.created", "ho.pat", reporter="ho.pat", organization="Acme Solar", priority="Low",
              channel=["email"], request_type="billing"),
        event(2, 5, "ticket.assigned", "sd.kim", assignee="sd.kim"),
        event(3, 60, "ticket.assigned", "sd.kim", assignee="sd.lou"),
        event(4, 300, "ticket.commented", "sd.lou", visibility="public", body="Sorry for the wait")])


def _charts_of(browser: Page, page: Path) -> dict[str, tuple[str, list[Any]]]:
    """Each chart's title and the labels of its bars, as the browser drew them."""
    _open(browser, page)
    browser.wait_for("[...document.querySelectorAll('.chart')].every(c => c.dataset.drawn === '1')")
    charts: dict[str, tuple[str, list[Any]]] = {}
    for cid in ("by-actor", "by-group"):
        title = browser.js(f"document.getElementById('chart-{cid}').previousElementSibling.textContent")
        labels = browser.js(f"(c => c.data[0].orientation === 'h' ? c.data[0].y : c.data[0].x)"
                            f"(document.getElementById('chart-{cid}'))")
        charts[cid] = (title, labels)
    return charts


def _teams(tmp_path: Path) -> Path:
    facts = tmp_path / "teams.yaml"
    facts.write_text("users:\n  - {id: sd.kim, team: Desk East}\n  - {id: sd.lou, team: Desk West}\n"
                     "  - {id: ho.pat, team: Customers}\n", encoding="utf-8")
    return facts


def test_the_charts_by_person_and_team_charge_whom_the_pack_holds_accountable_at_the_deadline(
        browser: Page, tmp_path: Path) -> None:
    page = tmp_path / "accountable.html"
    result = CliRunner().invoke(cli, ["audit", str(_ticket_log(tmp_path)), "--facts", str(_teams(tmp_path)),
                                      "--format", "html", "--output", str(page), "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    charts = _charts_of(browser, page)
    title, people = charts["by-actor"]
    assert "who is accountable" in title and "report.accountable" in title
    assert "sd.lou" in people and "ho.pat" not in people and "sd.kim" not in people  # assignee at the deadline
    title, teams = charts["by-group"]
    assert "who is accountable" in title and "Desk West" in teams and "Customers" not in teams


def test_without_an_accountable_declaration_the_charts_fall_back_to_the_first_evidence_actor_and_say_so(
        browser: Page, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(SOPS, pack)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True) if not line.startswith("    accountable:")]
    assert len(kept) == len(text.splitlines()) - 1
    (pack / "pack.yaml").write_text("".join(kept), encoding="utf-8")
    page = tmp_path / "actors.html"
    result = CliRunner().invoke(cli, ["audit", str(_ticket_log(tmp_path)), "--facts", str(_teams(tmp_path)),
                                      "--sops", str(pack), "--format", "html", "--output", str(page),
                                      "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    charts = _charts_of(browser, page)
    title, people = charts["by-actor"]
    assert "first evidence event" in title and "declares no report.accountable" in title
    assert "ho.pat" in people and "sd.lou" not in people  # today's reading: who opened the ticket
    assert "Customers" in charts["by-group"][1]


def test_the_attainment_section_shows_each_deadline_rules_weeks_and_who_was_accountable(
        browser: Page, tmp_path: Path) -> None:
    from .test_accountable import _log, _pack

    facts = tmp_path / "people.yaml"
    facts.write_text("people:\n  - {id: ana, team: Early}\n  - {id: bob, team: Late}\n  - {id: cara, team: Late}\n",
                     encoding="utf-8")
    page = tmp_path / "attainment.html"
    result = CliRunner().invoke(cli, ["audit", str(_log(tmp_path)), "--sops", str(_pack(tmp_path)), "--facts",
                                      str(facts), "--format", "html", "--output", str(page), "--fail-on", "never",
                                      "--as-of", "2024-05-06T15:00:00Z"])
    assert result.exit_code == 0, result.output
    _open(browser, page)
    browser.wait_for("[...document.querySelectorAll('.chart')].every(c => c.dataset.drawn === '1')")
    panels = browser.js("[...document.querySelectorAll('#attainment .attainment')].map(p => p.dataset.rule)")
    assert panels == ["desk/answer-2h", "desk/owned-within-1h"]  # the rules with a deadline (or a grace)

    def table(cls: str) -> list[list[str]]:
        rows: list[list[str]] = browser.js(
            f"[...document.querySelectorAll('#attainment-0 .{cls} tbody tr')]"
            ".map(r => [...r.cells].map(c => c.textContent))")
        return rows

    # week, on time, late, missed, open, on-time share of those settled
    assert table("att-weeks") == [["2024-W19", "1", "2", "2", "1", "20%"], ["all weeks", "1", "2", "2", "1", "20%"]]
    people = {row[0]: row[1:] for row in table("att-people")}
    assert people["bob"] == ["0", "1", "0", "0", "0%"] and people["ana"] == ["1", "0", "0", "0", "100%"]
    assert "req.one" not in people  # the requester who opened it is never charged
    teams = {row[0]: row[1:] for row in table("att-groups")}
    assert teams["Late"] == ["0", "2", "0", "0", "0%"] and teams["Early"] == ["1", "0", "0", "0", "100%"]
    trend = browser.js("document.getElementById('chart-attainment-0').data.map(t => [t.name, t.y])")
    assert trend[-1] == ["on time, of settled", [20]] and len(trend) == 5
