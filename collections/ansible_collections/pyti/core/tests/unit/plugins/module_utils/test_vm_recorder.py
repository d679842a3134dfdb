# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import resource
import select
import shutil
import stat
import sys
import textwrap

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _records, _vm_recorder
from ansible_collections.pyti.core.plugins.module_utils._vm_recorder import (
    Step,
    read_key,
    summarize,
)

# A uid that no account uses, and an interpreter that it may run.
NOBODY_UID = 979042
SYSTEM_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)

SEND = """
import json, os, signal, sys, time
fd = int(os.environ.get("PYTI_EVENTS_FD", "-1"))
def send(event):
    os.write(fd, json.dumps(event).encode())
"""


def step(body: str, uid: int = 0, python: str = sys.executable, **options) -> Step:
    """Run BODY (after the SEND helper) as a step of UID, the way the recorder runs one."""
    code = SEND + textwrap.dedent(body)
    return Step([python, "-c", code], uid, **options).run()


@needs_root
def test_events_of_the_step_itself_are_kept():
    ran = step(
        'send({"e": "collected", "n": 2})\nsend({"e": "finish", "exitstatus": 0})', events=True
    )
    assert ran.rc == 0
    assert ran.events == [{"e": "collected", "n": 2}, {"e": "finish", "exitstatus": 0}]
    assert (ran.foreign, ran.dropped) == (0, 0)
    assert ran.duration_s > 0


@needs_root
def test_events_of_a_forked_child_are_foreign():
    body = """
    send({"e": "step", "n": 1})
    pid = os.fork()
    if pid == 0:
        send({"e": "finish", "exitstatus": 0})
        os._exit(0)
    os.waitpid(pid, 0)
    send({"e": "step", "n": 2})
    """
    ran = step(body, events=True)
    assert ran.events == [{"e": "step", "n": 1}, {"e": "step", "n": 2}]
    assert ran.foreign == 1


@needs_root
def test_what_a_child_sends_after_the_step_ended_is_not_read():
    body = """
    if os.fork() == 0:
        time.sleep(1)
        send({"e": "finish", "exitstatus": 0})
        os._exit(0)
    send({"e": "step"})
    """
    ran = step(body, events=True)
    assert (ran.events, ran.foreign) == ([{"e": "step"}], 0)


@needs_root
def test_messages_that_are_no_json_object_are_malformed():
    body = 'os.write(fd, b"not json")\nos.write(fd, b"[1, 2]")\nos.write(fd, b"\\xff")\n'
    ran = step(body, events=True)
    assert ran.events == [{"e": "malformed"}] * 3


@needs_root
@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"no {SYSTEM_PYTHON}")
def test_a_step_runs_as_the_vm_user_without_capabilities():
    body = """
    status = open("/proc/self/status").read().split("\\n")
    caps = [line.split()[1] for line in status if line.startswith(("CapEff", "CapBnd"))]
    send({"e": "who", "uid": os.getuid(), "gid": os.getgid(), "caps": caps})
    """
    ran = step(body, uid=NOBODY_UID, python=SYSTEM_PYTHON, events=True)
    zero = "0" * 16
    assert ran.events == [{"e": "who", "uid": NOBODY_UID, "gid": NOBODY_UID, "caps": [zero] * 2}]


@needs_root
def test_a_step_without_events_gets_no_socket():
    code = "import os, sys; sys.exit(7 if 'PYTI_EVENTS_FD' in os.environ else 0)"
    ran = Step([sys.executable, "-c", code], 0).run()
    assert (ran.rc, ran.events) == (0, None)


@needs_root
def test_a_step_killed_by_a_signal():
    ran = step("os.kill(os.getpid(), signal.SIGKILL)", events=True)
    assert ran.rc == -9
    assert _vm_recorder.exit_status(ran.rc) == 137


@needs_root
def test_stderr_is_relayed_and_its_tail_kept(capfd):
    body = "sys.stderr.write('x' * 5000 + '\\nTypeError: last words\\n')\nsys.exit(3)"
    ran = step(body, keep_stderr=True)
    assert ran.rc == 3
    assert ran.stderr_tail.endswith(b"TypeError: last words\n")
    assert len(ran.stderr_tail) == _vm_recorder.TAIL_BYTES
    assert _vm_recorder.last_line(ran) == "TypeError: last words"
    assert "TypeError: last words" in capfd.readouterr().out


@needs_root
def test_a_step_that_closes_its_socket_does_not_make_the_recorder_spin():
    before = resource.getrusage(resource.RUSAGE_SELF)
    ran = step("os.close(fd)\ntime.sleep(1.5)", events=True)
    after = resource.getrusage(resource.RUSAGE_SELF)
    spent = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    assert ran.rc == 0
    # Waiting on a step costs next to no CPU (under 0.01 s here); reading a socket that
    # tells end-of-file over and over costs as much of the step's time as it is given.
    assert spent < 0.1, f"the recorder used {spent:.2f} s of CPU while the step slept 1.5 s"


