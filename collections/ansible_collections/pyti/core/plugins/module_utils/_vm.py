# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""One disposable namespace VM: its scratch, its view of the setup, its tasks, its removal."""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import time

from . import _cgroup, _sandbox, _vm_session
from ._capture import Capture
from ._errors import SandboxError

RECORDER = "/setup/runner/vm_recorder.py"
RECORDS = "/records"
# Flags of mount(2) and umount2(2).
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
VM_ENV = {
    "HOME": "/vm/home",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PATH": "/vm/venv/bin:/usr/local/bin:/usr/bin:/bin",
    "PIP_NO_INDEX": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "UV_OFFLINE": "1",
    "UV_NO_CONFIG": "1",
    "UV_PYTHON_DOWNLOADS": "never",
    "UV_CACHE_DIR": "/vm/.cache/uv",
    "UV_LINK_MODE": "copy",
    "PYTHONUNBUFFERED": "1",
}


class NamespaceVM:
    """A VM of the namespace driver: a scratch dir plus a bubblewrap view, run as its own uid.

    The VM's recorder runs as the sandbox's root (no capability but those to change uid),
    started once for all of the VM's tasks (see _vm_session): it runs each task's steps as
    the VM's uid and writes signed records to a folder that the VM's uid cannot open.
    """

    driver = "namespace"

    def __init__(self, name: str, base: str, uid: int, binds: list[tuple[str, str]], limits: dict):
        self.name = name
        self.base = base
        self.uid = uid
        self.limits = limits
        self.key = secrets.token_bytes(32)
        self.scratch = os.path.join(base, "scratch")
        self.job_dir = os.path.join(base, "job")
        self.records_dir = os.path.join(base, "records")
        self.sandbox = _sandbox.Sandbox(
            uid=uid, ro=binds, env=dict(VM_ENV), chdir="/vm", drop_uid=False
        )
        self.cgroup: _cgroup.Cgroup | None = None
        self.mounted = False
        self.session: _vm_session.Session | None = None

    def create(self, job_data: dict, etc_dir: str, cgroups: tuple[str, str] | None) -> None:
        """Make the VM's scratch, job file and cgroup; CGROUPS is (layout, parent) or None."""
        try:
            os.makedirs(self.job_dir, mode=0o755)
            os.makedirs(self.records_dir, mode=0o700)
            os.makedirs(self.scratch, mode=0o700)
            self._mount_scratch()
            for sub in ("home", "tmp", "results", ".cache"):
                os.makedirs(os.path.join(self.scratch, sub), mode=0o700)
                os.chown(os.path.join(self.scratch, sub), self.uid, self.uid)
            with open(os.path.join(self.job_dir, "job.json"), "w", encoding="utf-8") as handle:
                json.dump(job_data, handle)
        except OSError as exc:
            raise SandboxError(f"Creating VM {self.name} failed: {exc}", vm=self.name) from exc
        if cgroups:
            kind, parent = cgroups
            self.cgroup = _cgroup.Cgroup(
                parent, self.name, self.limits["memory_bytes"], self.limits["processes"], kind
            )
            self.cgroup.create()
        self.sandbox.ro.append((self.job_dir, "/job"))
        self.sandbox.rw += [
            (self.scratch, "/vm"),
            (os.path.join(self.scratch, "tmp"), "/tmp"),
            (self.records_dir, RECORDS),
        ]
        self.sandbox.etc_dir = etc_dir

    def _mount_scratch(self) -> None:
        """A tmpfs of fixed size and inode count, so the VM cannot fill the slave's disk."""
        options = (
            f"size={self.limits['scratch_bytes']},nr_inodes={self.limits['scratch_inodes']},"
            f"mode=0755,uid={self.uid},gid={self.uid}"
        )
        source, target = f"pyti-{self.name}".encode(), os.fsencode(self.scratch)
        if _libc().mount(source, target, b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()):
            errno = ctypes.get_errno()
            raise OSError(errno, f"mounting its scratch tmpfs failed: {os.strerror(errno)}")
        self.mounted = True

    def run(
        self, task: str, python: str, timeout: float, idle_timeout: float, capture: Capture
    ) -> _sandbox.Execution:
        """Run TASK through the VM's recorder under PYTHON, started at the first task.

        A task that the recorder does not live through ends its session; the next task
        starts another.
        """
        if self.session is None or not self.session.alive:
            self._close_session()
            command = [python, "-I", "-S", RECORDER, "--serve", "/job/job.json", str(self.uid)]
            command += ["{key_fd}", self.name, "{control_fd}"]
            argv = self.sandbox.argv(command, bwrap=_sandbox.find_bwrap())
            if self.cgroup:
                argv = _sandbox.in_cgroup(argv, self.cgroup.procs_files())
            self.session = _vm_session.Session(argv, self.uid, self.key)
        before = self.cgroup.events() if self.cgroup else None
        execution = self.session.run(task, timeout, idle_timeout, capture)
        if self.cgroup:
            execution.limit = _cgroup.which_limit_hit(before, self.cgroup.events())
        execution.limit = execution.limit or self._scratch_full()
        return execution

    def _close_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def run_command(
        self, command: list[str], timeout: float, idle_timeout: float, capture: Capture
    ) -> _sandbox.Execution:
        """Run COMMAND as the sandbox's root, with the VM's key on the pipe named {key_fd}."""
        key_read, key_write = os.pipe()
        try:
            os.write(key_write, self.key)
            os.close(key_write)
            command = [arg.replace("{key_fd}", str(key_read)) for arg in command]
            return self._execute(command, timeout, idle_timeout, capture, key_read)
        finally:
            os.close(key_read)

    def _execute(self, command, timeout, idle_timeout, capture, key_fd) -> _sandbox.Execution:
        argv = self.sandbox.argv(command, bwrap=_sandbox.find_bwrap())
        if self.cgroup:
            argv = _sandbox.in_cgroup(argv, self.cgroup.procs_files())
            before = self.cgroup.events()
        execution = _sandbox.execute(
            argv, self.uid, timeout, idle_timeout, capture, pass_fds=(key_fd,)
        )
        if self.cgroup:
            self.cgroup.kill()
            execution.limit = _cgroup.which_limit_hit(before, self.cgroup.events())
        execution.limit = execution.limit or self._scratch_full()
        return execution

    def _scratch_full(self) -> str | None:
        try:
            stats = os.statvfs(self.scratch)
        except OSError:
            return None
        # Near full, not full: the task's own clean-up at exit frees a little.
        if stats.f_favail < max(64, stats.f_files // 200):
            return "inodes"
        if stats.f_bavail < max(256, stats.f_blocks // 100):
            return "disk"
        return None

    @property
    def results_dir(self) -> str:
        return os.path.join(self.scratch, "results")

    def destroy(self) -> None:
        """Kill whatever is left of the VM and remove its files; SandboxError if it cannot."""
        self._close_session()
        if not _sandbox.kill_uid(self.uid) or (self.cgroup and not self.cgroup.kill()):
            raise SandboxError(
                f"Removing VM {self.name} failed: processes of uid {self.uid} survived SIGKILL",
                vm=self.name,
            )
        if self.cgroup:
            self.cgroup.remove()
        if self.mounted:
            unmount(self.scratch)
        for _attempt in range(3):
            shutil.rmtree(self.base, ignore_errors=True)
            if not os.path.lexists(self.base):
                return
            time.sleep(0.1)
        raise SandboxError(
            f"Removing VM {self.name} failed: {self.base} could not be deleted", vm=self.name
        )


def _libc():
    """The C library, for mount(2) and umount2(2): the commands cost a process each."""
    return ctypes.CDLL(None, use_errno=True)


def unmount(path: str) -> None:
    """Unmount PATH, lazily if something still holds it."""
    libc = _libc()
    if libc.umount2(os.fsencode(path), 0):
        libc.umount2(os.fsencode(path), MNT_DETACH)


def mounts_under(folder: str) -> list[str]:
    """Mount points at or below FOLDER, deepest first."""
    prefix = os.path.realpath(folder).rstrip("/") + "/"
    found = []
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[1].encode().decode("unicode_escape")
            if point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)
