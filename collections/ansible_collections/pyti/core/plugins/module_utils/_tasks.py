# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Turn what the slave observed of a task into its status and reason."""

from __future__ import annotations

from ._rawresults import junit_counts
from ._records import exit_status

TASK_NAMES = ("install", "import", "test")
TEST_COUNTS = ("passed", "failed", "errors", "skipped")
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
        "verified": None,
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


def judge(
    name: str,
    execution,
    files: dict,
    limits: dict,
    vm_deadline_hit: bool,
    evidence: tuple[dict | None, str | None] = (None, "no record"),
) -> dict:
    """The task's record from what the slave saw, the recorder's signed record and raw results.

    EVIDENCE is the recorder's verified record of the task, or None and why it is not
    trusted. What the slave observed itself (a timeout, a limit, the sandbox failing)
    needs no record. Otherwise the verdict rests on the record alone, cross-checked
    against the slave's view and the JUnit XML that pytest wrote; any disagreement, and
    any session that did not end, make the task an error of kind "task": the code under
    test runs in the VM, so such a fault is the distribution's, never reported as PYTI's.
    """
    record = task_record(
        name,
        "passed",
        rc=execution.rc,
        duration_s=round(execution.duration_s, 3),
        output_bytes=execution.output.size,
        verified=True,
    )
    if execution.expired:
        reason = expired_reason(execution.expired, limits, vm_deadline_hit)
        return _with_limit(_fail(record, "timeout", reason, "task"), execution.limit, limits)
    head = bytes(execution.output.head[:200])
    if execution.rc != 0 and head.startswith(SANDBOX_MARKERS):
        reason = f"infra: the VM did not start: {last_line(execution.output)}"
        return _fail(record, "error", reason, "infra")
    claimed, problem = evidence
    problem = problem or _disagreement(claimed, execution)
    if problem:
        record["verified"] = False
        judged = _fail(record, "error", f"results: not trusted: {problem}", "task")
    else:
        record.update(rc=claimed["rc"], duration_s=claimed["duration_s"])
        if claimed["rc"] < 0:
            judged = _fail(record, "error", f"killed by signal {-claimed['rc']}", "task")
        else:
            judged = JUDGES[name](record, execution, claimed, files)
    return _with_limit(judged, execution.limit, limits)


def _disagreement(claimed: dict, execution) -> str | None:
    """Why the record disagrees with what the slave saw of the task, or None."""
    rc, duration = claimed.get("rc"), claimed.get("duration_s")
    if not isinstance(rc, int) or not isinstance(duration, (int, float)):
        return "the signed record has no exit status or duration"
    if exit_status(rc) != execution.rc:
        return f"the record says exit {rc}, the slave saw exit {execution.rc}"
    if duration > execution.duration_s + 1:
        return f"the record says {duration} s, the slave saw {execution.duration_s:.3f} s"
    return None


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


def _judge_install(record, execution, claimed, files):
    if claimed["rc"] == 0:
        return record
    return _fail(
        record,
        "failed",
        f"install failed (exit {claimed['rc']}): {last_line(execution.output)}",
        "task",
    )


def _judge_import(record, execution, claimed, files):
    modules = claimed.get("modules")
    if not isinstance(modules, list):
        return _fail(
            record,
            "failed",
            f"import failed (exit {claimed['rc']}): {last_line(execution.output)}",
            "task",
        )
    record["modules"] = [str(m.get("name"))[:200] for m in modules if isinstance(m, dict)]
    bad = [m for m in modules if isinstance(m, dict) and not m.get("ok")]
    if not bad:
        return record
    first = bad[0]
    reason = f"import of {str(first.get('name'))[:100]} failed: {str(first.get('error'))[:300]}"
    if len(bad) > 1:
        reason += f" (and {len(bad) - 1} more)"
    return _fail(record, "failed", reason, "task")


def _judge_test(record, execution, claimed, files):
    rc = claimed["rc"]
    session = claimed.get("pytest") or {}
    if rc == 5:
        record["no_tests"] = True
        why = session.get("no_tests") or "pytest collected no tests from the sdist"
        return _fail(record, "skipped", f"no tests: {str(why)[:300]}", None)
    record["tests"], record["failures"] = session.get("counts"), session.get("failures") or []
    if rc in (0, 1):
        return _judge_session(record, rc, session, files.get("junit.xml"))
    errors = (record["tests"] or {}).get("errors", 0)
    if rc == 2 and errors and record["failures"]:
        first = record["failures"][0]
        reason = (
            f"{errors} errors while collecting tests, first {first['name']}: {first['message']}"
        )
        return _fail(record, "error", reason[:500], "task")
    what = {2: "test run interrupted", 3: "pytest internal error", 4: "pytest usage error"}.get(
        rc, f"pytest exited {rc}"
    )
    return _fail(record, "error", f"{what}: {last_line(execution.output)}", "task")


def _judge_session(record, rc, session, junit):
    """A pytest session that exited 0 or 1: it must have ended, whole, as the JUnit XML says."""
    counts, collected, ran = record["tests"], session.get("collected"), session.get("cases", 0)
    if collected is None or not isinstance(counts, dict):
        return _fail(
            record, "error", f"results: incomplete: pytest (exit {rc}) told no tests", "task"
        )
    bad = counts["failed"] + counts["errors"]
    if session.get("finished") and rc == 1 and bad and ran < collected:
        # A suite configured to stop early (-x, --maxfail): what failed did fail.
        names = ", ".join(f["name"] for f in record["failures"][:3])
        reason = f"{bad} tests failed, then pytest stopped after {ran} of {collected}: {names}"
        return _fail(record, "failed", reason[:500], "task")
    if not session.get("finished") or ran < collected:
        reason = (
            f"results: incomplete: pytest ended (exit {rc}) after {ran} of {collected} tests"
            + ("" if session.get("finished") else " without finishing its session")
        )
        return _fail(record, "error", reason, "task")
    if session.get("exitstatus") != rc:
        record["verified"] = False
        reason = f"pytest said exit {session.get('exitstatus')}, the recorder saw exit {rc}"
        return _fail(record, "error", f"results: not trusted: {reason}", "task")
    problem = _junit_disagrees(counts, junit)
    if problem:
        record["verified"] = False
        return _fail(record, "error", f"results: not trusted: {problem}", "task")
    if rc == 0 and bad:
        return _fail(
            record, "error", f"results: pytest exited 0 but reported {bad} failures", "task"
        )
    if rc == 1 and not bad:
        return _fail(record, "error", "results: pytest exited 1 but reported no failure", "task")
    if rc == 1:
        total = sum(counts.values())
        names = ", ".join(f["name"] for f in record["failures"][:3])
        return _fail(record, "failed", f"{bad} of {total} tests failed: {names}"[:500], "task")
    return record


def _junit_disagrees(counts: dict, junit: bytes | None) -> str | None:
    """How the JUnit XML that pytest wrote differs from what the recorder counted, or None."""
    if junit is None:
        return "the JUnit XML that pytest writes is missing"
    try:
        claimed, _failures = junit_counts(junit)
    except ValueError as exc:
        return str(exc)
    if claimed != counts:
        return f"the JUnit XML says {_counts(claimed)}, the recorder counted {_counts(counts)}"
    return None


def _counts(counts: dict) -> str:
    return ", ".join(f"{counts.get(key)} {key}" for key in TEST_COUNTS)


JUDGES = {"install": _judge_install, "import": _judge_import, "test": _judge_test}
