"""A progress bar on stderr for long audits: only on a terminal, never on a pipe or in CI (tqdm draws it)."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any, Sequence


def wanted(setting: bool | None) -> bool:
    """Show progress? Explicit --progress/--no-progress wins; by default only on an interactive stderr outside CI."""
    if setting is not None:
        return setting
    return sys.stderr.isatty() and not os.environ.get("CI")


def total_bytes(paths: Sequence[str]) -> int | None:
    """Size of the input when known (plain files); None for stdin or compressed files."""
    total = 0
    for p in paths:
        if p == "-" or p.endswith(".gz"):
            return None
        try:
            total += os.path.getsize(p)
        except OSError:
            return None
    return total


class Progress:
    """Bytes read so far with rate and time left (when the size is known), and events read; a no-op when off."""

    def __init__(self, enabled: bool, total: int | None, description: str = "audit"):
        self._bar: Any = None
        self._started = time.monotonic()
        self.total = total
        self.done = 0  # bytes read so far (kept when no bar is drawn: an interrupted run says how far it got)
        self.lines = 0
        if enabled:
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description,
                             file=sys.stderr, dynamic_ncols=True, mininterval=0.5, leave=False)

    def advance(self, n: int, lines: int | None = None) -> None:
        self.done += n
        if lines:
            self.lines = lines
        if self._bar is None:
            return
        if lines:
            rate = lines / max(time.monotonic() - self._started, 1e-6)
            self._bar.set_postfix_str(f"{lines:,} events, {rate:,.0f} events/s", refresh=False)
        self._bar.update(n)

    def how_far(self) -> str:
        """``"after 120.5 MB of 400.0 MB (1,234,567 lines)"``: what was read, as last reported by the readers."""
        text = f"after {_mb(self.done)}" + (f" of {_mb(self.total)}" if self.total else "")
        return text + (f" ({self.lines:,} lines)" if self.lines else "")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.close()


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"
