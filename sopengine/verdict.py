"""Never a false "clean": when the input could not be read, the audit says so and exits 2.

An audit in which no record became an event (a CSV whose delimiter was given wrong, a legacy
encoding not declared, column names the mapping does not know), or in which more records were rejected
than the allowed share, has not judged the cases: its "no violations" would be false.
"""

from __future__ import annotations

from collections import Counter

from .errors import UsageError
from .events import reason_kind
from .findings import AuditResult

DEFAULT_MAX_REJECTED = "1%"


def parse_max_rejected(text: str) -> tuple[float, bool]:
    """``N`` records or ``N%`` of the records read -> (value, is_share)."""
    raw = text.strip()
    share = raw.endswith("%")
    try:
        value = float(raw[:-1] if share else raw)
    except ValueError:
        raise UsageError(f"--max-rejected expects a number of records or a percentage, got {text!r}") from None
    if value < 0 or (share and value > 100):
        raise UsageError(f"--max-rejected: {text!r} is out of range")
    return value, share


def rejection_reasons(result: AuditResult, top: int = 5) -> list[tuple[str, int]]:
    """The most common kinds of rejection (the reason up to its first detail), with their counts."""
    kinds = Counter(reason_kind(r.error) for r in result.rejected)
    kinds.update(result.rejected_more)
    return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def input_problem(result: AuditResult, max_rejected: str = DEFAULT_MAX_REJECTED) -> str | None:
    """Why the audit's input cannot be trusted, or None when it can."""
    read, rejected = result.read, result.rejected_count
    reasons = "; ".join(f"{n} × {kind}" for kind, n in rejection_reasons(result))
    if read == 0:
        return "the input holds no record at all: nothing was audited"
    if result.events == 0:
        return f"none of the {read} records read is an event ({reasons or 'all skipped by the mapping'}): " \
               "nothing was audited"
    limit, share = parse_max_rejected(max_rejected)
    allowed = read * limit / 100 if share else limit
    if rejected > allowed:
        return (f"{rejected} of {read} records were rejected ({100 * rejected / read:.1f}%, more than "
                f"--max-rejected {max_rejected}): {reasons}; the findings cover only what could be read")
    return None
