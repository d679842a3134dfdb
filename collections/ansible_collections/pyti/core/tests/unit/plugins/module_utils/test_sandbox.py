# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import textwrap

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _sandbox
from ansible_collections.pyti.core.plugins.module_utils._capture import CUT_MARK, Capture
from ansible_collections.pyti.core.plugins.module_utils._errors import SandboxError
from ansible_collections.pyti.core.plugins.module_utils._sandbox import (
    Sandbox,
    execute,
    pids_of_uid,
    write_vm_etc,
)

PYTHON = "/usr/bin/python3.11"
SETPRIV_TAIL = ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
# One uid per real run, so that no test sees processes another one left behind.
UIDS = itertools.count(990500)


def argv_tail(sandbox, command):
    """What argv() puts after the system mounts."""
    return sandbox.argv(command)[len(head(sandbox)) :]


def head(sandbox):
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not sandbox.network:
        args.append("--unshare-net")
    args += ["--die-with-parent", "--new-session", "--hostname", "pyti-vm", "--clearenv"]
    args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return args + sandbox._system_mounts()


def test_argv_without_network_unshares_it():
    argv = Sandbox(uid=990500).argv(["true"])
    assert argv[:6] == [
        "bwrap",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--unshare-net",
    ]
    assert "--unshare-net" not in Sandbox(uid=990500, network=True).argv(["true"])


def test_argv_of_a_bare_sandbox():
    sandbox = Sandbox(uid=990501)
    assert argv_tail(sandbox, ["id", "-u"]) == [
        "--chdir", "/", "--", "setpriv", "--reuid=990501", "--regid=990501", *SETPRIV_TAIL,
        "--", "id", "-u",
    ]  # fmt: skip


def test_argv_creates_parents_once_and_binds_ro_before_rw():
    sandbox = Sandbox(
        uid=990502,
        rw=[("/srv/scratch", "/root/x/y"), ("/srv/tmp", "/tmp")],
        ro=[("/srv/job", "/root/x/job"), ("/srv/setup", "/setup")],
        env={"PATH": "/usr/bin", "HOME": "/root/x/y", "LANG": "C.UTF-8"},
        chdir="/root/x/y",
    )
    assert argv_tail(sandbox, ["python3", "-V"]) == [
        "--perms", "0755", "--dir", "/root",
        "--perms", "0755", "--dir", "/root/x",
        "--ro-bind", "/srv/job", "/root/x/job",
        "--ro-bind", "/srv/setup", "/setup",
        "--bind", "/srv/scratch", "/root/x/y",
        "--bind", "/srv/tmp", "/tmp",
        "--setenv", "HOME", "/root/x/y",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PATH", "/usr/bin",
        "--chdir", "/root/x/y",
        "--", "setpriv", "--reuid=990502", "--regid=990502", *SETPRIV_TAIL,
        "--", "python3", "-V",
    ]  # fmt: skip


def test_argv_creates_nothing_under_an_existing_mount():
    sandbox = Sandbox(
        uid=990503,
        ro=[("/srv/a", "/usr/lib/pyti/a"), ("/srv/setup", "/setup"), ("/srv/b", "/setup/x/b")],
        rw=[("/srv/c", "/etc/pyti/c")],
    )
    assert argv_tail(sandbox, ["true"])[:12] == [
        "--ro-bind", "/srv/a", "/usr/lib/pyti/a",
        "--ro-bind", "/srv/setup", "/setup",
        "--ro-bind", "/srv/b", "/setup/x/b",
        "--bind", "/srv/c", "/etc/pyti/c",
    ]  # fmt: skip


def test_system_mounts_with_an_etc_dir(tmp_path, monkeypatch):
    write_vm_etc(str(tmp_path), [990504])
    links = {"/bin": "usr/bin", "/lib": "usr/lib"}
    with monkeypatch.context() as patch:
        patch.setattr(_sandbox.os.path, "islink", lambda path: path in links)
        patch.setattr(_sandbox.os, "readlink", links.get)
        patch.setattr(_sandbox.os.path, "isdir", lambda path: path in ("/sbin", "/lib64"))
        patch.setattr(_sandbox.os.path, "exists", lambda p: p in ("/etc/ld.so.cache", "/etc/hosts"))
        mounts = Sandbox(uid=990504, etc_dir=str(tmp_path))._system_mounts()
        whole = Sandbox(uid=990504, whole_etc=True, etc_dir=str(tmp_path))._system_mounts()
    system = [
        "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
        "--symlink", "usr/bin", "/bin",
        "--ro-bind", "/sbin", "/sbin",
        "--symlink", "usr/lib", "/lib",
        "--ro-bind", "/lib64", "/lib64",
    ]  # fmt: skip
    assert mounts == system + [
        "--perms", "0755", "--dir", "/etc",
        "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache",
        *[arg for name in ("group", "hosts", "nsswitch.conf", "passwd")
          for arg in ("--ro-bind", str(tmp_path / name), f"/etc/{name}")],
    ]  # fmt: skip
    assert whole == system + ["--ro-bind", "/etc", "/etc"]


