"""Text for terminals and CI logs that data cannot take over.

A case id, a YAML key or a scenario name comes from the user's files; written raw
into a text report, a newline in it starts a line of its own, and a line starting
with ``::`` is a GitHub Actions workflow command (``::error file=...::``), an ESC
starts a terminal control sequence. Every text output is made of lines the
reporters compose; :func:`line` makes each of them one inert line.
"""

from __future__ import annotations

import re
from typing import Iterable

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def line(text: str) -> str:
    """One line of text output: control characters shown as escapes, never a workflow command."""
    safe = _UNSAFE.sub(_escape, text)
    return " " + safe if safe.startswith("::") else safe


def lines(items: Iterable[str]) -> str:
    """Lines composed by a reporter, each made inert, joined and ended with a newline."""
    return "".join(line(item) + "\n" for item in items)
