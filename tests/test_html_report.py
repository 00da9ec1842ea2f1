"""The HTML report, rendered in headless Chromium (Debian's chromium, installed by .ci/run).

Chromium runs with its background networking off and a net log on: every
request the page starts (an initiator other than the browser itself) must stay
on the file or a data: URL. A control page with an external image proves the
check sees such requests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sopengine.cli import cli
from sopengine.pack import load_pack

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = ROOT / "examples" / "facts.yaml"
ARTIFACTS = ROOT / "tests" / "artifacts"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SOPENGINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed; .ci/run installs it")
    return found


def render(page: Path, work: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and the URLs of requests the page itself started."""
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={work / 'profile'}", "--virtual-time-budget=15000", "--window-size=1400,2400"]
    dom = subprocess.run(args + [f"--log-net-log={work / 'net-dom.json'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    logs = [work / "net-dom.json"]
    if screenshot is not None:
        subprocess.run(args + [f"--log-net-log={work / 'net-shot.json'}", f"--screenshot={screenshot}",
                               page.as_uri()], capture_output=True, timeout=120, check=True)
        logs.append(work / "net-shot.json")
    requested = []
    for path in logs:
        log = json.loads(path.read_text(encoding="utf-8"))
        start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        for e in log["events"]:
            params = e.get("params") or {}
            if e["type"] == start_job and params.get("url") and params.get("initiator") != "not an origin":
                requested.append(params["url"])
    return dom, requested


def _outside(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith(("file:", "data:"))]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    out = tmp_path_factory.mktemp("html") / "report.html"
    result = CliRunner().invoke(cli, ["audit", str(EXAMPLE), "--facts", str(FACTS), "--format", "html",
                                      "--output", str(out)])
    assert result.exit_code == 1, result.output  # the example log has violations
    return out


def test_the_report_renders_its_charts_offline_and_names_every_violated_rule(report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    dom, requested = render(report, tmp_path, shot)
    charts = re.findall(r'class="chart[^"]*" id="chart-([a-z-]+)" data-drawn="(\d)"', dom)
    assert {c for c, _ in charts} >= {"by-sop", "by-rule", "by-severity", "by-group", "by-actor", "over-time",
                                       "obligations"}
    assert all(drawn == "1" for _, drawn in charts), charts  # set by Plotly.newPlot(...).then(...)
    assert dom.count('class="main-svg"') >= len(charts)
    assert _outside(requested) == []
    assert shot.stat().st_size > 20_000
    html = report.read_text(encoding="utf-8")
    from click.testing import CliRunner

    doc = json.loads(CliRunner().invoke(cli, ["audit", str(EXAMPLE), "--facts", str(FACTS), "--format", "json"]).output)
    violated = {v["rule"] for v in doc["violations"]}
    assert violated and all(f'id="rule-{rule}"' in html for rule in violated)
    for rule in violated:  # each violated rule appears with its count in the rules table
        row = re.search(rf'<tr id="rule-{re.escape(rule)}">(.*?)</tr>', html, re.S)
        assert row is not None
        counts = re.findall(r'<td class="n">(\d+)</td>', row.group(1))
        assert int(counts[0]) == sum(v["rule"] == rule for v in doc["violations"])


def test_case_timelines_highlight_the_evidence_and_quote_the_source(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    pack = load_pack()
    quoted = [r for r in pack.rules if r.source.quote]
    assert any(r.source.quote.replace("'", "&#39;").replace('"', "&#34;")[:40] in html for r in quoted)
    first_case = re.search(r'<details class="case" open id="case-([^"]+)">(.*?)</details>', html, re.S)
    assert first_case is not None
    body = first_case.group(2)
    assert 'class="evidence"' in body and 'class="finding' in body


def test_the_checker_sees_a_page_that_reaches_another_host(tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.invalid/pixel.png"></body></html>', encoding="utf-8")
    _dom, requested = render(page, tmp_path)
    assert _outside(requested) == ["http://example.invalid/pixel.png"]


def test_html_is_for_audits_only(runner: Any) -> None:
    result = runner.invoke(cli, ["lint", "--format", "html"])
    assert result.exit_code == 2 and "for audits" in result.output
