"""The HTML audit report: one self-contained file that works offline.

Jinja2 renders the page (autoescaped); plotly draws the charts, with plotly.js
inlined once, so the file needs no network: its Content-Security-Policy forbids
every request to another host. Sections: summary, the worklist (every open
action, overdue first, with the pack's columns), every case with findings in a
searchable, sortable, paged table whose rows open the case's timeline (its
events, the evidence of each finding marked, the SOP's source text beside it),
undecided checks grouped by reason, charts (violations by who the pack holds
accountable, else by the first evidence actor), the attainment of each rule
with a deadline (by week, accountable and group), and the rules.

The worklist and the cases travel as one JSON document, gzipped and base64-coded
(JSON is the bulk of the file and repeats itself a lot), which the page's own
script unpacks with the browser's DecompressionStream and renders on demand:
a timeline is built when its case is opened. The script writes data into the
page as text nodes only, never as markup.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping

import orjson

from ..errors import UsageError
from ..findings import OUTCOMES, AuditResult, WorkItem
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from ..timeutil import format_due, format_time, format_week

if TYPE_CHECKING:
    from ..explain import Explanation

_SEVERITIES = ("error", "warning", "info")
_COLOURS = {"error": "#c0392b", "warning": "#d68910", "info": "#2e86c1", "met": "#27ae60", "late": "#c0392b",
            "pending": "#d68910"}


def _bar(labels: list[str], values: list[int], colour: str = "#34495e", horizontal: bool = False) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "bar", "marker": {"color": colour}}
    if horizontal:
        trace.update(x=values[::-1], y=labels[::-1], orientation="h")
    else:
        trace.update(x=labels, y=values)
    return {"data": [trace], "layout": {"margin": {"l": 320 if horizontal else 50, "r": 20, "t": 10, "b": 80},
                                        "height": max(260, 24 * len(labels) + 60) if horizontal else 300}}


@dataclass
class HtmlReporter:
    """Renders an audit as HTML. ``facts`` lets it group actors (the pack's ``report.actor_groups``)."""

    facts: Mapping[str, Any] = field(default_factory=dict)
    # Cases explained (sopengine.explain): their timelines show what each rule did at each event, and why.
    explained: Mapping[str, "Explanation"] = field(default_factory=dict)

    def audit(self, result: AuditResult, pack: Pack) -> str:
        try:
            import jinja2
            import plotly.offline
        except ImportError:
            raise UsageError("the HTML report needs Jinja2 and plotly: pip install 'sopengine[report]'") from None
        env = jinja2.Environment(loader=jinja2.PackageLoader("sopengine.reporters", "templates"),
                                 autoescape=True, trim_blocks=True, lstrip_blocks=True)
        env.filters["time"] = lambda t: format_time(t) if isinstance(t, (int, float)) else (t or "")
        env.filters["case_url"] = pack.case_url
        charts = self._charts(result, pack)
        attainment = self._attainment(result, pack)
        drawn = charts + [a["chart"] for a in attainment]
        data = _page_data(result, pack, self.explained)
        page = env.get_template("report.html.j2").render(
            pack=pack, result=result, summary=result.summary(), charts=charts, attainment=attainment,
            charts_json=json.dumps(drawn).replace("<", "\\u003c"),  # no </script> nor <!-- in a script
            plotly_js=plotly.offline.get_plotlyjs().replace("</script", "<\\/script"),
            by_rule=self._by_rule(result, pack), titles=_document_titles(pack), undecided=_undecided(result),
            case_count=len(data["cases"]), overdue=sum(w.overdue for w in result.work), data=_pack_json(data),
            script=(resources.files(__package__) / "templates" / "report.js").read_text(encoding="utf-8"),
            generated=format_time(datetime.now(timezone.utc).timestamp()),
            timelines_missing=any(c["events"] is None for c in data["cases"]))
        return page

    # -- data for the charts ------------------------------------------------------
    def _group_of(self, pack: Pack) -> tuple[str, Mapping[str, Any]]:
        spec = pack.report.get("actor_groups") or {}
        records = self.facts.get(spec.get("facts", ""), []) if spec else []
        if isinstance(records, Mapping):
            records = [dict(v, id=k) for k, v in records.items() if isinstance(v, Mapping)]
        groups = {str(r["id"]): r.get(spec["field"]) for r in records if isinstance(r, Mapping) and "id" in r}
        return spec.get("label") or spec.get("field") or "Group", groups

    def _charts(self, result: AuditResult, pack: Pack) -> list[dict[str, Any]]:
        vs = result.violations
        charts: list[dict[str, Any]] = []

        def add(cid: str, title: str, figure: dict[str, Any]) -> None:
            charts.append({"id": cid, "title": title, "figure": figure})

        by_sop = Counter(v.rule.split("/")[0] for v in vs)
        add("by-sop", "Violations by SOP", _bar(list(by_sop), list(by_sop.values())))
        by_rule = Counter(v.rule for v in vs).most_common(25)
        add("by-rule", "Violations by rule (top 25)",
            _bar([r for r, _ in by_rule], [n for _, n in by_rule], horizontal=True))
        sev = Counter(v.severity for v in vs)
        add("by-severity", "Violations by severity", {
            "data": [{"type": "bar", "x": list(_SEVERITIES), "y": [sev.get(s, 0) for s in _SEVERITIES],
                      "marker": {"color": [_COLOURS[s] for s in _SEVERITIES]}}],
            "layout": {"margin": {"l": 50, "r": 20, "t": 10, "b": 40}, "height": 300}})
        label, groups = self._group_of(pack)
        if declares_accountable(pack):
            who = Counter(v.accountable or "(none)" for v in vs)
            whom, how = "who is accountable", "whom the pack's report.accountable names when the violation arose"
        else:
            who = Counter(result.actors.get(v.events[0]) or "(none)" for v in vs if v.events)
            whom, how = "actor", "the actor of the first evidence event: the pack declares no report.accountable"
        if groups:
            by_group: Counter[str] = Counter()
            for person, n in who.items():
                by_group[str(groups.get(person) or "(unknown)")] += n
            add("by-group", f"Violations by {label.lower()} of {'the ' if whom == 'actor' else ''}{whom} ({how})",
                _bar(list(by_group), list(by_group.values())))
        top = who.most_common(15)
        add("by-actor", f"Violations by {whom} (top 15; {how})",
            _bar([a for a, _ in top], [n for _, n in top], horizontal=True))
        days: dict[str, Counter[str]] = defaultdict(Counter)
        for v in vs:
            days[(format_time(v.time) or "")[:10]][v.severity] += 1
        ordered = sorted(days)
        add("over-time", "Violations over time (by day)", {
            "data": [{"type": "bar", "name": s, "x": ordered, "y": [days[d].get(s, 0) for d in ordered],
                      "marker": {"color": _COLOURS[s]}} for s in _SEVERITIES],
            "layout": {"barmode": "stack", "margin": {"l": 50, "r": 20, "t": 30, "b": 60}, "height": 320,
                       "legend": {"orientation": "h", "y": 1.12}}})
        obligations = [r for r in pack.rules if r.kind == "response"]
        counts = result.rule_counts()
        names = [r.id for r in obligations]
        add("obligations", "Obligations: met, late and pending", {
            "data": [{"type": "bar", "name": name, "orientation": "h", "y": names[::-1],
                      "x": [counts.get(r, {}).get(key, 0) for r in names][::-1], "marker": {"color": _COLOURS[name]}}
                     for name, key in (("met", "passed"), ("late", "violations"), ("pending", "next_actions"))],
            "layout": {"barmode": "stack", "margin": {"l": 320, "r": 20, "t": 30, "b": 40},
                       "height": max(260, 26 * len(names) + 60), "legend": {"orientation": "h", "y": 1.1}}})
        return charts

    def _attainment(self, result: AuditResult, pack: Pack) -> list[dict[str, Any]]:
        """Per rule with a deadline: its obligations on time, late, missed and open by week (a table and a
        chart of the shares, with the on-time share's trend), and by who is accountable and by their group."""
        label, groups = self._group_of(pack)
        declared = declares_accountable(pack)
        by_rule: dict[str, dict[str, Any]] = {}
        for (rule, week, who), counts in result.attainment.items():
            entry = by_rule.setdefault(rule, {"weeks": defaultdict(lambda: [0, 0, 0, 0]),
                                              "people": defaultdict(lambda: [0, 0, 0, 0]),
                                              "groups": defaultdict(lambda: [0, 0, 0, 0])})
            person = who or "(none)"
            group = str(groups.get(who) or "(unknown)") if who is not None else "(none)"
            for table, key in (("weeks", format_week(week)), ("people", person), ("groups", group)):
                row = entry[table][key]
                for i, n in enumerate(counts):
                    row[i] += n
        out: list[dict[str, Any]] = []
        for n, rule in enumerate(r.id for r in pack.rules if r.id in by_rule):
            entry = by_rule[rule]
            weeks = sorted(entry["weeks"].items())
            out.append({
                "rule": rule, "id": f"attainment-{n}",
                "weeks": [_attained(k, v) for k, v in weeks],
                "total": _attained("all weeks", [sum(v[i] for _, v in weeks) for i in range(4)]),
                "people": [_attained(k, v) for k, v in sorted(entry["people"].items(),
                                                              key=lambda kv: (-sum(kv[1]), kv[0]))[:15]],
                "more_people": max(0, len(entry["people"]) - 15),
                "groups": [_attained(k, v) for k, v in sorted(entry["groups"].items(),
                                                              key=lambda kv: (-sum(kv[1]), kv[0]))]
                if groups else [],
                "chart": {"id": f"attainment-{n}", "title": rule, "figure": _trend(weeks)},
            })
        return [dict(a, label=label, declared=declared) for a in out]

    # -- tables ----------------------------------------------------------------------
    @staticmethod
    def _by_rule(result: AuditResult, pack: Pack) -> list[dict[str, Any]]:
        counts = result.rule_counts()
        rows: list[dict[str, Any]] = []
        for r in pack.rules:
            c = counts.get(r.id, {})
            rows.append({"rule": r, "violations": c.get("violations", 0), "next_actions": c.get("next_actions", 0),
                         "passed": c.get("passed", 0), "undecided": c.get("undecided", 0)})
        rows.sort(key=lambda row: (-int(row["violations"]), str(row["rule"].id)))
        return rows

    def lint(self, report: LintReport) -> str:
        raise UsageError("the html format is for audits; use text, json, junit, sarif or github for lint")

    def test(self, report: TestReport) -> str:
        raise UsageError("the html format is for audits; use text, json, junit, sarif or github for test")


# -- what the page's script renders ---------------------------------------------------
def _attained(key: str, counts: list[int]) -> dict[str, Any]:
    """A row of an attainment table: the counts and the on-time share of those settled (open ones are not)."""
    on_time, late, missed, still_open = counts
    settled = on_time + late + missed
    return {"key": key, "on_time": on_time, "late": late, "missed": missed, "open": still_open,
            "share": f"{100 * on_time / settled:.0f}%" if settled else "-"}


def _trend(weeks: list[tuple[str, list[int]]]) -> dict[str, Any]:
    """A rule's obligations by week as stacked shares, with the on-time share of those settled as a line."""
    names = [w for w, _ in weeks]
    totals = [sum(c) or 1 for _, c in weeks]
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": name.replace("_", " "), "x": names,
         "y": [round(100 * c[i] / t, 1) for (_, c), t in zip(weeks, totals)], "marker": {"color": colour}}
        for i, (name, colour) in enumerate(zip(OUTCOMES, ("#27ae60", "#d68910", "#c0392b", "#95a5a6")))]
    settled = [c[0] + c[1] + c[2] for _, c in weeks]
    data.append({"type": "scatter", "mode": "lines+markers", "name": "on time, of settled", "x": names,
                 "y": [round(100 * c[0] / s, 1) if s else None for (_, c), s in zip(weeks, settled)],
                 "line": {"color": "#1b4f72"}})
    return {"data": data, "layout": {"barmode": "stack", "height": 220, "margin": {"l": 40, "r": 10, "t": 10, "b": 50},
                                     "yaxis": {"range": [0, 100], "ticksuffix": "%"}, "xaxis": {"type": "category"},
                                     "legend": {"orientation": "h", "y": 1.25, "font": {"size": 10}}}}


