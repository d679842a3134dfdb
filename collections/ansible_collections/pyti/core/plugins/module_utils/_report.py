# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""The report model: turn hostile run and result payloads into a report dict.

Everything a result carries comes from the code under test, so every value is coerced
(by _report_values) to the type the report schema (meta/report.schema.json) promises.
Nothing in here imports Ansible, so the model is tested with plain pytest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ansible_collections.pyti.core.plugins.module_utils._report_values import (
    LIST_LIMIT,
    NAME_LIMIT,
    clean_text,
    natural_key,
    one_line,
    plain,
    safe_filename,
    safe_relpath,
    safe_run_id,
    text_list,
    to_choice,
    to_count,
    to_flag,
    to_number,
    to_rc,
    to_tristate,
)

try:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import InvalidVersion

    HAS_PACKAGING = True
except ImportError:  # ansible-core brings packaging; without it, no wheelhouse versions
    HAS_PACKAGING = False

REPORT_VERSION = 1

STATUSES = ("passed", "failed", "error", "timeout", "skipped")
FAILURE_KINDS = ("task", "setup", "sandbox", "results", "infra")
# Failure kinds that are not the package's fault.
INFRA_KINDS = frozenset({"infra", "sandbox", "setup", "results"})
TEST_COUNTS = ("passed", "failed", "errors", "skipped")
SOURCES = ("pypi", "local")
SIDES = ("baseline", "candidate")

TAIL_LIMIT = 8 * 1024
REASON_LIMIT = 4 * 1024
ATTEMPTS_LIMIT = 8
MESSAGE_LIMIT = 2 * 1024
FAILURES_LIMIT = 50
TASKS_LIMIT = 32
WHEELHOUSE_LIMIT = 500


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Normalisation of tasks, results and the run
# ---------------------------------------------------------------------------


def _status(raw: Mapping) -> tuple[str, str | None]:
    """The status and, when the payload had none or an unknown one, why it became error."""
    value = raw.get("status")
    if value in STATUSES:
        return value, None
    if value is None:
        return "error", "results: status missing"
    return "error", f"results: invalid status {one_line(value, 64)!r}"


def _kind(value: object) -> str | None:
    if value is None or value in FAILURE_KINDS:
        return value
    return "results"


def _tests(value: object) -> dict[str, int] | None:
    if not isinstance(value, Mapping):
        return None
    return {name: to_count(value.get(name)) for name in TEST_COUNTS}


