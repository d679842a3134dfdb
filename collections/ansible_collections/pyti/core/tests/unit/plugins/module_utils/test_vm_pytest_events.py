# SPDX-License-Identifier: GPL-3.0-or-later
"""The events plugin counts a real pytest session the way pytest's JUnit XML counts it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _vm_pytest_events
from ansible_collections.pyti.core.plugins.module_utils._rawresults import junit_counts
from ansible_collections.pyti.core.plugins.module_utils._vm_recorder import (
    parse_event,
    summarize,
)

OUTCOMES = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("setup breaks")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown breaks")

@pytest.fixture
def skipping():
    pytest.skip("skipped in setup")

def test_pass():
    pass

def test_fail():
    assert 1 == 2

def test_setup_error(broken):
    pass

def test_teardown_error_after_pass(bad_teardown):
    pass

def test_teardown_error_after_failure(bad_teardown):
    assert False

def test_skip():
    pytest.skip("not here")

def test_skip_in_setup(skipping):
    pass

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False

@pytest.mark.xfail(reason="known")
def test_xpass():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_xpass_strict():
    pass

@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 2
"""
SYNTAX_ERROR = "def broken(:\n"
PASSING = "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
MODULE_SKIP = 'import pytest\n\npytest.skip("not on this system", allow_module_level=True)\n'
SKIP_IN_TEARDOWN = """
import pytest

@pytest.fixture
def skips_late():
    yield
    pytest.skip("skipped in teardown")

def test_late_skip(skips_late):
    pass
"""
UNITTEST_SUBTESTS = """
import unittest

class T(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, {bad})
"""
LONG_ID = """
import pytest

@pytest.mark.parametrize("n", [1], ids=["x" * 70000])
def test_long(n):
    pass
"""
EXITS_HALFWAY = """
import os
import pytest

@pytest.mark.parametrize("n", range(10))
def test_n(n):
    if n == 3:
        os._exit(0)
"""

# Each session: its test files, pytest's extra arguments, its exit status and counts.
SESSIONS = {
    "every-outcome": (
        {"test_outcomes.py": OUTCOMES},
        [],
        1,
        {"passed": 4, "failed": 4, "errors": 3, "skipped": 3},
    ),
    "collection-error": (
        {"test_ok.py": PASSING, "test_syntax.py": SYNTAX_ERROR},
        [],
        2,
        {"passed": 0, "failed": 0, "errors": 1, "skipped": 0},
    ),
    "collection-error-continued": (
        {"test_ok.py": PASSING, "test_syntax.py": SYNTAX_ERROR},
        ["--continue-on-collection-errors"],
        1,
        {"passed": 2, "failed": 0, "errors": 1, "skipped": 0},
    ),
    "module-level-skip": (
        {"test_ok.py": PASSING, "test_skipped.py": MODULE_SKIP},
        [],
        0,
        {"passed": 2, "failed": 0, "errors": 0, "skipped": 1},
    ),
    "only-a-module-level-skip": (
        {"test_skipped.py": MODULE_SKIP},
        [],
        5,
        {"passed": 0, "failed": 0, "errors": 0, "skipped": 1},
    ),
    "deselected": (
        {"test_outcomes.py": OUTCOMES},
        ["-k", "param"],
        1,
        {"passed": 2, "failed": 1, "errors": 0, "skipped": 0},
    ),
}


@pytest.fixture
def plugin_dir(tmp_path):
    """A folder that holds the plugin under the name the recorder loads it by."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    shutil.copyfile(_vm_pytest_events.__file__, folder / "pyti_events.py")
    return folder


def write_tests(plugin_dir: Path, files: dict) -> Path:
    tests = plugin_dir.parent / "tests"
    tests.mkdir()
    (tests / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for name, source in files.items():
        (tests / name).write_text(textwrap.dedent(source), encoding="utf-8")
    return tests


def pytest_command(plugin_dir: Path, *args: str) -> tuple[list[str], dict]:
    """The pytest command line with the plugin, and an environment free of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTI_"))}
    env.update(PYTHONPATH=str(plugin_dir), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "pyti_events"]
    return argv + list(args), env