def declares_accountable(pack: Pack) -> bool:
    """Whether the pack names who is accountable for some rule's findings (``report.accountable`` or a rule's own)."""
    return pack.accountable is not None or any(r.accountable is not None for r in pack.rules)


def _document_titles(pack: Pack) -> dict[str, str]:
    """Source document -> the title of the (first) SOP written from it; rules cite documents by file name."""
    titles: dict[str, str] = {}
    for sop in pack.sops.values():
        titles.setdefault(sop.document, sop.title)
    return titles


def _page_data(result: AuditResult, pack: Pack, explained: Mapping[str, "Explanation"] | None = None
               ) -> dict[str, Any]:
    """The worklist and every case with findings (its findings, its events; for a case ``explained``, what each
    rule did at each event: [outcome, rule, why] by event id), for the page's script.

    Cases are in case-id order and each case's violations in the result's order, so that the violations
    CSV the page builds lists them as the JSON output does.
    """
    findings: dict[str, list[list[Any]]] = defaultdict(list)
    for v in result.violations:
        findings[v.case].append(["violation", v.rule, v.severity, v.message, format_time(v.time), list(v.events)])
    for a in result.next_actions:
        findings[a.case].append(["next action", a.rule, "pending", a.action, format_due(a.due, a.zone),
                                 list(a.events)])
    due: dict[str, float] = {}
    for w in result.work:
        if w.due is not None and w.due < due.get(w.case, float("inf")):
            due[w.case] = w.due
    cases = []
    for case_id in sorted(findings):
        events = result.timelines.get(case_id)
        cases.append({
            "id": case_id, "url": pack.case_url(case_id), "due": due.get(case_id),
            "due_text": format_time(due.get(case_id)), "findings": findings[case_id],
            "events": None if events is None else
            [[e.id, format_time(e.time), e.type, e.actor, e.data] for e in events],
            **({"explained": _evaluations(explained[case_id])} if explained and case_id in explained else {})})
    titles = _document_titles(pack)
    columns = list(pack.columns)
    return {
        "rules": {r.id: [titles.get(r.source.document, r.source.document), r.source.step, r.source.quote]
                  for r in pack.rules},
        "cases": cases,
        "work_header": WorkItem.header(columns, pack.versioned),
        "work": [w.row(columns, pack.versioned) for w in result.work],
    }


