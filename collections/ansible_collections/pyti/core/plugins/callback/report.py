# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: report
type: aggregate
short_description: Write the PYTI report as JSON, JUnit XML and HTML
description:
  - Collects the run description that M(pyti.core.run_config) returns and the results that
    M(pyti.core.task_run) returns on each slave.
  - At the end of the playbook, writes C(report.json), C(report.xml) and C(report.html) into
    C(<report dir>/<run id>/) and points the C(latest) symbolic link in the report directory
    at that run.
  - Jobs that never returned a result, because their slave was unreachable or a task failed
    on it, are reported as errors with failure kind C(infra), unless
    M(pyti.core.run_replan) planned them again on another slave; each result lists its
    attempts, the lost ones included.
  - Prints a table of the results after the play recap.
  - In candidate mode (a run with candidates), also writes C(comparison.json),
    C(comparison.md) and C(comparison.html) that class each (distribution, python) pair of
    baseline and candidate results, and opens the printed summary with the regressions.
  - Writes nothing for a playbook that did not run M(pyti.core.run_config).
author:
  - PYTI developers (!UNKNOWN)
requirements:
  - Enable the callback with C(callbacks_enabled = pyti.core.report) in C(ansible.cfg).
options:
  report_dir:
    description:
      - Directory that receives one sub-directory per run.
      - Used only when the run description names no report directory.
    type: path
    default: reports
    env:
      - name: PYTI_REPORT_DIR
    ini:
      - section: callback_pyti_report
        key: report_dir
  summary:
    description:
      - Print the table of results at the end of the playbook.
    type: bool
    default: true
    env:
      - name: PYTI_REPORT_SUMMARY
    ini:
      - section: callback_pyti_report
        key: summary
notes:
  - A playbook stopped by SIGINT or SIGTERM writes what it has, marked C(interrupted).
  - A failure to write the report is printed as an error, and C(ansible-playbook) then exits
    with status 1 whatever the play's own outcome, so that CI never takes a run without a
    report for a success.
"""

import atexit
import os
import signal
import socket
import sys
from collections.abc import Mapping
from functools import partial

from ansible import constants as C
from ansible.plugins.callback import CallbackBase
from ansible_collections.pyti.core.plugins.module_utils import _candidate_report
from ansible_collections.pyti.core.plugins.module_utils._report import (
    RunCollector,
    link_latest,
    summary_lines,
    to_json,
    utc_now,
    write_report,
)
from ansible_collections.pyti.core.plugins.module_utils._report_html import to_html
from ansible_collections.pyti.core.plugins.module_utils._report_junit import to_junit
from ansible_collections.pyti.core.plugins.module_utils._store import Store, job_key

_COLORS = {
    "passed": C.COLOR_OK,
    "failed": C.COLOR_ERROR,
    "error": C.COLOR_ERROR,
    "timeout": C.COLOR_ERROR,
    "skipped": C.COLOR_SKIP,
}


def _payloads(result_data: Mapping) -> list[Mapping]:
    """The task result and, for a loop, each item's result."""
    items = result_data.get("results")
    items = items if isinstance(items, list) else []
    return [result_data, *(item for item in items if isinstance(item, Mapping))]


