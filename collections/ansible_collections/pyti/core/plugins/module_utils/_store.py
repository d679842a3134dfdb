# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The result store: every finished result, kept under the report dir by what it tested.

A result is keyed by (distribution spec, python version, task set, driver), so that a
run started again finds what an interrupted run finished. Entries are written to a
temporary file and renamed into place: a torn file is never read as a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile

REUSABLE = ("passed", "skipped")
# What a run id may hold: it names a folder of the report directory.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NOT_VERDICTS = ("setup", "sandbox", "results", "infra")


def result_key(spec: str, python_version: str, tasks: list[str], driver: str) -> str:
    text = json.dumps([spec, python_version, list(tasks), driver])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Store:
    def __init__(self, report_dir: str):
        self.report_dir = report_dir
        self.path = os.path.join(report_dir, "store")

    def put(self, key: str, result: dict, run_id: str) -> None:
        os.makedirs(self.path, mode=0o755, exist_ok=True)
        entry = json.dumps({"key": key, "run": run_id, "result": result})
        fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=self.path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(entry)
            os.replace(tmp, os.path.join(self.path, f"{key}.json"))
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def get(self, key: str) -> dict | None:
        """The stored entry ({key, run, result}), or None when there is none that reads."""
        try:
            with open(os.path.join(self.path, f"{key}.json"), encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError, RecursionError):
            return None
        ok = isinstance(entry, dict) and isinstance(entry.get("result"), dict)
        return entry if ok else None


def job_key(job: dict, run: dict) -> str:
    """The store key of a planned job of RUN."""
    version = (job.get("python_info") or {}).get("version", job.get("python"))
    return result_key(job["distribution"], version, run["tasks"], run["driver"])


def reused(entry_result: dict, from_run: str, report_dir: str) -> dict:
    """A stored result, marked as taken from an earlier run rather than run again.

    Its raw_dir still names its folder under the raw/ folder of the run that produced it,
    if REPORT_DIR holds that folder: an interrupted run's raw results never reached it.
    """
    result = dict(entry_result)
    if result.get("reused_from"):
        return result  # already a reused result: keep the run that really produced it
    raw_dir = result.get("raw_dir")
    if not (
        isinstance(raw_dir, str)
        and os.path.isdir(os.path.join(report_dir, str(from_run), "raw", raw_dir))
    ):
        raw_dir = None
    result.update(job=f"{result.get('job')}@{from_run}", reused_from=from_run, raw_dir=raw_dir)
    return result


def plan_reuse(run: dict, store: Store, rerun_report: dict | None) -> tuple[list, list]:
    """Split RUN's jobs into those to run and the results to reuse.

    Without RERUN_REPORT, any stored result of the same key is reused (resume); with it,
    only the results of that report that passed are, and the rest run again.
    """
    previous = _by_key(rerun_report) if rerun_report else None
    to_run, reuse = [], []
    for job in run["jobs"]:
        key = job_key(job, run)
        if previous is None:
            entry = store.get(key)
            verdict = entry and entry["result"].get("failure_kind") not in NOT_VERDICTS
            found = (entry["result"], entry["run"]) if verdict else None
        else:
            found = previous.get(key)
            found = found if found and found[0].get("status") in REUSABLE else None
        if found and _is_run_id(found[1]):
            reuse.append(reused(found[0], found[1], store.report_dir))
        else:
            to_run.append(job)
    return to_run, reuse


def _is_run_id(value: object) -> bool:
    """Whether VALUE names a run folder as it stands: a result from a run whose id does
    not (a damaged store or report) runs again rather than losing where it came from."""
    return isinstance(value, str) and bool(RUN_ID.fullmatch(value))


def _by_key(report: dict) -> dict:
    run = report.get("run") or {}
    found = {}
    for result in report.get("results") or []:
        if not isinstance(result, dict) or not result.get("spec"):
            continue
        key = result_key(
            result["spec"],
            result.get("python_version") or "",
            run.get("tasks") or [],
            run.get("driver") or "",
        )
        found[key] = (result, run.get("id") or "?")
    return found