def _failures(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        return []
    entries = [item for item in value[:FAILURES_LIMIT] if isinstance(item, Mapping)]
    return [
        {
            "name": one_line(entry.get("name")) or "",
            "message": clean_text(entry.get("message"), MESSAGE_LIMIT) or "",
        }
        for entry in entries
    ]


def _apply_status(entry: dict, raw: Mapping) -> None:
    """Set status, reason and failure_kind; a broken status becomes a results error."""
    status, broken = _status(raw)
    entry["status"] = status
    entry["reason"] = clean_text(raw.get("reason"), REASON_LIMIT)
    entry["failure_kind"] = _kind(raw.get("failure_kind"))
    if broken:
        reason = broken if entry["reason"] is None else f"{broken}; {entry['reason']}"
        entry["reason"] = clean_text(reason, REASON_LIMIT)
        entry["failure_kind"] = "results"


def normalise_task(raw: Mapping) -> dict:
    task = {"name": one_line(raw.get("name"), 64) or "unnamed"}
    _apply_status(task, raw)
    task.update(
        duration_s=to_number(raw.get("duration_s")),
        rc=to_rc(raw.get("rc")),
        log=safe_filename(raw.get("log")),
        output_bytes=to_count(raw.get("output_bytes")),
        log_tail=clean_text(raw.get("log_tail"), TAIL_LIMIT, tail=True),
        tests=_tests(raw.get("tests")),
        failures=_failures(raw.get("failures")),
        modules=text_list(raw.get("modules")),
        limit=one_line(raw.get("limit"), 64),
        verified=to_tristate(raw.get("verified")),
    )
    return task


def _rejected(value: object) -> list[dict]:
    """Entries of the VM's results that the slave refused, each with its reason."""
    if not isinstance(value, list | tuple):
        return []
    entries = [item for item in value[:LIST_LIMIT] if isinstance(item, Mapping)]
    return [
        {
            "path": one_line(e.get("path"), 256) or "?",
            "reason": one_line(e.get("reason"), 256) or "?",
        }
        for e in entries
    ]


def _tasks(value: object) -> list[dict]:
    if not isinstance(value, list | tuple):
        return []
    return [normalise_task(raw) for raw in value[:TASKS_LIMIT] if isinstance(raw, Mapping)]


def _attempt(raw: Mapping, slave: object) -> dict:
    attempt = {"slave": one_line(slave if slave is not None else raw.get("slave")) or ""}
    _apply_status(attempt, raw)
    attempt["time"] = one_line(raw.get("time") or raw.get("finished") or raw.get("started"))
    attempt["duration_s"] = to_number(raw.get("duration_s"))
    return attempt


def _attempts(raw: Mapping, slave: object) -> list[dict]:
    """The attempts a result records; a result that records none was its own only attempt."""
    value = raw.get("attempts")
    if isinstance(value, list | tuple) and value:
        entries = [item for item in value[-ATTEMPTS_LIMIT:] if isinstance(item, Mapping)]
        if entries:
            return [_attempt(entry, None) for entry in entries]
    return [_attempt(raw, slave)]


def split_spec(spec: str | None) -> tuple[str, str | None]:
    """Name and pinned version of a requirement spec such as six==1.16.0."""
    name, _sep, version = (spec or "").partition("==")
    return name.strip(), version.strip() or None


def normalise_result(raw: object, slave: object) -> dict:
    """One result with every documented key, whatever the payload held."""
    raw = raw if isinstance(raw, Mapping) else {}
    result = {name: one_line(raw.get(name)) for name in ("job", "distribution", "version")}
    result["spec"] = one_line(raw.get("spec"))
    result["source"] = to_choice(raw.get("source"), SOURCES)
    for name in ("python", "python_version", "python_path", "vm", "driver", "started"):
        result[name] = one_line(raw.get(name))
    result["slave"] = one_line(slave) or ""
    result["duration_s"] = to_number(raw.get("duration_s"))

    _apply_status(result, raw)
    result["no_tests"] = to_flag(raw.get("no_tests"))
    result["verified"] = to_tristate(raw.get("verified"))
    result["raw_dir"] = safe_relpath(raw.get("raw_dir"))
    result["tasks"] = _tasks(raw.get("tasks"))
    result["rejected"] = _rejected(raw.get("rejected"))
    result["guest"] = _guest(raw.get("guest"))
    result["wheelhouse"] = _wheelhouse(raw.get("wheels"), raw.get("wheelhouse"))
    result["reused_from"] = safe_run_id(raw.get("reused_from")) if raw.get("reused_from") else None
    result["attempts"] = _attempts(raw, slave)
    result["side"] = to_choice(raw.get("side"), SIDES)
    result["not_applicable"] = clean_text(raw.get("not_applicable"), REASON_LIMIT)

    # A result without a distribution name still needs one to be listed and sorted.
    if not result["distribution"]:
        name, version = split_spec(result["spec"])
        result["distribution"] = name or result["job"] or "unknown"
        result["version"] = result["version"] or version
    result["python"] = result["python"] or ""
    return result


def _wheelhouse(wheels: object, listed: object) -> dict[str, str] | None:
    """Name -> version of the wheels that the VM installed from, read from their file names
    (WHEELS, the setup's own, not the VM's word), or as an earlier report LISTED them; None
    when the result names none."""
    found = {}
    if HAS_PACKAGING and isinstance(wheels, list):
        for name in wheels[:WHEELHOUSE_LIMIT]:
            if not isinstance(name, str) or len(name) > NAME_LIMIT:
                continue
            try:
                dist, version, _build, _tags = parse_wheel_filename(name)
            except (InvalidWheelFilename, InvalidVersion):
                continue
            found[str(dist)] = str(version)
    elif isinstance(listed, Mapping):
        for name, version in list(listed.items())[:WHEELHOUSE_LIMIT]:
            name, version = one_line(name), one_line(version)
            if name and version:
                found[name] = version
    return dict(sorted(found.items())) or None


ACCELS = ("kvm", "tcg")


def _guest(raw: object) -> dict | None:
    """What the qemu driver says of a result's guest; None for the namespace driver."""
    if not isinstance(raw, Mapping):
        return None
    boot = raw.get("boot_s")
    return {
        "accel": to_choice(raw.get("accel"), ACCELS),
        "accel_reason": one_line(raw.get("accel_reason")),
        "kernel": one_line(raw.get("kernel")),
        "image": one_line(raw.get("image")),
        "boot_s": None if boot is None else to_number(boot),
        "console_log": safe_filename(raw.get("console_log")),
    }


def _normalise_job(raw: object) -> dict | None:
    if not isinstance(raw, Mapping):
        return None
    job = {name: one_line(raw.get(name)) for name in ("id", "distribution", "python", "slave")}
    if not job["id"]:
        return None
    job["slave"] = job["slave"] or ""
    return job


def normalise_run(raw: object) -> dict:
    """The run description returned by pyti.core.run_config, made safe."""
    raw = raw if isinstance(raw, Mapping) else {}
    jobs = raw.get("jobs") if isinstance(raw.get("jobs"), list | tuple) else []
    limits = plain(raw.get("limits"))
    return {
        "id": safe_run_id(raw.get("id")) or _fallback_run_id(),
        "started": one_line(raw.get("started")),
        "driver": one_line(raw.get("driver")),
        "report_dir": clean_text(raw.get("report_dir"), NAME_LIMIT) or None,
        "tasks": text_list(raw.get("tasks")),
        "pythons": text_list(raw.get("pythons")),
        "limits": limits if isinstance(limits, dict) else {},
        "jobs": [job for job in map(_normalise_job, jobs) if job],
        "pyti_version": one_line(raw.get("pyti_version")) or "unknown",
        "candidates": text_list(raw.get("candidates")),
    }


def _fallback_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-noid")


def infra_result(job: Mapping, driver: str | None, reason: str, time: str | None = None) -> dict:
    """The error result that stands for a job whose slave never returned one."""
    name, version = split_spec(job.get("distribution"))
    if "/" in name:  # a local archive: its file name reads better than its path
        name = os.path.basename(name)
    raw = {
        "job": job.get("id"),
        "distribution": name,
        "version": version,
        "spec": job.get("distribution"),
        "python": job.get("python"),
        "driver": driver,
        "status": "error",
        "reason": reason,
        "failure_kind": "infra",
        "time": time,
    }
    return normalise_result(raw, job.get("slave"))


def with_earlier(result: dict, earlier: list[dict]) -> dict:
    """RESULT after the EARLIER attempts of its job, which ended elsewhere without a verdict.

    A result that is an infrastructure fault again names every earlier fault in its
    reason, so that the evidence of each attempt reads in one place.
    """
    if not earlier:
        return result
    result = {**result, "attempts": [*earlier, *result["attempts"]][-ATTEMPTS_LIMIT:]}
    if result["failure_kind"] == "infra":
        also = "; ".join(f"{a['slave']}: {a['reason']}" for a in earlier)
        result["reason"] = clean_text(f"{result['reason']} (earlier, on {also})", REASON_LIMIT)
    return result


# ---------------------------------------------------------------------------
# Collecting a run as the playbook goes, and the report built from it
# ---------------------------------------------------------------------------

# How much a host failure explains missing results: the strongest one is kept.
_IGNORED, _FAILED, _UNREACHABLE = 1, 2, 3


class RunCollector:
    """Accumulates the run description, the results and host failures of one playbook."""

    def __init__(self) -> None:
        self.run: dict | None = None
        self.results: dict[str, dict] = {}
        self.failures: dict[str, tuple[int, str, str]] = {}
        self.earlier: dict[str, list[dict]] = {}
        self.interrupted = False
        self.candidate: dict | None = None

    @property
    def seen(self) -> bool:
        return self.run is not None

    def add_run(self, raw: object) -> None:
        self.run = normalise_run(raw)

    def add_candidate(self, raw: object) -> None:
        """What setup_prepare says of the candidates: each one's name, version and sha256."""
        if isinstance(raw, Mapping):
            self.candidate = normalise_candidate(raw)

    def add_results(self, slave: str, raw_results: object) -> list[dict]:
        """Take a pyti_results list; a later result for the same job replaces the earlier.

        Returns the results as the report holds them, earlier attempts included.
        """
        if not isinstance(raw_results, list | tuple):
            return []
        taken = []
        for raw in raw_results:
            if isinstance(raw, Mapping):
                result = normalise_result(raw, slave)
                key = result["job"] or f"#{len(self.results)}"
                self.results[key] = with_earlier(result, self.earlier.get(key, []))
                taken.append(self.results[key])
        return taken

    def add_retries(self, raw_jobs: object) -> None:
        """Take the jobs planned again on other slaves: their first attempt is over.

        Each job's attempt so far is the result its first slave returned or, when there
        is none, an infra error that says how that slave was lost.
        """
        if not isinstance(raw_jobs, list | tuple):
            return
        planned = {job["id"]: job for job in self.run["jobs"]} if self.run else {}
        for job in filter(None, map(_normalise_job, raw_jobs)):
            first = planned.get(job["id"])
            if first is None or first["slave"] == job["slave"]:
                continue
            before = self.results.pop(job["id"], None)
            if before is None:
                before = infra_result(
                    first, self.run["driver"], self._why(first), self._when(first)
                )
            self.earlier[job["id"]] = before["attempts"]
            first["slave"] = job["slave"]

    def host_unreachable(self, slave: str, msg: object) -> None:
        reason = f"infra: slave {slave} unreachable: {_message(msg)}"
        self._add_failure(slave, _UNREACHABLE, reason)

    def host_failed(self, slave: str, what: str, msg: object, ignored: bool = False) -> None:
        """Record that a task (`what`, e.g. "task_run") failed on a slave."""
        reason = f"infra: {what} failed on slave {slave}: {_message(msg)}"
        self._add_failure(slave, _IGNORED if ignored else _FAILED, reason)

    def _add_failure(self, slave: str, weight: int, reason: str) -> None:
        if weight > self.failures.get(slave, (0, "", ""))[0]:
            found = datetime.now(UTC).isoformat(timespec="seconds")
            self.failures[slave] = (weight, clean_text(reason, REASON_LIMIT), found)

    def missing_results(self) -> list[dict]:
        """Error results for the jobs no slave returned a result for."""
        missing = [job for job in self.run["jobs"] if job["id"] not in self.results]
        return [
            with_earlier(
                infra_result(job, self.run["driver"], self._why(job), self._when(job)),
                self.earlier.get(job["id"], []),
            )
            for job in missing
        ]

    def _when(self, job: Mapping) -> str | None:
        failure = self.failures.get(job["slave"])
        return failure[2] if failure else None

    def _why(self, job: Mapping) -> str:
        if self.interrupted:
            return "infra: the run was interrupted before this job finished"
        failure = self.failures.get(job["slave"])
        if failure:
            return failure[1]
        return f"infra: slave {job['slave']} returned no result for job {job['id']}"

    def build(self, finished: str, controller: str) -> dict:
        results = list(self.results.values()) + self.missing_results()
        report = build_report(self.run, results, finished, controller)
        report["run"]["interrupted"] = self.interrupted
        if self.run["candidates"]:
            report["candidate"] = self.candidate or normalise_candidate(
                {"distributions": [{"spec": spec} for spec in self.run["candidates"]]}
            )
        return report


def normalise_candidate(raw: Mapping) -> dict:
    dists = raw.get("distributions") if isinstance(raw.get("distributions"), list) else []
    return {
        "id": one_line(raw.get("id"), 64),
        "distributions": [
            {
                name: one_line(d.get(name))
                for name in ("spec", "name", "version", "sha256", "archive")
            }
            for d in dists[:LIST_LIMIT]
            if isinstance(d, Mapping)
        ],
    }


def _message(msg: object) -> str:
    return one_line(msg, 1000) or "no message"


def _result_order(result: Mapping) -> tuple:
    return (
        natural_key(result["distribution"]),
        natural_key(result["python"]),
        natural_key(result["slave"]),
        natural_key(result["job"] or ""),
    )


def build_report(run: Mapping, results: Iterable[dict], finished: str, controller: str) -> dict:
    """The whole report document, as described by meta/report.schema.json."""
    results = sorted(results, key=_result_order)
    slaves = {result["slave"] for result in results} | {job["slave"] for job in run["jobs"]}
    return {
        "report_version": REPORT_VERSION,
        "pyti_version": run["pyti_version"],
        "controller": one_line(controller) or "",
        "run": {
            "id": run["id"],
            "started": run["started"],
            "finished": one_line(finished),
            "driver": run["driver"],
            "slaves": sorted(slaves, key=natural_key),
            "tasks": run["tasks"],
            "pythons": run["pythons"],
            "limits": run["limits"],
        },
        "summary": summarise(results),
        "results": results,
    }


def _status_counts(statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] += 1
    return counts


def sum_tests(results: Iterable[Mapping]) -> dict[str, int]:
    totals = dict.fromkeys(TEST_COUNTS, 0)
    for result in results:
        for task in result["tasks"]:
            for name, count in (task["tests"] or {}).items():
                totals[name] += count
    return totals


def _by_slave(results: list[Mapping]) -> dict[str, dict]:
    """Per slave: the statuses and time of the results it produced, and its attempts.

    A slave's attempts include those that ended in an infrastructure fault and were made
    again elsewhere (infra), a lost slave's included. A reused result made its attempts
    and spent its time in an earlier run: they count there, not here.
    """
    slaves: dict[str, dict] = {}

    def entry(slave: str) -> dict:
        empty = {**dict.fromkeys(STATUSES, 0), "duration_s": 0, "attempts": 0, "infra": 0}
        return slaves.setdefault(slave, empty)

    for result in results:
        counts = entry(result["slave"])
        counts[result["status"]] += 1
        if not result["reused_from"]:
            counts["duration_s"] = round(counts["duration_s"] + result["duration_s"], 3)
        for attempt in [] if result["reused_from"] else result["attempts"]:
            counts = entry(attempt["slave"])
            counts["attempts"] += 1
            counts["infra"] += attempt["failure_kind"] == "infra"
    return dict(sorted(slaves.items(), key=lambda item: natural_key(item[0])))


def summarise(results: list[Mapping]) -> dict:
    return {
        "results": _status_counts(result["status"] for result in results),
        "tasks": _status_counts(task["status"] for result in results for task in result["tasks"]),
        "tests": sum_tests(results),
        "no_tests": sum(result["no_tests"] for result in results),
        "infra": sum(result["failure_kind"] in INFRA_KINDS for result in results),
        "unverified": sum(result["verified"] is False for result in results),
        "by_slave": _by_slave(results),
    }


# ---------------------------------------------------------------------------
# The terminal summary
# ---------------------------------------------------------------------------

_COLUMN_LIMIT = 40


def _tests_cell(result: Mapping) -> str:
    tests = [task["tests"] for task in result["tasks"] if task["tests"]]
    if not tests:
        return "-"
    return "/".join(str(sum(entry[name] for entry in tests)) for name in TEST_COUNTS)


def _row(result: Mapping) -> list[str]:
    name = " ".join(filter(None, (result["distribution"], result["version"])))
    if result.get("side"):
        again = " again" if (result["job"] or "").endswith("-rerun") else ""
        name += f" {result['side']}{again}"
    return [
        name,
        result["python_version"] or result["python"],
        result["slave"],
        result["status"],
        _tests_cell(result),
    ]


def _fit(cells: list[str], widths: list[int]) -> str:
    fitted = (cell[:width].ljust(width) for cell, width in zip(cells, widths, strict=True))
    return "  ".join(fitted)


def summary_lines(report: Mapping, paths: Iterable[str] = ()) -> list[tuple[str, str | None]]:
    """Lines of the end-of-play table, each with the status that colours it (or None)."""
    results = report["results"]
    run = report["run"]
    by_slave = report["summary"]["by_slave"]
    rows = [_row(result) for result in results]
    header = ["distribution", "python", "slave", "status", "tests p/f/e/s"]
    widths = [
        min(_COLUMN_LIMIT, max(map(len, column))) for column in zip(header, *rows, strict=False)
    ]

    count, slaves = len(results), len(run["slaves"])
    title = f"PYTI run {run['id']}: {_plural(count, 'result')} on {_plural(slaves, 'slave')}"
    lines = [(title, None)]
    lines.append((f"  {_fit(header, widths)}  reason", None))
    for result, row in zip(results, rows, strict=True):
        reason = one_line(result["reason"], 100) or ""
        if result.get("reused_from"):
            reason = f"reused from run {result['reused_from']}" + (f"; {reason}" if reason else "")
        lines.append((f"  {_fit(row, widths)}  {reason}".rstrip(), result["status"]))
    lines.extend((_slave_line(slave, counts), None) for slave, counts in by_slave.items())
    lines.append((_totals_line(report["summary"]), None))
    lines.extend((f"Report: {path}", None) for path in paths)
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _slave_line(slave: str, counts: Mapping) -> str:
    statuses = ", ".join(f"{counts[status]} {status}" for status in STATUSES if counts[status])
    line = f"  {slave}: {statuses or 'no result'} in {counts['duration_s']:.1f} s of VMs"
    if counts["infra"]:
        line += f"; {counts['infra']} of its {counts['attempts']} attempts were infra faults"
    return line


def _totals_line(summary: Mapping) -> str:
    results = ", ".join(f"{count} {status}" for status, count in summary["results"].items())
    tests = "/".join(str(summary["tests"][name]) for name in TEST_COUNTS)
    line = f"Totals: {results}; tests p/f/e/s {tests}; "
    line += f"{summary['infra']} not the package's fault (setup, sandbox, infra or results)"
    if summary["unverified"]:
        line += f"; {summary['unverified']} with results not trusted"
    return line


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def to_json(report: Mapping) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_atomic(path: str, text: str) -> str:
    """Write text to path through a temporary file in the same directory."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise
    return path


def write_report(run_dir: str, files: Mapping[str, str]) -> list[str]:
    """Write each named file into run_dir, creating it; return the paths written."""
    os.makedirs(run_dir, exist_ok=True)
    return [write_atomic(os.path.join(run_dir, name), text) for name, text in files.items()]


def link_latest(report_dir: str, run_id: str, name: str = "latest") -> str:
    """Point report_dir/name at the run directory with a relative symlink, atomically."""
    link = os.path.join(report_dir, name)
    temporary = os.path.join(report_dir, f".{name}.{os.getpid()}.tmp")
    _unlink_quietly(temporary)
    os.symlink(run_id, temporary)
    try:
        os.replace(temporary, link)
    except OSError:
        _unlink_quietly(temporary)
        raise
    return link