def _exit_failed() -> None:
    """End ansible-playbook with status 1 once it is done: its report could not be written."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _task_label(task: object) -> str:
    """How a failed task is named in the reason of the results it cost."""
    action = getattr(task, "resolved_action", None) or getattr(task, "action", None) or ""
    if action == "task_run" or str(action).endswith(".task_run"):
        return "task_run"
    return f"task '{getattr(task, 'name', None) or action}'"


def _slave_of(result: Mapping) -> object:
    """The slave that produced a stored result; entries kept before the store named it
    have it in their last attempt."""
    if result.get("slave"):
        return result["slave"]
    attempts = result.get("attempts")
    last = attempts[-1] if isinstance(attempts, list) and attempts else None
    return last.get("slave") if isinstance(last, Mapping) else None


class CallbackModule(CallbackBase):
    """Collect PYTI run and results payloads and write the report when the playbook ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "pyti.core.report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        # Set before super().__init__(), which may already call set_options().
        self._report_dir = "reports"
        self._summary = True
        self._collector = RunCollector()
        self._raw_run: Mapping = {}
        self._written = False
        self._comparison = None
        self._main_pid = os.getpid()
        self._chain_signals()
        self.write_failed = False
        super().__init__(display=display, options=options)

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._report_dir = self.get_option("report_dir")
        self._summary = self.get_option("summary")

    def _absorb(self, result) -> None:
        host = result.host.get_name()
        for payload in _payloads(result.result):
            if "pyti_run" in payload:
                self._take_run(payload["pyti_run"])
            if "pyti_retry" in payload:
                self._take_retry(payload["pyti_retry"])
            if payload.get("pyti_candidate"):
                self._collector.add_candidate(payload["pyti_candidate"])
            if "pyti_results" in payload:
                self._take_results(host, payload["pyti_results"])
            progress = payload.get("pyti_progress")
            if isinstance(progress, Mapping):
                self._take_results(host, progress.get("results"))

    def _take_run(self, run: object) -> None:
        self._collector.add_run(run)
        self._raw_run = run if isinstance(run, Mapping) else {}
        for reused in self._raw_run.get("reused") or []:
            if isinstance(reused, Mapping):
                self._collector.add_results(_slave_of(reused), [reused])

    def _take_retry(self, retry: object) -> None:
        """Jobs planned again on other slaves: their results will come from there."""
        jobs = retry.get("jobs") if isinstance(retry, Mapping) else None
        if not isinstance(jobs, list) or not self._collector.seen:
            return
        self._collector.add_retries(jobs)
        moved = {job.get("id"): job for job in jobs if isinstance(job, Mapping)}
        planned = self._raw_run.get("jobs") or []
        self._raw_run = {
            **self._raw_run,
            "jobs": [moved.get(j.get("id"), j) if isinstance(j, Mapping) else j for j in planned],
        }

    def _take_results(self, host: str, results: object) -> None:
        """Add results to the report and keep each in the result store as it arrives."""
        if not isinstance(results, list):
            return
        taken = self._collector.add_results(host, results)
        if self._store is None:
            return
        attempts = {result["job"]: result["attempts"] for result in taken}
        for result in results:
            job = self._jobs.get(result.get("job")) if isinstance(result, Mapping) else None
            if job is None:
                continue
            kept = {**result, "slave": host, "attempts": attempts.get(job.get("id"))}
            try:
                self._store.put(job_key(job, self._raw_run), kept, self._raw_run["id"])
            except (OSError, TypeError, ValueError, KeyError) as exc:
                self._display.warning(f"Keeping a result in the PYTI result store failed: {exc}")

    @property
    def _jobs(self) -> dict:
        jobs = self._raw_run.get("jobs") if isinstance(self._raw_run, Mapping) else None
        return {j.get("id"): j for j in jobs or [] if isinstance(j, Mapping)}

    @property
    def _store(self):
        report_dir = self._raw_run.get("report_dir") if self._raw_run else None
        return Store(report_dir) if isinstance(report_dir, str) and report_dir else None

    def v2_runner_on_ok(self, result):
        self._absorb(result)

    def v2_runner_retry(self, result):
        self._absorb(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._absorb(result)
        host = result.host.get_name()
        msg = result.result.get("msg")
        self._collector.host_failed(host, _task_label(result.task), msg, ignored=ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._collector.host_unreachable(result.host.get_name(), result.result.get("msg"))

    def _chain_signals(self) -> None:
        """On SIGINT or SIGTERM, write what the run has so far, then do what was done before."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            signal.signal(signum, partial(self._on_signal, previous=previous))

    def _on_signal(self, signum, frame, previous=None) -> None:
        if os.getpid() == self._main_pid and self._collector.seen and not self._written:
            self._collector.interrupted = True
            self.v2_playbook_on_stats(None)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def v2_playbook_on_stats(self, stats):
        if not self._collector.seen or self._written:
            return
        self._written = True
        try:
            report = self._collector.build(finished=utc_now(), controller=socket.gethostname())
            if "candidate" in report:
                self._comparison = _candidate_report.compare(report, report["candidate"])
                report["candidate"]["summary"] = self._comparison["summary"]
        except Exception as exc:  # noqa: BLE001 - a report bug must fail the run, not vanish
            self.write_failed = True
            self._display.error(f"Building the PYTI report failed: {type(exc).__name__}: {exc}")
            atexit.register(_exit_failed)
            return
        paths = self._write(report)
        if self._summary:
            self._print_summary(report, paths)

    def _write(self, report: Mapping) -> list[str]:
        """Write the three files and the latest link; on failure say so loudly."""
        report_dir = self._collector.run["report_dir"] or self._report_dir
        run_id = report["run"]["id"]
        run_dir = os.path.join(report_dir, run_id)
        files = {
            "report.json": to_json(report),
            "report.xml": to_junit(report),
            "report.html": to_html(report, lead=self._lead()),
        }
        if self._comparison is not None:
            files.update(
                {
                    "comparison.json": _candidate_report.to_json(self._comparison),
                    "comparison.md": _candidate_report.to_markdown(self._comparison),
                    "comparison.html": _candidate_report.to_html(self._comparison),
                }
            )
        try:
            paths = write_report(run_dir, files)
        except OSError as exc:
            self.write_failed = True
            self._display.error(f"Writing the PYTI report to {run_dir} failed: {exc}")
            atexit.register(_exit_failed)
            return []

        try:
            link_latest(report_dir, run_id)
        except OSError as exc:
            latest = os.path.join(report_dir, "latest")
            self._display.error(f"Pointing {latest} at the run {run_id} failed: {exc}")
        return paths

    def _lead(self) -> str:
        """What the report page shows first: in candidate mode, the regressions."""
        if self._comparison is None:
            return ""
        return _candidate_report.regressions_html(self._comparison)

    def _print_summary(self, report: Mapping, paths: list[str]) -> None:
        if self._comparison is not None:
            for line, status in _candidate_report.summary_lines(self._comparison):
                self._display.display(line, color=_COLORS.get(status))
        for line, status in summary_lines(report, paths):
            self._display.display(line, color=_COLORS.get(status))
        if self.write_failed:
            self._display.display("Report: NOT WRITTEN, see the error above", color=C.COLOR_ERROR)
