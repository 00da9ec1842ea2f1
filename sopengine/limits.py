"""Size limits on what sopengine reads: SOP files, expressions, log lines and what they hold.

A SOP file may come from an untrusted pull request and a log from any export,
so every input has a bound that turns "too big" into a clear error instead of
a slow or memory-hungry run. The defaults are far above what a real pack or
log needs (the bundled pack uses under a tenth of each); a caller passes its
own :class:`Limits` (``--max NAME=VALUE`` on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Iterable

from .errors import UsageError, did_you_mean


# Nesting is walked by recursive code (the YAML loader, the schema check, Python's own repr and
# equality); past these depths it would hit Python's recursion limit instead of a clear error.
CEILINGS = {"yaml-depth": 200, "json-depth": 200}


@dataclass(frozen=True)
class Limits:
    """Upper bounds; each is checked where the input is read, with an error that names it."""

    sop_file_bytes: int = 2_000_000  # one YAML file (SOP, scenarios, input mapping)
    facts_file_bytes: int = 20_000_000  # one facts file (YAML, JSON or CSV)
    yaml_depth: int = 64  # nesting of mappings and lists in a YAML file
    rules: int = 5_000  # rules in a pack
    expression_length: int = 2_000  # characters of one expression
    expression_depth: int = 32  # nesting of one expression
    expression_nodes: int = 400  # parts (names, operators, literals) of one expression
    template_placeholders: int = 50  # {expression} parts of one message or action (each shows up to 1,000 characters)
    line_bytes: int = 1_000_000  # one line of a JSON Lines log (or one CSV field)
    json_depth: int = 64  # nesting of arrays and objects in one log record (a line, a JSON document's record)
    rejected_kept: int = 1_000  # rejected records listed with their reason; the rest are counted by kind
    gzip_ratio: int = 1_000  # a .gz input may decompress to at most this many times the bytes read of it

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            name = f.name.replace("_", "-")
            if value < 1:
                raise UsageError(f"--max {name}: the limit must be at least 1, got {value}")
            ceiling = CEILINGS.get(name)
            if ceiling is not None and value > ceiling:
                raise UsageError(f"--max {name}: at most {ceiling} (nesting deeper than that would exhaust the "
                                 f"stack of the code that walks it), got {value}")

    @classmethod
    def names(cls) -> list[str]:
        """The limits as they are spelled on the command line (``line-bytes``)."""
        return [f.name.replace("_", "-") for f in fields(cls)]

    def with_settings(self, settings: Iterable[str]) -> "Limits":
        """These limits with ``NAME=VALUE`` settings applied (NAME as in :meth:`names`)."""
        changes: dict[str, int] = {}
        for item in settings:
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in self.names():
                hint = did_you_mean(name, self.names()) if sep else ""
                raise UsageError(f"--max expects NAME=VALUE with NAME one of {', '.join(self.names())}, "
                                 f"got {item!r}{hint}")
            try:
                number = int(value.replace("_", ""))
            except ValueError:
                raise UsageError(f"--max {name}: {value!r} is not a whole number") from None
            changes[name.replace("-", "_")] = number
        return replace(self, **changes)


DEFAULT = Limits()
