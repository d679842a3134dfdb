# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import xml.dom.minidom
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.pyti.core.plugins.module_utils._report import RunCollector
from ansible_collections.pyti.core.plugins.module_utils._report_junit import to_junit

FINISHED = "2026-12-04T16:20:00Z"


def junit(run, **results_by_slave):
    collector = RunCollector()
    collector.add_run(run)
    for slave, results in results_by_slave.items():
        collector.add_results(slave, results)
    text = to_junit(collector.build(FINISHED, "controller"))
    xml.dom.minidom.parseString(text.encode("utf-8"))  # a second strict parser
    return ET.fromstring(text.encode("utf-8"))


def suites_by_name(root):
    return {suite.get("name"): suite for suite in root.iter("testsuite")}


def outcome(case):
    children = [child.tag for child in case if child.tag != "system-out"]
    return children[0] if children else "passed"


@pytest.fixture
def root(run_payload, localhost_results, slave2_results):
    return junit(run_payload, localhost=localhost_results, slave2=slave2_results)


def test_document_totals(root):
    assert root.tag == "testsuites"
    assert root.get("name") == "pyti 20261204T161000Z-ab12cd"
    totals = {key: root.get(key) for key in ("tests", "failures", "errors", "skipped", "time")}
    assert totals == {"tests": "10", "failures": "1", "errors": "2", "skipped": "1",
                      "time": "13.500"}  # fmt: skip


def test_one_suite_per_result(root):
    assert sorted(suites_by_name(root)) == [
        "attrs==23.1.0 python3.10 on localhost",
        "broken==0.1 python3.9 on slave2",
        "six==1.16.0 python3.10 on localhost",
        "six==1.16.0 python3.9 on slave2",
    ]


@pytest.mark.parametrize(
    ("suite", "cases"),
    [
        ("six==1.16.0 python3.10 on localhost",
         {"install": "passed", "import": "passed", "test": "passed"}),
        ("attrs==23.1.0 python3.10 on localhost",
         {"install": "passed", "import": "passed", "test": "failure"}),
        ("six==1.16.0 python3.9 on slave2",
         {"install": "passed", "import": "error", "test": "skipped"}),
        ("broken==0.1 python3.9 on slave2", {"job": "error"}),
    ],
)  # fmt: skip
def test_cases_and_counts(root, suite, cases):
    element = suites_by_name(root)[suite]
    found = {case.get("name"): outcome(case) for case in element.iter("testcase")}
    assert found == cases

    expected = {
        "tests": len(cases),
        "failures": list(cases.values()).count("failure"),
        "errors": list(cases.values()).count("error"),
        "skipped": list(cases.values()).count("skipped"),
    }
    assert {key: int(element.get(key)) for key in expected} == expected


def test_failure_carries_reason_failures_and_log_tail(root):
    suite = suites_by_name(root)["attrs==23.1.0 python3.10 on localhost"]
    failure = suite.find("testcase[@name='test']/failure")
    assert failure.get("message") == "test: 2 of 7 tests failed"
    assert failure.get("type") == "task"
    assert "tests/test_x.py::test_y: assert 1 == 2" in failure.text
    assert failure.text.endswith("FAILED tests/test_x.py::test_y\n")
    assert suite.find("testcase[@name='test']").get("classname") == "attrs"


def test_timeout_and_infra_errors(root):
    suites = suites_by_name(root)
    timeout = suites["six==1.16.0 python3.9 on slave2"].find("testcase[@name='import']/error")
    assert timeout.get("type") == "timeout"
    infra = suites["broken==0.1 python3.9 on slave2"].find("testcase[@name='job']/error")
    assert infra.get("type") == "infra"
    assert infra.get("message") == "infra: slave slave2 returned no result for job j0003"


def test_suite_attributes_and_properties(root):
    suite = suites_by_name(root)["six==1.16.0 python3.10 on localhost"]
    assert suite.get("hostname") == "localhost"
    assert suite.get("timestamp") == "2026-12-04T16:10:05"
    assert suite.get("time") == "4.500"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["job"] == "j0001"
    assert properties["no_tests"] == "false"
    assert "reason" not in properties
    assert "reused_from" not in properties
    assert [child.tag for child in suite][0] == "properties"


def test_a_reused_result_names_the_run_it_came_from(run_payload, result_payload):
    raw = result_payload("j0001@R0", "six", "1.16.0", "3.10", reused_from="20261201T080000Z-aa11bb")
    suite = suites_by_name(junit(run_payload, localhost=[raw]))[
        "six==1.16.0 python3.10 on localhost"
    ]
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["reused_from"] == "20261201T080000Z-aa11bb"
    assert properties["raw_dir"] == "localhost/j0001@R0"


def test_error_result_whose_tasks_passed_gets_a_job_case(run_payload, result_payload):
    raw = result_payload(
        "j0001", "six", "1.16.0", "3.10", "error",
        reason="results: junit.xml unreadable", failure_kind="results",
    )  # fmt: skip
    suite = suites_by_name(junit(run_payload, localhost=[raw]))[
        "six==1.16.0 python3.10 on localhost"
    ]
    assert [case.get("name") for case in suite.iter("testcase")][-1] == "job"
    assert suite.get("errors") == "1"


HOSTILE = "\x00\x01\x0b\x0c\x1b[31m\udcff\ud800\ufffe\uffff]]><!--&<>\"' \U0001f40d"


def test_hostile_text_gives_parseable_xml(run_payload, result_payload):
    tasks = [
        {
            "name": HOSTILE,
            "status": "failed",
            "reason": HOSTILE,
            "log_tail": HOSTILE,
            "failures": [{"name": HOSTILE, "message": HOSTILE}],
        }
    ]
    raw = result_payload("j0001", HOSTILE, HOSTILE, HOSTILE, "failed", tasks, reason=HOSTILE,
                         started=HOSTILE, vm=HOSTILE)  # fmt: skip
    root = junit(run_payload, **{HOSTILE: [raw]})

    failure = root.find(".//failure")
    assert failure.get("message").startswith("\ufffd\ufffd]]><!--&<>\"' \U0001f40d")
    assert "\x00" not in ET.tostring(root, encoding="unicode")
    assert root.get("failures") == "1"


def test_huge_log_tail_is_capped(run_payload, result_payload):
    tasks = [{"name": "test", "status": "failed", "log_tail": "y" * 10**6}]
    raw = result_payload("j0001", "six", "1", "3.10", "failed", tasks)
    failure = junit(run_payload, localhost=[raw]).find(".//failure")
    assert len(failure.text) < 10 * 1024
