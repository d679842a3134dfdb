# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Turn what the slave observed of a task into its status and reason."""

from __future__ import annotations

from ._rawresults import junit_counts, load_json

TASK_NAMES = ("install", "import", "test")
SANDBOX_MARKERS = (b"bwrap:", b"setpriv:")
TAIL_BYTES = 4096


def task_record(
    name: str, status: str, reason: str | None = None, kind: str | None = None, **extra
) -> dict:
    record = {
        "name": name,
        "status": status,
        "reason": reason,
        "failure_kind": kind,
        "duration_s": 0.0,
        "rc": None,
        "log": None,
        "output_bytes": 0,
        "limit": None,
    }
    record.update(extra)
    return record


def skipped(name: str, reason: str) -> dict:
    return task_record(name, "skipped", reason)


def last_line(capture, limit: int = 300) -> str:
    lines = [ln for ln in capture.tail_text(TAIL_BYTES).splitlines() if ln.strip()]
    return lines[-1].strip()[:limit] if lines else "no output"


def expired_reason(expired: str, limits: dict, vm_deadline_hit: bool) -> str:
    if expired == "no-output":
        return f"limit: no output for {limits['no_output_timeout']} s"
    if vm_deadline_hit:
        return f"limit: vm timeout ({limits['vm_timeout']} s)"
    return f"limit: task timeout ({limits['task_timeout']} s)"


def judge(name: str, execution, files: dict, limits: dict, vm_deadline_hit: bool) -> dict:
    """The task's record from its exit status, its output and the VM's raw results.

    Raw results that are missing, malformed or contradict the exit status make the task an
    error of kind "task": the code under test writes in the VM that produced them, so such
    a fault is the distribution's, never reported as PYTI's.
    """
    record = task_record(
        name,
        "passed",
        rc=execution.rc,
        duration_s=round(execution.duration_s, 3),
        output_bytes=execution.output.size,
    )
    if execution.expired:
        reason = expired_reason(execution.expired, limits, vm_deadline_hit)
        return _with_limit(_fail(record, "timeout", reason, "task"), execution.limit, limits)
    head = bytes(execution.output.head[:200])
    if execution.rc != 0 and head.startswith(SANDBOX_MARKERS):
        reason = f"infra: the VM did not start: {last_line(execution.output)}"
        return _fail(record, "error", reason, "infra")
    if execution.rc is not None and execution.rc < 0:
        judged = _fail(record, "error", f"killed by signal {-execution.rc}", "task")
    else:
        judged = JUDGES[name](record, execution, files)
    return _with_limit(judged, execution.limit, limits)


LIMIT_REASONS = {
    "memory": lambda lim: f"limit: memory ({lim['memory_bytes'] >> 20} MiB)",
    "processes": lambda lim: f"limit: processes ({lim['processes']})",
    "disk": lambda lim: f"limit: disk ({lim['scratch_bytes'] >> 20} MiB of scratch)",
    "inodes": lambda lim: f"limit: inodes ({lim['scratch_inodes']} files in scratch)",
}


def _with_limit(record: dict, limit: str | None, limits: dict) -> dict:
    """A task that hit a VM limit is an error (or a timeout) whose reason names the limit."""
    if not limit:
        return record
    record["limit"] = limit
    reason = LIMIT_REASONS[limit](limits)
    if record["reason"]:
        reason = f"{reason}; {record['reason']}"
    status = "timeout" if record["status"] == "timeout" else "error"
    return _fail(record, status, reason, "task")


def _fail(record: dict, status: str, reason: str, kind: str) -> dict:
    record.update(status=status, reason=reason, failure_kind=kind)
    return record


def _judge_install(record, execution, files):
    if execution.rc == 0:
        return record
    return _fail(
        record,
        "failed",
        f"install failed (exit {execution.rc}): {last_line(execution.output)}",
        "task",
    )


def _judge_import(record, execution, files):
    data = load_json(files.get("import.json"))
    modules = data.get("modules") if data else None
    if not isinstance(modules, list):
        if execution.rc == 0:
            return _fail(record, "error", "results: import.json missing or malformed", "task")
        return _fail(
            record,
            "failed",
            f"import failed (exit {execution.rc}): {last_line(execution.output)}",
            "task",
        )
    record["modules"] = [str(m.get("name"))[:200] for m in modules if isinstance(m, dict)]
    bad = [m for m in modules if isinstance(m, dict) and not m.get("ok")]
    if execution.rc == 0 and not bad:
        return record
    if not bad:
        return _fail(
            record, "error", f"import exited {execution.rc} with every module imported", "task"
        )
    first = bad[0]
    reason = f"import of {str(first.get('name'))[:100]} failed: {str(first.get('error'))[:300]}"
    if len(bad) > 1:
        reason += f" (and {len(bad) - 1} more)"
    return _fail(record, "failed", reason, "task")


def _judge_test(record, execution, files):
    rc = execution.rc
    info = load_json(files.get("test.json")) or {}
    if rc == 5:
        record["no_tests"] = True
        why = info.get("no_tests") or "pytest collected no tests from the sdist"
        return _fail(record, "skipped", f"no tests: {str(why)[:300]}", None)
    if rc in (0, 1):
        return _judge_counts(record, rc, files.get("junit.xml"))
    record["tests"] = _counts_or_none(files.get("junit.xml"), record)
    errors = (record["tests"] or {}).get("errors", 0)
    if rc == 2 and errors and record.get("failures"):
        first = record["failures"][0]
        reason = (
            f"{errors} errors while collecting tests, first {first['name']}: {first['message']}"
        )
        return _fail(record, "error", reason[:500], "task")
    what = {2: "test run interrupted", 3: "pytest internal error", 4: "pytest usage error"}.get(
        rc, f"pytest exited {rc}"
    )
    return _fail(record, "error", f"{what}: {last_line(execution.output)}", "task")


def _counts_or_none(data, record):
    if data is None:
        return None
    try:
        counts, failures = junit_counts(data)
    except ValueError:
        return None
    record["failures"] = failures
    return counts


def _judge_counts(record, rc, data):
    if data is None:
        return _fail(record, "error", "results: junit.xml is missing", "task")
    try:
        counts, failures = junit_counts(data)
    except ValueError as exc:
        return _fail(record, "error", f"results: {exc}", "task")
    record["tests"], record["failures"] = counts, failures
    bad = counts["failed"] + counts["errors"]
    if rc == 0 and bad:
        return _fail(
            record,
            "error",
            f"results: pytest exited 0 but JUnit XML reports {bad} failures or errors",
            "task",
        )
    if rc == 1 and not bad:
        return _fail(
            record, "error", "results: pytest exited 1 but JUnit XML reports no failure", "task"
        )
    if rc == 1:
        total = sum(counts.values())
        names = ", ".join(f["name"] for f in failures[:3])
        return _fail(record, "failed", f"{bad} of {total} tests failed: {names}"[:500], "task")
    return record


JUDGES = {"install": _judge_install, "import": _judge_import, "test": _judge_test}
