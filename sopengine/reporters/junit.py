"""JUnit XML, as CI systems read it: lint findings, scenarios and audited rules as test cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass

from ..errors import Severity
from ..findings import AuditResult, Violation
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from ..timeutil import format_time


def _suites(name: str) -> ET.Element:
    return ET.Element("testsuites", name=name)


def _finish(root: ET.Element) -> str:
    tests = failures = skipped = 0
    for suite in root:
        cases = list(suite.iter("testcase"))
        f = sum(1 for c in cases if c.find("failure") is not None)
        s = sum(1 for c in cases if c.find("skipped") is not None)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(f))
        suite.set("errors", "0")
        suite.set("skipped", str(s))
        tests, failures, skipped = tests + len(cases), failures + f, skipped + s
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@dataclass
class JunitReporter:
    def lint(self, report: LintReport) -> str:
        root = _suites("sopengine lint")
        by_file = defaultdict(list)
        for d in report.diagnostics:
            by_file[d.location.file].append(d)
        for file in sorted(set(report.files) | set(by_file)):
            suite = ET.SubElement(root, "testsuite", name=file)
            findings = by_file.get(file, [])
            if not any(d.severity is not Severity.INFO or d.suppressed for d in findings):
                ET.SubElement(suite, "testcase", classname="sopengine.lint", name=f"{file} is clean")
            for d in findings:
                if d.severity is Severity.INFO and d.suppressed is None:
                    continue
                case = ET.SubElement(suite, "testcase", classname=f"sopengine.lint.{d.code.value}",
                                     name=f"{d.location}: {d.message}", file=file, line=str(d.location.line))
                if d.suppressed is not None:
                    ET.SubElement(case, "skipped", message=f"suppressed: {d.suppressed}")
                else:
                    failure = ET.SubElement(case, "failure", message=d.message, type=d.severity.value)
                    failure.text = str(d)
        return _finish(root)

    def test(self, report: TestReport) -> str:
        root = _suites("sopengine test")
        suites: dict[str, ET.Element] = {}
        for o in report.outcomes:
            suite = suites.get(o.file)
            if suite is None:
                suite = suites[o.file] = ET.SubElement(root, "testsuite", name=o.file)
            case = ET.SubElement(suite, "testcase", classname=f"sopengine.test.{o.sop or 'file'}", name=o.name,
                                 file=o.file, line=str(o.location.line))
            if not o.passed:
                failure = ET.SubElement(case, "failure", message=o.problems[0] if o.problems else "failed")
                failure.text = "\n".join(o.problems)
        return _finish(root)

    def audit(self, result: AuditResult, pack: Pack) -> str:
        root = _suites("sopengine audit")
        if result.input_problem:
            inputs = ET.SubElement(root, "testsuite", name="input")
            read = ET.SubElement(inputs, "testcase", classname="sopengine.audit", name="input read")
            ET.SubElement(read, "error", type="input", message=result.input_problem).text = result.input_problem
        by_rule: dict[str, list[Violation]] = defaultdict(list)
        for v in result.violations:
            by_rule[v.rule].append(v)
        suites: dict[str, ET.Element] = {}
        for rule in pack.rules:
            suite = suites.get(rule.sop)
            if suite is None:
                suite = suites[rule.sop] = ET.SubElement(root, "testsuite", name=rule.sop)
            case = ET.SubElement(suite, "testcase", classname=f"sopengine.audit.{rule.sop}", name=rule.id)
            found = by_rule.get(rule.id)
            if found:
                failure = ET.SubElement(case, "failure", type=rule.severity,
                                        message=f"{len(found)} violation(s) in {len({v.case for v in found})} case(s)")
                failure.text = "\n".join(f"{v.case} {format_time(v.time)} {v.message} [{', '.join(v.events)}]"
                                          + (f" (accountable: {v.accountable})" if v.accountable else "")
                                         for v in found)
        if result.provenance:  # what produced the audit, in each suite (where JUnit readers look for it)
            for suite in root:
                props = ET.Element("properties")
                for name, value in result.provenance.items():
                    ET.SubElement(props, "property", name=name, value=value)
                suite.insert(0, props)
        return _finish(root)
