"""Report stage: one reporter per output format, separate from running.

Every reporter renders the three kinds of result: an audit, a lint run and a
scenario test run. Formats: text (people), json, junit (XML), sarif (2.1.0),
github (workflow annotations), markdown (step summaries, pull request
comments) and codequality (GitLab's Code Quality report); html renders audits
only.
"""

from __future__ import annotations

from typing import Protocol

from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from .codequality import CodeQualityReporter
from .github import GithubReporter
from .html import HtmlReporter
from .jsonfmt import JsonReporter
from .junit import JunitReporter
from .markdown import MarkdownReporter
from .sarif import SarifReporter
from .text import TextReporter


class Reporter(Protocol):
    """Turns a result into the text of one output format."""

    def audit(self, result: AuditResult, pack: Pack) -> str: ...

    def lint(self, report: LintReport) -> str: ...

    def test(self, report: TestReport) -> str: ...


REPORTERS: dict[str, type[Reporter]] = {
    "text": TextReporter, "json": JsonReporter, "junit": JunitReporter, "sarif": SarifReporter,
    "github": GithubReporter, "markdown": MarkdownReporter, "codequality": CodeQualityReporter,
    "html": HtmlReporter,
}

__all__ = ["REPORTERS", "CodeQualityReporter", "GithubReporter", "HtmlReporter", "JsonReporter", "JunitReporter", "MarkdownReporter", "Reporter",
           "SarifReporter", "TextReporter"]
