# SPDX-License-Identifier: GPL-3.0-or-later
"""Payloads of a small PYTI run, shared by the report model and the report callback tests.

The run has four jobs on two slaves: j0001 passes, j0002 fails its tests, j0003 never
returns a result and j0004 times out on import.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "meta" / "report.schema.json"

RUN = {
    "id": "20261204T161000Z-ab12cd",
    "started": "2026-12-04T16:10:00Z",
    "driver": "namespace",
    "report_dir": "reports",
    "tasks": ["install", "import", "test"],
    "pythons": ["3.10", "3.9"],
    "limits": {"timeout_s": 600, "memory_mb": 1024, "network": False},
    "distributions": ["six==1.16.0", "attrs==23.1.0", "broken==0.1"],
    "jobs": [
        {"id": "j0001", "distribution": "six==1.16.0", "key": "six-1.16.0", "python": "3.10",
         "slave": "localhost"},
        {"id": "j0002", "distribution": "attrs==23.1.0", "key": "attrs-23.1.0",
         "python": "3.10", "slave": "localhost"},
        {"id": "j0003", "distribution": "broken==0.1", "key": "broken-0.1", "python": "3.9",
         "slave": "slave2"},
        {"id": "j0004", "distribution": "six==1.16.0", "key": "six-1.16.0", "python": "3.9",
         "slave": "slave2"},
    ],
    "pyti_version": "0.1.0",
}  # fmt: skip


def _task(name, status="passed", **extra):
    task = {
        "name": name,
        "status": status,
        "duration_s": 1.5,
        "reason": None,
        "failure_kind": None,
        "rc": 0,
        "log": f"{name}.log",
        "output_bytes": 120,
    }
    task.update(extra)
    return task


def make_result(job, distribution, version, python, status="passed", tasks=None, **extra):
    """A pyti_results entry as pyti.core.task_run returns it; all tasks pass by default."""
    if tasks is None:
        tasks = [_task("install"), _task("import"), _task("test", tests=_counts(10, 0, 0, 1))]
    result = {
        "job": job,
        "distribution": distribution,
        "version": version,
        "spec": f"{distribution}=={version}",
        "source": "pypi",
        "python": python,
        "python_version": f"{python}.7",
        "python_path": f"/usr/bin/python{python}",
        "vm": f"vm-{job}",
        "driver": "namespace",
        "started": "2026-12-04T16:10:05Z",
        "duration_s": 4.5,
        "status": status,
        "reason": None,
        "failure_kind": None,
        "no_tests": False,
        "raw_dir": f"localhost/{job}",
        "tasks": tasks,
    }
    result.update(extra)
    return result


def _counts(passed, failed, errors, skipped):
    return {"passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


def failing_result():
    failures = [{"name": "tests/test_x.py::test_y", "message": "assert 1 == 2"}]
    test = _task(
        "test",
        "failed",
        rc=1,
        reason="test: 2 of 7 tests failed",
        failure_kind="task",
        log_tail="E   assert 1 == 2\nFAILED tests/test_x.py::test_y\n",
        tests=_counts(5, 2, 0, 0),
        failures=failures,
    )
    tasks = [_task("install"), _task("import"), test]
    return make_result(
        "j0002", "attrs", "23.1.0", "3.10", "failed", tasks,
        reason="test: 2 of 7 tests failed", failure_kind="task",
    )  # fmt: skip


def timeout_result():
    timeout = _task(
        "import", "timeout", rc=None, reason="import: no answer in 60 s",
        failure_kind="task", log_tail="importing...\n",
    )  # fmt: skip
    test = _task("test", "skipped", rc=None, log=None, reason="import did not pass")
    tasks = [_task("install"), timeout, test]
    return make_result(
        "j0004", "six", "1.16.0", "3.9", "timeout", tasks,
        reason="import: no answer in 60 s", failure_kind="task", raw_dir="slave2/j0004",
    )  # fmt: skip


@pytest.fixture
def run_payload():
    return copy.deepcopy(RUN)


@pytest.fixture
def localhost_results():
    """What task_run returns on localhost: one passed and one failed result."""
    return [make_result("j0001", "six", "1.16.0", "3.10"), failing_result()]


@pytest.fixture
def slave2_results():
    """What task_run returns on slave2: j0003 is missing."""
    return [timeout_result()]


@pytest.fixture(scope="session")
def report_schema():
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def result_payload():
    """Factory for pyti_results entries: result_payload(job, distribution, version, python)."""
    return make_result
