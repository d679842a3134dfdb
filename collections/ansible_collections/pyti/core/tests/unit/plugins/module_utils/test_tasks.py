# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.pyti.core.plugins.module_utils._capture import Capture
from ansible_collections.pyti.core.plugins.module_utils._sandbox import Execution
from ansible_collections.pyti.core.plugins.module_utils._tasks import judge, last_line, skipped

CASES = yaml.safe_load(Path(__file__).with_suffix(".yaml").read_text(encoding="utf-8"))["cases"]
LIMITS = {"task_timeout": 900, "vm_timeout": 2400, "no_output_timeout": 300}


def execution(rc, output=b"", expired=None, head=1024, tail=1024):
    capture = Capture(head, tail)
    capture.feed(output)
    return Execution(rc=rc, duration_s=1.23456, expired=expired, output=capture)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_judge(case):
    files = {name: text.encode() for name, text in case.get("files", {}).items()}
    ran = execution(case["rc"], case.get("output", "").encode(), case.get("expired"))
    record = judge(case["task"], ran, files, LIMITS, case.get("vm_deadline", False))
    expect = case["expect"]
    assert (record["status"], record["reason"], record["failure_kind"]) == (
        expect["status"],
        expect["reason"],
        expect["failure_kind"],
    )
    assert {key: record.get(key) for key in expect} == expect
    assert record["name"] == case["task"]
    assert record["duration_s"] == 1.235


def test_marker_is_looked_for_in_the_head_not_the_tail():
    output = b"bwrap: setting up uid map\n" + b"x" * 5000 + b"\nERROR: last words\n"
    record = judge("install", execution(1, output, head=100, tail=100), {}, LIMITS, False)
    assert (record["status"], record["failure_kind"]) == ("error", "infra")
    assert record["reason"] == "infra: the VM did not start: ERROR: last words"
    assert record["output_bytes"] == len(output)


def test_reason_is_capped():
    output = b"E" * 1000 + b"\n"
    record = judge("install", execution(1, output), {}, LIMITS, False)
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
    }
