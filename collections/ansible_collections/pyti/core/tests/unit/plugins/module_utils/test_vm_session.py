# SPDX-License-Identifier: GPL-3.0-or-later
"""A namespace VM runs its tasks through one recorder session: real sandboxes, real recorder.

The runner is a stand-in that does what the test wrote in the VM's home (its "mode"), so
that each task's output, status and leftovers are known in advance.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time

import pytest
from ansible_collections.pyti.core.plugins.module_utils import (
    _limits,
    _pythons,
    _rawresults,
    _records,
    _sandbox,
    _vm,
)
from ansible_collections.pyti.core.plugins.module_utils._capture import Capture

UIDS = itertools.count(990700)
HERE = os.path.dirname(os.path.abspath(_vm.__file__))
RUNNER = """
import os, sys, time
mode = open("/vm/home/mode").read().split()
print("task", mode[0], flush=True)
if mode[0] == "sleep":
    time.sleep(60)
if mode[0] == "daemon" and os.fork() == 0:
    os.setsid()
    time.sleep(60)
    os._exit(0)
sys.exit(int(mode[1]) if len(mode) > 1 else 0)
"""

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("bwrap") or not shutil.which("setpriv"),
    reason="real VMs need root, bwrap and setpriv",
)


@pytest.fixture
def vm(tmp_path):
    python = _pythons.resolve("python3")
    uid = next(UIDS)
    runner = tmp_path / "runner"
    runner.mkdir()
    shutil.copy(os.path.join(HERE, "_vm_recorder.py"), runner / "vm_recorder.py")
    (runner / "vm_runner.py").write_text(RUNNER)
    etc = tmp_path / "etc"
    _sandbox.write_vm_etc(str(etc), [uid])
    binds = [(python["prefix"], python["prefix"]), (str(runner), "/setup/runner")]
    machine = _vm.NamespaceVM("session-test", str(tmp_path / "vm"), uid, binds, _limits.defaults())
    machine.create({"python": python["executable"]}, str(etc), None)
    machine.python = python["executable"]
    yield machine
    machine.destroy()
    assert _sandbox.pids_of_uid(uid) == []


def task(vm, mode: str, timeout: float = 30, idle_timeout: float = 30):
    with open(os.path.join(vm.scratch, "home", "mode"), "w") as handle:
        handle.write(mode)
    return vm.run("install", vm.python, timeout, idle_timeout, Capture(4096, 4096))


def record(vm) -> dict:
    files = _rawresults.collect(vm.records_dir, 8, 1 << 20).files
    claimed, problem = _records.verify(files, "install", vm.key, vm.name)
    assert problem is None
    return claimed


@needs_root
def test_tasks_share_one_sandbox_and_keep_their_own_output_and_status(vm):
    first = task(vm, "a 0")
    sandbox = vm.session.proc.pid
    assert (first.rc, first.expired, first.output.data()) == (0, None, b"task a\n")
    assert record(vm)["rc"] == 0
    second = task(vm, "b 3")
    assert (second.rc, second.output.data()) == (3, b"task b\n")
    assert record(vm)["rc"] == 3
    third = task(vm, "c 0")
    assert (third.rc, third.output.data()) == (0, b"task c\n")
    assert vm.session.proc.pid == sandbox


@needs_root
def test_a_timeout_ends_the_task_and_the_next_one_runs_in_the_same_sandbox(vm, monkeypatch):
    monkeypatch.setattr(_sandbox, "GRACE_S", 1.0)
    assert task(vm, "warm").rc == 0
    sandbox = vm.session.proc.pid
    slow = task(vm, "sleep", timeout=1)
    assert (slow.rc, slow.expired, slow.output.data()) == (None, "timeout", b"task sleep\n")
    assert _sandbox.pids_of_uid(vm.uid) == []
    after = task(vm, "after 0")
    assert (after.rc, after.output.data()) == (0, b"task after\n")
    assert vm.session.proc.pid == sandbox


@needs_root
def test_what_a_task_leaves_running_is_killed_before_the_next(vm):
    left = task(vm, "daemon 0")
    assert (left.rc, left.expired) == (0, None)
    assert _sandbox.pids_of_uid(vm.uid) == []
    assert vm.session.alive


@needs_root
def test_a_session_that_dies_fails_its_task_and_the_next_task_starts_another(vm):
    task(vm, "warm")
    sandbox = vm.session.proc

    def kill_soon():
        time.sleep(1)
        os.killpg(sandbox.pid, 9)

    threading.Thread(target=kill_soon).start()
    lost = task(vm, "sleep")
    assert lost.expired is None
    assert lost.rc not in (None, 0)
    again = task(vm, "again 0")
    assert (again.rc, again.output.data()) == (0, b"task again\n")
    assert vm.session.proc.pid != sandbox.pid


@needs_root
def test_destroy_ends_the_session(vm):
    task(vm, "warm")
    sandbox = vm.session.proc
    vm.destroy()
    assert sandbox.poll() is not None
    assert vm.session is None