@needs_root
def test_a_step_inherits_no_descriptor_of_the_recorder_but_its_socket():
    inheritable = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(inheritable, True)
    try:
        ran = step("send({'e': 'fds', 'fds': os.listdir('/proc/self/fd')})", events=True)
    finally:
        os.close(inheritable)
    fds = {int(fd) for fd in ran.events[0]["fds"]}
    assert inheritable not in fds
    # stdin, stdout, stderr, the events socket and the listing's own descriptor.
    assert len(fds) == 5, fds


def test_a_step_that_cannot_start_is_an_error_of_the_recorder():
    with pytest.raises(OSError, match="starting /nonexistent/setpriv failed: No such file"):
        _vm_recorder.Child(["/nonexistent/setpriv"], {})


def test_the_end_of_a_step_wakes_the_recorder():
    child = _vm_recorder.Child([sys.executable, "-c", "import time; time.sleep(0.2)"], {})
    ended = _vm_recorder.exit_descriptor(child)
    assert ended is not None
    try:
        assert select.select([ended], [], [], 0)[0] == []
        assert select.select([ended], [], [], 30)[0] == [ended]
        assert child.wait() == 0
    finally:
        os.close(ended)


EVENTS = [
    {"e": "setup", "root": "six-1.16.0", "removed": ["six.py"]},
    {"e": "case", "id": "t.py", "outcome": "errors", "message": "SyntaxError"},
    {"e": "collected", "n": 3},
    {"e": "case", "id": "t::a", "outcome": "passed", "test": True},
    {"e": "case", "id": "t::b", "outcome": "failed", "message": "assert 0", "test": True},
    {"e": "case", "id": "t::b", "outcome": "errors", "message": "teardown", "test": False},
    {"e": "case", "id": "t::c", "outcome": "skipped", "test": True},
    {"e": "finish", "exitstatus": 1},
]


def test_summarize_counts_cases_as_the_junit_xml_does():
    summary = summarize(EVENTS)
    assert summary == {
        "collected": 3,
        "finished": True,
        "exitstatus": 1,
        "counts": {"passed": 1, "failed": 1, "errors": 2, "skipped": 1},
        "cases": 3,
        "failures": [
            {"name": "t.py", "message": "SyntaxError", "outcome": "errors"},
            {"name": "t::b", "message": "assert 0", "outcome": "failed"},
            {"name": "t::b", "message": "teardown", "outcome": "errors"},
        ],
        "setup": {"root": "six-1.16.0", "removed": ["six.py"]},
        "no_tests": None,
        "malformed": 0,
    }


def test_summarize_of_no_events():
    summary = summarize([])
    assert (summary["collected"], summary["finished"], summary["exitstatus"]) == (None, False, None)
    assert summary["counts"] == {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}


MALFORMED = [
    {"e": "malformed"},
    {"e": "case", "id": "t::x", "outcome": "exploded", "test": True},
    {"e": "case", "id": "t::y"},
    {"e": "collected", "n": "many"},
    {"e": "finish", "exitstatus": "0"},
    {"e": "finish"},
    {"no": "kind"},
]


def test_summarize_counts_malformed_events_and_keeps_the_rest():
    summary = summarize(MALFORMED[:3] + EVENTS + MALFORMED[3:])
    assert summary == {**summarize(EVENTS), "malformed": len(MALFORMED)}


@pytest.mark.parametrize("removed", [5, True, 2.5])
def test_summarize_survives_a_setup_event_of_the_wrong_shape(removed):
    events = [{"e": "setup", "root": "x", "removed": removed}] + EVENTS[1:]
    summary = summarize(events)
    assert summary["counts"] == summarize(EVENTS)["counts"]


def test_summarize_caps_names_and_failures():
    cases = [{"e": "case", "id": "n" * 900, "outcome": "failed", "test": True}] * 60
    summary = summarize(cases)
    assert summary["counts"]["failed"] == summary["cases"] == 60
    assert len(summary["failures"]) == _vm_recorder.MAX_FAILURES
    assert summary["failures"][0] == {"name": "n" * 500, "message": "", "outcome": "failed"}


def pipe_with(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def test_read_key_reads_the_whole_pipe_and_closes_it():
    fd = pipe_with(b"k" * 64)
    assert read_key(fd) == b"k" * 64
    with pytest.raises(OSError):
        os.fstat(fd)


@pytest.mark.parametrize("key", [b"", b"k" * 31])
def test_read_key_refuses_a_short_key(key):
    with pytest.raises(SystemExit, match="no signing key on fd"):
        read_key(pipe_with(key))


def test_a_written_record_verifies_on_the_slave(tmp_path, monkeypatch):
    monkeypatch.setattr(_vm_recorder, "RECORDS", str(tmp_path))
    record = {"vm": "vm-1", "task": "install", "rc": 0, "duration_s": 1.5}
    _vm_recorder.write_record("install", record, b"k" * 32)
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert sorted(files) == ["install.json", "install.sig"]
    assert _records.verify(files, "install", b"k" * 32, "vm-1") == (record, None)
    modes = {stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    assert modes == {0o600}
