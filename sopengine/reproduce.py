"""``sopengine audit --reproduce REPORT``: read a JSON report's provenance, check that every file it names is
as it was, and (once the command line has run the audit again) say how the findings differ, if they do."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

import orjson

from .errors import InputError, UsageError
from .provenance import STDIN, Provenance, digest
from .schema import AUDIT_OUTPUT, validator

_KINDS = (("violations", "violations"), ("next_actions", "next actions"), ("undecided", "undecided checks"))


def load_report(path: str) -> tuple[dict[str, Any], Provenance]:
    """A JSON audit report and its provenance (checked against the audit output schema)."""
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"--reproduce: cannot read {path} ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"--reproduce: {path} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or "provenance" not in doc:
        raise UsageError(f"--reproduce: {path} has no provenance: give the JSON report of a `sopengine audit` "
                         "(--format json) made by this version or a later one")
    # the findings are compared, not checked: a report of a million findings is checked in its small parts
    shell = {"summary": doc.get("summary"), "provenance": doc["provenance"], "violations": [], "next_actions": [],
             "rejected": []}
    from jsonschema.exceptions import best_match  # (imported when a report is reproduced: ~0.2 s)

    error = best_match(validator(AUDIT_OUTPUT).iter_errors(shell))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise UsageError(f"--reproduce: {path}: {where}: {error.message}")
    return doc, Provenance.from_json(doc["provenance"])


def changed_files(provenance: Provenance) -> list[str]:
    """Every file the report names that is not as it was (changed, gone, unreadable, or one that cannot be
    read again: stdin, a pipe), as one line each; empty when all are unchanged."""
    out = []
    for was in provenance.files():
        if was.path == STDIN:
            out.append("the audit read stdin, which cannot be read again: audit the log from a file")
            continue
        if was.sha256 is None:
            out.append(f"{was.path}: the audit read it from a pipe, which cannot be read again")
            continue
        try:
            now = digest(was.path, was.collection)
        except InputError as exc:
            out.append(str(exc))
            continue
        if now.sha256 != was.sha256:
            out.append(f"{was.path}: changed since the audit (sha256 {was.sha256} then, {now.sha256} now)")
    return out


def new_pack_files(provenance: Provenance, files: Iterable[str]) -> list[str]:
    """Files of the pack now that were not part of it when the report was made, one line each."""
    known = {f.path for f in provenance.pack_files}
    return [f"{path}: part of the pack now, not when the report was made" for path in files if path not in known]


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """How the findings of two reports differ, one line per rule that changed (per kind of finding: the counts
    before and after, and how many are new and gone), then the summary counts that changed. Empty when
    the findings are identical."""
    per_rule: dict[str, list[str]] = {}
    reordered = False
    for key, label in _KINDS:
        before, after = _by_rule(old.get(key) or []), _by_rule(new.get(key) or [])
        for rule in sorted(set(before) | set(after)):
            was, now = before.get(rule, Counter()), after.get(rule, Counter())
            if was != now:
                per_rule.setdefault(rule, []).append(
                    f"{label} {was.total()} -> {now.total()} ({(now - was).total()} new, {(was - now).total()} gone)")
        reordered = reordered or old.get(key) != new.get(key)
    lines = [f"{rule}: {'; '.join(parts)}" for rule, parts in sorted(per_rule.items())]
    was_summary, now_summary = old.get("summary") or {}, new.get("summary") or {}
    lines += [f"summary {k}: {was_summary.get(k)} -> {now_summary.get(k)}" for k in now_summary
              if was_summary.get(k) != now_summary.get(k) and k not in {key for key, _ in _KINDS}]
    if reordered and not per_rule:
        lines.append("the same findings, in another order")
    return lines


def _by_rule(findings: Iterable[Mapping[str, Any]]) -> dict[str, Counter[bytes]]:
    out: dict[str, Counter[bytes]] = {}
    for f in findings:
        out.setdefault(str(f.get("rule")), Counter())[orjson.dumps(f, option=orjson.OPT_SORT_KEYS)] += 1
    return out


__all__ = ["changed_files", "differences", "load_report", "new_pack_files"]