def run_pytest(plugin_dir: Path, files: dict, args=()) -> tuple[int, list[dict], bytes | None]:
    """Run pytest with the plugin on FILES: its exit status, its events and its JUnit XML."""
    tests = write_tests(plugin_dir, files)
    junit = plugin_dir.parent / "junit.xml"
    argv, env = pytest_command(plugin_dir, f"--junitxml={junit}", *args)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    env["PYTI_EVENTS_FD"] = str(theirs.fileno())
    with ours, theirs:
        proc = subprocess.Popen(
            argv, cwd=tests, env=env, pass_fds=(theirs.fileno(),), stdout=subprocess.DEVNULL
        )
        theirs.close()
        events = receive(ours, proc)
    return proc.returncode, events, junit.read_bytes() if junit.exists() else None


def receive(ours: socket.socket, proc: subprocess.Popen) -> list[dict]:
    """Every event until the process ends (the socket's queue is short: read as it runs)."""
    events, deadline = [], time.monotonic() + 120
    ours.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            data = ours.recv(1 << 17)
        except TimeoutError:
            if proc.poll() is not None:
                break
            continue
        if not data:
            break
        events.append(parse_event(data))
    proc.wait(timeout=5)
    return events


def assert_parity(summary: dict, junit: bytes | None, exitstatus: int) -> None:
    assert junit is not None
    assert summary["counts"] == junit_counts(junit)[0]
    # An interrupted session (exit 2) runs no test; any other runs every test it collected.
    assert summary["cases"] == (0 if exitstatus == 2 else summary["collected"])
    assert (summary["finished"], summary["exitstatus"]) == (True, exitstatus)
    assert summary["malformed"] == 0


@pytest.mark.parametrize("name", SESSIONS)
def test_counts_match_the_junit_xml(plugin_dir, name):
    files, args, exitstatus, counts = SESSIONS[name]
    rc, events, junit = run_pytest(plugin_dir, files, args)
    summary = summarize(events)
    assert rc == exitstatus
    assert_parity(summary, junit, exitstatus)
    assert summary["counts"] == counts


def test_every_outcome_names_its_failures(plugin_dir):
    _rc, events, _junit = run_pytest(plugin_dir, {"test_outcomes.py": OUTCOMES})
    failures = summarize(events)["failures"]
    assert [(f["name"].split("::")[-1], f["outcome"]) for f in failures] == [
        ("test_fail", "failed"),
        ("test_setup_error", "errors"),
        ("test_teardown_error_after_pass", "errors"),
        ("test_teardown_error_after_failure", "failed"),
        ("test_teardown_error_after_failure", "errors"),
        ("test_xpass_strict", "failed"),
        ("test_param[2]", "failed"),
    ]
    assert failures[0]["message"] == "assert 1 == 2"
    assert failures[1]["message"] == "RuntimeError: setup breaks"


def test_collection_error_is_named_with_its_exception(plugin_dir):
    files = {"test_syntax.py": SYNTAX_ERROR}
    _rc, events, _junit = run_pytest(plugin_dir, files)
    [failure] = summarize(events)["failures"]
    assert failure["name"] == "test_syntax.py"
    assert failure["outcome"] == "errors"
    assert "SyntaxError" in failure["message"]


@pytest.mark.parametrize(
    "files",
    [
        {"test_late.py": SKIP_IN_TEARDOWN},
        {"test_sub.py": UNITTEST_SUBTESTS.format(bad=-1)},
        {"test_sub.py": UNITTEST_SUBTESTS.format(bad=1)},
    ],
    ids=["skip-in-teardown", "unittest-subtests-pass", "unittest-subtest-fails"],
)
def test_rarer_sessions_match_the_junit_xml(plugin_dir, files):
    rc, events, junit = run_pytest(plugin_dir, files)
    assert_parity(summarize(events), junit, rc)


def test_a_test_id_longer_than_a_message_is_still_counted(plugin_dir):
    rc, events, junit = run_pytest(plugin_dir, {"test_long.py": LONG_ID})
    assert rc == 0
    assert_parity(summarize(events), junit, rc)


def test_a_session_that_exits_halfway_is_not_finished(plugin_dir):
    rc, events, junit = run_pytest(plugin_dir, {"test_exit.py": EXITS_HALFWAY})
    summary = summarize(events)
    assert (rc, junit) == (0, None)
    assert (summary["finished"], summary["exitstatus"]) == (False, None)
    assert (summary["cases"], summary["collected"]) == (3, 10)
    assert summary["counts"]["passed"] == 3


def test_without_a_socket_the_plugin_stays_quiet(plugin_dir):
    argv, env = pytest_command(plugin_dir)
    tests = write_tests(plugin_dir, {"test_ok.py": PASSING})
    done = subprocess.run(argv, cwd=tests, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout.decode()
