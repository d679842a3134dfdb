# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""A namespace VM's recorder, started once and asked for one task after another.

Starting bubblewrap and the recorder's interpreter for each task cost as much as a
short task itself. A session starts them once per VM: the slave sends each task's name
on a socket that only the recorder holds, with the write end of a pipe that becomes the
task's output, and the recorder answers "done TASK STATUS" once its signed record is
written. The slave still times each task, enforces its timeouts, and kills what the
task left behind before the next one starts.
"""

from __future__ import annotations

import array
import os
import select
import signal
import socket
import subprocess
import threading
import time

from . import _sandbox
from ._capture import Capture
from ._sandbox import Execution

REPLY_BYTES = 256
# How long a recorder gets to answer once its task's processes are killed.
ANSWER_S = 10.0


class Session:
    """The recorder of one VM, serving tasks in the VM's sandbox until closed."""

    def __init__(self, argv: list[str], uid: int, key: bytes):
        """ARGV: the sandbox's command line, whose recorder names {key_fd} and {control_fd}."""
        self.uid = uid
        self.log = Capture(head_bytes=4096, tail_bytes=4096)
        key_read, key_write = os.pipe()
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            os.write(key_write, key)
            os.close(key_write)
            argv = [
                a.replace("{key_fd}", str(key_read)).replace("{control_fd}", str(theirs.fileno()))
                for a in argv
            ]
            self.proc = _sandbox.spawn(argv, (key_read, theirs.fileno()))
        finally:
            os.close(key_read)
            theirs.close()
        # What the sandbox and the recorder print outside of any task: why they failed.
        self.log_reader = threading.Thread(
            target=_sandbox.drain, args=(self.proc.stdout, self.log, {}), daemon=True
        )
        self.log_reader.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, task: str, timeout: float, idle_timeout: float, capture: Capture) -> Execution:
        """Ask for TASK; what the slave saw of it (its status as the recorder answered)."""
        started = time.monotonic()
        out_read, out_write = os.pipe()
        try:
            self.control.sendmsg(
                [task.encode()],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [out_write]))],
            )
        except OSError:
            os.close(out_read)
            return self._ended(capture, started)
        finally:
            os.close(out_write)
        state = {"last": started}
        stream = os.fdopen(out_read, "rb", 0)
        reader = threading.Thread(target=_sandbox.drain, args=(stream, capture, state), daemon=True)
        reader.start()
        answer, expired = self._wait(started, timeout, idle_timeout, state)
        if expired:
            answer = self._stop_task()
        _sandbox.kill_uid(self.uid)
        reader.join(timeout=5)
        stream.close()
        duration = time.monotonic() - started
        if answer is None:
            return self._ended(capture, started, expired)
        return Execution(None if expired else answer, duration, expired, capture)

    def _wait(self, started, timeout, idle_timeout, state) -> tuple[int | None, str | None]:
        """The recorder's answer, or the name of the timeout that came first."""
        while True:
            if select.select([self.control], [], [], 0.25)[0]:
                return self._answer(), None
            now = time.monotonic()
            if now - started > timeout:
                return None, "timeout"
            if now - state["last"] > idle_timeout:
                return None, "no-output"

    def _answer(self) -> int | None:
        """The status in the recorder's answer; None if it hung up or answered nonsense."""
        try:
            words = self.control.recv(REPLY_BYTES).decode("ascii", "replace").split()
        except OSError:
            return None
        if len(words) == 3 and words[0] == "done" and words[2].isdigit():
            return int(words[2])
        return None

    def _stop_task(self) -> int | None:
        """TERM the task's processes, KILL them after a grace period; the recorder's answer."""
        _sandbox.signal_uid(self.uid, signal.SIGTERM)
        deadline = time.monotonic() + _sandbox.GRACE_S
        while time.monotonic() < deadline:
            if select.select([self.control], [], [], 0.1)[0]:
                return self._answer()
            if not _sandbox.signal_uid(self.uid, 0):
                break
        _sandbox.kill_uid(self.uid)
        if select.select([self.control], [], [], ANSWER_S)[0]:
            return self._answer()
        return None

    def _ended(self, capture: Capture, started: float, expired: str | None = None) -> Execution:
        """The recorder did not answer: the sandbox ended, or is made to. Its status, its
        last words in the task's output."""
        self.close(kill=True)
        capture.feed(self.log.data())
        rc = None if expired else self.proc.returncode
        return Execution(rc, time.monotonic() - started, expired, capture)

    def close(self, kill: bool = False) -> None:
        """Hang up; the recorder then exits, and the sandbox with it. KILL: do not wait."""
        self.control.close()
        if not kill:
            try:
                self.proc.wait(timeout=ANSWER_S)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log_reader.join(timeout=5)
        self.proc.stdout.close()
