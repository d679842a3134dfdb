# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""A slave's progress through a batch: one JSON line per finished VM, read while it runs."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

STATUSES = ("passed", "failed", "error", "timeout", "skipped")


def progress_path(work_dir: str, run_id: str) -> str:
    """Where a run's progress file lives in a slave's work dir."""
    return os.path.join(work_dir, "runs", run_id, "progress.jsonl")


class Progress:
    """Appends events to a file that only the slave writes: start, each result, finish."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    def _append(self, event: dict) -> None:
        event["time"] = round(time.time(), 3)
        line = json.dumps(event) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)

    def start(self, total: int) -> None:
        """Begin a batch; what a batch of the same run left here before is dropped."""
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        shutil.rmtree(os.path.join(os.path.dirname(self.path), "results"), ignore_errors=True)
        with self.lock, open(self.path, "w", encoding="utf-8"):
            pass
        self._append({"event": "start", "total": total})

    def add(self, result: dict) -> None:
        self._save(result)
        self._append(
            {
                "event": "result",
                "job": result.get("job"),
                "distribution": result.get("distribution"),
                "status": result.get("status"),
                "duration_s": result.get("duration_s"),
            }
        )

    def _save(self, result: dict) -> None:
        """Keep the whole result beside the progress, for the controller to collect early."""
        folder = os.path.join(os.path.dirname(self.path), "results")
        os.makedirs(folder, mode=0o755, exist_ok=True)
        target = os.path.join(folder, f"{result.get('job')}.json")
        with open(target + ".part", "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        os.replace(target + ".part", target)

    def finish(self) -> None:
        self._append({"event": "finish"})


def recent_results(path: str, window: float = 120.0, most: int = 64) -> list[dict]:
    """Results that finished in the last WINDOW seconds, for the controller's result store."""
    folder = os.path.join(os.path.dirname(path), "results")
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return []
    now, found = time.time(), []
    for name in sorted(names):
        full = os.path.join(folder, name)
        try:
            if now - os.stat(full).st_mtime <= window:
                with open(full, encoding="utf-8") as handle:
                    found.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return found[-most:]


def read(path: str) -> dict:
    """The batch's progress so far: total, done, counts by status, times, whether it ended."""
    state = {
        "total": None,
        "done": 0,
        "by_status": dict.fromkeys(STATUSES, 0),
        "started": None,
        "last": None,
        "ended": False,
        "latest": [],
    }
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError:
        return state
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written
        _apply(state, event)
    state["latest"] = state["latest"][-5:]
    return state


def _apply(state: dict, event: dict) -> None:
    kind = event.get("event")
    if kind == "start":
        state.update(total=event.get("total"), started=event.get("time"))
    elif kind == "result":
        state["done"] += 1
        status = event.get("status")
        if status in state["by_status"]:
            state["by_status"][status] += 1
        state["last"] = event.get("time")
        state["latest"].append(f"{event.get('distribution')}: {status}")
    elif kind == "finish":
        state["ended"] = True


