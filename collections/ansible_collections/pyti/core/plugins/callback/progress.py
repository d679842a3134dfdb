# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The default screen output, plus live progress of PYTI runs instead of retry noise."""

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: stdout
short_description: Ansible's default screen output with live progress of PYTI runs
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
description:
  - Prints what the default callback prints, except for the retries of
    M(pyti.core.task_progress), which it turns into one progress line for the whole run
    (VMs done out of the total, counts by status, per slave, time elapsed and an estimate
    of the time left). Its first line, as the VMs start, shows what each slave is to run;
    each call of M(pyti.core.task_progress) updates it.
  - The VMs of the failover round of M(pyti.core.run_replan) add to those of the first
    round; a lost slave counts the VMs it finished before it was lost.
  - On a terminal the line is redrawn in place; elsewhere (CI logs) it is printed as plain
    lines, at most one every O(interval) seconds, and always when a slave finishes a VM
    after that time.
extends_documentation_fragment:
  - default_callback
  - result_format_callback
requirements:
  - set as the stdout callback in the configuration
options:
  interval:
    description: Seconds between two progress lines when the output is not a terminal.
    type: float
    default: 10
    env:
      - name: PYTI_PROGRESS_INTERVAL
    ini:
      - section: callback_pyti_progress
        key: interval
"""

import sys
import time

from ansible.plugins.callback.default import CallbackModule as DefaultCallback
from ansible_collections.pyti.core.plugins.module_utils._progress import Board

BATCH_ACTIONS = ("pyti.core.task_run", "task_run")


def planned(jobs: list) -> dict[str, int]:
    """How many of a run's jobs each slave is to run."""
    totals: dict[str, int] = {}
    for job in jobs:
        slave = job.get("slave") if isinstance(job, dict) else None
        if isinstance(slave, str):
            totals[slave] = totals.get(slave, 0) + 1
    return totals


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "pyti.core.progress"

    def __init__(self):
        super().__init__()
        self.board = Board()
        self.interval = 10.0
        self.last_print = 0.0
        self.redrawn = False
        self.tty = sys.stdout.isatty()

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.interval = float(self.get_option("interval"))

    def v2_playbook_on_task_start(self, task, is_conditional):
        super().v2_playbook_on_task_start(task, is_conditional)
        # Elapsed time counts from the start of the VMs, not from the first progress read;
        # the first line says what the run plans before the first wait ends.
        if task.action in BATCH_ACTIONS and self.board.since is None:
            self.board.start()
            if self.board.slaves:
                self._display.display(self.board.line())

    def v2_runner_retry(self, result):
        progress = result.result.get("pyti_progress")
        if not isinstance(progress, dict):
            return super().v2_runner_retry(result)
        changed = self.board.update(result.host.get_name(), progress)
        self._show(changed)

    def v2_runner_on_ok(self, result):
        run = result.result.get("pyti_run")
        if isinstance(run, dict) and isinstance(run.get("jobs"), list):
            self.board.plan(planned(run["jobs"]))
        retry = result.result.get("pyti_retry")
        if isinstance(retry, dict) and isinstance(retry.get("slaves"), list):
            self.board.settle(retry["slaves"])
        progress = result.result.get("pyti_progress")
        if isinstance(progress, dict):
            self.board.update(result.host.get_name(), progress)
            self._show(True, final=True)
        super().v2_runner_on_ok(result)

    def _show(self, changed: bool, final: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            sys.stdout.write("\r\x1b[K" + self.board.line() + ("\n" if final else ""))
            sys.stdout.flush()
            self.redrawn = not final
        elif final or (changed and now - self.last_print >= self.interval):
            self._display.display(self.board.line())
            self.last_print = now
