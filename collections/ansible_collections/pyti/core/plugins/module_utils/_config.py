# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The run configuration: defaults, checks with one-line errors, and the job matrix."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from ._errors import ConfigError

try:
    from packaging.requirements import InvalidRequirement, Requirement

    HAS_PACKAGING = True
except ImportError:
    HAS_PACKAGING = False

TASKS = ("install", "import", "test")
# The variables that configure a run, on the controller or per slave (see the README).
USER_VARIABLES = (
    "pyti_distributions", "pyti_pythons", "pyti_tasks", "pyti_driver", "pyti_limits",
    "pyti_report_dir", "pyti_work_dir", "pyti_cache_dir", "pyti_find_links", "pyti_resume",
    "pyti_rerun", "pyti_rerun_of", "pyti_candidate", "pyti_capacity", "pyti_uid_base",
    "pyti_heartbeat_timeout", "pyti_run_timeout", "pyti_failover", "pyti_qemu_image_dir",
    "pyti_compare_base", "pyti_compare_head", "pyti_default_corpus",
)  # fmt: skip
# What the playbooks register or set themselves, some of it close to a user variable.
PLAYBOOK_VARIABLES = ("pyti_run", "pyti_reruns", "pyti_rerun_jobs", "pyti_retry", "pyti_report")
DRIVERS = ("namespace", "qemu")
DEFAULTS = {
    "pythons": ["python3"],
    "tasks": list(TASKS),
    "driver": "namespace",
    "report_dir": "reports",
    "work_dir": "/var/lib/pyti",
    "cache_dir": "~/.cache/pyti",
}
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def _list_of_str(name: str, value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{name} must be a list of non-empty strings, got {value!r}", field=name)
    return [v.strip() for v in value]


def check_distribution(
    spec: str,
    base_dir: str,
    field: str = "pyti_distributions",
    forms: str = "name or name==version",
) -> str:
    """A requirement spec or an archive path, normalised; ConfigError naming FIELD if neither."""
    if "://" not in spec and "@" not in spec and (spec.endswith(ARCHIVE_SUFFIXES) or "/" in spec):
        path = os.path.abspath(os.path.join(base_dir, os.path.expanduser(spec)))
        if not os.path.isfile(path):
            raise ConfigError(
                f"{field}: {spec!r} looks like a path but no such file exists",
                field=field,
                value=spec,
            )
        return path
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise ConfigError(
            f"{field}: {spec!r} is not a valid requirement: {str(exc).splitlines()[0]}",
            field=field,
            value=spec,
        ) from None
    if req.url or req.marker or req.extras:
        raise ConfigError(
            f"{field}: {spec!r}: use {forms}, without URL, marker or extras",
            field=field,
            value=spec,
        )
    return str(req)


def check_candidates(value, base_dir: str) -> list[str]:
    """pyti_candidate: one spec or path, or a list of them; [] when not set."""
    if value is None or value == [] or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    specs = _list_of_str("pyti_candidate", values)
    checked = [_check_candidate(spec, base_dir) for spec in specs]
    return list(dict.fromkeys(checked))


def _check_candidate(spec: str, base_dir: str) -> str:
    """A candidate: an archive path that exists or a requirement spec with a name."""
    return check_distribution(spec, base_dir, "pyti_candidate", "a path, name or name==version")


def candidate_jobs(jobs: list[dict]) -> list[dict]:
    """Each job twice, baseline then candidate, on the same slave and python."""
    paired = []
    for job in jobs:
        for side in ("baseline", "candidate"):
            paired.append({**job, "id": f"j{len(paired) + 1:04d}", "side": side})
    return paired


def check_tasks(tasks) -> list[str]:
    tasks = _list_of_str("pyti_tasks", tasks)
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(
                f"pyti_tasks: unknown task {task!r} (known: {', '.join(TASKS)})",
                field="pyti_tasks",
                value=task,
            )
    if "install" not in tasks:
        raise ConfigError(
            f"pyti_tasks: {tasks!r} lacks 'install', which every other task needs",
            field="pyti_tasks",
            value=tasks,
        )
    return [t for t in TASKS if t in tasks]


def check_driver(driver) -> str:
    if driver not in DRIVERS:
        raise ConfigError(
            f"pyti_driver: unknown driver {driver!r} (known: {', '.join(DRIVERS)})",
            field="pyti_driver",
            value=driver,
        )
    return driver


def check_qemu_slaves(slaves: dict) -> None:
    """ConfigError naming the first slave that lacks what the qemu driver needs."""
    for name in sorted(slaves):
        missing = slaves[name].get("qemu_missing")
        if missing:
            raise ConfigError(
                f"pyti_driver: qemu needs on slave {name}: {', '.join(missing)}",
                field="pyti_driver",
                value="qemu",
            )


def check_distributions(value, base_dir: str) -> list[str]:
    specs = _list_of_str("pyti_distributions", value)
    if not specs:
        raise ConfigError(
            "pyti_distributions is empty: give at least one distribution",
            field="pyti_distributions",
        )
    checked = [check_distribution(s, base_dir) for s in specs]
    return list(dict.fromkeys(checked))


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def inspected_slaves(names: list[str], hostvars) -> dict:
    """What pyti.core.slave_info found on each of NAMES (as pyti_slave_info), by name.

    A slave that could not be inspected is left out.
    """
    slaves = {}
    for name in names:
        info = (hostvars.get(name) or {}).get("pyti_slave_info") or {}
        if info.get("failed") or info.get("unreachable") or "pythons" not in info:
            continue
        slaves[name] = {
            "pythons": info["pythons"],
            "capacity": info.get("capacity", 1),
            "missing": info.get("missing", {}),
            "uv": info.get("uv"),
            "qemu_missing": info.get("qemu_missing") or [],
        }
    return slaves


def job_matrix(keys: list[str], pythons: list[str], slaves: dict) -> tuple[list[dict], list[str]]:
    """Assign every (distribution, python) to a slave that has that python.

    SLAVES maps a slave name to {"pythons": {name: info}, "capacity": n}. Jobs go
    round-robin, weighted by capacity, over the slaves that have the python.
    """
    jobs, lacking = [], []
    load = {name: 0 for name in slaves}
    for python in pythons:
        able = [s for s in sorted(slaves) if python in slaves[s]["pythons"]]
        if not able:
            lacking.append(python)
            continue
        for spec in keys:
            slave = min(able, key=lambda s: (load[s] / max(1, slaves[s]["capacity"]), s))
            load[slave] += 1
            jobs.append(
                {
                    "id": f"j{len(jobs) + 1:04d}",
                    "distribution": spec,
                    "python": python,
                    "slave": slave,
                    "python_info": slaves[slave]["pythons"][python],
                }
            )
    return jobs, lacking


def one_typo_apart(a: str, b: str) -> bool:
    """Whether A becomes B by one typo: a letter left out, added or changed, or two
    neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) != len(b):
        short, long = sorted((a, b), key=len)
        return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    i = diff[0]
    return diff == [i, i + 1] and a[i] == b[i + 1] and a[i + 1] == b[i]


def check_variable_names(names: Iterable[object]) -> None:
    """ConfigError for a pyti_ variable one typo away from a PYTI variable, which would
    otherwise leave the run on that variable's default without a word."""
    for name in sorted(n for n in names if isinstance(n, str) and n.startswith("pyti_")):
        if name in USER_VARIABLES or name in PLAYBOOK_VARIABLES:
            continue
        close = [known for known in USER_VARIABLES if one_typo_apart(name, known)]
        if close:
            raise ConfigError(
                f"{name} is not a PYTI variable: did you mean {close[0]}?",
                field=name,
                value=close[0],
            )
