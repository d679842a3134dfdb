# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Linux namespace sandboxes through bubblewrap, and running commands in them with limits.

A sandbox runs as a uid of its own (one per parallel slot), so that every process
it starts, whatever it does to its session or parent, can be found and killed by uid.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from ._capture import Capture
from ._errors import SandboxError

SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
VM_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime")
GRACE_S = 3.0


@dataclass
class Execution:
    """What the slave saw of one command in a sandbox."""

    rc: int | None
    duration_s: float
    expired: str | None
    output: Capture
    limit: str | None = None


@dataclass
class Sandbox:
    """The view of the file system and the identity that one sandboxed command gets."""

    uid: int
    ro: list[tuple[str, str]] = field(default_factory=list)
    rw: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    network: bool = False
    whole_etc: bool = False
    etc_dir: str | None = None
    chdir: str = "/"
    # False for a command that must start as the sandbox's root, with no capability but
    # CAP_SETUID and CAP_SETGID, and drop to the uid itself (the VM's recorder).
    drop_uid: bool = True

    def argv(self, command: list[str], bwrap: str = "bwrap") -> list[str]:
        args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.network:
            args.append("--unshare-net")
        args += ["--die-with-parent", "--new-session", "--hostname", "pyti-vm", "--clearenv"]
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += self._system_mounts()
        mounts, created = {"/usr", "/etc", "/proc", "/dev"}, set()
        for flag, pairs in (("--ro-bind", self.ro), ("--bind", self.rw)):
            for src, dest in pairs:
                args += _parents(dest, mounts, created) + [flag, src, dest]
                mounts.add(dest)
        for key, value in sorted(self.env.items()):
            args += ["--setenv", key, value]
        args += ["--chdir", self.chdir, "--"]
        if not self.drop_uid:
            return args + command
        args += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}"]
        args += ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return args + ["--"] + command

    def _system_mounts(self) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
        for name in SYSTEM_DIRS:
            path = f"/{name}"
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        if self.whole_etc:
            return args + ["--ro-bind", "/etc", "/etc"]
        args += ["--perms", "0755", "--dir", "/etc"]
        for name in VM_ETC_FILES:
            if os.path.exists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        if self.etc_dir:
            for name in sorted(os.listdir(self.etc_dir)):
                args += ["--ro-bind", os.path.join(self.etc_dir, name), f"/etc/{name}"]
        return args


def _parents(dest: str, mounts: set[str], created: set[str]) -> list[str]:
    """Directories to create, world-traversable, so that DEST can be mounted."""
    args = []
    parts = dest.strip("/").split("/")[:-1]
    for i in range(len(parts)):
        path = "/" + "/".join(parts[: i + 1])
        if path in created or path in mounts:
            continue
        if any(path.startswith(m + "/") for m in mounts):
            break
        args += ["--perms", "0755", "--dir", path]
        created.add(path)
    return args


def write_vm_etc(path: str, uids: list[int]) -> None:
    """The passwd, group and hosts files that every VM sees instead of the slave's."""
    os.makedirs(path, mode=0o755, exist_ok=True)
    users = "".join(f"pyti:x:{uid}:{uid}:pyti:/vm/home:/bin/sh\n" for uid in uids)
    groups = "".join(f"pyti:x:{uid}:\n" for uid in uids)
    files = {
        "passwd": f"root:x:0:0::/root:/bin/sh\n{users}"
        "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n",
        "group": f"root:x:0:\n{groups}nogroup:x:65534:\n",
        "hosts": "127.0.0.1 localhost pyti-vm\n::1 localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }
    for name, text in files.items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(os.path.join(path, name), 0o444)


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise SandboxError(
            "Creating a namespace VM failed: bubblewrap is not installed on this slave; "
            "install the Debian package bubblewrap",
            failure_kind="sandbox",
        )
    return path


def pids_of_uid(uid: int, last: int | None = None) -> list[int]:
    """Every process whose uid is UID (or in UID..LAST), in any pid namespace."""
    last = uid if last is None else last
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if uid <= os.stat(f"/proc/{entry}").st_uid <= last:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def signal_uid(uid: int, signum: int) -> int:
    count = 0
    for pid in pids_of_uid(uid):
        try:
            os.kill(pid, signum)
            count += 1
        except OSError:
            pass
    return count


def kill_uid(uid: int, timeout: float = 5.0) -> bool:
    """SIGKILL every process of UID until none is left; False if some survived."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while signal_uid(uid, signal.SIGKILL):
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def drain(stream, capture: Capture, state: dict) -> None:
    """Feed what STREAM gives to CAPTURE until its end; state["last"] is when it last did."""
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        capture.feed(chunk)
        state["last"] = time.monotonic()


def _stop(proc: subprocess.Popen, uid: int) -> None:
    """TERM every process of the sandbox, wait a grace period, then KILL all of it."""
    signal_uid(uid, signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        proc.kill()
    kill_uid(uid)
    proc.wait()


def execute(
    argv: list[str],
    uid: int,
    timeout: float,
    idle_timeout: float,
    capture: Capture,
    pass_fds: tuple[int, ...] = (),
) -> Execution:
    """Run a sandboxed command, drain its output while it runs, and enforce its timeouts."""
    started = time.monotonic()
    proc = spawn(argv, pass_fds)
    state = {"last": started}
    reader = threading.Thread(target=drain, args=(proc.stdout, capture, state), daemon=True)
    reader.start()
    expired = _watch(proc, started, timeout, idle_timeout, state)
    if expired:
        _stop(proc, uid)
    kill_uid(uid)
    reader.join(timeout=5)
    proc.stdout.close()
    rc = None if expired else proc.returncode
    return Execution(rc, time.monotonic() - started, expired, capture)


def spawn(argv: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start a sandboxed command in a session of its own, its output on one pipe.

    Bubblewrap's options reach it in a memory file (see hide_arguments).
    """
    argv, args_fd = hide_arguments(argv)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=pass_fds + ((args_fd,) if args_fd is not None else ()),
        )
    finally:
        if args_fd is not None:
            os.close(args_fd)


