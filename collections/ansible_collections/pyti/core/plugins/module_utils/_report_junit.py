# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""The report as JUnit XML: one testsuite per result, one testcase per task.

The layout follows the schema Jenkins and GitLab read: properties first, then test cases;
failed tasks carry <failure>, errors and timeouts <error>, skipped tasks <skipped>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from ansible_collections.pyti.core.plugins.module_utils._report import MESSAGE_LIMIT
from ansible_collections.pyti.core.plugins.module_utils._report_values import (
    TEXT_LIMIT,
    clean_text,
    one_line,
)

# Characters XML 1.0 forbids; the model already drops them, this is the last guard.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The JUnit schema wants a timestamp without a time zone.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

_CHILD_FOR_STATUS = {
    "failed": "failure",
    "error": "error",
    "timeout": "error",
    "skipped": "skipped",
}
_PROPERTIES = (
    "job",
    "spec",
    "source",
    "python_version",
    "python_path",
    "vm",
    "driver",
    "failure_kind",
    "reason",
    "raw_dir",
    "no_tests",
    # A result taken from an earlier run; its raw_dir is under that run's raw/ folder.
    "reused_from",
)


def _xml(value: object, limit: int = MESSAGE_LIMIT) -> str:
    return _NOT_XML.sub("", clean_text(value, limit) or "")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _body(task: Mapping) -> str:
    """The text inside <failure>/<error>: reason, failing tests, then the log tail."""
    parts = [task["reason"] or task["status"]]
    parts += [f"{entry['name']}: {entry['message']}" for entry in task["failures"]]
    if task["log_tail"]:
        parts.append(f"--- last output ---\n{task['log_tail']}")
    return _xml("\n".join(parts), TEXT_LIMIT)


def _testcase(result: Mapping, task: Mapping) -> ET.Element:
    case = ET.Element("testcase", classname=_xml(result["distribution"]), name=_xml(task["name"]))
    case.set("time", _seconds(task["duration_s"]))

    child = _CHILD_FOR_STATUS.get(task["status"])
    if child is None:
        return case
    message = _xml(one_line(task["reason"]) or task["status"])
    element = ET.SubElement(case, child, message=message)
    if child == "skipped":
        return case
    kind = "timeout" if task["status"] == "timeout" else task["failure_kind"] or "task"
    element.set("type", kind)
    element.text = _body(task)
    return case


def _result_as_task(result: Mapping) -> dict:
    """A stand-in task for a result whose status no task of its own shows."""
    return {
        "name": "job",
        "status": result["status"],
        "duration_s": result["duration_s"],
        "reason": result["reason"],
        "failure_kind": result["failure_kind"],
        "failures": [],
        "log_tail": None,
    }


def _needs_result_case(result: Mapping) -> bool:
    if not result["tasks"]:
        return True
    bad = result["status"] not in ("passed", "skipped")
    return bad and all(task["status"] in ("passed", "skipped") for task in result["tasks"])


def _properties(result: Mapping) -> ET.Element:
    properties = ET.Element("properties")
    for name in _PROPERTIES:
        value = result[name]
        if value is not None:
            value = str(value).lower() if isinstance(value, bool) else value
            ET.SubElement(properties, "property", name=name, value=_xml(value))
    return properties


def _count_into(element: ET.Element, cases: list[ET.Element]) -> dict[str, int]:
    """Set tests/failures/errors/skipped on element from its cases and return them."""
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        for child, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            counts[key] += case.find(child) is not None
    for key, count in counts.items():
        element.set(key, str(count))
    return counts


def suite_name(result: Mapping) -> str:
    version = f"=={result['version']}" if result["version"] else ""
    python = result["python"]
    label = python if python.startswith(("python", "/")) else f"python{python}"
    return f"{result['distribution']}{version} {label} on {result['slave']}"


def _testsuite(result: Mapping) -> tuple[ET.Element, dict[str, int]]:
    suite = ET.Element("testsuite", name=_xml(suite_name(result)), hostname=_xml(result["slave"]))
    stamp = _TIMESTAMP.match(result["started"] or "")
    if stamp:
        suite.set("timestamp", stamp.group(0))
    suite.set("time", _seconds(result["duration_s"]))

    tasks = list(result["tasks"])
    if _needs_result_case(result):
        tasks.append(_result_as_task(result))
    cases = [_testcase(result, task) for task in tasks]
    counts = _count_into(suite, cases)
    suite.append(_properties(result))
    suite.extend(cases)
    return suite, counts


def to_junit(report: Mapping) -> str:
    """The report as a JUnit XML document (a str; write it as UTF-8)."""
    root = ET.Element("testsuites", name=_xml(f"pyti {report['run']['id']}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for result in report["results"]:
        suite, counts = _testsuite(result)
        root.append(suite)
        totals = {key: totals[key] + counts[key] for key in totals}

    for key, count in totals.items():
        root.set(key, str(count))
    durations = (result["duration_s"] for result in report["results"])
    root.set("time", _seconds(sum(durations)))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