def _evaluations(x: "Explanation") -> dict[str, list[list[str]]]:
    """What each rule did at each event of an explained case, by event id: [outcome, rule, why]; the deadlines
    that passed before the event first."""
    return {s.event.id: [["violated", v.rule, f"deadline {format_time(v.time)} passed before this event: "
                          f"{v.message}"] for v in s.deadlines] + [[e.outcome, e.rule, e.why] for e in s.evaluations]
            for s in x.steps}


def _pack_json(data: Mapping[str, Any]) -> str:
    """JSON, gzipped (mtime 0: the same bytes for the same data) and base64-coded: safe anywhere in HTML."""
    raw = orjson.dumps(data, default=str)
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def _undecided(result: AuditResult, shown: int = 20) -> list[dict[str, Any]]:
    """Undecided checks grouped by reason, most frequent first: what the facts (or the data) lack."""
    groups: dict[str, dict[str, Any]] = {}
    for u in result.undecided:
        group = groups.setdefault(u.reason, {"reason": u.reason, "count": 0, "rules": Counter(), "cases": {}})
        group["count"] += 1
        group["rules"][u.rule] += 1
        group["cases"][u.case] = None
    out = sorted(groups.values(), key=lambda g: (-g["count"], g["reason"]))
    for g in out:
        cases = list(g["cases"])
        g["cases"], g["more"] = cases[:shown], max(0, len(cases) - shown)
        g["rules"] = sorted(g["rules"].items())
    return out
