"""Write when each task of a play started and ended, how many times it ran (retries
included) and what the benchmark needs of its result, to the JSON file named by
BENCH_TIMING_FILE."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timing
type: aggregate
short_description: Task timings for the PYTI benchmark
description: Records each task's start, end and a few result keys to BENCH_TIMING_FILE.
"""

KEPT_KEYS = ("duration_s", "downloads", "prepared", "copied", "removed", "changed")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        entry = {"name": task.get_name(), "action": task.action, "calls": 0}
        self.tasks.append({**entry, "started": time.time(), "ended": None})

    def v2_runner_retry(self, result):
        self.tasks[-1]["calls"] += 1

    def _record(self, result, *_args, skipped=False, **_kwargs):
        entry = self.tasks[-1]
        entry["calls"] += 0 if skipped else 1
        entry["ended"] = time.time()
        entry["duration_s"] = round(entry["ended"] - entry["started"], 3)
        entry["result"] = {k: result._result[k] for k in KEPT_KEYS if k in result._result}

    v2_runner_on_ok = v2_runner_on_failed = _record

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["BENCH_TIMING_FILE"], "w", encoding="utf-8") as handle:
            json.dump(self.tasks, handle, indent=1)
