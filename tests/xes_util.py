"""Write canonical events as XES (IEEE 1849), for tests that compare the XES and JSON Lines paths."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable
from xml.sax.saxutils import quoteattr


def _attr(key: str, value: Any, indent: str) -> str:
    k = quoteattr(key)
    if isinstance(value, bool):
        return f'{indent}<boolean key={k} value="{"true" if value else "false"}"/>'
    if isinstance(value, int):
        return f"{indent}<int key={k} value={quoteattr(str(value))}/>"
    if isinstance(value, float):
        return f"{indent}<float key={k} value={quoteattr(repr(value))}/>"
    if isinstance(value, list):
        inner = "\n".join(_attr(key, v, indent + "    ") for v in value)
        return f"{indent}<list key={k}>\n{indent}  <values>\n{inner}\n{indent}  </values>\n{indent}</list>"
    return f"{indent}<string key={k} value={quoteattr(str(value))}/>"


def to_xes(events: Iterable[dict[str, Any]]) -> str:
    """Events (canonical JSON objects) grouped into traces by case, in input order within each trace."""
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        traces[e["case"]].append(e)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">',
           '  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>',
           '  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>',
           '  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>',
           '  <extension name="Identity" prefix="identity" uri="http://www.xes-standard.org/identity.xesext"/>']
    for case, evs in traces.items():
        out.append("  <trace>")
        out.append(_attr("concept:name", case, "    "))
        for e in evs:
            out.append("    <event>")
            out.append(_attr("concept:name", e["type"], "      "))
            out.append(f'      <date key="time:timestamp" value={quoteattr(e["time"])}/>')
            if e.get("id"):
                out.append(_attr("identity:id", e["id"], "      "))
            if e.get("actor"):
                out.append(_attr("org:resource", e["actor"], "      "))
            for k, v in (e.get("data") or {}).items():
                if v is not None:
                    out.append(_attr(k, v, "      "))
            out.append("    </event>")
        out.append("  </trace>")
    out.append("</log>")
    return "\n".join(out) + "\n"