def test_write_vm_etc(tmp_path):
    write_vm_etc(str(tmp_path / "etc"), [990505, 990506])
    etc = tmp_path / "etc"
    assert sorted(os.listdir(etc)) == ["group", "hosts", "nsswitch.conf", "passwd"]
    assert "pyti:x:990506:990506:pyti:/vm/home:/bin/sh\n" in (etc / "passwd").read_text()
    assert (
        etc / "group"
    ).read_text() == "root:x:0:\npyti:x:990505:\npyti:x:990506:\nnogroup:x:65534:\n"
    assert {oct(os.stat(etc / name).st_mode & 0o777) for name in os.listdir(etc)} == {"0o444"}


def test_lock_uids_lets_one_run_hold_a_range(tmp_path, monkeypatch):
    monkeypatch.setattr(_sandbox, "LOCK_DIRS", (str(tmp_path),))
    held = _sandbox.lock_uids(990500, "vm", timeout=0)
    try:
        assert os.listdir(tmp_path) == ["pyti-vm-990500.lock"]
        with pytest.raises(SandboxError) as raised:
            _sandbox.lock_uids(990500, "vm", timeout=0)
        assert raised.value.msg == (
            "Taking the vm uids from 990500 failed: another run held them for over 0 s"
        )
        assert raised.value.context == {"failure_kind": "infra"}
        _sandbox.lock_uids(990600, "vm", timeout=0).close()
        _sandbox.lock_uids(990500, "prepare", timeout=0).close()
    finally:
        held.close()
    _sandbox.lock_uids(990500, "vm", timeout=0).close()


# Real sandboxes from here on.


def _why_no_sandbox():
    if os.geteuid() != 0:
        return "real sandboxes need root: each runs as a uid of its own"
    for tool in ("bwrap", "setpriv"):
        if not shutil.which(tool):
            return f"real sandboxes need {tool}"
    if not os.path.exists(PYTHON):
        return f"real sandboxes run Debian's {PYTHON}, which is missing"
    return None


needs_sandbox = pytest.mark.skipif(_why_no_sandbox() is not None, reason=str(_why_no_sandbox()))


