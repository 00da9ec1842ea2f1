"""Report stage: one reporter per output format, separate from running."""

from __future__ import annotations

from typing import Protocol

from ..findings import AuditResult
from .jsonfmt import JsonReporter
from .text import TextReporter


class Reporter(Protocol):
    """Turns an audit result into the text of one output format."""

    def render(self, result: AuditResult) -> str: ...


AUDIT_REPORTERS: dict[str, type[Reporter]] = {"text": TextReporter, "json": JsonReporter}

__all__ = ["AUDIT_REPORTERS", "JsonReporter", "Reporter", "TextReporter"]