class Board:
    """The progress of a whole run on the controller: every slave's batches.

    A slave runs one batch per round. When its progress names a new start time, its
    earlier batch is over and kept as it ended; a lost slave's batch is kept with what it
    finished, since the rest runs again elsewhere.
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.slaves: dict[str, dict] = {}
        self.earlier: dict[str, list[dict]] = {}
        self.since: float | None = None

    def start(self) -> None:
        """Start the run's clock, when the first VMs start; a later call keeps it."""
        if self.since is None:
            self.since = self.clock()

    def plan(self, totals: dict[str, int]) -> None:
        """The VMs each slave is to run, shown as none done until its first progress."""
        for slave, total in totals.items():
            self.slaves.setdefault(slave, {"total": _count(total), "done": 0, "planned": True})

    def update(self, slave: str, progress: dict) -> bool:
        """Record a slave's progress; True when something new finished."""
        self.start()
        progress = progress if isinstance(progress, dict) else {}
        current = self.slaves.get(slave)
        if current is not None and current.get("planned"):
            current = None  # the plan gives way to the batch's own account
        elif current is not None and current.get("started") != progress.get("started"):
            self.earlier.setdefault(slave, []).append(current)
            current = None
        before = (current or {}).get("done", 0)
        self.slaves[slave] = progress
        return progress.get("done", 0) != before

    def settle(self, healthy: list[str]) -> None:
        """End the batches of the slaves that are not HEALTHY where they were last seen;
        one lost before it said anything leaves the line."""
        for slave, state in list(self.slaves.items()):
            if slave in healthy:
                continue
            if state.get("planned") and not self.earlier.get(slave):
                del self.slaves[slave]
            else:
                self.slaves[slave] = {**state, "total": _count(state.get("done"))}

    def _batches(self, slave: str) -> list[dict]:
        return [*self.earlier.get(slave, []), self.slaves[slave]]

    def _slave_counts(self, slave: str) -> tuple[int, int]:
        batches = self._batches(slave)
        done = sum(_count(state.get("done")) for state in batches)
        return done, sum(_count(state.get("total")) for state in batches)

    def totals(self) -> tuple[int, int, dict]:
        done, total, by_status = 0, 0, dict.fromkeys(STATUSES, 0)
        for slave in self.slaves:
            slave_done, slave_total = self._slave_counts(slave)
            done, total = done + slave_done, total + slave_total
            for state in self._batches(slave):
                for status, count in (state.get("by_status") or {}).items():
                    if status in by_status:
                        by_status[status] += _count(count)
        return done, total, by_status

    def line(self) -> str:
        done, total, by_status = self.totals()
        counts = ", ".join(f"{n} {s}" for s, n in by_status.items() if n)
        slaves = ", ".join(
            "{} {}/{}".format(name, *self._slave_counts(name)) for name in sorted(self.slaves)
        )
        elapsed = self.clock() - (self.since or self.clock())
        text = f"PYTI {done}/{total} VMs done"
        text += f" ({counts})" if counts else ""
        text += f"; {slaves}; {_duration(elapsed)} elapsed"
        left = self._time_left()
        if left is not None:
            text += f", about {_duration(left)} left"
        return text

    def _time_left(self) -> float | None:
        """The longest of the slaves' times left, each at its own pace so far.

        A slave's pace is its current batch's time per finished VM, both ends read on its
        own clock. None until every slave with VMs to go has finished one.
        """
        estimates = []
        for state in self.slaves.values():
            done, total = _count(state.get("done")), _count(state.get("total"))
            if done >= total:
                continue
            started, last = state.get("started"), state.get("last")
            if not done or not (_is_time(started) and _is_time(last)) or last <= started:
                return None
            estimates.append((last - started) / done * (total - done))
        return max(estimates) if estimates else None


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _is_time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def heartbeat_path(progress_file: str) -> str:
    return os.path.join(os.path.dirname(progress_file), "heartbeat")


def beat(progress_file: str) -> None:
    """Say that the controller still follows the batch (task_progress calls this)."""
    path = heartbeat_path(progress_file)
    if os.path.isdir(os.path.dirname(path)):
        with open(path, "a", encoding="utf-8"):
            os.utime(path)


class Watchdog:
    """Sets ABANDONED when the controller has not polled for TIMEOUT seconds.

    A run whose controller was interrupted or died must not keep the slave busy: the
    batch stops its VMs and releases the slave for the next run.
    """

    def __init__(self, progress_file: str, timeout: float, on_abandon):
        self.path = heartbeat_path(progress_file)
        self.timeout = timeout
        self.on_abandon = on_abandon
        self.abandoned = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        if self.timeout > 0:
            beat(os.path.join(os.path.dirname(self.path), "progress.jsonl"))
            self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                age = time.time() - os.stat(self.path).st_mtime
            except OSError:
                age = self.timeout + 1
            if age > self.timeout:
                self.abandoned.set()
                self.on_abandon()
                return