@pytest.fixture
def vm(tmp_path):
    """A sandbox with Debian's python, a read-only /work/ro and a writable /work/scratch."""
    uid = next(UIDS)
    assert pids_of_uid(uid) == []
    etc, scratch, ro = tmp_path / "etc", tmp_path / "scratch", tmp_path / "ro"
    write_vm_etc(str(etc), [uid])
    for path in (scratch, ro):
        path.mkdir()
        os.chown(path, uid, uid)
    prefix = subprocess.run(
        [PYTHON, "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    binds = [] if prefix == "/usr" else [(prefix, prefix)]
    sandbox = Sandbox(
        uid=uid,
        ro=binds + [(str(ro), "/work/ro")],
        rw=[(str(scratch), "/work/scratch")],
        env={"PATH": "/usr/bin:/bin", "HOME": "/work/scratch", "LANG": "C.UTF-8"},
        etc_dir=str(etc),
        chdir="/work/scratch",
    )
    yield sandbox, tmp_path
    _sandbox.kill_uid(uid)


def run(sandbox, command, timeout=20.0, idle_timeout=20.0, head=4096, tail=4096):
    argv = sandbox.argv(command, bwrap=shutil.which("bwrap"))
    return execute(argv, sandbox.uid, timeout, idle_timeout, Capture(head, tail))


def python(code):
    return [PYTHON, "-c", textwrap.dedent(code)]


@needs_sandbox
def test_command_runs_as_the_sandbox_uid(vm):
    sandbox, _tmp = vm
    done = run(sandbox, ["sh", "-c", "id -u; id -un; pwd"])
    assert (done.rc, done.expired) == (0, None)
    assert done.output.data() == f"{sandbox.uid}\npyti\n/work/scratch\n".encode()


@needs_sandbox
def test_the_sandbox_cannot_read_the_slave_paths_from_its_init(vm):
    sandbox, tmp = vm
    done = run(sandbox, ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"])
    assert done.rc == 0
    assert done.output.data().startswith(b"/usr/bin/bwrap --args ")
    assert str(tmp).encode() not in done.output.data()


@needs_sandbox
def test_read_only_bind_cannot_be_written(vm):
    sandbox, tmp = vm
    done = run(
        sandbox, ["sh", "-c", "echo no > /work/ro/f; echo rc=$?; echo yes > /work/scratch/f"]
    )
    assert done.rc == 0
    assert done.output.data() == (b"sh: 1: cannot create /work/ro/f: Read-only file system\nrc=2\n")
    assert not (tmp / "ro" / "f").exists()
    assert (tmp / "scratch" / "f").read_text() == "yes\n"


@needs_sandbox
def test_no_network_reaches_the_host(vm):
    sandbox, _tmp = vm
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"""
            import socket, time
            started = time.monotonic()
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=10)
                print("connected")
            except ConnectionRefusedError:
                print("refused")
            except OSError as exc:
                print("oserror", exc.errno)
            print(time.monotonic() - started < 1)
        """
        done = run(sandbox, python(code))
        server.settimeout(0)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert done.rc == 0
    assert done.output.data() in (b"refused\nTrue\n", b"oserror 101\nTrue\n")


@needs_sandbox
def test_large_output_is_capped_to_head_and_tail(vm):
    sandbox, _tmp = vm
    code = """
        import sys
        sys.stdout.buffer.write(b"H" * 1000 + b"m" * 4998000 + b"T" * 1000)
    """
    done = run(sandbox, python(code), head=1000, tail=1000)
    assert (done.rc, done.expired) == (0, None)
    assert done.output.size == 5_000_000
    assert done.output.data() == b"H" * 1000 + CUT_MARK.format(cut=4998000).encode() + b"T" * 1000


@needs_sandbox
def test_timeout_kills_every_process_of_the_uid(vm):
    sandbox, _tmp = vm
    done = run(sandbox, ["sleep", "30"], timeout=1, idle_timeout=60)
    assert (done.rc, done.expired) == (None, "timeout")
    assert 1 <= done.duration_s < 1 + _sandbox.GRACE_S
    assert pids_of_uid(sandbox.uid) == []


@needs_sandbox
def test_daemon_does_not_outlive_its_command(vm):
    sandbox, tmp = vm
    code = """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                with open("/work/scratch/daemon", "w") as handle:
                    handle.write(str(os.getpid()))
                time.sleep(30)
            os._exit(0)
        while not os.path.exists("/work/scratch/daemon"):
            time.sleep(0.01)
        print("parent done")
    """
    done = run(sandbox, python(code))
    assert (done.rc, done.expired) == (0, None)
    assert done.output.data() == b"parent done\n"
    assert (tmp / "scratch" / "daemon").exists()
    assert done.duration_s < 10
    assert pids_of_uid(sandbox.uid) == []


@needs_sandbox
def test_idle_timeout_expires_as_no_output(vm):
    sandbox, _tmp = vm
    done = run(sandbox, ["sh", "-c", "echo x; sleep 30"], timeout=20, idle_timeout=1)
    assert (done.rc, done.expired) == (None, "no-output")
    assert done.output.data() == b"x\n"
    assert done.duration_s < 10
    assert pids_of_uid(sandbox.uid) == []


@needs_sandbox
def test_process_ignoring_sigterm_is_killed_after_the_grace_period(vm, monkeypatch):
    monkeypatch.setattr(_sandbox, "GRACE_S", 1.0)
    sandbox, _tmp = vm
    done = run(sandbox, ["sh", "-c", "trap '' TERM; echo ready; sleep 30"], timeout=1)
    assert (done.rc, done.expired) == (None, "timeout")
    assert done.output.data() == b"ready\n"
    assert 2.0 <= done.duration_s < 10
    assert pids_of_uid(sandbox.uid) == []
