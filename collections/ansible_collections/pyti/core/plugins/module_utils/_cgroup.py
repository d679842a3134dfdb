# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Memory and process limits for a VM through a cgroup, and its events.

Works with the unified hierarchy (cgroup v2, memory.max and pids.max in one group)
and with the legacy one (cgroup v1, one group in the memory and one in the pids
hierarchy). A VM's processes are put in its group before bubblewrap starts, so
nothing it forks can leave.
"""

from __future__ import annotations

import os
import re
import signal
import time

from ._errors import SandboxError

ROOT = "/sys/fs/cgroup"


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return ""


def _field(text: str, name: str) -> int:
    match = re.search(rf"^{name} (\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def layout() -> str | None:
    """'v2' or 'v1' when this host can limit memory and processes, else None."""
    if "memory" in _read(f"{ROOT}/cgroup.controllers").split():
        return "v2"
    if os.path.isdir(f"{ROOT}/memory") and os.path.isdir(f"{ROOT}/pids"):
        return "v1"
    return None


class Cgroup:
    """The cgroup (one per hierarchy on v1) that holds every process of one VM."""

    def __init__(self, parent: str, name: str, memory_bytes: int, max_pids: int, kind: str):
        self.parent = parent
        self.name = name
        self.kind = kind
        self.memory_bytes = memory_bytes
        self.max_pids = max_pids
        if kind == "v2":
            self.dirs = {"memory": f"{ROOT}/{parent}/{name}", "pids": f"{ROOT}/{parent}/{name}"}
        else:
            self.dirs = {c: f"{ROOT}/{c}/{parent}/{name}" for c in ("memory", "pids")}

    def create(self) -> None:
        try:
            if self.kind == "v2":
                _enable_v2_controllers(self.parent)
            for path in set(self.dirs.values()):
                os.makedirs(path, exist_ok=True)
            self._set_limits()
        except OSError as exc:
            raise SandboxError(
                f"Creating the cgroup of VM {self.name} failed: {exc}", failure_kind="sandbox"
            ) from exc

    def _set_limits(self) -> None:
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        if self.kind == "v2":
            _write(f"{mem}/memory.max", str(self.memory_bytes))
            if os.path.exists(f"{mem}/memory.swap.max"):
                _write(f"{mem}/memory.swap.max", "0")
        else:
            _write(f"{mem}/memory.limit_in_bytes", str(self.memory_bytes))
            if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
                _write(f"{mem}/memory.memsw.limit_in_bytes", str(self.memory_bytes))
        _write(f"{pids}/pids.max", str(self.max_pids))

    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to enter the group."""
        return sorted({f"{d}/cgroup.procs" for d in self.dirs.values()})

    def events(self) -> dict:
        """Counters of limit hits so far: memory OOM kills and refused forks."""
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        if self.kind == "v2":
            oom = _field(_read(f"{mem}/memory.events"), "oom_kill")
        else:
            oom = _field(_read(f"{mem}/memory.oom_control"), "oom_kill")
        return {"oom_kill": oom, "pids_max": _field(_read(f"{pids}/pids.events"), "max")}

    def pids(self) -> list[int]:
        found = set()
        for path in self.procs_files():
            found.update(int(p) for p in _read(path).split())
        return sorted(found)

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process of the group until it is empty; False if some survived."""
        kill_file = f"{self.dirs['memory']}/cgroup.kill"
        if self.kind == "v2" and os.path.exists(kill_file):
            _write(kill_file, "1")
        deadline = time.monotonic() + timeout
        pause = 0.001
        while self.pids():
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return False
            # A process that was just killed or that just exited leaves the group within
            # a few milliseconds: look again soon, then less and less often.
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True

    def remove(self) -> None:
        for path in set(self.dirs.values()):
            for _attempt in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _enable_v2_controllers(parent: str) -> None:
    os.makedirs(f"{ROOT}/{parent}", exist_ok=True)
    for path in (f"{ROOT}/cgroup.subtree_control", f"{ROOT}/{parent}/cgroup.subtree_control"):
        enabled = _read(path).split()
        for controller in ("memory", "pids"):
            if controller not in enabled:
                _write(path, f"+{controller}")


def clear_leftovers(kind: str | None, parent: str) -> list[str]:
    """Kill and remove the groups under PARENT that an earlier, crashed run left."""
    if kind is None:
        return []
    if kind == "v2":
        folders = [f"{ROOT}/{parent}"]
    else:
        folders = [f"{ROOT}/{c}/{parent}" for c in ("memory", "pids")]
    left = []
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if os.path.isdir(os.path.join(folder, name)):
                group = Cgroup(parent, name, 0, 0, kind)
                group.kill()
                group.remove()
                left.append(name)
    return sorted(set(left))


def which_limit_hit(before: dict, after: dict) -> str | None:
    if after["oom_kill"] > before["oom_kill"]:
        return "memory"
    if after["pids_max"] > before["pids_max"]:
        return "processes"
    return None
