"""Size limits on what sopengine reads: SOP files, expressions and log lines.

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


@dataclass(frozen=True)
class Limits:
    """Upper bounds; each is checked where the input is read, with an error that names it."""

    sop_file_bytes: int = 2_000_000  # one YAML file (SOP, scenarios, facts, input mapping)
    yaml_depth: int = 64  # nesting of mappings and lists in a YAML file
    rules: int = 5_000  # rules in a pack
    expression_length: int = 2_000  # characters of one expression
    expression_depth: int = 32  # nesting of one expression
    expression_nodes: int = 400  # parts (names, operators, literals) of one expression
    line_bytes: int = 1_000_000  # one line of a JSON Lines log (or one CSV field)

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
            if number < 1:
                raise UsageError(f"--max {name}: the limit must be at least 1, got {number}")
            changes[name.replace("-", "_")] = number
        return replace(self, **changes)


DEFAULT = Limits()
