"""Real cgroups on this host: limits that hold, events that count, groups that go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _cgroup, _sandbox

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or _cgroup.layout() is None, reason="needs root and cgroups"
)
PARENT = "pyti-unit-tests"


@pytest.fixture
def group():
    made = _cgroup.Cgroup(PARENT, uuid.uuid4().hex[:12], 64 << 20, 16, _cgroup.layout())
    made.create()
    yield made
    made.kill()
    made.remove()


def run_in(group, code: str) -> subprocess.CompletedProcess:
    argv = _sandbox.in_cgroup([sys.executable, "-c", code], group.procs_files())
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_memory_limit_kills_and_is_counted(group):
    before = group.events()
    proc = run_in(group, "x = []\nwhile True:\n    x.append(bytearray(8 << 20))")
    assert proc.returncode == -9
    assert _cgroup.which_limit_hit(before, group.events()) == "memory"


def test_process_limit_refuses_forks_and_is_counted(group):
    before = group.events()
    code = (
        "import os, time\nkids = 0\ntry:\n    for _ in range(64):\n"
        "        if os.fork() == 0:\n"
        "            os.close(1)\n            os.close(2)\n            time.sleep(30)\n"
        "        kids += 1\n"
        "except OSError:\n    print(kids)"
    )
    proc = run_in(group, code)
    assert 0 < int(proc.stdout.split()[0]) < 16
    assert _cgroup.which_limit_hit(before, group.events()) == "processes"
    assert group.kill()
    assert group.pids() == []


def test_group_is_removed(group):
    run_in(group, "pass")
    group.remove()
    assert not any(os.path.exists(d) for d in group.dirs.values())


def test_leftovers_of_a_crash_are_cleared():
    left = _cgroup.Cgroup(PARENT, "crashed-run", 64 << 20, 16, _cgroup.layout())
    left.create()
    sleeper = subprocess.Popen(_sandbox.in_cgroup(["sleep", "60"], left.procs_files()))
    try:
        deadline = time.monotonic() + 10
        while len(left.pids()) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "crashed-run" in _cgroup.clear_leftovers(_cgroup.layout(), PARENT)
        assert sleeper.wait(timeout=10) == -9
        assert not any(os.path.exists(d) for d in left.dirs.values())
    finally:
        sleeper.kill()


def test_which_limit_hit_without_events():
    quiet = {"oom_kill": 1, "pids_max": 2}
    assert _cgroup.which_limit_hit(quiet, dict(quiet)) is None