def hide_arguments(argv: list[str]) -> tuple[list[str], int | None]:
    """ARGV with bubblewrap's arguments moved into a memory file that it reads (--args).

    The sandbox's init is bubblewrap itself, and any process in the sandbox can read
    its command line, which would tell the slave's paths to the code under test.
    """
    at = next((n for n, arg in enumerate(argv) if os.path.basename(arg) == "bwrap"), None)
    if at is None or "--" not in argv[at:]:
        return argv, None
    end = argv.index("--", at)
    fd = os.memfd_create("pyti-bwrap-args", 0)
    os.write(fd, b"".join(os.fsencode(arg) + b"\0" for arg in argv[at + 1 : end]))
    os.lseek(fd, 0, os.SEEK_SET)
    return argv[: at + 1] + ["--args", str(fd)] + argv[end:], fd


def _watch(proc, started: float, timeout: float, idle_timeout: float, state: dict) -> str | None:
    """Wait for PROC to end, or for one of its timeouts; the timeout's name, or None."""
    ended = _exit_descriptor(proc)
    try:
        while True:
            if ended is None:
                try:
                    proc.wait(timeout=0.05)
                    return None
                except subprocess.TimeoutExpired:
                    pass
            elif select.select([ended], [], [], 0.25)[0] or proc.poll() is not None:
                proc.wait()
                return None
            now = time.monotonic()
            if now - started > timeout:
                return "timeout"
            if now - state["last"] > idle_timeout:
                return "no-output"
    finally:
        if ended is not None:
            os.close(ended)


def _exit_descriptor(proc: subprocess.Popen) -> int | None:
    """A pidfd, readable the moment PROC ends; None where the kernel has none (before 5.3).

    Polling instead would add up to its period to every task.
    """
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return None


LOCK_DIRS = ("/run/lock", "/var/lock", "/tmp")


def lock_uids(uid_base: int, purpose: str, timeout: float):
    """Hold the uid range of PURPOSE on this host, waiting up to TIMEOUT for another run.

    Every process of a range's uids is killed when a run starts, so two runs must never
    share a range at once. The lock is released when the returned file is closed.
    """
    folder = next((d for d in LOCK_DIRS if os.path.isdir(d) and os.access(d, os.W_OK)), "/tmp")
    handle = open(os.path.join(folder, f"pyti-{purpose}-{uid_base}.lock"), "w")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except OSError:
            if time.monotonic() > deadline:
                handle.close()
                raise SandboxError(
                    f"Taking the {purpose} uids from {uid_base} failed: another run held them "
                    f"for over {int(timeout)} s",
                    failure_kind="infra",
                ) from None
            time.sleep(1)


ENTER_GROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def in_cgroup(argv: list[str], procs_files: list[str]) -> list[str]:
    """ARGV run by a shell that first moves itself into the cgroups of PROCS_FILES."""
    if not procs_files:
        return argv
    return ["/bin/sh", "-c", ENTER_GROUPS, "pyti-enter", *procs_files, "--", *argv]
