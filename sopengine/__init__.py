"""sopengine: declarative SOP rules engine and validator.

Typical embedding::

    import sopengine
    pack = sopengine.load_pack(["sops/"])              # load, check, compile once
    result = sopengine.audit_files(pack, ["log.jsonl"], facts=sopengine.load_facts(["facts.yaml"]))
    for v in result.violations: ...

or, event by event::

    session = sopengine.Session(pack, facts)
    session.feed(event)
    session.next_actions(as_of=time)
"""

from .adapters import InputSpec as InputSpec
from .audit import audit as audit
from .audit import audit_paths as audit_paths
from .audit import load_facts as load_facts
from .audit import read_records as read_records
from .errors import Diagnostic as Diagnostic
from .errors import InputError as InputError
from .errors import PackError as PackError
from .errors import SopengineError as SopengineError
from .errors import UsageError as UsageError
from .events import Event as Event
from .explain import Explanation as Explanation
from .explain import explain as explain
from .events import Rejected as Rejected
from .findings import AuditResult as AuditResult
from .frames import FrameAudit as FrameAudit
from .frames import audit_frame as audit_frame
from .findings import NextAction as NextAction
from .findings import Undecided as Undecided
from .findings import Violation as Violation
from .impact import Impact as Impact
from .impact import compare as compare
from .lint import LintReport as LintReport
from .lint import lint as lint
from .model import Pack as Pack
from .model import Rule as Rule
from .pack import load_pack as load_pack
from .scenarios import TestReport as TestReport
from .scenarios import run_tests as run_tests
from .session import Session as Session
from .timeutil import parse_time as parse_time

__version__ = "0.1.0"


def audit_files(pack: Pack, paths: list[str], facts: dict[str, object] | None = None,
                as_of: float | None = None, *, strict: bool = False, grouped: bool = False,
                inputs: InputSpec | None = None) -> AuditResult:
    """Audit log files against a pack (see :func:`audit`): JSON Lines, or ``inputs`` (format, mapping).

    On the native engine JSON Lines files, and XES and CSV files whose mapping the core applies exactly, are
    read by the core itself.
    """
    return audit_paths(pack, [str(p) for p in paths], facts, as_of, strict=strict, grouped=grouped, inputs=inputs)


__all__ = [
    "AuditResult", "Diagnostic", "InputSpec", "Event", "Explanation", "Impact", "InputError", "LintReport", "NextAction", "Pack", "PackError",
    "Rejected", "Rule", "Session", "SopengineError", "TestReport", "Undecided", "UsageError", "Violation", "audit",
    "FrameAudit", "audit_files", "audit_frame", "audit_paths", "compare", "explain", "lint", "load_facts", "load_pack", "parse_time", "read_records", "run_tests",
]
