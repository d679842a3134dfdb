# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible_collections.pyti.core.plugins.module_utils._capture import Capture
from ansible_collections.pyti.core.plugins.module_utils._rawresults import junit_counts
from ansible_collections.pyti.core.plugins.module_utils._records import sign, verify
from ansible_collections.pyti.core.plugins.module_utils._sandbox import Execution
from ansible_collections.pyti.core.plugins.module_utils._tasks import judge, last_line, skipped
from ansible_collections.pyti.core.plugins.module_utils._vm_recorder import summarize

CASES = yaml.safe_load(Path(__file__).with_suffix(".yaml").read_text(encoding="utf-8"))["cases"]
LIMITS = {
    "task_timeout": 900,
    "vm_timeout": 2400,
    "no_output_timeout": 300,
    "memory_bytes": 512 << 20,
    "processes": 64,
}
KEY = b"k" * 32
VM = "vm-7"
RECORD_DURATION = 0.5


def execution(rc, output=b"", expired=None, limit=None, head=1024, tail=1024):
    capture = Capture(head, tail)
    capture.feed(output)
    return Execution(rc=rc, duration_s=1.23456, expired=expired, output=capture, limit=limit)


def session(junit: str | None, rc, overrides: dict) -> dict:
    """What the recorder made of a pytest session that wrote JUNIT, as the plugin counts it."""
    summary = summarize([])
    if junit is not None:
        counts, failures = junit_counts(junit.encode())
        total = sum(counts.values())
        summary.update(counts=counts, failures=failures, collected=total, cases=total)
        summary.update(finished=True, exitstatus=rc)
    return {**summary, **overrides}


def recorder_files(case: dict) -> dict:
    """The files that the VM's recorder left for the case's task (none when its record is null).

    The record's rc defaults to the slave's; a test task's pytest summary is derived from
    the JUnit XML of the case (or the one it was `counted_from`), then from its overrides.
    """
    task, claimed = case["task"], case.get("record", {})
    if claimed is None:
        return {}
    record = {"vm": VM, "task": task, "rc": case["rc"], "duration_s": RECORD_DURATION}
    record.update({key: value for key, value in claimed.items() if key != "pytest"})
    if task == "test":
        junit = case.get("counted_from", case.get("junit"))
        record["pytest"] = session(junit, record["rc"], claimed.get("pytest", {}))
    payload = json.dumps(record).encode()
    key = b"another key, not the VM's one..." if case.get("signed_by_another_key") else KEY
    return {f"{task}.json": payload, f"{task}.sig": sign(key, payload).encode()}


def judge_case(case: dict) -> dict:
    files = {"junit.xml": case["junit"].encode()} if "junit" in case else {}
    ran = execution(
        case["rc"], case.get("output", "").encode(), case.get("expired"), case.get("limit")
    )
    evidence = verify(recorder_files(case), case["task"], KEY, VM)
    return judge(case["task"], ran, files, LIMITS, case.get("vm_deadline", False), evidence)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_judge(case):
    record = judge_case(case)
    expect = case["expect"]
    assert (record["status"], record["reason"], record["failure_kind"], record["verified"]) == (
        expect["status"],
        expect["reason"],
        expect["failure_kind"],
        expect["verified"],
    )
    assert {key: record.get(key) for key in expect} == expect
    assert record["name"] == case["task"]


def case_named(name: str) -> dict:
    return next(case for case in CASES if case["id"] == name)


def test_a_trusted_record_gives_the_exit_status_and_duration():
    record = judge_case(case_named("killed-by-sigkill"))
    assert (record["rc"], record["duration_s"]) == (-9, RECORD_DURATION)


def test_without_a_trusted_record_the_slave_view_stays():
    record = judge_case(case_named("record-says-exit-0-slave-saw-1"))
    assert (record["rc"], record["duration_s"]) == (1, 1.235)


def test_without_evidence_nothing_is_trusted():
    record = judge("install", execution(0), {}, LIMITS, False)
    assert (record["status"], record["reason"], record["verified"]) == (
        "error",
        "results: not trusted: no record",
        False,
    )


def test_marker_is_looked_for_in_the_head_not_the_tail():
    output = b"bwrap: setting up uid map\n" + b"x" * 5000 + b"\nERROR: last words\n"
    record = judge("install", execution(1, output, head=100, tail=100), {}, LIMITS, False)
    assert (record["status"], record["failure_kind"]) == ("error", "infra")
    assert record["reason"] == "infra: the VM did not start: ERROR: last words"
    assert record["output_bytes"] == len(output)


def test_reason_is_capped():
    case = {"task": "install", "rc": 1, "output": "E" * 1000 + "\n"}
    record = judge_case(case)
    assert record["reason"] == "install failed (exit 1): " + "E" * 300


def test_last_line_skips_blank_lines_and_strips():
    capture = Capture(64, 64)
    capture.feed(b"first\n  second  \n\n \t\n")
    assert last_line(capture) == "second"
    assert last_line(Capture(64, 64)) == "no output"


def test_skipped_record():
    assert skipped("test", "import did not pass") == {
        "name": "test",
        "status": "skipped",
        "reason": "import did not pass",
        "failure_kind": None,
        "duration_s": 0.0,
        "rc": None,
        "log": None,
        "output_bytes": 0,
        "limit": None,
        "verified": None,
    }
